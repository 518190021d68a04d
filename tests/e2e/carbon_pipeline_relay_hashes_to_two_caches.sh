#!/bin/bash
# A real monitor (libvirt test driver, tests/fixtures/node-small.xml) -> a real collector -> stackmon-carbon -> Debian's carbon-c-relay hashing (carbon_ch) over two carbon-cache instances: both caches get a share of the metrics, each metric lands in exactly one, and the Whisper files hold, at each frame's second, the value stackmon-sub printed of the same frame (cpu, memory, a disk and a NIC metric of every domain, the host's), under the aggregator's names with the host's dots as '_'.
# shellcheck source=tests/carbon/e2e_lib.sh
. "$(dirname "$0")/../carbon/e2e_lib.sh"
[ -n "$SUB" ] || fail "needs the carbon, collector, monitor and stackmon-sub binaries as \$1..\$4"
command -v carbon-c-relay >/dev/null && command -v carbon-cache >/dev/null || {
	echo "SKIP: carbon-c-relay or carbon-cache (graphite-carbon) not installed"
	exit 77
}
NODE="test://$SRC/tests/fixtures/node-small.xml"

start_cache cache-a
PA=$CACHE_PORT
start_cache cache-b
PB=$CACHE_PORT
pick_port
RELAY=$PORT
start_relay "$RELAY" carbon_ch "127.0.0.1:$PA=a" "127.0.0.1:$PB=b"
start_collector
start_carbon carbon --carbon "127.0.0.1:$RELAY" --prefix sm.e2e --health-interval 1
"$SUB" -c /dev/null --connect "$FAN_OUT" --kind stats >"$TMP/sub.jsonl" 2>>"$TMP/sub.log" &
SUB_PID=$!
STARTED="$STARTED $SUB_PID"
sleep 1
start_monitor "$NODE" cn-carbon.example.org
sleep 6
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null || true
sleep 1.5
kill "$SUB_PID"
wait "$SUB_PID" 2>/dev/null || true

# Whisper files are written as the caches' writers get to them: retried a while.
ok=""
for _ in $(seq 1 30); do
	if $CARBON_CHECK compare "$TMP/sub.jsonl" sm.e2e "$TMP/cache-a/whisper" "$TMP/cache-b/whisper" \
		>"$TMP/compare.out" 2>&1; then
		ok=1
		break
	fi
	sleep 0.5
done
[ -n "$ok" ] || fail "Whisper files differ from the frames: $(cat "$TMP/compare.out")"
cat "$TMP/compare.out"
# The host's dots are '_'; no level of ours has an empty name.
[ -d "$TMP/cache-a/whisper/sm/e2e/hosts/cn-carbon_example_org" ] ||
	[ -d "$TMP/cache-b/whisper/sm/e2e/hosts/cn-carbon_example_org" ] || fail "no host directory cn-carbon_example_org"
# Its own counters came through the same way.
ls "$TMP"/cache-?/whisper/sm/e2e/stackmon-carbon/*/frames.wsp >/dev/null 2>&1 ||
	fail "no health metric stackmon-carbon.<host>.frames in either cache"
kill -0 "$CARBON_PID" || fail "stackmon-carbon died"
kill "$CARBON_PID"
wait "$CARBON_PID" || fail "exit status $? after SIGTERM"
grep -q "destination 127.0.0.1:$RELAY: [0-9]* points sent, 0 dropped" "$TMP/carbon.log" ||
	fail "no shutdown summary with 0 dropped: $(grep destination "$TMP/carbon.log")"
echo "OK: carbon-c-relay spread the points over two caches, and the Whisper files hold the frames' values"
