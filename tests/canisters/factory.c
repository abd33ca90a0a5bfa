/* factory.c - example canister: creates child canisters through the management canister
 * aaaaa-aa and installs code in them (wasm32, see ic0.h; docs/canisters.md "The management
 * canister"). The factory is the controller of every child it creates.
 *
 *   service : {
 *     spawn : (blob) -> (principal);   a Wasm module (at most 64 KiB): calls
 *                                      aaaaa-aa.create_canister(record {}), then in its reply
 *                                      callback aaaaa-aa.install_code(record { mode = variant {
 *                                      install }; canister_id; wasm_module; arg = blob "" });
 *                                      replies the child when installed, rejects with
 *                                      aaaaa-aa's message otherwise. One spawn at a time
 *                                      (others are rejected meanwhile).
 *     children : () -> (nat) query;    the number of children installed
 *   }
 *
 * The management canister's arguments and replies are Candid, written and read with candid.h.
 */
#include "candid.h"

/* The interface (Candid, not C: kept out of the formatter). */
// clang-format off
IC_CANDID_SERVICE(service : {
    spawn : (blob) -> (principal);
    children : () -> (nat) query;
});
// clang-format on

#define MODULE_MAX 65536u

static uint8_t module[MODULE_MAX];
static uint32_t module_len;
static uint8_t busy;
static uint64_t children;
static uint8_t child[29];
static uint32_t child_len;
static uint8_t msg[MODULE_MAX + 512];

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
    ic_reply_principal(child, child_len);
}

static void on_created(uint32_t env)
{
    /* the reply: (record { canister_id : principal }) */
    uint8_t reply[256];
    const uint8_t *id;
    ic_cr r;
    (void)env;
    if (!ic_cr_arg(&r, reply, sizeof reply) || !ic_cr_field(&r, "canister_id") ||
        !ic_cr_principal(&r, &id, &child_len) || !ic_cr_done(&r)) {
        ic_trap("create_canister: unexpected reply");
    }
    memcpy(child, id, child_len);

    /* (record { arg : blob; wasm_module : blob; mode : variant { reinstall; upgrade; install };
     * canister_id : principal }), fields and cases in hash order */
    static const char *const fields[] = {"arg", "wasm_module", "mode", "canister_id"};
    static const char *const modes[] = {"reinstall", "upgrade", "install"};
    static const int32_t nulls[] = {IC_C_NULL, IC_C_NULL, IC_C_NULL};
    static uint8_t values[MODULE_MAX + 128];
    ic_cw w;
    ic_cw_init(&w, values, sizeof values);
    int32_t blob = ic_cw_vec(&w, IC_C_NAT8);
    int32_t mode = ic_cw_variant(&w, 3, modes, nulls);
    int32_t types[] = {blob, blob, mode, IC_C_PRINCIPAL};
    ic_cw_arg(&w, ic_cw_record(&w, 4, fields, types));
    ic_cw_text(&w, "", 0); /* arg = blob "" */
    ic_cw_text(&w, module, module_len);
    ic_cw_count(&w, 2); /* mode = install, case 2 */
    ic_cw_principal(&w, child, child_len);
    uint32_t k = ic_cw_write(&w, msg, sizeof msg);
    if (ic_call(child, 0, "install_code", msg, k, on_installed, on_failed, on_cleanup, 0)) {
        ic_trap("install_code: the call could not be made");
    }
}

IC_UPDATE(spawn)
{
    static const uint8_t empty_record[] = {'D', 'I', 'D', 'L', 1, 0x6c, 0, 1, 0};
    const uint8_t *p;
    ic_cr r;
    if (busy) {
        ic_reject("spawn: another spawn is in progress");
        return;
    }
    if (!ic_cr_arg(&r, msg, sizeof msg) || !ic_cr_blob(&r, &p, &module_len) ||
        module_len > sizeof module || !ic_cr_done(&r)) {
        ic_reject("spawn: expected (blob), a module of at most 64 KiB");
        return;
    }
    memcpy(module, p, module_len);
    busy = 1;
    if (ic_call(child, 0, "create_canister", empty_record, sizeof empty_record, on_created,
                on_failed, on_cleanup, 0)) {
        busy = 0;
        ic_reject("spawn: the call could not be made");
    }
}

IC_QUERY(children)
{
    ic_reply_nat(children);
}
