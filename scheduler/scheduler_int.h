/* scheduler_int.h - friends inside scheduler/: the in-memory canisters, the code cache and the
 * round executor shared by production and replay. Not a public header. */
#ifndef TALLY_SCHEDULER_INT_H
#define TALLY_SCHEDULER_INT_H

#include "scheduler.h"

#include <pthread.h>

enum { PRINCIPAL_MAX = 29 };

/* One cached compiled module, shared by the canisters running it. */
typedef struct code_entry {
    uint8_t hash[LEDGER_HASH_SIZE];
    host_code *code;
    uint32_t refs;
} code_entry;

/* ---- inter-canister routing (route.c, docs/canisters.md "Calls") ---------------------------
 * Per canister: its input queue (requests to it, responses to its calls), its open call
 * contexts and the callbacks of its outstanding calls. All of it is state: it is encoded in
 * the canister's aux bytes (so in the state root) and survives restarts and replays. */

enum {
    ROUTE_QUEUE_MAX = 500,            /* requests in an input queue; and outstanding calls of a
                                     canister (the IC's 500 per direction) */
    ROUTE_QUEUE_BYTES = 8u << 20,     /* payload bytes of the requests in one input queue */
    ROUTE_RESPONSE_BYTES = 32u << 20, /* payload bytes of the responses in one input queue: a
                                     larger reply reaches the caller as a SYS_TRANSIENT reject
                                     (the queues live in the aux, LEDGER_AUX_MAX) */
};

enum { ROUTE_REQUEST = 1, ROUTE_RESPONSE = 2 };
enum { ORIGIN_INGRESS = 1, ORIGIN_CANISTER = 2, ORIGIN_SYSTEM = 3 };

/* An entry of an input queue. */
typedef struct route_msg {
    uint8_t kind;         /* ROUTE_REQUEST, ROUTE_RESPONSE */
    uint32_t reject_code; /* RESPONSE: 0 = reply, else the reject code (1..5) */
    uint64_t from;        /* REQUEST: the calling canister */
    uint64_t callback;    /* REQUEST: the caller's callback id; RESPONSE: the one it answers */
    u128 cycles;          /* REQUEST: attached; RESPONSE: refunded */
    uint64_t deadline;    /* REQUEST: of a best-effort call (ns of block time), else 0 */
    buf method;           /* REQUEST */
    buf data;             /* REQUEST: argument; RESPONSE: reply payload or reject message */
} route_msg;

/* A call context: one per incoming message that is not answered yet or still has
 * outstanding calls. */
typedef struct call_ctx {
    uint64_t id;
    uint8_t origin;                   /* ORIGIN_* */
    uint8_t msg_id[LEDGER_HASH_SIZE]; /* INGRESS: the message whose receipt it owes */
    uint64_t caller, caller_cb;       /* CANISTER: who called, and its callback id */
    uint8_t principal[PRINCIPAL_MAX]; /* ic0.msg_caller in its callbacks */
    uint8_t principal_len;
    bool responded;
    uint32_t outstanding;  /* callbacks not run yet */
    uint64_t instructions; /* of every message of the context so far */
    u128 available;        /* cycles of the request not accepted yet */
    uint64_t deadline;     /* the request's deadline (ic0.msg_deadline), 0: guaranteed */
} call_ctx;

/* The callback of an outstanding call. A best-effort call's callback has a deadline: when
 * block time passes it without a response, route_expire queues a SYS_UNKNOWN reject for it;
 * `answered` says a response is queued for it (the real one or that reject), so a later one
 * is dropped (docs/canisters.md "Best-effort calls"). */
typedef struct callback {
    uint64_t id, ctx;
    uint32_t reply_fun, reply_env, reject_fun, reject_env, cleanup_fun, cleanup_env;
    bool has_cleanup;
    bool answered;
    uint64_t deadline; /* ns of block time; 0: a guaranteed call */
} callback;

/* A call to aaaaa-aa that changes a canister (update_settings, stop_canister, start_canister,
 * deposit_cycles, install_code, delete_canister) made while that canister has a paused message
 * or earlier such calls waiting: it waits in the canister's routing state, in order of
 * arrival, and runs when the message ends (mgmt.c, docs/canisters.md "Time slicing"), as the
 * IC's scheduler defers subnet messages to a canister with a paused execution. */
enum {
    MGMT_WAIT_MAX = 500,        /* calls waiting for one canister (the IC's queue of 500) */
    MGMT_WAIT_BYTES = 8u << 20, /* bytes of their methods and arguments */
};
typedef struct mgmt_wait {
    call_ctx origin; /* whom it answers: origin, msg_id, caller, caller_cb, and in `available`
                        the cycles attached */
    uint64_t caller; /* the calling canister; 0: an ingress sender, `key` */
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    buf method, arg;
} mgmt_wait;

typedef struct route_state {
    route_msg *q; /* input queue: q[head .. len) */
    uint32_t head, len, cap;
    uint32_t requests;       /* requests in the queue */
    uint64_t request_bytes;  /* their payload bytes */
    uint64_t response_bytes; /* payload bytes of the responses in the queue */
    call_ctx *ctx;           /* sorted by id */
    uint32_t nctx, ctx_cap;
    callback *cb; /* sorted by id */
    uint32_t ncb, cb_cap;
    uint64_t next_ctx, next_cb;
    uint8_t status;  /* LEDGER_CANISTER_RUNNING, _STOPPING, _STOPPED */
    bool deleted;    /* aaaaa-aa delete_canister: gone for calls and messages */
    call_ctx *stops; /* stop_canister calls waiting for the canister to stop */
    uint32_t nstops, stops_cap;
    mgmt_wait *waits; /* aaaaa-aa calls waiting for the paused message to end, oldest first */
    uint32_t nwaits, waits_cap;
    uint64_t wait_bytes; /* their methods' and arguments' bytes */
    bool draining;       /* mgmt_wait_drain runs (not state) */
} route_state;

/* The outcome of an answered call context. */
typedef struct route_answer {
    status st;            /* ST_OK reply, ST_CANISTER_REJECTED, or the trap / NO_REPLY status */
    uint32_t reject_code; /* 0 for a reply */
    span bytes;
} route_answer;

/* Kinds of paused message beyond LEDGER_MSG_UPDATE, _INSTALL and _UPGRADE (ingress): the
 * messages of the input queues, sliced like ingress updates (docs/scheduler.md "Deterministic
 * time slicing"). */
enum {
    PAUSED_REQUEST = 0x40,      /* a request from a canister: its method (route.c) */
    PAUSED_CALLBACK = 0x41,     /* a response: the reply or reject callback */
    PAUSED_CLEANUP = 0x42,      /* the cleanup callback, after that callback trapped */
    PAUSED_INSTALL_CODE = 0x43, /* aaaaa-aa install_code (mgmt.c) */
    PAUSED_HEARTBEAT = 0x44,    /* canister_heartbeat (tasks.c) */
    PAUSED_TIMER = 0x45,        /* canister_global_timer */
};
enum { INSTALL_MODE_INSTALL = 1, INSTALL_MODE_REINSTALL, INSTALL_MODE_UPGRADE };

/* A message of a canister that is paused between slices (deterministic time slicing). */
typedef struct paused_msg {
    bool active;
    uint8_t id[LEDGER_HASH_SIZE];
    buf envelope; /* owned copy: msg and hmsg borrow from it */
    ledger_message msg;
    host_msg hmsg;
    uint8_t caller[PRINCIPAL_MAX];
    uint8_t caller_len;      /* bytes of caller */
    uint32_t slices;         /* slices run so far */
    uint64_t used;           /* instructions used by those slices */
    uint64_t time_ns;        /* the time of the block that started it */
    uint8_t kind;            /* LEDGER_MSG_UPDATE, _INSTALL, _UPGRADE or PAUSED_* */
    struct code_entry *code; /* install/upgrade: the new code (holds a reference) */
    uint64_t cost;           /* install/upgrade: the deploy charge, part of its receipt */
    /* PAUSED_*: hmsg borrows from these */
    route_msg rm;        /* the queued message it runs (owned) */
    callback cb;         /* CALLBACK, CLEANUP: the callback of the response */
    uint64_t prior_used; /* CLEANUP: the instructions of the callback that trapped, */
    uint32_t prior_st;   /* its trap status */
    buf prior_text;      /* and its text */
    /* PAUSED_INSTALL_CODE: rm.data is the install argument, caller the calling principal */
    call_ctx origin;                     /* the install_code call, answered when it ends */
    uint8_t mode;                        /* INSTALL_MODE_* */
    uint8_t code_hash[LEDGER_HASH_SIZE]; /* its module (restored by route_paused_decode) */
    host_canister *hc; /* reinstall: the fresh canister it runs on (owned; NULL: the canister's) */
} paused_msg;

/* Frees what p owns (not its code reference) and clears it. */
void sched_paused_clear(paused_msg *p);

/* A canister as the scheduler keeps it: the live host state plus its ledger record fields. */
typedef struct sched_canister {
    uint64_t id;
    host_canister *hc;
    code_entry *code; /* NULL: no code */
    uint32_t ncontrollers;
    uint8_t controllers[LEDGER_MAX_CONTROLLERS][LEDGER_PUBLIC_KEY_SIZE];
    bool touched;      /* changed in the current round: record and pages to stage */
    bool heap_cleared; /* the current round replaced the heap (install, upgrade) */
    paused_msg paused;
    bool resumed; /* this round resumed its paused message: no heartbeat in it (tasks.c) */
    uint64_t freezing_threshold; /* seconds (cycles.c); the balance itself is in hc */
    uint64_t memory_allocation;  /* bytes (aaaaa-aa settings; 0: none): storage is charged for
                                    max(allocation, memory used) */
    uint8_t compute_allocation;  /* percent, 0..100: stored and reported only */
    uint64_t storage_paid_ns;    /* storage is charged up to this block time */
    route_state route;
} sched_canister;

/* The host canister c's paused message runs on. */
static inline host_canister *paused_host(sched_canister *c)
{
    return c->paused.hc ? c->paused.hc : c->hc;
}

/* What produce.c learnt of a mempool entry by parsing it (an entry's bytes never change and
 * its sequence number is never reused), kept from one round's pick to the next. */
typedef struct sched_seen {
    uint64_t seq;
    uint64_t canister; /* LEDGER_CANISTER_NONE for installs */
    size_t len;        /* the envelope's length (a check: seq alone names it, never reused) */
    bool ok;           /* it parsed */
} sched_seen;

/* The pages each block changed, for the query replicas (query.c): the round thread appends the
 * 64 KiB pages it stages (or a reset: the heap was replaced) before the block commits, so
 * a reader that sees tip T finds every entry of heights <= T. A ring: when it wraps, heights
 * below `floor` are incomplete and a replica older than that is rebuilt. A retried round
 * appends its height again; a superset of the changed pages is harmless. */
enum {
    JOURNAL_HEAP = LEDGER_MEM_HEAP,
    JOURNAL_STABLE = LEDGER_MEM_STABLE,
    JOURNAL_RESET = 2,
    JOURNAL_CAP = 1 << 16
};
typedef struct sched_jentry {
    uint64_t height;
    uint64_t canister;
    uint32_t page;
    uint32_t what; /* JOURNAL_* */
} sched_jentry;
typedef struct sched_journal {
    pthread_mutex_t mu;
    sched_jentry *ring; /* JOURNAL_CAP entries */
    uint64_t pushed;    /* entries ever appended; the newest is ring[(pushed - 1) % CAP] */
    uint64_t floor;     /* every entry of a height >= floor is still in the ring */
} sched_journal;

/* tier.c: the compiled tier's background compiler (docs/engine.md "In the node"). */
enum {
    SCHED_TIER_TIMEOUT_MS = 30000,     /* a module's C compile is killed past this */
    SCHED_TIER_MAX_SOURCE = 32u << 20, /* generated C past this is not compiled */
};
typedef struct sched_tier {
    int mode; /* SCHEDULER_TIER_* */
    bool log;
    engine_native_config ncfg;
    engine_native_config qcfg; /* AUTO: the quick route, built before ncfg's */
    char cache_dir[1024];
    pthread_t th;
    bool started; /* the worker runs (mode AUTO) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tier_job *todo, *done; /* under mu */
    bool busy, stop;              /* under mu */
    uint64_t compiled, failed;    /* modules attached (cc), left interpreted */
    uint64_t quick;               /* AUTO: quick objects attached before cc's */
    /* The shelf: the compiled objects attached in the code cache, by code hash, each holding a
     * share (engine_native_share), for the query threads' replicas (query.c). */
    pthread_mutex_t shelf_mu;
    bool shelf_ready;            /* shelf_mu was made */
    struct sched_shelved *shelf; /* under shelf_mu */
    uint32_t nshelf, shelf_cap;  /* under shelf_mu */
    uint64_t shelf_gen;          /* atomic: bumped by every object shelved */
} sched_tier;

struct scheduler {
    ledger *lg;
    ledger_genesis genesis;
    host_config hcfg;
    sched_canister **canisters; /* sorted by id (ids are assigned in increasing order) */
    uint32_t ncanisters, canisters_cap;
    code_entry **codes;
    uint32_t ncodes, codes_cap;
    uint64_t next_canister_id; /* the id the next install gets */
    uint64_t last_time_ns;     /* timestamp of the last block (queries run at this time) */
    bool broken;               /* a fault left memory ahead of the ledger: reload first */
    sched_seen *seen;          /* produce.c: the entries of the last pick, by sequence number */
    uint32_t nseen;
    scheduler_cycles cycles;   /* cycles.c: minted, burned, fees as of the round so far */
    bool cycles_dirty;         /* the round changed them: stage the subnet record */
    sched_journal journal;     /* shared with query threads (under journal.mu) */
    struct sched_block *block; /* block.c: the executed, uncommitted block of consensus */
    sched_tier tier;           /* tier.c */
};

/* tier.c */
status sched_tier_open(scheduler *s, const scheduler_options *opt);
/* e was just loaded into the code cache: compile it now (COMPILED) or queue it (AUTO). */
void sched_tier_loaded(scheduler *s, code_entry *e);
/* Attaches what the worker has built and drops its references (the round's thread). */
void sched_tier_drain(scheduler *s);
/* Stops the background compiler (scheduler_close, before the code cache is emptied). */
void sched_tier_close(scheduler *s);
/* Frees the shelf (scheduler_close, last). */
void sched_tier_shelf_close(scheduler *s);
/* The code cache frees e (sched_code_release): its object leaves the shelf. */
void sched_tier_forget(scheduler *s, const code_entry *e);
/* For query threads: a number that changes whenever an object is shelved, and a share of the
 * compiled object of the code with this hash (NULL: none yet); attach it to a host_code built
 * from the same module (host_code_attach_native takes it). */
uint64_t sched_tier_generation(scheduler *s);
engine_native *sched_tier_shared(scheduler *s, const uint8_t hash[LEDGER_HASH_SIZE]);

/* scheduler.c */
sched_canister *sched_canister_find(scheduler *s, uint64_t id);
/* The principal of a sender's public key (29 bytes, self-authenticating, as on the IC), and of
 * a canister id (10 bytes). */
void sched_principal_of_key(const uint8_t key[LEDGER_PUBLIC_KEY_SIZE], uint8_t out[PRINCIPAL_MAX]);
size_t sched_principal_of_canister(uint64_t id, uint8_t out[PRINCIPAL_MAX]);
/* The principal a query's caller gets: of a 32-byte public key, else anonymous (0x04). */
size_t sched_principal_of_caller(span caller, uint8_t out[PRINCIPAL_MAX]);
/* The answer to a query of a canister that is not running (canister_status a
 * ledger_canister_status): ST_CANISTER_STOPPED, reject code 5, "canister <id> is not running"
 * (query.c). res is initialised. */
void sched_query_stopped(uint64_t canister_id, uint8_t canister_status, host_result *res);
/* Controller slots (LEDGER_PUBLIC_KEY_SIZE bytes in the record): a public key, or a canister
 * (sched_controller_of_canister). The canister a slot names (0: a key), and the principal of
 * any slot (its length). */
void sched_controller_of_canister(uint64_t id, uint8_t slot[LEDGER_PUBLIC_KEY_SIZE]);
uint64_t sched_controller_canister(const uint8_t slot[LEDGER_PUBLIC_KEY_SIZE]);
size_t sched_principal_of_controller(const uint8_t slot[LEDGER_PUBLIC_KEY_SIZE],
                                     uint8_t out[PRINCIPAL_MAX]);
/* Compiles (or finds in the cache) the code with this original module; takes a reference. */
status sched_code_get(scheduler *s, span original, const uint8_t hash[LEDGER_HASH_SIZE],
                      code_entry **out, engine_error *err);
void sched_code_release(scheduler *s, code_entry *e);
/* Adds a new canister (no code) with the next id; drops the last one (a failed install). */
status sched_canister_add(scheduler *s, uint64_t id, sched_canister **out);
void sched_canister_drop_last(scheduler *s);
/* Replaces the controllers (public keys) of c, also in its host canister. */
status sched_canister_set_controllers(sched_canister *c,
                                      const uint8_t (*keys)[LEDGER_PUBLIC_KEY_SIZE], uint32_t n);
/* Drops every in-memory canister and loads them again from the ledger. */
status sched_reload(scheduler *s);
/* Serialises the scheduler's part of a canister record (aux bytes), and reads it back (spans
 * borrow from aux; ST_CORRUPT_LEDGER). */
status sched_aux_encode(const sched_canister *c, buf *out);
typedef struct aux_fields {
    uint64_t timer;
    u128 cycles;
    uint64_t freezing_threshold, storage_paid_ns;
    uint64_t memory_allocation; /* versions 5 and 6; else 0 */
    uint8_t compute_allocation;
    span globals;
    bool paused;
    const uint8_t *msg_id;
    uint32_t slices;
    uint64_t time_ns;
    uint8_t kind; /* a paused queued message: PAUSED_*, with its bytes in `queued` */
    span queued;
    span route; /* versions 2 and 4: the routing state's bytes */
} aux_fields;
status sched_aux_decode(span aux, aux_fields *f);
/* Puts the empty host canister hc into the committed state of record rec (read from rd):
 * heap, stable memory, globals, system state; f gets the aux fields. A paused message is not
 * resumed. Returns host_canister_restore's statuses, ledger read faults. */
status sched_host_restore(ledger_reader *rd, uint64_t id, const ledger_canister *rec,
                          const host_code *code, host_canister *hc, aux_fields *f);
/* Gives hc the principals of n controller keys (for ic0.is_controller). */
status sched_controllers_to_host(const uint8_t (*keys)[LEDGER_PUBLIC_KEY_SIZE], uint32_t n,
                                 host_canister *hc);

/* cycles.c: fees (docs/canisters.md "Cycles"). */
/* The execution fee of `instructions` (update_message_execution + per 10 instructions). */
u128 sched_fee_execution(const scheduler *s, uint64_t instructions);
/* The ingress fee of a message of `bytes` bytes. */
u128 sched_fee_ingress(const scheduler *s, size_t bytes);
/* The storage fees c burns idle in a day (aaaaa-aa canister_status). */
u128 sched_idle_cycles_per_day(const scheduler *s, const sched_canister *c);
/* The freezing reserve: idle storage fees of c's memory over its freezing threshold. */
u128 sched_freeze_reserve(const scheduler *s, const sched_canister *c);
/* Takes min(fee, balance) from c as a fee. */
void sched_cycles_charge(scheduler *s, sched_canister *c, u128 fee);
/* Charges c's storage from storage_paid_ns up to time_ns (not while a message is paused). */
void sched_cycles_storage(scheduler *s, sched_canister *c, uint64_t time_ns);
/* Mints amount into c: ST_OK or ST_CYCLES_OVERFLOW (nothing changed). */
status sched_cycles_mint(scheduler *s, sched_canister *c, u128 amount);
/* After a message or task of c: counts what it burned (res may be NULL) and charges the
 * execution fee of `instructions`. */
void sched_cycles_settle(scheduler *s, sched_canister *c, const host_result *res,
                         uint64_t instructions);
/* True if c holds at least `need`; else false with the IC's out-of-cycles text in text. */
bool sched_cycles_enough(scheduler *s, const sched_canister *c, u128 need, char *text,
                         size_t size);
/* Whether c may run a message (an ingress message or a request) at time_ns: charges its storage
 * up to then, then true if it can keep its freezing reserve and pay `fee` (the ingress fee, or
 * 0) plus the prepayment of a whole message's execution; else false with the IC's text. */
bool sched_cycles_can_run(scheduler *s, sched_canister *c, uint64_t time_ns, u128 fee, char *text,
                          size_t size);
/* The accounts from the ledger's subnet record / staged into a round if they changed. */
status sched_cycles_load(scheduler *s, ledger_reader *rd);
status sched_cycles_stage(scheduler *s, ledger_round *r);

/* round.c: executes one block's messages, in order, on the live canisters, staging writes. */
struct round_ctx {
    scheduler *s;
    ledger_round *r;
    uint64_t height;
    uint64_t time_ns;
    uint64_t used; /* instructions executed in this round */
    uint32_t included;
    uint32_t completed;
    uint32_t tasks;      /* heartbeats and timers run */
    uint32_t rand_calls; /* raw_rand calls answered in this round (mgmt.c) */
    /* called after each receipt is staged (NULL: none); a failure fails the round */
    status (*on_receipt)(void *user, const uint8_t id[LEDGER_HASH_SIZE], const ledger_receipt *rc);
    void *receipt_user;
};

/* Begins the install (or with `upgrade` the upgrade) of `code` on hc for c's paused message:
 * sets its host message (argument `arg` and `caller`, borrowed from p, at time_ns, within
 * install_instructions less the deploy charge `cost`), takes over the code reference and marks
 * the message active. Shared by the admin's installs and upgrades and aaaaa-aa install_code.
 * host_canister_install_begin/upgrade_begin's statuses. */
status sched_life_begin(scheduler *s, sched_canister *c, host_canister *hc, code_entry *code,
                        bool upgrade, uint64_t cost, span arg, span caller, uint64_t time_ns);
/* The instructions charged for deploying code_bytes bytes of module code (saturating). */
uint64_t sched_deploy_cost(size_t code_bytes, uint64_t per_byte);
/* Copies the envelope into c->paused and begins its message on c's canister: an update, or
 * an install or upgrade (its code compiled again through the cache; restart only: the deploy
 * charge and the code's storage happened in the round that started it). ST_OK,
 * ST_CANISTER_BUSY (nothing started), the compiler's statuses, ST_OUT_OF_MEMORY. */
status sched_message_begin(scheduler *s, sched_canister *c, span envelope, uint64_t time_ns);
/* Runs the messages of block `height` at `time_ns`: the paused ones, then `n` envelopes from
 * next(); stages everything; commits. Shared by production and replay. */
typedef struct round_ctx round_ctx;
/* The next envelope to run (borrowed until the round ends), or ST_NOT_FOUND: no more. */
typedef status (*round_next_fn)(void *user, const round_ctx *rc, span *envelope);
status round_run(scheduler *s, uint64_t time_ns, round_next_fn next, void *user,
                 scheduler_round_info *info);
/* Runs one slice of c's begun or paused message (c->paused); when the message ends, does
 * what its end does (receipt, call context, response) and clears c->paused. */
status round_run_slice(round_ctx *rc, sched_canister *c);

/* The pieces of round_run, which blocks decided by consensus (block.c) run too, so that both
 * stay the same round: round_start opens the round of the next block and resumes the paused
 * messages; (round_execute for each message;) round_seal runs the queued inter-canister
 * requests and responses, stages the touched canisters and journals their pages; round_finish commits and settles the canisters; round_fail aborts and
 * marks the scheduler for a reload (the canisters in memory ran ahead of the ledger). Anything
 * a round does belongs in one of these, never in round_run or block.c alone. */
status round_start(scheduler *s, uint64_t time_ns, round_ctx *rc);
/* Stages a receipt in the round and tells rc->on_receipt (the one way receipts are written). */
status round_receipt_put(round_ctx *rc, const uint8_t id[LEDGER_HASH_SIZE],
                         const ledger_receipt *rec);
status round_seal(round_ctx *rc);
status round_finish(round_ctx *rc, scheduler_round_info *info);
void round_fail(round_ctx *rc);

/* Orders n messages fairly (produce.c: round-robin across canisters, by first appearance):
 * order[k] receives the index of the k-th message; canisters[i] is message i's target
 * (LEDGER_CANISTER_NONE for installs). ST_OK or ST_OUT_OF_MEMORY. */
status sched_fair_order(const uint64_t *canisters, uint32_t n, uint32_t *order);

/* Drops the block consensus left open (block.c), if any. */
void sched_block_drop(scheduler *s);

/* Resumes every paused message (canisters in id order) for one slice each. */
status round_resume_paused(round_ctx *rc);
/* Includes `envelope` in the block and executes it (start of a message). */
status round_execute(round_ctx *rc, span envelope);
/* tasks.c: heartbeats and global timers (docs/canisters.md "Timers and heartbeat"). */
/* Whether a round at time_ns would run a task. */
bool sched_tasks_due(const scheduler *s, uint64_t time_ns);
/* Whether a task is to run at some time (a heartbeat, or an armed timer). */
bool sched_tasks_pending(const scheduler *s);
/* Runs the round's tasks, canisters in id order. */
status round_run_tasks(round_ctx *rc);
/* Stages the records and dirty pages of touched canisters. */
status round_stage_canisters(round_ctx *rc);
/* Appends the pages the round staged to the journal (query.c), for block `height`. */
void round_journal(scheduler *s, uint64_t height);

/* candid_mini.c: the Candid values of the management canister. A decoded message is a flat
 * array of nodes in pre-order; node 0 is the argument list (a record whose fields are labelled
 * 0, 1, ...); every node's subtree ends at `end`. */
typedef struct cand_value {
    int32_t type;   /* Candid type code: negative (-1 null ... -24 principal; -18 opt, -19 vec,
                       -20 record, -21 variant) */
    uint32_t label; /* field id in its record or variant; index in a vec or the argument list */
    uint64_t u;     /* nat, int and fixed-width values; variant: the chosen field id */
    span bytes;     /* text, principal, blob (vec nat8): borrowed from the message */
    bool blob;
    uint32_t count; /* children: opt 0/1, vec elements (not for a blob), record fields */
    uint32_t end;   /* index past this value's subtree */
} cand_value;

uint32_t cand_hash(const char *name);
/* Decodes a Candid message (`DIDL` ...). *out (base_free) has *n nodes. ST_OK, ST_BAD_ARGUMENT
 * (malformed, or a type outside the management interface: func, service), ST_OUT_OF_MEMORY. */
status cand_decode(span msg, cand_value **out, uint32_t *n);
/* The child of node `at` labelled `label`; a record's field by name; an opt's value (NULL: none);
 * the child after prev (NULL: the first) of parent. */
const cand_value *cand_child(const cand_value *v, uint32_t nv, uint32_t at, uint32_t label);
const cand_value *cand_field(const cand_value *v, uint32_t nv, const cand_value *rec,
                             const char *name);
const cand_value *cand_opt(const cand_value *v, uint32_t nv, const cand_value *o);
const cand_value *cand_next(const cand_value *v, uint32_t nv, const cand_value *parent,
                            const cand_value *prev);
bool cand_principal(const cand_value *x, span *out);
bool cand_blob(const cand_value *x, span *out);
bool cand_nat(const cand_value *x, uint64_t *out);
/* Appends an unsigned LEB128. */
status cand_leb(buf *b, uint64_t v);
status cand_leb128(buf *b, u128 v);

/* route.c */
/* Answers the call context described by x (origin, caller, message id; x->available is
 * refunded): the ingress receipt or the caller's response. */
status route_answer_to(round_ctx *rc, call_ctx *x, const route_answer *a);
/* A reply (bytes) or a system reject (code, text) as an answer. */
route_answer route_reply(span bytes);
route_answer route_reject(status st, uint32_t code, const char *text);
/* Moves c to STOPPED and answers its waiting stop_canister calls once it has no open call
 * context and no paused message. */
status route_check_stopped(round_ctx *rc, sched_canister *c);
/* The canister id of a principal made by sched_principal_of_canister (0: not one). */
uint64_t sched_canister_of_principal(span p);
/* True if c exists for calls and messages (not deleted). */
static inline bool sched_canister_live(const sched_canister *c)
{
    return c && !c->route.deleted;
}

/* mgmt.c: a call to the management canister aaaaa-aa from a canister (caller, with `cycles`
 * attached) or from ingress (caller 0, sender_key the signer), answered through `origin`
 * (at once, or when a stopping canister stops). */
status mgmt_call(round_ctx *rc, const call_ctx *origin, uint64_t caller, const uint8_t *sender_key,
                 span method, span arg, u128 cycles);
/* install_code in slices: mgmt_install_start begins c's paused install_code (p set up by
 * mgmt.c or restored by route_paused_decode, with its code) on c, or on a fresh canister for a
 * reinstall; mgmt_install_end keeps or drops the new code once res ends it and answers the
 * call. */
status mgmt_install_start(scheduler *s, sched_canister *c, code_entry *code, uint64_t time_ns);
status mgmt_install_end(round_ctx *rc, sched_canister *c, const host_result *res);
/* c's paused message has ended: runs the aaaaa-aa calls waiting for it, oldest first, until
 * none is left or one (install_code) begins a new paused message on c. */
status mgmt_wait_drain(round_ctx *rc, sched_canister *c);

/* True if c has no routing state (its aux stays in the version-1 layout). */
bool route_empty(const sched_canister *c);
status route_encode(const sched_canister *c, buf *out);
/* Decodes route_encode's bytes into c (whose route state is empty). ST_OK, ST_CORRUPT_LEDGER,
 * ST_OUT_OF_MEMORY. */
status route_decode(span bytes, sched_canister *c);
void route_free(sched_canister *c);
/* Requests c may still send (ic0.call_perform fails past it). */
uint32_t route_call_room(const sched_canister *c);
/* The balance calls take cycles from, and the pair that moves it (the cycles of calls). */
u128 sched_cycles_balance(const sched_canister *c);
void sched_cycles_credit(sched_canister *c, u128 n);
void sched_cycles_debit(sched_canister *c, u128 n);
/* An ingress update of c finished with res (its receipt or its call context). */
status route_ingress_done(round_ctx *rc, sched_canister *c, const uint8_t id[LEDGER_HASH_SIZE],
                          span caller, host_result *res);
/* A task (heartbeat, timer) of c finished with res: its calls go out in a system call context,
 * which no one awaits; their callbacks run as for any call. */
status route_task_done(round_ctx *rc, sched_canister *c, host_result *res);
/* Paused queued messages and tasks (PAUSED_*): route_paused_start builds p's host message from
 * c's state and begins it on c's canister (also when a restarted node re-runs its slices);
 * route_paused_done does what its end does once a slice ended it with res (*again: a next
 * step, the cleanup callback, began in p). The encoding of p (the aux record) and back. */
status route_paused_start(scheduler *s, sched_canister *c);
status route_paused_done(round_ctx *rc, sched_canister *c, host_result *res, bool *again);
status route_paused_encode(const paused_msg *p, buf *out);
status route_paused_decode(span bytes, uint8_t kind, uint64_t time_ns, paused_msg *p);
/* Runs queued messages, canisters in a rotating order, until the queues are empty or the
 * round's budget is spent. */
status route_run(round_ctx *rc);
/* Best-effort calls: queues a SYS_UNKNOWN reject for every callback whose deadline is earlier
 * than the round's block time and that has no response yet (canisters and callbacks in id
 * order). round_start calls it after the tasks. */
status route_expire(round_ctx *rc);
/* Whether a round at time_ns would expire a callback / whether any callback has a deadline
 * and no response yet (so the node keeps checking, as for armed timers). */
bool route_deadline_due(const scheduler *s, uint64_t time_ns);
bool route_deadline_pending(const scheduler *s);
/* True if any canister has a queued message. */
bool route_has_work(const scheduler *s);

#endif
