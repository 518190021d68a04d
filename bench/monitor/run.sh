#!/usr/bin/env bash
# Benchmark of stackmon-monitor (issue 3, docs/MONITOR.md "Benchmark"):
#  1. CPU seconds per second and peak RSS at 10, 100 and 1,000 domains on
#     libvirt's test driver, in-process (test:///node.xml: the domains live
#     in the monitor's own address space, so libvirt's share is shown apart)
#     and through libvirtd (test+unix:///node.xml: the domains live there);
#  2. bytes per domain per frame, with one disk and one NIC, with and without
#     Nova identity;
#  3. the same figures at 10 real QEMU domains (qemu:///system);
#  4. RSS across 10,000 domain start/stop cycles on test+unix:///default;
#  5. side by side with collectd's virt plugin on the same URIs in the same
#     run (the cases of 1 and 3): the client's CPU, the extra CPU it costs
#     libvirtd (and QEMU), and bytes sent per domain per second, with ratios.
# Prints figures; asserts nothing.
#
# Usage: bench/monitor/run.sh [--quick] [--no-qemu] [--no-collectd]
#                             [--only-compare] [--case TAG]... [--build DIR]
#   --quick          20 s per measurement instead of 60, 1,000 churn cycles,
#                    one run of each tool per comparison case instead of two
#   --no-qemu        no real QEMU domains (sections 3 and 5's QEMU row)
#   --no-collectd    skip the comparison with collectd (section 5)
#   --only-compare   run the comparison with collectd only
#   --case TAG       only these rows of the comparison (repeatable): in10,
#                    un10, in100, un100, in1000, un1000 (in-process and via
#                    libvirtd at N domains), qemu, qemu-lvcpu (10 QEMU guests;
#                    the second with cpu_from_kernel = no)
# Needs root, libvirtd (scripts/libvirtd.sh start), /usr/bin/python3 with
# python3-zmq and python3-msgpack, a build (default build-monitor), and for
# the comparison collectd (collectd-core) and tcpdump.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build-monitor
QUICK=0
QEMU=1
COLLECTD=1
ONLY_COMPARE=0
CASES="" # empty: every comparison row
COMMAND="bench/monitor/run.sh${*:+ $*}"
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--no-qemu) QEMU=0 ;;
	--no-collectd) COLLECTD=0 ;;
	--only-compare) ONLY_COMPARE=1 ;;
	--case)
		CASES+=" ${2:?--case TAG} "
		shift
		;;
	--build)
		BUILD=$(cd "${2:?--build DIR}" && pwd)
		shift
		;;
	*)
		echo "usage: $0 [--quick] [--no-qemu] [--no-collectd] [--only-compare] [--case TAG]..." \
			"[--build DIR]" >&2
		exit 2
		;;
	esac
	shift
done
if ((ONLY_COMPARE && !COLLECTD)); then
	echo "run.sh: --only-compare and --no-collectd leave nothing to run" >&2
	exit 2
fi
MEASURE=60
CYCLES=10000
ROUNDS=2 # runs of each tool per comparison case, alternated
if ((QUICK)); then
	MEASURE=20
	CYCLES=1000
	ROUNDS=1
fi
WARMUP=8
MON=$BUILD/src/monitor/stackmon-monitor
[[ -x $MON ]] || {
	echo "run.sh: no $MON: build first (cmake --build $BUILD)" >&2
	exit 1
}
WORK=$(mktemp -d /tmp/sm-bench-monitor-XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if ((QEMU)); then
		stop_guests
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/lib/monitor.sh
. "$ROOT/bench/lib/monitor.sh"

# The ten real QEMU domains of sections 3 and 5, booted once for both.
GUESTS=0
start_guests() {
	((GUESTS)) && return 0
	# One at a time: ten TCG guests booting at once on two CPUs can starve
	# each other past the kernel's watchdogs.
	for ((i = 0; i < 10; i++)); do
		"$ROOT/tests/lib/qemu_domain.sh" create "smtest-bench-$i" --load 0 >/dev/null
		"$ROOT/tests/lib/qemu_domain.sh" wait-boot "smtest-bench-$i" 300 || true
	done
	GUESTS=1
}
stop_guests() {
	for ((i = 0; i < 10; i++)); do
		"$ROOT/tests/lib/qemu_domain.sh" destroy "smtest-bench-$i" >/dev/null 2>&1 || true
	done
	GUESTS=0
}

section_test_driver() {
	echo
	echo "## test driver: CPU and memory (interval 1 s, Nova metadata, 1-3 disks, 1-2 NICs)"
	printf '%-28s %8s %8s %10s %10s %12s %10s\n' "case" "domains" "cpu %" "peak RSS" "anon MiB" \
		"libvirt RSS" "frame KiB"
	local n node base base0 cpu rss hwm size doms
	base0=$(baseline_rss "test+unix:///default")
	BASE0=$base0
	for n in 10 100 1000; do
		node=$(node_of "$n")
		base=$(baseline_rss "test://$node")
		measure "inproc$n" "test://$node"
		read -r cpu rss hwm size doms <"$WORK/inproc$n.res"
		printf '%-28s %8d %8s %10s %10s %12s %10s\n' "in-process test:///" "$doms" "$cpu" \
			"$(calc "$hwm / 1024")" "$(calc "$rss / 1024")" "$(calc "$base / 1024")" \
			"$(calc "$size / 1024")"
		measure "remote$n" "test+unix://$node"
		read -r cpu rss hwm size doms <"$WORK/remote$n.res"
		printf '%-28s %8d %8s %10s %10s %12s %10s\n' "via libvirtd test+unix://" "$doms" "$cpu" \
			"$(calc "$hwm / 1024")" "$(calc "$rss / 1024")" "$(calc "$base0 / 1024")" \
			"$(calc "$size / 1024")"
	done
}

section_bytes() {
	echo
	echo "## bytes per domain per frame (one disk, one NIC; test driver's large counters)"
	local mode a b s10 d10 s110 d110 per
	for mode in trim bare; do
		a=$(gen "b10$mode" 10 "$mode")
		b=$(gen "b110$mode" 110 "$mode")
		MEASURE=3 measure "bytes10$mode" "test://$a"
		read -r _ _ _ s10 d10 <"$WORK/bytes10$mode.res"
		MEASURE=3 measure "bytes110$mode" "test://$b"
		read -r _ _ _ s110 d110 <"$WORK/bytes110$mode.res"
		per=$(calc "($s110 - $s10) / ($d110 - $d10)")
		printf '%-40s %6s bytes (frames of %d and %d domains: %d and %d bytes)\n' \
			"$([[ $mode == trim ]] && echo "with Nova identity" || echo "without identity")" \
			"$per" "$d10" "$d110" "$s10" "$s110"
		HEADER=$(calc "$s10 - $d10 * $per") # header and node record, for the QEMU figure
	done
	echo "frame header and node record: about $HEADER bytes"
}

section_qemu() {
	echo
	echo "## 10 real QEMU domains (TCG, 96 MiB, idle guests; bulk statistics)"
	local cpu rss hwm size doms
	start_guests
	measure qemu10 "qemu:///system"
	read -r cpu rss hwm size doms <"$WORK/qemu10.res"
	printf '%-28s %8d %8s %10s %10s %12s %10s\n' \
		"qemu:///system" "$doms" "$cpu" "$(calc "$hwm / 1024")" "$(calc "$rss / 1024")" \
		"$(calc "$BASE0 / 1024")" "$(calc "$size / 1024")"
	echo "bytes per domain per frame (one disk, one NIC, no identity, real counters):" \
		"$(calc "($size - $HEADER) / $doms")"
	stop_guests
}

# want_case TAG: whether the comparison row TAG is to run (--case).
want_case() {
	[[ -z $CASES || $CASES == *" $1 "* ]]
}

section_compare() {
	local version n node
	version=$(collectd -h | awk '/^collectd [0-9]/ {print $2; exit}')
	version=${version%,}
	echo
	echo "## stackmon-monitor vs collectd $version (virt plugin) on the same URIs, same run"
	echo "# command: $COMMAND; $(date -u +%Y-%m-%dT%H:%MZ); $MEASURE s windows after $WARMUP s" \
		"of warm-up; $ROUNDS run(s) of each tool per case, alternated"
	echo
	echo "| case | monitor CPU vs collectd, % of a core (ratio) | libvirtd extra CPU (monitor vs collectd) | dom0 total ratio (monitor vs collectd) | bytes per VM per s (monitor vs collectd, ratio) |"
	echo "| --- | --- | --- | --- | --- |"
	for n in 10 100 1000; do
		if want_case "in$n" || want_case "un$n"; then
			node=$(node_of "$n")
		fi
		if want_case "in$n"; then
			compare_case "in$n" "in-process test:///, $n domains" "test://$node" "$n"
		fi
		if want_case "un$n"; then
			compare_case "un$n" "via libvirtd test+unix://, $n domains" "test+unix://$node" "$n"
		fi
	done
	if ((QEMU)) && { want_case qemu || want_case qemu-lvcpu; }; then
		start_guests
		if want_case qemu; then
			compare_case qemu "10 QEMU domains qemu:///system" "qemu:///system" 10
		fi
		# The same, the monitor asking libvirt for CPU figures (the
		# cpu-total and vcpu groups) instead of reading the kernel's.
		if want_case qemu-lvcpu; then
			MON_ARGS=(--cpu-from-kernel no)
			compare_case qemu-lvcpu "10 QEMU domains, cpu_from_kernel = no" "qemu:///system" 10
			MON_ARGS=()
		fi
	fi
	echo
	cat <<EOF
Notes:
- CPU: utime+stime of the process over the window, % of one core. libvirtd extra: libvirtd's
  CPU in the client's window minus its CPU in an idle window of the same length taken just
  before each round of the case ("—": in-process, libvirt runs inside the client). On
  qemu:///system, QEMU extra is the same for the qemu-system processes together. dom0 total =
  client + libvirtd extra (+ QEMU extra); ratios are monitor / collectd (below 1: the monitor
  costs less or sends less).
- bytes: the monitor's = ZeroMQ message bytes (topic and msgpack body) the sink received in
  the window; collectd's = UDP payload bytes its network plugin sent in the window to a second
  collectd listening on 127.0.0.1 (counted on lo with tcpdump); both per domain per second.
- collectd runs with its defaults but Interval 1: the virt plugin with only Connection
  (RefreshInterval 60: domain and device lists re-read from each domain's XML every 60 s,
  so a 20 s window (--quick) may miss that cost), the network plugin's binary protocol, no
  log plugin (it logs to stderr). Per domain it sends virt_cpu_total, one virt_vcpu per vCPU,
  memory (total and the balloon statistics), disk_ops and disk_octets per disk,
  if_octets/packets/errors/dropped per NIC: raw counters, each value with its own
  host/plugin/type names, read with per-domain and per-device libvirt calls. No Nova identity,
  no rates or percentages, no state or started/stopped events.
- The monitor sends per domain CPU %, steal, load, memory %, per-disk and per-NIC counters and
  rates, UUID, name and Nova identity (1-3 disks and 1-2 NICs on the test-driver nodes), plus
  the node record, and uses bulk statistics where the driver has them (QEMU).
- When a pass over all domains takes longer than the 1 s interval (1,000 domains through
  libvirtd), collectd's virt plugin starts its next read late and sends fewer values per
  second (its log says the read-function took longer than its interval); the monitor still
  sends a frame every second with every domain, those not yet re-read marked stale.
- libvirt's test driver has no virDomainBlockStatsFlags: there collectd's block statistics
  fail (four stderr lines for each disk at every interval, a cost inside collectd's CPU on
  those rows) and it sends no disk figures, while the monitor does. That is collectd with its
  defaults on this driver.
EOF
}

echo "# stackmon-monitor benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo "# command: $COMMAND ($MEASURE s per figure)"
if ((!ONLY_COMPARE)); then
	section_test_driver
	section_bytes
fi
if ((COLLECTD)); then
	section_compare
fi
if ((ONLY_COMPARE)); then
	exit 0
fi
if ((QEMU)); then
	section_qemu
fi

echo
echo "## churn: $CYCLES start/stop cycles on test+unix:///default (20 live at a time, interval 0.2 s)"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -O2 -o "$WORK/churn" "$HERE/churn.c" $(pkg-config --cflags --libs libvirt)
start_sink churn smtest-churn-
sink=$SINK
"$MON" -c /dev/null -q --uri test+unix:///default --publish "ipc://$WORK/churn.sock" --interval 0.2 \
	--host bench 2>"$WORK/churn.err" &
mon=$!
PIDS+=("$mon")
sleep 3
printf '%8s %10s %10s\n' "cycles" "rss KiB" "anon KiB"
printf '%8d %10d %10d\n' 0 "$(rss_kib $mon)" "$(anon_kib $mon)"
t0=$(cpu_ticks $mon)
start=$SECONDS
report=$((CYCLES / 10))
"$WORK/churn" test+unix:///default "$CYCLES" 20 "$report" | while read -r c; do
	printf '%8d %10d %10d\n' "$c" "$(rss_kib $mon)" "$(anon_kib $mon)"
done
elapsed=$((SECONDS - start))
sleep 2
t1=$(cpu_ticks $mon)
printf 'after: rss %d KiB, peak %d KiB; %d s, monitor CPU %s %% of a core\n' \
	"$(rss_kib $mon)" "$(hwm_kib $mon)" "$elapsed" \
	"$(calc "($t1 - $t0) / $HZ / ($elapsed + 2) * 100")"
stop_pid $mon
stop_pid "$sink"
/usr/bin/python3 -c "
import json; s = json.load(open('$WORK/churn.json'))
print('events: %d started, %d stopped (of %d cycles; a domain that came and went between two looks is never tracked)' % (s['started'], s['stopped'], $CYCLES))"
