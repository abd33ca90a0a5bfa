/* diff_tally.c - tally's half of the differential test against wabt (tests/diff/run.sh).
 *
 *   diff_tally [--tier compiled|quick] MODULE.wasm HELPER.wasm OUT.wast [BUDGET]
 *   diff_tally --bytes SEED SIZE OUT.bin
 *
 * The second form writes SIZE pseudo-random bytes for `wasm-opt -ttf` (splitmix64 seeded by
 * SEED: the same on every machine, and ~100x cheaper than starting python per module).
 *
 * Runs MODULE in tally twice: instrumented (schedule v1, the counter set to BUDGET before every
 * call) and as is. Every exported function is called once, in export order, on one instance,
 * with fixed arguments; imports from "fuzzing-support" come from HELPER (fuzzing-support.wat).
 * Then writes OUT.wast, a script for wabt's spectest-interp that runs the SAME instrumented
 * binary with the same calls and asserts tally's outcomes: results, trap kinds (the expected
 * wabt message is the assert_trap text, which run.sh checks since spectest-interp does not),
 * instructions used (a wrapper module sets and reads `__tally_counter`, as in
 * tests/instrument/test_instrument.c) and the helper's log hash after each call.
 * Inside tally it also checks that the unmetered run gives the same results, traps and logs as
 * the metered one, up to the first call that runs out of instructions.
 * --tier compiled runs every module (MODULE, metered and plain, and HELPER) in the compiled
 * tier (docs/engine.md); OUT.wast must then be byte for byte the interpreter's (scripts/test.sh
 * compares them in the determinism fingerprint). --tier quick: the same, built by the quick route
 * (tcc). Without the compiler: exit 2.
 * A call that exhausts the call or value stack ends the script: the engines' depth limits
 * differ, so what follows is not comparable.
 *
 * Exit status: 0 OUT.wast written (tally agreed with itself); 1 tally diverged from itself
 * (stderr says where); 3 tally rejects the module (stderr: status; a divergence if wabt accepts
 * it); 4 module out of scope (an import other than fuzzing-support, a start function, reference
 * types in an export); 2 usage or I/O error. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instrument.h"

enum { MAX_VALS = 32 };

/* One tally instance of a module, with its own fuzzing-support helper instance. */
typedef struct side {
    engine_module *m, *hm;
    engine_code *c, *hc;
    engine_native *nc, *nhc; /* --tier compiled */
    engine_instance *helper, *inst;
    engine_func *oo;
    engine_extern *xs;
    engine_global *counter; /* NULL for the unmetered side */
    engine_func *hash;
} side;

/* What one call did. */
typedef struct outcome {
    status st;
    uint64_t results[MAX_VALS];
    uint64_t hash; /* the helper's log hash after the call */
    uint64_t left; /* the counter after the call (metered side) */
} outcome;

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst;
    (void)user;
    (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

static int read_all(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "diff_tally: cannot open %s\n", path);
        return 2;
    }
    uint8_t chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_put(out, chunk, n) != ST_OK)
            rc = 2;
    fclose(f);
    return rc;
}

static engine_func *export_func(engine_instance *inst, const char *name)
{
    engine_extern x;
    if (engine_instance_export(inst, span_of(name, strlen(name)), &x) != ST_OK ||
        x.kind != EXT_FUNC)
        return NULL;
    return x.u.func;
}

static enum { INTERP, COMPILED, QUICK } compiled_tier; /* --tier */

/* The compiled tier of c, attached; false (and a message) if it cannot be built. */
static bool native(engine_code *c, engine_native **out)
{
    if (compiled_tier == INTERP)
        return true;
    engine_native_config cfg;
    if (compiled_tier == QUICK)
        engine_native_config_quick(&cfg);
    else
        engine_native_config_default(&cfg);
    char why[256];
    status st = engine_native_compile(c, &cfg, out, why, sizeof why);
    if (st != ST_OK) {
        fprintf(stderr, "diff_tally: compiled tier: %s: %s\n", status_name(st), why);
        return false;
    }
    engine_code_attach_native(c, *out);
    return true;
}

/* Loads, compiles and instantiates module (and the helper), resolving imports by name.
 * Returns 0, 3 (tally rejects or traps at instantiation: *st says why), 4 (out of scope) or 2
 * (--tier compiled: no compiled tier). */
static int side_open(side *s, span module, span helper, status *st)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_run_config rc;
    engine_run_config_default(&cfg, &rc);
    engine_error err;
    static const functype none = {0, 0, NULL};
    memset(s, 0, sizeof *s);
    if ((*st = engine_module_load(&cfg, module, &s->m, &err)) != ST_OK ||
        (*st = engine_code_compile(s->m, &s->c)) != ST_OK ||
        (*st = engine_module_load(&cfg, helper, &s->hm, &err)) != ST_OK ||
        (*st = engine_code_compile(s->hm, &s->hc)) != ST_OK ||
        (*st = engine_instance_new(s->hc, &rc, NULL, 0, NULL, &s->helper, NULL)) != ST_OK ||
        (*st = engine_host_func_new(&none, out_of_instructions, NULL, &s->oo)) != ST_OK)
        return 3;
    if (!native(s->c, &s->nc) || !native(s->hc, &s->nhc)) {
        *st = ST_IO_ERROR;
        return 2;
    }
    if (s->m->has_start)
        return 4;
    s->xs = base_calloc(s->m->nimports + 1, sizeof *s->xs);
    for (uint32_t i = 0; i < s->m->nimports; i++) {
        const import *im = &s->m->imports[i];
        char name[64];
        if (im->kind != EXT_FUNC || im->name.len >= sizeof name)
            return 4;
        memcpy(name, im->name.ptr, im->name.len);
        name[im->name.len] = '\0';
        s->xs[i].kind = EXT_FUNC;
        if (span_eq_str(im->module, INSTRUMENT_IMPORT_MODULE))
            s->xs[i].u.func = s->oo;
        else if (span_eq_str(im->module, "fuzzing-support"))
            s->xs[i].u.func = export_func(s->helper, name);
        if (!s->xs[i].u.func)
            return 4;
    }
    s->hash = export_func(s->helper, "hash");
    *st = engine_instance_new(s->c, &rc, s->xs, s->m->nimports, NULL, &s->inst, &err);
    if (*st != ST_OK)
        return 3;
    engine_extern x;
    span cn = span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT));
    if (engine_instance_export(s->inst, cn, &x) == ST_OK && x.kind == EXT_GLOBAL)
        s->counter = x.u.global;
    return 0;
}

static void side_close(side *s)
{
    engine_instance_free(s->inst);
    engine_instance_free(s->helper);
    engine_host_func_free(s->oo);
    engine_code_free(s->c);
    engine_code_free(s->hc);
    engine_native_free(s->nc);
    engine_native_free(s->nhc);
    engine_module_free(s->m);
    engine_module_free(s->hm);
    base_free(s->xs);
}

static void side_call(side *s, const char *name, const uint64_t *args, uint64_t budget, outcome *o)
{
    memset(o, 0, sizeof *o);
    engine_func *f = export_func(s->inst, name);
    if (s->counter)
        engine_global_set(s->counter, budget);
    o->st = engine_instance_invoke(s->inst, f, args, o->results);
    if (s->counter)
        o->left = engine_global_get(s->counter);
    uint64_t h[1] = {0};
    if (engine_instance_invoke(s->helper, s->hash, NULL, h) != ST_OK)
        h[0] = 0xdead;
    o->hash = h[0];
}

/* ---- the wabt script ---------------------------------------------------------------------- */

static const char *type_name(uint8_t t)
{
    switch (t) {
    case VT_I32: return "i32";
    case VT_I64: return "i64";
    case VT_F32: return "f32";
    default: return "f64";
    }
}

/* A value as a wast constant. Quiet NaNs are "nan:arithmetic": tally canonicalizes, wabt keeps
 * the hardware's payload (docs/reliability.md). */
static void put_value(FILE *f, uint8_t t, uint64_t v, bool expected)
{
    if (t == VT_I32) {
        fprintf(f, "(i32.const 0x%" PRIx32 ")", (uint32_t)v);
    } else if (t == VT_I64) {
        fprintf(f, "(i64.const 0x%" PRIx64 ")", v);
    } else if (t == VT_F32) {
        uint32_t u = (uint32_t)v;
        float x;
        memcpy(&x, &u, 4);
        if (isnan(x) && expected && (u & 0x400000u))
            fprintf(f, "(f32.const nan:arithmetic)");
        else if (isnan(x))
            fprintf(f, "(f32.const %snan:0x%" PRIx32 ")", u >> 31 ? "-" : "", u & 0x7fffffu);
        else if (isinf(x))
            fprintf(f, "(f32.const %sinf)", x < 0 ? "-" : "");
        else
            fprintf(f, "(f32.const %a)", (double)x);
    } else {
        double x;
        memcpy(&x, &v, 8);
        if (isnan(x) && expected && (v & (UINT64_C(1) << 51)))
            fprintf(f, "(f64.const nan:arithmetic)");
        else if (isnan(x))
            fprintf(f, "(f64.const %snan:0x%" PRIx64 ")", v >> 63 ? "-" : "",
                    (uint64_t)(v & ((UINT64_C(1) << 52) - 1)));
        else if (isinf(x))
            fprintf(f, "(f64.const %sinf)", x < 0 ? "-" : "");
        else
            fprintf(f, "(f64.const %a)", x);
    }
}

static void put_bytes(FILE *f, span b)
{
    for (size_t i = 0; i < b.len; i++)
        fprintf(f, "\\%02x", b.ptr[i]);
}

/* wabt's trap message for a tally trap status (prefix), NULL if not compared. */
static const char *wabt_trap(status st)
{
    switch (st) {
    case ST_TRAP_UNREACHABLE: return "unreachable executed";
    case ST_INSTRUCTION_LIMIT_EXCEEDED: return "unreachable executed"; /* wabt: oo traps */
    case ST_TRAP_MEMORY_OOB: return "out of bounds memory access";
    case ST_TRAP_TABLE_OOB: return "out of bounds table access";
    case ST_TRAP_UNDEFINED_ELEMENT: return "undefined table index";
    case ST_TRAP_UNINITIALIZED_ELEMENT: return "uninitialized table element";
    case ST_TRAP_INDIRECT_CALL_TYPE: return "indirect call signature mismatch";
    case ST_TRAP_INT_DIV_ZERO: return "integer divide by zero";
    case ST_TRAP_INT_OVERFLOW: return "integer overflow";
    case ST_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    default: return NULL;
    }
}

static bool numeric(const functype *t)
{
    for (uint32_t i = 0; i < t->nparams + t->nresults; i++)
        if (t->types[i] != VT_I32 && t->types[i] != VT_I64 && t->types[i] != VT_F32 &&
            t->types[i] != VT_F64)
            return false;
    return t->nparams <= MAX_VALS && t->nresults <= MAX_VALS;
}

/* Fixed, type-dependent arguments (no NaNs: both engines must see the same bits). */
static void make_args(const functype *t, uint64_t *args)
{
    for (uint32_t k = 0; k < t->nparams; k++) {
        switch (t->types[k]) {
        case VT_I32: args[k] = (uint32_t)(7 * k + 1); break;
        case VT_I64: args[k] = (uint64_t) - (int64_t)(k + 2); break;
        case VT_F32: {
            float x = 0.5f * (float)(k + 1);
            uint32_t u;
            memcpy(&u, &x, 4);
            args[k] = u;
            break;
        }
        default: {
            double x = -1.25 - (double)k;
            memcpy(&args[k], &x, 8);
            break;
        }
        }
    }
}

static void put_name(FILE *f, span name)
{
    fputc('"', f);
    put_bytes(f, name);
    fputc('"', f);
}

/* The script's prologue: the out_of_instructions trap, the helper, the module, and a wrapper
 * w<i> per export i: sets the counter, calls, returns the results and the instructions used. */
static void put_prologue(FILE *f, span helper, span inst, const engine_module *m,
                         const bool *called, uint64_t budget)
{
    fprintf(f, "(module $oo (func (export \"out_of_instructions\") unreachable))\n"
               "(register \"__tally\" $oo)\n(module $fs binary \"");
    put_bytes(f, helper);
    fprintf(f, "\")\n(register \"fuzzing-support\" $fs)\n(module $m binary \"");
    put_bytes(f, inst);
    fprintf(f, "\")\n(register \"m\" $m)\n(module $w\n"
               "  (import \"m\" \"" INSTRUMENT_COUNTER_EXPORT "\" (global $c (mut i64)))\n");
    for (uint32_t i = 0; i < m->nexports; i++) {
        if (!called[i])
            continue;
        const functype *t = engine_func_type(m, m->exports[i].index);
        fprintf(f, "  (import \"m\" ");
        put_name(f, m->exports[i].name);
        fprintf(f, " (func $f%u (param", i);
        for (uint32_t k = 0; k < t->nparams; k++)
            fprintf(f, " %s", type_name(t->types[k]));
        fprintf(f, ") (result");
        for (uint32_t k = 0; k < t->nresults; k++)
            fprintf(f, " %s", type_name(t->types[t->nparams + k]));
        fprintf(f, ")))\n");
    }
    for (uint32_t i = 0; i < m->nexports; i++) {
        if (!called[i])
            continue;
        const functype *t = engine_func_type(m, m->exports[i].index);
        fprintf(f, "  (func (export \"w%u\") (param", i);
        for (uint32_t k = 0; k < t->nparams; k++)
            fprintf(f, " %s", type_name(t->types[k]));
        fprintf(f, ") (result");
        for (uint32_t k = 0; k < t->nresults; k++)
            fprintf(f, " %s", type_name(t->types[t->nparams + k]));
        fprintf(f, " i64)\n    i64.const %" PRIu64 " global.set $c", budget);
        for (uint32_t k = 0; k < t->nparams; k++)
            fprintf(f, " local.get %u", k);
        fprintf(f, " call $f%u\n    i64.const %" PRIu64 " global.get $c i64.sub)\n", i, budget);
        /* t<i>: the same call without results, for assert_trap (wast2json 1.0.32 writes
         * broken JSON for an assert_trap whose action has several results) */
        fprintf(f, "  (func (export \"t%u\") (param", i);
        for (uint32_t k = 0; k < t->nparams; k++)
            fprintf(f, " %s", type_name(t->types[k]));
        fprintf(f, ")\n    i64.const %" PRIu64 " global.set $c", budget);
        for (uint32_t k = 0; k < t->nparams; k++)
            fprintf(f, " local.get %u", k);
        fprintf(f, " call $f%u", i);
        for (uint32_t k = 0; k < t->nresults; k++)
            fprintf(f, " drop");
        fprintf(f, ")\n");
    }
    fprintf(f, "  (func (export \"left\") (result i64) global.get $c))\n");
}

/* The commands for one call of export i: its outcome in tally, then the log hash. */
static void put_call(FILE *f, uint32_t i, const functype *t, const uint64_t *args,
                     const outcome *o, uint64_t budget)
{
    const char *trap = wabt_trap(o->st);
    fprintf(f,
            o->st == ST_OK ? "(assert_return (invoke $w \"w%u\""
                           : "(assert_trap (invoke $w \"t%u\"",
            i);
    for (uint32_t k = 0; k < t->nparams; k++) {
        fputc(' ', f);
        put_value(f, t->types[k], args[k], false);
    }
    fputc(')', f);
    if (o->st == ST_OK) {
        for (uint32_t k = 0; k < t->nresults; k++) {
            fputc(' ', f);
            put_value(f, t->types[t->nparams + k], o->results[k], true);
        }
        fprintf(f, " (i64.const %" PRIu64 "))\n", budget - o->left);
    } else {
        fprintf(f, " \"%s\")\n(assert_return (invoke $w \"left\") (i64.const 0x%" PRIx64 "))\n",
                trap ? trap : "", o->left);
    }
    fprintf(f, "(assert_return (invoke $fs \"hash\") (i64.const 0x%" PRIx64 "))\n", o->hash);
}

static bool same_outcome(const outcome *a, const outcome *b, uint32_t nresults)
{
    if (a->st != b->st || a->hash != b->hash)
        return false;
    return a->st != ST_OK || memcmp(a->results, b->results, nresults * sizeof a->results[0]) == 0;
}

static bool stack_exhausted(status st)
{
    return st == ST_TRAP_CALL_STACK_EXHAUSTED || st == ST_TRAP_VALUE_STACK_EXHAUSTED;
}

/* Runs both sides over every export and writes the script; returns the exit status. */
static int run_all(side *metered, side *plain, span helper, span inst, FILE *out, uint64_t budget)
{
    const engine_module *m = plain->m;
    bool *called = base_calloc(m->nexports + 1, sizeof *called);
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == EXT_FUNC)
            called[i] = numeric(engine_func_type(m, m->exports[i].index));
    put_prologue(out, helper, inst, m, called, budget);
    bool plain_on = true;
    int rc = 0;
    for (uint32_t i = 0; i < m->nexports; i++) {
        if (!called[i])
            continue;
        const functype *t = engine_func_type(m, m->exports[i].index);
        char name[256];
        size_t n = m->exports[i].name.len < 255 ? m->exports[i].name.len : 255;
        memcpy(name, m->exports[i].name.ptr, n);
        name[n] = '\0';
        uint64_t args[MAX_VALS];
        make_args(t, args);
        outcome a, b;
        side_call(metered, name, args, budget, &a);
        if (stack_exhausted(a.st)) {
            fprintf(out, ";; %s exhausted the stack in tally: nothing after is comparable\n",
                    name);
            break;
        }
        put_call(out, i, t, args, &a, budget);
        if (plain_on && a.st != ST_INSTRUCTION_LIMIT_EXCEEDED) {
            side_call(plain, name, args, 0, &b);
            if (!same_outcome(&a, &b, t->nresults)) {
                fprintf(stderr,
                        "divergence: tally metered vs unmetered at export \"%s\": "
                        "%s vs %s\n",
                        name, status_name(a.st), status_name(b.st));
                rc = 1;
            }
        }
        if (a.st == ST_INSTRUCTION_LIMIT_EXCEEDED)
            plain_on = false;
    }
    base_free(called);
    return rc;
}

/* diff_tally --bytes SEED SIZE OUT: SIZE bytes of splitmix64(SEED) (Steele, Lea, Flood 2014). */
static int write_bytes(const char *seed_text, const char *size_text, const char *path)
{
    uint64_t x = strtoull(seed_text, NULL, 0);
    size_t n = (size_t)strtoull(size_text, NULL, 0);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 2;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        fputc((int)((z ^ (z >> 31)) & 0xff), f);
    }
    return fclose(f) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--bytes") == 0)
        return write_bytes(argv[2], argv[3], argv[4]);
    if (argc > 2 && !strcmp(argv[1], "--tier") &&
        (!strcmp(argv[2], "compiled") || !strcmp(argv[2], "quick"))) {
        compiled_tier = !strcmp(argv[2], "quick") ? QUICK : COMPILED;
        argc -= 2;
        argv += 2;
    }
    if (argc < 4 || argc > 5) {
        fprintf(stderr,
                "usage: diff_tally [--tier compiled|quick] MODULE.wasm HELPER.wasm OUT.wast "
                "[BUDGET]\n");
        return 2;
    }
    uint64_t budget = argc == 5 ? strtoull(argv[4], NULL, 0) : 1000000;
    buf mod = {0}, helper = {0}, inst = {0};
    int rc = read_all(argv[1], &mod) | read_all(argv[2], &helper);
    if (rc)
        return 2;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_error err;
    status st = engine_module_load(&cfg, span_of(mod.ptr, mod.len), &m, &err);
    if (st == ST_OK)
        st = instrument_module(m, ENGINE_SCHEDULE_V1, &inst, &err);
    engine_module_free(m);
    if (st != ST_OK) {
        fprintf(stderr, "tally rejects the module: %s (%s) at %zu\n", status_name(st), err.detail,
                err.offset);
        return 3;
    }
    side metered, plain;
    int r1 =
        side_open(&metered, span_of(inst.ptr, inst.len), span_of(helper.ptr, helper.len), &st);
    status st2 = ST_OK;
    int r2 =
        r1 ? r1
           : side_open(&plain, span_of(mod.ptr, mod.len), span_of(helper.ptr, helper.len), &st2);
    FILE *out = NULL;
    if (r1 == 3 && status_class_of(st) == SC_TRAP) {
        /* instantiation traps (a segment out of bounds): wabt must agree */
        out = fopen(argv[3], "w");
        fprintf(out, "(module $fs binary \"");
        put_bytes(out, span_of(helper.ptr, helper.len));
        fprintf(out, "\")\n(register \"fuzzing-support\" $fs)\n"
                     "(assert_uninstantiable (module binary \"");
        put_bytes(out, span_of(mod.ptr, mod.len));
        fprintf(out, "\") \"%s\")\n", wabt_trap(st) ? wabt_trap(st) : "");
        rc = 0;
    } else if (r1 || r2) {
        status why = r1 ? st : st2;
        fprintf(stderr, "%s: %s\n", (r1 ? r1 : r2) == 4 ? "out of scope" : "tally rejects",
                status_name(why));
        rc = r1 ? r1 : r2;
    } else {
        out = fopen(argv[3], "w");
        rc = out ? run_all(&metered, &plain, span_of(helper.ptr, helper.len),
                           span_of(inst.ptr, inst.len), out, budget)
                 : 2;
    }
    if (out && fclose(out) != 0)
        rc = 2;
    side_close(&metered);
    if (!r1)
        side_close(&plain);
    buf_fini(&mod);
    buf_fini(&helper);
    buf_fini(&inst);
    return rc;
}
