#!/usr/bin/env bash
# stackmon-carbon's cost: points sent per CPU-second of stackmon-carbon.
# bench/collector's load generator publishes realistic stats frames
# (tests/collector/fake_stats.c: 33 points a domain, 8 a host) flat out into
# a real collector; stackmon-carbon subscribes to its fan-out and sends
# every point to (1) a TCP sink that reads and discards, then (2) Debian's
# carbon-c-relay (in front of the same sink), when installed. Its CPU time
# is read from /proc; the points from its shutdown summary. Each run lasts
# DURATION seconds of load (default 8). Builds in $BUILD (default build/).
# Usage: bench/carbon/run.sh [DOMAINS_PER_PUBLISHER [PUBLISHERS [DURATION]]]
# commands: carbon-c-relay
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
domains=${1:-100}
pubs=${2:-4}
duration=${3:-8}
cmake --build "$BUILD" --target stackmon-carbon stackmon-collector bench_loadgen -j2 >/dev/null
tmp=$(mktemp -d /tmp/sm-carbon-bench-XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up() { /usr/bin/python3 -c 'import socket,sys,time
for _ in range(100):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1); sys.exit(0)
    except OSError: time.sleep(0.1)
sys.exit(1)' "$1"; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

"$BUILD/src/collector/stackmon-collector" -c /dev/null --name bench --fan-in "ipc://$tmp/in" \
	--fan-out "ipc://$tmp/out" --hwm 100000 >"$tmp/collector.log" 2>&1 &
pids="$pids $!"
sink=$(port)
/usr/bin/python3 "$top/tests/carbon/carbon_check.py" sink "$sink" /dev/null &
pids="$pids $!"
up "$sink"

# run NAME HOST:PORT: one measured run of stackmon-carbon sending there.
run() {
	local name=$1 dest=$2 log=$tmp/carbon-$1.log cpu points wall
	"$BUILD/src/carbon/stackmon-carbon" -c /dev/null --subscribe "ipc://$tmp/out" --carbon "$dest" \
		--health-interval 0 --hwm 100000 >"$log" 2>&1 &
	local cpid=$!
	sleep 1
	local t0=$SECONDS
	"$BUILD/bench/collector/bench_loadgen" --connect "ipc://$tmp/in" --publishers "$pubs" \
		--domains "$domains" --duration "$duration" >"$tmp/loadgen-$name.log" 2>&1
	sleep 1
	cpu=$(cpu_s "$cpid")
	wall=$((SECONDS - t0))
	kill "$cpid"
	wait "$cpid"
	points=$(sed -n 's/.* \([0-9]*\) points made.*/\1/p' "$log" | tail -n 1)
	frames=$(sed -n 's/.*stopping: \([0-9]*\) frames.*/\1/p' "$log" | tail -n 1)
	dropped=$(sed -n 's/.*points sent, \([0-9]*\) dropped.*/\1/p' "$log" | tail -n 1)
	awk -v n="$name" -v p="$points" -v f="$frames" -v c="$cpu" -v w="$wall" -v d="$dropped" \
		-v dom="$domains" -v pub="$pubs" 'BEGIN {
		printf "carbon-bench dest=%s publishers=%d domains_each=%d frames=%d points=%d dropped=%d " \
		       "wall_s=%d cpu_s=%.2f points_per_s=%.0f points_per_cpu_s=%.0f cpu_us_per_point=%.3f\n",
		       n, pub, dom, f, p, d, w, c, p / w, p / c, c * 1e6 / p }'
}

run sink "127.0.0.1:$sink"
if command -v carbon-c-relay >/dev/null; then
	relay=$(port)
	printf 'listen type linemode 127.0.0.1:%s proto tcp ;\ncluster sink forward 127.0.0.1:%s ;\nmatch * send to sink stop ;\n' \
		"$relay" "$sink" >"$tmp/relay.conf"
	carbon-c-relay -s -f "$tmp/relay.conf" -l "$tmp/relay.log" -w 2 -q 1000000 &
	pids="$pids $!"
	up "$relay"
	run carbon-c-relay "127.0.0.1:$relay"
fi
