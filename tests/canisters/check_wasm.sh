#!/bin/sh
# check_wasm.sh - test of one built example canister, run by meson (suite 'canisters'), before
# tally can execute canisters itself:
#
#   check_wasm.sh WASM_VALIDATE WASM2WAT IC0_DEF FILE.wasm [EXPORT...]
#
# Fails (non-zero, naming the problem) unless
#   1. wasm-validate accepts FILE.wasm;
#   2. every import is a function of module "ic0" that host-api/ic0.def marks SUPPORTED, with
#      exactly the table's signature (so ic0.h and ic0.def agree);
#   3. every EXPORT given is exported by FILE.wasm, and "memory" is exported.
set -eu

die() {
    echo "check_wasm.sh: $*" >&2
    exit 1
}

[ $# -ge 4 ] || die "usage: check_wasm.sh WASM_VALIDATE WASM2WAT IC0_DEF FILE.wasm [EXPORT...]"
validate=$1
wasm2wat=$2
def=$3
wasm=$4
shift 4

[ -f "$wasm" ] || die "$wasm: not found"
[ -f "$def" ] || die "$def: not found"
"$validate" "$wasm" || die "$wasm: wasm-validate rejects it"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$wasm2wat" "$wasm" -o "$tmp/mod.wat" || die "$wasm: wasm2wat fails"

# The SUPPORTED rows of the table as "name params results" (params/results "-" when empty).
sed -n 's/^IC0(\([a-z0-9_]*\), *"\([iI]*\)", *"\([iI]*\)",.*, SUPPORTED)$/\1 \2- \3-/p' "$def" |
    sed 's/\([iI]\)- /\1 /; s/\([iI]\)-$/\1/' > "$tmp/table"
[ -s "$tmp/table" ] || die "$def: no SUPPORTED rows found"

# The module's function imports as "module name params results", in the same letters.
awk '
function letters(spec, kind,    out, n, i, w) {
    out = ""
    if (match(spec, "\\(" kind "[^)]*\\)")) {
        n = split(substr(spec, RSTART + length(kind) + 2, RLENGTH - length(kind) - 3), w, " ")
        for (i = 1; i <= n; i++) {
            if (w[i] == "i32") out = out "i"
            else if (w[i] == "i64") out = out "I"
            else if (w[i] != "") out = out "?"
        }
    }
    return out == "" ? "-" : out
}
/^  \(type / {
    idx = $2; gsub(/[^0-9]/, "", idx)
    params[idx] = letters($0, "param"); results[idx] = letters($0, "result")
}
/^  \(import / {
    mod = $2; name = $3; gsub(/"/, "", mod); gsub(/"/, "", name)
    if ($0 !~ /\(func /) { print mod, name, "not-a-function", "-"; next }
    t = $0; sub(/.*\(type /, "", t); sub(/\).*/, "", t)
    print mod, name, params[t], results[t]
}' "$tmp/mod.wat" > "$tmp/imports"

status=0
while read -r mod name params results; do
    if [ "$mod" != ic0 ]; then
        echo "check_wasm.sh: $wasm: import \"$mod\" \"$name\" is not from module ic0" >&2
        status=1
        continue
    fi
    want=$(awk -v n="$name" '$1 == n { print $2, $3 }' "$tmp/table")
    if [ -z "$want" ]; then
        echo "check_wasm.sh: $wasm: imports ic0.$name, which ic0.def does not SUPPORT" >&2
        status=1
    elif [ "$want" != "$params $results" ]; then
        echo "check_wasm.sh: $wasm: ic0.$name imported as ($params) -> ($results), ic0.def says $want" >&2
        status=1
    fi
done < "$tmp/imports"

for export in memory "$@"; do
    if ! grep -q "^  (export \"$export\" " "$tmp/mod.wat"; then
        echo "check_wasm.sh: $wasm: export \"$export\" missing" >&2
        status=1
    fi
done

[ $status -eq 0 ] || exit 1
echo "$wasm: valid; $(wc -l < "$tmp/imports") ic0 imports match ic0.def; exports present: memory $*"
