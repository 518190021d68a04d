#!/bin/bash
# A real monitor (libvirt test driver, tests/fixtures/node-small.xml) -> a real collector -> the aggregator for ~8 s: the index holds the host, the tenants and the domains with their identity, every file is registered and exists, and python3-whisper reads plausible values.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
if [ -z "$COLLECTOR" ] || [ -z "$MONITOR" ]; then fail "needs the collector and monitor binaries as \$3 \$4"; fi
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NODE="test://$SRC/tests/fixtures/node-small.xml"

"$COLLECTOR" -c /dev/null --name c1 --fan-in "ipc://$TMP/in" --fan-out "$PUB_EP" \
	--heartbeat-interval 0.2 >>"$TMP/collector.log" 2>&1 &
STARTED="$STARTED $!"
start_agg
"$MONITOR" -c /dev/null --uri "$NODE" --publish "ipc://$TMP/in" --host cn-e2e \
	--interval 1 >>"$TMP/monitor.log" 2>&1 &
MON=$!
STARTED="$STARTED $MON"

# Frames flow: wait until the index has the domains' latest values, then ~8 s in all.
five_latest() { [ "$(sql "SELECT count(*) FROM latest" 2>/dev/null)" -ge 5 ]; }
wait_for 30 five_latest || fail "no latest values after 30 s"
sleep 6
kill "$MON"
wait "$MON" 2>/dev/null || true
sleep 1
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS after SIGTERM"

# Index: the host, its frames, the tenants, the five active domains with identity.
[ "$(sql "SELECT name FROM hosts")" = cn-e2e ] || fail "hosts: $(sql 'SELECT name FROM hosts')"
[ "$(sql "SELECT received >= 5 AND lost = 0 FROM host_loss WHERE host = 'cn-e2e'")" = 1 ] ||
	fail "frame accounting: $(sql 'SELECT * FROM host_loss')"
[ "$(sql "SELECT group_concat(project_name, '|') FROM (SELECT project_name FROM tenants ORDER BY project_name)")" = 'alpha|beta|gamma "ops" & <dev>' ] ||
	fail "tenants: $(sql 'SELECT * FROM tenants')"
[ "$(sql "SELECT count(*) FROM domains WHERE host = 'cn-e2e' AND stopped_at IS NULL")" = 5 ] ||
	fail "domains: $(sql 'SELECT uuid, state FROM domains')"
[ "$(sql "SELECT display_name || '|' || project_id || '|' || state FROM domains WHERE uuid = '53ac0000-0000-4000-8000-000000000002'")" = \
	'<script>alert(1)</script>|b2b2b2b2000000000000000000000002|1' ] ||
	fail "domain 2 identity: $(sql "SELECT * FROM domains WHERE uuid LIKE '%0002'")"
[ "$(sql "SELECT project_id IS NULL FROM domains WHERE uuid = '53ac0000-0000-4000-8000-000000000004'")" = 1 ] ||
	fail "domain 4 has no Nova metadata"
[ "$(sql "SELECT count(*) FROM domains WHERE uuid = '53ac0000-0000-4000-8000-000000000001'")" = 0 ] ||
	fail "the shut-off domain was reported"
[ "$(sql "SELECT ncpus > 0 AND libvirt_ok = 1 AND domains = 5 FROM host_latest WHERE host = 'cn-e2e'")" = 1 ] ||
	fail "host_latest: $(sql 'SELECT * FROM host_latest')"

# Files: each domain's and the host's, registered under the documented paths.
D2=domains/53/53ac0000-0000-4000-8000-000000000002
[ "$(sql "SELECT path FROM metrics WHERE uuid = '53ac0000-0000-4000-8000-000000000002' AND name = 'cpu_pct'")" = "$D2/cpu_pct.wsp" ] ||
	fail "cpu_pct of domain 2 is not registered at $D2/cpu_pct.wsp"
[ "$(sql "SELECT count(*) FROM metrics WHERE host = 'cn-e2e'")" -ge 6 ] || fail "host metrics missing"
[ "$(sql "SELECT count(DISTINCT uuid) FROM metrics")" = 5 ] || fail "metrics of 5 domains expected"
[ "$(sql "SELECT count(*) FROM metrics WHERE name LIKE 'disk.%.rd_req_ps'")" -ge 5 ] || fail "disk metrics missing"
[ "$(sql "SELECT count(*) FROM metrics WHERE name LIKE 'nic.%.rx_bytes_ps'")" -ge 1 ] || fail "nic metrics missing"
$CHECK registered "$DATA"
$CHECK readable "$DATA"
[ -z "$(ls -A "$DATA/quarantine")" ] || fail "quarantine is not empty"

# Values, read by python3-whisper: plausible and present for most of the run.
$CHECK values "$DATA/$D2/cpu_pct.wsp" 0 100 4
$CHECK values "$DATA/$D2/load1.wsp" 0 1000 4
$CHECK values "$DATA/hosts/cn-e2e/cpu_pct.wsp" 0 100 4
$CHECK values "$DATA/hosts/cn-e2e/domains.wsp" 5 5 4
[ "$($CHECK info "$DATA/$D2/cpu_pct.wsp")" = "average 0.5 1:1800,60:1440" ] ||
	fail "retention/method: $($CHECK info "$DATA/$D2/cpu_pct.wsp")"
disk_errors=$(sql "SELECT path FROM metrics WHERE uuid = '53ac0000-0000-4000-8000-000000000002' AND name LIKE 'disk.%.errors' LIMIT 1")
[ "$($CHECK info "$DATA/$disk_errors" | cut -d' ' -f1)" = last ] || fail "disk errors are not 'last'"
[ "$($CHECK info "$DATA/hosts/cn-e2e/libvirt_latency_ms.wsp" | cut -d' ' -f1)" = max ] ||
	fail "libvirt latency is not 'max'"
grep -q "last 1 s: frames [1-9]" "$TMP/agg.log" || fail "no summary line with frames"
echo "OK: pipeline monitor -> collector -> aggregator fills the index and readable files"
