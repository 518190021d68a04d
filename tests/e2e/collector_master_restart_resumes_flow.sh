#!/bin/bash
# Proves: restarting the master collector interrupts nothing for good: the intermediate and the subscriber reconnect by themselves and frames flow to the top again.
. "$(dirname "$0")/../collector/e2e_lib.sh"

start_collector master
start_collector rack1 --upstream "$(in_ep master)=$(out_ep master)"
start_testpub cn-01 --connect "$(in_ep rack1)=$(out_ep rack1)" --rate 20 --event-every 5

$PY - "$(out_ep master)" "$TMP/phase" <<'PY' &
import os, sys, time
from smtest import Sub, fail

top = Sub(sys.argv[1])
top.wait(lambda t, b: t == "stats/cn-01/", 20, "stats before the restart")
open(sys.argv[2], "w").write("flowing\n")
# Wait for the script to restart the master, then for new frames.
while open(sys.argv[2]).read() != "restarted\n":
    top.recv(0.1)
before = top.count.get(("cn-01", "stats"), 0)
_, b = top.wait(lambda t, b: t == "stats/cn-01/", 30, "stats after the master restarted")
top.wait(lambda t, b: t == "event/cn-01/", 30, "an event after the master restarted")
top.wait(lambda t, b: t == "hb/master/", 30, "the new master's heartbeat")
print("ok: flow resumed at seq %d (%d stats frames before the restart)" % (b["seq"], before))
PY
SUB=$!
STARTED="$STARTED $SUB"

wait_line "$TMP/phase" "flowing" 30
stop_collector master TERM
# A stopped collector removes the socket files of its ipc:// endpoints.
for f in "$TMP/master.in" "$TMP/master.out"; do
	if [ -e "$f" ]; then echo "FAIL: $f left behind by the stopped master" >&2; exit 1; fi
done
[ -e "$TMP/rack1.in" ] || { echo "FAIL: the running rack1 lost its socket file" >&2; exit 1; }
sleep 1
start_collector master
echo restarted >"$TMP/phase"
wait "$SUB"
