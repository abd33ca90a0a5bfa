/* store.c - the node directory: opening the LMDB environment and its named databases, the
 * write-transaction runner that grows the map on MDB_MAP_FULL, fault mapping, genesis and
 * block 0. Reading back lives in read.c, rounds in round.c. */
#include "ledger_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",         [DB_CODE] = "code",     [DB_CANISTERS] = "canisters",
    [DB_HEAP] = "heap",         [DB_STABLE] = "stable", [DB_NODES] = "nodes",
    [DB_RECEIPTS] = "receipts", [DB_BLOCKS] = "blocks", [DB_MESSAGES] = "messages",
    [DB_MEMPOOL] = "mempool",   [DB_IDS] = "ids",
};

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define MAP_ALIGN ((size_t)1 << 20)
#define RESIZE_WAIT_S 10

/* ---- faults -------------------------------------------------------------------------------- */

/* The file name without its directories, for fault details. */
static const char *base_name(const char *file)
{
    const char *slash = strrchr(file, '/');
    return slash ? slash + 1 : file;
}

status store_fault(ledger *lg, int rc, const char *what, const char *file, int line)
{
    snprintf(lg->detail, sizeof lg->detail, "%s: %s (ledger/%s:%d)", what, mdb_strerror(rc),
             base_name(file), line);
    switch (rc) {
    case MDB_MAP_FULL: return ST_MAP_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH: return ST_CORRUPT_LEDGER;
    case ENOMEM: return ST_OUT_OF_MEMORY;
    default: return ST_LMDB_ERROR;
    }
}

status store_corrupt(ledger *lg, const char *what, const char *file, int line)
{
    snprintf(lg->detail, sizeof lg->detail, "corrupt %s (ledger/%s:%d)", what, base_name(file),
             line);
    return ST_CORRUPT_LEDGER;
}

uint64_t ledger_map_size(const ledger *lg)
{
    return atomic_load(&((ledger *)lg)->map_size);
}

const char *ledger_fault_detail(const ledger *lg)
{
    return lg->detail;
}

/* ---- small LMDB wrappers ------------------------------------------------------------------- */

status store_get(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen, MDB_val *val)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_get(txn, lg->db[db], &k, val);
    if (rc == MDB_NOTFOUND)
        return ST_NOT_FOUND;
    return rc ? STORE_FAULT(lg, rc, db_names[db]) : ST_OK;
}

status store_get_fixed(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen, void *out,
                       size_t size, const char *what)
{
    MDB_val v;
    status st = store_get(lg, txn, db, key, klen, &v);
    if (st == ST_NOT_FOUND) {
        memset(out, 0, size);
        return ST_OK;
    }
    if (st != ST_OK)
        return st;
    if (v.mv_size != size)
        return STORE_CORRUPT(lg, what);
    memcpy(out, v.mv_data, size);
    return ST_OK;
}

status store_put(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen, const void *val,
                 size_t vlen, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(txn, lg->db[db], &k, &v, flags);
    if (rc == MDB_KEYEXIST)
        return ST_MESSAGE_REPLAY; /* only NOOVERWRITE puts see it; callers map it */
    return rc ? STORE_FAULT(lg, rc, db_names[db]) : ST_OK;
}

status store_del(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn, lg->db[db], &k, NULL);
    if (rc == MDB_NOTFOUND)
        return ST_OK;
    return rc ? STORE_FAULT(lg, rc, db_names[db]) : ST_OK;
}

status store_del_prefix(ledger *lg, MDB_txn *txn, int db, const uint8_t *prefix, size_t plen)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db[db], &cur);
    if (rc)
        return STORE_FAULT(lg, rc, db_names[db]);
    MDB_val k, v;
    for (;;) { /* seek again after each delete: simple and immune to cursor quirks */
        k = (MDB_val){plen, (void *)prefix};
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return STORE_FAULT(lg, rc, db_names[db]);
    return ST_OK;
}

status store_tip(ledger *lg, MDB_txn *txn, ledger_tip *tip)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db[DB_BLOCKS], &cur);
    if (rc)
        return STORE_FAULT(lg, rc, "blocks");
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return ST_NO_GENESIS;
    if (rc)
        return STORE_FAULT(lg, rc, "blocks");
    ledger_block b;
    if (k.mv_size != 8 || dec_block(span_of(v.mv_data, v.mv_size), &b, ST_CORRUPT_LEDGER) ||
        b.height != be64_load(k.mv_data))
        return STORE_CORRUPT(lg, "last block");
    tip->height = b.height;
    tip->timestamp_ns = b.timestamp_ns;
    memcpy(tip->hash, b.hash, LEDGER_HASH_SIZE);
    memcpy(tip->state_root, b.state_root, LEDGER_HASH_SIZE);
    memcpy(tip->receipts_root, b.receipts_root, LEDGER_HASH_SIZE);
    MDB_val c;
    status st = store_get(lg, txn, DB_META, "next_canister_id", 16, &c);
    if (st == ST_NOT_FOUND || (st == ST_OK && c.mv_size != 8))
        return STORE_CORRUPT(lg, "canister counter");
    if (st != ST_OK)
        return st;
    tip->next_canister_id = le64_load(c.mv_data);
    return ST_OK;
}

/* ---- the write runner and map growth ------------------------------------------------------- */

/* Doubles the map (grow) or adopts the size another process set (!grow). Only legal with no
 * transaction of this process open: takes the resize lock exclusively, which every open
 * transaction of this handle holds shared. */
static status resize_map(ledger *lg, bool grow)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += RESIZE_WAIT_S;
    if (pthread_rwlock_timedwrlock(&lg->resize_lock, &until) != 0) {
        snprintf(lg->detail, sizeof lg->detail, "map full: readers stayed open for %d s",
                 RESIZE_WAIT_S);
        return ST_MAP_FULL;
    }
    size_t size = grow ? lg->map_size * 2 : 0;
    int rc = !grow || size > lg->map_size ? mdb_env_set_mapsize(lg->env, size) : MDB_MAP_FULL;
    MDB_envinfo info;
    if (rc == 0 && (rc = mdb_env_info(lg->env, &info)) == 0)
        lg->map_size = info.me_mapsize;
    pthread_rwlock_unlock(&lg->resize_lock);
    return rc ? STORE_FAULT(lg, rc, "resize map") : ST_OK;
}

status store_adopt_map(ledger *lg)
{
    return resize_map(lg, false);
}

/* store_write, or with !commit the dry run of store_preview: fn's transaction is aborted. */
static status store_run(ledger *lg, store_write_fn fn, void *ctx, bool commit)
{
    for (;;) {
        pthread_rwlock_rdlock(&lg->resize_lock);
        MDB_txn *txn;
        int rc = mdb_txn_begin(lg->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) { /* another process grew it: adopt its size */
            pthread_rwlock_unlock(&lg->resize_lock);
            status st = resize_map(lg, false);
            if (st != ST_OK)
                return st;
            continue;
        }
        if (rc) {
            pthread_rwlock_unlock(&lg->resize_lock);
            return STORE_FAULT(lg, rc, "begin write");
        }
        status st = fn(lg, txn, ctx);
        if (st == ST_OK && commit) {
            rc = mdb_txn_commit(txn);
            st = rc ? STORE_FAULT(lg, rc, "commit") : ST_OK;
        } else {
            mdb_txn_abort(txn);
        }
        pthread_rwlock_unlock(&lg->resize_lock);
        if (st != ST_MAP_FULL)
            return st;
        st = resize_map(lg, true);
        if (st != ST_OK)
            return st;
    }
}

status store_write(ledger *lg, store_write_fn fn, void *ctx)
{
    return store_run(lg, fn, ctx, true);
}

status store_preview(ledger *lg, store_write_fn fn, void *ctx)
{
    return store_run(lg, fn, ctx, false);
}

/* ---- open and close ------------------------------------------------------------------------ */

static status load_genesis(ledger *lg)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(lg->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return STORE_FAULT(lg, rc, "begin read");
    MDB_val v;
    status st = store_get(lg, txn, DB_META, "genesis", 7, &v);
    if (st == ST_NOT_FOUND) {
        st = ST_OK;
        goto out_abort;
    }
    if (st != ST_OK)
        goto out_abort;
    ledger_genesis g;
    if (dec_genesis(span_of(v.mv_data, v.mv_size), &g, ST_CORRUPT_LEDGER) != ST_OK) {
        st = STORE_CORRUPT(lg, "genesis");
        goto out_abort;
    }
    /* layout 1 (before messages and receipts were keyed by arrival) had no "layout" key; the
     * status is all the caller gets (ledger_open frees the handle on failure) */
    MDB_val lv;
    st = store_get(lg, txn, DB_META, "layout", 6, &lv);
    if (st == ST_NOT_FOUND ||
        (st == ST_OK && (lv.mv_size != 4 || le32_load(lv.mv_data) != LAYOUT_VERSION)))
        st = ST_LEDGER_LAYOUT;
    if (st != ST_OK)
        goto out_abort;
    lg->genesis = g;
    lg->has_genesis = true;
    crypto_generichash_state h;
    hash_begin(&h, TAG_GENESIS);
    crypto_generichash_update(&h, v.mv_data, v.mv_size);
    hash_end(&h, lg->genesis_hash);
out_abort:
    mdb_txn_abort(txn);
    return st;
}

/* Creates the environment and opens every named database (creating it if needed). */
static status open_env(ledger *lg, const char *dir, const ledger_options *opt)
{
    int rc = mdb_env_create(&lg->env);
    if (rc)
        return STORE_FAULT(lg, rc, "env create");
    size_t map = opt && opt->map_size ? (size_t)opt->map_size : DEFAULT_MAP_SIZE;
    map = (map + MAP_ALIGN - 1) / MAP_ALIGN * MAP_ALIGN;
    if ((rc = mdb_env_set_mapsize(lg->env, map)) || (rc = mdb_env_set_maxdbs(lg->env, DB_COUNT)) ||
        (opt && opt->max_readers && (rc = mdb_env_set_maxreaders(lg->env, opt->max_readers))))
        return STORE_FAULT(lg, rc, "env config");
    unsigned flags = MDB_NOTLS | (opt && opt->no_sync ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_open(lg->env, dir, flags, 0600)))
        return STORE_FAULT(lg, rc, "env open");
    int dead = 0;
    if ((rc = mdb_reader_check(lg->env, &dead)))
        return STORE_FAULT(lg, rc, "reader check");
    MDB_envinfo info;
    if ((rc = mdb_env_info(lg->env, &info)))
        return STORE_FAULT(lg, rc, "env info");
    lg->map_size = info.me_mapsize;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(lg->env, NULL, 0, &txn)))
        return STORE_FAULT(lg, rc, "begin write");
    for (int i = 0; i < DB_COUNT && rc == 0; i++)
        rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &lg->db[i]);
    if (rc) {
        mdb_txn_abort(txn);
        return STORE_FAULT(lg, rc, "open databases");
    }
    if ((rc = mdb_txn_commit(txn)))
        return STORE_FAULT(lg, rc, "commit databases");
    return ST_OK;
}

status ledger_open(const char *dir, const ledger_options *opt, ledger **out)
{
    return ledger_open_detail(dir, opt, out, NULL, 0);
}

status ledger_open_detail(const char *dir, const ledger_options *opt, ledger **out, char *why,
                          size_t cap)
{
    char scratch[256];
    if (!why || !cap)
        why = scratch, cap = sizeof scratch;
    why[0] = '\0';
    if (sodium_init() < 0)
        return ST_IO_ERROR;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, cap, "%s: %s", dir, strerror(errno));
        return ST_IO_ERROR;
    }
    status fst = ledger_file_check(dir, why, cap);
    if (fst != ST_OK)
        return fst;
    ledger *lg = base_calloc(1, sizeof *lg);
    if (!lg)
        return ST_OUT_OF_MEMORY;
    if (pthread_rwlock_init(&lg->resize_lock, NULL) != 0) {
        base_free(lg);
        return ST_OUT_OF_MEMORY;
    }
    atomic_init(&lg->round_open, false);
    status st = open_env(lg, dir, opt);
    if (st == ST_OK)
        st = load_genesis(lg);
    if (st != ST_OK) {
        snprintf(why, cap, "%s: %s", dir, lg->detail[0] ? lg->detail : status_message(st));
        ledger_close(lg);
        return st;
    }
    *out = lg;
    return ST_OK;
}

void ledger_close(ledger *lg)
{
    if (!lg)
        return;
    if (lg->env)
        mdb_env_close(lg->env);
    pthread_rwlock_destroy(&lg->resize_lock);
    base_free(lg);
}

/* ---- genesis ------------------------------------------------------------------------------- */

const ledger_genesis *ledger_genesis_of(const ledger *lg)
{
    return lg->has_genesis ? &lg->genesis : NULL;
}

static status check_genesis(const ledger_genesis *g)
{
    size_t n = strnlen(g->chain_id, LEDGER_CHAIN_ID_MAX + 1);
    if (n == 0 || n > LEDGER_CHAIN_ID_MAX || !span_is_utf8(span_of(g->chain_id, n)) ||
        g->max_message_bytes <= LEDGER_SIGNATURE_SIZE)
        return ST_BAD_GENESIS;
    return ST_OK;
}

struct genesis_ctx {
    span enc;
    uint8_t hash[LEDGER_HASH_SIZE];
    uint64_t time_ns;
};

/* Stores the genesis record, the canister counter and block 0 (empty state). */
static status write_genesis(ledger *lg, MDB_txn *txn, void *vctx)
{
    struct genesis_ctx *ctx = vctx;
    MDB_val old;
    status st = store_get(lg, txn, DB_META, "genesis", 7, &old);
    if (st == ST_OK)
        return span_eq(span_of(old.mv_data, old.mv_size), ctx->enc) ? ST_OK : ST_GENESIS_MISMATCH;
    if (st != ST_NOT_FOUND)
        return st;
    uint8_t one[8], layout[4];
    le64_store(one, 1);
    le32_store(layout, LAYOUT_VERSION);
    ledger_block b;
    memset(&b, 0, sizeof b);
    memcpy(b.parent_hash, ctx->hash, LEDGER_HASH_SIZE);
    b.timestamp_ns = ctx->time_ns;
    /* empty receipts root: H(tag || count 0); empty state root: H(tag || 0^32 || next id 1) */
    crypto_generichash_state h;
    sink s = {NULL, &h, ST_OK};
    hash_begin(&h, TAG_RECEIPTS);
    sink_u32(&s, 0);
    hash_end(&h, b.receipts_root);
    hash_begin(&h, TAG_STATE);
    sink_put(&s, b.hash, LEDGER_HASH_SIZE); /* b.hash is still all zeros: the empty tree */
    sink_u64(&s, 1);
    hash_end(&h, b.state_root);
    buf enc = {0};
    sink bs = {&enc, NULL, ST_OK};
    enc_block(&bs, &b);
    uint8_t key[8];
    be64_store(key, 0);
    st = bs.st;
    if (st == ST_OK)
        st = store_put(lg, txn, DB_META, "genesis", 7, ctx->enc.ptr, ctx->enc.len, 0);
    if (st == ST_OK)
        st = store_put(lg, txn, DB_META, "layout", 6, layout, 4, 0);
    if (st == ST_OK)
        st = store_put(lg, txn, DB_META, "next_canister_id", 16, one, 8, 0);
    if (st == ST_OK)
        st = store_put(lg, txn, DB_BLOCKS, key, 8, enc.ptr, enc.len, 0);
    buf_fini(&enc);
    return st;
}

status ledger_genesis_init(ledger *lg, const ledger_genesis *g)
{
    status st = check_genesis(g);
    if (st != ST_OK)
        return st;
    struct genesis_ctx ctx;
    buf enc = {0};
    sink s = {&enc, NULL, ST_OK};
    enc_genesis(&s, g);
    if (s.st != ST_OK)
        goto out_free;
    ctx.enc = span_of(enc.ptr, enc.len);
    ctx.time_ns = g->genesis_time_ns;
    crypto_generichash_state h;
    hash_begin(&h, TAG_GENESIS);
    crypto_generichash_update(&h, enc.ptr, enc.len);
    hash_end(&h, ctx.hash);
    st = store_write(lg, write_genesis, &ctx);
    if (st == ST_OK && !lg->has_genesis)
        st = load_genesis(lg);
out_free:
    buf_fini(&enc);
    return s.st != ST_OK ? s.st : st;
}
