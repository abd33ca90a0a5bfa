/* loop.c - example canister for instruction limits, metering and traps (wasm32, see ic0.h).
 *
 *   canister_update spin   never returns: an endless loop that only the message instruction
 *                          limit stops (the out-of-instructions demo)
 *   canister_update trap   calls ic0.trap with the message "loop: trap called"
 *   canister_update burn   argument: n (8-byte LE u64); runs n rounds of xorshift64 arithmetic
 *                          and replies the final state (8-byte LE u64), so the instruction count
 *                          grows linearly with n; rejects an argument that is not 8 bytes
 *   canister_query  burn_q the same as a query (for comparing update and query metering)
 */
#include "ic0.h"

static volatile uint64_t spins;

IC_UPDATE(spin)
{
    for (;;) {
        spins = spins + 1; /* volatile: the loop has an effect and cannot be removed */
    }
}

IC_UPDATE(trap)
{
    ic_trap("loop: trap called");
}

/* xorshift64 from a fixed seed; one round is a handful of i64 operations and a branch. */
static uint64_t burn(uint64_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x += i;
    }
    return x;
}

IC_UPDATE(burn)
{
    uint64_t n;
    if (ic_arg_u64(&n)) {
        ic_reply_u64(burn(n));
    }
}

IC_QUERY(burn_q)
{
    uint64_t n;
    if (ic_arg_u64(&n)) {
        ic_reply_u64(burn(n));
    }
}
