#!/bin/bash
# Runs inside the root tests/ops/package_chroot.sh boots with systemd as PID
# 1, from a oneshot unit ordered after StackMon's units; the unit powers the
# container off when this ends. Boot 1 installs the package as an operator
# on a compute node would and enables the three units; boot 2 finds them
# running and takes them through reload, restart, upgrade, stop, removal,
# reinstall and purge. Writes "boot N: done" to
# /root/stackmon-boot-check.result when it got to the end, and "boot N:
# passed" when every check held. The expected
# `systemd-analyze security` exposure of each unit is in
# /root/stackmon-exposure ("UNIT LEVEL" lines, from docs/OPERATIONS.md).
set -u
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive
result=/root/stackmon-boot-check.result
units=(stackmon-collector.service stackmon-aggregator.service stackmon-monitor.service)
fails=0
bad() { echo "FAIL (booted): $*"; fails=$((fails + 1)); }
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
  id -nG www-data | grep -qw stackmon || bad "www-data is not in group stackmon"
  id -nG stackmon | grep -qw libvirt || bad "stackmon is not in group libvirt: $(id stackmon)"
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
    ok "monitor: $(journal stackmon-monitor.service | grep -o 'first frame .*' | tr '\n' ';')"
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
