#!/usr/bin/env bash
# bench/evaluation/run.sh is sane without running it (a run takes 10-40
# minutes and real QEMU guests): it and the shell library it shares with
# bench/monitor/run.sh parse (bash -n) and pass shellcheck at warning level,
# its Python helpers compile, --help prints its usage and exits 0, and an
# unknown option exits 2 with the usage on stderr (before any root check).
# Usage: evaluation_script.sh SOURCE_DIR
set -euo pipefail
SRC=${1:?usage: evaluation_script.sh SOURCE_DIR}
RUN=$SRC/bench/evaluation/run.sh
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
for f in "$RUN" "$SRC/bench/lib/monitor.sh" "$SRC/bench/monitor/run.sh" "$SRC/bench/monitor/qmp_cost.sh" \
	"$SRC/tests/lib/qemu_domain.sh"; do
	bash -n "$f" || fail "bash -n $f"
done
# commands: shellcheck
if command -v shellcheck >/dev/null; then
	(cd "$SRC" && shellcheck -x -S warning bench/evaluation/run.sh bench/lib/monitor.sh bench/monitor/qmp_cost.sh) ||
		fail "shellcheck bench/evaluation/run.sh"
else
	echo "shellcheck not installed: that check skipped"
fi
/usr/bin/python3 -m py_compile "$SRC/bench/evaluation/probe.py" "$SRC/bench/evaluation/report.py" \
	"$SRC/tests/monitor/accuracy.py" || fail "python helpers do not compile"
out=$("$RUN" --help) || fail "--help exited $?"
[[ $out == *"Usage (as root): bench/evaluation/run.sh [--quick]"* ]] || fail "--help: $out"
rc=0
err=$("$RUN" --no-such-option 2>&1 >/dev/null) || rc=$?
((rc == 2)) || fail "unknown option exited $rc, want 2"
[[ $err == *"unknown option '--no-such-option'"* && $err == *Usage* ]] || fail "unknown option: $err"
echo "evaluation_script: OK"
