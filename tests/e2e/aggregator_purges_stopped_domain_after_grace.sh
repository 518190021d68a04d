#!/bin/bash
# A "stopped" event marks the domain stopped at once and closes its files; after the grace period (2 s) its files, directory and index rows are gone; a domain that vanishes without an event is stopped after stale_after and purged too; nothing more is logged about either, and the other domains are untouched.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
U1=$(uuid_of 1)
U10=$(uuid_of 10)
D1=$(domain_dir 1)
D10=$(domain_dir 10)

start_agg --grace 2 --stale-after 3 --subscribe "ipc://$TMP/pub2"
# cn1: domains 0-2, domain 1 stops (with its event) after 3 s.
start_pub --domains 3 --rate 10 --stop-domain 1 --stop-after 30
# cn2: domains 10-11, domain 10 vanishes without an event after 3 s.
"$TESTPUB" --bind "ipc://$TMP/pub2" --host cn2 --first 10 --domains 2 --rate 10 \
	--stop-domain 10 --stop-after 30 --vanish >>"$TMP/pub2.log" 2>&1 &
STARTED="$STARTED $!"

stopped() { [ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$U1' AND stopped_at IS NOT NULL")" = 1 ]; }
wait_for 30 stopped || fail "domain 1 not marked stopped after its event"
[ -d "$DATA/$D1" ] || fail "domain 1's files went before the grace period"
# Its files are closed at once: no descriptor of the daemon points there.
sleep 0.5
if find "/proc/$AGG_PID/fd" -type l -lname "*$U1*" 2>/dev/null | grep -q .; then
	fail "the daemon still holds files of the stopped domain"
fi
grep -q "domain $U1 (instance-00000001) stopped on cn1 (destroyed): files kept 2 s" "$TMP/agg.log" ||
	fail "no log line for the stop"

purged() { [ ! -e "$DATA/$D1" ] && [ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$U1'")" = 0 ]; }
wait_for 20 purged || fail "domain 1 not purged after its grace period"
[ "$(sql "SELECT (SELECT count(*) FROM metrics WHERE uuid = '$U1') + (SELECT count(*) FROM latest WHERE uuid = '$U1')")" = 0 ] ||
	fail "index rows of domain 1 remain"

# The silent one: stopped at its last report once stale (swept every 10 s), then purged.
purged10() { [ ! -e "$DATA/$D10" ] && [ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$U10'")" = 0 ]; }
wait_for 40 purged10 || fail "vanished domain 10 not stopped and purged: $(sql "SELECT * FROM domains WHERE uuid = '$U10'")"

# The others are still written.
for n in 0 2 11; do
	[ -f "$DATA/$(domain_dir $n)/cpu_pct.wsp" ] || fail "domain $n lost its files"
done
[ "$(sql "SELECT count(*) FROM domains WHERE stopped_at IS NULL")" = 3 ] || fail "active domains: $(sql 'SELECT uuid FROM domains')"
sleep 3
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS"
# Two lines about domain 1 (stopped, purged), one about domain 10 (purged):
# nothing lingers or repeats.
[ "$(count_log "$U1")" = 2 ] || fail "domain 1 logged $(count_log "$U1") times"
[ "$(count_log "$U10")" = 1 ] || fail "domain 10 logged $(count_log "$U10") times"
[ "$(count_log "marked stopped")" = 1 ] || fail "stale sweep logged $(count_log "marked stopped") times"
$CHECK registered "$DATA"
echo "OK: stopped and vanished domains are purged after the grace period"
