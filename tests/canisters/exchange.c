/* exchange.c - example canister: pays out of its account in a token canister (token.c) by
 * calling the token, with reply, reject and cleanup callbacks (wasm32, see ic0.h; calls:
 * docs/canisters.md "Calls").
 *
 *   canister_init            argument: the token canister's id (8-byte LE u64)
 *   canister_update pay      argument: to[32] ++ amount (8-byte LE u64). Calls token.transfer
 *                            with the same bytes; replies the token's reply (the exchange's new
 *                            balance, u64) when the token replies, rejects "token: <message>"
 *                            when it rejects. Each payment waits in a slot of `orders` (its
 *                            index is the callbacks' env) until its answer arrives.
 *   canister_update pay_broken  as pay, but the reply callback traps after counting: the
 *                            count is undone, cleanup frees the order slot, and the caller gets
 *                            a CANISTER_ERROR reject
 *   canister_query stats     u64 paid (sum of amounts the token accepted), u64 rejected
 *                            (payments the token refused), u64 open (orders waiting), u64
 *                            cleanups (cleanup callbacks run)
 */
#include "ic0.h"

#define ORDERS 64u

struct order {
    uint8_t used;
    uint8_t broken;
    uint64_t amount;
};

static uint64_t token_id;
static struct order orders[ORDERS];
static uint64_t paid, rejected, open_orders, cleanups;

IC_INIT()
{
    if (!ic_arg_u64(&token_id)) {
        ic_trap("init: expected the token canister id");
    }
}

static void order_close(uint32_t slot)
{
    orders[slot].used = 0;
    open_orders--;
}

static void on_paid(uint32_t slot)
{
    uint8_t reply[8];
    paid += orders[slot].amount;
    if (orders[slot].broken) {
        ic_trap("pay_broken: the reply callback traps");
    }
    order_close(slot);
    ic_arg_read(reply, sizeof reply); /* in a reply callback, the argument is the reply */
    ic_reply_bytes(reply, sizeof reply);
}

static void on_refused(uint32_t slot)
{
    static const char prefix[] = "token: ";
    uint8_t text[200];
    uint32_t n = sizeof prefix - 1;
    memcpy(text, prefix, n);
    n += ic_reject_message(text + n, sizeof text - n);
    rejected++;
    order_close(slot);
    ic_reject_bytes(text, n);
}

/* Runs only if on_paid or on_refused trapped: their changes are gone, so free the slot here. */
static void on_cleanup(uint32_t slot)
{
    cleanups++;
    order_close(slot);
}

static void pay(uint8_t broken)
{
    uint8_t arg[40], token[10];
    if (ic0_msg_arg_data_size() != sizeof arg) {
        ic_reject("pay: expected to[32] ++ amount (u64)");
        return;
    }
    ic0_msg_arg_data_copy(arg, 0, sizeof arg);
    uint32_t slot = 0;
    while (slot < ORDERS && orders[slot].used) {
        slot++;
    }
    if (slot == ORDERS) {
        ic_reject("pay: too many payments in flight");
        return;
    }
    orders[slot] = (struct order){1, broken, ic_load_u64le(arg + 32)};
    open_orders++;
    uint32_t err = ic_call(token, ic_canister_principal(token_id, token), "transfer", arg,
                           sizeof arg, on_paid, on_refused, on_cleanup, slot);
    if (err) {
        order_close(slot);
        ic_reject("pay: the call could not be made");
    }
}

IC_UPDATE(pay)
{
    pay(0);
}

IC_UPDATE(pay_broken)
{
    pay(1);
}

IC_QUERY(stats)
{
    uint8_t b[32];
    ic_store_u64le(b, paid);
    ic_store_u64le(b + 8, rejected);
    ic_store_u64le(b + 16, open_orders);
    ic_store_u64le(b + 24, cleanups);
    ic_reply_bytes(b, sizeof b);
}
