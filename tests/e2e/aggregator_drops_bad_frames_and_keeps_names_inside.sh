#!/bin/bash
# Malformed messages (garbage body, a lone topic, a wrong protocol version) are dropped, counted and logged once with the reason and the sender, and the daemon goes on; hostile names stay inside the data directory: a disk called "../../etc" is one sanitised file name, a host called ".." gets no directory, and an unknown value leaves a gap (no file).
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
D0=$(domain_dir 0)

# Bound first and speaking 2 s later: the aggregator is connected by then.
# (Bound after it, the publisher may wait out ZeroMQ's reconnect back-off,
# and a PUB drops what nobody takes: the garbage would never arrive.)
"$TESTPUB" --bind "$PUB_EP" --host .. --domains 1 --rate 5 --garbage 9 --delay 2 \
	--disk-name ../../etc --unknown-steal >>"$TMP/pub.log" 2>&1 &
STARTED="$STARTED $!"
start_agg
written() { [ "$($CHECK count "$DATA/$D0/disk.______etc.rd_req_ps.wsp" 2>/dev/null)" -ge 2 ]; }
wait_for 30 written || fail "the hostile disk's file was not written"
sleep 1.5
kill -0 "$AGG_PID" || fail "the aggregator died"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS"

# Bad messages: counted, logged once (rate-limited), with the reason and the sender.
bad=$(sed -n 's/.* \([0-9]*\) bad,.*/\1/p' "$TMP/agg.log" | awk '{s += $1} END {print s + 0}')
[ "$bad" -ge 3 ] || fail "$bad bad messages counted, expected at least 3 of 9"
[ "$(grep -cE "dropped a (bad frame|message)" "$TMP/agg.log")" = 1 ] ||
	fail "bad messages logged $(grep -cE "dropped a (bad frame|message)" "$TMP/agg.log") times, expected once"
grep -E "dropped a (bad frame|message)" "$TMP/agg.log" | grep -qE "from \.\.(:| \()" ||
	fail "the sender is not named: $(grep -E 'dropped a' "$TMP/agg.log")"

# Names: inside, sanitised, registered; the ".." host has no directory.
[ -f "$DATA/$D0/disk.______etc.errors.wsp" ] || fail "sanitised disk files missing"
for p in "$TMP/etc" "$DATA/etc" "$DATA/domains/etc" "$TMP/cpu_pct.wsp" "$DATA/cpu_pct.wsp"; do
	[ ! -e "$p" ] || fail "a path escaped: $p"
done
[ -z "$(ls -A "$DATA/hosts")" ] || fail "hosts/ holds $(ls -A "$DATA/hosts")"
[ "$(sql "SELECT name FROM hosts")" = ".." ] || fail "the host is not in the index as sent"
[ ! -e "$DATA/$D0/steal_pct.wsp" ] || fail "an unknown value made a file"
[ "$(sql "SELECT steal_pct IS NULL FROM latest")" = 1 ] || fail "unknown steal not NULL in latest"
$CHECK registered "$DATA"
$CHECK readable "$DATA"
echo "OK: bad frames dropped and counted; hostile names stay inside"
