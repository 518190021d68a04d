#!/bin/bash
# A file of the wrong size or with a garbage header is never overwritten: it is moved into quarantine/ (logged once with its path and the reason) and a fresh file takes its place and receives the new points.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
D0=$(domain_dir 0)
D1=$(domain_dir 1)

start_agg --flush-interval 1
start_pub --domains 2 --rate 2
made() { [ -f "$DATA/$D1/mem_pct.wsp" ] && [ -f "$DATA/$D0/load1.wsp" ]; }
wait_for 30 made || fail "files not made"
sleep 1
stop_agg TERM
truncate -s 1000 "$DATA/$D0/cpu_pct.wsp"                     # wrong size
printf '\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377' |
	dd of="$DATA/$D1/mem_pct.wsp" bs=16 count=1 conv=notrunc 2>/dev/null # garbage header
: >"$DATA/$D0/load1.wsp"                                       # empty
size_before=$(stat -c %s "$DATA/$D1/mem_pct.wsp")

start_agg --flush-interval 1
fresh() { [ "$($CHECK count "$DATA/$D0/cpu_pct.wsp" 2>/dev/null)" -ge 2 ] &&
	[ "$($CHECK count "$DATA/$D1/mem_pct.wsp" 2>/dev/null)" -ge 2 ] &&
	[ "$($CHECK count "$DATA/$D0/load1.wsp" 2>/dev/null)" -ge 2 ]; }
wait_for 30 fresh || fail "no fresh files in place of the bad ones"
stop_agg TERM

[ "$(find "$DATA/quarantine" -type f | wc -l)" = 3 ] || fail "quarantine: $(ls -A "$DATA/quarantine")"
find "$DATA/quarantine" -type f -printf '%f\n' | grep -q "^domains+${D0:8:2}+$(uuid_of 0)+cpu_pct.wsp.20[0-9]*T[0-9]*Z$" ||
	fail "unexpected quarantine name: $(ls -A "$DATA/quarantine")"
[ "$(stat -c %s "$DATA/quarantine/domains+${D1:8:2}+$(uuid_of 1)+mem_pct.wsp."*)" = "$size_before" ] ||
	fail "the moved file was changed"
[ "$(count_log "moved aside")" = 3 ] || fail "$(count_log "moved aside") 'moved aside' lines, expected 3"
for f in "$D0/cpu_pct.wsp" "$D1/mem_pct.wsp" "$D0/load1.wsp"; do
	[ "$(grep -F "moved aside" "$TMP/agg.log" | grep -cF "$f")" = 1 ] || fail "$f not logged once"
done
grep -F "$D0/cpu_pct.wsp" "$TMP/agg.log" | grep -q "bytes" || fail "reason of the size error not logged"
$CHECK readable "$DATA"
$CHECK registered "$DATA"
$CHECK values "$DATA/$D0/cpu_pct.wsp" 10 11 2
echo "OK: corrupt files are quarantined and replaced"
