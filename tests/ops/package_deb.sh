#!/usr/bin/env bash
# Proves the .deb is complete and installs: builds it with cpack, checks its
# file list, control fields, conffiles and that Depends names the package of
# every shared library its programs load; asks apt whether a minimal Debian 12
# (only the Essential and Priority: required packages) could install it with
# its dependencies; then installs it for real with dpkg in a throw-away
# overlay of this machine's root (its own mount namespace: nothing on the host
# changes) over an older install's user `stackmon` in group libvirt, checks
# the users (neither in group libvirt), the key pairs the postinst made
# (owners, modes, the local allow list) and that each daemon's user can read
# its own secret key and not the others', runs every program there with
# --version, takes an enabled unit
# through `dpkg -r` (no link left) and a reinstall (enabled again), and
# purges it (no file or unit state left).
# Usage: package_deb.sh BUILD_DIR SOURCE_DIR NAME=PROGRAM...
set -euo pipefail
build=$1 src=$2; shift 2
programs=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Where each program belongs in the package.
install_path() {
  case $1 in
    stackmon-sub | stackmon-keygen) echo "/usr/bin/$1" ;;
    stackmon.cgi) echo /usr/lib/cgi-bin/stackmon.cgi ;;
    *) echo "/usr/sbin/$1" ;;
  esac
}

# ---- build the package (staging and output in our temp dir) ----
t0=$SECONDS
(cd "$build" && cpack -G DEB -B "$tmp/out" --config CPackConfig.cmake >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log"; echo "FAIL: cpack"; exit 1; }
deb=$(echo "$tmp"/out/stackmon_*.deb)
[ -f "$deb" ] || { echo "FAIL: no stackmon_*.deb in $tmp/out"; ls -l "$tmp/out"; exit 1; }
echo "ok: built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $((SECONDS - t0)) s"

# ---- contents ----
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's#^\./#/#' >"$tmp/files"
want=(/lib/systemd/system/stackmon-monitor.service /lib/systemd/system/stackmon-collector.service
  /lib/systemd/system/stackmon-aggregator.service /lib/systemd/system/stackmon-exporter.service
  /lib/systemd/system/stackmon-carbon.service /usr/sbin/stackmon-carbon /etc/stackmon/carbon.conf
  /lib/systemd/system/stackmon-alert.service
  /usr/lib/sysusers.d/stackmon.conf
  /usr/share/man/man7/stackmon.7.gz /usr/share/doc/stackmon/copyright
  /usr/share/doc/stackmon/README.md /usr/share/doc/stackmon/PROTOCOL.md)
[ -f "$src/docs/OPERATIONS.md" ] && want+=(/usr/share/doc/stackmon/OPERATIONS.md)
for server in lighttpd nginx apache2; do
  want+=("/usr/share/doc/stackmon/examples/$server/stackmon-dashboard.conf")
done
for pair in "${programs[@]}"; do
  name=${pair%%=*}
  want+=("$(install_path "$name")")
  for page in "$src/docs/man/$name".[18]; do
    [ -e "$page" ] && want+=("/usr/share/man/man${page##*.}/$(basename "$page").gz")
  done
done
for conf in "$src"/etc/stackmon/*; do
  [ -e "$conf" ] && want+=("/etc/stackmon/$(basename "$conf")")
done
for f in "${want[@]}"; do
  grep -qx "$f" "$tmp/files" || fail "the package lacks $f"
done
# Nothing that belongs elsewhere: no /usr/local, no tests, benchmarks or
# static libraries, no daemon in /usr/bin.
if grep -E '^/usr/local/|/test_|bench|\.a$|^/usr/bin/stackmon-(monitor|collector|aggregator)$' \
     "$tmp/files" >"$tmp/stray"; then
  fail "files that do not belong in the package: $(tr '\n' ' ' <"$tmp/stray")"
fi
# Each program exactly once (a second copy means two install rules).
for pair in "${programs[@]}"; do
  n=$(grep -c "/${pair%%=*}\$" "$tmp/files" || true)
  ((n == 1)) || fail "${pair%%=*} is in the package $n times: $(grep "/${pair%%=*}\$" "$tmp/files" | tr '\n' ' ')"
done
echo "ok: ${#want[@]} expected files present"

# ---- control: Depends covers every library the programs load ----
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# adduser for the postinst, procps for the units' ExecReload=/bin/kill.
for p in adduser procps libc6; do
  grep -Eq "(^|, )$p( |,|$)" <<<"$depends" || fail "Depends lacks $p"
done
# The monitor needs libvirt's daemon on a compute node, a master does not:
# recommended, not required (docs/OPERATIONS.md, "Which node needs what").
# openssl makes the dashboard's users.
recommends=$(dpkg-deb -f "$deb" Recommends)
echo "Recommends: $recommends"
for p in libvirt-daemon-system openssl; do
  grep -Eq "(^|, )$p( |,|$)" <<<"$recommends" || fail "Recommends lacks $p"
  grep -Eq "(^|, )$p( |,|$)" <<<"$depends" && fail "Depends names $p, which one role only needs"
done
# Which package owns each library the programs load: one dpkg -S for all
# (it reads every file list, slow), asked for each name a library goes by
# (/lib or /usr/lib, the soname link or its target).
declare -A needs owner
for pair in "${programs[@]}"; do
  prog=${pair#*=}
  for lib in $(objdump -p "$prog" | awk '/NEEDED/ { print $2 }'); do
    path=$(ldd "$prog" | awk -v l="$lib" '$1 == l { print $3 }')
    needs["${pair%%=*} $lib"]=$path
  done
done
candidates() { local r; r=$(readlink -f "$1"); printf '%s\n' "$1" "/usr${1#/usr}" "${1#/usr}" "$r" "/usr${r#/usr}" "${r#/usr}"; }
mapfile -t paths < <(for p in "${needs[@]}"; do candidates "$p"; done | sort -u)
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(dpkg -S "${paths[@]}" 2>/dev/null | grep -v '^diversion')
for key in "${!needs[@]}"; do
  pkg=
  while IFS= read -r c; do [ -n "${owner[$c]:-}" ] && { pkg=${owner[$c]}; break; }; done < <(candidates "${needs[$key]}")
  if [ -z "$pkg" ]; then
    fail "${key#* } (${needs[$key]}): no Debian package owns it"
  elif ! grep -Eq "(^|, )$pkg( |,|$)" <<<"$depends"; then
    fail "${key% *} loads ${key#* } from package $pkg, which Depends does not name"
  fi
done
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" --one-top-level=ctrl
for s in postinst prerm postrm; do
  [ -x "$tmp/ctrl/$s" ] || fail "no executable maintainer script $s"
  sh -n "$tmp/ctrl/$s" || fail "$s: shell syntax error"
done
for conf in "$src"/etc/stackmon/*; do
  [ -e "$conf" ] || continue
  grep -qx "/etc/stackmon/$(basename "$conf")" "$tmp/ctrl/conffiles" 2>/dev/null ||
    fail "/etc/stackmon/$(basename "$conf") is not a conffile"
done
echo "ok: control fields, maintainer scripts and conffiles checked ($((SECONDS - t0)) s so far)"

# ---- a minimal Debian 12 could install it: apt on a status of only the
# Essential and Priority: required packages (what debootstrap --variant=minbase
# installs). Needs apt's package lists, not the network. ----
if apt-cache show libvirt0 >/dev/null 2>&1; then
  /usr/bin/python3 - /var/lib/dpkg/status "$tmp/status" <<'PY'
# The Essential and Priority: required packages of this machine plus
# everything they depend on (libraries such as libc6 have priority optional):
# the package set of a minimal Debian 12.
import re, sys
pkgs = {}
for stanza in open(sys.argv[1], encoding="utf-8").read().split("\n\n"):
    fields = dict(l.split(": ", 1) for l in stanza.splitlines() if ": " in l and l[0] != " ")
    if "install ok installed" in fields.get("Status", ""):
        pkgs[fields["Package"]] = (fields, stanza.strip("\n"))
want = [n for n, (f, _) in pkgs.items()
        if f.get("Essential") == "yes" or f.get("Priority") == "required"]
keep = set()
while want:
    name = want.pop()
    if name in keep or name not in pkgs:
        continue
    keep.add(name)
    fields = pkgs[name][0]
    for rel in (fields.get("Pre-Depends", "") + "," + fields.get("Depends", "")).split(","):
        alts = [re.sub(r"[ :(].*", "", a.strip()) for a in rel.split("|") if a.strip()]
        have = [a for a in alts if a in pkgs]
        if have:
            want.append(have[0])
open(sys.argv[2], "w", encoding="utf-8").write("\n\n".join(pkgs[n][1] for n in sorted(keep)) + "\n\n")
print(f"minimal system: {len(keep)} packages")
PY
  cp "$deb" "$tmp/stackmon.deb"
  if apt-get -s --no-install-recommends -o Dir::State::status="$tmp/status" -o Debug::NoLocking=1 \
       install "$tmp/stackmon.deb" >"$tmp/apt.log" 2>&1 &&
     grep -q '^Inst stackmon ' "$tmp/apt.log"; then
    echo "ok: apt would install it on a minimal Debian 12, with $(grep -c '^Inst ' "$tmp/apt.log") packages ($((SECONDS - t0)) s so far):"
    grep '^Inst ' "$tmp/apt.log" | awk '{ print $2 }' | tr '\n' ' ' | fold -s -w 100
    echo
  else
    cat "$tmp/apt.log"
    fail "apt cannot install the package on a minimal Debian 12"
  fi
else
  echo "NOTE: apt has no package lists (run apt-get update): minimal-system check not run"
fi

# ---- install for real, in an overlay of / in a private mount namespace ----
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
  echo "SKIP: installing needs root and mount namespaces; the checks above passed"
  ((failures == 0)) || exit 1
  exit 77
fi
check_list=()
for pair in "${programs[@]}"; do check_list+=("$(install_path "${pair%%=*}")"); done
cp "$deb" "$tmp/stackmon.deb"
cat >"$tmp/inside.sh" <<'INSIDE'
# Runs in the chroot: install, check, reinstall (upgrade path), an enabled
# unit through removal and reinstall, purge, check.
set -u
fails=0
bad() { echo "FAIL (installed): $*"; fails=$((fails + 1)); }
in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"; }
if getent passwd stackmon >/dev/null; then had_user=1; else had_user=0; fi
rm -f /var/lib/man-db/auto-update # no man-db index rebuild in a throw-away root
# As an earlier build left it: user stackmon in group libvirt.
getent group libvirt >/dev/null || addgroup --system --quiet libvirt
if ((had_user == 0)); then
  addgroup --system --quiet stackmon
  adduser --system --quiet --ingroup stackmon --home /var/lib/stackmon --no-create-home stackmon
fi
adduser --quiet stackmon libvirt
dpkg -i /tmp/stackmon.deb >/tmp/dpkg-i.log 2>&1 || { cat /tmp/dpkg-i.log; bad "dpkg -i"; exit 1; }
dpkg-query -W -f='${Status}\n' stackmon | grep -q 'install ok installed' || bad "not installed"
for u in stackmon stackmon-monitor; do
  getent passwd "$u" >/dev/null || bad "postinst did not create user $u"
  in_group "$u" libvirt && bad "$u is in group libvirt: $(id "$u")"
done
# The keys of the shipped configs (curve = yes): each secret its daemon's
# user's alone, the local monitor (bound to this host) and aggregator allowed.
host=$(uname -n | tr -c 'A-Za-z0-9._\n-' '-')
k=/etc/stackmon/keys
for want in "collector.key_secret stackmon:stackmon 600" "aggregator.key_secret stackmon:stackmon 600" \
            "monitor.key_secret stackmon-monitor:stackmon-monitor 600" "collector.key root:root 644" \
            "allow/$host.key root:root 644" "allow/aggregator.key root:root 644" \
            "exporter.key_secret stackmon:stackmon 600" "allow/exporter.key root:root 644" \
            "carbon.key_secret stackmon:stackmon 600" "allow/carbon.key root:root 644" \
            "alert.key_secret stackmon:stackmon 600" "allow/alert.key root:root 644"; do
  read -r f owner mode <<<"$want" # not `set --`: "$@" is the program list
  got=$(stat -c '%U:%G %a' "$k/$f" 2>&1)
  [ "$got" = "$owner $mode" ] || bad "$k/$f is $got, want $owner $mode"
done
grep -q "host = \"$host\"" "$k/allow/$host.key" || bad "$k/allow/$host.key is not bound to host $host: $(cat "$k/allow/$host.key")"
grep -q "host = " "$k/allow/aggregator.key" && bad "the aggregator's key speaks for a host"
grep -q "host = " "$k/allow/exporter.key" && bad "the exporter's key speaks for a host"
cmp -s "$k/monitor.key" "$k/allow/$host.key" || bad "the allowed key is not the monitor's"
# Each daemon's user reads its own secret key and no other's; the collector
# (whose -n loads its keys and allow list) takes its shipped config as
# stackmon and refuses it as stackmon-monitor.
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }
for want in "stackmon collector aggregator exporter alert" "stackmon-monitor monitor"; do
  read -r u mine <<<"$want"
  for d in collector aggregator exporter alert monitor; do
    if [[ " $mine " == *" $d "* ]]; then
      as "$u" test -r "$k/$d.key_secret" || bad "$u cannot read $d.key_secret"
    else
      as "$u" test -r "$k/$d.key_secret" && bad "$u can read $d.key_secret"
    fi
  done
done
out=$(as stackmon stackmon-collector -n 2>&1) || bad "stackmon-collector -n as stackmon: $out"
as stackmon-monitor stackmon-collector -n >/dev/null 2>&1 && bad "stackmon-monitor can use the collector's key"
[ "$(stat -c '%U:%G %a' /var/lib/stackmon 2>/dev/null)" = "stackmon:stackmon 750" ] ||
  bad "/var/lib/stackmon is $(stat -c '%U:%G %a' /var/lib/stackmon 2>&1), want stackmon:stackmon 750"
for p in "$@"; do
  if out=$("$p" --version 2>&1); then echo "ran: $out"; else bad "$p --version: $out"; fi
  ldd "$p" | grep -q "not found" && bad "$p: $(ldd "$p" | grep 'not found')"
done
sum_keys() { find /etc/stackmon/keys -type f -exec sha256sum {} + | sort; }
keys_before=$(sum_keys)
dpkg -i /tmp/stackmon.deb >/tmp/dpkg-i2.log 2>&1 || { cat /tmp/dpkg-i2.log; bad "reinstall (upgrade path)"; }
[ "$(sum_keys)" = "$keys_before" ] || bad "the upgrade changed the keys"
# An enabled unit through removal: no link may be left pointing at the
# removed unit file, and installing again enables it again.
unit_links() { find /etc/systemd -name 'stackmon-*' 2>/dev/null; find /etc/systemd -xtype l -lname '*stackmon*'; }
if command -v systemctl >/dev/null; then
  fails_before=$fails
  systemctl enable stackmon-collector.service >/dev/null 2>&1 || bad "systemctl enable"
  [ -n "$(unit_links)" ] || bad "systemctl enable made no link"
  dpkg -r stackmon >/tmp/dpkg-r.log 2>&1 || { cat /tmp/dpkg-r.log; bad "dpkg -r"; }
  [ -z "$(unit_links)" ] || bad "dpkg -r left $(unit_links | tr '\n' ' ')"
  dpkg -i /tmp/stackmon.deb >/tmp/dpkg-i3.log 2>&1 || { cat /tmp/dpkg-i3.log; bad "install after dpkg -r"; }
  [ "$(systemctl is-enabled stackmon-collector.service 2>&1)" = enabled ] ||
    bad "stackmon-collector is $(systemctl is-enabled stackmon-collector.service 2>&1) after dpkg -r and -i, want enabled"
  [ "$(systemctl is-enabled stackmon-monitor.service 2>&1)" = disabled ] ||
    bad "stackmon-monitor is $(systemctl is-enabled stackmon-monitor.service 2>&1) after dpkg -r and -i, want disabled"
  ((fails > fails_before)) || echo "ok: dpkg -r disables without a trace, installing again enables again"
fi
dpkg --purge stackmon >/tmp/dpkg-p.log 2>&1 || { cat /tmp/dpkg-p.log; bad "dpkg --purge"; }
for p in "$@" /lib/systemd/system/stackmon-collector.service /var/lib/stackmon /etc/stackmon/keys /etc/stackmon; do
  [ -e "$p" ] && bad "$p is still there after purge"
done
[ -z "$(unit_links)" ] || bad "purge left $(unit_links | tr '\n' ' ')"
left=$(find /var/lib/systemd -name 'stackmon-*' 2>/dev/null)
[ -z "$left" ] || bad "purge left unit state: $left"
if ((had_user == 0)) && ! getent passwd stackmon >/dev/null; then bad "purge removed the user"; fi
exit $((fails > 0))
INSIDE
t0=$SECONDS
unshare -m --propagation private bash -euc '
  tmp=$1; shift
  mkdir -p "$tmp/ovl" "$tmp/merged"
  mount -t tmpfs tmpfs "$tmp/ovl"
  mkdir "$tmp/ovl/upper" "$tmp/ovl/work"
  mount -t overlay overlay -o lowerdir=/,upperdir="$tmp/ovl/upper",workdir="$tmp/ovl/work" "$tmp/merged"
  mount -t proc proc "$tmp/merged/proc"
  mount --rbind /dev "$tmp/merged/dev"
  mount -t tmpfs tmpfs "$tmp/merged/tmp"
  mount -t tmpfs tmpfs "$tmp/merged/run"   # no /run/systemd/system: as in a chroot
  cp "$tmp/stackmon.deb" "$tmp/inside.sh" "$tmp/merged/tmp/"
  chroot "$tmp/merged" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
    bash /tmp/inside.sh "$@"
' overlay "$tmp" "${check_list[@]}" || fail "install in the overlay"
echo "install, run, reinstall and purge in the overlay: $((SECONDS - t0)) s"

((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
echo "ok: the package builds, is complete, installs, runs and purges"
