/* host.h - the host side of the Internet Computer's System API (`ic0`) in tally: deploy-time
 * processing of canister code (host_code), the ic0 handlers (a static table built from ic0.def),
 * and a canister's live state with its lifecycle and transactional messages (host_canister).
 *
 * Facts followed: the IC spec section 3 (semantics), 1.4 (host-call charges),
 * 4 (deterministic time slicing), 6.2 (module rules). Where tally departs, docs/canisters.md
 * says so. Everything here is a pure function of (state, message): no wall clock, no addresses,
 * no hash-table order.
 *
 * How a scheduler uses it
 *   1. Deploy: host_code_new(cfg, wasm) checks, instruments and compiles a module once; store
 *      host_code_instrumented() in the ledger. A host_code is immutable; share it between
 *      canisters; free it after the last canister using it is freed or upgraded away.
 *   2. host_canister_new(cfg, id), host_canister_install(c, code, msg, &res).
 *   3. Messages: host_canister_call(c, HOST_CALL_UPDATE, msg, &res) runs a message to the end.
 *      With time slicing: host_canister_call_begin(), then host_canister_call_run() once per
 *      round until *paused is false (msg->slice_limit is the slice), or host_canister_call_abort().
 *   4. host_canister_upgrade(c, new_code, msg, &res) (atomic), queries with HOST_CALL_QUERY
 *      (never change state), tasks with HOST_CALL_HEARTBEAT / HOST_CALL_GLOBAL_TIMER.
 *   5. Round end: host_canister_dirty() tells which 4 KiB pages of the heap and of stable memory
 *      changed since the last host_canister_dirty_clear(): write those, then clear.
 *
 * Results and statuses. Every message gives a host_result. The functions that run messages
 * return ST_OK when the message ran to a deterministic outcome (res->st is ST_OK or a TRAP status:
 * record it in the receipt), or a FAULT status (ST_OUT_OF_MEMORY) when the node could not run it:
 * then the canister is exactly as before the call and usable, and nothing is to be recorded.
 * INVALID statuses (ST_CANISTER_NOT_EMPTY, ST_CANISTER_BUSY) report misuse by the caller; nothing
 * ran. A message that traps leaves no trace in the canister (heap, globals, stable memory,
 * timer, certified data, version) except what the caller records. */
#ifndef TALLY_HOST_H
#define TALLY_HOST_H

#include "engine.h"

/* ---- configuration ------------------------------------------------------------------------ */

/* Sink for ic0.debug_print: called with the printing canister's id (its principal bytes, as
 * given to host_canister_new) and the printed bytes (not NUL-terminated; may be empty;
 * "(debug message out of bounds)" when the canister passed a bad pointer). */
typedef void (*host_debug_fn)(void *user, span self, span text);

typedef struct host_config {
    engine_config engine;      /* static module limits checked at deploy */
    engine_run_config run;     /* call depth, value slots, heap pages of every instance */
    int schedule;              /* instruction weight schedule (ENGINE_SCHEDULE_*) */
    uint64_t max_stable_pages; /* stable memory cap, 64 KiB pages; stable_grow fails past it */
    uint64_t max_memory_bytes; /* per canister: heap + stable memory + 8 bytes per table element
                                  (docs/reliability.md, "memory"). A module whose initial memory
                                  and tables exceed it is refused at deploy
                                  (ST_CANISTER_MEMORY_LIMIT); a grow past it fails (-1) */
    uint64_t max_reply_bytes;  /* reply/reject payload cap; more traps (ST_REPLY_TOO_LARGE) */
    span subnet_id;            /* what ic0.subnet_self_copy gives (borrowed, outlives users) */
    host_debug_fn debug_sink;  /* NULL: debug_print output is dropped */
    void *debug_user;
} host_config;

/* tally's defaults: engine defaults, schedule v1, 65536 stable pages (4 GiB), 4 GiB of memory
 * per canister (HOST_MEMORY_BYTES_DEFAULT), 2 MiB replies (the IC's limit), empty subnet id, no
 * debug sink. */
#define HOST_MEMORY_BYTES_DEFAULT (UINT64_C(4) << 30)
void host_config_default(host_config *cfg);

/* ---- deploy-time code --------------------------------------------------------------------- */

typedef struct host_code host_code;

enum { HOST_METHOD_UPDATE = 1, HOST_METHOD_QUERY = 2 };

/* Processes a module's original bytes once (docs/decisions.md "deploy"):
 *   decode + validate (cfg->engine); the IC's module rules: function imports only from "ic0",
 *   each a row of ic0.def with exactly its signature and SUPPORTED; no memory/table/global
 *   imports; exports `canister_update <name>` / `canister_query <name>` (unique <name>, at most
 *   1000, names at most 20000 bytes together) and the known `canister_*` entry points, all
 *   functions [] -> []; reserved IC names not exported; no instruction that changes a table
 *   or drops a segment (table.set/grow/fill/copy/init, elem.drop, memory.init, data.drop:
 *   the IC rejects the table ones; tally's rollback covers heap, globals and stable memory
 *   only); then instruments (cfg->schedule), decodes, validates and compiles the instrumented
 *   module, and resolves every import ONCE to a row of the static ic0 table (one engine host
 *   function per import, made here, never per message).
 * Returns ST_OK (*out set); an INVALID status: any of engine_module_load's, instrument's
 *   (ST_RESERVED_NAME ...), ST_UNKNOWN_IMPORT (name not in ic0.def, or not module "ic0", or not
 *   a function), ST_INCOMPATIBLE_IMPORT (wrong signature), ST_BAD_EXPORT,
 *   ST_UNSUPPORTED_FEATURE (a forbidden instruction); or ST_OUT_OF_MEMORY. An UNSUPPORTED row of
 *   ic0.def is bound like any other (as on the IC): calling it traps with ST_HOST_UNSUPPORTED
 *   and its name. err (may be NULL) names the import, export or instruction in err->detail,
 *   e.g. "import ic0.nope: no such ic0 function" (err->offset ENGINE_ERROR_NO_OFFSET). cfg is
 *   copied. */
status host_code_new(const host_config *cfg, span wasm, host_code **out, engine_error *err);
void host_code_free(host_code *code);

/* The instrumented module binary (what the ledger stores and what the VM runs); valid while
 * code lives. */
span host_code_instrumented(const host_code *code);
/* The compiled module every instance of code runs (to build its compiled tier,
 * engine_native_compile: read-only, safe from another thread). */
const engine_code *host_code_engine(const host_code *code);
/* Attaches the compiled tier n (built from host_code_engine(code)) and takes it: code's
 * canisters run compiled from their next message (docs/engine.md). Results, instruction counts
 * and state are the same as interpreted. Once per code, or twice to upgrade quick code
 * (engine_native_is_quick) to cc's: the canisters switch at their next message, and the quick
 * object stays loaded until code is freed (a message paused across rounds finishes in it);
 * anything else is freed at once. n is freed with code. */
void host_code_attach_native(host_code *code, engine_native *n);
/* Exported update and query methods, sorted by name (bytewise): count, and method i's name
 * (after the `canister_update ` / `canister_query ` prefix) and kind (HOST_METHOD_*). */
uint32_t host_code_method_count(const host_code *code);
span host_code_method(const host_code *code, uint32_t i, int *kind);
/* The system tasks the code exports: a mask of HOST_TASK_* (canister_heartbeat,
 * canister_global_timer). */
enum { HOST_TASK_HEARTBEAT = 1, HOST_TASK_GLOBAL_TIMER = 2 };
unsigned host_code_tasks(const host_code *code);
/* Whether the code exports canister_inspect_message (the node then runs it before it admits
 * an ingress update, HOST_CALL_INSPECT). */
bool host_code_inspects(const host_code *code);
/* The ic0.def row index import `i` of the ORIGINAL module resolved to (tests, bench); -1 if i
 * is out of range. */
int host_code_import_row(const host_code *code, uint32_t i);

/* ---- messages and results ------------------------------------------------------------------ */

typedef enum host_call_kind {
    HOST_CALL_UPDATE = 1,   /* `canister_update <method>`; a `canister_query <method>` called this
                              way runs as a replicated query (state changes discarded) */
    HOST_CALL_QUERY,        /* `canister_query <method>`, non-replicated, never changes state */
    HOST_CALL_HEARTBEAT,    /* `canister_heartbeat` (method ignored; ST_OK with no effect if the
                              canister exports none) */
    HOST_CALL_GLOBAL_TIMER, /* `canister_global_timer`: the timer is deactivated first, as on the
                              IC (that stays even if the task traps) */
    HOST_CALL_INSPECT,      /* `canister_inspect_message` for ingress `method`; read-only;
                              res->accepted tells the verdict (accepted if not exported) */
    HOST_CALL_REPLY,        /* the reply callback msg->callback of a call this canister made:
                              table function cb_fun(cb_env); msg->arg is the reply payload */
    HOST_CALL_REJECT,       /* its reject callback: msg->reject_code, msg->arg the reject
                              message (ic0.msg_reject_msg_*) */
    HOST_CALL_CLEANUP,      /* its cleanup callback, after the reply or reject callback trapped */
} host_call_kind;

/* ---- the ic0 table -------------------------------------------------------------------------- */

/* One row of ic0.def as the host-api holds it (read-only; tools such as `tally bench weights`
 * and tests walk the table through this instead of expanding ic0.def themselves). */
typedef struct host_ic0_row {
    const char *name;
    const char *params; /* one letter per parameter: 'i' i32, 'I' i64 */
    uint32_t nparams;
    const char *results;
    uint32_t base_cost;     /* instructions charged per call (docs/canisters.md) */
    uint32_t per_byte_cost; /* times the LAST parameter (the size), for the rows that charge */
    uint32_t contexts;      /* host-api's context bits: ask host_ic0_allowed */
    bool supported;         /* false: a canister importing it is refused at deploy */
} host_ic0_row;

/* Rows of ic0.def (74), in file order. */
uint32_t host_ic0_count(void);
/* Row i, or NULL past the end. */
const host_ic0_row *host_ic0_row_at(uint32_t i);
/* True if a canister may call row r in the entry point a message of `kind` runs (an update
 * method for HOST_CALL_UPDATE, a non-replicated query for HOST_CALL_QUERY, ...). */
bool host_ic0_allowed(const host_ic0_row *r, host_call_kind kind);

/* One message. Every span is borrowed and must stay valid until the message is finished (the
 * last host_canister_call_run, or the lifecycle function's return). */
typedef struct host_msg {
    span method;                /* method name (no prefix); ignored by install/upgrade/tasks */
    span arg;                   /* msg_arg_data */
    span caller;                /* msg_caller: the sender / the installer (at most 29 bytes as
                                   a principal; not checked here) */
    uint64_t time;              /* ic0.time, ns since the epoch: the block time (constant) */
    uint64_t instruction_limit; /* all instructions of the message, host-call charges included */
    uint64_t slice_limit;       /* instructions per slice; 0 or >= limit: one slice. Only
                                   host_canister_call_run pauses; other paths run to the end */
    /* Inter-canister calls (docs/canisters.md "Calls"); all zero for an ingress message. */
    uint32_t cb_fun, cb_env; /* HOST_CALL_REPLY/REJECT/CLEANUP: table index and its env */
    uint32_t reject_code;    /* HOST_CALL_REJECT: ic0.msg_reject_code (1..5) */
    bool replied;            /* callbacks: the call context was already replied or
                                   rejected, so msg_reply/msg_reject trap */
    uint32_t call_room;      /* calls this message may still perform; past it call_perform
                                   returns 2 (SYS_TRANSIENT), as when a queue is full */
    u128 cycles_available;   /* cycles the request carries (ic0.msg_cycles_available*) */
    u128 cycles_refunded;    /* REPLY/REJECT: cycles the callee gave back */
    uint64_t deadline;       /* ic0.msg_deadline: of the best-effort call that made the call
                                context (requests and callbacks), else 0 */
    /* Cycles (docs/canisters.md "Cycles"); all 0 for a chain without fees. */
    u128 cycles_prepaid; /* held back for the message's execution fee, as the IC's
                                   prepayment: the balance the canister sees excludes it */
    u128 cycles_frozen;  /* the freezing reserve: the liquid balance excludes it */
} host_msg;

/* An inter-canister call a message performed (ic0.call_perform), handed to the scheduler in
 * host_result.calls when the message commits (a trapped message's calls are dropped, as on
 * the IC). */
typedef struct host_call_out {
    uint8_t callee[29]; /* the callee's principal; 0 bytes: the management canister */
    uint32_t callee_len;
    buf method; /* the method name */
    buf arg;    /* the argument (ic0.call_data_append) */
    uint32_t reply_fun, reply_env, reject_fun, reject_env, cleanup_fun, cleanup_env;
    bool has_cleanup;
    bool best_effort;         /* ic0.call_with_best_effort_response */
    uint32_t timeout_seconds; /* its timeout */
    u128 cycles;              /* ic0.call_cycles_add*: taken from the caller's balance */
} host_call_out;

typedef enum host_response {
    HOST_RESPONSE_NONE = 0, /* nothing to send (install, upgrade, tasks, inspect) */
    HOST_RESPONSE_REPLY,    /* bytes = reply payload */
    HOST_RESPONSE_REJECT,   /* bytes = reject message, reject_code set */
} host_response;

/* IC reject codes, numbered as the IC spec's "Reject codes" section. */
enum {
    HOST_REJECT_SYS_FATAL = 1,
    HOST_REJECT_SYS_TRANSIENT = 2,
    HOST_REJECT_DESTINATION_INVALID = 3,
    HOST_REJECT_CANISTER_REJECT = 4,
    HOST_REJECT_CANISTER_ERROR = 5,
    HOST_REJECT_SYS_UNKNOWN = 6, /* a best-effort call's deadline passed without a response */
};

/* The reject code of a message that ended with status st (a receipt's status): 0 for ST_OK
 * (replied); 4 for ST_CANISTER_REJECTED (ic0.msg_reject); 3 for ST_UNKNOWN_CANISTER (no such
 * destination); 2 for what may succeed later unchanged (ST_CANISTER_BUSY, ST_MESSAGE_EXPIRED);
 * 5 for everything else (traps, no reply, no such method, refused installs). */
uint32_t host_reject_code(status st);

typedef struct host_result {
    status st;             /* ST_OK or the TRAP status (Wasm 4xx, host 5xx, limit 411) */
    host_response kind;    /* a trap gives REJECT with code 5 and a message; see below */
    uint32_t reject_code;  /* 4 (msg_reject) or 5 (trap, no reply) when kind is REJECT */
    buf bytes;             /* reply payload or reject message; owned, host_result_fini frees */
    uint64_t instructions; /* instructions used, host-call charges included, every slice */
    bool committed;        /* the canister's state changes were kept (false: rolled back) */
    bool accepted;         /* HOST_CALL_INSPECT: the message may enter the mempool */
    host_call_out *calls;  /* committed calls in call_perform order (owned; fini frees) */
    uint32_t ncalls;
    u128 cycles_accepted; /* ic0.msg_cycles_accept*: moved from the request to the canister */
    u128 cycles_sent;     /* the cycles of every call in `calls`: taken from the balance */
    u128 cycles_burned;   /* committed: burned by ic0.cycles_burn128 (already taken) */
} host_result;
/* A trap: st is the TRAP status, kind REJECT, reject_code 5, bytes "IC05xx-style" text:
 * "<status name>: <message>[: <detail>]" (ic0.trap: the canister's text). An update that returns
 * without replying and without performing a call: st = ST_NO_REPLY, reject code 5, but (as on
 * the IC) committed = true: its state changes are kept. One that performed calls returns
 * ST_OK with kind NONE: its call context stays open for the callbacks. A callback's response
 * (kind REPLY or REJECT) answers the call context it belongs to. */

void host_result_init(host_result *res);
void host_result_fini(host_result *res);

/* ---- canisters ------------------------------------------------------------------------------ */

typedef struct host_canister host_canister;

enum { HOST_STATUS_RUNNING = 1, HOST_STATUS_STOPPING = 2, HOST_STATUS_STOPPED = 3 };

/* An empty canister (no code) with id `self` (copied; at most 29 bytes). cfg is copied (its
 * subnet_id and debug sink are borrowed). ST_OK or ST_OUT_OF_MEMORY. */
status host_canister_new(const host_config *cfg, span self, host_canister **out);
/* Frees the canister (a paused message is abandoned). Does not free its host_code. */
void host_canister_free(host_canister *c);

/* Controllers (for ic0.is_controller): replaces the list with n principals (copied, at most 10
 * of at most 29 bytes each: more is ST_LIMIT_EXCEEDED). ST_OK or ST_OUT_OF_MEMORY. */
status host_canister_set_controllers(host_canister *c, const span *ids, uint32_t n);
/* ic0.canister_status value (HOST_STATUS_*); the default is RUNNING. */
void host_canister_set_status(host_canister *c, uint32_t st);

/* Installs `code` into the empty canister c: instantiates it (data segments, then the start
 * function in the context "start"), then runs canister_init(msg->arg) if exported, all within
 * msg->instruction_limit, to the end (sliced: host_canister_install_begin). The start
 * function is metered exactly, like the rest (docs/canisters.md). On a trap the canister stays
 * empty (stable memory too); res->st says why. On success the version becomes 1 and every page
 * is dirty. code must outlive the canister (or the next upgrade).
 * Returns ST_OK (see res), ST_CANISTER_NOT_EMPTY, ST_CANISTER_BUSY or ST_OUT_OF_MEMORY. */
status host_canister_install(host_canister *c, const host_code *code, const host_msg *msg,
                             host_result *res);

/* Upgrades c to `code`: canister_pre_upgrade on the old instance, a fresh instance of code
 * (start function), canister_post_upgrade(msg->arg); stable memory carries over, the heap and
 * globals do not; the global timer is deactivated. Atomic: if any step traps, the old code and
 * all its state stay. One instruction limit for all steps, run to the end (sliced:
 * host_canister_upgrade_begin). On success version + 1.
 * Returns ST_OK (see res), ST_CANISTER_BUSY or ST_OUT_OF_MEMORY; res->st = ST_CANISTER_EMPTY
 * if c has no code. The old host_code may be freed after a successful upgrade. */
status host_canister_upgrade(host_canister *c, const host_code *code, const host_msg *msg,
                             host_result *res);

/* Sliced install and upgrade, as the IC slices install_code: _begin checks and sets up the
 * message (no Wasm runs: ST_OK, ST_CANISTER_BUSY, ST_CANISTER_NOT_EMPTY for an install; an
 * upgrade of a canister without code is reported by the first _run as ST_CANISTER_EMPTY); then
 * host_canister_call_run() runs it slice by slice (msg->slice_limit) exactly like an update,
 * and host_canister_call_abort() drops it. Every step is sliced: pre_upgrade, the start
 * function, init / post_upgrade, each continuing the slice of the one before. The outcome and
 * instruction count are those of host_canister_install / _upgrade (which are _begin plus
 * _run to the end). While paused the canister is busy and its committed state is the one
 * before the message (for an install: empty; for an upgrade: the old code and state). */
status host_canister_install_begin(host_canister *c, const host_code *code, const host_msg *msg);
status host_canister_upgrade_begin(host_canister *c, const host_code *code, const host_msg *msg);

/* Runs a message to the end (pauses ignored: slice_limit only changes where slices end).
 * Returns ST_OK (see res), ST_CANISTER_BUSY or ST_OUT_OF_MEMORY. res->st may be
 * ST_CANISTER_EMPTY or ST_METHOD_NOT_FOUND (nothing ran, 0 instructions). A committed update
 * increments the version. */
status host_canister_call(host_canister *c, host_call_kind kind, const host_msg *msg,
                          host_result *res);

/* Sliced form. _begin sets the message up (ST_OK, ST_CANISTER_BUSY; a missing method or code is
 * reported by the first _run). _run runs until the slice ends or the message does: ST_OK with
 * *paused = true (res->instructions = used so far; res owns nothing yet), ST_OK with *paused =
 * false (res is the message's result, canister idle again), or ST_OUT_OF_MEMORY (rolled back,
 * idle). While paused the canister is busy: other messages get ST_CANISTER_BUSY and its heap
 * holds the message's uncommitted changes. _abort drops a paused message, rolling it back. */
status host_canister_call_begin(host_canister *c, host_call_kind kind, const host_msg *msg);
status host_canister_call_run(host_canister *c, host_result *res, bool *paused);
void host_canister_call_abort(host_canister *c);
bool host_canister_busy(const host_canister *c);

/* ---- cycles --------------------------------------------------------------------------------
 * The committed balance (u128, 0 for a new canister). While a message runs it sees this
 * balance with its own changes (accepted, burned, attached to calls; host-api/cycles.c). When
 * it commits, what it burned leaves the balance (res->cycles_burned); the cycles it accepted
 * (res->cycles_accepted) and attached to calls (res->cycles_sent) are the caller's to move
 * with _credit and _debit, as are fees. While a message is paused its balance should not
 * change (a restarted node re-runs its slices); at its commit what it burned is cut so that
 * the balance never goes below 0. */
u128 host_canister_cycles(const host_canister *c);
/* Sets the committed balance (restore from the ledger). */
void host_canister_cycles_set(host_canister *c, u128 v);
/* Adds amount: ST_OK, or ST_CYCLES_OVERFLOW (the balance would pass 2^128-1; unchanged). */
status host_canister_cycles_credit(host_canister *c, u128 amount);
/* Takes amount: ST_OK, or ST_CANISTER_OUT_OF_CYCLES (the balance is less; unchanged). */
status host_canister_cycles_debit(host_canister *c, u128 amount);

/* ---- state, for the ledger and tests ---------------------------------------------------------- */

enum { HOST_PAGE_SIZE = 4096 }; /* dirty-page granularity; a 64 KiB page p = 4 KiB pages 16p.. */

typedef struct host_dirty {
    uint64_t heap_bytes;        /* heap (Wasm memory 0) size now */
    const uint8_t *heap_bits;   /* bit i (byte i/8, bit i%8): 4 KiB heap page i changed */
    uint64_t stable_bytes;      /* stable memory size now */
    const uint8_t *stable_bits; /* bit i: 4 KiB stable page i written */
} host_dirty;
/* Pages changed by committed messages since the last clear. Pages past an earlier size that are
 * not marked are zero. Valid until the next message or clear. */
void host_canister_dirty(const host_canister *c, host_dirty *out);
void host_canister_dirty_clear(host_canister *c);

/* Read-only views (valid until the next message): the heap, stable memory (bytes), the code
 * (NULL when empty), ic0.canister_version, the global timer (0 = none), certified data. */
span host_canister_heap(const host_canister *c);
span host_canister_stable(const host_canister *c);
const host_code *host_canister_code(const host_canister *c);
uint64_t host_canister_version(const host_canister *c);
uint64_t host_canister_timer(const host_canister *c);
span host_canister_certified_data(const host_canister *c);
/* True if c's instance runs its calls in the compiled tier (host_code_attach_native; the last
 * message ran compiled, or an existing instance switches at its next one). */
bool host_canister_compiled(const host_canister *c);

/* ---- committed state: persistence and restore (scheduler, ledger) ---------------------------
 * "Saved" = the state as after the last message that finished: while a sliced message is
 * paused its changes are excluded. This is what a round writes to the ledger, what a query
 * during a paused message sees, and what host_canister_restore() puts back. */

typedef struct host_saved {
    span heap;                            /* committed heap bytes (a multiple of 64 KiB) */
    uint64_t stable_bytes;                /* committed stable memory size */
    const uint8_t *heap_set, *stable_set; /* restore only: a bit per 64 KiB page (LSB first),
                                             clear where the page is all zero (it is then not
                                             read, and costs no memory); NULL: any page may
                                             be non-zero */
    uint64_t version;                     /* ic0.canister_version */
    uint64_t timer;                       /* the global timer (0 = none) */
    span certified_data;
} host_saved;

/* The committed state of c; spans valid until the next message or restore. */
void host_canister_saved(const host_canister *c, host_saved *out);
/* Copies committed stable memory bytes [off, off + len) into dst. ST_OK or ST_STABLE_OOB. */
status host_canister_saved_stable_read(const host_canister *c, uint64_t off, uint8_t *dst,
                                       uint64_t len);
/* Appends the committed values of the instance's mutable globals (tally's own metering counter
 * excluded) to *out, in a fixed little-endian layout that host_canister_restore() reads back.
 * ST_OK or ST_OUT_OF_MEMORY. */
status host_canister_saved_globals(const host_canister *c, buf *out);
/* Puts the empty canister c into a saved state running `code`: instantiates code without
 * running its start function (its effects are in the saved heap and globals), then installs
 * heap, stable memory, globals, version, timer and certified data. No page is dirty afterwards.
 * Returns ST_OK, ST_CANISTER_NOT_EMPTY, ST_CORRUPT_LEDGER (sizes or globals that do not fit the
 * code), ST_OUT_OF_MEMORY. */
status host_canister_restore(host_canister *c, const host_code *code, const host_saved *sv,
                             span stable, span globals);

/* ---- query replicas: committed state loaded piece by piece ---------------------------------
 * A replica is a second canister restored from the ledger (host_canister_restore) that runs
 * queries away from the live one; it follows later blocks by loading only what they changed
 * (docs/scheduler.md "Queries"). Each function needs an idle canister (else ST_CANISTER_BUSY),
 * marks nothing dirty (the ledger holds these bytes) and answers ST_CORRUPT_LEDGER for sizes
 * that shrink, are not a multiple of 64 KiB, or put the bytes outside.
 *   heap_load:   grows the heap to heap_bytes, then writes bytes at off (ST_OUT_OF_MEMORY);
 *   stable_load: the same for stable memory (stable_bytes, within the stable cap);
 *   system_load: version, timer and certified data from sv (its heap and stable_bytes are
 *                ignored), mutable globals from host_canister_saved_globals' layout. */
status host_canister_heap_load(host_canister *c, uint64_t heap_bytes, uint64_t off, span bytes);
status host_canister_stable_load(host_canister *c, uint64_t stable_bytes, uint64_t off,
                                 span bytes);
status host_canister_system_load(host_canister *c, const host_saved *sv, span globals);

#endif
