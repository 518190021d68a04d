#!/usr/bin/env bash
# The evaluation (issue 13, docs/EVALUATION.md): the StackMon paper's §4.1
# (monitor CPU, RSS/VSZ and bytes sent against 1..10 busy VMs) redone on
# real QEMU guests, side by side with collectd's virt plugin and
# prometheus-libvirt-exporter in the same run, then other workloads, the
# monitor's accuracy against libvirt's own counters, and 100/1,000 domains and
# 1,000 simulated monitors past the paper. Writes docs/EVALUATION.md, its plots
# (docs/evaluation/*.svg, gnuplot) and raw figures (docs/evaluation/results.tsv;
# the previous run's are kept as previous.tsv and compared in the document).
#
# Usage (as root): bench/evaluation/run.sh [--quick] [--build DIR] [--out FILE]
#   --quick      counts 1, 4, 10; 17 s windows; other workloads at 4 guests;
#                1,000 domains only on the test driver (about 9 min on 2
#                cores; the full run, 60 s windows, took 37.1 and 37.3 min
#                there: its 24 windows of the paper's experiment alone take
#                24 min)
#   --smoke      development only: 1-2 guests, 3 s windows, not a result
#   --build DIR  cmake build directory (default build-eval, made if missing)
#   --out FILE   the document (default docs/EVALUATION.md); plots and TSV go
#                to the folder "evaluation" next to it
# Needs: root, Debian's collectd-core, prometheus-libvirt-exporter,
# gnuplot-nox, tcpdump, python3-zmq, python3-msgpack, a Debian kernel and
# busybox-static for the guests (scripts/install-deps.sh installs them).
# Starts libvirtd (scripts/libvirtd.sh) if it is not running and stops it at
# the end only then. Guests are named smtest-eval-N; daemons use ports
# 27000-27999.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build-eval
OUT=$ROOT/docs/EVALUATION.md
MODE=full
COMMAND="bench/evaluation/run.sh${*:+ $*}"
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}
while (($#)); do
	case $1 in
	--quick) MODE=quick ;;
	--smoke) MODE=smoke ;;
	--build)
		BUILD=${2:?--build DIR}
		shift
		;;
	--out)
		OUT=${2:?--out FILE}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "run.sh: unknown option '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done
[[ $(id -u) == 0 ]] || {
	echo "run.sh: must run as root (QEMU guests under qemu:///system, tcpdump)" >&2
	exit 1
}
for c in collectd prometheus-libvirt-exporter gnuplot tcpdump virsh cmake; do
	command -v "$c" >/dev/null || {
		echo "run.sh: no $c: run scripts/install-deps.sh" >&2
		exit 1
	}
done

# Windows: WIN for the paper's experiment, WL_WIN for the other workloads
# (at WL_N guests), TD_WIN on the test driver (TD_COUNTS domains), LOAD_S for
# the 1,000 simulated monitors; WARMUP before each window. Each window costs
# about WARMUP + 3 s more (start, stop, libvirt's counters).
case $MODE in
full) COUNTS=(1 2 4 6 8 10) WIN=60 WL_WIN=20 WL_N=10 TD_WIN=15 TD_COUNTS=(100 1000) LOAD_S=30 WARMUP=3 ;;
quick) COUNTS=(1 4 10) WIN=17 WL_WIN=5 WL_N=4 TD_WIN=5 TD_COUNTS=(1000) LOAD_S=8 WARMUP=2 ;;
smoke) COUNTS=(1 2) WIN=3 WL_WIN=3 WL_N=2 TD_WIN=3 TD_COUNTS=(100) LOAD_S=3 WARMUP=2 ;;
esac
QUOTA=12 # % of a core per guest's vCPU: 10 busy guests use 1.2 of the 2 cores
CONFIGS=(none stackmon collectd prometheus)
WORKLOADS=(disk net mem)
URI=qemu:///system
PORT=$((27000 + ($$ % 90) * 10)) # fan-in, +1 fan-out, +2 exporter, +3/+4 load test
HOST=eval$$
DOCDIR=$(dirname "$OUT")/evaluation
QD=$ROOT/tests/lib/qemu_domain.sh
PY=/usr/bin/python3
PROBE=$HERE/probe.py
T_START=$SECONDS

say() { printf '[%s +%ds] %s\n' "$(date -u +%H:%M:%S)" $((SECONDS - T_START)) "$*"; }

# --- build ------------------------------------------------------------------
say "building in $BUILD"
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.cmake.log" 2>&1 ||
		{
			cat "$BUILD.cmake.log"
			exit 1
		}
fi
cmake --build "$BUILD" -j2 --target stackmon-monitor stackmon-collector stackmon-aggregator \
	bench_loadgen bench_sink >"$BUILD/eval-build.log" 2>&1 || {
	tail -30 "$BUILD/eval-build.log"
	exit 1
}
MON=$BUILD/src/monitor/stackmon-monitor
COLLECTOR=$BUILD/src/collector/stackmon-collector
AGG=$BUILD/src/aggregator/stackmon-aggregator

# --- libvirtd and clean-up ----------------------------------------------------
STARTED_LIBVIRTD=0
if ! virsh -q -c "$URI" list >/dev/null 2>&1; then
	say "starting libvirtd"
	"$ROOT/scripts/libvirtd.sh" start >/dev/null
	STARTED_LIBVIRTD=1
fi
WORK=$(mktemp -d /tmp/sm-eval-XXXXXX)
PIDS=()
MEASURE=$WIN
ROUNDS=1
GUESTS=0
cleanup() {
	local p i
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for ((i = 0; i < 10; i++)); do "$QD" destroy "smtest-eval-$i" >/dev/null 2>&1 || true; done
	if ((STARTED_LIBVIRTD)); then "$ROOT/scripts/libvirtd.sh" stop >/dev/null 2>&1 || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=bench/lib/monitor.sh
. "$ROOT/bench/lib/monitor.sh"

RES=$WORK/results.tsv
printf 'experiment\ttool\tvms\tmetric\tvalue\n' >"$RES"
result() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES"; } # EXP TOOL VMS METRIC VALUE

# --- machine and versions, load before --------------------------------------
META=$WORK/meta.txt
{
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "command=$COMMAND"
	echo "mode=$MODE"
	echo "nproc=$(nproc)"
	echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "ram=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "debian=$(cat /etc/debian_version)"
	echo "libvirt=$(libvirtd --version | awk '{print $NF}')"
	echo "qemu=$(qemu-system-x86_64 --version | awk 'NR == 1 {print $4}')"
	echo "collectd=$(dpkg-query -W -f '${Version}' collectd-core)"
	echo "exporter=$(dpkg-query -W -f '${Version}' prometheus-libvirt-exporter)"
	echo "stackmon=$(git -C "$ROOT" describe --always --dirty --tags 2>/dev/null || echo unknown)"
	echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "win=$WIN"
	echo "wl_win=$WL_WIN"
	echo "wl_n=$WL_N"
	echo "td_win=$TD_WIN"
	echo "load_s=$LOAD_S"
	echo "quota=$QUOTA"
	echo "warmup=$WARMUP"
} >"$META"

# --- guests --------------------------------------------------------------------
# grow_guests N: boots guests up to N, one at a time (TCG guests booting
# together starve each other), uncapped while booting, capped once up.
grow_guests() {
	local n=$1 i
	for ((i = GUESTS; i < n; i++)); do
		say "booting smtest-eval-$i"
		"$QD" create "smtest-eval-$i" --work busy >"$WORK/guest$i.txt"
		grep -q '^boot=kernel' "$WORK/guest$i.txt" || {
			echo "run.sh: no guest kernel/busybox-static: guests would do no work" >&2
			exit 1
		}
		"$QD" wait-boot "smtest-eval-$i" 300
		"$QD" vcpu-quota "smtest-eval-$i" "$QUOTA"
		GUESTS=$((i + 1))
	done
}
shrink_guests() { # N: destroys guests above N
	local i
	for ((i = GUESTS - 1; i >= $1; i--)); do "$QD" destroy "smtest-eval-$i"; done
	GUESTS=$1
}
guest_names() {
	local i
	for ((i = 0; i < GUESTS; i++)); do echo "smtest-eval-$i"; done
}
set_work() { # W: every guest's workload
	local i
	for ((i = 0; i < GUESTS; i++)); do "$QD" work "smtest-eval-$i" "$1"; done
	sleep 2
}

# --- one window of one configuration --------------------------------------------
# A real collector for the whole run: the monitor publishes to it, probe.py
# subscribes to its fan-out.
"$COLLECTOR" -c /dev/null -q --name evalc --fan-in "tcp://127.0.0.1:$PORT" \
	--fan-out "tcp://127.0.0.1:$((PORT + 1))" --startup-grace 0 2>"$WORK/collector.err" &
PIDS+=($!)

# record_sample EXP TOOL VMS JSON: the sampler's figures into results.tsv.
record_sample() {
	local k
	for k in cpu rss_avg rss_peak vsz_avg vsz_peak libvirtd qemu libvirtd_trim qemu_trim; do
		result "$1" "$2" "$3" "$k" "$($PY "$PROBE" get "$4" "$k")"
	done
}
win_of() { $PY "$PROBE" get "$1" w0 w1; }

# run_config EXP VMS CONFIG SECS: warm-up, then one window; figures to results.tsv.
run_config() {
	local exp=$1 n=$2 cfg=$3 secs=$4 tag=$1-$2-$3 pid sub w0 w1 names
	local js=$WORK/$tag.json
	mapfile -t names < <(guest_names)
	case $cfg in
	none)
		$PY "$PROBE" sample "$secs" "$js"
		;;
	stackmon)
		$PY "$PROBE" sub "tcp://127.0.0.1:$((PORT + 1))" "$HOST" "$WORK/$tag.sub" >"$WORK/$tag.ready" &
		sub=$!
		PIDS+=("$sub")
		for ((i = 0; i < 50; i++)); do
			grep -q ready "$WORK/$tag.ready" && break
			sleep 0.1
		done
		"$MON" -c /dev/null -q --uri "$URI" --publish "tcp://127.0.0.1:$PORT" --interval 1 \
			--host "$HOST" 2>"$WORK/$tag.err" &
		pid=$!
		PIDS+=("$pid")
		sleep "$WARMUP"
		$PY "$PROBE" domstats "$URI" "$WORK/$tag.ds0" "${names[@]}"
		$PY "$PROBE" sample "$secs" "$js" "$pid"
		$PY "$PROBE" domstats "$URI" "$WORK/$tag.ds1" "${names[@]}"
		stop_pid "$pid"
		sleep 1
		stop_pid "$sub"
		read -r w0 w1 < <(win_of "$js")
		result "$exp" "$cfg" "$n" bps "$($PY "$PROBE" window-bytes "$WORK/$tag.sub" "$w0" "$w1")"
		$PY "$HERE/report.py" accuracy "$WORK/$tag.sub" "$WORK/$tag.ds0" "$WORK/$tag.ds1" \
			"$exp" "$n" >>"$RES"
		;;
	collectd)
		collectd_start "$tag" "$URI" csv
		$PY "$PROBE" sample "$secs" "$js" "$CD_CLIENT"
		win_of "$js" >"$WORK/$tag.win"
		collectd_stop "$tag"
		result "$exp" "$cfg" "$n" bps "$(cat "$WORK/$tag.bps")"
		result "$exp" "$cfg" "$n" values_per_vm "$($PY "$HERE/report.py" collectd-values \
			"$WORK/$tag/srv/csv" smtest-eval-0)"
		;;
	prometheus)
		prometheus-libvirt-exporter --web.listen-address="127.0.0.1:$((PORT + 2))" \
			--libvirt.uri="$URI" >"$WORK/$tag.exporter.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		sleep 1
		$PY "$PROBE" scrape "http://127.0.0.1:$((PORT + 2))/metrics" "$WORK/$tag.scrape" \
			>"$WORK/$tag.ready" &
		sub=$!
		PIDS+=("$sub")
		sleep "$WARMUP"
		$PY "$PROBE" sample "$secs" "$js" "$pid"
		stop_pid "$sub"
		stop_pid "$pid"
		read -r w0 w1 < <(win_of "$js")
		result "$exp" "$cfg" "$n" bps "$($PY "$PROBE" window-bytes "$WORK/$tag.scrape" "$w0" "$w1")"
		result "$exp" "$cfg" "$n" values_per_vm \
			"$($PY "$PROBE" get "$WORK/$tag.scrape" series_per_domain.smtest-eval-0)"
		;;
	esac
	record_sample "$exp" "$cfg" "$n" "$js"
}

# run_all EXP VMS SECS ROT: the four configurations, the order rotated by ROT
# so that drift on the shared machine hits each in turn.
run_all() {
	local exp=$1 n=$2 secs=$3 rot=$4 k cfg
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		cfg=${CONFIGS[(k + rot) % ${#CONFIGS[@]}]}
		say "$exp, $n VMs: $cfg (${secs} s)"
		run_config "$exp" "$n" "$cfg" "$secs"
	done
}

# --- 1. the paper's experiment, with the peers --------------------------------------
rot=0
for n in "${COUNTS[@]}"; do
	grow_guests "$n"
	sleep 2
	run_all paper "$n" "$WIN" "$rot"
	rot=$((rot + 1))
done

# --- 2. other workloads -------------------------------------------------------------
shrink_guests "$WL_N"
grow_guests "$WL_N"
if [[ " ${COUNTS[*]} " != *" $WL_N "* ]]; then
	run_all paper "$WL_N" "$WIN" "$rot"
fi
for w in "${WORKLOADS[@]}"; do
	set_work "$w"
	rot=$((rot + 1))
	run_all "work-$w" "$WL_N" "$WL_WIN" "$rot"
done
shrink_guests 0

# --- 3. past the paper: the test driver, 100 and 1,000 domains ------------------------
MEASURE=$TD_WIN
for n in "${TD_COUNTS[@]}"; do
	node=$(node_of "$n")
	for via in in un; do
		if [[ $via == in ]]; then uri="test://$node"; else uri="test+unix://$node"; fi
		say "test driver, $n domains, $uri: stackmon-monitor and collectd (${TD_WIN} s each)"
		compare_case "$via$n" "$([[ $via == in ]] && echo "in-process test:///" ||
			echo "via libvirtd test+unix://"), $n domains" "$uri" "$n" >"$WORK/cmp-$via$n.md"
		for t in mon cd; do
			read -r w0 w1 ticks lticks _ <"$WORK/cmp$t$via${n}1.win"
			tool=$([[ $t == mon ]] && echo stackmon || echo collectd)
			exp=$([[ $via == in ]] && echo testdrv-inproc || echo testdrv-libvirtd)
			result "$exp" "$tool" "$n" cpu "$(calc "$ticks / $HZ / ($w1 - $w0) * 100")"
			result "$exp" "$tool" "$n" bps "$(cat "$WORK/cmp$t$via${n}1.bps")"
			if [[ $via == un ]]; then
				read -r iw0 iw1 _ il _ <"$WORK/cmpidleun${n}1.win"
				result "$exp" "$tool" "$n" libvirtd_extra \
					"$(calc "$lticks / $HZ / ($w1 - $w0) * 100 - $il / $HZ / ($iw1 - $iw0) * 100")"
			fi
		done
		read -r _ _ hwm _ <"$WORK/cmpmon$via${n}1.res"
		result "$exp" stackmon "$n" rss_peak "$hwm"
	done
done

# --- 4. collector and aggregator at 1,000 simulated monitors -------------------------------
# bench/collector's load generator (1,000 publishers, one 1-domain frame per
# second each) -> stackmon-collector -> stackmon-aggregator and a counting sink.
say "collector and aggregator, 1,000 simulated monitors (${LOAD_S} s)"
LB=$BUILD/bench/collector
AD=$(mktemp -d /var/tmp/sm-eval-agg-XXXXXX)
"$COLLECTOR" -c /dev/null -q --name evalload --fan-in "tcp://127.0.0.1:$((PORT + 3))" \
	--fan-out "tcp://127.0.0.1:$((PORT + 4))" --startup-grace 0 2>"$WORK/loadc.err" &
lc=$!
PIDS+=("$lc")
"$AGG" -c /dev/null -q --subscribe "tcp://127.0.0.1:$((PORT + 4))" --data-dir "$AD" \
	--retention 1s:10m,1m:1h --preallocate no 2>"$WORK/agg.err" &
ag=$!
PIDS+=("$ag")
"$LB/bench_sink" --connect "tcp://127.0.0.1:$((PORT + 4))" --idle 4 >"$WORK/loadsink.out" &
ls=$!
PIDS+=("$ls")
sleep 2
"$LB/bench_loadgen" --connect "tcp://127.0.0.1:$((PORT + 3))" --publishers 1000 --domains 1 \
	--rate 1000 --duration "$LOAD_S" --prefix evalload- >"$WORK/loadgen.out" &
lg=$!
PIDS+=("$lg")
for ((i = 0; i < 600; i++)); do # its first line: every socket subscribed
	[[ -s $WORK/loadgen.out ]] && break
	sleep 0.1
done
$PY "$PROBE" sample "$LOAD_S" "$WORK/load-c.json" "$lc" &
s1=$!
$PY "$PROBE" sample "$LOAD_S" "$WORK/load-a.json" "$ag"
wait "$s1"
wait "$lg" || true
sleep 5 # the sink ends after 4 s idle; the aggregator flushes
wait "$ls" || true
stop_pid "$ag"
stop_pid "$lc"
sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$WORK/loadgen.out" | tail -1)
got=$(sed -n 's/.*frames=\([0-9]*\).*/\1/p' "$WORK/loadsink.out" | tail -1)
alost=$(sqlite3 -readonly "$AD/index.sqlite" "SELECT coalesce(sum(lost), 0) FROM host_loss" 2>/dev/null || echo -1)
rm -rf "$AD"
for k in collector aggregator; do
	js=$WORK/load-${k:0:1}.json
	result load1000 "$k" 1000 cpu "$($PY "$PROBE" get "$js" cpu)"
	result load1000 "$k" 1000 rss_peak "$($PY "$PROBE" get "$js" rss_peak)"
done
result load1000 collector 1000 frames_sent "${sent:-0}"
result load1000 collector 1000 frames_lost $((${sent:-0} - ${got:-0}))
result load1000 aggregator 1000 frames_lost "$alost"

# --- the document -------------------------------------------------------------------
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
echo "wall_s=$((SECONDS - T_START))" >>"$META"
# Kept beside the figures so that report.py can rewrite the document from
# them alone (report.py doc DOCDIR OUT DOCDIR/meta.txt DOCDIR/testdriver.md).
mkdir -p "$DOCDIR"
cat "$WORK"/cmp-*.md >"$DOCDIR/testdriver.md" 2>/dev/null || true
cp "$META" "$DOCDIR/meta.txt"
if [[ -f $DOCDIR/results.tsv ]]; then mv -f "$DOCDIR/results.tsv" "$DOCDIR/previous.tsv"; fi
cp "$RES" "$DOCDIR/results.tsv"
$PY "$HERE/report.py" doc "$DOCDIR" "$OUT" "$DOCDIR/meta.txt" "$DOCDIR/testdriver.md"
say "wrote $OUT, $DOCDIR/*.svg and $DOCDIR/results.tsv in $((SECONDS - T_START)) s"
