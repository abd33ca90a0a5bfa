/* test_abci.c - abci/: the frame codec, the genesis app state, and the ABCI methods driven in
 * process (encoded Requests into abci_app_handle, decoded Responses out) over temporary node
 * directories: genesis, admission, proposals and their rules, blocks, commits, queries, restart,
 * and the test-only divergence switch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "abci.h"
#include "tally_abci.pb-c.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef Tendermint__Abci__Request Request;
typedef Tendermint__Abci__Response Response;

/* ---- frames ---------------------------------------------------------------------------------- */

static void test_frames(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 127, 128, 300, 16383, 16384, 70000};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        uint8_t *msg = calloc(lens[k] + 1, 1);
        for (size_t i = 0; i < lens[k]; i++)
            msg[i] = (uint8_t)(i * 7 + k);
        buf out = {0};
        assert_int_equal(abci_frame_put(&out, span_of(msg, lens[k])), ST_OK);
        size_t prefix = lens[k] < 128 ? 1 : lens[k] < 16384 ? 2 : 3;
        assert_int_equal(out.len, prefix + lens[k]);
        span got;
        size_t used;
        assert_int_equal(abci_frame_next(span_of(out.ptr, out.len), &got, &used), ST_OK);
        assert_int_equal(used, out.len);
        assert_int_equal(got.len, lens[k]);
        assert_memory_equal(got.ptr, msg, lens[k]);
        for (size_t cut = 0; cut < out.len; cut += 1 + cut / 3) /* every short prefix waits */
            assert_int_equal(abci_frame_next(span_of(out.ptr, cut), &got, &used), ST_NOT_FOUND);
        buf_fini(&out);
        free(msg);
    }
    /* two frames back to back: the first is returned, *used says where the second starts */
    const uint8_t two[] = {2, 'h', 'i', 1, '!'};
    span got;
    size_t used;
    assert_int_equal(abci_frame_next(span_of(two, sizeof two), &got, &used), ST_OK);
    assert_int_equal(used, 3);
    assert_memory_equal(got.ptr, "hi", 2);
    /* malformed: 10 continuation bytes, a 10th byte above 1, a length above ABCI_FRAME_MAX */
    uint8_t bad[12];
    memset(bad, 0x80, sizeof bad);
    assert_int_equal(abci_frame_next(span_of(bad, sizeof bad), &got, &used), ST_ABCI_MALFORMED);
    bad[9] = 0x02;
    assert_int_equal(abci_frame_next(span_of(bad, 10), &got, &used), ST_ABCI_MALFORMED);
    const uint8_t huge[] = {0x81, 0x80, 0x80, 0x80, 0x01}; /* 2^28 + 1 */
    assert_int_equal(abci_frame_next(span_of(huge, sizeof huge), &got, &used), ST_ABCI_MALFORMED);
}

/* ---- the genesis app state ------------------------------------------------------------------- */

#define KEY_HEX "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"

static status parse(const char *json, ledger_genesis *g)
{
    char why[256] = "";
    status st =
        abci_app_state_parse(span_of(json, strlen(json)), "chain-x", 77, g, why, sizeof why);
    assert_true(st == ST_OK ? why[0] == 0 : why[0] != 0); /* every refusal says why */
    return st;
}

static void test_app_state(void **state)
{
    (void)state;
    ledger_genesis g, def;
    ledger_genesis_default(&def);
    assert_int_equal(parse("{\"admin_public_key\": \"" KEY_HEX
                           "\", \"round_instruction_limit\": 5,"
                           " \"max_messages_per_round\": 7}",
                           &g),
                     ST_OK);
    assert_string_equal(g.chain_id, "chain-x");
    assert_int_equal(g.genesis_time_ns, 77);
    assert_int_equal(g.round_instruction_limit, 5);
    assert_int_equal(g.max_messages_per_round, 7);
    assert_int_equal(g.slice_instructions, def.slice_instructions); /* untouched: default */
    assert_int_equal(g.admin_public_key[0], 0x3b);
    assert_int_equal(g.admin_public_key[31], 0x29);
    assert_int_equal(parse("{}", &g), ST_BAD_GENESIS);  /* no key */
    assert_int_equal(parse("[1]", &g), ST_BAD_GENESIS); /* not an object */
    assert_int_equal(parse("{\"admin_public_key\": \"3b6a\"}", &g), ST_BAD_GENESIS);
    assert_int_equal(parse("{\"admin_public_key\": \"" KEY_HEX "\", \"nope\": 1}", &g),
                     ST_BAD_GENESIS);
    assert_int_equal(parse("{\"admin_public_key\": \"" KEY_HEX "\", \"genesis_time_ns\": 1}", &g),
                     ST_BAD_GENESIS); /* CometBFT's genesis time rules */
    assert_int_equal(
        parse("{\"admin_public_key\": \"" KEY_HEX "\", \"max_message_bytes\": -1}", &g),
        ST_BAD_GENESIS);
    assert_int_equal(
        parse("{\"admin_public_key\": \"" KEY_HEX "\", \"max_message_bytes\": 4294967296}", &g),
        ST_BAD_GENESIS); /* above its u32 */
    assert_int_equal(
        parse("{\"admin_public_key\": \"" KEY_HEX "\", \"max_messages_per_round\": 0}", &g),
        ST_BAD_GENESIS); /* scheduler_genesis_check */
}

/* ---- the application, in process ------------------------------------------------------------- */

typedef struct fx {
    char dir[64];
    abci_app *a;
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    char pk_hex[2 * LEDGER_PUBLIC_KEY_SIZE + 1];
    buf wasm;
    uint64_t nonce;
} fx;

static void fx_open(fx *f, uint64_t diverge_at)
{
    abci_options o = {.dir = f->dir, .quiet = true, .no_sync = true, .diverge_at = diverge_at};
    assert_int_equal(abci_app_open(&o, &f->a), ST_OK);
}

static fx *fx_new(void)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tally-test-abci-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    uint8_t seed[LEDGER_SEED_SIZE] = {1, 2, 3};
    assert_int_equal(ledger_keypair(seed, f->pk, f->sk), ST_OK);
    ledger_hash_hex(f->pk, f->pk_hex);
    test_read_file(COUNTER_WASM, &f->wasm);
    fx_open(f, 0);
    return f;
}

static void fx_free(fx *f)
{
    abci_app_close(f->a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    buf_fini(&f->wasm);
    free(f);
}

/* Sends one request, returns the decoded response (caller frees with tendermint's free). */
static Response *handle(fx *f, const Request *q, status want)
{
    size_t n = tendermint__abci__request__get_packed_size(q);
    uint8_t *bytes = malloc(n ? n : 1);
    tendermint__abci__request__pack(q, bytes);
    buf out = {0};
    assert_int_equal(abci_app_handle(f->a, span_of(bytes, n), &out), want);
    free(bytes);
    Response *r = NULL;
    if (want == ST_OK) {
        r = tendermint__abci__response__unpack(NULL, out.len, out.ptr);
        assert_non_null(r);
        assert_int_not_equal(r->value_case, TENDERMINT__ABCI__RESPONSE__VALUE_EXCEPTION);
    }
    buf_fini(&out);
    return r;
}

static Tendermint__Abci__Timestamp ts(int64_t s)
{
    Tendermint__Abci__Timestamp t = TENDERMINT__ABCI__TIMESTAMP__INIT;
    t.seconds = s;
    return t;
}

static void init_chain(fx *f, const char *extra, uint8_t app_hash[LEDGER_HASH_SIZE])
{
    char json[512];
    snprintf(json, sizeof json, "{\"admin_public_key\": \"%s\"%s}", f->pk_hex, extra);
    Tendermint__Abci__RequestInitChain ic = TENDERMINT__ABCI__REQUEST_INIT_CHAIN__INIT;
    Tendermint__Abci__Timestamp t = ts(1000);
    ic.time = &t;
    ic.chain_id = "abci-test";
    ic.app_state_bytes = (ProtobufCBinaryData){strlen(json), (uint8_t *)json};
    ic.initial_height = 1;
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_INIT_CHAIN;
    q.init_chain = &ic;
    Response *r = handle(f, &q, ST_OK);
    assert_int_equal(r->value_case, TENDERMINT__ABCI__RESPONSE__VALUE_INIT_CHAIN);
    assert_int_equal(r->init_chain->app_hash.len, LEDGER_HASH_SIZE);
    memcpy(app_hash, r->init_chain->app_hash.data, LEDGER_HASH_SIZE);
    tendermint__abci__response__free_unpacked(r, NULL);
}

static void info(fx *f, int64_t *height, uint8_t app_hash[LEDGER_HASH_SIZE])
{
    Tendermint__Abci__RequestInfo ri = TENDERMINT__ABCI__REQUEST_INFO__INIT;
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_INFO;
    q.info = &ri;
    Response *r = handle(f, &q, ST_OK);
    *height = r->info->last_block_height;
    memset(app_hash, 0, LEDGER_HASH_SIZE);
    if (r->info->last_block_app_hash.len == LEDGER_HASH_SIZE)
        memcpy(app_hash, r->info->last_block_app_hash.data, LEDGER_HASH_SIZE);
    tendermint__abci__response__free_unpacked(r, NULL);
}

/* A signed envelope: the install of the counter (canister 0) or an `inc` of canister. */
static void sign(fx *f, uint64_t canister, buf *env)
{
    buf arg = {0};
    if (!canister)
        assert_int_equal(
            scheduler_install_arg(span_of(f->wasm.ptr, f->wasm.len), span_of(NULL, 0), &arg),
            ST_OK);
    ledger_message m = {.nonce = ++f->nonce,
                        .canister_id = canister,
                        .kind = canister ? LEDGER_MSG_UPDATE : LEDGER_MSG_INSTALL,
                        .method = canister ? span_of("inc", 3) : span_of(NULL, 0),
                        .arg = span_of(arg.ptr, arg.len),
                        .expiry_height = 1000};
    memcpy(m.sender, f->pk, LEDGER_PUBLIC_KEY_SIZE);
    uint8_t id[LEDGER_HASH_SIZE];
    env->len = 0;
    assert_int_equal(ledger_message_sign(&m, f->sk, env, id), ST_OK);
    buf_fini(&arg);
}

static uint32_t check_tx(fx *f, span tx, int type)
{
    Tendermint__Abci__RequestCheckTx c = TENDERMINT__ABCI__REQUEST_CHECK_TX__INIT;
    c.tx = (ProtobufCBinaryData){tx.len, (uint8_t *)(uintptr_t)tx.ptr};
    c.type = type;
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_CHECK_TX;
    q.check_tx = &c;
    Response *r = handle(f, &q, ST_OK);
    uint32_t code = r->check_tx->code;
    tendermint__abci__response__free_unpacked(r, NULL);
    return code;
}

static ProtobufCBinaryData *bins(const buf *txs, size_t n)
{
    ProtobufCBinaryData *b = calloc(n ? n : 1, sizeof *b);
    for (size_t i = 0; i < n; i++)
        b[i] = (ProtobufCBinaryData){txs[i].len, txs[i].ptr};
    return b;
}

/* PrepareProposal: returns how many transactions the proposal took; which[] their indices. */
static size_t prepare(fx *f, int64_t height, int64_t secs, const buf *txs, size_t n, size_t *which)
{
    Tendermint__Abci__RequestPrepareProposal p = TENDERMINT__ABCI__REQUEST_PREPARE_PROPOSAL__INIT;
    Tendermint__Abci__Timestamp t = ts(secs);
    p.height = height;
    p.time = &t;
    p.max_tx_bytes = 1 << 20;
    p.n_txs = n;
    p.txs = bins(txs, n);
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_PREPARE_PROPOSAL;
    q.prepare_proposal = &p;
    Response *r = handle(f, &q, ST_OK);
    size_t got = r->prepare_proposal->n_txs;
    for (size_t i = 0; i < got; i++) {
        which[i] = n;
        for (size_t k = 0; k < n; k++)
            if (txs[k].len == r->prepare_proposal->txs[i].len &&
                !memcmp(txs[k].ptr, r->prepare_proposal->txs[i].data, txs[k].len))
                which[i] = k;
        assert_true(which[i] < n);
    }
    tendermint__abci__response__free_unpacked(r, NULL);
    free(p.txs);
    return got;
}

static int process(fx *f, int64_t height, int64_t secs, const buf *txs, size_t n)
{
    Tendermint__Abci__RequestProcessProposal p = TENDERMINT__ABCI__REQUEST_PROCESS_PROPOSAL__INIT;
    Tendermint__Abci__Timestamp t = ts(secs);
    p.height = height;
    p.time = &t;
    p.n_txs = n;
    p.txs = bins(txs, n);
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_PROCESS_PROPOSAL;
    q.process_proposal = &p;
    Response *r = handle(f, &q, ST_OK);
    int verdict = r->process_proposal->status;
    tendermint__abci__response__free_unpacked(r, NULL);
    free(p.txs);
    return verdict;
}

/* FinalizeBlock: returns the response (caller frees). */
static Response *finalize(fx *f, int64_t height, int64_t secs, const buf *txs, size_t n)
{
    Tendermint__Abci__RequestFinalizeBlock b = TENDERMINT__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    Tendermint__Abci__Timestamp t = ts(secs);
    b.height = height;
    b.time = &t;
    b.n_txs = n;
    b.txs = bins(txs, n);
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    q.finalize_block = &b;
    Response *r = handle(f, &q, ST_OK);
    assert_int_equal(r->value_case, TENDERMINT__ABCI__RESPONSE__VALUE_FINALIZE_BLOCK);
    assert_int_equal(r->finalize_block->n_tx_results, n);
    assert_int_equal(r->finalize_block->app_hash.len, LEDGER_HASH_SIZE);
    free(b.txs);
    return r;
}

static void commit(fx *f)
{
    Tendermint__Abci__RequestCommit c = TENDERMINT__ABCI__REQUEST_COMMIT__INIT;
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_COMMIT;
    q.commit = &c;
    Response *r = handle(f, &q, ST_OK);
    assert_int_equal(r->value_case, TENDERMINT__ABCI__RESPONSE__VALUE_COMMIT);
    tendermint__abci__response__free_unpacked(r, NULL);
}

/* Query path with data; returns the code and copies the value (NUL-terminated) into out. */
static uint32_t query(fx *f, const char *path, const char *data, status want, char *out,
                      size_t cap)
{
    Tendermint__Abci__RequestQuery rq = TENDERMINT__ABCI__REQUEST_QUERY__INIT;
    rq.path = (char *)path;
    rq.data = (ProtobufCBinaryData){strlen(data), (uint8_t *)(uintptr_t)data};
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_QUERY;
    q.query = &rq;
    Response *r = handle(f, &q, want);
    if (!r)
        return UINT32_MAX;
    uint32_t code = r->query->code;
    size_t n = r->query->value.len < cap - 1 ? r->query->value.len : cap - 1;
    if (n)
        memcpy(out, r->query->value.data, n);
    out[n] = 0;
    tendermint__abci__response__free_unpacked(r, NULL);
    return code;
}

static void test_chain(void **state)
{
    (void)state;
    fx *f = fx_new();
    int64_t height;
    uint8_t h0[LEDGER_HASH_SIZE], h[LEDGER_HASH_SIZE], zero[LEDGER_HASH_SIZE] = {0};
    info(f, &height, h);
    assert_int_equal(height, 0);
    assert_memory_equal(h, zero, LEDGER_HASH_SIZE); /* no genesis yet: CometBFT calls InitChain */
    init_chain(f, "", h0);
    info(f, &height, h);
    assert_int_equal(height, 0);
    assert_memory_equal(h, h0, LEDGER_HASH_SIZE);

    /* admission */
    buf txs[4] = {{0}};
    sign(f, 0, &txs[0]);
    assert_int_equal(check_tx(f, span_of(txs[0].ptr, txs[0].len), 0), ST_OK);
    assert_int_equal(check_tx(f, span_of("junk", 4), 0), ST_MALFORMED_MESSAGE);
    buf forged = {0};
    assert_int_equal(buf_put(&forged, txs[0].ptr, txs[0].len), ST_OK);
    forged.ptr[forged.len - 1] ^= 1;
    assert_int_equal(check_tx(f, span_of(forged.ptr, forged.len), 0), ST_BAD_SIGNATURE);
    sign(f, 1, &txs[1]); /* canister 1 does not exist yet */
    assert_int_equal(check_tx(f, span_of(txs[1].ptr, txs[1].len), 0), ST_UNKNOWN_CANISTER);

    /* block 1: the proposer drops what does not decode, everybody accepts its proposal */
    buf cands[2] = {{0}};
    assert_int_equal(buf_put(&cands[0], "junk", 4), ST_OK);
    assert_int_equal(buf_put(&cands[1], txs[0].ptr, txs[0].len), ST_OK);
    size_t which[4];
    assert_int_equal(prepare(f, 1, 1001, cands, 2, which), 1);
    assert_int_equal(which[0], 1);
    assert_int_equal(process(f, 1, 1001, &txs[0], 1), 1); /* ACCEPT (the block it prepared) */
    assert_int_equal(process(f, 1, 1001, cands, 2), 2);   /* REJECT: junk */
    assert_int_equal(process(f, 1, 1001, &txs[0], 1), 1); /* executed again after the reject */
    Response *r = finalize(f, 1, 1001, &txs[0], 1);
    Tendermint__Abci__ExecTxResult *res = r->finalize_block->tx_results[0];
    assert_int_equal(res->code, ST_OK);
    assert_int_equal(res->data.len, 8); /* the new canister's id */
    assert_int_equal(le64_load(res->data.data), 1);
    assert_true(res->gas_used > 0);
    uint8_t app1[LEDGER_HASH_SIZE];
    memcpy(app1, r->finalize_block->app_hash.data, LEDGER_HASH_SIZE);
    assert_memory_not_equal(app1, h0, LEDGER_HASH_SIZE);
    tendermint__abci__response__free_unpacked(r, NULL);
    char text[512];
    /* queries wait for the commit (they see committed state only) */
    assert_int_equal(query(f, "/status", "", ST_ROUND_IN_PROGRESS, text, sizeof text), UINT32_MAX);
    commit(f);
    info(f, &height, h);
    assert_int_equal(height, 1);
    assert_memory_equal(h, app1, LEDGER_HASH_SIZE); /* Info answers the committed app hash */

    /* block 2: two updates; a proposal that repeats a message that ran is rejected */
    sign(f, 1, &txs[1]);
    sign(f, 1, &txs[2]);
    assert_int_equal(check_tx(f, span_of(txs[1].ptr, txs[1].len), 0), ST_OK);
    assert_int_equal(check_tx(f, span_of(txs[0].ptr, txs[0].len), 1), ST_MESSAGE_REPLAY);
    assert_int_equal(process(f, 2, 1002, &txs[0], 1), 2); /* REJECT: it ran in block 1 */
    buf dup[2] = {txs[1], txs[1]};
    assert_int_equal(process(f, 2, 1002, dup, 2), 2); /* REJECT: twice in one block */
    r = finalize(f, 2, 1002, &txs[1], 2); /* decided without a proposal here: executed now */
    assert_int_equal(r->finalize_block->tx_results[0]->code, ST_OK);
    assert_int_equal(r->finalize_block->tx_results[1]->data.len, 4);
    assert_int_equal(le32_load(r->finalize_block->tx_results[1]->data.data), 2);
    tendermint__abci__response__free_unpacked(r, NULL);
    commit(f);

    /* Query on committed state */
    assert_int_equal(
        query(f, "/query", "{\"canister\": 1, \"method\": \"get\"}", ST_OK, text, sizeof text),
        ST_OK);
    assert_non_null(strstr(text, "\"reply\":\"02000000\""));
    assert_int_equal(query(f, "/status", "", ST_OK, text, sizeof text), ST_OK);
    assert_non_null(strstr(text, "\"height\":2"));
    assert_int_equal(query(f, "/nope", "", ST_OK, text, sizeof text), ST_BAD_ARGUMENT);
    assert_int_equal(query(f, "/receipt", "abc", ST_OK, text, sizeof text), ST_BAD_ARGUMENT);
    assert_int_equal(query(f, "/stats", "", ST_OK, text, sizeof text), ST_OK);
    assert_non_null(strstr(text, "\"blocks\":2"));

    /* an executed block that is never committed leaves no trace after a restart */
    sign(f, 1, &txs[3]);
    r = finalize(f, 3, 1003, &txs[3], 1);
    tendermint__abci__response__free_unpacked(r, NULL);
    info(f, &height, h);
    assert_int_equal(height, 2);
    abci_app_close(f->a);
    fx_open(f, 0);
    uint8_t app2[LEDGER_HASH_SIZE];
    info(f, &height, app2);
    assert_int_equal(height, 2);
    assert_memory_not_equal(app2, app1, LEDGER_HASH_SIZE);
    /* CometBFT replays block 3 after the handshake: the same result as before */
    r = finalize(f, 3, 1003, &txs[3], 1);
    assert_int_equal(le32_load(r->finalize_block->tx_results[0]->data.data), 3);
    tendermint__abci__response__free_unpacked(r, NULL);
    commit(f);
    for (size_t i = 0; i < 4; i++)
        buf_fini(&txs[i]);
    buf_fini(&cands[0]);
    buf_fini(&cands[1]);
    buf_fini(&forged);
    fx_free(f);
}

/* The round budget: the proposer stops at it, and a proposal past it is rejected. */
static void test_budget(void **state)
{
    (void)state;
    fx *f = fx_new();
    uint8_t h0[LEDGER_HASH_SIZE];
    /* one instruction per round: a block holds what starts before the first message ends */
    init_chain(f, ", \"round_instruction_limit\": 1", h0);
    buf txs[3] = {{0}};
    sign(f, 0, &txs[0]);
    Response *r = finalize(f, 1, 1001, &txs[0], 1);
    assert_int_equal(r->finalize_block->tx_results[0]->code, ST_OK);
    tendermint__abci__response__free_unpacked(r, NULL);
    commit(f);
    sign(f, 1, &txs[1]);
    sign(f, 1, &txs[2]);
    size_t which[3];
    assert_int_equal(prepare(f, 2, 1002, &txs[1], 2, which), 1);
    assert_int_equal(process(f, 2, 1002, &txs[1], 2), 2); /* REJECT: the 2nd starts past it */
    assert_int_equal(process(f, 2, 1002, &txs[1], 1), 1); /* ACCEPT */
    for (size_t i = 0; i < 3; i++)
        buf_fini(&txs[i]);
    fx_free(f);
}

/* The test-only switch: the same blocks, a different state root from its height on. */
static void test_diverge(void **state)
{
    (void)state;
    fx *f = fx_new(), *g = fx_new();
    abci_app_close(g->a);
    fx_open(g, 2);
    uint8_t h0[LEDGER_HASH_SIZE], h1[LEDGER_HASH_SIZE];
    init_chain(f, "", h0);
    init_chain(g, "", h1);
    assert_memory_equal(h0, h1, LEDGER_HASH_SIZE);
    for (int64_t height = 1; height <= 2; height++) {
        Response *a = finalize(f, height, 1000 + height, NULL, 0);
        Response *b = finalize(g, height, 1000 + height, NULL, 0);
        if (height == 1)
            assert_memory_equal(a->finalize_block->app_hash.data, b->finalize_block->app_hash.data,
                                LEDGER_HASH_SIZE);
        else
            assert_memory_not_equal(a->finalize_block->app_hash.data,
                                    b->finalize_block->app_hash.data, LEDGER_HASH_SIZE);
        tendermint__abci__response__free_unpacked(a, NULL);
        tendermint__abci__response__free_unpacked(b, NULL);
        commit(f);
        commit(g);
    }
    fx_free(f);
    fx_free(g);
}

/* Requests that are not ABCI, or not for this state, fail cleanly. */
static void test_bad_requests(void **state)
{
    (void)state;
    fx *f = fx_new();
    buf out = {0};
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(abci_app_handle(f->a, span_of(junk, sizeof junk), &out), ST_ABCI_MALFORMED);
    assert_int_equal(out.len, 0);
    /* FinalizeBlock before InitChain, or at a height that does not follow: an exception */
    Tendermint__Abci__RequestFinalizeBlock b = TENDERMINT__ABCI__REQUEST_FINALIZE_BLOCK__INIT;
    b.height = 5;
    Request q = TENDERMINT__ABCI__REQUEST__INIT;
    q.value_case = TENDERMINT__ABCI__REQUEST__VALUE_FINALIZE_BLOCK;
    q.finalize_block = &b;
    for (int round = 0; round < 2; round++) {
        size_t n = tendermint__abci__request__get_packed_size(&q);
        uint8_t bytes[64];
        assert_true(n <= sizeof bytes);
        tendermint__abci__request__pack(&q, bytes);
        out.len = 0;
        assert_int_equal(abci_app_handle(f->a, span_of(bytes, n), &out), ST_OK);
        Response *r = tendermint__abci__response__unpack(NULL, out.len, out.ptr);
        assert_non_null(r);
        assert_int_equal(r->value_case, TENDERMINT__ABCI__RESPONSE__VALUE_EXCEPTION);
        assert_non_null(strstr(r->exception->error, round ? "BLOCK_HEIGHT" : "NO_GENESIS"));
        tendermint__abci__response__free_unpacked(r, NULL);
        uint8_t h0[LEDGER_HASH_SIZE];
        if (!round)
            init_chain(f, "", h0);
    }
    buf_fini(&out);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames),  cmocka_unit_test(test_app_state),
        cmocka_unit_test(test_chain),   cmocka_unit_test(test_budget),
        cmocka_unit_test(test_diverge), cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
