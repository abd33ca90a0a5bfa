#!/usr/bin/env bash
# robust.sh TALLY COUNTER.wasm CURL - the node answers bad input with proper JSON-RPC errors and
# keeps serving: malformed JSON, invalid requests, unknown methods, wrong parameter types,
# oversized bodies, bad signatures, replays, unknown canisters and methods, wrong HTTP verbs.
tally=$1 counter=$2 curl=$3
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
start_node "$d" --max-body 65536

# rpc BODY -> prints "HTTP_CODE BODY"
rpc() {
    "$curl" -s -m 10 -o "$work/resp" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "$1" "$url" >"$work/code" || die "curl failed on: ${1:0:80}"
    printf '%s %s' "$(cat "$work/code")" "$(cat "$work/resp")"
}
# expect_error BODY CODE [STATUS]
expect_error() {
    local out
    out=$(rpc "$1")
    expect_match "$out" "\"code\":$2[,}]" "error $2 for ${1:0:60}"
    [ -z "${3:-}" ] || expect_match "$out" "\"status\":\"$3\"" "status $3 for ${1:0:60}"
}

expect_error '{"jsonrpc":"2.0","method":' -32700
expect_error 'not json at all' -32700
expect_error '' -32700
expect_error '{"jsonrpc":"1.0","method":"status","id":1}' -32600
expect_error '{"jsonrpc":"2.0","method":7,"id":1}' -32600
expect_error '{"jsonrpc":"2.0","method":"status","id":{}}' -32600
expect_error '[]' -32600
expect_error '{"jsonrpc":"2.0","method":"no_such_method","id":1}' -32601
expect_error '{"jsonrpc":"2.0","method":"status","params":[1,2],"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"block","params":{"height":"one"},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"block","params":{"height":-1},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"receipt","params":{"message_id":5},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"receipt","params":{"message_id":"abc"},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"receipt","params":{},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"submit","params":{"envelope":"zz!"},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"query","params":{"canister":"nope","method":"get"},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"query","params":{"canister":1,"method":5},"id":1}' -32602
expect_error '{"jsonrpc":"2.0","method":"block","params":{"height":99999},"id":1}' -32000 NOT_FOUND
expect_error '{"jsonrpc":"2.0","method":"submit","params":{"envelope":"00112233"},"id":1}' -32000 MALFORMED_MESSAGE

# Oversized body: HTTP 413 with a JSON-RPC error, before and after the body is read.
big=$(head -c 100000 /dev/zero | tr '\0' 'a')
out=$(rpc "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1,\"x\":\"$big\"}")
expect_match "$out" '^413 .*"code":-32600' "oversized body"

# HTTP verbs and paths.
code=$("$curl" -s -m 10 -o /dev/null -w '%{http_code}' "$url") || die "curl GET"
[ "$code" = 405 ] || die "GET answered $code, want 405"
code=$("$curl" -s -m 10 -o /dev/null -w '%{http_code}' --data '{}' "${url}other") || die "curl path"
[ "$code" = 404 ] || die "POST /other answered $code, want 404"

# Batches and notifications.
out=$(rpc '[{"jsonrpc":"2.0","method":"status","id":1},{"jsonrpc":"2.0","method":"x","id":2},{"jsonrpc":"2.0","method":"status"}]')
expect_match "$out" '^200 \[\{.*"result".*"code":-32601.*\]$' "batch"
[ "$(printf '%s' "$out" | grep -o '"jsonrpc"' | wc -l)" = 2 ] || die "batch: notification answered"
out=$(rpc '{"jsonrpc":"2.0","method":"status"}')
[ "$out" = "204 " ] || die "notification answered: $out"

# Signed messages: a bad signature, a replay, unknown canister and method.
cid=$("$tally" deploy --dir "$d" "$counter") || die "deploy"
cid=${cid%% *}
env=$("$tally" call --dir "$d" "$cid" inc --print-envelope) || die "print-envelope"
last=${env: -1}; flip=$([ "$last" = 0 ] && echo 1 || echo 0)
expect_error "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"envelope\":\"${env%?}$flip\"},\"id\":1}" -32000 BAD_SIGNATURE
expect_error "{\"jsonrpc\":\"2.0\",\"method\":\"deploy\",\"params\":{\"envelope\":\"$env\"},\"id\":1}" -32602
out=$(rpc "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"envelope\":\"$env\"},\"id\":\"a\"}")
expect_match "$out" '^200 .*"message_id":"[0-9a-f]{64}".*"id":"a"' "submit"
expect_error "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"envelope\":\"$env\"},\"id\":1}" -32000 MESSAGE_REPLAY
env=$("$tally" call --dir "$d" 999 inc --print-envelope) || die "print-envelope 999"
expect_error "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"envelope\":\"$env\"},\"id\":1}" -32000 UNKNOWN_CANISTER
env=$("$tally" call --dir "$d" "$cid" no_such --print-envelope) || die "print-envelope no_such"
expect_error "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"envelope\":\"$env\"},\"id\":1}" -32000 METHOD_NOT_FOUND
expect_error '{"jsonrpc":"2.0","method":"query","params":{"canister":999,"method":"get"},"id":1}' -32000 UNKNOWN_CANISTER
expect_error "{\"jsonrpc\":\"2.0\",\"method\":\"query\",\"params\":{\"canister\":\"$cid\",\"method\":\"nope\"},\"id\":1}" -32000 METHOD_NOT_FOUND
expect_error '{"jsonrpc":"2.0","method":"canister_info","params":{"canister":999},"id":1}' -32000 UNKNOWN_CANISTER
if out=$("$tally" call --dir "$d" "$cid" no_such 2>&1); then die "call of a missing method succeeded"; fi
expect_match "$out" 'METHOD_NOT_FOUND' "client error for a missing method"

# Slow clients do not block others: connections that send half a request and stall.
hostport=${url#http://}; hostport=${hostport%/}
exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" 4<>"/dev/tcp/${hostport%:*}/${hostport#*:}"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"jsonrpc"' >&3
printf 'POST / HTT' >&4
# The node still serves after all of that.
out=$("$tally" call --dir "$d" "$cid" inc) || die "call after the abuse"
expect_match "$out" '\(u64 2\)' "the submitted inc ran exactly once"
out=$(rpc "{\"jsonrpc\":\"2.0\",\"method\":\"canister_info\",\"params\":{\"canister\":\"$cid\"},\"id\":1}")
expect_match "$out" '"name":"inc","kind":"update"' "canister_info methods"
stop_node   # with the stalled connections still open
exec 3>&- 4>&-
echo "robust: ok"
