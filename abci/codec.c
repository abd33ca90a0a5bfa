/* codec.c - ABCI frames (unsigned varint length, then the protobuf message: CometBFT
 * spec/abci/abci++_client_server.md) and the genesis app state (JSON). */
#include "abci.h"

#include <jansson.h>
#include <string.h>

status abci_frame_next(span in, span *msg, size_t *used)
{
    uint64_t len = 0;
    size_t i = 0;
    for (;; i++) {
        if (i == ABCI_VARINT_MAX)
            return ST_ABCI_MALFORMED;
        if (i == in.len)
            return ST_NOT_FOUND;
        uint8_t b = in.ptr[i];
        if (i == ABCI_VARINT_MAX - 1 && b > 1)
            return ST_ABCI_MALFORMED; /* more than 64 bits */
        len |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    i++;
    if (len > ABCI_FRAME_MAX)
        return ST_ABCI_MALFORMED;
    if (in.len - i < len)
        return ST_NOT_FOUND;
    *msg = span_of(in.ptr + i, (size_t)len);
    *used = i + (size_t)len;
    return ST_OK;
}

status abci_frame_put(buf *out, span msg)
{
    if (msg.len > ABCI_FRAME_MAX)
        return ST_ABCI_MALFORMED;
    uint8_t pre[ABCI_VARINT_MAX];
    size_t n = 0;
    uint64_t v = msg.len;
    do {
        pre[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    status st = buf_reserve(out, n + msg.len);
    if (st == ST_OK)
        st = buf_put(out, pre, n);
    if (st == ST_OK && msg.len)
        st = buf_put(out, msg.ptr, msg.len);
    return st;
}

/* ---- the genesis app state ------------------------------------------------------------------- */

static status bad(char *why, size_t cap, const char *fmt, const char *what)
{
    snprintf(why, cap, fmt, what);
    return ST_BAD_GENESIS;
}

static bool hex_key(const char *s, uint8_t out[LEDGER_PUBLIC_KEY_SIZE])
{
    return strlen(s) == 2 * LEDGER_PUBLIC_KEY_SIZE && base_hex_read(s, strlen(s), out);
}

status abci_app_state_parse(span json, const char *chain_id, uint64_t time_ns, ledger_genesis *g,
                            char *why, size_t cap)
{
    ledger_genesis_default(g);
    if (strlen(chain_id) == 0 || strlen(chain_id) > LEDGER_CHAIN_ID_MAX)
        return bad(why, cap, "chain id '%s' is empty or longer than 64 bytes", chain_id);
    strcpy(g->chain_id, chain_id);
    g->genesis_time_ns = time_ns;
    json_error_t err;
    json_t *o = json_loadb((const char *)json.ptr, json.len, 0, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return bad(why, cap, "app_state is not a JSON object%s", "");
    }
    size_t nf;
    const ledger_genesis_field *f = ledger_genesis_fields(&nf);
    status st = ST_OK;
    bool have_key = false;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "admin_public_key")) {
            have_key = json_is_string(v) && hex_key(json_string_value(v), g->admin_public_key);
            if (!have_key) {
                st = bad(why, cap, "app_state.%s is not 64 hex digits", k);
                break;
            }
            continue;
        }
        size_t i = 0;
        while (i < nf && strcmp(f[i].name, k))
            i++;
        if (i == nf || !strcmp(k, "genesis_time_ns")) {
            st = bad(why, cap, "app_state.%s is not a genesis field (docs/replication.md)", k);
            break;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            !ledger_genesis_set(g, &f[i], (uint64_t)json_integer_value(v))) {
            st = bad(why, cap, "app_state.%s is not a count within its type", k);
            break;
        }
    }
    json_decref(o);
    if (st == ST_OK && !have_key)
        st = bad(why, cap, "app_state has no admin_public_key%s", "");
    if (st == ST_OK && scheduler_genesis_check(g) != ST_OK)
        st = bad(why, cap, "app_state breaks a rule of scheduler_genesis_check (scheduler.h)%s",
                 "");
    return st;
}
