/* test_meter.c - the VM's metering fast path (engine/compile.c "metering", engine/vm.c) against
 * its plain form. A module is instrumented (instrument_module, schedule v1), then compiled two
 * ways: as is, where the counter becomes the VM's register global and charges ride on branches
 * and calls (CHARGE, CHARGE_CHECK, the _T/_M/_TC/_MC branch forms, BR_TABLE_T, CALL_M), and
 * with a `nop` put before the first function's first instruction, which stops the compiler from
 * choosing a register global (the instrumented code then runs through GLOBAL_ADD64 and
 * BR_GLOBAL_*, memory-resident). A nop is charged by nobody (the instrumentation is already in
 * the binary), so both must give identical results for EVERY budget: the same status (done, or
 * INSTRUCTION_LIMIT_EXCEEDED at the same check), the same counter afterwards, the same result,
 * and the same counter values seen by a host function during the run (the register is written
 * back before host calls). The program has loops, if/else, br_table, br_if out of blocks,
 * direct and indirect calls, recursion, memory.fill (charged through the instrumenter's helper,
 * which reads and writes the counter as a plain global) and host calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "instrument.h"

/* m.wasm, made with wat2wasm from:
 *   (module
 *     (import "env" "probe" (func $probe (param i32)))
 *     (type $un (func (param i32) (result i32)))
 *     (memory 1)
 *     (table 2 funcref)
 *     (elem (i32.const 0) $dbl $sq)
 *     (func $dbl (type $un) (i32.add (local.get 0) (local.get 0)))
 *     (func $sq (type $un) (i32.mul (local.get 0) (local.get 0)))
 *     (func $fib (param i32) (result i32)
 *       (if (result i32) (i32.lt_s (local.get 0) (i32.const 2))
 *         (then (local.get 0))
 *         (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
 *                        (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
 *     (func (export "run") (param $n i32) (result i32)
 *       (local $i i32) (local $s i32)
 *       (block $skip
 *         (br_if $skip (i32.eqz (local.get $n)))
 *         (loop $l
 *           (block $b2 (block $b1 (block $b0
 *             (br_table $b0 $b1 $b2 (i32.rem_u (local.get $i) (i32.const 3))))
 *             (local.set $s (i32.add (local.get $s) (call $fib (i32.const 5))))
 *             (br $b2))
 *             (local.set $s (i32.add (local.get $s)
 *               (call_indirect (type $un) (local.get $i) (i32.and (local.get $i) (i32.const 1))))))
 *           (if (i32.and (local.get $i) (i32.const 4))
 *             (then (call $probe (local.get $i))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *           (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
 *       (memory.fill (i32.const 16) (i32.const 7) (local.get $n))
 *       (loop $w
 *         (local.set $s (i32.xor (local.get $s) (i32.load8_u (local.get $n))))
 *         (br_if $w (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
 *       (local.get $s)))
 */
static const uint8_t wasm_m[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x01, 0x7f, 0x00, 0x02, 0x0d, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x05, 0x70, 0x72, 0x6f, 0x62,
    0x65, 0x00, 0x01, 0x03, 0x05, 0x04, 0x00, 0x00, 0x00, 0x00, 0x04, 0x04, 0x01, 0x70, 0x00, 0x02,
    0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x07, 0x01, 0x03, 0x72, 0x75, 0x6e, 0x00, 0x04, 0x09, 0x08,
    0x01, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x01, 0x02, 0x0a, 0xa6, 0x01, 0x04, 0x07, 0x00, 0x20, 0x00,
    0x20, 0x00, 0x6a, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x00, 0x6c, 0x0b, 0x1c, 0x00, 0x20, 0x00,
    0x41, 0x02, 0x48, 0x04, 0x7f, 0x20, 0x00, 0x05, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x03, 0x20,
    0x00, 0x41, 0x02, 0x6b, 0x10, 0x03, 0x6a, 0x0b, 0x0b, 0x77, 0x01, 0x02, 0x7f, 0x02, 0x40, 0x20,
    0x00, 0x45, 0x0d, 0x00, 0x03, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x20, 0x01, 0x41, 0x03,
    0x70, 0x0e, 0x02, 0x00, 0x01, 0x02, 0x0b, 0x20, 0x02, 0x41, 0x05, 0x10, 0x03, 0x6a, 0x21, 0x02,
    0x0c, 0x01, 0x0b, 0x20, 0x02, 0x20, 0x01, 0x20, 0x01, 0x41, 0x01, 0x71, 0x11, 0x00, 0x00, 0x6a,
    0x21, 0x02, 0x0b, 0x20, 0x01, 0x41, 0x04, 0x71, 0x04, 0x40, 0x20, 0x01, 0x10, 0x00, 0x0b, 0x20,
    0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x20, 0x01, 0x20, 0x00, 0x49, 0x0d, 0x00, 0x0b, 0x0b, 0x41,
    0x10, 0x41, 0x07, 0x20, 0x00, 0xfc, 0x0b, 0x00, 0x03, 0x40, 0x20, 0x02, 0x20, 0x00, 0x2d, 0x00,
    0x00, 0x73, 0x21, 0x02, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b, 0x20, 0x02,
    0x0b,
};

enum { MAX_LOG = 64 };

typedef struct run_out {
    status st;
    uint64_t counter; /* after the call */
    uint64_t result;
    uint32_t nlog;
    uint64_t log[MAX_LOG]; /* counter value, argument: at each probe call */
} run_out;

typedef struct probe_ctx {
    engine_global *counter;
    run_out *out;
} probe_ctx;

static status probe(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst;
    probe_ctx *p = user;
    if (p->out->nlog + 2 <= MAX_LOG) {
        p->out->log[p->out->nlog++] = engine_global_get(p->counter);
        p->out->log[p->out->nlog++] = slots[0];
    }
    return ST_OK;
}

static status out_of_instructions(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst, (void)user, (void)slots;
    return ST_INSTRUCTION_LIMIT_EXCEEDED;
}

/* A compiled instrumented module and the host functions it imports. */
typedef struct meter_mod {
    engine_module *m;
    engine_code *code;
    engine_func *ooi, *probe;
    probe_ctx ctx;
} meter_mod;

static void mod_init(meter_mod *mm, span wasm)
{
    static const uint8_t i32[1] = {VT_I32};
    static const functype void_t = {0, 0, NULL}, probe_t = {1, 0, i32};
    engine_config cfg;
    engine_config_default(&cfg);
    memset(mm, 0, sizeof *mm);
    assert_int_equal(engine_module_load(&cfg, wasm, &mm->m, NULL), ST_OK);
    assert_int_equal(engine_code_compile(mm->m, &mm->code), ST_OK);
    assert_int_equal(engine_host_func_new(&void_t, out_of_instructions, NULL, &mm->ooi), ST_OK);
    assert_int_equal(engine_host_func_new(&probe_t, probe, &mm->ctx, &mm->probe), ST_OK);
}

static void mod_fini(meter_mod *mm)
{
    engine_host_func_free(mm->probe);
    engine_host_func_free(mm->ooi);
    engine_code_free(mm->code);
    engine_module_free(mm->m);
}

/* Instantiates mm, sets the counter to budget, calls run(n). */
static void mod_run(meter_mod *mm, uint64_t budget, uint32_t n, run_out *out)
{
    memset(out, 0, sizeof *out);
    engine_extern imps[2];
    for (uint32_t i = 0; i < 2; i++) {
        imps[i].kind = EXT_FUNC;
        imps[i].u.func = span_eq_str(mm->m->imports[i].name, "probe") ? mm->probe : mm->ooi;
    }
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    engine_instance *inst = NULL;
    assert_int_equal(engine_instance_new(mm->code, &rc, imps, 2, NULL, &inst, NULL), ST_OK);
    engine_extern ctr, run;
    assert_int_equal(engine_instance_export(inst, span_of("__tally_counter", 15), &ctr), ST_OK);
    assert_int_equal(engine_instance_export(inst, span_of("run", 3), &run), ST_OK);
    mm->ctx = (probe_ctx){ctr.u.global, out};
    engine_global_set(ctr.u.global, budget);
    uint64_t arg = n, res = 0;
    out->st = engine_instance_invoke(inst, run.u.func, &arg, &res);
    out->counter = engine_global_get(ctr.u.global);
    out->result = out->st == ST_OK ? res : 0;
    engine_instance_free(inst);
}

/* The instrumented binary with a nop before the first defined function's first instruction. */
static void with_nop(span wasm, buf *out)
{
    reader r = reader_of(wasm);
    r.pos += 8;
    assert_int_equal(buf_put(out, wasm.ptr, 8), ST_OK);
    while (reader_left(&r)) {
        uint8_t id;
        uint32_t size, count;
        assert_int_equal(reader_u8(&r, &id), ST_OK);
        assert_int_equal(reader_u32(&r, &size), ST_OK);
        reader sec = reader_of(span_of(r.pos, size));
        r.pos += size;
        if (id != 10) {
            assert_int_equal(writer_section(out, id, span_of(sec.pos, size)), ST_OK);
            continue;
        }
        buf code = {0};
        assert_int_equal(reader_u32(&sec, &count), ST_OK);
        assert_int_equal(buf_leb_u32(&code, count), ST_OK);
        for (uint32_t i = 0; i < count; i++) {
            uint32_t len;
            assert_int_equal(reader_u32(&sec, &len), ST_OK);
            const uint8_t *body = sec.pos;
            sec.pos += len;
            if (i > 0) {
                assert_int_equal(buf_leb_u32(&code, len), ST_OK);
                assert_int_equal(buf_put(&code, body, len), ST_OK);
                continue;
            }
            /* locals: vec(count, type); then the instructions */
            reader b = reader_of(span_of(body, len));
            uint32_t ngroups, k;
            uint8_t t;
            assert_int_equal(reader_u32(&b, &ngroups), ST_OK);
            for (uint32_t g = 0; g < ngroups; g++) {
                assert_int_equal(reader_u32(&b, &k), ST_OK);
                assert_int_equal(reader_u8(&b, &t), ST_OK);
            }
            size_t head = (size_t)(b.pos - body);
            assert_int_equal(buf_leb_u32(&code, len + 1), ST_OK);
            assert_int_equal(buf_put(&code, body, head), ST_OK);
            assert_int_equal(buf_u8(&code, 0x01), ST_OK); /* nop */
            assert_int_equal(buf_put(&code, body + head, len - head), ST_OK);
        }
        assert_int_equal(writer_section(out, 10, span_of(code.ptr, code.len)), ST_OK);
        buf_fini(&code);
    }
}

static void assert_same(const run_out *a, const run_out *b, uint64_t budget)
{
    if (a->st != b->st || a->counter != b->counter || a->result != b->result ||
        a->nlog != b->nlog || memcmp(a->log, b->log, a->nlog * sizeof a->log[0]))
        fail_msg("budget %llu: fast path st=%d counter=%lld result=%llu log=%u, plain path "
                 "st=%d counter=%lld result=%llu log=%u",
                 (unsigned long long)budget, (int)a->st, (long long)a->counter,
                 (unsigned long long)a->result, a->nlog, (int)b->st, (long long)b->counter,
                 (unsigned long long)b->result, b->nlog);
}

static void test_every_budget(void **state)
{
    (void)state;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *orig = NULL;
    buf inst = {0}, plain = {0};
    assert_int_equal(engine_module_load(&cfg, span_of(wasm_m, sizeof wasm_m), &orig, NULL), ST_OK);
    assert_int_equal(instrument_module(orig, ENGINE_SCHEDULE_V1, &inst, NULL), ST_OK);
    with_nop(span_of(inst.ptr, inst.len), &plain);
    meter_mod fast, slow;
    mod_init(&fast, span_of(inst.ptr, inst.len));
    mod_init(&slow, span_of(plain.ptr, plain.len));
    run_out a, b;
    const uint64_t big = UINT64_C(1) << 40;
    mod_run(&fast, big, 12, &a);
    mod_run(&slow, big, 12, &b);
    assert_same(&a, &b, big);
    assert_int_equal(a.st, ST_OK);
    uint64_t used = big - a.counter;
    assert_true(used > 200 && a.nlog > 0);
    uint32_t traps = 0;
    for (uint64_t budget = 0; budget <= used + 5; budget++) {
        mod_run(&fast, budget, 12, &a);
        mod_run(&slow, budget, 12, &b);
        assert_same(&a, &b, budget);
        if (a.st == ST_INSTRUCTION_LIMIT_EXCEEDED)
            traps++;
        else
            assert_int_equal(a.st, ST_OK);
    }
    assert_true(traps > 100); /* the checks did stop most of the short budgets */
    mod_fini(&slow);
    mod_fini(&fast);
    buf_fini(&plain);
    buf_fini(&inst);
    engine_module_free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
