/* verify.c - integrity checks of a node directory (docs/reliability.md "Ledger"):
 *   - the data file against LMDB's meta pages, BEFORE LMDB maps it: a data.mdb cut short
 *     (copied half, disk full, truncated by hand) otherwise faults with SIGBUS the first time
 *     LMDB touches a page past the end of the file;
 *   - the tip: the state root recomputed from the stored canister tree against the state root
 *     of the tip block (cheap: one tree node and one counter);
 *   - the whole chain: block links and hashes, every stored tree node against its children,
 *     every page and canister record against its leaf, and the tip.
 * It does not re-execute anything (that is `tally replay`). */
#include "ledger_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the data file against LMDB's meta pages ---------------------------------------------- */

/* LMDB 0.9 (mdb.c: MDB_page, MDB_meta, MDB_db; MDB_MAGIC, MDB_DATA_VERSION). The first two
 * pages of data.mdb are meta pages: a page header (pgno_t mp_pgno, uint16 pad, uint16 flags,
 * uint16 lower, uint16 upper) and then MDB_meta: uint32 magic, uint32 version, void *address,
 * size_t mapsize, MDB_db dbs[2] (uint32 pad (= page size in dbs[0]), uint16 flags, uint16
 * depth, 5 x pgno_t), pgno_t last_pg, txnid_t txnid. pgno_t and txnid_t are size_t. */
#define LMDB_MAGIC 0xBEEFC0DEu
#define LMDB_DATA_VERSION 1u

enum {
    W = sizeof(size_t),
    PAGE_HDR = W + 8,
    M_MAGIC = PAGE_HDR,
    M_VERSION = PAGE_HDR + 4,
    M_DBS = PAGE_HDR + 8 + 2 * W,
    DB_SIZE = 8 + 5 * W,
    M_LAST_PG = M_DBS + 2 * DB_SIZE,
    M_TXNID = M_LAST_PG + W,
    META_END = M_TXNID + W,
};

typedef struct meta_view {
    bool ok;
    uint64_t psize, last_pg, txnid;
} meta_view;

static uint64_t load_word(const uint8_t *p)
{
    size_t v;
    memcpy(&v, p, sizeof v);
    return (uint64_t)v;
}

static meta_view read_meta(const uint8_t *p)
{
    meta_view m = {0};
    uint32_t magic, version, pad;
    memcpy(&magic, p + M_MAGIC, 4);
    memcpy(&version, p + M_VERSION, 4);
    memcpy(&pad, p + M_DBS, 4);
    m.psize = pad;
    m.last_pg = load_word(p + M_LAST_PG);
    m.txnid = load_word(p + M_TXNID);
    m.ok = magic == LMDB_MAGIC && version == LMDB_DATA_VERSION && m.psize >= 512 &&
           m.psize <= 65536 && (m.psize & (m.psize - 1)) == 0;
    return m;
}

status ledger_file_check(const char *dir, char *detail, size_t cap)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/data.mdb", dir) >= sizeof path)
        return ST_BAD_ARGUMENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return ST_OK; /* a new directory: LMDB creates the file */
        snprintf(detail, cap, "%s: %s", path, strerror(errno));
        return ST_IO_ERROR;
    }
    struct stat sb;
    uint8_t first[META_END];
    status st = ST_OK;
    if (fstat(fd, &sb) != 0) {
        snprintf(detail, cap, "%s: %s", path, strerror(errno));
        st = ST_IO_ERROR;
        goto out_close;
    }
    if (sb.st_size == 0) /* LMDB initialises an empty file */
        goto out_close;
    if (!S_ISREG(sb.st_mode) || pread(fd, first, sizeof first, 0) != (ssize_t)sizeof first) {
        snprintf(detail, cap, "%s: %lld bytes: shorter than an LMDB meta page", path,
                 (long long)sb.st_size);
        st = ST_CORRUPT_LEDGER;
        goto out_close;
    }
    meta_view m0 = read_meta(first), m1 = {0};
    uint8_t second[META_END];
    if (m0.ok && (uint64_t)sb.st_size >= 2 * m0.psize &&
        pread(fd, second, sizeof second, (off_t)m0.psize) == (ssize_t)sizeof second)
        m1 = read_meta(second);
    if (!m0.ok || !m1.ok || m1.psize != m0.psize) {
        snprintf(detail, cap, "%s: %lld bytes: no valid LMDB meta pages", path,
                 (long long)sb.st_size);
        st = ST_CORRUPT_LEDGER;
        goto out_close;
    }
    const meta_view *m = m1.txnid > m0.txnid ? &m1 : &m0; /* the one LMDB will use */
    uint64_t need = (m->last_pg + 1) * m->psize;
    if (m->last_pg >= UINT64_MAX / m->psize || (uint64_t)sb.st_size < need) {
        snprintf(detail, cap,
                 "%s: %lld bytes, but its last transaction (%llu) uses %llu pages of %llu bytes "
                 "(%llu bytes): the file was cut short",
                 path, (long long)sb.st_size, (unsigned long long)m->txnid,
                 (unsigned long long)(m->last_pg + 1), (unsigned long long)m->psize,
                 (unsigned long long)need);
        st = ST_CORRUPT_LEDGER;
    }
out_close:
    close(fd);
    return st;
}

/* ---- the state tree ------------------------------------------------------------------------ */

/* The state root the stored tree and counter give (what the tip block must say). */
static status stored_state_root(ledger *lg, MDB_txn *txn, uint8_t out[LEDGER_HASH_SIZE])
{
    uint8_t root[LEDGER_HASH_SIZE];
    status st = tree_node_read(lg, txn, TREE_CANISTERS, 0, tree_depth(TREE_CANISTERS), 0, root);
    if (st != ST_OK)
        return st;
    MDB_val c;
    st = store_get(lg, txn, DB_META, "next_canister_id", 16, &c);
    if (st == ST_NOT_FOUND || (st == ST_OK && c.mv_size != 8))
        return STORE_CORRUPT(lg, "canister counter");
    if (st != ST_OK)
        return st;
    uint64_t next_id = le64_load(c.mv_data);
    span subnet = span_of(NULL, 0);
    st = store_get(lg, txn, DB_META, "subnet", 6, &c);
    if (st == ST_OK)
        subnet = span_of(c.mv_data, c.mv_size);
    else if (st != ST_NOT_FOUND)
        return st;
    state_root_hash(root, next_id, subnet, out);
    return ST_OK;
}

static status check_tip(ledger *lg, MDB_txn *txn)
{
    ledger_tip tip;
    status st = store_tip(lg, txn, &tip);
    if (st != ST_OK)
        return st;
    uint8_t root[LEDGER_HASH_SIZE];
    st = stored_state_root(lg, txn, root);
    if (st == ST_OK && memcmp(root, tip.state_root, LEDGER_HASH_SIZE) != 0) {
        snprintf(lg->detail, sizeof lg->detail,
                 "the stored state does not match the state root of block %llu",
                 (unsigned long long)tip.height);
        return ST_CORRUPT_LEDGER;
    }
    return st;
}

/* Runs fn in a read transaction of its own. */
static status in_read(ledger *lg, status (*fn)(ledger *, MDB_txn *, void *), void *ctx)
{
    ledger_reader *rd;
    status st = ledger_read_begin(lg, &rd);
    if (st != ST_OK)
        return st;
    st = fn(lg, rd->txn, ctx);
    ledger_read_end(rd);
    return st;
}

static status tip_fn(ledger *lg, MDB_txn *txn, void *ctx)
{
    (void)ctx;
    return check_tip(lg, txn);
}

status ledger_verify_tip(ledger *lg)
{
    return in_read(lg, tip_fn, NULL);
}

/* The blocks: heights 0..tip without a gap, each parent hash the hash of the block before
 * (block 0: the genesis hash), timestamps not decreasing, every message stored. */
static status check_blocks(ledger *lg, MDB_txn *txn, uint64_t *blocks)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db[DB_BLOCKS], &cur);
    if (rc)
        return STORE_FAULT(lg, rc, "blocks");
    uint8_t parent[LEDGER_HASH_SIZE];
    memcpy(parent, lg->genesis_hash, LEDGER_HASH_SIZE);
    uint64_t expect = 0, last_ts = 0;
    status st = ST_OK;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && st == ST_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), expect++) {
        ledger_block b;
        if (k.mv_size != 8 || dec_block(span_of(v.mv_data, v.mv_size), &b, ST_CORRUPT_LEDGER) ||
            b.height != be64_load(k.mv_data) || b.height != expect ||
            memcmp(b.parent_hash, parent, LEDGER_HASH_SIZE) != 0 || b.timestamp_ns < last_ts) {
            snprintf(lg->detail, sizeof lg->detail,
                     "block %llu: bad encoding, height or parent link",
                     (unsigned long long)expect);
            st = ST_CORRUPT_LEDGER;
            break;
        }
        for (uint32_t i = 0; i < b.message_count && st == ST_OK; i++) {
            uint64_t seq;
            st = ids_seq(lg, txn, b.message_ids + (size_t)i * LEDGER_HASH_SIZE, &seq);
            if (st == ST_NOT_FOUND) {
                snprintf(lg->detail, sizeof lg->detail, "block %llu: message %u is not stored",
                         (unsigned long long)expect, i);
                st = ST_CORRUPT_LEDGER;
            }
        }
        ledger_block_hash(&b, parent);
        last_ts = b.timestamp_ns;
    }
    mdb_cursor_close(cur);
    if (st == ST_OK && rc != MDB_NOTFOUND)
        st = STORE_FAULT(lg, rc, "blocks");
    *blocks = expect;
    return st;
}

/* The hash a leaf must have: of a page (heap, stable) or of a canister record. */
static status leaf_hash(ledger *lg, MDB_txn *txn, unsigned kind, uint64_t owner, uint64_t index,
                        uint8_t out[LEDGER_HASH_SIZE])
{
    MDB_val v;
    status st;
    crypto_generichash_state h;
    memset(out, 0, LEDGER_HASH_SIZE);
    if (kind == TREE_CANISTERS) {
        uint8_t key[8];
        be64_store(key, index);
        st = store_get(lg, txn, DB_CANISTERS, key, 8, &v);
        if (st != ST_OK)
            return st == ST_NOT_FOUND ? ST_OK : st;
        hash_begin(&h, TAG_CANISTER);
    } else {
        if (index > UINT32_MAX)
            return ST_OK;
        uint8_t key[PAGE_KEY_SIZE];
        page_key(key, owner, (uint32_t)index);
        st = store_get(lg, txn, kind == TREE_HEAP ? DB_HEAP : DB_STABLE, key, sizeof key, &v);
        if (st != ST_OK)
            return st == ST_NOT_FOUND ? ST_OK : st;
        if (v.mv_size != LEDGER_PAGE_SIZE)
            return STORE_CORRUPT(lg, "page size");
        hash_begin(&h, TAG_PAGE);
    }
    crypto_generichash_update(&h, v.mv_data, v.mv_size);
    hash_end(&h, out);
    return ST_OK;
}

/* Every stored node: a leaf equals the hash of its page or record, an inner node the
 * combination of its children, and every node below the root has its parent stored (so an
 * erased parent is found too). */
static status check_nodes(ledger *lg, MDB_txn *txn, uint64_t *nodes)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db[DB_NODES], &cur);
    if (rc)
        return STORE_FAULT(lg, rc, "nodes");
    status st = ST_OK;
    uint64_t n = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && st == ST_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
        const uint8_t *key = k.mv_data;
        if (k.mv_size != NODE_KEY_SIZE || v.mv_size != LEDGER_HASH_SIZE ||
            key[0] > TREE_CANISTERS || key[9] > tree_depth(key[0])) {
            st = STORE_CORRUPT(lg, "tree node key");
            break;
        }
        unsigned kind = key[0], level = key[9];
        uint64_t owner = be64_load(key + 1), index = be64_load(key + 10);
        uint8_t want[LEDGER_HASH_SIZE], a[LEDGER_HASH_SIZE], b[LEDGER_HASH_SIZE];
        if (level == 0) {
            st = leaf_hash(lg, txn, kind, owner, index, want);
        } else {
            if ((st = tree_node_read(lg, txn, kind, owner, level - 1, index * 2, a)) == ST_OK &&
                (st = tree_node_read(lg, txn, kind, owner, level - 1, index * 2 + 1, b)) == ST_OK)
                tree_node_combine(a, b, want);
        }
        if (st == ST_OK && level < tree_depth(kind)) {
            st = tree_node_read(lg, txn, kind, owner, level + 1, index >> 1, a);
            static const uint8_t zero[LEDGER_HASH_SIZE];
            if (st == ST_OK && !memcmp(a, zero, LEDGER_HASH_SIZE))
                memset(want, 0xff, LEDGER_HASH_SIZE); /* an orphan: fails below */
        }
        if (st == ST_OK && memcmp(want, v.mv_data, LEDGER_HASH_SIZE) != 0) {
            snprintf(lg->detail, sizeof lg->detail,
                     "state tree %u of canister %llu, level %u, index %llu does not match what it "
                     "covers",
                     kind, (unsigned long long)owner, level, (unsigned long long)index);
            st = ST_CORRUPT_LEDGER;
        }
    }
    mdb_cursor_close(cur);
    if (st == ST_OK && rc != MDB_NOTFOUND)
        st = STORE_FAULT(lg, rc, "nodes");
    *nodes = n;
    return st;
}

/* A canister record's memory roots are the roots of its stored memory trees. */
static status check_record_roots(ledger *lg, MDB_txn *txn, uint64_t id, span enc)
{
    ledger_canister c;
    if (dec_canister(enc, &c, ST_CORRUPT_LEDGER) != ST_OK)
        return STORE_CORRUPT(lg, "canister record");
    uint8_t heap[LEDGER_HASH_SIZE], stable[LEDGER_HASH_SIZE];
    status st = tree_node_read(lg, txn, TREE_HEAP, id, tree_depth(TREE_HEAP), 0, heap);
    if (st == ST_OK)
        st = tree_node_read(lg, txn, TREE_STABLE, id, tree_depth(TREE_STABLE), 0, stable);
    if (st == ST_OK && (memcmp(heap, c.heap_root, LEDGER_HASH_SIZE) != 0 ||
                        memcmp(stable, c.stable_root, LEDGER_HASH_SIZE) != 0)) {
        snprintf(lg->detail, sizeof lg->detail,
                 "canister %llu: its record's memory roots are not its memories' roots",
                 (unsigned long long)id);
        st = ST_CORRUPT_LEDGER;
    }
    return st;
}

/* Every stored page and canister record has its leaf (a leaf check alone would not see a page
 * added behind the tree's back). */
static status check_leaves(ledger *lg, MDB_txn *txn, int db, unsigned kind)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, lg->db[db], &cur);
    if (rc)
        return STORE_FAULT(lg, rc, "leaves");
    status st = ST_OK;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && st == ST_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t want_len = kind == TREE_CANISTERS ? 8 : PAGE_KEY_SIZE;
        if (k.mv_size != want_len) {
            st = STORE_CORRUPT(lg, "page or record key");
            break;
        }
        const uint8_t *key = k.mv_data;
        uint64_t owner = kind == TREE_CANISTERS ? 0 : be64_load(key);
        uint64_t index = kind == TREE_CANISTERS
                             ? be64_load(key)
                             : ((uint64_t)key[8] << 24 | (uint64_t)key[9] << 16 |
                                (uint64_t)key[10] << 8 | key[11]);
        uint8_t want[LEDGER_HASH_SIZE], have[LEDGER_HASH_SIZE];
        if ((st = leaf_hash(lg, txn, kind, owner, index, want)) == ST_OK &&
            (st = tree_node_read(lg, txn, kind, owner, 0, index, have)) == ST_OK &&
            memcmp(want, have, LEDGER_HASH_SIZE) != 0) {
            snprintf(lg->detail, sizeof lg->detail,
                     "canister %llu: %s %llu has no matching leaf in the state tree",
                     (unsigned long long)(kind == TREE_CANISTERS ? index : owner),
                     kind == TREE_CANISTERS ? "record" : "page",
                     (unsigned long long)(kind == TREE_CANISTERS ? 0 : index));
            st = ST_CORRUPT_LEDGER;
        }
        if (st == ST_OK && kind == TREE_CANISTERS)
            st = check_record_roots(lg, txn, index, span_of(v.mv_data, v.mv_size));
    }
    mdb_cursor_close(cur);
    if (st == ST_OK && rc != MDB_NOTFOUND)
        st = STORE_FAULT(lg, rc, "leaves");
    return st;
}

static status chain_fn(ledger *lg, MDB_txn *txn, void *ctx)
{
    ledger_verify_report *r = ctx;
    status st = check_blocks(lg, txn, &r->blocks);
    if (st == ST_OK)
        st = check_nodes(lg, txn, &r->nodes);
    if (st == ST_OK)
        st = check_leaves(lg, txn, DB_HEAP, TREE_HEAP);
    if (st == ST_OK)
        st = check_leaves(lg, txn, DB_STABLE, TREE_STABLE);
    if (st == ST_OK)
        st = check_leaves(lg, txn, DB_CANISTERS, TREE_CANISTERS);
    if (st == ST_OK)
        st = check_tip(lg, txn);
    return st;
}

status ledger_verify_chain(ledger *lg, ledger_verify_report *report)
{
    memset(report, 0, sizeof *report);
    if (!lg->has_genesis)
        return ST_NO_GENESIS;
    return in_read(lg, chain_fn, report);
}
