#!/bin/bash
# A data directory the aggregator cannot write (a read-only tmpfs, a path under it, a plain file, one already in use by another aggregator) is a clear error at start naming the directory, with exit status 1. Exits 77 where a tmpfs cannot be mounted.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
RO="$TMP/ro"
mkdir -p "$RO"
if ! mount -t tmpfs -o size=1m tmpfs "$RO" 2>/dev/null; then
	echo "SKIP: cannot mount a tmpfs here"
	exit 77
fi
UNMOUNT="$RO"
mkdir "$RO/data"
mount -o remount,ro "$RO" || fail "cannot remount read-only"

run() { # expected-status pattern args...: runs the daemon alone, checks exit and message
	local want=$1 pattern=$2 st=0
	shift 2
	timeout 20 "$AGG" -c /dev/null --subscribe "$PUB_EP" "$@" >"$TMP/run.log" 2>&1 || st=$?
	[ "$st" = "$want" ] || fail "$*: exit status $st, expected $want: $(cat "$TMP/run.log")"
	grep -qF -- "$pattern" "$TMP/run.log" || fail "$*: no '$pattern' in: $(cat "$TMP/run.log")"
}
run 1 "data directory $RO/data is on a read-only filesystem" --data-dir "$RO/data"
run 1 "data directory $RO/new: cannot create it: Read-only file system" --data-dir "$RO/new"
: >"$TMP/plain"
run 1 "data directory $TMP/plain: cannot open it: Not a directory" --data-dir "$TMP/plain"
[ -z "$(ls -A "$RO/data")" ] || fail "something was written on the read-only filesystem"

# One directory, one aggregator.
start_agg
started() { [ -f "$DATA/index.sqlite" ]; }
wait_for 20 started || fail "first aggregator did not start"
run 1 "data directory $DATA is in use by another stackmon-aggregator" --data-dir "$DATA"
kill -0 "$AGG_PID" || fail "the first aggregator died"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "exit status $AGG_STATUS"
# Bad configuration is a usage error (2), named.
run 2 "retention '2s:1h,3s:1d'" --data-dir "$DATA" --retention 2s:1h,3s:1d
echo "OK: unusable data directories are refused clearly"
