#!/usr/bin/env bash
# What each libvirt statistics request costs a QEMU guest and libvirtd
# (docs/MONITOR.md, "What a request costs QEMU"): boots one idle test guest
# (tests/lib/qemu_domain.sh), makes CALLS back-to-back requests of each kind
# on it (bench/monitor/qmp_cost.c) and prints the CPU each costs QEMU and
# libvirtd per call, idle rates subtracted. Asserts nothing.
#
# Usage (root, libvirtd running): bench/monitor/qmp_cost.sh [CALLS]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CALLS=${1:-1000}
[[ $CALLS =~ ^[0-9]+$ ]] || {
	echo "usage: $0 [CALLS]" >&2
	exit 2
}
GUEST=smtest-qmpcost
WORK=$(mktemp -d /tmp/sm-qmpcost-XXXXXX)
trap '"$ROOT/tests/lib/qemu_domain.sh" destroy "$GUEST" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
read -ra LIBVIRT_FLAGS <<<"$(pkg-config --cflags --libs libvirt)"
cc -O2 -Wall -o "$WORK/qmp_cost" "$HERE/qmp_cost.c" "${LIBVIRT_FLAGS[@]}"
"$ROOT/tests/lib/qemu_domain.sh" create "$GUEST" --load 0 >/dev/null
"$ROOT/tests/lib/qemu_domain.sh" wait-boot "$GUEST" 300
sleep 5 # let the guest settle into idle
qemu=$(pgrep -f "guest=$GUEST," | head -1)
lv=$(pgrep -x libvirtd | head -1)
echo "# $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), libvirt $(virsh -v), $(qemu-system-x86_64 --version | head -1)"
"$WORK/qmp_cost" qemu:///system "$GUEST" "$qemu" "$lv" "$CALLS"
