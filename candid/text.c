/* text.c - Candid values in text (spec "Values"): parsing at an expected type, and printing.
 *
 * Parsing is two steps: the text becomes an untyped tree (numbers keep their digits, fields
 * their ids), then the tree is checked against the expected type and turned into a typed
 * candid_value, so that `42` is a nat at `nat` and a float at `float64`, a record may omit
 * optional fields and carry fields the type does not have, and `(v : T)` annotations work.
 * Printing writes what parsing reads back (docs/candid.md, "Text"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candid_int.h"

enum {
    TV_NUM,
    TV_BOOL,
    TV_NULL,
    TV_TEXT,
    TV_OPT,
    TV_VEC,
    TV_RECORD,
    TV_VARIANT,
    TV_BLOB,
    TV_PRINCIPAL,
    TV_SERVICE,
    TV_FUNC,
    TV_ANN
};

/* An untyped value. */
typedef struct tv tv;
struct tv {
    uint8_t k;
    bool neg, is_float, b;
    uint32_t id;
    size_t off;
    const char *s, *s2; /* NUM digits, TEXT/BLOB bytes, reference text; FUNC method */
    size_t len, len2;
    tv *items;
    size_t n;
    candid_type ann;
};

typedef struct tp {
    lexer lx;
    candid_env *env;
    candid_arena *a;
} tp;

static status parse_annval(tp *p, tv *x);

/* A growable array of tv, copied into the arena when complete. */
typedef struct tvlist {
    tv *v;
    size_t n, cap;
} tvlist;

static status tvlist_push(tvlist *l, const tv *x)
{
    void *arr = l->v;
    TRY(candid_grow(&arr, &l->cap, l->n + 1, sizeof *l->v));
    l->v = arr;
    l->v[l->n++] = *x;
    return ST_OK;
}

static status tvlist_done(tp *p, tvlist *l, tv *x)
{
    x->items = arena_alloc(p->a, (l->n ? l->n : 1) * sizeof(tv));
    if (!x->items) {
        base_free(l->v);
        return ST_OUT_OF_MEMORY;
    }
    if (l->n)
        memcpy(x->items, l->v, l->n * sizeof(tv));
    x->n = l->n;
    base_free(l->v);
    return ST_OK;
}

/* After a list's last item (st: how reading it went): consume the closing bracket and keep the
 * items in x, or free them. */
static status tvlist_close(tp *p, tvlist *l, tv *x, status st)
{
    if (st == ST_OK)
        st = lex_next(&p->lx);
    if (st != ST_OK) {
        base_free(l->v);
        return st;
    }
    return tvlist_done(p, l, x);
}

static bool followed_by_eq(lexer *lx)
{
    lexer save = *lx;
    bool eq = lex_next(lx) == ST_OK && lx->cur.kind == TK_EQ;
    *lx = save;
    return eq;
}

/* A field label: a number, an identifier or a text; ST_OK with *ok false if there is none. */
static status label(tp *p, uint32_t *id, bool *ok)
{
    tok *t = &p->lx.cur;
    *ok = true;
    if (t->kind == TK_NUM) {
        candid_value v = {.kind = CANDID_NAT};
        uint64_t u;
        if (t->is_float || num_parse(p->a, t->s, t->len, &v) != ST_OK ||
            candid_value_u64(&v, &u) != ST_OK || u > UINT32_MAX)
            return lex_fail(&p->lx, ST_CANDID_SYNTAX, "field id must be a number below 2^32");
        *id = (uint32_t)u;
    } else if (t->kind == TK_ID || t->kind == TK_TEXT) {
        *id = candid_name_hash(t->s, t->len);
    } else {
        *ok = false;
        return ST_OK;
    }
    return lex_next(&p->lx);
}

/* record { fieldval;* } or variant { fieldval } */
static status parse_fields(tp *p, tv *x, bool variant)
{
    TRY(lex_expect(&p->lx, TK_LBRACE, "expected '{'"));
    tvlist l = {0};
    uint32_t next = 0;
    status st = ST_OK;
    while (st == ST_OK && p->lx.cur.kind != TK_RBRACE) {
        tv f = {.k = TV_NULL, .off = p->lx.cur.off};
        bool labelled = false, named = followed_by_eq(&p->lx);
        if (named || variant)
            st = label(p, &f.id, &labelled);
        if (st == ST_OK && named)
            st = lex_expect(&p->lx, TK_EQ, "expected '='");
        if (st == ST_OK && (named || !labelled)) {
            if (variant && !labelled)
                st = lex_fail(&p->lx, ST_CANDID_SYNTAX, "expected a variant tag");
            else
                st = parse_annval(p, &f);
            if (!labelled)
                f.id = next;
        }
        for (size_t i = 0; st == ST_OK && i < l.n; i++)
            if (l.v[i].id == f.id)
                st = lex_fail(&p->lx, ST_CANDID_SYNTAX, "duplicate field");
        next = f.id + 1;
        if (st == ST_OK)
            st = tvlist_push(&l, &f);
        if (st == ST_OK && p->lx.cur.kind != TK_RBRACE)
            st = lex_expect(&p->lx, TK_SEMI, "expected ';' or '}'");
    }
    if (st == ST_OK && variant && l.n != 1)
        st = lex_fail(&p->lx, ST_CANDID_SYNTAX, "a variant value has exactly one field");
    return tvlist_close(p, &l, x, st);
}

static status parse_vec(tp *p, tv *x)
{
    TRY(lex_expect(&p->lx, TK_LBRACE, "expected '{'"));
    tvlist l = {0};
    status st = ST_OK;
    while (st == ST_OK && p->lx.cur.kind != TK_RBRACE) {
        tv item = {0};
        st = parse_annval(p, &item);
        if (st == ST_OK)
            st = tvlist_push(&l, &item);
        if (st == ST_OK && p->lx.cur.kind != TK_RBRACE)
            st = lex_expect(&p->lx, TK_SEMI, "expected ';' or '}'");
    }
    return tvlist_close(p, &l, x, st);
}

static status text_arg(tp *p, tv *x)
{
    if (p->lx.cur.kind != TK_TEXT)
        return lex_fail(&p->lx, ST_CANDID_SYNTAX, "expected a text");
    x->s = p->lx.cur.s;
    x->len = p->lx.cur.len;
    return lex_next(&p->lx);
}

static status parse_keyword(tp *p, tv *x)
{
    lexer *lx = &p->lx;
    if (lex_is(lx, "true") || lex_is(lx, "false")) {
        x->k = TV_BOOL;
        x->b = lex_is(lx, "true");
        return lex_next(lx);
    }
    if (lex_is(lx, "null")) {
        x->k = TV_NULL;
        return lex_next(lx);
    }
    if (lex_is(lx, "nan") || lex_is(lx, "inf")) {
        x->k = TV_NUM;
        x->is_float = true;
        x->s = lx->cur.s;
        x->len = lx->cur.len;
        return lex_next(lx);
    }
    static const struct {
        const char *word;
        uint8_t k;
    } kw[] = {{"opt", TV_OPT},         {"vec", TV_VEC},   {"record", TV_RECORD},
              {"variant", TV_VARIANT}, {"blob", TV_BLOB}, {"principal", TV_PRINCIPAL},
              {"service", TV_SERVICE}, {"func", TV_FUNC}};
    size_t i = 0;
    while (i < BASE_ARRAY_LEN(kw) && !lex_is(lx, kw[i].word))
        i++;
    if (i == BASE_ARRAY_LEN(kw))
        return lex_fail(lx, ST_CANDID_SYNTAX, "expected a value");
    x->k = kw[i].k;
    TRY(lex_next(lx));
    switch (x->k) {
    case TV_OPT:
        x->items = arena_alloc(p->a, sizeof(tv));
        if (!x->items)
            return ST_OUT_OF_MEMORY;
        x->n = 1;
        return parse_annval(p, x->items);
    case TV_VEC: return parse_vec(p, x);
    case TV_RECORD:
    case TV_VARIANT: return parse_fields(p, x, x->k == TV_VARIANT);
    case TV_FUNC:
        TRY(text_arg(p, x));
        TRY(lex_expect(lx, TK_DOT, "expected '.' after the func's principal"));
        if (lx->cur.kind != TK_ID && lx->cur.kind != TK_TEXT)
            return lex_fail(lx, ST_CANDID_SYNTAX, "expected a method name");
        x->s2 = lx->cur.s;
        x->len2 = lx->cur.len;
        return lex_next(lx);
    default: return text_arg(p, x);
    }
}

static status parse_val(tp *p, tv *x)
{
    lexer *lx = &p->lx;
    x->off = lx->cur.off;
    switch (lx->cur.kind) {
    case TK_LPAREN:
        TRY(lex_next(lx));
        TRY(parse_annval(p, x));
        return lex_expect(lx, TK_RPAREN, "expected ')'");
    case TK_MINUS:
    case TK_PLUS:
        x->neg = lx->cur.kind == TK_MINUS;
        TRY(lex_next(lx));
        if (lx->cur.kind != TK_NUM && !lex_is(lx, "inf") && !lex_is(lx, "nan"))
            return lex_fail(lx, ST_CANDID_SYNTAX, "expected a number after the sign");
        if (lx->cur.kind == TK_ID)
            return parse_keyword(p, x);
        /* fall through */
    case TK_NUM:
        x->k = TV_NUM;
        x->s = lx->cur.s;
        x->len = lx->cur.len;
        x->is_float = lx->cur.is_float;
        return lex_next(lx);
    case TK_TEXT: x->k = TV_TEXT; return text_arg(p, x);
    case TK_ID: return parse_keyword(p, x);
    default: return lex_fail(lx, ST_CANDID_SYNTAX, "expected a value");
    }
}

static status parse_annval(tp *p, tv *x)
{
    uint32_t id = x->id;
    if (++p->lx.depth > CANDID_TEXT_DEPTH)
        return lex_fail(&p->lx, ST_CANDID_LIMIT, "values nested too deeply");
    status st = parse_val(p, x);
    p->lx.depth--;
    if (st != ST_OK || p->lx.cur.kind != TK_COLON)
        return st;
    TRY(lex_next(&p->lx));
    tv *inner = arena_alloc(p->a, sizeof(tv));
    if (!inner)
        return ST_OUT_OF_MEMORY;
    *inner = *x;
    memset(x, 0, sizeof *x);
    x->k = TV_ANN;
    x->id = id;
    x->off = inner->off;
    x->items = inner;
    x->n = 1;
    return did_datatype(&p->lx, p->env, &x->ann);
}

/* ---- the typed value of an untyped one ------------------------------------------------------ */

static status bad(tp *p, const tv *x, status st, const char *what)
{
    p->lx.cur.off = x->off;
    return lex_fail(&p->lx, st, what);
}

static status elab(tp *p, const tv *x, candid_type t, candid_value *v);

static status elab_int(tp *p, const tv *x, candid_kind k, candid_value *v)
{
    if (x->k != TV_NUM || x->is_float)
        return bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected an integer");
    if (x->len > 4096)
        return bad(p, x, ST_CANDID_LIMIT, "number has too many digits");
    if (num_parse(p->a, x->s, x->len, v) != ST_OK)
        return bad(p, x, ST_CANDID_SYNTAX, "malformed number");
    v->neg = x->neg && v->n > 0;
    if (k == CANDID_NAT || k == CANDID_INT)
        return v->neg && k == CANDID_NAT ? bad(p, x, ST_CANDID_TYPE_MISMATCH, "nat is negative")
                                         : ST_OK;
    static const int bits[] = {8, 16, 32, 64};
    bool is_nat = k <= CANDID_NAT8 && k >= CANDID_NAT64;
    int w = bits[is_nat ? CANDID_NAT8 - k : CANDID_INT8 - k];
    uint64_t u;
    candid_value tmp = *v;
    tmp.kind = CANDID_NAT;
    tmp.neg = false;
    if (candid_value_u64(&tmp, &u) != ST_OK)
        return bad(p, x, ST_CANDID_TYPE_MISMATCH, "number out of range of its type");
    uint64_t max = w == 64 ? UINT64_MAX : (1ull << w) - 1;
    if (is_nat) {
        if (v->neg || u > max)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "number out of range of its type");
        v->as.u = u;
    } else {
        uint64_t lim = (1ull << (w - 1)) - (v->neg ? 0 : 1);
        if (u > lim)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "number out of range of its type");
        v->as.i = v->neg ? (int64_t)(0 - u) : (int64_t)u;
    }
    v->n = 0;
    v->neg = false;
    return ST_OK;
}

static status elab_float(tp *p, const tv *x, candid_kind k, candid_value *v)
{
    if (x->k != TV_NUM)
        return bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected a number");
    char s[128];
    size_t n = 0;
    if (x->neg)
        s[n++] = '-';
    for (size_t i = 0; i < x->len && n + 1 < sizeof s; i++)
        if (x->s[i] != '_')
            s[n++] = x->s[i];
    s[n] = 0;
    char *end;
    double d = strtod(s, &end);
    if (*end != 0 || x->len >= sizeof s - 2)
        return bad(p, x, ST_CANDID_SYNTAX, "malformed float");
    if (k == CANDID_FLOAT32)
        v->as.f32 = (float)d;
    else
        v->as.f64 = d;
    return ST_OK;
}

static status copy_bytes(tp *p, const char *s, size_t len, candid_value *v)
{
    uint8_t *q = arena_alloc(p->a, len);
    if (!q)
        return ST_OUT_OF_MEMORY;
    if (len)
        memcpy(q, s, len);
    v->as.bytes = q;
    v->n = len;
    return ST_OK;
}

static status principal(tp *p, const tv *x, const char *s, size_t len, candid_value *v)
{
    uint8_t raw[29];
    size_t n;
    if (candid_principal_parse(s, len, raw, &n) != ST_OK)
        return bad(p, x, ST_CANDID_BAD_PRINCIPAL, "malformed principal text");
    return copy_bytes(p, (const char *)raw, n, v);
}

static status elab_vec(tp *p, const tv *x, candid_type t, candid_value *v)
{
    candid_type inner = candid_type_inner(p->env, t);
    bool blob = candid_type_kind(p->env, inner) == CANDID_NAT8;
    if (blob && x->k == TV_BLOB) {
        v->kind = CANDID_BLOB;
        return copy_bytes(p, x->s, x->len, v);
    }
    if (x->k != TV_VEC)
        return bad(p, x, ST_CANDID_TYPE_MISMATCH, blob ? "expected vec or blob" : "expected vec");
    candid_value *items = arena_alloc(p->a, (x->n ? x->n : 1) * sizeof *items);
    if (!items)
        return ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < x->n; i++)
        TRY(elab(p, &x->items[i], inner, &items[i]));
    if (!blob) {
        v->as.items = items;
        v->n = x->n;
        return ST_OK;
    }
    uint8_t *q = arena_alloc(p->a, x->n);
    if (!q)
        return ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < x->n; i++)
        q[i] = (uint8_t)items[i].as.u;
    v->kind = CANDID_BLOB;
    v->as.bytes = q;
    v->n = x->n;
    return ST_OK;
}

static status elab_fields(tp *p, const tv *x, candid_type t, candid_kind k, candid_value *v)
{
    if (x->k != (k == CANDID_RECORD ? TV_RECORD : TV_VARIANT))
        return bad(p, x, ST_CANDID_TYPE_MISMATCH,
                   k == CANDID_RECORD ? "expected record" : "expected variant");
    size_t nf;
    const candid_field *f = candid_type_fields(p->env, t, &nf);
    if (k == CANDID_VARIANT) {
        size_t j = 0;
        while (j < nf && f[j].id != x->items[0].id)
            j++;
        if (j == nf)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "variant tag not in the type");
        v->as.items = arena_alloc(p->a, sizeof(candid_value));
        if (!v->as.items)
            return ST_OUT_OF_MEMORY;
        v->n = 1;
        TRY(elab(p, &x->items[0], f[j].type, v->as.items));
        v->as.items[0].id = f[j].id;
        return ST_OK;
    }
    candid_value *items = arena_alloc(p->a, (nf ? nf : 1) * sizeof *items);
    if (!items)
        return ST_OUT_OF_MEMORY;
    for (size_t j = 0; j < nf; j++) {
        size_t i = 0;
        while (i < x->n && x->items[i].id != f[j].id)
            i++;
        if (i < x->n) {
            TRY(elab(p, &x->items[i], f[j].type, &items[j]));
        } else {
            candid_kind fk = candid_type_kind(p->env, f[j].type);
            if (fk != CANDID_NULL && fk != CANDID_OPT && fk != CANDID_RESERVED)
                return bad(p, x, ST_CANDID_TYPE_MISMATCH, "record field missing");
            items[j].kind = (int8_t)fk;
        }
        items[j].id = f[j].id;
    }
    v->as.items = items;
    v->n = nf;
    return ST_OK;
}

static status elab(tp *p, const tv *x, candid_type t, candid_value *v)
{
    t = candid_type_resolve(p->env, t);
    candid_kind k = candid_type_kind(p->env, t);
    v->kind = (int8_t)k;
    if (k == CANDID_RESERVED)
        return ST_OK;
    if (x->k == TV_ANN) {
        candid_kind ak = candid_type_kind(p->env, x->ann);
        if (ak != k && k != CANDID_OPT)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "annotation differs from the expected type");
        if (ak == k)
            return elab(p, x->items, t, v);
    }
    switch (k) {
    case CANDID_OPT:
        if (x->k == TV_NULL)
            return ST_OK;
        v->as.items = arena_alloc(p->a, sizeof(candid_value));
        if (!v->as.items)
            return ST_OUT_OF_MEMORY;
        v->n = 1;
        return elab(p, x->k == TV_OPT ? x->items : x, candid_type_inner(p->env, t), v->as.items);
    case CANDID_NULL:
        return x->k == TV_NULL ? ST_OK : bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected null");
    case CANDID_BOOL:
        v->as.b = x->b;
        return x->k == TV_BOOL ? ST_OK : bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected bool");
    case CANDID_FLOAT32:
    case CANDID_FLOAT64: return elab_float(p, x, k, v);
    case CANDID_TEXT:
        if (x->k != TV_TEXT)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected text");
        if (!span_is_utf8(span_of(x->s, x->len)))
            return bad(p, x, ST_CANDID_SYNTAX, "text is not UTF-8");
        return copy_bytes(p, x->s, x->len, v);
    case CANDID_PRINCIPAL:
        if (x->k != TV_PRINCIPAL)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected principal");
        return principal(p, x, x->s, x->len, v);
    case CANDID_SERVICE:
        if (x->k != TV_SERVICE)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected service");
        return principal(p, x, x->s, x->len, v);
    case CANDID_FUNC: {
        if (x->k != TV_FUNC)
            return bad(p, x, ST_CANDID_TYPE_MISMATCH, "expected func");
        candid_value *items = func_items(p->a, v);
        if (!items)
            return ST_OUT_OF_MEMORY;
        TRY(principal(p, x, x->s, x->len, &items[0]));
        return copy_bytes(p, x->s2, x->len2, &items[1]);
    }
    case CANDID_VEC: return elab_vec(p, x, t, v);
    case CANDID_RECORD:
    case CANDID_VARIANT: return elab_fields(p, x, t, k, v);
    case CANDID_EMPTY: return bad(p, x, ST_CANDID_TYPE_MISMATCH, "no value has type empty");
    default: return elab_int(p, x, k, v);
    }
}

/* ( annval,* ) into args.items[0..args.n). */
static status parse_args(tp *p, span text, candid_error *err, tv *args)
{
    TRY(lex_init(&p->lx, p->a, text, err));
    tvlist l = {0};
    status st = lex_expect(&p->lx, TK_LPAREN, "expected '(' before the arguments");
    while (st == ST_OK && p->lx.cur.kind != TK_RPAREN) {
        tv x = {0};
        st = parse_annval(p, &x);
        if (st == ST_OK)
            st = tvlist_push(&l, &x);
        if (st == ST_OK && p->lx.cur.kind != TK_RPAREN)
            st = lex_expect(&p->lx, TK_COMMA, "expected ',' or ')'");
    }
    if (st == ST_OK)
        st = lex_next(&p->lx);
    if (st == ST_OK && p->lx.cur.kind != TK_EOF)
        st = lex_fail(&p->lx, ST_CANDID_SYNTAX, "text after the arguments");
    if (st != ST_OK) {
        base_free(l.v);
        return st;
    }
    return tvlist_done(p, &l, args);
}

static status text_parse(candid_arena *a, candid_env *env, const candid_type *types, size_t n,
                         span text, candid_value **vals, candid_error *err)
{
    tp p = {.env = env, .a = a};
    tv args = {0};
    TRY(parse_args(&p, text, err, &args));
    TRY(did_check(env, err));
    if (args.n > n)
        return bad(&p, &args.items[n], ST_CANDID_TYPE_MISMATCH, "more arguments than types");
    candid_value *out = arena_alloc(a, (n ? n : 1) * sizeof *out);
    if (!out)
        return ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < n; i++) {
        if (i < args.n) {
            TRY(elab(&p, &args.items[i], types[i], &out[i]));
            continue;
        }
        candid_kind k = candid_type_kind(env, types[i]);
        if (k != CANDID_NULL && k != CANDID_OPT && k != CANDID_RESERVED) {
            p.lx.cur.off = text.len;
            return lex_fail(&p.lx, ST_CANDID_TYPE_MISMATCH, "argument missing and not optional");
        }
        out[i].kind = (int8_t)k;
    }
    *vals = out;
    return ST_OK;
}

status candid_text_parse(candid_arena *a, candid_env *env, const candid_type *types, size_t n,
                         span text, candid_value **vals, candid_error *err)
{
    env_mark mark = env_mark_get(env);
    status st = text_parse(a, env, types, n, text, vals, err);
    if (st != ST_OK) /* annotations may have added types, and names never defined */
        env_rollback(env, mark);
    return st;
}

/* ---- types of values written without a type ------------------------------------------------ */

static int tvfield_cmp(const void *a, const void *b)
{
    uint32_t x = ((const tv *)a)->id, y = ((const tv *)b)->id;
    return (x > y) - (x < y);
}

/* The type a value says it has: its annotation, else nat / int (negative) / float64 for
 * numbers, text, bool, null, blob, principal, service {}, opt / vec / record / variant of the
 * types of their contents (a vec by its first item, `vec {}` is vec empty). */
static status infer(tp *p, tv *x, candid_type *out)
{
    static const candid_kind simple[] = {
        [TV_BOOL] = CANDID_BOOL,
        [TV_NULL] = CANDID_NULL,
        [TV_TEXT] = CANDID_TEXT,
        [TV_PRINCIPAL] = CANDID_PRINCIPAL,
    };
    candid_env *env = p->env;
    if (++p->lx.depth > CANDID_TEXT_DEPTH)
        return bad(p, x, ST_CANDID_LIMIT, "values nested too deeply");
    status st = ST_OK;
    candid_type inner = CANDID_EMPTY;
    switch (x->k) {
    case TV_ANN: *out = x->ann; break;
    case TV_NUM: *out = x->is_float ? CANDID_FLOAT64 : x->neg ? CANDID_INT : CANDID_NAT; break;
    case TV_OPT:
    case TV_VEC:
    case TV_BLOB:
        if (x->k == TV_BLOB)
            inner = CANDID_NAT8;
        else if (x->n > 0)
            st = infer(p, &x->items[0], &inner);
        *out = env_node_add(env, x->k == TV_OPT ? CANDID_OPT : CANDID_VEC);
        if (st == ST_OK && *out < 0)
            st = ST_OUT_OF_MEMORY;
        if (st == ST_OK)
            env->nodes[*out].inner = inner;
        break;
    case TV_RECORD:
    case TV_VARIANT:
    case TV_SERVICE:
    case TV_FUNC: {
        int8_t kind = x->k == TV_RECORD    ? CANDID_RECORD
                      : x->k == TV_VARIANT ? CANDID_VARIANT
                      : x->k == TV_SERVICE ? CANDID_SERVICE
                                           : CANDID_FUNC;
        size_t nf = kind == CANDID_RECORD || kind == CANDID_VARIANT ? x->n : 0;
        if (nf > 1)
            qsort(x->items, nf, sizeof *x->items, tvfield_cmp);
        uint32_t first = env_fields_add(env, nf);
        *out = env_node_add(env, kind);
        if (first == UINT32_MAX || *out < 0) {
            st = ST_OUT_OF_MEMORY;
            break;
        }
        env->nodes[*out].first = first;
        env->nodes[*out].n = (uint32_t)nf;
        for (size_t i = 0; i < nf && st == ST_OK; i++) {
            candid_type t;
            st = infer(p, &x->items[i], &t);
            env->fields[first + i].id = x->items[i].id;
            env->fields[first + i].type = t;
        }
        break;
    }
    default: *out = simple[x->k]; break;
    }
    p->lx.depth--;
    return st;
}

status candid_text_parse_any(candid_arena *a, candid_env *env, span text, candid_type **types,
                             size_t *n, candid_value **vals, candid_error *err)
{
    env_mark mark = env_mark_get(env);
    tp p = {.env = env, .a = a};
    tv args = {0};
    status st = parse_args(&p, text, err, &args);
    candid_type *t = st == ST_OK ? arena_alloc(a, (args.n + 1) * sizeof *t) : NULL;
    if (st == ST_OK && !t)
        st = ST_OUT_OF_MEMORY;
    for (size_t i = 0; st == ST_OK && i < args.n; i++)
        st = infer(&p, &args.items[i], &t[i]);
    if (st == ST_OK)
        st = did_check(env, err);
    if (st == ST_OK)
        st = text_parse(a, env, t, args.n, text, vals, err);
    if (st != ST_OK) {
        env_rollback(env, mark);
        return st;
    }
    *types = t;
    *n = args.n;
    return ST_OK;
}
