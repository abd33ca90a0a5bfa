/* bench.c - `tally bench interp|instantiate|meter|host`: the benchmarks of docs/benchmarks.md.
 *
 *   interp       the programs of benches/ (BUILD/benches/NAME.wasm) in tally, in wabt's
 *                wasm-interp and in node (benches/run.mjs) when present: time, ratios, results
 *                checked against each other;
 *   instantiate  instances per second of a small module (benches/small.wat);
 *   meter        each program instrumented vs not, same VM, same run, runs interleaved: the
 *                metering overhead; and the instrumenter's throughput in MB/s over modules of
 *                growing size;
 *   host         messages per second of a canister making 100 host calls, importing all 49
 *                supported ic0 functions vs only the 2 it uses, vs baselines that re-resolve
 *                imports per message as a linker would.
 * Every figure is the minimum (and median) of --runs runs: this is a shared, noisy machine.
 * Nothing here is a test: `meson test` never runs it. `tally bench weights` is dispatched from
 * here to bench_weights.c. */
#include "bench.h"
#include "engine.h"
#include "engine_int.h" /* emit_module: the size of the generated C */
#include "host.h"
#include "instrument.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { MAX_RUNS = 100, PATH_LEN = 4096 };

typedef struct bench_opts {
    int runs;
    bool runs_given;
    bool json;
    bool no_wabt, no_node;
    const char *filter;
    long iters;         /* instantiate/host: iterations per run (0: default) */
    const char *file;   /* compile: the module */
    char dir[PATH_LEN]; /* BUILD/benches */
} bench_opts;

static const char *const programs[] = {"fib_rec",    "loop_mem", "hash",   "matmul_i32",
                                       "matmul_f64", "sort",     "interp", "sieve"};
enum { NPROGRAMS = sizeof programs / sizeof programs[0] };

/* ---- small helpers --------------------------------------------------------------------------- */

/* CPU time of this thread, not wall time: on a loaded machine, time spent descheduled would
 * otherwise dominate the noise. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time (user + system) of the waited-for children so far. */
static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct stats {
    double min, med;
} stats;

/* Min and median of v[0..n) (sorts v). */
static stats stats_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    stats s = {v[0], n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2};
    return s;
}

static double geomean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += log(v[i]);
    return n ? exp(s / n) : 0;
}

static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char full[PATH_LEN];
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(full, sizeof full, "%.*s/%s", (int)n, path, prog);
        if (access(full, X_OK) == 0)
            return true;
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

/* Appends s to out single-quoted for sh. */
static void shell_quote(const char *s, char *out, size_t n)
{
    size_t k = strlen(out);
    if (k + 1 < n)
        out[k++] = '\'';
    for (; *s && k + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    if (k + 1 < n)
        out[k++] = '\'';
    out[k] = '\0';
}

/* Runs a shell command; its stdout (truncated) in out; its CPU time in *secs. The exit code. */
static int run_cmd(const char *cmd, char *out, size_t n, double *secs)
{
    double t0 = children_cpu();
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t k = 0, got;
    char sink[4096];
    while ((got = fread(k + 1 < n ? out + k : sink, 1, k + 1 < n ? n - 1 - k : sizeof sink, p)))
        if (k + 1 < n)
            k += got;
    out[k] = '\0';
    int rc = pclose(p);
    *secs = children_cpu() - t0;
    return rc;
}

static void path_of(const bench_opts *o, const char *name, const char *ext, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/%s%s", o->dir, name, ext);
    if (k < 0 || (size_t)k >= n)
        out[0] = '\0'; /* too long: reads fail with the (empty) name */
}

static status read_named(const bench_opts *o, const char *name, uint8_t **bytes, size_t *len)
{
    char path[PATH_LEN];
    path_of(o, name, ".wasm", path, sizeof path);
    status st = base_read_file(path, bytes, len);
    if (st != ST_OK)
        fprintf(stderr, "tally bench: %s: %s (build the benches, or give --dir)\n", path,
                status_name(st));
    return st;
}

/* ---- tally side: a compiled program and one timed call --------------------------------------- */

typedef struct prog {
    engine_module *m;
    engine_code *code;
    engine_native *nat; /* compiled tier attached (prog_compile) */
    bool metered;
    uint8_t result_type;
} prog;

static void prog_fini(prog *p)
{
    engine_code_free(p->code);
    engine_native_free(p->nat);
    engine_module_free(p->m);
    memset(p, 0, sizeof *p);
}

static status prog_init(prog *p, span wasm)
{
    memset(p, 0, sizeof *p);
    engine_config cfg;
    engine_config_default(&cfg);
    engine_error err;
    status st = engine_module_load(&cfg, wasm, &p->m, &err);
    if (st == ST_OK)
        st = engine_code_compile(p->m, &p->code);
    if (st != ST_OK) {
        prog_fini(p);
        return st;
    }
    p->metered = p->m->nimports == 1;
    return ST_OK;
}

/* The instrumented (schedule v1) form of wasm, in the compiled tier (docs/engine.md). */
static status prog_init_compiled(prog *p, span wasm, bool quick)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    status st = engine_module_load(&cfg, wasm, &m, NULL);
    buf mb = {0};
    if (st == ST_OK)
        st = instrument_module(m, ENGINE_SCHEDULE_V1, &mb, NULL);
    engine_module_free(m);
    if (st == ST_OK)
        st = prog_init(p, span_of(mb.ptr, mb.len));
    buf_fini(&mb);
    if (st != ST_OK)
        return st;
    engine_native_config ncfg;
    if (quick)
        engine_native_config_quick(&ncfg);
    else
        engine_native_config_default(&ncfg);
    char why[256];
    st = engine_native_compile(p->code, &ncfg, &p->nat, why, sizeof why);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench: %s tier: %s: %s\n", quick ? "quick" : "compiled",
                status_name(st), why);
        prog_fini(p);
        return st;
    }
    engine_code_attach_native(p->code, p->nat);
    return ST_OK;
}

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

static engine_func *ooi_func(void)
{
    static const functype void_type = {0, 0, NULL};
    static engine_func *f;
    if (!f && engine_host_func_new(&void_type, out_of_instructions, NULL, &f) != ST_OK)
        f = NULL;
    return f;
}

/* Instantiates p, calls `run` once (timed alone) and frees the instance. *used: instructions
 * (metered programs). */
static status prog_run(prog *p, uint64_t *result, double *secs, uint64_t *used)
{
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    engine_extern imp = {.kind = EXT_FUNC, .u.func = ooi_func()};
    engine_instance *inst = NULL;
    status st = engine_instance_new(p->code, &rc, p->metered ? &imp : NULL, p->metered ? 1 : 0,
                                    NULL, &inst, NULL);
    engine_extern run, ctr = {0};
    if (st == ST_OK)
        st = engine_instance_export(inst, span_of("run", 3), &run);
    if (st == ST_OK && run.kind != EXT_FUNC)
        st = ST_UNKNOWN_EXPORT;
    if (st == ST_OK && p->metered)
        st = engine_instance_export(
            inst, span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT)), &ctr);
    if (st != ST_OK)
        goto out_free_instance;
    const uint64_t budget = UINT64_C(1) << 62;
    if (p->metered)
        engine_global_set(ctr.u.global, budget);
    const functype *ft = engine_func_functype(run.u.func);
    p->result_type = ft->nresults ? ft->types[ft->nparams] : 0;
    uint64_t res[4] = {0};
    double t0 = now();
    st = engine_instance_invoke(inst, run.u.func, NULL, res);
    *secs = now() - t0;
    *result = p->result_type == VT_I32 ? (uint32_t)res[0] : res[0];
    *used = p->metered ? budget - engine_global_get(ctr.u.global) : 0;
out_free_instance:
    engine_instance_free(inst);
    return st;
}

/* ---- tally bench interp ---------------------------------------------------------------------- */

typedef struct interp_row {
    const char *name;
    stats tally, wabt, node, comp, quick, native;
    char result[32], wabt_result[32], node_result[32], comp_result[32], quick_result[32],
        native_result[32];
    bool agree;
} interp_row;

/* wasm-interp prints `run() => i32:2178309`: the value after the type. */
static void parse_wabt(const char *out, char *val, size_t n)
{
    const char *p = strstr(out, "=> ");
    p = p ? strchr(p, ':') : NULL;
    snprintf(val, n, "%s", p ? p + 1 : "?");
    val[strcspn(val, " \r\n")] = '\0';
}

enum { EXT_WABT, EXT_NODE, EXT_NATIVE };

/* The command that runs one program in wasm-interp, node (benches/run.mjs) or its native build
 * (NAME.native, benches/native_main.c). */
static void external_cmd(const bench_opts *o, const char *name, int how, char *cmd, size_t n)
{
    char path[PATH_LEN];
    bool node = how != EXT_WABT;
    path_of(o, name, how == EXT_NATIVE ? ".native" : ".wasm", path, sizeof path);
    cmd[0] = '\0';
    if (how == EXT_NATIVE) {
        shell_quote(path, cmd, n);
        strcat(cmd, " 2>&1");
        return;
    }
    if (node) {
        char mjs[PATH_LEN];
        path_of(o, "run", ".mjs", mjs, sizeof mjs);
        strcat(cmd, "node ");
        shell_quote(mjs, cmd, n);
    } else {
        strcat(cmd, "wasm-interp ");
    }
    strcat(cmd, " ");
    shell_quote(path, cmd, n);
    strcat(cmd, node ? " 2>&1" : " --run-all-exports 2>&1");
}

/* Runs cmd once: *t the seconds (node and native print "RESULT SECONDS", the call alone;
 * wasm-interp: the process's wall time), val its result. False if it failed. */
static bool external_once(const char *cmd, int how, double *t, char *val)
{
    char out[512];
    double wall;
    if (run_cmd(cmd, out, sizeof out, &wall) != 0)
        return false;
    if (how != EXT_WABT) {
        char *sp = strchr(out, ' ');
        *t = sp ? strtod(sp + 1, NULL) : wall;
        snprintf(val, 32, "%.*s", sp ? (int)(sp - out) : 1, sp ? out : "?");
    } else {
        *t = wall;
        parse_wabt(out, val, 32);
    }
    return true;
}

/* Times one program o->runs times in wasm-interp or node. */
static void time_external(const bench_opts *o, const char *name, int how, stats *s, char *val)
{
    char cmd[3 * PATH_LEN];
    double t[MAX_RUNS];
    external_cmd(o, name, how, cmd, sizeof cmd);
    strcpy(val, "?");
    for (int r = 0; r < o->runs; r++) {
        if (!external_once(cmd, how, &t[r], val)) {
            s->min = s->med = NAN;
            return;
        }
    }
    *s = stats_of(t, o->runs);
}

static status interp_one(const bench_opts *o, const char *name, bool wabt, bool node,
                         interp_row *row)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    status st = read_named(o, name, &bytes, &len);
    if (st != ST_OK)
        return st;
    prog p;
    st = prog_init(&p, span_of(bytes, len));
    double t[MAX_RUNS];
    uint64_t v = 0, used;
    for (int r = 0; r < o->runs && st == ST_OK; r++)
        st = prog_run(&p, &v, &t[r], &used);
    bool i32 = p.result_type == VT_I32;
    prog_fini(&p);
    base_free(bytes);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench: %s: %s\n", name, status_name(st));
        return st;
    }
    row->name = name;
    row->tally = stats_of(t, o->runs);
    snprintf(row->result, sizeof row->result, "%" PRIu64, v);
    /* the compiled tier, metered (the instrumented module), same runs: cc's code, then the
       quick route's. cc's code and the native build take turns, run by run: a slow spell of
       this shared machine falls on both sides of the comp/nat ratio */
    char ncmd[3 * PATH_LEN];
    external_cmd(o, name, EXT_NATIVE, ncmd, sizeof ncmd);
    strcpy(row->native_result, "?");
    for (int quick = 0; quick < 2; quick++) {
        st = read_named(o, name, &bytes, &len);
        if (st == ST_OK)
            st = prog_init_compiled(&p, span_of(bytes, len), quick);
        base_free(bytes);
        uint64_t cv = 0;
        double tn[MAX_RUNS];
        bool native_ran = !quick;
        for (int r = 0; r < o->runs && st == ST_OK; r++) {
            st = prog_run(&p, &cv, &t[r], &used);
            if (native_ran && !external_once(ncmd, EXT_NATIVE, &tn[r], row->native_result))
                native_ran = false;
        }
        if (!quick)
            row->native = native_ran ? stats_of(tn, o->runs) : (stats){NAN, NAN};
        if (st == ST_OK)
            prog_fini(&p);
        if (st != ST_OK) {
            fprintf(stderr, "tally bench: %s (%s): %s\n", name, quick ? "quick" : "compiled",
                    status_name(st));
            return st;
        }
        *(quick ? &row->quick : &row->comp) = stats_of(t, o->runs);
        snprintf(quick ? row->quick_result : row->comp_result, sizeof row->comp_result, "%" PRIu64,
                 cv);
    }
    row->wabt = row->node = (stats){NAN, NAN};
    if (wabt)
        time_external(o, name, EXT_WABT, &row->wabt, row->wabt_result);
    if (node)
        time_external(o, name, EXT_NODE, &row->node, row->node_result);
    bool native_ok = isnan(row->native.min); /* no native build: nothing to compare */
    if (!native_ok) {
        uint64_t nv = strtoull(row->native_result, NULL, 10);
        snprintf(row->native_result, sizeof row->native_result, "%" PRIu64,
                 i32 ? (uint32_t)nv : nv);
        native_ok = !strcmp(row->result, row->native_result);
    }
    row->agree = native_ok && !strcmp(row->result, row->comp_result) &&
                 !strcmp(row->result, row->quick_result) &&
                 (!wabt || !strcmp(row->result, row->wabt_result)) &&
                 (!node || !strcmp(row->result, row->node_result));
    return ST_OK;
}

/* A column of the interp table: "min (median)", or "-" for an engine that did not run. */
static void col_pair(char *b, size_t n, stats s, int prec)
{
    if (isnan(s.min))
        snprintf(b, n, "%s", "-");
    else
        snprintf(b, n, "%7.*f (%7.*f)", prec, s.min, prec, s.med);
}

/* a ratio column: "1.234x", or "-" when a side did not run (NaN) or a time was 0 (inf) */
static void col_ratio(char *b, size_t n, double x, int prec)
{
    if (isfinite(x))
        snprintf(b, n, "%.*fx", prec, x);
    else
        snprintf(b, n, "%s", "-");
}

static void interp_print(const bench_opts *o, const interp_row *rows, int n, bool wabt, bool node)
{
    double rw[NPROGRAMS], rn[NPROGRAMS], rc[NPROGRAMS], rcn[NPROGRAMS];
    int nw = 0, nn = 0, nc = 0, ncn = 0;
    bool all = true;
    for (int i = 0; i < n; i++) {
        if (wabt && rows[i].wabt.min > 0)
            rw[nw++] = rows[i].tally.min / rows[i].wabt.min;
        if (node && rows[i].node.min > 0)
            rn[nn++] = rows[i].tally.min / rows[i].node.min;
        if (rows[i].native.min > 0)
            rc[nc++] = rows[i].comp.min / rows[i].native.min;
        if (node && rows[i].node.min > 0)
            rcn[ncn++] = rows[i].comp.min / rows[i].node.min;
        all = all && rows[i].agree;
    }
    if (o->json) {
        printf("{\"bench\":\"interp\",\"runs\":%d,\"programs\":[", o->runs);
        for (int i = 0; i < n; i++)
            printf("%s{\"name\":\"%s\",\"result\":\"%s\",\"agree\":%s,\"tally_s\":%.6f,"
                   "\"tally_median_s\":%.6f,\"compiled_metered_s\":%.6f,"
                   "\"quick_metered_s\":%.6f,\"native_s\":%.6f,"
                   "\"wabt_s\":%.6f,\"node_s\":%.6f}",
                   i ? "," : "", rows[i].name, rows[i].result, rows[i].agree ? "true" : "false",
                   rows[i].tally.min, rows[i].tally.med, rows[i].comp.min, rows[i].quick.min,
                   nc ? rows[i].native.min : -1.0, wabt ? rows[i].wabt.min : -1.0,
                   node ? rows[i].node.min : -1.0);
        printf("],\"geomean_tally_over_wabt\":%.4f,\"geomean_tally_over_node\":%.4f,"
               "\"geomean_compiled_over_native\":%.4f,\"all_agree\":%s}\n",
               nw ? geomean(rw, nw) : -1.0, nn ? geomean(rn, nn) : -1.0,
               nc ? geomean(rc, nc) : -1.0, all ? "true" : "false");
        return;
    }
    printf("tally bench interp: min (median) of %d runs, seconds. tally: the interpreter;\n"
           "compiled: the compiled tier running the instrumented (metered) module; quick: the\n"
           "same built by tcc (the quick route); native: the same C built by clang -O2 for the\n"
           "host (docs/engine.md)\n\n",
           o->runs);
    printf("%-11s %-17s %-17s %-17s %-17s %-17s %-17s %9s %9s %9s  %s\n", "program", "tally",
           "compiled", "quick", "native", "wasm-interp", "node", "tally/wab", "comp/nat",
           "tally/nod", "result");
    for (int i = 0; i < n; i++) {
        const interp_row *r = &rows[i];
        char cw[24], cn[24], rtw[16], rtc[16], rtn[16];
        col_pair(cw, sizeof cw, r->wabt, 3);
        col_pair(cn, sizeof cn, r->node, 4);
        col_ratio(rtw, sizeof rtw, r->tally.min / r->wabt.min, 4);
        col_ratio(rtc, sizeof rtc, r->comp.min / r->native.min, 3);
        col_ratio(rtn, sizeof rtn, r->tally.min / r->node.min, 3);
        printf("%-11s %7.4f (%7.4f) %7.4f (%7.4f) %7.4f (%7.4f) %7.4f (%7.4f) %-17s %-17s %9s "
               "%9s %9s  %s %s\n",
               r->name, r->tally.min, r->tally.med, r->comp.min, r->comp.med, r->quick.min,
               r->quick.med, r->native.min, r->native.med, cw, cn, rtw, rtc, rtn, r->result,
               r->agree ? "ok" : "MISMATCH");
    }
    char gw[16], gn[16], gc[16], gcn[16];
    col_ratio(gw, sizeof gw, nw ? geomean(rw, nw) : NAN, 4);
    col_ratio(gn, sizeof gn, nn ? geomean(rn, nn) : NAN, 3);
    col_ratio(gc, sizeof gc, nc ? geomean(rc, nc) : NAN, 3);
    col_ratio(gcn, sizeof gcn, ncn ? geomean(rcn, ncn) : NAN, 3);
    printf("\ngeomean tally/wasm-interp: %s   tally/node: %s   compiled/native: %s "
           "(target <= 2.0)   compiled/node: %s   results %s\n",
           gw, gn, gc, gcn, all ? "agree" : "DISAGREE");
}

static int bench_interp(const bench_opts *o)
{
    bool wabt = !o->no_wabt && on_path("wasm-interp");
    bool node = !o->no_node && on_path("node");
    if (!o->json)
        fprintf(stderr, "engines: tally%s%s\n", wabt ? ", wasm-interp" : " (no wasm-interp)",
                node ? ", node" : " (no node)");
    interp_row rows[NPROGRAMS];
    int n = 0;
    for (int i = 0; i < NPROGRAMS; i++) {
        if (o->filter && !strstr(programs[i], o->filter))
            continue;
        memset(&rows[n], 0, sizeof rows[n]);
        if (interp_one(o, programs[i], wabt, node, &rows[n]) != ST_OK)
            return 1;
        n++;
    }
    interp_print(o, rows, n, wabt, node);
    for (int i = 0; i < n; i++)
        if (!rows[i].agree)
            return 1;
    return 0;
}

/* ---- tally bench instantiate ---------------------------------------------------------------- */

static int bench_instantiate(const bench_opts *o)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (read_named(o, "small", &bytes, &len) != ST_OK)
        return 1;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    long iters = o->iters ? o->iters : 20000;
    /* per tier: the interpreter, cc's object attached, the quick route's attached (an object
       that cannot be built leaves its tier out) */
    static const char *const tiers[] = {"interp", "compiled", "quick"};
    stats s[3];
    bool have[3] = {false, false, false};
    status st = ST_OK;
    for (int k = 0; k < 3 && st == ST_OK; k++) {
        prog p;
        st = prog_init(&p, span_of(bytes, len));
        if (st != ST_OK)
            break;
        if (k) {
            engine_native_config ncfg;
            if (k == 2)
                engine_native_config_quick(&ncfg);
            else
                engine_native_config_default(&ncfg);
            char why[256];
            if (engine_native_compile(p.code, &ncfg, &p.nat, why, sizeof why) != ST_OK) {
                fprintf(stderr, "tally bench instantiate: no %s tier: %s\n", tiers[k], why);
                prog_fini(&p);
                continue;
            }
            engine_code_attach_native(p.code, p.nat);
        }
        double t[MAX_RUNS];
        for (int r = 0; r < o->runs && st == ST_OK; r++) {
            double t0 = now();
            for (long i = 0; i < iters && st == ST_OK; i++) {
                engine_instance *inst = NULL;
                st = engine_instance_new(p.code, &rc, NULL, 0, NULL, &inst, NULL);
                engine_instance_free(inst);
            }
            t[r] = (now() - t0) / (double)iters;
        }
        prog_fini(&p);
        if (st == ST_OK) {
            s[k] = stats_of(t, o->runs);
            have[k] = true;
        }
    }
    base_free(bytes);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench instantiate: %s\n", status_name(st));
        return 1;
    }
    if (o->json) {
        printf("{\"bench\":\"instantiate\",\"runs\":%d,\"iterations\":%ld,\"module_bytes\":%zu,"
               "\"us_per_instance\":%.3f,\"us_median\":%.3f,\"instances_per_s\":%.0f,"
               "\"compiled_us\":%.3f,\"quick_us\":%.3f}\n",
               o->runs, iters, len, s[0].min * 1e6, s[0].med * 1e6, 1 / s[0].min,
               have[1] ? s[1].min * 1e6 : -1.0, have[2] ? s[2].min * 1e6 : -1.0);
        return 0;
    }
    printf(
        "tally bench instantiate: benches/small.wat (%zu bytes: 1 memory page, 4 KiB data, "
        "table, global, 5 functions)\n%ld instantiate+free per run, min (median) of %d runs\n\n",
        len, iters, o->runs);
    for (int k = 0; k < 3; k++)
        if (have[k])
            printf("%-9s %.3f us per instance (%.3f), %.0f instances/s   target < %s: %s\n",
                   tiers[k], s[k].min * 1e6, s[k].med * 1e6, 1 / s[k].min, k ? "2 us" : "5 us",
                   s[k].min < (k ? 2e-6 : 5e-6) ? "met" : "NOT MET");
    return 0;
}

/* ---- tally bench meter ------------------------------------------------------------------------ */

typedef struct meter_row {
    const char *name;
    stats plain, metered;
    double paired; /* median over runs of metered/plain of the same run */
    uint64_t instructions;
    bool agree;
} meter_row;

static status meter_one(const bench_opts *o, const char *name, meter_row *row)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    status st = read_named(o, name, &bytes, &len);
    if (st != ST_OK)
        return st;
    prog u = {0}, m = {0};
    buf mb = {0};
    st = prog_init(&u, span_of(bytes, len));
    if (st == ST_OK)
        st = instrument_module(u.m, ENGINE_SCHEDULE_V1, &mb, NULL);
    if (st == ST_OK)
        st = prog_init(&m, span_of(mb.ptr, mb.len));
    double tu[MAX_RUNS], tm[MAX_RUNS];
    uint64_t vu = 0, vm = 0, used = 0, unused;
    row->agree = true;
    for (int r = 0; r < o->runs && st == ST_OK; r++) { /* interleaved, alternating order */
        if (r % 2 == 0)
            st = prog_run(&u, &vu, &tu[r], &unused);
        if (st == ST_OK)
            st = prog_run(&m, &vm, &tm[r], &used);
        if (st == ST_OK && r % 2 == 1)
            st = prog_run(&u, &vu, &tu[r], &unused);
        row->agree = row->agree && vu == vm;
    }
    prog_fini(&m);
    prog_fini(&u);
    buf_fini(&mb);
    base_free(bytes);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench meter: %s: %s\n", name, status_name(st));
        return st;
    }
    row->name = name;
    double ratio[MAX_RUNS];
    for (int r = 0; r < o->runs; r++)
        ratio[r] = tm[r] / tu[r];
    row->paired = stats_of(ratio, o->runs).med;
    row->plain = stats_of(tu, o->runs);
    row->metered = stats_of(tm, o->runs);
    row->instructions = used;
    return ST_OK;
}

/* Rewrites module `in` with its function and code sections repeated k times (the copies call
 * the originals, so the result is valid) and custom sections dropped: a large module with the
 * same mix of code, to show that instrumenting is linear in size. */
static status replicate(span in, uint32_t k, buf *out)
{
    reader r = reader_of(in);
    if (in.len < 8)
        return ST_UNEXPECTED_END;
    r.pos += 8;
    status st = buf_put(out, in.ptr, 8);
    while (st == ST_OK && reader_left(&r)) {
        uint8_t id;
        uint32_t size, count;
        st = reader_u8(&r, &id);
        if (st == ST_OK)
            st = reader_u32(&r, &size);
        if (st != ST_OK || size > reader_left(&r))
            return st != ST_OK ? st : ST_UNEXPECTED_END;
        reader sec = reader_of(span_of(r.pos, size));
        r.pos += size;
        if (id == 0)
            continue;
        if (id != 3 && id != 10) {
            st = writer_section(out, id, span_of(sec.pos, size));
            continue;
        }
        st = reader_u32(&sec, &count);
        buf body = {0};
        if (st == ST_OK)
            st = buf_leb_u32(&body, count * k);
        for (uint32_t i = 0; i < k && st == ST_OK; i++)
            st = buf_put(&body, sec.pos, reader_left(&sec));
        if (st == ST_OK)
            st = writer_section(out, id, span_of(body.ptr, body.len));
        buf_fini(&body);
    }
    return st;
}

typedef struct speed_row {
    char name[48];
    size_t bytes;
    double load_mbs, instr_mbs;
} speed_row;

/* Times decode+validate and instrumenting of one module: MB/s of input, min of runs. */
static status speed_one(const bench_opts *o, const char *name, span wasm, speed_row *row)
{
    engine_config cfg;
    engine_config_default(&cfg);
    cfg.max_funcs = cfg.max_funcs < 1000000 ? 1000000 : cfg.max_funcs;
    cfg.max_module_size = cfg.max_module_size < (64u << 20) ? (64u << 20) : cfg.max_module_size;
    double tl[MAX_RUNS], ti[MAX_RUNS];
    status st = ST_OK;
    for (int r = 0; r < o->runs && st == ST_OK; r++) {
        int reps = 0;
        double t0 = now(), ins = 0;
        do { /* at least 50 ms per measurement */
            engine_module *m = NULL;
            buf b = {0};
            st = engine_module_load(&cfg, wasm, &m, NULL);
            double t1 = now();
            if (st == ST_OK)
                st = instrument_module(m, ENGINE_SCHEDULE_V1, &b, NULL);
            ins += now() - t1;
            buf_fini(&b);
            engine_module_free(m);
            reps++;
        } while (st == ST_OK && now() - t0 < 0.05);
        tl[r] = (now() - t0 - ins) / reps;
        ti[r] = ins / reps;
    }
    if (st != ST_OK) {
        fprintf(stderr, "tally bench meter: %s: %s\n", name, status_name(st));
        return st;
    }
    snprintf(row->name, sizeof row->name, "%s", name);
    row->bytes = wasm.len;
    row->load_mbs = (double)wasm.len / stats_of(tl, o->runs).min / 1e6;
    row->instr_mbs = (double)wasm.len / stats_of(ti, o->runs).min / 1e6;
    return ST_OK;
}

enum { MAX_SPEED = 32 };

/* Instrumentation throughput over the benches, the example canisters (BUILD/tests/canisters,
 * if built) and interp.wasm replicated 10x and 100x. */
static int speed_rows(const bench_opts *o, speed_row *rows)
{
    static const char *const extra[] = {"small",
                                        "host_many",
                                        "../tests/canisters/counter",
                                        "../tests/canisters/token",
                                        "../tests/canisters/kv",
                                        "../tests/canisters/sdk_all"};
    int n = 0;
    for (size_t i = 0; i < NPROGRAMS + BASE_ARRAY_LEN(extra) + 2 && n < MAX_SPEED; i++) {
        const char *name = i < NPROGRAMS                           ? programs[i]
                           : i < NPROGRAMS + BASE_ARRAY_LEN(extra) ? extra[i - NPROGRAMS]
                                                                   : "interp";
        char path[PATH_LEN], label[48];
        uint8_t *bytes = NULL;
        size_t len = 0;
        path_of(o, name, ".wasm", path, sizeof path);
        if (base_read_file(path, &bytes, &len) != ST_OK)
            continue; /* canisters not built: skipped */
        snprintf(label, sizeof label, "%s", strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
        buf big = {0};
        span w = span_of(bytes, len);
        if (i >= NPROGRAMS + BASE_ARRAY_LEN(extra)) {
            uint32_t k = i == NPROGRAMS + BASE_ARRAY_LEN(extra) ? 10 : 100;
            snprintf(label, sizeof label, "interp x%u (synthetic)", k);
            if (replicate(w, k, &big) != ST_OK)
                goto next;
            w = span_of(big.ptr, big.len);
        }
        if (speed_one(o, label, w, &rows[n]) == ST_OK)
            n++;
    next:
        buf_fini(&big);
        base_free(bytes);
    }
    return n;
}

static void meter_print(const bench_opts *o, const meter_row *rows, int n, const speed_row *sp,
                        int ns)
{
    double ratio[NPROGRAMS], paired[NPROGRAMS];
    for (int i = 0; i < n; i++) {
        ratio[i] = rows[i].metered.min / rows[i].plain.min;
        paired[i] = rows[i].paired;
    }
    double g = geomean(ratio, n), gp = geomean(paired, n);
    if (o->json) {
        printf("{\"bench\":\"meter\",\"runs\":%d,\"programs\":[", o->runs);
        for (int i = 0; i < n; i++)
            printf("%s{\"name\":\"%s\",\"plain_s\":%.6f,\"metered_s\":%.6f,\"overhead_pct\":%.2f,"
                   "\"paired_overhead_pct\":%.2f,\"instructions\":%" PRIu64 ",\"agree\":%s}",
                   i ? "," : "", rows[i].name, rows[i].plain.min, rows[i].metered.min,
                   (ratio[i] - 1) * 100, (paired[i] - 1) * 100, rows[i].instructions,
                   rows[i].agree ? "true" : "false");
        printf("],\"geomean_overhead_pct\":%.2f,\"geomean_paired_overhead_pct\":%.2f,"
               "\"instrument\":[",
               (g - 1) * 100, (gp - 1) * 100);
        for (int i = 0; i < ns; i++)
            printf(
                "%s{\"module\":\"%s\",\"bytes\":%zu,\"load_mb_s\":%.2f,\"instrument_mb_s\":%.2f}",
                i ? "," : "", sp[i].name, sp[i].bytes, sp[i].load_mbs, sp[i].instr_mbs);
        printf("]}\n");
        return;
    }
    printf("tally bench meter: instrumented vs plain, same VM, interleaved, min (median) of %d "
           "runs\noverhead: of the minimums; paired: median over runs of metered/plain of the "
           "same run\n\n%-11s %-17s %-17s %9s %8s %14s\n",
           o->runs, "program", "plain (s)", "metered (s)", "overhead", "paired", "instructions");
    for (int i = 0; i < n; i++)
        printf("%-11s %7.4f (%7.4f) %7.4f (%7.4f) %+8.1f%% %+7.1f%% %14" PRIu64 "%s\n",
               rows[i].name, rows[i].plain.min, rows[i].plain.med, rows[i].metered.min,
               rows[i].metered.med, (ratio[i] - 1) * 100, (paired[i] - 1) * 100,
               rows[i].instructions, rows[i].agree ? "" : "  MISMATCH");
    printf("\ngeomean overhead: %+.1f%% (of the minimums), %+.1f%% (paired)   target <= 3%%: %s\n",
           (g - 1) * 100, (gp - 1) * 100, gp <= 1.03 ? "met" : "NOT MET");
    printf("\ninstrumentation throughput (MB/s of input module; load = decode + validate):\n"
           "%-26s %10s %10s %12s\n",
           "module", "bytes", "load", "instrument");
    for (int i = 0; i < ns; i++)
        printf("%-26s %10zu %10.1f %12.1f\n", sp[i].name, sp[i].bytes, sp[i].load_mbs,
               sp[i].instr_mbs);
}

static int bench_meter(const bench_opts *in)
{
    bench_opts opts = *in, *o = &opts;
    if (!o->runs_given)
        o->runs = 15; /* the overhead is a few percent: it needs more runs than the others */
    meter_row rows[NPROGRAMS];
    int n = 0;
    for (int i = 0; i < NPROGRAMS; i++) {
        if (o->filter && !strstr(programs[i], o->filter))
            continue;
        memset(&rows[n], 0, sizeof rows[n]);
        if (meter_one(o, programs[i], &rows[n]) != ST_OK)
            return 1;
        n++;
    }
    speed_row sp[MAX_SPEED];
    int ns = speed_rows(o, sp);
    meter_print(o, rows, n, sp, ns);
    for (int i = 0; i < n; i++)
        if (!rows[i].agree)
            return 1;
    return 0;
}

/* ---- tally bench host --------------------------------------------------------------------------- */

typedef struct host_fixture {
    uint8_t *bytes;
    size_t len;
    host_config cfg;
    host_code *code;
    host_canister *c;
    engine_module *orig; /* the original module, for the relinking baseline's import names */
} host_fixture;

static void fixture_fini(host_fixture *f)
{
    host_canister_free(f->c);
    host_code_free(f->code);
    engine_module_free(f->orig);
    base_free(f->bytes);
    memset(f, 0, sizeof *f);
}

static host_msg bench_msg(const char *method)
{
    host_msg msg = {.method = span_of(method, strlen(method)),
                    .arg = span_of("tally", 5),
                    .caller = span_of("bench", 5),
                    .time = 1,
                    .instruction_limit = 1u << 30};
    return msg;
}

static status fixture_init(const bench_opts *o, const char *name, host_fixture *f)
{
    memset(f, 0, sizeof *f);
    status st = read_named(o, name, &f->bytes, &f->len);
    if (st != ST_OK)
        return st;
    host_config_default(&f->cfg);
    span w = span_of(f->bytes, f->len);
    st = engine_module_load(&f->cfg.engine, w, &f->orig, NULL);
    if (st == ST_OK)
        st = host_code_new(&f->cfg, w, &f->code, NULL);
    if (st == ST_OK)
        st = host_canister_new(&f->cfg, span_of("bench", 5), &f->c);
    host_result res;
    host_result_init(&res);
    host_msg msg = bench_msg("");
    if (st == ST_OK)
        st = host_canister_install(f->c, f->code, &msg, &res);
    if (st == ST_OK)
        st = res.st;
    host_result_fini(&res);
    if (st != ST_OK)
        fixture_fini(f);
    return st;
}

static status dummy_host(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_OK;
}

/* What a per-message linker does: find every import by name in the ic0 table and make a host
 * function object for it (freed after the message). */
static status relink(const host_fixture *f, engine_func **objs)
{
    const engine_module *m = f->orig;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        uint32_t row = 0, nrows = host_ic0_count();
        while (row < nrows && !span_eq_str(im->name, host_ic0_row_at(row)->name))
            row++;
        if (row == nrows)
            return ST_UNKNOWN_IMPORT;
        status st = engine_host_func_new(&m->types[im->u.type], dummy_host, NULL, &objs[i]);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

enum { MODE_PLAIN, MODE_RELINK, MODE_REDEPLOY };

/* Sends `iters` messages; *secs = seconds per message. */
static status host_time(host_fixture *f, const char *method, int mode, long iters, double *secs)
{
    host_msg msg = bench_msg(method);
    engine_func *objs[128] = {0};
    status st = ST_OK;
    double t0 = now();
    long warm = iters / 10; /* untimed: caches hold this canister, not the previous one */
    for (long i = -warm; i < iters && st == ST_OK; i++) {
        if (i == 0)
            t0 = now();
        host_code *redeployed = NULL;
        if (mode == MODE_RELINK && f->orig->nimports <= 128)
            st = relink(f, objs);
        if (mode == MODE_REDEPLOY)
            st = host_code_new(&f->cfg, span_of(f->bytes, f->len), &redeployed, NULL);
        host_result res;
        host_result_init(&res);
        if (st == ST_OK)
            st = host_canister_call(f->c, HOST_CALL_UPDATE, &msg, &res);
        if (st == ST_OK && res.st != ST_OK)
            st = res.st;
        host_result_fini(&res);
        host_code_free(redeployed);
        for (uint32_t k = 0; k < f->orig->nimports && k < 128; k++) {
            engine_host_func_free(objs[k]);
            objs[k] = NULL;
        }
    }
    *secs = (now() - t0) / (double)iters;
    return st;
}

typedef struct host_row {
    const char *what;
    uint32_t imports;
    stats empty, calls;
} host_row;

static status host_rows(const bench_opts *o, host_row *rows, long iters)
{
    host_fixture many, one;
    status st = fixture_init(o, "host_many", &many);
    if (st != ST_OK)
        return st;
    st = fixture_init(o, "host_one", &one);
    if (st != ST_OK) {
        fixture_fini(&many);
        return st;
    }
    const struct {
        const char *what;
        host_fixture *f;
        int mode;
        long div;
    } cfgs[4] = {{"all 49 supported imports", &many, MODE_PLAIN, 1},
                 {"2 imports (the ones used)", &one, MODE_PLAIN, 1},
                 {"49, relinked per message", &many, MODE_RELINK, 1},
                 {"49, redeployed per message", &many, MODE_REDEPLOY, 20}};
    double te[4][MAX_RUNS], tc[4][MAX_RUNS];
    for (int r = 0; r < o->runs; r++) /* interleaved: the same noise for every row */
        for (int i = 0; i < 4 && st == ST_OK; i++) {
            long n = iters / cfgs[i].div > 0 ? iters / cfgs[i].div : 1;
            st = host_time(cfgs[i].f, "empty", cfgs[i].mode, n, &te[i][r]);
            if (st == ST_OK)
                st = host_time(cfgs[i].f, "calls", cfgs[i].mode, n, &tc[i][r]);
        }
    for (int i = 0; i < 4 && st == ST_OK; i++) {
        rows[i].what = cfgs[i].what;
        rows[i].imports = cfgs[i].f->orig->nimports;
        rows[i].empty = stats_of(te[i], o->runs);
        rows[i].calls = stats_of(tc[i], o->runs);
    }
    fixture_fini(&one);
    fixture_fini(&many);
    return st;
}

static int bench_host(const bench_opts *o)
{
    host_row rows[4];
    long iters = o->iters ? o->iters : 20000;
    status st = host_rows(o, rows, iters);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench host: %s\n", status_name(st));
        return 1;
    }
    if (o->json) {
        printf("{\"bench\":\"host\",\"runs\":%d,\"host_calls_per_message\":100,\"rows\":[",
               o->runs);
        for (int i = 0; i < 4; i++)
            printf("%s{\"canister\":\"%s\",\"imports\":%u,\"setup_us\":%.3f,\"message_us\":%.3f,"
                   "\"messages_per_s\":%.0f,\"host_call_ns\":%.1f}",
                   i ? "," : "", rows[i].what, rows[i].imports, rows[i].empty.min * 1e6,
                   rows[i].calls.min * 1e6, 1 / rows[i].calls.min,
                   (rows[i].calls.min - rows[i].empty.min) * 1e7);
        printf("]}\n");
        return 0;
    }
    printf("tally bench host: update messages, min (median) of %d runs of %ld messages\n"
           "setup = a message whose only host call is msg_reply; message = 100 calls of "
           "msg_arg_data_size in a loop, then msg_reply\n\n%-28s %7s %-19s %-19s %11s %9s\n",
           o->runs, iters, "canister", "imports", "setup (us)", "message (us)", "messages/s",
           "call (ns)");
    for (int i = 0; i < 4; i++)
        printf("%-28s %7u %8.3f (%8.3f) %8.3f (%8.3f) %11.0f %9.1f\n", rows[i].what,
               rows[i].imports, rows[i].empty.min * 1e6, rows[i].empty.med * 1e6,
               rows[i].calls.min * 1e6, rows[i].calls.med * 1e6, 1 / rows[i].calls.min,
               (rows[i].calls.min - rows[i].empty.min) * 1e7);
    printf("\nsetup, 49 imports / 2 imports: %.3f (equal within noise: the table is resolved "
           "at deploy)\n",
           rows[0].empty.min / rows[1].empty.min);
    return 0;
}

/* ---- tally bench compile -------------------------------------------------------------------- */

/* Compile time of one module in each route: the module instrumented (schedule v1, as the node
 * runs it), its C generated, and the object built and loaded without a cache; CPU time of this
 * thread (emitting, loading) plus of the compiler's processes, and wall time. */
static int bench_compile(const bench_opts *o)
{
    char path[PATH_LEN];
    if (o->file)
        snprintf(path, sizeof path, "%s", o->file);
    else
        path_of(o, "interp", ".wasm", path, sizeof path);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (base_read_file(path, &bytes, &len) != ST_OK)
        return fprintf(stderr, "tally bench compile: cannot read %s\n", path), 1;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL, *im = NULL;
    buf ib = {0};
    engine_code *code = NULL;
    status st = engine_module_load(&cfg, span_of(bytes, len), &m, NULL);
    if (st == ST_OK)
        st = instrument_module(m, ENGINE_SCHEDULE_V1, &ib, NULL);
    if (st == ST_OK)
        st = engine_module_load(&cfg, span_of(ib.ptr, ib.len), &im, NULL);
    if (st == ST_OK)
        st = engine_code_compile(im, &code);
    buf src = {0};
    if (st == ST_OK)
        st = emit_module(code, SIZE_MAX, &src);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench compile: %s: %s\n", path, status_name(st));
        return 1;
    }
    int runs = o->runs_given ? o->runs : 1;
    if (!o->json)
        printf("tally bench compile: %s (%zu bytes; instrumented %zu bytes; %zu bytes of C)\n"
               "min (median) of %d runs, seconds; CPU: this thread + the compiler's processes\n\n"
               "%-10s %-19s %-19s %s\n",
               path, len, ib.len, src.len, runs, "route", "CPU", "wall", "object");
    int rc = 0;
    for (int route = 0; route < 2; route++) {
        if (o->filter && !strstr(route ? "cc" : "quick", o->filter))
            continue;
        engine_native_config ncfg;
        if (route)
            engine_native_config_default(&ncfg);
        else
            engine_native_config_quick(&ncfg);
        ncfg.timeout_ms = 600000; /* measured, not bounded */
        double cpu[MAX_RUNS], wall[MAX_RUNS];
        uint32_t frame = 0;
        char why[256] = "";
        status rst = ST_OK;
        for (int r = 0; r < runs; r++) {
            struct timespec w0, w1;
            clock_gettime(CLOCK_MONOTONIC, &w0);
            double c0 = now(), k0 = children_cpu();
            engine_native *n = NULL;
            rst = engine_native_compile(code, &ncfg, &n, why, sizeof why);
            cpu[r] = now() - c0 + children_cpu() - k0;
            clock_gettime(CLOCK_MONOTONIC, &w1);
            wall[r] = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) * 1e-9;
            frame = engine_native_max_frame(n);
            engine_native_free(n);
            if (rst != ST_OK)
                break;
        }
        const char *name = route ? "cc" : "quick";
        if (rst != ST_OK) {
            fprintf(stderr, "tally bench compile: %s: %s: %s\n", name, status_name(rst), why);
            rc = 1;
            continue;
        }
        stats c = stats_of(cpu, runs), w = stats_of(wall, runs);
        if (o->json)
            printf("{\"bench\":\"compile\",\"route\":\"%s\",\"wasm_bytes\":%zu,"
                   "\"instrumented_bytes\":%zu,\"c_bytes\":%zu,\"cpu_s\":%.4f,\"wall_s\":%.4f,"
                   "\"max_frame\":%u}\n",
                   name, len, ib.len, src.len, c.min, w.min, frame);
        else if (route)
            printf("%-10s %7.3f (%7.3f)   %7.3f (%7.3f)   cc %s\n", name, c.min, c.med, w.min,
                   w.med, src.len > ncfg.large_source_bytes ? ncfg.large_opt : ncfg.opt);
        else
            printf("%-10s %7.3f (%7.3f)   %7.3f (%7.3f)   tcc, largest frame %u bytes\n", name,
                   c.min, c.med, w.min, w.med, frame);
    }
    buf_fini(&src);
    engine_code_free(code);
    engine_module_free(im);
    engine_module_free(m);
    buf_fini(&ib);
    base_free(bytes);
    return rc;
}

/* ---- the command -------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: tally bench interp|instantiate|meter|host|node|localnet|weights|candid|shapes"
        " [options]\n\n"
        "  interp       time the programs of benches/ in tally, wabt's wasm-interp and node\n"
        "               (when on PATH); check their results agree; ratios and geomean\n"
        "  instantiate  instances per second of benches/small.wat\n"
        "  compile      compile time of a module (--file F; default benches/interp.wasm),\n"
        "               instrumented as the node runs it, by the quick route (tcc) and cc\n"
        "  meter        metering overhead (instrumented vs plain, same VM, interleaved) and\n"
        "               instrumentation throughput in MB/s\n"
        "  host         messages per second of a canister making 100 host calls: all imports\n"
        "               vs the 2 used, vs relinking or redeploying per message\n"
        "  node         update messages per second, in process and over JSON-RPC\n"
        "  localnet     update messages through the validators of a replicated chain\n"
        "               (`tally bench localnet --help`; scripts/localnet.sh bench)\n"
        "  weights      opcode and host-call timings vs the weight schedule\n"
        "               (`tally bench weights --help`)\n"
        "  candid       Candid decode + encode throughput (`tally bench candid --help`)\n"
        "  shapes       worst cases for the metering (many locals, huge br_table, ic0 loops, "
        "...)\n"
        "               vs plain code (`tally bench shapes --help`)\n\n"
        "options:\n"
        "  --runs N     runs per measurement (default 3, meter 15; min and median reported)\n"
        "  --filter S   interp, meter: only programs whose name contains S; compile: only\n"
        "               the route (quick, cc) named S\n"
        "  --iters N    instantiate, host: iterations per run (default 20000)\n"
        "  --file F     compile: the module to build (runs default 1)\n"
        "  --no-wabt    interp: skip wasm-interp;  --no-node: skip node\n"
        "  --dir DIR    the built benches (default: ../benches beside the tally binary,\n"
        "               i.e. BUILD/benches)\n"
        "  --json       one JSON object on stdout instead of the table\n\n"
        "Timings are noisy on shared machines: compare ratios from one run (docs/benchmarks.md).\n"
        "Exit status: 0; 1 if a module is missing, fails, or engines disagree; 2 on usage.\n");
}

/* BUILD/benches from /proc/self/exe = BUILD/cli/tally. */
static void default_dir(char *out, size_t n)
{
    char exe[PATH_LEN];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    snprintf(out, n, "benches");
    if (k <= 0)
        return;
    exe[k] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash)
            return;
        *slash = '\0';
    }
    int w = snprintf(out, n, "%s/benches", exe);
    if (w < 0 || (size_t)w >= n)
        snprintf(out, n, "benches");
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->runs = 3;
    default_dir(o->dir, sizeof o->dir);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--no-wabt")) {
            o->no_wabt = true;
        } else if (!strcmp(a, "--no-node")) {
            o->no_node = true;
        } else if (!strcmp(a, "--runs") && more) {
            o->runs = atoi(argv[++i]);
            o->runs_given = true;
            if (o->runs < 1 || o->runs > MAX_RUNS)
                return fprintf(stderr, "tally bench: --runs wants 1..%d\n", MAX_RUNS), 2;
        } else if (!strcmp(a, "--iters") && more) {
            o->iters = atol(argv[++i]);
            if (o->iters < 1)
                return fprintf(stderr, "tally bench: --iters wants a positive number\n"), 2;
        } else if (!strcmp(a, "--filter") && more) {
            o->filter = argv[++i];
        } else if (!strcmp(a, "--file") && more) {
            o->file = argv[++i];
        } else if (!strcmp(a, "--dir") && more) {
            snprintf(o->dir, sizeof o->dir, "%s", argv[++i]);
        } else {
            fprintf(stderr, "tally bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

bool bench_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

int bench_main(int argc, char **argv)
{
    /* bench_weights.c parses its own options (and --help) */
    if (argc >= 2 && !strcmp(argv[1], "weights"))
        return bench_weights(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "shapes"))
        return bench_shapes(argc - 1, argv + 1);
    if (bench_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    const char *sub = argv[1];
    if (!strcmp(sub, "interp"))
        return bench_interp(&o);
    if (!strcmp(sub, "instantiate"))
        return bench_instantiate(&o);
    if (!strcmp(sub, "compile"))
        return bench_compile(&o);
    if (!strcmp(sub, "meter"))
        return bench_meter(&o);
    if (!strcmp(sub, "host"))
        return bench_host(&o);
    fprintf(stderr, "tally bench: unknown benchmark '%s'\n", sub);
    usage(stderr);
    return 2;
}
