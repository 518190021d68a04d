# e2e_lib.sh -- sourced by tests/e2e/collector_*.sh: a private temp dir for
# ipc:// endpoints and logs, collectors started and stopped by name, and a
# trap that ends every process the scenario started.
# Needs: COLLECTOR (stackmon-collector), TESTPUB (testpub) in the environment
# or as $1 $2 of the scenario.
set -eu
COLLECTOR=${COLLECTOR:-$1}
TESTPUB=${TESTPUB:-$2}
PY=/usr/bin/python3
HERE_LIB=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
export PYTHONPATH="$HERE_LIB${PYTHONPATH:+:$PYTHONPATH}"
TMP=$(mktemp -d /tmp/sm-e2e-XXXXXX)
STARTED=""

cleanup() {
	status=$?
	for pid in $STARTED; do kill "$pid" 2>/dev/null || true; done
	for pid in $STARTED; do wait "$pid" 2>/dev/null || true; done
	# Under -DSTACKMON_ASAN=ON a daemon's report lands in its log: that fails the test.
	if grep -l "Sanitizer" "$TMP"/*.log 2>/dev/null; then
		echo "FAIL: sanitizer report above" >&2
		status=1
	fi
	if [ "$status" -ne 0 ]; then
		for f in "$TMP"/*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
		done
	fi
	rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_ep() { echo "ipc://$TMP/$1.in"; }
out_ep() { echo "ipc://$TMP/$1.out"; }

# start_collector NAME [extra options...]: fan-in/fan-out on ipc in $TMP,
# quick heartbeats and counters so scenarios run in seconds.
start_collector() {
	name=$1
	shift
	"$COLLECTOR" --name "$name" --fan-in "$(in_ep "$name")" --fan-out "$(out_ep "$name")" \
		--heartbeat-interval 0.2 --stats-interval 0.5 --failover 1 \
		--reconnect-ivl-max-ms 500 "$@" >>"$TMP/$name.log" 2>&1 &
	eval "PID_$(echo "$name" | tr -c 'A-Za-z0-9\n' _)=$!"
	STARTED="$STARTED $!"
}

# stop_collector NAME [SIGNAL]
stop_collector() {
	var="PID_$(echo "$1" | tr -c 'A-Za-z0-9\n' _)"
	eval "pid=\$$var"
	kill -"${2:-TERM}" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# start_testpub NAME [testpub options...]: output in $TMP/NAME.out.txt
start_testpub() {
	name=$1
	shift
	"$TESTPUB" --host "$name" "$@" >"$TMP/$name.out.txt" 2>>"$TMP/$name.log" &
	STARTED="$STARTED $!"
	eval "PID_$(echo "$name" | tr -c 'A-Za-z0-9\n' _)=$!"
}

# wait_line FILE PATTERN SECONDS: waits for a line matching PATTERN.
wait_line() {
	end=$(($(date +%s) + $3))
	while [ "$(date +%s)" -le "$end" ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "FAIL: no line matching '$2' in $1 within $3 s" >&2
	return 1
}

# wait_file PATH SECONDS: waits for PATH to exist.
wait_file() {
	end=$(($(date +%s) + $2))
	until [ -e "$1" ]; do
		[ "$(date +%s)" -le "$end" ] || { echo "FAIL: no $1 within $2 s" >&2; return 1; }
		sleep 0.1
	done
}
