/* test_verify.c - integrity checks of a node directory (ledger/verify.c): a data.mdb cut short
 * is CORRUPT_LEDGER before LMDB maps it (it used to die with SIGBUS inside mdb_dbi_open); the
 * tip check sees a stored state that does not match the tip block; the chain check sees a
 * changed page, tree node, record or block link. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ledger_fixture.h"

#include <lmdb.h>
#include <sys/stat.h>

/* A node with two blocks after genesis: canister 1 with heap and stable pages, canister 2. */
static void make_chain(fx_node *n)
{
    assert_int_equal(fx_node_open(n, 0, true), ST_OK);
    uint8_t *page = malloc(LEDGER_PAGE_SIZE);
    assert_non_null(page);
    for (uint64_t b = 0; b < 2; b++) {
        ledger_round *r;
        assert_int_equal(ledger_round_begin(n->lg, &r), ST_OK);
        ledger_canister c = fx_record(2, b);
        uint64_t id;
        assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
        for (uint32_t p = 0; p < 3; p++) {
            fx_page(page, b * 10 + p);
            assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_HEAP, p * 7, page), ST_OK);
        }
        fx_page(page, 99 + b);
        assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_STABLE, 3, page), ST_OK);
        assert_int_equal(ledger_round_commit(r, 1700000000000000001ull + b, NULL), ST_OK);
    }
    free(page);
}

/* Changes one stored value of a closed node directory: db, key, and the new value (NULL:
 * delete; else vlen bytes, or flip the first byte of the stored value when val == flip). */
static const uint8_t flip[1];
static void poke(const char *dir, const char *db, const void *key, size_t klen, const void *val,
                 size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v;
    if (!val) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else if (val == flip) {
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
        uint8_t *copy = malloc(v.mv_size);
        memcpy(copy, v.mv_data, v.mv_size);
        copy[v.mv_size - 1] ^= 1;
        MDB_val nv = {v.mv_size, copy};
        assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
        free(copy);
    } else {
        v = (MDB_val){vlen, (void *)val};
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static status reopen_verify(fx_node *n, status *tip)
{
    n->lg = NULL;
    status st = ledger_open(n->dir, NULL, &n->lg);
    if (st != ST_OK)
        return st;
    *tip = ledger_verify_tip(n->lg);
    ledger_verify_report rep;
    st = ledger_verify_chain(n->lg, &rep);
    ledger_close(n->lg);
    n->lg = NULL;
    return st;
}

static void t_sound_chain(void **state)
{
    (void)state;
    fx_node n;
    make_chain(&n);
    assert_int_equal(ledger_verify_tip(n.lg), ST_OK);
    ledger_verify_report rep;
    assert_int_equal(ledger_verify_chain(n.lg, &rep), ST_OK);
    assert_int_equal(rep.blocks, 3);
    assert_true(rep.nodes > 16 + 32 + 64);
    char why[256];
    assert_int_equal(ledger_file_check(n.dir, why, sizeof why), ST_OK);
    fx_node_close(&n);
}

/* Cut to half, to one page, to a few bytes: CORRUPT_LEDGER from the check and from
 * ledger_open, and the process is still alive to say so. */
static void t_truncated(void **state)
{
    (void)state;
    fx_node n;
    make_chain(&n);
    ledger_close(n.lg);
    char path[128], why[256];
    snprintf(path, sizeof path, "%s/data.mdb", n.dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    const off_t cuts[] = {sb.st_size / 2, 4096, 100};
    for (size_t i = 0; i < BASE_ARRAY_LEN(cuts); i++) {
        assert_int_equal(truncate(path, cuts[i]), 0);
        why[0] = 0;
        assert_int_equal(ledger_file_check(n.dir, why, sizeof why), ST_CORRUPT_LEDGER);
        assert_non_null(strstr(why, "data.mdb"));
        assert_int_equal(ledger_open(n.dir, NULL, &n.lg), ST_CORRUPT_LEDGER);
    }
    n.lg = NULL;
    fx_node_close(&n);
}

/* The canister tree's root replaced: the tip check fails (and so does the chain check). */
static void t_tip_mismatch(void **state)
{
    (void)state;
    fx_node n;
    make_chain(&n);
    ledger_close(n.lg);
    uint8_t key[18] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 64}, bad[32];
    memset(bad, 0x5a, sizeof bad);
    poke(n.dir, "nodes", key, sizeof key, bad, sizeof bad);
    status tip = ST_OK;
    assert_int_equal(reopen_verify(&n, &tip), ST_CORRUPT_LEDGER);
    assert_int_equal(tip, ST_CORRUPT_LEDGER);
    fx_node_close(&n);
}

/* A changed heap page, a deleted stable page, a changed record, a broken block link: the tip
 * still matches (it only reads the root), the chain check does not. */
static void t_deep_damage(void **state)
{
    (void)state;
    uint8_t heap_key[12] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7};
    uint8_t stable_key[12] = {0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3};
    uint8_t rec_key[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    uint8_t block_key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    struct {
        const char *db;
        const uint8_t *key;
        size_t klen;
        const void *val;
    } cases[] = {
        {"heap", heap_key, sizeof heap_key, flip},
        {"stable", stable_key, sizeof stable_key, NULL},
        {"canisters", rec_key, sizeof rec_key, flip},
        {"blocks", block_key, sizeof block_key, NULL},
    };
    for (size_t i = 0; i < BASE_ARRAY_LEN(cases); i++) {
        fx_node n;
        make_chain(&n);
        ledger_close(n.lg);
        poke(n.dir, cases[i].db, cases[i].key, cases[i].klen, cases[i].val, 0);
        status tip = ST_BUG_INVARIANT;
        assert_int_equal(reopen_verify(&n, &tip), ST_CORRUPT_LEDGER);
        assert_int_equal(tip, ST_OK);
        fx_node_close(&n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_sound_chain),
        cmocka_unit_test(t_truncated),
        cmocka_unit_test(t_tip_mismatch),
        cmocka_unit_test(t_deep_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
