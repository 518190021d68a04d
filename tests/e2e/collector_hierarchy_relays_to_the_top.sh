#!/bin/bash
# Proves: publisher -> intermediate -> master -> subscriber carries stats and control events unchanged with no seq gaps, the intermediate's counters reach the top, its heartbeats do not.
. "$(dirname "$0")/../collector/e2e_lib.sh"

start_collector master
start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"
start_testpub cn-01 --connect "$(in_ep rack1)=$(out_ep rack1)" --rate 20 --event-every 5

$PY - "$(out_ep master)" <<'PY'
import sys, time
from smtest import Sub, fail, loss_row

top = Sub(sys.argv[1])
top.wait(lambda t, b: t == "stats/cn-01/", 20, "stats from cn-01 at the top")
top.wait(lambda t, b: t == "event/cn-01/" and b["event"] in ("started", "stopped"), 20,
         "a control event from cn-01 at the top")
# The intermediate's counters arrive at the top and show it relayed cn-01.
c = top.wait_counters("rack1", lambda b: (loss_row(b, "cn-01") or [0, 0, 0])[2] >= 10, 20,
                      "rack1's counters with cn-01 in its loss table")
if not c["upstream"].endswith("master.in"):
    fail("rack1 reports upstream %r" % c["upstream"])
if c["frames_up"] < 10:
    fail("rack1 forwarded only %d frames" % c["frames_up"])
top.pump(3)
for key in (("cn-01", "stats"), ("cn-01", "event")):
    if top.count.get(key, 0) < 2:
        fail("only %d %s frames" % (top.count.get(key, 0), key))
    if top.gaps.get(key, 0) or top.dups.get(key, 0):
        fail("%s: %d lost, %d duplicated" % (key, top.gaps.get(key, 0), top.dups.get(key, 0)))
# Heartbeats stay on their collector's fan-out: the master's own only.
if top.count.get(("rack1", "hb")):
    fail("rack1's heartbeats leaked upstream")
if not top.count.get(("master", "hb")):
    fail("no heartbeat from the master on its fan-out")
m = top.collector.get("master")
if not m or m["upstream"] != "" or sum(m["dropped"].values()) != 0:
    fail("master counters wrong: %r" % (m,))
if (loss_row(m, "rack1", "collector") or [0, 0, 0])[2] < 1:
    fail("master does not list rack1's counters in its loss table")
print("ok: %d stats, %d events at the top, no gaps" %
      (top.count[("cn-01", "stats")], top.count[("cn-01", "event")]))
PY
