/* test_decode.c - the binary decoder (engine/decode.c): a minimal module, every section of a
 * non-trivial module, truncation at every length, LEB128 errors, section order and sizes,
 * static limits, unsupported features with their names, allocation failure at every site,
 * the instruction reader, and error formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "modbuild.h"

/* big.wasm: wat2wasm 1.0.32 output of the module below, plus a custom section "note" = "abc"
 * appended by hand (last 10 bytes).
 *
 * (module
 *   (type $v (func)) (type $ii (func (param i32) (result i32)))
 *   (type $multi (func (result i32 i64)))
 *   (import "env" "f" (func $imp (type $ii)))  (import "env" "t" (table 1 funcref))
 *   (import "env" "g" (global $gi i32))         (import "env" "m" (memory 1 2))
 *   (table $t2 2 10 externref)
 *   (global $g (mut i64) (i64.const 7)) (global $gr funcref (ref.func $add))
 *   (export "add" (func $add)) (export "g" (global $g))
 *   (start $init)
 *   (elem (i32.const 0) $add) (elem func $init) (elem declare func $multi)
 *   (elem (table $t2) (i32.const 0) externref (ref.null extern))
 *   (func $init)
 *   (func $add (type $ii) (local i64 f32 f32)
 *     (block (result i32) (br_table 0 0 (local.get 0) (local.get 0)))
 *     (if (result i32) (then (i32.const 1)) (else (i32.const 2)))
 *     drop (call $imp (local.get 0)))
 *   (func $multi (type $multi)
 *     (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 0)) (data.drop 1)
 *     (i32.const 1) (i64.const 2))
 *   (data (i32.const 0) "hi") (data "passive"))
 */
static const uint8_t big[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0e, 0x03, 0x60, 0x00, 0x00, 0x60, 0x01,
    0x7f, 0x01, 0x7f, 0x60, 0x00, 0x02, 0x7f, 0x7e, 0x02, 0x26, 0x04, 0x03, 0x65, 0x6e, 0x76, 0x01,
    0x66, 0x00, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x74, 0x01, 0x70, 0x00, 0x01, 0x03, 0x65, 0x6e,
    0x76, 0x01, 0x67, 0x03, 0x7f, 0x00, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x6d, 0x02, 0x01, 0x01, 0x02,
    0x03, 0x04, 0x03, 0x00, 0x01, 0x02, 0x04, 0x05, 0x01, 0x6f, 0x01, 0x02, 0x0a, 0x06, 0x0b, 0x02,
    0x7e, 0x01, 0x42, 0x07, 0x0b, 0x70, 0x00, 0xd2, 0x02, 0x0b, 0x07, 0x0b, 0x02, 0x03, 0x61, 0x64,
    0x64, 0x00, 0x02, 0x01, 0x67, 0x03, 0x01, 0x08, 0x01, 0x01, 0x09, 0x19, 0x04, 0x00, 0x41, 0x00,
    0x0b, 0x01, 0x02, 0x01, 0x00, 0x01, 0x01, 0x03, 0x00, 0x01, 0x03, 0x06, 0x01, 0x41, 0x00, 0x0b,
    0x6f, 0x01, 0xd0, 0x6f, 0x0b, 0x0c, 0x01, 0x02, 0x0a, 0x37, 0x03, 0x02, 0x00, 0x0b, 0x1e, 0x02,
    0x01, 0x7e, 0x02, 0x7d, 0x02, 0x7f, 0x20, 0x00, 0x20, 0x00, 0x0e, 0x01, 0x00, 0x00, 0x0b, 0x04,
    0x7f, 0x41, 0x01, 0x05, 0x41, 0x02, 0x0b, 0x1a, 0x20, 0x00, 0x10, 0x00, 0x0b, 0x13, 0x00, 0x41,
    0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08, 0x01, 0x00, 0xfc, 0x09, 0x01, 0x41, 0x01, 0x42, 0x02,
    0x0b, 0x0b, 0x11, 0x02, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x68, 0x69, 0x01, 0x07, 0x70, 0x61, 0x73,
    0x73, 0x69, 0x76, 0x65, 0x00, 0x08, 0x04, 0x6e, 0x6f, 0x74, 0x65, 0x61, 0x62, 0x63,
};

static engine_config cfg_default(void)
{
    engine_config cfg;
    engine_config_default(&cfg);
    return cfg;
}

/* Decodes with the default configuration; frees the module; returns the status. */
static status decode_status(span s, engine_error *err)
{
    engine_config cfg = cfg_default();
    engine_module *m = (engine_module *)1;
    status st = engine_module_decode(&cfg, s, &m, err);
    if (st == ST_OK)
        engine_module_free(m);
    else
        assert_null(m);
    return st;
}

static void test_minimal(void **state)
{
    (void)state;
    static const uint8_t min[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    engine_config cfg = cfg_default();
    engine_module *m = NULL;
    engine_error err;
    assert_int_equal(engine_module_decode(&cfg, span_of(min, sizeof min), &m, &err), ST_OK);
    assert_non_null(m);
    assert_int_equal(m->bytes.len, 8);
    assert_ptr_not_equal(m->bytes.ptr, min); /* the module owns a copy */
    assert_int_equal(m->ntypes + m->nfuncs + m->ntables + m->nmems + m->nglobals, 0);
    assert_int_equal(m->nexports + m->nelems + m->ndatas + m->ncustoms, 0);
    assert_false(m->has_start);
    assert_int_equal(engine_module_validate(&cfg, m, &err), ST_OK);
    engine_module_free(m);
}

static void test_header(void **state)
{
    (void)state;
    engine_error err;
    assert_int_equal(decode_status(span_of(BYTES(0), 0), &err), ST_UNEXPECTED_END);
    assert_int_equal(decode_status(span_of(BYTES(0x00, 0x61, 0x73), 3), &err), ST_UNEXPECTED_END);
    assert_int_equal(decode_status(span_of(BYTES(0x00, 0x61, 0x73, 0x6e, 1, 0, 0, 0), 8), &err),
                     ST_MALFORMED_MAGIC);
    assert_int_equal(decode_status(span_of(BYTES(0x00, 0x61, 0x73, 0x6d, 2, 0, 0, 0), 8), &err),
                     ST_MALFORMED_VERSION);
    assert_int_equal(err.offset, 4);
    assert_int_equal(decode_status(span_of(BYTES(0x00, 0x61, 0x73, 0x6d, 1, 0, 0), 7), &err),
                     ST_UNEXPECTED_END);
}

/* Every section of big.wasm lands in the right field. */
static void test_all_sections(void **state)
{
    (void)state;
    engine_config cfg = cfg_default();
    engine_module *m = NULL;
    engine_error err;
    assert_int_equal(engine_module_decode(&cfg, span_of(big, sizeof big), &m, &err), ST_OK);
    assert_int_equal(m->ntypes, 3);
    assert_int_equal(m->types[1].nparams, 1);
    assert_int_equal(m->types[1].types[0], VT_I32);
    assert_int_equal(m->types[2].nresults, 2);
    assert_int_equal(m->types[2].types[1], VT_I64);
    assert_int_equal(m->nimports, 4);
    assert_true(span_eq_str(m->imports[3].name, "m"));
    assert_int_equal(m->imports[3].kind, EXT_MEMORY);
    assert_int_equal(m->nfuncs, 4);
    assert_int_equal(m->nfunc_imports, 1);
    assert_int_equal(m->func_types[0], 1);
    assert_int_equal(m->func_types[2], 1);
    assert_int_equal(m->ntables, 2);
    assert_int_equal(m->ntable_imports, 1);
    assert_int_equal(m->tables[1].elem, VT_EXTERNREF);
    assert_int_equal(m->tables[1].lim.max, 10);
    assert_int_equal(m->nmems, 1);
    assert_true(m->mems[0].has_max);
    assert_int_equal(m->mems[0].max, 2);
    assert_int_equal(m->nglobals, 3);
    assert_true(m->globals[1].mut);
    assert_int_equal(m->globals[2].type, VT_FUNCREF);
    assert_int_equal(m->global_inits[0].len, 3); /* i64.const 7 end */
    assert_int_equal(m->nexports, 2);
    assert_true(span_eq_str(m->exports[1].name, "g"));
    assert_int_equal(m->exports[1].kind, EXT_GLOBAL);
    assert_true(m->has_start);
    assert_int_equal(m->start, 1);
    assert_int_equal(m->nelems, 4);
    assert_int_equal(m->elems[0].mode, SEG_ACTIVE);
    assert_int_equal(m->elems[0].funcs[0], 2);
    assert_int_equal(m->elems[1].mode, SEG_PASSIVE);
    assert_int_equal(m->elems[2].mode, SEG_DECLARATIVE);
    assert_int_equal(m->elems[3].table, 1);
    assert_int_equal(m->elems[3].type, VT_EXTERNREF);
    assert_non_null(m->elems[3].exprs);
    assert_true(m->has_datacount);
    assert_int_equal(m->datacount, 2);
    assert_int_equal(m->funcs[1].nlocals, 3);
    assert_int_equal(m->funcs[1].local_types[0], VT_I64);
    assert_int_equal(m->funcs[1].local_types[2], VT_F32);
    assert_int_equal(m->funcs[1].body.ptr[m->funcs[1].body.len - 1], 0x0b);
    assert_int_equal(m->funcs[1].body_offset, (size_t)(m->funcs[1].body.ptr - m->bytes.ptr));
    assert_int_equal(m->ndatas, 2);
    assert_true(span_eq_str(m->datas[1].bytes, "passive"));
    assert_int_equal(m->datas[1].mode, SEG_PASSIVE);
    assert_int_equal(m->ncustoms, 1);
    assert_true(span_eq_str(m->customs[0].name, "note"));
    assert_true(span_eq_str(m->customs[0].data, "abc"));
    assert_int_equal(engine_module_validate(&cfg, m, &err), ST_OK);
    engine_module_free(m);
}

/* Offsets where a section ends: the only prefixes that may be whole modules. */
static bool is_section_boundary(const uint8_t *p, size_t len, size_t at)
{
    reader r = reader_of(span_of(p, len));
    r.pos += 8;
    while (reader_left(&r) > 0) {
        uint8_t id;
        uint32_t size;
        (void)reader_u8(&r, &id);
        (void)reader_u32(&r, &size);
        r.pos += size;
        if (reader_offset(&r) == at)
            return true;
    }
    return at == 8;
}

static void test_truncated_every_length(void **state)
{
    (void)state;
    engine_config cfg = cfg_default();
    size_t accepted = 0;
    for (size_t n = 0; n < sizeof big; n++) {
        engine_module *m = NULL;
        engine_error err;
        status st = engine_module_load(&cfg, span_of(big, n), &m, &err);
        if (st == ST_OK) {
            /* before the function section, a prefix is a smaller valid module */
            assert_true(is_section_boundary(big, sizeof big, n));
            engine_module_free(m);
            accepted++;
            continue;
        }
        assert_int_equal(status_class_of(st), SC_INVALID);
        assert_true(err.offset <= n);
        assert_null(m);
    }
    assert_int_equal(accepted, 4); /* the header, + types, + imports, all but the custom */
}

static void test_section_size_leb(void **state)
{
    (void)state;
    mbuf m;
    engine_error err;
    /* type section whose size is a 6-byte LEB128 */
    mb_header(&m);
    mb_bytes(&m, BYTES(0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00), 8);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_INT_TOO_LONG);
    assert_int_equal(err.offset, 9);
    /* 5-byte size with unused bits set */
    mb_header(&m);
    mb_bytes(&m, BYTES(0x01, 0x81, 0x80, 0x80, 0x80, 0x70, 0x00), 7);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_INT_TOO_LARGE);
    /* 5-byte size that is only overlong: fine */
    mb_header(&m);
    mb_bytes(&m, BYTES(0x01, 0x81, 0x80, 0x80, 0x80, 0x00, 0x00), 7);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_OK);
    /* size beyond the end of the module */
    mb_header(&m);
    mb_bytes(&m, BYTES(0x01, 0x05, 0x00), 3);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_UNEXPECTED_END);
    /* size shorter than the contents */
    mb_header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00);
    mb_u8(&m, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_UNEXPECTED_END);
    /* size longer than the contents */
    mb_header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_SECTION_SIZE_MISMATCH);
    /* a count larger than the bytes left */
    mb_header(&m);
    SEC(&m, 1, 0xff, 0xff, 0xff, 0xff, 0x0f);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_UNEXPECTED_END);
}

static void test_section_order(void **state)
{
    (void)state;
    mbuf m;
    engine_error err;
    /* custom sections anywhere, data count between element and code */
    mb_header(&m);
    SEC(&m, 0, 0x01, 'a');
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 0, 0x01, 'b', 0xff);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 12, 0x00);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0b);
    SEC(&m, 11, 0x00);
    SEC(&m, 0, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_OK);
    /* duplicate section */
    mb_header(&m);
    SEC(&m, 1, 0x00);
    SEC(&m, 1, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_SECTION_ORDER);
    assert_int_equal(err.offset, 11);
    /* data count after code */
    mb_header(&m);
    SEC(&m, 10, 0x00);
    SEC(&m, 12, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_SECTION_ORDER);
    mb_header(&m);
    SEC(&m, 14, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_MALFORMED_SECTION_ID);
    /* custom section name must be UTF-8 */
    mb_header(&m);
    SEC(&m, 0, 0x02, 0xc0, 0x80);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_MALFORMED_UTF8);
}

static void test_counts_agree(void **state)
{
    (void)state;
    mbuf m;
    engine_error err;
    mb_header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x02, 0x00, 0x00);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0b);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_FUNC_CODE_MISMATCH);
    mb_header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_FUNC_CODE_MISMATCH);
    mb_header(&m);
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0b);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_FUNC_CODE_MISMATCH);
    /* data count 1, no data section */
    mb_header(&m);
    SEC(&m, 12, 0x01);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_DATA_COUNT_MISMATCH);
    /* data count 2, one segment */
    mb_header(&m);
    SEC(&m, 12, 0x02);
    SEC(&m, 11, 0x01, 0x01, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_DATA_COUNT_MISMATCH);
    /* data.drop without a data count section */
    mb_header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);
    SEC(&m, 10, 0x01, 0x05, 0x00, 0xfc, 0x09, 0x00, 0x0b);
    SEC(&m, 11, 0x01, 0x01, 0x00);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_DATA_COUNT_REQUIRED);
}

/* A module with one function of type [] -> [] and the given code entry contents. */
static void one_func(mbuf *m, const uint8_t *entry, size_t n)
{
    mb_header(m);
    SEC(m, 1, 0x01, 0x60, 0x00, 0x00);
    SEC(m, 3, 0x01, 0x00);
    mbuf code = {.n = 0};
    mb_u8(&code, 1);
    mb_u32(&code, (uint32_t)n);
    mb_bytes(&code, entry, n);
    mb_section(m, 10, code.b, code.n);
}

#define FUNC(m, ...) one_func((m), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__))

static void test_bodies_malformed(void **state)
{
    (void)state;
    mbuf m;
    engine_error err;
    FUNC(&m, 0x00, 0x01, 0x0b);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_OK);
    FUNC(&m, 0x00, 0x01); /* no end */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_END_EXPECTED);
    FUNC(&m, 0x00, 0x0b, 0x01); /* bytes after the end */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_END_EXPECTED);
    FUNC(&m, 0x00, 0x02, 0x40, 0x0b); /* block not closed */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_END_EXPECTED);
    FUNC(&m, 0x00, 0x27, 0x0b); /* 0x27 is no opcode */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_ILLEGAL_OPCODE);
    assert_int_equal(err.offset, 23);
    FUNC(&m, 0x00, 0xfc, 0x12, 0x0b); /* 0xfc 18 is no opcode */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_ILLEGAL_OPCODE);
    FUNC(&m, 0x00, 0x3f, 0x01, 0x1a, 0x0b); /* memory.size 1 */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_ZERO_BYTE_EXPECTED);
    FUNC(&m, 0x00, 0xd0, 0x7f, 0x1a, 0x0b); /* ref.null i32 */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_MALFORMED_REFTYPE);
    FUNC(&m, 0x00, 0x02, 0x60, 0x0b, 0x0b); /* block type 0x60 */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_MALFORMED_VALTYPE);
    FUNC(&m, 0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_INT_TOO_LONG);
    FUNC(&m, 0x01, 0x01, 0x40, 0x0b); /* local of type 0x40 */
    assert_int_equal(decode_status(mb_span(&m), &err), ST_MALFORMED_VALTYPE);
    /* locals summing past 2^32 */
    FUNC(&m, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x02, 0x7e, 0x0b);
    assert_int_equal(decode_status(mb_span(&m), &err), ST_TOO_MANY_LOCALS);
}

static engine_error decode_err_cfg(const engine_config *cfg, span s)
{
    engine_module *m = NULL;
    engine_error err;
    status st = engine_module_load(cfg, s, &m, &err);
    if (st == ST_OK)
        engine_module_free(m);
    assert_int_equal(st, err.st);
    return err;
}

static void test_limits(void **state)
{
    (void)state;
    engine_config cfg = cfg_default();
    mbuf m;
    /* 5 locals, block, block, br_table 0 0 (i32.const 0) */
    FUNC(&m, 0x01, 0x05, 0x7f, 0x02, 0x40, 0x02, 0x40, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x00, 0x0b,
         0x0b, 0x0b);
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_OK);
    cfg.max_locals = 4;
    engine_error err = decode_err_cfg(&cfg, mb_span(&m));
    assert_int_equal(err.st, ST_LIMIT_EXCEEDED);
    assert_non_null(strstr(err.detail, "locals"));
    cfg = cfg_default();
    cfg.max_nesting = 2;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_LIMIT_EXCEEDED);
    cfg.max_nesting = 3;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_OK);
    cfg = cfg_default();
    cfg.max_br_table = 0;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_func_size = 10;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_module_size = m.n - 1;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_funcs = 0;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_types = 0;
    assert_int_equal(decode_err_cfg(&cfg, mb_span(&m)).st, ST_LIMIT_EXCEEDED);

    /* imports count toward the function limit */
    cfg = cfg_default();
    cfg.max_funcs = 3;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg.max_funcs = 4;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_OK);
    cfg = cfg_default();
    cfg.max_globals = 2;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_tables = 1;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_customs = 0;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_segments = 3;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_exports = 1;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_imports = 3;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_params = 1;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_memory_pages = 0;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
    cfg = cfg_default();
    cfg.max_table_size = 1;
    assert_int_equal(decode_err_cfg(&cfg, span_of(big, sizeof big)).st, ST_LIMIT_EXCEEDED);
}

/* Decodes and expects ST_UNSUPPORTED_FEATURE with `name` in the detail. */
static void expect_feature(const mbuf *m, const char *name)
{
    engine_error err;
    assert_int_equal(decode_status(mb_span(m), &err), ST_UNSUPPORTED_FEATURE);
    if (!strstr(err.detail, name))
        fail_msg("detail \"%s\" does not name %s", err.detail, name);
}

static void test_unsupported_features(void **state)
{
    (void)state;
    mbuf m;
    FUNC(&m, 0x00, 0xfd, 0x0c, 0x0b);
    expect_feature(&m, "SIMD");
    FUNC(&m, 0x00, 0xfe, 0x03, 0x0b);
    expect_feature(&m, "threads");
    FUNC(&m, 0x00, 0x12, 0x00, 0x0b);
    expect_feature(&m, "tail calls");
    FUNC(&m, 0x00, 0x06, 0x40, 0x0b, 0x0b);
    expect_feature(&m, "exception");
    FUNC(&m, 0x01, 0x01, 0x7b, 0x0b);
    expect_feature(&m, "SIMD");
    FUNC(&m, 0x00, 0x02, 0x7b, 0x0b, 0x0b);
    expect_feature(&m, "SIMD");
    mb_header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x01, 0x7b, 0x00);
    expect_feature(&m, "SIMD");
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x03, 0x01, 0x02);
    expect_feature(&m, "threads");
    mb_header(&m);
    SEC(&m, 5, 0x01, 0x04, 0x01);
    expect_feature(&m, "memory64");
    mb_header(&m);
    SEC(&m, 13, 0x00);
    expect_feature(&m, "exception");
    mb_header(&m);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x04, 0x00, 0x00);
    expect_feature(&m, "exception");
}

/* Every allocation of decoding big.wasm fails once in turn: ST_OUT_OF_MEMORY, no leak (the
 * ASan build checks leaks at exit), and in the end a success. */
static void test_alloc_failure_every_site(void **state)
{
    (void)state;
    engine_config cfg = cfg_default();
    long n;
    for (n = 0; n < 1000; n++) {
        engine_module *m = NULL;
        engine_error err;
        base_alloc_fail_after(n, false);
        status st = engine_module_decode(&cfg, span_of(big, sizeof big), &m, &err);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            engine_module_free(m);
            break;
        }
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_int_equal(status_class_of(st), SC_FAULT);
        assert_null(m);
    }
    assert_true(n > 10); /* big.wasm has more allocation sites than that */
    assert_true(n < 1000);
    /* decode + validate */
    for (n = 0; n < 1000; n++) {
        engine_module *m = NULL;
        base_alloc_fail_after(n, false);
        status st = engine_module_load(&cfg, span_of(big, sizeof big), &m, NULL);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            engine_module_free(m);
            break;
        }
        assert_int_equal(st, ST_OUT_OF_MEMORY);
    }
    assert_true(n < 1000);
}

static void test_insn_read(void **state)
{
    (void)state;
    engine_insn in;
    reader r = reader_of(span_of(BYTES(0x0e, 0x02, 0x03, 0x81, 0x01, 0x05), 6));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_OK);
    assert_int_equal(in.op, OP_BR_TABLE);
    assert_int_equal(in.a, 2);
    assert_int_equal(in.b, 5);
    assert_int_equal(in.targets.len, 3);
    assert_int_equal(reader_left(&r), 0);
    r = reader_of(span_of(BYTES(0x02, 0x05), 2));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_OK);
    assert_int_equal(in.type, 0);
    assert_int_equal(in.a, 5);
    r = reader_of(span_of(BYTES(0x29, 0x03, 0x10), 3));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_OK);
    assert_int_equal(in.op, OP_I64_LOAD);
    assert_int_equal(in.a, 3);
    assert_int_equal(in.b, 16);
    r = reader_of(span_of(BYTES(0x41, 0x7f), 2));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_OK);
    assert_int_equal(in.value, 0xffffffffu);
    r = reader_of(span_of(BYTES(0xfc, 0x0e, 0x01, 0x02), 4));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_OK);
    assert_int_equal(in.op, OP_TABLE_COPY);
    assert_int_equal(in.a, 1);
    assert_int_equal(in.b, 2);
    r = reader_of(span_of(BYTES(0x1c, 0x01, 0x7e), 3));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_OK);
    assert_int_equal(in.type, VT_I64);
    const char *feature = NULL;
    r = reader_of(span_of(BYTES(0xfd, 0x00), 2));
    assert_int_equal(engine_insn_read(&r, &in, &feature), ST_UNSUPPORTED_FEATURE);
    assert_non_null(feature);
    r = reader_of(span_of(BYTES(0x0e, 0x05, 0x00), 3));
    assert_int_equal(engine_insn_read(&r, &in, NULL), ST_UNEXPECTED_END);
}

static void test_error_format(void **state)
{
    (void)state;
    engine_error err = {.st = ST_ILLEGAL_OPCODE, .offset = 23};
    snprintf(err.detail, sizeof err.detail, "opcode 0x27");
    char out[200];
    engine_error_format(&err, out, sizeof out);
    assert_string_equal(out, "ILLEGAL_OPCODE: illegal opcode (opcode 0x27) at offset 23");
    err.detail[0] = 0;
    engine_error_format(&err, out, sizeof out);
    assert_string_equal(out, "ILLEGAL_OPCODE: illegal opcode at offset 23");
    engine_error_format(&err, out, 8);
    assert_string_equal(out, "ILLEGAL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_all_sections),
        cmocka_unit_test(test_truncated_every_length),
        cmocka_unit_test(test_section_size_leb),
        cmocka_unit_test(test_section_order),
        cmocka_unit_test(test_counts_agree),
        cmocka_unit_test(test_bodies_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_unsupported_features),
        cmocka_unit_test(test_alloc_failure_every_site),
        cmocka_unit_test(test_insn_read),
        cmocka_unit_test(test_error_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
