#!/usr/bin/env bash
# rpc_limits.sh TALLY CURL - the node's HTTP limits (docs/rpc.md "Limits"): 300 idle
# connections from one address (127.0.0.1) do not lock out a client from another (127.0.0.2:
# the whole 127/8 is loopback); two different Content-Length headers get 400; a request whose
# headers take longer than --request-deadline is refused with 408 even though bytes keep coming.
tally=$1 curl=$2
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
start_node "$d" --request-deadline 2 --timeout 60
hostport=${url#http://}
hostport=${hostport%/}
host=${hostport%:*} port=${hostport##*:}
trap "" PIPE # writes to connections the node closed (over the per-address limit) must not kill us
status_body='{"jsonrpc":"2.0","method":"status","id":1}'

# raw HTTP over bash's /dev/tcp: raw_request TEXT -> the answer's status line
raw_request() {
    local fd
    exec {fd}<>"/dev/tcp/$host/$port"
    printf '%b' "$1" >&"$fd"
    local line=""
    IFS= read -r -t 30 line <&"$fd" || true
    exec {fd}<&-
    printf '%s' "${line%$'\r'}"
}

# ---- two Content-Length headers ----------------------------------------------------------
len=${#status_body}
line=$(raw_request "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\nContent-Length: 2\r\nConnection: close\r\n\r\n$status_body")
expect_match "$line" '^HTTP/1\.1 400' "two Content-Length headers"
line=$(raw_request "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: $len\r\nContent-Length: $len\r\nConnection: close\r\n\r\n$status_body")
expect_match "$line" '^HTTP/1\.1 200' "two equal Content-Length headers"

# ---- the header deadline: a request line, then a header byte after the deadline ------------
exec {slow}<>"/dev/tcp/$host/$port"
printf 'POST / HTTP/1.1\r\nHost: x\r\n' >&"$slow"
sleep 3 # longer than --request-deadline 2: the deadline is what this checks
printf 'Content-Length: %d\r\nConnection: close\r\n\r\n%s' "$len" "$status_body" >&"$slow" || true
line=""
IFS= read -r -t 30 line <&"$slow" || true
exec {slow}<&-
expect_match "$line" '^HTTP/1\.1 408' "a request past its deadline"

# ---- 300 idle connections from 127.0.0.1, a client from 127.0.0.2 --------------------------
fds=()
for _ in $(seq 1 300); do
    exec {fd}<>"/dev/tcp/$host/$port" || break
    printf 'POST / HTTP/1.1\r\nHost: x\r\n' >&"$fd" 2>/dev/null || true
    fds+=("$fd")
done
[ ${#fds[@]} -ge 100 ] || die "could only open ${#fds[@]} connections"
out=$("$curl" -sS --max-time 30 --interface 127.0.0.2 -X POST -H 'Content-Type: application/json' \
    --data "$status_body" "$url" 2>&1) || die "a client from 127.0.0.2 was locked out: $out"
expect_match "$out" '"height"' "status from another address"
for fd in "${fds[@]}"; do exec {fd}<&-; done
stop_node
echo ok
