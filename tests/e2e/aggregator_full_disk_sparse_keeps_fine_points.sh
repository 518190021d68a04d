#!/bin/bash
# A full data directory (a 2 MiB tmpfs) with --preallocate no: the files that exist keep getting their 1-second points although their coarse archive's page cannot be allocated, the failure is logged once, and the coarse archive is caught up (logged once) when space returns. Exits 77 where a tmpfs cannot be mounted.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
mkdir -p "$DATA"
if ! mount -t tmpfs -o size=2m tmpfs "$DATA" 2>/dev/null; then
	echo "SKIP: cannot mount a tmpfs here"
	exit 77
fi
UNMOUNT="$DATA"
F="$DATA/$(domain_dir 0)/cpu_pct.wsp"
STEP=30 # archive 1. Archive 0 has 338 points: with the 40-byte header it
# ends at byte 4096 exactly, so every 1-second point lies on page 0, which
# the file's creation allocated, wherever the clock puts it in the ring;
# the coarse archive starts on page 1, which only a propagation allocates.
FINE=338

# points SINCE STEP: points with a timestamp >= SINCE in the archive of STEP
# seconds per point (1 or $STEP), read by python3-whisper
points() {
	$PY - "$F" "$1" "$2" "$FINE" <<'EOF'
import sys, time, whisper
path, since, step, fine = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
now = int(time.time())
span = fine if step == 1 else 86400
(start, _end, st), vals = whisper.fetch(path, max(since - 1, now - span + 1), now + 1,
                                        archiveToSelect=step)
print(sum(1 for i, v in enumerate(vals) if v is not None and start + i * st >= since))
EOF
}

# Start just after an interval of archive 1 begins, so the files are made
# and the disk filled before their first propagation.
while [ $(($(date +%s) % STEP)) -ne 1 ]; do sleep 0.2; done
start_agg --flush-interval 1 --retention "1s:$FINE,${STEP}s:1d" --preallocate no
start_pub --domains 2 --rate 5
# Every file made before the disk fills (a slow build, e.g. under ASan,
# makes them over a few seconds; one made later fails, rightly, for space):
# both domains have points and the number of files held still for 1 s.
nfiles() { find "$DATA" -name '*.wsp' | wc -l; }
made() {
	local before
	before=$(nfiles)
	[ "$(points 0 1)" -ge 2 ] && [ -s "$DATA/$(domain_dir 1)/cpu_pct.wsp" ] &&
		sleep 1 && [ "$(nfiles)" = "$before" ]
}
wait_for 20 made || fail "files not made"
dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null || true # until ENOSPC
dd if=/dev/zero of="$DATA/filler2" bs=4k 2>/dev/null || true  # the last pages
[ "$(df --output=avail "$DATA" | tail -1)" -lt 4 ] || fail "the tmpfs is not full"
filled=$(date +%s)
[ $((filled % STEP)) -lt $((STEP - 3)) ] || fail "too slow: the first propagation may already have run"

# The next interval: the owed propagation fails, the 1-second points go on.
boundary=$((filled - filled % STEP + STEP))
while [ "$(date +%s)" -lt $((boundary + 10)) ]; do sleep 0.5; done
fine=$(points "$boundary" 1)
dropped=$(grep -o "space [0-9]*" "$TMP/agg.log" | awk '{s += $2} END {print s + 0}')
echo "points of $F written in the 10 s after the boundary: $fine; points dropped for space: $dropped"
[ "$fine" -ge 6 ] || fail "only $fine points written since the disk is full"
[ "$dropped" = 0 ] || fail "$dropped points dropped for space"
[ "$(points 0 "$STEP")" = 0 ] || fail "a coarse point was written on a full disk"
[ "$(count_log "cannot update the coarse archives of")" = 1 ] ||
	fail "$(count_log "cannot update the coarse archives of") lines on the coarse archives, expected 1"
grep -F "cannot update the coarse archives of" "$TMP/agg.log" | grep -q "No space left on device" ||
	fail "reason not logged"
grep -q "([1-9][0-9]* coarse owed)" "$TMP/agg.log" || fail "owed propagations not counted"

rm -f "$DATA/filler" "$DATA/filler2"
caught_up() { [ "$(points 0 "$STEP")" -ge 1 ]; }
wait_for 15 caught_up || fail "the coarse archive was not caught up after space returned"
sleep 1
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS"
[ "$(grep -cF "data $DATA: writing works again" "$TMP/agg.log")" = 1 ] || fail "recovery not logged once"
[ "$(count_log "cannot update the coarse archives of")" = 1 ] || fail "the error was logged again"
$CHECK readable "$DATA"
echo "OK: on a full disk without preallocation the 1-second points go on, and the coarse ones follow"
