#!/usr/bin/env bash
# Installs, from Debian 12's packages, everything StackMon needs to build,
# test and run its whole suite. Idempotent; needs root. Skips apt-get when
# every package is already present (quick on a prepared machine).
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libvirt-dev libzmq3-dev libmsgpack-dev libsqlite3-dev libcmocka-dev libxml2-dev
  # real parts the tests start
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils
  lighttpd chromium sqlite3
  # the other two web servers the dashboard ships snippets for (etc/nginx,
  # etc/apache2): tests/dashboard/servers_test.py serves through each
  nginx-light fcgiwrap apache2
  # the Python reference subscriber and the Whisper cross-checks
  python3 python3-zmq python3-msgpack python3-whisper
  # tools used by tests and benchmarks
  valgrind procps psmisc iproute2 systemd
  # a QEMU guest that does real work (tests/lib/qemu_domain.sh boots Debian's
  # kernel with a busybox initramfs)
  linux-image-amd64 busybox-static
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their services (three web servers would fight
  # over port 80, and the tests start their own instances): a policy-rc.d
  # that says "no" is put in place for the install unless one exists.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# installed by StackMon install-deps.sh for one apt run\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
