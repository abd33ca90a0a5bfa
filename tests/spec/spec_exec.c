/* spec_exec.c - the spec runner's execution back end (spec_exec.h) on tally's interpreter:
 * instantiates modules with imports resolved by (module, field) name against registered
 * instances and the spec's `spectest` host module, invokes exports, reads exported globals.
 *
 * Value mapping: i32/i64/f32/f64 bits pass through; a null reference is slot 0; a funcref is
 * the engine_func pointer; an externref `ref.extern N` is carried as N + 1 so that N = 0 stays
 * distinct from null. Every module ever instantiated (including ones whose instantiation
 * trapped: their functions may sit in imported tables, spec 2.0) lives until spec_env_free. */
#include "spec_exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct spec_mod {
    char *name; /* "$M" or NULL */
    engine_module *m;
    engine_code *code;
    engine_native *native;
    engine_instance *inst;
} spec_mod;

typedef struct spec_reg {
    char *as;
    spec_mod *mod; /* NULL: the spectest module */
} spec_reg;

enum { SPECTEST_FUNCS = 7 };

struct spec_env {
    engine_run_config rc;
    engine_func *print[SPECTEST_FUNCS];
    engine_global *g_i32, *g_i64, *g_f32, *g_f64;
    engine_table *table;
    engine_memory *memory;
    spec_mod **mods;
    size_t nmods, capmods;
    spec_mod *current;
    spec_reg *regs;
    size_t nregs, capregs;
    bool native;
    engine_native_config ncfg;
    size_t nnative;
};

bool spec_exec_available(void)
{
    return true;
}

/* ---- the spectest module ------------------------------------------------------------------ */

static status print_fn(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst;
    (void)user;
    (void)slots;
    return ST_OK;
}

static const char *const print_names[SPECTEST_FUNCS] = {
    "print", "print_i32", "print_i64", "print_f32", "print_f64", "print_i32_f32", "print_f64_f64",
};
static const uint8_t print_types[SPECTEST_FUNCS][2] = {
    {0, 0}, {VT_I32, 0}, {VT_I64, 0}, {VT_F32, 0}, {VT_F64, 0}, {VT_I32, VT_F32}, {VT_F64, VT_F64},
};

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = base_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static status spectest_new(spec_env *env)
{
    status st = ST_OK;
    for (int i = 0; i < SPECTEST_FUNCS && st == ST_OK; i++) {
        uint32_t np = print_types[i][0] == 0 ? 0 : print_types[i][1] == 0 ? 1 : 2;
        functype ft = {np, 0, print_types[i]};
        st = engine_host_func_new(&ft, print_fn, env, &env->print[i]);
    }
    float f32 = 666.6f;
    double f64 = 666.6;
    uint32_t f32b;
    uint64_t f64b;
    memcpy(&f32b, &f32, 4);
    memcpy(&f64b, &f64, 8);
    if (st == ST_OK)
        st = engine_global_new((globaltype){VT_I32, false}, 666, &env->g_i32);
    if (st == ST_OK)
        st = engine_global_new((globaltype){VT_I64, false}, 666, &env->g_i64);
    if (st == ST_OK)
        st = engine_global_new((globaltype){VT_F32, false}, f32b, &env->g_f32);
    if (st == ST_OK)
        st = engine_global_new((globaltype){VT_F64, false}, f64b, &env->g_f64);
    if (st == ST_OK)
        st = engine_table_new(&env->rc, (tabletype){VT_FUNCREF, {10, 20, true}}, &env->table);
    if (st == ST_OK)
        st = engine_memory_new(&env->rc, (limits){1, 2, true}, &env->memory);
    return st;
}

static status spectest_lookup(const spec_env *env, span field, engine_extern *out)
{
    for (int i = 0; i < SPECTEST_FUNCS; i++)
        if (span_eq_str(field, print_names[i])) {
            out->kind = EXT_FUNC;
            out->u.func = env->print[i];
            return ST_OK;
        }
    struct {
        const char *name;
        engine_global *g;
    } globals[] = {{"global_i32", env->g_i32},
                   {"global_i64", env->g_i64},
                   {"global_f32", env->g_f32},
                   {"global_f64", env->g_f64}};
    for (size_t i = 0; i < BASE_ARRAY_LEN(globals); i++)
        if (span_eq_str(field, globals[i].name)) {
            out->kind = EXT_GLOBAL;
            out->u.global = globals[i].g;
            return ST_OK;
        }
    if (span_eq_str(field, "table")) {
        out->kind = EXT_TABLE;
        out->u.table = env->table;
        return ST_OK;
    }
    if (span_eq_str(field, "memory")) {
        out->kind = EXT_MEMORY;
        out->u.memory = env->memory;
        return ST_OK;
    }
    return ST_UNKNOWN_IMPORT;
}

/* ---- environment -------------------------------------------------------------------------- */

static status add_reg(spec_env *env, const char *as, spec_mod *mod)
{
    if (env->nregs == env->capregs) {
        size_t ncap = env->capregs ? env->capregs * 2 : 16;
        spec_reg *nr = base_realloc(env->regs, ncap * sizeof *nr);
        if (!nr)
            return ST_OUT_OF_MEMORY;
        env->regs = nr;
        env->capregs = ncap;
    }
    char *d = dup_str(as);
    if (!d)
        return ST_OUT_OF_MEMORY;
    env->regs[env->nregs++] = (spec_reg){d, mod};
    return ST_OK;
}

spec_env *spec_env_new(void)
{
    spec_env *env = base_calloc(1, sizeof *env);
    if (!env)
        return NULL;
    engine_run_config_default(NULL, &env->rc);
    if (spectest_new(env) != ST_OK || add_reg(env, "spectest", NULL) != ST_OK) {
        spec_env_free(env);
        return NULL;
    }
    return env;
}

void spec_env_use_native(spec_env *env, const engine_native_config *cfg)
{
    env->native = true;
    env->ncfg = *cfg;
}

size_t spec_env_native_count(const spec_env *env)
{
    return env->nnative;
}

static void mod_free(spec_mod *sm)
{
    engine_instance_free(sm->inst);
    engine_code_free(sm->code);
    engine_native_free(sm->native);
    engine_module_free(sm->m);
    base_free(sm->name);
    base_free(sm);
}

void spec_env_free(spec_env *env)
{
    if (!env)
        return;
    for (size_t i = 0; i < env->nmods; i++)
        engine_instance_free(env->mods[i]->inst), env->mods[i]->inst = NULL;
    for (size_t i = 0; i < env->nmods; i++)
        mod_free(env->mods[i]);
    base_free(env->mods);
    for (size_t i = 0; i < env->nregs; i++)
        base_free(env->regs[i].as);
    base_free(env->regs);
    for (int i = 0; i < SPECTEST_FUNCS; i++)
        engine_host_func_free(env->print[i]);
    engine_global_free(env->g_i32);
    engine_global_free(env->g_i64);
    engine_global_free(env->g_f32);
    engine_global_free(env->g_f64);
    engine_table_free(env->table);
    engine_memory_free(env->memory);
    base_free(env);
}

static spec_mod *find_mod(const spec_env *env, const char *name)
{
    if (!name)
        return env->current;
    for (size_t i = env->nmods; i-- > 0;)
        if (env->mods[i]->name && !strcmp(env->mods[i]->name, name) && env->mods[i]->inst)
            return env->mods[i];
    return NULL;
}

static status resolve(const spec_env *env, const import *imp, engine_extern *out)
{
    for (size_t i = env->nregs; i-- > 0;) {
        if (!span_eq_str(imp->module, env->regs[i].as))
            continue;
        if (!env->regs[i].mod)
            return spectest_lookup(env, imp->name, out);
        status st = engine_instance_export(env->regs[i].mod->inst, imp->name, out);
        return st == ST_OK ? ST_OK : ST_UNKNOWN_IMPORT;
    }
    return ST_UNKNOWN_IMPORT;
}

static status keep_mod(spec_env *env, spec_mod *sm)
{
    if (env->nmods == env->capmods) {
        size_t ncap = env->capmods ? env->capmods * 2 : 32;
        spec_mod **nm = base_realloc(env->mods, ncap * sizeof *nm);
        if (!nm)
            return ST_OUT_OF_MEMORY;
        env->mods = nm;
        env->capmods = ncap;
    }
    env->mods[env->nmods++] = sm;
    return ST_OK;
}

status spec_env_instantiate(spec_env *env, engine_module *m, const char *name)
{
    spec_mod *sm = base_calloc(1, sizeof *sm);
    if (!sm) {
        engine_module_free(m);
        return ST_OUT_OF_MEMORY;
    }
    sm->m = m;
    status st = ST_OUT_OF_MEMORY;
    engine_extern *imports = base_calloc(m->nimports ? m->nimports : 1, sizeof *imports);
    if (!imports || (name && !(sm->name = dup_str(name))))
        goto out_free_mod;
    for (uint32_t i = 0; i < m->nimports; i++) {
        st = resolve(env, &m->imports[i], &imports[i]);
        if (st != ST_OK)
            goto out_free_mod;
    }
    st = engine_code_compile(m, &sm->code);
    if (st != ST_OK)
        goto out_free_mod;
    if (env->native) {
        char why[256];
        st = engine_native_compile(sm->code, &env->ncfg, &sm->native, why, sizeof why);
        if (st != ST_OK) {
            fprintf(stderr, "compiled tier: %s: %s\n", status_name(st), why);
            goto out_free_mod;
        }
        engine_code_attach_native(sm->code, sm->native);
        env->nnative++;
    }
    st = engine_instance_new(sm->code, &env->rc, imports, m->nimports, NULL, &sm->inst, NULL);
    if (!sm->inst)
        goto out_free_mod;
    base_free(imports);
    status kst = keep_mod(env, sm);
    if (kst != ST_OK) {
        mod_free(sm);
        return kst;
    }
    if (st == ST_OK)
        env->current = sm;
    else
        base_free(sm->name), sm->name = NULL; /* a failed module cannot be named */
    return st;

out_free_mod:
    base_free(imports);
    mod_free(sm);
    return st;
}

status spec_env_register(spec_env *env, const char *name, const char *as)
{
    spec_mod *sm = find_mod(env, name);
    if (!sm)
        return ST_UNKNOWN_IMPORT;
    return add_reg(env, as, sm);
}

static uint64_t to_slot(const spec_value *v)
{
    switch (v->type) {
    case VT_I32:
    case VT_F32: return (uint32_t)v->bits;
    case VT_FUNCREF: return v->is_null ? 0 : v->bits;
    case VT_EXTERNREF: return v->is_null ? 0 : v->bits + 1;
    default: return v->bits;
    }
}

static spec_value from_slot(uint8_t type, uint64_t s)
{
    spec_value v = {type, false, s};
    switch (type) {
    case VT_I32:
    case VT_F32: v.bits = (uint32_t)s; break;
    case VT_FUNCREF: v.is_null = s == 0; break;
    case VT_EXTERNREF:
        v.is_null = s == 0;
        v.bits = s ? s - 1 : 0;
        break;
    default: break;
    }
    return v;
}

status spec_env_invoke(spec_env *env, const char *name, const char *field, const spec_value *args,
                       size_t nargs, spec_value *results, size_t *nresults)
{
    spec_mod *sm = find_mod(env, name);
    if (!sm)
        return ST_UNKNOWN_EXPORT;
    engine_extern x;
    status st = engine_instance_export(sm->inst, span_of(field, strlen(field)), &x);
    if (st != ST_OK)
        return st;
    if (x.kind != EXT_FUNC)
        return ST_UNKNOWN_EXPORT;
    const functype *ft = engine_func_functype(x.u.func);
    if (nargs != ft->nparams || ft->nresults > *nresults || nargs > 64)
        return ST_BUG_INVARIANT;
    uint64_t in[64], out[64];
    for (size_t i = 0; i < nargs; i++)
        in[i] = to_slot(&args[i]);
    st = engine_instance_invoke(sm->inst, x.u.func, in, out);
    if (st != ST_OK)
        return st;
    for (uint32_t i = 0; i < ft->nresults; i++)
        results[i] = from_slot(ft->types[ft->nparams + i], out[i]);
    *nresults = ft->nresults;
    return ST_OK;
}

status spec_env_get(spec_env *env, const char *name, const char *field, spec_value *out)
{
    spec_mod *sm = find_mod(env, name);
    if (!sm)
        return ST_UNKNOWN_EXPORT;
    engine_extern x;
    status st = engine_instance_export(sm->inst, span_of(field, strlen(field)), &x);
    if (st != ST_OK)
        return st;
    if (x.kind != EXT_GLOBAL)
        return ST_UNKNOWN_EXPORT;
    *out = from_slot(engine_global_type(x.u.global).type, engine_global_get(x.u.global));
    return ST_OK;
}
