/* test_calls.c - inter-canister calls through the real scheduler (scheduler/route.c,
 * host-api/call.c): replies, rejects with the spec's codes, traps of callers and callees,
 * cleanup, the call functions' traps, chains, routing order, restarts in the middle of call
 * trees, replay, and a random call graph whose invariants and replay must hold.
 *
 * Canister: relay.wat (this folder), which calls as its argument says. */
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

typedef node_fx fx;

static void start(fx *f)
{
    node_fx_init(f, 9);
    node_fx_start(f);
}

static uint64_t deploy_relay(fx *f)
{
    f->wasm.len = 0;
    test_read_file(RELAY_WASM, &f->wasm);
    return node_fx_deploy(f);
}

static void round1(fx *f)
{
    scheduler_round_info info;
    f->time += 1000000;
    assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
}

/* The argument of relay's `call`. */
static void call_arg(buf *b, uint64_t target, uint8_t mode, const char *method, span payload)
{
    uint8_t head[10];
    le64_store(head, target);
    head[8] = mode;
    head[9] = (uint8_t)strlen(method);
    b->len = 0;
    assert_int_equal(buf_put(b, head, sizeof head), ST_OK);
    assert_int_equal(buf_put(b, method, strlen(method)), ST_OK);
    if (payload.len)
        assert_int_equal(buf_put(b, payload.ptr, payload.len), ST_OK);
}

static void submit_call(fx *f, uint64_t from, uint64_t target, uint8_t mode, const char *method,
                        const char *payload, uint8_t id[LEDGER_HASH_SIZE])
{
    buf b = {0};
    call_arg(&b, target, mode, method, span_of(payload, strlen(payload)));
    node_fx_submit(f, LEDGER_MSG_UPDATE, from, "call", span_of(b.ptr, b.len), id);
    buf_fini(&b);
}

/* Runs rounds until id has a receipt (at most max); copies its reply into *reply. */
static ledger_receipt wait_receipt(fx *f, const uint8_t id[LEDGER_HASH_SIZE], int max, buf *reply)
{
    ledger_receipt rc;
    for (int i = 0; i < max; i++) {
        round1(f);
        if (node_fx_receipt(f, id, &rc, NULL)) {
            if (reply) {
                reply->len = 0;
                assert_int_equal(buf_put(reply, rc.reply.ptr, rc.reply.len), ST_OK);
            }
            return rc;
        }
    }
    fail_msg("no receipt after %d rounds", max);
    return rc;
}

/* relay's stats: calls, callbacks, cleanups. */
static void stats(fx *f, uint64_t cid, uint32_t out[3])
{
    host_result res;
    assert_int_equal(scheduler_query(f->s, cid, span_of("stats", 5), span_of(NULL, 0),
                                     span_of(NULL, 0), &res),
                     ST_OK);
    assert_int_equal(res.st, ST_OK);
    assert_int_equal(res.bytes.len, 12);
    for (int i = 0; i < 3; i++)
        out[i] = le32_load(res.bytes.ptr + 4 * i);
    host_result_fini(&res);
}

static bool reply_is(const buf *b, const char *prefix, size_t n)
{
    return b->len >= n && memcmp(b->ptr, prefix, n) == 0;
}

static bool reply_has(const buf *b, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= b->len; i++)
        if (!memcmp(b->ptr + i, text, n))
            return true;
    return false;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* A call and its reply complete in the round that made the call: one block. */
static void test_call_reply(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    uint8_t id[32];
    buf r = {0};
    submit_call(&f, a, b, 0, "echo", "hi", id);
    uint64_t h0 = node_fx_tip(&f).height;
    ledger_receipt rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(rc.height, h0 + 1);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.ptr, "Rhi", 3);
    uint32_t st[3];
    stats(&f, a, st);
    assert_int_equal(st[0], 1);
    assert_int_equal(st[1], 1);
    assert_int_equal(st[2], 0);
    /* call_new twice: the first call is discarded, the second goes out */
    submit_call(&f, a, b, 8, "echo", "yo", id);
    wait_receipt(&f, id, 1, &r);
    assert_true(reply_is(&r, "Ryo", 3));
    stats(&f, a, st);
    assert_int_equal(st[1], 2); /* one callback, not two */
    buf_fini(&r);
    node_fx_end(&f);
}

/* Reject codes as the spec numbers them, each reaching the reject callback. */
static void test_reject_codes(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    uint8_t id[32];
    buf r = {0};
    struct {
        uint64_t target;
        const char *method, *payload;
        uint8_t code;
        const char *text;
    } cases[] = {
        {0, "reject", "no", 4, "no"},                         /* CANISTER_REJECT */
        {0, "trap", "", 5, "CANISTER_CALLED_TRAP"},           /* CANISTER_ERROR: callee trapped */
        {0, "missing", "", 5, "no update method 'missing'"},  /* CANISTER_ERROR: no method */
        {0, "noreply", "", 5, "NO_REPLY"},                    /* CANISTER_ERROR: no reply */
        {0, "stats", "", 0, NULL},                            /* a query method runs replicated */
        {999, "echo", "", 3, "no such canister"},             /* DESTINATION_INVALID */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t target = cases[i].target ? cases[i].target : b;
        submit_call(&f, a, target, 0, cases[i].method, cases[i].payload, id);
        ledger_receipt rc = wait_receipt(&f, id, 2, &r);
        assert_int_equal(rc.status, ST_OK); /* the callback replied */
        if (cases[i].code == 0) {
            assert_true(reply_is(&r, "R", 1));
            continue;
        }
        if (!reply_is(&r, "J", 1) || r.ptr[1] != cases[i].code)
            fail_msg("case %zu: reply %.*s", i, (int)r.len, (const char *)r.ptr);
        if (!reply_has(&r, cases[i].text))
            fail_msg("case %zu: reply lacks %s: %.*s", i, cases[i].text, (int)r.len,
                     (const char *)r.ptr);
    }
    buf_fini(&r);
    node_fx_end(&f);
}

/* The call functions' traps: the caller's message traps, its calls are never sent. */
static void test_call_traps(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    uint8_t id[32];
    buf r = {0};
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "append_only", span_of(NULL, 0), id);
    ledger_receipt rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_CONTRACT_VIOLATION);
    assert_true(reply_has(&r, "no call under construction"));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "reply_twice", span_of(NULL, 0), id);
    rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_REPLY_TWICE);
    /* call_perform twice: the message traps and its first call is dropped */
    submit_call(&f, a, b, 4, "call", "", id);
    rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_CONTRACT_VIOLATION);
    uint32_t sa[3], sb[3];
    stats(&f, a, sa);
    stats(&f, b, sb);
    assert_int_equal(sa[0], 0); /* rolled back */
    assert_int_equal(sb[0], 0); /* never called */
    buf_fini(&r);
    node_fx_end(&f);
}

/* A trapping callback: its changes are undone, cleanup runs and is kept, and the context that
 * can no longer reply is rejected with CANISTER_ERROR and the trap's text. */
static void test_callback_trap_cleanup(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    uint8_t id[32];
    buf r = {0};
    submit_call(&f, a, b, 1 | 2, "echo", "x", id);
    ledger_receipt rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_CANISTER_CALLED_TRAP);
    assert_int_equal(host_reject_code(rc.status), 5);
    assert_true(reply_has(&r, "cb trap"));
    uint32_t st[3];
    stats(&f, a, st);
    assert_int_equal(st[0], 1); /* the call was made */
    assert_int_equal(st[1], 0); /* the trapped callback left nothing */
    assert_int_equal(st[2], 1); /* cleanup ran */
    /* without cleanup: nothing runs after the trap */
    submit_call(&f, a, b, 2, "echo", "x", id);
    rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_CANISTER_CALLED_TRAP);
    stats(&f, a, st);
    assert_int_equal(st[2], 1);
    /* replied early: the receipt is the early reply; the callback cannot reply again (it traps,
     * undoing its own changes) */
    submit_call(&f, a, b, 16, "echo", "x", id);
    rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(r.len, 1);
    assert_memory_equal(r.ptr, "R", 1);
    round1(&f);
    stats(&f, a, st);
    assert_int_equal(st[0], 3);
    assert_int_equal(st[1], 0);
    buf_fini(&r);
    node_fx_end(&f);
}

/* A -> B -> C and back; a canister calling itself. */
static void test_chain_and_self(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f), c = deploy_relay(&f);
    uint8_t id[32];
    buf r = {0}, inner = {0};
    call_arg(&inner, c, 0, "echo", span_of("x", 1));
    buf outer = {0};
    call_arg(&outer, b, 0, "call", span_of(inner.ptr, inner.len));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "call", span_of(outer.ptr, outer.len), id);
    ledger_receipt rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.ptr, "RRx", 3);
    submit_call(&f, a, a, 0, "echo", "me", id);
    wait_receipt(&f, id, 1, &r);
    assert_true(reply_is(&r, "Rme", 3));
    buf_fini(&r);
    buf_fini(&inner);
    buf_fini(&outer);
    node_fx_end(&f);
}

/* The same messages with one queued message per round (a tiny round budget), with and without
 * closing and reopening the node between rounds, reach the same blocks; replay agrees. */
static void run_tree(bool restart, bool tiny, ledger_tip *out, buf *reply)
{
    fx f;
    node_fx_init(&f, 9);
    if (tiny)
        f.g.round_instruction_limit = 1;
    node_fx_start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f), c = deploy_relay(&f);
    buf inner = {0}, outer = {0};
    call_arg(&inner, c, 1, "echo", span_of("deep", 4));
    call_arg(&outer, b, 0, "call", span_of(inner.ptr, inner.len));
    uint8_t id[32], id2[32];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "call", span_of(outer.ptr, outer.len), id);
    submit_call(&f, b, a, 0, "reject", "r", id2);
    ledger_receipt rc;
    int rounds = 0;
    while (!node_fx_receipt(&f, id, &rc, NULL) || !node_fx_receipt(&f, id2, &rc, NULL)) {
        assert_true(++rounds < 50);
        round1(&f);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
    }
    bool work = true;
    assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    assert_false(work);
    if (tiny)
        assert_true(rounds > 3); /* the tree really spread over rounds */
    node_fx_receipt(&f, id, &rc, NULL);
    reply->len = 0;
    assert_int_equal(buf_put(reply, rc.reply.ptr, rc.reply.len), ST_OK);
    *out = node_fx_tip(&f);
    const char *why = node_chain_check(f.lg, out);
    if (why)
        fail_msg("%s", why);
    /* replay from genesis reaches the same roots */
    char work_dir[96];
    snprintf(work_dir, sizeof work_dir, "%s-replay", f.dir);
    node_fx_close(&f);
    scheduler_divergence div;
    ledger_tip last;
    assert_int_equal(scheduler_replay(f.dir, work_dir, NULL, &div, &last), ST_OK);
    if (div.height)
        fail_msg("replay diverged at %llu: %s", (unsigned long long)div.height, div.what);
    assert_memory_equal(last.state_root, out->state_root, LEDGER_HASH_SIZE);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", work_dir);
    assert_int_equal(system(cmd), 0);
    node_fx_open(&f);
    node_fx_end(&f);
    buf_fini(&inner);
    buf_fini(&outer);
}

static void test_restart_mid_tree(void **state)
{
    (void)state;
    ledger_tip t[3];
    buf r[3] = {{0}, {0}, {0}};
    run_tree(false, false, &t[0], &r[0]);
    run_tree(false, true, &t[1], &r[1]);
    run_tree(true, true, &t[2], &r[2]);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].len, 6);
        assert_memory_equal(r[i].ptr, "RRdeep", 6);
    }
    node_tip_assert_equal(&t[1], &t[2]); /* restarts change nothing */
    for (int i = 0; i < 3; i++)
        buf_fini(&r[i]);
}

/* ---- a random call graph ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* A random relay argument: a call from a canister to a random target (one of n canisters, a
 * missing one, itself) with a random mode and method; `call` nests another one. */
static void random_arg(uint64_t *rng, uint64_t first, uint32_t n, int depth, buf *out)
{
    static const char *const methods[] = {"echo", "reject", "trap", "noreply", "missing",
                                          "call", "call", "call"};
    static const uint8_t modes[] = {0, 0, 1, 2, 3, 8, 16, 17};
    uint64_t r = rng_next(rng);
    uint64_t target = r % 16 == 0 ? first + n + 5 : first + (r >> 8) % n;
    const char *method = methods[(r >> 16) % (depth >= 3 ? 5 : 8)];
    uint8_t mode = modes[(r >> 24) % 8];
    buf payload = {0};
    if (!strcmp(method, "call"))
        random_arg(rng, first, n, depth + 1, &payload);
    else
        assert_int_equal(buf_put(&payload, "p", 1), ST_OK);
    call_arg(out, target, mode, method, span_of(payload.ptr, payload.len));
    buf_fini(&payload);
}


/* The cycle accounts balance after every round (docs/canisters.md "Cycles"): minted =
 * balances + attached to calls in flight + burned + fees. */
static void conserved(fx *f, uint64_t seed)
{
    scheduler_cycles cy;
    scheduler_cycles_get(f->s, &cy);
    if (cy.minted != cy.balances + cy.in_flight + cy.burned + cy.fees)
        fail_msg("seed %llu: cycles not conserved", (unsigned long long)seed);
}

/* Random canisters calling each other with traps, rejects, cleanups and missing callees, with a
 * round budget that spreads trees over rounds: after every round the routing invariants hold;
 * every message gets exactly one receipt and then nothing stays open; a restart after every
 * round changes no block; replay from genesis agrees. */
static void run_random(uint64_t seed, bool restart, ledger_tip *out)
{
    enum { CANISTERS = 4, MESSAGES = 60 };
    fx f;
    node_fx_init(&f, 11);
    f.g.round_instruction_limit = 40000; /* trees spread over rounds */
    node_fx_start(&f);
    uint64_t first = 0;
    for (int i = 0; i < CANISTERS; i++) {
        uint64_t id = deploy_relay(&f);
        first = first ? first : id;
    }
    uint64_t rng = seed;
    uint8_t ids[MESSAGES][32];
    buf arg = {0};
    char why[160];
    for (int m = 0; m < MESSAGES; m++) {
        random_arg(&rng, first, CANISTERS, 0, &arg);
        uint64_t from = first + rng_next(&rng) % CANISTERS;
        node_fx_submit(&f, LEDGER_MSG_UPDATE, from, "call", span_of(arg.ptr, arg.len), ids[m]);
        if (m % 7 == 6) {
            round1(&f);
            if (scheduler_routing_check(f.s, why, sizeof why) != ST_OK)
                fail_msg("seed %llu: %s", (unsigned long long)seed, why);
            conserved(&f, seed);
            if (restart) {
                node_fx_close(&f);
                node_fx_open(&f);
            }
        }
    }
    bool work = true;
    for (int r = 0; work; r++) {
        assert_true(r < 400);
        round1(&f);
        if (scheduler_routing_check(f.s, why, sizeof why) != ST_OK)
            fail_msg("seed %llu: %s", (unsigned long long)seed, why);
        conserved(&f, seed);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
        assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    }
    for (int m = 0; m < MESSAGES; m++) {
        ledger_receipt rc;
        if (!node_fx_receipt(&f, ids[m], &rc, NULL))
            fail_msg("seed %llu: message %d has no receipt", (unsigned long long)seed, m);
    }
    for (int i = 0; i < CANISTERS; i++) {
        scheduler_routing ro;
        assert_int_equal(scheduler_canister_routing(f.s, first + (uint64_t)i, &ro), ST_OK);
        assert_int_equal(ro.queued, 0);
        assert_int_equal(ro.contexts, 0);
        assert_int_equal(ro.callbacks, 0);
    }
    *out = node_fx_tip(&f);
    const char *bad_chain = node_chain_check(f.lg, out);
    if (bad_chain)
        fail_msg("%s", bad_chain);
    if (!restart) {
        char work_dir[96];
        snprintf(work_dir, sizeof work_dir, "%s-replay", f.dir);
        node_fx_close(&f);
        scheduler_divergence div;
        ledger_tip last;
        assert_int_equal(scheduler_replay(f.dir, work_dir, NULL, &div, &last), ST_OK);
        if (div.height)
            fail_msg("replay diverged at %llu: %s", (unsigned long long)div.height, div.what);
        node_tip_assert_equal(&last, out);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", work_dir);
        assert_int_equal(system(cmd), 0);
        node_fx_open(&f);
    }
    buf_fini(&arg);
    node_fx_end(&f);
}

static void test_random_call_graph(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        ledger_tip t[2];
        run_random(seed * 0x9e3779b97f4a7c15ull, false, &t[0]);
        run_random(seed * 0x9e3779b97f4a7c15ull, true, &t[1]);
        node_tip_assert_equal(&t[0], &t[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_reply),
        cmocka_unit_test(test_reject_codes),
        cmocka_unit_test(test_call_traps),
        cmocka_unit_test(test_callback_trap_cleanup),
        cmocka_unit_test(test_chain_and_self),
        cmocka_unit_test(test_restart_mid_tree),
        cmocka_unit_test(test_random_call_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
