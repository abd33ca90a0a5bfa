/* decode.c - the WebAssembly binary decoder (spec 5 "Binary Format", Wasm 2.0 minus SIMD):
 * bytes -> engine_module, and the instruction reader shared by the validator, the compiler and
 * the instrumenter (engine_insn_read).
 *
 * Checks everything the binary format requires: magic and version, section order and exact
 * sizes, LEB128 ranges, UTF-8 names, defined opcodes with well-formed immediates, function and
 * code counts, data count. It does not check validation rules (types, indices): validate.c does.
 * Decoding is linear in the input: a count is checked against the bytes left and against the
 * configured limit (engine_config) before anything is allocated for it. */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct dec {
    const engine_config *cfg;
    engine_module *m;
    engine_error *err;
    bool has_funcsec;   /* function section seen */
    uint32_t nfuncdefs; /* its count */
    bool has_codesec;
    uint32_t ncode; /* code section count */
    bool has_datasec;
    uint64_t total_locals; /* declared locals of all functions */
} dec;

/* Records the first error and returns st. */
static status fail(dec *d, status st, size_t off, const char *fmt, ...)
{
    d->err->st = st;
    d->err->offset = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err->detail, sizeof d->err->detail, fmt, ap);
    va_end(ap);
    return st;
}

static status oom(dec *d, size_t off)
{
    return fail(d, ST_OUT_OF_MEMORY, off, "decoding");
}

/* ---- the instruction reader --------------------------------------------------------------- */

/* Status of a value type byte: ST_OK, ST_MALFORMED_VALTYPE or ST_UNSUPPORTED_FEATURE. */
static status valtype_check(uint8_t b, const char **feature)
{
    switch (b) {
    case VT_I32:
    case VT_I64:
    case VT_F32:
    case VT_F64:
    case VT_FUNCREF:
    case VT_EXTERNREF: return ST_OK;
    case VT_V128: *feature = "SIMD (v128 value type)"; return ST_UNSUPPORTED_FEATURE;
    case 0x63:
    case 0x64:
        *feature = "typed function references (reference type)";
        return ST_UNSUPPORTED_FEATURE;
    case 0x65:
    case 0x66:
    case 0x67:
    case 0x68:
    case 0x69:
    case 0x6A:
    case 0x6B:
    case 0x6C:
    case 0x6D:
    case 0x6E:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74: *feature = "GC (reference type)"; return ST_UNSUPPORTED_FEATURE;
    default: return ST_MALFORMED_VALTYPE;
    }
}

/* Block type (spec 5.4.1): 0x40, a value type byte, or a non-negative s33 type index. */
static status blocktype_read(reader *r, engine_insn *out, const char **feature)
{
    if (reader_left(r) < 1)
        return ST_UNEXPECTED_END;
    uint8_t b = r->pos[0];
    if (b == 0x40 || valtype_check(b, feature) != ST_MALFORMED_VALTYPE) {
        r->pos++;
        out->type = b;
        return b == 0x40 ? ST_OK : valtype_check(b, feature);
    }
    int64_t v;
    status st = reader_s33(r, &v);
    if (st != ST_OK)
        return st;
    if (v < 0)
        return ST_MALFORMED_VALTYPE;
    out->type = 0;
    out->a = (uint32_t)v;
    return ST_OK;
}

static status zero_byte(reader *r)
{
    uint8_t b;
    status st = reader_u8(r, &b);
    if (st != ST_OK)
        return st;
    return b == 0 ? ST_OK : ST_ZERO_BYTE_EXPECTED;
}

static status br_table_read(reader *r, engine_insn *out)
{
    status st = reader_u32(r, &out->a);
    if (st != ST_OK)
        return st;
    if (out->a > reader_left(r))
        return ST_UNEXPECTED_END;
    const uint8_t *start = r->pos;
    for (uint32_t i = 0; i < out->a; i++) {
        uint32_t l;
        if ((st = reader_u32(r, &l)) != ST_OK)
            return st;
    }
    out->targets = span_of(start, (size_t)(r->pos - start));
    return reader_u32(r, &out->b);
}

static status select_t_read(reader *r, engine_insn *out, const char **feature)
{
    status st = reader_u32(r, &out->a);
    if (st != ST_OK)
        return st;
    if (out->a > reader_left(r))
        return ST_UNEXPECTED_END;
    for (uint32_t i = 0; i < out->a; i++) {
        uint8_t b = *r->pos++;
        if ((st = valtype_check(b, feature)) != ST_OK)
            return st;
        if (i == 0)
            out->type = b;
    }
    return ST_OK;
}

/* Reads two u32 immediates into a and b. */
static status two_u32(reader *r, engine_insn *out)
{
    status st = reader_u32(r, &out->a);
    return st != ST_OK ? st : reader_u32(r, &out->b);
}

static status imm_read(reader *r, imm_kind imm, engine_insn *out, const char **feature)
{
    status st;
    uint32_t u;
    int32_t s32;
    int64_t s64;
    switch (imm) {
    case IMM_NONE: return ST_OK;
    case IMM_BLOCKTYPE: return blocktype_read(r, out, feature);
    case IMM_LABEL:
    case IMM_FUNC:
    case IMM_LOCAL:
    case IMM_GLOBAL:
    case IMM_TABLE:
    case IMM_DATA:
    case IMM_ELEM: return reader_u32(r, &out->a);
    case IMM_BR_TABLE: return br_table_read(r, out);
    case IMM_CALL_INDIRECT:
    case IMM_MEM8:
    case IMM_MEM16:
    case IMM_MEM32:
    case IMM_MEM64:
    case IMM_ELEM_TABLE:
    case IMM_TABLE_TABLE: return two_u32(r, out);
    case IMM_MEMIDX: return zero_byte(r);
    case IMM_I32:
        if ((st = reader_s32(r, &s32)) == ST_OK)
            out->value = (uint32_t)s32;
        return st;
    case IMM_I64:
        if ((st = reader_s64(r, &s64)) == ST_OK)
            out->value = (uint64_t)s64;
        return st;
    case IMM_F32:
        if ((st = reader_fixed32(r, &u)) == ST_OK)
            out->value = u;
        return st;
    case IMM_F64: return reader_fixed64(r, &out->value);
    case IMM_SELECT_T: return select_t_read(r, out, feature);
    case IMM_REFTYPE:
        if ((st = reader_u8(r, &out->type)) != ST_OK)
            return st;
        return out->type == VT_FUNCREF || out->type == VT_EXTERNREF ? ST_OK : ST_MALFORMED_REFTYPE;
    case IMM_DATA_MEM:
        if ((st = reader_u32(r, &out->a)) != ST_OK)
            return st;
        return zero_byte(r);
    case IMM_MEM_MEM:
        if ((st = zero_byte(r)) != ST_OK)
            return st;
        return zero_byte(r);
    }
    return BUG();
}

status engine_insn_read(reader *r, engine_insn *out, const char **feature)
{
    const char *dummy = NULL;
    if (!feature)
        feature = &dummy;
    *out = (engine_insn){.op = OP_INVALID};
    uint8_t b;
    status st = reader_u8(r, &b);
    if (st != ST_OK)
        return st;
    opcode op;
    if (b == 0xFC) {
        uint32_t sub;
        if ((st = reader_u32(r, &sub)) != ST_OK)
            return st;
        op = engine_opcode_from_fc(sub);
    } else {
        op = engine_opcode_from_byte(b);
        if (op == OP_INVALID && (*feature = engine_unsupported_feature(b)) != NULL)
            return ST_UNSUPPORTED_FEATURE;
    }
    if (op == OP_INVALID)
        return ST_ILLEGAL_OPCODE;
    out->op = op;
    return imm_read(r, engine_opcodes[op].imm, out, feature);
}

/* ---- small readers that record where they failed ------------------------------------------ */

static status rd_u8(dec *d, reader *r, uint8_t *out, const char *what)
{
    size_t off = reader_offset(r);
    status st = reader_u8(r, out);
    return st == ST_OK ? ST_OK : fail(d, st, off, "%s", what);
}

static status rd_u32(dec *d, reader *r, uint32_t *out, const char *what)
{
    size_t off = reader_offset(r);
    status st = reader_u32(r, out);
    return st == ST_OK ? ST_OK : fail(d, st, off, "%s", what);
}

/* A vector length: each element takes at least one byte, so a length above the bytes left is
 * malformed; at most `limit` elements are allowed (ST_LIMIT_EXCEEDED). Only then may a caller
 * allocate for it. */
static status rd_count(dec *d, reader *r, uint32_t *out, uint32_t limit, const char *what)
{
    size_t off = reader_offset(r);
    status st = rd_u32(d, r, out, what);
    if (st != ST_OK)
        return st;
    if (*out > reader_left(r))
        return fail(d, ST_UNEXPECTED_END, off, "%s %u exceeds the bytes left", what, *out);
    if (*out > limit)
        return fail(d, ST_LIMIT_EXCEEDED, off, "%s %u > limit %u", what, *out, limit);
    return ST_OK;
}

static status rd_valtype(dec *d, reader *r, uint8_t *out)
{
    size_t off = reader_offset(r);
    status st = rd_u8(d, r, out, "value type");
    if (st != ST_OK)
        return st;
    const char *feature = NULL;
    if ((st = valtype_check(*out, &feature)) != ST_OK)
        return fail(d, st, off, "%s", feature ? feature : "value type byte");
    return ST_OK;
}

static status rd_reftype(dec *d, reader *r, uint8_t *out)
{
    size_t off = reader_offset(r);
    status st = rd_u8(d, r, out, "reference type");
    if (st != ST_OK)
        return st;
    if (*out != VT_FUNCREF && *out != VT_EXTERNREF)
        return fail(d, ST_MALFORMED_REFTYPE, off, "byte 0x%02x", *out);
    return ST_OK;
}

static status rd_name(dec *d, reader *r, span *out)
{
    uint32_t len;
    size_t off = reader_offset(r);
    status st = rd_u32(d, r, &len, "name length");
    if (st != ST_OK)
        return st;
    if (len > reader_left(r))
        return fail(d, ST_UNEXPECTED_END, off, "name of %u bytes", len);
    (void)reader_bytes(r, len, out);
    if (!span_is_utf8(*out))
        return fail(d, ST_MALFORMED_UTF8, off, "name");
    return ST_OK;
}

/* Limits (spec 5.3.7) of a memory (is_mem) or a table. */
static status rd_limits(dec *d, reader *r, limits *out, bool is_mem)
{
    size_t off = reader_offset(r);
    uint8_t flags;
    status st = rd_u8(d, r, &flags, "limits flags");
    if (st != ST_OK)
        return st;
    if (is_mem && (flags == 0x02 || flags == 0x03))
        return fail(d, ST_UNSUPPORTED_FEATURE, off, "threads (shared memory)");
    if (flags >= 0x04 && flags <= 0x07)
        return fail(d, ST_UNSUPPORTED_FEATURE, off, is_mem ? "memory64" : "table64");
    if (flags > 0x01)
        return fail(d, ST_MALFORMED_LIMITS, off, "flags 0x%02x", flags);
    out->has_max = flags == 0x01;
    if ((st = rd_u32(d, r, &out->min, "limits minimum")) != ST_OK)
        return st;
    out->max = 0;
    if (out->has_max)
        return rd_u32(d, r, &out->max, "limits maximum");
    return ST_OK;
}

static status rd_tabletype(dec *d, reader *r, tabletype *out)
{
    status st = rd_reftype(d, r, &out->elem);
    return st != ST_OK ? st : rd_limits(d, r, &out->lim, false);
}

static status rd_globaltype(dec *d, reader *r, globaltype *out)
{
    status st = rd_valtype(d, r, &out->type);
    if (st != ST_OK)
        return st;
    size_t off = reader_offset(r);
    uint8_t mut;
    if ((st = rd_u8(d, r, &mut, "global mutability")) != ST_OK)
        return st;
    if (mut > 1)
        return fail(d, ST_MALFORMED_MUTABILITY, off, "byte 0x%02x", mut);
    out->mut = mut == 1;
    return ST_OK;
}

/* ---- expressions ------------------------------------------------------------------------- */

static status insn_fail(dec *d, status st, size_t off, const char *feature)
{
    if (st == ST_UNSUPPORTED_FEATURE)
        return fail(d, st, off, "%s", feature ? feature : "unknown");
    if (st == ST_ILLEGAL_OPCODE)
        return fail(d, st, off, "opcode 0x%02x", d->m->bytes.ptr[off]);
    return fail(d, st, off, "instruction");
}

/* Walks the instructions at r->pos up to the `end` that closes the expression, checking that
 * each is well-formed; *out spans them including that end. */
static status walk_expr(dec *d, reader *r, span *out)
{
    const uint8_t *start = r->pos;
    uint32_t depth = 0;
    for (;;) {
        size_t off = reader_offset(r);
        engine_insn in;
        const char *feature = NULL;
        status st = engine_insn_read(r, &in, &feature);
        if (st != ST_OK)
            return insn_fail(d, st, off, feature);
        switch (in.op) {
        case OP_BLOCK:
        case OP_LOOP:
        case OP_IF:
            if (++depth >= d->cfg->max_nesting)
                return fail(d, ST_LIMIT_EXCEEDED, off, "nesting depth > limit %u",
                            d->cfg->max_nesting);
            break;
        case OP_END:
            if (depth == 0) {
                *out = span_of(start, (size_t)(r->pos - start));
                return ST_OK;
            }
            depth--;
            break;
        case OP_BR_TABLE:
            if (in.a > d->cfg->max_br_table)
                return fail(d, ST_LIMIT_EXCEEDED, off, "br_table of %u targets > limit %u", in.a,
                            d->cfg->max_br_table);
            break;
        case OP_MEMORY_INIT:
        case OP_DATA_DROP:
            if (!d->m->has_datacount)
                return fail(d, ST_DATA_COUNT_REQUIRED, off, "%s", engine_opcodes[in.op].text);
            break;
        default: break;
        }
    }
}

/* ---- index spaces: imports first, then definitions ---------------------------------------- */

static uint32_t import_count(const engine_module *m, uint8_t kind)
{
    switch (kind) {
    case EXT_FUNC: return m->nfunc_imports;
    case EXT_TABLE: return m->ntable_imports;
    case EXT_MEMORY: return m->nmem_imports;
    default: return m->nglobal_imports;
    }
}

/* Allocates the index space of `kind` for its imports plus `ndef` definitions and copies the
 * imports' types in. Counts were checked against the limits by the callers. */
static status space_alloc(dec *d, uint8_t kind, uint32_t ndef, size_t off)
{
    engine_module *m = d->m;
    uint32_t n = import_count(m, kind) + ndef;
    static const size_t size[4] = {sizeof(uint32_t), sizeof(tabletype), sizeof(limits),
                                   sizeof(globaltype)};
    if (n == 0)
        return ST_OK;
    void *arr = base_calloc(n, size[kind]);
    if (!arr)
        return oom(d, off);
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const import *im = &m->imports[i];
        if (im->kind != kind)
            continue;
        switch (kind) {
        case EXT_FUNC: ((uint32_t *)arr)[k++] = im->u.type; break;
        case EXT_TABLE: ((tabletype *)arr)[k++] = im->u.table; break;
        case EXT_MEMORY: ((limits *)arr)[k++] = im->u.mem; break;
        default: ((globaltype *)arr)[k++] = im->u.global; break;
        }
    }
    switch (kind) {
    case EXT_FUNC:
        m->func_types = arr;
        m->nfuncs = n;
        break;
    case EXT_TABLE:
        m->tables = arr;
        m->ntables = n;
        break;
    case EXT_MEMORY:
        m->mems = arr;
        m->nmems = n;
        break;
    default:
        m->globals = arr;
        m->nglobals = n;
        break;
    }
    return ST_OK;
}

/* The limit of the whole index space of `kind` (imports included). */
static uint32_t space_limit(const engine_config *cfg, uint8_t kind)
{
    switch (kind) {
    case EXT_FUNC: return cfg->max_funcs;
    case EXT_TABLE: return cfg->max_tables;
    case EXT_MEMORY: return UINT32_MAX; /* validation allows one */
    default: return cfg->max_globals;
    }
}

/* Reads the count of a definition section of `kind` and allocates its index space. */
static status space_count(dec *d, reader *r, uint8_t kind, uint32_t *n, const char *what)
{
    size_t off = reader_offset(r);
    uint32_t nimp = import_count(d->m, kind), limit = space_limit(d->cfg, kind);
    status st = rd_count(d, r, n, limit - (nimp < limit ? nimp : limit), what);
    if (st != ST_OK)
        return st;
    return space_alloc(d, kind, *n, off);
}

/* ---- sections ---------------------------------------------------------------------------- */

static status sec_custom(dec *d, reader *r, size_t sec_off)
{
    engine_module *m = d->m;
    if (m->ncustoms >= d->cfg->max_customs)
        return fail(d, ST_LIMIT_EXCEEDED, sec_off, "custom sections > limit %u",
                    d->cfg->max_customs);
    custom_section c = {.offset = sec_off};
    status st = rd_name(d, r, &c.name);
    if (st != ST_OK)
        return st;
    (void)reader_bytes(r, reader_left(r), &c.data);
    /* grow by doubling: the array is sized to a power of two */
    uint32_t n = m->ncustoms;
    if ((n & (n - 1)) == 0) {
        custom_section *grown = base_realloc((void *)m->customs, (n ? 2 * n : 1) * sizeof c);
        if (!grown)
            return oom(d, sec_off);
        m->customs = grown;
    }
    ((custom_section *)m->customs)[n] = c;
    m->ncustoms = n + 1;
    return ST_OK;
}

static status functype_read(dec *d, reader *r, functype *ft, uint8_t *pool, size_t *used)
{
    size_t off = reader_offset(r);
    uint8_t form;
    status st = rd_u8(d, r, &form, "function type");
    if (st != ST_OK)
        return st;
    if (form != 0x60)
        return fail(d, ST_MALFORMED_FUNCTYPE, off, "form 0x%02x", form);
    ft->types = pool + *used;
    for (int part = 0; part < 2; part++) {
        uint32_t n;
        if ((st = rd_count(d, r, &n, d->cfg->max_params, part ? "results" : "params")))
            return st;
        for (uint32_t i = 0; i < n; i++)
            if ((st = rd_valtype(d, r, &pool[(*used)++])) != ST_OK)
                return st;
        if (part)
            ft->nresults = n;
        else
            ft->nparams = n;
    }
    return ST_OK;
}

static status sec_type(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, d->cfg->max_types, "types");
    if (st != ST_OK || n == 0)
        return st;
    functype *types = base_calloc(n, sizeof *types);
    if (!types)
        return oom(d, off);
    m->types = types;
    /* every value type takes one byte of the section: the pool never overflows */
    uint8_t *pool = base_alloc(reader_left(r));
    if (!pool)
        return oom(d, off);
    m->ntypes = n;
    types[0].types = pool; /* engine_module_free finds the pool here */
    size_t used = 0;
    for (uint32_t i = 0; i < n; i++)
        if ((st = functype_read(d, r, &types[i], pool, &used)) != ST_OK)
            return st;
    return ST_OK;
}

static status import_desc_read(dec *d, reader *r, import *im)
{
    size_t off = reader_offset(r);
    status st = rd_u8(d, r, &im->kind, "import kind");
    if (st != ST_OK)
        return st;
    switch (im->kind) {
    case EXT_FUNC: return rd_u32(d, r, &im->u.type, "type index");
    case EXT_TABLE: return rd_tabletype(d, r, &im->u.table);
    case EXT_MEMORY: return rd_limits(d, r, &im->u.mem, true);
    case EXT_GLOBAL: return rd_globaltype(d, r, &im->u.global);
    case 0x04: return fail(d, ST_UNSUPPORTED_FEATURE, off, "exception handling (tag import)");
    default: return fail(d, ST_MALFORMED_IMPORT_KIND, off, "kind 0x%02x", im->kind);
    }
}

static status sec_import(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, d->cfg->max_imports, "imports");
    if (st != ST_OK || n == 0)
        return st;
    import *imports = base_calloc(n, sizeof *imports);
    if (!imports)
        return oom(d, off);
    m->imports = imports;
    m->nimports = n;
    for (uint32_t i = 0; i < n; i++) {
        import *im = &imports[i];
        size_t ioff = reader_offset(r);
        if ((st = rd_name(d, r, &im->module)) != ST_OK ||
            (st = rd_name(d, r, &im->name)) != ST_OK || (st = import_desc_read(d, r, im)) != ST_OK)
            return st;
        uint32_t *count = im->kind == EXT_FUNC     ? &m->nfunc_imports
                          : im->kind == EXT_TABLE  ? &m->ntable_imports
                          : im->kind == EXT_MEMORY ? &m->nmem_imports
                                                   : &m->nglobal_imports;
        if (++*count > space_limit(d->cfg, im->kind))
            return fail(d, ST_LIMIT_EXCEEDED, ioff, "imports of kind %u > limit %u", im->kind,
                        space_limit(d->cfg, im->kind));
    }
    return ST_OK;
}

static status sec_function(dec *d, reader *r)
{
    uint32_t n;
    status st = space_count(d, r, EXT_FUNC, &n, "functions");
    if (st != ST_OK)
        return st;
    d->has_funcsec = true;
    d->nfuncdefs = n;
    if (n == 0)
        return ST_OK;
    uint32_t *types = (uint32_t *)d->m->func_types + d->m->nfunc_imports;
    for (uint32_t i = 0; i < n; i++)
        if ((st = rd_u32(d, r, &types[i], "type index")) != ST_OK)
            return st;
    return ST_OK;
}

static status sec_table(dec *d, reader *r)
{
    uint32_t n;
    status st = space_count(d, r, EXT_TABLE, &n, "tables");
    if (st != ST_OK || n == 0)
        return st;
    tabletype *tables = (tabletype *)d->m->tables + d->m->ntable_imports;
    for (uint32_t i = 0; i < n; i++)
        if ((st = rd_tabletype(d, r, &tables[i])) != ST_OK)
            return st;
    return ST_OK;
}

static status sec_memory(dec *d, reader *r)
{
    uint32_t n;
    status st = space_count(d, r, EXT_MEMORY, &n, "memories");
    if (st != ST_OK || n == 0)
        return st;
    limits *mems = (limits *)d->m->mems + d->m->nmem_imports;
    for (uint32_t i = 0; i < n; i++)
        if ((st = rd_limits(d, r, &mems[i], true)) != ST_OK)
            return st;
    return ST_OK;
}

static status sec_global(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = space_count(d, r, EXT_GLOBAL, &n, "globals");
    if (st != ST_OK || n == 0)
        return st;
    span *inits = base_calloc(n, sizeof *inits);
    if (!inits)
        return oom(d, off);
    m->global_inits = inits;
    globaltype *globals = (globaltype *)m->globals + m->nglobal_imports;
    for (uint32_t i = 0; i < n; i++)
        if ((st = rd_globaltype(d, r, &globals[i])) != ST_OK ||
            (st = walk_expr(d, r, &inits[i])) != ST_OK)
            return st;
    return ST_OK;
}

static status sec_export(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, d->cfg->max_exports, "exports");
    if (st != ST_OK || n == 0)
        return st;
    export *exports = base_calloc(n, sizeof *exports);
    if (!exports)
        return oom(d, off);
    m->exports = exports;
    m->nexports = n;
    for (uint32_t i = 0; i < n; i++) {
        export *e = &exports[i];
        if ((st = rd_name(d, r, &e->name)) != ST_OK)
            return st;
        size_t koff = reader_offset(r);
        if ((st = rd_u8(d, r, &e->kind, "export kind")) != ST_OK)
            return st;
        if (e->kind == 0x04)
            return fail(d, ST_UNSUPPORTED_FEATURE, koff, "exception handling (tag export)");
        if (e->kind > EXT_GLOBAL)
            return fail(d, ST_MALFORMED_EXPORT_KIND, koff, "kind 0x%02x", e->kind);
        if ((st = rd_u32(d, r, &e->index, "export index")) != ST_OK)
            return st;
    }
    return ST_OK;
}

static status sec_start(dec *d, reader *r)
{
    d->m->has_start = true;
    return rd_u32(d, r, &d->m->start, "start function index");
}

/* The items of an element segment: function indices (!exprs) or constant expressions. */
static status elem_items_read(dec *d, reader *r, elem_segment *e, bool exprs)
{
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, d->cfg->max_segment_elems, "elements");
    if (st != ST_OK || n == 0)
        return st;
    void *items = base_calloc(n, exprs ? sizeof(span) : sizeof(uint32_t));
    if (!items)
        return oom(d, off);
    e->count = n;
    if (exprs)
        e->exprs = items;
    else
        e->funcs = items;
    for (uint32_t i = 0; i < n; i++) {
        st = exprs ? walk_expr(d, r, &((span *)items)[i])
                   : rd_u32(d, r, &((uint32_t *)items)[i], "function index");
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

/* A segment's flags (spec 5.5.12, 5.5.14): a u32 of at most max, else status `bad`. */
static status rd_seg_flags(dec *d, reader *r, uint32_t max, status bad, const char *what,
                           uint32_t *flags)
{
    size_t off = reader_offset(r);
    status st = rd_u32(d, r, flags, what);
    if (st != ST_OK)
        return st;
    if (*flags > max)
        return fail(d, bad, off, "flags %u", *flags);
    return ST_OK;
}

/* One element segment, binary forms 0 to 7 (spec 5.5.12). */
static status elem_read(dec *d, reader *r, elem_segment *e)
{
    uint32_t flags;
    status st = rd_seg_flags(d, r, 7, ST_MALFORMED_ELEM_KIND, "element segment flags", &flags);
    if (st != ST_OK)
        return st;
    bool active = !(flags & 1), exprs = flags & 4;
    e->mode = active ? SEG_ACTIVE : (flags & 2) ? SEG_DECLARATIVE : SEG_PASSIVE;
    e->type = VT_FUNCREF;
    if (active && (flags & 2) && (st = rd_u32(d, r, &e->table, "table index")) != ST_OK)
        return st;
    if (active && (st = walk_expr(d, r, &e->offset)) != ST_OK)
        return st;
    if ((flags & 3) != 0) { /* explicit element kind or reference type */
        if (exprs) {
            if ((st = rd_reftype(d, r, &e->type)) != ST_OK)
                return st;
        } else {
            size_t koff = reader_offset(r);
            uint8_t kind;
            if ((st = rd_u8(d, r, &kind, "element kind")) != ST_OK)
                return st;
            if (kind != 0x00)
                return fail(d, ST_MALFORMED_ELEM_KIND, koff, "element kind 0x%02x", kind);
        }
    }
    return elem_items_read(d, r, e, exprs);
}

static status sec_element(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, d->cfg->max_segments, "element segments");
    if (st != ST_OK || n == 0)
        return st;
    elem_segment *elems = base_calloc(n, sizeof *elems);
    if (!elems)
        return oom(d, off);
    m->elems = elems;
    m->nelems = n;
    for (uint32_t i = 0; i < n; i++)
        if ((st = elem_read(d, r, &elems[i])) != ST_OK)
            return st;
    return ST_OK;
}

/* Reads a code entry's local declarations into f (spec 5.5.13). */
static status locals_read(dec *d, reader *r, uint32_t fidx, func *f)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t ngroups;
    status st = rd_count(d, r, &ngroups, UINT32_MAX, "local declarations");
    if (st != ST_OK)
        return st;
    reader again = *r;
    uint64_t total = 0;
    for (uint32_t i = 0; i < ngroups; i++) {
        uint32_t n;
        uint8_t t;
        if ((st = rd_u32(d, r, &n, "local count")) != ST_OK || (st = rd_valtype(d, r, &t)))
            return st;
        total += n;
    }
    if (total > UINT32_MAX)
        return fail(d, ST_TOO_MANY_LOCALS, off, "function %u", fidx);
    uint32_t tidx = m->func_types[fidx];
    uint64_t nparams = tidx < m->ntypes ? m->types[tidx].nparams : 0;
    if (total + nparams > d->cfg->max_locals)
        return fail(d, ST_LIMIT_EXCEEDED, off, "function %u: %llu locals > limit %u", fidx,
                    (unsigned long long)(total + nparams), d->cfg->max_locals);
    d->total_locals += total;
    if (d->total_locals > d->cfg->max_module_size)
        return fail(d, ST_LIMIT_EXCEEDED, off, "locals of all functions > %zu",
                    d->cfg->max_module_size);
    if (total == 0)
        return ST_OK;
    uint8_t *types = base_alloc((size_t)total);
    if (!types)
        return oom(d, off);
    f->local_types = types;
    f->nlocals = (uint32_t)total;
    size_t k = 0;
    for (uint32_t i = 0; i < ngroups; i++) {
        uint32_t n;
        uint8_t t;
        (void)reader_u32(&again, &n);
        (void)reader_u8(&again, &t);
        memset(types + k, t, n);
        k += n;
    }
    return ST_OK;
}

static status code_read(dec *d, reader *r, uint32_t i, func *f)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t size;
    status st = rd_u32(d, r, &size, "function body size");
    if (st != ST_OK)
        return st;
    if (size > reader_left(r))
        return fail(d, ST_UNEXPECTED_END, off, "function body of %u bytes", size);
    if (size > d->cfg->max_func_size)
        return fail(d, ST_LIMIT_EXCEEDED, off, "function body of %u bytes > limit %u", size,
                    d->cfg->max_func_size);
    reader body = {r->start, r->pos, r->pos + size};
    r->pos += size;
    uint32_t fidx = m->nfunc_imports + i;
    f->type = m->func_types[fidx];
    if ((st = locals_read(d, &body, fidx, f)) != ST_OK)
        return st;
    f->body_offset = reader_offset(&body);
    if ((st = walk_expr(d, &body, &f->body)) != ST_OK) {
        /* the body ran out between two instructions: its final end is missing */
        size_t end = (size_t)(body.end - body.start);
        if (st == ST_UNEXPECTED_END && d->err->offset == end)
            return fail(d, ST_END_EXPECTED, end, "function %u", fidx);
        return st;
    }
    if (reader_left(&body) != 0)
        return fail(d, ST_END_EXPECTED, reader_offset(&body), "function %u", fidx);
    return ST_OK;
}

static status sec_code(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, UINT32_MAX, "function bodies");
    if (st != ST_OK)
        return st;
    d->has_codesec = true;
    d->ncode = n;
    if (n != d->nfuncdefs)
        return fail(d, ST_FUNC_CODE_MISMATCH, off, "%u functions, %u bodies", d->nfuncdefs, n);
    if (n == 0)
        return ST_OK;
    func *funcs = base_calloc(n, sizeof *funcs);
    if (!funcs)
        return oom(d, off);
    m->funcs = funcs;
    for (uint32_t i = 0; i < n; i++)
        if ((st = code_read(d, r, i, &funcs[i])) != ST_OK)
            return st;
    return ST_OK;
}

/* One data segment, binary forms 0 to 2 (spec 5.5.14). */
static status data_read(dec *d, reader *r, data_segment *s)
{
    uint32_t flags;
    status st = rd_seg_flags(d, r, 2, ST_MALFORMED_DATA_KIND, "data segment flags", &flags);
    if (st != ST_OK)
        return st;
    s->mode = flags == 1 ? SEG_PASSIVE : SEG_ACTIVE;
    if (flags == 2 && (st = rd_u32(d, r, &s->mem, "memory index")) != ST_OK)
        return st;
    if (flags != 1 && (st = walk_expr(d, r, &s->offset)) != ST_OK)
        return st;
    size_t loff = reader_offset(r);
    uint32_t len;
    if ((st = rd_u32(d, r, &len, "data length")) != ST_OK)
        return st;
    if (len > reader_left(r))
        return fail(d, ST_UNEXPECTED_END, loff, "data segment of %u bytes", len);
    (void)reader_bytes(r, len, &s->bytes);
    return ST_OK;
}

static status sec_data(dec *d, reader *r)
{
    engine_module *m = d->m;
    size_t off = reader_offset(r);
    uint32_t n;
    status st = rd_count(d, r, &n, d->cfg->max_segments, "data segments");
    if (st != ST_OK)
        return st;
    d->has_datasec = true;
    if (m->has_datacount && n != m->datacount)
        return fail(d, ST_DATA_COUNT_MISMATCH, off, "data count %u, %u segments", m->datacount, n);
    if (n == 0)
        return ST_OK;
    data_segment *datas = base_calloc(n, sizeof *datas);
    if (!datas)
        return oom(d, off);
    m->datas = datas;
    m->ndatas = n;
    for (uint32_t i = 0; i < n; i++)
        if ((st = data_read(d, r, &datas[i])) != ST_OK)
            return st;
    return ST_OK;
}

static status sec_datacount(dec *d, reader *r)
{
    size_t off = reader_offset(r);
    status st = rd_u32(d, r, &d->m->datacount, "data count");
    if (st != ST_OK)
        return st;
    if (d->m->datacount > d->cfg->max_segments)
        return fail(d, ST_LIMIT_EXCEEDED, off, "data count %u > limit %u", d->m->datacount,
                    d->cfg->max_segments);
    d->m->has_datacount = true;
    return ST_OK;
}

/* ---- the module ----------------------------------------------------------------------------- */

/* Position of each section id in the required order (spec 5.5.2): data count sits between the
 * element and code sections. */
static const uint8_t section_rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};

static status section_read(dec *d, uint8_t id, reader *r, size_t sec_off)
{
    switch (id) {
    case 0: return sec_custom(d, r, sec_off);
    case 1: return sec_type(d, r);
    case 2: return sec_import(d, r);
    case 3: return sec_function(d, r);
    case 4: return sec_table(d, r);
    case 5: return sec_memory(d, r);
    case 6: return sec_global(d, r);
    case 7: return sec_export(d, r);
    case 8: return sec_start(d, r);
    case 9: return sec_element(d, r);
    case 10: return sec_code(d, r);
    case 11: return sec_data(d, r);
    default: return sec_datacount(d, r);
    }
}

/* Index spaces whose definition section is absent still hold the imports. */
static status spaces_finish(dec *d, size_t off)
{
    engine_module *m = d->m;
    status st = ST_OK;
    if (!m->func_types && m->nfunc_imports)
        st = space_alloc(d, EXT_FUNC, 0, off);
    if (st == ST_OK && !m->tables && m->ntable_imports)
        st = space_alloc(d, EXT_TABLE, 0, off);
    if (st == ST_OK && !m->mems && m->nmem_imports)
        st = space_alloc(d, EXT_MEMORY, 0, off);
    if (st == ST_OK && !m->globals && m->nglobal_imports)
        st = space_alloc(d, EXT_GLOBAL, 0, off);
    return st;
}

/* Before the function section, the function space is built as soon as it is needed. */
static status sections_read(dec *d, reader *r)
{
    int last = 0;
    while (reader_left(r) > 0) {
        size_t off = reader_offset(r);
        uint8_t id;
        uint32_t size;
        status st = rd_u8(d, r, &id, "section id");
        if (st != ST_OK)
            return st;
        if (id == 13)
            return fail(d, ST_UNSUPPORTED_FEATURE, off, "exception handling (tag section)");
        if (id > 12)
            return fail(d, ST_MALFORMED_SECTION_ID, off, "section id %u", id);
        if (id != 0 && section_rank[id] <= last)
            return fail(d, ST_SECTION_ORDER, off, "section id %u", id);
        if (id != 0)
            last = section_rank[id];
        if ((st = rd_u32(d, r, &size, "section size")) != ST_OK)
            return st;
        if (size > reader_left(r))
            return fail(d, ST_UNEXPECTED_END, off, "section id %u of %u bytes", id, size);
        if (id == 10 || id == 11 || id == 12 || id == 7 || id == 8 || id == 9) {
            /* sections after the definitions: index spaces are complete */
            if ((st = spaces_finish(d, off)) != ST_OK)
                return st;
        }
        reader sec = {r->start, r->pos, r->pos + size};
        r->pos += size;
        if ((st = section_read(d, id, &sec, off)) != ST_OK)
            return st;
        if (reader_left(&sec) != 0)
            return fail(d, ST_SECTION_SIZE_MISMATCH, reader_offset(&sec), "section id %u", id);
    }
    return spaces_finish(d, reader_offset(r));
}

static status module_read(dec *d)
{
    engine_module *m = d->m;
    reader r = reader_of(m->bytes);
    static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
    static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
    if (reader_left(&r) < 4)
        return fail(d, ST_UNEXPECTED_END, 0, "magic");
    if (memcmp(r.pos, magic, 4) != 0)
        return fail(d, ST_MALFORMED_MAGIC, 0, "first bytes");
    r.pos += 4;
    if (reader_left(&r) < 4)
        return fail(d, ST_UNEXPECTED_END, 4, "version");
    if (memcmp(r.pos, version, 4) != 0)
        return fail(d, ST_MALFORMED_VERSION, 4, "version %u", le32_load(r.pos));
    r.pos += 4;
    status st = sections_read(d, &r);
    if (st != ST_OK)
        return st;
    size_t end = m->bytes.len;
    if (d->nfuncdefs != d->ncode)
        return fail(d, ST_FUNC_CODE_MISMATCH, end, "%u functions, %u bodies", d->nfuncdefs,
                    d->ncode);
    if (m->has_datacount && !d->has_datasec && m->datacount != 0)
        return fail(d, ST_DATA_COUNT_MISMATCH, end, "data count %u, no data section",
                    m->datacount);
    return ST_OK;
}

status engine_module_decode(const engine_config *cfg, span bytes, engine_module **out,
                            engine_error *err)
{
    engine_error scratch;
    if (!err)
        err = &scratch;
    *err = (engine_error){.st = ST_OK};
    *out = NULL;
    dec d = {.cfg = cfg, .err = err};
    if (bytes.len > cfg->max_module_size)
        return fail(&d, ST_LIMIT_EXCEEDED, 0, "module of %zu bytes > limit %zu", bytes.len,
                    cfg->max_module_size);
    engine_module *m = base_calloc(1, sizeof *m);
    if (!m)
        return oom(&d, 0);
    uint8_t *copy = base_alloc(bytes.len);
    if (!copy) {
        base_free(m);
        return oom(&d, 0);
    }
    if (bytes.len)
        memcpy(copy, bytes.ptr, bytes.len);
    m->bytes = span_of(copy, bytes.len);
    d.m = m;
    status st = module_read(&d);
    if (st != ST_OK) {
        engine_module_free(m);
        return st;
    }
    *out = m;
    return ST_OK;
}
