/* ledger.h - tally's ledger: the node directory (one LMDB environment), code by hash, canister
 * records and memory pages, receipts, blocks, the mempool, the BLAKE2b state root and ed25519
 * signed messages. The one public header of ledger/ (see README.md); depends on base/ only.
 *
 * The header is the manual (lmdb.h is the model): every function says what it does, every status
 * it returns and who owns which memory until when. Encodings are specified byte by byte in
 * docs/formats.md.
 *
 * How the scheduler uses it (one node, one round at a time):
 *
 *     ledger_open(dir, NULL, &lg);  ledger_genesis_init(lg, &g);       // once per node dir
 *     loop:
 *       ledger_read_begin(lg, &rd);                    // snapshot of the last committed state
 *       ledger_tip_get(rd, &tip);  ledger_mempool_next(rd, &seq, &env, id) ...
 *       ledger_round_begin(lg, &r);                    // builds block tip.height + 1
 *       for each message taken:  ledger_round_message_include(r, env, id);
 *         execute it against pages read with ledger_page_get(rd, ...) (plus the round's own
 *         dirty pages, which the scheduler keeps); stage the results:
 *         ledger_round_page_put / _canister_put / _canister_create / _code_put / _receipt_put;
 *         a trapped message stages only its receipt.
 *       ledger_read_end(rd);                           // before committing (see "map growth")
 *       ledger_round_commit(r, block_time_ns, &tip)    // ONE write txn, or nothing at all
 *       (or ledger_round_abort(r): the ledger stays exactly as before)
 *
 * Threads: a ledger handle may be shared by threads. Readers are independent (each is one LMDB
 * read transaction: readers never block the writer and see one committed state). One round may
 * be open per handle at a time. Map growth: when the LMDB map is full, a write closes its
 * transaction, waits (up to 10 s) until no reader of this handle is open, grows the map and
 * redoes the whole transaction; so do not hold a reader in the thread that commits. */
#ifndef TALLY_LEDGER_H
#define TALLY_LEDGER_H

#include "base.h"

/* ---- sizes ------------------------------------------------------------------------------- */

enum {
    LEDGER_HASH_SIZE = 32,         /* BLAKE2b-256 */
    LEDGER_PUBLIC_KEY_SIZE = 32,   /* ed25519 */
    LEDGER_SECRET_KEY_SIZE = 64,   /* ed25519 (libsodium layout: seed || public key) */
    LEDGER_SEED_SIZE = 32,         /* ed25519 seed */
    LEDGER_SIGNATURE_SIZE = 64,    /* ed25519 detached signature */
    LEDGER_PAGE_SIZE = 65536,      /* one Wasm page */
    LEDGER_HEAP_PAGES_MAX = 65536, /* 4 GiB of heap: heap page numbers are below this */
    LEDGER_MAX_CONTROLLERS = 10,
    LEDGER_CERTIFIED_DATA_MAX = 32,
    LEDGER_CHAIN_ID_MAX = 64,   /* bytes of UTF-8, without the NUL */
    LEDGER_METHOD_MAX = 1024,   /* bytes of a method name */
    LEDGER_AUX_MAX = 64u << 20, /* bytes of a canister's opaque aux state (with its call queues) */
    LEDGER_CANISTER_TEXT_SIZE = 20 /* "xxxxx-xxxxx-xxxxx-x" and its NUL */
};

/* Canister ids are assigned by a counter starting at 1; 0 names no canister. */
#define LEDGER_CANISTER_NONE 0u

/* ---- handles ----------------------------------------------------------------------------- */

typedef struct ledger ledger;               /* an open node directory */
typedef struct ledger_reader ledger_reader; /* a read snapshot (one LMDB read txn) */
typedef struct ledger_round ledger_round;   /* the staged writes of one round */

typedef enum ledger_mem {
    LEDGER_MEM_HEAP = 0,   /* the Wasm linear memory */
    LEDGER_MEM_STABLE = 1, /* IC stable memory */
} ledger_mem;

/* ---- records ----------------------------------------------------------------------------- */

/* The genesis configuration, fixed when a node directory is created: the chain's rules. The
 * numeric fields are the rows of genesis.def (type, default, `tally init` option, meaning);
 * docs/formats.md "Genesis record" gives their encoding byte by byte. */
typedef struct ledger_genesis {
    char chain_id[LEDGER_CHAIN_ID_MAX + 1]; /* NUL-terminated UTF-8, 1..64 bytes */
    uint8_t admin_public_key[LEDGER_PUBLIC_KEY_SIZE];
#define GENESIS_FIELD(type, name, def, since, option, help) type name;
#include "genesis.def"
#undef GENESIS_FIELD
} ledger_genesis;

/* One row of genesis.def, for code that walks the fields (tally init's options). */
typedef struct ledger_genesis_field {
    const char *name;
    const char *option; /* NULL: not an option of tally init */
    const char *help;
    uint64_t default_value;
    uint64_t max;   /* UINT32_MAX or UINT64_MAX, by type */
    uint32_t since; /* 0: header field; N: rules version N */
    size_t offset;  /* within ledger_genesis */
} ledger_genesis_field;

/* The rows of genesis.def in order; *n gets their number. */
const ledger_genesis_field *ledger_genesis_fields(size_t *n);

/* Field f of g, widened; setting stores v if v <= f->max (else returns false). */
uint64_t ledger_genesis_get(const ledger_genesis *g, const ledger_genesis_field *f);
bool ledger_genesis_set(ledger_genesis *g, const ledger_genesis_field *f, uint64_t v);

/* The defaults: chain "tally-local", every field's default, an all-zero admin key. */
void ledger_genesis_default(ledger_genesis *g);

typedef enum ledger_canister_status {
    LEDGER_CANISTER_RUNNING = 0,
    LEDGER_CANISTER_STOPPING = 1,
    LEDGER_CANISTER_STOPPED = 2,
} ledger_canister_status;

/* A canister record. heap_root and stable_root are computed by the ledger from the pages: they
 * are filled by ledger_canister_get and ignored when a record is staged. */
typedef struct ledger_canister {
    uint8_t code_hash[LEDGER_HASH_SIZE]; /* all zeros: no code installed */
    uint32_t controller_count;           /* <= LEDGER_MAX_CONTROLLERS */
    uint8_t controllers[LEDGER_MAX_CONTROLLERS][LEDGER_PUBLIC_KEY_SIZE];
    uint8_t status;        /* ledger_canister_status */
    uint32_t heap_pages;   /* heap size in 64 KiB pages, <= LEDGER_HEAP_PAGES_MAX */
    uint32_t stable_pages; /* stable memory size in 64 KiB pages */
    uint8_t heap_root[LEDGER_HASH_SIZE];
    uint8_t stable_root[LEDGER_HASH_SIZE];
    uint32_t certified_data_len; /* <= LEDGER_CERTIFIED_DATA_MAX */
    uint8_t certified_data[LEDGER_CERTIFIED_DATA_MAX];
    uint64_t version; /* canister version, maintained by the caller */
    span aux;         /* opaque state of upper layers (globals, timer...), <= LEDGER_AUX_MAX */
} ledger_canister;

/* The outcome of one message. */
typedef struct ledger_receipt {
    uint32_t status;       /* a status number of base/status.def: ST_OK = replied */
    uint64_t height;       /* the block that recorded it: set by commit, ignored when staged */
    uint64_t instructions; /* instructions used */
    span reply;            /* reply data (status ST_OK) or reject message bytes */
} ledger_receipt;

typedef struct ledger_block {
    uint64_t height;
    uint8_t parent_hash[LEDGER_HASH_SIZE]; /* block 0: BLAKE2b of the genesis encoding */
    uint64_t timestamp_ns;                 /* chosen by the proposer, >= the parent's */
    uint32_t message_count;
    const uint8_t *message_ids; /* message_count ids of LEDGER_HASH_SIZE bytes, in order */
    uint8_t receipts_root[LEDGER_HASH_SIZE];
    uint8_t state_root[LEDGER_HASH_SIZE];
    uint8_t hash[LEDGER_HASH_SIZE]; /* BLAKE2b of the encoding; filled by ledger_block_get */
} ledger_block;

/* The latest committed block, in short. */
typedef struct ledger_tip {
    uint64_t height;
    uint64_t timestamp_ns;
    uint8_t hash[LEDGER_HASH_SIZE];
    uint8_t state_root[LEDGER_HASH_SIZE];
    uint8_t receipts_root[LEDGER_HASH_SIZE];
    uint64_t next_canister_id; /* the id the next ledger_round_canister_create assigns */
} ledger_tip;

typedef enum ledger_message_kind {
    LEDGER_MSG_UPDATE = 0,
    LEDGER_MSG_QUERY = 1,
    LEDGER_MSG_INSTALL = 2, /* canister_id LEDGER_CANISTER_NONE: create a new canister */
    LEDGER_MSG_UPGRADE = 3,
    LEDGER_MSG_MINT = 4, /* admin only: arg = u128 LE amount minted to canister_id */
} ledger_message_kind;

/* A message: the signed content of an envelope. Spans are borrowed (see each function). */
typedef struct ledger_message {
    uint8_t sender[LEDGER_PUBLIC_KEY_SIZE];
    uint64_t nonce;
    uint64_t canister_id;
    uint8_t kind;           /* ledger_message_kind */
    span method;            /* UTF-8, <= LEDGER_METHOD_MAX bytes */
    span arg;               /* argument bytes */
    uint64_t expiry_height; /* valid in blocks of height <= expiry_height */
} ledger_message;

/* ---- opening ----------------------------------------------------------------------------- */

typedef struct ledger_options {
    uint64_t map_size;    /* initial LMDB map size in bytes; 0: 1 GiB (grows when full) */
    unsigned max_readers; /* concurrent readers; 0: 126 */
    bool no_sync;         /* MDB_NOSYNC: survives a process crash, not an OS crash */
} ledger_options;

/* Opens (creating if needed, mode 0700) the node directory `dir` and its LMDB environment,
 * creates the named databases and clears stale reader slots (mdb_reader_check). `opt` may be
 * NULL. On ST_OK *out is a handle the caller owns until ledger_close.
 * Returns ST_OK, ST_IO_ERROR (directory), ST_LMDB_ERROR, ST_CORRUPT_LEDGER (unreadable
 * genesis or environment, or a data file shorter than its meta pages say: ledger_file_check),
 * ST_OUT_OF_MEMORY; ST_IO_ERROR also if libsodium cannot start. */
status ledger_open(const char *dir, const ledger_options *opt, ledger **out);

/* Checks DIR/data.mdb against LMDB's meta pages without mapping it: the file must be at
 * least as long as the pages its newest meta page says are in use (a file cut short would
 * make LMDB fault with SIGBUS). ledger_open runs it first; callers that want to show why may
 * call it themselves: on failure `detail` (caller's, cap bytes) names the file and the sizes.
 * A missing or empty file is ST_OK (a new directory). Returns ST_OK, ST_CORRUPT_LEDGER,
 * ST_IO_ERROR (cannot open or stat it: detail has the errno text), ST_BAD_ARGUMENT (path). */
status ledger_file_check(const char *dir, char *detail, size_t cap);

/* Checks the tip: the state root computed from the stored state (canister tree root and
 * canister counter) must be the state root of the last block. Cheap (a few reads); a node
 * runs it at start and never extends a chain that fails it. ledger_fault_detail says what
 * differs. Returns ST_OK, ST_CORRUPT_LEDGER, ST_NO_GENESIS, ST_LMDB_ERROR. */
status ledger_verify_tip(ledger *lg);

/* What ledger_verify_chain looked at. */
typedef struct ledger_verify_report {
    uint64_t blocks; /* blocks checked (heights 0..tip) */
    uint64_t nodes;  /* state tree nodes checked */
} ledger_verify_report;

/* Checks the whole stored chain in one read snapshot, without executing anything: heights
 * without gaps, each block's parent hash (block 0: the genesis hash), timestamps in order,
 * every included message stored; every state tree node against its children (leaves against
 * the hash of their page or canister record), every page and record against its leaf, every
 * record's memory roots; then the tip as ledger_verify_tip. Time O(stored state + blocks).
 * ledger_fault_detail names the first damage found. Returns ST_OK, ST_CORRUPT_LEDGER,
 * ST_NO_GENESIS, ST_LMDB_ERROR, ST_OUT_OF_MEMORY. */
status ledger_verify_chain(ledger *lg, ledger_verify_report *report);

/* As ledger_open; on failure `why` (caller's, cap bytes; may be NULL) names the directory and
 * what failed with the system's reason ("DIR: env open: Permission denied (ledger/...)"), so
 * that a FAULT is not only "LMDB storage error". */
status ledger_open_detail(const char *dir, const ledger_options *opt, ledger **out, char *why,
                          size_t cap);

/* Closes the handle. No reader or round of it may be open. NULL is allowed. */
void ledger_close(ledger *lg);

/* The current LMDB map size in bytes (it doubles whenever a write finds the map full). */
uint64_t ledger_map_size(const ledger *lg);

/* One line about the last FAULT of this handle (LMDB error text and source line), for logs;
 * "" if none. Owned by the handle, overwritten by the next fault; not synchronised. */
const char *ledger_fault_detail(const ledger *lg);

/* Writes the genesis record and block 0 (no messages, empty state) in one transaction. The
 * genesis is copied. Calling it again with an equal genesis is ST_OK.
 * Returns ST_OK, ST_BAD_GENESIS (empty or too long chain id, not UTF-8, max_message_bytes
 * <= 64), ST_GENESIS_MISMATCH (a different genesis is stored), ST_LMDB_ERROR, ST_MAP_FULL,
 * ST_OUT_OF_MEMORY. */
status ledger_genesis_init(ledger *lg, const ledger_genesis *g);

/* The stored genesis, or NULL if the ledger has none yet. Owned by the handle, valid until
 * ledger_close. */
const ledger_genesis *ledger_genesis_of(const ledger *lg);

/* ---- reading: snapshots ------------------------------------------------------------------- */

/* Starts a read snapshot of the last committed state. *out is owned by the caller until
 * ledger_read_end; every span or pointer a reader returns points into the LMDB map and stays
 * valid (read-only) until ledger_read_end. Returns ST_OK, ST_LMDB_ERROR (e.g. too many
 * readers), ST_OUT_OF_MEMORY. */
status ledger_read_begin(ledger *lg, ledger_reader **out);
/* Ends the snapshot. NULL is allowed. */
void ledger_read_end(ledger_reader *rd);

/* The latest block. Returns ST_OK, ST_NO_GENESIS, ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_tip_get(ledger_reader *rd, ledger_tip *out);

/* The block at `height`, with out->hash recomputed from its encoding and out->message_ids
 * borrowed from the snapshot. Returns ST_OK, ST_NOT_FOUND, ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_block_get(ledger_reader *rd, uint64_t height, ledger_block *out);

/* The record of canister `id`; out->aux is borrowed from the snapshot.
 * Returns ST_OK, ST_UNKNOWN_CANISTER, ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_canister_get(ledger_reader *rd, uint64_t id, ledger_canister *out);

/* The subnet record: opaque state of upper layers that belongs to no canister (the chain's
 * cycle totals), borrowed from the snapshot; empty if none was ever staged. Returns ST_OK,
 * ST_LMDB_ERROR. */
status ledger_subnet_get(ledger_reader *rd, span *out);

/* Copies page `page_no` of a canister memory into out (LEDGER_PAGE_SIZE bytes, caller's);
 * a page never written (or written as zeros) reads as zeros. The page number is not checked
 * against the record's size. Returns ST_OK, ST_PAGE_OUT_OF_RANGE (heap page >= 65536),
 * ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_page_get(ledger_reader *rd, uint64_t id, ledger_mem mem, uint32_t page_no,
                       uint8_t *out);

/* The BLAKE2b-256 page hash stored beside a page (all zeros for a zero page), so a caller can
 * tell pages apart without reading them. Returns as ledger_page_get. */
status ledger_page_hash_get(ledger_reader *rd, uint64_t id, ledger_mem mem, uint32_t page_no,
                            uint8_t out[LEDGER_HASH_SIZE]);

/* The module bytes stored under `hash` (original and instrumented), borrowed from the snapshot.
 * Returns ST_OK, ST_NOT_FOUND, ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_code_get(ledger_reader *rd, const uint8_t hash[LEDGER_HASH_SIZE], span *original,
                       span *instrumented);

/* The receipt of message `msg_id`; out->reply is borrowed from the snapshot.
 * Returns ST_OK, ST_NOT_FOUND, ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_receipt_get(ledger_reader *rd, const uint8_t msg_id[LEDGER_HASH_SIZE],
                          ledger_receipt *out);

/* The signed envelope of a message that a block included, borrowed from the snapshot.
 * Returns ST_OK, ST_NOT_FOUND, ST_LMDB_ERROR. */
status ledger_message_get(ledger_reader *rd, const uint8_t msg_id[LEDGER_HASH_SIZE],
                          span *envelope);

/* Mempool iteration in arrival order: the first entry whose sequence number is > *seq (start
 * with *seq = 0). On ST_OK *seq, *envelope (borrowed from the snapshot) and id (caller's 32
 * bytes; NULL skips hashing the envelope) describe it. Sequence numbers are never reused in a
 * ledger: (seq) names one envelope for good. Returns ST_OK, ST_NOT_FOUND (no more), ST_LMDB_ERROR. */
status ledger_mempool_next(ledger_reader *rd, uint64_t *seq, span *envelope,
                           uint8_t id[LEDGER_HASH_SIZE]);

/* Whether message msg_id waits in the mempool (admitted, not yet in a block). On ST_OK *seq
 * (may be NULL) receives its arrival number (as ledger_mempool_next reports it).
 * Returns ST_OK, ST_NOT_FOUND, ST_LMDB_ERROR, ST_CORRUPT_LEDGER. */
status ledger_mempool_find(ledger_reader *rd, const uint8_t msg_id[LEDGER_HASH_SIZE],
                           uint64_t *seq);

/* ---- messages and keys -------------------------------------------------------------------- */

/* A key pair from a 32-byte seed (deterministic), or from the OS random source if seed is
 * NULL. Buffers are the caller's. Returns ST_OK or ST_IO_ERROR (libsodium cannot start). */
status ledger_keypair(const uint8_t *seed, uint8_t public_key[LEDGER_PUBLIC_KEY_SIZE],
                      uint8_t secret_key[LEDGER_SECRET_KEY_SIZE]);

/* Encodes m (its sender must be the public key of secret_key), signs it and appends the
 * envelope (content || signature) to *out (caller's buffer); id receives the message id, the
 * BLAKE2b-256 of the content without the signature. Returns ST_OK, ST_MALFORMED_MESSAGE
 * (method too long or not UTF-8, unknown kind), ST_BAD_SIGNATURE (m->sender is not the
 * public key of secret_key), ST_OUT_OF_MEMORY (*out unchanged), ST_IO_ERROR (libsodium). */
status ledger_message_sign(const ledger_message *m,
                           const uint8_t secret_key[LEDGER_SECRET_KEY_SIZE], buf *out,
                           uint8_t id[LEDGER_HASH_SIZE]);

/* Decodes a signed envelope and verifies its signature, without any ledger. On ST_OK *out
 * borrows method and arg from `envelope` and id receives the message id. Checks in this order:
 * ST_MESSAGE_TOO_LARGE (envelope.len > max_bytes), ST_MALFORMED_MESSAGE (encoding),
 * ST_BAD_SIGNATURE; ST_IO_ERROR if libsodium cannot start. */
status ledger_message_decode(span envelope, uint32_t max_bytes, ledger_message *out,
                             uint8_t id[LEDGER_HASH_SIZE]);

/* As ledger_message_decode without the signature check and the size limit: for envelopes this
 * node already verified (admitted to its mempool). Never use it on bytes from elsewhere.
 * id may be NULL (the id is then not computed: one hash of the content saved).
 * Returns ST_OK, ST_MALFORMED_MESSAGE, ST_IO_ERROR. */
status ledger_message_parse(span envelope, ledger_message *out, uint8_t id[LEDGER_HASH_SIZE]);

/* Full admission check against a snapshot, for a message to run in block `height`: as
 * ledger_message_decode with the genesis max_message_bytes, then ST_MESSAGE_EXPIRED
 * (expiry_height < height), ST_MESSAGE_REPLAY (its id has a receipt, was included in a block,
 * or is in the mempool). Also ST_NO_GENESIS, ST_LMDB_ERROR. `out` and `id` as in decode. */
status ledger_message_check(ledger_reader *rd, span envelope, uint64_t height, ledger_message *out,
                            uint8_t id[LEDGER_HASH_SIZE]);

/* Checks the envelope with ledger_message_check for the next block (tip height + 1) and
 * appends it durably to the mempool in its own write transaction. The bytes are copied.
 * Returns the statuses of ledger_message_check and ST_MAP_FULL, ST_OUT_OF_MEMORY. */
status ledger_mempool_add(ledger *lg, span envelope, uint8_t id[LEDGER_HASH_SIZE]);

/* Group admission: checks n envelopes as ledger_mempool_add does (signatures outside the write
 * transaction, then expiry and replay against the tip) and appends every accepted one to the
 * mempool in ONE durable write transaction (one fsync for the whole batch), in index order.
 * Each envelope has its own outcome, so a bad one does not sink the others: statuses[i]
 * receives ST_OK (admitted) or its ledger_message_check status (ST_MESSAGE_TOO_LARGE,
 * ST_MALFORMED_MESSAGE, ST_BAD_SIGNATURE, ST_MESSAGE_EXPIRED, ST_MESSAGE_REPLAY: already
 * stored, or an earlier envelope of the same batch with the same id). ids[i] receives the
 * message id when the envelope decoded (statuses ST_OK, ST_MESSAGE_EXPIRED, ST_MESSAGE_REPLAY),
 * else zeros. Arrays are the caller's, n entries each; envelopes are copied. n == 0 is ST_OK.
 * Returns ST_OK when the transaction committed (read statuses[]); otherwise nothing at all was
 * written and every statuses[i] is set to the returned status: ST_NO_GENESIS, ST_LMDB_ERROR,
 * ST_MAP_FULL, ST_CORRUPT_LEDGER, ST_OUT_OF_MEMORY, ST_IO_ERROR (libsodium). */
status ledger_mempool_add_batch(ledger *lg, size_t n, const span *envelopes,
                                uint8_t (*ids)[LEDGER_HASH_SIZE], status *statuses);

/* As ledger_mempool_add_batch for envelopes the caller has just checked with
 * ledger_message_decode under the genesis max_message_bytes (the node's RPC handlers, which
 * must answer a bad signature before queueing): parsed for id and expiry, not verified again
 * (ed25519 dominates admission). Expiry and replay are checked as there. Never use it on bytes
 * nobody verified. */
status ledger_mempool_add_verified(ledger *lg, size_t n, const span *envelopes,
                                   uint8_t (*ids)[LEDGER_HASH_SIZE], status *statuses);

/* ---- rounds ------------------------------------------------------------------------------- */

/* Opens the round that builds block tip.height + 1. Nothing is written until commit; staging
 * functions copy what they are given, so the caller's buffers are free again when they return.
 * A staging function that fails leaves the round as it was (the call had no effect).
 * Returns ST_OK, ST_ROUND_IN_PROGRESS, ST_NO_GENESIS, ST_LMDB_ERROR, ST_CORRUPT_LEDGER,
 * ST_OUT_OF_MEMORY. */
status ledger_round_begin(ledger *lg, ledger_round **out);

/* The height of the block this round builds. */
uint64_t ledger_round_height(const ledger_round *r);

/* Stages module code: hash receives BLAKE2b-256(original) (no key, no tag), the key under which
 * both byte strings are stored. Storing existing code again is harmless.
 * Returns ST_OK, ST_OUT_OF_MEMORY. */
status ledger_round_code_put(ledger_round *r, span original, span instrumented,
                             uint8_t hash[LEDGER_HASH_SIZE]);

/* Stages a new canister with record *rec and assigns its id (the counter; deterministic).
 * Returns ST_OK, ST_BAD_CANISTER_RECORD (a limit above exceeded or an unknown status),
 * ST_OUT_OF_MEMORY. */
status ledger_round_canister_create(ledger_round *r, const ledger_canister *rec, uint64_t *id);

/* Stages the new record of canister `id` (the last one staged wins). Whether the canister
 * exists (stored, or created by this round) is checked at commit. Returns ST_OK,
 * ST_BAD_CANISTER_RECORD, ST_UNKNOWN_CANISTER (id LEDGER_CANISTER_NONE), ST_OUT_OF_MEMORY. */
status ledger_round_canister_put(ledger_round *r, uint64_t id, const ledger_canister *rec);

/* Stages page `page_no` (LEDGER_PAGE_SIZE bytes at `page`) of a canister memory; only dirty
 * pages need staging. The last write of a page wins; an all-zero page is stored as absent.
 * Returns ST_OK, ST_PAGE_OUT_OF_RANGE (heap page >= 65536), ST_OUT_OF_MEMORY. */
status ledger_round_page_put(ledger_round *r, uint64_t id, ledger_mem mem, uint32_t page_no,
                             const uint8_t *page);

/* Stages the zeroing of a whole memory (reinstall, upgrade of the heap): applied before the
 * pages staged after this call, and discarding those staged before it. Costs O(stored pages)
 * at commit. Returns ST_OK, ST_OUT_OF_MEMORY. */
status ledger_round_memory_clear(ledger_round *r, uint64_t id, ledger_mem mem);

/* Stages the subnet record (see ledger_subnet_get; <= LEDGER_AUX_MAX bytes, copied; the last
 * one staged wins). It is hashed into the state root when not empty (docs/formats.md).
 * Returns ST_OK, ST_BAD_CANISTER_RECORD (too long), ST_OUT_OF_MEMORY. */
status ledger_round_subnet_put(ledger_round *r, span bytes);

/* Stages the receipt of message msg_id (rc->height is ignored: commit sets it). A message
 * that already has a receipt in the ledger makes commit fail with ST_MESSAGE_REPLAY; within a
 * round the last one staged wins. Returns ST_OK, ST_OUT_OF_MEMORY. */
status ledger_round_receipt_put(ledger_round *r, const uint8_t msg_id[LEDGER_HASH_SIZE],
                                const ledger_receipt *rc);

/* Appends a signed envelope to the block's message list (block order = call order); commit
 * stores it under its arrival number and removes it from the mempool. The envelope is not re-verified (admit
 * messages with ledger_message_check or ledger_mempool_add). id (may be NULL) receives the id.
 * Returns ST_OK, ST_MALFORMED_MESSAGE (shorter than a signature), ST_OUT_OF_MEMORY. */
status ledger_round_message_include(ledger_round *r, span envelope, uint8_t *id);

/* Stages the removal of a mempool entry that will never run (e.g. expired). Removing an
 * absent entry is not an error. Returns ST_OK, ST_OUT_OF_MEMORY. */
status ledger_round_mempool_drop(ledger_round *r, const uint8_t msg_id[LEDGER_HASH_SIZE]);

/* Commits the round as block ledger_round_height(r) with the given timestamp, in exactly one
 * LMDB write transaction (retried whole after growing the map if it is full). Computes the
 * page hashes, the page-hash roots of changed memories, the records of touched canisters, the
 * state root, the receipts root and the block hash. On ST_OK, *tip (may be NULL) describes the
 * new block. Always consumes the round: on any error nothing at all was written.
 * Returns ST_OK; INVALID: ST_BAD_TIMESTAMP, ST_UNKNOWN_CANISTER (pages or a record for a
 * canister that does not exist), ST_MESSAGE_REPLAY (a message already included or duplicated
 * in this block, or a receipt already stored); FAULT: ST_LMDB_ERROR, ST_MAP_FULL (could not
 * grow), ST_CORRUPT_LEDGER, ST_OUT_OF_MEMORY, ST_ROUND_IN_PROGRESS (another process committed
 * this height meanwhile). */
status ledger_round_commit(ledger_round *r, uint64_t timestamp_ns, ledger_tip *tip);

/* What ledger_round_commit(r, timestamp_ns, tip) would commit, without committing: the same
 * write transaction is run and then aborted, so *tip (may be NULL) gets the block's state root,
 * receipts root and hash, and the round stays open (commit or abort it later; staging more
 * changes the result). Costs as much as the commit. Used by consensus, which must announce a
 * block's state root before it is told to commit (docs/replication.md). Returns the statuses
 * of ledger_round_commit; nothing is written either way. */
status ledger_round_preview(ledger_round *r, uint64_t timestamp_ns, ledger_tip *tip);

/* Discards the round: the ledger is exactly as before ledger_round_begin. NULL is allowed. */
void ledger_round_abort(ledger_round *r);

/* ---- hashes and ids as text ------------------------------------------------------------- */

/* The block hash: BLAKE2b-256 of the block's canonical encoding (docs/formats.md), e.g. to
 * check a stored chain. Ignores b->hash. Cannot fail (it streams, no allocation). */
void ledger_block_hash(const ledger_block *b, uint8_t out[LEDGER_HASH_SIZE]);

/* 64 lowercase hex digits and a NUL into out (caller's 65 bytes). */
void ledger_hash_hex(const uint8_t h[LEDGER_HASH_SIZE], char out[2 * LEDGER_HASH_SIZE + 1]);

/* Canister id as text: base32 (RFC 4648 alphabet, lowercase) of the id (8 bytes big-endian)
 * and a 2-byte BLAKE2b checksum, grouped by 5 with dashes: "aaaaa-aaaab-aeaqa-q". */
void ledger_canister_id_text(uint64_t id, char out[LEDGER_CANISTER_TEXT_SIZE]);
/* Parses the text form back (upper case accepted). Returns ST_OK or ST_BAD_CANISTER_ID
 * (length, alphabet, dash positions or checksum). */
status ledger_canister_id_parse(const char *text, uint64_t *id);

#endif
