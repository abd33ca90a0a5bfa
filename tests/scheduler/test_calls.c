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
#include "candid_util.h"

typedef node_fx fx;

/* A chain without fees (the calls' own cycles still move, and are conserved): the examples
 * attach no cycles for the IC's creation fee (tests/scheduler/test_cycles.c tests fees). */
static void start(fx *f)
{
    node_fx_init(f, 9);
    scheduler_fees_zero(&f->g);
    node_fx_start(f);
}

static uint64_t deploy_relay(fx *f)
{
    return node_fx_deploy_file(f, RELAY_WASM);
}

static void round1(fx *f)
{
    node_fx_round(f);
}

static void submit_call(fx *f, uint64_t from, uint64_t target, uint8_t mode, const char *method,
                        const char *payload, uint8_t id[LEDGER_HASH_SIZE])
{
    buf b = {0};
    node_relay_arg(&b, target, mode, method, span_of(payload, strlen(payload)));
    node_fx_submit(f, LEDGER_MSG_UPDATE, from, "call", span_of(b.ptr, b.len), id);
    buf_fini(&b);
}

/* Runs rounds until id has a receipt (at most max); copies its reply into *reply. */
static ledger_receipt wait_receipt(fx *f, const uint8_t id[LEDGER_HASH_SIZE], int max, buf *reply)
{
    ledger_receipt rc;
    node_fx_run_until(f, id, max, &rc);
    if (reply) {
        reply->len = 0;
        assert_int_equal(buf_put(reply, rc.reply.ptr, rc.reply.len), ST_OK);
    }
    return rc;
}

/* relay's stats: calls, callbacks, cleanups. */
static void stats(fx *f, uint64_t cid, uint32_t out[3])
{
    uint8_t b[12];
    node_fx_query_bytes(f, cid, "stats", sizeof b, b);
    for (int i = 0; i < 3; i++)
        out[i] = le32_load(b + 4 * i);
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

/* Replays f's chain from genesis into a scratch directory (f is closed meanwhile, then
 * reopened): every block must match, and the replayed tip must be `tip`. */
static void replay_equal(fx *f, const ledger_tip *tip)
{
    char work_dir[96], cmd[128];
    snprintf(work_dir, sizeof work_dir, "%s-replay", f->dir);
    node_fx_close(f);
    scheduler_divergence div;
    ledger_tip last;
    assert_int_equal(scheduler_replay(f->dir, work_dir, NULL, &div, &last), ST_OK);
    if (div.height)
        fail_msg("replay diverged at %llu: %s", (unsigned long long)div.height, div.what);
    node_tip_assert_equal(&last, tip);
    snprintf(cmd, sizeof cmd, "rm -rf %s", work_dir);
    assert_int_equal(system(cmd), 0);
    node_fx_open(f);
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
        {0, "reject", "no", 4, "no"},                        /* CANISTER_REJECT */
        {0, "trap", "", 5, "CANISTER_CALLED_TRAP"},          /* CANISTER_ERROR: callee trapped */
        {0, "missing", "", 5, "no update method 'missing'"}, /* CANISTER_ERROR: no method */
        {0, "noreply", "", 5, "NO_REPLY"},                   /* CANISTER_ERROR: no reply */
        {0, "stats", "", 0, NULL},                           /* a query method runs replicated */
        {999, "echo", "", 3, "no such canister"},            /* DESTINATION_INVALID */
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
    node_relay_arg(&inner, c, 0, "echo", span_of("x", 1));
    buf outer = {0};
    node_relay_arg(&outer, b, 0, "call", span_of(inner.ptr, inner.len));
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
    node_relay_arg(&inner, c, 1, "echo", span_of("deep", 4));
    node_relay_arg(&outer, b, 0, "call", span_of(inner.ptr, inner.len));
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
    replay_equal(&f, out); /* replay from genesis reaches the same blocks */
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

/* ---- the management canister ------------------------------------------------------------------ */

/* relay `from` calls aaaaa-aa.method(candid); returns the receipt's reply ("R"... or "J"...). */
static void mgmt_via(fx *f, uint64_t from, const char *method, const buf *candid, buf *reply)
{
    buf a = {0};
    node_relay_arg(&a, 0, 0, method, span_of(candid->ptr, candid->len));
    uint8_t id[32];
    node_fx_submit(f, LEDGER_MSG_UPDATE, from, "call", span_of(a.ptr, a.len), id);
    ledger_receipt rc = wait_receipt(f, id, 3, reply);
    assert_int_equal(rc.status, ST_OK);
    buf_fini(&a);
}

/* The canister id in a create_canister reply (after relay's "R"). */
static uint64_t created_id(const buf *r)
{
    assert_true(r->len > 11 && r->ptr[0] == 'R');
    const uint8_t *p = r->ptr + r->len - 10;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | p[i];
    return id;
}

/* A factory: a canister creates a child through aaaaa-aa (it becomes its controller), installs
 * code in it, calls it, reads its status, stops, starts, stops and deletes it; others may not
 * touch it; the node restarts in the middle and replay agrees. */
static void test_management_canister(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    buf c = {0}, r = {0};
    assert_int_equal(buf_put(&c, "DIDL\x01\x6c\x00\x01\x00", 9), ST_OK); /* record {} */
    mgmt_via(&f, a, "create_canister", &c, &r);
    uint64_t child = created_id(&r);
    assert_int_equal(child, b + 1);
    /* install relay into the child: A controls it, B does not */
    node_install_arg(&c, child, 2, span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0));
    mgmt_via(&f, b, "install_code", &c, &r);
    assert_true(reply_is(&r, "J\x05", 2) && reply_has(&r, "not a controller"));
    mgmt_via(&f, a, "install_code", &c, &r);
    assert_int_equal(r.len, 7);
    assert_memory_equal(r.ptr, "RDIDL\x00\x00", 7);
    mgmt_via(&f, a, "install_code", &c, &r); /* install twice: not empty */
    assert_true(reply_is(&r, "J\x05", 2) && reply_has(&r, "use reinstall or upgrade"));
    uint8_t id[32];
    submit_call(&f, a, child, 0, "echo", "kid", id);
    wait_receipt(&f, id, 2, &r);
    assert_true(reply_is(&r, "Rkid", 4));
    /* upgrade and reinstall keep working through the same path */
    node_install_arg(&c, child, 1, span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0));
    mgmt_via(&f, a, "install_code", &c, &r);
    assert_true(reply_is(&r, "RDIDL", 5));
    node_install_arg(&c, child, 0, span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0));
    mgmt_via(&f, a, "install_code", &c, &r);
    assert_true(reply_is(&r, "RDIDL", 5));
    /* status: running, A among the controllers */
    node_id_record(&c, child);
    mgmt_via(&f, a, "canister_status", &c, &r);
    assert_true(reply_is(&r, "RDIDL", 5));
    node_fx_close(&f); /* a restart in between changes nothing */
    node_fx_open(&f);
    /* stop: calls to it are rejected; start; stop and delete; then it is gone */
    mgmt_via(&f, a, "stop_canister", &c, &r);
    assert_true(reply_is(&r, "RDIDL", 5));
    submit_call(&f, a, child, 0, "echo", "kid", id);
    wait_receipt(&f, id, 2, &r);
    assert_true(reply_is(&r, "J\x05", 2) && reply_has(&r, "stopping or stopped"));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, child, "echo", span_of("x", 1), id);
    ledger_receipt rc = wait_receipt(&f, id, 1, NULL);
    assert_int_equal(rc.status, ST_CANISTER_STOPPED);
    mgmt_via(&f, a, "delete_canister", &c, &r);
    assert_true(reply_is(&r, "RDIDL", 5));
    submit_call(&f, a, child, 0, "echo", "kid", id);
    wait_receipt(&f, id, 2, &r);
    assert_true(reply_is(&r, "J\x03", 2));
    mgmt_via(&f, a, "no_such_method", &c, &r);
    assert_true(reply_is(&r, "J\x05", 2));
    /* raw_rand by ingress: 32 bytes, different each call */
    uint8_t id2[32];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, 0, "raw_rand", span_of("DIDL\x00\x00", 6), id);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, 0, "raw_rand", span_of("DIDL\x00\x00", 6), id2);
    buf r2 = {0};
    wait_receipt(&f, id, 1, &r);
    wait_receipt(&f, id2, 1, &r2);
    assert_int_equal(r.len, 42);
    assert_memory_equal(r.ptr, "DIDL\x01\x6d\x7b\x01\x00\x20", 10);
    assert_int_equal(r2.len, 42);
    assert_memory_not_equal(r.ptr + 10, r2.ptr + 10, 32);
    /* the admin creates by ingress and controls the result */
    node_fx_submit(&f, LEDGER_MSG_UPDATE, 0, "create_canister",
                   span_of("DIDL\x01\x6c\x00\x01\x00", 9), id);
    rc = wait_receipt(&f, id, 1, &r);
    assert_int_equal(rc.status, ST_OK);
    /* DIDL, 1 type: record { canister_id (5-byte LEB id) : principal }, 1 argument, the id */
    assert_int_equal(r.len, 4 + 1 + 2 + 5 + 1 + 2 + 2 + 10);
    assert_int_equal(r.ptr[r.len - 3], (uint8_t)(child + 1)); /* the next id after the child */
    ledger_tip tip = node_fx_tip(&f);
    const char *bad_chain = node_chain_check(f.lg, &tip);
    if (bad_chain)
        fail_msg("%s", bad_chain);
    replay_equal(&f, &tip);
    buf_fini(&c);
    buf_fini(&r);
    buf_fini(&r2);
    node_fx_end(&f);
}

/* stop_canister waits for the canister's open call contexts: with one queued message per
 * round, the stop is answered only after the call tree the canister started has finished. */
static void test_stop_waits(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 9);
    f.g.round_instruction_limit = 1;
    node_fx_start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    uint8_t call_id[32], stop_id[32];
    submit_call(&f, a, b, 0, "echo", "w", call_id);
    round1(&f); /* a's call is out: a has an open context */
    buf c = {0};
    node_id_record(&c, a);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, 0, "stop_canister", span_of(c.ptr, c.len), stop_id);
    ledger_receipt rc;
    int rounds = 0;
    while (!node_fx_receipt(&f, stop_id, &rc, NULL)) {
        assert_true(++rounds < 20);
        round1(&f);
    }
    assert_int_equal(rc.status, ST_OK);
    ledger_receipt call_rc;
    assert_true(node_fx_receipt(&f, call_id, &call_rc, NULL)); /* the call finished first */
    assert_true(call_rc.height <= rc.height);
    assert_int_equal(call_rc.status, ST_OK);
    buf_fini(&c);
    node_fx_end(&f);
}

/* ---- the example canisters: token + exchange, factory -------------------------------------------- */

#ifdef EXAMPLES_DIR
static uint64_t deploy_file(fx *f, const char *name, span init)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.wasm", EXAMPLES_DIR, name);
    f->wasm.len = 0;
    test_read_file(path, &f->wasm);
    buf arg = {0};
    assert_int_equal(scheduler_install_arg(span_of(f->wasm.ptr, f->wasm.len), init, &arg), ST_OK);
    uint8_t id[32];
    node_fx_submit(f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "", span_of(arg.ptr, arg.len), id);
    ledger_receipt rc = wait_receipt(f, id, 1, NULL);
    assert_int_equal(rc.status, ST_OK);
    buf_fini(&arg);
    return node_fx_tip(f).next_canister_id - 1;
}

static ledger_receipt update(fx *f, uint64_t cid, const char *method, const void *arg, size_t n,
                             buf *reply)
{
    uint8_t id[32];
    node_fx_submit(f, LEDGER_MSG_UPDATE, cid, method, span_of(arg, n), id);
    return wait_receipt(f, id, 3, reply);
}

/* update with a Candid argument given as text (printf format). */
static ledger_receipt update_c(fx *f, uint64_t cid, const char *method, buf *reply,
                               const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    buf a = {0};
    candid_args(&a, "%s", text);
    ledger_receipt rc = update(f, cid, method, a.ptr, a.len, reply);
    buf_fini(&a);
    return rc;
}

/* An exchange pays from its token account by calling the token (Candid both ways): replies, a
 * refusal, and a reply callback that traps (its change undone, cleanup run, the token's
 * transfer kept). */
static void test_token_exchange(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t token = deploy_file(&f, "token", span_of(NULL, 0));
    char tid[64], xid[64];
    buf init = {0}, r = {0};
    candid_args(&init, "(principal \"%s\")", candid_canister_text(token, tid));
    uint64_t exchange = deploy_file(&f, "exchange", span_of(init.ptr, init.len));
    candid_canister_text(exchange, xid);
    ledger_receipt rc = update_c(&f, token, "transfer", &r, "(principal \"%s\", 1000 : nat)",
                                 xid); /* fund the exchange */
    assert_int_equal(rc.status, ST_OK);
    const char *someone = "(principal \"aaaaa-aa\", %d : nat)";
    rc = update_c(&f, exchange, "pay", &r, someone, 300);
    assert_int_equal(rc.status, ST_OK);
    assert_true(candid_is(span_of(r.ptr, r.len), "(700 : nat)")); /* the exchange's balance */
    rc = update_c(&f, exchange, "pay", &r, someone, 5000);
    assert_int_equal(rc.status, ST_CANISTER_REJECTED);
    assert_true(reply_has(&r, "token: insufficient funds"));
    rc = update_c(&f, exchange, "pay_broken", &r, someone, 100);
    assert_int_equal(rc.status, ST_CANISTER_CALLED_TRAP);
    assert_true(reply_has(&r, "pay_broken: the reply callback traps"));
    rc = update_c(&f, exchange, "pay", &r, "(principal \"aaaaa-aa\", -1 : int)");
    assert_int_equal(rc.status, ST_CANISTER_REJECTED);
    assert_true(reply_has(&r, "pay: expected (principal, nat)"));
    host_result q;
    assert_int_equal(scheduler_query(f.s, exchange, span_of("stats", 5), span_of(NULL, 0),
                                     span_of(NULL, 0), &q),
                     ST_OK);
    /* paid: the broken one was undone; open orders: cleanup freed it */
    assert_true(candid_is(span_of(q.bytes.ptr, q.bytes.len),
                          "(record { paid = 300 : nat; rejected = 1 : nat; open = 0 : nat; "
                          "cleanups = 1 : nat })"));
    host_result_fini(&q);
    candid_args(&init, "(principal \"%s\")", xid);
    assert_int_equal(scheduler_query(f.s, token, span_of("balance", 7),
                                     span_of(init.ptr, init.len), span_of(NULL, 0), &q),
                     ST_OK);
    /* the token kept the third transfer */
    assert_true(candid_is(span_of(q.bytes.ptr, q.bytes.len), "(600 : nat)"));
    host_result_fini(&q);
    buf_fini(&init);
    buf_fini(&r);
    node_fx_end(&f);
}

/* A factory creates a child through aaaaa-aa (Candid both ways) and installs counter.wasm in
 * it; the child works. */
static void test_factory(void **state)
{
    (void)state;
    fx f;
    start(&f);
    uint64_t factory = deploy_file(&f, "factory", span_of(NULL, 0));
    buf counter = {0}, r = {0}, arg = {0};
    char path[512], cid[64], want[128];
    snprintf(path, sizeof path, "%s/counter.wasm", EXAMPLES_DIR);
    test_read_file(path, &counter);
    /* (blob): DIDL, one type (vec nat8), one argument of type 0, LEB128 length, bytes */
    assert_int_equal(buf_put(&arg, "DIDL\1\x6d\x7b\1\0", 9), ST_OK);
    uint8_t leb[10];
    size_t k = 0;
    for (size_t n = counter.len;; n >>= 7) {
        leb[k++] = (uint8_t)((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
        if (n < 0x80)
            break;
    }
    assert_int_equal(buf_put(&arg, leb, k), ST_OK);
    assert_int_equal(buf_put(&arg, counter.ptr, counter.len), ST_OK);
    ledger_receipt rc = update(&f, factory, "spawn", arg.ptr, arg.len, &r);
    if (rc.status != ST_OK)
        fail_msg("spawn: %s %.*s", status_name((status)rc.status), (int)r.len,
                 (const char *)r.ptr);
    uint64_t child = factory + 1;
    snprintf(want, sizeof want, "(principal \"%s\")", candid_canister_text(child, cid));
    assert_true(candid_is(span_of(r.ptr, r.len), want));
    rc = update(&f, child, "inc", NULL, 0, &r);
    assert_int_equal(rc.status, ST_OK);
    assert_true(candid_is(span_of(r.ptr, r.len), "(1 : nat)"));
    host_result q;
    assert_int_equal(scheduler_query(f.s, factory, span_of("children", 8), span_of(NULL, 0),
                                     span_of(NULL, 0), &q),
                     ST_OK);
    assert_true(candid_is(span_of(q.bytes.ptr, q.bytes.len), "(1 : nat)"));
    host_result_fini(&q);
    rc = update_c(&f, factory, "spawn", &r, "(\"not a blob\")");
    assert_int_equal(rc.status, ST_CANISTER_REJECTED);
    assert_true(reply_has(&r, "spawn: expected (blob)"));
    /* the factory controls the child, the admin does not: its upgrade is refused */
    buf up = {0};
    assert_int_equal(
        scheduler_install_arg(span_of(counter.ptr, counter.len), span_of(NULL, 0), &up), ST_OK);
    uint8_t id[32];
    node_fx_submit(&f, LEDGER_MSG_UPGRADE, child, "", span_of(up.ptr, up.len), id);
    rc = wait_receipt(&f, id, 1, NULL);
    assert_int_equal(rc.status, ST_NOT_AUTHORIZED);
    buf_fini(&up);
    buf_fini(&arg);
    buf_fini(&counter);
    buf_fini(&r);
    node_fx_end(&f);
}
#endif

static void conserved(fx *f, uint64_t seed);

/* ---- best-effort calls --------------------------------------------------------------------------- */

static uint64_t u64_reply(const buf *r, size_t at)
{
    assert_true(r->len >= at + 8);
    return le64_load(r->ptr + at);
}

/* The balance of canister cid. */
static u128 balance(fx *f, uint64_t cid)
{
    u128 b = 0;
    assert_int_equal(scheduler_canister_cycles(f->s, cid, &b), ST_OK);
    return b;
}

/* msg_deadline: 0 for ingress and guaranteed calls; block time + min(timeout, 300 s) in the
 * callee of a best-effort call. A callee that cannot answer in time (its canister is busy with a
 * sliced message): the caller's reject callback gets SYS_UNKNOWN (6) "timeout" in the first
 * round whose block time is past the deadline, with no refund; the callee still runs the request
 * later, and its response is dropped (the callback runs once), the attached cycles burned; the
 * routing invariants and cycle conservation hold after every round, across a restart, and
 * replay agrees. */
static void test_best_effort(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 9);
    scheduler_fees_zero(&f.g);
    f.g.slice_instructions = 20000; /* slow.wat's `slow` spans rounds */
    node_fx_start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f);
    f.wasm.len = 0;
    test_read_file(SLOW_WASM, &f.wasm);
    uint64_t slow = node_fx_deploy(&f);
    uint8_t id[32], sid[32];
    buf r = {0};
    node_fx_submit(&f, LEDGER_MSG_UPDATE, b, "deadline", span_of(NULL, 0), id);
    wait_receipt(&f, id, 1, &r);
    assert_int_equal(u64_reply(&r, 0), 0); /* ingress */
    submit_call(&f, a, b, 0, "deadline", "", id);
    wait_receipt(&f, id, 1, &r);
    assert_true(reply_is(&r, "R", 1));
    assert_int_equal(u64_reply(&r, 1), 0); /* a guaranteed call */
    submit_call(&f, a, b, 64, "deadline", "", id);
    wait_receipt(&f, id, 1, &r);
    assert_true(reply_is(&r, "R", 1));
    assert_int_equal(u64_reply(&r, 1), f.time + 300ull * 1000000000u); /* 1000 s capped */
    submit_call(&f, a, b, 32, "deadline", "", id);
    wait_receipt(&f, id, 1, &r);
    assert_int_equal(u64_reply(&r, 1), f.time); /* timeout 0: the call's block time */

    /* the timeout */
    u128 a0 = balance(&f, a);
    scheduler_cycles cy0;
    scheduler_cycles_get(f.s, &cy0);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, slow, "slow", span_of(NULL, 0), sid);
    round1(&f); /* slow is paused */
    ledger_receipt rc;
    assert_false(node_fx_receipt(&f, sid, &rc, NULL));
    submit_call(&f, a, slow, 32 | 128, "quick", "", id);
    round1(&f); /* the request waits in slow's queue; the deadline is this block's time */
    assert_false(node_fx_receipt(&f, id, &rc, NULL));
    assert_true(balance(&f, a) == a0 - 1000);
    bool work = false;
    assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    assert_true(work);
    round1(&f);
    assert_true(node_fx_receipt(&f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    static const char want[] = "J\x06timeout";
    assert_true(rc.reply.len > sizeof want - 1);
    assert_memory_equal(rc.reply.ptr, want, sizeof want - 1);
    assert_true(balance(&f, a) == a0 - 1000); /* no refund with the timeout */
    uint32_t st[3];
    stats(&f, a, st);
    uint32_t callbacks = st[1];
    node_fx_close(&f); /* the expired callback and the queued request survive a restart */
    node_fx_open(&f);
    char why[160];
    for (int i = 0; i < 200 && !node_fx_receipt(&f, sid, &rc, NULL); i++) {
        round1(&f);
        if (scheduler_routing_check(f.s, why, sizeof why) != ST_OK)
            fail_msg("%s", why);
        conserved(&f, 0);
    }
    assert_true(node_fx_receipt(&f, sid, &rc, NULL));
    for (int i = 0; i < 3; i++)
        round1(&f);
    assert_int_equal(node_fx_query_get(&f, slow), 2); /* slow, then the late `quick` */
    stats(&f, a, st);
    assert_int_equal(st[1], callbacks); /* the late response was dropped */
    scheduler_cycles cy;
    scheduler_cycles_get(f.s, &cy);
    assert_true(cy.burned == cy0.burned + 1000); /* its refund is burned */
    assert_true(balance(&f, a) == a0 - 1000);
    conserved(&f, 0);
    assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    assert_false(work);
    ledger_tip tip = node_fx_tip(&f);
    replay_equal(&f, &tip);
    buf_fini(&r);
    node_fx_end(&f);
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
 * missing one, itself) with a random mode and method; `call` nests another one. With `be`,
 * some calls are best-effort (timeout 0) or carry cycles. */
static void random_arg(uint64_t *rng, uint64_t first, uint32_t n, int depth, bool be, buf *out)
{
    static const char *const methods[] = {"echo",    "reject", "trap", "noreply",
                                          "missing", "call",   "call", "call"};
    static const uint8_t modes[] = {0, 0, 1, 2, 3, 8, 16, 17};
    uint64_t r = rng_next(rng);
    uint64_t target = r % 16 == 0 ? first + n + 5 : first + (r >> 8) % n;
    const char *method = methods[(r >> 16) % (depth >= 3 ? 5 : 8)];
    uint8_t mode = modes[(r >> 24) % 8];
    if (be) {
        mode |= (r >> 32) % 4 == 0 ? 32 : 0;  /* best-effort, timeout 0: expires next round */
        mode |= (r >> 40) % 4 == 0 ? 128 : 0; /* 1000 cycles attached */
    }
    buf payload = {0};
    if (!strcmp(method, "call"))
        random_arg(rng, first, n, depth + 1, be, &payload);
    else
        assert_int_equal(buf_put(&payload, "p", 1), ST_OK);
    node_relay_arg(out, target, mode, method, span_of(payload.ptr, payload.len));
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
/* The kinds of paused message (1 << SCHEDULER_PAUSED_*) canisters first .. first + n - 1 hold. */
static unsigned paused_kinds(fx *f, uint64_t first, uint32_t n)
{
    unsigned mask = 0;
    for (uint32_t i = 0; i < n; i++) {
        scheduler_routing ro;
        assert_int_equal(scheduler_canister_routing(f->s, first + i, &ro), ST_OK);
        mask |= 1u << ro.paused;
    }
    return mask;
}

static void run_random(uint64_t seed, bool restart, uint64_t slice, ledger_tip *out, buf *outcome,
                       unsigned *paused, uint32_t *timeouts)
{
    enum { CANISTERS = 4, MESSAGES = 60 };
    fx f;
    node_fx_init(&f, 11);
    f.g.round_instruction_limit = 40000; /* trees spread over rounds */
    if (slice) { /* storage fees would differ with the number of blocks: none */
        f.g.slice_instructions = slice;
        scheduler_fees_zero(&f.g);
    }
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
        random_arg(&rng, first, CANISTERS, 0, timeouts != NULL, &arg);
        uint64_t from = first + rng_next(&rng) % CANISTERS;
        node_fx_submit(&f, LEDGER_MSG_UPDATE, from, "call", span_of(arg.ptr, arg.len), ids[m]);
        if (m % 7 == 6) {
            round1(&f);
            *paused |= paused_kinds(&f, first, CANISTERS);
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
        assert_true(r < 2000);
        round1(&f);
        *paused |= paused_kinds(&f, first, CANISTERS);
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
        if (timeouts) {
            buf reply = {0};
            assert_int_equal(buf_put(&reply, rc.reply.ptr, rc.reply.len), ST_OK);
            *timeouts += reply_has(&reply, "\x06timeout");
            buf_fini(&reply);
        }
        if (outcome) { /* what the message ended with: status, instructions, reply */
            uint8_t head[12];
            le32_store(head, rc.status);
            le64_store(head + 4, rc.instructions);
            assert_int_equal(buf_put(outcome, head, sizeof head), ST_OK);
            assert_int_equal(buf_put(outcome, rc.reply.ptr, rc.reply.len), ST_OK);
        }
    }
    for (int i = 0; i < CANISTERS; i++) {
        scheduler_routing ro;
        assert_int_equal(scheduler_canister_routing(f.s, first + (uint64_t)i, &ro), ST_OK);
        assert_int_equal(ro.queued, 0);
        assert_int_equal(ro.contexts, 0);
        assert_int_equal(ro.callbacks, 0);
        assert_int_equal(ro.paused, SCHEDULER_PAUSED_NONE);
        uint32_t st[3];
        stats(&f, first + (uint64_t)i, st);
        if (outcome)
            assert_int_equal(buf_put(outcome, st, sizeof st), ST_OK);
    }
    *out = node_fx_tip(&f);
    const char *bad_chain = node_chain_check(f.lg, out);
    if (bad_chain)
        fail_msg("%s", bad_chain);
    if (!restart)
        replay_equal(&f, out);
    buf_fini(&arg);
    node_fx_end(&f);
}

static void test_random_call_graph(void **state)
{
    (void)state;
    uint32_t timeouts = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        ledger_tip t[2];
        unsigned paused = 0;
        run_random(seed * 0x9e3779b97f4a7c15ull, false, 0, &t[0], NULL, &paused, &timeouts);
        run_random(seed * 0x9e3779b97f4a7c15ull, true, 0, &t[1], NULL, &paused, &timeouts);
        node_tip_assert_equal(&t[0], &t[1]);
    }
    assert_true(timeouts > 0); /* best-effort calls did time out */
    printf("random call graphs: %u replies carry a best-effort timeout\n", timeouts);
}

/* The random call graph with a 1-instruction slice: every message, request, callback and
 * cleanup pauses at each function entry it reaches after its first instructions; the
 * invariants hold after every round, a restart after every round changes no block, replay
 * agrees, and every message ends as in the unsliced run (a slice of 2^64-1): status,
 * instructions and reply, and the canisters' counters. (Not the state root: the order in
 * which a canister's messages run differs, and relay.wat keeps the last argument in memory.) */
static void test_random_call_graph_sliced(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        ledger_tip t[3];
        buf o[2] = {{0}, {0}};
        unsigned paused[2] = {0, 0};
        run_random(seed * 0x9e3779b97f4a7c15ull, false, UINT64_MAX, &t[0], &o[0], &paused[0],
                   NULL);
        run_random(seed * 0x9e3779b97f4a7c15ull, false, 1, &t[1], &o[1], &paused[1], NULL);
        run_random(seed * 0x9e3779b97f4a7c15ull, true, 1, &t[2], NULL, &paused[1], NULL);
        assert_int_equal(paused[0], 1u << SCHEDULER_PAUSED_NONE);
        /* between rounds, canisters were paused in every kind of message */
        assert_int_equal(paused[1],
                         (1u << SCHEDULER_PAUSED_NONE) | (1u << SCHEDULER_PAUSED_INGRESS) |
                             (1u << SCHEDULER_PAUSED_REQUEST) | (1u << SCHEDULER_PAUSED_CALLBACK) |
                             (1u << SCHEDULER_PAUSED_CLEANUP));
        node_tip_assert_equal(&t[1], &t[2]);
        assert_true(t[1].height > t[0].height + 10);
        assert_int_equal(o[0].len, o[1].len);
        assert_memory_equal(o[0].ptr, o[1].ptr, o[0].len);
        buf_fini(&o[0]);
        buf_fini(&o[1]);
    }
}

/* ---- time slicing of requests and callbacks (docs/scheduler.md) ------------------------------- */

typedef struct slow_out {
    ledger_tip tip;
    ledger_receipt rc[4];
    buf reply[4];
    uint64_t first; /* the height of the block with the three calls */
    bool paused_request;
} slow_out;

static uint64_t deploy_slow(fx *f)
{
    f->wasm.len = 0;
    test_read_file(SLOW_WASM, &f->wasm);
    return node_fx_deploy(f);
}

/* Relay a calls slow.wat's `slow` (~700,000 instructions), b its `quick` (queued behind it), c
 * calls b's echo, all in one block; then an ingress `quick` to the slow canister. In slices of
 * `slice`, with the node closed and reopened after every round if `restart`. */
static void run_slow(uint64_t slice, bool restart, slow_out *o)
{
    fx f;
    node_fx_init(&f, 12);
    scheduler_fees_zero(&f.g); /* storage fees would depend on the number of blocks */
    f.g.slice_instructions = slice;
    node_fx_start(&f);
    uint64_t a = deploy_relay(&f), b = deploy_relay(&f), c = deploy_relay(&f);
    uint64_t sl = deploy_slow(&f);
    uint8_t id[4][32];
    submit_call(&f, a, sl, 0, "slow", "", id[0]);
    submit_call(&f, b, sl, 0, "quick", "", id[1]);
    submit_call(&f, c, b, 0, "echo", "z", id[2]);
    round1(&f);
    o->first = node_fx_tip(&f).height;
    node_fx_submit(&f, LEDGER_MSG_UPDATE, sl, "quick", span_of(NULL, 0), id[3]);
    o->paused_request = false;
    char why[160];
    for (int i = 0;; i++) {
        assert_true(i < 100);
        scheduler_routing ro;
        assert_int_equal(scheduler_canister_routing(f.s, sl, &ro), ST_OK);
        if (ro.paused == SCHEDULER_PAUSED_REQUEST) {
            o->paused_request = true;
            assert_int_equal(ro.queued, 1); /* b's request waits behind it */
        }
        if (scheduler_routing_check(f.s, why, sizeof why) != ST_OK)
            fail_msg("%s", why);
        conserved(&f, slice);
        bool work = true;
        assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
        if (!work)
            break;
        round1(&f);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
    }
    for (int k = 0; k < 4; k++) {
        assert_true(node_fx_receipt(&f, id[k], &o->rc[k], NULL));
        o->reply[k] = (buf){0};
        assert_int_equal(buf_put(&o->reply[k], o->rc[k].reply.ptr, o->rc[k].reply.len), ST_OK);
        o->rc[k].reply = span_of(o->reply[k].ptr, o->reply[k].len);
    }
    o->tip = node_fx_tip(&f);
    if (!restart)
        replay_equal(&f, &o->tip);
    node_fx_end(&f);
}

/* A request whose execution spans rounds: the callee takes no other message meanwhile (the
 * request queued behind it and an ingress message wait), other canisters' calls complete in
 * the first round, and everything ends as with one slice: replies, instructions, state root.
 * A node stopped after every round reaches the same chain; replay agrees. */
static void test_sliced_request(void **state)
{
    (void)state;
    slow_out whole, sliced, restarted;
    run_slow(UINT64_MAX, false, &whole);
    run_slow(50000, false, &sliced);
    run_slow(50000, true, &restarted);
    assert_false(whole.paused_request);
    assert_true(sliced.paused_request);
    node_tip_assert_equal(&sliced.tip, &restarted.tip);
    assert_memory_equal(whole.tip.state_root, sliced.tip.state_root, LEDGER_HASH_SIZE);
    static const uint8_t one[] = {'R', 1, 0, 0, 0}, two[] = {'R', 2, 0, 0, 0};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(whole.rc[k].height, whole.first);
        assert_int_equal(whole.rc[k].status, ST_OK);
        assert_int_equal(sliced.rc[k].status, ST_OK);
        assert_int_equal(whole.rc[k].instructions, sliced.rc[k].instructions);
        assert_int_equal(whole.reply[k].len, sliced.reply[k].len);
        assert_memory_equal(whole.reply[k].ptr, sliced.reply[k].ptr, whole.reply[k].len);
    }
    assert_memory_equal(sliced.reply[0].ptr, one, sizeof one); /* slow ran first, */
    assert_memory_equal(sliced.reply[1].ptr, two, sizeof two); /* then the request behind it */
    assert_true(sliced.rc[0].height > sliced.first + 10);      /* ~700,000 / 50,000 slices */
    assert_int_equal(sliced.rc[1].height, sliced.rc[0].height);
    assert_int_equal(sliced.rc[2].height, sliced.first); /* the others did not wait */
    /* the ingress message waited for the paused request: the counter's third increment */
    assert_true(sliced.rc[3].height >= sliced.rc[0].height);
    assert_int_equal(sliced.reply[3].len, 4);
    assert_int_equal(le32_load(sliced.reply[3].ptr), 3);
    for (int k = 0; k < 4; k++) {
        buf_fini(&whole.reply[k]);
        buf_fini(&sliced.reply[k]);
        buf_fini(&restarted.reply[k]);
    }
}

/* While a canister runs a paused request, a deposit to it (with cycles) and stop_canister
 * wait for the request (the request sees the balance it began with; the deposit's cycles are in
 * flight meanwhile): both are answered, the deposit first, in the round where the request ends,
 * and the canister is then stopped. */
static void test_stop_while_paused(void **state)
{
    (void)state;
    fx f;
    node_fx_init(&f, 15);
    scheduler_fees_zero(&f.g);
    f.g.slice_instructions = 50000;
    node_fx_start(&f);
    uint64_t a = deploy_relay(&f), sl = deploy_slow(&f);
    uint8_t call[32], stop[32], dep[32];
    submit_call(&f, a, sl, 0, "slow", "", call);
    round1(&f);
    buf c = {0}, arg = {0}, r = {0};
    node_id_record(&c, sl);
    u128 before = balance(&f, sl);
    node_relay_arg(&arg, 0, 128, "deposit_cycles", span_of(c.ptr, c.len));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "call", span_of(arg.ptr, arg.len), dep);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, "stop_canister",
                   span_of(c.ptr, c.len), stop);
    round1(&f);
    scheduler_routing ro;
    assert_int_equal(scheduler_canister_routing(f.s, sl, &ro), ST_OK);
    assert_int_equal(ro.paused, SCHEDULER_PAUSED_REQUEST);
    assert_int_equal(ro.waiting, 2);
    assert_true(balance(&f, sl) == before);
    conserved(&f, 0);
    ledger_receipt rs = wait_receipt(&f, stop, 30, NULL), rc, rd;
    assert_int_equal(rs.status, ST_OK);
    assert_true(node_fx_receipt(&f, call, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(rs.height, rc.height);
    assert_true(rc.height > 5); /* the request spanned rounds */
    assert_true(node_fx_receipt(&f, dep, &rd, NULL));
    assert_int_equal(rd.height, rc.height);
    assert_int_equal(rd.reply.len, 7);
    assert_memory_equal(rd.reply.ptr, "RDIDL\x00\x00", 7);
    assert_true(balance(&f, sl) == before + 1000);
    conserved(&f, 0);
    assert_int_equal(scheduler_canister_routing(f.s, sl, &ro), ST_OK);
    assert_int_equal(ro.paused, SCHEDULER_PAUSED_NONE);
    assert_int_equal(ro.waiting, 0);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, sl, "quick", span_of(NULL, 0), call);
    rc = wait_receipt(&f, call, 1, NULL);
    assert_int_equal(rc.status, ST_CANISTER_STOPPED);
    buf_fini(&c);
    buf_fini(&arg);
    buf_fini(&r);
    node_fx_end(&f);
}

/* ---- aaaaa-aa install_code in slices ----------------------------------------------------------- */

typedef struct life_out {
    ledger_tip tip;
    int rounds[4];    /* to the receipts of install, upgrade, failed reinstall, reinstall */
    uint32_t v[4][4]; /* lifecycle.wat's `get` after each */
    uint32_t status[4];
    bool paused;            /* install_code was seen paused */
    int canister_rounds;    /* a relay's install_code call: rounds to its receipt */
    bool caller_waited;     /* the relay's call context was open while it was paused */
    uint32_t canister_v[4]; /* `get` of the canister it installed */
    buf canister_reply;     /* the relay's receipt */
} life_out;

/* lifecycle.wat's 16 bytes of `get`, as 4 u32. */
static void life_get(fx *f, uint64_t cid, uint32_t out[4])
{
    host_result res;
    assert_int_equal(
        scheduler_query(f->s, cid, span_of("get", 3), span_of(NULL, 0), span_of(NULL, 0), &res),
        ST_OK);
    assert_int_equal(res.st, ST_OK);
    assert_int_equal(res.bytes.len, 16);
    for (int i = 0; i < 4; i++)
        out[i] = le32_load(res.bytes.ptr + 4 * i);
    host_result_fini(&res);
}

/* The admin creates a canister through aaaaa-aa by ingress, installs lifecycle.wat into it
 * (start and init long), upgrades it (pre_upgrade, start, post_upgrade long), reinstalls with
 * an init that traps (the state stays), and reinstalls; a relay's update runs meanwhile. In
 * slices of `slice`; the node closed and reopened after every round if `restart`. */
static void run_life(uint64_t slice, bool restart, life_out *o)
{
    fx f;
    node_fx_init(&f, 14);
    scheduler_fees_zero(&f.g);
    f.g.slice_instructions = slice;
    node_fx_start(&f);
    uint64_t a = deploy_relay(&f);
    buf c = {0}, wasm = {0};
    test_read_file(LIFECYCLE_WASM, &wasm);
    assert_int_equal(buf_put(&c, "DIDL\x01\x6c\x00\x01\x00", 9), ST_OK); /* record {} */
    uint8_t id[32], other[32];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, "create_canister",
                   span_of(c.ptr, c.len), id);
    ledger_receipt rc = wait_receipt(&f, id, 1, NULL);
    assert_int_equal(rc.status, ST_OK);
    uint64_t child = a + 1;
    buf r = {0}; /* a canister the relay creates (created here: its creation time is state) */
    mgmt_via(&f, a, "create_canister", &c, &r);
    uint64_t grand = created_id(&r);
    static const int modes[4] = {2, 1, 0, 0}; /* install, upgrade, reinstall (traps), reinstall */
    o->paused = false;
    char why[160];
    for (int k = 0; k < 4; k++) {
        node_install_arg(&c, child, modes[k], span_of(wasm.ptr, wasm.len),
                         span_of("x", k == 2 ? 1 : 0));
        node_fx_submit(&f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, "install_code",
                       span_of(c.ptr, c.len), id);
        submit_call(&f, a, a, 0, "echo", "e", other);
        for (o->rounds[k] = 1;; o->rounds[k]++) {
            assert_true(o->rounds[k] < 200);
            round1(&f);
            if (scheduler_routing_check(f.s, why, sizeof why) != ST_OK)
                fail_msg("%s", why);
            scheduler_routing ro;
            assert_int_equal(scheduler_canister_routing(f.s, child, &ro), ST_OK);
            if (ro.paused == SCHEDULER_PAUSED_INSTALL_CODE) {
                o->paused = true;
                /* the relay's call ran beside it; a query sees the state before it */
                assert_true(node_fx_receipt(&f, other, &rc, NULL));
                host_result res;
                assert_int_equal(scheduler_query(f.s, child, span_of("get", 3), span_of(NULL, 0),
                                                 span_of(NULL, 0), &res),
                                 ST_OK);
                assert_int_equal(res.st, k == 0 ? ST_CANISTER_EMPTY : ST_OK);
                host_result_fini(&res);
            }
            if (restart) {
                node_fx_close(&f);
                node_fx_open(&f);
            }
            if (node_fx_receipt(&f, id, &rc, NULL))
                break;
        }
        o->status[k] = rc.status;
        life_get(&f, child, o->v[k]);
    }
    /* the relay installs into the canister it created: its callback gets the answer when the
     * sliced install ends */
    buf a_arg = {0};
    node_install_arg(&c, grand, 2, span_of(wasm.ptr, wasm.len), span_of(NULL, 0));
    node_relay_arg(&a_arg, 0, 0, "install_code", span_of(c.ptr, c.len));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, a, "call", span_of(a_arg.ptr, a_arg.len), id);
    o->caller_waited = false;
    for (o->canister_rounds = 1;; o->canister_rounds++) {
        assert_true(o->canister_rounds < 200);
        round1(&f);
        conserved(&f, slice);
        scheduler_routing ro, ra;
        assert_int_equal(scheduler_canister_routing(f.s, grand, &ro), ST_OK);
        assert_int_equal(scheduler_canister_routing(f.s, a, &ra), ST_OK);
        if (ro.paused == SCHEDULER_PAUSED_INSTALL_CODE)
            o->caller_waited |= ra.contexts == 1 && ra.callbacks == 1;
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
        if (node_fx_receipt(&f, id, &rc, NULL))
            break;
    }
    assert_int_equal(rc.status, ST_OK);
    o->canister_reply = (buf){0};
    assert_int_equal(buf_put(&o->canister_reply, rc.reply.ptr, rc.reply.len), ST_OK);
    life_get(&f, grand, o->canister_v);
    buf_fini(&r);
    buf_fini(&a_arg);
    o->tip = node_fx_tip(&f);
    if (!restart)
        replay_equal(&f, &o->tip);
    buf_fini(&c);
    buf_fini(&wasm);
    node_fx_end(&f);
}

/* install_code through aaaaa-aa runs in slices like the admin's installs and upgrades: each
 * step spans rounds (the target takes nothing else, others run, queries see the state before
 * it), and ends as in one slice; a node stopped after every round reaches the same chain. */
static void test_install_code_sliced(void **state)
{
    (void)state;
    life_out whole, sliced, restarted;
    run_life(UINT64_MAX, false, &whole);
    run_life(50000, false, &sliced);
    run_life(50000, true, &restarted);
    assert_false(whole.paused);
    assert_true(sliced.paused);
    node_tip_assert_equal(&sliced.tip, &restarted.tip);
    /* from a canister: its callback answered with install_code's empty reply */
    static const uint8_t empty[] = {'R', 'D', 'I', 'D', 'L', 0, 0};
    static const uint32_t fresh[4] = {11, 22, 0, 0};
    assert_int_equal(whole.canister_rounds, 1);
    assert_true(sliced.canister_rounds > 5);
    assert_false(whole.caller_waited);
    assert_true(sliced.caller_waited);
    for (int k = 0; k < 2; k++) {
        const life_out *o = k ? &sliced : &whole;
        assert_int_equal(o->canister_reply.len, sizeof empty);
        assert_memory_equal(o->canister_reply.ptr, empty, sizeof empty);
        assert_memory_equal(o->canister_v, fresh, sizeof fresh);
    }
    buf_fini(&whole.canister_reply);
    buf_fini(&sliced.canister_reply);
    buf_fini(&restarted.canister_reply);
    assert_memory_equal(whole.tip.state_root, sliced.tip.state_root, LEDGER_HASH_SIZE);
    static const uint32_t v[4][4] = {
        {11, 22, 0, 0}, {11, 33, 11, 22}, {11, 33, 11, 22}, {11, 22, 0, 0}};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(whole.rounds[k], 1);
        assert_true(sliced.rounds[k] > 5); /* 600,000 to 900,000 instructions */
        assert_int_equal(whole.status[k], k == 2 ? ST_CANISTER_CALLED_TRAP : ST_OK);
        assert_int_equal(sliced.status[k], whole.status[k]);
        assert_memory_equal(whole.v[k], v[k], sizeof v[k]);
        assert_memory_equal(sliced.v[k], v[k], sizeof v[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_reply),        cmocka_unit_test(test_reject_codes),
        cmocka_unit_test(test_call_traps),        cmocka_unit_test(test_callback_trap_cleanup),
        cmocka_unit_test(test_chain_and_self),    cmocka_unit_test(test_restart_mid_tree),
        cmocka_unit_test(test_random_call_graph), cmocka_unit_test(test_random_call_graph_sliced),
        cmocka_unit_test(test_sliced_request),    cmocka_unit_test(test_install_code_sliced),
        cmocka_unit_test(test_stop_while_paused), cmocka_unit_test(test_management_canister),
        cmocka_unit_test(test_stop_waits),        cmocka_unit_test(test_best_effort),
#ifdef EXAMPLES_DIR
        cmocka_unit_test(test_token_exchange),    cmocka_unit_test(test_factory),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
