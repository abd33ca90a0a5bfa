/* exchange.c - example canister: pays out of its account in a token canister (token.c) by
 * calling the token, with reply, reject and cleanup callbacks (wasm32, see ic0.h; calls:
 * docs/canisters.md "Calls"; Candid: candid.h).
 *
 *   service : (principal) -> {                 init: the token canister
 *     pay : (principal, nat) -> (nat);
 *     pay_broken : (principal, nat) -> (nat);
 *     stats : () -> (record { paid : nat; rejected : nat; open : nat; cleanups : nat }) query;
 *   }
 *
 *   pay(to, amount)   calls token.transfer(to, amount) (Candid, encoded here); replies the
 *                     token's reply (the exchange's new balance) when the token replies, rejects
 *                     "token: <message>" when it rejects. Each payment waits in a slot of
 *                     `orders` (its index is the callbacks' env) until its answer arrives.
 *   pay_broken        as pay, but the reply callback traps after counting: the count is
 *                     undone, cleanup frees the order slot, and the caller gets a
 *                     CANISTER_ERROR reject
 *   stats             paid (sum of amounts the token accepted), rejected (payments the token
 *                     refused), open (orders waiting), cleanups (cleanup callbacks run)
 */
#include "candid.h"

/* The interface (Candid, not C: kept out of the formatter). */
// clang-format off
IC_CANDID_SERVICE(service : (principal) -> {
    pay : (principal, nat) -> (nat);
    pay_broken : (principal, nat) -> (nat);
    stats : () -> (record { paid : nat; rejected : nat; open : nat; cleanups : nat }) query;
});
// clang-format on

#define ORDERS 64u

struct order {
    uint8_t used;
    uint8_t broken;
    uint64_t amount;
};

static uint8_t token[29];
static uint32_t token_len;
static struct order orders[ORDERS];
static uint64_t paid, rejected, open_orders, cleanups;

IC_INIT()
{
    uint8_t arg[64];
    const uint8_t *p;
    ic_cr r;
    if (!ic_cr_arg(&r, arg, sizeof arg) || !ic_cr_principal(&r, &p, &token_len) ||
        !ic_cr_done(&r)) {
        ic_trap("init: expected (principal): the token canister");
    }
    memcpy(token, p, token_len);
}

static void order_close(uint32_t slot)
{
    orders[slot].used = 0;
    open_orders--;
}

static void on_paid(uint32_t slot)
{
    uint8_t reply[64];
    paid += orders[slot].amount;
    if (orders[slot].broken) {
        ic_trap("pay_broken: the reply callback traps");
    }
    order_close(slot);
    /* in a reply callback, the argument is the reply: the token's (nat), passed on as it is */
    ic_reply_bytes(reply, ic_arg_read(reply, sizeof reply));
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
    uint8_t arg[128], values[64], msg[128];
    const uint8_t *to;
    uint32_t to_len;
    uint64_t amount;
    ic_cr r;
    if (!ic_cr_arg(&r, arg, sizeof arg) || !ic_cr_principal(&r, &to, &to_len) ||
        !ic_cr_nat(&r, &amount) || !ic_cr_done(&r)) {
        ic_reject("pay: expected (principal, nat) below 2^64");
        return;
    }
    uint32_t slot = 0;
    while (slot < ORDERS && orders[slot].used) {
        slot++;
    }
    if (slot == ORDERS) {
        ic_reject("pay: too many payments in flight");
        return;
    }
    orders[slot] = (struct order){1, broken, amount};
    open_orders++;
    ic_cw w; /* transfer's argument: (principal, nat) */
    ic_cw_init(&w, values, sizeof values);
    ic_cw_arg(&w, IC_C_PRINCIPAL);
    ic_cw_arg(&w, IC_C_NAT);
    ic_cw_principal(&w, to, to_len);
    ic_cw_nat(&w, amount);
    uint32_t err = ic_call(token, token_len, "transfer", msg, ic_cw_write(&w, msg, sizeof msg),
                           on_paid, on_refused, on_cleanup, slot);
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
    /* record fields in Candid hash order (ic_candid_hash): cleanups, open, paid, rejected */
    static const char *const names[] = {"cleanups", "open", "paid", "rejected"};
    static const int32_t types[] = {IC_C_NAT, IC_C_NAT, IC_C_NAT, IC_C_NAT};
    uint8_t values[40];
    ic_cw w;
    ic_cw_init(&w, values, sizeof values);
    ic_cw_arg(&w, ic_cw_record(&w, 4, names, types));
    ic_cw_nat(&w, cleanups);
    ic_cw_nat(&w, open_orders);
    ic_cw_nat(&w, paid);
    ic_cw_nat(&w, rejected);
    ic_cw_reply(&w);
}
