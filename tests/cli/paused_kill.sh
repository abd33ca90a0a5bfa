# paused_kill.sh - kill -9 while aaaaa-aa calls wait for a paused message, through the real node
# (docs/canisters.md "Time slicing"). A chain with 2,000-instruction slices, so the `watch`
# message of tests/scheduler/watch.wat (about 700,000 instructions) is paused over some 350
# blocks; while it is paused the admin sends stop_canister, then update_settings replacing the
# controllers by another canister. The node is killed with SIGKILL at random moments (before
# and after the two calls arrived) and restarted. Then:
#   - the message saw neither change (is_controller of the other canister 0 and status running,
#     at its start and at its end);
#   - the two calls were answered in the block where the message ended (nothing lost), and the
#     canister is stopped with the new controller;
#   - `tally replay` recomputes every block and reaches the node's state root.
#
#   paused_kill.sh TALLY WATCH_WASM
tally=$1 watch=$2
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 20 --no-fees --slice-limit 2000 >/dev/null || die "tally init"
start_node "$d" --quiet
w=$("$tally" deploy --dir "$d" "$watch") || die "deploy"
w=${w%% *}
o=$("$tally" deploy --dir "$d" "$watch") || die "deploy other"
o=${o%% *}
pw=$("$tally" canister --dir "$d" "$w" | sed -n 's/^principal: //p')
po=$("$tally" canister --dir "$d" "$o" | sed -n 's/^principal: //p')
oid=$(canister_number "$o")

kill_restart() {
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + 0.7 * r / 32767 }')"
    kill -KILL "$node_pid" 2>/dev/null
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
    kills=$((kills + 1))
    start_node "$d" --quiet
}

# watch's argument: the other canister's principal (8-byte big-endian id, 01 01)
arg=$(printf '0x%016x0101' "$oid")
id=$("$tally" call --dir "$d" --no-wait "$w" watch "$arg") || die "watch: $id"
kills=0
kill_restart
out=$("$tally" receipt --dir "$d" "$id")
[[ $out == pending* ]] || die "watch ended before the calls: $out (a machine far too fast?)"
stop=$("$tally" call --dir "$d" --no-wait aaaaa-aa stop_canister \
    "(record { canister_id = principal \"$pw\" })") || die "stop: $stop"
set=$("$tally" call --dir "$d" --no-wait aaaaa-aa update_settings \
    "(record { canister_id = principal \"$pw\"; settings = record { controllers = opt vec { principal \"$po\" } } })") \
    || die "update_settings: $set"
for _ in 1 2 3; do
    kill_restart
done

out=""
for _ in $(seq 1 600); do
    out=$("$tally" receipt --dir "$d" "$id") || die "receipt: $out"
    [[ $out == pending* ]] || break
    sleep 0.05
done
[[ $out != pending* ]] || die "watch did not end"
# 2 x (u32 is_controller 0, u32 status 1 (running), u128 balance)
r=$(reply_hex "$out")
[ "${#r}" -eq 96 ] || die "watch replied $out"
[ "${r:0:16}" = "0000000001000000" ] && [ "${r:48:16}" = "0000000001000000" ] \
    || die "the paused message saw a change: $out"
block=$(sed -n 's/.*, block \([0-9]*\), message .*/\1/p' <<<"$out")
for m in "$stop" "$set"; do
    rt=$(receipt_text "$d" "$m")
    expect_match "$rt" "^reply: \(\)  \[0 instructions, block $block, message " "receipt of $m"
done
info=$("$tally" canister --dir "$d" "$w")
expect_match "$info" '^status: stopped$' "status"
expect_match "$info" "^  0{44}$(printf '%016x' "$oid")0101\$" "the new controller"
stop_and_replay "$d"
echo "paused_kill: ok ($kills kills, the message ended in block $block, $replayed blocks)"
