/* test_instrument.c - the metering pass against hand-derived instruction counts.
 *
 * Each golden program below is instrumented by tally and then run in wabt's reference
 * interpreter (spectest-interp), with a wrapper module that sets `__tally_counter` before the
 * call and reports how many instructions were used; `__tally.out_of_instructions` traps. So
 * these counts check the instrumenter alone, independently of tally's VM. Weights: schedule v1
 * (engine/opcodes.def). Cost derivations are in the comments: E = function entry point (1 + the
 * weights up to the first block end), then one term per basic block executed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instrument.h"
#include "test_util.h"

typedef struct golden {
    const char *name;
    const char *body;   /* module fields; must export "f" : [i32] -> [i32] */
    int32_t arg;
    int64_t used;       /* instructions charged for f(arg) */
    bool traps;
    int64_t limit;      /* counter before the call */
} golden;

#define LIMIT 1000000000LL

static const golden cases[] = {
    /* local.get 1 + i32.const 1 + i32.add 1 + end 0, plus 1 for the entry: 4 */
    {"straight", "(func (export \"f\") (param i32) (result i32) local.get 0 i32.const 1 i32.add)",
     5, 4, false, LIMIT},
    /* E = 1 + block 0 + block 0 + local.get 1 + br_if 2 = 4; A (after br_if) = i32.const 1 +
     * br 2 = 3; C (after the inner end) = i32.const 1 + end 0 = 1.
     * f(0): E + A, and br 1 leaves both blocks: 7.  f(1): E + C: 5. */
    {"nested0", "(func (export \"f\") (param i32) (result i32) (block (result i32) (block "
                "local.get 0 br_if 0 i32.const 7 br 1) i32.const 9))",
     0, 7, false, LIMIT},
    {"nested1", "(func (export \"f\") (param i32) (result i32) (block (result i32) (block "
                "local.get 0 br_if 0 i32.const 7 br 1) i32.const 9))",
     1, 5, false, LIMIT},
    /* E = 1 + loop 0 = 1; loop header L = 8 ops of weight 1 + br_if 2 = 10 per iteration;
     * after the loop: local.get 1 = 1.  f(5): 1 + 5*10 + 1 = 52. */
    {"loop", "(func (export \"f\") (param i32) (result i32) (local i32) (loop $l local.get 1 "
             "local.get 0 i32.add local.set 1 local.get 0 i32.const 1 i32.sub local.tee 0 "
             "br_if $l) local.get 1)",
     5, 52, false, LIMIT},
    /* E = 1 + local.get 1 + br_table 2 = 4; label 0: i32.const 1 + return 1 = 2;
     * label 1: i32.const, i32.const, i32.add, return = 4; default: i32.const 1 = 1. */
    {"br_table0", "(func (export \"f\") (param i32) (result i32) (block (block (block "
                  "local.get 0 br_table 0 1 2) i32.const 10 return) i32.const 20 i32.const 1 "
                  "i32.add return) i32.const 30)",
     0, 6, false, LIMIT},
    {"br_table1", "(func (export \"f\") (param i32) (result i32) (block (block (block "
                  "local.get 0 br_table 0 1 2) i32.const 10 return) i32.const 20 i32.const 1 "
                  "i32.add return) i32.const 30)",
     1, 8, false, LIMIT},
    {"br_table9", "(func (export \"f\") (param i32) (result i32) (block (block (block "
                  "local.get 0 br_table 0 1 2) i32.const 10 return) i32.const 20 i32.const 1 "
                  "i32.add return) i32.const 30)",
     9, 5, false, LIMIT},
    /* fac: E = 1 + local.get 1 + i32.eqz 1 + if 2 = 5; then = i32.const 1 = 1;
     * else = local.get, local.get, i32.const, i32.sub (4) + call 5 + i32.mul 1 = 10.
     * fac(5): 6 entries (30) + 5 else blocks (50) + 1 then block = 81. */
    {"recursion", "(func $fac (export \"f\") (param i32) (result i32) local.get 0 i32.eqz "
                  "if (result i32) i32.const 1 else local.get 0 local.get 0 i32.const 1 i32.sub "
                  "call $fac i32.mul end)",
     5, 81, false, LIMIT},
    /* E = 1 + local.get 1 + if 2 = 4; then: i32.const 1 + return 1 = 2; after end: 1.
     * f(1) = 6, f(0) = 5. */
    {"early_return1", "(func (export \"f\") (param i32) (result i32) local.get 0 if i32.const "
                      "100 return end i32.const 200)",
     1, 6, false, LIMIT},
    {"early_return0", "(func (export \"f\") (param i32) (result i32) local.get 0 if i32.const "
                      "100 return end i32.const 200)",
     0, 5, false, LIMIT},
    /* E = 4; the then block (i32.const 1, i32.const 1, i32.div_u 10, drop 1 = 13) is charged
     * at its start, before the division traps: 17. */
    {"trap", "(func (export \"f\") (param i32) (result i32) local.get 0 if i32.const 0 "
             "i32.const 0 i32.div_u drop end i32.const 1)",
     1, 17, true, LIMIT},
    /* E = 1 + 3 consts/locals + memory.fill 100 + local.get 1 = 105, plus the size operand
     * charged dynamically: f(1000) = 1105; f(70000) traps (out of bounds) after 70105. */
    {"bulk_fill", "(memory 1) (func (export \"f\") (param i32) (result i32) i32.const 0 "
                  "i32.const 7 local.get 0 memory.fill local.get 0)",
     1000, 1105, false, LIMIT},
    {"bulk_fill_trap", "(memory 1) (func (export \"f\") (param i32) (result i32) i32.const 0 "
                       "i32.const 7 local.get 0 memory.fill local.get 0)",
     70000, 70105, true, LIMIT},
    /* memory.copy: E = 1 + 3 + memory.copy 100 + local.get 1 = 105 + n */
    {"bulk_copy", "(memory 1) (func (export \"f\") (param i32) (result i32) i32.const 0 "
                  "i32.const 100 local.get 0 memory.copy local.get 0)",
     300, 405, false, LIMIT},
    /* call_indirect: E = 1 + local.get 1 + i32.const 1 + call_indirect 10 = 13, plus g's entry
     * (1 + local.get 1 = 2) = 15 */
    {"call_indirect", "(type $t (func (param i32) (result i32))) (table 1 funcref) "
                      "(elem (i32.const 0) $g) (func $g (param i32) (result i32) local.get 0) "
                      "(func (export \"f\") (param i32) (result i32) local.get 0 i32.const 0 "
                      "call_indirect (type $t))",
     3, 15, false, LIMIT},
    /* The loop with a limit of 100: entry 1 leaves 99; each iteration costs 10, so the 10th
     * loop-header check sees -1 and calls out_of_instructions: 101 used, then the trap. */
    {"out_of_instructions", "(func (export \"f\") (param i32) (result i32) (local i32) (loop $l "
                            "local.get 1 local.get 0 i32.add local.set 1 local.get 0 i32.const 1 "
                            "i32.sub local.tee 0 br_if $l) local.get 1)",
     1000, 101, true, 100},
};

static char tmpdir[64];

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}


/* wat2wasm the module text of a case; returns its bytes. */
static void compile_wat(const char *fields, buf *wasm)
{
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/in.wat", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "(module %s)\n", fields);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s/in.wat -o %s/in.wasm", WAT2WASM, tmpdir, tmpdir);
    assert_int_equal(run(cmd), 0);
    snprintf(path, sizeof path, "%s/in.wasm", tmpdir);
    test_read_file(path, wasm);
}

static void instrument_bytes(const buf *wasm, buf *out)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_error err;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm->ptr, wasm->len), &m, &err), ST_OK);
    assert_int_equal(instrument_module(m, ENGINE_SCHEDULE_V1, out, &err), ST_OK);
    engine_module_free(m);
}

/* Writes a .wast that runs f(arg) under wabt with the counter set to `limit` and checks the
 * instructions used, then runs it through wast2json + spectest-interp. */
static void check_in_wabt(const golden *g, const buf *inst)
{
    char path[128], cmd[768];
    snprintf(path, sizeof path, "%s/t.wast", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "(module $oo (func (export \"out_of_instructions\") unreachable))\n"
               "(register \"__tally\" $oo)\n(module $m binary \"");
    for (size_t i = 0; i < inst->len; i++)
        fprintf(f, "\\%02x", inst->ptr[i]);
    fprintf(f, "\")\n(register \"m\" $m)\n"
               "(module\n"
               "  (import \"m\" \"__tally_counter\" (global $c (mut i64)))\n"
               "  (import \"m\" \"f\" (func $f (param i32) (result i32)))\n"
               "  (func (export \"used\") (param i32) (result i64)\n"
               "    (global.set $c (i64.const %lld))\n"
               "    (drop (call $f (local.get 0)))\n"
               "    (i64.sub (i64.const %lld) (global.get $c)))\n"
               "  (func (export \"left\") (result i64) (global.get $c)))\n",
            (long long)g->limit, (long long)g->limit);
    if (g->traps)
        fprintf(f, "(assert_trap (invoke \"used\" (i32.const %d)) \"\")\n"
                   "(assert_return (invoke \"left\") (i64.const %lld))\n",
                (int)g->arg, (long long)(g->limit - g->used));
    else
        fprintf(f, "(assert_return (invoke \"used\" (i32.const %d)) (i64.const %lld))\n",
                (int)g->arg, (long long)g->used);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cd %s && %s t.wast -o t.json >/dev/null && %s t.json > out.txt 2>&1 && "
             "grep -q 'tests passed' out.txt && ! grep -q 'FAIL\\|failed\\|error' out.txt",
             tmpdir, WAST2JSON, SPECTEST_INTERP);
    int rc = run(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "cat %s/out.txt >&2", tmpdir);
        (void)run(cmd);
        fail_msg("golden case %s: instructions used differ from %lld", g->name, (long long)g->used);
    }
}

static void test_golden_counts_in_wabt(void **state)
{
    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(cases); i++) {
        buf wasm = {0}, inst = {0};
        compile_wat(cases[i].body, &wasm);
        instrument_bytes(&wasm, &inst);
        char path[128], cmd[512];
        snprintf(path, sizeof path, "%s/out.wasm", tmpdir);
        write_file(path, inst.ptr, inst.len);
        snprintf(cmd, sizeof cmd, "%s %s", WASM_VALIDATE, path);
        assert_int_equal(run(cmd), 0);
        check_in_wabt(&cases[i], &inst);
        buf_fini(&wasm);
        buf_fini(&inst);
    }
}

static void test_reinstrument_rejected_and_schedule_recorded(void **state)
{
    (void)state;
    buf wasm = {0}, inst = {0}, again = {0};
    compile_wat(cases[0].body, &wasm);
    instrument_bytes(&wasm, &inst);
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_error err;
    assert_int_equal(engine_module_load(&cfg, span_of(inst.ptr, inst.len), &m, &err), ST_OK);
    assert_int_equal(instrument_schedule_of(m), ENGINE_SCHEDULE_V1);
    assert_int_equal(instrument_module(m, ENGINE_SCHEDULE_V1, &again, &err), ST_RESERVED_NAME);
    assert_int_equal(again.len, 0);
    engine_module_free(m);
    buf_fini(&wasm);
    buf_fini(&inst);
    buf_fini(&again);
}

static void test_unknown_schedule(void **state)
{
    (void)state;
    buf wasm = {0}, out = {0};
    compile_wat(cases[0].body, &wasm);
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm.ptr, wasm.len), &m, NULL), ST_OK);
    assert_int_equal(instrument_module(m, 99, &out, NULL), ST_UNKNOWN_SCHEDULE);
    engine_module_free(m);
    buf_fini(&wasm);
}

/* Every allocation of the pass may fail: the result is ST_OUT_OF_MEMORY, `out` is as before,
 * and nothing leaks (checked under ASan); the first run that sees no failure is byte-identical
 * to an undisturbed run. */
static void test_allocation_failures(void **state)
{
    (void)state;
    buf wasm = {0}, ref = {0};
    compile_wat(cases[14].body, &wasm); /* call_indirect: tables, elements, several functions */
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm.ptr, wasm.len), &m, NULL), ST_OK);
    assert_int_equal(instrument_module(m, ENGINE_SCHEDULE_V1, &ref, NULL), ST_OK);
    for (long n = 0;; n++) {
        buf out = {0};
        assert_int_equal(buf_put(&out, "xy", 2), ST_OK);
        base_alloc_fail_after(n, false);
        status st = instrument_module(m, ENGINE_SCHEDULE_V1, &out, NULL);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            assert_int_equal(out.len, ref.len + 2);
            assert_memory_equal(out.ptr + 2, ref.ptr, ref.len);
            buf_fini(&out);
            break;
        }
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_int_equal(out.len, 2);
        buf_fini(&out);
        assert_true(n < 10000);
    }
    engine_module_free(m);
    buf_fini(&wasm);
    buf_fini(&ref);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tally-instr-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return run(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_counts_in_wabt),
        cmocka_unit_test(test_reinstrument_rejected_and_schedule_recorded),
        cmocka_unit_test(test_unknown_schedule),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
