#!/bin/bash
# Finding 1 of security issue 11 replayed: a frame forged for the real host, moving a domain of tenant beta into tenant alpha and timed 550 s ahead, changes nothing: the index still puts the domain in beta, the refusal is logged once (host, uuid, both projects) and counted, the forged time is not believed, and the real monitor's points after it are written, not ignored.
# shellcheck source=tests/aggregator/e2e_lib.sh
. "$(dirname "$0")/../aggregator/e2e_lib.sh"
U0=$(uuid_of 0)
D0=$(domain_dir 0)

# The forger speaks for cn1 too (a key allowed for cn1, or no curve): three
# frames, alpha's project, 550 s ahead, once domain 0 has a history. Bound
# from the start: the aggregator is connected when it speaks.
"$TESTPUB" --bind "ipc://$TMP/forger" --host cn1 --domains 1 --project alpha --time-offset 550 \
	--count 3 --rate 5 --epoch 4242 --delay 5 >>"$TMP/forger.log" 2>&1 &
FORGER=$!
STARTED="$STARTED $FORGER"
start_agg --subscribe "ipc://$TMP/forger"
start_pub --domains 1 --rate 4 --project beta
history() { [ "$($CHECK count "$DATA/$D0/cpu_pct.wsp" 2>/dev/null)" -ge 4 ]; }
wait_for 30 history || fail "no history for domain 0 in tenant beta"
[ "$(sql "SELECT project_id FROM domains WHERE uuid = '$U0'")" = beta ] || fail "domain 0 not in beta"
refused() { grep -q "host cn1 reported domain $U0 in project 'alpha' but it is in project 'beta'" "$TMP/agg.log"; }
wait_for 20 refused || fail "the forged project change was not refused"
wait "$FORGER" || true
before=$($CHECK count "$DATA/$D0/cpu_pct.wsp")
forged_at=$(date +%s)
sleep 4

# The index: still beta, alpha never created, last_seen not in the future.
[ "$(sql "SELECT project_id FROM domains WHERE uuid = '$U0'")" = beta ] ||
	fail "domain 0 moved to $(sql "SELECT project_id FROM domains WHERE uuid = '$U0'")"
[ "$(sql "SELECT count(*) FROM tenants WHERE project_id = 'alpha'")" = 0 ] || fail "tenant alpha was created"
[ "$(sql "SELECT last_seen < $forged_at + 60 FROM domains WHERE uuid = '$U0'")" = 1 ] ||
	fail "the forged time was believed: last_seen $(sql "SELECT last_seen FROM domains WHERE uuid = '$U0'")"
# The real monitor's points after the forgery are written.
after=$($CHECK count "$DATA/$D0/cpu_pct.wsp")
[ "$after" -ge $((before + 3)) ] || fail "real points ignored after the forgery ($before -> $after)"
[ "$(sql "SELECT count(*) FROM latest WHERE uuid = '$U0' AND time > $forged_at")" = 1 ] ||
	fail "the latest row stopped moving"
stop_agg TERM
[ "$AGG_STATUS" -eq 0 ] || fail "aggregator exited $AGG_STATUS"

# One line for three forged reports; each counted, and the time clamped.
[ "$(count_log "in project 'alpha' but it is in project 'beta'")" = 1 ] ||
	fail "refusal logged $(count_log "in project 'alpha'") times"
sum() { grep -o "$1 [0-9]*" "$TMP/agg.log" | awk '{s += $NF} END {print s + 0}'; }
[ "$(sum "refused: project")" = 3 ] || fail "refused project counted $(sum "refused: project") times"
[ "$(sum "frames_future")" -ge 3 ] || fail "frames_future counted $(sum "frames_future") times"
grep -q "frame from cn1 is timed 55[0-9] s ahead" "$TMP/agg.log" || fail "the future time was not logged"
echo "OK: a forged project change is refused and the real points keep coming"
