#!/bin/bash
# Proves: stackmon-keygen writes NAME.key_secret 0600 and NAME.key 0644 whatever the umask, in the certificate format pyzmq reads, with --host metadata and --relay as role = relay (only when asked); it refuses to overwrite (exit 1, files unchanged) unless --force, and -n writes nothing.
set -eu
KEYGEN=$1
TMP=$(mktemp -d /tmp/sm-keygen-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(umask 000 && "$KEYGEN" --dir "$TMP" --name cn1 --host cn1 --host 'rack1-*' >"$TMP/out") ||
	fail "keygen exit $?"
[ "$(stat -c %a "$TMP/cn1.key_secret")" = 600 ] || fail "secret mode $(stat -c %a "$TMP/cn1.key_secret")"
[ "$(stat -c %a "$TMP/cn1.key")" = 644 ] || fail "public mode $(stat -c %a "$TMP/cn1.key")"
grep -q 'secret-key' "$TMP/cn1.key" && fail "the public file holds the secret key"
grep -q '^    host = "rack1-\*"$' "$TMP/cn1.key" || fail "no host metadata in cn1.key"
grep -q 'role' "$TMP/cn1.key" && fail "a key made without --relay carries a role"
"$KEYGEN" --dir "$TMP" --name rack1 --host 'cn*' --relay >/dev/null || fail "--relay: exit $?"
grep -q '^    role = "relay"$' "$TMP/rack1.key" || fail "no role = relay in rack1.key"
grep -q '^    role = "relay"$' "$TMP/rack1.key_secret" || fail "no role = relay in rack1.key_secret"

# Another implementation of the format reads both files and agrees.
/usr/bin/python3 - "$TMP" <<'PY' || fail "pyzmq cannot read the key pair"
import sys, zmq, zmq.auth
d = sys.argv[1]
pub, sec = zmq.auth.load_certificate(d + "/cn1.key_secret")
pub2, none = zmq.auth.load_certificate(d + "/cn1.key")
assert pub == pub2 and none is None and sec is not None
assert zmq.curve_public(sec) == pub
PY

before=$(cat "$TMP"/cn1.key*)
set +e
"$KEYGEN" --dir "$TMP" --name cn1 >/dev/null 2>"$TMP/err"; rc=$?
set -e
[ "$rc" = 1 ] || fail "overwrite without --force: exit $rc, want 1"
grep -q "cn1.key_secret exists" "$TMP/err" || fail "refusal does not name the file: $(cat "$TMP/err")"
[ "$(cat "$TMP"/cn1.key*)" = "$before" ] || fail "refused overwrite changed the files"

chmod 644 "$TMP/cn1.key_secret"
"$KEYGEN" --dir "$TMP" --name cn1 --force >/dev/null || fail "--force: exit $?"
[ "$(cat "$TMP"/cn1.key*)" != "$before" ] || fail "--force kept the old pair"
[ "$(stat -c %a "$TMP/cn1.key_secret")" = 600 ] || fail "--force left a loose mode on the secret"

"$KEYGEN" -n --dir "$TMP" --name other >/dev/null || fail "-n: exit $?"
[ ! -e "$TMP/other.key" ] && [ ! -e "$TMP/other.key_secret" ] || fail "-n wrote files"
set +e
"$KEYGEN" --dir "$TMP" --name '../x' >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "a name with a slash: exit $rc, want 2"
echo "ok: modes, format, metadata, refusal and --force"
