#!/bin/bash
# Proves: what someone capturing the TCP streams sees. The real monitor (a test:// node whose domains belong to a distinctively named tenant) publishes to a collector on tcp://127.0.0.1, a subscriber reads the fan-out, and tcpdump records both ports on lo: with curve off the tenant's name is in the capture, with curve on it is not, although the subscriber decoded it in both runs and the capture holds the traffic of both.
# Exits 77 (skipped) when tcpdump cannot capture on lo (not root, no CAP_NET_RAW).
MONITOR=$3
. "$(dirname "$0")/../collector/e2e_lib.sh"
KEYGEN=${STACKMON_BINARY_DIR:?}/src/keygen/stackmon-keygen
FIXTURES=$(cd "$(dirname "$0")/../fixtures" && pwd)
TENANT=Quillfeather-Tenant-8e31c7
FRAMES=6   # stats frames with the tenant the subscriber must decode in each run

command -v tcpdump >/dev/null ||
	{ echo "FAIL: tcpdump is missing (scripts/packages.list installs it)" >&2; exit 1; }

# A node of 3 domains with Nova metadata, every one in project $TENANT.
$PY "$FIXTURES/gen_node.py" --domains 3 --no-hostile --out "$TMP/node.xml"
$PY - "$TMP/node.xml" "$TENANT" <<'PY'
import re, sys
path, tenant = sys.argv[1:3]
xml = open(path).read()
xml, n = re.subn(r"(<nova:project [^>]*>)[^<]*(</nova:project>)", r"\g<1>%s\g<2>" % tenant, xml)
if n == 0:
    sys.exit("FAIL: no <nova:project> in the generated node")
open(path, "w").write(xml)
PY

K=$TMP/keys
mkdir -p "$K/allow"
"$KEYGEN" --dir "$K" --name master >/dev/null
"$KEYGEN" --dir "$K" --name cn-wire --host cn-wire >/dev/null
"$KEYGEN" --dir "$K" --name reader >/dev/null
cp "$K/cn-wire.key" "$K/reader.key" "$K/allow/"

free_ports() {
	$PY -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))'
}

# run MODE (off|on): one collector, the subscriber, the monitor, tcpdump on
# both ports; leaves $TMP/MODE.pcap and $TMP/MODE.sub (what the subscriber saw).
run() {
	mode=$1
	read -r port_in port_out < <(free_ports)
	fanin=tcp://127.0.0.1:$port_in
	fanout=tcp://127.0.0.1:$port_out
	tcpdump -i lo -n -U -s 0 -w "$TMP/$mode.pcap" "tcp port $port_in or tcp port $port_out" \
		2>"$TMP/tcpdump-$mode.log" &
	dump=$!
	STARTED="$STARTED $dump"
	end=$(($(date +%s) + 20))
	until grep -q "listening on" "$TMP/tcpdump-$mode.log"; do
		if ! kill -0 "$dump" 2>/dev/null; then
			if grep -qi "permission\|not permitted" "$TMP/tcpdump-$mode.log"; then
				echo "SKIP: tcpdump cannot capture on lo: $(cat "$TMP/tcpdump-$mode.log")"
				exit 77
			fi
			echo "FAIL: tcpdump stopped: $(cat "$TMP/tcpdump-$mode.log")" >&2
			exit 1
		fi
		[ "$(date +%s)" -le "$end" ] || { echo "FAIL: tcpdump not listening" >&2; exit 1; }
		sleep 0.1
	done

	if [ "$mode" = on ]; then
		col_curve="--curve yes --curve-secret-key $K/master.key_secret --curve-allow-dir $K/allow"
		mon_curve="--curve yes --curve-secret-key $K/cn-wire.key_secret"
		publish="$fanin=$fanout@$K/master.key"
	else
		col_curve="" mon_curve="" publish="$fanin=$fanout"
	fi
	# shellcheck disable=SC2086 # the curve options are words
	# No start-up grace: the capture is sized for a steady flow from the
	# monitor's first frame, not for frames held back and sent in a burst.
	"$COLLECTOR" --name wire-$mode --fan-in "$fanin" --fan-out "$fanout" \
		--heartbeat-interval 0.2 --stats-interval 0.5 --startup-grace 0 $col_curve \
		>>"$TMP/collector-$mode.log" 2>&1 &
	col=$!
	STARTED="$STARTED $col"

	rm -f "$TMP/sub-ready"
	$PY - "$fanout" "$mode" "$K" "$TENANT" "$FRAMES" "$TMP" >"$TMP/$mode.sub" <<'PY' &
import sys
from smtest import Sub, fail
fanout, mode, K, tenant, frames, tmp = sys.argv[1:7]
curve = (K + "/reader.key_secret", K + "/master.key") if mode == "on" else None
sub = Sub(fanout, prefixes=("stats/cn-wire/",), curve=curve)
open(tmp + "/sub-ready", "w").close()
# Frames with the project: those holding the domains' full records (brief
# records leave the identity out; the monitor sends full ones each second).
seen = named = 0
while named < int(frames):
    _, body = sub.wait(lambda t, b: True, 40, "stats of cn-wire (curve %s)" % mode)
    seen += 1
    projects = {d[4][2] for d in body["domains"] if d[4] is not None}
    if projects and projects != {tenant}:
        fail("the domains' projects are %r, not {%r}" % (projects, tenant))
    named += bool(projects)
    if seen > 10 * int(frames):
        fail("%d frames, %d of them with the domains' project" % (seen, named))
print(named)
PY
	sub=$!
	STARTED="$STARTED $sub"
	wait_file "$TMP/sub-ready" 20
	sleep 0.5

	# shellcheck disable=SC2086
	"$MONITOR" -c /dev/null --uri "test://$TMP/node.xml" --host cn-wire --interval 0.2 \
		--full-interval 1 --failover 2 --publish "$publish" $mon_curve >>"$TMP/monitor-$mode.log" 2>&1 &
	mon=$!
	STARTED="$STARTED $mon"

	wait "$sub" || { echo "FAIL: the subscriber (curve $mode) did not get the frames" >&2; exit 1; }
	kill "$mon" "$col" 2>/dev/null || true
	wait "$mon" "$col" 2>/dev/null || true
	sleep 0.3 # the FIN packets
	kill -INT "$dump"
	wait "$dump" || true
}

# pcap_facts FILE: "PACKETS PAYLOAD_BYTES TENANT_HITS" of a classic pcap file.
pcap_facts() {
	$PY - "$1" "$TENANT" <<'PY'
import struct, sys
path, tenant = sys.argv[1], sys.argv[2].encode()
data = open(path, "rb").read()
magic = data[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    end = "<"
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    end = ">"
else:
    sys.exit("FAIL: %s is not a pcap file" % path)
packets = size = 0
off = 24
while off + 16 <= len(data):
    incl = struct.unpack(end + "IIII", data[off:off + 16])[2]
    packets += 1
    size += incl
    off += 16 + incl
print(packets, size, data.count(tenant))
PY
}

run off
run on
read -r off_packets off_bytes off_hits < <(pcap_facts "$TMP/off.pcap")
read -r on_packets on_bytes on_hits < <(pcap_facts "$TMP/on.pcap")
echo "curve off: $off_packets packets, $off_bytes bytes, tenant seen $off_hits times," \
	"subscriber decoded $(cat "$TMP/off.sub") frames"
echo "curve on:  $on_packets packets, $on_bytes bytes, tenant seen $on_hits times," \
	"subscriber decoded $(cat "$TMP/on.sub") frames"

# The capture must hold the traffic: each stats frame of 3 domains is well
# over 500 bytes and crosses the wire twice (fan-in, fan-out).
floor=$((FRAMES * 2 * 500))
check_capture() { # MODE PACKETS BYTES
	if [ "$2" -lt 20 ] || [ "$3" -lt "$floor" ]; then
		echo "FAIL: the capture with curve $1 holds $2 packets, $3 bytes (want >= 20, >= $floor)" >&2
		exit 1
	fi
}
check_capture off "$off_packets" "$off_bytes"
check_capture on "$on_packets" "$on_bytes"
[ "$off_hits" -ge "$FRAMES" ] ||
	{ echo "FAIL: with curve off the tenant name is not in the capture: it proves nothing" >&2; exit 1; }
[ "$on_hits" = 0 ] ||
	{ echo "FAIL: with curve on the tenant name '$TENANT' is in clear on the wire ($on_hits times)" >&2; exit 1; }
echo "ok: the tenant name crosses loopback in clear only with curve off"
