#!/usr/bin/env bash
# Installs, from Debian 12's packages, everything StackMon needs to build,
# test and run its whole suite. Idempotent; needs root. Skips apt-get when
# every package is already present (quick on a prepared machine).
set -euo pipefail

# The list is scripts/packages.list (one place, checked against every command
# the tree calls by tests/ops/external_commands.py).
list=$(dirname "$0")/packages.list
[ -r "$list" ] || { echo "install-deps: $list is missing" >&2; exit 1; }
mapfile -t PKGS < <(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n\n' | grep .)
((${#PKGS[@]})) || { echo "install-deps: $list names no package" >&2; exit 1; }

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
