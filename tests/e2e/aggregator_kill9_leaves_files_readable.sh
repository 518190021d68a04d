#!/bin/bash
# kill -9 at arbitrary moments (while files are being created and written): every Whisper file stays readable by python3-whisper, the index passes sqlite's integrity_check, and the next start carries on (leftovers of cut creates are cleared, nothing is quarantined).
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"

start_pub --domains 60 --rate 5
for cycle in 1 2 3 4 5; do
	start_agg --flush-interval 1
	# 0.3 .. 2.7 s: the first cycles die while the 60 x 25 files are being made.
	sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.1f", 0.3 + rand() * 2.4 }')"
	stop_agg KILL
	[ "$AGG_STATUS" -eq 137 ] || fail "cycle $cycle: exit status $AGG_STATUS, expected SIGKILL"
	$CHECK readable "$DATA" >/dev/null || fail "cycle $cycle: a file is unreadable after kill -9"
	[ "$(sqlite3 "$DATA/index.sqlite" 'PRAGMA integrity_check')" = ok ] ||
		fail "cycle $cycle: index integrity_check failed"
done

# A last, clean run: everything is carried on and consistent.
start_agg --flush-interval 1
full() { [ "$(find "$DATA/domains" -name '*.wsp' | wc -l)" -ge $((60 * 24)) ]; }
wait_for 60 full || fail "the files of 60 domains were not all made"
sleep 3
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS after SIGTERM"
$CHECK readable "$DATA"
$CHECK registered "$DATA"
[ "$(sqlite3 "$DATA/index.sqlite" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "files were quarantined: $(find "$DATA/quarantine" -type f | head -3)"
left=$(find "$DATA/domains" -name '*.tmp-*' | wc -l)
[ "$left" = 0 ] || fail "$left unfinished files left by the kills remain"
[ "$(sql "SELECT count(*) FROM domains")" = 60 ] || fail "domains: $(sql 'SELECT count(*) FROM domains')"
$CHECK values "$DATA/$(domain_dir 7)/cpu_pct.wsp" 17 18 3
echo "OK: kill -9 leaves readable files and a consistent index"
