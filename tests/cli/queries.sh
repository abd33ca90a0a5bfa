#!/usr/bin/env bash
# queries.sh TALLY LOOP.wasm - the node's query workers (docs/scheduler.md "Queries"): a query
# past `--query-limit` stops with INSTRUCTION_LIMIT_EXCEEDED at exactly that limit; a client
# past its `--query-budget` (instructions per second per address) is refused with the JSON-RPC
# error QUERY_BUDGET_EXCEEDED that says when to retry, while updates go on; bad values of the
# new options are usage errors.
tally=$1 loop=$2
. "$(dirname "$0")/lib.sh"

d="$work/node"
"$tally" init --dir "$d" --interval 10 >/dev/null || die "tally init"
for bad in "--query-threads 0" "--query-threads 65" "--query-limit 0" "--query-cache 0" \
           "--query-budget x"; do
    rc=0
    # shellcheck disable=SC2086
    "$tally" node --dir "$d" --listen 127.0.0.1:0 $bad 2>/dev/null || rc=$?
    [ "$rc" -eq 2 ] || die "tally node $bad: exit $rc, want 2 (usage)"
done
[[ $("$tally" node --help) == *--query-budget* ]] || die "node --help lists --query-budget"

# A budget of 1000 instructions/s: the first query overdraws it for hours.
start_node "$d" --query-limit 50000000 --query-budget 1000 --query-threads 2
l=$("$tally" deploy --dir "$d" "$loop") || die "deploy loop"
lid=${l%% *}
out=$("$tally" query --dir "$d" "$lid" burn_q --u64 100000000 --json 2>&1) || true
expect_match "$out" 'INSTRUCTION_LIMIT_EXCEEDED' "a query past --query-limit"
expect_match "$out" '"instructions": 50000000' "a query stops at exactly --query-limit"
if out=$("$tally" query --dir "$d" "$lid" burn_q --u64 1 2>&1); then
    die "a query past the client's budget ran: $out"
fi
expect_match "$out" 'QUERY_BUDGET_EXCEEDED' "refusal past the budget"
expect_match "$out" 'retry in [0-9]+ ms' "the refusal says when to retry"
out=$("$tally" call --dir "$d" "$lid" burn --u64 1000) || die "an update while queries are refused"
stop_node

# Without a budget (0), queries keep running.
start_node "$d" --query-budget 0 --query-threads 1
for _ in 1 2 3; do
    out=$("$tally" query --dir "$d" "$lid" burn_q --u64 1000) || die "query without a budget: $out"
done
stop_node
echo "queries: ok"
