#!/usr/bin/env bash
# bench_node.sh TALLY - `tally bench node` end to end on a small load: the in-process
# part (admission one by one and in batches, rounds, and the auditor's replay with 1 and with
# the default signature threads, whose divergence would fail the bench) and the JSON-RPC part
# (a node child, 1 to 64 connections and JSON-RPC batches) all complete and report a positive
# rate for each line; every message is executed (blocks cover them). No rate is compared with
# another: speed is checked by the benchmark itself (docs/benchmarks.md), never by a test.
set -euo pipefail
tally=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-bench-node-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$tally" bench node --messages 300 --json > "$work/out.json" 2> "$work/err" \
    || { cat "$work/err" >&2; echo "FAIL: tally bench node --messages 300 --json exited" >&2; exit 1; }

python3 - "$work/out.json" <<'PY'
import json, math, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = []
def check(cond, what):
    if not cond:
        bad.append(what)
def rate(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0
check([l.get("part") for l in lines] == ["in-process", "rpc"], "parts: %r" % [l.get("part") for l in lines])
if len(lines) == 2:
    p, r = lines
    check(p["messages"] == 300, "in-process messages %r" % p["messages"])
    # default genesis: 1000 messages per block, so the 300 (and the warm-up) fit one or two
    check(1 <= p["blocks"] <= 2, "blocks %r" % p["blocks"])
    for k in ("admit_per_s", "admit_batch100_per_s", "admit_batch1000_per_s",
              "exec_commit_per_s", "replay_1_thread_per_s", "replay_per_s"):
        check(rate(p.get(k)), "%s = %r" % (k, p.get(k)))
    check(r["messages"] == 75, "rpc messages per run %r" % r["messages"])
    want = [(1, 1), (4, 1), (16, 1), (64, 1), (1, 100)]
    check([(x["connections"], x["per_request"]) for x in r["runs"]] == want, "rpc runs %r" % r["runs"])
    for x in r["runs"]:
        check(rate(x["submit_per_s"]) and rate(x["end_to_end_per_s"]), "rpc rates %r" % x)
        check(1 <= x["per_commit"] <= 100, "per_commit %r" % x)
for b in bad:
    print("FAIL:", b, file=sys.stderr)
if bad:
    sys.exit(1)
print("bench_node: ok (%d in-process fields, %d rpc runs)" % (6, len(lines[1]["runs"])))
PY

# --calls: every call of the run executed (the bench checks the callee's count itself and fails
# otherwise) and a figure is printed; its sign is not asserted (a timing difference).
"$tally" bench node --calls --messages 300 --json > "$work/calls.json" 2> "$work/err" \
    || { cat "$work/err" >&2; echo "FAIL: tally bench node --calls exited" >&2; exit 1; }
grep -q '"part":"calls","messages":30,"calls":300,"blocks":1,' "$work/calls.json" \
    || { cat "$work/calls.json" >&2; echo "FAIL: bench node --calls output" >&2; exit 1; }
echo "bench_node --calls: ok"

# --tiers: both tiers run each time (the bench fails if a run was not in its tier, or if any
# message of a run is left without a receipt) and report positive times; no ratio is asserted.
"$tally" bench node --tiers --messages 300 --repeat 2 --json > "$work/tiers.json" 2> "$work/err" \
    || { cat "$work/err" >&2; echo "FAIL: tally bench node --tiers exited" >&2; exit 1; }
python3 - "$work/tiers.json" <<'PY'
import json, math, sys
t = json.loads(open(sys.argv[1]).read())
ok = t.get("part") == "tiers" and t.get("messages") == 300 and t.get("runs") == 2
for k in ("interp_us", "interp_cpu_us", "compiled_us", "compiled_cpu_us"):
    ok = ok and isinstance(t.get(k), (int, float)) and math.isfinite(t[k]) and t[k] > 0
if not ok:
    print("FAIL: bench node --tiers output %r" % t, file=sys.stderr)
    sys.exit(1)
PY
echo "bench_node --tiers: ok"
