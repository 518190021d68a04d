#!/bin/bash
# index_bench.sh — the aggregator index's hot path: upserts per second with
# one transaction per frame, at 1,000 and 10,000 domains per frame (and
# 10,000 domains as 100 frames of 100, i.e. 100 monitors), checkpoints
# inside commits (sqlite's default) and in a thread of their own.
# Results are recorded in docs/INDEX.md.
#
#   bench/aggregator/index_bench.sh
#   ROUNDS=60 METRICS=30 bench/aggregator/index_bench.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
ROUNDS=${ROUNDS:-20}
METRICS=${METRICS:-30}
DATA_PARENT=${DATA_PARENT:-/var/tmp}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$BUILD" --target index_bench -j2 >"$BUILD/index_bench.build.log" 2>&1 ||
	{ cat "$BUILD/index_bench.build.log"; exit 1; }
BIN="$BUILD/bench/index_bench"

DATA=$(mktemp -d "$DATA_PARENT/index_bench.XXXXXX")
trap 'rm -rf "$DATA"' EXIT

echo "# index_bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)," \
	"sqlite $(pkg-config --modversion sqlite3), data on $(df --output=fstype "$DATA" | tail -1)," \
	"$ROUNDS rounds per phase, load average $(cut -d" " -f1-3 /proc/loadavg)"
for mode in "" "--checkpoint-thread"; do
	"$BIN" --dir "$DATA" --domains 1000 --rounds "$ROUNDS" --metrics "$METRICS" $mode
	"$BIN" --dir "$DATA" --domains 10000 --rounds "$ROUNDS" --metrics "$METRICS" $mode
	"$BIN" --dir "$DATA" --domains 10000 --per-frame 100 --rounds "$ROUNDS" $mode
done
