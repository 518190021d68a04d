#!/bin/bash
# Proves: lifecycle events are never the first thing dropped. The real monitor starts on a node of 250 running domains (a burst of 250 "started" events plus stats) with --hwm 50 on the monitor, the collector and both subscribers (the real stackmon-sub and a slower Python one): every event reaches both subscribers, with no gap in the events' sequence numbers, and no stats frame is lost either, since a momentarily full queue makes messages wait instead of dropping them.
MONITOR=$3
. "$(dirname "$0")/../collector/e2e_lib.sh"
SUB=${STACKMON_BINARY_DIR:?}/src/sub/stackmon-sub
FIXTURES=$(cd "$(dirname "$0")/../fixtures" && pwd)
DOMAINS=250
HWM=50

$PY "$FIXTURES/gen_node.py" --domains "$DOMAINS" --no-hostile --out "$TMP/node.xml"
# Every domain running: the monitor's first pass reports 250 "started".
sed -i 's|<test:runstate>[0-9]</test:runstate>|<test:runstate>1</test:runstate>|' "$TMP/node.xml"
active=$(grep -c "<domain " "$TMP/node.xml" || true)
[ "$active" -eq "$DOMAINS" ] || { echo "FAIL: the node has $active domains, want $DOMAINS" >&2; exit 1; }

start_collector master --hwm "$HWM"
"$SUB" -c /dev/null --connect "$(out_ep master)" --kind stats,event --hwm "$HWM" \
	>"$TMP/sub.jsonl" 2>"$TMP/sub.log" &
sub=$!
STARTED="$STARTED $sub"

# A second subscriber, in Python, slower to read than stackmon-sub.
# It ends once it has the burst and 6 stats frames (or after 40 s).
$PY - "$(out_ep master)" "$HWM" "$TMP/py.json" "$DOMAINS" <<'PY' &
import json, sys, time
from smtest import Sub
fanout, hwm, out, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sub = Sub(fanout, prefixes=("stats/", "event/"), rcvhwm=hwm)
open(out + ".ready", "w").close()
events, stats = [], []
end = time.monotonic() + 40
while time.monotonic() < end and (len(events) < want or len(stats) < 6):
    got = sub.recv(0.2)
    if not got:
        continue
    t, b = got
    (events if t.startswith("event/") else stats).append(b["seq"])
json.dump({"events": events, "stats": stats}, open(out, "w"))
PY
py=$!
STARTED="$STARTED $py"
wait_file "$TMP/py.json.ready" 20
sleep 3 # both subscriptions at the collector before the burst (and its grace is over)

"$MONITOR" -c /dev/null --uri "test://$TMP/node.xml" --host cn-burst --interval 1 --hwm "$HWM" \
	--publish "$(in_ep master)=$(out_ep master)" >>"$TMP/monitor.log" 2>&1 &
mon=$!
STARTED="$STARTED $mon"
wait "$py" || { echo "FAIL: the Python subscriber failed" >&2; exit 1; }
sleep 1
kill -TERM "$mon"
wait "$mon" 2>/dev/null || true
sleep 0.5
kill -TERM "$sub"
wait "$sub" 2>/dev/null || true

$PY - "$TMP/sub.jsonl" "$TMP/py.json" "$active" <<'PY'
import json, sys
jsonl, pyjson, active = sys.argv[1], sys.argv[2], int(sys.argv[3])
bad = 0
def check(who, events, stats):
    global bad
    started = len(events)
    if started < active:
        print("FAIL: %s got %d events, want at least the %d 'started' of the burst" % (who, started, active))
        bad += 1
    lost = {}
    for kind, seqs in (("event", events), ("stats", stats)):
        if not seqs:
            print("FAIL: %s got no %s" % (who, kind)); bad += 1; continue
        lost[kind] = len(set(range(1, max(seqs) + 1)) - set(seqs))
        if lost[kind]:
            print("FAIL: %s lost %d of %d %s messages" % (who, lost[kind], max(seqs), kind))
            bad += 1
    print("%s: %d events (seq %d..%d), %d stats frames; lost %s"
          % (who, len(events), min(events or [0]), max(events or [0]), len(stats), lost))
ev, st = [], []
for line in open(jsonl):
    m = json.loads(line)
    (ev if m["kind"] == "event" else st).append(m["seq"])
check("stackmon-sub", ev, st)
d = json.load(open(pyjson))
check("python subscriber", d["events"], d["stats"])
sys.exit(1 if bad else 0)
PY
echo "ok: a burst of $active events with hwm $HWM everywhere lost no event and no stats frame"
