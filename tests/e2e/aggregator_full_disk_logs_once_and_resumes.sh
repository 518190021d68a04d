#!/bin/bash
# A full data directory (a 2 MiB tmpfs filled up): the files that cannot be made are logged once, their points dropped and counted, the files that exist keep being written, and writing resumes (logged once) when space returns. Exits 77 where a tmpfs cannot be mounted.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
mkdir -p "$DATA"
if ! mount -t tmpfs -o size=2m tmpfs "$DATA" 2>/dev/null; then
	echo "SKIP: cannot mount a tmpfs here"
	exit 77
fi
UNMOUNT="$DATA"
D0=$(domain_dir 0)
D10=$(domain_dir 10)

start_agg --flush-interval 1 --retention 1s:10m --subscribe "ipc://$TMP/pub2"
start_pub --domains 2 --rate 5
made() { [ "$($CHECK count "$DATA/$D0/cpu_pct.wsp" 2>/dev/null)" -ge 2 ]; }
wait_for 30 made || fail "files not made"
dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null || true # until ENOSPC
[ "$(df --output=avail "$DATA" | tail -1)" -lt 64 ] || fail "the tmpfs is not full"

# New domains from another host: their files cannot be made.
"$TESTPUB" --bind "ipc://$TMP/pub2" --host cn2 --first 10 --domains 3 --rate 5 >>"$TMP/pub2.log" 2>&1 &
STARTED="$STARTED $!"
before=$($CHECK count "$DATA/$D0/cpu_pct.wsp")
dropping() { grep -q "space [1-9]" "$TMP/agg.log"; }
wait_for 30 dropping || fail "no points counted as dropped for space"
sleep 4
[ "$(count_log "cannot create")" = 1 ] || fail "$(count_log "cannot create") 'cannot create' lines, expected 1"
grep -F "cannot create" "$TMP/agg.log" | grep -q "No space left on device" || fail "reason not logged"
[ ! -e "$DATA/$D10/cpu_pct.wsp" ] || fail "a file was made on a full disk"
# Existing (preallocated) files were written meanwhile.
[ "$($CHECK count "$DATA/$D0/cpu_pct.wsp")" -gt "$before" ] || fail "existing files stopped being written"

rm -f "$DATA/filler"
resumed() { [ "$($CHECK count "$DATA/$D10/cpu_pct.wsp" 2>/dev/null)" -ge 2 ]; }
wait_for 30 resumed || fail "writing did not resume after space returned"
sleep 1
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS"
[ "$(grep -cF "data $DATA: writing works again" "$TMP/agg.log")" = 1 ] || fail "recovery not logged once"
[ "$(count_log "cannot create")" = 1 ] || fail "the error was logged again"
$CHECK readable "$DATA"
$CHECK registered "$DATA"
[ "$(sqlite3 "$DATA/index.sqlite" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
echo "OK: a full disk is logged once, counted, and writing resumes"
