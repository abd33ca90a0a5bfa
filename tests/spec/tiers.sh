#!/bin/sh
# tiers.sh - the compiled tier against the interpreter on the whole spec testsuite (docs/engine.md
# "How the tiers are compared"):
#   tiers.sh SPEC_RUNNER CORE_DIR JSON_DIR OUT_DIR
# Runs every script three times on instrumented modules (spec_runner --instrument): once in the
# interpreter, once with every module in the compiled tier (objects cached in $TALLY_TIER_CACHE,
# else OUT_DIR/cache), once with every module built by the quick route (tcc, --tier quick).
# Every run must pass every assertion, and the scripts they write (every result and every
# counter value after each instantiation and invoke) must be identical. A missing C compiler is
# a failure here, never a skip; so is a missing tcc.
set -eu
runner=$1 core=$2 json=$3 out=$4
rm -rf "$out/interp" "$out/compiled" "$out/quick"
cache=${TALLY_TIER_CACHE:-$out/cache}
mkdir -p "$out" "$cache"
cc=${TALLY_CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "tiers.sh: FAIL: no C compiler ($cc): the compiled tier cannot be tested" >&2
    exit 1
fi
tcc=${TALLY_TCC:-tcc}
if ! command -v "$tcc" >/dev/null 2>&1; then
    echo "tiers.sh: FAIL: no tcc ($tcc, scripts/deps.sh): the quick route cannot be tested" >&2
    exit 1
fi
"$runner" --instrument "$out/interp" "$core" "$json" > "$out/interp.txt"
tail -n 1 "$out/interp.txt"
# The compiled tier (cc), then the quick route (tcc; --tier quick): each against the interpreter.
pass() {
    tier=$1
    "$runner" --tier "$tier" --cache "$cache" --instrument "$out/$tier" "$core" "$json" \
        > "$out/$tier.txt"
    grep '^compiled tier:' "$out/$tier.txt"
    tail -n 1 "$out/$tier.txt"
    grep '^FAIL' "$out/$tier.txt" | head -n 20 || true
    last_i=$(tail -n 1 "$out/interp.txt")
    last_c=$(tail -n 1 "$out/$tier.txt")
    case $last_c in
    *" 0 failed") ;;
    *) echo "tiers.sh: FAIL: the $tier tier failed assertions"; exit 1 ;;
    esac
    if [ "$last_i" != "$last_c" ]; then
        echo "tiers.sh: FAIL: the $tier tier passed a different number of assertions"
        exit 1
    fi
    n=0
    for f in "$out"/interp/*/*.json; do
        g="$out/$tier/${f#"$out"/interp/}"
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
    echo "tiers.sh: $tier: $n scripts: every result, trap and counter value identical to the interpreter's"
}
pass compiled
pass quick
