/* instance.c - module instances (spec 4.5.4 "Instantiation"): import checking, one allocation
 * holding functions, globals, tables, segment state, call frames and value slots, constant
 * expression evaluation, element and data segment application, the start function; exports;
 * standalone host objects (host functions, globals, tables) for embedders.
 *
 * Not here: linear memory (memory.c), the VM (vm.c). */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

bool vm_functype_eq(const functype *a, const functype *b)
{
    return a == b || (a->nparams == b->nparams && a->nresults == b->nresults &&
                      !memcmp(a->types, b->types, a->nparams + a->nresults));
}

void engine_run_config_default(const engine_config *cfg, engine_run_config *out)
{
    engine_config def;
    if (!cfg) {
        engine_config_default(&def);
        cfg = &def;
    }
    out->max_call_depth = 10000;
    out->max_value_slots = 1u << 20;
    out->max_memory_pages = cfg->max_memory_pages;
    out->max_table_elems = cfg->max_table_size;
    out->budget = NULL;
}

/* ---- the instance block ------------------------------------------------------------------ */

/* A bump allocator over one block: first pass measures (base NULL), second pass carves. */
typedef struct carver {
    uint8_t *base;
    size_t off;
    size_t prefix; /* bytes before the frame records: the part that must start zeroed */
} carver;

static void *carve(carver *cv, size_t n)
{
    cv->off = (cv->off + 15) & ~(size_t)15;
    void *p = cv->base ? cv->base + cv->off : NULL;
    cv->off += n;
    return p;
}

static uint64_t table_elem_total(const engine_module *m)
{
    uint64_t n = 0;
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
        n += m->tables[i].lim.min;
    return n;
}

static uint64_t segment_elem_total(const engine_module *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nelems; i++)
        n += m->elems[i].count;
    return n;
}

/* Lays out every part of the instance; with cv->base NULL only measures. */
static engine_instance *layout(carver *cv, const engine_module *m, const engine_run_config *rc)
{
    uint32_t ndef = m->nfuncs - m->nfunc_imports;
    uint32_t ngdef = m->nglobals - m->nglobal_imports;
    uint32_t ntdef = m->ntables - m->ntable_imports;
    engine_instance *inst = carve(cv, sizeof *inst);
    engine_func **funcs = carve(cv, m->nfuncs * sizeof(void *));
    engine_func *fdefs = carve(cv, ndef * sizeof(engine_func));
    engine_global **globals = carve(cv, m->nglobals * sizeof(void *));
    engine_global *gdefs = carve(cv, ngdef * sizeof(engine_global));
    engine_table **tables = carve(cv, m->ntables * sizeof(void *));
    engine_table *tdefs = carve(cv, ntdef * sizeof(engine_table));
    uint64_t *telems = carve(cv, (size_t)table_elem_total(m) * sizeof(uint64_t));
    engine_memory *mem = carve(cv, m->nmems > m->nmem_imports ? sizeof(engine_memory) : 0);
    uint8_t *dropped = carve(cv, m->ndatas);
    uint64_t **evals = carve(cv, m->nelems * sizeof(void *));
    uint32_t *elen = carve(cv, m->nelems * sizeof(uint32_t));
    uint64_t *evalues = carve(cv, (size_t)segment_elem_total(m) * sizeof(uint64_t));
    cv->prefix = (cv->off + 15) & ~(size_t)15;
    vm_frame *frames = carve(cv, (size_t)rc->max_call_depth * sizeof(vm_frame));
    uint64_t *slots = carve(cv, (size_t)rc->max_value_slots * sizeof(uint64_t));
    if (!cv->base)
        return NULL;
    inst->funcs = funcs;
    for (uint32_t i = 0; i < ndef; i++)
        funcs[m->nfunc_imports + i] = &fdefs[i];
    inst->globals = globals;
    for (uint32_t i = 0; i < ngdef; i++)
        globals[m->nglobal_imports + i] = &gdefs[i];
    inst->tables = tables;
    for (uint32_t i = 0; i < ntdef; i++) {
        tables[m->ntable_imports + i] = &tdefs[i];
        tdefs[i].elems = telems;
        telems += m->tables[m->ntable_imports + i].lim.min;
    }
    inst->own_mem = m->nmems > m->nmem_imports ? mem : NULL;
    inst->data_dropped = dropped;
    inst->elem_vals = evals;
    inst->elem_len = elen;
    for (uint32_t i = 0; i < m->nelems; i++) {
        evals[i] = evalues;
        evalues += m->elems[i].count;
    }
    inst->ex.frames = frames;
    inst->ex.frames_end = frames + rc->max_call_depth;
    inst->ex.slots = slots;
    inst->ex.slots_end = slots + rc->max_value_slots;
    return inst;
}

/* ---- imports ------------------------------------------------------------------------------ */

/* Import subtyping of limits (spec 4.5.3.2): at least the minimum, at most the maximum. */
static bool limits_match(uint32_t cur, limits have, limits want)
{
    if (cur < want.min)
        return false;
    if (want.has_max && (!have.has_max || have.max > want.max))
        return false;
    return true;
}

static status check_import(const engine_module *m, const import *imp, const engine_extern *x)
{
    if (x->kind != imp->kind || !x->u.func)
        return ST_INCOMPATIBLE_IMPORT;
    switch (imp->kind) {
    case EXT_FUNC:
        return vm_functype_eq(&m->types[imp->u.type], x->u.func->type) ? ST_OK
                                                                       : ST_INCOMPATIBLE_IMPORT;
    case EXT_TABLE: {
        const engine_table *t = x->u.table;
        limits have = t->type.lim;
        if (t->type.elem != imp->u.table.elem || !limits_match(t->size, have, imp->u.table.lim))
            return ST_INCOMPATIBLE_IMPORT;
        return ST_OK;
    }
    case EXT_MEMORY: {
        const engine_memory *mem = x->u.memory;
        return limits_match(mem->pages, mem->lim, imp->u.mem) ? ST_OK : ST_INCOMPATIBLE_IMPORT;
    }
    case EXT_GLOBAL: {
        globaltype g = x->u.global->type;
        return g.type == imp->u.global.type && g.mut == imp->u.global.mut ? ST_OK
                                                                          : ST_INCOMPATIBLE_IMPORT;
    }
    default: return ST_INCOMPATIBLE_IMPORT;
    }
}

static void set_error(engine_error *err, status st, size_t offset, const char *what, span name)
{
    if (!err)
        return;
    err->st = st;
    err->offset = offset;
    int n = (int)(name.len > 100 ? 100 : name.len);
    snprintf(err->detail, sizeof err->detail, "%s \"%.*s\"", what, n, (const char *)name.ptr);
}

/* ---- constant expressions (spec 3.3.10) --------------------------------------------------- */

/* Evaluates a validated constant expression: its one F_CONST instruction (opcodes.def), read
 * with the decoder's reader and evaluated by its immediate: a t.const's value, ref.null's null,
 * ref.func's function, global.get's global. */
static status eval_const(const engine_instance *inst, span expr, uint64_t *out)
{
    reader r = reader_of(expr);
    engine_insn in;
    if (engine_insn_read(&r, &in, NULL) != ST_OK || !(engine_opcodes[in.op].flags & F_CONST))
        return BUG();
    switch (engine_opcodes[in.op].imm) {
    case IMM_I32:
    case IMM_I64:
    case IMM_F32:
    case IMM_F64: *out = in.value; return ST_OK;
    case IMM_REFTYPE: *out = 0; return ST_OK;
    case IMM_FUNC:
        if (in.a >= inst->m->nfuncs)
            return BUG();
        *out = (uint64_t)(uintptr_t)inst->funcs[in.a];
        return ST_OK;
    case IMM_GLOBAL:
        if (in.a >= inst->m->nglobals)
            return BUG();
        *out = inst->globals[in.a]->value;
        return ST_OK;
    default: return BUG();
    }
}

/* ---- instantiation steps -------------------------------------------------------------------- */

static status init_objects(engine_instance *inst, const engine_extern *imports)
{
    const engine_module *m = inst->m;
    const engine_code *c = inst->code;
    uint32_t nf = 0, nt = 0, nmem = 0, ng = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const engine_extern *x = &imports[i];
        switch (x->kind) {
        case EXT_FUNC: inst->funcs[nf++] = x->u.func; break;
        case EXT_TABLE: inst->tables[nt++] = x->u.table; break;
        case EXT_MEMORY: inst->mem = x->u.memory, nmem++; break;
        default: inst->globals[ng++] = x->u.global; break;
        }
    }
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        engine_func *f = inst->funcs[i];
        const vm_code_func *meta = &c->funcs[i - m->nfunc_imports];
        f->type = &m->types[c->canon_type[m->func_types[i]]];
        f->inst = inst;
        f->code = c->words + meta->start;
        f->meta = meta;
        f->nparams = meta->nparams;
        f->nresults = meta->nresults;
    }
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        engine_global *g = inst->globals[i];
        g->type = m->globals[i];
        status st = eval_const(inst, m->global_inits[i - m->nglobal_imports], &g->value);
        if (st != ST_OK)
            return st;
    }
    if (c->ctr_global < m->nglobals)
        inst->ctr = &inst->globals[c->ctr_global]->value;
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
        engine_table *t = inst->tables[i];
        t->type = m->tables[i];
        t->size = t->type.lim.min;
        uint32_t max = t->type.lim.has_max ? t->type.lim.max : UINT32_MAX;
        t->max = max < inst->rc.max_table_elems ? max : inst->rc.max_table_elems;
        if (t->max < t->size)
            t->max = t->size;
        t->budget = inst->rc.budget;
    }
    if (inst->own_mem) {
        status st =
            vm_memory_init(inst->own_mem, m->mems[m->nmem_imports], inst->rc.max_memory_pages);
        if (st != ST_OK) {
            inst->own_mem = NULL;
            return st;
        }
        inst->own_mem->budget = inst->rc.budget;
        inst->mem = inst->own_mem;
    }
    return vm_native_attach(inst);
}

/* Evaluates every element segment's references (spec 4.5.4 step 10). */
static status eval_elems(engine_instance *inst)
{
    const engine_module *m = inst->m;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const elem_segment *es = &m->elems[i];
        for (uint32_t k = 0; k < es->count; k++) {
            if (es->funcs) {
                if (es->funcs[k] >= m->nfuncs)
                    return BUG();
                inst->elem_vals[i][k] = (uint64_t)(uintptr_t)inst->funcs[es->funcs[k]];
            } else {
                status st = eval_const(inst, es->exprs[k], &inst->elem_vals[i][k]);
                if (st != ST_OK)
                    return st;
            }
        }
        inst->elem_len[i] = es->mode == SEG_DECLARATIVE ? 0 : es->count;
    }
    return ST_OK;
}

/* Active element then data segments, in order (spec 2.0: table.init/memory.init + drop). */
static status apply_segments(engine_instance *inst)
{
    const engine_module *m = inst->m;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const elem_segment *es = &m->elems[i];
        if (es->mode != SEG_ACTIVE)
            continue;
        uint64_t off;
        status st = eval_const(inst, es->offset, &off);
        if (st != ST_OK)
            return st;
        engine_table *t = inst->tables[es->table];
        if ((uint64_t)(uint32_t)off + es->count > t->size)
            return ST_TRAP_TABLE_OOB;
        if (es->count)
            memcpy(t->elems + (uint32_t)off, inst->elem_vals[i], es->count * sizeof(uint64_t));
        inst->elem_len[i] = 0;
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const data_segment *ds = &m->datas[i];
        if (ds->mode != SEG_ACTIVE)
            continue;
        uint64_t off;
        status st = eval_const(inst, ds->offset, &off);
        if (st != ST_OK)
            return st;
        engine_memory *mem = inst->mem;
        if (!mem || (uint64_t)(uint32_t)off + ds->bytes.len > mem->len)
            return ST_TRAP_MEMORY_OOB;
        if (ds->bytes.len)
            memcpy(mem->base + (uint32_t)off, ds->bytes.ptr, ds->bytes.len);
        engine_memory_mark(mem, (uint32_t)off, ds->bytes.len);
        inst->data_dropped[i] = 1;
    }
    return ST_OK;
}

/* engine_instance_new; with `start` non-NULL the start function is not run but given there. */
static status instantiate(const engine_code *c, const engine_run_config *rc,
                          const engine_extern *imports, uint32_t nimports, void *host,
                          engine_instance **out, engine_func **start, engine_error *err)
{
    *out = NULL;
    const engine_module *m = c->m;
    if (err)
        memset(err, 0, sizeof *err);
    if (nimports != m->nimports) {
        set_error(err, ST_INCOMPATIBLE_IMPORT, 0, "import count", span_of("", 0));
        return ST_INCOMPATIBLE_IMPORT;
    }
    for (uint32_t i = 0; i < nimports; i++) {
        if (check_import(m, &m->imports[i], &imports[i]) != ST_OK) {
            set_error(err, ST_INCOMPATIBLE_IMPORT, 0, "import", m->imports[i].name);
            return ST_INCOMPATIBLE_IMPORT;
        }
    }
    carver cv = {NULL, 0, 0};
    layout(&cv, m, rc);
    uint8_t *block = base_alloc(cv.off);
    if (!block)
        return ST_OUT_OF_MEMORY;
    /* Everything before the frame records and slots starts zeroed; those need no zeroing (a
     * call zeroes its locals), so a large stack costs no page touching. */
    memset(block, 0, cv.prefix);
    cv = (carver){block, 0, 0};
    engine_instance *inst = layout(&cv, m, rc);
    inst->code = c;
    inst->m = m;
    inst->rc = *rc;
    inst->host = host;
    status st = init_objects(inst, imports);
    if (st == ST_OK)
        st = eval_elems(inst);
    if (st != ST_OK && status_class_of(st) != SC_TRAP) {
        engine_instance_free(inst);
        return st;
    }
    if (st == ST_OK)
        st = apply_segments(inst);
    if (start)
        *start = st == ST_OK && m->has_start ? inst->funcs[m->start] : NULL;
    else if (st == ST_OK && m->has_start)
        st = engine_instance_invoke(inst, inst->funcs[m->start], NULL, NULL);
    if (st != ST_OK && status_class_of(st) != SC_TRAP) {
        engine_instance_free(inst);
        return st;
    }
    *out = inst;
    return st;
}

status engine_instance_new(const engine_code *c, const engine_run_config *rc,
                           const engine_extern *imports, uint32_t nimports, void *host,
                           engine_instance **out, engine_error *err)
{
    return instantiate(c, rc, imports, nimports, host, out, NULL, err);
}

status engine_instance_new_deferred(const engine_code *c, const engine_run_config *rc,
                                    const engine_extern *imports, uint32_t nimports, void *host,
                                    engine_instance **out, engine_func **start, engine_error *err)
{
    *start = NULL;
    return instantiate(c, rc, imports, nimports, host, out, start, err);
}

void engine_instance_free(engine_instance *inst)
{
    if (!inst)
        return;
    for (uint32_t i = inst->m->ntable_imports; i < inst->m->ntables; i++)
        if (inst->tables[i]->elems_owned)
            base_free(inst->tables[i]->elems);
    if (inst->own_mem)
        vm_memory_fini(inst->own_mem);
    vm_native_free(inst);
    base_free(inst);
}

const engine_module *engine_instance_module(const engine_instance *inst)
{
    return inst->m;
}

status engine_instance_export(const engine_instance *inst, span name, engine_extern *out)
{
    const engine_module *m = inst->m;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const export *e = &m->exports[i];
        if (!span_eq(e->name, name))
            continue;
        out->kind = e->kind;
        switch (e->kind) {
        case EXT_FUNC: out->u.func = inst->funcs[e->index]; break;
        case EXT_TABLE: out->u.table = inst->tables[e->index]; break;
        case EXT_MEMORY: out->u.memory = inst->mem; break;
        default: out->u.global = inst->globals[e->index]; break;
        }
        return ST_OK;
    }
    return ST_UNKNOWN_EXPORT;
}

engine_memory *engine_instance_memory(engine_instance *inst)
{
    return inst->mem;
}

void engine_instance_set_budget(engine_instance *inst, uint64_t *bytes)
{
    if (inst->mem)
        inst->mem->budget = bytes;
    for (uint32_t i = 0; i < inst->m->ntables; i++)
        inst->tables[i]->budget = bytes;
}

uint64_t engine_instance_table_bytes(const engine_instance *inst)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < inst->m->ntables; i++)
        n += (uint64_t)inst->tables[i]->size * sizeof(uint64_t);
    return n;
}

/* ---- tables --------------------------------------------------------------------------------- */

/* table.grow: the new elements go into spare capacity when there is some; otherwise the
 * elements move to a block of at least twice the size (within the maximum), so that growing by
 * one element at a time costs amortised O(1) per element, not a copy of the table each time
 * (tally bench shapes, docs/weights.md). */
uint32_t vm_table_grow(engine_table *t, uint32_t n, uint64_t v)
{
    uint32_t old = t->size;
    if (n > t->max - old)
        return UINT32_MAX;
    if (t->budget && (uint64_t)n * sizeof *t->elems > *t->budget)
        return UINT32_MAX;
    if (n == 0)
        return old;
    uint32_t cap = t->elems_owned ? t->cap : old;
    if (old + n > cap) {
        uint64_t want = (uint64_t)cap * 2 > (uint64_t)old + n ? (uint64_t)cap * 2 : old + n;
        if (want > t->max)
            want = t->max;
        if (want < 16 && t->max >= 16)
            want = 16;
        uint64_t *ne = base_alloc((size_t)want * sizeof *ne);
        if (!ne)
            return UINT32_MAX;
        if (old)
            memcpy(ne, t->elems, old * sizeof *ne);
        if (t->elems_owned)
            base_free(t->elems);
        t->elems = ne;
        t->elems_owned = true;
        t->cap = (uint32_t)want;
    }
    for (uint32_t i = 0; i < n; i++)
        t->elems[old + i] = v;
    t->size = old + n;
    if (t->budget)
        *t->budget -= (uint64_t)n * sizeof *t->elems;
    return old;
}

status engine_table_new(const engine_run_config *rc, tabletype type, engine_table **out)
{
    *out = NULL;
    engine_table *t = base_calloc(1, sizeof *t);
    if (!t)
        return ST_OUT_OF_MEMORY;
    t->elems = base_calloc(type.lim.min ? type.lim.min : 1, sizeof(uint64_t));
    if (!t->elems) {
        base_free(t);
        return ST_OUT_OF_MEMORY;
    }
    t->elems_owned = true;
    t->cap = type.lim.min ? type.lim.min : 1;
    t->type = type;
    t->size = type.lim.min;
    uint32_t max = type.lim.has_max ? type.lim.max : UINT32_MAX;
    t->max = max < rc->max_table_elems ? max : rc->max_table_elems;
    if (t->max < t->size)
        t->max = t->size;
    *out = t;
    return ST_OK;
}

void engine_table_free(engine_table *t)
{
    if (!t)
        return;
    base_free(t->elems);
    base_free(t);
}

/* ---- globals and host functions ------------------------------------------------------------ */

status engine_global_new(globaltype type, uint64_t value, engine_global **out)
{
    *out = base_alloc(sizeof **out);
    if (!*out)
        return ST_OUT_OF_MEMORY;
    (*out)->type = type;
    (*out)->value = value;
    return ST_OK;
}

void engine_global_free(engine_global *g)
{
    base_free(g);
}

globaltype engine_global_type(const engine_global *g)
{
    return g->type;
}

uint64_t engine_global_get(const engine_global *g)
{
    return g->value;
}

status engine_global_set(engine_global *g, uint64_t value)
{
    if (!g->type.mut)
        return ST_IMMUTABLE_GLOBAL;
    g->value = value;
    return ST_OK;
}

status engine_host_func_new(const functype *type, engine_host_fn fn, void *user, engine_func **out)
{
    *out = NULL;
    size_t nt = (size_t)type->nparams + type->nresults;
    engine_func *f = base_calloc(1, sizeof *f + nt);
    if (!f)
        return ST_OUT_OF_MEMORY;
    uint8_t *types = (uint8_t *)(f + 1);
    if (nt)
        memcpy(types, type->types, nt);
    f->type_copy = (functype){type->nparams, type->nresults, types};
    f->type = &f->type_copy;
    f->owns_type = true;
    f->host = fn;
    f->user = user;
    f->nparams = type->nparams;
    f->nresults = type->nresults;
    *out = f;
    return ST_OK;
}

void engine_host_func_free(engine_func *f)
{
    base_free(f);
}

const functype *engine_func_functype(const engine_func *f)
{
    return f->type;
}

void *engine_instance_host(const engine_instance *inst)
{
    return inst->host;
}
