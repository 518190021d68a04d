# shellcheck shell=bash
# e2e_lib.sh -- sourced by tests/e2e/carbon_*.sh, on top of
# tests/exporter/e2e_lib.sh (temp dir, ipc:// fan-in and fan-out, the
# collector and monitor starters, cleanup and logs on failure): the real
# carbon engines a scenario needs, each in the temp dir on ports of the
# range 23000-23999 picked from the test's PID (tried until one binds).
# Needs CARBON, COLLECTOR, MONITOR, SUB as $1 $2 $3 $4.
# commands: carbon-cache carbon-c-relay
CARBON=$1
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../exporter/e2e_lib.sh"
CARBON_CHECK="$PY $LIB_DIR/../carbon/carbon_check.py"
PORT_NEXT=$((23000 + ($$ * 37) % 1000))

# next_port: the next candidate of the range in NEXT (a global, so that
# no port is handed out twice).
next_port() {
	NEXT=$PORT_NEXT
	PORT_NEXT=$((23000 + (PORT_NEXT - 23000 + 1) % 1000))
}

# pick_port: sets PORT to a port of 23000-23999 that binds on 127.0.0.1
# now and that this scenario has not handed out before (not in $(...): the
# next pick must see this one's).
pick_port() {
	local tries p
	for ((tries = 0; tries < 1000; tries++)); do
		next_port
		p=$NEXT
		if $PY -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null; then
			PORT=$p
			return 0
		fi
	done
	fail "no free port in 23000-23999"
}

# hold_dead_port: sets PORT to a port that stays refused for the whole
# scenario: a process binds it without listening (connects get a reset) and
# keeps it, so that no test running beside this one can take it.
hold_dead_port() {
	local tries p pid
	for ((tries = 0; tries < 1000; tries++)); do
		next_port
		p=$NEXT
		rm -f "$TMP/held.$p"
		$PY -c 'import socket,sys,time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").close()
time.sleep(3600)' "$p" "$TMP/held.$p" 2>/dev/null &
		pid=$!
		STARTED="$STARTED $pid"
		wait_for 5 sh -c "[ -e '$TMP/held.$p' ] || ! kill -0 $pid 2>/dev/null"
		if [ -e "$TMP/held.$p" ]; then
			PORT=$p
			return 0
		fi
	done
	fail "no port to hold in 23000-23999"
}

# start_carbon LOGNAME [options...]: stackmon-carbon on the fan-out.
start_carbon() {
	local log=$TMP/$1.log
	shift
	"$CARBON" -c /dev/null --subscribe "${CARBON_SUBSCRIBE:-$FAN_OUT}" -v "$@" >>"$log" 2>&1 &
	CARBON_PID=$!
	STARTED="$STARTED $CARBON_PID"
	wait_for 20 grep -q "carbon: sending to" "$log" || fail "stackmon-carbon did not start: $(cat "$log")"
}

# start_cache NAME: a carbon-cache (Debian's graphite-carbon) in the
# foreground, its config, storage and Whisper files under $TMP/NAME, 1 s
# points kept an hour; its line receiver's port in CACHE_PORT.
start_cache() {
	local d=$TMP/$1
	mkdir -p "$d/conf" "$d/whisper" "$d/log" "$d/storage"
	local pickle query
	pick_port
	CACHE_PORT=$PORT
	pick_port
	pickle=$PORT
	pick_port
	query=$PORT
	cat >"$d/conf/carbon.conf" <<CONF
[cache]
STORAGE_DIR = $d/storage/
LOCAL_DATA_DIR = $d/whisper/
CONF_DIR = $d/conf/
LOG_DIR = $d/log/
PID_DIR = $d/
DATABASE = whisper
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $CACHE_PORT
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = $pickle
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = $query
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
CARBON_METRIC_INTERVAL = 0
LOG_LISTENER_CONNECTIONS = False
LOG_UPDATES = False
LOG_CREATES = False
ENABLE_TAGS = False
CONF
	printf '[all]\npattern = .*\nretentions = 1s:1h\n' >"$d/conf/storage-schemas.conf"
	printf '[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n' \
		>"$d/conf/storage-aggregation.conf"
	carbon-cache "--config=$d/conf/carbon.conf" --nodaemon "--pidfile=$d/carbon.pid" start \
		>"$TMP/$1.log" 2>&1 &
	STARTED="$STARTED $!"
	wait_for 30 $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$CACHE_PORT" || fail "carbon-cache $1 did not start: $(tail -5 "$TMP/$1.log")"
}

# start_relay PORT CLUSTER_LINES: carbon-c-relay listening on 127.0.0.1:PORT,
# sending every line to the cluster (e.g. "carbon_ch 127.0.0.1:P1=a 127.0.0.1:P2=b").
start_relay() {
	local port=$1
	shift
	{
		echo "listen type linemode 127.0.0.1:$port proto tcp ;"
		echo "cluster caches $1"
		shift
		for s in "$@"; do echo "    $s"; done
		echo "    ;"
		echo "match * send to caches stop ;"
	} >"$TMP/relay.conf"
	carbon-c-relay -s -f "$TMP/relay.conf" -l "$TMP/relay.log" -w 1 &
	STARTED="$STARTED $!"
	wait_for 20 $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$port" || fail "carbon-c-relay did not start: $(cat "$TMP/relay.log")"
}

# start_sink NAME PORT: a TCP listener that appends what it receives to $TMP/NAME.lines.
start_sink() {
	$CARBON_CHECK sink "$2" "$TMP/$1.lines" >>"$TMP/$1.log" 2>&1 &
	STARTED="$STARTED $!"
	wait_for 20 $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
		"$2" || fail "sink $1 did not start"
}
