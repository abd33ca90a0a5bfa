/* test_bad_canister.c - the bad-input catalogue, canister part: hostile canister code
 * run through host-api. Every case asserts the typed outcome AND that the canister is exactly
 * as before (heap bytes, mutable globals, stable memory, version): each hostile method first
 * writes a mark into memory and a global, so a missing rollback shows.
 *
 * Also fault injection of a deploy: host_code_new with the Nth allocation failing, for every N,
 * gives ST_OUT_OF_MEMORY and nothing else (leaks show under ASan: docs/reliability.md). */
#include "host_fixture.h"

#include <sys/resource.h>

static const char *const bad_wat =
    "(module\n"
    "  (import \"ic0\" \"msg_reply_data_append\" (func $append (param i32 i32)))\n"
    "  (import \"ic0\" \"msg_reply\" (func $reply))\n"
    "  (import \"ic0\" \"msg_arg_data_copy\" (func $arg_copy (param i32 i32 i32)))\n"
    "  (import \"ic0\" \"debug_print\" (func $print (param i32 i32)))\n"
    "  (import \"ic0\" \"stable64_grow\" (func $sgrow (param i64) (result i64)))\n"
    "  (import \"ic0\" \"stable64_write\" (func $swrite (param i64 i64 i64)))\n"
    "  (memory 1)\n"
    "  (global $g (mut i32) (i32.const 0))\n"
    "  (func $mark (i32.store (i32.const 100) (i32.const 0xdead)) (global.set $g (i32.const 7))\n"
    "    (drop (call $sgrow (i64.const 1))) (call $swrite (i64.const 0) (i64.const 100) "
    "(i64.const 4)))\n"
    "  (func $reply4 (param i32) (i32.store (i32.const 0) (local.get 0))\n"
    "    (call $append (i32.const 0) (i32.const 4)) (call $reply))\n"
    "  (func (export \"canister_update ok\") (call $reply4 (global.get $g)))\n"
    "  (func (export \"canister_update spin\") (call $mark) (loop $l (br $l)))\n"
    "  (func $rec (param i32) (result i32) (i32.add (call $rec (i32.add (local.get 0) (i32.const "
    "1)))\n"
    "    (i32.const 1)))\n"
    "  (func (export \"canister_update recurse\") (call $mark) (drop (call $rec (i32.const 0))))\n"
    "  (func (export \"canister_update grow_bomb\") (call $mark)\n"
    "    (call $reply4 (memory.grow (i32.const 65536))))\n"
    "  (func (export \"canister_update grow_bomb_trap\") (call $mark)\n"
    "    (drop (memory.grow (i32.const 3))) (unreachable))\n"
    "  (func (export \"canister_update grow_loop\")\n"
    "    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))\n"
    "    (call $reply4 (memory.size)))\n"
    "  (func (export \"canister_update append_wrap\") (call $mark)\n"
    "    (call $append (i32.const 0xfffffff0) (i32.const 0x20)) (call $reply))\n"
    "  (func (export \"canister_update append_oob\") (call $mark)\n"
    "    (call $append (i32.const 65000) (i32.const 1000)) (call $reply))\n"
    "  (func (export \"canister_update append_huge\") (call $mark)\n"
    "    (call $append (i32.const 0) (i32.const 0xffffffff)) (call $reply))\n"
    "  (func (export \"canister_update copy_wrap\") (call $mark)\n"
    "    (call $arg_copy (i32.const 0xffffffff) (i32.const 0) (i32.const 2)) (call $reply))\n"
    "  (func (export \"canister_update copy_offset\") (call $mark)\n"
    "    (call $arg_copy (i32.const 0) (i32.const 0xffffffff) (i32.const 2)) (call $reply))\n"
    "  (func (export \"canister_update stable_wrap\") (call $mark)\n"
    "    (call $swrite (i64.const -16) (i64.const 0) (i64.const 32)) (call $reply))\n"
    "  (func (export \"canister_update stable_src_wrap\") (call $mark)\n"
    "    (call $swrite (i64.const 0) (i64.const 0xfffffff0) (i64.const 32)) (call $reply))\n"
    "  (func (export \"canister_update print_wrap\")\n"
    "    (call $print (i32.const 0xfffffff0) (i32.const 0x20)) (call $reply4 (i32.const 1)))\n"
    "  (func (export \"canister_query big_reply\")\n"
    "    (call $append (i32.const 0) (i32.const 2048)) (call $reply))\n"
    "  (func (export \"canister_query reply_pieces\")\n"
    "    (call $append (i32.const 0) (i32.const 600)) (call $append (i32.const 0) (i32.const "
    "600))\n"
    "    (call $reply))\n"
    "  (func (export \"canister_update update_big_reply\") (call $mark)\n"
    "    (call $append (i32.const 0) (i32.const 1025)) (call $reply)))\n";

/* How far past the limit a message that ran out may report (see test_reply_too_large). */
static uint64_t overshoot = 1000;

typedef struct snapshot {
    buf heap, stable, globals;
    uint64_t version;
} snapshot;

static void snap(host_canister *c, snapshot *s)
{
    memset(s, 0, sizeof *s);
    span h = host_canister_heap(c);
    assert_int_equal(buf_put(&s->heap, h.ptr, h.len), ST_OK);
    span st = host_canister_stable(c);
    assert_int_equal(buf_put(&s->stable, st.ptr, st.len), ST_OK);
    assert_int_equal(host_canister_saved_globals(c, &s->globals), ST_OK);
    s->version = host_canister_version(c);
}

static void assert_same(host_canister *c, snapshot *before)
{
    snapshot now;
    snap(c, &now);
    assert_int_equal(now.heap.len, before->heap.len);
    assert_memory_equal(now.heap.ptr, before->heap.ptr, now.heap.len);
    assert_int_equal(now.stable.len, before->stable.len);
    if (now.stable.len)
        assert_memory_equal(now.stable.ptr, before->stable.ptr, now.stable.len);
    assert_int_equal(now.globals.len, before->globals.len);
    assert_memory_equal(now.globals.ptr, before->globals.ptr, now.globals.len);
    assert_int_equal(now.version, before->version);
    buf_fini(&now.heap);
    buf_fini(&now.stable);
    buf_fini(&now.globals);
    buf_fini(&before->heap);
    buf_fini(&before->stable);
    buf_fini(&before->globals);
}

static host_config bad_cfg(void)
{
    host_config cfg;
    host_config_default(&cfg);
    cfg.run.max_memory_pages = 16;
    cfg.max_reply_bytes = 1024;
    return cfg;
}

/* Calls `method` (kind) with `limit` instructions on a fresh canister; asserts res.st == want
 * and that the canister is unchanged. */
static void expect_trap_unchanged(host_call_kind kind, const char *method, uint64_t limit,
                                  status want, const void *arg, size_t narg)
{
    host_config cfg = bad_cfg();
    host_code *code = fx_code_wat(&cfg, bad_wat);
    host_canister *c = fx_canister(&cfg, code);
    snapshot before;
    snap(c, &before);
    host_msg m = fx_msg(method, arg, narg);
    m.instruction_limit = limit;
    host_result r;
    assert_int_equal(host_canister_call(c, kind, &m, &r), ST_OK);
    if (r.st != want)
        fail_msg("%s: expected %s, got %s (%.*s)", method, status_name(want), status_name(r.st),
                 (int)r.bytes.len, (const char *)r.bytes.ptr);
    assert_false(r.committed);
    assert_int_equal(r.kind, HOST_RESPONSE_REJECT);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_ERROR);
    /* the instructions used are reported up to the failing check: at most one basic block
     * (or one host call's charge) past the limit */
    if (want == ST_INSTRUCTION_LIMIT_EXCEEDED)
        assert_true(r.instructions >= limit && r.instructions - limit < overshoot);
    else
        assert_true(r.instructions <= limit);
    host_result_fini(&r);
    assert_same(c, &before);
    /* the canister still works */
    r = fx_call(c, HOST_CALL_UPDATE, "ok", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    host_canister_free(c);
    host_code_free(code);
}

static void test_infinite_loop(void **state)
{
    (void)state;
    expect_trap_unchanged(HOST_CALL_UPDATE, "spin", 1000000, ST_INSTRUCTION_LIMIT_EXCEEDED, NULL,
                          0);
}

static void test_deep_recursion(void **state)
{
    (void)state;
    expect_trap_unchanged(HOST_CALL_UPDATE, "recurse", 5000000000ull, ST_TRAP_CALL_STACK_EXHAUSTED,
                          NULL, 0);
}

static void test_memory_grow_bomb(void **state)
{
    (void)state;
    host_config cfg = bad_cfg();
    host_code *code = fx_code_wat(&cfg, bad_wat);
    host_canister *c = fx_canister(&cfg, code);
    long before;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    before = ru.ru_maxrss;
    /* grow by 4 GiB: -1, and nothing allocated */
    host_result r = fx_call(c, HOST_CALL_UPDATE, "grow_bomb", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.bytes.len, 4);
    assert_int_equal(le32_load(r.bytes.ptr), UINT32_MAX);
    host_result_fini(&r);
    assert_int_equal(host_canister_heap(c).len, 65536);
    /* grow one page at a time until refused: stops at the configured 16 pages */
    r = fx_call(c, HOST_CALL_UPDATE, "grow_loop", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(le32_load(r.bytes.ptr), 16);
    host_result_fini(&r);
    assert_int_equal(host_canister_heap(c).len, 16 * 65536);
    getrusage(RUSAGE_SELF, &ru);
    assert_true(ru.ru_maxrss - before < 64 * 1024);
    host_canister_free(c);
    host_code_free(code);
}

static void test_grow_then_trap_rolls_back(void **state)
{
    (void)state;
    expect_trap_unchanged(HOST_CALL_UPDATE, "grow_bomb_trap", 1000000, ST_TRAP_UNREACHABLE, NULL,
                          0);
}

static void test_table_bomb_rejected(void **state)
{
    (void)state;
    /* tables cannot change in a canister (host.h): table.grow is refused at deploy */
    host_config cfg = bad_cfg();
    host_code *code = NULL;
    engine_error err;
    status st = fx_deploy_wat(&cfg,
                              "(module (table 1 funcref) (func (export \"canister_update t\")"
                              " (drop (table.grow 0 (ref.null func) (i32.const -1)))))",
                              &code, &err);
    assert_int_equal(st, ST_UNSUPPORTED_FEATURE);
    assert_null(code);
}

static void test_host_pointers(void **state)
{
    (void)state;
    static const uint8_t arg[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    expect_trap_unchanged(HOST_CALL_UPDATE, "append_wrap", 1000000, ST_HOST_OOB, NULL, 0);
    expect_trap_unchanged(HOST_CALL_UPDATE, "append_oob", 1000000, ST_HOST_OOB, NULL, 0);
    expect_trap_unchanged(HOST_CALL_UPDATE, "copy_wrap", 1000000, ST_HOST_OOB, arg, sizeof arg);
    expect_trap_unchanged(HOST_CALL_UPDATE, "stable_wrap", 1000000, ST_STABLE_OOB, NULL, 0);
    expect_trap_unchanged(HOST_CALL_UPDATE, "stable_src_wrap", 1000000, ST_HOST_OOB, NULL, 0);
}

static void test_host_offset_beyond_argument(void **state)
{
    (void)state;
    static const uint8_t arg[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* the offset into the argument is past its end (and offset + size wraps) */
    host_config cfg = bad_cfg();
    host_code *code = fx_code_wat(&cfg, bad_wat);
    host_canister *c = fx_canister(&cfg, code);
    snapshot before;
    snap(c, &before);
    host_result r = fx_call(c, HOST_CALL_UPDATE, "copy_offset", arg, sizeof arg);
    assert_true(status_class_of(r.st) == SC_TRAP);
    assert_false(r.committed);
    host_result_fini(&r);
    assert_same(c, &before);
    host_canister_free(c);
    host_code_free(code);
}

static void test_debug_print_out_of_bounds(void **state)
{
    (void)state;
    /* debug_print never traps, not even with a wrapping pointer */
    host_config cfg = bad_cfg();
    host_code *code = fx_code_wat(&cfg, bad_wat);
    host_canister *c = fx_canister(&cfg, code);
    host_result r = fx_call(c, HOST_CALL_UPDATE, "print_wrap", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(le32_load(r.bytes.ptr), 1);
    host_result_fini(&r);
    host_canister_free(c);
    host_code_free(code);
}

static void test_reply_too_large(void **state)
{
    (void)state;
    expect_trap_unchanged(HOST_CALL_QUERY, "big_reply", 1000000, ST_REPLY_TOO_LARGE, NULL, 0);
    expect_trap_unchanged(HOST_CALL_QUERY, "reply_pieces", 1000000, ST_REPLY_TOO_LARGE, NULL, 0);
    expect_trap_unchanged(HOST_CALL_UPDATE, "update_big_reply", 1000000, ST_REPLY_TOO_LARGE, NULL,
                          0);
    /* 4 GiB appended: the per-byte charge comes first, then the bounds check. The
     * receipt reports the whole charge (2^32 + a few), not the limit: noted in
     * docs/reliability.md */
    overshoot = UINT64_C(1) << 33;
    expect_trap_unchanged(HOST_CALL_UPDATE, "append_huge", 1000000, ST_INSTRUCTION_LIMIT_EXCEEDED,
                          NULL, 0);
    overshoot = 1000;
    expect_trap_unchanged(HOST_CALL_UPDATE, "append_huge", 5000000000ull, ST_HOST_OOB, NULL, 0);
}

/* Deploy (host_code_new) with allocation N failing, for every N until it succeeds. */
static void test_deploy_alloc_failures(void **state)
{
    (void)state;
    host_config cfg = bad_cfg();
    buf wasm = {0};
    fx_wat(bad_wat, &wasm);
    unsigned long sites = 0;
    for (long n = 0;; n++) {
        host_code *code = (host_code *)&cfg;
        engine_error err;
        base_alloc_fail_after(n, false);
        status st = host_code_new(&cfg, span_of(wasm.ptr, wasm.len), &code, &err);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            host_code_free(code);
            break;
        }
        if (st != ST_OUT_OF_MEMORY)
            fail_msg("allocation %ld failing gave %s", n, status_name(st));
        assert_null(code);
        sites++;
        assert_true(n < 100000);
    }
    assert_true(sites > 10);
    /* and sticky: every allocation after the Nth fails too */
    for (long n = 0; n < (long)sites; n += 7) {
        host_code *code = NULL;
        base_alloc_fail_after(n, true);
        status st = host_code_new(&cfg, span_of(wasm.ptr, wasm.len), &code, NULL);
        base_alloc_fail_after(-1, false);
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_null(code);
    }
    buf_fini(&wasm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infinite_loop),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_memory_grow_bomb),
        cmocka_unit_test(test_grow_then_trap_rolls_back),
        cmocka_unit_test(test_table_bomb_rejected),
        cmocka_unit_test(test_host_pointers),
        cmocka_unit_test(test_host_offset_beyond_argument),
        cmocka_unit_test(test_debug_print_out_of_bounds),
        cmocka_unit_test(test_reply_too_large),
        cmocka_unit_test(test_deploy_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, fx_teardown);
}
