/* engine_int.h - friends inside engine/: the internal code (instruction list and layout), the
 * compiled module, and the run-time objects shared by compile.c, vm.c, instance.c, memory.c.
 * Not a public header: nothing outside engine/ may include it.
 *
 * The internal code (compile.c writes it, vm.c runs it) is register-style over 64-bit slots.
 * A frame is a window of slots: params, then declared locals, then the operand stack, whose
 * height at every instruction is known statically, so every operand is a slot index fixed at
 * compile time. An instruction is a run of 32-bit words: the VM opcode (enum vm_op) and then
 * its operands (slot indices relative to the frame, immediates, branch offsets). The layouts
 * are given below next to each opcode as (operands). Branch offsets are signed and relative to
 * the address of the offset word itself. */
#ifndef TALLY_ENGINE_INT_H
#define TALLY_ENGINE_INT_H

#include "engine.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tally's engine assumes a little-endian host (Wasm memory is little-endian)"
#endif

/* Wasm instructions executed by a handler of the same name, with a fixed shape:
 *   VM_UN:    (d, a)      d = op a
 *   VM_BIN:   (d, a, b)   d = a op b
 *   VM_LOAD:  (d, a, off) d = load(a + off)
 *   VM_STORE: (a, v, off) store(a + off, v) */
/* clang-format off */
#define VM_UN_OPS(X)                                                                              \
    X(I32_EQZ) X(I64_EQZ) X(I32_CLZ) X(I32_CTZ) X(I32_POPCNT) X(I64_CLZ) X(I64_CTZ) X(I64_POPCNT)  \
    X(F32_ABS) X(F32_NEG) X(F32_CEIL) X(F32_FLOOR) X(F32_TRUNC) X(F32_NEAREST) X(F32_SQRT)         \
    X(F64_ABS) X(F64_NEG) X(F64_CEIL) X(F64_FLOOR) X(F64_TRUNC) X(F64_NEAREST) X(F64_SQRT)         \
    X(I32_WRAP_I64) X(I32_TRUNC_F32_S) X(I32_TRUNC_F32_U) X(I32_TRUNC_F64_S) X(I32_TRUNC_F64_U)    \
    X(I64_EXTEND_I32_S) X(I64_EXTEND_I32_U) X(I64_TRUNC_F32_S) X(I64_TRUNC_F32_U)                 \
    X(I64_TRUNC_F64_S) X(I64_TRUNC_F64_U) X(F32_CONVERT_I32_S) X(F32_CONVERT_I32_U)               \
    X(F32_CONVERT_I64_S) X(F32_CONVERT_I64_U) X(F32_DEMOTE_F64) X(F64_CONVERT_I32_S)              \
    X(F64_CONVERT_I32_U) X(F64_CONVERT_I64_S) X(F64_CONVERT_I64_U) X(F64_PROMOTE_F32)             \
    X(I32_REINTERPRET_F32) X(I64_REINTERPRET_F64) X(F32_REINTERPRET_I32) X(F64_REINTERPRET_I64)   \
    X(I32_EXTEND8_S) X(I32_EXTEND16_S) X(I64_EXTEND8_S) X(I64_EXTEND16_S) X(I64_EXTEND32_S)       \
    X(I32_TRUNC_SAT_F32_S) X(I32_TRUNC_SAT_F32_U) X(I32_TRUNC_SAT_F64_S) X(I32_TRUNC_SAT_F64_U)   \
    X(I64_TRUNC_SAT_F32_S) X(I64_TRUNC_SAT_F32_U) X(I64_TRUNC_SAT_F64_S) X(I64_TRUNC_SAT_F64_U)   \
    X(REF_IS_NULL)

#define VM_BIN_OPS(X)                                                                             \
    X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U) X(I32_LE_S) X(I32_LE_U)   \
    X(I32_GE_S) X(I32_GE_U) X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U) X(I64_GT_S) X(I64_GT_U)   \
    X(I64_LE_S) X(I64_LE_U) X(I64_GE_S) X(I64_GE_U) X(F32_EQ) X(F32_NE) X(F32_LT) X(F32_GT)       \
    X(F32_LE) X(F32_GE) X(F64_EQ) X(F64_NE) X(F64_LT) X(F64_GT) X(F64_LE) X(F64_GE)               \
    X(I32_ADD) X(I32_SUB) X(I32_MUL) X(I32_DIV_S) X(I32_DIV_U) X(I32_REM_S) X(I32_REM_U)          \
    X(I32_AND) X(I32_OR) X(I32_XOR) X(I32_SHL) X(I32_SHR_S) X(I32_SHR_U) X(I32_ROTL) X(I32_ROTR)  \
    X(I64_ADD) X(I64_SUB) X(I64_MUL) X(I64_DIV_S) X(I64_DIV_U) X(I64_REM_S) X(I64_REM_U)          \
    X(I64_AND) X(I64_OR) X(I64_XOR) X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U) X(I64_ROTL) X(I64_ROTR)  \
    X(F32_ADD) X(F32_SUB) X(F32_MUL) X(F32_DIV) X(F32_MIN) X(F32_MAX) X(F32_COPYSIGN)             \
    X(F64_ADD) X(F64_SUB) X(F64_MUL) X(F64_DIV) X(F64_MIN) X(F64_MAX) X(F64_COPYSIGN)

#define VM_LOAD_OPS(X)                                                                            \
    X(I32_LOAD) X(I64_LOAD) X(F32_LOAD) X(F64_LOAD) X(I32_LOAD8_S) X(I32_LOAD8_U) X(I32_LOAD16_S) \
    X(I32_LOAD16_U) X(I64_LOAD8_S) X(I64_LOAD8_U) X(I64_LOAD16_S) X(I64_LOAD16_U) X(I64_LOAD32_S) \
    X(I64_LOAD32_U)

#define VM_STORE_OPS(X)                                                                           \
    X(I32_STORE) X(I64_STORE) X(F32_STORE) X(F64_STORE) X(I32_STORE8) X(I32_STORE16)              \
    X(I64_STORE8) X(I64_STORE16) X(I64_STORE32)

/* i32 binary operators that also exist with an immediate right operand: NAME_I (d, a, imm). */
#define VM_BINI_OPS(X)                                                                            \
    X(I32_ADD) X(I32_SUB) X(I32_MUL) X(I32_AND) X(I32_OR) X(I32_XOR) X(I32_SHL) X(I32_SHR_S)      \
    X(I32_SHR_U) X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U) X(I32_LE_S)  \
    X(I32_LE_U) X(I32_GE_S) X(I32_GE_U)
/* i64 ones, imm = sign-extended 32-bit immediate: NAME_I (d, a, imm). */
#define VM_BINI64_OPS(X)                                                                          \
    X(I64_ADD) X(I64_SUB) X(I64_MUL) X(I64_AND) X(I64_OR) X(I64_XOR) X(I64_SHL) X(I64_SHR_S)      \
    X(I64_SHR_U) X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U) X(I64_GT_S) X(I64_GT_U) X(I64_LE_S)  \
    X(I64_LE_U) X(I64_GE_S) X(I64_GE_U)

/* i32 comparisons fused with a conditional branch: BR_NAME (a, b, off) and BR_NAME_I
 * (a, imm, off) jump when the comparison holds. The set is closed under negation (for `if`). */
#define VM_CMP_OPS(X)                                                                             \
    X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U) X(I32_LE_S) X(I32_LE_U)   \
    X(I32_GE_S) X(I32_GE_U)

/* Everything else, with its layout. */
#define VM_OTHER_OPS(X)                                                                           \
    X(UNREACHABLE)     /* () trap */                                                              \
    X(BR)              /* (off) */                                                                \
    X(BR_IF)           /* (c, off) jump if i32 c != 0 */                                          \
    X(BR_IFZ)          /* (c, off) jump if i32 c == 0 */                                          \
    X(BR_IF64)         /* (c, off) jump if i64 c != 0 */                                          \
    X(BR_IFZ64)        /* (c, off) jump if i64 c == 0 */                                          \
    X(BR_TABLE)        /* (i, n, off_0 .. off_n): i32 i, off_n is the default */                  \
    X(BR_TABLE_T)      /* (i, n, off_0 .. off_n, k_0 .. k_n): BR_TABLE, counter += k_j (_T) */    \
    X(RETURN)          /* () results already in slots 0.. */                                      \
    X(RETURN1)         /* (a) slot 0 = a, return */                                               \
    X(RETURNN)         /* (a, n) slots 0..n-1 = a..a+n-1, return */                               \
    X(CALL)            /* (f, base) call function f, args/results at slots base.. */              \
    X(CALL_INDIRECT)   /* (type, table, i, base) */                                               \
    X(COPY)            /* (d, a) */                                                               \
    X(COPY2)           /* (d, a, d2, a2) two copies */                                            \
    X(CONST32)         /* (d, v) d = zero-extended v */                                           \
    X(CONST64)         /* (d, lo, hi) */                                                          \
    X(SELECT)          /* (d, c, a, b) d = i32 c ? a : b */                                       \
    X(GLOBAL_GET)      /* (d, g) */                                                               \
    X(GLOBAL_SET)      /* (g, a) */                                                               \
    X(MEMORY_SIZE)     /* (d) */                                                                  \
    X(MEMORY_GROW)     /* (d, a) */                                                               \
    X(MEMORY_INIT)     /* (seg, d, s, n) slots */                                                 \
    X(DATA_DROP)       /* (seg) */                                                                \
    X(MEMORY_COPY)     /* (d, s, n) slots */                                                      \
    X(MEMORY_FILL)     /* (d, v, n) slots */                                                      \
    X(TABLE_GET)       /* (d, table, i) */                                                        \
    X(TABLE_SET)       /* (table, i, v) */                                                        \
    X(TABLE_SIZE)      /* (d, table) */                                                           \
    X(TABLE_GROW)      /* (d, table, v, n): d = old size or -1 */                                 \
    X(TABLE_FILL)      /* (table, i, v, n) */                                                     \
    X(TABLE_COPY)      /* (dt, st, d, s, n) */                                                    \
    X(TABLE_INIT)      /* (table, seg, d, s, n) */                                                \
    X(ELEM_DROP)       /* (seg) */                                                                \
    X(REF_FUNC)        /* (d, f) */                                                               \
    X(GLOBAL_ADD64)    /* (g, lo, hi) i64 global g += imm: a fused metering decrement */          \
    X(BR_GLOBAL_LT0)   /* (g, off) jump if i64 global g < 0: a fused metering check */            \
    X(BR_GLOBAL_GE0)   /* (g, off) jump if i64 global g >= 0 */                                  \
    /* The metering counter kept in a register (engine_code.ctr_global; see compile.c): */        \
    X(CTR_GET)         /* (d, g) d = counter */                                                   \
    X(CTR_SET)         /* (g, a) counter = a */                                                   \
    X(CHARGE)          /* (lo, hi) counter += imm: a fused decrement */                           \
    X(BR_CTR_LT0)      /* (g, off) jump if counter < 0 */                                         \
    X(BR_CTR_GE0)      /* (g, off) jump if counter >= 0 */                                        \
    X(CHARGE_CHECK)    /* (lo, hi, off) counter += imm; jump if counter >= 0 (else fall into the  \
                          out-of-instructions call that follows) */                               \
    X(BR_T)            /* (off, k) BR, counter += k (see _T below) */                             \
    X(BR_M)            /* (off, k) BR past a standard check, performing it (see _M below) */      \
    X(CALL_M)          /* (f, base) CALL of a function whose entry is a standard check: the call  \
                          performs the entry's charge and check and starts after them */

/* A "standard check" is the code compiled from the instrumenter's charge and check at a function
 * entry or loop header: CHARGE_CHECK (k, 0, +4) then CALL (out_of_instructions, base), 7 words,
 * with k a sign-extended 32-bit counter delta. In a metered module (compile.c, "metering") every
 * branch has a charge word k after its offset word, and one of these forms:
 *   NAME_T   when taken: counter += k (k = the CHARGE the target started with, which the
 *            offset now skips; or 0);
 *   NAME_M   when taken: counter += k, then to off (past a standard check), or 3 words before
 *            off (the out-of-instructions call) if the counter went negative;
 *   NAME_TC, NAME_MC  the same, and when not taken: the CHARGE that follows the branch is
 *            performed and skipped (it stays in place for any other path that reaches it). */
#define VM_CBR_OPS(X)                                                                             \
    X(BR_IF) X(BR_IFZ) X(BR_IF64) X(BR_IFZ64)                                                     \
    X(BR_I32_EQ) X(BR_I32_NE) X(BR_I32_LT_S) X(BR_I32_LT_U) X(BR_I32_GT_S) X(BR_I32_GT_U)         \
    X(BR_I32_LE_S) X(BR_I32_LE_U) X(BR_I32_GE_S) X(BR_I32_GE_U)                                   \
    X(BR_I32_EQ_I) X(BR_I32_NE_I) X(BR_I32_LT_S_I) X(BR_I32_LT_U_I) X(BR_I32_GT_S_I)              \
    X(BR_I32_GT_U_I) X(BR_I32_LE_S_I) X(BR_I32_LE_U_I) X(BR_I32_GE_S_I) X(BR_I32_GE_U_I)
/* clang-format on */

typedef enum vm_op {
#define VM_X(n) VM_##n,
#define VM_XI(n) VM_##n##_I,
#define VM_XBR(n) VM_BR_##n, VM_BR_##n##_I,
    VM_UN_OPS(VM_X) VM_BIN_OPS(VM_X) VM_LOAD_OPS(VM_X) VM_STORE_OPS(VM_X) VM_BINI_OPS(VM_XI)
        VM_BINI64_OPS(VM_XI) VM_CMP_OPS(VM_XBR) VM_OTHER_OPS(VM_X)
#define VM_XM(n) VM_##n##_T, VM_##n##_M, VM_##n##_TC, VM_##n##_MC,
            VM_CBR_OPS(VM_XM)
#undef VM_X
#undef VM_XI
#undef VM_XBR
#undef VM_XM
                VM_OP_COUNT
} vm_op;

/* ---- compiled module -------------------------------------------------------------------- */

typedef struct vm_code_func {
    uint32_t start; /* word index of the first instruction in engine_code.words */
    uint32_t nparams;
    uint32_t nresults;
    uint32_t nlocals;    /* declared locals (zeroed at entry), params excluded */
    uint32_t frame_size; /* slots the frame needs: params + locals + max stack height */
} vm_code_func;

typedef struct engine_native engine_native;
struct engine_code {
    const engine_module *m;
    engine_native *native; /* the compiled tier, if attached (native.c); NULL: interpreter */
    uint32_t *words;       /* all functions' internal code */
    size_t nwords;
    vm_code_func *funcs;  /* the defined functions (m->nfuncs - m->nfunc_imports) */
    uint32_t *canon_type; /* per type index: the first index of a structurally equal type */
    uint32_t ctr_global;  /* the global the VM keeps in a register (the metering counter),
                                 UINT32_MAX if none; see compile.c, "metering" */
};

/* ---- run-time objects ------------------------------------------------------------------- */

/* A compiled function's generic entry (native_abi.h nat_generic). */
struct nat_inst;
typedef void (*vm_native_fn)(struct nat_inst *ni, uint64_t fp, uint64_t *a);

struct engine_func {
    const functype *type;
    engine_instance *inst;    /* owning instance; NULL for a host function */
    const uint32_t *code;     /* first word; NULL for a host function */
    const vm_code_func *meta; /* NULL for a host function */
    engine_host_fn host;
    void *user;
    vm_native_fn native; /* compiled tier's entry, or NULL */
    uint32_t nparams, nresults;
    bool owns_type; /* host function: type below is a copy */
    functype type_copy;
};

struct engine_global {
    uint64_t value;
    globaltype type;
};

struct engine_table {
    uint64_t *elems; /* 0 = null; funcref: engine_func pointer */
    uint32_t size;
    uint32_t cap;     /* elements room in elems when elems_owned (else size) */
    uint32_t max;     /* effective maximum (declared, bounded by the run config) */
    tabletype type;   /* declared type; lim.min is the creation size */
    uint64_t *budget; /* bytes a grow may still take (engine_instance_set_budget) */
    bool elems_owned; /* elems is a separate heap block (after a grow) */
};

struct engine_memory {
    uint8_t *base;    /* len bytes, then len >> VM_MARK_SHIFT write marks (memory.c): a
                                 heap block that moves when it grows, or a reservation */
    uint64_t resv;    /* bytes reserved at base; 0: base is a heap block */
    uint64_t *budget; /* bytes a grow may still take (engine_instance_set_budget) */
    uint64_t len;     /* bytes = pages * 65536 */
    uint32_t pages;
    uint32_t max; /* effective maximum pages */
    limits lim;   /* declared limits (lim.max valid if has_max) */
};

enum { VM_PAGE = 65536, VM_MARK_SHIFT = 12 }; /* write marks: one byte per 4 KiB page */
enum { VM_SMALL_PAGES = 16 }; /* up to 1 MiB in a heap block, past it a reservation (memory.c) */
_Static_assert(1 << (int)VM_MARK_SHIFT == (int)ENGINE_MARK_PAGE, "write mark granularity");

/* One call frame record: where to go back to. */
typedef struct vm_frame {
    const uint32_t *ret_pc; /* NULL: return to the host */
    uint64_t *fp;
    engine_instance *inst;
} vm_frame;

enum vm_state { VM_IDLE = 0, VM_READY, VM_PAUSED, VM_DONE };

typedef struct vm_exec {
    uint64_t *slots, *slots_end;
    vm_frame *frames, *frames_end;
    /* saved registers while READY or PAUSED */
    const uint32_t *pc;
    uint64_t *fp;
    vm_frame *frame; /* next free frame record */
    engine_instance *cur;
    const engine_func *entry; /* the function called from the host */
    uint8_t state;            /* enum vm_state */
    bool pause_requested;
    bool pause_ignored; /* engine_instance_invoke: run to completion */
    uint32_t max_depth;
    status pending; /* a trap found by _begin, reported by _run */
} vm_exec;

struct engine_instance {
    const engine_code *code;
    const engine_module *m;
    engine_run_config rc;
    engine_func **funcs; /* m->nfuncs, imports first */
    engine_global **globals;
    engine_table **tables;
    engine_memory *mem;     /* memory 0 or NULL */
    engine_memory *own_mem; /* the memory this instance created (freed with it) */
    uint8_t *data_dropped;  /* per data segment */
    uint64_t **elem_vals;   /* per elem segment: evaluated references */
    uint32_t *elem_len;     /* per elem segment: 0 once dropped */
    void *host;             /* the embedder's pointer (engine_instance_new) */
    uint64_t *ctr;          /* value of global code->ctr_global, or NULL: while this
                                 instance's code runs, the VM holds it in a register */
    vm_exec ex;
    struct nat_inst *ni; /* compiled tier: this instance as compiled code sees it, or NULL */
    struct nat_exec *nx; /* compiled tier: the run's own stack and contexts (native.c) */
    bool ex_native;      /* the current run (ex) is a compiled one */
};

/* vm.c */
/* Runs inst->ex from its saved state until done, trap or pause; see engine_instance_run. */
status vm_exec_run(engine_instance *inst, bool *paused);
/* Sets up inst->ex to call f with args. */
status vm_exec_begin(engine_instance *inst, const engine_func *f, const uint64_t *args);

/* Bulk memory and table operations (vm.c), shared by both tiers. */
status vm_op_memory_init(engine_instance *inst, uint32_t seg, uint32_t d, uint32_t s, uint32_t n);
status vm_op_memory_copy(engine_memory *mem, uint32_t d, uint32_t s, uint32_t n);
status vm_op_memory_fill(engine_memory *mem, uint32_t d, uint32_t v, uint32_t n);
status vm_op_table_init(engine_instance *inst, uint32_t ti, uint32_t seg, uint32_t d, uint32_t s,
                        uint32_t n);
status vm_op_table_copy(engine_instance *inst, uint32_t dt, uint32_t st_, uint32_t d, uint32_t s,
                        uint32_t n);
status vm_op_table_fill(engine_table *t, uint32_t i, uint64_t v, uint32_t n);

/* native.c: the compiled tier's side of instances and runs. */
/* Sets up inst->ni when inst's code has a compiled tier attached: ST_OK or ST_OUT_OF_MEMORY. */
status vm_native_attach(engine_instance *inst);
void vm_native_free(engine_instance *inst);
/* Runs or resumes inst->ex's call in compiled code: engine_instance_run's contract. */
status vm_native_run(engine_instance *inst, bool *paused);
/* emit.c: the C source of c's compiled tier into out (at most limit bytes: ST_LIMIT_EXCEEDED). */
status emit_module(const engine_code *c, size_t limit, buf *out);

/* memory.c */
status vm_memory_init(engine_memory *mem, limits lim, uint32_t max_pages);
void vm_memory_fini(engine_memory *mem);
/* Grows by delta pages: *result the old size, or -1 (UINT32_MAX) past the maximum; OUT_OF_MEMORY
 * (nothing changed) if the host has no memory for it. */
status vm_memory_grow(engine_memory *mem, uint32_t delta, uint32_t *result);
/* engine_memory_shrink. */
status vm_memory_shrink(engine_memory *mem, uint32_t pages);

/* instance.c */
/* Grows t by n elements set to v: the old size or UINT32_MAX. */
uint32_t vm_table_grow(engine_table *t, uint32_t n, uint64_t v);
/* True if two function types are the same. */
bool vm_functype_eq(const functype *a, const functype *b);

#endif
