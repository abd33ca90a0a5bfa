/* test_native.c - the compiled tier against the interpreter (docs/engine.md): hostile names never
 * reach the generated C; results, memory, globals, traps and stack limits are the same in every
 * tier (interpreter, cc, and the quick route's tcc); a compiled run paused after every host call
 * ends in the same state as an unpaused one; deep recursion through a long function and through
 * a wide frame traps at the same call in every tier; the quick route refuses frames past its
 * rule. Needs a C compiler ($TALLY_CC or cc) and tcc ($TALLY_TCC): without them the tests
 * fail, they never skip. */
#include "engine.h"
#include "engine_int.h"

#include <setjmp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *wasm_path, *charge_path;

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

enum { INTERP, COMPILED, QUICK };
static const char *const tier_names[] = {"interp", "compiled", "quick"};

/* A module of bytes (NULL: native.wasm) in tier `kind`, with the host import `tick` if it has
   an import. */
static void tier_new_of(tier *t, const buf *wasm, int kind, const engine_run_config *rc)
{
    memset(t, 0, sizeof *t);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (wasm) {
        bytes = wasm->ptr;
        len = wasm->len;
    } else {
        assert_int_equal(base_read_file(wasm_path, &bytes, &len), ST_OK);
    }
    engine_config cfg;
    engine_config_default(&cfg);
    assert_int_equal(engine_module_load(&cfg, span_of(bytes, len), &t->m, NULL), ST_OK);
    if (!wasm)
        base_free(bytes);
    assert_int_equal(engine_code_compile(t->m, &t->code), ST_OK);
    bool compiled = kind != INTERP;
    if (compiled) {
        engine_native_config ncfg;
        if (kind == QUICK)
            engine_native_config_quick(&ncfg);
        else
            engine_native_config_default(&ncfg);
        char why[256];
        status st = engine_native_compile(t->code, &ncfg, &t->nat, why, sizeof why);
        if (st != ST_OK)
            fail_msg("the compiled tier needs a C compiler: %s: %s", status_name(st), why);
        assert_int_equal(engine_native_is_quick(t->nat), kind == QUICK);
        engine_code_attach_native(t->code, t->nat);
    }
    static const uint8_t i32 = VT_I32;
    static const functype tick_type = {1, 0, &i32};
    assert_int_equal(engine_host_func_new(&tick_type, tick, NULL, &t->tick), ST_OK);
    engine_extern imp = {.kind = EXT_FUNC, .u.func = t->tick};
    uint32_t nimp = t->m->nimports ? 1 : 0;
    assert_int_equal(engine_instance_new(t->code, rc, &imp, nimp, NULL, &t->inst, NULL), ST_OK);
    assert_int_equal(engine_instance_compiled(t->inst), compiled);
}

static void tier_new(tier *t, int kind, const engine_run_config *rc)
{
    tier_new_of(t, NULL, kind, rc);
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
    tier_new(&t, INTERP, &rc);
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
    for (int kind = COMPILED; kind <= QUICK; kind++) {
        tier a, b, c;
        tier_new(&a, INTERP, &rc);
        tier_new(&b, kind, &rc);
        tier_new(&c, kind, &rc);
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
}

#define NAN_PAYLOAD UINT64_C(0xfff8000000000001)
#define ONE UINT64_C(0x3ff0000000000000) /* 1.0 */

static void test_same_traps(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    for (int kind = COMPILED; kind <= QUICK; kind++) {
        tier a, b;
        tier_new(&a, INTERP, &rc);
        tier_new(&b, kind, &rc);
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
}

/* Small call-depth and value-slot limits: both tiers trap at exactly the same n. */
static void test_same_stack_limits(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    for (int which = 0; which < 4; which++) {
        rc.max_call_depth = which & 1 ? 10000 : 50;
        rc.max_value_slots = which & 1 ? 150 : 1u << 20; /* rec: 1 slot per level */
        tier a, b;
        tier_new(&a, INTERP, &rc);
        tier_new(&b, which < 2 ? COMPILED : QUICK, &rc);
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
            if (!(which & 1))
                assert_int_equal(first_trap_a, 50); /* rec(n) needs n + 1 frames */
        }
        tier_free(&a);
        tier_free(&b);
    }
}

/* The node's upgrade: quick code attached, a run paused in it, cc's object attached: the paused
   run finishes in the quick code, the next run starts in cc's, and both end in the
   interpreter's state. */
static void test_upgrade_quick_to_cc(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    tier a, q;
    tier_new(&a, INTERP, &rc);
    tier_new(&q, QUICK, &rc);
    engine_native_config ncfg;
    engine_native_config_default(&ncfg);
    engine_native *cc = NULL;
    char why[256];
    assert_int_equal(engine_native_compile(q.code, &ncfg, &cc, why, sizeof why), ST_OK);
    assert_false(engine_native_is_quick(cc));
    uint64_t arg = 100, ra = 0, rq = 0;
    assert_int_equal(call(&a, "work", &arg, &ra), ST_OK);
    pause_on_tick = true;
    ticks = 0;
    assert_int_equal(engine_instance_invoke_begin(q.inst, export_of(&q, "work").u.func, &arg),
                     ST_OK);
    bool paused = true;
    assert_int_equal(engine_instance_run(q.inst, &paused), ST_OK);
    assert_true(paused);
    assert_ptr_equal(q.inst->nat_of, q.nat);
    engine_code_attach_native(q.code, cc); /* the upgrade, in the middle of the run */
    int pauses = 1;
    while (paused) {
        assert_int_equal(engine_instance_run(q.inst, &paused), ST_OK);
        pauses += paused;
        assert_ptr_equal(q.inst->nat_of, q.nat); /* the run keeps its code */
    }
    engine_instance_results(q.inst, &rq);
    pause_on_tick = false;
    assert_int_equal(pauses, 100);
    assert_int_equal(rq, ra);
    /* the next run: cc's code, same results */
    assert_int_equal(call(&q, "work", &arg, &rq), ST_OK);
    assert_ptr_equal(q.inst->nat_of, cc);
    assert_int_equal(call(&a, "work", &arg, &ra), ST_OK);
    assert_int_equal(rq, ra);
    assert_memory_equal(engine_memory_data(engine_instance_memory(a.inst)),
                        engine_memory_data(engine_instance_memory(q.inst)), 65536);
    assert_int_equal(engine_global_get(export_of(&a, "g").u.global),
                     engine_global_get(export_of(&q, "g").u.global));
    tier_free(&a);
    tier_free(&q); /* frees the quick object: no instance runs it any more */
    engine_native_free(cc);
}

/* ---- deep recursion through long functions and wide frames --------------------------------- */

static void b8(buf *b, uint8_t v)
{
    assert_int_equal(buf_put(b, &v, 1), ST_OK);
}
static void bleb(buf *b, uint32_t v)
{
    do {
        uint8_t x = v & 0x7f;
        v >>= 7;
        b8(b, (uint8_t)(x | (v ? 0x80 : 0)));
    } while (v);
}
static void bsec(buf *m, uint8_t id, buf *s)
{
    b8(m, id);
    bleb(m, (uint32_t)s->len);
    assert_int_equal(buf_put(m, s->ptr, s->len), ST_OK);
    s->len = 0;
}
#define B(b, ...)                                                                                 \
    assert_int_equal(                                                                             \
        buf_put((b), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})),     \
        ST_OK)

/* `if (n == 0) return 0;` */
static void body_base_case(buf *c)
{
    B(c, 0x20, 0, 0x45, 0x04, 0x40, 0x41, 0, 0x0f, 0x0b);
}

/* A module of (i32) -> i32 functions, exported as "f0", "f1", ...: `long` (blocks of loads,
   stores, divisions, float conversions that each declared block-scoped C temporaries, and a
   direct call f0(0), whose result TinyCC kept in a stack slot per call when it was a struct)
   repeated
   `reps` times before it calls itself with n - 1 and adds 1; `wide` with `width` i64 locals
   (a wide frame in every tier), which calls itself and adds its last local (n). */
static void deep_module(buf *m, uint32_t reps, uint32_t width)
{
    buf s = {0}, c = {0}, fn = {0};
    B(m, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
    B(&s, 1, 0x60, 1, 0x7f, 1, 0x7f); /* type 0: (i32) -> i32 */
    bsec(m, 1, &s);
    uint32_t nf = (reps ? 1u : 0u) + (width ? 1u : 0u);
    bleb(&s, nf);
    for (uint32_t i = 0; i < nf; i++)
        b8(&s, 0);
    bsec(m, 3, &s);
    B(&s, 1, 0, 1); /* memory: 1 page */
    bsec(m, 5, &s);
    bleb(&s, nf);
    for (uint32_t i = 0; i < nf; i++)
        B(&s, 2, 'f', (uint8_t)('0' + i), 0, (uint8_t)i);
    bsec(m, 7, &s);
    bleb(&s, nf);
    uint32_t f = 0;
    if (reps) {
        B(&fn, 1, 1, 0x7e); /* one i64 local */
        body_base_case(&fn);
        for (uint32_t r = 0; r < reps; r++) {
            /* mem[8] += n; n / 3; local1 = trunc(1.5 + n) */
            B(&fn, 0x41, 8, 0x41, 8, 0x28, 2, 0, 0x20, 0, 0x6a, 0x36, 2, 0);
            B(&fn, 0x20, 0, 0x41, 3, 0x6e, 0x1a);
            B(&fn, 0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x20, 0, 0xb8, 0xa0, 0xb0, 0x21, 1);
            B(&fn, 0x41, 0, 0x10, (uint8_t)f, 0x1a); /* drop f(0): a direct call */
        }
        B(&fn, 0x20, 0, 0x41, 1, 0x6b, 0x10, (uint8_t)f, 0x41, 1, 0x6a, 0x0b);
        bleb(&c, (uint32_t)fn.len);
        assert_int_equal(buf_put(&c, fn.ptr, fn.len), ST_OK);
        fn.len = 0;
        f++;
    }
    if (width) {
        b8(&fn, 1);
        bleb(&fn, width);
        b8(&fn, 0x7e); /* width i64 locals */
        body_base_case(&fn);
        B(&fn, 0x20, 0, 0xad, 0x21); /* local[width] = (i64)n */
        bleb(&fn, width);
        B(&fn, 0x20, 0, 0x41, 1, 0x6b, 0x10, (uint8_t)f, 0x20);
        bleb(&fn, width);
        B(&fn, 0xa7, 0x6a, 0x0b); /* + (i32)local[width] */
        bleb(&c, (uint32_t)fn.len);
        assert_int_equal(buf_put(&c, fn.ptr, fn.len), ST_OK);
    }
    assert_int_equal(buf_put(&s, c.ptr, c.len), ST_OK);
    bsec(m, 10, &s);
    buf_fini(&s);
    buf_fini(&c);
    buf_fini(&fn);
}

/* With the default limits (10000 calls, 1 Mi slots): a recursion through a function of 600
   blocks reaches exactly 10000 calls in every tier and traps at the next one; a recursion
   through 1500-local frames traps on value slots at the same n in every tier. (TinyCC gave each
   block-scoped temporary its own slot: the long function's frames were tens of KB, and the
   quick code ran out of its stack thousands of calls before the interpreter's limit.) */
static void test_deep_long_and_wide(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_call_depth = 10000;
    rc.max_value_slots = 1u << 20;
    buf wasm = {0};
    deep_module(&wasm, 600, 1500);
    tier t[3];
    for (int k = 0; k < 3; k++)
        tier_new_of(&t[k], &wasm, k, &rc);
    /* the quick frames grow with the locals and operands, not the function's length: 1500
       i64 locals are about 12 KB, and the 600 blocks of f0 add nothing (they used to add about
       40 bytes each) */
    uint32_t frame = engine_native_max_frame(t[QUICK].nat);
    assert_true(frame >= 1500 * 8 && frame < 1500 * 8 + 1024);
    /* the long function alone: 600 blocks and 600 direct calls in a frame under 1 KB (16 bytes
       per call when calls returned a struct: a function of thousands of calls was refused) */
    buf only_long = {0};
    deep_module(&only_long, 600, 0);
    tier q;
    tier_new_of(&q, &only_long, QUICK, &rc);
    assert_true(engine_native_max_frame(q.nat) > 0 && engine_native_max_frame(q.nat) < 1024);
    tier_free(&q);
    buf_fini(&only_long);
    struct {
        const char *f;
        uint64_t n;
        status st;
        uint64_t res;
    } cases[] = {
        {"f0", 9999, ST_OK, 9999},
        {"f0", 10000, ST_TRAP_CALL_STACK_EXHAUSTED, 0},
        {"f0", 50000, ST_TRAP_CALL_STACK_EXHAUSTED, 0},
        {"f0", 9998, ST_OK, 9998},
        {"f1", 500, ST_OK, 500u * 501 / 2},
        {"f1", 5000, ST_TRAP_CALL_STACK_EXHAUSTED, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int k = 0; k < 3; k++) {
            uint64_t r = 0;
            status st = call(&t[k], cases[i].f, &cases[i].n, &r);
            if (st != cases[i].st)
                fail_msg("%s(%llu) in the %s tier: %s", cases[i].f, (unsigned long long)cases[i].n,
                         tier_names[k], status_name(st));
            if (cases[i].st == ST_OK)
                assert_int_equal(r, cases[i].res);
            assert_int_equal(engine_instance_max_depth(t[k].inst),
                             engine_instance_max_depth(t[0].inst));
        }
    /* the wide frames' slot limit: the first n that traps is the same in every tier */
    int first[3] = {-1, -1, -1};
    for (uint64_t n = 600; n < 800; n++)
        for (int k = 0; k < 3; k++) {
            uint64_t r = 0;
            status st = call(&t[k], "f1", &n, &r);
            if (st != ST_OK && first[k] < 0)
                first[k] = (int)n;
            assert_true(st == ST_OK || st == ST_TRAP_CALL_STACK_EXHAUSTED);
            assert_int_equal(engine_instance_max_depth(t[k].inst),
                             engine_instance_max_depth(t[0].inst));
        }
    assert_true(first[0] > 600);
    assert_int_equal(first[1], first[0]);
    assert_int_equal(first[2], first[0]);
    for (int k = 0; k < 3; k++)
        tier_free(&t[k]);
    buf_fini(&wasm);
}

/* The frame rule: a function whose TinyCC frame is past 64 KiB (9000 i64 locals: 72 KB) is
   refused by the quick route (the module runs interpreted or waits for cc), and the
   interpreter runs it. */
static void test_quick_frame_rule(void **state)
{
    (void)state;
    buf wasm = {0};
    deep_module(&wasm, 0, 9000);
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_code *code = NULL;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm.ptr, wasm.len), &m, NULL), ST_OK);
    assert_int_equal(engine_code_compile(m, &code), ST_OK);
    engine_native_config ncfg;
    engine_native_config_quick(&ncfg);
    engine_native *nat = NULL;
    char why[256];
    assert_int_equal(engine_native_compile(code, &ncfg, &nat, why, sizeof why), ST_LIMIT_EXCEEDED);
    assert_null(nat);
    assert_non_null(strstr(why, "frame rule"));
    engine_code_free(code);
    engine_module_free(m);
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    tier t;
    tier_new_of(&t, &wasm, INTERP, &rc);
    uint64_t n = 50, r = 0;
    assert_int_equal(call(&t, "f0", &n, &r), ST_OK);
    assert_int_equal(r, 50u * 51 / 2);
    tier_free(&t);
    buf_fini(&wasm);
}

/* The quick route's compiler runs bounded: under `ulimit -v` (2 GiB), killed with its whole
   process group past the time bound (a stand-in tcc that records its limit, starts a child and
   sleeps), and the compile fails with ST_LIMIT_EXCEEDED: the module stays interpreted. */
static void test_quick_bounds(void **state)
{
    (void)state;
    char dir[] = "/tmp/tally-quick-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tcc[64], lim[64], kid[64];
    snprintf(tcc, sizeof tcc, "%s/tcc", dir);
    snprintf(lim, sizeof lim, "%s/limit", dir);
    snprintf(kid, sizeof kid, "%s/child", dir);
    FILE *fp = fopen(tcc, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\nulimit -v > %s\nsleep 30 &\necho $! > %s\nsleep 30\n", lim, kid);
    fclose(fp);
    assert_int_equal(chmod(tcc, 0755), 0);
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    tier t;
    tier_new(&t, INTERP, &rc);
    engine_native_config ncfg;
    engine_native_config_quick(&ncfg);
    assert_int_equal(ncfg.mem_limit_bytes, (size_t)2 << 30);
    ncfg.cc = tcc;
    ncfg.timeout_ms = 500;
    engine_native *n = NULL;
    char why[256];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(engine_native_compile(t.code, &ncfg, &n, why, sizeof why), ST_LIMIT_EXCEEDED);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(n);
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    char text[64] = "";
    fp = fopen(lim, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    assert_int_equal(strtoull(text, NULL, 10), 2u << 20); /* KiB */
    fp = fopen(kid, "r");
    assert_non_null(fp);
    assert_non_null(fgets(text, sizeof text, fp));
    fclose(fp);
    /* the compiler's own child died with it (gone, or a zombie waiting for its reaper) */
    char stat[64];
    snprintf(stat, sizeof stat, "/proc/%ld/stat", strtol(text, NULL, 10));
    bool dead = false;
    for (int i = 0; i < 100 && !dead; i++) {
        fp = fopen(stat, "r");
        char st_line[256] = "";
        if (fp) {
            if (!fgets(st_line, sizeof st_line, fp))
                st_line[0] = '\0';
            fclose(fp);
        }
        const char *paren = strrchr(st_line, ')');
        dead = !fp || (paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
        if (!dead) {
            struct timespec d = {0, 10000000};
            nanosleep(&d, NULL);
        }
    }
    assert_true(dead);
    unlink(tcc);
    unlink(lim);
    unlink(kid);
    rmdir(dir);
    tier_free(&t);
}

/* How many times s occurs in b. */
static size_t count_in(const buf *b, const char *s)
{
    size_t n = 0, len = strlen(s);
    for (size_t at = 0; at + len <= b->len; at++)
        n += !memcmp(b->ptr + at, s, len);
    return n;
}

/* The metering charge written as one statement (emit.c emit_charge) and its near misses
 * (data/charge.wat): every tier ends each run with the same status, result, globals and count
 * of calls, and the interpreter's are the ones worked out by hand. */
static void test_charge_shapes(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    buf wasm = {0};
    assert_int_equal(base_read_file(charge_path, &wasm.ptr, &wasm.len), ST_OK);
    tier t[3];
    for (int k = 0; k < 3; k++)
        tier_new_of(&t[k], &wasm, k, &rc);
    struct {
        const char *f;
        uint64_t n, c0;
        status st;
        uint64_t res, c, other, hits;
    } cases[] = {
        {"exact", 3, 100, ST_OK, 85, 85, 0, 0},
        {"exact", 3, 12, ST_TRAP_UNREACHABLE, 0, (uint64_t)-3, 0, 0}, /* 7, 2, -3: trap */
        {"exact", 3, 15, ST_OK, 0, 0, 0, 0},                          /* 0 is not below 0 */
        {"nocheck", 4, 10, ST_OK, (uint64_t)-18, (uint64_t)-18, 0, 0},
        {"against1", 3, 11, ST_OK, (uint64_t)-4, (uint64_t)-4, 0, 1}, /* 6, 1, -4 */
        {"le", 3, 10, ST_OK, (uint64_t)-5, (uint64_t)-5, 0, 2},       /* 5, 0, -5 */
        {"counted", 4, 12, ST_OK, (uint64_t)-8, (uint64_t)-8, 0, 2},  /* 7, 2, -3, -8 */
        {"more", 4, 12, ST_OK, (uint64_t)-4, (uint64_t)-4, 0, 2},     /* 7, 2, -3+2, -6+2 */
        {"add", 3, 0, ST_OK, 15, 15, 0, 0},
        {"add", 3, (uint64_t)-100, ST_TRAP_UNREACHABLE, 0, (uint64_t)-95, 0, 0},
        {"elsewhere", 2, 9, ST_OK, 3, 3, 3, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int k = 0; k < 3; k++) {
            uint64_t r = 0, hits = 0;
            assert_int_equal(call(&t[k], "reset", &cases[i].c0, &r), ST_OK);
            status st = call(&t[k], cases[i].f, &cases[i].n, &r);
            if (st != cases[i].st)
                fail_msg("%s(%llu) from %lld in the %s tier: %s", cases[i].f,
                         (unsigned long long)cases[i].n, (long long)cases[i].c0, tier_names[k],
                         status_name(st));
            if (st == ST_OK)
                assert_int_equal(r, cases[i].res);
            assert_int_equal(engine_global_get(export_of(&t[k], "c").u.global), cases[i].c);
            assert_int_equal(engine_global_get(export_of(&t[k], "other").u.global),
                             cases[i].other);
            assert_int_equal(call(&t[k], "hits", NULL, &hits), ST_OK);
            assert_int_equal(hits, cases[i].hits);
        }
    /* the source: the charges of exact, counted (5), nocheck (7) and the near misses of the
       check (5 again) as one statement; two checks as one `if` (exact, counted); the charge of
       elsewhere (3, set into another global) and the add not */
    buf src = {0};
    assert_int_equal(emit_module(t[0].code, 1u << 26, &src), ST_OK);
    assert_int_equal(count_in(&src, "g0 -= 5ull;"), 5);
    assert_int_equal(count_in(&src, "if (__builtin_expect((int64_t)g0 < 0, 0))"), 2);
    assert_non_null(memmem(src.ptr, src.len, "g0 -= 7ull;", 11));
    assert_null(memmem(src.ptr, src.len, "g0 -= 3ull;", 11));
    buf_fini(&src);
    for (int k = 0; k < 3; k++)
        tier_free(&t[k]);
    buf_fini(&wasm);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_native NATIVE.wasm CHARGE.wasm\n");
        return 2;
    }
    wasm_path = argv[1];
    charge_path = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_name_in_source),   cmocka_unit_test(test_same_state_sliced),
        cmocka_unit_test(test_same_traps),          cmocka_unit_test(test_same_stack_limits),
        cmocka_unit_test(test_upgrade_quick_to_cc), cmocka_unit_test(test_deep_long_and_wide),
        cmocka_unit_test(test_quick_frame_rule),    cmocka_unit_test(test_quick_bounds),
        cmocka_unit_test(test_charge_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
