/* ic0.h - the C SDK for tally canisters: the Internet Computer's `ic0` System API as seen from
 * inside a wasm32 module, entry-point macros and a few freestanding helpers.
 *
 * This header is compiled by canister authors, not by tally itself:
 *
 *   clang --target=wasm32 -O2 -nostdlib -ffreestanding -I sdk \
 *         -Wl,--no-entry -Wl,-z,stack-size=65536 -Wl,--export-table -o my.wasm my.c
 *
 * (--export-table keeps the function table that call callbacks index: without it wasm-ld may
 * drop the table of a module that makes no indirect call of its own.)
 *
 * No libc: the integer types are defined here from the compiler's predefined macros, and the
 * memcpy/memset/memmove/memcmp that the compiler may emit calls to are provided below as weak
 * definitions (so one canister can include this header from several files).
 *
 * Imports: every `ic0_*` function declared here is imported from module "ic0" under its spec
 * name (ic0_msg_reply -> "ic0" "msg_reply"); the linker keeps only those a canister calls. The
 * names, Wasm signatures, costs and allowed contexts are those of host-api/ic0.def (the IC
 * interface specification, 32-bit form); only the functions tally SUPPORTs are declared, so a
 * canister written against this header never calls something tally does not implement.
 * Numbers are unsigned as in the spec; a "blob" is read with *_size + *_copy(dst, offset, size)
 * and written with (src, size).
 *
 * Exports: IC_UPDATE(name) { ... } defines the entry point exported as "canister_update name";
 * likewise IC_QUERY, IC_INIT, IC_PRE_UPGRADE, IC_POST_UPGRADE, IC_HEARTBEAT, IC_GLOBAL_TIMER,
 * IC_INSPECT_MESSAGE. Entry points take no arguments and return nothing; arguments come from
 * ic0_msg_arg_data_*, results go out through ic0_msg_reply / ic0_msg_reject.
 */
#ifndef TALLY_IC0_H
#define TALLY_IC0_H

#if !defined(__wasm32__)
#error "ic0.h is for canisters: compile with clang --target=wasm32"
#endif

/* ---- Freestanding integer types (no libc). Same spellings as <stdint.h>; a repeated
 * compatible typedef is allowed in C11, so including <stdint.h> as well is harmless. ---- */
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __SIZE_TYPE__ size_t;
#ifndef NULL
#define NULL ((void *)0)
#endif

#define IC0_IMPORT(name) __attribute__((import_module("ic0"), import_name(#name)))

/* ---- Method arguments and caller (spec "Method arguments"). ---- */
IC0_IMPORT(msg_arg_data_size) uint32_t ic0_msg_arg_data_size(void);
IC0_IMPORT(msg_arg_data_copy)
void ic0_msg_arg_data_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(msg_caller_size) uint32_t ic0_msg_caller_size(void);
IC0_IMPORT(msg_caller_copy) void ic0_msg_caller_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(msg_caller_info_data_size) uint32_t ic0_msg_caller_info_data_size(void);
IC0_IMPORT(msg_caller_info_data_copy)
void ic0_msg_caller_info_data_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(msg_caller_info_signer_size) uint32_t ic0_msg_caller_info_signer_size(void);
IC0_IMPORT(msg_caller_info_signer_copy)
void ic0_msg_caller_info_signer_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(msg_reject_code) uint32_t ic0_msg_reject_code(void);
IC0_IMPORT(msg_reject_msg_size) uint32_t ic0_msg_reject_msg_size(void);
IC0_IMPORT(msg_reject_msg_copy)
void ic0_msg_reject_msg_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(msg_deadline) uint64_t ic0_msg_deadline(void);

/* ---- Responding (spec "Responding"): append* then reply once, or reject once. ---- */
IC0_IMPORT(msg_reply_data_append) void ic0_msg_reply_data_append(const void *src, uint32_t size);
IC0_IMPORT(msg_reply) void ic0_msg_reply(void);
IC0_IMPORT(msg_reject) void ic0_msg_reject(const void *src, uint32_t size);

/* ---- Cycles (docs/canisters.md "Cycles"). 128-bit amounts are written to `dst` as 16 bytes
 * little-endian (ic_cycles below reads them); the 64-bit forms trap past 2^64. ---- */
IC0_IMPORT(canister_cycle_balance) uint64_t ic0_canister_cycle_balance(void);
IC0_IMPORT(canister_cycle_balance128) void ic0_canister_cycle_balance128(void *dst);
IC0_IMPORT(canister_liquid_cycle_balance128) void ic0_canister_liquid_cycle_balance128(void *dst);
IC0_IMPORT(cycles_burn128)
void ic0_cycles_burn128(uint64_t amount_high, uint64_t amount_low, void *dst);
/* ---- Cycles of the message (spec "Cycles"): what a request carries, accepting it, refunds in
 * callbacks. The *128 forms write 16 bytes (low 64 bits first) at dst. ---- */
IC0_IMPORT(msg_cycles_available) uint64_t ic0_msg_cycles_available(void);
IC0_IMPORT(msg_cycles_available128) void ic0_msg_cycles_available128(void *dst);
IC0_IMPORT(msg_cycles_refunded) uint64_t ic0_msg_cycles_refunded(void);
IC0_IMPORT(msg_cycles_refunded128) void ic0_msg_cycles_refunded128(void *dst);
IC0_IMPORT(msg_cycles_accept) uint64_t ic0_msg_cycles_accept(uint64_t max_amount);
IC0_IMPORT(msg_cycles_accept128)
void ic0_msg_cycles_accept128(uint64_t max_amount_high, uint64_t max_amount_low, void *dst);

/* ---- Inter-canister calls (spec "Inter-canister method calls"; docs/canisters.md "Calls"):
 * call_new, then call_data_append / call_on_cleanup / call_cycles_add*, then call_perform
 * (0: sent). Callbacks are table indices of functions void f(uint32_t env): pass IC_FN(f).
 * An empty callee (size 0) is the management canister aaaaa-aa. ---- */
IC0_IMPORT(call_new)
void ic0_call_new(const void *callee_src, uint32_t callee_size, const void *name_src,
                  uint32_t name_size, uint32_t reply_fun, uint32_t reply_env, uint32_t reject_fun,
                  uint32_t reject_env);
IC0_IMPORT(call_on_cleanup) void ic0_call_on_cleanup(uint32_t fun, uint32_t env);
IC0_IMPORT(call_data_append) void ic0_call_data_append(const void *src, uint32_t size);
IC0_IMPORT(call_with_best_effort_response)
void ic0_call_with_best_effort_response(uint32_t timeout_seconds);
IC0_IMPORT(call_cycles_add) void ic0_call_cycles_add(uint64_t amount);
IC0_IMPORT(call_cycles_add128)
void ic0_call_cycles_add128(uint64_t amount_high, uint64_t amount_low);
IC0_IMPORT(call_perform) uint32_t ic0_call_perform(void);

/* ---- The canister itself. canister_status: 1 running, 2 stopping, 3 stopped. ---- */
IC0_IMPORT(canister_self_size) uint32_t ic0_canister_self_size(void);
IC0_IMPORT(canister_self_copy)
void ic0_canister_self_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(canister_status) uint32_t ic0_canister_status(void);
IC0_IMPORT(canister_version) uint64_t ic0_canister_version(void);
IC0_IMPORT(subnet_self_size) uint32_t ic0_subnet_self_size(void);
IC0_IMPORT(subnet_self_copy) void ic0_subnet_self_copy(void *dst, uint32_t offset, uint32_t size);

/* ---- Ingress inspection (canister_inspect_message only). ---- */
IC0_IMPORT(msg_method_name_size) uint32_t ic0_msg_method_name_size(void);
IC0_IMPORT(msg_method_name_copy)
void ic0_msg_method_name_copy(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(accept_message) void ic0_accept_message(void);

/* ---- Stable memory, in 64 KiB pages. *_grow returns the old size, or -1 (all ones) when the
 * growth is refused; it does not trap. The 32-bit API traps once stable memory passes 4 GiB. ---- */
IC0_IMPORT(stable_size) uint32_t ic0_stable_size(void);
IC0_IMPORT(stable_grow) uint32_t ic0_stable_grow(uint32_t new_pages);
IC0_IMPORT(stable_write) void ic0_stable_write(uint32_t offset, const void *src, uint32_t size);
IC0_IMPORT(stable_read) void ic0_stable_read(void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(stable64_size) uint64_t ic0_stable64_size(void);
IC0_IMPORT(stable64_grow) uint64_t ic0_stable64_grow(uint64_t new_pages);
IC0_IMPORT(stable64_write) void ic0_stable64_write(uint64_t offset, uint64_t src, uint64_t size);
IC0_IMPORT(stable64_read) void ic0_stable64_read(uint64_t dst, uint64_t offset, uint64_t size);

/* ---- Certification (tally: no certificate; data_certificate_present() is 0). ---- */
IC0_IMPORT(certified_data_set) void ic0_certified_data_set(const void *src, uint32_t size);
IC0_IMPORT(data_certificate_present) uint32_t ic0_data_certificate_present(void);
IC0_IMPORT(data_certificate_size) uint32_t ic0_data_certificate_size(void);
IC0_IMPORT(data_certificate_copy)
void ic0_data_certificate_copy(void *dst, uint32_t offset, uint32_t size);

/* ---- Time (ns since 1970; the block's time, constant within a message), timer, counters.
 * global_timer_set(t) arms canister_global_timer for the first round whose block time is >= t
 * and returns the previous timer (0: none); 0 disarms (docs/canisters.md "Timers and
 * heartbeat"). ---- */
IC0_IMPORT(time) uint64_t ic0_time(void);
IC0_IMPORT(global_timer_set) uint64_t ic0_global_timer_set(uint64_t timestamp);
IC0_IMPORT(performance_counter) uint64_t ic0_performance_counter(uint32_t counter_type);
IC0_IMPORT(is_controller) uint32_t ic0_is_controller(const void *src, uint32_t size);
IC0_IMPORT(in_replicated_execution) uint32_t ic0_in_replicated_execution(void);

/* ---- Environment variables (tally canisters have none). ---- */
IC0_IMPORT(env_var_count) uint32_t ic0_env_var_count(void);
IC0_IMPORT(env_var_name_size) uint32_t ic0_env_var_name_size(uint32_t index);
IC0_IMPORT(env_var_name_copy)
void ic0_env_var_name_copy(uint32_t index, void *dst, uint32_t offset, uint32_t size);
IC0_IMPORT(env_var_name_exists) uint32_t ic0_env_var_name_exists(const void *src, uint32_t size);
IC0_IMPORT(env_var_value_size) uint32_t ic0_env_var_value_size(const void *src, uint32_t size);
IC0_IMPORT(env_var_value_copy)
void ic0_env_var_value_copy(const void *name, uint32_t name_size, void *dst, uint32_t offset,
                            uint32_t size);

/* ---- Debugging and traps. ic0_trap never returns. ---- */
IC0_IMPORT(debug_print) void ic0_debug_print(const void *src, uint32_t size);
IC0_IMPORT(trap) __attribute__((noreturn)) void ic0_trap(const void *src, uint32_t size);

/* performance_counter types. */
#define IC0_COUNTER_INSTRUCTIONS 0u   /* instructions of this message execution */
#define IC0_COUNTER_CALL_CONTEXT 1u   /* instructions of this call context */
#define IC0_STABLE_PAGE_SIZE 65536u   /* stable memory page, as Wasm's */
#define IC0_GROW_FAILED32 0xffffffffu /* stable_grow's "refused" */
#define IC0_GROW_FAILED64 0xffffffffffffffffull

/* ---- Entry points. The function bodies follow the macro: IC_UPDATE(inc) { ... } ---- */
#define IC_EXPORT_AS(sym, fn) __attribute__((export_name(sym))) void fn(void)
#define IC_UPDATE(name) IC_EXPORT_AS("canister_update " #name, ic_update_##name)
#define IC_QUERY(name) IC_EXPORT_AS("canister_query " #name, ic_query_##name)
#define IC_INIT() IC_EXPORT_AS("canister_init", ic_canister_init)
#define IC_PRE_UPGRADE() IC_EXPORT_AS("canister_pre_upgrade", ic_canister_pre_upgrade)
#define IC_POST_UPGRADE() IC_EXPORT_AS("canister_post_upgrade", ic_canister_post_upgrade)
#define IC_HEARTBEAT() IC_EXPORT_AS("canister_heartbeat", ic_canister_heartbeat)
#define IC_GLOBAL_TIMER() IC_EXPORT_AS("canister_global_timer", ic_canister_global_timer)
#define IC_INSPECT_MESSAGE() IC_EXPORT_AS("canister_inspect_message", ic_canister_inspect_message)

/* ---- Memory functions. The compiler may emit calls to these four (struct copies, large
 * initialisers); weak so that every file of a canister may include this header. ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

__attribute__((weak)) void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n-- > 0) {
        *d++ = *s++;
    }
    return dst;
}

__attribute__((weak)) void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    if (d < s) {
        while (n-- > 0) {
            *d++ = *s++;
        }
    } else {
        while (n-- > 0) {
            d[n] = s[n];
        }
    }
    return dst;
}

__attribute__((weak)) void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    while (n-- > 0) {
        *d++ = (unsigned char)c;
    }
    return dst;
}

__attribute__((weak)) int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

/* ---- Small helpers. ---- */
static inline size_t ic_strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

/* Traps with the message `msg` (a C string): the message fails, nothing it did is kept. */
__attribute__((noreturn)) static inline void ic_trap(const char *msg)
{
    ic0_trap(msg, (uint32_t)ic_strlen(msg));
}

/* Prints a C string to the node's debug log; never traps. */
static inline void ic_print(const char *msg)
{
    ic0_debug_print(msg, (uint32_t)ic_strlen(msg));
}

/* Copies the whole argument into buf (capacity cap) and returns its size; traps if it is longer
 * than cap. */
static inline uint32_t ic_arg_read(void *buf, uint32_t cap)
{
    uint32_t n = ic0_msg_arg_data_size();
    if (n > cap) {
        ic_trap("argument too large");
    }
    ic0_msg_arg_data_copy(buf, 0, n);
    return n;
}

/* Replies with the n bytes at p. */
static inline void ic_reply_bytes(const void *p, uint32_t n)
{
    ic0_msg_reply_data_append(p, n);
    ic0_msg_reply();
}

/* Replies with no data. */
static inline void ic_reply_empty(void)
{
    ic0_msg_reply();
}

/* Little-endian load/store (Wasm memory is little-endian; these do not depend on alignment). */
static inline uint64_t ic_load_u64le(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | b[i];
    }
    return v;
}

static inline void ic_store_u64le(void *p, uint64_t v)
{
    uint8_t *b = (uint8_t *)p;
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline uint32_t ic_load_u32le(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline void ic_store_u32le(void *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Replies with v as 8 little-endian bytes. */
static inline void ic_reply_u64(uint64_t v)
{
    uint8_t b[8];
    ic_store_u64le(b, v);
    ic_reply_bytes(b, 8);
}

/* Rejects the call (reject code 4, CANISTER_REJECT) with a C string, which must be UTF-8. */
static inline void ic_reject(const char *msg)
{
    ic0_msg_reject(msg, (uint32_t)ic_strlen(msg));
}

/* Reads the 8-byte little-endian u64 argument; rejects and returns 0 if the argument is not
 * exactly 8 bytes (check with the returned flag). */
static inline int ic_arg_u64(uint64_t *out)
{
    uint8_t b[8];
    if (ic0_msg_arg_data_size() != 8) {
        ic_reject("expected an 8-byte little-endian u64 argument");
        return 0;
    }
    ic0_msg_arg_data_copy(b, 0, 8);
    *out = ic_load_u64le(b);
    return 1;
}

/* ---- Cycles: a 128-bit amount as two halves (wasm32 has no native 128-bit arithmetic
 * without compiler-rt). ---- */
typedef struct ic_cycles {
    uint64_t lo, hi; /* amount = hi * 2^64 + lo */
} ic_cycles;

static inline ic_cycles ic_cycles_load(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    ic_cycles c = {ic_load_u64le(b), ic_load_u64le(b + 8)};
    return c;
}

static inline void ic_cycles_store(void *p, ic_cycles c)
{
    uint8_t *b = (uint8_t *)p;
    ic_store_u64le(b, c.lo);
    ic_store_u64le(b + 8, c.hi);
}

/* The balance this message sees, and the part of it it may spend (less the freezing reserve). */
static inline ic_cycles ic_balance(void)
{
    uint8_t b[16];
    ic0_canister_cycle_balance128(b);
    return ic_cycles_load(b);
}

static inline ic_cycles ic_liquid_balance(void)
{
    uint8_t b[16];
    ic0_canister_liquid_cycle_balance128(b);
    return ic_cycles_load(b);
}

/* Burns up to `amount` (at most the liquid balance); returns what was burned. */
static inline ic_cycles ic_burn(ic_cycles amount)
{
    uint8_t b[16];
    ic0_cycles_burn128(amount.hi, amount.lo, b);
    return ic_cycles_load(b);
}

/* Accepts every cycle the message carries; returns how many (0 for ingress). */
static inline ic_cycles ic_accept_all(void)
{
    uint8_t b[16];
    ic0_msg_cycles_accept128(~0ull, ~0ull, b);
    return ic_cycles_load(b);
}

/* Replies with an amount as 16 little-endian bytes. */
static inline void ic_reply_cycles(ic_cycles c)
{
    uint8_t b[16];
    ic_cycles_store(b, c);
    ic_reply_bytes(b, 16);
}

/* ---- Timer: arm it `ns` after this message's (block) time, or cancel it; both return the
 * previous timer (0: none). ---- */
static inline uint64_t ic_timer_after(uint64_t ns)
{
    return ic0_global_timer_set(ic0_time() + ns);
}

static inline uint64_t ic_timer_cancel(void)
{
    return ic0_global_timer_set(0);
}

/* Stable memory as 64-bit byte offsets, with pointers into this canister's memory. */
static inline void ic_stable_write(uint64_t offset, const void *src, uint64_t size)
{
    ic0_stable64_write(offset, (uint64_t)(__UINTPTR_TYPE__)src, size);
}

static inline void ic_stable_read(void *dst, uint64_t offset, uint64_t size)
{
    ic0_stable64_read((uint64_t)(__UINTPTR_TYPE__)dst, offset, size);
}

/* Grows stable memory so that it holds at least `bytes` bytes; traps if the node refuses. */
static inline void ic_stable_ensure(uint64_t bytes)
{
    uint64_t have = ic0_stable64_size();
    uint64_t need = (bytes + IC0_STABLE_PAGE_SIZE - 1) / IC0_STABLE_PAGE_SIZE;
    if (need > have && ic0_stable64_grow(need - have) == IC0_GROW_FAILED64) {
        ic_trap("stable memory: grow refused");
    }
}

/* ---- Calls: small helpers. ---- */

/* A callback: called with the env given to the call. */
typedef void (*ic_callback)(uint32_t env);
/* The table index of a function (what call_new and call_on_cleanup take). */
#define IC_FN(f) ((uint32_t)(__UINTPTR_TYPE__)(f))

/* Reject codes (spec "Reject codes"). */
#define IC_REJECT_SYS_FATAL 1u
#define IC_REJECT_SYS_TRANSIENT 2u
#define IC_REJECT_DESTINATION_INVALID 3u
#define IC_REJECT_CANISTER_REJECT 4u
#define IC_REJECT_CANISTER_ERROR 5u
#define IC_REJECT_SYS_UNKNOWN 6u /* a best-effort call timed out (docs/canisters.md) */

/* The principal of tally canister `id` (8 bytes big-endian, then 0x01 0x01): 10 bytes. */
static inline uint32_t ic_canister_principal(uint64_t id, uint8_t out[10])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(id >> (56 - 8 * i));
    }
    out[8] = 1;
    out[9] = 1;
    return 10;
}

/* Calls `method` of the canister whose principal is callee[0..callee_len) (0 bytes: aaaaa-aa)
 * with the argument arg[0..arg_len): on_reply(env) or on_reject(env) runs with the answer,
 * on_cleanup(env) (may be NULL) if that callback traps. Returns call_perform's code: 0 sent,
 * else the call was not made (IC_REJECT_SYS_TRANSIENT: too many calls outstanding). */
static inline uint32_t ic_call(const void *callee, uint32_t callee_len, const char *method,
                               const void *arg, uint32_t arg_len, ic_callback on_reply,
                               ic_callback on_reject, ic_callback on_cleanup, uint32_t env)
{
    ic0_call_new(callee, callee_len, method, (uint32_t)ic_strlen(method), IC_FN(on_reply), env,
                 IC_FN(on_reject), env);
    if (arg_len) {
        ic0_call_data_append(arg, arg_len);
    }
    if (on_cleanup) {
        ic0_call_on_cleanup(IC_FN(on_cleanup), env);
    }
    return ic0_call_perform();
}

/* In a reject callback: copies the reject message into buf (capacity cap, truncated) and
 * returns its length. */
static inline uint32_t ic_reject_message(void *buf, uint32_t cap)
{
    uint32_t n = ic0_msg_reject_msg_size();
    n = n < cap ? n : cap;
    ic0_msg_reject_msg_copy(buf, 0, n);
    return n;
}

/* Rejects with the n bytes at p (UTF-8). */
static inline void ic_reject_bytes(const void *p, uint32_t n)
{
    ic0_msg_reject(p, n);
}

#endif /* TALLY_IC0_H */
