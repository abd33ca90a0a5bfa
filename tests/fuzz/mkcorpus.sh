#!/bin/sh
# mkcorpus.sh - (re)builds the checked-in seed corpus of the wasm harnesses from a build
# directory: per spec script, its largest valid module up to 12 KiB (wabt's wasm-validate
# decides validity) goes to corpus/{decode,instrument,run}; its first invalid or malformed
# binary module to corpus/decode; the example canisters go everywhere. Names keep the origin.
#   tests/fuzz/mkcorpus.sh BUILD_DIR
# corpus/message comes from fuzz_mkseeds (see meson.build). corpus/decode/fuzz-* are inputs a
# campaign found (libFuzzer -merge=1 of its corpus into the seeds, see docs/reliability.md).
# Keep the total under ~2 MB.
set -eu
build=${1:?usage: mkcorpus.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
json=$build/tests/spec/json
[ -d "$json" ] || { echo "no converted spec tests in $json (build first)" >&2; exit 1; }
for h in decode instrument run; do
    mkdir -p "$here/corpus/$h"
    rm -f "$here/corpus/$h"/spec-* "$here/corpus/$h"/canister-*  # fuzz-* files stay
done
for dir in "$json"/*/; do
    name=$(basename "$dir")
    best=; bestsize=0; bad=
    for w in $(ls "$dir"*.wasm 2>/dev/null | sort -V); do
        size=$(wc -c < "$w")
        if wasm-validate --enable-all "$w" >/dev/null 2>&1; then
            if [ "$size" -le 12288 ] && [ "$size" -gt "$bestsize" ]; then
                best=$w; bestsize=$size
            fi
        elif [ -z "$bad" ]; then
            bad=$w
        fi
    done
    if [ -n "$best" ]; then
        for h in decode instrument run; do cp "$best" "$here/corpus/$h/spec-$(basename "$best")"; done
    fi
    [ -z "$bad" ] || cp "$bad" "$here/corpus/decode/spec-bad-$(basename "$bad")"
done
for w in "$build"/tests/canisters/*.wasm; do
    [ -f "$w" ] || continue
    for h in decode instrument run; do cp "$w" "$here/corpus/$h/canister-$(basename "$w")"; done
done
du -sh "$here/corpus"
for h in decode instrument run message; do
    printf '%s: %s files\n' "$h" "$(ls "$here/corpus/$h" 2>/dev/null | wc -l)"
done
