#!/usr/bin/env bash
# scripts/dashboard-lighttpd.sh (the main command's web server) stores only a
# SHA-512 crypt hash of the password it makes, and without openssl it stops
# with a clear error instead of writing the password in plain text.
# Usage: lighttpd_script.sh BUILD_DIR
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
cgi=$build/dashboard/stackmon.cgi
[ -x "$cgi" ] || { echo "SKIP: $cgi is not built"; exit 77; }
command -v lighttpd >/dev/null || { echo "SKIP: lighttpd is not installed"; exit 77; }
tmp=$(mktemp -d)
lpid=
cleanup() { [ -z "$lpid" ] || kill "$lpid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Every command the script needs, but openssl.
mkdir "$tmp/bin"
for c in dirname mkdir chmod head base64 tr cat sed lighttpd bash; do
  ln -s "$(command -v "$c")" "$tmp/bin/$c"
done
rc=0
env PATH="$tmp/bin" DASHBOARD_CGI="$cgi" DASHBOARD_PORT="$port" /usr/bin/timeout 10 \
  bash "$top/scripts/dashboard-lighttpd.sh" run "$tmp/noopenssl" >"$tmp/out" 2>&1 || rc=$?
check "without openssl it exits non-zero (got $rc)" "[ $rc -ne 0 ]"
check "and says openssl is missing" "grep -q 'openssl is not installed' '$tmp/out'"
check "and writes no password file" "[ ! -e '$tmp/noopenssl/dashboard/htpasswd' ]"

# With openssl: a crypt hash, never the password; the file is private.
DASHBOARD_CGI="$cgi" DASHBOARD_PORT="$port" \
  "$top/scripts/dashboard-lighttpd.sh" run "$tmp/ok" >"$tmp/ok.out" 2>&1 &
lpid=$!
for _ in $(seq 50); do [ -s "$tmp/ok/dashboard/htpasswd" ] && break; sleep 0.1; done
pw=$(cat "$tmp/ok/dashboard/password" 2>/dev/null || true)
check "with openssl the password file holds a SHA-512 crypt hash" \
  "grep -qE '^admin:\\\$6\\\$' '$tmp/ok/dashboard/htpasswd'"
check "and not the password" "[ -n '$pw' ] && ! grep -qF -- '$pw' '$tmp/ok/dashboard/htpasswd'"
check "and is readable by its owner only" "[ \"\$(stat -c %a '$tmp/ok/dashboard/htpasswd')\" = 600 ]"
((fails == 0)) && echo "lighttpd_script: all checks passed"
exit $((fails > 0))
