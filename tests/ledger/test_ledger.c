/* test_ledger.c - cmocka tests of ledger/: genesis, round trip of every record kind,
 * state root properties (order independence, idempotence, zero pages), aborted and failed
 * rounds leave no trace, signatures and admission checks, the mempool, map growth, allocation
 * failure on the commit path, canister id text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------------------------- */

typedef fx_node node;

static ledger_tip tip_of(ledger *lg)
{
    ledger_reader *rd;
    ledger_tip t;
    assert_int_equal(ledger_read_begin(lg, &rd), ST_OK);
    assert_int_equal(ledger_tip_get(rd, &t), ST_OK);
    ledger_read_end(rd);
    return t;
}

/* Signs a message from key `k` with the given nonce, arg and expiry into *out. */
static void sign_msg(uint8_t k, uint64_t nonce, span arg, uint64_t expiry, buf *out,
                     uint8_t id[LEDGER_HASH_SIZE])
{
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    fx_keys(k, pk, sk);
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

static uint8_t page_a[LEDGER_PAGE_SIZE], page_b[LEDGER_PAGE_SIZE], page_r[LEDGER_PAGE_SIZE];
static const uint8_t zero_page[LEDGER_PAGE_SIZE];

/* Commits one round creating canister 1 (record fx_record(2, 1)) with two heap pages. */
static ledger_tip commit_base(ledger *lg)
{
    ledger_round *r;
    uint64_t id;
    assert_int_equal(ledger_round_begin(lg, &r), ST_OK);
    ledger_canister c = fx_record(2, 1);
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    assert_int_equal(id, 1);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 0, page_a), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 3, page_b), ST_OK);
    ledger_tip t;
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &t), ST_OK);
    return t;
}

static int setup_pages(void **state)
{
    (void)state;
    fx_page(page_a, 1);
    fx_page(page_b, 2);
    return 0;
}

/* ---- genesis ------------------------------------------------------------------------------- */

static void t_genesis(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    const ledger_genesis *g = ledger_genesis_of(n.lg);
    ledger_genesis want = fx_genesis();
    assert_non_null(g);
    assert_string_equal(g->chain_id, "tally-test");
    assert_int_equal(g->max_message_bytes, 4096);
    assert_memory_equal(g->admin_public_key, want.admin_public_key, LEDGER_PUBLIC_KEY_SIZE);
    size_t nf;
    const ledger_genesis_field *f = ledger_genesis_fields(&nf);
    for (size_t i = 0; i < nf; i++) /* every field of genesis.def comes back */
        assert_int_equal(ledger_genesis_get(g, &f[i]), ledger_genesis_get(&want, &f[i]));
    assert_int_equal(g->slice_instructions, 100000);
    assert_int_equal(g->install_instructions, 300000000000ull);
    /* the same genesis again is fine, a different one is not */
    assert_int_equal(ledger_genesis_init(n.lg, &want), ST_OK);
    want.schedule_version = 2;
    assert_int_equal(ledger_genesis_init(n.lg, &want), ST_GENESIS_MISMATCH);
    ledger_tip t = tip_of(n.lg);
    assert_int_equal(t.height, 0);
    assert_int_equal(t.next_canister_id, 1);
    assert_int_equal(t.timestamp_ns, want.genesis_time_ns);
    /* reopen: the genesis and block 0 are there */
    ledger_close(n.lg);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_OK);
    assert_non_null(ledger_genesis_of(n.lg));
    assert_int_equal(ledger_genesis_of(n.lg)->genesis_time_ns, want.genesis_time_ns);
    ledger_tip t2 = tip_of(n.lg);
    assert_memory_equal(t.hash, t2.hash, LEDGER_HASH_SIZE);
    fx_node_close(&n);

    /* a ledger without genesis refuses rounds; a bad genesis is refused */
    char dir[64];
    ledger *lg;
    assert_int_equal(fx_tmpdir(dir), 0);
    assert_int_equal(ledger_open(dir, NULL, &lg), ST_OK);
    assert_null(ledger_genesis_of(lg));
    ledger_round *r;
    assert_int_equal(ledger_round_begin(lg, &r), ST_NO_GENESIS);
    ledger_genesis bad = fx_genesis();
    bad.chain_id[0] = 0;
    assert_int_equal(ledger_genesis_init(lg, &bad), ST_BAD_GENESIS);
    bad = fx_genesis();
    bad.max_message_bytes = 64;
    assert_int_equal(ledger_genesis_init(lg, &bad), ST_BAD_GENESIS);
    ledger_close(lg);
    fx_rmdir(dir);
}

/* ---- round trip ---------------------------------------------------------------------------- */

static void t_round_trip(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_tip t0 = tip_of(n.lg);
    ledger_round *r;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_height(r), 1);
    static const uint8_t orig[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    static const uint8_t instr[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 9, 9};
    uint8_t code_hash[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_round_code_put(r, span_of(orig, sizeof orig),
                                           span_of(instr, sizeof instr), code_hash),
                     ST_OK);
    ledger_canister c = fx_record(2, 7);
    memcpy(c.code_hash, code_hash, LEDGER_HASH_SIZE);
    c.controller_count = 2;
    uint8_t sk[LEDGER_SECRET_KEY_SIZE];
    fx_keys(3, c.controllers[1], sk);
    c.aux = span_of("globals", 7);
    uint64_t id;
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    assert_int_equal(id, 1);
    assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_HEAP, 0, page_a), ST_OK);
    assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_STABLE, 3, page_b), ST_OK);
    buf env = {0};
    uint8_t mid[LEDGER_HASH_SIZE], mid2[LEDGER_HASH_SIZE];
    sign_msg(4, 1, span_of("arg", 3), 10, &env, mid);
    assert_int_equal(ledger_round_message_include(r, span_of(env.ptr, env.len), mid2), ST_OK);
    assert_memory_equal(mid, mid2, LEDGER_HASH_SIZE);
    ledger_receipt rc = {ST_OK, 999, 12345, span_of("reply!", 6)};
    assert_int_equal(ledger_round_receipt_put(r, mid, &rc), ST_OK);
    ledger_tip t1;
    assert_int_equal(ledger_round_commit(r, t0.timestamp_ns + 5, &t1), ST_OK);
    assert_int_equal(t1.height, 1);
    assert_int_equal(t1.next_canister_id, 2);
    assert_memory_not_equal(t1.state_root, t0.state_root, LEDGER_HASH_SIZE);

    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    ledger_canister got;
    assert_int_equal(ledger_canister_get(rd, 1, &got), ST_OK);
    assert_memory_equal(got.code_hash, code_hash, LEDGER_HASH_SIZE);
    assert_int_equal(got.controller_count, 2);
    assert_memory_equal(got.controllers, c.controllers, 2 * LEDGER_PUBLIC_KEY_SIZE);
    assert_int_equal(got.heap_pages, 16);
    assert_int_equal(got.stable_pages, 4);
    assert_int_equal(got.version, 7);
    assert_int_equal(got.certified_data_len, 3);
    assert_memory_equal(got.certified_data, c.certified_data, 3);
    assert_true(span_eq_str(got.aux, "globals"));
    uint8_t zero[LEDGER_HASH_SIZE] = {0};
    assert_memory_not_equal(got.heap_root, zero, LEDGER_HASH_SIZE);
    assert_memory_not_equal(got.stable_root, zero, LEDGER_HASH_SIZE);
    assert_int_equal(ledger_canister_get(rd, 2, &got), ST_UNKNOWN_CANISTER);

    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 0, page_r), ST_OK);
    assert_memory_equal(page_r, page_a, LEDGER_PAGE_SIZE);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_STABLE, 3, page_r), ST_OK);
    assert_memory_equal(page_r, page_b, LEDGER_PAGE_SIZE);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 1, page_r), ST_OK);
    assert_memory_equal(page_r, zero_page, LEDGER_PAGE_SIZE);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 65536, page_r), ST_PAGE_OUT_OF_RANGE);
    uint8_t ph[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_page_hash_get(rd, 1, LEDGER_MEM_HEAP, 0, ph), ST_OK);
    assert_memory_not_equal(ph, zero, LEDGER_HASH_SIZE);
    assert_int_equal(ledger_page_hash_get(rd, 1, LEDGER_MEM_HEAP, 1, ph), ST_OK);
    assert_memory_equal(ph, zero, LEDGER_HASH_SIZE);

    span o, i;
    assert_int_equal(ledger_code_get(rd, code_hash, &o, &i), ST_OK);
    assert_true(span_eq(o, span_of(orig, sizeof orig)));
    assert_true(span_eq(i, span_of(instr, sizeof instr)));
    assert_int_equal(ledger_code_get(rd, zero, &o, &i), ST_NOT_FOUND);

    ledger_receipt rg;
    assert_int_equal(ledger_receipt_get(rd, mid, &rg), ST_OK);
    assert_int_equal(rg.status, ST_OK);
    assert_int_equal(rg.height, 1); /* set by commit, not the staged 999 */
    assert_int_equal(rg.instructions, 12345);
    assert_true(span_eq_str(rg.reply, "reply!"));
    assert_int_equal(ledger_receipt_get(rd, zero, &rg), ST_NOT_FOUND);

    span e;
    assert_int_equal(ledger_message_get(rd, mid, &e), ST_OK);
    assert_true(span_eq(e, span_of(env.ptr, env.len)));

    ledger_block b;
    assert_int_equal(ledger_block_get(rd, 1, &b), ST_OK);
    assert_int_equal(b.height, 1);
    assert_int_equal(b.timestamp_ns, t0.timestamp_ns + 5);
    assert_memory_equal(b.parent_hash, t0.hash, LEDGER_HASH_SIZE);
    assert_int_equal(b.message_count, 1);
    assert_memory_equal(b.message_ids, mid, LEDGER_HASH_SIZE);
    assert_memory_equal(b.hash, t1.hash, LEDGER_HASH_SIZE);
    assert_memory_equal(b.state_root, t1.state_root, LEDGER_HASH_SIZE);
    uint8_t h[LEDGER_HASH_SIZE];
    ledger_block_hash(&b, h);
    assert_memory_equal(h, t1.hash, LEDGER_HASH_SIZE);
    assert_int_equal(ledger_block_get(rd, 2, &b), ST_NOT_FOUND);
    ledger_tip tr;
    assert_int_equal(ledger_tip_get(rd, &tr), ST_OK);
    assert_memory_equal(&tr, &t1, sizeof tr);
    ledger_read_end(rd);

    /* and everything survives a reopen */
    ledger_close(n.lg);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_OK);
    ledger_tip t2 = tip_of(n.lg);
    assert_memory_equal(&t2, &t1, sizeof t2);
    buf_fini(&env);
    fx_node_close(&n);
}

/* ---- state root ---------------------------------------------------------------------------- */

/* Stages the writes of the order test in one of two orders. */
static void stage_ordered(ledger_round *r, bool reverse)
{
    uint64_t id1, id2;
    ledger_canister c1 = fx_record(2, 1), c2 = fx_record(3, 1);
    /* ids are assigned in create order: keep that order, vary everything else */
    assert_int_equal(ledger_round_canister_create(r, &c1, &id1), ST_OK);
    assert_int_equal(ledger_round_canister_create(r, &c2, &id2), ST_OK);
    uint32_t pages[] = {0, 5, 2, 15};
    for (size_t k = 0; k < 4; k++) {
        size_t i = reverse ? 3 - k : k;
        uint64_t id = (i % 2) ? id2 : id1;
        fx_page(page_r, 100 + i);
        assert_int_equal(ledger_round_page_put(r, id, (ledger_mem)(i / 2), pages[i], page_r),
                         ST_OK);
    }
    uint8_t m1[LEDGER_HASH_SIZE], m2[LEDGER_HASH_SIZE];
    memset(m1, 1, sizeof m1);
    memset(m2, 2, sizeof m2);
    ledger_receipt rc1 = {ST_OK, 0, 10, span_of("a", 1)},
                   rc2 = {ST_TRAP_UNREACHABLE, 0, 20, span_of("b", 1)};
    assert_int_equal(ledger_round_receipt_put(r, reverse ? m2 : m1, reverse ? &rc2 : &rc1), ST_OK);
    assert_int_equal(ledger_round_receipt_put(r, reverse ? m1 : m2, reverse ? &rc1 : &rc2), ST_OK);
    if (reverse) { /* re-stating a record later must not matter either */
        ledger_canister again = fx_record(2, 1);
        assert_int_equal(ledger_round_canister_put(r, id1, &again), ST_OK);
    }
}

static void t_root_order(void **state)
{
    (void)state;
    node a, b;
    assert_int_equal(fx_node_open(&a, 0, true), ST_OK);
    assert_int_equal(fx_node_open(&b, 0, true), ST_OK);
    ledger_round *r;
    ledger_tip ta, tb;
    assert_int_equal(ledger_round_begin(a.lg, &r), ST_OK);
    stage_ordered(r, false);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &ta), ST_OK);
    assert_int_equal(ledger_round_begin(b.lg, &r), ST_OK);
    stage_ordered(r, true);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &tb), ST_OK);
    assert_memory_equal(ta.state_root, tb.state_root, LEDGER_HASH_SIZE);
    assert_memory_equal(ta.receipts_root, tb.receipts_root, LEDGER_HASH_SIZE);
    assert_memory_equal(ta.hash, tb.hash, LEDGER_HASH_SIZE);
    fx_node_close(&a);
    fx_node_close(&b);
}

static void t_root_idempotent(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_tip t1 = commit_base(n.lg);
    /* the same bytes again: same root */
    ledger_round *r;
    ledger_tip t2, t3;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    ledger_canister c = fx_record(2, 1);
    assert_int_equal(ledger_round_canister_put(r, 1, &c), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 3, page_b), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 7, zero_page), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000001ull, &t2), ST_OK);
    assert_memory_equal(t1.state_root, t2.state_root, LEDGER_HASH_SIZE);
    assert_memory_not_equal(t1.hash, t2.hash, LEDGER_HASH_SIZE); /* a new block all the same */
    /* an empty round: same root */
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000001ull, &t3), ST_OK);
    assert_memory_equal(t1.state_root, t3.state_root, LEDGER_HASH_SIZE);
    assert_int_equal(t3.height, 3);
    fx_node_close(&n);
}

static void t_root_changes(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_tip prev = commit_base(n.lg);
    for (int k = 0; k < 5; k++) {
        ledger_round *r;
        ledger_tip t;
        assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
        memcpy(page_r, page_a, LEDGER_PAGE_SIZE);
        ledger_canister c = fx_record(2, 1);
        switch (k) {
        case 0: /* one byte of a heap page */
            page_r[40000] ^= 1;
            assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 0, page_r), ST_OK);
            break;
        case 1: /* a new stable page */
            assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_STABLE, 1, page_r), ST_OK);
            break;
        case 2: /* a record field */
            c.version = 2;
            assert_int_equal(ledger_round_canister_put(r, 1, &c), ST_OK);
            break;
        case 3: /* a new canister with no pages */
            assert_int_equal(ledger_round_canister_create(r, &c, &(uint64_t){0}), ST_OK);
            break;
        case 4: /* moving a page to another number */
            assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 3, zero_page), ST_OK);
            assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 4, page_b), ST_OK);
            break;
        }
        assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &t), ST_OK);
        assert_memory_not_equal(t.state_root, prev.state_root, LEDGER_HASH_SIZE);
        prev = t;
    }
    fx_node_close(&n);
}

static void t_root_zero_page(void **state)
{
    (void)state;
    node a, b;
    assert_int_equal(fx_node_open(&a, 0, true), ST_OK);
    assert_int_equal(fx_node_open(&b, 0, true), ST_OK);
    ledger_tip ta = commit_base(a.lg);
    /* b: the same, plus explicit zero pages in both memories */
    ledger_round *r;
    uint64_t id;
    assert_int_equal(ledger_round_begin(b.lg, &r), ST_OK);
    ledger_canister c = fx_record(2, 1);
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 0, page_a), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 3, page_b), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 9, zero_page), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_STABLE, 2, zero_page), ST_OK);
    ledger_tip tb;
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &tb), ST_OK);
    assert_memory_equal(ta.state_root, tb.state_root, LEDGER_HASH_SIZE);
    /* a: write a page, then zero it again: back to the same root */
    ledger_tip t1, t2;
    assert_int_equal(ledger_round_begin(a.lg, &r), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 9, page_a), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &t1), ST_OK);
    assert_memory_not_equal(t1.state_root, ta.state_root, LEDGER_HASH_SIZE);
    assert_int_equal(ledger_round_begin(a.lg, &r), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 9, zero_page), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &t2), ST_OK);
    assert_memory_equal(t2.state_root, ta.state_root, LEDGER_HASH_SIZE);
    fx_node_close(&a);
    fx_node_close(&b);
}

static void t_memory_clear(void **state)
{
    (void)state;
    node a, b;
    assert_int_equal(fx_node_open(&a, 0, true), ST_OK);
    assert_int_equal(fx_node_open(&b, 0, true), ST_OK);
    commit_base(a.lg);
    /* a: clear the heap, then write page 5; pages staged before the clear are discarded */
    ledger_round *r;
    uint64_t id;
    ledger_tip ta, tb;
    assert_int_equal(ledger_round_begin(a.lg, &r), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 7, page_b), ST_OK);
    assert_int_equal(ledger_round_memory_clear(r, 1, LEDGER_MEM_HEAP), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 5, page_a), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &ta), ST_OK);
    /* b: only page 5 ever */
    assert_int_equal(ledger_round_begin(b.lg, &r), ST_OK);
    ledger_canister c = fx_record(2, 1);
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_OK);
    assert_int_equal(ledger_round_begin(b.lg, &r), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 5, page_a), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &tb), ST_OK);
    assert_memory_equal(ta.state_root, tb.state_root, LEDGER_HASH_SIZE);
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(a.lg, &rd), ST_OK);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 0, page_r), ST_OK);
    assert_memory_equal(page_r, zero_page, LEDGER_PAGE_SIZE);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 7, page_r), ST_OK);
    assert_memory_equal(page_r, zero_page, LEDGER_PAGE_SIZE);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 5, page_r), ST_OK);
    assert_memory_equal(page_r, page_a, LEDGER_PAGE_SIZE);
    ledger_read_end(rd);
    fx_node_close(&a);
    fx_node_close(&b);
}

/* ---- rounds that leave no trace ------------------------------------------------------------ */

/* Checks that the ledger still looks exactly as after commit_base. */
static void assert_base_only(ledger *lg, const ledger_tip *base)
{
    ledger_tip t = tip_of(lg);
    assert_memory_equal(&t, base, sizeof t);
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(lg, &rd), ST_OK);
    ledger_canister c;
    assert_int_equal(ledger_canister_get(rd, 2, &c), ST_UNKNOWN_CANISTER);
    assert_int_equal(ledger_canister_get(rd, 1, &c), ST_OK);
    assert_int_equal(c.version, 1);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 0, page_r), ST_OK);
    assert_memory_equal(page_r, page_a, LEDGER_PAGE_SIZE);
    assert_int_equal(ledger_page_get(rd, 1, LEDGER_MEM_HEAP, 5, page_r), ST_OK);
    assert_memory_equal(page_r, zero_page, LEDGER_PAGE_SIZE);
    uint8_t mid[LEDGER_HASH_SIZE];
    memset(mid, 7, sizeof mid);
    ledger_receipt rc;
    assert_int_equal(ledger_receipt_get(rd, mid, &rc), ST_NOT_FOUND);
    ledger_block b;
    assert_int_equal(ledger_block_get(rd, base->height + 1, &b), ST_NOT_FOUND);
    ledger_read_end(rd);
}

/* Stages a round that touches everything: pages, records, a new canister, code, a receipt. */
static void stage_everything(ledger_round *r)
{
    ledger_canister c = fx_record(2, 9);
    uint64_t id;
    assert_int_equal(ledger_round_canister_put(r, 1, &c), ST_OK);
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 0, page_b), ST_OK);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 5, page_b), ST_OK);
    assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_STABLE, 5, page_b), ST_OK);
    uint8_t h[LEDGER_HASH_SIZE], mid[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_round_code_put(r, span_of("x", 1), span_of("y", 1), h), ST_OK);
    memset(mid, 7, sizeof mid);
    ledger_receipt rc = {ST_OK, 0, 1, span_of("", 0)};
    assert_int_equal(ledger_round_receipt_put(r, mid, &rc), ST_OK);
}

static void t_abort(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_tip base = commit_base(n.lg);
    ledger_round *r, *r2;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_begin(n.lg, &r2), ST_ROUND_IN_PROGRESS);
    stage_everything(r);
    ledger_round_abort(r);
    assert_base_only(n.lg, &base);
    /* failing commits leave no trace either */
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    stage_everything(r);
    assert_int_equal(ledger_round_page_put(r, 77, LEDGER_MEM_HEAP, 0, page_a), ST_OK);
    assert_int_equal(ledger_round_commit(r, base.timestamp_ns, NULL), ST_UNKNOWN_CANISTER);
    assert_base_only(n.lg, &base);
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK); /* a record for an id never created */
    ledger_canister ghost = fx_record(2, 5);
    assert_int_equal(ledger_round_canister_put(r, 3, &ghost), ST_OK);
    assert_int_equal(ledger_round_commit(r, base.timestamp_ns, NULL), ST_UNKNOWN_CANISTER);
    assert_base_only(n.lg, &base);
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    stage_everything(r);
    assert_int_equal(ledger_round_commit(r, base.timestamp_ns - 1, NULL), ST_BAD_TIMESTAMP);
    assert_base_only(n.lg, &base);
    /* a trapped message: only its receipt is staged, so only its receipt lands */
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    uint8_t mid[LEDGER_HASH_SIZE];
    memset(mid, 9, sizeof mid);
    ledger_receipt rc = {ST_TRAP_UNREACHABLE, 0, 77, span_of("unreachable", 11)};
    assert_int_equal(ledger_round_receipt_put(r, mid, &rc), ST_OK);
    ledger_tip t;
    assert_int_equal(ledger_round_commit(r, base.timestamp_ns, &t), ST_OK);
    assert_memory_equal(t.state_root, base.state_root, LEDGER_HASH_SIZE);
    assert_memory_not_equal(t.receipts_root, base.receipts_root, LEDGER_HASH_SIZE);
    /* a second receipt for the same message is refused */
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_receipt_put(r, mid, &rc), ST_OK);
    assert_int_equal(ledger_round_commit(r, base.timestamp_ns, NULL), ST_MESSAGE_REPLAY);
    assert_memory_equal(tip_of(n.lg).hash, t.hash, LEDGER_HASH_SIZE);
    fx_node_close(&n);
}

static void t_alloc_fail_commit(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_tip base = commit_base(n.lg);
    int failures = 0;
    for (long k = 0;; k++) {
        ledger_round *r;
        assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
        stage_everything(r);
        base_alloc_fail_after(k, true);
        status st = ledger_round_commit(r, base.timestamp_ns, NULL);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK)
            break;
        failures++;
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_int_equal(status_class_of(st), SC_FAULT);
        assert_base_only(n.lg, &base);
        assert_true(k < 1000);
    }
    assert_true(failures > 3);
    assert_int_equal(tip_of(n.lg).height, base.height + 1);
    /* staging under allocation failure: the call fails and the round stays usable */
    ledger_round *r;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    base_alloc_fail_after(0, false);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 0, page_a), ST_OUT_OF_MEMORY);
    assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 0, page_a), ST_OK);
    ledger_round_abort(r);
    fx_node_close(&n);
}

/* ---- messages ------------------------------------------------------------------------------ */

static void t_signatures(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE], id2[LEDGER_HASH_SIZE];
    sign_msg(4, 1, span_of("hello", 5), 10, &env, id);
    ledger_message m;
    assert_int_equal(ledger_message_decode(span_of(env.ptr, env.len), 4096, &m, id2), ST_OK);
    assert_memory_equal(id, id2, LEDGER_HASH_SIZE);
    assert_int_equal(m.nonce, 1);
    assert_int_equal(m.canister_id, 1);
    assert_int_equal(m.kind, LEDGER_MSG_UPDATE);
    assert_int_equal(m.expiry_height, 10);
    assert_true(span_eq_str(m.method, "inc"));
    assert_true(span_eq_str(m.arg, "hello"));

    /* every single flipped bit is caught: as a bad signature or a malformed encoding */
    for (size_t bit = 0; bit < env.len * 8; bit += 7) {
        env.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        status st = ledger_message_decode(span_of(env.ptr, env.len), 4096, &m, id2);
        assert_true(st == ST_BAD_SIGNATURE || st == ST_MALFORMED_MESSAGE);
        if (bit / 8 >= env.len - LEDGER_SIGNATURE_SIZE || (bit / 8 >= 37 && bit / 8 < 45))
            assert_int_equal(st, ST_BAD_SIGNATURE); /* signature bytes, the nonce */
        env.ptr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* parse (no signature check): the same fields, the same id, or no id when not asked; the
     * forged copy below parses, since only decode checks signatures */
    ledger_message pm;
    memset(id2, 0, sizeof id2);
    assert_int_equal(ledger_message_parse(span_of(env.ptr, env.len), &pm, id2), ST_OK);
    assert_memory_equal(id, id2, LEDGER_HASH_SIZE);
    assert_int_equal(ledger_message_parse(span_of(env.ptr, env.len), &pm, NULL), ST_OK);
    assert_int_equal(pm.nonce, 1);
    assert_true(span_eq_str(pm.arg, "hello"));
    assert_int_equal(ledger_message_parse(span_of(env.ptr, 40), &pm, NULL), ST_MALFORMED_MESSAGE);
    /* wrong key: the content names key 5 but key 4 signed */
    uint8_t pk5[LEDGER_PUBLIC_KEY_SIZE], sk5[LEDGER_SECRET_KEY_SIZE];
    fx_keys(5, pk5, sk5);
    buf forged = {0};
    assert_int_equal(buf_put(&forged, env.ptr, env.len), ST_OK);
    memcpy(forged.ptr + 5, pk5, LEDGER_PUBLIC_KEY_SIZE); /* after magic and format */
    assert_int_equal(ledger_message_decode(span_of(forged.ptr, forged.len), 4096, &m, id2),
                     ST_BAD_SIGNATURE);
    assert_int_equal(ledger_message_parse(span_of(forged.ptr, forged.len), &pm, NULL), ST_OK);
    buf_fini(&forged);
    /* signing with a key that is not the sender's is refused */
    ledger_message mm;
    assert_int_equal(ledger_message_decode(span_of(env.ptr, env.len), 4096, &mm, id2), ST_OK);
    buf tmp = {0};
    assert_int_equal(ledger_message_sign(&mm, sk5, &tmp, id2), ST_BAD_SIGNATURE);
    assert_int_equal(tmp.len, 0);
    /* malformed: truncated, trailing garbage, too short for a signature */
    assert_int_equal(ledger_message_decode(span_of(env.ptr, 40), 4096, &m, id2),
                     ST_MALFORMED_MESSAGE);
    assert_int_equal(ledger_message_decode(span_of(env.ptr, env.len - 1), 4096, &m, id2),
                     ST_MALFORMED_MESSAGE);
    /* oversize: against the decode argument and the genesis limit (4096) */
    assert_int_equal(
        ledger_message_decode(span_of(env.ptr, env.len), (uint32_t)env.len - 1, &m, id2),
        ST_MESSAGE_TOO_LARGE);
    static uint8_t big[5000];
    buf benv = {0};
    sign_msg(4, 2, span_of(big, sizeof big), 10, &benv, id2);
    assert_int_equal(ledger_mempool_add(n.lg, span_of(benv.ptr, benv.len), id2),
                     ST_MESSAGE_TOO_LARGE);
    /* expired: valid up to height 0, the next block is 1 */
    sign_msg(4, 3, span_of("", 0), 0, &benv, id2);
    assert_int_equal(ledger_mempool_add(n.lg, span_of(benv.ptr, benv.len), id2),
                     ST_MESSAGE_EXPIRED);
    sign_msg(4, 3, span_of("", 0), 1, &benv, id2); /* expiry == next height: still valid */
    assert_int_equal(ledger_mempool_add(n.lg, span_of(benv.ptr, benv.len), id2), ST_OK);
    /* replay: in the mempool, then in a block with a receipt */
    assert_int_equal(ledger_mempool_add(n.lg, span_of(env.ptr, env.len), id2), ST_OK);
    assert_int_equal(ledger_mempool_add(n.lg, span_of(env.ptr, env.len), id2), ST_MESSAGE_REPLAY);
    ledger_round *r;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(env.ptr, env.len), NULL), ST_OK);
    ledger_receipt rc = {ST_OK, 0, 5, span_of("", 0)};
    assert_int_equal(ledger_round_receipt_put(r, id, &rc), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_OK);
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    assert_int_equal(ledger_message_check(rd, span_of(env.ptr, env.len), 2, &m, id2),
                     ST_MESSAGE_REPLAY);
    ledger_read_end(rd);
    assert_int_equal(ledger_mempool_add(n.lg, span_of(env.ptr, env.len), id2), ST_MESSAGE_REPLAY);
    /* including it in another block is refused at commit, and so is a duplicate in one block */
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(env.ptr, env.len), NULL), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_MESSAGE_REPLAY);
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(benv.ptr, benv.len), NULL), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(benv.ptr, benv.len), NULL), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_MESSAGE_REPLAY);
    assert_int_equal(tip_of(n.lg).height, 1);
    buf_fini(&env);
    buf_fini(&benv);
    buf_fini(&tmp);
    fx_node_close(&n);
}

static void t_mempool(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    buf env[3] = {{0}};
    uint8_t ids[3][LEDGER_HASH_SIZE], got[LEDGER_HASH_SIZE];
    for (int i = 0; i < 3; i++) {
        sign_msg(6, (uint64_t)(10 - i), span_of("m", 1), 5, &env[i], ids[i]);
        assert_int_equal(ledger_mempool_add(n.lg, span_of(env[i].ptr, env[i].len), got), ST_OK);
        assert_memory_equal(got, ids[i], LEDGER_HASH_SIZE);
    }
    ledger_reader *rd;
    uint64_t seq = 0;
    span e;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    for (int i = 0; i < 3; i++) { /* arrival order, not id order */
        assert_int_equal(ledger_mempool_next(rd, &seq, &e, got), ST_OK);
        assert_memory_equal(got, ids[i], LEDGER_HASH_SIZE);
        assert_true(span_eq(e, span_of(env[i].ptr, env[i].len)));
    }
    assert_int_equal(ledger_mempool_next(rd, &seq, &e, got), ST_NOT_FOUND);
    ledger_read_end(rd);
    /* include the second, drop the first: the third is left */
    ledger_round *r;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(env[1].ptr, env[1].len), NULL),
                     ST_OK);
    assert_int_equal(ledger_round_mempool_drop(r, ids[0]), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_OK);
    /* durable: reopen first */
    ledger_close(n.lg);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_OK);
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    seq = 0;
    assert_int_equal(ledger_mempool_next(rd, &seq, &e, got), ST_OK);
    assert_memory_equal(got, ids[2], LEDGER_HASH_SIZE);
    assert_int_equal(ledger_mempool_next(rd, &seq, &e, got), ST_NOT_FOUND);
    assert_int_equal(ledger_message_get(rd, ids[1], &e), ST_OK);
    assert_true(span_eq(e, span_of(env[1].ptr, env[1].len)));
    assert_int_equal(ledger_message_get(rd, ids[0], &e), ST_NOT_FOUND);
    /* arrival numbers (docs/formats.md "Databases"): the third still waits as number 3, the
     * included one is no longer in the mempool but still seen, the dropped one is forgotten */
    assert_int_equal(ledger_mempool_find(rd, ids[2], &seq), ST_OK);
    assert_int_equal(seq, 3);
    assert_int_equal(ledger_mempool_find(rd, ids[1], &seq), ST_NOT_FOUND);
    assert_int_equal(ledger_mempool_find(rd, ids[0], &seq), ST_NOT_FOUND);
    ledger_message m;
    assert_int_equal(ledger_message_check(rd, span_of(env[1].ptr, env[1].len), 1, &m, got),
                     ST_MESSAGE_REPLAY);
    assert_int_equal(ledger_message_check(rd, span_of(env[2].ptr, env[2].len), 1, &m, got),
                     ST_MESSAGE_REPLAY);
    assert_int_equal(ledger_message_check(rd, span_of(env[0].ptr, env[0].len), 1, &m, got), ST_OK);
    ledger_read_end(rd);
    /* a block that includes a message that never was in this mempool (as replay does) and
     * stores a receipt for it and one for the waiting message: both readable by id, and the
     * waiting one is taken out of the mempool only when included */
    buf fresh = {0};
    uint8_t fresh_id[LEDGER_HASH_SIZE];
    sign_msg(7, 1, span_of("f", 1), 5, &fresh, fresh_id);
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(fresh.ptr, fresh.len), NULL), ST_OK);
    ledger_receipt want = {ST_OK, 0, 77, span_of("ok", 2)}, rc;
    assert_int_equal(ledger_round_receipt_put(r, fresh_id, &want), ST_OK);
    want.instructions = 78;
    assert_int_equal(ledger_round_receipt_put(r, ids[2], &want), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000001ull, NULL), ST_OK);
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    assert_int_equal(ledger_message_get(rd, fresh_id, &e), ST_OK);
    assert_true(span_eq(e, span_of(fresh.ptr, fresh.len)));
    assert_int_equal(ledger_receipt_get(rd, fresh_id, &rc), ST_OK);
    assert_int_equal(rc.instructions, 77);
    assert_int_equal(rc.height, 2);
    assert_int_equal(ledger_receipt_get(rd, ids[2], &rc), ST_OK);
    assert_int_equal(rc.instructions, 78);
    assert_int_equal(ledger_receipt_get(rd, ids[1], &rc), ST_NOT_FOUND);
    assert_int_equal(ledger_mempool_find(rd, ids[2], &seq), ST_OK);
    assert_int_equal(ledger_mempool_find(rd, fresh_id, &seq), ST_NOT_FOUND);
    ledger_read_end(rd);
    /* a second receipt, or including the fresh message again, is a replay */
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_receipt_put(r, ids[2], &want), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000002ull, NULL), ST_MESSAGE_REPLAY);
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(fresh.ptr, fresh.len), NULL), ST_OK);
    assert_int_equal(ledger_round_commit(r, 2000000000000000002ull, NULL), ST_MESSAGE_REPLAY);
    assert_int_equal(tip_of(n.lg).height, 2);
    buf_fini(&fresh);
    for (int i = 0; i < 3; i++)
        buf_fini(&env[i]);
    fx_node_close(&n);
}

/* Sets meta "layout" of a closed node directory to a 4-byte value, or deletes it (NULL). */
static void set_layout(const char *dir, const uint8_t *value)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "layout"}, v = {4, (void *)value};
    assert_int_equal(value ? mdb_put(txn, dbi, &k, &v, 0) : mdb_del(txn, dbi, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A directory of another database layout (layout 1 had no "layout" key) is refused with
 * ST_LEDGER_LAYOUT, and is left as it was. */
static void t_layout(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_close(n.lg);
    static const uint8_t two[4] = {2, 0, 0, 0}, three[4] = {3, 0, 0, 0};
    set_layout(n.dir, NULL);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_LEDGER_LAYOUT);
    set_layout(n.dir, three);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_LEDGER_LAYOUT);
    set_layout(n.dir, two);
    assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_OK);
    assert_int_equal(tip_of(n.lg).height, 0);
    fx_node_close(&n);
}

/* ---- map growth and snapshots -------------------------------------------------------------- */

static void t_map_grows(void **state)
{
    (void)state;
    node n;
    /* 1 MiB: far less than the round below */
    assert_int_equal(fx_node_open(&n, 1 << 20, true), ST_OK);
    uint64_t before = ledger_map_size(n.lg);
    assert_true(before <= 1 << 20);
    ledger_round *r;
    uint64_t id;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    ledger_canister c = fx_record(2, 1);
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    for (uint32_t p = 0; p < 64; p++) { /* 4 MiB of pages */
        fx_page(page_r, 1000 + p);
        assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_STABLE, p, page_r), ST_OK);
    }
    ledger_tip t;
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, &t), ST_OK);
    assert_int_equal(t.height, 1);
    assert_true(ledger_map_size(n.lg) >= 4 * before);
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    for (uint32_t p = 0; p < 64; p += 9) {
        uint8_t want[LEDGER_PAGE_SIZE];
        fx_page(want, 1000 + p);
        assert_int_equal(ledger_page_get(rd, id, LEDGER_MEM_STABLE, p, page_r), ST_OK);
        assert_memory_equal(page_r, want, LEDGER_PAGE_SIZE);
    }
    ledger_read_end(rd);
    /* reopening with the small size keeps the data (LMDB adopts the larger size) */
    ledger_close(n.lg);
    ledger_options opt = {1 << 20, 0, true};
    assert_int_equal(ledger_open(n.dir, &opt, &n.lg), ST_OK);
    assert_int_equal(tip_of(n.lg).height, 1);
    fx_node_close(&n);
}

typedef struct reader_job {
    ledger *lg;
    atomic_int phase; /* 1: reader open, 2: done */
    uint64_t height_seen;
} reader_job;

/* Holds a snapshot for 300 ms, then checks it still reads height 0. */
static void *hold_reader(void *arg)
{
    reader_job *job = arg;
    ledger_reader *rd;
    if (ledger_read_begin(job->lg, &rd) != ST_OK)
        return NULL;
    atomic_store(&job->phase, 1);
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    ledger_tip t;
    if (ledger_tip_get(rd, &t) == ST_OK)
        job->height_seen = t.height;
    ledger_read_end(rd);
    atomic_store(&job->phase, 2);
    return NULL;
}

/* The map must grow while another thread holds a reader: the writer waits for it, then grows. */
static void t_map_grows_with_reader(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 1 << 20, true), ST_OK);
    uint64_t before = ledger_map_size(n.lg);
    reader_job job = {n.lg, 0, 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hold_reader, &job), 0);
    while (atomic_load(&job.phase) == 0)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    ledger_round *r;
    uint64_t id;
    assert_int_equal(ledger_round_begin(n.lg, &r), ST_OK);
    ledger_canister c = fx_record(2, 1);
    assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
    for (uint32_t p = 0; p < 40; p++) {
        fx_page(page_r, 5000 + p);
        assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_HEAP, p, page_r), ST_OK);
    }
    assert_int_equal(ledger_round_commit(r, 2000000000000000000ull, NULL), ST_OK);
    assert_int_equal(atomic_load(&job.phase), 2); /* growth waited for the reader */
    pthread_join(th, NULL);
    assert_int_equal(job.height_seen, 0);
    assert_true(ledger_map_size(n.lg) > before);
    assert_int_equal(tip_of(n.lg).height, 1);
    fx_node_close(&n);
}

static void t_snapshot(void **state)
{
    (void)state;
    node n;
    assert_int_equal(fx_node_open(&n, 0, true), ST_OK);
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(n.lg, &rd), ST_OK);
    commit_base(n.lg); /* the writer is not blocked by the open reader */
    ledger_tip t;
    assert_int_equal(ledger_tip_get(rd, &t), ST_OK);
    assert_int_equal(t.height, 0); /* the reader keeps its snapshot */
    ledger_canister c;
    assert_int_equal(ledger_canister_get(rd, 1, &c), ST_UNKNOWN_CANISTER);
    ledger_read_end(rd);
    assert_int_equal(tip_of(n.lg).height, 1);
    fx_node_close(&n);
}

/* ---- canister ids as text ------------------------------------------------------------------ */

static void t_canister_id_text(void **state)
{
    (void)state;
    const uint64_t ids[] = {0, 1, 2, 255, 1ull << 40, UINT64_MAX};
    char text[LEDGER_CANISTER_TEXT_SIZE];
    for (size_t i = 0; i < BASE_ARRAY_LEN(ids); i++) {
        ledger_canister_id_text(ids[i], text);
        assert_int_equal(strlen(text), 19);
        assert_true(text[5] == '-' && text[11] == '-' && text[17] == '-');
        uint64_t back = 42;
        assert_int_equal(ledger_canister_id_parse(text, &back), ST_OK);
        assert_true(back == ids[i]);
        for (char *p = text; *p; p++) /* upper case is accepted */
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        assert_int_equal(ledger_canister_id_parse(text, &back), ST_OK);
        assert_true(back == ids[i]);
    }
    ledger_canister_id_text(1, text);
    uint64_t v;
    for (size_t i = 0; i < 19; i++) { /* any changed character is caught */
        if (i % 6 == 5)
            continue;
        char saved = text[i];
        text[i] = saved == 'a' ? 'b' : 'a';
        assert_int_equal(ledger_canister_id_parse(text, &v), ST_BAD_CANISTER_ID);
        text[i] = saved;
    }
    assert_int_equal(ledger_canister_id_parse("aaaaa-aaaaa", &v), ST_BAD_CANISTER_ID);
    assert_int_equal(ledger_canister_id_parse("aaaaa_aaaab-aeaqa-q", &v), ST_BAD_CANISTER_ID);
    assert_int_equal(ledger_canister_id_parse("aaaaa-aaaa1-aeaqa-q", &v), ST_BAD_CANISTER_ID);
    char hex[65];
    uint8_t h[LEDGER_HASH_SIZE];
    for (int i = 0; i < LEDGER_HASH_SIZE; i++)
        h[i] = (uint8_t)((i % 16) * 17);
    ledger_hash_hex(h, hex);
    assert_string_equal(hex, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_genesis),           cmocka_unit_test(t_round_trip),
        cmocka_unit_test(t_root_order),        cmocka_unit_test(t_root_idempotent),
        cmocka_unit_test(t_root_changes),      cmocka_unit_test(t_root_zero_page),
        cmocka_unit_test(t_memory_clear),      cmocka_unit_test(t_abort),
        cmocka_unit_test(t_alloc_fail_commit), cmocka_unit_test(t_signatures),
        cmocka_unit_test(t_mempool),           cmocka_unit_test(t_layout),
        cmocka_unit_test(t_map_grows),         cmocka_unit_test(t_map_grows_with_reader),
        cmocka_unit_test(t_snapshot),          cmocka_unit_test(t_canister_id_text),
    };
    return cmocka_run_group_tests(tests, setup_pages, NULL);
}
