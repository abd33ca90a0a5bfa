/* engine.h - tally's WebAssembly engine: the instruction table, module decoding and validation
 * (this part), and compilation, instances and the VM (compile.c, instance.c, vm.c).
 *
 * The engine knows nothing of canisters, ledgers or metering policy (docs/decisions.md). A decoded
 * module is an immutable, self-contained value: it owns a copy of the binary and every span in it
 * points into that copy, valid until engine_module_free(). */
#ifndef TALLY_ENGINE_H
#define TALLY_ENGINE_H

#include "base.h"

/* ---- the instruction table (opcodes.def) ------------------------------------------------ */

typedef enum opcode {
#define OP(pre, code, name, text, imm, shape, sig, w1, w2, flags) OP_##name,
#include "opcodes.def"
#undef OP
    OP_COUNT,
    OP_INVALID = 0xffff
} opcode;

typedef enum imm_kind {
    IMM_NONE,
    IMM_BLOCKTYPE,     /* s33: 0x40 empty, a valtype, or a type index */
    IMM_LABEL,         /* u32 label depth */
    IMM_BR_TABLE,      /* vec(u32) then u32 default */
    IMM_FUNC,          /* u32 function index */
    IMM_CALL_INDIRECT, /* u32 type index, u32 table index */
    IMM_LOCAL,         /* u32 local index */
    IMM_GLOBAL,        /* u32 global index */
    IMM_TABLE,         /* u32 table index */
    IMM_MEM8,          /* memarg (u32 align log2, u32 offset), natural alignment 1 */
    IMM_MEM16,
    IMM_MEM32,
    IMM_MEM64,
    IMM_MEMIDX,      /* one byte, must be 0x00 (memory index) */
    IMM_I32,         /* s32 */
    IMM_I64,         /* s64 */
    IMM_F32,         /* 4 raw bytes */
    IMM_F64,         /* 8 raw bytes */
    IMM_SELECT_T,    /* vec(valtype), length must be 1 */
    IMM_REFTYPE,     /* one byte: 0x70 funcref or 0x6F externref */
    IMM_DATA_MEM,    /* u32 data index, then byte 0x00 */
    IMM_DATA,        /* u32 data index */
    IMM_MEM_MEM,     /* bytes 0x00 0x00 */
    IMM_ELEM_TABLE,  /* u32 elem index, u32 table index */
    IMM_ELEM,        /* u32 elem index */
    IMM_TABLE_TABLE, /* u32 destination table, u32 source table */
} imm_kind;

/* How the compiler translates an instruction (opcodes.def column `shape`; the operand layouts of
 * the internal code are in engine_int.h). */
typedef enum opcode_shape {
    SH_OWN,   /* compiled by hand (compile.c) */
    SH_UN,    /* one operand, one result: VM op NAME (d, a) */
    SH_BIN,   /* two operands, one result: VM op NAME (d, a, b) */
    SH_BINI,  /* SH_BIN, and NAME_I (d, a, imm) when the right operand is a constant */
    SH_CMP,   /* an i32 comparison: SH_BINI, and compare-and-branch forms BR_NAME, BR_NAME_I */
    SH_LOAD,  /* memarg load: NAME (d, a, offset) */
    SH_STORE, /* memarg store: NAME (a, v, offset) */
} opcode_shape;

enum opcode_flags {
    F_BB_END = 1u << 0,
    F_BB_LOOP = 1u << 1,
    F_CONTROL = 1u << 2,
    F_BRANCH = 1u << 3,
    F_CALL = 1u << 4,
    F_TRAP = 1u << 5,
    F_MEMORY = 1u << 6,
    F_FLOAT = 1u << 7,
    F_CANON = 1u << 8,
    F_BULK = 1u << 9,
    F_CONST = 1u << 10,
    F_NO_CANISTER = 1u << 11,
};

/* Weight schedules known to this build (opcodes.def has one column per schedule): v1 = the
 * IC's weights, v2 = v1 with the outliers measured by `tally bench weights` fixed
 * (docs/weights.md). LATEST is what tools use by default (`tally instrument`) and stays v1, like
 * the genesis default (ledger/genesis.def), until a chain adopts v2; MAX is the highest
 * schedule known. */
enum {
    ENGINE_SCHEDULE_V1 = 1,
    ENGINE_SCHEDULE_V2 = 2,
    ENGINE_SCHEDULE_LATEST = ENGINE_SCHEDULE_V1,
    ENGINE_SCHEDULE_MAX = ENGINE_SCHEDULE_V2,
};

typedef struct opcode_info {
    uint8_t prefix;    /* 0x00 or 0xFC */
    uint32_t code;     /* byte, or sub-opcode after 0xFC */
    const char *cname; /* "I32_ADD" */
    const char *text;  /* "i32.add" */
    imm_kind imm;
    opcode_shape shape;
    const char *sig; /* "ii>i", "" or "*" (see opcodes.def) */
    uint32_t weight_v1;
    uint32_t weight_v2;
    uint32_t flags;
} opcode_info;

/* Indexed by opcode. */
extern const opcode_info engine_opcodes[OP_COUNT];
/* Byte maps behind the two lookups below: OP_x + 1, or 0 where undefined. */
extern const uint16_t engine_opcode_by_byte_[256];
enum { ENGINE_FC_COUNT = 18 }; /* 0xFC sub-opcodes 0..17 */
extern const uint16_t engine_opcode_by_fc_[ENGINE_FC_COUNT];

/* The opcode of a one-byte instruction, OP_INVALID if undefined (also for the 0xFC prefix). */
static inline opcode engine_opcode_from_byte(uint8_t b)
{
    uint16_t v = engine_opcode_by_byte_[b];
    return v ? (opcode)(v - 1) : OP_INVALID;
}
/* The opcode of 0xFC-prefixed sub-opcode `sub`, OP_INVALID if undefined. */
static inline opcode engine_opcode_from_fc(uint32_t sub)
{
    if (sub >= ENGINE_FC_COUNT)
        return OP_INVALID;
    uint16_t v = engine_opcode_by_fc_[sub];
    return v ? (opcode)(v - 1) : OP_INVALID;
}
/* Weight of op under schedule `schedule` (ENGINE_SCHEDULE_*); UINT32_MAX if unknown schedule. */
uint32_t engine_opcode_weight(opcode op, int schedule);
/* Name of the feature a non-MVP/unsupported first byte belongs to ("SIMD", "threads",
 * "exception handling", "tail calls", "GC"...), or NULL if the byte is simply illegal. */
const char *engine_unsupported_feature(uint8_t byte);

/* ---- types -------------------------------------------------------------------------------- */

enum valtype {
    VT_I32 = 0x7f,
    VT_I64 = 0x7e,
    VT_F32 = 0x7d,
    VT_F64 = 0x7c,
    VT_V128 = 0x7b, /* rejected: SIMD */
    VT_FUNCREF = 0x70,
    VT_EXTERNREF = 0x6f,
};

typedef struct functype {
    uint32_t nparams;
    uint32_t nresults;
    const uint8_t *types; /* nparams params then nresults results (enum valtype) */
} functype;

typedef struct limits {
    uint32_t min;
    uint32_t max; /* valid if has_max */
    bool has_max;
} limits;

typedef struct tabletype {
    uint8_t elem; /* VT_FUNCREF or VT_EXTERNREF */
    limits lim;
} tabletype;

typedef struct globaltype {
    uint8_t type;
    bool mut;
} globaltype;

enum extern_kind { EXT_FUNC = 0, EXT_TABLE = 1, EXT_MEMORY = 2, EXT_GLOBAL = 3 };

typedef struct import {
    span module;
    span name;
    uint8_t kind; /* enum extern_kind */
    union {
        uint32_t type; /* EXT_FUNC: type index */
        tabletype table;
        limits mem;
        globaltype global;
    } u;
} import;

typedef struct export
{
    span name;
    uint8_t kind;
    uint32_t index;
}
export;

/* A defined function. Its code starts after the local declarations: `body` holds the
 * instructions up to and including the final `end`. */
typedef struct func {
    uint32_t type;
    uint32_t nlocals;           /* declared locals, parameters not included */
    const uint8_t *local_types; /* nlocals entries */
    span body;
    size_t body_offset; /* offset of body.ptr in the module binary (error reports) */
} func;

enum segment_mode { SEG_ACTIVE = 0, SEG_PASSIVE = 1, SEG_DECLARATIVE = 2 };

typedef struct elem_segment {
    uint8_t mode;
    uint8_t type;   /* VT_FUNCREF or VT_EXTERNREF */
    uint32_t table; /* active only */
    span offset;    /* active only: constant expression including its final end */
    uint32_t count;
    const uint32_t *funcs; /* function indices (binary forms 0-3), or NULL ... */
    const span *exprs;     /* ... constant expressions (forms 4-7), each with its end */
} elem_segment;

typedef struct data_segment {
    uint8_t mode; /* SEG_ACTIVE or SEG_PASSIVE */
    uint32_t mem;
    span offset; /* active only */
    span bytes;
} data_segment;

typedef struct custom_section {
    span name;
    span data;
    size_t offset;
} custom_section;

/* A decoded module. Index spaces list imports first, then definitions (spec 2.5). */
typedef struct engine_module {
    span bytes; /* the module's own copy of the binary */

    uint32_t ntypes;
    const functype *types;

    uint32_t nimports;
    const import *imports;

    uint32_t nfuncs, nfunc_imports;
    const uint32_t *func_types; /* type index of every function, imports first */
    const func *funcs;          /* the nfuncs - nfunc_imports defined functions */

    uint32_t ntables, ntable_imports;
    const tabletype *tables;

    uint32_t nmems, nmem_imports;
    const limits *mems;

    uint32_t nglobals, nglobal_imports;
    const globaltype *globals;
    const span *global_inits; /* nglobals - nglobal_imports constant expressions */

    uint32_t nexports;
    const export *exports;

    bool has_start;
    uint32_t start;

    uint32_t nelems;
    const elem_segment *elems;

    uint32_t ndatas;
    const data_segment *datas;
    bool has_datacount;
    uint32_t datacount;

    uint32_t ncustoms;
    const custom_section *customs;
} engine_module;

/* ---- configuration: static limits a hostile module cannot exceed ------------------------ */

typedef struct engine_config {
    size_t max_module_size; /* bytes */
    uint32_t max_types;
    uint32_t max_funcs; /* imported + defined */
    uint32_t max_imports;
    uint32_t max_exports;
    uint32_t max_globals;
    uint32_t max_tables;        /* 1 unless reference types' multiple tables are allowed */
    uint32_t max_table_size;    /* elements, for declared limits */
    uint32_t max_memory_pages;  /* 64 KiB pages a memory may declare or grow to */
    uint32_t max_segments;      /* elem and data segments, each */
    uint32_t max_segment_elems; /* elements of one elem segment */
    uint32_t max_params;        /* params or results of one function type */
    uint32_t max_locals;        /* declared locals of one function (params included) */
    uint32_t max_func_size;     /* bytes of one function body */
    uint32_t max_nesting;       /* control stack depth during validation */
    uint32_t max_br_table;      /* targets of one br_table */
    uint32_t max_customs;       /* custom sections */
    uint32_t max_operand_stack; /* operand stack height of one function during validation */
} engine_config;

/* Fills cfg with tally's defaults (docs/features.md lists them). */
void engine_config_default(engine_config *cfg);

/* Where and why a module was rejected. */
typedef struct engine_error {
    status st;
    size_t offset;    /* byte offset in the module binary, or ENGINE_ERROR_NO_OFFSET when the
                          error is about a name (an embedder's import or export rule) */
    char detail[160]; /* e.g. "SIMD (0xfd prefix)", "function 3", "export \"f\"" */
} engine_error;

/* Decodes a binary module (spec 5) into *out. Copies `bytes`; the caller keeps its buffer.
 * Returns ST_OK, an INVALID status of the 1xx range (malformed), ST_UNSUPPORTED_FEATURE,
 * ST_LIMIT_EXCEEDED, or ST_OUT_OF_MEMORY (FAULT). On failure *out is NULL, nothing leaks and
 * err (if not NULL) says where. Decoding checks everything the binary format requires (section
 * order and sizes, LEB128 ranges, UTF-8 names, function/code count agreement, data count) but
 * not the validation rules; run engine_module_validate() next. */
status engine_module_decode(const engine_config *cfg, span bytes, engine_module **out,
                            engine_error *err);

/* Validates a decoded module per spec 3 (types of every instruction, index spaces, limits,
 * constant expressions, start function, unique export names, declared function references).
 * Returns ST_OK, an INVALID status of the 2xx range, ST_LIMIT_EXCEEDED or ST_OUT_OF_MEMORY.
 * Does not modify the module. */
status engine_module_validate(const engine_config *cfg, const engine_module *m, engine_error *err);

/* Decode then validate. */
status engine_module_load(const engine_config *cfg, span bytes, engine_module **out,
                          engine_error *err);

void engine_module_free(engine_module *m);

/* The function type of function index `f` (imports first). f must be < m->nfuncs. */
static inline const functype *engine_func_type(const engine_module *m, uint32_t f)
{
    return &m->types[m->func_types[f]];
}

#define ENGINE_ERROR_NO_OFFSET SIZE_MAX

/* Formats err as "STATUS_NAME: message (detail) at offset N" into out ("... (detail)" without
 * an offset when err->offset is ENGINE_ERROR_NO_OFFSET). */
void engine_error_format(const engine_error *err, char *out, size_t outlen);

/* ---- instruction reader (decode.c): one instruction and its immediates -------------------- */

/* One decoded instruction. Which fields are set depends on engine_opcodes[op].imm. */
typedef struct engine_insn {
    opcode op;
    uint32_t a;     /* LABEL depth; FUNC, LOCAL, GLOBAL, TABLE, DATA, ELEM index; DATA_MEM data;
                       CALL_INDIRECT type; ELEM_TABLE elem; TABLE_TABLE destination table;
                       memarg alignment (log2); BLOCKTYPE type index (when type == 0);
                       BR_TABLE number of targets (default excluded); SELECT_T vector length */
    uint32_t b;     /* CALL_INDIRECT and ELEM_TABLE table; TABLE_TABLE source table;
                       memarg offset; BR_TABLE default label */
    uint8_t type;   /* BLOCKTYPE: a valtype, 0x40 for the empty type, 0 for a type index in a;
                       SELECT_T: the first valtype (0 if the vector is empty); REFTYPE: the type */
    uint64_t value; /* I32 (zero-extended bits), I64, F32 and F64 bits */
    span targets;   /* BR_TABLE: the `a` LEB128 u32 labels, well-formed; reread with reader_u32 */
} engine_insn;

/* Reads the instruction at r->pos and advances past it. Checks the binary format only (defined
 * opcode, LEB128 ranges, zero bytes, reference/value type bytes), not the validation rules.
 * Returns ST_OK, ST_UNEXPECTED_END, ST_INT_TOO_LONG, ST_INT_TOO_LARGE, ST_ILLEGAL_OPCODE,
 * ST_ZERO_BYTE_EXPECTED, ST_MALFORMED_VALTYPE, ST_MALFORMED_REFTYPE or ST_UNSUPPORTED_FEATURE;
 * on failure r->pos is unspecified and *feature (if not NULL) names an unsupported feature. */
status engine_insn_read(reader *r, engine_insn *out, const char **feature);

/* ---- compilation, instances and the VM -------------------------------------------------
 *
 * A validated module is compiled once (engine_code_compile) into tally's internal code; the
 * compiled module is immutable and shared by every instance made from it. An instance owns its
 * globals, tables, linear memory and its execution state (call frames and value slots) in one
 * allocation plus the linear memory (a heap block, or an address-space reservation past 1 MiB
 * whose pages cost memory only once written: memory.c). Execution never recurses on the C stack for Wasm calls,
 * stops at fixed, configured call-depth and value-slot limits, and can pause after a host call
 * and resume later (deterministic time slicing).
 *
 * Values cross the API as 64-bit slots: i32 in the low 32 bits (upper bits zero), i64 as is,
 * f32/f64 as their IEEE bit patterns, references as opaque non-zero words with 0 = null
 * (a funcref is an engine_func pointer; an externref is whatever the host put there). */

typedef struct engine_code engine_code;         /* compiled module (immutable, shared) */
typedef struct engine_instance engine_instance; /* module instance + execution state */
typedef struct engine_func engine_func;         /* function instance (Wasm or host) */
typedef struct engine_table engine_table;       /* table instance */
typedef struct engine_memory engine_memory;     /* linear memory instance */
typedef struct engine_global engine_global;     /* global instance */

/* Run-time limits, fixed per instance: a hostile module cannot exceed them. */
typedef struct engine_run_config {
    uint32_t max_call_depth;   /* nested Wasm calls; more is ST_TRAP_CALL_STACK_EXHAUSTED */
    uint32_t max_value_slots;  /* 64-bit slots of all frames together; more: the same trap */
    uint32_t max_memory_pages; /* memory.grow never goes past this (nor the declared max) */
    uint32_t max_table_elems;  /* table.grow never goes past this (nor the declared max) */
    uint64_t *budget;          /* memory budget of every instance made with this config, from
                                  its start function on (engine_instance_set_budget); NULL */
} engine_run_config;

/* Defaults (docs/features.md): 10000 calls, 1 Mi slots (8 MiB), pages and table elements from
 * cfg (max_memory_pages, max_table_size), or tally's engine_config defaults if cfg is NULL. */
void engine_run_config_default(const engine_config *cfg, engine_run_config *out);

/* Compiles every function of the validated module m. m must stay alive (and unchanged) until
 * engine_code_free(). Returns ST_OK, ST_LIMIT_EXCEEDED (a function needs more than 2^24 slots
 * or its code more than 2^30 words) or ST_OUT_OF_MEMORY; *out is NULL on failure. */
status engine_code_compile(const engine_module *m, engine_code **out);
void engine_code_free(engine_code *c);
const engine_module *engine_code_module(const engine_code *c);

/* A host function: `slots` holds the arguments on entry (nparams slots) and receives the
 * results (nresults slots, from slots[0]). `inst` is the instance whose code made the call
 * (its memory: engine_instance_memory). Return ST_OK, or any TRAP status to abort the run with
 * it (ST_TRAP_HOST if nothing better fits); a FAULT status aborts the run too and is returned
 * as is. A host function may call engine_instance_pause_request(). */
typedef status (*engine_host_fn)(engine_instance *inst, void *user, uint64_t *slots);

/* Standalone objects made by the embedder, to be imported (the spectest module, host APIs).
 * Each returns ST_OK or ST_OUT_OF_MEMORY; the type/limits are copied. Free with the matching
 * _free only after every instance that imported it is freed. */
status engine_host_func_new(const functype *type, engine_host_fn fn, void *user,
                            engine_func **out);
void engine_host_func_free(engine_func *f);
status engine_global_new(globaltype type, uint64_t value, engine_global **out);
void engine_global_free(engine_global *g);
/* elements start null; limits as declared (max bounded by rc->max_table_elems). */
status engine_table_new(const engine_run_config *rc, tabletype type, engine_table **out);
void engine_table_free(engine_table *t);
status engine_memory_new(const engine_run_config *rc, limits lim, engine_memory **out);
void engine_memory_free(engine_memory *mem);

/* An external value: what an import is given, what an export yields. */
typedef struct engine_extern {
    uint8_t kind; /* enum extern_kind */
    union {
        engine_func *func;
        engine_table *table;
        engine_memory *memory;
        engine_global *global;
    } u;
} engine_extern;

/* Instantiates c (spec 4.5.4): checks imports[i] against the module's import i (nimports must
 * equal the module's), creates globals, tables and memory, applies element then data segments
 * in order and runs the start function. `host` is the embedder's pointer for the instance
 * (engine_instance_host; may be NULL), set before the start function runs so that its host
 * calls find their context. Returns:
 *   ST_OK                  *out is the new instance;
 *   ST_INCOMPATIBLE_IMPORT an import has the wrong kind or type (err->detail names it), or
 *                          nimports is wrong; *out is NULL;
 *   ST_OUT_OF_MEMORY       *out is NULL, nothing leaks;
 *   a TRAP status          a segment was out of bounds or the start function trapped. Per spec
 *                          2.0 the effects of earlier segments on imported tables/memories stay,
 *                          and those may now refer to this instance's functions, so *out is the
 *                          (half-initialized) instance and the caller owns it: free it only when
 *                          nothing refers to it any more.
 * Imported objects are shared by reference and must outlive the instance. err may be NULL. */
status engine_instance_new(const engine_code *c, const engine_run_config *rc,
                           const engine_extern *imports, uint32_t nimports, void *host,
                           engine_instance **out, engine_error *err);
/* As engine_instance_new, but the start function does not run: *start gets it (NULL if the
 * module has none, or when instantiation failed before it), for the embedder to run, e.g. in
 * slices with engine_instance_invoke_begin/_run (host-api slices a canister's start function). */
status engine_instance_new_deferred(const engine_code *c, const engine_run_config *rc,
                                    const engine_extern *imports, uint32_t nimports, void *host,
                                    engine_instance **out, engine_func **start, engine_error *err);
void engine_instance_free(engine_instance *inst);
const engine_module *engine_instance_module(const engine_instance *inst);

/* Looks up export `name`: ST_OK or ST_UNKNOWN_EXPORT. The extern is valid while inst lives. */
status engine_instance_export(const engine_instance *inst, span name, engine_extern *out);
/* The instance's memory 0, or NULL if it has none. */
engine_memory *engine_instance_memory(engine_instance *inst);
/* Memory budget: from now on memory.grow and table.grow on inst's memory and tables (engine_
 * memory_grow too) need `*bytes` to hold what they add (64 KiB per page, 8 bytes per table
 * element) and take it from there; past it they return -1 (ST_LIMIT_EXCEEDED), deterministically
 * (a count, never the host's free memory). *bytes is the embedder's and must outlive the use;
 * NULL: no budget. Shrinking gives nothing back: the embedder recounts (engine_memory_size,
 * engine_instance_table_bytes) before each run. */
void engine_instance_set_budget(engine_instance *inst, uint64_t *bytes);
/* Bytes the budget counts for inst's tables: 8 per element of every table. */
uint64_t engine_instance_table_bytes(const engine_instance *inst);

/* Linear memory: current base and size in bytes. The base moves when the memory grows (by
 * memory.grow in Wasm code or engine_memory_grow): re-read it after any call into Wasm. Grow by
 * `delta` pages: *old_pages gets the previous size, ST_OK, or ST_LIMIT_EXCEEDED or
 * ST_OUT_OF_MEMORY (unchanged). */
uint8_t *engine_memory_data(engine_memory *mem);
uint64_t engine_memory_size(const engine_memory *mem);
status engine_memory_grow(engine_memory *mem, uint32_t delta, uint32_t *old_pages);

/* Globals: type and value. set: ST_OK, or ST_IMMUTABLE_GLOBAL for an immutable global. */
globaltype engine_global_type(const engine_global *g);
uint64_t engine_global_get(const engine_global *g);
status engine_global_set(engine_global *g, uint64_t value);

const functype *engine_func_functype(const engine_func *f);

/* Calls f with args (nparams slots) and runs it to completion, storing its results (nresults
 * slots) into results. Pause requests are ignored (the run goes on). The execution state of
 * inst is used, which must not be busy (mid-run or paused: ST_BUG_INVARIANT). f may belong to
 * another instance (or be a host function). Returns ST_OK, a TRAP status (the state is reset,
 * ready for the next call), or a FAULT status from a host function. */
status engine_instance_invoke(engine_instance *inst, const engine_func *f, const uint64_t *args,
                              uint64_t *results);

/* Pausable form: _begin sets up the call (ST_OK, or ST_BUG_INVARIANT if inst is busy);
 * _run runs or resumes it: returns ST_OK with *paused = true when a host function asked for a
 * pause (the run stops right after that call returns; call _run again to continue), ST_OK with
 * *paused = false when the call is complete (then read the results with _results, which also
 * makes inst idle), or a TRAP/FAULT status (inst is idle again). _abandon drops a paused run. */
status engine_instance_invoke_begin(engine_instance *inst, const engine_func *f,
                                    const uint64_t *args);
status engine_instance_run(engine_instance *inst, bool *paused);
void engine_instance_results(engine_instance *inst, uint64_t *results);
void engine_instance_abandon(engine_instance *inst);
/* From inside a host function: pause the run after this call returns. */
void engine_instance_pause_request(engine_instance *inst);
/* The embedder's pointer given to engine_instance_new (host-api: the canister being run), so
 * that host functions shared by every instance find their context. */
void *engine_instance_host(const engine_instance *inst);
/* Deepest call depth reached by the last run (tests, benchmarks). */
uint32_t engine_instance_max_depth(const engine_instance *inst);

/* ---- the compiled tier (native.c, emit.c; docs/engine.md "The compiled tier") ----------
 *
 * A compiled module can also be translated to C (emit.c) and built by the system C compiler
 * into a shared object (native.c) that runs the same functions with the same results, traps,
 * instruction counts, memory, globals and limits as the interpreter. Instances made after
 * engine_code_attach_native() run their calls compiled (engine_instance_invoke and _run, with
 * pauses); the interpreter stays the reference and the fallback. */

typedef struct engine_native engine_native;

/* How the C is built (docs/engine.md "The quick route"). */
typedef enum engine_native_route {
    ENGINE_NATIVE_CC,    /* the system C compiler, optimizing: fast code, seconds per 100 KB */
    ENGINE_NATIVE_QUICK, /* TinyCC (tcc): about 1 s per MB of Wasm, slower code; objects whose
                            stack frames break the frame rule are refused */
} engine_native_route;

typedef struct engine_native_config {
    engine_native_route route; /* ENGINE_NATIVE_CC */
    const char *cc;            /* the C compiler: $TALLY_CC, or "cc" (quick: $TALLY_TCC, "tcc") */
    const char *opt;           /* optimization flag: "-O2" */
    const char *large_opt;     /* ... for generated sources past large_source_bytes: "-O1" */
    size_t large_source_bytes; /* 256 KiB */
    const char *cache_dir;     /* where compiled objects are kept by source hash; NULL: a
                                temporary directory, removed afterwards */
    uint32_t timeout_ms;       /* the compiler is killed past this: 60000 */
    size_t max_source_bytes;   /* generated C past this is not compiled: 64 MiB */
    size_t mem_limit_bytes;    /* the compiler's address space (ulimit -v); 0: unbounded */
} engine_native_config;

void engine_native_config_default(engine_native_config *cfg);
/* The quick route: tcc ($TALLY_TCC), 10 s, 2 GiB of address space, no cache directory. */
void engine_native_config_quick(engine_native_config *cfg);
/* Builds (or finds in the cache) the compiled tier of c. ST_OK and *out, or: ST_LIMIT_EXCEEDED
 * (source or time bound), ST_IO_ERROR (no C compiler, it failed, or the object did not load),
 * ST_OUT_OF_MEMORY; `why` (if not NULL) says what in words. *out must outlive every code it is
 * attached to. */
status engine_native_compile(const engine_code *c, const engine_native_config *cfg,
                             engine_native **out, char *why, size_t whylen);
/* Drops one owner of n (the compile's, or one engine_native_share added); the last frees it. */
void engine_native_free(engine_native *n);
/* Another owner of n (returned): codes of several threads may run one compiled object (the
 * node's query replicas run the code cache's), each freeing its share. Thread safe. */
engine_native *engine_native_share(engine_native *n);
/* Instances of c run compiled from now on: new ones from the start, existing ones from their
 * next call (engine_instance_invoke_begin/_run; a run already under way keeps its tier).
 * n came from engine_native_compile(c), or of a code compiled from the same module bytes
 * with the same options (a share). Safe while other threads instantiate c or run its
 * instances. Attaching again replaces the object (the node's upgrade from quick code to cc's):
 * instances switch when their next run starts; the caller keeps the previous object alive
 * until c is freed (a paused run, or an instance not yet switched, still runs in it). */
void engine_code_attach_native(engine_code *c, engine_native *n);
/* True if n was built by the quick route (ENGINE_NATIVE_QUICK). */
bool engine_native_is_quick(const engine_native *n);
/* The quick route: the largest stack frame of n's functions in bytes, as read from the object
   (the frame rule); 0 for cc's objects. */
uint32_t engine_native_max_frame(const engine_native *n);
/* True if inst's calls run in the compiled tier. */
bool engine_instance_compiled(const engine_instance *inst);

/* ---- embedder support (embed.c): rollback of a call's effects (host-api) -------- */

/* Number of globals of inst (imports first, as in the module's index space) and global
 * `index` (NULL if out of range), exported or not: an embedder that undoes a trapped call
 * saves and restores the mutable ones. */
uint32_t engine_instance_global_count(const engine_instance *inst);
engine_global *engine_instance_global(engine_instance *inst, uint32_t index);
/* Shrinks mem back to `pages` (<= its size), as if the grows since then never happened (the
 * base may move). ST_OK, or ST_BUG_INVARIANT if pages is larger than the size. */
status engine_memory_shrink(engine_memory *mem, uint32_t pages);
/* The function at `index` of inst's table 0 (a funcref table), or NULL if the module has no
 * table, the index is past its size or the element is null: the IC's callbacks are table
 * indices (host-api's inter-canister calls). Check its type with engine_func_functype. */
engine_func *engine_instance_table_func(engine_instance *inst, uint32_t index);

/* ---- write marks: a write barrier for embedders (memory.c) ------------------------------ */

/* Every write into a linear memory marks the 4 KiB page(s) it touches: Wasm stores (a store
 * that straddles two pages marks both), memory.copy/fill/init, active data segments at
 * instantiation, and engine_memory_mark. An embedder that keeps a copy of the memory (host-api:
 * the committed heap) visits only the marked pages instead of comparing all of it. The marks
 * stay set until engine_memory_marks_clear; grow adds unmarked pages (their zeros are not a
 * write), shrink drops the marks of the pages it removes. Marking is not metered.
 * A host function that writes into the memory through engine_memory_data must call
 * engine_memory_mark for the range it wrote. */
enum { ENGINE_MARK_PAGE = 4096 };
/* Marks the pages of [off, off+len) as written; the range must be inside the memory (len 0:
 * nothing). */
void engine_memory_mark(engine_memory *mem, uint64_t off, uint64_t len);
/* The first marked page index >= page, or size / ENGINE_MARK_PAGE if none. */
uint64_t engine_memory_mark_next(const engine_memory *mem, uint64_t page);
/* Unmarks every page. */
void engine_memory_marks_clear(engine_memory *mem);

#endif
