/* counter.c - example canister: a counter that survives upgrades (wasm32, see ic0.h; Candid:
 * candid.h).
 *
 *   service : (nat) -> {
 *     inc : () -> (nat);        adds 1, replies the new count
 *     add : (nat) -> (nat);     adds n (wrapping at 2^64), replies the new count
 *     set : (nat) -> ();        sets the count
 *     get : () -> (nat) query;  replies the count
 *   }
 *
 *   canister_init            optional argument (nat): the start value (default 0)
 *   canister_pre_upgrade     writes "CNTR" + count to stable memory (the 32-bit stable API, on
 *                            purpose: the 64-bit one is used by token.c and kv.c)
 *   canister_post_upgrade    reads it back; with no saved state (fresh stable memory) starts at 0
 *
 * Arguments that are not the method's Candid types (or numbers above 2^64-1) are rejected.
 */
#include "candid.h"

/* The interface (Candid, not C: kept out of the formatter). */
// clang-format off
IC_CANDID_SERVICE(service : (nat) -> {
    inc : () -> (nat);
    add : (nat) -> (nat);
    set : (nat) -> ();
    get : () -> (nat) query;
});
// clang-format on

static uint64_t count;

static const uint8_t magic[4] = {'C', 'N', 'T', 'R'};

/* The argument (nat), or 0 after a reject. */
static int arg_nat(uint64_t *n, const char *why)
{
    uint8_t buf[64];
    ic_cr r;
    if (!ic_cr_arg(&r, buf, sizeof buf) || !ic_cr_nat(&r, n) || !ic_cr_done(&r)) {
        ic_reject(why);
        return 0;
    }
    return 1;
}

IC_INIT()
{
    uint8_t buf[64];
    ic_cr r;
    count = 0;
    if (!ic_cr_arg(&r, buf, sizeof buf) || (ic_cr_more(&r) && !ic_cr_nat(&r, &count)) ||
        !ic_cr_done(&r)) {
        ic_trap("counter: the init argument must be () or (nat)");
    }
}

IC_UPDATE(inc)
{
    count++;
    ic_reply_nat(count);
}

IC_UPDATE(add)
{
    uint64_t n;
    if (arg_nat(&n, "add: expected (nat) below 2^64")) {
        count += n;
        ic_reply_nat(count);
    }
}

IC_UPDATE(set)
{
    uint64_t n;
    if (arg_nat(&n, "set: expected (nat) below 2^64")) {
        count = n;
        ic_reply_unit();
    }
}

IC_QUERY(get)
{
    ic_reply_nat(count);
}

IC_PRE_UPGRADE()
{
    uint8_t rec[12];
    memcpy(rec, magic, 4);
    ic_store_u64le(rec + 4, count);
    if (ic0_stable_size() == 0 && ic0_stable_grow(1) == IC0_GROW_FAILED32) {
        ic_trap("counter: stable_grow refused");
    }
    ic0_stable_write(0, rec, sizeof rec);
}

IC_POST_UPGRADE()
{
    uint8_t rec[12];
    count = 0;
    if (ic0_stable_size() == 0) {
        return;
    }
    ic0_stable_read(rec, 0, sizeof rec);
    if (memcmp(rec, magic, 4) != 0) {
        ic_trap("counter: stable memory does not hold a counter");
    }
    count = ic_load_u64le(rec + 4);
}
