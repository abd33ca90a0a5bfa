/* scheduler_int.h - friends inside scheduler/: the in-memory canisters, the code cache and the
 * round executor shared by production and replay. Not a public header. */
#ifndef TALLY_SCHEDULER_INT_H
#define TALLY_SCHEDULER_INT_H

#include "scheduler.h"

#include <pthread.h>

enum { PRINCIPAL_MAX = 29 };

/* A message of a canister that is paused between slices (deterministic time slicing). */
typedef struct paused_msg {
    bool active;
    uint8_t id[LEDGER_HASH_SIZE];
    buf envelope;          /* owned copy: msg and hmsg borrow from it */
    ledger_message msg;
    host_msg hmsg;
    uint8_t caller[PRINCIPAL_MAX];
    uint32_t slices;       /* slices run so far */
    uint64_t used;         /* instructions used by those slices */
    uint64_t time_ns;      /* the time of the block that started it */
    uint8_t kind;          /* LEDGER_MSG_UPDATE, _INSTALL or _UPGRADE */
    struct code_entry *code; /* install/upgrade: the new code (holds a reference) */
    uint64_t cost;         /* install/upgrade: the deploy charge, part of its receipt */
} paused_msg;

/* One cached compiled module, shared by the canisters running it. */
typedef struct code_entry {
    uint8_t hash[LEDGER_HASH_SIZE];
    host_code *code;
    uint32_t refs;
} code_entry;

/* A canister as the scheduler keeps it: the live host state plus its ledger record fields. */
typedef struct sched_canister {
    uint64_t id;
    host_canister *hc;
    code_entry *code;      /* NULL: no code */
    uint32_t ncontrollers;
    uint8_t controllers[LEDGER_MAX_CONTROLLERS][LEDGER_PUBLIC_KEY_SIZE];
    bool touched;          /* changed in the current round: record and pages to stage */
    bool heap_cleared;     /* the current round replaced the heap (install, upgrade) */
    paused_msg paused;
} sched_canister;

/* What produce.c learnt of a mempool entry by parsing it (an entry's bytes never change and
 * its sequence number is never reused), kept from one round's pick to the next. */
typedef struct sched_seen {
    uint64_t seq;
    uint64_t canister;  /* LEDGER_CANISTER_NONE for installs */
    size_t len;         /* the envelope's length (a check: seq alone names it, never reused) */
    bool ok;            /* it parsed */
} sched_seen;

/* The pages each block changed, for the query replicas (query.c): the round thread appends the
 * 64 KiB pages it stages (or a reset: the heap was replaced) before the block commits, so
 * a reader that sees tip T finds every entry of heights <= T. A ring: when it wraps, heights
 * below `floor` are incomplete and a replica older than that is rebuilt. A retried round
 * appends its height again; a superset of the changed pages is harmless. */
enum { JOURNAL_HEAP = LEDGER_MEM_HEAP, JOURNAL_STABLE = LEDGER_MEM_STABLE, JOURNAL_RESET = 2,
       JOURNAL_CAP = 1 << 16 };
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

struct scheduler {
    ledger *lg;
    ledger_genesis genesis;
    host_config hcfg;
    sched_canister **canisters; /* sorted by id (ids are assigned in increasing order) */
    uint32_t ncanisters, canisters_cap;
    code_entry **codes;
    uint32_t ncodes, codes_cap;
    uint64_t next_canister_id;  /* the id the next install gets */
    uint64_t last_time_ns;      /* timestamp of the last block (queries run at this time) */
    bool broken;                /* a fault left memory ahead of the ledger: reload first */
    sched_seen *seen;           /* produce.c: the entries of the last pick, by sequence number */
    uint32_t nseen;
    sched_journal journal;      /* shared with query threads (under journal.mu) */
};

/* scheduler.c */
sched_canister *sched_canister_find(scheduler *s, uint64_t id);
/* The principal of a sender's public key (29 bytes, self-authenticating, as on the IC), and of
 * a canister id (10 bytes). */
void sched_principal_of_key(const uint8_t key[LEDGER_PUBLIC_KEY_SIZE], uint8_t out[PRINCIPAL_MAX]);
size_t sched_principal_of_canister(uint64_t id, uint8_t out[PRINCIPAL_MAX]);
/* The principal a query's caller gets: of a 32-byte public key, else anonymous (0x04). */
size_t sched_principal_of_caller(span caller, uint8_t out[PRINCIPAL_MAX]);
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
    span globals;
    bool paused;
    const uint8_t *msg_id;
    uint32_t slices;
    uint64_t time_ns;
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

/* round.c: executes one block's messages, in order, on the live canisters, staging writes. */
struct round_ctx {
    scheduler *s;
    ledger_round *r;
    uint64_t height;
    uint64_t time_ns;
    uint64_t used;         /* instructions executed in this round */
    uint32_t included;
    uint32_t completed;
};

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

/* Resumes every paused message (canisters in id order) for one slice each. */
status round_resume_paused(round_ctx *rc);
/* Includes `envelope` in the block and executes it (start of a message). */
status round_execute(round_ctx *rc, span envelope);
/* Stages the records and dirty pages of touched canisters. */
status round_stage_canisters(round_ctx *rc);
/* Appends the pages the round staged to the journal (query.c), for block `height`. */
void round_journal(scheduler *s, uint64_t height);

#endif
