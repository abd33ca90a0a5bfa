/* ticker.c - a timer and heartbeat example (docs/canisters.md "Timers and heartbeat",
 * "Cycles"): counts its heartbeats (one per round) and the runs of a periodic global timer, and
 * shows its cycle balance.
 *
 *   update start(u64 period_ns) -> ()      arms the timer period_ns after this block; each run
 *                                          re-arms it, so it ticks every period
 *   update stop() -> u64                   cancels it; replies the timer it cancelled (0: none)
 *   query  stats() -> u64 beats ++ u64 ticks ++ u64 time of the last tick (ns)
 *   query  balance() -> 16 bytes           the cycle balance (u128 little-endian)
 *   update burn(u64 n) -> 16 bytes         burns up to n cycles; replies how many
 *
 * Integers are little-endian. State lives in the heap (an upgrade resets it).
 */
#include "ic0.h"

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
    uint64_t p;
    if (!ic_arg_u64(&p))
        return;
    if (p == 0) {
        ic_reject("the period must be above 0 ns");
        return;
    }
    period_ns = p;
    ic_timer_after(p);
    ic_reply_empty();
}

IC_UPDATE(stop)
{
    period_ns = 0;
    ic_reply_u64(ic_timer_cancel());
}

IC_QUERY(stats)
{
    uint8_t b[24];
    ic_store_u64le(b, beats);
    ic_store_u64le(b + 8, ticks);
    ic_store_u64le(b + 16, last_tick);
    ic_reply_bytes(b, sizeof b);
}

IC_QUERY(balance)
{
    ic_reply_cycles(ic_balance());
}

IC_UPDATE(burn)
{
    uint64_t n;
    if (!ic_arg_u64(&n))
        return;
    ic_cycles amount = {n, 0};
    ic_reply_cycles(ic_burn(amount));
}
