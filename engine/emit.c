/* emit.c - the compiled tier's code generator: a validated module (the instrumented one, when
 * metered) in, one C translation unit out (docs/engine.md "The compiled tier").
 *
 * One pass per function body over engine_insn_read, with a compile-time model of the operand
 * stack: the entry at height h of type t lives in the C variable i<h> (i32, f32: uint32_t) or
 * l<h> (i64, f64, references: uint64_t), local k in v<k>. Blocks are labels, branches copy the
 * carried values into the target's heights and `goto`. Every instruction computes with the
 * helpers of ops.h (the interpreter's own definitions) or an expression written like its vm.c
 * handler, and traps exactly where the interpreter does, with the same status. Calls count depth
 * and value slots as vm.c does (the callee's frame starts at the caller's fp + the home slot of
 * its first argument, compile.c), and everything slow (host calls, indirect calls, tables, bulk
 * operations, memory.grow) goes back into the engine through nat_rt (native_abi.h).
 *
 * Nothing of the module's text reaches the source: functions, labels and variables are named by
 * indices only, and constants are printed as numbers. */
#include "engine_int.h"
#include "native_abi.h"
#include "ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- output ------------------------------------------------------------------------------- */

typedef struct out {
    buf *b;
    status st;
    size_t limit;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    if (o->st != ST_OK)
        return;
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        o->st = BUG();
        return;
    }
    if (o->b->len + (size_t)n > o->limit) {
        o->st = ST_LIMIT_EXCEEDED;
        return;
    }
    o->st = buf_put(o->b, tmp, (size_t)n);
}
static void puts_(out *o, const char *s)
{
    if (o->st != ST_OK)
        return;
    size_t n = strlen(s);
    if (o->b->len + n > o->limit) {
        o->st = ST_LIMIT_EXCEEDED;
        return;
    }
    o->st = buf_put(o->b, s, n);
}

/* ---- types -------------------------------------------------------------------------------- */

static bool is32(uint8_t t)
{
    return t == VT_I32 || t == VT_F32;
}
static char cls(uint8_t t)
{
    return is32(t) ? 'i' : 'l';
}
static const char *ctype(uint8_t t)
{
    return is32(t) ? "uint32_t" : "uint64_t";
}

/* ---- per-function state ------------------------------------------------------------------- */

enum { K_BLOCK, K_LOOP, K_IF, K_FUNC };

/* How a function uses a global: each one it touches lives in a C local g<k> (loaded on entry),
 * so the per-block metering counter stays in a register. Mutable ones are written back (GW)
 * before anything can look at the instance (calls out, traps, the return) and read again (GR)
 * after calls out, which may change them. */
enum { G_READ = 1, G_SET = 2 };

/* The register global: the mutable global set most often in the module (the metering counter
 * of an instrumented one) is passed to every defined function as an argument and handed back
 * with its result (nat_r2), so direct calls neither store nor reload it. It is written to the
 * instance only where something else may look: before calls out and traps (GW). Every function
 * counts it as read and set, since its callees may change it. */
#define NO_RG UINT32_MAX

typedef struct ectl {
    uint8_t kind;
    bool dead;     /* the rest of the frame is unreachable */
    bool has_else; /* K_IF: else seen */
    uint32_t h;    /* height below the params */
    uint32_t np, nr;
    const uint8_t *pt, *rt; /* param and result types */
    uint8_t one;            /* a single result type lives here (rt = NULL means use it) */
    uint32_t label;
} ectl;

typedef struct fstate {
    const engine_code *code;
    const engine_module *m;
    out *o;
    uint8_t *ts;  /* type at each height */
    uint8_t *nan; /* per height: a float whose NaN is not yet canonical (see keeps_nan) */
    uint32_t h, cap, maxi, maxl;
    ectl *cs;
    uint32_t ch, ccap;
    uint32_t nlabels;
    uint32_t nparams, nlocals_all; /* params + declared locals */
    const uint8_t *ltypes;         /* type of every local, params first */
    uint32_t skip;                 /* nesting depth inside dead code */
    uint8_t *gused;                /* per global: G_READ, G_SET (bits) */
    uint32_t rg;                   /* the global passed in registers (emit_module), or NO_RG */
    bool has_mem;
    /* Scratch variables, declared once at the top of the function (never in a block: TinyCC
       gives every block-scoped declaration a stack slot of its own, so frames would grow with
       the function's length; docs/engine.md "The quick route"): */
    uint32_t nca;    /* ca_[]: arguments and results of generic and multi-result calls */
    uint32_t npsave; /* p<depth>_<i>: an `if`'s params, per nesting depth */
    uint32_t pdepth;
    uint32_t mv; /* bit per memop C type used (mv_of) */
    bool trunc;  /* tr_, ts_: a trapping float-to-int conversion */
    status st;
} fstate;

static uint8_t ctl_rt(const ectl *c, uint32_t i)
{
    return c->rt ? c->rt[i] : c->one;
}
static uint8_t ctl_pt(const ectl *c, uint32_t i)
{
    return c->pt[i];
}

static void push(fstate *f, uint8_t t)
{
    if (f->h == f->cap) {
        uint32_t nc = f->cap ? f->cap * 2 : 64;
        uint8_t *p = base_realloc(f->ts, nc);
        if (p)
            f->ts = p;
        uint8_t *q = p ? base_realloc(f->nan, nc) : NULL;
        if (!q) {
            f->st = ST_OUT_OF_MEMORY;
            return;
        }
        f->nan = q;
        f->cap = nc;
    }
    f->ts[f->h] = t;
    f->nan[f->h] = 0;
    if (is32(t) && f->h + 1 > f->maxi)
        f->maxi = f->h + 1;
    if (!is32(t) && f->h + 1 > f->maxl)
        f->maxl = f->h + 1;
    f->h++;
}
static uint32_t pop(fstate *f)
{
    if (f->h == 0) {
        f->st = BUG();
        return 0;
    }
    return --f->h;
}
/* The variable of height h. */
#define V(h) cls(f->ts[(h)]), (unsigned)(h)

static ectl *ctl_push(fstate *f, uint8_t kind, const engine_insn *in)
{
    if (f->ch == f->ccap) {
        uint32_t nc = f->ccap ? f->ccap * 2 : 16;
        ectl *p = base_realloc(f->cs, nc * sizeof *p);
        if (!p) {
            f->st = ST_OUT_OF_MEMORY;
            return NULL;
        }
        f->cs = p;
        f->ccap = nc;
    }
    ectl *c = &f->cs[f->ch++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->label = f->nlabels++;
    if (in) {
        if (in->type == 0) {
            const functype *ft = &f->m->types[in->a];
            c->np = ft->nparams;
            c->nr = ft->nresults;
            c->pt = ft->types;
            c->rt = ft->types + ft->nparams;
        } else if (in->type != 0x40) {
            c->nr = 1;
            c->one = in->type;
        }
    }
    if (f->h < c->np) {
        f->st = BUG();
        return c;
    }
    c->h = f->h - c->np;
    return c;
}

/* Arity and types carried by a branch to c. */
static uint32_t br_arity(const ectl *c)
{
    return c->kind == K_LOOP ? c->np : c->nr;
}

/* Copies the top n values to heights c->h.. and jumps to c's label. */
static void emit_br(fstate *f, const ectl *c)
{
    uint32_t n = br_arity(c);
    if (f->h < n) {
        f->st = BUG();
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = f->h - n + i, d = c->h + i;
        if (s != d) /* the carried value's type, whatever height d holds now */
            put(f->o, "%c%u = %c%u; ", cls(f->ts[s]), d, V(s));
    }
    if (c->kind == K_LOOP)
        put(f->o, "goto L%u;", c->label);
    else
        put(f->o, "goto E%u;", c->label);
}

/* ---- instruction templates ---------------------------------------------------------------- */

/* Pure numeric instructions: how the operands are read (R: raw bits as uint32_t/uint64_t by
 * type; F: as float/double) and the expression of the result, written like vm.c's handlers. */
typedef struct tmpl {
    char mode;
    const char *expr;
} tmpl;

static tmpl tmpl_of(opcode op)
{
    switch (op) {
    /* clang-format off */
    case OP_I32_EQZ: case OP_I64_EQZ: return (tmpl){'R', "a == 0"};
    case OP_I32_CLZ: return (tmpl){'R', "a ? (uint32_t)__builtin_clz(a) : 32"};
    case OP_I32_CTZ: return (tmpl){'R', "a ? (uint32_t)__builtin_ctz(a) : 32"};
    case OP_I32_POPCNT: return (tmpl){'R', "(uint32_t)__builtin_popcount(a)"};
    case OP_I64_CLZ: return (tmpl){'R', "a ? (uint64_t)__builtin_clzll(a) : 64"};
    case OP_I64_CTZ: return (tmpl){'R', "a ? (uint64_t)__builtin_ctzll(a) : 64"};
    case OP_I64_POPCNT: return (tmpl){'R', "(uint64_t)__builtin_popcountll(a)"};
    case OP_F32_ABS: return (tmpl){'R', "a & 0x7fffffffu"};
    case OP_F32_NEG: return (tmpl){'R', "a ^ 0x80000000u"};
    case OP_F32_CEIL: return (tmpl){'F', "canon32(ceilf(a))"};
    case OP_F32_FLOOR: return (tmpl){'F', "canon32(floorf(a))"};
    case OP_F32_TRUNC: return (tmpl){'F', "canon32(truncf(a))"};
    case OP_F32_NEAREST: return (tmpl){'F', "canon32(nearest32(a))"};
    case OP_F32_SQRT: return (tmpl){'F', "canon32(sqrtf(a))"};
    case OP_F64_ABS: return (tmpl){'R', "a & ~((uint64_t)1 << 63)"};
    case OP_F64_NEG: return (tmpl){'R', "a ^ ((uint64_t)1 << 63)"};
    case OP_F64_CEIL: return (tmpl){'F', "canon64(ceil(a))"};
    case OP_F64_FLOOR: return (tmpl){'F', "canon64(floor(a))"};
    case OP_F64_TRUNC: return (tmpl){'F', "canon64(trunc(a))"};
    case OP_F64_NEAREST: return (tmpl){'F', "canon64(nearest64(a))"};
    case OP_F64_SQRT: return (tmpl){'F', "canon64(sqrt(a))"};
    case OP_I32_WRAP_I64: return (tmpl){'R', "(uint32_t)a"};
    case OP_I64_EXTEND_I32_S: return (tmpl){'R', "(uint64_t)(int64_t)(int32_t)a"};
    case OP_I64_EXTEND_I32_U: return (tmpl){'R', "(uint64_t)a"};
    case OP_F32_CONVERT_I32_S: return (tmpl){'R', "bits32((float)(int32_t)a)"};
    case OP_F32_CONVERT_I32_U: return (tmpl){'R', "bits32((float)a)"};
    case OP_F32_CONVERT_I64_S: return (tmpl){'R', "bits32((float)(int64_t)a)"};
    case OP_F32_CONVERT_I64_U: return (tmpl){'R', "bits32((float)a)"};
    case OP_F32_DEMOTE_F64: return (tmpl){'F', "canon32((float)a)"};
    case OP_F64_CONVERT_I32_S: return (tmpl){'R', "bits64((double)(int32_t)a)"};
    case OP_F64_CONVERT_I32_U: return (tmpl){'R', "bits64((double)a)"};
    case OP_F64_CONVERT_I64_S: return (tmpl){'R', "bits64((double)(int64_t)a)"};
    case OP_F64_CONVERT_I64_U: return (tmpl){'R', "bits64((double)a)"};
    case OP_F64_PROMOTE_F32: return (tmpl){'F', "canon64((double)a)"};
    case OP_I32_REINTERPRET_F32: case OP_I64_REINTERPRET_F64:
    case OP_F32_REINTERPRET_I32: case OP_F64_REINTERPRET_I64: return (tmpl){'R', "a"};
    case OP_I32_EXTEND8_S: return (tmpl){'R', "(uint32_t)(int32_t)(int8_t)a"};
    case OP_I32_EXTEND16_S: return (tmpl){'R', "(uint32_t)(int32_t)(int16_t)a"};
    case OP_I64_EXTEND8_S: return (tmpl){'R', "(uint64_t)(int64_t)(int8_t)a"};
    case OP_I64_EXTEND16_S: return (tmpl){'R', "(uint64_t)(int64_t)(int16_t)a"};
    case OP_I64_EXTEND32_S: return (tmpl){'R', "(uint64_t)(int64_t)(int32_t)a"};
    case OP_I32_TRUNC_SAT_F32_S: case OP_I32_TRUNC_SAT_F64_S: return (tmpl){'F', "sat_i32_s((double)a)"};
    case OP_I32_TRUNC_SAT_F32_U: case OP_I32_TRUNC_SAT_F64_U: return (tmpl){'F', "sat_i32_u((double)a)"};
    case OP_I64_TRUNC_SAT_F32_S: case OP_I64_TRUNC_SAT_F64_S: return (tmpl){'F', "sat_i64_s((double)a)"};
    case OP_I64_TRUNC_SAT_F32_U: case OP_I64_TRUNC_SAT_F64_U: return (tmpl){'F', "sat_i64_u((double)a)"};
    case OP_I32_EQ: case OP_I64_EQ: return (tmpl){'R', "a == b"};
    case OP_I32_NE: case OP_I64_NE: return (tmpl){'R', "a != b"};
    case OP_I32_LT_S: return (tmpl){'R', "(int32_t)a < (int32_t)b"};
    case OP_I32_GT_S: return (tmpl){'R', "(int32_t)a > (int32_t)b"};
    case OP_I32_LE_S: return (tmpl){'R', "(int32_t)a <= (int32_t)b"};
    case OP_I32_GE_S: return (tmpl){'R', "(int32_t)a >= (int32_t)b"};
    case OP_I64_LT_S: return (tmpl){'R', "(int64_t)a < (int64_t)b"};
    case OP_I64_GT_S: return (tmpl){'R', "(int64_t)a > (int64_t)b"};
    case OP_I64_LE_S: return (tmpl){'R', "(int64_t)a <= (int64_t)b"};
    case OP_I64_GE_S: return (tmpl){'R', "(int64_t)a >= (int64_t)b"};
    case OP_I32_LT_U: case OP_I64_LT_U: return (tmpl){'R', "a < b"};
    case OP_I32_GT_U: case OP_I64_GT_U: return (tmpl){'R', "a > b"};
    case OP_I32_LE_U: case OP_I64_LE_U: return (tmpl){'R', "a <= b"};
    case OP_I32_GE_U: case OP_I64_GE_U: return (tmpl){'R', "a >= b"};
    case OP_F32_EQ: case OP_F64_EQ: return (tmpl){'F', "a == b"};
    case OP_F32_NE: case OP_F64_NE: return (tmpl){'F', "a != b"};
    case OP_F32_LT: case OP_F64_LT: return (tmpl){'F', "a < b"};
    case OP_F32_GT: case OP_F64_GT: return (tmpl){'F', "a > b"};
    case OP_F32_LE: case OP_F64_LE: return (tmpl){'F', "a <= b"};
    case OP_F32_GE: case OP_F64_GE: return (tmpl){'F', "a >= b"};
    case OP_I32_ADD: case OP_I64_ADD: return (tmpl){'R', "a + b"};
    case OP_I32_SUB: case OP_I64_SUB: return (tmpl){'R', "a - b"};
    case OP_I32_MUL: case OP_I64_MUL: return (tmpl){'R', "a * b"};
    case OP_I32_AND: case OP_I64_AND: return (tmpl){'R', "a & b"};
    case OP_I32_OR: case OP_I64_OR: return (tmpl){'R', "a | b"};
    case OP_I32_XOR: case OP_I64_XOR: return (tmpl){'R', "a ^ b"};
    case OP_I32_SHL: return (tmpl){'R', "a << (b & 31)"};
    case OP_I32_SHR_S: return (tmpl){'R', "(uint32_t)((int32_t)a >> (b & 31))"};
    case OP_I32_SHR_U: return (tmpl){'R', "a >> (b & 31)"};
    case OP_I32_ROTL: return (tmpl){'R', "rotl32(a, b)"};
    case OP_I32_ROTR: return (tmpl){'R', "rotr32(a, b)"};
    case OP_I64_SHL: return (tmpl){'R', "a << (b & 63)"};
    case OP_I64_SHR_S: return (tmpl){'R', "(uint64_t)((int64_t)a >> (b & 63))"};
    case OP_I64_SHR_U: return (tmpl){'R', "a >> (b & 63)"};
    case OP_I64_ROTL: return (tmpl){'R', "rotl64(a, b)"};
    case OP_I64_ROTR: return (tmpl){'R', "rotr64(a, b)"};
    case OP_F32_ADD: return (tmpl){'F', "canon32(a + b)"};
    case OP_F32_SUB: return (tmpl){'F', "canon32(a - b)"};
    case OP_F32_MUL: return (tmpl){'F', "canon32(a * b)"};
    case OP_F32_DIV: return (tmpl){'F', "canon32(a / b)"};
    case OP_F32_MIN: return (tmpl){'R', "min32(a, b)"};
    case OP_F32_MAX: return (tmpl){'R', "max32(a, b)"};
    case OP_F32_COPYSIGN: return (tmpl){'R', "(a & 0x7fffffffu) | (b & 0x80000000u)"};
    case OP_F64_ADD: return (tmpl){'F', "canon64(a + b)"};
    case OP_F64_SUB: return (tmpl){'F', "canon64(a - b)"};
    case OP_F64_MUL: return (tmpl){'F', "canon64(a * b)"};
    case OP_F64_DIV: return (tmpl){'F', "canon64(a / b)"};
    case OP_F64_MIN: return (tmpl){'R', "min64(a, b)"};
    case OP_F64_MAX: return (tmpl){'R', "max64(a, b)"};
    case OP_F64_COPYSIGN: return (tmpl){'R', "(a & ~((uint64_t)1 << 63)) | (b & ((uint64_t)1 << 63))"};
    case OP_REF_IS_NULL: return (tmpl){'R', "a == 0"};
    default: return (tmpl){0, NULL};
        /* clang-format on */
    }
}

static uint8_t sig_type(char c)
{
    switch (c) {
    case 'i': return VT_I32;
    case 'I': return VT_I64;
    case 'f': return VT_F32;
    case 'F': return VT_F64;
    default: return 0;
    }
}

/* The operand variable of height h as the template reads it (mode 'F': as float/double). */
static void bind(const fstate *f, char mode, uint32_t h, char *dst, size_t len)
{
    uint8_t t = f->ts[h];
    if (mode == 'F' && t == VT_F32)
        snprintf(dst, len, "f32_of(i%u)", h);
    else if (mode == 'F' && t == VT_F64)
        snprintf(dst, len, "f64_of(l%u)", h);
    else
        snprintf(dst, len, "%c%u", V(h));
}

/* expr with every one-letter identifier x (y) replaced by (rx) ((ry)): the operands are read
   where the template names them, so no block-scoped temporary is declared (operands are
   variables or pure reads of them). False if the result does not fit. */
static bool subst(const char *expr, char x, const char *rx, char y, const char *ry, char *dst,
                  size_t len)
{
    size_t n = 0;
    for (const char *p = expr; *p;) {
        const char *rep = NULL;
        size_t id = 0;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_') {
            while ((p[id] >= 'a' && p[id] <= 'z') || (p[id] >= 'A' && p[id] <= 'Z') ||
                   (p[id] >= '0' && p[id] <= '9') || p[id] == '_')
                id++;
            if (id == 1 && *p == x)
                rep = rx;
            else if (id == 1 && *p == y)
                rep = ry;
        } else {
            id = 1;
        }
        int w = rep ? snprintf(dst + n, len - n, "(%s)", rep)
                    : snprintf(dst + n, len - n, "%.*s", (int)id, p);
        if (w < 0 || (size_t)w >= len - n)
            return false;
        n += (size_t)w;
        p += id;
    }
    return true;
}

static void emit_numeric(fstate *f, opcode op)
{
    const char *sig = engine_opcodes[op].sig;
    const char *gt = strchr(sig, '>');
    tmpl tp = tmpl_of(op);
    uint32_t nin = op == OP_REF_IS_NULL ? 1 : gt ? (uint32_t)(gt - sig) : 3;
    if (!tp.expr || nin > 2 || f->h < nin) {
        f->st = BUG();
        return;
    }
    uint8_t rt = gt ? sig_type(gt[1]) : VT_I32;
    uint32_t base = f->h - nin;
    /* ref.is_null ("*"): its reference operand is read raw */
    char ra[32], rb[32] = "", e[400];
    bind(f, sig[0] == 'i' || sig[0] == 'I' || !gt ? 'R' : tp.mode, base, ra, sizeof ra);
    if (nin == 2)
        bind(f, tp.mode, base + 1, rb, sizeof rb);
    f->h = base;
    push(f, rt);
    /* float arithmetic: its NaN is canonicalized when something looks at the bits (keeps_nan) */
    bool lazy = !strncmp(tp.expr, "canon", 5);
    if (!subst(lazy ? tp.expr + 5 : tp.expr, 'a', ra, 'b', rb, e, sizeof e)) {
        f->st = BUG();
        return;
    }
    if (lazy && f->st == ST_OK) {
        f->nan[base] = 1;
        put(f->o, "%c%u = (%s)(bits%s);\n", V(base), ctype(rt), e);
        return;
    }
    put(f->o, "%c%u = (%s)(%s);\n", V(base), ctype(rt), e);
}

/* ---- the instructions with more to them ---------------------------------------------------- */

static const char *trunc_fn(opcode op)
{
    switch (op) {
    case OP_I32_TRUNC_F32_S:
    case OP_I32_TRUNC_F64_S: return "trunc_i32_s";
    case OP_I32_TRUNC_F32_U:
    case OP_I32_TRUNC_F64_U: return "trunc_i32_u";
    case OP_I64_TRUNC_F32_S:
    case OP_I64_TRUNC_F64_S: return "trunc_i64_s";
    case OP_I64_TRUNC_F32_U:
    case OP_I64_TRUNC_F64_U: return "trunc_i64_u";
    default: return NULL;
    }
}

typedef struct memop {
    const char *ctype; /* C type moved */
    unsigned size;
    const char *conv; /* load: expression of v */
    uint8_t vt;       /* value type */
} memop;

static bool memop_of(opcode op, memop *mo)
{
    switch (op) {
    /* clang-format off */
    case OP_I32_LOAD: *mo = (memop){"uint32_t", 4, "v", VT_I32}; return true;
    case OP_I64_LOAD: *mo = (memop){"uint64_t", 8, "v", VT_I64}; return true;
    case OP_F32_LOAD: *mo = (memop){"uint32_t", 4, "v", VT_F32}; return true;
    case OP_F64_LOAD: *mo = (memop){"uint64_t", 8, "v", VT_F64}; return true;
    case OP_I32_LOAD8_S: *mo = (memop){"int8_t", 1, "(uint32_t)(int32_t)v", VT_I32}; return true;
    case OP_I32_LOAD8_U: *mo = (memop){"uint8_t", 1, "(uint32_t)v", VT_I32}; return true;
    case OP_I32_LOAD16_S: *mo = (memop){"int16_t", 2, "(uint32_t)(int32_t)v", VT_I32}; return true;
    case OP_I32_LOAD16_U: *mo = (memop){"uint16_t", 2, "(uint32_t)v", VT_I32}; return true;
    case OP_I64_LOAD8_S: *mo = (memop){"int8_t", 1, "(uint64_t)(int64_t)v", VT_I64}; return true;
    case OP_I64_LOAD8_U: *mo = (memop){"uint8_t", 1, "(uint64_t)v", VT_I64}; return true;
    case OP_I64_LOAD16_S: *mo = (memop){"int16_t", 2, "(uint64_t)(int64_t)v", VT_I64}; return true;
    case OP_I64_LOAD16_U: *mo = (memop){"uint16_t", 2, "(uint64_t)v", VT_I64}; return true;
    case OP_I64_LOAD32_S: *mo = (memop){"int32_t", 4, "(uint64_t)(int64_t)v", VT_I64}; return true;
    case OP_I64_LOAD32_U: *mo = (memop){"uint32_t", 4, "(uint64_t)v", VT_I64}; return true;
    case OP_I32_STORE: *mo = (memop){"uint32_t", 4, NULL, VT_I32}; return true;
    case OP_I64_STORE: *mo = (memop){"uint64_t", 8, NULL, VT_I64}; return true;
    case OP_F32_STORE: *mo = (memop){"uint32_t", 4, NULL, VT_F32}; return true;
    case OP_F64_STORE: *mo = (memop){"uint64_t", 8, NULL, VT_F64}; return true;
    case OP_I32_STORE8: *mo = (memop){"uint8_t", 1, NULL, VT_I32}; return true;
    case OP_I32_STORE16: *mo = (memop){"uint16_t", 2, NULL, VT_I32}; return true;
    case OP_I64_STORE8: *mo = (memop){"uint8_t", 1, NULL, VT_I64}; return true;
    case OP_I64_STORE16: *mo = (memop){"uint16_t", 2, NULL, VT_I64}; return true;
    case OP_I64_STORE32: *mo = (memop){"uint32_t", 4, NULL, VT_I64}; return true;
    default: return false;
        /* clang-format on */
    }
}

/* The memory scratch variable mv_<k> of a memop's C type. */
static const char *const mv_types[] = {"int8_t",  "uint8_t",  "int16_t", "uint16_t",
                                       "int32_t", "uint32_t", "uint64_t"};
static int mv_of(const char *ctype)
{
    for (int k = 0; k < (int)BASE_ARRAY_LEN(mv_types); k++)
        if (!strcmp(mv_types[k], ctype))
            return k;
    return 0;
}

/* Lazy NaN canonicalization. The interpreter canonicalizes every float arithmetic result; the
 * compiled code leaves a result raw while only float arithmetic, comparisons, min/max and
 * conversions to integers consume it: these see the same values and the same NaN-ness whatever
 * the NaN's bits (an operation on a NaN gives a NaN, its canonical form is one), so their own
 * results are those of the interpreter once canonical. Everything else (stores, bit operations,
 * reinterpretations, locals, globals, calls, every branch and block boundary) first canonicalizes
 * every raw value on the stack, which restores the interpreter's very bits. */
static bool keeps_nan(opcode op)
{
    memop mo;
    switch (op) {
    case OP_NOP:
    case OP_DROP:
    case OP_LOCAL_GET:
    case OP_GLOBAL_GET:
    case OP_I32_CONST:
    case OP_I64_CONST:
    case OP_F32_CONST:
    case OP_F64_CONST:
    case OP_REF_NULL:
    case OP_MEMORY_SIZE:
    case OP_F32_MIN:
    case OP_F32_MAX:
    case OP_F64_MIN:
    case OP_F64_MAX: return true;
    default: break;
    }
    if (trunc_fn(op) || (memop_of(op, &mo) && mo.conv)) /* loads consume an i32 address only */
        return true;
    tmpl tp = tmpl_of(op);
    return tp.expr && tp.mode == 'F';
}

static void canon_all(fstate *f)
{
    for (uint32_t h = 0; h < f->h; h++)
        if (f->nan[h]) {
            f->nan[h] = 0;
            if (f->ts[h] == VT_F32)
                put(f->o, "i%u = (uint32_t)canon32(f32_of(i%u));\n", h, h);
            else
                put(f->o, "l%u = canon64(f64_of(l%u));\n", h, h);
        }
}

/* The slot at which a callee's frame starts: the home slot (compile.c) of its first argument. */
static uint32_t call_base(const fstate *f, uint32_t nparams)
{
    return f->nlocals_all + f->h - nparams;
}

static void reload_mem(fstate *f)
{
    if (f->has_mem)
        puts_(f->o, " MEM_LOAD;");
}
/* After a call out: memory may have grown, globals may have changed. */
static void after_call(fstate *f)
{
    puts_(f->o, " GR;");
    reload_mem(f);
}

/* Args of a generic call into a[], then results back from it. */
static void generic_args(fstate *f, const functype *ft)
{
    uint32_t n = ft->nparams > ft->nresults ? ft->nparams : ft->nresults;
    n = n ? n : 1;
    if (n > f->nca)
        f->nca = n;
    puts_(f->o, "{ GW; I->run->depth = dp; ");
    for (uint32_t i = 0; i < ft->nparams; i++)
        put(f->o, "ca_[%u] = %c%u; ", i, V(f->h - ft->nparams + i));
}
static void generic_results(fstate *f, const functype *ft)
{
    f->h -= ft->nparams;
    for (uint32_t i = 0; i < ft->nresults; i++) {
        push(f, ft->types[ft->nparams + i]);
        put(f->o, "%c%u = (%s)ca_[%u]; ", V(f->h - 1), ctype(ft->types[ft->nparams + i]), i);
    }
    after_call(f);
    puts_(f->o, " }\n");
}

static void emit_call(fstate *f, uint32_t fidx)
{
    const engine_module *m = f->m;
    const functype *ft = engine_func_type(m, fidx);
    if (f->h < ft->nparams) {
        f->st = BUG();
        return;
    }
    uint32_t base = call_base(f, ft->nparams);
    if (fidx < m->nfunc_imports) {
        generic_args(f, ft);
        put(f->o, "call_out(I, %u, fp + %u, ca_); ", fidx, base);
        generic_results(f, ft);
        return;
    }
    uint32_t d = fidx - m->nfunc_imports;
    uint32_t first = f->h - ft->nparams;
    put(f->o, "{ GWD; ");
    if (ft->nresults > f->nca)
        f->nca = ft->nresults;
    put(f->o, "NAT_CALL(q, f%u, I, fp + %u, dp, %s", d, base, f->rg == NO_RG ? "0" : "");
    if (f->rg != NO_RG)
        put(f->o, "g%u", f->rg);
    if (ft->nresults > 1)
        puts_(f->o, ", ca_");
    for (uint32_t i = 0; i < ft->nparams; i++)
        put(f->o, ", %c%u", V(first + i));
    puts_(f->o, "); ");
    if (f->rg != NO_RG)
        put(f->o, "g%u = q.g; ", f->rg);
    f->h = first;
    for (uint32_t i = 0; i < ft->nresults; i++) {
        push(f, ft->types[ft->nparams + i]);
        if (ft->nresults == 1)
            put(f->o, "%c%u = (%s)q.r; ", V(f->h - 1), ctype(ft->types[ft->nparams]));
        else
            put(f->o, "%c%u = (%s)ca_[%u]; ", V(f->h - 1), ctype(ft->types[ft->nparams + i]), i);
    }
    puts_(f->o, " GRD;");
    reload_mem(f);
    puts_(f->o, " }\n");
}

/* misc: d = rt->misc(op, x, y, a, b, c) over the top n operands, pushing `rt` (0: nothing). */
static void emit_misc(fstate *f, const char *op, uint32_t x, uint32_t y, uint32_t n, uint8_t rt,
                      bool mem)
{
    if (f->h < n) {
        f->st = BUG();
        return;
    }
    uint32_t b = f->h - n;
    char args[3][16] = {"0", "0", "0"};
    for (uint32_t i = 0; i < n; i++)
        snprintf(args[i], sizeof args[i], "%c%u", V(b + i));
    f->h = b;
    puts_(f->o, "GW; "); /* misc never changes a global, but may trap */
    if (rt) {
        push(f, rt);
        put(f->o, "%c%u = (%s)", V(b), ctype(rt));
    }
    put(f->o, "I->rt->misc(I, %s, %u, %u, %s, %s, %s);", op, x, y, args[0], args[1], args[2]);
    if (mem)
        reload_mem(f);
    puts_(f->o, "\n");
}

/* Starts a block's results at their heights after `end` (or unreachable `else`/`end`). */
static void set_height(fstate *f, const ectl *c, bool params)
{
    f->h = c->h;
    uint32_t n = params ? c->np : c->nr;
    for (uint32_t i = 0; i < n; i++)
        push(f, params ? ctl_pt(c, i) : ctl_rt(c, i));
}

static uint8_t local_type(const fstate *f, uint32_t k)
{
    return f->ltypes[k];
}

static void emit_end(fstate *f)
{
    ectl *c = &f->cs[f->ch - 1];
    if (c->kind == K_IF && !c->has_else) {
        /* the false path: the params (saved at `if`) are the results */
        put(f->o, "goto E%u; F%u:;", c->label, c->label);
        for (uint32_t i = 0; i < c->np; i++)
            put(f->o, " %c%u = (%s)p%u_%u;", cls(ctl_pt(c, i)), c->h + i, ctype(ctl_pt(c, i)),
                f->ch - 1, i);
        puts_(f->o, "\n");
    }
    if (c->kind != K_LOOP)
        put(f->o, "E%u:;\n", c->label);
    set_height(f, c, false);
    f->ch--;
}

static void emit_insn(fstate *f, const engine_insn *in, bool *done)
{
    out *o = f->o;
    opcode op = in->op;
    ectl *top = &f->cs[f->ch - 1];
    if (top->dead) {
        switch (op) {
        case OP_BLOCK:
        case OP_LOOP:
        case OP_IF: f->skip++; return;
        case OP_ELSE:
            if (f->skip)
                return;
            break;
        case OP_END:
            if (f->skip) {
                f->skip--;
                return;
            }
            break;
        default: return;
        }
    }
    if (!keeps_nan(op))
        canon_all(f);
    memop mo;
    switch (op) {
    case OP_UNREACHABLE:
        puts_(o, "TRAP(ST_TRAP_UNREACHABLE);\n");
        top->dead = true;
        return;
    case OP_NOP: return;
    case OP_BLOCK: ctl_push(f, K_BLOCK, in); return;
    case OP_LOOP: {
        ectl *c = ctl_push(f, K_LOOP, in);
        if (c)
            put(o, "L%u:;\n", c->label);
        return;
    }
    case OP_IF: {
        uint32_t cnd = pop(f);
        ectl *c = ctl_push(f, K_IF, in);
        if (!c)
            return;
        /* the params, for the false path: p<depth>_<i> (a nested `if` has its own depth) */
        for (uint32_t i = 0; i < c->np; i++)
            put(o, "p%u_%u = %c%u; ", f->ch - 1, i, cls(ctl_pt(c, i)), c->h + i);
        if (c->np && f->ch > f->pdepth)
            f->pdepth = f->ch;
        if (c->np > f->npsave)
            f->npsave = c->np;
        put(o, "if (!i%u) goto F%u;\n", cnd, c->label);
        return;
    }
    case OP_ELSE: {
        top->has_else = true;
        top->dead = false;
        put(o, "goto E%u; F%u:;", top->label, top->label);
        for (uint32_t i = 0; i < top->np; i++)
            put(o, " %c%u = (%s)p%u_%u;", cls(ctl_pt(top, i)), top->h + i, ctype(ctl_pt(top, i)),
                f->ch - 1, i);
        puts_(o, "\n");
        set_height(f, top, true);
        return;
    }
    case OP_END:
        if (f->ch == 1) {
            /* the function's end: results at heights 0.. */
            put(o, "E%u:;\n", top->label);
            set_height(f, top, false);
            f->ch--;
            *done = true;
            return;
        }
        emit_end(f);
        return;
    case OP_BR:
        emit_br(f, &f->cs[f->ch - 1 - in->a]);
        puts_(o, "\n");
        top->dead = true;
        return;
    case OP_BR_IF: {
        uint32_t cnd = pop(f);
        put(o, "if (i%u) { ", cnd);
        emit_br(f, &f->cs[f->ch - 1 - in->a]);
        puts_(o, " }\n");
        return;
    }
    case OP_BR_TABLE: {
        uint32_t idx = pop(f);
        reader r = reader_of(in->targets);
        put(o, "switch (i%u) {\n", idx);
        for (uint32_t i = 0; i < in->a; i++) {
            uint32_t l = 0;
            if (reader_u32(&r, &l) != ST_OK || l >= f->ch) {
                f->st = BUG();
                return;
            }
            put(o, "case %u: ", i);
            emit_br(f, &f->cs[f->ch - 1 - l]);
            puts_(o, "\n");
        }
        puts_(o, "default: ");
        emit_br(f, &f->cs[f->ch - 1 - in->b]);
        puts_(o, "\n}\n");
        top->dead = true;
        return;
    }
    case OP_RETURN:
        emit_br(f, &f->cs[0]);
        puts_(o, "\n");
        top->dead = true;
        return;
    case OP_CALL: emit_call(f, in->a); return;
    case OP_CALL_INDIRECT: {
        const functype *ft = &f->m->types[in->a];
        uint32_t i = pop(f);
        if (f->h < ft->nparams) {
            f->st = BUG();
            return;
        }
        generic_args(f, ft);
        put(o, "I->rt->call_indirect(I, %u, %u, i%u, fp + %u, ca_); ", f->code->canon_type[in->a],
            in->b, i, call_base(f, ft->nparams));
        generic_results(f, ft);
        return;
    }
    case OP_DROP: pop(f); return;
    case OP_SELECT:
    case OP_SELECT_T: {
        uint32_t c = pop(f), b = pop(f), a = pop(f);
        uint8_t t = f->ts[a];
        push(f, t);
        put(o, "%c%u = i%u ? %c%u : %c%u;\n", cls(t), a, c, cls(t), a, cls(t), b);
        return;
    }
    case OP_LOCAL_GET: {
        uint8_t t = local_type(f, in->a);
        push(f, t);
        put(o, "%c%u = v%u;\n", V(f->h - 1), in->a);
        return;
    }
    case OP_LOCAL_SET: {
        uint32_t a = pop(f);
        put(o, "v%u = %c%u;\n", in->a, V(a));
        return;
    }
    case OP_LOCAL_TEE: put(o, "v%u = %c%u;\n", in->a, V(f->h - 1)); return;
    case OP_GLOBAL_GET: {
        uint8_t t = f->m->globals[in->a].type;
        push(f, t);
        f->gused[in->a] |= G_READ;
        put(o, "%c%u = (%s)g%u;\n", V(f->h - 1), ctype(t), in->a);
        return;
    }
    case OP_GLOBAL_SET: {
        uint32_t a = pop(f);
        f->gused[in->a] |= G_SET;
        put(o, "g%u = %c%u;\n", in->a, V(a));
        return;
    }
    case OP_TABLE_GET:
        emit_misc(f, "NAT_TABLE_GET", in->a, 0, 1, f->m->tables[in->a].elem, false);
        return;
    case OP_TABLE_SET: emit_misc(f, "NAT_TABLE_SET", in->a, 0, 2, 0, false); return;
    case OP_MEMORY_SIZE:
        push(f, VT_I32);
        put(o, "i%u = I->mem->pages;\n", f->h - 1);
        return;
    case OP_MEMORY_GROW: emit_misc(f, "NAT_MEMORY_GROW", 0, 0, 1, VT_I32, true); return;
    case OP_I32_CONST:
        push(f, VT_I32);
        put(o, "i%u = %uu;\n", f->h - 1, (uint32_t)in->value);
        return;
    case OP_F32_CONST:
        push(f, VT_F32);
        put(o, "i%u = %uu;\n", f->h - 1, (uint32_t)in->value);
        return;
    case OP_I64_CONST:
        push(f, VT_I64);
        put(o, "l%u = %lluull;\n", f->h - 1, (unsigned long long)in->value);
        return;
    case OP_F64_CONST:
        push(f, VT_F64);
        put(o, "l%u = %lluull;\n", f->h - 1, (unsigned long long)in->value);
        return;
    case OP_REF_NULL:
        push(f, in->type);
        put(o, "l%u = 0;\n", f->h - 1);
        return;
    case OP_REF_FUNC: emit_misc(f, "NAT_REF_FUNC", in->a, 0, 0, VT_FUNCREF, false); return;
    case OP_I32_DIV_S:
    case OP_I32_DIV_U:
    case OP_I32_REM_S:
    case OP_I32_REM_U:
    case OP_I64_DIV_S:
    case OP_I64_DIV_U:
    case OP_I64_REM_S:
    case OP_I64_REM_U: {
        bool w = op >= OP_I64_DIV_S;
        uint32_t b = pop(f), a = pop(f);
        const char *T = w ? "uint64_t" : "uint32_t", *S = w ? "int64_t" : "int32_t";
        const char *MIN = w ? "((uint64_t)1 << 63)" : "0x80000000u";
        const char *M1 = w ? "UINT64_MAX" : "UINT32_MAX";
        char c = w ? 'l' : 'i';
        push(f, w ? VT_I64 : VT_I32);
        (void)T;
        put(o, "if (%c%u == 0) TRAP(ST_TRAP_INT_DIV_ZERO); ", c, b);
        switch (op) {
        case OP_I32_DIV_S:
        case OP_I64_DIV_S:
            put(o,
                "if (%c%u == %s && %c%u == %s) TRAP(ST_TRAP_INT_OVERFLOW); "
                "%c%u = (%s)((%s)%c%u / (%s)%c%u);",
                c, a, MIN, c, b, M1, c, a, T, S, c, a, S, c, b);
            break;
        case OP_I32_REM_S:
        case OP_I64_REM_S:
            put(o, "%c%u = %c%u == %s ? 0 : (%s)((%s)%c%u %% (%s)%c%u);", c, a, c, b, M1, T, S, c,
                a, S, c, b);
            break;
        case OP_I32_DIV_U:
        case OP_I64_DIV_U: put(o, "%c%u = %c%u / %c%u;", c, a, c, a, c, b); break;
        default: put(o, "%c%u = %c%u %% %c%u;", c, a, c, a, c, b); break;
        }
        puts_(o, "\n");
        return;
    }
    case OP_MEMORY_INIT: emit_misc(f, "NAT_MEMORY_INIT", in->a, 0, 3, 0, false); return;
    case OP_DATA_DROP: emit_misc(f, "NAT_DATA_DROP", in->a, 0, 0, 0, false); return;
    case OP_MEMORY_COPY: emit_misc(f, "NAT_MEMORY_COPY", 0, 0, 3, 0, false); return;
    case OP_MEMORY_FILL: emit_misc(f, "NAT_MEMORY_FILL", 0, 0, 3, 0, false); return;
    case OP_TABLE_INIT: emit_misc(f, "NAT_TABLE_INIT", in->b, in->a, 3, 0, false); return;
    case OP_ELEM_DROP: emit_misc(f, "NAT_ELEM_DROP", in->a, 0, 0, 0, false); return;
    case OP_TABLE_COPY: emit_misc(f, "NAT_TABLE_COPY", in->a, in->b, 3, 0, false); return;
    case OP_TABLE_GROW: emit_misc(f, "NAT_TABLE_GROW", in->a, 0, 2, VT_I32, false); return;
    case OP_TABLE_SIZE: emit_misc(f, "NAT_TABLE_SIZE", in->a, 0, 0, VT_I32, false); return;
    case OP_TABLE_FILL: emit_misc(f, "NAT_TABLE_FILL", in->a, 0, 3, 0, false); return;
    default: break;
    }
    const char *tf = trunc_fn(op);
    if (tf) {
        uint32_t a = pop(f);
        bool src32 = f->ts[a] == VT_F32;
        uint8_t rt = sig_type(strchr(engine_opcodes[op].sig, '>')[1]);
        push(f, rt);
        f->trunc = true;
        put(o, "ts_ = %s((double)%s(%c%u), &tr_); if (ts_) TRAP(ts_); %c%u = (%s)tr_;\n", tf,
            src32 ? "f32_of" : "f64_of", src32 ? 'i' : 'l', a, cls(rt), a, ctype(rt));
        return;
    }
    if (memop_of(op, &mo)) {
        /* ea_ and the value's mv_<type> are the function's scratch variables */
        char mv[16], conv[64];
        int k = mv_of(mo.ctype);
        f->mv |= 1u << k;
        snprintf(mv, sizeof mv, "mv_%d", k);
        if (mo.conv) {
            uint32_t a = pop(f);
            push(f, mo.vt);
            if (!subst(mo.conv, 'v', mv, 0, NULL, conv, sizeof conv)) {
                f->st = BUG();
                return;
            }
            put(o,
                "ea_ = (uint64_t)i%u + %uu; if ((int64_t)ea_ > ml%u) TRAP(ST_TRAP_MEMORY_OOB); "
                "memcpy(&%s, mb + ea_, %u); %c%u = %s;\n",
                a, in->b, mo.size, mv, mo.size, cls(mo.vt), a, conv);
        } else {
            uint32_t v = pop(f), a = pop(f);
            put(o,
                "ea_ = (uint64_t)i%u + %uu; if ((int64_t)ea_ > ml%u) TRAP(ST_TRAP_MEMORY_OOB); "
                "%s = (%s)%c%u; memcpy(mb + ea_, &%s, %u); mk[ea_ >> %d] = 1;",
                a, in->b, mo.size, mv, mo.ctype, V(v), mv, mo.size, (int)VM_MARK_SHIFT);
            /* the mark of the last byte's page: a second store only when the access crosses
               into the next page (rare: a branch is cheaper than the store) */
            if (mo.size > 1)
                put(o, " if (__builtin_expect((ea_ & %uu) > %uu, 0)) mk[(ea_ + %u) >> %d] = 1;",
                    (1u << VM_MARK_SHIFT) - 1, (1u << VM_MARK_SHIFT) - mo.size, mo.size - 1,
                    (int)VM_MARK_SHIFT);
            puts_(o, "\n");
        }
        return;
    }
    emit_numeric(f, op);
}

/* ---- functions ---------------------------------------------------------------------------- */

/* The C prototype of defined function d: dp is the number of frames in use below it (vm.c's
 * depth at the call), the register global comes in as an argument and goes back with the result
 * in a nat_r2 (its field r: a single result). */
static void prototype(out *o, const engine_module *m, uint32_t d, uint32_t rg)
{
    const functype *ft = engine_func_type(m, m->nfunc_imports + d);
    put(o, "static NAT_RET f%u(NAT_QP nat_inst *I, uint64_t fp, uint32_t dp, uint64_t ", d);
    if (rg == NO_RG)
        puts_(o, "gx");
    else
        put(o, "g%u", rg);
    if (ft->nresults > 1)
        puts_(o, ", uint64_t *ret");
    for (uint32_t i = 0; i < ft->nparams; i++)
        put(o, ", %s v%u", ctype(ft->types[i]), i);
    puts_(o, ")");
}

/* Reads the next instruction into x; true if it is an `op`. */
static bool next_is(reader *r, engine_insn *x, opcode op)
{
    return engine_insn_read(r, x, NULL) == ST_OK && x->op == op;
}

/* The metering charge that engine/instrument puts at a block's start, on global g (the register
 * global, the counter): `global.get g; i64.const k; i64.sub; global.set g`, and where it checks,
 * then `global.get g; i64.const 0; i64.lt_s; if; call F; end` (F: the out-of-instructions
 * import). r is after the first global.get. If the charge is there, emits it as one statement
 * (and the check as one `if` around the same call emit_call writes), leaves r after it and
 * returns true; else false and r is not to be used. The same semantics as the ten instructions
 * through the stack model, in about a third of the C (which the quick route's tcc must parse,
 * and does not optimize). */
static bool emit_charge(fstate *f, reader *r, uint32_t g)
{
    engine_insn x;
    if (f->m->globals[g].type != VT_I64 || !next_is(r, &x, OP_I64_CONST))
        return false;
    uint64_t k = x.value;
    if (!next_is(r, &x, OP_I64_SUB) || !next_is(r, &x, OP_GLOBAL_SET) || x.a != g)
        return false;
    put(f->o, "g%u -= %lluull;\n", g, (unsigned long long)k);
    reader check = *r;
    if (!next_is(&check, &x, OP_GLOBAL_GET) || x.a != g || !next_is(&check, &x, OP_I64_CONST) ||
        x.value != 0 || !next_is(&check, &x, OP_I64_LT_S) || !next_is(&check, &x, OP_IF) ||
        x.type != 0x40 || !next_is(&check, &x, OP_CALL))
        return true;
    uint32_t callee = x.a;
    const functype *ft = callee < f->m->nfuncs ? engine_func_type(f->m, callee) : NULL;
    if (!ft || ft->nparams || ft->nresults || !next_is(&check, &x, OP_END))
        return true;
    put(f->o, "if (__builtin_expect((int64_t)g%u < 0, 0)) ", g);
    emit_call(f, callee);
    *r = check;
    return true;
}

static status emit_func(const engine_code *code, uint32_t d, uint32_t rg, out *o, buf *body)
{
    const engine_module *m = code->m;
    const func *fn = &m->funcs[d];
    const functype *ft = &m->types[fn->type];
    fstate f = {.code = code, .m = m, .st = ST_OK};
    f.has_mem = m->nmems > 0;
    f.nparams = ft->nparams;
    f.nlocals_all = ft->nparams + fn->nlocals;
    uint8_t *lt = base_alloc(f.nlocals_all ? f.nlocals_all : 1);
    if (!lt)
        return ST_OUT_OF_MEMORY;
    if (ft->nparams)
        memcpy(lt, ft->types, ft->nparams);
    if (fn->nlocals)
        memcpy(lt + ft->nparams, fn->local_types, fn->nlocals);
    f.ltypes = lt;
    f.gused = base_calloc(m->nglobals ? m->nglobals : 1, 1);
    if (!f.gused) {
        base_free(lt);
        return ST_OUT_OF_MEMORY;
    }
    f.rg = rg;
    if (rg != NO_RG)
        f.gused[rg] = G_READ | G_SET;
    body->len = 0;
    out bo = {.b = body, .st = ST_OK, .limit = o->limit};
    f.o = &bo;
    ectl *c = ctl_push(&f, K_FUNC, NULL);
    if (c) {
        c->nr = ft->nresults;
        c->rt = ft->types + ft->nparams;
    }
    reader r = reader_of(fn->body);
    bool done = false;
    while (!done && f.st == ST_OK && bo.st == ST_OK) {
        engine_insn in;
        if (reader_left(&r) == 0) {
            f.st = BUG();
            break;
        }
        status st = engine_insn_read(&r, &in, NULL);
        if (st != ST_OK) {
            f.st = st;
            break;
        }
        if (in.op == OP_GLOBAL_GET && in.a == f.rg && !f.cs[f.ch - 1].dead) {
            reader ahead = r;
            if (emit_charge(&f, &ahead, in.a)) {
                r = ahead;
                continue;
            }
        }
        emit_insn(&f, &in, &done);
    }
    status st = f.st != ST_OK ? f.st : bo.st;
    if (st == ST_OK) {
        /* GW, GR: every global in a local (before traps and calls out, after calls out); GWD,
           GRD: but the register global (around direct calls, which pass it) */
        for (int all = 1; all >= 0; all--) {
            put(o, "#define GW%s", all ? "" : "D");
            for (uint32_t k = 0; k < m->nglobals; k++)
                if ((f.gused[k] & G_SET) && k == rg && all)
                    put(o, " *I->globals[%u] = g%u;", k, k);
                else if ((f.gused[k] & G_SET) && k != rg)
                    put(o, " *gp%u = g%u;", k, k);
            put(o, "\n#define GR%s", all ? "" : "D");
            for (uint32_t k = 0; k < m->nglobals; k++)
                if (f.gused[k] && m->globals[k].mut && k == rg && all)
                    put(o, " g%u = *I->globals[%u];", k, k);
                else if (f.gused[k] && m->globals[k].mut && k != rg)
                    put(o, " g%u = *gp%u;", k, k);
            puts_(o, "\n");
        }
        prototype(o, m, d, rg);
        /* the frame below the stack pointer: a generous bound on what cc makes of it (an
           immediate of the stack pointer's lea up to 2^30, else subtracted in C) */
        unsigned long long below = 16ull * ((unsigned long long)f.nlocals_all + f.maxi + f.maxl +
                                            f.nca + (unsigned long long)f.pdepth * f.npsave) +
                                   16384ull;
        put(o,
            "\n{\n    nat_run *const R = I->run;\n"
            "    if (__builtin_expect(dp >= R->maxd || fp + %uu > R->nslots || "
            "SP_LESS(R, %llu) - %lluull < R->stack_lo, 0)) {\n",
            code->funcs[d].frame_size, below < (1ull << 30) ? below : 0,
            below < (1ull << 30) ? 0 : below);
        if (rg != NO_RG)
            put(o, "        *I->globals[%u] = g%u;\n", rg, rg);
        puts_(o, "        I->rt->trap(I, ST_TRAP_CALL_STACK_EXHAUSTED);\n    }\n"
                 "    if (++dp > R->hi)\n        R->hi = dp;\n");
        if (f.has_mem)
            puts_(o, "    uint8_t *mb, *mk;\n    int64_t ml1, ml2, ml4, ml8;\n    MEM_LOAD;\n");
        for (uint32_t k = 0; k < m->nglobals; k++) {
            if (f.gused[k] && k != rg) /* the register global: through I where written */
                put(o, "    uint64_t *const gp%u = I->globals[%u];\n    uint64_t g%u = *gp%u;\n",
                    k, k, k, k);
        }
        puts_(o, "    nat_r2 q; /* a direct call's result */\n");
        for (uint32_t i = ft->nparams; i < f.nlocals_all; i++)
            put(o, "    %s v%u = 0;\n", ctype(lt[i]), i);
        for (uint32_t i = 0; i < f.maxi; i++)
            put(o, "    uint32_t i%u = 0;\n", i);
        for (uint32_t i = 0; i < f.maxl; i++)
            put(o, "    uint64_t l%u = 0;\n", i);
        if (f.nca)
            put(o, "    uint64_t ca_[%u];\n", f.nca);
        for (uint32_t k = 0; k < f.pdepth; k++)
            for (uint32_t i = 0; i < f.npsave; i++)
                put(o, "    uint64_t p%u_%u;\n", k, i);
        if (f.trunc)
            puts_(o, "    uint64_t tr_;\n    int ts_;\n");
        if (f.mv)
            puts_(o, "    uint64_t ea_;\n");
        for (int k = 0; k < (int)BASE_ARRAY_LEN(mv_types); k++)
            if (f.mv & (1u << k))
                put(o, "    %s mv_%d;\n", mv_types[k], k);
        if (o->st == ST_OK)
            o->st = buf_put(o->b, body->ptr, body->len);
        puts_(o, "    GWD;\n");
        for (uint32_t i = 0; ft->nresults > 1 && i < ft->nresults; i++)
            put(o, "    ret[%u] = %c%u;\n", i, cls(ft->types[ft->nparams + i]), i);
        put(o, "    NAT_RETURN(%s%s, ", ft->nresults == 1 ? "" : "0",
            ft->nresults == 1 ? (is32(ft->types[ft->nparams]) ? "i0" : "l0") : "");
        if (rg == NO_RG)
            puts_(o, "gx);\n");
        else
            put(o, "g%u);\n", rg);
        puts_(o, "}\n#undef GW\n#undef GR\n#undef GWD\n#undef GRD\n\n");
        /* the generic entry: the depth and the register global from the instance */
        put(o, "static void g%u(nat_inst *I, uint64_t fp, uint64_t *a)\n{\n    ", d);
        if (rg != NO_RG)
            put(o, "uint64_t *gp = I->globals[%u];\n    ", rg);
        put(o, "nat_r2 q;\n    NAT_CALL(q, f%u, I, fp, I->run->depth, %s", d,
            rg == NO_RG ? "0" : "*gp");
        if (ft->nresults > 1)
            puts_(o, ", a");
        for (uint32_t i = 0; i < ft->nparams; i++)
            put(o, ", (%s)a[%u]", ctype(ft->types[i]), i);
        puts_(o, ");\n");
        if (rg != NO_RG)
            puts_(o, "    *gp = q.g;\n");
        if (ft->nresults == 1)
            puts_(o, "    a[0] = q.r;\n");
        else
            puts_(o, "    (void)q;\n");
        puts_(o, "}\n\n");
        st = o->st;
    }
    base_free(lt);
    base_free(f.gused);
    base_free(f.ts);
    base_free(f.nan);
    base_free(f.cs);
    return st;
}

/* The register global: the mutable global with the most global.set in the module's code (the
 * lowest index among equals), NO_RG when nothing sets one. */
static status pick_rg(const engine_module *m, uint32_t *rg)
{
    *rg = NO_RG;
    if (!m->nglobals)
        return ST_OK;
    uint64_t *n = base_calloc(m->nglobals, sizeof *n);
    if (!n)
        return ST_OUT_OF_MEMORY;
    status st = ST_OK;
    for (uint32_t d = 0; d < m->nfuncs - m->nfunc_imports && st == ST_OK; d++) {
        reader r = reader_of(m->funcs[d].body);
        while (reader_left(&r) > 0) {
            engine_insn in;
            st = engine_insn_read(&r, &in, NULL);
            if (st != ST_OK)
                break;
            if (in.op == OP_GLOBAL_SET && in.a < m->nglobals)
                n[in.a]++;
        }
    }
    uint64_t best = 0;
    for (uint32_t k = 0; k < m->nglobals; k++)
        if (m->globals[k].mut && n[k] > best) {
            best = n[k];
            *rg = k;
        }
    base_free(n);
    return st;
}

status emit_module(const engine_code *code, size_t limit, buf *out_src)
{
    const engine_module *m = code->m;
    out o = {.b = out_src, .st = ST_OK, .limit = limit};
    uint32_t ndef = m->nfuncs - m->nfunc_imports;
    put(&o, "/* generated by tally's compiled tier (engine/emit.c), ABI %d */\n",
        ENGINE_NATIVE_ABI_VERSION);
    puts_(&o, "#include <stdint.h>\n#include <string.h>\n#include <math.h>\n"
              "#pragma STDC FP_CONTRACT OFF\n");
    puts_(&o, "typedef int status;\nenum {\n");
#define STATUS_NAME(s) put(&o, "    %s = %d,\n", #s, (int)s)
    STATUS_NAME(ST_OK);
    STATUS_NAME(ST_TRAP_UNREACHABLE);
    STATUS_NAME(ST_TRAP_MEMORY_OOB);
    STATUS_NAME(ST_TRAP_INT_DIV_ZERO);
    STATUS_NAME(ST_TRAP_INT_OVERFLOW);
    STATUS_NAME(ST_TRAP_INVALID_CONVERSION);
    STATUS_NAME(ST_TRAP_CALL_STACK_EXHAUSTED);
#undef STATUS_NAME
    puts_(&o, "};\n");
    puts_(&o, ENGINE_OPS_TEXT);
    puts_(&o, "\n");
    puts_(&o, ENGINE_NATIVE_ABI_TEXT);
    puts_(&o, "\n#define TRAP(s) do { GW; I->rt->trap(I, (s)); } while (0)\n");
    /* the memory: its base, the write marks after it, and for each access size n the highest
       address an access may start at, ml<n> = length - n (negative: none; the bounds check is
       one compare of the effective address, as a signed 64-bit number: it is below 2^33); no
       block-scoped temporaries (compilers that give each one a stack slot) */
    puts_(&o, "#define MEM_LOAD (mb = I->mem->base, mk = mb + I->mem->len, "
              "ml1 = (int64_t)I->mem->len - 1, ml2 = (int64_t)I->mem->len - 2, "
              "ml4 = (int64_t)I->mem->len - 4, ml8 = (int64_t)I->mem->len - 8)\n");
    /* a function's result and the register global, returned in two registers */
    puts_(&o, "typedef struct nat_r2 { uint64_t r, g; } nat_r2;\n");
    /* TinyCC (the quick route) gives every call that returns a struct a stack slot of its own,
       so a function making thousands of calls had a frame past the frame rule: there the
       result goes through a pointer to the caller's one q instead (same values, same order) */
    puts_(&o, "#ifdef __TINYC__\n#define NAT_RET void\n#define NAT_QP nat_r2 *qo_,\n"
              "#define NAT_RETURN(rv_, gv_) do { qo_->r = (rv_); qo_->g = (gv_); return; } "
              "while (0)\n#define NAT_CALL(q_, f_, ...) f_(&(q_), __VA_ARGS__)\n#else\n"
              "#define NAT_RET nat_r2\n#define NAT_QP\n"
              "#define NAT_RETURN(rv_, gv_) return (nat_r2){(rv_), (gv_)}\n"
              "#define NAT_CALL(q_, f_, ...) ((q_) = f_(__VA_ARGS__))\n#endif\n");
    /* calls to imports (metered code: out_of_instructions) are the unlikely path: cc lays them
       out of line and keeps the loop's values in registers around them */
    puts_(&o, "__attribute__((cold, noinline)) static void call_out(nat_inst *I, uint32_t f, "
              "uint64_t fp, uint64_t *a) { I->rt->call(I, f, fp, a); }\n");
    /* the stack pointer for the stack check: read directly where cc allows (no stack slot, no
       frame pointer), else the address of a local */
    puts_(&o, "#if defined(__x86_64__)\n#define SP_LESS(x, k) ({ uintptr_t sp_; __asm__(\"lea -\" "
              "#k \"(%%rsp), %0\" : \"=r\"(sp_)); sp_; })\n#elif defined(__aarch64__)\n"
              "#define SP_LESS(x, k) ({ uintptr_t sp_; __asm__(\"mov %0, sp\" : \"=r\"(sp_)); "
              "sp_ - k##u; })\n#else\n#define SP_LESS(x, k) ((uintptr_t)&(x) - k##u)\n#endif\n\n");
    uint32_t rg = NO_RG;
    o.st = o.st == ST_OK ? pick_rg(m, &rg) : o.st;
    for (uint32_t d = 0; d < ndef; d++) {
        prototype(&o, m, d, rg);
        puts_(&o, ";\n");
    }
    buf body = {0};
    for (uint32_t d = 0; d < ndef && o.st == ST_OK; d++) {
        status st = emit_func(code, d, rg, &o, &body);
        if (st != ST_OK && o.st == ST_OK)
            o.st = st;
    }
    buf_fini(&body);
    put(&o, "static const nat_generic funcs_[%u] = {", ndef ? ndef : 1);
    for (uint32_t d = 0; d < ndef; d++)
        put(&o, "%sg%u", d == 0 ? "\n    " : d % 8 ? ", " : ",\n    ", d);
    puts_(&o, "};\n");
    put(&o,
        "__attribute__((visibility(\"default\"))) const nat_module " ENGINE_NATIVE_SYMBOL
        " = {%d, %u, funcs_};\n",
        ENGINE_NATIVE_ABI_VERSION, ndef);
    return o.st;
}
