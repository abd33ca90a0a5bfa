/* test_candid.c - the candid.h API: round trips through binary and text, errors with their
 * offsets, the decoding limits, numbers, principals and service descriptions. The official
 * conformance suite runs separately (candid_conformance.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "candid.h"

#define SP(s) span_of((s), strlen(s))
#define BIN(...) span_of((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

typedef struct fx {
    candid_env *env;
    candid_arena *a;
    candid_type t[16];
    size_t n;
} fx;

static int setup(void **state)
{
    fx *f = test_calloc(1, sizeof *f);
    f->env = candid_env_new();
    f->a = candid_arena_new();
    *state = f;
    return f->env && f->a ? 0 : -1;
}

static int teardown(void **state)
{
    fx *f = *state;
    candid_env_free(f->env);
    candid_arena_free(f->a);
    test_free(f);
    return 0;
}

static void types(fx *f, const char *text)
{
    candid_error err = {0, NULL};
    assert_int_equal(candid_types_parse(f->env, SP(text), f->t, 16, &f->n, &err), ST_OK);
}

/* text -> values -> binary -> values -> text: both value sets equal, the text stable. */
static void round_trip(fx *f, const char *tys, const char *text, const char *printed)
{
    types(f, tys);
    candid_value *v1, *v2, *v3;
    candid_error err = {0, NULL};
    assert_int_equal(candid_text_parse(f->a, f->env, f->t, f->n, SP(text), &v1, &err), ST_OK);
    buf bin = {0}, txt = {0};
    assert_int_equal(candid_encode(f->env, f->t, f->n, v1, &bin), ST_OK);
    assert_int_equal(
        candid_decode(f->a, f->env, f->t, f->n, span_of(bin.ptr, bin.len), NULL, &v2, &err),
        ST_OK);
    for (size_t i = 0; i < f->n; i++)
        assert_true(candid_value_eq(&v1[i], &v2[i]));
    assert_int_equal(candid_text_print(f->env, f->t, f->n, v2, &txt), ST_OK);
    assert_int_equal(buf_u8(&txt, 0), ST_OK);
    assert_string_equal((const char *)txt.ptr, printed);
    assert_int_equal(
        candid_text_parse(f->a, f->env, f->t, f->n, span_of(txt.ptr, txt.len - 1), &v3, &err),
        ST_OK);
    for (size_t i = 0; i < f->n; i++)
        assert_true(candid_value_eq(&v1[i], &v3[i]));
    buf_fini(&bin);
    buf_fini(&txt);
}

static void test_round_trips(void **state)
{
    fx *f = *state;
    round_trip(f, "(nat)", "(42 : nat)", "(42 : nat)");
    round_trip(f, "(int, int)", "(-1_000, 0x10)", "(-1000 : int, 16 : int)");
    round_trip(f, "(nat)", "(340282366920938463463374607431768211456)",
               "(340282366920938463463374607431768211456 : nat)");
    round_trip(f, "(int)", "(-340282366920938463463374607431768211457)",
               "(-340282366920938463463374607431768211457 : int)");
    round_trip(f, "(nat8, int16, nat64, int64)", "(255, -32768, 18446744073709551615, -1)",
               "(255 : nat8, -32768 : int16, 18446744073709551615 : nat64, -1 : int64)");
    round_trip(f, "(float64, float32)", "(0.1, -2.5)", "(0.1 : float64, -2.5 : float32)");
    round_trip(f, "(text, bool, null)", "(\"a\\n\\u{2603}\\\"\", true, null)",
               "(\"a\\n\xe2\x98\x83\\\"\", true, null)");
    round_trip(f, "(record { a : nat; b : vec nat16 })", "(record { b = vec { 1; 2 }; a = 1 })",
               "(record { a = 1 : nat; b = vec { 1 : nat16; 2 : nat16 } })");
    round_trip(f, "(variant { ok : principal; err : text })",
               "(variant { ok = principal \"aaaaa-aa\" })",
               "(variant { ok = principal \"aaaaa-aa\" })");
    round_trip(f, "(opt blob, opt opt nat)", "(opt blob \"\\00\\ff\", opt null)",
               "(opt blob \"\\00\\ff\", opt null)");
    round_trip(f, "(record { nat; text })", "(record { 7; \"x\" })",
               "(record { 7 : nat; \"x\" })");
    round_trip(f, "(variant { a; b : nat })", "(variant { a })", "(variant { a })");
    round_trip(f, "(func (nat) -> (text) query, service {})",
               "(func \"w7x7r-cok77-xa\".get, service \"aaaaa-aa\")",
               "(func \"w7x7r-cok77-xa\".get, service \"aaaaa-aa\")");
}

static void test_recursive_type(void **state)
{
    fx *f = *state;
    candid_error err = {0, NULL};
    assert_int_equal(
        candid_did_parse(f->env, SP("type List = opt record { head : int; tail : List };"), &err),
        ST_OK);
    round_trip(
        f, "(List)", "(opt record { head = 1; tail = opt record { head = 2; tail = null } })",
        "(opt record { head = 1 : int; tail = opt record { head = 2 : int; tail = null } })");
}

static status decode_at(fx *f, const char *tys, span msg, candid_value **v, candid_error *err)
{
    types(f, tys);
    return candid_decode(f->a, f->env, f->t, f->n, msg, NULL, v, err);
}

static void test_binary_errors(void **state)
{
    fx *f = *state;
    candid_value *v;
    candid_error err = {0, NULL};
    assert_int_equal(decode_at(f, "()", BIN('D', 'A', 'D', 'L', 0, 0), &v, &err), ST_CANDID_MAGIC);
    assert_int_equal(err.offset, 0);
    assert_int_equal(decode_at(f, "(bool)", BIN('D', 'I', 'D', 'L', 0, 1, 0x7e, 2), &v, &err),
                     ST_CANDID_BAD_VALUE);
    assert_int_equal(err.offset, 7);
    assert_int_equal(decode_at(f, "(nat16)", BIN('D', 'I', 'D', 'L', 0, 1, 0x7a, 1), &v, &err),
                     ST_CANDID_TRUNCATED);
    assert_int_equal(err.offset, 7);
    assert_int_equal(decode_at(f, "()", BIN('D', 'I', 'D', 'L', 0, 0, 0), &v, &err),
                     ST_CANDID_TRAILING);
    assert_int_equal(err.offset, 6);
    assert_int_equal(decode_at(f, "()", BIN('D', 'I', 'D', 'L', 1, 0x7f, 0), &v, &err),
                     ST_CANDID_BAD_TYPE);
    assert_int_equal(err.offset, 5);
    assert_int_equal(decode_at(f, "(nat)", BIN('D', 'I', 'D', 'L', 0, 1, 0x71, 1, 'x'), &v, &err),
                     ST_CANDID_TYPE_MISMATCH);
    assert_int_equal(err.offset, 7);
    assert_int_equal(decode_at(f, "(nat)", BIN('D', 'I', 'D', 'L', 0, 0), &v, &err),
                     ST_CANDID_TYPE_MISMATCH);
    /* text: invalid UTF-8 is reported where the text starts */
    assert_int_equal(
        decode_at(f, "(text)", BIN('D', 'I', 'D', 'L', 0, 1, 0x71, 2, 0xc3, 0x28), &v, &err),
        ST_CANDID_BAD_VALUE);
    assert_int_equal(err.offset, 8);
}

static void test_coercions(void **state)
{
    fx *f = *state;
    candid_value *v;
    candid_error err = {0, NULL};
    /* a nat read as int, a missing opt argument as null, an extra argument dropped */
    assert_int_equal(
        decode_at(f, "(int, opt text)", BIN('D', 'I', 'D', 'L', 0, 2, 0x7d, 0x7e, 5, 1), &v, &err),
        ST_OK);
    assert_int_equal(v[0].kind, CANDID_INT);
    int64_t i;
    assert_int_equal(candid_value_i64(&v[0], &i), ST_OK);
    assert_int_equal(i, 5);
    assert_int_equal(v[1].kind, CANDID_OPT);
    assert_int_equal(v[1].n, 0);
    /* a bool where opt nat is expected reads as null; the value is still consumed */
    assert_int_equal(decode_at(f, "(opt nat)", BIN('D', 'I', 'D', 'L', 0, 1, 0x7e, 1), &v, &err),
                     ST_OK);
    assert_int_equal(v[0].n, 0);
}

static void test_limits(void **state)
{
    fx *f = *state;
    candid_value *v;
    candid_error err = {0, NULL};
    candid_limits lim;
    candid_limits_default(&lim);
    /* 10,000,000 nulls in 10 bytes: over the quota, rejected at the count */
    span bomb = BIN('D', 'I', 'D', 'L', 1, 0x6d, 0x7f, 1, 0, 0x80, 0xad, 0xe2, 0x04);
    types(f, "(vec null)");
    assert_int_equal(candid_decode(f->a, f->env, f->t, 1, bomb, &lim, &v, &err), ST_CANDID_LIMIT);
    assert_int_equal(err.offset, bomb.len);
    /* 1,000 nulls fit the default quota but not a quota of 100 */
    span thousand = BIN('D', 'I', 'D', 'L', 1, 0x6d, 0x7f, 1, 0, 0xe8, 0x07);
    assert_int_equal(candid_decode(f->a, f->env, f->t, 1, thousand, &lim, &v, &err), ST_OK);
    assert_int_equal(v[0].n, 1000);
    lim.cost_base = 100;
    lim.cost_per_byte = 0;
    assert_int_equal(candid_decode(f->a, f->env, f->t, 1, thousand, &lim, &v, &err),
                     ST_CANDID_LIMIT);
    /* nesting: opt opt ... 300 deep against a depth limit of 128 */
    candid_error perr = {0, NULL};
    assert_int_equal(candid_did_parse(f->env, SP("type O = opt O;"), &perr), ST_OK);
    types(f, "(O)");
    uint8_t msg[400] = {'D', 'I', 'D', 'L', 1, 0x6e, 0, 1, 0};
    size_t len = 9;
    for (int k = 0; k < 300; k++)
        msg[len++] = 1;
    msg[len++] = 0;
    candid_limits_default(&lim);
    assert_int_equal(candid_decode(f->a, f->env, f->t, 1, span_of(msg, len), &lim, &v, &err),
                     ST_CANDID_LIMIT);
    lim.max_depth = 400;
    assert_int_equal(candid_decode(f->a, f->env, f->t, 1, span_of(msg, len), &lim, &v, &err),
                     ST_OK);
}

static void test_text_errors(void **state)
{
    fx *f = *state;
    candid_value *v;
    candid_error err = {0, NULL};
    types(f, "(nat8, text)");
    assert_int_equal(candid_text_parse(f->a, f->env, f->t, 2, SP("(256, \"x\")"), &v, &err),
                     ST_CANDID_TYPE_MISMATCH);
    assert_int_equal(err.offset, 1);
    assert_int_equal(candid_text_parse(f->a, f->env, f->t, 2, SP("(1, \"x\" 2)"), &v, &err),
                     ST_CANDID_SYNTAX);
    assert_int_equal(err.offset, 8);
    assert_int_equal(candid_text_parse(f->a, f->env, f->t, 2, SP("(1, \"\\u{d800}\")"), &v, &err),
                     ST_CANDID_SYNTAX);
    assert_int_equal(candid_text_parse(f->a, f->env, f->t, 2, SP("(1, \"x\", 3)"), &v, &err),
                     ST_CANDID_TYPE_MISMATCH);
    types(f, "(principal)");
    assert_int_equal(
        candid_text_parse(f->a, f->env, f->t, 1, SP("(principal \"aaaaa-ab\")"), &v, &err),
        ST_CANDID_BAD_PRINCIPAL);
}

static void test_principals(void **state)
{
    (void)state;
    const uint8_t id[] = {0xca, 0xff, 0xee};
    buf b = {0};
    assert_int_equal(candid_principal_print(id, 3, &b), ST_OK);
    assert_int_equal(b.len, 14);
    assert_memory_equal(b.ptr, "w7x7r-cok77-xa", 14);
    uint8_t out[29];
    size_t n;
    assert_int_equal(candid_principal_parse("w7x7r-cok77-xa", 14, out, &n), ST_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, id, 3);
    assert_int_equal(candid_principal_parse("aaaaa-aa", 8, out, &n), ST_OK);
    assert_int_equal(n, 0);
    assert_int_equal(candid_principal_parse("w7x7r-cok77-xb", 14, out, &n),
                     ST_CANDID_BAD_PRINCIPAL);
    assert_int_equal(candid_principal_parse("w7x7rcok77-xa", 13, out, &n),
                     ST_CANDID_BAD_PRINCIPAL);
    buf_fini(&b);
}

static void test_service(void **state)
{
    fx *f = *state;
    candid_error err = {0, NULL};
    const char *did =
        "type Account = record { owner : principal; sub : opt blob };\n"
        "/* a comment */ service : (nat) -> {\n"
        "  transfer : (to : Account, amount : nat) -> (variant { ok : nat; err : text });\n"
        "  balance : (Account) -> (nat) query;\n"
        "  \"notify\" : () -> () oneway;\n"
        "};\n";
    assert_int_equal(candid_did_parse(f->env, SP(did), &err), ST_OK);
    candid_type svc, fn;
    assert_true(candid_env_service(f->env, &svc));
    size_t nm;
    const candid_field *m = candid_type_fields(f->env, svc, &nm);
    assert_int_equal(nm, 3);
    assert_string_equal(m[0].name, "balance"); /* sorted by name */
    assert_int_equal(candid_service_method(f->env, svc, "transfer", 8, &fn), ST_OK);
    const candid_field *args, *rets;
    size_t na, nr;
    unsigned anns;
    candid_type_func(f->env, fn, &args, &na, &rets, &nr, &anns);
    assert_int_equal(na, 2);
    assert_int_equal(nr, 1);
    assert_int_equal(anns, 0);
    assert_int_equal(candid_type_kind(f->env, args[0].type), CANDID_RECORD);
    assert_int_equal(candid_service_method(f->env, svc, "balance", 7, &fn), ST_OK);
    candid_type_func(f->env, fn, &args, &na, &rets, &nr, &anns);
    assert_int_equal(anns, CANDID_ANN_QUERY);
    assert_int_equal(candid_service_method(f->env, svc, "notify", 6, &fn), ST_OK);
    candid_type_func(f->env, fn, &args, &na, &rets, &nr, &anns);
    assert_int_equal(anns, CANDID_ANN_ONEWAY);
    assert_int_equal(candid_service_method(f->env, svc, "nope", 4, &fn), ST_CANDID_UNKNOWN_NAME);
    const candid_field *init;
    size_t ninit;
    assert_true(candid_env_init_args(f->env, &init, &ninit));
    assert_int_equal(ninit, 1);
    assert_int_equal(init[0].type, CANDID_NAT);
    assert_int_equal(candid_name_hash("foo", 3), 5097222u);
}

static void test_did_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        status st;
        size_t off;
    } cases[] = {
        {"type A = B;", ST_CANDID_UNKNOWN_NAME, 0},
        {"type A = B; type B = A;", ST_CANDID_BAD_TYPE, 0},
        {"type A = nat; type A = int;", ST_CANDID_UNKNOWN_NAME, 19},
        {"type A = record { a : nat; a : int };", ST_CANDID_BAD_TYPE, 35},
        {"type A = record { a : nat", ST_CANDID_SYNTAX, 25},
        {"import \"x.did\";", ST_CANDID_SYNTAX, 0},
        {"service : { m : () -> (); m : () -> () }", ST_CANDID_BAD_TYPE, 39},
        {"type A = nat /* unclosed", ST_CANDID_SYNTAX, 13},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        candid_env *env = candid_env_new();
        candid_error err = {0, NULL};
        assert_int_equal(candid_did_parse(env, SP(cases[i].text), &err), cases[i].st);
        assert_int_equal(err.offset, cases[i].off);
        candid_env_free(env);
    }
}

static void test_out_of_memory(void **state)
{
    fx *f = *state;
    types(f, "(record { a : vec text; b : opt nat })");
    const char *text = "(record { a = vec { \"x\"; \"y\" }; b = opt 5 })";
    candid_value *v;
    candid_error err = {0, NULL};
    assert_int_equal(candid_text_parse(f->a, f->env, f->t, 1, SP(text), &v, &err), ST_OK);
    buf bin = {0};
    assert_int_equal(candid_encode(f->env, f->t, 1, v, &bin), ST_OK);
    /* every allocation site of decoding fails cleanly (the arena's chunks, the wire types) */
    for (long k = 0; k < 64; k++) {
        candid_arena *a = candid_arena_new();
        assert_non_null(a);
        base_alloc_fail_after(k, true);
        status st = candid_decode(a, f->env, f->t, 1, span_of(bin.ptr, bin.len), NULL, &v, &err);
        base_alloc_fail_after(-1, false);
        assert_true(st == ST_OK || st == ST_OUT_OF_MEMORY);
        candid_arena_free(a);
        if (st == ST_OK)
            break;
    }
    buf_fini(&bin);
}

/* Values without a known type: text types inferred, binary shown at its own types. */
static void test_untyped(void **state)
{
    fx *f = *state;
    candid_type *t, *t2;
    size_t n, n2;
    candid_value *v, *v2;
    candid_error err = {0, NULL};
    const char *text = "(42, -7, \"hi\", record { b = vec { 1.5 }; a = opt true }, "
                       "variant { ok = blob \"\\01\" }, (5 : nat8), vec {})";
    assert_int_equal(candid_text_parse_any(f->a, f->env, SP(text), &t, &n, &v, &err), ST_OK);
    assert_int_equal(n, 7);
    assert_int_equal(candid_type_kind(f->env, t[0]), CANDID_NAT);
    assert_int_equal(candid_type_kind(f->env, t[1]), CANDID_INT);
    assert_int_equal(candid_type_kind(f->env, t[5]), CANDID_NAT8);
    buf bin = {0}, out = {0};
    assert_int_equal(candid_encode(f->env, t, n, v, &bin), ST_OK);
    candid_env *wire = NULL;
    assert_int_equal(
        candid_decode_any(f->a, span_of(bin.ptr, bin.len), NULL, &wire, &t2, &n2, &v2, &err),
        ST_OK);
    assert_int_equal(n2, 7);
    assert_int_equal(candid_text_print(wire, t2, n2, v2, &out), ST_OK);
    assert_int_equal(buf_u8(&out, 0), ST_OK);
    /* the wire has no field names: ids (hash of "a" is 97, of "b" 98, of "ok" 24860) */
    assert_string_equal((const char *)out.ptr,
                        "(42 : nat, -7 : int, \"hi\", record { 97 = opt true; 98 = vec { 1.5 : "
                        "float64 } }, variant { 24860 = blob \"\\01\" }, 5 : nat8, vec {})");
    candid_env_free(wire);
    /* a malformed message, and the environment left unchanged by a failed parse */
    assert_int_equal(candid_decode_any(f->a, BIN('D', 'I', 'D', 'L', 0, 1, 0x7e, 2), NULL, &wire,
                                       &t2, &n2, &v2, &err),
                     ST_CANDID_BAD_VALUE);
    assert_int_equal(candid_text_parse_any(f->a, f->env, SP("(1 : Undefined)"), &t, &n, &v, &err),
                     ST_CANDID_UNKNOWN_NAME);
    types(f, "(nat)");
    buf_fini(&bin);
    buf_fini(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recursive_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_coercions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_errors, setup, teardown),
        cmocka_unit_test(test_principals),
        cmocka_unit_test_setup_teardown(test_service, setup, teardown),
        cmocka_unit_test(test_did_errors),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untyped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
