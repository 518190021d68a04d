#!/bin/bash
# Bad rules files are refused with file:line: by -n (exit 2, the daemon never starts on one), and on SIGHUP, where the running stackmon-alert logs the error, keeps its old rules and goes on; a good file on SIGHUP adds its rule. No libvirt needed.
# shellcheck source=tests/alert/e2e_lib.sh
. "$(dirname "$0")/../alert/e2e_lib.sh"
RULES=$TMP/alert.rules
printf 'rule ok\n    when node load1 > 1000\n' >"$RULES"
"$ALERT" -c /dev/null --rules "$RULES" -n >"$TMP/n.out" 2>&1 || fail "-n refused a good file: $(cat "$TMP/n.out")"

# check_bad TEXT WANT: -n exits 2 and prints WANT (file:line and reason).
check_bad() {
	printf '%b' "$1" >"$TMP/bad.rules"
	local rc=0
	"$ALERT" -c /dev/null --rules "$TMP/bad.rules" -n >"$TMP/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "-n on '$1': exit $rc, want 2"
	grep -qF "$TMP/bad.rules:$2" "$TMP/bad.out" || fail "-n on '$1': $(cat "$TMP/bad.out"), want :$2"
	rc=0
	timeout 10 "$ALERT" -c /dev/null --rules "$TMP/bad.rules" --data-dir "$TMP/never" >"$TMP/bad.out" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "started on a bad file '$1' (exit $rc)"
}
check_bad 'rule a\n  when domain cpu_pct > 90 for 5m clear 95\n' "2: clear 95 is on the firing side"
check_bad '# x\nrule a\n  when domain nic.*.bogus > 1\n' "3: 'nic.*.bogus' is not a domain metric"
check_bad 'rule a\n  when node stale for 1m\n  label host = x\n' "3: label 'host' is set by stackmon-alert"
check_bad 'rule a\n  when domain cpu_pct > 1\n\nrule b\n' "4: rule b has no \"when\""
check_bad 'rule a\n  when domain cpu_pct > 1\n  annotation summary = "no end\n' "3: a quoted string without"
"$ALERT" -c /dev/null --rules "$TMP/missing.rules" -n >"$TMP/m.out" 2>&1 && fail "-n took a missing rules file"
grep -qF "$TMP/missing.rules: No such file" "$TMP/m.out" || fail "missing file: $(cat "$TMP/m.out")"

start_collector
start_alert alert "$RULES"
# SIGHUP with a bad file: refused, named, old rules kept, still running.
printf 'rule ok\n    when node load1 > 1000\nrule worse\n    when domain cpu_pct >> 1\n' >"$RULES"
kill -HUP "$ALERT_PID"
wait_for 10 grep -qF "$RULES:4: '>' is not a number" "$TMP/alert.log" ||
	fail "SIGHUP with a bad file: $(cat "$TMP/alert.log")"
grep -q "rules not reloaded, keeping the old ones" "$TMP/alert.log" || fail "no 'keeping the old ones'"
kill -0 "$ALERT_PID" || fail "stackmon-alert died on a bad rules file"
# SIGHUP with a good one: loaded.
printf 'rule ok\n    when node load1 > 1000\nrule two\n    when node stale for 1h\n' >"$RULES"
kill -HUP "$ALERT_PID"
wait_for 10 grep -q "SIGHUP: 2 rules loaded" "$TMP/alert.log" || fail "good file not loaded: $(cat "$TMP/alert.log")"
echo "OK: bad rules files refused with file:line by -n, at start and on SIGHUP (old rules kept)"
