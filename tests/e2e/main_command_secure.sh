#!/usr/bin/env bash
# Proves: `scripts/run-suite.sh --secure --for N` runs the whole suite on CurveZMQ: it makes the key pairs (secrets 0600, the monitor's bound to its host) and the collector's allow list before anything connects, the node's frames flow end to end (the subscriber command it prints reads them, the aggregator writes them, the dashboard shows the node's domains), a plaintext subscriber and one with an unknown key get nothing, and an operator's Ctrl-C stops it all with exit 0 (--for's own ending is proved by main_command.sh).
# Usage: main_command_secure.sh [CTEST_BUILD_DIR]   (the daemons and stackmon-sub are taken from it)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
sub=$build/src/sub/stackmon-sub
keygen=$build/src/keygen/stackmon-keygen
py=/usr/bin/python3
for_s=180 # run-suite's --for: a safety net only; the test stops it with SIGINT
tmp=$(mktemp -d)
out=$tmp/run-suite.out
run=$tmp/run
suite=
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
cleanup() {
  if [ -n "$suite" ] && kill -0 "$suite" 2>/dev/null; then
    kill -INT -- "-$suite" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$suite" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

for b in src/collector/stackmon-collector src/monitor/stackmon-monitor src/sub/stackmon-sub \
         src/keygen/stackmon-keygen; do
  [ -x "$build/$b" ] || skip "$build/$b is not built"
done
# Three consecutive free ports below Linux's ephemeral range.
base=$($py - <<'PY'
import random, socket
for _ in range(500):
    b = random.randrange(20000, 32000)
    socks = []
    try:
        for p in (b, b + 1, b + 2):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(b)
    break
PY
)
[ -n "$base" ] || skip "no three consecutive free ports found in 20000-32000"

# Its own process group (set -m), so that cleanup reaches everything it started.
set -m
"$top/scripts/run-suite.sh" --no-build --build-dir "$build" --secure --no-qemu --churn 0 \
  --port-base "$base" --run-dir "$run" --for "$for_s" >"$out" 2>&1 &
suite=$!
set +m
t_start=$SECONDS
for _ in $(seq 600); do # up to 60 s
  grep -q "^Watch it:" "$out" && break
  kill -0 "$suite" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "^Watch it:" "$out"; then
  cat "$out"
  fail "run-suite.sh --secure did not come up in 60 s"
  exit 1
fi
fan_out=$(sed -n 's/^ *fan-out: *\([^ ]*\).*/\1/p' "$out")
host=$(sed -n "s/^ *monitor: *[^ ]* as host '\([^']*\)'\$/\1/p" "$out" | head -1)
read -r -a watch <<<"$(sed -n 's/^Watch it: *//p' "$out")"
echo "fan-out $fan_out, host '$host', watch: ${watch[*]}"
grep -q "^ *transport: *CurveZMQ" "$out" || fail "run-suite.sh does not say the transport is CurveZMQ"

# ---- the keys: made before the daemons, secrets 0600, clients allowed ----
k=$run/keys
for f in "$k"/*.key_secret; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), want 600"
done
allowed=$(find "$k/allow" -type f -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ')
[ "$allowed" = "aggregator.key alert.key exporter.key monitor-$host.key sub.key " ] ||
  fail "allow list: '$allowed', want aggregator.key alert.key exporter.key monitor-$host.key sub.key"
grep -q "host = \"$host\"" "$k/monitor-$host.key" 2>/dev/null ||
  fail "the monitor's key is not bound to host $host"
grep -q "allow list $k/allow: 5 key(s)" "$run/logs/collector.log" ||
  fail "the collector did not load the 5 allowed keys: $(tail -3 "$run/logs/collector.log")"

# ---- the subscriber command it prints reads the node's frames ----
[[ " ${watch[*]} " == *" --curve yes "* ]] || fail "the printed command has no --curve yes: ${watch[*]}"
unset 'watch[-1]' # --table: JSON lines are what is checked here
"${watch[@]}" --kind stats --host "$host" --count 2 --timeout 20 >"$tmp/curve.out" 2>"$tmp/curve.err"
rc=$?
n=$(grep -c '"kind":"stats"' "$tmp/curve.out")
if ((rc != 0 || n != 2)); then
  fail "the printed subscriber: exit $rc, $n stats lines: $(cat "$tmp/curve.err")"
else
  echo "ok: the printed subscriber read $n stats frames of $host over CurveZMQ"
fi

# ---- the exporter, subscribed with its own key, serves the node ----
metrics=$(sed -n 's/^ *prometheus: *\(http:[^ ]*\).*/\1/p' "$out")
if [ -z "$metrics" ]; then
  echo "SKIP (part): the exporter is not part of the suite yet ($(sed -n 's/^ *prometheus: *//p' "$out"))"
else
  ok=0
  for _ in $(seq 30); do
    curl -fsS --max-time 10 "$metrics" 2>/dev/null |
      grep -q "^stackmon_node_domains{host=\"$host\"} [1-9]" && { ok=1; break; }
    sleep 1
  done
  ((ok)) && echo "ok: the exporter serves $host's domains over CurveZMQ at $metrics" ||
    fail "the exporter at $metrics does not serve $host's domains in 30 s"
fi

# ---- a plaintext subscriber, and one with a key not allowed: nothing ----
"$keygen" --dir "$tmp" --name stranger >/dev/null
"$sub" --connect "$fan_out" --count 1 --timeout 5 >"$tmp/plain.out" 2>&1 &
plain=$!
"$sub" --connect "$fan_out" --curve yes --curve-secret-key "$tmp/stranger.key_secret" \
  --curve-server-key "$k/collector.key" --count 1 --timeout 5 >"$tmp/stranger.out" 2>&1 &
stranger=$!
wait "$plain"; rc_plain=$?
wait "$stranger"; rc_stranger=$?
if ((rc_plain != 3)) || grep -q '"kind"' "$tmp/plain.out"; then
  fail "a plaintext subscriber: exit $rc_plain (want 3, timeout), got: $(head -c 300 "$tmp/plain.out")"
fi
if ((rc_stranger != 3)) || grep -q '"kind"' "$tmp/stranger.out"; then
  fail "a subscriber with an unknown key: exit $rc_stranger (want 3), got: $(head -c 300 "$tmp/stranger.out")"
fi
grep -q "refused connection from .* with key" "$run/logs/collector.log" ||
  fail "the collector did not log the unknown key's refusal"
((rc_plain == 3 && rc_stranger == 3)) &&
  echo "ok: plaintext and unknown-key subscribers got nothing in 5 s; the collector logged the refusal"

# ---- end to end: the aggregator's files and the dashboard ----
if [ -x "$build/src/aggregator/stackmon-aggregator" ]; then
  files=0
  for _ in $(seq 30); do
    files=$(find "$run/data/domains" -name '*.wsp' 2>/dev/null | wc -l)
    ((files > 0)) && break
    sleep 1
  done
  if ((files > 0)); then
    echo "ok: the aggregator wrote $files domain files"
  else
    fail "the aggregator wrote no domain file in $run/data/domains"
  fi
fi
url=$(sed -n 's/^ *dashboard: *\(http:[^ ]*\).*/\1/p' "$out")
cred=$(sed -n "s/.*user '\([^']*\)'.*password '\([^']*\)'.*/\1:\2/p" "$out" | head -1)
if [ -n "$url" ] && [ -n "$cred" ]; then
  mapfile -t doms < <($py -c 'import sys, xml.etree.ElementTree as ET
T = "{http://libvirt.org/schemas/domain/test/1.0}runstate"
for d in ET.parse(sys.argv[1]).getroot().findall("domain"):
    if d.find(T) is None: print(d.findtext("uuid"))' "$run/node.xml")
  shown=0
  for _ in $(seq 30); do
    if curl -fsS --max-time 10 -u "$cred" "${url%/}/host?name=$host" >"$tmp/host.html" 2>"$tmp/curl.err"; then
      shown=0
      for u in "${doms[@]}"; do grep -q "$u" "$tmp/host.html" && shown=$((shown + 1)); done
      ((shown > 0 && shown == ${#doms[@]})) && break
    fi
    sleep 1
  done
  if ((${#doms[@]} > 0 && shown == ${#doms[@]})); then
    echo "ok: the dashboard's page of $host shows its ${#doms[@]} steady domains"
  else
    fail "the dashboard shows $shown of the ${#doms[@]} steady domains of $host: $(cat "$tmp/curl.err")"
  fi
else
  echo "SKIP (part): no dashboard in this build ($(sed -n 's/^ *dashboard: *//p' "$out"))"
fi

# ---- Ctrl-C ends it: exit 0, everything stopped ----
# (Waiting for --for instead cost 40 s of idling per run; main_command.sh
# proves --for's ending.)
kill -0 "$suite" 2>/dev/null || fail "run-suite.sh was no longer running before SIGINT"
stop_limit=30
grep -qs '^STACKMON_ASAN:BOOL=ON' "$build/CMakeCache.txt" && stop_limit=60
t0=$SECONDS
kill -INT -- "-$suite"
while kill -0 "$suite" 2>/dev/null && ((SECONDS - t0 < stop_limit)); do sleep 0.1; done
if kill -0 "$suite" 2>/dev/null; then
  fail "run-suite.sh --secure still running $stop_limit s after SIGINT"
else
  wait "$suite"
  rc=$?
  echo "run-suite.sh exited $rc $((SECONDS - t0)) s after SIGINT ($((SECONDS - t_start)) s in all)"
  ((rc == 0)) || fail "run-suite.sh --secure exited $rc after SIGINT, want 0"
  suite=
fi
grep -q "run-suite: stopped" "$out" || fail "run-suite.sh did not say it stopped"
while read -r pid st name; do
  [[ $pid =~ ^[0-9]+$ ]] || continue
  now=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$pid/stat" 2>/dev/null)
  [ "$now" = "$st" ] && [ "$name" != run-suite ] && fail "$name (pid $pid) still runs"
done <"$run/pids"

((failures == 0)) || { echo "---- run-suite.sh said ----"; cat "$out"; echo "$failures failure(s)"; exit 1; }
echo "ok: run-suite.sh --secure runs the suite on CurveZMQ end to end"
