#!/bin/bash
# Symbolic links planted in the data directory lead nowhere: a linked hosts/X, a .wsp linked to an outside file, a linked domains/XX purged by a "stopped" event with grace 0, and a linked quarantine/ with a corrupt file behind it leave everything outside untouched; each is refused, counted and logged once with its path, and a legitimate domain keeps being written.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
OUT="$TMP/outside"
D0=$(domain_dir 0)
D1=$(domain_dir 1)
D2=$(domain_dir 2)
U5=5ee70000-0000-4000-8000-000000000005 # agg_testpub --uuid-prefix 5e, domain 5

# What lies outside: a directory, a valid Whisper file, a domain's directory
# with a file, and an empty would-be quarantine.
mkdir -p "$OUT/hostdir" "$OUT/dom/$U5" "$OUT/q" "$DATA/domains/${D0:8:2}" "$DATA/hosts" "$DATA/$D1" "$DATA/$D2"
$PY -c "import whisper, sys; whisper.create(sys.argv[1], [(1, 1800), (60, 1440)])" "$OUT/file.wsp"
echo "keep me" >"$OUT/dom/$U5/keep"
ln -s "$OUT/hostdir" "$DATA/hosts/cn9"                 # 1: a host's directory
ln -s "$OUT/file.wsp" "$DATA/$D2/cpu_pct.wsp"          # 2: one metric file
ln -s "$OUT/dom" "$DATA/domains/5e"                    # 3: a two-hex level, then purged
ln -s "$OUT/q" "$DATA/quarantine"                      # 4: where bad files go ...
head -c 4096 /dev/urandom >"$DATA/$D1/mem_pct.wsp"     # ... and a bad file to send there
snapshot() { (cd "$OUT" && find . -printf '%p %y %s %T@\n' | sort && find . -type f -exec md5sum {} + | sort); }
before=$(snapshot)

start_agg --grace 0 --subscribe "ipc://$TMP/pub2" --subscribe "ipc://$TMP/pub3"
start_pub --domains 3 --rate 5
"$TESTPUB" --bind "ipc://$TMP/pub2" --host cn9 --first 10 --domains 1 --rate 5 >>"$TMP/pub2.log" 2>&1 &
STARTED="$STARTED $!"
"$TESTPUB" --bind "ipc://$TMP/pub3" --host cn5 --uuid-prefix 5e --first 5 --domains 1 --rate 5 \
	--stop-domain 5 --stop-after 15 >>"$TMP/pub3.log" 2>&1 &
STARTED="$STARTED $!"

written() { [ "$($CHECK count "$DATA/$D0/cpu_pct.wsp" 2>/dev/null)" -ge "$1" ]; }
wait_for 30 written 2 || fail "the legitimate domain 0 is not written"
purge_seen() { grep -q "domains/5e/$U5 of stopped domain $U5: a symbolic link" "$TMP/agg.log"; }
wait_for 30 purge_seen || fail "the purge through domains/5e was not refused"
n1=$($CHECK count "$DATA/$D0/cpu_pct.wsp")
sleep 3
n2=$($CHECK count "$DATA/$D0/cpu_pct.wsp")
[ "$n2" -gt "$n1" ] || fail "domain 0 stopped being written ($n1 -> $n2 points)"
kill -0 "$AGG_PID" || fail "the aggregator died"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS"

after=$(snapshot)
[ "$after" = "$before" ] || fail "something outside the data directory changed:
before:
$before
after:
$after"
[ -L "$DATA/quarantine" ] && [ -L "$DATA/$D2/cpu_pct.wsp" ] && [ -L "$DATA/hosts/cn9" ] ||
	fail "a planted link was replaced"
[ -f "$DATA/$D1/mem_pct.wsp" ] && [ "$(stat -c %s "$DATA/$D1/mem_pct.wsp")" = 4096 ] ||
	fail "the corrupt file moved or changed"
# One line for each link, naming its path (and one for the refused purge).
links() { grep -F "a symbolic link on the way" "$TMP/agg.log" | grep -cF -- "$1" || true; }
for what in ": hosts/cn9/" ": $D2/cpu_pct.wsp:" ": quarantine:" ": domains/5e/$U5/" \
	": domains/5e/$U5 of stopped domain"; do
	[ "$(links "$what")" = 1 ] || fail "'$what' logged $(links "$what") times"
done
# ... counted in the summary lines (the purge adds one; the domain's own
# files were refused first while it reported).
refused=$(grep -o 'links refused [0-9]*' "$TMP/agg.log" | awk '{s += $3} END {print s + 0}')
[ "$refused" -ge 4 ] || fail "links refused counted $refused times"
$CHECK values "$DATA/$D0/cpu_pct.wsp" 10 11 2
echo "OK: links in the data directory are refused, nothing outside is touched"
