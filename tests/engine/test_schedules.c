/* test_schedules.c - the weight schedules of engine/opcodes.def (docs/weights.md): schedule v2
 * differs from v1 exactly in the documented weights, and both give the documented instruction
 * counts on small golden programs, instrumented (instrument/) and run in tally's VM with the
 * metering counter read back. Every expected count is derived by hand in the comments, with the
 * IC's rules (docs/metering.md): a function entry costs 1 more than its first block; `loop`
 * starts a checked block after itself; if, else, end, br, br_if, br_table, return close a
 * block; an instruction's weight is added to the block it closes; empty blocks cost nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "instrument.h"
#include "modbuild.h"

#define BUDGET ((int64_t)1 << 40)

/* ---- harness ---------------------------------------------------------------------------------- */

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

/* Instruments module `m` with `schedule`, runs export "run"(arg) in tally's VM and returns the
 * instructions charged; *result gets the first result (if any). */
static int64_t run_counted(const mbuf *mod, int schedule, uint64_t arg, uint64_t *result)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL, *im = NULL;
    assert_int_equal(engine_module_load(&cfg, mb_span(mod), &m, NULL), ST_OK);
    buf out = {0};
    assert_int_equal(instrument_module(m, schedule, &out, NULL), ST_OK);
    assert_int_equal(engine_module_load(&cfg, span_of(out.ptr, out.len), &im, NULL), ST_OK);
    assert_int_equal(instrument_schedule_of(im), schedule);
    engine_code *code = NULL;
    assert_int_equal(engine_code_compile(im, &code), ST_OK);
    static const functype void_type = {0, 0, NULL};
    engine_func *ooi = NULL;
    assert_int_equal(engine_host_func_new(&void_type, out_of_instructions, NULL, &ooi), ST_OK);
    engine_run_config rc;
    engine_run_config_default(&cfg, &rc);
    engine_extern imp = {.kind = EXT_FUNC, .u.func = ooi};
    engine_instance *inst = NULL;
    assert_int_equal(engine_instance_new(code, &rc, &imp, 1, NULL, &inst, NULL), ST_OK);
    engine_extern f, counter;
    assert_int_equal(engine_instance_export(inst, span_of("run", 3), &f), ST_OK);
    assert_int_equal(
        engine_instance_export(
            inst, span_of(INSTRUMENT_COUNTER_EXPORT, strlen(INSTRUMENT_COUNTER_EXPORT)), &counter),
        ST_OK);
    assert_int_equal(engine_global_set(counter.u.global, (uint64_t)BUDGET), ST_OK);
    uint64_t args[1] = {arg}, results[1] = {0};
    assert_int_equal(engine_instance_invoke(inst, f.u.func, args, results), ST_OK);
    if (result)
        *result = results[0];
    int64_t used = BUDGET - (int64_t)engine_global_get(counter.u.global);
    engine_instance_free(inst);
    engine_host_func_free(ooi);
    engine_code_free(code);
    engine_module_free(im);
    engine_module_free(m);
    buf_fini(&out);
    return used;
}

/* A module with one function of type `type` (a functype's bytes), exported as "run", with no
 * locals and body `body` (ending in `end`); with a 1-page memory if `memory`. */
static void one_func(mbuf *m, const uint8_t *type, size_t tn, const uint8_t *body, size_t bn,
                     bool memory)
{
    mbuf t = {0}, c = {0};
    mb_header(m);
    mb_u8(&t, 1);
    mb_bytes(&t, type, tn);
    mb_section(m, 1, t.b, t.n);
    SEC(m, 3, 1, 0);
    if (memory)
        SEC(m, 5, 1, 0x00, 1);
    SEC(m, 7, 1, 3, 'r', 'u', 'n', 0x00, 0);
    mb_u8(&c, 1);
    mb_u32(&c, (uint32_t)(bn + 1));
    mb_u8(&c, 0); /* no locals */
    mb_bytes(&c, body, bn);
    mb_section(m, 10, c.b, c.n);
}

#define ONE_FUNC(m, type, memory, ...)                                                            \
    one_func((m), type, sizeof type, BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__), (memory))

static const uint8_t T_V_I[] = {0x60, 0, 1, 0x7f};       /* [] -> [i32] */
static const uint8_t T_I_V[] = {0x60, 1, 0x7f, 0};       /* [i32] -> [] */
static const uint8_t T_I_I[] = {0x60, 1, 0x7f, 1, 0x7f}; /* [i32] -> [i32] */

/* ---- the schedules themselves ------------------------------------------------------------------- */

/* v2 = v1 except the weights of loop, else, br_table and i32/i64.popcnt (docs/weights.md); its
 * other change, 5000 per page grown by memory.grow, is the instrumenter's (test_memory_grow). */
static void test_v2_differs_only_where_documented(void **state)
{
    (void)state;
    static const struct {
        opcode op;
        uint32_t v1, v2;
    } changed[] = {
        {OP_LOOP, 0, 2},       {OP_ELSE, 0, 1},       {OP_BR_TABLE, 2, 3},
        {OP_I32_POPCNT, 1, 3}, {OP_I64_POPCNT, 1, 3},
    };
    int differing = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        uint32_t v1 = engine_opcode_weight((opcode)op, ENGINE_SCHEDULE_V1);
        uint32_t v2 = engine_opcode_weight((opcode)op, ENGINE_SCHEDULE_V2);
        assert_int_equal(v2, engine_opcodes[op].weight_v2);
        if (v1 == v2)
            continue;
        differing++;
        bool documented = false;
        for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
            if ((int)changed[i].op == op && changed[i].v1 == v1 && changed[i].v2 == v2)
                documented = true;
        if (!documented)
            fail_msg("%s: v1 %u, v2 %u is not a documented change", engine_opcodes[op].cname, v1,
                     v2);
    }
    assert_int_equal(differing, 5);
    assert_int_equal(instrument_grow_page_cost(ENGINE_SCHEDULE_V1), 0);
    assert_int_equal(instrument_grow_page_cost(ENGINE_SCHEDULE_V2), 5000);
    /* v1 stays the default of tools; v2 is known; nothing past it */
    assert_int_equal(ENGINE_SCHEDULE_LATEST, ENGINE_SCHEDULE_V1);
    assert_int_equal(ENGINE_SCHEDULE_MAX, ENGINE_SCHEDULE_V2);
    assert_int_equal(engine_opcode_weight(OP_NOP, ENGINE_SCHEDULE_MAX + 1), UINT32_MAX);
}

/* ---- golden programs ------------------------------------------------------------------------------ */

/* i32.const 5; i32.popcnt; i32.const 3; i32.add = 2 + 3 = 5.
 * One block: entry 1 + const 1 + popcnt (v1 1, v2 3) + const 1 + add 1 + end 0.
 * v1: 1+1+1+1+1 = 5; v2: 1+1+3+1+1 = 7. */
static void test_straight_line_popcnt(void **state)
{
    (void)state;
    mbuf m;
    ONE_FUNC(&m, T_V_I, false, 0x41, 5, 0x69, 0x41, 3, 0x6a, 0x0b);
    uint64_t r = 0;
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 0, &r), 5);
    assert_int_equal(r, 5);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 0, &r), 7);
    assert_int_equal(r, 5);
}

/* loop (local.get 0; i32.const 1; i32.sub; local.tee 0; br_if 0) end, with n = 10.
 * Entry block: 1 + loop (v1 0, v2 2), charged once. Loop header block: local.get 1 + const 1 +
 * sub 1 + tee 1 + br_if 2 = 6, charged each of the 10 iterations. The blocks after br_if (the
 * loop's end, 0) and after it (the function's end, 0) cost nothing.
 * v1: 1 + 10 x 6 = 61; v2: 3 + 60 = 63. */
static void test_countdown_loop(void **state)
{
    (void)state;
    mbuf m;
    ONE_FUNC(&m, T_I_V, false, 0x03, 0x40, 0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x0b);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 10, NULL), 61);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 10, NULL), 63);
    /* n = 1: one iteration: v1 1 + 6, v2 3 + 6 */
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 1, NULL), 7);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 1, NULL), 9);
}

/* local.get 0; if (result i32) i32.const 10 else i32.const 20 end.
 * Entry block: 1 + local.get 1 + if 2 = 4. Then-block: const 1 + else (v1 0, v2 1): the jump
 * over the else-branch is paid by the then-path. Else-block: const 1 + end 0 = 1.
 * c = 1: v1 4 + 1 = 5, v2 4 + 2 = 6. c = 0: 4 + 1 = 5 in both. */
static void test_if_else(void **state)
{
    (void)state;
    mbuf m;
    ONE_FUNC(&m, T_I_I, false, 0x20, 0, 0x04, 0x7f, 0x41, 10, 0x05, 0x41, 20, 0x0b, 0x0b);
    uint64_t r = 0;
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 1, &r), 5);
    assert_int_equal(r, 10);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 1, &r), 6);
    assert_int_equal(r, 10);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 0, &r), 5);
    assert_int_equal(r, 20);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 0, &r), 5);
    assert_int_equal(r, 20);
}

/* block block local.get 0; br_table [0] 1 end i32.const 7 return end i32.const 9.
 * Entry block: 1 + block 0 + block 0 + local.get 1 + br_table (v1 2, v2 3) = 4 / 5.
 * After the inner end: const 1 + return 1 = 2. After the outer end: const 1 + end 0 = 1.
 * i = 0 (to the inner end): v1 4 + 2 = 6, v2 5 + 2 = 7, result 7.
 * i = 5 (default, the outer end): v1 4 + 1 = 5, v2 5 + 1 = 6, result 9. */
static void test_br_table(void **state)
{
    (void)state;
    mbuf m;
    ONE_FUNC(&m, T_I_I, false, 0x02, 0x40, 0x02, 0x40, 0x20, 0, 0x0e, 1, 0, 1, 0x0b, 0x41, 7, 0x0f,
             0x0b, 0x41, 9, 0x0b);
    uint64_t r = 0;
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 0, &r), 6);
    assert_int_equal(r, 7);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 0, &r), 7);
    assert_int_equal(r, 7);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 5, &r), 5);
    assert_int_equal(r, 9);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 5, &r), 6);
    assert_int_equal(r, 9);
}

/* (memory 1) local.get 0; memory.grow -> 1 (the old size), or -1 past the 65536-page limit.
 * One block: entry 1 + local.get 1 + memory.grow 300 = 302 in both schedules; v2 also charges
 * 5000 per page asked for, before the grow, counting at most 65536 pages:
 *   delta 0: v1 302, v2 302;  delta 1: v1 302, v2 5302;  delta 7: v1 302, v2 35302;
 *   delta 70000 (fails): v1 302, v2 302 + 65536 x 5000 = 327680302. */
static void test_memory_grow(void **state)
{
    (void)state;
    mbuf m;
    ONE_FUNC(&m, T_I_I, true, 0x20, 0, 0x40, 0x00, 0x0b);
    static const struct {
        uint64_t delta;
        int64_t v1, v2;
        uint64_t result;
    } cases[] = {
        {0, 302, 302, 1},
        {1, 302, 5302, 1},
        {7, 302, 35302, 1},
        {70000, 302, 327680302, 0xFFFFFFFFu},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t r = 0;
        assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, cases[i].delta, &r), cases[i].v1);
        assert_int_equal(r & 0xFFFFFFFFu, cases[i].result);
        assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, cases[i].delta, &r), cases[i].v2);
        assert_int_equal(r & 0xFFFFFFFFu, cases[i].result);
    }
}

/* Unchanged weights give the same count in both schedules:
 *   sq(x)  = local.get 0; local.get 0; i32.mul        entry 1 + 1 + 1 + 1 = 4
 *   run(x) = local.get 0; call sq; i32.const 3; i32.div_u
 *                                                     entry 1 + 1 + call 5 + 1 + div 10 = 18
 * run(7) = 49 / 3 = 16, charged 18 + 4 = 22 in v1 and v2. */
/* A function whose only work is its declared locals: `run` calls f once; f declares n i64
 * locals and does nothing. v1 (the IC's rule): run's entry 1 + call 5, f's entry 1 = 7, for any
 * n. v2 adds ceil(n / 4) at f's entry (its locals' zeroing: docs/weights.md, "Code shapes"):
 * 49,999 locals charge 12,500 more, where v1 ran them at a thousandth of the plain rate. */
static void test_locals_charge(void **state)
{
    (void)state;
    static const uint32_t counts[] = {0, 1, 4, 5, 49999};
    for (size_t i = 0; i < BASE_ARRAY_LEN(counts); i++) {
        uint32_t n = counts[i];
        mbuf m, c = {0};
        mb_header(&m);
        SEC(&m, 1, 1, 0x60, 0, 0);
        SEC(&m, 3, 2, 0, 0);
        SEC(&m, 7, 1, 3, 'r', 'u', 'n', 0x00, 0);
        mbuf f = {0};
        if (n) {
            mb_u8(&f, 1);
            mb_u32(&f, n);
            mb_u8(&f, 0x7e);
        } else {
            mb_u8(&f, 0);
        }
        mb_u8(&f, 0x0b);
        static const uint8_t run[] = {0, 0x10, 1, 0x0b};
        mb_u8(&c, 2);
        mb_u8(&c, sizeof run);
        mb_bytes(&c, run, sizeof run);
        mb_u32(&c, (uint32_t)f.n);
        mb_bytes(&c, f.b, f.n);
        mb_section(&m, 10, c.b, c.n);
        assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 0, NULL), 7);
        assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 0, NULL), 7 + (n + 3) / 4);
        assert_int_equal(instrument_locals_cost(ENGINE_SCHEDULE_V1, n), 0);
        assert_int_equal(instrument_locals_cost(ENGINE_SCHEDULE_V2, n), (n + 3) / 4);
    }
}

static void test_call_and_div_unchanged(void **state)
{
    (void)state;
    mbuf m, c = {0};
    mb_header(&m);
    SEC(&m, 1, 1, 0x60, 1, 0x7f, 1, 0x7f);
    SEC(&m, 3, 2, 0, 0);
    SEC(&m, 7, 1, 3, 'r', 'u', 'n', 0x00, 1);
    static const uint8_t sq[] = {0, 0x20, 0, 0x20, 0, 0x6c, 0x0b};
    static const uint8_t run[] = {0, 0x20, 0, 0x10, 0, 0x41, 3, 0x6e, 0x0b};
    mb_u8(&c, 2);
    mb_u8(&c, sizeof sq);
    mb_bytes(&c, sq, sizeof sq);
    mb_u8(&c, sizeof run);
    mb_bytes(&c, run, sizeof run);
    mb_section(&m, 10, c.b, c.n);
    uint64_t r = 0;
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V1, 7, &r), 22);
    assert_int_equal(r, 16);
    assert_int_equal(run_counted(&m, ENGINE_SCHEDULE_V2, 7, &r), 22);
    assert_int_equal(r, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_differs_only_where_documented),
        cmocka_unit_test(test_straight_line_popcnt),
        cmocka_unit_test(test_countdown_loop),
        cmocka_unit_test(test_if_else),
        cmocka_unit_test(test_br_table),
        cmocka_unit_test(test_memory_grow),
        cmocka_unit_test(test_call_and_div_unchanged),
        cmocka_unit_test(test_locals_charge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
