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
#                             [--only-compare] [--build DIR]
#   --quick          20 s per measurement instead of 60, 1,000 churn cycles,
#                    one run of each tool per comparison case instead of two
#   --no-qemu        no real QEMU domains (sections 3 and 5's QEMU row)
#   --no-collectd    skip the comparison with collectd (section 5)
#   --only-compare   run the comparison with collectd only
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
COMMAND="bench/monitor/run.sh${*:+ $*}"
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--no-qemu) QEMU=0 ;;
	--no-collectd) COLLECTD=0 ;;
	--only-compare) ONLY_COMPARE=1 ;;
	--build)
		BUILD=$(cd "${2:?--build DIR}" && pwd)
		shift
		;;
	*)
		echo "usage: $0 [--quick] [--no-qemu] [--no-collectd] [--only-compare] [--build DIR]" >&2
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
HZ=$(getconf CLK_TCK)
LIBVIRTD=$(pgrep -xo libvirtd || true) # the oldest: not a forked helper

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; } # private: heap, stacks
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

calc() { awk "BEGIN { printf \"%.1f\", $1 }"; } # EXPR: one decimal

# CPU ticks of libvirtd (0 without one) and of all QEMU processes together
# (a process that ends between the two reads counts 0).
libvirtd_ticks() {
	if [[ $LIBVIRTD ]]; then cpu_ticks "$LIBVIRTD"; else echo 0; fi
}
qemu_ticks() {
	local p t=0
	for p in $(pgrep '^qemu-system' || true); do
		t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# window NAME [PID]: MEASURE s from now; writes "wall0 wall1 pid_ticks
# libvirtd_ticks qemu_ticks" (CPU ticks spent in the window) to WORK/NAME.win.
# Without PID it is an idle window: what libvirtd and QEMU spend on their own.
window() {
	local name=$1 pid=${2:-} w0 w1 p0=0 p1=0 l0 l1 q0 q1
	if [[ $pid ]]; then p0=$(cpu_ticks "$pid"); fi
	l0=$(libvirtd_ticks)
	q0=$(qemu_ticks)
	w0=$EPOCHREALTIME
	sleep "$MEASURE"
	w1=$EPOCHREALTIME
	if [[ $pid ]]; then p1=$(cpu_ticks "$pid"); fi
	l1=$(libvirtd_ticks)
	q1=$(qemu_ticks)
	echo "$w0 $w1 $((p1 - p0)) $((l1 - l0)) $((q1 - q0))" >"$WORK/$name.win"
}

# Starts the sink on ipc://WORK/NAME; its PID goes to SINK (not echoed: a
# $(...) subshell could not wait for it).
start_sink() { # NAME [EVENT_NAME_PREFIX]
	local out=$WORK/$1.json ready=$WORK/$1.ready
	/usr/bin/python3 "$HERE/sink.py" "ipc://$WORK/$1.sock" "$out" "${2:-}" >"$ready" &
	SINK=$!
	PIDS+=("$SINK")
	for ((i = 0; i < 100; i++)); do
		grep -q ready "$ready" 2>/dev/null && break
		sleep 0.1
	done
}

stop_pid() { # PID: SIGTERM and wait
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# measure NAME URI [INTERVAL]: runs the monitor against URI and writes
# "cpu_pct anon_kib hwm_kib bytes_last_frame domains_last_frame" to WORK/NAME.res
# (anon: the private part of the RSS, without the shared libraries' pages),
# the window to WORK/NAME.win and the bytes the sink got per second of the
# window to WORK/NAME.bps.
# It runs in this shell (not a subshell), so the trap can end what it starts.
measure() {
	local name=$1 uri=$2 interval=${3:-1} sink mon w0 w1 ticks
	start_sink "$name"
	sink=$SINK
	"$MON" -c /dev/null -q --uri "$uri" --publish "ipc://$WORK/$name.sock" --interval "$interval" \
		--host bench 2>"$WORK/$name.err" &
	mon=$!
	PIDS+=("$mon")
	sleep "$WARMUP"
	window "$name" "$mon"
	read -r w0 w1 ticks _ <"$WORK/$name.win"
	local rss hwm
	rss=$(anon_kib "$mon")
	hwm=$(hwm_kib "$mon")
	stop_pid "$mon"
	stop_pid "$sink"
	/usr/bin/python3 - "$WORK/$name.json" "$WORK/$name.bps" 0 "$ticks" "$HZ" "$MEASURE" "$rss" \
		"$hwm" "$w0" "$w1" >"$WORK/$name.res" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
t0, t1, hz, secs, rss, hwm, w0, w1 = map(float, sys.argv[3:])
print("%.2f %d %d %d %d" % ((t1 - t0) / hz / secs * 100, rss, hwm, s["last_size"],
                            s["last_domains"]))
with open(sys.argv[2], "w") as f:
    print("%.1f" % (sum(n for t, n in s["rx"] if w0 < t <= w1) / (w1 - w0)), file=f)
EOF
}

# measure_collectd NAME URI: the same window for collectd's virt plugin on
# URI with collectd's defaults (Interval 1 s as ours), sending with its
# network plugin to a second collectd that listens on 127.0.0.1. Writes
# WORK/NAME.win and the UDP payload bytes per second of the window (counted
# on lo by tcpdump) to WORK/NAME.bps.
measure_collectd() {
	local name=$1 uri=$2 port dir=$WORK/$1 srv dump cl w0 w1
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$dir/srv" "$dir/cli"
	# The receiver drops what it gets before its cache (the built-in "stop"
	# target): it has no writer to hand values to, and would otherwise log
	# one complaint per value on the CPUs being measured.
	cat >"$dir/srv.conf" <<EOF
BaseDir "$dir/srv"
PIDFile "$dir/srv.pid"
LoadPlugin network
<Plugin network>
  Listen "127.0.0.1" "$port"
</Plugin>
PreCacheChain "Drop"
<Chain "Drop">
  Target "stop"
</Chain>
EOF
	cat >"$dir/cli.conf" <<EOF
BaseDir "$dir/cli"
PIDFile "$dir/cli.pid"
Interval 1
LoadPlugin virt
<Plugin virt>
  Connection "$uri"
</Plugin>
LoadPlugin network
<Plugin network>
  Server "127.0.0.1" "$port"
</Plugin>
EOF
	collectd -f -C "$dir/srv.conf" >"$dir/srv.log" 2>&1 &
	srv=$!
	PIDS+=("$srv")
	tcpdump -i lo -n -q -l -tt udp port "$port" >"$dir/udp.txt" 2>"$dir/tcpdump.err" &
	dump=$!
	PIDS+=("$dump")
	for ((i = 0; i < 100; i++)); do
		grep -q listening "$dir/tcpdump.err" 2>/dev/null && break
		sleep 0.1
	done
	collectd -f -C "$dir/cli.conf" >"$dir/cli.log" 2>&1 &
	cl=$!
	PIDS+=("$cl")
	sleep "$WARMUP"
	window "$name" "$cl"
	stop_pid "$cl"
	stop_pid "$dump"
	stop_pid "$srv"
	read -r w0 w1 _ <"$WORK/$name.win"
	# tcpdump -tt: "EPOCH IP A.port > B.port: UDP, length N"
	awk -v a="$w0" -v b="$w1" '$1 > a && $1 <= b { n += $NF } END { printf "%.1f\n", n / (b - a) }' \
		"$dir/udp.txt" >"$WORK/$name.bps"
	if grep -q 'dropped by kernel' "$dir/tcpdump.err" && ! grep -q '^0 packets dropped by kernel' "$dir/tcpdump.err"; then
		echo "warning: tcpdump dropped packets in $name: $(grep 'dropped by kernel' "$dir/tcpdump.err")" >&2
	fi
}

# Baseline: RSS of a process that only opens URI (libvirt's own share).
baseline_rss() { # URI
	cat >"$WORK/hold.c" <<'EOF'
#include <libvirt/libvirt.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	virConnectPtr c = virConnectOpen(argv[1]);
	virDomainPtr *d;
	if (!c || virConnectListAllDomains(c, &d, 1) < 0)
		return 1;
	printf("up\n");
	fflush(stdout);
	pause();
	return 0;
}
EOF
	[[ -x $WORK/hold ]] || cc -O2 -o "$WORK/hold" "$WORK/hold.c" $(pkg-config --cflags --libs libvirt)
	rm -f "$WORK/hold.out"
	"$WORK/hold" "$1" >"$WORK/hold.out" &
	local p=$!
	for ((i = 0; i < 100; i++)); do
		grep -q up "$WORK/hold.out" 2>/dev/null && break
		sleep 0.1
	done
	rss_kib $p
	stop_pid $p
}

# gen NAME N [trim]: a node of N running Nova domains; "trim" keeps one disk
# and one NIC per domain, "bare" also drops the Nova metadata.
gen() {
	local out=$WORK/$1.xml
	/usr/bin/python3 "$ROOT/tests/fixtures/gen_node.py" --domains "$2" --no-hostile \
		--running-fraction 1 --seed 11 --out "$out"
	if [[ ${3:-} ]]; then
		/usr/bin/python3 - "$out" "$3" <<'EOF'
import sys, xml.etree.ElementTree as ET
path, mode = sys.argv[1:]
for p, u in [("test", "http://libvirt.org/schemas/domain/test/1.0"),
             ("nova", "http://openstack.org/xmlns/libvirt/nova/1.1")]:
    ET.register_namespace(p, u)
tree = ET.parse(path)
for dom in tree.getroot().iter("domain"):
    devs = dom.find("devices")
    for tag in ("disk", "interface"):
        for extra in devs.findall(tag)[1:]:
            devs.remove(extra)
    if mode == "bare":
        for m in dom.findall("metadata"):
            dom.remove(m)
tree.write(path)
EOF
	fi
	echo "$out"
}

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

node_of() { # N: the node of N domains of section 1 (made once)
	if [[ -f $WORK/node$1.xml ]]; then echo "$WORK/node$1.xml"; else gen "node$1" "$1"; fi
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

# compare_case TAG LABEL URI DOMAINS: ROUNDS runs of the monitor and of
# collectd, alternated, on URI; prints one row of the comparison table. Unless
# URI is in-process (test:///), each round starts with an idle window, and
# libvirtd's (on qemu:///system also QEMU's) extra CPU is over the mean of
# those: an idle window next to the runs it is subtracted from, so a burst of
# another libvirtd client on a shared machine does not skew a case it is far from.
compare_case() {
	local tag=$1 label=$2 uri=$3 n=$4 r mons=() cols=() idles=()
	for ((r = 1; r <= ROUNDS; r++)); do
		if [[ $uri != test:///* ]]; then
			window "cmpidle$tag$r"
			idles+=("cmpidle$tag$r")
		fi
		measure "cmpmon$tag$r" "$uri"
		mons+=("cmpmon$tag$r")
		measure_collectd "cmpcd$tag$r" "$uri"
		cols+=("cmpcd$tag$r")
	done
	/usr/bin/python3 - "$WORK" "$HZ" "$label" "$n" "$uri" "${mons[@]}" -- "${cols[@]}" -- \
		"${idles[@]}" <<'EOF'
import sys
work, hz, label, n, uri = sys.argv[1:6]
hz, n = float(hz), int(n)
groups = [[]]  # the monitor's runs -- collectd's runs -- idle windows
for a in sys.argv[6:]:
    if a == "--":
        groups.append([])
    else:
        groups[-1].append(a)
mons, cols, idles = groups
qemu = uri.startswith("qemu:")


def win(name):
    """% of one core of (client, libvirtd, QEMU) over NAME's window."""
    w0, w1, *ticks = open(f"{work}/{name}.win").read().split()
    secs = float(w1) - float(w0)
    return [float(t) / hz / secs * 100 for t in ticks]


def mean(names, bps=True):
    rows = [win(x) + ([float(open(f"{work}/{x}.bps").read())] if bps else []) for x in names]
    return [sum(col) / len(rows) for col in zip(*rows)]


def ratio(a, b):
    return "%.2f" % (a / b) if b > 0 else "—"


m_cpu, m_lv, m_q, m_bps = mean(mons)
c_cpu, c_lv, c_q, c_bps = mean(cols)
if not idles:
    m_lvx = c_lvx = m_qx = c_qx = 0.0
    lv_cell = "—"
else:
    _, i_lv, i_q = mean(idles, bps=False)
    m_lvx, c_lvx = m_lv - i_lv, c_lv - i_lv
    m_qx, c_qx = (m_q - i_q, c_q - i_q) if qemu else (0.0, 0.0)
    lv_cell = "%.2f vs %.2f %%" % (m_lvx, c_lvx)
    if qemu:
        lv_cell += "; QEMU extra %.2f vs %.2f %%" % (m_qx, c_qx)
m_tot, c_tot = m_cpu + m_lvx + m_qx, c_cpu + c_lvx + c_qx
print("| %s | %.2f vs %.2f %% (%s) | %s | %s (%.2f vs %.2f %%) | %.0f vs %.0f B (%s) |" % (
    label, m_cpu, c_cpu, ratio(m_cpu, c_cpu), lv_cell, ratio(m_tot, c_tot), m_tot, c_tot,
    m_bps / n, c_bps / n, ratio(m_bps, c_bps)), flush=True)
EOF
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
		node=$(node_of "$n")
		compare_case "in$n" "in-process test:///, $n domains" "test://$node" "$n"
		compare_case "un$n" "via libvirtd test+unix://, $n domains" "test+unix://$node" "$n"
	done
	if ((QEMU)); then
		start_guests
		compare_case qemu "10 QEMU domains qemu:///system" "qemu:///system" 10
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
