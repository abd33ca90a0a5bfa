/* test_inspect.c - ingress inspection and stopped canisters on the scheduler side
 * (docs/canisters.md "Ingress inspection", "Stopping"): canister_inspect_message runs on the
 * last committed state with the ingress method, argument and caller, both on the scheduler's
 * canisters (scheduler_inspect) and on a querier's replica (scheduler_querier_inspect), and
 * gives the same verdicts there: accepted only with ic0.accept_message; a return without it,
 * a trap, or the instruction limit refuse. Its writes never stay, it is charged nothing and
 * makes no block. A canister without the export accepts everything; blocks and calls from
 * canisters never run it. Queries of a stopped
 * (or stopping) canister are rejected with CANISTER_STOPPED and reject code 5 on both paths,
 * and an update
 * that reaches a block after the stop (it raced it) still gets its CANISTER_STOPPED receipt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "node_fixture.h"

typedef node_fx fx;

enum { INSPECT_LIMIT = 10000000 }; /* the genesis query limit of these tests */

static const uint8_t key_caller[32] = {1, 2, 3}; /* a sender's public key: 29-byte principal */

/* Runs inspect for (method, arg, caller) on the scheduler (q NULL) or on querier q. */
static host_result inspect(fx *f, scheduler_querier *q, uint64_t cid, const char *method,
                           const char *arg, span caller)
{
    host_result r;
    span m = span_of(method, strlen(method)), a = span_of(arg, strlen(arg));
    status st = q ? scheduler_querier_inspect(q, cid, m, a, caller, &r)
                  : scheduler_inspect(f->s, cid, m, a, caller, &r);
    assert_int_equal(st, ST_OK);
    return r;
}

/* Asserts the verdict (res->st and accepted) and frees the result. */
static void expect(host_result r, status st, bool accepted, const char *says)
{
    assert_int_equal(r.st, st);
    assert_int_equal(r.accepted, accepted);
    if (says) {
        assert_true(r.bytes.len > 0);
        buf_put(&r.bytes, "", 1);
        assert_non_null(strstr((const char *)r.bytes.ptr, says));
    }
    host_result_fini(&r);
}

static uint64_t counter(fx *f)
{
    uint8_t b[8];
    node_fx_query_bytes(f, 1, "get", 8, b);
    return le64_load(b);
}

static void verdicts(fx *f, scheduler_querier *q)
{
    span key = span_of(key_caller, sizeof key_caller);
    expect(inspect(f, q, 1, "inc", "", key), ST_OK, true, NULL);
    expect(inspect(f, q, 1, "blocked", "", key), ST_OK, false, NULL);
    expect(inspect(f, q, 1, "inc", "no", key), ST_OK, false, NULL);            /* the argument */
    expect(inspect(f, q, 1, "inc", "", span_of(NULL, 0)), ST_OK, false, NULL); /* anonymous */
    expect(inspect(f, q, 1, "trap", "", key), ST_CANISTER_CALLED_TRAP, false, "inspect: trap");
    host_result r = inspect(f, q, 1, "spin", "", key);
    assert_int_equal(r.instructions, INSPECT_LIMIT);
    expect(r, ST_INSTRUCTION_LIMIT_EXCEEDED, false, NULL);
    /* a canister without canister_inspect_message accepts everything */
    expect(inspect(f, q, 2, "anything", "no", span_of(NULL, 0)), ST_OK, true, NULL);
    host_result u;
    assert_int_equal(
        q ? scheduler_querier_inspect(q, 99, span_of("inc", 3), span_of(NULL, 0), key, &u)
          : scheduler_inspect(f->s, 99, span_of("inc", 3), span_of(NULL, 0), key, &u),
        ST_UNKNOWN_CANISTER);
    host_result_fini(&u);
}

static void test_inspect_verdicts(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 3);
    f.g.query_instructions = INSPECT_LIMIT;
    node_fx_start(&f);
    assert_int_equal(scheduler_inspect_instructions(f.s), INSPECT_LIMIT);
    assert_int_equal(node_fx_deploy_file(&f, INSPECT_WASM), 1);
    assert_int_equal(node_fx_deploy_file(&f, SLOW_WASM), 2);
    ledger_tip before = node_fx_tip(&f);
    scheduler_cycles cyc0;
    scheduler_cycles_get(f.s, &cyc0);
    u128 bal0;
    assert_int_equal(scheduler_canister_cycles(f.s, 1, &bal0), ST_OK);
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
    for (int round = 0; round < 2; round++) {
        verdicts(&f, NULL);
        verdicts(&f, q);
        /* every inspect above added 1 to its counter; none of it stayed */
        assert_int_equal(counter(&f), (uint64_t)round);
        if (round == 0) { /* no block, no charge, nothing changed */
            ledger_tip now = node_fx_tip(&f);
            node_tip_assert_equal(&before, &now);
            bool work = true;
            assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
            assert_false(work);
            scheduler_cycles cyc;
            scheduler_cycles_get(f.s, &cyc);
            assert_true(cyc.fees == cyc0.fees);
            u128 bal;
            assert_int_equal(scheduler_canister_cycles(f.s, 1, &bal), ST_OK);
            assert_true(bal == bal0);
            /* an update that runs: inspection is not part of execution */
            uint8_t id[LEDGER_HASH_SIZE];
            node_fx_submit(&f, LEDGER_MSG_UPDATE, 1, "inc", span_of(NULL, 0), id);
            ledger_receipt rc;
            node_fx_run_until(&f, id, 1, &rc);
            assert_int_equal(rc.status, ST_OK);
            assert_int_equal(rc.reply.len, 8);
            assert_int_equal(le64_load(rc.reply.ptr), 1);
        }
    }
    /* blocks never run inspection: a message that entered the mempool another way (another
     * node's admission in a replicated chain) runs whatever this node's inspect says */
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, 1, "blocked", span_of(NULL, 0), id);
    ledger_receipt rc;
    node_fx_run_until(&f, id, 1, &rc);
    assert_int_equal(rc.status, ST_OK);
    assert_memory_equal(rc.reply.ptr, "ran", 3);
    /* nor do calls from canisters: relay's call of "blocked" runs it */
    uint64_t relay = node_fx_deploy_file(&f, RELAY_WASM);
    buf arg = {0};
    node_relay_arg(&arg, 1, 0, "blocked", span_of(NULL, 0));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, relay, "call", span_of(arg.ptr, arg.len), id);
    node_fx_run_until(&f, id, 3, &rc);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(rc.reply.len, 4);
    assert_memory_equal(rc.reply.ptr, "Rran", 4);
    buf_fini(&arg);
    scheduler_querier_free(q);
    node_fx_end(&f);
}

/* The default genesis gives inspection the IC's 200M instructions. */
static void test_inspect_limit_default(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 3);
    node_fx_start(&f);
    assert_true(f.g.query_instructions > SCHEDULER_INSPECT_INSTRUCTIONS);
    assert_int_equal(scheduler_inspect_instructions(f.s), 200000000);
    node_fx_end(&f);
}

/* ---- stopped canisters ------------------------------------------------------------------- */

static void mgmt(fx *f, const char *method, uint64_t cid)
{
    buf c = {0};
    node_id_record(&c, cid);
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, method, span_of(c.ptr, c.len), id);
    ledger_receipt rc;
    node_fx_run_until(f, id, 3, &rc);
    assert_int_equal(rc.status, ST_OK);
    buf_fini(&c);
}

static void expect_stopped(host_result r)
{
    assert_int_equal(r.st, ST_CANISTER_STOPPED);
    assert_int_equal(r.kind, HOST_RESPONSE_REJECT);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_ERROR);
    assert_int_equal(r.instructions, 0);
    buf_put(&r.bytes, "", 1);
    assert_non_null(strstr((const char *)r.bytes.ptr, "is not running: it is stopped"));
    host_result_fini(&r);
}

static void test_stopped_queries(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 3);
    node_fx_start(&f);
    assert_int_equal(node_fx_deploy_file(&f, INSPECT_WASM), 1);
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
    host_result r;
    assert_int_equal(scheduler_querier_run(q, 1, span_of("get", 3), span_of(NULL, 0),
                                           span_of(NULL, 0), 1000000, &r),
                     ST_OK);
    assert_int_equal(r.st, ST_OK); /* the replica exists before the stop: it must follow */
    host_result_fini(&r);
    mgmt(&f, "stop_canister", 1);
    assert_int_equal(
        scheduler_query(f.s, 1, span_of("get", 3), span_of(NULL, 0), span_of(NULL, 0), &r), ST_OK);
    expect_stopped(r);
    assert_int_equal(scheduler_querier_run(q, 1, span_of("get", 3), span_of(NULL, 0),
                                           span_of(NULL, 0), 1000000, &r),
                     ST_OK);
    expect_stopped(r);
    /* an update that reached a block anyway (admitted before the stop): its receipt says so,
     * the same on every node and in replay */
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, 1, "inc", span_of(NULL, 0), id);
    ledger_receipt rc;
    node_fx_run_until(&f, id, 1, &rc);
    assert_int_equal(rc.status, ST_CANISTER_STOPPED);
    /* started again: queries answer, and the update never ran */
    mgmt(&f, "start_canister", 1);
    assert_int_equal(counter(&f), 0);
    assert_int_equal(scheduler_querier_run(q, 1, span_of("get", 3), span_of(NULL, 0),
                                           span_of(NULL, 0), 1000000, &r),
                     ST_OK);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.bytes.len, 8);
    host_result_fini(&r);
    scheduler_querier_free(q);
    node_fx_end(&f);
}

static uint8_t record_status(fx *f, uint64_t cid)
{
    ledger_reader *rd;
    ledger_canister rec;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    assert_int_equal(ledger_canister_get(rd, cid, &rec), ST_OK);
    ledger_read_end(rd);
    return rec.status;
}

/* A canister with an open call context stays stopping until its call comes back: its queries
 * meanwhile are rejected too, and say "stopping". */
static void test_stopping_queries(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 9);
    f.g.round_instruction_limit = 1; /* one queued message per round: the stop waits */
    node_fx_start(&f);
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM), b = node_fx_deploy_file(&f, RELAY_WASM);
    buf arg = {0}, c = {0};
    node_relay_arg(&arg, b, 0, "echo", span_of("w", 1));
    uint8_t call_id[LEDGER_HASH_SIZE], stop_id[LEDGER_HASH_SIZE];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "call", span_of(arg.ptr, arg.len), call_id);
    node_fx_round(&f); /* a's call is out: a has an open context */
    node_id_record(&c, a);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, "stop_canister",
                   span_of(c.ptr, c.len), stop_id);
    node_fx_round(&f);
    assert_int_equal(record_status(&f, a), LEDGER_CANISTER_STOPPING);
    scheduler_querier *q;
    assert_int_equal(scheduler_querier_new(f.s, 1u << 30, &q), ST_OK);
    for (int path = 0; path < 2; path++) {
        host_result r;
        assert_int_equal(path ? scheduler_querier_run(q, a, span_of("stats", 5), span_of(NULL, 0),
                                                      span_of(NULL, 0), 1000000, &r)
                              : scheduler_query(f.s, a, span_of("stats", 5), span_of(NULL, 0),
                                                span_of(NULL, 0), &r),
                         ST_OK);
        assert_int_equal(r.st, ST_CANISTER_STOPPED);
        assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_ERROR);
        buf_put(&r.bytes, "", 1);
        assert_non_null(strstr((const char *)r.bytes.ptr, "is not running: it is stopping"));
        host_result_fini(&r);
    }
    ledger_receipt rc;
    node_fx_run_until(&f, stop_id, 20, &rc);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(record_status(&f, a), LEDGER_CANISTER_STOPPED);
    assert_true(node_fx_receipt(&f, call_id, &rc, NULL)); /* the call came back first */
    assert_int_equal(rc.status, ST_OK);
    scheduler_querier_free(q);
    buf_fini(&arg);
    buf_fini(&c);
    node_fx_end(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_verdicts),
        cmocka_unit_test(test_inspect_limit_default),
        cmocka_unit_test(test_stopped_queries),
        cmocka_unit_test(test_stopping_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
