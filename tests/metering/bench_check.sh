#!/bin/bash
# bench_check.sh - the metering cross-check on the benchmark programs (docs/metering.md
# "How it is tested"): for each BENCH.wasm,
#   1. `tally instrument` it; wabt's wasm-validate must accept the result;
#   2. `tally run` the original and the instrumented module (--budget B): same result, and
#      tally reports the instructions used, U;
#   3. run the instrumented module in wabt's spectest-interp through a wrapper module that sets
#      `__tally_counter` to B, calls `run` and returns B minus the counter: it must equal U, and
#      `run` must return the same result there too. `__tally.out_of_instructions` traps in wabt
#      (with B = 10^15 it is never reached).
#
#   bench_check.sh TALLY WAT2WASM WASM2WAT WASM_VALIDATE SPECTEST_INTERP OUT_DIR BENCH.wasm...
#
# Prints one line per program and "benches: N/N agree"; exits 1 on any disagreement.
set -u

[ $# -ge 7 ] || { echo "usage: bench_check.sh TALLY WAT2WASM WASM2WAT WASM_VALIDATE" \
                       "SPECTEST_INTERP OUT_DIR BENCH.wasm..." >&2; exit 2; }
tally=$1 wat2wasm=$2 wasm2wat=$3 validate=$4 interp=$5 out=$6
shift 6
budget=1000000000000000

mkdir -p "$out" || exit 2
printf '(module (func (export "out_of_instructions") unreachable))\n' > "$out/__tally.wat"
"$wat2wasm" "$out/__tally.wat" -o "$out/__tally.wasm" || exit 2

# The result type of export `run` of $1 (i32 or i64), from wasm2wat's text.
run_type() {
    local wat idx pat
    wat=$("$wasm2wat" "$1") || return 1
    idx=$(printf '%s\n' "$wat" | sed -n 's/.*(export "run" (func \([^)]*\))).*/\1/p')
    case $idx in
        '') return 1 ;;
        \$*) pat="(func $idx " ;;
        *) pat="(func (;$idx;) " ;;
    esac
    printf '%s\n' "$wat" | grep -F "$pat" | sed -n 's/.*(result \(i[36][24]\))$/\1/p'
}

# Unsigned decimal of tally's signed decimal output $2 for type $1 (the JSON's format).
unsigned_of() {
    if [ "$1" = i32 ]; then
        echo $(( $2 < 0 ? $2 + 4294967296 : $2 ))
    else
        printf '%u\n' "$2"
    fi
}

# Checks one program; prints its line; returns non-zero on any disagreement.
check_one() {
    local wasm=$1 name d t r0 r1 used ur got
    name=$(basename "$wasm" .wasm)
    d=$out/$name
    mkdir -p "$d" && cp "$out/__tally.wasm" "$d/"
    "$tally" instrument "$wasm" -o "$d/$name.metered.wasm" ||
        { echo "FAIL $name: tally instrument failed"; return 1; }
    "$validate" "$d/$name.metered.wasm" ||
        { echo "FAIL $name: wasm-validate rejects the instrumented module"; return 1; }
    t=$(run_type "$wasm")
    [ "$t" = i32 ] || [ "$t" = i64 ] ||
        { echo "FAIL $name: export run must return i32 or i64 (got '$t')"; return 1; }
    r0=$("$tally" run "$wasm") || { echo "FAIL $name: tally run (original) failed"; return 1; }
    r1=$("$tally" run "$d/$name.metered.wasm" --budget $budget 2> "$d/tally.err") ||
        { echo "FAIL $name: tally run (instrumented) failed: $(cat "$d/tally.err")"; return 1; }
    used=$(sed -n 's/^instructions: \([0-9]*\)$/\1/p' "$d/tally.err")
    [ "$r0" = "$r1" ] ||
        { echo "FAIL $name: instrumented result $r1, original $r0"; return 1; }
    [ -n "$used" ] || { echo "FAIL $name: tally run printed no instruction count"; return 1; }
    cat > "$d/wrapper.wat" <<WAT
(module
  (import "m" "__tally_counter" (global \$c (mut i64)))
  (import "m" "run" (func \$run (result $t)))
  (global \$r (mut $t) ($t.const 0))
  (func (export "used") (result i64)
    (global.set \$c (i64.const $budget))
    (global.set \$r (call \$run))
    (i64.sub (i64.const $budget) (global.get \$c)))
  (func (export "result") (result $t) (global.get \$r)))
WAT
    "$wat2wasm" "$d/wrapper.wat" -o "$d/wrapper.wasm" || return 1
    ur=$(unsigned_of "$t" "$r0")
    cat > "$d/$name.json" <<JSON
{"source_filename": "$name.wasm",
 "commands": [
  {"type": "module", "line": 1, "filename": "__tally.wasm"},
  {"type": "register", "line": 1, "as": "__tally"},
  {"type": "module", "line": 2, "filename": "$name.metered.wasm"},
  {"type": "register", "line": 2, "as": "m"},
  {"type": "module", "line": 3, "filename": "wrapper.wasm"},
  {"type": "assert_return", "line": 4, "action": {"type": "invoke", "field": "used", "args": []}, "expected": [{"type": "i64", "value": "$used"}]},
  {"type": "assert_return", "line": 5, "action": {"type": "invoke", "field": "result", "args": []}, "expected": [{"type": "$t", "value": "$ur"}]}]}
JSON
    got=$("$interp" "$d/$name.json" 2>&1)
    if ! printf '%s\n' "$got" | grep -qx '5/5 tests passed\.'; then
        echo "FAIL $name: wabt disagrees (tally: result $r0, $used instructions):"
        printf '%s\n' "$got" | grep -v 'passed' | head -5
        return 1
    fi
    echo "ok   $name: result $r0, $used instructions in tally and in wabt"
}

n=0 ok=0
for wasm in "$@"; do
    n=$((n + 1))
    check_one "$wasm" && ok=$((ok + 1))
done
echo "benches: $ok/$n agree (instrumented: valid, same result, same instructions in tally and wabt)"
[ "$n" -gt 0 ] && [ "$ok" -eq "$n" ]
