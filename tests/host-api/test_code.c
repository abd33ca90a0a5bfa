/* test_code.c - deploy-time processing (host-api/code.c): the IC's module rules, import
 * resolution to ic0.def rows, the method table, and allocation failures. */
#include "host_fixture.h"

static host_config cfg;

#define HEAD "(module\n"

static void expect_reject(const char *wat, status st, const char *detail)
{
    host_code *code = NULL;
    engine_error err;
    status got = fx_deploy_wat(&cfg, wat, &code, &err);
    if (got != st)
        fail_msg("expected %s, got %s (%s) for\n%s", status_name(st), status_name(got), err.detail,
                 wat);
    assert_null(code);
    if (detail && !strstr(err.detail, detail))
        fail_msg("detail \"%s\" lacks \"%s\"", err.detail, detail);
}

static void test_accepts_and_resolves(void **state)
{
    (void)state;
    host_code *code = fx_code_wat(&cfg, HEAD "(import \"ic0\" \"msg_reply\" (func))\n"
                                             "(import \"ic0\" \"time\" (func (result i64)))\n"
                                             "(func (export \"canister_update zeta\") (call 0))\n"
                                             "(func (export \"canister_query alpha\") (call 0))\n"
                                             "(func (export \"canister_update mid\") (call 0))\n"
                                             "(func (export \"canister_init\"))\n"
                                             "(func (export \"helper\") (param i32))\n"
                                             "(memory 1) (export \"memory\" (memory 0)))");
    assert_int_equal(host_code_method_count(code), 3);
    int kind;
    span n = host_code_method(code, 0, &kind);
    assert_true(span_eq_str(n, "alpha"));
    assert_int_equal(kind, HOST_METHOD_QUERY);
    assert_true(span_eq_str(host_code_method(code, 1, &kind), "mid"));
    assert_true(span_eq_str(host_code_method(code, 2, &kind), "zeta"));
    assert_int_equal(kind, HOST_METHOD_UPDATE);
    /* imports resolved to their rows */
    const host_ic0_row *r0 = host_ic0_row_at((uint32_t)host_code_import_row(code, 0));
    assert_string_equal(r0->name, "msg_reply");
    assert_true(r0->supported);
    assert_true(host_ic0_allowed(r0, HOST_CALL_UPDATE));
    assert_false(host_ic0_allowed(r0, HOST_CALL_INSPECT));
    assert_string_equal(host_ic0_row_at((uint32_t)host_code_import_row(code, 1))->name, "time");
    assert_int_equal(host_code_import_row(code, 2), -1);
    /* the instrumented bytes are a valid module with the counter export */
    span ib = host_code_instrumented(code);
    engine_module *m = NULL;
    assert_int_equal(engine_module_load(&cfg.engine, ib, &m, NULL), ST_OK);
    assert_int_equal(m->nimports, 3); /* __tally.out_of_instructions + 2 */
    engine_module_free(m);
    host_code_free(code);
    assert_int_equal(host_ic0_count(), 74);
    assert_null(host_ic0_row_at(74));
}

static void test_rejects_imports(void **state)
{
    (void)state;
    expect_reject(HEAD "(import \"ic0\" \"msg_frobnicate\" (func)))", ST_UNKNOWN_IMPORT,
                  "ic0.msg_frobnicate");
    expect_reject(HEAD "(import \"ic0\" \"msg_reply\" (func (param i32))))",
                  ST_INCOMPATIBLE_IMPORT, "ic0.msg_reply");
    expect_reject(HEAD "(import \"ic0\" \"time\" (func (result i32))))", ST_INCOMPATIBLE_IMPORT,
                  "ic0.time");
    expect_reject(HEAD "(import \"env\" \"time\" (func (result i64))))", ST_UNKNOWN_IMPORT,
                  "not from module");
    expect_reject("(module (import \"env\" \"memory\" (memory 1)))", ST_UNKNOWN_IMPORT, "memory");
    expect_reject(HEAD "(import \"ic0\" \"g\" (global i32)))", ST_UNKNOWN_IMPORT, NULL);
}

/* As on the IC, a known ic0 function tally does not implement is bound at deploy and traps only
 * when called, naming itself; errors about imports name the import, without a byte offset. */
static void test_unimplemented_imports_bind(void **state)
{
    (void)state;
    host_code *code = fx_code_wat(
        &cfg, HEAD "(import \"ic0\" \"root_key_size\" (func (result i32)))\n"
                   "(import \"ic0\" \"msg_reply\" (func))\n"
                   "(func (export \"canister_update uses\") (drop (call 0)) (call 1))\n"
                   "(func (export \"canister_update fine\") (call 1)))");
    host_canister *c = fx_canister(&cfg, code);
    host_result r = fx_call(c, HOST_CALL_UPDATE, "fine", NULL, 0);
    assert_int_equal(r.st, ST_OK);
    host_result_fini(&r);
    r = fx_call(c, HOST_CALL_UPDATE, "uses", NULL, 0);
    assert_int_equal(r.st, ST_HOST_UNSUPPORTED);
    assert_int_equal(r.reject_code, HOST_REJECT_CANISTER_ERROR);
    assert_true(fx_says(&r, "ic0.root_key_size is not implemented by tally"));
    host_result_fini(&r);
    host_canister_free(c);
    host_code_free(code);

    host_code *bad = NULL;
    engine_error err;
    assert_int_equal(fx_deploy_wat(&cfg, HEAD "(import \"ic0\" \"nope\" (func)))", &bad, &err),
                     ST_UNKNOWN_IMPORT);
    char text[256];
    engine_error_format(&err, text, sizeof text);
    assert_non_null(strstr(text, "import ic0.nope: no such ic0 function"));
    assert_null(strstr(text, "offset"));
}

static void test_rejects_exports(void **state)
{
    (void)state;
    expect_reject(HEAD "(func (export \"canister_frob\")))", ST_BAD_EXPORT, "canister_frob");
    expect_reject(HEAD "(func (export \"canister_update f\") (param i32)))", ST_BAD_EXPORT,
                  "[] -> []");
    expect_reject(HEAD "(func (export \"canister_query f\") (result i32) (i32.const 0)))",
                  ST_BAD_EXPORT, NULL);
    expect_reject(HEAD "(func (export \"canister_init\") (param i32)))", ST_BAD_EXPORT, NULL);
    expect_reject(HEAD "(func (export \"canister_update f\"))"
                       "(func (export \"canister_query f\")))",
                  ST_BAD_EXPORT, "\"f\" exported twice");
    expect_reject(HEAD "(func (export \"canister_start\")))", ST_BAD_EXPORT, "reserved");
    expect_reject(HEAD "(func (export \"canister_composite_query f\")))", ST_BAD_EXPORT,
                  "composite");
    expect_reject(HEAD "(global (export \"canister_update g\") i32 (i32.const 0)))", ST_BAD_EXPORT,
                  "not a function");
    expect_reject(HEAD "(global (export \"__tally_counter\") i32 (i32.const 0)))",
                  ST_RESERVED_NAME, NULL);
}

static void test_rejects_instructions(void **state)
{
    (void)state;
    expect_reject(HEAD "(table 1 funcref) (func (table.set 0 (i32.const 0) (ref.null func))))",
                  ST_UNSUPPORTED_FEATURE, "table.set");
    expect_reject(HEAD "(table 1 funcref) (func (drop (table.grow 0 (ref.null func) "
                       "(i32.const 1)))))",
                  ST_UNSUPPORTED_FEATURE, "table.grow");
    expect_reject(HEAD "(memory 1) (data \"x\") (func (data.drop 0)))", ST_UNSUPPORTED_FEATURE,
                  "data.drop");
    expect_reject(HEAD "(memory 1) (data \"x\") (func (memory.init 0 (i32.const 0) (i32.const 0) "
                       "(i32.const 1))))",
                  ST_UNSUPPORTED_FEATURE, "memory.init");
    /* reading a table and copying memory are fine */
    host_code *ok =
        fx_code_wat(&cfg, HEAD "(memory 1) (table 1 funcref)"
                               "(func (drop (table.get 0 (i32.const 0)))"
                               "(memory.copy (i32.const 0) (i32.const 8) (i32.const 8))))");
    host_code_free(ok);
}

static void test_invalid_module(void **state)
{
    (void)state;
    host_code *code = NULL;
    static const uint8_t junk[] = {0, 'a', 's', 'm', 2, 0, 0, 0};
    assert_int_equal(host_code_new(&cfg, span_of(junk, sizeof junk), &code, NULL),
                     ST_MALFORMED_VERSION);
    assert_null(code);
}

/* Every allocation of host_code_new may fail: ST_OUT_OF_MEMORY, nothing leaks (ASan). */
static void test_allocation_failures(void **state)
{
    (void)state;
    buf w = {0};
    fx_wat(HEAD "(import \"ic0\" \"msg_reply\" (func))\n"
                "(func (export \"canister_update a\") (call 0))\n"
                "(func (export \"canister_query b\") (call 0)))",
           &w);
    int oom = 0;
    for (long n = 0;; n++) {
        host_code *code = NULL;
        base_alloc_fail_after(n, false);
        status st = host_code_new(&cfg, span_of(w.ptr, w.len), &code, NULL);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            host_code_free(code);
            break;
        }
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_null(code);
        oom++;
    }
    assert_true(oom > 5);
    buf_fini(&w);
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
        cmocka_unit_test(test_accepts_and_resolves),       cmocka_unit_test(test_rejects_imports),
        cmocka_unit_test(test_unimplemented_imports_bind), cmocka_unit_test(test_rejects_exports),
        cmocka_unit_test(test_rejects_instructions),       cmocka_unit_test(test_invalid_module),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, fx_teardown);
}
