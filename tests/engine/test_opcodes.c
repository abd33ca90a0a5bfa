/* test_opcodes.c - the instruction table (engine/opcodes.def, opcodes.c): every opcode has its
 * names, a signature that parses, a weight and consistent flags; no byte or 0xFC sub-opcode is
 * defined twice; the two lookup maps agree with the table; unsupported bytes are not opcodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine.h"

/* True if sig is "*", "" or [iIfF]*>[iIfF]*. */
static bool sig_parses(const char *sig)
{
    if (strcmp(sig, "*") == 0 || sig[0] == 0)
        return true;
    const char *gt = strchr(sig, '>');
    if (!gt || strchr(gt + 1, '>'))
        return false;
    for (const char *p = sig; *p; p++)
        if (p != gt && !strchr("iIfF", *p))
            return false;
    return true;
}

static void test_names_signatures_weights(void **state)
{
    (void)state;
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        assert_non_null(oi->cname);
        assert_non_null(oi->text);
        assert_true(strlen(oi->cname) > 0);
        assert_true(strlen(oi->text) > 0);
        assert_non_null(oi->sig);
        if (!sig_parses(oi->sig))
            fail_msg("%s: signature \"%s\" does not parse", oi->cname, oi->sig);
        assert_true(oi->prefix == 0x00 || oi->prefix == 0xFC);
        assert_true(oi->imm <= IMM_TABLE_TABLE);
        uint32_t w = engine_opcode_weight((opcode)op, ENGINE_SCHEDULE_V1);
        assert_int_equal(w, oi->weight_v1);
        assert_true(w < 1000);
        /* only structure (block, loop, else, end) is free in the IC's schedule */
        if (w == 0 && !(oi->flags & F_CONTROL))
            fail_msg("%s has weight 0", oi->cname);
        /* memory accesses are exactly the memarg instructions */
        bool memarg = oi->imm >= IMM_MEM8 && oi->imm <= IMM_MEM64;
        assert_int_equal(memarg, (oi->flags & F_MEMORY) != 0);
    }
    assert_int_equal(engine_opcode_weight(OP_I32_ADD, 99), UINT32_MAX);
    assert_int_equal(engine_opcode_weight(OP_COUNT, ENGINE_SCHEDULE_V1), UINT32_MAX);
    assert_string_equal(engine_opcodes[OP_I32_ADD].text, "i32.add");
    assert_string_equal(engine_opcodes[OP_I32_ADD].sig, "ii>i");
}

/* The text names are unique except for select's two encodings. */
static void test_text_names_unique(void **state)
{
    (void)state;
    for (int a = 0; a < OP_COUNT; a++)
        for (int b = a + 1; b < OP_COUNT; b++)
            if (strcmp(engine_opcodes[a].text, engine_opcodes[b].text) == 0 &&
                !(a == OP_SELECT && b == OP_SELECT_T))
                fail_msg("%s and %s share the name %s", engine_opcodes[a].cname,
                         engine_opcodes[b].cname, engine_opcodes[a].text);
}

/* Each opcode is reachable through its map, and the maps hold nothing else: a byte defined
 * twice in opcodes.def would overwrite an entry and make the counts differ. */
static void test_maps_agree(void **state)
{
    (void)state;
    int entries = 0;
    for (int b = 0; b < 256; b++) {
        opcode op = engine_opcode_from_byte((uint8_t)b);
        if (op == OP_INVALID)
            continue;
        entries++;
        assert_true(op < OP_COUNT);
        assert_int_equal(engine_opcodes[op].prefix, 0x00);
        assert_int_equal(engine_opcodes[op].code, (uint32_t)b);
        assert_null(engine_unsupported_feature((uint8_t)b));
    }
    for (uint32_t sub = 0; sub < ENGINE_FC_COUNT + 4; sub++) {
        opcode op = engine_opcode_from_fc(sub);
        if (op == OP_INVALID)
            continue;
        entries++;
        assert_true(sub < ENGINE_FC_COUNT);
        assert_int_equal(engine_opcodes[op].prefix, 0xFC);
        assert_int_equal(engine_opcodes[op].code, sub);
    }
    assert_int_equal(entries, OP_COUNT);
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        opcode back = oi->prefix == 0 ? engine_opcode_from_byte((uint8_t)oi->code)
                                      : engine_opcode_from_fc(oi->code);
        assert_int_equal(back, op);
    }
    assert_int_equal(engine_opcode_from_byte(0xFC), OP_INVALID);
}

static void test_unsupported_names(void **state)
{
    (void)state;
    assert_non_null(strstr(engine_unsupported_feature(0xFD), "SIMD"));
    assert_non_null(strstr(engine_unsupported_feature(0xFE), "threads"));
    assert_non_null(strstr(engine_unsupported_feature(0x12), "tail calls"));
    assert_non_null(strstr(engine_unsupported_feature(0x08), "exception"));
    assert_null(engine_unsupported_feature(0x27));
    assert_null(engine_unsupported_feature(0xFF));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_signatures_weights),
        cmocka_unit_test(test_text_names_unique),
        cmocka_unit_test(test_maps_agree),
        cmocka_unit_test(test_unsupported_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
