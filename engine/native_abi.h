/* native_abi.h - what compiled code (the C that emit.c generates) and native.c share: the
 * run-time structures a compiled function sees and the helpers it calls back for the slow
 * operations (docs/engine.md "The compiled tier"). Written once, as the macro
 * ENGINE_NATIVE_ABI_SOURCE: native.c expands it, emit.c writes its text into every generated
 * source (ENGINE_NATIVE_ABI_TEXT), so both sides use one definition. Friends of engine/ only. */
#ifndef TALLY_ENGINE_NATIVE_ABI_H
#define TALLY_ENGINE_NATIVE_ABI_H

/* Bumped whenever the ABI or the generated code changes: part of every cache key. */
#define ENGINE_NATIVE_ABI_VERSION 2

/* clang-format off */
#define ENGINE_NATIVE_ABI_SOURCE                                                                  \
/* A view of the first fields of engine_memory (engine_int.h; native.c checks the offsets). */    \
typedef struct nat_mem {                                                                          \
    uint8_t *base;                                                                                \
    uint64_t resv;                                                                                \
    uint64_t *budget;                                                                             \
    uint64_t len;                                                                                 \
    uint32_t pages;                                                                               \
} nat_mem;                                                                                        \
/* One run: the interpreter's limits, counted the same way (vm.c PUSH_FRAME): depth = frames in  \
   use, a callee's frame at slot fp needs fp + frame_size <= nslots. */                           \
typedef struct nat_run {                                                                          \
    uint32_t depth, maxd, hi, pad_;                                                               \
    uint64_t nslots;                                                                              \
    uintptr_t stack_lo; /* safety net: the native stack must stay above this */                   \
} nat_run;                                                                                        \
struct nat_inst;                                                                                  \
/* The slow operations (native.c). trap does not return. */                                       \
typedef struct nat_rt {                                                                           \
    void (*trap)(struct nat_inst *I, int st) __attribute__((noreturn));                           \
    void (*call)(struct nat_inst *I, uint32_t f, uint64_t fp, uint64_t *a);                       \
    void (*call_indirect)(struct nat_inst *I, uint32_t type, uint32_t table, uint32_t i,         \
                          uint64_t fp, uint64_t *a);                                              \
    uint64_t (*misc)(struct nat_inst *I, uint32_t op, uint32_t x, uint32_t y, uint64_t a,        \
                     uint64_t b, uint64_t c);                                                     \
} nat_rt;                                                                                         \
/* Per instance. globals: the engine_global pointers, whose value is their first field. */       \
typedef struct nat_inst {                                                                         \
    nat_run *run;                                                                                 \
    const nat_rt *rt;                                                                             \
    nat_mem *mem;                                                                                 \
    uint64_t **globals;                                                                           \
    void *inst;                                                                                   \
} nat_inst;                                                                                       \
/* Every defined function has a generic entry: args in a[0..nparams), results to a[0..). */      \
typedef void (*nat_generic)(nat_inst *I, uint64_t fp, uint64_t *a);                             \
typedef struct nat_module {                                                                       \
    uint32_t abi;                                                                                 \
    uint32_t nfuncs; /* defined functions */                                                      \
    const nat_generic *funcs;                                                                     \
} nat_module;                                                                                     \
enum nat_misc {                                                                                   \
    NAT_MEMORY_GROW, NAT_MEMORY_INIT, NAT_DATA_DROP, NAT_MEMORY_COPY, NAT_MEMORY_FILL,            \
    NAT_TABLE_GET, NAT_TABLE_SET, NAT_TABLE_SIZE, NAT_TABLE_GROW, NAT_TABLE_FILL,                 \
    NAT_TABLE_COPY, NAT_TABLE_INIT, NAT_ELEM_DROP, NAT_REF_FUNC                                   \
};
/* clang-format on */

#define ENGINE_NATIVE_ABI_STR_(...) #__VA_ARGS__
#define ENGINE_NATIVE_ABI_STR(...) ENGINE_NATIVE_ABI_STR_(__VA_ARGS__)
#define ENGINE_NATIVE_ABI_TEXT ENGINE_NATIVE_ABI_STR(ENGINE_NATIVE_ABI_SOURCE)

/* The one symbol a compiled object exports. */
#define ENGINE_NATIVE_SYMBOL "tally_native_module"

#endif
