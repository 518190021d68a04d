#!/usr/bin/env bash
# The fresh-machine proof: the README's two commands, word for word, on a
# brand-new Debian 12 root. Run by scripts/test.sh as its last stage (and so
# by CI on every run); also by hand: scripts/clean-root-check.sh.
#
#   1. makes a minimal Debian 12 root with mmdebstrap (--variant=minbase:
#      Essential packages and apt only, less than debootstrap's default),
#   2. clones this repository's HEAD into it at /root/stackmon (/root is
#      0700 there, as on a real machine: nothing may assume a readable tree),
#   3. runs scripts/install-deps.sh inside it with the network (the first
#      thing both commands do; later calls find everything installed),
#   4. then, in a private network namespace (only loopback: no port of this
#      machine's can collide with the root's), runs
#         scripts/run-suite.sh --for 30
#         scripts/test.sh --no-fuzz --no-asan
#      exactly as the README says, chrooted in namespaces of its own (PID,
#      mount, host name, network: see in_root below),
#   5. checks the first printed the dashboard's URL and stopped cleanly, and
#      the second ended with "all tests passed", prints each stage's time and
#      removes the root.
# Exit 0 when both commands passed, 1 when one failed, 77 when the Debian
# mirror cannot be reached (nothing can be proved then; said plainly).
#
# Options: --keep (leave the root in place for a look), --reuse (start from
# a root left by --keep: a new clone, the packages it has; for debugging the
# proof itself, not a proof), --dir DIR (where to
# build it; default /var/tmp/stackmon-clean-root). Needs root, mmdebstrap,
# util-linux's unshare and git (scripts/install-deps.sh installs them).
#
# Speed-ups that change nothing the commands do: dpkg in the throwaway root
# skips fsync (force-unsafe-io), and apt reuses this machine's downloaded
# .deb files (a bind mount of /var/cache/apt/archives).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp/stackmon-clean-root
keep=0 reuse=0
while (($#)); do
  case $1 in
    --keep) keep=1 ;;
    --reuse) reuse=1 ;;
    --dir) dir=$2; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "clean-root-check: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf 'clean-root-check: %s\n' "$*"; }
die() { printf 'clean-root-check: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, namespaces, chroot)"
for c in mmdebstrap unshare git; do
  command -v "$c" >/dev/null || die "$c is not installed: run scripts/install-deps.sh"
done
if [ -n "${container:-}" ]; then
  say "SKIP: already inside a container ($container): the proof runs on the host"
  exit 77
fi

mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security
if ! timeout 20 bash -c "exec 3<>/dev/tcp/deb.debian.org/80" 2>/dev/null; then
  say "SKIP: Debian's mirror (deb.debian.org:80) cannot be reached: no fresh root can be made"
  exit 77
fi

root=$dir/root
logs=$dir/logs
cleanup() {
  if ((keep)); then
    say "root left in $root (logs in $logs)"
  else
    rm -rf --one-file-system "$root"
  fi
}
if ((reuse)) && [ -e "$root/etc/debian_version" ]; then
  rm -rf --one-file-system "$root/root/stackmon"
else
  reuse=0
  rm -rf --one-file-system "$root"
fi
mkdir -p "$logs"
trap cleanup EXIT

# in_root [--private-network] COMMAND: runs COMMAND (a bash script) as root
# in the root (made / by pivot_root), like a machine of its own: its own PID namespace (whose init
# reaps orphans and whose end ends every process left), mount namespace with
# /proc, /sys, /dev and a fresh /run, host name, and with --private-network
# a network namespace with only loopback. /sys is this machine's, writable,
# so libvirt's QEMU driver can make its cgroups as on a real machine (a
# systemd-nspawn container mounts them read-only, and guests cannot start).
in_root() {
  local net=()
  if [ "$1" = --private-network ]; then net=(--net); shift; fi
  unshare --pid --fork --mount --uts "${net[@]}" --propagation private \
    /bin/bash -s "$root" "$1" <<'ENTER'
set -e
root=$1 script=$2
# The root is a mount of its own, and becomes / by pivot_root, not chroot:
# libvirt's per-guest mount namespaces and unshare(1) in the tests need a
# real root mount, as on a machine.
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount --bind /var/cache/apt/archives "$root/var/cache/apt/archives"
ip link set lo up 2>/dev/null || true
hostname stackmon-clean
cd "$root"
mkdir -p .host
pivot_root . .host
umount -l /.host
rmdir /.host
cd /
# PID 1 of the namespace: runs the script, reaps whatever it orphans.
/usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  container=stackmon-clean-root /bin/bash -c "$script" &
wait $!
ENTER
}

t0=$SECONDS
if ((reuse)); then
  say "reusing the root in $root (--reuse: not a fresh machine)"
else
say "making a minimal Debian 12 root in $root"
mmdebstrap --variant=minbase --mode=root bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" >"$logs/mmdebstrap.log" 2>&1 ||
  { tail -20 "$logs/mmdebstrap.log"; die "mmdebstrap failed (see $logs/mmdebstrap.log)"; }
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/stackmon-clean-root-unsafe-io"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q "$top" "$root/root/stackmon"
chmod 0700 "$root/root"
t_root=$((SECONDS - t0))
say "root ready: $(du -sh --exclude=root/stackmon "$root" | cut -f1), $(dpkg-query --admindir="$root/var/lib/dpkg" -W | wc -l) packages, ${t_root} s"

t1=$SECONDS
say "scripts/install-deps.sh in the root (with the network)"
if ! in_root 'cd /root/stackmon && scripts/install-deps.sh' >"$logs/install-deps.log" 2>&1; then
  tail -30 "$logs/install-deps.log"
  die "install-deps.sh failed in the clean root (see $logs/install-deps.log)"
fi
t_deps=$((SECONDS - t1))
say "installed: $(dpkg-query --admindir="$root/var/lib/dpkg" -W | wc -l) packages, ${t_deps} s"

status=0
t2=$SECONDS
say "scripts/run-suite.sh --for 30 (private network)"
if in_root --private-network 'cd /root/stackmon && scripts/run-suite.sh --for 30' \
     >"$logs/run-suite.log" 2>&1; then
  if url=$(grep -m1 -oE 'dashboard: +http://[^ ]+' "$logs/run-suite.log"); then
    say "ok: run-suite.sh started the suite and printed the ${url}, then stopped"
  else
    tail -30 "$logs/run-suite.log"
    say "FAIL: run-suite.sh printed no dashboard URL"
    status=1
  fi
else
  tail -40 "$logs/run-suite.log"
  say "FAIL: run-suite.sh --for 30 failed in the clean root (see $logs/run-suite.log)"
  status=1
fi
t_suite=$((SECONDS - t2))

t3=$SECONDS
say "scripts/test.sh --no-fuzz --no-asan (private network)"
in_root --private-network 'cd /root/stackmon && scripts/test.sh --no-fuzz --no-asan' \
  >"$logs/test.log" 2>&1 || true
t_test=$((SECONDS - t3))
grep -E '^[0-9]+% tests passed|tests failed out of|\(Failed\)|\(Timeout\)|\(Skipped\)' "$logs/test.log" || true
if [ "$(grep -v '^\s*$' "$logs/test.log" | tail -n1)" = "all tests passed" ]; then
  say "ok: test.sh ended with 'all tests passed'"
else
  tail -60 "$logs/test.log"
  say "FAIL: test.sh did not pass in the clean root (see $logs/test.log)"
  status=1
fi

say "times: root ${t_root} s, install-deps ${t_deps} s, run-suite ${t_suite} s, test.sh ${t_test} s, total $((SECONDS - t0)) s"
if ((status)); then keep=1; fi # a failure leaves the root for a look
exit $status
