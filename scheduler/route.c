/* route.c - inter-canister calls inside a round: input queues, call contexts, callbacks and
 * the deterministic order in which queued messages run (docs/canisters.md "Calls",
 * docs/scheduler.md "Routing"). Semantics: the IC interface specification's "Abstract
 * behavior" (call contexts, callbacks, reject codes).
 *
 * A message that performs calls (host_result.calls) opens a call context on its canister (if
 * it did not answer and close already) and one callback per call; each call becomes a request
 * at the end of the callee's input queue, or at once a reject response in the caller's queue
 * when the callee does not exist (DESTINATION_INVALID) or its queue is full (SYS_TRANSIENT).
 * A request runs the callee's method in a new call context; when that context is answered,
 * the response goes to the end of the caller's queue; the response runs the reply or reject
 * callback (then cleanup if that trapped). A context whose calls are all answered and that
 * did not reply is rejected with CANISTER_ERROR. An ingress message's receipt is written when
 * its context is answered.
 *
 * Order: after the block's ingress messages, passes over the canisters in id order starting
 * at index (height mod count), one queued message per canister per pass, until the queues are
 * empty, the round's instructions are spent or ROUTE_STEPS_MAX messages ran. New requests join
 * the queues at once, so a call and its reply can complete in the round that made the call. */
#include "scheduler_int.h"

#include <stdio.h>
#include <string.h>

enum {
    ROUTE_STEPS_MAX = 20000,
    ROUTE_VERSION_1 = 1,
    ROUTE_VERSION = 2,
    ROUTE_VERSION_WAITS = 3 /* written only while aaaaa-aa calls wait (or carry cycles) */
};

/* ---- cycles (the seam with the canister balance) -------------------------------------------- */

u128 sched_cycles_balance(const sched_canister *c)
{
    return host_canister_cycles(c->hc);
}

/* Cycles that come from elsewhere (accepted from a request, refunded): a balance cannot
 * overflow, every cycle was minted under the 2^128-1 total (scheduler/cycles.c). */
void sched_cycles_credit(sched_canister *c, u128 n)
{
    host_canister_cycles_set(c->hc, host_canister_cycles(c->hc) + n);
}

/* Cycles attached to a call: the message took them from its liquid balance (host-api/cycles.c)
 * and nothing was charged since, so the balance holds them. */
void sched_cycles_debit(sched_canister *c, u128 n)
{
    u128 b = host_canister_cycles(c->hc);
    host_canister_cycles_set(c->hc, n > b ? 0 : b - n);
}

/* ---- state ---------------------------------------------------------------------------------- */

static void msg_fini(route_msg *m)
{
    buf_fini(&m->method);
    buf_fini(&m->data);
}

void route_free(sched_canister *c)
{
    route_state *r = &c->route;
    for (uint32_t i = r->head; i < r->len; i++)
        msg_fini(&r->q[i]);
    base_free(r->q);
    base_free(r->ctx);
    base_free(r->cb);
    base_free(r->stops);
    for (uint32_t i = 0; i < r->nwaits; i++) {
        buf_fini(&r->waits[i].method);
        buf_fini(&r->waits[i].arg);
    }
    base_free(r->waits);
    memset(r, 0, sizeof *r);
}

bool route_empty(const sched_canister *c)
{
    const route_state *r = &c->route;
    return r->head == r->len && r->nctx == 0 && r->ncb == 0 && r->next_ctx == 0 &&
           r->next_cb == 0 && r->status == 0 && !r->deleted && r->nstops == 0 && r->nwaits == 0;
}

uint32_t route_call_room(const sched_canister *c)
{
    return c->route.ncb >= ROUTE_QUEUE_MAX ? 0 : ROUTE_QUEUE_MAX - c->route.ncb;
}

bool route_has_work(const scheduler *s)
{
    for (uint32_t i = 0; i < s->ncanisters; i++)
        if (s->canisters[i]->route.head < s->canisters[i]->route.len)
            return true;
    return false;
}

/* Appends m (moved) to c's queue. */
static status enqueue(sched_canister *c, route_msg *m)
{
    route_state *r = &c->route;
    if (r->head == r->len)
        r->head = r->len = 0;
    if (r->len == r->cap && r->head > 0) { /* slide the live part down before growing */
        memmove(r->q, r->q + r->head, (size_t)(r->len - r->head) * sizeof *r->q);
        r->len -= r->head;
        r->head = 0;
    }
    status st = base_grow((void **)&r->q, &r->cap, r->len + 1, sizeof *r->q, 8);
    if (st != ST_OK)
        return st;
    if (m->kind == ROUTE_REQUEST) {
        r->requests++;
        r->request_bytes += m->data.len + m->method.len;
    } else {
        r->response_bytes += m->data.len;
    }
    r->q[r->len++] = *m;
    memset(m, 0, sizeof *m);
    c->touched = true;
    return ST_OK;
}

/* The element of a[0, n) (each `size` bytes, sorted by the uint64_t id at offset `at`) with
 * this id, or NULL: contexts and callbacks are found by binary search. */
static void *find_id(void *a, uint32_t n, size_t size, size_t at, uint64_t id)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint8_t *e = (uint8_t *)a + (size_t)mid * size;
        uint64_t k;
        memcpy(&k, e + at, sizeof k);
        if (k == id)
            return e;
        if (k < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static call_ctx *ctx_find(route_state *r, uint64_t id)
{
    return find_id(r->ctx, r->nctx, sizeof *r->ctx, offsetof(call_ctx, id), id);
}

static callback *cb_find(route_state *r, uint64_t id)
{
    return find_id(r->cb, r->ncb, sizeof *r->cb, offsetof(callback, id), id);
}

static void ctx_remove(route_state *r, call_ctx *x)
{
    uint32_t i = (uint32_t)(x - r->ctx);
    memmove(x, x + 1, (size_t)(r->nctx - i - 1) * sizeof *x);
    r->nctx--;
}

static void cb_remove(route_state *r, callback *b)
{
    uint32_t i = (uint32_t)(b - r->cb);
    memmove(b, b + 1, (size_t)(r->ncb - i - 1) * sizeof *b);
    r->ncb--;
}

/* A new call context (ids only grow, so the array stays sorted). *out is valid until the
 * next context is added. */
static status ctx_new(sched_canister *c, const call_ctx *init, call_ctx **out)
{
    route_state *r = &c->route;
    status st = base_grow((void **)&r->ctx, &r->ctx_cap, r->nctx + 1, sizeof *r->ctx, 8);
    if (st != ST_OK)
        return st;
    call_ctx *x = &r->ctx[r->nctx++];
    *x = *init;
    x->id = r->next_ctx++;
    c->touched = true;
    *out = x;
    return ST_OK;
}

/* ---- principals ------------------------------------------------------------------------------ */

uint64_t sched_canister_of_principal(span p)
{
    if (p.len != 10 || p.ptr[8] != 0x01 || p.ptr[9] != 0x01)
        return 0;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | p.ptr[i];
    return id;
}

/* ---- responses --------------------------------------------------------------------------------- */

typedef route_answer answer;

static answer answer_of(const host_result *res)
{
    answer a = {.st = res->st, .reject_code = 0, .bytes = span_of(res->bytes.ptr, res->bytes.len)};
    if (res->kind == HOST_RESPONSE_REJECT) {
        a.reject_code = res->reject_code;
        if (res->st == ST_OK)
            a.st = ST_CANISTER_REJECTED;
    }
    return a;
}

/* Cycles that reach no one (a response dropped with its refund) are burned in the accounts. */
static void burn(scheduler *s, u128 n)
{
    if (!n)
        return;
    s->cycles.burned += n;
    s->cycles_dirty = true;
}

/* Puts a response into the queue of canister `to` for its callback cb. A caller that no longer
 * exists gets nothing (its calls died with it), nor does a callback that already has its
 * response (a best-effort call that timed out): the response is dropped, its refund burned. */
static status respond_to(round_ctx *rc, uint64_t to, uint64_t cb, const answer *a, u128 refund)
{
    sched_canister *t = sched_canister_find(rc->s, to);
    callback *b = sched_canister_live(t) ? cb_find(&t->route, cb) : NULL;
    if (!b || b->answered) {
        burn(rc->s, refund);
        return ST_OK;
    }
    b->answered = true;
    route_msg m = {
        .kind = ROUTE_RESPONSE, .reject_code = a->reject_code, .callback = cb, .cycles = refund};
    static const char too_large[] = "the response does not fit in the caller's input queue";
    span bytes = a->bytes;
    if (bytes.len > ROUTE_RESPONSE_BYTES - t->route.response_bytes) {
        m.reject_code = HOST_REJECT_SYS_TRANSIENT;
        bytes = span_of(too_large, sizeof too_large - 1);
    }
    status st = bytes.len ? buf_put(&m.data, bytes.ptr, bytes.len) : ST_OK;
    if (st == ST_OK)
        st = enqueue(t, &m);
    msg_fini(&m);
    return st;
}

static status put_receipt(round_ctx *rc, const uint8_t id[LEDGER_HASH_SIZE], const answer *a,
                          uint64_t instructions)
{
    ledger_receipt rec = {
        .status = (uint32_t)a->st, .instructions = instructions, .reply = a->bytes};
    rc->completed++;
    return round_receipt_put(rc, id, &rec);
}

/* Answers context x of canister c (once): the receipt or the caller's response. */
static status ctx_answer(round_ctx *rc, sched_canister *c, call_ctx *x, const answer *a)
{
    c->touched = true;
    return route_answer_to(rc, x, a);
}

status route_answer_to(round_ctx *rc, call_ctx *x, const answer *a)
{
    x->responded = true;
    u128 refund = x->available;
    x->available = 0;
    switch (x->origin) {
    case ORIGIN_INGRESS: return put_receipt(rc, x->msg_id, a, x->instructions);
    case ORIGIN_CANISTER: return respond_to(rc, x->caller, x->caller_cb, a, refund);
    default: return ST_OK;
    }
}

/* A system-made reject answer (no such canister, full queue, no reply). */
answer route_reject(status st, uint32_t code, const char *text)
{
    return (answer){.st = st, .reject_code = code, .bytes = span_of(text, strlen(text))};
}

answer route_reply(span bytes)
{
    return (answer){.st = ST_OK, .bytes = bytes};
}

static answer reject_answer(status st, uint32_t code, const char *text)
{
    return route_reject(st, code, text);
}

/* ---- sending calls ----------------------------------------------------------------------------- */

/* Sends one committed call of canister c made in context ctx_id: a callback, and a request
 * or an immediate reject. */
static status send_call(round_ctx *rc, sched_canister *c, uint64_t ctx_id, host_call_out *o)
{
    route_state *r = &c->route;
    status st = base_grow((void **)&r->cb, &r->cb_cap, r->ncb + 1, sizeof *r->cb, 8);
    if (st != ST_OK)
        return st;
    uint64_t cb_id = r->next_cb++;
    uint64_t deadline = 0;
    if (o->best_effort) { /* block time + the timeout (call.c caps it), never 0 */
        uint64_t t = (uint64_t)o->timeout_seconds * 1000000000u;
        deadline = rc->time_ns > UINT64_MAX - t ? UINT64_MAX : rc->time_ns + t;
        deadline = deadline ? deadline : 1;
    }
    r->cb[r->ncb++] = (callback){.id = cb_id,
                                 .deadline = deadline,
                                 .ctx = ctx_id,
                                 .reply_fun = o->reply_fun,
                                 .reply_env = o->reply_env,
                                 .reject_fun = o->reject_fun,
                                 .reject_env = o->reject_env,
                                 .cleanup_fun = o->cleanup_fun,
                                 .cleanup_env = o->cleanup_env,
                                 .has_cleanup = o->has_cleanup};
    c->touched = true;
    sched_cycles_debit(c, o->cycles);
    /* the IC's transmission fee for the request: per call and per byte sent */
    const ledger_genesis *g = &rc->s->genesis;
    sched_cycles_charge(
        rc->s, c,
        u128_add_sat(g->fee_xnet_call,
                     u128_mul_sat(o->method.len + o->arg.len, g->fee_xnet_byte_transmission)));
    if (o->callee_len == 0) { /* the management canister answers at once (or when stopped) */
        call_ctx origin = {.origin = ORIGIN_CANISTER,
                           .caller = c->id,
                           .caller_cb = cb_id,
                           .available = o->cycles};
        return mgmt_call(rc, &origin, c->id, NULL, span_of(o->method.ptr, o->method.len),
                         span_of(o->arg.ptr, o->arg.len), o->cycles);
    }
    uint64_t to = sched_canister_of_principal(span_of(o->callee, o->callee_len));
    sched_canister *t = to ? sched_canister_find(rc->s, to) : NULL;
    answer a;
    char text[128];
    if (!sched_canister_live(t)) {
        snprintf(text, sizeof text, "no such canister (callee of %u bytes)", o->callee_len);
        a = reject_answer(ST_UNKNOWN_CANISTER, HOST_REJECT_DESTINATION_INVALID, text);
    } else if (t->route.requests >= ROUTE_QUEUE_MAX ||
               o->arg.len + o->method.len > ROUTE_QUEUE_BYTES - t->route.request_bytes) {
        snprintf(text, sizeof text, "the input queue of canister %llu is full",
                 (unsigned long long)to);
        a = reject_answer(ST_CANISTER_BUSY, HOST_REJECT_SYS_TRANSIENT, text);
    } else {
        route_msg m = {.kind = ROUTE_REQUEST,
                       .from = c->id,
                       .callback = cb_id,
                       .cycles = o->cycles,
                       .deadline = deadline,
                       .method = o->method,
                       .data = o->arg};
        o->method = (buf){0};
        o->arg = (buf){0};
        st = enqueue(t, &m);
        msg_fini(&m);
        return st;
    }
    return respond_to(rc, c->id, cb_id, &a, o->cycles);
}

static status send_calls(round_ctx *rc, sched_canister *c, uint64_t ctx_id, host_result *res)
{
    status st = ST_OK;
    call_ctx *x = ctx_find(&c->route, ctx_id);
    if (x)
        x->outstanding += res->ncalls;
    for (uint32_t i = 0; st == ST_OK && i < res->ncalls; i++)
        st = send_call(rc, c, ctx_id, &res->calls[i]);
    return st;
}

/* After an incoming message of c (ingress or request) finished with res: answer now and keep
 * no context when it made no calls; else open a context for its callbacks. */
static status incoming_done(round_ctx *rc, sched_canister *c, const call_ctx *init,
                            host_result *res)
{
    sched_cycles_credit(c, res->cycles_accepted);
    answer a = answer_of(res);
    bool answered = res->kind != HOST_RESPONSE_NONE;
    if (res->ncalls == 0 || !res->committed) {
        call_ctx tmp = *init;
        tmp.instructions = res->instructions;
        tmp.available -= res->cycles_accepted;
        return ctx_answer(rc, c, &tmp, &a);
    }
    call_ctx *x;
    call_ctx fresh = *init;
    fresh.instructions = res->instructions;
    fresh.available -= res->cycles_accepted;
    status st = ctx_new(c, &fresh, &x);
    uint64_t id = x->id;
    if (st == ST_OK && answered)
        st = ctx_answer(rc, c, x, &a);
    return st == ST_OK ? send_calls(rc, c, id, res) : st;
}

status route_ingress_done(round_ctx *rc, sched_canister *c, const uint8_t id[LEDGER_HASH_SIZE],
                          span caller, host_result *res)
{
    call_ctx init = {.origin = ORIGIN_INGRESS};
    memcpy(init.msg_id, id, LEDGER_HASH_SIZE);
    size_t n = caller.len < PRINCIPAL_MAX ? caller.len : PRINCIPAL_MAX;
    memcpy(init.principal, caller.ptr, n);
    init.principal_len = (uint8_t)n;
    status st = incoming_done(rc, c, &init, res);
    return st == ST_OK ? route_check_stopped(rc, c) : st;
}

status route_task_done(round_ctx *rc, sched_canister *c, host_result *res)
{
    call_ctx init = {.origin = ORIGIN_SYSTEM}; /* no one to answer; callbacks see aaaaa-aa */
    return incoming_done(rc, c, &init, res);
}

/* ---- running queued messages ------------------------------------------------------------------
 * A request or a response runs sliced like an ingress update (docs/scheduler.md "Deterministic
 * time slicing"): it moves into c->paused, begins there, and round_run_slice runs its slices,
 * one per round after the first; route_paused_done does what its end does. Everything its
 * beginning changed (the queue, the callback it consumes, the refund, storage) is in the
 * canister's record, and c->paused keeps the rest (route_paused_encode), so a restarted node
 * begins it again from the record and re-runs its slices. */

/* The canister pays for a queued message like for ingress: storage up to now first, then
 * (sched_cycles_settle, when it ends) the execution of what it used, with the prepayment held
 * back from the balance it sees (docs/canisters.md "Cycles"). */
status route_paused_start(scheduler *s, sched_canister *c)
{
    paused_msg *p = &c->paused;
    const route_msg *m = &p->rm;
    host_msg hm = {.caller = span_of(p->caller, p->caller_len),
                   .time = p->time_ns,
                   .instruction_limit = s->genesis.message_instruction_limit,
                   .slice_limit = s->genesis.slice_instructions,
                   .call_room = route_call_room(c),
                   .cycles_prepaid = sched_fee_execution(s, s->genesis.message_instruction_limit),
                   .cycles_frozen = sched_freeze_reserve(s, c),
                   .arg = span_of(m->data.ptr, m->data.len)};
    host_call_kind kind = HOST_CALL_UPDATE;
    if (p->kind == PAUSED_REQUEST) {
        hm.method = span_of(m->method.ptr, m->method.len);
        hm.cycles_available = m->cycles;
        hm.deadline = m->deadline;
    } else if (p->kind == PAUSED_CALLBACK) {
        const call_ctx *x = ctx_find(&c->route, p->cb.ctx);
        if (!x)
            return ST_CORRUPT_LEDGER; /* every response answers a callback of a live context */
        kind = m->reject_code ? HOST_CALL_REJECT : HOST_CALL_REPLY;
        hm.cb_fun = m->reject_code ? p->cb.reject_fun : p->cb.reply_fun;
        hm.cb_env = m->reject_code ? p->cb.reject_env : p->cb.reply_env;
        hm.reject_code = m->reject_code;
        hm.replied = x->responded;
        hm.cycles_available = x->available;
        hm.cycles_refunded = m->cycles;
        hm.deadline = x->deadline;
    } else if (p->kind == PAUSED_CLEANUP) {
        const call_ctx *x = ctx_find(&c->route, p->cb.ctx);
        kind = HOST_CALL_CLEANUP;
        hm.deadline = x ? x->deadline : 0;
        hm.arg = span_of(NULL, 0);
        hm.cb_fun = p->cb.cleanup_fun;
        hm.cb_env = p->cb.cleanup_env;
        hm.reject_code = m->reject_code;
    } else if (p->kind == PAUSED_HEARTBEAT || p->kind == PAUSED_TIMER) {
        /* a task (tasks.c): the management canister calls it, without argument; its calls go
         * out in a call context no one awaits (route_task_done) */
        kind = p->kind == PAUSED_HEARTBEAT ? HOST_CALL_HEARTBEAT : HOST_CALL_GLOBAL_TIMER;
    } else {
        return ST_CORRUPT_LEDGER;
    }
    p->hmsg = hm;
    status st = host_canister_call_begin(c->hc, kind, &p->hmsg);
    if (st == ST_OK)
        p->active = true;
    return st;
}

/* Moves queued message m into c->paused as `kind` (from caller `principal`; a response with
 * its callback cb), begins it and runs its first slice. */
static status queued_begin(round_ctx *rc, sched_canister *c, route_msg *m, uint8_t kind,
                           span principal, const callback *cb)
{
    paused_msg *p = &c->paused;
    if (p->active)
        return BUG(); /* route_run skips a paused canister */
    sched_cycles_storage(rc->s, c, rc->time_ns);
    sched_paused_clear(p);
    p->kind = kind;
    p->rm = *m;
    memset(m, 0, sizeof *m);
    if (cb)
        p->cb = *cb;
    memcpy(p->caller, principal.ptr, principal.len);
    p->caller_len = (uint8_t)principal.len;
    p->time_ns = rc->time_ns;
    status st = route_paused_start(rc->s, c);
    if (st != ST_OK) {
        sched_paused_clear(p);
        return st;
    }
    return round_run_slice(rc, c);
}

/* Answers request m without running it: the reject goes to its caller with the request's
 * cycles. */
static status reject_request(round_ctx *rc, sched_canister *c, const route_msg *m, status st,
                             uint32_t code, const char *text)
{
    call_ctx x = {.origin = ORIGIN_CANISTER,
                  .caller = m->from,
                  .caller_cb = m->callback,
                  .available = m->cycles};
    answer a = reject_answer(st, code, text);
    return ctx_answer(rc, c, &x, &a);
}

static status run_request(round_ctx *rc, sched_canister *c, route_msg *m)
{
    if (c->route.status != LEDGER_CANISTER_RUNNING || c->route.deleted)
        return reject_request(rc, c, m, ST_CANISTER_STOPPED, HOST_REJECT_CANISTER_ERROR,
                              c->route.deleted ? "the canister was deleted"
                                               : "the canister is stopping or stopped");
    /* A canister that cannot keep its freezing reserve and prepay the request's execution is
     * not run: the request is rejected as on the IC (CanisterOutOfCycles, reject code 2, the
     * IC's text) and its cycles go back to the caller; the callee pays nothing but storage. */
    char text[200];
    if (!sched_cycles_can_run(rc->s, c, rc->time_ns, 0, text, sizeof text))
        return reject_request(rc, c, m, ST_CANISTER_OUT_OF_CYCLES, HOST_REJECT_SYS_TRANSIENT,
                              text);
    uint8_t principal[PRINCIPAL_MAX];
    size_t plen = sched_principal_of_canister(m->from, principal);
    return queued_begin(rc, c, m, PAUSED_REQUEST, span_of(principal, plen), NULL);
}

static status run_response(round_ctx *rc, sched_canister *c, route_msg *m)
{
    route_state *r = &c->route;
    callback *b = cb_find(r, m->callback);
    call_ctx *x = b ? ctx_find(r, b->ctx) : NULL;
    if (!b || !x)
        return ST_CORRUPT_LEDGER; /* every response answers a callback of a live context */
    uint8_t principal[PRINCIPAL_MAX];
    span caller = span_of(principal, x->principal_len);
    memcpy(principal, x->principal, PRINCIPAL_MAX);
    callback cb = *b;
    cb_remove(r, b);
    sched_cycles_credit(c, m->cycles); /* the refund reaches the balance, whatever follows */
    c->touched = true;
    return queued_begin(rc, c, m, PAUSED_CALLBACK, caller, &cb);
}

/* A response's callback (and cleanup) ended, having used `used` instructions: res is the
 * callback's result, or NULL if it trapped and a cleanup ran (`trap`: the trap's answer). The
 * context counts the instructions, takes what the callback accepted, answers, sends its calls,
 * is rejected if nothing can answer it any more, and goes once answered without calls. */
static status response_end(round_ctx *rc, sched_canister *c, uint64_t ctx_id, uint64_t used,
                           host_result *res, const answer *trap)
{
    route_state *r = &c->route;
    call_ctx *x = ctx_find(r, ctx_id);
    if (!x)
        return ST_CORRUPT_LEDGER;
    bool trapped = !res || status_class_of(res->st) == SC_TRAP;
    x->instructions += used;
    x->outstanding--;
    status st = ST_OK;
    if (res) {
        sched_cycles_credit(c, res->cycles_accepted);
        x->available -= res->cycles_accepted;
        if (res->kind != HOST_RESPONSE_NONE && !trapped && !x->responded) {
            answer a = answer_of(res);
            st = ctx_answer(rc, c, x, &a);
        }
        if (st == ST_OK && res->committed)
            st = send_calls(rc, c, ctx_id, res);
    }
    x = ctx_find(r, ctx_id);
    if (st == ST_OK && !x->responded && x->outstanding == 0) {
        /* nothing can answer it any more: reject it (the trap's text if the callback trapped) */
        answer a = trapped ? *trap
                           : reject_answer(ST_NO_REPLY, HOST_REJECT_CANISTER_ERROR,
                                           "NO_REPLY: canister did not reply to the call");
        a.reject_code = HOST_REJECT_CANISTER_ERROR;
        st = ctx_answer(rc, c, x, &a);
    }
    x = ctx_find(r, ctx_id);
    if (st == ST_OK && x->responded && x->outstanding == 0)
        ctx_remove(r, x);
    return st;
}

status route_paused_done(round_ctx *rc, sched_canister *c, host_result *res, bool *again)
{
    paused_msg *p = &c->paused;
    *again = false;
    sched_cycles_settle(rc->s, c, res, res->instructions);
    c->touched = true; /* the timer was deactivated, or the task's changes kept */
    status st;
    if (p->kind == PAUSED_HEARTBEAT || p->kind == PAUSED_TIMER) {
        return route_task_done(rc, c, res); /* its calls, if it made any and did not trap */
    } else if (p->kind == PAUSED_REQUEST) {
        call_ctx init = {.origin = ORIGIN_CANISTER,
                         .caller = p->rm.from,
                         .caller_cb = p->rm.callback,
                         .principal_len = p->caller_len,
                         .available = p->rm.cycles,
                         .deadline = p->rm.deadline};
        memcpy(init.principal, p->caller, p->caller_len);
        st = incoming_done(rc, c, &init, res);
    } else if (p->kind == PAUSED_CALLBACK && status_class_of(res->st) == SC_TRAP &&
               p->cb.has_cleanup) {
        /* the trapped callback is undone; its cleanup runs next, in the same message */
        p->prior_used = res->instructions;
        p->prior_st = (uint32_t)res->st;
        p->prior_text.len = 0;
        st = res->bytes.len ? buf_put(&p->prior_text, res->bytes.ptr, res->bytes.len) : ST_OK;
        p->kind = PAUSED_CLEANUP;
        p->slices = 0;
        p->used = 0;
        if (st == ST_OK)
            st = route_paused_start(rc->s, c);
        *again = st == ST_OK;
        return st;
    } else if (p->kind == PAUSED_CALLBACK) {
        answer trap = answer_of(res);
        st = response_end(rc, c, p->cb.ctx, res->instructions, res, &trap);
    } else {
        answer trap = {.st = (status)p->prior_st,
                       .reject_code = HOST_REJECT_CANISTER_ERROR,
                       .bytes = span_of(p->prior_text.ptr, p->prior_text.len)};
        st = response_end(rc, c, p->cb.ctx, p->prior_used + res->instructions, NULL, &trap);
    }
    return st == ST_OK ? route_check_stopped(rc, c) : st;
}

/* Pops and runs the head of c's queue. */
static status step(round_ctx *rc, sched_canister *c)
{
    route_state *r = &c->route;
    route_msg m = r->q[r->head++];
    if (m.kind == ROUTE_REQUEST) {
        r->requests--;
        r->request_bytes -= m.data.len + m.method.len;
    } else {
        r->response_bytes -= m.data.len;
    }
    if (r->head == r->len)
        r->head = r->len = 0;
    c->touched = true;
    status st = m.kind == ROUTE_REQUEST ? run_request(rc, c, &m) : run_response(rc, c, &m);
    msg_fini(&m); /* what queued_begin did not take */
    if (st == ST_OK && !c->paused.active)
        st = route_check_stopped(rc, c);
    return st;
}

status route_check_stopped(round_ctx *rc, sched_canister *c)
{
    route_state *r = &c->route;
    if (r->status != LEDGER_CANISTER_STOPPING || r->nctx || c->paused.active)
        return ST_OK;
    r->status = LEDGER_CANISTER_STOPPED;
    host_canister_set_status(c->hc, HOST_STATUS_STOPPED);
    c->touched = true;
    static const uint8_t empty[] = {'D', 'I', 'D', 'L', 0, 0};
    answer a = route_reply(span_of(empty, sizeof empty));
    status st = ST_OK;
    for (uint32_t i = 0; st == ST_OK && i < r->nstops; i++)
        st = route_answer_to(rc, &r->stops[i], &a);
    r->nstops = 0;
    return st;
}

status route_run(round_ctx *rc)
{
    scheduler *s = rc->s;
    uint32_t steps = 0;
    for (;;) {
        uint32_t n = s->ncanisters; /* a pass may add canisters: they wait for the next pass */
        bool ran = false;
        uint32_t start = n ? (uint32_t)(rc->height % n) : 0;
        for (uint32_t k = 0; k < n; k++) {
            if (rc->used >= s->genesis.round_instruction_limit || steps >= ROUTE_STEPS_MAX)
                return ST_OK;
            sched_canister *c = s->canisters[(start + k) % n];
            if (c->paused.active || c->route.head == c->route.len)
                continue;
            status st = step(rc, c);
            if (st != ST_OK)
                return st;
            steps++;
            ran = true;
        }
        if (!ran)
            return ST_OK;
    }
}

/* ---- best-effort calls ---------------------------------------------------------------------------- */

static bool expired(const callback *b, uint64_t time_ns)
{
    return b->deadline && !b->answered && b->deadline < time_ns;
}

status route_expire(round_ctx *rc)
{
    static const char text[] =
        "timeout: the best-effort call's deadline passed without a response";
    scheduler *s = rc->s;
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        for (uint32_t k = 0; k < c->route.ncb; k++) {
            callback *b = &c->route.cb[k];
            if (!expired(b, rc->time_ns))
                continue;
            /* no refund: the attached cycles stay with the request, and are burned when its
             * response is dropped (respond_to) */
            b->answered = true;
            route_msg m = {
                .kind = ROUTE_RESPONSE, .reject_code = HOST_REJECT_SYS_UNKNOWN, .callback = b->id};
            status st = buf_put(&m.data, text, sizeof text - 1);
            if (st == ST_OK)
                st = enqueue(c, &m);
            msg_fini(&m);
            if (st != ST_OK)
                return st;
        }
    }
    return ST_OK;
}

static bool any_callback(const scheduler *s, uint64_t time_ns)
{
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        const route_state *r = &s->canisters[i]->route;
        for (uint32_t k = 0; k < r->ncb; k++)
            if (expired(&r->cb[k], time_ns))
                return true;
    }
    return false;
}

bool route_deadline_due(const scheduler *s, uint64_t time_ns)
{
    return any_callback(s, time_ns);
}

bool route_deadline_pending(const scheduler *s)
{
    return any_callback(s, UINT64_MAX);
}

/* ---- introspection ------------------------------------------------------------------------------ */

status scheduler_canister_routing(scheduler *s, uint64_t canister_id, scheduler_routing *out)
{
    sched_canister *c = sched_canister_find(s, canister_id);
    if (!c)
        return ST_UNKNOWN_CANISTER;
    const paused_msg *p = &c->paused;
    *out = (scheduler_routing){.queued = c->route.len - c->route.head,
                               .contexts = c->route.nctx,
                               .callbacks = c->route.ncb,
                               .waiting = c->route.nwaits,
                               .paused = !p->active                   ? SCHEDULER_PAUSED_NONE
                                         : p->kind == PAUSED_REQUEST  ? SCHEDULER_PAUSED_REQUEST
                                         : p->kind == PAUSED_CALLBACK ? SCHEDULER_PAUSED_CALLBACK
                                         : p->kind == PAUSED_CLEANUP  ? SCHEDULER_PAUSED_CLEANUP
                                         : p->kind == PAUSED_INSTALL_CODE
                                             ? SCHEDULER_PAUSED_INSTALL_CODE
                                         : p->kind == PAUSED_HEARTBEAT || p->kind == PAUSED_TIMER
                                             ? SCHEDULER_PAUSED_TASK
                                             : SCHEDULER_PAUSED_INGRESS};
    return ST_OK;
}

static status bad(char *why, size_t n, uint64_t id, const char *what)
{
    if (why && n)
        snprintf(why, n, "canister %llu: %s", (unsigned long long)id, what);
    return ST_BUG_INVARIANT;
}

status scheduler_routing_check(scheduler *s, char *why, size_t why_len)
{
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        route_state *r = &c->route;
        const paused_msg *p = &c->paused;
        bool running_cb = p->active && (p->kind == PAUSED_CALLBACK || p->kind == PAUSED_CLEANUP);
        for (uint32_t k = 0; k < r->nctx; k++) {
            uint32_t n = running_cb && p->cb.ctx == r->ctx[k].id; /* its callback is running */
            for (uint32_t j = 0; j < r->ncb; j++)
                n += r->cb[j].ctx == r->ctx[k].id;
            if (n != r->ctx[k].outstanding)
                return bad(why, why_len, c->id, "a context's outstanding count is wrong");
            if (r->ctx[k].responded && n == 0)
                return bad(why, why_len, c->id, "an answered context without calls is kept");
        }
        for (uint32_t j = 0; j < r->ncb; j++) {
            if (!ctx_find(r, r->cb[j].ctx))
                return bad(why, why_len, c->id, "a callback without its context");
            uint32_t n = 0; /* an answered callback has its one response queued */
            for (uint32_t q = r->head; q < r->len; q++)
                n += r->q[q].kind == ROUTE_RESPONSE && r->q[q].callback == r->cb[j].id;
            if (n != (r->cb[j].answered ? 1u : 0u))
                return bad(why, why_len, c->id, "a callback's queued responses are wrong");
        }
        uint64_t wait_bytes = 0;
        for (uint32_t j = 0; j < r->nwaits; j++)
            wait_bytes += r->waits[j].method.len + r->waits[j].arg.len;
        if (r->nwaits && !p->active) /* they run when it ends, in the round where it ends */
            return bad(why, why_len, c->id, "aaaaa-aa calls wait without a paused message");
        if (wait_bytes != r->wait_bytes || r->nwaits > MGMT_WAIT_MAX ||
            wait_bytes > MGMT_WAIT_BYTES)
            return bad(why, why_len, c->id, "the waiting aaaaa-aa calls' bounds are wrong");
        for (uint32_t j = r->head; j < r->len; j++) {
            const route_msg *m = &r->q[j];
            if (m->kind == ROUTE_RESPONSE && !cb_find(r, m->callback))
                return bad(why, why_len, c->id, "a queued response answers no callback");
            sched_canister *from =
                m->kind == ROUTE_REQUEST ? sched_canister_find(s, m->from) : NULL;
            /* (a best-effort request may outlive its callback: it timed out) */
            if (from && !m->deadline && !cb_find(&from->route, m->callback))
                return bad(why, why_len, c->id, "a queued request has no callback at its caller");
        }
    }
    return ST_OK;
}

/* ---- encoding ------------------------------------------------------------------------------------
 * u8 version (2) | u64 next_ctx | u64 next_cb
 * | u32 n, n contexts: u64 id, u8 origin, 32-byte msg id, u64 caller, u64 caller_cb,
 *     u8 principal length, 29 principal bytes, u8 responded, u32 outstanding, u64 instructions,
 *     u128 available, u64 deadline
 * | u32 n, n callbacks: u64 id, u64 ctx, 6 x u32 (reply fun/env, reject fun/env, cleanup
 *     fun/env), u8 has_cleanup, u64 deadline, u8 answered
 * | u32 n, n queued messages: u8 kind, u32 reject_code, u64 from, u64 callback, u128 cycles,
 *     u64 deadline, u32 length + method, u32 length + data
 * | u8 status (ledger_canister_status) | u8 deleted
 * | u32 n, n waiting stop_canister calls: u8 origin, 32-byte msg id, u64 caller, u64 caller_cb
 *   [ version 3: u128 the cycles attached (refunded with the answer) ]
 * [ version 3: u32 n, n aaaaa-aa calls waiting for the paused message (mgmt.c), oldest first:
 *   their origin as a waiting stop's | u128 cycles attached | u64 calling canister (0: ingress)
 *   | 32-byte sender key (ingress; else zero) | u32 length + method | u32 length + argument ]
 * All integers little-endian; u128 as low then high u64. Version 3 is written only while calls
 * wait for a paused message or a waiting stop_canister carries cycles, so every other state
 * encodes as in version 2. Version 1 (read, never written) had two u128 after the version
 * (always 0) and no deadlines or answered flags. */

typedef struct wr {
    buf *b;
    status st;
} wr;

static void w_bytes(wr *w, const void *p, size_t n)
{
    if (w->st == ST_OK && n)
        w->st = buf_put(w->b, p, n);
}

static void w8(wr *w, uint8_t v)
{
    w_bytes(w, &v, 1);
}

static void w32(wr *w, uint32_t v)
{
    uint8_t t[4];
    le32_store(t, v);
    w_bytes(w, t, 4);
}

static void w64(wr *w, uint64_t v)
{
    uint8_t t[8];
    le64_store(t, v);
    w_bytes(w, t, 8);
}

static void w128(wr *w, u128 v)
{
    w64(w, (uint64_t)v);
    w64(w, (uint64_t)(v >> 64));
}

static void wbuf(wr *w, const buf *b)
{
    if (b->len > UINT32_MAX) {
        w->st = ST_LIMIT_EXCEEDED;
        return;
    }
    w32(w, (uint32_t)b->len);
    w_bytes(w, b->ptr, b->len);
}

/* Whom a call is answered to: a waiting stop_canister, a paused install_code. */
static void w_origin(wr *w, const call_ctx *x)
{
    w8(w, x->origin);
    w_bytes(w, x->msg_id, LEDGER_HASH_SIZE);
    w64(w, x->caller);
    w64(w, x->caller_cb);
}

static void w_cb(wr *w, const callback *b)
{
    w64(w, b->id);
    w64(w, b->ctx);
    w32(w, b->reply_fun);
    w32(w, b->reply_env);
    w32(w, b->reject_fun);
    w32(w, b->reject_env);
    w32(w, b->cleanup_fun);
    w32(w, b->cleanup_env);
    w8(w, b->has_cleanup);
    w64(w, b->deadline);
    w8(w, b->answered);
}

static void w_msg(wr *w, const route_msg *m)
{
    w8(w, m->kind);
    w32(w, m->reject_code);
    w64(w, m->from);
    w64(w, m->callback);
    w128(w, m->cycles);
    w64(w, m->deadline);
    wbuf(w, &m->method);
    wbuf(w, &m->data);
}

status route_encode(const sched_canister *c, buf *out)
{
    const route_state *r = &c->route;
    wr w = {out, ST_OK};
    bool v3 = r->nwaits > 0;
    for (uint32_t i = 0; i < r->nstops; i++)
        v3 |= r->stops[i].available != 0;
    w8(&w, v3 ? ROUTE_VERSION_WAITS : ROUTE_VERSION);
    w64(&w, r->next_ctx);
    w64(&w, r->next_cb);
    w32(&w, r->nctx);
    for (uint32_t i = 0; i < r->nctx; i++) {
        const call_ctx *x = &r->ctx[i];
        w64(&w, x->id);
        w8(&w, x->origin);
        w_bytes(&w, x->msg_id, LEDGER_HASH_SIZE);
        w64(&w, x->caller);
        w64(&w, x->caller_cb);
        w8(&w, x->principal_len);
        w_bytes(&w, x->principal, PRINCIPAL_MAX);
        w8(&w, x->responded);
        w32(&w, x->outstanding);
        w64(&w, x->instructions);
        w128(&w, x->available);
        w64(&w, x->deadline);
    }
    w32(&w, r->ncb);
    for (uint32_t i = 0; i < r->ncb; i++) {
        w_cb(&w, &r->cb[i]);
    }
    w32(&w, r->len - r->head);
    for (uint32_t i = r->head; i < r->len; i++) {
        w_msg(&w, &r->q[i]);
    }
    w8(&w, r->status);
    w8(&w, r->deleted);
    w32(&w, r->nstops);
    for (uint32_t i = 0; i < r->nstops; i++) {
        w_origin(&w, &r->stops[i]);
        if (v3)
            w128(&w, r->stops[i].available);
    }
    if (!v3)
        return w.st;
    w32(&w, r->nwaits);
    for (uint32_t i = 0; i < r->nwaits; i++) {
        const mgmt_wait *x = &r->waits[i];
        w_origin(&w, &x->origin);
        w128(&w, x->origin.available);
        w64(&w, x->caller);
        w_bytes(&w, x->key, LEDGER_PUBLIC_KEY_SIZE);
        wbuf(&w, &x->method);
        wbuf(&w, &x->arg);
    }
    return w.st;
}

typedef struct rd {
    reader r;
    bool bad;
    bool v1; /* a version-1 routing record: no deadlines */
} rd;

static uint8_t r8(rd *d)
{
    uint8_t v = 0;
    d->bad |= reader_u8(&d->r, &v) != ST_OK;
    return v;
}

static uint32_t r32(rd *d)
{
    uint32_t v = 0;
    d->bad |= reader_fixed32(&d->r, &v) != ST_OK;
    return v;
}

static uint64_t r64(rd *d)
{
    uint64_t v = 0;
    d->bad |= reader_fixed64(&d->r, &v) != ST_OK;
    return v;
}

static u128 r128(rd *d)
{
    uint64_t lo = r64(d), hi = r64(d);
    return (u128)hi << 64 | lo;
}

static void rfixed(rd *d, void *out, size_t n)
{
    span s;
    if (reader_bytes(&d->r, n, &s) != ST_OK) {
        d->bad = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, s.ptr, n);
}

static status rbuf(rd *d, buf *out)
{
    uint32_t n = r32(d);
    span s;
    if (d->bad || reader_bytes(&d->r, n, &s) != ST_OK) {
        d->bad = true;
        return ST_OK;
    }
    return n ? buf_put(out, s.ptr, n) : ST_OK;
}

static void r_origin(rd *d, call_ctx *x)
{
    memset(x, 0, sizeof *x);
    x->origin = r8(d);
    rfixed(d, x->msg_id, LEDGER_HASH_SIZE);
    x->caller = r64(d);
    x->caller_cb = r64(d);
}

static void r_cb(rd *d, callback *b)
{
    b->id = r64(d);
    b->ctx = r64(d);
    b->reply_fun = r32(d);
    b->reply_env = r32(d);
    b->reject_fun = r32(d);
    b->reject_env = r32(d);
    b->cleanup_fun = r32(d);
    b->cleanup_env = r32(d);
    b->has_cleanup = r8(d) != 0;
    b->deadline = d->v1 ? 0 : r64(d);
    b->answered = !d->v1 && r8(d) != 0;
}

/* A queued message into m (whose bufs it owns from then on). */
static status r_msg(rd *d, route_msg *m)
{
    memset(m, 0, sizeof *m);
    m->kind = r8(d);
    m->reject_code = r32(d);
    m->from = r64(d);
    m->callback = r64(d);
    m->cycles = r128(d);
    m->deadline = d->v1 ? 0 : r64(d);
    status st = rbuf(d, &m->method);
    return st == ST_OK ? rbuf(d, &m->data) : st;
}

status route_decode(span bytes, sched_canister *c)
{
    route_state *r = &c->route;
    rd d = {reader_of(bytes), false, false};
    uint8_t version = r8(&d);
    if (version != ROUTE_VERSION && version != ROUTE_VERSION_1 && version != ROUTE_VERSION_WAITS)
        return ST_CORRUPT_LEDGER;
    bool v3 = version == ROUTE_VERSION_WAITS;
    d.v1 = version == ROUTE_VERSION_1;
    if (d.v1) /* two u128 that were always 0 */
        d.bad |= r128(&d) != 0 || r128(&d) != 0;
    r->next_ctx = r64(&d);
    r->next_cb = r64(&d);
    uint32_t n = r32(&d);
    status st = ST_OK;
    if (!d.bad && n > reader_left(&d.r))
        d.bad = true;
    if (!d.bad)
        st = base_grow((void **)&r->ctx, &r->ctx_cap, n, sizeof *r->ctx, 8);
    for (uint32_t i = 0; st == ST_OK && !d.bad && i < n; i++) {
        call_ctx *x = &r->ctx[r->nctx++];
        x->id = r64(&d);
        x->origin = r8(&d);
        rfixed(&d, x->msg_id, LEDGER_HASH_SIZE);
        x->caller = r64(&d);
        x->caller_cb = r64(&d);
        x->principal_len = r8(&d);
        rfixed(&d, x->principal, PRINCIPAL_MAX);
        x->responded = r8(&d) != 0;
        x->outstanding = r32(&d);
        x->instructions = r64(&d);
        x->available = r128(&d);
        x->deadline = d.v1 ? 0 : r64(&d);
        d.bad |= x->principal_len > PRINCIPAL_MAX || (i && x->id <= r->ctx[i - 1].id);
    }
    n = r32(&d);
    if (!d.bad && n > reader_left(&d.r))
        d.bad = true;
    if (st == ST_OK && !d.bad)
        st = base_grow((void **)&r->cb, &r->cb_cap, n, sizeof *r->cb, 8);
    for (uint32_t i = 0; st == ST_OK && !d.bad && i < n; i++) {
        callback *b = &r->cb[r->ncb++];
        r_cb(&d, b);
        d.bad |= i && b->id <= r->cb[i - 1].id;
    }
    n = r32(&d);
    if (!d.bad && n > reader_left(&d.r))
        d.bad = true;
    if (st == ST_OK && !d.bad)
        st = base_grow((void **)&r->q, &r->cap, n, sizeof *r->q, 8);
    for (uint32_t i = 0; st == ST_OK && !d.bad && i < n; i++) {
        route_msg *m = &r->q[r->len++];
        st = r_msg(&d, m);
        if (m->kind == ROUTE_REQUEST) {
            r->requests++;
            r->request_bytes += m->method.len + m->data.len;
        } else {
            r->response_bytes += m->data.len;
        }
        d.bad |= m->kind != ROUTE_REQUEST && m->kind != ROUTE_RESPONSE;
    }
    r->status = r8(&d);
    r->deleted = r8(&d) != 0;
    n = r32(&d);
    d.bad |= r->status > LEDGER_CANISTER_STOPPED || n > reader_left(&d.r);
    if (st == ST_OK && !d.bad && n)
        st = base_grow((void **)&r->stops, &r->stops_cap, n, sizeof *r->stops, 8);
    for (uint32_t i = 0; st == ST_OK && !d.bad && i < n; i++) {
        call_ctx *x = &r->stops[r->nstops++];
        r_origin(&d, x);
        if (v3)
            x->available = r128(&d);
    }
    n = v3 ? r32(&d) : 0;
    if (!d.bad && (n > reader_left(&d.r) || n > MGMT_WAIT_MAX))
        d.bad = true;
    if (st == ST_OK && !d.bad && n)
        st = base_grow((void **)&r->waits, &r->waits_cap, n, sizeof *r->waits, 4);
    for (uint32_t i = 0; st == ST_OK && !d.bad && i < n; i++) {
        mgmt_wait *x = &r->waits[r->nwaits++];
        memset(x, 0, sizeof *x);
        r_origin(&d, &x->origin);
        x->origin.available = r128(&d);
        x->caller = r64(&d);
        rfixed(&d, x->key, LEDGER_PUBLIC_KEY_SIZE);
        st = rbuf(&d, &x->method);
        if (st == ST_OK)
            st = rbuf(&d, &x->arg);
        r->wait_bytes += x->method.len + x->arg.len;
    }
    bool carried = false; /* version 3 is written only for waits or stops with cycles */
    for (uint32_t i = 0; i < r->nstops; i++)
        carried |= r->stops[i].available != 0;
    d.bad |= v3 && r->nwaits == 0 && !carried;
    if (st == ST_OK && (d.bad || reader_left(&d.r) != 0))
        st = ST_CORRUPT_LEDGER;
    return st;
}

/* A paused queued message (the aux record's paused part, docs/scheduler.md "Restarts"): its
 * queued message as above | callback as above | u8 caller length, 29 caller bytes | u64 prior
 * used | u32 prior status | u32 length + prior text
 * [ PAUSED_INSTALL_CODE: u8 mode | 32-byte module hash | u64 deploy charge | the call's origin
 *   as a waiting stop's | u128 its cycles ]. */
status route_paused_encode(const paused_msg *p, buf *out)
{
    wr w = {out, ST_OK};
    w_msg(&w, &p->rm);
    w_cb(&w, &p->cb);
    w8(&w, p->caller_len);
    w_bytes(&w, p->caller, PRINCIPAL_MAX);
    w64(&w, p->prior_used);
    w32(&w, p->prior_st);
    wbuf(&w, &p->prior_text);
    if (p->kind == PAUSED_INSTALL_CODE) {
        if (!p->code)
            return BUG();
        w8(&w, p->mode);
        w_bytes(&w, p->code->hash, LEDGER_HASH_SIZE);
        w64(&w, p->cost);
        w_origin(&w, &p->origin);
        w128(&w, p->origin.available);
    }
    return w.st;
}

status route_paused_decode(span bytes, uint8_t kind, uint64_t time_ns, paused_msg *p)
{
    rd d = {reader_of(bytes), false, false};
    sched_paused_clear(p);
    status st = r_msg(&d, &p->rm);
    r_cb(&d, &p->cb);
    p->caller_len = r8(&d);
    rfixed(&d, p->caller, PRINCIPAL_MAX);
    p->prior_used = r64(&d);
    p->prior_st = r32(&d);
    if (st == ST_OK)
        st = rbuf(&d, &p->prior_text);
    if (kind == PAUSED_INSTALL_CODE) {
        p->mode = r8(&d);
        rfixed(&d, p->code_hash, LEDGER_HASH_SIZE);
        p->cost = r64(&d);
        r_origin(&d, &p->origin);
        p->origin.available = r128(&d);
        d.bad |= p->mode < INSTALL_MODE_INSTALL || p->mode > INSTALL_MODE_UPGRADE;
    }
    p->kind = kind;
    p->time_ns = time_ns;
    d.bad |=
        p->caller_len > PRINCIPAL_MAX || kind > PAUSED_TIMER ||
        (kind < PAUSED_HEARTBEAT && p->rm.kind != ROUTE_REQUEST && p->rm.kind != ROUTE_RESPONSE);
    if (st == ST_OK && (d.bad || reader_left(&d.r) != 0))
        st = ST_CORRUPT_LEDGER;
    if (st != ST_OK)
        sched_paused_clear(p);
    return st;
}
