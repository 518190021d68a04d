#!/usr/bin/env bash
# Measuring functions shared by bench/monitor/run.sh and bench/evaluation/run.sh
# (sourced, not run): CPU ticks and memory of a process, libvirtd's and QEMU's
# CPU over a window, the monitor into a counting sink, collectd's virt plugin
# sending to a second collectd, test-driver nodes, and the monitor-vs-collectd
# comparison row. The caller sets ROOT, WORK (a private temp dir), MEASURE and
# WARMUP (seconds), MON (stackmon-monitor), ROUNDS (runs per comparison case)
# and PIDS=() (what its EXIT trap ends); MON_ARGS, extra options of the
# monitor in measure, is empty unless the caller sets it.
# shellcheck disable=SC2034 # HZ and LIBVIRTD are for the caller too

HZ=$(getconf CLK_TCK)
MON_ARGS=()
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

# await_word WORD FILE: up to 10 s until FILE holds WORD (a process started
# in the background says it is ready); returns regardless, as callers did.
await_word() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
}

# Starts the sink on ipc://WORK/NAME; its PID goes to SINK (not echoed: a
# $(...) subshell could not wait for it).
start_sink() { # NAME [EVENT_NAME_PREFIX]
	local out=$WORK/$1.json ready=$WORK/$1.ready
	/usr/bin/python3 "$ROOT/bench/monitor/sink.py" "ipc://$WORK/$1.sock" "$out" "${2:-}" >"$ready" &
	SINK=$!
	PIDS+=("$SINK")
	await_word ready "$ready"
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
		--host bench "${MON_ARGS[@]}" 2>"$WORK/$name.err" &
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
	collectd_start "$1" "$2"
	window "$1" "$CD_CLIENT"
	collectd_stop "$1"
}

# collectd_start NAME URI [csv]: the sending collectd (its PID in CD_CLIENT),
# the receiving one and tcpdump on lo, then WARMUP s; "csv" has the receiver
# write what it gets under WORK/NAME/srv/csv instead of dropping it.
collectd_start() {
	local name=$1 uri=$2 csv=${3:-} port dir=$WORK/$1
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$dir/srv" "$dir/cli"
	# Without csv the receiver drops what it gets before its cache (the
	# built-in "stop" target): it has no writer to hand values to, and would
	# otherwise log one complaint per value on the CPUs being measured.
	local sink='PreCacheChain "Drop"
<Chain "Drop">
  Target "stop"
</Chain>'
	if [[ $csv ]]; then
		sink="LoadPlugin csv
<Plugin csv>
  DataDir \"$dir/srv/csv\"
</Plugin>"
	fi
	cat >"$dir/srv.conf" <<EOF
BaseDir "$dir/srv"
PIDFile "$dir/srv.pid"
LoadPlugin network
<Plugin network>
  Listen "127.0.0.1" "$port"
</Plugin>
$sink
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
	CD_SERVER=$!
	PIDS+=("$CD_SERVER")
	tcpdump -i lo -n -q -l -tt udp port "$port" >"$dir/udp.txt" 2>"$dir/tcpdump.err" &
	CD_DUMP=$!
	PIDS+=("$CD_DUMP")
	await_word listening "$dir/tcpdump.err"
	collectd -f -C "$dir/cli.conf" >"$dir/cli.log" 2>&1 &
	CD_CLIENT=$!
	PIDS+=("$CD_CLIENT")
	sleep "$WARMUP"
}

# collectd_stop NAME: ends what collectd_start started; the UDP payload bytes
# per second over WORK/NAME.win's window go to WORK/NAME.bps.
collectd_stop() {
	local name=$1 dir=$WORK/$1 w0 w1
	stop_pid "$CD_CLIENT"
	stop_pid "$CD_DUMP"
	stop_pid "$CD_SERVER"
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
	# shellcheck disable=SC2046 # pkg-config's flags are separate words
	[[ -x $WORK/hold ]] || cc -O2 -o "$WORK/hold" "$WORK/hold.c" $(pkg-config --cflags --libs libvirt)
	rm -f "$WORK/hold.out"
	"$WORK/hold" "$1" >"$WORK/hold.out" &
	local p=$!
	await_word up "$WORK/hold.out"
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

node_of() { # N: the node of N domains of section 1 (made once)
	if [[ -f $WORK/node$1.xml ]]; then echo "$WORK/node$1.xml"; else gen "node$1" "$1"; fi
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

