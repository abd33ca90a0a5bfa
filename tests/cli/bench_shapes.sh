#!/usr/bin/env bash
# bench_shapes.sh TALLY - `tally bench shapes --runs 1 --json` (docs/weights.md "Code shapes")
# reports every shape of both schedules, in order, with the instructions each run is charged:
# the metering's counts are exact (the loop, the instrumenter's weights, ic0.def's costs for the
# ic0 loops), so they are asserted; the rates are timings and only checked to be positive
# (DEVELOPERS.md: speed is checked by benchmarks, never by timed tests).
set -euo pipefail
tally=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-shapes-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$tally" bench shapes --runs 1 --json > "$work/s.json" 2> "$work/err" \
    || { cat "$work/err" >&2; echo "FAIL: tally bench shapes --runs 1 --json exited $?" >&2; exit 1; }
"$tally" bench shapes --schedule 3 > /dev/null 2>&1 && { echo "FAIL: --schedule 3 accepted" >&2; exit 1; }

python3 - "$work/s.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
# shape: (iterations, charged per iteration in v1, in v2); a run adds the loop's set-up
# (3 in v1, 6 in v2: the entry of `run` and the counter's first load)
want = [
    ("plain", 1000000, 46, 46), ("locals", 2000, 12, 12512), ("br_table", 1000000, 11, 12),
    ("nesting", 20000, 9, 9), ("call_indirect", 1000000, 18, 18),
    ("memory.fill 0", 1000000, 109, 109), ("memory.copy 0", 1000000, 109, 109),
    ("memory.init 0", 1000000, 109, 109), ("table.grow 1", 20000, 309, 309),
    # ic0 loops: ic0.def's base cost + the loop, the call, its arguments, a result's drop
    ("msg_arg_data_size", 1000000, 512, 512), ("canister_self_size", 1000000, 512, 512),
    ("time", 1000000, 512, 512), ("stable_size", 1000000, 32, 32),
    ("stable64_read 0", 1000000, 34, 34), ("debug_print 0", 1000000, 113, 113),
    ("debug_print 0 node", 1000000, 113, 113),
]
bad = []
scheds = report["schedules"]
if [s["schedule"] for s in scheds] != [1, 2]:
    bad.append("schedules %s" % [s["schedule"] for s in scheds])
for s in scheds:
    v = s["schedule"]
    rows = s["shapes"]
    if [r["shape"] for r in rows] != [w[0] for w in want]:
        bad.append("v%d shapes %s" % (v, [r["shape"] for r in rows]))
        continue
    for r, (name, iters, c1, c2) in zip(rows, want):
        expect = iters * (c1 if v == 1 else c2) + (3 if v == 1 else 6)
        if r["iterations"] != iters or r["charged"] != expect:
            bad.append("v%d %s: %d iterations, charged %d, want %d" % (v, name, r["iterations"], r["charged"], expect))
        if not r["rate"] > 0 or not r["vs_plain"] > 0:
            bad.append("v%d %s: rate %s" % (v, name, r["rate"]))
if bad:
    print("FAIL:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
print("bench shapes: %d shapes x 2 schedules, every charge exact" % len(want))
PY
