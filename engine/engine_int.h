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

/* The Wasm instructions of a fixed shape (opcodes.def column `shape`, engine.h enum opcode_shape)
 * are each executed by a VM op of the same name with these layouts:
 *   SH_UN:    NAME (d, a)       d = op a
 *   SH_BIN:   NAME (d, a, b)    d = a op b
 *   SH_BINI:  SH_BIN, and NAME_I (d, a, imm): the right operand an immediate (for i64 operands
 *             sign-extended from 32 bits)
 *   SH_CMP:   SH_BINI (an i32 comparison), and BR_NAME (a, b, off), BR_NAME_I (a, imm, off):
 *             jump when the comparison holds. The set is closed under negation (for `if`;
 *             compile.c `negated`).
 *   SH_LOAD:  NAME (d, a, off)  d = load(a + off)
 *   SH_STORE: NAME (a, v, off)  store(a + off, v)
 * They are not listed here: vm_ops.inc expands opcodes.def into the enum vm_op below. */
/* clang-format off */

/* The VM's own ops (the SH_OWN instructions and fused forms), with their layouts. */
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
 *            performed and skipped (it stays in place for any other path that reaches it).
 * The conditional branches with these forms: the four below, and the compare-and-branch ops of
 * the SH_CMP instructions (vm_ops.inc). */
#define VM_CBR_OTHER(X) X(BR_IF) X(BR_IFZ) X(BR_IF64) X(BR_IFZ64)
/* clang-format on */

typedef enum vm_op {
#define VM_OP(n) VM_##n,
#include "vm_ops.inc"
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
    size_t nat_stack;    /* compiled tier: the stack its attached code needs (native.c) */
    const engine_native *nat_of; /* compiled tier: the object its functions run (native.c) */
    bool ex_native;              /* the current run (ex) is a compiled one */
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
