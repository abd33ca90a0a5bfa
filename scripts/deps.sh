#!/usr/bin/env bash
# deps.sh - install what tally needs on Debian 12, only what is missing (non-interactive);
# `deps.sh cometbft` also installs CometBFT (see the end).
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc clang lld wabt binaryen
      clang-format libclang-rt-14-dev libcmocka-dev liblmdb-dev libsodium-dev libjansson-dev libmicrohttpd-dev curl python3
      libprotobuf-c-dev protobuf-c-compiler tcc)
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
# `deps.sh cometbft`: also CometBFT, for the replicated mode (docs/replication.md): a pinned
# release built with `go install` when missing (scripts/deps-cometbft.sh; scripts/localnet.sh
# calls that itself). Plain `deps.sh` never needs Go: the single node does not.
if [ "${1:-}" = cometbft ]; then
    bash "$(dirname "$0")/deps-cometbft.sh" >/dev/null
fi
