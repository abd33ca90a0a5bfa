/* validate.c - module validation (spec 3 "Validation", Wasm 2.0 minus SIMD): index spaces,
 * limits, constant expressions, segments, start function, exports, declared function references
 * (C.refs), and the type checking of every function body with the spec appendix's algorithm
 * (operand stack + control stack, polymorphic stack after unreachable code).
 *
 * Input is a module that engine_module_decode() accepted, so every instruction is well-formed;
 * this file never re-checks the binary format. Simple instructions are typed by their signature
 * string in opcodes.def; only "*" instructions have a case here. The module is not modified. */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { VT_UNKNOWN = 0 }; /* the bottom type of the polymorphic stack */

typedef struct ctrl {
    opcode op; /* OP_BLOCK (also the function), OP_LOOP, OP_IF or OP_ELSE */
    bool unreachable;
    size_t height;
    const uint8_t *params;
    uint32_t nparams;
    const uint8_t *results;
    uint32_t nresults;
} ctrl;

typedef struct val {
    const engine_config *cfg;
    const engine_module *m;
    engine_error *err;
    uint8_t *refs; /* bitmap of C.refs: functions that ref.func may name */
    uint8_t *vals; /* operand stack */
    size_t nvals, capvals;
    ctrl *ctrls; /* control stack */
    size_t nctrls, capctrls;
    uint32_t fidx; /* function being validated (index space position) */
    const functype *ft;
    const func *f;
    size_t off; /* offset of the instruction or item being checked */
} val;

static status fail(val *v, status st, const char *fmt, ...)
{
    v->err->st = st;
    v->err->offset = v->off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->err->detail, sizeof v->err->detail, fmt, ap);
    va_end(ap);
    return st;
}

static bool is_ref(uint8_t t)
{
    return t == VT_FUNCREF || t == VT_EXTERNREF;
}

static const char *vt_name(uint8_t t)
{
    switch (t) {
    case VT_I32: return "i32";
    case VT_I64: return "i64";
    case VT_F32: return "f32";
    case VT_F64: return "f64";
    case VT_FUNCREF: return "funcref";
    case VT_EXTERNREF: return "externref";
    default: return "unknown";
    }
}

static size_t span_offset(const val *v, span s)
{
    return (size_t)(s.ptr - v->m->bytes.ptr);
}

/* ---- operand and control stacks (spec appendix "Validation Algorithm") -------------------- */

static status push(val *v, uint8_t t)
{
    if (v->nvals == v->capvals) {
        if (v->nvals >= v->cfg->max_operand_stack)
            return fail(v, ST_LIMIT_EXCEEDED, "function %u: operand stack > limit %u", v->fidx,
                        v->cfg->max_operand_stack);
        size_t cap = v->capvals ? 2 * v->capvals : 64;
        if (cap > v->cfg->max_operand_stack)
            cap = v->cfg->max_operand_stack;
        uint8_t *grown = base_realloc(v->vals, cap);
        if (!grown)
            return fail(v, ST_OUT_OF_MEMORY, "operand stack");
        v->vals = grown;
        v->capvals = cap;
    }
    v->vals[v->nvals++] = t;
    return ST_OK;
}

static status pop(val *v, uint8_t *out)
{
    ctrl *c = &v->ctrls[v->nctrls - 1];
    if (v->nvals == c->height) {
        if (c->unreachable) {
            *out = VT_UNKNOWN;
            return ST_OK;
        }
        return fail(v, ST_TYPE_MISMATCH, "function %u: operand stack empty", v->fidx);
    }
    *out = v->vals[--v->nvals];
    return ST_OK;
}

static status pop_expect(val *v, uint8_t expect)
{
    uint8_t t = VT_UNKNOWN;
    status st = pop(v, &t);
    if (st != ST_OK)
        return st;
    if (t != expect && t != VT_UNKNOWN && expect != VT_UNKNOWN)
        return fail(v, ST_TYPE_MISMATCH, "function %u: expected %s, got %s", v->fidx,
                    vt_name(expect), vt_name(t));
    return ST_OK;
}

static status pop_types(val *v, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;) {
        status st = pop_expect(v, types[i]);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

static status push_types(val *v, const uint8_t *types, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        status st = push(v, types[i]);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

static status push_ctrl(val *v, opcode op, const uint8_t *params, uint32_t nparams,
                        const uint8_t *results, uint32_t nresults)
{
    if (v->nctrls == v->capctrls) {
        if (v->nctrls >= v->cfg->max_nesting)
            return fail(v, ST_LIMIT_EXCEEDED, "function %u: nesting depth > limit %u", v->fidx,
                        v->cfg->max_nesting);
        size_t cap = v->capctrls ? 2 * v->capctrls : 16;
        ctrl *grown = base_realloc(v->ctrls, cap * sizeof *grown);
        if (!grown)
            return fail(v, ST_OUT_OF_MEMORY, "control stack");
        v->ctrls = grown;
        v->capctrls = cap;
    }
    v->ctrls[v->nctrls++] = (ctrl){op, false, v->nvals, params, nparams, results, nresults};
    return push_types(v, params, nparams);
}

/* Checks the end of the innermost frame: exactly its results are on the stack. */
static status ctrl_end_check(val *v, const ctrl *c)
{
    status st = pop_types(v, c->results, c->nresults);
    if (st != ST_OK)
        return st;
    if (v->nvals != c->height)
        return fail(v, ST_TYPE_MISMATCH, "function %u: %zu values left at end of block", v->fidx,
                    v->nvals - c->height);
    return ST_OK;
}

static void set_unreachable(val *v)
{
    ctrl *c = &v->ctrls[v->nctrls - 1];
    v->nvals = c->height;
    c->unreachable = true;
}

static const uint8_t *label_types(const ctrl *c, uint32_t *n)
{
    *n = c->op == OP_LOOP ? c->nparams : c->nresults;
    return c->op == OP_LOOP ? c->params : c->results;
}

/* ---- helpers for immediates ---------------------------------------------------------------- */

/* A pointer to a one-element type list holding t (block types with one result). */
static const uint8_t *single_type(uint8_t t)
{
    static const uint8_t all[] = {VT_I32, VT_I64, VT_F32, VT_F64, VT_FUNCREF, VT_EXTERNREF};
    for (size_t i = 0; i < sizeof all; i++)
        if (all[i] == t)
            return &all[i];
    return NULL;
}

static status blocktype_resolve(val *v, const engine_insn *in, const functype **ft,
                                const uint8_t **single)
{
    *ft = NULL;
    *single = NULL;
    if (in->type == 0x40)
        return ST_OK;
    if (in->type != 0) {
        *single = single_type(in->type);
        return ST_OK;
    }
    if (in->a >= v->m->ntypes)
        return fail(v, ST_UNKNOWN_TYPE, "function %u: block type %u", v->fidx, in->a);
    *ft = &v->m->types[in->a];
    return ST_OK;
}

/* Index idx of a space of n entries named `what`: ST_OK, or status `unknown`. */
static status need(val *v, uint32_t idx, uint32_t n, status unknown, const char *what)
{
    return idx < n ? ST_OK : fail(v, unknown, "%s %u", what, idx);
}

static status need_memory(val *v, uint32_t idx)
{
    return need(v, idx, v->m->nmems, ST_UNKNOWN_MEMORY, "memory");
}

static status need_table(val *v, uint32_t idx)
{
    return need(v, idx, v->m->ntables, ST_UNKNOWN_TABLE, "table");
}

static status need_elem(val *v, uint32_t idx)
{
    return need(v, idx, v->m->nelems, ST_UNKNOWN_ELEM, "elem segment");
}

static status need_data(val *v, uint32_t idx)
{
    return need(v, idx, v->m->datacount, ST_UNKNOWN_DATA, "data segment");
}

static uint8_t sig_type(char c)
{
    switch (c) {
    case 'i': return VT_I32;
    case 'I': return VT_I64;
    case 'f': return VT_F32;
    default: return VT_F64;
    }
}

/* Types an instruction by its opcodes.def signature "params>results". */
static status sig_apply(val *v, const char *sig)
{
    const char *gt = strchr(sig, '>');
    if (!gt)
        return ST_OK; /* "": nothing popped or pushed */
    for (const char *p = gt; p-- > sig;) {
        status st = pop_expect(v, sig_type(*p));
        if (st != ST_OK)
            return st;
    }
    for (const char *p = gt + 1; *p; p++) {
        status st = push(v, sig_type(*p));
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

/* The index checks of instructions typed by their signature (memory, data, elem, table). */
static status imm_check(val *v, const engine_insn *in)
{
    status st;
    switch (engine_opcodes[in->op].imm) {
    case IMM_MEM8:
    case IMM_MEM16:
    case IMM_MEM32:
    case IMM_MEM64: {
        if ((st = need_memory(v, 0)) != ST_OK)
            return st;
        uint32_t natural = (uint32_t)(engine_opcodes[in->op].imm - IMM_MEM8); /* log2 */
        if (in->a > natural)
            return fail(v, ST_BAD_ALIGNMENT, "%s: 2^%u > %u", engine_opcodes[in->op].text, in->a,
                        1u << natural);
        return ST_OK;
    }
    case IMM_MEMIDX:
    case IMM_MEM_MEM: return need_memory(v, 0);
    case IMM_DATA_MEM:
        if ((st = need_memory(v, 0)) != ST_OK)
            return st;
        return need_data(v, in->a);
    case IMM_DATA: return need_data(v, in->a);
    case IMM_ELEM: return need_elem(v, in->a);
    case IMM_TABLE: return need_table(v, in->a);
    case IMM_ELEM_TABLE:
        if ((st = need_table(v, in->b)) != ST_OK || (st = need_elem(v, in->a)) != ST_OK)
            return st;
        if (v->m->tables[in->b].elem != v->m->elems[in->a].type)
            return fail(v, ST_TYPE_MISMATCH, "table.init: elem %u into table %u", in->a, in->b);
        return ST_OK;
    case IMM_TABLE_TABLE:
        if ((st = need_table(v, in->a)) != ST_OK || (st = need_table(v, in->b)) != ST_OK)
            return st;
        if (v->m->tables[in->a].elem != v->m->tables[in->b].elem)
            return fail(v, ST_TYPE_MISMATCH, "table.copy: table %u to %u", in->b, in->a);
        return ST_OK;
    default: return ST_OK;
    }
}

/* ---- control instructions ---------------------------------------------------------------- */

static status op_block(val *v, const engine_insn *in)
{
    const functype *bt;
    const uint8_t *single;
    status st;
    if (in->op == OP_IF && (st = pop_expect(v, VT_I32)) != ST_OK)
        return st;
    if ((st = blocktype_resolve(v, in, &bt, &single)) != ST_OK)
        return st;
    if (!bt)
        return push_ctrl(v, in->op, NULL, 0, single, single ? 1 : 0);
    if ((st = pop_types(v, bt->types, bt->nparams)) != ST_OK)
        return st;
    return push_ctrl(v, in->op, bt->types, bt->nparams, bt->types + bt->nparams, bt->nresults);
}

static status op_else(val *v)
{
    ctrl *c = &v->ctrls[v->nctrls - 1];
    if (c->op != OP_IF)
        return fail(v, ST_TYPE_MISMATCH, "function %u: else without if", v->fidx);
    status st = ctrl_end_check(v, c);
    if (st != ST_OK)
        return st;
    c->op = OP_ELSE;
    c->unreachable = false;
    return push_types(v, c->params, c->nparams);
}

static status op_end(val *v)
{
    ctrl c = v->ctrls[v->nctrls - 1];
    status st = ctrl_end_check(v, &c);
    if (st != ST_OK)
        return st;
    if (c.op == OP_IF &&
        (c.nparams != c.nresults || (c.nparams && memcmp(c.params, c.results, c.nparams) != 0)))
        return fail(v, ST_TYPE_MISMATCH, "function %u: if without else must not change types",
                    v->fidx);
    v->nctrls--;
    return push_types(v, c.results, c.nresults);
}

static status need_label(val *v, uint32_t depth)
{
    if (depth >= v->nctrls)
        return fail(v, ST_UNKNOWN_LABEL, "function %u: label %u", v->fidx, depth);
    return ST_OK;
}

static status op_br(val *v, const engine_insn *in)
{
    status st = need_label(v, in->a);
    if (st != ST_OK)
        return st;
    if (in->op == OP_BR_IF && (st = pop_expect(v, VT_I32)) != ST_OK)
        return st;
    uint32_t n;
    const uint8_t *types = label_types(&v->ctrls[v->nctrls - 1 - in->a], &n);
    if ((st = pop_types(v, types, n)) != ST_OK)
        return st;
    if (in->op == OP_BR_IF)
        return push_types(v, types, n);
    set_unreachable(v);
    return ST_OK;
}

/* Checks that the top of the stack matches types without popping (br_table targets: the same
 * as the spec's push_vals(pop_vals(types)), since unreachable() follows anyway). */
static status peek_types(val *v, const uint8_t *types, uint32_t n)
{
    const ctrl *c = &v->ctrls[v->nctrls - 1];
    for (uint32_t i = 0; i < n; i++) {
        uint8_t expect = types[n - 1 - i];
        if (v->nvals - c->height <= i) {
            if (c->unreachable)
                return ST_OK;
            return fail(v, ST_TYPE_MISMATCH, "function %u: br_table operands", v->fidx);
        }
        uint8_t t = v->vals[v->nvals - 1 - i];
        if (t != expect && t != VT_UNKNOWN)
            return fail(v, ST_TYPE_MISMATCH, "function %u: br_table operand %s, label wants %s",
                        v->fidx, vt_name(t), vt_name(expect));
    }
    return ST_OK;
}

static status op_br_table(val *v, const engine_insn *in)
{
    status st = pop_expect(v, VT_I32);
    if (st != ST_OK || (st = need_label(v, in->b)) != ST_OK)
        return st;
    uint32_t arity, n;
    const uint8_t *dflt = label_types(&v->ctrls[v->nctrls - 1 - in->b], &arity);
    reader r = reader_of(in->targets);
    for (uint32_t i = 0; i < in->a; i++) {
        uint32_t l;
        (void)reader_u32(&r, &l);
        if ((st = need_label(v, l)) != ST_OK)
            return st;
        const uint8_t *types = label_types(&v->ctrls[v->nctrls - 1 - l], &n);
        if (n != arity)
            return fail(v, ST_TYPE_MISMATCH,
                        "function %u: br_table label %u arity %u, "
                        "default %u",
                        v->fidx, l, n, arity);
        if ((st = peek_types(v, types, n)) != ST_OK)
            return st;
    }
    if ((st = pop_types(v, dflt, arity)) != ST_OK)
        return st;
    set_unreachable(v);
    return ST_OK;
}

static status call_types(val *v, const functype *ft)
{
    status st = pop_types(v, ft->types, ft->nparams);
    return st != ST_OK ? st : push_types(v, ft->types + ft->nparams, ft->nresults);
}

static status op_call(val *v, const engine_insn *in)
{
    const engine_module *m = v->m;
    status st;
    if (in->op == OP_CALL) {
        if (in->a >= m->nfuncs)
            return fail(v, ST_UNKNOWN_FUNC, "function %u: call %u", v->fidx, in->a);
        return call_types(v, engine_func_type(m, in->a));
    }
    if ((st = need_table(v, in->b)) != ST_OK)
        return st;
    if (m->tables[in->b].elem != VT_FUNCREF)
        return fail(v, ST_TYPE_MISMATCH, "call_indirect through table %u of externref", in->b);
    if (in->a >= m->ntypes)
        return fail(v, ST_UNKNOWN_TYPE, "function %u: call_indirect type %u", v->fidx, in->a);
    if ((st = pop_expect(v, VT_I32)) != ST_OK)
        return st;
    return call_types(v, &m->types[in->a]);
}

/* ---- parametric, variable, reference and table instructions ------------------------------- */

static status op_select(val *v, const engine_insn *in)
{
    if (in->op == OP_SELECT_T && in->a != 1)
        return fail(v, ST_INVALID_RESULT_ARITY, "select with %u types", in->a);
    status st = pop_expect(v, VT_I32);
    if (st != ST_OK)
        return st;
    if (in->op == OP_SELECT_T) {
        if ((st = pop_expect(v, in->type)) != ST_OK || (st = pop_expect(v, in->type)))
            return st;
        return push(v, in->type);
    }
    uint8_t t1 = VT_UNKNOWN, t2 = VT_UNKNOWN;
    if ((st = pop(v, &t1)) != ST_OK || (st = pop(v, &t2)) != ST_OK)
        return st;
    if (is_ref(t1) || is_ref(t2))
        return fail(v, ST_TYPE_MISMATCH, "function %u: untyped select of references", v->fidx);
    if (t1 != t2 && t1 != VT_UNKNOWN && t2 != VT_UNKNOWN)
        return fail(v, ST_TYPE_MISMATCH, "function %u: select operands differ", v->fidx);
    return push(v, t1 == VT_UNKNOWN ? t2 : t1);
}

static status op_local(val *v, const engine_insn *in)
{
    uint32_t np = v->ft->nparams;
    if ((uint64_t)in->a >= (uint64_t)np + v->f->nlocals)
        return fail(v, ST_UNKNOWN_LOCAL, "function %u: local %u", v->fidx, in->a);
    uint8_t t = in->a < np ? v->ft->types[in->a] : v->f->local_types[in->a - np];
    if (in->op == OP_LOCAL_GET)
        return push(v, t);
    status st = pop_expect(v, t);
    if (st != ST_OK || in->op == OP_LOCAL_SET)
        return st;
    return push(v, t);
}

static status op_global(val *v, const engine_insn *in)
{
    if (in->a >= v->m->nglobals)
        return fail(v, ST_UNKNOWN_GLOBAL, "function %u: global %u", v->fidx, in->a);
    const globaltype *g = &v->m->globals[in->a];
    if (in->op == OP_GLOBAL_GET)
        return push(v, g->type);
    if (!g->mut)
        return fail(v, ST_IMMUTABLE_GLOBAL, "function %u: global %u", v->fidx, in->a);
    return pop_expect(v, g->type);
}

static status op_table(val *v, const engine_insn *in)
{
    status st = need_table(v, in->a);
    if (st != ST_OK)
        return st;
    uint8_t t = v->m->tables[in->a].elem;
    switch (in->op) {
    case OP_TABLE_GET:
        if ((st = pop_expect(v, VT_I32)) != ST_OK)
            return st;
        return push(v, t);
    case OP_TABLE_SET:
        if ((st = pop_expect(v, t)) != ST_OK)
            return st;
        return pop_expect(v, VT_I32);
    case OP_TABLE_GROW:
        if ((st = pop_expect(v, VT_I32)) != ST_OK || (st = pop_expect(v, t)) != ST_OK)
            return st;
        return push(v, VT_I32);
    default: /* OP_TABLE_FILL */
        if ((st = pop_expect(v, VT_I32)) != ST_OK || (st = pop_expect(v, t)) != ST_OK)
            return st;
        return pop_expect(v, VT_I32);
    }
}

static status op_ref(val *v, const engine_insn *in)
{
    if (in->op == OP_REF_NULL)
        return push(v, in->type);
    if (in->op == OP_REF_FUNC) {
        if (in->a >= v->m->nfuncs)
            return fail(v, ST_UNKNOWN_FUNC, "function %u: ref.func %u", v->fidx, in->a);
        if (!(v->refs[in->a / 8] & (1u << (in->a % 8))))
            return fail(v, ST_UNDECLARED_FUNC_REF, "function %u: ref.func %u", v->fidx, in->a);
        return push(v, VT_FUNCREF);
    }
    uint8_t t = VT_UNKNOWN; /* OP_REF_IS_NULL */
    status st = pop(v, &t);
    if (st != ST_OK)
        return st;
    if (!is_ref(t) && t != VT_UNKNOWN)
        return fail(v, ST_TYPE_MISMATCH, "function %u: ref.is_null of %s", v->fidx, vt_name(t));
    return push(v, VT_I32);
}

static status insn_check(val *v, const engine_insn *in)
{
    uint8_t t = VT_UNKNOWN;
    switch (in->op) {
    case OP_UNREACHABLE: set_unreachable(v); return ST_OK;
    case OP_BLOCK:
    case OP_LOOP:
    case OP_IF: return op_block(v, in);
    case OP_ELSE: return op_else(v);
    case OP_END: return op_end(v);
    case OP_BR:
    case OP_BR_IF: return op_br(v, in);
    case OP_BR_TABLE: return op_br_table(v, in);
    case OP_RETURN: {
        status st = pop_types(v, v->ctrls[0].results, v->ctrls[0].nresults);
        if (st == ST_OK)
            set_unreachable(v);
        return st;
    }
    case OP_CALL:
    case OP_CALL_INDIRECT: return op_call(v, in);
    case OP_DROP: return pop(v, &t);
    case OP_SELECT:
    case OP_SELECT_T: return op_select(v, in);
    case OP_LOCAL_GET:
    case OP_LOCAL_SET:
    case OP_LOCAL_TEE: return op_local(v, in);
    case OP_GLOBAL_GET:
    case OP_GLOBAL_SET: return op_global(v, in);
    case OP_TABLE_GET:
    case OP_TABLE_SET:
    case OP_TABLE_GROW:
    case OP_TABLE_FILL: return op_table(v, in);
    case OP_REF_NULL:
    case OP_REF_IS_NULL:
    case OP_REF_FUNC: return op_ref(v, in);
    default: {
        status st = imm_check(v, in);
        return st != ST_OK ? st : sig_apply(v, engine_opcodes[in->op].sig);
    }
    }
}

/* Type-checks one defined function body (i-th definition). */
static status func_check(val *v, uint32_t i)
{
    const engine_module *m = v->m;
    v->f = &m->funcs[i];
    v->fidx = m->nfunc_imports + i;
    v->ft = engine_func_type(m, v->fidx);
    v->nvals = 0;
    v->nctrls = 0;
    v->off = v->f->body_offset;
    const functype *ft = v->ft;
    status st = push_ctrl(v, OP_BLOCK, NULL, 0, ft->types + ft->nparams, ft->nresults);
    if (st != ST_OK)
        return st;
    reader r = {m->bytes.ptr, v->f->body.ptr, v->f->body.ptr + v->f->body.len};
    while (v->nctrls > 0) {
        engine_insn in;
        v->off = reader_offset(&r);
        if ((st = engine_insn_read(&r, &in, NULL)) != ST_OK)
            return fail(v, st, "function %u", v->fidx); /* not after a successful decode */
        if ((st = insn_check(v, &in)) != ST_OK)
            return st;
    }
    return ST_OK;
}

/* ---- module-level rules ------------------------------------------------------------------ */

/* Validates a constant expression (spec 3.3.10, Wasm 2.0: global.get of imported immutable
 * globals only) whose value must have type `expect`. */
static status const_expr_check(val *v, span e, uint8_t expect, const char *what)
{
    const engine_module *m = v->m;
    reader r = {m->bytes.ptr, e.ptr, e.ptr + e.len};
    uint32_t count = 0;
    uint8_t top = VT_UNKNOWN, t = VT_UNKNOWN;
    for (;;) {
        engine_insn in;
        v->off = reader_offset(&r);
        status st = engine_insn_read(&r, &in, NULL);
        if (st != ST_OK)
            return fail(v, st, "%s", what);
        if (in.op != OP_END && !(engine_opcodes[in.op].flags & F_CONST))
            return fail(v, ST_CONST_EXPR_REQUIRED, "%s: %s", what, engine_opcodes[in.op].text);
        switch (in.op) {
        case OP_I32_CONST: t = VT_I32; break;
        case OP_I64_CONST: t = VT_I64; break;
        case OP_F32_CONST: t = VT_F32; break;
        case OP_F64_CONST: t = VT_F64; break;
        case OP_REF_NULL: t = in.type; break;
        case OP_REF_FUNC:
            if (in.a >= m->nfuncs)
                return fail(v, ST_UNKNOWN_FUNC, "%s: ref.func %u", what, in.a);
            t = VT_FUNCREF;
            break;
        case OP_GLOBAL_GET:
            if (in.a >= m->nglobal_imports)
                return fail(v, ST_UNKNOWN_GLOBAL, "%s: global %u (imported globals only)", what,
                            in.a);
            if (m->globals[in.a].mut)
                return fail(v, ST_CONST_EXPR_REQUIRED, "%s: global %u is mutable", what, in.a);
            t = m->globals[in.a].type;
            break;
        case OP_END:
            if (count != 1 || top != expect)
                return fail(v, ST_TYPE_MISMATCH, "%s", what);
            return ST_OK;
        default: return fail(v, BUG(), "%s: %s", what, engine_opcodes[in.op].text);
        }
        count++;
        top = t;
    }
}

static void ref_declare(val *v, uint32_t f)
{
    if (f < v->m->nfuncs)
        v->refs[f / 8] |= (uint8_t)(1u << (f % 8));
}

static void refs_from_expr(val *v, span e)
{
    reader r = {v->m->bytes.ptr, e.ptr, e.ptr + e.len};
    engine_insn in;
    while (reader_left(&r) > 0 && engine_insn_read(&r, &in, NULL) == ST_OK)
        if (in.op == OP_REF_FUNC)
            ref_declare(v, in.a);
}

/* C.refs (spec 3.4.10): functions named outside function bodies, in element segments, exports
 * and global initializers (and any other constant expression). */
static status refs_collect(val *v)
{
    const engine_module *m = v->m;
    v->refs = base_calloc((size_t)m->nfuncs / 8 + 1, 1);
    if (!v->refs)
        return fail(v, ST_OUT_OF_MEMORY, "function references");
    for (uint32_t i = 0; i < m->nglobals - m->nglobal_imports; i++)
        refs_from_expr(v, m->global_inits[i]);
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == EXT_FUNC)
            ref_declare(v, m->exports[i].index);
    for (uint32_t i = 0; i < m->nelems; i++) {
        const elem_segment *e = &m->elems[i];
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->funcs)
                ref_declare(v, e->funcs[k]);
            else
                refs_from_expr(v, e->exprs[k]);
        }
        if (e->mode == SEG_ACTIVE)
            refs_from_expr(v, e->offset);
    }
    for (uint32_t i = 0; i < m->ndatas; i++)
        if (m->datas[i].mode == SEG_ACTIVE)
            refs_from_expr(v, m->datas[i].offset);
    return ST_OK;
}

static status limits_check(val *v, const limits *l, bool is_mem, uint32_t idx)
{
    const char *what = is_mem ? "memory" : "table";
    if (is_mem && (l->min > 65536 || (l->has_max && l->max > 65536)))
        return fail(v, ST_MEMORY_TOO_LARGE, "memory %u", idx);
    if (l->has_max && l->min > l->max)
        return fail(v, ST_LIMITS_MIN_GT_MAX, "%s %u", what, idx);
    uint32_t cap = is_mem ? v->cfg->max_memory_pages : v->cfg->max_table_size;
    if (l->min > cap)
        return fail(v, ST_LIMIT_EXCEEDED, "%s %u: minimum %u > limit %u", what, idx, l->min, cap);
    return ST_OK;
}

static status imports_check(val *v)
{
    const engine_module *m = v->m;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        v->off = span_offset(v, im->name);
        if (im->kind == EXT_FUNC && im->u.type >= m->ntypes)
            return fail(v, ST_UNKNOWN_TYPE, "import %u: type %u", i, im->u.type);
    }
    return ST_OK;
}

static status funcs_tables_mems_check(val *v)
{
    const engine_module *m = v->m;
    status st;
    v->off = 0;
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        v->off = m->funcs ? m->funcs[i - m->nfunc_imports].body_offset : 0;
        if (m->func_types[i] >= m->ntypes)
            return fail(v, ST_UNKNOWN_TYPE, "function %u: type %u", i, m->func_types[i]);
    }
    for (uint32_t i = 0; i < m->ntables; i++)
        if ((st = limits_check(v, &m->tables[i].lim, false, i)) != ST_OK)
            return st;
    if (m->nmems > 1)
        return fail(v, ST_MULTIPLE_MEMORIES, "%u memories", m->nmems);
    for (uint32_t i = 0; i < m->nmems; i++)
        if ((st = limits_check(v, &m->mems[i], true, i)) != ST_OK)
            return st;
    return ST_OK;
}

static status globals_check(val *v)
{
    const engine_module *m = v->m;
    char what[40];
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        snprintf(what, sizeof what, "global %u", i);
        status st =
            const_expr_check(v, m->global_inits[i - m->nglobal_imports], m->globals[i].type, what);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

static status elems_check(val *v)
{
    const engine_module *m = v->m;
    char what[48];
    status st;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const elem_segment *e = &m->elems[i];
        snprintf(what, sizeof what, "elem segment %u", i);
        if (e->mode == SEG_ACTIVE) {
            v->off = span_offset(v, e->offset);
            if ((st = need_table(v, e->table)) != ST_OK)
                return st;
            if (m->tables[e->table].elem != e->type)
                return fail(v, ST_TYPE_MISMATCH, "%s: table %u", what, e->table);
            if ((st = const_expr_check(v, e->offset, VT_I32, what)) != ST_OK)
                return st;
        }
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->exprs) {
                if ((st = const_expr_check(v, e->exprs[k], e->type, what)) != ST_OK)
                    return st;
            } else if (e->funcs[k] >= m->nfuncs) {
                return fail(v, ST_UNKNOWN_FUNC, "%s: function %u", what, e->funcs[k]);
            }
        }
    }
    return ST_OK;
}

static status datas_check(val *v)
{
    const engine_module *m = v->m;
    char what[48];
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const data_segment *s = &m->datas[i];
        if (s->mode != SEG_ACTIVE)
            continue;
        snprintf(what, sizeof what, "data segment %u", i);
        v->off = span_offset(v, s->offset);
        status st = need_memory(v, s->mem);
        if (st != ST_OK || (st = const_expr_check(v, s->offset, VT_I32, what)) != ST_OK)
            return st;
    }
    return ST_OK;
}

static status start_check(val *v)
{
    const engine_module *m = v->m;
    if (!m->has_start)
        return ST_OK;
    if (m->start >= m->nfuncs)
        return fail(v, ST_UNKNOWN_FUNC, "start function %u", m->start);
    const functype *ft = engine_func_type(m, m->start);
    if (ft->nparams || ft->nresults)
        return fail(v, ST_BAD_START_FUNC, "start function %u", m->start);
    return ST_OK;
}

/* Orders two exports by name (bytes, then length). */
static bool export_less(const engine_module *m, uint32_t a, uint32_t b)
{
    span x = m->exports[a].name, y = m->exports[b].name;
    size_t n = x.len < y.len ? x.len : y.len;
    int c = n ? memcmp(x.ptr, y.ptr, n) : 0;
    return c < 0 || (c == 0 && x.len < y.len);
}

/* Sorts the n export indices in idx by name: bottom-up merge sort through tmp (no global
 * state, so validation stays reentrant; O(n log n) for the maximum of exports). */
static void exports_sort(const engine_module *m, uint32_t *idx, uint32_t *tmp, uint32_t n)
{
    for (uint32_t width = 1; width < n; width *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * width) {
            uint32_t mid = lo + width < n ? lo + width : n;
            uint32_t hi = mid + width < n ? mid + width : n;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = export_less(m, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
        if (width > UINT32_MAX / 2)
            break;
    }
}

/* Export indices must exist; names must be unique (sorted, then neighbours compared). */
static status exports_check(val *v)
{
    const engine_module *m = v->m;
    static const status unknown[4] = {ST_UNKNOWN_FUNC, ST_UNKNOWN_TABLE, ST_UNKNOWN_MEMORY,
                                      ST_UNKNOWN_GLOBAL};
    for (uint32_t i = 0; i < m->nexports; i++) {
        const export *e = &m->exports[i];
        uint32_t n = e->kind == EXT_FUNC     ? m->nfuncs
                     : e->kind == EXT_TABLE  ? m->ntables
                     : e->kind == EXT_MEMORY ? m->nmems
                                             : m->nglobals;
        v->off = span_offset(v, e->name);
        if (e->index >= n)
            return fail(v, unknown[e->kind], "export \"%.*s\"", (int)e->name.len, e->name.ptr);
    }
    if (m->nexports < 2)
        return ST_OK;
    uint32_t *order = base_calloc(2 * (size_t)m->nexports, sizeof *order);
    if (!order)
        return fail(v, ST_OUT_OF_MEMORY, "exports");
    for (uint32_t i = 0; i < m->nexports; i++)
        order[i] = i;
    exports_sort(m, order, order + m->nexports, m->nexports);
    status st = ST_OK;
    for (uint32_t i = 1; i < m->nexports && st == ST_OK; i++) {
        const export *e = &m->exports[order[i]];
        if (span_eq(e->name, m->exports[order[i - 1]].name)) {
            v->off = span_offset(v, e->name);
            st = fail(v, ST_DUPLICATE_EXPORT, "export \"%.*s\"", (int)e->name.len, e->name.ptr);
        }
    }
    base_free(order);
    return st;
}

static status module_check(val *v)
{
    status st;
    if ((st = imports_check(v)) != ST_OK || (st = funcs_tables_mems_check(v)) != ST_OK ||
        (st = refs_collect(v)) != ST_OK || (st = globals_check(v)) != ST_OK ||
        (st = elems_check(v)) != ST_OK || (st = datas_check(v)) != ST_OK ||
        (st = start_check(v)) != ST_OK || (st = exports_check(v)) != ST_OK)
        return st;
    for (uint32_t i = 0; i < v->m->nfuncs - v->m->nfunc_imports; i++)
        if ((st = func_check(v, i)) != ST_OK)
            return st;
    return ST_OK;
}

status engine_module_validate(const engine_config *cfg, const engine_module *m, engine_error *err)
{
    engine_error scratch;
    if (!err)
        err = &scratch;
    *err = (engine_error){.st = ST_OK};
    val v = {.cfg = cfg, .m = m, .err = err};
    status st = module_check(&v);
    base_free(v.refs);
    base_free(v.vals);
    base_free(v.ctrls);
    return st;
}
