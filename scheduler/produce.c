/* produce.c - picking the next block's messages from the mempool: deterministic round-robin
 * across canisters (the first message of every canister, in order of their first appearance,
 * then every canister's second, ...), skipping canisters with a paused message, within the
 * round's instruction budget and message cap. The order fixed here is the block's order, so
 * replay needs none of this: it runs the block. */
#include "scheduler_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct cand {
    uint64_t canister; /* LEDGER_CANISTER_NONE for installs: they share one queue */
    uint32_t arrival;  /* position in the mempool */
    uint32_t rank;     /* how many earlier candidates target the same canister */
    uint32_t first;    /* arrival of that canister's first candidate */
    size_t off, len;   /* the envelope in the pick's copy buffer */
} cand;

typedef struct pick {
    cand *c;
    uint32_t n, next;
    buf envelopes;
} pick;

static int by_canister(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->canister != y->canister)
        return x->canister < y->canister ? -1 : 1;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

static int by_turn(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

/* Orders the candidates round-robin: rank within their canister, then the canister's first
 * appearance, then arrival. A pure function of the mempool order. */
static void order_fairly(cand *c, uint32_t n)
{
    qsort(c, n, sizeof *c, by_canister);
    for (uint32_t i = 0; i < n; i++) {
        bool same = i > 0 && c[i].canister == c[i - 1].canister;
        c[i].rank = same ? c[i - 1].rank + 1 : 0;
        c[i].first = same ? c[i - 1].first : c[i].arrival;
    }
    qsort(c, n, sizeof *c, by_turn);
}

status sched_fair_order(const uint64_t *canisters, uint32_t n, uint32_t *order)
{
    cand *c = base_calloc(n ? n : 1, sizeof *c);
    if (!c)
        return ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < n; i++)
        c[i] = (cand){.canister = canisters[i], .arrival = i};
    order_fairly(c, n);
    for (uint32_t i = 0; i < n; i++)
        order[i] = c[i].arrival;
    base_free(c);
    return ST_OK;
}

/* The parsed facts of mempool entry seq (sequence numbers are never reused in a ledger): from
 * the last pick's list if it has them (both lists ascend by seq, *j walks the old one), else
 * parsed now (the only hashing and decoding an entry needs while it waits through several
 * rounds' picks). */
static void seen_get(const scheduler *s, uint32_t *j, uint64_t seq, span env, sched_seen *out)
{
    while (*j < s->nseen && s->seen[*j].seq < seq)
        (*j)++;
    const sched_seen *old = *j < s->nseen ? &s->seen[*j] : NULL;
    if (old && old->seq == seq && old->len == env.len) {
        *out = *old;
        return;
    }
    ledger_message m;
    *out = (sched_seen){.seq = seq, .len = env.len};
    out->ok = ledger_message_parse(env, &m, NULL) == ST_OK; /* verified when admitted */
    if (out->ok)
        out->canister = m.kind == LEDGER_MSG_INSTALL ? LEDGER_CANISTER_NONE : m.canister_id;
}

/* Copies up to `window` mempool messages (arrival order) that may start now; the entries it
 * looked at become s->seen. */
static status collect(scheduler *s, pick *pk, uint32_t window)
{
    ledger_reader *rd;
    status st = ledger_read_begin(s->lg, &rd);
    if (st != ST_OK)
        return st;
    pk->c = base_calloc(window, sizeof *pk->c);
    sched_seen *seen = base_calloc(window, sizeof *seen);
    uint32_t nseen = 0, cap = window, j = 0;
    if (!pk->c || !seen)
        st = ST_OUT_OF_MEMORY;
    uint64_t seq = 0;
    for (uint32_t arrival = 0; st == ST_OK && pk->n < window; arrival++) {
        span env;
        st = ledger_mempool_next(rd, &seq, &env, NULL);
        if (st != ST_OK)
            break;
        if (nseen == cap) { /* paused canisters' or unparsable entries fill it past window */
            sched_seen *more = base_realloc(seen, 2 * (size_t)cap * sizeof *seen);
            if (!more) {
                st = ST_OUT_OF_MEMORY;
                break;
            }
            seen = more;
            cap *= 2;
        }
        sched_seen *e = &seen[nseen++];
        seen_get(s, &j, seq, env, e);
        if (!e->ok)
            continue; /* cannot happen for admitted messages; never picked */
        sched_canister *c =
            e->canister == LEDGER_CANISTER_NONE ? NULL : sched_canister_find(s, e->canister);
        /* waits until its canister's paused message finishes; a paused task may finish at the
         * start of this round, which then runs no heartbeat (tasks.c): the message may run */
        if (c && c->paused.active && c->paused.kind != PAUSED_HEARTBEAT &&
            c->paused.kind != PAUSED_TIMER)
            continue;
        cand *k = &pk->c[pk->n++];
        *k = (cand){
            .canister = e->canister, .arrival = arrival, .off = pk->envelopes.len, .len = env.len};
        st = buf_put(&pk->envelopes, env.ptr, env.len);
    }
    if (st == ST_NOT_FOUND)
        st = ST_OK;
    ledger_read_end(rd);
    if (st == ST_OK) {
        base_free(s->seen);
        s->seen = seen;
        s->nseen = nseen;
        order_fairly(pk->c, pk->n);
    } else {
        base_free(seen);
    }
    return st;
}

static status pick_next(void *user, const round_ctx *rc, span *env)
{
    pick *pk = user;
    const scheduler *s = rc->s;
    while (pk->next < pk->n) {
        if (rc->used >= s->genesis.round_instruction_limit ||
            rc->included >= s->genesis.max_messages_per_round)
            return ST_NOT_FOUND;
        const cand *k = &pk->c[pk->next++];
        sched_canister *c = k->canister ? sched_canister_find(rc->s, k->canister) : NULL;
        if (c && c->paused.active)
            continue; /* an earlier message of this round paused it: wait */
        *env = span_of(pk->envelopes.ptr + k->off, k->len);
        return ST_OK;
    }
    return ST_NOT_FOUND;
}

/* Whether a message waits: paused, or in the mempool. */
static status messages_waiting(scheduler *s, bool *out)
{
    *out = route_has_work(s);
    if (*out)
        return ST_OK;
    for (uint32_t i = 0; i < s->ncanisters; i++)
        if (s->canisters[i]->paused.active) {
            *out = true;
            return ST_OK;
        }
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(s->lg, &rd);
    if (st != ST_OK)
        return st;
    uint64_t seq = 0;
    span env;
    st = ledger_mempool_next(rd, &seq, &env, NULL); /* whether there is one: no id needed */
    ledger_read_end(rd);
    if (st == ST_NOT_FOUND)
        return ST_OK;
    *out = st == ST_OK;
    return st; /* a read fault is reported, never taken for "no work" */
}

status scheduler_has_work(scheduler *s, bool *out)
{
    status st = messages_waiting(s, out);
    if (st == ST_OK && !*out)
        *out = sched_tasks_pending(s) || route_deadline_pending(s);
    return st;
}

status scheduler_round(scheduler *s, uint64_t time_ns, scheduler_round_info *info)
{
    memset(info, 0, sizeof *info);
    sched_tier_drain(s); /* the compiled tier of modules built since the last round */
    status st = s->broken ? sched_reload(s) : ST_OK;
    if (st != ST_OK)
        return st;
    ledger_reader *rd = NULL; /* ledger_read_begin leaves it unset on failure */
    st = ledger_read_begin(s->lg, &rd);
    if (st == ST_OK)
        st = ledger_tip_get(rd, &info->tip);
    ledger_read_end(rd);
    bool work = false;
    if (st == ST_OK)
        st = messages_waiting(s, &work);
    if (st != ST_OK)
        return st;
    if (time_ns < info->tip.timestamp_ns)
        time_ns = info->tip.timestamp_ns;
    if (!work && !sched_tasks_due(s, time_ns) && !route_deadline_due(s, time_ns))
        return ST_OK;
    pick pk = {0};
    /* A window of a few rounds' worth of messages keeps picking linear and fair enough. */
    uint32_t per_round = s->genesis.max_messages_per_round;
    uint32_t window = per_round > UINT32_MAX / 4 ? UINT32_MAX : 4 * per_round;
    st = collect(s, &pk, window);
    if (st == ST_OK)
        st = round_run(s, time_ns, pick_next, &pk, info);
    base_free(pk.c);
    buf_fini(&pk.envelopes);
    return st;
}
