#!/usr/bin/env bash
# build.sh - rebuilds ../rust_counter.wasm, the Rust CDK fixture of tests/cli/rust_counter.sh,
# from this folder (not part of the meson build: CI has no Rust wasm32 target). Needs rustup's
# wasm32-unknown-unknown target, crates.io (the versions of Cargo.lock), binaryen's wasm-opt and
# llvm-objcopy. Steps: cargo build; wasm-opt -Oz (size); the interface rust_counter.did added as
# the custom section `icp:public candid:service`, as dfx does.
set -euo pipefail
cd "$(dirname "$0")"
target=${CARGO_TARGET_DIR:-$(mktemp -d)}
cargo build --locked --release --target wasm32-unknown-unknown --target-dir "$target"
wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    "$target/wasm32-unknown-unknown/release/rust_counter.wasm" -o "$target/opt.wasm"
objcopy=$(command -v llvm-objcopy || command -v llvm-objcopy-14)
"$objcopy" --add-section="icp:public candid:service=rust_counter.did" "$target/opt.wasm" \
    ../rust_counter.wasm
echo "built ../rust_counter.wasm ($(stat -c %s ../rust_counter.wasm) bytes)"
