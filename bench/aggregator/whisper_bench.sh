#!/bin/bash
# whisper_bench.sh — the C Whisper writer (the store library's) against Debian's
# python3-whisper, side by side in one run: the same points to the same
# retention, update_many on both sides. Prints points/s, CPU seconds per
# million points and the ratio, and checks that both wrote identical files.
#
#   bench/aggregator/whisper_bench.sh            (defaults below)
#   FILES=1000 ROUNDS=600 BATCH=600 C_FILES=10000 bench/aggregator/whisper_bench.sh
#
# Runs: "stream" = ROUNDS rounds of one update_many of 1 point per file (the
# aggregator at 1 Hz); "stream10" = ROUNDS/10 rounds of 10 consecutive points
# (an aggregator buffering 10 s per file); "batch" = one update_many of BATCH
# points per file (a backfill). C_FILES > 0 adds a C-only 1 Hz stream over
# that many files.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
FILES=${FILES:-1000}
ROUNDS=${ROUNDS:-600}
BATCH=${BATCH:-600}
C_FILES=${C_FILES:-10000}
RETENTION=${RETENTION:-1s:3h,1m:1d,5m:30d}
DATA_PARENT=${DATA_PARENT:-/var/tmp}
PY=/usr/bin/python3

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$BUILD" --target whisper_bench -j2 >"$BUILD/whisper_bench.build.log" 2>&1 ||
	{ cat "$BUILD/whisper_bench.build.log"; exit 1; }
BIN="$BUILD/bench/whisper_bench"

DATA=$(mktemp -d "$DATA_PARENT/whisper_bench.XXXXXX")
trap 'rm -rf "$DATA"' EXIT
ulimit -n $(( (C_FILES > FILES ? C_FILES : FILES) + 64 )) 2>/dev/null || true

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "# whisper_bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)," \
	"python $($PY -c 'import platform; print(platform.python_version())')," \
	"python3-whisper $(dpkg-query -W -f '${Version}' python3-whisper 2>/dev/null || echo '?')"
echo "# retention $RETENTION, average, xff 0.5, $FILES files, stream $ROUNDS s, batch $BATCH points; files on $(df --output=fstype "$DATA_PARENT" | tail -1) ($DATA_PARENT)"
row() { # mode, writer, key=value line, python's line, identical?
	local pps=$(field points_per_cpu_s "$3") ppy=$(field points_per_cpu_s "$4")
	printf '%-9s %-8s %6s %8s | %10s %12s %10s %8s | %8s %6s\n' "$1" "$2" "$FILES" \
		"$(field points "$3")" "$(field points_per_s "$3")" "$pps" \
		"$(field cpu_s_per_million "$3")" "$(field syscalls_per_point "$3")" \
		"$(printf '%.1f' "$(echo "$pps / $ppy" | bc -l)")" "$5"
}
same() { # dir, prefix: are the sample files identical to python's?
	for i in 0 $((FILES / 2)) $((FILES - 1)); do
		cmp -s "$DATA/$1/$2$i.wsp" "$DATA/p/p$i.wsp" || { echo no; return; }
	done
	echo yes
}

printf '%-9s %-8s %6s %8s | %10s %12s %10s %8s | %8s %6s\n' mode writer files points \
	"pts/s" "pts/cpu-s" "cpu-s/M" "sysc/pt" "x python" same
# name rounds chunk
for run in "stream $ROUNDS 1" "stream10 $((ROUNDS / 10)) 10" "batch 1 $BATCH"; do
	set -- $run
	mode=$1
	mkdir "$DATA/c" "$DATA/d" "$DATA/p"
	c=$("$BIN" "$DATA/c" "$FILES" "$2" "$3" "$RETENTION" exact)
	d=$("$BIN" "$DATA/d" "$FILES" "$2" "$3" "$RETENTION" defer)
	p=$("$PY" "$ROOT/bench/aggregator/whisper_bench.py" "$DATA/p" "$FILES" "$2" "$3" "$RETENTION")
	row "$mode" "C" "$c" "$p" "$(same c c)"
	row "$mode" "C defer" "$d" "$p" "$(same d c)"
	row "$mode" "python" "$p" "$p" "-"
	rm -rf "$DATA/c" "$DATA/d" "$DATA/p"
done

if [ "$C_FILES" -gt 0 ]; then
	echo "# C only, stream, $C_FILES files x $ROUNDS rounds (one point per file per second):"
	for m in exact defer; do
		mkdir "$DATA/c"
		c=$("$BIN" "$DATA/c" "$C_FILES" "$ROUNDS" 1 "$RETENTION" $m)
		echo "#   $m: $c"
		echo "#     at 1 Hz: $C_FILES points/s cost $(printf '%.3f' "$(echo "$(field cpu_s_per_million "$c") * $C_FILES / 1000000" | bc -l)") CPU-seconds per second"
		rm -rf "$DATA/c"
	done
fi
