/* fuzz_message.c - libFuzzer harness: the signed-message decoder (docs/formats.md) and the
 * canister id parser on arbitrary bytes.
 *
 * Properties: ledger_message_decode never crashes or reads outside the envelope; it returns
 * only its documented statuses (OK, MESSAGE_TOO_LARGE, MALFORMED_MESSAGE, BAD_SIGNATURE); an
 * accepted message has a known kind, a UTF-8 method of at most LEDGER_METHOD_MAX bytes, and
 * method and arg inside the envelope; the size limit is checked first; ledger_message_parse
 * (with or without an id) agrees with decode except that it checks no signature. ledger_canister_id_parse
 * on the same bytes (as text) returns OK or BAD_CANISTER_ID, and an accepted id prints back to a
 * text that parses to the same id. Seeds: tests/fuzz/corpus/message (made by fuzz_mkseeds). */
#include "fuzz.h"

#include <string.h>

#include "ledger.h"

static bool inside(span part, const uint8_t *data, size_t size)
{
    if (part.len == 0)
        return true;
    return part.ptr >= data && part.len <= size && part.ptr <= data + size - part.len;
}

static void check_canister_text(const uint8_t *data, size_t size)
{
    char text[64];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    uint64_t id = 0;
    status st = ledger_canister_id_parse(text, &id);
    FUZZ_CHECK(st == ST_OK || st == ST_BAD_CANISTER_ID);
    if (st == ST_OK) {
        char back[LEDGER_CANISTER_TEXT_SIZE];
        ledger_canister_id_text(id, back);
        uint64_t again = ~id;
        FUZZ_CHECK(ledger_canister_id_parse(back, &again) == ST_OK && again == id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ledger_message m;
    uint8_t id[LEDGER_HASH_SIZE];
    span env = span_of(data, size);
    status st = ledger_message_decode(env, 1u << 20, &m, id);
    FUZZ_CHECK(st == ST_OK || st == ST_MALFORMED_MESSAGE || st == ST_BAD_SIGNATURE ||
               st == ST_MESSAGE_TOO_LARGE);
    FUZZ_CHECK(st != ST_MESSAGE_TOO_LARGE); /* 1 MiB is more than libFuzzer gives */
    if (st == ST_OK) {
        FUZZ_CHECK(m.kind <= LEDGER_MSG_MINT);
        FUZZ_CHECK(m.method.len <= LEDGER_METHOD_MAX);
        FUZZ_CHECK(span_is_utf8(m.method));
        FUZZ_CHECK(inside(m.method, data, size) && inside(m.arg, data, size));
    }
    /* parse is decode without the signature check: the same verdict on the encoding, the same
     * fields and id; asked for no id it says the same */
    ledger_message pm;
    uint8_t pid[LEDGER_HASH_SIZE];
    status ps = ledger_message_parse(env, &pm, pid);
    FUZZ_CHECK(ps == (st == ST_BAD_SIGNATURE ? ST_OK : st));
    if (st == ST_OK)
        FUZZ_CHECK(!memcmp(id, pid, LEDGER_HASH_SIZE) && pm.nonce == m.nonce &&
                   pm.kind == m.kind && pm.arg.ptr == m.arg.ptr && pm.arg.len == m.arg.len);
    FUZZ_CHECK(ledger_message_parse(env, &pm, NULL) == ps);
    if (size > 64) /* the size limit comes before anything else */
        FUZZ_CHECK(ledger_message_decode(env, 64, &m, id) == ST_MESSAGE_TOO_LARGE);
    check_canister_text(data, size);
    return 0;
}
