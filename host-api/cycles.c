/* cycles.c - a canister's cycle balance in the host: the committed balance, the changes a
 * running message makes to it (kept only if the message commits), and the ic0 cycles handlers
 * (the IC interface specification, "Canister interface (System API)": cycles; docs/canisters.md
 * "Cycles" for what tally does and where it departs).
 *
 * The balance a message sees is the committed balance plus the cycles it accepted, minus the
 * cycles it burned or attached to calls, minus the execution reserve the scheduler holds back
 * for it (host_msg.cycles_prepaid, the IC's prepayment). The liquid balance further excludes
 * the freezing reserve (host_msg.cycles_frozen). When the message commits, what it burned
 * leaves the balance here; the scheduler moves the accepted cycles and those of its calls
 * (host_result, scheduler/route.c) and charges the fees between messages
 * (scheduler/cycles.c). msg_cycles_available/accept/refunded are call.c's. */
#include "host_int.h"

#include <string.h>

/* ---- the committed balance ---------------------------------------------------------------- */

u128 host_canister_cycles(const host_canister *c)
{
    return c->cycles;
}

void host_canister_cycles_set(host_canister *c, u128 v)
{
    c->cycles = v;
}

status host_canister_cycles_credit(host_canister *c, u128 amount)
{
    if (amount > U128_MAX - c->cycles)
        return ST_CYCLES_OVERFLOW;
    c->cycles += amount;
    return ST_OK;
}

status host_canister_cycles_debit(host_canister *c, u128 amount)
{
    if (amount > c->cycles)
        return ST_CANISTER_OUT_OF_CYCLES;
    c->cycles -= amount;
    return ST_OK;
}

/* ---- a message's changes ------------------------------------------------------------------ */

void exec_cycles_begin(exec *x)
{
    x->cycles_out = 0;
    x->cycles_burned = 0;
}

u128 exec_cycles_balance(const exec *x)
{
    u128 have = x->c->cycles + x->cycles_accepted; /* cannot wrap: all cycles come from mints */
    u128 owed = x->cycles_out + x->msg.cycles_prepaid;
    return have > owed ? have - owed : 0;
}

u128 exec_cycles_liquid(const exec *x)
{
    u128 b = exec_cycles_balance(x);
    return b > x->msg.cycles_frozen ? b - x->msg.cycles_frozen : 0;
}

status exec_cycles_take(exec *x, u128 amount)
{
    if (amount > exec_cycles_liquid(x))
        return ST_CANISTER_OUT_OF_CYCLES;
    x->cycles_out += amount;
    return ST_OK;
}

void exec_cycles_give(exec *x, u128 amount)
{
    x->cycles_out -= amount < x->cycles_out ? amount : x->cycles_out;
}

void exec_cycles_commit(exec *x)
{
    host_canister *c = x->c;
    /* What the message burned is at most its liquid balance; the scheduler may have charged
     * the committed balance since (a paused message's execution does not see it): cut. */
    if (x->cycles_burned > c->cycles)
        x->cycles_burned = c->cycles;
    c->cycles -= x->cycles_burned;
}

void exec_cycles_report(const exec *x, host_result *res)
{
    res->cycles_burned = x->cycles_burned;
}

/* ---- ic0 handlers ------------------------------------------------------------------------- */

static u128 u128_of(uint64_t hi, uint64_t lo)
{
    return (u128)hi << 64 | lo;
}

static status put128(exec *x, const char *fn, uint64_t dst, u128 v)
{
    uint8_t *p = NULL;
    status st = exec_mem(x, fn, dst, 16, true, &p);
    if (st == ST_OK)
        le128_store(p, v);
    return st;
}

/* The 64-bit form traps when the value does not fit (the specification's note). */
status h_canister_cycle_balance(exec *x, uint64_t *slots)
{
    u128 v = exec_cycles_balance(x);
    if (v > UINT64_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.canister_cycle_balance: the amount does "
                         "not fit in 64 bits (use the 128-bit form)");
    slots[0] = (uint64_t)v;
    return ST_OK;
}

status h_canister_cycle_balance128(exec *x, uint64_t *slots)
{
    return put128(x, "canister_cycle_balance128", (uint32_t)slots[0], exec_cycles_balance(x));
}

status h_canister_liquid_cycle_balance128(exec *x, uint64_t *slots)
{
    return put128(x, "canister_liquid_cycle_balance128", (uint32_t)slots[0],
                  exec_cycles_liquid(x));
}

/* Burns at most the liquid balance and says how much; writes first (the only way it can
 * trap), so a trap leaves nothing burned. */
status h_cycles_burn128(exec *x, uint64_t *slots)
{
    u128 n = u128_of(slots[0], slots[1]), liquid = exec_cycles_liquid(x);
    n = n < liquid ? n : liquid;
    status st = put128(x, "cycles_burn128", (uint32_t)slots[2], n);
    if (st == ST_OK) {
        x->cycles_out += n;
        x->cycles_burned += n;
    }
    return st;
}
