#!/usr/bin/env bash
# test.sh - install what is missing, then build and run every test in the CI matrix:
#   build-gcc          gcc -O2 (assertions on)
#   build-clang-asan   clang -O0 with AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer
#                      harnesses (-Dfuzz=true: each fuzzes for 10 s, suite fuzz)
#   build-clang        clang -O2 (assertions on)
# then the cross-build determinism check (and, without arguments, the replication test with
# CometBFT, scripts/localnet.sh test): each build prints the block hashes and state roots of
# a fixed scenario (the golden vectors) and tally's outcome of a fixed set of random modules
# (results, traps, instruction counts); the three outputs must be identical, byte for byte.
# Arguments go to every `meson test` (e.g. --suite bad). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
if [ ! -d ../shared/wasm-spec/core ]; then
    echo "test: ../shared/wasm-spec/core is missing: the spec tests cannot run (clone tally with ../shared beside it)" >&2
    exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The compiled tier's objects for the spec suite (tests/spec/tiers.sh), shared by the builds: the
# generated C and the system cc are the same for all three, so only the first compiles.
export TALLY_TIER_CACHE=${TALLY_TIER_CACHE:-$PWD/.tier-cache}
passed=0 failed=0
built=()
# Filters meson test's output: failures and the summary as they come; passed tests only as a
# progress line ("12/70 tests done, 95 s") at most every PROGRESS_S seconds (default 15), so a
# long suite is never silent for minutes.
progress() {
    local line last=$SECONDS t0=$SECONDS
    while IFS= read -r line; do
        if [[ $line =~ ^\ *([0-9]+)/([0-9]+)\ .*\ OK\  ]]; then
            if ((SECONDS - last >= ${PROGRESS_S:-15})); then
                echo "    ${BASH_REMATCH[1]}/${BASH_REMATCH[2]} tests done, $((SECONDS - t0)) s"
                last=$SECONDS
            fi
        else
            printf '%s\n' "$line"
        fi
    done
}

run() { # name, CC, timeout multiplier, meson options...
    local dir="build-$1" cc="$2" mult="$3"; shift 3
    echo "=== $dir (CC=$cc $*)"
    local t0=$SECONDS
    if [ -d "$dir" ]; then
        CC=$cc meson setup --reconfigure "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return; }
    else
        CC=$cc meson setup "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return; }
    fi
    if ! ninja -C "$dir" -j2 >"$dir.build.log" 2>&1; then
        tail -50 "$dir.build.log"; echo "test: build $dir failed"; failed=$((failed + 1)); return
    fi
    local t1=$SECONDS
    meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "$mult" \
        "${TEST_ARGS[@]}" | tee "$dir.test.log" | progress
    local ok fail
    ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$dir.test.log" | tail -1)
    fail=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$dir.test.log")
    [ -n "$ok" ] || { echo "test: no summary from meson test in $dir"; fail=$((fail + 1)); ok=0; }
    passed=$((passed + ok)); failed=$((failed + fail))
    echo "=== $dir: build $((t1 - t0)) s, meson test $((SECONDS - t1)) s; slowest tests:"
    sed -nE 's/^ *[0-9]+\/[0-9]+ +(.*[^ ]) +[A-Z]+ +([0-9.]+)s.*/\2 \1/p' "$dir.test.log" |
        sort -rn | head -5 | awk '{t = $1; $1 = ""; printf "%8.1f s %s\n", t, $0}'
    built+=("$dir")
}

# The determinism fingerprint of one build, on stdout: the golden scenarios' blocks (among them
# call trees in 1-instruction slices)
# (tests/vectors: height, block hash, state root, instructions per round), a chain with a sliced
# install and upgrade (tests/scheduler/test_install), random calls waiting for paused messages
# (tests/scheduler/test_paused) and diff_tally's
# script for DET_MODULES random modules (binaryen's wasm-opt -ttf from seeded bytes; the script
# holds every export's results or trap and the instructions it used, metered). Each module also
# runs in the compiled tier (docs/engine.md), its generated C built by the build's own compiler
# (gcc for build-gcc, clang for the clang builds): its script must be byte for byte the
# interpreter's ("tiers: same"), so the fingerprints also show gcc- and clang-compiled code
# agreeing.
DET_MODULES=${DET_MODULES:-25}
fingerprint() { # build dir, work dir
    local dir=$1 work=$2 features="--mvp-features --enable-sign-ext --enable-mutable-globals
      --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue"
    echo "# golden vectors"
    mkdir -p "$work" || return 1
    # cmocka's summaries go to stderr: kept out of the fingerprint, where they would interleave
    # with the vectors at random (a false determinism failure)
    TALLY_VECTORS_PRINT=1 "$dir/tests/vectors/test_vectors" 2>"$work/vectors.stderr" |
        grep '^ *[{"]' || echo "test_vectors failed"
    echo "# sliced install and upgrade"
    TALLY_FINGERPRINT=1 "$dir/tests/scheduler/test_install" 2>/dev/null | grep '^{' || echo "test_install failed"
    echo "# aaaaa-aa calls waiting for paused messages"
    TALLY_FINGERPRINT=1 "$dir/tests/scheduler/test_paused" 2>/dev/null | grep '^{' || echo "test_paused failed"
    wat2wasm tests/diff/fuzzing-support.wat -o "$work/helper.wasm" || return 1
    for ((i = 1; i <= DET_MODULES; i++)); do
        echo "# module $i"
        "$dir/tests/diff/diff_tally" --bytes $((7000 + i)) 4096 "$work/in.bin" || echo "bytes failed"
        # shellcheck disable=SC2086
        wasm-opt -ttf "$work/in.bin" $features --denan -o "$work/m.wasm" >/dev/null 2>&1 || {
            echo "wasm-opt rejects"; continue; }
        (cd "$work" && "$OLDPWD/$dir/tests/diff/diff_tally" m.wasm helper.wasm t.wast 200000 2>&1)
        echo "exit $?"
        local tcc=gcc
        case $dir in *clang*) tcc=clang ;; esac
        (cd "$work" && TALLY_CC=$tcc "$OLDPWD/$dir/tests/diff/diff_tally" --tier compiled \
            m.wasm helper.wasm tc.wast 200000 >/dev/null 2>&1)
        if cmp -s "$work/t.wast" "$work/tc.wast"; then
            echo "tiers: same"
        elif [ ! -e "$work/t.wast" ] && [ ! -e "$work/tc.wast" ]; then
            echo "tiers: same (no script)"
        else
            echo "tiers: DIFFER (compiled tier, TALLY_CC=$tcc)"
        fi
        cat "$work/t.wast" 2>/dev/null
        rm -f "$work/t.wast" "$work/tc.wast"
    done
}

determinism() {
    [ ${#built[@]} -ge 2 ] || return 0
    echo "=== determinism across ${built[*]}"
    local ref="" first="" d
    for d in "${built[@]}"; do
        fingerprint "$d" "$d/determinism" > "$d.determinism.txt" 2>&1
        echo "$d: $(grep -c '^ *{' "$d.determinism.txt") blocks, $(grep -c '^# module' "$d.determinism.txt") modules, $(grep -c '^(assert_' "$d.determinism.txt") assertions, sha256 $(sha256sum < "$d.determinism.txt" | cut -c1-16)"
        if [ -z "$ref" ]; then
            ref="$d.determinism.txt" first=$d
            if ! grep -q '^ *{' "$ref" || ! grep -q '^(assert_return' "$ref"; then
                echo "test: DETERMINISM CHECK BROKEN: $ref holds no blocks or no results"; failed=$((failed + 1))
            fi
        elif cmp -s "$ref" "$d.determinism.txt"; then
            passed=$((passed + 1))
        else
            echo "test: DETERMINISM FAILURE: $d differs from $first (block hashes, state roots or results):"
            diff "$ref" "$d.determinism.txt" | head -20
            failed=$((failed + 1))
        fi
    done
}

# The replicated mode end to end (docs/replication.md): 4 CometBFT validators running build-gcc's
# tally (scripts/localnet.sh test: deploy, 1,000 messages, equal blocks at every height, kill -9
# and catch-up, a diverging validator, replay). Bounded twice: its own watchdog (TEST_TIMEOUT)
# and `timeout` here; whatever a timeout leaves running is stopped by pid afterwards. Skipped,
# loudly, only when CometBFT is missing and Go or the module proxy is not there to install it.
localnet() {
    [ -x build-gcc/cli/tally ] || return 0
    echo "=== localnet (scripts/localnet.sh test, CometBFT)"
    local dir=$PWD/build-gcc/localnet-test t0=$SECONDS rc
    # CometBFT is installed first, outside the test's time bound: a fresh machine's `go install`
    # takes minutes (bounded by deps-cometbft.sh itself) and must not eat the test's 480 s.
    bash scripts/deps-cometbft.sh >/dev/null
    rc=$?
    if [ $rc -eq 3 ]; then
        echo "test: ############################################################################"
        echo "test: SKIPPED the replicated-mode test: no CometBFT and no way to install it"
        echo "test: ############################################################################"
        return
    elif [ $rc -ne 0 ]; then
        echo "test: installing CometBFT failed (exit $rc)"; failed=$((failed + 1)); return
    fi
    rm -rf "$dir"
    LOCALNET_DIR=$dir TALLY=$PWD/build-gcc/cli/tally TEST_TIMEOUT=420 \
        timeout -k 20 480 bash scripts/localnet.sh test >build-gcc.localnet.log 2>&1
    rc=$?
    LOCALNET_DIR=$dir bash scripts/localnet.sh stop >/dev/null 2>&1
    grep "^localnet test: " build-gcc.localnet.log
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
    elif [ $rc -eq 77 ]; then
        echo "test: ############################################################################"
        echo "test: SKIPPED the replicated-mode test: no CometBFT and no way to install it"
        echo "test: ############################################################################"
    else
        tail -40 build-gcc.localnet.log
        echo "test: localnet test failed (exit $rc; build-gcc.localnet.log)"
        failed=$((failed + 1))
    fi
    echo "=== localnet: $((SECONDS - t0)) s"
}

TEST_ARGS=("$@")
# The house format (docs/style.md): a file that drifts from .clang-format is a failure.
echo "=== format (scripts/format.sh --check)"
if bash scripts/format.sh --check; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
run gcc gcc 1 -Doptimization=2 -Ddebug=false -Db_ndebug=false
# -O0 with sanitizers is several times slower: longer per-test timeouts.
run clang-asan clang 3 -Doptimization=0 -Ddebug=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dfuzz=true
run clang clang 1 -Doptimization=2 -Ddebug=false -Db_ndebug=false
determinism
[ ${#TEST_ARGS[@]} -eq 0 ] && localnet
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
