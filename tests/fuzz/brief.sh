#!/bin/sh
# brief.sh - a short libFuzzer run for meson test (suite fuzz, builds with -Dfuzz=true):
#   brief.sh HARNESS CORPUS WORKDIR SECONDS
# Mutates from the checked-in CORPUS for SECONDS; new inputs and any crash go to WORKDIR (in the
# build directory), so the source tree is never written. Exit status is libFuzzer's: non-zero on
# a crash, leak, timeout or sanitizer report. Long campaigns: run.sh.
set -eu
exe=$1 corpus=$2 work=$3 seconds=$4
[ -d "$corpus" ] || { echo "brief.sh: no corpus at $corpus" >&2; exit 2; }
mkdir -p "$work/new" "$work/crashes"
exec "$exe" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" "$work/new" "$corpus"
