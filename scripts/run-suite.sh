#!/usr/bin/env bash
# The main command: on a fresh Debian 12 machine, as root, installs what is
# missing, builds, and starts the whole StackMon suite on this machine, on a
# demo node that lives, then prints the dashboard's URL (with the user and
# password it made) and the fan-out endpoint; Ctrl-C (or --for) stops all it
# started, libvirtd only if it started it.
#   - stackmon-collector: fan-in tcp://127.0.0.1:7100, fan-out :7101;
#   - stackmon-monitor on libvirtd's test driver (test+unix:///default, host
#     = this machine's name): gen_node.py's node of several tenants' domains,
#     made and kept moving by scripts/demo-node.py: memory and vCPUs change
#     every 5 s, a domain starts or stops about every 25 s;
#   - a second stackmon-monitor (host NAME-qemu) on two small real QEMU
#     guests (TCG) of two tenants, doing a little CPU, disk and network work
#     each second, one paused 15 s of every minute, when QEMU works here;
#   - stackmon-aggregator and the dashboard under lighttpd (port 8080);
#   - stackmon-exporter, /metrics for Prometheus, on a port of 127.0.0.1 the
#     system picks (so it never collides; the URL is printed);
#   - stackmon-alert with the shipped rules (etc/stackmon/alert.rules), its
#     firing alerts on the dashboard's tenant and instance pages.
# libvirtd is the one running or one it starts (scripts/libvirtd.sh). When
# none can be had, it falls back to the same node in libvirt's in-process
# test driver and says so: that node's figures never move.
#
# Usage: scripts/run-suite.sh [OPTION]...
#   --for SECONDS        stop by itself after SECONDS (default: at Ctrl-C)
#   --no-qemu            no QEMU guests (the test-driver node only)
#   --qemu               only the QEMU guests, as this machine's host
#   --static             only the in-process test driver's node (nothing moves)
#   --domains N          domains in the test-driver node (default 12)
#   --churn SECONDS      a domain starts or stops every SECONDS, +-20 %
#                        (default 25; 0: never)
#   --port-base N        fan-in N, fan-out N+1, dashboard N+2
#                        (default 7100, 7101 and 8080)
#   --dashboard-port N   the dashboard's port alone
#   --run-dir DIR        logs, data, node file, dashboard files and DIR/pids:
#                        one line "PID STARTTIME NAME" for each process it
#                        started (default: run/; one run-suite per DIR)
#   --secure             CurveZMQ on every hop, as the installed package
#                        runs it: stackmon-keygen makes a key pair for the
#                        collector, each monitor (bound to its host), the
#                        aggregator, the exporter, the alerter and a "sub" for you in
#                        RUNDIR/keys; the
#                        collector admits those public keys only (so a
#                        plaintext subscriber gets nothing), and the
#                        "Watch it" line carries the options to subscribe.
#                        The dashboard and the demo node (which only drives
#                        libvirt) are the same either way. Without it every
#                        hop is plain text on 127.0.0.1.
#   --no-build           run the daemons already built in the build directory
#   --build-dir DIR      the build directory (default: build/)
# Every port must be free on 127.0.0.1: a busy one stops it before anything
# starts, naming the port, the process holding it when ss can tell, and the
# option that picks another. Two copies need their own --port-base and
# --run-dir. Exit 0 after Ctrl-C or --for; 1 when something could not start
# or a daemon died; 2 for a bad option.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

mode=living want_qemu=1 churn=25 domains=12 duration=0 build=1 secure=0
builddir=$top/build
port_base='' dashboard_port=''
run=$top/run
usage_error() { echo "run-suite: $* (try --help)" >&2; exit 2; }
port_arg() { # OPTION VALUE [ROOM]: VALUE is a TCP port with ROOM more after it
  if ! [[ $2 =~ ^[0-9]{1,5}$ ]] || (($2 < 1024 || $2 + ${3:-0} > 65535)); then
    usage_error "$1 takes a port number from 1024 to $((65535 - ${3:-0})), not '$2'"
  fi
}
while (($#)); do
  case $1 in
    --qemu) mode=qemu ;;
    --no-qemu) want_qemu=0 ;;
    --static) mode=static ;;
    --churn) [[ ${2-} =~ ^[0-9]+$ ]] || usage_error "--churn takes whole seconds"; churn=$2; shift ;;
    --domains) [[ ${2-} =~ ^[0-9]+$ ]] || usage_error "--domains takes a number"; domains=$2; shift ;;
    --for) [[ ${2-} =~ ^[0-9]+$ ]] || usage_error "--for takes whole seconds"; duration=$2; shift ;;
    --no-build) build=0 ;;
    --secure) secure=1 ;;
    --build-dir) builddir=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift ;;
    --port-base) port_arg "$1" "${2-}" 2; port_base=$2; shift ;;
    --dashboard-port) port_arg "$1" "${2-}"; dashboard_port=$2; shift ;;
    --run-dir) [ -n "${2-}" ] || usage_error "--run-dir takes a directory"; run=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown option $1" ;;
  esac
  shift
done

if ! mkdir -p "$run" || ! run=$(cd "$run" && pwd -P); then
  echo "run-suite: cannot use $run as run directory" >&2
  exit 1
fi
logs=$run/logs

# One run-suite per run directory: two would share logs, data, node file and
# pids. The lock lives as long as this shell (daemons do not inherit it).
exec {lockfd}>"$run/lock"
if ! flock -n "$lockfd"; then
  other=$(awk '$3 == "run-suite" { print $1; exit }' "$run/pids" 2>/dev/null)
  echo "run-suite: $run is in use by another run-suite${other:+ (pid $other)}" >&2
  echo "  give this one its own with --run-dir DIR (and its own ports with --port-base N)" >&2
  exit 1
fi

fan_in_port=${port_base:-7100}
fan_out_port=$((fan_in_port + 1))
if [ -z "$dashboard_port" ]; then
  if [ -n "$port_base" ]; then dashboard_port=$((port_base + 2)); else dashboard_port=8080; fi
fi
fan_in=tcp://127.0.0.1:$fan_in_port
fan_out=tcp://127.0.0.1:$fan_out_port
export DASHBOARD_PORT=$dashboard_port # read by scripts/dashboard-lighttpd.sh

# Each port must be free before anything starts: a second copy of the suite
# (or anything else) on them would otherwise answer in this one's place, and
# a subscriber would read the other copy's frames. A port is busy when
# something accepts connections on 127.0.0.1, or ss lists a listener that
# covers 127.0.0.1 (its own address, any IPv4 or any address).
listeners() { # ss's lines for listeners that take 127.0.0.1:$1
  command -v ss >/dev/null || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | awk '$4 ~ /^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]):/'
}
port_busy() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
  [ -n "$(listeners "$1")" ]
}
port_holder() { # "name (pid N)" of the listener on port $1, when ss can tell
  listeners "$1" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 (pid \2)/p' | head -1
}
ports=("fan-in:$fan_in_port:--port-base" "fan-out:$fan_out_port:--port-base")
# The dashboard's port matters only when there will be a dashboard.
if ((build)) || [ -x "$builddir/dashboard/stackmon.cgi" ]; then
  ports+=("dashboard:$dashboard_port:--dashboard-port")
fi
busy=0
for what in "${ports[@]}"; do
  IFS=: read -r role port option <<<"$what"
  port_busy "$port" || continue
  busy=1
  holder=$(port_holder "$port")
  [ -n "$holder" ] && holder="by $holder" || holder="(ss -ltnp cannot tell by what)"
  echo "run-suite: port $port ($role) on 127.0.0.1 is in use $holder" >&2
  if [ "$option" = --port-base ]; then
    echo "  choose other ports with --port-base N (fan-in N, fan-out N+1, dashboard N+2)" >&2
  else
    echo "  choose another dashboard port with --dashboard-port N (or --port-base N)" >&2
  fi
done
((busy == 0)) || exit 1
mkdir -p "$logs"

# $run/pids: every process this run started, "PID STARTTIME NAME", the start
# time (clock ticks after boot, /proc/PID/stat field 22) telling a reused PID
# apart. Tests check exactly these, not processes that merely look alike.
starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the command name may hold spaces and parentheses
  awk '{ print $20 }' <<<"$stat"
}
record_pid() { # PID NAME
  echo "$1 $(starttime "$1" || echo gone) $2" >>"$run/pids"
}
: >"$run/pids"
record_pid $$ run-suite

if ((build)); then
  scripts/install-deps.sh
  cmake -S . -B "$builddir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$logs/build.log"
  cmake --build "$builddir" -j"$(nproc)" >>"$logs/build.log" 2>&1 || {
    tail -30 "$logs/build.log"; echo "run-suite: build failed, see $logs/build.log" >&2; exit 1; }
fi
bin=$builddir/src
need=(collector/stackmon-collector monitor/stackmon-monitor sub/stackmon-sub)
((secure)) && need+=(keygen/stackmon-keygen)
for b in "${need[@]}"; do
  [ -x "$bin/$b" ] || { echo "run-suite: $bin/$b is not built" >&2; exit 1; }
done

pids=()
names=()
waiter=  # the sleep the main shell waits on: killed on stop, or it lingers
started_libvirtd=0
guests=()    # QEMU guests this run created
demo_node=0  # 1 once scripts/demo-node.py may have domains on the test driver
stopping=0
# stop_pids PASS: SIGTERM to every process of the pass, newest first, then
# wait for each (10 s, then SIGKILL). Pass "daemons" is everything but the
# demo node; pass "demo" stops that last, after the monitors, so that its
# domains do not all show as stopped on the way out.
# The 10 s are counted on the clock, not in sleeps: on a loaded machine a
# hundred `sleep 0.1` take far longer than 10 s. No `wait PID` here: bash
# reaps its children as they exit (kill -0 then fails), and when a signal
# to the whole process group (a terminal's Ctrl-C) ended some of them while
# the trap ran, `wait PID` for one of those blocked for good, waiting on the
# children still running (the demo node) that only this stop would end.
stop_pids() {
  local i n want=$1 deadline
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    n=daemons; [ "${names[i]}" = demo ] && n=demo
    [ "$n" = "$want" ] && kill -TERM "${pids[i]}" 2>/dev/null
  done
  deadline=$(($(now_ms) + 10000))
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    n=daemons; [ "${names[i]}" = demo ] && n=demo
    [ "$n" = "$want" ] || continue
    while kill -0 "${pids[i]}" 2>/dev/null && (($(now_ms) < deadline)); do sleep 0.1; done
    if kill -0 "${pids[i]}" 2>/dev/null; then
      echo "run-suite: ${names[i]} did not stop in 10 s; killing it" >&2
      kill -KILL "${pids[i]}" 2>/dev/null
      for _ in $(seq 20); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    fi
  done
}
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
# step WHAT COMMAND...: runs one step of the stop and says so when it was
# slow, so that a stop that takes long tells where the time went.
step() {
  local what=$1 t0
  shift
  t0=$(now_ms)
  "$@"
  local took=$(($(now_ms) - t0))
  ((took < 3000)) || printf 'run-suite: %s took %d.%d s\n' "$what" $((took / 1000)) $((took % 1000 / 100)) >&2
}
stop_all() {
  ((stopping)) && return
  stopping=1
  set +e # stopping must reach every process, whatever fails on the way
  if [ -n "$waiter" ]; then kill "$waiter" 2>/dev/null; fi
  echo
  echo "run-suite: stopping"
  local t0
  t0=$(now_ms)
  step "stopping the daemons" stop_pids daemons # consumers first, the monitors, then the collector
  step "stopping the demo node" stop_pids demo
  step "destroying the QEMU guests" destroy_guests
  # The demo node destroys its domains itself; this catches a killed one.
  if ((demo_node)); then step "checking the test driver" scripts/demo-node.py down --run-dir "$run"; fi
  if ((started_libvirtd)); then step "stopping libvirtd" scripts/libvirtd.sh stop >/dev/null 2>&1; fi
  t0=$(($(now_ms) - t0))
  echo "run-suite: stopped in $((t0 / 1000)).$((t0 % 1000 / 100)) s; logs are in $logs"
}
trap stop_all EXIT
# Ctrl-C or SIGTERM while starting: stop at once. Once everything runs, the
# signal only sets a flag and the loop below acts on it, so that the stopping
# never runs inside a signal trap that interrupted a `wait` (bash can then
# lose track of a child and wait for it forever).
interrupted=0 watching=0
on_signal() {
  interrupted=1
  ((watching)) || exit 0
}
trap on_signal INT TERM

# start NAME COMMAND...: runs a daemon in the background, its stderr/stdout
# in RUNDIR/logs/NAME.log, its PID in RUNDIR/pids, and fails early if it
# dies at once.
start() {
  local name=$1; shift
  "$@" >"$logs/$name.log" 2>&1 {lockfd}>&- &
  pids+=($!)
  names+=("$name")
  record_pid $! "$name"
  sleep 0.3
  if ! kill -0 $! 2>/dev/null; then
    echo "run-suite: $name failed to start:" >&2
    tail -20 "$logs/$name.log" >&2
    exit 1
  fi
}

# libvirtd for the test driver's shared node and the QEMU guests: the one
# running, or one started here (and stopped at the end). 1 when none answers.
need_libvirtd() {
  scripts/libvirtd.sh status >/dev/null 2>&1 && return 0
  echo "run-suite: starting libvirtd (scripts/libvirtd.sh start)"
  local rc=0
  scripts/libvirtd.sh start {lockfd}>&- 2>&1 | tee "$logs/libvirtd-start.log" || rc=$?
  # It daemonizes what it starts: record those ("started NAME (pid N)"), and
  # stop them at the end even when it did not get everything to answer.
  while read -r pid what; do
    record_pid "$pid" "$what"
    started_libvirtd=1
  done < <(sed -n 's/^libvirtd\.sh: started \(.*\) (pid \([0-9]*\))$/\2 \1/p' "$logs/libvirtd-start.log")
  return $rc
}

# Two small real QEMU guests (TCG) of two tenants, each doing a little CPU,
# disk and network work every second (tests/lib/guest-init.sh), created side
# by side; their names carry the run directory's tag so that two runs never
# clash. They go into RUNDIR/demo/guests for the demo node's on/off pattern.
start_guests() {
  local i=0 id pname user name qpid made=() jobs=() job rc=0
  while read -r id pname user; do
    i=$((i + 1))
    name=smtest-demo-$tag-$i
    made+=("$name")
    tests/lib/qemu_domain.sh create "$name" --load "$i" \
      --nova "$id" "$pname" "$user" "demo-vm-$i" m1.tiny >"$logs/qemu-$name.log" 2>&1 {lockfd}>&- &
    jobs+=($!)
  done <<'GUESTS'
a1a1a1a1000000000000000000000001 alpha 0a000000000000000000000000000001:alice
b2b2b2b2000000000000000000000002 beta 0b000000000000000000000000000001:bob
GUESTS
  for job in "${jobs[@]}"; do wait "$job" || rc=1; done
  for name in "${made[@]}"; do
    if ! qpid=$(tr -dc 0-9 <"/run/libvirt/qemu/$name.pid" 2>/dev/null) || [ -z "$qpid" ] ||
       ((rc != 0)); then
      echo "run-suite: could not start QEMU guest $name (see $logs/qemu-$name.log)" >&2
      rc=1
    fi
    guests+=("$name") # destroyed at the end, whatever happened
    [ -z "$qpid" ] || record_pid "$qpid" "qemu-guest-$name"
  done
  if ((rc)); then destroy_guests; return 1; fi
  printf '%s\n' "${guests[@]}" >"$run/demo/guests"
}
destroy_guests() {
  local d jobs=() job
  for d in "${guests[@]}"; do
    tests/lib/qemu_domain.sh destroy "$d" >/dev/null 2>&1 &
    jobs+=($!)
  done
  for job in "${jobs[@]}"; do wait "$job"; done
  guests=()
}

# start_demo ARGS...: scripts/demo-node.py run, like start(); 0 once its
# domains exist, 1 (and nothing left running) when it could not make them.
start_demo() {
  demo_node=1
  rm -f "$run/demo/ready" "$run/demo/guests"
  scripts/demo-node.py run --run-dir "$run" "$@" >"$logs/demo.log" 2>&1 {lockfd}>&- &
  pids+=($!)
  names+=(demo)
  record_pid $! demo
  for _ in $(seq 600); do # up to 60 s
    [ -e "$run/demo/ready" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "run-suite: the demo node did not come up:" >&2
  tail -5 "$logs/demo.log" >&2
  stop_pids demo
  unset 'pids[-1]' 'names[-1]'
  return 1
}

host=$(hostname -s 2>/dev/null | tr -c 'A-Za-z0-9._\n-' '-' || true)
host=${host:-stackmon-demo}
tag=$(printf '%s' "$run" | md5sum | cut -c1-4)
monitors=() # "URI|HOST|what it shows", one stackmon-monitor each
note=
guest_note="a steady load, every second one paused 15 s of every 60"
living="memory and vCPUs move every 5 s"
((churn > 0)) && living+=", a domain starts or stops about every $churn s"

case $mode in
  qemu)
    need_libvirtd || { echo "run-suite: --qemu needs libvirtd (see $logs/libvirtd-start.log)" >&2; exit 1; }
    start_demo --domains 0 || exit 1
    start_guests || exit 1
    monitors+=("qemu:///system|$host|${#guests[@]} QEMU guests under TCG: $guest_note")
    ;;
  living)
    if ! need_libvirtd; then
      note="libvirtd could not be started (see $logs/libvirtd-start.log)"
    elif ! start_demo --domains "$domains" --churn "$churn"; then
      note="the demo node could not start on libvirtd (see $logs/demo.log)"
    else
      monitors+=("test+unix:///default|$host|$domains domains of several tenants on libvirtd's test driver: $living")
      if ((want_qemu)); then
        if start_guests; then
          monitors+=("qemu:///system|$host-qemu|${#guests[@]} QEMU guests under TCG: $guest_note")
        else
          echo "run-suite: going on without QEMU guests"
        fi
      fi
    fi
    if [ -n "$note" ]; then
      echo "run-suite: $note: falling back to the in-process test driver, whose figures never move" >&2
      mode=static
    fi
    ;;
esac
if [ "$mode" = static ]; then
  scripts/demo-node.py node --run-dir "$run" --domains "$domains"
  monitors+=("test://$run/node.xml|$host|$domains domains of several tenants, in-process test driver: nothing moves")
fi

# --secure: every key pair made before anything starts, and every client's
# public key in the collector's allow list before that client connects
# (libzmq 4.3 never retries a connection the collector refused).
keys=$run/keys
collector_curve=() sub_curve=()
curve_client() { # NAME: the options of a client whose key pair is NAME
  ((secure)) || return 0
  printf '%s\n' --curve yes --curve-secret-key "$keys/$1.key_secret" \
    --curve-server-key "$keys/collector.key"
}
if ((secure)); then
  rm -rf "$keys"
  mkdir -p "$keys/allow"
  keygen() { "$bin/keygen/stackmon-keygen" --dir "$keys" --name "$@" >/dev/null; }
  keygen collector
  for m in "${monitors[@]}"; do
    IFS='|' read -r _ mhost _ <<<"$m"
    keygen "monitor-$mhost" --host "$mhost" # may send this host's frames only
  done
  keygen aggregator
  keygen exporter
  keygen alert
  keygen sub
  for f in "$keys"/*.key; do
    [ "${f##*/}" = collector.key ] || cp "$f" "$keys/allow/"
  done
  collector_curve=(--curve yes --curve-secret-key "$keys/collector.key_secret"
    --curve-allow-dir "$keys/allow")
  mapfile -t sub_curve < <(curve_client sub)
fi

start collector "$bin/collector/stackmon-collector" --fan-in "$fan_in" --fan-out "$fan_out" \
  --name master "${collector_curve[@]}" -c /dev/null
first=1 # the first monitor is "monitor"; the others are named after their host
for m in "${monitors[@]}"; do
  IFS='|' read -r uri mhost _ <<<"$m"
  mname=monitor
  ((first)) || mname=monitor-$mhost
  mapfile -t curve < <(curve_client "monitor-$mhost")
  start "$mname" "$bin/monitor/stackmon-monitor" --uri "$uri" \
    --publish "$fan_in=$fan_out" --host "$mhost" "${curve[@]}" -c /dev/null
  first=0
done

dashboard_url="(the dashboard is not built yet)"
if [ -x "$bin/aggregator/stackmon-aggregator" ]; then
  mkdir -p "$run/data"
  mapfile -t curve < <(curve_client aggregator)
  start aggregator "$bin/aggregator/stackmon-aggregator" --subscribe "$fan_out" \
    --data-dir "$run/data" "${curve[@]}" -c /dev/null
fi
metrics_url="(the exporter is not built yet)"
if [ -x "$bin/exporter/stackmon-exporter" ]; then
  mapfile -t curve < <(curve_client exporter)
  start exporter "$bin/exporter/stackmon-exporter" --subscribe "$fan_out" \
    --listen 127.0.0.1:0 "${curve[@]}" -c /dev/null
  for _ in $(seq 50); do
    grep -q "serving http" "$logs/exporter.log" && break
    sleep 0.1
  done
  metrics_url=$(sed -n 's#.*serving \(http://[^ ]*/metrics\).*#\1#p' "$logs/exporter.log" | head -1)
  [ -n "$metrics_url" ] || metrics_url="(see $logs/exporter.log)"
fi
if [ -x "$bin/alert/stackmon-alert" ]; then
  mkdir -p "$run/alert"
  mapfile -t curve < <(curve_client alert)
  start alert "$bin/alert/stackmon-alert" --subscribe "$fan_out" --data-dir "$run/alert" \
    --rules "$top/etc/stackmon/alert.rules" "${curve[@]}" -c /dev/null
fi
if [ -x "$builddir/dashboard/stackmon.cgi" ]; then
  export DASHBOARD_CGI=$builddir/dashboard/stackmon.cgi
  start lighttpd scripts/dashboard-lighttpd.sh run "$run"
  # The runner prints the URL and the credentials it generated.
  for _ in $(seq 50); do
    grep -q "^dashboard: " "$logs/lighttpd.log" && break
    sleep 0.1
  done
  dashboard_url=$(sed -n 's/^dashboard: *//p' "$logs/lighttpd.log" | head -1)
  [ -n "$dashboard_url" ] || dashboard_url="$(scripts/dashboard-lighttpd.sh url) (see $logs/lighttpd.log)"
fi

echo
echo "StackMon is running on this machine."
for m in "${monitors[@]}"; do
  IFS='|' read -r uri mhost what <<<"$m"
  echo "  monitor:    $uri as host '$mhost'"
  echo "              ($what)"
done
[ -z "$note" ] || echo "  note:       $note, so the figures never move"
watch="$bin/sub/stackmon-sub --connect $fan_out"
if ((secure)); then
  security="CurveZMQ on every hop; keys in $keys/, allow list $keys/allow/"
  watch+=" ${sub_curve[*]}"
else
  security="plain text on 127.0.0.1 (--secure: CurveZMQ)"
fi
cat <<MSG
  fan-in:     $fan_in   (monitors publish here)
  fan-out:    $fan_out   (subscribe here)
  transport:  $security
  dashboard:  $dashboard_url
  prometheus: $metrics_url   (stackmon-exporter)
  logs:       $logs/
  run dir:    $run   (pids: what this run started)
Watch it:     $watch --table
Press Ctrl-C to stop everything.
MSG

# Wake every second until --for runs out (or forever), and when any daemon
# dies, so that a crash is reported rather than hidden.
deadline=$((duration > 0 ? SECONDS + duration : 0))
watching=1
while ((!interrupted && (deadline == 0 || SECONDS < deadline))); do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      ((interrupted)) && break # Ctrl-C reached it first: not a crash
      echo "run-suite: ${names[i]} exited; see $logs/${names[i]}.log" >&2
      exit 1
    fi
  done
  sleep 1 &
  waiter=$!
  wait $waiter || true
done
