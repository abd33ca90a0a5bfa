/* instrument.c - the metering pass: the Internet Computer's basic-block instruction counting
 * (ic rs/embedders/src/wasm_utils/instrumentation.rs, functions `injections` and
 * `inject_metering`; facts in the IC spec section 1.2) re-implemented as a
 * binary-to-binary rewrite of a validated module. See instrument.h for what is injected.
 *
 * Departures from the IC, on purpose: our counter and import have tally's names
 * (`__tally_counter`, `__tally.out_of_instructions`); we do not extract data segments, export
 * tables/memories or rename the start function (tally's engine runs modules whole); and
 * from schedule v2 on, memory.grow also pays per page it asks for (instrument_grow_page_cost;
 * the IC charges 300 statically and bills memory later in cycles, which tally does not have).
 * Schedule v1 is exactly the IC's rule: no per-page charge, and its output is unchanged. */
#include "instrument.h"

#include <stdio.h>
#include <string.h>

enum point_kind { PT_REENTRANT, PT_STATIC, PT_DYNAMIC, PT_GROW };

/* Per-page charge of memory.grow, by schedule (docs/weights.md, "memory.grow"), and the most
 * pages a charge counts: 65536 pages (4 GiB) is all a wasm32 memory can have, so a larger delta
 * always fails and pays as much as the largest possible grow. */
enum { GROW_PAGE_COST_V2 = 5000, GROW_PAGE_CAP = 65536 };
/* v2: a function entry pays one instruction per LOCALS_PER_UNIT_V2 declared locals. */
enum { LOCALS_PER_UNIT_V2 = 4 };

/* An injection point: code inserted before the instruction at body offset `pos`. */
typedef struct point {
    size_t pos;
    uint8_t kind;
    uint64_t cost;
} point;

typedef struct ctx {
    const engine_module *m;
    int schedule;
    uint32_t t_void;     /* type index of [] -> [] */
    uint32_t t_decr;     /* type index of [i64] -> [i64] */
    uint32_t nnew_types; /* types appended to the type section (0..2) */
    functype new_types[2];
    uint32_t counter;   /* global index of the counter */
    uint32_t decr;      /* function index of the dynamic-charge helper */
    uint64_t grow_page; /* per-page charge of memory.grow (0: none, as in v1) */
    bool grow_helper;   /* a second helper charging grow_page per page is appended */
    uint32_t decr_grow; /* its function index */
    engine_error *err;
} ctx;

static const uint8_t type_bytes_decr[2] = {VT_I64, VT_I64};

static uint8_t opbyte(opcode op)
{
    return (uint8_t)engine_opcodes[op].code;
}

static status fail(ctx *c, status st, size_t offset, const char *detail)
{
    if (c->err) {
        c->err->st = st;
        c->err->offset = offset;
        snprintf(c->err->detail, sizeof c->err->detail, "%s", detail);
    }
    return st;
}

/* ---- types, reserved names ---------------------------------------------------------------- */

static bool type_is(const functype *t, uint32_t np, uint32_t nr, const uint8_t *types)
{
    return t->nparams == np && t->nresults == nr &&
           (np + nr == 0 || memcmp(t->types, types, np + nr) == 0);
}

/* Index of the type (np, nr, types), appending it to the new types if the module lacks it. */
static uint32_t find_or_add_type(ctx *c, uint32_t np, uint32_t nr, const uint8_t *types)
{
    for (uint32_t i = 0; i < c->m->ntypes; i++)
        if (type_is(&c->m->types[i], np, nr, types))
            return i;
    for (uint32_t i = 0; i < c->nnew_types; i++)
        if (type_is(&c->new_types[i], np, nr, types))
            return c->m->ntypes + i;
    c->new_types[c->nnew_types] = (functype){np, nr, types};
    return c->m->ntypes + c->nnew_types++;
}

static bool uses_reserved_names(const engine_module *m)
{
    for (uint32_t i = 0; i < m->nimports; i++)
        if (span_eq_str(m->imports[i].module, INSTRUMENT_IMPORT_MODULE))
            return true;
    for (uint32_t i = 0; i < m->nexports; i++)
        if (span_eq_str(m->exports[i].name, INSTRUMENT_COUNTER_EXPORT))
            return true;
    return instrument_schedule_of(m) != 0;
}

int instrument_schedule_of(const engine_module *m)
{
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        if (!span_eq_str(m->customs[i].name, INSTRUMENT_CUSTOM_SECTION))
            continue;
        reader r = reader_of(m->customs[i].data);
        uint32_t v;
        if (reader_u32(&r, &v) == ST_OK && v > 0 && v <= 1000)
            return (int)v;
    }
    return 0;
}

uint64_t instrument_grow_page_cost(int schedule)
{
    return schedule == ENGINE_SCHEDULE_V2 ? GROW_PAGE_COST_V2 : 0;
}

uint64_t instrument_locals_cost(int schedule, uint32_t nlocals)
{
    if (schedule != ENGINE_SCHEDULE_V2)
        return 0;
    return ((uint64_t)nlocals + LOCALS_PER_UNIT_V2 - 1) / LOCALS_PER_UNIT_V2;
}

/* ---- rewriting instructions --------------------------------------------------------------- */

/* Copies one instruction, shifting the function index of call and ref.func by one. */
static status copy_insn(buf *out, const engine_insn *in, const uint8_t *start, const uint8_t *end)
{
    if (in->op == OP_CALL || in->op == OP_REF_FUNC) {
        status st = buf_u8(out, opbyte(in->op));
        return st == ST_OK ? buf_leb_u32(out, in->a + 1) : st;
    }
    return buf_put(out, start, (size_t)(end - start));
}

/* Copies a constant expression (up to and including its end), shifting ref.func indices. */
static status copy_const_expr(buf *out, span expr)
{
    reader r = reader_of(expr);
    while (reader_left(&r) > 0) {
        const uint8_t *start = r.pos;
        engine_insn in;
        status st = engine_insn_read(&r, &in, NULL);
        if (st == ST_OK)
            st = copy_insn(out, &in, start, r.pos);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

/* The IC's `injections`: the injection points of one body, in order of position. */
static status find_points(ctx *c, span body, uint32_t nlocals, point **out, size_t *npoints)
{
    point *pts = base_calloc(2 * body.len + 1, sizeof *pts);
    if (!pts)
        return ST_OUT_OF_MEMORY;
    size_t n = 0, cur = 0;
    /* every function entry costs 1 more (and, from v2 on, its locals' zeroing) */
    pts[n++] = (point){0, PT_REENTRANT, 1 + instrument_locals_cost(c->schedule, nlocals)};
    reader r = reader_of(body);
    while (reader_left(&r) > 0) {
        size_t off = reader_offset(&r);
        engine_insn in;
        status st = engine_insn_read(&r, &in, NULL);
        if (st != ST_OK) {
            base_free(pts);
            return st;
        }
        const opcode_info *info = &engine_opcodes[in.op];
        pts[cur].cost += engine_opcode_weight(in.op, c->schedule);
        if (info->flags & F_BULK)
            pts[n++] = (point){off, PT_DYNAMIC, 0};
        else if (in.op == OP_MEMORY_GROW && c->grow_helper)
            pts[n++] = (point){off, PT_GROW, 0};
        if (info->flags & (F_BB_LOOP | F_BB_END)) {
            cur = n;
            pts[n++] = (point){reader_offset(&r),
                               (info->flags & F_BB_LOOP) ? PT_REENTRANT : PT_STATIC, 0};
        }
    }
    *out = pts;
    *npoints = n;
    return ST_OK;
}

/* `global.get C; i64.const cost; i64.sub; global.set C`, plus the check at reentrant points. */
static status emit_charge(ctx *c, buf *out, const point *p)
{
    status st = ST_OK;
    if (p->kind == PT_DYNAMIC || p->kind == PT_GROW) {
        st = buf_u8(out, opbyte(OP_I64_EXTEND_I32_U));
        if (st == ST_OK)
            st = buf_u8(out, opbyte(OP_CALL));
        if (st == ST_OK)
            st = buf_leb_u32(out, p->kind == PT_GROW ? c->decr_grow : c->decr);
        return st == ST_OK ? buf_u8(out, opbyte(OP_I32_WRAP_I64)) : st;
    }
    if (p->cost == 0 && p->kind != PT_REENTRANT)
        return ST_OK;
    const uint8_t check[] = {opbyte(OP_I64_CONST), 0, opbyte(OP_I64_LT_S), opbyte(OP_IF), 0x40,
                             opbyte(OP_CALL),      0, opbyte(OP_END)};
    st = buf_u8(out, opbyte(OP_GLOBAL_GET));
    if (st == ST_OK)
        st = buf_leb_u32(out, c->counter);
    if (st == ST_OK)
        st = buf_u8(out, opbyte(OP_I64_CONST));
    if (st == ST_OK)
        st = buf_leb_s64(out, (int64_t)p->cost);
    if (st == ST_OK)
        st = buf_u8(out, opbyte(OP_I64_SUB));
    if (st == ST_OK)
        st = buf_u8(out, opbyte(OP_GLOBAL_SET));
    if (st == ST_OK)
        st = buf_leb_u32(out, c->counter);
    if (p->kind == PT_REENTRANT) {
        if (st == ST_OK)
            st = buf_u8(out, opbyte(OP_GLOBAL_GET));
        if (st == ST_OK)
            st = buf_leb_u32(out, c->counter);
        if (st == ST_OK)
            st = buf_put(out, check, sizeof check);
    }
    return st;
}

/* The IC's `inject_metering` for one function body: instructions with charges inserted. */
static status meter_body(ctx *c, span body, uint32_t nlocals, buf *out)
{
    point *pts;
    size_t npts, next = 0;
    status st = find_points(c, body, nlocals, &pts, &npts);
    if (st != ST_OK)
        return st;
    reader r = reader_of(body);
    while (st == ST_OK && reader_left(&r) > 0) {
        size_t off = reader_offset(&r);
        for (; st == ST_OK && next < npts && pts[next].pos == off; next++)
            st = emit_charge(c, out, &pts[next]);
        const uint8_t *start = r.pos;
        engine_insn in;
        if (st == ST_OK)
            st = engine_insn_read(&r, &in, NULL);
        if (st == ST_OK)
            st = copy_insn(out, &in, start, r.pos);
    }
    base_free(pts);
    return st;
}

/* The dynamic-charge helper `(func (param $n i64) (result i64) (local $new i64))`: subtracts n
 * from the counter (saturating at INT64_MIN), calls out_of_instructions if the counter is then
 * negative, and returns n so that the call is stack-neutral. Not metered itself. The grow
 * helper (per_page > 0) subtracts min(n, GROW_PAGE_CAP) x per_page instead. */
static status emit_decr_body(ctx *c, buf *code, uint64_t per_page)
{
    buf b = {0};
    status st = ST_OK;
#define B(x)                                                                                      \
    if (st == ST_OK)                                                                              \
    st = buf_u8(&b, (x))
#define G(op)                                                                                     \
    B(opbyte(op));                                                                                \
    if (st == ST_OK)                                                                              \
    st = buf_leb_u32(&b, c->counter)
    G(OP_GLOBAL_GET);
    B(opbyte(OP_LOCAL_GET));
    B(0);
    if (per_page) { /* select(n, cap, n < cap) x per_page */
        B(opbyte(OP_I64_CONST));
        if (st == ST_OK)
            st = buf_leb_s64(&b, GROW_PAGE_CAP);
        B(opbyte(OP_LOCAL_GET));
        B(0);
        B(opbyte(OP_I64_CONST));
        if (st == ST_OK)
            st = buf_leb_s64(&b, GROW_PAGE_CAP);
        B(opbyte(OP_I64_LT_U));
        B(opbyte(OP_SELECT));
        B(opbyte(OP_I64_CONST));
        if (st == ST_OK)
            st = buf_leb_s64(&b, (int64_t)per_page);
        B(opbyte(OP_I64_MUL));
    }
    B(opbyte(OP_I64_SUB));
    B(opbyte(OP_LOCAL_SET));
    B(1);
    B(opbyte(OP_LOCAL_GET));
    B(1);
    G(OP_GLOBAL_GET);
    B(opbyte(OP_I64_GT_S));
    B(opbyte(OP_IF));
    B(0x40);
    B(opbyte(OP_I64_CONST));
    if (st == ST_OK)
        st = buf_leb_s64(&b, INT64_MIN);
    G(OP_GLOBAL_SET);
    B(opbyte(OP_ELSE));
    B(opbyte(OP_LOCAL_GET));
    B(1);
    G(OP_GLOBAL_SET);
    B(opbyte(OP_END));
    G(OP_GLOBAL_GET);
    B(opbyte(OP_I64_CONST));
    B(0);
    B(opbyte(OP_I64_LT_S));
    B(opbyte(OP_IF));
    B(0x40);
    B(opbyte(OP_CALL));
    B(0);
    B(opbyte(OP_END));
    B(opbyte(OP_LOCAL_GET));
    B(0);
    B(opbyte(OP_END));
#undef G
#undef B
    static const uint8_t local_i64[1] = {VT_I64};
    if (st == ST_OK)
        st = writer_code_entry(code, local_i64, 1, span_of(b.ptr, b.len));
    buf_fini(&b);
    return st;
}

/* ---- sections ----------------------------------------------------------------------------- */

static status sec_type(ctx *c, buf *b)
{
    status st = buf_leb_u32(b, c->m->ntypes + c->nnew_types);
    for (uint32_t i = 0; st == ST_OK && i < c->m->ntypes; i++)
        st = writer_functype(b, &c->m->types[i]);
    for (uint32_t i = 0; st == ST_OK && i < c->nnew_types; i++)
        st = writer_functype(b, &c->new_types[i]);
    return st;
}

static status sec_import(ctx *c, buf *b)
{
    const import ooi = {.module =
                            span_of(INSTRUMENT_IMPORT_MODULE, strlen(INSTRUMENT_IMPORT_MODULE)),
                        .name = span_of(INSTRUMENT_IMPORT_NAME, strlen(INSTRUMENT_IMPORT_NAME)),
                        .kind = EXT_FUNC,
                        .u.type = c->t_void};
    status st = buf_leb_u32(b, c->m->nimports + 1);
    if (st == ST_OK)
        st = writer_import(b, &ooi);
    for (uint32_t i = 0; st == ST_OK && i < c->m->nimports; i++)
        st = writer_import(b, &c->m->imports[i]);
    return st;
}

static status sec_function(ctx *c, buf *b)
{
    const engine_module *m = c->m;
    status st = buf_leb_u32(b, m->nfuncs - m->nfunc_imports + 1 + c->grow_helper);
    for (uint32_t i = m->nfunc_imports; st == ST_OK && i < m->nfuncs; i++)
        st = buf_leb_u32(b, m->func_types[i]);
    if (st == ST_OK)
        st = buf_leb_u32(b, c->t_decr);
    return st == ST_OK && c->grow_helper ? buf_leb_u32(b, c->t_decr) : st;
}

static status sec_global(ctx *c, buf *b)
{
    const engine_module *m = c->m;
    static const uint8_t counter[] = {VT_I64, 1, 0x42 /* i64.const */, 0, 0x0b /* end */};
    status st = buf_leb_u32(b, m->nglobals - m->nglobal_imports + 1);
    for (uint32_t i = m->nglobal_imports; st == ST_OK && i < m->nglobals; i++) {
        st = buf_u8(b, m->globals[i].type);
        if (st == ST_OK)
            st = buf_u8(b, m->globals[i].mut ? 1 : 0);
        if (st == ST_OK)
            st = copy_const_expr(b, m->global_inits[i - m->nglobal_imports]);
    }
    return st == ST_OK ? buf_put(b, counter, sizeof counter) : st;
}

static status sec_export(ctx *c, buf *b)
{
    const engine_module *m = c->m;
    status st = buf_leb_u32(b, m->nexports + 1);
    for (uint32_t i = 0; st == ST_OK && i < m->nexports; i++) {
        const export *e = &m->exports[i];
        st = writer_name(b, e->name);
        if (st == ST_OK)
            st = buf_u8(b, e->kind);
        if (st == ST_OK)
            st = buf_leb_u32(b, e->kind == EXT_FUNC ? e->index + 1 : e->index);
    }
    if (st == ST_OK)
        st = writer_name(b, span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT)));
    if (st == ST_OK)
        st = buf_u8(b, EXT_GLOBAL);
    return st == ST_OK ? buf_leb_u32(b, c->counter) : st;
}

/* One element segment, re-encoded in the binary form that fits its decoded fields. */
static status elem_segment_write(buf *b, const elem_segment *e)
{
    bool exprs = e->exprs != NULL;
    uint8_t form;
    if (e->mode == SEG_ACTIVE)
        form = (e->table == 0 && e->type == VT_FUNCREF) ? 0 : 2;
    else
        form = e->mode == SEG_PASSIVE ? 1 : 3;
    if (exprs)
        form |= 4;
    status st = buf_u8(b, form);
    if (st == ST_OK && (form & 3) == 2)
        st = buf_leb_u32(b, e->table);
    if (st == ST_OK && e->mode == SEG_ACTIVE)
        st = copy_const_expr(b, e->offset);
    if (st == ST_OK && (form & 3) != 0) /* forms 1-3: elemkind 0x00; 5-7: the reftype */
        st = buf_u8(b, exprs ? e->type : 0x00);
    if (st == ST_OK)
        st = buf_leb_u32(b, e->count);
    for (uint32_t i = 0; st == ST_OK && i < e->count; i++)
        st = exprs ? copy_const_expr(b, e->exprs[i]) : buf_leb_u32(b, e->funcs[i] + 1);
    return st;
}

static status sec_elem(ctx *c, buf *b)
{
    status st = buf_leb_u32(b, c->m->nelems);
    for (uint32_t i = 0; st == ST_OK && i < c->m->nelems; i++)
        st = elem_segment_write(b, &c->m->elems[i]);
    return st;
}

static status sec_start(ctx *c, buf *b)
{
    return buf_leb_u32(b, c->m->start + 1);
}

static status sec_code(ctx *c, buf *b)
{
    const engine_module *m = c->m;
    uint32_t ndefined = m->nfuncs - m->nfunc_imports;
    status st = buf_leb_u32(b, ndefined + 1 + c->grow_helper);
    buf code = {0};
    for (uint32_t i = 0; st == ST_OK && i < ndefined; i++) {
        const func *f = &m->funcs[i];
        code.len = 0;
        st = meter_body(c, f->body, f->nlocals, &code);
        if (st == ST_OK)
            st = writer_code_entry(b, f->local_types, f->nlocals, span_of(code.ptr, code.len));
        if (st != ST_OK && st != ST_OUT_OF_MEMORY)
            st = fail(c, st, f->body_offset, "while metering a function body");
    }
    buf_fini(&code);
    if (st == ST_OK)
        st = emit_decr_body(c, b, 0);
    return st == ST_OK && c->grow_helper ? emit_decr_body(c, b, c->grow_page) : st;
}

/* The `name` custom section with every function index shifted by one: subsections 1
 * (function names), 2 (local names) and 3 (label names) are keyed by function index; the
 * others are copied. A name section we cannot parse is dropped (it is only debug info). */
static status rewrite_names(span data, buf *b)
{
    reader r = reader_of(data);
    buf sub = {0};
    status st = ST_OK;
    while (st == ST_OK && reader_left(&r) > 0) {
        uint8_t id;
        uint32_t size, n, idx;
        span content;
        if (reader_u8(&r, &id) || reader_u32(&r, &size) || reader_bytes(&r, size, &content))
            goto out_drop;
        if (id < 1 || id > 3) {
            st = writer_section(b, id, content);
            continue;
        }
        reader s = reader_of(content);
        sub.len = 0;
        if (reader_u32(&s, &n) || (st = buf_leb_u32(&sub, n)))
            goto out_drop;
        for (uint32_t i = 0; i < n && st == ST_OK; i++) {
            if (reader_u32(&s, &idx) || (st = buf_leb_u32(&sub, idx + 1)))
                goto out_drop;
            const uint8_t *from = s.pos;
            uint32_t inner = 1, len;
            span skip;
            if (id != 1 && reader_u32(&s, &inner))
                goto out_drop;
            for (uint32_t j = 0; j < inner; j++)
                if ((id != 1 && reader_u32(&s, &len)) || reader_u32(&s, &len) ||
                    reader_bytes(&s, len, &skip))
                    goto out_drop;
            st = buf_put(&sub, from, (size_t)(s.pos - from));
        }
        if (st == ST_OK && reader_left(&s) != 0)
            goto out_drop;
        if (st == ST_OK)
            st = writer_section(b, id, span_of(sub.ptr, sub.len));
    }
    buf_fini(&sub);
    return st;
out_drop:
    buf_fini(&sub);
    return st == ST_OK ? ST_MALFORMED_SECTION : st;
}

/* ---- the module ------------------------------------------------------------------------- */

enum {
    SEC_CUSTOM = 0,
    SEC_TYPE = 1,
    SEC_IMPORT = 2,
    SEC_FUNCTION = 3,
    SEC_GLOBAL = 6,
    SEC_EXPORT = 7,
    SEC_START = 8,
    SEC_ELEM = 9,
    SEC_CODE = 10,
    SEC_DATACOUNT = 12
};

/* Position of a non-custom section id in the required order (spec 5.5.2), 0 for unknown. */
static int rank(uint8_t id)
{
    static const int ranks[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return id < 13 ? ranks[id] : 0;
}

typedef status (*section_fn)(ctx *c, buf *b);

/* Sections the pass rewrites; all other sections are copied byte for byte. */
static section_fn rewriter(uint8_t id)
{
    switch (id) {
    case SEC_TYPE: return sec_type;
    case SEC_IMPORT: return sec_import;
    case SEC_FUNCTION: return sec_function;
    case SEC_GLOBAL: return sec_global;
    case SEC_EXPORT: return sec_export;
    case SEC_START: return sec_start;
    case SEC_ELEM: return sec_elem;
    case SEC_CODE: return sec_code;
    default: return NULL;
    }
}

static status emit_rewritten(ctx *c, uint8_t id, buf *out, buf *tmp)
{
    tmp->len = 0;
    status st = rewriter(id)(c, tmp);
    return st == ST_OK ? writer_section(out, id, span_of(tmp->ptr, tmp->len)) : st;
}

/* Emits the sections the instrumented module always needs (type, import, function, global,
 * export, code) that rank before `before` and were absent from the original. */
static status emit_missing(ctx *c, int before, bool *done, buf *out, buf *tmp)
{
    static const uint8_t needed[] = {SEC_TYPE,   SEC_IMPORT, SEC_FUNCTION,
                                     SEC_GLOBAL, SEC_EXPORT, SEC_CODE};
    status st = ST_OK;
    for (size_t i = 0; st == ST_OK && i < sizeof needed; i++) {
        if (done[needed[i]] || rank(needed[i]) >= before)
            continue;
        done[needed[i]] = true;
        st = emit_rewritten(c, needed[i], out, tmp);
    }
    return st;
}

static status emit_custom(span content, buf *out, buf *tmp)
{
    reader r = reader_of(content);
    uint32_t len;
    span name;
    if (reader_u32(&r, &len) == ST_OK && reader_bytes(&r, len, &name) == ST_OK &&
        span_eq_str(name, "name")) {
        tmp->len = 0;
        status st = writer_name(tmp, name);
        if (st == ST_OK)
            st = rewrite_names(span_of(r.pos, reader_left(&r)), tmp);
        if (st == ST_MALFORMED_SECTION)
            return ST_OK; /* dropped */
        return st == ST_OK ? writer_section(out, SEC_CUSTOM, span_of(tmp->ptr, tmp->len)) : st;
    }
    return writer_section(out, SEC_CUSTOM, content);
}

static status emit_sections(ctx *c, buf *out)
{
    bool done[13] = {false};
    buf tmp = {0};
    reader r = reader_of(c->m->bytes);
    r.pos += 8; /* magic and version, checked by the decoder */
    status st = writer_header(out);
    while (st == ST_OK && reader_left(&r) > 0) {
        uint8_t id;
        uint32_t size;
        span content;
        if (reader_u8(&r, &id) || reader_u32(&r, &size) || reader_bytes(&r, size, &content)) {
            st = BUG(); /* the decoder accepted this module */
            break;
        }
        if (id == SEC_CUSTOM) {
            st = emit_custom(content, out, &tmp);
            continue;
        }
        st = emit_missing(c, rank(id), done, out, &tmp);
        if (st != ST_OK)
            break;
        if (id < 13)
            done[id] = true;
        if (rewriter(id))
            st = emit_rewritten(c, id, out, &tmp);
        else
            st = writer_section(out, id, content);
    }
    if (st == ST_OK)
        st = emit_missing(c, 100, done, out, &tmp);
    if (st == ST_OK) {
        tmp.len = 0;
        st = writer_name(&tmp,
                         span_of(INSTRUMENT_CUSTOM_SECTION, strlen(INSTRUMENT_CUSTOM_SECTION)));
        if (st == ST_OK)
            st = buf_leb_u32(&tmp, (uint32_t)c->schedule);
        if (st == ST_OK)
            st = writer_section(out, SEC_CUSTOM, span_of(tmp.ptr, tmp.len));
    }
    buf_fini(&tmp);
    return st;
}

status instrument_module(const engine_module *m, int schedule, buf *out, engine_error *err)
{
    ctx c = {.m = m, .schedule = schedule, .err = err};
    if (err)
        *err = (engine_error){.st = ST_OK};
    if (engine_opcode_weight(OP_NOP, schedule) == UINT32_MAX)
        return fail(&c, ST_UNKNOWN_SCHEDULE, 0, "schedule");
    if (uses_reserved_names(m))
        return fail(&c, ST_RESERVED_NAME, 0,
                    "__tally import, __tally_counter export or "
                    "tally.metering section (already instrumented?)");
    if (m->nfuncs > UINT32_MAX - 3 || m->nglobals == UINT32_MAX || m->nimports == UINT32_MAX ||
        m->nexports == UINT32_MAX || m->ntypes > UINT32_MAX - 2)
        return fail(&c, ST_LIMIT_EXCEEDED, 0, "index space full");
    c.t_void = find_or_add_type(&c, 0, 0, NULL);
    c.t_decr = find_or_add_type(&c, 1, 1, type_bytes_decr);
    c.counter = m->nglobals;
    c.decr = m->nfuncs + 1; /* after the shift by the new import */
    /* Only a module with a memory can grow one; v1 never gets the helper (its output stays
     * byte for byte what it was before per-page charges existed). */
    c.grow_page = instrument_grow_page_cost(schedule);
    c.grow_helper = c.grow_page > 0 && m->nmems > 0;
    c.decr_grow = c.decr + 1;
    size_t old = out->len;
    status st = emit_sections(&c, out);
    if (st != ST_OK) {
        out->len = old;
        if (err && err->st == ST_OK)
            fail(&c, st, 0, "instrumenting");
    }
    return st;
}
