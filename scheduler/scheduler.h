/* scheduler.h - deterministic rounds: the node's execution core and the auditor's replay.
 *
 * A scheduler owns the live canisters of one ledger (loaded at open, kept in memory) and turns
 * the mempool into blocks. Everything a round does is a pure function of (committed state,
 * block): the block's timestamp is the only time, canisters are visited in id order, messages
 * in block order; no wall clock, address or hash-table order reaches state (docs/scheduler.md).
 *
 * Producing and replaying share one code path: scheduler_round() picks the messages of the
 * next block from the mempool (fairly, round-robin across canisters, within the round
 * instruction budget) and executes them; scheduler_replay() feeds the messages of recorded
 * blocks to the same executor and compares the roots.
 *
 * Threads: one scheduler is used by one thread at a time (rounds, scheduler_query, canister
 * code); the ledger may be read by other threads meanwhile, and queriers (below) run queries
 * on other threads without any lock against the rounds. */
#ifndef TALLY_SCHEDULER_H
#define TALLY_SCHEDULER_H

#include "host.h"
#include "ledger.h"

typedef struct scheduler scheduler;

/* The chain's limits and charges are fields of the genesis (ledger/genesis.def, defaults by
 * ledger_genesis_default, written by ledger_genesis_init); scheduler_open reads them and checks
 * them with this: ST_OK, or ST_BAD_GENESIS if slice_instructions, max_messages_per_round or
 * max_heap_pages is 0 or max_heap_pages > LEDGER_HEAP_PAGES_MAX. */
status scheduler_genesis_check(const ledger_genesis *g);

/* Sets the fees of g to 0 (a local chain without fees): the fee_* fields of ledger/genesis.def.
 * provisional_cycles and freezing_threshold stay (with no storage fee the threshold reserves
 * nothing). */
void scheduler_fees_zero(ledger_genesis *g);

/* The engine tier canisters run in (docs/engine.md): a node-local choice that never changes a
 * result, an instruction count, a receipt or a state root. */
enum {
    SCHEDULER_TIER_INTERP = 0, /* the interpreter (default) */
    SCHEDULER_TIER_AUTO,       /* compiled by a background thread (the quick route first, then
                                  cc -O2, attached in that order); interpreted until ready */
    SCHEDULER_TIER_COMPILED,   /* compiled when the code is loaded, before its first message */
    SCHEDULER_TIER_QUICK,      /* the quick route (tcc) when loaded, before its first message */
};

typedef struct scheduler_options {
    host_debug_fn debug_sink; /* ic0.debug_print output (NULL: dropped) */
    void *debug_user;
    int tier;                   /* SCHEDULER_TIER_* */
    const char *tier_cache_dir; /* compiled objects by source hash (node dir/compiled); NULL:
                                   a temporary directory per module */
    bool tier_log;              /* a module left interpreted: one line on stderr */
} scheduler_options;

/* Opens a scheduler over lg (which must outlive it): reads genesis and limits, loads every
 * canister (code from the code store, compiled once per code hash; memories from pages;
 * globals, timer and any paused message from the record's aux bytes) and, if a message was
 * paused when the node stopped, re-runs its earlier slices so that the next round resumes it
 * exactly (docs/scheduler.md). opt may be NULL. Returns ST_OK, ST_NO_GENESIS, ST_BAD_GENESIS,
 * ST_CORRUPT_LEDGER (stored code or state that does not load), ledger read faults,
 * ST_OUT_OF_MEMORY. */
status scheduler_open(ledger *lg, const scheduler_options *opt, scheduler **out);
void scheduler_close(scheduler *s);
/* Waits (at most timeout_ms) until the background compiler is idle and attaches what it built
 * (tests, benchmarks; rounds attach by themselves). */
void scheduler_tier_wait(scheduler *s, uint32_t timeout_ms);
/* Modules compiled and attached so far, and modules left interpreted (compile failed). Quick
 * objects count in `compiled` in the QUICK tier; in AUTO, where cc's object follows, they
 * count only in scheduler_tier_quick_count. */
void scheduler_tier_counts(const scheduler *s, uint64_t *compiled, uint64_t *failed);
/* AUTO: quick objects attached before cc's. */
uint64_t scheduler_tier_quick_count(const scheduler *s);

/* What one round did. */
typedef struct scheduler_round_info {
    bool produced;         /* false: nothing to do, no block */
    ledger_tip tip;        /* the new tip (or the old one if !produced) */
    uint32_t messages;     /* messages included in the block */
    uint32_t completed;    /* receipts written (includes resumed messages that finished) */
    uint64_t instructions; /* instructions executed in the round */
    uint32_t tasks;        /* heartbeats and global timers run */
    bool paused;           /* a message is paused at the end of the round */
} scheduler_round_info;

/* Sets *out to true if a round may produce a block (mempool not empty, a paused message, a
 * canister exporting canister_heartbeat, or an armed global timer: whether that is due is for
 * scheduler_round to tell from the block time). Returns ST_OK, or the fault of reading the mempool (ST_LMDB_ERROR,
 * ST_CORRUPT_LEDGER, ST_OUT_OF_MEMORY, ...) with *out false: a fault is never "no work". */
status scheduler_has_work(scheduler *s, bool *out);

/* Runs one round and commits it as the next block with timestamp `time_ns` (the block's time;
 * clamped up to the parent's). No block (info->produced false) when there is no message and
 * no task due at time_ns. Returns ST_OK (see info), or a FAULT (ledger, memory): then
 * nothing was committed and the in-memory canisters are restored to the last block.
 * Mempool messages that cannot run (expired, unknown canister, bad kind) are included with a
 * receipt that says why, so that the sender learns it and replay reproduces it. */
status scheduler_round(scheduler *s, uint64_t time_ns, scheduler_round_info *info);

/* Runs a query (canister_query <method>) on the state of the last block, never changing it;
 * while a message of that canister is paused, the query sees the state before that message.
 * Returns ST_OK (see res: reply, reject or trap), ST_UNKNOWN_CANISTER, ST_OUT_OF_MEMORY. */
status scheduler_query(scheduler *s, uint64_t canister_id, span method, span arg, span caller,
                       host_result *res);

/* ---- queries on other threads (query.c) -------------------------------------------------------
 * A querier runs queries on replicas of the canisters, restored from the ledger's last committed
 * block and kept up to date by loading only the pages later blocks changed; it never touches
 * the scheduler's live canisters, so it needs no lock against scheduler_round() and a round
 * never waits for it (docs/scheduler.md "Queries"). One querier per thread; any number of
 * queriers per scheduler; free them before scheduler_close(). */
typedef struct scheduler_querier scheduler_querier;

/* A querier over s whose replicas together hold at most cache_bytes of heap copies and stable
 * memory (the least recently used go first; one replica is always kept). ST_OK or
 * ST_OUT_OF_MEMORY. */
status scheduler_querier_new(scheduler *s, uint64_t cache_bytes, scheduler_querier **out);
void scheduler_querier_free(scheduler_querier *q);

/* Runs `canister_query <method>` on the state of the last committed block, at its timestamp,
 * within instruction_limit (callers pass at most scheduler_query_instructions()). caller: a
 * sender's public key (32 bytes) or empty (the anonymous principal). Returns ST_OK (see res:
 * reply, reject or trap), ST_UNKNOWN_CANISTER, ST_CORRUPT_LEDGER, ledger read faults,
 * ST_OUT_OF_MEMORY. */
status scheduler_querier_run(scheduler_querier *q, uint64_t canister_id, span method, span arg,
                             span caller, uint64_t instruction_limit, host_result *res);

/* The genesis limit of one query's instructions (genesis query_instructions). */
uint64_t scheduler_query_instructions(const scheduler *s);

/* ---- ingress inspection (docs/canisters.md "Ingress inspection") ----------------------------
 * Before the node admits an ingress update to a canister, it runs the canister's
 * `canister_inspect_message` (if exported) on the state of the last committed block, read-only,
 * uncharged, within SCHEDULER_INSPECT_INSTRUCTIONS (the IC's limit for it; at most the genesis
 * query limit). The message is admitted only if res->accepted (ic0.accept_message was called,
 * or the canister exports no canister_inspect_message): a trap (res->st a TRAP status) or a
 * return without accept_message refuses it. A node-local decision about admission, never
 * state: blocks and replay never run it. Queries of a canister that is stopping or stopped
 * get res->st ST_CANISTER_STOPPED, reject code 5 (CANISTER_ERROR), as on the IC. */
enum { SCHEDULER_INSPECT_INSTRUCTIONS = 200000000 };
uint64_t scheduler_inspect_instructions(const scheduler *s);

/* Runs canister_inspect_message for an ingress update (method, arg, caller: the sender's
 * public key) on q's replica of canister_id. Returns ST_OK (see res->accepted and res->st),
 * ST_UNKNOWN_CANISTER, ST_CORRUPT_LEDGER, ledger read faults, ST_OUT_OF_MEMORY. */
status scheduler_querier_inspect(scheduler_querier *q, uint64_t canister_id, span method, span arg,
                                 span caller, host_result *res);

/* The same on the scheduler's own canisters (the caller holds the scheduler, as for
 * scheduler_query): the state of the last block, never changing it. */
status scheduler_inspect(scheduler *s, uint64_t canister_id, span method, span arg, span caller,
                         host_result *res);

/* What a querier did: queries run, replicas built from the ledger, replicas brought up to a
 * newer block, and 64 KiB pages loaded for that; `compiled`: queries that ran in the compiled
 * tier (a replica runs compiled once the scheduler has attached its code's, docs/engine.md). */
typedef struct scheduler_querier_stats {
    uint64_t queries, builds, syncs, pages_loaded, compiled;
} scheduler_querier_stats;
void scheduler_querier_stats_get(const scheduler_querier *q, scheduler_querier_stats *out);

/* Methods of a canister's code ("update"/"query" kinds) for canister_info; ST_UNKNOWN_CANISTER
 * or ST_OK with *code NULL when it has no code. The pointer is valid until the next round. */
status scheduler_canister_code(scheduler *s, uint64_t canister_id, const host_code **code);

/* The principal of canister `id` as canisters see it (ic0.canister_self, msg_caller): the 8-byte
 * big-endian id, then 0x01 0x01, as on the IC. Returns its length (10). */
size_t scheduler_canister_principal(uint64_t id, uint8_t out[29]);

/* ---- cycles ------------------------------------------------------------------------------------ */

/* The chain's cycle accounts (docs/canisters.md "Cycles"). Conservation: after every block
 * minted == balances + in_flight + burned + fees. */
typedef struct scheduler_cycles {
    u128 minted;    /* by mint messages and the provisional cycles of admin installs */
    u128 burned;    /* by ic0.cycles_burn128 */
    u128 fees;      /* charged: execution, ingress, storage, creation, transfers */
    u128 balances;  /* the sum of every canister's balance (computed) */
    u128 in_flight; /* attached to calls not yet answered (computed) */
} scheduler_cycles;

/* The accounts as of the last block. */
void scheduler_cycles_get(const scheduler *s, scheduler_cycles *out);

/* Canister `id`'s balance as of the last block: ST_OK or ST_UNKNOWN_CANISTER. */
status scheduler_canister_cycles(scheduler *s, uint64_t id, u128 *out);

/* Readers of committed records, for a ledger snapshot without the scheduler (the RPC server):
 * the accounts in the ledger's subnet record (balances and in_flight are left 0), and a
 * canister's balance, freezing threshold (s) and global timer (0: none) from its record's aux
 * bytes. ST_OK or ST_CORRUPT_LEDGER. */
status scheduler_subnet_cycles(span subnet_record, scheduler_cycles *out);
status scheduler_aux_cycles(span aux, u128 *balance, uint64_t *freezing_threshold,
                            uint64_t *timer);

/* The argument of a mint message (LEDGER_MSG_MINT): 16 bytes, the amount little-endian. */
void scheduler_mint_arg(u128 amount, uint8_t out[16]);
/* Routing state of one canister (inter-canister calls, docs/canisters.md "Calls"). */
typedef struct scheduler_routing {
    uint32_t queued;    /* messages in its input queue */
    uint32_t contexts;  /* open call contexts */
    uint32_t callbacks; /* outstanding calls */
    uint32_t waiting;   /* aaaaa-aa calls waiting for its paused message (docs/canisters.md) */
    int paused;         /* its paused message (docs/scheduler.md "Deterministic time slicing"):
                           a SCHEDULER_PAUSED_* */
} scheduler_routing;
enum {
    SCHEDULER_PAUSED_NONE = 0,
    SCHEDULER_PAUSED_INGRESS, /* an ingress update, install or upgrade */
    SCHEDULER_PAUSED_REQUEST, /* a request from a canister */
    SCHEDULER_PAUSED_CALLBACK,
    SCHEDULER_PAUSED_CLEANUP,
    SCHEDULER_PAUSED_INSTALL_CODE, /* aaaaa-aa install_code */
    SCHEDULER_PAUSED_TASK,         /* canister_heartbeat or canister_global_timer */
};

/* ST_OK with *out filled, or ST_UNKNOWN_CANISTER. */
status scheduler_canister_routing(scheduler *s, uint64_t canister_id, scheduler_routing *out);

/* Checks the routing invariants of every canister: each callback belongs to an open context,
 * a context's outstanding count is its number of callbacks, no answered context without
 * callbacks is kept, every queued response answers a callback of its canister and every
 * queued request from a live canister has its callback there. ST_OK or ST_BUG_INVARIANT with
 * the first violation in why (may be NULL). Tests call it after rounds. */
status scheduler_routing_check(scheduler *s, char *why, size_t why_len);

/* ---- blocks decided by consensus (block.c; abci/, docs/replication.md) --------------------- */

/* How scheduler_block_execute treats the transactions it is given. */
typedef enum scheduler_block_mode {
    SCHEDULER_BLOCK_PROPOSE, /* the proposer: takes them in fair order while the round budget
                                lasts, skipping those that cannot run now (malformed, expired,
                                already run, duplicated, canister paused, over max_bytes) */
    SCHEDULER_BLOCK_VERIFY,  /* a proposal: runs all in order, valid only if each verifies and
                                never ran, none twice, at most max_messages_per_round, and each
                                starts before the round budget is spent */
    SCHEDULER_BLOCK_DECIDED, /* a block consensus decided: runs all in order */
} scheduler_block_mode;

/* The outcome of one transaction of the block. */
typedef struct scheduler_tx_result {
    bool finished;   /* false: paused by time slicing (its receipt comes in a later block) */
    uint32_t status; /* the receipt's status (base/status.def) */
    uint64_t instructions;
    span reply; /* reply or reject bytes: valid while the block is open */
} scheduler_tx_result;

typedef struct scheduler_block_info {
    uint64_t height, time_ns;
    bool valid; /* VERIFY: false when the proposal breaks a rule (why says which) */
    char why[160];
    uint32_t ntx;                       /* transactions in the block (PROPOSE: the ones taken) */
    const uint32_t *taken;              /* the caller's index of each, in block order */
    const scheduler_tx_result *results; /* ntx results in block order */
    uint64_t instructions;              /* executed in the block */
    bool previewed;                     /* tip is set (scheduler_block_preview ran) */
    ledger_tip tip;
} scheduler_block_info;

/* Executes the block `height` (the ledger's tip + 1) at `time_ns` from n transactions (signed
 * envelopes, borrowed for the call) and keeps it open, uncommitted; any block left open before
 * is dropped. max_bytes bounds the taken transactions' bytes in PROPOSE (0: no bound).
 * Pointers in *info stay valid while the block is open. A VERIFY block found invalid is not
 * kept (info->valid false, ST_OK). Returns ST_OK, ST_BLOCK_HEIGHT (height is not tip + 1),
 * ST_BAD_TIMESTAMP, ST_CORRUPT_LEDGER (a DECIDED transaction that does not parse), ledger
 * faults, ST_OUT_OF_MEMORY; on any error nothing is open. */
status scheduler_block_execute(scheduler *s, uint64_t height, uint64_t time_ns, const span *txs,
                               uint32_t n, scheduler_block_mode mode, uint64_t max_bytes,
                               scheduler_block_info *info);
/* Whether the open block is the one of (height, time_ns, txs in that order); if so *info (may
 * be NULL) describes it. Consensus asks before it executes a block it may have executed already
 * (proposed or checked). */
bool scheduler_block_is_open(scheduler *s, uint64_t height, uint64_t time_ns, const span *txs,
                             uint32_t n, scheduler_block_info *info);
/* Whether a block is open. */
bool scheduler_block_pending(const scheduler *s);
/* The tip the open block will have once committed: state root, receipts root, block hash
 * (ledger_round_preview; computed once). ST_OK, ST_NOT_FOUND (no open block), ledger faults
 * (then the block is dropped). */
status scheduler_block_preview(scheduler *s, ledger_tip *tip);
/* Commits the open block. ST_OK (info as scheduler_round's), ST_NOT_FOUND, ST_BUG_INVARIANT (the
 * commit differs from the preview), ledger faults. Nothing is open afterwards. */
status scheduler_block_commit(scheduler *s, scheduler_round_info *info);
/* Drops the open block (if any): the ledger is untouched; the canisters reload at next use. */
void scheduler_block_abort(scheduler *s);
/* TESTS ONLY (`tally abci --test-diverge-at`): stages a canister nobody created into the open
 * block before its preview, so that this node's state root departs from the others'.
 * ST_OK, ST_NOT_FOUND (no open block, or already previewed), ST_OUT_OF_MEMORY. */
status scheduler_block_test_perturb(scheduler *s);

/* ---- replay ---------------------------------------------------------------------------------- */

typedef struct scheduler_divergence {
    uint64_t height; /* first block whose result differs; 0 if none */
    char what[256];  /* e.g. "state root: recorded 3fa1... replayed 9c0e..." */
} scheduler_divergence;

/* Progress callback: called after each replayed block. */
typedef void (*scheduler_progress_fn)(void *user, uint64_t height, uint64_t last);

/* How to replay; a zeroed struct (or NULL) replays and compares every block on as many
 * signature-checking threads as there are online processors (at most 8). */
typedef struct scheduler_replay_options {
    uint64_t from, to; /* compare heights [from, to]; to = 0: up to the tip; blocks before
                          `from` are executed but not compared */
    uint32_t threads;  /* threads that check a block's signatures (the caller's included);
                          0: the online processors, at most 8. Results never depend on it. */
    scheduler_progress_fn progress; /* may be NULL */
    void *user;                     /* progress's first argument */
} scheduler_replay_options;

/* The number of signature-checking threads a replay with options.threads = asked uses. */
uint32_t scheduler_replay_threads(uint32_t asked);

/* Re-executes the blocks of the node directory `src` (opened read-only; never written) from
 * genesis on a fresh ledger in the empty or absent directory `work`, with the same code path
 * as scheduler_round(), and compares each block's state root, receipts root and block hash
 * with the recorded ones. Before a block runs, every message is read and checked: present,
 * signature valid, id equal to the one the block records (else a divergence "message K of
 * block H is missing or does not verify"). Returns ST_OK with div->height = 0 when all match,
 * ST_OK with div filled at the first divergence, or a FAULT/INVALID status if the ledgers
 * cannot be read or written. *last (may be NULL) gets the last replayed tip. */
status scheduler_replay(const char *src, const char *work, const scheduler_replay_options *opt,
                        scheduler_divergence *div, ledger_tip *last);

/* ---- messages the node builds ---------------------------------------------------------------- */

/* The argument of an install message: u32 LE module length, the module, then the init arg.
 * Appends to *out. ST_OK or ST_OUT_OF_MEMORY. */
status scheduler_install_arg(span module, span init_arg, buf *out);

#endif
