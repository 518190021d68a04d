#!/bin/bash
# A CPU spike on a libvirtd test-driver domain (its vCPUs lowered from 2 to 1 with virsh, so the real monitor's cpu_pct goes from 50 to 100) held past its rule's 3 s reaches Debian's Alertmanager within 3 + 2 s of the first frame over the threshold, with the domain's UUID, names, project and host as labels and is re-sent while it fires, and on its tenant's dashboard page and instance page (stackmon.cgi over a real aggregator's index) but never on another tenant's; the command hook gets the alert as JSON on stdin; each transition is an alert/ frame on stackmon-alert's own fan-out; a restart of stackmon-alert neither duplicates it in Alertmanager nor runs the hook again; raising the vCPUs again resolves it everywhere; killing the monitor makes the node-stale rule fire. Exits 77 without libvirtd unless STACKMON_REQUIRE_LIBVIRTD=1.
# shellcheck source=tests/alert/e2e_lib.sh
. "$(dirname "$0")/../alert/e2e_lib.sh"
need_libvirtd
URI=test+unix:///default
NAME="smtest-alert-$$-$RANDOM"
NODE="cn-alert-$$"
ON_EXIT="$SRC/tests/lib/test_domains.sh destroy $NAME"
UUID=$(SMTEST_VCPUS=2 "$SRC/tests/lib/test_domains.sh" define-start "$NAME" --nova alproj "alert project" u9:bob "alert vm" m1.small)
FOR=3

cat >"$TMP/alert.rules" <<RULES
# The spike on this test's own domain only (libvirtd's test driver is shared).
rule cpu_spike
    when domain cpu_pct > 90 for ${FOR}s clear 80
    scope instance $UUID
    severity critical
    label team = compute
    annotation summary = "vCPUs busy above 90 %"

rule node_down
    when node stale for 3s
    scope host $NODE
    severity critical
RULES
mkdir -p "$TMP/hook"
cat >"$TMP/hook.sh" <<'HOOK'
#!/bin/sh
# Keeps each run's stdin and STACKMON_ALERT_* environment.
n=$(date +%s%N)
cat >"$1/$n.json"
env | grep '^STACKMON_ALERT_' | sort >"$1/$n.env"
HOOK
chmod +x "$TMP/hook.sh"
ALERT_OPTS=(--alertmanager "http://127.0.0.1:1" --alertmanager-resend 2 --hook "$TMP/hook.sh $TMP/hook" --publish "ipc://$TMP/alerts")

start_alertmanager
ALERT_OPTS[1]=$AM
start_collector
# The aggregator's index and the dashboard CGI, for the tenant pages.
BIN=${STACKMON_BINARY_DIR:?the build directory}
"$BIN/src/aggregator/stackmon-aggregator" -c /dev/null --subscribe "$FAN_OUT" --data-dir "$TMP/agg" \
	--summary-interval 1 --flush-interval 1 --retention 1s:30m,1m:1d >>"$TMP/aggregator.log" 2>&1 &
STARTED="$STARTED $!"
printf 'user alice alproj\nuser eve evproj\n' >"$TMP/access.list"
printf 'data_dir = %s\naccess_list = %s\nalert_dir = %s\n' "$TMP/agg" "$TMP/access.list" \
	"$TMP/alert-data" >"$TMP/dashboard.conf"
# cgi USER PATH QUERY: the CGI's answer (headers and body) as a web server runs it.
cgi() {
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET SCRIPT_NAME=/stackmon \
		PATH_INFO="$2" QUERY_STRING="$3" REMOTE_USER="$1" STACKMON_DASHBOARD_CONF="$TMP/dashboard.conf" \
		"$BIN/dashboard/stackmon.cgi" 2>>"$TMP/cgi.log"
}
status_of() { sed -n 's/^Status: \([0-9]*\).*/\1/p' | head -n 1; }
start_alert alert "$TMP/alert.rules" "${ALERT_OPTS[@]}" -v
$PY "$SRC/tests/alert/alert_frames.py" "ipc://$TMP/alerts" >"$TMP/frames.jsonl" 2>>"$TMP/frames.log" &
STARTED="$STARTED $!"
"$SUB" -c /dev/null --connect "$FAN_OUT" --kind stats --domain "$UUID" >"$TMP/sub.jsonl" 2>>"$TMP/sub.log" &
STARTED="$STARTED $!"
start_monitor "$URI" "$NODE"

# cpu_pct of the domain in the frames: 50 with 2 vCPUs, no alert.
cpu_seen() { $PY - "$TMP/sub.jsonl" "$1" <<'PYEOF'
import json, sys
want = float(sys.argv[2])
for line in open(sys.argv[1]):
    m = json.loads(line)
    for d in m.get("domains", []):
        if d.get("cpu_pct") is not None and abs(d["cpu_pct"] - want) < 5:
            sys.exit(0)
sys.exit(1)
PYEOF
}
wait_for 60 cpu_seen 50 || fail "no frame with the domain at 50 % cpu"
sleep $((FOR + 1))
[ "$(am_count alertname=cpu_spike uuid="$UUID")" = 0 ] || fail "cpu_spike fired at 50 %"

# The spike.
virsh -q -c "$URI" setvcpus "$NAME" 1 --live >/dev/null
in_am() { [ "$(am_count alertname=cpu_spike uuid="$UUID")" = 1 ]; }
wait_for 30 in_am || fail "cpu_spike not in Alertmanager 30 s after the spike: $(am_alerts)"
seen_at=$(date +%s.%N)
# The first frame over 90 %, by its own time (the monitor's wall clock).
crossed=$($PY - "$TMP/sub.jsonl" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if any((d.get("cpu_pct") or 0) > 90 for d in m.get("domains", [])):
        print(m["time"])
        break
PYEOF
)
[ -n "$crossed" ] || fail "no frame over 90 % in the subscription"
$PY -c "import sys; d = $seen_at - $crossed; print('alert in Alertmanager %.2f s after the first frame over the threshold' % d); sys.exit(0 if d <= $FOR + 2 else 1)" ||
	fail "cpu_spike reached Alertmanager later than ${FOR} + 2 s after the crossing"

# Its labels and annotations as Alertmanager holds them.
am_alerts alertname=cpu_spike >"$TMP/am.json"
$PY - "$TMP/am.json" "$UUID" "$NAME" "$NODE" <<'PYEOF' || fail "labels in Alertmanager: $(cat "$TMP/am.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1, a
l, ann = a[0]["labels"], a[0]["annotations"]
want = {"alertname": "cpu_spike", "severity": "critical", "uuid": sys.argv[2], "domain": sys.argv[3],
        "host": sys.argv[4], "name": "alert vm", "project_id": "alproj", "project": "alert project",
        "team": "compute"}
bad = {k: (l.get(k), v) for k, v in want.items() if l.get(k) != v}
assert not bad, "differ (got, want): %s" % bad
assert ann["summary"] == "vCPUs busy above 90 %", ann
assert float(ann["value"]) > 90, ann
PYEOF
starts=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["startsAt"])' "$TMP/am.json")
# Re-sent while firing (every 2 s here): Alertmanager's endsAt moves on.
ends=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))[0]["endsAt"])' "$TMP/am.json")
resent() { [ "$(am_alerts alertname=cpu_spike | $PY -c 'import json, sys; print(json.load(sys.stdin)[0]["endsAt"])')" \> "$ends" ]; }
wait_for 10 resent || fail "cpu_spike not re-sent: endsAt still $ends"

# The hook ran once, with the alert on stdin and its fields in the environment.
hook_runs() { grep -l "\"status\":\"$1\"" "$TMP"/hook/*.json 2>/dev/null | wc -l; }
hook_ran() { [ "$(hook_runs "$1")" -ge 1 ]; }
wait_for 10 hook_ran firing || fail "the hook did not run"
[ "$(hook_runs firing)" = 1 ] || fail "the hook ran $(hook_runs firing) times for one firing alert"
f=$(grep -l '"status":"firing"' "$TMP"/hook/*.json)
$PY - "$f" "$UUID" <<'PYEOF' || fail "hook stdin: $(cat "$f")"
import json, sys
a = json.load(open(sys.argv[1]))
assert a["status"] == "firing" and a["rule"] == "cpu_spike" and a["value"] > 90, a
assert a["labels"]["uuid"] == sys.argv[2] and a["labels"]["project_id"] == "alproj", a
assert a["startsAt"].endswith("Z") and "endsAt" not in a, a
PYEOF
env_file=${f%.json}.env
# The dashboard: the tenant's project page and instance page show the alert
# and its rule; the other tenant sees neither the alert nor the pages.
tenant_page() { cgi alice / "project=alproj" >"$TMP/alice.html" && grep -q "cpu_spike" "$TMP/alice.html"; }
wait_for 30 tenant_page || fail "cpu_spike not on alice's project page: $(cat "$TMP/alice.html")"
[ "$(status_of <"$TMP/alice.html")" = 200 ] || fail "alice's page: $(head -n 3 "$TMP/alice.html")"
grep -q "domain cpu_pct &gt; 90 for ${FOR}s clear 80" "$TMP/alice.html" || fail "the rule is not on alice's page"
cgi alice /instance "uuid=$UUID" >"$TMP/alice-inst.html"
grep -q "cpu_spike" "$TMP/alice-inst.html" || fail "cpu_spike not on the instance page"
[ "$(cgi eve / "project=alproj" | status_of)" = 404 ] || fail "eve reads alice's project page"
[ "$(cgi eve /instance "uuid=$UUID" | status_of)" = 404 ] || fail "eve reads alice's instance page"
cgi eve / "" >"$TMP/eve.html"
grep -q "cpu_spike" "$TMP/eve.html" && fail "alice's alert on eve's page"
grep -q "No alert firing" "$TMP/eve.html" || fail "eve's page has no alerts section: $(head -c 600 "$TMP/eve.html")"
grep -qx "STACKMON_ALERT_RULE=cpu_spike" "$env_file" && grep -qx "STACKMON_ALERT_UUID=$UUID" "$env_file" &&
	grep -qx "STACKMON_ALERT_STATUS=firing" "$env_file" && grep -qx "STACKMON_ALERT_PROJECT_ID=alproj" "$env_file" ||
	fail "hook environment: $(cat "$env_file")"

# The alert/ frame of the transition.
frame_seen() { grep -q "\"status\": \"$1\", \"rule\": \"cpu_spike\"" "$TMP/frames.jsonl"; }
wait_for 5 frame_seen firing || fail "no alert/ frame for the firing: $(cat "$TMP/frames.jsonl")"
grep "\"rule\": \"cpu_spike\"" "$TMP/frames.jsonl" | head -n 1 | grep -q "\"topic\": \"alert/$NODE/\"" ||
	fail "alert frame topic: $(head -n 1 "$TMP/frames.jsonl")"

# A restart: restored firing, not notified again, one alert in Alertmanager
# with the same start.
stop_alert
start_alert alert2 "$TMP/alert.rules" "${ALERT_OPTS[@]}" -v
grep -q "1 pairs and 1 nodes restored" "$TMP/alert2.log" || fail "state not restored: $(cat "$TMP/alert2.log")"
sleep 4
[ "$(hook_runs firing)" = 1 ] || fail "the hook ran again after the restart"
grep -q "alert cpu_spike firing" "$TMP/alert2.log" && fail "cpu_spike fired again after the restart"
am_alerts alertname=cpu_spike >"$TMP/am2.json"
$PY - "$TMP/am2.json" "$starts" <<'PYEOF' || fail "after the restart: $(cat "$TMP/am2.json")"
import json, sys
a = json.load(open(sys.argv[1]))
assert len(a) == 1 and a[0]["status"]["state"] == "active", a
assert a[0]["startsAt"] == sys.argv[2], (a[0]["startsAt"], sys.argv[2])
PYEOF

# The spike ends: resolved in Alertmanager, through the hook and as a frame.
virsh -q -c "$URI" setvcpus "$NAME" 2 --live >/dev/null
gone() { [ "$(am_count alertname=cpu_spike uuid="$UUID")" = 0 ]; }
wait_for 30 gone || fail "cpu_spike still active in Alertmanager 30 s after the spike ended: $(am_alerts)"
wait_for 10 hook_ran resolved || fail "the hook did not run for the resolution"
frame_seen resolved || wait_for 5 frame_seen resolved || fail "no alert/ frame for the resolution"
page_clear() { cgi alice / "project=alproj" >"$TMP/alice.html" && ! grep -q "cpu_spike" "$TMP/alice.html"; }
wait_for 10 page_clear || fail "cpu_spike still on alice's page after it resolved"

# The node goes silent: node_down fires.
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null || true
node_down() { [ "$(am_count alertname=node_down host="$NODE")" = 1 ]; }
wait_for 20 node_down ||
	fail "node_down not in Alertmanager 20 s after the monitor stopped: $(am_alerts)"
echo "OK: CPU spike fired in Alertmanager in time, on its tenant's pages only, hook and frame had it, no duplicate across a restart, resolved; a silent node fired"
