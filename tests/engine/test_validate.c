/* test_validate.c - the validator (engine/validate.c): typing of function bodies (type
 * mismatches, the polymorphic stack after unreachable code, multi-value blocks, labels and
 * br_table arities, calls, locals, globals, memory, references, tables), and the module rules
 * (exports, start, limits, memories, constant expressions, segments, declared references). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine.h"
#include "modbuild.h"

/* Value types of a signature string: i I f F, r = funcref, e = externref. */
static void put_types(mbuf *m, const char *s, size_t n)
{
    mb_u32(m, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const char *c = strchr("iIfFre", s[i]);
        static const uint8_t vt[] = {VT_I32, VT_I64, VT_F32, VT_F64, VT_FUNCREF, VT_EXTERNREF};
        mb_u8(m, vt[c - "iIfFre"]);
    }
}

/* "params>results" as a function type entry. */
static void put_functype(mbuf *m, const char *sig)
{
    const char *gt = strchr(sig, '>');
    mb_u8(m, 0x60);
    put_types(m, sig, (size_t)(gt - sig));
    put_types(m, gt + 1, strlen(gt + 1));
}

/* The test module around one body under test (function 0, type `sig`, one extra i64 local):
 *   types  0: sig   1: [] -> [i32 i64]   2: [i32] -> [i32]   3: [] -> []
 *   funcs  0: under test   1: type 2 (returns its argument)   2: type 3
 *   tables 0: funcref 1    1: externref 1;   memory 1 page
 *   globals 0: immutable i32   1: mutable i64
 *   elem   declarative segment naming function 1 (so ref.func 1 is declared, 0 and 2 not)
 *   data   count 1, one passive segment */
static void body_module(mbuf *m, const char *sig, const uint8_t *body, size_t n)
{
    mbuf s = {.n = 0};
    mb_header(m);
    mb_u8(&s, 4);
    put_functype(&s, sig);
    put_functype(&s, ">iI");
    put_functype(&s, "i>i");
    put_functype(&s, ">");
    mb_section(m, 1, s.b, s.n);
    SEC(m, 3, 0x03, 0x00, 0x02, 0x03);
    SEC(m, 4, 0x02, 0x70, 0x00, 0x01, 0x6f, 0x00, 0x01);
    SEC(m, 5, 0x01, 0x00, 0x01);
    SEC(m, 6, 0x02, 0x7f, 0x00, 0x41, 0x00, 0x0b, 0x7e, 0x01, 0x42, 0x00, 0x0b);
    SEC(m, 9, 0x01, 0x03, 0x00, 0x01, 0x01);
    SEC(m, 12, 0x01);
    s.n = 0;
    mb_u8(&s, 3);
    mb_u32(&s, (uint32_t)(n + 3));
    mb_bytes(&s, BYTES(0x01, 0x01, 0x7e), 3);
    mb_bytes(&s, body, n);
    mb_bytes(&s, BYTES(0x04, 0x00, 0x20, 0x00, 0x0b, 0x02, 0x00, 0x0b), 8);
    mb_section(m, 10, s.b, s.n);
    SEC(m, 11, 0x01, 0x01, 0x01, 'x');
}

static status load_status(const engine_config *cfg, span s, engine_error *err)
{
    engine_module *m = NULL;
    status st = engine_module_decode(cfg, s, &m, err);
    if (st != ST_OK)
        fail_msg("decoding failed: %s (%s)", status_name(st), err->detail);
    st = engine_module_validate(cfg, m, err);
    assert_int_equal(st, err->st);
    engine_module_free(m);
    return st;
}

static void body_check(status expect, const char *sig, const uint8_t *body, size_t n, int line)
{
    mbuf m;
    engine_config cfg;
    engine_error err;
    engine_config_default(&cfg);
    body_module(&m, sig, body, n);
    status st = load_status(&cfg, mb_span(&m), &err);
    if (st != expect)
        fail_msg("line %d: expected %s, got %s (%s)", line, status_name(expect), status_name(st),
                 err.detail);
}

/* B(expected status, "sig", body bytes...) - the body includes its final end (0x0b). */
#define B(expect, sig, ...)                                                                       \
    body_check((expect), (sig), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__), __LINE__)

#define OK ST_OK
#define TM ST_TYPE_MISMATCH

static void test_template_valid(void **state)
{
    (void)state;
    B(OK, ">", 0x0b);
    B(OK, "ii>i", 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b);
}

static void test_type_mismatch(void **state)
{
    (void)state;
    B(TM, ">i", 0x42, 0x00, 0x0b);                        /* i64 for i32 */
    B(TM, ">", 0x41, 0x01, 0x0b);                         /* value left over */
    B(TM, ">i", 0x0b);                                    /* missing result */
    B(TM, ">", 0x41, 0x00, 0x42, 0x00, 0x6a, 0x1a, 0x0b); /* i32.add of i64 */
    B(TM, ">", 0x43, 0, 0, 0, 0, 0x45, 0x1a, 0x0b);       /* i32.eqz of f32 */
    B(TM, ">", 0x1a, 0x0b);                               /* drop of nothing */
    B(OK, ">F", 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x0b);
    B(TM, "i>", 0x20, 0x01, 0x21, 0x00, 0x0b);        /* i64 local into i32 local */
    B(OK, "i>I", 0x20, 0x00, 0x22, 0x00, 0xac, 0x0b); /* local.tee, i64.extend_i32_s */
}

static void test_polymorphic_stack(void **state)
{
    (void)state;
    B(OK, ">i", 0x00, 0x0b);                   /* unreachable satisfies any result */
    B(OK, ">i", 0x00, 0x6a, 0x0b);             /* i32.add of unknowns */
    B(TM, ">i", 0x00, 0x42, 0x00, 0x6a, 0x0b); /* but a known i64 still mismatches */
    B(OK, ">", 0x00, 0x1b, 0x1a, 0x0b);        /* select of unknowns */
    B(TM, ">", 0x00, 0x41, 0x00, 0x0b);        /* values left over after unreachable */
    B(OK, ">i", 0x41, 0x01, 0x0c, 0x00, 0x0b); /* br 0 with its value */
    B(TM, ">i", 0x0c, 0x00, 0x0b);             /* br 0 without */
    B(OK, ">i", 0x41, 0x01, 0x0c, 0x00, 0x42, 0x00, 0x1a, 0x0b); /* dead code after br */
    B(TM, ">i", 0x41, 0x01, 0x0f, 0x42, 0x00, 0x0b);             /* return, then an i64 result */
    B(OK, ">I", 0x00, 0x02, 0x7f, 0x00, 0x0b, 0x1a, 0x42, 0x00, 0x0b); /* nested reset */
    B(TM, ">", 0x00, 0x02, 0x40, 0x1a, 0x0b, 0x0b); /* a new block is not unreachable */
    B(OK, ">", 0x00, 0xd1, 0x1a, 0x0b);             /* ref.is_null of unknown */
}

static void test_blocks_multi_value(void **state)
{
    (void)state;
    /* block (type 1) [] -> [i32 i64] */
    B(OK, ">iI", 0x02, 0x01, 0x41, 0x01, 0x42, 0x02, 0x0b, 0x0b);
    B(TM, ">iI", 0x02, 0x01, 0x42, 0x02, 0x41, 0x01, 0x0b, 0x0b);
    /* block (type 2) [i32] -> [i32] takes its parameter from the outer stack */
    B(OK, ">", 0x41, 0x01, 0x02, 0x02, 0x41, 0x01, 0x6a, 0x0b, 0x1a, 0x0b);
    B(TM, ">", 0x02, 0x02, 0x41, 0x01, 0x0b, 0x1a, 0x0b);
    /* loop label types are its parameters */
    B(OK, ">", 0x41, 0x00, 0x03, 0x02, 0x0c, 0x00, 0x0b, 0x1a, 0x0b);
    B(TM, ">", 0x41, 0x00, 0x03, 0x02, 0x1a, 0x0c, 0x00, 0x0b, 0x1a, 0x0b);
    /* if without else must have equal parameters and results */
    B(OK, ">", 0x41, 0x01, 0x41, 0x01, 0x04, 0x02, 0x0b, 0x1a, 0x0b);
    B(TM, ">", 0x41, 0x01, 0x04, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b);
    B(OK, ">", 0x41, 0x01, 0x04, 0x7f, 0x41, 0x01, 0x05, 0x41, 0x02, 0x0b, 0x1a, 0x0b);
    B(TM, ">", 0x41, 0x01, 0x04, 0x7f, 0x41, 0x01, 0x05, 0x0b, 0x1a, 0x0b);
    B(TM, ">", 0x02, 0x40, 0x05, 0x0b, 0x0b);        /* else without if */
    B(TM, ">", 0x04, 0x40, 0x0b, 0x0b);              /* if needs a condition */
    B(ST_UNKNOWN_TYPE, ">", 0x02, 0x09, 0x0b, 0x0b); /* block type index 9 */
}

static void test_labels_br_table(void **state)
{
    (void)state;
    B(ST_UNKNOWN_LABEL, ">", 0x0c, 0x01, 0x0b);
    B(OK, ">", 0x02, 0x40, 0x0c, 0x01, 0x0b, 0x0b);
    B(OK, ">", 0x41, 0x00, 0x0d, 0x00, 0x0b);  /* br_if */
    B(TM, ">i", 0x41, 0x00, 0x0d, 0x00, 0x0b); /* br_if to a label needing i32 */
    /* br_table: both targets of arity 1 */
    B(OK, ">", 0x02, 0x7f, 0x41, 0x01, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x00, 0x0b, 0x1a, 0x0b);
    /* target of arity 0, default of arity 1 */
    B(TM, ">", 0x02, 0x7f, 0x02, 0x40, 0x41, 0x01, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x01, 0x0b, 0x41,
      0x00, 0x0b, 0x1a, 0x0b);
    /* same arity, different types, in unreachable code: valid */
    B(OK, ">", 0x02, 0x7f, 0x02, 0x7d, 0x00, 0x0e, 0x01, 0x00, 0x01, 0x0b, 0x1a, 0x41, 0x00, 0x0b,
      0x1a, 0x0b);
    /* same arity, different types, with a known operand: invalid */
    B(TM, ">", 0x02, 0x7f, 0x02, 0x7d, 0x41, 0x00, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x01, 0x0b, 0x1a,
      0x41, 0x00, 0x0b, 0x1a, 0x0b);
    B(ST_UNKNOWN_LABEL, ">", 0x41, 0x00, 0x0e, 0x01, 0x05, 0x00, 0x0b);
}

static void test_calls(void **state)
{
    (void)state;
    B(OK, ">", 0x41, 0x01, 0x10, 0x01, 0x1a, 0x0b);
    B(TM, ">", 0x10, 0x01, 0x1a, 0x0b);
    B(ST_UNKNOWN_FUNC, ">", 0x10, 0x09, 0x0b);
    B(OK, ">", 0x41, 0x01, 0x41, 0x00, 0x11, 0x02, 0x00, 0x1a, 0x0b);
    B(TM, ">", 0x41, 0x01, 0x41, 0x00, 0x11, 0x02, 0x01, 0x1a, 0x0b); /* externref table */
    B(ST_UNKNOWN_TYPE, ">", 0x41, 0x00, 0x11, 0x09, 0x00, 0x0b);
    B(ST_UNKNOWN_TABLE, ">", 0x41, 0x00, 0x11, 0x02, 0x05, 0x0b);
    B(OK, ">iI", 0x41, 0x01, 0x42, 0x02, 0x0f, 0x0b); /* return */
    B(TM, ">iI", 0x42, 0x02, 0x41, 0x01, 0x0f, 0x0b); /* return, operands swapped */
    B(TM, ">iI", 0x41, 0x01, 0x0f, 0x0b);             /* return, one missing */
}

static void test_variables(void **state)
{
    (void)state;
    B(OK, "i>", 0x20, 0x01, 0x1a, 0x0b);
    B(ST_UNKNOWN_LOCAL, "i>", 0x20, 0x02, 0x1a, 0x0b);
    B(ST_IMMUTABLE_GLOBAL, ">", 0x41, 0x00, 0x24, 0x00, 0x0b);
    B(OK, ">", 0x42, 0x00, 0x24, 0x01, 0x0b);
    B(TM, ">", 0x41, 0x00, 0x24, 0x01, 0x0b);
    B(ST_UNKNOWN_GLOBAL, ">", 0x23, 0x05, 0x1a, 0x0b);
}

static void test_memory(void **state)
{
    (void)state;
    B(OK, ">", 0x41, 0x00, 0x28, 0x02, 0x00, 0x1a, 0x0b);
    B(ST_BAD_ALIGNMENT, ">", 0x41, 0x00, 0x28, 0x03, 0x00, 0x1a, 0x0b);
    B(ST_BAD_ALIGNMENT, ">", 0x41, 0x00, 0x2c, 0x01, 0x00, 0x1a, 0x0b);
    B(OK, ">", 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08, 0x00, 0x00, 0x0b);
    B(ST_UNKNOWN_DATA, ">", 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08, 0x01, 0x00, 0x0b);
    B(ST_UNKNOWN_DATA, ">", 0xfc, 0x09, 0x01, 0x0b);
    B(OK, ">", 0x3f, 0x00, 0x40, 0x00, 0x1a, 0x0b);
    B(TM, ">", 0x42, 0x00, 0x40, 0x00, 0x1a, 0x0b);
}

static void test_references(void **state)
{
    (void)state;
    B(OK, ">", 0xd2, 0x01, 0x1a, 0x0b);
    B(ST_UNDECLARED_FUNC_REF, ">", 0xd2, 0x02, 0x1a, 0x0b);
    B(ST_UNDECLARED_FUNC_REF, ">", 0xd2, 0x00, 0x1a, 0x0b);
    B(ST_UNKNOWN_FUNC, ">", 0xd2, 0x07, 0x1a, 0x0b);
    B(OK, ">i", 0xd0, 0x70, 0xd1, 0x0b);
    B(TM, ">i", 0x41, 0x00, 0xd1, 0x0b);
    B(OK, ">r", 0xd0, 0x70, 0x0b);
    B(TM, ">e", 0xd0, 0x70, 0x0b);
    /* untyped select refuses references; typed select takes them */
    B(TM, ">", 0xd0, 0x70, 0xd0, 0x70, 0x41, 0x01, 0x1b, 0x1a, 0x0b);
    B(OK, ">", 0xd0, 0x70, 0xd0, 0x70, 0x41, 0x01, 0x1c, 0x01, 0x70, 0x1a, 0x0b);
    B(TM, ">", 0xd0, 0x70, 0xd0, 0x6f, 0x41, 0x01, 0x1c, 0x01, 0x70, 0x1a, 0x0b);
    B(ST_INVALID_RESULT_ARITY, ">", 0x41, 0x01, 0x41, 0x01, 0x41, 0x01, 0x1c, 0x02, 0x7f, 0x7f,
      0x1a, 0x0b);
    B(TM, ">", 0x41, 0x01, 0x42, 0x01, 0x41, 0x01, 0x1b, 0x1a, 0x0b);
}

static void test_tables(void **state)
{
    (void)state;
    B(OK, ">", 0x41, 0x00, 0x25, 0x01, 0xd1, 0x1a, 0x0b);
    B(TM, ">", 0x41, 0x00, 0x41, 0x00, 0x25, 0x00, 0x26, 0x01, 0x0b);
    B(OK, ">", 0x41, 0x00, 0x41, 0x00, 0x25, 0x00, 0x26, 0x00, 0x0b);
    B(OK, ">", 0xd0, 0x70, 0x41, 0x01, 0xfc, 0x0f, 0x00, 0x1a, 0x0b);
    B(TM, ">", 0xd0, 0x6f, 0x41, 0x01, 0xfc, 0x0f, 0x00, 0x1a, 0x0b);
    B(OK, ">", 0x41, 0x00, 0xd0, 0x6f, 0x41, 0x01, 0xfc, 0x11, 0x01, 0x0b);
    B(OK, ">", 0xfc, 0x10, 0x01, 0x1a, 0x0b);
    B(ST_UNKNOWN_TABLE, ">", 0xfc, 0x10, 0x02, 0x1a, 0x0b);
    /* table.copy between tables of different types */
    B(TM, ">", 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0e, 0x00, 0x01, 0x0b);
    B(OK, ">", 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0e, 0x01, 0x01, 0x0b);
    /* table.init elem 0 (funcref) into table 0 / table 1 (externref) */
    B(OK, ">", 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0c, 0x00, 0x00, 0x0b);
    B(TM, ">", 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0c, 0x00, 0x01, 0x0b);
    B(ST_UNKNOWN_ELEM, ">", 0xfc, 0x0d, 0x01, 0x0b);
    B(OK, ">", 0xfc, 0x0d, 0x00, 0x0b);
}

static void test_operand_stack_limit(void **state)
{
    (void)state;
    mbuf m;
    engine_config cfg;
    engine_error err;
    engine_config_default(&cfg);
    /* four values at most: five i32.const exceed the limit */
    body_module(
        &m, ">",
        BYTES(0x41, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0x41, 0, 0x1a, 0x1a, 0x1a, 0x1a, 0x1a, 0x0b),
        16);
    assert_int_equal(load_status(&cfg, mb_span(&m), &err), ST_OK);
    cfg.max_operand_stack = 4;
    assert_int_equal(load_status(&cfg, mb_span(&m), &err), ST_LIMIT_EXCEEDED);
    cfg.max_operand_stack = 5;
    assert_int_equal(load_status(&cfg, mb_span(&m), &err), ST_OK);
}

/* ---- module-level rules ----------------------------------------------------------------- */

static status module_status(const mbuf *m)
{
    engine_config cfg;
    engine_error err;
    engine_config_default(&cfg);
    return load_status(&cfg, mb_span(m), &err);
}

/* Header, type 0 [] -> [], type 1 [i32] -> [], and n functions of type `t` with empty bodies
 * (the code section comes from the caller, via funcs_end). */
static void funcs_begin(mbuf *m, uint8_t t, uint8_t n)
{
    mb_header(m);
    SEC(m, 1, 0x02, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x00);
    mbuf s = {.n = 0};
    mb_u8(&s, n);
    for (uint8_t i = 0; i < n; i++)
        mb_u8(&s, t);
    mb_section(m, 3, s.b, s.n);
}

static void funcs_end(mbuf *m, uint8_t n)
{
    mbuf s = {.n = 0};
    mb_u8(&s, n);
    for (uint8_t i = 0; i < n; i++)
        mb_bytes(&s, BYTES(0x02, 0x00, 0x0b), 3);
    mb_section(m, 10, s.b, s.n);
}

static void test_exports(void **state)
{
    (void)state;
    mbuf m;
    funcs_begin(&m, 0, 1);
    SEC(&m, 7, 0x02, 0x01, 'a', 0x00, 0x00, 0x01, 'b', 0x00, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_OK);
    funcs_begin(&m, 0, 1);
    SEC(&m, 7, 0x03, 0x01, 'a', 0x00, 0x00, 0x01, 'b', 0x00, 0x00, 0x01, 'a', 0x00, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_DUPLICATE_EXPORT);
    funcs_begin(&m, 0, 1);
    SEC(&m, 7, 0x01, 0x01, 'a', 0x00, 0x01);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_UNKNOWN_FUNC);
    funcs_begin(&m, 0, 1);
    SEC(&m, 7, 0x01, 0x01, 'a', 0x02, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_UNKNOWN_MEMORY);
    /* an exported function may be named by ref.func */
    funcs_begin(&m, 0, 1);
    SEC(&m, 7, 0x01, 0x01, 'a', 0x00, 0x00);
    SEC(&m, 10, 0x01, 0x05, 0x00, 0xd2, 0x00, 0x1a, 0x0b);
    assert_int_equal(module_status(&m), ST_OK);
}

static void test_start(void **state)
{
    (void)state;
    mbuf m;
    funcs_begin(&m, 0, 1);
    SEC(&m, 8, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_OK);
    funcs_begin(&m, 1, 1);
    SEC(&m, 8, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_BAD_START_FUNC);
    funcs_begin(&m, 0, 1);
    SEC(&m, 8, 0x01);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_UNKNOWN_FUNC);
    funcs_begin(&m, 5, 1);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_UNKNOWN_TYPE);
}

static void test_limits_and_memories(void **state)
{
    (void)state;
    mbuf m;
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x01, 0x00, 0x80, 0x80, 0x04);
    assert_int_equal(module_status(&m), ST_OK); /* max 65536 pages */
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x00, 0x81, 0x80, 0x04);
    assert_int_equal(module_status(&m), ST_MEMORY_TOO_LARGE);
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x01, 0x02, 0x01);
    assert_int_equal(module_status(&m), ST_LIMITS_MIN_GT_MAX);
    mb_header(&m);
    SEC(&m, 4, 0x01, 0x70, 0x01, 0x02, 0x01);
    assert_int_equal(module_status(&m), ST_LIMITS_MIN_GT_MAX);
    mb_header(&m);
    SEC(&m, 5, 0x02, 0x00, 0x01, 0x00, 0x01);
    assert_int_equal(module_status(&m), ST_MULTIPLE_MEMORIES);
    /* an imported memory plus a defined one */
    mb_header(&m);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x02, 0x00, 0x01);
    SEC(&m, 5, 0x01, 0x00, 0x01);
    assert_int_equal(module_status(&m), ST_MULTIPLE_MEMORIES);
    /* several tables are fine (reference types); table max up to 2^32-1 */
    mb_header(&m);
    SEC(&m, 4, 0x02, 0x70, 0x00, 0x01, 0x6f, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f);
    assert_int_equal(module_status(&m), ST_OK);
    /* an import of an unknown type */
    mb_header(&m);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x00, 0x00);
    assert_int_equal(module_status(&m), ST_UNKNOWN_TYPE);
}

/* A module importing global 0 (immutable i32) and global 1 (mutable i32) and defining one
 * global of type `t` with the given initializer bytes (its end included). */
static void global_module(mbuf *m, uint8_t t, const uint8_t *init, size_t n)
{
    mb_header(m);
    SEC(m, 2, 0x02, 0x01, 'm', 0x01, 'a', 0x03, 0x7f, 0x00, 0x01, 'm', 0x01, 'b', 0x03, 0x7f,
        0x01);
    mbuf s = {.n = 0};
    mb_bytes(&s, BYTES(0x01, t, 0x00), 3);
    mb_bytes(&s, init, n);
    mb_section(m, 6, s.b, s.n);
}

#define G(expect, t, ...)                                                                         \
    do {                                                                                          \
        mbuf m_;                                                                                  \
        global_module(&m_, (t), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__));                         \
        assert_int_equal(module_status(&m_), (expect));                                           \
    } while (0)

static void test_const_exprs(void **state)
{
    (void)state;
    G(OK, 0x7f, 0x41, 0x05, 0x0b);
    G(TM, 0x7f, 0x42, 0x05, 0x0b);
    G(TM, 0x7f, 0x41, 0x05, 0x41, 0x05, 0x0b);
    G(TM, 0x7f, 0x0b);
    G(ST_CONST_EXPR_REQUIRED, 0x7f, 0x41, 0x05, 0x45, 0x0b);
    G(ST_CONST_EXPR_REQUIRED, 0x7f, 0x01, 0x0b);
    G(OK, 0x7f, 0x23, 0x00, 0x0b);                     /* imported immutable global */
    G(ST_CONST_EXPR_REQUIRED, 0x7f, 0x23, 0x01, 0x0b); /* imported mutable global */
    G(ST_UNKNOWN_GLOBAL, 0x7f, 0x23, 0x02, 0x0b);      /* itself: only imports are visible */
    G(OK, 0x70, 0xd0, 0x70, 0x0b);
    G(TM, 0x6f, 0xd0, 0x70, 0x0b);
    G(ST_UNKNOWN_FUNC, 0x70, 0xd2, 0x00, 0x0b);
    G(OK, 0x7c, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b);
}

static void test_segments(void **state)
{
    (void)state;
    mbuf m;
    /* active elem: table 0 funcref, offset i32.const 0, function 0 */
    funcs_begin(&m, 0, 1);
    SEC(&m, 4, 0x02, 0x70, 0x00, 0x01, 0x6f, 0x00, 0x01);
    SEC(&m, 9, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_OK);
    /* into the externref table: mismatch */
    funcs_begin(&m, 0, 1);
    SEC(&m, 4, 0x02, 0x70, 0x00, 0x01, 0x6f, 0x00, 0x01);
    SEC(&m, 9, 0x01, 0x02, 0x01, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), TM);
    /* unknown table, unknown function, i64 offset */
    funcs_begin(&m, 0, 1);
    SEC(&m, 9, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_UNKNOWN_TABLE);
    funcs_begin(&m, 0, 1);
    SEC(&m, 4, 0x01, 0x70, 0x00, 0x01);
    SEC(&m, 9, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x03);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), ST_UNKNOWN_FUNC);
    funcs_begin(&m, 0, 1);
    SEC(&m, 4, 0x01, 0x70, 0x00, 0x01);
    SEC(&m, 9, 0x01, 0x00, 0x42, 0x00, 0x0b, 0x01, 0x00);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), TM);
    /* passive elem of expressions: ref.func declares, a mismatching ref.null does not pass */
    funcs_begin(&m, 0, 1);
    SEC(&m, 9, 0x01, 0x05, 0x70, 0x01, 0xd2, 0x00, 0x0b);
    SEC(&m, 10, 0x01, 0x05, 0x00, 0xd2, 0x00, 0x1a, 0x0b);
    assert_int_equal(module_status(&m), ST_OK);
    funcs_begin(&m, 0, 1);
    SEC(&m, 9, 0x01, 0x05, 0x70, 0x01, 0xd0, 0x6f, 0x0b);
    funcs_end(&m, 1);
    assert_int_equal(module_status(&m), TM);
    /* active data without a memory */
    mb_header(&m);
    SEC(&m, 11, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x00);
    assert_int_equal(module_status(&m), ST_UNKNOWN_MEMORY);
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x00, 0x01);
    SEC(&m, 11, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x00);
    assert_int_equal(module_status(&m), ST_OK);
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x00, 0x01);
    SEC(&m, 11, 0x01, 0x00, 0x43, 0, 0, 0, 0, 0x0b, 0x00);
    assert_int_equal(module_status(&m), TM);
}

/* Allocation failure at every site of validation alone: ST_OUT_OF_MEMORY, module untouched. */
static void test_alloc_failure(void **state)
{
    (void)state;
    mbuf m;
    funcs_begin(&m, 0, 2);
    SEC(&m, 7, 0x02, 0x01, 'b', 0x00, 0x00, 0x01, 'a', 0x00, 0x01);
    SEC(&m, 10, 0x02, 0x0d, 0x00, 0x02, 0x40, 0x41, 0x00, 0x04, 0x40, 0x0b, 0x0b, 0xd2, 0x01, 0x1a,
        0x0b, 0x02, 0x00, 0x0b);
    engine_config cfg;
    engine_error err;
    engine_config_default(&cfg);
    engine_module *mod = NULL;
    assert_int_equal(engine_module_decode(&cfg, mb_span(&m), &mod, &err), ST_OK);
    long n;
    for (n = 0; n < 100; n++) {
        base_alloc_fail_after(n, false);
        status st = engine_module_validate(&cfg, mod, &err);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK)
            break;
        assert_int_equal(st, ST_OUT_OF_MEMORY);
    }
    assert_true(n >= 4); /* refs, operand stack, control stack, export order */
    assert_true(n < 100);
    engine_module_free(mod);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_valid),
        cmocka_unit_test(test_type_mismatch),
        cmocka_unit_test(test_polymorphic_stack),
        cmocka_unit_test(test_blocks_multi_value),
        cmocka_unit_test(test_labels_br_table),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_operand_stack_limit),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_start),
        cmocka_unit_test(test_limits_and_memories),
        cmocka_unit_test(test_const_exprs),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
