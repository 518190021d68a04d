#!/bin/bash
# With CurveZMQ on, as the package runs it: a real monitor publishes to a collector that admits only allowed keys; the exporter subscribes with its own key pair (ENDPOINT@KEYFILE naming the collector's public key) and serves the node's domains, while an exporter whose key is not allowed and one in plain text serve none; a group-readable secret key stops the exporter at start.
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "$0")/../exporter/e2e_lib.sh"
KEYGEN=${STACKMON_BINARY_DIR:?}/src/keygen/stackmon-keygen
K=$TMP/keys
mkdir -p "$K/allow"
key() { "$KEYGEN" --dir "$K" --name "$@" >/dev/null; }
key master
key cn-curve --host cn-curve
key exporter
key stranger
cp "$K/cn-curve.key" "$K/exporter.key" "$K/allow/"

"$COLLECTOR" -c /dev/null --name master --fan-in "$FAN_IN" --fan-out "$FAN_OUT" \
	--heartbeat-interval 0.2 --curve yes --curve-secret-key "$K/master.key_secret" \
	--curve-allow-dir "$K/allow" >>"$TMP/collector.log" 2>&1 &
STARTED="$STARTED $!"
"$MONITOR" -c /dev/null --uri "test://$SRC/tests/fixtures/node-small.xml" --host cn-curve \
	--interval 1 --publish "$FAN_IN=$FAN_OUT@$K/master.key" --curve yes \
	--curve-secret-key "$K/cn-curve.key_secret" >>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"

# The subscription is the only difference between the three exporters.
sub_ok="$FAN_OUT@$K/master.key"
EXP_SUBSCRIBE=$sub_ok start_exporter exporter --curve yes --curve-secret-key "$K/exporter.key_secret"
ok_addr=$EXP_ADDR
EXP_SUBSCRIBE=$sub_ok start_exporter stranger --curve yes --curve-secret-key "$K/stranger.key_secret"
stranger_addr=$EXP_ADDR
start_exporter plain
plain_addr=$EXP_ADDR

five() { scrape "http://$ok_addr/metrics" >"$TMP/m.txt" && [ "$(metric "$TMP/m.txt" stackmon_exporter_domains)" = 5 ]; }
wait_for 40 five || fail "the allowed exporter has no five domains: $(grep '^stackmon_exporter_domains ' "$TMP/m.txt")"
[ "$(metric "$TMP/m.txt" stackmon_domain_info uuid=53ac0000-0000-4000-8000-000000000002 project=beta)" = 1 ] ||
	fail "domain 2 not served with its project"
sleep 2
for a in "$stranger_addr" "$plain_addr"; do
	scrape "http://$a/metrics" >"$TMP/other.txt"
	[ "$(metric "$TMP/other.txt" stackmon_exporter_frames_total kind=stats)" = 0 ] ||
		fail "an exporter at $a without an allowed key got frames"
	[ "$(metric "$TMP/other.txt" stackmon_exporter_domains)" = 0 ] || fail "$a serves domains"
done
grep -q "refused" "$TMP/collector.log" || fail "the collector did not log the refused key"

chmod 0640 "$K/exporter.key_secret"
rc=0
timeout 20 "$EXPORTER" -c /dev/null -n --subscribe "$sub_ok" --curve=yes \
	--curve-secret-key "$K/exporter.key_secret" >"$TMP/n.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a group-readable secret key: exit $rc, want 2"
grep -q "exporter.key_secret" "$TMP/n.out" || fail "the refusal does not name the file: $(cat "$TMP/n.out")"
echo "OK: with curve, only the exporter whose key is allowed gets the frames"
