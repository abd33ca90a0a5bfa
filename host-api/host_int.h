/* host_int.h - friends inside host-api/: the ic0 table rows, the compiled host_code, the live
 * canister and the state of the message it is running. Not a public header: nothing outside
 * host-api/ may include it (tests use host.h only). */
#ifndef TALLY_HOST_INT_H
#define TALLY_HOST_INT_H

#include "host.h"
#include "ic0_ctx.h"

/* ---- ic0.def's context bits and support column (see the file's header comment) ---------- */

enum {
    /* Not an ic0.def context: host_canister_restore instantiates in it, and the first host call
     * or metering check of the start function stops it (no ic0 row allows this bit). */
    CTX_RESTORE = 1u << 20,
};

enum {
    IC0_COUNT = 0
#define IC0(name, params, results, base, per_byte, ctx, support) +1
#include "ic0.def"
#undef IC0
};

enum {
    HOST_PRINCIPAL_MAX = 29,
    HOST_CONTROLLERS_MAX = 10,
    HOST_DETAIL_MAX = 256,
    HOST_CERTIFIED_MAX = 32,
    HOST_METHODS_MAX = 1000,
    HOST_METHOD_NAMES_MAX = 20000
};

typedef struct exec exec;
typedef status (*ic0_handler)(exec *x, uint64_t *slots);

/* One row of ic0.def (host.h); its handler is host_ic0_handlers[] at the same index. */
typedef host_ic0_row ic0_row;
extern const ic0_row host_ic0_rows[IC0_COUNT];
extern const ic0_handler host_ic0_handlers[IC0_COUNT];

/* Row numbers by name: IC0_ROW_call_new, ... */
enum {
#define IC0(name, params, results, base, per_byte, ctx, support) IC0_ROW_##name,
#include "ic0.def"
#undef IC0
};

/* The handlers of call.c (inter-canister calls and the cycles that ride on them). */
/* an X-macro list: clang-format cannot keep one layout of it stable */
// clang-format off
#define IC0_CALL_HANDLERS(X)                                                                      \
    X(call_new)                                                                                   \
    X(call_on_cleanup) X(call_data_append) X(call_with_best_effort_response) X(call_cycles_add)   \
        X(call_cycles_add128) X(call_perform) X(msg_reject_code) X(msg_cycles_available)          \
            X(msg_cycles_available128) X(msg_cycles_refunded) X(msg_cycles_refunded128)           \
                X(msg_cycles_accept) X(msg_cycles_accept128)
// clang-format on
#define IC0_DECLARE_HANDLER(name) status h_##name(exec *x, uint64_t *slots);
IC0_CALL_HANDLERS(IC0_DECLARE_HANDLER)
#undef IC0_DECLARE_HANDLER

/* The row named `name`, or -1. */
int ic0_row_find(span name);
/* The host function every ic0 import is bound to; `user` is its const ic0_row. */
status ic0_call(engine_instance *inst, void *user, uint64_t *slots);
/* __tally.out_of_instructions (meter.c). */
status ic0_out_of_instructions(engine_instance *inst, void *user, uint64_t *slots);

/* ---- deploy-time code --------------------------------------------------------------------- */

/* System entry points a canister may export (all [] -> []). */
typedef enum entry_kind {
    ENTRY_INIT,
    ENTRY_PRE_UPGRADE,
    ENTRY_POST_UPGRADE,
    ENTRY_INSPECT,
    ENTRY_HEARTBEAT,
    ENTRY_GLOBAL_TIMER,
    ENTRY_LOW_MEMORY,
    ENTRY_COUNT
} entry_kind;

typedef struct method {
    span name;   /* after the prefix */
    span export; /* the whole export name */
    int kind;    /* HOST_METHOD_* */
} method;

struct host_code {
    host_config cfg;
    engine_module *mod; /* the instrumented module (owns the instrumented bytes) */
    engine_code *ecode;
    engine_native *native;  /* its compiled tier, or NULL (host_code_attach_native) */
    engine_native *quick;   /* the quick object `native` upgraded, kept until code is freed */
    uint32_t nimports;      /* of the instrumented module: [0] is out_of_instructions */
    engine_func **funcs;    /* the host function of each import, made here once */
    engine_extern *imports; /* what every instantiation passes: built here once */
    uint32_t norig_imports;
    int16_t *rows; /* per import of the original module: its ic0.def row */
    uint32_t nmethods;
    method *methods;           /* sorted by name */
    span entries[ENTRY_COUNT]; /* export names of the entry points present (len 0: absent) */
    uint32_t counter_global;   /* global index of __tally_counter */
    uint64_t initial_bytes;    /* what the memory limit counts for a fresh instance (code.c) */
};

/* The method named `name`: its index or -1 (binary search). */
int host_code_method_find(const host_code *code, span name);

/* ---- a live instance of a host_code --------------------------------------------------------- */

typedef struct live {
    engine_instance *inst;
    engine_memory *mem; /* NULL if the module has no memory */
    engine_global *counter;
    engine_func **methods; /* per code method */
    engine_func *entries[ENTRY_COUNT];
    uint32_t nglobals;
    engine_global **mut_globals; /* the mutable globals (counter included) */
    uint64_t *saved_globals;     /* their values at the start of the message */
    uint32_t nmut;
} live;

/* ---- the message being run ----------------------------------------------------------------- */

enum { RESPONDED_NONE = 0, RESPONDED_REPLY, RESPONDED_REJECT };

struct exec {
    host_canister *c;
    engine_instance *inst;  /* the instance whose code called the host (set per call) */
    engine_global *counter; /* its instruction counter */
    uint32_t counter_index; /* global index of the counter in the code being instantiated */
    uint32_t ctx;           /* CTX_* bit of the running entry point */
    host_call_kind kind;
    bool readonly; /* query / replicated query / inspect: always rolled back */
    bool needs_response;
    bool pausable;
    host_msg msg;
    uint64_t limit, slice; /* instruction limit and slice size of the message */
    uint64_t used_before;  /* instructions of the finished slices */
    uint64_t slice_start;  /* the counter's value when the current slice began */
    uint64_t slice_base;   /* instructions used when the current slice began (a lifecycle
                                step continues the slice: exec_continue) */
    uint8_t responded;     /* RESPONDED_* */
    uint32_t reject_code;
    buf reply; /* reply payload or reject message */
    bool accepted;
    bool restore_stopped; /* CTX_RESTORE: the start function was stopped as intended */
    bool timer_set;
    uint64_t timer;
    bool cert_set;
    uint32_t cert_len;
    uint8_t cert[HOST_CERTIFIED_MAX];
    u128 cycles_out;    /* burned, or attached to calls (cycles.c) */
    u128 cycles_burned; /* the part of cycles_out that was burned */
    size_t detail_len;
    char detail[HOST_DETAIL_MAX]; /* why the message trapped (ic0.trap: the canister's text) */
    /* inter-canister calls (call.c) */
    bool replied_before;   /* callbacks: the call context was answered by an earlier message */
    bool building;         /* a call is under construction (call_new .. call_perform) */
    host_call_out pending; /* that call */
    host_call_out *calls;  /* calls performed by this message, in order */
    uint32_t ncalls, calls_cap;
    u128 available;       /* cycles of the request not accepted yet */
    u128 cycles_accepted; /* cycles accepted by this message */
    uint64_t cb_arg[1];   /* a callback's argument: its env */
};

/* meter.c: the message's instruction accounting. */
/* Instructions used so far by the message (finished slices + the current one). */
uint64_t exec_used(const exec *x);
/* Charges `amount` to the counter (saturating); ends the slice if it goes negative. ST_OK or
 * ST_INSTRUCTION_LIMIT_EXCEEDED. */
status exec_charge(exec *x, uint64_t amount);
/* The exec of the instance that called a host function (its engine_instance_host pointer); an
 * instance new to the message (a start function) gets its counter looked up. ST_OK, or
 * ST_TRAP_HOST in CTX_RESTORE: the first host call or metering check stops the start function
 * (restore_stopped is set). */
status exec_enter(engine_instance *inst, exec **out);
/* Folds the current slice into used_before and forgets the counter (its instance may go). */
void exec_settle(exec *x);
/* Continues the message's accounting on counter `g` of inst: it gets the next slice. */
void exec_switch(exec *x, engine_instance *inst, engine_global *g);
/* The same, in what is left of the current slice (a sliced install's or upgrade's next step:
 * the steps of a message share its slices). */
void exec_continue(exec *x, engine_instance *inst, engine_global *g);

/* ic0.c */
/* Sets x->detail (printf-style) and returns st. */
status exec_fail(exec *x, status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The canister memory range [ptr, ptr+len) for reading (write false) or for writing (its
 * pages marked for commit or rollback), or a trap (ST_HOST_OOB) naming ic0.<fn>. */
status exec_mem(exec *x, const char *fn, uint64_t ptr, uint64_t len, bool write, uint8_t **out);

/* call.c: the state of calls at the start of a message (from x->msg), and dropping the calls
 * of a message that did not commit (its attached cycles go back). */
void exec_calls_begin(exec *x);
void exec_calls_drop(exec *x);
/* Frees a host_call_out's buffers. */
void host_call_out_fini(host_call_out *o);

/* ---- cycles (cycles.c): the internal API for cycles moving within a message ---------------
 * A message's balance changes are kept in the exec and applied when it commits; a trap drops
 * them. */
void exec_cycles_begin(exec *x);
/* What ic0.canister_cycle_balance128 gives: committed + accepted - burned - attached to calls
 * - prepaid (>= 0). */
u128 exec_cycles_balance(const exec *x);
/* The balance less the freezing reserve (ic0.canister_liquid_cycle_balance128). */
u128 exec_cycles_liquid(const exec *x);
/* Takes `amount` out of the balance the message sees (cycles attached to a call; the
 * scheduler debits them when it routes the call): ST_OK, or ST_CANISTER_OUT_OF_CYCLES when it
 * exceeds the liquid balance (nothing taken). _give gives back what a dropped call took. */
status exec_cycles_take(exec *x, u128 amount);
void exec_cycles_give(exec *x, u128 amount);
/* At commit: what the message burned leaves the committed balance (never below 0); the
 * accepted and attached cycles are the scheduler's to move (host_result, route.c). */
void exec_cycles_commit(exec *x);
/* Fills res->cycles_burned from a committed message. */
void exec_cycles_report(const exec *x, host_result *res);
/* The ic0 handlers of cycles.c (ic0.def rows). */
status h_canister_cycle_balance(exec *x, uint64_t *slots);
status h_canister_cycle_balance128(exec *x, uint64_t *slots);
status h_canister_liquid_cycle_balance128(exec *x, uint64_t *slots);
status h_cycles_burn128(exec *x, uint64_t *slots);

/* ---- stable memory (state.c) ---------------------------------------------------------------- */

typedef struct stable_mem {
    base_zarea data;    /* cap_pages * 64 KiB bytes, zero past `pages` */
    uint64_t pages;     /* 64 KiB pages */
    uint64_t cap_pages; /* allocated */
    uint8_t *touched;   /* bit per 4 KiB page: saved in the undo log by this message */
    uint8_t *dirty;     /* bit per 4 KiB page: written since the last dirty_clear */
    buf log;            /* u64 LE index of every page this message touched, in order */
    buf undo;           /* 4096 bytes before the message wrote them, per touched page that
                            existed when the message began (in log order) */
    uint64_t pages0;    /* size when the message began */
} stable_mem;

struct host_canister {
    host_config cfg;
    uint8_t self[HOST_PRINCIPAL_MAX];
    size_t self_len;
    uint8_t controllers[HOST_CONTROLLERS_MAX][HOST_PRINCIPAL_MAX];
    size_t controller_len[HOST_CONTROLLERS_MAX];
    uint32_t ncontrollers;
    uint32_t status;
    const host_code *code; /* NULL: empty */
    live cur;
    /* The committed heap: rollback restores it, commit compares against it (dirty pages). */
    base_zarea shadow; /* zero past shadow_len */
    uint64_t shadow_len;
    uint8_t *heap_dirty;     /* bit per 4 KiB page */
    uint64_t heap_dirty_cap; /* bytes of the bitmap */
    stable_mem stable;
    uint64_t budget; /* bytes the running message may still grow by (cfg.run.budget
                                points here): the memory limit minus what the canister has */
    uint64_t version;
    uint64_t timer;
    u128 cycles; /* the committed cycle balance (cycles.c) */
    uint32_t cert_len;
    uint8_t cert[HOST_CERTIFIED_MAX];
    bool busy;      /* a sliced message is paused */
    bool call_live; /* the engine has a run set up (begin done) */
    status pending; /* a message that cannot start, reported by the first _run */
    /* A sliced install or upgrade (canister.c "install and upgrade, in slices"). */
    uint8_t life;      /* LIFE_NONE, LIFE_INSTALL, LIFE_UPGRADE */
    uint8_t life_step; /* the next step (LIFE_STEP_*) */
    const host_code *life_code;
    live life_new;              /* the new instance, from the instantiate step on */
    engine_func *life_start;    /* its start function (NULL: none) */
    engine_instance *life_inst; /* the instance whose step is running (NULL between steps) */
    exec x;
};

enum { LIFE_NONE = 0, LIFE_INSTALL, LIFE_UPGRADE };
enum {
    LIFE_STEP_PRE_UPGRADE,
    LIFE_STEP_INSTANTIATE,
    LIFE_STEP_START,
    LIFE_STEP_INIT,
    LIFE_STEP_DONE
};

/* state.c */
/* Sets c->budget for a message of lv (NULL: a fresh instance of `code` about to be made). */
void budget_reset(host_canister *c, const live *lv, const host_code *code);
status stable_grow(host_canister *c, uint64_t delta, uint64_t *old_pages, bool *refused);
/* Saves the 4 KiB pages of [off, off+len) not yet saved by this message; marks nothing dirty
 * yet (commit does). ST_OK or ST_OUT_OF_MEMORY. */
status stable_touch(host_canister *c, uint64_t off, uint64_t len);
void stable_begin(host_canister *c);
void stable_commit(host_canister *c);
void stable_rollback(host_canister *c);
void stable_free(host_canister *c);
/* Committed stable memory: its size, and bytes [off, off+len) as before the running message
 * (undo log applied on the fly). read: ST_OK or ST_STABLE_OOB. */
uint64_t stable_committed_bytes(const host_canister *c);
status stable_committed_read(const host_canister *c, uint64_t off, uint8_t *dst, uint64_t len);
/* Replaces stable memory with `bytes` (a multiple of 64 KiB, within the cap): restore. `set`
 * as host_saved.stable_set. ST_OK, ST_CORRUPT_LEDGER, ST_OUT_OF_MEMORY. */
status stable_load(host_canister *c, span bytes, const uint8_t *set);

/* Heap shadow: make room for the live heap's size (before any change is kept) ... */
status heap_reserve(host_canister *c, const live *lv);
/* ... then keep the changes (marks changed pages dirty), or undo them. */
void heap_commit(host_canister *c, const live *lv);
status heap_rollback(host_canister *c, const live *lv);
/* After install/upgrade/restore: the shadow becomes a copy of lv's heap, every page dirty. Only
 * the marked pages are read: lv's instance is fresh, so every other page is zero. */
void heap_adopt(host_canister *c, const live *lv);

/* canister.c */
void live_globals_save(live *lv);
void live_globals_restore(live *lv);
/* Sets the mutable globals (the counter excepted) from host_canister_saved_globals' layout.
 * ST_OK or ST_CORRUPT_LEDGER (a layout that does not fit lv). */
status live_globals_load(live *lv, span globals);
/* Sets version, timer and certified data (at most HOST_CERTIFIED_MAX bytes: checked by the
 * caller) from sv. */
void system_set(host_canister *c, const host_saved *sv);

#endif
