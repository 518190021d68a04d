#!/usr/bin/env bash
# The exporter's costs in-process (exp_bench.c): a stats frame applied to
# the store, the whole exposition rendered, and its gzip, for a small, a
# large and a default-max_series-sized set of domains. Builds exp_bench in
# build-bench-exporter/ (RelWithDebInfo). Figures go to docs/EXPORTER.md.
# Usage: bench/exporter/run.sh [DOMAINS...]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build-bench-exporter
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" --target exp_bench -j >/dev/null
(($#)) || set -- 100 1000 5000
for n in "$@"; do
  "$build/bench/exp_bench" "$n" 5
done
