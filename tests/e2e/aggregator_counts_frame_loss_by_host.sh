#!/bin/bash
# Frames with known gaps in their seq (and duplicates, a late frame, a new epoch, a leap beyond LOSS_MAX_GAP, a flood of gaps, a host name with HTML in it) reach the aggregator: it logs the first gap of a host with its missing seqs and sums up the rest, counts the exact loss in its summary, in host_streams and per minute in host_loss_minutes, and the dashboard's node page and API show that exact count for the last hour.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
SEQPUB=${STACKMON_BINARY_DIR:?}/tests/common/seq_publisher
CGI=$STACKMON_BINARY_DIR/dashboard/stackmon.cgi
[ -x "$SEQPUB" ] && [ -x "$CGI" ] || fail "needs seq_publisher and stackmon.cgi in $STACKMON_BINARY_DIR"

# cn1 stats: 318 missing (1181-1498), a duplicate, a late frame, 2 missing
# (1502-1503), then a restart (new epoch: no loss). cn1 events: 1 missing.
# cn2: a leap of 2^33 is not believed. cn4: 200 gaps of one frame each, in
# a burst. <b>cn3</b>: refused by the decoder, never a host.
{
	printf '%s\n' "cn1 stats 7 1180" "cn1 stats 7 1499" "cn1 stats 7 1500" "cn1 stats 7 1500" \
		"cn1 stats 7 1200" "cn1 stats 7 1501" "cn1 stats 7 1504" "cn1 stats 8 1" \
		"cn1 stats 8 2" "cn1 event 7 1" "cn1 event 7 3" \
		"cn2 stats 9 10" "cn2 stats 9 8589934602" "cn2 stats 9 8589934603" \
		"hostile <b>cn3</b> stats 1 1" "hostile <b>cn3</b> stats 1 5"
	for s in $(seq 1 2 401); do echo "cn4 stats 3 $s"; done
} > "$TMP/script"

start_agg
"$SEQPUB" "$PUB_EP" 15 < "$TMP/script" > "$TMP/pub.log" 2>&1 || fail "seq_publisher failed"
grep -q "sent 217" "$TMP/pub.log" || fail "publisher: $(cat "$TMP/pub.log")"
sleep 1.5 # one summary interval and more: every frame handled
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS"

# The log: each host's first gap on a line of its own, with the missing seqs ...
[ "$(count_log "gap from host cn1 (stats): seq 1181-1498 missing (318 frames)")" = 1 ] ||
	fail "no gap line for cn1"
[ "$(count_log "gap from host cn4 (stats): seq 2 missing (1 frame)")" = 1 ] || fail "no gap line for cn4"
# ... the rest of its minute summed up, never one line per gap.
[ "$(count_log "gaps from host cn1: 2 more in the minute after the last line (3 frames missing)")" = 1 ] ||
	fail "cn1's held-back gaps not summed up"
[ "$(count_log "gaps from host cn4: 199 more in the minute after the last line (199 frames missing)")" = 1 ] ||
	fail "cn4's flood not summed up"
[ "$(grep -c "gap from host" "$TMP/agg.log")" = 2 ] || fail "more gap lines than one per host"
[ "$(count_log "seq from host cn2 (stats) leapt to 8589934602")" = 1 ] || fail "no leap line"
[ "$(count_log "dropped a bad frame from stats/<b>cn3</b>/")" -ge 1 ] || fail "hostile host not refused"
[ "$(count_log "since start: 521 frames lost in 203 gaps")" = 1 ] || fail "totals at stop"
lost_sum=$(grep -o "[0-9]* lost in [0-9]* gaps" "$TMP/agg.log" | awk '{s += $1} END {print s}')
[ "$lost_sum" = 521 ] || fail "summary lines add up to $lost_sum lost, not 521"

# The index: totals per stream, and the minutes (possibly two, if the run
# crossed a minute) adding up to the same exact numbers.
[ "$(sql "SELECT received || '/' || lost FROM host_loss WHERE host = 'cn1'")" = 11/321 ] ||
	fail "host_loss cn1: $(sql "SELECT * FROM host_loss")"
for want in "cn1|11|321" "cn2|3|0" "cn4|201|200"; do
	h=${want%%|*}
	got=$(sql "SELECT host, sum(received), sum(lost) FROM host_loss_minutes WHERE host = '$h' GROUP BY host")
	[ "$got" = "$want" ] || fail "host_loss_minutes $h: '$got', expected '$want'"
done
[ "$(sql "SELECT count(*) FROM host_loss_minutes WHERE minute % 60 != 0")" = 0 ] || fail "minute not on a minute"
[ "$(sql "SELECT count(*) FROM hosts WHERE name LIKE '%<%' OR name LIKE '%cn3%'")" = 0 ] ||
	fail "a hostile host reached the index"

# The dashboard, run as a web server runs it, for an administrator.
printf 'admin root\n' > "$TMP/access.list"
printf 'data_dir = %s\naccess_list = %s\n' "$DATA" "$TMP/access.list" > "$TMP/dash.conf"
cgi() { # PATH QUERY
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
		REQUEST_METHOD=GET SCRIPT_NAME=/stackmon PATH_INFO="$1" QUERY_STRING="$2" \
		REMOTE_USER=root STACKMON_DASHBOARD_CONF="$TMP/dash.conf" "$CGI"
}
cgi /host name=cn1 > "$TMP/cn1.html"
grep -q "^Status: 200" "$TMP/cn1.html" || fail "node page: $(head -3 "$TMP/cn1.html")"
grep -qF "Frame loss, last hour" "$TMP/cn1.html" || fail "no loss section"
grep -qF "<span>frames received</span><b>11</b>" "$TMP/cn1.html" || fail "received on the page"
grep -qF "<span>frames lost</span><b>321</b>" "$TMP/cn1.html" || fail "lost on the page"
grep -qF "<span>loss</span><b>96.7 %</b>" "$TMP/cn1.html" || fail "percent on the page"
grep -q '<table id="loss-minutes">' "$TMP/cn1.html" || fail "no table of the minutes with loss"
cgi /host name=cn2 > "$TMP/cn2.html"
grep -qF "No frame lost in the last hour." "$TMP/cn2.html" || fail "cn2 shows loss"
cgi /api/v1/host name=cn4 > "$TMP/cn4.json"
$PY - "$TMP/cn4.json" <<'PY' || fail "API: $(cat "$TMP/cn4.json")"
import json, sys
body = open(sys.argv[1], "rb").read().split(b"\r\n\r\n", 1)[1]
l = json.loads(body)["loss_1h"]
assert l["received"] == 201 and l["lost"] == 200, l
assert sum(m["lost"] for m in l["minutes_with_loss"]) == 200, l
PY
# The hostile name: no such host, and never echoed unescaped.
cgi /host 'name=%3Cb%3Ecn3%3C%2Fb%3E' > "$TMP/cn3.html"
grep -q "^Status: 40[04]" "$TMP/cn3.html" || fail "hostile host page: $(head -1 "$TMP/cn3.html")"
! grep -qF "<b>cn3</b>" "$TMP/cn3.html" || fail "hostile host name echoed raw"
echo "frame loss counted, logged, stored and shown"
