#!/usr/bin/env bash
# edges.sh TALLY COUNTER.wasm LOOP.wasm [WAT2WASM] - the rough edges a new user hit (docs/cli.md):
# errors that say what happened (--u64 abc, key show MISSING, a .wat or oversized module refused
# before sending, NOT_AUTHORIZED with a message, usage errors exit 2), per-command help, no
# silent fallbacks (query --key MISSING), outputs for scripts (message id, deploy --json,
# block --verbose, canisters, canister ID), a call that waits says what for, and debug_print
# lines that name their canister and go to DIR/debug.log.
tally=$1 counter=$2 loop=$3 wat2wasm=${4:-}
. "$(dirname "$0")/lib.sh"

exits_with() { # CODE WHAT CMD...: wants exit CODE; keeps stdout and stderr in $work/out, err
    local want=$1 what=$2; shift 2
    local rc=0
    "$@" >"$work/out" 2>"$work/err" || rc=$?
    [ "$rc" -eq "$want" ] || die "$what: exit $rc, want $want ($(cat "$work/err"))"
}

# ---- help ------------------------------------------------------------------------------------
top=$("$tally" --help)
for b in $("$tally" bench --help | sed -n '1s/^usage: tally bench \([a-z|]*\).*/\1/p' | tr '|' ' '); do
    expect_match "$top" "bench .*$b" "top-level help lists bench $b"
done
h=$("$tally" status --help)
[[ $h != *--no-wait* ]] || die "status --help lists --no-wait"
[[ $h != *--key* ]] || die "status --help lists --key"
h=$("$tally" call --help)
[[ $h == *--no-wait* ]] || die "call --help lacks --no-wait"

# ---- usage errors exit 2 ------------------------------------------------------------------
d="$work/node"
"$tally" init --dir "$d" --message-limit 2e7 --slice-limit 5e6 --interval 1000 >/dev/null \
    || die "tally init"
exits_with 2 "call without arguments" "$tally" call --dir "$d"
exits_with 2 "block abc" "$tally" block --dir "$d" abc
exits_with 2 "node --bogus" "$tally" node --dir "$d" --bogus
exits_with 2 "replay --bogus" "$tally" replay --dir "$d" --bogus
exits_with 2 "key bogus" "$tally" key bogus
exits_with 2 "call --u64 abc" "$tally" call --dir "$d" aaaaa-aaaab-aeaqa-q inc --u64 abc
expect_match "$(cat "$work/err")" '--u64 abc' "--u64 names the bad value"
exits_with 1 "key show MISSING" "$tally" key show "$work/missing.key"
expect_match "$(cat "$work/err")" 'missing.key: IO_ERROR: no such file' "key show MISSING"

# ---- a text module is refused before anything is sent (no node is running) -----------------
printf '(module (func (export "canister_update f")))\n' >"$work/m.wat"
exits_with 1 "deploy of a .wat file" "$tally" deploy --dir "$d" "$work/m.wat"
expect_match "$(cat "$work/err")" 'MALFORMED_MAGIC: .*not a WebAssembly binary.*wat2wasm' "deploy .wat hint"

start_node "$d"
# an oversized module is refused locally with the chain's limit, not IO_ERROR
head -c 9500000 /dev/zero | { printf '\0asm\1\0\0\0'; cat; } >"$work/big.wasm"
exits_with 1 "deploy of a 9.5 MB module" "$tally" deploy --dir "$d" "$work/big.wasm"
expect_match "$(cat "$work/err")" 'MESSAGE_TOO_LARGE: the signed message is [0-9]+ bytes, above the chain.s limit' "oversized deploy"

# ---- outputs for scripts ---------------------------------------------------------------------
exits_with 0 "deploy --json" "$tally" deploy --dir "$d" --json "$counter"
cid=$(sed -n 's/.*"canister": "\([a-z2-7-]*\)".*/\1/p' "$work/out")
expect_match "$cid" '^[a-z2-7]{5}-[a-z2-7]{5}-[a-z2-7]{5}-[a-z2-7]$' "deploy --json canister id"
exits_with 0 "call inc" "$tally" call --dir "$d" "$cid" inc
expect_match "$(cat "$work/out")" 'message [0-9a-f]{64}\]' "call prints the message id"
mid=$(sed -n 's/.*message \([0-9a-f]\{64\}\)\].*/\1/p' "$work/out")
exits_with 0 "block --verbose" "$tally" block --dir "$d" --verbose
expect_match "$(cat "$work/out")" "$mid update from [0-9a-f]{16}\.\.\. to $cid method 'inc'" "block --verbose"
exits_with 0 "canisters" "$tally" canisters --dir "$d"
expect_match "$(cat "$work/out")" "^$cid  running .*module [0-9a-f]{16}" "canisters"
exits_with 0 "canister ID" "$tally" canister --dir "$d" "$cid"
expect_match "$(cat "$work/out")" 'code_hash: [0-9a-f]{64}' "canister shows the module hash"
expect_match "$(cat "$work/out")" 'controllers:' "canister shows the controllers"

# ---- no silent fallback for a named key; NOT_AUTHORIZED says why ----------------------------
exits_with 1 "query --key MISSING" "$tally" query --dir "$d" --key "$work/missing.key" "$cid" get
expect_match "$(cat "$work/err")" 'no such file' "query --key MISSING"
"$tally" key new --out "$work/other.key" >/dev/null || die "key new"
exits_with 1 "upgrade by a stranger" "$tally" upgrade --dir "$d" --key "$work/other.key" "$cid" "$counter"
expect_match "$(cat "$work/err")" 'NOT_AUTHORIZED: .*not a controller' "NOT_AUTHORIZED message"
exits_with 1 "deploy by a stranger" "$tally" deploy --dir "$d" --key "$work/other.key" "$counter"
expect_match "$(cat "$work/err")" 'NOT_AUTHORIZED: only the admin key' "deploy by a stranger"

# ---- a call that waits says what for (4 slices, rounds at least 1 s apart) -----------------
l=$("$tally" deploy --dir "$d" "$loop") || die "deploy loop"
lid=${l%% *}
exits_with 1 "spin" "$tally" call --dir "$d" "$lid" spin
expect_match "$(cat "$work/err")" 'waiting for [0-9a-f]{16}\.\.\.: (executing|waiting in the mempool)' "a long call says what it waits for"

# ---- debug_print names the canister and goes to DIR/debug.log -------------------------------
if [ -n "$wat2wasm" ]; then
    cat >"$work/say.wat" <<'EOF'
(module
  (import "ic0" "debug_print" (func $print (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from say")
  (func (export "canister_update say") (call $print (i32.const 0) (i32.const 14)) (call $reply)))
EOF
    "$wat2wasm" "$work/say.wat" -o "$work/say.wasm" || die "wat2wasm"
    s=$("$tally" deploy --dir "$d" "$work/say.wasm") || die "deploy say"
    sid=${s%% *}
    "$tally" call --dir "$d" "$sid" say >/dev/null || die "call say"
    grep -q "^\[$sid\] hello from say$" "$d/debug.log" || die "debug.log: $(cat "$d/debug.log" 2>&1)"
    grep -q "debug: \[$sid\] hello from say" "$work/node.log" || die "node log lacks the debug line"
    # debug.log is bounded: 4 calls of 18 lines of 1 MiB move a full debug.log aside to debug.log.1
    cat >"$work/flood.wat" <<'EOF'
(module
  (import "ic0" "debug_print" (func $print (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory (export "memory") 17)
  (func (export "canister_update flood") (local $i i32)
    (memory.fill (i32.const 0) (i32.const 120) (i32.const 1048576))
    (loop $l (call $print (i32.const 0) (i32.const 1048576))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 18))))
    (call $reply)))
EOF
    "$wat2wasm" "$work/flood.wat" -o "$work/flood.wasm" || die "wat2wasm flood"
    s=$("$tally" deploy --dir "$d" "$work/flood.wasm") || die "deploy flood"
    for _ in 1 2 3 4; do "$tally" call --dir "$d" "${s%% *}" flood >/dev/null || die "call flood"; done
    "$tally" call --dir "$d" "$sid" say >/dev/null || die "call say after flood"
    old=$(stat -c %s "$d/debug.log.1" 2>/dev/null) || die "no debug.log.1 after 72 MiB of debug_print"
    new=$(stat -c %s "$d/debug.log")
    [ "$old" -gt $((64 << 20)) ] && [ "$old" -le $((66 << 20)) ] || die "debug.log.1 holds $old bytes"
    [ "$new" -le $((9 << 20)) ] || die "debug.log holds $new bytes after the move"
    grep -q "^\[$sid\] hello from say$" "$d/debug.log" || die "the new debug.log lacks later lines"
    rm -f "$d/debug.log.1" "$work/node.log"
fi
stop_node
echo ok
