#!/bin/sh
# run.sh - runs one libFuzzer campaign: tests/fuzz/run.sh HARNESS SECONDS [JOBS]
#   HARNESS  decode | instrument | run | message | rpc
#   SECONDS  wall time of the campaign;  JOBS  parallel fuzzing jobs (default 1)
# Configures (once) and builds a clang build with -Dfuzz=true, ASan and UBSan in $FUZZ_BUILD
# (default: ../build-fuzz beside the source tree), then fuzzes with the checked-in seeds of
# tests/fuzz/corpus/HARNESS. New inputs go to $FUZZ_WORK/HARNESS (default
# $FUZZ_BUILD/fuzz-work/HARNESS); crashes to $FUZZ_WORK/crashes (libFuzzer's crash-* files).
# The last lines of the log give the figures (execs, coverage) for docs/reliability.md.
# Exit status: 0 if no crash was found, 1 otherwise, 2 on usage errors.
set -eu
harness=${1:-}
seconds=${2:-}
jobs=${3:-1}
case "$harness" in decode|instrument|run|message|rpc) ;; *)
    echo "usage: run.sh decode|instrument|run|message|rpc SECONDS [JOBS]" >&2; exit 2;; esac
case "$seconds" in ''|*[!0-9]*) echo "run.sh: SECONDS must be a number" >&2; exit 2;; esac

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$src/../build-fuzz}
mkdir -p "$build"
build=$(cd "$build" && pwd)
work=${FUZZ_WORK:-$build/fuzz-work}
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$src" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dbuildtype=debugoptimized \
        -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined'
fi
ninja -C "$build" -j2 "tests/fuzz/fuzz_$harness"
exe=$build/tests/fuzz/fuzz_$harness
mkdir -p "$work/$harness" "$work/crashes"
log=$work/$harness.log
# Leaks are reported per input; timeouts above 10 s and >2 GB RSS count as crashes.
parallel=
[ "$jobs" -le 1 ] || parallel="-jobs=$jobs -workers=$jobs"
set +e
cd "$work"   # libFuzzer writes fuzz-N.log files (-jobs) into the current directory
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    $parallel -print_final_stats=1 \
    -artifact_prefix="$work/crashes/$harness-" \
    "$work/$harness" "$src/tests/fuzz/corpus/$harness" > "$log" 2>&1
rc=$?
set -e
if [ "$jobs" -gt 1 ]; then cat fuzz-*.log >> "$log" 2>/dev/null && rm -f fuzz-*.log; fi
grep -E '^(stat::|#[0-9]+.*DONE|Done)' "$log" | tail -8
echo "corpus: $(ls "$work/$harness" | wc -l) inputs in $work/$harness; log: $log"
if [ "$rc" -ne 0 ] || ls "$work/crashes/$harness-"* >/dev/null 2>&1; then
    echo "run.sh: $harness found a crash (exit $rc): see $work/crashes and $log" >&2
    exit 1
fi
