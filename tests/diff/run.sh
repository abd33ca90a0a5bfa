#!/bin/sh
# run.sh - differential testing of tally against wabt's interpreter:
#   tests/diff/run.sh N [SEED]
# For i = 1..N: random bytes (diff_tally --bytes, seeded by SEED and i, so a run is reproducible
# on any machine) -> binaryen's
# `wasm-opt -ttf` turns them into a valid module using only features tally supports (MVP,
# sign-extension, mutable globals, non-trapping float-to-int, bulk memory, multi-value; --denan
# so that no NaN reaches the results: NaN payloads are not portable, tally canonicalizes) ->
# diff_tally runs it in tally, metered and unmetered, and writes a wast script with tally's
# results, traps, instruction counts and log hashes -> wabt's spectest-interp runs the same
# instrumented binary and checks every assertion; trap kinds are checked here (spectest-interp
# ignores assert_trap texts).
# Environment: DIFF_TALLY (the diff_tally binary; default BUILD/tests/diff/diff_tally with
# BUILD=$TALLY_BUILD or ../build-rel), DIFF_OUT (where reproducers go; default ./diff-repro),
# DIFF_BUDGET (instructions per call, default 200000), DIFF_SIZE (random bytes per module,
# default 4096), DIFF_JOBS (parallel workers, default 1; worker j takes every J-th module).
# Prints a summary; exit status 0 iff there was no divergence.
set -eu
n=${1:?usage: run.sh N [SEED]}
seed=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
exe=${DIFF_TALLY:-${TALLY_BUILD:-$here/../../../build-rel}/tests/diff/diff_tally}
out=${DIFF_OUT:-$PWD/diff-repro}
budget=${DIFF_BUDGET:-200000}
size=${DIFF_SIZE:-4096}
jobs=${DIFF_JOBS:-1}
features="--mvp-features --enable-sign-ext --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue"
for tool in wasm-opt wat2wasm wast2json spectest-interp wasm-validate; do
    command -v $tool >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done
[ -x "$exe" ] || { echo "run.sh: no diff_tally at $exe (set DIFF_TALLY)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-diff-XXXXXX")
trap 'rm -rf "$work"' EXIT
wat2wasm "$here/fuzzing-support.wat" -o "$work/helper.wasm"

# Checks spectest-interp's "FILE:LINE: assert_trap passed: MSG" against the expected message
# that diff_tally wrote as the assert_trap text on that line. Prints mismatches.
check_traps() {
    awk 'NR == FNR { if ($0 ~ /^\(assert_(trap|uninstantiable)/) { e = $0; sub(/.*\) "/, "", e);
                     sub(/"\)$/, "", e); want[FNR] = e } next }
         /assert_(trap|uninstantiable) passed: / {
             split($0, p, ":"); line = p[2] + 0; msg = $0;
             sub(/.*passed: /, "", msg);
             if (want[line] != "" && index(msg, want[line]) != 1)
                 printf "line %d: tally trapped with \"%s\", wabt with \"%s\"\n", line, want[line], msg
         }' "$1" "$2"
}

# worker J: modules i = J+1, J+1+jobs, ... up to n; writes its counts to $work/counts.J
worker() {
modules=0 calls=0 skipped=0 invalid=0 divergences=0 traps=0
i=$(($1 + 1 - jobs))
while :; do
    i=$((i + jobs))
    [ "$i" -le "$n" ] || break
    s=$((seed * 1000003 + i))
    d=$work/m$1
    rm -rf "$d"; mkdir -p "$d"
    "$exe" --bytes "$s" "$size" "$d/in.bin"
    # shellcheck disable=SC2086
    if ! wasm-opt -ttf "$d/in.bin" $features --denan -o "$d/m.wasm" >/dev/null 2>&1 ||
       ! wasm-validate "$d/m.wasm" >/dev/null 2>&1; then
        invalid=$((invalid + 1)); continue
    fi
    modules=$((modules + 1))
    why=
    set +e
    "$exe" "$d/m.wasm" "$work/helper.wasm" "$d/t.wast" "$budget" 2> "$d/tally.txt"
    rc=$?
    set -e
    case $rc in
    0) if ! (cd "$d" && wast2json t.wast -o t.json > wast2json.txt 2>&1); then
           why="wast2json rejects tally's script"
       elif ! (cd "$d" && spectest-interp t.json > wabt.txt 2>&1); then
           why="wabt disagrees: $(grep -v 'passed' "$d/wabt.txt" | head -3 | tr '\n' ' ')"
       else
           bad=$(check_traps "$d/t.wast" "$d/wabt.txt")
           [ -z "$bad" ] || why="trap kind: $bad"
           calls=$((calls + $(grep -c '^(assert_return (invoke $w\|^(assert_trap' "$d/t.wast" || true)))
           traps=$((traps + $(grep -c '^(assert_trap' "$d/t.wast" || true)))
           grep '^(assert_trap' "$d/t.wast" | sed 's/.*) "//; s/")$//' >> "$work/traps-$1" || true
       fi;;
    4) skipped=$((skipped + 1));;
    1) why="tally metered vs unmetered: $(head -3 "$d/tally.txt" | tr '\n' ' ')";;
    3) why="tally rejects a module wabt accepts: $(cat "$d/tally.txt")";;
    *) why="diff_tally failed (exit $rc): $(head -3 "$d/tally.txt" | tr '\n' ' ')";;
    esac
    if [ -n "$why" ]; then
        divergences=$((divergences + 1))
        mkdir -p "$out"
        rm -rf "$out/seed-$s"
        cp -r "$d" "$out/seed-$s"
        echo "DIVERGENCE seed $s: $why (reproducer: $out/seed-$s)"
    fi
done
echo "$modules $calls $skipped $invalid $divergences $traps" > "$work/counts.$1"
}

j=0
while [ "$j" -lt "$jobs" ]; do
    worker "$j" &
    j=$((j + 1))
done
wait
cat "$work"/traps-* > "$work/traps.txt" 2>/dev/null || true
modules=0 calls=0 skipped=0 invalid=0 divergences=0 traps=0
j=0
while [ "$j" -lt "$jobs" ]; do
    [ -s "$work/counts.$j" ] || { echo "run.sh: worker $j stopped early" >&2; exit 2; }
    read -r a b c d e g < "$work/counts.$j"
    j=$((j + 1))
    modules=$((modules + a)) calls=$((calls + b)) skipped=$((skipped + c))
    invalid=$((invalid + d)) divergences=$((divergences + e)) traps=$((traps + g))
done
if [ -s "$work/traps.txt" ]; then
    echo "traps by kind (wabt's words; 'unreachable executed' includes running out of instructions):"
    sort "$work/traps.txt" | uniq -c | sort -rn
fi
echo "diff: $n inputs, $modules modules ($invalid not produced by wasm-opt, $skipped out of" \
     "scope), $calls calls compared ($traps traps), $divergences divergences"
[ "$divergences" -eq 0 ]
