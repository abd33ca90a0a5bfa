#!/usr/bin/env bash
# init_schedule.sh TALLY [LOOP.wasm] - `tally init --schedule N` (docs/weights.md, "The
# schedules"): v1 is the default, 1 and 2 are accepted and reported, anything else is refused
# with UNKNOWN_SCHEDULE and leaves no node directory behind. With the loop canister, a node of
# each chain runs the same query, and the v2 chain charges more for it (v2 charges `loop` 2
# where v1 charges 0), so the schedule in the genesis is the one the node meters with.
tally=$1 loop=${2:-}
. "$(dirname "$0")/lib.sh"

# Bad values: a clear error naming the status, exit status 2, nothing created.
for bad in 0 3 99 -1 two 1.5 ""; do
    d="$work/bad"
    if out=$("$tally" init --dir "$d" --schedule "$bad" 2>&1); then die "--schedule '$bad' accepted"; fi
    expect_match "$out" "^tally init: --schedule $bad: UNKNOWN_SCHEDULE: .*known schedules are 1 to 2" \
        "error for --schedule '$bad'"
    [ ! -e "$d" ] || die "--schedule '$bad' left $d behind"
done

# Good values: the summary names the schedule; the default is v1.
for s in default 1 2; do
    d="$work/n$s"
    if [ "$s" = default ]; then out=$("$tally" init --dir "$d" --interval 10) || die "init (default)"
    else out=$("$tally" init --dir "$d" --interval 10 --schedule "$s") || die "init --schedule $s"; fi
    want=${s/default/1}
    expect_match "$out" "^initialised $d: chain 'tally-local', weight schedule v$want$" "init summary ($s)"
done

# `tally status` reports the genesis schedule.
check_status() { # DIR WANT
    local st
    st=$("$tally" status --dir "$1" --json) || die "status of $1"
    expect_match "$st" "\"schedule_version\": $2[,}]" "status of the v$2 chain"
}

[ -n "$loop" ] || { echo "no loop canister: the metering check is skipped"; exit 0; }

# The same query on a v1 and a v2 chain: the same reply, and v2 charges more.
query_count() { # DIR WANT_SCHEDULE: sets reply and count for burn_q(1000)
    local dir=$1 c out
    start_node "$dir"
    check_status "$dir" "$2"
    c=$("$tally" deploy --dir "$dir" "$loop") || die "deploy loop on $dir"
    out=$("$tally" query --dir "$dir" "${c%% *}" burn_q --u64 1000) || die "query burn_q on $dir"
    stop_node
    reply=$(printf '%s' "$out" | sed -n 's/^reply: \(0x[0-9a-f]*\).*/\1/p')
    count=$(printf '%s' "$out" | sed -n 's/.*[[ ]\([0-9][0-9]*\) instructions.*/\1/p')
    [ -n "$reply" ] && [ -n "$count" ] || die "query output of $dir: $out"
}
query_count "$work/n1" 1; r1=$reply n1=$count
query_count "$work/n2" 2; r2=$reply n2=$count
query_count "$work/ndefault" 1; nd=$count
[ "$r1" = "$r2" ] || die "the schedule changed the result: $r1 vs $r2"
[ "$n1" = "$nd" ] || die "default chain counts $nd, v1 chain $n1"
[ "$n2" -gt "$n1" ] || die "v2 chain charged $n2, not more than the v1 chain's $n1"
echo "ok: burn_q(1000) = $r1, v1 $n1 instructions, v2 $n2"
