#!/bin/bash
# A hostile publisher on a fan-out the exporter subscribes to sends garbage bodies, a message of three frames, one of one frame, a topic that disagrees with its body and a body over max_frame, then a valid stats frame with a gap in seq: each bad one is counted under its reason in stackmon_exporter_decode_errors_total, logged once, the gap in frames_lost_total, and the exporter still serves the valid frame's domain.
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "$0")/../exporter/e2e_lib.sh"

# The test plays the collector: a PUB bound on the fan-out, from Python.
cat >"$TMP/hostile.py" <<'PYEOF'
import sys, time, uuid
import msgpack, zmq

ep = sys.argv[1]
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.bind(ep)
time.sleep(1.5)  # the exporter's SUB connects and subscribes


def stats(seq, host="cn-bad"):
    dom = [uuid.UUID("0badf00d-0000-4000-8000-000000000001").bytes, "victim", 1, 0, None, 1,
           5000000000, None, None, [None, None, None], 0, 1024, 0, None, [], []]
    return msgpack.packb({"v": 1, "kind": "stats", "host": host, "time": time.time(),
                          "seq": seq, "epoch": 42, "interval": 1.0,
                          "node": {"ncpus": 1, "cpu_pct": None, "load": [None, None, None],
                                   "mem_total_kib": 1, "mem_used_kib": 1, "mem_pct": None,
                                   "libvirt_ok": True},
                          "domains": [dom]}, use_bin_type=True)


for _ in range(3):
    pub.send_multipart([b"stats/cn-bad/", b"\xc1\xc1 garbage"])
pub.send_multipart([b"stats/cn-bad/", stats(1), b"third"])
pub.send(b"stats/cn-bad/")  # one frame only
pub.send_multipart([b"stats/someone-else/", stats(1)])
pub.send_multipart([b"stats/cn-bad/", b"\x90" * 5000])  # over max_frame 4096
pub.send_multipart([b"stats/cn-bad/", stats(1)])
pub.send_multipart([b"stats/cn-bad/", stats(5)])  # 2, 3, 4 lost
time.sleep(float(sys.argv[2]))
PYEOF
$PY "$TMP/hostile.py" "$FAN_OUT" 30 >>"$TMP/hostile.log" 2>&1 &
HOSTILE=$!
STARTED="$STARTED $HOSTILE"
sleep 0.3
start_exporter exporter --max-frame 4096 --max-msg-size 8192 --stale-after 60

arrived() { scrape >"$TMP/m.txt" && [ "$(metric "$TMP/m.txt" stackmon_exporter_frames_total kind=stats)" = 2 ]; }
wait_for 20 arrived || fail "the valid frames did not arrive: $(grep frames_total "$TMP/m.txt")"
err() { metric "$TMP/m.txt" stackmon_exporter_decode_errors_total reason="$1"; }
[ "$(err garbage)" = 3 ] || fail "garbage: $(err garbage)"
[ "$(err parts)" = 2 ] || fail "parts: $(err parts)"
[ "$(err topic)" = 1 ] || fail "topic: $(err topic)"
[ "$(err too_big)" = 1 ] || fail "too_big: $(err too_big)"
[ "$(metric "$TMP/m.txt" stackmon_exporter_frames_lost_total)" = 3 ] || fail "lost: $(grep lost_total "$TMP/m.txt")"
[ "$(metric "$TMP/m.txt" stackmon_domain_cpu_seconds_total domain=victim host=cn-bad)" = 5 ] ||
	fail "the valid frame's domain is not served"
promtool check metrics <"$TMP/m.txt" >"$TMP/promtool.out" 2>&1 || fail "promtool: $(cat "$TMP/promtool.out")"
# Logged once with who sent it, then held back (rate-limited).
[ "$(grep -c 'dropped a bad message from cn-bad' "$TMP/exporter.log")" = 1 ] ||
	fail "bad messages were not logged exactly once: $(grep -c dropped "$TMP/exporter.log")"
kill -0 "$EXP_PID" || fail "the exporter died"
kill "$EXP_PID"
wait "$EXP_PID" || fail "exit status $? after SIGTERM"
echo "OK: malformed messages are counted by reason and logged once; the exporter goes on serving"
