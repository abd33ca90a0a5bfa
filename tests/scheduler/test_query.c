/* test_query.c - queries on replicas away from the round thread (scheduler/query.c): a querier
 * answers exactly what the live canister answers after every block (heap pages, a grown heap,
 * stable memory, globals), follows blocks by loading only the changed pages, is rebuilt after
 * an upgrade, sees the state before a paused message, and a round completes while a query is
 * stopped in the middle of its run on another thread (rounds never wait for queries); replicas
 * run in the compiled tier once the scheduler has attached it, with the interpreter's answers
 * and instruction counts.
 *
 * Canisters: qtest.wat and slow.wat (this folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler.h"
#include "test_util.h"
#include "node_fixture.h"

enum { ANSWER = 24 };

static void round1(node_fx *f)
{
    scheduler_round_info info;
    f->time += 1000000;
    assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
}

static uint64_t deploy(node_fx *f, const char *path)
{
    f->wasm.len = 0;
    test_read_file(path, &f->wasm);
    return node_fx_deploy(f);
}

static void update(node_fx *f, uint64_t cid, const char *method)
{
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(f, LEDGER_MSG_UPDATE, cid, method, span_of(NULL, 0), id);
    round1(f);
    ledger_receipt rc;
    assert_true(node_fx_receipt(f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
}

/* The querier's answer to `method`, checked to be a reply of ANSWER bytes, into out. */
static void ask(scheduler_querier *q, uint64_t cid, const char *method, uint8_t out[ANSWER])
{
    host_result res;
    assert_int_equal(scheduler_querier_run(q, cid, span_of(method, strlen(method)),
                                           span_of(NULL, 0), span_of(NULL, 0), 5000000000ull,
                                           &res),
                     ST_OK);
    assert_int_equal(res.st, ST_OK);
    assert_int_equal(res.kind, HOST_RESPONSE_REPLY);
    assert_int_equal(res.bytes.len, ANSWER);
    memcpy(out, res.bytes.ptr, ANSWER);
    host_result_fini(&res);
}

/* The live canister's answer (scheduler_query, on the round thread's state). */
static void ask_live(node_fx *f, uint64_t cid, uint8_t out[ANSWER])
{
    host_result res;
    assert_int_equal(
        scheduler_query(f->s, cid, span_of("get", 3), span_of(NULL, 0), span_of(NULL, 0), &res),
        ST_OK);
    assert_int_equal(res.st, ST_OK);
    assert_int_equal(res.bytes.len, ANSWER);
    memcpy(out, res.bytes.ptr, ANSWER);
    host_result_fini(&res);
}

static void assert_same(node_fx *f, scheduler_querier *q, uint64_t cid)
{
    uint8_t a[ANSWER], b[ANSWER];
    ask(q, cid, "get", a);
    ask_live(f, cid, b);
    assert_memory_equal(a, b, ANSWER);
}

/* A querier follows every block by loading changed pages only; a query's own writes never
 * stay; an upgrade (a new heap) rebuilds the replica. */
static void test_replica_follows_blocks(void **state)
{
    (void)state;
    node_fx f;
    node_fx_init(&f, 9);
    node_fx_start(&f);
    uint64_t cid = deploy(&f, QTEST_WASM);
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
    uint8_t a[ANSWER];
    ask(q, cid, "get", a);
    assert_int_equal(le32_load(a), 0);
    assert_int_equal(le32_load(a + 20), 4); /* heap pages */
    for (uint32_t i = 1; i <= 5; i++) {
        update(&f, cid, "bump");
        assert_same(&f, q, cid);
        ask(q, cid, "get", a);
        assert_int_equal(le32_load(a), i);            /* the global */
        assert_int_equal(le32_load(a + 4), i);        /* heap page 0 */
        assert_int_equal(le32_load(a + 8), 7u * i);   /* heap page 3 */
        assert_int_equal(le32_load(a + 12), 11u * i); /* stable page 1 */
    }
    update(&f, cid, "grow");
    assert_same(&f, q, cid);
    ask(q, cid, "get", a);
    assert_int_equal(le32_load(a + 16), 1005); /* written into the grown page */
    assert_int_equal(le32_load(a + 20), 5);
    scheduler_querier_stats st;
    scheduler_querier_stats_get(q, &st);
    assert_int_equal(st.builds, 1);
    assert_int_equal(st.syncs, 6);
    /* each bump changes heap pages 0 and 3 and stable page 1 (2 pages: 0 is zero); grow 2 */
    assert_true(st.pages_loaded <= 6 * 3 + 1);
    /* upgrade to the same code: a fresh heap, the stable memory stays */
    buf arg = {0};
    assert_int_equal(
        scheduler_install_arg(span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0), &arg), ST_OK);
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPGRADE, cid, "", span_of(arg.ptr, arg.len), id);
    round1(&f);
    ledger_receipt rc;
    assert_true(node_fx_receipt(&f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    assert_same(&f, q, cid);
    ask(q, cid, "get", a);
    assert_int_equal(le32_load(a), 0);
    assert_int_equal(le32_load(a + 12), 55);
    scheduler_querier_stats_get(q, &st);
    assert_int_equal(st.builds, 2);
    /* unknown canister */
    host_result res;
    assert_int_equal(scheduler_querier_run(q, 77, span_of("get", 3), span_of(NULL, 0),
                                           span_of(NULL, 0), 1000000, &res),
                     ST_UNKNOWN_CANISTER);
    buf_fini(&arg);
    scheduler_querier_free(q);
    node_fx_end(&f);
}

/* A cache budget smaller than two replicas keeps one: answers stay right. */
static void test_replica_cache_budget(void **state)
{
    (void)state;
    node_fx f;
    node_fx_init(&f, 9);
    node_fx_start(&f);
    uint64_t c1 = deploy(&f, QTEST_WASM);
    uint64_t c2 = deploy(&f, QTEST_WASM);
    update(&f, c2, "bump");
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1, &q), ST_OK);
    for (int i = 0; i < 3; i++) {
        assert_same(&f, q, c1);
        assert_same(&f, q, c2);
    }
    scheduler_querier_stats st;
    scheduler_querier_stats_get(q, &st);
    assert_int_equal(st.builds, 6);
    scheduler_querier_free(q);
    node_fx_end(&f);
}

/* While a message is paused, a querier sees the state before it. */
static void test_replica_during_pause(void **state)
{
    (void)state;
    node_fx f;
    node_fx_init(&f, 9);
    f.g.slice_instructions = 50000;
    node_fx_start(&f);
    f.wasm.len = 0;
    test_read_file(SLOW_WASM, &f.wasm);
    uint64_t cid = node_fx_deploy(&f);
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "quick", span_of(NULL, 0), id);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "slow", span_of(NULL, 0), id);
    round1(&f);
    host_result res;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(scheduler_querier_run(q, cid, span_of("get", 3), span_of(NULL, 0),
                                               span_of(NULL, 0), 1000000, &res),
                         ST_OK);
        assert_int_equal(res.st, ST_OK);
        assert_int_equal(le32_load(res.bytes.ptr), 1); /* quick done, slow paused */
        host_result_fini(&res);
        round1(&f);
    }
    ledger_receipt rc;
    for (int i = 0; i < 100 && !node_fx_receipt(&f, id, &rc, NULL); i++)
        round1(&f);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(scheduler_querier_run(q, cid, span_of("get", 3), span_of(NULL, 0),
                                           span_of(NULL, 0), 1000000, &res),
                     ST_OK);
    assert_int_equal(le32_load(res.bytes.ptr), 2);
    host_result_fini(&res);
    scheduler_querier_free(q);
    node_fx_end(&f);
}

/* ---- the compiled tier ----------------------------------------------------------------- */

enum { TRACE_MAX = 16 };

/* What the queries of one run answered, in order. */
typedef struct trace {
    buf bytes; /* replies and reject messages, concatenated */
    status st[TRACE_MAX];
    uint64_t instructions[TRACE_MAX];
    uint32_t len[TRACE_MAX];
    uint32_t n;
} trace;

static void traced(scheduler_querier *q, uint64_t cid, uint64_t limit, trace *t)
{
    host_result res;
    assert_int_equal(scheduler_querier_run(q, cid, span_of("get", 3), span_of(NULL, 0),
                                           span_of(NULL, 0), limit, &res),
                     ST_OK);
    assert_true(t->n < TRACE_MAX);
    t->st[t->n] = res.st;
    t->instructions[t->n] = res.instructions;
    t->len[t->n++] = (uint32_t)res.bytes.len;
    assert_int_equal(buf_put(&t->bytes, res.bytes.ptr, res.bytes.len), ST_OK);
    host_result_fini(&res);
}

static uint64_t queries_compiled(scheduler_querier *q)
{
    scheduler_querier_stats st;
    scheduler_querier_stats_get(q, &st);
    return st.compiled;
}

/* Queries through blocks, a grown heap, a query stopped by its instruction limit and an
 * upgrade (a rebuilt replica), with the scheduler in `tier`: AUTO's first query runs before the
 * background compile is attached (interpreted), every later one compiled. */
static void tier_run(int tier, trace *t)
{
    node_fx f;
    node_fx_init(&f, 9);
    f.sopt.tier = tier;
    f.sopt.tier_log = true;
    node_fx_start(&f);
    uint64_t cid = deploy(&f, QTEST_WASM);
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
    traced(q, cid, 5000000000ull, t);
    if (tier == SCHEDULER_TIER_AUTO) {
        assert_int_equal(queries_compiled(q), 0);
        scheduler_tier_wait(f.s, 60000);
    }
    for (int i = 0; i < 3; i++) {
        update(&f, cid, "bump");
        traced(q, cid, 5000000000ull, t);
    }
    update(&f, cid, "grow");
    traced(q, cid, 5000000000ull, t);
    traced(q, cid, 40, t); /* stopped by the limit */
    assert_int_equal(t->st[t->n - 1], ST_INSTRUCTION_LIMIT_EXCEEDED);
    buf arg = {0};
    assert_int_equal(
        scheduler_install_arg(span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0), &arg), ST_OK);
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPGRADE, cid, "", span_of(arg.ptr, arg.len), id);
    round1(&f);
    buf_fini(&arg);
    traced(q, cid, 5000000000ull, t);
    scheduler_querier_stats st;
    scheduler_querier_stats_get(q, &st);
    assert_int_equal(st.queries, t->n);
    assert_int_equal(st.builds, 2);
    assert_int_equal(st.compiled, tier == SCHEDULER_TIER_INTERP ? 0
                                  : tier == SCHEDULER_TIER_AUTO ? t->n - 1
                                                                : t->n);
    uint64_t compiled, failed;
    scheduler_tier_counts(f.s, &compiled, &failed);
    assert_int_equal(failed, 0);
    scheduler_querier_free(q);
    node_fx_end(&f);
}

/* Replicas in the compiled tier answer what interpreted ones answer, with the same
 * instruction counts (the limit stop included), in COMPILED and AUTO. */
static void test_tiers_agree(void **state)
{
    (void)state;
    trace t[3];
    memset(t, 0, sizeof t);
    const int tiers[3] = {SCHEDULER_TIER_INTERP, SCHEDULER_TIER_COMPILED, SCHEDULER_TIER_AUTO};
    for (int i = 0; i < 3; i++)
        tier_run(tiers[i], &t[i]);
    assert_int_equal(le32_load(t[0].bytes.ptr + 24 * 4), 3); /* the global after 3 bumps */
    for (int i = 1; i < 3; i++) {
        assert_int_equal(t[i].n, t[0].n);
        assert_memory_equal(t[i].st, t[0].st, sizeof t[0].st);
        assert_memory_equal(t[i].instructions, t[0].instructions, sizeof t[0].instructions);
        assert_memory_equal(t[i].len, t[0].len, sizeof t[0].len);
        assert_int_equal(t[i].bytes.len, t[0].bytes.len);
        assert_memory_equal(t[i].bytes.ptr, t[0].bytes.ptr, t[0].bytes.len);
    }
    for (int i = 0; i < 3; i++)
        buf_fini(&t[i].bytes);
}

/* ---- a round while a query is stopped in the middle of its run --------------------------- */

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, released;
} gate;

static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};

/* The debug sink: the query's debug_print stops it here until the test releases it. */
static void hold(void *user, span self, span text)
{
    (void)user;
    (void)self;
    (void)text;
    pthread_mutex_lock(&the_gate.mu);
    the_gate.entered = true;
    pthread_cond_broadcast(&the_gate.cv);
    while (!the_gate.released)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
}

typedef struct spin_job {
    scheduler_querier *q;
    uint64_t cid;
    uint8_t answer[ANSWER];
} spin_job;

static void *spin_main(void *arg)
{
    spin_job *j = arg;
    ask(j->q, j->cid, "spin", j->answer);
    return NULL;
}

static void test_round_never_waits_for_query(void **state)
{
    (void)state;
    node_fx f;
    node_fx_init(&f, 9);
    node_fx_start(&f);
    uint64_t cid = deploy(&f, QTEST_WASM);
    update(&f, cid, "bump");
    scheduler_close(f.s); /* again, with the holding debug sink */
    scheduler_options opt = {.debug_sink = hold};
    assert_int_equal(scheduler_open(f.lg, &opt, &f.s), ST_OK);
    spin_job j = {.cid = cid};
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &j.q), ST_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spin_main, &j), 0);
    pthread_mutex_lock(&the_gate.mu);
    while (!the_gate.entered)
        pthread_cond_wait(&the_gate.cv, &the_gate.mu);
    pthread_mutex_unlock(&the_gate.mu);
    /* the query is stopped inside its run: two rounds with updates complete meanwhile */
    update(&f, cid, "bump");
    update(&f, cid, "bump");
    uint8_t live[ANSWER];
    ask_live(&f, cid, live);
    assert_int_equal(le32_load(live), 3);
    pthread_mutex_lock(&the_gate.mu);
    the_gate.released = true;
    pthread_cond_broadcast(&the_gate.cv);
    pthread_mutex_unlock(&the_gate.mu);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(le32_load(j.answer), 1); /* the block it started on */
    ask(j.q, cid, "get", j.answer);
    assert_int_equal(le32_load(j.answer), 3);
    scheduler_querier_free(j.q);
    node_fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replica_follows_blocks),
        cmocka_unit_test(test_replica_cache_budget),
        cmocka_unit_test(test_replica_during_pause),
        cmocka_unit_test(test_round_never_waits_for_query),
        cmocka_unit_test(test_tiers_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
