/* test_mempool.c - cmocka tests of the ledger's group admission:
 * ledger_mempool_add_batch admits many envelopes in one write transaction with one outcome per
 * envelope (bad ones do not sink the batch, duplicates inside a batch are replays), keeps the
 * arrival order, is durable, equals one-by-one admission entry for entry, survives map growth,
 * and writes nothing on a fault; ledger_mempool_find tells a waiting message from others. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ledger_fixture.h"

typedef fx_node node;

/* Signs an update from key 7 with the given nonce, arg and expiry into *out. */
static void sign_msg(uint64_t nonce, span arg, uint64_t expiry, buf *out,
                     uint8_t id[LEDGER_HASH_SIZE])
{
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    fx_keys(7, pk, sk);
    ledger_message m;
    memset(&m, 0, sizeof m);
    memcpy(m.sender, pk, sizeof pk);
    m.nonce = nonce;
    m.canister_id = 1;
    m.kind = LEDGER_MSG_UPDATE;
    m.method = span_of("inc", 3);
    m.arg = arg;
    m.expiry_height = expiry;
    out->len = 0;
    assert_int_equal(ledger_message_sign(&m, sk, out, id), ST_OK);
}

/* The mempool's ids in arrival order into ids (at most max); returns the count. */
static size_t mempool_ids(ledger *lg, uint8_t (*ids)[LEDGER_HASH_SIZE], size_t max)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(lg, &rd), ST_OK);
    uint64_t seq = 0, last = 0;
    span e;
    size_t n = 0;
    uint8_t id[LEDGER_HASH_SIZE];
    while (ledger_mempool_next(rd, &seq, &e, id) == ST_OK) {
        assert_true(n < max);
        assert_true(seq > last);
        uint64_t found = 0;
        assert_int_equal(ledger_mempool_find(rd, id, &found), ST_OK);
        assert_true(found == seq);
        last = seq;
        memcpy(ids[n++], id, LEDGER_HASH_SIZE);
    }
    ledger_read_end(rd);
    return n;
}

enum { MIXED = 8 };

/* Envelopes of every kind of outcome in one batch: 0 ok, 1 bad signature, 2 ok, 3 duplicate
 * of 0, 4 expired, 5 malformed, 6 too large, 7 ok. */
static void make_mixed(buf env[MIXED], uint8_t ids[MIXED][LEDGER_HASH_SIZE])
{
    static uint8_t big[5000];
    sign_msg(1, span_of("a", 1), 10, &env[0], ids[0]);
    sign_msg(2, span_of("b", 1), 10, &env[1], ids[1]);
    env[1].ptr[env[1].len - 1] ^= 1; /* last signature byte */
    sign_msg(3, span_of("c", 1), 10, &env[2], ids[2]);
    assert_int_equal(buf_put(&env[3], env[0].ptr, env[0].len), ST_OK);
    memcpy(ids[3], ids[0], LEDGER_HASH_SIZE);
    sign_msg(4, span_of("d", 1), 0, &env[4], ids[4]); /* the next block is 1 */
    assert_int_equal(buf_put(&env[5], "TLYM", 4), ST_OK);
    assert_int_equal(buf_put(&env[5], big, 100), ST_OK);
    sign_msg(6, span_of(big, sizeof big), 10, &env[6], ids[6]);
    sign_msg(7, span_of("e", 1), 1, &env[7], ids[7]); /* expiry == next height: valid */
}

static const status mixed_want[MIXED] = {
    ST_OK,
    ST_BAD_SIGNATURE,
    ST_OK,
    ST_MESSAGE_REPLAY,
    ST_MESSAGE_EXPIRED,
    ST_MALFORMED_MESSAGE,
    ST_MESSAGE_TOO_LARGE,
    ST_OK,
};

static void t_batch_mixed(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, false), ST_OK); /* durable, as in a node */
    buf env[MIXED] = {{0}};
    uint8_t want_ids[MIXED][LEDGER_HASH_SIZE], ids[MIXED][LEDGER_HASH_SIZE];
    status st[MIXED];
    span spans[MIXED];
    make_mixed(env, want_ids);
    for (int i = 0; i < MIXED; i++)
        spans[i] = span_of(env[i].ptr, env[i].len);
    assert_int_equal(ledger_mempool_add_batch(n.lg, MIXED, spans, ids, st), ST_OK);
    for (int i = 0; i < MIXED; i++) {
        assert_int_equal(st[i], mixed_want[i]);
        if (st[i] == ST_OK || st[i] == ST_MESSAGE_REPLAY || st[i] == ST_MESSAGE_EXPIRED)
            assert_memory_equal(ids[i], want_ids[i], LEDGER_HASH_SIZE);
    }
    /* the accepted ones, in batch order, and nothing else; durable across a reopen */
    ledger_close(n.lg);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_OK);
    uint8_t got[16][LEDGER_HASH_SIZE];
    assert_int_equal(mempool_ids(n.lg, got, 16), 3);
    assert_memory_equal(got[0], want_ids[0], LEDGER_HASH_SIZE);
    assert_memory_equal(got[1], want_ids[2], LEDGER_HASH_SIZE);
    assert_memory_equal(got[2], want_ids[7], LEDGER_HASH_SIZE);
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    assert_int_equal(ledger_mempool_find(rd, want_ids[4], NULL), ST_NOT_FOUND);
    assert_int_equal(ledger_mempool_find(rd, want_ids[1], NULL), ST_NOT_FOUND);
    ledger_read_end(rd);
    /* a second batch: the stored ones are replays now, a fresh one is appended after them */
    buf fresh = {0};
    uint8_t fresh_id[LEDGER_HASH_SIZE];
    sign_msg(9, span_of("f", 1), 10, &fresh, fresh_id);
    span again[3] = {spans[2], span_of(fresh.ptr, fresh.len), spans[0]};
    assert_int_equal(ledger_mempool_add_batch(n.lg, 3, again, ids, st), ST_OK);
    assert_int_equal(st[0], ST_MESSAGE_REPLAY);
    assert_int_equal(st[1], ST_OK);
    assert_int_equal(st[2], ST_MESSAGE_REPLAY);
    assert_int_equal(mempool_ids(n.lg, got, 16), 4);
    assert_memory_equal(got[3], fresh_id, LEDGER_HASH_SIZE);
    /* n == 0 writes nothing */
    assert_int_equal(ledger_mempool_add_batch(n.lg, 0, NULL, NULL, NULL), ST_OK);
    assert_int_equal(mempool_ids(n.lg, got, 16), 4);
    buf_fini(&fresh);
    for (int i = 0; i < MIXED; i++)
        buf_fini(&env[i]);
    fx_node_close(&n);
}

/* ledger_mempool_add_verified on what passed ledger_message_decode (as the node's handler
 * does): the same outcomes, ids and mempool as the checking batch; expiry and replay (also
 * inside the batch) are still refused. */
static void t_verified_equals_checked(void **state)
{
    (void)state;
    node a, b;
    assert_int_equal(fx_node_open(&a, 0, true), ST_OK);
    assert_int_equal(fx_node_open(&b, 0, true), ST_OK);
    buf env[MIXED] = {{0}};
    uint8_t want_ids[MIXED][LEDGER_HASH_SIZE], ids_a[MIXED][LEDGER_HASH_SIZE],
        ids_b[MIXED][LEDGER_HASH_SIZE];
    status st_a[MIXED], st_b[MIXED];
    span spans[MIXED];
    size_t k = 0;
    make_mixed(env, want_ids);
    for (int i = 0; i < MIXED; i++) {
        ledger_message m;
        uint8_t id[LEDGER_HASH_SIZE];
        span e = span_of(env[i].ptr, env[i].len);
        if (ledger_message_decode(e, fx_genesis().max_message_bytes, &m, id) == ST_OK)
            spans[k++] = e; /* 0, 2, 3 (duplicate of 0), 4 (expired), 7 */
    }
    assert_int_equal(k, 5);
    assert_int_equal(ledger_mempool_add_batch(a.lg, k, spans, ids_a, st_a), ST_OK);
    assert_int_equal(ledger_mempool_add_verified(b.lg, k, spans, ids_b, st_b), ST_OK);
    static const status want[5] = {ST_OK, ST_OK, ST_MESSAGE_REPLAY, ST_MESSAGE_EXPIRED, ST_OK};
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(st_a[i], want[i]);
        assert_int_equal(st_b[i], want[i]);
        assert_memory_equal(ids_a[i], ids_b[i], LEDGER_HASH_SIZE);
    }
    uint8_t got_a[16][LEDGER_HASH_SIZE], got_b[16][LEDGER_HASH_SIZE];
    assert_int_equal(mempool_ids(a.lg, got_a, 16), 3);
    assert_int_equal(mempool_ids(b.lg, got_b, 16), 3);
    assert_memory_equal(got_a, got_b, sizeof got_a[0] * 3);
    for (int i = 0; i < MIXED; i++)
        buf_fini(&env[i]);
    fx_node_close(&a);
    fx_node_close(&b);
}

/* Batched and one-by-one admission give the same outcomes and the same mempool. */
static void t_batch_equals_single(void **state)
{
    (void)state;
    node a, b;
    assert_int_equal(fx_node_open(&a, 0, true), ST_OK);
    assert_int_equal(fx_node_open(&b, 0, true), ST_OK);
    buf env[MIXED] = {{0}};
    uint8_t want_ids[MIXED][LEDGER_HASH_SIZE], ids[MIXED][LEDGER_HASH_SIZE];
    status st[MIXED];
    span spans[MIXED];
    make_mixed(env, want_ids);
    for (int i = 0; i < MIXED; i++)
        spans[i] = span_of(env[i].ptr, env[i].len);
    assert_int_equal(ledger_mempool_add_batch(a.lg, MIXED, spans, ids, st), ST_OK);
    for (int i = 0; i < MIXED; i++) {
        uint8_t id[LEDGER_HASH_SIZE];
        assert_int_equal(ledger_mempool_add(b.lg, spans[i], id), st[i]);
    }
    uint8_t ga[16][LEDGER_HASH_SIZE], gb[16][LEDGER_HASH_SIZE];
    size_t na = mempool_ids(a.lg, ga, 16);
    assert_int_equal(na, mempool_ids(b.lg, gb, 16));
    assert_memory_equal(ga, gb, na * LEDGER_HASH_SIZE);
    for (int i = 0; i < MIXED; i++)
        buf_fini(&env[i]);
    fx_node_close(&a);
    fx_node_close(&b);
}

/* A large batch in a tiny map: the transaction is redone after growth, every status fresh. */
static void t_batch_map_growth(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 1 << 20, true), ST_OK);
    enum { N = 400 };
    static uint8_t arg[3000];
    buf all = {0}, one = {0};
    size_t off[N + 1] = {0};
    span spans[N];
    static uint8_t ids[N][LEDGER_HASH_SIZE];
    status st[N];
    uint8_t id[LEDGER_HASH_SIZE];
    for (uint64_t i = 0; i < N; i++) {
        arg[0] = (uint8_t)i;
        sign_msg(100 + i, span_of(arg, sizeof arg), 10, &one, id);
        assert_int_equal(buf_put(&all, one.ptr, one.len), ST_OK);
        off[i + 1] = all.len;
    }
    for (size_t i = 0; i < N; i++)
        spans[i] = span_of(all.ptr + off[i], off[i + 1] - off[i]);
    uint64_t before = ledger_map_size(n.lg);
    assert_int_equal(ledger_mempool_add_batch(n.lg, N, spans, ids, st), ST_OK);
    assert_true(ledger_map_size(n.lg) > before);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(st[i], ST_OK);
    static uint8_t got[N + 1][LEDGER_HASH_SIZE];
    assert_int_equal(mempool_ids(n.lg, got, N + 1), N);
    assert_memory_equal(got, ids, sizeof ids);
    buf_fini(&all);
    buf_fini(&one);
    fx_node_close(&n);
}

/* Allocation failure: the batch reports OUT_OF_MEMORY for every envelope and writes nothing. */
static void t_batch_alloc_fail(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    buf env[MIXED] = {{0}};
    uint8_t want_ids[MIXED][LEDGER_HASH_SIZE], ids[MIXED][LEDGER_HASH_SIZE];
    status st[MIXED];
    span spans[MIXED];
    make_mixed(env, want_ids);
    for (int i = 0; i < MIXED; i++)
        spans[i] = span_of(env[i].ptr, env[i].len);
    base_alloc_fail_after(0, true);
    status got = ledger_mempool_add_batch(n.lg, MIXED, spans, ids, st);
    base_alloc_fail_after(-1, false);
    assert_int_equal(got, ST_OUT_OF_MEMORY);
    for (int i = 0; i < MIXED; i++)
        assert_int_equal(st[i], ST_OUT_OF_MEMORY);
    uint8_t g[16][LEDGER_HASH_SIZE];
    assert_int_equal(mempool_ids(n.lg, g, 16), 0);
    assert_int_equal(ledger_mempool_add_batch(n.lg, MIXED, spans, ids, st), ST_OK);
    for (int i = 0; i < MIXED; i++)
        assert_int_equal(st[i], mixed_want[i]);
    for (int i = 0; i < MIXED; i++)
        buf_fini(&env[i]);
    fx_node_close(&n);
}

/* Without a genesis every envelope gets NO_GENESIS. */
static void t_batch_no_genesis(void **state)
{
    (void)state;
    char dir[64];
    ledger *lg;
    assert_int_equal(fx_tmpdir(dir), 0);
    ledger_options opt = {0, 0, true};
    assert_int_equal(ledger_open(dir, &opt, &lg), ST_OK);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE], ids[1][LEDGER_HASH_SIZE];
    sign_msg(1, span_of("a", 1), 10, &env, id);
    span s = span_of(env.ptr, env.len);
    status st = ST_OK;
    assert_int_equal(ledger_mempool_add_batch(lg, 1, &s, ids, &st), ST_NO_GENESIS);
    assert_int_equal(st, ST_NO_GENESIS);
    assert_int_equal(ledger_mempool_add(lg, s, id), ST_NO_GENESIS);
    buf_fini(&env);
    ledger_close(lg);
    fx_rmdir(dir);
}

/* A message leaves the mempool when a block includes it: find says NOT_FOUND afterwards. */
static void t_find_after_include(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE], got[LEDGER_HASH_SIZE];
    sign_msg(1, span_of("a", 1), 10, &env, id);
    assert_int_equal(ledger_mempool_add(n.lg, span_of(env.ptr, env.len), got), ST_OK);
    ledger_reader *rd;
    uint64_t seq = 0;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    assert_int_equal(ledger_mempool_find(rd, id, &seq), ST_OK);
    assert_true(seq == 1);
    ledger_read_end(rd);
    ledger_round *r;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(env.ptr, env.len), NULL), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_OK);
    span e;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    assert_int_equal(ledger_mempool_find(rd, id, &seq), ST_NOT_FOUND);
    assert_int_equal(ledger_message_get(rd, id, &e), ST_OK);
    ledger_read_end(rd);
    buf_fini(&env);
    fx_node_close(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_batch_mixed),
        cmocka_unit_test(t_batch_equals_single),
        cmocka_unit_test(t_verified_equals_checked),
        cmocka_unit_test(t_batch_map_growth),
        cmocka_unit_test(t_batch_alloc_fail),
        cmocka_unit_test(t_batch_no_genesis),
        cmocka_unit_test(t_find_after_include),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
