/* actor.c - example canister written against the import set of a compiled Motoko actor: the
 * ic0 functions Motoko's runtime imports (its code generator's import_ic0: call_new,
 * call_perform, call_data_append, call_on_cleanup, call_cycles_add128, msg_cycles_*128,
 * canister_cycle_balance128, stable64_*, global_timer_set, performance_counter, is_controller,
 * canister_status, canister_version, msg_method_name_*, accept_message, certified_data_set,
 * data_certificate_*, time, debug_print, trap, msg_reply*, msg_reject*, msg_arg_data_*,
 * msg_caller_*, canister_self_*) and those newer Motoko versions add (cycles_burn128,
 * canister_liquid_cycle_balance128, call_with_best_effort_response, msg_deadline). tests/cli/
 * actor.sh checks that the module imports every one of them, and runs it through the node
 * (docs/canisters.md "Motoko canisters"). State lives in stable memory, as Motoko's stable
 * variables do. Arguments and replies are raw little-endian bytes.
 *
 *   canister_init            grows stable memory, certifies "actor"
 *   canister_inspect_message accepts every ingress message but for method "blocked": the node
 *                            refuses that one at submission (docs/canisters.md "Ingress
 *                            inspection")
 *   canister_update send     target id (u64) ++ amount (u64) ++ flags (u8; 1: best-effort call,
 *                            timeout 60 s): calls target.receive with `amount` cycles attached
 *                            (and a cleanup callback); replies the callee's reply (accepted
 *                            u128, its msg_deadline u64) ++ the refund (u128); a reject
 *                            replies "J" ++ code (u8) ++ message
 *   canister_update receive  accepts half of the cycles the call carries; replies the accepted
 *                            amount (u128) ++ msg_deadline (u64)
 *   canister_update arm      delay (u64 ns) ++ target id (u64) ++ amount (u64): arms the global
 *                            timer at time + delay; replies the previous timer (u64)
 *   canister_global_timer    counts the firing; sends `amount` cycles to the target through
 *                            aaaaa-aa deposit_cycles
 *   canister_update burn     amount (u64): burns it; replies what was burned (u128)
 *   canister_update refuse   rejects (code 4) "refused by the actor"
 *   canister_update blocked  replies "blocked ran" (ingress never reaches it: see above)
 *   canister_query stats     fires, deposits, cleanups, received (low 64 bits) (4 x u64),
 *                            balance, liquid balance (2 x u128), status (u32), version (u64),
 *                            instructions so far (u64), caller is a controller (u32),
 *                            certificate present (u32), certificate size (u32)
 */
#include "ic0.h"

/* Stable memory layout (u64 each). */
enum {
    S_FIRES = 0,
    S_DEPOSITS = 8,
    S_CLEANUPS = 16,
    S_RECEIVED = 24,
    S_TARGET = 32,
    S_AMOUNT = 40,
    S_FAILED = 48,
    S_BYTES = 56
};

static uint64_t sget(uint64_t at)
{
    uint8_t b[8];
    ic_stable_read(b, at, 8);
    return ic_load_u64le(b);
}

static void sset(uint64_t at, uint64_t v)
{
    uint8_t b[8];
    ic_store_u64le(b, v);
    ic_stable_write(at, b, 8);
}

static void sadd(uint64_t at, uint64_t v)
{
    sset(at, sget(at) + v);
}

/* Reads exactly n argument bytes, or traps. */
static void arg_exact(void *dst, uint32_t n)
{
    if (ic0_msg_arg_data_size() != n) {
        ic_trap("actor: wrong argument length");
    }
    ic0_msg_arg_data_copy(dst, 0, n);
}

IC_INIT()
{
    ic_stable_ensure(S_BYTES);
    ic0_certified_data_set("actor", 5);
    ic_print("actor: init");
}

IC_INSPECT_MESSAGE()
{
    char name[16];
    uint32_t n = ic0_msg_method_name_size();
    if (n == 7) {
        ic0_msg_method_name_copy(name, 0, n);
        if (memcmp(name, "blocked", 7) == 0) {
            return; /* not accepted */
        }
    }
    ic0_accept_message();
}

/* ---- send / receive: a call with cycles, its refund --------------------------------------- */

static void on_sent(uint32_t env)
{
    uint8_t reply[24 + 16];
    (void)env;
    if (ic0_msg_arg_data_size() != 24) {
        ic_trap("actor: receive replied the wrong length");
    }
    ic0_msg_arg_data_copy(reply, 0, 24);
    ic0_msg_cycles_refunded128(reply + 24);
    ic_reply_bytes(reply, sizeof reply);
}

static void on_failed(uint32_t env)
{
    uint8_t reply[2 + 200];
    (void)env;
    reply[0] = 'J';
    reply[1] = (uint8_t)ic0_msg_reject_code();
    uint32_t n = ic_reject_message(reply + 2, 200);
    ic_reply_bytes(reply, 2 + n);
}

static void on_cleanup(uint32_t env)
{
    (void)env;
    sadd(S_CLEANUPS, 1);
}

IC_UPDATE(send)
{
    uint8_t a[17], callee[10];
    arg_exact(a, sizeof a);
    uint64_t amount = ic_load_u64le(a + 8);
    ic_canister_principal(ic_load_u64le(a), callee);
    ic0_call_new(callee, 10, "receive", 7, IC_FN(on_sent), 0, IC_FN(on_failed), 0);
    ic0_call_data_append("", 0);
    ic0_call_on_cleanup(IC_FN(on_cleanup), 0);
    if (a[16] & 1) {
        ic0_call_with_best_effort_response(60);
    }
    ic0_call_cycles_add128(0, amount);
    uint32_t err = ic0_call_perform();
    if (err) {
        uint8_t r[2] = {'F', (uint8_t)err};
        ic_reply_bytes(r, 2);
    }
}

IC_UPDATE(receive)
{
    uint8_t avail[16], out[24];
    ic0_msg_cycles_available128(avail);
    ic_cycles c = ic_cycles_load(avail);
    uint64_t half_hi = c.hi >> 1, half_lo = (c.lo >> 1) | (c.hi << 63);
    ic0_msg_cycles_accept128(half_hi, half_lo, out);
    sadd(S_RECEIVED, ic_load_u64le(out));
    ic_store_u64le(out + 16, ic0_msg_deadline());
    ic_reply_bytes(out, sizeof out);
}

/* ---- the timer: it moves cycles through the management canister ------------------------- */

static void on_deposited(uint32_t env)
{
    (void)env;
    sadd(S_DEPOSITS, 1);
}

static void on_deposit_failed(uint32_t env)
{
    (void)env;
    sadd(S_FAILED, 1);
}

IC_UPDATE(arm)
{
    uint8_t a[24];
    arg_exact(a, sizeof a);
    sset(S_TARGET, ic_load_u64le(a + 8));
    sset(S_AMOUNT, ic_load_u64le(a + 16));
    ic_reply_u64(ic0_global_timer_set(ic0_time() + ic_load_u64le(a)));
}

IC_GLOBAL_TIMER()
{
    /* Candid (record { canister_id : principal }): the field's id is the hash of
     * "canister_id", 0x4e4c6233 (LEB128 b3 c4 b1 f2 04); then the principal, 10 bytes */
    static const uint8_t head[] = {'D',  'I',  'D',  'L',  0x01, 0x6c, 0x01, 0xb3, 0xc4,
                                   0xb1, 0xf2, 0x04, 0x68, 0x01, 0x00, 0x01, 0x0a};
    uint8_t arg[sizeof head + 10];
    sadd(S_FIRES, 1);
    uint64_t amount = sget(S_AMOUNT);
    if (!amount) {
        return;
    }
    memcpy(arg, head, sizeof head);
    ic_canister_principal(sget(S_TARGET), arg + sizeof head);
    ic0_call_new("", 0, "deposit_cycles", 14, IC_FN(on_deposited), 0, IC_FN(on_deposit_failed), 0);
    ic0_call_data_append(arg, sizeof arg);
    ic0_call_cycles_add128(0, amount);
    if (ic0_call_perform()) {
        sadd(S_FAILED, 1);
    }
}

/* ---- the rest of the set ------------------------------------------------------------------- */

IC_UPDATE(burn)
{
    uint64_t amount;
    if (!ic_arg_u64(&amount)) {
        ic_trap("actor: burn takes a u64");
    }
    uint8_t out[16];
    ic0_cycles_burn128(0, amount, out);
    ic_reply_bytes(out, 16);
}

IC_UPDATE(refuse)
{
    ic_reject("refused by the actor");
}

/* Refused at submission by canister_inspect_message: an ingress call never gets here. */
IC_UPDATE(blocked)
{
    ic_reply_bytes("blocked ran", 11);
}

IC_QUERY(stats)
{
    uint8_t r[4 * 8 + 2 * 16 + 4 + 8 + 8 + 4 + 4 + 4], caller[29], self[29];
    ic_store_u64le(r, sget(S_FIRES));
    ic_store_u64le(r + 8, sget(S_DEPOSITS));
    ic_store_u64le(r + 16, sget(S_CLEANUPS));
    ic_store_u64le(r + 24, sget(S_RECEIVED));
    ic0_canister_cycle_balance128(r + 32);
    ic0_canister_liquid_cycle_balance128(r + 48);
    ic_store_u32le(r + 64, ic0_canister_status());
    ic_store_u64le(r + 68, ic0_canister_version());
    uint32_t n = ic0_msg_caller_size();
    ic0_msg_caller_copy(caller, 0, n);
    uint32_t m = ic0_canister_self_size();
    ic0_canister_self_copy(self, 0, m);
    if (m == n && memcmp(caller, self, n) == 0) {
        ic_trap("actor: a query from itself");
    }
    ic_store_u32le(r + 84, ic0_is_controller(caller, n));
    uint32_t present = ic0_data_certificate_present();
    ic_store_u32le(r + 88, present);
    uint32_t size = 0;
    if (present) {
        uint8_t cert[64];
        size = ic0_data_certificate_size();
        ic0_data_certificate_copy(cert, 0, size < 64 ? size : 64);
    }
    ic_store_u32le(r + 92, size);
    ic_store_u64le(r + 76, ic0_performance_counter(IC0_COUNTER_INSTRUCTIONS));
    ic_reply_bytes(r, sizeof r);
}
