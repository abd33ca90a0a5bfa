/* test_install.c - installs and upgrades run in slices like updates (docs/scheduler.md
 * "Install and upgrade"): with a small slice, every step (start, init, pre_upgrade,
 * post_upgrade) spreads over many rounds, other canisters' messages and queries are served
 * meanwhile, queries of the canister see the state before the upgrade, and the outcome,
 * instruction count and state root are those of the unsliced run; a node stopped in the middle
 * resumes to the same blocks; replay agrees; an install that traps after pausing leaves an
 * empty canister, one that traps in its first slice none. With TALLY_FINGERPRINT set it prints
 * the sliced chain's tip for scripts/test.sh's cross-build determinism check.
 *
 * Canisters: lifecycle.wat and slow.wat (this folder). */
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
#include "test_util.h"
#include "node_fixture.h"

enum { SLICE = 50000 };

static scheduler_round_info round1(node_fx *f)
{
    return node_fx_round(f);
}

/* Submits an install (canister 0) or upgrade of `path` with init argument `init`. */
static void submit_code(node_fx *f, uint8_t kind, uint64_t cid, const char *path, span init,
                        uint8_t id[LEDGER_HASH_SIZE])
{
    buf wasm = {0}, arg = {0};
    test_read_file(path, &wasm);
    assert_int_equal(scheduler_install_arg(span_of(wasm.ptr, wasm.len), init, &arg), ST_OK);
    node_fx_submit(f, kind, cid, "", span_of(arg.ptr, arg.len), id);
    buf_fini(&wasm);
    buf_fini(&arg);
}

/* The 16 bytes `get` answers, as 4 u32. */
static void get4(node_fx *f, uint64_t cid, uint32_t out[4])
{
    uint8_t b[16];
    node_fx_query_bytes(f, cid, "get", sizeof b, b);
    for (int i = 0; i < 4; i++)
        out[i] = le32_load(b + 4 * i);
}

typedef struct outcome {
    ledger_receipt install, upgrade;
    int install_rounds, upgrade_rounds;
    ledger_tip tip;
} outcome;

/* The scenario: canister 1 (slow.wat) exists; lifecycle.wat is installed as canister 2 while
 * canister 1 takes updates; then canister 2 is upgraded to the same code while it is queried.
 * `slice`: the genesis slice; `restart`: stop and reopen the node in the middle of both. */
static void scenario(uint64_t slice, bool restart, outcome *o)
{
    node_fx f;
    node_fx_init(&f, 5);
    f.g.slice_instructions = slice;
    /* Storage is charged by block time up to each message (docs/canisters.md "Cycles"); the
     * sliced run takes more blocks, so its canisters pay at other times: the same state needs
     * a chain without the storage fee. Every other fee stays. */
    f.g.fee_gib_storage_per_second = 0;
    node_fx_start(&f);
    uint64_t other = node_fx_deploy_file(&f, SLOW_WASM);
    uint8_t inst[LEDGER_HASH_SIZE], upd[LEDGER_HASH_SIZE], up[LEDGER_HASH_SIZE];
    submit_code(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, LIFECYCLE_WASM, span_of(NULL, 0),
                inst);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, other, "quick", span_of(NULL, 0), upd);
    scheduler_round_info info = round1(&f);
    ledger_receipt rc;
    if (slice < 1000000) {
        /* the install pauses; the other canister's update ran in the same round */
        assert_true(info.paused);
        assert_false(node_fx_receipt(&f, inst, &rc, NULL));
        assert_true(node_fx_receipt(&f, upd, &rc, NULL));
        assert_int_equal(rc.status, ST_OK);
        assert_int_equal(node_fx_query_get(&f, other), 1);
        host_result res; /* the canister being installed is there, empty */
        assert_int_equal(scheduler_query(f.s, other + 1, span_of("get", 3), span_of(NULL, 0),
                                         span_of(NULL, 0), &res),
                         ST_OK);
        assert_int_equal(res.st, ST_CANISTER_EMPTY);
        host_result_fini(&res);
        round1(&f);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
    }
    o->install_rounds = node_fx_run_until(&f, inst, 200, &o->install);
    assert_int_equal(o->install.status, ST_OK);
    assert_int_equal(o->install.reply.len, 8);
    uint64_t cid = le64_load(o->install.reply.ptr);
    assert_int_equal(cid, other + 1);
    uint32_t v[4];
    get4(&f, cid, v);
    assert_int_equal(v[0], 11);
    assert_int_equal(v[1], 22);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "bump", span_of(NULL, 0), upd);
    round1(&f);
    /* the upgrade: while it is paused, queries see the old state and updates wait */
    submit_code(&f, LEDGER_MSG_UPGRADE, cid, LIFECYCLE_WASM, span_of(NULL, 0), up);
    round1(&f);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "bump", span_of(NULL, 0), upd);
    if (slice < 1000000) {
        round1(&f);
        assert_false(node_fx_receipt(&f, up, &rc, NULL));
        assert_false(node_fx_receipt(&f, upd, &rc, NULL));
        get4(&f, cid, v);
        assert_int_equal(v[0], 12);
        assert_int_equal(v[1], 22);
        scheduler_querier *q;
        assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
        host_result res;
        assert_int_equal(scheduler_querier_run(q, cid, span_of("get", 3), span_of(NULL, 0),
                                               span_of(NULL, 0), 1000000, &res),
                         ST_OK);
        assert_int_equal(le32_load(res.bytes.ptr), 12);
        host_result_fini(&res);
        scheduler_querier_free(q);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
    }
    o->upgrade_rounds = node_fx_run_until(&f, up, 200, &o->upgrade);
    assert_int_equal(o->upgrade.status, ST_OK);
    node_fx_run_until(&f, upd, 5, &rc);
    assert_int_equal(rc.status, ST_OK);
    get4(&f, cid, v);
    assert_int_equal(v[0], 12); /* the new start's 11, then the bump that waited */
    assert_int_equal(v[1], 33);
    assert_int_equal(v[2], 12); /* saved by pre_upgrade */
    assert_int_equal(v[3], 22);
    o->tip = node_fx_tip(&f);
    assert_null(node_chain_check(f.lg, &o->tip));
    /* the auditor's replay reproduces every block */
    char work[64];
    snprintf(work, sizeof work, "/tmp/tally-replay-XXXXXX");
    assert_non_null(mkdtemp(work));
    scheduler_divergence div;
    ledger_tip last;
    assert_int_equal(scheduler_replay(f.dir, work, NULL, &div, &last), ST_OK);
    assert_int_equal(div.height, 0);
    assert_memory_equal(last.state_root, o->tip.state_root, LEDGER_HASH_SIZE);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    assert_int_equal(system(cmd), 0);
    node_fx_end(&f);
}

/* With TALLY_FINGERPRINT set: the sliced scenario's chain on one line, for the cross-build
 * determinism check of scripts/test.sh. */
static void fingerprint_print(const outcome *o)
{
    if (!getenv("TALLY_FINGERPRINT"))
        return;
    printf("{\"height\": %llu, \"block\": \"", (unsigned long long)o->tip.height);
    for (int i = 0; i < LEDGER_HASH_SIZE; i++)
        printf("%02x", o->tip.hash[i]);
    printf("\", \"state_root\": \"");
    for (int i = 0; i < LEDGER_HASH_SIZE; i++)
        printf("%02x", o->tip.state_root[i]);
    printf("\", \"install\": %llu, \"upgrade\": %llu, \"rounds\": [%d, %d]}\n",
           (unsigned long long)o->install.instructions,
           (unsigned long long)o->upgrade.instructions, o->install_rounds, o->upgrade_rounds);
}

static void test_sliced_equals_unsliced(void **state)
{
    (void)state;
    outcome whole, sliced;
    scenario(2000000000, false, &whole);
    scenario(SLICE, false, &sliced);
    fingerprint_print(&sliced);
    assert_int_equal(whole.install_rounds, 1);
    assert_int_equal(whole.upgrade_rounds, 1);
    assert_true(sliced.install_rounds > 5); /* ~600,000 instructions in 50,000 slices */
    assert_true(sliced.upgrade_rounds > 8); /* ~900,000 */
    assert_int_equal(whole.install.instructions, sliced.install.instructions);
    assert_int_equal(whole.upgrade.instructions, sliced.upgrade.instructions);
    assert_memory_equal(whole.tip.state_root, sliced.tip.state_root, LEDGER_HASH_SIZE);
}

/* Stopped in the middle of the install and of the upgrade (as after kill -9: the last block
 * is all there is), the node resumes both and reaches the very same chain. */
static void test_restart_mid_install(void **state)
{
    (void)state;
    outcome a, b;
    scenario(SLICE, false, &a);
    scenario(SLICE, true, &b);
    assert_int_equal(a.install.instructions, b.install.instructions);
    assert_int_equal(a.upgrade.instructions, b.upgrade.instructions);
    node_tip_assert_equal(&a.tip, &b.tip);
}

/* An install whose init traps: after pausing, its canister stays (empty, id used); in its
 * first slice, nothing stays. */
static void test_failed_install(void **state)
{
    (void)state;
    for (int sliced = 0; sliced < 2; sliced++) {
        node_fx f;
        node_fx_init(&f, 5);
        f.g.slice_instructions = sliced ? SLICE : 2000000000;
        node_fx_start(&f);
        uint8_t id[LEDGER_HASH_SIZE];
        submit_code(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, LIFECYCLE_WASM, span_of("x", 1),
                    id);
        ledger_receipt rc;
        int rounds = node_fx_run_until(&f, id, 200, &rc);
        assert_int_equal(rc.status, ST_CANISTER_CALLED_TRAP);
        assert_true(sliced ? rounds > 5 : rounds == 1);
        ledger_tip tip = node_fx_tip(&f);
        assert_int_equal(tip.next_canister_id, sliced ? 2 : 1);
        host_result res;
        status st =
            scheduler_query(f.s, 1, span_of("get", 3), span_of(NULL, 0), span_of(NULL, 0), &res);
        if (sliced) {
            assert_int_equal(st, ST_OK);
            assert_int_equal(res.st, ST_CANISTER_EMPTY);
            host_result_fini(&res);
        } else {
            assert_int_equal(st, ST_UNKNOWN_CANISTER);
        }
        /* the next install works and gets the next id */
        assert_int_equal(node_fx_deploy_file(&f, SLOW_WASM), sliced ? 2 : 1);
        node_fx_end(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sliced_equals_unsliced),
        cmocka_unit_test(test_restart_mid_install),
        cmocka_unit_test(test_failed_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
