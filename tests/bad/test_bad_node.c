/* test_bad_node.c - the bad-input catalogue, node part (issue 11): signed messages that the
 * ledger must refuse (bad signature, malformed, too large, expired, replayed), a message that
 * never ends (instruction limit in a round), and fault injection: allocation failure at every
 * allocation site of a round that runs an update and of a round that deploys a canister.
 * Every case checks that the ledger is exactly as before: same tip (height, block hash, state
 * root), no receipt, the mempool as it was; after a failed round the node still runs the same
 * round successfully, with the message applied exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler.h"

/* inc: counter += 1 in memory and a global, replies the new value (4 bytes LE);
 * spin: writes memory, then loops forever; get (query): the counter. */
static const char *const node_wat =
    "(module\n"
    "  (import \"ic0\" \"msg_reply_data_append\" (func $append (param i32 i32)))\n"
    "  (import \"ic0\" \"msg_reply\" (func $reply))\n"
    "  (memory 1)\n"
    "  (global $n (mut i32) (i32.const 0))\n"
    "  (func $reply_n (i32.store (i32.const 0) (global.get $n))\n"
    "    (call $append (i32.const 0) (i32.const 4)) (call $reply))\n"
    "  (func (export \"canister_update inc\")\n"
    "    (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
    "    (i32.store (i32.const 64) (global.get $n)) (call $reply_n))\n"
    "  (func (export \"canister_update spin\")\n"
    "    (i32.store (i32.const 64) (i32.const 0xdead)) (global.set $n (i32.const 99))\n"
    "    (loop $l (br $l)))\n"
    "  (func (export \"canister_query get\") (call $reply_n)))\n";

typedef struct fx {
    char dir[64];
    ledger *lg;
    scheduler *s;
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    uint64_t nonce, time;
    buf wasm;
} fx;

static void wat_to_wasm(const char *text, buf *out)
{
    char dir[] = "/tmp/tally-bad-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[96], outp[96], cmd[512];
    snprintf(in, sizeof in, "%s/m.wat", dir);
    snprintf(outp, sizeof outp, "%s/m.wasm", dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s -o %s", WAT2WASM, in, outp);
    assert_int_equal(system(cmd), 0);
    f = fopen(outp, "rb");
    assert_non_null(f);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_put(out, chunk, n), ST_OK);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void fx_start(fx *f, uint64_t message_limit, uint64_t slice)
{
    memset(f, 0, sizeof *f);
    static const uint8_t seed[LEDGER_SEED_SIZE] = {11};
    assert_int_equal(ledger_keypair(seed, f->pk, f->sk), ST_OK);
    ledger_genesis g;
    scheduler_limits lim;
    scheduler_genesis_default(&g, &lim);
    memcpy(g.admin_public_key, f->pk, sizeof f->pk);
    if (message_limit) {
        g.message_instruction_limit = message_limit;
        lim.slice_instructions = slice;
    }
    f->time = 1700000000000000000ull;
    snprintf(f->dir, sizeof f->dir, "/tmp/tally-bad-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    ledger_options opt = {.no_sync = true};
    assert_int_equal(ledger_open(f->dir, &opt, &f->lg), ST_OK);
    assert_int_equal(scheduler_genesis_new(f->lg, &g, &lim), ST_OK);
    assert_int_equal(scheduler_open(f->lg, NULL, &f->s), ST_OK);
    wat_to_wasm(node_wat, &f->wasm);
}

static void fx_end(fx *f)
{
    scheduler_close(f->s);
    ledger_close(f->lg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    buf_fini(&f->wasm);
}

/* A signed envelope (appended to *env). */
static void sign(fx *f, uint8_t kind, uint64_t cid, const char *method, span arg,
                 uint64_t expiry, buf *env, uint8_t id[LEDGER_HASH_SIZE])
{
    ledger_message m = {.nonce = ++f->nonce, .canister_id = cid, .kind = kind,
                        .method = span_of(method, strlen(method)), .arg = arg,
                        .expiry_height = expiry};
    memcpy(m.sender, f->pk, sizeof f->pk);
    assert_int_equal(ledger_message_sign(&m, f->sk, env, id), ST_OK);
}

static void submit(fx *f, uint8_t kind, uint64_t cid, const char *method, span arg,
                   uint8_t id[LEDGER_HASH_SIZE])
{
    buf env = {0};
    sign(f, kind, cid, method, arg, 1000000, &env, id);
    uint8_t id2[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_mempool_add(f->lg, span_of(env.ptr, env.len), id2), ST_OK);
    buf_fini(&env);
}

static ledger_tip tip_of(fx *f)
{
    ledger_reader *rd;
    ledger_tip t;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    assert_int_equal(ledger_tip_get(rd, &t), ST_OK);
    ledger_read_end(rd);
    return t;
}

static void assert_tip_equal(const ledger_tip *a, const ledger_tip *b)
{
    assert_int_equal(a->height, b->height);
    assert_memory_equal(a->hash, b->hash, LEDGER_HASH_SIZE);
    assert_memory_equal(a->state_root, b->state_root, LEDGER_HASH_SIZE);
    assert_memory_equal(a->receipts_root, b->receipts_root, LEDGER_HASH_SIZE);
    assert_int_equal(a->next_canister_id, b->next_canister_id);
}

/* Number of mempool entries. */
static unsigned mempool_size(fx *f)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    uint64_t seq = 0;
    span env;
    uint8_t id[LEDGER_HASH_SIZE];
    unsigned n = 0;
    while (ledger_mempool_next(rd, &seq, &env, id) == ST_OK)
        n++;
    ledger_read_end(rd);
    return n;
}

static bool receipt(fx *f, const uint8_t id[LEDGER_HASH_SIZE], ledger_receipt *out, uint32_t *v)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    status st = ledger_receipt_get(rd, id, out);
    if (st == ST_OK && v)
        *v = out->reply.len == 4 ? le32_load(out->reply.ptr) : UINT32_MAX;
    ledger_read_end(rd);
    assert_true(st == ST_OK || st == ST_NOT_FOUND);
    return st == ST_OK;
}

static uint32_t query_get(fx *f, uint64_t cid)
{
    host_result res;
    assert_int_equal(scheduler_query(f->s, cid, span_of("get", 3), span_of(NULL, 0),
                                     span_of(f->pk, sizeof f->pk), &res),
                     ST_OK);
    assert_int_equal(res.st, ST_OK);
    uint32_t v = le32_load(res.bytes.ptr);
    host_result_fini(&res);
    return v;
}

static status round_at(fx *f, uint64_t t)
{
    scheduler_round_info info;
    return scheduler_round(f->s, t, &info);
}

static uint64_t deploy(fx *f)
{
    buf arg = {0};
    assert_int_equal(scheduler_install_arg(span_of(f->wasm.ptr, f->wasm.len), span_of(NULL, 0),
                                           &arg),
                     ST_OK);
    uint8_t id[LEDGER_HASH_SIZE];
    submit(f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "", span_of(arg.ptr, arg.len), id);
    f->time += 1000000;
    assert_int_equal(round_at(f, f->time), ST_OK);
    ledger_receipt rc;
    assert_true(receipt(f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    buf_fini(&arg);
    return tip_of(f).next_canister_id - 1;
}

/* ---- messages -------------------------------------------------------------------------------- */

/* Submits env and expects `want`; the ledger (tip, mempool) must not change. */
static void expect_refused(fx *f, span env, status want)
{
    ledger_tip before = tip_of(f);
    unsigned pool = mempool_size(f);
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ledger_mempool_add(f->lg, env, id);
    if (st != want)
        fail_msg("expected %s, got %s", status_name(want), status_name(st));
    ledger_tip after = tip_of(f);
    assert_tip_equal(&before, &after);
    assert_int_equal(mempool_size(f), pool + (want == ST_OK));
}

static void test_bad_messages(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 0, 0);
    uint64_t cid = deploy(&f);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE], env_id[LEDGER_HASH_SIZE];
    sign(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), 1000, &env, env_id);
    /* a flipped bit in the signature, then in the content */
    env.ptr[env.len - 1] ^= 1;
    expect_refused(&f, span_of(env.ptr, env.len), ST_BAD_SIGNATURE);
    env.ptr[env.len - 1] ^= 1;
    env.ptr[env.len - LEDGER_SIGNATURE_SIZE - 1] ^= 0x10;
    ledger_message m;
    status st = ledger_message_decode(span_of(env.ptr, env.len), 1u << 20, &m, id);
    assert_true(st == ST_BAD_SIGNATURE || st == ST_MALFORMED_MESSAGE);
    expect_refused(&f, span_of(env.ptr, env.len), st);
    env.ptr[env.len - LEDGER_SIGNATURE_SIZE - 1] ^= 0x10;
    /* truncated: every prefix is refused */
    for (size_t n = 0; n < env.len; n += 7)
        assert_int_not_equal(ledger_message_decode(span_of(env.ptr, n), 1u << 20, &m, id),
                             ST_OK);
    expect_refused(&f, span_of(env.ptr, env.len - 1), ST_MALFORMED_MESSAGE);
    expect_refused(&f, span_of(env.ptr, 10), ST_MALFORMED_MESSAGE);
    /* larger than the genesis limit */
    buf big = {0}, huge = {0};
    assert_int_equal(buf_reserve(&huge, 8u << 20), ST_OK);
    memset(huge.ptr, 'x', 8u << 20);
    sign(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(huge.ptr, 8u << 20), 1000, &big, id);
    expect_refused(&f, span_of(big.ptr, big.len), ST_MESSAGE_TOO_LARGE);
    /* the intact envelope is fine, once */
    expect_refused(&f, span_of(env.ptr, env.len), ST_OK);
    /* replayed while in the mempool */
    expect_refused(&f, span_of(env.ptr, env.len), ST_MESSAGE_REPLAY);
    /* replayed after it ran */
    f.time += 1000000;
    assert_int_equal(round_at(&f, f.time), ST_OK);
    ledger_receipt rc;
    uint32_t v;
    assert_true(receipt(&f, env_id, &rc, &v));
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(v, 1);
    expect_refused(&f, span_of(env.ptr, env.len), ST_MESSAGE_REPLAY);
    assert_int_equal(query_get(&f, cid), 1); /* ran exactly once */
    /* expired: valid up to height 1, the next block is 3 */
    buf old = {0};
    sign(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), 1, &old, id);
    expect_refused(&f, span_of(old.ptr, old.len), ST_MESSAGE_EXPIRED);
    assert_false(scheduler_has_work(f.s));
    buf_fini(&old);
    buf_fini(&big);
    buf_fini(&huge);
    buf_fini(&env);
    fx_end(&f);
}

/* ---- a message that never ends ---------------------------------------------------------------- */

static void test_infinite_loop_in_round(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 5000000, 1000000); /* message limit 5M, slices of 1M */
    uint64_t cid = deploy(&f);
    uint8_t id[LEDGER_HASH_SIZE];
    submit(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), id);
    f.time += 1000000;
    assert_int_equal(round_at(&f, f.time), ST_OK);
    ledger_tip before = tip_of(&f);
    submit(&f, LEDGER_MSG_UPDATE, cid, "spin", span_of(NULL, 0), id);
    ledger_receipt rc;
    int rounds = 0;
    do {
        f.time += 1000000;
        assert_int_equal(round_at(&f, f.time), ST_OK);
        rounds++;
        assert_true(rounds < 20);
    } while (!receipt(&f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_true(rc.instructions >= 5000000 && rc.instructions < 5100000);
    assert_true(rounds >= 5); /* sliced: 1M per round */
    ledger_tip after = tip_of(&f);
    assert_memory_equal(before.state_root, after.state_root, LEDGER_HASH_SIZE);
    assert_int_equal(query_get(&f, cid), 1);
    fx_end(&f);
}

/* ---- fault injection --------------------------------------------------------------------------- */

/* The install argument of the test module made unique by a custom section holding `tag`, so
 * that every deploy compiles afresh (code is cached by hash). */
static void install_arg(fx *f, uint32_t tag, buf *arg)
{
    buf w = {0};
    assert_int_equal(buf_put(&w, f->wasm.ptr, f->wasm.len), ST_OK);
    const uint8_t sec[4] = {0x00, 0x06, 0x01, 't'};
    assert_int_equal(buf_put(&w, sec, sizeof sec), ST_OK);
    uint8_t le[4];
    le32_store(le, tag);
    assert_int_equal(buf_put(&w, le, 4), ST_OK);
    arg->len = 0;
    assert_int_equal(scheduler_install_arg(span_of(w.ptr, w.len), span_of(NULL, 0), arg), ST_OK);
    buf_fini(&w);
}

/* Allocations a round makes when it runs `kind` (counted on a clean round of a fresh node). */
static unsigned long count_round_allocs(fx *f, uint8_t kind, uint64_t cid, span arg)
{
    uint8_t id[LEDGER_HASH_SIZE];
    submit(f, kind, cid, kind == LEDGER_MSG_INSTALL ? "" : "inc", arg, id);
    unsigned long a = base_alloc_count();
    f->time += 1000000;
    assert_int_equal(round_at(f, f->time), ST_OK);
    return base_alloc_count() - a;
}

/* For every n up to the allocations of a clean round (and a few more): the round with the nth
 * allocation failing gives ST_OUT_OF_MEMORY with the ledger untouched, or (if that site has a
 * fallback) succeeds; then the same round succeeds and applies the message exactly once. */
static void fail_every_site(fx *f, uint8_t kind, uint64_t cid, span arg, unsigned long sites)
{
    uint32_t expect = kind == LEDGER_MSG_UPDATE ? query_get(f, cid) : 0;
    unsigned long failed = 0, swallowed_total = 0;
    buf unique = {0};
    for (unsigned long n = 0; n < sites + 5; n++) {
        uint8_t id[LEDGER_HASH_SIZE];
        if (kind == LEDGER_MSG_INSTALL) {
            install_arg(f, (uint32_t)n, &unique);
            arg = span_of(unique.ptr, unique.len);
        }
        submit(f, kind, cid, kind == LEDGER_MSG_INSTALL ? "" : "inc", arg, id);
        ledger_tip before = tip_of(f);
        f->time += 1000000;
        scheduler_round_info info;
        base_alloc_fail_after((long)n, false);
        status st = scheduler_round(f->s, f->time, &info);
        base_alloc_fail_after(-1, false);
        ledger_receipt rc;
        /* scheduler_has_work() cannot report a fault: when its read fails the round returns
         * ST_OK without a block (reported in docs/reliability.md); the ledger must still be
         * untouched and the next round must run the message. */
        bool swallowed = st == ST_OK && !info.produced;
        if (st != ST_OK || swallowed) {
            if (st != ST_OUT_OF_MEMORY && !swallowed)
                fail_msg("allocation %lu failing: %s", n, status_name(st));
            failed++;
            swallowed_total += swallowed;
            ledger_tip after = tip_of(f);
            assert_tip_equal(&before, &after);
            assert_false(receipt(f, id, &rc, NULL));
            if (kind == LEDGER_MSG_UPDATE && query_get(f, cid) != expect)
                fail_msg("allocation %lu failing (%s): the canister's counter is %u after the "
                         "failed round, %u in the last block", n, status_name(st),
                         query_get(f, cid), expect);
            assert_true(scheduler_has_work(f->s));
            assert_int_equal(round_at(f, f->time), ST_OK); /* the node recovers */
        }
        uint32_t v = 0;
        if (!receipt(f, id, &rc, &v))
            fail_msg("allocation %lu failing: the round returned OK without running the "
                     "message (the fault was swallowed)", n);
        assert_int_equal(rc.status, ST_OK);
        if (kind == LEDGER_MSG_UPDATE) {
            assert_int_equal(v, ++expect);
            assert_int_equal(query_get(f, cid), expect);
        } else {
            ledger_tip t = tip_of(f);
            assert_int_equal(t.next_canister_id, before.next_canister_id + 1);
        }
    }
    buf_fini(&unique);
    assert_true(failed > 0);
    printf("round of kind %u: %lu allocations, %lu failures handled (%lu as ST_OK without a "
           "block)\n", kind, sites, failed, swallowed_total);
}

static void test_round_alloc_failures(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 0, 0);
    uint64_t cid = deploy(&f);
    unsigned long sites = count_round_allocs(&f, LEDGER_MSG_UPDATE, cid, span_of(NULL, 0));
    fail_every_site(&f, LEDGER_MSG_UPDATE, cid, span_of(NULL, 0), sites);
    fx_end(&f);
}

static void test_deploy_round_alloc_failures(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 0, 0);
    buf arg = {0};
    install_arg(&f, UINT32_MAX, &arg);
    span a = span_of(arg.ptr, arg.len);
    unsigned long sites = count_round_allocs(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, a);
    fail_every_site(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, a, sites);
    buf_fini(&arg);
    fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_infinite_loop_in_round),
        cmocka_unit_test(test_round_alloc_failures),
        cmocka_unit_test(test_deploy_round_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
