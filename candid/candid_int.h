/* candid_int.h - what the files of candid/ share and no one else sees: the layout of type
 * environments and arenas, bignum helpers, the text lexer. */
#ifndef TALLY_CANDID_INT_H
#define TALLY_CANDID_INT_H

#include "candid.h"

/* TRY(expr): return expr's status unless it is ST_OK. A deliberate exception to STYLE.md's
 * "no macros that hide return": the encoder, decoder and parsers here are long sequences of
 * fallible steps (150 of them), and spelling each as `if ((st = ...) != ST_OK) return st;`
 * would double those functions without making the control flow any plainer. The name says
 * it returns; it is used only at statement level, never where cleanup is due. */
#define TRY(expr)                                                                                 \
    do {                                                                                          \
        status st_ = (expr);                                                                      \
        if (st_ != ST_OK)                                                                         \
            return st_;                                                                           \
    } while (0)

/* ---- type environments -------------------------------------------------------------------- */

/* A composite type. Fields of records/variants/services and the args then rets of a func are a
 * run [first, first + n (+ n2)) of env->fields. */
typedef struct cnode {
    int8_t kind;       /* CANDID_OPT ... CANDID_SERVICE, CANDID_ALIAS, CANDID_FUTURE */
    uint8_t anns;      /* func: CANDID_ANN_* */
    bool defined;      /* alias: its definition was seen */
    candid_type inner; /* opt, vec: element; alias: target */
    uint32_t first;    /* first field */
    uint32_t n;        /* fields, methods or args */
    uint32_t n2;       /* func: results */
    const char *name;  /* alias: its name (NUL-terminated, in env->strs) */
} cnode;

struct candid_env {
    cnode *nodes;
    size_t nnodes, capnodes;
    candid_field *fields;
    size_t nfields, capfields;
    candid_arena *strs; /* field, method and alias names (stable, NUL-terminated) */
    candid_type service;
    bool has_service;
    candid_type init; /* a func node whose parameters are the service's init arguments */
    bool has_init;
};

/* What an environment holds at one moment, to undo a parse that failed half way (so that no
 * undefined name is left behind). */
typedef struct env_mark {
    size_t nnodes, nfields;
    candid_type service, init;
    bool has_service, has_init;
} env_mark;
env_mark env_mark_get(const candid_env *env);
void env_rollback(candid_env *env, env_mark m);

/* Append a node (zeroed but for kind) and return its index, or -1 when out of memory. */
candid_type env_node_add(candid_env *env, int8_t kind);
/* Reserve n fields at the end; returns the index of the first, or UINT32_MAX when out of memory. */
uint32_t env_fields_add(candid_env *env, size_t n);
/* A stable NUL-terminated copy of a name, or NULL when out of memory. */
const char *env_name_add(candid_env *env, const char *s, size_t len);
/* The node of composite t (t >= 0). */
static inline const cnode *env_node(const candid_env *env, candid_type t)
{
    return &env->nodes[t];
}
/* True if null <: t (t is null, opt or reserved). */
bool env_nullish(const candid_env *env, candid_type t);
/* True for the opcodes of primitive types. */
bool candid_kind_is_primitive(int64_t op);
/* The text name of a primitive kind ("nat"), or NULL. */
const char *candid_prim_name(candid_kind k);
/* Sort fields[0..n) by id; ST_CANDID_BAD_TYPE on a duplicate id. */
status env_fields_sort(candid_field *f, size_t n);

/* Make room in a heap array *p of *cap elements of size elem for `need` (doubling; at least
 * 8): ST_OK or ST_OUT_OF_MEMORY (the array unchanged). */
status candid_grow(void **p, size_t *cap, size_t need, size_t elem);

/* ---- arena -------------------------------------------------------------------------------- */

/* Zeroed memory for n bytes (8-aligned) that lives until the arena is freed, or NULL. */
void *arena_alloc(candid_arena *a, size_t n);
/* Make v a FUNC value: its two items (a PRINCIPAL and a TEXT, empty), or NULL. */
candid_value *func_items(candid_arena *a, candid_value *v);

/* ---- subtyping (subtype.c) ---------------------------------------------------------------- */

typedef struct subcheck subcheck;
/* A memo of subtype answers between types of two environments; cost is charged 1 per pair and
 * field looked at, against *cost_left. */
subcheck *subcheck_new(void);
void subcheck_free(subcheck *s);
/* ST_OK with *yes = (t1 of e1 <: t2 of e2), ST_CANDID_LIMIT (depth or cost), ST_OUT_OF_MEMORY. */
status subcheck_run(subcheck *s, const candid_env *e1, candid_type t1, const candid_env *e2,
                    candid_type t2, uint32_t max_depth, uint64_t *cost_left, bool *yes);

/* ---- numbers (num.c) ---------------------------------------------------------------------- */

/* Decode an unsigned or signed LEB128 number of any length at [*p, end) into a NAT/INT value
 * (limbs in arena a); ST_CANDID_TRUNCATED if it does not end before end. */
status num_leb_read(candid_arena *a, const uint8_t **p, const uint8_t *end, bool is_signed,
                    candid_value *v);
/* Append the (S)LEB128 encoding of a NAT/INT value. */
status num_leb_write(const candid_value *v, bool is_signed, buf *out);
/* Parse decimal digits (or 0x hex) with '_' separators into v's limbs: ST_OK or
 * ST_CANDID_SYNTAX. */
status num_parse(candid_arena *a, const char *s, size_t len, candid_value *v);
/* Append the decimal form of v (NAT/INT, with '-' if negative). */
status num_print(const candid_value *v, buf *out);
/* Set v (kind kept) to the magnitude of x. */
status num_set_u64(candid_arena *a, uint64_t x, candid_value *v);
/* Append a float's shortest text that reads back to the same value (always with '.' or 'e'). */
status num_print_float(double x, bool single, buf *out);

/* ---- lexer (lex.c) -------------------------------------------------------------------------- */

typedef enum tok_kind {
    TK_EOF,
    TK_ID,
    TK_NUM,
    TK_TEXT,
    TK_LPAREN,
    TK_RPAREN,
    TK_LBRACE,
    TK_RBRACE,
    TK_SEMI,
    TK_COMMA,
    TK_COLON,
    TK_EQ,
    TK_DOT,
    TK_ARROW,
    TK_MINUS,
    TK_PLUS,
    TK_BANGCOLON,
    TK_EQEQ,
    TK_NEQ,
} tok_kind;

typedef struct tok {
    tok_kind kind;
    size_t off;    /* byte offset in the text */
    const char *s; /* ID, NUM: the source text; TEXT: the decoded bytes (arena) */
    size_t len;
    bool is_float; /* NUM: has '.', an exponent */
} tok;

typedef struct lexer {
    const char *src;
    size_t len, pos;
    candid_arena *arena;
    tok cur;
    candid_error *err;
    unsigned depth;
} lexer;

/* Start lexing text; the first token is in lx->cur. */
status lex_init(lexer *lx, candid_arena *a, span text, candid_error *err);
/* Move to the next token. */
status lex_next(lexer *lx);
/* Record a syntax error at the current token. */
status lex_fail(lexer *lx, status st, const char *what);
/* True if the current token is identifier (keyword) `word`. */
bool lex_is(const lexer *lx, const char *word);
/* Consume a token of kind k, or fail with ST_CANDID_SYNTAX naming what. */
status lex_expect(lexer *lx, tok_kind k, const char *what);

/* Parse a data type (did.c), for the value parser's annotations. */
status did_datatype(lexer *lx, candid_env *env, candid_type *out);
/* Check every alias of env is defined and productive (did.c). */
status did_check(candid_env *env, candid_error *err);

/* Nesting limit of the text parsers. */
#define CANDID_TEXT_DEPTH 200u

#endif
