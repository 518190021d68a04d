#!/bin/bash
# run.sh — stackmon-aggregator's benchmark (docs/AGGREGATOR.md "Speed").
#
#  1. Data path, fed directly: agg_bench encodes synthetic stats frames
#     (every metric: 2 disks, 2 interfaces, 33 files per domain + 8 for the
#     host), decodes each as the daemon does and hands it to the writer
#     (index transaction + Whisper files). Points/s and CPU seconds per
#     million points at 1,000 and 10,000 domains, after the files exist.
#  2. python3-whisper in the same run: update_many of the same points to
#     files of the same retention, one point per call (a real-time writer)
#     and FLUSH points per call (write-behind, as carbon and we do); ratios.
#  3. Sustained, through a real ZeroMQ socket: the daemon subscribed to
#     agg_bench's PUB at 10,000 domains x 1 Hz; its CPU share (from
#     /proc/PID/stat) and the machine's idle cores over a window after the
#     files exist; frames lost (sequence gaps, from the index).
#  4. Burst: BURST frames of 1,000 domains sent back to back; frames lost
#     and time until all are written.
#  5. carbon-cache (Debian's graphite-carbon), if it is installed.
#
#   bench/aggregator/run.sh                       (defaults below)
#   PHASES="direct python" bench/aggregator/run.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-agg-bench}
RETENTION=${RETENTION:-1s:3h,1m:7d,10m:1y}
FLUSH=${FLUSH:-10}	 # flush_interval of the 1,000-domain runs (the default)
FLUSH_10K=${FLUSH_10K:-60} # ... of the 10,000-domain runs (see docs: descriptors)
ROUNDS=${ROUNDS:-60}	 # steady rounds measured after the warm-up
PY_ROUNDS=${PY_ROUNDS:-20}
WARM_S=${WARM_S:-200}	 # sustained: seconds before the window (file creation)
WINDOW_S=${WINDOW_S:-60}
BURST=${BURST:-60}
PHASES=${PHASES:-direct python sustained burst carbon}
DATA_PARENT=${DATA_PARENT:-/var/tmp}
PY=/usr/bin/python3

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$BUILD" --target agg_bench stackmon-aggregator -j2 >"$BUILD/agg_bench.build.log" 2>&1 ||
	{ cat "$BUILD/agg_bench.build.log"; exit 1; }
BENCH="$BUILD/bench/agg_bench"
AGG="$BUILD/src/aggregator/stackmon-aggregator"

DATA=$(mktemp -d "$DATA_PARENT/agg_bench.XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$DATA"
}
trap cleanup EXIT

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2" | head -1; }
ticks=$(getconf CLK_TCK)
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }          # ticks, this process
idle_total() { awk '/^cpu /{print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }

echo "# aggregator bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), RLIMIT_NOFILE hard $(ulimit -Hn)," \
	"data on $(df --output=fstype "$DATA_PARENT" | tail -1) ($DATA_PARENT)"
echo "# retention $RETENTION, xff 0.5, sparse files; 33 files per domain + 8 per host"

declare -A CPUM
for phase in $PHASES; do
	case $phase in
	direct)
		echo "## 1. data path fed directly (decode + writer; index and files), after warm-up"
		for spec in "1000 $FLUSH" "10000 $FLUSH_10K" "10000 $FLUSH"; do
			# shellcheck disable=SC2086 # two words on purpose
			set -- $spec
			n=$1 k=$2
			out=$("$BENCH" direct "$DATA/d" "$n" $((k + 2 + ROUNDS)) "$RETENTION" sparse "$k")
			first=$(grep phase=first <<<"$out") steady=$(grep phase=steady <<<"$out")
			printf '%6s domains flush %3ss: %9s pts/s %9s pts/cpu-s %6s cpu-s/M, frame %6s ms mean %6s ms max, %s cpu-s/frame; first %s rounds (files made) %s cpu-s\n' \
				"$n" "$k" "$(field points_per_s "$steady")" "$(field points_per_cpu_s "$steady")" \
				"$(field cpu_s_per_million "$steady")" "$(field frame_ms_mean "$steady")" \
				"$(field frame_ms_max "$steady")" "$(field cpu_per_frame_s "$steady")" \
				"$(field rounds "$first")" "$(field cpu_s "$first")"
			CPUM["$n/$k"]=$(field cpu_s_per_million "$steady")
			rm -rf "$DATA/d"
		done
		;;
	python)
		echo "## 2. python3-whisper update_many, same points, same retention ($PY_ROUNDS s of 1 Hz data)"
		for spec in "1000 1" "1000 $FLUSH"; do
			# shellcheck disable=SC2086 # two words on purpose
			set -- $spec
			out=$("$PY" "$ROOT/bench/aggregator/agg_bench.py" "$DATA/p" "$1" "$PY_ROUNDS" "$RETENTION" "$2")
			ours=${CPUM["1000/$FLUSH"]:-}
			ratio=""
			[ -n "$ours" ] && ratio=$(printf 'ours (1000 domains, flush %ss) = %.1fx' "$FLUSH" \
				"$(echo "$(field cpu_s_per_million "$out") / $ours" | bc -l)")
			printf '%6s domains, %2s point(s)/call: %9s pts/s %9s pts/cpu-s %7s cpu-s/M   %s\n' "$1" "$2" \
				"$(field points_per_s "$out")" "$(field points_per_cpu_s "$out")" \
				"$(field cpu_s_per_million "$out")" "$ratio"
			rm -rf "$DATA/p"
		done
		;;
	sustained)
		echo "## 3. sustained: daemon <- ZeroMQ <- agg_bench pub, 10000 domains at 1 Hz, flush ${FLUSH_10K}s"
		ep="ipc://$DATA/pub"
		"$AGG" -c /dev/null --subscribe "$ep" --data-dir "$DATA/s" --retention "$RETENTION" \
			--preallocate no --flush-interval "$FLUSH_10K" --max-open-files 1000000 \
			--summary-interval 10 -v >"$DATA/agg.log" 2>&1 &
		apid=$!
		PIDS="$PIDS $apid"
		"$BENCH" pub "$ep" 10000 1 $((WARM_S + WINDOW_S + 5)) >"$DATA/pub.log" 2>&1 &
		ppid=$!
		PIDS="$PIDS $ppid"
		sleep "$WARM_S"
		c0=$(proc_cpu "$apid")
		read -r i0 t0 < <(idle_total)
		sleep "$WINDOW_S"
		c1=$(proc_cpu "$apid")
		read -r i1 t1 < <(idle_total)
		wait "$ppid" || true
		sleep 2
		lost=$(sqlite3 -readonly "$DATA/s/index.sqlite" "SELECT lost FROM host_loss WHERE host = 'bench-host'")
		recv=$(sqlite3 -readonly "$DATA/s/index.sqlite" "SELECT received FROM host_loss WHERE host = 'bench-host'")
		kill "$apid"
		wait "$apid" || true
		printf 'daemon CPU over %ss: %.2f of a core (%.2f s CPU per 10000-domain frame); machine idle %.2f of %d cores (all processes)\n' \
			"$WINDOW_S" "$(echo "($c1 - $c0) / $ticks / $WINDOW_S" | bc -l)" \
			"$(echo "($c1 - $c0) / $ticks / $WINDOW_S" | bc -l)" \
			"$(echo "($i1 - $i0) / ($t1 - $t0) * $(nproc)" | bc -l)" "$(nproc)"
		echo "frames received $recv, lost $lost (sequence gaps); $(grep -c 'last 10 s' "$DATA/agg.log") summaries, last:"
		grep 'last 10 s' "$DATA/agg.log" | tail -1 | sed 's/^/   /'
		grep -E 'RLIMIT|warning|error' "$DATA/agg.log" | head -3 | sed 's/^/   /' || true
		rm -rf "$DATA/s"
		;;
	burst)
		echo "## 4. burst: $BURST frames of 1000 domains back to back (default flush ${FLUSH}s, rcvhwm 10000)"
		ep="ipc://$DATA/pubb"
		"$AGG" -c /dev/null --subscribe "$ep" --data-dir "$DATA/b" --retention "$RETENTION" \
			--preallocate no -v --summary-interval 5 >"$DATA/aggb.log" 2>&1 &
		apid=$!
		PIDS="$PIDS $apid"
		# One frame first, so the files exist: the burst measures writing, not creating.
		"$BENCH" pub "$ep" 1000 1 1 >/dev/null 2>&1
		sleep 3
		start=$(date +%s.%N)
		"$BENCH" pub "$ep" 1000 1 0 "$BURST" >"$DATA/pubb.log" 2>&1
		got=0
		for _ in $(seq 1 600); do
			got=$(sqlite3 -readonly "$DATA/b/index.sqlite" "SELECT coalesce(sum(received), 0) FROM host_streams" 2>/dev/null || echo 0)
			[ "$got" -ge $((BURST + 1)) ] && break
			sleep 0.1
		done
		end=$(date +%s.%N)
		lost=$(sqlite3 -readonly "$DATA/b/index.sqlite" "SELECT sum(lost) FROM host_loss")
		kill "$apid"
		wait "$apid" || true
		echo "$(cat "$DATA/pubb.log"); all written $(printf '%.1f' "$(echo "$end - $start - 1" | bc -l)") s after the burst began: received $((got - 1)) of $BURST, lost $lost"
		rm -rf "$DATA/b"
		;;
	carbon)
		echo "## 5. carbon-cache (graphite-carbon), same points and retention, pickle receiver, $PY_ROUNDS s of data"
		if command -v carbon-cache >/dev/null 2>&1; then
			out=$("$PY" "$ROOT/bench/aggregator/carbon_bench.py" "$DATA/c" 1000 "$PY_ROUNDS" "$RETENTION")
			ours=${CPUM["1000/$FLUSH"]:-}
			ratio=""
			[ -n "$ours" ] && ratio=$(printf 'ours (1000 domains, flush %ss) = %.1fx' "$FLUSH" \
				"$(echo "$(field cpu_s_per_million "$out") / $ours" | bc -l)")
			printf '  1000 domains, carbon-cache:    %9s pts/s %9s pts/cpu-s %7s cpu-s/M   %s\n' \
				"$(field points_per_s "$out")" "$(field points_per_cpu_s "$out")" \
				"$(field cpu_s_per_million "$out")" "$ratio"
			rm -rf "$DATA/c"
		else
			echo "carbon-cache (graphite-carbon) is not installed here: skipped"
		fi
		;;
	esac
done
