/* test_call.c - the ic0 call and message-cycles functions (host-api/call.c) on one canister,
 * without a scheduler: what a message's committed calls look like, every trap the spec lists
 * (call_perform / call_data_append / call_cycles_add without call_new, a second cleanup or
 * best-effort setting, more cycles than the balance, a bad callback index, calls from a query),
 * a full output queue, the callbacks (env, reply payload, reject code and message, refunds,
 * replying twice, cleanup), and accepting cycles. The canister is calls.wat (this folder). */
#include "host_fixture.h"

static host_config cfg;
static host_code *code;

static int setup(void **state)
{
    (void)state;
    host_config_default(&cfg);
    buf w = {0};
    fx_read_file(CALLS_WASM, &w);
    engine_error err;
    status st = host_code_new(&cfg, span_of(w.ptr, w.len), &code, &err);
    buf_fini(&w);
    if (st != ST_OK)
        fail_msg("calls.wasm: %s %s", status_name(st), err.detail);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    host_code_free(code);
    fx_cleanup();
    return 0;
}

/* Runs method (kind) with the call fields of m set by the caller. */
static host_result run(host_canister *c, host_call_kind kind, const char *method, host_msg m)
{
    host_msg base = fx_msg(method, NULL, 0);
    m.method = base.method;
    m.caller = base.caller;
    m.time = base.time;
    m.instruction_limit = base.instruction_limit;
    host_result r;
    assert_int_equal(host_canister_call(c, kind, &m, &r), ST_OK);
    return r;
}

static void expect_trap(host_canister *c, const char *method, host_msg m, status st,
                        const char *text)
{
    host_result r = run(c, HOST_CALL_UPDATE, method, m);
    if (r.st != st)
        fail_msg("%s: %s, expected %s (%.*s)", method, status_name(r.st), status_name(st),
                 (int)r.bytes.len, (const char *)r.bytes.ptr);
    assert_int_equal(r.ncalls, 0); /* a trapped message sends nothing */
    assert_true(r.cycles_sent == 0 && r.cycles_accepted == 0);
    if (text && !fx_says(&r, text))
        fail_msg("%s: %.*s lacks %s", method, (int)r.bytes.len, (const char *)r.bytes.ptr, text);
    host_result_fini(&r);
}

static void test_perform(void **state)
{
    (void)state;
    host_canister *c = fx_canister(&cfg, code);
    host_canister_cycles_set(c, 5000); /* the scheduler moves the attached cycles: it stays */
    host_result r = run(c, HOST_CALL_UPDATE, "perform", (host_msg){.call_room = 10});
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(fx_u64(&r), 0); /* call_perform succeeded */
    assert_int_equal(r.ncalls, 1);
    const host_call_out *o = &r.calls[0];
    assert_int_equal(o->callee_len, 10);
    assert_memory_equal(o->callee, "\0\0\0\0\0\0\0\x07\x01\x01", 10);
    assert_int_equal(o->method.len, 1);
    assert_memory_equal(o->method.ptr, "m", 1);
    assert_int_equal(o->arg.len, 3);
    assert_memory_equal(o->arg.ptr, "abc", 3);
    assert_true(o->cycles == 1000 && r.cycles_sent == 1000);
    assert_int_equal(o->reply_fun, 0);
    assert_int_equal(o->reply_env, 5);
    assert_int_equal(o->reject_fun, 1);
    assert_int_equal(o->reject_env, 6);
    assert_true(o->has_cleanup);
    assert_int_equal(o->cleanup_fun, 2);
    assert_int_equal(o->cleanup_env, 7);
    host_result_fini(&r);
    /* a full output queue: call_perform returns SYS_TRANSIENT and nothing leaves */
    r = run(c, HOST_CALL_UPDATE, "perform", (host_msg){.call_room = 0});
    assert_int_equal(fx_u64(&r), HOST_REJECT_SYS_TRANSIENT);
    assert_int_equal(r.ncalls, 0);
    assert_true(r.cycles_sent == 0);
    host_result_fini(&r);
    /* an update that made a call and did not reply keeps its context open: no NO_REPLY */
    r = run(c, HOST_CALL_UPDATE, "perform_quiet", (host_msg){.call_room = 1});
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.kind, HOST_RESPONSE_NONE);
    assert_int_equal(r.ncalls, 1);
    host_result_fini(&r);
    host_canister_free(c);
}

static void test_traps(void **state)
{
    (void)state;
    host_canister *c = fx_canister(&cfg, code);
    host_canister_cycles_set(c, 5000);
    host_msg m = {.call_room = 10};
    expect_trap(c, "add_too_much", m, ST_CONTRACT_VIOLATION, "cycles asked");
    expect_trap(c, "perform_alone", m, ST_CONTRACT_VIOLATION, "no call under construction");
    expect_trap(c, "data_alone", m, ST_CONTRACT_VIOLATION, "ic0.call_data_append");
    expect_trap(c, "add_alone", m, ST_CONTRACT_VIOLATION, "ic0.call_cycles_add");
    expect_trap(c, "cleanup_twice", m, ST_CONTRACT_VIOLATION, "already has a cleanup");
    expect_trap(c, "best_effort_twice", m, ST_CONTRACT_VIOLATION, "called twice");
    expect_trap(c, "bad_fun", m, ST_CONTRACT_VIOLATION, "table entry 99");
    host_canister_cycles_set(c, 999);
    expect_trap(c, "perform", m, ST_CONTRACT_VIOLATION, "cycles asked");
    host_canister_cycles_set(c, 5000);
    host_result r = run(c, HOST_CALL_QUERY, "q_call", m);
    assert_int_equal(r.st, ST_CONTRACT_VIOLATION);
    assert_true(fx_says(&r, "ic0.call_new cannot be executed in non-replicated query mode"));
    host_result_fini(&r);
    host_canister_free(c);
}

static void test_callbacks(void **state)
{
    (void)state;
    host_canister *c = fx_canister(&cfg, code);
    host_result r = run(
        c, HOST_CALL_REPLY, "",
        (host_msg){.cb_fun = 0, .cb_env = 41, .arg = span_of("pay", 3), .cycles_refunded = 77});
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.kind, HOST_RESPONSE_REPLY);
    assert_int_equal(r.bytes.len, 35);
    assert_int_equal(le32_load(r.bytes.ptr), 41);
    assert_int_equal(le32_load(r.bytes.ptr + 4), 0);
    assert_int_equal(le64_load(r.bytes.ptr + 8), 77);
    assert_int_equal(le64_load(r.bytes.ptr + 16), 77);
    assert_int_equal(le64_load(r.bytes.ptr + 24), 0);
    assert_memory_equal(r.bytes.ptr + 32, "pay", 3);
    host_result_fini(&r);
    r = run(c, HOST_CALL_REJECT, "",
            (host_msg){.cb_fun = 1, .cb_env = 9, .reject_code = 3, .arg = span_of("why", 3)});
    assert_int_equal(r.kind, HOST_RESPONSE_REPLY);
    assert_int_equal(r.bytes.len, 11);
    assert_int_equal(le32_load(r.bytes.ptr), 9);
    assert_int_equal(le32_load(r.bytes.ptr + 4), 3);
    assert_memory_equal(r.bytes.ptr + 8, "why", 3);
    host_result_fini(&r);
    /* the context was answered before: replying again traps */
    r = run(c, HOST_CALL_REPLY, "", (host_msg){.cb_fun = 0, .replied = true});
    assert_int_equal(r.st, ST_REPLY_TWICE);
    host_result_fini(&r);
    /* not a callback of the table */
    r = run(c, HOST_CALL_REPLY, "", (host_msg){.cb_fun = 99});
    assert_int_equal(r.st, ST_CONTRACT_VIOLATION);
    host_result_fini(&r);
    /* msg_reject_msg is only for reject callbacks: the reply callback's call traps */
    r = run(c, HOST_CALL_CLEANUP, "", (host_msg){.cb_fun = 2, .cb_env = 4});
    assert_int_equal(r.st, ST_OK);
    assert_true(r.committed);
    assert_int_equal(r.kind, HOST_RESPONSE_NONE);
    host_result_fini(&r);
    r = run(c, HOST_CALL_QUERY, "cleanups", (host_msg){0});
    assert_int_equal(fx_u64(&r), 4); /* cleanup's change was kept */
    host_result_fini(&r);
    host_canister_free(c);
}

static void test_accept(void **state)
{
    (void)state;
    host_canister *c = fx_canister(&cfg, code);
    host_result r = run(c, HOST_CALL_UPDATE, "accept", (host_msg){.cycles_available = 1000});
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.bytes.len, 48);
    assert_int_equal(le64_load(r.bytes.ptr), 300);      /* accepted */
    assert_int_equal(le64_load(r.bytes.ptr + 8), 700);  /* still available */
    assert_int_equal(le64_load(r.bytes.ptr + 16), 100); /* accept128 of 100 more */
    assert_int_equal(le64_load(r.bytes.ptr + 24), 0);
    assert_int_equal(le64_load(r.bytes.ptr + 32), 600); /* available128 */
    assert_true(r.cycles_accepted == 400);
    host_result_fini(&r);
    /* accepting more than available takes what there is */
    r = run(c, HOST_CALL_UPDATE, "accept", (host_msg){.cycles_available = 50});
    assert_int_equal(le64_load(r.bytes.ptr), 50);
    assert_true(r.cycles_accepted == 50);
    host_result_fini(&r);
    /* a trap gives accepted cycles back */
    r = run(c, HOST_CALL_UPDATE, "accept_then_trap", (host_msg){.cycles_available = 1000});
    assert_int_equal(r.st, ST_CANISTER_CALLED_TRAP);
    assert_true(r.cycles_accepted == 0);
    host_result_fini(&r);
    host_canister_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perform),
        cmocka_unit_test(test_traps),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_accept),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
