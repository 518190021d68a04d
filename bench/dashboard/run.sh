#!/bin/bash
# run.sh — how long stackmon.cgi takes to answer, process start included, as
# a web server runs it (fork, exec, CGI environment, the whole page on
# stdout): the tenant page of 1,000 instances and an instance page with
# every graph over 7 days (the issue's targets: under 100 ms each), plus the
# other windows and the JSON API. Prints mean, median, p95 and max in ms.
#
#   bench/dashboard/run.sh                 (defaults below)
#   RUNS=200 INSTANCES=5000 bench/dashboard/run.sh
#
# The data directory is made by dash_fixture --bench: INSTANCES instances
# in one project, with latest values, and a week of Whisper files (default
# retention 1s:3h,1m:7d,10m:1y, 20 metrics) for the first one. Files are
# in the page cache after the first run (as on a dashboard in use).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
RUNS=${RUNS:-100}
INSTANCES=${INSTANCES:-1000}
DATA_PARENT=${DATA_PARENT:-/var/tmp}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$BUILD" --target stackmon.cgi dash_fixture -j2 >"$BUILD/dashboard_bench.build.log" 2>&1 ||
	{ cat "$BUILD/dashboard_bench.build.log"; exit 1; }

DIR=$(mktemp -d "$DATA_PARENT/dashboard_bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
"$BUILD/bench/dash_fixture" "$DIR/data" --bench "$INSTANCES" 2>/dev/null
printf 'user bench-user proj-bench\nadmin bench-admin\n' >"$DIR/access.list"
printf 'data_dir = %s\naccess_list = %s\n' "$DIR/data" "$DIR/access.list" >"$DIR/dashboard.conf"

echo "# dashboard bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), $(grep -o '^CMAKE_BUILD_TYPE:STRING=.*' "$BUILD/CMakeCache.txt" | cut -d= -f2) build"
echo "# $INSTANCES instances in one project; $RUNS runs per page after 3 warm-up runs;" \
	"data on $(df --output=fstype "$DATA_PARENT" | tail -1)"

/usr/bin/python3 - "$BUILD/dashboard/stackmon.cgi" "$DIR/dashboard.conf" "$RUNS" <<'PY'
import os, statistics, sys, time

cgi, conf, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
uuid = "d4000000-0000-4000-8000-000000000000"
pages = [
    ("tenant page, sorted by name", "/", "project=proj-bench", "bench-user"),
    ("tenant page, sorted by cpu", "/", "project=proj-bench&sort=cpu", "bench-user"),
    ("instance page, 15 min", "/instance", f"uuid={uuid}&window=15m", "bench-user"),
    ("instance page, 3 hours", "/instance", f"uuid={uuid}&window=3h", "bench-user"),
    ("instance page, 1 day", "/instance", f"uuid={uuid}&window=1d", "bench-user"),
    ("instance page, 7 days", "/instance", f"uuid={uuid}&window=7d", "bench-user"),
    ("JSON snapshot", "/api/v1/snapshot", "project=proj-bench", "bench-user"),
    ("JSON series, 7 days", "/api/v1/series", f"uuid={uuid}&metric=cpu_pct&window=7d",
     "bench-user"),
    ("admin overview", "/", "", "bench-admin"),
]
out_path = os.path.join(os.path.dirname(conf), "out")
print(f"{'page':<30} {'bytes':>8} {'mean':>7} {'median':>7} {'p95':>7} {'max':>7} {'cpu':>6}"
      "   (ms, wall clock; cpu = user+sys of the CGI, mean)")
for label, path, query, user in pages:
    env = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/stackmon",
           "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_USER": user,
           "STACKMON_DASHBOARD_CONF": conf}
    times, cpu = [], []
    for i in range(runs + 3):
        fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        t0 = time.perf_counter()
        pid = os.posix_spawn(cgi, [cgi], env, file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1)])
        _, status, ru = os.wait4(pid, 0)
        t1 = time.perf_counter()
        os.close(fd)
        if status != 0:
            sys.exit(f"{label}: exit status {status}")
        if i >= 3:
            times.append((t1 - t0) * 1000)
            cpu.append((ru.ru_utime + ru.ru_stime) * 1000)
    with open(out_path, "rb") as f:
        head = f.read(64)
        size = os.path.getsize(out_path)
    if not head.startswith(b"Status: 200"):
        sys.exit(f"{label}: {head!r}")
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    print(f"{label:<30} {size:>8} {statistics.mean(times):7.1f} {statistics.median(times):7.1f}"
          f" {p95:7.1f} {times[-1]:7.1f} {statistics.mean(cpu):6.1f}")
PY
