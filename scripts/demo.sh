#!/usr/bin/env bash
# demo.sh - install what is missing, build tally, then the demo (docs/getting-started.md walks
# through it): a fresh node directory in ./demo-data, a node on a free loopback port, the
# example canisters deployed over JSON-RPC, updates and queries (counter, token with an
# overdraft, an exchange calling the token, the management canister, key-value store), a trapping call and a runaway loop that hits the instruction
# limit across several rounds, SIGTERM, then an offline replay that verifies every block.
# Prints each command and its result; exits non-zero if any step does not do what it should.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/deps.sh
dir=${TALLY_BUILD_DIR:-build-gcc}   # TALLY_BUILD_DIR: another build directory (absolute or relative)
opts="-Doptimization=2 -Ddebug=false -Db_ndebug=false" # as scripts/test.sh's build-gcc: no rebuild
# shellcheck disable=SC2086
if [ -d "$dir" ]; then CC=gcc meson setup --reconfigure "$dir" $opts >/dev/null
else CC=gcc meson setup "$dir" $opts >/dev/null; fi
log=$(mktemp)
# Only what the demo needs: the tally command and the example canisters.
if ! ninja -C "$dir" -j2 cli/tally tests/canisters/{counter,token,kv,loop,exchange}.wasm >"$log" 2>&1; then
    tail -n 40 "$log" >&2; rm -f "$log"; echo "demo: FAILED: the build failed" >&2; exit 1
fi
rm -f "$log"
case $dir in /*) bdir=$dir ;; *) bdir=$root/$dir ;; esac
export PATH="$bdir/cli:$PATH"
for c in counter token kv loop exchange; do
    [ -f "$bdir/tests/canisters/$c.wasm" ] || {
        echo "demo: $dir/tests/canisters/$c.wasm was not built (clang with the wasm32 target and lld are needed)" >&2
        exit 1
    }
done

# A fresh node directory: ./demo-data/.tally (git ignores demo-data/).
data="$root/demo-data"
rm -rf "$data"
mkdir -p "$data"
cd "$data"
for c in counter token kv loop exchange; do ln -s "$bdir/tests/canisters/$c.wasm" "$c.wasm"; done
node_pid=""
trap '[ -z "$node_pid" ] || kill -KILL "$node_pid" 2>/dev/null || true' EXIT

n=0
section() { n=$((n + 1)); printf '\n== %d. %s\n' "$n" "$*"; }
# run CMD...: shows the command and its output; the demo stops if it fails.
run() {
    printf '$ %s\n' "$*"
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /'
    [ "$rc" -eq 0 ] || { echo "demo: FAILED: '$*' exited with $rc" >&2; exit 1; }
    last=$out
}
# run_rejected PATTERN CMD...: the command must fail with output matching PATTERN.
run_rejected() {
    local pat=$1; shift
    printf '$ %s\n' "$*"
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    printf '%s\n' "$out" | sed 's/^/  /'
    [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -Eq -- "$pat" || {
        echo "demo: FAILED: '$*' should have failed with /$pat/ (exit $rc)" >&2; exit 1; }
}
# expect PATTERN: the last output must match.
expect() { printf '%s' "$last" | grep -Eq -- "$1" || { echo "demo: FAILED: want /$1/" >&2; exit 1; }; }
reply_hex() { printf '%s' "$last" | sed -n 's/.*"reply": "\([0-9a-f]*\)".*/\1/p'; }

echo "tally demo: $(tally --version), in $data"

section "a fresh node: small limits so that a long message visibly spans rounds"
run tally init --chain-id demo --message-limit 2e8 --slice-limit 5e7 --interval 50

section "start the node in the background (port 0: the system picks a free port)"
printf '$ tally node --listen 127.0.0.1:0 2>node.log &\n'
tally node --listen 127.0.0.1:0 2>node.log &
node_pid=$!
for _ in $(seq 1 100); do [ -s .tally/node.url ] && break; sleep 0.1; done
[ -s .tally/node.url ] || { echo "demo: FAILED: the node did not start" >&2; cat node.log >&2; exit 1; }
printf '  serving on %s\n' "$(cat .tally/node.url)"
run tally status
expect 'height: 0'

section "counter: deploy, two updates, a query"
run tally deploy counter.wasm
counter=${last%% *}
run tally call "$counter" inc
run tally call "$counter" inc
run tally query "$counter" get
expect '\(u64 2\)'
run tally call "$counter" add --u64 40
expect '\(u64 42\)'

section "token: a transfer to a new user, an overdraft (rejected), balances"
run tally deploy token.wasm
token=${last%% *}
run tally key new --out alice.key
run tally query "$token" whoami --json
admin_acct=$(reply_hex)
run tally query "$token" whoami --key alice.key --json
alice_acct=$(reply_hex)
run tally call "$token" transfer "0x$alice_acct" --u64 250
run_rejected 'insufficient funds' tally call "$token" transfer "0x$admin_acct" --u64 1000 --key alice.key
run tally query "$token" balance "0x$alice_acct"
expect '\(u64 250\)'
section "inter-canister calls: an exchange pays out of its token account by calling the token"
run tally status --json
token_num=$(( $(printf '%s' "$last" | sed -n 's/.*"next_canister_id": \([0-9]*\).*/\1/p') - 1 ))
run tally deploy exchange.wasm --u64 "$token_num"
exchange=${last%% *}
run tally status --json
exchange_num=$(( $(printf '%s' "$last" | sed -n 's/.*"next_canister_id": \([0-9]*\).*/\1/p') - 1 ))
# token.c's account of a canister: [10] ++ its principal (8-byte big-endian id, 01 01) ++ zeros
exchange_acct=$(printf '0a%016x0101%042d' "$exchange_num" 0)
run tally call "$token" transfer "0x$exchange_acct" --u64 500
run tally call "$exchange" pay "0x$alice_acct" --u64 100
expect '\(u64 400\)'
run_rejected 'token: insufficient funds' tally call "$exchange" pay "0x$alice_acct" --u64 9999
run tally query "$token" balance "0x$alice_acct"
expect '\(u64 350\)'
run tally query "$exchange" stats
section "the management canister aaaaa-aa: 32 random bytes (deterministic: derived from the block)"
run tally call aaaaa-aa raw_rand 0x4449444c0000
expect '4449444c016d7b0100'

section "key-value store: put (u32 key length, key, value), get, count"
run tally deploy kv.wasm
kv=${last%% *}
run tally call "$kv" put 0x05000000 hello world
run tally query "$kv" get hello
expect '"world"'
run tally query "$kv" count
expect '\(u64 1\)'

section "a trapping call: its receipt says why, and the canister state is untouched"
run tally deploy loop.wasm
loop=${last%% *}
run_rejected 'CANISTER_CALLED_TRAP' tally call "$loop" trap

section "a runaway loop: sliced over several rounds, stopped by the message limit (2e8)"
run_rejected 'INSTRUCTION_LIMIT_EXCEEDED' tally call "$loop" spin
run tally query "$counter" get
expect '\(u64 42\)'
run tally status

section "stop the node (SIGTERM: it finishes the round, closes the ledger, exits 0)"
printf '$ kill -TERM %s; wait\n' "$node_pid"
kill -TERM "$node_pid"
rc=0
wait "$node_pid" || rc=$?
node_pid=""
[ "$rc" -eq 0 ] || { echo "demo: FAILED: the node exited with $rc" >&2; exit 1; }
echo "  node log (last lines):"
tail -n 8 node.log | sed 's/^/    /'
grep -q 'a message is paused' node.log || { echo "demo: FAILED: no message spanned rounds" >&2; exit 1; }

section "audit: replay every block from genesis and compare the roots"
run tally replay
expect '^verified [0-9]+ blocks, state root [0-9a-f]{64}$'
echo
echo "demo: done (node directory: demo-data/.tally; see docs/getting-started.md)"
