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
 * signature; the id is computed unless id is NULL. */
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
    if (id)
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

status ids_seq(ledger *lg, MDB_txn *txn, const uint8_t id[LEDGER_HASH_SIZE], uint64_t *seq)
{
    MDB_val v;
    status st = store_get(lg, txn, DB_IDS, id, LEDGER_HASH_SIZE, &v);
    if (st != ST_OK)
        return st;
    if (v.mv_size != 8)
        return STORE_CORRUPT(lg, "message id index");
    *seq = be64_load(v.mv_data);
    return ST_OK;
}

/* ST_MESSAGE_REPLAY if message id was seen (waits in the mempool, was included in a block or
 * has a receipt: all of them have an arrival number in "ids", the transaction's own writes
 * included), ST_OK if not, or a fault. */
static status seen_txn(ledger *lg, MDB_txn *txn, const uint8_t id[LEDGER_HASH_SIZE])
{
    uint64_t seq;
    status st = ids_seq(lg, txn, id, &seq);
    return st == ST_OK ? ST_MESSAGE_REPLAY : st == ST_NOT_FOUND ? ST_OK : st;
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
    st = seen_txn(lg, txn, mid);
    if (st != ST_OK)
        return st;
    *out = m;
    memcpy(id, mid, LEDGER_HASH_SIZE);
    return ST_OK;
}

status ledger_message_check(ledger_reader *rd, span envelope, uint64_t height, ledger_message *out,
                            uint8_t id[LEDGER_HASH_SIZE])
{
    return message_check_txn(rd->lg, rd->txn, envelope, height, out, id);
}

/* ---- the durable mempool: admission in batches ----------------------------------------------- */

/* What the checks outside the write transaction found about one envelope. */
typedef struct batch_item {
    status decoded; /* ledger_message_decode's status */
    uint64_t expiry_height;
} batch_item;

typedef struct batch_ctx {
    size_t n;
    const span *envelopes;
    uint8_t (*ids)[LEDGER_HASH_SIZE];
    status *statuses;
    const batch_item *items;
} batch_ctx;

status seq_get(ledger *lg, MDB_txn *txn, uint64_t *seq)
{
    MDB_val v;
    status st = store_get(lg, txn, DB_META, "mempool_seq", 11, &v);
    if (st == ST_NOT_FOUND) {
        *seq = 0;
        return ST_OK;
    }
    if (st != ST_OK)
        return st;
    if (v.mv_size != 8)
        return STORE_CORRUPT(lg, "mempool counter");
    *seq = le64_load(v.mv_data);
    return ST_OK;
}

status seq_set(ledger *lg, MDB_txn *txn, uint64_t seq)
{
    uint8_t val[8];
    le64_store(val, seq);
    return store_put(lg, txn, DB_META, "mempool_seq", 11, val, 8, 0);
}

/* The write transaction of a batch: expiry and replay checks against the tip, then each
 * accepted envelope under the next arrival number. Depends only on ctx and txn (store_write may
 * run it again after growing the map), so every status is recomputed here. */
static status write_mempool_batch(ledger *lg, MDB_txn *txn, void *vctx)
{
    batch_ctx *ctx = vctx;
    ledger_tip tip;
    uint64_t seq = 0, first;
    status st = store_tip(lg, txn, &tip);
    if (st == ST_OK)
        st = seq_get(lg, txn, &seq);
    if (st != ST_OK)
        return st;
    first = seq;
    for (size_t i = 0; i < ctx->n; i++) {
        status *out = &ctx->statuses[i];
        *out = ctx->items[i].decoded;
        if (*out != ST_OK)
            continue;
        if (ctx->items[i].expiry_height < tip.height + 1) {
            *out = ST_MESSAGE_EXPIRED;
            continue;
        }
        st = seen_txn(lg, txn, ctx->ids[i]); /* sees the earlier envelopes of this batch too */
        if (st == ST_MESSAGE_REPLAY) {
            *out = st;
            continue;
        }
        if (st != ST_OK)
            return st;
        uint8_t key[8];
        be64_store(key, ++seq);
        span e = ctx->envelopes[i];
        st = store_put(lg, txn, DB_MEMPOOL, key, 8, e.ptr, e.len, 0);
        if (st == ST_OK)
            st = store_put(lg, txn, DB_IDS, ctx->ids[i], LEDGER_HASH_SIZE, key, 8, 0);
        if (st != ST_OK)
            return st;
    }
    return seq == first ? ST_OK /* nothing accepted: an empty transaction */
                        : seq_set(lg, txn, seq);
}

/* ledger_mempool_add_batch and _verified: `verified` skips the size limit and the signature
 * check (the caller made them with ledger_message_decode). */
static status add_batch(ledger *lg, size_t n, const span *envelopes,
                        uint8_t (*ids)[LEDGER_HASH_SIZE], status *statuses, bool verified)
{
    status st = lg->has_genesis ? ST_OK : ST_NO_GENESIS;
    batch_item *items = NULL;
    if (st != ST_OK || n == 0)
        goto out_statuses;
    items = base_alloc(n * sizeof *items);
    if (!items) {
        st = ST_OUT_OF_MEMORY;
        goto out_statuses;
    }
    /* the signatures are checked outside the write transaction: the writer lock is held only
     * for the lookups and the puts; `verified` envelopes are only parsed (id, expiry) */
    for (size_t i = 0; i < n; i++) {
        ledger_message m;
        span env = envelopes[i];
        items[i].decoded =
            verified ? ledger_message_parse(env, &m, ids[i])
                     : ledger_message_decode(env, lg->genesis.max_message_bytes, &m, ids[i]);
        items[i].expiry_height = items[i].decoded == ST_OK ? m.expiry_height : 0;
        if (items[i].decoded == ST_IO_ERROR) { /* libsodium cannot start: a node fault */
            st = ST_IO_ERROR;
            goto out_free;
        }
        if (items[i].decoded != ST_OK)
            memset(ids[i], 0, LEDGER_HASH_SIZE);
    }
    batch_ctx ctx = {n, envelopes, ids, statuses, items};
    st = store_write(lg, write_mempool_batch, &ctx);
out_free:
    base_free(items);
out_statuses:
    for (size_t i = 0; st != ST_OK && i < n; i++)
        statuses[i] = st;
    return st;
}

status ledger_mempool_add_batch(ledger *lg, size_t n, const span *envelopes,
                                uint8_t (*ids)[LEDGER_HASH_SIZE], status *statuses)
{
    return add_batch(lg, n, envelopes, ids, statuses, false);
}

status ledger_mempool_add_verified(ledger *lg, size_t n, const span *envelopes,
                                   uint8_t (*ids)[LEDGER_HASH_SIZE], status *statuses)
{
    return add_batch(lg, n, envelopes, ids, statuses, true);
}

status ledger_mempool_add(ledger *lg, span envelope, uint8_t id[LEDGER_HASH_SIZE])
{
    uint8_t one_id[1][LEDGER_HASH_SIZE];
    status one;
    status st = ledger_mempool_add_batch(lg, 1, &envelope, one_id, &one);
    if (st == ST_OK && one == ST_OK)
        memcpy(id, one_id[0], LEDGER_HASH_SIZE);
    return st != ST_OK ? st : one;
}
