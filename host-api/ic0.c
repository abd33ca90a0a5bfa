/* ic0.c - the ic0 System API handlers and their static table, expanded from ic0.def
 * (the IC spec section 3 for the semantics, 1.4 for the charges).
 *
 * Every ic0 import of every canister is bound (once, at deploy: code.c) to ONE host function,
 * ic0_call, whose `user` pointer is the import's const row. ic0_call charges the row's cost to
 * the instance's instruction counter, checks the calling context, then runs the row's handler.
 * Handlers check every pointer/length against the canister's memory with 64-bit arithmetic that
 * cannot overflow, and trap with a typed status and a detail text; nothing here allocates
 * except the reply buffer. This file is not the canister lifecycle (canister.c) nor stable
 * memory's storage (state.c). */
#include "host_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------------- */

status exec_fail(exec *x, status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->detail, sizeof x->detail, fmt, ap);
    va_end(ap);
    x->detail_len = n < 0 ? 0 : (size_t)n < sizeof x->detail ? (size_t)n : sizeof x->detail - 1;
    return st;
}

static const char *ctx_name(uint32_t ctx)
{
    switch (ctx) {
    case CTX_START: return "start";
    case CTX_INIT: return "init";
    case CTX_POST_UPGRADE: return "post_upgrade";
    case CTX_PRE_UPGRADE: return "pre_upgrade";
    case CTX_UPDATE: return "update";
    case CTX_QUERY: return "replicated query";
    case CTX_QUERY_NR: return "non-replicated query";
    case CTX_INSPECT: return "inspect message";
    case CTX_HEARTBEAT: return "heartbeat";
    case CTX_TIMER: return "global timer";
    case CTX_REPLY: return "reply callback";
    case CTX_REJECT: return "reject callback";
    case CTX_CLEANUP: return "cleanup";
    default: return "system task";
    }
}

/* The canister memory range [ptr, ptr+len), or a trap. ptr and len are zero-extended. */
static status mem_range(exec *x, const char *fn, uint64_t ptr, uint64_t len, uint8_t **out)
{
    engine_memory *mem = engine_instance_memory(x->inst);
    uint64_t size = mem ? engine_memory_size(mem) : 0;
    if (ptr > size || len > size - ptr)
        return exec_fail(x, ST_HOST_OOB, "ic0.%s: [%llu, +%llu) outside the heap of %llu bytes",
                         fn, (unsigned long long)ptr, (unsigned long long)len,
                         (unsigned long long)size);
    *out = len ? engine_memory_data(mem) + ptr : NULL;
    return ST_OK;
}

/* mem_range for a range the host is about to write: marks its pages for the heap's commit or
 * rollback (state.c; engine.h "write marks"). */
static status mem_range_w(exec *x, const char *fn, uint64_t ptr, uint64_t len, uint8_t **out)
{
    status st = mem_range(x, fn, ptr, len, out);
    if (st == ST_OK && len)
        engine_memory_mark(engine_instance_memory(x->inst), ptr, len);
    return st;
}

status exec_mem(exec *x, const char *fn, uint64_t ptr, uint64_t len, bool write, uint8_t **out)
{
    return write ? mem_range_w(x, fn, ptr, len, out) : mem_range(x, fn, ptr, len, out);
}

/* The blob idiom: copy blob[off, off+size) to heap[dst, dst+size). */
static status blob_copy(exec *x, const char *fn, span blob, uint64_t dst, uint64_t off,
                        uint64_t size)
{
    uint8_t *p = NULL;
    if (off > blob.len || size > blob.len - off)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.%s: [%llu, +%llu) outside the blob of "
                         "%zu bytes",
                         fn, (unsigned long long)off, (unsigned long long)size, blob.len);
    status st = mem_range_w(x, fn, dst, size, &p);
    if (st == ST_OK && size)
        memcpy(p, blob.ptr + off, (size_t)size);
    return st;
}

static uint32_t a32(const uint64_t *slots, int i)
{
    return (uint32_t)slots[i];
}

static void ret32(uint64_t *slots, uint64_t v)
{
    slots[0] = (uint32_t)v;
}

#define BLOB_PAIR(name, expr)                                                                     \
    static status h_##name##_size(exec *x, uint64_t *slots)                                       \
    {                                                                                             \
        ret32(slots, (expr).len);                                                                 \
        return ST_OK;                                                                             \
    }                                                                                             \
    static status h_##name##_copy(exec *x, uint64_t *slots)                                       \
    {                                                                                             \
        return blob_copy(x, #name "_copy", (expr), a32(slots, 0), a32(slots, 1), a32(slots, 2));  \
    }

static span empty_blob(const exec *x)
{
    (void)x;
    return span_of("", 0);
}

/* ---- arguments, caller, blobs ---------------------------------------------------------------- */

BLOB_PAIR(msg_arg_data, x->msg.arg)
BLOB_PAIR(msg_caller, x->msg.caller)
BLOB_PAIR(msg_caller_info_data, empty_blob(x))
BLOB_PAIR(msg_caller_info_signer, empty_blob(x))
BLOB_PAIR(msg_reject_msg, x->msg.arg) /* reject callbacks only: the reject message */
BLOB_PAIR(canister_self, span_of(x->c->self, x->c->self_len))
BLOB_PAIR(subnet_self, x->c->cfg.subnet_id)
BLOB_PAIR(msg_method_name, x->msg.method)

static status h_msg_deadline(exec *x, uint64_t *slots)
{
    slots[0] = x->msg.deadline; /* 0 but in a best-effort call's context (docs/canisters.md) */
    return ST_OK;
}

/* ---- responding -------------------------------------------------------------------------------- */

static status not_responded(exec *x, const char *fn)
{
    if (x->replied_before)
        return exec_fail(x, ST_REPLY_TWICE, "ic0.%s: the call context was already answered", fn);
    if (x->responded != RESPONDED_NONE)
        return exec_fail(x, ST_REPLY_TWICE, "ic0.%s: the message was already %s", fn,
                         x->responded == RESPONDED_REPLY ? "replied" : "rejected");
    return ST_OK;
}

static status h_msg_reply_data_append(exec *x, uint64_t *slots)
{
    uint8_t *p = NULL;
    uint64_t n = a32(slots, 1);
    status st = not_responded(x, "msg_reply_data_append");
    if (st == ST_OK)
        st = mem_range(x, "msg_reply_data_append", a32(slots, 0), n, &p);
    if (st != ST_OK)
        return st;
    if (n > x->c->cfg.max_reply_bytes - x->reply.len)
        return exec_fail(x, ST_REPLY_TOO_LARGE, "reply of %llu bytes, limit %llu",
                         (unsigned long long)(x->reply.len + n),
                         (unsigned long long)x->c->cfg.max_reply_bytes);
    return n ? buf_put(&x->reply, p, (size_t)n) : ST_OK;
}

static status h_msg_reply(exec *x, uint64_t *slots)
{
    (void)slots;
    status st = not_responded(x, "msg_reply");
    if (st == ST_OK)
        x->responded = RESPONDED_REPLY;
    return st;
}

static status h_msg_reject(exec *x, uint64_t *slots)
{
    uint8_t *p = NULL;
    uint64_t n = a32(slots, 1);
    status st = not_responded(x, "msg_reject");
    if (st == ST_OK)
        st = mem_range(x, "msg_reject", a32(slots, 0), n, &p);
    if (st != ST_OK)
        return st;
    if (n > x->c->cfg.max_reply_bytes)
        return exec_fail(x, ST_REPLY_TOO_LARGE, "reject message of %llu bytes",
                         (unsigned long long)n);
    if (!span_is_utf8(span_of(p, (size_t)n)))
        return exec_fail(x, ST_REJECT_NOT_UTF8, "ic0.msg_reject");
    x->reply.len = 0; /* reply data appended so far is discarded */
    st = n ? buf_put(&x->reply, p, (size_t)n) : ST_OK;
    if (st == ST_OK) {
        x->responded = RESPONDED_REJECT;
        x->reject_code = HOST_REJECT_CANISTER_REJECT;
    }
    return st;
}

/* ---- the canister ------------------------------------------------------------------------------ */

static status h_canister_status(exec *x, uint64_t *slots)
{
    ret32(slots, x->c->status);
    return ST_OK;
}

static status h_canister_version(exec *x, uint64_t *slots)
{
    slots[0] = x->c->version;
    return ST_OK;
}

static status h_accept_message(exec *x, uint64_t *slots)
{
    (void)slots;
    if (x->accepted)
        return exec_fail(x, ST_CONTRACT_VIOLATION, "ic0.accept_message called twice");
    x->accepted = true;
    return ST_OK;
}

/* ---- stable memory ----------------------------------------------------------------------------- */

enum { STABLE_PAGE = 65536, STABLE32_MAX_PAGES = 65536 };

static status stable32_ok(exec *x, const char *fn)
{
    if (x->c->stable.pages > STABLE32_MAX_PAGES)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.%s: the 32-bit stable memory API "
                         "cannot be used with more than 4 GiB of stable memory",
                         fn);
    return ST_OK;
}

static status stable_range(exec *x, const char *fn, uint64_t off, uint64_t len)
{
    uint64_t size = x->c->stable.pages * STABLE_PAGE;
    if (off > size || len > size - off)
        return exec_fail(x, ST_STABLE_OOB,
                         "ic0.%s: [%llu, +%llu) outside stable memory of "
                         "%llu bytes",
                         fn, (unsigned long long)off, (unsigned long long)len,
                         (unsigned long long)size);
    return ST_OK;
}

static status stable_do_write(exec *x, const char *fn, uint64_t off, uint64_t src, uint64_t n)
{
    uint8_t *p = NULL;
    status st = stable_range(x, fn, off, n);
    if (st == ST_OK)
        st = mem_range(x, fn, src, n, &p);
    if (st == ST_OK && n)
        st = stable_touch(x->c, off, n);
    if (st == ST_OK && n)
        memcpy(x->c->stable.data.ptr + off, p, (size_t)n);
    return st;
}

static status stable_do_read(exec *x, const char *fn, uint64_t dst, uint64_t off, uint64_t n)
{
    uint8_t *p = NULL;
    status st = stable_range(x, fn, off, n);
    if (st == ST_OK)
        st = mem_range_w(x, fn, dst, n, &p);
    if (st == ST_OK && n)
        memcpy(p, x->c->stable.data.ptr + off, (size_t)n);
    return st;
}

/* stable(64)_grow: the old size, or -1 when refused (cap, or past 4 GiB for the 32-bit API). */
static status stable_do_grow(exec *x, uint64_t delta, uint64_t max_pages, uint64_t *out)
{
    uint64_t old = x->c->stable.pages;
    bool refused = false;
    if (delta > max_pages - old) {
        *out = UINT64_MAX;
        return ST_OK;
    }
    status st = stable_grow(x->c, delta, &old, &refused);
    *out = refused ? UINT64_MAX : old;
    return st;
}

static status h_stable_size(exec *x, uint64_t *slots)
{
    status st = stable32_ok(x, "stable_size");
    if (st == ST_OK)
        ret32(slots, x->c->stable.pages);
    return st;
}

static status h_stable_grow(exec *x, uint64_t *slots)
{
    uint64_t r;
    status st = stable32_ok(x, "stable_grow");
    if (st == ST_OK)
        st = stable_do_grow(x, a32(slots, 0), STABLE32_MAX_PAGES, &r);
    if (st == ST_OK)
        ret32(slots, r == UINT64_MAX ? UINT32_MAX : r);
    return st;
}

static status h_stable_write(exec *x, uint64_t *slots)
{
    status st = stable32_ok(x, "stable_write");
    return st != ST_OK
               ? st
               : stable_do_write(x, "stable_write", a32(slots, 0), a32(slots, 1), a32(slots, 2));
}

static status h_stable_read(exec *x, uint64_t *slots)
{
    status st = stable32_ok(x, "stable_read");
    return st != ST_OK
               ? st
               : stable_do_read(x, "stable_read", a32(slots, 0), a32(slots, 1), a32(slots, 2));
}

static status h_stable64_size(exec *x, uint64_t *slots)
{
    slots[0] = x->c->stable.pages;
    return ST_OK;
}

static status h_stable64_grow(exec *x, uint64_t *slots)
{
    return stable_do_grow(x, slots[0], UINT64_MAX, &slots[0]);
}

static status h_stable64_write(exec *x, uint64_t *slots)
{
    return stable_do_write(x, "stable64_write", slots[0], slots[1], slots[2]);
}

static status h_stable64_read(exec *x, uint64_t *slots)
{
    return stable_do_read(x, "stable64_read", slots[0], slots[1], slots[2]);
}

/* ---- certification, time, timers, counters, controllers ---------------------------------------- */

static status h_certified_data_set(exec *x, uint64_t *slots)
{
    uint8_t *p = NULL;
    uint64_t n = a32(slots, 1);
    if (n > HOST_CERTIFIED_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.certified_data_set: %llu bytes, at most "
                         "32",
                         (unsigned long long)n);
    status st = mem_range(x, "certified_data_set", a32(slots, 0), n, &p);
    if (st == ST_OK) {
        if (n)
            memcpy(x->cert, p, (size_t)n);
        x->cert_len = (uint32_t)n;
        x->cert_set = true;
    }
    return st;
}

static status h_data_certificate_present(exec *x, uint64_t *slots)
{
    (void)x;
    ret32(slots, 0); /* a single node certifies nothing */
    return ST_OK;
}

static status h_data_certificate_size(exec *x, uint64_t *slots)
{
    (void)slots;
    return exec_fail(x, ST_CONTRACT_VIOLATION,
                     "ic0.data_certificate_size: no data certificate "
                     "(data_certificate_present is 0)");
}

static status h_data_certificate_copy(exec *x, uint64_t *slots)
{
    (void)slots;
    return exec_fail(x, ST_CONTRACT_VIOLATION,
                     "ic0.data_certificate_copy: no data certificate "
                     "(data_certificate_present is 0)");
}

static status h_time(exec *x, uint64_t *slots)
{
    slots[0] = x->msg.time;
    return ST_OK;
}

static status h_global_timer_set(exec *x, uint64_t *slots)
{
    uint64_t prev = x->timer_set ? x->timer : x->c->timer;
    x->timer = slots[0];
    x->timer_set = true;
    slots[0] = prev;
    return ST_OK;
}

static status h_performance_counter(exec *x, uint64_t *slots)
{
    uint32_t type = a32(slots, 0);
    if (type > 1)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.performance_counter: unknown counter "
                         "type %u",
                         type);
    /* 0: this message; 1: its call context, the same here (no callbacks). */
    slots[0] = exec_used(x);
    return ST_OK;
}

static status h_is_controller(exec *x, uint64_t *slots)
{
    uint8_t *p = NULL;
    uint64_t n = a32(slots, 1);
    status st = mem_range(x, "is_controller", a32(slots, 0), n, &p);
    if (st != ST_OK)
        return st;
    if (n > HOST_PRINCIPAL_MAX)
        return exec_fail(x, ST_CONTRACT_VIOLATION,
                         "ic0.is_controller: not a principal (%llu "
                         "bytes)",
                         (unsigned long long)n);
    const host_canister *c = x->c;
    uint32_t yes = 0;
    for (uint32_t i = 0; i < c->ncontrollers; i++)
        if (c->controller_len[i] == n && (n == 0 || memcmp(c->controllers[i], p, (size_t)n) == 0))
            yes = 1;
    ret32(slots, yes);
    return ST_OK;
}

static status h_in_replicated_execution(exec *x, uint64_t *slots)
{
    ret32(slots, (x->ctx & (CTX_QUERY_NR | CTX_INSPECT)) ? 0 : 1);
    return ST_OK;
}

/* ---- environment variables: a tally canister has none -------------------------------------------- */

static status h_env_var_count(exec *x, uint64_t *slots)
{
    (void)x;
    ret32(slots, 0);
    return ST_OK;
}

static status no_env_index(exec *x, const char *fn, uint32_t i)
{
    return exec_fail(x, ST_CONTRACT_VIOLATION, "ic0.%s: no environment variable %u", fn, i);
}

static status h_env_var_name_size(exec *x, uint64_t *slots)
{
    return no_env_index(x, "env_var_name_size", a32(slots, 0));
}

static status h_env_var_name_copy(exec *x, uint64_t *slots)
{
    return no_env_index(x, "env_var_name_copy", a32(slots, 0));
}

static status h_env_var_name_exists(exec *x, uint64_t *slots)
{
    uint8_t *p = NULL;
    status st = mem_range(x, "env_var_name_exists", a32(slots, 0), a32(slots, 1), &p);
    if (st == ST_OK)
        ret32(slots, 0);
    return st;
}

static status no_env_name(exec *x, const char *fn, uint64_t src, uint64_t n)
{
    uint8_t *p = NULL;
    status st = mem_range(x, fn, src, n, &p);
    return st != ST_OK ? st
                       : exec_fail(x, ST_CONTRACT_VIOLATION,
                                   "ic0.%s: no such environment "
                                   "variable",
                                   fn);
}

static status h_env_var_value_size(exec *x, uint64_t *slots)
{
    return no_env_name(x, "env_var_value_size", a32(slots, 0), a32(slots, 1));
}

static status h_env_var_value_copy(exec *x, uint64_t *slots)
{
    return no_env_name(x, "env_var_value_copy", a32(slots, 0), a32(slots, 1));
}

/* ---- debugging and traps ---------------------------------------------------------------------- */

/* Never traps (IC spec): a bad range prints a fixed text instead. */
static status h_debug_print(exec *x, uint64_t *slots)
{
    const host_config *cfg = &x->c->cfg;
    if (!cfg->debug_sink)
        return ST_OK;
    uint64_t ptr = a32(slots, 0), n = a32(slots, 1);
    engine_memory *mem = engine_instance_memory(x->inst);
    uint64_t size = mem ? engine_memory_size(mem) : 0;
    static const char oob[] = "(debug message out of bounds)";
    span self = span_of(x->c->self, x->c->self_len);
    if (ptr > size || n > size - ptr)
        cfg->debug_sink(cfg->debug_user, self, span_of(oob, sizeof oob - 1));
    else
        cfg->debug_sink(cfg->debug_user, self,
                        span_of(n ? engine_memory_data(mem) + ptr : NULL, (size_t)n));
    return ST_OK;
}

static status h_trap(exec *x, uint64_t *slots)
{
    uint8_t *p = NULL;
    uint64_t n = a32(slots, 1);
    status st = mem_range(x, "trap", a32(slots, 0), n, &p);
    if (st != ST_OK)
        return st;
    size_t keep = n < sizeof x->detail - 1 ? (size_t)n : sizeof x->detail - 1;
    if (keep)
        memcpy(x->detail, p, keep);
    x->detail[keep] = '\0';
    x->detail_len = keep;
    return ST_CANISTER_CALLED_TRAP;
}

/* ---- the table ---------------------------------------------------------------------------------- */

/* A SUPPORTED row's handler is h_<name> (a missing one fails to build); UNSUPPORTED rows have
 * none: ic0_call traps for them, naming the function. */
#define HANDLER_SUPPORTED(name) h_##name
#define HANDLER_UNSUPPORTED(name) NULL
#define IS_SUPPORTED true
#define IS_UNSUPPORTED false

const ic0_row host_ic0_rows[IC0_COUNT] = {
#define IC0(name, params, results, base, per_byte, ctx, support)                                  \
    {#name, params, sizeof(params) - 1, results, base, per_byte, (uint32_t)(ctx), IS_##support},
#include "ic0.def"
#undef IC0
};

const ic0_handler host_ic0_handlers[IC0_COUNT] = {
#define IC0(name, params, results, base, per_byte, ctx, support) HANDLER_##support(name),
#include "ic0.def"
#undef IC0
};

int ic0_row_find(span name)
{
    for (int i = 0; i < IC0_COUNT; i++)
        if (span_eq_str(name, host_ic0_rows[i].name))
            return i;
    return -1;
}

uint32_t host_ic0_count(void)
{
    return IC0_COUNT;
}

const host_ic0_row *host_ic0_row_at(uint32_t i)
{
    return i < IC0_COUNT ? &host_ic0_rows[i] : NULL;
}

bool host_ic0_allowed(const host_ic0_row *r, host_call_kind kind)
{
    switch (kind) {
    case HOST_CALL_UPDATE: return (r->contexts & CTX_UPDATE) != 0;
    case HOST_CALL_QUERY: return (r->contexts & CTX_QUERY_NR) != 0;
    case HOST_CALL_HEARTBEAT: return (r->contexts & CTX_HEARTBEAT) != 0;
    case HOST_CALL_GLOBAL_TIMER: return (r->contexts & CTX_TIMER) != 0;
    case HOST_CALL_INSPECT: return (r->contexts & CTX_INSPECT) != 0;
    case HOST_CALL_REPLY: return (r->contexts & CTX_REPLY) != 0;
    case HOST_CALL_REJECT: return (r->contexts & CTX_REJECT) != 0;
    case HOST_CALL_CLEANUP: return (r->contexts & CTX_CLEANUP) != 0;
    }
    return false;
}

/* ---- the host functions -------------------------------------------------------------------------- */

status ic0_call(engine_instance *inst, void *user, uint64_t *slots)
{
    const ic0_row *row = user;
    exec *x;
    status st = exec_enter(inst, &x);
    if (st != ST_OK)
        return st;
    uint64_t cost = row->base_cost;
    if (row->per_byte_cost && row != &host_ic0_rows[IC0_ROW_call_new]) { /* call_new: its own */
        uint32_t last = row->nparams - 1;
        uint64_t n = row->params[last] == 'i' ? (uint32_t)slots[last] : slots[last];
        uint64_t bytes = n > UINT64_MAX / row->per_byte_cost ? UINT64_MAX : n * row->per_byte_cost;
        cost = bytes > UINT64_MAX - cost ? UINT64_MAX : cost + bytes;
    }
    st = exec_charge(x, cost);
    if (st != ST_OK)
        return st;
    if (!(row->contexts & x->ctx))
        return exec_fail(x, ST_CONTRACT_VIOLATION, "ic0.%s cannot be executed in %s mode",
                         row->name, ctx_name(x->ctx));
    ic0_handler h = host_ic0_handlers[row - host_ic0_rows];
    if (!h) /* bound at deploy as on the IC; fails only when called */
        return exec_fail(x, ST_HOST_UNSUPPORTED,
                         "ic0.%s is not implemented by tally "
                         "(docs/canisters.md)",
                         row->name);
    return h(x, slots);
}
