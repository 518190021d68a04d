#!/usr/bin/env bash
# Starts and stops the libvirtd that StackMon's tests and demo use, on a root
# machine with no systemd and no KVM (guests run under TCG). Run
# scripts/install-deps.sh first.
#
# Usage: scripts/libvirtd.sh start|stop|status|restart
#   start   idempotent. Creates the folders and the libvirt-qemu user/groups
#           libvirt wants, sets user/group root, dynamic_ownership=0 and
#           security_driver "none" in /etc/libvirt/qemu.conf (only those keys;
#           the original is backed up once as qemu.conf.stackmon-orig), starts
#           virtlogd and libvirtd when they are not already running, records
#           the PIDs it started, then waits until both qemu:///system and
#           test+unix:///default answer. It also keeps one connection to
#           test+unix:///default open (a background `virsh event --loop`):
#           libvirtd frees the shared test driver's state, and every domain
#           created on it, whenever its last client disconnects, so without
#           this a domain made by one virsh call is gone by the next one.
#           Exit 0 when all is ready.
#   stop    destroys leftover domains named smtest-* on both URIs (and their
#           folders under /var/tmp/stackmon-test), then ends the keeper and
#           only the daemons this script started (by recorded PID) and waits
#           for them to exit. Daemons started by someone else are left running.
#   status  exit 0 when both URIs answer, 1 otherwise.
#
# Environment: STACKMON_TEST_STATE (default /run/stackmon-test): where PIDs are
# recorded; STACKMON_LIBVIRTD_TIMEOUT (default 30): seconds to wait for an
# answer; STACKMON_LIBVIRT_RUN_DIR (default /run): where the daemons write
# their pidfiles. libvirtd's warnings go to /var/log/libvirt/libvirtd.log.
#
# "Running" means this root's daemon: libvirtd already counts as running only
# when this machine's socket answers, or its pidfile names a live libvirtd
# whose root is ours (never a process of that name in another container).
set -euo pipefail

STATE_DIR=${STACKMON_TEST_STATE:-/run/stackmon-test}
RUN_DIR=${STACKMON_LIBVIRT_RUN_DIR:-/run} # where libvirtd and virtlogd write their pidfiles
TIMEOUT=${STACKMON_LIBVIRTD_TIMEOUT:-30}
# commands: libvirtd virtlogd qemu-system-x86_64 (started through variables below)
QEMU_CONF=/etc/libvirt/qemu.conf
QEMU_URI=qemu:///system
TEST_URI=test+unix:///default
LOG_DIR=/var/log/libvirt
PREFIX=smtest-

say() { echo "libvirtd.sh: $*"; }
die() {
	echo "libvirtd.sh: error: $*" >&2
	exit 1
}

# A recorded PID is "ours" only while the process with that PID has the same
# start time as when we recorded it, so a reused PID is never killed.
proc_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	# Field 22, counted after the ")" that closes the command name.
	stat=${stat##*) }
	awk '{print $20}' <<<"$stat"
}

record_pid() { # NAME PID
	local st
	st=$(proc_starttime "$2") || return 1
	echo "$2 $st" >"$STATE_DIR/$1.pid"
}

recorded_alive_pid() { # NAME -> prints PID when the recorded process still runs
	local f="$STATE_DIR/$1.pid" pid st now
	[[ -r $f ]] || return 1
	read -r pid st <"$f" || return 1
	now=$(proc_starttime "$pid") || return 1
	[[ $now == "$st" ]] || return 1
	echo "$pid"
}

# PID of a running daemon NAME (virtlogd, libvirtd), started by anyone, in
# this root: the pidfile this machine's daemon writes, naming a live process
# of that name whose root directory is ours. A daemon of another root (a
# container or chroot on the same kernel) serves another socket, so a match
# by process name alone would wait for an answer that never comes.
running_pid() {
	local pid
	[[ -r $RUN_DIR/$1.pid ]] || return 1
	pid=$(tr -dc '0-9' <"$RUN_DIR/$1.pid")
	[[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] || return 1
	[[ /proc/$pid/root -ef / ]] || return 1
	echo "$pid"
}

answers() { # URI
	timeout 10 virsh -q -c "$1" list >/dev/null 2>&1
}

check_tools() {
	local t missing=()
	for t in virsh libvirtd virtlogd qemu-system-x86_64 qemu-img; do
		command -v "$t" >/dev/null 2>&1 || [[ -x /usr/sbin/$t ]] || missing+=("$t")
	done
	((${#missing[@]} == 0)) || die "missing ${missing[*]}: run scripts/install-deps.sh"
	[[ $(id -u) == 0 ]] || die "must run as root (the QEMU driver runs guests as root here)"
}

ensure_user() {
	getent group kvm >/dev/null || groupadd -r kvm
	getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
	getent group libvirt >/dev/null || groupadd -r libvirt
	if ! getent passwd libvirt-qemu >/dev/null; then
		useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
	fi
}

# Sets KEY = VALUE in qemu.conf: replaces an existing (possibly commented)
# assignment line of that key, or appends one. Leaves every other line alone.
conf_set() { # KEY VALUE
	local key=$1 val=$2
	if grep -qE "^[[:space:]]*${key}[[:space:]]*=" "$QEMU_CONF"; then
		grep -qxF "${key} = ${val}" "$QEMU_CONF" && return 0
		sed -i -E "s|^[[:space:]]*${key}[[:space:]]*=.*$|${key} = ${val}|" "$QEMU_CONF"
	else
		printf '%s = %s\n' "$key" "$val" >>"$QEMU_CONF"
	fi
	CONF_CHANGED=1
}

patch_qemu_conf() {
	mkdir -p /etc/libvirt
	if [[ -e $QEMU_CONF && ! -e $QEMU_CONF.stackmon-orig ]]; then
		cp -p "$QEMU_CONF" "$QEMU_CONF.stackmon-orig"
	fi
	if [[ ! -e $QEMU_CONF ]]; then
		# Debian ships qemu.conf in libvirt-daemon-system, which we do not
		# install (it wants systemd); libvirtd reads defaults without it.
		echo "# Written by StackMon's scripts/libvirtd.sh: guests run as root, unconfined." >"$QEMU_CONF"
	fi
	CONF_CHANGED=0
	conf_set user '"root"'
	conf_set group '"root"'
	conf_set dynamic_ownership 0
	conf_set security_driver '"none"'
}

wait_answer() {
	local deadline=$((SECONDS + TIMEOUT))
	while ((SECONDS < deadline)); do
		if answers "$QEMU_URI" && answers "$TEST_URI"; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

start_daemon() { # NAME [ENV...] : starts NAME -d unless running; records our PID
	local name=$1 pid i
	shift
	if pid=$(running_pid "$name"); then
		if [[ $(recorded_alive_pid "$name" || true) == "$pid" ]]; then
			say "$name already running (pid $pid, started by this script)"
		else
			say "$name already running (pid $pid, not ours: stop will leave it)"
		fi
		return 0
	fi
	rm -f "$STATE_DIR/$name.pid"
	if ! env "$@" "$name" -d >>"$LOG_DIR/$name.stderr" 2>&1; then
		die "$name -d failed; see $LOG_DIR/$name.stderr and $LOG_DIR/$name.log"
	fi
	# -d forks; the daemon writes its pidfile once it is up.
	for ((i = 0; i < 50; i++)); do
		pid=$(running_pid "$name") && break
		sleep 0.1
	done
	[[ -n ${pid:-} ]] || die "$name did not stay up; see $LOG_DIR/$name.stderr and $LOG_DIR/$name.log"
	record_pid "$name" "$pid" || die "$name (pid $pid) exited at once; see $LOG_DIR/$name.log"
	say "started $name (pid $pid)"
}

cmd_start() {
	check_tools
	mkdir -p "$STATE_DIR" "$LOG_DIR" /var/lib/libvirt /run/libvirt /var/tmp/stackmon-test
	ensure_user
	patch_qemu_conf
	if ((CONF_CHANGED)) && running_pid libvirtd >/dev/null; then
		say "warning: $QEMU_CONF changed while libvirtd runs; run 'stop' and 'start' to apply it"
	fi
	# What counts is whether this machine's socket answers, not whether a
	# process of that name runs somewhere.
	if answers "$QEMU_URI" && answers "$TEST_URI"; then
		if recorded_alive_pid libvirtd >/dev/null; then
			say "libvirtd already answers on $QEMU_URI and $TEST_URI (started by this script)"
		else
			say "libvirtd already answers on $QEMU_URI and $TEST_URI (not started by this script: stop will leave it)"
		fi
	else
		start_daemon virtlogd "LIBVIRT_LOG_OUTPUTS=3:file:$LOG_DIR/virtlogd.log"
		start_daemon libvirtd "LIBVIRT_LOG_OUTPUTS=3:file:$LOG_DIR/libvirtd.log"
	fi
	if ! wait_answer; then
		echo "libvirtd.sh: error: libvirtd does not answer after ${TIMEOUT}s" >&2
		answers "$QEMU_URI" || echo "  $QEMU_URI: $(virsh -q -c "$QEMU_URI" list 2>&1 | head -n3)" >&2
		answers "$TEST_URI" || echo "  $TEST_URI: $(virsh -q -c "$TEST_URI" list 2>&1 | head -n3)" >&2
		echo "  last lines of $LOG_DIR/libvirtd.log:" >&2
		tail -n 5 "$LOG_DIR/libvirtd.log" >&2 2>/dev/null || true
		exit 1
	fi
	start_keeper
	say "ready: $QEMU_URI and $TEST_URI answer"
}

# The keeper holds test+unix:///default open; see the header. Its PID is
# recorded like the daemons'. Proof that it holds the state: a domain created
# by one virsh call is still there for the next.
test_state_kept() {
	local probe=${PREFIX}keeper-probe ok=1
	printf '%s' "<domain type='test'><name>$probe</name><memory>1024</memory><os><type>hvm</type></os></domain>" \
		>"$STATE_DIR/probe.xml"
	virsh -q -c "$TEST_URI" create "$STATE_DIR/probe.xml" >/dev/null 2>&1 || true
	virsh -q -c "$TEST_URI" domuuid "$probe" >/dev/null 2>&1 || ok=0
	virsh -q -c "$TEST_URI" destroy "$probe" >/dev/null 2>&1 || true
	rm -f "$STATE_DIR/probe.xml"
	((ok))
}

start_keeper() {
	local pid i
	if pid=$(recorded_alive_pid test-keeper) && test_state_kept; then
		say "test-driver keeper already running (pid $pid)"
		return 0
	fi
	[[ -z ${pid:-} ]] || kill -TERM "$pid" 2>/dev/null || true
	setsid virsh -q -c "$TEST_URI" event --all --loop </dev/null >/dev/null 2>&1 &
	pid=$!
	record_pid test-keeper "$pid" || die "the test-driver keeper (virsh event) exited at once"
	for ((i = 0; i < 40; i++)); do
		if test_state_kept; then
			say "started test-driver keeper (pid $pid)"
			return 0
		fi
		sleep 0.25
	done
	die "the test-driver keeper (pid $pid) does not keep $TEST_URI's domains"
}

destroy_test_domains() { # URI
	local uri=$1 d
	answers "$uri" || return 0
	while read -r d; do
		[[ $d == "$PREFIX"* ]] || continue
		virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1 || true
		# A persistent leftover (a test that defined one) goes too.
		virsh -q -c "$uri" undefine "$d" >/dev/null 2>&1 || true
		say "removed leftover domain $d from $uri"
	done < <(virsh -q -c "$uri" list --all --name 2>/dev/null)
}

stop_daemon() { # NAME
	local name=$1 pid i
	if ! pid=$(recorded_alive_pid "$name"); then
		rm -f "$STATE_DIR/$name.pid"
		if running_pid "$name" >/dev/null; then
			say "$name runs but was not started by this script: left running"
		fi
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		recorded_alive_pid "$name" >/dev/null || break
		sleep 0.1
	done
	if recorded_alive_pid "$name" >/dev/null; then
		say "$name (pid $pid) ignored SIGTERM for 15s: sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$STATE_DIR/$name.pid"
	say "stopped $name (pid $pid)"
}

cmd_stop() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	destroy_test_domains "$QEMU_URI"
	destroy_test_domains "$TEST_URI"
	# Disks and consoles of tests/lib/qemu_domain.sh's guests (all smtest-*).
	rm -rf "${STACKMON_TEST_VAR:-/var/tmp/stackmon-test}"/dom-*
	stop_daemon test-keeper
	# libvirtd before virtlogd: it holds virtlogd's connections for guest consoles.
	stop_daemon libvirtd
	stop_daemon virtlogd
}

cmd_status() {
	local rc=0
	if answers "$QEMU_URI"; then say "$QEMU_URI answers"; else say "$QEMU_URI does not answer"; rc=1; fi
	if answers "$TEST_URI"; then say "$TEST_URI answers"; else say "$TEST_URI does not answer"; rc=1; fi
	return $rc
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart)
	cmd_stop
	cmd_start
	;;
pid) # NAME: the PID of this root's running NAME (for tests/ops/libvirtd_script.sh)
	running_pid "${2:?usage: $0 pid NAME}"
	;;
*)
	echo "usage: $0 start|stop|status|restart" >&2
	exit 2
	;;
esac
