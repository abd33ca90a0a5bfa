# actor.sh - a canister with a compiled Motoko actor's import set (tests/canisters/actor.c)
# through the real node and CLI (docs/canisters.md "Motoko canisters"): its module imports every
# ic0 function of Motoko's runtime; it deploys; it calls another canister with cycles attached
# (half accepted, half refunded), guaranteed and best-effort; it arms its global timer, which
# fires once and moves cycles through aaaaa-aa deposit_cycles; it burns cycles; it rejects.
# Every balance is asserted exactly (a chain without fees), the accounts balance, and replay
# reaches the same state root.
#
#   actor.sh TALLY ACTOR_WASM WASM2WAT
tally=$1 actor=$2 wasm2wat=$3
. "$(dirname "$0")/lib.sh"

# The ic0 imports of Motoko's runtime (its code generator's import_ic0) and those newer
# versions add.
motoko="accept_message call_cycles_add128 call_data_append call_new call_on_cleanup call_perform
call_with_best_effort_response canister_cycle_balance128 canister_liquid_cycle_balance128
canister_self_copy canister_self_size canister_status canister_version certified_data_set
cycles_burn128 data_certificate_copy data_certificate_present data_certificate_size debug_print
global_timer_set is_controller msg_arg_data_copy msg_arg_data_size msg_caller_copy
msg_caller_size msg_cycles_accept128 msg_cycles_available128 msg_cycles_refunded128 msg_deadline
msg_method_name_copy msg_method_name_size msg_reject msg_reject_code msg_reject_msg_copy
msg_reject_msg_size msg_reply msg_reply_data_append performance_counter stable64_grow
stable64_read stable64_size stable64_write time trap"
imports=$("$wasm2wat" "$actor" | sed -n 's/.*(import "ic0" "\([a-z0-9_]*\)".*/\1/p' | sort | tr '\n' ' ')
want=$(tr -s ' \n' '\n' <<<"$motoko" | sort | tr '\n' ' ')
[ "$imports" = "$want" ] || die "actor.wasm imports '$imports', want Motoko's '$want'"

d="$work/node"
"$tally" init --dir "$d" --interval 10 --no-fees >/dev/null || die "tally init"
start_node "$d"

balance() { cycles_of "$d" "$1"; }

a=$("$tally" deploy --dir "$d" "$actor") || die "deploy actor A"
a=${a%% *}
b=$("$tally" deploy --dir "$d" "$actor") || die "deploy actor B"
b=${b%% *}
aid=$(canister_number "$a") bid=$(canister_number "$b")
[ "$bid" -eq $((aid + 1)) ] || die "ids $aid, $bid"
a0=$(balance "$a") b0=$(balance "$b")
[ "$a0" = 100000000000000 ] && [ "$b0" = 100000000000000 ] || die "provisional cycles: $a0 $b0"

# a guaranteed call with 1,000,000 cycles: B accepts half, A gets the rest back
out=$("$tally" call --dir "$d" "$a" send "0x$(le64 "$bid")$(le64 1000000)00") || die "send: $out"
hex=$(reply_hex "$out")
# accepted 500,000 (u128) | deadline 0 | refunded 500,000 (u128)
[ "$hex" = "20a10700000000000000000000000000000000000000000020a10700000000000000000000000000" ] \
    || die "send reply $hex"
[ "$(balance "$a")" = $((a0 - 500000)) ] || die "A after send: $(balance "$a")"
[ "$(balance "$b")" = $((b0 + 500000)) ] || die "B after send: $(balance "$b")"

# best-effort: the callee sees a deadline (block time + 60 s, in ns since the epoch)
out=$("$tally" call --dir "$d" "$a" send "0x$(le64 "$bid")$(le64 2000)01") || die "send be: $out"
hex=$(reply_hex "$out")
[ "${hex:0:32}" = "e8030000000000000000000000000000" ] || die "best-effort accepted: $hex"
[ "${hex:48:32}" = "e8030000000000000000000000000000" ] || die "best-effort refund: $hex"
[ "${hex:32:16}" != "0000000000000000" ] || die "best-effort call without a deadline: $hex"
[ "$(balance "$a")" = $((a0 - 501000)) ] && [ "$(balance "$b")" = $((b0 + 501000)) ] \
    || die "balances after the best-effort call"

# the timer: armed 300 ms ahead, it fires once and deposits 3,000,000 cycles into B
out=$("$tally" call --dir "$d" "$a" arm "0x$(le64 300000000)$(le64 "$bid")$(le64 3000000)") \
    || die "arm: $out"
[ "$(reply_hex "$out")" = "0000000000000000" ] || die "arm: previous timer $out"
fired=""
for _ in $(seq 1 100); do
    out=$("$tally" query --dir "$d" "$a" stats) || die "stats"
    hex=$(reply_hex "$out")
    [ "${hex:0:32}" = "01000000000000000100000000000000" ] && { fired=1; break; }
    sleep 0.1
done
[ -n "$fired" ] || die "the timer did not fire and deposit within 10 s: $hex"
sleep 0.3
out=$("$tally" query --dir "$d" "$a" stats) || die "stats"
hex=$(reply_hex "$out")
[ "${hex:0:16}" = "0100000000000000" ] || die "the timer fired more than once: $hex"
[ "$(balance "$a")" = $((a0 - 3501000)) ] || die "A after the timer: $(balance "$a")"
[ "$(balance "$b")" = $((b0 + 3501000)) ] || die "B after the timer: $(balance "$b")"
# B counted what it accepted (500,000 + 1,000); no cleanup ran anywhere
out=$("$tally" query --dir "$d" "$b" stats) || die "stats B"
hex=$(reply_hex "$out")
[ "${hex:16:32}" = "0000000000000000""0000000000000000" ] || die "B's deposits/cleanups: $hex"
[ "${hex:48:16}" = "$(le64 501000)" ] || die "B's received: $hex"
# stats of A: the balance it sees is the node's; running (1); the admin is a controller; no
# certificate on a single node
out=$("$tally" query --dir "$d" "$a" stats) || die "stats"
hex=$(reply_hex "$out")
[ "${hex:64:32}" = "$(le64 $((a0 - 3501000)))0000000000000000" ] || die "A's balance128: $hex"
[ "${hex:128:8}" = "01000000" ] || die "A's status: $hex"
[ "${hex:168:8}" = "01000000" ] || die "A's is_controller(admin): $hex"
[ "${hex:176:16}" = "0000000000000000" ] || die "A's certificate: $hex"

# burn: the accounts count it
out=$("$tally" call --dir "$d" "$a" burn --u64 1234) || die "burn: $out"
[ "$(reply_hex "$out")" = "d2040000000000000000000000000000" ] || die "burn reply $out"
[ "$(balance "$a")" = $((a0 - 3502234)) ] || die "A after burn"
out=$("$tally" cycles --dir "$d") || die "cycles"
expect_match "$out" 'burned: 1234\b' "burned in the accounts"
expect_match "$out" 'minted: 200000000000000\b' "minted in the accounts"

# a reject, and a trap on a bad argument
if out=$("$tally" call --dir "$d" "$a" refuse 2>&1); then die "refuse succeeded"; fi
expect_match "$out" 'refused by the actor.*reject code 4\]' "refuse"
if out=$("$tally" call --dir "$d" "$a" send 0x01 2>&1); then die "send with a bad arg succeeded"; fi
expect_match "$out" 'wrong argument length.*reject code 5\]' "trap"

stop_and_replay "$d"
echo "actor: ok ($replayed blocks)"
