/* cmd_run.c - `tally run FILE.wasm [--limit N] [--invoke NAME] [ARGS...]`: load, compile and
 * instantiate a raw module, call one export and print its results one per line, the way
 * `wasmtime --invoke` does. A trap exits 1 with the status name on stderr. A module made by
 * `tally instrument` (its only import is __tally.out_of_instructions) runs metered: the counter
 * starts at the budget, running out traps with INSTRUCTION_LIMIT_EXCEEDED, and the instructions
 * used are reported on stderr. */
#include "cli.h"
#include "engine.h"
#include "instrument.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally run FILE.wasm [--limit N] [--tier interp|compiled|quick|auto]\n"
            "                 [--invoke NAME] [ARGS...]\n\n"
            "Instantiates a WebAssembly module that has no imports (its start function runs),\n"
            "calls the exported function NAME (default: `_start`, else `run`) with ARGS parsed\n"
            "by the parameter types (integers in decimal or 0x-hex, floats as C float syntax,\n"
            "`nan`, `inf`), and prints each result on its own line: integers as signed decimal,\n"
            "floats in their shortest round-trip form.\n\n"
            "A module written by `tally instrument` (importing only " INSTRUMENT_IMPORT_MODULE
            "." INSTRUMENT_IMPORT_NAME ")\n"
            "runs metered: its counter starts at N (--limit, also --budget; default 2^62),\n"
            "running out traps with INSTRUCTION_LIMIT_EXCEEDED, and `instructions: USED` goes to\n"
            "stderr.\n\n"
            "--tier picks the engine (docs/engine.md): interp (the interpreter), compiled (the\n"
            "module translated to C and built by the system C compiler, $TALLY_CC or cc; fails\n"
            "if that is impossible), quick (the same built by TinyCC, $TALLY_TCC or tcc: built\n"
            "about 20x faster, runs slower; fails if impossible), auto (default: compiled when a\n"
            "C compiler is available, else the interpreter). All tiers give the same results,\n"
            "traps and instruction counts. `tier: compiled|quick|interp` goes to stderr.\n\n"
            "Exit status: 0 on success; 1 if the module is invalid, cannot be linked, or traps\n"
            "(stderr: STATUS_NAME: message); 2 on usage errors.\n");
}

static int fail(const char *what, status st)
{
    fprintf(stderr, "tally run: %s%s%s: %s\n", what, *what ? ": " : "", status_name(st),
            status_message(st));
    return 1;
}

static bool parse_arg(const char *s, uint8_t type, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    switch (type) {
    case VT_I32:
    case VT_I64: {
        uint64_t v;
        if (s[0] == '-')
            v = (uint64_t)strtoll(s, &end, 0);
        else
            v = strtoull(s, &end, 0);
        if (type == VT_I32) {
            int64_t sv = (int64_t)v;
            if (s[0] == '-' ? sv < INT32_MIN : v > UINT32_MAX)
                return false;
            v = (uint32_t)v;
        }
        *out = v;
        break;
    }
    case VT_F32: {
        float f = strtof(s, &end);
        uint32_t u;
        memcpy(&u, &f, 4);
        *out = u;
        break;
    }
    case VT_F64: {
        double d = strtod(s, &end);
        memcpy(out, &d, 8);
        break;
    }
    default: return false;
    }
    return end && end != s && *end == '\0' && errno != ERANGE;
}

/* Shortest %g form that reads back as the same value (wasmtime prints Rust's shortest form). */
static void print_float(double d, bool is32)
{
    if (d != d) {
        printf("NaN\n");
        return;
    }
    if (isinf(d)) {
        printf("%sinf\n", d < 0 ? "-" : "");
        return;
    }
    char text[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*g", prec, d);
        if (is32 ? strtof(text, NULL) == (float)d : strtod(text, NULL) == d)
            break;
    }
    printf("%s\n", text);
}

static void print_result(uint8_t type, uint64_t v)
{
    switch (type) {
    case VT_I32: printf("%" PRId32 "\n", (int32_t)(uint32_t)v); break;
    case VT_I64: printf("%" PRId64 "\n", (int64_t)v); break;
    case VT_F32: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        print_float((double)f, true);
        break;
    }
    case VT_F64: {
        double d;
        memcpy(&d, &v, 8);
        print_float(d, false);
        break;
    }
    default: printf(v ? "<%s>\n" : "null\n", type == VT_FUNCREF ? "funcref" : "externref"); break;
    }
}

/* __tally.out_of_instructions: the budget is spent. */
static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst;
    (void)user;
    (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

/* True if m is a metered module: its one import is the instrumenter's out_of_instructions. */
static bool is_metered(const engine_module *m)
{
    return m->nimports == 1 && m->imports[0].kind == EXT_FUNC &&
           span_eq_str(m->imports[0].module, INSTRUMENT_IMPORT_MODULE) &&
           span_eq_str(m->imports[0].name, INSTRUMENT_IMPORT_NAME);
}

/* The metering counter of a metered instance, or NULL. */
static engine_global *counter_of(engine_instance *inst)
{
    engine_extern x;
    span name = span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT));
    if (engine_instance_export(inst, name, &x) != ST_OK || x.kind != EXT_GLOBAL)
        return NULL;
    return x.u.global;
}

/* Finds the function to call: `name`, else _start, else run. */
static status find_entry(engine_instance *inst, const char *name, engine_func **f)
{
    const char *cands[2] = {name ? name : "_start", name ? NULL : "run"};
    for (int i = 0; i < 2 && cands[i]; i++) {
        engine_extern x;
        if (engine_instance_export(inst, span_of(cands[i], strlen(cands[i])), &x) == ST_OK &&
            x.kind == EXT_FUNC) {
            *f = x.u.func;
            return ST_OK;
        }
    }
    return ST_UNKNOWN_EXPORT;
}

/* Calls f with the textual args and prints the results; returns the exit code. */
static int invoke(engine_instance *inst, engine_func *f, int nargs, char **args)
{
    const functype *ft = engine_func_functype(f);
    if ((uint32_t)nargs != ft->nparams) {
        fprintf(stderr, "tally run: the function takes %u arguments, %d given\n", ft->nparams,
                nargs);
        return 2;
    }
    uint64_t *slots = base_calloc((size_t)ft->nparams + ft->nresults + 1, sizeof(uint64_t));
    if (!slots)
        return fail("", ST_OUT_OF_MEMORY);
    for (uint32_t i = 0; i < ft->nparams; i++) {
        if (!parse_arg(args[i], ft->types[i], &slots[i])) {
            fprintf(stderr, "tally run: argument %u (\"%s\") is not a valid %s\n", i + 1, args[i],
                    ft->types[i] == VT_I32   ? "i32"
                    : ft->types[i] == VT_I64 ? "i64"
                    : ft->types[i] == VT_F32 ? "f32"
                    : ft->types[i] == VT_F64 ? "f64"
                                             : "value");
            base_free(slots);
            return 2;
        }
    }
    uint64_t *results = slots + ft->nparams;
    status st = engine_instance_invoke(inst, f, slots, results);
    int rc = 0;
    if (st != ST_OK) {
        rc = fail("", st);
    } else {
        for (uint32_t i = 0; i < ft->nresults; i++)
            print_result(ft->types[ft->nparams + i], results[i]);
    }
    base_free(slots);
    return rc;
}

/* Loads, compiles, instantiates; returns the exit code. */
enum tier { TIER_AUTO, TIER_INTERP, TIER_COMPILED, TIER_QUICK };

static int run_module(const uint8_t *bytes, size_t len, const char *name, int64_t budget,
                      enum tier tier, int nargs, char **args)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_error err;
    status st = engine_module_load(&cfg, span_of(bytes, len), &m, &err);
    if (st != ST_OK) {
        char msg[256];
        engine_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "tally run: %s\n", msg);
        return 1;
    }
    int rc = 1;
    engine_func *ooi = NULL;
    engine_extern imp = {.kind = EXT_FUNC};
    bool metered = is_metered(m);
    if (metered) {
        static const functype void_type = {0, 0, NULL};
        st = engine_host_func_new(&void_type, out_of_instructions, NULL, &ooi);
        if (st != ST_OK) {
            rc = fail("", st);
            goto out_free_module;
        }
        imp.u.func = ooi;
    } else if (m->nimports) {
        const import *first = &m->imports[0];
        fprintf(stderr,
                "tally run: %s: the module imports \"%.*s\" \"%.*s\"; tally run provides "
                "no imports\n",
                status_name(ST_UNKNOWN_IMPORT), (int)first->module.len,
                (const char *)first->module.ptr, (int)first->name.len,
                (const char *)first->name.ptr);
        goto out_free_module;
    }
    engine_code *code = NULL;
    st = engine_code_compile(m, &code);
    if (st != ST_OK) {
        rc = fail("compile", st);
        goto out_free_module;
    }
    engine_native *nat = NULL;
    if (tier != TIER_INTERP) {
        engine_native_config ncfg;
        if (tier == TIER_QUICK)
            engine_native_config_quick(&ncfg);
        else
            engine_native_config_default(&ncfg);
        char why[256];
        st = engine_native_compile(code, &ncfg, &nat, why, sizeof why);
        if (st != ST_OK && tier != TIER_AUTO) {
            fprintf(stderr, "tally run: %s tier: %s: %s\n",
                    tier == TIER_QUICK ? "quick" : "compiled", status_name(st), why);
            engine_code_free(code);
            goto out_free_module;
        }
        if (st == ST_OK)
            engine_code_attach_native(code, nat);
    }
    fprintf(stderr, "tier: %s\n",
            !nat                          ? "interp"
            : engine_native_is_quick(nat) ? "quick"
                                          : "compiled");
    engine_run_config rcfg;
    engine_run_config_default(&cfg, &rcfg);
    engine_instance *inst = NULL;
    st = engine_instance_new(code, &rcfg, metered ? &imp : NULL, metered ? 1 : 0, NULL, &inst,
                             &err);
    if (st != ST_OK) {
        rc = fail("instantiate", st);
        goto out_free_instance;
    }
    engine_func *f = NULL;
    if (find_entry(inst, name, &f) != ST_OK) {
        fprintf(stderr, "tally run: %s: no exported function \"%s\"\n",
                status_name(ST_UNKNOWN_EXPORT), name ? name : "_start\" or \"run");
        goto out_free_instance;
    }
    engine_global *counter = metered ? counter_of(inst) : NULL;
    if (counter)
        engine_global_set(counter, (uint64_t)budget);
    rc = invoke(inst, f, nargs, args);
    if (counter)
        fprintf(stderr, "instructions: %" PRId64 "\n",
                budget - (int64_t)engine_global_get(counter));
out_free_instance:
    engine_instance_free(inst);
    engine_code_free(code);
    engine_native_free(nat);
out_free_module:
    engine_module_free(m);
    engine_host_func_free(ooi);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *file = NULL, *name = NULL;
    int64_t budget = INT64_C(1) << 62;
    enum tier tier = TIER_AUTO;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--invoke") || !strcmp(argv[i], "--limit") ||
            !strcmp(argv[i], "--budget")) { /* --budget: the older name of --limit */
            if (i + 1 == argc) {
                usage(stderr);
                return 2;
            }
            if (!strcmp(argv[i++], "--invoke")) {
                name = argv[i];
                continue;
            }
            char *end = NULL;
            long long b = strtoll(argv[i], &end, 0);
            if (!end || *end || b < 0) {
                fprintf(stderr, "tally run: --limit wants a non-negative integer\n");
                return 2;
            }
            budget = b;
        } else if (!strcmp(argv[i], "--tier") && i + 1 < argc) {
            const char *t = argv[++i];
            if (!strcmp(t, "interp"))
                tier = TIER_INTERP;
            else if (!strcmp(t, "compiled"))
                tier = TIER_COMPILED;
            else if (!strcmp(t, "quick"))
                tier = TIER_QUICK;
            else if (!strcmp(t, "auto"))
                tier = TIER_AUTO;
            else {
                fprintf(stderr, "tally run: --tier wants interp, compiled, quick or auto\n");
                return 2;
            }
        } else if (!file) {
            file = argv[i];
        } else {
            break; /* the arguments of the call */
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!cli_read_input("tally run", file, &bytes, &len))
        return 1;
    int rc = run_module(bytes, len, name, budget, tier, argc - i, argv + i);
    base_free(bytes);
    return rc;
}
