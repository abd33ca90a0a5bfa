/* bench_weights.c - `tally bench weights`: measures what every instruction of engine/opcodes.def,
 * the bulk memory instructions per byte and every ic0 host function cost in tally's VM with
 * metering on, and compares it with a weight schedule (issue 10; docs/weights.md).
 *
 * Method: the Internet Computer's `wasm_instructions` benchmark (../shared/IC-REFERENCE.md
 * section 5) on tally's interpreter. For each opcode a generated module (bench_gen.c) runs a loop
 * whose body repeats the instruction R times on black-box operands; the module is instrumented
 * with the schedule, compiled, instantiated afresh and timed N times. ns per instruction =
 * (t - t_empty_loop) / (iterations x R) from the fastest run (the median is reported too); the
 * instructions charged come from the metering counter itself. A twin with 2R repeats must take
 * more than 1.5x as long (the IC's 2/3 rule): an interpreter optimizes nothing away, so this
 * is a check of linearity, and it shows which instructions the compiler turns into nothing.
 * The numbers are printed by bench_report.c. This file is not a test: `meson test` never runs it. */
#include "bench_gen.h"
#include "cli.h"
#include "host.h"
#include "instrument.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <time.h>

enum { DEFAULT_ITERS = 2000, DEFAULT_REPEAT = 500, MAX_RUNS = 99, BULK_SIZE = 16 };
enum { INNER_CALLS = 5 }; /* back-to-back calls per run; the fastest counts */
enum { HOST_ITERS = 1000, HOST_REPEAT = 10, HOST_BYTE_ITERS = 100 };
#define COUNTER_START ((int64_t)1 << 60)

/* ---- the ic0 table, expanded here with our own context bits -------------------------------- */

enum {
    CTX_START = 1u << 0, CTX_INIT = 1u << 1, CTX_POST_UPGRADE = 1u << 2,
    CTX_PRE_UPGRADE = 1u << 3, CTX_UPDATE = 1u << 4, CTX_QUERY = 1u << 5,
    CTX_QUERY_NR = 1u << 6, CTX_TRANSFORM = 1u << 7, CTX_COMPOSITE = 1u << 8,
    CTX_REPLY = 1u << 9, CTX_REJECT = 1u << 10, CTX_CQ_REPLY = 1u << 11,
    CTX_CQ_REJECT = 1u << 12, CTX_CLEANUP = 1u << 13, CTX_CQ_CLEANUP = 1u << 14,
    CTX_INSPECT = 1u << 15, CTX_HEARTBEAT = 1u << 16, CTX_TIMER = 1u << 17,
    CTX_LOW_MEMORY = 1u << 18,
    CTX_TASK = CTX_HEARTBEAT | CTX_TIMER | CTX_LOW_MEMORY,
    CTX_ALL = (1u << 19) - 1u - CTX_START,
};
#define SUPPORTED true
#define UNSUPPORTED false

typedef struct ic0_bench_row {
    const char *name, *params, *results;
    uint32_t base, per_byte, ctx;
    bool supported;
} ic0_bench_row;

static const ic0_bench_row ic0_rows[] = {
#define IC0(name, params, results, base, per_byte, ctx, support) \
    {#name, params, results, base, per_byte, ctx, support},
#include "ic0.def"
#undef IC0
};

/* ---- timing ------------------------------------------------------------------------------------ */

typedef struct sample {
    double min_ns, med_ns;
    uint64_t charged; /* instructions charged by one run */
} sample;

typedef struct baseline_cache {
    uint32_t iters;
    sample s;
} baseline_cache;

typedef struct ctx {
    bench_report *rep;
    engine_config cfg;
    engine_run_config rc;
    engine_func *ooi;
    unsigned runs;
    baseline_cache base[8];
    uint32_t nbase;
    double deploy_ns;     /* decode + validate + instrument + decode + validate + compile */
    uint64_t deploy_bytes; /* of the original modules */
    uint32_t deploy_modules;
} ctx;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

/* One run: a fresh instance of code whose `run` is called `calls` times back to back; *ns is
 * the fastest call (a loaded machine preempts some calls; the fastest is the least disturbed). */
static status time_once(ctx *x, const engine_code *code, unsigned calls, double *ns,
                        uint64_t *charged)
{
    engine_instance *inst = NULL;
    engine_extern imp = {.kind = EXT_FUNC, .u.func = x->ooi};
    status st = engine_instance_new(code, &x->rc, &imp, 1, &inst, NULL);
    engine_extern fx, cx;
    if (st == ST_OK)
        st = engine_instance_export(inst, span_of("run", 3), &fx);
    if (st == ST_OK)
        st = engine_instance_export(inst, span_of(INSTRUMENT_COUNTER_EXPORT,
                                                  strlen(INSTRUMENT_COUNTER_EXPORT)), &cx);
    if (st == ST_OK && (fx.kind != EXT_FUNC || cx.kind != EXT_GLOBAL))
        st = ST_UNKNOWN_EXPORT;
    *ns = INFINITY;
    for (unsigned i = 0; i < calls && st == ST_OK; i++) {
        uint64_t results[1];
        engine_global_set(cx.u.global, (uint64_t)COUNTER_START);
        double t0 = now_ns();
        st = engine_instance_invoke(inst, fx.u.func, NULL, results);
        double t = now_ns() - t0;
        *ns = t < *ns ? t : *ns;
        *charged = (uint64_t)(COUNTER_START - (int64_t)engine_global_get(cx.u.global));
    }
    if (inst)
        engine_instance_free(inst);
    return st;
}

/* Instruments, compiles and times the module `wasm` x->runs times (runs of `calls` calls). */
static status time_module(ctx *x, span wasm, unsigned calls, sample *out)
{
    engine_module *m = NULL, *im = NULL;
    engine_code *code = NULL;
    buf ib = {0};
    double t[MAX_RUNS];
    double t0 = now_ns();
    status st = engine_module_load(&x->cfg, wasm, &m, NULL);
    if (st == ST_OK)
        st = instrument_module(m, x->rep->schedule, &ib, NULL);
    if (st == ST_OK)
        st = engine_module_load(&x->cfg, span_of(ib.ptr, ib.len), &im, NULL);
    if (st == ST_OK)
        st = engine_code_compile(im, &code);
    if (st == ST_OK) {
        x->deploy_ns += now_ns() - t0;
        x->deploy_bytes += wasm.len;
        x->deploy_modules++;
    }
    for (unsigned i = 0; i < x->runs && st == ST_OK; i++)
        st = time_once(x, code, calls, &t[i], &out->charged);
    if (st == ST_OK) {
        qsort(t, x->runs, sizeof t[0], cmp_double);
        out->min_ns = t[0];
        out->med_ns = t[x->runs / 2];
    }
    engine_code_free(code);
    engine_module_free(im);
    engine_module_free(m);
    buf_fini(&ib);
    return st;
}

static status time_op(ctx *x, opcode op, uint32_t repeat, uint32_t iters, uint32_t size,
                      sample *out)
{
    buf b = {0};
    status st = bench_gen_module(op, repeat, iters, size, &b);
    /* growing instances cannot be called again with the same effect */
    unsigned calls = op == OP_MEMORY_GROW || op == OP_TABLE_GROW ? 1 : INNER_CALLS;
    if (st == ST_OK)
        st = time_module(x, span_of(b.ptr, b.len), calls, out);
    buf_fini(&b);
    return st;
}

/* The empty loop of `iters` iterations (cached). */
static status baseline(ctx *x, uint32_t iters, sample *out)
{
    for (uint32_t i = 0; i < x->nbase; i++)
        if (x->base[i].iters == iters) {
            *out = x->base[i].s;
            return ST_OK;
        }
    status st = time_op(x, OP_COUNT, 0, iters, 0, out);
    if (st == ST_OK && x->nbase < BASE_ARRAY_LEN(x->base))
        x->base[x->nbase++] = (baseline_cache){iters, *out};
    return st;
}

/* ---- opcodes ------------------------------------------------------------------------------------ */

/* The cheapest common instructions, whose median time is 1 unit. */
static bool is_reference(opcode op)
{
    static const opcode refs[] = {OP_I32_ADD, OP_I64_ADD, OP_I32_SUB, OP_I64_SUB, OP_I32_AND,
                                  OP_I64_AND, OP_I32_OR, OP_I64_OR, OP_I32_XOR, OP_I64_XOR,
                                  OP_LOCAL_GET, OP_LOCAL_SET, OP_LOCAL_TEE};
    for (size_t i = 0; i < BASE_ARRAY_LEN(refs); i++)
        if (op == refs[i])
            return true;
    return false;
}

static bool wanted(const ctx *x, opcode op)
{
    const char *f = x->rep->filter;
    return !f || strstr(engine_opcodes[op].text, f) || is_reference(op) ||
           (op == OP_IF && strstr("else", f));
}

static void measure_op(ctx *x, opcode op, bench_op_row *row)
{
    bench_plan p;
    bench_gen_plan(op, &p);
    *row = (bench_op_row){.op = op, .note = p.reason,
                          .weight = engine_opcode_weight(op, x->rep->schedule)};
    row->charge = row->weight + p.extra;
    if (p.kind == BENCH_SKIP)
        return;
    uint32_t iters = p.iters ? p.iters : DEFAULT_ITERS;
    uint32_t rep = p.repeat ? p.repeat : DEFAULT_REPEAT;
    sample b, s1, s2;
    status st = baseline(x, iters, &b);
    if (st == ST_OK)
        st = time_op(x, op, rep, iters, BULK_SIZE, &s1);
    if (st == ST_OK)
        st = time_op(x, op, 2 * rep, iters, BULK_SIZE, &s2);
    if (st != ST_OK) {
        row->note = status_name(st);
        return;
    }
    double n = (double)iters * rep;
    row->measured = true;
    row->ns = (s1.min_ns - b.min_ns) / n;
    row->ns_median = (s1.med_ns - b.med_ns) / n;
    row->units = (double)(s1.charged - b.charged) / n;
    row->confirmed = s1.min_ns < s2.min_ns * 2.0 / 3.0;
    if (p.kind == BENCH_MINUS) {
        const bench_op_row *m = &x->rep->ops[p.minus];
        if (!m->measured) {
            *row = (bench_op_row){.op = op, .note = "needs its minuend", .weight = row->weight,
                                  .charge = row->charge};
            return;
        }
        row->ns -= m->ns;
        row->ns_median -= m->ns_median;
        row->units -= m->units;
    }
}

static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Reference unit, suggested weights, ratios and flags (after every opcode is measured). */
static void derive_ops(bench_report *r)
{
    double v[OP_COUNT];
    size_t n = 0;
    for (int op = 0; op < OP_COUNT; op++)
        if (r->ops[op].measured && is_reference((opcode)op))
            v[n++] = r->ops[op].ns;
    r->reference_ns = median(v, n);
    n = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        bench_op_row *row = &r->ops[op];
        if (!row->measured)
            continue;
        double k = row->ns / r->reference_ns;
        row->suggested = (row->weight == 0 && k < 0.5) ? 0 : k < 1.5 ? 1 : (uint32_t)lround(k);
        row->ratio = row->charge ? row->ns / row->charge : NAN;
        if (row->charge)
            v[n++] = row->ratio;
    }
    r->median_ratio = median(v, n);
    for (int op = 0; op < OP_COUNT; op++) {
        bench_op_row *row = &r->ops[op];
        if (row->measured)
            row->flagged = isnan(row->ratio) ? row->ns > 0.5 * r->reference_ns
                                             : row->ratio > 2 * r->median_ratio;
    }
}

/* ---- bulk memory per byte ------------------------------------------------------------------------ */

static void measure_bulk(ctx *x, opcode op, bench_bulk_row *row)
{
    static const uint32_t sizes[BENCH_BULK_SIZES] = {16, 4096, 65536};
    static const uint32_t iters[BENCH_BULK_SIZES] = {DEFAULT_ITERS, 1000, 200};
    static const uint32_t reps[BENCH_BULK_SIZES] = {100, 50, 10};
    *row = (bench_bulk_row){.op = op};
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < BENCH_BULK_SIZES; i++) {
        sample b, s;
        row->sizes[i] = sizes[i];
        if (baseline(x, iters[i], &b) != ST_OK ||
            time_op(x, op, reps[i], iters[i], sizes[i], &s) != ST_OK)
            return;
        double n = (double)iters[i] * reps[i];
        row->ns[i] = (s.min_ns - b.min_ns) / n;
        row->units[i] = (double)(s.charged - b.charged) / n;
        sx += sizes[i], sy += row->ns[i], sxx += (double)sizes[i] * sizes[i];
        sxy += (double)sizes[i] * row->ns[i];
    }
    double k = BENCH_BULK_SIZES;
    row->byte_ns = (k * sxy - sx * sy) / (k * sxx - sx * sx);
    row->fixed_ns = (sy - row->byte_ns * sx) / k;
    double ref = x->rep->reference_ns;
    row->fixed_suggested = row->fixed_ns / ref;
    row->byte_suggested = row->byte_ns / ref;
    row->flagged = row->byte_ns > 2 * x->rep->median_ratio; /* charged 1 per byte */
}

/* ---- host functions ------------------------------------------------------------------------------ */

typedef struct host_ctx {
    host_config cfg;
    host_msg msg;
    uint8_t arg[65536];
    uint8_t id[29];
} host_ctx;

/* Deploys `wasm` in a fresh canister and times x->runs calls of kind `kind`. */
static status time_canister(ctx *x, host_ctx *h, span wasm, host_call_kind kind, sample *out)
{
    host_code *code = NULL;
    host_canister *c = NULL;
    host_result res;
    host_result_init(&res);
    double t[MAX_RUNS];
    status st = host_code_new(&h->cfg, wasm, &code, NULL);
    if (st == ST_OK)
        st = host_canister_new(&h->cfg, span_of(h->id, sizeof h->id), &c);
    if (st == ST_OK)
        st = host_canister_install(c, code, &h->msg, &res);
    if (st == ST_OK && res.st != ST_OK)
        st = res.st;
    for (unsigned i = 0; i < x->runs && st == ST_OK; i++) {
        host_result_fini(&res);
        host_result_init(&res);
        double t0 = now_ns();
        st = host_canister_call(c, kind, &h->msg, &res);
        t[i] = now_ns() - t0;
        out->charged = res.instructions;
        if (st == ST_OK && res.st != ST_OK && res.st != ST_NO_REPLY)
            st = res.st;
    }
    if (st == ST_OK) {
        qsort(t, x->runs, sizeof t[0], cmp_double);
        out->min_ns = t[0];
        out->med_ns = t[x->runs / 2];
    }
    host_result_fini(&res);
    host_canister_free(c);
    host_code_free(code);
    return st;
}

static status time_host(ctx *x, host_ctx *h, const bench_host_spec *spec, uint32_t repeat,
                        uint32_t iters, host_call_kind kind, sample *out)
{
    buf b = {0};
    status st = bench_gen_canister(spec, repeat, iters, &b);
    if (st == ST_OK)
        st = time_canister(x, h, span_of(b.ptr, b.len), kind, out);
    buf_fini(&b);
    return st;
}

/* How row `w` is called: its arguments, which one is the byte count and a sample size. Returns
 * false (and a reason) when the function cannot be called in a loop. */
static bool host_recipe(const ic0_bench_row *w, int64_t args[8], int *size_arg,
                        uint32_t *sample_bytes, const char **why)
{
    static const char *const once[] = {"msg_reply", "msg_reject", "trap", "accept_message"};
    static const struct { const char *name; uint32_t bytes; } samples[] = {
        {"msg_arg_data_copy", 4096}, {"msg_caller_copy", 29}, {"canister_self_copy", 29},
        {"subnet_self_copy", 29}, {"msg_reply_data_append", 4096}, {"certified_data_set", 32},
        {"debug_print", 4096}, {"stable_write", 4096}, {"stable_read", 4096},
        {"stable64_write", 4096}, {"stable64_read", 4096}, {"is_controller", 29},
        {"msg_method_name_copy", 5},
    };
    for (size_t i = 0; i < BASE_ARRAY_LEN(once); i++)
        if (!strcmp(w->name, once[i])) {
            *why = "ends the message or may run once per message";
            return false;
        }
    memset(args, 0, 8 * sizeof args[0]);
    *size_arg = -1;
    *sample_bytes = 0;
    size_t np = strlen(w->params);
    bool is_write = strstr(w->name, "stable") && strstr(w->name, "_write");
    if (np == 3 && w->per_byte) { /* (dst, offset, size) or stable write (offset, src, size) */
        args[is_write ? 1 : 0] = 1024;
        *size_arg = 2;
    } else if (np == 2 && !strcmp(w->params, "ii")) { /* (src, size) */
        args[0] = 1024;
        *size_arg = 1;
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(samples); i++)
        if (!strcmp(w->name, samples[i].name))
            *sample_bytes = samples[i].bytes;
    return true;
}

static host_call_kind host_kind(const ic0_bench_row *w, const char **export_name)
{
    if (w->ctx & CTX_UPDATE) {
        *export_name = "canister_update bench";
        return HOST_CALL_UPDATE;
    }
    if (w->ctx & CTX_QUERY_NR) {
        *export_name = "canister_query bench";
        return HOST_CALL_QUERY;
    }
    if (w->ctx & CTX_INSPECT) {
        *export_name = "canister_inspect_message";
        return HOST_CALL_INSPECT;
    }
    return 0;
}

/* Base cost (size 0) and, where a sample size is known, per-byte cost of one ic0 function. */
static void measure_host(ctx *x, host_ctx *h, const ic0_bench_row *w, bench_host_row *row)
{
    *row = (bench_host_row){.name = w->name, .base_cost = w->base, .byte_cost = w->per_byte};
    int64_t args[8];
    int size_arg;
    uint32_t bytes;
    const char *export_name = NULL;
    host_call_kind kind = host_kind(w, &export_name);
    if (!w->supported) {
        row->note = "not supported by tally (deploy rejects it)";
        return;
    }
    if (!kind) {
        row->note = "callable only in callbacks (tally has no inter-canister calls)";
        return;
    }
    if (!host_recipe(w, args, &size_arg, &bytes, &row->note))
        return;
    bool stable_io = strstr(w->name, "stable") && (strstr(w->name, "_read") ||
                                                   strstr(w->name, "_write"));
    bench_host_spec spec = {w->name, w->params, w->results, export_name,
                            stable_io ? "stable64_grow" : NULL, args};
    bench_host_spec empty = {NULL, "", "", export_name, NULL, args};
    sample b, s;
    status st = time_host(x, h, &empty, 0, HOST_ITERS, kind, &b);
    if (st == ST_OK)
        st = time_host(x, h, &spec, HOST_REPEAT, HOST_ITERS, kind, &s);
    if (st != ST_OK) {
        row->note = st == ST_CONTRACT_VIOLATION
                        ? "traps: nothing to read here (no data certificate, no env variables)"
                        : status_name(st);
        return;
    }
    double n = (double)HOST_ITERS * HOST_REPEAT;
    row->measured = true;
    row->ns_call = (s.min_ns - b.min_ns) / n;
    row->units_call = (double)(s.charged - b.charged) / n;
    row->base_suggested = row->ns_call / x->rep->reference_ns;
    row->ratio = w->base ? row->ns_call / w->base : NAN;
    row->flagged = isnan(row->ratio) || row->ratio > 2 * x->rep->median_ratio;
    if (size_arg < 0 || !bytes)
        return;
    sample s0, sb;
    st = time_host(x, h, &spec, HOST_REPEAT, HOST_BYTE_ITERS, kind, &s0);
    args[size_arg] = bytes;
    if (st == ST_OK)
        st = time_host(x, h, &spec, HOST_REPEAT, HOST_BYTE_ITERS, kind, &sb);
    if (st != ST_OK)
        return;
    row->sample_bytes = bytes;
    row->ns_byte = (sb.min_ns - s0.min_ns) / ((double)HOST_BYTE_ITERS * HOST_REPEAT * bytes);
    row->byte_suggested = row->ns_byte / x->rep->reference_ns;
}

static status measure_hosts(ctx *x)
{
    bench_report *r = x->rep;
    host_ctx *h = base_calloc(1, sizeof *h);
    r->host = base_calloc(BASE_ARRAY_LEN(ic0_rows), sizeof r->host[0]);
    if (!h || !r->host) {
        base_free(h);
        return ST_OUT_OF_MEMORY;
    }
    host_config_default(&h->cfg);
    h->cfg.schedule = r->schedule;
    h->cfg.max_reply_bytes = 1u << 30;
    memset(h->id, 0x2a, sizeof h->id);
    h->cfg.subnet_id = span_of(h->id, sizeof h->id);
    h->msg = (host_msg){.method = span_of("bench", 5), .arg = span_of(h->arg, sizeof h->arg),
                        .caller = span_of(h->id, sizeof h->id), .time = 1,
                        .instruction_limit = (uint64_t)1 << 50};
    for (size_t i = 0; i < BASE_ARRAY_LEN(ic0_rows); i++) {
        if (r->filter && !strstr(ic0_rows[i].name, r->filter))
            continue;
        measure_host(x, h, &ic0_rows[i], &r->host[r->nhost++]);
    }
    base_free(h);
    return ST_OK;
}

/* ---- the command ---------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally bench weights [--runs N] [--json] [--svg FILE] [--write-def FILE]\n"
            "                           [--filter OP] [--schedule N]\n\n"
            "Times every instruction of engine/opcodes.def, memory.fill/copy per byte and every\n"
            "ic0 host function in tally's VM with metering on (the IC's wasm_instructions method:\n"
            "a loop repeating the instruction on black-box operands, minus the empty loop), and\n"
            "compares the time with the weights of a schedule. See docs/weights.md.\n\n"
            "  --runs N          timed runs per module, min and median reported (default 3)\n"
            "  --json            print JSON instead of the text tables\n"
            "  --svg FILE        write a scatter plot (weight vs ns per instruction)\n"
            "  --write-def FILE  write the suggested weights (NAME weight per line) as a\n"
            "                    candidate schedule; opcodes.def itself is never touched\n"
            "  --filter OP       only instructions/ic0 functions whose name contains OP\n"
            "  --schedule N      the weight schedule to instrument with (default %d)\n",
            ENGINE_SCHEDULE_V1);
}

typedef struct opts {
    unsigned runs;
    bool json;
    const char *svg, *def, *filter;
    int schedule;
} opts;

static bool parse(int argc, char **argv, opts *o)
{
    *o = (opts){.runs = 3, .schedule = ENGINE_SCHEDULE_V1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!v)
            return false;
        i++;
        if (!strcmp(a, "--runs")) {
            long n = strtol(v, NULL, 10);
            if (n < 1 || n > MAX_RUNS)
                return false;
            o->runs = (unsigned)n;
        } else if (!strcmp(a, "--svg")) {
            o->svg = v;
        } else if (!strcmp(a, "--write-def")) {
            o->def = v;
        } else if (!strcmp(a, "--filter")) {
            o->filter = v;
        } else if (!strcmp(a, "--schedule")) {
            o->schedule = atoi(v);
        } else {
            return false;
        }
    }
    if (o->def) {
        const char *base = strrchr(o->def, '/');
        if (!strcmp(base ? base + 1 : o->def, "opcodes.def")) {
            fprintf(stderr, "tally bench weights: --write-def writes a candidate schedule; it "
                            "never overwrites opcodes.def\n");
            return false;
        }
    }
    if (engine_opcode_weight(OP_NOP, o->schedule) == UINT32_MAX) {
        fprintf(stderr, "tally bench weights: unknown schedule %d\n", o->schedule);
        return false;
    }
    return true;
}

/* Fills machine and date of the report. */
static void describe_machine(bench_report *r)
{
    char model[96] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.machine, sizeof u.machine, "?");
    snprintf(r->machine, sizeof r->machine, "%s, %ld CPUs, %s", model,
             sysconf(_SC_NPROCESSORS_ONLN), u.machine);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->date, sizeof r->date, "%Y-%m-%d %H:%M UTC", &tm);
}

/* A flagged opcode is measured RECHECKS more times and keeps its fastest result, so that a
 * run disturbed by another process does not pass for an outlier. */
enum { RECHECKS = 2 };
static void recheck_flagged(ctx *x)
{
    bench_report *r = x->rep;
    for (int op = 0; op < OP_COUNT; op++) {
        for (int k = 0; k < RECHECKS && r->ops[op].flagged; k++) {
            bench_op_row again;
            measure_op(x, (opcode)op, &again);
            if (again.measured && again.ns < r->ops[op].ns) {
                again.flagged = true;
                r->ops[op] = again;
            }
            derive_ops(r);
        }
    }
}

static status measure_all(ctx *x)
{
    bench_report *r = x->rep;
    for (int op = 0; op < OP_COUNT; op++) {
        r->ops[op] = (bench_op_row){.op = (opcode)op, .note = "filtered out",
                                    .weight = engine_opcode_weight((opcode)op, r->schedule)};
        if (wanted(x, (opcode)op))
            measure_op(x, (opcode)op, &r->ops[op]);
        if (!x->rep->filter || wanted(x, (opcode)op))
            fputc('.', stderr);
    }
    fputc('\n', stderr);
    derive_ops(r);
    recheck_flagged(x);
    static const opcode bulk[2] = {OP_MEMORY_FILL, OP_MEMORY_COPY};
    for (int i = 0; i < 2; i++)
        if (!r->filter || strstr(engine_opcodes[bulk[i]].text, r->filter)) {
            measure_bulk(x, bulk[i], &r->bulk[i]);
            r->bulk_done = true;
        }
    r->deploy_modules = x->deploy_modules;
    r->deploy_bytes = x->deploy_bytes;
    r->deploy_ns_per_byte = x->deploy_bytes ? x->deploy_ns / (double)x->deploy_bytes : NAN;
    return measure_hosts(x);
}

int bench_weights(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    opts o;
    if (!parse(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    double t0 = now_ns();
    static const functype void_type = {0, 0, NULL};
    ctx *x = base_calloc(1, sizeof *x);
    bench_report *r = base_calloc(1, sizeof *r);
    status st = x && r ? ST_OK : ST_OUT_OF_MEMORY;
    if (st == ST_OK) {
        x->rep = r;
        x->runs = o.runs;
        r->runs = o.runs;
        r->schedule = o.schedule;
        r->filter = o.filter;
        engine_config_default(&x->cfg);
        engine_run_config_default(&x->cfg, &x->rc);
        describe_machine(r);
        st = engine_host_func_new(&void_type, out_of_instructions, NULL, &x->ooi);
    }
    if (st == ST_OK)
        st = measure_all(x);
    if (st == ST_OK) {
        r->seconds = (now_ns() - t0) / 1e9;
        if (o.json)
            bench_report_json(r, stdout);
        else
            bench_report_text(r, stdout);
        if (o.svg)
            st = bench_report_svg(r, o.svg);
        if (st == ST_OK && o.def)
            st = bench_report_def(r, o.def);
    }
    if (st != ST_OK)
        fprintf(stderr, "tally bench weights: %s: %s\n", status_name(st), status_message(st));
    if (x)
        engine_host_func_free(x->ooi);
    if (r)
        base_free(r->host);
    base_free(r);
    base_free(x);
    return st == ST_OK ? 0 : 1;
}
