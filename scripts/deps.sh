#!/usr/bin/env bash
# deps.sh - install what tally needs on Debian 12, only what is missing (non-interactive).
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc clang lld wabt binaryen
      libclang-rt-14-dev libcmocka-dev liblmdb-dev libsodium-dev libjansson-dev libmicrohttpd-dev curl python3)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
