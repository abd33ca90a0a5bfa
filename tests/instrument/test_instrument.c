/* test_instrument.c - the metering pass against hand-derived instruction counts.
 *
 * Each golden program below is instrumented by tally and then run in wabt's reference
 * interpreter (spectest-interp), with a wrapper module that sets `__tally_counter` before the
 * call and reports how many instructions were used; `__tally.out_of_instructions` traps. So
 * these counts check the instrumenter alone, independently of tally's VM. Weights: schedule v1
 * (engine/opcodes.def), except the memory.grow cases marked v2 (5000 per page grown, counted up
 * to 65536 pages, charged before the grow). Cost derivations are in the comments: E = function
 * entry point (1 + the weights up to the first block end), then one term per basic block
 * executed. */
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
    const char *body; /* module fields; must export "f" : [i32] -> [i32] */
    int32_t arg;
    int64_t used; /* instructions charged for f(arg) */
    bool traps;
    int64_t limit; /* counter before the call */
    int schedule;  /* 0: v1 */
} golden;

#define GROW_MOD                                                                                  \
    "(memory 1 4) (func (export \"f\") (param i32) (result i32) local.get 0 "                     \
    "memory.grow)"

#define LIMIT 1000000000LL

static const golden cases[] = {
    /* local.get 1 + i32.const 1 + i32.add 1 + end 0, plus 1 for the entry: 4 */
    {"straight", "(func (export \"f\") (param i32) (result i32) local.get 0 i32.const 1 i32.add)",
     5, 4, false, LIMIT, 1},
    /* E = 1 + block 0 + block 0 + local.get 1 + br_if 2 = 4; A (after br_if) = i32.const 1 +
     * br 2 = 3; C (after the inner end) = i32.const 1 + end 0 = 1.
     * f(0): E + A, and br 1 leaves both blocks: 7.  f(1): E + C: 5. */
    {"nested0",
     "(func (export \"f\") (param i32) (result i32) (block (result i32) (block "
     "local.get 0 br_if 0 i32.const 7 br 1) i32.const 9))",
     0, 7, false, LIMIT, 1},
    {"nested1",
     "(func (export \"f\") (param i32) (result i32) (block (result i32) (block "
     "local.get 0 br_if 0 i32.const 7 br 1) i32.const 9))",
     1, 5, false, LIMIT, 1},
    /* E = 1 + loop 0 = 1; loop header L = 8 ops of weight 1 + br_if 2 = 10 per iteration;
     * after the loop: local.get 1 = 1.  f(5): 1 + 5*10 + 1 = 52. */
    {"loop",
     "(func (export \"f\") (param i32) (result i32) (local i32) (loop $l local.get 1 "
     "local.get 0 i32.add local.set 1 local.get 0 i32.const 1 i32.sub local.tee 0 "
     "br_if $l) local.get 1)",
     5, 52, false, LIMIT, 1},
    /* E = 1 + local.get 1 + br_table 2 = 4; label 0: i32.const 1 + return 1 = 2;
     * label 1: i32.const, i32.const, i32.add, return = 4; default: i32.const 1 = 1. */
    {"br_table0",
     "(func (export \"f\") (param i32) (result i32) (block (block (block "
     "local.get 0 br_table 0 1 2) i32.const 10 return) i32.const 20 i32.const 1 "
     "i32.add return) i32.const 30)",
     0, 6, false, LIMIT, 1},
    {"br_table1",
     "(func (export \"f\") (param i32) (result i32) (block (block (block "
     "local.get 0 br_table 0 1 2) i32.const 10 return) i32.const 20 i32.const 1 "
     "i32.add return) i32.const 30)",
     1, 8, false, LIMIT, 1},
    {"br_table9",
     "(func (export \"f\") (param i32) (result i32) (block (block (block "
     "local.get 0 br_table 0 1 2) i32.const 10 return) i32.const 20 i32.const 1 "
     "i32.add return) i32.const 30)",
     9, 5, false, LIMIT, 1},
    /* fac: E = 1 + local.get 1 + i32.eqz 1 + if 2 = 5; then = i32.const 1 = 1;
     * else = local.get, local.get, i32.const, i32.sub (4) + call 5 + i32.mul 1 = 10.
     * fac(5): 6 entries (30) + 5 else blocks (50) + 1 then block = 81. */
    {"recursion",
     "(func $fac (export \"f\") (param i32) (result i32) local.get 0 i32.eqz "
     "if (result i32) i32.const 1 else local.get 0 local.get 0 i32.const 1 i32.sub "
     "call $fac i32.mul end)",
     5, 81, false, LIMIT, 1},
    /* E = 1 + local.get 1 + if 2 = 4; then: i32.const 1 + return 1 = 2; after end: 1.
     * f(1) = 6, f(0) = 5. */
    {"early_return1",
     "(func (export \"f\") (param i32) (result i32) local.get 0 if i32.const "
     "100 return end i32.const 200)",
     1, 6, false, LIMIT, 1},
    {"early_return0",
     "(func (export \"f\") (param i32) (result i32) local.get 0 if i32.const "
     "100 return end i32.const 200)",
     0, 5, false, LIMIT, 1},
    /* E = 4; the then block (i32.const 1, i32.const 1, i32.div_u 10, drop 1 = 13) is charged
     * at its start, before the division traps: 17. */
    {"trap",
     "(func (export \"f\") (param i32) (result i32) local.get 0 if i32.const 0 "
     "i32.const 0 i32.div_u drop end i32.const 1)",
     1, 17, true, LIMIT, 1},
    /* E = 1 + 3 consts/locals + memory.fill 100 + local.get 1 = 105, plus the size operand
     * charged dynamically: f(1000) = 1105; f(70000) traps (out of bounds) after 70105. */
    {"bulk_fill",
     "(memory 1) (func (export \"f\") (param i32) (result i32) i32.const 0 "
     "i32.const 7 local.get 0 memory.fill local.get 0)",
     1000, 1105, false, LIMIT, 1},
    {"bulk_fill_trap",
     "(memory 1) (func (export \"f\") (param i32) (result i32) i32.const 0 "
     "i32.const 7 local.get 0 memory.fill local.get 0)",
     70000, 70105, true, LIMIT, 1},
    /* memory.copy: E = 1 + 3 + memory.copy 100 + local.get 1 = 105 + n */
    {"bulk_copy",
     "(memory 1) (func (export \"f\") (param i32) (result i32) i32.const 0 "
     "i32.const 100 local.get 0 memory.copy local.get 0)",
     300, 405, false, LIMIT, 1},
    /* call_indirect: E = 1 + local.get 1 + i32.const 1 + call_indirect 10 = 13, plus g's entry
     * (1 + local.get 1 = 2) = 15 */
    {"call_indirect",
     "(type $t (func (param i32) (result i32))) (table 1 funcref) "
     "(elem (i32.const 0) $g) (func $g (param i32) (result i32) local.get 0) "
     "(func (export \"f\") (param i32) (result i32) local.get 0 i32.const 0 "
     "call_indirect (type $t))",
     3, 15, false, LIMIT, 1},
    /* The loop with a limit of 100: entry 1 leaves 99; each iteration costs 10, so the 10th
     * loop-header check sees -1 and calls out_of_instructions: 101 used, then the trap. */
    {"out_of_instructions",
     "(func (export \"f\") (param i32) (result i32) (local i32) (loop $l "
     "local.get 1 local.get 0 i32.add local.set 1 local.get 0 i32.const 1 "
     "i32.sub local.tee 0 br_if $l) local.get 1)",
     1000, 101, true, 100, 1},
    /* memory.grow: E = 1 + local.get 1 + memory.grow 300 = 302 in v1 and v2 (same weight).
     * v1 charges nothing per page: f(3) = 302 (grows 1 -> 4 pages). v2 adds 5000 x delta before
     * the grow: f(0) = 302, f(1) = 5302, f(3) = 15302; f(5) fails (max 4 pages, result -1) but
     * has paid 302 + 25000 = 25302; f(-1) asks for 2^32 - 1 pages, counted as 65536:
     * 302 + 327680000 = 327680302. With a limit of 10000, f(2) has 9698 left after the entry
     * and the per-page charge of 10000 takes it to -302: out_of_instructions, 10302 used. */
    {"grow_v1", GROW_MOD, 3, 302, false, LIMIT, 1},
    {"grow_v2_0", GROW_MOD, 0, 302, false, LIMIT, 2},
    {"grow_v2_1", GROW_MOD, 1, 5302, false, LIMIT, 2},
    {"grow_v2_3", GROW_MOD, 3, 15302, false, LIMIT, 2},
    {"grow_v2_fails", GROW_MOD, 5, 25302, false, LIMIT, 2},
    {"grow_v2_capped", GROW_MOD, -1, 327680302, false, LIMIT, 2},
    {"grow_v2_out_of_instructions", GROW_MOD, 2, 10302, true, 10000, 2},
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

static void instrument_bytes(const buf *wasm, int schedule, buf *out)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_error err;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm->ptr, wasm->len), &m, &err), ST_OK);
    assert_int_equal(instrument_module(m, schedule ? schedule : ENGINE_SCHEDULE_V1, out, &err),
                     ST_OK);
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
    fprintf(f,
            "\")\n(register \"m\" $m)\n"
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
        fprintf(f,
                "(assert_trap (invoke \"used\" (i32.const %d)) \"\")\n"
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
        fail_msg("golden case %s: instructions used differ from %lld", g->name,
                 (long long)g->used);
    }
}

static void test_golden_counts_in_wabt(void **state)
{
    (void)state;
    for (size_t i = 0; i < BASE_ARRAY_LEN(cases); i++) {
        buf wasm = {0}, inst = {0};
        compile_wat(cases[i].body, &wasm);
        instrument_bytes(&wasm, cases[i].schedule, &inst);
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
    instrument_bytes(&wasm, ENGINE_SCHEDULE_V1, &inst);
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

static void hex_decode(const char *hex, buf *out)
{
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
        unsigned v;
        assert_int_equal(sscanf(hex + i, "%2x", &v), 1);
        assert_int_equal(buf_u8(out, (uint8_t)v), ST_OK);
    }
}

/* Schedule v1 output is byte for byte what tally wrote before memory.grow had a per-page charge
 * (the bytes below were written by that version from GROW_MOD): chains started with v1 keep
 * their code hashes and state roots. */
static void test_v1_grow_output_unchanged(void **state)
{
    (void)state;
    static const char in[] = "0061736d0100000001060160017f017f03020100050401010104070501016600"
                             "000a08010600200040000b";
    static const char want[] =
        "0061736d01000000010e0360017f017f60000060017e017e021f01075f5f74616c6c79136f75745f6f66"
        "5f696e737472756374696f6e73000103030200020504010101040606017e0142000b071702016600010f"
        "5f5f74616c6c795f636f756e74657203000a4c021800230042ae027d24002300420053044010000b2000"
        "40000b3101017e230020007d210120012300550440428080808080808080807f24000520012400"
        "0b2300420053044010000b20000b00100e74616c6c792e6d65746572696e6701";
    buf wasm = {0}, expect = {0}, out = {0}, v2 = {0};
    hex_decode(in, &wasm);
    hex_decode(want, &expect);
    instrument_bytes(&wasm, ENGINE_SCHEDULE_V1, &out);
    assert_int_equal(out.len, expect.len);
    assert_memory_equal(out.ptr, expect.ptr, expect.len);
    /* v2 appends the grow helper: a longer module */
    instrument_bytes(&wasm, ENGINE_SCHEDULE_V2, &v2);
    assert_true(v2.len > out.len);
    buf_fini(&wasm);
    buf_fini(&expect);
    buf_fini(&out);
    buf_fini(&v2);
}

/* A module without a memory gets no grow helper in v2: with weights equal in both schedules
 * (local.get, i32.const, i32.add), v1 and v2 differ only in the recorded schedule (the last
 * byte, the u32 of the tally.metering section). */
static void test_v2_without_memory_has_no_grow_helper(void **state)
{
    (void)state;
    buf wasm = {0}, a = {0}, b = {0};
    compile_wat(cases[0].body, &wasm);
    instrument_bytes(&wasm, ENGINE_SCHEDULE_V1, &a);
    instrument_bytes(&wasm, ENGINE_SCHEDULE_V2, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.ptr, b.ptr, a.len - 1);
    assert_int_equal(a.ptr[a.len - 1], ENGINE_SCHEDULE_V1);
    assert_int_equal(b.ptr[b.len - 1], ENGINE_SCHEDULE_V2);
    assert_int_equal(instrument_grow_page_cost(ENGINE_SCHEDULE_V1), 0);
    assert_int_equal(instrument_grow_page_cost(ENGINE_SCHEDULE_V2), 5000);
    assert_int_equal(instrument_grow_page_cost(99), 0);
    buf_fini(&wasm);
    buf_fini(&a);
    buf_fini(&b);
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
static void check_allocation_failures(const char *body, int schedule)
{
    buf wasm = {0}, ref = {0};
    compile_wat(body, &wasm);
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm.ptr, wasm.len), &m, NULL), ST_OK);
    assert_int_equal(instrument_module(m, schedule, &ref, NULL), ST_OK);
    for (long n = 0;; n++) {
        buf out = {0};
        assert_int_equal(buf_put(&out, "xy", 2), ST_OK);
        base_alloc_fail_after(n, false);
        status st = instrument_module(m, schedule, &out, NULL);
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

static void test_allocation_failures(void **state)
{
    (void)state;
    /* call_indirect: tables, elements, several functions; memory.grow in v2: the grow helper */
    check_allocation_failures(cases[14].body, ENGINE_SCHEDULE_V1);
    check_allocation_failures(GROW_MOD, ENGINE_SCHEDULE_V2);
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
        cmocka_unit_test(test_v1_grow_output_unchanged),
        cmocka_unit_test(test_v2_without_memory_has_no_grow_helper),
        cmocka_unit_test(test_unknown_schedule),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
