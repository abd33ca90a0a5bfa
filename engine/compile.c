/* compile.c - translates validated Wasm function bodies into tally's internal code (the
 * layout is described in engine_int.h). This is not a validator: it trusts that
 * engine_module_validate() accepted the module, and only guards against running off its input.
 *
 * Design. One pass per function, with a compile-time model of the operand stack (`vstack`).
 * Every stack entry at height h has a home slot, base + h (base = params + declared locals), and
 * is in one of three states:
 *   STACK  the value is in its home slot (written by the instruction that produced it);
 *   LOCAL  the value is whatever local x holds now (a local.get that emitted nothing yet);
 *   CONST  the value is a constant (an i32/i64/f32/f64.const or ref.null, nothing emitted).
 * An instruction consumes its operands wherever they are (a local's slot, a home slot, or an
 * immediate for the i32/i64 forms that take one), so `local.get a; local.get b; i32.add` emits
 * a single `add d, a, b`. A local.set/local.tee right after the instruction that produced the
 * value rewrites that instruction's destination to the local (no copy at all), so
 * `x = y + 1` is one instruction. A compare feeding br_if/if becomes one compare-and-branch,
 * and the instrumenter's metering sequences (`global.get g; i64.const k; i64.sub; global.set g`
 * and `global.get g; i64.const 0; i64.lt_s; if`) become one instruction each, with the same
 * effect on the counter as the Wasm they replace.
 * Lazy entries are materialized into their home slots when the rule "a slot's meaning must not
 * change under a lazy entry" requires it: before a local.set of a local they name, at every
 * block/loop/if boundary (so that control-flow merges always see every entry in its home slot),
 * and for call arguments (which must be consecutive: the callee's frame starts at the first
 * argument's home slot, so arguments are passed and results returned without copying).
 * Branches move the carried values into the target label's home slots first when they are not
 * there already; forward branch offsets are chained through the offset words and patched when
 * the label is bound.
 *
 * Metering. An instrumented module (instrument/) begins every function with the counter
 * decrement `global.get G; i64.const k; i64.sub; global.set G` of one mutable i64 global G.
 * When the first function starts that way, G becomes the module's *register global*
 * (engine_code.ctr_global): every access to it compiles to CTR_* instructions, and the VM keeps
 * its value in a C local while this module's code runs (vm.c writes it back whenever anything
 * else can look: host calls, calls into other instances, returns to the embedder). This is a
 * pure optimization: any module may have such a G, and its semantics are unchanged. On top:
 *   - the decrement becomes CHARGE k, and CHARGE followed by the check `global.get G;
 *     i64.const 0; i64.lt_s; if` becomes one CHARGE_CHECK (function entries, loop headers);
 *   - a direct call of a function whose entry is a standard check (engine_int.h) becomes
 *     CALL_M, which performs the check and starts the callee after it;
 *   - every branch carries a charge word (br_table: one per target) (the _T, _M, _TC, _MC forms of engine_int.h): once the
 *     function is compiled, a branch whose target starts with a CHARGE or a standard check
 *     jumps past it and performs it itself, and a conditional branch followed by a CHARGE
 *     performs that one when not taken. So a loop's back edge, an `if` and its arms, or a
 *     `br_if` out of a block cost no dispatch for metering.
 * Each of these does exactly what the Wasm it replaces does to the counter, at the same points,
 * so counts and out-of-instructions points are those of the instrumented binary. */
#include "engine_int.h"

#include <string.h>

enum { V_STACK, V_LOCAL, V_CONST };

typedef struct ventry {
    uint8_t kind;
    uint32_t slot; /* V_LOCAL: local index */
    uint64_t val;  /* V_CONST: bits */
} ventry;

enum { C_BLOCK, C_LOOP, C_IF, C_ELSE, C_FUNC };

typedef struct ctrl {
    uint8_t kind;
    bool unreachable; /* the rest of this frame is dead code */
    uint32_t nparams, nresults;
    uint32_t height;     /* vstack height below the params */
    uint32_t loop_pc;    /* C_LOOP: word index of the loop head */
    uint32_t patch;      /* forward branches to the end: chain of offset words, index + 1 */
    uint32_t else_patch; /* C_IF: offset word of the jump to else, index + 1 */
} ctrl;

typedef struct comp {
    const engine_module *m;
    const uint32_t *canon;
    uint32_t *w;
    size_t n, cap;
    ventry *vs;
    uint32_t vh, vcap, maxh;
    ctrl *cs;
    uint32_t ch, ccap;
    uint32_t base; /* first operand-stack slot */
    bool last_ok;  /* the last instruction produced vs[last_h] and may be rewritten */
    uint32_t last_pc, last_h;
    uint32_t skip;  /* nesting depth inside dead code */
    uint32_t gg_pc; /* word index of the last global.get emitted, UINT32_MAX if none */
    uint32_t ctr_g; /* the register global (metering counter), UINT32_MAX if none */
    uint32_t charge_pc, charge_end; /* the last CHARGE, if nothing (not even a label) follows */
    uint32_t *sites; /* metered module: word index of every branch with a charge word */
    uint32_t nsites, sites_cap;
    uint32_t *calls; /* word index of every CALL of a defined function (for CALL_M) */
    uint32_t ncalls, calls_cap;
    uint32_t *targets; /* br_table depths */
    uint32_t ntargets_cap;
    status st;
} comp;

/* A branch condition: `op` jumps when it holds; operands a (slot) and b (slot or imm). */
typedef struct cond {
    uint32_t op, a, b;
    int nops;
} cond;

/* ---- emission ---------------------------------------------------------------------------- */

static void put(comp *c, uint32_t v)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        if (ncap > ((size_t)1 << 30)) {
            if (c->st == ST_OK)
                c->st = ST_LIMIT_EXCEEDED;
            return;
        }
        uint32_t *nw = base_realloc(c->w, ncap * sizeof *nw);
        if (!nw) {
            if (c->st == ST_OK)
                c->st = ST_OUT_OF_MEMORY;
            return;
        }
        c->w = nw;
        c->cap = ncap;
    }
    c->w[c->n++] = v;
}

static uint32_t here(const comp *c)
{
    return (uint32_t)c->n;
}

static void emit1(comp *c, uint32_t op, uint32_t a)
{
    c->last_ok = false;
    put(c, op);
    put(c, a);
}

static void emit2(comp *c, uint32_t op, uint32_t a, uint32_t b)
{
    emit1(c, op, a);
    put(c, b);
}

static void emit3(comp *c, uint32_t op, uint32_t a, uint32_t b, uint32_t d)
{
    emit2(c, op, a, b);
    put(c, d);
}

static uint32_t home(const comp *c, uint32_t h)
{
    return c->base + h;
}

static void emit_const(comp *c, uint32_t d, uint64_t v)
{
    if (v >> 32 == 0) {
        emit2(c, VM_CONST32, d, (uint32_t)v);
    } else {
        emit3(c, VM_CONST64, d, (uint32_t)v, (uint32_t)(v >> 32));
    }
}

/* Writes the offset to word index `target` into offset word `at`. */
static void set_off(comp *c, uint32_t at, uint32_t target)
{
    if (c->st != ST_OK)
        return;
    c->w[at] = (uint32_t)((int64_t)target - (int64_t)at);
}

/* Appends an offset word that jumps to the end of control frame t (patched later) or, for a
 * loop, to its head. */
static void put_target(comp *c, ctrl *t)
{
    uint32_t at = here(c);
    if (t->kind == C_LOOP) {
        put(c, 0);
        set_off(c, at, t->loop_pc);
    } else {
        put(c, t->patch);
        t->patch = at + 1;
    }
}

static void patch_chain(comp *c, uint32_t chain, uint32_t target)
{
    while (chain && c->st == ST_OK) {
        uint32_t at = chain - 1;
        chain = c->w[at];
        set_off(c, at, target);
    }
}

/* Makes room for one more element in a growable array of the compiler (base_grow); false, with
 * ST_OUT_OF_MEMORY recorded in c (the compile then fails), if memory runs out. */
static bool room(comp *c, void **arr, uint32_t n, uint32_t *cap, size_t size, uint32_t first)
{
    if (base_grow(arr, cap, n + 1, size, first) == ST_OK)
        return true;
    c->st = ST_OUT_OF_MEMORY;
    return false;
}

/* ---- the operand stack model ------------------------------------------------------------ */

static void vpush(comp *c, uint8_t kind, uint32_t slot, uint64_t val)
{
    if (!room(c, (void **)&c->vs, c->vh, &c->vcap, sizeof *c->vs, 64))
        return;
    c->vs[c->vh++] = (ventry){kind, slot, val};
    if (c->vh > c->maxh)
        c->maxh = c->vh;
}

/* Puts entry i into its home slot. */
static void materialize(comp *c, uint32_t i)
{
    ventry *e = &c->vs[i];
    if (e->kind == V_LOCAL)
        emit2(c, VM_COPY, home(c, i), e->slot);
    else if (e->kind == V_CONST)
        emit_const(c, home(c, i), e->val);
    e->kind = V_STACK;
}

static void materialize_all(comp *c)
{
    for (uint32_t i = 0; i < c->vh; i++)
        if (c->vs[i].kind != V_STACK)
            materialize(c, i);
}

/* The slot holding entry i (constants are materialized). */
static uint32_t opnd(comp *c, uint32_t i)
{
    ventry *e = &c->vs[i];
    if (e->kind == V_LOCAL)
        return e->slot;
    if (e->kind == V_CONST)
        materialize(c, i);
    return home(c, i);
}

static uint32_t pop(comp *c)
{
    if (c->vh == 0) {
        c->st = BUG();
        return 0;
    }
    c->vh--;
    return opnd(c, c->vh);
}

/* Pushes a result produced into its home slot by the instruction about to be emitted; returns
 * the home slot. Call mark_last() after emitting. */
static uint32_t push_result(comp *c)
{
    vpush(c, V_STACK, 0, 0);
    return home(c, c->vh - 1);
}

static void mark_last(comp *c, uint32_t pc)
{
    c->last_ok = true;
    c->last_pc = pc;
    c->last_h = c->vh - 1;
}

/* ---- metering (see the file comment) ------------------------------------------------------ */

/* A label is bound at here(): a CHARGE before it may no longer absorb what follows. */
static void meter_forget(comp *c)
{
    c->charge_end = UINT32_MAX;
}

/* metered branch op -> plain op (0 for the others). */
static const uint16_t plain_table[VM_OP_COUNT] = {
#define VM_CBR(n)                                                                                 \
    [VM_##n##_T] = VM_##n, [VM_##n##_M] = VM_##n, [VM_##n##_TC] = VM_##n, [VM_##n##_MC] = VM_##n,
#include "vm_ops.inc"
    [VM_BR_T] = VM_BR,
    [VM_BR_M] = VM_BR,
};

/* The metered form (variant v: 0 = _T, 1 = _M, 2 = _TC, 3 = _MC) of a branch op, or 0 if it
 * has none. */
static uint32_t mbr_variant(uint32_t op, int v)
{
    switch (op) {
#define VM_CBR(n)                                                                                 \
    case VM_##n:                                                                                  \
        return v == 0 ? VM_##n##_T : v == 1 ? VM_##n##_M : v == 2 ? VM_##n##_TC : VM_##n##_MC;
#include "vm_ops.inc"
    case VM_BR: return v == 0 ? VM_BR_T : v == 1 ? VM_BR_M : 0;
    default: return 0;
    }
}

/* Length in words of the plain form of a branch op with a _T form (the offset word last). */
static uint32_t mbr_len(uint32_t op)
{
    switch (op) {
    case VM_BR: return 2;
    case VM_BR_IF:
    case VM_BR_IFZ:
    case VM_BR_IF64:
    case VM_BR_IFZ64: return 3;
    default: return 4;
    }
}

/* Appends pc to a growable list of code positions; on allocation failure records
 * ST_OUT_OF_MEMORY in c (the compile then fails). */
static void pc_list_push(comp *c, uint32_t **list, uint32_t *n, uint32_t *cap, uint32_t pc)
{
    if (!room(c, (void **)list, *n, cap, sizeof **list, 64))
        return;
    (*list)[(*n)++] = pc;
}

static void note_site(comp *c, uint32_t pc)
{
    pc_list_push(c, &c->sites, &c->nsites, &c->sites_cap, pc);
}

/* In a metered module, the branch just emitted at pc (its offset word last) gets its charge
 * word (0 for now) and its _T form; fix_branches() fills both in when the function is done. */
static void branch_tail(comp *c, uint32_t pc)
{
    if (c->ctr_g == UINT32_MAX || c->st != ST_OK || !mbr_variant(c->w[pc], 0))
        return;
    note_site(c, pc);
    c->w[pc] = mbr_variant(c->w[pc], 0);
    put(c, 0);
}

/* True if (lo, hi) is a sign-extended 32-bit value. */
static bool fits32(uint32_t lo, uint32_t hi)
{
    return hi == (lo >> 31 ? UINT32_MAX : 0);
}

/* True if the code at pc is a CHARGE of a sign-extended 32-bit delta; then *k = the delta
 * (else *k is untouched). */
static bool small_charge(const comp *c, uint32_t pc, uint32_t *k)
{
    if (c->st != ST_OK || (uint64_t)pc + 3 > c->n || c->w[pc] != VM_CHARGE ||
        !fits32(c->w[pc + 1], c->w[pc + 2]))
        return false;
    *k = c->w[pc + 1];
    return true;
}

/* True if the code at pc is a standard check (engine_int.h); then *k = its counter delta (else
 * *k is untouched). */
static bool std_check(const comp *c, uint32_t pc, uint32_t *k)
{
    if (c->st != ST_OK || (uint64_t)pc + 7 > c->n)
        return false;
    const uint32_t *w = &c->w[pc];
    if (w[0] != VM_CHARGE_CHECK || !fits32(w[1], w[2]) || w[3] != 4 || w[4] != VM_CALL)
        return false;
    *k = w[1];
    return true;
}

/* BR_TABLE_T at pc: each target that starts with a CHARGE is skipped and charged here. */
static void fix_table(comp *c, uint32_t pc)
{
    uint32_t n = c->w[pc + 2], k;
    for (uint32_t j = 0; j <= n; j++) {
        uint32_t at = pc + 3 + j;
        uint32_t target = (uint32_t)((int64_t)at + (int32_t)c->w[at]);
        if (small_charge(c, target, &k)) {
            set_off(c, at, target + 3);
            c->w[at + n + 1] = k;
        }
    }
}

/* Once a function's labels are all bound: every branch recorded by branch_tail() whose target
 * starts with a CHARGE (or a standard check) jumps past it and performs it itself (_T, or _M
 * with the check), and a conditional one followed by a CHARGE performs that one on its
 * fall-through (_TC, _MC). A branch that fits none keeps its _T form with charge 0. */
static void fix_branches(comp *c)
{
    for (uint32_t i = 0; i < c->nsites && c->st == ST_OK; i++) {
        uint32_t pc = c->sites[i], *w = &c->w[pc], k = 0, k2;
        if (w[0] == VM_BR_TABLE_T) {
            fix_table(c, pc);
            continue;
        }
        uint32_t op = plain_table[w[0]], n = mbr_len(op);
        uint32_t at = pc + n - 1, target = (uint32_t)((int64_t)at + (int32_t)w[n - 1]);
        int v = 0;
        if (small_charge(c, target, &k)) {
            set_off(c, at, target + 3);
        } else if (std_check(c, target, &k)) {
            set_off(c, at, target + 7);
            v = 1;
        }
        if (op != VM_BR && small_charge(c, pc + n + 1, &k2))
            v += 2;
        w[0] = mbr_variant(op, v);
        w[n] = k;
    }
    c->nsites = 0;
}

/* Emits the counter decrement `counter += v` (the register global's fused global_add). */
static void emit_charge(comp *c, uint64_t v)
{
    uint32_t pc = here(c);
    emit2(c, VM_CHARGE, (uint32_t)v, (uint32_t)(v >> 32));
    c->charge_pc = pc;
    c->charge_end = here(c);
}

/* If the CHARGE just emitted is directly followed by the counter check (its `if` is being
 * compiled), replaces both by one CHARGE_CHECK and returns its offset word (to be patched to
 * the end of the `if`); else returns UINT32_MAX. */
static uint32_t fuse_charge_check(comp *c, cond k)
{
    if (k.op != VM_BR_CTR_LT0 || c->charge_end != here(c) || c->st != ST_OK)
        return UINT32_MAX;
    uint32_t lo = c->w[c->charge_pc + 1], hi = c->w[c->charge_pc + 2];
    c->n = c->charge_pc;
    meter_forget(c);
    emit2(c, VM_CHARGE_CHECK, lo, hi);
    uint32_t at = here(c);
    put(c, 0);
    return at;
}

/* Finds the register global: the G of a `global.get G; i64.const k; i64.sub; global.set G`
 * that begins the first function body, if G is a mutable i64 global. */
static uint32_t find_ctr_global(const engine_module *m)
{
    static const opcode decrement[4] = {OP_GLOBAL_GET, OP_I64_CONST, OP_I64_SUB, OP_GLOBAL_SET};
    if (m->nfuncs == m->nfunc_imports)
        return UINT32_MAX;
    reader r = reader_of(m->funcs[0].body);
    engine_insn in[4];
    for (int i = 0; i < 4; i++)
        if (engine_insn_read(&r, &in[i], NULL) != ST_OK || in[i].op != decrement[i])
            return UINT32_MAX;
    uint32_t g = in[0].a;
    if (in[3].a != g || g >= m->nglobals || m->globals[g].type != VT_I64 || !m->globals[g].mut)
        return UINT32_MAX;
    return g;
}

/* ---- branches ----------------------------------------------------------------------------- */

static const uint16_t negated[][2] = {
    {VM_BR_IF, VM_BR_IFZ},
    {VM_BR_IF64, VM_BR_IFZ64},
    {VM_BR_GLOBAL_LT0, VM_BR_GLOBAL_GE0},
    {VM_BR_CTR_LT0, VM_BR_CTR_GE0},
    {VM_BR_I32_EQ, VM_BR_I32_NE},
    {VM_BR_I32_LT_S, VM_BR_I32_GE_S},
    {VM_BR_I32_LT_U, VM_BR_I32_GE_U},
    {VM_BR_I32_GT_S, VM_BR_I32_LE_S},
    {VM_BR_I32_GT_U, VM_BR_I32_LE_U},
    {VM_BR_I32_EQ_I, VM_BR_I32_NE_I},
    {VM_BR_I32_LT_S_I, VM_BR_I32_GE_S_I},
    {VM_BR_I32_LT_U_I, VM_BR_I32_GE_U_I},
    {VM_BR_I32_GT_S_I, VM_BR_I32_LE_S_I},
    {VM_BR_I32_GT_U_I, VM_BR_I32_LE_U_I},
};

/* The SH_CMP instructions of opcodes.def: each has two compare-and-branch ops, and every one of
 * them must be in a pair above (an `if` on a comparison branches on its negation). */
enum {
    N_SH_CMP = 0
#define VM_WASM_BR(n) +1
#include "vm_ops.inc"
};
_Static_assert(BASE_ARRAY_LEN(negated) == 4 + N_SH_CMP,
               "a compare-and-branch op of opcodes.def has no negation in `negated`");

static cond negate(cond k)
{
    for (size_t i = 0; i < BASE_ARRAY_LEN(negated); i++) {
        if (negated[i][0] == k.op) {
            k.op = negated[i][1];
            return k;
        }
        if (negated[i][1] == k.op) {
            k.op = negated[i][0];
            return k;
        }
    }
    return k;
}

/* The compare-and-branch form of a compare instruction, or 0. */
static uint32_t branch_form(uint32_t op)
{
    /* clang-format off */
    switch (op) {
#define VM_WASM_BR(n) case VM_##n: return VM_BR_##n; case VM_##n##_I: return VM_BR_##n##_I;
#include "vm_ops.inc"
    default: return 0;
    }
    /* clang-format on */
}

/* Pops an i32 condition; fuses it with the compare that just produced it when possible. */
static cond pop_cond(comp *c)
{
    uint32_t top = c->vh - 1;
    if (c->last_ok && c->last_h == top && c->vs[top].kind == V_STACK && c->st == ST_OK) {
        const uint32_t *w = &c->w[c->last_pc];
        /* `global.get g; i64.const 0; i64.lt_s` (the metering check): one instruction */
        if ((w[0] == VM_I64_LT_S_I || w[0] == VM_I64_GE_S_I) && w[3] == 0 &&
            c->gg_pc != UINT32_MAX && c->gg_pc + 3 == c->last_pc && c->w[c->gg_pc + 1] == w[2] &&
            w[1] == w[2]) {
            bool ctr = c->w[c->gg_pc] == VM_CTR_GET;
            bool lt = w[0] == VM_I64_LT_S_I;
            cond k = {ctr ? (lt ? VM_BR_CTR_LT0 : VM_BR_CTR_GE0)
                          : (lt ? VM_BR_GLOBAL_LT0 : VM_BR_GLOBAL_GE0),
                      c->w[c->gg_pc + 2], 0, 1};
            c->n = c->gg_pc;
            c->last_ok = false;
            c->gg_pc = UINT32_MAX;
            c->vh--;
            return k;
        }
        uint32_t br = branch_form(w[0]);
        if (br || w[0] == VM_I32_EQZ || w[0] == VM_I64_EQZ) {
            cond k;
            if (br)
                k = (cond){br, w[2], w[3], 2};
            else
                k = (cond){w[0] == VM_I32_EQZ ? VM_BR_IFZ : VM_BR_IFZ64, w[2], 0, 1};
            c->n = c->last_pc; /* drop the compare: its result has no other reader */
            c->last_ok = false;
            c->vh--;
            return k;
        }
    }
    uint32_t s = pop(c);
    return (cond){VM_BR_IF, s, 0, 1};
}

/* Emits the branch of condition k and returns nothing; the offset word is chained to t. */
static void emit_cond(comp *c, cond k, ctrl *t)
{
    uint32_t pc = here(c);
    c->last_ok = false;
    put(c, k.op);
    put(c, k.a);
    if (k.nops == 2)
        put(c, k.b);
    put_target(c, t);
    branch_tail(c, pc);
}

/* Emits the condition-k branch; returns its offset word, to be patched by the caller. */
static uint32_t emit_cond_fwd(comp *c, cond k)
{
    uint32_t pc = here(c);
    c->last_ok = false;
    put(c, k.op);
    put(c, k.a);
    if (k.nops == 2)
        put(c, k.b);
    uint32_t at = here(c);
    put(c, 0);
    branch_tail(c, pc);
    return at;
}

/* Emits an unconditional branch to t. */
static void emit_br(comp *c, ctrl *t)
{
    uint32_t pc = here(c);
    c->last_ok = false;
    put(c, VM_BR);
    put_target(c, t);
    branch_tail(c, pc);
}

/* Emits a return of the top nres entries. */
static void emit_return(comp *c, uint32_t nres)
{
    if (nres == 0) {
        c->last_ok = false;
        put(c, VM_RETURN);
    } else if (nres == 1) {
        emit1(c, VM_RETURN1, opnd(c, c->vh - 1));
    } else {
        for (uint32_t i = c->vh - nres; i < c->vh; i++)
            materialize(c, i);
        emit2(c, VM_RETURNN, home(c, c->vh - nres), nres);
    }
}

/* True if the `arity` values on top are already in the home slots of target t. */
static bool in_place(const comp *c, const ctrl *t, uint32_t arity)
{
    if (c->vh - arity != t->height)
        return false;
    for (uint32_t i = c->vh - arity; i < c->vh; i++)
        if (c->vs[i].kind != V_STACK)
            return false;
    return true;
}

/* Emits the moves of the `arity` top values into t's home slots (ascending order is safe: a
 * destination is never above its source, and lazy sources are locals, below every home). */
static void emit_moves(comp *c, const ctrl *t, uint32_t arity)
{
    for (uint32_t i = 0; i < arity; i++) {
        uint32_t src_i = c->vh - arity + i, d = home(c, t->height + i);
        const ventry *e = &c->vs[src_i];
        if (e->kind == V_CONST)
            emit_const(c, d, e->val);
        else if (opnd(c, src_i) != d)
            emit2(c, VM_COPY, d, opnd(c, src_i));
    }
}

/* Branch to the label `depth` levels out, if k (NULL: always). */
static void br_to(comp *c, uint32_t depth, const cond *k)
{
    if (depth >= c->ch) {
        c->st = BUG();
        return;
    }
    ctrl *t = &c->cs[c->ch - 1 - depth];
    uint32_t arity = t->kind == C_LOOP ? t->nparams : t->nresults;
    if (k) /* materializing only on the taken path would leave the model wrong on the other */
        for (uint32_t i = c->vh - arity; i < c->vh; i++)
            if (c->vs[i].kind != V_STACK)
                materialize(c, i);
    if (t->kind == C_FUNC) {
        uint32_t skip = 0;
        if (k)
            skip = emit_cond_fwd(c, negate(*k));
        emit_return(c, arity);
        if (k)
            set_off(c, skip, here(c));
        return;
    }
    if (in_place(c, t, arity)) {
        if (k)
            emit_cond(c, *k, t);
        else
            emit_br(c, t);
        return;
    }
    uint32_t skip = 0;
    if (k)
        skip = emit_cond_fwd(c, negate(*k));
    emit_moves(c, t, arity);
    emit_br(c, t);
    if (k)
        set_off(c, skip, here(c));
}

static void br_table(comp *c, uint32_t n, const uint32_t *depths)
{
    uint32_t i = pop(c);
    if (depths[n] < c->ch) { /* every target has this arity; see br_to */
        const ctrl *t = &c->cs[c->ch - 1 - depths[n]];
        uint32_t arity = t->kind == C_LOOP ? t->nparams : t->nresults;
        for (uint32_t k = c->vh - arity; k < c->vh; k++)
            if (c->vs[k].kind != V_STACK)
                materialize(c, k);
    }
    c->last_ok = false;
    put(c, VM_BR_TABLE);
    put(c, i);
    put(c, n);
    uint32_t table = here(c);
    for (uint32_t k = 0; k <= n; k++)
        put(c, 0);
    if (c->ctr_g != UINT32_MAX && c->st == ST_OK) { /* BR_TABLE_T: a charge word per target */
        c->w[table - 3] = VM_BR_TABLE_T;
        note_site(c, table - 3);
        for (uint32_t k = 0; k <= n; k++)
            put(c, 0);
    }
    for (uint32_t k = 0; k <= n && c->st == ST_OK; k++) {
        if (depths[k] >= c->ch) {
            c->st = BUG();
            return;
        }
        ctrl *t = &c->cs[c->ch - 1 - depths[k]];
        uint32_t arity = t->kind == C_LOOP ? t->nparams : t->nresults;
        if (t->kind != C_FUNC && in_place(c, t, arity)) {
            if (t->kind == C_LOOP) {
                set_off(c, table + k, t->loop_pc);
            } else {
                c->w[table + k] = t->patch;
                t->patch = table + k + 1;
            }
            continue;
        }
        set_off(c, table + k, here(c)); /* a stub: moves, then the jump */
        br_to(c, depths[k], NULL);
    }
}

/* ---- structured control -------------------------------------------------------------------- */

static void ctrl_push(comp *c, uint8_t kind, uint32_t np, uint32_t nr)
{
    if (!room(c, (void **)&c->cs, c->ch, &c->ccap, sizeof *c->cs, 16))
        return;
    c->cs[c->ch++] = (ctrl){kind, false, np, nr, c->vh - np, 0, 0, 0};
    c->gg_pc = UINT32_MAX; /* a label may follow: no fusion across it */
    meter_forget(c);
}

/* Block type (spec 5.3.2): empty, one value type, or a type index. */
/* The arity of a block type as engine_insn_read gives it (type 0x40, a valtype, or 0 with a
 * type index in `a`). */
static status block_arity(comp *c, const engine_insn *in, uint32_t *np, uint32_t *nr)
{
    if (in->type == 0x40) {
        *np = *nr = 0;
    } else if (in->type) {
        *np = 0;
        *nr = 1;
    } else {
        if (in->a >= c->m->ntypes)
            return BUG();
        *np = c->m->types[in->a].nparams;
        *nr = c->m->types[in->a].nresults;
    }
    return ST_OK;
}

static void set_unreachable(comp *c)
{
    c->cs[c->ch - 1].unreachable = true;
    c->last_ok = false;
}

/* `else`: close the then-arm, bind the else label, restart from the if's params. */
static void do_else(comp *c)
{
    ctrl *t = &c->cs[c->ch - 1];
    if (!t->unreachable) {
        for (uint32_t i = c->vh - t->nresults; i < c->vh; i++)
            materialize(c, i);
        emit_br(c, t);
    }
    if (t->else_patch)
        set_off(c, t->else_patch - 1, here(c));
    t->else_patch = 0;
    t->kind = C_ELSE;
    t->unreachable = false;
    c->gg_pc = UINT32_MAX;
    meter_forget(c);
    c->vh = t->height + t->nparams;
    c->last_ok = false;
}

/* `end`: bind the label, leave the block's results in their home slots. True at the end of the
 * function. */
static bool do_end(comp *c)
{
    ctrl *t = &c->cs[c->ch - 1];
    if (t->kind == C_FUNC) {
        if (!t->unreachable)
            emit_return(c, t->nresults);
        c->ch--;
        return true;
    }
    if (!t->unreachable)
        for (uint32_t i = c->vh - t->nresults; i < c->vh; i++)
            materialize(c, i);
    if (t->kind != C_LOOP)
        patch_chain(c, t->patch, here(c));
    if (t->else_patch)
        set_off(c, t->else_patch - 1, here(c));
    c->vh = t->height;
    for (uint32_t i = 0; i < t->nresults; i++)
        vpush(c, V_STACK, 0, 0);
    c->ch--;
    c->last_ok = false;
    c->gg_pc = UINT32_MAX;
    meter_forget(c);
    return false;
}

/* local.set / local.tee x */
static void set_local(comp *c, uint32_t x, bool tee)
{
    uint32_t top = c->vh - 1;
    bool shared = false;
    for (uint32_t i = 0; i < top; i++)
        if (c->vs[i].kind == V_LOCAL && c->vs[i].slot == x) {
            materialize(c, i);
            shared = true;
        }
    ventry *e = &c->vs[top];
    if (!shared && e->kind == V_STACK && c->last_ok && c->last_h == top && c->st == ST_OK) {
        c->w[c->last_pc + 1] = x; /* retarget the producer: no copy */
        c->last_ok = false;
        if (tee) {
            e->kind = V_LOCAL;
            e->slot = x;
        } else {
            c->vh--;
        }
        return;
    }
    if (e->kind == V_CONST)
        emit_const(c, x, e->val);
    else if (opnd(c, top) != x)
        emit2(c, VM_COPY, x, opnd(c, top));
    if (!tee)
        c->vh--;
}

/* ---- instructions -------------------------------------------------------------------------- */

/* An instruction's immediates as the compiler uses them: engine_insn's fields (a, b: the
 * decoder's meaning, engine.h; memarg alignment in a, offset in b), block arity, and br_table's
 * label count n with the labels, default last, in c->targets. */
typedef struct imm {
    uint32_t a, b, n;
    uint64_t v;
    uint32_t np, nr;
} imm;

/* Reads one instruction with the decoder's reader (engine_insn_read) into *op and *im. */
static status read_insn(comp *c, reader *r, opcode *op, imm *im)
{
    engine_insn in;
    memset(&in, 0, sizeof in);
    status st = engine_insn_read(r, &in, NULL);
    if (st != ST_OK)
        return st;
    *op = in.op;
    *im = (imm){.a = in.a, .b = in.b, .v = in.value};
    switch (engine_opcodes[in.op].imm) {
    case IMM_BLOCKTYPE: return block_arity(c, &in, &im->np, &im->nr);
    case IMM_BR_TABLE: {
        im->n = in.a;
        if (im->n + 1u > c->ntargets_cap) {
            if (im->n >= (1u << 24))
                return ST_LIMIT_EXCEEDED;
            uint32_t *nt = base_realloc(c->targets, (im->n + 1u) * sizeof *nt);
            if (!nt)
                return ST_OUT_OF_MEMORY;
            c->targets = nt;
            c->ntargets_cap = im->n + 1u;
        }
        reader tr = reader_of(in.targets);
        for (uint32_t i = 0; i < im->n && st == ST_OK; i++)
            st = reader_u32(&tr, &c->targets[i]);
        c->targets[im->n] = in.b;
        return st;
    }
    default: return ST_OK;
    }
}

/* The VM op of each instruction compiled by its shape (SH_OWN: none). */
static const uint16_t shape_op[OP_COUNT] = {
#define VM_WASM(n) [OP_##n] = VM_##n,
#include "vm_ops.inc"
};

/* The immediate-operand form of instruction op (SH_BINI, SH_CMP), or UINT32_MAX; *is64 if its
 * operands are i64 (the immediate is then sign-extended from 32 bits). */
static uint32_t imm_form(opcode op, bool *is64)
{
    *is64 = engine_opcodes[op].sig[0] == 'I';
    /* clang-format off */
    switch (op) {
#define VM_WASM_I(n) case OP_##n: return VM_##n##_I;
#include "vm_ops.inc"
    default: return UINT32_MAX;
    }
    /* clang-format on */
}

static void put_n(comp *c, uint32_t op, const uint32_t *v, int n)
{
    c->last_ok = false;
    put(c, op);
    for (int i = 0; i < n; i++)
        put(c, v[i]);
}

/* Emits op (d, v[1] .. v[n-1]) with d = v[0] the home slot of a new result, which a following
 * local.set may retarget (mark_last); returns the instruction's word index. */
static uint32_t put_result(comp *c, uint32_t op, uint32_t *v, int n)
{
    v[0] = push_result(c);
    uint32_t pc = here(c);
    put_n(c, op, v, n);
    mark_last(c, pc);
    return pc;
}

/* An instruction compiled by its shape (opcodes.def); off: a load's or store's memarg offset. */
static void emit_numeric(comp *c, opcode op, uint32_t off)
{
    uint32_t v[3], vm = shape_op[op];
    switch (engine_opcodes[op].shape) {
    case SH_UN:
        v[1] = pop(c);
        put_result(c, vm, v, 2);
        break;
    case SH_BIN:
    case SH_BINI:
    case SH_CMP: {
        bool is64 = false;
        uint32_t vi = imm_form(op, &is64);
        const ventry *top = &c->vs[c->vh - 1];
        if (vi != UINT32_MAX && top->kind == V_CONST &&
            (!is64 || (int64_t)top->val == (int64_t)(int32_t)(uint32_t)top->val)) {
            v[2] = (uint32_t)top->val;
            c->vh--;
            v[1] = pop(c);
            put_result(c, vi, v, 3);
            break;
        }
        v[2] = pop(c), v[1] = pop(c);
        put_result(c, vm, v, 3);
        break;
    }
    case SH_LOAD:
        v[1] = pop(c), v[2] = off;
        put_result(c, vm, v, 3);
        break;
    case SH_STORE:
        v[1] = pop(c), v[0] = pop(c), v[2] = off;
        put_n(c, vm, v, 3);
        break;
    case SH_OWN: c->st = BUG(); break;
    }
}

static void note_call(comp *c, uint32_t pc)
{
    pc_list_push(c, &c->calls, &c->ncalls, &c->calls_cap, pc);
}

/* Once every function is compiled: a direct call of a function whose entry is a standard check
 * becomes CALL_M. */
static void fuse_calls(comp *c, const vm_code_func *funcs)
{
    for (uint32_t i = 0; i < c->ncalls && c->st == ST_OK; i++) {
        uint32_t *w = &c->w[c->calls[i]], k;
        if (w[0] == VM_CALL && std_check(c, funcs[w[1] - c->m->nfunc_imports].start, &k))
            w[0] = VM_CALL_M;
    }
}

static void emit_call(comp *c, uint32_t fidx, bool indirect, uint32_t type, uint32_t table)
{
    if (!indirect && fidx >= c->m->nfuncs) {
        c->st = BUG();
        return;
    }
    uint32_t i = indirect ? pop(c) : 0;
    const functype *ft = indirect ? &c->m->types[type] : engine_func_type(c->m, fidx);
    if (c->vh < ft->nparams) {
        c->st = BUG();
        return;
    }
    for (uint32_t k = c->vh - ft->nparams; k < c->vh; k++)
        materialize(c, k);
    c->vh -= ft->nparams;
    uint32_t base = home(c, c->vh);
    if (indirect) {
        emit3(c, VM_CALL_INDIRECT, c->canon[type], table, i);
        put(c, base);
    } else {
        if (fidx >= c->m->nfunc_imports && c->ctr_g != UINT32_MAX)
            note_call(c, here(c));
        emit2(c, VM_CALL, fidx, base);
    }
    for (uint32_t k = 0; k < ft->nresults; k++)
        vpush(c, V_STACK, 0, 0);
    c->last_ok = false;
}

/* Dead code after an unconditional branch: only track nesting to find the frame's else/end. */
static status skip_insn(comp *c, opcode op, bool *done)
{
    switch (op) {
    case OP_BLOCK:
    case OP_LOOP:
    case OP_IF: c->skip++; break;
    case OP_ELSE:
        if (c->skip == 0)
            do_else(c);
        break;
    case OP_END:
        if (c->skip)
            c->skip--;
        else
            *done = do_end(c);
        break;
    default: break;
    }
    return ST_OK;
}

/* Bulk memory, table and reference instructions. */
static void emit_misc(comp *c, opcode op, const imm *im)
{
    uint32_t v[5];
    switch (op) {
    case OP_MEMORY_INIT:
        v[3] = pop(c), v[2] = pop(c), v[1] = pop(c), v[0] = im->a;
        put_n(c, VM_MEMORY_INIT, v, 4);
        break;
    case OP_DATA_DROP: emit1(c, VM_DATA_DROP, im->a); break;
    case OP_MEMORY_COPY:
        v[2] = pop(c), v[1] = pop(c), v[0] = pop(c);
        put_n(c, VM_MEMORY_COPY, v, 3);
        break;
    case OP_MEMORY_FILL:
        v[2] = pop(c), v[1] = pop(c), v[0] = pop(c);
        put_n(c, VM_MEMORY_FILL, v, 3);
        break;
    case OP_TABLE_INIT:
        v[4] = pop(c), v[3] = pop(c), v[2] = pop(c), v[1] = im->a, v[0] = im->b;
        put_n(c, VM_TABLE_INIT, v, 5);
        break;
    case OP_ELEM_DROP: emit1(c, VM_ELEM_DROP, im->a); break;
    case OP_TABLE_COPY:
        v[4] = pop(c), v[3] = pop(c), v[2] = pop(c), v[0] = im->a, v[1] = im->b;
        put_n(c, VM_TABLE_COPY, v, 5);
        break;
    case OP_TABLE_GROW:
        v[3] = pop(c), v[2] = pop(c), v[1] = im->a;
        put_result(c, VM_TABLE_GROW, v, 4);
        break;
    case OP_TABLE_SIZE:
        v[1] = im->a;
        put_result(c, VM_TABLE_SIZE, v, 2);
        break;
    case OP_TABLE_FILL:
        v[3] = pop(c), v[2] = pop(c), v[1] = pop(c), v[0] = im->a;
        put_n(c, VM_TABLE_FILL, v, 4);
        break;
    case OP_TABLE_GET:
        v[2] = pop(c), v[1] = im->a;
        put_result(c, VM_TABLE_GET, v, 3);
        break;
    case OP_TABLE_SET:
        v[2] = pop(c), v[1] = pop(c), v[0] = im->a;
        put_n(c, VM_TABLE_SET, v, 3);
        break;
    case OP_REF_FUNC:
        v[1] = im->a;
        put_result(c, VM_REF_FUNC, v, 2);
        break;
    case OP_MEMORY_SIZE: put_result(c, VM_MEMORY_SIZE, v, 1); break;
    case OP_MEMORY_GROW:
        v[1] = pop(c);
        put_result(c, VM_MEMORY_GROW, v, 2);
        break;
    case OP_SELECT:
    case OP_SELECT_T:
        v[1] = pop(c), v[3] = pop(c), v[2] = pop(c);
        put_result(c, VM_SELECT, v, 4);
        break;
    default: c->st = BUG(); break;
    }
}

/* `global.get g; i64.const k; i64.sub (or add); global.set g` (the metering decrement) becomes
 * one GLOBAL_ADD64 when the three instructions were emitted back to back into one slot. */
static bool global_add(comp *c, uint32_t g)
{
    uint32_t top = c->vh - 1;
    if (!c->last_ok || c->last_h != top || c->vs[top].kind != V_STACK || c->st != ST_OK ||
        c->gg_pc == UINT32_MAX || c->gg_pc + 3 != c->last_pc)
        return false;
    const uint32_t *w = &c->w[c->last_pc], *gg = &c->w[c->gg_pc];
    uint32_t h = home(c, top);
    if ((w[0] != VM_I64_SUB_I && w[0] != VM_I64_ADD_I) || w[1] != h || w[2] != h || gg[1] != h ||
        gg[2] != g)
        return false;
    int64_t k = (int64_t)(int32_t)w[3];
    uint64_t v = w[0] == VM_I64_SUB_I ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
    c->n = c->gg_pc;
    c->last_ok = false;
    c->gg_pc = UINT32_MAX;
    c->vh--;
    if (g == c->ctr_g)
        emit_charge(c, v);
    else
        emit3(c, VM_GLOBAL_ADD64, g, (uint32_t)v, (uint32_t)(v >> 32));
    return true;
}

/* Compiles one instruction; *done at the function's final end. */
static status compile_insn(comp *c, reader *r, bool *done)
{
    opcode op;
    imm im;
    status st = read_insn(c, r, &op, &im);
    if (st != ST_OK)
        return st;
    if (c->cs[c->ch - 1].unreachable)
        return skip_insn(c, op, done);
    if (engine_opcodes[op].shape != SH_OWN) {
        emit_numeric(c, op, im.b); /* loads and stores: the memarg offset */
        return ST_OK;
    }
    switch (op) {
    case OP_UNREACHABLE:
        c->last_ok = false;
        put(c, VM_UNREACHABLE);
        set_unreachable(c);
        break;
    case OP_NOP: break;
    case OP_BLOCK:
    case OP_LOOP:
        materialize_all(c);
        ctrl_push(c, op == OP_BLOCK ? C_BLOCK : C_LOOP, im.np, im.nr);
        c->cs[c->ch - 1].loop_pc = here(c);
        c->last_ok = false;
        break;
    case OP_IF: {
        cond k = pop_cond(c);
        materialize_all(c);
        uint32_t at = fuse_charge_check(c, k);
        ctrl_push(c, C_IF, im.np, im.nr);
        if (at == UINT32_MAX)
            at = emit_cond_fwd(c, negate(k));
        c->cs[c->ch - 1].else_patch = at + 1;
        break;
    }
    case OP_ELSE: do_else(c); break;
    case OP_END: *done = do_end(c); break;
    case OP_BR:
        br_to(c, im.a, NULL);
        set_unreachable(c);
        break;
    case OP_BR_IF: {
        cond k = pop_cond(c);
        br_to(c, im.a, &k);
        break;
    }
    case OP_BR_TABLE:
        br_table(c, im.n, c->targets);
        set_unreachable(c);
        break;
    case OP_RETURN:
        br_to(c, c->ch - 1, NULL);
        set_unreachable(c);
        break;
    case OP_CALL: emit_call(c, im.a, false, 0, 0); break;
    case OP_CALL_INDIRECT: emit_call(c, 0, true, im.a, im.b); break;
    case OP_DROP:
        c->vh--;
        c->last_ok = false;
        break;
    case OP_LOCAL_GET: vpush(c, V_LOCAL, im.a, 0); break;
    case OP_LOCAL_SET: set_local(c, im.a, false); break;
    case OP_LOCAL_TEE: set_local(c, im.a, true); break;
    case OP_GLOBAL_GET: {
        uint32_t v[2] = {0, im.a};
        c->gg_pc = put_result(c, im.a == c->ctr_g ? VM_CTR_GET : VM_GLOBAL_GET, v, 2);
        break;
    }
    case OP_GLOBAL_SET:
        if (!global_add(c, im.a)) {
            uint32_t a = pop(c);
            emit2(c, im.a == c->ctr_g ? VM_CTR_SET : VM_GLOBAL_SET, im.a, a);
        }
        break;
    case OP_I32_CONST:
    case OP_I64_CONST:
    case OP_F32_CONST:
    case OP_F64_CONST: vpush(c, V_CONST, 0, im.v); break;
    case OP_REF_NULL: vpush(c, V_CONST, 0, 0); break;
    default: emit_misc(c, op, &im); break;
    }
    return ST_OK;
}

/* Compiles one function body; appends to c->w. */
static status compile_body(comp *c, const func *fn, vm_code_func *out)
{
    const functype *ft = &c->m->types[fn->type];
    c->base = ft->nparams + fn->nlocals;
    c->vh = c->maxh = 0;
    c->ch = 0;
    c->skip = 0;
    c->last_ok = false;
    c->gg_pc = UINT32_MAX;
    meter_forget(c);
    out->start = here(c);
    out->nparams = ft->nparams;
    out->nresults = ft->nresults;
    out->nlocals = fn->nlocals;
    ctrl_push(c, C_FUNC, 0, ft->nresults);
    reader r = reader_of(fn->body);
    status st = ST_OK;
    bool done = false;
    while (!done && st == ST_OK && c->st == ST_OK) {
        if (reader_left(&r) == 0)
            return BUG();
        st = compile_insn(c, &r, &done);
    }
    if (st == ST_OK)
        fix_branches(c);
    if (st == ST_OK)
        st = c->st;
    if (st != ST_OK)
        return st;
    uint64_t fs = (uint64_t)c->base + c->maxh;
    if (fs < ft->nresults)
        fs = ft->nresults;
    if (fs > (1u << 24))
        return ST_LIMIT_EXCEEDED;
    out->frame_size = (uint32_t)fs;
    return ST_OK;
}

/* Structurally equal types share one index, so call_indirect mostly compares pointers. */
static void canon_types(const engine_module *m, uint32_t *canon)
{
    for (uint32_t i = 0; i < m->ntypes; i++) {
        canon[i] = i;
        for (uint32_t j = 0; j < i; j++)
            if (vm_functype_eq(&m->types[i], &m->types[j])) {
                canon[i] = j;
                break;
            }
    }
}

status engine_code_compile(const engine_module *m, engine_code **out)
{
    *out = NULL;
    engine_code *code = base_calloc(1, sizeof *code);
    if (!code)
        return ST_OUT_OF_MEMORY;
    status st = ST_OUT_OF_MEMORY;
    uint32_t ndef = m->nfuncs - m->nfunc_imports;
    code->m = m;
    code->funcs = base_calloc(ndef ? ndef : 1, sizeof *code->funcs);
    code->canon_type = base_calloc(m->ntypes ? m->ntypes : 1, sizeof *code->canon_type);
    if (!code->funcs || !code->canon_type)
        goto out_free_code;
    canon_types(m, code->canon_type);
    code->ctr_global = find_ctr_global(m);
    comp c = {.m = m, .canon = code->canon_type, .ctr_g = code->ctr_global, .st = ST_OK};
    st = ST_OK;
    for (uint32_t i = 0; i < ndef && st == ST_OK; i++)
        st = compile_body(&c, &m->funcs[i], &code->funcs[i]);
    if (st == ST_OK)
        fuse_calls(&c, code->funcs);
    if (st == ST_OK)
        st = c.st;
    base_free(c.calls);
    base_free(c.sites);
    base_free(c.vs);
    base_free(c.cs);
    base_free(c.targets);
    if (st != ST_OK) {
        base_free(c.w);
        goto out_free_code;
    }
    code->words = c.w;
    code->nwords = c.n;
    *out = code;
    return ST_OK;

out_free_code:
    engine_code_free(code);
    return st;
}

void engine_code_free(engine_code *c)
{
    if (!c)
        return;
    base_free(c->words);
    base_free(c->funcs);
    base_free(c->canon_type);
    base_free(c);
}

const engine_module *engine_code_module(const engine_code *c)
{
    return c->m;
}
