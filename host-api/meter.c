/* meter.c - the instruction accounting of the message a canister runs: the instrumented
 * module's `__tally_counter` global counts down one slice at a time; finished slices add up in
 * exec.used_before. Charges (ic0 calls, metering checks) land here, a slice that runs out starts
 * the next one or traps at the message limit, and a switch of instance (a start function, an
 * upgrade's new code) carries the count over. Everything else of the message is canister.c
 * (lifecycle) and ic0.c (handlers); docs/metering.md has the rules. */
#include "host_int.h"

uint64_t exec_used(const exec *x)
{
    if (!x->counter)
        return x->used_before;
    int64_t ctr = (int64_t)engine_global_get(x->counter);
    /* slice_start <= INT64_MAX and ctr >= INT64_MIN: the difference fits in a uint64. */
    uint64_t slice = x->slice_start - (uint64_t)ctr;
    uint64_t used = x->used_before + slice;
    return used < x->used_before ? UINT64_MAX : used;
}

/* The counter went negative: the slice is over. Start the next one (and ask the engine to pause
 * when the message may be sliced), or trap when the message limit is used up. Because the next
 * slice never goes past the limit, the trap happens at the same metering point whatever the
 * slice size: instruction counts do not depend on slicing. */
static status slice_end(exec *x)
{
    uint64_t used = exec_used(x);
    if (used > x->limit)
        return exec_fail(x, ST_INSTRUCTION_LIMIT_EXCEEDED, "limit %llu, used %llu",
                         (unsigned long long)x->limit, (unsigned long long)used);
    uint64_t left = x->limit - used;
    uint64_t next = left < x->slice ? left : x->slice;
    x->used_before = used;
    x->slice_base = used;
    x->slice_start = next;
    engine_global_set(x->counter, next);
    if (x->pausable)
        engine_instance_pause_request(x->inst);
    return ST_OK;
}

status exec_charge(exec *x, uint64_t amount)
{
    int64_t ctr = (int64_t)engine_global_get(x->counter);
    uint64_t room = (uint64_t)ctr - (uint64_t)INT64_MIN; /* how far down to INT64_MIN */
    int64_t next = amount >= room ? INT64_MIN : (int64_t)((uint64_t)ctr - amount);
    engine_global_set(x->counter, (uint64_t)next);
    return next < 0 ? slice_end(x) : ST_OK;
}

status exec_enter(engine_instance *inst, exec **out)
{
    exec *x = engine_instance_host(inst);
    if (x->inst != inst) { /* a start function: its instance is new to the message */
        x->counter = engine_instance_global(inst, x->counter_index);
        x->inst = inst;
    }
    *out = x;
    if (x->ctx == CTX_RESTORE) {
        x->restore_stopped = true;
        return ST_TRAP_HOST;
    }
    return ST_OK;
}

void exec_settle(exec *x)
{
    x->used_before = exec_used(x);
    x->counter = NULL;
    x->inst = NULL;
    x->slice_start = 0;
}

void exec_switch(exec *x, engine_instance *inst, engine_global *g)
{
    exec_settle(x);
    uint64_t left = x->used_before >= x->limit ? 0 : x->limit - x->used_before;
    uint64_t next = left < x->slice ? left : x->slice;
    x->inst = inst;
    x->counter = g;
    x->slice_start = next;
    engine_global_set(g, next);
}

void exec_continue(exec *x, engine_instance *inst, engine_global *g)
{
    exec_settle(x);
    uint64_t used = x->used_before;
    uint64_t left = used >= x->limit ? 0 : x->limit - used;
    uint64_t in_slice = used - x->slice_base;
    uint64_t room = in_slice >= x->slice ? 0 : x->slice - in_slice;
    uint64_t next = left < room ? left : room; /* 0: the first check ends the slice */
    x->inst = inst;
    x->counter = g;
    x->slice_start = next;
    engine_global_set(g, next);
}

status ic0_out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)user;
    (void)slots;
    exec *x;
    status st = exec_enter(inst, &x);
    if (st != ST_OK)
        return st;
    return (int64_t)engine_global_get(x->counter) < 0 ? slice_end(x) : ST_OK;
}
