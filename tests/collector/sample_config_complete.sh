#!/bin/sh
# The sample etc/stackmon/collector.conf names every key the collector knows,
# and parses both as shipped and with every key uncommented.
set -eu
COLLECTOR=$1
CONF=$2
TMP=$(mktemp -d /tmp/sm-conf-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$COLLECTOR" --help | sed -n 's/^ *--\([a-z-]*\)=.*/\1/p' | tr - _ >"$TMP/keys"
[ -s "$TMP/keys" ] || { echo "FAIL: no keys in --help" >&2; exit 1; }
missing=0
while read -r key; do
	grep -q "^#$key =" "$CONF" || { echo "FAIL: $key not in $CONF" >&2; missing=1; }
done <"$TMP/keys"
[ "$missing" -eq 0 ]
"$COLLECTOR" -n -c "$CONF"
sed 's/^#\([a-z_]* =\)/\1/' "$CONF" >"$TMP/all.conf"
"$COLLECTOR" -n -c "$TMP/all.conf"
# And a bad value is refused, naming file and line.
printf 'fan_in = tcp://*:1\nheartbeat_interval = 0\n' >"$TMP/bad.conf"
if "$COLLECTOR" -n -c "$TMP/bad.conf" 2>"$TMP/err"; then
	echo "FAIL: bad heartbeat_interval accepted" >&2
	exit 1
fi
grep -q "bad.conf:2" "$TMP/err" || { echo "FAIL: error does not name file:line" >&2; exit 1; }
printf 'name = not a name\n' >"$TMP/bad.conf"
if "$COLLECTOR" -n -c "$TMP/bad.conf" 2>/dev/null; then
	echo "FAIL: bad name accepted" >&2
	exit 1
fi
echo "ok: $(wc -l <"$TMP/keys") keys documented"
