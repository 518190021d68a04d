#!/bin/busybox sh
# shellcheck shell=dash
# /init of the tiny guest that tests/lib/qemu_domain.sh boots: Debian's kernel
# plus busybox-static. It loads the virtio drivers, then loops forever doing a
# little CPU, disk and network work each second so that every counter a
# monitor reads moves (the balloon's unused memory swings by 8 MiB every
# 10 s). Kernel command line knobs: smload=N (work per second, default 1,
# 0 = idle), smdisk=0 (no disk I/O), smnet=0 (no packets).
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
	virtio_blk failover net_failover virtio_net virtio_balloon; do
	[ -f /lib/modules/$m.ko ] && { insmod /lib/modules/$m.ko || echo "smguest: insmod $m failed"; }
done

load=1
disk=1
net=1
for arg in $(cat /proc/cmdline); do
	case $arg in
	smload=*) load=${arg#smload=} ;;
	smdisk=*) disk=${arg#smdisk=} ;;
	smnet=*) net=${arg#smnet=} ;;
	esac
done

ip link set lo up
ip link set eth0 up 2>/dev/null
# Wait for the block device node (virtio_blk probes asynchronously).
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "smguest: up load=$load disk=$disk net=$net vda=$([ -b /dev/vda ] && echo yes || echo no)"

n=0
while true; do
	n=$((n + 1))
	if [ "$load" -gt 0 ]; then
		# CPU: hash load*128 KiB of zeros.
		dd if=/dev/zero bs=1k count=$((load * 128)) 2>/dev/null | md5sum >/dev/null
		if [ "$disk" = 1 ] && [ -b /dev/vda ]; then
			# Write load*64 KiB somewhere in the first 32 MiB, flush it,
			# then read it back from the device, not the page cache.
			off=$(((n * 16) % 8192))
			dd if=/dev/urandom of=/dev/vda bs=4k count=$((load * 16)) seek=$off conv=fsync 2>/dev/null
			echo 1 >/proc/sys/vm/drop_caches
			dd if=/dev/vda of=/dev/null bs=4k count=$((load * 16)) skip=$off 2>/dev/null
		fi
		if [ "$net" = 1 ]; then
			# All-nodes multicast on the tap's link: the host answers from
			# its link-local address, so both tx and rx move, and no packet
			# leaves the host.
			ping6 -c 1 -W 1 -I eth0 ff02::1 >/dev/null 2>&1
		fi
	fi
	if [ "$load" -gt 0 ]; then
		# Memory: hold 8 MiB in the RAM root file system for 10 s out of
		# 20, so the balloon's unused/available figures move too.
		if [ $((n % 20)) = 0 ]; then
			dd if=/dev/zero of=/tmp/ballast bs=1M count=8 2>/dev/null
		elif [ $((n % 20)) = 10 ]; then
			rm -f /tmp/ballast
		fi
	fi
	if [ $((n % 60)) = 1 ]; then
		echo "smguest: alive n=$n"
	fi
	sleep 1
done
