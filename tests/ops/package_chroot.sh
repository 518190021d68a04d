#!/usr/bin/env bash
# Proves the .deb on a clean Debian 12, as an operator meets it. Builds a
# minimal bookworm root with mmdebstrap (minbase plus systemd and dbus, so
# it can boot) and, in a chroot: installs the package with apt (which must
# find every library in Depends), runs every program as root, a collector
# and stackmon-sub as user stackmon and a monitor sample of libvirt's test
# driver as user stackmon-monitor, checks the postinst's hint to restart
# the web server, and purges it. Then it boots that root under systemd as PID 1 (systemd-nspawn,
# private network) with libvirtd installed, as on a compute node, and checks
# there (tests/ops/package_boot_check.sh): the users (not in group libvirt,
# stackmon-monitor able to read libvirt read-only, neither to manage it) and
# the key pairs the postinst made, READY without a collector, the monitor's
# log of held and sent frames with CurveZMQ on, the three units active at
# boot as their users, frames for an allowed key and none for plaintext,
# their systemd-analyze security exposure as docs/OPERATIONS.md states,
# clean reload, restart, upgrade and stop, `dpkg -r` leaving no unit link
# behind and a reinstall enabling the units again, and a purge leaving
# nothing. It needs Debian's mirror: when that does not answer it says SKIP
# (exit 77). Packages are kept for the next run in a cache of its own
# (STACKMON_APT_CACHE, default /var/cache/stackmon-test-debs), seeded with
# hard links to what this machine's apt has downloaded; the host's apt
# cache itself is never used, as the host's apt may be running. About 100 s
# with a warm cache.
# Usage: package_chroot.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
mirror=${STACKMON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${STACKMON_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
cache=${STACKMON_APT_CACHE:-/var/cache/stackmon-test-debs}
here=$(cd "$(dirname "$0")" && pwd)

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mmdebstrap, chroot, systemd-nspawn)"; exit 77; }
for tool in mmdebstrap:mmdebstrap systemd-nspawn:systemd-container cpack:cmake; do
  command -v "${tool%%:*}" >/dev/null ||
    { echo "FAIL: ${tool%%:*} is missing (apt-get install ${tool#*:})"; exit 1; }
done
tmp=$(mktemp -d)
nspawn=
cleanup() {
  if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then kill "$nspawn"; wait "$nspawn" || true; fi
  if [ "${STACKMON_KEEP_TMP:-0}" = 1 ]; then echo "kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# The mirror, asked the way apt asks it (apt's proxy settings apply). Not
# reaching it skips; a mirror that answers with an error fails.
if ! out=$(timeout 30 /usr/lib/apt/apt-helper download-file "$mirror/dists/bookworm/InRelease" \
             "$tmp/InRelease" 2>&1); then
  why=$(grep -m1 '^E: Failed to fetch' <<<"$out" || echo "no answer within 30 s")
  if grep -Eq 'Could not (connect|resolve)|Temporary failure|unreachable|timed out|no answer' <<<"$why"; then
    echo "SKIP: Debian's mirror cannot be reached: $why"
    exit 77
  fi
  echo "FAIL: Debian's mirror answers, but not with bookworm's InRelease: $why"
  exit 1
fi
mkdir -p "$cache/partial"
# One run at a time uses the cache (apt's own lock would fail, not wait).
exec 9>"$cache/.stackmon-test.lock"
flock -w 900 9 || { echo "FAIL: $cache is busy with another run for 15 minutes"; exit 1; }
for f in /var/cache/apt/archives/*.deb; do
  [ -e "$cache/${f##*/}" ] || ln "$f" "$cache/" 2>/dev/null || break # another file system: no seed
done

t00=$SECONDS t0=$SECONDS
(cd "$build" && cpack -G DEB -B "$tmp/out" --config CPackConfig.cmake >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log"; echo "FAIL: cpack"; exit 1; }
echo "built the package in $((SECONDS - t0)) s"

# ---- a clean bookworm root; packages through the cache (bind-mounted during
# the build only, in a mount namespace of its own) ----
t0=$SECONDS
root=$tmp/root
unshare -m --propagation private mmdebstrap --variant=minbase --mode=root \
  --include=systemd,dbus --skip=essential/unlink,cleanup/apt/lists \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="mount --bind '$cache' \"\$1/var/cache/apt/archives\"" \
  --customize-hook='umount "$1/var/cache/apt/archives"' \
  bookworm "$root" "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" >"$tmp/root.log" 2>&1 ||
  { tail -20 "$tmp/root.log"; echo "FAIL: cannot make the root"; exit 1; }
echo "clean bookworm root (minbase, systemd, dbus): $(du -sh "$root" | cut -f1), $((SECONDS - t0)) s"
cp "$tmp"/out/stackmon_*.deb "$root/tmp/stackmon.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# in_chroot SCRIPT: runs SCRIPT in the root with /proc, /dev and the cache.
in_chroot() {
  unshare -m --propagation private bash -euc '
    root=$1 cache=$2 script=$3
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount --bind "$cache" "$root/var/cache/apt/archives"
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive bash "$script"
  ' in_chroot "$root" "$cache" "$1"
}

# ---- in a chroot: apt installs it with its Depends, the programs run, purge ----
cat >"$root/tmp/inside.sh" <<'INSIDE'
set -u
fails=0
bad() { echo "FAIL (clean root): $*"; fails=$((fails + 1)); }
before=$(dpkg-query -W | wc -l)
apt-get install -y -qq --no-install-recommends /tmp/stackmon.deb >/tmp/install.log 2>&1 ||
  { cat /tmp/install.log; bad "apt-get install ./stackmon.deb"; exit 2; }
echo "installed with $(($(dpkg-query -W | wc -l) - before)) packages on a root of $before"
# www-data joined group stackmon: a web server already running must restart.
if grep -q "www-data is now in group stackmon.*restart it" <(tr '\n' ' ' </tmp/install.log); then
  echo "ok: the postinst says a running web server must be restarted"
else
  bad "the postinst did not say to restart the web server: $(grep -A3 'Setting up stackmon' /tmp/install.log)"
fi
for p in /usr/sbin/stackmon-monitor /usr/sbin/stackmon-collector /usr/sbin/stackmon-aggregator \
         /usr/bin/stackmon-sub /usr/lib/cgi-bin/stackmon.cgi; do
  [ -e "$p" ] || continue
  out=$("$p" --version 2>&1) && echo "ran: $out" || bad "$p --version: $out"
done
getent passwd stackmon >/dev/null || bad "no user stackmon"
# The daemons as their unit's user: a collector on ipc://, its heartbeat
# read back by stackmon-sub, and one monitor sample of the test driver.
# setpriv execs the collector itself, so SIGTERM reaches it directly.
d=$(mktemp -d) && chown stackmon "$d"
setpriv --reuid=stackmon --regid=stackmon --init-groups -- \
  stackmon-collector -c /dev/null --fan-in "ipc://$d/in" \
  --fan-out "ipc://$d/out" --name clean --heartbeat-interval 0.2 2>/tmp/collector.log &
c=$!
if runuser -u stackmon -- stackmon-sub --connect "ipc://$d/out" --kind hb --count 1 --timeout 20 \
     >/tmp/hb.json 2>&1 && grep -q '"kind":"hb"' /tmp/hb.json; then
  echo "ok: collector heartbeat read by stackmon-sub: $(cut -c1-80 /tmp/hb.json)"
else
  bad "no heartbeat: $(cat /tmp/hb.json /tmp/collector.log)"
fi
kill -TERM "$c"; wait "$c" || bad "collector exited $? after SIGTERM"
if runuser -u stackmon-monitor -- stackmon-monitor --once --uri test:///default >/tmp/once.json 2>/tmp/once.err &&
   grep -q '"kind":"stats"' /tmp/once.json; then
  echo "ok: monitor sample of test:///default: $(wc -c </tmp/once.json) bytes of JSON"
else
  bad "monitor --once: $(cat /tmp/once.err)"
fi
# apt purge removes stackmon alone: its libraries stay for the boot below.
apt-get purge -y -qq stackmon >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; bad "apt-get purge"; }
for p in /usr/sbin/stackmon-collector /var/lib/stackmon /etc/stackmon; do
  [ -e "$p" ] && bad "$p left after purge"
done
# A compute node: libvirt's daemon and what else stackmon recommends, so
# the booted root (no network there) installs the package from the file.
apt-get install -y -qq --no-install-recommends libvirt-daemon-system \
  $(dpkg-deb -f /tmp/stackmon.deb Recommends | tr -d ',') >/tmp/libvirt.log 2>&1 ||
  { cat /tmp/libvirt.log; bad "apt-get install libvirt-daemon-system"; exit 2; }
echo "compute node: libvirt-daemon-system installed, $(dpkg-query -W | wc -l) packages"
exit $((fails > 0)) # 1: checks failed, yet the root can boot; 2: it cannot
INSIDE
t0=$SECONDS
failed=()
in_chroot /tmp/inside.sh || case $? in
  1) failed+=(chroot) ;;
  *) echo "FAIL: the package on a clean Debian 12 (chroot)"; exit 1 ;;
esac
echo "installed, ran and purged in a chroot: $((SECONDS - t0)) s"

# ---- booted: systemd as PID 1 runs the checks (package_boot_check.sh) from
# a unit and powers off; the root boots twice (the units enabled in the first
# boot must start at the second). The exposure levels come from
# docs/OPERATIONS.md. ----
install -m 0755 "$here/package_boot_check.sh" "$root/root/stackmon-boot-check.sh"
cp "$root/tmp/stackmon.deb" "$root/root/stackmon.deb" # the container's /tmp is a fresh tmpfs
sed -n 's/^| `\(stackmon-[a-z]*\.service\)` | \([0-9.]*\) |.*/\1 \2/p' "$src/docs/OPERATIONS.md" \
  >"$root/root/stackmon-exposure"
nunits=$(find "$src/etc/systemd" -name 'stackmon-*.service' | wc -l)
[ "$(wc -l <"$root/root/stackmon-exposure")" = "$nunits" ] ||
  { echo "FAIL: docs/OPERATIONS.md's exposure table does not list the $nunits units of etc/systemd"; exit 1; }
cat >"$root/etc/systemd/system/stackmon-boot-check.service" <<'UNIT'
[Unit]
Description=StackMon package checks (tests/ops/package_boot_check.sh)
After=stackmon-monitor.service stackmon-collector.service stackmon-aggregator.service
After=libvirtd.service dbus.service

[Service]
Type=oneshot
ExecStart=/root/stackmon-boot-check.sh
StandardOutput=append:/root/stackmon-boot-check.log
StandardError=inherit
TimeoutStartSec=240
ExecStopPost=/bin/systemctl poweroff --no-block

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/stackmon-boot-check.service \
  "$root/etc/systemd/system/multi-user.target.wants/stackmon-boot-check.service"
rm -f "$root/etc/resolv.conf"
for boot in 1 2; do
  t0=$SECONDS
  timeout 300 systemd-nspawn --quiet --boot --directory="$root" --machine="stackmon-test-$$" \
    --register=no --keep-unit --private-network --console=pipe \
    systemd.show_status=false >"$tmp/boot$boot.log" 2>&1 &
  nspawn=$!
  wait "$nspawn" || echo "(systemd-nspawn exited $?)"
  nspawn=
  # What the checks printed in this boot (the log grows by one part a boot).
  sed -n "/^boot $boot:/,\$p" "$root/root/stackmon-boot-check.log" 2>/dev/null || true
  echo "boot $boot under systemd: $((SECONDS - t0)) s"
  grep -qx "boot $boot: passed" "$root/root/stackmon-boot-check.result" 2>/dev/null && continue
  failed+=("boot $boot")
  # Boot 2 needs what boot 1 set up: without its "done" there is no point.
  grep -qx "boot $boot: done" "$root/root/stackmon-boot-check.result" 2>/dev/null && continue
  echo "--- boot $boot: console"; grep -v "propagate" "$tmp/boot$boot.log" | tail -20
  echo "--- boot $boot: journal, last lines"
  journalctl -D "$root/var/log/journal" -b 0 -q --no-pager 2>&1 | tail -40
  break
done
if ((${#failed[@]})); then
  echo "FAIL: the package on a clean Debian 12: ${failed[*]}"
  exit 1
fi
echo "ok: installed, booted, run, removed and purged on a clean Debian 12 in $((SECONDS - t00)) s"
