#!/bin/bash
# Proves: a monitor, and an intermediate collector, whose collector is gone say so once after `failover` seconds (with the messages held and dropped so far) and once when one answers again, not once per frame.
MONITOR=$3
. "$(dirname "$0")/../collector/e2e_lib.sh"
FIXTURE=$(cd "$(dirname "$0")/../fixtures" && pwd)/node-small.xml
SILENT="no collector answered"
BACK="answers again"

# count FILE PATTERN: how many lines of FILE match PATTERN.
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

# expect FILE PATTERN N [WORDS]: exactly N matching lines, the last one
# containing WORDS.
expect() {
	n=$(count "$1" "$2")
	if [ "$n" != "$3" ]; then
		echo "FAIL: $n lines matching '$2' in $(basename "$1"), want $3" >&2
		exit 1
	fi
	if [ -n "${4:-}" ] && ! grep -- "$2" "$1" | tail -n 1 | grep -q -- "$4"; then
		echo "FAIL: '$2' line of $(basename "$1") does not say '$4'" >&2
		exit 1
	fi
}

# The monitor starts with no collector at all: frames are held, and after
# failover (1 s) it says so, once, however long the outage lasts.
"$MONITOR" -c /dev/null --uri "test://$FIXTURE" --host cn-out --interval 0.2 --failover 1 \
	--publish "$(in_ep rack1)=$(out_ep rack1)" >>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"
wait_line "$TMP/monitor.log" "$SILENT" 15
sleep 3
expect "$TMP/monitor.log" "$SILENT" 1 "message(s) held so far (.* waiting), .* dropped"
expect "$TMP/monitor.log" "$BACK" 0

# An intermediate comes up, itself with no master: the monitor says its
# collector is back, once; the intermediate says its own upstream is silent.
start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"
wait_line "$TMP/monitor.log" "$BACK" 15
wait_line "$TMP/rack1.log" "$SILENT" 15
sleep 3
expect "$TMP/monitor.log" "$BACK" 1 "held meanwhile"
expect "$TMP/monitor.log" "$SILENT" 1
expect "$TMP/rack1.log" "$SILENT" 1 "held so far"
expect "$TMP/rack1.log" "$BACK" 0

# The master comes up: the intermediate says so once.
start_collector master
wait_line "$TMP/rack1.log" "$BACK" 15
sleep 2
expect "$TMP/rack1.log" "$BACK" 1 "held meanwhile"
expect "$TMP/rack1.log" "$SILENT" 1
expect "$TMP/monitor.log" "$SILENT" 1
expect "$TMP/monitor.log" "$BACK" 1
echo "ok: $(grep -h -- "$SILENT\|$BACK" "$TMP/monitor.log" "$TMP/rack1.log" | wc -l) outage lines, as expected"
