#!/usr/bin/env bash
# robust.sh TALLY COUNTER.wasm CURL - the node answers bad input with proper JSON-RPC errors and
# keeps serving: malformed JSON, invalid requests, unknown methods, wrong parameter types,
# oversized bodies, bad signatures, replays, unknown canisters and methods, wrong HTTP verbs,
# JSON-RPC batches of submits (one group commit, per-submit errors), and a client that sends
# half a body and stalls (timed out after --timeout while others are served).
tally=$1 counter=$2 curl=$3
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
timeout_s=3
start_node "$d" --max-body 65536 --timeout "$timeout_s"

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
admitted=$env
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

# A JSON-RPC batch of submits is admitted in one group: good ones get their id, a replay and a
# bad signature in the same batch get their own errors, a duplicate inside the batch is a replay.
e1=$("$tally" call --dir "$d" "$cid" inc --print-envelope) || die "print-envelope e1"
e2=$("$tally" call --dir "$d" "$cid" add '(1 : nat)' --print-envelope) || die "print-envelope e2"
sub() { printf '{"jsonrpc":"2.0","method":"submit","params":{"envelope":"%s"},"id":%s}' "$1" "$2"; }
bad=${e2%?}$([ "${e2: -1}" = 0 ] && echo 1 || echo 0)
out=$(rpc "[$(sub "$e1" 1),$(sub "$admitted" 2),$(sub "$bad" 3),$(sub "$e1" 4),$(sub "$e2" 5)]")
expect_match "$out" '^200 \[\{"jsonrpc":"2.0","result":\{"message_id":"[0-9a-f]{64}"\},"id":1\}' "batch: first submit"
expect_match "$out" '"status":"MESSAGE_REPLAY"[^]]*"id":2\}' "batch: replay of an admitted message"
expect_match "$out" '"status":"BAD_SIGNATURE"[^]]*"id":3\}' "batch: bad signature"
expect_match "$out" '"status":"MESSAGE_REPLAY"[^]]*"id":4\}' "batch: duplicate inside the batch"
expect_match "$out" '"result":\{"message_id":"[0-9a-f]{64}"\},"id":5\}\]$' "batch: last submit"
[ "$(printf '%s' "$out" | grep -o '"jsonrpc"' | wc -l)" = 5 ] || die "batch: not 5 answers: $out"

# Slow clients do not block others: connections that send half a request and stall.
hostport=${url#http://}; hostport=${hostport%/}
exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" 4<>"/dev/tcp/${hostport%:*}/${hostport#*:}"
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"jsonrpc"' >&3
printf 'POST / HTT' >&4

# Slow body: headers and part of the body, then a stall. While it stalls the node
# serves others (a status and a signed call); after --timeout of silence it closes that
# connection (EOF, no answer), and it keeps serving afterwards.
exec 5<>"/dev/tcp/${hostport%:*}/${hostport#*:}"
t0=$(date +%s%N)
printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"jsonrpc":"2.0","meth' >&5
out=$(rpc '{"jsonrpc":"2.0","method":"status","id":1}')
expect_match "$out" '^200 .*"height":[0-9]+' "status while a body stalls"
out=$("$tally" call --dir "$d" "$cid" inc) || die "call while a body stalls"
expect_match "$out" '\(4 : nat\)' "call while a body stalls"
rc=0
timeout $((timeout_s + 7)) cat <&5 >"$work/stalled" || rc=$?
t1=$(date +%s%N)
[ "$rc" -ne 124 ] || die "the stalled connection was still open after $((timeout_s + 7)) s"
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -ge $((timeout_s * 1000 - 500)) ] || die "the stalled connection closed after $ms ms, before the ${timeout_s} s timeout"
[ ! -s "$work/stalled" ] || die "the node answered a half-sent body: $(head -c 200 "$work/stalled")"
exec 5>&-
out=$(rpc '{"jsonrpc":"2.0","method":"status","id":1}')
expect_match "$out" '^200 .*"height":[0-9]+' "status after the stalled connection was closed"
# The node still serves after all of that.
out=$("$tally" call --dir "$d" "$cid" inc) || die "call after the abuse"
expect_match "$out" '\(5 : nat\)' "every admitted message ran exactly once"
out=$(rpc "{\"jsonrpc\":\"2.0\",\"method\":\"canister_info\",\"params\":{\"canister\":\"$cid\"},\"id\":1}")
expect_match "$out" '"name":"inc","kind":"update"' "canister_info methods"
stop_node   # with the stalled connections still open
exec 3>&- 4>&-
echo "robust: ok"
