/* test_canister.c - the canister lifecycle of host-api/canister.c with the example canisters of
 * tests/canisters (counter, token, kv, loop, hello, echo) and small inline modules: install,
 * calls, upgrade (atomic), rollback, instruction limits, time slicing, dirty pages, and
 * allocation failures. The C examples speak Candid (tests/common/candid_util.h). */
#include "host_fixture.h"

#include "candid_util.h"

static host_config cfg;

static host_result call(host_canister *c, host_call_kind k, const char *m, const void *a, size_t n)
{
    return fx_call(c, k, m, a, n);
}

/* The value of a reply (n : nat) below 2^64: DIDL, no types, one argument of type nat, LEB128. */
static uint64_t nat_of(host_result r)
{
    if (r.st != ST_OK || r.kind != HOST_RESPONSE_REPLY)
        fail_msg("%s: %.*s", status_name(r.st), (int)r.bytes.len, (const char *)r.bytes.ptr);
    const uint8_t *p = r.bytes.ptr;
    assert_true(r.bytes.len > 7 && r.bytes.len <= 7 + 10);
    assert_memory_equal(p, "DIDL\0\1\x7d", 7);
    uint64_t v = 0;
    for (size_t i = 7; i < r.bytes.len; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * (i - 7));
        assert_true((p[i] & 0x80) != 0 || i == r.bytes.len - 1); /* the LEB128 ends the reply */
    }
    host_result_fini(&r);
    return v;
}

/* Calls method with the Candid text arg (printf format). */
static host_result call_c(host_canister *c, host_call_kind k, const char *m, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    buf a = {0};
    candid_args(&a, "%s", text);
    host_result r = fx_call(c, k, m, a.ptr, a.len);
    buf_fini(&a);
    return r;
}

static void expect_candid(host_result r, const char *text)
{
    if (r.st != ST_OK || r.kind != HOST_RESPONSE_REPLY)
        fail_msg("%s: %.*s", status_name(r.st), (int)r.bytes.len, (const char *)r.bytes.ptr);
    assert_true(candid_is(span_of(r.bytes.ptr, r.bytes.len), text));
    host_result_fini(&r);
}

/* The text form of principal bytes p[0..n) into out[64]. */
static const char *principal_text(const void *p, size_t n, char out[64])
{
    buf t = {0};
    assert_int_equal(candid_principal_print(p, n, &t), ST_OK);
    snprintf(out, 64, "%.*s", (int)t.len, (const char *)t.ptr);
    buf_fini(&t);
    return out;
}

static void expect_reject(host_result r, const char *text)
{
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.kind, HOST_RESPONSE_REJECT);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_REJECT);
    if (!fx_says(&r, text))
        fail_msg("reject lacks \"%s\": %.*s", text, (int)r.bytes.len, (const char *)r.bytes.ptr);
    host_result_fini(&r);
}

static host_result upgrade(host_canister *c, const host_code *code)
{
    host_msg m = fx_msg(NULL, NULL, 0);
    host_result r;
    assert_int_equal(host_canister_upgrade(c, code, &m, &r), ST_OK);
    return r;
}

static void test_counter(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "counter");
    host_canister *c = NULL;
    assert_int_equal(host_canister_new(&cfg, span_of(fx_self, sizeof fx_self), &c), ST_OK);
    buf five = {0};
    candid_args(&five, "(5 : nat)");
    host_msg m = fx_msg(NULL, five.ptr, five.len);
    host_result r;
    assert_int_equal(host_canister_install(c, code, &m, &r), ST_OK);
    assert_int_equal(r.st, ST_OK);
    assert_true(r.instructions > 0);
    host_result_fini(&r);
    assert_int_equal(host_canister_install(c, code, &m, &r), ST_CANISTER_NOT_EMPTY);
    buf_fini(&five);
    assert_int_equal(nat_of(call(c, HOST_CALL_QUERY, "get", NULL, 0)), 5);
    for (uint64_t i = 6; i <= 8; i++)
        assert_int_equal(nat_of(call(c, HOST_CALL_UPDATE, "inc", NULL, 0)), i);
    assert_int_equal(nat_of(call_c(c, HOST_CALL_UPDATE, "add", "(10 : nat)")), 18);
    /* not the method's types: a text, a nat64, a nat above 2^64, raw bytes, an extra byte */
    expect_reject(call_c(c, HOST_CALL_UPDATE, "add", "(\"ten\")"), "add: expected (nat)");
    expect_reject(call_c(c, HOST_CALL_UPDATE, "add", "(10 : nat64)"), "add: expected (nat)");
    expect_reject(call_c(c, HOST_CALL_UPDATE, "add", "(18446744073709551616 : nat)"),
                  "below 2^64");
    expect_reject(call(c, HOST_CALL_UPDATE, "add", "\x0a\0\0\0\0\0\0\0", 8), "add: expected");
    expect_reject(call(c, HOST_CALL_UPDATE, "add", "DIDL\0\1\x7d\x0a\0", 9), "add: expected");
    /* malformed messages (sdk/candid.h): magic, a truncated value, a type index out of range,
     * an extra vec null counting more elements than bytes left, nesting past IC_CR_DEPTH */
    expect_reject(call(c, HOST_CALL_UPDATE, "add", "DIDX\0\1\x7d\x05", 8), "add: expected");
    expect_reject(call(c, HOST_CALL_UPDATE, "add", "DIDL\0\1\x7d", 7), "add: expected");
    expect_reject(call(c, HOST_CALL_UPDATE, "add", "DIDL\0\1\x01\x05", 8), "add: expected");
    expect_reject(call(c, HOST_CALL_UPDATE, "add", "DIDL\1\x6d\x7f\2\x7d\0\x05\xff\xff\x03", 13),
                  "add: expected");
    uint8_t deep[64] = {'D', 'I', 'D', 'L', 1, 0x6e, 0, 2, 0x7d, 0, 5};
    memset(deep + 11, 1, 40); /* opt opt opt ... (recursive), 40 levels then null */
    expect_reject(call(c, HOST_CALL_UPDATE, "add", deep, 52), "add: expected");
    memset(deep + 11, 0, 1); /* the same type, a null at the first level: fine */
    assert_int_equal(nat_of(call(c, HOST_CALL_UPDATE, "add", deep, 12)), 23);
    assert_int_equal(nat_of(call_c(c, HOST_CALL_UPDATE, "add", "(18446744073709551611 : nat)")),
                     18); /* 23 + 2^64 - 5: wraps at 2^64 */
    /* extra arguments are skipped (spec "Deserialisation"), and the largest nat fits */
    assert_int_equal(nat_of(call_c(c, HOST_CALL_UPDATE, "add", "(2 : nat, \"x\", opt vec { 1 })")),
                     20);
    expect_candid(call_c(c, HOST_CALL_UPDATE, "set", "(18446744073709551615 : nat)"), "()");
    expect_candid(call(c, HOST_CALL_QUERY, "get", "DIDL\0\0", 6), "(18446744073709551615 : nat)");
    expect_candid(call_c(c, HOST_CALL_UPDATE, "set", "(18 : nat)"), "()");
    uint64_t v = host_canister_version(c);
    r = upgrade(c, code);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    assert_int_equal(host_canister_version(c), v + 1);
    assert_int_equal(nat_of(call(c, HOST_CALL_QUERY, "get", NULL, 0)), 18);
    assert_int_equal(nat_of(call(c, HOST_CALL_UPDATE, "inc", NULL, 0)), 19);
    host_canister_free(c);
    host_code_free(code);
}

static const uint8_t owner_account[32] = {5, 1, 2, 3, 4, 5};

static void test_token(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "token");
    host_canister *c = fx_canister(&cfg, code);
    char owner[64], bob[64], want[128];
    principal_text(owner_account + 1, owner_account[0], owner);
    principal_text("bob", 3, bob);
    snprintf(want, sizeof want, "(principal \"%s\")", owner);
    expect_candid(call(c, HOST_CALL_QUERY, "whoami", NULL, 0), want);
    const char *of_owner = want, *of_bob = "(principal \"%s\")";
    assert_int_equal(nat_of(call_c(c, HOST_CALL_QUERY, "balance", of_owner)), 1000000000);
    assert_int_equal(
        nat_of(call_c(c, HOST_CALL_UPDATE, "transfer", "(principal \"%s\", 250 : nat)", bob)),
        1000000000 - 250);
    assert_int_equal(nat_of(call_c(c, HOST_CALL_QUERY, "balance", of_bob, bob)), 250);
    expect_reject(
        call_c(c, HOST_CALL_UPDATE, "transfer", "(principal \"%s\", 2_000_000_000 : nat)", bob),
        "insufficient funds");
    expect_reject(call_c(c, HOST_CALL_UPDATE, "transfer", "(principal \"%s\", 2 : int)", bob),
                  "bad argument");
    expect_reject(call_c(c, HOST_CALL_UPDATE, "transfer", "(principal \"%s\")", bob),
                  "bad argument");
    assert_int_equal(nat_of(call_c(c, HOST_CALL_QUERY, "balance", of_bob, bob)), 250);
    assert_int_equal(nat_of(call_c(c, HOST_CALL_QUERY, "balance", of_owner)), 1000000000 - 250);
    host_result r = upgrade(c, code);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    assert_int_equal(nat_of(call_c(c, HOST_CALL_QUERY, "balance", of_bob, bob)), 250);
    assert_int_equal(nat_of(call_c(c, HOST_CALL_QUERY, "balance", of_owner)), 1000000000 - 250);
    assert_int_equal(nat_of(call(c, HOST_CALL_QUERY, "supply", NULL, 0)), 1000000000);
    host_canister_free(c);
    host_code_free(code);
}

static host_result kv_put(host_canister *c, const char *k, const char *v)
{
    return call_c(c, HOST_CALL_UPDATE, "put", "(\"%s\", \"%s\")", k, v);
}

/* get(k) replies (opt "v"), or (null) when v is NULL. */
static void kv_expect(host_canister *c, const char *k, const char *v)
{
    char want[256];
    snprintf(want, sizeof want, v ? "(opt \"%s\")" : "(null : opt text)", v);
    expect_candid(call_c(c, HOST_CALL_QUERY, "get", "(\"%s\")", k), want);
}

static void test_kv(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "kv");
    host_canister *c = fx_canister(&cfg, code);
    expect_candid(kv_put(c, "alpha", "one"), "()");
    expect_candid(kv_put(c, "beta", "two two"), "()");
    expect_candid(kv_put(c, "alpha", "uno"), "()");
    kv_expect(c, "alpha", "uno");
    kv_expect(c, "beta", "two two");
    kv_expect(c, "gamma", NULL);
    assert_int_equal(nat_of(call(c, HOST_CALL_QUERY, "count", NULL, 0)), 2);
    expect_candid(call_c(c, HOST_CALL_UPDATE, "del", "(\"beta\")"), "(true)");
    expect_candid(call_c(c, HOST_CALL_UPDATE, "del", "(\"beta\")"), "(false)");
    kv_expect(c, "beta", NULL);
    /* not (text, text): a blob key, one text, text that is not UTF-8 */
    expect_reject(call_c(c, HOST_CALL_UPDATE, "put", "(blob \"k\", \"v\")"), "bad argument");
    expect_reject(call_c(c, HOST_CALL_UPDATE, "put", "(\"k\")"), "bad argument");
    expect_reject(call(c, HOST_CALL_UPDATE, "put", "DIDL\0\2\x71\x71\1\xff\0", 11),
                  "bad argument");
    host_result r = upgrade(c, code);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    kv_expect(c, "alpha", "uno");
    assert_int_equal(nat_of(call(c, HOST_CALL_QUERY, "count", NULL, 0)), 1);
    host_canister_free(c);
    host_code_free(code);
}

static void test_hello_echo(void **state)
{
    (void)state;
    host_code *hello = fx_code_file(&cfg, "hello");
    host_code *echo = fx_code_file(&cfg, "echo");
    host_canister *h = fx_canister(&cfg, hello);
    host_canister *e = fx_canister(&cfg, echo);
    host_result r = call(h, HOST_CALL_QUERY, "greet", NULL, 0);
    assert_int_equal(r.bytes.len, 5);
    assert_memory_equal(r.bytes.ptr, "hello", 5);
    host_result_fini(&r);
    static uint8_t big[200000]; /* echo grows its memory to fit */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    r = call(e, HOST_CALL_UPDATE, "echo", big, sizeof big);
    assert_int_equal(r.bytes.len, sizeof big);
    assert_memory_equal(r.bytes.ptr, big, sizeof big);
    host_result_fini(&r);
    host_canister_free(h);
    host_canister_free(e);
    host_code_free(hello);
    host_code_free(echo);
}

static void test_loop_limits(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "loop");
    host_canister *c = fx_canister(&cfg, code);
    host_msg m = fx_msg("spin", NULL, 0);
    m.instruction_limit = 2000000;
    uint64_t first = 0;
    for (int i = 0; i < 3; i++) {
        host_result r;
        assert_int_equal(host_canister_call(c, HOST_CALL_UPDATE, &m, &r), ST_OK);
        assert_int_equal(r.st, ST_INSTRUCTION_LIMIT_EXCEEDED);
        assert_false(r.committed);
        assert_int_equal(r.instructions, m.instruction_limit); /* capped, as on the IC */
        if (i == 0)
            first = r.instructions;
        assert_int_equal(r.instructions, first);
        host_result_fini(&r);
    }
    /* sliced: same count, and it paused */
    m.slice_limit = 100000;
    assert_int_equal(host_canister_call_begin(c, HOST_CALL_UPDATE, &m), ST_OK);
    host_result r;
    bool paused = true;
    int slices = 0;
    while (paused) {
        assert_int_equal(host_canister_call_run(c, &r, &paused), ST_OK);
        slices++;
    }
    assert_true(slices >= 20);
    assert_int_equal(r.st, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_int_equal(r.instructions, first);
    host_result_fini(&r);

    r = call(c, HOST_CALL_UPDATE, "trap", NULL, 0);
    assert_int_equal(r.st, ST_CANISTER_CALLED_TRAP);
    assert_true(fx_says(&r, "loop: trap called"));
    host_result_fini(&r);
    host_canister_free(c);
    host_code_free(code);
}

/* burn(n) unsliced vs in small slices: same reply, same instructions, same heap. */
static void test_slicing_is_invisible(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "loop");
    host_canister *a = fx_canister(&cfg, code);
    host_canister *b = fx_canister(&cfg, code);
    uint8_t n[8];
    le64_store(n, 20000);
    host_msg m = fx_msg("burn", n, 8);
    host_result ra, rb;
    assert_int_equal(host_canister_call(a, HOST_CALL_UPDATE, &m, &ra), ST_OK);
    m.slice_limit = 3000;
    assert_int_equal(host_canister_call_begin(b, HOST_CALL_UPDATE, &m), ST_OK);
    bool paused = true;
    int slices = 0;
    while (paused) {
        assert_int_equal(host_canister_call_run(b, &rb, &paused), ST_OK);
        if (paused) {
            /* while paused, other messages must wait */
            host_msg q = fx_msg("burn_q", n, 8);
            host_result rq;
            assert_int_equal(host_canister_call(b, HOST_CALL_QUERY, &q, &rq), ST_CANISTER_BUSY);
            host_result_fini(&rb);
        }
        slices++;
    }
    assert_true(slices > 10);
    assert_int_equal(ra.st, ST_OK);
    assert_int_equal(rb.st, ST_OK);
    assert_int_equal(fx_u64(&ra), fx_u64(&rb));
    assert_int_equal(ra.instructions, rb.instructions);
    span ha = host_canister_heap(a), hb = host_canister_heap(b);
    assert_int_equal(ha.len, hb.len);
    assert_memory_equal(ha.ptr, hb.ptr, ha.len);
    host_result_fini(&ra);
    host_result_fini(&rb);

    /* an aborted sliced message leaves nothing behind */
    assert_int_equal(host_canister_call_begin(b, HOST_CALL_UPDATE, &m), ST_OK);
    assert_int_equal(host_canister_call_run(b, &rb, &paused), ST_OK);
    assert_true(paused);
    host_canister_call_abort(b);
    assert_false(host_canister_busy(b));
    assert_int_equal(host_canister_version(b), host_canister_version(a));
    ha = host_canister_heap(a);
    hb = host_canister_heap(b);
    assert_int_equal(ha.len, hb.len);
    assert_memory_equal(ha.ptr, hb.ptr, ha.len);
    host_canister_free(a);
    host_canister_free(b);
    host_code_free(code);
}

static const char *upgrade_fail_wat =
    "(module (import \"ic0\" \"trap\" (func $trap (param i32 i32)))\n"
    " (memory 1) (data (i32.const 0) \"no\")\n"
    " (func (export \"canister_post_upgrade\") (call $trap (i32.const 0) (i32.const 2))))";

static const char *start_trap_wat =
    "(module (import \"ic0\" \"msg_arg_data_size\" (func $n (result i32)))\n"
    " (memory 1) (func $s (drop (call $n))) (start $s))";

static const char *start_ok_wat =
    "(module (import \"ic0\" \"stable64_grow\" (func $g (param i64) (result i64)))\n"
    " (import \"ic0\" \"msg_reply\" (func $reply))\n"
    " (memory 1) (global $x (mut i32) (i32.const 0))\n"
    " (func $s (local $i i32) (drop (call $g (i64.const 1)))\n"
    "   (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "     (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))\n"
    "   (global.set $x (local.get $i)))\n"
    " (start $s)\n"
    " (func (export \"canister_query x\") (call $reply)))";

static const char *init_reply_wat = "(module (import \"ic0\" \"msg_reply\" (func $reply))\n"
                                    " (func (export \"canister_init\") (call $reply)))";

static void test_upgrade_is_atomic(void **state)
{
    (void)state;
    host_code *counter = fx_code_file(&cfg, "counter");
    host_code *bad = fx_code_wat(&cfg, upgrade_fail_wat);
    host_code *bad_start = fx_code_wat(&cfg, start_trap_wat);
    host_canister *c = fx_canister(&cfg, counter);
    assert_int_equal(nat_of(call(c, HOST_CALL_UPDATE, "inc", NULL, 0)), 1);
    assert_int_equal(nat_of(call(c, HOST_CALL_UPDATE, "inc", NULL, 0)), 2);
    buf heap = {0};
    span h = host_canister_heap(c);
    assert_int_equal(buf_put(&heap, h.ptr, h.len), ST_OK);
    uint64_t v = host_canister_version(c);
    host_result r = upgrade(c, bad);
    assert_int_equal(r.st, ST_CANISTER_CALLED_TRAP);
    assert_false(r.committed);
    host_result_fini(&r);
    r = upgrade(c, bad_start);
    assert_int_equal(r.st, ST_CONTRACT_VIOLATION);
    assert_true(fx_says(&r, "cannot be executed in start mode"));
    host_result_fini(&r);
    assert_true(host_canister_code(c) == counter);
    assert_int_equal(host_canister_version(c), v);
    h = host_canister_heap(c);
    assert_int_equal(h.len, heap.len);
    assert_memory_equal(h.ptr, heap.ptr, h.len); /* pre_upgrade's changes were undone */
    /* pre_upgrade grew stable memory and wrote it: undone too */
    assert_int_equal(host_canister_stable(c).len, 0);
    assert_int_equal(nat_of(call(c, HOST_CALL_UPDATE, "inc", NULL, 0)), 3);
    buf_fini(&heap);
    host_canister_free(c);
    host_code_free(counter);
    host_code_free(bad);
    host_code_free(bad_start);
}

static void test_start_and_init(void **state)
{
    (void)state;
    host_code *bad_start = fx_code_wat(&cfg, start_trap_wat);
    host_code *ok = fx_code_wat(&cfg, start_ok_wat);
    host_code *init_reply = fx_code_wat(&cfg, init_reply_wat);
    host_canister *c = NULL;
    assert_int_equal(host_canister_new(&cfg, span_of("c", 1), &c), ST_OK);
    host_msg m = fx_msg(NULL, NULL, 0);
    host_result r;
    assert_int_equal(host_canister_install(c, bad_start, &m, &r), ST_OK);
    assert_int_equal(r.st, ST_CONTRACT_VIOLATION);
    assert_true(fx_says(&r, "ic0.msg_arg_data_size cannot be executed in start mode"));
    host_result_fini(&r);
    assert_null(host_canister_code(c));
    r = call(c, HOST_CALL_UPDATE, "x", NULL, 0);
    assert_int_equal(r.st, ST_CANISTER_EMPTY);
    host_result_fini(&r);
    assert_int_equal(host_canister_install(c, init_reply, &m, &r), ST_OK);
    assert_int_equal(r.st, ST_CONTRACT_VIOLATION);
    assert_true(fx_says(&r, "cannot be executed in init mode"));
    host_result_fini(&r);
    /* the start function is metered: a 1000-iteration loop, the same count every time, and
     * stopped by the install limit */
    assert_int_equal(host_canister_install(c, ok, &m, &r), ST_OK);
    assert_int_equal(r.st, ST_OK);
    uint64_t used = r.instructions;
    assert_true(used > 5000 && used < 50000);
    host_result_fini(&r);
    assert_int_equal(host_canister_stable(c).len, 65536);
    host_canister *d = NULL;
    assert_int_equal(host_canister_new(&cfg, span_of("d", 1), &d), ST_OK);
    assert_int_equal(host_canister_install(d, ok, &m, &r), ST_OK);
    assert_int_equal(r.instructions, used);
    host_result_fini(&r);
    host_canister_free(d);
    assert_int_equal(host_canister_new(&cfg, span_of("d", 1), &d), ST_OK);
    m.instruction_limit = 3000;
    assert_int_equal(host_canister_install(d, ok, &m, &r), ST_OK);
    assert_int_equal(r.st, ST_INSTRUCTION_LIMIT_EXCEEDED);
    assert_null(host_canister_code(d));
    assert_int_equal(host_canister_stable(d).len, 0);
    host_result_fini(&r);
    host_canister_free(d);
    host_canister_free(c);
    host_code_free(bad_start);
    host_code_free(ok);
    host_code_free(init_reply);
}

static bool bit(const uint8_t *bits, uint64_t i)
{
    return (bits[i / 8] >> (i % 8)) & 1;
}

static void test_dirty_pages(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "counter");
    host_canister *c = fx_canister(&cfg, code);
    host_dirty d;
    host_canister_dirty(c, &d);
    uint64_t pages = d.heap_bytes / HOST_PAGE_SIZE;
    assert_true(pages >= 16);
    for (uint64_t i = 0; i < pages; i++)
        assert_true(bit(d.heap_bits, i)); /* install: every page */
    host_canister_dirty_clear(c);
    host_result r = call(c, HOST_CALL_QUERY, "get", NULL, 0);
    host_result_fini(&r);
    host_canister_dirty(c, &d);
    for (uint64_t i = 0; i < pages; i++)
        assert_false(bit(d.heap_bits, i));
    r = call(c, HOST_CALL_UPDATE, "inc", NULL, 0);
    host_result_fini(&r);
    host_canister_dirty(c, &d);
    uint64_t n = 0;
    for (uint64_t i = 0; i < pages; i++)
        n += bit(d.heap_bits, i);
    assert_true(n >= 1 && n <= 3); /* the counter's page (and the stack's) */
    /* the dirty pages are exactly where the heap differs from a copy taken before */
    buf before = {0};
    span h = host_canister_heap(c);
    assert_int_equal(buf_put(&before, h.ptr, h.len), ST_OK);
    host_canister_dirty_clear(c);
    r = call(c, HOST_CALL_UPDATE, "inc", NULL, 0);
    host_result_fini(&r);
    host_canister_dirty(c, &d);
    h = host_canister_heap(c);
    for (uint64_t i = 0; i < pages; i++) {
        bool same = memcmp(h.ptr + i * HOST_PAGE_SIZE, before.ptr + i * HOST_PAGE_SIZE,
                           HOST_PAGE_SIZE) == 0;
        assert_int_equal(bit(d.heap_bits, i), !same);
    }
    buf_fini(&before);
    host_canister_free(c);
    host_code_free(code);
}

static const char *paused_wat =
    "(module (import \"ic0\" \"stable64_grow\" (func $g (param i64) (result i64)))\n"
    " (import \"ic0\" \"stable64_write\" (func $w (param i64 i64 i64)))\n"
    " (import \"ic0\" \"msg_reply\" (func $reply))\n"
    " (memory 1) (global $x (mut i64) (i64.const 5)) (data (i32.const 0) \"NEWDATA!\")\n"
    " (func (export \"canister_init\") (drop (call $g (i64.const 1))))\n"
    " (func (export \"canister_update w\") (local $i i32)\n"
    "   (call $w (i64.const 8) (i64.const 0) (i64.const 8))\n"
    "   (drop (call $g (i64.const 1)))\n"
    "   (i32.store (i32.const 100) (i32.const 1)) (global.set $x (i64.const 6))\n"
    "   (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "     (br_if $l (i32.lt_u (local.get $i) (i32.const 10000))))\n"
    "   (call $reply))\n"
    " (func (export \"canister_query x\") (call $reply)))";

/* Saved state excludes a paused message; restore rebuilds a canister without rerunning start. */
static void test_saved_and_restore(void **state)
{
    (void)state;
    host_code *code = fx_code_wat(&cfg, paused_wat);
    host_code *startc = fx_code_wat(&cfg, start_ok_wat);
    host_canister *c = fx_canister(&cfg, code);
    host_msg m = fx_msg("w", NULL, 0);
    m.slice_limit = 5000;
    assert_int_equal(host_canister_call_begin(c, HOST_CALL_UPDATE, &m), ST_OK);
    host_result r;
    bool paused;
    assert_int_equal(host_canister_call_run(c, &r, &paused), ST_OK);
    assert_true(paused);
    host_result_fini(&r);
    host_saved sv;
    host_canister_saved(c, &sv);
    assert_int_equal(sv.stable_bytes, 65536); /* the message's grow is not committed */
    uint8_t st16[16];
    assert_int_equal(host_canister_saved_stable_read(c, 0, st16, 16), ST_OK);
    static const uint8_t zero16[16];
    assert_memory_equal(st16, zero16, 16); /* its write neither */
    assert_int_equal(host_canister_saved_stable_read(c, 65530, st16, 16), ST_STABLE_OOB);
    assert_int_equal(le32_load(sv.heap.ptr + 100), 0);
    buf g = {0};
    assert_int_equal(host_canister_saved_globals(c, &g), ST_OK);
    assert_int_equal(g.len, 12);
    assert_int_equal(le32_load(g.ptr), 1);
    assert_int_equal(le64_load(g.ptr + 4), 5);
    buf_fini(&g);
    while (paused) {
        assert_int_equal(host_canister_call_run(c, &r, &paused), ST_OK);
        if (paused)
            host_result_fini(&r);
    }
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    host_canister_saved(c, &sv);
    assert_int_equal(sv.stable_bytes, 131072);
    assert_int_equal(host_canister_saved_stable_read(c, 8, st16, 8), ST_OK);
    assert_memory_equal(st16, "NEWDATA!", 8);

    /* restore into a fresh canister: same heap, stable, globals, version; nothing dirty */
    assert_int_equal(host_canister_saved_globals(c, &g), ST_OK);
    buf stable = {0};
    assert_int_equal(buf_reserve(&stable, (size_t)sv.stable_bytes), ST_OK);
    assert_int_equal(host_canister_saved_stable_read(c, 0, stable.ptr, sv.stable_bytes), ST_OK);
    host_canister *d = NULL;
    assert_int_equal(host_canister_new(&cfg, span_of("d", 1), &d), ST_OK);
    assert_int_equal(host_canister_restore(d, code, &sv,
                                           span_of(stable.ptr, (size_t)sv.stable_bytes),
                                           span_of(g.ptr, g.len)),
                     ST_OK);
    host_saved dv;
    host_canister_saved(d, &dv);
    assert_int_equal(dv.heap.len, sv.heap.len);
    assert_memory_equal(dv.heap.ptr, sv.heap.ptr, sv.heap.len);
    assert_int_equal(dv.version, sv.version);
    assert_int_equal(dv.stable_bytes, sv.stable_bytes);
    buf g2 = {0};
    assert_int_equal(host_canister_saved_globals(d, &g2), ST_OK);
    assert_int_equal(g2.len, g.len);
    assert_memory_equal(g2.ptr, g.ptr, g.len);
    assert_int_equal(le64_load(g2.ptr + 4), 6);
    host_dirty dd;
    host_canister_dirty(d, &dd);
    for (uint64_t i = 0; i < dd.heap_bytes / HOST_PAGE_SIZE; i++)
        assert_false((dd.heap_bits[i / 8] >> (i % 8)) & 1);
    assert_int_equal(host_canister_restore(d, code, &sv,
                                           span_of(stable.ptr, (size_t)sv.stable_bytes),
                                           span_of(g.ptr, g.len)),
                     ST_CANISTER_NOT_EMPTY);
    r = call(d, HOST_CALL_UPDATE, "w", NULL, 0); /* and it runs */
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    host_canister_free(d);
    /* corrupt saved state is refused */
    assert_int_equal(host_canister_new(&cfg, span_of("d", 1), &d), ST_OK);
    assert_int_equal(host_canister_restore(d, code, &sv,
                                           span_of(stable.ptr, (size_t)sv.stable_bytes),
                                           span_of(g.ptr, g.len - 1)),
                     ST_CORRUPT_LEDGER);
    assert_null(host_canister_code(d));
    host_canister_free(d);

    /* the start function is not run again: its stable grow would make 2 pages */
    host_canister *e = fx_canister(&cfg, startc);
    host_saved ev;
    host_canister_saved(e, &ev);
    buf eg = {0};
    assert_int_equal(host_canister_saved_globals(e, &eg), ST_OK);
    assert_int_equal(le64_load(eg.ptr + 4), 1000);
    assert_int_equal(host_canister_new(&cfg, span_of("f", 1), &d), ST_OK);
    assert_int_equal(
        host_canister_restore(d, startc, &ev, host_canister_stable(e), span_of(eg.ptr, eg.len)),
        ST_OK);
    assert_int_equal(host_canister_stable(d).len, 65536);
    host_canister_free(d);
    host_canister_free(e);
    buf_fini(&eg);
    buf_fini(&g);
    buf_fini(&g2);
    buf_fini(&stable);
    host_canister_free(c);
    host_code_free(code);
    host_code_free(startc);
}

/* Allocation failures during install and during a call: ST_OUT_OF_MEMORY, the canister as
 * before, and usable afterwards. */
static void test_allocation_failures(void **state)
{
    (void)state;
    host_code *code = fx_code_file(&cfg, "kv");
    host_msg m = fx_msg(NULL, NULL, 0);
    int ooms = 0;
    for (long n = 0;; n++) {
        host_canister *c = NULL;
        assert_int_equal(host_canister_new(&cfg, span_of("k", 1), &c), ST_OK);
        host_result r;
        base_alloc_fail_after(n, false);
        status st = host_canister_install(c, code, &m, &r);
        base_alloc_fail_after(-1, false);
        host_result_fini(&r);
        if (st == ST_OK) {
            host_canister_free(c);
            break;
        }
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_null(host_canister_code(c));
        assert_int_equal(host_canister_install(c, code, &m, &r), ST_OK); /* usable */
        assert_int_equal(r.st, ST_OK);
        host_result_fini(&r);
        host_canister_free(c);
        ooms++;
    }
    assert_true(ooms >= 3);

    host_canister *c = fx_canister(&cfg, code);
    host_result r = kv_put(c, "keep", "me");
    host_result_fini(&r);
    ooms = 0;
    /* a value that makes kv grow its memory: the heap shadow and its bitmap grow too */
    static char big[150001];
    memset(big, 'v', sizeof big - 1);
    buf a = {0}; /* ("big", "vvv...") */
    assert_int_equal(buf_put(&a, "DIDL\0\2\x71\x71\3big\xf0\x93\x09", 15), ST_OK);
    assert_int_equal(buf_put(&a, big, sizeof big - 1), ST_OK);
    for (long n = 0;; n++) {
        buf before = {0};
        span h = host_canister_heap(c);
        assert_int_equal(buf_put(&before, h.ptr, h.len), ST_OK);
        uint64_t v = host_canister_version(c);
        host_msg pm = fx_msg("put", a.ptr, a.len);
        host_result pr;
        base_alloc_fail_after(n, false);
        status st = host_canister_call(c, HOST_CALL_UPDATE, &pm, &pr);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK && pr.st == ST_OK) {
            host_result_fini(&pr);
            buf_fini(&before);
            break;
        }
        if (st == ST_OUT_OF_MEMORY)
            ooms++;
        else /* the engine turns a failed memory.grow allocation into -1: kv traps */
            assert_int_equal(pr.st, ST_CANISTER_CALLED_TRAP);
        h = host_canister_heap(c);
        assert_int_equal(h.len, before.len);
        assert_memory_equal(h.ptr, before.ptr, h.len);
        assert_int_equal(host_canister_version(c), v);
        host_result_fini(&pr);
        buf_fini(&before);
        assert_true(n < 100);
    }
    assert_true(ooms >= 1);
    buf_fini(&a);
    host_result g = call_c(c, HOST_CALL_QUERY, "get", "(\"big\")");
    assert_int_equal(g.bytes.len, 9 + 1 + 3 + sizeof big - 1); /* header, opt tag, LEB128, text */
    host_result_fini(&g);
    kv_expect(c, "keep", "me");
    host_canister_free(c);
    host_code_free(code);
}

static int setup(void **state)
{
    (void)state;
    host_config_default(&cfg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_hello_echo),
        cmocka_unit_test(test_loop_limits),
        cmocka_unit_test(test_slicing_is_invisible),
        cmocka_unit_test(test_upgrade_is_atomic),
        cmocka_unit_test(test_start_and_init),
        cmocka_unit_test(test_dirty_pages),
        cmocka_unit_test(test_saved_and_restore),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
