#!/usr/bin/env bash
# Proves every StackMon program keeps the command-line conventions operators
# rely on: --help and --version exit 0 and say who they are, a bad option or
# a broken configuration exits 2 with a message that names the option, the
# file and the line, and -n accepts a good configuration.
# The CGI is run by a web server; it must still answer --help and --version,
# and refuse to run without a CGI environment.
# The configuration files shipped in etc/stackmon are checked too: every key
# is there with the default --help states (or set, as the production
# settings are: curve and its key files), and with every commented example
# setting ("#key = value") taken in besides those, -n must accept them, with
# the key files their /etc/stackmon/keys/ names made by stackmon-keygen.
# Usage: cli_conventions.sh VERSION [--etc DIR] [--cgi PROGRAM] NAME=PROGRAM...
set -uo pipefail
version=$1; shift
cgi='' etc=''
if [ "${1:-}" = --etc ]; then etc=$2; shift 2; fi
if [ "${1:-}" = --cgi ]; then cgi=$2; shift 2; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# What the .deb's postinst makes in /etc/stackmon/keys, made here for the
# shipped files' production settings: each daemon's pair, the allow list.
keys=$tmp/keys keygen=
for pair in "$@"; do [ "${pair%%=*}" = stackmon-keygen ] && keygen=${pair#*=}; done
if [ -n "$etc" ] && [ -n "$keygen" ]; then
  mkdir -p "$keys/allow"
  for k in monitor collector aggregator exporter carbon alert; do
    "$keygen" --dir "$keys" --name "$k" >/dev/null || fail "stackmon-keygen --name $k"
  done
  cp "$keys/monitor.key" "$keys/aggregator.key" "$keys/exporter.key" "$keys/carbon.key" "$keys/alert.key" "$keys/allow/"
fi

# run OUT ERR PROGRAM ARGS...: runs with a timeout, returns its status.
run() {
  local out=$1 err=$2; shift 2
  timeout 20 "$@" >"$out" 2>"$err"
}

for pair in "$@"; do
  name=${pair%%=*} prog=${pair#*=}
  o=$tmp/out e=$tmp/err

  run "$o" "$e" "$prog" --help; rc=$?
  ((rc == 0)) || fail "$name --help: exit $rc"
  grep -q "^Usage: $name " "$o" || fail "$name --help: no 'Usage: $name' line"
  grep -q -- "--version" "$o" || fail "$name --help: does not list --version"

  run "$o" "$e" "$prog" --version; rc=$?
  ((rc == 0)) || fail "$name --version: exit $rc"
  [[ $(cat "$o") == "$name $version" ]] || fail "$name --version printed '$(cat "$o")', want '$name $version'"

  run "$o" "$e" "$prog" --no-such-option; rc=$?
  ((rc == 2)) || fail "$name --no-such-option: exit $rc, want 2"
  grep -q -- "no-such-option" "$e" || fail "$name --no-such-option: stderr does not name the option: $(cat "$e")"

  run "$o" "$e" "$prog" -n -c "$tmp/missing.conf"; rc=$?
  ((rc == 2)) || fail "$name -c missing.conf: exit $rc, want 2"
  grep -q "missing.conf" "$e" || fail "$name -c missing.conf: stderr does not name the file: $(cat "$e")"

  # A file whose third line is not `key = value`, then one with an unknown key.
  printf '# comment\n\nthis is not a setting\n' >"$tmp/bad.conf"
  run "$o" "$e" "$prog" -n -c "$tmp/bad.conf"; rc=$?
  ((rc == 2)) || fail "$name -c bad.conf (syntax): exit $rc, want 2"
  grep -q "bad.conf:3" "$e" || fail "$name -c bad.conf: stderr does not name file:line 3: $(cat "$e")"
  printf 'no_such_key = 1\n' >"$tmp/bad.conf"
  run "$o" "$e" "$prog" -n -c "$tmp/bad.conf"; rc=$?
  ((rc == 2)) || fail "$name -c bad.conf (unknown key): exit $rc, want 2"
  { grep -q "bad.conf:1" "$e" && grep -q "no_such_key" "$e"; } ||
    fail "$name -c bad.conf: stderr does not name file:line 1 and the key: $(cat "$e")"

  shipped=$etc/${name#stackmon-}.conf
  if [ -n "$etc" ] && [ -f "$shipped" ]; then
    # Every setting --help lists is in the file, commented out, with the
    # default --help states ("#key = default"; an example where there is
    # none), or set to its production value ("key = value").
    run "$o" "$e" "$prog" --help
    nkeys=0
    while read -r opt default; do
      key=${opt//-/_} nkeys=$((nkeys + 1))
      if ! line=$(grep -m1 "^#$key =" "$shipped"); then
        grep -q "^$key = " "$shipped" || fail "$shipped: no '#$key =' or '$key =' line"
        continue
      fi
      if [ "$default" != none ] && [ "$line" != "#$key = $default" ]; then
        fail "$shipped: '$line', but --help says the default is '$default'"
      fi
    done < <(sed -n 's/^ *--\([a-z-]*\)=[^ ]* .*(default: \(.*\))$/\1 \2/p' "$o")
    ((nkeys > 0)) || fail "$name --help: no settings with defaults found"
    # The examples taken in, but not those of a key the file sets; the
    # production key paths pointed at the keys made above.
    awk -v keys="$keys/" '
      FNR == NR { if (match($0, /^[a-z_]+ = /)) set[substr($0, 1, RLENGTH - 3)] = 1; next }
      /^#[a-z_]+ = / { k = substr($0, 2); sub(/ = .*/, "", k); if (k in set) next; $0 = substr($0, 2) }
      { gsub("/etc/stackmon/keys/", keys); print }' "$shipped" "$shipped" >"$tmp/examples.conf"
    n=$(grep -cE '^[a-z_]+ = ' "$tmp/examples.conf")
    run "$o" "$e" "$prog" -n -c "$tmp/examples.conf"; rc=$?
    { ((rc == 0)) && [[ $(cat "$o") == "configuration OK" ]]; } ||
      fail "$name -n -c $shipped with its $n examples: exit $rc, stdout '$(cat "$o")', stderr: $(cat "$e")"
    ((n > 0)) || fail "$shipped: no example setting found"
    # -n checks the key files too: a secret key others may read is refused
    # at once, naming the file, not at the first socket.
    secret=$(sed -n 's/^curve_secret_key = //p' "$tmp/examples.conf")
    if [ -n "$secret" ]; then
      cp "$secret" "$tmp/loose.key_secret" && chmod 0644 "$tmp/loose.key_secret"
      sed "s|^curve_secret_key = .*|curve_secret_key = $tmp/loose.key_secret|" \
        "$tmp/examples.conf" >"$tmp/loose.conf"
      run "$o" "$e" "$prog" -n -c "$tmp/loose.conf"; rc=$?
      { ((rc == 2)) && grep -q "loose.key_secret" "$e"; } ||
        fail "$name -n with a world-readable secret key: exit $rc, want 2 naming the file; stderr: $(cat "$e")"
    fi
  fi

  echo "ok: $name"
done
if [ -n "$cgi" ]; then
  o=$tmp/out e=$tmp/err before=$failures
  run "$o" "$e" env -u REQUEST_METHOD "$cgi" --version; rc=$?
  { ((rc == 0)) && [[ $(cat "$o") == "stackmon.cgi $version" ]]; } ||
    fail "stackmon.cgi --version: exit $rc, printed '$(cat "$o")'"
  run "$o" "$e" env -u REQUEST_METHOD "$cgi" --help; rc=$?
  { ((rc == 0)) && grep -q "^Usage: stackmon.cgi" "$o"; } ||
    fail "stackmon.cgi --help: exit $rc, want 0 and a 'Usage: stackmon.cgi' line; printed: $(cat "$o" "$e")"
  run "$o" "$e" env -u REQUEST_METHOD "$cgi"; rc=$?
  { ((rc == 2)) && grep -q "REQUEST_METHOD" "$e"; } ||
    fail "stackmon.cgi without a CGI environment: exit $rc, want 2 and a message naming REQUEST_METHOD"
  ((failures == before)) && echo "ok: stackmon.cgi"
fi
((failures == 0)) || { echo "$failures failure(s)"; exit 1; }
