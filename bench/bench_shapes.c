/* bench_shapes.c - `tally bench shapes`: generated worst cases for the metering (docs/weights.md,
 * "Code shapes"). Each shape is a module whose `run` repeats one construct in a counted loop:
 * a call of a function with 49,999 locals, a br_table of 100,000 targets, 1,000 nested blocks,
 * call_indirect, zero-length memory.fill/copy/init, table.grow by one, and loops of cheap ic0
 * calls (msg_arg_data_size, canister_self_size, time, stable_size, stable64_read and debug_print
 * of 0 bytes; debug_print also into a sink that formats each line into two buffered files, as
 * `tally node` does with its stderr and debug.log). Each is instrumented with a weight schedule and timed in the same run as plain code
 * (i32 arithmetic on locals); the figure is instructions charged per second of CPU, and the
 * shape's rate against the plain rate. The ic0 loops run as update messages of a canister
 * (bench_gen_canister) through host-api, so their charge is everything the message pays: the
 * loop, the call and ic0.def's cost. A shape under a tenth of the plain rate is under-charged:
 * it must be made fast or charged. Every ic0 function's cost per call is `tally bench weights`'
 * (docs/weights.md). */
#include "bench_gen.h"
#include "bench.h"
#include "engine.h"
#include "host.h"
#include "instrument.h"

#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum shape_id {
    SH_PLAIN,
    SH_LOCALS,
    SH_BR_TABLE,
    SH_NESTING,
    SH_CALL_INDIRECT,
    SH_FILL0,
    SH_COPY0,
    SH_INIT0,
    SH_TABLE_GROW,
    SH_ARG_SIZE,
    SH_SELF_SIZE,
    SH_TIME,
    SH_STABLE_SIZE,
    SH_STABLE_READ0,
    SH_DEBUG0,
    SH_DEBUG0_FILE,
    SH_COUNT
} shape_id;

typedef struct shape {
    const char *name;
    const char *what;
    uint32_t iters; /* loop iterations of one run */
    /* an ic0 loop: the function, its signature (bench_gen.h) and arguments; NULL: a module */
    const char *ic0, *params, *results;
    int64_t args[3];
    bool sink; /* debug_print output goes to two buffered files, a line each per call */
} shape;

enum { MANY_LOCALS = 49999, BR_TARGETS = 100000, NESTING = 1000 };

static const shape shapes[SH_COUNT] = {
    [SH_PLAIN] = {.name = "plain",
                  .what = "10 x (local.get, local.get, i32.add, local.set)",
                  .iters = 1000000},
    [SH_LOCALS] = {.name = "locals",
                   .what = "call of a function with 49,999 i64 locals",
                   .iters = 2000},
    [SH_BR_TABLE] = {.name = "br_table", .what = "br_table of 100,000 targets", .iters = 1000000},
    [SH_NESTING] = {.name = "nesting",
                    .what = "1,000 nested blocks, br_if out of all (not taken)",
                    .iters = 20000},
    [SH_CALL_INDIRECT] = {.name = "call_indirect",
                          .what = "call_indirect of an empty function",
                          .iters = 1000000},
    [SH_FILL0] = {.name = "memory.fill 0", .what = "memory.fill of 0 bytes", .iters = 1000000},
    [SH_COPY0] = {.name = "memory.copy 0", .what = "memory.copy of 0 bytes", .iters = 1000000},
    [SH_INIT0] = {.name = "memory.init 0", .what = "memory.init of 0 bytes", .iters = 1000000},
    [SH_TABLE_GROW] = {.name = "table.grow 1",
                       .what = "table.grow by 1 element, 20,000 times",
                       .iters = 20000},
    [SH_ARG_SIZE] = {.name = "msg_arg_data_size",
                     .what = "ic0.msg_arg_data_size",
                     .iters = 1000000,
                     .ic0 = "msg_arg_data_size",
                     .params = "",
                     .results = "i"},
    [SH_SELF_SIZE] = {.name = "canister_self_size",
                      .what = "ic0.canister_self_size",
                      .iters = 1000000,
                      .ic0 = "canister_self_size",
                      .params = "",
                      .results = "i"},
    [SH_TIME] = {.name = "time",
                 .what = "ic0.time",
                 .iters = 1000000,
                 .ic0 = "time",
                 .params = "",
                 .results = "I"},
    [SH_STABLE_SIZE] = {.name = "stable_size",
                        .what = "ic0.stable_size",
                        .iters = 1000000,
                        .ic0 = "stable_size",
                        .params = "",
                        .results = "i"},
    [SH_STABLE_READ0] = {.name = "stable64_read 0",
                         .what = "ic0.stable64_read of 0 bytes",
                         .iters = 1000000,
                         .ic0 = "stable64_read",
                         .params = "III",
                         .results = ""},
    [SH_DEBUG0] = {.name = "debug_print 0",
                   .what = "ic0.debug_print of 0 bytes, output dropped",
                   .iters = 1000000,
                   .ic0 = "debug_print",
                   .params = "ii",
                   .results = ""},
    [SH_DEBUG0_FILE] = {"debug_print 0 node",
                        "ic0.debug_print of 0 bytes, a line into each of two buffered files as "
                        "tally node writes them",
                        1000000, "debug_print", "ii", "", .sink = true},
};

/* ---- module writer ---------------------------------------------------------------------------- */

static void u8(buf *b, status *st, uint8_t v)
{
    if (*st == ST_OK)
        *st = buf_u8(b, v);
}

static void u32(buf *b, status *st, uint32_t v)
{
    if (*st == ST_OK)
        *st = buf_leb_u32(b, v);
}

static void bytes(buf *b, status *st, const uint8_t *p, size_t n)
{
    if (*st == ST_OK)
        *st = buf_put(b, p, n);
}

#define OPS(b, st, ...)                                                                           \
    bytes((b), (st), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void section(buf *out, status *st, uint8_t id, buf *content)
{
    u8(out, st, id);
    u32(out, st, (uint32_t)content->len);
    bytes(out, st, content->ptr, content->len);
    content->len = 0;
}

/* One function body: local groups (count, type) then code, into a code section entry. */
static void code_entry(buf *out, status *st, uint32_t nlocals, uint8_t type, buf *code)
{
    buf e = {0};
    if (nlocals) {
        u32(&e, st, 1);
        u32(&e, st, nlocals);
        u8(&e, st, type);
    } else {
        u32(&e, st, 0);
    }
    bytes(&e, st, code->ptr, code->len);
    u32(out, st, (uint32_t)e.len);
    bytes(out, st, e.ptr, e.len);
    buf_fini(&e);
    code->len = 0;
}

/* The body of one iteration of shape id (the loop's counter is local 0). */
static void iteration(buf *c, status *st, shape_id id)
{
    switch (id) {
    case SH_PLAIN:
        for (int k = 0; k < 10; k++)
            OPS(c, st, 0x20, 0, 0x20, 1, 0x6a, 0x21, 1); /* local 1 += local 0 */
        break;
    case SH_LOCALS: OPS(c, st, 0x10, 1); break; /* call 1 */
    case SH_BR_TABLE:
        OPS(c, st, 0x02, 0x40, 0x20, 0, 0x41, 1, 0x71, 0x0e); /* block; i & 1; br_table */
        u32(c, st, BR_TARGETS);
        for (uint32_t k = 0; k <= BR_TARGETS; k++)
            u8(c, st, 0);
        OPS(c, st, 0x0b);
        break;
    case SH_NESTING:
        for (int k = 0; k < NESTING; k++)
            OPS(c, st, 0x02, 0x40);
        OPS(c, st, 0x41, 0, 0x0d); /* br_if NESTING-1 on 0 */
        u32(c, st, NESTING - 1);
        for (int k = 0; k < NESTING; k++)
            OPS(c, st, 0x0b);
        break;
    case SH_CALL_INDIRECT: OPS(c, st, 0x41, 0, 0x11, 0, 0); break;
    case SH_FILL0: OPS(c, st, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0); break;
    case SH_COPY0: OPS(c, st, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 10, 0, 0); break;
    case SH_INIT0: OPS(c, st, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0); break;
    case SH_TABLE_GROW: OPS(c, st, 0xd0, 0x70, 0x41, 1, 0xfc, 15, 0, 0x1a); break;
    default: break;
    }
}

/* Module of shape id: type 0 [] -> []; function 0 `run` (the loop), function 1 the callee
 * (49,999 locals for SH_LOCALS, else empty); table 0 (funcref, 1 element: function 1); memory 1
 * page; a passive data segment of 16 bytes. */
static status shape_module(shape_id id, buf *out)
{
    status st = ST_OK;
    buf s = {0}, c = {0};
    OPS(out, &st, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
    OPS(&s, &st, 1, 0x60, 0, 0);
    section(out, &st, 1, &s);
    OPS(&s, &st, 2, 0, 0);
    section(out, &st, 3, &s);
    OPS(&s, &st, 1, 0x70, 0x00, 1);
    section(out, &st, 4, &s);
    OPS(&s, &st, 1, 0x00, 1);
    section(out, &st, 5, &s);
    OPS(&s, &st, 1, 3, 'r', 'u', 'n', 0x00, 0);
    section(out, &st, 7, &s);
    OPS(&s, &st, 1, 0x00, 0x41, 0, 0x0b, 1, 1); /* elem: table 0 at 0 = [function 1] */
    section(out, &st, 9, &s);
    OPS(&s, &st, 1);
    section(out, &st, 12, &s);
    u32(&s, &st, 2);
    /* run: local 0 = iterations; loop { iteration; local 0 -= 1; br_if local 0 } */
    OPS(&c, &st, 0x41);
    if (st == ST_OK)
        st = buf_leb_s32(&c, (int32_t)shapes[id].iters);
    OPS(&c, &st, 0x21, 0, 0x03, 0x40);
    iteration(&c, &st, id);
    OPS(&c, &st, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x0b);
    code_entry(&s, &st, 2, 0x7f, &c);
    OPS(&c, &st, 0x0b);
    code_entry(&s, &st, id == SH_LOCALS ? MANY_LOCALS : 0, 0x7e, &c);
    section(out, &st, 10, &s);
    OPS(&s, &st, 1, 0x01, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    section(out, &st, 11, &s);
    buf_fini(&s);
    buf_fini(&c);
    return st;
}

/* ---- measuring ---------------------------------------------------------------------------------- */

static status ooi(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct shape_row {
    uint64_t charged; /* instructions charged by one run */
    double secs;      /* CPU seconds of the fastest run */
    double rate;      /* charged / secs */
    double ratio;     /* rate / the plain rate of the same schedule */
} shape_row;

/* Instruments shape id with `schedule`, runs it `runs` times (a fresh instance each), keeps the
 * fastest. */
static status measure(shape_id id, int schedule, int runs, engine_func *ooi_fn, shape_row *row)
{
    buf wasm = {0}, metered = {0};
    engine_module *m = NULL, *mm = NULL;
    engine_code *code = NULL;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_run_config rc;
    engine_run_config_default(&cfg, &rc);
    status st = shape_module(id, &wasm);
    if (st == ST_OK)
        st = engine_module_load(&cfg, span_of(wasm.ptr, wasm.len), &m, NULL);
    if (st == ST_OK)
        st = instrument_module(m, schedule, &metered, NULL);
    if (st == ST_OK)
        st = engine_module_load(&cfg, span_of(metered.ptr, metered.len), &mm, NULL);
    if (st == ST_OK)
        st = engine_code_compile(mm, &code);
    row->secs = INFINITY;
    for (int r = 0; st == ST_OK && r < runs; r++) {
        engine_extern imp = {.kind = EXT_FUNC, .u.func = ooi_fn}, run, ctr;
        engine_instance *inst = NULL;
        st = engine_instance_new(code, &rc, &imp, 1, NULL, &inst, NULL);
        if (st == ST_OK)
            st = engine_instance_export(inst, span_of("run", 3), &run);
        if (st == ST_OK)
            st = engine_instance_export(
                inst, span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT)), &ctr);
        const uint64_t budget = UINT64_C(1) << 62;
        if (st == ST_OK) {
            engine_global_set(ctr.u.global, budget);
            double t0 = cpu_s();
            st = engine_instance_invoke(inst, run.u.func, NULL, NULL);
            double t = cpu_s() - t0;
            row->charged = budget - engine_global_get(ctr.u.global);
            if (t < row->secs)
                row->secs = t;
        }
        engine_instance_free(inst);
    }
    row->rate = row->secs > 0 ? (double)row->charged / row->secs : 0;
    engine_code_free(code);
    engine_module_free(mm);
    engine_module_free(m);
    buf_fini(&wasm);
    buf_fini(&metered);
    return st;
}

/* debug_print as tally node's sink does it (cli/cmd_node.c): a formatted line into each of two
 * fully buffered streams (its stderr and debug.log), flushed after the round. */
static void node_sink(void *user, span self, span text)
{
    FILE **f = user;
    fprintf(f[0], "debug: [%zu] %.*s\n", self.len, (int)text.len, (const char *)text.ptr);
    fprintf(f[1], "[%zu] %.*s\n", self.len, (int)text.len, (const char *)text.ptr);
}

/* Runs the ic0 loop of shape id as update messages of a fresh canister (schedule `schedule`)
 * `runs` times, keeps the fastest. */
static status measure_ic0(shape_id id, int schedule, int runs, shape_row *row)
{
    const shape *sh = &shapes[id];
    uint8_t principal[10] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
    host_config cfg;
    host_config_default(&cfg);
    cfg.schedule = schedule;
    FILE *sink[2] = {NULL, NULL};
    for (int i = 0; sh->sink && i < 2; i++) {
        sink[i] = tmpfile();
        if (!sink[i] || setvbuf(sink[i], NULL, _IOFBF, 1 << 16) != 0) {
            if (sink[0])
                fclose(sink[0]);
            return ST_IO_ERROR;
        }
        cfg.debug_sink = node_sink;
        cfg.debug_user = sink;
    }
    host_msg msg = {.method = span_of("bench", 5),
                    .caller = span_of(principal, sizeof principal),
                    .time = 1,
                    .instruction_limit = UINT64_C(1) << 50};
    bench_host_spec spec = {sh->ic0, sh->params, sh->results, "canister_update bench",
                            NULL,    sh->args};
    buf wasm = {0};
    host_code *code = NULL;
    host_canister *c = NULL;
    host_result res;
    host_result_init(&res);
    status st = bench_gen_canister(&spec, 1, sh->iters, &wasm);
    if (st == ST_OK)
        st = host_code_new(&cfg, span_of(wasm.ptr, wasm.len), &code, NULL);
    if (st == ST_OK)
        st = host_canister_new(&cfg, span_of(principal, sizeof principal), &c);
    if (st == ST_OK)
        st = host_canister_install(c, code, &msg, &res);
    if (st == ST_OK && res.st != ST_OK)
        st = res.st;
    row->secs = INFINITY;
    for (int r = 0; st == ST_OK && r < runs; r++) {
        host_result_fini(&res);
        host_result_init(&res);
        double t0 = cpu_s();
        st = host_canister_call(c, HOST_CALL_UPDATE, &msg, &res);
        for (int i = 0; i < 2; i++)
            if (sink[i]) /* the node's flush after the round */
                fflush(sink[i]);
        double t = cpu_s() - t0;
        if (st == ST_OK && res.st != ST_OK && res.st != ST_NO_REPLY)
            st = res.st; /* the loop must run to its end */
        row->charged = res.instructions;
        if (t < row->secs)
            row->secs = t;
    }
    row->rate = row->secs > 0 ? (double)row->charged / row->secs : 0;
    host_result_fini(&res);
    host_canister_free(c);
    host_code_free(code);
    buf_fini(&wasm);
    for (int i = 0; i < 2; i++)
        if (sink[i])
            fclose(sink[i]);
    return st;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally bench shapes [--schedule N] [--runs N] [--json]\n\n"
            "Times generated worst cases for the metering against plain code, in the same\n"
            "run: a call of a function with 49,999 locals, a br_table of 100,000 targets,\n"
            "1,000 nested blocks, call_indirect, zero-length memory.fill/copy/init,\n"
            "table.grow by one, and cheap ic0 calls (msg_arg_data_size, canister_self_size,\n"
            "time, stable_size, stable64_read and debug_print of 0 bytes, the latter also\n"
            "into two buffered files as tally node writes it), each in a loop, the ic0\n"
            "ones as update messages of a canister (docs/weights.md, \"Code shapes\"). For each:\n"
            "instructions charged per run, CPU time (fastest of the runs), instructions per\n"
            "second and that rate against the plain rate. A shape under a tenth of the\n"
            "plain rate is under-charged (marked UNDER).\n\n"
            "  --schedule N  weight schedule: 1 or 2 (default: both)\n"
            "  --runs N      runs per shape, fastest kept (default 3)\n"
            "  --json        one JSON object on stdout instead of the table\n\n"
            "Exit status: 0; 1 if a module fails to build or run; 2 on usage errors.\n");
}

int bench_shapes(int argc, char **argv)
{
    if (bench_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    int sched_lo = ENGINE_SCHEDULE_V1, sched_hi = ENGINE_SCHEDULE_V2, runs = 3;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if ((!strcmp(argv[i], "--schedule") || !strcmp(argv[i], "--runs")) &&
                   i + 1 < argc) {
            long v = strtol(argv[i + 1], &end, 10);
            bool sched = !strcmp(argv[i], "--schedule");
            if (!*argv[i + 1] || *end || v < 1 || (sched ? v > ENGINE_SCHEDULE_V2 : v > 1000)) {
                fprintf(stderr, "tally bench shapes: %s %s: want %s\n", argv[i], argv[i + 1],
                        sched ? "1 or 2" : "1 to 1000");
                return 2;
            }
            if (sched)
                sched_lo = sched_hi = (int)v;
            else
                runs = (int)v;
            i++;
        } else {
            fprintf(stderr, "tally bench shapes: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    static const functype void_type = {0, 0, NULL};
    engine_func *ooi_fn = NULL;
    if (engine_host_func_new(&void_type, ooi, NULL, &ooi_fn) != ST_OK)
        return 1;
    shape_row rows[ENGINE_SCHEDULE_V2 + 1][SH_COUNT];
    status st = ST_OK;
    for (int s = sched_lo; st == ST_OK && s <= sched_hi; s++)
        for (int id = 0; st == ST_OK && id < SH_COUNT; id++) {
            st = shapes[id].ic0 ? measure_ic0((shape_id)id, s, runs, &rows[s][id])
                                : measure((shape_id)id, s, runs, ooi_fn, &rows[s][id]);
            if (st != ST_OK)
                fprintf(stderr, "tally bench shapes: %s (schedule %d): %s: %s\n", shapes[id].name,
                        s, status_name(st), status_message(st));
            else
                rows[s][id].ratio = rows[s][id].rate / rows[s][SH_PLAIN].rate;
        }
    engine_host_func_free(ooi_fn);
    if (st != ST_OK)
        return 1;
    if (json)
        printf("{\"bench\":\"shapes\",\"runs\":%d,\"schedules\":[", runs);
    for (int s = sched_lo; s <= sched_hi; s++) {
        if (json) {
            printf("%s{\"schedule\":%d,\"shapes\":[", s > sched_lo ? "," : "", s);
        } else {
            printf("%sschedule v%d: fastest of %d runs, CPU time\n\n", s > sched_lo ? "\n" : "", s,
                   runs);
            printf("%-20s %13s %12s %14s %10s %9s\n", "shape", "charged/iter", "ns/iter",
                   "instr/s", "vs plain", "");
        }
        for (int id = 0; id < SH_COUNT; id++) {
            const shape_row *r = &rows[s][id];
            double per = (double)r->charged / shapes[id].iters;
            double ns = r->secs * 1e9 / shapes[id].iters;
            bool under = r->ratio < 0.1;
            if (json)
                printf("%s{\"shape\":\"%s\",\"iterations\":%u,\"charged\":%llu,\"seconds\":%.6f,"
                       "\"rate\":%.0f,\"vs_plain\":%.4f,\"under_charged\":%s}",
                       id ? "," : "", shapes[id].name, shapes[id].iters,
                       (unsigned long long)r->charged, r->secs, r->rate, r->ratio,
                       under ? "true" : "false");
            else
                printf("%-20s %13.1f %12.1f %14.3g %9.3fx %9s\n", shapes[id].name, per, ns,
                       r->rate, r->ratio, under ? "UNDER" : "");
        }
        if (json)
            printf("]}");
    }
    if (json)
        printf("]}\n");
    else
        printf("\nUNDER: below a tenth of the plain rate. Shapes: %s; %s; %s; %s; %s; "
               "zero-length bulk ops; %s; ic0 calls in a loop, each an update message "
               "(debug_print 0 node: %s).\n",
               shapes[SH_PLAIN].what, shapes[SH_LOCALS].what, shapes[SH_BR_TABLE].what,
               shapes[SH_NESTING].what, shapes[SH_CALL_INDIRECT].what, shapes[SH_TABLE_GROW].what,
               shapes[SH_DEBUG0_FILE].what);
    return 0;
}
