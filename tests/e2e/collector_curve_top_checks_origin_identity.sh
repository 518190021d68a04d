#!/bin/bash
# Proves: with curve on, intermediates whose keys have role = relay pass each frame's first-hop identity upstream (a third frame on that hop only), so a top that knows that identity with other hosts drops its frames (origin_mismatch) while others pass, an unknown origin passes and is counted (origin_unknown), and a key without the relay right sending an origin frame is dropped as malformed and logged once with endpoint and key.
. "$(dirname "$0")/../collector/e2e_lib.sh"
KEYGEN=${STACKMON_BINARY_DIR:?}/src/keygen/stackmon-keygen
K=$TMP/keys
mkdir -p "$K/top-allow" "$K/rack1-allow" "$K/rack0-allow"
key() { "$KEYGEN" --dir "$K" --name "$@" >/dev/null; }
key top
key rack1 --host 'cn*' --host 'rack*' --relay   # speaks for the hosts below it, relays
key rack0 --host 'cn*' --host rack0 --relay      # a lower intermediate, below rack1
key m1 --host cn1
key m2 --host cn2
key m3 --host cn3
key direct --host cn5                           # a monitor's key: no relay right
key reader
# Below, m1 speaks for cn1; the top knows the same key as cn9's only.
sed 's/host = "cn1"/host = "cn9"/' "$K/m1.key" >"$K/top-allow/m1.key"
grep -q 'host = "cn9"' "$K/top-allow/m1.key" || { echo "FAIL: could not edit m1.key" >&2; exit 1; }
cp "$K/rack1.key" "$K/m2.key" "$K/direct.key" "$K/reader.key" "$K/top-allow/"
cp "$K/rack0.key" "$K/m2.key" "$K/m3.key" "$K/reader.key" "$K/rack1-allow/"
cp "$K/m1.key" "$K/reader.key" "$K/rack0-allow/"

start_collector top --curve yes --curve-secret-key "$K/top.key_secret" \
	--curve-allow-dir "$K/top-allow"
start_collector rack1 --curve yes --curve-secret-key "$K/rack1.key_secret" \
	--curve-allow-dir "$K/rack1-allow" --upstream "$(in_ep top)=$(out_ep top)@$K/top.key"
start_collector rack0 --curve yes --curve-secret-key "$K/rack0.key_secret" \
	--curve-allow-dir "$K/rack0-allow" --upstream "$(in_ep rack1)=$(out_ep rack1)@$K/rack1.key"
start_testpub cn1 --connect "$(in_ep rack0)=$(out_ep rack0)@$K/rack0.key" --rate 20 \
	--curve-secret "$K/m1.key_secret"
start_testpub cn2 --connect "$(in_ep rack1)=$(out_ep rack1)@$K/rack1.key" --rate 20 \
	--curve-secret "$K/m2.key_secret"
start_testpub cn3 --connect "$(in_ep rack1)=$(out_ep rack1)@$K/rack1.key" --rate 20 \
	--curve-secret "$K/m3.key_secret"
# Straight to the top, claiming an origin: its key may not relay.
start_testpub cn5 --connect "$(in_ep top)=$(out_ep top)@$K/top.key" --rate 20 \
	--curve-secret "$K/direct.key_secret" --origin m2

$PY - "$K" "$(out_ep top)" "$(out_ep rack1)" <<'PY'
from smtest import Sub, fail
K, top_out, rack1_out = __import__("sys").argv[1:4]

top = Sub(top_out, curve=(K + "/reader.key_secret", K + "/top.key"))
mid = Sub(rack1_out, curve=(K + "/reader.key_secret", K + "/rack1.key"))
# rack1 itself takes cn1's frames (rack0 speaks for cn*, m1 for cn1 below).
mid.wait(lambda t, b: t == "stats/cn1/", 30, "cn1 through rack0 at rack1")
top.wait(lambda t, b: t == "stats/cn2/", 30, "cn2 (origin m2, known, matching) at the top")
top.wait(lambda t, b: t == "stats/cn3/", 30, "cn3 (origin m3, unknown) at the top")
top.wait(lambda t, b: t == "collector/rack0/", 30, "rack0's counters at the top")
c = top.wait_counters("top", lambda b: b["dropped"].get("origin_mismatch", 0) >= 10
                      and b["dropped"].get("malformed", 0) >= 10
                      and b.get("origin_unknown", 0) >= 10, 30,
                      "origin_mismatch, malformed and origin_unknown counted at the top")
top.pump(2)
for host in ("cn1", "cn5"):
    if any(h == host for h, _ in top.count):
        fail("frames of %s reached the top's fan-out" % host)
if c["dropped"]["host_mismatch"]:
    fail("delegation failed where it should hold: %r" % c["dropped"])
r1 = mid.wait_counters("rack1", lambda b: True, 10, "rack1's counters")
if r1["dropped"]["origin_mismatch"] or r1["dropped"]["malformed"]:
    fail("rack1 dropped frames it should relay: %r" % r1["dropped"])
print("ok: top dropped %d (origin_mismatch) and %d (malformed), passed %d cn2 and %d cn3 "
      "frames, counted origin_unknown %d" %
      (c["dropped"]["origin_mismatch"], c["dropped"]["malformed"],
       top.count.get(("cn2", "stats"), 0), top.count.get(("cn3", "stats"), 0),
       c["origin_unknown"]))
PY
# The first hop's identity survived two relays: m1, not rack0.
grep -q "relayed by key 'rack1' from origin 'm1', which may not speak for host 'cn1'" "$TMP/top.log" ||
	{ echo "FAIL: the origin mismatch was not logged with relay, origin and host" >&2; exit 1; }
grep -q "dropped malformed message from fan-in $(in_ep top), key 'direct'.*without role = relay" "$TMP/top.log" ||
	{ echo "FAIL: the origin frame of a non-relay key was not logged with endpoint and key" >&2; exit 1; }
[ "$(grep -c "key 'direct'" "$TMP/top.log")" -le 1 ] ||
	{ echo "FAIL: malformed origin frames not rate-limited: $(grep -c "key 'direct'" "$TMP/top.log") lines" >&2; exit 1; }
