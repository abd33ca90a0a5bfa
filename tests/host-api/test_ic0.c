/* test_ic0.c - every implemented ic0 function of host-api/ic0.c through the test canister
 * api.wat: normal use, out-of-bounds pointers (including ptr+len wrapping past 2^32), calls in
 * forbidden contexts, and limits (reply size, stable memory cap, instruction charges). */
#include "host_fixture.h"

static host_config cfg;
static host_code *api;
static host_canister *can;

static buf printed;
static int prints;

static void sink(void *user, span self, span text)
{
    (void)user, (void)self;
    prints++;
    printed.len = 0;
    assert_int_equal(buf_put(&printed, text.ptr, text.len), ST_OK);
}

/* Encodes up to 4 u64 slots as the argument. */
typedef struct args {
    uint8_t b[32];
    size_t n;
} args;

static args A(int n, uint64_t a, uint64_t b, uint64_t c)
{
    args r = {{0}, (size_t)n * 8};
    le64_store(r.b, a);
    le64_store(r.b + 8, b);
    le64_store(r.b + 16, c);
    return r;
}

static host_result call_a(const char *method, args a)
{
    return fx_call(can, HOST_CALL_UPDATE, method, a.b, a.n);
}

static host_result call0(const char *method)
{
    return fx_call(can, HOST_CALL_UPDATE, method, NULL, 0);
}

static void expect_trap(host_result r, status st, const char *text)
{
    if (r.st != st)
        fail_msg("expected %s, got %s: %.*s", status_name(st), status_name(r.st), (int)r.bytes.len,
                 (const char *)r.bytes.ptr);
    assert_int_equal(r.kind, HOST_RESPONSE_REJECT);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_ERROR);
    assert_false(r.committed);
    if (text && !fx_says(&r, text))
        fail_msg("trap text lacks \"%s\": %.*s", text, (int)r.bytes.len,
                 (const char *)r.bytes.ptr);
    host_result_fini(&r);
}

static uint64_t reply64(host_result r)
{
    assert_int_equal(r.st, ST_OK);
    uint64_t v = fx_u64(&r);
    host_result_fini(&r);
    return v;
}

static int setup(void **state)
{
    (void)state;
    host_config_default(&cfg);
    cfg.debug_sink = sink;
    cfg.max_stable_pages = 4;
    cfg.max_reply_bytes = 4096;
    buf w = {0};
    fx_read_file(API_WASM, &w);
    engine_error err;
    status st = host_code_new(&cfg, span_of(w.ptr, w.len), &api, &err);
    buf_fini(&w);
    if (st != ST_OK)
        fail_msg("api.wasm: %s %s", status_name(st), err.detail);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    host_code_free(api);
    buf_fini(&printed);
    fx_cleanup();
    return 0;
}

/* A fresh canister per test. */
static int before(void **state)
{
    (void)state;
    can = fx_canister(&cfg, api);
    span ctl = span_of(fx_caller, sizeof fx_caller);
    assert_int_equal(host_canister_set_controllers(can, &ctl, 1), ST_OK);
    return 0;
}

static int after(void **state)
{
    (void)state;
    host_canister_free(can);
    can = NULL;
    return 0;
}

static void test_arg_data(void **state)
{
    (void)state;
    host_result r = fx_call(can, HOST_CALL_UPDATE, "echo", "hello", 5);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.kind, HOST_RESPONSE_REPLY);
    assert_true(r.committed);
    assert_int_equal(r.bytes.len, 5);
    assert_memory_equal(r.bytes.ptr, "hello", 5);
    host_result_fini(&r);
    /* partial copy at an offset: arg is 24 bytes; copy [8, 24) to 2048 */
    r = call_a("arg_copy", A(3, 2048, 8, 16));
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    /* destination past the heap (64 KiB), and dst+size wrapping past 2^32 */
    expect_trap(call_a("arg_copy", A(3, 65530, 0, 10)), ST_HOST_OOB, "msg_arg_data_copy");
    expect_trap(call_a("arg_copy", A(3, 0xfffffff0u, 0, 0x18)), ST_HOST_OOB, NULL);
    /* blob range: offset+size past the argument, and offset+size wrapping */
    expect_trap(call_a("arg_copy", A(3, 0, 20, 5)), ST_CONTRACT_VIOLATION, "blob");
    expect_trap(call_a("arg_copy", A(3, 0, 0xffffffffu, 2)), ST_CONTRACT_VIOLATION, NULL);
    /* size 0 at the very end of the heap and of the blob is fine */
    r = call_a("arg_copy", A(3, 65536, 24, 0));
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
}

static void test_caller_and_self(void **state)
{
    (void)state;
    host_result r = call0("caller");
    assert_int_equal(r.bytes.len, sizeof fx_caller);
    assert_memory_equal(r.bytes.ptr, fx_caller, sizeof fx_caller);
    host_result_fini(&r);
    r = fx_call(can, HOST_CALL_QUERY, "self", NULL, 0);
    assert_int_equal(r.bytes.len, sizeof fx_self);
    assert_memory_equal(r.bytes.ptr, fx_self, sizeof fx_self);
    host_result_fini(&r);
    expect_trap(call_a("caller_copy", A(3, 0xffffffffu, 0, 2)), ST_HOST_OOB, "msg_caller_copy");
    expect_trap(call_a("caller_copy", A(3, 0, 1, 5)), ST_CONTRACT_VIOLATION, NULL);
    expect_trap(call_a("self_copy", A(3, 65535, 0, 2)), ST_HOST_OOB, "canister_self_copy");
    expect_trap(call_a("self_copy", A(3, 0, 11, 0)), ST_CONTRACT_VIOLATION, NULL);
}

static void test_reply_and_reject(void **state)
{
    (void)state;
    expect_trap(call0("reply_twice"), ST_REPLY_TWICE, "already replied");
    expect_trap(call0("append_after_reply"), ST_REPLY_TWICE, NULL);
    expect_trap(call0("reject_after_reply"), ST_REPLY_TWICE, NULL);
    expect_trap(call_a("append", A(2, 0xffffffffu, 1, 0)), ST_HOST_OOB, "msg_reply_data_append");
    expect_trap(call_a("append", A(2, 1, 0xffffffffu, 0)), ST_HOST_OOB, NULL);
    /* reply size limit (4096 in this config) */
    expect_trap(call_a("append", A(2, 0, 4097, 0)), ST_REPLY_TOO_LARGE, NULL);
    host_result r = call_a("append", A(2, 0, 4096, 0));
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.bytes.len, 4096);
    host_result_fini(&r);

    r = fx_call(can, HOST_CALL_UPDATE, "reject", "nope", 4);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.kind, HOST_RESPONSE_REJECT);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_REJECT);
    assert_true(r.committed); /* a reject is a normal outcome: state is kept */
    assert_int_equal(r.bytes.len, 4);
    assert_memory_equal(r.bytes.ptr, "nope", 4);
    host_result_fini(&r);
    r = call0("append_then_reject"); /* the appended data is discarded */
    assert_int_equal(r.kind, HOST_RESPONSE_REJECT);
    assert_int_equal(r.bytes.len, 0);
    host_result_fini(&r);
    expect_trap(fx_call(can, HOST_CALL_UPDATE, "reject", "\xff\xfe", 2), ST_REJECT_NOT_UTF8, NULL);
    expect_trap(call_a("reject_p", A(2, 65535, 2, 0)), ST_HOST_OOB, "msg_reject");

    /* no reply: the IC rejects with code 5 but keeps the state changes */
    r = call0("no_reply");
    assert_int_equal(r.st, ST_NO_REPLY);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_ERROR);
    assert_true(r.committed);
    host_result_fini(&r);
    assert_int_equal(reply64(fx_call(can, HOST_CALL_QUERY, "peek", NULL, 0)), 42);
    r = fx_call(can, HOST_CALL_QUERY, "q_no_reply", NULL, 0);
    assert_int_equal(r.st, ST_NO_REPLY);
    assert_false(r.committed);
    host_result_fini(&r);
}

static void test_status_version_time(void **state)
{
    (void)state;
    assert_int_equal(reply64(call0("status")), HOST_STATUS_RUNNING);
    host_canister_set_status(can, HOST_STATUS_STOPPING);
    assert_int_equal(reply64(call0("status")), HOST_STATUS_STOPPING);
    /* install made version 1; each committed update adds 1 after it ran */
    uint64_t v = reply64(call0("version"));
    assert_int_equal(reply64(call0("version")), v + 1);
    assert_int_equal(host_canister_version(can), v + 2);
    assert_int_equal(reply64(call0("time")), 1700000000000000000ull);
    assert_int_equal(reply64(call0("time_twice")), 0);
    assert_int_equal(reply64(call0("deadline")), 0);
    assert_int_equal(reply64(call0("cert_present")), 0);
    assert_int_equal(reply64(call0("env_count")), 0);
    assert_int_equal(reply64(call0("repl")), 1);
    assert_int_equal(reply64(fx_call(can, HOST_CALL_QUERY, "q_repl", NULL, 0)), 0);
    /* a query method called as an update runs replicated */
    assert_int_equal(reply64(call0("q_repl")), 1);
}

static void test_performance_counter(void **state)
{
    (void)state;
    uint64_t d = reply64(call0("perf"));
    assert_true(d >= 200); /* at least the second call's own charge */
    assert_true(d < 1000);
    assert_true(reply64(call_a("perf_p", A(1, 1, 0, 0))) > 0);
    expect_trap(call_a("perf_p", A(1, 2, 0, 0)), ST_CONTRACT_VIOLATION, "counter type");
}

static void test_timer_and_certified_data(void **state)
{
    (void)state;
    assert_int_equal(reply64(call_a("timer", A(1, 1000, 0, 0))), 0);
    assert_int_equal(host_canister_timer(can), 1000);
    assert_int_equal(reply64(call_a("timer", A(1, 0, 0, 0))), 1000);
    assert_int_equal(host_canister_timer(can), 0);
    expect_trap(fx_call(can, HOST_CALL_QUERY, "q_timer", NULL, 0), ST_CONTRACT_VIOLATION,
                "cannot be executed in non-replicated query mode");

    host_result r = fx_call(can, HOST_CALL_UPDATE, "cert", "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    span cd = host_canister_certified_data(can);
    assert_int_equal(cd.len, 32);
    assert_memory_equal(cd.ptr, "0123456789abcdef0123456789abcdef", 32);
    expect_trap(fx_call(can, HOST_CALL_UPDATE, "cert", "0123456789abcdef0123456789abcdef!", 33),
                ST_CONTRACT_VIOLATION, "at most 32");
    expect_trap(call_a("cert_p", A(2, 65535, 2, 0)), ST_HOST_OOB, "certified_data_set");
    expect_trap(fx_call(can, HOST_CALL_QUERY, "q_cert", NULL, 0), ST_CONTRACT_VIOLATION, NULL);
    assert_int_equal(host_canister_certified_data(can).len, 32); /* traps changed nothing */
}

static void test_is_controller(void **state)
{
    (void)state;
    assert_int_equal(
        reply64(fx_call(can, HOST_CALL_UPDATE, "is_ctrl", fx_caller, sizeof fx_caller)), 1);
    assert_int_equal(reply64(fx_call(can, HOST_CALL_UPDATE, "is_ctrl", "\x01\x02", 2)), 0);
    expect_trap(fx_call(can, HOST_CALL_UPDATE, "is_ctrl", "0123456789abcdef0123456789abcdef", 30),
                ST_CONTRACT_VIOLATION, "principal");
    expect_trap(call_a("is_ctrl_p", A(2, 0xfffffffeu, 4, 0)), ST_HOST_OOB, "is_controller");
}

static void test_debug_print_and_trap(void **state)
{
    (void)state;
    prints = 0;
    host_result r = fx_call(can, HOST_CALL_UPDATE, "print", "hi there", 8);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    assert_int_equal(prints, 1);
    assert_int_equal(printed.len, 8);
    assert_memory_equal(printed.ptr, "hi there", 8);
    /* out of bounds: never traps, prints a fixed text */
    r = call_a("print_p", A(2, 0xfffffff0u, 0x20, 0));
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    assert_int_equal(prints, 2);
    assert_true(printed.len > 0 && memcmp(printed.ptr, "(debug", 6) == 0);

    expect_trap(fx_call(can, HOST_CALL_UPDATE, "trap", "boom!", 5), ST_CANISTER_CALLED_TRAP,
                "boom!");
    expect_trap(call_a("trap_p", A(2, 0xfffffff0u, 0x20, 0)), ST_HOST_OOB, "ic0.trap");
}

static void test_forbidden_contexts(void **state)
{
    (void)state;
    expect_trap(call0("method_name"), ST_CONTRACT_VIOLATION,
                "ic0.msg_method_name_size cannot be executed in update mode");
    expect_trap(call0("accept"), ST_CONTRACT_VIOLATION, "ic0.accept_message cannot be executed");
    expect_trap(call0("reject_code"), ST_CONTRACT_VIOLATION, "ic0.msg_reject_code");
    expect_trap(call0("reject_msg_size"), ST_CONTRACT_VIOLATION, "ic0.msg_reject_msg_size");

    /* inspect: method name allowed, accept_message once */
    host_result r = fx_call(can, HOST_CALL_INSPECT, "echo", "x", 1);
    assert_int_equal(r.st, ST_OK);
    assert_true(r.accepted);
    host_result_fini(&r);
    r = fx_call(can, HOST_CALL_INSPECT, "echo", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    assert_false(r.accepted);
    host_result_fini(&r);
    expect_trap(fx_call(can, HOST_CALL_INSPECT, "echo", "xy", 2), ST_CONTRACT_VIOLATION, "twice");

    /* calls into the wrong kind of method */
    r = fx_call(can, HOST_CALL_QUERY, "echo", NULL, 0);
    assert_int_equal(r.st, ST_METHOD_NOT_FOUND);
    assert_int_equal(r.instructions, 0);
    assert_true(fx_says(&r, "'echo' is an update method"));
    host_result_fini(&r);
    r = call0("nonexistent");
    assert_int_equal(r.st, ST_METHOD_NOT_FOUND);
    assert_true(fx_says(&r, "no update method 'nonexistent'"));
    host_result_fini(&r);
    /* the reject codes receipts carry (IC interface specification, "Reject codes") */
    assert_int_equal(host_reject_code(ST_OK), 0);
    assert_int_equal(host_reject_code(ST_CANISTER_REJECTED), 4);
    assert_int_equal(host_reject_code(ST_UNKNOWN_CANISTER), 3);
    assert_int_equal(host_reject_code(ST_CANISTER_BUSY), 2);
    assert_int_equal(host_reject_code(ST_METHOD_NOT_FOUND), 5);
    assert_int_equal(host_reject_code(ST_CANISTER_CALLED_TRAP), 5);
}

static void test_stable32(void **state)
{
    (void)state;
    assert_int_equal(reply64(call0("ss")), 0);
    assert_int_equal(reply64(call_a("sg", A(1, 1, 0, 0))), 0);
    assert_int_equal(reply64(call0("ss")), 1);
    /* write the argument's slot 1 bytes (at heap 1024+8) to stable 100, read them back */
    host_result r = call_a("sw", A(3, 100, 1024 + 8, 8));
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    r = call_a("sr", A(3, 3000, 100, 8));
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.bytes.len, 8);
    assert_int_equal(le64_load(r.bytes.ptr), 1024 + 8);
    host_result_fini(&r);
    span st = host_canister_stable(can);
    assert_int_equal(st.len, 65536);
    assert_int_equal(le64_load(st.ptr + 100), 1024 + 8);
    /* stable range: off+size past 64 KiB, and wrapping past 2^32 */
    expect_trap(call_a("sw", A(3, 65530, 0, 10)), ST_STABLE_OOB, "stable_write");
    expect_trap(call_a("sw", A(3, 0xfffffff0u, 0, 0x20)), ST_STABLE_OOB, NULL);
    expect_trap(call_a("sr", A(3, 0, 65530, 10)), ST_STABLE_OOB, "stable_read");
    /* heap range */
    expect_trap(call_a("sw", A(3, 0, 0xfffffff0u, 0x20)), ST_HOST_OOB, NULL);
    expect_trap(call_a("sr", A(3, 65535, 0, 2)), ST_HOST_OOB, NULL);
    /* the cap (4 pages here): growing past it returns -1, nothing changes */
    assert_int_equal(reply64(call_a("sg", A(1, 4, 0, 0))), 0xffffffffu);
    assert_int_equal(reply64(call_a("sg", A(1, 3, 0, 0))), 1);
    assert_int_equal(reply64(call_a("sg", A(1, 1, 0, 0))), 0xffffffffu);
    assert_int_equal(reply64(call0("ss")), 4);
}

static void test_stable64(void **state)
{
    (void)state;
    assert_int_equal(reply64(call0("s64s")), 0);
    assert_int_equal(reply64(call_a("s64g", A(1, 2, 0, 0))), 0);
    assert_int_equal(reply64(call0("s64s")), 2);
    host_result r = call_a("s64w", A(3, 70000, 1024 + 16, 8)); /* crosses into page 2 */
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    r = call_a("s64r", A(3, 3000, 70000, 8));
    assert_int_equal(le64_load(r.bytes.ptr), 8);
    host_result_fini(&r);
    expect_trap(call_a("s64w", A(3, 131070, 0, 4)), ST_STABLE_OOB, "stable64_write");
    expect_trap(call_a("s64w", A(3, UINT64_MAX - 2, 0, 8)), ST_STABLE_OOB, NULL); /* wraps */
    expect_trap(call_a("s64r", A(3, 0, UINT64_MAX, 2)), ST_STABLE_OOB, NULL);
    expect_trap(call_a("s64w", A(3, 0, UINT64_MAX - 2, 8)), ST_HOST_OOB, NULL);
    expect_trap(call_a("s64r", A(3, 1ull << 32, 0, 1)), ST_HOST_OOB, NULL);
    assert_int_equal(reply64(call_a("s64g", A(1, UINT64_MAX, 0, 0))), UINT64_MAX);
    assert_int_equal(reply64(call_a("s64g", A(1, 3, 0, 0))), UINT64_MAX); /* cap 4 */
    assert_int_equal(reply64(call_a("s64g", A(1, 2, 0, 0))), 2);
    assert_int_equal(reply64(call0("s64s")), 4);
    assert_int_equal(reply64(call0("ss")), 4);
}

static void test_query_changes_nothing(void **state)
{
    (void)state;
    buf before = {0};
    span h = host_canister_heap(can);
    assert_int_equal(buf_put(&before, h.ptr, h.len), ST_OK);
    uint64_t v = host_canister_version(can);
    host_result r = fx_call(can, HOST_CALL_QUERY, "q_write", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    assert_false(r.committed);
    host_result_fini(&r);
    r = call0("q_write"); /* as a replicated query: still discarded */
    assert_int_equal(r.st, ST_OK);
    assert_false(r.committed);
    host_result_fini(&r);
    h = host_canister_heap(can);
    assert_int_equal(h.len, before.len);
    assert_memory_equal(h.ptr, before.ptr, h.len);
    assert_int_equal(host_canister_stable(can).len, 0);
    assert_int_equal(host_canister_version(can), v);
    assert_int_equal(reply64(call0("g_inc")), 1); /* the global was restored (77 discarded) */
    buf_fini(&before);
}

static void test_trap_rolls_back(void **state)
{
    (void)state;
    assert_int_equal(reply64(call_a("s64g", A(1, 1, 0, 0))), 0);
    host_result r = call_a("s64w", A(3, 0, 1024 + 8, 8));
    host_result_fini(&r);
    assert_int_equal(reply64(call0("g_inc")), 1);
    host_canister_dirty_clear(can);
    buf heap = {0}, stable = {0};
    span h = host_canister_heap(can), s = host_canister_stable(can);
    assert_int_equal(buf_put(&heap, h.ptr, h.len), ST_OK);
    assert_int_equal(buf_put(&stable, s.ptr, s.len), ST_OK);
    uint64_t v = host_canister_version(can);

    expect_trap(call0("mutate_trap"), ST_TRAP_UNREACHABLE, NULL);

    h = host_canister_heap(can);
    s = host_canister_stable(can);
    assert_int_equal(h.len, heap.len);
    assert_memory_equal(h.ptr, heap.ptr, h.len);
    assert_int_equal(s.len, stable.len);
    assert_memory_equal(s.ptr, stable.ptr, s.len);
    assert_int_equal(host_canister_version(can), v);
    assert_int_equal(host_canister_timer(can), 0);
    assert_int_equal(host_canister_certified_data(can).len, 0);
    host_dirty d;
    host_canister_dirty(can, &d);
    for (uint64_t i = 0; i < d.heap_bytes / HOST_PAGE_SIZE; i++)
        assert_false((d.heap_bits[i / 8] >> (i % 8)) & 1);
    assert_int_equal(reply64(call0("msize")), 1); /* the memory.grow was undone */
    assert_int_equal(reply64(call0("g_inc")), 2); /* the global.set was undone */
    assert_int_equal(reply64(call0("s64s")), 1);  /* the stable grow was undone */
    /* and the same changes without the trap are kept, with their pages dirty */
    host_canister_dirty_clear(can);
    r = call0("mutate_ok");
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    assert_int_equal(reply64(call0("msize")), 2);
    host_canister_dirty(can, &d);
    assert_int_equal(d.heap_bytes, 131072);
    assert_true(d.heap_bits[0] & 1);                    /* page 0 holds byte 100 */
    assert_true((d.heap_bits[17 / 8] >> (17 % 8)) & 1); /* byte 70000 is in 4 KiB page 17 */
    assert_false((d.heap_bits[20 / 8] >> (20 % 8)) & 1);
    buf_fini(&heap);
    buf_fini(&stable);
}

static void test_charges_per_byte(void **state)
{
    (void)state;
    static uint8_t zeros[300];
    host_result r0 = fx_call(can, HOST_CALL_UPDATE, "charge", zeros, 0);
    host_result r1 = fx_call(can, HOST_CALL_UPDATE, "charge", zeros, 100);
    host_result r2 = fx_call(can, HOST_CALL_UPDATE, "charge", zeros, 300);
    /* msg_arg_data_copy and debug_print charge 1 per byte each */
    assert_int_equal(r1.instructions - r0.instructions, 200);
    assert_int_equal(r2.instructions - r0.instructions, 600);
    host_result_fini(&r0);
    host_result_fini(&r1);
    host_result_fini(&r2);
}

static void test_instruction_limit(void **state)
{
    (void)state;
    host_msg m = fx_msg("spin", NULL, 0);
    m.instruction_limit = 1000000;
    host_result r1, r2;
    assert_int_equal(host_canister_call(can, HOST_CALL_UPDATE, &m, &r1), ST_OK);
    assert_int_equal(host_canister_call(can, HOST_CALL_UPDATE, &m, &r2), ST_OK);
    assert_int_equal(r1.st, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_int_equal(r1.instructions, 1000000); /* capped at the limit, as on the IC */
    assert_int_equal(r1.instructions, r2.instructions);
    host_result_fini(&r1);
    host_result_fini(&r2);
    /* a host call's charge alone can exceed the limit: 600-byte echo with a 700 limit */
    static uint8_t big[600];
    m = fx_msg("charge", big, sizeof big);
    m.instruction_limit = 700;
    assert_int_equal(host_canister_call(can, HOST_CALL_UPDATE, &m, &r1), ST_OK);
    assert_int_equal(r1.st, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_int_equal(r1.instructions, 700); /* not the whole per-byte charge */
    host_result_fini(&r1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arg_data, before, after),
        cmocka_unit_test_setup_teardown(test_caller_and_self, before, after),
        cmocka_unit_test_setup_teardown(test_reply_and_reject, before, after),
        cmocka_unit_test_setup_teardown(test_status_version_time, before, after),
        cmocka_unit_test_setup_teardown(test_performance_counter, before, after),
        cmocka_unit_test_setup_teardown(test_timer_and_certified_data, before, after),
        cmocka_unit_test_setup_teardown(test_is_controller, before, after),
        cmocka_unit_test_setup_teardown(test_debug_print_and_trap, before, after),
        cmocka_unit_test_setup_teardown(test_forbidden_contexts, before, after),
        cmocka_unit_test_setup_teardown(test_stable32, before, after),
        cmocka_unit_test_setup_teardown(test_stable64, before, after),
        cmocka_unit_test_setup_teardown(test_query_changes_nothing, before, after),
        cmocka_unit_test_setup_teardown(test_trap_rolls_back, before, after),
        cmocka_unit_test_setup_teardown(test_charges_per_byte, before, after),
        cmocka_unit_test_setup_teardown(test_instruction_limit, before, after),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
