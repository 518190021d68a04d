#!/bin/bash
# Runs inside the root tests/ops/package_chroot.sh boots with systemd as PID
# 1, from a oneshot unit ordered after StackMon's units; the unit powers the
# container off when this ends. Boot 1 installs the package as an operator
# on a compute node would and enables the three units; it checks the two
# users (neither in group libvirt), the key pairs the postinst made, and
# that libvirt lets stackmon-monitor read and neither user manage. Boot 2
# finds them running, with CurveZMQ on as the shipped configs say: frames
# reach a subscriber with an allowed key and none a plaintext one; then it
# takes them through reload, restart, upgrade, stop, removal, reinstall and
# purge. Writes "boot N: done" to
# /root/stackmon-boot-check.result when it got to the end, and "boot N:
# passed" when every check held. The expected
# `systemd-analyze security` exposure of each unit is in
# /root/stackmon-exposure ("UNIT LEVEL" lines, from docs/OPERATIONS.md).
set -u
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
result=/root/stackmon-boot-check.result
units=(stackmon-collector.service stackmon-aggregator.service stackmon-monitor.service)
fails=0
keys=/etc/stackmon/keys
# The name the monitor reports, which its key is bound to.
host=$(uname -n | tr -c 'A-Za-z0-9._\n-' '-')
bad() { echo "FAIL (booted): $*"; fails=$((fails + 1)); }
in_group() { id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"; }
# as USER COMMAND...: COMMAND as USER, with that user's HOME.
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
# The supplementary and primary groups of a running process, by name.
proc_groups() {
  local ids g
  ids=$(sed -n 's/^Groups:\t*//p; s/^Gid:\t*\([0-9]*\).*/\1/p' "/proc/$1/status")
  for g in $ids; do getent group "$g" | cut -d: -f1; done | sort -u | tr '\n' ' '
}
ok() { echo "ok: $*"; }
# A group of checks: `mark`, the checks, then `ok_if_clean MESSAGE`.
mark() { marked=$fails; }
ok_if_clean() { ((fails > marked)) || ok "$*"; }

# wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 if it never does.
wait_for() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.2
  done
}
main_pid() { systemctl show -P MainPID "$1"; }
# This boot's journal of one unit.
journal() { journalctl -b -q -o cat --no-pager -u "$1"; }
journal_has() { journal "$1" | grep -qF -- "$2"; }
# our_files DIR...: every unit link, mask or state file of ours there.
our_files() { find "$@" -name 'stackmon-[mca]*' 2>/dev/null; }
# shellcheck disable=SC2317 # called through wait_for
all_active() {
  local u
  for u in "${units[@]}"; do [ "$(systemctl is-active "$u")" = active ] || return 1; done
}

boot=1
grep -qx "boot 1: done" "$result" 2>/dev/null && boot=2
echo "boot $boot: systemd $(systemctl --version | head -1 | cut -d' ' -f2), $(systemctl is-system-running)"

if [ "$boot" = 1 ]; then
  # ---- install, as on a compute node: apt, Recommends already there ----
  apt-get install -y /root/stackmon.deb >/root/install.log 2>&1 ||
    { cat /root/install.log; bad "apt-get install ./stackmon.deb"; }
  in_group www-data stackmon || bad "www-data is not in group stackmon"
  mark
  for u in stackmon stackmon-monitor; do
    getent passwd "$u" >/dev/null || bad "no user $u"
    in_group "$u" libvirt && bad "$u is in group libvirt: $(id "$u")"
  done
  ok_if_clean "users: $(id stackmon); $(id stackmon-monitor)"
  # ---- the keys of the shipped configs: each secret its user's alone ----
  mark
  for want in "collector.key_secret stackmon:stackmon 600" "aggregator.key_secret stackmon:stackmon 600" \
              "monitor.key_secret stackmon-monitor:stackmon-monitor 600" "collector.key root:root 644" \
              "allow/$host.key root:root 644" "allow/aggregator.key root:root 644" \
              "exporter.key_secret stackmon:stackmon 600" "allow/exporter.key root:root 644" \
              "carbon.key_secret stackmon:stackmon 600" "allow/carbon.key root:root 644"; do
    read -r f owner mode <<<"$want"
    got=$(stat -c '%U:%G %a' "$keys/$f" 2>&1)
    [ "$got" = "$owner $mode" ] || bad "$keys/$f is $got, want $owner $mode"
  done
  grep -q "host = \"$host\"" "$keys/allow/$host.key" || bad "the monitor's key is not bound to $host"
  for f in /etc/stackmon/{monitor,collector,aggregator,exporter,carbon}.conf; do
    grep -qx "curve = yes" "$f" || bad "$f does not say curve = yes"
  done
  ok_if_clean "keys: $(cd "$keys" && find . -type f -printf '%P %u %m, ' | sort)"
  # ---- libvirt: the monitor's user may read, neither user may manage ----
  mark
  wait_for 30 virsh -c qemu:///system uri || bad "libvirtd does not answer root"
  out=$(as stackmon-monitor virsh -r -c qemu:///system list --all 2>&1) ||
    bad "stackmon-monitor cannot open qemu:///system read-only: $out"
  for u in stackmon stackmon-monitor; do
    out=$(as "$u" virsh -c qemu:///system list --all 2>&1) &&
      bad "as $u, virsh -c qemu:///system (read-write) works: $out"
  done
  ok_if_clean "libvirt: stackmon-monitor reads read-only; read-write refused to both users ($(as stackmon virsh -c qemu:///system list 2>&1 | grep 'error:' | tail -1)); sockets: $(stat -c '%n %a %U:%G' /run/libvirt/libvirt-sock /run/libvirt/libvirt-sock-ro | tr '\n' ' ')"
  for u in "${units[@]}"; do
    [ "$(systemctl is-enabled "$u")" = disabled ] || bad "$u is $(systemctl is-enabled "$u") after install, want disabled"
    [ "$(systemctl is-active "$u")" = inactive ] || bad "$u was started by the install"
  done

  # ---- the monitor alone: READY means sampling, and the journal says the
  # frames are held until a collector subscribes ----
  sed -i 's|^#* *publish *=.*|publish = tcp://127.0.0.1:5555=tcp://127.0.0.1:5556|' /etc/stackmon/monitor.conf
  if systemctl start stackmon-monitor.service; then
    ok "the monitor is active (READY) with no collector: $(systemctl show -P ActiveState stackmon-monitor)"
  else
    bad "the monitor does not start without a collector: $(journal stackmon-monitor.service | tail -5)"
  fi
  wait_for 10 journal_has stackmon-monitor.service "first frame queued: no collector has subscribed" ||
    bad "no 'first frame queued' line: $(journal stackmon-monitor.service | tail -5)"
  journal_has stackmon-monitor.service "first frame sent" &&
    bad "'first frame sent' with no collector: $(journal stackmon-monitor.service | tail -5)"
  systemctl start stackmon-collector.service || bad "collector does not start"
  if wait_for 15 journal_has stackmon-monitor.service "first frame sent to tcp://127.0.0.1:5555"; then
    ok "monitor (curve on): $(journal stackmon-monitor.service | grep -o 'first frame .*\|connected to libvirt.*' | tr '\n' ';')"
  else
    bad "no 'first frame sent' once the collector runs: $(journal stackmon-monitor.service | tail -5)"
  fi
  systemctl stop stackmon-monitor.service stackmon-collector.service
  systemctl enable "${units[@]}" 2>/dev/null || bad "systemctl enable"
  echo "boot 1: done" >"$result"
  ((fails == 0)) && echo "boot 1: passed" >>"$result"
  exit $((fails > 0))
fi

# ---- boot 2: what boot 1 enabled is running ----
wait_for 30 all_active || bad "not all active at boot: $(systemctl is-active "${units[@]}" | tr '\n' ' ')"
for u in "${units[@]}"; do
  [ "$(systemctl show -P NRestarts "$u")" = 0 ] || bad "$u restarted $(systemctl show -P NRestarts "$u") times"
done
ok "active at boot: ${units[*]} ($(systemctl is-active libvirtd.service) libvirtd)"
wait_for 20 journal_has stackmon-monitor.service "first frame sent to tcp://127.0.0.1:5555" ||
  bad "the monitor's first frame never reached the collector: $(journal stackmon-monitor.service | tail -5)"
# ---- who runs what: no daemon carries group libvirt ----
mark
for u in "${units[@]}"; do
  pid=$(main_pid "$u")
  want=stackmon
  [ "$u" = stackmon-monitor.service ] && want=stackmon-monitor
  got="$(stat -c %U "/proc/$pid") $(proc_groups "$pid")"
  [ "$got" = "$want $want " ] || bad "$u (pid $pid) runs as user and groups '$got', want '$want $want '"
done
ok_if_clean "the monitor runs as stackmon-monitor, the collector and aggregator as stackmon, no other group"
# ---- curve on the wire: an allowed key reads the node's frames, plaintext nothing ----
mark
if as stackmon stackmon-sub --connect tcp://127.0.0.1:5556 --curve yes \
     --curve-secret-key "$keys/aggregator.key_secret" --curve-server-key "$keys/collector.key" \
     --kind stats --host "$host" --count 2 --timeout 20 >/root/sub-curve.json 2>/root/sub-curve.err &&
   [ "$(grep -c '"kind":"stats"' /root/sub-curve.json)" = 2 ]; then
  :
else
  bad "no stats of $host through CurveZMQ: $(cat /root/sub-curve.err; head -c 300 /root/sub-curve.json)"
fi
stackmon-sub --connect tcp://127.0.0.1:5556 --count 1 --timeout 5 >/root/sub-plain.json 2>/root/sub-plain.err
rc=$?
if [ "$rc" != 3 ] || [ -s /root/sub-plain.json ]; then
  bad "a plaintext subscriber: exit $rc, $(wc -l </root/sub-plain.json) lines (want exit 3, nothing)"
fi
ok_if_clean "curve: $(wc -l </root/sub-curve.json) stats frames of $host with the aggregator's key, nothing in 5 s without curve"
if wait_for 20 sh -c 'find /var/lib/stackmon/hosts -name "*.wsp" | grep -q .'; then
  ok "the aggregator writes the node's history: $(find /var/lib/stackmon -name '*.wsp' | wc -l) Whisper files"
else
  bad "no Whisper file in /var/lib/stackmon/hosts"
fi
[ "$(stat -c '%U:%G %a' /var/lib/stackmon)" = "stackmon:stackmon 750" ] ||
  bad "/var/lib/stackmon is $(stat -c '%U:%G %a' /var/lib/stackmon), want stackmon:stackmon 750"

# ---- sandbox: the exposure levels docs/OPERATIONS.md states ----
while read -r u want; do
  got=$(systemd-analyze security --no-pager "$u" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  if [ "$got" = "$want" ]; then
    ok "$u exposure $got, as documented"
  else
    bad "$u exposure '$got', docs/OPERATIONS.md says $want"
  fi
done </root/stackmon-exposure

# ---- reload keeps the process, restart replaces it, both stay active ----
mark
for u in "${units[@]}"; do
  pid=$(main_pid "$u")
  systemctl reload "$u" || bad "systemctl reload $u"
  sleep 0.5
  [ "$(systemctl is-active "$u") $(main_pid "$u")" = "active $pid" ] ||
    bad "$u after reload: $(systemctl is-active "$u"), PID $pid → $(main_pid "$u")"
  systemctl restart "$u" || bad "systemctl restart $u"
  [[ $(systemctl is-active "$u") = active && $(main_pid "$u") != "$pid" ]] ||
    bad "$u after restart: $(systemctl is-active "$u"), PID $pid → $(main_pid "$u")"
done
ok_if_clean "reload and restart of each unit"

# ---- upgrade (the same package again): the running units are restarted ----
mark
declare -A before
for u in "${units[@]}"; do before[$u]=$(main_pid "$u"); done
dpkg -i /root/stackmon.deb >/root/upgrade.log 2>&1 || { cat /root/upgrade.log; bad "dpkg -i (upgrade)"; }
for u in "${units[@]}"; do
  [[ $(systemctl is-active "$u") = active && $(main_pid "$u") != "${before[$u]}" ]] ||
    bad "$u after upgrade: $(systemctl is-active "$u"), PID ${before[$u]} → $(main_pid "$u")"
done
ok_if_clean "upgrade restarted the running units"

# ---- stop: a clean exit, no failure ----
mark
for u in "${units[@]}"; do
  systemctl stop "$u" || bad "systemctl stop $u"
  state="$(systemctl is-active "$u") $(systemctl show -P Result "$u") $(systemctl show -P ExecMainStatus "$u")"
  [ "$state" = "inactive success 0" ] || bad "$u after stop: $state (want inactive success 0)"
done
ok_if_clean "stop: inactive, result success, exit status 0"
systemctl start "${units[@]}" || bad "start again"

# ---- dpkg -r: stopped and disabled, no link left behind ----
dpkg -r stackmon >/root/remove.log 2>&1 || { cat /root/remove.log; bad "dpkg -r"; }
for u in "${units[@]}"; do
  [ "$(systemctl is-active "$u")" = active ] && bad "$u still running after dpkg -r"
done
left=$(our_files /etc/systemd)
dangling=$(find /etc/systemd -xtype l)
if [ -z "$left$dangling" ]; then
  ok "dpkg -r: units stopped, no unit link or mask left"
else
  bad "after dpkg -r: links $left; dangling $dangling"
fi

# ---- reinstall: the units enabled at removal are enabled and running again ----
dpkg -i /root/stackmon.deb >/root/reinstall.log 2>&1 || { cat /root/reinstall.log; bad "dpkg -i after dpkg -r"; }
for u in "${units[@]}"; do
  [ "$(systemctl is-enabled "$u")" = enabled ] || bad "$u is $(systemctl is-enabled "$u") after reinstall"
done
if wait_for 30 all_active; then
  ok "reinstall: enabled and running again"
else
  bad "after reinstall: $(systemctl is-active "${units[@]}" | tr '\n' ' ')"
fi

# ---- purge: nothing of ours is left but the user ----
dpkg --purge stackmon >/root/purge.log 2>&1 || { cat /root/purge.log; bad "dpkg --purge"; }
left=$(our_files /etc/systemd /var/lib/systemd; ls -d /etc/stackmon /var/lib/stackmon /run/stackmon-collector /lib/systemd/system/stackmon-* \
  /usr/sbin/stackmon-* 2>/dev/null)
dangling=$(find /etc/systemd -xtype l)
if [ -z "$left$dangling" ]; then ok "purge: nothing left"; else bad "after purge: $left $dangling"; fi
getent passwd stackmon >/dev/null || bad "purge removed the user stackmon"
failed=$(systemctl list-units --failed --no-legend --plain | grep stackmon)
[ -z "$failed" ] || bad "failed units: $failed"

echo "boot 2: done" >>"$result"
((fails == 0)) && echo "boot 2: passed" >>"$result"
exit $((fails > 0))
