/* query.c - queries on replicas, away from the round thread (docs/scheduler.md "Queries").
 *
 * A querier belongs to one query thread. For each canister it has queried it keeps a replica:
 * a host canister restored from the ledger at some height, running the same code. A query
 * opens a ledger read snapshot (LMDB: never blocks the round's commit, never sees half a
 * block), brings the replica to the snapshot's tip by loading only the 64 KiB pages that the
 * blocks since then changed (the scheduler's journal lists them, round.c) plus the record's
 * globals and system state, and runs the query there. Nothing here touches the live
 * canisters of the round thread, and the round thread never waits for a query: it only
 * appends to the journal under a mutex that readers hold for a scan of the entries since
 * their replica's height. A replica that cannot follow (its code changed, the heap was
 * replaced, the journal wrapped past it) is rebuilt from the ledger.
 *
 * A replica runs compiled once the round thread has attached its code's compiled tier: the
 * code cache's object is shared (tier.c's shelf), checked for whenever something new was
 * shelved. Each replica instance runs on its own stack (engine/native.c).
 *
 * The snapshot's state is what a block committed: while a message of the canister is paused,
 * its pages are not in the ledger, so a query sees the state before it. */
#include "scheduler_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct replica {
    uint64_t id;
    uint64_t height; /* the block whose committed state it holds */
    uint8_t code_hash[LEDGER_HASH_SIZE];
    host_code *code; /* NULL: the canister has no code */
    host_canister *hc;
    uint64_t bytes;      /* heap + stable memory, for the cache budget */
    uint64_t used;       /* querier tick of its last query (least recently used goes first) */
    uint64_t shelf_seen; /* sched_tier_generation when the shelf was last looked at */
    bool compiled;       /* its code has the compiled tier attached */
    bool quick;          /* ... quick code, which cc's replaces when the shelf has it */
    uint8_t status;      /* ledger_canister_status of the record at `height` */
} replica;

struct scheduler_querier {
    scheduler *s;
    replica *reps;
    uint32_t nreps, cap;
    uint64_t cache_bytes;
    uint64_t tick;
    uint8_t *page;  /* one 64 KiB page being loaded */
    uint64_t *todo; /* (what << 32 | page) of the journal entries to load */
    size_t ntodo, todo_cap;
    scheduler_querier_stats stats;
};

uint64_t scheduler_query_instructions(const scheduler *s)
{
    return s->genesis.query_instructions;
}

uint64_t scheduler_inspect_instructions(const scheduler *s)
{
    uint64_t g = s->genesis.query_instructions;
    return g < SCHEDULER_INSPECT_INSTRUCTIONS ? g : SCHEDULER_INSPECT_INSTRUCTIONS;
}

status scheduler_querier_new(scheduler *s, uint64_t cache_bytes, scheduler_querier **out)
{
    *out = NULL;
    scheduler_querier *q = base_calloc(1, sizeof *q);
    if (!q)
        return ST_OUT_OF_MEMORY;
    q->page = base_alloc(LEDGER_PAGE_SIZE);
    if (!q->page) {
        base_free(q);
        return ST_OUT_OF_MEMORY;
    }
    q->s = s;
    q->cache_bytes = cache_bytes;
    *out = q;
    return ST_OK;
}

static void replica_fini(replica *r)
{
    host_canister_free(r->hc);
    host_code_free(r->code);
    memset(r, 0, sizeof *r);
}

void scheduler_querier_free(scheduler_querier *q)
{
    if (!q)
        return;
    for (uint32_t i = 0; i < q->nreps; i++)
        replica_fini(&q->reps[i]);
    base_free(q->reps);
    base_free(q->page);
    base_free(q->todo);
    base_free(q);
}

void scheduler_querier_stats_get(const scheduler_querier *q, scheduler_querier_stats *out)
{
    *out = q->stats;
}

static replica *replica_find(scheduler_querier *q, uint64_t id)
{
    for (uint32_t i = 0; i < q->nreps; i++)
        if (q->reps[i].id == id)
            return &q->reps[i];
    return NULL;
}

static void replica_drop(scheduler_querier *q, replica *r)
{
    replica_fini(r);
    *r = q->reps[--q->nreps];
}

/* A fresh replica of canister id from record rec at tip height `height`, in *r (empty). */
static status replica_build(scheduler_querier *q, ledger_reader *rd, uint64_t id,
                            const ledger_canister *rec, uint64_t height, replica *r)
{
    scheduler *s = q->s;
    uint8_t self[PRINCIPAL_MAX];
    size_t n = sched_principal_of_canister(id, self);
    r->id = id;
    r->height = height;
    memcpy(r->code_hash, rec->code_hash, LEDGER_HASH_SIZE);
    status st = host_canister_new(&s->hcfg, span_of(self, n), &r->hc);
    if (st == ST_OK)
        st = sched_controllers_to_host((const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])rec->controllers,
                                       rec->controller_count, r->hc);
    static const uint8_t none[LEDGER_HASH_SIZE];
    if (st != ST_OK || !memcmp(rec->code_hash, none, LEDGER_HASH_SIZE))
        return st;
    span original, instrumented;
    st = ledger_code_get(rd, rec->code_hash, &original, &instrumented);
    if (st == ST_OK)
        st = host_code_new(&s->hcfg, original, &r->code, NULL);
    if (st != ST_OK)
        return st == ST_OUT_OF_MEMORY || st == ST_LMDB_ERROR ? st : ST_CORRUPT_LEDGER;
    aux_fields f;
    st = sched_host_restore(rd, id, rec, r->code, r->hc, &f);
    r->bytes = (uint64_t)rec->heap_pages * LEDGER_PAGE_SIZE * 2 +
               (uint64_t)rec->stable_pages * LEDGER_PAGE_SIZE;
    q->stats.builds++;
    return st;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Collects the journal's pages of r's canister in heights (r->height, tip]. ST_OK, or
 * ST_NOT_FOUND when the replica cannot follow (a reset, or the journal no longer reaches back
 * to it), ST_OUT_OF_MEMORY. */
static status journal_collect(scheduler_querier *q, const replica *r, uint64_t tip)
{
    sched_journal *j = &q->s->journal;
    status st = ST_OK;
    q->ntodo = 0;
    pthread_mutex_lock(&j->mu);
    if (j->floor > r->height + 1)
        st = ST_NOT_FOUND;
    uint64_t oldest = j->pushed > JOURNAL_CAP ? j->pushed - JOURNAL_CAP : 0;
    for (uint64_t k = j->pushed; st == ST_OK && k > oldest; k--) {
        const sched_jentry *e = &j->ring[(k - 1) % JOURNAL_CAP];
        if (e->height <= r->height)
            break;
        if (e->height > tip || e->canister != r->id)
            continue;
        if (e->what == JOURNAL_RESET) {
            st = ST_NOT_FOUND;
        } else if (q->ntodo == q->todo_cap) {
            size_t cap = q->todo_cap ? 2 * q->todo_cap : 256;
            uint64_t *p = base_realloc(q->todo, cap * sizeof *p);
            if (!p)
                st = ST_OUT_OF_MEMORY;
            else {
                q->todo = p;
                q->todo_cap = cap;
            }
        }
        if (st == ST_OK && e->what != JOURNAL_RESET)
            q->todo[q->ntodo++] = (uint64_t)e->what << 32 | e->page;
    }
    pthread_mutex_unlock(&j->mu);
    return st;
}

/* Brings r to record rec at tip `tip` by loading the changed pages. ST_OK, ST_NOT_FOUND (it
 * cannot follow: rebuild), or a fault. */
static status replica_sync(scheduler_querier *q, ledger_reader *rd, replica *r,
                           const ledger_canister *rec, uint64_t tip)
{
    if (memcmp(r->code_hash, rec->code_hash, LEDGER_HASH_SIZE) != 0)
        return ST_NOT_FOUND;
    status st = journal_collect(q, r, tip);
    if (st != ST_OK || !r->code)
        return st;
    if (q->ntodo)
        qsort(q->todo, q->ntodo, sizeof *q->todo, cmp_u64);
    uint64_t heap = (uint64_t)rec->heap_pages * LEDGER_PAGE_SIZE;
    uint64_t stable = (uint64_t)rec->stable_pages * LEDGER_PAGE_SIZE;
    st = host_canister_heap_load(r->hc, heap, 0, span_of(NULL, 0));
    if (st == ST_OK)
        st = host_canister_stable_load(r->hc, stable, 0, span_of(NULL, 0));
    for (size_t i = 0; st == ST_OK && i < q->ntodo; i++) {
        if (i && q->todo[i] == q->todo[i - 1])
            continue;
        ledger_mem mem = (ledger_mem)(q->todo[i] >> 32);
        uint32_t p = (uint32_t)q->todo[i];
        uint64_t off = (uint64_t)p * LEDGER_PAGE_SIZE;
        if (off >= (mem == LEDGER_MEM_HEAP ? heap : stable))
            continue; /* staged by a round whose block did not keep it (a retried height) */
        st = ledger_page_get(rd, r->id, mem, p, q->page);
        if (st == ST_OK && mem == LEDGER_MEM_HEAP)
            st = host_canister_heap_load(r->hc, heap, off, span_of(q->page, LEDGER_PAGE_SIZE));
        else if (st == ST_OK)
            st = host_canister_stable_load(r->hc, stable, off, span_of(q->page, LEDGER_PAGE_SIZE));
        q->stats.pages_loaded++;
    }
    aux_fields f;
    if (st == ST_OK)
        st = sched_aux_decode(rec->aux, &f);
    if (st == ST_OK) {
        host_saved sv = {.version = rec->version,
                         .timer = f.timer,
                         .certified_data = span_of(rec->certified_data, rec->certified_data_len)};
        st = host_canister_system_load(r->hc, &sv, f.globals);
        host_canister_cycles_set(r->hc, f.cycles); /* canister_cycle_balance in queries */
    }
    if (st == ST_OK)
        st = sched_controllers_to_host((const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])rec->controllers,
                                       rec->controller_count, r->hc);
    if (st == ST_OK) {
        r->height = tip;
        r->bytes = 2 * heap + stable;
        q->stats.syncs++;
    }
    if (st == ST_CORRUPT_LEDGER)
        st = ST_NOT_FOUND; /* sizes that do not follow: rebuild, which checks them again */
    return st;
}

/* Drops least recently used replicas (never `keep`) while the cache is over its budget. */
static void cache_trim(scheduler_querier *q, uint64_t keep)
{
    for (;;) {
        uint64_t total = 0;
        replica *lru = NULL;
        for (uint32_t i = 0; i < q->nreps; i++) {
            replica *r = &q->reps[i];
            total += r->bytes;
            if (r->id != keep && (!lru || r->used < lru->used))
                lru = r;
        }
        if (total <= q->cache_bytes || !lru)
            return;
        replica_drop(q, lru);
    }
}

/* The replica of canister id at the snapshot's tip: found up to date, synced, or built. */
static status replica_get(scheduler_querier *q, ledger_reader *rd, uint64_t id,
                          const ledger_tip *tip, replica **out)
{
    replica *r = replica_find(q, id);
    if (r && r->height == tip->height) {
        *out = r;
        return ST_OK;
    }
    ledger_canister rec;
    status st = ledger_canister_get(rd, id, &rec);
    if (st == ST_NOT_FOUND || st == ST_UNKNOWN_CANISTER) {
        if (r)
            replica_drop(q, r);
        return ST_UNKNOWN_CANISTER;
    }
    if (st != ST_OK)
        return st;
    if (r) {
        st = replica_sync(q, rd, r, &rec, tip->height);
        if (st == ST_OK) {
            r->status = rec.status;
            *out = r;
            return ST_OK;
        }
        replica_drop(q, r);
        if (st != ST_NOT_FOUND)
            return st;
    }
    st = base_grow((void **)&q->reps, &q->cap, q->nreps + 1, sizeof *q->reps, 8);
    if (st != ST_OK)
        return st;
    r = &q->reps[q->nreps];
    memset(r, 0, sizeof *r);
    st = replica_build(q, rd, id, &rec, tip->height, r);
    if (st != ST_OK) {
        replica_fini(r);
        return st;
    }
    r->status = rec.status;
    q->nreps++;
    *out = r;
    return ST_OK;
}

/* Attaches the compiled tier to r's code if the round thread has one for it by now. */
static void replica_tier(scheduler_querier *q, replica *r)
{
    if (!r->code || (r->compiled && !r->quick))
        return;
    uint64_t gen = sched_tier_generation(q->s);
    if (gen == r->shelf_seen)
        return;
    r->shelf_seen = gen;
    engine_native *n = sched_tier_shared(q->s, r->code_hash);
    if (n) {
        bool quick = engine_native_is_quick(n);
        if (r->compiled && quick) { /* the same quick object: no upgrade yet */
            engine_native_free(n);
            return;
        }
        host_code_attach_native(r->code, n);
        r->compiled = true;
        r->quick = quick;
    }
}

/* A query of a canister that is not running: rejected with CANISTER_ERROR (5) as on the IC
 * ("Canister <id> is not running", IC0508 stopped / IC0509 stopping), without running it. */
void sched_query_stopped(uint64_t canister_id, uint8_t canister_status, host_result *res)
{
    char id[LEDGER_CANISTER_TEXT_SIZE], text[160];
    ledger_canister_id_text(canister_id, id);
    int n = snprintf(text, sizeof text, "canister %s is not running: it is %s", id,
                     canister_status == LEDGER_CANISTER_STOPPING ? "stopping" : "stopped");
    res->st = ST_CANISTER_STOPPED;
    res->kind = HOST_RESPONSE_REJECT;
    res->reject_code = HOST_REJECT_CANISTER_ERROR;
    res->instructions = 0;
    res->bytes.len = 0;
    if (buf_put(&res->bytes, text, (size_t)n) != ST_OK)
        res->bytes.len = 0; /* the status still says it */
}

/* Runs entry `kind` (a query, or canister_inspect_message) on the replica of canister_id at the
 * last committed block. */
static status querier_call(scheduler_querier *q, host_call_kind kind, uint64_t canister_id,
                           span method, span arg, span caller, uint64_t instruction_limit,
                           host_result *res)
{
    host_result_init(res);
    ledger_reader *rd;
    ledger_tip tip;
    status st = ledger_read_begin(q->s->lg, &rd);
    if (st != ST_OK)
        return st;
    replica *r = NULL;
    st = ledger_tip_get(rd, &tip);
    if (st == ST_OK)
        st = replica_get(q, rd, canister_id, &tip, &r);
    ledger_read_end(rd);
    if (st != ST_OK)
        return st;
    r->used = ++q->tick;
    q->stats.queries++;
    if (kind == HOST_CALL_QUERY && r->status != LEDGER_CANISTER_RUNNING) {
        sched_query_stopped(canister_id, r->status, res);
        return ST_OK;
    }
    replica_tier(q, r);
    uint8_t principal[PRINCIPAL_MAX];
    size_t plen = sched_principal_of_caller(caller, principal);
    host_msg hm = {.method = method,
                   .arg = arg,
                   .caller = span_of(principal, plen),
                   .time = tip.timestamp_ns,
                   .instruction_limit = instruction_limit};
    st = host_canister_call(r->hc, kind, &hm, res);
    if (host_canister_compiled(r->hc))
        q->stats.compiled++;
    uint64_t id = r->id; /* r moves if the trim drops another replica */
    cache_trim(q, id);
    return st;
}

status scheduler_querier_run(scheduler_querier *q, uint64_t canister_id, span method, span arg,
                             span caller, uint64_t instruction_limit, host_result *res)
{
    return querier_call(q, HOST_CALL_QUERY, canister_id, method, arg, caller, instruction_limit,
                        res);
}

status scheduler_querier_inspect(scheduler_querier *q, uint64_t canister_id, span method, span arg,
                                 span caller, host_result *res)
{
    uint64_t limit = scheduler_inspect_instructions(q->s);
    return querier_call(q, HOST_CALL_INSPECT, canister_id, method, arg, caller, limit, res);
}
