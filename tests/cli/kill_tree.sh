# kill_tree.sh - kill -9 in the middle of call trees and with armed timers, through the real
# node (docs/reliability.md "Crash durability", docs/canisters.md "Calls"). A chain whose small
# round budget spreads every call tree over several blocks; canister A (tests/canisters/
# actor.c) keeps calling B with 1,000 cycles attached (a client sends `send` without waiting:
# an answer means "durably in the mempool"); four other actors have timers armed 0.5 to 6 s
# ahead, each paying B 1,000,000 cycles through aaaaa-aa when it fires. The node is killed with
# SIGKILL at random moments and restarted, for KILL_SECONDS (default 12). Then:
#   - every acknowledged message has its receipt, the reply of a completed call (nothing lost),
#     or 'F' 2: call_perform refused the call because A's queue to B held 500 calls (SYS_TRANSIENT,
#     as on the IC: a restart leaves a backlog of sends that a round runs at once);
#   - B accepted 500 cycles for every `send` the blocks include that made its call, and A lost
#     exactly that: no call ran twice, no callback ran twice, no cleanup ran;
#   - every timer fired exactly once and paid once; every balance is exact and the chain's
#     accounts balance (a chain without fees);
#   - `tally replay` recomputes every block and reaches the node's state root.
#
#   kill_tree.sh TALLY ACTOR_WASM [KILL_SECONDS]
tally=$1 actor=$2 secs=${3:-12}
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 20 --no-fees --round-limit 10000 >/dev/null || die "tally init"
start_node "$d" --quiet

balance() { cycles_of "$d" "$1"; }
stats() { reply_hex "$("$tally" query --dir "$d" "$1" stats)"; }
ids=()
for i in 1 2 3 4 5 6; do
    c=$("$tally" deploy --dir "$d" "$actor") || die "deploy $i"
    ids+=("${c%% *}")
done
a=${ids[0]} b=${ids[1]}
bid=$(canister_number "$b")
for i in 2 3 4 5; do # timers at 0.5, 2, 3.5 and 5 s (more than one kill apart), paying B
    out=$("$tally" call --dir "$d" "${ids[$i]}" arm \
        "0x$(le64 $(((i - 1) * 1500000000 - 1000000000)))$(le64 "$bid")$(le64 1000000)") \
        || die "arm ${ids[$i]}: $out"
done

send_arg="0x$(le64 "$bid")$(le64 1000)00"
# about 12 sends a second: the chain (20 ms rounds of 10,000 instructions; a send alone fills
# one, so every call tree spans blocks) keeps up on a loaded machine, and no acknowledged send
# waits past its expiry height in a backlog after a restart
( while :; do
      id=$("$tally" call --dir "$d" --no-wait "$a" send "$send_arg" 2>/dev/null) \
          && echo "$id" >>"$work/acked"
      sleep 0.08
  done ) &
client_pid=$!
trap '[ -z "$client_pid" ] || kill "$client_pid" 2>/dev/null || true; cleanup' EXIT

kills=0
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ]; do
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + 1.2 * r / 32767 }')"
    kill -KILL "$node_pid" 2>/dev/null
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
    kills=$((kills + 1))
    start_node "$d" --quiet
done
kill "$client_pid" 2>/dev/null || true
wait "$client_pid" 2>/dev/null || true
client_pid=""
sleep 0.5 # a call in flight when the client stopped is not counted unless acknowledged
[ "$kills" -ge 5 ] || die "only $kills kills"

# every acknowledged message gets its receipt: a completed call, 500 accepted and 500 refunded
want="f4010000000000000000000000000000""0000000000000000""f4010000000000000000000000000000"
acked=0
while read -r id; do
    acked=$((acked + 1))
    for _ in $(seq 1 600); do
        out=$("$tally" receipt --dir "$d" "$id" 2>&1) || die "receipt $id: $out"
        [[ $out == pending* ]] || break
        sleep 0.1
    done
    r=$(reply_hex "$out")
    [ "$r" = "$want" ] || [ "$r" = 4602 ] || die "acknowledged $id: $out"
done <"$work/acked"
[ "$acked" -ge 10 ] || die "only $acked messages acknowledged"

# let every tree and timer finish (the last timer is due 5 s after it was armed)
for _ in $(seq 1 300); do
    done_timers=0
    for i in 2 3 4 5; do
        s=$(stats "${ids[$i]}") || die "stats"
        [ "${s:0:32}" = "01000000000000000100000000000000" ] && done_timers=$((done_timers + 1))
    done
    [ "$done_timers" -eq 4 ] && "$tally" status --dir "$d" | grep -q '^mempool_size: 0$' && break
    sleep 0.1
done
[ "$done_timers" -eq 4 ] || die "$done_timers of 4 timers fired and paid"
sleep 0.5

# the sends the blocks include: every message but the 6 deploys and the 4 arms
# (and how many calls ended in a later block than the one that included them: the trees
# spanned blocks, so the kills could land in their middle)
tip=$("$tally" status --dir "$d" | sed -n 's/^height: //p')
included=0 spanning=0 full=0
for h in $(seq 1 "$tip"); do
    listed=$("$tally" block --dir "$d" --json "$h" | sed -n 's/^ *"\([0-9a-f]\{64\}\)",\{0,1\}$/\1/p')
    for id in $listed; do
        included=$((included + 1))
        out=$("$tally" receipt --dir "$d" "$id") # "... [N instructions, block H, message ...]"
        r=$(sed -n 's/.*, block \([0-9]*\), message .*/\1/p' <<<"$out")
        [ "${r:-0}" -gt "$h" ] && spanning=$((spanning + 1))
        [ "$(reply_hex "$out")" = 4602 ] && full=$((full + 1))
    done
done
sends=$((included - 10 - full)) # the sends that made their call
[ $((sends + full)) -ge "$acked" ] || die "$sends sends and $full refused in blocks, $acked acknowledged"
[ "$spanning" -gt $((sends / 4)) ] || die "only $spanning of $sends calls spanned blocks"
sa=$(stats "$a") sb=$(stats "$b")
[ "${sa:32:16}" = "0000000000000000" ] || die "a cleanup ran in A: $sa"
[ "${sb:48:16}" = "$(le64 $((500 * sends)))" ] || die "B received ${sb:48:16}, want 500 x $sends"
for i in 2 3 4 5; do
    s=$(stats "${ids[$i]}")
    [ "${s:0:32}" = "01000000000000000100000000000000" ] || die "timer of ${ids[$i]}: $s"
    [ "$(balance "${ids[$i]}")" = $((100000000000000 - 1000000)) ] || die "balance of ${ids[$i]}"
done
[ "$(balance "$a")" = $((100000000000000 - 500 * sends)) ] || die "A's balance $(balance "$a")"
[ "$(balance "$b")" = $((100000000000000 + 500 * sends + 4000000)) ] || die "B's balance"
out=$("$tally" cycles --dir "$d") || die "cycles"
expect_match "$out" 'minted: 600000000000000\b' "minted"
expect_match "$out" 'burned: 0\b' "burned"

stop_and_replay "$d"
echo "kill_tree: ok ($kills kills, $acked acknowledged, $sends sends ($spanning spanning" \
    "blocks), $full refused by a full queue, $replayed blocks)"
