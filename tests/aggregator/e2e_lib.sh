# shellcheck shell=bash
# e2e_lib.sh -- sourced by tests/e2e/aggregator_*.sh: a private temp dir for
# ipc:// endpoints, data and logs; the aggregator and the test publisher
# started and stopped by PID; a trap that ends every process the scenario
# started and shows the logs when it fails.
# Needs AGG (stackmon-aggregator) and TESTPUB (agg_testpub) in the
# environment or as $1 $2; COLLECTOR and MONITOR as $3 $4 where used.
set -eu
AGG=${AGG:-$1}
TESTPUB=${TESTPUB:-$2}
COLLECTOR=${COLLECTOR:-${3:-}}
MONITOR=${MONITOR:-${4:-}}
PY=/usr/bin/python3
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
# shellcheck disable=SC2034 # used by the scenarios
CHECK="$PY $LIB_DIR/agg_check.py"
TMP=$(mktemp -d /tmp/sm-agg-e2e-XXXXXX)
PUB_EP="ipc://$TMP/pub"
DATA="$TMP/data"
STARTED=""
UNMOUNT=""
AGG_PID=""
PUB_PID=""

ON_EXIT="" # a command a scenario adds to the cleanup (e.g. destroy its domain)

cleanup() {
	status=$?
	[ -z "$ON_EXIT" ] || eval "$ON_EXIT" >/dev/null 2>&1 || true
	for pid in $STARTED; do kill "$pid" 2>/dev/null || true; done
	for pid in $STARTED; do wait "$pid" 2>/dev/null || true; done
	if [ "$status" -ne 0 ]; then
		for f in "$TMP"/*.log; do
			[ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }
		done
	fi
	for m in $UNMOUNT; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	rm -rf "$TMP"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# shellcheck disable=SC2120 # options are optional
# start_agg [extra options...]: the daemon on the test publisher's endpoint,
# with the empty configuration and quick timers; output appended to agg.log.
start_agg() {
	"$AGG" -c /dev/null --subscribe "$PUB_EP" --data-dir "$DATA" -v \
		--summary-interval 1 --flush-interval 1 --retention 1s:30m,1m:1d "$@" \
		>>"$TMP/agg.log" 2>&1 &
	AGG_PID=$!
	STARTED="$STARTED $AGG_PID"
}

# stop_agg [SIGNAL]: ends the daemon; returns its exit status in AGG_STATUS
# (read by the scenarios).
# shellcheck disable=SC2034
stop_agg() {
	kill -"${1:-TERM}" "$AGG_PID" 2>/dev/null || true
	AGG_STATUS=0
	wait "$AGG_PID" 2>/dev/null || AGG_STATUS=$?
}

# start_pub [options...]: agg_testpub binding the endpoint the daemon reads.
start_pub() {
	"$TESTPUB" --bind "$PUB_EP" --host cn1 "$@" >>"$TMP/pub.log" 2>&1 &
	PUB_PID=$!
	STARTED="$STARTED $PUB_PID"
}

stop_pub() {
	kill "$PUB_PID" 2>/dev/null || true
	wait "$PUB_PID" 2>/dev/null || true
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

# sql QUERY: one query on the index, read-only.
sql() {
	sqlite3 -readonly "$DATA/index.sqlite" "$1"
}

# count_log PATTERN: lines of agg.log matching a fixed string.
count_log() {
	grep -cF -- "$1" "$TMP/agg.log" || true
}

# The uuid of agg_testpub's domain N.
uuid_of() {
	printf 'a9e70000-0000-4000-8000-%012x' "$1"
}

# The directory of agg_testpub's domain N, relative to the data directory.
domain_dir() {
	local u
	u=$(uuid_of "$1")
	echo "domains/${u:0:2}/$u"
}
