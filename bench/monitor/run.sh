#!/usr/bin/env bash
# Benchmark of stackmon-monitor (issue 3, docs/MONITOR.md "Benchmark"):
#  1. CPU seconds per second and peak RSS at 10, 100 and 1,000 domains on
#     libvirt's test driver, in-process (test:///node.xml: the domains live
#     in the monitor's own address space, so libvirt's share is shown apart)
#     and through libvirtd (test+unix:///node.xml: the domains live there);
#  2. bytes per domain per frame, with one disk and one NIC, with and without
#     Nova identity;
#  3. the same figures at 10 real QEMU domains (qemu:///system);
#  4. RSS across 10,000 domain start/stop cycles on test+unix:///default.
# Prints figures; asserts nothing.
#
# Usage: bench/monitor/run.sh [--quick] [--no-qemu] [--build DIR]
#   --quick   20 s per measurement instead of 60, 1,000 churn cycles
# Needs root, libvirtd (scripts/libvirtd.sh start), /usr/bin/python3 with
# python3-zmq and python3-msgpack, and a build (default build-monitor).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build-monitor
QUICK=0
QEMU=1
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--no-qemu) QEMU=0 ;;
	--build)
		BUILD=$(cd "${2:?--build DIR}" && pwd)
		shift
		;;
	*)
		echo "usage: $0 [--quick] [--no-qemu] [--build DIR]" >&2
		exit 2
		;;
	esac
	shift
done
MEASURE=60
CYCLES=10000
if ((QUICK)); then
	MEASURE=20
	CYCLES=1000
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
		for ((i = 0; i < 10; i++)); do
			"$ROOT/tests/lib/qemu_domain.sh" destroy "smtest-bench-$i" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
HZ=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; } # private: heap, stacks
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

calc() { awk "BEGIN { printf \"%.1f\", $1 }"; } # EXPR: one decimal

# Starts the sink on ipc://WORK/NAME; its PID goes to SINK (not echoed: a
# $(...) subshell could not wait for it).
start_sink() { # NAME [EVENT_NAME_PREFIX]
	local out=$WORK/$1.json ready=$WORK/$1.ready
	/usr/bin/python3 "$HERE/sink.py" "ipc://$WORK/$1.sock" "$out" "${2:-}" >"$ready" &
	SINK=$!
	PIDS+=($SINK)
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
# (anon: the private part of the RSS, without the shared libraries' pages).
# It runs in this shell (not a subshell), so the trap can end what it starts.
measure() {
	local name=$1 uri=$2 interval=${3:-1} sink mon t0 t1
	start_sink "$name"
	sink=$SINK
	"$MON" -c /dev/null -q --uri "$uri" --publish "ipc://$WORK/$name.sock" --interval "$interval" \
		--host bench 2>"$WORK/$name.err" &
	mon=$!
	PIDS+=($mon)
	sleep "$WARMUP"
	t0=$(cpu_ticks "$mon")
	sleep "$MEASURE"
	t1=$(cpu_ticks "$mon")
	local rss hwm
	rss=$(anon_kib "$mon")
	hwm=$(hwm_kib "$mon")
	stop_pid "$mon"
	stop_pid "$sink"
	/usr/bin/python3 - "$WORK/$name.json" "$t0" "$t1" "$HZ" "$MEASURE" "$rss" "$hwm" \
		>"$WORK/$name.res" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
t0, t1, hz, secs, rss, hwm = map(float, sys.argv[2:])
print("%.2f %d %d %d %d" % ((t1 - t0) / hz / secs * 100, rss, hwm, s["last_size"],
                            s["last_domains"]))
EOF
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

echo "# stackmon-monitor benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
echo "# command: bench/monitor/run.sh $([[ $QUICK == 1 ]] && echo --quick) ($MEASURE s per figure)"
echo
echo "## test driver: CPU and memory (interval 1 s, Nova metadata, 1-3 disks, 1-2 NICs)"
printf '%-28s %8s %8s %10s %10s %12s %10s\n' "case" "domains" "cpu %" "peak RSS" "anon MiB" \
	"libvirt RSS" "frame KiB"
base0=$(baseline_rss "test+unix:///default")
for n in 10 100 1000; do
	node=$(gen "node$n" "$n")
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

echo
echo "## bytes per domain per frame (one disk, one NIC; test driver's large counters)"
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

if ((QEMU)); then
	echo
	echo "## 10 real QEMU domains (TCG, 96 MiB, idle guests; bulk statistics)"
	# One at a time: ten TCG guests booting at once on two CPUs can starve
	# each other past the kernel's watchdogs.
	for ((i = 0; i < 10; i++)); do
		"$ROOT/tests/lib/qemu_domain.sh" create "smtest-bench-$i" --load 0 >/dev/null
		"$ROOT/tests/lib/qemu_domain.sh" wait-boot "smtest-bench-$i" 300 || true
	done
	measure qemu10 "qemu:///system"
	read -r cpu rss hwm size doms <"$WORK/qemu10.res"
	printf '%-28s %8d %8s %10s %10s %12s %10s\n' \
		"qemu:///system" "$doms" "$cpu" "$(calc "$hwm / 1024")" "$(calc "$rss / 1024")" \
		"$(calc "$base0 / 1024")" "$(calc "$size / 1024")"
	echo "bytes per domain per frame (one disk, one NIC, no identity, real counters):" \
		"$(calc "($size - $HEADER) / $doms")"
	for ((i = 0; i < 10; i++)); do
		"$ROOT/tests/lib/qemu_domain.sh" destroy "smtest-bench-$i" >/dev/null 2>&1 || true
	done
fi

echo
echo "## churn: $CYCLES start/stop cycles on test+unix:///default (20 live at a time, interval 0.2 s)"
cc -O2 -o "$WORK/churn" "$HERE/churn.c" $(pkg-config --cflags --libs libvirt)
start_sink churn smtest-churn-
sink=$SINK
"$MON" -c /dev/null -q --uri test+unix:///default --publish "ipc://$WORK/churn.sock" --interval 0.2 \
	--host bench 2>"$WORK/churn.err" &
mon=$!
PIDS+=($mon)
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
