#!/usr/bin/env bash
# rust_counter.sh TALLY RUST_COUNTER.wasm - a canister built with the Rust CDK (ic-cdk, its
# Candid decoder and encoder; tests/canisters/rust_counter/) runs on tally as on the IC: Candid
# arguments typed by the interface it carries, `()` sent for a call without argument (the CDK
# refuses an empty message), replies printed as Candid, receipts typed by the node.
tally=$1 wasm=$2
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 --no-fees >/dev/null || die "tally init"
start_node "$d"
out=$("$tally" deploy --dir "$d" "$wasm") || die "deploy rust_counter.wasm"
cid=${out%% *}
out=$("$tally" canister --dir "$d" "$cid" --candid) || die "canister --candid"
expect_match "$out" 'set : \(nat\) -> \(\);' "the interface in the module"
out=$("$tally" call --dir "$d" "$cid" set '(42 : nat)') || die "call set"
expect_match "$out" '^reply: \(\)  \[' "set replies ()"
out=$("$tally" query --dir "$d" "$cid" get) || die "query get"
expect_match "$out" '^reply: \(42 : nat\)  \[' "query get after set 42"
out=$("$tally" query --dir "$d" "$cid" get --output candid) || die "query get --output candid"
[ "$out" = "(42 : nat)" ] || die "query get --output candid: got '$out'"
mid=$("$tally" call --dir "$d" "$cid" inc --no-wait) || die "call inc --no-wait"
out=$(receipt_text "$d" "$mid")
expect_match "$out" '^reply: \(43 : nat\)  \[' "receipt of inc"
# The CDK checks types too: a text where a nat is expected traps in its decoder (sent as raw
# bytes, since tally itself refuses '("x")' against the interface).
if out=$("$tally" call --dir "$d" "$cid" set '("x")' 2>&1); then die "set (text) was sent"; fi
expect_match "$out" 'CANDID_TYPE_MISMATCH' "tally types the argument"
if out=$("$tally" call --dir "$d" "$cid" set 0x4449444c0001710178 2>&1); then die "set (text) ran"; fi
expect_match "$out" 'CANISTER_CALLED_TRAP: .*failed to decode call arguments' "the CDK's own check"
out=$("$tally" query --dir "$d" "$cid" get --output candid) || die "query get (end)"
[ "$out" = "(43 : nat)" ] || die "query get at the end: got '$out'"
stop_node
echo "rust_counter: ok"
