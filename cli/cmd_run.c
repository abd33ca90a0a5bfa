/* cmd_run.c - `tally run FILE.wasm [--invoke NAME] [ARGS...]`: load, compile and instantiate a
 * raw module with no imports, call one export and print its results one per line, the way
 * `wasmtime --invoke` does. A trap exits 1 with the status name on stderr. No metering here. */
#include "cli.h"
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally run FILE.wasm [--invoke NAME] [ARGS...]\n\n"
            "Instantiates a WebAssembly module that has no imports (its start function runs),\n"
            "calls the exported function NAME (default: `_start`, else `run`) with ARGS parsed\n"
            "by the parameter types (integers in decimal or 0x-hex, floats as C float syntax,\n"
            "`nan`, `inf`), and prints each result on its own line: integers as signed decimal,\n"
            "floats in their shortest round-trip form.\n\n"
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
    case VT_I32: case VT_I64: {
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
            fprintf(stderr, "tally run: argument %u (\"%s\") is not a valid %s\n", i + 1,
                    args[i], ft->types[i] == VT_I32 ? "i32" : ft->types[i] == VT_I64 ? "i64"
                                 : ft->types[i] == VT_F32 ? "f32" : ft->types[i] == VT_F64 ? "f64"
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
static int run_module(const uint8_t *bytes, size_t len, const char *name, int nargs, char **args)
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
    if (m->nimports) {
        const import *imp = &m->imports[0];
        fprintf(stderr, "tally run: %s: the module imports \"%.*s\" \"%.*s\"; tally run provides "
                        "no imports\n", status_name(ST_UNKNOWN_IMPORT), (int)imp->module.len,
                (const char *)imp->module.ptr, (int)imp->name.len, (const char *)imp->name.ptr);
        goto out_free_module;
    }
    engine_code *code = NULL;
    st = engine_code_compile(m, &code);
    if (st != ST_OK) {
        rc = fail("compile", st);
        goto out_free_module;
    }
    engine_run_config rcfg;
    engine_run_config_default(&cfg, &rcfg);
    engine_instance *inst = NULL;
    st = engine_instance_new(code, &rcfg, NULL, 0, &inst, &err);
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
    rc = invoke(inst, f, nargs, args);
out_free_instance:
    engine_instance_free(inst);
    engine_code_free(code);
out_free_module:
    engine_module_free(m);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *file = NULL, *name = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--invoke")) {
            if (++i == argc) {
                usage(stderr);
                return 2;
            }
            name = argv[i];
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
    status st = cli_read_file(file, &bytes, &len);
    if (st != ST_OK) {
        fprintf(stderr, "tally run: %s: %s: cannot read file\n", file, status_name(st));
        return 1;
    }
    int rc = run_module(bytes, len, name, argc - i, argv + i);
    base_free(bytes);
    return rc;
}
