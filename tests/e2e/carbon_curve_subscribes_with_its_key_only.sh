#!/bin/bash
# With CurveZMQ on, as the package runs it: a real monitor publishes to a collector that admits only allowed keys; stackmon-carbon subscribes with its own key pair (ENDPOINT@KEYFILE naming the collector's public key) and its points reach the carbon destination, while one whose key is not allowed sends none; a group-readable secret key stops it at start (-n too).
# shellcheck source=tests/carbon/e2e_lib.sh
. "$(dirname "$0")/../carbon/e2e_lib.sh"
KEYGEN=${STACKMON_BINARY_DIR:?}/src/keygen/stackmon-keygen
K=$TMP/keys
mkdir -p "$K/allow"
key() { "$KEYGEN" --dir "$K" --name "$@" >/dev/null; }
key master
key cn-curve --host cn-curve
key carbon
key stranger
cp "$K/cn-curve.key" "$K/carbon.key" "$K/allow/"
pick_port
OK=$PORT
pick_port
STRANGER=$PORT

"$COLLECTOR" -c /dev/null --name master --fan-in "$FAN_IN" --fan-out "$FAN_OUT" \
	--heartbeat-interval 0.2 --curve yes --curve-secret-key "$K/master.key_secret" \
	--curve-allow-dir "$K/allow" >>"$TMP/collector.log" 2>&1 &
STARTED="$STARTED $!"
"$MONITOR" -c /dev/null --uri "test://$SRC/tests/fixtures/node-small.xml" --host cn-curve \
	--interval 1 --publish "$FAN_IN=$FAN_OUT@$K/master.key" --curve yes \
	--curve-secret-key "$K/cn-curve.key_secret" >>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"
start_sink ok "$OK"
start_sink stranger "$STRANGER"
CARBON_SUBSCRIBE="$FAN_OUT@$K/master.key"
start_carbon carbon --carbon "127.0.0.1:$OK" --curve yes --curve-secret-key "$K/carbon.key_secret" \
	--health-interval 1
start_carbon stranger --carbon "127.0.0.1:$STRANGER" --curve yes \
	--curve-secret-key "$K/stranger.key_secret" --health-interval 1

wait_for 40 grep -q "^stackmon.hosts.cn-curve.domains 5 " "$TMP/ok.lines" ||
	fail "the allowed one sent no point of the node: $(grep -c . "$TMP/ok.lines") lines"
sleep 2
self="stackmon.stackmon-carbon.$(hostname | tr -c 'A-Za-z0-9_\n-' _)"
[ "$($CARBON_CHECK value "$TMP/stranger.lines" "$self.frames")" = 0 ] ||
	fail "the one without an allowed key got frames"
[ "$($CARBON_CHECK lines "$TMP/stranger.lines" '^stackmon\.(hosts|domains)\.')" = 0 ] ||
	fail "the one without an allowed key sent points"
grep -q "refused" "$TMP/collector.log" || fail "the collector did not log the refused key"

chmod 0640 "$K/carbon.key_secret"
rc=0
timeout 20 "$CARBON" -c /dev/null -n --subscribe "$CARBON_SUBSCRIBE" --curve=yes \
	--curve-secret-key "$K/carbon.key_secret" >"$TMP/n.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a group-readable secret key: exit $rc, want 2"
grep -q "carbon.key_secret" "$TMP/n.out" || fail "the message does not name the key file: $(cat "$TMP/n.out")"
echo "OK: only the allowed key pair gets frames; a loose secret key is refused"
