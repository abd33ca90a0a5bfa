#!/bin/sh
# convert.sh - build-time conversion of the official spec scripts (.wast) to wast2json output.
#
#   convert.sh --list CORE_DIR                       prints the .wast files of CORE_DIR, one a line
#   convert.sh WAST2JSON CORE_DIR OUT_DIR STAMP      converts every CORE_DIR/NAME.wast into
#                                                    OUT_DIR/NAME/NAME.json (+ NAME.N.wasm/.wat)
#
# Reads CORE_DIR only; writes only OUT_DIR, which must lie outside CORE_DIR/.. (rebuilt from scratch through OUT_DIR.tmp, so a failed
# run never leaves a half-converted tree) and STAMP. Exits non-zero, naming the file, if CORE_DIR
# is missing or empty or if wast2json fails on any script.
set -eu

die() {
    echo "convert.sh: $*" >&2
    exit 1
}

if [ "${1:-}" = "--list" ]; then
    [ $# -eq 2 ] || die "usage: convert.sh --list CORE_DIR"
    [ -d "$2" ] || die "spec testsuite directory not found: $2"
    found=0
    for f in "$2"/*.wast; do
        [ -f "$f" ] || continue
        echo "$f"
        found=1
    done
    [ "$found" -eq 1 ] || die "no .wast files in $2"
    exit 0
fi

[ $# -eq 4 ] || die "usage: convert.sh WAST2JSON CORE_DIR OUT_DIR STAMP"
wast2json=$1
core=$2
out=$3
stamp=$4

[ -d "$core" ] || die "spec testsuite directory not found: $core"
[ -n "$out" ] && [ "$out" != "/" ] || die "refusing output directory '$out'"
core_abs=$(cd "$core" && pwd -P)
spec_abs=$(cd "$core_abs/.." && pwd -P)
out_parent=$(dirname "$out")
mkdir -p "$out_parent"
out_abs="$(cd "$out_parent" && pwd -P)/$(basename "$out")"
case "$out_abs/" in
    "$spec_abs"/*) die "output directory $out_abs is inside the testsuite $spec_abs" ;;
esac

tmp="$out_abs.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
n=0
for f in "$core_abs"/*.wast; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .wast)
    mkdir -p "$tmp/$name"
    "$wast2json" "$f" -o "$tmp/$name/$name.json" || die "wast2json failed on $f"
    n=$((n + 1))
done
[ "$n" -gt 0 ] || die "no .wast files in $core_abs"

rm -rf "$out_abs"
mv "$tmp" "$out_abs"
echo "converted $n spec scripts into $out_abs" > "$stamp"
