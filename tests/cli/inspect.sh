# inspect.sh - ingress admission through the real node and CLI (docs/canisters.md "Ingress
# inspection", "Stopping"): the actor canister (tests/canisters/actor.c) exports
# canister_inspect_message refusing method "blocked"; `tally call ID blocked` is refused at
# submission with MESSAGE_NOT_ACCEPTED and no block records it, while its other methods are
# admitted. A stopped canister's updates are refused at submission (CANISTER_STOPPED) and its
# queries rejected with reject code 5; started again, both work. Replay reaches the same root.
#
#   inspect.sh TALLY ACTOR_WASM
tally=$1 actor=$2
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 --no-fees >/dev/null || die "tally init"
start_node "$d"

height() { "$tally" status --dir "$d" | sed -n 's/^height: //p'; }

a=$("$tally" deploy --dir "$d" "$actor") || die "deploy actor"
a=${a%% *}
principal=$("$tally" canister --dir "$d" "$a" | sed -n 's/^principal: //p')
[ -n "$principal" ] || die "no principal for $a"

# inspect refuses "blocked": an error at submission, no message id, no block
h0=$(height)
if out=$("$tally" call --dir "$d" "$a" blocked 2>&1); then die "blocked was admitted: $out"; fi
expect_match "$out" '^tally call: MESSAGE_NOT_ACCEPTED: Requested canister rejected the message' \
    "blocked"
expect_match "$out" "canister_inspect_message did not accept update 'blocked'" "blocked: why"
sleep 0.3 # rounds every 10 ms: a block holding it would be there by now
[ "$(height)" = "$h0" ] || die "a block was made for the refused message: $h0 -> $(height)"
out=$("$tally" block --dir "$d" --json) || die "block"
expect_match "$out" "\"height\": $h0\b" "the tip is still block $h0"

# the other methods are admitted (and run) as before
out=$("$tally" call --dir "$d" "$a" burn --u64 7) || die "burn: $out"
[ "$(reply_hex "$out")" = "07000000000000000000000000000000" ] || die "burn reply $out"
[ "$(height)" -gt "$h0" ] || die "burn made no block"

# stopped: updates refused at submission, queries rejected with code 5
out=$("$tally" call --dir "$d" aaaaa-aa stop_canister \
    "(record { canister_id = principal \"$principal\" })") || die "stop_canister: $out"
h1=$(height)
if out=$("$tally" call --dir "$d" "$a" burn --u64 1 2>&1); then die "update to a stopped canister: $out"; fi
expect_match "$out" "^tally call: CANISTER_STOPPED: canister $a is stopped" "update when stopped"
if out=$("$tally" query --dir "$d" "$a" stats 2>&1); then die "query of a stopped canister: $out"; fi
expect_match "$out" "CANISTER_STOPPED: canister $a is not running: it is stopped" "query when stopped"
expect_match "$out" "reject code 5\]" "query when stopped: reject code"
sleep 0.3
[ "$(height)" = "$h1" ] || die "a block was made for the refused update: $h1 -> $(height)"

# started again
"$tally" call --dir "$d" aaaaa-aa start_canister \
    "(record { canister_id = principal \"$principal\" })" >/dev/null || die "start_canister"
out=$("$tally" call --dir "$d" "$a" burn --u64 2) || die "burn after start: $out"
[ "$(reply_hex "$out")" = "02000000000000000000000000000000" ] || die "burn reply $out"
"$tally" query --dir "$d" "$a" stats >/dev/null || die "query after start"

stop_and_replay "$d"
echo "inspect: ok ($replayed blocks)"
