/* code.c - deploy-time processing of canister code (host_code): the IC's module rules
 * (the IC spec section 6.2, the ones that matter to a single node), instrumentation,
 * compilation, and the resolution of every import, once, to a row of the static ic0 table.
 * Not the handlers (ic0.c) nor the canister lifecycle (canister.c). */
#include "host_int.h"
#include "instrument.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void host_config_default(host_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    engine_config_default(&cfg->engine);
    engine_run_config_default(&cfg->engine, &cfg->run);
    cfg->schedule = ENGINE_SCHEDULE_V1;
    cfg->max_stable_pages = 65536;
    cfg->max_memory_bytes = HOST_MEMORY_BYTES_DEFAULT;
    cfg->max_reply_bytes = 2u << 20;
    cfg->subnet_id = span_of("", 0);
}

static status reject(engine_error *err, status st, const char *fmt, span name)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->st = st;
        err->offset = ENGINE_ERROR_NO_OFFSET; /* the detail names the import or export */
        int len = name.len > 120 ? 120 : (int)name.len;
        snprintf(err->detail, sizeof err->detail, fmt, len, (const char *)name.ptr);
    }
    return st;
}

/* True if the import's function type is exactly the row's signature. */
static bool sig_matches(const functype *t, const ic0_row *row)
{
    size_t np = strlen(row->params), nr = strlen(row->results);
    if (t->nparams != np || t->nresults != nr)
        return false;
    for (size_t i = 0; i < np + nr; i++) {
        char ch = i < np ? row->params[i] : row->results[i - np];
        if (t->types[i] != (ch == 'i' ? VT_I32 : VT_I64))
            return false;
    }
    return true;
}

/* Imports: functions from "ic0" only, each a row of ic0.def with its exact signature. As on the
 * IC, a known function is bound whether tally implements it or not: an UNSUPPORTED one traps
 * when called (ic0_call), naming itself. */
static status check_imports(const engine_module *m, int16_t *rows, engine_error *err)
{
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        if (im->kind != EXT_FUNC)
            return reject(err, ST_UNKNOWN_IMPORT,
                          "import %.*s: a canister may import only ic0 "
                          "functions",
                          im->name);
        if (!span_eq_str(im->module, "ic0"))
            return reject(err, ST_UNKNOWN_IMPORT, "import %.*s: not from module \"ic0\"",
                          im->name);
        int r = ic0_row_find(im->name);
        if (r < 0)
            return reject(err, ST_UNKNOWN_IMPORT, "import ic0.%.*s: no such ic0 function",
                          im->name);
        const ic0_row *row = &host_ic0_rows[r];
        if (!sig_matches(&m->types[im->u.type], row))
            return reject(err, ST_INCOMPATIBLE_IMPORT, "import ic0.%.*s: wrong signature",
                          im->name);
        rows[i] = (int16_t)r;
    }
    return ST_OK;
}

static const char *const entry_names[ENTRY_COUNT] = {
    [ENTRY_INIT] = "canister_init",
    [ENTRY_PRE_UPGRADE] = "canister_pre_upgrade",
    [ENTRY_POST_UPGRADE] = "canister_post_upgrade",
    [ENTRY_INSPECT] = "canister_inspect_message",
    [ENTRY_HEARTBEAT] = "canister_heartbeat",
    [ENTRY_GLOBAL_TIMER] = "canister_global_timer",
    [ENTRY_LOW_MEMORY] = "canister_on_low_wasm_memory",
};

static const char *const reserved_exports[] = {
    "canister counter_instructions",   "canister_start", "canister counter_dirty_pages",
    "canister counter_accessed_pages", "stable_memory",  "stable_bytemap_memory",
};

static bool has_prefix(span s, const char *p, span *rest)
{
    size_t n = strlen(p);
    if (s.len < n || memcmp(s.ptr, p, n) != 0)
        return false;
    *rest = span_of(s.ptr + n, s.len - n);
    return true;
}

/* Classifies export e: a method (kind set, name after the prefix), an entry point (*entry), or
 * another export (neither). Rejects what the IC rejects. */
static status classify_export(const engine_module *m, const export *e, int *kind, span *name,
                              int *entry, engine_error *err)
{
    *kind = 0;
    *entry = -1;
    for (size_t i = 0; i < BASE_ARRAY_LEN(reserved_exports); i++)
        if (span_eq_str(e->name, reserved_exports[i]))
            return reject(err, ST_BAD_EXPORT, "export \"%.*s\": reserved by the IC", e->name);
    span rest;
    if (has_prefix(e->name, "canister_update ", &rest))
        *kind = HOST_METHOD_UPDATE;
    else if (has_prefix(e->name, "canister_query ", &rest))
        *kind = HOST_METHOD_QUERY;
    else if (has_prefix(e->name, "canister_composite_query ", &rest))
        return reject(err, ST_BAD_EXPORT,
                      "export \"%.*s\": composite queries need "
                      "inter-canister calls, which tally does not support",
                      e->name);
    else if (has_prefix(e->name, "canister_", &rest)) {
        for (int i = 0; i < ENTRY_COUNT; i++)
            if (span_eq_str(e->name, entry_names[i]))
                *entry = i;
        if (*entry < 0)
            return reject(err, ST_BAD_EXPORT, "export \"%.*s\": unknown canister_ entry point",
                          e->name);
    } else {
        return ST_OK;
    }
    *name = rest;
    if (e->kind != EXT_FUNC)
        return reject(err, ST_BAD_EXPORT, "export \"%.*s\": not a function", e->name);
    const functype *t = engine_func_type(m, e->index);
    if (t->nparams != 0 || t->nresults != 0)
        return reject(err, ST_BAD_EXPORT, "export \"%.*s\": type must be [] -> []", e->name);
    return ST_OK;
}

static int method_cmp(const void *a, const void *b)
{
    const method *x = a, *y = b;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int r = n ? memcmp(x->name.ptr, y->name.ptr, n) : 0;
    if (r != 0)
        return r;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len ? 1 : 0;
}

/* Builds code->methods (sorted) and code->entries from module m's exports. */
static status build_exports(host_code *code, const engine_module *m, engine_error *err)
{
    code->methods = base_calloc(m->nexports ? m->nexports : 1, sizeof *code->methods);
    if (!code->methods)
        return ST_OUT_OF_MEMORY;
    size_t names = 0;
    for (uint32_t i = 0; i < m->nexports; i++) {
        int kind, entry;
        span name;
        status st = classify_export(m, &m->exports[i], &kind, &name, &entry, err);
        if (st != ST_OK)
            return st;
        if (entry >= 0)
            code->entries[entry] = m->exports[i].name;
        if (kind == 0)
            continue;
        names += name.len;
        code->methods[code->nmethods++] = (method){name, m->exports[i].name, kind};
    }
    if (code->nmethods > HOST_METHODS_MAX || names > HOST_METHOD_NAMES_MAX) {
        static const char why[] = "more than 1000 methods or 20000 bytes of method names";
        return reject(err, ST_BAD_EXPORT, "%.*s", span_of(why, sizeof why - 1));
    }
    qsort(code->methods, code->nmethods, sizeof *code->methods, method_cmp);
    for (uint32_t i = 1; i < code->nmethods; i++)
        if (method_cmp(&code->methods[i - 1], &code->methods[i]) == 0)
            return reject(err, ST_BAD_EXPORT, "method \"%.*s\" exported twice",
                          code->methods[i].name);
    return ST_OK;
}

/* The F_NO_CANISTER instructions (engine/opcodes.def) change a table or drop a segment: their
 * effects are instance state that neither rollback nor the ledger keeps, so tally rejects them at
 * deploy (the IC rejects the table ones too; docs/canisters.md). */
static status check_code(const engine_module *m, engine_error *err)
{
    for (uint32_t f = 0; f < m->nfuncs - m->nfunc_imports; f++) {
        reader r = reader_of(m->funcs[f].body);
        while (r.pos < r.end) {
            engine_insn in;
            status st = engine_insn_read(&r, &in, NULL);
            if (st != ST_OK)
                return reject(err, st, "function body %.*s", span_of("", 0));
            if (engine_opcodes[in.op].flags & F_NO_CANISTER) {
                const char *t = engine_opcodes[in.op].text;
                return reject(err, ST_UNSUPPORTED_FEATURE,
                              "instruction %.*s: not allowed in canisters", span_of(t, strlen(t)));
            }
        }
    }
    return ST_OK;
}

/* One host function per import of the instrumented module: [0] out_of_instructions, the rest
 * bound to their ic0 rows. */
static status bind_imports(host_code *code)
{
    const engine_module *m = code->mod;
    code->nimports = m->nimports;
    code->funcs = base_calloc(m->nimports ? m->nimports : 1, sizeof *code->funcs);
    code->imports = base_calloc(m->nimports ? m->nimports : 1, sizeof *code->imports);
    if (!code->funcs || !code->imports)
        return ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        const functype *t = &m->types[im->u.type];
        status st;
        if (span_eq_str(im->module, INSTRUMENT_IMPORT_MODULE)) {
            st = engine_host_func_new(t, ic0_out_of_instructions, NULL, &code->funcs[i]);
        } else {
            int r = ic0_row_find(im->name);
            if (r < 0)
                return BUG(); /* checked on the original module */
            st = engine_host_func_new(t, ic0_call, (void *)&host_ic0_rows[r], &code->funcs[i]);
        }
        if (st != ST_OK)
            return st;
        code->imports[i].kind = EXT_FUNC;
        code->imports[i].u.func = code->funcs[i];
    }
    return ST_OK;
}

static status find_counter(host_code *code)
{
    const engine_module *m = code->mod;
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == EXT_GLOBAL &&
            span_eq_str(m->exports[i].name, INSTRUMENT_COUNTER_EXPORT)) {
            code->counter_global = m->exports[i].index;
            return ST_OK;
        }
    return BUG();
}

/* The bytes the canister memory limit counts for a fresh instance: memory and tables at their
 * declared minimums. Past the limit the module is refused here, before anything is allocated
 * (100 tables of 10,000,000 elements would want 8 GB). */
static status check_memory(host_code *code, const engine_module *m, engine_error *err)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nmems; i++)
        n += (uint64_t)m->mems[i].min * 65536;
    for (uint32_t i = 0; i < m->ntables; i++)
        n += (uint64_t)m->tables[i].lim.min * sizeof(uint64_t);
    code->initial_bytes = n;
    if (n <= code->cfg.max_memory_bytes)
        return ST_OK;
    if (err) {
        memset(err, 0, sizeof *err);
        err->st = ST_CANISTER_MEMORY_LIMIT;
        snprintf(err->detail, sizeof err->detail,
                 "initial memory and tables take %llu bytes, the canister limit is %llu",
                 (unsigned long long)n, (unsigned long long)code->cfg.max_memory_bytes);
    }
    return ST_CANISTER_MEMORY_LIMIT;
}

/* Checks the original module; fills code->rows. */
static status check_original(host_code *code, const engine_module *orig, engine_error *err)
{
    code->norig_imports = orig->nimports;
    code->rows = base_calloc(orig->nimports ? orig->nimports : 1, sizeof *code->rows);
    if (!code->rows)
        return ST_OUT_OF_MEMORY;
    status st = check_imports(orig, code->rows, err);
    if (st == ST_OK)
        st = check_memory(code, orig, err);
    if (st == ST_OK)
        st = build_exports(code, orig, err); /* checked here, rebuilt on the instrumented one */
    if (st == ST_OK)
        st = check_code(orig, err);
    base_free(code->methods);
    code->methods = NULL;
    code->nmethods = 0;
    memset(code->entries, 0, sizeof code->entries);
    return st;
}

status host_code_new(const host_config *cfg, span wasm, host_code **out, engine_error *err)
{
    *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    engine_module *orig = NULL;
    buf inst = {0};
    host_code *code = base_calloc(1, sizeof *code);
    if (!code)
        return ST_OUT_OF_MEMORY;
    code->cfg = *cfg;
    status st = engine_module_load(&cfg->engine, wasm, &orig, err);
    if (st == ST_OK)
        st = check_original(code, orig, err);
    if (st == ST_OK)
        st = instrument_module(orig, cfg->schedule, &inst, err);
    if (st == ST_OK)
        st = engine_module_load(&cfg->engine, span_of(inst.ptr, inst.len), &code->mod, err);
    if (st == ST_OK)
        st = engine_code_compile(code->mod, &code->ecode);
    if (st == ST_OK)
        st = find_counter(code);
    if (st == ST_OK)
        st = bind_imports(code);
    if (st == ST_OK)
        st = build_exports(code, code->mod, err);
    buf_fini(&inst);
    engine_module_free(orig);
    if (st != ST_OK) {
        host_code_free(code);
        return st;
    }
    *out = code;
    return ST_OK;
}

void host_code_free(host_code *code)
{
    if (!code)
        return;
    if (code->funcs)
        for (uint32_t i = 0; i < code->nimports; i++)
            engine_host_func_free(code->funcs[i]);
    base_free(code->funcs);
    base_free(code->imports);
    base_free(code->rows);
    base_free(code->methods);
    engine_code_free(code->ecode);
    engine_native_free(code->native);
    engine_native_free(code->quick);
    engine_module_free(code->mod);
    base_free(code);
}

const engine_code *host_code_engine(const host_code *code)
{
    return code->ecode;
}

void host_code_attach_native(host_code *code, engine_native *n)
{
    if (code->native) {
        if (code->quick || !engine_native_is_quick(code->native) || engine_native_is_quick(n)) {
            engine_native_free(n);
            return;
        }
        code->quick = code->native; /* the upgrade: quick code, then cc's */
    }
    code->native = n;
    engine_code_attach_native(code->ecode, n);
}

span host_code_instrumented(const host_code *code)
{
    return code->mod->bytes;
}

uint32_t host_code_method_count(const host_code *code)
{
    return code->nmethods;
}

span host_code_method(const host_code *code, uint32_t i, int *kind)
{
    if (i >= code->nmethods) {
        if (kind)
            *kind = 0;
        return span_of("", 0);
    }
    if (kind)
        *kind = code->methods[i].kind;
    return code->methods[i].name;
}

int host_code_import_row(const host_code *code, uint32_t i)
{
    return i < code->norig_imports ? code->rows[i] : -1;
}

int host_code_method_find(const host_code *code, span name)
{
    method key = {name, {NULL, 0}, 0};
    uint32_t lo = 0, hi = code->nmethods;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int r = method_cmp(&key, &code->methods[mid]);
        if (r == 0)
            return (int)mid;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

bool host_code_inspects(const host_code *code)
{
    return code->entries[ENTRY_INSPECT].len != 0;
}

unsigned host_code_tasks(const host_code *code)
{
    return (code->entries[ENTRY_HEARTBEAT].len ? HOST_TASK_HEARTBEAT : 0u) |
           (code->entries[ENTRY_GLOBAL_TIMER].len ? HOST_TASK_GLOBAL_TIMER : 0u);
}
