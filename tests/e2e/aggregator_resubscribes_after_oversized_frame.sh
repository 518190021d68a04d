#!/bin/bash
# Proves: an inconsistent max_frame/max_msg_size pair is refused at start; a consumer warns when a collector's heartbeat announces a larger max_frame than its own; and a frame a collector may relay (max_frame 16 MiB) but the aggregator may not receive (8 MiB) no longer ends its subscription for good: the drop is logged with the endpoint and max_msg_size, the subscription is made again and host_latest keeps moving.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
[ -n "$COLLECTOR" ] || fail "needs the collector binary as \$3"
IN_EP="ipc://$TMP/in"

# ---- 1. start-time checks: exit 2 and one line naming both keys and values.
refused() { # refused WHO EXPECTED-TEXT COMMAND...
	local who=$1 want=$2 st=0
	shift 2
	"$@" >"$TMP/check.out" 2>&1 || st=$?
	[ "$st" -eq 2 ] || fail "$who: exit $st, not 2, for an inconsistent configuration: $(cat "$TMP/check.out")"
	grep -qF -- "$want" "$TMP/check.out" || fail "$who: no '$want' in: $(cat "$TMP/check.out")"
}
refused collector "max_msg_size = 16777216 is smaller than max_frame = 16777216" \
	"$COLLECTOR" -c /dev/null -n --max-frame 16777216 --max-msg-size 16777216
refused aggregator "max_msg_size = 8392704 is smaller than max_frame = 16777216" \
	"$AGG" -c /dev/null -n --data-dir "$DATA" --max-frame 16777216
refused aggregator "max_msg_size = 0 is smaller than max_frame = 8388608" \
	"$AGG" -c /dev/null -n --data-dir "$DATA" --max-msg-size 0
"$COLLECTOR" -c /dev/null -n --max-frame 16777216 --max-msg-size 16781312 >/dev/null ||
	fail "collector refused a consistent pair"
"$AGG" -c /dev/null -n --data-dir "$DATA" >/dev/null || fail "aggregator refused its defaults"

# ---- 2. the finding: a 16 MiB collector in front of an 8 MiB aggregator.
"$COLLECTOR" -c /dev/null --name c1 --fan-in "$IN_EP" --fan-out "$PUB_EP" \
	--heartbeat-interval 0.2 --max-frame 16777216 --max-msg-size 16781312 \
	>>"$TMP/collector.log" 2>&1 &
STARTED="$STARTED $!"
start_agg
"$TESTPUB" --connect "$IN_EP" --host cn1 --rate 5 >>"$TMP/pub.log" 2>&1 &
STARTED="$STARTED $!"

latest() { sql "SELECT time FROM host_latest WHERE host = 'cn1'" 2>/dev/null; }
has_latest() { [ -n "$(latest)" ]; }
wait_for 30 has_latest || fail "no host_latest for cn1 after 30 s"
# The collector's heartbeat says its max_frame: the mismatch is named before any loss.
warned() { grep -qF "collector c1 relays bodies up to max_frame = 16777216 bytes, more than this side's max_frame = 8388608" "$TMP/agg.log"; }
wait_for 10 warned || fail "the aggregator did not warn about the collector's larger max_frame"

# One valid 9 MiB stats body into the collector's fan-in: within its
# max_frame, so relayed; over the aggregator's max_msg_size.
SENT=$($PY - "$IN_EP" <<'PY'
import sys, time
import msgpack, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUB)
s.connect(sys.argv[1])
time.sleep(0.5)  # the collector's subscription must arrive first
body = msgpack.packb({"v": 1, "kind": "stats", "host": "big", "time": time.time(),
                      "seq": 1, "epoch": 7, "pad": b"x" * (9 << 20)})
print("%.3f" % time.time())
s.send_multipart([b"stats/big/", body])
time.sleep(0.5)
s.close(linger=2000)
ctx.term()
PY
)

# The collector relayed it (the drop must be the aggregator's, not the collector's).
relayed() { ! grep -q "dropped oversized" "$TMP/collector.log"; }
relayed || fail "the collector dropped the 9 MiB frame instead of relaying it"
lost_line() { grep -F "subscription to $PUB_EP lost" "$TMP/agg.log" | grep -qF "max_msg_size = 8392704"; }
wait_for 10 lost_line || fail "no log line naming the lost subscription and max_msg_size"
back() { grep -qF "subscription to $PUB_EP is working again" "$TMP/agg.log"; }
wait_for 10 back || fail "the subscription was not made again within 10 s"
BACK=$(date +%s.%N)

# Frames flow again: host_latest moves past the drop.
moved() { awk -v t="$(latest)" -v s="$SENT" 'BEGIN { exit !(t > s + 1) }'; }
wait_for 10 moved || fail "host_latest stuck at $(latest), the big frame went at $SENT"
# ---- 3. an intermediate collector at 16 MiB warns about an upstream at 8 MiB.
"$COLLECTOR" -c /dev/null --name small --fan-in "ipc://$TMP/small.in" --fan-out "ipc://$TMP/small.out" \
	--heartbeat-interval 0.2 >>"$TMP/small.log" 2>&1 &
STARTED="$STARTED $!"
"$COLLECTOR" -c /dev/null --name rack --fan-in "ipc://$TMP/rack.in" --fan-out "ipc://$TMP/rack.out" \
	--max-frame 16777216 --max-msg-size -1 --upstream "ipc://$TMP/small.in=ipc://$TMP/small.out" \
	>>"$TMP/rack.log" 2>&1 &
STARTED="$STARTED $!"
up_warned() { grep -qF "upstream ipc://$TMP/small.in relays bodies up to max_frame = 8388608 bytes, less than this side's max_frame = 16777216" "$TMP/rack.log"; }
wait_for 10 up_warned || fail "the intermediate collector did not warn about its smaller upstream"

echo "ok: subscription back $(awk -v a="$SENT" -v b="$BACK" 'BEGIN { printf "%.1f", b - a }') s after the frame (polled every 0.2 s); host_latest $(latest)"
grep -F "subscription to $PUB_EP" "$TMP/agg.log"
grep -F "max_frame = 16777216" "$TMP/agg.log" "$TMP/rack.log"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS after SIGTERM"
# Under -DSTACKMON_ASAN=ON a report lands in a log: that fails the test.
if grep -l Sanitizer "$TMP"/*.log; then fail "sanitizer report in the logs above"; fi
