#!/bin/busybox sh
# shellcheck shell=dash
# /init of the tiny guest that tests/lib/qemu_domain.sh boots: Debian's kernel
# plus busybox-static. It loads the virtio drivers, then loops forever doing a
# little CPU, disk and network work each second so that every counter a
# monitor reads moves (the balloon's unused memory swings by 8 MiB every
# 10 s). Kernel command line knobs: smload=N (work per second, default 1,
# 0 = idle), smdisk=0 (no disk I/O), smnet=0 (no packets), and smwork=W for
# the evaluation (bench/evaluation/run.sh): instead of that loop, one kind of
# work without pause: busy (a shell busy loop), disk (write, flush and read
# back the disk), net (pings to the host, back to back) or mem (fill an 8 MiB
# tmpfs file and free it, each for 5 s), switched at run time through the
# control disk vdb.
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
work=
for arg in $(cat /proc/cmdline); do
	case $arg in
	smload=*) load=${arg#smload=} ;;
	smdisk=*) disk=${arg#smdisk=} ;;
	smnet=*) net=${arg#smnet=} ;;
	smwork=*) work=${arg#smwork=} ;;
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
echo "smguest: up load=$load disk=$disk net=$net work=${work:-none} vda=$([ -b /dev/vda ] && echo yes || echo no)"

# The evaluation's workloads (smwork=W, bench/evaluation/run.sh): one kind of
# work without pause, as fast as the guest's vCPU quota lets it, so the host
# sees a steady load of one kind. The host switches it at run time by writing
# another word into the control disk vdb (qemu_domain.sh work NAME W).
work_loop() {
	case $1 in
	busy)
		while :; do :; done
		;;
	disk)
		n=0
		while :; do
			n=$((n + 1))
			off=$(((n * 256) % 8192))
			dd if=/dev/zero of=/dev/vda bs=4k count=256 seek=$off conv=fsync 2>/dev/null
			echo 1 >/proc/sys/vm/drop_caches
			dd if=/dev/vda of=/dev/null bs=4k count=256 skip=$off 2>/dev/null
		done
		;;
	net)
		while :; do
			ping6 -c 1 -s 1000 -W 1 -I eth0 ff02::1 >/dev/null 2>&1
		done
		;;
	mem)
		while :; do
			dd if=/dev/zero of=/tmp/ballast bs=1M count=8 2>/dev/null
			sleep 5
			rm -f /tmp/ballast
			sleep 5
		done
		;;
	*) while :; do sleep 1; done ;;
	esac
}
if [ -n "$work" ]; then
	cur=
	pid=
	while :; do
		if [ -b /dev/vdb ]; then
			echo 1 >/proc/sys/vm/drop_caches
			w=$(dd if=/dev/vdb bs=512 count=1 2>/dev/null | tr -dc a-z)
			[ -n "$w" ] && work=$w
		fi
		if [ "$work" != "$cur" ]; then
			[ -n "$pid" ] && kill "$pid"
			rm -f /tmp/ballast
			work_loop "$work" &
			pid=$!
			cur=$work
			echo "smguest: work=$cur"
		fi
		sleep 1
	done
fi

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
