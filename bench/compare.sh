#!/usr/bin/env bash
# compare.sh — the four daemons' benchmarks on two revisions, side by side in
# one run, so a change that should not move a figure (a refactor) can be
# shown not to. The machines here are shared and noisy: each benchmark runs
# for revision A, then B, then A and B again (--rounds), and every figure of
# a round is printed as "a → b (b/a)"; a figure that moves the same way in
# every round moved, one that changes direction is noise.
#
#   bench/compare.sh [--rounds N] [--only monitor,collector,aggregator,dashboard] REV_A REV_B
#
# Each revision is checked out under $COMPARE_DIR (default /var/tmp/stackmon-compare)
# and its own bench/*/run.sh runs against its own Release build there, so
# benchmark scripts that changed between A and B are each used with their
# own tree. The quick mode of each benchmark is used:
#   monitor     bench/monitor/run.sh --quick --no-qemu   (needs libvirtd: scripts/libvirtd.sh start)
#   collector   bench/collector/run.sh BUILD --quick --only cost (CPU per frame, beside zmq_proxy)
#   aggregator  agg_bench direct at 1,000 domains (bench/aggregator/run.sh's first figure)
#   dashboard   RUNS=40 bench/dashboard/run.sh
# Prints Markdown; asserts nothing. Needs root for the monitor benchmark.
set -euo pipefail

ROUNDS=2
ONLY=monitor,collector,aggregator,dashboard
while (($#)); do
	case $1 in
	--rounds) ROUNDS=${2:?--rounds N}; shift 2 ;;
	--only) ONLY=${2:?--only LIST}; shift 2 ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	-*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
(($# == 2)) || { echo "usage: $0 [--rounds N] [--only LIST] REV_A REV_B" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${COMPARE_DIR:-/var/tmp/stackmon-compare}
mkdir -p "$DIR"

# A detached checkout of a revision, made once, reused by later runs.
checkout() {
	local rev=$1 sha tree
	sha=$(git -C "$ROOT" rev-parse --verify "$rev^{commit}") ||
		{ echo "compare.sh: no such revision: $rev" >&2; exit 2; }
	tree=$DIR/${sha:0:12}
	if [ ! -d "$tree/.git" ] && [ ! -f "$tree/.git" ]; then
		rm -rf "$tree"
		git -C "$ROOT" worktree add --detach -q "$tree" "$sha"
	fi
	echo "$tree"
}

# One benchmark of one tree; its report goes to $2.
run_one() {
	local what=$1 tree=$2 out=$3
	case $what in
	monitor)
		# The monitor's benchmark expects a whole build.
		cmake --build "$(mkbuild "$tree")" -j2 >"$out.build" 2>&1 || { cat "$out.build"; return 1; }
		"$tree/bench/monitor/run.sh" --quick --no-qemu --build "$tree/build-bench" >"$out" 2>"$out.err"
		;;
	collector) "$tree/bench/collector/run.sh" "$(mkbuild "$tree")" --quick --only cost >"$out" 2>"$out.err" ;;
	aggregator)
		# The data path at 1,000 domains, the first figure of
		# bench/aggregator/run.sh, without its 10,000-domain runs (minutes
		# each): agg_bench directly, 30 steady rounds after the files exist.
		local b data
		b=$(mkbuild "$tree")
		cmake --build "$b" --target agg_bench -j2 >"$out.build" 2>&1 || { cat "$out.build"; return 1; }
		data=$(mktemp -d /var/tmp/compare-agg.XXXXXX)
		"$(find "$b" -name agg_bench -type f -perm -u+x | head -1)" direct "$data/d" 1000 42 \
			1s:3h,1m:7d,10m:1y sparse 10 | tr ' ' '\n' | grep -E "phase=|_s=|_per_|_ms_" >"$out"
		rm -rf "$data"
		;;
	dashboard) BUILD=$(mkbuild "$tree") RUNS=40 "$tree/bench/dashboard/run.sh" >"$out" 2>"$out.err" ;;
	*) echo "compare.sh: unknown benchmark $what" >&2; exit 2 ;;
	esac
}

# The Release build the benchmarks share (each script builds its own targets in it).
# Configured every time: a benchmark script may have made it without the
# tests, whose programs (the collector's load generator) others need.
mkbuild() {
	local b=$1/build-bench
	cmake -S "$1" -B "$b" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
	echo "$b"
}

# Figures of two reports side by side: lines whose words match but for
# numbers print each number as "a → b (x)", x = b/a; other lines print as A's.
side_by_side() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import re, sys
num = re.compile(r"-?\d+(?:\.\d+)?")
a = open(sys.argv[1]).read().splitlines()
b = open(sys.argv[2]).read().splitlines()
for la, lb in zip(a, b):
    if num.sub("#", la) != num.sub("#", lb) or not num.search(la):
        print(la)
        continue
    na, nb = num.findall(la), num.findall(lb)
    parts, last = [], 0
    for m, y in zip(num.finditer(la), nb):
        x = m.group()
        fx, fy = float(x), float(y)
        cell = x if x == y else f"{x}→{y}" + (f" ({fy / fx:.2f})" if fx else "")
        parts.append(la[last:m.start()] + cell)
        last = m.end()
    print("".join(parts) + la[last:])
PY
}

tree_a=$(checkout "$1")
tree_b=$(checkout "$2")
res=$DIR/results-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$res"
echo "# benchmarks, $1 (A) against $2 (B): $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
	"load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds, A then B each round"
echo "# A = $(git -C "$tree_a" log -1 --format='%h %s')"
echo "# B = $(git -C "$tree_b" log -1 --format='%h %s')"
echo "# reports: $res"
for what in ${ONLY//,/ }; do
	for r in $(seq "$ROUNDS"); do
		run_one "$what" "$tree_a" "$res/$what.A.$r" || { echo "A $what failed:"; tail -20 "$res/$what.A.$r"*; exit 1; }
		run_one "$what" "$tree_b" "$res/$what.B.$r" || { echo "B $what failed:"; tail -20 "$res/$what.B.$r"*; exit 1; }
	done
	for r in $(seq "$ROUNDS"); do
		echo
		echo "## $what, round $r of $ROUNDS (a → b (b/a))"
		echo '```'
		side_by_side "$res/$what.A.$r" "$res/$what.B.$r"
		echo '```'
	done
done
