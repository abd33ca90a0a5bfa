/* app.c - the ABCI methods over the scheduler (docs/replication.md "The ABCI mapping"):
 *
 *   Info             last committed height and its state root (CometBFT's handshake replays
 *                    the blocks after it)
 *   InitChain        the genesis: chain id and time from CometBFT, limits and admin key from
 *                    app_state; answers the state root of block 0
 *   CheckTx          admission without execution: size, signature, expiry, replay, target
 *                    canister (RECHECK: expiry and replay only, the signature was checked)
 *   PrepareProposal  the proposer executes the block it proposes (fair order, round budget)
 *   ProcessProposal  every validator executes the proposal and rejects one that breaks tally's
 *                    rules (the proposer's own is the block it already executed)
 *   FinalizeBlock    the block executed (or the one executed for the proposal, if it is that
 *                    block), receipts as tx results, the previewed state root as app_hash;
 *                    the block time is the header's
 *   Commit           the LMDB commit
 *   Query            tally queries, receipts and status on committed state
 *
 * CometBFT and the ledger count heights alike: block 0 is tally's genesis, block H is CometBFT's
 * height H (initial_height 1). */
#include "abci.h"
#include "tally_abci.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef Tendermint__Abci__Request Request;
typedef Tendermint__Abci__Response Response;

struct abci_app {
    abci_options opt;
    char dir[4096];
    ledger *lg;
    scheduler *s;
    pthread_mutex_t lock;
    bool locked;  /* this thread holds lock across requests (a block is open) */
    abci_stats stats;
    pthread_mutex_t stats_lock;
    uint64_t last_commit_ns; /* monotonic time of the last commit (log lines) */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ts_ns(const Tendermint__Abci__Timestamp *t)
{
    if (!t || t->seconds < 0 || t->nanos < 0)
        return 0;
    return (uint64_t)t->seconds * 1000000000u + (uint64_t)t->nanos;
}

static void count(abci_app *a, uint64_t *counter, uint64_t add)
{
    pthread_mutex_lock(&a->stats_lock);
    *counter += add;
    pthread_mutex_unlock(&a->stats_lock);
}

/* ---- opening ------------------------------------------------------------------------------- */

static status open_scheduler(abci_app *a)
{
    if (a->s || !ledger_genesis_of(a->lg))
        return ST_OK;
    return scheduler_open(a->lg, NULL, &a->s);
}

status abci_app_open(const abci_options *opt, abci_app **out)
{
    abci_app *a = base_calloc(1, sizeof *a);
    if (!a)
        return ST_OUT_OF_MEMORY;
    a->opt = *opt;
    snprintf(a->dir, sizeof a->dir, "%s", opt->dir);
    a->opt.dir = a->dir;
    ledger_options lo = {.no_sync = opt->no_sync};
    status st = ledger_open(a->dir, &lo, &a->lg);
    if (st == ST_OK)
        st = open_scheduler(a);
    if (st != ST_OK) {
        ledger_close(a->lg);
        base_free(a);
        return st;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->stats_lock, NULL);
    *out = a;
    return ST_OK;
}

void abci_app_close(abci_app *a)
{
    if (!a)
        return;
    abci_app_settle(a);
    scheduler_close(a->s);
    ledger_close(a->lg);
    pthread_mutex_destroy(&a->lock);
    pthread_mutex_destroy(&a->stats_lock);
    base_free(a);
}

void abci_app_settle(abci_app *a)
{
    if (a->s)
        scheduler_block_abort(a->s);
    if (a->locked) {
        a->locked = false;
        pthread_mutex_unlock(&a->lock);
    }
}

pthread_mutex_t *abci_app_lock(abci_app *a)
{
    return &a->lock;
}

ledger *abci_app_ledger(abci_app *a)
{
    return a->lg;
}

scheduler *abci_app_scheduler(abci_app *a)
{
    return a->s;
}

void abci_app_stats(abci_app *a, abci_stats *out)
{
    pthread_mutex_lock(&a->stats_lock);
    *out = a->stats;
    pthread_mutex_unlock(&a->stats_lock);
}

/* ---- responses ------------------------------------------------------------------------------ */

static status pack(const Response *r, buf *out)
{
    size_t n = tendermint__abci__response__get_packed_size(r);
    status st = buf_reserve(out, n);
    if (st != ST_OK)
        return st;
    tendermint__abci__response__pack(r, out->ptr + out->len);
    out->len += n;
    return ST_OK;
}

/* A ResponseException: CometBFT treats it as a failure of the application and stops. */
static status exception(buf *out, const char *what, status st)
{
    char text[512];
    snprintf(text, sizeof text, "tally: %s: %s", what, status_name(st));
    fprintf(stderr, "abci: %s\n", text);
    Tendermint__Abci__ResponseException e = TENDERMINT__ABCI__RESPONSE_EXCEPTION__INIT;
    e.error = text;
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_EXCEPTION;
    r.exception = &e;
    return pack(&r, out);
}

static ProtobufCBinaryData bytes_of(const uint8_t *p, size_t n)
{
    return (ProtobufCBinaryData){.len = n, .data = (uint8_t *)(uintptr_t)p};
}

/* ---- Info, InitChain ------------------------------------------------------------------------- */

static status tip_now(abci_app *a, ledger_tip *tip)
{
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(a->lg, &rd);
    if (st == ST_OK)
        st = ledger_tip_get(rd, tip);
    ledger_read_end(rd);
    return st;
}

static status on_info(abci_app *a, buf *out)
{
    ledger_tip tip = {0};
    status st = a->s ? tip_now(a, &tip) : ST_OK;
    if (st != ST_OK)
        return exception(out, "Info", st);
    Tendermint__Abci__ResponseInfo info = TENDERMINT__ABCI__RESPONSE_INFO__INIT;
    info.data = "tally";
    info.version = TALLY_ABCI_VERSION;
    info.app_version = 0; /* as the genesis consensus_params.version.app of `cometbft testnet` */
    info.last_block_height = (int64_t)tip.height;
    if (a->s)
        info.last_block_app_hash = bytes_of(tip.state_root, LEDGER_HASH_SIZE);
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_INFO;
    r.info = &info;
    return pack(&r, out);
}

static status on_init_chain(abci_app *a, const Tendermint__Abci__RequestInitChain *q, buf *out)
{
    if (q->initial_height > 1)
        return exception(out, "InitChain: initial_height above 1 is not supported", ST_BAD_GENESIS);
    ledger_genesis g;
    char why[256];
    status st = abci_app_state_parse(span_of(q->app_state_bytes.data, q->app_state_bytes.len),
                                     q->chain_id, ts_ns(q->time), &g, why, sizeof why);
    if (st != ST_OK) {
        fprintf(stderr, "abci: InitChain: %s\n", why);
        return exception(out, why, st);
    }
    st = ledger_genesis_init(a->lg, &g);
    if (st == ST_OK)
        st = open_scheduler(a);
    ledger_tip tip;
    if (st == ST_OK)
        st = tip_now(a, &tip);
    if (st != ST_OK)
        return exception(out, "InitChain", st);
    Tendermint__Abci__ResponseInitChain ic = TENDERMINT__ABCI__RESPONSE_INIT_CHAIN__INIT;
    ic.app_hash = bytes_of(tip.state_root, LEDGER_HASH_SIZE);
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_INIT_CHAIN;
    r.init_chain = &ic;
    return pack(&r, out);
}

/* ---- CheckTx --------------------------------------------------------------------------------- */

/* RECHECK after a block: the envelope was verified by the NEW check; it may have expired or run
 * since. */
static status recheck(ledger_reader *rd, span tx, uint64_t height)
{
    ledger_message m;
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ledger_message_parse(tx, &m, id);
    if (st != ST_OK)
        return st;
    if (m.expiry_height < height)
        return ST_MESSAGE_EXPIRED;
    ledger_receipt rc;
    span env;
    st = ledger_receipt_get(rd, id, &rc);
    if (st == ST_NOT_FOUND)
        st = ledger_message_get(rd, id, &env);
    return st == ST_OK ? ST_MESSAGE_REPLAY : st == ST_NOT_FOUND ? ST_OK : st;
}

/* Admission: as the single node's (ledger_message_check, then the target canister exists). */
static status check(ledger_reader *rd, span tx, uint64_t height)
{
    ledger_message m;
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ledger_message_check(rd, tx, height, &m, id);
    if (st == ST_OK && (m.kind == LEDGER_MSG_UPDATE || m.kind == LEDGER_MSG_UPGRADE)) {
        ledger_canister rec;
        st = ledger_canister_get(rd, m.canister_id, &rec);
    }
    return st;
}

static status on_check_tx(abci_app *a, const Tendermint__Abci__RequestCheckTx *q, buf *out)
{
    uint64_t t0 = mono_ns();
    status st = ST_NO_GENESIS;
    ledger_reader *rd = NULL;
    ledger_tip tip;
    if (a->s && (st = ledger_read_begin(a->lg, &rd)) == ST_OK &&
        (st = ledger_tip_get(rd, &tip)) == ST_OK) {
        span tx = span_of(q->tx.data, q->tx.len);
        st = q->type == 1 ? recheck(rd, tx, tip.height + 1) : check(rd, tx, tip.height + 1);
    }
    ledger_read_end(rd);
    if (status_class_of(st) >= SC_FAULT)
        return exception(out, "CheckTx", st);
    Tendermint__Abci__ResponseCheckTx c = TENDERMINT__ABCI__RESPONSE_CHECK_TX__INIT;
    c.code = (uint32_t)st;
    c.log = (char *)(st == ST_OK ? "" : status_name(st));
    c.codespace = (char *)(st == ST_OK ? "" : "tally");
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_CHECK_TX;
    r.check_tx = &c;
    count(a, q->type == 1 ? &a->stats.rechecks : &a->stats.checks, 1);
    count(a, &a->stats.check_ns, mono_ns() - t0);
    return pack(&r, out);
}

/* ---- proposals and blocks -------------------------------------------------------------------- */

/* What PrepareProposal, ProcessProposal and FinalizeBlock say of their block. */
typedef struct block_req {
    span *txs; /* the transactions (owned: base_free) */
    uint32_t n;
    uint64_t height, time_ns;
} block_req;

static status block_req_of(const ProtobufCBinaryData *txs, size_t n, int64_t height,
                           const Tendermint__Abci__Timestamp *time, block_req *b)
{
    b->txs = n <= UINT32_MAX ? base_calloc(n ? n : 1, sizeof *b->txs) : NULL;
    for (size_t i = 0; b->txs && i < n; i++)
        b->txs[i] = span_of(txs[i].data, txs[i].len);
    b->n = (uint32_t)n;
    b->height = height > 0 ? (uint64_t)height : 0;
    b->time_ns = ts_ns(time);
    return b->txs ? ST_OK : ST_OUT_OF_MEMORY;
}

static status on_prepare(abci_app *a, const Tendermint__Abci__RequestPrepareProposal *q, buf *out)
{
    uint64_t t0 = mono_ns();
    block_req b;
    if (block_req_of(q->txs, q->n_txs, q->height, q->time, &b) != ST_OK)
        return ST_OUT_OF_MEMORY;
    scheduler_block_info info;
    status st = a->s ? scheduler_block_execute(a->s, b.height, b.time_ns, b.txs, b.n,
                                               SCHEDULER_BLOCK_PROPOSE,
                                               q->max_tx_bytes > 0 ? (uint64_t)q->max_tx_bytes : 0,
                                               &info)
                     : ST_NO_GENESIS;
    base_free(b.txs);
    if (st != ST_OK)
        return exception(out, "PrepareProposal", st);
    ProtobufCBinaryData *taken = base_calloc(info.ntx ? info.ntx : 1, sizeof *taken);
    if (!taken)
        return ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < info.ntx; i++)
        taken[i] = q->txs[info.taken[i]];
    Tendermint__Abci__ResponsePrepareProposal p = TENDERMINT__ABCI__RESPONSE_PREPARE_PROPOSAL__INIT;
    p.n_txs = info.ntx;
    p.txs = taken;
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_PREPARE_PROPOSAL;
    r.prepare_proposal = &p;
    st = pack(&r, out);
    base_free(taken);
    count(a, &a->stats.proposals, 1);
    count(a, &a->stats.prepare_ns, mono_ns() - t0);
    return st;
}

static status on_process(abci_app *a, const Tendermint__Abci__RequestProcessProposal *q, buf *out)
{
    uint64_t t0 = mono_ns();
    block_req b;
    if (block_req_of(q->txs, q->n_txs, q->height, q->time, &b) != ST_OK)
        return ST_OUT_OF_MEMORY;
    scheduler_block_info info = {.valid = true};
    status st = ST_NO_GENESIS;
    if (a->s && scheduler_block_is_open(a->s, b.height, b.time_ns, b.txs, b.n, NULL)) {
        st = ST_OK; /* our own proposal, or one we checked in an earlier round */
        count(a, &a->stats.reused, 1);
    } else if (a->s) {
        st = scheduler_block_execute(a->s, b.height, b.time_ns, b.txs, b.n, SCHEDULER_BLOCK_VERIFY,
                                     0, &info);
    }
    base_free(b.txs);
    if (st != ST_OK)
        return exception(out, "ProcessProposal", st);
    if (!info.valid) {
        fprintf(stderr, "abci: height %llu: rejected a proposal: %s\n",
                (unsigned long long)b.height, info.why);
        count(a, &a->stats.rejected, 1);
    }
    Tendermint__Abci__ResponseProcessProposal p = TENDERMINT__ABCI__RESPONSE_PROCESS_PROPOSAL__INIT;
    p.status = info.valid ? 1 : 2; /* ACCEPT, REJECT */
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_PROCESS_PROPOSAL;
    r.process_proposal = &p;
    count(a, &a->stats.verified, 1);
    count(a, &a->stats.process_ns, mono_ns() - t0);
    return pack(&r, out);
}

static status finalize_response(const scheduler_block_info *info, const ledger_tip *tip, buf *out)
{
    uint32_t n = info->ntx;
    Tendermint__Abci__ExecTxResult *res = base_calloc(n ? n : 1, sizeof *res);
    Tendermint__Abci__ExecTxResult **ptrs = base_calloc(n ? n : 1, sizeof *ptrs);
    status st = res && ptrs ? ST_OK : ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        const scheduler_tx_result *t = &info->results[i];
        Tendermint__Abci__ExecTxResult e = TENDERMINT__ABCI__EXEC_TX_RESULT__INIT;
        if (t->finished) {
            e.code = t->status;
            e.data = bytes_of(t->reply.ptr, t->reply.len);
            e.gas_used = t->instructions > INT64_MAX ? INT64_MAX : (int64_t)t->instructions;
            e.log = (char *)status_name((status)t->status);
            e.codespace = (char *)(t->status ? "tally" : "");
        } else {
            e.log = "no receipt yet: paused by time slicing, or waiting for a call it made";
        }
        res[i] = e;
        ptrs[i] = &res[i];
    }
    if (st == ST_OK) {
        Tendermint__Abci__ResponseFinalizeBlock f = TENDERMINT__ABCI__RESPONSE_FINALIZE_BLOCK__INIT;
        f.n_tx_results = n;
        f.tx_results = ptrs;
        f.app_hash = bytes_of(tip->state_root, LEDGER_HASH_SIZE);
        Response r = TENDERMINT__ABCI__RESPONSE__INIT;
        r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_FINALIZE_BLOCK;
        r.finalize_block = &f;
        st = pack(&r, out);
    }
    base_free(res);
    base_free(ptrs);
    return st;
}

static status on_finalize(abci_app *a, const Tendermint__Abci__RequestFinalizeBlock *q, buf *out)
{
    uint64_t t0 = mono_ns();
    block_req b;
    if (block_req_of(q->txs, q->n_txs, q->height, q->time, &b) != ST_OK)
        return ST_OUT_OF_MEMORY;
    scheduler_block_info info;
    status st = ST_NO_GENESIS;
    if (a->s && scheduler_block_is_open(a->s, b.height, b.time_ns, b.txs, b.n, &info))
        st = ST_OK;
    else if (a->s)
        st = scheduler_block_execute(a->s, b.height, b.time_ns, b.txs, b.n,
                                     SCHEDULER_BLOCK_DECIDED, 0, &info);
    base_free(b.txs);
    if (st == ST_OK && a->opt.diverge_at && b.height == a->opt.diverge_at) {
        fprintf(stderr, "abci: TEST SWITCH: perturbing the state of block %llu\n",
                (unsigned long long)b.height);
        st = scheduler_block_test_perturb(a->s);
    }
    uint64_t t1 = mono_ns();
    ledger_tip tip;
    if (st == ST_OK)
        st = scheduler_block_preview(a->s, &tip);
    if (st != ST_OK)
        return exception(out, "FinalizeBlock", st);
    count(a, &a->stats.finalize_ns, t1 - t0);
    count(a, &a->stats.preview_ns, mono_ns() - t1);
    count(a, &a->stats.txs, info.ntx);
    return finalize_response(&info, &tip, out);
}

static status on_commit(abci_app *a, buf *out)
{
    uint64_t t0 = mono_ns();
    scheduler_round_info info;
    status st = a->s ? scheduler_block_commit(a->s, &info) : ST_NO_GENESIS;
    if (st != ST_OK)
        return exception(out, "Commit", st);
    uint64_t t1 = mono_ns();
    count(a, &a->stats.commit_ns, t1 - t0);
    count(a, &a->stats.blocks, 1);
    bool quiet_long = t1 - a->last_commit_ns <= 10000000000u; /* an idle line every 10 s */
    if (!a->opt.quiet && (info.messages || info.completed || !quiet_long)) {
        char root[2 * LEDGER_HASH_SIZE + 1];
        ledger_hash_hex(info.tip.state_root, root);
        fprintf(stderr,
                "abci: block %llu: %u messages, %u receipts, %llu instructions, state %.16s\n",
                (unsigned long long)info.tip.height, info.messages, info.completed,
                (unsigned long long)info.instructions, root);
        a->last_commit_ns = t1;
    }
    Tendermint__Abci__ResponseCommit c = TENDERMINT__ABCI__RESPONSE_COMMIT__INIT;
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_COMMIT;
    r.commit = &c;
    return pack(&r, out);
}

/* ---- Query ---------------------------------------------------------------------------------- */

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char *h = base_alloc(2 * n + 1);
    if (!h)
        return NULL;
    base_hex_write(p, n, h);
    json_t *j = json_string(h);
    base_free(h);
    return j;
}

/* Appends the bytes of the n hex digits at s to out; false if they are not hex. */
static bool hex_bytes(const char *s, size_t n, buf *out)
{
    if (n == 0)
        return true;
    if (n % 2 || buf_reserve(out, n / 2) != ST_OK || !base_hex_read(s, n, out->ptr + out->len))
        return false;
    out->len += n / 2;
    return true;
}

static json_t *query_status(abci_app *a, status *st)
{
    ledger_tip tip;
    *st = tip_now(a, &tip);
    if (*st != ST_OK)
        return NULL;
    return json_pack("{s:s, s:I, s:o, s:o, s:I}", "chain_id", ledger_genesis_of(a->lg)->chain_id,
                     "height", (json_int_t)tip.height, "state_root",
                     hex_json(tip.state_root, LEDGER_HASH_SIZE), "block_hash",
                     hex_json(tip.hash, LEDGER_HASH_SIZE), "timestamp_ns",
                     (json_int_t)tip.timestamp_ns);
}

static json_t *query_receipt(abci_app *a, span data, status *st)
{
    buf id = {0};
    if (data.len == 2 * LEDGER_HASH_SIZE) {
        if (!hex_bytes((const char *)data.ptr, data.len, &id))
            id.len = 0;
    } else if (data.len == LEDGER_HASH_SIZE) {
        *st = buf_put(&id, data.ptr, data.len);
    }
    if (id.len != LEDGER_HASH_SIZE) {
        buf_fini(&id);
        *st = ST_BAD_ARGUMENT;
        return NULL;
    }
    ledger_reader *rd = NULL;
    ledger_receipt rc;
    json_t *j = NULL;
    *st = ledger_read_begin(a->lg, &rd);
    if (*st == ST_OK)
        *st = ledger_receipt_get(rd, id.ptr, &rc);
    if (*st == ST_OK)
        j = json_pack("{s:o, s:I, s:s, s:I, s:I, s:o}", "message_id",
                      hex_json(id.ptr, LEDGER_HASH_SIZE), "status", (json_int_t)rc.status,
                      "status_name", status_name((status)rc.status), "instructions",
                      (json_int_t)rc.instructions, "height", (json_int_t)rc.height,
                      rc.status == ST_OK ? "reply" : "reject",
                      hex_json(rc.reply.ptr, rc.reply.len));
    ledger_read_end(rd);
    buf_fini(&id);
    return j;
}

/* data: {"canister": "aaaaa-aaaab-..." or a number, "method": "name", "arg": "hex"} */
static json_t *query_canister(abci_app *a, span data, status *st)
{
    json_error_t err;
    json_t *q = json_loadb((const char *)data.ptr, data.len, 0, &err), *j = NULL;
    const char *cid = NULL, *method = NULL, *arg = "";
    json_int_t num = 0;
    uint64_t id = 0;
    *st = ST_BAD_ARGUMENT;
    if (!q || (json_unpack(q, "{s:s, s:s, s?:s}", "canister", &cid, "method", &method, "arg",
                           &arg) &&
               json_unpack(q, "{s:I, s:s, s?:s}", "canister", &num, "method", &method, "arg",
                           &arg))) {
        json_decref(q);
        return NULL;
    }
    buf argb = {0};
    if ((cid ? ledger_canister_id_parse(cid, &id) == ST_OK : num > 0) && hex_bytes(arg, strlen(arg), &argb)) {
        if (!cid)
            id = (uint64_t)num;
        host_result res;
        host_result_init(&res);
        *st = scheduler_query(a->s, id, span_of(method, strlen(method)),
                              span_of(argb.ptr, argb.len), span_of(NULL, 0), &res);
        if (*st == ST_OK) {
            bool replied = res.st == ST_OK && res.kind == HOST_RESPONSE_REPLY;
            status outcome = res.st == ST_OK && !replied ? ST_CANISTER_REJECTED : res.st;
            j = json_pack("{s:I, s:s, s:I, s:o}", "status", (json_int_t)outcome, "status_name",
                          status_name(outcome), "instructions", (json_int_t)res.instructions,
                          replied ? "reply" : "reject", hex_json(res.bytes.ptr, res.bytes.len));
        }
        host_result_fini(&res);
    }
    buf_fini(&argb);
    json_decref(q);
    return j;
}

json_t *abci_app_stats_json(abci_app *a)
{
    abci_stats s;
    abci_app_stats(a, &s);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "blocks", (json_int_t)s.blocks, "txs", (json_int_t)s.txs, "checks",
                     (json_int_t)s.checks, "rechecks", (json_int_t)s.rechecks, "proposals",
                     (json_int_t)s.proposals, "verified", (json_int_t)s.verified, "rejected",
                     (json_int_t)s.rejected, "reused", (json_int_t)s.reused, "check_ns",
                     (json_int_t)s.check_ns, "prepare_ns", (json_int_t)s.prepare_ns, "process_ns",
                     (json_int_t)s.process_ns, "finalize_ns", (json_int_t)s.finalize_ns,
                     "preview_ns", (json_int_t)s.preview_ns, "commit_ns", (json_int_t)s.commit_ns);
}

static status on_query(abci_app *a, const Tendermint__Abci__RequestQuery *q, buf *out)
{
    span data = span_of(q->data.data, q->data.len);
    status st = ST_NO_GENESIS;
    json_t *j = NULL;
    if (!strcmp(q->path, "/stats"))
        st = (j = abci_app_stats_json(a)) ? ST_OK : ST_OUT_OF_MEMORY;
    else if (!a->s)
        st = ST_NO_GENESIS;
    else if (!strcmp(q->path, "/status"))
        j = query_status(a, &st);
    else if (!strcmp(q->path, "/receipt"))
        j = query_receipt(a, data, &st);
    else if (!strcmp(q->path, "/query"))
        j = query_canister(a, data, &st);
    else
        st = ST_BAD_ARGUMENT;
    if (st == ST_OK && !j)
        st = ST_OUT_OF_MEMORY;
    if (status_class_of(st) >= SC_FAULT) {
        json_decref(j);
        return exception(out, "Query", st);
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    ledger_tip tip = {0};
    if (a->s)
        tip_now(a, &tip);
    Tendermint__Abci__ResponseQuery rq = TENDERMINT__ABCI__RESPONSE_QUERY__INIT;
    rq.code = (uint32_t)st;
    rq.log = (char *)(st == ST_OK ? "" : status_name(st));
    rq.codespace = (char *)(st == ST_OK ? "" : "tally");
    rq.value = bytes_of((const uint8_t *)text, text ? strlen(text) : 0);
    rq.height = (int64_t)tip.height;
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = TENDERMINT__ABCI__RESPONSE__VALUE_QUERY;
    r.query = &rq;
    st = pack(&r, out);
    json_malloc_t jmalloc;
    json_free_t jfree;
    json_get_alloc_funcs(&jmalloc, &jfree); /* json_dumps allocated with them */
    if (text)
        jfree(text);
    return st;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static status empty(buf *out, Tendermint__Abci__Response__ValueCase c, void *msg)
{
    Response r = TENDERMINT__ABCI__RESPONSE__INIT;
    r.value_case = c;
    r.echo = msg; /* every case of the oneof shares one pointer slot */
    return pack(&r, out);
}

static status dispatch(abci_app *a, const Request *q, buf *out)
{
    switch (q->value_case) {
    case TENDERMINT__ABCI__REQUEST__VALUE_ECHO: {
        Tendermint__Abci__ResponseEcho e = TENDERMINT__ABCI__RESPONSE_ECHO__INIT;
        e.message = q->echo->message;
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_ECHO, &e);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_FLUSH: {
        Tendermint__Abci__ResponseFlush f = TENDERMINT__ABCI__RESPONSE_FLUSH__INIT;
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_FLUSH, &f);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_INFO: return on_info(a, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_INIT_CHAIN: return on_init_chain(a, q->init_chain, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_QUERY: return on_query(a, q->query, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_CHECK_TX: return on_check_tx(a, q->check_tx, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_COMMIT: return on_commit(a, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL:
        return on_prepare(a, q->prepare_proposal, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL:
        return on_process(a, q->process_proposal, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_FINALIZE_BLOCK:
        return on_finalize(a, q->finalize_block, out);
    case TENDERMINT__ABCI__REQUEST__VALUE_LIST_SNAPSHOTS: { /* no state sync: no snapshots */
        Tendermint__Abci__ResponseListSnapshots l = TENDERMINT__ABCI__RESPONSE_LIST_SNAPSHOTS__INIT;
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_LIST_SNAPSHOTS, &l);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_OFFER_SNAPSHOT: {
        Tendermint__Abci__ResponseOfferSnapshot o = TENDERMINT__ABCI__RESPONSE_OFFER_SNAPSHOT__INIT;
        o.result = 2; /* ABORT */
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_OFFER_SNAPSHOT, &o);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_LOAD_SNAPSHOT_CHUNK: {
        Tendermint__Abci__ResponseLoadSnapshotChunk l =
            TENDERMINT__ABCI__RESPONSE_LOAD_SNAPSHOT_CHUNK__INIT;
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_LOAD_SNAPSHOT_CHUNK, &l);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_APPLY_SNAPSHOT_CHUNK: {
        Tendermint__Abci__ResponseApplySnapshotChunk c =
            TENDERMINT__ABCI__RESPONSE_APPLY_SNAPSHOT_CHUNK__INIT;
        c.result = 2; /* ABORT */
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_APPLY_SNAPSHOT_CHUNK, &c);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_EXTEND_VOTE: { /* vote extensions are not used */
        Tendermint__Abci__ResponseExtendVote e = TENDERMINT__ABCI__RESPONSE_EXTEND_VOTE__INIT;
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_EXTEND_VOTE, &e);
    }
    case TENDERMINT__ABCI__REQUEST__VALUE_VERIFY_VOTE_EXTENSION: {
        Tendermint__Abci__ResponseVerifyVoteExtension v =
            TENDERMINT__ABCI__RESPONSE_VERIFY_VOTE_EXTENSION__INIT;
        v.status = 1; /* ACCEPT */
        return empty(out, TENDERMINT__ABCI__RESPONSE__VALUE_VERIFY_VOTE_EXTENSION, &v);
    }
    default: return exception(out, "unknown request", ST_ABCI_MALFORMED);
    }
}

status abci_app_handle(abci_app *a, span request, buf *response)
{
    Request *q = tendermint__abci__request__unpack(NULL, request.len, request.ptr);
    if (!q)
        return ST_ABCI_MALFORMED;
    if (!a->locked)
        pthread_mutex_lock(&a->lock);
    a->locked = true;
    status st;
    if (q->value_case == TENDERMINT__ABCI__REQUEST__VALUE_QUERY && a->s &&
        scheduler_block_pending(a->s))
        st = ST_ROUND_IN_PROGRESS; /* queries see committed state only: after the commit */
    else
        st = dispatch(a, q, response);
    tendermint__abci__request__free_unpacked(q, NULL);
    if (!a->s || !scheduler_block_pending(a->s)) {
        a->locked = false;
        pthread_mutex_unlock(&a->lock);
    }
    return st;
}
