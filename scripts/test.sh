#!/usr/bin/env bash
# test.sh - install what is missing, then build and run every test twice: with gcc (-O2), and
# with clang under AddressSanitizer + UndefinedBehaviorSanitizer. Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 1
if [ ! -d ../shared/wasm-spec/core ]; then
    echo "test: ../shared/wasm-spec/core is missing: the spec tests cannot run (clone tally with ../shared beside it)" >&2
    exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
passed=0 failed=0
run() { # name, CC, meson options...
    local dir="build-$1" cc="$2"; shift 2
    echo "=== $dir (CC=$cc $*)"
    if [ -d "$dir" ]; then
        CC=$cc meson setup --reconfigure "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return; }
    else
        CC=$cc meson setup "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return; }
    fi
    if ! ninja -C "$dir" -j2 >"$dir.build.log" 2>&1; then
        tail -50 "$dir.build.log"; echo "test: build $dir failed"; failed=$((failed + 1)); return
    fi
    meson test -C "$dir" --print-errorlogs --num-processes 2 "${TEST_ARGS[@]}" | tee "$dir.test.log" | grep -v "^ *[0-9]*/[0-9]* .* OK "
    local ok fail
    ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$dir.test.log" | tail -1)
    fail=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$dir.test.log")
    [ -n "$ok" ] || { echo "test: no summary from meson test in $dir"; fail=$((fail + 1)); ok=0; }
    passed=$((passed + ok)); failed=$((failed + fail))
}
TEST_ARGS=("$@")
run gcc gcc -Dbuildtype=release -Db_ndebug=false
run clang-asan clang -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
