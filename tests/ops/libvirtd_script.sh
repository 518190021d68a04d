#!/usr/bin/env bash
# scripts/libvirtd.sh counts a daemon as running only in this root: a process
# named libvirtd in another root (a container or chroot on the same kernel),
# named by a pidfile, is not ours to wait for; one in this root is.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (chroot)"; exit 77; }
[ -x /bin/busybox ] || { echo "SKIP: busybox-static is not installed"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }

# A process whose command name is libvirtd, in another root.
mkdir -p "$tmp/other/bin" "$tmp/run" "$tmp/here"
cp /bin/busybox "$tmp/other/bin/busybox"
ln "$tmp/other/bin/busybox" "$tmp/other/libvirtd"
chroot "$tmp/other" /bin/busybox sh -c 'exec -a sleep /libvirtd 60' &
pids+=($!)
# The same in this root.
cp /bin/busybox "$tmp/here/libvirtd"
(exec -a sleep "$tmp/here/libvirtd" 60) &
pids+=($!)
sleep 0.3
check "the other root's process is named libvirtd" "[ \"\$(cat /proc/${pids[0]}/comm)\" = libvirtd ]"

export STACKMON_LIBVIRT_RUN_DIR=$tmp/run
echo "${pids[0]}" >"$tmp/run/libvirtd.pid"
check "a pidfile naming another root's libvirtd is not a running libvirtd" \
  "! $top/scripts/libvirtd.sh pid libvirtd"
echo "${pids[1]}" >"$tmp/run/libvirtd.pid"
check "a pidfile naming this root's libvirtd is" \
  "[ \"\$($top/scripts/libvirtd.sh pid libvirtd)\" = ${pids[1]} ]"
echo "$$" >"$tmp/run/libvirtd.pid"
check "a pidfile naming a process of another name is not" "! $top/scripts/libvirtd.sh pid libvirtd"
rm "$tmp/run/libvirtd.pid"
check "no pidfile: not running" "! $top/scripts/libvirtd.sh pid libvirtd"
((fails == 0)) && echo "libvirtd_script: all checks passed"
exit $((fails > 0))
