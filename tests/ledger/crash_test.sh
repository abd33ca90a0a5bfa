#!/bin/bash
# crash_test.sh - ledger crash test: a child runs rounds continuously and is killed with
# SIGKILL at random moments N times; after each kill the ledger must open with its chain whole
# and no block the child reported committed lost; at the end, finishing the run must give the
# same tip (block hash and state root) as an uninterrupted run to the same height.
#
#   crash_test.sh DRIVER N [SEED]      DRIVER: the crash_test binary; CI uses N=20, full runs 100+
set -u
driver=${1:?usage: crash_test.sh DRIVER N [SEED]}
n=${2:?usage: crash_test.sh DRIVER N [SEED]}
RANDOM=${3:-$$}
target=$((n * 8 + 20))  # ~5 rounds commit between kills: the run outlives the kills
work=$(mktemp -d /tmp/tally-crash-XXXXXX)
trap 'rm -rf "$work"' EXIT
log=$work/committed.log
: > "$log"

die() { echo "crash_test.sh: FAIL: $*" >&2; exit 1; }

interrupted=0
for ((i = 1; i <= n; i++)); do
    "$driver" run "$work/a" "$target" "$log" &
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % 150 + 1)))"
    if kill -KILL "$pid" 2>/dev/null; then
        interrupted=$((interrupted + 1))
    fi
    wait "$pid" 2>/dev/null
    seen=$(tail -n 1 "$log")
    tip=$("$driver" check "$work/a" "${seen:-0}") ||
        die "check after kill $i (last seen ${seen:-none})"
    echo "kill $i: last seen ${seen:-none}, tip after reopen $tip"
done

"$driver" run "$work/a" "$target" "$log" || die "finishing the interrupted run"
"$driver" check "$work/a" "$target" > /dev/null || die "check of the finished run"
"$driver" run "$work/b" "$target" /dev/null || die "uninterrupted run"
a=$("$driver" root "$work/a") || die "root a"
b=$("$driver" root "$work/b") || die "root b"
echo "interrupted $interrupted of $n runs; target height $target"
echo "interrupted:   $a"
echo "uninterrupted: $b"
[ "$a" = "$b" ] || die "tips differ"
[ "$interrupted" -gt 0 ] || die "no run was ever interrupted"
echo "crash_test.sh: OK"
