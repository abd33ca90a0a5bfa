/* env.c - type environments, arenas, value helpers and the textual form of principals.
 *
 * Types: docs/candid.md "Types" (spec "Type Structure"); principals: the IC interface
 * specification's textual representation (CRC-32 and base32). Not here: decoding (binary.c),
 * subtyping (subtype.c), text (lex.c, text.c, did.c). */
#include <stdlib.h>
#include <string.h>

#include "candid_int.h"

/* ---- arena: chunks of bump-allocated memory ------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) uint8_t data[];
} chunk;

struct candid_arena {
    chunk *head;
    size_t next_cap;
};

enum { ARENA_FIRST = 4096, ARENA_MAX_CHUNK = 1u << 24 };

candid_arena *candid_arena_new(void)
{
    candid_arena *a = base_calloc(1, sizeof *a);
    if (a)
        a->next_cap = ARENA_FIRST;
    return a;
}

void candid_arena_free(candid_arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head; c;) {
        chunk *next = c->next;
        base_free(c);
        c = next;
    }
    base_free(a);
}

void *arena_alloc(candid_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = a->next_cap;
        if (cap < n)
            cap = n;
        if (n > SIZE_MAX / 2)
            return NULL;
        c = base_alloc(sizeof(chunk) + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        /* big requests get a chunk of their own; keep filling the current one after it */
        if (a->head && cap == n) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
            if (a->next_cap < ARENA_MAX_CHUNK)
                a->next_cap *= 2;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

status candid_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return ST_OK;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem)
        return ST_OUT_OF_MEMORY;
    void *q = base_realloc(*p, n * elem);
    if (!q)
        return ST_OUT_OF_MEMORY;
    *p = q;
    *cap = n;
    return ST_OK;
}

candid_value *func_items(candid_arena *a, candid_value *v)
{
    candid_value *items = arena_alloc(a, 2 * sizeof *items);
    if (items) {
        items[0].kind = CANDID_PRINCIPAL;
        items[1].kind = CANDID_TEXT;
        v->as.items = items;
        v->n = 2;
    }
    return items;
}

/* ---- environments ------------------------------------------------------------------------- */

candid_env *candid_env_new(void)
{
    candid_env *env = base_calloc(1, sizeof *env);
    if (!env)
        return NULL;
    /* never NULL, so that `fields + first` is always defined (UBSan) */
    env->strs = candid_arena_new();
    env->fields = base_calloc(16, sizeof *env->fields);
    env->nodes = base_calloc(16, sizeof *env->nodes);
    if (!env->strs || !env->fields || !env->nodes) {
        candid_env_free(env);
        return NULL;
    }
    env->capfields = env->capnodes = 16;
    return env;
}

void candid_env_free(candid_env *env)
{
    if (!env)
        return;
    base_free(env->nodes);
    base_free(env->fields);
    candid_arena_free(env->strs);
    base_free(env);
}

env_mark env_mark_get(const candid_env *env)
{
    return (env_mark){env->nnodes, env->nfields,     env->service,
                      env->init,   env->has_service, env->has_init};
}

void env_rollback(candid_env *env, env_mark m)
{
    env->nnodes = m.nnodes;
    env->nfields = m.nfields;
    env->service = m.service;
    env->has_service = m.has_service;
    env->init = m.init;
    env->has_init = m.has_init;
}

candid_type env_node_add(candid_env *env, int8_t kind)
{
    if (env->nnodes == env->capnodes) {
        size_t cap = env->capnodes * 2;
        if (cap > INT32_MAX)
            return -1;
        cnode *p = base_realloc(env->nodes, cap * sizeof *p);
        if (!p)
            return -1;
        env->nodes = p;
        env->capnodes = cap;
    }
    cnode *n = &env->nodes[env->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    return (candid_type)env->nnodes++;
}

uint32_t env_fields_add(candid_env *env, size_t n)
{
    if (env->nfields + n > UINT32_MAX / 2)
        return UINT32_MAX;
    if (env->nfields + n > env->capfields) {
        size_t cap = env->capfields * 2;
        while (cap < env->nfields + n)
            cap *= 2;
        candid_field *p = base_realloc(env->fields, cap * sizeof *p);
        if (!p)
            return UINT32_MAX;
        env->fields = p;
        env->capfields = cap;
    }
    uint32_t first = (uint32_t)env->nfields;
    if (n)
        memset(&env->fields[first], 0, n * sizeof *env->fields);
    env->nfields += n;
    return first;
}

const char *env_name_add(candid_env *env, const char *s, size_t len)
{
    char *p = arena_alloc(env->strs, len + 1);
    if (p && len)
        memcpy(p, s, len);
    return p;
}

static int field_cmp(const void *a, const void *b)
{
    uint32_t x = ((const candid_field *)a)->id, y = ((const candid_field *)b)->id;
    return (x > y) - (x < y);
}

status env_fields_sort(candid_field *f, size_t n)
{
    if (n > 1)
        qsort(f, n, sizeof *f, field_cmp);
    for (size_t i = 1; i < n; i++)
        if (f[i].id == f[i - 1].id)
            return ST_CANDID_BAD_TYPE;
    return ST_OK;
}

candid_type candid_type_resolve(const candid_env *env, candid_type t)
{
    /* did_check guarantees alias chains end; the bound is a second line of defence */
    for (size_t hops = 0; t >= 0 && env_node(env, t)->kind == CANDID_ALIAS; hops++) {
        if (hops > env->nnodes || !env_node(env, t)->defined)
            return CANDID_EMPTY;
        t = env_node(env, t)->inner;
    }
    return t;
}

candid_kind candid_type_kind(const candid_env *env, candid_type t)
{
    t = candid_type_resolve(env, t);
    return t < 0 ? (candid_kind)t : (candid_kind)env_node(env, t)->kind;
}

bool env_nullish(const candid_env *env, candid_type t)
{
    candid_kind k = candid_type_kind(env, t);
    return k == CANDID_NULL || k == CANDID_OPT || k == CANDID_RESERVED;
}

candid_type candid_type_inner(const candid_env *env, candid_type t)
{
    t = candid_type_resolve(env, t);
    if (t < 0)
        return CANDID_EMPTY;
    return env_node(env, t)->inner;
}

const candid_field *candid_type_fields(const candid_env *env, candid_type t, size_t *n)
{
    t = candid_type_resolve(env, t);
    *n = 0;
    if (t < 0)
        return NULL;
    const cnode *c = env_node(env, t);
    if (c->kind != CANDID_RECORD && c->kind != CANDID_VARIANT && c->kind != CANDID_SERVICE)
        return NULL;
    *n = c->n;
    return env->fields + c->first;
}

void candid_type_func(const candid_env *env, candid_type t, const candid_field **args,
                      size_t *nargs, const candid_field **rets, size_t *nrets, unsigned *anns)
{
    t = candid_type_resolve(env, t);
    *nargs = *nrets = 0;
    *args = *rets = NULL;
    *anns = 0;
    if (t < 0 || env_node(env, t)->kind != CANDID_FUNC)
        return;
    const cnode *c = env_node(env, t);
    *args = env->fields + c->first;
    *nargs = c->n;
    *rets = env->fields + c->first + c->n;
    *nrets = c->n2;
    *anns = c->anns;
}

bool candid_kind_is_primitive(int64_t op)
{
    return (op <= CANDID_NULL && op >= CANDID_EMPTY) || op == CANDID_PRINCIPAL;
}

static const char *const prim_names[] = {
    "null",  "bool",  "nat",   "int",     "nat8",    "nat16", "nat32",    "nat64", "int8",
    "int16", "int32", "int64", "float32", "float64", "text",  "reserved", "empty",
};

const char *candid_prim_name(candid_kind k)
{
    if (k <= CANDID_NULL && k >= CANDID_EMPTY)
        return prim_names[-1 - (int)k];
    return k == CANDID_PRINCIPAL ? "principal" : NULL;
}

uint32_t candid_name_hash(const char *name, size_t len)
{
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 223u + (uint8_t)name[i];
    return h;
}

bool candid_env_service(const candid_env *env, candid_type *service)
{
    if (env->has_service)
        *service = env->service;
    return env->has_service;
}

bool candid_env_init_args(const candid_env *env, const candid_field **args, size_t *n)
{
    if (!env->has_init)
        return false;
    const cnode *c = env_node(env, env->init);
    *args = env->fields + c->first;
    *n = c->n;
    return true;
}

status candid_service_method(const candid_env *env, candid_type service, const char *name,
                             size_t name_len, candid_type *func)
{
    size_t n;
    const candid_field *f = candid_type_fields(env, service, &n);
    for (size_t i = 0; i < n; i++)
        if (f[i].name_len == name_len && memcmp(f[i].name, name, name_len) == 0) {
            *func = f[i].type;
            return ST_OK;
        }
    return ST_CANDID_UNKNOWN_NAME;
}

/* ---- values ------------------------------------------------------------------------------- */

void candid_limits_default(candid_limits *lim)
{
    lim->max_depth = 128;
    lim->cost_base = 1u << 20;
    lim->cost_per_byte = 4;
}

status candid_value_u64(const candid_value *v, uint64_t *out)
{
    switch ((candid_kind)v->kind) {
    case CANDID_NAT8:
    case CANDID_NAT16:
    case CANDID_NAT32:
    case CANDID_NAT64: *out = v->as.u; return ST_OK;
    case CANDID_INT8:
    case CANDID_INT16:
    case CANDID_INT32:
    case CANDID_INT64:
        if (v->as.i < 0)
            return ST_CANDID_TYPE_MISMATCH;
        *out = (uint64_t)v->as.i;
        return ST_OK;
    case CANDID_NAT:
    case CANDID_INT:
        if (v->neg || v->n > 2)
            return ST_CANDID_TYPE_MISMATCH;
        *out = (v->n > 0 ? v->as.limbs[0] : 0) | (v->n > 1 ? (uint64_t)v->as.limbs[1] << 32 : 0);
        return ST_OK;
    default: return ST_CANDID_TYPE_MISMATCH;
    }
}

status candid_value_i64(const candid_value *v, int64_t *out)
{
    switch ((candid_kind)v->kind) {
    case CANDID_INT8:
    case CANDID_INT16:
    case CANDID_INT32:
    case CANDID_INT64: *out = v->as.i; return ST_OK;
    case CANDID_NAT:
    case CANDID_INT: {
        if (v->n > 2)
            return ST_CANDID_TYPE_MISMATCH;
        uint64_t m =
            (v->n > 0 ? v->as.limbs[0] : 0) | (v->n > 1 ? (uint64_t)v->as.limbs[1] << 32 : 0);
        if (m > (uint64_t)INT64_MAX + (v->neg ? 1u : 0u))
            return ST_CANDID_TYPE_MISMATCH;
        *out = v->neg ? (int64_t)(0 - m) : (int64_t)m;
        return ST_OK;
    }
    default: {
        uint64_t u;
        status st = candid_value_u64(v, &u);
        if (st != ST_OK || u > INT64_MAX)
            return ST_CANDID_TYPE_MISMATCH;
        *out = (int64_t)u;
        return ST_OK;
    }
    }
}

bool candid_value_eq(const candid_value *a, const candid_value *b)
{
    if (a->kind != b->kind || a->id != b->id)
        return false;
    switch ((candid_kind)a->kind) {
    case CANDID_NULL:
    case CANDID_RESERVED:
    case CANDID_EMPTY: return true;
    case CANDID_BOOL: return a->as.b == b->as.b;
    case CANDID_NAT:
    case CANDID_INT:
        return a->neg == b->neg && a->n == b->n &&
               (a->n == 0 || memcmp(a->as.limbs, b->as.limbs, a->n * 4) == 0);
    case CANDID_FLOAT32: return memcmp(&a->as.f32, &b->as.f32, sizeof(float)) == 0;
    case CANDID_FLOAT64:
    case CANDID_NAT8:
    case CANDID_NAT16:
    case CANDID_NAT32:
    case CANDID_NAT64:
    case CANDID_INT8:
    case CANDID_INT16:
    case CANDID_INT32:
    case CANDID_INT64: return a->as.u == b->as.u;
    case CANDID_TEXT:
    case CANDID_BLOB:
    case CANDID_PRINCIPAL:
    case CANDID_SERVICE:
        return a->n == b->n && (a->n == 0 || memcmp(a->as.bytes, b->as.bytes, a->n) == 0);
    case CANDID_OPT:
    case CANDID_VEC:
    case CANDID_RECORD:
    case CANDID_VARIANT:
    case CANDID_FUNC:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!candid_value_eq(&a->as.items[i], &b->as.items[i]))
                return false;
        return true;
    default: return false;
    }
}

/* ---- principals --------------------------------------------------------------------------- */

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

status candid_principal_print(const uint8_t *bytes, size_t len, buf *out)
{
    if (len > 29)
        return ST_CANDID_BAD_PRINCIPAL;
    uint8_t raw[33];
    uint32_t c = crc32(bytes, len);
    raw[0] = (uint8_t)(c >> 24);
    raw[1] = (uint8_t)(c >> 16);
    raw[2] = (uint8_t)(c >> 8);
    raw[3] = (uint8_t)c;
    if (len)
        memcpy(raw + 4, bytes, len);
    char text[64];
    size_t nt = 0, nchars = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len + 4; i++) {
        acc = acc << 8 | raw[i];
        bits += 8;
        while (bits >= 5) {
            if (nchars && nchars % 5 == 0)
                text[nt++] = '-';
            text[nt++] = b32[(acc >> (bits - 5)) & 31];
            nchars++;
            bits -= 5;
        }
    }
    if (bits > 0) {
        if (nchars && nchars % 5 == 0)
            text[nt++] = '-';
        text[nt++] = b32[(acc << (5 - bits)) & 31];
    }
    return buf_put(out, text, nt);
}

status candid_principal_parse(const char *text, size_t text_len, uint8_t out[29], size_t *len)
{
    uint8_t raw[40];
    size_t nraw = 0, nchars = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < text_len; i++) {
        char ch = text[i];
        if (ch == '-') {
            /* a dash after every group of five characters, none elsewhere */
            if (nchars == 0 || nchars % 5 != 0 || i + 1 == text_len || text[i + 1] == '-')
                return ST_CANDID_BAD_PRINCIPAL;
            continue;
        }
        if (nchars && nchars % 5 == 0 && text[i - 1] != '-')
            return ST_CANDID_BAD_PRINCIPAL;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        const char *q = ch ? strchr(b32, ch) : NULL;
        if (!q)
            return ST_CANDID_BAD_PRINCIPAL;
        acc = acc << 5 | (uint32_t)(q - b32);
        bits += 5;
        nchars++;
        if (bits >= 8) {
            if (nraw == sizeof raw)
                return ST_CANDID_BAD_PRINCIPAL;
            raw[nraw++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (nraw < 4 || nraw > 33 || (acc & ((1u << bits) - 1)) != 0)
        return ST_CANDID_BAD_PRINCIPAL;
    uint32_t want =
        (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
    if (crc32(raw + 4, nraw - 4) != want)
        return ST_CANDID_BAD_PRINCIPAL;
    *len = nraw - 4;
    if (*len)
        memcpy(out, raw + 4, *len);
    return ST_OK;
}
