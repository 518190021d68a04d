#!/usr/bin/env bash
# Proves stackmon-sub reports each gap in a sender's seq on stderr with the missing seqs, a summary by sender with exact received and lost counts when it ends, and with --loss that summary alone on stdout; duplicates, a new epoch and a seq leap are not loss, a frame with a hostile host name is refused, and the exit codes are unchanged.
set -euo pipefail
publisher=$1
sub=$2
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.txt; do echo "--- $f"; cat "$f"; done; exit 1; }

# cn1 stats: 318 missing (1181-1498), a duplicate, a late frame, then 2 more
# missing (1502-1503); a restart (new epoch) is not loss. cn1 events: 1
# missing. cn2: a leap of 2^33 is not believed, counting goes on after it.
cat > "$tmp/script" <<'S'
cn1 stats 7 1180
cn1 stats 7 1499
cn1 stats 7 1500
cn1 stats 7 1500
cn1 stats 7 1200
cn1 stats 7 1501
cn1 stats 7 1504
cn1 stats 8 1
cn1 stats 8 2
cn1 event 7 1
cn1 event 7 3
cn2 stats 9 10
cn2 stats 9 8589934602
cn2 stats 9 8589934603
hostile <b>cn3</b> stats 1 1
hostile <b>cn3</b> stats 1 9
S

ep="ipc://$tmp/pub"
"$publisher" "$ep" 10 < "$tmp/script" > "$tmp/pub.txt" & pids+=($!)
"$sub" --connect "$ep" --timeout 4 > "$tmp/out.json" 2> "$tmp/err.txt" || fail "exit $?"
wait "${pids[-1]}"
grep -q "sent 16" "$tmp/pub.txt" || fail "publisher did not send its script"

expect() { grep -qxF -- "$1" "$tmp/$2" || fail "no line '$1' in $2"; }
expect "stackmon-sub: gap from cn1 (stats): seq 1181-1498 missing (318 frames)" err.txt
expect "stackmon-sub: gap from cn1 (stats): seq 1502-1503 missing (2 frames)" err.txt
expect "stackmon-sub: gap from cn1 (event): seq 2 missing (1 frame)" err.txt
grep -qF "stackmon-sub: seq from cn2 (stats) leapt to 8589934602" "$tmp/err.txt" || fail "no leap line"
[ "$(grep -c "gap from" "$tmp/err.txt")" = 3 ] || fail "gap lines other than the three expected"
expect "stackmon-sub: received from cn1 (stats): 9 frames, 320 lost (97.3%)" err.txt
expect "stackmon-sub: received from cn1 (event): 2 frames, 1 lost (33.3%)" err.txt
expect "stackmon-sub: received from cn2 (stats): 3 frames, 0 lost (0.0%)" err.txt
expect "stackmon-sub: loss in all: 14 frames received from 2 senders, 321 lost (95.8%), 2 duplicate or late, 1 seq leaps not counted" err.txt
# The hostile host never reaches the report or stdout.
! grep -q "cn3" "$tmp/err.txt" "$tmp/out.json" || fail "a hostile host name got through"
[ "$(wc -l < "$tmp/out.json")" = 14 ] || fail "expected 14 JSON lines"
echo "gap lines and summary OK"

# --loss: no message, the summary alone on stdout; --count still ends it.
ep2="ipc://$tmp/pub2"
head -n 11 "$tmp/script" | "$publisher" "$ep2" 10 > /dev/null & pids+=($!)
"$sub" --connect "$ep2" --loss --count 11 --timeout 10 > "$tmp/loss.txt" 2> "$tmp/loss_err.txt" ||
  fail "--loss exit $?"
grep -q "gap from" "$tmp/loss_err.txt" "$tmp/loss.txt" && fail "--loss printed gap lines"
cat > "$tmp/want.txt" <<'W'
stackmon-sub: received from cn1 (event): 2 frames, 1 lost (33.3%)
stackmon-sub: received from cn1 (stats): 9 frames, 320 lost (97.3%)
stackmon-sub: loss in all: 11 frames received from 1 senders, 321 lost (96.7%), 2 duplicate or late, 0 seq leaps not counted
W
# Kinds are ordered by their wire number: stats before event.
sort "$tmp/loss.txt" > "$tmp/got_sorted.txt"; sort "$tmp/want.txt" > "$tmp/want_sorted.txt"
cmp -s "$tmp/got_sorted.txt" "$tmp/want_sorted.txt" || fail "--loss output differs"
echo "--loss OK"

# Exit codes are unchanged; --loss and --table exclude each other.
set +e
"$sub" --connect "ipc://$tmp/nobody" --loss --count 1 --timeout 0.5 > "$tmp/none.txt"; rc=$?
[ $rc -eq 3 ] || fail "timeout before --count: exit $rc, expected 3"
grep -qxF "stackmon-sub: loss in all: 0 frames received from 0 senders, 0 lost (0.0%), 0 duplicate or late, 0 seq leaps not counted" "$tmp/none.txt" ||
  fail "empty summary"
"$sub" --connect "ipc://$tmp/nobody" --loss --table --timeout 0.5 > /dev/null 2> "$tmp/both.txt"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--table and --loss" "$tmp/both.txt" || fail "--loss --table: exit $rc"
echo "exit codes OK"
