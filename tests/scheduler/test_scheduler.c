/* test_scheduler.c - rounds, budgets, time slicing, fairness, restart and replay.
 *
 * Canisters: slow.wat (this folder: `slow` ~700k instructions, `quick`, query `get`) and the
 * example counter (tests/canisters). Ledgers live in fresh temporary directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler.h"
#include "test_util.h"
#include "node_fixture.h"

/* The node fixture (tests/common/node_fixture.h) under this file's short names. */
typedef node_fx fx;

static void fx_defaults(fx *f)
{
    node_fx_init(f, 7);
}

static void submit(fx *f, uint8_t kind, uint64_t canister, const char *method, span arg,
                   uint8_t id[LEDGER_HASH_SIZE])
{
    node_fx_submit(f, kind, canister, method, arg, id);
}

static scheduler_round_info round1(fx *f)
{
    scheduler_round_info info;
    f->time += 1000000;
    assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
    return info;
}

/* The receipt of id: false if there is none yet. reply (may be NULL) gets a copy. */
static bool receipt(fx *f, const uint8_t id[LEDGER_HASH_SIZE], ledger_receipt *out, buf *reply)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    status st = ledger_receipt_get(rd, id, out);
    if (st == ST_OK && reply) {
        reply->len = 0;
        assert_int_equal(buf_put(reply, out->reply.ptr, out->reply.len), ST_OK);
    }
    ledger_read_end(rd);
    assert_true(st == ST_OK || st == ST_NOT_FOUND);
    return st == ST_OK;
}

/* Installs the module at path in one round; returns the canister id. */
static uint64_t deploy(fx *f, const char *path)
{
    f->wasm.len = 0;
    test_read_file(path, &f->wasm);
    return node_fx_deploy(f);
}

static uint32_t query_u32(fx *f, uint64_t cid, const char *method)
{
    host_result res;
    host_result_init(&res);
    assert_int_equal(scheduler_query(f->s, cid, span_of(method, strlen(method)), span_of(NULL, 0),
                                     span_of(NULL, 0), &res),
                     ST_OK);
    assert_int_equal(res.st, ST_OK);
    assert_int_equal(res.bytes.len, 4);
    uint32_t v = le32_load(res.bytes.ptr);
    host_result_fini(&res);
    return v;
}

/* Runs rounds until id has a receipt (at most `max` rounds); returns the rounds it took. */
static int run_until(fx *f, const uint8_t id[LEDGER_HASH_SIZE], int max, ledger_receipt *rc)
{
    for (int i = 1; i <= max; i++) {
        round1(f);
        if (receipt(f, id, rc, NULL))
            return i;
    }
    fail_msg("no receipt after %d rounds", max);
    return -1;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_deploy_call_query(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    node_fx_start(&f);
    uint64_t cid = deploy(&f, SLOW_WASM);
    assert_int_equal(cid, 1);
    uint8_t a[32], b[32];
    submit(&f, LEDGER_MSG_UPDATE, cid, "quick", span_of(NULL, 0), a);
    submit(&f, LEDGER_MSG_UPDATE, cid, "quick", span_of(NULL, 0), b);
    scheduler_round_info info = round1(&f);
    assert_true(info.produced);
    assert_int_equal(info.messages, 2);
    ledger_receipt rc;
    buf reply = {0};
    assert_true(receipt(&f, b, &rc, &reply));
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(le32_load(reply.ptr), 2);
    assert_true(rc.instructions > 0);
    assert_int_equal(query_u32(&f, cid, "get"), 2);
    /* nothing to do: no block */
    info = round1(&f);
    assert_false(info.produced);
    /* a message for an unknown canister gets a receipt that says so */
    submit(&f, LEDGER_MSG_UPDATE, 99, "quick", span_of(NULL, 0), a);
    round1(&f);
    assert_true(receipt(&f, a, &rc, NULL));
    assert_int_equal(rc.status, ST_UNKNOWN_CANISTER);
    buf_fini(&reply);
    node_fx_end(&f);
}

/* A message run in many small slices ends with the same reply, instruction count and state
 * root as the same message run in one slice. */
static void test_slices_equal_unsliced(void **state)
{
    (void)state;
    ledger_receipt r1, r2;
    ledger_tip t1, t2;
    buf rep1 = {0}, rep2 = {0};
    for (int sliced = 0; sliced < 2; sliced++) {
        fx f;
        fx_defaults(&f);
        if (sliced)
            f.g.slice_instructions = 50000;
        node_fx_start(&f);
        uint64_t cid = deploy(&f, SLOW_WASM);
        uint8_t id[32];
        submit(&f, LEDGER_MSG_UPDATE, cid, "slow", span_of(NULL, 0), id);
        int rounds = run_until(&f, id, 100, sliced ? &r2 : &r1);
        if (sliced)
            assert_true(rounds > 5); /* ~700k instructions in 50k slices */
        else
            assert_int_equal(rounds, 1);
        assert_true(receipt(&f, id, sliced ? &r2 : &r1, sliced ? &rep2 : &rep1));
        *(sliced ? &t2 : &t1) = node_fx_tip(&f);
        node_fx_end(&f);
    }
    assert_int_equal(r1.status, ST_OK);
    assert_int_equal(r2.status, ST_OK);
    assert_int_equal(r1.instructions, r2.instructions);
    assert_int_equal(rep1.len, rep2.len);
    assert_memory_equal(rep1.ptr, rep2.ptr, rep1.len);
    assert_memory_equal(t1.state_root, t2.state_root, LEDGER_HASH_SIZE);
    buf_fini(&rep1);
    buf_fini(&rep2);
}

/* While a message is paused, queries see the state before it, and later updates to the same
 * canister wait (they are not rejected); both finish in order. */
static void test_query_during_pause(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    f.g.slice_instructions = 50000;
    node_fx_start(&f);
    uint64_t cid = deploy(&f, SLOW_WASM);
    uint8_t a[32], b[32];
    submit(&f, LEDGER_MSG_UPDATE, cid, "slow", span_of(NULL, 0), a);
    submit(&f, LEDGER_MSG_UPDATE, cid, "quick", span_of(NULL, 0), b);
    scheduler_round_info info = round1(&f);
    assert_true(info.paused);
    assert_int_equal(info.messages, 1); /* quick waits behind the paused slow */
    assert_int_equal(query_u32(&f, cid, "get"), 0);
    ledger_receipt rc;
    run_until(&f, a, 100, &rc);
    assert_int_equal(rc.status, ST_OK);
    run_until(&f, b, 3, &rc);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(query_u32(&f, cid, "get"), 2);
    node_fx_end(&f);
}

/* Over the message limit: a trap that rolls everything back. */
static void test_message_limit_rolls_back(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    f.g.message_instruction_limit = 300000;
    f.g.slice_instructions = 100000;
    node_fx_start(&f);
    uint64_t cid = deploy(&f, SLOW_WASM);
    uint8_t a[32];
    submit(&f, LEDGER_MSG_UPDATE, cid, "slow", span_of(NULL, 0), a);
    ledger_receipt rc;
    run_until(&f, a, 10, &rc);
    assert_int_equal(rc.status, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_true(rc.instructions >= 300000);
    assert_int_equal(query_u32(&f, cid, "get"), 0);
    node_fx_end(&f);
}

/* Slice boundaries: a message whose cost is exactly the slice finishes in its first round; with
 * one instruction less it pauses and finishes in the next. */
static void test_budget_boundaries(void **state)
{
    (void)state;
    uint64_t cost = 0;
    for (int step = 0; step < 3; step++) {
        fx f;
        fx_defaults(&f);
        if (step == 1)
            f.g.slice_instructions = cost;
        if (step == 2)
            f.g.slice_instructions = cost - 1;
        node_fx_start(&f);
        uint64_t cid = deploy(&f, SLOW_WASM);
        uint8_t a[32];
        submit(&f, LEDGER_MSG_UPDATE, cid, "slow", span_of(NULL, 0), a);
        ledger_receipt rc;
        int rounds = run_until(&f, a, 5, &rc);
        assert_int_equal(rc.status, ST_OK);
        if (step == 0)
            cost = rc.instructions;
        else
            assert_int_equal(rc.instructions, cost);
        assert_int_equal(rounds, step == 2 ? 2 : 1);
        node_fx_end(&f);
    }
    /* round budget: with a round limit of exactly one message's cost, the second waits */
    fx f;
    fx_defaults(&f);
    node_fx_start(&f);
    uint64_t cid = deploy(&f, SLOW_WASM);
    uint8_t q1[32];
    submit(&f, LEDGER_MSG_UPDATE, cid, "quick", span_of(NULL, 0), q1);
    round1(&f);
    ledger_receipt rc;
    assert_true(receipt(&f, q1, &rc, NULL));
    uint64_t quick = rc.instructions;
    node_fx_end(&f);
    /* a second node whose round budget is exactly two such messages */
    fx g;
    fx_defaults(&g);
    g.g.round_instruction_limit = 2 * quick;
    node_fx_start(&g);
    cid = deploy(&g, SLOW_WASM);
    uint8_t m[3][32];
    for (int i = 0; i < 3; i++)
        submit(&g, LEDGER_MSG_UPDATE, cid, "quick", span_of(NULL, 0), m[i]);
    scheduler_round_info info = round1(&g);
    assert_int_equal(info.messages, 2); /* two fit exactly; the third waits */
    assert_int_equal(info.instructions, 2 * quick);
    info = round1(&g);
    assert_int_equal(info.messages, 1);
    node_fx_end(&g);
}

/* One canister flooding the mempool does not starve another: round-robin within a round. */
static void test_fairness(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    f.g.max_messages_per_round = 3;
    node_fx_start(&f);
    uint64_t a = deploy(&f, SLOW_WASM), b = deploy(&f, SLOW_WASM);
    uint8_t ids[11][32];
    for (int i = 0; i < 10; i++)
        submit(&f, LEDGER_MSG_UPDATE, a, "quick", span_of(NULL, 0), ids[i]);
    submit(&f, LEDGER_MSG_UPDATE, b, "quick", span_of(NULL, 0), ids[10]);
    scheduler_round_info info = round1(&f);
    assert_int_equal(info.messages, 3);
    ledger_receipt rc;
    assert_true(receipt(&f, ids[10], &rc, NULL)); /* b ran in the first round */
    assert_int_equal(rc.height, info.tip.height);
    assert_true(receipt(&f, ids[0], &rc, NULL));
    assert_true(receipt(&f, ids[1], &rc, NULL));
    assert_false(receipt(&f, ids[2], &rc, NULL));
    node_fx_end(&f);
}

/* A node stopped while a message is paused resumes it after a restart and ends exactly as a
 * node that never stopped. */
static void test_restart_with_paused_message(void **state)
{
    (void)state;
    ledger_receipt r[2];
    ledger_tip t[2];
    for (int restart = 0; restart < 2; restart++) {
        fx f;
        fx_defaults(&f);
        f.g.slice_instructions = 50000;
        node_fx_start(&f);
        uint64_t cid = deploy(&f, SLOW_WASM);
        uint8_t a[32];
        submit(&f, LEDGER_MSG_UPDATE, cid, "slow", span_of(NULL, 0), a);
        round1(&f);
        round1(&f);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
            bool work = false;
            assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
            assert_true(work);
        }
        run_until(&f, a, 100, &r[restart]);
        t[restart] = node_fx_tip(&f);
        node_fx_end(&f);
    }
    assert_int_equal(r[0].status, ST_OK);
    assert_int_equal(r[0].instructions, r[1].instructions);
    assert_int_equal(t[0].height, t[1].height);
    assert_memory_equal(t[0].state_root, t[1].state_root, LEDGER_HASH_SIZE);
    assert_memory_equal(t[0].hash, t[1].hash, LEDGER_HASH_SIZE);
}

/* A canister that grew heap and stable memory to 2 GiB each but wrote one byte in each costs
 * memory for the written pages only, when it runs and when the node restarts (loading read,
 * copied and shadowed every byte: 8 GiB). */
static void test_restart_large_sparse_memory(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    node_fx_start(&f);
    uint64_t cid = deploy(&f, BIG_WASM);
    uint64_t before = test_resident_bytes();
    uint8_t a[32];
    submit(&f, LEDGER_MSG_UPDATE, cid, "big", span_of(NULL, 0), a);
    ledger_receipt rc;
    run_until(&f, a, 10, &rc);
    assert_int_equal(rc.status, ST_OK);
    node_fx_close(&f);
    node_fx_open(&f);
    assert_true(test_resident_bytes() - before < (UINT64_C(256) << 20));
    assert_int_equal(query_u32(&f, cid, "peek") & 0xffff, 0x0709);
    node_fx_end(&f);
}

/* The genesis memory limit (max_canister_memory, rules version 2) reaches every canister, also
 * after a restart: under 1 GiB, big's 2 GiB grow fails (-1) and its store traps; under 64 KiB,
 * its one-page memory is refused at deploy. */
static void test_genesis_memory_limit(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    f.g.max_canister_memory = UINT64_C(1) << 30;
    node_fx_start(&f);
    uint64_t cid = deploy(&f, BIG_WASM);
    for (int restart = 0; restart < 2; restart++) {
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
        uint8_t a[32];
        submit(&f, LEDGER_MSG_UPDATE, cid, "big", span_of(&restart, 1), a);
        ledger_receipt rc;
        run_until(&f, a, 10, &rc);
        assert_int_equal(rc.status, ST_TRAP_MEMORY_OOB);
    }
    node_fx_end(&f);

    fx_defaults(&f);
    f.g.max_canister_memory = 65535;
    node_fx_start(&f);
    test_read_file(BIG_WASM, &f.wasm);
    buf arg = {0};
    assert_int_equal(
        scheduler_install_arg(span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0), &arg), ST_OK);
    uint8_t id[32];
    submit(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "", span_of(arg.ptr, arg.len), id);
    ledger_receipt rc;
    run_until(&f, id, 3, &rc);
    assert_int_equal(rc.status, ST_CANISTER_MEMORY_LIMIT);
    buf_fini(&arg);
    node_fx_end(&f);
}

/* Damages the stored envelope of message id directly in LMDB: flips one byte of it, or (if
 * other is not NULL) replaces it with the envelope of message `other`, validly signed but with
 * another id. docs/formats.md "Databases": ids maps an id to its arrival number, the key of
 * messages. */
static void tamper_with(const char *dir, const uint8_t id[LEDGER_HASH_SIZE], const uint8_t *other)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi ids, msgs;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1ull << 30), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "ids", 0, &ids), 0);
    assert_int_equal(mdb_dbi_open(txn, "messages", 0, &msgs), 0);
    uint8_t seq[2][8];
    for (int i = 0; i < (other ? 2 : 1); i++) {
        MDB_val k = {LEDGER_HASH_SIZE, (void *)(i ? other : id)}, v;
        assert_int_equal(mdb_get(txn, ids, &k, &v), 0);
        assert_int_equal(v.mv_size, 8);
        memcpy(seq[i], v.mv_data, 8);
    }
    MDB_val k = {8, seq[other ? 1 : 0]}, v;
    assert_int_equal(mdb_get(txn, msgs, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    if (!other)
        copy[v.mv_size / 2] ^= 0x01;
    MDB_val nv = {v.mv_size, copy};
    k = (MDB_val){8, seq[0]};
    assert_int_equal(mdb_put(txn, msgs, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
}

static void tamper(const char *dir, const uint8_t id[LEDGER_HASH_SIZE])
{
    tamper_with(dir, id, NULL);
}

/* 1000 generated blocks over several canisters, slices included, replay and verify every root;
 * then one flipped byte in one stored message is reported at exactly its block. */
static void test_replay_1000_blocks(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    f.g.slice_instructions = 200000;
    node_fx_start(&f);
    uint64_t c1 = deploy(&f, SLOW_WASM), c2 = deploy(&f, SLOW_WASM), c3 = deploy(&f, COUNTER_WASM);
    uint8_t victim[32] = {0};
    uint64_t victim_height = 0;
    while (node_fx_tip(&f).height < 1000) {
        uint64_t h = node_fx_tip(&f).height;
        uint8_t id[32];
        uint64_t x = h * 2654435761u;
        submit(&f, LEDGER_MSG_UPDATE, (x % 3 == 0) ? c1 : c2, (x % 17 == 0) ? "slow" : "quick",
               span_of(NULL, 0), id);
        if (x % 5 == 0)
            submit(&f, LEDGER_MSG_UPDATE, c3, "inc", span_of(NULL, 0), id);
        scheduler_round_info info = round1(&f);
        if (h == 500) {
            memcpy(victim, id, 32);
            victim_height = info.tip.height;
        }
    }
    ledger_tip end = node_fx_tip(&f);
    node_fx_close(&f);
    char work[96];
    snprintf(work, sizeof work, "%s-replay", f.dir);
    scheduler_divergence div;
    ledger_tip last;
    assert_int_equal(scheduler_replay(f.dir, work, NULL, &div, &last), ST_OK);
    assert_int_equal(div.height, 0);
    assert_true(last.height == end.height);
    assert_memory_equal(last.state_root, end.state_root, LEDGER_HASH_SIZE);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    assert_int_equal(system(cmd), 0);
    /* the victim message was included in the block built at height victim_height... */
    assert_true(victim_height > 0);
    tamper(f.dir, victim);
    assert_int_equal(scheduler_replay(f.dir, work, NULL, &div, &last), ST_OK);
    assert_int_equal(div.height, victim_height);
    assert_int_equal(system(cmd), 0);
    node_fx_open(&f);
    node_fx_end(&f);
}

/* Replays f's directory with `threads` signature-checking threads into a scratch directory
 * (removed after); returns the divergence. */
static scheduler_divergence replay_with(const fx *f, uint32_t threads, ledger_tip *last)
{
    char work[96], cmd[128];
    snprintf(work, sizeof work, "%s-replay", f->dir);
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    scheduler_replay_options opt = {.threads = threads};
    scheduler_divergence div;
    assert_int_equal(scheduler_replay(f->dir, work, &opt, &div, last), ST_OK);
    assert_int_equal(system(cmd), 0);
    return div;
}

/* One block of 300 messages replayed with 1, 2, 3 and 8 signature-checking threads: the same
 * tip each time. A flipped byte in the block's message 251, or its envelope replaced by another
 * validly signed one (whose id is not the one the block records), is reported as exactly that
 * message of that block, whichever thread checked it. */
static void test_replay_threads(void **state)
{
    (void)state;
    fx f;
    fx_defaults(&f);
    node_fx_start(&f);
    uint64_t c = deploy(&f, COUNTER_WASM);
    uint8_t id[LEDGER_HASH_SIZE];
    for (int i = 0; i < 300; i++)
        submit(&f, LEDGER_MSG_UPDATE, c, "inc", span_of(NULL, 0), id);
    scheduler_round_info info = round1(&f);
    assert_int_equal(info.messages, 300);
    assert_int_equal(info.completed, 300);
    ledger_tip end = info.tip;
    uint8_t victim[LEDGER_HASH_SIZE], other[LEDGER_HASH_SIZE];
    ledger_reader *rd;
    ledger_block b;
    assert_int_equal(ledger_read_begin(f.lg, &rd), ST_OK);
    assert_int_equal(ledger_block_get(rd, end.height, &b), ST_OK);
    assert_int_equal(b.message_count, 300);
    memcpy(victim, b.message_ids + 250 * LEDGER_HASH_SIZE, LEDGER_HASH_SIZE);
    memcpy(other, b.message_ids + 7 * LEDGER_HASH_SIZE, LEDGER_HASH_SIZE);
    ledger_read_end(rd);
    node_fx_close(&f);
    static const uint32_t threads[] = {1, 2, 3, 8};
    for (size_t i = 0; i < BASE_ARRAY_LEN(threads); i++) {
        ledger_tip last;
        scheduler_divergence div = replay_with(&f, threads[i], &last);
        assert_int_equal(div.height, 0);
        assert_int_equal(last.height, end.height);
        assert_memory_equal(last.state_root, end.state_root, LEDGER_HASH_SIZE);
        assert_memory_equal(last.hash, end.hash, LEDGER_HASH_SIZE);
    }
    char want[96];
    snprintf(want, sizeof want, "message 251 of block %llu is missing or does not verify",
             (unsigned long long)end.height);
    tamper_with(f.dir, victim, other); /* valid signature, wrong id */
    for (size_t i = 0; i < BASE_ARRAY_LEN(threads); i++) {
        scheduler_divergence div = replay_with(&f, threads[i], NULL);
        assert_int_equal(div.height, end.height);
        assert_string_equal(div.what, want);
    }
    tamper(f.dir, victim); /* now also a signature that does not verify */
    scheduler_divergence div = replay_with(&f, 2, NULL);
    assert_int_equal(div.height, end.height);
    assert_string_equal(div.what, want);
    node_fx_open(&f);
    node_fx_end(&f);
}

int main(void)
{
    if (getenv("TEST_FILTER")) /* one test by name, when working on it */
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_call_query),
        cmocka_unit_test(test_slices_equal_unsliced),
        cmocka_unit_test(test_query_during_pause),
        cmocka_unit_test(test_message_limit_rolls_back),
        cmocka_unit_test(test_budget_boundaries),
        cmocka_unit_test(test_fairness),
        cmocka_unit_test(test_restart_with_paused_message),
        cmocka_unit_test(test_restart_large_sparse_memory),
        cmocka_unit_test(test_genesis_memory_limit),
        cmocka_unit_test(test_replay_1000_blocks),
        cmocka_unit_test(test_replay_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
