/* call.c - the ic0 functions of inter-canister calls and of the cycles that ride on them:
 * call_new, call_data_append, call_on_cleanup, call_with_best_effort_response,
 * call_cycles_add(128), call_perform; msg_reject_code; msg_cycles_available/refunded/accept
 * (and their 128-bit forms). Semantics: the IC interface specification, "Canister interface
 * (System API)" and the abstract behaviour of these functions (docs/canisters.md "Calls").
 *
 * A message builds at most one call at a time (x->pending); call_perform moves it to
 * x->calls. Nothing leaves the canister here: the calls are handed to the scheduler in the
 * message's host_result when it commits, and dropped (their cycles given back) when it traps.
 * The cycles attached to calls come out of the liquid balance (cycles.c's exec_cycles_take);
 * accepted cycles out of x->available. */
#include "host_int.h"

#include <string.h>

enum { CALLEE_MAX = 29, BEST_EFFORT_MAX_SECONDS = 300 };

void host_call_out_fini(host_call_out *o)
{
    buf_fini(&o->method);
    buf_fini(&o->arg);
    memset(o, 0, sizeof *o);
}

void exec_calls_begin(exec *x)
{
    x->replied_before = x->msg.replied;
    x->building = false;
    x->available = x->msg.cycles_available;
    x->cycles_accepted = 0;
}

/* Drops the call under construction, giving its cycles back (the spec's discard_pending_call). */
static void discard_pending(exec *x)
{
    if (!x->building)
        return;
    exec_cycles_give(x, x->pending.cycles);
    host_call_out_fini(&x->pending);
    x->building = false;
}

void exec_calls_drop(exec *x)
{
    discard_pending(x);
    for (uint32_t i = 0; i < x->ncalls; i++) {
        exec_cycles_give(x, x->calls[i].cycles);
        host_call_out_fini(&x->calls[i]);
    }
    base_free(x->calls);
    x->calls = NULL;
    x->ncalls = x->calls_cap = 0;
    x->available += x->cycles_accepted;
    x->cycles_accepted = 0;
}

static uint32_t a32(const uint64_t *slots, int i)
{
    return (uint32_t)slots[i];
}

/* A callback must be a function [i32] -> [] of table 0. */
static status check_callback(exec *x, const char *fn, uint32_t index)
{
    engine_func *f = engine_instance_table_func(x->inst, index);
    const functype *t = f ? engine_func_functype(f) : NULL;
    if (!t || t->nparams != 1 || t->nresults != 0 || t->types[0] != VT_I32)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.%s: table entry %u is not a function "
                         "[i32] -> []",
                         fn, index);
    return ST_OK;
}

static status need_pending(exec *x, const char *fn)
{
    if (!x->building)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.%s: no call under construction "
                         "(call ic0.call_new first)",
                         fn);
    return ST_OK;
}

status h_call_new(exec *x, uint64_t *slots)
{
    uint64_t callee_len = a32(slots, 1), name_len = a32(slots, 3);
    uint8_t *callee = NULL, *name = NULL;
    discard_pending(x);
    /* call_new charges its bytes here: both sizes (ic0.def), not just its last argument */
    status st = exec_charge(x, callee_len + name_len);
    if (st == ST_OK)
        st = exec_mem(x, "call_new", a32(slots, 0), callee_len, false, &callee);
    if (st == ST_OK)
        st = exec_mem(x, "call_new", a32(slots, 2), name_len, false, &name);
    if (st != ST_OK)
        return st;
    if (callee_len > CALLEE_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.call_new: callee of %llu bytes is not "
                         "a principal",
                         (unsigned long long)callee_len);
    if (name_len > HOST_METHOD_NAMES_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION, "ic0.call_new: method name of %llu bytes",
                         (unsigned long long)name_len);
    st = check_callback(x, "call_new", a32(slots, 4));
    if (st == ST_OK)
        st = check_callback(x, "call_new", a32(slots, 6));
    if (st != ST_OK)
        return st;
    host_call_out *o = &x->pending;
    memset(o, 0, sizeof *o);
    if (callee_len)
        memcpy(o->callee, callee, (size_t)callee_len);
    o->callee_len = (uint32_t)callee_len;
    o->reply_fun = a32(slots, 4);
    o->reply_env = a32(slots, 5);
    o->reject_fun = a32(slots, 6);
    o->reject_env = a32(slots, 7);
    st = name_len ? buf_put(&o->method, name, (size_t)name_len) : ST_OK;
    if (st != ST_OK) {
        host_call_out_fini(o);
        return st;
    }
    x->building = true;
    return ST_OK;
}

status h_call_data_append(exec *x, uint64_t *slots)
{
    uint64_t n = a32(slots, 1);
    uint8_t *p = NULL;
    status st = need_pending(x, "call_data_append");
    if (st == ST_OK)
        st = exec_mem(x, "call_data_append", a32(slots, 0), n, false, &p);
    if (st != ST_OK)
        return st;
    if (n > x->c->cfg.max_reply_bytes - x->pending.arg.len)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.call_data_append: argument of %llu "
                         "bytes, limit %llu",
                         (unsigned long long)(x->pending.arg.len + n),
                         (unsigned long long)x->c->cfg.max_reply_bytes);
    return n ? buf_put(&x->pending.arg, p, (size_t)n) : ST_OK;
}

status h_call_on_cleanup(exec *x, uint64_t *slots)
{
    status st = check_callback(x, "call_on_cleanup", a32(slots, 0));
    if (st == ST_OK)
        st = need_pending(x, "call_on_cleanup");
    if (st != ST_OK)
        return st;
    if (x->pending.has_cleanup)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.call_on_cleanup: the call already has "
                         "a cleanup callback");
    x->pending.has_cleanup = true;
    x->pending.cleanup_fun = a32(slots, 0);
    x->pending.cleanup_env = a32(slots, 1);
    return ST_OK;
}

status h_call_with_best_effort_response(exec *x, uint64_t *slots)
{
    status st = need_pending(x, "call_with_best_effort_response");
    if (st != ST_OK)
        return st;
    if (x->pending.best_effort)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.call_with_best_effort_response: "
                         "called twice for one call");
    uint32_t t = a32(slots, 0);
    x->pending.best_effort = true;
    x->pending.timeout_seconds = t > BEST_EFFORT_MAX_SECONDS ? BEST_EFFORT_MAX_SECONDS : t;
    return ST_OK;
}

static status cycles_add(exec *x, const char *fn, u128 amount)
{
    status st = need_pending(x, fn);
    if (st != ST_OK)
        return st;
    if (exec_cycles_take(x, amount) != ST_OK)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.%s: %llu cycles asked, %llu liquid in "
                         "the balance (low 64 bits)",
                         fn, (unsigned long long)amount,
                         (unsigned long long)exec_cycles_liquid(x));
    x->pending.cycles += amount;
    return ST_OK;
}

status h_call_cycles_add(exec *x, uint64_t *slots)
{
    return cycles_add(x, "call_cycles_add", slots[0]);
}

status h_call_cycles_add128(exec *x, uint64_t *slots)
{
    return cycles_add(x, "call_cycles_add128", ((u128)slots[0] << 64) | slots[1]);
}

status h_call_perform(exec *x, uint64_t *slots)
{
    status st = need_pending(x, "call_perform");
    if (st != ST_OK)
        return st;
    if (x->ncalls >= x->msg.call_room) { /* the output queue is full: the call fails */
        discard_pending(x);
        slots[0] = HOST_REJECT_SYS_TRANSIENT;
        return ST_OK;
    }
    st = base_grow((void **)&x->calls, &x->calls_cap, x->ncalls + 1, sizeof *x->calls, 4);
    if (st != ST_OK)
        return st;
    x->calls[x->ncalls++] = x->pending;
    memset(&x->pending, 0, sizeof x->pending);
    x->building = false;
    slots[0] = 0;
    return ST_OK;
}

status h_msg_reject_code(exec *x, uint64_t *slots)
{
    slots[0] = x->kind == HOST_CALL_REPLY ? 0 : x->msg.reject_code;
    return ST_OK;
}

/* ---- cycles of the message ------------------------------------------------------------------ */

static status put128(exec *x, const char *fn, uint32_t dst, u128 v)
{
    uint8_t *p = NULL;
    status st = exec_mem(x, fn, dst, 16, true, &p);
    if (st == ST_OK) {
        le64_store(p, (uint64_t)v);
        le64_store(p + 8, (uint64_t)(v >> 64));
    }
    return st;
}

static status get64(exec *x, const char *fn, u128 v, uint64_t *out)
{
    if (v > UINT64_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.%s: the amount does not fit in 64 bits "
                         "(use the 128-bit form)",
                         fn);
    *out = (uint64_t)v;
    return ST_OK;
}

static u128 accept(exec *x, u128 max)
{
    u128 n = max < x->available ? max : x->available;
    x->available -= n;
    x->cycles_accepted += n;
    return n;
}

status h_msg_cycles_available(exec *x, uint64_t *slots)
{
    return get64(x, "msg_cycles_available", x->available, &slots[0]);
}

status h_msg_cycles_available128(exec *x, uint64_t *slots)
{
    return put128(x, "msg_cycles_available128", a32(slots, 0), x->available);
}

status h_msg_cycles_refunded(exec *x, uint64_t *slots)
{
    return get64(x, "msg_cycles_refunded", x->msg.cycles_refunded, &slots[0]);
}

status h_msg_cycles_refunded128(exec *x, uint64_t *slots)
{
    return put128(x, "msg_cycles_refunded128", a32(slots, 0), x->msg.cycles_refunded);
}

status h_msg_cycles_accept(exec *x, uint64_t *slots)
{
    slots[0] = (uint64_t)accept(x, slots[0]);
    return ST_OK;
}

status h_msg_cycles_accept128(exec *x, uint64_t *slots)
{
    u128 n = accept(x, ((u128)slots[0] << 64) | slots[1]);
    return put128(x, "msg_cycles_accept128", a32(slots, 2), n);
}
