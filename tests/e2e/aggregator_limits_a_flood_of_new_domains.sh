#!/bin/bash
# Finding 2 of security issue 11 replayed: one host floods 60 frames of 500 new domains each (30,000 uuids); with max_domains_per_host 20 only 20 of them get index rows and files, the host is named in one log line, the refusals are counted, memory holds no refused domain, a 4th host past max_hosts 3 is refused and named once, and meanwhile a legitimate domain of another host keeps being written and a new VM on a third host gets its files.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
LEGIT=$(uuid_of 90000)
NEWVM=$(uuid_of 95000)
PER_DOMAIN=25 # files of one agg_testpub domain: 7 of its own, 2 disks x 5, 1 nic x 8

# Every publisher binds from the start (the aggregator is connected when
# each speaks); the delays order the story.
"$TESTPUB" --bind "ipc://$TMP/cn2" --host cn2 --first 90000 --domains 1 --rate 4 >>"$TMP/cn2.log" 2>&1 &
STARTED="$STARTED $!"
"$TESTPUB" --bind "ipc://$TMP/cn3" --host cn3 --first 95000 --domains 1 --rate 4 --delay 8 \
	>>"$TMP/cn3.log" 2>&1 &
STARTED="$STARTED $!"
"$TESTPUB" --bind "ipc://$TMP/cn4" --host cn4 --first 97000 --domains 1 --rate 4 --delay 10 \
	>>"$TMP/cn4.log" 2>&1 &
STARTED="$STARTED $!"
start_pub --fresh --domains 500 --rate 10 --count 60 --delay 2 # host cn1: the flood
start_agg --subscribe "ipc://$TMP/cn2" --subscribe "ipc://$TMP/cn3" --subscribe "ipc://$TMP/cn4" \
	--max-domains-per-host 20 --max-new-domains-per-min 100000 --max-hosts 3
t0=$SECONDS

flood_done() { grep -q "sent stats=60" "$TMP/pub.log"; }
wait_for 30 flood_done || fail "the flood was not sent"
legit_before=$($CHECK count "$DATA/$(domain_dir 90000)/cpu_pct.wsp")
newvm() { [ "$($CHECK count "$DATA/$(domain_dir 95000)/cpu_pct.wsp" 2>/dev/null)" -ge 2 ]; }
wait_for 20 newvm || fail "the new VM on cn3 got no files"
cn4_refused() { grep -q "host cn4 is new" "$TMP/agg.log"; }
wait_for 10 cn4_refused || fail "cn4, a 4th host, was not refused"
legit_after=$($CHECK count "$DATA/$(domain_dir 90000)/cpu_pct.wsp")
[ "$legit_after" -gt "$legit_before" ] || fail "cn2's domain stopped being written ($legit_before -> $legit_after)"
refused_all() { [ "$(grep -o 'refused: project [0-9]*, hosts [0-9]*, domains [0-9]*' "$TMP/agg.log" |
	awk '{s += $NF} END {print s + 0}')" -ge 29980 ]; }
wait_for 10 refused_all || fail "not every refused domain was counted"
rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$AGG_PID/status")
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS"

# Within the limits: index rows, files, memory.
[ "$(sql "SELECT count(*) FROM domains WHERE host = 'cn1'")" = 20 ] ||
	fail "cn1 has $(sql "SELECT count(*) FROM domains WHERE host = 'cn1'") domains in the index"
[ "$(sql "SELECT count(*) FROM domains")" = 22 ] || fail "$(sql 'SELECT count(*) FROM domains') domains in the index"
files=$(find "$DATA/domains" -name '*.wsp' | wc -l)
[ "$files" -le $((22 * PER_DOMAIN)) ] || fail "$files domain files made"
in_memory=$(grep -o 'domains [0-9]*, [0-9]* stopped' "$TMP/agg.log" | awk '{print $2 + 0}' | sort -n | tail -1)
[ "$in_memory" -le 22 ] || fail "$in_memory domains held in memory"
# The host named once, the refusals counted; cn4 refused as a 4th host.
[ "$(count_log "host cn1:")" = 1 ] || fail "cn1 named $(count_log "host cn1:") times"
grep -F "host cn1:" "$TMP/agg.log" | grep -q "max_domains_per_host = 20" || fail "the limit is not named"
[ "$(count_log "host cn4 is new and 3 hosts are known (max_hosts = 3)")" = 1 ] || fail "cn4 not refused once"
[ "$(sql "SELECT count(*) FROM hosts WHERE name = 'cn4'")" = 0 ] || fail "cn4 got a host row"
[ ! -e "$DATA/hosts/cn4" ] || fail "cn4 got a directory"
[ "$(sql "SELECT count(*) FROM domains WHERE uuid = '$LEGIT' OR uuid = '$NEWVM'")" = 2 ] || fail "legitimate domains missing"
$CHECK registered "$DATA"
echo "OK: flood of 30,000 new domains: 20 admitted, $files domain files, RSS ${rss_kib} KiB, $((SECONDS - t0)) s"
