/* read.c - reading the ledger back through read snapshots (LMDB read transactions, which never
 * block the writer): tip, blocks, canister records, pages and page hashes, code, receipts,
 * included messages and the mempool. Every returned span borrows from the snapshot. */
#include "ledger_int.h"

#include <string.h>

status ledger_read_begin(ledger *lg, ledger_reader **out)
{
    ledger_reader *rd = base_alloc(sizeof *rd);
    if (!rd)
        return ST_OUT_OF_MEMORY;
    pthread_rwlock_rdlock(&lg->resize_lock);
    int rc = mdb_txn_begin(lg->env, NULL, MDB_RDONLY, &rd->txn);
    if (rc == MDB_MAP_RESIZED) { /* another process grew the map: adopt it, try once more */
        pthread_rwlock_unlock(&lg->resize_lock);
        status st = store_adopt_map(lg);
        if (st != ST_OK) {
            base_free(rd);
            return st;
        }
        pthread_rwlock_rdlock(&lg->resize_lock);
        rc = mdb_txn_begin(lg->env, NULL, MDB_RDONLY, &rd->txn);
    }
    if (rc) {
        pthread_rwlock_unlock(&lg->resize_lock);
        base_free(rd);
        return STORE_FAULT(lg, rc, "begin read");
    }
    rd->lg = lg;
    rd->mempool = NULL;
    *out = rd;
    return ST_OK;
}

void ledger_read_end(ledger_reader *rd)
{
    if (!rd)
        return;
    if (rd->mempool)
        mdb_cursor_close(rd->mempool);
    mdb_txn_abort(rd->txn);
    pthread_rwlock_unlock(&rd->lg->resize_lock);
    base_free(rd);
}

status ledger_tip_get(ledger_reader *rd, ledger_tip *out)
{
    return store_tip(rd->lg, rd->txn, out);
}

status ledger_block_get(ledger_reader *rd, uint64_t height, ledger_block *out)
{
    uint8_t key[8];
    be64_store(key, height);
    MDB_val v;
    status st = store_get(rd->lg, rd->txn, DB_BLOCKS, key, 8, &v);
    if (st != ST_OK)
        return st;
    if (dec_block(span_of(v.mv_data, v.mv_size), out, ST_CORRUPT_LEDGER) != ST_OK ||
        out->height != height)
        return STORE_CORRUPT(rd->lg, "block");
    return ST_OK;
}

status ledger_canister_get(ledger_reader *rd, uint64_t id, ledger_canister *out)
{
    uint8_t key[8];
    be64_store(key, id);
    MDB_val v;
    status st = store_get(rd->lg, rd->txn, DB_CANISTERS, key, 8, &v);
    if (st == ST_NOT_FOUND)
        return ST_UNKNOWN_CANISTER;
    if (st != ST_OK)
        return st;
    if (dec_canister(span_of(v.mv_data, v.mv_size), out, ST_CORRUPT_LEDGER) != ST_OK)
        return STORE_CORRUPT(rd->lg, "canister record");
    return ST_OK;
}

status ledger_subnet_get(ledger_reader *rd, span *out)
{
    MDB_val v;
    status st = store_get(rd->lg, rd->txn, DB_META, "subnet", 6, &v);
    *out = span_of(NULL, 0);
    if (st == ST_NOT_FOUND)
        return ST_OK;
    if (st == ST_OK)
        *out = span_of(v.mv_data, v.mv_size);
    return st;
}

status ledger_page_get(ledger_reader *rd, uint64_t id, ledger_mem mem, uint32_t page_no,
                       uint8_t *out)
{
    if (mem == LEDGER_MEM_HEAP && page_no >= LEDGER_HEAP_PAGES_MAX)
        return ST_PAGE_OUT_OF_RANGE;
    uint8_t key[PAGE_KEY_SIZE];
    page_key(key, id, page_no);
    return store_get_fixed(rd->lg, rd->txn, mem == LEDGER_MEM_HEAP ? DB_HEAP : DB_STABLE, key,
                           sizeof key, out, LEDGER_PAGE_SIZE, "page");
}

status ledger_page_hash_get(ledger_reader *rd, uint64_t id, ledger_mem mem, uint32_t page_no,
                            uint8_t out[LEDGER_HASH_SIZE])
{
    if (mem == LEDGER_MEM_HEAP && page_no >= LEDGER_HEAP_PAGES_MAX)
        return ST_PAGE_OUT_OF_RANGE;
    uint8_t key[NODE_KEY_SIZE];
    node_key(key, mem == LEDGER_MEM_HEAP ? TREE_HEAP : TREE_STABLE, id, 0, page_no);
    MDB_val v;
    status st = store_get(rd->lg, rd->txn, DB_NODES, key, sizeof key, &v);
    if (st == ST_NOT_FOUND) {
        memset(out, 0, LEDGER_HASH_SIZE);
        return ST_OK;
    }
    if (st != ST_OK)
        return st;
    if (v.mv_size != LEDGER_HASH_SIZE)
        return STORE_CORRUPT(rd->lg, "page hash");
    memcpy(out, v.mv_data, LEDGER_HASH_SIZE);
    return ST_OK;
}

status ledger_code_get(ledger_reader *rd, const uint8_t hash[LEDGER_HASH_SIZE], span *original,
                       span *instrumented)
{
    MDB_val v;
    status st = store_get(rd->lg, rd->txn, DB_CODE, hash, LEDGER_HASH_SIZE, &v);
    if (st != ST_OK)
        return st;
    reader r = reader_of(span_of(v.mv_data, v.mv_size));
    uint8_t format;
    uint32_t n1, n2;
    span a, b;
    if (reader_u8(&r, &format) || format != FORMAT_V1 || reader_fixed32(&r, &n1) ||
        reader_bytes(&r, n1, &a) || reader_fixed32(&r, &n2) || reader_bytes(&r, n2, &b) ||
        reader_left(&r) != 0)
        return STORE_CORRUPT(rd->lg, "code record");
    *original = a;
    *instrumented = b;
    return ST_OK;
}

/* The value stored under message msg_id's arrival number in db (receipts, messages, mempool). */
static status get_by_id(ledger_reader *rd, int db, const uint8_t msg_id[LEDGER_HASH_SIZE],
                        uint64_t *seq, MDB_val *v)
{
    status st = ids_seq(rd->lg, rd->txn, msg_id, seq);
    if (st != ST_OK)
        return st;
    uint8_t key[8];
    be64_store(key, *seq);
    return store_get(rd->lg, rd->txn, db, key, 8, v);
}

status ledger_receipt_get(ledger_reader *rd, const uint8_t msg_id[LEDGER_HASH_SIZE],
                          ledger_receipt *out)
{
    uint64_t seq;
    MDB_val v;
    status st = get_by_id(rd, DB_RECEIPTS, msg_id, &seq, &v);
    if (st != ST_OK)
        return st;
    if (dec_receipt(span_of(v.mv_data, v.mv_size), out, ST_CORRUPT_LEDGER) != ST_OK)
        return STORE_CORRUPT(rd->lg, "receipt");
    return ST_OK;
}

status ledger_message_get(ledger_reader *rd, const uint8_t msg_id[LEDGER_HASH_SIZE],
                          span *envelope)
{
    uint64_t seq;
    MDB_val v;
    status st = get_by_id(rd, DB_MESSAGES, msg_id, &seq, &v);
    if (st == ST_OK)
        *envelope = span_of(v.mv_data, v.mv_size);
    return st;
}

status ledger_mempool_next(ledger_reader *rd, uint64_t *seq, span *envelope,
                           uint8_t id[LEDGER_HASH_SIZE])
{
    if (*seq == UINT64_MAX)
        return ST_NOT_FOUND;
    uint8_t key[8];
    be64_store(key, *seq + 1);
    int rc = rd->mempool ? 0 : mdb_cursor_open(rd->txn, rd->lg->db[DB_MEMPOOL], &rd->mempool);
    if (rc) {
        rd->mempool = NULL;
        return STORE_FAULT(rd->lg, rc, "mempool");
    }
    MDB_val k = {8, key}, v;
    rc = mdb_cursor_get(rd->mempool, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return ST_NOT_FOUND;
    if (rc)
        return STORE_FAULT(rd->lg, rc, "mempool");
    if (k.mv_size != 8 || v.mv_size < LEDGER_SIGNATURE_SIZE)
        return STORE_CORRUPT(rd->lg, "mempool entry");
    *seq = be64_load(k.mv_data);
    *envelope = span_of(v.mv_data, v.mv_size);
    if (id)
        message_id(span_of(v.mv_data, v.mv_size - LEDGER_SIGNATURE_SIZE), id);
    return ST_OK;
}

status ledger_mempool_find(ledger_reader *rd, const uint8_t msg_id[LEDGER_HASH_SIZE],
                           uint64_t *seq)
{
    uint64_t at;
    MDB_val v;
    status st = get_by_id(rd, DB_MEMPOOL, msg_id, &at, &v);
    if (st == ST_OK && seq)
        *seq = at;
    return st;
}
