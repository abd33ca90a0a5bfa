#!/usr/bin/env bash
# harden.sh TALLY COUNTER.wasm - the node directory's safety (docs/reliability.md, issue items
# "ledger", "init --force", "files", "--interval 0" and the rough edges of a new user): a cut
# data.mdb is CORRUPT_LEDGER (not SIGBUS), a tampered tip stops the node, `node --verify`;
# init refuses a running node's directory and --force moves the old ledger aside; node.url is
# never written through a planted symlink; a directory others can write to is refused; an
# idle node with --interval 0 does not spin; no debris from commands on a missing directory;
# replay's range errors and an empty chain's root; clients refuse another chain's node.
tally=$1 counter=$2
. "$(dirname "$0")/lib.sh"

# exits_with CODE WHAT CMD...: runs CMD, wants exit CODE (a signal would be 128+N), keeps stderr
exits_with() {
    local want=$1 what=$2; shift 2
    local rc=0
    "$@" >"$work/out" 2>"$work/err" || rc=$?
    [ "$rc" -eq "$want" ] || die "$what: exit $rc, want $want ($(cat "$work/err"))"
}

# ---- no debris, missing directories, usage errors --------------------------------------------
exits_with 1 "node on a missing directory" "$tally" node --dir "$work/none" --listen 127.0.0.1:0
expect_match "$(cat "$work/err")" 'no such directory' "node on a missing directory"
exits_with 1 "replay of a missing directory" "$tally" replay --dir "$work/none"
expect_match "$(cat "$work/err")" 'no such directory' "replay of a missing directory"
exits_with 1 "status with a missing --dir" "$tally" status --dir "$work/none"
expect_match "$(cat "$work/err")" 'no such directory' "status with a missing --dir"
[ ! -e "$work/none" ] || die "a command on a missing directory created it"
mkdir "$work/empty"
exits_with 1 "node before init" "$tally" node --dir "$work/empty" --listen 127.0.0.1:0
expect_match "$(cat "$work/err")" 'NO_GENESIS.*tally init' "node before init"
[ -z "$(ls -A "$work/empty")" ] || die "node before init left files: $(ls -A "$work/empty")"
exits_with 2 "init --message-limit abc" "$tally" init --dir "$work/x" --message-limit abc
expect_match "$(cat "$work/err")" '^tally init: --message-limit abc: ' "init names the option"
[ ! -e "$work/x" ] || die "a refused init created its directory"
exits_with 2 "init with a bad genesis field" "$tally" init --dir "$work/x" --max-message-bytes 10
expect_match "$(cat "$work/err")" 'BAD_GENESIS: max_message_bytes' "BAD_GENESIS names the field"
exits_with 2 "init with an empty chain id" "$tally" init --dir "$work/x" --chain-id ""
expect_match "$(cat "$work/err")" 'BAD_GENESIS: chain_id' "BAD_GENESIS names the chain id"
[ ! -e "$work/x" ] || die "a refused init created its directory"

# ---- replay of an empty chain, range errors --------------------------------------------------
d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
g0=$(sed -n 's/.*"genesis_hash": "\([0-9a-f]*\)".*/\1/p' "$d/node.json")
[ ${#g0} -eq 64 ] || die "node.json has no genesis hash"
exits_with 0 "replay of an empty chain" "$tally" replay --dir "$d"
expect_match "$(cat "$work/out")" '^verified 0 blocks, state root [0-9a-f]{64}$' "empty replay"
grep -q 'state root 0000000000000000' "$work/out" && die "empty replay printed a zero root"
exits_with 2 "replay --to past the tip" "$tally" replay --dir "$d" --to 5
exits_with 2 "replay --from above --to" "$tally" replay --dir "$d" --from 3 --to 2

# ---- a node, then init on its directory ---------------------------------------------------
start_node "$d" --interval 0
c=$("$tally" deploy --dir "$d" "$counter") || die "deploy counter"
cid=${c%% *}
"$tally" call --dir "$d" "$cid" inc >/dev/null || die "call inc"
exits_with 1 "init --force on a running node" "$tally" init --dir "$d" --force
expect_match "$(cat "$work/err")" 'a node is running' "init --force refused"
[ -s "$d/data.mdb" ] || die "init --force removed the running node's ledger"

# --interval 0 and idle: CPU time over 3 s of wall time stays small (it spun at 100%)
ticks() { awk '{print $14 + $15}' "/proc/$node_pid/stat"; }
t0=$(ticks); sleep 3; t1=$(ticks)
hz=$(getconf CLK_TCK)
[ $(((t1 - t0) * 1000 / hz)) -lt 300 ] || die "idle node with --interval 0 used $(((t1 - t0) * 1000 / hz)) ms of CPU in 3 s"

# a client whose directory belongs to another chain refuses the node (same URL)
"$tally" init --dir "$work/other" --chain-id other >/dev/null || die "init other"
cp "$d/node.url" "$work/other/node.url"
exits_with 1 "status against another chain's node" "$tally" status --dir "$work/other"
expect_match "$(cat "$work/err")" 'GENESIS_MISMATCH' "chain mismatch"
exits_with 0 "status of the right chain" "$tally" status --dir "$d"
expect_match "$(cat "$work/out")" "genesis_hash: $g0" "status shows the genesis hash"
stop_node

# ---- node.url: a planted symlink is replaced, its target untouched -------------------------
echo secret >"$work/target"
ln -sf "$work/target" "$d/node.url"
start_node "$d"
[ "$(cat "$work/target")" = secret ] || die "the node wrote through a node.url symlink"
[ ! -L "$d/node.url" ] || die "node.url is still a symlink"
stop_node

# ---- init --force moves the old ledger aside and says where ----------------------------------
exits_with 0 "init --force on a stopped node" "$tally" init --dir "$d" --force
expect_match "$(cat "$work/out")" "moved the old ledger .* to $d/replaced-1" "init --force says where"
[ -s "$d/replaced-1/data.mdb" ] && [ -s "$d/replaced-1/admin.key" ] || die "old ledger not kept"
mv "$d" "$work/fresh" && mv "$work/fresh/replaced-1" "$d" # back to the chain with blocks

# ---- a directory writable by others is refused -------------------------------------------------
chmod o+w "$d"
exits_with 1 "node on a world-writable directory" "$tally" node --dir "$d" --listen 127.0.0.1:0
expect_match "$(cat "$work/err")" 'writable by other users' "world-writable refusal"
chmod o-w "$d"

# ---- the ledger: verify, a tampered tip, a cut data.mdb ------------------------------------
start_node "$d" --verify
grep -q 'verified [0-9]* blocks and [0-9]* state tree nodes' "$work/node.log" || die "--verify said nothing"
stop_node
cp -r "$d" "$work/cut"
size=$(stat -c %s "$work/cut/data.mdb")
truncate -s $((size / 2)) "$work/cut/data.mdb"
exits_with 1 "node on a cut data.mdb" "$tally" node --dir "$work/cut" --listen 127.0.0.1:0
expect_match "$(cat "$work/err")" 'CORRUPT_LEDGER: .*data.mdb.*cut short' "node on a cut ledger"
exits_with 1 "replay of a cut data.mdb" "$tally" replay --dir "$work/cut"
expect_match "$(cat "$work/err")" 'CORRUPT_LEDGER' "replay of a cut ledger"
# a storage error names the directory and the system's reason, not only "LMDB storage error"
cp -r "$d" "$work/badlock"
rm -f "$work/badlock/lock.mdb" && mkdir "$work/badlock/lock.mdb"
exits_with 1 "node with lock.mdb a directory" "$tally" node --dir "$work/badlock" --listen 127.0.0.1:0
expect_match "$(cat "$work/err")" "LMDB_ERROR: $work/badlock: env open: Is a directory" "storage error detail"
echo "ok"
