/* rpc_views.c - read-only views of the ledger for the RPC methods `block` (verbose: who sent
 * what to whom) and `canisters` (docs/rpc.md). Pure reads of one snapshot; no scheduler. */
#include "rpc_views.h"
#include "rpc_limits.h"

#include <string.h>

json_t *rpc_hex_json(const uint8_t *p, size_t n)
{
    char *h = cli_hex_new(p, n);
    json_t *v = h ? json_string(h) : NULL;
    base_free(h);
    return v;
}

json_t *rpc_canister_json(uint64_t id)
{
    char text[LEDGER_CANISTER_TEXT_SIZE];
    ledger_canister_id_text(id, text);
    return json_string(text);
}

static const char *kind_name(uint8_t kind)
{
    static const char *const names[] = {"update", "query", "install", "upgrade"};
    return kind < BASE_ARRAY_LEN(names) ? names[kind] : "unknown";
}

json_t *rpc_block_messages_json(ledger_reader *rd, const ledger_block *b, size_t budget,
                                bool *over)
{
    json_t *list = json_array();
    size_t used = 2;
    *over = false;
    for (uint32_t i = 0; list && i < b->message_count; i++) {
        const uint8_t *id = b->message_ids + (size_t)i * LEDGER_HASH_SIZE;
        span env;
        ledger_message m;
        json_t *o;
        if (ledger_message_get(rd, id, &env) != ST_OK ||
            ledger_message_parse(env, &m, NULL) != ST_OK)
            o = json_pack("{s:o, s:b}", "id", rpc_hex_json(id, LEDGER_HASH_SIZE), "missing", 1);
        else
            o = json_pack("{s:o, s:o, s:s, s:o, s:s%, s:I, s:I}", "id",
                          rpc_hex_json(id, LEDGER_HASH_SIZE), "sender",
                          rpc_hex_json(m.sender, LEDGER_PUBLIC_KEY_SIZE), "kind",
                          kind_name(m.kind), "canister",
                          m.canister_id ? rpc_canister_json(m.canister_id) : json_null(), "method",
                          (const char *)m.method.ptr, m.method.len, "arg_bytes",
                          (json_int_t)m.arg.len, "nonce", (json_int_t)m.nonce);
        used += o ? rpc_json_size(o) + 1 : 0;
        if (used > budget)
            *over = true;
        if (!o || *over || json_array_append_new(list, o) != 0) {
            if (*over)
                json_decref(o);
            json_decref(list);
            list = NULL;
        }
    }
    return list;
}

json_t *rpc_canister_summary_json(ledger_reader *rd, uint64_t id)
{
    static const uint8_t zero[LEDGER_HASH_SIZE];
    static const char *const statuses[] = {"running", "stopping", "stopped"};
    ledger_canister rec;
    if (ledger_canister_get(rd, id, &rec) != ST_OK)
        return NULL;
    json_t *module = memcmp(rec.code_hash, zero, sizeof zero)
                         ? rpc_hex_json(rec.code_hash, LEDGER_HASH_SIZE)
                         : json_null();
    return json_pack("{s:o, s:I, s:s, s:o, s:I, s:I, s:I, s:I}", "canister", rpc_canister_json(id),
                     "id", (json_int_t)id, "status",
                     rec.status < 3 ? statuses[rec.status] : "unknown", "module_hash", module,
                     "heap_pages", (json_int_t)rec.heap_pages, "stable_pages",
                     (json_int_t)rec.stable_pages, "controllers", (json_int_t)rec.controller_count,
                     "version", (json_int_t)rec.version);
}
