/* bench_weights.c - `tally bench weights`: measures what every instruction of engine/opcodes.def,
 * the bulk memory instructions per byte and every ic0 host function cost in tally's VM with
 * metering on, and compares it with a weight schedule (docs/weights.md).
 *
 * Method: the Internet Computer's `wasm_instructions` benchmark (the IC spec
 * section 5) on tally's interpreter. For each opcode a generated module (bench_gen.c) runs a loop
 * whose body repeats the instruction R times on black-box operands; the module is instrumented
 * with the schedule, compiled, instantiated afresh and timed N times. ns per instruction =
 * (t - t_empty_loop) / (iterations x R) from the fastest run (the median is reported too); the
 * instructions charged come from the metering counter itself. A twin with 2R repeats must take
 * more than 1.5x as long (the IC's 2/3 rule): an interpreter optimizes nothing away, so this
 * is a check of linearity, and it shows which instructions the compiler turns into nothing.
 * What cannot repeat in a loop has its own method: `unreachable` is a trap run (many invokes of
 * a `run` that traps, minus a `run` that returns), `return` a call of a function leaving by
 * return minus a plain call. memory.fill/copy are fitted per byte and memory.grow per page.
 * ic0 functions: in a loop; once-per-message ones as whole messages minus an empty message;
 * those that trap wherever tally runs them (unsupported ones included: they trap when called)
 * as trapping messages (docs/weights.md). --quick divides the work by 10 for tests.
 * The numbers are printed by bench_report.c. `meson test` runs only --quick (tests/cli). */
#include "bench_gen.h"
#include "bench.h"
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
enum { TRAP_CALLS = 2000 };   /* invokes per run of a trap run (unreachable) */
enum { MESSAGE_BATCH = 200 }; /* messages per run of a per-message measurement */
enum { QUICK_DIVISOR = 10 };  /* --quick: iterations and repeats divided by this */
#define COUNTER_START ((int64_t)1 << 60)

/* ---- the ic0 table ------------------------------------------------------------------------------ */

/* host-api's table, read through host.h (host_ic0_row_at). */
typedef host_ic0_row ic0_bench_row;

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
    uint32_t div; /* 1, or QUICK_DIVISOR with --quick */
    baseline_cache base[8];
    uint32_t nbase;
    double deploy_ns;      /* decode + validate + instrument + decode + validate + compile */
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

/* n iterations or repeats, divided for --quick (at least 1). */
static uint32_t scaled(const ctx *x, uint32_t n)
{
    uint32_t v = n / x->div;
    return v ? v : 1;
}

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

/* A fresh instance of code with its `run` export (*fx) and the instruction counter (*cx).
 * *inst is set (to free) even when a later step fails. */
static status open_run(ctx *x, const engine_code *code, engine_instance **inst, engine_extern *fx,
                       engine_extern *cx)
{
    engine_extern imp = {.kind = EXT_FUNC, .u.func = x->ooi};
    *inst = NULL;
    status st = engine_instance_new(code, &x->rc, &imp, 1, NULL, inst, NULL);
    if (st == ST_OK)
        st = engine_instance_export(*inst, span_of("run", 3), fx);
    if (st == ST_OK)
        st = engine_instance_export(
            *inst, span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT)), cx);
    if (st == ST_OK && (fx->kind != EXT_FUNC || cx->kind != EXT_GLOBAL))
        st = ST_UNKNOWN_EXPORT;
    return st;
}

/* One run: a fresh instance of code whose `run` is called `calls` times back to back; *ns is
 * the fastest call (a loaded machine preempts some calls; the fastest is the least disturbed). */
static status time_once(ctx *x, const engine_code *code, unsigned calls, double *ns,
                        uint64_t *charged)
{
    engine_instance *inst;
    engine_extern fx, cx;
    status st = open_run(x, code, &inst, &fx, &cx);
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

/* One run of a trap run: a fresh instance whose `run` is invoked `calls` times back to back,
 * timed together; *ns is the mean per call. A trap is the expected outcome of each call (the
 * instance is reset by the engine and ready for the next one). */
static status time_batch(ctx *x, const engine_code *code, unsigned calls, double *ns,
                         uint64_t *charged)
{
    engine_instance *inst;
    engine_extern fx, cx;
    status st = open_run(x, code, &inst, &fx, &cx);
    if (st == ST_OK) {
        engine_global_set(cx.u.global, (uint64_t)COUNTER_START);
        double t0 = now_ns();
        for (unsigned i = 0; i < calls && st == ST_OK; i++) {
            st = engine_instance_invoke(inst, fx.u.func, NULL, NULL);
            if (status_class_of(st) == SC_TRAP)
                st = ST_OK;
        }
        *ns = (now_ns() - t0) / calls;
        *charged = (uint64_t)(COUNTER_START - (int64_t)engine_global_get(cx.u.global)) / calls;
    }
    if (inst)
        engine_instance_free(inst);
    return st;
}

/* Instruments, compiles and times the module `wasm` x->runs times: runs of `calls` calls of
 * which the fastest counts, or (batch) runs of `calls` calls timed together. */
static status time_module(ctx *x, span wasm, unsigned calls, bool batch, sample *out)
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
        st = batch ? time_batch(x, code, calls, &t[i], &out->charged)
                   : time_once(x, code, calls, &t[i], &out->charged);
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
    bool batch = op == OP_UNREACHABLE;
    if (batch)
        calls = scaled(x, TRAP_CALLS);
    if (st == ST_OK)
        st = time_module(x, span_of(b.ptr, b.len), calls, batch, out);
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
    static const opcode refs[] = {OP_I32_ADD,   OP_I64_ADD,   OP_I32_SUB,  OP_I64_SUB, OP_I32_AND,
                                  OP_I64_AND,   OP_I32_OR,    OP_I64_OR,   OP_I32_XOR, OP_I64_XOR,
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
           (op == OP_IF && strstr("else", f)) || (op == OP_CALL && strstr("return", f));
}

/* unreachable: `run` = unreachable invoked many times, minus `run` = nothing (bench_gen.h). */
static void measure_trap_op(ctx *x, opcode op, bench_op_row *row)
{
    sample b, s;
    status st = time_op(x, op, 0, 1, 0, &b);
    if (st == ST_OK)
        st = time_op(x, op, 1, 1, 0, &s);
    if (st != ST_OK) {
        row->note = status_name(st);
        return;
    }
    row->measured = true;
    row->once = true;
    row->ns = s.min_ns - b.min_ns;
    row->ns_median = s.med_ns - b.med_ns;
    row->units = (double)s.charged - (double)b.charged;
    row->confirmed = row->ns > 0;
}

static void measure_op(ctx *x, opcode op, bench_op_row *row)
{
    bench_plan p;
    bench_gen_plan(op, &p);
    static const char *const methods[] = {"skipped", "loop", "loop minus", "trap run"};
    *row = (bench_op_row){.op = op,
                          .note = p.reason,
                          .method = methods[p.kind],
                          .weight = engine_opcode_weight(op, x->rep->schedule)};
    row->charge = row->weight + p.extra;
    if (op == OP_MEMORY_GROW) /* one page */
        row->charge += (uint32_t)instrument_grow_page_cost(x->rep->schedule);
    if (p.kind == BENCH_SKIP)
        return;
    if (p.kind == BENCH_TRAP) {
        measure_trap_op(x, op, row);
        return;
    }
    uint32_t iters = scaled(x, p.iters ? p.iters : DEFAULT_ITERS);
    uint32_t rep = p.repeat ? p.repeat : scaled(x, DEFAULT_REPEAT);
    uint32_t size = op == OP_MEMORY_GROW ? 1 : BULK_SIZE;
    sample b, s1, s2;
    status st = baseline(x, iters, &b);
    if (st == ST_OK)
        st = time_op(x, op, rep, iters, size, &s1);
    if (st == ST_OK)
        st = time_op(x, op, 2 * rep, iters, size, &s2);
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
            *row = (bench_op_row){.op = op,
                                  .note = "needs its minuend",
                                  .weight = row->weight,
                                  .charge = row->charge,
                                  .method = row->method};
            return;
        }
        row->ns -= m->ns;
        row->ns_median -= m->ns_median;
        row->units -= m->units;
        /* the twin confirms the composite; the difference must also be there */
        row->confirmed = row->confirmed && row->ns > 0;
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
        if (row->once) { /* a trap ends the run: no weight to suggest from its time */
            row->suggested = row->weight;
            row->ratio = row->charge ? row->ns / row->charge : NAN;
            continue;
        }
        row->suggested = (row->weight == 0 && k < 0.5) ? 0 : k < 1.5 ? 1 : (uint32_t)lround(k);
        row->ratio = row->charge ? row->ns / row->charge : NAN;
        if (row->charge)
            v[n++] = row->ratio;
    }
    r->median_ratio = median(v, n);
    for (int op = 0; op < OP_COUNT; op++) {
        bench_op_row *row = &r->ops[op];
        if (row->measured && !row->once)
            row->flagged = isnan(row->ratio) ? row->ns > 0.5 * r->reference_ns
                                             : row->ratio > 2 * r->median_ratio;
    }
}

/* ---- bulk memory per byte, memory.grow per page ----------------------------------------------- */

typedef struct bulk_plan {
    opcode op;
    const char *unit;                 /* "byte" or "page" */
    uint32_t sizes[BENCH_BULK_SIZES]; /* the size operand (bytes) or delta (pages) */
    uint32_t iters[BENCH_BULK_SIZES];
    uint32_t reps[BENCH_BULK_SIZES];
} bulk_plan;

/* memory.fill/copy: 16 B, 4 KiB, 64 KiB. memory.grow: 1, 8 and 64 pages per grow, about 300
 * pages per run (a fresh instance each run, so every grow really allocates and zeroes). */
static const bulk_plan bulk_plans[BENCH_BULK_ROWS] = {
    {OP_MEMORY_FILL, "byte", {16, 4096, 65536}, {DEFAULT_ITERS, 1000, 200}, {100, 50, 10}},
    {OP_MEMORY_COPY, "byte", {16, 4096, 65536}, {DEFAULT_ITERS, 1000, 200}, {100, 50, 10}},
    {OP_MEMORY_GROW, "page", {1, 8, 64}, {300, 40, 5}, {1, 1, 1}},
};

/* Least-squares line ns = fixed + per_unit x size through the measured points. */
static void bulk_fit(bench_bulk_row *row)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, k = BENCH_BULK_SIZES;
    for (int i = 0; i < BENCH_BULK_SIZES; i++) {
        sx += row->sizes[i], sy += row->ns[i], sxx += (double)row->sizes[i] * row->sizes[i];
        sxy += (double)row->sizes[i] * row->ns[i];
    }
    row->byte_ns = (k * sxy - sx * sy) / (k * sxx - sx * sx);
    row->fixed_ns = (sy - row->byte_ns * sx) / k;
}

static void measure_bulk(ctx *x, const bulk_plan *p, bench_bulk_row *row)
{
    bool grow = p->op == OP_MEMORY_GROW;
    *row = (bench_bulk_row){.op = p->op,
                            .unit = p->unit,
                            .weight = engine_opcode_weight(p->op, x->rep->schedule),
                            .unit_charge = grow ? instrument_grow_page_cost(x->rep->schedule) : 1};
    for (int i = 0; i < BENCH_BULK_SIZES; i++) {
        sample b, s;
        uint32_t iters =
            grow && x->div > 1 ? (p->iters[i] + x->div - 1) / x->div : scaled(x, p->iters[i]);
        uint32_t reps = grow ? p->reps[i] : scaled(x, p->reps[i]);
        if (baseline(x, iters, &b) != ST_OK ||
            time_op(x, p->op, reps, iters, p->sizes[i], &s) != ST_OK) {
            row->sizes[0] = 0;
            return;
        }
        double n = (double)iters * reps;
        row->sizes[i] = p->sizes[i];
        row->ns[i] = (s.min_ns - b.min_ns) / n;
        row->units[i] = (double)(s.charged - b.charged) / n;
    }
    bulk_fit(row);
    double ref = x->rep->reference_ns;
    row->fixed_suggested = row->fixed_ns / ref;
    row->byte_suggested = row->byte_ns / ref;
    /* under-charged: more than 2x the median ns per charged unit, or uncharged and costly */
    row->flagged = row->unit_charge
                       ? row->byte_ns / (double)row->unit_charge > 2 * x->rep->median_ratio
                       : row->byte_ns > 0.5 * ref;
}

/* ---- host functions ------------------------------------------------------------------------------ */

enum { NKINDS = HOST_CALL_INSPECT + 1 };

typedef struct host_ctx {
    host_config cfg;
    host_msg msg;
    uint8_t arg[65536];
    uint8_t id[29];
    sample empty_msg[NKINDS]; /* per-message baseline of each call kind (0 ns: not yet timed) */
} host_ctx;

/* Deploys `wasm` in a fresh canister; the caller frees *c and *code. */
static status canister_setup(host_ctx *h, span wasm, host_code **code, host_canister **c)
{
    host_result res;
    host_result_init(&res);
    status st = host_code_new(&h->cfg, wasm, code, NULL);
    if (st == ST_OK)
        st = host_canister_new(&h->cfg, span_of(h->id, sizeof h->id), c);
    if (st == ST_OK)
        st = host_canister_install(*c, *code, &h->msg, &res);
    if (st == ST_OK && res.st != ST_OK)
        st = res.st;
    host_result_fini(&res);
    return st;
}

/* Deploys `wasm` in a fresh canister and times x->runs runs of `batch` messages of kind `kind`
 * (batch 1: each message timed alone). A message's own outcome (reply, reject, trap) is not an
 * error here: *outcome gets its status; a FAULT or INVALID status from the host is. */
static status time_canister(ctx *x, host_ctx *h, span wasm, host_call_kind kind, unsigned batch,
                            sample *out, status *outcome)
{
    host_code *code = NULL;
    host_canister *c = NULL;
    host_result res;
    host_result_init(&res);
    double t[MAX_RUNS];
    status st = canister_setup(h, wasm, &code, &c);
    for (unsigned i = 0; i < x->runs && st == ST_OK; i++) {
        double t0 = now_ns();
        for (unsigned k = 0; k < batch && st == ST_OK; k++) {
            host_result_fini(&res);
            host_result_init(&res);
            st = host_canister_call(c, kind, &h->msg, &res);
        }
        t[i] = (now_ns() - t0) / batch;
        out->charged = res.instructions;
        *outcome = res.st;
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
                        uint32_t iters, host_call_kind kind, unsigned batch, sample *out,
                        status *outcome)
{
    buf b = {0};
    status st = bench_gen_canister(spec, repeat, iters, &b);
    if (st == ST_OK)
        st = time_canister(x, h, span_of(b.ptr, b.len), kind, batch, out, outcome);
    buf_fini(&b);
    return st;
}

/* Functions that end the message or may run only once in it. */
static bool once_per_message(const char *name)
{
    static const char *const once[] = {"msg_reply", "msg_reject", "trap", "accept_message"};
    for (size_t i = 0; i < BASE_ARRAY_LEN(once); i++)
        if (!strcmp(name, once[i]))
            return true;
    return false;
}

/* How row `w` is called: its arguments, which one is the byte count and a sample size. */
static void host_recipe(const ic0_bench_row *w, int64_t args[8], int *size_arg,
                        uint32_t *sample_bytes)
{
    static const struct {
        const char *name;
        uint32_t bytes;
    } samples[] = {
        {"msg_arg_data_copy", 4096},
        {"msg_caller_copy", 29},
        {"canister_self_copy", 29},
        {"subnet_self_copy", 29},
        {"msg_reply_data_append", 4096},
        {"certified_data_set", 32},
        {"debug_print", 4096},
        {"stable_write", 4096},
        {"stable_read", 4096},
        {"stable64_write", 4096},
        {"stable64_read", 4096},
        {"is_controller", 29},
        {"msg_method_name_copy", 5},
        {"msg_reject", 4096},
        {"trap", 4096},
    };
    memset(args, 0, 8 * sizeof args[0]);
    *size_arg = -1;
    *sample_bytes = 0;
    size_t np = strlen(w->params);
    bool is_write = strstr(w->name, "stable") && strstr(w->name, "_write");
    if (np == 3 &&
        w->per_byte_cost) { /* (dst, offset, size) or stable write (offset, src, size) */
        args[is_write ? 1 : 0] = 1024;
        *size_arg = 2;
    } else if (np == 2 && !strcmp(w->params, "ii")) { /* (src, size) */
        args[0] = 1024;
        *size_arg = 1;
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(samples); i++)
        if (!strcmp(w->name, samples[i].name))
            *sample_bytes = samples[i].bytes;
}

/* The kind of call in which row `w` may run; an update for the functions tally never allows
 * (callbacks only): there they trap, which is what tally does when a canister calls them. */
static host_call_kind host_kind(const ic0_bench_row *w, const char **export_name)
{
    bool update = host_ic0_allowed(w, HOST_CALL_UPDATE);
    if (!update && host_ic0_allowed(w, HOST_CALL_QUERY)) {
        *export_name = "canister_query bench";
        return HOST_CALL_QUERY;
    }
    if (!update && host_ic0_allowed(w, HOST_CALL_INSPECT)) {
        *export_name = "canister_inspect_message";
        return HOST_CALL_INSPECT;
    }
    *export_name = "canister_update bench";
    return HOST_CALL_UPDATE;
}

/* Once per message: a message making the call (with the sample size, if any, for the per-byte
 * cost) minus an empty message of the same kind. */
static void measure_host_message(ctx *x, host_ctx *h, bench_host_spec *spec, int64_t *args,
                                 int size_arg, uint32_t bytes, host_call_kind kind,
                                 bench_host_row *row)
{
    unsigned batch = scaled(x, MESSAGE_BATCH);
    bench_host_spec empty = {NULL, "", "", spec->export_name, NULL, args};
    status outcome = ST_OK, ignored;
    sample s, *b = &h->empty_msg[kind];
    status st = ST_OK;
    if (b->min_ns == 0)
        st = time_host(x, h, &empty, 0, 1, kind, batch, b, &ignored);
    if (st == ST_OK)
        st = time_host(x, h, spec, 1, 1, kind, batch, &s, &outcome);
    if (st != ST_OK) {
        row->note = status_name(st);
        return;
    }
    row->measured = true;
    row->outcome = status_name(outcome);
    row->ns_call = s.min_ns - b->min_ns;
    row->ns_message = s.min_ns;
    row->units_call = (double)s.charged - (double)b->charged;
    /* a message making the call that costs no more than one without it suggests nothing */
    row->base_suggested = row->ns_call > 0 ? row->ns_call / x->rep->reference_ns : NAN;
    row->ratio = row->base_cost ? row->ns_call / row->base_cost : NAN;
    if (size_arg < 0 || !bytes)
        return;
    sample sb;
    args[size_arg] = bytes;
    if (time_host(x, h, spec, 1, 1, kind, batch, &sb, &ignored) != ST_OK)
        return;
    row->sample_bytes = bytes;
    row->ns_byte = (sb.min_ns - s.min_ns) / bytes;
    row->byte_suggested = row->ns_byte / x->rep->reference_ns;
}

/* In a loop: repeat x iters calls in one message, minus the empty loop; per byte from two loops
 * of a smaller size. Returns the message's outcome (a trap: the loop method does not apply). */
static status measure_host_loop(ctx *x, host_ctx *h, bench_host_spec *spec, int64_t *args,
                                int size_arg, uint32_t bytes, host_call_kind kind,
                                bench_host_row *row)
{
    uint32_t iters = scaled(x, HOST_ITERS), byte_iters = scaled(x, HOST_BYTE_ITERS);
    bench_host_spec empty = {NULL, "", "", spec->export_name, NULL, args};
    sample b, s;
    status outcome = ST_OK, ignored;
    status st = time_host(x, h, &empty, 0, iters, kind, 1, &b, &ignored);
    if (st == ST_OK)
        st = time_host(x, h, spec, HOST_REPEAT, iters, kind, 1, &s, &outcome);
    if (st != ST_OK) {
        row->note = status_name(st);
        return st;
    }
    if (outcome != ST_OK && outcome != ST_NO_REPLY)
        return outcome;
    double n = (double)iters * HOST_REPEAT;
    row->measured = true;
    row->outcome = status_name(outcome);
    row->ns_call = (s.min_ns - b.min_ns) / n;
    row->units_call = (double)(s.charged - b.charged) / n;
    row->base_suggested = row->ns_call / x->rep->reference_ns;
    row->ratio = row->base_cost ? row->ns_call / row->base_cost : NAN;
    row->flagged = isnan(row->ratio) || row->ratio > 2 * x->rep->median_ratio;
    if (size_arg < 0 || !bytes)
        return ST_OK;
    sample s0, sb;
    st = time_host(x, h, spec, HOST_REPEAT, byte_iters, kind, 1, &s0, &ignored);
    args[size_arg] = bytes;
    if (st == ST_OK)
        st = time_host(x, h, spec, HOST_REPEAT, byte_iters, kind, 1, &sb, &ignored);
    if (st == ST_OK) {
        row->sample_bytes = bytes;
        row->ns_byte = (sb.min_ns - s0.min_ns) / ((double)byte_iters * HOST_REPEAT * bytes);
        row->byte_suggested = row->ns_byte / x->rep->reference_ns;
    }
    args[size_arg] = 0;
    return ST_OK;
}

/* One row of ic0.def, by the first method that applies (bench_host_method). */
static void measure_host(ctx *x, host_ctx *h, const ic0_bench_row *w, bench_host_row *row)
{
    *row = (bench_host_row){
        .name = w->name, .base_cost = w->base_cost, .byte_cost = w->per_byte_cost};
    int64_t args[8];
    int size_arg;
    uint32_t bytes;
    const char *export_name = NULL;
    host_call_kind kind = host_kind(w, &export_name);
    host_recipe(w, args, &size_arg, &bytes);
    bool stable_io =
        strstr(w->name, "stable") && (strstr(w->name, "_read") || strstr(w->name, "_write"));
    bench_host_spec spec = {
        w->name, w->params, w->results, export_name, stable_io ? "stable64_grow" : NULL, args};
    if (once_per_message(w->name)) {
        row->method = BENCH_HOST_MESSAGE;
        row->note = "ends the message or runs once in it: one call per message";
        measure_host_message(x, h, &spec, args, size_arg, bytes, kind, row);
        return;
    }
    status outcome = measure_host_loop(x, h, &spec, args, size_arg, bytes, kind, row);
    if (row->measured || status_class_of(outcome) != SC_TRAP)
        return;
    row->method = BENCH_HOST_TRAPPING;
    row->note = !w->supported ? "not implemented by tally: traps when called; one call per message"
                : (host_ic0_allowed(w, HOST_CALL_UPDATE) || host_ic0_allowed(w, HOST_CALL_QUERY) ||
                   host_ic0_allowed(w, HOST_CALL_INSPECT))
                    ? "traps where tally runs it (nothing to read): one trapping call per message"
                    : "callbacks only (tally makes no calls): traps; one call per message";
    measure_host_message(x, h, &spec, args, size_arg, 0, kind, row);
}

static status measure_hosts(ctx *x)
{
    bench_report *r = x->rep;
    host_ctx *h = base_calloc(1, sizeof *h);
    r->host = base_calloc(host_ic0_count(), sizeof r->host[0]);
    if (!h || !r->host) {
        base_free(h);
        return ST_OUT_OF_MEMORY;
    }
    host_config_default(&h->cfg);
    h->cfg.schedule = r->schedule;
    h->cfg.max_reply_bytes = 1u << 30;
    memset(h->id, 0x2a, sizeof h->id);
    h->cfg.subnet_id = span_of(h->id, sizeof h->id);
    h->msg = (host_msg){.method = span_of("bench", 5),
                        .arg = span_of(h->arg, sizeof h->arg),
                        .caller = span_of(h->id, sizeof h->id),
                        .time = 1,
                        .instruction_limit = (uint64_t)1 << 50};
    for (uint32_t i = 0; i < host_ic0_count(); i++) {
        const ic0_bench_row *w = host_ic0_row_at(i);
        if (r->filter && !strstr(w->name, r->filter))
            continue;
        measure_host(x, h, w, &r->host[r->nhost++]);
    }
    base_free(h);
    return ST_OK;
}

/* ---- the command ---------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: tally bench weights [--runs N] [--json] [--svg FILE] [--write-def FILE]\n"
        "                           [--filter OP] [--schedule N] [--quick]\n\n"
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
        "  --schedule N      the weight schedule to instrument with (default %d)\n"
        "  --quick           %dx fewer iterations and repeats: every row in a few seconds,\n"
        "                    too noisy for weights (tests use it)\n",
        ENGINE_SCHEDULE_V1, QUICK_DIVISOR);
}

typedef struct opts {
    unsigned runs;
    bool json, quick;
    const char *svg, *def, *filter;
    int schedule;
} opts;

static bool parse(int argc, char **argv, opts *o)
{
    *o = (opts){.runs = 3, .schedule = ENGINE_SCHEDULE_V1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json") || !strcmp(a, "--quick")) {
            *(a[2] == 'j' ? &o->json : &o->quick) = true;
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
    /* two passes: a difference (else, return) needs its minuend (if, call) measured first */
    for (int pass = 0; pass < 2; pass++)
        for (int op = 0; op < OP_COUNT; op++) {
            bench_plan p;
            bench_gen_plan((opcode)op, &p);
            if ((p.kind == BENCH_MINUS) != (pass == 1))
                continue;
            r->ops[op] = (bench_op_row){.op = (opcode)op,
                                        .note = "filtered out",
                                        .weight = engine_opcode_weight((opcode)op, r->schedule)};
            if (wanted(x, (opcode)op))
                measure_op(x, (opcode)op, &r->ops[op]);
            if (!x->rep->filter || wanted(x, (opcode)op))
                fputc('.', stderr);
        }
    fputc('\n', stderr);
    derive_ops(r);
    recheck_flagged(x);
    for (int i = 0; i < BENCH_BULK_ROWS; i++)
        if (!r->filter || strstr(engine_opcodes[bulk_plans[i].op].text, r->filter)) {
            measure_bulk(x, &bulk_plans[i], &r->bulk[i]);
            r->bulk_done = true;
        }
    r->deploy_modules = x->deploy_modules;
    r->deploy_bytes = x->deploy_bytes;
    r->deploy_ns_per_byte = x->deploy_bytes ? x->deploy_ns / (double)x->deploy_bytes : NAN;
    return measure_hosts(x);
}

int bench_weights(int argc, char **argv)
{
    if (bench_wants_help(argc, argv)) {
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
        x->div = o.quick ? QUICK_DIVISOR : 1;
        r->quick = o.quick;
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
