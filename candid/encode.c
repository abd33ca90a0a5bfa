/* encode.c - Candid binary messages written from typed values (spec "Binary Format",
 * Serialisation, "Parameters and Results").
 *
 * The type table holds exactly the composite types reachable from the argument types (names
 * followed), each once, in the order first met; recursion goes through table indices. Values
 * are written by their type: a record's items in the order of its fields, a variant by the
 * position of its tag among the fields. Not here: decoding (decode.c). */
#include <string.h>

#include "candid_int.h"

typedef struct enc {
    const candid_env *env;
    int32_t *index; /* table index of each env node, -1 if not in the table */
    candid_type *order;
    size_t norder;
    buf *out;
} enc;

/* Give t (and, through a work list, everything it reaches) a table index. */
static void reach(enc *e, candid_type t)
{
    t = candid_type_resolve(e->env, t);
    if (t < 0 || e->index[t] >= 0)
        return;
    size_t done = e->norder;
    e->index[t] = (int32_t)e->norder;
    e->order[e->norder++] = t;
    for (; done < e->norder; done++) {
        const cnode *n = env_node(e->env, e->order[done]);
        size_t nkids = n->kind == CANDID_OPT || n->kind == CANDID_VEC ? 1 : n->n + n->n2;
        for (size_t i = 0; i < nkids; i++) {
            candid_type k = candid_type_resolve(
                e->env, nkids == 1 && (n->kind == CANDID_OPT || n->kind == CANDID_VEC)
                            ? n->inner
                            : e->env->fields[n->first + i].type);
            if (k >= 0 && e->index[k] < 0) {
                e->index[k] = (int32_t)e->norder;
                e->order[e->norder++] = k;
            }
        }
    }
}

/* I(t): a primitive's opcode or the table index, as SLEB128. */
static status typeref(enc *e, candid_type t)
{
    t = candid_type_resolve(e->env, t);
    return buf_leb_s64(e->out, t < 0 ? t : e->index[t]);
}

static status table_entry(enc *e, candid_type t)
{
    const cnode *n = env_node(e->env, t);
    const candid_field *f = e->env->fields + n->first;
    TRY(buf_leb_s32(e->out, n->kind));
    switch ((candid_kind)n->kind) {
    case CANDID_OPT:
    case CANDID_VEC: return typeref(e, n->inner);
    case CANDID_RECORD:
    case CANDID_VARIANT:
        TRY(buf_leb_u32(e->out, n->n));
        for (uint32_t i = 0; i < n->n; i++) {
            TRY(buf_leb_u32(e->out, f[i].id));
            TRY(typeref(e, f[i].type));
        }
        return ST_OK;
    case CANDID_FUNC: {
        TRY(buf_leb_u32(e->out, n->n));
        for (uint32_t i = 0; i < n->n; i++)
            TRY(typeref(e, f[i].type));
        TRY(buf_leb_u32(e->out, n->n2));
        for (uint32_t i = 0; i < n->n2; i++)
            TRY(typeref(e, f[n->n + i].type));
        unsigned nann = (n->anns & 1u) + (n->anns >> 1 & 1u) + (n->anns >> 2 & 1u);
        TRY(buf_leb_u32(e->out, nann));
        if (n->anns & CANDID_ANN_QUERY)
            TRY(buf_u8(e->out, 1));
        if (n->anns & CANDID_ANN_ONEWAY)
            TRY(buf_u8(e->out, 2));
        if (n->anns & CANDID_ANN_COMPOSITE_QUERY)
            TRY(buf_u8(e->out, 3));
        return ST_OK;
    }
    case CANDID_SERVICE:
        TRY(buf_leb_u32(e->out, n->n));
        for (uint32_t i = 0; i < n->n; i++) {
            TRY(buf_leb_u64(e->out, f[i].name_len));
            TRY(buf_put(e->out, f[i].name, f[i].name_len));
            TRY(typeref(e, f[i].type));
        }
        return ST_OK;
    default: return ST_BUG_INVARIANT;
    }
}

static status bytes(buf *out, const uint8_t *p, size_t n)
{
    TRY(buf_leb_u64(out, n));
    return buf_put(out, p, n);
}

static status value(enc *e, candid_type t, const candid_value *v);

static status composite(enc *e, candid_type t, const candid_value *v)
{
    const cnode *n = env_node(e->env, t);
    const candid_field *f = e->env->fields + n->first;
    switch ((candid_kind)n->kind) {
    case CANDID_OPT:
        if (v->n > 1)
            return ST_CANDID_TYPE_MISMATCH;
        TRY(buf_u8(e->out, (uint8_t)v->n));
        return v->n ? value(e, n->inner, &v->as.items[0]) : ST_OK;
    case CANDID_VEC:
        if (v->kind == CANDID_BLOB)
            return candid_type_kind(e->env, n->inner) == CANDID_NAT8
                       ? bytes(e->out, v->as.bytes, v->n)
                       : ST_CANDID_TYPE_MISMATCH;
        TRY(buf_leb_u64(e->out, v->n));
        for (size_t i = 0; i < v->n; i++)
            TRY(value(e, n->inner, &v->as.items[i]));
        return ST_OK;
    case CANDID_RECORD:
        if (v->n != n->n)
            return ST_CANDID_TYPE_MISMATCH;
        for (size_t i = 0; i < v->n; i++) {
            if (v->as.items[i].id != f[i].id)
                return ST_CANDID_TYPE_MISMATCH;
            TRY(value(e, f[i].type, &v->as.items[i]));
        }
        return ST_OK;
    case CANDID_VARIANT:
        if (v->n != 1)
            return ST_CANDID_TYPE_MISMATCH;
        for (uint32_t i = 0; i < n->n; i++)
            if (f[i].id == v->as.items[0].id) {
                TRY(buf_leb_u32(e->out, i));
                return value(e, f[i].type, &v->as.items[0]);
            }
        return ST_CANDID_TYPE_MISMATCH;
    case CANDID_FUNC:
        if (v->n != 2)
            return ST_CANDID_TYPE_MISMATCH;
        TRY(buf_u8(e->out, 1));
        TRY(buf_u8(e->out, 1));
        TRY(bytes(e->out, v->as.items[0].as.bytes, v->as.items[0].n));
        return bytes(e->out, v->as.items[1].as.bytes, v->as.items[1].n);
    case CANDID_SERVICE: TRY(buf_u8(e->out, 1)); return bytes(e->out, v->as.bytes, v->n);
    default: return ST_CANDID_TYPE_MISMATCH;
    }
}

static status value(enc *e, candid_type t, const candid_value *v)
{
    t = candid_type_resolve(e->env, t);
    candid_kind k = candid_type_kind(e->env, t);
    bool blob = k == CANDID_VEC && v->kind == CANDID_BLOB;
    if (v->kind != k && !blob)
        return ST_CANDID_TYPE_MISMATCH;
    if (t >= 0)
        return composite(e, t, v);
    uint8_t le[8];
    switch (k) {
    case CANDID_NULL:
    case CANDID_RESERVED: return ST_OK;
    case CANDID_BOOL: return buf_u8(e->out, v->as.b ? 1 : 0);
    case CANDID_NAT:
        if (v->neg)
            return ST_CANDID_TYPE_MISMATCH;
        return num_leb_write(v, false, e->out);
    case CANDID_INT: return num_leb_write(v, true, e->out);
    case CANDID_NAT8:
    case CANDID_INT8: return buf_u8(e->out, (uint8_t)v->as.u);
    case CANDID_NAT16:
    case CANDID_INT16: le32_store(le, (uint32_t)v->as.u); return buf_put(e->out, le, 2);
    case CANDID_NAT32:
    case CANDID_INT32: le32_store(le, (uint32_t)v->as.u); return buf_put(e->out, le, 4);
    case CANDID_NAT64:
    case CANDID_INT64: le64_store(le, v->as.u); return buf_put(e->out, le, 8);
    case CANDID_FLOAT32: {
        uint32_t bits;
        memcpy(&bits, &v->as.f32, 4);
        le32_store(le, bits);
        return buf_put(e->out, le, 4);
    }
    case CANDID_FLOAT64: {
        uint64_t bits;
        memcpy(&bits, &v->as.f64, 8);
        le64_store(le, bits);
        return buf_put(e->out, le, 8);
    }
    case CANDID_TEXT: return bytes(e->out, v->as.bytes, v->n);
    case CANDID_PRINCIPAL: TRY(buf_u8(e->out, 1)); return bytes(e->out, v->as.bytes, v->n);
    default: /* empty has no values */ return ST_CANDID_TYPE_MISMATCH;
    }
}

static status encode(enc *e, const candid_type *types, size_t n, const candid_value *vals)
{
    for (size_t i = 0; i < n; i++)
        reach(e, types[i]);
    TRY(buf_put(e->out, "DIDL", 4));
    TRY(buf_leb_u64(e->out, e->norder));
    for (size_t i = 0; i < e->norder; i++)
        TRY(table_entry(e, e->order[i]));
    TRY(buf_leb_u64(e->out, n));
    for (size_t i = 0; i < n; i++)
        TRY(typeref(e, types[i]));
    for (size_t i = 0; i < n; i++)
        TRY(value(e, types[i], &vals[i]));
    return ST_OK;
}

status candid_encode(const candid_env *env, const candid_type *types, size_t n,
                     const candid_value *vals, buf *out)
{
    size_t nn = env->nnodes ? env->nnodes : 1, len0 = out->len;
    enc e = {env, base_alloc(nn * sizeof(int32_t)), base_alloc(nn * sizeof(candid_type)), 0, out};
    status st = ST_OUT_OF_MEMORY;
    if (e.index && e.order) {
        memset(e.index, 0xff, nn * sizeof(int32_t));
        st = encode(&e, types, n, vals);
    }
    base_free(e.index);
    base_free(e.order);
    if (st != ST_OK)
        out->len = len0;
    return st;
}
