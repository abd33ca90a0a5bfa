/* native.c - the compiled tier (docs/engine.md "The compiled tier"): turns a compiled module's
 * C (emit.c) into a shared object with the system C compiler, in a time-bounded subprocess,
 * caches it by the source's hash, loads it with dlopen, and runs it on the instance's own
 * execution state.
 *
 * A compiled run executes on a stack of its own (ucontext): a trap switches back to the caller
 * (nothing to unwind: the run's state is all in the instance), and a pause after a host call
 * swaps back to the embedder and resumes later exactly where it stopped, so compiled runs are
 * time-sliced like interpreted ones. Depth and value slots are counted as vm.c counts them; the
 * slow operations call the interpreter's own functions (vm.c, instance.c, memory.c). */
#include "engine_int.h"
#include "native_abi.h"
#include "ops.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

extern char **environ;

/* The quick route's table of direct entries (quick_source). */
#define NAT_DIRECT_SYMBOL "tally_native_direct"

ENGINE_NATIVE_ABI_SOURCE

_Static_assert(offsetof(engine_memory, base) == offsetof(nat_mem, base), "nat_mem view");
_Static_assert(offsetof(engine_memory, len) == offsetof(nat_mem, len), "nat_mem view");
_Static_assert(offsetof(engine_memory, pages) == offsetof(nat_mem, pages), "nat_mem view");
_Static_assert(offsetof(engine_global, value) == 0, "a global's value is its first field");

struct engine_native {
    void *dl;
    const nat_module *mod;
    bool quick;         /* built by tcc (ENGINE_NATIVE_QUICK) */
    uint32_t per_call;  /* quick: the most stack one call of a compiled function takes */
    uint32_t max_frame; /* quick: the largest frame of a compiled function */
    uint32_t owners;    /* engine_native_share adds one, engine_native_free drops one (atomic) */
};

enum {
    NAT_STACK = 64 << 20,       /* a compiled run's stack (reserved; pages cost once touched) */
    NAT_STACK_MARGIN = 1 << 20, /* kept free for host functions and the runtime */
    NAT_GUARD = 1 << 16,
    NAT_DEEP = 256, /* runs deeper than this many calls release their stack pages afterwards */
    /* The quick route's frame rule (docs/engine.md "The quick route"): a function whose TinyCC
       frame is larger than this is refused (the module waits for cc or stays interpreted). */
    NAT_QUICK_MAX_FRAME = 64 << 10,
};

/* AddressSanitizer must be told about stack switches (its fake stacks and shadow memory). */
#if defined(__SANITIZE_ADDRESS__)
#define NAT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NAT_ASAN 1
#endif
#endif
/* Switching stacks: makecontext once per execution state, then __builtin_setjmp/longjmp (no
 * signal-mask system calls: glibc's swapcontext makes one per switch, and a small message
 * switches three times). AddressSanitizer builds, and other targets, keep swapcontext, whose
 * stack switches the sanitizer intercepts. */
#if defined(__x86_64__) && !defined(NAT_ASAN)
#define NAT_FAST 1
#endif
#ifdef NAT_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

typedef struct nat_exec {
    ucontext_t caller, co;
    void *fake_caller, *fake_co; /* ASan's fake stacks while switched away */
    const void *caller_bottom;   /* the embedder's stack (ASan) */
    size_t caller_size;
    uint8_t *stack; /* size + NAT_GUARD bytes, guard first */
    size_t size;    /* NAT_STACK, or more for quick code (engine_instance.nat_stack) */
#ifdef NAT_FAST
    void *caller_jb[5], *co_jb[5]; /* where to_caller and to_run continue */
    void *top_jb[5];               /* a new run: the top of trampoline() */
    bool co_made;                  /* the context exists and waits at top_jb */
#endif
    nat_run run;
    engine_instance *entry; /* whose ex holds the run */
    status st;
    bool finished, paused;
} nat_exec;

#ifdef NAT_FAST
/* Not in the function that set jb (a rule of __builtin_longjmp). */
__attribute__((noinline, noreturn)) static void jump_to(void **jb)
{
    __builtin_longjmp(jb, 1);
}

static void to_caller(nat_exec *nx, bool forever)
{
    if (forever)
        jump_to(nx->caller_jb); /* the next run starts again at top_jb */
    if (!__builtin_setjmp(nx->co_jb))
        jump_to(nx->caller_jb);
}

static void to_run(nat_exec *nx)
{
    if (!__builtin_setjmp(nx->caller_jb))
        jump_to(nx->co_jb);
}
#else
/* From the run's stack to the embedder's: `forever` when the run is over. */
static void to_caller(nat_exec *nx, bool forever)
{
#ifdef NAT_ASAN
    __sanitizer_start_switch_fiber(forever ? NULL : &nx->fake_co, nx->caller_bottom,
                                   nx->caller_size);
#else
    (void)forever;
#endif
    swapcontext(&nx->co, &nx->caller);
#ifdef NAT_ASAN
    __sanitizer_finish_switch_fiber(nx->fake_co, &nx->caller_bottom, &nx->caller_size);
#endif
}

/* From the embedder's stack to the run's (start or resume). */
static void to_run(nat_exec *nx)
{
#ifdef NAT_ASAN
    __sanitizer_start_switch_fiber(&nx->fake_caller, nx->stack + NAT_GUARD, nx->size);
#endif
    swapcontext(&nx->caller, &nx->co);
#ifdef NAT_ASAN
    __sanitizer_finish_switch_fiber(nx->fake_caller, NULL, NULL);
#endif
}
#endif

static nat_exec *exec_of(nat_run *r)
{
    return (nat_exec *)(void *)((char *)r - offsetof(nat_exec, run));
}

/* ---- run-time helpers (nat_rt) ------------------------------------------------------------ */

__attribute__((noreturn)) static void rt_trap(nat_inst *I, int st)
{
    nat_exec *nx = exec_of(I->run);
    nx->st = (status)st;
    nx->finished = true;
    to_caller(nx, true);
    abort(); /* a finished run is never resumed */
}

static void call_func(nat_inst *I, const engine_func *f, uint64_t fp, uint64_t *a)
{
    if (f->code) {
        if (!f->native || !f->inst->ni)
            rt_trap(I, (int)BUG()); /* an interpreted instance's function: see docs/engine.md */
        nat_inst *ci = f->inst->ni;
        nat_run *saved = ci->run;
        ci->run = I->run;
        f->native(ci, fp, a);
        ci->run = saved;
        return;
    }
    nat_exec *nx = exec_of(I->run);
    engine_instance *inst = I->inst;
    if (fp + (f->nparams > f->nresults ? f->nparams : f->nresults) > I->run->nslots)
        rt_trap(I, ST_TRAP_CALL_STACK_EXHAUSTED);
    status st = f->host(inst, f->user, a);
    if (st != ST_OK)
        rt_trap(I, (int)st);
    engine_instance *e = nx->entry;
    if (e->ex.pause_requested || inst->ex.pause_requested) {
        e->ex.pause_requested = false;
        inst->ex.pause_requested = false;
        if (!e->ex.pause_ignored) {
            nx->paused = true;
            to_caller(nx, false);
        }
    }
}

static void rt_call(nat_inst *I, uint32_t fidx, uint64_t fp, uint64_t *a)
{
    engine_instance *inst = I->inst;
    call_func(I, inst->funcs[fidx], fp, a);
}

static void rt_call_indirect(nat_inst *I, uint32_t type, uint32_t table, uint32_t i, uint64_t fp,
                             uint64_t *a)
{
    engine_instance *inst = I->inst;
    const engine_table *t = inst->tables[table];
    if (i >= t->size)
        rt_trap(I, ST_TRAP_UNDEFINED_ELEMENT);
    const engine_func *f = (const engine_func *)(uintptr_t)t->elems[i];
    if (!f)
        rt_trap(I, ST_TRAP_UNINITIALIZED_ELEMENT);
    const functype *want = &inst->m->types[type];
    if (f->type != want && !vm_functype_eq(f->type, want))
        rt_trap(I, ST_TRAP_INDIRECT_CALL_TYPE);
    call_func(I, f, fp, a);
}

static uint64_t rt_misc(nat_inst *I, uint32_t op, uint32_t x, uint32_t y, uint64_t a, uint64_t b,
                        uint64_t c)
{
    engine_instance *inst = I->inst;
    status st = ST_OK;
    uint64_t r = 0;
    switch ((enum nat_misc)op) {
    case NAT_MEMORY_GROW: {
        uint32_t grown;
        st = vm_memory_grow(inst->mem, (uint32_t)a, &grown);
        r = grown;
        break;
    }
    case NAT_MEMORY_INIT:
        st = vm_op_memory_init(inst, x, (uint32_t)a, (uint32_t)b, (uint32_t)c);
        break;
    case NAT_DATA_DROP: inst->data_dropped[x] = 1; break;
    case NAT_MEMORY_COPY:
        st = vm_op_memory_copy(inst->mem, (uint32_t)a, (uint32_t)b, (uint32_t)c);
        break;
    case NAT_MEMORY_FILL:
        st = vm_op_memory_fill(inst->mem, (uint32_t)a, (uint32_t)b, (uint32_t)c);
        break;
    case NAT_TABLE_GET: {
        const engine_table *t = inst->tables[x];
        if ((uint32_t)a >= t->size)
            st = ST_TRAP_TABLE_OOB;
        else
            r = t->elems[(uint32_t)a];
        break;
    }
    case NAT_TABLE_SET: {
        engine_table *t = inst->tables[x];
        if ((uint32_t)a >= t->size)
            st = ST_TRAP_TABLE_OOB;
        else
            t->elems[(uint32_t)a] = b;
        break;
    }
    case NAT_TABLE_SIZE: r = inst->tables[x]->size; break;
    case NAT_TABLE_GROW: r = vm_table_grow(inst->tables[x], (uint32_t)b, a); break;
    case NAT_TABLE_FILL:
        st = vm_op_table_fill(inst->tables[x], (uint32_t)a, b, (uint32_t)c);
        break;
    case NAT_TABLE_COPY:
        st = vm_op_table_copy(inst, x, y, (uint32_t)a, (uint32_t)b, (uint32_t)c);
        break;
    case NAT_TABLE_INIT:
        st = vm_op_table_init(inst, x, y, (uint32_t)a, (uint32_t)b, (uint32_t)c);
        break;
    case NAT_ELEM_DROP: inst->elem_len[x] = 0; break;
    case NAT_REF_FUNC: r = (uint64_t)(uintptr_t)inst->funcs[x]; break;
    default: st = BUG();
    }
    if (st != ST_OK)
        rt_trap(I, (int)st);
    return r;
}

static const nat_rt rt_table = {rt_trap, rt_call, rt_call_indirect, rt_misc};

/* ---- instances and runs ------------------------------------------------------------------- */

status vm_native_attach(engine_instance *inst)
{
    const engine_native *n = __atomic_load_n(&inst->code->native, __ATOMIC_ACQUIRE);
    if (!n || inst->nat_of == n)
        return ST_OK;
    /* a first attach, or an upgrade (quick code, then cc's) between runs: the same view of
       the instance, the functions of the new object */
    nat_inst *ni = inst->ni ? inst->ni : base_calloc(1, sizeof *ni);
    if (!ni)
        return ST_OUT_OF_MEMORY;
    inst->nat_of = n;
    ni->rt = &rt_table;
    ni->mem = (nat_mem *)(void *)inst->mem;
    ni->globals = (uint64_t **)(void *)inst->globals;
    ni->inst = inst;
    inst->ni = ni;
    const engine_module *m = inst->m;
    /* The stack: quick code's frames are larger than cc's, so its stack holds the deepest run
       the interpreter's limits allow (maxd calls of the largest frame) above the margin and the
       largest frame check's bound; then stack exhaustion traps exactly where the interpreter's
       limits trap. Only reserved: pages cost once touched. */
    inst->nat_stack = NAT_STACK;
    if (n->quick) {
        uint64_t need = (uint64_t)inst->rc.max_call_depth * n->per_call + 4ull * n->max_frame +
                        16384 + NAT_STACK_MARGIN + (64u << 10);
        need = (need + 0xffff) & ~(uint64_t)0xffff;
        if (need > NAT_STACK)
            inst->nat_stack = (size_t)need;
    }
    for (uint32_t d = 0; d < n->mod->nfuncs; d++)
        inst->funcs[m->nfunc_imports + d]->native = (vm_native_fn)n->mod->funcs[d];
    return ST_OK;
}

/* Unmaps an execution's stack and frees it. Under ASan the stack's shadow is cleared first:
   frames left on it stay poisoned in the shadow after munmap, and a later mapping at the same
   addresses (a memory's reservation) was then reported as a stack-buffer-underflow. */
static void nx_free(nat_exec *nx)
{
#ifdef NAT_ASAN
    __asan_unpoison_memory_region(nx->stack, nx->size + NAT_GUARD);
#endif
    munmap(nx->stack, nx->size + NAT_GUARD);
    base_free(nx);
}

void vm_native_free(engine_instance *inst)
{
    if (inst->nx)
        nx_free(inst->nx);
    base_free(inst->ni);
}

static _Thread_local nat_exec *starting;

static void trampoline(void)
{
    nat_exec *volatile nx = starting;
#ifdef NAT_FAST
    if (!__builtin_setjmp(nx->top_jb)) /* made: back to start_run, which comes back here */
        jump_to(nx->caller_jb);
#endif
#ifdef NAT_ASAN
    __sanitizer_finish_switch_fiber(NULL, &nx->caller_bottom, &nx->caller_size);
#endif
    engine_instance *e = nx->entry;
    const engine_func *f = e->ex.entry;
    nat_inst *ni = f->inst->ni;
    nat_run *saved = ni->run;
    ni->run = &nx->run;
    f->native(ni, 0, e->ex.slots);
    ni->run = saved;
    nx->st = ST_OK;
    nx->finished = true;
    to_caller(nx, true);
    abort();
}

/* A fresh context that starts the run in trampoline() on nx's stack. */
static bool make_co(nat_exec *nx)
{
    if (getcontext(&nx->co) != 0)
        return false;
    nx->co.uc_stack.ss_sp = nx->stack + NAT_GUARD;
    nx->co.uc_stack.ss_size = nx->size;
    nx->co.uc_link = NULL;
    makecontext(&nx->co, trampoline, 0);
    starting = nx;
    return true;
}

/* Starts the run set up in nx (to_run resumes a paused one). */
static bool start_run(nat_exec *nx)
{
#ifdef NAT_FAST
    if (!nx->co_made) {
        if (!make_co(nx))
            return false;
        if (!__builtin_setjmp(nx->caller_jb))
            setcontext(&nx->co); /* trampoline() comes back from its top */
        nx->co_made = true;
    }
    if (!__builtin_setjmp(nx->caller_jb))
        jump_to(nx->top_jb);
#else
    if (!make_co(nx))
        return false;
    to_run(nx);
#endif
    return true;
}

status vm_native_run(engine_instance *inst, bool *paused)
{
    vm_exec *ex = &inst->ex;
    nat_exec *nx = inst->nx;
    *paused = false;
    if (ex->state == VM_READY) {
        if (nx && nx->size < inst->nat_stack) { /* code attached since needs a larger stack */
            nx_free(nx);
            inst->nx = nx = NULL;
        }
        if (!nx) {
            nx = base_calloc(1, sizeof *nx);
            if (!nx)
                return ST_OUT_OF_MEMORY;
            nx->size = inst->nat_stack > NAT_STACK ? inst->nat_stack : NAT_STACK;
            void *p = mmap(NULL, nx->size + NAT_GUARD, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                base_free(nx);
                return ST_OUT_OF_MEMORY;
            }
            mprotect(p, NAT_GUARD, PROT_NONE);
            nx->stack = p;
            inst->nx = nx;
        }
        nx->entry = inst;
        nx->run = (nat_run){
            .maxd = (uint32_t)(ex->frames_end - ex->frames),
            .nslots = (uint64_t)(ex->slots_end - ex->slots),
            .stack_lo = (uintptr_t)(nx->stack + NAT_GUARD + NAT_STACK_MARGIN),
        };
        nx->finished = nx->paused = false;
        nx->st = ST_OK;
        inst->ex_native = true;
        if (!start_run(nx))
            return BUG();
    } else if (ex->state != VM_PAUSED || !nx || !inst->ex_native) {
        return BUG();
    } else {
        to_run(nx);
    }
    if (nx->paused && !nx->finished) {
        nx->paused = false;
        ex->state = VM_PAUSED;
        *paused = true;
        return ST_OK;
    }
    if (nx->run.hi > ex->max_depth)
        ex->max_depth = nx->run.hi;
    if (nx->run.hi > NAT_DEEP) /* give back what a deep recursion touched, but the top */
        madvise(nx->stack + NAT_GUARD, nx->size - NAT_STACK_MARGIN, MADV_DONTNEED);
    inst->ex_native = false;
    ex->state = nx->st == ST_OK ? VM_DONE : VM_IDLE;
    return nx->st;
}

/* ---- compiling ---------------------------------------------------------------------------- */

void engine_native_config_default(engine_native_config *cfg)
{
    const char *cc = getenv("TALLY_CC");
    cfg->route = ENGINE_NATIVE_CC;
    cfg->mem_limit_bytes = 0;
    cfg->cc = cc && *cc ? cc : "cc";
    cfg->opt = "-O2";
    cfg->large_opt = "-O1";
    cfg->large_source_bytes = 256u << 10;
    cfg->cache_dir = NULL;
    cfg->timeout_ms = 60000;
    cfg->max_source_bytes = 64u << 20;
}

void engine_native_config_quick(engine_native_config *cfg)
{
    engine_native_config_default(cfg);
    const char *tcc = getenv("TALLY_TCC");
    cfg->route = ENGINE_NATIVE_QUICK;
    cfg->cc = tcc && *tcc ? tcc : "tcc";
    cfg->opt = cfg->large_opt = "";
    cfg->timeout_ms = 10000;
    cfg->mem_limit_bytes = (size_t)2 << 30;
}

bool engine_native_is_quick(const engine_native *n)
{
    return n && n->quick;
}

uint32_t engine_native_max_frame(const engine_native *n)
{
    return n && n->quick ? n->max_frame : 0;
}

/* What TinyCC lacks of the generated source (GCC's bit-counting builtins), before it; and
   memcpy of the constant sizes the source copies (1, 2, 4, 8: loads, stores, float bits) as a
   plain move, which TinyCC would otherwise call the library for. */
static const char quick_prelude[] =
    "/* tally quick route (TinyCC) */\n#include <stdint.h>\n#include <string.h>\n"
    "#define memcpy(d, s, n) q_copy##n((d), (s))\n"
    "#define q_copy1(d, s) (*(uint8_t *)(void *)(d) = *(const uint8_t *)(const void *)(s))\n"
    "#define q_copy2(d, s) (*(uint16_t *)(void *)(d) = *(const uint16_t *)(const void *)(s))\n"
    "#define q_copy4(d, s) (*(uint32_t *)(void *)(d) = *(const uint32_t *)(const void *)(s))\n"
    "#define q_copy8(d, s) (*(uint64_t *)(void *)(d) = *(const uint64_t *)(const void *)(s))\n"
    "static int q_clz32(uint32_t x) { int n = 0; if (!(x & 0xffff0000u)) { n += 16; x <<= 16; }"
    " if (!(x & 0xff000000u)) { n += 8; x <<= 8; } if (!(x & 0xf0000000u)) { n += 4; x <<= 4; }"
    " if (!(x & 0xc0000000u)) { n += 2; x <<= 2; } if (!(x & 0x80000000u)) n += 1; return n; }\n"
    "static int q_ctz32(uint32_t x) { int n = 0; if (!(x & 0xffffu)) { n += 16; x >>= 16; }"
    " if (!(x & 0xffu)) { n += 8; x >>= 8; } if (!(x & 0xfu)) { n += 4; x >>= 4; }"
    " if (!(x & 3u)) { n += 2; x >>= 2; } if (!(x & 1u)) n += 1; return n; }\n"
    "static int q_clz64(uint64_t x) { uint32_t h = (uint32_t)(x >> 32);"
    " return h ? q_clz32(h) : 32 + q_clz32((uint32_t)x); }\n"
    "static int q_ctz64(uint64_t x) { uint32_t l = (uint32_t)x;"
    " return l ? q_ctz32(l) : 32 + q_ctz32((uint32_t)(x >> 32)); }\n"
    "static int q_pop32(uint32_t x) { x = x - ((x >> 1) & 0x55555555u);"
    " x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u); x = (x + (x >> 4)) & 0x0f0f0f0fu;"
    " return (int)((x * 0x01010101u) >> 24); }\n"
    "static int q_pop64(uint64_t x) { return q_pop32((uint32_t)x) + q_pop32((uint32_t)(x >> 32)); "
    "}\n"
    "#define __builtin_clz(x) q_clz32(x)\n#define __builtin_ctz(x) q_ctz32(x)\n"
    "#define __builtin_clzll(x) q_clz64(x)\n#define __builtin_ctzll(x) q_ctz64(x)\n"
    "#define __builtin_popcount(x) q_pop32(x)\n#define __builtin_popcountll(x) q_pop64(x)\n";

/* After the value helpers (ENGINE_OPS_TEXT): reading a float operand's bits, which the
   generated code does on variables only, as a load instead of a call (TinyCC inlines nothing;
   little-endian: a uint64_t's first four bytes are its low half). */
static const char quick_after_ops[] = "\n#define f32_of(s) (*(const float *)(const void *)&(s))\n"
                                      "#define f64_of(s) (*(const double *)(const void *)&(s))\n";

/* The quick route's source: the prelude, the module's C (with quick_after_ops after the value
   helpers), and a table of the direct entries f<d> (static) so that quick_frames can read
   their frames. */
static status quick_source(const buf *src, uint32_t ndef, buf *q)
{
    status st = buf_put(q, quick_prelude, sizeof quick_prelude - 1);
    static const char ops[] = ENGINE_OPS_TEXT;
    const uint8_t *at =
        memmem(src->ptr, src->len < (64u << 10) ? src->len : 64u << 10, ops, sizeof ops - 1);
    size_t head = at ? (size_t)(at - src->ptr) + sizeof ops - 1 : 0;
    if (st == ST_OK && head) {
        st = buf_put(q, src->ptr, head);
        if (st == ST_OK)
            st = buf_put(q, quick_after_ops, sizeof quick_after_ops - 1);
    }
    if (st == ST_OK)
        st = buf_put(q, src->ptr + head, src->len - head);
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "const void *const %s[%u] = {", NAT_DIRECT_SYMBOL,
                     ndef ? ndef : 1);
    if (st == ST_OK)
        st = buf_put(q, tmp, (size_t)n);
    for (uint32_t d = 0; d < ndef && st == ST_OK; d++) {
        n = snprintf(tmp, sizeof tmp, "%s(const void *)f%u",
                     d == 0  ? "\n    "
                     : d % 8 ? ", "
                             : ",\n    ",
                     d);
        st = buf_put(q, tmp, (size_t)n);
    }
    if (st == ST_OK)
        st = buf_put(q, "};\n", 3);
    return st;
}

static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static void say(char *why, size_t len, const char *fmt, const char *a)
{
    if (why && len)
        snprintf(why, len, fmt, a);
}

static bool same_file(const char *path, const buf *src)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (base_read_file(path, &data, &len) != ST_OK)
        return false;
    bool same = len == src->len && memcmp(data, src->ptr, len) == 0;
    base_free(data);
    return same;
}

static bool write_file(const char *path, const buf *src)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return false;
    bool ok = fwrite(src->ptr, 1, src->len, fp) == src->len;
    ok = fclose(fp) == 0 && ok;
    return ok;
}

/* Runs cc in a child process, in a process group of its own (the driver's children are killed
   with it), under `ulimit -v` when cfg bounds its memory, killed past the time bound. */
static status run_cc(const engine_native_config *cfg, const char *opt, const char *src,
                     const char *so, char *why, size_t whylen)
{
    /* posix_spawn, not fork: safe in a multithreaded node (the background compiler) */
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return ST_OUT_OF_MEMORY;
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t at;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return ST_OUT_OF_MEMORY;
    }
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    char *cc_argv[] = {(char *)cfg->cc,
                       (char *)opt,
                       "-shared",
                       "-fPIC",
                       "-w",
                       "-std=gnu17",
                       "-ffp-contract=off",
                       "-fno-strict-aliasing",
                       "-fvisibility=hidden",
                       "-o",
                       (char *)so,
                       (char *)src,
                       "-lm",
                       NULL};
    /* tcc: -shared makes position-independent code; it never fuses floating-point operations */
    char *tcc_argv[] = {(char *)cfg->cc, "-shared",   "-w",  "-o",
                        (char *)so,      (char *)src, "-lm", NULL};
    char **argv = cfg->route == ENGINE_NATIVE_QUICK ? tcc_argv : cc_argv;
    char limit[64], *sh_argv[32];
    const char *exe = cfg->cc;
    if (cfg->mem_limit_bytes) {
        /* sh sets the bound and execs the compiler: nothing but exec runs in the child of a
           multithreaded process, and the bound covers the compiler alone */
        snprintf(limit, sizeof limit, "ulimit -v %llu && exec \"$0\" \"$@\"",
                 (unsigned long long)(cfg->mem_limit_bytes >> 10));
        size_t n = 0;
        sh_argv[n++] = "sh";
        sh_argv[n++] = "-c";
        sh_argv[n++] = limit;
        for (size_t i = 0; argv[i] && n + 1 < BASE_ARRAY_LEN(sh_argv); i++)
            sh_argv[n++] = argv[i];
        sh_argv[n] = NULL;
        argv = sh_argv;
        exe = "/bin/sh";
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, exe, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        say(why, whylen, "cannot run %s (no C compiler?)", cfg->cc);
        return ST_IO_ERROR;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int ws;
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
                return ST_OK;
            say(why, whylen, "%s failed (missing, or the source did not compile)", cfg->cc);
            return ST_IO_ERROR;
        }
        if (r < 0)
            return ST_IO_ERROR;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double ms =
            (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
        if (ms > cfg->timeout_ms) {
            kill(-pid, SIGKILL); /* the group: cc's own children (cc1, as, ld) too */
            waitpid(pid, &ws, 0);
            say(why, whylen, "%s ran past the time bound", cfg->cc);
            return ST_LIMIT_EXCEEDED;
        }
        struct timespec d = {0, 2000000};
        nanosleep(&d, NULL);
    }
}

/* The frame rule of quick code (docs/engine.md "The quick route"): every compiled function's
   frame is read from its prologue, which TinyCC writes as `push %rbp; mov %rsp,%rbp;
   sub $FRAME,%rsp` (imm32); an object with another prologue, or a frame past
   NAT_QUICK_MAX_FRAME, is refused. The largest frame sets the stack of its instances
   (vm_native_attach). */
static status quick_frames(void *dl, const engine_code *c, engine_native *n, char *why,
                           size_t whylen)
{
    const engine_module *m = c->m;
    size_t ndef = m->nfuncs - m->nfunc_imports;
    const void *const *direct = dlsym(dl, NAT_DIRECT_SYMBOL);
    if (!direct) {
        say(why, whylen, "%s", "the quick object has no table of entries");
        return ST_IO_ERROR;
    }
    static const uint8_t prologue[7] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x81, 0xec};
    uint32_t max_frame = 0, max_params = 0;
    for (size_t d = 0; d < ndef; d++) {
        const uint8_t *p = direct[d];
        if (memcmp(p, prologue, sizeof prologue) != 0) {
            say(why, whylen, "%s", "a quick function has an unknown prologue");
            return ST_IO_ERROR;
        }
        uint32_t frame =
            (uint32_t)p[7] | (uint32_t)p[8] << 8 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 24;
        if (frame > NAT_QUICK_MAX_FRAME) {
            say(why, whylen, "%s", "a quick function's frame is past the frame rule");
            return ST_LIMIT_EXCEEDED;
        }
        if (frame > max_frame)
            max_frame = frame;
        const functype *ft = engine_func_type(m, m->nfunc_imports + (uint32_t)d);
        if (ft->nparams > max_params)
            max_params = ft->nparams;
    }
    n->quick = true;
    n->max_frame = max_frame;
    /* a call: the callee's frame, its arguments past the six in registers (I, fp, ret and the
       params), the return address, the saved %rbp and alignment */
    n->per_call = max_frame + 8 * (max_params + 3) + 64;
    return ST_OK;
}

static status load(const char *so, const engine_code *c, bool quick, engine_native **out,
                   char *why, size_t whylen)
{
    size_t ndef = c->m->nfuncs - c->m->nfunc_imports;
    void *dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        say(why, whylen, "dlopen failed: %s", dlerror());
        return ST_IO_ERROR;
    }
    const nat_module *mod = dlsym(dl, ENGINE_NATIVE_SYMBOL);
    if (!mod || mod->abi != ENGINE_NATIVE_ABI_VERSION || mod->nfuncs != ndef) {
        dlclose(dl);
        say(why, whylen, "%s", "the compiled object does not match");
        return ST_IO_ERROR;
    }
    engine_native *n = base_calloc(1, sizeof *n);
    if (!n) {
        dlclose(dl);
        return ST_OUT_OF_MEMORY;
    }
    n->dl = dl;
    n->mod = mod;
    n->owners = 1;
    if (quick) {
        status st = quick_frames(dl, c, n, why, whylen);
        if (st != ST_OK) {
            dlclose(dl);
            base_free(n);
            return st;
        }
    }
    *out = n;
    return ST_OK;
}

status engine_native_compile(const engine_code *c, const engine_native_config *cfg,
                             engine_native **out, char *why, size_t whylen)
{
    *out = NULL;
    say(why, whylen, "%s", "");
    buf src = {0};
    status st = emit_module(c, cfg->max_source_bytes, &src);
    if (st != ST_OK) {
        say(why, whylen, "%s",
            st == ST_LIMIT_EXCEEDED ? "generated source past the size bound"
                                    : "code generation failed");
        buf_fini(&src);
        return st;
    }
    bool quick = cfg->route == ENGINE_NATIVE_QUICK;
    size_t ndef = c->m->nfuncs - c->m->nfunc_imports;
    if (quick) {
        buf q = {0};
        st = quick_source(&src, (uint32_t)ndef, &q);
        buf_fini(&src);
        src = q;
        if (st != ST_OK) {
            buf_fini(&src);
            return st;
        }
    }
    uint64_t h = fnv1a(src.ptr, src.len, UINT64_C(0xcbf29ce484222325));
    h = fnv1a((const uint8_t *)cfg->cc, strlen(cfg->cc), h);
    /* large sources: a cheaper optimization level (gcc -O2 takes seconds per 100 KB of C) */
    const char *opt = quick                               ? "quick"
                      : src.len > cfg->large_source_bytes ? cfg->large_opt
                                                          : cfg->opt;
    h = fnv1a((const uint8_t *)opt, strlen(opt), h);
    char dir[4096], cpath[4200], sopath[4200], tmp[4300];
    bool temp = !cfg->cache_dir;
    if (temp) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/tally-cc-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            buf_fini(&src);
            say(why, whylen, "%s", "cannot create a temporary directory");
            return ST_IO_ERROR;
        }
    } else {
        snprintf(dir, sizeof dir, "%s", cfg->cache_dir);
        mkdir(dir, 0700);
    }
    snprintf(cpath, sizeof cpath, "%s/%016llx.c", dir, (unsigned long long)h);
    snprintf(sopath, sizeof sopath, "%s/%016llx.so", dir, (unsigned long long)h);
    /* a cache hit must hold this very source (the hash only names the file) */
    if (!temp && access(sopath, R_OK) == 0 && same_file(cpath, &src)) {
        st = load(sopath, c, quick, out, why, whylen);
        if (st == ST_OK) {
            buf_fini(&src);
            return ST_OK;
        }
    }
    snprintf(tmp, sizeof tmp, "%s/%016llx.%ld.c", dir, (unsigned long long)h, (long)getpid());
    char tmpso[4300];
    snprintf(tmpso, sizeof tmpso, "%s/%016llx.%ld.so", dir, (unsigned long long)h, (long)getpid());
    st = write_file(tmp, &src) ? run_cc(cfg, opt, tmp, tmpso, why, whylen) : ST_IO_ERROR;
    if (st == ST_OK && (rename(tmpso, sopath) != 0 || rename(tmp, cpath) != 0))
        st = ST_IO_ERROR;
    if (st == ST_OK)
        st = load(sopath, c, quick, out, why, whylen);
    unlink(tmp);
    unlink(tmpso);
    if (temp) {
        unlink(cpath);
        unlink(sopath);
        rmdir(dir);
    }
    buf_fini(&src);
    return st;
}

engine_native *engine_native_share(engine_native *n)
{
    __atomic_add_fetch(&n->owners, 1, __ATOMIC_RELAXED);
    return n;
}

void engine_native_free(engine_native *n)
{
    if (!n || __atomic_sub_fetch(&n->owners, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    dlclose(n->dl);
    base_free(n);
}

void engine_code_attach_native(engine_code *c, engine_native *n)
{
    __atomic_store_n(&c->native, n, __ATOMIC_RELEASE); /* instances of other threads may look */
}

bool engine_instance_compiled(const engine_instance *inst)
{
    return inst->ni != NULL;
}
