/* test_status.c - the status table: names, classes, messages, uniqueness of numbers and names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base.h"

typedef struct row {
    int num;
    const char *name;
    status_class cls;
} row;

static const row rows[] = {
#define STATUS(name, num, cls, msg) {num, #name, SC_##cls},
#include "status.def"
#undef STATUS
};

static void test_lookup(void **state)
{
    (void)state;
    assert_string_equal(status_name(ST_OK), "OK");
    assert_int_equal(status_class_of(ST_OK), SC_OK);
    assert_string_equal(status_name(ST_TRAP_UNREACHABLE), "TRAP_UNREACHABLE");
    assert_int_equal(status_class_of(ST_TRAP_UNREACHABLE), SC_TRAP);
    assert_string_equal(status_message(ST_TRAP_INT_DIV_ZERO), "integer divide by zero");
    assert_int_equal(status_class_of(ST_INSTRUCTION_LIMIT_EXCEEDED), SC_TRAP);
    assert_int_equal(status_class_of(ST_OUT_OF_MEMORY), SC_FAULT);
    assert_int_equal(status_class_of(ST_TYPE_MISMATCH), SC_INVALID);
    assert_int_equal(status_class_of(ST_BUG_INVARIANT), SC_BUG);
    assert_string_equal(status_class_name(SC_FAULT), "FAULT");
    /* numbers not in the table */
    assert_false(status_is_known(99999));
    assert_string_equal(status_name((status)99999), "UNKNOWN_STATUS");
    assert_int_equal(status_class_of((status)99999), SC_BUG);
}

static void test_bug(void **state)
{
    (void)state;
    int line = 0;
    int here = __LINE__ + 1;
    status st = BUG();
    assert_int_equal(st, ST_BUG_INVARIANT);
    const char *file = base_bug_where(&line);
    assert_non_null(file);
    assert_non_null(strstr(file, "test_status.c"));
    assert_int_equal(line, here);
}

static void test_table_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(rows); i++) {
        /* rows are appended at the end of their range: numbers ascend through the file */
        if (i > 0)
            assert_true(rows[i].num > rows[i - 1].num);
        assert_true(status_is_known(rows[i].num));
        assert_string_equal(status_name((status)rows[i].num), rows[i].name);
        assert_int_equal(status_class_of((status)rows[i].num), rows[i].cls);
        assert_true(strlen(status_message((status)rows[i].num)) > 0);
        /* the number range matches the class (status.def's header) */
        int range = rows[i].num / 100;
        switch (rows[i].cls) {
        case SC_OK: assert_int_equal(rows[i].num, 0); break;
        case SC_TRAP: assert_true(range == 4 || range == 5); break;
        case SC_FAULT: assert_int_equal(range, 8); break;
        case SC_BUG: assert_int_equal(range, 9); break;
        case SC_INVALID: assert_true((range >= 1 && range <= 7) || range == 10); break;
        }
        for (size_t j = i + 1; j < BASE_ARRAY_LEN(rows); j++) {
            assert_int_not_equal(rows[i].num, rows[j].num);
            assert_true(strcmp(rows[i].name, rows[j].name) != 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_table_consistent),
        cmocka_unit_test(test_bug),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
