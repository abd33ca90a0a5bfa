#!/usr/bin/env bash
# demo.sh - install what is missing, build tally, then the demo (docs/getting-started.md walks
# through it): a fresh node directory in ./demo-data, a node on a free loopback port, the
# example canisters deployed over JSON-RPC, updates and queries in Candid (counter, token with an
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
    [ "$rc" -ne 0 ] && grep -Eq -- "$pat" <<<"$out" || {
        echo "demo: FAILED: '$*' should have failed with /$pat/ (exit $rc)" >&2; exit 1; }
}
# expect PATTERN: the last output must match.
expect() { grep -Eq -- "$1" <<<"$last" || { echo "demo: FAILED: want /$1/" >&2; exit 1; }; }
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

section "counter: deploy, two updates, a query (Candid text, as with dfx; its interface is in the module)"
run tally deploy counter.wasm
counter=${last%% *}
run tally canister "$counter" --candid
run tally call "$counter" inc
expect 'reply: \(1 : nat\)'
run tally call "$counter" inc
run tally query "$counter" get
expect '\(2 : nat\)'
run tally call "$counter" add '(40 : nat)'
expect '\(42 : nat\)'
run_rejected 'CANDID_TYPE_MISMATCH' tally call "$counter" add '("forty")'

section "token: a transfer to a new user, an overdraft (rejected), balances"
run tally deploy token.wasm
token=${last%% *}
run tally key new --out alice.key
run tally query "$token" whoami --key alice.key
alice=$(printf '%s' "$last" | sed -n 's/.*(principal "\([a-z0-9-]*\)").*/\1/p')
run tally query "$token" whoami
admin=$(printf '%s' "$last" | sed -n 's/.*(principal "\([a-z0-9-]*\)").*/\1/p')
run tally call "$token" transfer "(principal \"$alice\", 250 : nat)"
run_rejected 'insufficient funds' tally call "$token" transfer "(principal \"$admin\", 1000 : nat)" --key alice.key
run tally query "$token" balance "(principal \"$alice\")"
expect '\(250 : nat\)'
section "inter-canister calls: an exchange pays out of its token account by calling the token"
run tally canister "$token"
token_principal=$(printf '%s' "$last" | sed -n 's/^ *principal: *//p')
run tally deploy exchange.wasm "(principal \"$token_principal\")"
exchange=${last%% *}
run tally canister "$exchange"
exchange_principal=$(printf '%s' "$last" | sed -n 's/^ *principal: *//p')
run tally call "$token" transfer "(principal \"$exchange_principal\", 500 : nat)"
run tally call "$exchange" pay "(principal \"$alice\", 100 : nat)"
expect '\(400 : nat\)'
run_rejected 'token: insufficient funds' tally call "$exchange" pay "(principal \"$alice\", 9999 : nat)"
run tally query "$token" balance "(principal \"$alice\")"
expect '\(350 : nat\)'
run tally query "$exchange" stats
expect 'record \{ .*paid = 100 : nat'
section "the management canister aaaaa-aa: 32 random bytes (deterministic: derived from the block)"
run tally call aaaaa-aa raw_rand '()'
expect 'reply: \(blob "'

section "key-value store: put, get, count (raw bytes still work: --output hex shows the reply's bytes)"
run tally deploy kv.wasm
kv=${last%% *}
run tally call "$kv" put '("hello", "world")'
run tally query "$kv" get '("hello")'
expect '\(opt "world"\)'
run tally query "$kv" get '("nobody")'
expect '\(null\)'
run tally query "$kv" count --output hex
expect '^4449444c00017d01$'

section "a trapping call: its receipt says why, and the canister state is untouched"
run tally deploy loop.wasm
loop=${last%% *}
run_rejected 'CANISTER_CALLED_TRAP' tally call "$loop" trap

section "a runaway loop: sliced over several rounds, stopped by the message limit (2e8)"
run_rejected 'INSTRUCTION_LIMIT_EXCEEDED' tally call "$loop" spin
run tally query "$counter" get
expect '\(42 : nat\)'
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
