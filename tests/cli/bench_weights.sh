#!/usr/bin/env bash
# bench_weights.sh TALLY OPCODES.def IC0.def - `tally bench weights --quick --json`
# (docs/weights.md) covers every row of engine/opcodes.def and of host-api/ic0.def, in table
# order, each measured with a usable time: the counts come from the .def files, not from here.
# --quick is about 10x fewer iterations: a few seconds, too noisy for weights, enough for this.
#
# What "a measured time" is per method (docs/weights.md):
#   opcodes   every row measured with a finite ns and the charge read from the counter. The
#             sign of a difference (snippet minus baseline) is noise for the cheap rows, more
#             so under sanitizers on a shared machine, so no timing sign is asserted (DEVELOPERS.md:
#             speed is checked by benchmarks, never by timed tests).
#   ic0       every row measured with a finite ns by its method; refused deploys are refused
#             with UNSUPPORTED_IMPORT, trapping messages trap; whole messages and refused
#             deploys are absolute times (> 0).
#   bulk      memory.fill, memory.copy per byte and memory.grow per page, each with 3 sizes.
set -euo pipefail
tally=$1 opcodes_def=$2 ic0_def=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-weights-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$tally" bench weights --quick --runs 3 --json > "$work/w.json" 2> "$work/err" \
    || { cat "$work/err" >&2; echo "FAIL: tally bench weights --quick --json exited $?" >&2; exit 1; }
sed -n 's/^OP([^,]*,[^,]*,[^,]*, *"\([^"]*\)".*/\1/p' "$opcodes_def" > "$work/ops.txt"
sed -n 's/^IC0(\([a-z0-9_]*\),.*/\1/p' "$ic0_def" > "$work/ic0.txt"

python3 - "$work/w.json" "$work/ops.txt" "$work/ic0.txt" <<'EOF'
import json, math, sys
report = json.load(open(sys.argv[1]))
ops = open(sys.argv[2]).read().split("\n")[:-1]
ic0 = open(sys.argv[3]).read().split("\n")[:-1]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

check(len(ops) > 150 and len(ic0) > 50, "the .def files parsed: %d opcodes, %d ic0 rows" % (len(ops), len(ic0)))
check(report["quick"] is True, "quick mode reported")
names = [o["name"] for o in report["opcodes"]]
check(names == ops, "opcode rows = opcodes.def rows in order (%d vs %d)" % (len(names), len(ops)))
for o in report["opcodes"]:
    n = o["name"]
    check(o["measured"] is True and finite(o.get("ns")), "%s: measured with a finite ns" % n)
    check(o.get("method") in ("loop", "loop minus", "trap run"), "%s: method %s" % (n, o.get("method")))
    check(finite(o.get("charged_per_snippet")), "%s: charged read from the counter" % n)
confirmed = sum(1 for o in report["opcodes"] if o.get("confirmed"))

hosts = [h["name"] for h in report["host"]]
check(hosts == ic0, "ic0 rows = ic0.def rows in order (%d vs %d)" % (len(hosts), len(ic0)))
for h in report["host"]:
    n, m = h["name"], h.get("method")
    check(h["measured"] is True and finite(h.get("ns")), "%s: measured with a finite ns" % n)
    if m == "refused deploy":
        check(h["ns"] > 0, "%s (%s): ns = %s" % (n, m, h["ns"]))
    elif m == "loop":
        pass
    elif m in ("message", "trapping message"):
        check(finite(h.get("ns_message")) and h["ns_message"] > 0, "%s: ns_message" % n)
    else:
        check(False, "%s: method %s" % (n, m))
    if m == "refused deploy":
        check(h.get("outcome") == "UNSUPPORTED_IMPORT", "%s: refused (%s)" % (n, h.get("outcome")))
    if m == "trapping message":
        check(h.get("outcome") not in (None, "OK", "NO_REPLY"), "%s: traps (%s)" % (n, h.get("outcome")))

bulk = {b["name"]: b for b in report["bulk"]}
check(sorted(bulk) == ["memory.copy", "memory.fill", "memory.grow"], "bulk rows %s" % sorted(bulk))
for b in bulk.values():
    check(len(b["sizes"]) == 3 and all(finite(v) for v in b["ns"]), "%s: 3 sizes timed" % b["name"])
check(bulk.get("memory.grow", {}).get("unit") == "page", "memory.grow is per page")
check(finite(report.get("deploy_ns_per_byte")) and report["deploy_ns_per_byte"] > 0, "deploy cost")

if bad:
    print("FAIL:\n  " + "\n  ".join(bad[:40]), file=sys.stderr)
    sys.exit(1)
print("ok: %d opcodes (%d confirmed), %d ic0 functions, 3 bulk rows, %.1f s"
      % (len(ops), confirmed, len(ic0), report["seconds"]))
EOF
