/* tasks.c - the system tasks of a round: canister_heartbeat once per round for every canister
 * that exports it, and canister_global_timer once block time has reached the timer the
 * canister armed with ic0.global_timer_set (docs/canisters.md "Timers and heartbeat").
 *
 * Tasks run after the paused messages resume and before new messages, canisters in id order,
 * heartbeat before timer. They depend only on the committed state and the block's time, which
 * the block records, so replay runs the very same tasks. A task is metered and limited (one
 * slice: limits.slice_instructions; tasks are not sliced), charged in cycles like a message,
 * and skipped while its canister has a paused message or cannot pay (frozen); it has no
 * receipt: what it did is in the state. The calls a task makes go out like a message's, in a
 * call context that no one awaits (route.c route_task_done). */
#include "scheduler_int.h"

#include <string.h>

/* The caller tasks see: the management canister aaaaa-aa (the empty principal), as on the IC. */
static const uint8_t MANAGEMENT[1] = {0};

static uint64_t task_limit(const scheduler *s)
{
    uint64_t lim = s->genesis.slice_instructions;
    return lim < s->genesis.message_instruction_limit ? lim : s->genesis.message_instruction_limit;
}

/* What a task's execution must find in the balance: its prepayment and the freezing reserve. */
static u128 task_need(const scheduler *s, const sched_canister *c)
{
    return u128_add_sat(sched_fee_execution(s, task_limit(s)), sched_freeze_reserve(s, c));
}

/* The tasks c has to run at time_ns: its code exports them, the timer is due, the canister is
 * idle and can pay (a frozen canister runs no task, so it makes no block either). */
static unsigned due(const scheduler *s, const sched_canister *c, uint64_t time_ns)
{
    if (!c->code || c->paused.active || host_canister_cycles(c->hc) < task_need(s, c))
        return 0;
    unsigned t = host_code_tasks(c->code->code);
    uint64_t timer = host_canister_timer(c->hc);
    if (!timer || timer > time_ns)
        t &= ~(unsigned)HOST_TASK_GLOBAL_TIMER;
    return t;
}

bool sched_tasks_due(const scheduler *s, uint64_t time_ns)
{
    for (uint32_t i = 0; i < s->ncanisters; i++)
        if (due(s, s->canisters[i], time_ns))
            return true;
    return false;
}

bool sched_tasks_pending(const scheduler *s)
{
    for (uint32_t i = 0; i < s->ncanisters; i++)
        if (due(s, s->canisters[i], UINT64_MAX))
            return true;
    return false;
}

/* Runs one task of c; a canister that cannot pay for it skips it (the timer stays armed). */
static status run_task(round_ctx *rc, sched_canister *c, host_call_kind kind)
{
    scheduler *s = rc->s;
    uint64_t limit = task_limit(s);
    host_msg hm = {.caller = span_of(MANAGEMENT, 0),
                   .time = rc->time_ns,
                   .instruction_limit = limit,
                   .call_room = route_call_room(c),
                   .cycles_prepaid = sched_fee_execution(s, limit),
                   .cycles_frozen = sched_freeze_reserve(s, c)};
    if (host_canister_cycles(c->hc) < task_need(s, c)) /* the heartbeat spent it */
        return ST_OK;
    host_result res;
    status st = host_canister_call(c->hc, kind, &hm, &res);
    if (st == ST_OK) {
        rc->used += res.instructions;
        rc->tasks++;
        c->touched = true; /* the timer was deactivated, or the task's changes kept */
        sched_cycles_settle(s, c, &res, res.instructions);
        st = route_task_done(rc, c, &res); /* its calls, if it made any and did not trap */
    }
    host_result_fini(&res);
    return st;
}

status round_run_tasks(round_ctx *rc)
{
    scheduler *s = rc->s;
    status st = ST_OK;
    for (uint32_t i = 0; st == ST_OK && i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        unsigned t = due(s, c, rc->time_ns);
        if (!t)
            continue;
        sched_cycles_storage(s, c, rc->time_ns);
        if (t & HOST_TASK_HEARTBEAT)
            st = run_task(rc, c, HOST_CALL_HEARTBEAT);
        if (st == ST_OK && (t & HOST_TASK_GLOBAL_TIMER))
            st = run_task(rc, c, HOST_CALL_GLOBAL_TIMER);
    }
    return st;
}
