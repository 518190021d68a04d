#!/bin/bash
# Proves: garbage, truncated, oversized, wrong-version and mismatched frames sent to the fan-in are dropped and counted by reason in the collector's own counters, while valid traffic flows on without a gap.
. "$(dirname "$0")/../collector/e2e_lib.sh"

start_collector master --max-frame 65536
start_testpub cn-01 --connect "$(in_ep master)=$(out_ep master)" --rate 50 --domains 10

$PY - "$(in_ep master)" "$(out_ep master)" <<'PY'
import sys, time
import zmq
from smtest import CTX, Sub, fail, frame, event

top = Sub(sys.argv[2])
top.wait(lambda t, b: t == "stats/cn-01/", 20, "valid traffic")
bad = CTX.socket(zmq.PUB)
bad.setsockopt(zmq.LINGER, 1000)
bad.connect(sys.argv[1])
# Handshake: our first valid frame seen on the fan-out proves we are connected.
seq = 0
def ping():
    global seq
    seq += 1
    bad.send_multipart([b"event/rogue/", event("rogue", seq)])
end = time.monotonic() + 20
while not top.count.get(("rogue", "event")):
    if time.monotonic() > end:
        fail("rogue publisher never got through")
    ping()
    top.pump(0.2)

valid = event("rogue", 1000)
N = 5
for i in range(N):
    bad.send_multipart([b"event/rogue/"])                                  # 1 frame
    bad.send_multipart([b"event/rogue/", valid, b"extra"])                 # 3 frames
    bad.send_multipart([b"event/rogue/", b"\xc1 not msgpack at all"])     # garbage
    bad.send_multipart([b"event/rogue/", valid[: len(valid) // 2]])        # truncated
    bad.send_multipart([b"stats/rogue/", valid])                           # topic mismatch
    bad.send_multipart([b"no-such-kind/rogue/", valid])                    # bad topic
    bad.send_multipart([b"event/rogue/", b"\x90" * 100000])                # oversized
    bad.send_multipart([b"event/rogue/", frame("event", "rogue", 3000 + i, v=3)])  # version 3
want = {"malformed": 6 * N, "too_big": N, "version": N}
c = top.wait_counters("master", lambda b: all(b["dropped"][k] >= v for k, v in want.items()),
                      30, "drops counted by reason")
for k, v in want.items():
    if c["dropped"][k] != v:
        fail("dropped[%s] = %d, expected %d" % (k, c["dropped"][k], v))
# Valid traffic went on, complete, and nothing bad reached the fan-out
# (Sub.recv fails on any frame that does not decode or match its topic).
top.pump(2)
if top.gaps.get(("cn-01", "stats"), 0):
    fail("valid traffic lost %d frames" % top.gaps[("cn-01", "stats")])
if top.count.get(("rogue", "stats")):
    fail("a mismatched frame was relayed")
print("ok: dropped %r, %d valid frames relayed meanwhile" %
      (c["dropped"], top.count[("cn-01", "stats")]))
PY
grep -q "dropped malformed message from fan-in .*master.in, topic 'event/rogue/'" "$TMP/master.log" ||
	{ echo "FAIL: the drop was not logged with its context" >&2; exit 1; }
