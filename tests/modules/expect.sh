#!/bin/sh
# expect.sh - runs a command and checks its exit status and output (tests/modules/meson.build).
#
#   expect.sh EXIT PATTERN CMD [ARG...]
#
# Passes if CMD exits with status EXIT and its stdout+stderr contain a line matching the
# extended regular expression PATTERN; otherwise prints what it got and exits 1.
set -u
[ $# -ge 3 ] || { echo "usage: expect.sh EXIT PATTERN CMD [ARG...]" >&2; exit 2; }
want_rc=$1
pattern=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$want_rc" ]; then
    echo "expect.sh: exit status $rc, expected $want_rc: $*" >&2
    exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
    echo "expect.sh: output does not match /$pattern/: $*" >&2
    exit 1
fi
exit 0
