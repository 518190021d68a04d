#!/bin/bash
# Debian's Prometheus scrapes the exporter every second: a domain started on libvirtd's shared test driver (with Nova identity) reaches Prometheus' query API as stackmon_domain_cpu_seconds_total with its uuid, project, user and names as labels and the monitor's value; destroyed, its series leave /metrics at once and Prometheus marks them stale. Exits 77 without libvirtd unless STACKMON_REQUIRE_LIBVIRTD=1.
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "$0")/../exporter/e2e_lib.sh"
[ -n "$MONITOR" ] || fail "needs the exporter, collector and monitor binaries as \$1..\$3"
URI=test+unix:///default
if ! timeout 15 virsh -q -c "$URI" list >/dev/null 2>&1; then
	[ "${STACKMON_REQUIRE_LIBVIRTD:-0}" = 1 ] && fail "libvirtd does not answer on $URI (scripts/libvirtd.sh start)"
	echo "SKIP: libvirtd does not answer on $URI"
	exit 77
fi
NAME="smtest-exp-$$-$RANDOM"
ON_EXIT="$SRC/tests/lib/test_domains.sh destroy $NAME"
UUID=$("$SRC/tests/lib/test_domains.sh" define-start "$NAME" --nova expproj "exp \"project\"" u7:alice "exp vm" m1.tiny)

start_collector
start_exporter exporter
start_monitor "$URI" cn-prom

PPORT=$(free_port)
PROM="http://127.0.0.1:$PPORT"
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: stackmon
    static_configs:
      - targets: ['$EXP_ADDR']
YML
promtool check config "$TMP/prometheus.yml" >"$TMP/promtool.log" 2>&1 || fail "promtool check config: $(cat "$TMP/promtool.log")"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" >>"$TMP/prometheus.log" 2>&1 &
STARTED="$STARTED $!"

# query PROMQL: the result vector of Prometheus' instant query, as JSON.
query() {
	curl -fsS --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=$1" |
		$PY -c 'import json, sys; r = json.load(sys.stdin); assert r["status"] == "success"; print(json.dumps(r["data"]["result"]))'
}
SERIES="stackmon_domain_cpu_seconds_total{uuid=\"$UUID\"}"
in_prometheus() { [ "$(query "$SERIES" | $PY -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 1 ]; }
wait_for 90 in_prometheus || fail "Prometheus has no $SERIES after 90 s: $(query "$SERIES" 2>&1)"
[ "$(query 'up{job="stackmon"}' | $PY -c 'import json, sys; print(json.load(sys.stdin)[0]["value"][1])')" = 1 ] ||
	fail "the target is not up"

# The labels Prometheus stored are the tenant's own text.
query "$SERIES" >"$TMP/q.json"
$PY - "$TMP/q.json" "$UUID" "$NAME" <<'PYEOF' || fail "labels in Prometheus: $(cat "$TMP/q.json")"
import json, sys
r = json.load(open(sys.argv[1]))[0]["metric"]
want = {"uuid": sys.argv[2], "domain": sys.argv[3], "host": "cn-prom", "name": "exp vm",
        "project_id": "expproj", "project": 'exp "project"', "user_id": "u7", "user": "alice",
        "job": "stackmon", "__name__": "stackmon_domain_cpu_seconds_total"}
bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
sys.exit("differ (got, want): %s" % bad if bad else 0)
PYEOF
# Its value is the monitor's: the test driver's cpu time is the wall clock,
# and Prometheus' latest sample is at most a few scrapes behind /metrics.
prom_value=$(query "$SERIES" | $PY -c 'import json, sys; print(json.load(sys.stdin)[0]["value"][1])')
scrape >"$TMP/m.txt"
exp_value=$(metric "$TMP/m.txt" stackmon_domain_cpu_seconds_total uuid="$UUID")
$PY -c "import sys, time
p, e = float('$prom_value'), float('$exp_value')
sys.exit(0 if 0 <= e - p <= 5 and abs(e - time.time()) < 30 else 1)" ||
	fail "Prometheus has $prom_value, the exporter $exp_value (now $(date +%s))"
[ "$(query "stackmon_domain_info{uuid=\"$UUID\",flavor=\"m1.tiny\"}" | $PY -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
	fail "no stackmon_domain_info with the flavor"

# Destroyed: gone from /metrics within a few frames, then stale in Prometheus.
"$SRC/tests/lib/test_domains.sh" destroy "$NAME"
gone() { scrape >"$TMP/m.txt" && [ "$($CHECK count "$TMP/m.txt" stackmon_domain_vcpus uuid="$UUID")" = 0 ]; }
wait_for 20 gone || fail "$NAME's series still in /metrics 20 s after destroy"
[ "$(metric "$TMP/m.txt" stackmon_exporter_domains_removed_total reason=stopped)" -ge 1 ] ||
	fail "not removed by its stopped event: $(grep removed_total "$TMP/m.txt")"
stale() { [ "$(query "$SERIES" | $PY -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 0 ]; }
wait_for 20 stale || fail "Prometheus still returns $SERIES 20 s after it left /metrics"
echo "OK: Prometheus scrapes the exporter, stores the domain with its tenant labels, and drops it when destroyed"
