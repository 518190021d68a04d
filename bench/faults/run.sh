#!/usr/bin/env bash
# bench/faults/run.sh -- fault injection on a real pipeline (issue 17, item 7).
# Each fault gets a fresh pipeline on free loopback ports in a temp dir:
# stackmon-monitor (libvirt's test driver: a node file in-process, or a
# private libvirtd where the fault needs one), stackmon-collector,
# stackmon-aggregator with its own data dir, and stackmon-sub writing JSON
# lines. The fault is injected, the flow allowed to resume, and what arrived
# is counted by (host, epoch, seq) at the subscriber and read back from the
# aggregator's index and Whisper files. One line per fault:
#   FAULT  expected N  received M  lost K  notes
# It is a measurement, not a test: exit 0 when it ran, 1 when the harness
# itself failed (a daemon that would not start, a mount refused), 2 on usage.
#
# Usage: bench/faults/run.sh [--quick] [--only NAME] [--build-dir DIR] [--keep]
#   --quick      shorter outages (collector 10 s instead of 30 s, libvirtd 8 s
#                instead of 20 s, full disk 10 s instead of 65 s, ...)
#   --only NAME  the faults whose name starts with NAME (e.g. collector,
#                libvirtd, no-collector, full-disk, hwm, held, held-agg-kill9);
#                repeatable
#   --build-dir  where the programs are (default: build); built if missing
#   --keep       keep the temp dir (logs, JSON lines, data) and say where
# Needs root (a tmpfs for the full disk; a private libvirtd run as nobody),
# libvirtd and virsh, /usr/bin/python3 with python3-whisper, sqlite3.
# docs/OPERATIONS.md, "Fault injection", records a run and what it means.
set -uo pipefail
# The whole script is one block, so bash has read all of it before it runs
# (editing the file during a run cannot change the run). $(wsp_window ...)
# is meant to split into two words; cleanup runs from the trap.
# shellcheck disable=SC2046,SC2317
{

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
FX="$PY $HERE/faults.py"
NODE_XML="$ROOT/tests/fixtures/node-small.xml"
BUILD=build
QUICK=0
KEEP=0
ONLY=()

usage() { # [STATUS]: 0 for --help (to stdout), 2 for a usage error
	if ((${1:-2} == 0)); then
		sed -n '14,23p' "$0" | sed 's/^# \{0,1\}//'
	else
		sed -n '14,23p' "$0" | sed 's/^# \{0,1\}//' >&2
	fi
	exit "${1:-2}"
}
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	--only)
		[[ $# -ge 2 ]] || usage
		ONLY+=("$2")
		shift
		;;
	--build-dir)
		[[ $# -ge 2 ]] || usage
		BUILD=$2
		shift
		;;
	-h | --help) usage 0 ;;
	*) usage ;;
	esac
	shift
done
[[ $BUILD == /* ]] || BUILD="$ROOT/$BUILD"

# Durations (seconds). WARM: flow before the fault; RECOVER: after it.
# REPS: runs of the short collector outage, whose loss varies from run to run.
# Any of them may be set in the environment (WARM=10 bench/faults/run.sh).
if ((QUICK)); then
	: "${WARM:=6}" "${RECOVER:=8}" "${REPS:=2}" "${COLL_LONG:=10}" "${LV_DOWN:=8}" "${NOCOLL:=10}"
	: "${DISK_FULL:=10}" "${STOP_S:=5}" "${STALL:=10}" "${LV_WAIT:=20}"
else
	: "${WARM:=6}" "${RECOVER:=15}" "${REPS:=3}" "${COLL_LONG:=30}" "${LV_DOWN:=20}" "${NOCOLL:=30}"
	: "${DISK_FULL:=65}" "${STOP_S:=10}" "${STALL:=20}" "${LV_WAIT:=40}"
fi
BURST=250 # domains started at once in the hwm fault
HWM=50

say() { echo "faults: $*" >&2; }
die() {
	echo "faults: error: $*" >&2
	exit 1
}

MON=$BUILD/src/monitor/stackmon-monitor
COL=$BUILD/src/collector/stackmon-collector
AGG=$BUILD/src/aggregator/stackmon-aggregator
SUB=$BUILD/src/sub/stackmon-sub
if [[ ! -x $MON || ! -x $COL || ! -x $AGG || ! -x $SUB ]]; then
	say "building the daemons in $BUILD"
	if [[ ! -f $BUILD/CMakeCache.txt ]]; then
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake failed"
	fi
	cmake --build "$BUILD" -j2 --target stackmon-monitor stackmon-collector \
		stackmon-aggregator stackmon-sub >/dev/null || die "build failed"
fi
[[ $(id -u) == 0 ]] || die "must run as root (tmpfs mount, a libvirtd run as nobody)"
for t in libvirtd virsh sqlite3 setpriv mount; do
	command -v "$t" >/dev/null 2>&1 || [[ -x /usr/sbin/$t ]] || die "missing $t"
done
$PY -c 'import whisper' 2>/dev/null || die "missing python3-whisper for $PY"
LIBVIRTD=$(command -v libvirtd || echo /usr/sbin/libvirtd)

TMP=$(mktemp -d /tmp/sm-faults-XXXXXX) || die "mktemp"
chmod 711 "$TMP" # the private libvirtd (user nobody) lives below it
RESULTS=$TMP/results.txt
: >"$RESULTS"
STARTED=""  # every PID started; the trap ends those still running
MOUNTS=""   # every tmpfs mounted; the trap unmounts them
HARNESS_OK=1

cleanup() {
	local pid m
	trap - EXIT INT TERM
	for pid in $STARTED; do kill -CONT "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null; done
	for pid in $STARTED; do wait "$pid" 2>/dev/null; done
	for m in $MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	if ((KEEP)); then
		say "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

now() { date +%s.%N | cut -c1-14; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- processes --------------------------------------------------------------
# Every start_* sets a variable with the PID (PID_COL, PID_AGG, ...) and adds
# it to STARTED. stop PID [SIGNAL] ends one and waits for it.

stop() {
	local pid=$1 sig=${2:-TERM}
	[[ -n $pid ]] || return 0
	kill -CONT "$pid" 2>/dev/null
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

alive() { kill -0 "$1" 2>/dev/null; }

# new_run NAME: a directory and free ports for one fault's pipeline.
new_run() {
	RUN=$TMP/$1
	mkdir -p "$RUN"
	read -r P_IN P_OUT < <($FX ports 2)
	FAN_IN=tcp://127.0.0.1:$P_IN
	FAN_OUT=tcp://127.0.0.1:$P_OUT
	DATA=$RUN/data
	HOST=$1
}

# start_collector [options]: counters every second so the subscriber sees drops.
start_collector() {
	"$COL" -c /dev/null --name col --fan-in "$FAN_IN" --fan-out "$FAN_OUT" --stats-interval 1 "$@" \
		>>"$RUN/collector.log" 2>&1 &
	PID_COL=$!
	STARTED="$STARTED $PID_COL"
}

# start_agg [options]: quick summary lines and flushes, a short retention.
start_agg() {
	"$AGG" -c /dev/null --subscribe "$FAN_OUT" --data-dir "$DATA" -v --summary-interval 1 \
		--flush-interval 1 --retention 1s:30m,1m:1d "$@" >>"$RUN/agg.log" 2>&1 &
	PID_AGG=$!
	STARTED="$STARTED $PID_AGG"
}

# start_sub [NAME]: JSON lines in $RUN/NAME.jsonl (default sub), and each
# stats frame's arrival time in $RUN/NAME.arrivals (through faults.py stamp,
# which ends when the subscriber does).
start_sub() {
	local name=${1:-sub}
	"$SUB" -c /dev/null --connect "$FAN_OUT" --kind stats,event,collector \
		> >($FX stamp "$RUN/$name.jsonl" "$RUN/$name.arrivals") 2>>"$RUN/$name.log" &
	PID_SUB=$!
	STARTED="$STARTED $PID_SUB"
}

# start_monitor URI INTERVAL [options]
start_monitor() {
	local uri=$1 ivl=$2
	shift 2
	"$MON" -c /dev/null --uri "$uri" --host "$HOST" --interval "$ivl" \
		--publish "$FAN_IN=$FAN_OUT" "$@" >>"$RUN/monitor.log" 2>&1 &
	PID_MON=$!
	STARTED="$STARTED $PID_MON"
}

# A libvirtd of its own, run as nobody in session mode: its test driver is
# reached as LV_URI, and stopping it touches no one else's libvirtd (the
# machine's, which other tests use). Its test driver starts with one domain,
# "test", the same after every restart.
LV_DIR=""
start_libvirtd() {
	if [[ -z $LV_DIR ]]; then
		LV_DIR=$RUN/lv
		mkdir -p "$LV_DIR/home" "$LV_DIR/run"
		chmod 700 "$LV_DIR/run"
		chown -R nobody:nogroup "$LV_DIR"
		chmod 755 "$RUN" "$LV_DIR"
		LV_URI="test+unix:///default?socket=$LV_DIR/run/libvirt/libvirt-sock"
	fi
	(cd "$LV_DIR" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups env -i \
		HOME="$LV_DIR/home" XDG_RUNTIME_DIR="$LV_DIR/run" XDG_CONFIG_HOME="$LV_DIR/home/.config" \
		XDG_CACHE_HOME="$LV_DIR/home/.cache" PATH=/usr/sbin:/usr/bin:/bin \
		LIBVIRT_LOG_OUTPUTS="3:stderr" "$LIBVIRTD" --timeout 0) >>"$RUN/libvirtd.log" 2>&1 &
	PID_LV=$!
	STARTED="$STARTED $PID_LV"
	local i
	for ((i = 0; i < 150; i++)); do
		lv_answers && return 0
		sleep 0.2
	done
	return 1
}
lv_answers() { timeout 5 virsh -q -c "$LV_URI" list >/dev/null 2>&1; }

# ---- results ------------------------------------------------------------------

result() { # NAME EXPECTED RECEIVED LOST NOTES...
	local name=$1 e=$2 r=$3 l=$4
	shift 4
	printf '%-26s expected %6s  received %6s  lost %6s  %s\n' "$name" "$e" "$r" "$l" "$*" | tee -a "$RESULTS"
}

harness_fail() { # NAME WHY
	HARNESS_OK=0
	printf '%-26s harness error: %s (logs: %s)\n' "$1" "$2" "$RUN" | tee -a "$RESULTS"
	KEEP=1
}

selected() {
	local n
	((${#ONLY[@]} == 0)) && return 0
	for n in "${ONLY[@]}"; do [[ $1 == "$n"* ]] && return 0; done
	return 1
}

# pipeline [collector options]: collector, subscriber, aggregator, a second
# for the subscriptions to arrive; the monitor is the caller's.
pipeline() {
	start_collector "$@"
	start_sub
	start_agg
	sleep 1
}

# pipeline_default_flush: the same with the aggregator's default
# flush_interval (10 s): what a kill -9 or a restart costs as installed.
pipeline_default_flush() {
	start_collector
	start_sub
	start_agg --flush-interval 10
	sleep 1
}

# end_pipeline: the monitor first (its last frames get through), then the rest.
end_pipeline() {
	stop "${PID_MON:-}"
	sleep 1
	stop "${PID_AGG:-}"
	stop "${PID_SUB:-}"
	stop "${PID_COL:-}"
	[[ -z ${PID_LV:-} ]] || stop "$PID_LV"
	PID_MON="" PID_AGG="" PID_SUB="" PID_COL="" PID_LV="" LV_DIR=""
}

# wsp_window T0 T1: the whole seconds of a run the host's files should cover
# (the monitor's first frame takes a second or two to be written).
wsp_window() { echo $((${1%.*} + 2)) $((${2%.*} - 1)); }

# agg_notes T0 T1 E: what the aggregator kept of this host's E stats frames:
# how many it received and how many its own sequence accounting (index)
# calls lost (it cannot see frames before the first one it received), and
# seconds of [T0, T1) with a point in the host's 1-second Whisper archive
# (domains.wsp: known in every frame).
agg_notes() {
	local idx w ir il ws wh
	idx=$($FX index "$DATA" "$HOST" stats 2>/dev/null || echo "? ? ?")
	w=$($FX wsp "$DATA" "$HOST" domains "$1" "$2" 2>/dev/null || echo "? ?")
	read -r ir il _ <<<"$idx"
	read -r ws wh <<<"$w"
	echo "aggregator: received $ir of $3 ($il lost by its seq count), Whisper $wh/$ws s with a point"
}

# ---- 1. collector restart -------------------------------------------------------

fault_collector_restart() { # DOWN HZ REPS
	local down=$1 hz=$2 reps=$3 name i t0 tk tb t1 ivl e r l ep gap silent back held dropped res
	local se=0 sr=0 sl=0 ar=0 ws=0 wh=0 per="" ir il w1 w2
	name="collector-down${down}s-${hz}Hz"
	selected "$name" || return 0
	ivl=$(awk -v h="$hz" 'BEGIN { print 1 / h }')
	for ((i = 1; i <= reps; i++)); do
		say "$name (run $i of $reps)"
		new_run "$name.$i"
		pipeline
		start_monitor "test://$NODE_XML" "$ivl"
		t0=$(now)
		sleep "$WARM"
		tk=$(now)
		stop "$PID_COL"
		sleep "$down"
		start_collector
		tb=$(now)
		sleep "$RECOVER"
		t1=$(now)
		end_pipeline
		read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
		[[ ${e:-0} -gt 0 ]] || {
			harness_fail "$name" "no frame reached the subscriber"
			return
		}
		read -r silent back held dropped < <($FX held "$RUN/monitor.log")
		res=$($FX resume "$RUN/sub.jsonl" "$HOST" stats "$tk" "$tb")
		read -r ir il _ < <($FX index "$DATA" "$HOST" stats)
		read -r w1 w2 < <($FX wsp "$DATA" "$HOST" domains $(wsp_window "$t0" "$t1"))
		se=$((se + e)) sr=$((sr + r)) sl=$((sl + l)) ar=$((ar + ir)) ws=$((ws + w1)) wh=$((wh + w2))
		[[ $res == none ]] && res="" || res=", resumed ${res} s"
		per="$per${per:+, }$l (gap ${gap} s$res)"
	done
	result "$name" "$se" "$sr" "$sl" "at stackmon-sub; per run lost $per;" \
		"aggregator received $ar of $se, Whisper $wh/$ws s with a point;" \
		"monitor (last run): 'no collector answered' x$silent, 'answers again' x$back" \
		"($held held, $dropped dropped)"
}

# ---- 2. libvirtd down -------------------------------------------------------------

fault_libvirtd_down() {
	local name="libvirtd-down${LV_DOWN}s" tup e r l ep gap down stale fresh lost_l rec_l
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	start_libvirtd || {
		harness_fail "$name" "private libvirtd does not answer"
		end_pipeline
		return
	}
	pipeline
	start_monitor "$LV_URI" 1
	sleep "$WARM"
	stop "$PID_LV"
	sleep "$LV_DOWN"
	start_libvirtd || {
		harness_fail "$name" "private libvirtd does not answer after its restart"
		end_pipeline
		return
	}
	tup=$(now)
	# Fresh data within LV_WAIT seconds, then a few more frames.
	local i
	for ((i = 0; i < LV_WAIT * 2; i++)); do
		read -r _ _ fresh < <($FX stale "$RUN/sub.jsonl" "$HOST" "$tup")
		[[ $fresh != never ]] && break
		sleep 0.5
	done
	sleep 3
	end_pipeline
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	read -r down stale fresh < <($FX stale "$RUN/sub.jsonl" "$HOST" "$tup")
	lost_l=$(grep -c "libvirt connection to .* lost" "$RUN/monitor.log")
	rec_l=$(grep -c "libvirt connection to .* recovered" "$RUN/monitor.log")
	result "$name" "$e" "$r" "$l" "fresh data ${fresh} s after libvirtd answered;" \
		"$down frames with libvirt_ok=false, $stale with stale domains;" \
		"monitor: 'lost' x$lost_l, 'recovered' x$rec_l"
}

# ---- 3. monitor with no collector ----------------------------------------------------

fault_no_collector() {
	local name="no-collector${NOCOLL}s" e r l ep gap silent back held dropped t0 t1
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	# Subscriber and aggregator wait for the collector, as after a reboot.
	start_sub
	start_agg
	start_monitor "test://$NODE_XML" 1
	t0=$(now)
	sleep "$NOCOLL"
	start_collector
	sleep "$RECOVER"
	t1=$(now)
	end_pipeline
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	read -r silent back held dropped < <($FX held "$RUN/monitor.log")
	result "$name" "${e:-0}" "${r:-0}" "${l:-0}" "at stackmon-sub;" \
		"monitor: 'no collector answered' x$silent, 'answers again' x$back" \
		"($held held, $dropped dropped);" "$(agg_notes $(wsp_window "$t0" "$t1") "${e:-0}")"
}

# ---- 4. full disk, --preallocate no --------------------------------------------------

fault_full_disk() {
	local name="full-disk${DISK_FULL}s" n0 n1 l_full l_free l_end e r l ep gap works nospace i
	local wf df of rf pf wa da ca
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	mkdir -p "$DATA"
	mount -t tmpfs -o size=16m tmpfs "$DATA" || {
		harness_fail "$name" "cannot mount a tmpfs"
		return
	}
	MOUNTS="$MOUNTS $DATA"
	# A private libvirtd, so that domains can start while the disk is full.
	start_libvirtd || {
		harness_fail "$name" "private libvirtd does not answer"
		end_pipeline
		return
	}
	start_collector
	start_sub
	start_agg --preallocate no
	sleep 1
	start_monitor "$LV_URI" 1
	lv_create before 4
	# Every file made (their number holds still for 2 s), then fill the disk.
	n0=-1
	for ((i = 0; i < 30; i++)); do
		sleep 2
		n1=$(find "$DATA" -name '*.wsp' | wc -l)
		[[ $n1 -gt 0 && $n1 == "$n0" ]] && break
		n0=$n1
	done
	dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null
	dd if=/dev/zero of="$DATA/filler2" bs=4k 2>/dev/null
	l_full=$(wc -l <"$RUN/agg.log")
	lv_create during 2 # domains that start while the disk is full
	sleep "$DISK_FULL"
	l_free=$(wc -l <"$RUN/agg.log")
	rm -f "$DATA/filler" "$DATA/filler2"
	sleep "$RECOVER"
	l_end=$(wc -l <"$RUN/agg.log")
	end_pipeline
	read -r wf df of _ rf pf < <($FX aggsum "$RUN/agg.log" $((l_full + 1)) "$l_free")
	read -r wa da _ ca _ _ < <($FX aggsum "$RUN/agg.log" $((l_free + 1)) "$l_end")
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	works=$(grep -c "writing works again" "$RUN/agg.log")
	nospace=$(grep -ci "no space left" "$RUN/agg.log")
	result "$name" $((wf + df + pf)) "$wf" $((df + pf)) "points while full (${DISK_FULL} s, $n1 files" \
		"before, 2 domains started meanwhile): $df dropped for space, $rf files/$pf points refused," \
		"$of coarse owed; after space freed (${RECOVER} s): $wa written, $da dropped, $ca files created;" \
		"'writing works again' x$works, 'No space left' lines x$nospace; stackmon-sub lost $l of $e"
	umount "$DATA" && MOUNTS=${MOUNTS/ $DATA/}
}

# lv_create PREFIX N: N domains PREFIX-1..N on the private libvirtd, in one virsh.
lv_create() {
	local i
	mkdir -p "$RUN/xml"
	: >"$RUN/$1.virsh"
	for ((i = 1; i <= $2; i++)); do
		printf "<domain type='test'><name>%s-%03d</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>\n" \
			"$1" "$i" >"$RUN/xml/$1-$i.xml"
		echo "create $RUN/xml/$1-$i.xml" >>"$RUN/$1.virsh"
	done
	virsh -q -c "$LV_URI" <"$RUN/$1.virsh" >>"$RUN/virsh.log" 2>&1
}

# ---- 5. small hwm and a start-up burst ----------------------------------------------

fault_hwm_burst() {
	local name="hwm${HWM}-burst${BURST}" t0 st ee el sl se sr drops took ar al ad
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	start_libvirtd || {
		harness_fail "$name" "private libvirtd does not answer"
		end_pipeline
		return
	}
	pipeline --hwm "$HWM"
	start_monitor "$LV_URI" 1
	sleep "$WARM"
	t0=$(now)
	lv_create burst "$BURST"
	took=$(since "$t0")
	sleep "$RECOVER"
	end_pipeline
	read -r st _ < <($FX events "$RUN/sub.jsonl" "$HOST" burst-)
	read -r ee _ el _ _ < <($FX seq "$RUN/sub.jsonl" "$HOST" event)
	read -r se sr sl _ _ < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	drops=$($FX colldrops "$RUN/sub.jsonl")
	read -r ar al _ < <($FX index "$DATA" "$HOST" event)
	ad=$(sqlite3 -readonly "$DATA/index.sqlite" "SELECT count(*) FROM domains WHERE host = '$HOST'")
	result "$name" "$BURST" "$st" $((BURST - st)) "'started' events at a healthy stackmon-sub" \
		"($BURST domains created in $took s); events by seq: lost $el of $ee;" \
		"stats by seq: lost $sl of $se; collector drops: $drops;" \
		"aggregator: events lost $al of $((ar + al)) by seq, $ad domains indexed (the rest refused by max_new_domains_per_min)"
}

# ---- 6. faults that held ----------------------------------------------------------------

fault_agg_kill9() {
	local name="held-agg-kill9" t0 t1 readable e r l ep gap ws wh
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	pipeline_default_flush
	start_monitor "test://$NODE_XML" 1
	t0=$(now)
	sleep "$WARM"
	stop "$PID_AGG" KILL
	if $PY "$ROOT/tests/aggregator/agg_check.py" readable "$DATA" >"$RUN/readable.txt" 2>&1; then
		readable="files readable after kill -9 ($(cat "$RUN/readable.txt"))"
	else
		readable="UNREADABLE: $(tail -n1 "$RUN/readable.txt")"
	fi
	start_agg --flush-interval 10
	sleep "$RECOVER"
	t1=$(now)
	end_pipeline
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	read -r ws wh < <($FX wsp "$DATA" "$HOST" domains $(wsp_window "$t0" "$t1"))
	result "$name" "$ws" "$wh" $((ws - wh)) "seconds with a point in the host's Whisper file" \
		"across the kill and restart (flush_interval 10 s, the default); $readable; stackmon-sub lost $l of $e"
}

fault_monitor_sigstop() {
	local name="held-monitor-sigstop${STOP_S}s" e r l ep gap
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	pipeline
	start_monitor "test://$NODE_XML" 1
	sleep "$WARM"
	kill -STOP "$PID_MON"
	sleep "$STOP_S"
	kill -CONT "$PID_MON"
	sleep "$RECOVER"
	end_pipeline
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	local late
	late=$(grep -o "tick late: .*" "$RUN/monitor.log" | head -n 3 | paste -sd ';' -)
	result "$name" "$e" "$r" "$l" "at stackmon-sub (seq); longest gap between frames ${gap} s;" \
		"monitor: '${late:-no tick late line}' (samples not taken are not frames lost)"
}

# A subscriber that stops reading (SIGSTOP) while frames are big and the
# collector's queue per subscriber small (--hwm 50): it must lose frames,
# and the normal subscriber next to it none. 300 domains at 10 Hz make about
# 1 MB/s, more than the socket buffers and 50 queued frames hold in STALL s.
fault_stalled_sub() {
	local name="held-stalled-subscriber${STALL}s" e r l ep gap se sr sl pid_stalled pid_normal lat_med lat_max
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	$PY "$ROOT/tests/fixtures/gen_node.py" --domains 300 --out "$RUN/node300.xml" ||
		{ harness_fail "$name" "gen_node.py failed"; return; }
	start_collector --hwm "$HWM"
	start_sub
	pid_normal=$PID_SUB
	start_sub stalled
	pid_stalled=$PID_SUB
	PID_SUB=$pid_normal
	sleep 1
	start_monitor "test://$RUN/node300.xml" 0.1
	sleep "$WARM"
	kill -STOP "$pid_stalled"
	sleep "$STALL"
	kill -CONT "$pid_stalled"
	sleep "$RECOVER"
	stop "$pid_stalled"
	end_pipeline
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	read -r se sr sl _ _ < <($FX seq "$RUN/stalled.jsonl" "$HOST" stats)
	read -r lat_med lat_max < <($FX latency "$RUN/sub.arrivals")
	result "$name" "$e" "$r" "$l" "at the normal stackmon-sub (300 domains at 10 Hz, collector" \
		"--hwm $HWM), delay from sampling to arrival median $lat_med s, largest $lat_max s;" \
		"the one stopped ${STALL} s lost $sl of $se;" \
		"collector drops: $($FX colldrops "$RUN/sub.jsonl")"
	rm -f "$RUN"/*.jsonl # about 100 MB each
}

fault_monitor_restart() {
	local name="held-monitor-restart" e r l ep gap
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	pipeline
	start_monitor "test://$NODE_XML" 1
	sleep "$WARM"
	stop "$PID_MON"
	start_monitor "test://$NODE_XML" 1
	sleep "$RECOVER"
	end_pipeline
	read -r e r l ep gap < <($FX seq "$RUN/sub.jsonl" "$HOST" stats)
	result "$name" "$e" "$r" "$l" "at stackmon-sub over $ep epochs (restart = new epoch from seq 1);" \
		"longest gap ${gap} s; aggregator index received/lost/restarts: $($FX index "$DATA" "$HOST" stats)"
}

fault_agg_restart() {
	local name="held-aggregator-restart" t0 t1 ws wh idx
	selected "$name" || return 0
	say "$name"
	new_run "$name"
	pipeline_default_flush
	start_monitor "test://$NODE_XML" 1
	t0=$(now)
	sleep "$WARM"
	stop "$PID_AGG"
	start_agg --flush-interval 10
	sleep "$RECOVER"
	t1=$(now)
	end_pipeline
	read -r ws wh < <($FX wsp "$DATA" "$HOST" domains $(wsp_window "$t0" "$t1"))
	idx=$($FX index "$DATA" "$HOST" stats)
	result "$name" "$ws" "$wh" $((ws - wh)) "seconds with a point in the host's Whisper file" \
		"across a TERM and restart (flush_interval 10 s); index received/lost/restarts: $idx"
}

# ---- main ------------------------------------------------------------------------------

T_START=$(now)
# What is measured: the tree's commit when the run starts, and whether the
# sources differed from it (the programs should have been built from it).
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)
((DIRTY == 0)) || REV="$REV + $DIRTY uncommitted file(s) in src/"
say "build $BUILD, temp dir $TMP, $( ((QUICK)) && echo quick || echo full) mode"
fault_collector_restart 1.5 1 "$REPS"
fault_collector_restart 1.5 10 "$REPS"
fault_collector_restart "$COLL_LONG" 1 1
fault_collector_restart "$COLL_LONG" 10 1
fault_libvirtd_down
fault_no_collector
fault_full_disk
fault_hwm_burst
fault_agg_kill9
fault_monitor_sigstop
fault_stalled_sub
fault_monitor_restart
fault_agg_restart

[[ -s $RESULTS ]] || die "no fault is named ${ONLY[*]}"
echo
echo "## Fault injection: $REV, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)," \
	"$( ((QUICK)) && echo --quick || echo full), $(since "$T_START") s"
echo
echo '| fault | expected | received | lost | notes |'
echo '| --- | ---: | ---: | ---: | --- |'
sed -E 's/^([^ ]+) +expected +([^ ]+) +received +([^ ]+) +lost +([^ ]+) +(.*)$/| \1 | \2 | \3 | \4 | \5 |/;
	s/^([^ ]+) +harness error: (.*)$/| \1 | | | | harness error: \2 |/' "$RESULTS"
((HARNESS_OK)) || exit 1
exit 0
}
