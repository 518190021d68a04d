#!/bin/bash
# Alertmanager down when an alert fires: stackmon-alert logs the outage once, keeps the transition and delivers it when Debian's Alertmanager comes up on that address (re-sends are off here, so only the kept transition can bring it), then logs that it is reachable again. A real monitor on libvirt's in-process test driver (its domain "test" runs at 50 % cpu): no libvirtd needed.
# shellcheck source=tests/alert/e2e_lib.sh
. "$(dirname "$0")/../alert/e2e_lib.sh"
cat >"$TMP/alert.rules" <<'RULES'
rule busy
    when domain cpu_pct > 10
    severity info
RULES
AM_PORT=$(port_in_range)
AM="http://127.0.0.1:$AM_PORT"
start_collector
start_alert alert "$TMP/alert.rules" --alertmanager "$AM" --alertmanager-resend 3600 \
	--alertmanager-timeout 0.5
start_monitor test:///default cn-am-down
wait_for 30 grep -q "alert busy firing" "$TMP/alert.log" || fail "busy did not fire"
wait_for 10 grep -q "alertmanager $AM/api/v2/alerts: .*trying again" "$TMP/alert.log" ||
	fail "the outage was not logged"
sleep 3
[ "$(grep -c "trying again" "$TMP/alert.log")" = 1 ] || fail "the outage was logged more than once"

# Alertmanager comes up on that address: the kept transition arrives.
cat >"$TMP/alertmanager.yml" <<YML
route:
  receiver: none
receivers:
  - name: none
YML
prometheus-alertmanager --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am-data" \
	--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >>"$TMP/alertmanager.log" 2>&1 &
STARTED="$STARTED $!"
arrived() { [ "$(am_count alertname=busy host=cn-am-down)" -ge 1 ]; }
wait_for 60 arrived || fail "the alert never reached Alertmanager: $(am_alerts 2>&1)"
wait_for 10 grep -q "alertmanager reachable again" "$TMP/alert.log" || fail "no 'reachable again'"
echo "OK: an alert fired while Alertmanager was down reached it once it came up"
