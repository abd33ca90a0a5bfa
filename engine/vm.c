/* vm.c - the dispatch loop: runs the internal code of compile.c (layouts in engine_int.h) over
 * the value slots of an instance's execution state, and the call/run entry points.
 *
 * One long function, Lua/SQLite style: the registers (pc, frame pointer, current instance,
 * memory base and length) are C locals; every handler reads its operands from the code words,
 * computes, writes, advances pc and dispatches the next one. Dispatch is computed goto through
 * a label table (GCC/Clang) or, with -DTALLY_DISPATCH_SWITCH, a portable switch. Wasm calls do
 * not recurse on the C stack: a call pushes a vm_frame record and switches registers. The
 * stack limits are checked once per call (frame records, and the callee's static frame size
 * against the slot area), never per instruction. Everything lives in inst->ex, so a run can
 * stop after a host call (pause) and resume later.
 *
 * Metering: the current instance's register global (the instruction counter; compile.c,
 * "metering") lives in the C local `ctr` while the loop runs. CTR_SAVE writes it back to the
 * global before anything else can look at it (a host call, a switch to another instance, leaving
 * the loop), CTR_LOAD reads it again afterwards (a host function may charge or set it).
 *
 * Determinism (docs/decisions.md): NaN results of the F_CANON instructions are canonicalized; abs,
 * neg, copysign, reinterpret, loads and stores move bits; min/max/nearest are written out with
 * integer and +/- 2^k arithmetic; float-to-int conversions check exact ranges. No libm call whose
 * result can differ between C libraries (ceil/floor/trunc/sqrt are exact by IEEE). */
#include "engine_int.h"
#include "ops.h"

#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- value helpers (ops.h, shared with the compiled tier) --------------------------------- */

ENGINE_OPS_SOURCE

/* ---- bulk memory and table instructions (spec 4.4.7, 4.4.6), out of the hot loop ---------- */

status vm_op_memory_init(engine_instance *inst, uint32_t seg, uint32_t d, uint32_t s, uint32_t n)
{
    const data_segment *ds = &inst->m->datas[seg];
    uint64_t seglen = inst->data_dropped[seg] ? 0 : ds->bytes.len;
    engine_memory *mem = inst->mem;
    if ((uint64_t)s + n > seglen || (uint64_t)d + n > mem->len)
        return ST_TRAP_MEMORY_OOB;
    if (n)
        memcpy(mem->base + d, ds->bytes.ptr + s, n);
    engine_memory_mark(mem, d, n);
    return ST_OK;
}

status vm_op_memory_copy(engine_memory *mem, uint32_t d, uint32_t s, uint32_t n)
{
    if ((uint64_t)s + n > mem->len || (uint64_t)d + n > mem->len)
        return ST_TRAP_MEMORY_OOB;
    if (n)
        memmove(mem->base + d, mem->base + s, n);
    engine_memory_mark(mem, d, n);
    return ST_OK;
}

status vm_op_memory_fill(engine_memory *mem, uint32_t d, uint32_t v, uint32_t n)
{
    if ((uint64_t)d + n > mem->len)
        return ST_TRAP_MEMORY_OOB;
    if (n)
        memset(mem->base + d, (int)(uint8_t)v, n);
    engine_memory_mark(mem, d, n);
    return ST_OK;
}

status vm_op_table_init(engine_instance *inst, uint32_t ti, uint32_t seg, uint32_t d, uint32_t s,
                        uint32_t n)
{
    engine_table *t = inst->tables[ti];
    if ((uint64_t)s + n > inst->elem_len[seg] || (uint64_t)d + n > t->size)
        return ST_TRAP_TABLE_OOB;
    if (n)
        memcpy(t->elems + d, inst->elem_vals[seg] + s, (size_t)n * sizeof(uint64_t));
    return ST_OK;
}

status vm_op_table_copy(engine_instance *inst, uint32_t dt, uint32_t st_, uint32_t d, uint32_t s,
                        uint32_t n)
{
    engine_table *td = inst->tables[dt], *ts = inst->tables[st_];
    if ((uint64_t)s + n > ts->size || (uint64_t)d + n > td->size)
        return ST_TRAP_TABLE_OOB;
    if (n)
        memmove(td->elems + d, ts->elems + s, (size_t)n * sizeof(uint64_t));
    return ST_OK;
}

status vm_op_table_fill(engine_table *t, uint32_t i, uint64_t v, uint32_t n)
{
    if ((uint64_t)i + n > t->size)
        return ST_TRAP_TABLE_OOB;
    for (uint32_t k = 0; k < n; k++)
        t->elems[i + k] = v;
    return ST_OK;
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* Control flow is written out where it happens (docs/style.md "Control flow"): a handler ends in
 * NEXT() (the dispatch: goto the next handler) or leaves through a labelled exit, `goto trap`
 * after setting st, `goto out_of_budget`, `goto do_call` or `goto do_return`. No other macro
 * jumps; the handler templates below (CBR, LOAD, STORE, TRUNC, ...) write their exits out too. */

#ifdef TALLY_DISPATCH_SWITCH
#define NEXT() goto dispatch
#define OPL(name) case VM_##name:
#else
#define NEXT() goto *labels[*pc]
#define OPL(name) L_##name:
#endif

#define D fp[pc[1]]
#define A fp[pc[2]]
#define B fp[pc[3]]
#define CTR_SAVE()                                                                                \
    do {                                                                                          \
        if (inst->ctr)                                                                            \
            *inst->ctr = ctr;                                                                     \
    } while (0)
#define CTR_LOAD()                                                                                \
    do {                                                                                          \
        if (inst->ctr)                                                                            \
            ctr = *inst->ctr;                                                                     \
    } while (0)
#define IMM64(p) ((p)[0] | (uint64_t)(p)[1] << 32)
/* A taken metered branch (engine_int.h): to t after adding k to the counter. The _M forms then
 * leave through `if (OVERDRAWN()) goto out_of_budget;` (to the out-of-instructions call 3 words
 * before t): a jump, not a cmov, so that pc does not wait for ctr. */
#define TAKE(t, k)                                                                                \
    do {                                                                                          \
        ctr += (uint64_t)(int64_t)(int32_t)(k);                                                   \
        pc = (t);                                                                                 \
    } while (0)
#define OVERDRAWN() __builtin_expect((int64_t)ctr < 0, 0)
/* Not taken, with the CHARGE that follows a branch of n + 1 words. */
#define FALL_C(n)                                                                                 \
    do {                                                                                          \
        ctr += IMM64(pc + (n) + 2);                                                               \
        pc += (n) + 4;                                                                            \
    } while (0)
/* A conditional branch of n words (offset last) and its metered forms (n + 1 words). */
#define CBR(name, n, cond)                                                                        \
    OPL(name)                                                                                     \
    {                                                                                             \
        pc = (cond) ? pc + (n - 1) + (int32_t)pc[n - 1] : pc + n;                                 \
        NEXT();                                                                                   \
    }                                                                                             \
    CBR_M(name##_T, n, cond, 0, pc += n + 1)                                                      \
    CBR_M(name##_M, n, cond, 1, pc += n + 1)                                                      \
    CBR_M(name##_TC, n, cond, 0, FALL_C(n))                                                       \
    CBR_M(name##_MC, n, cond, 1, FALL_C(n))
/* check: the _M forms, which leave to the out-of-instructions call when the counter went
 * negative (a constant: the compiler drops the test from the _T forms) */
#define CBR_M(name, n, cond, check, fall)                                                         \
    OPL(name)                                                                                     \
    {                                                                                             \
        if (cond) {                                                                               \
            TAKE(pc + (n - 1) + (int32_t)pc[n - 1], pc[n]);                                       \
            if ((check) && OVERDRAWN())                                                           \
                goto out_of_budget;                                                               \
        } else {                                                                                  \
            fall;                                                                                 \
        }                                                                                         \
        NEXT();                                                                                   \
    }
/* Enters defined function f with its frame at nfp (pc: where the caller resumes): the return
 * frame, zeroed locals. The call opcodes' common part, after the check FRAME_OVERFLOWS() (the
 * depth and slot limits) has passed. */
#define FRAME_OVERFLOWS() (fr == ex->frames_end || nfp + f->meta->frame_size > ex->slots_end)
#define PUSH_FRAME()                                                                              \
    do {                                                                                          \
        fr->ret_pc = pc;                                                                          \
        fr->fp = fp;                                                                              \
        fr->inst = inst;                                                                          \
        fr++;                                                                                     \
        if (fr > hi)                                                                              \
            hi = fr;                                                                              \
        for (uint32_t i = f->nparams, e = f->nparams + f->meta->nlocals; i < e; i++)              \
            nfp[i] = 0;                                                                           \
        fp = nfp;                                                                                 \
    } while (0)
#define LOAD_MEM()                                                                                \
    do {                                                                                          \
        mem = inst->mem ? inst->mem->base : NULL;                                                 \
        memlen = inst->mem ? inst->mem->len : 0;                                                  \
    } while (0)

/* handler shapes */
#define UN32(n, e)                                                                                \
    OPL(n)                                                                                        \
    {                                                                                             \
        uint32_t a = (uint32_t)A;                                                                 \
        D = (uint64_t)(uint32_t)(e);                                                              \
        pc += 3;                                                                                  \
        NEXT();                                                                                   \
    }
#define UN64(n, e)                                                                                \
    OPL(n)                                                                                        \
    {                                                                                             \
        uint64_t a = A;                                                                           \
        D = (uint64_t)(e);                                                                        \
        pc += 3;                                                                                  \
        NEXT();                                                                                   \
    }
#define UNF32(n, e)                                                                               \
    OPL(n)                                                                                        \
    {                                                                                             \
        float a = f32_of(A);                                                                      \
        D = (e);                                                                                  \
        pc += 3;                                                                                  \
        NEXT();                                                                                   \
    }
#define UNF64(n, e)                                                                               \
    OPL(n)                                                                                        \
    {                                                                                             \
        double a = f64_of(A);                                                                     \
        D = (e);                                                                                  \
        pc += 3;                                                                                  \
        NEXT();                                                                                   \
    }
#define TRUNC(n, get, fn)                                                                         \
    OPL(n)                                                                                        \
    {                                                                                             \
        st = fn((double)get(A), &D);                                                              \
        if (st != ST_OK)                                                                          \
            goto trap;                                                                            \
        pc += 3;                                                                                  \
        NEXT();                                                                                   \
    }
#define BIN32(n, e)                                                                               \
    OPL(n)                                                                                        \
    {                                                                                             \
        uint32_t a = (uint32_t)A, b = (uint32_t)B;                                                \
        D = (uint64_t)(uint32_t)(e);                                                              \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
#define BIN32I(n, e)                                                                              \
    BIN32(n, e)                                                                                   \
    OPL(n##_I)                                                                                    \
    {                                                                                             \
        uint32_t a = (uint32_t)A, b = pc[3];                                                      \
        D = (uint64_t)(uint32_t)(e);                                                              \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
#define BIN64(n, e)                                                                               \
    OPL(n)                                                                                        \
    {                                                                                             \
        uint64_t a = A, b = B;                                                                    \
        D = (uint64_t)(e);                                                                        \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
#define BIN64I(n, e)                                                                              \
    BIN64(n, e)                                                                                   \
    OPL(n##_I)                                                                                    \
    {                                                                                             \
        uint64_t a = A, b = (uint64_t)(int64_t)(int32_t)pc[3];                                    \
        D = (uint64_t)(e);                                                                        \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
#define BINF32(n, e)                                                                              \
    OPL(n)                                                                                        \
    {                                                                                             \
        float a = f32_of(A), b = f32_of(B);                                                       \
        D = (e);                                                                                  \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
#define BINF64(n, e)                                                                              \
    OPL(n)                                                                                        \
    {                                                                                             \
        double a = f64_of(A), b = f64_of(B);                                                      \
        D = (e);                                                                                  \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
#define CMP_A ((uint32_t)fp[pc[1]])
#define CMP_B ((uint32_t)fp[pc[2]])
#define CMP_I (pc[2])
#define BRCMP(n, op)                                                                              \
    CBR(BR_##n, 4, op(CMP_A, CMP_B))                                                              \
    CBR(BR_##n##_I, 4, op(CMP_A, CMP_I))
#define EQ_(a, b) ((a) == (b))
#define NE_(a, b) ((a) != (b))
#define LTS_(a, b) (S32(a) < S32(b))
#define LTU_(a, b) ((a) < (b))
#define GTS_(a, b) (S32(a) > S32(b))
#define GTU_(a, b) ((a) > (b))
#define LES_(a, b) (S32(a) <= S32(b))
#define LEU_(a, b) ((a) <= (b))
#define GES_(a, b) (S32(a) >= S32(b))
#define GEU_(a, b) ((a) >= (b))
#define LOAD(n, T, conv)                                                                          \
    OPL(n)                                                                                        \
    {                                                                                             \
        uint64_t ea = (uint64_t)(uint32_t)A + pc[3];                                              \
        if (ea + sizeof(T) > memlen) {                                                            \
            st = ST_TRAP_MEMORY_OOB;                                                              \
            goto trap;                                                                            \
        }                                                                                         \
        T v;                                                                                      \
        memcpy(&v, mem + ea, sizeof(T));                                                          \
        D = (conv);                                                                               \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }
/* The write marks (memory.c) of the first and the last byte's page: they differ only for a
 * store that straddles two pages. */
#define MARK(ea, size)                                                                            \
    do {                                                                                          \
        mem[memlen + ((ea) >> VM_MARK_SHIFT)] = 1;                                                \
        if ((size) > 1)                                                                           \
            mem[memlen + (((ea) + (size)-1) >> VM_MARK_SHIFT)] = 1;                               \
    } while (0)
#define STORE(n, T)                                                                               \
    OPL(n)                                                                                        \
    {                                                                                             \
        uint64_t ea = (uint64_t)(uint32_t)fp[pc[1]] + pc[3];                                      \
        if (ea + sizeof(T) > memlen) {                                                            \
            st = ST_TRAP_MEMORY_OOB;                                                              \
            goto trap;                                                                            \
        }                                                                                         \
        T v = (T)fp[pc[2]];                                                                       \
        memcpy(mem + ea, &v, sizeof(T));                                                          \
        MARK(ea, sizeof(T));                                                                      \
        pc += 4;                                                                                  \
        NEXT();                                                                                   \
    }

#define S32(x) ((int32_t)(x))
#define S64(x) ((int64_t)(x))

#ifndef TALLY_DISPATCH_SWITCH
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic" /* computed goto (docs/style.md: allowed in the VM) */
#endif

status vm_exec_run(engine_instance *entry, bool *paused)
{
#ifndef TALLY_DISPATCH_SWITCH
    /* every VM op, from opcodes.def and engine_int.h (vm_ops.inc): a missing handler is a
       label used but not defined */
    static const void *const labels[VM_OP_COUNT] = {
#define VM_OP(n) [VM_##n] = &&L_##n,
#include "vm_ops.inc"
    };
#endif
    vm_exec *ex = &entry->ex;
    const uint32_t *pc = ex->pc;
    uint64_t *fp = ex->fp;
    vm_frame *fr = ex->frame, *hi = ex->frame;
    engine_instance *inst = ex->cur;
    uint8_t *mem;
    uint64_t memlen;
    const engine_func *f;
    uint64_t *nfp;
    uint64_t ctr = 0;
    status st = ST_OK;
    *paused = false;
    LOAD_MEM();
    CTR_LOAD();
    /* the dispatch loop is laid out by hand, one handler per line or block */
    /* clang-format off */
#ifdef TALLY_DISPATCH_SWITCH
dispatch:
    switch ((vm_op)*pc) {
#else
    NEXT();
#endif

    /* ---- control ---- */
    OPL(UNREACHABLE)
    {
        st = ST_TRAP_UNREACHABLE;
        goto trap;
    }
    OPL(BR)
    {
        pc = pc + 1 + (int32_t)pc[1];
        NEXT();
    }
out_of_budget: /* a taken _M branch that overdrew the counter: to the out-of-instructions call */
    pc -= 3;
    NEXT();
    OPL(BR_T)
    {
        TAKE(pc + 1 + (int32_t)pc[1], pc[2]);
        NEXT();
    }
    OPL(BR_M)
    {
        TAKE(pc + 1 + (int32_t)pc[1], pc[2]);
        if (OVERDRAWN())
            goto out_of_budget;
        NEXT();
    }
    CBR(BR_IF, 3, (uint32_t)fp[pc[1]] != 0)
    CBR(BR_IFZ, 3, (uint32_t)fp[pc[1]] == 0)
    CBR(BR_IF64, 3, fp[pc[1]] != 0)
    CBR(BR_IFZ64, 3, fp[pc[1]] == 0)
    OPL(BR_TABLE)
    {
        uint32_t i = (uint32_t)fp[pc[1]], n = pc[2];
        const uint32_t *o = pc + 3 + (i < n ? i : n);
        pc = o + (int32_t)*o;
        NEXT();
    }
    OPL(BR_TABLE_T)
    {
        uint32_t i = (uint32_t)fp[pc[1]], n = pc[2];
        const uint32_t *o = pc + 3 + (i < n ? i : n);
        ctr += (uint64_t)(int64_t)(int32_t)o[n + 1];
        pc = o + (int32_t)*o;
        NEXT();
    }
    BRCMP(I32_EQ, EQ_)
    BRCMP(I32_NE, NE_)
    BRCMP(I32_LT_S, LTS_)
    BRCMP(I32_LT_U, LTU_)
    BRCMP(I32_GT_S, GTS_)
    BRCMP(I32_GT_U, GTU_)
    BRCMP(I32_LE_S, LES_)
    BRCMP(I32_LE_U, LEU_)
    BRCMP(I32_GE_S, GES_)
    BRCMP(I32_GE_U, GEU_)

    OPL(CALL)
    {
        f = inst->funcs[pc[1]];
        nfp = fp + pc[2];
        pc += 3;
        goto do_call;
    }
    OPL(CALL_INDIRECT)
    {
        const engine_table *t = inst->tables[pc[2]];
        uint32_t i = (uint32_t)fp[pc[3]];
        if (i >= t->size) {
            st = ST_TRAP_UNDEFINED_ELEMENT;
            goto trap;
        }
        f = (const engine_func *)(uintptr_t)t->elems[i];
        if (!f) {
            st = ST_TRAP_UNINITIALIZED_ELEMENT;
            goto trap;
        }
        const functype *want = &inst->m->types[pc[1]];
        if (f->type != want && !vm_functype_eq(f->type, want)) {
            st = ST_TRAP_INDIRECT_CALL_TYPE;
            goto trap;
        }
        nfp = fp + pc[4];
        pc += 5;
        goto do_call;
    }
    OPL(CALL_M) /* a defined function of this instance, entry = standard check */
    {
        f = inst->funcs[pc[1]];
        nfp = fp + pc[2];
        pc += 3;
        if (FRAME_OVERFLOWS()) {
            st = ST_TRAP_CALL_STACK_EXHAUSTED;
            goto trap;
        }
        PUSH_FRAME();
        TAKE(f->code + 7, f->code[1]);
        if (OVERDRAWN())
            goto out_of_budget;
        NEXT();
    }
do_call:
    if (f->code) {
        if (FRAME_OVERFLOWS()) {
            st = ST_TRAP_CALL_STACK_EXHAUSTED;
            goto trap;
        }
        PUSH_FRAME();
        pc = f->code;
        if (f->inst != inst) {
            CTR_SAVE();
            inst = f->inst;
            LOAD_MEM();
            CTR_LOAD();
        }
        NEXT();
    }
    if (nfp + (f->nparams > f->nresults ? f->nparams : f->nresults) > ex->slots_end) {
        st = ST_TRAP_CALL_STACK_EXHAUSTED;
        goto trap;
    }
    CTR_SAVE();
    st = f->host(inst, f->user, nfp);
    CTR_LOAD(); /* before `trap`, which saves it again */
    if (st != ST_OK)
        goto trap;
    LOAD_MEM();
    if (ex->pause_requested || inst->ex.pause_requested) {
        ex->pause_requested = false;
        inst->ex.pause_requested = false;
        if (!ex->pause_ignored) {
            ex->pc = pc;
            ex->fp = fp;
            ex->frame = fr;
            ex->cur = inst;
            ex->state = VM_PAUSED;
            *paused = true;
            goto out;
        }
    }
    NEXT();

    OPL(RETURN1)
    {
        fp[0] = fp[pc[1]];
        goto do_return;
    }
    OPL(RETURNN)
    {
        uint32_t a = pc[1], n = pc[2];
        for (uint32_t i = 0; i < n; i++)
            fp[i] = fp[a + i];
        goto do_return;
    }
    OPL(RETURN)
do_return:
    fr--;
    pc = fr->ret_pc;
    if (!pc) {
        ex->state = VM_DONE;
        goto out;
    }
    fp = fr->fp;
    if (fr->inst != inst) {
        CTR_SAVE();
        inst = fr->inst;
        CTR_LOAD();
    }
    LOAD_MEM(); /* the callee may have grown (and so moved) the memory */
    NEXT();

    /* ---- variables, constants, parametric ---- */
    OPL(COPY)
    {
        fp[pc[1]] = fp[pc[2]];
        pc += 3;
        NEXT();
    }
    OPL(COPY2)
    {
        fp[pc[1]] = fp[pc[2]];
        fp[pc[3]] = fp[pc[4]];
        pc += 5;
        NEXT();
    }
    OPL(CONST32)
    {
        fp[pc[1]] = pc[2];
        pc += 3;
        NEXT();
    }
    OPL(CONST64)
    {
        fp[pc[1]] = pc[2] | (uint64_t)pc[3] << 32;
        pc += 4;
        NEXT();
    }
    OPL(SELECT)
    {
        D = (uint32_t)A ? B : fp[pc[4]];
        pc += 5;
        NEXT();
    }
    OPL(GLOBAL_GET)
    {
        D = inst->globals[pc[2]]->value;
        pc += 3;
        NEXT();
    }
    OPL(GLOBAL_SET)
    {
        inst->globals[pc[1]]->value = A;
        pc += 3;
        NEXT();
    }
    OPL(GLOBAL_ADD64)
    {
        inst->globals[pc[1]]->value += pc[2] | (uint64_t)pc[3] << 32;
        pc += 4;
        NEXT();
    }
    OPL(BR_GLOBAL_LT0)
    {
        pc = (int64_t)inst->globals[pc[1]]->value < 0 ? pc + 2 + (int32_t)pc[2] : pc + 3;
        NEXT();
    }
    OPL(BR_GLOBAL_GE0)
    {
        pc = (int64_t)inst->globals[pc[1]]->value >= 0 ? pc + 2 + (int32_t)pc[2] : pc + 3;
        NEXT();
    }
    OPL(CTR_GET)
    {
        D = ctr;
        pc += 3;
        NEXT();
    }
    OPL(CTR_SET)
    {
        ctr = A;
        pc += 3;
        NEXT();
    }
    OPL(CHARGE)
    {
        ctr += IMM64(pc + 1);
        pc += 3;
        NEXT();
    }
    OPL(BR_CTR_LT0)
    {
        pc = (int64_t)ctr < 0 ? pc + 2 + (int32_t)pc[2] : pc + 3;
        NEXT();
    }
    OPL(BR_CTR_GE0)
    {
        pc = (int64_t)ctr >= 0 ? pc + 2 + (int32_t)pc[2] : pc + 3;
        NEXT();
    }
    OPL(CHARGE_CHECK)
    {
        ctr += IMM64(pc + 1);
        pc = (int64_t)ctr < 0 ? pc + 4 : pc + 3 + (int32_t)pc[3];
        NEXT();
    }
    OPL(REF_FUNC)
    {
        D = (uint64_t)(uintptr_t)inst->funcs[pc[2]];
        pc += 3;
        NEXT();
    }

    /* ---- memory ---- */
    LOAD(I32_LOAD, uint32_t, v)
    LOAD(I64_LOAD, uint64_t, v)
    LOAD(F32_LOAD, uint32_t, v)
    LOAD(F64_LOAD, uint64_t, v)
    LOAD(I32_LOAD8_S, int8_t, (uint64_t)(uint32_t)(int32_t)v)
    LOAD(I32_LOAD8_U, uint8_t, (uint32_t)v)
    LOAD(I32_LOAD16_S, int16_t, (uint64_t)(uint32_t)(int32_t)v)
    LOAD(I32_LOAD16_U, uint16_t, (uint32_t)v)
    LOAD(I64_LOAD8_S, int8_t, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD8_U, uint8_t, (uint64_t)v)
    LOAD(I64_LOAD16_S, int16_t, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD16_U, uint16_t, (uint64_t)v)
    LOAD(I64_LOAD32_S, int32_t, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD32_U, uint32_t, (uint64_t)v)
    STORE(I32_STORE, uint32_t)
    STORE(I64_STORE, uint64_t)
    STORE(F32_STORE, uint32_t)
    STORE(F64_STORE, uint64_t)
    STORE(I32_STORE8, uint8_t)
    STORE(I32_STORE16, uint16_t)
    STORE(I64_STORE8, uint8_t)
    STORE(I64_STORE16, uint16_t)
    STORE(I64_STORE32, uint32_t)
    OPL(MEMORY_SIZE)
    {
        D = inst->mem->pages;
        pc += 2;
        NEXT();
    }
    OPL(MEMORY_GROW)
    {
        uint32_t grown;
        st = vm_memory_grow(inst->mem, (uint32_t)A, &grown);
        if (st != ST_OK)
            goto trap;
        D = grown;
        LOAD_MEM();
        pc += 3;
        NEXT();
    }
    OPL(MEMORY_INIT)
    {
        st = vm_op_memory_init(inst, pc[1], (uint32_t)A, (uint32_t)B, (uint32_t)fp[pc[4]]);
        if (st != ST_OK)
            goto trap;
        pc += 5;
        NEXT();
    }
    OPL(DATA_DROP)
    {
        inst->data_dropped[pc[1]] = 1;
        pc += 2;
        NEXT();
    }
    OPL(MEMORY_COPY)
    {
        st = vm_op_memory_copy(inst->mem, (uint32_t)D, (uint32_t)A, (uint32_t)B);
        if (st != ST_OK)
            goto trap;
        pc += 4;
        NEXT();
    }
    OPL(MEMORY_FILL)
    {
        st = vm_op_memory_fill(inst->mem, (uint32_t)D, (uint32_t)A, (uint32_t)B);
        if (st != ST_OK)
            goto trap;
        pc += 4;
        NEXT();
    }

    /* ---- tables ---- */
    OPL(TABLE_GET)
    {
        const engine_table *t = inst->tables[pc[2]];
        uint32_t i = (uint32_t)B;
        if (i >= t->size) {
            st = ST_TRAP_TABLE_OOB;
            goto trap;
        }
        D = t->elems[i];
        pc += 4;
        NEXT();
    }
    OPL(TABLE_SET)
    {
        engine_table *t = inst->tables[pc[1]];
        uint32_t i = (uint32_t)A;
        if (i >= t->size) {
            st = ST_TRAP_TABLE_OOB;
            goto trap;
        }
        t->elems[i] = B;
        pc += 4;
        NEXT();
    }
    OPL(TABLE_SIZE)
    {
        D = inst->tables[pc[2]]->size;
        pc += 3;
        NEXT();
    }
    OPL(TABLE_GROW)
    {
        D = vm_table_grow(inst->tables[pc[2]], (uint32_t)fp[pc[4]], B);
        pc += 5;
        NEXT();
    }
    OPL(TABLE_FILL)
    {
        st = vm_op_table_fill(inst->tables[pc[1]], (uint32_t)A, B, (uint32_t)fp[pc[4]]);
        if (st != ST_OK)
            goto trap;
        pc += 5;
        NEXT();
    }
    OPL(TABLE_COPY)
    {
        st = vm_op_table_copy(inst, pc[1], pc[2], (uint32_t)B, (uint32_t)fp[pc[4]],
                           (uint32_t)fp[pc[5]]);
        if (st != ST_OK)
            goto trap;
        pc += 6;
        NEXT();
    }
    OPL(TABLE_INIT)
    {
        st = vm_op_table_init(inst, pc[1], pc[2], (uint32_t)B, (uint32_t)fp[pc[4]],
                           (uint32_t)fp[pc[5]]);
        if (st != ST_OK)
            goto trap;
        pc += 6;
        NEXT();
    }
    OPL(ELEM_DROP)
    {
        inst->elem_len[pc[1]] = 0;
        pc += 2;
        NEXT();
    }

    /* ---- numeric: unary ---- */
    UN32(I32_EQZ, a == 0)
    UN64(I64_EQZ, a == 0)
    UN32(I32_CLZ, a ? (uint32_t)__builtin_clz(a) : 32)
    UN32(I32_CTZ, a ? (uint32_t)__builtin_ctz(a) : 32)
    UN32(I32_POPCNT, (uint32_t)__builtin_popcount(a))
    UN64(I64_CLZ, a ? (uint64_t)__builtin_clzll(a) : 64)
    UN64(I64_CTZ, a ? (uint64_t)__builtin_ctzll(a) : 64)
    UN64(I64_POPCNT, (uint64_t)__builtin_popcountll(a))
    UN64(F32_ABS, (uint32_t)a & 0x7fffffffu)
    UN64(F32_NEG, (uint32_t)a ^ 0x80000000u)
    UNF32(F32_CEIL, canon32(ceilf(a)))
    UNF32(F32_FLOOR, canon32(floorf(a)))
    UNF32(F32_TRUNC, canon32(truncf(a)))
    UNF32(F32_NEAREST, canon32(nearest32(a)))
    UNF32(F32_SQRT, canon32(sqrtf(a)))
    UN64(F64_ABS, a & ~(UINT64_C(1) << 63))
    UN64(F64_NEG, a ^ (UINT64_C(1) << 63))
    UNF64(F64_CEIL, canon64(ceil(a)))
    UNF64(F64_FLOOR, canon64(floor(a)))
    UNF64(F64_TRUNC, canon64(trunc(a)))
    UNF64(F64_NEAREST, canon64(nearest64(a)))
    UNF64(F64_SQRT, canon64(sqrt(a)))
    UN64(I32_WRAP_I64, (uint32_t)a)
    TRUNC(I32_TRUNC_F32_S, f32_of, trunc_i32_s)
    TRUNC(I32_TRUNC_F32_U, f32_of, trunc_i32_u)
    TRUNC(I32_TRUNC_F64_S, f64_of, trunc_i32_s)
    TRUNC(I32_TRUNC_F64_U, f64_of, trunc_i32_u)
    TRUNC(I64_TRUNC_F32_S, f32_of, trunc_i64_s)
    TRUNC(I64_TRUNC_F32_U, f32_of, trunc_i64_u)
    TRUNC(I64_TRUNC_F64_S, f64_of, trunc_i64_s)
    TRUNC(I64_TRUNC_F64_U, f64_of, trunc_i64_u)
    UN64(I64_EXTEND_I32_S, (uint64_t)(int64_t)S32(a))
    UN64(I64_EXTEND_I32_U, (uint32_t)a)
    UN64(F32_CONVERT_I32_S, bits32((float)S32(a)))
    UN64(F32_CONVERT_I32_U, bits32((float)(uint32_t)a))
    UN64(F32_CONVERT_I64_S, bits32((float)S64(a)))
    UN64(F32_CONVERT_I64_U, bits32((float)a))
    UNF64(F32_DEMOTE_F64, canon32((float)a))
    UN64(F64_CONVERT_I32_S, bits64((double)S32(a)))
    UN64(F64_CONVERT_I32_U, bits64((double)(uint32_t)a))
    UN64(F64_CONVERT_I64_S, bits64((double)S64(a)))
    UN64(F64_CONVERT_I64_U, bits64((double)a))
    UNF32(F64_PROMOTE_F32, canon64((double)a))
    UN64(I32_REINTERPRET_F32, (uint32_t)a)
    UN64(I64_REINTERPRET_F64, a)
    UN64(F32_REINTERPRET_I32, (uint32_t)a)
    UN64(F64_REINTERPRET_I64, a)
    UN32(I32_EXTEND8_S, (uint32_t)(int32_t)(int8_t)a)
    UN32(I32_EXTEND16_S, (uint32_t)(int32_t)(int16_t)a)
    UN64(I64_EXTEND8_S, (uint64_t)(int64_t)(int8_t)a)
    UN64(I64_EXTEND16_S, (uint64_t)(int64_t)(int16_t)a)
    UN64(I64_EXTEND32_S, (uint64_t)(int64_t)(int32_t)a)
    UNF32(I32_TRUNC_SAT_F32_S, sat_i32_s((double)a))
    UNF32(I32_TRUNC_SAT_F32_U, sat_i32_u((double)a))
    UNF64(I32_TRUNC_SAT_F64_S, sat_i32_s(a))
    UNF64(I32_TRUNC_SAT_F64_U, sat_i32_u(a))
    UNF32(I64_TRUNC_SAT_F32_S, sat_i64_s((double)a))
    UNF32(I64_TRUNC_SAT_F32_U, sat_i64_u((double)a))
    UNF64(I64_TRUNC_SAT_F64_S, sat_i64_s(a))
    UNF64(I64_TRUNC_SAT_F64_U, sat_i64_u(a))
    UN64(REF_IS_NULL, a == 0)

    /* ---- numeric: binary ---- */
    BIN32I(I32_EQ, a == b)
    BIN32I(I32_NE, a != b)
    BIN32I(I32_LT_S, S32(a) < S32(b))
    BIN32I(I32_LT_U, a < b)
    BIN32I(I32_GT_S, S32(a) > S32(b))
    BIN32I(I32_GT_U, a > b)
    BIN32I(I32_LE_S, S32(a) <= S32(b))
    BIN32I(I32_LE_U, a <= b)
    BIN32I(I32_GE_S, S32(a) >= S32(b))
    BIN32I(I32_GE_U, a >= b)
    BIN64I(I64_EQ, a == b)
    BIN64I(I64_NE, a != b)
    BIN64I(I64_LT_S, S64(a) < S64(b))
    BIN64I(I64_LT_U, a < b)
    BIN64I(I64_GT_S, S64(a) > S64(b))
    BIN64I(I64_GT_U, a > b)
    BIN64I(I64_LE_S, S64(a) <= S64(b))
    BIN64I(I64_LE_U, a <= b)
    BIN64I(I64_GE_S, S64(a) >= S64(b))
    BIN64I(I64_GE_U, a >= b)
    BINF32(F32_EQ, a == b)
    BINF32(F32_NE, a != b)
    BINF32(F32_LT, a < b)
    BINF32(F32_GT, a > b)
    BINF32(F32_LE, a <= b)
    BINF32(F32_GE, a >= b)
    BINF64(F64_EQ, a == b)
    BINF64(F64_NE, a != b)
    BINF64(F64_LT, a < b)
    BINF64(F64_GT, a > b)
    BINF64(F64_LE, a <= b)
    BINF64(F64_GE, a >= b)
    BIN32I(I32_ADD, a + b)
    BIN32I(I32_SUB, a - b)
    BIN32I(I32_MUL, a * b)
    OPL(I32_DIV_S)
    {
        uint32_t a = (uint32_t)A, b = (uint32_t)B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        if (a == 0x80000000u && b == UINT32_MAX) {
            st = ST_TRAP_INT_OVERFLOW;
            goto trap;
        }
        D = (uint32_t)(S32(a) / S32(b));
        pc += 4;
        NEXT();
    }
    OPL(I32_DIV_U)
    {
        uint32_t a = (uint32_t)A, b = (uint32_t)B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        D = a / b;
        pc += 4;
        NEXT();
    }
    OPL(I32_REM_S)
    {
        uint32_t a = (uint32_t)A, b = (uint32_t)B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        D = b == UINT32_MAX ? 0 : (uint32_t)(S32(a) % S32(b));
        pc += 4;
        NEXT();
    }
    OPL(I32_REM_U)
    {
        uint32_t a = (uint32_t)A, b = (uint32_t)B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        D = a % b;
        pc += 4;
        NEXT();
    }
    BIN32I(I32_AND, a & b)
    BIN32I(I32_OR, a | b)
    BIN32I(I32_XOR, a ^ b)
    BIN32I(I32_SHL, a << (b & 31))
    BIN32I(I32_SHR_S, (uint32_t)(S32(a) >> (b & 31)))
    BIN32I(I32_SHR_U, a >> (b & 31))
    BIN32(I32_ROTL, rotl32(a, b))
    BIN32(I32_ROTR, rotr32(a, b))
    BIN64I(I64_ADD, a + b)
    BIN64I(I64_SUB, a - b)
    BIN64I(I64_MUL, a * b)
    OPL(I64_DIV_S)
    {
        uint64_t a = A, b = B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        if (a == (UINT64_C(1) << 63) && b == UINT64_MAX) {
            st = ST_TRAP_INT_OVERFLOW;
            goto trap;
        }
        D = (uint64_t)(S64(a) / S64(b));
        pc += 4;
        NEXT();
    }
    OPL(I64_DIV_U)
    {
        uint64_t a = A, b = B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        D = a / b;
        pc += 4;
        NEXT();
    }
    OPL(I64_REM_S)
    {
        uint64_t a = A, b = B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        D = b == UINT64_MAX ? 0 : (uint64_t)(S64(a) % S64(b));
        pc += 4;
        NEXT();
    }
    OPL(I64_REM_U)
    {
        uint64_t a = A, b = B;
        if (b == 0) {
            st = ST_TRAP_INT_DIV_ZERO;
            goto trap;
        }
        D = a % b;
        pc += 4;
        NEXT();
    }
    BIN64I(I64_AND, a & b)
    BIN64I(I64_OR, a | b)
    BIN64I(I64_XOR, a ^ b)
    BIN64I(I64_SHL, a << (b & 63))
    BIN64I(I64_SHR_S, (uint64_t)(S64(a) >> (b & 63)))
    BIN64I(I64_SHR_U, a >> (b & 63))
    BIN64(I64_ROTL, rotl64(a, b))
    BIN64(I64_ROTR, rotr64(a, b))
    BINF32(F32_ADD, canon32(a + b))
    BINF32(F32_SUB, canon32(a - b))
    BINF32(F32_MUL, canon32(a * b))
    BINF32(F32_DIV, canon32(a / b))
    BIN64(F32_MIN, min32(a, b))
    BIN64(F32_MAX, max32(a, b))
    BIN64(F32_COPYSIGN, ((uint32_t)a & 0x7fffffffu) | ((uint32_t)b & 0x80000000u))
    BINF64(F64_ADD, canon64(a + b))
    BINF64(F64_SUB, canon64(a - b))
    BINF64(F64_MUL, canon64(a * b))
    BINF64(F64_DIV, canon64(a / b))
    BIN64(F64_MIN, min64(a, b))
    BIN64(F64_MAX, max64(a, b))
    BIN64(F64_COPYSIGN, (a & ~(UINT64_C(1) << 63)) | (b & (UINT64_C(1) << 63)))

#ifdef TALLY_DISPATCH_SWITCH
    default:
        st = BUG();
        goto trap;
    }
#endif
    /* clang-format on */

trap:
    ex->state = VM_IDLE;
out:
    CTR_SAVE();
    if ((uint32_t)(hi - ex->frames) > ex->max_depth)
        ex->max_depth = (uint32_t)(hi - ex->frames);
    return st;
}

#ifndef TALLY_DISPATCH_SWITCH
#pragma GCC diagnostic pop
#endif

/* ---- entry points ------------------------------------------------------------------------- */

status vm_exec_begin(engine_instance *inst, const engine_func *f, const uint64_t *args)
{
    vm_exec *ex = &inst->ex;
    if (ex->state == VM_READY || ex->state == VM_PAUSED)
        return BUG();
    ex->entry = f;
    ex->pause_requested = false;
    ex->max_depth = 0;
    ex->pending = ST_OK;
    uint32_t need =
        f->code ? f->meta->frame_size : (f->nparams > f->nresults ? f->nparams : f->nresults);
    if ((size_t)(ex->slots_end - ex->slots) < need || (f->code && ex->frames == ex->frames_end)) {
        ex->pending = ST_TRAP_CALL_STACK_EXHAUSTED;
        ex->state = VM_READY;
        return ST_OK;
    }
    if (f->nparams)
        memcpy(ex->slots, args, f->nparams * sizeof(uint64_t));
    if (f->code) {
        memset(ex->slots + f->nparams, 0, f->meta->nlocals * sizeof(uint64_t));
        ex->frames[0] = (vm_frame){NULL, NULL, f->inst};
        ex->frame = ex->frames + 1;
        ex->fp = ex->slots;
        ex->pc = f->code;
        ex->cur = f->inst;
    }
    ex->state = VM_READY;
    return ST_OK;
}

status engine_instance_invoke_begin(engine_instance *inst, const engine_func *f,
                                    const uint64_t *args)
{
    return vm_exec_begin(inst, f, args);
}

status engine_instance_run(engine_instance *inst, bool *paused)
{
    vm_exec *ex = &inst->ex;
    *paused = false;
    if (ex->state != VM_READY && ex->state != VM_PAUSED)
        return BUG();
    if (ex->pending != ST_OK) {
        ex->state = VM_IDLE;
        return ex->pending;
    }
    const engine_func *f = ex->entry;
    if (!f->code) {
        status st = f->host(inst, f->user, ex->slots);
        ex->pause_requested = false;
        ex->state = st == ST_OK ? VM_DONE : VM_IDLE;
        return st;
    }
    if (ex->state == VM_READY && f->inst == inst &&
        __atomic_load_n(&inst->code->native, __ATOMIC_ACQUIRE) != inst->nat_of)
        (void)vm_native_attach(inst); /* code compiled (or upgraded) since: adopt it */
    if (inst->ex_native || (ex->state == VM_READY && f->native && f->inst->ni))
        return vm_native_run(inst, paused); /* the compiled tier (native.c) */
    return vm_exec_run(inst, paused);
}

void engine_instance_results(engine_instance *inst, uint64_t *results)
{
    vm_exec *ex = &inst->ex;
    if (ex->state != VM_DONE)
        return;
    if (ex->entry->nresults)
        memcpy(results, ex->slots, ex->entry->nresults * sizeof(uint64_t));
    ex->state = VM_IDLE;
}

void engine_instance_abandon(engine_instance *inst)
{
    inst->ex.state = VM_IDLE;
    inst->ex.pause_requested = false;
    inst->ex_native = false;
}

void engine_instance_pause_request(engine_instance *inst)
{
    inst->ex.pause_requested = true;
}

uint32_t engine_instance_max_depth(const engine_instance *inst)
{
    return inst->ex.max_depth;
}

status engine_instance_invoke(engine_instance *inst, const engine_func *f, const uint64_t *args,
                              uint64_t *results)
{
    status st = vm_exec_begin(inst, f, args);
    if (st != ST_OK)
        return st;
    inst->ex.pause_ignored = true;
    bool paused = false;
    st = engine_instance_run(inst, &paused);
    inst->ex.pause_ignored = false;
    if (st == ST_OK)
        engine_instance_results(inst, results);
    return st;
}
