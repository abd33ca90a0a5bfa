/* cycles.c - a canister's cycle balance in the host: the committed balance, the changes a
 * running message makes to it (kept only if the message commits), and the ic0 cycles handlers
 * (the IC interface specification, "Canister interface (System API)": cycles; docs/canisters.md
 * "Cycles" for what tally does and where it departs).
 *
 * The balance a message sees is the committed balance plus the cycles it accepted, minus the
 * cycles it burned or sent, minus the execution reserve the scheduler holds back for it
 * (host_msg.cycles_prepaid, the IC's prepayment). The liquid balance further excludes the
 * freezing reserve (host_msg.cycles_frozen). Fees are not computed here: the scheduler charges
 * them with host_canister_cycles_debit between messages (scheduler/cycles.c). */
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
    x->cycles_in = 0;
    x->cycles_out = 0;
    x->cycles_burned = 0;
}

u128 exec_cycles_balance(const exec *x)
{
    u128 have = x->c->cycles + x->cycles_in; /* cannot wrap: all cycles come from mints */
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

void exec_cycles_commit(exec *x)
{
    host_canister *c = x->c;
    u128 have = c->cycles + x->cycles_in;
    /* The scheduler may have debited the committed balance while the message was paused
     * (storage): what the message burned is cut first, so the balance never goes below 0. */
    if (x->cycles_out > have) {
        u128 cut = x->cycles_out - have;
        cut = cut < x->cycles_burned ? cut : x->cycles_burned;
        x->cycles_burned -= cut;
        x->cycles_out -= cut;
    }
    c->cycles = have > x->cycles_out ? have - x->cycles_out : 0;
}

void exec_cycles_report(const exec *x, host_result *res)
{
    res->cycles_accepted = x->cycles_in;
    res->cycles_burned = x->cycles_burned;
}

/* ---- ic0 handlers ------------------------------------------------------------------------- */

static u128 u128_of(uint64_t hi, uint64_t lo)
{
    return (u128)hi << 64 | lo;
}

static status put128(exec *x, const char *fn, uint64_t dst, u128 v)
{
    uint8_t b[16];
    le128_store(b, v);
    return exec_write(x, fn, dst, b, sizeof b);
}

/* The 64-bit forms trap when the value does not fit (the specification's note). */
static status ret64(exec *x, const char *fn, u128 v, uint64_t *slots)
{
    if (v > UINT64_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION, "ic0.%s: the amount does not fit in 64 bits; "
                         "use ic0.%s128", fn, fn);
    slots[0] = (uint64_t)v;
    return ST_OK;
}

static u128 available(const exec *x)
{
    return x->msg.cycles_available - x->cycles_in;
}

/* Moves up to max of the message's cycles into the balance; the amount moved. */
static u128 accept(exec *x, u128 max)
{
    u128 n = available(x);
    n = n < max ? n : max;
    x->cycles_in += n;
    return n;
}

status h_canister_cycle_balance(exec *x, uint64_t *slots)
{
    return ret64(x, "canister_cycle_balance", exec_cycles_balance(x), slots);
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

status h_msg_cycles_available(exec *x, uint64_t *slots)
{
    return ret64(x, "msg_cycles_available", available(x), slots);
}

status h_msg_cycles_available128(exec *x, uint64_t *slots)
{
    return put128(x, "msg_cycles_available128", (uint32_t)slots[0], available(x));
}

status h_msg_cycles_accept(exec *x, uint64_t *slots)
{
    slots[0] = (uint64_t)accept(x, slots[0]);
    return ST_OK;
}

/* Writes first (the only way it can trap), then moves: a trap leaves nothing accepted. */
status h_msg_cycles_accept128(exec *x, uint64_t *slots)
{
    u128 max = u128_of(slots[0], slots[1]), n = available(x);
    n = n < max ? n : max;
    status st = put128(x, "msg_cycles_accept128", (uint32_t)slots[2], n);
    if (st == ST_OK)
        accept(x, n);
    return st;
}

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
