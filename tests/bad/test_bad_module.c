/* test_bad_module.c - the bad-input catalogue, module part: hostile binaries that the
 * decoder and validator must reject with a typed INVALID status, quickly and without large
 * allocations, and engine-level bombs (memory.grow, table.grow) that must stay within the
 * configured limits.
 *
 * Modules are built byte by byte here, so every lie in them is visible. "Without allocating"
 * is checked with the process's peak RSS (getrusage): a 20-byte module that claims 2^32-1
 * entries must not raise it by more than a few MiB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine.h"

/* ---- building modules ------------------------------------------------------------------ */

static void put(buf *b, const void *p, size_t n)
{
    assert_int_equal(buf_put(b, p, n), ST_OK);
}
static void put_u8(buf *b, uint8_t v)
{
    put(b, &v, 1);
}
static void put_u32(buf *b, uint32_t v)
{
    assert_int_equal(buf_leb_u32(b, v), ST_OK);
}
static void header(buf *b)
{
    static const uint8_t h[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    b->len = 0;
    put(b, h, sizeof h);
}
/* A section with its true size. */
static void section(buf *b, uint8_t id, const buf *content)
{
    put_u8(b, id);
    put_u32(b, (uint32_t)content->len);
    put(b, content->ptr, content->len);
}
#define RAW(b, ...)                                                                               \
    put((b), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

/* type 0 = [] -> [], one function of it, and a code section with the given body (locals
 * declarations + instructions + end, without the size prefix). */
static void module_with_body(buf *out, const buf *body)
{
    buf sec = {0};
    header(out);
    RAW(&sec, 0x01, 0x60, 0x00, 0x00);
    section(out, 1, &sec);
    sec.len = 0;
    RAW(&sec, 0x01, 0x00);
    section(out, 3, &sec);
    sec.len = 0;
    put_u32(&sec, 1);
    put_u32(&sec, (uint32_t)body->len);
    put(&sec, body->ptr, body->len);
    section(out, 10, &sec);
    buf_fini(&sec);
}

static status load(const buf *b, engine_error *err)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    status st = engine_module_load(&cfg, span_of(b->ptr, b->len), &m, err);
    if (st == ST_OK)
        assert_non_null(m);
    else
        assert_null(m);
    engine_module_free(m);
    return st;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Loads b expecting `want`, in under 50 ms and with the peak RSS raised by < 8 MiB. */
static void expect_fast_reject(const buf *b, status want)
{
    long before = peak_rss_kib();
    double t0 = now_s();
    engine_error err;
    status st = load(b, &err);
    double dt = now_s() - t0;
    if (st != want)
        fail_msg("expected %s, got %s (%s)", status_name(want), status_name(st), err.detail);
    assert_true(dt < 0.05);
    assert_true(peak_rss_kib() - before < 8 * 1024);
}

/* ---- LEB128 -------------------------------------------------------------------------------- */

static void test_leb_truncated(void **state)
{
    (void)state;
    buf b = {0};
    header(&b);
    RAW(&b, 0x01, 0x01, 0x80); /* type section of 1 byte: a count whose LEB128 never ends */
    expect_fast_reject(&b, ST_UNEXPECTED_END);
    header(&b);
    RAW(&b, 0x01, 0x80); /* the section size itself is cut off */
    expect_fast_reject(&b, ST_UNEXPECTED_END);
    buf_fini(&b);
}

static void test_leb_overlong(void **state)
{
    (void)state;
    buf b = {0};
    /* a u32 count in 6 bytes (0 written with redundant continuation bytes) */
    header(&b);
    RAW(&b, 0x01, 0x06, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    expect_fast_reject(&b, ST_INT_TOO_LONG);
    /* a u32 whose 5th byte sets bits above 2^32 */
    header(&b);
    RAW(&b, 0x01, 0x05, 0x80, 0x80, 0x80, 0x80, 0x70);
    expect_fast_reject(&b, ST_INT_TOO_LARGE);
    /* an s32 immediate (i32.const) in 6 bytes */
    buf body = {0};
    RAW(&body, 0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b);
    module_with_body(&b, &body);
    expect_fast_reject(&b, ST_INT_TOO_LONG);
    /* an s32 whose last byte is not a sign extension */
    body.len = 0;
    RAW(&body, 0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x70, 0x1a, 0x0b);
    module_with_body(&b, &body);
    expect_fast_reject(&b, ST_INT_TOO_LARGE);
    buf_fini(&body);
    buf_fini(&b);
}

/* ---- section sizes --------------------------------------------------------------------------- */

static void test_section_size_lies(void **state)
{
    (void)state;
    buf b = {0};
    /* claims 100 bytes, 4 follow */
    header(&b);
    RAW(&b, 0x01, 0x64, 0x01, 0x60, 0x00, 0x00);
    expect_fast_reject(&b, ST_UNEXPECTED_END);
    /* claims 2^32-1 bytes */
    header(&b);
    RAW(&b, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x60, 0x00, 0x00);
    expect_fast_reject(&b, ST_UNEXPECTED_END);
    /* claims 5 bytes, but its one type ends after 4: the 5th byte is left over */
    header(&b);
    RAW(&b, 0x01, 0x05, 0x01, 0x60, 0x00, 0x00, 0x00);
    expect_fast_reject(&b, ST_SECTION_SIZE_MISMATCH);
    /* claims 3 bytes: the type's result count is cut off */
    header(&b);
    RAW(&b, 0x01, 0x03, 0x01, 0x60, 0x00, 0x00);
    engine_error err;
    status st = load(&b, &err);
    assert_true(st == ST_UNEXPECTED_END || st == ST_SECTION_SIZE_MISMATCH);
    /* a function body whose size runs past the code section */
    buf body = {0};
    RAW(&body, 0x00, 0x0b);
    module_with_body(&b, &body);
    b.ptr[b.len - 3] = 0x7f; /* the body size */
    expect_fast_reject(&b, ST_UNEXPECTED_END);
    buf_fini(&body);
    buf_fini(&b);
}

/* ---- huge counts ------------------------------------------------------------------------------- */

/* A 20-byte module: section `id` whose vector claims 2^32-1 entries. */
static void huge_count(uint8_t id)
{
    buf b = {0};
    header(&b);
    RAW(&b, id, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00);
    assert_int_equal(b.len, 20);
    long before = peak_rss_kib();
    double t0 = now_s();
    engine_error err;
    status st = load(&b, &err);
    assert_true(now_s() - t0 < 0.05);
    assert_true(peak_rss_kib() - before < 8 * 1024);
    if (st != ST_UNEXPECTED_END && st != ST_LIMIT_EXCEEDED)
        fail_msg("section %u: %s", id, status_name(st));
    buf_fini(&b);
}

static void test_huge_counts(void **state)
{
    (void)state;
    /* type, import, function, table, memory, global, export, elem, code, data */
    static const uint8_t ids[] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11};
    for (size_t i = 0; i < BASE_ARRAY_LEN(ids); i++)
        huge_count(ids[i]);
}

static void test_huge_inner_counts(void **state)
{
    (void)state;
    buf b = {0}, body = {0};
    /* a br_table with 2^32-1 targets */
    RAW(&body, 0x00, 0x41, 0x00, 0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x0b);
    module_with_body(&b, &body);
    long before = peak_rss_kib();
    status st = load(&b, NULL);
    assert_true(st == ST_UNEXPECTED_END || st == ST_LIMIT_EXCEEDED);
    /* a data count section of 2^32-1 then nothing */
    header(&b);
    RAW(&b, 0x0c, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f);
    st = load(&b, NULL);
    assert_true(st == ST_LIMIT_EXCEEDED || st == ST_DATA_COUNT_MISMATCH);
    /* a name of 2^32-1 bytes in an export */
    header(&b);
    RAW(&b, 0x07, 0x06, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f);
    expect_fast_reject(&b, ST_UNEXPECTED_END);
    assert_true(peak_rss_kib() - before < 8 * 1024);
    buf_fini(&body);
    buf_fini(&b);
}

/* ---- nesting and locals ------------------------------------------------------------------------- */

static void nested_blocks(buf *b, uint32_t depth)
{
    buf body = {0};
    put_u8(&body, 0x00);
    for (uint32_t i = 0; i < depth; i++)
        RAW(&body, 0x02, 0x40);
    for (uint32_t i = 0; i < depth; i++)
        put_u8(&body, 0x0b);
    put_u8(&body, 0x0b);
    module_with_body(b, &body);
    buf_fini(&body);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    engine_config cfg;
    engine_config_default(&cfg);
    buf b = {0};
    nested_blocks(&b, cfg.max_nesting - 2); /* the function's own block counts too */
    assert_int_equal(load(&b, NULL), ST_OK);
    nested_blocks(&b, cfg.max_nesting + 1);
    expect_fast_reject(&b, ST_LIMIT_EXCEEDED);
    nested_blocks(&b, 100000);
    expect_fast_reject(&b, ST_LIMIT_EXCEEDED);
    buf_fini(&b);
}

static void locals_module(buf *b, const uint32_t *counts, size_t ngroups)
{
    buf body = {0};
    put_u32(&body, (uint32_t)ngroups);
    for (size_t i = 0; i < ngroups; i++) {
        put_u32(&body, counts[i]);
        put_u8(&body, 0x7f);
    }
    put_u8(&body, 0x0b);
    module_with_body(b, &body);
    buf_fini(&body);
}

static void test_millions_of_locals(void **state)
{
    (void)state;
    buf b = {0};
    const uint32_t million5[] = {5000000};
    locals_module(&b, million5, 1);
    expect_fast_reject(&b, ST_LIMIT_EXCEEDED);
    const uint32_t wrap[] = {0x80000000u, 0x80000000u}; /* 2^32 in total: must not wrap to 0 */
    locals_module(&b, wrap, 2);
    expect_fast_reject(&b, ST_TOO_MANY_LOCALS);
    const uint32_t many[] = {UINT32_MAX, 1};
    locals_module(&b, many, 2);
    expect_fast_reject(&b, ST_TOO_MANY_LOCALS);
    const uint32_t ok[] = {1000, 1000};
    locals_module(&b, ok, 2);
    assert_int_equal(load(&b, NULL), ST_OK);
    buf_fini(&b);
}

/* ---- memory and table bombs (engine limits) ------------------------------------------------ */

/* Instantiates a module with no imports; returns its instance (code and module in *c, *m). */
static engine_instance *instantiate(const buf *b, const engine_run_config *rc, engine_module **m,
                                    engine_code **c)
{
    engine_config cfg;
    engine_config_default(&cfg);
    assert_int_equal(engine_module_load(&cfg, span_of(b->ptr, b->len), m, NULL), ST_OK);
    assert_int_equal(engine_code_compile(*m, c), ST_OK);
    engine_instance *inst = NULL;
    assert_int_equal(engine_instance_new(*c, rc, NULL, 0, NULL, &inst, NULL), ST_OK);
    return inst;
}

static uint32_t call_i32(engine_instance *inst, const char *name, uint32_t arg)
{
    engine_extern x;
    assert_int_equal(engine_instance_export(inst, span_of(name, strlen(name)), &x), ST_OK);
    uint64_t args[1] = {arg}, res[1] = {0};
    assert_int_equal(engine_instance_invoke(inst, x.u.func, args, res), ST_OK);
    return (uint32_t)res[0];
}

/* (memory 1) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
 * or with a table: (table 1 funcref) ... ref.null func local.get 0 table.grow 0 */
static void grow_module(buf *b, bool table)
{
    buf sec = {0};
    header(b);
    RAW(&sec, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f);
    section(b, 1, &sec);
    sec.len = 0;
    RAW(&sec, 0x01, 0x00);
    section(b, 3, &sec);
    sec.len = 0;
    if (table) {
        RAW(&sec, 0x01, 0x70, 0x00, 0x01);
        section(b, 4, &sec);
    } else {
        RAW(&sec, 0x01, 0x00, 0x01);
        section(b, 5, &sec);
    }
    sec.len = 0;
    RAW(&sec, 0x01, 0x04, 'g', 'r', 'o', 'w', 0x00, 0x00);
    section(b, 7, &sec);
    sec.len = 0;
    if (table)
        RAW(&sec, 0x01, 0x09, 0x00, 0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, 0x00, 0x0b);
    else
        RAW(&sec, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b);
    section(b, 10, &sec);
    buf_fini(&sec);
}

static void test_memory_grow_bomb(void **state)
{
    (void)state;
    buf b = {0};
    grow_module(&b, false);
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_memory_pages = 16;
    engine_module *m;
    engine_code *c;
    engine_instance *inst = instantiate(&b, &rc, &m, &c);
    long before = peak_rss_kib();
    assert_int_equal(call_i32(inst, "grow", 0xffffffffu), UINT32_MAX); /* -1 */
    assert_int_equal(call_i32(inst, "grow", 65536), UINT32_MAX);
    assert_int_equal(call_i32(inst, "grow", 16), UINT32_MAX); /* 17 > 16 */
    assert_int_equal(engine_memory_size(engine_instance_memory(inst)), 65536);
    assert_int_equal(call_i32(inst, "grow", 15), 1); /* exactly the limit is fine */
    assert_int_equal(call_i32(inst, "grow", 1), UINT32_MAX);
    assert_int_equal(engine_memory_size(engine_instance_memory(inst)), 16 * 65536);
    assert_true(peak_rss_kib() - before < 16 * 1024);
    engine_instance_free(inst);
    engine_code_free(c);
    engine_module_free(m);
    buf_fini(&b);
}

static void test_table_grow_bomb(void **state)
{
    (void)state;
    buf b = {0};
    grow_module(&b, true);
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_table_elems = 1000;
    engine_module *m;
    engine_code *c;
    engine_instance *inst = instantiate(&b, &rc, &m, &c);
    long before = peak_rss_kib();
    assert_int_equal(call_i32(inst, "grow", 0xffffffffu), UINT32_MAX);
    assert_int_equal(call_i32(inst, "grow", 0x7fffffffu), UINT32_MAX);
    assert_int_equal(call_i32(inst, "grow", 1000), UINT32_MAX); /* 1001 > 1000 */
    assert_int_equal(call_i32(inst, "grow", 999), 1);
    assert_int_equal(call_i32(inst, "grow", 1), UINT32_MAX);
    assert_int_equal(call_i32(inst, "grow", 0), 1000);
    assert_true(peak_rss_kib() - before < 16 * 1024);
    engine_instance_free(inst);
    engine_code_free(c);
    engine_module_free(m);
    buf_fini(&b);
}

/* table.grow by one element at a time: amortised, not a copy of the table per grow (it was
 * quadratic: 20,000 grows made 20,000 allocations and copied 1.6 GB, 761 ns per grow in
 * `tally bench shapes`). */
static void test_table_grow_by_one(void **state)
{
    (void)state;
    buf b = {0};
    grow_module(&b, true);
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    engine_module *m;
    engine_code *c;
    engine_instance *inst = instantiate(&b, &rc, &m, &c);
    unsigned long allocs = base_alloc_count();
    for (uint32_t k = 1; k <= 20000; k++)
        assert_int_equal(call_i32(inst, "grow", 1), k);
    assert_true(base_alloc_count() - allocs < 100);
    assert_int_equal(call_i32(inst, "grow", 0), 20001);
    engine_instance_free(inst);
    engine_code_free(c);
    engine_module_free(m);
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leb_truncated),      cmocka_unit_test(test_leb_overlong),
        cmocka_unit_test(test_section_size_lies),  cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_huge_inner_counts),  cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_millions_of_locals), cmocka_unit_test(test_memory_grow_bomb),
        cmocka_unit_test(test_table_grow_bomb),    cmocka_unit_test(test_table_grow_by_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
