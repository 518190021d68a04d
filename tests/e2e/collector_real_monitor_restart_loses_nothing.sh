#!/bin/bash
# Proves: a collector restart loses no frame. Two real monitors (one at 20 Hz, one at 1 Hz, on a test:// node) publish through a collector to the real stackmon-sub and the real aggregator, all with their default reconnect settings. The collector is stopped for 1.5 s, for 30 s and 15 times for 0.1 s, and started again each time; a stopping collector tells the monitors (SM_STOP_NOTICE), so they hold rather than write into its closing connection; the monitors hold their frames meanwhile, the new collector holds its fan-in for its start-up grace until the subscribers are back, and then every stats frame of both monitors reaches stackmon-sub (sequence numbers without a gap) and the aggregator (no gap counted).
MONITOR=$3
. "$(dirname "$0")/../collector/e2e_lib.sh"
SUB=${STACKMON_BINARY_DIR:?}/src/sub/stackmon-sub
AGG=$STACKMON_BINARY_DIR/src/aggregator/stackmon-aggregator
FIXTURES=$(cd "$(dirname "$0")/../fixtures" && pwd)
SHORT_DOWN=1.5
LONG_DOWN=${LONG_DOWN:-30}
# Then this many quick restarts (down 0.1 s, the grace ended by the three
# subscriptions): each stop is a chance to lose what a monitor was sending.
QUICK_RESTARTS=${QUICK_RESTARTS:-15}
# For a before/after comparison by hand, e.g. COLLECTOR_OPTS="--startup-grace 0"
# SUB_OPTS="--reconnect-ivl-max-ms 5000" (the former defaults).
COLLECTOR_OPTS=${COLLECTOR_OPTS:-}
SUB_OPTS=${SUB_OPTS:-}

$PY "$FIXTURES/gen_node.py" --domains 2 --no-hostile --out "$TMP/node.xml"
fanin=$(in_ep master)
fanout=$(out_ep master)

# The collector as shipped but for quick heartbeats (the monitors' fail-over
# watch); start-up grace and the subscribers' reconnect ceiling are defaults.
# shellcheck disable=SC2086 # the options are words
col_start() { # [extra options]
	"$COLLECTOR" -c /dev/null --name master --fan-in "$fanin" --fan-out "$fanout" \
		--heartbeat-interval 0.2 $COLLECTOR_OPTS "$@" >>"$TMP/master.log" 2>&1 &
	col=$!
	STARTED="$STARTED $col"
}
col_stop() {
	kill -TERM "$col"
	wait "$col" 2>/dev/null || true
}
col_start

"$SUB" -c /dev/null --connect "$fanout" --kind stats $SUB_OPTS >"$TMP/sub.jsonl" 2>"$TMP/sub.log" &
sub=$!
STARTED="$STARTED $sub"
mkdir -p "$TMP/data"
"$AGG" -c /dev/null --subscribe "$fanout" --data-dir "$TMP/data" $SUB_OPTS >>"$TMP/aggregator.log" 2>&1 &
agg=$!
STARTED="$STARTED $agg"
sleep 3 # both subscribed before the first frame

for m in "cn-fast 0.05" "cn-slow 1"; do
	# shellcheck disable=SC2086 # two words
	set -- $m
	"$MONITOR" -c /dev/null --uri "test://$TMP/node.xml" --host "$1" --interval "$2" \
		--publish "$fanin=$fanout" >>"$TMP/monitor-$1.log" 2>&1 &
	STARTED="$STARTED $!"
	eval "mon_$(echo "$1" | tr - _)=$!"
done

# frames HOST: stats frames of HOST stackmon-sub printed so far.
frames() { grep -c "\"host\":\"$1\"" "$TMP/sub.jsonl" || true; }
wait_frames() { # HOST N SECONDS
	local end=$((SECONDS + $3))
	until (($(frames "$1") >= $2)); do
		((SECONDS < end)) || { echo "FAIL: $1: $(frames "$1") frames at stackmon-sub, want $2" >&2; exit 1; }
		sleep 0.2
	done
}
wait_frames cn-slow 3 30
wait_frames cn-fast 30 30

outage() { # SECONDS
	local before
	before=$(frames cn-slow)
	col_stop
	sleep "$1"
	col_start
	# Flowing again: cn-slow's next frames arrive.
	wait_frames cn-slow $((before + 1 + ${1%.*} + 3)) $((${1%.*} + 30))
	echo "collector down $1 s: flowing again ($(frames cn-fast) cn-fast, $(frames cn-slow) cn-slow frames)"
}
outage "$SHORT_DOWN"
outage "$LONG_DOWN"
# opened N SECONDS: until the collector has logged N fan-in openings.
opened() {
	local end=$((SECONDS + $2))
	until (($(grep -c "fan-in open after" "$TMP/master.log") >= $1)); do
		((SECONDS < end)) || { echo "FAIL: the collector's fan-in did not open (start $1)" >&2; exit 1; }
		sleep 0.05
	done
}
for ((i = 0; i < QUICK_RESTARTS; i++)); do
	col_stop
	sleep 0.1
	col_start --grace-subscribers 3
	# Open, then relaying for a moment before the next stop.
	opened $((3 + i + 1)) 30
	sleep 0.2
done
before=$(frames cn-fast)
wait_frames cn-fast $((before + 10)) 30
echo "$QUICK_RESTARTS quick restarts: flowing again ($(frames cn-fast) cn-fast, $(frames cn-slow) cn-slow frames)"

# Stop the monitors, then give the last frames time to arrive.
kill -TERM "$mon_cn_fast" "$mon_cn_slow"
wait "$mon_cn_fast" "$mon_cn_slow" 2>/dev/null || true
sleep 2
kill -TERM "$sub" "$agg"
wait "$sub" "$agg" 2>/dev/null || true

$PY - "$TMP/sub.jsonl" "$LONG_DOWN" <<'PY'
import json, sys
from collections import defaultdict
path, long_down = sys.argv[1], float(sys.argv[2])
seqs = defaultdict(list)
for line in open(path):
    m = json.loads(line)
    seqs[(m["host"], m["epoch"])].append(m["seq"])
bad = 0
for host, rate in (("cn-fast", 20), ("cn-slow", 1)):
    runs = [(k, v) for k, v in seqs.items() if k[0] == host]
    if len(runs) != 1:
        print("FAIL: %s: %d epochs at stackmon-sub, want 1" % (host, len(runs)))
        bad += 1
        continue
    got = runs[0][1]
    want = set(range(min(got), max(got) + 1))
    missing = sorted(want - set(got))
    dups = len(got) - len(set(got))
    # The run spans both outages: at least the long one's worth of frames.
    if len(got) < rate * long_down:
        print("FAIL: %s: only %d frames, the run spans %g s of outage" % (host, len(got), long_down))
        bad += 1
    if missing:
        print("FAIL: %s: %d of %d frames lost at stackmon-sub (seq %s..%s)"
              % (host, len(missing), len(want), missing[0], missing[-1]))
        bad += 1
    else:
        print("ok: %s at %g Hz: seq %d..%d, all %d frames at stackmon-sub, %d duplicates"
              % (host, rate, min(got), max(got), len(want), dups))
sys.exit(1 if bad else 0)
PY

# The aggregator counts gaps by monitor and sequence number: none, and it
# received at least every stats frame stackmon-sub did (its per-minute
# counts include the monitors' events too).
if grep -E "gap from host" "$TMP/aggregator.log"; then
	echo "FAIL: the aggregator saw frames missing (above)" >&2
	exit 1
fi
$PY - "$TMP/data/index.sqlite" "$(frames cn-fast)" "$(frames cn-slow)" <<'PY'
import sqlite3, sys
db, want = sys.argv[1], {"cn-fast": int(sys.argv[2]), "cn-slow": int(sys.argv[3])}
rows = dict((h, (r, l)) for h, r, l in sqlite3.connect(db).execute(
    "SELECT host, SUM(received), SUM(lost) FROM host_loss_minutes GROUP BY host"))
bad = 0
for host, n in want.items():
    received, lost = rows.get(host, (0, 0))
    if received < n or lost:
        print("FAIL: the aggregator's index: %s received %d, lost %d (stackmon-sub got %d)"
              % (host, received, lost, n))
        bad = 1
    else:
        print("ok: aggregator: %s received %d frames, lost 0" % (host, received))
sys.exit(bad)
PY
# The collector said what it did at each start.
n=$(grep -c "fan-in open after" "$TMP/master.log" || true)
want=$((3 + QUICK_RESTARTS))
[ "$n" -eq "$want" ] || { echo "FAIL: 'fan-in open after' logged $n times, want $want (one per start)" >&2; exit 1; }
grep "fan-in open after" "$TMP/master.log" | tail -1
echo "ok: $((2 + QUICK_RESTARTS)) collector restarts (${SHORT_DOWN} s, ${LONG_DOWN} s and $QUICK_RESTARTS x 0.1 s down) lost no frame"
