#!/bin/bash
# The exporter's HTTP options as an operator sets them: HTTPS with a certificate made by openssl, basic auth against an `openssl passwd -6` hash (no or wrong credentials: 401 with a challenge; right ones: 200), a unix socket path (removed at exit), and the refusals at start: a password file others may read, a certificate without its key, an address that is taken.
# shellcheck source=tests/exporter/e2e_lib.sh
. "$(dirname "$0")/../exporter/e2e_lib.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	>"$TMP/openssl.log" 2>&1 || fail "openssl req: $(cat "$TMP/openssl.log")"
openssl passwd -6 's3cret "pass"' >"$TMP/passwd"
chmod 0640 "$TMP/passwd"

start_exporter https --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	--basic-auth-user prom --basic-auth-password-file "$TMP/passwd"
URL="https://$EXP_ADDR/metrics"
code() { curl -s -o /dev/null -w '%{http_code}' --cacert "$TMP/cert.pem" "$@"; }
[ "$(code "$URL")" = 401 ] || fail "no credentials: $(code "$URL")"
curl -s -D - -o /dev/null --cacert "$TMP/cert.pem" "$URL" | tr -d '\r' |
	grep -qi '^WWW-Authenticate: Basic realm="stackmon-exporter"' || fail "401 without a challenge"
[ "$(code -u 'prom:wrong' "$URL")" = 401 ] || fail "a wrong password was let in"
[ "$(code -u 'other:s3cret "pass"' "$URL")" = 401 ] || fail "a wrong user was let in"
[ "$(code -u 'prom:s3cret "pass"' "$URL")" = 200 ] || fail "the right credentials were refused"
curl -fsS --cacert "$TMP/cert.pem" -u 'prom:s3cret "pass"' "$URL" >"$TMP/m.txt"
promtool check metrics <"$TMP/m.txt" >"$TMP/promtool.out" 2>&1 || fail "promtool: $(cat "$TMP/promtool.out")"
[ "$(metric "$TMP/m.txt" stackmon_exporter_scrapes_total)" -ge 1 ] || fail "no scrape counted"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$EXP_ADDR/metrics")" != 200 ] ||
	fail "plain HTTP was served on the TLS port"
grep -q "refused credentials" "$TMP/https.log" || fail "refused credentials were not logged"
grep -q 's3cret' "$TMP/https.log" && fail "the password reached the log"
kill "$EXP_PID"
wait "$EXP_PID" || fail "exit status $? after SIGTERM"

# A unix socket: served, and the file removed at exit.
start_exporter unix --listen "unix:$TMP/exporter.sock"
[ "$EXP_ADDR" = "unix:$TMP/exporter.sock" ] || fail "address: $EXP_ADDR"
curl -fsS --unix-socket "$TMP/exporter.sock" http://localhost/metrics >"$TMP/m.txt" ||
	fail "nothing on the unix socket"
grep -q '^stackmon_exporter_build_info{version="' "$TMP/m.txt" || fail "no build_info"
kill "$EXP_PID"
wait "$EXP_PID" || fail "exit status $? after SIGTERM"
[ ! -e "$TMP/exporter.sock" ] || fail "the socket file was left behind"

# Refusals at start, each naming what is wrong; -n finds the first two.
chmod 0644 "$TMP/passwd"
"$EXPORTER" -c /dev/null -n --basic-auth-user prom --basic-auth-password-file "$TMP/passwd" \
	>"$TMP/n.out" 2>&1 && fail "a world-readable password file was accepted"
grep -q "readable or writable by others" "$TMP/n.out" || fail "$(cat "$TMP/n.out")"
"$EXPORTER" -c /dev/null -n --tls-cert "$TMP/cert.pem" >"$TMP/n.out" 2>&1 && fail "a certificate without key"
grep -q "tls_cert and tls_key go together" "$TMP/n.out" || fail "$(cat "$TMP/n.out")"
# A port held by another listener.
$PY -c 'import socket, time, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write("%d\n" % s.getsockname()[1])
time.sleep(60)' "$TMP/port.tmp" &
STARTED="$STARTED $!"
wait_for 10 test -s "$TMP/port.tmp" || fail "no port holder"
port=$(cat "$TMP/port.tmp")
rc=0
timeout 20 "$EXPORTER" -c /dev/null --subscribe "$FAN_OUT" --listen "127.0.0.1:$port" >"$TMP/taken.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "an address in use: exit $rc"
grep -q "listen on 127.0.0.1:$port: Address already in use" "$TMP/taken.log" || fail "$(cat "$TMP/taken.log")"
echo "OK: HTTPS, basic auth and a unix socket serve; bad settings are refused at start"
