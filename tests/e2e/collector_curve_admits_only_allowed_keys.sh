#!/bin/bash
# Proves: with curve on, every hop (monitor -> intermediate -> master fan-in, heartbeats, fan-out -> subscriber) works with allowed keys only: an unknown publisher and an unknown subscriber get nothing through, a key sending another host's frames is dropped and counted (host_mismatch), SIGHUP adds and removes keys without loss for others, and a group-readable secret key stops the collector.
. "$(dirname "$0")/../collector/e2e_lib.sh"
KEYGEN=${STACKMON_BINARY_DIR:?}/src/keygen/stackmon-keygen
K=$TMP/keys
mkdir -p "$K/master-allow" "$K/rack1-allow" "$K/spare"
key() { "$KEYGEN" --dir "$K" --name "$@" >/dev/null; }
key master
key rack1 --host cn1 --host rack1     # speaks for the hosts below it and itself
key cn1 --host cn1
key cn2 --host cn2
key reader                            # a subscriber: speaks for no host
key rogue --host rogue
cp "$K/rack1.key" "$K/cn2.key" "$K/reader.key" "$K/master-allow/"
cp "$K/cn1.key" "$K/reader.key" "$K/rack1-allow/"

# A secret key others can read stops the collector at start, naming the file.
chmod 644 "$K/master.key_secret"
set +e
"$COLLECTOR" --name bad --fan-in "$(in_ep bad)" --fan-out "$(out_ep bad)" --curve yes \
	--curve-secret-key "$K/master.key_secret" --curve-allow-dir "$K/master-allow" \
	>"$TMP/bad.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { echo "FAIL: collector with a 0644 secret key: exit $rc, want 2" >&2; exit 1; }
grep -q "master.key_secret.*mode 0644" "$TMP/bad.log" ||
	{ echo "FAIL: the refusal does not name the file: $(cat "$TMP/bad.log")" >&2; exit 1; }
chmod 600 "$K/master.key_secret"

start_collector master --curve yes --curve-secret-key "$K/master.key_secret" \
	--curve-allow-dir "$K/master-allow"
start_collector rack1 --curve yes --curve-secret-key "$K/rack1.key_secret" \
	--curve-allow-dir "$K/rack1-allow" \
	--upstream "$(in_ep master)=$(out_ep master)@$K/master.key"
up_master="$(in_ep master)=$(out_ep master)@$K/master.key"
start_testpub cn1 --connect "$(in_ep rack1)=$(out_ep rack1)@$K/rack1.key" --rate 20 \
	--curve-secret "$K/cn1.key_secret"
start_testpub cn2 --connect "$up_master" --rate 20 --curve-secret "$K/cn2.key_secret"
# cn2's key, another host's name: authenticated, but not allowed to say so.
start_testpub cn9 --connect "$up_master" --rate 20 --curve-secret "$K/cn2.key_secret"
start_testpub rogue --connect "$up_master" --rate 20 --curve-secret "$K/rogue.key_secret"

echo "$PID_master" >"$TMP/master.pid"
export TESTPUB
$PY - "$K" "$(out_ep master)" "$TMP" <<'PY'
import os, shutil, signal, subprocess, sys, time
from smtest import Sub, fail
K, fanout, tmp = sys.argv[1:4]
master_pid = int(open(tmp + "/master.pid").read())

top = Sub(fanout, curve=(K + "/reader.key_secret", K + "/master.key"))
stranger = Sub(fanout, curve=(K + "/rogue.key_secret", K + "/master.key"))
plain = Sub(fanout)
top.wait(lambda t, b: t == "stats/cn1/", 30, "cn1 through rack1 to the top")
top.wait(lambda t, b: t == "stats/cn2/", 30, "cn2 at the top")
top.wait(lambda t, b: t == "collector/rack1/", 30, "rack1's counters at the top")
c = top.wait_counters("master", lambda b: b["dropped"].get("host_mismatch", 0) >= 5
                      and b["dropped"].get("refused", 0) >= 1, 30,
                      "host_mismatch and refused counted")
top.pump(2)
for host in ("cn9", "rogue"):
    if any(h == host for h, _ in top.count):
        fail("frames of %s reached the fan-out" % host)
for s, who in ((stranger, "unknown key"), (plain, "plain")):
    s.pump(0.5)
    if s.count:
        fail("a subscriber with %s received %r" % (who, s.count))

# SIGHUP: admit rogue, revoke cn2; cn1 (through rack1) must not lose a frame.
shutil.copy(K + "/rogue.key", K + "/master-allow/")
os.remove(K + "/master-allow/cn2.key")
os.kill(master_pid, signal.SIGHUP)
# A publisher with the newly allowed key gets through. (The one refused
# before stays refused: libzmq does not retry after an authentication
# failure, so a refused client is restarted once its key is allowed.)
def testpub(host, epoch, secret):
    return subprocess.Popen([os.environ["TESTPUB"], "--host", host, "--epoch", str(epoch),
                             "--connect", "%s=%s@%s/master.key" % (fanout.replace(".out", ".in"),
                                                                   fanout, K),
                             "--rate", "20", "--curve-secret", secret],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
admitted = testpub("rogue", 777, K + "/rogue.key_secret")
try:
    top.wait(lambda t, b: t == "stats/rogue/" and b["epoch"] == 777, 30,
             "a publisher with a key added by SIGHUP")
finally:
    admitted.terminate()
    admitted.wait()
# A new connection with the revoked key is refused; its frames never arrive.
refused_before = top.wait_counters("master", lambda b: True, 10, "counters")["dropped"]["refused"]
late = testpub("cn2", 4242, K + "/cn2.key_secret")
try:
    top.wait_counters("master", lambda b: b["dropped"]["refused"] > refused_before, 30,
                      "the revoked key refused")
    end = time.monotonic() + 2
    while time.monotonic() < end:
        m = top.recv(0.1)
        if m and m[0] == "stats/cn2/" and m[1]["epoch"] == 4242:
            fail("a new connection with a revoked key got through")
finally:
    late.terminate()
    late.wait()
if top.gaps.get(("cn1", "stats"), 0) or top.dups.get(("cn1", "stats"), 0):
    fail("cn1 lost %d / duplicated %d frames across the reloads" %
         (top.gaps.get(("cn1", "stats"), 0), top.dups.get(("cn1", "stats"), 0)))
print("ok: %d cn1 frames, no gap; dropped %r" % (top.count[("cn1", "stats")], c["dropped"]))
PY
grep -q "refused connection from .* with key .*: key not in the allow list" "$TMP/master.log" ||
	{ echo "FAIL: the refusal was not logged with peer and key" >&2; exit 1; }
[ "$(grep -c "refused connection" "$TMP/master.log")" -le 3 ] ||
	{ echo "FAIL: refusals not rate-limited: $(grep -c "refused connection" "$TMP/master.log") lines" >&2; exit 1; }
grep -q "key 'cn2' may not speak for host 'cn9'" "$TMP/master.log" ||
	{ echo "FAIL: the host mismatch was not logged" >&2; exit 1; }
