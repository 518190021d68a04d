#!/bin/sh
# bench/collector/run.sh BUILD_DIR [--quick] [--only throughput|cost|latency|fds|curve]
#                        [--curve-seconds S]
# Throughput (collector vs a bare zmq_proxy, side by side), latency at a
# steady 10,000 frames/s, and 10,000 connected publishers; loopback only.
# --only curve: the cost of CurveZMQ, the collector with curve off and on
# side by side (S seconds of load per configuration and frame size).
# Prints a Markdown report (docs/COLLECTOR.md records one).
set -eu
BUILD=${1:?usage: run.sh BUILD_DIR [--quick] [--only WHAT]}
shift
cmake --build "$BUILD" --target stackmon-collector stackmon-keygen bench_loadgen \
	bench_sink bench_proxy >/dev/null
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$BUILD" "$@"
