#!/usr/bin/env bash
# replay.sh TALLY COUNTER.wasm TAMPER_BLOCK - the auditor's check end to end: a node
# directory with a few blocks built by the real `tally` (init, node, deploy, calls), stopped;
# `tally replay` verifies it (exit 0, "verified N blocks"). Copies of it with one committed block
# damaged in LMDB (its recorded state root, or its stored message) must fail the replay with
# exit 1 and "divergence at block H" naming exactly that block; the original still verifies.
tally=$1 counter=$2 tamper=$3
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
start_node "$d"
c=$("$tally" deploy --dir "$d" "$counter") || die "deploy counter"
cid=${c%% *}
heights=()
for i in 1 2 3 4; do
    out=$("$tally" call --dir "$d" "$cid" inc --json) || die "call inc $i"
    expect_match "$out" '"status_name": "OK"' "inc $i"
    heights+=("$(printf '%s' "$out" | sed -n 's/.*"height": \([0-9]*\).*/\1/p')")
done
out=$("$tally" status --dir "$d") || die "status"
height=$(printf '%s' "$out" | sed -n 's/^height: //p')
stop_node
[ "$height" -ge 5 ] || die "only $height blocks"
victim=${heights[1]} # the block of the second inc: blocks before and after it exist
[ "$victim" -gt 1 ] && [ "$victim" -lt "$height" ] || die "victim block $victim of $height"

# The untouched directory verifies (replay never writes to it).
out=$("$tally" replay --dir "$d") || die "replay of the untouched directory: $out"
expect_match "$out" "^verified $height blocks, state root [0-9a-f]{64}\$" "replay"

# A recorded state root changed: the replayed root differs at exactly that block.
cp -r "$d" "$work/root"
"$tamper" "$work/root" "$victim" root || die "tamper root"
rc=0
out=$("$tally" replay --dir "$work/root" 2>"$work/replay.err") || rc=$?
[ "$rc" -eq 1 ] || die "replay of a tampered state root exited $rc: $out $(cat "$work/replay.err")"
expect_match "$out" "^divergence at block $victim: state root: recorded [0-9a-f]{16}\.\.\. replayed [0-9a-f]{16}\.\.\.\$" \
    "divergence of a tampered state root"

# A stored message changed: it no longer verifies, the block that included it is named.
cp -r "$d" "$work/msg"
"$tamper" "$work/msg" "$victim" message || die "tamper message"
rc=0
out=$("$tally" replay --dir "$work/msg" 2>"$work/replay.err") || rc=$?
[ "$rc" -eq 1 ] || die "replay of a tampered message exited $rc: $out $(cat "$work/replay.err")"
expect_match "$out" "^divergence at block $victim: message 1 of block $victim is missing or does not verify" \
    "divergence of a tampered message"

# Replaying only the blocks before the damage still verifies them.
out=$("$tally" replay --dir "$work/root" --to $((victim - 1))) || die "replay --to: $out"
expect_match "$out" "^verified $((victim - 1)) blocks, " "replay up to the damage"
out=$("$tally" replay --dir "$d") || die "second replay of the untouched directory: $out"
expect_match "$out" "^verified $height blocks, " "the original is unchanged"
root=$(echo "$out" | sed -n 's/.*state root //p')

# --threads (signature checks) changes nothing but speed; out of 1-8 it is a usage error.
for t in 1 3 8; do
    out=$("$tally" replay --dir "$d" --threads $t) || die "replay --threads $t: $out"
    expect_match "$out" "^verified $height blocks, state root $root\$" "replay --threads $t"
done
for t in 0 9 x; do
    rc=0
    "$tally" replay --dir "$d" --threads $t >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || die "replay --threads $t exited $rc, want 2 (usage)"
done
echo "replay: ok ($height blocks, damage found at block $victim)"
