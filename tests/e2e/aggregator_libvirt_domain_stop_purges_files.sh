#!/bin/bash
# Through real libvirtd (test+unix:///default): a domain started on the shared test driver gets files and index rows; destroying it makes the monitor send "stopped", the aggregator marks it at once and purges its files and rows after the grace period (2 s). Exits 77 without libvirtd unless STACKMON_REQUIRE_LIBVIRTD=1.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
if [ -z "$COLLECTOR" ] || [ -z "$MONITOR" ]; then fail "needs the collector and monitor binaries as \$3 \$4"; fi
SRC=$(cd "$(dirname "$0")/../.." && pwd)
URI=test+unix:///default
if ! timeout 15 virsh -q -c "$URI" list >/dev/null 2>&1; then
	[ "${STACKMON_REQUIRE_LIBVIRTD:-0}" = 1 ] && fail "libvirtd does not answer on $URI (scripts/libvirtd.sh start)"
	echo "SKIP: libvirtd does not answer on $URI"
	exit 77
fi
NAME="smtest-agg-$$-$RANDOM"
ON_EXIT="$SRC/tests/lib/test_domains.sh destroy $NAME"
UUID=$("$SRC/tests/lib/test_domains.sh" define-start "$NAME" --nova aggproj "agg project" u1:alice "agg vm" m1.tiny)
DIR="domains/${UUID:0:2}/$UUID"

"$COLLECTOR" -c /dev/null --name c1 --fan-in "ipc://$TMP/in" --fan-out "$PUB_EP" \
	--heartbeat-interval 0.2 >>"$TMP/collector.log" 2>&1 &
STARTED="$STARTED $!"
start_agg --grace 2
"$MONITOR" -c /dev/null --uri "$URI" --publish "ipc://$TMP/in" --host cn-lv \
	--interval 1 >>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"

written() { [ "$($CHECK count "$DATA/$DIR/cpu_pct.wsp" 2>/dev/null)" -ge 2 ]; }
wait_for 60 written || fail "no files for $NAME ($UUID)"
[ "$(sql "SELECT display_name || '|' || project_id FROM domains WHERE uuid = '$UUID'")" = "agg vm|aggproj" ] ||
	fail "identity: $(sql "SELECT * FROM domains WHERE uuid = '$UUID'")"

"$SRC/tests/lib/test_domains.sh" destroy "$NAME"
stopped() { [ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$UUID' AND stopped_at IS NOT NULL")" = 1 ] ||
	[ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$UUID'")" = 0 ]; }
wait_for 30 stopped || fail "$NAME not marked stopped after destroy"
purged() { [ ! -e "$DATA/$DIR" ] && [ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$UUID'")" = 0 ] &&
	[ "$(sql "SELECT count(*) FROM metrics WHERE uuid = '$UUID'")" = 0 ]; }
wait_for 30 purged || fail "$NAME not purged after the grace period"
grep -q "domain $UUID ($NAME) stopped on cn-lv" "$TMP/agg.log" || fail "the stop event was not logged"
grep -q "domain $UUID purged" "$TMP/agg.log" || fail "the purge was not logged"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS"
$CHECK registered "$DATA"
echo "OK: a destroyed libvirt domain is stopped and purged"
