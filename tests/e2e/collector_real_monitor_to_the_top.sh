#!/bin/bash
# Proves: the real stackmon-monitor's stats and lifecycle events cross an intermediate and the master unchanged, and the monitor fails over to its second intermediate when the first dies.
MONITOR=$3
. "$(dirname "$0")/../collector/e2e_lib.sh"
FIXTURE=$(cd "$(dirname "$0")/../fixtures" && pwd)/node-small.xml

start_collector master
start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"
start_collector rack2 --upstream "$(in_ep master)=$(out_ep master)"

$PY - "$(out_ep master)" "$TMP" <<'PY' &
import sys, time
from smtest import Sub, fail, loss_row

top = Sub(sys.argv[1])
open(sys.argv[2] + "/sub-ready", "w").close()
_, ev = top.wait(lambda t, b: t == "event/cn-real/", 30, "the monitor's lifecycle events")
if ev["event"] != "started" or len(ev["uuid"]) != 16:
    fail("unexpected event %r" % ev)
_, st = top.wait(lambda t, b: t == "stats/cn-real/" and len(b["domains"]) > 0, 30,
                 "the monitor's stats with domains")
top.wait_counters("rack1", lambda b: (loss_row(b, "cn-real") or [0, 0, 0])[2] > 0, 30,
                  "rack1 relaying cn-real")
open(sys.argv[2] + "/phase1", "w").close()
# The script kills rack1: stats must keep coming, now through rack2.
top.wait_counters("rack2", lambda b: (loss_row(b, "cn-real") or [0, 0, 0])[2] > 0, 30,
                  "rack2 relaying cn-real after rack1 died")
n = top.count[("cn-real", "stats")]
top.wait(lambda t, b: t == "stats/cn-real/" and top.count[("cn-real", "stats")] > n + 2, 30,
         "stats after the fail-over")
if top.dups.get(("cn-real", "stats")):
    fail("duplicate stats frames at the top")
print("ok: %d stats frames (%d domains each) and %d events at the top via rack1 then rack2" %
      (top.count[("cn-real", "stats")], len(st["domains"]), top.count[("cn-real", "event")]))
PY
SUB=$!
STARTED="$STARTED $SUB"
wait_file "$TMP/sub-ready" 20
sleep 1 # collectors up, subscriber connected: now the monitor's first events can get through

"$MONITOR" -c /dev/null --uri "test://$FIXTURE" --host cn-real --interval 0.5 --failover 1 \
	--publish "$(in_ep rack1)=$(out_ep rack1)" --publish "$(in_ep rack2)=$(out_ep rack2)" \
	>>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"

end=$(($(date +%s) + 40))
until [ -e "$TMP/phase1" ]; do
	[ "$(date +%s)" -le "$end" ] || { echo "FAIL: no flow through rack1" >&2; exit 1; }
	kill -0 "$SUB" 2>/dev/null || break
	sleep 0.2
done
stop_collector rack1 KILL
wait "$SUB"
grep -q "switched from .*rack1.in to .*rack2.in" "$TMP/monitor.log" ||
	{ echo "FAIL: the monitor did not log its fail-over" >&2; exit 1; }
