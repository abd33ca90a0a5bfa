/* fuzz_run.c - libFuzzer harness: compile, instantiate and run every valid module the fuzzer
 * finds, metered so that nothing hangs.
 *
 * The module is instrumented (schedule v1) and the instrumented module is compiled and
 * instantiated with every import provided (__tally.out_of_instructions traps with
 * INSTRUCTION_LIMIT_EXCEEDED; other functions return zeros; tables, memories and globals are
 * made fresh). Each exported function is called with zero arguments and a budget of BUDGET
 * instructions. Run-time limits are small (RUN_PAGES pages, RUN_DEPTH calls) so ASan stays fast.
 * Properties: no crash, leak or sanitizer report; every call ends with OK or a TRAP status
 * (never a FAULT other than out of memory, never a bug status); and determinism: a second,
 * independent instance running the same calls gives the same statuses, results (references:
 * null or not, since they are addresses), counters and memory bytes. */
#include "fuzz.h"

#include <string.h>

#include "instrument.h"

enum { BUDGET = 20000, START_BUDGET = 20000, RUN_PAGES = 32, RUN_DEPTH = 300, MAX_CALLS = 64 };

/* What the imports need: the counter refill of the start function. */
typedef struct meter {
    engine_instance *inst;
    int refills; /* out_of_instructions calls that add START_BUDGET instead of trapping */
} meter;

static engine_global *counter_of(engine_instance *inst)
{
    engine_extern x;
    span name = span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT));
    if (engine_instance_export(inst, name, &x) != ST_OK || x.kind != EXT_GLOBAL)
        return NULL;
    return x.u.global;
}

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)slots;
    meter *mt = user;
    engine_global *c = counter_of(inst);
    if (mt->refills > 0 && c) {
        mt->refills--;
        engine_global_set(c, engine_global_get(c) + START_BUDGET);
        return ST_OK;
    }
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

static status return_zeros(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst;
    const functype *t = user;
    for (uint32_t i = 0; i < t->nresults; i++)
        slots[i] = 0;
    return ST_OK;
}

/* The imports of m, made fresh; *n of them were made (free them with free_imports). */
static status make_imports(const engine_module *m, const engine_run_config *rc, meter *mt,
                           engine_extern *xs, uint32_t *n)
{
    static const functype none = {0, 0, NULL};
    for (*n = 0; *n < m->nimports; (*n)++) {
        const import *im = &m->imports[*n];
        engine_extern *x = &xs[*n];
        x->kind = im->kind;
        status st = ST_OK;
        switch (im->kind) {
        case EXT_FUNC: {
            const functype *t = &m->types[im->u.type];
            bool oo = span_eq_str(im->module, INSTRUMENT_IMPORT_MODULE);
            st = engine_host_func_new(oo ? &none : t, oo ? out_of_instructions : return_zeros,
                                      oo ? (void *)mt : (void *)t, &x->u.func);
            break;
        }
        case EXT_TABLE: st = engine_table_new(rc, im->u.table, &x->u.table); break;
        case EXT_MEMORY: st = engine_memory_new(rc, im->u.mem, &x->u.memory); break;
        default: st = engine_global_new(im->u.global, 0, &x->u.global); break;
        }
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

static void free_imports(engine_extern *xs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        switch (xs[i].kind) {
        case EXT_FUNC: engine_host_func_free(xs[i].u.func); break;
        case EXT_TABLE: engine_table_free(xs[i].u.table); break;
        case EXT_MEMORY: engine_memory_free(xs[i].u.memory); break;
        default: engine_global_free(xs[i].u.global); break;
        }
    }
}

/* FNV-1a over bytes, folded into *h: the digest two runs compare. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3ull;
}

/* Calls every exported function of inst once; returns the digest of what happened. */
static uint64_t call_exports(engine_instance *inst, const engine_module *m, meter *mt)
{
    uint64_t h = 0xcbf29ce484222325ull;
    engine_global *counter = counter_of(inst);
    FUZZ_CHECK(counter != NULL);
    uint64_t args[64], results[64];
    memset(args, 0, sizeof args);
    uint32_t calls = 0;
    for (uint32_t i = 0; i < m->nexports && calls < MAX_CALLS; i++) {
        engine_extern x;
        if (m->exports[i].kind != EXT_FUNC ||
            engine_instance_export(inst, m->exports[i].name, &x) != ST_OK)
            continue;
        const functype *t = engine_func_functype(x.u.func);
        if (t->nparams > 64 || t->nresults > 64)
            continue;
        calls++;
        mt->refills = 0;
        engine_global_set(counter, BUDGET);
        status st = engine_instance_invoke(inst, x.u.func, args, results);
        status_class c = status_class_of(st);
        FUZZ_CHECK(c == SC_OK || c == SC_TRAP || st == ST_OUT_OF_MEMORY);
        uint64_t left = engine_global_get(counter);
        mix(&h, &st, sizeof st);
        mix(&h, &left, sizeof left);
        for (uint32_t k = 0; st == ST_OK && k < t->nresults; k++) {
            /* a reference is an address (an engine_func pointer): compare only null-ness */
            uint8_t type = t->types[t->nparams + k];
            uint64_t v = type == VT_FUNCREF || type == VT_EXTERNREF ? results[k] != 0 : results[k];
            mix(&h, &v, sizeof v);
        }
    }
    engine_memory *mem = engine_instance_memory(inst);
    if (mem)
        mix(&h, engine_memory_data(mem), (size_t)engine_memory_size(mem));
    return h;
}

/* One independent instance of c: instantiate, call every export; *digest gets the outcome. */
static void run_once(const engine_code *c, const engine_run_config *rc, uint64_t *digest)
{
    const engine_module *m = engine_code_module(c);
    meter mt = {NULL, 1};
    engine_extern *xs = base_calloc(m->nimports ? m->nimports : 1, sizeof *xs);
    FUZZ_CHECK(xs != NULL);
    uint32_t n = 0;
    engine_instance *inst = NULL;
    *digest = 0;
    if (make_imports(m, rc, &mt, xs, &n) != ST_OK)
        goto out_free_imports;
    status st = engine_instance_new(c, rc, xs, n, NULL, &inst, NULL);
    *digest = (uint64_t)st;
    if (st == ST_OK)
        *digest = call_exports(inst, m, &mt);
    else
        FUZZ_CHECK(status_class_of(st) == SC_TRAP || status_class_of(st) == SC_INVALID ||
                   st == ST_OUT_OF_MEMORY);
    engine_instance_free(inst);
out_free_imports:
    free_imports(xs, n);
    base_free(xs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    engine_config cfg;
    engine_config_default(&cfg);
    cfg.max_memory_pages = RUN_PAGES;
    engine_module *m = NULL, *im = NULL;
    engine_code *c = NULL;
    buf inst = {0};
    if (engine_module_load(&cfg, span_of(data, size), &m, NULL) != ST_OK)
        return 0;
    if (instrument_module(m, ENGINE_SCHEDULE_V1, &inst, NULL) != ST_OK)
        goto out_free_module;
    if (engine_module_load(&cfg, span_of(inst.ptr, inst.len), &im, NULL) != ST_OK)
        goto out_free_module;
    status st = engine_code_compile(im, &c);
    FUZZ_CHECK(st == ST_OK || st == ST_LIMIT_EXCEEDED || st == ST_OUT_OF_MEMORY);
    if (st == ST_OK) {
        engine_run_config rc;
        engine_run_config_default(&cfg, &rc);
        rc.max_call_depth = RUN_DEPTH;
        rc.max_table_elems = 10000;
        uint64_t d1, d2;
        run_once(c, &rc, &d1);
        run_once(c, &rc, &d2);
        FUZZ_CHECK(d1 == d2);
        engine_code_free(c);
    }
    engine_module_free(im);
out_free_module:
    buf_fini(&inst);
    engine_module_free(m);
    return 0;
}
