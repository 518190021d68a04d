#!/bin/bash
# Proves: a subscriber that never reads loses frames at its own high-water mark while another subscriber on the same fan-out still gets every frame, in order, with no seq gap.
. "$(dirname "$0")/../collector/e2e_lib.sh"

# Small queues, so the stalled subscriber overflows within a second. No
# start-up grace: held back, the publisher's first second would arrive as
# one burst larger than these queues, which is not what is tested here.
start_collector master --hwm 50 --startup-grace 0

$PY - "$(in_ep master)" "$(out_ep master)" "$TESTPUB" "$TMP" <<'PY'
import subprocess, sys, time
from smtest import Sub, fail

fanin, fanout, testpub, tmp = sys.argv[1:5]
COUNT = 1000
slow = Sub(fanout, prefixes=("stats/",), rcvhwm=10)  # never read until the end
fast = Sub(fanout, prefixes=("stats/", "hb/"), rcvhwm=100000)  # a slow Python must not lose
fast.wait(lambda t, b: t == "hb/master/", 20, "the collector's heartbeat")
time.sleep(0.5)  # let the slow subscription reach the collector too
start = time.monotonic()
pub = subprocess.Popen([testpub, "--host", "cn-01", "--connect", fanin + "=" + fanout,
                        "--rate", "200", "--domains", "100", "--count", str(COUNT)],
                       stdout=subprocess.DEVNULL, stderr=open(tmp + "/cn-01.log", "w"))
try:
    fast.wait(lambda t, b: t == "stats/cn-01/" and b["seq"] == COUNT, 90,
              "the last frame at the fast subscriber")
finally:
    pub.kill()
    pub.wait()
took = time.monotonic() - start
key = ("cn-01", "stats")
if fast.gaps.get(key, 0) or fast.dups.get(key, 0):
    fail("fast subscriber: %d lost, %d out of order" % (fast.gaps.get(key, 0),
                                                       fast.dups.get(key, 0)))
# Now drain what the stalled one kept: its queues cannot hold them all, so
# frames must be missing (dropped for it alone at the collector's HWM).
slow.pump(2.0)
kept = slow.count.get(key, 0)
if kept >= COUNT:
    fail("the slow subscriber lost nothing: the test proves nothing")
print("ok: fast got %d frames in %.1f s with no gap; slow kept %d of %d" %
      (fast.count[key], took, kept, COUNT))
PY
