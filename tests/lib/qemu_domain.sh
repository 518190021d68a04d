#!/usr/bin/env bash
# Creates and destroys small real QEMU domains (TCG, transient) on
# qemu:///system for StackMon's monitor tests and the demo. Needs root and a
# running libvirtd (scripts/libvirtd.sh start).
#
# Usage:
#   qemu_domain.sh create NAME [--bios] [--mem MIB] [--load N] [--work W]
#                             [--nova PROJECT_ID PROJECT_NAME USER DISPLAY_NAME FLAVOR]
#   qemu_domain.sh wait-boot NAME [SECONDS]   exit 0 once the guest's workload runs
#   qemu_domain.sh vcpu-quota NAME PCT        cap the running guest's vCPU
#   qemu_domain.sh work NAME W                switch a --work guest's work to W
#   qemu_domain.sh destroy NAME               destroy one domain, remove its files
#   qemu_domain.sh destroy-all                every smtest-* domain and its files
#                                             (also other tests' smtest-* domains!)
#   qemu_domain.sh guest-image                build/cache the guest initramfs only
#
# NAME must start with "smtest-" (so libvirtd.sh stop and destroy-all can find
# leftovers). create prints key=value lines on stdout, one per line:
#   name=NAME  uuid=UUID  tap=smt-XXXXXXXX  dir=/var/tmp/stackmon-test/dom-SAFE-HEX
#   boot=kernel|bios  disk=vda  console=DIR/console.log
# The UUID is derived from NAME (md5), so a test knows it in advance. The
# domain has 1 vCPU, --mem MiB (default 96, the least a kernel-booted guest
# boots with; a --bios guest can have 64), a 64 MiB qcow2 disk on virtio
# (target vda), one virtio NIC on a tap (type='ethernet', host side brought up)
# and a virtio balloon with 1 s stats. With Debian's kernel (/boot/vmlinuz-*)
# and busybox-static present it direct-boots a tiny initramfs whose /init
# (tests/lib/guest-init.sh) does CPU, disk and network work every second
# (--load N scales it, 0 = idle); otherwise, or with --bios, the guest sits in
# the BIOS (CPU, block, net and balloon.rss counters exist but barely move).
# --nova writes Nova 1.1 metadata; USER is USER_ID or USER_ID:USER_NAME.
# --work W (busy, disk, net or mem) replaces that loop by one kind of work
# without pause (guest-init.sh's smwork) and adds a read-only 1 MiB control
# disk (vdb) through which "work" switches it at run time. vcpu-quota caps the vCPU thread of
# a running guest at PCT % of a core (libvirt's cputune vcpu quota, live;
# QEMU's emulator threads stay uncapped): after wait-boot, as a capped TCG
# guest takes minutes to boot.
#
# Environment: STACKMON_TEST_VAR (default /var/tmp/stackmon-test) holds the
# cached initramfs and the per-domain folders; LIBVIRT_QEMU_URI (default
# qemu:///system).
set -euo pipefail

VAR_DIR=${STACKMON_TEST_VAR:-/var/tmp/stackmon-test}
URI=${LIBVIRT_QEMU_URI:-qemu:///system}
PREFIX=smtest-
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_INIT=$HERE/guest-init.sh

die() {
	echo "qemu_domain.sh: error: $*" >&2
	exit 1
}
note() { echo "qemu_domain.sh: $*" >&2; }

# shellcheck source=tests/lib/domxml.sh
. "$HERE/domxml.sh"

# Tap names are at most 15 bytes: "smt-" plus 8 hex digits of the name's md5.
tap_of() {
	local h
	h=$(hex_of "$1")
	echo "smt-${h:0:8}"
}

# Per-domain folder: the name's safe characters (for people reading it) plus
# 8 hex digits of its md5 (so any libvirt name maps to a usable path).
dir_of() {
	local safe=${1//[^A-Za-z0-9._-]/}
	echo "$VAR_DIR/dom-${safe:0:40}-$(hex_of "$1" | cut -c1-8)"
}

check_name() {
	[[ $1 == "$PREFIX"?* ]] || die "domain name must start with $PREFIX: '$1'"
	# The QEMU driver refuses '/' and newlines, and names too long for a file.
	[[ $1 != */* && $1 != *$'\n'* && ${#1} -le 200 ]] ||
		die "domain name must have no '/' or newline and at most 200 chars"
}

# Newest Debian kernel that has its modules installed, or nothing.
find_kernel() {
	local k ver
	for k in $(printf "%s\n" /boot/vmlinuz-* | sort -rV); do
		ver=${k#/boot/vmlinuz-}
		if [[ -r $k && -d /lib/modules/$ver/kernel/drivers/virtio ]]; then
			echo "$k"
			return 0
		fi
	done
	return 1
}

busybox_static() {
	[[ -x /bin/busybox ]] || return 1
	# Debian's plain busybox package is dynamic; only busybox-static can run
	# alone in an initramfs.
	local out
	out=$(LC_ALL=C ldd /bin/busybox 2>&1 || true)
	[[ $out == *"not a dynamic executable"* ]]
}

# Builds (once, cached by kernel version and /init content) the guest
# initramfs and prints its path. Safe when several tests call it at once.
guest_image() {
	local kernel ver key out tmp m src
	kernel=$(find_kernel) || return 1
	busybox_static || return 1
	ver=${kernel#/boot/vmlinuz-}
	key=$(cat "$GUEST_INIT" /bin/busybox | md5sum | cut -c1-12)
	out=$VAR_DIR/guest-$ver-$key.cpio.gz
	mkdir -p "$VAR_DIR"
	if [[ -s $out ]]; then
		touch "$out" # in use: see the clean-up below
		echo "$out"
		return 0
	fi
	exec 9>"$VAR_DIR/guest.lock"
	flock 9
	if [[ ! -s $out ]]; then
		tmp=$(mktemp -d "$VAR_DIR/initramfs.XXXXXX")
		mkdir -p "$tmp/bin" "$tmp/lib/modules" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp"
		cp /bin/busybox "$tmp/bin/busybox"
		install -m 755 "$GUEST_INIT" "$tmp/init"
		for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
			virtio_blk failover net_failover virtio_net virtio_balloon; do
			src=$(find "/lib/modules/$ver/kernel" -name "$m.ko*" | head -n1)
			[[ -n $src ]] || continue
			case $src in
			*.ko.xz) xz -dc "$src" >"$tmp/lib/modules/$m.ko" ;;
			*.ko.zst) zstd -qdc "$src" >"$tmp/lib/modules/$m.ko" ;;
			*) cp "$src" "$tmp/lib/modules/$m.ko" ;;
			esac
		done
		if command -v cpio >/dev/null; then
			(cd "$tmp" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -9 >"$out.tmp"
		else
			(cd "$tmp" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc) | gzip -9 >"$out.tmp"
		fi
		mv -f "$out.tmp" "$out"
		rm -rf "$tmp"
		# Images for an older /init or kernel: removed once unused for an
		# hour. Not at once: another checkout sharing VAR_DIR (a worktree
		# with another guest-init.sh) may be starting a guest from its own
		# image right now, and each use touches it.
		find "$VAR_DIR" -maxdepth 1 -name 'guest-*.cpio.gz' ! -path "$out" -mmin +60 -delete
	fi
	exec 9>&-
	echo "$out"
}

cmd_create() {
	local name=$1 bios=0 nova="" dir uuid tap kernel="" initrd="" os xml
	shift
	check_name "$name"
	MEM=96
	local load=1 nova_args=() work=""
	while (($#)); do
		case $1 in
		--bios) bios=1 ;;
		--mem)
			MEM=${2:?--mem MIB}
			shift
			;;
		--load)
			load=${2:?--load N}
			shift
			;;
		--work)
			work=${2:?--work W}
			shift
			;;
		--nova)
			(($# >= 6)) || die "--nova needs PROJECT_ID PROJECT_NAME USER DISPLAY_NAME FLAVOR"
			nova_args=("$2" "$3" "$4" "$5" "$6")
			shift 5
			;;
		*) die "unknown option '$1'" ;;
		esac
		shift
	done
	[[ $MEM =~ ^[0-9]+$ && $load =~ ^[0-9]+$ ]] || die "--mem and --load take numbers"
	[[ -z $work || $work =~ ^(busy|disk|net|mem)$ ]] || die "--work takes busy, disk, net or mem"
	((${#nova_args[@]} == 0)) || nova=$(nova_xml "$MEM" 1 "${nova_args[@]}")
	[[ $(id -u) == 0 ]] || die "must run as root"
	virsh -q -c "$URI" list >/dev/null 2>&1 || die "$URI does not answer: run scripts/libvirtd.sh start"

	uuid=$(uuid_of "$name")
	tap=$(tap_of "$name")
	dir=$(dir_of "$name")
	if virsh -q -c "$URI" domuuid "$name" >/dev/null 2>&1; then
		die "domain $name already exists (destroy it first)"
	fi

	if ((!bios)); then
		if kernel=$(find_kernel) && initrd=$(guest_image); then
			:
		else
			note "no Debian kernel with modules or no busybox-static: falling back to a BIOS-only guest" \
				"(install linux-image-amd64 busybox-static for a guest that does work)"
			bios=1
		fi
	fi
	if ((!bios && MEM < 96)); then
		# Debian's kernel with this initramfs runs out of memory while
		# booting with 80 MiB (measured); 96 MiB leaves ~20 MiB free.
		die "a kernel-booted guest needs --mem 96 or more (use --bios for less)"
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	qemu-img create -q -f qcow2 "$dir/disk.qcow2" 64M
	printf '%s\n' "$name" >"$dir/name"

	if ((bios)); then
		os="<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>"
	else
		os="<os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$(xml_escape "$kernel")</kernel>
    <initrd>$(xml_escape "$initrd")</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 mitigations=off smload=$load${work:+ smwork=$work}</cmdline>
  </os>"
	fi

	local ctl=""
	if [[ $work ]]; then
		# The control disk: the word the guest's /init reads each second.
		head -c 1048576 /dev/zero >"$dir/work.img"
		printf '%s\n' "$work" | dd of="$dir/work.img" conv=notrunc status=none
		ctl="
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$(xml_escape "$dir/work.img")'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>"
	fi
	xml="<domain type='qemu'>
  <name>$(xml_escape "$name")</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>$MEM</memory>
  <currentMemory unit='MiB'>$MEM</currentMemory>
  <vcpu>1</vcpu>
${nova}
  $os
  <features>
    <acpi/>
    <tcg><tb-cache unit='MiB'>32</tb-cache></tcg>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$(xml_escape "$dir/disk.qcow2")'/>
      <target dev='vda' bus='virtio'/>
    </disk>${ctl}
    <interface type='ethernet'>
      <target dev='$tap'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$(xml_escape "$dir/console.log")'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='virtio'>
      <stats period='1'/>
    </memballoon>
  </devices>
</domain>"
	printf '%s\n' "$xml" >"$dir/domain.xml"
	if ! virsh -q -c "$URI" create "$dir/domain.xml" >"$dir/virsh.out" 2>&1; then
		cat "$dir/virsh.out" >&2
		die "virsh create $name failed (XML in $dir/domain.xml)"
	fi
	# libvirt creates the tap; make sure the host side is up so packets flow.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		ip link set "$tap" up 2>/dev/null && break
		sleep 0.2
	done
	echo "name=$name"
	echo "uuid=$uuid"
	echo "tap=$tap"
	echo "dir=$dir"
	echo "boot=$( ((bios)) && echo bios || echo kernel)"
	echo "disk=vda"
	echo "console=$dir/console.log"
}

cmd_wait_boot() {
	local name=$1 secs=${2:-60} dir deadline
	check_name "$name"
	dir=$(dir_of "$name")
	deadline=$((SECONDS + secs))
	while ((SECONDS < deadline)); do
		grep -q 'smguest: up' "$dir/console.log" 2>/dev/null && return 0
		if [[ $(virsh -q -c "$URI" domstate "$name" 2>/dev/null) != running ]]; then
			note "$name is not running"
			return 1
		fi
		sleep 0.5
	done
	note "$name: no 'smguest: up' on its console after ${secs}s (a BIOS guest never prints it)"
	return 1
}

cmd_vcpu_quota() {
	local name=$1 pct=$2
	check_name "$name"
	if [[ ! $pct =~ ^[0-9]+$ ]] || ((pct < 1 || pct > 100)); then
		die "vcpu-quota takes a percentage 1..100"
	fi
	# vcpu_quota applies to each vCPU thread; emulator_quota stays -1.
	virsh -q -c "$URI" schedinfo "$name" --live vcpu_period=100000 "vcpu_quota=$((pct * 1000))" \
		>/dev/null || die "virsh schedinfo $name failed"
}

cmd_work() {
	local name=$1 work=$2 dir
	check_name "$name"
	[[ $work =~ ^(busy|disk|net|mem|idle)$ ]] || die "work takes busy, disk, net, mem or idle"
	dir=$(dir_of "$name")
	[[ -f $dir/work.img ]] || die "$name was not created with --work"
	head -c 512 /dev/zero | dd of="$dir/work.img" conv=notrunc status=none
	printf '%s\n' "$work" | dd of="$dir/work.img" conv=notrunc status=none
}

cmd_destroy() {
	local name=$1
	check_name "$name"
	virsh -q -c "$URI" destroy "$name" >/dev/null 2>&1 || true
	virsh -q -c "$URI" undefine "$name" >/dev/null 2>&1 || true
	rm -rf "$(dir_of "$name")"
}

cmd_destroy_all() {
	local d n
	if virsh -q -c "$URI" list >/dev/null 2>&1; then
		while read -r d; do
			[[ $d == "$PREFIX"* ]] && cmd_destroy "$d"
		done < <(virsh -q -c "$URI" list --all --name 2>/dev/null)
	fi
	# Folders whose domain is gone, left by a test that died. Skip young
	# ones: another test may be creating that domain right now.
	for d in "$VAR_DIR"/dom-*/; do
		[[ -d $d ]] || continue
		n=$(cat "$d/name" 2>/dev/null) || n=""
		if [[ -n $n ]] && virsh -q -c "$URI" domuuid "$n" >/dev/null 2>&1; then
			continue
		fi
		[[ -n $(find "$d" -maxdepth 0 -mmin +2) ]] && rm -rf "$d"
	done
	return 0
}

case ${1:-} in
create)
	(($# >= 2)) || die "usage: create NAME [options]"
	shift
	cmd_create "$@"
	;;
wait-boot)
	(($# >= 2)) || die "usage: wait-boot NAME [SECONDS]"
	cmd_wait_boot "$2" "${3:-60}"
	;;
vcpu-quota)
	(($# == 3)) || die "usage: vcpu-quota NAME PCT"
	cmd_vcpu_quota "$2" "$3"
	;;
work)
	(($# == 3)) || die "usage: work NAME W"
	cmd_work "$2" "$3"
	;;
destroy)
	(($# == 2)) || die "usage: destroy NAME"
	cmd_destroy "$2"
	;;
destroy-all) cmd_destroy_all ;;
guest-image) guest_image || die "no Debian kernel with modules or no busybox-static" ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
