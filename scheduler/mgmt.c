/* mgmt.c - the management canister aaaaa-aa (docs/canisters.md "The management canister"),
 * called by canisters (call_new with an empty callee) and by ingress (canister id 0), with
 * Candid arguments and replies as the IC interface specification's "The IC management
 * canister" describes them: create_canister (and provisional_create_canister_with_cycles),
 * install_code (install, reinstall, upgrade), update_settings, canister_status,
 * start_canister, stop_canister (answered when the canister has stopped), delete_canister,
 * deposit_cycles, raw_rand. Every call is answered within the round that made it, except
 * stop_canister, which waits (in the target's routing state) for its open call contexts, and
 * the calls that change a canister with a paused message, which wait for that message to end
 * ("calls that wait for a paused message" below). */
#include "scheduler_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Who calls: a canister, or an ingress sender's key. */
typedef struct who {
    uint64_t canister;
    const uint8_t *key;
} who;

typedef struct mcall {
    round_ctx *rc;
    call_ctx origin;
    who caller;
    u128 cycles;
    cand_value *v;
    uint32_t nv;
    const cand_value *arg0; /* the first argument */
    buf out;                /* the reply being written */
} mcall;

static const uint8_t EMPTY_REPLY[] = {'D', 'I', 'D', 'L', 0, 0};

static status answer(mcall *m, const route_answer *a)
{
    return route_answer_to(m->rc, &m->origin, a);
}

static status reply_bytes(mcall *m, span bytes)
{
    route_answer a = route_reply(bytes);
    return answer(m, &a);
}

static status reply_empty(mcall *m)
{
    return reply_bytes(m, span_of(EMPTY_REPLY, sizeof EMPTY_REPLY));
}

static status fail(mcall *m, status st, uint32_t code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static status fail(mcall *m, status st, uint32_t code, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    route_answer a = route_reject(st, code, text);
    return answer(m, &a);
}

/* ---- callers, controllers, targets ---------------------------------------------------------- */

static void caller_slot(const who *w, uint8_t slot[LEDGER_PUBLIC_KEY_SIZE])
{
    if (w->canister)
        sched_controller_of_canister(w->canister, slot);
    else
        memcpy(slot, w->key, LEDGER_PUBLIC_KEY_SIZE);
}

static bool controls(const sched_canister *t, const who *w)
{
    uint8_t slot[LEDGER_PUBLIC_KEY_SIZE];
    caller_slot(w, slot);
    for (uint32_t i = 0; i < t->ncontrollers; i++)
        if (!memcmp(t->controllers[i], slot, LEDGER_PUBLIC_KEY_SIZE))
            return true;
    return false;
}

/* The canister named by the argument's canister_id, if it exists and the caller controls it
 * (when `controller`); otherwise answers the call and returns NULL (*st its status). */
static sched_canister *target(mcall *m, bool controller, status *st)
{
    span p;
    *st = ST_OK;
    const cand_value *id = cand_field(m->v, m->nv, m->arg0, "canister_id");
    if (!cand_principal(id, &p)) {
        *st = fail(m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR,
                   "aaaaa-aa: the argument has no canister_id principal");
        return NULL;
    }
    uint64_t cid = sched_canister_of_principal(p);
    sched_canister *t = cid ? sched_canister_find(m->rc->s, cid) : NULL;
    if (!sched_canister_live(t)) {
        *st = fail(m, ST_UNKNOWN_CANISTER, HOST_REJECT_DESTINATION_INVALID,
                   "aaaaa-aa: no canister %llu", (unsigned long long)cid);
        return NULL;
    }
    if (controller && !controls(t, &m->caller)) {
        *st = fail(m, ST_NOT_AUTHORIZED, HOST_REJECT_CANISTER_ERROR,
                   "aaaaa-aa: the caller is not a controller of canister %llu",
                   (unsigned long long)cid);
        return NULL;
    }
    return t;
}

/* Reads settings.controllers (an opt vec principal) into slots: canisters by id; a
 * self-authenticating principal only if it is the caller's or a current controller's (tally
 * keeps user controllers as public keys, and a principal does not give back its key).
 * *n = UINT32_MAX if absent. On an error, answers and returns false. */
static bool read_controllers(mcall *m, const cand_value *settings, const sched_canister *t,
                             uint8_t (*slots)[LEDGER_PUBLIC_KEY_SIZE], uint32_t *n, status *st)
{
    *n = UINT32_MAX;
    const cand_value *list =
        cand_opt(m->v, m->nv, cand_field(m->v, m->nv, settings, "controllers"));
    if (!list)
        return true;
    *n = 0;
    for (const cand_value *e = cand_next(m->v, m->nv, list, NULL); e;
         e = cand_next(m->v, m->nv, list, e)) {
        span p;
        if (!cand_principal(e, &p) || *n == LEDGER_MAX_CONTROLLERS) {
            *st = fail(m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR,
                       "aaaaa-aa: controllers must be at most %d principals",
                       LEDGER_MAX_CONTROLLERS);
            return false;
        }
        uint64_t cid = sched_canister_of_principal(p);
        if (cid) {
            sched_controller_of_canister(cid, slots[(*n)++]);
            continue;
        }
        uint8_t slot[LEDGER_PUBLIC_KEY_SIZE], pr[PRINCIPAL_MAX];
        bool found = false;
        caller_slot(&m->caller, slot);
        size_t len = sched_principal_of_controller(slot, pr);
        if (len == p.len && !memcmp(pr, p.ptr, len)) {
            memcpy(slots[(*n)++], slot, LEDGER_PUBLIC_KEY_SIZE);
            found = true;
        }
        for (uint32_t i = 0; !found && t && i < t->ncontrollers; i++) {
            len = sched_principal_of_controller(t->controllers[i], pr);
            if (len == p.len && !memcmp(pr, p.ptr, len)) {
                memcpy(slots[(*n)++], t->controllers[i], LEDGER_PUBLIC_KEY_SIZE);
                found = true;
            }
        }
        if (!found) {
            *st = fail(m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR,
                       "aaaaa-aa: controller of %zu bytes is neither a canister, the caller nor "
                       "a current controller (tally keeps user controllers as public keys)",
                       p.len);
            return false;
        }
    }
    return true;
}

/* The settings of create_canister and update_settings (the specification's canister_settings):
 * controllers, and the freezing threshold, memory and compute allocations, each absent or
 * within the specification's range; the others (reserved_cycles_limit, log_visibility,
 * wasm_memory_limit, wasm_memory_threshold, environment_variables) are accepted and ignored. */
typedef struct settings_in {
    uint8_t slots[LEDGER_MAX_CONTROLLERS][LEDGER_PUBLIC_KEY_SIZE];
    uint32_t n; /* UINT32_MAX: no controllers given */
    bool has_freezing, has_memory, has_compute;
    uint64_t freezing, memory, compute;
} settings_in;

static bool opt_nat(mcall *m, const cand_value *settings, const char *name, uint64_t max,
                    bool *has, uint64_t *out, status *st)
{
    const cand_value *o = cand_opt(m->v, m->nv, cand_field(m->v, m->nv, settings, name));
    *has = o != NULL;
    if (!o)
        return true;
    if (cand_nat(o, out) && *out <= max)
        return true;
    *st =
        fail(m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR,
             "aaaaa-aa: settings.%s must be a nat from 0 to %llu", name, (unsigned long long)max);
    return false;
}

/* Reads and checks every setting (t: the canister updated, NULL at creation); on an error,
 * answers the call and returns false, having changed nothing. */
static bool read_settings(mcall *m, const cand_value *settings, const sched_canister *t,
                          settings_in *in, status *st)
{
    return read_controllers(m, settings, t, in->slots, &in->n, st) &&
           opt_nat(m, settings, "freezing_threshold", UINT64_MAX, &in->has_freezing, &in->freezing,
                   st) &&
           opt_nat(m, settings, "memory_allocation", (uint64_t)1 << 48, &in->has_memory,
                   &in->memory, st) &&
           opt_nat(m, settings, "compute_allocation", 100, &in->has_compute, &in->compute, st);
}

/* Applies the settings read (not the controllers). */
static void apply_settings(sched_canister *c, const settings_in *in)
{
    if (in->has_freezing)
        c->freezing_threshold = in->freezing;
    if (in->has_memory)
        c->memory_allocation = in->memory;
    if (in->has_compute)
        c->compute_allocation = (uint8_t)in->compute;
    c->touched = true;
}

/* ---- replies ---------------------------------------------------------------------------------- */

static status put(mcall *m, const void *p, size_t n)
{
    return buf_put(&m->out, p, n);
}

static status put_u8(mcall *m, uint8_t v)
{
    return put(m, &v, 1);
}

static status put_principal(mcall *m, span p)
{
    status st = put_u8(m, 1);
    if (st == ST_OK)
        st = cand_leb(&m->out, p.len);
    return st == ST_OK ? put(m, p.ptr, p.len) : st;
}

static int by_hash(const void *a, const void *b)
{
    uint32_t x = cand_hash(*(const char *const *)a), y = cand_hash(*(const char *const *)b);
    return x < y ? -1 : x > y;
}

/* A record or variant type entry: opcode, fields sorted by id, with their types by name. */
typedef struct tfield {
    const char *name;
    int32_t type;
} tfield;

static status put_fields(mcall *m, int32_t op, const tfield *f, uint32_t n, const char **order)
{
    for (uint32_t i = 0; i < n; i++)
        order[i] = f[i].name;
    qsort(order, n, sizeof *order, by_hash);
    status st = put_u8(m, (uint8_t)(op & 0x7f));
    if (st == ST_OK)
        st = cand_leb(&m->out, n);
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        int32_t t = 0;
        for (uint32_t k = 0; k < n; k++)
            if (!strcmp(f[k].name, order[i]))
                t = f[k].type;
        st = cand_leb(&m->out, cand_hash(order[i]));
        uint8_t b = (uint8_t)(t < 0 ? t & 0x7f : t); /* types below 64: one byte either way */
        if (st == ST_OK)
            st = put_u8(m, b);
    }
    return st;
}

static status reply_canister_id(mcall *m, uint64_t id)
{
    uint8_t p[PRINCIPAL_MAX];
    size_t n = sched_principal_of_canister(id, p);
    const tfield f[] = {{"canister_id", -24}};
    const char *order[1];
    m->out.len = 0;
    status st = put(m, "DIDL\x01", 5);
    if (st == ST_OK)
        st = put_fields(m, -20, f, 1, order);
    if (st == ST_OK)
        st = put(m, "\x01\x00", 2);
    if (st == ST_OK)
        st = put_principal(m, span_of(p, n));
    return st == ST_OK ? reply_bytes(m, span_of(m->out.ptr, m->out.len)) : st;
}

/* canister_status, the IC interface specification's canister_status_result (its ic.did):
 * record { status : variant { running; stopping; stopped }; ready_for_migration : bool;
 * version : nat64; settings : definite_canister_settings; module_hash : opt blob; memory_size :
 * nat; memory_metrics : record { 8 nats }; cycles : nat; reserved_cycles : nat;
 * idle_cycles_burned_per_day : nat; query_stats : record { 4 nats } }, with
 * definite_canister_settings = record { controllers : vec principal; compute_allocation : nat;
 * memory_allocation : nat; freezing_threshold : nat; reserved_cycles_limit : nat;
 * log_visibility : variant { controllers; public; allowed_viewers : vec principal };
 * wasm_memory_limit : nat; wasm_memory_threshold : nat; environment_variables : vec record {
 * name : text; value : text } }. A reader that knows fewer fields skips the others (Candid
 * subtyping). What tally does not have is 0, false or empty (docs/canisters.md). */
enum {
    TY_TOP,
    TY_STATUS,
    TY_SETTINGS,
    TY_OPT_BLOB,
    TY_METRICS,
    TY_QSTATS,
    TY_VEC_PRINCIPAL,
    TY_LOG,
    TY_VEC_ENV,
    TY_BLOB,
    TY_ENV,
    TY_COUNT
};
enum { C_NULL = -1, C_BOOL = -2, C_NAT = -3, C_NAT64 = -8, C_TEXT = -15 };

static const tfield status_top[] = {
    {"status", TY_STATUS},          {"ready_for_migration", C_BOOL},
    {"version", C_NAT64},           {"settings", TY_SETTINGS},
    {"module_hash", TY_OPT_BLOB},   {"memory_size", C_NAT},
    {"memory_metrics", TY_METRICS}, {"cycles", C_NAT},
    {"reserved_cycles", C_NAT},     {"idle_cycles_burned_per_day", C_NAT},
    {"query_stats", TY_QSTATS}};
static const tfield status_variant[] = {
    {"running", C_NULL}, {"stopping", C_NULL}, {"stopped", C_NULL}};
static const tfield status_settings[] = {
    {"controllers", TY_VEC_PRINCIPAL},    {"compute_allocation", C_NAT},
    {"memory_allocation", C_NAT},         {"freezing_threshold", C_NAT},
    {"reserved_cycles_limit", C_NAT},     {"log_visibility", TY_LOG},
    {"wasm_memory_limit", C_NAT},         {"wasm_memory_threshold", C_NAT},
    {"environment_variables", TY_VEC_ENV}};
static const tfield status_metrics[] = {
    {"wasm_memory_size", C_NAT},      {"stable_memory_size", C_NAT},
    {"global_memory_size", C_NAT},    {"wasm_binary_size", C_NAT},
    {"custom_sections_size", C_NAT},  {"canister_history_size", C_NAT},
    {"wasm_chunk_store_size", C_NAT}, {"snapshots_size", C_NAT}};
static const tfield status_qstats[] = {{"num_calls_total", C_NAT},
                                       {"num_instructions_total", C_NAT},
                                       {"request_payload_bytes_total", C_NAT},
                                       {"response_payload_bytes_total", C_NAT}};
static const tfield status_log[] = {
    {"controllers", C_NULL}, {"public", C_NULL}, {"allowed_viewers", TY_VEC_PRINCIPAL}};
static const tfield status_env[] = {{"name", C_TEXT}, {"value", C_TEXT}};

/* The IC's default reserved_cycles_limit (the specification's create_canister settings). */
static const u128 RESERVED_CYCLES_LIMIT = 5000000000000u;

/* The index of a variant's field `name` (fields are ordered by their hash). */
static uint32_t variant_index(const tfield *f, uint32_t n, const char *name)
{
    uint32_t h = cand_hash(name), k = 0;
    for (uint32_t i = 0; i < n; i++)
        k += cand_hash(f[i].name) < h;
    return k;
}

/* The status reply's type table. */
static status put_status_types(mcall *m, const char **order)
{
    status st = put(m, "DIDL", 4);
    if (st == ST_OK)
        st = put_u8(m, TY_COUNT);
    if (st == ST_OK)
        st = put_fields(m, -20, status_top, BASE_ARRAY_LEN(status_top), order);
    if (st == ST_OK)
        st = put_fields(m, -21, status_variant, BASE_ARRAY_LEN(status_variant), order);
    if (st == ST_OK)
        st = put_fields(m, -20, status_settings, BASE_ARRAY_LEN(status_settings), order);
    if (st == ST_OK) /* TY_OPT_BLOB: opt TY_BLOB */
        st = put(m, "\x6e\x09", 2);
    if (st == ST_OK)
        st = put_fields(m, -20, status_metrics, BASE_ARRAY_LEN(status_metrics), order);
    if (st == ST_OK)
        st = put_fields(m, -20, status_qstats, BASE_ARRAY_LEN(status_qstats), order);
    if (st == ST_OK) /* TY_VEC_PRINCIPAL */
        st = put(m, "\x6d\x68", 2);
    if (st == ST_OK)
        st = put_fields(m, -21, status_log, BASE_ARRAY_LEN(status_log), order);
    if (st == ST_OK) /* TY_VEC_ENV: vec TY_ENV; TY_BLOB: vec nat8 */
        st = put(m, "\x6d\x0a\x6d\x7b", 4);
    if (st == ST_OK)
        st = put_fields(m, -20, status_env, BASE_ARRAY_LEN(status_env), order);
    return st == ST_OK ? put(m, "\x01\x00", 2) : st; /* one argument: TY_TOP */
}

/* A record of nats, fields in `order`, each from value(name). */
static status put_nats(mcall *m, const tfield *f, uint32_t n, const char **order,
                       u128 (*value)(const sched_canister *, const char *),
                       const sched_canister *t)
{
    for (uint32_t i = 0; i < n; i++)
        order[i] = f[i].name;
    qsort(order, n, sizeof *order, by_hash);
    status st = ST_OK;
    for (uint32_t i = 0; st == ST_OK && i < n; i++)
        st = cand_leb128(&m->out, value ? value(t, order[i]) : 0);
    return st;
}

static u128 metric(const sched_canister *t, const char *name)
{
    host_saved sv;
    host_canister_saved(t->hc, &sv);
    if (!strcmp(name, "wasm_memory_size"))
        return sv.heap.len;
    if (!strcmp(name, "stable_memory_size"))
        return sv.stable_bytes;
    if (!strcmp(name, "wasm_binary_size"))
        return t->code ? host_code_instrumented(t->code->code).len : 0;
    return 0;
}

static status put_controllers(mcall *m, const sched_canister *t)
{
    status st = cand_leb(&m->out, t->ncontrollers);
    for (uint32_t c = 0; st == ST_OK && c < t->ncontrollers; c++) {
        uint8_t p[PRINCIPAL_MAX];
        size_t n = sched_principal_of_controller(t->controllers[c], p);
        st = put_principal(m, span_of(p, n));
    }
    return st;
}

static status put_settings(mcall *m, const sched_canister *t, const char **order)
{
    uint32_t n = BASE_ARRAY_LEN(status_settings);
    for (uint32_t i = 0; i < n; i++)
        order[i] = status_settings[i].name;
    qsort(order, n, sizeof *order, by_hash);
    status st = ST_OK;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        const char *f = order[i];
        if (!strcmp(f, "controllers")) {
            st = put_controllers(m, t);
        } else if (!strcmp(f, "log_visibility")) {
            st = cand_leb(&m->out, variant_index(status_log, 3, "controllers"));
        } else if (!strcmp(f, "environment_variables")) {
            st = put_u8(m, 0);
        } else {
            u128 v = !strcmp(f, "compute_allocation")      ? t->compute_allocation
                     : !strcmp(f, "memory_allocation")     ? t->memory_allocation
                     : !strcmp(f, "freezing_threshold")    ? t->freezing_threshold
                     : !strcmp(f, "reserved_cycles_limit") ? RESERVED_CYCLES_LIMIT
                                                           : 0;
            st = cand_leb128(&m->out, v);
        }
    }
    return st;
}

static status reply_status(mcall *m, const sched_canister *t)
{
    const char *order[16];
    m->out.len = 0;
    status st = put_status_types(m, order);
    host_saved sv;
    host_canister_saved(t->hc, &sv);
    const char *state = t->route.status == LEDGER_CANISTER_STOPPED    ? "stopped"
                        : t->route.status == LEDGER_CANISTER_STOPPING ? "stopping"
                                                                      : "running";
    uint32_t n = BASE_ARRAY_LEN(status_top);
    const char *otop[BASE_ARRAY_LEN(status_top)];
    for (uint32_t i = 0; i < n; i++)
        otop[i] = status_top[i].name;
    qsort(otop, n, sizeof *otop, by_hash);
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        const char *f = otop[i];
        if (!strcmp(f, "status")) {
            st = cand_leb(&m->out, variant_index(status_variant, 3, state));
        } else if (!strcmp(f, "ready_for_migration")) {
            st = put_u8(m, 0);
        } else if (!strcmp(f, "version")) {
            uint8_t v[8];
            le64_store(v, sv.version);
            st = put(m, v, 8);
        } else if (!strcmp(f, "settings")) {
            st = put_settings(m, t, order);
        } else if (!strcmp(f, "module_hash")) {
            st = put_u8(m, t->code ? 1 : 0);
            if (st == ST_OK && t->code) {
                /* BLAKE2b-256 of the module (the IC gives its SHA-256) */
                st = cand_leb(&m->out, LEDGER_HASH_SIZE);
                if (st == ST_OK)
                    st = put(m, t->code->hash, LEDGER_HASH_SIZE);
            }
        } else if (!strcmp(f, "memory_size")) {
            st = cand_leb(&m->out, sv.heap.len + sv.stable_bytes);
        } else if (!strcmp(f, "memory_metrics")) {
            st = put_nats(m, status_metrics, BASE_ARRAY_LEN(status_metrics), order, metric, t);
        } else if (!strcmp(f, "cycles")) {
            st = cand_leb128(&m->out, sched_cycles_balance(t));
        } else if (!strcmp(f, "idle_cycles_burned_per_day")) {
            st = cand_leb128(&m->out, sched_idle_cycles_per_day(m->rc->s, t));
        } else if (!strcmp(f, "query_stats")) {
            st = put_nats(m, status_qstats, BASE_ARRAY_LEN(status_qstats), order, NULL, t);
        } else { /* reserved_cycles */
            st = cand_leb(&m->out, 0);
        }
    }
    return st == ST_OK ? reply_bytes(m, span_of(m->out.ptr, m->out.len)) : st;
}

/* ---- methods ------------------------------------------------------------------------------------ */

static status create_canister(mcall *m)
{
    round_ctx *rc = m->rc;
    scheduler *s = rc->s;
    status st = ST_OK;
    if (!m->caller.canister &&
        memcmp(m->caller.key, s->genesis.admin_public_key, LEDGER_PUBLIC_KEY_SIZE) != 0)
        return fail(m, ST_NOT_AUTHORIZED, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: only the admin creates canisters by ingress");
    settings_in in;
    const cand_value *settings =
        cand_opt(m->v, m->nv, cand_field(m->v, m->nv, m->arg0, "settings"));
    if (!read_settings(m, settings, NULL, &in, &st))
        return st;
    uint32_t n = in.n;
    uint8_t(*slots)[LEDGER_PUBLIC_KEY_SIZE] = in.slots;
    if (n == UINT32_MAX) { /* the creator becomes the controller */
        caller_slot(&m->caller, slots[0]);
        n = 1;
    }
    uint64_t id = s->next_canister_id;
    sched_canister *c;
    st = sched_canister_add(s, id, &c);
    if (st != ST_OK)
        return st;
    st = sched_canister_set_controllers(c, (const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])slots, n);
    ledger_canister rec = {.controller_count = n, .status = LEDGER_CANISTER_RUNNING};
    memcpy(rec.controllers, slots, (size_t)n * LEDGER_PUBLIC_KEY_SIZE);
    uint64_t assigned = 0;
    if (st == ST_OK)
        st = ledger_round_canister_create(rc->r, &rec, &assigned);
    if (st == ST_OK && assigned != id)
        st = ST_BUG_INVARIANT;
    if (st != ST_OK) {
        sched_canister_drop_last(s);
        return st;
    }
    s->next_canister_id++;
    apply_settings(c, &in);
    c->storage_paid_ns = rc->time_ns;
    sched_cycles_credit(c, m->cycles); /* the caller pays: the attached cycles go along */
    sched_cycles_charge(s, c, s->genesis.fee_canister_creation); /* out of what came along */
    m->origin.available = 0;
    return reply_canister_id(m, id);
}

/* install_code runs sliced like the admin's installs and upgrades (round.c, docs/scheduler.md
 * "Install and upgrade"): the target's paused message (PAUSED_INSTALL_CODE) holds the call to
 * answer, and nothing of it is committed until it ends: a reinstall runs on a fresh canister
 * that replaces the old one only then. */
static status install_code(mcall *m)
{
    round_ctx *rc = m->rc;
    scheduler *s = rc->s;
    status st;
    sched_canister *t = target(m, true, &st);
    if (!t)
        return st;
    const cand_value *mode = cand_field(m->v, m->nv, m->arg0, "mode");
    span module, init;
    if (!mode || mode->type != -21 ||
        !cand_blob(cand_field(m->v, m->nv, m->arg0, "wasm_module"), &module) ||
        !cand_blob(cand_field(m->v, m->nv, m->arg0, "arg"), &init))
        return fail(m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: install_code needs mode, canister_id, wasm_module and arg");
    bool install = mode->u == cand_hash("install"), reinstall = mode->u == cand_hash("reinstall"),
         upgrade = mode->u == cand_hash("upgrade");
    if (!install && !reinstall && !upgrade)
        return fail(m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR, "aaaaa-aa: unknown mode");
    /* outstanding callbacks are indices into the table of the running code */
    if (t->paused.active || (!install && t->route.ncb))
        return fail(m, ST_CANISTER_BUSY, HOST_REJECT_SYS_TRANSIENT,
                    "aaaaa-aa: canister %llu is busy (a sliced message, or outstanding calls)",
                    (unsigned long long)t->id);
    if (install && t->code)
        return fail(m, ST_CANISTER_NOT_EMPTY, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: canister %llu has code: use reinstall or upgrade",
                    (unsigned long long)t->id);
    if (upgrade && !t->code)
        return fail(m, ST_CANISTER_EMPTY, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: canister %llu has no code to upgrade", (unsigned long long)t->id);
    uint64_t cost = sched_deploy_cost(module.len, s->genesis.deploy_per_byte);
    if (cost >= s->genesis.install_instructions) {
        rc->used += s->genesis.install_instructions;
        return fail(m, ST_INSTRUCTION_LIMIT_EXCEEDED, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: the module's deploy charge exceeds the install limit");
    }
    rc->used += cost;
    uint8_t hash[LEDGER_HASH_SIZE], stored[LEDGER_HASH_SIZE];
    crypto_generichash(hash, sizeof hash, module.ptr, module.len, NULL, 0);
    engine_error err = {0};
    code_entry *code = NULL;
    st = sched_code_get(s, module, hash, &code, &err);
    if (st == ST_OUT_OF_MEMORY)
        return st;
    if (st != ST_OK) {
        char text[256];
        engine_error_format(&err, text, sizeof text);
        return fail(m, st, HOST_REJECT_CANISTER_ERROR, "aaaaa-aa: %s", text);
    }
    st = ledger_round_code_put(rc->r, module, host_code_instrumented(code->code), stored);
    paused_msg *p = &t->paused;
    sched_paused_clear(p);
    p->kind = PAUSED_INSTALL_CODE;
    p->mode = install     ? INSTALL_MODE_INSTALL
              : reinstall ? INSTALL_MODE_REINSTALL
                          : INSTALL_MODE_UPGRADE;
    p->origin = m->origin;
    p->cost = cost;
    p->rm.kind = ROUTE_REQUEST;
    uint8_t slot[LEDGER_PUBLIC_KEY_SIZE];
    caller_slot(&m->caller, slot);
    p->caller_len = (uint8_t)sched_principal_of_controller(slot, p->caller);
    if (st == ST_OK && init.len)
        st = buf_put(&p->rm.data, init.ptr, init.len);
    if (st == ST_OK)
        st = mgmt_install_start(s, t, code, rc->time_ns);
    if (st != ST_OK) {
        sched_paused_clear(p); /* a reinstall's fresh canister first, then the code */
        sched_code_release(s, code);
        return st;
    }
    return round_run_slice(rc, t);
}

status mgmt_install_start(scheduler *s, sched_canister *c, code_entry *code, uint64_t time_ns)
{
    paused_msg *p = &c->paused;
    host_canister *hc = c->hc;
    if (p->mode == INSTALL_MODE_REINSTALL) { /* swapped in only if the install succeeds */
        uint8_t self[PRINCIPAL_MAX];
        size_t n = sched_principal_of_canister(c->id, self);
        status st = host_canister_new(&s->hcfg, span_of(self, n), &p->hc);
        if (st != ST_OK)
            return st;
        hc = p->hc;
    }
    return sched_life_begin(s, c, hc, code, p->mode == INSTALL_MODE_UPGRADE, p->cost,
                            span_of(p->rm.data.ptr, p->rm.data.len),
                            span_of(p->caller, p->caller_len), time_ns);
}

status mgmt_install_end(round_ctx *rc, sched_canister *t, const host_result *res)
{
    scheduler *s = rc->s;
    paused_msg *p = &t->paused;
    mcall m = {.rc = rc, .origin = p->origin};
    code_entry *code = p->code;
    p->code = NULL;
    status st = ST_OK;
    if (res->st != ST_OK) {
        sched_code_release(s, code);
        st =
            fail(&m, res->st, HOST_REJECT_CANISTER_ERROR, "aaaaa-aa: install_code: %.*s",
                 (int)(res->bytes.len < 200 ? res->bytes.len : 200), (const char *)res->bytes.ptr);
        buf_fini(&m.out);
        return st;
    }
    if (p->hc) { /* reinstall: the fresh canister replaces the old one, keeping its cycles */
        host_canister_cycles_set(p->hc, host_canister_cycles(t->hc));
        if (t->route.status != LEDGER_CANISTER_RUNNING)
            host_canister_set_status(p->hc, t->route.status == LEDGER_CANISTER_STOPPING
                                                ? HOST_STATUS_STOPPING
                                                : HOST_STATUS_STOPPED);
        host_canister_free(t->hc);
        t->hc = p->hc;
        p->hc = NULL;
        st = sched_canister_set_controllers(
            t, (const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])t->controllers, t->ncontrollers);
        if (st == ST_OK)
            st = ledger_round_memory_clear(rc->r, t->id, LEDGER_MEM_STABLE);
    }
    sched_code_release(s, t->code);
    t->code = code;
    t->touched = true;
    t->heap_cleared = true;
    if (st == ST_OK)
        st = reply_empty(&m);
    buf_fini(&m.out);
    return st;
}

static status update_settings(mcall *m)
{
    status st;
    sched_canister *t = target(m, true, &st);
    if (!t)
        return st;
    settings_in in;
    const cand_value *settings = cand_field(m->v, m->nv, m->arg0, "settings");
    if (!read_settings(m, settings, t, &in, &st))
        return st;
    if (in.n != UINT32_MAX) {
        st = sched_canister_set_controllers(t, (const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])in.slots,
                                            in.n);
        if (st != ST_OK)
            return st;
    }
    apply_settings(t, &in);
    return reply_empty(m);
}

static status canister_status(mcall *m)
{
    status st;
    sched_canister *t = target(m, true, &st);
    return t ? reply_status(m, t) : st;
}

static status start_canister(mcall *m)
{
    status st;
    sched_canister *t = target(m, true, &st);
    if (!t)
        return st;
    route_state *r = &t->route;
    route_answer a = route_reject(ST_CANISTER_STOPPED, HOST_REJECT_CANISTER_ERROR,
                                  "start_canister was called before the canister stopped");
    for (uint32_t i = 0; st == ST_OK && i < r->nstops; i++)
        st = route_answer_to(m->rc, &r->stops[i], &a);
    r->nstops = 0;
    r->status = LEDGER_CANISTER_RUNNING;
    host_canister_set_status(t->hc, HOST_STATUS_RUNNING);
    t->touched = true;
    return st == ST_OK ? reply_empty(m) : st;
}

static status stop_canister(mcall *m)
{
    status st;
    sched_canister *t = target(m, true, &st);
    if (!t)
        return st;
    route_state *r = &t->route;
    if (r->status == LEDGER_CANISTER_STOPPED)
        return reply_empty(m);
    st = base_grow((void **)&r->stops, &r->stops_cap, r->nstops + 1, sizeof *r->stops, 4);
    if (st != ST_OK)
        return st;
    r->stops[r->nstops++] = m->origin; /* answered when it has stopped */
    r->status = LEDGER_CANISTER_STOPPING;
    host_canister_set_status(t->hc, HOST_STATUS_STOPPING);
    t->touched = true;
    return route_check_stopped(m->rc, t);
}

static status delete_canister(mcall *m)
{
    round_ctx *rc = m->rc;
    status st;
    sched_canister *t = target(m, true, &st);
    if (!t)
        return st;
    if (t->route.status != LEDGER_CANISTER_STOPPED)
        return fail(m, ST_CANISTER_STOPPED, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: canister %llu must be stopped before it is deleted",
                    (unsigned long long)t->id);
    uint8_t self[PRINCIPAL_MAX];
    size_t n = sched_principal_of_canister(t->id, self);
    host_canister *fresh;
    st = host_canister_new(&rc->s->hcfg, span_of(self, n), &fresh);
    if (st == ST_OK)
        st = ledger_round_memory_clear(rc->r, t->id, LEDGER_MEM_STABLE);
    if (st != ST_OK)
        return st;
    /* a deleted canister's cycles are gone, as on the IC: burned in the accounts */
    rc->s->cycles.burned += host_canister_cycles(t->hc);
    rc->s->cycles_dirty = true;
    host_canister_free(t->hc);
    t->hc = fresh;
    host_canister_set_status(fresh, HOST_STATUS_STOPPED);
    sched_code_release(rc->s, t->code);
    t->code = NULL;
    t->ncontrollers = 0;
    t->memory_allocation = 0;
    t->compute_allocation = 0;
    t->route.deleted = true;
    t->touched = true;
    t->heap_cleared = true;
    return reply_empty(m);
}

static status deposit_cycles(mcall *m)
{
    status st;
    sched_canister *t = target(m, false, &st);
    if (!t)
        return st;
    sched_cycles_credit(t, m->cycles);
    t->touched = true;
    m->origin.available = 0;
    return reply_empty(m);
}

/* 32 bytes derived from the block (height, time) and the call (caller, its number in the
 * round): deterministic, so every replica agrees, and predictable to whoever makes the block. */
static status raw_rand(mcall *m)
{
    round_ctx *rc = m->rc;
    uint8_t in[8 + 8 + 8 + 4], out[32];
    le64_store(in, rc->height);
    le64_store(in + 8, rc->time_ns);
    le64_store(in + 16, m->caller.canister);
    le32_store(in + 24, rc->rand_calls++);
    static const char key[] = "tally raw_rand v1";
    crypto_generichash(out, sizeof out, in, sizeof in, (const uint8_t *)key, sizeof key - 1);
    m->out.len = 0;
    status st = put(m, "DIDL\x01\x6d\x7b\x01\x00\x20", 10);
    if (st == ST_OK)
        st = put(m, out, sizeof out);
    return st == ST_OK ? reply_bytes(m, span_of(m->out.ptr, m->out.len)) : st;
}

/* How a method treats a target with a paused message. */
enum {
    AT_ONCE = 0,     /* runs at once (no target, or one it only reads: canister_status) */
    WAITS = 1,       /* changes its target: waits for its paused message, controllers only */
    WAITS_ANYONE = 2 /* the same, callable by anyone (deposit_cycles) */
};

typedef struct method_row {
    const char *name;
    status (*run)(mcall *m);
    bool needs_arg;
    uint8_t waits; /* AT_ONCE, WAITS, WAITS_ANYONE */
} method_row;

static const method_row methods[] = {
    {"create_canister", create_canister, false, AT_ONCE},
    {"provisional_create_canister_with_cycles", create_canister, false, AT_ONCE},
    {"install_code", install_code, true, WAITS},
    {"update_settings", update_settings, true, WAITS},
    {"canister_status", canister_status, true, AT_ONCE},
    {"start_canister", start_canister, true, WAITS},
    {"stop_canister", stop_canister, true, WAITS},
    {"delete_canister", delete_canister, true, WAITS},
    {"deposit_cycles", deposit_cycles, true, WAITS_ANYONE},
    {"raw_rand", raw_rand, false, AT_ONCE},
};

/* ---- calls that wait for a paused message ------------------------------------------------------
 * A paused message must see the canister as it began: its controllers (ic0.is_controller), its
 * status (ic0.canister_status), its balance and freezing reserve, its code. A node restarted in
 * the middle re-runs the earlier slices from the committed record, so a change applied in
 * between would make the re-run differ from the first run. Calls that change the target
 * therefore wait in its routing state (in the state root: restarts and replay see the same
 * list) and run, in order of arrival, right after the paused message ends, in the round where it
 * ends; each is checked again then (its controllers may have changed meanwhile). Arrival checks
 * only what cannot wait: the argument, the target's existence, and that the caller controls it
 * (so only controllers, and depositors, can fill the list). */

/* The live target of the argument's canister_id with a paused message or calls already
 * waiting (NULL: none: the method runs at once and answers any error itself). */
static sched_canister *busy_target(mcall *m)
{
    span p;
    if (!cand_principal(cand_field(m->v, m->nv, m->arg0, "canister_id"), &p))
        return NULL;
    uint64_t cid = sched_canister_of_principal(p);
    sched_canister *t = cid ? sched_canister_find(m->rc->s, cid) : NULL;
    if (!sched_canister_live(t) || (!t->paused.active && t->route.nwaits == 0))
        return NULL;
    return t;
}

/* Queues the call behind t's paused message, or rejects it SYS_TRANSIENT past the bounds. */
static status wait_for(mcall *m, sched_canister *t, const method_row *row, span method, span arg)
{
    route_state *r = &t->route;
    if (row->waits == WAITS && !controls(t, &m->caller))
        return fail(m, ST_NOT_AUTHORIZED, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: the caller is not a controller of canister %llu",
                    (unsigned long long)t->id);
    if (r->nwaits >= MGMT_WAIT_MAX || method.len + arg.len > MGMT_WAIT_BYTES - r->wait_bytes)
        return fail(m, ST_CANISTER_BUSY, HOST_REJECT_SYS_TRANSIENT,
                    "aaaaa-aa: canister %llu is running a sliced message and %u calls (%llu "
                    "bytes) already wait for it: try again later",
                    (unsigned long long)t->id, r->nwaits, (unsigned long long)r->wait_bytes);
    status st = base_grow((void **)&r->waits, &r->waits_cap, r->nwaits + 1, sizeof *r->waits, 4);
    if (st != ST_OK)
        return st;
    mgmt_wait w = {.origin = m->origin, .caller = m->caller.canister};
    w.origin.available = m->cycles; /* the same for canisters; 0 for ingress */
    if (!w.caller)
        memcpy(w.key, m->caller.key, LEDGER_PUBLIC_KEY_SIZE);
    st = buf_put(&w.method, method.ptr, method.len);
    if (st == ST_OK && arg.len)
        st = buf_put(&w.arg, arg.ptr, arg.len);
    if (st != ST_OK) {
        buf_fini(&w.method);
        buf_fini(&w.arg);
        return st;
    }
    r->waits[r->nwaits++] = w;
    r->wait_bytes += method.len + arg.len;
    t->touched = true;
    return ST_OK;
}

/* Runs a call to aaaaa-aa; with `may_wait`, a call that changes a canister with a paused
 * message (or with calls waiting already) waits for it instead. */
static status dispatch(round_ctx *rc, const call_ctx *origin, uint64_t caller,
                       const uint8_t *sender_key, span method, span arg, u128 cycles,
                       bool may_wait)
{
    mcall m = {.rc = rc, .origin = *origin, .caller = {caller, sender_key}, .cycles = cycles};
    const method_row *row = NULL;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (span_eq_str(method, methods[i].name))
            row = &methods[i];
    if (!row)
        return fail(&m, ST_METHOD_NOT_FOUND, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: no method '%.*s' on this node",
                    (int)(method.len < 64 ? method.len : 64), (const char *)method.ptr);
    status st = cand_decode(arg, &m.v, &m.nv);
    if (st == ST_OUT_OF_MEMORY)
        return st;
    if (st == ST_OK)
        m.arg0 = cand_child(m.v, m.nv, 0, 0);
    if (st != ST_OK || (row->needs_arg && (!m.arg0 || m.arg0->type != -20))) {
        base_free(m.v);
        return fail(&m, ST_BAD_ARGUMENT, HOST_REJECT_CANISTER_ERROR,
                    "aaaaa-aa: %s: the argument is not the Candid record it takes", row->name);
    }
    sched_canister *t = may_wait && row->waits != AT_ONCE ? busy_target(&m) : NULL;
    st = t ? wait_for(&m, t, row, method, arg) : row->run(&m);
    base_free(m.v);
    buf_fini(&m.out);
    return st;
}

status mgmt_call(round_ctx *rc, const call_ctx *origin, uint64_t caller, const uint8_t *sender_key,
                 span method, span arg, u128 cycles)
{
    return dispatch(rc, origin, caller, sender_key, method, arg, cycles, true);
}

status mgmt_wait_drain(round_ctx *rc, sched_canister *c)
{
    route_state *r = &c->route;
    if (r->draining) /* an install_code it ran ended in its first slice: the loop goes on */
        return ST_OK;
    r->draining = true;
    status st = ST_OK;
    while (st == ST_OK && r->nwaits && !c->paused.active) {
        mgmt_wait w = r->waits[0];
        memmove(r->waits, r->waits + 1, (size_t)(r->nwaits - 1) * sizeof *r->waits);
        r->nwaits--;
        r->wait_bytes -= w.method.len + w.arg.len;
        c->touched = true;
        st = dispatch(rc, &w.origin, w.caller, w.caller ? NULL : w.key,
                      span_of(w.method.ptr, w.method.len), span_of(w.arg.ptr, w.arg.len),
                      w.origin.available, false);
        buf_fini(&w.method);
        buf_fini(&w.arg);
    }
    r->draining = false;
    return st;
}
