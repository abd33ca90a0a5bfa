/* cycles.c - the fee schedule applied to canisters: execution, ingress, storage and creation
 * fees, the freezing threshold, mint messages, and the chain's cycle accounts (minted, burned,
 * fees) kept in the ledger's subnet record. docs/canisters.md "Cycles" is the manual; the fee
 * values are genesis fields (ledger/genesis.def: fee_*, provisional_cycles, freezing_threshold).
 *
 * Every amount here is a pure function of the committed state, the block time and the message:
 * u128 arithmetic saturates instead of wrapping, and a fee is never more than the balance it is
 * taken from, so the accounts balance exactly (minted = balances + in flight + burned + fees).
 * Not the ic0 handlers (host-api/cycles.c). */
#include "scheduler_int.h"

#include <stdio.h>
#include <string.h>

enum { SUBNET_VERSION = 1, SUBNET_BYTES = 1 + 3 * 16 };

static const u128 GIB = (u128)1 << 30;
static const u128 NS_PER_S = 1000000000u;

/* ---- fees ----------------------------------------------------------------------------------- */

u128 sched_fee_execution(const scheduler *s, uint64_t instructions)
{
    const ledger_genesis *g = &s->genesis;
    return u128_add_sat(g->fee_update_message_execution,
                        u128_mul_sat(instructions, g->fee_ten_update_instructions_execution) / 10);
}

u128 sched_fee_ingress(const scheduler *s, size_t bytes)
{
    const ledger_genesis *g = &s->genesis;
    return u128_add_sat(g->fee_ingress_message_reception,
                        u128_mul_sat(bytes, g->fee_ingress_byte_reception));
}

/* Bytes of memory a canister pays for: its memory allocation, or the committed heap and
 * stable memory it holds if that is more (as the IC charges an allocation). */
static u128 memory_bytes(const sched_canister *c)
{
    host_saved sv;
    host_canister_saved(c->hc, &sv);
    u128 used = (u128)sv.heap.len + sv.stable_bytes;
    return used > c->memory_allocation ? used : c->memory_allocation;
}

u128 sched_idle_cycles_per_day(const scheduler *s, const sched_canister *c)
{
    u128 per_s = u128_mul_sat(memory_bytes(c), s->genesis.fee_gib_storage_per_second);
    return u128_mul_sat(per_s, 86400) / GIB;
}

u128 sched_freeze_reserve(const scheduler *s, const sched_canister *c)
{
    u128 per_s = u128_mul_sat(memory_bytes(c), s->genesis.fee_gib_storage_per_second);
    return u128_mul_sat(per_s, c->freezing_threshold) / GIB;
}

/* ---- taking and giving ------------------------------------------------------------------------- */

/* Takes up to `fee` from c's balance as a fee; marks c and the accounts changed. */
void sched_cycles_charge(scheduler *s, sched_canister *c, u128 fee)
{
    u128 have = host_canister_cycles(c->hc);
    u128 take = fee < have ? fee : have;
    if (!take)
        return;
    host_canister_cycles_set(c->hc, have - take);
    s->cycles.fees += take;
    s->cycles_dirty = true;
    c->touched = true;
}

void sched_cycles_storage(scheduler *s, sched_canister *c, uint64_t time_ns)
{
    /* a paused message sees its balance; a chain without a storage fee records nothing */
    if (c->paused.active || time_ns <= c->storage_paid_ns ||
        !s->genesis.fee_gib_storage_per_second)
        return;
    uint64_t dt = time_ns - c->storage_paid_ns;
    c->storage_paid_ns = time_ns;
    c->touched = true;
    u128 fee =
        u128_mul_sat(u128_mul_sat(memory_bytes(c), s->genesis.fee_gib_storage_per_second), dt);
    sched_cycles_charge(s, c, fee / (GIB * NS_PER_S));
}

status sched_cycles_mint(scheduler *s, sched_canister *c, u128 amount)
{
    if (amount > U128_MAX - s->cycles.minted)
        return ST_CYCLES_OVERFLOW; /* no balance can pass 2^128-1 if the total cannot */
    status st = host_canister_cycles_credit(c->hc, amount);
    if (st != ST_OK)
        return st;
    s->cycles.minted += amount;
    s->cycles_dirty = true;
    c->touched = true;
    return ST_OK;
}

void sched_cycles_settle(scheduler *s, sched_canister *c, const host_result *res,
                         uint64_t instructions)
{
    if (res && res->cycles_burned) {
        s->cycles.burned += res->cycles_burned;
        s->cycles_dirty = true;
    }
    sched_cycles_charge(s, c, sched_fee_execution(s, instructions));
}

bool sched_cycles_enough(scheduler *s, const sched_canister *c, u128 need, char *text, size_t size)
{
    u128 have = host_canister_cycles(c->hc);
    if (have >= need)
        return true;
    char id[LEDGER_CANISTER_TEXT_SIZE], more[U128_TEXT_SIZE];
    ledger_canister_id_text(c->id, id);
    u128_format(need - have, more);
    (void)s;
    /* the IC's text (CanisterOutOfCyclesError) */
    snprintf(text, size,
             "Canister %s is out of cycles: please top up the canister with at least "
             "%s additional cycles",
             id, more);
    return false;
}

bool sched_cycles_can_run(scheduler *s, sched_canister *c, uint64_t time_ns, u128 fee, char *text,
                          size_t size)
{
    sched_cycles_storage(s, c, time_ns);
    u128 need = u128_add_sat(u128_add_sat(sched_freeze_reserve(s, c), fee),
                             sched_fee_execution(s, s->genesis.message_instruction_limit));
    return sched_cycles_enough(s, c, need, text, size);
}

/* ---- the subnet record: the chain's accounts ---------------------------------------------------
 * u8 version (1) | u128 minted | u128 burned | u128 fees, each 16 bytes little-endian. Empty
 * (never staged) means all zero. */

status scheduler_subnet_cycles(span rec, scheduler_cycles *out)
{
    memset(out, 0, sizeof *out);
    if (rec.len == 0)
        return ST_OK;
    if (rec.len != SUBNET_BYTES || rec.ptr[0] != SUBNET_VERSION)
        return ST_CORRUPT_LEDGER;
    out->minted = le128_load(rec.ptr + 1);
    out->burned = le128_load(rec.ptr + 17);
    out->fees = le128_load(rec.ptr + 33);
    return ST_OK;
}

status sched_cycles_load(scheduler *s, ledger_reader *rd)
{
    span rec;
    status st = ledger_subnet_get(rd, &rec);
    memset(&s->cycles, 0, sizeof s->cycles);
    s->cycles_dirty = false;
    return st == ST_OK ? scheduler_subnet_cycles(rec, &s->cycles) : st;
}

status sched_cycles_stage(scheduler *s, ledger_round *r)
{
    if (!s->cycles_dirty)
        return ST_OK;
    uint8_t rec[SUBNET_BYTES] = {SUBNET_VERSION};
    le128_store(rec + 1, s->cycles.minted);
    le128_store(rec + 17, s->cycles.burned);
    le128_store(rec + 33, s->cycles.fees);
    return ledger_round_subnet_put(r, span_of(rec, sizeof rec));
}

/* ---- the public view ----------------------------------------------------------------------------- */

void scheduler_cycles_get(const scheduler *s, scheduler_cycles *out)
{
    *out = s->cycles;
    out->balances = 0;
    out->in_flight = 0;
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        const sched_canister *c = s->canisters[i];
        const route_state *r = &c->route;
        out->balances += host_canister_cycles(c->hc);
        for (uint32_t k = r->head; k < r->len; k++) /* attached to requests, refunded */
            out->in_flight += r->q[k].cycles;
        for (uint32_t k = 0; k < r->nctx; k++) /* received, not accepted nor refunded yet */
            out->in_flight += r->ctx[k].available;
        for (uint32_t k = 0; k < r->nstops; k++) /* attached to a waiting stop_canister */
            out->in_flight += r->stops[k].available;
        for (uint32_t k = 0; k < r->nwaits; k++) /* attached to an aaaaa-aa call waiting */
            out->in_flight += r->waits[k].origin.available;
        if (c->paused.active && c->paused.kind == PAUSED_REQUEST) /* a request being run */
            out->in_flight += c->paused.rm.cycles;
        if (c->paused.active && c->paused.kind == PAUSED_INSTALL_CODE) /* refunded at its end */
            out->in_flight += c->paused.origin.available;
    }
}

status scheduler_canister_cycles(scheduler *s, uint64_t id, u128 *out)
{
    sched_canister *c = sched_canister_find(s, id);
    if (!c)
        return ST_UNKNOWN_CANISTER;
    *out = host_canister_cycles(c->hc);
    return ST_OK;
}

void scheduler_mint_arg(u128 amount, uint8_t out[16])
{
    le128_store(out, amount);
}
