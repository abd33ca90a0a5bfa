/* test_every_opcode.c - every row of engine/opcodes.def has a compile path and a VM handler,
 * and its shape and flags agree with the spec and with what the engine and host-api do:
 *   - for each opcode, the micro-benchmark module of bench/bench_gen.c (the instruction with the
 *     operands it needs, in a loop) is loaded, compiled and run. An opcode the compiler does not
 *     handle fails compilation (ST_BUG_INVARIANT), one without a handler fails the run (a VM op
 *     of a fixed shape without a handler does not even build: engine/vm_ops.inc);
 *   - the shape column agrees with the signature and the memarg flag;
 *   - F_CONST is exactly the constant instructions of spec 3.3.10 (Wasm 2.0), and a global
 *     initialized by each opcode validates (and evaluates) exactly when it is F_CONST;
 *   - F_NO_CANISTER is exactly the list of docs/canisters.md, and host_code_new refuses each
 *     opcode's module exactly when it is F_NO_CANISTER. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bench_gen.h"
#include "host.h"

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

/* The number of operand types before '>' in a signature ("ii>i": 2), and after it. */
static void sig_arity(const char *sig, int *params, int *results)
{
    const char *gt = strchr(sig, '>');
    *params = gt ? (int)(gt - sig) : -1;
    *results = gt ? (int)strlen(gt + 1) : -1;
}

static void t_shapes_agree(void **state)
{
    (void)state;
    int shaped = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        int np, nr;
        sig_arity(oi->sig, &np, &nr);
        bool mem = (oi->flags & F_MEMORY) != 0, ok = true;
        switch (oi->shape) {
        case SH_OWN: ok = !mem; break;
        case SH_LOAD: ok = mem && np == 1 && nr == 1; break;
        case SH_STORE: ok = mem && np == 2 && nr == 0; break;
        case SH_UN:
            ok = oi->imm == IMM_NONE && ((np == 1 && nr == 1) || op == OP_REF_IS_NULL);
            break;
        case SH_CMP: ok = strcmp(oi->sig, "ii>i") == 0; break;
        case SH_BINI:
        case SH_BIN:
            ok = oi->imm == IMM_NONE && np == 2 && nr == 1 && oi->sig[0] == oi->sig[1] &&
                 (oi->shape == SH_BIN || oi->sig[0] == 'i' || oi->sig[0] == 'I');
            break;
        default: ok = false;
        }
        if (!ok)
            fail_msg("%s: shape %d does not fit signature \"%s\" and flags 0x%x", oi->text,
                     (int)oi->shape, oi->sig, oi->flags);
        shaped += oi->shape != SH_OWN;
    }
    /* the fixed shapes cover all of the numeric and memory instructions */
    assert_int_equal(shaped, 160);
    assert_int_equal(engine_opcodes[OP_I32_LT_U].shape, SH_CMP);
    assert_int_equal(engine_opcodes[OP_I64_LT_U].shape, SH_BINI);
    assert_int_equal(engine_opcodes[OP_I32_ROTL].shape, SH_BIN);
}

static bool named(const char *text, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, names[i]) == 0)
            return true;
    return false;
}

/* The opcodes whose flag is set are exactly `names` (each at least once). */
static void flag_is(uint32_t flag, const char *const *names, size_t n)
{
    size_t set = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        bool want = named(oi->text, names, n), has = (oi->flags & flag) != 0;
        if (want != has)
            fail_msg("%s: flag 0x%x is %s", oi->text, flag, has ? "set" : "missing");
        set += has;
    }
    assert_int_equal(set, n);
}

static void t_flags_are_the_spec(void **state)
{
    (void)state;
    /* spec 3.3.10, Wasm 2.0: the constant instructions (extended-const is not in scope,
       docs/features.md) */
    static const char *const consts[] = {"i32.const", "i64.const", "f32.const", "f64.const",
                                         "ref.null",  "ref.func",  "global.get"};
    flag_is(F_CONST, consts, BASE_ARRAY_LEN(consts));
    /* docs/canisters.md: the instructions that change a table or drop a segment */
    static const char *const banned[] = {"table.set",  "table.grow", "table.fill",  "table.copy",
                                         "table.init", "elem.drop",  "memory.init", "data.drop"};
    flag_is(F_NO_CANISTER, banned, BASE_ARRAY_LEN(banned));
}

/* The immediates of each kind: zeros and the smallest valid forms, except for the constants'
 * values checked below (i32/i64.const -1, f32.const NaN bits, f64.const 2^-1074). */
static const struct {
    uint8_t n, b[8];
} imms[] = {
    [IMM_NONE] = {0, {0}},
    [IMM_BLOCKTYPE] = {1, {0x40}},
    [IMM_LABEL] = {1, {0}},
    [IMM_BR_TABLE] = {2, {0, 0}},
    [IMM_FUNC] = {1, {0}},
    [IMM_CALL_INDIRECT] = {2, {0, 0}},
    [IMM_LOCAL] = {1, {0}},
    [IMM_GLOBAL] = {1, {0}},
    [IMM_TABLE] = {1, {0}},
    [IMM_MEM8] = {2, {0, 0}},
    [IMM_MEM16] = {2, {0, 0}},
    [IMM_MEM32] = {2, {0, 0}},
    [IMM_MEM64] = {2, {0, 0}},
    [IMM_MEMIDX] = {1, {0}},
    [IMM_I32] = {1, {0x7f}},
    [IMM_I64] = {1, {0x7f}},
    [IMM_F32] = {4, {0, 0, 0xc0, 0x7f}},
    [IMM_F64] = {8, {1}},
    [IMM_SELECT_T] = {2, {1, 0x7f}},
    [IMM_REFTYPE] = {1, {0x70}},
    [IMM_DATA_MEM] = {2, {0, 0}},
    [IMM_DATA] = {1, {0}},
    [IMM_MEM_MEM] = {2, {0, 0}},
    [IMM_ELEM_TABLE] = {2, {0, 0}},
    [IMM_ELEM] = {1, {0}},
    [IMM_TABLE_TABLE] = {2, {0, 0}},
};

/* A module importing function "m" "f" : [] -> [] and immutable i32 global "m" "g", defining
 * global 1 of type t initialized by instruction op (its immediates from imms), exported as
 * "x". */
static void const_module(opcode op, uint8_t t, buf *b)
{
    static const uint8_t head[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04,
                                   0x01, 0x60, 0x00, 0x00, 0x02, 0x0e, 0x02, 0x01, 'm',  0x01,
                                   'f',  0x00, 0x00, 0x01, 'm',  0x01, 'g',  0x03, 0x7f, 0x00};
    buf e = {0};
    const opcode_info *oi = &engine_opcodes[op];
    uint8_t code = (uint8_t)oi->code;
    buf_put(&e, (uint8_t[]){0x01, t, 0x00}, 3);
    if (oi->prefix)
        buf_put(&e, &oi->prefix, 1);
    buf_put(&e, &code, 1);
    assert_true(oi->imm < BASE_ARRAY_LEN(imms));
    buf_put(&e, imms[oi->imm].b, imms[oi->imm].n);
    if (oi->imm == IMM_BLOCKTYPE) /* the decoder finds the expression's end by nesting */
        buf_put(&e, "\x0b", 1);
    buf_put(&e, "\x0b", 1);
    buf_put(b, head, sizeof head);
    uint8_t sec[2] = {0x06, (uint8_t)e.len};
    buf_put(b, sec, 2);
    buf_put(b, e.ptr, e.len);
    buf_put(b, "\x07\x05\x01\x01x\x03\x01", 7);
    buf_fini(&e);
}

static status no_op(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_OK;
}

/* Each opcode as the initializer of a global: validation refuses exactly the ones without
 * F_CONST (ST_CONST_EXPR_REQUIRED), and instantiation evaluates the others through the table. */
static void t_const_exprs_follow_the_flag(void **state)
{
    (void)state;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_run_config rc;
    engine_run_config_default(&cfg, &rc);
    engine_func *f = NULL;
    engine_global *g = NULL;
    assert_int_equal(engine_host_func_new(&(functype){0, 0, NULL}, no_op, NULL, &f), ST_OK);
    assert_int_equal(engine_global_new((globaltype){VT_I32, false}, 1234, &g), ST_OK);
    engine_extern imports[2] = {{EXT_FUNC, {.func = f}}, {EXT_GLOBAL, {.global = g}}};
    int evaluated = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        if (op == OP_END)
            continue; /* the terminator: an empty expression, a type error */
        bool is_const = (oi->flags & F_CONST) != 0;
        uint8_t t = VT_I32;
        uint64_t want = 1234; /* global.get 0 */
        switch (op) {
        case OP_I32_CONST: want = UINT32_MAX; break;
        case OP_I64_CONST: t = VT_I64, want = UINT64_MAX; break;
        case OP_F32_CONST: t = VT_F32, want = 0x7fc00000u; break;
        case OP_F64_CONST: t = VT_F64, want = 1; break;
        case OP_REF_NULL: t = VT_FUNCREF, want = 0; break;
        case OP_REF_FUNC: t = VT_FUNCREF, want = (uint64_t)(uintptr_t)f; break;
        default: break;
        }
        buf b = {0};
        const_module((opcode)op, t, &b);
        engine_module *m = NULL;
        status st = engine_module_load(&cfg, span_of(b.ptr, b.len), &m, NULL);
        buf_fini(&b);
        if (!is_const) {
            /* the decoder refuses memory.init and data.drop before any data count section */
            bool early =
                (op == OP_MEMORY_INIT || op == OP_DATA_DROP) && st == ST_DATA_COUNT_REQUIRED;
            if (st != ST_CONST_EXPR_REQUIRED && !early)
                fail_msg("%s in a constant expression: %s", oi->text, status_name(st));
            engine_module_free(m);
            continue;
        }
        if (st != ST_OK)
            fail_msg("%s in a constant expression: %s", oi->text, status_name(st));
        engine_code *code = NULL;
        engine_instance *inst = NULL;
        assert_int_equal(engine_code_compile(m, &code), ST_OK);
        assert_int_equal(engine_instance_new(code, &rc, imports, 2, NULL, &inst, NULL), ST_OK);
        if (engine_global_get(engine_instance_global(inst, 1)) != want)
            fail_msg("%s evaluates to 0x%llx", oi->text,
                     (unsigned long long)engine_global_get(engine_instance_global(inst, 1)));
        evaluated++;
        engine_instance_free(inst);
        engine_code_free(code);
        engine_module_free(m);
    }
    assert_int_equal(evaluated, 7);
    engine_global_free(g);
    engine_host_func_free(f);
}

/* Each opcode's benchmark module deployed as canister code: refused (UNSUPPORTED_FEATURE, the
 * detail naming the instruction) exactly when the opcode is F_NO_CANISTER. */
static void t_canister_ban_follows_the_flag(void **state)
{
    (void)state;
    host_config cfg;
    host_config_default(&cfg);
    int refused = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        buf b = {0};
        assert_int_equal(bench_gen_module((opcode)op, 1, 2, 1, &b), ST_OK);
        host_code *code = NULL;
        engine_error err;
        memset(&err, 0, sizeof err);
        status st = host_code_new(&cfg, span_of(b.ptr, b.len), &code, &err);
        buf_fini(&b);
        host_code_free(code);
        if (oi->flags & F_NO_CANISTER) {
            if (st != ST_UNSUPPORTED_FEATURE || !strstr(err.detail, oi->text))
                fail_msg("%s deployed: %s (%s)", oi->text, status_name(st), err.detail);
            refused++;
        } else if (st != ST_OK) {
            fail_msg("%s refused: %s (%s)", oi->text, status_name(st), err.detail);
        }
    }
    assert_int_equal(refused, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_every_opcode),
        cmocka_unit_test(t_shapes_agree),
        cmocka_unit_test(t_flags_are_the_spec),
        cmocka_unit_test(t_const_exprs_follow_the_flag),
        cmocka_unit_test(t_canister_ban_follows_the_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
