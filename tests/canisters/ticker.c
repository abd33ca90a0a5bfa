/* ticker.c - a timer and heartbeat example (docs/canisters.md "Timers and heartbeat",
 * "Cycles"): counts its heartbeats (one per round) and the runs of a periodic global timer, and
 * shows its cycle balance.
 *
 *   service : {
 *     start : (nat64) -> ();    arms the timer period ns after this block; each run re-arms
 *                               it, so it ticks every period
 *     stop : () -> (nat64);     cancels it; replies the timer it cancelled (0: none)
 *     stats : () -> (record { beats : nat; ticks : nat; last_tick : nat64 }) query;
 *                               heartbeats, timer runs, time of the last tick (ns)
 *     balance : () -> (nat) query;   the cycle balance
 *     burn : (nat) -> (nat);    burns up to n cycles (n < 2^64); replies how many
 *   }
 *
 * Candid: candid.h. State lives in the heap (an upgrade resets it).
 */
#include "candid.h"

/* The interface (Candid, not C: kept out of the formatter). */
// clang-format off
IC_CANDID_SERVICE(service : {
    start : (nat64) -> ();
    stop : () -> (nat64);
    stats : () -> (record { beats : nat; ticks : nat; last_tick : nat64 }) query;
    balance : () -> (nat) query;
    burn : (nat) -> (nat);
});
// clang-format on

static uint64_t beats, ticks, last_tick, period_ns;

IC_HEARTBEAT()
{
    beats++;
}

IC_GLOBAL_TIMER()
{
    ticks++;
    last_tick = ic0_time();
    if (period_ns)
        ic_timer_after(period_ns);
}

IC_UPDATE(start)
{
    uint8_t arg[64];
    uint64_t p;
    ic_cr r;
    if (!ic_cr_arg(&r, arg, sizeof arg) || !ic_cr_nat64(&r, &p) || !ic_cr_done(&r)) {
        ic_reject("start: expected (nat64), the period in ns");
        return;
    }
    if (p == 0) {
        ic_reject("the period must be above 0 ns");
        return;
    }
    period_ns = p;
    ic_timer_after(p);
    ic_reply_unit();
}

IC_UPDATE(stop)
{
    period_ns = 0;
    ic_reply_nat64(ic_timer_cancel());
}

IC_QUERY(stats)
{
    /* record fields in Candid hash order (ic_candid_hash): ticks, beats, last_tick */
    static const char *const names[] = {"ticks", "beats", "last_tick"};
    static const int32_t types[] = {IC_C_NAT, IC_C_NAT, IC_C_NAT64};
    uint8_t values[28];
    ic_cw w;
    ic_cw_init(&w, values, sizeof values);
    ic_cw_arg(&w, ic_cw_record(&w, 3, names, types));
    ic_cw_nat(&w, ticks);
    ic_cw_nat(&w, beats);
    ic_cw_nat64(&w, last_tick);
    ic_cw_reply(&w);
}

IC_QUERY(balance)
{
    ic_reply_nat128(ic_balance());
}

IC_UPDATE(burn)
{
    uint8_t arg[64];
    uint64_t n;
    ic_cr r;
    if (!ic_cr_arg(&r, arg, sizeof arg) || !ic_cr_nat(&r, &n) || !ic_cr_done(&r)) {
        ic_reject("burn: expected (nat) below 2^64");
        return;
    }
    ic_cycles amount = {n, 0};
    ic_reply_nat128(ic_burn(amount));
}
