/* test_reader.c - LEB128 and fixed-width reading per the Wasm spec (5.2.2), the byte buffer's
 * LEB128 writers (round trips), hex text and the growth of arrays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base.h"

#define R(...) ((const uint8_t[]){__VA_ARGS__})
#define RD(arr) reader_of(span_of(arr, sizeof(arr)))

static status u32_of(const uint8_t *p, size_t n, uint32_t *v, size_t *used)
{
    reader r = reader_of(span_of(p, n));
    status st = reader_u32(&r, v);
    *used = reader_offset(&r);
    return st;
}

static void test_u32_valid(void **state)
{
    (void)state;
    uint32_t v = 7;
    size_t used;
    assert_int_equal(u32_of(R(0x00), 1, &v, &used), ST_OK);
    assert_int_equal(v, 0);
    assert_int_equal(used, 1);
    assert_int_equal(u32_of(R(0xe5, 0x8e, 0x26), 3, &v, &used), ST_OK);
    assert_int_equal(v, 624485);
    assert_int_equal(used, 3);
    /* overlong but within 5 bytes is allowed */
    assert_int_equal(u32_of(R(0x80, 0x80, 0x80, 0x80, 0x00), 5, &v, &used), ST_OK);
    assert_int_equal(v, 0);
    assert_int_equal(used, 5);
    assert_int_equal(u32_of(R(0xff, 0xff, 0xff, 0xff, 0x0f), 5, &v, &used), ST_OK);
    assert_int_equal(v, UINT32_MAX);
}

static void test_u32_errors(void **state)
{
    (void)state;
    uint32_t v = 7;
    size_t used;
    /* 6 bytes: too long */
    assert_int_equal(u32_of(R(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 6, &v, &used), ST_INT_TOO_LONG);
    /* unused bits of the 5th byte set: too large */
    assert_int_equal(u32_of(R(0xff, 0xff, 0xff, 0xff, 0x1f), 5, &v, &used), ST_INT_TOO_LARGE);
    assert_int_equal(u32_of(R(0x80, 0x80, 0x80, 0x80, 0x70), 5, &v, &used), ST_INT_TOO_LARGE);
    /* truncated */
    assert_int_equal(u32_of(R(0x80, 0x80), 2, &v, &used), ST_UNEXPECTED_END);
    assert_int_equal(u32_of(R(0x00), 0, &v, &used), ST_UNEXPECTED_END);
    assert_int_equal(v, 7); /* untouched on error */
    assert_int_equal(used, 0);
}

static void test_s32(void **state)
{
    (void)state;
    int32_t v = 0;
    reader r = RD(R(0x7f));
    assert_int_equal(reader_s32(&r, &v), ST_OK);
    assert_int_equal(v, -1);
    r = RD(R(0x80, 0x80, 0x80, 0x80, 0x78));
    assert_int_equal(reader_s32(&r, &v), ST_OK);
    assert_int_equal(v, INT32_MIN);
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0x07));
    assert_int_equal(reader_s32(&r, &v), ST_OK);
    assert_int_equal(v, INT32_MAX);
    /* 5th byte must be a sign extension of bit 31 */
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0x0f));
    assert_int_equal(reader_s32(&r, &v), ST_INT_TOO_LARGE);
    r = RD(R(0x80, 0x80, 0x80, 0x80, 0x70));
    assert_int_equal(reader_s32(&r, &v), ST_INT_TOO_LARGE);
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0xff, 0x7f));
    assert_int_equal(reader_s32(&r, &v), ST_INT_TOO_LONG);
    /* overlong negative within 5 bytes is fine */
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0x7f));
    assert_int_equal(reader_s32(&r, &v), ST_OK);
    assert_int_equal(v, -1);
}

static void test_s33_s64_u64(void **state)
{
    (void)state;
    int64_t s;
    uint64_t u;
    reader r = RD(R(0x40));
    assert_int_equal(reader_s33(&r, &s), ST_OK);
    assert_int_equal(s, -64);
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0x0f));
    assert_int_equal(reader_s33(&r, &s), ST_OK);
    assert_int_equal(s, 0xffffffffLL);
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0x1f));
    assert_int_equal(reader_s33(&r, &s), ST_INT_TOO_LARGE);
    r = RD(R(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f));
    assert_int_equal(reader_s64(&r, &s), ST_OK);
    assert_true(s == INT64_MIN);
    r = RD(R(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01));
    assert_int_equal(reader_s64(&r, &s), ST_INT_TOO_LARGE);
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    assert_int_equal(reader_u64(&r, &u), ST_OK);
    assert_true(u == UINT64_MAX);
    r = RD(R(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02));
    assert_int_equal(reader_u64(&r, &u), ST_INT_TOO_LARGE);
    r = RD(R(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
    assert_int_equal(reader_u64(&r, &u), ST_INT_TOO_LONG);
}

static void test_fixed_and_bytes(void **state)
{
    (void)state;
    reader r = RD(R(1, 2, 3, 4, 5, 6, 7, 8, 9));
    uint32_t a;
    uint64_t b;
    span s;
    assert_int_equal(reader_fixed32(&r, &a), ST_OK);
    assert_int_equal(a, 0x04030201u);
    assert_int_equal(reader_fixed64(&r, &b), ST_UNEXPECTED_END);
    assert_int_equal(reader_bytes(&r, 6, &s), ST_UNEXPECTED_END);
    assert_int_equal(reader_bytes(&r, 5, &s), ST_OK);
    assert_int_equal(s.len, 5);
    assert_int_equal(s.ptr[0], 5);
    assert_int_equal(reader_left(&r), 0);
    uint8_t c;
    assert_int_equal(reader_u8(&r, &c), ST_UNEXPECTED_END);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    const int64_t sv[] = {0, 1, -1, 63, 64, -64, -65, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    const uint64_t uv[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
    buf b = {0};
    for (size_t i = 0; i < BASE_ARRAY_LEN(sv); i++)
        assert_int_equal(buf_leb_s64(&b, sv[i]), ST_OK);
    for (size_t i = 0; i < BASE_ARRAY_LEN(uv); i++)
        assert_int_equal(buf_leb_u64(&b, uv[i]), ST_OK);
    reader r = reader_of(span_of(b.ptr, b.len));
    for (size_t i = 0; i < BASE_ARRAY_LEN(sv); i++) {
        int64_t v;
        assert_int_equal(reader_s64(&r, &v), ST_OK);
        assert_true(v == sv[i]);
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(uv); i++) {
        uint64_t v;
        assert_int_equal(reader_u64(&r, &v), ST_OK);
        assert_true(v == uv[i]);
    }
    assert_int_equal(reader_left(&r), 0);
    /* minimal encodings: 127 is one byte, 128 two, -64 one, -65 two */
    buf c = {0};
    assert_int_equal(buf_leb_u32(&c, 127), ST_OK);
    assert_int_equal(c.len, 1);
    assert_int_equal(buf_leb_s32(&c, -64), ST_OK);
    assert_int_equal(c.len, 2);
    assert_int_equal(buf_leb_s32(&c, -65), ST_OK);
    assert_int_equal(c.len, 4);
    buf_fini(&b);
    buf_fini(&c);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(span_is_utf8(span_of("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15)));
    assert_false(span_is_utf8(span_of("\xc0\x80", 2)));         /* overlong NUL */
    assert_false(span_is_utf8(span_of("\xed\xa0\x80", 3)));     /* surrogate */
    assert_false(span_is_utf8(span_of("\xf4\x90\x80\x80", 4))); /* > U+10FFFF */
    assert_false(span_is_utf8(span_of("\xe2\x82", 2)));         /* truncated */
    assert_false(span_is_utf8(span_of("\x80", 1)));             /* lone continuation */
    assert_true(span_is_utf8(span_of("", 0)));
}

static void test_hex(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        assert_int_equal(base_hex_digit((char)c), want);
    }
    const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xab, 0xff};
    char text[11];
    base_hex_write(bytes, sizeof bytes, text);
    assert_string_equal(text, "007f80abff");
    uint8_t back[5] = {0};
    assert_true(base_hex_read("007F80abFF", 10, back));
    assert_memory_equal(back, bytes, sizeof bytes);
    assert_false(base_hex_read("007", 3, back));  /* odd */
    assert_false(base_hex_read("0g", 2, back));   /* not a digit */
    assert_false(base_hex_read("0x00", 4, back)); /* no prefix */
    assert_true(base_hex_read("", 0, back));
}

static void test_grow(void **state)
{
    (void)state;
    uint64_t *a = NULL;
    uint32_t cap = 0;
    assert_int_equal(base_grow((void **)&a, &cap, 0, sizeof *a, 4), ST_OK);
    assert_int_equal(cap, 0);
    assert_int_equal(base_grow((void **)&a, &cap, 1, sizeof *a, 4), ST_OK);
    assert_int_equal(cap, 4);
    a[3] = 7;
    assert_int_equal(base_grow((void **)&a, &cap, 4, sizeof *a, 4), ST_OK);
    assert_int_equal(cap, 4); /* room enough: unchanged */
    assert_int_equal(base_grow((void **)&a, &cap, 5, sizeof *a, 4), ST_OK);
    assert_int_equal(cap, 8);
    assert_int_equal(base_grow((void **)&a, &cap, 100, sizeof *a, 4), ST_OK);
    assert_int_equal(cap, 128);
    assert_int_equal(a[3], 7);
    uint64_t *keep = a;
    assert_int_equal(base_grow((void **)&a, &cap, UINT32_MAX, sizeof *a, 4), ST_OUT_OF_MEMORY);
    assert_ptr_equal(a, keep);
    assert_int_equal(cap, 128);
    base_alloc_fail_after(0, false);
    assert_int_equal(base_grow((void **)&a, &cap, 129, sizeof *a, 4), ST_OUT_OF_MEMORY);
    base_alloc_fail_after(-1, false);
    assert_int_equal(cap, 128);
    base_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u32_valid),
        cmocka_unit_test(test_u32_errors),
        cmocka_unit_test(test_s32),
        cmocka_unit_test(test_s33_s64_u64),
        cmocka_unit_test(test_fixed_and_bytes),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
