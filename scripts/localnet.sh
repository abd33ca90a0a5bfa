#!/usr/bin/env bash
# localnet.sh - N tally validators on this machine, each a CometBFT v0.38 node with its own
# `tally abci` application and node directory (docs/replication.md "A localnet").
#
#   scripts/localnet.sh start N     configure (cometbft testnet) and start N validators
#   scripts/localnet.sh stop        stop the validators this script started
#   scripts/localnet.sh status      each validator's height and state root
#   scripts/localnet.sh test        the replication test (4 validators; time-bounded; cleans up)
#   scripts/localnet.sh bench [..]  start 4 validators, run `tally bench localnet [..]`, stop
#
# Validator i (0-based) uses 127.0.0.1 ports BASE+10i (p2p), +1 (CometBFT RPC), +2 (ABCI),
# +3 (tally JSON-RPC), BASE = $LOCALNET_PORT (default 21000). Files go to $LOCALNET_DIR
# (default ./.localnet): cometbft/nodeI (CometBFT home), nodeI/tally (tally node directory),
# nodeI/*.log and *.pid, admin.key (the genesis admin key). $TALLY is the tally binary
# (default build-gcc/cli/tally). CometBFT comes from scripts/deps-cometbft.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TALLY=${TALLY:-$ROOT/build-gcc/cli/tally}
NET=${LOCALNET_DIR:-$ROOT/.localnet}
BASE=${LOCALNET_PORT:-21000}
COMETBFT=""

die() { echo "localnet: $*" >&2; exit 1; }
log() { echo "localnet: $*" >&2; }

p2p_port() { echo $((BASE + 10 * $1)); }
crpc_port() { echo $((BASE + 10 * $1 + 1)); }
abci_port() { echo $((BASE + 10 * $1 + 2)); }
trpc_port() { echo $((BASE + 10 * $1 + 3)); }
url() { echo "http://127.0.0.1:$(trpc_port "$1")/"; }

need_cometbft() {
    [ -n "$COMETBFT" ] && return 0
    COMETBFT=$(bash scripts/deps-cometbft.sh) || return $?
}

# JSON-RPC call to validator i's tally front end; prints the response (empty on failure, after
# three tries: a loaded machine may be slow to answer).
rpc() { # i method [params-json]
    local try out
    for try in 1 2 3; do
        out=$(curl -s -m 10 -H 'Content-Type: application/json' \
            -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-{\}}}" \
            "$(url "$1")" 2>/dev/null) && [ -n "$out" ] && break
    done
    echo "$out"
}
field() { # name: the first "name":value of stdin (strings without quotes)
    grep -o "\"$1\":[^,}]*" | head -1 | sed -e "s/\"$1\"://" -e 's/"//g'
}
height() { rpc "$1" status | field height; }

# Waits (up to $3 s) until validator i's height is at least h. Returns 1 on timeout.
wait_height() { # i h seconds
    local deadline=$((SECONDS + $3)) h
    while [ $SECONDS -lt $deadline ]; do
        h=$(height "$1")
        [ -n "$h" ] && [ "$h" -ge "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

# Waits (up to $2 s) until a TCP port accepts connections.
wait_port() { # port seconds
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

configure() { # N
    local n=$1 i peers="" id pk
    need_cometbft || exit $?
    [ -x "$TALLY" ] || die "no tally binary at $TALLY (build first, or set TALLY)"
    rm -rf "$NET"
    mkdir -p "$NET"
    "$COMETBFT" testnet --v "$n" --o "$NET/cometbft" --populate-persistent-peers=false \
        >"$NET/testnet.log" 2>&1 || die "cometbft testnet failed (see $NET/testnet.log)"
    "$TALLY" key new --out "$NET/admin.key" >/dev/null || die "tally key new failed"
    pk=$("$TALLY" key show "$NET/admin.key") || die "tally key show failed"
    for ((i = 0; i < n; i++)); do
        id=$("$COMETBFT" show-node-id --home "$NET/cometbft/node$i") || die "show-node-id failed"
        peers="$peers${peers:+,}$id@127.0.0.1:$(p2p_port "$i")"
    done
    # the genesis: tally's app_state (admin key, limits: docs/replication.md "Genesis")
    local g="$NET/cometbft/node0/config/genesis.json"
    sed -i -e 's/"chain_id": "[^"]*"/"chain_id": "tally-localnet"/' \
        -e "s/\"app_hash\": \"\"/\"app_hash\": \"\",\n  \"app_state\": {\"admin_public_key\": \"$pk\", \"max_messages_per_round\": 1000}/" "$g"
    for ((i = 0; i < n; i++)); do
        local home="$NET/cometbft/node$i" cfg
        cfg="$home/config/config.toml"
        [ "$i" -gt 0 ] && cp "$g" "$home/config/genesis.json"
        sed -i -e "s#^proxy_app = .*#proxy_app = \"tcp://127.0.0.1:$(abci_port "$i")\"#" \
            -e "s#^laddr = \"tcp://127.0.0.1:26657\"#laddr = \"tcp://127.0.0.1:$(crpc_port "$i")\"#" \
            -e "s#^laddr = \"tcp://0.0.0.0:26656\"#laddr = \"tcp://127.0.0.1:$(p2p_port "$i")\"#" \
            -e "s#^persistent_peers = .*#persistent_peers = \"$peers\"#" \
            -e 's#^addr_book_strict = .*#addr_book_strict = false#' \
            -e 's#^allow_duplicate_ip = .*#allow_duplicate_ip = true#' \
            -e 's#^pex = .*#pex = false#' \
            -e 's#^max_request_batch_size = .*#max_request_batch_size = 0#' \
            -e 's#^timeout_commit = .*#timeout_commit = "300ms"#' \
            -e 's#^timeout_propose = .*#timeout_propose = "2s"#' \
            -e 's#^create_empty_blocks_interval = .*#create_empty_blocks_interval = "1s"#' \
            -e 's#^log_level = .*#log_level = "*:error,consensus:error,state:error"#' \
            -e 's#^indexer = .*#indexer = "null"#' "$cfg"
        mkdir -p "$NET/node$i"
    done
    echo "$n" >"$NET/size"
}

start_node() { # i [extra tally abci arguments...]
    local i=$1
    shift
    need_cometbft || exit $?
    local d="$NET/node$i"
    "$TALLY" abci --dir "$d/tally" --listen "tcp://127.0.0.1:$(abci_port "$i")" \
        --rpc "127.0.0.1:$(trpc_port "$i")" --cometbft-rpc "http://127.0.0.1:$(crpc_port "$i")/" \
        "$@" >>"$d/tally.log" 2>&1 &
    echo $! >"$d/tally.pid"
    wait_port "$(abci_port "$i")" 30 || die "validator $i: tally abci did not listen (see $d/tally.log)"
    "$COMETBFT" start --home "$NET/cometbft/node$i" >>"$d/cometbft.log" 2>&1 &
    echo $! >"$d/cometbft.pid"
}

# Stops validator i's processes (only the pids this script recorded) with signal $2.
stop_node() { # i [signal]
    local i=$1 sig=${2:-TERM} f pid
    for f in "$NET/node$i/cometbft.pid" "$NET/node$i/tally.pid"; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill "-$sig" "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        rm -f "$f"
    done
}

stop_all() {
    local n i
    [ -f "$NET/size" ] || return 0
    n=$(cat "$NET/size")
    for ((i = 0; i < n; i++)); do stop_node "$i" TERM; done
}

start_all() { # N
    local n=$1 i
    configure "$n"
    for ((i = 0; i < n; i++)); do start_node "$i"; done
    for ((i = 0; i < n; i++)); do
        wait_height "$i" 1 60 || die "validator $i made no block in 60 s (see $NET/node$i/*.log)"
    done
    log "$n validators up: JSON-RPC $(url 0) .. $(url $((n - 1))), admin key $NET/admin.key"
}

status_all() {
    local n i
    n=$(cat "$NET/size" 2>/dev/null) || die "no localnet in $NET"
    for ((i = 0; i < n; i++)); do
        local s
        s=$(rpc "$i" status)
        echo "validator $i: height $(echo "$s" | field height) state $(echo "$s" | field state_root | cut -c1-16)"
    done
}

# ---- the replication test ----------------------------------------------------------------------

TEST_FAILED=""
check() { # description, then a command that must succeed
    local what=$1
    shift
    if "$@"; then
        echo "localnet test: ok   $what"
    else
        echo "localnet test: FAIL $what"
        TEST_FAILED="$TEST_FAILED\n  $what"
        return 1
    fi
}
block_field() { rpc "$1" block "{\"height\":$2}" | field "$3"; }

# Every validator in $3.. has the same block hash (and so state root) as validator 0 at every
# height in [1, $1]; $2 names the check.
same_blocks() { # last-height what validators...
    local last=$1 what=$2 h v ref got
    shift 2
    for ((h = 1; h <= last; h++)); do
        ref=$(block_field 0 "$h" hash)
        [ -n "$ref" ] || { echo "  $what: validator 0 has no block $h"; return 1; }
        for v in "$@"; do
            got=$(block_field "$v" "$h" hash)
            [ "$got" = "$ref" ] || { echo "  $what: height $h: validator $v has ${got:-nothing}, validator 0 $ref"; return 1; }
        done
    done
}

min_height() { # validators...
    local m="" h v
    for v in "$@"; do
        h=$(height "$v")
        [ -n "$h" ] || h=0
        if [ -z "$m" ] || [ "$h" -lt "$m" ]; then m=$h; fi
    done
    echo "$m"
}

bench() { # nodes(list) messages [more options]
    local nodes=$1 n=$2 args=() v
    shift 2
    for v in $nodes; do args+=(--node "$(url "$v")"); done
    "$TALLY" bench localnet --key "$NET/admin.key" "${args[@]}" --messages "$n" --timeout 150 "$@"
}

run_test() {
    local t0=$SECONDS rc
    need_cometbft
    rc=$?
    if [ $rc -eq 3 ]; then
        echo "localnet test: SKIPPED: CometBFT is not installed and cannot be (no Go or no module proxy)" >&2
        echo "localnet test: SKIPPED: the replicated mode is NOT tested on this machine" >&2
        exit 77
    fi
    [ $rc -eq 0 ] || exit 1
    log "CometBFT $("$COMETBFT" version), tally $TALLY, files in $NET, ports $BASE-$((BASE + 39))"
    start_all 4

    # 1. deploy and 1,000 messages through the 4 validators; every receipt OK; counters agree
    local canister out
    out=$(bench "0 1 2 3" 1000) || { echo "$out"; check "1,000 messages through 4 validators" false; return 1; }
    echo "$out" | sed 's/^/    /'
    canister=$(echo "$out" | sed -n 's/.*canister \([a-z0-9-]*\): counter.*/\1/p')
    check "1,000 messages through 4 validators, every receipt OK, counters equal" [ -n "$canister" ] || return 1

    # 2. equal block hashes (state roots included) at every height
    local h
    h=$(min_height 0 1 2 3)
    check "equal blocks and state roots on all 4 validators at heights 1..$h" same_blocks "$h" "heights" 1 2 3 || return 1

    # 3. kill -9 validator 3 (both processes) under load: the others keep committing
    bench "0 1 2" 600 --canister "$canister" >"$NET/load.log" 2>&1 &
    local load=$! h0
    wait_height 0 $(($(height 0) + 1)) 30
    stop_node 3 KILL
    h0=$(height 0)
    log "killed validator 3 (kill -9, CometBFT and tally) at height $h0, under load"
    wait "$load"
    rc=$?
    sed 's/^/    /' "$NET/load.log"
    check "600 messages through validators 0-2 while validator 3 is down, every receipt OK" [ $rc -eq 0 ] || return 1
    check "validators 0-2 keep committing without validator 3 ($h0 -> $((h0 + 3)))" wait_height 0 $((h0 + 3)) 60 || return 1

    # 4. restart validator 3: it catches up and agrees
    local target
    start_node 3
    target=$(height 0)
    check "validator 3 restarted and caught up to height $target" wait_height 3 "$target" 120 || return 1
    check "validator 3 equals validator 0 at heights 1..$target" same_blocks "$target" "catch-up" 3 || return 1

    # 5. a validator that diverges (test-only switch) is detected; the honest ones go on
    local d
    stop_node 3 TERM
    d=$(($(height 0) + 3))
    start_node 3 --test-diverge-at "$d"
    log "validator 3 restarted with --test-diverge-at $d"
    check "validator 3 commits its own (perturbed) block $d" wait_height 3 "$d" 120 || return 1
    check "validators 0-2 go on past height $((d + 3))" wait_height 0 $((d + 3)) 60 || return 1
    local honest bad
    honest=$(block_field 0 "$d" state_root)
    bad=$(block_field 3 "$d" state_root)
    check "the state roots of block $d differ (honest ${honest:0:16}, validator 3 ${bad:0:16})" \
        [ -n "$honest" ] && [ -n "$bad" ] && [ "$honest" != "$bad" ] || return 1
    check "validator 3 cannot commit block $((d + 1)) (its app hash is not the chain's)" \
        [ "$(height 3)" = "$d" ] || return 1
    grep -h "AppHash\|app hash\|CONSENSUS FAILURE" "$NET/node3/cometbft.log" | tail -n 3 | cut -c1-300 | sed 's/^/    cometbft: /'
    check "CometBFT on validator 3 reports the app hash mismatch" \
        grep -q "wrong Block.Header.AppHash" "$NET/node3/cometbft.log" || return 1

    # 6. tally replay verifies each validator's directory; it finds the perturbed block
    stop_all
    local v
    for v in 0 1 2; do
        check "tally replay verifies validator $v's directory" \
            "$TALLY" replay --dir "$NET/node$v/tally" --threads 2 || return 1
    done
    if "$TALLY" replay --dir "$NET/node3/tally" --threads 2 >"$NET/replay3.log" 2>&1; then
        check "tally replay finds validator 3's divergence" false
        return 1
    fi
    sed 's/^/    /' "$NET/replay3.log" | tail -n 2
    check "tally replay finds validator 3's divergence at height $d" grep -q "$d" "$NET/replay3.log" || return 1
    log "passed in $((SECONDS - t0)) s"
}

# A base port for the test: the first of 21100, 21140, ... 21860 (in a random order) whose 40
# ports nothing listens on, so that two runs on one machine (a developer's and CI's) do not
# collide on fixed ports.
pick_base() {
    local b p free
    for b in $(seq 21100 40 21860 | shuf); do
        free=1
        for ((p = b; p < b + 40; p++)); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then free=""; break; fi
        done
        [ -n "$free" ] && { echo "$b"; return 0; }
    done
    echo 21100
}

test_main() {
    # bounded: a watchdog ends the test (and the trap every process it started) after TEST_TIMEOUT
    NET=${LOCALNET_DIR:-$(mktemp -d /tmp/tally-localnet-test.XXXXXX)}
    BASE=${LOCALNET_PORT:-$(pick_base)}
    local limit=${TEST_TIMEOUT:-420} me=$$
    (
        for ((i = 0; i < limit; i++)); do sleep 1; kill -0 "$me" 2>/dev/null || exit 0; done
        echo "localnet test: TIMEOUT after $limit s" >&2
        kill -TERM "$me"
    ) 2>/dev/null &
    WATCHDOG=$!
    TEST_PASSED=""
    trap 'kill "$WATCHDOG" 2>/dev/null; stop_all; [ -z "$TEST_PASSED" ] || [ -n "${LOCALNET_KEEP:-}" ] || rm -rf "$NET"' EXIT
    trap 'exit 1' TERM INT
    run_test
    local rc=$?
    if [ $rc -ne 0 ] || [ -n "$TEST_FAILED" ]; then
        echo "localnet test: FAILED:$(echo -e "$TEST_FAILED")" >&2
        local f
        for f in "$NET"/node*/tally.log "$NET"/node*/cometbft.log; do
            [ -f "$f" ] && { echo "--- $f (last lines)"; tail -n 8 "$f" | cut -c1-300; }
        done
        echo "localnet test: the validators' files stay in $NET" >&2
        exit 1
    fi
    TEST_PASSED=1
    echo "localnet test: PASSED"
}

case "${1:-}" in
start)
    [ -n "${2:-}" ] && [ "$2" -ge 1 ] && [ "$2" -le 50 ] || die "usage: localnet.sh start N (1-50)"
    start_all "$2"
    ;;
stop) stop_all ;;
status) status_all ;;
test) test_main ;;
bench)
    # 4 validators, then the peer measured in the same run: one `tally node` (no consensus)
    # with the same load through the same client
    shift
    BASE=${LOCALNET_PORT:-21500}
    SINGLE=""
    trap 'stop_all; [ -z "$SINGLE" ] || { kill "$SINGLE"; wait "$SINGLE"; }' EXIT
    start_all 4
    echo "== 4 validators (CometBFT v0.38, $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg))"
    "$TALLY" bench localnet --key "$NET/admin.key" --node "$(url 0)" --node "$(url 1)" \
        --node "$(url 2)" --node "$(url 3)" "$@" || exit 1
    stop_all
    "$TALLY" init --dir "$NET/single" --listen "127.0.0.1:$((BASE + 90))" >/dev/null || exit 1
    "$TALLY" node --dir "$NET/single" --quiet >"$NET/single.log" 2>&1 &
    SINGLE=$!
    wait_port $((BASE + 90)) 30 || die "tally node did not start (see $NET/single.log)"
    echo "== 1 tally node, the same load (load average $(cut -d' ' -f1 /proc/loadavg))"
    "$TALLY" bench localnet --key "$NET/single/admin.key" --node "http://127.0.0.1:$((BASE + 90))/" "$@"
    ;;
*)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]
    ;;
esac
