/* factory.c - example canister: creates child canisters through the management canister
 * aaaaa-aa and installs code in them (wasm32, see ic0.h; docs/canisters.md "The management
 * canister"). The factory is the controller of every child it creates.
 *
 *   canister_update spawn    argument: a Wasm module (at most 64 KiB). Calls
 *                            aaaaa-aa.create_canister(record {}), then in its reply callback
 *                            aaaaa-aa.install_code(record { mode = variant { install };
 *                            canister_id; wasm_module; arg = blob "" }); replies the child's
 *                            10-byte principal when installed, rejects with aaaaa-aa's message
 *                            otherwise. One spawn at a time (others are rejected meanwhile).
 *   canister_query children  the number of children installed (u64)
 *
 * The Candid records are written by hand: field ids are the Candid hashes of the names
 * (arg 4849238, wasm_module 265441191, mode 1214305123, canister_id 1313628723; variant
 * install 2375734555 after reinstall 235052488 and upgrade 1664201884).
 */
#include "ic0.h"

#define MODULE_MAX 65536u

static uint8_t module[MODULE_MAX];
static uint32_t module_len;
static uint8_t busy;
static uint64_t children;
static uint8_t child[10];
static uint8_t msg[MODULE_MAX + 128];

static uint32_t put_leb(uint8_t *p, uint64_t v)
{
    uint32_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static void on_failed(uint32_t env)
{
    uint8_t text[200];
    (void)env;
    busy = 0;
    ic_reject_bytes(text, ic_reject_message(text, sizeof text));
}

/* If a callback traps, its changes are undone: this frees the factory for the next spawn. */
static void on_cleanup(uint32_t env)
{
    (void)env;
    busy = 0;
}

static void on_installed(uint32_t env)
{
    (void)env;
    busy = 0;
    children++;
    ic_reply_bytes(child, sizeof child);
}

static void on_created(uint32_t env)
{
    /* reply: DIDL, record { canister_id : principal }, then 01 0a and the 10 bytes */
    uint32_t n = ic0_msg_arg_data_size();
    (void)env;
    if (n < 10) {
        ic_trap("create_canister: unexpected reply");
    }
    ic0_msg_arg_data_copy(child, n - 10, 10);
    static const uint8_t head[] = {'D', 'I', 'D', 'L', 3, 0x6c, 4};
    uint32_t k = 0;
    memcpy(msg, head, sizeof head);
    k = sizeof head;
    k += put_leb(msg + k, 4849238u); /* arg : blob */
    msg[k++] = 1;
    k += put_leb(msg + k, 265441191u); /* wasm_module : blob */
    msg[k++] = 1;
    k += put_leb(msg + k, 1214305123u); /* mode : type 2 */
    msg[k++] = 2;
    k += put_leb(msg + k, 1313628723u); /* canister_id : principal */
    msg[k++] = 0x68;
    msg[k++] = 0x6d; /* type 1: vec nat8 */
    msg[k++] = 0x7b;
    msg[k++] = 0x6b; /* type 2: variant { reinstall; upgrade; install } */
    msg[k++] = 3;
    k += put_leb(msg + k, 235052488u);
    msg[k++] = 0x7f;
    k += put_leb(msg + k, 1664201884u);
    msg[k++] = 0x7f;
    k += put_leb(msg + k, 2375734555u);
    msg[k++] = 0x7f;
    msg[k++] = 1; /* one argument, of type 0 */
    msg[k++] = 0;
    msg[k++] = 0; /* arg = "" */
    k += put_leb(msg + k, module_len);
    memcpy(msg + k, module, module_len);
    k += module_len;
    msg[k++] = 2; /* mode = install (index 2 in field-id order) */
    msg[k++] = 1;
    msg[k++] = 10;
    memcpy(msg + k, child, 10);
    k += 10;
    if (ic_call(child, 0, "install_code", msg, k, on_installed, on_failed, on_cleanup, 0)) {
        ic_trap("install_code: the call could not be made");
    }
}

IC_UPDATE(spawn)
{
    static const uint8_t empty_record[] = {'D', 'I', 'D', 'L', 1, 0x6c, 0, 1, 0};
    if (busy) {
        ic_reject("spawn: another spawn is in progress");
        return;
    }
    module_len = ic_arg_read(module, sizeof module);
    busy = 1;
    if (ic_call(child, 0, "create_canister", empty_record, sizeof empty_record, on_created,
                on_failed, on_cleanup, 0)) {
        busy = 0;
        ic_reject("spawn: the call could not be made");
    }
}

IC_QUERY(children)
{
    ic_reply_u64(children);
}
