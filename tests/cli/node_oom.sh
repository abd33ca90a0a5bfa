#!/usr/bin/env bash
# node_oom.sh TALLY WAT2WASM - a node-local fault (the host cannot give memory) is never recorded
# as a canister outcome and never stops the node (docs/reliability.md, "node-local faults").
# Under `ulimit -v` the node cannot reserve the address space a canister's growing memory needs
# (engine/memory.c), so every round faults with OUT_OF_MEMORY: the node logs it, backs off and
# keeps serving; the message stays pending, the chain does not move. Restarted without the
# limit, the same message runs and replies. Skipped (77) where a ulimit cannot be set (ASan).
tally=$1 wat2wasm=$2
. "$(dirname "$0")/lib.sh"

limit_kb=$((3 * 1024 * 1024)) # 3 GiB: the node and its 1 GiB ledger map fit, a 4 GiB reservation not
( ulimit -v "$limit_kb" && "$tally" --help >/dev/null 2>&1 ) || { echo "SKIP: cannot run under ulimit -v"; exit 77; }

cat >"$work/grow.wat" <<'WAT'
(module (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  (func (export "canister_update grow")
    (drop (memory.grow (i32.const 60000)))
    (i32.store (i32.const 0x600000) (i32.const 1))
    (call $reply)))
WAT
"$wat2wasm" "$work/grow.wat" -o "$work/grow.wasm" || die "wat2wasm"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
start_node "$d"
c=$("$tally" deploy --dir "$d" "$work/grow.wasm") || die "deploy"
cid=${c%% *}
stop_node

( ulimit -v "$limit_kb"; exec "$tally" node --dir "$d" --listen 127.0.0.1:0 ) 2>>"$work/node.log" &
node_pid=$!
for _ in $(seq 1 100); do [ -s "$d/node.url" ] && break; sleep 0.1; done
[ -s "$d/node.url" ] || die "node under ulimit -v did not start"
height=$("$tally" status --dir "$d" --json | sed -n 's/.*"height": \([0-9]*\).*/\1/p')
id=$("$tally" call --dir "$d" "$cid" grow --no-wait) || die "call --no-wait"
for _ in $(seq 1 300); do # the old node stopped after 5 faults in a row
    grep -q 'fault 7 in a row' "$work/node.log" && break
    kill -0 "$node_pid" 2>/dev/null || die "node under ulimit -v exited"
    sleep 0.1
done
grep -q 'round failed: OUT_OF_MEMORY: .*node-local fault 7 in a row: nothing recorded' \
    "$work/node.log" || die "no repeated OUT_OF_MEMORY fault in the log"
kill -0 "$node_pid" 2>/dev/null || die "node stopped after the faults"
out=$("$tally" status --dir "$d" --json) || die "status while faulting"
expect_match "$out" "\"height\": $height[,}]" "height while faulting (nothing recorded)"
out=$("$tally" receipt --dir "$d" "$id") || die "receipt while faulting"
expect_match "$out" '^pending' "the message is not given an outcome"
stop_node

start_node "$d" # memory back: the same message now runs
for _ in $(seq 1 100); do
    out=$("$tally" receipt --dir "$d" "$id" 2>&1) || true
    case "$out" in pending*) sleep 0.1 ;; *) break ;; esac
done
expect_match "$out" 'reply' "the message after the restart"
stop_node
echo "ok: faults under ulimit -v recorded nothing, the node kept serving, and recovered"
