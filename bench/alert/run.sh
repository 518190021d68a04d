#!/usr/bin/env bash
# stackmon-alert's evaluation cost in-process (alert_bench.c): 100,000
# (rule, instance) pairs — 100 nodes of 100 domains (two disks, two
# interfaces each) and 10 domain rules, plus 2 node rules — evaluated once
# a second, in CPU time of one thread; then 5x as many as headroom. Builds
# alert_bench in build-bench-alert/ (RelWithDebInfo). Figures go to
# docs/ALERTS.md "Cost".
# Usage: bench/alert/run.sh [PASSES]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build-bench-alert
passes=${1:-20}
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
cmake --build "$build" --target alert_bench -j2 >/dev/null
"$build/bench/alert_bench" 100 100 10 "$passes"
"$build/bench/alert_bench" 500 100 10 "$passes"
