/* ledger_int.h - friends-only declarations shared by the files of ledger/: the handle layout,
 * the LMDB helpers (store.c), the encoders and decoders (codec.c) and the hash tags. Not a
 * public header: nothing outside ledger/ includes it. */
#ifndef TALLY_LEDGER_INT_H
#define TALLY_LEDGER_INT_H

#include "ledger.h"

#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>

/* The named databases of the environment (docs/formats.md "Databases"). */
enum {
    DB_META,      /* "meta":        ASCII key -> genesis record / counters */
    DB_CODE,      /* "code":        code hash -> code record */
    DB_CANISTERS, /* "canisters":   id (8 BE) -> canister record */
    DB_HEAP,      /* "heap":        id (8 BE) || page (4 BE) -> 65536 bytes */
    DB_STABLE,    /* "stable":      same for stable memory */
    DB_NODES,     /* "nodes":       tree key (18 bytes) -> 32-byte hash (page hashes too) */
    DB_RECEIPTS,  /* "receipts":    arrival seq (8 BE) -> receipt */
    DB_BLOCKS,    /* "blocks":      height (8 BE) -> block */
    DB_MESSAGES,  /* "messages":    arrival seq (8 BE) -> envelope included in a block */
    DB_MEMPOOL,   /* "mempool":     arrival seq (8 BE) -> envelope waiting */
    DB_IDS,       /* "ids":         message id -> arrival seq (8 BE), every message seen */
    DB_COUNT
};

/* Tree kinds (first byte of a node key) and depths. */
enum { TREE_HEAP = 0, TREE_STABLE = 1, TREE_CANISTERS = 2 };
enum { NODE_KEY_SIZE = 18, PAGE_KEY_SIZE = 12 };

/* The record format byte that starts every stored value (docs/formats.md). */
enum { FORMAT_V1 = 1 };

/* The database layout (meta "layout", docs/formats.md "Databases"). Layout 2 keys messages and
 * receipts by arrival number instead of by message id, so a block appends to them. */
enum { LAYOUT_VERSION = 2 };

struct ledger {
    MDB_env *env;
    MDB_dbi db[DB_COUNT];
    pthread_rwlock_t resize_lock; /* shared: any open txn of this handle; exclusive: resize */
    atomic_bool round_open;
    atomic_size_t map_size; /* written under the exclusive resize lock, read anywhere */
    bool has_genesis;
    ledger_genesis genesis;
    uint8_t genesis_hash[LEDGER_HASH_SIZE];
    char detail[200];
};

struct ledger_reader {
    ledger *lg;
    MDB_txn *txn;
    MDB_cursor *mempool; /* ledger_mempool_next's, opened at its first call; NULL before */
};

/* ---- store.c: LMDB helpers ---------------------------------------------------------------- */

/* Records an LMDB error for ledger_fault_detail and maps it to its status: MDB_MAP_FULL ->
 * ST_MAP_FULL, corruption codes -> ST_CORRUPT_LEDGER, anything else -> ST_LMDB_ERROR. */
status store_fault(ledger *lg, int rc, const char *what, const char *file, int line);
#define STORE_FAULT(lg, rc, what) store_fault((lg), (rc), (what), __FILE__, __LINE__)
/* Records a decoding failure of stored data; returns ST_CORRUPT_LEDGER. */
status store_corrupt(ledger *lg, const char *what, const char *file, int line);
#define STORE_CORRUPT(lg, what) store_corrupt((lg), (what), __FILE__, __LINE__)

/* Runs fn inside one write transaction and commits it; on ST_MAP_FULL (from fn or from the
 * commit) aborts, grows the map and runs fn again from scratch; any other error aborts. fn must
 * therefore depend only on its context and the transaction. */
typedef status (*store_write_fn)(ledger *lg, MDB_txn *txn, void *ctx);
status store_write(ledger *lg, store_write_fn fn, void *ctx);
/* As store_write, but the transaction is always aborted: what fn computes (e.g. the state root
 * of a round) without changing the ledger. */
status store_preview(ledger *lg, store_write_fn fn, void *ctx);

/* Adopts a map size grown by another process (after MDB_MAP_RESIZED); waits for this
 * handle's other transactions to end, like growth. */
status store_adopt_map(ledger *lg);

/* mdb_get that returns ST_OK, ST_NOT_FOUND or a fault. */
status store_get(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen, MDB_val *val);
/* A value that must be `size` bytes (a page, a tree node) into out; zeros when the key is absent
 * (such values are implicitly zero); ST_CORRUPT_LEDGER naming `what` for another size. */
status store_get_fixed(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen, void *out,
                       size_t size, const char *what);
/* mdb_put / mdb_del with fault mapping; del of an absent key is ST_OK. */
status store_put(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen, const void *val,
                 size_t vlen, unsigned flags);
status store_del(ledger *lg, MDB_txn *txn, int db, const void *key, size_t klen);
/* Deletes every key of db that starts with prefix. */
status store_del_prefix(ledger *lg, MDB_txn *txn, int db, const uint8_t *prefix, size_t plen);
/* The last block: ST_OK with *tip, ST_NO_GENESIS if there is none. */
status store_tip(ledger *lg, MDB_txn *txn, ledger_tip *tip);

/* ---- codec.c: encodings (docs/formats.md) ------------------------------------------------- */

/* A sink receives an encoding: appended to a buffer, fed to a hash, or both. The first
 * failure sticks in st and makes later puts no-ops. */
typedef struct sink {
    buf *b;
    crypto_generichash_state *h;
    status st;
} sink;

void sink_put(sink *s, const void *p, size_t n);
void sink_u8(sink *s, uint8_t v);
void sink_u32(sink *s, uint32_t v);
void sink_u64(sink *s, uint64_t v);
void sink_bytes(sink *s, span v); /* u32 length || bytes */

void enc_genesis(sink *s, const ledger_genesis *g);
void enc_canister(sink *s, const ledger_canister *c);
void enc_receipt(sink *s, const ledger_receipt *rc);
void enc_block(sink *s, const ledger_block *b);
void enc_message(sink *s, const ledger_message *m);

/* Decoders return ST_OK or `bad` (the status the caller wants for a malformed input); spans in
 * *out borrow from `in`. Every decoder requires the input to be consumed exactly. */
status dec_genesis(span in, ledger_genesis *out, status bad);

/* genesis.c: the rules version g's record names (the lowest whose later fields all hold their
 * defaults, at least 1), and the highest version genesis.def knows. */
uint32_t genesis_rules_version(const ledger_genesis *g);
uint32_t genesis_rules_max(void);
status dec_canister(span in, ledger_canister *out, status bad);
status dec_receipt(span in, ledger_receipt *out, status bad);
status dec_block(span in, ledger_block *out, status bad);
status dec_message(span in, ledger_message *out, status bad);

/* Field checks shared by encoders' callers: ST_OK or the given status. */
status check_canister(const ledger_canister *c);
status check_message_fields(const ledger_message *m);

/* Hash domain tags (each includes its terminating NUL, so no tag is a prefix of another). */
#define TAG_PAGE "tally/page"
#define TAG_NODE "tally/node"
#define TAG_CANISTER "tally/canister"
#define TAG_STATE "tally/state"
#define TAG_RECEIPT "tally/receipt"
#define TAG_RECEIPTS "tally/receipts"
#define TAG_BLOCK "tally/block"
#define TAG_GENESIS "tally/genesis"
#define TAG_MESSAGE "tally/message"

/* hash_begin(&h, TAG) starts a BLAKE2b-256 state fed with the tag and its NUL. */
void hash_begin(crypto_generichash_state *h, const char *tag);
void hash_end(crypto_generichash_state *h, uint8_t out[LEDGER_HASH_SIZE]);

/* Big-endian key helpers (LMDB orders keys bytewise, so these sort numerically). */
void be64_store(uint8_t *p, uint64_t v);
uint64_t be64_load(const uint8_t *p);
void be32_store(uint8_t *p, uint32_t v);

/* Key of page page_no of canister id: id (8 BE) || page (4 BE). */
static inline void page_key(uint8_t k[PAGE_KEY_SIZE], uint64_t id, uint32_t page_no)
{
    be64_store(k, id);
    be32_store(k + 8, page_no);
}

/* Key of a tree node: kind (1) || owner (8 BE) || level (1) || index (8 BE). Level 0 holds
 * the leaves (page hashes, canister hashes); level `depth` index 0 is the root. */
static inline void node_key(uint8_t k[NODE_KEY_SIZE], unsigned kind, uint64_t owner,
                            unsigned level, uint64_t index)
{
    k[0] = (uint8_t)kind;
    be64_store(k + 1, owner);
    k[9] = (uint8_t)level;
    be64_store(k + 10, index);
}

/* Tree depth of a kind: heap 16 (65536 pages), stable 32 (u32 page numbers), canisters 64. */
static inline unsigned tree_depth(unsigned kind)
{
    return kind == TREE_HEAP ? 16 : kind == TREE_STABLE ? 32 : 64;
}

/* ---- round.c: the state trees (friends: verify.c) ----------------------------------------- */

/* A stored tree node, or all zeros if absent (an empty subtree). ST_OK or a fault. */
status tree_node_read(ledger *lg, MDB_txn *txn, unsigned kind, uint64_t owner, unsigned level,
                      uint64_t index, uint8_t out[LEDGER_HASH_SIZE]);
/* An interior node from its children: zero if both are zero, else
 * BLAKE2b-256("tally/node\0" || left || right). */
void tree_node_combine(const uint8_t *left, const uint8_t *right, uint8_t *out);

/* ---- message.c: arrival numbers --------------------------------------------------------- */

/* The arrival number of message id from "ids": ST_OK with *seq, ST_NOT_FOUND, or a fault. */
status ids_seq(ledger *lg, MDB_txn *txn, const uint8_t id[LEDGER_HASH_SIZE], uint64_t *seq);
/* The last arrival number given out (0 if none) and its update. */
status seq_get(ledger *lg, MDB_txn *txn, uint64_t *seq);
status seq_set(ledger *lg, MDB_txn *txn, uint64_t seq);

/* Admission checks of ledger_message_check inside any transaction (read or write). */
status message_check_txn(ledger *lg, MDB_txn *txn, span envelope, uint64_t height,
                         ledger_message *out, uint8_t id[LEDGER_HASH_SIZE]);

/* The message id of an envelope's content (all but the last 64 bytes). */
void message_id(span content, uint8_t id[LEDGER_HASH_SIZE]);

/* round.c: the state root of a canister tree root, the id counter and the subnet record
 * (docs/formats.md "State root"); commit and the open-time check (verify.c) share it. */
void state_root_hash(const uint8_t tree_root[LEDGER_HASH_SIZE], uint64_t next_id, span subnet,
                     uint8_t out[LEDGER_HASH_SIZE]);

#endif
