/* bench_gen.h - friends inside cli/: the generator of the micro-benchmark modules that
 * `tally bench weights` (bench_weights.c) times. Not a library header.
 *
 * Every module follows the Internet Computer's `wasm_instructions` benchmark shape
 * (the IC spec section 5): an exported function `run` : [] -> [] copies black-box
 * operands from mutable globals into locals, runs `loop <snippet x repeat> br_if (i -= 1) end`
 * `iters` times, and writes its result locals back to globals. The snippet exercises one
 * instruction with the operands it needs; repeat = 0 gives the empty-loop baseline. */
#ifndef TALLY_BENCH_GEN_H
#define TALLY_BENCH_GEN_H

#include "engine.h"

#include <stdio.h>

/* What the generator makes of one opcode. */
typedef enum bench_kind {
    BENCH_SKIP = 0, /* cannot run in a loop (reason says why) */
    BENCH_PLAIN,    /* the snippet; time per repeat is the opcode's cost */
    BENCH_MINUS,    /* the snippet minus the snippet of `minus` (e.g. else = if-else - if) */
    BENCH_TRAP,     /* once per run (unreachable): `run` = the instruction, called many times,
                       minus `run` = nothing (bench_gen_module with repeat 1 and 0) */
} bench_kind;

typedef struct bench_plan {
    bench_kind kind;
    opcode minus;       /* BENCH_MINUS: the opcode whose time is subtracted */
    uint32_t iters;     /* loop iterations (0: the caller's default) */
    uint32_t repeat;    /* repeats per iteration (0: the caller's default) */
    uint32_t extra;     /* units charged besides the opcode's weight: the callee's entry (1)
                           for calls, the size operand for bulk instructions */
    const char *reason; /* BENCH_SKIP: why; otherwise a note on the shape, or NULL */
} bench_plan;

/* How opcode op is benchmarked. */
void bench_gen_plan(opcode op, bench_plan *out);

/* Appends to *out the benchmark module of op (op = OP_COUNT: the empty-loop baseline) with
 * `repeat` snippets per iteration and `iters` iterations; `size` is the size operand of the
 * bulk instructions (memory.fill/copy/init, table.*). ST_OK, ST_OUT_OF_MEMORY, or
 * ST_BUG_INVARIANT for an opcode whose plan is BENCH_SKIP. */
status bench_gen_module(opcode op, uint32_t repeat, uint32_t iters, uint32_t size, buf *out);

/* Host-call benchmark canister (host-api rules: imports from "ic0" only, one export). It imports
 * ic0.`name` with the given signature (one letter per type, i = i32, I = i64), and its export
 * `export_name` ("canister_update bench", "canister_query bench" or "canister_inspect_message")
 * calls it repeat x iters times in a loop with the arguments args[] (i32 or i64 constants,
 * results dropped). When `grow_first` is not NULL it also imports ic0.`grow_first` : [I] -> [I]
 * and calls it once with 1 before the loop (one page of stable memory). name = NULL or
 * repeat = 0 gives the empty-loop baseline. */
typedef struct bench_host_spec {
    const char *name, *params, *results;
    const char *export_name;
    const char *grow_first;
    const int64_t *args; /* strlen(params) values */
} bench_host_spec;
status bench_gen_canister(const bench_host_spec *spec, uint32_t repeat, uint32_t iters, buf *out);

/* ---- results (bench_weights.c measures, bench_report.c prints) ---------------------------- */

typedef struct bench_op_row {
    opcode op;
    bool measured;      /* false: skipped (note says why) */
    const char *note;   /* the plan's note, or why it failed */
    double ns;          /* ns per snippet from the fastest runs: (t - t_baseline) / (iters x R) */
    double ns_median;   /* the same from the median runs */
    double units;       /* instructions charged per snippet (read from the counter), the
                           operands' local.get and the result's local.set included */
    uint32_t charge;    /* the opcode's own charge: weight + bench_plan.extra */
    bool confirmed;     /* IC 2/3 rule: t(R) < 2/3 t(2R), i.e. the work is really done */
    uint32_t weight;    /* the opcode's weight in the measured schedule */
    const char *method; /* "loop", "loop minus" (BENCH_MINUS) or "trap run" (BENCH_TRAP) */
    bool once;          /* runs once per call (a trap): not flagged, no suggested weight */
    uint32_t suggested; /* round(ns / reference), at least 1 unless the weight is 0 and free */
    double ratio;       /* ns per unit of the opcode's own charge (ns / charge); NAN if 0 */
    bool flagged;       /* ratio > 2 x median: under-charged */
} bench_op_row;

/* memory.fill and memory.copy per byte, memory.grow per page (the size operand / delta). */
enum { BENCH_BULK_SIZES = 3, BENCH_BULK_ROWS = 3 };
typedef struct bench_bulk_row {
    opcode op;
    const char *unit;                       /* "byte" or "page" */
    uint32_t sizes[BENCH_BULK_SIZES];       /* sizes[0] = 0: not measured */
    double ns[BENCH_BULK_SIZES];            /* ns per operation */
    double units[BENCH_BULK_SIZES];         /* charged per operation */
    double fixed_ns, byte_ns;               /* least-squares fit ns = fixed + byte_ns x size */
    double fixed_suggested, byte_suggested; /* in reference units */
    uint32_t weight;                        /* the opcode's weight (the fixed charge) */
    uint64_t unit_charge;                   /* charged per byte (1) or per page (schedule) */
    bool flagged;                           /* ns per unit charged > 2 x median (or 0 charged) */
} bench_bulk_row;

/* How an ic0 function is measured (docs/weights.md, "ic0 host functions"). */
typedef enum bench_host_method {
    BENCH_HOST_LOOP = 0, /* called repeat x iters times in one message, minus the empty loop */
    BENCH_HOST_MESSAGE,  /* once per message (it ends the message or may run only once):
                               a message making the call, minus an empty message */
    BENCH_HOST_TRAPPING, /* every call traps in the contexts tally runs (callbacks only, no
                               certificate, no env variables): the message making the call and
                               trapping, minus an empty message */
    BENCH_HOST_REFUSED,  /* not supported: a deploy importing it, refused, per attempt */
} bench_host_method;

typedef struct bench_host_row {
    const char *name;
    bool measured;
    const char *note;
    bench_host_method method;
    const char *outcome;           /* status name of the measured message / deploy */
    uint32_t base_cost, byte_cost; /* ic0.def */
    double ns_call;                /* ns per call at size 0 (loop), per message more than an
                                      empty message (message, trapping), per refused deploy */
    double ns_message;             /* message, trapping: ns of the whole message making the
                                      call (the empty message's time is ns_message - ns_call) */
    double units_call;             /* charged per call (the call instruction included) */
    uint32_t sample_bytes;         /* size of the per-byte sample, 0: not measured */
    double ns_byte;
    double base_suggested, byte_suggested;
    double ratio; /* ns per charged unit at size 0 */
    bool flagged;
} bench_host_row;

typedef struct bench_report {
    int schedule;
    unsigned runs;
    bool quick;          /* --quick: fewer iterations (bench_weights.c QUICK_DIVISOR) */
    double reference_ns; /* median ns of the cheap common ops (is_reference in bench_weights.c) */
    double median_ratio; /* median ns per charged unit over the measured opcodes */
    double seconds;      /* wall time of the whole benchmark */
    char machine[160];
    char date[40];
    const char *filter;
    bench_op_row ops[OP_COUNT];
    bench_bulk_row bulk[BENCH_BULK_ROWS];
    bool bulk_done;
    bench_host_row *host;
    uint32_t nhost;
    /* deploy: decode, validate, instrument, decode, validate and compile the generated modules */
    uint32_t deploy_modules;
    uint64_t deploy_bytes;
    double deploy_ns_per_byte;
} bench_report;

/* bench_report.c */
void bench_report_text(const bench_report *r, FILE *out);
void bench_report_json(const bench_report *r, FILE *out);
/* Writes the SVG scatter plot / the candidate weight column. ST_OK or ST_IO_ERROR. */
status bench_report_svg(const bench_report *r, const char *path);
status bench_report_def(const bench_report *r, const char *path);

#endif
