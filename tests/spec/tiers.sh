#!/bin/sh
# tiers.sh - the compiled tier against the interpreter on the whole spec testsuite (docs/engine.md
# "How the tiers are compared"):
#   tiers.sh SPEC_RUNNER CORE_DIR JSON_DIR OUT_DIR
# Runs every script twice on instrumented modules (spec_runner --instrument): once in the
# interpreter, once with every module in the compiled tier (objects cached in $TALLY_TIER_CACHE,
# else OUT_DIR/cache).
# Both runs must pass every assertion, and the scripts they write (every result and every
# counter value after each instantiation and invoke) must be identical. A missing C compiler is
# a failure here, never a skip.
set -eu
runner=$1 core=$2 json=$3 out=$4
rm -rf "$out/interp" "$out/compiled"
cache=${TALLY_TIER_CACHE:-$out/cache}
mkdir -p "$out" "$cache"
cc=${TALLY_CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "tiers.sh: FAIL: no C compiler ($cc): the compiled tier cannot be tested" >&2
    exit 1
fi
"$runner" --instrument "$out/interp" "$core" "$json" > "$out/interp.txt"
tail -n 1 "$out/interp.txt"
"$runner" --tier compiled --cache "$cache" --instrument "$out/compiled" "$core" "$json" \
    > "$out/compiled.txt"
grep '^compiled tier:' "$out/compiled.txt"
tail -n 1 "$out/compiled.txt"
grep '^FAIL' "$out/compiled.txt" | head -n 20 || true
last_i=$(tail -n 1 "$out/interp.txt")
last_c=$(tail -n 1 "$out/compiled.txt")
case $last_c in
*" 0 failed") ;;
*) echo "tiers.sh: FAIL: the compiled tier failed assertions"; exit 1 ;;
esac
if [ "$last_i" != "$last_c" ]; then
    echo "tiers.sh: FAIL: the tiers passed different numbers of assertions"
    exit 1
fi
n=0
for f in "$out"/interp/*/*.json; do
    g="$out/compiled/${f#"$out"/interp/}"
    if ! cmp -s "$f" "$g"; then
        echo "tiers.sh: FAIL: results or counters differ: $f $g"
        diff "$f" "$g" | head -n 10
        exit 1
    fi
    n=$((n + 1))
done
if [ "$n" -lt 80 ]; then
    echo "tiers.sh: FAIL: only $n scripts compared"
    exit 1
fi
echo "tiers.sh: $n scripts: every result, trap and counter value identical in both tiers"
