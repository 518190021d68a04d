#!/usr/bin/env bash
# The exporter as a daemon at scale: simulated monitors (bench_loadgen,
# 10 domains a frame, 1 frame/s each) through a collector into a real
# stackmon-exporter; once its series count settles, timed scrapes with curl
# (plain and gzip), its RSS, and its CPU per second of frames. Loopback only.
# Usage: bench/exporter/live.sh BUILD_DIR [MONITORS...]   (default 270: ~100,000 series)
set -euo pipefail
build=${1:?usage: live.sh BUILD_DIR [MONITORS...]}
shift
(($#)) || set -- 270
cmake --build "$build" --target stackmon-collector stackmon-exporter bench_loadgen >/dev/null
tmp=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
port=$((26000 + $$ % 500 * 2))
fin=tcp://127.0.0.1:$port fout=tcp://127.0.0.1:$((port + 1)) http=127.0.0.1:$((port + 1000))
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
series() { curl -s "http://$http/metrics" | awk '/^stackmon_exporter_series / {print $2}'; }

echo "# stackmon-exporter at scale, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| monitors | domains | series | scrape (median of 5) | text | gzip scrape | gzip bytes | exporter RSS | exporter CPU at 1 frame/s per monitor |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for monitors in "$@"; do
  "$build/src/collector/stackmon-collector" --name bench --fan-in "$fin" --fan-out "$fout" \
    --startup-grace 0 -q &
  pids+=($!)
  "$build/src/exporter/stackmon-exporter" --subscribe "$fout" --listen "$http" -q &
  exp=$!
  pids+=($exp)
  sleep 1
  "$build/bench/collector/bench_loadgen" --connect "$fin" --publishers "$monitors" --domains 10 \
    --rate "$monitors" --duration 40 --prefix lg >"$tmp/lg.out" &
  lg=$!
  pids+=($lg)
  # settle: the series count stops growing
  last=-1
  for _ in $(seq 60); do
    sleep 1
    n=$(series || echo 0)
    [[ -n $n && $n != 0 && $n == "$last" ]] && break
    last=$n
  done
  c0=$(cpu_s "$exp")
  sleep 10
  c1=$(cpu_s "$exp")
  times=() gtimes=()
  for _ in 1 2 3 4 5; do
    times+=("$(curl -s -o "$tmp/m.txt" -w '%{time_total}' "http://$http/metrics")")
    gtimes+=("$(curl -s -H 'Accept-Encoding: gzip' -o "$tmp/m.gz" -w '%{time_total}' "http://$http/metrics")")
  done
  med() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
  printf '| %d | %d | %s | %.0f ms | %.1f MB | %.0f ms | %.1f MB | %s MiB | %.1f %% |\n' \
    "$monitors" $((monitors * 10)) "$(series)" "$(echo "$(med "${times[@]}") * 1000" | bc)" \
    "$(echo "$(stat -c %s "$tmp/m.txt") / 1000000" | bc -l)" \
    "$(echo "$(med "${gtimes[@]}") * 1000" | bc)" \
    "$(echo "$(stat -c %s "$tmp/m.gz") / 1000000" | bc -l)" "$(rss_mib "$exp")" \
    "$(echo "($c1 - $c0) * 10" | bc -l)"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  pids=()
done
