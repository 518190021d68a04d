#!/bin/sh
# The sample etc/stackmon/collector.conf names every key the collector knows,
# and parses both as shipped and with every key uncommented. The shipped
# file turns CurveZMQ on with the keys the package's postinst makes under
# /etc/stackmon/keys/: they are made here with stackmon-keygen, and the
# paths pointed at them.
set -eu
COLLECTOR=$1
SHIPPED=$2
KEYGEN=$3
TMP=$(mktemp -d /tmp/sm-conf-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/keys/allow"
for k in collector monitor aggregator; do
	"$KEYGEN" --dir "$TMP/keys" --name "$k" >/dev/null
done
cp "$TMP/keys/monitor.key" "$TMP/keys/aggregator.key" "$TMP/keys/allow/"
CONF=$TMP/collector.conf
sed "s|/etc/stackmon/keys/|$TMP/keys/|g" "$SHIPPED" >"$CONF"
"$COLLECTOR" --help | sed -n 's/^ *--\([a-z-]*\)=.*/\1/p' | tr - _ >"$TMP/help-keys"
[ -s "$TMP/help-keys" ] || { echo "FAIL: no keys in --help" >&2; exit 1; }
missing=0
while read -r key; do
	# Commented with its default, or set (and its default shown commented).
	grep -q "^#$key =" "$CONF" || { echo "FAIL: $key not in $SHIPPED" >&2; missing=1; }
done <"$TMP/help-keys"
[ "$missing" -eq 0 ]
"$COLLECTOR" -n -c "$CONF"
# Every commented example uncommented, except for keys the file already sets.
awk 'NR == FNR { if ($0 ~ /^[a-z_]+ =/) set[$1] = 1; next }
     /^#[a-z_]+ =/ { k = substr($1, 2); if (!(k in set)) { print substr($0, 2); next } }
     { print }' "$CONF" "$CONF" >"$TMP/all.conf"
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
echo "ok: $(wc -l <"$TMP/help-keys") keys documented"
