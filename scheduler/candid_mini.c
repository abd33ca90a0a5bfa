/* candid_mini.c - the few Candid values the management canister reads and writes
 * (docs/canisters.md "The management canister"): a decoder of any Candid message into a flat
 * tree (records, variants, opts, vecs, principals, blobs, nats), looked up by field name, and
 * byte-level writers for the replies. Format: the Candid specification (type table, LEB128,
 * field ids = idl_hash of the name). Not a general Candid library: values it does not need
 * (func, service, floats beyond skipping) are refused or skipped. */
#include "scheduler_int.h"

#include <string.h>

enum {
    T_NULL = -1,
    T_BOOL = -2,
    T_NAT = -3,
    T_INT = -4,
    T_NAT8 = -5,
    T_NAT16 = -6,
    T_NAT32 = -7,
    T_NAT64 = -8,
    T_INT8 = -9,
    T_INT16 = -10,
    T_INT32 = -11,
    T_INT64 = -12,
    T_FLOAT32 = -13,
    T_FLOAT64 = -14,
    T_TEXT = -15,
    T_RESERVED = -16,
    T_EMPTY = -17,
    T_PRINCIPAL = -24,
    T_OPT = -18,
    T_VEC = -19,
    T_RECORD = -20,
    T_VARIANT = -21,
};

enum { MAX_TYPES = 64, MAX_FIELDS = 256, MAX_DEPTH = 16 };

typedef struct ctype {
    int32_t op;        /* T_OPT, T_VEC, T_RECORD, T_VARIANT */
    int32_t inner;     /* OPT/VEC: element type */
    uint32_t first, n; /* RECORD/VARIANT: fields [first, first + n) of the field table */
} ctype;

typedef struct cfield {
    uint32_t id;
    int32_t type;
} cfield;

typedef struct dec {
    reader r;
    ctype types[MAX_TYPES];
    uint32_t ntypes;
    cfield fields[MAX_FIELDS];
    uint32_t nfields;
    cand_value *out;
    uint32_t nout, cap;
} dec;

uint32_t cand_hash(const char *name)
{
    uint32_t h = 0;
    for (const char *p = name; *p; p++)
        h = h * 223 + (uint8_t)*p;
    return h;
}

static status sleb(reader *r, int64_t *v)
{
    return reader_s64(r, v) == ST_OK ? ST_OK : ST_BAD_ARGUMENT;
}

static status uleb(reader *r, uint64_t *v)
{
    return reader_u64(r, v) == ST_OK ? ST_OK : ST_BAD_ARGUMENT;
}

static status read_types(dec *d)
{
    uint64_t n;
    if (uleb(&d->r, &n) || n > MAX_TYPES)
        return ST_BAD_ARGUMENT;
    d->ntypes = (uint32_t)n;
    for (uint32_t i = 0; i < d->ntypes; i++) {
        int64_t op, t;
        if (sleb(&d->r, &op))
            return ST_BAD_ARGUMENT;
        ctype *ty = &d->types[i];
        ty->op = (int32_t)op;
        if (op == T_OPT || op == T_VEC) {
            if (sleb(&d->r, &t) || t >= (int64_t)d->ntypes || t < -24)
                return ST_BAD_ARGUMENT;
            ty->inner = (int32_t)t;
        } else if (op == T_RECORD || op == T_VARIANT) {
            uint64_t nf;
            if (uleb(&d->r, &nf) || nf > MAX_FIELDS - d->nfields)
                return ST_BAD_ARGUMENT;
            ty->first = d->nfields;
            ty->n = (uint32_t)nf;
            for (uint64_t k = 0; k < nf; k++) {
                uint64_t id;
                if (uleb(&d->r, &id) || id > UINT32_MAX || sleb(&d->r, &t) ||
                    t >= (int64_t)d->ntypes || t < -24)
                    return ST_BAD_ARGUMENT;
                d->fields[d->nfields++] = (cfield){(uint32_t)id, (int32_t)t};
            }
        } else {
            return ST_BAD_ARGUMENT; /* func, service, ...: not in the management interface */
        }
    }
    return ST_OK;
}

static status add(dec *d, cand_value v, uint32_t *at)
{
    if (d->nout == d->cap) {
        uint32_t cap = d->cap ? 2 * d->cap : 32;
        if (cap > 65536)
            return ST_BAD_ARGUMENT;
        cand_value *p = base_realloc(d->out, cap * sizeof *p);
        if (!p)
            return ST_OUT_OF_MEMORY;
        d->out = p;
        d->cap = cap;
    }
    d->out[d->nout] = v;
    *at = d->nout++;
    return ST_OK;
}

static status fixed(dec *d, size_t n, span *s)
{
    return reader_bytes(&d->r, n, s) == ST_OK ? ST_OK : ST_BAD_ARGUMENT;
}

/* Decodes one value of type t as node *at; children follow it in d->out. */
static status value(dec *d, int32_t t, uint32_t label, int depth, uint32_t *at)
{
    if (depth > MAX_DEPTH)
        return ST_BAD_ARGUMENT;
    cand_value v = {.type = t, .label = label};
    status st = ST_OK;
    span s;
    uint64_t n;
    if (t >= 0) {
        const ctype *ty = &d->types[t];
        v.type = ty->op;
        st = add(d, v, at);
        if (st != ST_OK)
            return st;
        uint32_t me = *at, child;
        uint8_t flag;
        switch (ty->op) {
        case T_OPT:
            if (reader_u8(&d->r, &flag) || flag > 1)
                return ST_BAD_ARGUMENT;
            if (flag) {
                st = value(d, ty->inner, 0, depth + 1, &child);
                d->out[me].count = 1;
            }
            break;
        case T_VEC:
            if (uleb(&d->r, &n) || n > reader_left(&d->r) + (ty->inner == T_NULL ? 65536 : 0))
                return ST_BAD_ARGUMENT;
            if (ty->inner == T_NAT8) { /* a blob: kept as bytes */
                d->out[me].blob = true;
                st = fixed(d, (size_t)n, &d->out[me].bytes);
                break;
            }
            for (uint64_t k = 0; st == ST_OK && k < n; k++)
                st = value(d, ty->inner, (uint32_t)k, depth + 1, &child);
            d->out[me].count = (uint32_t)n;
            break;
        case T_RECORD:
            for (uint32_t k = 0; st == ST_OK && k < ty->n; k++)
                st = value(d, d->fields[ty->first + k].type, d->fields[ty->first + k].id,
                           depth + 1, &child);
            d->out[me].count = ty->n;
            break;
        case T_VARIANT:
            if (uleb(&d->r, &n) || n >= ty->n)
                return ST_BAD_ARGUMENT;
            d->out[me].u = d->fields[ty->first + n].id; /* the chosen label */
            st = value(d, d->fields[ty->first + n].type, d->fields[ty->first + n].id, depth + 1,
                       &child);
            d->out[me].count = 1;
            break;
        }
        d->out[me].end = d->nout;
        return st;
    }
    switch (t) {
    case T_NULL:
    case T_RESERVED: break;
    case T_BOOL:
        st = fixed(d, 1, &s);
        if (st == ST_OK)
            v.u = s.ptr[0];
        break;
    case T_NAT: st = uleb(&d->r, &v.u); break;
    case T_INT: {
        int64_t x;
        st = sleb(&d->r, &x);
        v.u = (uint64_t)x;
        break;
    }
    case T_NAT8:
    case T_INT8:
        st = fixed(d, 1, &s);
        if (st == ST_OK)
            v.u = s.ptr[0];
        break;
    case T_NAT16:
    case T_INT16:
        st = fixed(d, 2, &s);
        if (st == ST_OK)
            v.u = s.ptr[0] | (uint64_t)s.ptr[1] << 8;
        break;
    case T_NAT32:
    case T_INT32:
    case T_FLOAT32:
        st = fixed(d, 4, &s);
        if (st == ST_OK)
            v.u = le32_load(s.ptr);
        break;
    case T_NAT64:
    case T_INT64:
    case T_FLOAT64:
        st = fixed(d, 8, &s);
        if (st == ST_OK)
            v.u = le64_load(s.ptr);
        break;
    case T_TEXT:
        st = uleb(&d->r, &n);
        if (st == ST_OK)
            st = fixed(d, (size_t)n, &v.bytes);
        if (st == ST_OK && !span_is_utf8(v.bytes))
            st = ST_BAD_ARGUMENT;
        break;
    case T_PRINCIPAL: {
        uint8_t flag;
        if (reader_u8(&d->r, &flag) || flag != 1 || uleb(&d->r, &n) || n > PRINCIPAL_MAX)
            return ST_BAD_ARGUMENT;
        st = fixed(d, (size_t)n, &v.bytes);
        break;
    }
    default: return ST_BAD_ARGUMENT; /* empty has no values */
    }
    if (st != ST_OK)
        return st;
    st = add(d, v, at);
    if (st == ST_OK)
        d->out[*at].end = d->nout;
    return st;
}

status cand_decode(span msg, cand_value **out, uint32_t *n)
{
    *out = NULL;
    *n = 0;
    dec *d = base_calloc(1, sizeof *d);
    if (!d)
        return ST_OUT_OF_MEMORY;
    d->r = reader_of(msg);
    span magic;
    status st = fixed(d, 4, &magic);
    if (st == ST_OK && memcmp(magic.ptr, "DIDL", 4) != 0)
        st = ST_BAD_ARGUMENT;
    if (st == ST_OK)
        st = read_types(d);
    uint64_t nargs = 0;
    int32_t args[8];
    if (st == ST_OK && (uleb(&d->r, &nargs) || nargs > 8))
        st = ST_BAD_ARGUMENT;
    for (uint64_t i = 0; st == ST_OK && i < nargs; i++) {
        int64_t t;
        if (sleb(&d->r, &t) || t >= (int64_t)d->ntypes || t < -24)
            st = ST_BAD_ARGUMENT;
        args[i] = (int32_t)t;
    }
    /* the arguments as the children of one root node (an argument list is a tuple) */
    uint32_t root, child;
    if (st == ST_OK)
        st = add(d, (cand_value){.type = T_RECORD, .count = (uint32_t)nargs}, &root);
    for (uint64_t i = 0; st == ST_OK && i < nargs; i++)
        st = value(d, args[i], (uint32_t)i, 0, &child);
    if (st == ST_OK && reader_left(&d->r) != 0)
        st = ST_BAD_ARGUMENT;
    if (st == ST_OK) {
        d->out[root].end = d->nout;
        *out = d->out;
        *n = d->nout;
    } else {
        base_free(d->out);
    }
    base_free(d);
    return st;
}

const cand_value *cand_child(const cand_value *v, uint32_t nv, uint32_t at, uint32_t label)
{
    if (at >= nv)
        return NULL;
    for (uint32_t i = at + 1; i < v[at].end; i = v[i].end)
        if (v[i].label == label)
            return &v[i];
    return NULL;
}

const cand_value *cand_field(const cand_value *v, uint32_t nv, const cand_value *rec,
                             const char *name)
{
    if (!rec || rec->type != T_RECORD)
        return NULL;
    return cand_child(v, nv, (uint32_t)(rec - v), cand_hash(name));
}

const cand_value *cand_opt(const cand_value *v, uint32_t nv, const cand_value *o)
{
    if (!o || o->type != T_OPT || o->count == 0)
        return NULL;
    uint32_t at = (uint32_t)(o - v) + 1;
    return at < nv ? &v[at] : NULL;
}

bool cand_principal(const cand_value *x, span *out)
{
    if (!x || x->type != T_PRINCIPAL)
        return false;
    *out = x->bytes;
    return true;
}

bool cand_blob(const cand_value *x, span *out)
{
    if (!x || x->type != T_VEC || !x->blob)
        return false;
    *out = x->bytes;
    return true;
}

bool cand_nat(const cand_value *x, uint64_t *out)
{
    if (!x || (x->type != T_NAT && x->type != T_NAT64 && x->type != T_NAT32 &&
               x->type != T_NAT16 && x->type != T_NAT8))
        return false;
    *out = x->u;
    return true;
}

const cand_value *cand_next(const cand_value *v, uint32_t nv, const cand_value *parent,
                            const cand_value *prev)
{
    uint32_t at = prev ? prev->end : (uint32_t)(parent - v) + 1;
    return at < parent->end && at < nv ? &v[at] : NULL;
}

/* ---- writing ------------------------------------------------------------------------------- */

status cand_leb(buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        t[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    return buf_put(b, t, n);
}

status cand_leb128(buf *b, u128 v)
{
    uint8_t t[19];
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        t[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    return buf_put(b, t, n);
}
