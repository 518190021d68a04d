# shellcheck shell=bash
# e2e_lib.sh -- sourced by tests/e2e/alert_*.sh: the exporter scenarios'
# library (private temp dir, cleanup trap, wait_for, start_collector,
# start_monitor; tests/exporter/e2e_lib.sh) plus stackmon-alert and Debian's
# Prometheus Alertmanager on a port of 24000-24999.
# Needs ALERT, COLLECTOR, MONITOR, SUB as $1 $2 $3 $4.
ALERT=${ALERT:-$1}
# The shared library names its first binary EXPORTER; its start_exporter is
# not used by these scenarios.
EXPORTER=$ALERT
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "${BASH_SOURCE[0]:-$0}")/../exporter/e2e_lib.sh"
AM_PORT=""
AM=""
ALERT_PID=""

# port_in_range: a free TCP port of 24000-24999 on 127.0.0.1.
port_in_range() {
	$PY - <<'PYEOF'
import random, socket
for p in random.sample(range(24000, 25000), 1000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
PYEOF
}

# start_alertmanager: Debian's Alertmanager with its own storage in $TMP,
# no cluster, every alert to a receiver that sends nothing; sets AM (URL).
start_alertmanager() {
	AM_PORT=$(port_in_range)
	AM="http://127.0.0.1:$AM_PORT"
	cat >"$TMP/alertmanager.yml" <<YML
route:
  receiver: none
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: none
YML
	prometheus-alertmanager --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am-data" \
		--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
		>>"$TMP/alertmanager.log" 2>&1 &
	STARTED="$STARTED $!"
	wait_for 30 curl -fsS "$AM/-/ready" || fail "Alertmanager did not start on $AM"
}

# am_alerts [FILTER...]: Alertmanager's active alerts (GET /api/v2/alerts),
# as JSON; each FILTER is label=value (the value quoted for Alertmanager).
am_alerts() {
	local args=()
	for f in "$@"; do args+=(--data-urlencode "filter=${f%%=*}=\"${f#*=}\""); done
	curl -fsS --max-time 5 -G "$AM/api/v2/alerts" --data-urlencode active=true \
		--data-urlencode silenced=false --data-urlencode inhibited=false "${args[@]}"
}

# am_count FILTER...: how many active alerts match.
am_count() {
	am_alerts "$@" | $PY -c 'import json, sys
print(sum(1 for a in json.load(sys.stdin) if a["status"]["state"] == "active"))'
}

# start_alert LOGNAME RULES [options...]: stackmon-alert on the fan-out with
# its data dir in $TMP/alert-data; sets ALERT_PID; waits for its start line.
start_alert() {
	local log=$TMP/$1.log rules=$2
	shift 2
	"$ALERT" -c /dev/null --subscribe "$FAN_OUT" --rules "$rules" --data-dir "$TMP/alert-data" \
		"$@" >>"$log" 2>&1 &
	ALERT_PID=$!
	STARTED="$STARTED $ALERT_PID"
	wait_for 20 grep -q "rules from" "$log" || fail "stackmon-alert did not start: $(cat "$log")"
}

stop_alert() {
	kill "$ALERT_PID" 2>/dev/null || true
	wait "$ALERT_PID" 2>/dev/null || true
}

# need_libvirtd: exits 77 (skip) when libvirtd's test driver does not answer,
# unless STACKMON_REQUIRE_LIBVIRTD=1 (then it fails).
need_libvirtd() {
	if ! timeout 15 virsh -q -c test+unix:///default list >/dev/null 2>&1; then
		[ "${STACKMON_REQUIRE_LIBVIRTD:-0}" = 1 ] && fail "libvirtd does not answer (scripts/libvirtd.sh start)"
		echo "SKIP: libvirtd does not answer on test+unix:///default"
		exit 77
	fi
}
