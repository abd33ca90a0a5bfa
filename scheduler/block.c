/* block.c - blocks decided by consensus (abci/, docs/replication.md): the same round as
 * scheduler_round() (round.c), cut in the steps consensus needs. A block is executed without
 * committing (to propose it, to check a proposal, or because consensus decided it), its state
 * root is previewed (consensus announces it before it says "commit"), then it is committed or
 * dropped. One such block may be open at a time; while it is open the canisters in memory are
 * ahead of the ledger, and dropping it reloads them (as after a fault).
 *
 * Who picks the messages: the proposer, from the transactions consensus hands it, in the fair
 * order of produce.c and within the round budget (the rule of pick_next). Every validator
 * checks a proposal by executing it: it must keep that budget rule and carry only messages
 * that verify and never ran. A decided block runs whole, as replay runs a recorded block. */
#include "scheduler_int.h"

#include <sodium.h>
#include <string.h>

struct sched_block {
    round_ctx rc;
    scheduler_block_mode mode;
    uint64_t height, time_ns;
    uint8_t digest[LEDGER_HASH_SIZE]; /* of the block's transactions (block_digest) */
    buf txs;                          /* owned copies of the block's transactions */
    size_t *off, *len;                /* each transaction in txs */
    uint32_t *taken;                  /* PROPOSE: indices into the caller's array */
    scheduler_tx_result *results;     /* block order */
    uint8_t (*ids)[LEDGER_HASH_SIZE]; /* each transaction's message id (0s: does not parse) */
    buf replies;                      /* the results' reply bytes */
    size_t *reply_off;
    uint32_t n, cap;
    int64_t current; /* the transaction executing, -1: resumed messages */
    bool previewed, perturbed;
    ledger_tip preview;
};

/* BLAKE2b of the block's transactions (u64 LE length, bytes), which names a block's content
 * without CometBFT's hash (PrepareProposal has none yet). */
static void block_digest(const span *txs, const uint32_t *order, uint32_t n,
                         uint8_t out[LEDGER_HASH_SIZE])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, LEDGER_HASH_SIZE);
    for (uint32_t i = 0; i < n; i++) {
        span t = txs[order ? order[i] : i];
        uint8_t len[8];
        le64_store(len, t.len);
        crypto_generichash_update(&h, len, sizeof len);
        if (t.len)
            crypto_generichash_update(&h, t.ptr, t.len);
    }
    crypto_generichash_final(&h, out, LEDGER_HASH_SIZE);
}

static void block_free(struct sched_block *b)
{
    if (!b)
        return;
    buf_fini(&b->txs);
    buf_fini(&b->replies);
    base_free(b->off);
    base_free(b->len);
    base_free(b->taken);
    base_free(b->results);
    base_free(b->ids);
    base_free(b->reply_off);
    base_free(b);
}

void sched_block_drop(scheduler *s)
{
    struct sched_block *b = s->block;
    if (!b)
        return;
    if (b->rc.r)
        round_fail(&b->rc); /* canisters ran ahead: the next use reloads them */
    block_free(b);
    s->block = NULL;
}

void scheduler_block_abort(scheduler *s)
{
    sched_block_drop(s);
}

/* The receipt hook: a receipt is the result of the block's transaction with its message id
 * (the one running, or any: a message's receipt may come once its calls are answered, in
 * route_run); a receipt of a message from an earlier block is not a result of this one. */
static status on_receipt(void *user, const uint8_t id[LEDGER_HASH_SIZE], const ledger_receipt *rc)
{
    struct sched_block *b = user;
    int64_t k = b->current;
    if (k < 0 || memcmp(b->ids[k], id, LEDGER_HASH_SIZE) != 0)
        for (k = (int64_t)b->n - 1; k >= 0 && memcmp(b->ids[k], id, LEDGER_HASH_SIZE); k--) {
        }
    if (k < 0)
        return ST_OK;
    scheduler_tx_result *r = &b->results[k];
    *r = (scheduler_tx_result){
        .finished = true, .status = rc->status, .instructions = rc->instructions};
    b->reply_off[k] = b->replies.len;
    r->reply = span_of(NULL, rc->reply.len);
    return rc->reply.len ? buf_put(&b->replies, rc->reply.ptr, rc->reply.len) : ST_OK;
}

static status block_alloc(struct sched_block *b, uint32_t n)
{
    uint32_t cap = n ? n : 1;
    b->off = base_calloc(cap, sizeof *b->off);
    b->len = base_calloc(cap, sizeof *b->len);
    b->taken = base_calloc(cap, sizeof *b->taken);
    b->results = base_calloc(cap, sizeof *b->results);
    b->ids = base_calloc(cap, sizeof *b->ids);
    b->reply_off = base_calloc(cap, sizeof *b->reply_off);
    b->cap = cap;
    return b->off && b->len && b->taken && b->results && b->ids && b->reply_off ? ST_OK
                                                                                : ST_OUT_OF_MEMORY;
}

/* Executes tx as the block's next transaction (index b->n), taken from the caller's index i. */
static status block_exec(struct sched_block *b, span tx, uint32_t i)
{
    status st = buf_put(&b->txs, tx.ptr, tx.len);
    if (st != ST_OK)
        return st;
    b->off[b->n] = b->txs.len - tx.len;
    b->len[b->n] = tx.len;
    b->taken[b->n] = i;
    b->results[b->n] = (scheduler_tx_result){0};
    ledger_message m;
    if (ledger_message_parse(tx, &m, b->ids[b->n]) != ST_OK)
        memset(b->ids[b->n], 0, LEDGER_HASH_SIZE); /* round_execute refuses it */
    b->current = b->n++;
    st = round_execute(&b->rc, tx);
    b->current = -1;
    return st;
}

/* What a proposal or the proposer needs to know of transaction tx before it runs. */
typedef struct tx_facts {
    bool ok;           /* decodes (verified if asked), unexpired, never seen by the ledger */
    uint64_t canister; /* its target, LEDGER_CANISTER_NONE for installs */
    uint8_t id[LEDGER_HASH_SIZE];
    char why[96];
} tx_facts;

/* Decodes tx (with its signature if verify) and checks it against the committed ledger: not
 * expired at `height` (when check_expiry), never included nor receipted. */
static status tx_check(const scheduler *s, ledger_reader *rd, span tx, uint64_t height,
                       bool verify, bool check_expiry, tx_facts *f)
{
    ledger_message m;
    memset(f, 0, sizeof *f);
    status st = verify ? ledger_message_decode(tx, s->genesis.max_message_bytes, &m, f->id)
                       : ledger_message_parse(tx, &m, f->id);
    if (st == ST_IO_ERROR)
        return st;
    if (st != ST_OK) {
        snprintf(f->why, sizeof f->why, "a transaction does not decode: %s", status_name(st));
        return ST_OK;
    }
    if (check_expiry && m.expiry_height < height) {
        snprintf(f->why, sizeof f->why, "a message expired");
        return ST_OK;
    }
    ledger_receipt rc;
    span env;
    st = ledger_receipt_get(rd, f->id, &rc);
    if (st == ST_NOT_FOUND)
        st = ledger_message_get(rd, f->id, &env);
    if (st == ST_OK) {
        snprintf(f->why, sizeof f->why, "a message already ran");
        return ST_OK;
    }
    if (st != ST_NOT_FOUND)
        return st;
    f->canister = m.kind == LEDGER_MSG_INSTALL ? LEDGER_CANISTER_NONE : m.canister_id;
    f->ok = true;
    return ST_OK;
}

static int cmp_ids(const void *a, const void *b)
{
    return memcmp(a, b, LEDGER_HASH_SIZE);
}

/* True if two of the n facts have the same id. */
static status has_duplicate(const tx_facts *f, uint32_t n, bool *dup)
{
    *dup = false;
    uint8_t(*ids)[LEDGER_HASH_SIZE] = base_calloc(n ? n : 1, LEDGER_HASH_SIZE);
    if (!ids)
        return ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < n; i++)
        memcpy(ids[i], f[i].id, LEDGER_HASH_SIZE);
    qsort(ids, n, LEDGER_HASH_SIZE, cmp_ids);
    for (uint32_t i = 1; i < n && !*dup; i++)
        *dup = !memcmp(ids[i - 1], ids[i], LEDGER_HASH_SIZE);
    base_free(ids);
    return ST_OK;
}

static bool budget_left(const round_ctx *rc)
{
    const scheduler *s = rc->s;
    return rc->used < s->genesis.round_instruction_limit &&
           rc->included < s->genesis.max_messages_per_round;
}

/* PROPOSE: the candidates in fair order, each while the budget lasts. */
static status run_propose(struct sched_block *b, ledger_reader *rd, const span *txs, uint32_t n,
                          uint64_t max_bytes)
{
    scheduler *s = b->rc.s;
    tx_facts *f = base_calloc(n ? n : 1, sizeof *f);
    uint64_t *targets = base_calloc(n ? n : 1, sizeof *targets);
    uint32_t *order = base_calloc(n ? n : 1, sizeof *order);
    uint32_t *cand = base_calloc(n ? n : 1, sizeof *cand);
    status st = f && targets && order && cand ? ST_OK : ST_OUT_OF_MEMORY;
    uint32_t nc = 0;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        st = tx_check(s, rd, txs[i], b->height, false, true, &f[i]);
        bool again = false;
        for (uint32_t j = 0; st == ST_OK && f[i].ok && j < nc && !again; j++)
            again = !memcmp(f[cand[j]].id, f[i].id, LEDGER_HASH_SIZE);
        if (st == ST_OK && f[i].ok && !again) {
            targets[nc] = f[i].canister;
            cand[nc++] = i;
        }
    }
    if (st == ST_OK)
        st = sched_fair_order(targets, nc, order);
    uint64_t bytes = 0;
    for (uint32_t k = 0; st == ST_OK && k < nc && budget_left(&b->rc); k++) {
        uint32_t i = cand[order[k]];
        const sched_canister *c = f[i].canister ? sched_canister_find(s, f[i].canister) : NULL;
        if (c && c->paused.active)
            continue; /* waits for its canister's paused message (as pick_next) */
        if (bytes + txs[i].len + 8 > max_bytes)
            continue; /* consensus's size limit (8: its framing of a transaction, at most) */
        bytes += txs[i].len + 8;
        st = block_exec(b, txs[i], i);
    }
    base_free(f);
    base_free(targets);
    base_free(order);
    base_free(cand);
    return st;
}

/* VERIFY: the rules a proposal must keep, then every transaction in order. */
static status run_verify(struct sched_block *b, ledger_reader *rd, const span *txs, uint32_t n,
                         scheduler_block_info *info)
{
    scheduler *s = b->rc.s;
    if (n > s->genesis.max_messages_per_round) {
        snprintf(info->why, sizeof info->why, "%u messages, more than the round's %u", n,
                 s->genesis.max_messages_per_round);
        return ST_OK;
    }
    tx_facts *f = base_calloc(n ? n : 1, sizeof *f);
    status st = f ? ST_OK : ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        st = tx_check(s, rd, txs[i], b->height, true, false, &f[i]);
        if (st == ST_OK && !f[i].ok) {
            snprintf(info->why, sizeof info->why, "transaction %u: %s", i, f[i].why);
            goto out;
        }
    }
    bool dup = false;
    if (st == ST_OK)
        st = has_duplicate(f, n, &dup);
    if (st == ST_OK && dup) {
        snprintf(info->why, sizeof info->why, "a message appears twice");
        goto out;
    }
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        if (!budget_left(&b->rc)) {
            snprintf(info->why, sizeof info->why,
                     "transaction %u starts after the round budget is spent", i);
            goto out;
        }
        st = block_exec(b, txs[i], i);
    }
    info->valid = st == ST_OK;
out:
    base_free(f);
    return st;
}

static void info_fill(const struct sched_block *b, scheduler_block_info *info)
{
    info->height = b->height;
    info->time_ns = b->time_ns;
    info->ntx = b->n;
    info->taken = b->taken;
    info->results = b->results;
    info->instructions = b->rc.used;
    info->previewed = b->previewed;
    if (b->previewed)
        info->tip = b->preview;
    for (uint32_t i = 0; i < b->n; i++) /* replies point into one buffer: fix them up now */
        if (b->results[i].reply.len)
            b->results[i].reply.ptr = b->replies.ptr + b->reply_off[i];
}

status scheduler_block_execute(scheduler *s, uint64_t height, uint64_t time_ns, const span *txs,
                               uint32_t n, scheduler_block_mode mode, uint64_t max_bytes,
                               scheduler_block_info *info)
{
    memset(info, 0, sizeof *info);
    sched_block_drop(s);
    status st = s->broken ? sched_reload(s) : ST_OK;
    if (st != ST_OK)
        return st;
    struct sched_block *b = base_calloc(1, sizeof *b);
    if (!b)
        return ST_OUT_OF_MEMORY;
    b->mode = mode;
    b->height = height;
    b->time_ns = time_ns;
    b->current = -1;
    st = block_alloc(b, n);
    ledger_reader *rd = NULL;
    if (st == ST_OK)
        st = ledger_read_begin(s->lg, &rd);
    ledger_tip tip;
    if (st == ST_OK)
        st = ledger_tip_get(rd, &tip);
    if (st == ST_OK && tip.height + 1 != height)
        st = ST_BLOCK_HEIGHT;
    if (st == ST_OK && time_ns < tip.timestamp_ns)
        st = ST_BAD_TIMESTAMP;
    if (st == ST_OK)
        st = round_start(s, time_ns, &b->rc);
    if (st != ST_OK) {
        ledger_read_end(rd);
        block_free(b);
        return st;
    }
    b->rc.on_receipt = on_receipt;
    b->rc.receipt_user = b;
    s->block = b;
    info->valid = true;
    if (mode == SCHEDULER_BLOCK_PROPOSE) {
        st = run_propose(b, rd, txs, n, max_bytes ? max_bytes : UINT64_MAX);
    } else if (mode == SCHEDULER_BLOCK_VERIFY) {
        info->valid = false;
        st = run_verify(b, rd, txs, n, info);
    } else {
        for (uint32_t i = 0; st == ST_OK && i < n; i++)
            st = block_exec(b, txs[i], i);
    }
    ledger_read_end(rd);
    if (st == ST_OK && info->valid) /* journals before the commit, as round_run: a dropped block
                                       leaves a superset of changed pages (query.c allows it) */
        st = round_seal(&b->rc);
    if (st != ST_OK || !info->valid) {
        sched_block_drop(s);
        return st;
    }
    span *mine = base_calloc(b->n ? b->n : 1, sizeof *mine);
    if (!mine) {
        sched_block_drop(s);
        return ST_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < b->n; i++)
        mine[i] = span_of(b->txs.ptr + b->off[i], b->len[i]);
    block_digest(mine, NULL, b->n, b->digest);
    base_free(mine);
    info_fill(b, info);
    return ST_OK;
}

bool scheduler_block_is_open(scheduler *s, uint64_t height, uint64_t time_ns, const span *txs,
                             uint32_t n, scheduler_block_info *info)
{
    const struct sched_block *b = s->block;
    if (!b || b->height != height || b->time_ns != time_ns || b->n != n)
        return false;
    uint8_t d[LEDGER_HASH_SIZE];
    block_digest(txs, NULL, n, d);
    if (memcmp(d, b->digest, LEDGER_HASH_SIZE))
        return false;
    if (info) {
        memset(info, 0, sizeof *info);
        info->valid = true;
        info_fill(s->block, info);
    }
    return true;
}

bool scheduler_block_pending(const scheduler *s)
{
    return s->block != NULL;
}

status scheduler_block_preview(scheduler *s, ledger_tip *tip)
{
    struct sched_block *b = s->block;
    if (!b)
        return ST_NOT_FOUND;
    if (!b->previewed) {
        status st = ledger_round_preview(b->rc.r, b->time_ns, &b->preview);
        if (st != ST_OK) {
            sched_block_drop(s);
            return st;
        }
        b->previewed = true;
    }
    *tip = b->preview;
    return ST_OK;
}

status scheduler_block_commit(scheduler *s, scheduler_round_info *info)
{
    struct sched_block *b = s->block;
    memset(info, 0, sizeof *info);
    if (!b)
        return ST_NOT_FOUND;
    status st = round_finish(&b->rc, info);
    if (st == ST_OK && b->previewed &&
        memcmp(info->tip.hash, b->preview.hash, LEDGER_HASH_SIZE) != 0)
        st = ST_BUG_INVARIANT; /* the commit computed another block than its preview */
    if (b->perturbed)
        s->broken = true; /* the ledger has a canister memory does not know: reload */
    block_free(b);
    s->block = NULL;
    return st;
}

status scheduler_block_test_perturb(scheduler *s)
{
    struct sched_block *b = s->block;
    if (!b || b->previewed)
        return ST_NOT_FOUND;
    ledger_canister rec = {.status = LEDGER_CANISTER_RUNNING};
    uint64_t id;
    b->perturbed = true;
    return ledger_round_canister_create(b->rc.r, &rec, &id);
}
