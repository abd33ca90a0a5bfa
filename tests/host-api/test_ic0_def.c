/* test_ic0_def.c - checks the host API table host-api/ic0.def on its own, before any handler
 * exists: unique names, well-formed signatures, non-zero costs, context bits that exist, and the
 * rows the host API requires, with the spec's signatures and costs (docs/canisters.md).
 * It expands the table itself (with host-api/ic0_ctx.h); it is not the host-api code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ic0_ctx.h" /* the context bits, as the host-api code uses them */

enum { SUPPORTED = 1, UNSUPPORTED = 2 };

struct row {
    const char *name;
    const char *params;
    const char *results;
    unsigned base_cost;
    unsigned per_byte_cost;
    unsigned contexts;
    int support;
};

static const struct row rows[] = {
#define IC0(name, params, results, base, per_byte, ctx, support)                                  \
    {#name, params, results, base, per_byte, (unsigned)(ctx), support},
#include "ic0.def"
#undef IC0
};

#define ROW_COUNT (sizeof rows / sizeof rows[0])

/* Every name of the IC spec section 3 (32-bit form): the table must know them all. */
_Static_assert(sizeof rows / sizeof rows[0] == 74, "ic0.def must list all 74 ic0 functions");

static const struct row *row_find(const char *name)
{
    for (size_t i = 0; i < ROW_COUNT; i++) {
        if (strcmp(rows[i].name, name) == 0) {
            return &rows[i];
        }
    }
    return NULL;
}

static void test_names_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        assert_true(rows[i].name[0] != '\0');
        for (size_t j = i + 1; j < ROW_COUNT; j++) {
            if (strcmp(rows[i].name, rows[j].name) == 0) {
                fail_msg("duplicate ic0 name: %s", rows[i].name);
            }
        }
    }
}

static int sig_ok(const char *sig)
{
    for (const char *p = sig; *p != '\0'; p++) {
        if (*p != 'i' && *p != 'I') {
            return 0;
        }
    }
    return 1;
}

static void test_signatures_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        if (!sig_ok(rows[i].params) || !sig_ok(rows[i].results)) {
            fail_msg("%s: signature uses a letter other than i/I", rows[i].name);
        }
        assert_true(strlen(rows[i].params) <= 8);  /* call_new has the most: 8 */
        assert_true(strlen(rows[i].results) <= 1); /* ic0 functions return one value at most */
    }
}

static void test_costs_and_contexts(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const struct row *r = &rows[i];
        if (r->base_cost == 0) {
            fail_msg("%s: base cost is 0", r->name);
        }
        assert_true(r->per_byte_cost <= 1);
        if (r->contexts == 0 || (r->contexts & ~(unsigned)(CTX_ALL | CTX_START)) != 0) {
            fail_msg("%s: bad context mask 0x%x", r->name, r->contexts);
        }
        assert_true(r->support == SUPPORTED || r->support == UNSUPPORTED);
        /* A function that copies bytes out of or into the canister pays for them. */
        if (strstr(r->name, "_copy") != NULL) {
            assert_int_equal(r->per_byte_cost, 1);
        }
    }
}

/* Issue 6, item 1: the functions tally must implement. */
static const char *const essential[] = {
    "msg_arg_data_size",   "msg_arg_data_copy",     "msg_caller_size",
    "msg_caller_copy",     "msg_reply_data_append", "msg_reply",
    "msg_reject",          "msg_reject_code",       "msg_reject_msg_size",
    "msg_reject_msg_copy", "msg_method_name_size",  "msg_method_name_copy",
    "canister_self_size",  "canister_self_copy",    "canister_status",
    "stable_size",         "stable_grow",           "stable_read",
    "stable_write",        "stable64_size",         "stable64_grow",
    "stable64_read",       "stable64_write",        "time",
    "performance_counter", "global_timer_set",      "certified_data_set",
    "is_controller",       "debug_print",           "trap",
};

static void test_essential_supported(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof essential / sizeof essential[0]; i++) {
        const struct row *r = row_find(essential[i]);
        if (r == NULL) {
            fail_msg("essential ic0 function missing: %s", essential[i]);
        }
        if (r->support != SUPPORTED) {
            fail_msg("essential ic0 function not SUPPORTED: %s", essential[i]);
        }
    }
}

static void expect_row(const char *name, const char *params, const char *results, unsigned base,
                       unsigned per_byte, int support)
{
    const struct row *r = row_find(name);
    if (r == NULL) {
        fail_msg("missing: %s", name);
    }
    assert_string_equal(r->params, params);
    assert_string_equal(r->results, results);
    assert_int_equal(r->base_cost, base);
    assert_int_equal(r->per_byte_cost, per_byte);
    assert_int_equal(r->support, support);
}

/* Spot checks against the spec's signatures and the IC's costs (the IC spec, docs/canisters.md). */
static void test_known_rows(void **state)
{
    (void)state;
    expect_row("msg_arg_data_copy", "iii", "", 500, 1, SUPPORTED);
    expect_row("msg_reply", "", "", 500, 0, SUPPORTED);
    expect_row("msg_reject", "ii", "", 500, 1, SUPPORTED);
    expect_row("stable64_write", "III", "", 20, 1, SUPPORTED);
    expect_row("stable_grow", "i", "i", 500, 0, SUPPORTED);
    expect_row("stable64_size", "", "I", 20, 0, SUPPORTED);
    expect_row("time", "", "I", 500, 0, SUPPORTED);
    expect_row("performance_counter", "i", "I", 200, 0, SUPPORTED);
    expect_row("is_controller", "ii", "i", 1000, 1, SUPPORTED);
    expect_row("debug_print", "ii", "", 100, 1, SUPPORTED);
    expect_row("trap", "ii", "", 500, 1, SUPPORTED);
    expect_row("global_timer_set", "I", "I", 500, 0, SUPPORTED);
    expect_row("call_new", "iiiiiiii", "", 1500, 1, SUPPORTED);
    expect_row("call_perform", "", "i", 5000, 0, SUPPORTED);
    expect_row("msg_cycles_accept128", "IIi", "", 500, 0, SUPPORTED);
    expect_row("canister_cycle_balance", "", "I", 500, 0, SUPPORTED);
}

/* Context letters: a few rows whose contexts differ in telling ways. */
static void test_known_contexts(void **state)
{
    (void)state;
    /* "* s": also in (start). */
    assert_int_equal(row_find("debug_print")->contexts, CTX_ALL | CTX_START);
    assert_int_equal(row_find("stable64_read")->contexts, CTX_ALL | CTX_START);
    /* "*": not in (start). */
    assert_int_equal(row_find("time")->contexts, CTX_ALL);
    assert_int_equal(row_find("msg_caller_size")->contexts, CTX_ALL);
    /* F only. */
    assert_int_equal(row_find("accept_message")->contexts, CTX_INSPECT);
    /* No reply from init, upgrade hooks or system tasks; arguments not in pre_upgrade. */
    unsigned reply = row_find("msg_reply")->contexts;
    assert_int_equal(reply & (CTX_INIT | CTX_PRE_UPGRADE | CTX_POST_UPGRADE | CTX_TASK), 0);
    assert_true((reply & CTX_UPDATE) != 0 && (reply & CTX_QUERY_NR) != 0);
    unsigned arg = row_find("msg_arg_data_copy")->contexts;
    assert_true((arg & CTX_INIT) != 0 && (arg & CTX_POST_UPGRADE) != 0);
    assert_int_equal(arg & (CTX_PRE_UPGRADE | CTX_TASK | CTX_START), 0);
    /* A query cannot set a timer or certified data. */
    assert_int_equal(row_find("global_timer_set")->contexts & (CTX_QUERY | CTX_QUERY_NR), 0);
    assert_int_equal(row_find("certified_data_set")->contexts & (CTX_QUERY | CTX_QUERY_NR), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_unique),       cmocka_unit_test(test_signatures_well_formed),
        cmocka_unit_test(test_costs_and_contexts), cmocka_unit_test(test_essential_supported),
        cmocka_unit_test(test_known_rows),         cmocka_unit_test(test_known_contexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
