#!/bin/bash
# A real monitor (libvirt test driver, tests/fixtures/node-small.xml, whose tenants' names are hostile; brief records between full ones) -> a real collector -> the exporter: /metrics passes `promtool check metrics`, every figure of a domain equals what stackmon-sub printed of the same last frame, hostile names come back intact once unescaped, and the HTTP side answers 404, 405 and HEAD as it should.
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "$0")/../exporter/e2e_lib.sh"
[ -n "$SUB" ] || fail "needs the exporter, collector, monitor and stackmon-sub binaries as \$1..\$4"
NODE="test://$SRC/tests/fixtures/node-small.xml"
U2=53ac0000-0000-4000-8000-000000000002
U4=53ac0000-0000-4000-8000-000000000004
U5=53ac0000-0000-4000-8000-000000000005

start_collector
# stale_after long: the monitor is stopped below and its last frame must stay.
start_exporter exporter --stale-after 120
"$SUB" -c /dev/null --connect "$FAN_OUT" --kind stats >"$TMP/sub.jsonl" 2>>"$TMP/sub.log" &
SUB_PID=$!
STARTED="$STARTED $SUB_PID"
sleep 1
start_monitor "$NODE" cn-exp

five() { scrape >"$TMP/m.txt" && [ "$(metric "$TMP/m.txt" stackmon_exporter_domains)" = 5 ]; }
wait_for 30 five || fail "five domains not exported after 30 s: $(grep -c . "$TMP/m.txt") lines"
sleep 3
# The last frame is the same for both once the monitor stops.
kill "$MON_PID"
wait "$MON_PID" 2>/dev/null || true
sleep 1.5
kill "$SUB_PID"
wait "$SUB_PID" 2>/dev/null || true
scrape >"$TMP/m.txt"

promtool check metrics <"$TMP/m.txt" >"$TMP/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(cat "$TMP/promtool.out")"
for u in $U2 $U4 $U5; do
	$CHECK sub-compare "$TMP/m.txt" "$TMP/sub.jsonl" "$u" || fail "figures of $u differ"
done

# Identity labels, unescaped, are the tenants' own text.
[ "$(metric "$TMP/m.txt" stackmon_domain_info uuid=$U2 name='<script>alert(1)</script>' project=beta)" = 1 ] ||
	fail "domain 2 labels: $($CHECK labels "$TMP/m.txt" stackmon_domain_info uuid=$U2)"
want4='<img src=x onerror=alert(1)> "dq" '"'sq'"' & $(reboot);`id`'
[ "$($CHECK labels "$TMP/m.txt" stackmon_domain_vcpus uuid=$U4 | $PY -c 'import json,sys; print(json.load(sys.stdin)["domain"])')" = "$want4" ] ||
	fail "domain 4's hostile name: $($CHECK labels "$TMP/m.txt" stackmon_domain_vcpus uuid=$U4)"
[ "$(metric "$TMP/m.txt" stackmon_domain_info uuid=$U5 project='gamma "ops" & <dev>')" = 1 ] ||
	fail "domain 5's project: $($CHECK labels "$TMP/m.txt" stackmon_domain_info uuid=$U5)"
grep -q 'project="gamma \\"ops\\" & <dev>"' "$TMP/m.txt" || fail "quotes are not escaped in the text"
# No label from a domain without Nova metadata, no shut-off domain.
[ "$($CHECK labels "$TMP/m.txt" stackmon_domain_vcpus uuid=$U4 | grep -c project)" = 0 ] ||
	fail "domain 4 has project labels"
[ "$($CHECK count "$TMP/m.txt" stackmon_domain_vcpus uuid=53ac0000-0000-4000-8000-000000000001)" = 0 ] ||
	fail "the shut-off domain is exported"
# Node and health.
[ "$(metric "$TMP/m.txt" stackmon_node_libvirt_up host=cn-exp)" = 1 ] || fail "libvirt_up"
[ "$(metric "$TMP/m.txt" stackmon_node_domains host=cn-exp)" = 5 ] || fail "node domains"
[ "$(metric "$TMP/m.txt" stackmon_exporter_frames_lost_total)" = 0 ] || fail "frames lost"
[ "$(metric "$TMP/m.txt" stackmon_exporter_decode_errors_total reason=garbage)" = 0 ] || fail "decode errors"
[ "$(metric "$TMP/m.txt" stackmon_exporter_frames_total kind=stats)" -ge 4 ] || fail "stats frames"
# The monitor sends brief records between full ones: those figures were expanded ones.
[ "$(metric "$TMP/m.txt" stackmon_exporter_brief_records_total outcome=expanded)" -ge 5 ] ||
	fail "no brief record expanded: $(grep brief_records "$TMP/m.txt")"
[ "$(metric "$TMP/m.txt" stackmon_exporter_brief_records_total outcome=refused)" = 0 ] || fail "brief records refused"
# No rate is exported where its counter is.
! grep -qE '^stackmon_domain_cpu_(ratio|percent)|_per_second' "$TMP/m.txt" || fail "a rate is exported"

# The HTTP side.
hdr=$(curl -fsS -D - -o /dev/null "http://$EXP_ADDR/metrics" | tr -d '\r')
grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8$' <<<"$hdr" || fail "content type: $hdr"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$EXP_ADDR/nope")" = 404 ] || fail "no 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x=1 "http://$EXP_ADDR/metrics")" = 405 ] || fail "no 405"
curl -s -D - -o /dev/null -X DELETE "http://$EXP_ADDR/metrics" | tr -d '\r' | grep -qi '^Allow: GET, HEAD$' ||
	fail "405 without Allow"
[ "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' "http://$EXP_ADDR/metrics")" = "200 0" ] ||
	fail "HEAD"
curl -fsS "http://$EXP_ADDR/" | grep -q 'href="metrics"' || fail "the index page does not link /metrics"
# gzip when the client takes it (Prometheus does), the same text inside.
curl -fsS -D "$TMP/gz.hdr" -H 'Accept-Encoding: gzip' -o "$TMP/m.gz" "http://$EXP_ADDR/metrics"
tr -d '\r' <"$TMP/gz.hdr" | grep -qi '^Content-Encoding: gzip$' || fail "no gzip: $(cat "$TMP/gz.hdr")"
tr -d '\r' <"$TMP/gz.hdr" | grep -qi '^Vary: Accept-Encoding$' || fail "no Vary: $(cat "$TMP/gz.hdr")"
[ "$(gzip -dc "$TMP/m.gz" | grep '^stackmon_domain_' | md5sum)" = "$(grep '^stackmon_domain_' "$TMP/m.txt" | md5sum)" ] ||
	fail "the gzipped text differs"
[ "$(stat -c %s "$TMP/m.gz")" -lt "$(($(stat -c %s "$TMP/m.txt") / 4))" ] || fail "gzip hardly compresses"
curl -fsS -D "$TMP/gz.hdr" -H 'Accept-Encoding: gzip;q=0, identity' -o /dev/null "http://$EXP_ADDR/metrics"
! tr -d '\r' <"$TMP/gz.hdr" | grep -qi '^Content-Encoding' || fail "gzip sent though refused (q=0)"
# A client that goes away in the middle of a response costs nothing.
for _ in 1 2 3; do curl -s --max-time 5 "http://$EXP_ADDR/metrics" | head -c 100 >/dev/null; done
scrape >/dev/null || fail "no scrape after clients hung up"
kill -0 "$EXP_PID" || fail "the exporter died"
kill "$EXP_PID"
wait "$EXP_PID" || fail "exit status $? after SIGTERM"
echo "OK: /metrics is valid, equals stackmon-sub's figures, and keeps hostile names intact"
