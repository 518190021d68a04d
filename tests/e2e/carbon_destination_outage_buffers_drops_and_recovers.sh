#!/bin/bash
# stackmon-carbon on a live pipeline (monitor on the libvirt test driver -> collector) with destinations that fail: one down at start and up 3 s later gets every point, those of the outage too (buffered), and the outage is logged once when it starts and once when it ends; another stackmon-carbon with a tiny buffer_bytes and a destination that never comes up drops and counts points for it (in its health points and its shutdown summary) while its other destination still receives every point.
# shellcheck source=tests/carbon/e2e_lib.sh
. "$(dirname "$0")/../carbon/e2e_lib.sh"
NODE="test://$SRC/tests/fixtures/node-small.xml"
pick_port
LATE=$PORT
pick_port
GOOD=$PORT
hold_dead_port
DEAD=$PORT

start_collector
start_sink good "$GOOD"
start_carbon late --carbon "127.0.0.1:$LATE" --health-interval 0
LATE_PID=$CARBON_PID
start_carbon drops --carbon "127.0.0.1:$GOOD" --carbon "127.0.0.1:$DEAD" --buffer-bytes 4096 \
	--health-interval 1
DROPS_PID=$CARBON_PID
start_monitor "$NODE" cn-out
# Two frames while LATE is down; then it comes up.
wait_for 10 grep -q "hosts.cn-out.cpu_pct" "$TMP/good.lines" || fail "no point reached the good destination"
sleep 2
start_sink late "$LATE"
wait_for 10 grep -q "carbon 127.0.0.1:$LATE: up again after" "$TMP/late.log" ||
	fail "the late destination was not reconnected: $(grep "$LATE" "$TMP/late.log")"
sleep 3
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null || true
sleep 1.5
kill "$LATE_PID" "$DROPS_PID"
wait "$LATE_PID" || fail "exit status $? of the late one"
wait "$DROPS_PID" || fail "exit status $? of the dropping one"

# The outage: logged once as it starts (with the reason), once as it ends.
[ "$(grep -c "carbon 127.0.0.1:$LATE: down (connect: Connection refused)" "$TMP/late.log")" = 1 ] ||
	fail "outage start not logged once: $(grep "$LATE" "$TMP/late.log")"
[ "$(grep -c "carbon 127.0.0.1:$LATE: up again after [0-9]* s; 0 points dropped meanwhile" "$TMP/late.log")" = 1 ] ||
	fail "outage end not logged once: $(grep "$LATE" "$TMP/late.log")"
# Every point made reached it, those made while it was down included.
made() { sed -n 's/.* \([0-9]*\) points made.*/\1/p' "$1" | tail -n 1; }
n=$($CARBON_CHECK lines "$TMP/late.lines" '^stackmon\.(hosts|domains)\.')
[ "$n" -gt 0 ] && [ "$n" = "$(made "$TMP/late.log")" ] ||
	fail "the late destination got $n lines of $(made "$TMP/late.log") points"
grep -q "destination 127.0.0.1:$LATE: $n points sent, 0 dropped, 0 still buffered, 0 reconnects" "$TMP/late.log" ||
	fail "summary of the late one: $(grep destination "$TMP/late.log")"
# The good destination of the other one got every point; the dead one dropped and counted.
n=$($CARBON_CHECK lines "$TMP/good.lines" '^stackmon\.(hosts|domains)\.')
[ "$n" -gt 0 ] && [ "$n" = "$(made "$TMP/drops.log")" ] ||
	fail "the good destination got $n lines of $(made "$TMP/drops.log") points"
grep -q "destination 127.0.0.1:$GOOD: [0-9]* points sent, 0 dropped" "$TMP/drops.log" ||
	fail "summary of the good one: $(grep destination "$TMP/drops.log")"
dropped=$(sed -n "s/.*destination 127.0.0.1:$DEAD: 0 points sent, \([0-9]*\) dropped.*/\1/p" "$TMP/drops.log")
[ -n "$dropped" ] && [ "$dropped" -gt 0 ] || fail "no drops counted for the dead one: $(grep destination "$TMP/drops.log")"
h=$($CARBON_CHECK value "$TMP/good.lines" "stackmon.stackmon-carbon.$(hostname | tr -c 'A-Za-z0-9_\n-' _).dest.127_0_0_1_$DEAD.dropped")
[ -n "$h" ] && [ "$h" -gt 0 ] || fail "the health point of the dead one's drops: '$h'"
[ "$(grep -c "carbon 127.0.0.1:$DEAD: down" "$TMP/drops.log")" = 1 ] || fail "the dead one's outage logged more than once"
grep -h "carbon 127\|destination\|points made" "$TMP"/late.log "$TMP"/drops.log
echo "OK: a late destination gets every point after its reconnect; a dead one drops and counts, the other gets all"
