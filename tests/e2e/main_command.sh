#!/usr/bin/env bash
# The README's main command works end to end: scripts/run-suite.sh refuses
# to start on a busy port (naming it, its holder and the option to choose
# another), starts the suite on free ports it is given, stackmon-sub reads
# valid JSON stats with exactly the generated node's active domains from the
# fan-out it prints, the dashboard it prints answers with those domains, a
# second run-suite on the same --run-dir is refused, and Ctrl-C (SIGINT to
# its process group) stops everything: none of the processes it recorded in
# RUNDIR/pids or started as children is left, its ports are free.
# Usage: main_command.sh [CTEST_BUILD_DIR]   (stackmon-sub is taken from it)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
suite_build=$build # run-suite.sh --no-build --build-dir runs this build's daemons
sub=$build/src/sub/stackmon-sub
py=/usr/bin/python3
tmp=$(mktemp -d)
out=$tmp/run-suite.out
run=$tmp/run # the suite's --run-dir: another copy's run/ is never touched
suite=
holder=
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $*"; exit 77; }

# ---- preconditions: a built tree ----
for b in src/collector/stackmon-collector src/monitor/stackmon-monitor; do
  [ -x "$suite_build/$b" ] ||
    skip "$suite_build/$b is not built (run-suite.sh --no-build runs $suite_build; build it first)"
done
[ -x "$sub" ] || skip "$sub is not built"
[ "$build" -ef "$suite_build" ] ||
  echo "NOTE: run-suite.sh runs the daemons of $suite_build; this test's build is $build"
port_free() { $py -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
# Three consecutive free ports below Linux's ephemeral range, so that this
# test never meets another copy of the suite on the default ones.
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
ports=("$base" "$((base + 1))" "$((base + 2))")
echo "ports: fan-in ${ports[0]}, fan-out ${ports[1]}, dashboard ${ports[2]}"

# ---- process bookkeeping: every process the suite starts is remembered ----
# Only processes this test's run-suite started count: its descendants, its
# process group, and what it recorded in RUNDIR/pids (daemons that detach,
# such as a libvirtd it had to start). Never processes that merely look alike:
# another copy of the suite may run next to this one.
declare -A seen # pid -> start time (/proc/PID/stat field 22), to tell a reused pid
starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  awk '{ print $20 }' <<<"$stat"
}
remember_tree() {
  local pids=("$1") p kids
  while ((${#pids[@]})); do
    p=${pids[0]}; pids=("${pids[@]:1}")
    [ -r "/proc/$p/stat" ] || continue
    seen[$p]=$(starttime "$p")
    kids=$(pgrep -P "$p" 2>/dev/null) || true
    for k in $kids; do pids+=("$k"); done
  done
  # Anything else in the suite's process group, too.
  for k in $(pgrep -g "$1" 2>/dev/null); do
    [ -n "${seen[$k]:-}" ] || seen[$k]=$(starttime "$k")
  done
  remember_recorded
}
declare -A recorded # pid -> NAME, from RUNDIR/pids
remember_recorded() {
  local pid st name
  [ -r "$run/pids" ] || return 0
  while read -r pid st name; do
    [[ $pid =~ ^[0-9]+$ && $st =~ ^[0-9]+$ ]] || continue
    recorded[$pid]=$name
    seen[$pid]=$st
  done <"$run/pids"
}
alive() { # pid still the process we saw?
  [ -n "${seen[$1]:-}" ] && [ "$(starttime "$1")" = "${seen[$1]}" ]
}
# A zombie has exited and holds nothing but its pid; reaping it is its
# parent's job, and once its parent (lighttpd, for a finished CGI) is gone,
# the job of whatever init the machine runs. Some container inits never reap,
# so zombies are reported but not counted as "left running".
zombie() {
  [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]
}
running() { alive "$1" && ! zombie "$1"; }
cleanup() {
  if [ -n "$suite" ] && kill -0 "$suite" 2>/dev/null; then
    kill -INT -- "-$suite" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$suite" 2>/dev/null || break; sleep 0.1; done
  fi
  for p in "${!seen[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
  [ -z "$holder" ] || kill "$holder" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- a busy port: run-suite.sh says which, by what, and exits ----
# hold PORT: a listener on 127.0.0.1:PORT until release; $holder is its pid.
hold() {
  $py -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ready", flush=True); time.sleep(300)' "$1" \
    >"$tmp/holder.out" 2>&1 &
  holder=$!
  for _ in $(seq 100); do grep -q ready "$tmp/holder.out" && return 0; sleep 0.1; done
  fail "could not hold port $1: $(cat "$tmp/holder.out")"
}
release() { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=; }
# busy_case NAME PORT OPTION ARGS...: run-suite.sh with ARGS while PORT is
# held must exit non-zero at once, name the port, the holder and OPTION, and
# start nothing.
busy_case() {
  local name=$1 port=$2 option=$3 rc
  shift 3
  hold "$port"
  timeout 60 "$top/scripts/run-suite.sh" --no-build --build-dir "$build" --for 30 \
    --run-dir "$tmp/busy-run" "$@" \
    >"$tmp/busy.out" 2>&1
  rc=$?
  local why=
  if ((rc == 0 || rc == 124)); then
    why="run-suite.sh exited $rc with port $port held, want a refusal"
  elif ! grep -q "port $port .*in use by python3 (pid $holder)" "$tmp/busy.out"; then
    why="no line naming port $port and its holder python3 (pid $holder)"
  elif ! grep -q -- "$option N" "$tmp/busy.out"; then
    why="the message does not name $option"
  elif grep -q "StackMon is running" "$tmp/busy.out"; then
    why="the suite started anyway"
  fi
  if [ -n "$why" ]; then
    fail "$name: $why; run-suite.sh said:"
    sed 's/^/    /' "$tmp/busy.out"
  else
    echo "ok: $name: exit $rc: $(grep -m1 "port $port" "$tmp/busy.out")"
  fi
  release
}
busy_case "fan-out port busy" "${ports[1]}" --port-base --port-base "$base"
if [ -x "$suite_build/dashboard/stackmon.cgi" ]; then
  busy_case "dashboard port busy" "${ports[2]}" --dashboard-port \
    --port-base "$base" --dashboard-port "${ports[2]}"
fi

# ---- start the main command as an operator would ----
# --for is only a safety net (the suite stops itself if this test dies); the
# stop under test is the SIGINT below, long before it. Job control (set -m)
# gives run-suite its own process group with SIGINT not ignored, as a
# terminal's Ctrl-C would find it.
set -m
"$top/scripts/run-suite.sh" --no-build --build-dir "$build" --port-base "$base" --run-dir "$run" \
  --for 120 >"$out" 2>&1 &
suite=$!
set +m
echo "run-suite.sh started (pid $suite)"

fan_out=
for _ in $(seq 600); do # up to 60 s
  fan_out=$(sed -n 's/^ *fan-out: *\([^ ]*\).*/\1/p' "$out")
  [ -n "$fan_out" ] && break
  kill -0 "$suite" 2>/dev/null || break
  sleep 0.1
done
remember_tree "$suite"
if [ -z "$fan_out" ]; then
  cat "$out"
  fail "run-suite.sh printed no fan-out endpoint in 60 s"
  exit 1
fi
echo "fan-out: $fan_out"
[ "$fan_out" = "tcp://127.0.0.1:${ports[1]}" ] || fail "fan-out is $fan_out, want port ${ports[1]} (--port-base $base)"

# ---- RUNDIR/pids: what run-suite started, each alive while it runs ----
if [ ! -s "$run/pids" ]; then
  fail "run-suite.sh wrote no $run/pids"
else
  [ "$(awk '$3 == "run-suite" { print $1 }' "$run/pids")" = "$suite" ] ||
    fail "$run/pids does not name run-suite.sh (pid $suite): $(tr '\n' ';' <"$run/pids")"
  for want in collector monitor; do
    grep -q " $want\$" "$run/pids" || fail "$run/pids has no $want"
  done
  for p in "${!recorded[@]}"; do
    running "$p" || fail "${recorded[$p]} (pid $p in $run/pids) is not running"
  done
  echo "ok: $run/pids lists ${#recorded[@]} running processes: $(awk '{ print $3 }' "$run/pids" | tr '\n' ' ')"
fi
[ -s "$run/logs/collector.log" ] || fail "no collector log in --run-dir $run"

# ---- a second copy on the same run directory is refused ----
timeout 60 "$top/scripts/run-suite.sh" --no-build --build-dir "$build" --port-base "$base" \
  --run-dir "$run" --for 30 >"$tmp/second.out" 2>&1
rc=$?
if ((rc == 0 || rc == 124)) || ! grep -q "$run is in use by another run-suite (pid $suite)" "$tmp/second.out" ||
   ! grep -q -- "--run-dir DIR" "$tmp/second.out"; then
  fail "a second run-suite.sh on $run: exit $rc, want a refusal naming pid $suite and --run-dir:"
  sed 's/^/    /' "$tmp/second.out"
else
  echo "ok: a second run-suite on the same run dir: exit $rc: $(head -1 "$tmp/second.out")"
fi
[ "$(awk '$3 == "run-suite" { print $1 }' "$run/pids")" = "$suite" ] ||
  fail "the refused second copy rewrote $run/pids"
host=$(sed -n "s/^ *monitor: .* as host '\(.*\)'\$/\1/p" "$out")

# ---- stackmon-sub: three valid JSON stats lines with the node's domains ----
$py "$top/tests/fixtures/gen_node.py" --domains 12 --seed 7 --out "$tmp/node.xml"
t0=$SECONDS
"$sub" --connect "$fan_out" --kind stats --count 3 --timeout 20 >"$tmp/sub.out" 2>"$tmp/sub.err"
rc=$?
remember_tree "$suite"
echo "stackmon-sub: exit $rc after $((SECONDS - t0)) s, $(wc -l <"$tmp/sub.out") lines"
if ((rc != 0)); then
  cat "$tmp/sub.err"
  fail "stackmon-sub exited $rc (3 = timeout before 3 messages)"
fi
$py - "$tmp/node.xml" "$tmp/sub.out" "$host" <<'PY' || fail "stackmon-sub's output is not what the node holds"
import json, sys
import xml.etree.ElementTree as ET

TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
node = ET.parse(sys.argv[1]).getroot()
want = {}
for d in node.findall("domain"):
    runstate = d.find(TEST_NS + "runstate")
    if runstate is None or runstate.text.strip() != "5":  # 5: shut off, not reported
        want[d.findtext("uuid")] = d.findtext("name")
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
ok = len(lines) == 3
if not ok:
    print(f"want 3 lines, got {len(lines)}")
for n, line in enumerate(lines, 1):
    try:
        m = json.loads(line)
    except ValueError as e:
        print(f"line {n} is not JSON ({e}): {line[:200]}")
        ok = False
        continue
    if m.get("kind") != "stats" or m.get("v") != 1:
        print(f"line {n}: kind {m.get('kind')!r} v {m.get('v')!r}, want stats and 1")
        ok = False
    if sys.argv[3] and m.get("host") != sys.argv[3]:
        print(f"line {n}: host {m.get('host')!r}, run-suite said {sys.argv[3]!r}")
        ok = False
    got = {d["uuid"]: d["name"] for d in m.get("domains", [])}
    if set(got) != set(want):
        print(f"line {n}: domains {sorted(got)} != the node's active {sorted(want)}")
        ok = False
    for uuid, name in want.items():
        if name.startswith("instance-") and got.get(uuid) not in (None, name):
            print(f"line {n}: {uuid} is named {got.get(uuid)!r}, want {name!r}")
            ok = False
print(f"{'ok' if ok else 'bad'}: {len(lines)} JSON stats lines, {len(want)} active domains each")
sys.exit(0 if ok else 1)
PY

# ---- the dashboard answers with the domains ----
url=$(sed -n 's/^ *dashboard: *\(https\{0,1\}:[^ ]*\).*/\1/p' "$out")
if [ ! -x "$suite_build/dashboard/stackmon.cgi" ] || [ -z "$url" ]; then
  echo "SKIP (part): the dashboard is not part of the suite yet ($(sed -n 's/^ *dashboard: *//p' "$out"))"
else
  [[ $url == "http://127.0.0.1:${ports[2]}/"* ]] ||
    fail "the dashboard is at $url, want port ${ports[2]} (--port-base $base)"
  # Credentials as printed: "user 'U'  password 'P'" (scripts/dashboard-
  # lighttpd.sh's line) or "user: U" / "password: P" lines, in run-suite's
  # output, else in the lighttpd log it names.
  creds() {
    local u p
    sed -n "s/.*user '\([^']*\)'.*password '\([^']*\)'.*/\1:\2/p" "$1" | head -1
    u=$(sed -n 's/^ *\(user\|login\): *\([^ ]*\).*/\2/p' "$1" | head -1)
    p=$(sed -n 's/^ *password: *\([^ ]*\).*/\1/p' "$1" | head -1)
    [ -n "$u" ] && echo "$u:$p"
  }
  cred=$(creds "$out" | head -1)
  if [ -z "$cred" ] && [ -f "$run/logs/lighttpd.log" ]; then
    cred=$(creds "$run/logs/lighttpd.log" | head -1)
    [ -n "$cred" ] && echo "NOTE: run-suite.sh did not print the dashboard's credentials; took them from $run/logs/lighttpd.log"
  fi
  auth=()
  [ -n "$cred" ] && auth=(-u "$cred")
  # The home page, and the compute node's page (every instance on it).
  host_url="${url%/}/host?name=$host"
  ok=0
  for _ in $(seq 30); do # the aggregator's first write may take a few seconds
    : >"$tmp/page.html"
    if curl -fsS --max-time 10 "${auth[@]}" "$url" >>"$tmp/page.html" 2>"$tmp/curl.err" &&
       curl -fsS --max-time 10 "${auth[@]}" "$host_url" >>"$tmp/page.html" 2>>"$tmp/curl.err" &&
       $py - "$tmp/node.xml" "$tmp/page.html" >"$tmp/page.check" <<'PY'
import html, sys
import xml.etree.ElementTree as ET
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
NOVA = "{http://openstack.org/xmlns/libvirt/nova/1.1}"
page = html.unescape(open(sys.argv[2], encoding="utf-8", errors="replace").read())
missing = []
for d in ET.parse(sys.argv[1]).getroot().findall("domain"):
    rs = d.find(TEST_NS + "runstate")
    if rs is not None and rs.text.strip() == "5":
        continue
    names = [d.findtext("uuid"), d.findtext("name")]
    display = d.find(f"metadata/{NOVA}instance/{NOVA}name")
    if display is not None and display.text:
        names.append(display.text)
    if not any(n and n in page for n in names):
        missing.append(names[1][:40])
print("missing: " + ", ".join(missing) if missing else "all active domains shown")
sys.exit(1 if missing else 0)
PY
    then ok=1; break; fi
    sleep 1
  done
  remember_tree "$suite"
  if ((ok)); then
    echo "ok: dashboard $url: $(cat "$tmp/page.check")"
  else
    fail "dashboard $url: $(cat "$tmp/curl.err" "$tmp/page.check" 2>/dev/null)"
  fi
fi

# ---- Ctrl-C: everything stops ----
kill -0 "$suite" 2>/dev/null || fail "run-suite.sh was no longer running before SIGINT"
remember_tree "$suite"
echo "processes of the suite (${#seen[@]}):"
for p in "${!seen[@]}"; do echo "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"; done
t0=$SECONDS
kill -INT -- "-$suite"
for _ in $(seq 300); do kill -0 "$suite" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$suite" 2>/dev/null; then
  fail "run-suite.sh still running 30 s after SIGINT"
else
  wait "$suite"
  rc=$?
  echo "run-suite.sh exited $rc $((SECONDS - t0)) s after SIGINT"
  ((rc == 0)) || fail "run-suite.sh exited $rc after SIGINT, want 0"
fi
grep -q "run-suite: stopped" "$out" || fail "run-suite.sh did not say it stopped"
sleep 0.5
left=()
zombies=()
for p in "${!seen[@]}"; do
  if running "$p"; then
    left+=("$p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)")
  elif alive "$p" && zombie "$p"; then
    zombies+=("$p (parent $(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null))")
  fi
done
for p in $(pgrep -g "$suite" 2>/dev/null); do
  if zombie "$p"; then
    [[ " ${zombies[*]} " == *" $p "* ]] || zombies+=("$p (parent $(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null))")
  else
    left+=("process group $suite: $(pgrep -a -g "$suite" | grep "^$p ")")
  fi
done
((${#zombies[@]})) && echo "note: exited but not yet reaped by their parent/init: ${zombies[*]}"
if ((${#left[@]})); then
  fail "left running after Ctrl-C: ${left[*]}"
else
  echo "ok: no process of the suite left"
fi
for port in "${ports[@]}"; do
  port_free "$port" || fail "port $port still in use: $(ss -ltnp "sport = :$port" | tail -n +2)"
done

echo "---- run-suite.sh said ----"
cat "$out"
((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "ok: the main command starts, serves, and stops cleanly"
