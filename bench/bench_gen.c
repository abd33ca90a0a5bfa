/* bench_gen.c - builds the micro-benchmark modules of `tally bench weights` with the Wasm binary
 * writer (instrument/instrument.h): one module per opcode in the shape of the Internet
 * Computer's `wasm_instructions` benchmark (the IC spec section 5), the empty-loop
 * baseline, and the host-call canisters. This file only writes bytes; timing and statistics are
 * in bench_weights.c.
 *
 * Module layout (opcode benchmarks):
 *   types     0: [] -> []
 *   functions 0: run (exported "run"), 1: an empty function (call, call_indirect, ref.func),
 *             2: a function whose body is `return` (return)
 *   table     funcref, min 4, no maximum; active element segment 0 puts function 1 at 0 and 1;
 *             passive element segment 1 holds function 1 (table.init, elem.drop)
 *   memory    min 2 pages, no maximum; passive data segment 0 of 64 bytes (memory.init)
 *   globals   mutable black-box operands (x, y per type, address 16, one, zero, size) and sinks
 * `run` copies the operands into locals, loops, and writes its result locals to the sinks, so no
 * engine could prove a snippet dead (tally's interpreter would not try, but a JIT would). */
#include "bench_gen.h"
#include "instrument.h"

#include <string.h>

/* Locals of `run`; the first L_NGLOBAL_IN are loaded from the globals of the same index. */
enum {
    L_XI,
    L_YI,
    L_XL,
    L_YL,
    L_XF,
    L_YF,
    L_XD,
    L_YD,
    L_ADDR,
    L_ONE,
    L_ZERO,
    L_SIZE,
    L_NGLOBAL_IN,
    L_I = L_NGLOBAL_IN,
    L_RI,
    L_RL,
    L_RF,
    L_RD,
    L_FREF,
    L_RI2,
    L_COUNT
};
/* Sink globals follow the operand globals. */
enum { G_SI = L_NGLOBAL_IN, G_SL, G_SF, G_SD, G_COUNT };

static const uint8_t local_types[L_COUNT] = {
    VT_I32, VT_I32, VT_I64, VT_I64, VT_F32, VT_F32, VT_F64, VT_F64,     VT_I32, VT_I32,
    VT_I32, VT_I32, VT_I32, VT_I32, VT_I64, VT_F32, VT_F64, VT_FUNCREF, VT_I32,
};

/* Operand values, as in the IC's benchmark: x = 1000000007, y = 1337, address 16. */
enum { X_VAL = 1000000007, Y_VAL = 1337, ADDR_VAL = 16 };

/* A writer with a sticky status: after a failure every call does nothing. */
typedef struct em {
    buf *b;
    status st;
} em;

static void e8(em *e, uint8_t v)
{
    if (e->st == ST_OK)
        e->st = buf_u8(e->b, v);
}
static void eu32(em *e, uint32_t v)
{
    if (e->st == ST_OK)
        e->st = buf_leb_u32(e->b, v);
}
static void es32(em *e, int32_t v)
{
    if (e->st == ST_OK)
        e->st = buf_leb_s32(e->b, v);
}
static void es64(em *e, int64_t v)
{
    if (e->st == ST_OK)
        e->st = buf_leb_s64(e->b, v);
}
static void eraw(em *e, const void *p, size_t n)
{
    if (e->st == ST_OK)
        e->st = buf_put(e->b, p, n);
}
static void ename(em *e, const char *s)
{
    if (e->st == ST_OK)
        e->st = writer_name(e->b, span_of(s, strlen(s)));
}
/* Writes section `id` from the bytes of *content and empties it. */
static void esection(em *e, uint8_t id, buf *content, status cst)
{
    if (e->st == ST_OK)
        e->st = cst;
    if (e->st == ST_OK)
        e->st = writer_section(e->b, id, span_of(content->ptr, content->len));
    buf_fini(content);
    *content = (buf){0};
}

static void eop(em *e, opcode op)
{
    const opcode_info *oi = &engine_opcodes[op];
    if (oi->prefix) {
        e8(e, oi->prefix);
        eu32(e, oi->code);
    } else {
        e8(e, (uint8_t)oi->code);
    }
}
static void get(em *e, uint32_t l)
{
    e8(e, 0x20);
    eu32(e, l);
}
static void set(em *e, uint32_t l)
{
    e8(e, 0x21);
    eu32(e, l);
}

/* ---- plans ---------------------------------------------------------------------------------- */

void bench_gen_plan(opcode op, bench_plan *out)
{
    *out = (bench_plan){.kind = BENCH_PLAIN};
    switch (op) {
    case OP_UNREACHABLE:
        *out =
            (bench_plan){.kind = BENCH_TRAP, .reason = "`run` = unreachable, minus `run` = empty"};
        break;
    case OP_RETURN:
        *out = (bench_plan){.kind = BENCH_MINUS,
                            .minus = OP_CALL,
                            .reason = "call of a function leaving by return, minus call"};
        break;
    case OP_END: out->reason = "block end: the end of a block compiles to nothing"; break;
    case OP_ELSE:
        *out = (bench_plan){
            .kind = BENCH_MINUS, .minus = OP_IF, .reason = "if-else-end minus if-end"};
        break;
    case OP_MEMORY_GROW:
        *out = (bench_plan){.kind = BENCH_PLAIN,
                            .iters = 300,
                            .repeat = 1,
                            .reason = "grows by 1 page each time (300 pages; per page: below)"};
        break;
    case OP_TABLE_GROW:
        *out = (bench_plan){.kind = BENCH_PLAIN,
                            .iters = 2000,
                            .repeat = 1,
                            .reason = "grows by 1 element each time"};
        break;
    case OP_NOP: out->reason = "the compiler emits nothing for nop"; break;
    case OP_LOCAL_GET: out->reason = "local.get x; local.set r (one move)"; break;
    case OP_LOCAL_SET: out->reason = "i32.const; local.set r (one move)"; break;
    case OP_LOCAL_TEE: out->reason = "local.get x; local.tee r; drop (one move)"; break;
    case OP_CALL:
        out->reason = "calls an empty function (its entry, charged 1, included)";
        out->extra = 1;
        break;
    case OP_CALL_INDIRECT:
        out->reason = "calls an empty function through the table (entry included)";
        out->extra = 1;
        break;
    case OP_MEMORY_FILL:
    case OP_MEMORY_COPY:
    case OP_MEMORY_INIT:
        out->reason = "16 bytes, charged 16 more (per-byte cost: see the bulk table)";
        out->extra = 16;
        break;
    case OP_TABLE_FILL:
    case OP_TABLE_COPY:
    case OP_TABLE_INIT:
        out->reason = "1 element, charged 1 more";
        out->extra = 1;
        break;
    default: break;
    }
}

/* ---- snippets --------------------------------------------------------------------------------- */

static void type_locals(char t, uint32_t *x, uint32_t *y, uint32_t *r)
{
    switch (t) {
    case 'I': *x = L_XL, *y = L_YL, *r = L_RL; break;
    case 'f': *x = L_XF, *y = L_YF, *r = L_RF; break;
    case 'F': *x = L_XD, *y = L_YD, *r = L_RD; break;
    default: *x = L_XI, *y = L_YI, *r = L_RI; break;
    }
}

/* The immediates of op as the generic snippet uses them. */
static void imm_generic(em *e, opcode op)
{
    switch (engine_opcodes[op].imm) {
    case IMM_MEM8:
        e8(e, 0);
        e8(e, 0);
        break;
    case IMM_MEM16:
        e8(e, 1);
        e8(e, 0);
        break;
    case IMM_MEM32:
        e8(e, 2);
        e8(e, 0);
        break;
    case IMM_MEM64:
        e8(e, 3);
        e8(e, 0);
        break;
    case IMM_MEMIDX: e8(e, 0); break;
    case IMM_I32: es32(e, X_VAL); break;
    case IMM_I64: es64(e, X_VAL); break;
    case IMM_F32: {
        float f = (float)X_VAL;
        uint8_t raw[4];
        memcpy(raw, &f, 4); /* little-endian hosts only, like the rest of tally */
        eraw(e, raw, 4);
        break;
    }
    case IMM_F64: {
        double d = (double)X_VAL;
        uint8_t raw[8];
        memcpy(raw, &d, 8);
        eraw(e, raw, 8);
        break;
    }
    case IMM_TABLE:
    case IMM_DATA: e8(e, 0); break;
    case IMM_ELEM: e8(e, 1); break;
    default: break;
    }
}

/* Snippet of an opcode with a fixed signature ("ii>i"): operands from the x/y locals of their
 * type (a memory access takes the address local), the result into the r local of its type. */
static void snippet_generic(em *e, opcode op)
{
    const opcode_info *oi = &engine_opcodes[op];
    const char *sig = oi->sig;
    char seen = 0;
    for (size_t i = 0; sig[i] && sig[i] != '>'; i++) {
        uint32_t x, y, r;
        type_locals(sig[i], &x, &y, &r);
        if (i == 0 && (oi->flags & F_MEMORY))
            get(e, L_ADDR);
        else
            get(e, seen == sig[i] ? y : x);
        seen = sig[i];
    }
    eop(e, op);
    imm_generic(e, op);
    const char *res = strchr(sig, '>');
    if (res && res[1]) {
        uint32_t x, y, r;
        type_locals(res[1], &x, &y, &r);
        set(e, r);
    }
}

/* Snippets of the control, variable, reference, table and bulk instructions. */
static void snippet_special(em *e, opcode op)
{
    switch (op) {
    case OP_NOP: eop(e, op); break;
    case OP_BLOCK:
    case OP_LOOP:
    case OP_END:
        eop(e, op == OP_END ? OP_BLOCK : op);
        e8(e, 0x40);
        eop(e, OP_END);
        break;
    case OP_IF:
        get(e, L_ONE);
        eop(e, op);
        e8(e, 0x40);
        eop(e, OP_END);
        break;
    case OP_ELSE:
        get(e, L_ONE);
        eop(e, OP_IF);
        e8(e, 0x40);
        eop(e, OP_ELSE);
        eop(e, OP_END);
        break;
    case OP_BR:
        eop(e, OP_BLOCK);
        e8(e, 0x40);
        eop(e, op);
        e8(e, 0);
        eop(e, OP_END);
        break;
    case OP_BR_IF:
        eop(e, OP_BLOCK);
        e8(e, 0x40);
        get(e, L_ONE);
        eop(e, op);
        e8(e, 0);
        eop(e, OP_END);
        break;
    case OP_BR_TABLE:
        eop(e, OP_BLOCK);
        e8(e, 0x40);
        get(e, L_ONE);
        eop(e, op);
        e8(e, 1);
        e8(e, 0);
        e8(e, 0); /* targets [0], default 0 */
        eop(e, OP_END);
        break;
    case OP_CALL:
        eop(e, op);
        e8(e, 1);
        break;
    case OP_RETURN:
        eop(e, OP_CALL);
        e8(e, 2);
        break;
    case OP_CALL_INDIRECT:
        get(e, L_ZERO);
        eop(e, op);
        e8(e, 0);
        e8(e, 0);
        break;
    case OP_DROP:
        get(e, L_XI);
        eop(e, op);
        break;
    case OP_SELECT:
    case OP_SELECT_T:
        get(e, L_XI);
        get(e, L_YI);
        get(e, L_ONE);
        eop(e, op);
        if (op == OP_SELECT_T) {
            e8(e, 1);
            e8(e, VT_I32);
        }
        set(e, L_RI);
        break;
    case OP_LOCAL_GET:
        get(e, L_XI);
        set(e, L_RI);
        break;
    case OP_LOCAL_SET:
        e8(e, 0x41);
        es32(e, Y_VAL);
        set(e, L_RI);
        break;
    case OP_LOCAL_TEE:
        get(e, L_XI);
        eop(e, op);
        eu32(e, L_RI);
        eop(e, OP_DROP);
        break;
    case OP_GLOBAL_GET:
        eop(e, op);
        e8(e, L_XI);
        set(e, L_RI);
        break;
    case OP_GLOBAL_SET:
        get(e, L_XI);
        eop(e, op);
        e8(e, G_SI);
        break;
    case OP_TABLE_GET:
        get(e, L_ZERO);
        eop(e, op);
        e8(e, 0);
        set(e, L_FREF);
        break;
    case OP_TABLE_SET:
        get(e, L_ZERO);
        get(e, L_FREF);
        eop(e, op);
        e8(e, 0);
        break;
    case OP_REF_NULL:
        eop(e, op);
        e8(e, VT_FUNCREF);
        set(e, L_FREF);
        break;
    case OP_REF_IS_NULL:
        get(e, L_FREF);
        eop(e, op);
        set(e, L_RI);
        break;
    case OP_REF_FUNC:
        eop(e, op);
        e8(e, 1);
        set(e, L_FREF);
        break;
    case OP_TABLE_GROW:
        get(e, L_FREF);
        get(e, L_ONE);
        eop(e, op);
        e8(e, 0);
        set(e, L_RI);
        break;
    case OP_TABLE_FILL:
        get(e, L_ZERO);
        get(e, L_FREF);
        get(e, L_ONE);
        eop(e, op);
        e8(e, 0);
        break;
    case OP_TABLE_COPY:
        get(e, L_ONE);
        get(e, L_ZERO);
        get(e, L_ONE);
        eop(e, op);
        e8(e, 0);
        e8(e, 0);
        break;
    case OP_TABLE_INIT:
        get(e, L_ZERO);
        get(e, L_ZERO);
        get(e, L_ONE);
        eop(e, op);
        e8(e, 1);
        e8(e, 0);
        break;
    case OP_MEMORY_INIT:
        get(e, L_ADDR);
        get(e, L_ZERO);
        get(e, L_SIZE);
        eop(e, op);
        e8(e, 0);
        e8(e, 0);
        break;
    case OP_MEMORY_COPY:
        get(e, L_ADDR);
        get(e, L_ZERO);
        get(e, L_SIZE);
        eop(e, op);
        e8(e, 0);
        e8(e, 0);
        break;
    case OP_MEMORY_FILL:
        get(e, L_ADDR);
        get(e, L_XI);
        get(e, L_SIZE);
        eop(e, op);
        e8(e, 0);
        break;
    case OP_MEMORY_GROW:
        get(e, L_SIZE);
        eop(e, op);
        e8(e, 0);
        set(e, L_RI);
        break;
    default: snippet_generic(e, op); break;
    }
}

/* ---- the opcode module ------------------------------------------------------------------------ */

static void section_types(em *e)
{
    buf s = {0};
    functype ft = {0, 0, NULL};
    status st = buf_leb_u32(&s, 1);
    if (st == ST_OK)
        st = writer_functype(&s, &ft);
    esection(e, 1, &s, st);
}

/* Function, table, memory sections. */
static void section_decls(em *e)
{
    static const uint8_t funcs[] = {3, 0, 0, 0};
    static const uint8_t table[] = {1, VT_FUNCREF, 0x00, 4};
    static const uint8_t mem[] = {1, 0x00, 2};
    e8(e, 3);
    eu32(e, sizeof funcs);
    eraw(e, funcs, sizeof funcs);
    e8(e, 4);
    eu32(e, sizeof table);
    eraw(e, table, sizeof table);
    e8(e, 5);
    eu32(e, sizeof mem);
    eraw(e, mem, sizeof mem);
}

static void const_init(buf *s, status *st, uint8_t type, int64_t v)
{
    if (*st != ST_OK)
        return;
    switch (type) {
    case VT_I32:
        *st = buf_u8(s, 0x41);
        if (*st == ST_OK)
            *st = buf_leb_s32(s, (int32_t)v);
        break;
    case VT_I64:
        *st = buf_u8(s, 0x42);
        if (*st == ST_OK)
            *st = buf_leb_s64(s, v);
        break;
    case VT_F32: {
        float f = (float)v;
        *st = buf_u8(s, 0x43);
        if (*st == ST_OK)
            *st = buf_put(s, &f, 4);
        break;
    }
    default: {
        double d = (double)v;
        *st = buf_u8(s, 0x44);
        if (*st == ST_OK)
            *st = buf_put(s, &d, 8);
        break;
    }
    }
    if (*st == ST_OK)
        *st = buf_u8(s, 0x0B);
}

static void section_globals(em *e, uint32_t size)
{
    static const int64_t vals[L_NGLOBAL_IN] = {X_VAL, Y_VAL, X_VAL,    Y_VAL, X_VAL, Y_VAL,
                                               X_VAL, Y_VAL, ADDR_VAL, 1,     0,     0};
    static const uint8_t sink_types[G_COUNT - G_SI] = {VT_I32, VT_I64, VT_F32, VT_F64};
    buf s = {0};
    status st = buf_leb_u32(&s, G_COUNT);
    for (uint32_t g = 0; g < G_COUNT && st == ST_OK; g++) {
        uint8_t t = g < G_SI ? local_types[g] : sink_types[g - G_SI];
        st = buf_u8(&s, t);
        if (st == ST_OK)
            st = buf_u8(&s, 1); /* mutable */
        const_init(&s, &st, t, g == L_SIZE ? (int64_t)size : g < G_SI ? vals[g] : 0);
    }
    esection(e, 6, &s, st);
}

static void section_exports_elems(em *e)
{
    /* export "run" func 0 */
    static const uint8_t exports[] = {1, 3, 'r', 'u', 'n', 0x00, 0};
    /* seg 0: active, table 0, offset i32.const 0, funcs [1, 1]; seg 1: passive funcref [1] */
    static const uint8_t elems[] = {2, 0x00, 0x41, 0, 0x0B, 2, 1, 1, 0x01, 0x00, 1, 1};
    e8(e, 7);
    eu32(e, sizeof exports);
    eraw(e, exports, sizeof exports);
    e8(e, 9);
    eu32(e, sizeof elems);
    eraw(e, elems, sizeof elems);
    e8(e, 12);
    eu32(e, 1);
    e8(e, 1); /* data count: 1 */
}

/* The body of `run`. */
static void run_body(em *e, opcode op, uint32_t repeat, uint32_t iters)
{
    if (op == OP_UNREACHABLE) { /* the trap run (repeat 1) and its returning twin (repeat 0) */
        if (repeat)
            eop(e, OP_UNREACHABLE);
        eop(e, OP_END);
        return;
    }
    for (uint32_t l = 0; l < L_NGLOBAL_IN; l++) {
        e8(e, 0x23);
        eu32(e, l);
        set(e, l);
    }
    get(e, L_ZERO);
    e8(e, 0x25);
    e8(e, 0);
    set(e, L_FREF); /* table.get 0 */
    e8(e, 0x41);
    es32(e, (int32_t)iters);
    set(e, L_I);
    eop(e, OP_LOOP);
    e8(e, 0x40);
    for (uint32_t r = 0; r < repeat && op != OP_COUNT; r++)
        snippet_special(e, op);
    get(e, L_I);
    e8(e, 0x41);
    e8(e, 1);
    eop(e, OP_I32_SUB);
    eop(e, OP_LOCAL_TEE);
    eu32(e, L_I);
    eop(e, OP_BR_IF);
    e8(e, 0);
    eop(e, OP_END);
    static const uint32_t sinks[][2] = {
        {L_RI, G_SI}, {L_RL, G_SL}, {L_RF, G_SF}, {L_RD, G_SD}, {L_RI2, G_SI}};
    for (size_t i = 0; i < BASE_ARRAY_LEN(sinks); i++) {
        get(e, sinks[i][0]);
        e8(e, 0x24);
        eu32(e, sinks[i][1]);
    }
    eop(e, OP_END);
}

static void section_code(em *e, opcode op, uint32_t repeat, uint32_t iters)
{
    buf body = {0}, s = {0};
    em be = {&body, ST_OK};
    run_body(&be, op, repeat, iters);
    status st = be.st;
    if (st == ST_OK)
        st = buf_leb_u32(&s, 3);
    if (st == ST_OK)
        st = writer_code_entry(&s, local_types, L_COUNT, span_of(body.ptr, body.len));
    static const uint8_t empty_end = 0x0B, return_end[2] = {0x0F, 0x0B};
    if (st == ST_OK)
        st = writer_code_entry(&s, NULL, 0, span_of(&empty_end, 1));
    if (st == ST_OK)
        st = writer_code_entry(&s, NULL, 0, span_of(return_end, 2));
    buf_fini(&body);
    esection(e, 10, &s, st);
}

static void section_data(em *e)
{
    uint8_t d[3 + 64];
    d[0] = 1;    /* one segment */
    d[1] = 0x01; /* passive */
    d[2] = 64;
    for (int i = 0; i < 64; i++)
        d[3 + i] = (uint8_t)(i * 7 + 1);
    e8(e, 11);
    eu32(e, sizeof d);
    eraw(e, d, sizeof d);
}

status bench_gen_module(opcode op, uint32_t repeat, uint32_t iters, uint32_t size, buf *out)
{
    if (op != OP_COUNT) {
        bench_plan p;
        bench_gen_plan(op, &p);
        if (p.kind == BENCH_SKIP)
            return BUG();
    }
    size_t old = out->len;
    em e = {out, writer_header(out)};
    section_types(&e);
    section_decls(&e);
    section_globals(&e, size);
    section_exports_elems(&e);
    section_code(&e, op, repeat, iters);
    section_data(&e);
    if (e.st != ST_OK)
        out->len = old;
    return e.st;
}

/* ---- host-call canisters ----------------------------------------------------------------------- */

static void host_types(em *e, const bench_host_spec *spec)
{
    buf s = {0};
    uint8_t tys[16];
    functype empty = {0, 0, NULL};
    uint32_t ntypes = spec->name ? 3 : 1;
    status st = buf_leb_u32(&s, ntypes);
    if (st == ST_OK)
        st = writer_functype(&s, &empty);
    if (spec->name) {
        size_t np = strlen(spec->params), nr = strlen(spec->results);
        for (size_t i = 0; i < np + nr && i < sizeof tys; i++)
            tys[i] = (i < np ? spec->params[i] : spec->results[i - np]) == 'I' ? VT_I64 : VT_I32;
        functype ft = {(uint32_t)np, (uint32_t)nr, tys};
        static const uint8_t grow_tys[2] = {VT_I64, VT_I64};
        functype gt = {1, 1, grow_tys};
        if (st == ST_OK)
            st = writer_functype(&s, &ft);
        if (st == ST_OK)
            st = writer_functype(&s, &gt);
    }
    esection(e, 1, &s, st);
}

static void host_imports(em *e, const bench_host_spec *spec, uint32_t *nimports)
{
    *nimports = 0;
    if (!spec->name)
        return;
    buf s = {0};
    em se = {&s, ST_OK};
    *nimports = spec->grow_first ? 2 : 1;
    eu32(&se, *nimports);
    ename(&se, "ic0");
    ename(&se, spec->name);
    e8(&se, 0x00);
    e8(&se, 1);
    if (spec->grow_first) {
        ename(&se, "ic0");
        ename(&se, spec->grow_first);
        e8(&se, 0x00);
        e8(&se, 2);
    }
    esection(e, 2, &s, se.st);
}

static void host_body(em *e, const bench_host_spec *spec, uint32_t repeat, uint32_t iters,
                      uint32_t nimports)
{
    if (spec->grow_first) {
        e8(e, 0x42);
        e8(e, 1);
        e8(e, 0x10);
        eu32(e, 1); /* call grow_first(1) */
        eop(e, OP_DROP);
    }
    e8(e, 0x41);
    es32(e, (int32_t)iters);
    set(e, 0);
    eop(e, OP_LOOP);
    e8(e, 0x40);
    size_t np = spec->name ? strlen(spec->params) : 0;
    size_t nr = spec->name ? strlen(spec->results) : 0;
    for (uint32_t r = 0; spec->name && r < repeat; r++) {
        for (size_t i = 0; i < np; i++) {
            if (spec->params[i] == 'I') {
                e8(e, 0x42);
                es64(e, spec->args[i]);
            } else {
                e8(e, 0x41);
                es32(e, (int32_t)spec->args[i]);
            }
        }
        e8(e, 0x10);
        e8(e, 0); /* the benchmarked import is function 0 */
        for (size_t i = 0; i < nr; i++)
            eop(e, OP_DROP);
    }
    get(e, 0);
    e8(e, 0x41);
    e8(e, 1);
    eop(e, OP_I32_SUB);
    eop(e, OP_LOCAL_TEE);
    eu32(e, 0);
    eop(e, OP_BR_IF);
    e8(e, 0);
    eop(e, OP_END);
    eop(e, OP_END);
    (void)nimports;
}

status bench_gen_canister(const bench_host_spec *spec, uint32_t repeat, uint32_t iters, buf *out)
{
    size_t old = out->len;
    em e = {out, writer_header(out)};
    host_types(&e, spec);
    uint32_t nimports;
    host_imports(&e, spec, &nimports);
    e8(&e, 3);
    eu32(&e, 2);
    e8(&e, 1);
    e8(&e, 0); /* one function of type 0 */
    static const uint8_t mem[] = {1, 0x00, 2};
    e8(&e, 5);
    eu32(&e, sizeof mem);
    eraw(&e, mem, sizeof mem);
    buf s = {0};
    em se = {&s, ST_OK};
    eu32(&se, 1);
    ename(&se, spec->export_name);
    e8(&se, 0x00);
    eu32(&se, nimports);
    esection(&e, 7, &s, se.st);
    buf body = {0};
    em be = {&body, ST_OK};
    host_body(&be, spec, repeat, iters, nimports);
    static const uint8_t counter_type = VT_I32;
    status st = be.st;
    if (st == ST_OK)
        st = buf_leb_u32(&s, 1);
    if (st == ST_OK)
        st = writer_code_entry(&s, &counter_type, 1, span_of(body.ptr, body.len));
    buf_fini(&body);
    esection(&e, 10, &s, st);
    if (e.st != ST_OK)
        out->len = old;
    return e.st;
}
