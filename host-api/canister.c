/* canister.c - a canister's life (host_canister): install, transactional messages (update,
 * query, tasks, inspect), sliced execution, atomic upgrade, and the results of messages
 * (the IC spec section 3 "Transactional entry points", section 4 for slicing).
 *
 * Every message keeps its changes only when it succeeds: heap (state.c's shadow), mutable
 * globals (saved at the start of the message), stable memory (state.c's undo log) and system
 * state (timer, certified data: applied at commit). The instruction accounting is meter.c's.
 * Not the handlers (ic0.c) nor the deploy checks (code.c). */
#include "host_int.h"

#include <string.h>

/* ---- results -------------------------------------------------------------------------------- */

void host_result_init(host_result *res)
{
    memset(res, 0, sizeof *res);
}

void host_result_fini(host_result *res)
{
    buf_fini(&res->bytes);
    for (uint32_t i = 0; i < res->ncalls; i++)
        host_call_out_fini(&res->calls[i]);
    base_free(res->calls);
    memset(res, 0, sizeof *res);
}

uint32_t host_reject_code(status st)
{
    switch (st) {
    case ST_OK: return 0;
    case ST_CANISTER_REJECTED: return HOST_REJECT_CANISTER_REJECT;
    case ST_UNKNOWN_CANISTER: return HOST_REJECT_DESTINATION_INVALID;
    case ST_CANISTER_BUSY:
    case ST_MESSAGE_EXPIRED: return HOST_REJECT_SYS_TRANSIENT;
    default: return HOST_REJECT_CANISTER_ERROR;
    }
}

/* A message that did not complete: reject code 5 with "NAME: message[: detail]". */
static status trap_result(const exec *x, status st, host_result *res)
{
    const char *name = status_name(st), *msg = status_message(st);
    res->st = st;
    res->kind = HOST_RESPONSE_REJECT;
    res->reject_code = HOST_REJECT_CANISTER_ERROR;
    res->bytes.len = 0;
    status r = buf_put(&res->bytes, name, strlen(name));
    if (r == ST_OK)
        r = buf_put(&res->bytes, ": ", 2);
    if (r == ST_OK)
        r = buf_put(&res->bytes, msg, strlen(msg));
    if (r == ST_OK && x->detail_len) {
        r = buf_put(&res->bytes, ": ", 2);
        if (r == ST_OK)
            r = buf_put(&res->bytes, x->detail, x->detail_len);
    }
    return r;
}

/* ---- live instances --------------------------------------------------------------------------- */

void live_globals_save(live *lv)
{
    for (uint32_t i = 0; i < lv->nmut; i++)
        lv->saved_globals[i] = engine_global_get(lv->mut_globals[i]);
}

void live_globals_restore(live *lv)
{
    for (uint32_t i = 0; i < lv->nmut; i++)
        engine_global_set(lv->mut_globals[i], lv->saved_globals[i]);
}

status live_globals_load(live *lv, span globals)
{
    uint32_t n = lv->nmut && lv->counter ? lv->nmut - 1 : lv->nmut;
    if (globals.len != 4 + (size_t)n * 8 || le32_load(globals.ptr) != n)
        return ST_CORRUPT_LEDGER;
    const uint8_t *p = globals.ptr + 4;
    for (uint32_t i = 0; i < lv->nmut; i++) {
        if (lv->mut_globals[i] == lv->counter)
            continue;
        engine_global_set(lv->mut_globals[i], le64_load(p));
        p += 8;
    }
    return ST_OK;
}

static void live_close(live *lv)
{
    engine_instance_free(lv->inst);
    base_free(lv->methods);
    base_free(lv->mut_globals);
    base_free(lv->saved_globals);
    memset(lv, 0, sizeof *lv);
}

static engine_func *export_func(engine_instance *inst, span name)
{
    engine_extern e;
    if (!name.len || engine_instance_export(inst, name, &e) != ST_OK || e.kind != EXT_FUNC)
        return NULL;
    return e.u.func;
}

/* Method and entry functions, mutable globals: looked up once per instance. */
static status live_bind(live *lv, const host_code *code)
{
    engine_instance *inst = lv->inst;
    lv->mem = engine_instance_memory(inst);
    lv->counter = engine_instance_global(inst, code->counter_global);
    lv->nglobals = engine_instance_global_count(inst);
    lv->methods = base_calloc(code->nmethods ? code->nmethods : 1, sizeof *lv->methods);
    lv->mut_globals = base_calloc(lv->nglobals ? lv->nglobals : 1, sizeof *lv->mut_globals);
    lv->saved_globals = base_calloc(lv->nglobals ? lv->nglobals : 1, sizeof *lv->saved_globals);
    if (!lv->methods || !lv->mut_globals || !lv->saved_globals)
        return ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < code->nmethods; i++)
        if (!(lv->methods[i] = export_func(inst, code->methods[i].export)))
            return BUG();
    for (int i = 0; i < ENTRY_COUNT; i++)
        lv->entries[i] = export_func(inst, code->entries[i]);
    for (uint32_t i = 0; i < lv->nglobals; i++) {
        engine_global *g = engine_instance_global(inst, i);
        if (engine_global_type(g).mut)
            lv->mut_globals[lv->nmut++] = g;
    }
    return ST_OK;
}

/* Instantiates code for a restore: data segments, then the start function, which stops at its
 * first metering check (context CTX_RESTORE): its effects are in the saved state. A TRAP or
 * FAULT leaves *lv empty. */
static status live_open(host_canister *c, const host_code *code, live *lv)
{
    exec *x = &c->x;
    memset(lv, 0, sizeof *lv);
    exec_settle(x);
    x->counter_index = code->counter_global;
    uint32_t ctx = x->ctx;
    bool pausable = x->pausable;
    x->ctx = CTX_RESTORE;
    x->restore_stopped = false;
    x->pausable = false; /* engine_instance_new runs start to the end */
    engine_instance *inst = NULL;
    status st = engine_instance_new(code->ecode, &c->cfg.run, code->imports, code->nimports, x,
                                    &inst, NULL);
    x->ctx = ctx;
    x->pausable = pausable;
    if (inst && x->inst == inst)
        exec_settle(x); /* count the start function while its counter exists */
    x->counter = NULL;
    x->inst = NULL;
    if (st == ST_TRAP_HOST && x->restore_stopped)
        st = ST_OK; /* the start function stopped at its first metering check, as intended */
    else if (st != ST_OK && status_class_of(st) == SC_TRAP)
        st = ST_CORRUPT_LEDGER;
    if (st != ST_OK) {
        engine_instance_free(inst);
        return st == ST_INCOMPATIBLE_IMPORT ? BUG() : st;
    }
    lv->inst = inst;
    st = live_bind(lv, code);
    if (st != ST_OK)
        live_close(lv);
    return st;
}

/* Instantiates code for an install or upgrade: data segments only; *start gets the start
 * function for the caller to run (NULL: none). A TRAP (a segment out of bounds) or FAULT
 * leaves *lv empty. */
static status live_open_deferred(host_canister *c, const host_code *code, live *lv,
                                 engine_func **start)
{
    memset(lv, 0, sizeof *lv);
    exec_settle(&c->x);
    c->x.counter_index = code->counter_global;
    engine_instance *inst = NULL;
    status st = engine_instance_new_deferred(code->ecode, &c->cfg.run, code->imports,
                                             code->nimports, &c->x, &inst, start, NULL);
    if (st != ST_OK) {
        engine_instance_free(inst);
        *start = NULL;
        return st == ST_INCOMPATIBLE_IMPORT ? BUG() : st;
    }
    lv->inst = inst;
    st = live_bind(lv, code);
    if (st != ST_OK) {
        live_close(lv);
        *start = NULL;
    }
    return st;
}

/* ---- canisters ---------------------------------------------------------------------------- */

status host_canister_new(const host_config *cfg, span self, host_canister **out)
{
    *out = NULL;
    if (self.len > HOST_PRINCIPAL_MAX)
        return ST_LIMIT_EXCEEDED;
    host_canister *c = base_calloc(1, sizeof *c);
    if (!c)
        return ST_OUT_OF_MEMORY;
    c->cfg = *cfg;
    /* the memory limit bounds the heap too (and with it the reservation: engine/memory.c) */
    if (c->cfg.run.max_memory_pages > c->cfg.max_memory_bytes / 65536)
        c->cfg.run.max_memory_pages = (uint32_t)(c->cfg.max_memory_bytes / 65536);
    c->cfg.run.budget = &c->budget;
    c->budget = UINT64_MAX;
    if (self.len)
        memcpy(c->self, self.ptr, self.len);
    c->self_len = self.len;
    c->status = HOST_STATUS_RUNNING;
    c->x.c = c;
    *out = c;
    return ST_OK;
}

void host_canister_free(host_canister *c)
{
    if (!c)
        return;
    if (c->life_inst)
        engine_instance_abandon(c->life_inst);
    else if (c->call_live)
        engine_instance_abandon(c->cur.inst);
    live_close(&c->life_new);
    live_close(&c->cur);
    exec_calls_drop(&c->x);
    stable_free(c);
    base_zarea_free(&c->shadow);
    base_free(c->heap_dirty);
    buf_fini(&c->x.reply);
    base_free(c);
}

status host_canister_set_controllers(host_canister *c, const span *ids, uint32_t n)
{
    if (n > HOST_CONTROLLERS_MAX)
        return ST_LIMIT_EXCEEDED;
    for (uint32_t i = 0; i < n; i++)
        if (ids[i].len > HOST_PRINCIPAL_MAX)
            return ST_LIMIT_EXCEEDED;
    for (uint32_t i = 0; i < n; i++) {
        if (ids[i].len)
            memcpy(c->controllers[i], ids[i].ptr, ids[i].len);
        c->controller_len[i] = ids[i].len;
    }
    c->ncontrollers = n;
    return ST_OK;
}

void host_canister_set_status(host_canister *c, uint32_t st)
{
    c->status = st;
}

/* Sets up the exec for a new message. */
static void exec_begin(host_canister *c, uint32_t ctx, host_call_kind kind, const host_msg *msg)
{
    exec *x = &c->x;
    x->c = c;
    x->ctx = ctx;
    x->kind = kind;
    x->msg = *msg;
    x->limit = msg->instruction_limit > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX
                                                            : msg->instruction_limit;
    x->slice = msg->slice_limit && msg->slice_limit < x->limit ? msg->slice_limit : x->limit;
    x->used_before = 0;
    x->slice_base = 0;
    x->slice_start = 0;
    x->counter = NULL;
    x->inst = NULL;
    x->readonly = false;
    x->needs_response = false;
    x->pausable = false;
    x->responded = RESPONDED_NONE;
    x->reject_code = 0;
    x->reply.len = 0;
    x->accepted = false;
    x->timer_set = false;
    x->cert_set = false;
    exec_cycles_begin(x);
    x->detail_len = 0;
    x->detail[0] = '\0';
    exec_calls_drop(x);
    exec_calls_begin(x);
    stable_begin(c);
}

/* System state the message changed: applied only when it commits. */
static void apply_system(host_canister *c)
{
    exec *x = &c->x;
    exec_cycles_commit(x);
    if (x->timer_set)
        c->timer = x->timer;
    if (x->cert_set) {
        memcpy(c->cert, x->cert, x->cert_len);
        c->cert_len = x->cert_len;
    }
}

/* A failed install or upgrade step: only stable memory (and, for an upgrade, the old instance
 * with the shadow) need undoing; the new instance is already gone. */
static status lifecycle_fail(host_canister *c, status st, bool old_live, host_result *res)
{
    status r = ST_OK;
    if (old_live) {
        live_globals_restore(&c->cur);
        r = heap_rollback(c, &c->cur);
    }
    stable_rollback(c);
    res->instructions = c->x.used_before;
    if (r != ST_OK)
        return r;
    if (status_class_of(st) != SC_TRAP)
        return st;
    return trap_result(&c->x, st, res);
}

/* ---- install and upgrade, in slices ---------------------------------------------------------
 * Steps (c->life_step): for an upgrade, canister_pre_upgrade on the old instance; then the new
 * instance (data segments), its start function and canister_init / canister_post_upgrade. Each
 * Wasm step runs pausable like an update (host_canister_call_run), continuing the slice of the
 * step before it, so a message is sliced the same whatever its steps. Nothing is kept before
 * the last step ends: while paused, the old instance, heap, globals and stable memory are the
 * committed state (as for a paused update), and a trap at any step undoes everything. */

static status life_begin(host_canister *c, const host_code *code, const host_msg *msg,
                         bool upgrade)
{
    if (c->busy)
        return ST_CANISTER_BUSY;
    if (!upgrade && c->code)
        return ST_CANISTER_NOT_EMPTY;
    exec_begin(c, upgrade ? CTX_PRE_UPGRADE : CTX_INIT, 0, msg);
    c->pending = ST_OK;
    c->busy = true;
    c->call_live = false;
    if (upgrade && !c->code) {
        c->pending = ST_CANISTER_EMPTY; /* reported by the first _run */
        return ST_OK;
    }
    c->life = upgrade ? LIFE_UPGRADE : LIFE_INSTALL;
    c->life_step = upgrade ? LIFE_STEP_PRE_UPGRADE : LIFE_STEP_INSTANTIATE;
    c->life_code = code;
    c->life_start = NULL;
    c->life_inst = NULL;
    c->call_live = true; /* the saved views exclude the message's changes */
    c->x.pausable = true;
    if (upgrade) {
        live_globals_save(&c->cur);
        budget_reset(c, &c->cur, NULL);
    } else {
        budget_reset(c, NULL, code);
    }
    return ST_OK;
}

status host_canister_install_begin(host_canister *c, const host_code *code, const host_msg *msg)
{
    return life_begin(c, code, msg, false);
}

status host_canister_upgrade_begin(host_canister *c, const host_code *code, const host_msg *msg)
{
    return life_begin(c, code, msg, true);
}

static void life_end(host_canister *c)
{
    c->life = LIFE_NONE;
    c->life_inst = NULL;
    c->life_start = NULL;
    c->busy = false;
    c->call_live = false;
}

/* Sets up Wasm function f of lv as the running step. */
static status life_invoke(host_canister *c, live *lv, engine_func *f, uint32_t ctx)
{
    exec_continue(&c->x, lv->inst, lv->counter);
    c->x.ctx = ctx;
    status st = engine_instance_invoke_begin(lv->inst, f, NULL);
    if (st == ST_OK)
        c->life_inst = lv->inst;
    return st;
}

/* A step trapped or faulted: undo everything (the new instance goes). */
static status life_fail(host_canister *c, status st, host_result *res)
{
    bool old_live = c->life == LIFE_UPGRADE;
    exec_settle(&c->x);
    live_close(&c->life_new);
    life_end(c);
    return lifecycle_fail(c, st, old_live, res);
}

/* Every step ran: the new instance, its heap and the stable memory become the committed state. */
static status life_finish(host_canister *c, host_result *res)
{
    live lv = c->life_new;
    status st = heap_reserve(c, &lv);
    if (st != ST_OK)
        return life_fail(c, st, res);
    if (c->life == LIFE_UPGRADE)
        live_close(&c->cur);
    c->cur = lv;
    memset(&c->life_new, 0, sizeof c->life_new);
    c->code = c->life_code;
    heap_adopt(c, &c->cur);
    stable_commit(c);
    c->timer = 0; /* the IC deactivates the timer on upgrade; post_upgrade may set it again */
    apply_system(c);
    c->version++;
    res->instructions = c->x.used_before;
    res->committed = true;
    exec_cycles_report(&c->x, res);
    life_end(c);
    return ST_OK;
}

/* Runs the steps until the slice ends (*paused) or the message does. */
static status life_run(host_canister *c, host_result *res, bool *paused)
{
    exec *x = &c->x;
    bool upgrade = c->life == LIFE_UPGRADE;
    status st = ST_OK;
    while (st == ST_OK) {
        if (c->life_inst) {
            st = engine_instance_run(c->life_inst, paused);
            if (st == ST_OK && *paused) {
                res->instructions = exec_used(x);
                return ST_OK;
            }
            *paused = false;
            exec_settle(x); /* while the step's counter exists */
            c->life_inst = NULL;
            if (st == ST_OK)
                c->life_step++;
            continue;
        }
        engine_func *f = NULL;
        switch (c->life_step) {
        case LIFE_STEP_PRE_UPGRADE:
            if ((f = c->cur.entries[ENTRY_PRE_UPGRADE]))
                st = life_invoke(c, &c->cur, f, CTX_PRE_UPGRADE);
            else
                c->life_step++;
            break;
        case LIFE_STEP_INSTANTIATE:
            if (upgrade)
                budget_reset(c, NULL, c->life_code); /* the old heap goes */
            st = live_open_deferred(c, c->life_code, &c->life_new, &c->life_start);
            c->life_step++;
            break;
        case LIFE_STEP_START:
            if (c->life_start)
                st = life_invoke(c, &c->life_new, c->life_start, CTX_START);
            else
                c->life_step++;
            break;
        case LIFE_STEP_INIT:
            if ((f = c->life_new.entries[upgrade ? ENTRY_POST_UPGRADE : ENTRY_INIT]))
                st = life_invoke(c, &c->life_new, f, upgrade ? CTX_POST_UPGRADE : CTX_INIT);
            else
                c->life_step++;
            break;
        default: return life_finish(c, res);
        }
    }
    *paused = false;
    return life_fail(c, st, res);
}

/* Drops a paused install or upgrade: everything it did is undone. */
static void life_abort(host_canister *c)
{
    if (c->life_inst)
        engine_instance_abandon(c->life_inst);
    exec_settle(&c->x);
    live_close(&c->life_new);
    if (c->life == LIFE_UPGRADE) {
        live_globals_restore(&c->cur);
        heap_rollback(c, &c->cur);
    }
    stable_rollback(c);
    life_end(c);
}

/* Runs a begun message to the end, resuming every pause. */
static status run_to_end(host_canister *c, status st, host_result *res)
{
    bool paused = true;
    while (st == ST_OK && paused) {
        host_result_fini(res);
        st = host_canister_call_run(c, res, &paused);
    }
    return st;
}

status host_canister_install(host_canister *c, const host_code *code, const host_msg *msg,
                             host_result *res)
{
    host_result_init(res);
    return run_to_end(c, host_canister_install_begin(c, code, msg), res);
}

status host_canister_upgrade(host_canister *c, const host_code *code, const host_msg *msg,
                             host_result *res)
{
    host_result_init(res);
    return run_to_end(c, host_canister_upgrade_begin(c, code, msg), res);
}

/* ---- messages ------------------------------------------------------------------------------------ */

/* The function a message of `kind` runs, with its context; NULL with c->pending set when it
 * cannot start (or has nothing to do: pending ST_OK). */
static engine_func *call_target(host_canister *c, host_call_kind kind, uint32_t *ctx)
{
    exec *x = &c->x;
    const live *lv = &c->cur;
    int i;
    switch (kind) {
    case HOST_CALL_UPDATE:
    case HOST_CALL_QUERY:
        i = host_code_method_find(c->code, x->msg.method);
        if (i >= 0 && kind == HOST_CALL_UPDATE) {
            bool upd = c->code->methods[i].kind == HOST_METHOD_UPDATE;
            *ctx = upd ? CTX_UPDATE : CTX_QUERY;
            x->readonly = !upd;
        } else if (i >= 0 && c->code->methods[i].kind == HOST_METHOD_QUERY) {
            *ctx = CTX_QUERY_NR;
            x->readonly = true;
        } else {
            c->pending = ST_METHOD_NOT_FOUND;
            int len = x->msg.method.len > 64 ? 64 : (int)x->msg.method.len;
            if (i >= 0) /* a query of an update method: say so (it exists) */
                exec_fail(x, ST_METHOD_NOT_FOUND,
                          "'%.*s' is an update method: send it as an "
                          "update, not a query",
                          len, (const char *)x->msg.method.ptr);
            else
                exec_fail(x, ST_METHOD_NOT_FOUND, "no %s method '%.*s'",
                          kind == HOST_CALL_UPDATE ? "update" : "query", len,
                          (const char *)x->msg.method.ptr);
            return NULL;
        }
        x->needs_response = true;
        return lv->methods[i];
    case HOST_CALL_HEARTBEAT: *ctx = CTX_HEARTBEAT; return lv->entries[ENTRY_HEARTBEAT];
    case HOST_CALL_GLOBAL_TIMER:
        *ctx = CTX_TIMER;
        c->timer = 0;
        return lv->entries[ENTRY_GLOBAL_TIMER];
    case HOST_CALL_INSPECT:
        *ctx = CTX_INSPECT;
        x->readonly = true;
        x->accepted = lv->entries[ENTRY_INSPECT] == NULL;
        return lv->entries[ENTRY_INSPECT];
    case HOST_CALL_REPLY:
    case HOST_CALL_REJECT:
    case HOST_CALL_CLEANUP: {
        *ctx = kind == HOST_CALL_REPLY    ? CTX_REPLY
               : kind == HOST_CALL_REJECT ? CTX_REJECT
                                          : CTX_CLEANUP;
        engine_func *f = engine_instance_table_func(lv->inst, x->msg.cb_fun);
        const functype *t = f ? engine_func_functype(f) : NULL;
        if (!t || t->nparams != 1 || t->nresults != 0 || t->types[0] != VT_I32) {
            c->pending = exec_fail(x, ST_CONTRACT_VIOLATION,
                                   "callback: table entry %u is not a "
                                   "function [i32] -> []",
                                   x->msg.cb_fun);
            return NULL;
        }
        x->cb_arg[0] = x->msg.cb_env;
        return f;
    }
    }
    c->pending = BUG();
    return NULL;
}

status host_canister_call_begin(host_canister *c, host_call_kind kind, const host_msg *msg)
{
    if (c->busy)
        return ST_CANISTER_BUSY;
    exec *x = &c->x;
    uint32_t ctx = CTX_UPDATE;
    exec_begin(c, CTX_UPDATE, kind, msg);
    c->pending = ST_OK;
    c->busy = true;
    c->call_live = false;
    if (!c->code) {
        c->pending = ST_CANISTER_EMPTY;
        return ST_OK;
    }
    engine_func *f = call_target(c, kind, &ctx);
    if (!f)
        return ST_OK;
    x->ctx = ctx;
    x->pausable = true;
    live_globals_save(&c->cur);
    budget_reset(c, &c->cur, NULL);
    exec_switch(x, c->cur.inst, c->cur.counter);
    bool callback =
        kind == HOST_CALL_REPLY || kind == HOST_CALL_REJECT || kind == HOST_CALL_CLEANUP;
    status st = engine_instance_invoke_begin(c->cur.inst, f, callback ? x->cb_arg : NULL);
    if (st != ST_OK) {
        c->busy = false;
        return st;
    }
    c->call_live = true;
    return ST_OK;
}

/* Undoes everything the message did. */
static status call_rollback(host_canister *c)
{
    live_globals_restore(&c->cur);
    stable_rollback(c);
    return heap_rollback(c, &c->cur);
}

static status call_commit(host_canister *c)
{
    status st = heap_reserve(c, &c->cur);
    if (st != ST_OK)
        return st;
    heap_commit(c, &c->cur);
    stable_commit(c);
    apply_system(c);
    c->version++;
    return ST_OK;
}

/* The message's run ended with st: keep or undo its changes and fill res. */
static status call_finish(host_canister *c, status st, host_result *res)
{
    exec *x = &c->x;
    uint64_t used = exec_used(x);
    /* A message that ran out reports its limit, as the IC caps message_executed at the limit:
     * the counter may have gone past it at the metering point (a block's cost, or a host call's
     * per-byte charge far beyond the limit). */
    res->instructions = st == ST_INSTRUCTION_LIMIT_EXCEEDED && used > x->limit ? x->limit : used;
    exec_settle(x);
    if (status_class_of(st) != SC_OK || x->readonly)
        exec_calls_drop(x); /* a trapped message sends nothing */
    if (status_class_of(st) != SC_OK) {
        status r = call_rollback(c);
        if (r != ST_OK)
            return r;
        return status_class_of(st) == SC_TRAP ? trap_result(x, st, res) : st;
    }
    res->accepted = x->accepted;
    status r = x->readonly ? call_rollback(c) : call_commit(c);
    if (r != ST_OK) {
        if (!x->readonly)
            call_rollback(c);
        return r;
    }
    res->committed = !x->readonly;
    if (res->committed)
        exec_cycles_report(x, res);
    res->cycles_accepted = x->cycles_accepted;
    for (uint32_t i = 0; i < x->ncalls; i++)
        res->cycles_sent += x->calls[i].cycles;
    res->calls = x->calls; /* moved, as the reply below */
    res->ncalls = x->ncalls;
    x->calls = NULL;
    x->ncalls = x->calls_cap = 0;
    x->cycles_accepted = 0;
    if (x->needs_response && x->responded == RESPONDED_NONE && res->ncalls == 0)
        return trap_result(x, ST_NO_REPLY, res); /* the IC keeps the state; so do we */
    if (x->responded != RESPONDED_NONE) {
        res->kind = x->responded == RESPONDED_REPLY ? HOST_RESPONSE_REPLY : HOST_RESPONSE_REJECT;
        res->reject_code = x->reject_code;
        res->bytes = x->reply; /* moved: the next message starts a new buffer */
        x->reply = (buf){0};
    }
    return ST_OK;
}

status host_canister_call_run(host_canister *c, host_result *res, bool *paused)
{
    host_result_init(res);
    *paused = false;
    if (!c->busy)
        return BUG();
    if (c->life)
        return life_run(c, res, paused);
    if (!c->call_live) { /* nothing ran: no code, no such method, or nothing to do */
        c->busy = false;
        res->accepted = c->x.accepted;
        return c->pending == ST_OK ? ST_OK : trap_result(&c->x, c->pending, res);
    }
    status st = engine_instance_run(c->cur.inst, paused);
    if (st == ST_OK && *paused) {
        res->instructions = exec_used(&c->x);
        return ST_OK;
    }
    *paused = false;
    c->busy = false;
    c->call_live = false;
    return call_finish(c, st, res);
}

void host_canister_call_abort(host_canister *c)
{
    if (!c->busy)
        return;
    if (c->life) {
        life_abort(c);
        return;
    }
    if (c->call_live) {
        engine_instance_abandon(c->cur.inst);
        exec_settle(&c->x);
        exec_calls_drop(&c->x);
        call_rollback(c);
    }
    c->busy = false;
    c->call_live = false;
}

bool host_canister_busy(const host_canister *c)
{
    return c->busy;
}

status host_canister_call(host_canister *c, host_call_kind kind, const host_msg *msg,
                          host_result *res)
{
    host_result_init(res);
    return run_to_end(c, host_canister_call_begin(c, kind, msg), res);
}

/* ---- committed state: persistence and restore ---------------------------------------------- */

void host_canister_saved(const host_canister *c, host_saved *out)
{
    out->heap = span_of(c->shadow.ptr, (size_t)c->shadow_len);
    out->stable_bytes = stable_committed_bytes(c);
    out->heap_set = out->stable_set = NULL;
    out->version = c->version;
    out->timer = c->timer;
    out->certified_data = span_of(c->cert, c->cert_len);
}

status host_canister_saved_stable_read(const host_canister *c, uint64_t off, uint8_t *dst,
                                       uint64_t len)
{
    return stable_committed_read(c, off, dst, len);
}

/* Layout: u32 LE count, then count u64 LE values, in global index order. */
status host_canister_saved_globals(const host_canister *c, buf *out)
{
    const live *lv = &c->cur;
    uint32_t n = lv->nmut && lv->counter ? lv->nmut - 1 : lv->nmut;
    uint8_t w[8];
    le32_store(w, n);
    status st = buf_put(out, w, 4);
    bool paused = c->busy && c->call_live; /* then the live values are not committed */
    for (uint32_t i = 0; st == ST_OK && i < lv->nmut; i++) {
        if (lv->mut_globals[i] == lv->counter)
            continue;
        le64_store(w, paused ? lv->saved_globals[i] : engine_global_get(lv->mut_globals[i]));
        st = buf_put(out, w, 8);
    }
    return st;
}

/* Sets lv's heap (grown to the saved size) and globals from the saved state: the pages `set`
 * says may be non-zero (host_saved.heap_set), and the instance's first pages (data segments
 * are there); the rest of a grown memory is zero already. The pages written are marked. */
static status restore_instance(live *lv, span heap, const uint8_t *set, span globals)
{
    uint64_t size = lv->mem ? engine_memory_size(lv->mem) : 0;
    if (heap.len % 65536 || heap.len < size || (heap.len && !lv->mem))
        return ST_CORRUPT_LEDGER;
    if (heap.len > size) {
        uint32_t old;
        status g = engine_memory_grow(lv->mem, (uint32_t)((heap.len - size) / 65536), &old);
        if (g != ST_OK) /* past the maximum: the ledger holds what no run could have made */
            return g == ST_LIMIT_EXCEEDED ? ST_CORRUPT_LEDGER : g;
    }
    uint8_t *h = heap.len ? engine_memory_data(lv->mem) : NULL;
    for (uint64_t p = 0; p < heap.len / 65536; p++) {
        uint64_t off = p * 65536;
        if (off >= size && set && !((set[p / 8] >> (p % 8)) & 1u))
            continue;
        base_copy_sparse(h + off, heap.ptr + off, 65536);
        engine_memory_mark(lv->mem, off, 65536);
    }
    return live_globals_load(lv, globals);
}

status host_canister_restore(host_canister *c, const host_code *code, const host_saved *sv,
                             span stable, span globals)
{
    if (c->busy)
        return ST_CANISTER_BUSY;
    if (c->code)
        return ST_CANISTER_NOT_EMPTY;
    if (sv->certified_data.len > HOST_CERTIFIED_MAX || stable.len != sv->stable_bytes)
        return ST_CORRUPT_LEDGER;
    host_msg m = {0};
    exec_begin(c, CTX_RESTORE, 0, &m);
    c->budget = UINT64_MAX; /* what was committed fit the limit when it was made */
    live lv;
    status st = live_open(c, code, &lv);
    if (st != ST_OK)
        return st;
    st = restore_instance(&lv, sv->heap, sv->heap_set, globals);
    if (st == ST_OK)
        st = stable_load(c, stable, sv->stable_set);
    if (st == ST_OK)
        st = heap_reserve(c, &lv);
    if (st != ST_OK) {
        live_close(&lv);
        stable_load(c, span_of(NULL, 0), NULL);
        return st;
    }
    c->cur = lv;
    c->code = code;
    heap_adopt(c, &c->cur);
    if (c->heap_dirty) /* the ledger has all of it */
        memset(c->heap_dirty, 0, (size_t)c->heap_dirty_cap);
    if (c->stable.dirty)
        memset(c->stable.dirty, 0, (size_t)(c->stable.cap_pages * 65536u / HOST_PAGE_SIZE / 8));
    system_set(c, sv);
    return ST_OK;
}

void system_set(host_canister *c, const host_saved *sv)
{
    c->version = sv->version;
    c->timer = sv->timer;
    c->cert_len = (uint32_t)sv->certified_data.len;
    if (c->cert_len)
        memcpy(c->cert, sv->certified_data.ptr, c->cert_len);
}

/* ---- state views -------------------------------------------------------------------------------- */

void host_canister_dirty(const host_canister *c, host_dirty *out)
{
    out->heap_bytes = c->shadow_len;
    out->heap_bits = c->heap_dirty;
    out->stable_bytes = c->stable.pages * 65536u;
    out->stable_bits = c->stable.dirty;
}

void host_canister_dirty_clear(host_canister *c)
{
    if (c->heap_dirty)
        memset(c->heap_dirty, 0, (size_t)c->heap_dirty_cap);
    if (c->stable.dirty)
        memset(c->stable.dirty, 0, (size_t)(c->stable.cap_pages * 65536u / HOST_PAGE_SIZE / 8));
}

span host_canister_heap(const host_canister *c)
{
    return span_of(c->shadow.ptr, (size_t)c->shadow_len);
}

span host_canister_stable(const host_canister *c)
{
    return span_of(c->stable.data.ptr, (size_t)(c->stable.pages * 65536u));
}

const host_code *host_canister_code(const host_canister *c)
{
    return c->code;
}

bool host_canister_compiled(const host_canister *c)
{
    return c->cur.inst && engine_instance_compiled(c->cur.inst);
}

uint64_t host_canister_version(const host_canister *c)
{
    return c->version;
}

uint64_t host_canister_timer(const host_canister *c)
{
    return c->timer;
}

span host_canister_certified_data(const host_canister *c)
{
    return span_of(c->cert, c->cert_len);
}
