# shellcheck shell=bash
# e2e_lib.sh -- sourced by tests/e2e/exporter_*.sh: a private temp dir for
# ipc:// endpoints and logs; the exporter started on a port the system
# picks (its log line says which); a trap that ends every process the
# scenario started and shows the logs when it fails.
# Needs EXPORTER, COLLECTOR, MONITOR, SUB (stackmon-sub) in the environment
# or as $1 $2 $3 $4.
set -eu
EXPORTER=${EXPORTER:-$1}
COLLECTOR=${COLLECTOR:-${2:-}}
MONITOR=${MONITOR:-${3:-}}
SUB=${SUB:-${4:-}}
PY=/usr/bin/python3
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
SRC=$(cd "$LIB_DIR/../.." && pwd)
# shellcheck disable=SC2034 # used by the scenarios
CHECK="$PY $LIB_DIR/expo_check.py"
TMP=$(mktemp -d /tmp/sm-exp-e2e-XXXXXX)
FAN_IN="ipc://$TMP/in"
FAN_OUT="ipc://$TMP/out"
STARTED=""
EXP_PID=""
EXP_ADDR=""
ON_EXIT="" # a command a scenario adds to the cleanup (e.g. destroy its domain)

cleanup() {
	status=$?
	[ -z "$ON_EXIT" ] || eval "$ON_EXIT" >/dev/null 2>&1 || true
	for pid in $STARTED; do kill "$pid" 2>/dev/null || true; done
	for pid in $STARTED; do wait "$pid" 2>/dev/null || true; done
	# Under -DSTACKMON_ASAN=ON a daemon's report lands in its log: that fails the test.
	if grep -l "Sanitizer" "$TMP"/*.log 2>/dev/null; then
		echo "FAIL: sanitizer report above" >&2
		status=1
	fi
	if [ "$status" -ne 0 ]; then
		for f in "$TMP"/*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
		done
	fi
	rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

start_collector() {
	"$COLLECTOR" -c /dev/null --name c1 --fan-in "$FAN_IN" --fan-out "$FAN_OUT" \
		--heartbeat-interval 0.2 >>"$TMP/collector.log" 2>&1 &
	STARTED="$STARTED $!"
}

# start_monitor URI HOST: a monitor publishing every second to the fan-in.
start_monitor() {
	"$MONITOR" -c /dev/null --uri "$1" --publish "$FAN_IN" --host "$2" \
		--interval 1 >>"$TMP/monitor.log" 2>&1 &
	MON_PID=$!
	STARTED="$STARTED $MON_PID"
}

# start_exporter [LOGNAME] [options...]: the exporter on the fan-out (or on
# $EXP_SUBSCRIBE), on 127.0.0.1 and a port the system picks; sets EXP_PID
# and EXP_ADDR (HOST:PORT, or unix:PATH with --listen unix:...).
start_exporter() {
	local log=$TMP/${1:-exporter}.log
	shift || true
	"$EXPORTER" -c /dev/null --subscribe "${EXP_SUBSCRIBE:-$FAN_OUT}" --listen 127.0.0.1:0 -v "$@" \
		>>"$log" 2>&1 &
	EXP_PID=$!
	STARTED="$STARTED $EXP_PID"
	wait_for 20 grep -q "serving http" "$log" || fail "the exporter did not start: $(cat "$log")"
	EXP_ADDR=$(sed -n 's#.*serving https\{0,1\}://\([^ ]*\)/metrics.*#\1#p' "$log" | tail -n 1)
}

# scrape [URL]: the exporter's /metrics on stdout (curl fails on an HTTP error).
scrape() {
	curl -fsS --max-time 10 "${1:-http://$EXP_ADDR/metrics}"
}

# metric TEXT_FILE NAME [LABEL=VALUE...]: the value of the one sample of
# NAME whose labels include those given (expo_check.py reads the format).
metric() {
	$CHECK value "$@"
}

# free_port: a TCP port nothing listens on now, on 127.0.0.1.
free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
