#!/usr/bin/env bash
# Proves the .deb installs on a clean Debian 12: builds a minimal bookworm
# root (mmdebstrap, or debootstrap, --variant=minbase), installs the package
# there with apt (which fetches its Depends from the Debian mirror), runs
# every program's --version as root, then as user stackmon a collector, a
# heartbeat read by stackmon-sub and a monitor sample of libvirt's test
# driver, and purges it. It needs the Debian mirror apt uses, so it is
# opt-in: it runs only with STACKMON_NETWORK_TESTS=1 (about 2 minutes).
# Usage: package_chroot.sh BUILD_DIR
set -euo pipefail
build=$1
if [ "${STACKMON_NETWORK_TESTS:-0}" != 1 ]; then
  echo "SKIP: needs the Debian mirror; set STACKMON_NETWORK_TESTS=1 to run it"
  exit 77
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
if command -v mmdebstrap >/dev/null; then
  make_root() { mmdebstrap --variant=minbase --mode=root bookworm "$1" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"; }
elif command -v debootstrap >/dev/null; then
  make_root() { debootstrap --variant=minbase bookworm "$1" http://deb.debian.org/debian; }
else
  echo "SKIP: neither mmdebstrap nor debootstrap is installed (apt-get install mmdebstrap)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t0=$SECONDS
(cd "$build" && cpack -G DEB -B "$tmp/out" --config CPackConfig.cmake >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log"; echo "FAIL: cpack"; exit 1; }
make_root "$tmp/root" >"$tmp/root.log" 2>&1 || { tail -20 "$tmp/root.log"; echo "FAIL: cannot make the root"; exit 1; }
echo "clean bookworm root: $(du -sh "$tmp/root" | cut -f1), $((SECONDS - t0)) s"
cp "$tmp"/out/stackmon_*.deb "$tmp/root/tmp/stackmon.deb"
cp /etc/resolv.conf "$tmp/root/etc/resolv.conf"
cat >"$tmp/root/tmp/inside.sh" <<'INSIDE'
set -u
fails=0
bad() { echo "FAIL (clean root): $*"; fails=$((fails + 1)); }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/tmp/update.log 2>&1 || { cat /tmp/update.log; bad "apt-get update"; exit 1; }
before=$(dpkg-query -W | wc -l)
apt-get install -y -qq --no-install-recommends /tmp/stackmon.deb >/tmp/install.log 2>&1 ||
  { cat /tmp/install.log; bad "apt-get install ./stackmon.deb"; exit 1; }
echo "installed with $(($(dpkg-query -W | wc -l) - before)) packages on a root of $before"
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
if runuser -u stackmon -- stackmon-monitor --once --uri test:///default >/tmp/once.json 2>/tmp/once.err &&
   grep -q '"kind":"stats"' /tmp/once.json; then
  echo "ok: monitor sample of test:///default: $(wc -c </tmp/once.json) bytes of JSON"
else
  bad "monitor --once: $(cat /tmp/once.err)"
fi
apt-get purge -y -qq stackmon >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; bad "apt-get purge"; }
for p in /usr/sbin/stackmon-collector /var/lib/stackmon /etc/stackmon; do
  [ -e "$p" ] && bad "$p left after purge"
done
exit $((fails > 0))
INSIDE
t0=$SECONDS
unshare -m --propagation private bash -euc '
  root=$1
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 bash /tmp/inside.sh
' chroot "$tmp/root" || { echo "FAIL: the package on a clean Debian 12"; exit 1; }
echo "ok: installed, ran and purged on a clean Debian 12 in $((SECONDS - t0)) s"
