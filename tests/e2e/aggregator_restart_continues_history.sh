#!/bin/bash
# Stopping the aggregator (SIGTERM) in the middle of a run and starting it again continues the same files and index rows: history before and after the restart is there, the frames missed while it was down count as lost, no file is quarantined, and SIGHUP reloads without losing anything.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
D0=$(domain_dir 0)

start_agg --flush-interval 2
start_pub --domains 2 --rate 1
has_points() { [ "$($CHECK count "$DATA/$D0/cpu_pct.wsp" 2>/dev/null)" -ge "$1" ]; }
wait_for 30 has_points 1 || fail "no points before the restart"
sleep 4
first_seen=$(sql "SELECT first_seen FROM domains WHERE uuid = '$(uuid_of 0)'")
kill -HUP "$AGG_PID"
sleep 1.5
grep -q "SIGHUP: log reopened" "$TMP/agg.log" || fail "SIGHUP not acted on"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS after SIGTERM"
before=$($CHECK count "$DATA/$D0/cpu_pct.wsp")
[ "$before" -ge 4 ] || fail "only $before points before the restart"
sleep 3 # frames sent meanwhile are lost to us

start_agg --flush-interval 2
grown() { [ "$($CHECK count "$DATA/$D0/cpu_pct.wsp" 2>/dev/null)" -ge $((before + 4)) ]; }
wait_for 30 grown || fail "history did not continue after the restart"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS after the second SIGTERM"

[ "$(sql "SELECT first_seen FROM domains WHERE uuid = '$(uuid_of 0)'")" = "$first_seen" ] ||
	fail "the domain's row was not kept"
[ "$(sql "SELECT count(*) FROM domains")" = 2 ] || fail "domains: $(sql 'SELECT uuid FROM domains')"
[ "$(sql "SELECT lost >= 1 AND restarts = 0 FROM host_loss WHERE host = 'cn1'")" = 1 ] ||
	fail "frames missed while down not counted: $(sql 'SELECT * FROM host_loss')"
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "files were quarantined: $(ls "$DATA/quarantine")"
[ "$(count_log "moved aside")" = 0 ] || fail "a file was moved aside"
$CHECK readable "$DATA"
$CHECK registered "$DATA"
$CHECK values "$DATA/$D0/cpu_pct.wsp" 10 11 $((before + 4))
echo "OK: a restart continues the history"
