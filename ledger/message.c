/* message.c - ed25519 keys and signed messages (libsodium): signing the canonical encoding,
 * decoding and verifying an envelope, the admission checks (size, encoding, signature, expiry,
 * replay) and the durable mempool. The encoding itself is in codec.c (docs/formats.md). */
#include "ledger_int.h"

#include <string.h>

status ledger_keypair(const uint8_t *seed, uint8_t public_key[LEDGER_PUBLIC_KEY_SIZE],
                      uint8_t secret_key[LEDGER_SECRET_KEY_SIZE])
{
    if (sodium_init() < 0)
        return ST_IO_ERROR;
    if (seed)
        crypto_sign_seed_keypair(public_key, secret_key, seed);
    else
        crypto_sign_keypair(public_key, secret_key);
    return ST_OK;
}

status ledger_message_sign(const ledger_message *m,
                           const uint8_t secret_key[LEDGER_SECRET_KEY_SIZE], buf *out,
                           uint8_t id[LEDGER_HASH_SIZE])
{
    if (sodium_init() < 0)
        return ST_IO_ERROR;
    status st = check_message_fields(m);
    if (st != ST_OK)
        return st;
    /* libsodium's secret key is seed || public key: the sender must be that key */
    if (memcmp(m->sender, secret_key + 32, LEDGER_PUBLIC_KEY_SIZE) != 0)
        return ST_BAD_SIGNATURE;
    size_t start = out->len;
    sink s = {out, NULL, ST_OK};
    enc_message(&s, m);
    if (s.st == ST_OK)
        s.st = buf_reserve(out, LEDGER_SIGNATURE_SIZE);
    if (s.st != ST_OK) {
        out->len = start;
        return s.st;
    }
    span content = span_of(out->ptr + start, out->len - start);
    crypto_sign_detached(out->ptr + out->len, NULL, content.ptr, content.len, secret_key);
    out->len += LEDGER_SIGNATURE_SIZE;
    message_id(content, id);
    return ST_OK;
}

/* The shared part of decode and parse: size and encoding checks, then (if verify) the
 * signature; the id is computed in both cases. */
static status decode_envelope(span envelope, uint32_t max_bytes, bool verify, ledger_message *out,
                              uint8_t id[LEDGER_HASH_SIZE])
{
    if (sodium_init() < 0)
        return ST_IO_ERROR;
    if (envelope.len > max_bytes)
        return ST_MESSAGE_TOO_LARGE;
    if (envelope.len < LEDGER_SIGNATURE_SIZE)
        return ST_MALFORMED_MESSAGE;
    span content = span_of(envelope.ptr, envelope.len - LEDGER_SIGNATURE_SIZE);
    const uint8_t *sig = envelope.ptr + content.len;
    ledger_message m;
    status st = dec_message(content, &m, ST_MALFORMED_MESSAGE);
    if (st != ST_OK)
        return st;
    if (verify && crypto_sign_verify_detached(sig, content.ptr, content.len, m.sender) != 0)
        return ST_BAD_SIGNATURE;
    message_id(content, id);
    *out = m;
    return ST_OK;
}

status ledger_message_decode(span envelope, uint32_t max_bytes, ledger_message *out,
                             uint8_t id[LEDGER_HASH_SIZE])
{
    return decode_envelope(envelope, max_bytes, true, out, id);
}

status ledger_message_parse(span envelope, ledger_message *out, uint8_t id[LEDGER_HASH_SIZE])
{
    return decode_envelope(envelope, UINT32_MAX, false, out, id);
}

status message_check_txn(ledger *lg, MDB_txn *txn, span envelope, uint64_t height,
                         ledger_message *out, uint8_t id[LEDGER_HASH_SIZE])
{
    if (!lg->has_genesis)
        return ST_NO_GENESIS;
    ledger_message m;
    uint8_t mid[LEDGER_HASH_SIZE];
    status st = ledger_message_decode(envelope, lg->genesis.max_message_bytes, &m, mid);
    if (st != ST_OK)
        return st;
    if (m.expiry_height < height)
        return ST_MESSAGE_EXPIRED;
    static const int seen_in[] = {DB_RECEIPTS, DB_MESSAGES, DB_MEMPOOL_IDS};
    for (size_t i = 0; i < BASE_ARRAY_LEN(seen_in); i++) {
        MDB_val v;
        st = store_get(lg, txn, seen_in[i], mid, LEDGER_HASH_SIZE, &v);
        if (st == ST_OK)
            return ST_MESSAGE_REPLAY;
        if (st != ST_NOT_FOUND)
            return st;
    }
    *out = m;
    memcpy(id, mid, LEDGER_HASH_SIZE);
    return ST_OK;
}

status ledger_message_check(ledger_reader *rd, span envelope, uint64_t height,
                            ledger_message *out, uint8_t id[LEDGER_HASH_SIZE])
{
    return message_check_txn(rd->lg, rd->txn, envelope, height, out, id);
}

struct mempool_ctx {
    span envelope;
    uint8_t id[LEDGER_HASH_SIZE];
};

/* Checks the envelope for the next block and appends it under the next arrival number. */
static status write_mempool_add(ledger *lg, MDB_txn *txn, void *vctx)
{
    struct mempool_ctx *ctx = vctx;
    ledger_tip tip;
    status st = store_tip(lg, txn, &tip);
    if (st != ST_OK)
        return st;
    ledger_message m;
    st = message_check_txn(lg, txn, ctx->envelope, tip.height + 1, &m, ctx->id);
    if (st != ST_OK)
        return st;
    MDB_val v;
    uint64_t seq = 1;
    st = store_get(lg, txn, DB_META, "mempool_seq", 11, &v);
    if (st == ST_OK) {
        if (v.mv_size != 8)
            return STORE_CORRUPT(lg, "mempool counter");
        seq = le64_load(v.mv_data) + 1;
    } else if (st != ST_NOT_FOUND) {
        return st;
    }
    uint8_t key[8], val[8];
    be64_store(key, seq);
    le64_store(val, seq);
    st = store_put(lg, txn, DB_META, "mempool_seq", 11, val, 8, 0);
    if (st == ST_OK)
        st = store_put(lg, txn, DB_MEMPOOL, key, 8, ctx->envelope.ptr, ctx->envelope.len, 0);
    if (st == ST_OK)
        st = store_put(lg, txn, DB_MEMPOOL_IDS, ctx->id, LEDGER_HASH_SIZE, key, 8, 0);
    return st;
}

status ledger_mempool_add(ledger *lg, span envelope, uint8_t id[LEDGER_HASH_SIZE])
{
    struct mempool_ctx ctx = {envelope, {0}};
    status st = store_write(lg, write_mempool_add, &ctx);
    if (st == ST_OK)
        memcpy(id, ctx.id, LEDGER_HASH_SIZE);
    return st;
}
