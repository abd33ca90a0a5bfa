/* test_state.c - the heap's write barrier (host-api/state.c with engine.h "write marks"): a
 * message that writes pages through every write path (a store, a store straddling two pages,
 * memory.fill, memory.copy, the host's msg_arg_data_copy and stable64_read, memory.grow and a
 * store into the new page) and then traps leaves the heap exactly as before; the same message
 * committed reports exactly the pages whose bytes changed as dirty (a page written with the
 * bytes it had is not). */
#include "host_fixture.h"
#include "test_util.h"

static host_config cfg;

enum { KIB4 = HOST_PAGE_SIZE };

/* 4 pages of memory = 64 pages of 4 KiB. `scribble` writes, in 4 KiB pages: 3 (i32.store),
 * 4 and 5 (an i64.store across the boundary), 8 and 9 (memory.fill of 4097 bytes from page 8),
 * 12 (memory.copy of the data segment), 16 and 17 (msg_arg_data_copy of its 4-byte argument
 * across the boundary), 20 (i32.store of the 0 that is there: marked, not changed), 24
 * (stable64_read of what `prep` stored), then grows the memory by one 64 KiB page and stores
 * into 4 KiB page (old size / 4096); traps if the argument starts with 't', replies otherwise.
 * `dump` replies with the whole memory. */
static const char *scribble_wat =
    "(module (import \"ic0\" \"msg_arg_data_copy\" (func $arg (param i32 i32 i32)))\n"
    " (import \"ic0\" \"msg_reply\" (func $reply))\n"
    " (import \"ic0\" \"msg_reply_data_append\" (func $append (param i32 i32)))\n"
    " (import \"ic0\" \"stable64_grow\" (func $sgrow (param i64) (result i64)))\n"
    " (import \"ic0\" \"stable64_write\" (func $swrite (param i64 i64 i64)))\n"
    " (import \"ic0\" \"stable64_read\" (func $sread (param i64 i64 i64)))\n"
    " (memory 4) (data (i32.const 0) \"tally write barrier\")\n"
    " (func (export \"canister_update prep\")\n"
    "   (drop (call $sgrow (i64.const 1)))\n"
    "   (call $swrite (i64.const 0) (i64.const 0) (i64.const 19)) (call $reply))\n"
    " (func (export \"canister_update scribble\") (local $old i32)\n"
    "   (i32.store (i32.const 0x3010) (i32.const 0x01020304))\n"
    "   (i64.store (i32.const 0x4ffc) (i64.const -1))\n"
    "   (memory.fill (i32.const 0x8000) (i32.const 0xab) (i32.const 0x1001))\n"
    "   (memory.copy (i32.const 0xc100) (i32.const 0) (i32.const 19))\n"
    "   (call $arg (i32.const 0x10ffe) (i32.const 0) (i32.const 4))\n"
    "   (i32.store (i32.const 0x14000) (i32.const 0))\n"
    "   (call $sread (i64.const 0x18000) (i64.const 0) (i64.const 19))\n"
    "   (local.set $old (memory.grow (i32.const 1)))\n"
    "   (i32.store8 (i32.add (i32.shl (local.get $old) (i32.const 16)) (i32.const 0x2345))\n"
    "     (i32.const 7))\n"
    "   (if (i32.eq (i32.load8_u (i32.const 0x10ffe)) (i32.const 0x74)) (then unreachable))\n"
    "   (call $reply))\n"
    " (func (export \"canister_query dump\")\n"
    "   (call $append (i32.const 0) (i32.shl (memory.size) (i32.const 16))) (call $reply)))";

/* The live memory as the canister sees it (a query), into out. */
static void dump(host_canister *c, buf *out)
{
    host_result r = fx_call(c, HOST_CALL_QUERY, "dump", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    assert_int_equal(r.kind, HOST_RESPONSE_REPLY);
    out->len = 0;
    assert_int_equal(buf_put(out, r.bytes.ptr, r.bytes.len), ST_OK);
    host_result_fini(&r);
}

static bool bit(const uint8_t *bits, uint64_t i)
{
    return (bits[i / 8] >> (i % 8)) & 1;
}

/* The 4 KiB pages of scribble's writes that change bytes, for a memory of `pages64` pages
 * before the message (stable64_read's page 24 included; page 20 not). */
static bool expected_dirty(uint64_t page, uint64_t pages64)
{
    static const uint64_t fixed[] = {3, 4, 5, 8, 9, 12, 16, 17, 24};
    for (size_t i = 0; i < BASE_ARRAY_LEN(fixed); i++)
        if (page == fixed[i])
            return true;
    return page == pages64 * 16 + 2; /* 0x2345 in the grown page */
}

static void test_trap_restores_every_page(void **state)
{
    (void)state;
    host_code *code = fx_code_wat(&cfg, scribble_wat);
    host_canister *c = fx_canister(&cfg, code);
    host_result r = fx_call(c, HOST_CALL_UPDATE, "prep", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    host_canister_dirty_clear(c);
    buf before = {0}, after = {0}, committed = {0};
    dump(c, &before);
    assert_int_equal(before.len, 4 * 65536);
    span h = host_canister_heap(c);
    assert_int_equal(buf_put(&committed, h.ptr, h.len), ST_OK);
    for (int round = 0; round < 2; round++) { /* twice: the marks are cleared after a rollback */
        r = fx_call(c, HOST_CALL_UPDATE, "scribble", "trap", 4);
        assert_int_equal(r.st, ST_TRAP_UNREACHABLE);
        assert_false(r.committed);
        host_result_fini(&r);
        dump(c, &after); /* the live memory: same size, same bytes */
        assert_int_equal(after.len, before.len);
        assert_memory_equal(after.ptr, before.ptr, before.len);
        h = host_canister_heap(c); /* the committed heap: untouched */
        assert_int_equal(h.len, committed.len);
        assert_memory_equal(h.ptr, committed.ptr, committed.len);
        host_dirty d;
        host_canister_dirty(c, &d);
        for (uint64_t p = 0; p < d.heap_bytes / KIB4; p++)
            assert_false(bit(d.heap_bits, p));
    }
    buf_fini(&before);
    buf_fini(&after);
    buf_fini(&committed);
    host_canister_free(c);
    host_code_free(code);
}

static void test_commit_reports_changed_pages(void **state)
{
    (void)state;
    host_code *code = fx_code_wat(&cfg, scribble_wat);
    host_canister *c = fx_canister(&cfg, code);
    host_result r = fx_call(c, HOST_CALL_UPDATE, "prep", NULL, 0);
    host_result_fini(&r);
    buf before = {0}, after = {0};
    for (uint64_t pages64 = 4; pages64 <= 5; pages64++) {
        host_canister_dirty_clear(c);
        dump(c, &before);
        assert_int_equal(before.len, pages64 * 65536);
        r = fx_call(c, HOST_CALL_UPDATE, "scribble", "ok!!", 4);
        assert_int_equal(r.st, ST_OK);
        assert_true(r.committed);
        host_result_fini(&r);
        dump(c, &after);
        assert_int_equal(after.len, (pages64 + 1) * 65536);
        span h = host_canister_heap(c);
        assert_int_equal(h.len, after.len);
        assert_memory_equal(h.ptr, after.ptr, after.len); /* the shadow has every change */
        host_dirty d;
        host_canister_dirty(c, &d);
        assert_int_equal(d.heap_bytes, after.len);
        for (uint64_t p = 0; p < d.heap_bytes / KIB4; p++) {
            bool changed = p < before.len / KIB4
                               ? memcmp(after.ptr + p * KIB4, before.ptr + p * KIB4, KIB4) != 0
                               : p == pages64 * 16 + 2; /* grown: dirty unless all zero */
            assert_int_equal(bit(d.heap_bits, p), changed);
            /* the second run writes the same bytes again: only its grown page changes */
            bool expected = pages64 == 4 ? expected_dirty(p, pages64) : p == pages64 * 16 + 2;
            assert_int_equal(bit(d.heap_bits, p), expected);
        }
    }
    /* the bytes each path wrote (second run: same values) */
    uint32_t v;
    memcpy(&v, after.ptr + 0x3010, 4);
    assert_int_equal(v, 0x01020304);
    assert_int_equal(after.ptr[0x4ffc], 0xff);
    assert_int_equal(after.ptr[0x5003], 0xff);
    assert_int_equal(after.ptr[0x9000], 0xab);
    assert_int_equal(after.ptr[0x9001], 0);
    assert_memory_equal(after.ptr + 0xc100, "tally write barrier", 19);
    assert_memory_equal(after.ptr + 0x10ffe, "ok!!", 4);
    assert_memory_equal(after.ptr + 0x18000, "tally write barrier", 19);
    assert_int_equal(after.ptr[4 * 65536 + 0x2345], 7);
    assert_int_equal(after.ptr[5 * 65536 + 0x2345], 7);
    buf_fini(&before);
    buf_fini(&after);
    host_canister_free(c);
    host_code_free(code);
}

/* `big` grows the heap to 2 GiB and stable memory by 2 GiB, writes one byte at the top of each
 * and traps if its argument starts with 't'. */
static const char *big_wat =
    "(module (import \"ic0\" \"msg_arg_data_copy\" (func $arg (param i32 i32 i32)))\n"
    " (import \"ic0\" \"msg_reply\" (func $reply))\n"
    " (import \"ic0\" \"stable64_grow\" (func $sgrow (param i64) (result i64)))\n"
    " (import \"ic0\" \"stable64_write\" (func $swrite (param i64 i64 i64)))\n"
    " (memory 1)\n"
    " (func (export \"canister_update big\")\n"
    "   (call $arg (i32.const 0) (i32.const 0) (i32.const 1))\n"
    "   (drop (memory.grow (i32.const 32767)))\n"
    "   (i32.store8 (i32.const 0x7fffffff) (i32.const 9))\n"
    "   (drop (call $sgrow (i64.const 32768)))\n"
    "   (call $swrite (i64.const 0x7fffffff) (i64.const 0) (i64.const 1))\n"
    "   (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 0x74)) (then unreachable))\n"
    "   (call $reply)))";

/* Heap, shadow and stable memory cost resident memory for the pages written, not for the size:
 * a 2 GiB + 2 GiB grow, trapped then committed, adds well under 256 MiB (it added over 6 GiB
 * when every grow was zeroed), and the committed state has exactly the bytes written. */
static void test_huge_grow_costs_touched_pages(void **state)
{
    (void)state;
    host_code *code = fx_code_wat(&cfg, big_wat);
    host_canister *c = fx_canister(&cfg, code);
    uint64_t before = test_resident_bytes();
    host_result r = fx_call(c, HOST_CALL_UPDATE, "big", "trap", 4);
    assert_int_equal(r.st, ST_TRAP_UNREACHABLE);
    host_result_fini(&r);
    assert_int_equal(host_canister_heap(c).len, 65536);
    assert_int_equal(host_canister_stable(c).len, 0);
    host_canister_dirty_clear(c);
    r = fx_call(c, HOST_CALL_UPDATE, "big", "ok", 2);
    assert_int_equal(r.st, ST_OK);
    assert_true(r.committed);
    host_result_fini(&r);
    assert_true(test_resident_bytes() - before < (UINT64_C(256) << 20));
    span h = host_canister_heap(c), st = host_canister_stable(c);
    assert_int_equal(h.len, UINT64_C(1) << 31);
    assert_int_equal(st.len, UINT64_C(1) << 31);
    assert_int_equal(h.ptr[0x7fffffff], 9);
    assert_int_equal(h.ptr[0x7ffffffe], 0);
    assert_int_equal(h.ptr[0x40000000], 0);
    assert_int_equal(st.ptr[0x7fffffff], 'o');
    assert_int_equal(st.ptr[0x40000000], 0);
    host_dirty d;
    host_canister_dirty(c, &d);
    uint64_t dirty = 0;
    for (uint64_t p = 0; p < d.heap_bytes / KIB4; p++)
        dirty += bit(d.heap_bits, p);
    assert_int_equal(dirty, 2); /* page 0 (the argument) and the top page */
    host_canister_free(c);
    host_code_free(code);
}

/* `g` takes [op, n]: op 'h' grows the heap by n pages, 's' stable memory; replies the i32
 * result; traps after the grow if a third byte is 't'. */
static const char *limit_wat =
    "(module (import \"ic0\" \"msg_arg_data_copy\" (func $arg (param i32 i32 i32)))\n"
    " (import \"ic0\" \"msg_arg_data_size\" (func $size (result i32)))\n"
    " (import \"ic0\" \"msg_reply\" (func $reply))\n"
    " (import \"ic0\" \"msg_reply_data_append\" (func $append (param i32 i32)))\n"
    " (import \"ic0\" \"stable_grow\" (func $sgrow (param i32) (result i32)))\n"
    " (memory 1) (table 1000 funcref)\n"
    " (func (export \"canister_update g\")\n"
    "   (call $arg (i32.const 0) (i32.const 0) (call $size))\n"
    "   (i32.store (i32.const 8) (if (result i32) (i32.eq (i32.load8_u (i32.const 0)) (i32.const "
    "0x68))\n"
    "     (then (memory.grow (i32.load8_u (i32.const 1))))\n"
    "     (else (call $sgrow (i32.load8_u (i32.const 1))))))\n"
    "   (if (i32.eq (i32.load8_u (i32.const 2)) (i32.const 0x74)) (then unreachable))\n"
    "   (call $append (i32.const 8) (i32.const 4)) (call $reply)))";

static int32_t grow_op(host_canister *c, char op, uint8_t n, bool trap, status expect)
{
    uint8_t arg[3] = {(uint8_t)op, n, trap ? 't' : 0};
    host_result r = fx_call(c, HOST_CALL_UPDATE, "g", arg, sizeof arg);
    assert_int_equal(r.st, expect);
    int32_t v = -2;
    if (r.st == ST_OK) {
        assert_int_equal(r.bytes.len, 4);
        memcpy(&v, r.bytes.ptr, 4);
    }
    host_result_fini(&r);
    return v;
}

/* The memory limit counts heap, stable memory and tables together: a grow past it gives -1,
 * whichever memory grows, and a trapped grow gives its bytes back. A module whose initial
 * memory and tables exceed it is refused at deploy, before anything is allocated. */
static void test_memory_limit(void **state)
{
    (void)state;
    host_config lc = cfg;
    lc.max_memory_bytes = 5 * 65536 + 8000; /* the table takes 8000 of it */
    host_code *code = fx_code_wat(&lc, limit_wat);
    host_canister *c = fx_canister(&lc, code);
    assert_int_equal(grow_op(c, 'h', 5, false, ST_OK), -1); /* 6 pages + table: too much */
    assert_int_equal(grow_op(c, 'h', 2, true, ST_TRAP_UNREACHABLE), -2);
    assert_int_equal(grow_op(c, 's', 4, true, ST_TRAP_UNREACHABLE), -2);
    assert_int_equal(grow_op(c, 'h', 2, false, ST_OK), 1); /* heap 3 pages */
    assert_int_equal(grow_op(c, 's', 3, false, ST_OK), -1);
    assert_int_equal(grow_op(c, 's', 2, false, ST_OK), 0); /* stable 2 pages: 5 in all */
    assert_int_equal(grow_op(c, 'h', 1, false, ST_OK), -1);
    assert_int_equal(grow_op(c, 's', 1, false, ST_OK), -1);
    assert_int_equal(grow_op(c, 'h', 0, false, ST_OK), 3);
    host_canister_free(c);
    host_code_free(code);

    lc.max_memory_bytes = 65536 + 7999; /* one byte short of memory and table */
    host_code *none = NULL;
    engine_error err;
    assert_int_equal(fx_deploy_wat(&lc, limit_wat, &none, &err), ST_CANISTER_MEMORY_LIMIT);
    assert_null(none);
    assert_non_null(strstr(err.detail, "take 73536 bytes, the canister limit is 73535"));
    /* 100 tables of 10,000,000 elements: 8 GB wanted, refused under the default limit */
    char *many = malloc(100 * 40 + 64);
    assert_non_null(many);
    strcpy(many, "(module");
    for (int i = 0; i < 100; i++)
        strcat(many, " (table 10000000 funcref)");
    strcat(many, ")");
    assert_int_equal(fx_deploy_wat(&cfg, many, &none, &err), ST_CANISTER_MEMORY_LIMIT);
    assert_null(none);
    free(many);
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
        cmocka_unit_test(test_trap_restores_every_page),
        cmocka_unit_test(test_commit_reports_changed_pages),
        cmocka_unit_test(test_huge_grow_costs_touched_pages),
        cmocka_unit_test(test_memory_limit),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
