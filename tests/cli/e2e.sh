#!/usr/bin/env bash
# e2e.sh TALLY COUNTER.wasm LOOP.wasm - end to end: a real node on a free loopback port, driven
# by the tally client over HTTP: deploy, updates, queries, a trap (receipt, state unchanged), a
# reject, receipts and blocks, SIGTERM, then an offline replay that must verify every block.
tally=$1 counter=$2 loop=$3
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --message-limit 2e8 --slice-limit 5e7 --interval 10 --no-fees >/dev/null \
    || die "tally init"
[ "$(stat -c %a "$d/admin.key")" = 600 ] || die "admin.key is not mode 0600"
[[ $("$tally" key show "$d/admin.key") =~ ^[0-9a-f]{64}$ ]] || die "key show"
out=$(timeout 10 "$tally" node --dir "$d" --listen 0.0.0.0:0 2>&1) && die "bound 0.0.0.0 without --public"
expect_match "$out" 'needs --public' "refusal of a public address"
start_node "$d"
if "$tally" node --dir "$d" --listen 127.0.0.1:0 2>/dev/null; then die "a second node started on $d"; fi

c=$("$tally" deploy --dir "$d" "$counter") || die "deploy counter"
cid=${c%% *}
expect_match "$cid" '^[a-z2-7]{5}-[a-z2-7]{5}-[a-z2-7]{5}-[a-z2-7]$' "canister id"

# The counter speaks Candid (tests/canisters/counter.c) and carries its interface (a custom
# section written by sdk/candid.h's IC_CANDID_SERVICE): replies print typed by it.
out=$("$tally" canister --dir "$d" "$cid" --candid) || die "canister --candid"
expect_match "$out" '^service : \(nat\) -> \{ inc : \(\) -> \(nat\); add : \(nat\) -> \(nat\); set : \(nat\) -> \(\); get : \(\) -> \(nat\) query; \}$' "the counter's interface"
out=$("$tally" call --dir "$d" "$cid" inc) || die "call inc (1)"
expect_match "$out" '^reply: \(1 : nat\)  \[' "first inc"
out=$("$tally" call --dir "$d" "$cid" inc --output hex) || die "call inc (2)"
expect_match "$out" '^4449444c00017d02$' "second inc, --output hex"
out=$("$tally" query --dir "$d" "$cid" get '()') || die "query get"
expect_match "$out" '^reply: \(2 : nat\)  \[' "query get after two inc"
out=$("$tally" call --dir "$d" "$cid" add '(40 : nat)' --output candid) || die "call add 40"
expect_match "$out" '^\(42 : nat\)$' "add 40"
# The argument is typed by the interface: a text where a nat is expected is refused.
if out=$("$tally" call --dir "$d" "$cid" add '("forty")' 2>&1); then die "add (text) was sent"; fi
expect_match "$out" '^tally call: CANDID_' "a Candid argument that does not fit the interface"

# A canister reject (bad argument): exit 1, state unchanged.
if out=$("$tally" call --dir "$d" "$cid" add 0x0102 2>&1); then die "add with a 2-byte arg succeeded"; fi
expect_match "$out" '^tally call: [A-Z_]+: ' "reject line"
expect_match "$out" 'reject code 4\]' "reject code of a canister reject"
# Querying an update method says that it is one.
if out=$("$tally" query --dir "$d" "$cid" inc 2>&1); then die "query of an update method succeeded"; fi
expect_match "$out" "'inc' is an update method" "query of an update method"

# A trap: exit 1 with the trap status; the state root does not change.
l=$("$tally" deploy --dir "$d" "$loop") || die "deploy loop"
lid=${l%% *}
root_before=$("$tally" status --dir "$d" --json | sed -n 's/.*"state_root": "\([0-9a-f]*\)".*/\1/p')
if out=$("$tally" call --dir "$d" "$lid" trap 2>&1); then die "trap call succeeded"; fi
expect_match "$out" 'CANISTER_CALLED_TRAP: .*loop: trap called.*reject code 5\]' "trap receipt"
root_after=$("$tally" status --dir "$d" --json | sed -n 's/.*"state_root": "\([0-9a-f]*\)".*/\1/p')
[ -n "$root_before" ] && [ "$root_before" = "$root_after" ] \
    || die "state root changed by a trapped message ($root_before -> $root_after)"
out=$("$tally" query --dir "$d" "$cid" get) || die "query get after trap"
expect_match "$out" '\(42 : nat\)' "counter after the trap"

# The runaway loop hits the message limit (2e8) after several slices (5e7): a paused message.
if out=$("$tally" call --dir "$d" "$lid" spin 2>&1); then die "spin succeeded"; fi
expect_match "$out" 'INSTRUCTION_LIMIT_EXCEEDED' "spin hits the limit"

# Pending versus unknown: a long message is "pending" while it waits or runs
# (several rounds of slices), then has its receipt; an id never submitted is NOT_FOUND, exit 1.
# Once the node has built the loop canister into native code, a spin can end within a few
# rounds, sooner than two client calls on a slow machine: a spin that ended before both looks
# is sent again (each later one also waits behind the earlier ones).
seen=""
for _ in $(seq 1 20); do
    sid=$("$tally" call --dir "$d" "$lid" spin --no-wait) || die "spin --no-wait"
    js=$("$tally" receipt --dir "$d" "$sid" --json) || die "receipt of a pending message"
    text=$("$tally" receipt --dir "$d" "$sid" 2>&1) || true
    if [[ $text == pending* ]]; then seen=1; break; fi
done
[ -n "$seen" ] || die "no spin was still pending after its submission (20 tries): $text"
expect_match "$js" '"pending": true' "receipt while spin runs"
expect_match "$js" '"stage": "(mempool|executing)"' "stage of a pending message"
expect_match "$text" '^pending \(no receipt yet: ' "pending text"
unknown=$(printf '%064d' 7)
if out=$("$tally" receipt --dir "$d" "$unknown" 2>&1); then die "receipt of an unknown id succeeded: $out"; fi
expect_match "$out" '^tally receipt: NOT_FOUND: unknown message' "receipt of an unknown id"
for _ in $(seq 1 2400); do
    out=$("$tally" receipt --dir "$d" "$sid" --json) || die "receipt (spin)"
    [[ $out == *'"pending": true'* ]] || break
    sleep 0.05
done
expect_match "$out" '"status_name": "INSTRUCTION_LIMIT_EXCEEDED"' "receipt of the spin after pending"

# receipt and block by id, --no-wait.
mid=$("$tally" call --dir "$d" "$cid" inc --no-wait) || die "call --no-wait"
expect_match "$mid" '^[0-9a-f]{64}$' "message id"
for _ in $(seq 1 1200); do
    out=$("$tally" receipt --dir "$d" "$mid" --json) || die "receipt"
    [[ $out == *'"pending": true'* ]] || break
    sleep 0.05
done
expect_match "$out" '"status_name": "OK"' "receipt of the --no-wait call"
h=$(printf '%s' "$out" | sed -n 's/.*"height": \([0-9]*\).*/\1/p')
out=$("$tally" block --dir "$d" "$h" --json) || die "block $h"
expect_match "$out" "$mid" "block $h lists the message"
out=$("$tally" status --dir "$d") || die "status"
expect_match "$out" 'height: [0-9]+' "status"
height=$(printf '%s' "$out" | sed -n 's/^height: //p')

stop_node
grep -q 'a message is paused' "$work/node.log" || die "the spin message never spanned rounds"

out=$("$tally" replay --dir "$d") || die "replay: $out"
expect_match "$out" "^verified $height blocks, state root [0-9a-f]{64}\$" "replay"
# The node restarts on the same directory and serves the same state.
start_node "$d"
out=$("$tally" query --dir "$d" "$cid" get) || die "query after restart"
expect_match "$out" '\(43 : nat\)' "state after restart"
stop_node
echo "e2e: ok ($height blocks)"
