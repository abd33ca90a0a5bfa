/* round.c - rounds: staging a round's writes in memory and committing them as one block in
 * exactly one LMDB write transaction, with the incremental state root (docs/formats.md
 * "State root"): sparse binary Merkle trees of fixed depth over page numbers (per canister
 * memory) and over canister ids, whose stored nodes are updated along the paths of the changed
 * leaves only, so a round costs O(changed pages x depth). Staging never touches LMDB. */
#include "ledger_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- staging ------------------------------------------------------------------------------- */

typedef struct vec {
    void *ptr;
    size_t len, cap;
} vec;

typedef struct st_page {
    uint64_t id, seq;
    uint32_t page_no;
    uint8_t mem;
    uint8_t *data; /* NULL: an all-zero page */
} st_page;

typedef struct st_clear {
    uint64_t id, seq;
    uint8_t mem;
} st_clear;

typedef struct st_rec {
    uint64_t id, seq;
    ledger_canister rec; /* rec.aux points at aux */
    uint8_t *aux;
} st_rec;

typedef struct st_code {
    uint8_t hash[LEDGER_HASH_SIZE];
    uint8_t *bytes; /* original || instrumented */
    size_t olen, ilen;
} st_code;

typedef struct st_receipt {
    uint8_t id[LEDGER_HASH_SIZE];
    uint64_t seq;
    uint32_t status;
    uint64_t instructions;
    uint8_t *reply;
    size_t len;
} st_receipt;

typedef struct st_msg {
    uint8_t id[LEDGER_HASH_SIZE];
    uint8_t *env;
    size_t len;
} st_msg;

typedef struct st_id {
    uint8_t id[LEDGER_HASH_SIZE];
} st_id;

struct ledger_round {
    ledger *lg;
    uint64_t height, parent_time, next_id, created, seq;
    uint8_t parent_hash[LEDGER_HASH_SIZE];
    vec pages, clears, recs, codes, receipts, msgs, drops;
    bool subnet_staged;
    uint8_t *subnet; /* the staged subnet record (subnet_len bytes) */
    size_t subnet_len;
};

/* Appends item (size bytes) to v. On ST_OUT_OF_MEMORY it frees `owned` (the heap copy the item
 * points to, or NULL), so that a failed stage leaks nothing. */
static status vec_push(vec *v, size_t size, const void *item, void *owned)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *p = base_realloc(v->ptr, cap * size);
        if (!p) {
            base_free(owned);
            return ST_OUT_OF_MEMORY;
        }
        v->ptr = p;
        v->cap = cap;
    }
    memcpy((uint8_t *)v->ptr + v->len * size, item, size);
    v->len++;
    return ST_OK;
}

/* A heap copy of n bytes (at least one byte allocated), or NULL. */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *c = base_alloc(n);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

status ledger_round_begin(ledger *lg, ledger_round **out)
{
    if (atomic_exchange(&lg->round_open, true))
        return ST_ROUND_IN_PROGRESS;
    status st = ST_OUT_OF_MEMORY;
    ledger_round *r = base_calloc(1, sizeof *r);
    if (!r)
        goto out_release;
    ledger_reader *rd;
    st = ledger_read_begin(lg, &rd);
    if (st != ST_OK)
        goto out_free;
    ledger_tip tip;
    st = ledger_tip_get(rd, &tip);
    ledger_read_end(rd);
    if (st != ST_OK)
        goto out_free;
    r->lg = lg;
    r->height = tip.height + 1;
    r->parent_time = tip.timestamp_ns;
    r->next_id = tip.next_canister_id;
    memcpy(r->parent_hash, tip.hash, LEDGER_HASH_SIZE);
    *out = r;
    return ST_OK;
out_free:
    base_free(r);
out_release:
    atomic_store(&lg->round_open, false);
    return st;
}

uint64_t ledger_round_height(const ledger_round *r)
{
    return r->height;
}

status ledger_round_code_put(ledger_round *r, span original, span instrumented,
                             uint8_t hash[LEDGER_HASH_SIZE])
{
    st_code c;
    crypto_generichash(c.hash, LEDGER_HASH_SIZE, original.ptr, original.len, NULL, 0);
    if (original.len > UINT32_MAX || instrumented.len > UINT32_MAX)
        return ST_OUT_OF_MEMORY;
    c.olen = original.len;
    c.ilen = instrumented.len;
    c.bytes = base_alloc(c.olen + c.ilen);
    if (!c.bytes)
        return ST_OUT_OF_MEMORY;
    if (c.olen)
        memcpy(c.bytes, original.ptr, c.olen);
    if (c.ilen)
        memcpy(c.bytes + c.olen, instrumented.ptr, c.ilen);
    if (vec_push(&r->codes, sizeof c, &c, c.bytes) != ST_OK)
        return ST_OUT_OF_MEMORY;
    memcpy(hash, c.hash, LEDGER_HASH_SIZE);
    return ST_OK;
}

status ledger_round_canister_put(ledger_round *r, uint64_t id, const ledger_canister *rec)
{
    status st = check_canister(rec);
    if (st != ST_OK)
        return st;
    if (id == LEDGER_CANISTER_NONE)
        return ST_UNKNOWN_CANISTER;
    st_rec s = {id, ++r->seq, *rec, NULL};
    s.aux = dup_bytes(rec->aux.ptr, rec->aux.len);
    if (!s.aux)
        return ST_OUT_OF_MEMORY;
    s.rec.aux = span_of(s.aux, rec->aux.len);
    memset(s.rec.heap_root, 0, LEDGER_HASH_SIZE);
    memset(s.rec.stable_root, 0, LEDGER_HASH_SIZE);
    if (vec_push(&r->recs, sizeof s, &s, s.aux) != ST_OK)
        return ST_OUT_OF_MEMORY;
    return ST_OK;
}

status ledger_round_canister_create(ledger_round *r, const ledger_canister *rec, uint64_t *id)
{
    uint64_t nid = r->next_id + r->created;
    status st = ledger_round_canister_put(r, nid, rec);
    if (st != ST_OK)
        return st;
    r->created++;
    *id = nid;
    return ST_OK;
}

status ledger_round_page_put(ledger_round *r, uint64_t id, ledger_mem mem, uint32_t page_no,
                             const uint8_t *page)
{
    if (mem == LEDGER_MEM_HEAP && page_no >= LEDGER_HEAP_PAGES_MAX)
        return ST_PAGE_OUT_OF_RANGE;
    st_page p = {id, r->seq + 1, page_no, (uint8_t)mem, NULL};
    if (!all_zero(page, LEDGER_PAGE_SIZE)) {
        p.data = dup_bytes(page, LEDGER_PAGE_SIZE);
        if (!p.data)
            return ST_OUT_OF_MEMORY;
    }
    if (vec_push(&r->pages, sizeof p, &p, p.data) != ST_OK)
        return ST_OUT_OF_MEMORY;
    r->seq++;
    return ST_OK;
}

status ledger_round_memory_clear(ledger_round *r, uint64_t id, ledger_mem mem)
{
    st_clear c = {id, r->seq + 1, (uint8_t)mem};
    status st = vec_push(&r->clears, sizeof c, &c, NULL);
    if (st == ST_OK)
        r->seq++;
    return st;
}

status ledger_round_subnet_put(ledger_round *r, span bytes)
{
    if (bytes.len > LEDGER_AUX_MAX)
        return ST_BAD_CANISTER_RECORD;
    uint8_t *copy = dup_bytes(bytes.ptr, bytes.len);
    if (!copy)
        return ST_OUT_OF_MEMORY;
    base_free(r->subnet);
    r->subnet = copy;
    r->subnet_len = bytes.len;
    r->subnet_staged = true;
    return ST_OK;
}

status ledger_round_receipt_put(ledger_round *r, const uint8_t msg_id[LEDGER_HASH_SIZE],
                                const ledger_receipt *rc)
{
    if (rc->reply.len > UINT32_MAX)
        return ST_OUT_OF_MEMORY;
    st_receipt s;
    memcpy(s.id, msg_id, LEDGER_HASH_SIZE);
    s.seq = r->seq + 1;
    s.status = rc->status;
    s.instructions = rc->instructions;
    s.len = rc->reply.len;
    s.reply = dup_bytes(rc->reply.ptr, rc->reply.len);
    if (!s.reply)
        return ST_OUT_OF_MEMORY;
    if (vec_push(&r->receipts, sizeof s, &s, s.reply) != ST_OK)
        return ST_OUT_OF_MEMORY;
    r->seq++;
    return ST_OK;
}

status ledger_round_message_include(ledger_round *r, span envelope, uint8_t *id)
{
    if (envelope.len < LEDGER_SIGNATURE_SIZE || r->msgs.len >= UINT32_MAX)
        return ST_MALFORMED_MESSAGE;
    st_msg m;
    message_id(span_of(envelope.ptr, envelope.len - LEDGER_SIGNATURE_SIZE), m.id);
    m.len = envelope.len;
    m.env = dup_bytes(envelope.ptr, envelope.len);
    if (!m.env)
        return ST_OUT_OF_MEMORY;
    if (vec_push(&r->msgs, sizeof m, &m, m.env) != ST_OK)
        return ST_OUT_OF_MEMORY;
    if (id)
        memcpy(id, m.id, LEDGER_HASH_SIZE);
    return ST_OK;
}

status ledger_round_mempool_drop(ledger_round *r, const uint8_t msg_id[LEDGER_HASH_SIZE])
{
    st_id d;
    memcpy(d.id, msg_id, LEDGER_HASH_SIZE);
    return vec_push(&r->drops, sizeof d, &d, NULL);
}

static void round_free(ledger_round *r)
{
    st_page *p = r->pages.ptr;
    for (size_t i = 0; i < r->pages.len; i++)
        base_free(p[i].data);
    st_rec *c = r->recs.ptr;
    for (size_t i = 0; i < r->recs.len; i++)
        base_free(c[i].aux);
    st_code *k = r->codes.ptr;
    for (size_t i = 0; i < r->codes.len; i++)
        base_free(k[i].bytes);
    st_receipt *rc = r->receipts.ptr;
    for (size_t i = 0; i < r->receipts.len; i++)
        base_free(rc[i].reply);
    st_msg *m = r->msgs.ptr;
    for (size_t i = 0; i < r->msgs.len; i++)
        base_free(m[i].env);
    base_free(r->subnet);
    vec *all[] = {&r->pages, &r->clears, &r->recs, &r->codes, &r->receipts, &r->msgs, &r->drops};
    for (size_t i = 0; i < BASE_ARRAY_LEN(all); i++)
        base_free(all[i]->ptr);
    atomic_store(&r->lg->round_open, false);
    base_free(r);
}

void ledger_round_abort(ledger_round *r)
{
    if (r)
        round_free(r);
}

/* ---- sorting (commit order never depends on staging order except "last write wins") ----- */

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

static int cmp_page(const void *pa, const void *pb)
{
    const st_page *a = pa, *b = pb;
    int c = CMP(a->id, b->id);
    if (!c)
        c = CMP(a->mem, b->mem);
    if (!c)
        c = CMP(a->page_no, b->page_no);
    return c ? c : CMP(a->seq, b->seq);
}

static int cmp_clear(const void *pa, const void *pb)
{
    const st_clear *a = pa, *b = pb;
    int c = CMP(a->id, b->id);
    if (!c)
        c = CMP(a->mem, b->mem);
    return c ? c : CMP(a->seq, b->seq);
}

static int cmp_rec(const void *pa, const void *pb)
{
    const st_rec *a = pa, *b = pb;
    int c = CMP(a->id, b->id);
    return c ? c : CMP(a->seq, b->seq);
}

static int cmp_receipt(const void *pa, const void *pb)
{
    const st_receipt *a = pa, *b = pb;
    int c = memcmp(a->id, b->id, LEDGER_HASH_SIZE);
    return c ? c : CMP(a->seq, b->seq);
}

static int cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return CMP(a, b);
}

static int cmp_id(const void *pa, const void *pb)
{
    return memcmp(pa, pb, LEDGER_HASH_SIZE);
}

static void sort_vec(vec *v, size_t size, int (*cmp)(const void *, const void *))
{
    if (v->len > 1)
        qsort(v->ptr, v->len, size, cmp);
}

/* ---- trees --------------------------------------------------------------------------------- */

typedef struct tree_leaf {
    uint64_t index;
    uint8_t hash[LEDGER_HASH_SIZE];
} tree_leaf;

status tree_node_read(ledger *lg, MDB_txn *txn, unsigned kind, uint64_t owner, unsigned level,
                      uint64_t index, uint8_t out[LEDGER_HASH_SIZE])
{
    uint8_t key[NODE_KEY_SIZE];
    node_key(key, kind, owner, level, index);
    return store_get_fixed(lg, txn, DB_NODES, key, sizeof key, out, LEDGER_HASH_SIZE, "tree node");
}

/* Stores a node; the all-zero hash (an empty subtree) is stored as absent. */
static status node_write(ledger *lg, MDB_txn *txn, unsigned kind, uint64_t owner, unsigned level,
                         uint64_t index, const uint8_t h[LEDGER_HASH_SIZE])
{
    uint8_t key[NODE_KEY_SIZE];
    node_key(key, kind, owner, level, index);
    if (all_zero(h, LEDGER_HASH_SIZE))
        return store_del(lg, txn, DB_NODES, key, sizeof key);
    return store_put(lg, txn, DB_NODES, key, sizeof key, h, LEDGER_HASH_SIZE, 0);
}

/* Interior node: zero if both children are zero (empty subtree), else
 * BLAKE2b-256("tally/node\0" || left || right). */
void tree_node_combine(const uint8_t *left, const uint8_t *right, uint8_t *out)
{
    if (all_zero(left, LEDGER_HASH_SIZE) && all_zero(right, LEDGER_HASH_SIZE)) {
        memset(out, 0, LEDGER_HASH_SIZE);
        return;
    }
    crypto_generichash_state h;
    hash_begin(&h, TAG_NODE);
    crypto_generichash_update(&h, left, LEDGER_HASH_SIZE);
    crypto_generichash_update(&h, right, LEDGER_HASH_SIZE);
    hash_end(&h, out);
}

/* Writes the n changed leaves (sorted by index, unique) of a tree and recomputes the nodes on
 * their paths to the root, level by level, in place in `nodes`. Siblings that did not change
 * are read from the store. Sets root. */
static status tree_update(ledger *lg, MDB_txn *txn, unsigned kind, uint64_t owner,
                          tree_leaf *nodes, size_t n, uint8_t root[LEDGER_HASH_SIZE])
{
    unsigned depth = tree_depth(kind);
    status st = ST_OK;
    for (size_t i = 0; i < n && st == ST_OK; i++)
        st = node_write(lg, txn, kind, owner, 0, nodes[i].index, nodes[i].hash);
    for (unsigned level = 1; level <= depth && st == ST_OK; level++) {
        size_t m = 0;
        for (size_t i = 0; i < n && st == ST_OK; m++) {
            uint8_t left[LEDGER_HASH_SIZE], right[LEDGER_HASH_SIZE];
            uint64_t index = nodes[i].index;
            if (index & 1) { /* a right child whose left sibling did not change */
                st = tree_node_read(lg, txn, kind, owner, level - 1, index - 1, left);
                memcpy(right, nodes[i].hash, LEDGER_HASH_SIZE);
                i++;
            } else if (i + 1 < n && nodes[i + 1].index == index + 1) {
                memcpy(left, nodes[i].hash, LEDGER_HASH_SIZE);
                memcpy(right, nodes[i + 1].hash, LEDGER_HASH_SIZE);
                i += 2;
            } else {
                memcpy(left, nodes[i].hash, LEDGER_HASH_SIZE);
                st = tree_node_read(lg, txn, kind, owner, level - 1, index + 1, right);
                i++;
            }
            nodes[m].index = index >> 1;
            tree_node_combine(left, right, nodes[m].hash);
            if (st == ST_OK)
                st = node_write(lg, txn, kind, owner, level, nodes[m].index, nodes[m].hash);
        }
        n = m;
    }
    if (st == ST_OK && n == 1)
        memcpy(root, nodes[0].hash, LEDGER_HASH_SIZE);
    else if (st == ST_OK)
        st = tree_node_read(lg, txn, kind, owner, depth, 0, root);
    return st;
}

/* ---- commit -------------------------------------------------------------------------------- */

typedef struct commit_ctx {
    ledger_round *r;
    uint64_t timestamp_ns;
    ledger_tip tip; /* the new block, filled by write_round */
} commit_ctx;

/* The sequence number of the last clear of (id, mem), or 0 if none. */
static uint64_t clear_seq(const ledger_round *r, uint64_t id, uint8_t mem)
{
    const st_clear *c = r->clears.ptr;
    uint64_t seq = 0;
    for (size_t i = 0; i < r->clears.len; i++) /* sorted; clears are rare and few */
        if (c[i].id == id && c[i].mem == mem)
            seq = c[i].seq;
    return seq;
}

static status write_codes(ledger *lg, MDB_txn *txn, const ledger_round *r)
{
    const st_code *c = r->codes.ptr;
    status st = ST_OK;
    for (size_t i = 0; i < r->codes.len && st == ST_OK; i++) {
        MDB_val old;
        st = store_get(lg, txn, DB_CODE, c[i].hash, LEDGER_HASH_SIZE, &old);
        if (st != ST_NOT_FOUND)
            continue; /* already stored (same hash, same bytes), or a fault */
        buf enc = {0};
        sink s = {&enc, NULL, ST_OK};
        sink_u8(&s, FORMAT_V1);
        sink_bytes(&s, span_of(c[i].bytes, c[i].olen));
        sink_bytes(&s, span_of(c[i].bytes + c[i].olen, c[i].ilen));
        st = s.st;
        if (st == ST_OK)
            st = store_put(lg, txn, DB_CODE, c[i].hash, LEDGER_HASH_SIZE, enc.ptr, enc.len, 0);
        buf_fini(&enc);
    }
    return st;
}

static status write_clears(ledger *lg, MDB_txn *txn, const ledger_round *r)
{
    const st_clear *c = r->clears.ptr;
    status st = ST_OK;
    for (size_t i = 0; i < r->clears.len && st == ST_OK; i++) {
        uint8_t prefix[9];
        prefix[0] = c[i].mem == LEDGER_MEM_HEAP ? TREE_HEAP : TREE_STABLE;
        be64_store(prefix + 1, c[i].id);
        st = store_del_prefix(lg, txn, DB_NODES, prefix, 9);
        if (st == ST_OK)
            st = store_del_prefix(lg, txn, c[i].mem == LEDGER_MEM_HEAP ? DB_HEAP : DB_STABLE,
                                  prefix + 1, 8);
    }
    return st;
}

/* Writes the pages of one memory (entries [lo, hi) of the sorted pages, same id and mem):
 * the last write of each page wins, writes older than a clear are dropped; then updates
 * that memory's tree. */
static status write_memory(ledger *lg, MDB_txn *txn, const ledger_round *r, size_t lo, size_t hi)
{
    const st_page *p = r->pages.ptr;
    uint64_t cleared = clear_seq(r, p[lo].id, p[lo].mem);
    int db = p[lo].mem == LEDGER_MEM_HEAP ? DB_HEAP : DB_STABLE;
    tree_leaf *leaves = base_calloc(hi - lo, sizeof *leaves);
    if (!leaves)
        return ST_OUT_OF_MEMORY;
    size_t n = 0;
    status st = ST_OK;
    for (size_t i = lo; i < hi && st == ST_OK; i++) {
        if ((i + 1 < hi && p[i + 1].page_no == p[i].page_no) || p[i].seq < cleared)
            continue; /* a later write of the same page, or a later clear, wins */
        uint8_t key[PAGE_KEY_SIZE];
        page_key(key, p[i].id, p[i].page_no);
        leaves[n].index = p[i].page_no;
        if (p[i].data) {
            crypto_generichash_state h;
            hash_begin(&h, TAG_PAGE);
            crypto_generichash_update(&h, p[i].data, LEDGER_PAGE_SIZE);
            hash_end(&h, leaves[n].hash);
            st = store_put(lg, txn, db, key, sizeof key, p[i].data, LEDGER_PAGE_SIZE, 0);
        } else {
            st = store_del(lg, txn, db, key, sizeof key);
        }
        n++;
    }
    uint8_t root[LEDGER_HASH_SIZE];
    if (st == ST_OK)
        st = tree_update(lg, txn, p[lo].mem == LEDGER_MEM_HEAP ? TREE_HEAP : TREE_STABLE, p[lo].id,
                         leaves, n, root);
    base_free(leaves);
    return st;
}

static status write_pages(ledger *lg, MDB_txn *txn, const ledger_round *r)
{
    const st_page *p = r->pages.ptr;
    status st = ST_OK;
    for (size_t lo = 0, hi; lo < r->pages.len && st == ST_OK; lo = hi) {
        for (hi = lo + 1; hi < r->pages.len && p[hi].id == p[lo].id && p[hi].mem == p[lo].mem;)
            hi++;
        st = write_memory(lg, txn, r, lo, hi);
    }
    return st;
}

/* The ids of every canister the round touches (records, pages, clears): sorted, unique. */
static status touched_ids(const ledger_round *r, uint64_t **out, size_t *count)
{
    size_t n = r->recs.len + r->pages.len + r->clears.len, k = 0;
    uint64_t *ids = base_calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < r->recs.len; i++)
        ids[k++] = ((const st_rec *)r->recs.ptr)[i].id;
    for (size_t i = 0; i < r->pages.len; i++)
        ids[k++] = ((const st_page *)r->pages.ptr)[i].id;
    for (size_t i = 0; i < r->clears.len; i++)
        ids[k++] = ((const st_clear *)r->clears.ptr)[i].id;
    if (k > 1)
        qsort(ids, k, sizeof *ids, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || ids[u - 1] != ids[i])
            ids[u++] = ids[i];
    *out = ids;
    *count = u;
    return ST_OK;
}

/* The record of canister id after this round: the last staged one, else the stored one. A
 * canister must exist: created by this round, or stored (ST_UNKNOWN_CANISTER otherwise). */
static status final_record(ledger *lg, MDB_txn *txn, const ledger_round *r, uint64_t id,
                           ledger_canister *out)
{
    bool created = id >= r->next_id && id - r->next_id < r->created;
    MDB_val v = {0, NULL};
    if (!created) {
        uint8_t key[8];
        be64_store(key, id);
        status st = store_get(lg, txn, DB_CANISTERS, key, 8, &v);
        if (st == ST_NOT_FOUND)
            return ST_UNKNOWN_CANISTER;
        if (st != ST_OK)
            return st;
    }
    const st_rec *s = r->recs.ptr;
    for (size_t i = r->recs.len; i-- > 0;) { /* sorted by (id, seq): the last match wins */
        if (s[i].id == id) {
            *out = s[i].rec;
            return ST_OK;
        }
    }
    if (created) /* canister_create always stages a record */
        return BUG();
    if (dec_canister(span_of(v.mv_data, v.mv_size), out, ST_CORRUPT_LEDGER) != ST_OK)
        return STORE_CORRUPT(lg, "canister record");
    return ST_OK;
}

void state_root_hash(const uint8_t tree_root[LEDGER_HASH_SIZE], uint64_t next_id, span subnet,
                     uint8_t out[LEDGER_HASH_SIZE])
{
    crypto_generichash_state h;
    sink s = {NULL, &h, ST_OK};
    hash_begin(&h, TAG_STATE);
    sink_put(&s, tree_root, LEDGER_HASH_SIZE);
    sink_u64(&s, next_id);
    if (subnet.len) { /* an empty subnet record leaves the root as before it existed */
        sink_u32(&s, (uint32_t)subnet.len);
        sink_put(&s, subnet.ptr, subnet.len);
    }
    hash_end(&h, out);
}

/* Stores the staged subnet record, or reads the stored one (*out: valid in txn). */
static status write_subnet(ledger *lg, MDB_txn *txn, const ledger_round *r, span *out)
{
    if (r->subnet_staged)
        return store_put(lg, txn, DB_META, "subnet", 6, r->subnet, r->subnet_len, 0);
    MDB_val v;
    status st = store_get(lg, txn, DB_META, "subnet", 6, &v);
    if (st == ST_NOT_FOUND) {
        *out = span_of(NULL, 0);
        return ST_OK;
    }
    if (st == ST_OK)
        *out = span_of(v.mv_data, v.mv_size);
    return st;
}

/* Rewrites the record of every touched canister with its memories' roots, then updates the
 * canister tree with their hashes and computes the state root. */
static status write_canisters(ledger *lg, MDB_txn *txn, const ledger_round *r,
                              uint8_t state_root[LEDGER_HASH_SIZE])
{
    uint64_t *ids;
    size_t n;
    status st = touched_ids(r, &ids, &n);
    if (st != ST_OK)
        return st;
    tree_leaf *leaves = base_calloc(n ? n : 1, sizeof *leaves);
    buf enc = {0};
    if (!leaves) {
        st = ST_OUT_OF_MEMORY;
        goto out_free_ids;
    }
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        ledger_canister c;
        st = final_record(lg, txn, r, ids[i], &c);
        if (st == ST_OK)
            st = tree_node_read(lg, txn, TREE_HEAP, ids[i], tree_depth(TREE_HEAP), 0, c.heap_root);
        if (st == ST_OK)
            st = tree_node_read(lg, txn, TREE_STABLE, ids[i], tree_depth(TREE_STABLE), 0,
                                c.stable_root);
        if (st != ST_OK)
            break;
        enc.len = 0;
        sink s = {&enc, NULL, ST_OK};
        enc_canister(&s, &c);
        uint8_t key[8];
        be64_store(key, ids[i]);
        st = s.st != ST_OK ? s.st : store_put(lg, txn, DB_CANISTERS, key, 8, enc.ptr, enc.len, 0);
        crypto_generichash_state h;
        hash_begin(&h, TAG_CANISTER);
        crypto_generichash_update(&h, enc.ptr, enc.len);
        hash_end(&h, leaves[i].hash);
        leaves[i].index = ids[i];
    }
    uint8_t root[LEDGER_HASH_SIZE];
    if (st == ST_OK)
        st = tree_update(lg, txn, TREE_CANISTERS, 0, leaves, n, root);
    span subnet = span_of(r->subnet, r->subnet_len);
    if (st == ST_OK)
        st = write_subnet(lg, txn, r, &subnet);
    if (st == ST_OK) {
        state_root_hash(root, r->next_id + r->created, subnet, state_root);
        uint8_t next[8];
        le64_store(next, r->next_id + r->created);
        st = store_put(lg, txn, DB_META, "next_canister_id", 16, next, 8, 0);
    }
    buf_fini(&enc);
    base_free(leaves);
out_free_ids:
    base_free(ids);
    return st;
}

/* A round's message bookkeeping (docs/formats.md "Databases"): a cursor on "mempool" and the
 * arrival counter. Messages, receipts and mempool entries are keyed by arrival number, and a
 * block's messages mostly arrived in order: its writes land on the last leaf pages instead of
 * one random page per message and table. */
typedef struct arrivals {
    MDB_cursor *pool;
    uint64_t seq, seq0; /* last arrival number given out: now and when the round began */
} arrivals;

static status arrivals_open(ledger *lg, MDB_txn *txn, arrivals *a)
{
    a->pool = NULL;
    status st = seq_get(lg, txn, &a->seq);
    if (st != ST_OK)
        return st;
    a->seq0 = a->seq;
    int rc = mdb_cursor_open(txn, lg->db[DB_MEMPOOL], &a->pool);
    if (rc) {
        a->pool = NULL;
        return STORE_FAULT(lg, rc, "mempool cursor");
    }
    return ST_OK;
}

/* Closes the cursor; stores the counter if the round gave out numbers (if st is ST_OK). */
static status arrivals_close(ledger *lg, MDB_txn *txn, arrivals *a, status st)
{
    if (a->pool)
        mdb_cursor_close(a->pool);
    return st == ST_OK && a->seq != a->seq0 ? seq_set(lg, txn, a->seq) : st;
}

/* The arrival number of message id into *seq. A message never seen (a replayed block's, or a
 * receipt without a message) gets the next number if `assign`, else ST_NOT_FOUND. */
static status arrival(ledger *lg, MDB_txn *txn, arrivals *a, const uint8_t id[LEDGER_HASH_SIZE],
                      bool assign, uint64_t *seq)
{
    status st = ids_seq(lg, txn, id, seq);
    if (st != ST_NOT_FOUND || !assign)
        return st;
    uint8_t key[8];
    be64_store(key, *seq = ++a->seq);
    return store_put(lg, txn, DB_IDS, id, LEDGER_HASH_SIZE, key, 8, MDB_NOOVERWRITE);
}

/* Removes arrival number seq from the mempool if it waits there; *removed tells. */
static status pool_remove(ledger *lg, arrivals *a, uint64_t seq, bool *removed)
{
    uint8_t key[8];
    be64_store(key, seq);
    MDB_val k = {8, key}, v;
    int rc = mdb_cursor_get(a->pool, &k, &v, MDB_SET);
    *removed = rc == 0;
    if (rc == MDB_NOTFOUND)
        return ST_OK;
    if (!rc)
        rc = mdb_cursor_del(a->pool, 0);
    return rc ? STORE_FAULT(lg, rc, "mempool") : ST_OK;
}

/* Stores the included messages under their arrival numbers (a message included before is a
 * replay) and takes them out of the mempool; fills *ids with the block's id list. */
static status write_messages(ledger *lg, MDB_txn *txn, const ledger_round *r, arrivals *a,
                             uint8_t *ids)
{
    const st_msg *m = r->msgs.ptr;
    status st = ST_OK;
    for (size_t i = 0; i < r->msgs.len && st == ST_OK; i++) {
        memcpy(ids + i * LEDGER_HASH_SIZE, m[i].id, LEDGER_HASH_SIZE);
        uint64_t seq = 0;
        bool removed;
        uint8_t key[8];
        st = arrival(lg, txn, a, m[i].id, true, &seq);
        if (st == ST_OK)
            st = pool_remove(lg, a, seq, &removed);
        be64_store(key, seq);
        if (st == ST_OK) /* MDB_KEYEXIST comes back as ST_MESSAGE_REPLAY */
            st = store_put(lg, txn, DB_MESSAGES, key, 8, m[i].env, m[i].len, MDB_NOOVERWRITE);
    }
    return st;
}

/* Stores the receipts (last staged per message wins) under their messages' arrival numbers and
 * computes the receipts root: H("tally/receipts\0" || u32 count || for each id in order: id ||
 * H("tally/receipt\0" || receipt encoding)). */
static status write_receipts(ledger *lg, MDB_txn *txn, const ledger_round *r, arrivals *a,
                             uint8_t root[LEDGER_HASH_SIZE])
{
    const st_receipt *s = r->receipts.ptr;
    uint32_t count = 0;
    for (size_t i = 0; i < r->receipts.len; i++)
        count += i + 1 == r->receipts.len || memcmp(s[i].id, s[i + 1].id, LEDGER_HASH_SIZE);
    crypto_generichash_state all;
    sink rs = {NULL, &all, ST_OK};
    hash_begin(&all, TAG_RECEIPTS);
    sink_u32(&rs, count);
    buf enc = {0};
    status st = ST_OK;
    for (size_t i = 0; i < r->receipts.len && st == ST_OK; i++) {
        if (i + 1 < r->receipts.len && !memcmp(s[i].id, s[i + 1].id, LEDGER_HASH_SIZE))
            continue;
        ledger_receipt rc = {s[i].status, r->height, s[i].instructions,
                             span_of(s[i].reply, s[i].len)};
        enc.len = 0;
        sink es = {&enc, NULL, ST_OK};
        enc_receipt(&es, &rc);
        uint64_t seq = 0;
        uint8_t key[8];
        st = es.st != ST_OK ? es.st : arrival(lg, txn, a, s[i].id, true, &seq);
        be64_store(key, seq);
        if (st == ST_OK) /* MDB_KEYEXIST comes back as ST_MESSAGE_REPLAY: a receipt exists */
            st = store_put(lg, txn, DB_RECEIPTS, key, 8, enc.ptr, enc.len, MDB_NOOVERWRITE);
        uint8_t h1[LEDGER_HASH_SIZE];
        crypto_generichash_state h;
        hash_begin(&h, TAG_RECEIPT);
        crypto_generichash_update(&h, enc.ptr, enc.len);
        hash_end(&h, h1);
        sink_put(&rs, s[i].id, LEDGER_HASH_SIZE);
        sink_put(&rs, h1, LEDGER_HASH_SIZE);
    }
    hash_end(&all, root);
    buf_fini(&enc);
    return st;
}

/* Removes the dropped messages from the mempool, and from "ids" (so they are forgotten) unless
 * the message also has a receipt. An id not in the mempool is left alone. */
static status write_drops(ledger *lg, MDB_txn *txn, const ledger_round *r, arrivals *a)
{
    const st_id *d = r->drops.ptr;
    status st = ST_OK;
    for (size_t i = 0; i < r->drops.len && st == ST_OK; i++) {
        uint64_t seq = 0;
        bool removed = false;
        st = arrival(lg, txn, a, d[i].id, false, &seq);
        if (st == ST_NOT_FOUND) {
            st = ST_OK;
            continue;
        }
        if (st == ST_OK)
            st = pool_remove(lg, a, seq, &removed);
        if (st != ST_OK || !removed)
            continue;
        uint8_t key[8];
        MDB_val v;
        be64_store(key, seq);
        st = store_get(lg, txn, DB_RECEIPTS, key, 8, &v);
        if (st == ST_NOT_FOUND)
            st = store_del(lg, txn, DB_IDS, d[i].id, LEDGER_HASH_SIZE);
    }
    return st;
}

/* The whole round in one write transaction (store_write may run it more than once). */
static status write_round(ledger *lg, MDB_txn *txn, void *vctx)
{
    commit_ctx *ctx = vctx;
    const ledger_round *r = ctx->r;
    ledger_tip tip;
    status st = store_tip(lg, txn, &tip);
    if (st != ST_OK)
        return st;
    if (tip.height + 1 != r->height || memcmp(tip.hash, r->parent_hash, LEDGER_HASH_SIZE))
        return ST_ROUND_IN_PROGRESS; /* another process committed this height */
    ledger_block b;
    memset(&b, 0, sizeof b);
    uint8_t *ids = base_calloc(r->msgs.len ? r->msgs.len : 1, LEDGER_HASH_SIZE);
    if (!ids)
        return ST_OUT_OF_MEMORY;
    arrivals a;
    if ((st = write_codes(lg, txn, r)) || (st = write_clears(lg, txn, r)) ||
        (st = write_pages(lg, txn, r)) || (st = write_canisters(lg, txn, r, b.state_root)) ||
        (st = arrivals_open(lg, txn, &a)))
        goto out_free_ids;
    /* messages first: a receipt goes under the arrival number its message has or is given */
    if ((st = write_messages(lg, txn, r, &a, ids)) == ST_OK &&
        (st = write_receipts(lg, txn, r, &a, b.receipts_root)) == ST_OK)
        st = write_drops(lg, txn, r, &a);
    if ((st = arrivals_close(lg, txn, &a, st)) != ST_OK)
        goto out_free_ids;
    b.height = r->height;
    memcpy(b.parent_hash, r->parent_hash, LEDGER_HASH_SIZE);
    b.timestamp_ns = ctx->timestamp_ns;
    b.message_count = (uint32_t)r->msgs.len;
    b.message_ids = ids;
    ledger_block_hash(&b, b.hash);
    buf enc = {0};
    sink s = {&enc, NULL, ST_OK};
    enc_block(&s, &b);
    uint8_t key[8];
    be64_store(key, b.height);
    st = s.st != ST_OK ? s.st : store_put(lg, txn, DB_BLOCKS, key, 8, enc.ptr, enc.len, 0);
    buf_fini(&enc);
    ctx->tip = (ledger_tip){b.height, b.timestamp_ns, {0}, {0}, {0}, r->next_id + r->created};
    memcpy(ctx->tip.hash, b.hash, LEDGER_HASH_SIZE);
    memcpy(ctx->tip.state_root, b.state_root, LEDGER_HASH_SIZE);
    memcpy(ctx->tip.receipts_root, b.receipts_root, LEDGER_HASH_SIZE);
out_free_ids:
    base_free(ids);
    return st;
}

/* True if two messages of the block have the same id. */
static status check_duplicates(const ledger_round *r)
{
    if (r->msgs.len < 2)
        return ST_OK;
    st_id *ids = base_calloc(r->msgs.len, sizeof *ids);
    if (!ids)
        return ST_OUT_OF_MEMORY;
    const st_msg *m = r->msgs.ptr;
    for (size_t i = 0; i < r->msgs.len; i++)
        memcpy(ids[i].id, m[i].id, LEDGER_HASH_SIZE);
    qsort(ids, r->msgs.len, sizeof *ids, cmp_id);
    status st = ST_OK;
    for (size_t i = 1; i < r->msgs.len && st == ST_OK; i++)
        if (!memcmp(ids[i - 1].id, ids[i].id, LEDGER_HASH_SIZE))
            st = ST_MESSAGE_REPLAY;
    base_free(ids);
    return st;
}

/* The commit's transaction: run and committed (commit) or run and aborted (preview). The
 * sorts are stable orders (every comparison ends on a sequence number or a unique key), so
 * sorting again after a preview changes nothing. */
static status round_write(ledger_round *r, uint64_t timestamp_ns, ledger_tip *tip, bool commit)
{
    if (timestamp_ns < r->parent_time)
        return ST_BAD_TIMESTAMP;
    status st = check_duplicates(r);
    if (st != ST_OK)
        return st;
    sort_vec(&r->pages, sizeof(st_page), cmp_page);
    sort_vec(&r->clears, sizeof(st_clear), cmp_clear);
    sort_vec(&r->recs, sizeof(st_rec), cmp_rec);
    sort_vec(&r->receipts, sizeof(st_receipt), cmp_receipt);
    commit_ctx ctx = {r, timestamp_ns, {0}};
    st = commit ? store_write(r->lg, write_round, &ctx) : store_preview(r->lg, write_round, &ctx);
    if (st == ST_OK && tip)
        *tip = ctx.tip;
    return st;
}

status ledger_round_preview(ledger_round *r, uint64_t timestamp_ns, ledger_tip *tip)
{
    return round_write(r, timestamp_ns, tip, false);
}

status ledger_round_commit(ledger_round *r, uint64_t timestamp_ns, ledger_tip *tip)
{
    status st = round_write(r, timestamp_ns, tip, true);
    round_free(r);
    return st;
}
