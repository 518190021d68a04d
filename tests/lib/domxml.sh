# shellcheck shell=bash
# Shared by tests/lib/qemu_domain.sh and tests/lib/test_domains.sh (source
# it, do not run it): escaping for libvirt domain XML, name-derived UUIDs and
# the Nova metadata block OpenStack writes into a domain.
#   xml_escape STR        STR escaped for element text and '-or-" attributes
#   uuid_of STR           a UUID derived from STR (md5), stable across runs
#   nova_xml MEM_MIB VCPUS PROJECT_ID PROJECT_NAME USER DISPLAY_NAME FLAVOR
#                         prints <metadata><nova:instance> (Nova 1.1); USER is
#                         USER_ID or USER_ID:USER_NAME (name defaults to the id)

NOVA_NS=http://openstack.org/xmlns/libvirt/nova/1.1

# bash 5.2 expands "&" in a ${x//pat/rep} replacement to the match; turn
# that off so the escapes below are literal (older bash has no such option).
shopt -u patsub_replacement 2>/dev/null || true

xml_escape() {
	local s=$1
	s=${s//&/&amp;}
	s=${s//</&lt;}
	s=${s//>/&gt;}
	s=${s//\"/&quot;}
	s=${s//\'/&apos;}
	# Character references keep these exact inside attribute values too.
	s=${s//$'\n'/&#10;}
	s=${s//$'\r'/&#13;}
	s=${s//$'\t'/&#9;}
	printf '%s' "$s"
}

hex_of() { printf '%s' "$1" | md5sum | cut -c1-32; }

uuid_of() {
	local h
	h=$(hex_of "$1")
	echo "${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}"
}

nova_xml() { # MEM_MIB VCPUS PROJECT_ID PROJECT_NAME USER DISPLAY_NAME FLAVOR
	local mem=$1 vcpus=$2 pid=$3 pname=$4 user=$5 disp=$6 flavor=$7 uid uname
	uid=${user%%:*}
	uname=${user#*:}
	cat <<NOVA
  <metadata>
    <nova:instance xmlns:nova="$NOVA_NS">
      <nova:package version="27.1.0"/>
      <nova:name>$(xml_escape "$disp")</nova:name>
      <nova:creationTime>$(date -u '+%Y-%m-%d %H:%M:%S')</nova:creationTime>
      <nova:flavor name="$(xml_escape "$flavor")">
        <nova:memory>$mem</nova:memory>
        <nova:disk>1</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>$vcpus</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="$(xml_escape "$uid")">$(xml_escape "$uname")</nova:user>
        <nova:project uuid="$(xml_escape "$pid")">$(xml_escape "$pname")</nova:project>
      </nova:owner>
      <nova:root type="image" uuid="$(uuid_of image-cirros)"/>
    </nova:instance>
  </metadata>
NOVA
}
