#!/bin/bash
# Proves: when the preferred intermediate dies the publisher fails over to its second one within seconds, returns when it restarts, and no frame reaches the top twice.
. "$(dirname "$0")/../collector/e2e_lib.sh"

start_collector master
start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"
start_collector rack2 --upstream "$(in_ep master)=$(out_ep master)"
start_testpub cn-01 --connect "$(in_ep rack1)=$(out_ep rack1)" \
	--connect "$(in_ep rack2)=$(out_ep rack2)" --failover 1 --rate 20 --event-every 10

# The top subscriber runs through the whole scenario, in the background.
$PY - "$(out_ep master)" "$TMP/top.txt" <<'PY' &
import sys, time
from smtest import Sub, fail, loss_row

top = Sub(sys.argv[1])
top.wait(lambda t, b: t == "stats/cn-01/", 20, "stats from cn-01 at the top")
with open(sys.argv[2], "a") as out:  # O_APPEND: the script truncates it
    end = time.monotonic() + 120
    while time.monotonic() < end:
        m = top.recv(0.2)
        if m and m[0].startswith("collector/rack"):
            row = loss_row(m[1], "cn-01")
            if row:
                print("via %s %d" % (m[0].split("/")[1], row[2]), file=out, flush=True)
        if m and m[0] == "stats/cn-01/":
            print("seq %d dups %d" % (m[1]["seq"], sum(top.dups.values())), file=out, flush=True)
PY
TOP=$!
STARTED="$STARTED $TOP"

wait_line "$TMP/top.txt" "^via rack1" 20
stop_collector rack1 KILL
t0=$(date +%s.%N)
wait_line "$TMP/cn-01.out.txt" "^switch 1 .*rack2.in" 20
t1=$(date +%s.%N)
echo "failed over to rack2 in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
# rack2 now carries cn-01 to the top.
wait_line "$TMP/top.txt" "^via rack2 [1-9]" 20

start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"
t0=$(date +%s.%N)
wait_line "$TMP/cn-01.out.txt" "^switch 0 .*rack1.in" 20
t1=$(date +%s.%N)
echo "back on rack1 in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
# The restarted rack1 relays again: its fresh loss table sees cn-01.
: >"$TMP/top.txt"
wait_line "$TMP/top.txt" "^via rack1 [1-9]" 20
sleep 2
last=$(grep '^seq' "$TMP/top.txt" | tail -n 1)
case "$last" in
*"dups 0") echo "ok: no frame reached the top twice ($last)" ;;
*) echo "FAIL: duplicates at the top: $last" >&2; exit 1 ;;
esac
