# lib.sh - helpers shared by the cli tests (sourced): a scratch directory, a node started on a
# free loopback port (port 0: the kernel picks; the node writes DIR/node.url), and checks.
set -euo pipefail

work=$(mktemp -d "${TMPDIR:-/tmp}/tally-cli-test.XXXXXX")
node_pid=""
cleanup() {
    if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then kill -KILL "$node_pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT

die() { echo "FAIL: $*" >&2; [ -f "$work/node.log" ] && { echo "--- node log:"; tail -30 "$work/node.log"; } >&2; exit 1; }

# start_node DIR [node options...]: starts `tally node` in the background, waits for its URL.
start_node() {
    local dir=$1; shift
    rm -f "$dir/node.url"
    "$tally" node --dir "$dir" --listen 127.0.0.1:0 "$@" 2>>"$work/node.log" &
    node_pid=$!
    for _ in $(seq 1 100); do
        [ -s "$dir/node.url" ] && { url=$(cat "$dir/node.url"); return 0; }
        kill -0 "$node_pid" 2>/dev/null || die "node exited at start"
        sleep 0.1
    done
    die "node did not write $dir/node.url within 10 s"
}

# stop_node: SIGTERM, and the node must exit 0.
stop_node() {
    kill -TERM "$node_pid"
    local rc=0
    wait "$node_pid" || rc=$?
    node_pid=""
    [ "$rc" -eq 0 ] || die "node exited with $rc after SIGTERM"
}

# expect_match TEXT REGEX WHAT (a here-string, not a pipe: grep -q stops at the first match,
# and under pipefail the writer's SIGPIPE on a long TEXT would fail the match)
expect_match() {
    grep -Eq -- "$2" <<<"$1" || die "$3: got '$1', want /$2/"
}

# receipt_text DIR ID: `tally receipt` of message ID once it is no longer pending (10 s at most).
receipt_text() {
    local out
    for _ in $(seq 1 200); do
        out=$("$tally" receipt --dir "$1" "$2") || die "receipt $2"
        [[ $out == pending* ]] || break
        sleep 0.05
    done
    printf '%s' "$out"
}
