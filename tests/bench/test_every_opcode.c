/* test_every_opcode.c - every row of engine/opcodes.def has a compile path and a VM handler:
 * for each opcode, the micro-benchmark module of bench/bench_gen.c (the instruction with the
 * operands it needs, in a loop) is loaded, compiled and run. An opcode the compiler does not
 * handle fails compilation (ST_BUG_INVARIANT), one without a handler fails the run; the table,
 * the compiler and the VM cannot drift apart unnoticed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bench_gen.h"

#include <string.h>

static void t_every_opcode(void **state)
{
    (void)state;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_run_config rc;
    engine_run_config_default(&cfg, &rc);
    int ran = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        bench_plan p;
        bench_gen_plan((opcode)op, &p);
        /* no opcode may be left out: a new row needs a benchmark shape, and so a test here */
        if (p.kind == BENCH_SKIP)
            fail_msg("%s: no benchmark shape (%s)", engine_opcodes[op].text, p.reason);
        buf b = {0};
        assert_int_equal(bench_gen_module((opcode)op, 1, 2, 1, &b), ST_OK);
        engine_module *m = NULL;
        engine_code *code = NULL;
        engine_instance *inst = NULL;
        status st = engine_module_load(&cfg, span_of(b.ptr, b.len), &m, NULL);
        if (st != ST_OK)
            fail_msg("%s: module does not load: %s", engine_opcodes[op].text, status_name(st));
        st = engine_code_compile(m, &code);
        if (st != ST_OK)
            fail_msg("%s: does not compile: %s", engine_opcodes[op].text, status_name(st));
        assert_int_equal(engine_instance_new(code, &rc, NULL, 0, NULL, &inst, NULL), ST_OK);
        engine_extern fx;
        assert_int_equal(engine_instance_export(inst, span_of("run", 3), &fx), ST_OK);
        st = engine_instance_invoke(inst, fx.u.func, NULL, NULL);
        if (p.kind == BENCH_TRAP)
            assert_int_equal(status_class_of(st), SC_TRAP);
        else if (st != ST_OK)
            fail_msg("%s: run failed: %s", engine_opcodes[op].text, status_name(st));
        ran++;
        engine_instance_free(inst);
        engine_code_free(code);
        engine_module_free(m);
        buf_fini(&b);
    }
    assert_int_equal(ran, OP_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(t_every_opcode)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
