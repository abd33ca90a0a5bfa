#!/usr/bin/env bash
# deps-cometbft.sh - install CometBFT (the consensus engine of replicated mode, docs/replication.md)
# when it is missing: `go install` of one pinned v0.38.x release (the ABCI 2.0 line) into
# $(go env GOPATH)/bin. Nothing of CometBFT is part of this repository. Prints the binary's path
# on stdout; exits 3 (with the reason on stderr) when Go or the Go module proxy is unavailable,
# so that callers can tell "cannot install" from a failure.
set -uo pipefail
COMETBFT_VERSION=v0.38.26
if ! command -v go >/dev/null 2>&1; then
    [ -x /usr/local/go/bin/go ] && PATH=$PATH:/usr/local/go/bin
fi
if ! command -v go >/dev/null 2>&1; then
    echo "deps-cometbft: Go is not installed (needed once to build CometBFT $COMETBFT_VERSION)" >&2
    exit 3
fi
bin="$(go env GOPATH)/bin/cometbft"
if [ -x "$bin" ] && [ "$("$bin" version 2>/dev/null)" = "${COMETBFT_VERSION#v}" ]; then
    echo "$bin"
    exit 0
fi
echo "deps-cometbft: go install github.com/cometbft/cometbft/cmd/cometbft@$COMETBFT_VERSION" >&2
if ! timeout 1200 go install "github.com/cometbft/cometbft/cmd/cometbft@$COMETBFT_VERSION" >&2; then
    echo "deps-cometbft: go install failed (is the Go module proxy reachable?)" >&2
    exit 3
fi
echo "$bin"
