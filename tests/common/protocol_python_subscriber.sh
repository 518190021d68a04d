#!/usr/bin/env bash
# Proves docs/PROTOCOL.md is enough to decode StackMon frames in another
# language: the Python example subscriber decodes every kind from a real C
# publisher over a real ZeroMQ socket, and each decoded field equals the C view.
set -euo pipefail
publisher=$1
subscriber=$2
tmp=$(mktemp -d)
trap 'kill $pub_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

endpoint="ipc://$tmp/pub.sock"
"$publisher" "$endpoint" "$tmp/c.jsonl" 60 &
pub_pid=$!
/usr/bin/python3 "$subscriber" --connect "$endpoint" --count 48 --timeout 30 --loss \
  > "$tmp/py.jsonl" 2> "$tmp/py.err"
wait $pub_pid
/usr/bin/python3 - "$tmp/c.jsonl" "$tmp/py.jsonl" "$tmp/py.err" <<'PY'
import json, math, sys
c = {}
for line in open(sys.argv[1]):
    m = json.loads(line)
    c[(m["kind"], m["seq"])] = m
py = [json.loads(l) for l in open(sys.argv[2])]
assert len(py) == 48, f"subscriber printed {len(py)} messages"

def same(a, b, path):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is None and b is None, f"{path}: {a!r} != {b!r}"
            return
        assert math.isclose(a, b, rel_tol=1e-6), f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) <= set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"

kinds = set()
expanded = 0
for m in py:
    ref = c[(m["kind"], m["seq"])]
    if m["kind"] == "stats" and len(m["domains"]) < len(ref["domains"]):
        # Joined after the first domain's full record: its brief records wait
        # for the next one (every fifth round); the rest is there.
        assert not any(m2["kind"] == "stats" and len(m2["domains"]) == 2 and m2["seq"] < m["seq"]
                       for m2 in py), f"stats {m['seq']}: a domain lost after its full record"
        assert ref["domains"][0]["since_us"] > 0, "a full record not shown"
        ref = dict(ref, domains=ref["domains"][1:])
    elif m["kind"] == "stats" and m["domains"][0]["since_us"] > 0:
        expanded += 1
    same(ref, m, m["kind"])
    kinds.add(m["kind"])
assert kinds == {"stats", "event", "hb", "collector"}, kinds
assert expanded >= 2, f"only {expanded} brief records expanded and compared"
s = next(m for m in py if m["kind"] == "stats" and len(m["domains"]) == 2)
assert s["domains"][0]["cpu_time_ns"] > 9007199254740993
assert (s["domains"][0]["cpu_time_ns"] - 9007199254740993) % 750000000 == 0
assert s["domains"][0]["identity"]["display_name"].startswith("<script>")
assert s["domains"][1]["name"] == "plain?vm?", s["domains"][1]["name"]
summary = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
assert summary["malformed"] == 0, summary
print(f"python subscriber decoded {len(py)} messages of {sorted(kinds)} identically")
PY

# A header field given twice (a second host after the payload) is refused,
# as by the C decoder: never read "last one wins".
/usr/bin/python3 - "$subscriber" <<'PY'
import importlib.util, sys
import msgpack
spec = importlib.util.spec_from_file_location("sub", sys.argv[1])
sub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sub)
def body(extra):
    pairs = [("v", 2), ("kind", "hb"), ("host", "cn-1"), ("time", 1764380000.5), ("seq", 1),
             ("epoch", 2), ("interval", 1.0)] + extra
    p = msgpack.Packer()
    return p.pack_map_header(len(pairs)) + b"".join(p.pack(k) + p.pack(v) for k, v in pairs)
assert sub.decode(b"hb/cn-1/", body([]))["host"] == "cn-1"
try:
    sub.decode(b"hb/cn-2/", body([("host", "cn-2")]))
except sub.BadMessage as e:
    assert "twice" in str(e), e
else:
    raise SystemExit("a host given twice was read")
print("python subscriber refuses a header field given twice")
PY
