#!/bin/bash
# A hostile publisher on the fan-out stackmon-carbon subscribes to sends garbage bodies, messages of three and of one frame, a topic that disagrees with its body and a body over max_frame between valid stats frames: each bad one is counted under its reason (its health points decode_errors.<reason>), logged once, and the valid frames' points still reach the carbon destination.
# shellcheck source=tests/carbon/e2e_lib.sh
. "$(dirname "$0")/../carbon/e2e_lib.sh"
pick_port
SINK=$PORT

cat >"$TMP/hostile.py" <<'PYEOF'
import sys, time, uuid
import msgpack, zmq

ep = sys.argv[1]
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.bind(ep)
time.sleep(1.5)  # stackmon-carbon's SUB connects and subscribes


def stats(seq, host="cn-bad"):
    dom = [uuid.UUID("0badf00d-0000-4000-8000-000000000001").bytes, "victim", 1, 0, None, 1,
           5000000000, 12.5, None, [None, None, None], 0, 1024, 0, None, [], []]
    return msgpack.packb({"v": 1, "kind": "stats", "host": host, "time": 1700000000.5 + seq,
                          "seq": seq, "epoch": 42, "interval": 1.0,
                          "node": {"ncpus": 1, "cpu_pct": 7.25, "load": [None, None, None],
                                   "mem_total_kib": 1, "mem_used_kib": 1, "mem_pct": None,
                                   "libvirt_ok": True},
                          "domains": [dom]}, use_bin_type=True)


pub.send_multipart([b"stats/cn-bad/", stats(1)])
for _ in range(3):
    pub.send_multipart([b"stats/cn-bad/", b"\xc1\xc1 garbage"])
pub.send_multipart([b"stats/cn-bad/", stats(2), b"third"])
pub.send(b"stats/cn-bad/")  # one frame only
pub.send_multipart([b"stats/someone-else/", stats(2)])
pub.send_multipart([b"stats/cn-bad/", b"\x90" * 5000])  # over max_frame 4096
pub.send_multipart([b"stats/cn-bad/", stats(2)])
time.sleep(float(sys.argv[2]))
PYEOF
start_sink sink "$SINK"
CARBON_SUBSCRIBE=$FAN_OUT
$PY "$TMP/hostile.py" "$FAN_OUT" 30 >>"$TMP/hostile.log" 2>&1 &
STARTED="$STARTED $!"
sleep 0.3
start_carbon carbon --carbon "127.0.0.1:$SINK" --max-frame 4096 --max-msg-size 8192 --health-interval 1

SELF="stackmon.stackmon-carbon.$(hostname | tr -c 'A-Za-z0-9_\n-' _)"
err() { $CARBON_CHECK value "$TMP/sink.lines" "$SELF.decode_errors.$1"; }
arrived() { [ "$($CARBON_CHECK value "$TMP/sink.lines" "$SELF.frames")" = 2 ] && [ "$(err too_big)" = 1 ]; }
wait_for 20 arrived || fail "the valid frames or the counters did not arrive: $(grep -c . "$TMP/sink.lines") lines"
[ "$(err garbage)" = 3 ] || fail "garbage: $(err garbage)"
[ "$(err parts)" = 2 ] || fail "parts: $(err parts)"
[ "$(err topic)" = 1 ] || fail "topic: $(err topic)"
# Both valid frames' points, exact, at their seconds.
grep -qx "stackmon.hosts.cn-bad.cpu_pct 7.25 1700000001" "$TMP/sink.lines" || fail "frame 1's host point"
grep -qx "stackmon.hosts.cn-bad.cpu_pct 7.25 1700000002" "$TMP/sink.lines" || fail "frame 2's host point"
grep -qx "stackmon.domains.0b.0badf00d-0000-4000-8000-000000000001.cpu_pct 12.5 1700000002" "$TMP/sink.lines" ||
	fail "frame 2's domain point"
# Unknown values are not sent.
! grep -q "stackmon.hosts.cn-bad.mem_pct " "$TMP/sink.lines" || fail "an unknown value was sent"
[ "$(grep -c 'dropped a bad message from cn-bad' "$TMP/carbon.log")" = 1 ] ||
	fail "bad messages were not logged exactly once: $(grep -c dropped "$TMP/carbon.log")"
kill -0 "$CARBON_PID" || fail "stackmon-carbon died"
kill "$CARBON_PID"
wait "$CARBON_PID" || fail "exit status $? after SIGTERM"
grep -q "refused 3 messages: garbage" "$TMP/carbon.log" || fail "no garbage count in the summary"
echo "OK: malformed frames counted by reason and logged once; the valid ones' points still sent"
