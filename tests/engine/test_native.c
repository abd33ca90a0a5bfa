/* test_native.c - the compiled tier against the interpreter (docs/engine.md): hostile names never
 * reach the generated C; results, memory, globals, traps and stack limits are the same in both
 * tiers; a compiled run paused after every host call ends in the same state as an unpaused one.
 * Needs a C compiler ($TALLY_CC or cc): without one the tests fail, they never skip. */
#include "engine.h"
#include "engine_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *wasm_path;

typedef struct tier {
    engine_module *m;
    engine_code *code;
    engine_native *nat;
    engine_func *tick;
    engine_instance *inst;
} tier;

static int ticks;
static bool pause_on_tick;

static status tick(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)user, (void)slots;
    ticks++;
    if (pause_on_tick)
        engine_instance_pause_request(inst);
    return ST_OK;
}

static void tier_new(tier *t, bool compiled, const engine_run_config *rc)
{
    memset(t, 0, sizeof *t);
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(base_read_file(wasm_path, &bytes, &len), ST_OK);
    engine_config cfg;
    engine_config_default(&cfg);
    assert_int_equal(engine_module_load(&cfg, span_of(bytes, len), &t->m, NULL), ST_OK);
    base_free(bytes);
    assert_int_equal(engine_code_compile(t->m, &t->code), ST_OK);
    if (compiled) {
        engine_native_config ncfg;
        engine_native_config_default(&ncfg);
        char why[256];
        status st = engine_native_compile(t->code, &ncfg, &t->nat, why, sizeof why);
        if (st != ST_OK)
            fail_msg("the compiled tier needs a C compiler: %s: %s", status_name(st), why);
        engine_code_attach_native(t->code, t->nat);
    }
    static const uint8_t i32 = VT_I32;
    static const functype tick_type = {1, 0, &i32};
    assert_int_equal(engine_host_func_new(&tick_type, tick, NULL, &t->tick), ST_OK);
    engine_extern imp = {.kind = EXT_FUNC, .u.func = t->tick};
    assert_int_equal(engine_instance_new(t->code, rc, &imp, 1, NULL, &t->inst, NULL), ST_OK);
    assert_int_equal(engine_instance_compiled(t->inst), compiled);
}

static void tier_free(tier *t)
{
    engine_instance_free(t->inst);
    engine_code_free(t->code);
    engine_native_free(t->nat);
    engine_host_func_free(t->tick);
    engine_module_free(t->m);
}

/* The export whose name starts with `prefix`. */
static engine_extern export_of(const tier *t, const char *prefix)
{
    for (uint32_t i = 0; i < t->m->nexports; i++) {
        span n = t->m->exports[i].name;
        if (n.len >= strlen(prefix) && !memcmp(n.ptr, prefix, strlen(prefix))) {
            engine_extern x;
            assert_int_equal(engine_instance_export(t->inst, n, &x), ST_OK);
            return x;
        }
    }
    fail_msg("no export %s", prefix);
    return (engine_extern){0};
}

static status call(tier *t, const char *name, const uint64_t *args, uint64_t *res)
{
    return engine_instance_invoke(t->inst, export_of(t, name).u.func, args, res);
}

static void test_no_name_in_source(void **state)
{
    (void)state;
    tier t;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    tier_new(&t, false, &rc);
    buf src = {0};
    assert_int_equal(emit_module(t.code, 1u << 26, &src), ST_OK);
    assert_non_null(memmem(src.ptr, src.len, "tally_native_module", 19)); /* really the source */
    static const char *bad[] = {"evil", "system", "abort", "rm -rf", "tick", "work", "#define x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_null(memmem(src.ptr, src.len, bad[i], strlen(bad[i])));
    buf_fini(&src);
    tier_free(&t);
}

/* work(100) interpreted, compiled, and compiled paused after each of its 100 host calls. */
static void test_same_state_sliced(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    tier a, b, c;
    tier_new(&a, false, &rc);
    tier_new(&b, true, &rc);
    tier_new(&c, true, &rc);
    uint64_t arg = 100, ra = 0, rb = 0, rc_ = 0;
    pause_on_tick = true; /* invoke ignores pause requests */
    ticks = 0;
    assert_int_equal(call(&a, "work", &arg, &ra), ST_OK);
    assert_int_equal(call(&b, "work", &arg, &rb), ST_OK);
    assert_int_equal(ticks, 200);
    ticks = 0;
    assert_int_equal(engine_instance_invoke_begin(c.inst, export_of(&c, "work").u.func, &arg),
                     ST_OK);
    int pauses = 0;
    bool paused = true;
    while (paused) {
        assert_int_equal(engine_instance_run(c.inst, &paused), ST_OK);
        pauses += paused;
        assert_int_equal(ticks, paused ? pauses : 100);
    }
    engine_instance_results(c.inst, &rc_);
    pause_on_tick = false;
    assert_int_equal(pauses, 100);
    assert_int_equal(ra, rb);
    assert_int_equal(ra, rc_);
    assert_true(ra != 0);
    uint8_t *ma = engine_memory_data(engine_instance_memory(a.inst));
    assert_memory_equal(ma, engine_memory_data(engine_instance_memory(b.inst)), 65536);
    assert_memory_equal(ma, engine_memory_data(engine_instance_memory(c.inst)), 65536);
    engine_extern ga = export_of(&a, "g"), gb = export_of(&b, "g"), gc = export_of(&c, "g");
    assert_int_equal(engine_global_get(ga.u.global), 100);
    assert_int_equal(engine_global_get(gb.u.global), 100);
    assert_int_equal(engine_global_get(gc.u.global), 100);
    /* the write marks too */
    engine_memory *mb = engine_instance_memory(b.inst);
    assert_int_equal(engine_memory_mark_next(engine_instance_memory(a.inst), 0), 0);
    assert_int_equal(engine_memory_mark_next(mb, 0), 0);
    assert_int_equal(engine_memory_mark_next(mb, 1), 16);
    tier_free(&a);
    tier_free(&b);
    tier_free(&c);
}

#define NAN_PAYLOAD UINT64_C(0xfff8000000000001)
#define ONE UINT64_C(0x3ff0000000000000) /* 1.0 */

static void test_same_traps(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    tier a, b;
    tier_new(&a, false, &rc);
    tier_new(&b, true, &rc);
    struct {
        const char *f;
        uint64_t args[2];
        status st;
        uint64_t res;
    } cases[] = {
        {"div", {7, (uint32_t)-2}, ST_OK, (uint32_t)-3},
        {"div", {1, 0}, ST_TRAP_INT_DIV_ZERO, 0},
        {"div", {0x80000000u, 0xffffffffu}, ST_TRAP_INT_OVERFLOW, 0},
        {"oob", {65532, 0}, ST_OK, 0},
        {"oob", {65533, 0}, ST_TRAP_MEMORY_OOB, 0},
        {"oob", {0xffffffffu, 0}, ST_TRAP_MEMORY_OOB, 0},
        {"fdiv", {0, 0}, ST_OK, UINT64_C(0x7ff8000000000000)}, /* canonical NaN */
        {"fdiv", {UINT64_C(0xfff8000000000001), 0}, ST_OK, UINT64_C(0x7ff8000000000000)},
        /* a NaN result whose bits are looked at: the canonical NaN, whatever the operand's NaN
           (a NaN with a payload and the sign bit, times 1.0); f64.neg flips its sign bit */
        {"fneg", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0xfff8000000000000)},
        {"fstore", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0x7ff8000000000000)},
        {"flocal", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0x7ff8000000000000)},
        {"fbr", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0x7ff8000000000000)},
        {"fcall", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0x7ff8000000000000)},
        {"fglobal", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0x7ff8000000000000)},
        {"fsel", {NAN_PAYLOAD, ONE}, ST_OK, UINT64_C(0x7ff8000000000000)},
        {"fneg", {ONE, ONE}, ST_OK, UINT64_C(0xbff0000000000000)},
        {"f32neg", {0xbf800000u, 0}, ST_OK, 0xffc00000u}, /* -sqrt(-1.0f): -(canonical NaN) */
        {"rec", {1000, 0}, ST_OK, 1000},
        {"rec", {20000, 0}, ST_TRAP_CALL_STACK_EXHAUSTED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t r1 = 0, r2 = 0;
        assert_int_equal(call(&a, cases[i].f, cases[i].args, &r1), cases[i].st);
        assert_int_equal(call(&b, cases[i].f, cases[i].args, &r2), cases[i].st);
        if (cases[i].st == ST_OK) {
            assert_int_equal(r1, r2);
            if (strcmp(cases[i].f, "oob"))
                assert_int_equal(r1, cases[i].res);
        }
        assert_int_equal(engine_instance_max_depth(a.inst), engine_instance_max_depth(b.inst));
    }
    /* a global the compiled code keeps in a C local is in the instance when the run traps */
    uint64_t arg = 65533, r = 0;
    assert_int_equal(call(&a, "gtrap", &arg, &r), ST_TRAP_MEMORY_OOB);
    assert_int_equal(call(&b, "gtrap", &arg, &r), ST_TRAP_MEMORY_OOB);
    assert_int_equal(engine_global_get(export_of(&a, "hg").u.global), 5);
    assert_int_equal(engine_global_get(export_of(&b, "hg").u.global), 5);
    /* the register global (emit.c: passed through direct calls in registers) is in the
       instance after a call, and when the callee that last set it traps */
    engine_extern ga = export_of(&a, "g"), gb = export_of(&b, "g");
    arg = 0;
    uint64_t r1 = 0, r2 = 0;
    assert_int_equal(call(&a, "gdeep", &arg, &r1), ST_OK);
    assert_int_equal(call(&b, "gdeep", &arg, &r2), ST_OK);
    assert_int_equal(r1, 4); /* memory[0] is 0, g is 4 */
    assert_int_equal(r2, 4);
    arg = 65533;
    assert_int_equal(call(&a, "gdeep", &arg, &r1), ST_TRAP_MEMORY_OOB);
    assert_int_equal(call(&b, "gdeep", &arg, &r2), ST_TRAP_MEMORY_OOB);
    assert_int_equal(engine_global_get(ga.u.global), 8);
    assert_int_equal(engine_global_get(gb.u.global), 8);
    tier_free(&a);
    tier_free(&b);
}

/* Small call-depth and value-slot limits: both tiers trap at exactly the same n. */
static void test_same_stack_limits(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    for (int which = 0; which < 2; which++) {
        rc.max_call_depth = which ? 10000 : 50;
        rc.max_value_slots = which ? 150 : 1u << 20; /* rec: 1 slot per level */
        tier a, b;
        tier_new(&a, false, &rc);
        tier_new(&b, true, &rc);
        /* rec: direct calls; irec: call_indirect (the compiled tier's generic entries) */
        for (int fn = 0; fn < 2; fn++) {
            const char *f = fn ? "irec" : "rec";
            int first_trap_a = -1, first_trap_b = -1;
            for (uint64_t n = 0; n < 200; n++) {
                uint64_t r1 = 0, r2 = 0;
                status s1 = call(&a, f, &n, &r1), s2 = call(&b, f, &n, &r2);
                assert_int_equal(s1, s2);
                assert_int_equal(r1, r2);
                assert_int_equal(engine_instance_max_depth(a.inst),
                                 engine_instance_max_depth(b.inst));
                if (s1 != ST_OK && first_trap_a < 0)
                    first_trap_a = (int)n;
                if (s2 != ST_OK && first_trap_b < 0)
                    first_trap_b = (int)n;
            }
            assert_true(first_trap_a > 0);
            assert_int_equal(first_trap_a, first_trap_b);
            if (!which)
                assert_int_equal(first_trap_a, 50); /* rec(n) needs n + 1 frames */
        }
        tier_free(&a);
        tier_free(&b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_native NATIVE.wasm\n");
        return 2;
    }
    wasm_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_name_in_source),
        cmocka_unit_test(test_same_state_sliced),
        cmocka_unit_test(test_same_traps),
        cmocka_unit_test(test_same_stack_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
