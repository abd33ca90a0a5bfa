#!/usr/bin/env bash
# demo.sh - install what is missing, build tally, and run the demo. Until the node exists
# (issue 9) the demo validates the example modules and canisters with `tally validate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
dir=build-gcc
if [ -d "$dir" ]; then CC=gcc meson setup --reconfigure "$dir" -Dbuildtype=release >/dev/null
else CC=gcc meson setup "$dir" -Dbuildtype=release >/dev/null; fi
ninja -C "$dir" -j2 >/dev/null
tally="$dir/cli/tally"
echo "== $("$tally" --version)"
mapfile -t mods < <(find "$dir/tests/modules" "$dir/tests/canisters" -name '*.wasm' 2>/dev/null | sort)
echo "== tally validate: ${#mods[@]} example modules"
"$tally" validate "${mods[@]}" || true
