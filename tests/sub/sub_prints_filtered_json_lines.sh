#!/usr/bin/env bash
# Proves stackmon-sub prints valid JSON lines from a real publisher, applies
# kind/host/tenant/domain filters, shows a sanitised table, honours --count
# and --timeout, and exits with the documented codes.
set -euo pipefail
publisher=$1
sub=$2
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
ep="ipc://$tmp/pub.sock"
"$publisher" "$ep" "$tmp/c.jsonl" 100 & pids+=($!)

"$sub" --connect "$ep" --count 8 --timeout 30 > "$tmp/all.jsonl"
"$sub" --connect "$ep" --kind event --count 3 --timeout 30 > "$tmp/events.jsonl"
"$sub" --connect "$ep" --host master --count 4 --timeout 30 > "$tmp/master.jsonl"
"$sub" --connect "$ep" --tenant acme --count 3 --timeout 30 > "$tmp/acme.jsonl"
"$sub" --connect "$ep" --domain instance-00000001 --kind stats --count 2 --timeout 30 \
  > "$tmp/dom.jsonl"
"$sub" --connect "$ep" --kind stats --table --count 2 --timeout 30 > "$tmp/table.txt"

/usr/bin/python3 - "$tmp" <<'PY'
import json, sys, os
d = sys.argv[1]
def lines(name):
    return [json.loads(l) for l in open(os.path.join(d, name))]
a = lines("all.jsonl")
assert len(a) == 8 and {m["kind"] for m in a} == {"stats", "event", "hb", "collector"}, a
e = lines("events.jsonl")
assert len(e) == 3 and all(m["kind"] == "event" for m in e)
m = lines("master.jsonl")
assert len(m) == 4 and all(x["host"] == "master" for x in m)
t = lines("acme.jsonl")
assert len(t) == 3
for x in t:
    assert x["kind"] in ("stats", "event"), x["kind"]
    if x["kind"] == "stats":
        assert [y["identity"]["project_name"] for y in x["domains"]] == ["acme"]
dom = lines("dom.jsonl")
assert len(dom) == 2 and all(len(x["domains"]) == 1 for x in dom)
table = open(os.path.join(d, "table.txt")).read().splitlines()
assert table[0].startswith("TIME(UTC)"), table[0]
assert any("plain?vm?" in l for l in table), table
assert all("\x01" not in l for l in table)
print("stackmon-sub: filters, JSON and table OK")
PY

# Exit codes: 3 on timeout before --count, 2 on usage errors, 0 on plain timeout.
set +e
"$sub" --connect "ipc://$tmp/nobody.sock" --count 1 --timeout 0.5 >/dev/null; rc=$?
[ $rc -eq 3 ] || { echo "timeout exit $rc, expected 3"; exit 1; }
"$sub" --connect "ipc://$tmp/nobody.sock" --timeout 0.3 >/dev/null; rc=$?
[ $rc -eq 0 ] || { echo "plain timeout exit $rc, expected 0"; exit 1; }
"$sub" --kind stats >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--connect" "$tmp/err" || { echo "no endpoint: exit $rc"; exit 1; }
"$sub" --connect "$ep" --kind metrics >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "metrics" "$tmp/err" || { echo "bad kind: exit $rc"; exit 1; }
"$sub" --connect "nonsense://x" --timeout 1 >/dev/null 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "nonsense://x" "$tmp/err" || { echo "bad endpoint: exit $rc"; cat "$tmp/err"; exit 1; }
echo "exit codes OK"

# A reader that stops early (head -1) ends stackmon-sub at once, with 0.
ep2="ipc://$tmp/pub2.sock"
"$publisher" "$ep2" "$tmp/c2.jsonl" 600 & pids+=($!)
start=$(date +%s)
"$sub" --connect "$ep2" --timeout 30 | head -1 > "$tmp/head.txt"
rc=${PIPESTATUS[0]}
[ $rc -eq 0 ] && [ $(( $(date +%s) - start )) -lt 15 ] && [ -s "$tmp/head.txt" ] ||
  { echo "closed pipe: exit $rc after $(( $(date +%s) - start )) s"; exit 1; }
echo "closed pipe OK"
