/* did.c - Candid types in text and .did service descriptions (spec "Type Structure",
 * "Services", "Functions", "Type Definitions", "Interfaces"; imports are not supported).
 *
 * Type names may be used before their definition and may be mutually recursive; each name is
 * a CANDID_ALIAS node filled in when its definition is read, and did_check then demands that
 * every name is defined and that following names always reaches a type (`type A = B;
 * type B = A;` is rejected). Field names are hashed to ids (candid_name_hash). */
#include <stdlib.h>
#include <string.h>

#include "candid_int.h"

/* A growable list of fields being read (nested types read theirs in between). */
typedef struct flist {
    candid_field *f;
    size_t n, cap;
} flist;

static status flist_add(flist *l, candid_field f)
{
    void *arr = l->f;
    TRY(candid_grow(&arr, &l->cap, l->n + 1, sizeof *l->f));
    l->f = arr;
    l->f[l->n++] = f;
    return ST_OK;
}

/* A new node of kind with the fields of l (and l2 after them, for funcs). */
static status node_with(candid_env *env, int8_t kind, const flist *l, const flist *l2,
                        candid_type *out)
{
    size_t n2 = l2 ? l2->n : 0;
    uint32_t first = env_fields_add(env, l->n + n2);
    candid_type t = env_node_add(env, kind);
    if (first == UINT32_MAX || t < 0)
        return ST_OUT_OF_MEMORY;
    if (l->n)
        memcpy(env->fields + first, l->f, l->n * sizeof *l->f);
    if (n2)
        memcpy(env->fields + first + l->n, l2->f, n2 * sizeof *l2->f);
    env->nodes[t].first = first;
    env->nodes[t].n = (uint32_t)l->n;
    env->nodes[t].n2 = (uint32_t)n2;
    *out = t;
    return ST_OK;
}

static candid_type alias_find(const candid_env *env, const char *name, size_t len)
{
    for (size_t i = 0; i < env->nnodes; i++) {
        const cnode *n = &env->nodes[i];
        if (n->kind == CANDID_ALIAS && strlen(n->name) == len && memcmp(n->name, name, len) == 0)
            return (candid_type)i;
    }
    return -1;
}

static status alias_get(candid_env *env, const char *name, size_t len, candid_type *out)
{
    candid_type t = alias_find(env, name, len);
    if (t < 0) {
        const char *copy = env_name_add(env, name, len);
        t = copy ? env_node_add(env, CANDID_ALIAS) : -1;
        if (t < 0)
            return ST_OUT_OF_MEMORY;
        env->nodes[t].name = copy;
    }
    *out = t;
    return ST_OK;
}

/* A field or method name: an identifier or a text; NULL name for a number. */
static bool name_token(const lexer *lx)
{
    return lx->cur.kind == TK_ID || lx->cur.kind == TK_TEXT;
}

static bool next_is_colon(lexer *lx)
{
    lexer save = *lx;
    bool colon = lex_next(lx) == ST_OK && lx->cur.kind == TK_COLON;
    *lx = save;
    return colon;
}

/* One field of a record or variant; *next_id is the id a tuple field would get. */
static status field(lexer *lx, candid_env *env, bool variant, uint32_t *next_id, flist *l)
{
    candid_field f = {0, CANDID_NULL, NULL, 0};
    bool named = false;
    if (lx->cur.kind == TK_NUM) {
        candid_value v = {.kind = CANDID_NAT};
        uint64_t id;
        if (lx->cur.is_float || num_parse(lx->arena, lx->cur.s, lx->cur.len, &v) != ST_OK ||
            candid_value_u64(&v, &id) != ST_OK || id > UINT32_MAX)
            return lex_fail(lx, ST_CANDID_SYNTAX, "field id must be a number below 2^32");
        f.id = (uint32_t)id;
        named = true;
    } else if (name_token(lx) && (variant || next_is_colon(lx))) {
        f.name = env_name_add(env, lx->cur.s, lx->cur.len);
        if (!f.name)
            return ST_OUT_OF_MEMORY;
        f.name_len = lx->cur.len;
        f.id = candid_name_hash(f.name, f.name_len);
        named = true;
    }
    if (named) {
        TRY(lex_next(lx));
        if (lx->cur.kind == TK_COLON) {
            TRY(lex_next(lx));
            TRY(did_datatype(lx, env, &f.type));
        } else if (!variant) {
            return lex_fail(lx, ST_CANDID_SYNTAX, "expected ':' after a record field name");
        }
    } else if (variant) {
        return lex_fail(lx, ST_CANDID_SYNTAX, "expected a variant tag");
    } else {
        f.id = *next_id;
        TRY(did_datatype(lx, env, &f.type));
    }
    *next_id = f.id + 1;
    return flist_add(l, f);
}

static status fields(lexer *lx, candid_env *env, int8_t kind, candid_type *out)
{
    flist l = {0};
    uint32_t next_id = 0;
    status st = lex_expect(lx, TK_LBRACE, "expected '{'");
    while (st == ST_OK && lx->cur.kind != TK_RBRACE) {
        st = field(lx, env, kind == CANDID_VARIANT, &next_id, &l);
        if (st == ST_OK && lx->cur.kind != TK_RBRACE)
            st = lex_expect(lx, TK_SEMI, "expected ';' or '}'");
    }
    if (st == ST_OK && env_fields_sort(l.f, l.n) != ST_OK)
        st = lex_fail(lx, ST_CANDID_BAD_TYPE, "duplicate field id");
    if (st == ST_OK)
        st = lex_next(lx);
    if (st == ST_OK)
        st = node_with(env, kind, &l, NULL, out);
    base_free(l.f);
    return st;
}

/* ( [name :] type, ... ): parameters or results of a func, or argument types. */
static status tuple(lexer *lx, candid_env *env, flist *l)
{
    TRY(lex_expect(lx, TK_LPAREN, "expected '('"));
    while (lx->cur.kind != TK_RPAREN) {
        candid_field f = {(uint32_t)l->n, CANDID_NULL, NULL, 0};
        if (name_token(lx) && next_is_colon(lx)) {
            TRY(lex_next(lx));
            TRY(lex_next(lx));
        }
        TRY(did_datatype(lx, env, &f.type));
        TRY(flist_add(l, f));
        if (lx->cur.kind != TK_RPAREN)
            TRY(lex_expect(lx, TK_COMMA, "expected ',' or ')'"));
    }
    return lex_next(lx);
}

static status functype(lexer *lx, candid_env *env, candid_type *out)
{
    flist args = {0}, rets = {0};
    status st = tuple(lx, env, &args);
    if (st == ST_OK)
        st = lex_expect(lx, TK_ARROW, "expected '->'");
    if (st == ST_OK)
        st = tuple(lx, env, &rets);
    unsigned anns = 0;
    for (; st == ST_OK && lx->cur.kind == TK_ID; st = lex_next(lx)) {
        if (lex_is(lx, "query"))
            anns |= CANDID_ANN_QUERY;
        else if (lex_is(lx, "oneway"))
            anns |= CANDID_ANN_ONEWAY;
        else if (lex_is(lx, "composite_query"))
            anns |= CANDID_ANN_COMPOSITE_QUERY;
        else
            break;
    }
    if (st == ST_OK)
        st = node_with(env, CANDID_FUNC, &args, &rets, out);
    if (st == ST_OK)
        env->nodes[*out].anns = (uint8_t)anns;
    base_free(args.f);
    base_free(rets.f);
    return st;
}

static int method_cmp(const void *a, const void *b)
{
    const candid_field *x = a, *y = b;
    size_t m = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = m ? memcmp(x->name, y->name, m) : 0;
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static status actortype(lexer *lx, candid_env *env, candid_type *out)
{
    flist l = {0};
    status st = lex_expect(lx, TK_LBRACE, "expected '{'");
    while (st == ST_OK && lx->cur.kind != TK_RBRACE) {
        candid_field f = {0, CANDID_NULL, NULL, lx->cur.len};
        if (!name_token(lx)) {
            st = lex_fail(lx, ST_CANDID_SYNTAX, "expected a method name");
            break;
        }
        f.name = env_name_add(env, lx->cur.s, lx->cur.len);
        if (!f.name)
            st = ST_OUT_OF_MEMORY;
        f.id = f.name ? candid_name_hash(f.name, f.name_len) : 0;
        if (st == ST_OK)
            st = lex_next(lx);
        if (st == ST_OK)
            st = lex_expect(lx, TK_COLON, "expected ':' after a method name");
        if (st == ST_OK)
            st = lx->cur.kind == TK_LPAREN ? functype(lx, env, &f.type)
                                           : did_datatype(lx, env, &f.type);
        if (st == ST_OK)
            st = flist_add(&l, f);
        if (st == ST_OK && lx->cur.kind != TK_RBRACE)
            st = lex_expect(lx, TK_SEMI, "expected ';' or '}'");
    }
    if (st == ST_OK && l.n > 1) {
        qsort(l.f, l.n, sizeof *l.f, method_cmp);
        for (size_t i = 1; i < l.n && st == ST_OK; i++)
            if (method_cmp(&l.f[i - 1], &l.f[i]) == 0)
                st = lex_fail(lx, ST_CANDID_BAD_TYPE, "duplicate method name");
    }
    if (st == ST_OK)
        st = lex_next(lx);
    if (st == ST_OK)
        st = node_with(env, CANDID_SERVICE, &l, NULL, out);
    base_free(l.f);
    return st;
}

static const struct {
    const char *name;
    candid_kind kind;
} prims[] = {
    {"null", CANDID_NULL},         {"bool", CANDID_BOOL},       {"nat", CANDID_NAT},
    {"int", CANDID_INT},           {"nat8", CANDID_NAT8},       {"nat16", CANDID_NAT16},
    {"nat32", CANDID_NAT32},       {"nat64", CANDID_NAT64},     {"int8", CANDID_INT8},
    {"int16", CANDID_INT16},       {"int32", CANDID_INT32},     {"int64", CANDID_INT64},
    {"float32", CANDID_FLOAT32},   {"float64", CANDID_FLOAT64}, {"text", CANDID_TEXT},
    {"reserved", CANDID_RESERVED}, {"empty", CANDID_EMPTY},     {"principal", CANDID_PRINCIPAL},
};

static status datatype(lexer *lx, candid_env *env, candid_type *out)
{
    if (lx->cur.kind != TK_ID)
        return lex_fail(lx, ST_CANDID_SYNTAX, "expected a type");
    for (size_t i = 0; i < BASE_ARRAY_LEN(prims); i++)
        if (lex_is(lx, prims[i].name)) {
            *out = prims[i].kind;
            return lex_next(lx);
        }
    if (lex_is(lx, "opt") || lex_is(lx, "vec")) {
        int8_t kind = lex_is(lx, "opt") ? CANDID_OPT : CANDID_VEC;
        candid_type inner;
        TRY(lex_next(lx));
        TRY(did_datatype(lx, env, &inner));
        *out = env_node_add(env, kind);
        if (*out < 0)
            return ST_OUT_OF_MEMORY;
        env->nodes[*out].inner = inner;
        return ST_OK;
    }
    if (lex_is(lx, "blob")) {
        *out = env_node_add(env, CANDID_VEC);
        if (*out < 0)
            return ST_OUT_OF_MEMORY;
        env->nodes[*out].inner = CANDID_NAT8;
        return lex_next(lx);
    }
    if (lex_is(lx, "record") || lex_is(lx, "variant")) {
        int8_t kind = lex_is(lx, "record") ? CANDID_RECORD : CANDID_VARIANT;
        TRY(lex_next(lx));
        return fields(lx, env, kind, out);
    }
    if (lex_is(lx, "func")) {
        TRY(lex_next(lx));
        return functype(lx, env, out);
    }
    if (lex_is(lx, "service")) {
        TRY(lex_next(lx));
        return actortype(lx, env, out);
    }
    TRY(alias_get(env, lx->cur.s, lx->cur.len, out));
    return lex_next(lx);
}

status did_datatype(lexer *lx, candid_env *env, candid_type *out)
{
    if (++lx->depth > CANDID_TEXT_DEPTH)
        return lex_fail(lx, ST_CANDID_LIMIT, "types nested too deeply");
    status st = datatype(lx, env, out);
    lx->depth--;
    return st;
}

status did_check(candid_env *env, candid_error *err)
{
    for (size_t i = 0; i < env->nnodes; i++) {
        if (env->nodes[i].kind == CANDID_ALIAS && !env->nodes[i].defined) {
            if (err) {
                err->offset = 0;
                err->what = "type name used but never defined";
            }
            return ST_CANDID_UNKNOWN_NAME;
        }
    }
    for (size_t i = 0; i < env->nnodes; i++) {
        if (env->nodes[i].kind != CANDID_ALIAS)
            continue;
        candid_type t = (candid_type)i;
        size_t hops = 0;
        while (t >= 0 && env->nodes[t].kind == CANDID_ALIAS && hops++ <= env->nnodes)
            t = env->nodes[t].inner;
        if (t >= 0 && env->nodes[t].kind == CANDID_ALIAS) {
            if (err) {
                err->offset = 0;
                err->what = "type definition refers only to itself";
            }
            return ST_CANDID_BAD_TYPE;
        }
    }
    return ST_OK;
}

static status definition(lexer *lx, candid_env *env)
{
    TRY(lex_next(lx));
    if (lx->cur.kind != TK_ID)
        return lex_fail(lx, ST_CANDID_SYNTAX, "expected a type name");
    candid_type alias, t;
    TRY(alias_get(env, lx->cur.s, lx->cur.len, &alias));
    if (env->nodes[alias].defined)
        return lex_fail(lx, ST_CANDID_UNKNOWN_NAME, "type name defined twice");
    TRY(lex_next(lx));
    TRY(lex_expect(lx, TK_EQ, "expected '='"));
    TRY(did_datatype(lx, env, &t));
    env->nodes[alias].inner = t;
    env->nodes[alias].defined = true;
    return ST_OK;
}

/* service [name] : [(args) ->] ({ methods } | name) */
static status service(lexer *lx, candid_env *env)
{
    TRY(lex_next(lx));
    if (lx->cur.kind == TK_ID)
        TRY(lex_next(lx));
    TRY(lex_expect(lx, TK_COLON, "expected ':' after service"));
    if (lx->cur.kind == TK_LPAREN) { /* init arguments, kept as a func's parameters */
        flist args = {0}, none = {0};
        status st = tuple(lx, env, &args);
        if (st == ST_OK)
            st = node_with(env, CANDID_FUNC, &args, &none, &env->init);
        base_free(args.f);
        TRY(st);
        env->has_init = true;
        TRY(lex_expect(lx, TK_ARROW, "expected '->'"));
    }
    candid_type t;
    TRY(lx->cur.kind == TK_LBRACE ? actortype(lx, env, &t) : did_datatype(lx, env, &t));
    env->service = t;
    env->has_service = true;
    if (lx->cur.kind == TK_SEMI)
        TRY(lex_next(lx));
    return ST_OK;
}

status candid_did_parse(candid_env *env, span text, candid_error *err)
{
    candid_arena *a = candid_arena_new();
    if (!a)
        return ST_OUT_OF_MEMORY;
    env_mark mark = env_mark_get(env);
    lexer lx;
    status st = lex_init(&lx, a, text, err);
    while (st == ST_OK && lx.cur.kind != TK_EOF) {
        if (lex_is(&lx, "type")) {
            st = definition(&lx, env);
            if (st == ST_OK)
                st = lex_expect(&lx, TK_SEMI, "expected ';' after a type definition");
        } else if (lex_is(&lx, "service")) {
            st = service(&lx, env);
            if (st == ST_OK && lx.cur.kind != TK_EOF)
                st = lex_fail(&lx, ST_CANDID_SYNTAX, "nothing may follow the service");
        } else {
            st = lex_fail(&lx, ST_CANDID_SYNTAX,
                          lex_is(&lx, "import") ? "imports are not supported"
                                                : "expected 'type' or 'service'");
        }
    }
    if (st == ST_OK)
        st = did_check(env, err);
    if (st != ST_OK)
        env_rollback(env, mark);
    candid_arena_free(a);
    return st;
}

status candid_types_parse(candid_env *env, span text, candid_type *types, size_t cap, size_t *n,
                          candid_error *err)
{
    candid_arena *a = candid_arena_new();
    if (!a)
        return ST_OUT_OF_MEMORY;
    env_mark mark = env_mark_get(env);
    lexer lx;
    flist l = {0};
    status st = lex_init(&lx, a, text, err);
    if (st == ST_OK)
        st = tuple(&lx, env, &l);
    if (st == ST_OK && lx.cur.kind != TK_EOF)
        st = lex_fail(&lx, ST_CANDID_SYNTAX, "text after the type list");
    if (st == ST_OK && l.n > cap)
        st = lex_fail(&lx, ST_CANDID_LIMIT, "more types than room for them");
    for (size_t i = 0; st == ST_OK && i < l.n; i++)
        types[i] = l.f[i].type;
    if (st == ST_OK) {
        *n = l.n;
        st = did_check(env, err);
    }
    if (st != ST_OK)
        env_rollback(env, mark);
    base_free(l.f);
    candid_arena_free(a);
    return st;
}
