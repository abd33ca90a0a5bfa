#!/usr/bin/env bash
# candid.sh TALLY ECHO.wasm - Candid end to end (docs/cli.md "Candid"): a real node on a free
# loopback port; the echo canister (replies its argument) deployed with a candid:service custom
# section; Candid arguments typed by that interface, by --did, or by what the text shows;
# replies printed as Candid text with field names; --output; canister_info's "candid" field;
# the JSON-RPC "args_candid" / "reply_candid"; clear errors for bad Candid.
tally=$1 echo_wasm=$2
. "$(dirname "$0")/lib.sh"

did='type P=record{name:text;n:nat};service:{echo:(P)->(P);echo_query:(P)->(P) query}'
# a custom section: id 0, size, name, contents (every length here is below 128: one LEB byte)
name='icp:public candid:service'
section_len=$((1 + ${#name} + ${#did}))
[ "$section_len" -lt 128 ] || die "test setup: section too long for a one-byte LEB"
cp "$echo_wasm" "$work/echo.wasm"
printf "\\x00\\x$(printf %02x "$section_len")\\x$(printf %02x "${#name}")%s%s" "$name" "$did" \
    >> "$work/echo.wasm"
printf '%s\n' 'service : { echo : (text, int8) -> (text, int8) }' > "$work/other.did"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
start_node "$d"
plain=$("$tally" deploy --dir "$d" "$echo_wasm") || die "deploy echo"
pid=${plain%% *}
typed=$("$tally" deploy --dir "$d" "$work/echo.wasm") || die "deploy echo with its interface"
tid=${typed%% *}

# No interface: types from the text; the reply printed at its own types.
out=$("$tally" call --dir "$d" "$pid" echo '(42 : nat, "hi", -5, opt vec { true })') || die "call (untyped)"
expect_match "$out" '^reply: \(42 : nat, "hi", -5 : int, opt vec \{ true \}\)  \[' "untyped Candid reply"
out=$("$tally" call --dir "$d" "$pid" echo '(record { name = "x"; n = 5 })' --output candid) || die "call --output candid"
expect_match "$out" '^\(record \{ [0-9]+ = 5 : nat; [0-9]+ = "x" \}\)$' "fields by number without an interface"

# The module's interface: the argument typed by echo's parameter, the reply shows field names.
out=$("$tally" call --dir "$d" "$tid" echo '(record { n = 5; name = "x" })' --output candid) || die "call typed"
expect_match "$out" '^\(record \{ n = 5 : nat; name = "x" \}\)$' "typed reply with field names (fields in id order)"
out=$("$tally" call --dir "$d" "$tid" echo '(record { name = "x"; n = 5 })' --output hex) || die "call --output hex"
expect_match "$out" '^4449444c' "hex output"
if out=$("$tally" call --dir "$d" "$tid" echo '("x")' 2>&1); then die "a text at a record type was sent"; fi
expect_match "$out" 'CANDID_TYPE_MISMATCH' "argument that does not fit the interface"
if out=$("$tally" call --dir "$d" "$tid" echo '(record { name = "x"; n = 5 }' 2>&1); then die "unclosed Candid accepted"; fi
expect_match "$out" 'CANDID_SYNTAX: .*at byte' "syntax error with its offset"

# --did FILE overrides: (text, int8); 300 does not fit an int8.
out=$("$tally" call --dir "$d" "$pid" echo '("a", 7)' --did "$work/other.did" --output candid) || die "call --did"
expect_match "$out" '^\("a", 7 : int8\)$' "typed by --did"
if out=$("$tally" call --dir "$d" "$pid" echo '("a", 300)' --did "$work/other.did" 2>&1); then die "300 : int8 accepted"; fi
expect_match "$out" 'CANDID_TYPE_MISMATCH' "out of range for int8"
if out=$("$tally" call --dir "$d" "$pid" echo '(1)' 0x01 2>&1); then die "Candid mixed with raw pieces"; fi
expect_match "$out" 'cannot be mixed' "Candid and raw pieces"

# JSON-RPC: canister_info has the interface; receipts and queries carry reply_candid.
# A receipt's reply_candid is typed by the method's results in the canister's interface: field
# names, in the JSON and in `tally receipt` (the node types it; docs/rpc.md "receipt").
out=$("$tally" call --dir "$d" "$tid" echo '(record { name = "j"; n = 1 })' --json) || die "call --json"
expect_match "$out" '"reply_candid": "\(record \{ n = 1 : nat; name = \\"j\\" \}\)"' "reply_candid in a receipt"
mid=$("$tally" call --dir "$d" "$tid" echo '(record { name = "r"; n = 4 })' --no-wait) || die "call --no-wait"
out=$(receipt_text "$d" "$mid")
expect_match "$out" '^reply: \(record \{ n = 4 : nat; name = "r" \}\)  \[.*block [0-9]+' "tally receipt with field names"
out=$("$tally" receipt --dir "$d" "$mid" --json) || die "receipt --json"
expect_match "$out" '"reply_candid": "\(record \{ n = 4 : nat; name = \\"r\\" \}\)"' "receipt reply_candid with field names"
# Without an interface the receipt keeps the reply's own types (fields by number).
out=$("$tally" call --dir "$d" "$pid" echo '(record { name = "j"; n = 1 })' --json) || die "call --json (untyped)"
expect_match "$out" '"reply_candid": "\(record \{ [0-9]+ = 1 : nat; [0-9]+ = \\"j\\" \}\)"' "untyped reply_candid in a receipt"
out=$(curl -s -X POST -H 'Content-Type: application/json' "$url" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"canister_info\",\"params\":{\"canister\":\"$tid\"}}") \
    || die "canister_info"
expect_match "$out" '"candid": ?"type P=record' "canister_info candid"
cat > "$work/q.json" <<JSON
{"jsonrpc":"2.0","id":1,"method":"query","params":{"canister":"$tid","method":"echo_query","args_candid":"(record { name = \"q\"; n = 2 })"}}
JSON
out=$(curl -s -X POST -H 'Content-Type: application/json' "$url" --data @"$work/q.json") \
    || die "query args_candid"
expect_match "$out" '"reply_candid": ?"\(record \{ n = 2 : nat; name = \\"q\\" \}\)"' "query args_candid / reply_candid"
out=$(curl -s -X POST -H 'Content-Type: application/json' "$url" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query\",\"params\":{\"canister\":\"$tid\",\"method\":\"echo_query\",\"args_candid\":\"(7)\"}}") \
    || die "query bad args_candid"
expect_match "$out" 'args_candid: CANDID_TYPE_MISMATCH' "bad args_candid is an invalid-params error"
# a raw (hex) argument: the Candid reply is still typed by the interface
arg=4449444c016c026e7dcbe4fdc704710100060168 # (record { n = 6 : nat; name = "h" })
out=$(curl -s -X POST -H 'Content-Type: application/json' "$url" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query\",\"params\":{\"canister\":\"$tid\",\"method\":\"echo_query\",\"arg\":\"$arg\"}}") \
    || die "query with a hex argument"
expect_match "$out" '"reply_candid": ?"\(record \{ n = 6 : nat; name = \\"h\\" \}\)"' "query reply_candid typed without args_candid"
# tally canister ID --candid: the interface the module carries.
out=$("$tally" canister --dir "$d" "$tid" --candid) || die "canister --candid"
[ "$out" = "$did" ] || die "canister --candid: got '$out', want '$did'"
if out=$("$tally" canister --dir "$d" "$pid" --candid 2>&1); then die "--candid of a module without one"; fi
expect_match "$out" 'NOT_FOUND: canister .* has no Candid interface' "no interface"

# tally query: the same, from the command line.
out=$("$tally" query --dir "$d" "$tid" echo_query '(record { name = "z"; n = 3 })') || die "tally query"
expect_match "$out" '^reply: \(record \{ n = 3 : nat; name = "z" \}\)  \[' "tally query with Candid"
stop_node
echo "candid: ok"
