#!/bin/bash
# Proves: a subscriber that joins the top of a collector hierarchy long after the real monitor started, while the monitor sends brief records (full ones only every 30 s), sees every domain, named and with its tenant, within a few frames: its subscription makes the master's heartbeats say "resync", the rack collector passes that down in its own, and the monitor sends its next frame all in full. A second subscriber a second later waits at most the monitor's 5 s between two such frames. The Python example subscriber's decoder and brief-record expansion (docs/examples/subscriber.py) read it all.
MONITOR=$3
. "$(dirname "$0")/../collector/e2e_lib.sh"
FIXTURE=$(cd "$(dirname "$0")/../fixtures" && pwd)/node-small.xml
EXAMPLE=$(cd "$(dirname "$0")/../../docs/examples" && pwd)/subscriber.py

start_collector master
start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"

# An early reader: the domains there are, and that the monitor does send brief records.
$PY - "$(out_ep master)" "$TMP" "$EXAMPLE" <<'PY' >"$TMP/early.out" &
import importlib.util, sys, time
from smtest import Sub, fail
spec = importlib.util.spec_from_file_location("subscriber", sys.argv[3])
ex = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ex)
sub = Sub(sys.argv[1], prefixes=("stats/cn-late/",))
open(sys.argv[2] + "/early-ready", "w").close()
brief = frames = 0
end = time.monotonic() + 30
doms = 0
while time.monotonic() < end and (brief < 5 or not doms):
    m = sub.recv(0.5)
    if m is None:
        continue
    frames += 1
    recs = m[1]["domains"]
    doms = max(doms, len(recs))
    brief += sum(1 for d in recs if d[3] & ex.BRIEF)
if brief < 5:
    fail("the monitor sent %d brief records in %d frames" % (brief, frames))
print(doms)
PY
EARLY=$!
STARTED="$STARTED $EARLY"
wait_file "$TMP/early-ready" 20
sleep 1

"$MONITOR" -c /dev/null --uri "test://$FIXTURE" --host cn-late --interval 0.5 --failover 2 \
	--publish "$(in_ep rack1)=$(out_ep rack1)" >>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"
wait "$EARLY" || { echo "FAIL: the early reader saw no brief records" >&2; exit 1; }
want=$(cat "$TMP/early.out")
[ "$want" -gt 0 ] || { echo "FAIL: no domains" >&2; exit 1; }
sleep 6 # every domain's first records are long gone; its next full one is ~25 s away

# late NAME: a subscriber joining now; prints the seconds until a frame held
# every domain, named and expanded.
late() {
	$PY - "$(out_ep master)" "$EXAMPLE" "$want" "$1" <<'PY'
import importlib.util, sys, time
import zmq
spec = importlib.util.spec_from_file_location("subscriber", sys.argv[2])
ex = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ex)
want, name = int(sys.argv[3]), sys.argv[4]
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, b"stats/cn-late/")
s.connect(sys.argv[1])
t0 = time.monotonic()
expander = ex.BriefExpander()
frames = 0
while time.monotonic() - t0 < 20:
    if not s.poll(500):
        continue
    topic, body = s.recv_multipart()
    msg = ex.decode(topic, body)
    expander.frame(msg)
    frames += 1
    doms = msg["domains"]
    if len(doms) == want:
        assert all(isinstance(d["name"], str) and d["name"] for d in doms), doms
        assert all(d["cpu_time_ns"] > 0 for d in doms), doms
        print("%.2f %d" % (time.monotonic() - t0, frames))
        sys.exit(0)
print("%s: never saw all %d domains in %d frames" % (name, want, frames), file=sys.stderr)
sys.exit(1)
PY
}
late first >"$TMP/first.out" &
FIRST=$!
sleep 1
late second >"$TMP/second.out" &
SECOND=$!
wait "$FIRST" || { echo "FAIL: the first late subscriber" >&2; exit 1; }
wait "$SECOND" || { echo "FAIL: the second late subscriber" >&2; exit 1; }
read -r t1 f1 <"$TMP/first.out"
read -r t2 f2 <"$TMP/second.out"
echo "first late subscriber: every domain after ${t1} s (${f1} frames); second: ${t2} s (${f2} frames)"
# Heartbeat 0.2 s per hop, a frame every 0.5 s: a few frames; the second
# waits out the 5 s between two frames all in full.
awk -v t="$t1" 'BEGIN { exit !(t <= 3) }' ||
	{ echo "FAIL: the first waited ${t1} s (brief records only every 30 s: resync not working)" >&2; exit 1; }
awk -v t="$t2" 'BEGIN { exit !(t <= 7) }' ||
	{ echo "FAIL: the second waited ${t2} s" >&2; exit 1; }
echo "ok: late subscribers at the top see all $want domains in full within ${t1} and ${t2} s"
