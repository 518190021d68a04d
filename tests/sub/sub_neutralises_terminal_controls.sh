#!/usr/bin/env bash
# Proves stackmon-sub never prints a tenant name's terminal controls raw: a
# display name holding CSI (U+009B), RIGHT-TO-LEFT OVERRIDE (U+202E) and ESC
# reaches neither the JSON lines nor the table as those bytes, and the JSON
# still decodes to exactly the name the tenant chose.
set -euo pipefail
publisher=$1
sub=$2
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
ep="ipc://$tmp/pub.sock"
# "evil" CSI "2J" RLO "gpj.exe" ESC "]0;owned" BEL
name=$(printf 'evil\xc2\x9b2J\xe2\x80\xaegpj.exe\x1b]0;owned\x07')
"$publisher" "$ep" "$tmp/c.jsonl" 100 "$name" & pids+=($!)

# 12 messages: six rounds, so that the named domain's full record (every
# fifth round; its brief records wait for it) is among them.
"$sub" --connect "$ep" --kind stats,event --count 12 --timeout 30 > "$tmp/out.jsonl"
"$sub" --connect "$ep" --kind stats,event --table --count 12 --timeout 30 > "$tmp/table.txt"

/usr/bin/python3 - "$tmp" "$name" <<'PY'
import json, os, sys
d, name = sys.argv[1], os.fsencode(sys.argv[2]).decode("utf-8")
raw_bad = [b"\xc2\x9b", b"\xe2\x80\xae", b"\x1b", b"\x07"]
for f in ("out.jsonl", "table.txt"):
    data = open(os.path.join(d, f), "rb").read()
    for b in raw_bad:
        assert b not in data, (f, b, data)
lines = open(os.path.join(d, "out.jsonl"), "rb").read().splitlines()
assert len(lines) == 12, lines
names = []
for l in lines:
    m = json.loads(l)
    if m["kind"] == "stats":
        here = [x["identity"]["display_name"] for x in m["domains"] if x["identity"]]
    else:
        here = [m["identity"]["display_name"]]
    if here:
        assert b"\\u009b" in l and b"\\u202e" in l and b"\\u001b" in l, l
    names += here
assert len(names) > 6 and all(n == name for n in names), (names, name)
table = open(os.path.join(d, "table.txt"), encoding="utf-8").read().splitlines()
shown = [l for l in table if "evil" in l]
assert shown, table
for l in shown:
    assert "evil\ufffd2J\ufffdgpj.exe\ufffd]0" in l, l
print("stackmon-sub: terminal controls escaped in JSON, replaced in the table")
PY
