/* decode.c - Candid binary messages read at an expected type (spec "Binary Format",
 * "Deserialisation", "Coercion").
 *
 * The message's type table becomes a private environment (the wire types); each value is read
 * at its wire type and coerced to the expected type in one pass. A coercion failure
 * (ST_CANDID_TYPE_MISMATCH) under an `opt` rewinds to the value's start, skips it (still
 * checking it is well formed) and reads as null; every other failure ends decoding. Every
 * value read or skipped costs 1 against a quota linear in the message size, and nesting is
 * bounded, so no message costs more than linear time and memory (spec: "self-meter").
 * Not here: encoding (encode.c), the subtype relation (subtype.c). */
#include <string.h>

#include "candid_int.h"

typedef struct dec {
    const uint8_t *start, *p, *end;
    candid_env *wire;
    const candid_env *exp;
    candid_arena *a;
    subcheck *sc;
    uint64_t cost;
    uint32_t max_depth;
    candid_error *err;
} dec;

static status fail(dec *d, status st, const char *what)
{
    if (d->err) {
        d->err->offset = (size_t)(d->p - d->start);
        d->err->what = what;
    }
    return st;
}

static size_t left(const dec *d)
{
    return (size_t)(d->end - d->p);
}

/* An unsigned LEB128 number of any length (overlong encodings are allowed), at most 2^64-1. */
static status leb_u64(dec *d, uint64_t *out)
{
    uint64_t x = 0;
    for (size_t shift = 0;; shift += 7) {
        if (d->p == d->end)
            return fail(d, ST_CANDID_TRUNCATED, "number runs past the end");
        uint64_t g = *d->p & 0x7fu;
        if (shift < 64 && (shift <= 57 || (g >> (64 - shift)) == 0))
            x |= g << shift;
        else if (g != 0)
            return fail(d, ST_CANDID_BAD_VALUE, "number above 2^64-1");
        if (!(*d->p++ & 0x80))
            break;
    }
    *out = x;
    return ST_OK;
}

/* A count of things that each take at least `each` bytes of what is left. */
static status count(dec *d, size_t each, uint64_t *n)
{
    TRY(leb_u64(d, n));
    if (*n > left(d) / each)
        return fail(d, ST_CANDID_TRUNCATED, "count larger than the rest of the message");
    return ST_OK;
}

/* A type reference of the table: an index below ntypes or a primitive opcode. */
static status typeref(dec *d, size_t ntypes, candid_type *out)
{
    int64_t x = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (d->p == d->end)
            return fail(d, ST_CANDID_TRUNCATED, "type runs past the end");
        if (shift > 35)
            return fail(d, ST_CANDID_BAD_TYPE, "type index too large");
        b = *d->p++;
        x |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (b & 0x40)
        x -= (int64_t)1 << shift;
    if (x >= 0 ? (uint64_t)x >= ntypes : !candid_kind_is_primitive(x))
        return fail(d, ST_CANDID_BAD_TYPE,
                    x >= 0 ? "type index out of range" : "not a primitive type or index");
    *out = (candid_type)x;
    return ST_OK;
}

static status fields_entry(dec *d, cnode *n, size_t ntypes)
{
    uint64_t cnt;
    TRY(count(d, 2, &cnt));
    uint32_t first = env_fields_add(d->wire, (size_t)cnt);
    if (first == UINT32_MAX)
        return ST_OUT_OF_MEMORY;
    n->first = first;
    n->n = (uint32_t)cnt;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t id;
        TRY(leb_u64(d, &id));
        if (id > UINT32_MAX)
            return fail(d, ST_CANDID_BAD_TYPE, "field id above 2^32-1");
        if (i > 0 && id <= d->wire->fields[first + i - 1].id)
            return fail(d, ST_CANDID_BAD_TYPE, "field ids not strictly increasing");
        candid_field *f = &d->wire->fields[first + i];
        f->id = (uint32_t)id;
        TRY(typeref(d, ntypes, &f->type));
    }
    return ST_OK;
}

static status func_entry(dec *d, candid_type t, size_t ntypes)
{
    uint64_t na, nr, nann;
    TRY(count(d, 1, &na));
    uint32_t first = env_fields_add(d->wire, (size_t)na);
    if (first == UINT32_MAX)
        return ST_OUT_OF_MEMORY;
    for (uint64_t i = 0; i < na; i++)
        TRY(typeref(d, ntypes, &d->wire->fields[first + i].type));
    TRY(count(d, 1, &nr));
    if (env_fields_add(d->wire, (size_t)nr) == UINT32_MAX)
        return ST_OUT_OF_MEMORY;
    for (uint64_t i = 0; i < nr; i++)
        TRY(typeref(d, ntypes, &d->wire->fields[first + na + i].type));
    cnode *n = &d->wire->nodes[t];
    n->first = first;
    n->n = (uint32_t)na;
    n->n2 = (uint32_t)nr;
    TRY(count(d, 1, &nann));
    for (uint64_t i = 0; i < nann; i++) {
        uint8_t ann = *d->p;
        if (ann < 1 || ann > 3)
            return fail(d, ST_CANDID_BAD_TYPE, "unknown function annotation");
        d->p++;
        n->anns |= (uint8_t)(ann == 3 ? CANDID_ANN_COMPOSITE_QUERY : ann);
    }
    return ST_OK;
}

static status service_entry(dec *d, candid_type t, size_t ntypes)
{
    uint64_t cnt;
    TRY(count(d, 2, &cnt));
    uint32_t first = env_fields_add(d->wire, (size_t)cnt);
    if (first == UINT32_MAX)
        return ST_OUT_OF_MEMORY;
    d->wire->nodes[t].first = first;
    d->wire->nodes[t].n = (uint32_t)cnt;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t len;
        TRY(count(d, 1, &len));
        candid_field *f = &d->wire->fields[first + i];
        f->name_len = (size_t)len;
        if (!span_is_utf8(span_of(d->p, f->name_len)))
            return fail(d, ST_CANDID_BAD_TYPE, "method name is not UTF-8");
        f->name = env_name_add(d->wire, (const char *)d->p, f->name_len);
        if (!f->name)
            return ST_OUT_OF_MEMORY;
        if (i > 0) {
            const candid_field *g = f - 1;
            size_t m = g->name_len < f->name_len ? g->name_len : f->name_len;
            int c = m ? memcmp(g->name, f->name, m) : 0;
            if (c > 0 || (c == 0 && g->name_len >= f->name_len))
                return fail(d, ST_CANDID_BAD_TYPE, "method names not strictly increasing");
        }
        d->p += len;
        f->id = candid_name_hash(f->name, f->name_len);
        TRY(typeref(d, ntypes, &f->type));
    }
    return ST_OK;
}

/* The type table: T*(<comptype>*). */
static status type_table(dec *d)
{
    uint64_t ntypes;
    TRY(count(d, 1, &ntypes));
    for (uint64_t i = 0; i < ntypes; i++)
        if (env_node_add(d->wire, 0) < 0)
            return ST_OUT_OF_MEMORY;
    size_t nt = (size_t)ntypes;
    for (size_t i = 0; i < nt; i++) {
        int64_t op = 0;
        const uint8_t *at = d->p;
        /* the opcode is read like a reference, but any negative number is allowed */
        uint64_t raw;
        TRY(leb_u64(d, &raw));
        size_t nbytes = (size_t)(d->p - at);
        if (nbytes <= 9) /* sign-extend the 7 * nbytes bits read */
            op = (int64_t)(raw | ((at[nbytes - 1] & 0x40) ? ~0ull << (7 * nbytes) : 0));
        cnode *n = &d->wire->nodes[i];
        if (op == CANDID_OPT || op == CANDID_VEC) {
            n->kind = (int8_t)op;
            TRY(typeref(d, nt, &n->inner));
        } else if (op == CANDID_RECORD || op == CANDID_VARIANT) {
            n->kind = (int8_t)op;
            TRY(fields_entry(d, n, nt));
        } else if (op == CANDID_FUNC) {
            n->kind = (int8_t)op;
            TRY(func_entry(d, (candid_type)i, nt));
        } else if (op == CANDID_SERVICE) {
            n->kind = (int8_t)op;
            TRY(service_entry(d, (candid_type)i, nt));
        } else if (op < CANDID_PRINCIPAL) { /* a future type: skipped by its length */
            uint64_t len;
            n->kind = CANDID_FUTURE;
            TRY(count(d, 1, &len));
            d->p += len;
        } else {
            d->p = at;
            return fail(d, ST_CANDID_BAD_TYPE,
                        op >= 0 ? "type table entry is not a type"
                                : "primitive type in the type table");
        }
    }
    /* methods must be funcs; checked once every entry is known */
    for (size_t i = 0; i < nt; i++) {
        const cnode *n = &d->wire->nodes[i];
        if (n->kind != CANDID_SERVICE)
            continue;
        for (uint32_t j = 0; j < n->n; j++) {
            candid_type m = d->wire->fields[n->first + j].type;
            if (m < 0 || d->wire->nodes[m].kind != CANDID_FUNC)
                return fail(d, ST_CANDID_BAD_TYPE, "service method is not a func type");
        }
    }
    return ST_OK;
}

/* ---- values ------------------------------------------------------------------------------ */

static status charge(dec *d, uint32_t depth)
{
    if (depth > d->max_depth)
        return fail(d, ST_CANDID_LIMIT, "values nested too deeply");
    if (d->cost == 0)
        return fail(d, ST_CANDID_LIMIT, "decoding cost quota exhausted");
    d->cost--;
    return ST_OK;
}

static status bytes(dec *d, size_t n, const uint8_t **out)
{
    if (n > left(d))
        return fail(d, ST_CANDID_TRUNCATED, "value runs past the end");
    *out = d->p;
    d->p += n;
    return ST_OK;
}

/* v holds a copy of p[0..n) in the arena. */
static status own(dec *d, const uint8_t *p, size_t n, candid_value *v)
{
    uint8_t *q = arena_alloc(d->a, n);
    if (!q)
        return ST_OUT_OF_MEMORY;
    memcpy(q, p, n);
    v->as.bytes = q;
    v->n = n;
    return ST_OK;
}

static status text(dec *d, candid_value *v)
{
    uint64_t len;
    const uint8_t *p;
    TRY(leb_u64(d, &len));
    if (len > left(d))
        return fail(d, ST_CANDID_TRUNCATED, "text runs past the end");
    TRY(bytes(d, (size_t)len, &p));
    if (!span_is_utf8(span_of(p, (size_t)len))) {
        d->p = p;
        return fail(d, ST_CANDID_BAD_VALUE, "text is not UTF-8");
    }
    return v ? own(d, p, (size_t)len, v) : ST_OK;
}

/* A principal or service reference: i8(1) M(bytes : vec nat8). */
static status reference(dec *d, candid_value *v)
{
    if (left(d) == 0)
        return fail(d, ST_CANDID_TRUNCATED, "reference runs past the end");
    if (*d->p != 1)
        return fail(d, ST_CANDID_BAD_VALUE,
                    *d->p == 0 ? "opaque references are not supported"
                               : "reference tag is not 0 or 1");
    d->p++;
    uint64_t len;
    const uint8_t *p;
    TRY(leb_u64(d, &len));
    if (len > left(d))
        return fail(d, ST_CANDID_TRUNCATED, "principal runs past the end");
    if (len > 29)
        return fail(d, ST_CANDID_BAD_VALUE, "principal longer than 29 bytes");
    TRY(bytes(d, (size_t)len, &p));
    return v ? own(d, p, (size_t)len, v) : ST_OK;
}

static status func_value(dec *d, candid_value *v)
{
    if (left(d) == 0)
        return fail(d, ST_CANDID_TRUNCATED, "func runs past the end");
    if (*d->p != 1)
        return fail(d, ST_CANDID_BAD_VALUE, "func reference tag is not 1");
    d->p++;
    candid_value *items = v ? func_items(d->a, v) : NULL;
    if (v && !items)
        return ST_OUT_OF_MEMORY;
    TRY(reference(d, items));
    return text(d, items ? &items[1] : NULL);
}

static int fixed_size(candid_kind k)
{
    switch (k) {
    case CANDID_NAT8:
    case CANDID_INT8: return 1;
    case CANDID_NAT16:
    case CANDID_INT16: return 2;
    case CANDID_NAT32:
    case CANDID_INT32:
    case CANDID_FLOAT32: return 4;
    case CANDID_NAT64:
    case CANDID_INT64:
    case CANDID_FLOAT64: return 8;
    default: return 0;
    }
}

static status skip(dec *d, candid_type w, uint32_t depth);

static status skip_composite(dec *d, const cnode *n, uint32_t depth)
{
    const candid_field *f = d->wire->fields + n->first;
    uint64_t cnt;
    switch ((candid_kind)n->kind) {
    case CANDID_OPT:
        if (left(d) == 0)
            return fail(d, ST_CANDID_TRUNCATED, "opt runs past the end");
        if (*d->p > 1)
            return fail(d, ST_CANDID_BAD_VALUE, "opt tag is not 0 or 1");
        return *d->p++ ? skip(d, n->inner, depth + 1) : ST_OK;
    case CANDID_VEC: {
        TRY(leb_u64(d, &cnt));
        int size = n->inner < 0 ? fixed_size((candid_kind)n->inner) : 0;
        if (size > 0) {
            const uint8_t *p;
            if (cnt > left(d) / (unsigned)size)
                return fail(d, ST_CANDID_TRUNCATED, "vector runs past the end");
            return bytes(d, (size_t)cnt * (unsigned)size, &p);
        }
        if (cnt > d->cost)
            return fail(d, ST_CANDID_LIMIT, "vector longer than the decoding quota");
        for (uint64_t i = 0; i < cnt; i++)
            TRY(skip(d, n->inner, depth + 1));
        return ST_OK;
    }
    case CANDID_RECORD:
        for (uint32_t i = 0; i < n->n; i++)
            TRY(skip(d, f[i].type, depth + 1));
        return ST_OK;
    case CANDID_VARIANT:
        TRY(leb_u64(d, &cnt));
        if (cnt >= n->n)
            return fail(d, ST_CANDID_BAD_VALUE, "variant index out of range");
        return skip(d, f[cnt].type, depth + 1);
    case CANDID_FUNC: return func_value(d, NULL);
    case CANDID_SERVICE: return reference(d, NULL);
    default: { /* future: M is m bytes after the counts m and n */
        uint64_t m, nrefs;
        const uint8_t *p;
        TRY(leb_u64(d, &m));
        TRY(leb_u64(d, &nrefs));
        if (m > left(d))
            return fail(d, ST_CANDID_TRUNCATED, "future value runs past the end");
        return bytes(d, (size_t)m, &p);
    }
    }
}

/* Read a value of wire type w and drop it (still checking it is well formed). */
static status skip(dec *d, candid_type w, uint32_t depth)
{
    TRY(charge(d, depth));
    if (w >= 0)
        return skip_composite(d, &d->wire->nodes[w], depth);
    const uint8_t *p;
    switch ((candid_kind)w) {
    case CANDID_NULL:
    case CANDID_RESERVED: return ST_OK;
    case CANDID_BOOL:
        if (left(d) == 0)
            return fail(d, ST_CANDID_TRUNCATED, "bool runs past the end");
        if (*d->p > 1)
            return fail(d, ST_CANDID_BAD_VALUE, "bool is not 0 or 1");
        d->p++;
        return ST_OK;
    case CANDID_NAT:
    case CANDID_INT:
        while (d->p < d->end && (*d->p & 0x80))
            d->p++;
        if (d->p == d->end)
            return fail(d, ST_CANDID_TRUNCATED, "number runs past the end");
        d->p++;
        return ST_OK;
    case CANDID_TEXT: return text(d, NULL);
    case CANDID_PRINCIPAL: return reference(d, NULL);
    case CANDID_EMPTY: return fail(d, ST_CANDID_BAD_VALUE, "a value of type empty");
    default: return bytes(d, (size_t)fixed_size((candid_kind)w), &p);
    }
}

static status coerce(dec *d, candid_type w, candid_type e, candid_value *v, uint32_t depth);

static status mismatch(dec *d, const char *what)
{
    return fail(d, ST_CANDID_TYPE_MISMATCH, what);
}

/* Under opt: the value coerces to the inner type, or (on a coercion failure) reads as null. */
static status try_opt(dec *d, candid_type w, candid_type inner, candid_value *v, uint32_t depth)
{
    const uint8_t *at = d->p;
    candid_value *item = arena_alloc(d->a, sizeof *item);
    if (!item)
        return ST_OUT_OF_MEMORY;
    status st = coerce(d, w, inner, item, depth + 1);
    if (st == ST_OK) {
        v->n = 1;
        v->as.items = item;
    } else if (st == ST_CANDID_TYPE_MISMATCH) {
        d->p = at;
        v->n = 0;
        st = skip(d, w, depth + 1);
    }
    return st;
}

static status coerce_opt(dec *d, candid_type w, candid_type inner, candid_value *v, uint32_t depth)
{
    candid_kind wk = w < 0 ? (candid_kind)w : (candid_kind)d->wire->nodes[w].kind;
    v->n = 0;
    switch (wk) {
    case CANDID_NULL:
    case CANDID_RESERVED: return ST_OK;
    case CANDID_EMPTY: return fail(d, ST_CANDID_BAD_VALUE, "a value of type empty");
    case CANDID_OPT:
        if (left(d) == 0)
            return fail(d, ST_CANDID_TRUNCATED, "opt runs past the end");
        if (*d->p > 1)
            return fail(d, ST_CANDID_BAD_VALUE, "opt tag is not 0 or 1");
        return *d->p++ ? try_opt(d, d->wire->nodes[w].inner, inner, v, depth) : ST_OK;
    default: /* not (null <: t): read as opt v if it coerces */
        return try_opt(d, w, inner, v, depth);
    }
}

static status coerce_vec(dec *d, candid_type w, candid_type e, candid_value *v, uint32_t depth)
{
    candid_type we = d->wire->nodes[w].inner, ee = candid_type_inner(d->exp, e);
    uint64_t cnt;
    TRY(leb_u64(d, &cnt));
    if (we == CANDID_NAT8 && candid_type_kind(d->exp, ee) == CANDID_NAT8) {
        const uint8_t *p;
        if (cnt > left(d))
            return fail(d, ST_CANDID_TRUNCATED, "blob runs past the end");
        TRY(bytes(d, (size_t)cnt, &p));
        v->kind = CANDID_BLOB;
        return own(d, p, (size_t)cnt, v);
    }
    if (cnt > d->cost)
        return fail(d, ST_CANDID_LIMIT, "vector longer than the decoding quota");
    candid_value *items = arena_alloc(d->a, (size_t)cnt * sizeof *items);
    if (!items)
        return ST_OUT_OF_MEMORY;
    for (uint64_t i = 0; i < cnt; i++)
        TRY(coerce(d, we, ee, &items[i], depth + 1));
    v->as.items = items;
    v->n = (size_t)cnt;
    return ST_OK;
}

/* The value of a missing field or argument of a null, opt or reserved type. */
static status absent(const candid_env *env, candid_type t, candid_value *v)
{
    candid_kind k = candid_type_kind(env, t);
    if (k != CANDID_NULL && k != CANDID_OPT && k != CANDID_RESERVED)
        return ST_CANDID_TYPE_MISMATCH;
    v->kind = (int8_t)k;
    v->n = 0;
    return ST_OK;
}

static status coerce_record(dec *d, candid_type w, candid_type e, candid_value *v, uint32_t depth)
{
    const cnode *wn = &d->wire->nodes[w];
    const candid_field *fw = d->wire->fields + wn->first;
    size_t ne;
    const candid_field *fe = candid_type_fields(d->exp, e, &ne);
    candid_value *items = arena_alloc(d->a, ne * sizeof *items + ne);
    if (!items)
        return ST_OUT_OF_MEMORY;
    uint8_t *filled = (uint8_t *)(items + ne);
    size_t j = 0;
    for (uint32_t i = 0; i < wn->n; i++) {
        while (j < ne && fe[j].id < fw[i].id)
            j++;
        if (j < ne && fe[j].id == fw[i].id) {
            TRY(coerce(d, fw[i].type, fe[j].type, &items[j], depth + 1));
            filled[j] = 1;
        } else {
            TRY(skip(d, fw[i].type, depth + 1));
        }
    }
    for (j = 0; j < ne; j++) {
        if (!filled[j] && absent(d->exp, fe[j].type, &items[j]) != ST_OK)
            return mismatch(d, "record field missing and not optional");
        items[j].id = fe[j].id;
    }
    v->as.items = items;
    v->n = ne;
    return ST_OK;
}

static status coerce_variant(dec *d, candid_type w, candid_type e, candid_value *v, uint32_t depth)
{
    const cnode *wn = &d->wire->nodes[w];
    uint64_t idx;
    TRY(leb_u64(d, &idx));
    if (idx >= wn->n)
        return fail(d, ST_CANDID_BAD_VALUE, "variant index out of range");
    const candid_field *fw = &d->wire->fields[wn->first + idx];
    size_t ne;
    const candid_field *fe = candid_type_fields(d->exp, e, &ne);
    size_t j = 0;
    while (j < ne && fe[j].id != fw->id)
        j++;
    if (j == ne)
        return mismatch(d, "variant tag not in the expected type");
    candid_value *item = arena_alloc(d->a, sizeof *item);
    if (!item)
        return ST_OUT_OF_MEMORY;
    TRY(coerce(d, fw->type, fe[j].type, item, depth + 1));
    item->id = fw->id;
    v->as.items = item;
    v->n = 1;
    return ST_OK;
}

static status reference_subtype(dec *d, candid_type w, candid_type e, uint32_t depth)
{
    bool yes;
    status st = subcheck_run(d->sc, d->wire, w, d->exp, e, d->max_depth - depth, &d->cost, &yes);
    if (st != ST_OK)
        return fail(d, st, "subtype check exceeded the decoding limits");
    return yes ? ST_OK : mismatch(d, "reference type is not a subtype of the expected type");
}

static status coerce_fixed(dec *d, candid_kind k, candid_value *v)
{
    const uint8_t *p;
    TRY(bytes(d, (size_t)fixed_size(k), &p));
    switch (k) {
    case CANDID_NAT8: v->as.u = p[0]; break;
    case CANDID_NAT16: v->as.u = (uint64_t)p[0] | (uint64_t)p[1] << 8; break;
    case CANDID_NAT32: v->as.u = le32_load(p); break;
    case CANDID_NAT64: v->as.u = le64_load(p); break;
    case CANDID_INT8: v->as.i = (int8_t)p[0]; break;
    case CANDID_INT16: v->as.i = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case CANDID_INT32: v->as.i = (int32_t)le32_load(p); break;
    case CANDID_INT64: v->as.i = (int64_t)le64_load(p); break;
    case CANDID_FLOAT32: {
        uint32_t bits = le32_load(p);
        memcpy(&v->as.f32, &bits, 4);
        break;
    }
    default: {
        uint64_t bits = le64_load(p);
        memcpy(&v->as.f64, &bits, 8);
        break;
    }
    }
    return ST_OK;
}

/* Read a value of wire type w as a value of expected type e (spec "Coercion"). */
static status coerce(dec *d, candid_type w, candid_type e, candid_value *v, uint32_t depth)
{
    TRY(charge(d, depth));
    e = candid_type_resolve(d->exp, e);
    candid_kind ek = candid_type_kind(d->exp, e);
    candid_kind wk = w < 0 ? (candid_kind)w : (candid_kind)d->wire->nodes[w].kind;
    v->kind = (int8_t)ek;
    if (ek == CANDID_RESERVED || ek == CANDID_FUTURE) { /* future: a message's own type */
        v->kind = CANDID_RESERVED;
        return skip(d, w, depth);
    }
    if (ek == CANDID_OPT)
        return coerce_opt(d, w, candid_type_inner(d->exp, e), v, depth);
    if (wk == CANDID_EMPTY)
        return fail(d, ST_CANDID_BAD_VALUE, "a value of type empty");
    bool same = wk == ek;
    status st;
    switch (ek) {
    case CANDID_NULL: return same ? ST_OK : mismatch(d, "expected null");
    case CANDID_BOOL:
        if (!same)
            return mismatch(d, "expected bool");
        if (left(d) == 0)
            return fail(d, ST_CANDID_TRUNCATED, "bool runs past the end");
        if (*d->p > 1)
            return fail(d, ST_CANDID_BAD_VALUE, "bool is not 0 or 1");
        v->as.b = *d->p++ == 1;
        return ST_OK;
    case CANDID_NAT:
    case CANDID_INT:
        if (!same && !(ek == CANDID_INT && wk == CANDID_NAT))
            return mismatch(d, ek == CANDID_NAT ? "expected nat" : "expected int");
        st = num_leb_read(d->a, &d->p, d->end, wk == CANDID_INT, v);
        return st == ST_OK ? st : fail(d, st, "number runs past the end");
    case CANDID_TEXT: return same ? text(d, v) : mismatch(d, "expected text");
    case CANDID_PRINCIPAL:
        return same || wk == CANDID_SERVICE ? reference(d, v) : mismatch(d, "expected principal");
    case CANDID_EMPTY: return mismatch(d, "expected empty: no value has this type");
    case CANDID_VEC: return same ? coerce_vec(d, w, e, v, depth) : mismatch(d, "expected vec");
    case CANDID_RECORD:
        return same ? coerce_record(d, w, e, v, depth) : mismatch(d, "expected record");
    case CANDID_VARIANT:
        return same ? coerce_variant(d, w, e, v, depth) : mismatch(d, "expected variant");
    case CANDID_FUNC:
        if (!same)
            return mismatch(d, "expected func");
        TRY(reference_subtype(d, w, e, depth));
        return func_value(d, v);
    case CANDID_SERVICE:
        if (!same)
            return mismatch(d, "expected service");
        TRY(reference_subtype(d, w, e, depth));
        return reference(d, v);
    default:
        if (!same || fixed_size(ek) == 0)
            return mismatch(d, "number or float of another type");
        return coerce_fixed(d, ek, v);
    }
}

/* The magic, the type table and the argument types (in arena a). */
static status header(dec *d, candid_type **args, size_t *nargs)
{
    if (left(d) < 4 || memcmp(d->p, "DIDL", 4) != 0)
        return fail(d, ST_CANDID_MAGIC, "message does not start with DIDL");
    d->p += 4;
    TRY(type_table(d));
    uint64_t na;
    TRY(count(d, 1, &na));
    *args = arena_alloc(d->a, ((size_t)na + 1) * sizeof **args);
    if (!*args)
        return ST_OUT_OF_MEMORY;
    *nargs = (size_t)na;
    for (size_t i = 0; i < *nargs; i++)
        TRY(typeref(d, d->wire->nnodes, &(*args)[i]));
    return ST_OK;
}

static status decode_args(dec *d, const candid_type *types, size_t n, candid_value *vals)
{
    candid_type *args;
    size_t nargs;
    TRY(header(d, &args, &nargs));
    for (size_t i = 0; i < nargs; i++)
        TRY(i < n ? coerce(d, args[i], types[i], &vals[i], 0) : skip(d, args[i], 0));
    for (size_t i = nargs; i < n; i++)
        if (absent(d->exp, types[i], &vals[i]) != ST_OK)
            return mismatch(d, "argument missing and not optional");
    if (d->p != d->end)
        return fail(d, ST_CANDID_TRAILING, "bytes after the last value");
    return ST_OK;
}

static dec dec_start(candid_arena *a, const candid_env *env, span msg, const candid_limits *lim,
                     candid_error *err)
{
    candid_limits def;
    if (!lim) {
        candid_limits_default(&def);
        lim = &def;
    }
    const uint8_t *start = msg.len ? msg.ptr : (const uint8_t *)"";
    dec d = {start, start,          start + msg.len, candid_env_new(), env,
             a,     subcheck_new(), lim->cost_base,  lim->max_depth,   err};
    uint64_t per = lim->cost_per_byte;
    d.cost += per && msg.len > (UINT64_MAX - d.cost) / per ? UINT64_MAX - d.cost : per * msg.len;
    return d;
}

static status dec_end(dec *d, status st)
{
    subcheck_free(d->sc);
    if (st == ST_OUT_OF_MEMORY)
        fail(d, st, "out of memory");
    return st;
}

status candid_decode(candid_arena *a, const candid_env *env, const candid_type *types, size_t n,
                     span msg, const candid_limits *lim, candid_value **vals, candid_error *err)
{
    dec d = dec_start(a, env, msg, lim, err);
    candid_value *out = arena_alloc(a, (n ? n : 1) * sizeof *out);
    status st = ST_OUT_OF_MEMORY;
    if (d.wire && d.sc && out)
        st = decode_args(&d, types, n, out);
    candid_env_free(d.wire);
    st = dec_end(&d, st);
    if (st == ST_OK)
        *vals = out;
    return st;
}

status candid_decode_any(candid_arena *a, span msg, const candid_limits *lim, candid_env **env,
                         candid_type **types, size_t *n, candid_value **vals, candid_error *err)
{
    dec d = dec_start(a, NULL, msg, lim, err);
    d.exp = d.wire;
    candid_type *args = NULL;
    size_t nargs = 0;
    candid_value *out = NULL;
    status st = ST_OUT_OF_MEMORY;
    if (d.wire && d.sc)
        st = header(&d, &args, &nargs);
    if (st == ST_OK && !(out = arena_alloc(a, (nargs + 1) * sizeof *out)))
        st = ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < nargs && st == ST_OK; i++)
        st = coerce(&d, args[i], args[i], &out[i], 0);
    if (st == ST_OK && d.p != d.end)
        st = fail(&d, ST_CANDID_TRAILING, "bytes after the last value");
    st = dec_end(&d, st);
    if (st != ST_OK) {
        candid_env_free(d.wire);
        return st;
    }
    *env = d.wire;
    *types = args;
    *n = nargs;
    *vals = out;
    return ST_OK;
}
