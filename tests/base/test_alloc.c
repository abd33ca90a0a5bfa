/* test_alloc.c - the allocator hook: failing the Nth allocation, sticky failure, counting, and a
 * buf that survives a failed growth unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base.h"

static void test_fail_nth(void **state)
{
    (void)state;
    unsigned long before = base_alloc_count();
    base_alloc_fail_after(2, false);
    void *a = base_alloc(8), *b = base_alloc(8), *c = base_alloc(8), *d = base_alloc(8);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);     /* the third fails */
    assert_non_null(d); /* not sticky: later ones succeed */
    assert_int_equal(base_alloc_count() - before, 4);
    base_free(a);
    base_free(b);
    base_free(d);
}

static void test_sticky_and_off(void **state)
{
    (void)state;
    base_alloc_fail_after(0, true);
    assert_null(base_alloc(1));
    assert_null(base_calloc(1, 1));
    assert_null(base_realloc(NULL, 1));
    base_alloc_fail_after(-1, false);
    void *p = base_calloc(4, 4);
    assert_non_null(p);
    for (int i = 0; i < 16; i++)
        assert_int_equal(((unsigned char *)p)[i], 0);
    base_free(p);
    assert_null(base_calloc(SIZE_MAX / 2, 4)); /* overflow */
}

static void test_buf_failure_keeps_contents(void **state)
{
    (void)state;
    buf b = {0};
    assert_int_equal(buf_put(&b, "abc", 3), ST_OK);
    base_alloc_fail_after(0, false);
    uint8_t big[100] = {0};
    assert_int_equal(buf_put(&b, big, sizeof big), ST_OUT_OF_MEMORY);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "abc", 3);
    assert_int_equal(buf_put(&b, big, sizeof big), ST_OK);
    assert_int_equal(b.len, 103);
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_nth),
        cmocka_unit_test(test_sticky_and_off),
        cmocka_unit_test(test_buf_failure_keeps_contents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
