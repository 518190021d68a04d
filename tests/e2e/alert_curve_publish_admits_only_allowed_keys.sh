#!/bin/bash
# With curve = yes the alert/ fan-out is a CURVE server behind a ZAP allow list: a subscriber whose key is in publish_allow_dir is admitted and gets the alert/ frame of a rule that fires (a real monitor on libvirt's in-process test driver, through a CURVE collector), while a subscriber with an unknown key (refused by ZAP) and a plain-text one get nothing; a key added to the directory is admitted after SIGHUP; -n refuses curve with publish and no publish_allow_dir (exit 2, naming the key). No libvirtd needed.
# shellcheck source=tests/alert/e2e_lib.sh
. "$(dirname "$0")/../alert/e2e_lib.sh"
KEYGEN=${STACKMON_BINARY_DIR:?}/src/keygen/stackmon-keygen
K=$TMP/keys
mkdir -p "$K/allow" "$K/subscribers"
key() { "$KEYGEN" --dir "$K" --name "$@" >/dev/null; }
key master
key cn-alert-curve --host cn-alert-curve
key alert
key reader
key stranger
cp "$K/cn-alert-curve.key" "$K/alert.key" "$K/allow/"
cp "$K/reader.key" "$K/subscribers/"
PUB="ipc://$TMP/alerts"
CURVE=(--curve yes --curve-secret-key "$K/alert.key_secret" --curve-server-key "$K/master.key")
printf 'rule has_domains\n    when node domains >= 1\n    severity info\n' >"$TMP/alert.rules"

# -n: curve and publish without the allow list is refused, naming the key.
rc=0
"$ALERT" -c /dev/null -n --rules "$TMP/alert.rules" --publish "$PUB" "${CURVE[@]}" >"$TMP/n.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "-n with curve, publish and no publish_allow_dir: exit $rc, want 2: $(cat "$TMP/n.out")"
grep -q "publish_allow_dir" "$TMP/n.out" || fail "the refusal does not name publish_allow_dir: $(cat "$TMP/n.out")"
"$ALERT" -c /dev/null -n --rules "$TMP/alert.rules" --publish "$PUB" "${CURVE[@]}" \
	--publish-allow-dir "$K/subscribers" >"$TMP/n.out" 2>&1 || fail "-n with publish_allow_dir: $(cat "$TMP/n.out")"

"$COLLECTOR" -c /dev/null --name master --fan-in "$FAN_IN" --fan-out "$FAN_OUT" \
	--heartbeat-interval 0.2 --curve yes --curve-secret-key "$K/master.key_secret" \
	--curve-allow-dir "$K/allow" >>"$TMP/collector.log" 2>&1 &
STARTED="$STARTED $!"
start_alert alert "$TMP/alert.rules" --publish "$PUB" "${CURVE[@]}" --publish-allow-dir "$K/subscribers"
grep -q "publish $PUB (curve" "$TMP/alert.log" || fail "publish is not announced as curve: $(cat "$TMP/alert.log")"

# frames NAME [KEYNAME]: alert_frames.py into $TMP/NAME.jsonl, with KEYNAME's pair if given.
frames() {
	local keys=()
	[ -z "${2:-}" ] || keys=("$K/$2.key_secret" "$K/alert.key")
	$PY "$SRC/tests/alert/alert_frames.py" "$PUB" "${keys[@]}" >"$TMP/$1.jsonl" 2>>"$TMP/frames.log" &
	STARTED="$STARTED $!"
}
has() { grep -q "$2" "$TMP/$1.jsonl"; }
frames reader reader
frames stranger stranger
frames plain
# Everyone's handshake is decided before the rule can fire.
wait_for 10 has reader '"handshake": "succeeded"' || fail "the allowed key was not admitted: $(cat "$TMP/reader.jsonl")"
wait_for 10 has stranger '"handshake": "failed' || fail "the unknown key was not refused: $(cat "$TMP/stranger.jsonl")"
wait_for 10 has plain '"handshake": "failed' || fail "the plain subscriber was not refused: $(cat "$TMP/plain.jsonl")"
grep -q "refused" "$TMP/alert.log" || fail "stackmon-alert did not log the refused key"

"$MONITOR" -c /dev/null --uri test:///default --publish "$FAN_IN=$FAN_OUT@$K/master.key" --host cn-alert-curve \
	--interval 1 --curve yes --curve-secret-key "$K/cn-alert-curve.key_secret" >>"$TMP/monitor.log" 2>&1 &
STARTED="$STARTED $!"
wait_for 20 has reader '"topic": "alert/cn-alert-curve/"' ||
	fail "no alert/ frame for the allowed subscriber: $(cat "$TMP/reader.jsonl")"
has reader '"status": "firing", "rule": "has_domains"' || fail "the frame is not the firing: $(cat "$TMP/reader.jsonl")"
sleep 1
for s in stranger plain; do
	has $s '"topic"' && fail "the $s subscriber got alert/ frames: $(cat "$TMP/$s.jsonl")"
	! has $s '"handshake": "succeeded"' || fail "the $s subscriber was admitted"
done

# The allow list re-read on SIGHUP: the stranger's key added is admitted.
cp "$K/stranger.key" "$K/subscribers/"
kill -HUP "$ALERT_PID"
wait_for 10 grep -q "SIGHUP: 1 rules loaded" "$TMP/alert.log" || fail "no SIGHUP: $(cat "$TMP/alert.log")"
frames stranger2 stranger
wait_for 10 has stranger2 '"handshake": "succeeded"' ||
	fail "a key added to publish_allow_dir is refused after SIGHUP: $(cat "$TMP/stranger2.jsonl")"
echo "OK: with curve, only subscribers whose key is in publish_allow_dir get alert/ frames; SIGHUP re-reads it; -n wants it"
