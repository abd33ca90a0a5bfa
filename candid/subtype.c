/* subtype.c - the Candid subtype relation t1 <: t2 between types of two environments
 * (spec "Upgrading and Subtyping", Rules), which decoding needs for func and service
 * references (spec "Coercion", References).
 *
 * Types are recursive, so the relation is the greatest fixed point: a pair under examination
 * is assumed to hold. Answers are memoized per pair: a "no" is always final (it was found
 * under optimistic assumptions); a "yes" is kept only if the outermost question is answered
 * "yes", otherwise the assumptions made while answering it are forgotten. Every pair and field
 * examined costs 1 against the decoder's quota, and depth is bounded. */
#include <string.h>

#include "candid_int.h"

enum { UNKNOWN = 0, YES = 1, NO = 2 };

typedef struct memo {
    uint64_t *keys; /* key + 1, 0 = empty slot */
    uint8_t *vals;
    size_t cap, used;
} memo;

struct subcheck {
    memo m[2]; /* [0] for (a, b) questions, [1] for (b, a) */
    const candid_env *a, *b;
    uint64_t *undo; /* keys set to YES during the current outermost question */
    size_t nundo, capundo;
    uint64_t *cost;
    uint32_t max_depth;
};

subcheck *subcheck_new(void)
{
    return base_calloc(1, sizeof(subcheck));
}

void subcheck_free(subcheck *s)
{
    if (!s)
        return;
    for (int i = 0; i < 2; i++) {
        base_free(s->m[i].keys);
        base_free(s->m[i].vals);
    }
    base_free(s->undo);
    base_free(s);
}

static size_t slot_of(const memo *m, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    size_t i = (size_t)(h >> 20) & (m->cap - 1);
    while (m->keys[i] != 0 && m->keys[i] != key + 1)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static status memo_grow(memo *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    memo n = {base_calloc(cap, sizeof(uint64_t)), base_calloc(cap, 1), cap, m->used};
    if (!n.keys || !n.vals) {
        base_free(n.keys);
        base_free(n.vals);
        return ST_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = slot_of(&n, m->keys[i] - 1);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
        }
    base_free(m->keys);
    base_free(m->vals);
    *m = n;
    return ST_OK;
}

static uint8_t memo_get(const memo *m, uint64_t key)
{
    if (m->cap == 0)
        return UNKNOWN;
    size_t i = slot_of(m, key);
    return m->keys[i] ? m->vals[i] : UNKNOWN;
}

static status memo_set(memo *m, uint64_t key, uint8_t v)
{
    if ((m->used + 1) * 2 > m->cap) {
        status st = memo_grow(m);
        if (st != ST_OK)
            return st;
    }
    size_t i = slot_of(m, key);
    if (!m->keys[i]) {
        m->keys[i] = key + 1;
        m->used++;
    }
    m->vals[i] = v;
    return ST_OK;
}

typedef struct side {
    const candid_env *env;
    candid_type t;
} side;

static status sub(subcheck *s, side x, side y, uint32_t depth, bool *yes);

/* Tuple rule of func parameters and results: record { xs } <: record { ys } by position. */
static status sub_tuple(subcheck *s, const candid_env *ex, const candid_field *xs, size_t nx,
                        const candid_env *ey, const candid_field *ys, size_t ny, uint32_t depth,
                        bool *yes)
{
    *yes = true;
    for (size_t i = 0; i < ny && *yes; i++) {
        if (i >= nx) {
            *yes = env_nullish(ey, ys[i].type);
            continue;
        }
        status st = sub(s, (side){ex, xs[i].type}, (side){ey, ys[i].type}, depth + 1, yes);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

/* The structural rules for two composite types of the same kind. */
static status sub_composite(subcheck *s, side x, side y, uint32_t depth, bool *yes)
{
    const cnode *nx = env_node(x.env, x.t), *ny = env_node(y.env, y.t);
    const candid_field *fx = x.env->fields + nx->first, *fy = y.env->fields + ny->first;
    status st = ST_OK;
    *yes = true;
    switch ((candid_kind)nx->kind) {
    case CANDID_VEC:
    case CANDID_OPT:
        return sub(s, (side){x.env, nx->inner}, (side){y.env, ny->inner}, depth + 1, yes);
    case CANDID_RECORD: /* every field of y: in x and a subtype, or absent and optional */
        for (size_t i = 0, j = 0; j < ny->n && *yes && st == ST_OK; j++) {
            while (i < nx->n && fx[i].id < fy[j].id)
                i++;
            if (i < nx->n && fx[i].id == fy[j].id)
                st = sub(s, (side){x.env, fx[i].type}, (side){y.env, fy[j].type}, depth + 1, yes);
            else
                *yes = env_nullish(y.env, fy[j].type);
        }
        return st;
    case CANDID_VARIANT: /* every tag of x: in y and a subtype */
        for (size_t i = 0, j = 0; i < nx->n && *yes && st == ST_OK; i++) {
            while (j < ny->n && fy[j].id < fx[i].id)
                j++;
            if (j < ny->n && fy[j].id == fx[i].id)
                st = sub(s, (side){x.env, fx[i].type}, (side){y.env, fy[j].type}, depth + 1, yes);
            else
                *yes = false;
        }
        return st;
    case CANDID_SERVICE: /* every method of y: in x and a subtype (methods sorted by name) */
        for (size_t j = 0; j < ny->n && *yes && st == ST_OK; j++) {
            size_t i = 0;
            while (i < nx->n && !(fx[i].name_len == fy[j].name_len &&
                                  memcmp(fx[i].name, fy[j].name, fy[j].name_len) == 0))
                i++;
            if (*s->cost < nx->n)
                return ST_CANDID_LIMIT;
            *s->cost -= nx->n;
            if (i == nx->n)
                *yes = false;
            else
                st = sub(s, (side){x.env, fx[i].type}, (side){y.env, fy[j].type}, depth + 1, yes);
        }
        return st;
    case CANDID_FUNC: /* same annotations; parameters contravariant, results covariant */
        if (nx->anns != ny->anns) {
            *yes = false;
            return ST_OK;
        }
        st = sub_tuple(s, y.env, fy, ny->n, x.env, fx, nx->n, depth, yes);
        if (st == ST_OK && *yes)
            st = sub_tuple(s, x.env, fx + nx->n, nx->n2, y.env, fy + ny->n, ny->n2, depth, yes);
        return st;
    default: *yes = false; return ST_OK;
    }
}

static status sub(subcheck *s, side x, side y, uint32_t depth, bool *yes)
{
    if (depth > s->max_depth)
        return ST_CANDID_LIMIT;
    if (*s->cost == 0)
        return ST_CANDID_LIMIT;
    (*s->cost)--;
    x.t = candid_type_resolve(x.env, x.t);
    y.t = candid_type_resolve(y.env, y.t);
    candid_kind kx = candid_type_kind(x.env, x.t), ky = candid_type_kind(y.env, y.t);
    /* reserved is top, opt t is above everything (spec "Options"), empty is bottom */
    if (ky == CANDID_RESERVED || ky == CANDID_OPT || kx == CANDID_EMPTY) {
        *yes = true;
        return ST_OK;
    }
    if (x.t < 0 || y.t < 0 || kx != ky) {
        *yes = kx == ky || (kx == CANDID_NAT && ky == CANDID_INT) ||
               (kx == CANDID_SERVICE && ky == CANDID_PRINCIPAL);
        return ST_OK;
    }
    memo *m = &s->m[x.env == s->a && y.env == s->b ? 0 : 1];
    uint64_t key = (uint64_t)(uint32_t)x.t << 32 | (uint32_t)y.t;
    uint8_t known = memo_get(m, key);
    if (known != UNKNOWN) {
        *yes = known == YES;
        return ST_OK;
    }
    status st = memo_set(m, key, YES); /* the coinductive assumption */
    if (st != ST_OK)
        return st;
    void *undo = s->undo;
    st = candid_grow(&undo, &s->capundo, s->nundo + 1, sizeof *s->undo);
    if (st != ST_OK)
        return st;
    s->undo = undo;
    s->undo[s->nundo++] = key << 1 | (m == &s->m[1]);
    st = sub_composite(s, x, y, depth, yes);
    if (st == ST_OK && !*yes)
        st = memo_set(m, key, NO);
    return st;
}

status subcheck_run(subcheck *s, const candid_env *e1, candid_type t1, const candid_env *e2,
                    candid_type t2, uint32_t max_depth, uint64_t *cost_left, bool *yes)
{
    if (!s->a) {
        s->a = e1;
        s->b = e2;
    }
    s->cost = cost_left;
    s->max_depth = max_depth;
    s->nundo = 0;
    status st = sub(s, (side){e1, t1}, (side){e2, t2}, 0, yes);
    if (st != ST_OK || !*yes) /* forget the assumptions made on the way */
        for (size_t i = 0; i < s->nundo; i++) {
            memo *m = &s->m[s->undo[i] & 1];
            uint64_t key = s->undo[i] >> 1;
            if (memo_get(m, key) == YES)
                memo_set(m, key, UNKNOWN);
        }
    return st;
}
