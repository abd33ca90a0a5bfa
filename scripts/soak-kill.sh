#!/usr/bin/env bash
# soak-kill.sh - the kill -9 durability run (docs/reliability.md "Crash durability"); by hand,
# not part of CI:
#
#   bash scripts/soak-kill.sh [SECONDS] [TALLY] [COUNTER.wasm]
#
# Runs a node on a scratch directory and a client that keeps sending `inc` to the counter
# canister (tally call --no-wait: an answer means "durably in the mempool"), and kills the node
# with SIGKILL at random moments (0.3-2.5 s apart), restarting it each time, for SECONDS
# (default 120). Then it lets the node drain and checks every acknowledged message: found (it
# has a receipt) or lost; the counter must equal the number of incs the blocks include (nothing ran
# twice), and `tally replay` must verify the chain. Prints one summary line:
#   soak-kill: K kills in S s, A acknowledged, F found, L lost; I incs in blocks, counter C; replay ok
# and exits 0 only if L = 0, every found receipt is a reply, the counter equals the incs the
# blocks include (none ran twice) and the replay verifies.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
tally=${2:-build-gcc/cli/tally}
counter=${3:-build-gcc/tests/canisters/counter.wasm}
[ -x "$tally" ] && [ -f "$counter" ] || { echo "soak-kill: build first (need $tally and $counter)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-soak.XXXXXX")
d="$work/node" node_pid="" client_pid=""
cleanup() {
    [ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null
    [ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

start_node() {
    rm -f "$d/node.url"
    "$tally" node --dir "$d" --listen 127.0.0.1:0 --interval 20 --quiet 2>>"$work/node.log" &
    node_pid=$!
    for _ in $(seq 1 300); do
        [ -s "$d/node.url" ] && return 0
        kill -0 "$node_pid" 2>/dev/null || { echo "soak-kill: node exited at start" >&2; tail "$work/node.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "soak-kill: node did not start" >&2
    exit 1
}

"$tally" init --dir "$d" --interval 20 >/dev/null || exit 1
start_node
cid=$("$tally" deploy --dir "$d" "$counter") || { echo "soak-kill: deploy failed" >&2; exit 1; }
cid=${cid%% *}

# the client: every id printed by --no-wait was acknowledged by the node
( while :; do
      id=$("$tally" call --dir "$d" --no-wait "$cid" inc 2>/dev/null) && echo "$id" >>"$work/acked"
  done ) &
client_pid=$!

kills=0
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ]; do
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + 2.2 * r / 32767 }')"
    kill -KILL "$node_pid" 2>/dev/null
    wait "$node_pid" 2>/dev/null
    kills=$((kills + 1))
    start_node
done
kill "$client_pid" 2>/dev/null
wait "$client_pid" 2>/dev/null
client_pid=""
sleep 0.5 # the client's last call may still be in flight: it is not counted if unanswered

acked=0 found=0 ok=0
# drain: wait until the mempool is empty (every admitted message ran), at most 300 s
for _ in $(seq 1 3000); do
    "$tally" status --dir "$d" 2>/dev/null | grep -q '^mempool_size: 0$' && break
    sleep 0.1
done
if [ -f "$work/acked" ]; then
    while read -r id; do
        acked=$((acked + 1))
        out=$("$tally" receipt --dir "$d" "$id" 2>/dev/null) || continue
        case "$out" in pending*) continue ;; esac
        found=$((found + 1))
        case "$out" in reply:*) ok=$((ok + 1)) ;; esac
    done <"$work/acked"
fi
value=$("$tally" query --dir "$d" "$cid" get 2>/dev/null | sed -n 's/.*(\([0-9]*\) : nat).*/\1/p')
# every message included in a block ran exactly once: the counter must equal the number of
# incs in the blocks (acknowledged or not: a node killed after admitting a message but before
# its answer reached the client still runs it), i.e. all messages but the deploy
tip=$("$tally" status --dir "$d" 2>/dev/null | sed -n 's/^height: //p')
included=0
for h in $(seq 1 "${tip:-0}"); do
    n=$("$tally" block --dir "$d" --json "$h" 2>/dev/null | grep -c '^ *"[0-9a-f]\{64\}",\?$')
    included=$((included + n))
done
included=$((included - 1))
kill -TERM "$node_pid"
wait "$node_pid"
node_pid=""
replay=failed
"$tally" replay --dir "$d" >/dev/null 2>&1 && replay=ok
lost=$((acked - found))
echo "soak-kill: $kills kills in $secs s, $acked acknowledged, $found found, $lost lost;" \
     "$included incs in blocks, counter ${value:-?}; replay $replay"
[ "$lost" -eq 0 ] && [ "$ok" -eq "$found" ] && [ "${value:-x}" = "$included" ] && [ "$replay" = ok ]
