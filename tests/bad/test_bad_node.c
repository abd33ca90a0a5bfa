/* test_bad_node.c - the bad-input catalogue, node part: signed messages that the
 * ledger must refuse (bad signature, malformed, too large, expired, replayed), a message that
 * never ends (instruction limit in a round), and fault injection: allocation failure at every
 * allocation site of scheduler_has_work, of a round that runs an update and of a round that
 * deploys a canister (the helpers: tests/common/node_fixture.h).
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

#include "node_fixture.h"

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

typedef node_fx fx;

static void fx_start(fx *f, uint64_t message_limit, uint64_t slice)
{
    node_fx_init(f, 11);
    if (message_limit) {
        f->g.message_instruction_limit = message_limit;
        f->g.slice_instructions = slice;
    }
    node_fx_start(f);
    node_wat_compile(node_wat, &f->wasm);
}

static status round_at(fx *f, uint64_t t)
{
    scheduler_round_info info;
    return scheduler_round(f->s, t, &info);
}

/* ---- messages -------------------------------------------------------------------------------- */

/* Submits env and expects `want`; the ledger (tip, mempool) must not change. */
static void expect_refused(fx *f, span env, status want)
{
    ledger_tip before = node_fx_tip(f);
    unsigned pool = node_fx_mempool_size(f);
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ledger_mempool_add(f->lg, env, id);
    if (st != want)
        fail_msg("expected %s, got %s", status_name(want), status_name(st));
    ledger_tip after = node_fx_tip(f);
    node_tip_assert_equal(&before, &after);
    assert_int_equal(node_fx_mempool_size(f), pool + (want == ST_OK));
}

static void test_bad_messages(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 0, 0);
    uint64_t cid = node_fx_deploy(&f);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE], env_id[LEDGER_HASH_SIZE];
    node_fx_sign(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), 1000, &env, env_id);
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
        assert_int_not_equal(ledger_message_decode(span_of(env.ptr, n), 1u << 20, &m, id), ST_OK);
    expect_refused(&f, span_of(env.ptr, env.len - 1), ST_MALFORMED_MESSAGE);
    expect_refused(&f, span_of(env.ptr, 10), ST_MALFORMED_MESSAGE);
    /* larger than the genesis limit */
    buf big = {0}, huge = {0};
    assert_int_equal(buf_reserve(&huge, 8u << 20), ST_OK);
    memset(huge.ptr, 'x', 8u << 20);
    node_fx_sign(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(huge.ptr, 8u << 20), 1000, &big, id);
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
    assert_true(node_fx_receipt(&f, env_id, &rc, &v));
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(v, 1);
    expect_refused(&f, span_of(env.ptr, env.len), ST_MESSAGE_REPLAY);
    assert_int_equal(node_fx_query_get(&f, cid), 1); /* ran exactly once */
    /* expired: valid up to height 1, the next block is 3 */
    buf old = {0};
    node_fx_sign(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), 1, &old, id);
    expect_refused(&f, span_of(old.ptr, old.len), ST_MESSAGE_EXPIRED);
    bool work = true;
    assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    assert_false(work);
    buf_fini(&old);
    buf_fini(&big);
    buf_fini(&huge);
    buf_fini(&env);
    node_fx_end(&f);
}

/* ---- the emptiness check ------------------------------------------------------------------------ */

/* scheduler_has_work with allocation n failing, for every n until it succeeds: a fault is
 * ST_OUT_OF_MEMORY with *out false, never "no work" (docs/reliability.md, finding 3); the
 * check that succeeds answers `want`. Returns the number of failures seen. */
static unsigned long has_work_under_failures(fx *f, bool want)
{
    for (unsigned long n = 0;; n++) {
        bool work = !want;
        base_alloc_fail_after((long)n, false);
        status st = scheduler_has_work(f->s, &work);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            assert_int_equal(work, want);
            return n;
        }
        if (st != ST_OUT_OF_MEMORY)
            fail_msg("allocation %lu failing: %s", n, status_name(st));
        assert_false(work);
        assert_true(n < 1000);
    }
}

static void test_has_work_reports_faults(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 0, 0);
    uint64_t cid = node_fx_deploy(&f);
    assert_true(has_work_under_failures(&f, false) > 0); /* empty mempool */
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), id);
    assert_true(has_work_under_failures(&f, true) > 0);
    /* the round itself: test_round_alloc_failures (no failure may give ST_OK and no block) */
    f.time += 1000000;
    assert_int_equal(round_at(&f, f.time), ST_OK);
    ledger_receipt rc;
    uint32_t v = 0;
    assert_true(node_fx_receipt(&f, id, &rc, &v));
    assert_int_equal(v, 1);
    node_fx_end(&f);
}

/* ---- a message that never ends ---------------------------------------------------------------- */

static void test_infinite_loop_in_round(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 11);
    f.g.message_instruction_limit = 5000000; /* slices of 1M */
    f.g.slice_instructions = 1000000;
    scheduler_fees_zero(&f.g); /* so that the trap leaves the state root as it was */
    node_fx_start(&f);
    node_wat_compile(node_wat, &f.wasm);
    uint64_t cid = node_fx_deploy(&f);
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "inc", span_of(NULL, 0), id);
    f.time += 1000000;
    assert_int_equal(round_at(&f, f.time), ST_OK);
    ledger_tip before = node_fx_tip(&f);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "spin", span_of(NULL, 0), id);
    ledger_receipt rc;
    int rounds = 0;
    do {
        f.time += 1000000;
        assert_int_equal(round_at(&f, f.time), ST_OK);
        rounds++;
        assert_true(rounds < 20);
    } while (!node_fx_receipt(&f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_true(rc.instructions >= 5000000 && rc.instructions < 5100000);
    assert_true(rounds >= 5); /* sliced: 1M per round */
    ledger_tip after = node_fx_tip(&f);
    assert_memory_equal(before.state_root, after.state_root, LEDGER_HASH_SIZE);
    assert_int_equal(node_fx_query_get(&f, cid), 1);
    node_fx_end(&f);
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
    node_fx_submit(f, kind, cid, kind == LEDGER_MSG_INSTALL ? "" : "inc", arg, id);
    unsigned long a = base_alloc_count();
    f->time += 1000000;
    assert_int_equal(round_at(f, f->time), ST_OK);
    return base_alloc_count() - a;
}

/* For every n up to the allocations of a clean round (and a few more): the round with the nth
 * allocation failing gives ST_OUT_OF_MEMORY with no block and the ledger untouched, or (if
 * that site has a fallback) succeeds; then the same round succeeds and applies the message
 * exactly once. No failure may pass for "nothing to do" (ST_OK without a block). */
static void fail_every_site(fx *f, uint8_t kind, uint64_t cid, span arg, unsigned long sites)
{
    uint32_t expect = kind == LEDGER_MSG_UPDATE ? node_fx_query_get(f, cid) : 0;
    unsigned long failed = 0;
    buf unique = {0};
    for (unsigned long n = 0; n < sites + 5; n++) {
        uint8_t id[LEDGER_HASH_SIZE];
        if (kind == LEDGER_MSG_INSTALL) {
            install_arg(f, (uint32_t)n, &unique);
            arg = span_of(unique.ptr, unique.len);
        }
        node_fx_submit(f, kind, cid, kind == LEDGER_MSG_INSTALL ? "" : "inc", arg, id);
        ledger_tip before = node_fx_tip(f);
        f->time += 1000000;
        scheduler_round_info info;
        base_alloc_fail_after((long)n, false);
        status st = scheduler_round(f->s, f->time, &info);
        base_alloc_fail_after(-1, false);
        ledger_receipt rc;
        if (st == ST_OK && !info.produced)
            fail_msg("allocation %lu failing: the round returned ST_OK without a block (a "
                     "fault taken for \"nothing to do\")",
                     n);
        if (st != ST_OK) {
            if (st != ST_OUT_OF_MEMORY)
                fail_msg("allocation %lu failing: %s", n, status_name(st));
            assert_false(info.produced);
            failed++;
            ledger_tip after = node_fx_tip(f);
            node_tip_assert_equal(&before, &after);
            assert_false(node_fx_receipt(f, id, &rc, NULL));
            if (kind == LEDGER_MSG_UPDATE && node_fx_query_get(f, cid) != expect)
                fail_msg("allocation %lu failing (%s): the canister's counter is %u after the "
                         "failed round, %u in the last block",
                         n, status_name(st), node_fx_query_get(f, cid), expect);
            bool work = false;
            assert_int_equal(scheduler_has_work(f->s, &work), ST_OK);
            assert_true(work);
            assert_int_equal(round_at(f, f->time), ST_OK); /* the node recovers */
        }
        uint32_t v = 0;
        if (!node_fx_receipt(f, id, &rc, &v))
            fail_msg("allocation %lu failing: the round returned OK without running the "
                     "message (the fault was swallowed)",
                     n);
        assert_int_equal(rc.status, ST_OK);
        if (kind == LEDGER_MSG_UPDATE) {
            assert_int_equal(v, ++expect);
            assert_int_equal(node_fx_query_get(f, cid), expect);
        } else {
            ledger_tip t = node_fx_tip(f);
            assert_int_equal(t.next_canister_id, before.next_canister_id + 1);
        }
    }
    buf_fini(&unique);
    assert_true(failed > 0);
    printf("round of kind %u: %lu allocations, %lu failures handled\n", kind, sites, failed);
}

static void test_round_alloc_failures(void **state)
{
    (void)state;
    fx f;
    fx_start(&f, 0, 0);
    uint64_t cid = node_fx_deploy(&f);
    unsigned long sites = count_round_allocs(&f, LEDGER_MSG_UPDATE, cid, span_of(NULL, 0));
    fail_every_site(&f, LEDGER_MSG_UPDATE, cid, span_of(NULL, 0), sites);
    node_fx_end(&f);
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
    node_fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_has_work_reports_faults),
        cmocka_unit_test(test_infinite_loop_in_round),
        cmocka_unit_test(test_round_alloc_failures),
        cmocka_unit_test(test_deploy_round_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
