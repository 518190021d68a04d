#!/usr/bin/env bash
# The README's main command works end to end: scripts/run-suite.sh refuses
# to start on a busy port (naming it, its holder and the option to choose
# another), starts the suite on free ports it is given, stackmon-sub reads
# valid JSON stats with the generated node's active domains from the fan-out
# it prints, the node lives (its figures change, its domains start and stop,
# the QEMU guests report, an instance's graph on the dashboard is not flat),
# the dashboard it prints answers with those domains, a second run-suite on
# the same --run-dir is refused, and Ctrl-C (SIGINT to its process group)
# stops everything: none of the processes it recorded in RUNDIR/pids or
# started as children is left, nor its libvirt domains, its ports are free.
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
dashboard=0 # 1 when the suite serves a dashboard
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

# ---- --help names every option this test and the README rely on ----
"$top/scripts/run-suite.sh" --help >"$tmp/help.out" 2>&1 || fail "run-suite.sh --help exited $?"
for opt in --for --no-qemu --qemu --static --domains --churn --port-base --dashboard-port --secure \
           --run-dir --no-build --build-dir; do
  grep -q -- "^ *$opt " "$tmp/help.out" || fail "run-suite.sh --help does not describe $opt"
done

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
  --churn 5 --for 180 >"$out" 2>&1 &
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

# ---- what it watches, as it says: a living node, or a fallback it explains ----
host=$(sed -n "s/^ *monitor: *[^ ]* as host '\([^']*\)'\$/\1/p" "$out" | head -1)
node_uri=$(sed -n "s/^ *monitor: *\([^ ]*\) as host .*/\1/p" "$out" | head -1)
qemu_host=$(sed -n "s|^ *monitor: *qemu:///system as host '\([^']*\)'\$|\1|p" "$out" | head -1)
node=$run/node.xml
living=0
case $node_uri in
  test+unix:///default) living=1 ;;
  test:///*)
    if ! grep -q "falling back to the in-process test driver" "$out"; then
      fail "run-suite.sh runs the in-process test driver, whose figures never move, without saying why"
    elif [ "${STACKMON_REQUIRE_LIBVIRTD:-0}" = 1 ]; then
      fail "run-suite.sh fell back to the in-process test driver: $(grep -m1 "falling back" "$out")"
    else
      echo "SKIP (part): no libvirtd here, run-suite.sh fell back to the in-process test driver" \
        "(STACKMON_REQUIRE_LIBVIRTD=1 makes this a failure)"
    fi ;;
  *) fail "the first monitor watches '$node_uri', want libvirt's test driver" ;;
esac
echo "node: $node_uri as host '$host'"
[ -z "$qemu_host" ] || echo "QEMU guests: as host '$qemu_host'"

# Its node is gen_node.py's (seed 7, 12 domains) with UUIDs and names of its
# own: the same domains, tenants and states, one UUID prefix for the run.
$py "$top/tests/fixtures/gen_node.py" --domains 12 --seed 7 --out "$tmp/gen.xml"
$py - "$tmp/gen.xml" "$node" <<'PY' || fail "$node is not gen_node.py's node"
import sys
import xml.etree.ElementTree as ET
NOVA = "{http://openstack.org/xmlns/libvirt/nova/1.1}"
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
def doms(path):
    out = []
    for d in ET.parse(path).getroot().findall("domain"):
        rs = d.find(TEST_NS + "runstate")
        out.append((d.findtext("uuid"), d.findtext(f"metadata/{NOVA}instance/{NOVA}name"),
                    d.findtext(f"metadata/{NOVA}instance/{NOVA}owner/{NOVA}project"),
                    None if rs is None else rs.text))
    return out
gen, run = doms(sys.argv[1]), doms(sys.argv[2])
prefixes = {u[:8] for u, *_ in run}
ok = len(gen) == len(run) == 12 and len(prefixes) == 1 and all(
    g[0][8:] == r[0][8:] and g[1:] == r[1:] for g, r in zip(gen, run))
print(f"{'ok' if ok else 'bad'}: {len(run)} domains, UUID prefix {sorted(prefixes)}")
sys.exit(0 if ok else 1)
PY

# ---- stackmon-sub: valid JSON stats lines with the node's domains ----
# It joins a running pipeline: a domain shows once its monitor sends its
# next full record (full_interval, 30 s), and from then on in every frame.
# The check reads stackmon-sub's lines as they come (kept in sub.out) and
# closes the pipe after three frames with every domain, as a script would.
cat >"$tmp/check_sub.py" <<'PY'
import json, sys
import xml.etree.ElementTree as ET

TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
node = ET.parse(sys.argv[1]).getroot()
living = sys.argv[4] == "1"
want, pool = {}, set()
for d in node.findall("domain"):
    runstate = d.find(TEST_NS + "runstate")
    if runstate is None or runstate.text.strip() != "5":  # 5: shut off, not reported
        want[d.findtext("uuid")] = d.findtext("name")
    else:
        pool.add(d.findtext("uuid"))  # living: started and stopped in turn
prefix = next(iter(want))[:8]
ok = True
complete = None  # the first line listing every domain of the node
n = 0
with open(sys.argv[2], "w", encoding="utf-8") as keep:
    for n, line in enumerate(sys.stdin, 1):
        keep.write(line)
        try:
            m = json.loads(line)
        except ValueError as e:
            print(f"line {n} is not JSON ({e}): {line[:200]}")
            ok = False
            continue
        if m.get("kind") != "stats" or m.get("v") != 2:
            print(f"line {n}: kind {m.get('kind')!r} v {m.get('v')!r}, want stats and 2")
            ok = False
        if sys.argv[3] and m.get("host") != sys.argv[3]:
            print(f"line {n}: host {m.get('host')!r}, run-suite said {sys.argv[3]!r}")
            ok = False
        got = {d["uuid"]: d["name"] for d in m.get("domains", [])}
        # On libvirtd's shared test driver other clients' domains may show too,
        # but never one of this run's that the node does not hold.
        extra = set()
        for u in got:
            if u in want or (living and u in pool):
                continue
            if not living or u in pool or u.startswith(prefix):
                extra.add(u)
        if extra or (complete is not None and set(want) - set(got)):
            print(f"line {n}: missing {sorted(set(want) - set(got))}, unexpected {sorted(extra)}")
            ok = False
        if complete is None and not set(want) - set(got):
            complete = n
        for uuid, name in want.items():
            if name.startswith("instance-") and got.get(uuid) not in (None, name):
                print(f"line {n}: {uuid} is named {got.get(uuid)!r}, want {name!r}")
                ok = False
        if complete is not None and n >= complete + 2:
            break
# Every domain within the monitor's full_interval (30 frames) and 2 s, then
# in each frame.
if complete is None or complete > 32 or n < complete + 2:
    print(f"not every domain listed within 32 frames, then in 3 (line {complete} of {n})")
    ok = False
print(f"{'ok' if ok else 'bad'}: {n} JSON stats lines, the node's {len(want)} active"
      f" domains in each from line {complete} on")
sys.exit(0 if ok else 1)
PY
t0=$SECONDS
"$sub" --connect "$fan_out" --host "$host" --kind stats --count 40 --timeout 60 2>"$tmp/sub.err" |
  $py "$tmp/check_sub.py" "$node" "$tmp/sub.out" "$host" "$living"
rc=("${PIPESTATUS[@]}")
remember_tree "$suite"
echo "stackmon-sub: exit ${rc[0]} after $((SECONDS - t0)) s, $(wc -l <"$tmp/sub.out") lines"
if ((rc[0] != 0)); then
  cat "$tmp/sub.err"
  fail "stackmon-sub exited ${rc[0]} (3 = timeout before 40 messages)"
fi
((rc[1] == 0)) || fail "stackmon-sub's output is not what the node holds"

# ---- a living node: 25 s of frames and events, read while the dashboard is checked ----
live_sub=
if ((living)); then
  "$sub" --connect "$fan_out" --host "$host" --kind stats,event --timeout 25 \
    >"$tmp/live.out" 2>"$tmp/live.err" &
  live_sub=$!
fi

# ---- /metrics for Prometheus: the node's domains, in valid text ----
metrics=$(sed -n 's/^ *prometheus: *\(http:[^ ]*\).*/\1/p' "$out")
if [ ! -x "$suite_build/src/exporter/stackmon-exporter" ] || [ -z "$metrics" ]; then
  echo "SKIP (part): the exporter is not part of the suite yet ($(sed -n 's/^ *prometheus: *//p' "$out"))"
else
  ok=0
  for _ in $(seq 30); do # the monitor's first frames may take a few seconds
    if curl -fsS --max-time 10 "$metrics" >"$tmp/metrics.txt" 2>"$tmp/curl.err" &&
      grep -q "^stackmon_node_domains{host=\"$host\"} [1-9]" "$tmp/metrics.txt"; then
      ok=1
      break
    fi
    sleep 1
  done
  if ((ok)); then
    echo "ok: $metrics serves $(grep -c '^stackmon_domain_vcpus{' "$tmp/metrics.txt") domains of $host"
    promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1 ||
      fail "promtool check metrics on $metrics: $(head -5 "$tmp/promtool.out")"
  else
    fail "$metrics does not serve the domains of $host in 30 s: $(cat "$tmp/curl.err")"
  fi
fi

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
  dashboard=1
  # The home page, and the compute node's page (every instance on it).
  host_url="${url%/}/host?name=$host"
  ok=0
  for _ in $(seq 30); do # the aggregator's first write may take a few seconds
    : >"$tmp/page.html"
    if curl -fsS --max-time 10 "${auth[@]}" "$url" >>"$tmp/page.html" 2>"$tmp/curl.err" &&
       curl -fsS --max-time 10 "${auth[@]}" "$host_url" >>"$tmp/page.html" 2>>"$tmp/curl.err" &&
       $py - "$node" "$tmp/page.html" >"$tmp/page.check" <<'PY'
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

# ---- the figures move, domains start and stop, QEMU guests report ----
guests=()
[ -r "$run/demo/guests" ] && mapfile -t guests <"$run/demo/guests"
if ((living)); then
  wait "$live_sub"
  echo "stackmon-sub (25 s of stats and events): $(wc -l <"$tmp/live.out") lines"
  $py - "$node" "$tmp/live.out" <<'PY' || fail "the node's figures or domains do not move: $(cat "$tmp/live.err")"
import json, sys
import xml.etree.ElementTree as ET
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
steady, pool = set(), set()
for d in ET.parse(sys.argv[1]).getroot().findall("domain"):
    rs = d.find(TEST_NS + "runstate")
    (pool if rs is not None and rs.text.strip() == "5" else steady).add(d.findtext("uuid"))
events = {"started": set(), "stopped": set()}
seen = {}  # uuid -> the distinct (vCPUs, memory used) it reported; not vCPU %,
           # which a loaded machine makes wobble by itself
frames = 0
for line in open(sys.argv[2], encoding="utf-8"):
    m = json.loads(line)
    if m["kind"] == "event" and m["uuid"] in steady | pool:
        events.setdefault(m["event"], set()).add(m["uuid"])
    elif m["kind"] == "stats":
        frames += 1
        for d in m["domains"]:
            if d["uuid"] in steady:
                seen.setdefault(d["uuid"], set()).add((d["vcpus"], d["mem_used_kib"]))
moved = sorted(u for u, v in seen.items() if len(v) > 1)
print(f"{frames} frames: {len(moved)} of {len(seen)} steady domains changed figures; "
      f"started {len(events['started'])}, stopped {len(events['stopped'])} of the node's domains")
ok = frames >= 10 and moved and events["started"] and events["stopped"]
sys.exit(0 if ok else 1)
PY
  if [ -n "$qemu_host" ]; then
    # Each guest shows with its monitor's next full record (full_interval,
    # 30 s): read frames until both have, then close the pipe.
    "$sub" --connect "$fan_out" --host "$qemu_host" --kind stats --count 40 --timeout 45 \
      2>"$tmp/qemu.err" | $py -c '
import json, sys
want, names, lines = set(sys.argv[1:]), set(), 0
for line in sys.stdin:
    lines += 1
    names |= {d["name"] for d in json.loads(line)["domains"]}
    if len(want) == 2 and want <= names:
        break
print(f"{lines} frames of the QEMU node until {sorted(want & names)} showed")
sys.exit(0 if len(want) == 2 and want <= names else 1)
' "${guests[@]}" || fail "the QEMU guests are not in $qemu_host's frames"
  fi
fi
# What a newcomer sees: an instance's graph is not a flat line.
if ((living && dashboard)); then
  mapfile -t steady < <($py -c 'import sys, xml.etree.ElementTree as ET
for d in ET.parse(sys.argv[1]).getroot().findall("domain"):
    if d.find("{http://libvirt.org/schemas/domain/test/1.0}runstate") is None: print(d.findtext("uuid"))' "$node")
  graph=
  for _ in $(seq 30); do # the aggregator writes behind, up to 10 s late
    for u in "${steady[@]:0:4}"; do
      curl -fsS --max-time 10 "${auth[@]}" "${url%/}/api/v1/series?uuid=$u&metric=mem_used_kib&window=15m" \
        >"$tmp/series.json" 2>/dev/null || continue
      graph=$($py -c 'import json, sys
v = [x for x in json.load(open(sys.argv[1]))["values"] if x is not None]
if len(set(v)) > 1: print(f"{len(set(v))} different values in {len(v)} points")' "$tmp/series.json")
      [ -n "$graph" ] && break 2
    done
    sleep 1
  done
  if [ -n "$graph" ]; then
    echo "ok: instance $u's memory graph moves: $graph"
  else
    fail "every steady instance's memory graph is flat ($(head -c 300 "$tmp/series.json"))"
  fi
fi

# ---- Ctrl-C: everything stops ----
kill -0 "$suite" 2>/dev/null || fail "run-suite.sh was no longer running before SIGINT"
remember_tree "$suite"
echo "processes of the suite (${#seen[@]}):"
for p in "${!seen[@]}"; do running "$p" && echo "  $p $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | cut -c1-100)"; done
# An operator's Ctrl-C stops everything within 30 s; a sanitized build on
# a loaded 2-core machine gets twice that (its daemons exit slowly, and
# every virsh and QEMU call is slower), and a slow stop is reported.
stop_limit=30
grep -qs '^STACKMON_ASAN:BOOL=ON' "$build/CMakeCache.txt" && stop_limit=60
t0=$SECONDS
kill -INT -- "-$suite"
while kill -0 "$suite" 2>/dev/null && ((SECONDS - t0 < stop_limit)); do sleep 0.1; done
if kill -0 "$suite" 2>/dev/null; then
  fail "run-suite.sh still running $stop_limit s after SIGINT"
  echo "---- where run-suite.sh and its children wait ----"
  for p in $(pgrep -g "$suite"); do
    echo "  $p $(cat "/proc/$p/wchan" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"
  done
  echo "---- the last lines of the demo node's log ----"
  tail -15 "$run/logs/demo.log" 2>/dev/null
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
    left+=("$p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")")
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
# Nothing it made in libvirt is left either: the node's domains on the test
# driver, the QEMU guests.
if ((living)); then
  ours=$(virsh -q -c test+unix:///default list --uuid 2>/dev/null | grep -Fx -f <(
    sed -n 's/.*<uuid>\(.*\)<\/uuid>.*/\1/p' "$node"))
  [ -z "$ours" ] || fail "the node's domains still run on the test driver: $ours"
  for g in "${guests[@]}"; do
    ! virsh -q -c qemu:///system domuuid "$g" >/dev/null 2>&1 || fail "QEMU guest $g still exists"
  done
  [ -n "$ours" ] || echo "ok: no domain of the node and none of ${#guests[@]} QEMU guests left"
fi
for port in "${ports[@]}"; do
  port_free "$port" || fail "port $port still in use: $(ss -ltnp "sport = :$port" | tail -n +2)"
done

echo "---- run-suite.sh said ----"
cat "$out"
((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "ok: the main command starts, serves, and stops cleanly"
