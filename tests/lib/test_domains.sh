#!/usr/bin/env bash
# Starts and destroys domains on libvirtd's shared test driver
# (test+unix:///default) so lifecycle tests can make a monitor see domains
# appear and disappear. Needs a running libvirtd (scripts/libvirtd.sh start).
#
# Usage:
#   test_domains.sh define-start NAME [UUID] [--nova PROJECT_ID PROJECT_NAME USER DISPLAY_NAME FLAVOR]
#   test_domains.sh destroy NAME       (no error when NAME does not exist)
#   test_domains.sh destroy-all        every smtest-* domain on the test driver
#
# NAME must start with "smtest-" (libvirtd.sh stop removes leftovers by that
# prefix). define-start creates a transient, running domain (virsh create):
# 1 vCPU, 128 MiB (currentMemory 96 MiB), disk vda and interface
# smtap-<6 hex>, and prints its UUID (given, or derived from NAME by md5).
# USER is USER_ID or USER_ID:USER_NAME. Destroying a transient domain removes
# it (a lifecycle "stopped" event, then it is gone).
# Note: libvirtd's default test driver already holds one running domain
# named "test"; tests must allow for it.
# Environment: LIBVIRT_TEST_URI (default test+unix:///default); SMTEST_VCPUS
# (default 1): vCPUs of the domain, which `virsh setvcpus NAME N --live`
# lowers (the test driver's CPU time is the wall clock, so cpu_pct is
# 100 / vCPUs: how tests/e2e/alert_* make a CPU spike).
set -euo pipefail

URI=${LIBVIRT_TEST_URI:-test+unix:///default}
PREFIX=smtest-
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/domxml.sh
. "$HERE/domxml.sh"

die() {
	echo "test_domains.sh: error: $*" >&2
	exit 1
}

check_name() {
	[[ $1 == "$PREFIX"?* ]] || die "domain name must start with $PREFIX: '$1'"
	[[ $1 != */* ]] || die "libvirt refuses '/' in domain names"
}

cmd_define_start() {
	local name=$1 uuid="" nova="" xml tmp
	shift
	check_name "$name"
	if (($#)) && [[ $1 != --* ]]; then
		uuid=$1
		shift
	fi
	if (($#)); then
		[[ $1 == --nova ]] || die "unknown option '$1'"
		(($# == 6)) || die "--nova needs PROJECT_ID PROJECT_NAME USER DISPLAY_NAME FLAVOR"
		nova=$(nova_xml 128 1 "$2" "$3" "$4" "$5" "$6")
	fi
	[[ -n $uuid ]] || uuid=$(uuid_of "$name")
	xml="<domain type='test'>
  <name>$(xml_escape "$name")</name>
  <uuid>$(xml_escape "$uuid")</uuid>
  <memory unit='MiB'>128</memory>
  <currentMemory unit='MiB'>96</currentMemory>
  <vcpu>${SMTEST_VCPUS:-1}</vcpu>
${nova}
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/tmp/stackmon-test/$(hex_of "$name" | cut -c1-12).img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='ethernet'>
      <target dev='smtap-$(hex_of "$name" | cut -c1-6)'/>
    </interface>
    <memballoon model='virtio'/>
  </devices>
</domain>"
	tmp=$(mktemp "${TMPDIR:-/tmp}/smtest-dom.XXXXXX")
	printf '%s\n' "$xml" >"$tmp"
	if ! virsh -q -c "$URI" create "$tmp" >/dev/null 2>"$tmp.err"; then
		cat "$tmp.err" >&2
		rm -f "$tmp" "$tmp.err"
		die "virsh create on $URI failed for '$name'"
	fi
	rm -f "$tmp" "$tmp.err"
	echo "$uuid"
}

cmd_destroy() {
	local name=$1
	check_name "$name"
	virsh -q -c "$URI" destroy "$name" >/dev/null 2>&1 || true
	virsh -q -c "$URI" undefine "$name" >/dev/null 2>&1 || true
}

cmd_destroy_all() {
	local d
	while read -r d; do
		[[ $d == "$PREFIX"* ]] && cmd_destroy "$d"
	done < <(virsh -q -c "$URI" list --all --name 2>/dev/null)
}

case ${1:-} in
define-start)
	(($# >= 2)) || die "usage: define-start NAME [UUID] [--nova ...]"
	shift
	cmd_define_start "$@"
	;;
destroy)
	(($# == 2)) || die "usage: destroy NAME"
	cmd_destroy "$2"
	;;
destroy-all) cmd_destroy_all ;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
