/* tasks.c - the system tasks of a round: canister_heartbeat once per round for every canister
 * that exports it, and canister_global_timer once block time has reached the timer the
 * canister armed with ic0.global_timer_set (docs/canisters.md "Timers and heartbeat").
 *
 * Tasks run after the paused messages resume and before new messages, canisters in id order,
 * heartbeat before timer. They depend only on the committed state and the block's time, which
 * the block records, so replay runs the very same tasks. A task is metered, limited by
 * message_instruction_limit and sliced like an update (its paused state is the canister's
 * paused message, route.c's route_paused_start), charged in cycles like a message, and skipped
 * while its canister has a paused message or cannot pay (frozen); it has no receipt: what it
 * did is in the state. */
#include "scheduler_int.h"

#include <string.h>

static uint64_t task_limit(const scheduler *s)
{
    return s->genesis.message_instruction_limit;
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

/* Begins one task of c and runs its first slice; a canister that cannot pay for it skips it
 * (the timer stays armed). */
static status run_task(round_ctx *rc, sched_canister *c, uint8_t kind)
{
    scheduler *s = rc->s;
    if (host_canister_cycles(c->hc) < task_need(s, c)) /* the heartbeat spent it */
        return ST_OK;
    paused_msg *p = &c->paused;
    sched_paused_clear(p);
    p->kind = kind; /* the caller is the management canister aaaaa-aa: no bytes */
    p->time_ns = rc->time_ns;
    status st = route_paused_start(s, c);
    if (st != ST_OK) {
        sched_paused_clear(p);
        return st;
    }
    rc->tasks++;
    return round_run_slice(rc, c);
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
        /* a canister whose paused message (a long heartbeat) ended in this round's first
         * phase takes its messages first: the next heartbeat waits for the next round */
        if ((t & HOST_TASK_HEARTBEAT) && !c->resumed)
            st = run_task(rc, c, PAUSED_HEARTBEAT);
        /* a paused heartbeat keeps the canister busy: the timer stays armed until it ends */
        if (st == ST_OK && (t & HOST_TASK_GLOBAL_TIMER) && !c->paused.active)
            st = run_task(rc, c, PAUSED_TIMER);
    }
    return st;
}
