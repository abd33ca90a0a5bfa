#!/bin/sh
# spec_check.sh - the metering cross-check on the official testsuite (docs/metering.md
# "How it is tested"):
#   1. spec_runner --instrument runs every script of CORE_DIR on instrumented modules in tally's
#      VM (all original assertions must pass) and writes OUT_DIR/NAME/NAME.json, the same script
#      for wabt with an assert_return on `__tally_counter` after every instantiation and invoke;
#   2. wabt's wasm-validate must accept every module written there (the instrumented ones and
#      the `__tally` stub);
#   3. wabt's spectest-interp must pass every one of those scripts completely ("N/N tests
#      passed"): same results, same traps, and the same counter values as in tally.
#
#   spec_check.sh SPEC_RUNNER CORE_DIR JSON_DIR OUT_DIR WASM_VALIDATE SPECTEST_INTERP
#
# Exits 0 if all three hold, 1 otherwise (2 on bad arguments), with a summary of the numbers.
set -u

[ $# -eq 6 ] || { echo "usage: spec_check.sh SPEC_RUNNER CORE_DIR JSON_DIR OUT_DIR" \
                       "WASM_VALIDATE SPECTEST_INTERP" >&2; exit 2; }
runner=$1 core=$2 json=$3 out=$4 validate=$5 interp=$6
[ -n "$out" ] && [ "$out" != / ] || exit 2
status=0

rm -rf "$out"
mkdir -p "$out" || exit 2
"$runner" --instrument "$out" "$core" "$json" > "$out/spec_runner.txt" 2>&1
rc=$?
grep '^FAIL' "$out/spec_runner.txt" | head -20
grep -E '^(metering:|[0-9]+ passed)' "$out/spec_runner.txt"
if [ $rc -ne 0 ]; then
    echo "FAIL: spec_runner --instrument exited $rc (full output: $out/spec_runner.txt)"
    tail -3 "$out/spec_runner.txt"
    exit 1
fi

# 2. wasm-validate, two at a time.
find "$out" -name '*.wasm' > "$out/modules.txt"
nmod=$(wc -l < "$out/modules.txt")
bad=$(xargs -P 2 -n 1 sh -c '"$0" "$1" > /dev/null 2>&1 || echo "$1"' "$validate" \
      < "$out/modules.txt")
if [ -n "$bad" ]; then
    echo "FAIL: wasm-validate rejects:"
    echo "$bad" | head -20
    status=1
fi
echo "wasm-validate: $(( nmod - $(printf '%s' "$bad" | grep -c .) ))/$nmod modules valid"

# 3. spectest-interp on every script.
nscripts=0 okscripts=0 passed=0 total=0
for dir in "$out"/*/; do
    name=$(basename "$dir")
    [ -f "$dir/$name.json" ] || continue
    nscripts=$((nscripts + 1))
    "$interp" "$dir/$name.json" > "$dir/spectest-interp.txt" 2>&1
    last=$(tail -n 1 "$dir/spectest-interp.txt")
    p=$(echo "$last" | sed -n 's|^\([0-9]*\)/\([0-9]*\) tests passed\.$|\1|p')
    t=$(echo "$last" | sed -n 's|^\([0-9]*\)/\([0-9]*\) tests passed\.$|\2|p')
    if [ -n "$p" ] && [ "$p" = "$t" ] && [ "$t" -gt 0 ]; then
        okscripts=$((okscripts + 1))
    else
        echo "FAIL $name: spectest-interp: $last"
        grep -iE 'fail|error|expected' "$dir/spectest-interp.txt" | head -5
        status=1
    fi
    passed=$((passed + ${p:-0}))
    total=$((total + ${t:-0}))
done
echo "spectest-interp: $okscripts/$nscripts scripts pass completely; $passed/$total tests passed"
[ "$nscripts" -gt 0 ] || status=1
exit $status
