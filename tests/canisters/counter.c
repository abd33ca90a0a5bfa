/* counter.c - example canister: a counter that survives upgrades (wasm32, see ic0.h).
 *
 *   canister_init            optional argument: 8-byte LE u64 start value (default 0)
 *   canister_update inc      adds 1, replies the new count (8-byte LE u64)
 *   canister_update add      argument: 8-byte LE u64 n; adds n (wrapping), replies the new count;
 *                            rejects an argument that is not 8 bytes
 *   canister_query get       replies the count
 *   canister_pre_upgrade     writes "CNTR" + count to stable memory (the 32-bit stable API, on
 *                            purpose: the 64-bit one is used by token.c and kv.c)
 *   canister_post_upgrade    reads it back; with no saved state (fresh stable memory) starts at 0
 */
#include "ic0.h"

static uint64_t count;

static const uint8_t magic[4] = {'C', 'N', 'T', 'R'};

IC_INIT()
{
    uint32_t n = ic0_msg_arg_data_size();
    if (n == 8) {
        uint8_t b[8];
        ic0_msg_arg_data_copy(b, 0, 8);
        count = ic_load_u64le(b);
    } else if (n != 0) {
        ic_trap("counter: init argument must be empty or an 8-byte u64");
    }
}

IC_UPDATE(inc)
{
    count++;
    ic_reply_u64(count);
}

IC_UPDATE(add)
{
    uint64_t n;
    if (!ic_arg_u64(&n)) {
        return;
    }
    count += n;
    ic_reply_u64(count);
}

IC_QUERY(get)
{
    ic_reply_u64(count);
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
