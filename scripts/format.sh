#!/usr/bin/env bash
# format.sh - applies .clang-format (docs/style.md "Format") to tally's C files: the product
# folders and tests/. With --check it changes nothing, lists the files that would change and
# exits 1 if there are any. Needs clang-format (scripts/deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
-h|--help) echo "usage: bash scripts/format.sh [--check]"; exit 0 ;;
*) echo "usage: bash scripts/format.sh [--check]" >&2; exit 2 ;;
esac
command -v clang-format >/dev/null || { echo "format: clang-format is not installed (bash scripts/deps.sh)" >&2; exit 2; }
mapfile -t files < <(git ls-files -- '*.c' '*.h' | grep -E '^(base|engine|instrument|host-api|ledger|scheduler|candid|bench|cli|sdk|tests)/')
drift=()
for f in "${files[@]}"; do
    if [ "$check" = 1 ]; then
        clang-format --style=file "$f" | cmp -s - "$f" || drift+=("$f")
    else
        clang-format --style=file -i "$f"
    fi
done
if [ "$check" = 1 ] && [ "${#drift[@]}" -gt 0 ]; then
    printf 'format: %s differs from .clang-format\n' "${drift[@]}" >&2
    echo "format: ${#drift[@]} of ${#files[@]} files drift (bash scripts/format.sh fixes them)" >&2
    exit 1
fi
[ "$check" = 1 ] && echo "format: ${#files[@]} files match .clang-format"
exit 0
