/* round.c - executing the messages of one block on the live canisters and staging the results
 * in the ledger round. Used in the same way by scheduler_round() (messages picked from the
 * mempool) and by replay (messages read from a recorded block), so both run the same code.
 *
 * Rules (docs/scheduler.md): a round first resumes every paused message (canisters in id
 * order) for one slice; then runs new messages in block order. A message runs in slices of
 * limits.slice_instructions; if its slice ends before the message does, it pauses and resumes
 * at the start of the next round; while paused its canister takes no other update. Each
 * finished message gets a receipt. Time is the block's timestamp; a paused message keeps the
 * time of the block that started it (as on the IC). */
#include "scheduler_int.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

status round_receipt_put(round_ctx *rc, const uint8_t id[LEDGER_HASH_SIZE],
                         const ledger_receipt *rec)
{
    status st = ledger_round_receipt_put(rc->r, id, rec);
    if (st == ST_OK && rc->on_receipt)
        st = rc->on_receipt(rc->receipt_user, id, rec);
    return st;
}

static status put_receipt(round_ctx *rc, const uint8_t id[LEDGER_HASH_SIZE], status st,
                          uint64_t instructions, span reply)
{
    ledger_receipt rec = {.status = (uint32_t)st, .instructions = instructions, .reply = reply};
    rc->completed++;
    return round_receipt_put(rc, id, &rec);
}

/* A message that ends before running any code: a receipt with just its status. */
static status refuse(round_ctx *rc, const uint8_t id[LEDGER_HASH_SIZE], status st)
{
    return put_receipt(rc, id, st, 0, span_of(NULL, 0));
}

/* The receipt of a finished host message: reply (ST_OK), reject (ST_CANISTER_REJECTED, the
 * message as bytes) or the trap status with its text. */
static status put_result(round_ctx *rc, const uint8_t id[LEDGER_HASH_SIZE], const host_result *res,
                         uint64_t extra_instructions)
{
    status st = res->st;
    if (st == ST_OK && res->kind == HOST_RESPONSE_REJECT)
        st = ST_CANISTER_REJECTED;
    return put_receipt(rc, id, st, res->instructions + extra_instructions,
                       span_of(res->bytes.ptr, res->bytes.len));
}

void sched_paused_clear(paused_msg *p)
{
    host_canister_free(p->hc);
    buf_fini(&p->envelope);
    buf_fini(&p->rm.method);
    buf_fini(&p->rm.data);
    buf_fini(&p->prior_text);
    memset(p, 0, sizeof *p);
}

/* Creates the ledger record of c, a canister being installed (its id is the next one). */
static status install_create(round_ctx *rc, sched_canister *c)
{
    ledger_canister rec = {.controller_count = c->ncontrollers, .status = LEDGER_CANISTER_RUNNING};
    memcpy(rec.controllers, c->controllers, sizeof rec.controllers);
    uint64_t assigned = 0;
    status st = ledger_round_canister_create(rc->r, &rec, &assigned);
    if (st == ST_OK && assigned != c->id)
        st = BUG();
    if (st == ST_OK) {
        rc->s->next_canister_id++;
        c->touched = true;
    }
    return st;
}

/* The cycles of an install that leaves its canister: the admin's canister gets the provisional
 * cycles, pays its creation and the install's execution, deploy charge included
 * (docs/canisters.md "Cycles"). Storage is charged from the install's time (the block that
 * began it), so a sliced install leaves the same state as a whole one. */
static status install_cycles(round_ctx *rc, sched_canister *c, const host_result *res)
{
    scheduler *s = rc->s;
    c->storage_paid_ns = c->paused.time_ns;
    status st = sched_cycles_mint(s, c, s->genesis.provisional_cycles);
    sched_cycles_charge(s, c, s->genesis.fee_canister_creation);
    sched_cycles_settle(s, c, res, c->paused.cost + res->instructions);
    return st;
}

/* An install or upgrade of c ended with res: c keeps the new code or the old state, and the
 * receipt says which. An install that fails in its first slice leaves no canister (the caller
 * drops it); one that fails after a pause leaves its canister, empty, as a failed install_code
 * leaves the canister create_canister made on the IC. */
static status lifecycle_end(round_ctx *rc, sched_canister *c, const host_result *res)
{
    scheduler *s = rc->s;
    paused_msg *p = &c->paused;
    code_entry *code = p->code;
    p->code = NULL;
    bool upgrade = p->kind == LEDGER_MSG_UPGRADE;
    bool created = !upgrade && c->id < s->next_canister_id; /* made when the install paused */
    status st = ST_OK;
    if (upgrade)
        sched_cycles_settle(s, c, res, p->cost + res->instructions);
    else if (created || res->st == ST_OK)
        st = install_cycles(rc, c, res);
    if (res->st != ST_OK) {
        sched_code_release(s, code);
        return st == ST_OK ? put_result(rc, p->id, res, p->cost) : st;
    }
    if (upgrade) {
        sched_code_release(s, c->code);
        c->code = code;
        c->heap_cleared = true;
        return put_result(rc, p->id, res, p->cost);
    }
    c->code = code;
    if (st == ST_OK && !created)
        st = install_create(rc, c);
    uint8_t idbytes[8];
    le64_store(idbytes, c->id);
    return st == ST_OK
               ? put_receipt(rc, p->id, ST_OK, p->cost + res->instructions, span_of(idbytes, 8))
               : st;
}

status round_run_slice(round_ctx *rc, sched_canister *c)
{
    paused_msg *p = &c->paused;
    for (;;) {
        host_result res;
        host_result_init(&res);
        bool paused = false;
        status st = host_canister_call_run(paused_host(c), &res, &paused);
        if (st != ST_OK) { /* a fault: the message was rolled back; the round will abort */
            host_result_fini(&res);
            return st;
        }
        rc->used += res.instructions - p->used;
        p->used = res.instructions;
        p->slices++;
        c->touched = true; /* the aux record changes either way */
        if (paused) {
            if (p->kind == LEDGER_MSG_INSTALL && c->id >= rc->s->next_canister_id)
                st = install_create(rc, c); /* its record holds the paused install (restarts) */
            host_result_fini(&res);
            return st;
        }
        p->active = false; /* ended: the canister is idle for what its end does (a stop) */
        bool again = false;
        if (p->kind == PAUSED_INSTALL_CODE) {
            st = mgmt_install_end(rc, c, &res);
        } else if (p->kind >= PAUSED_REQUEST) {
            st = route_paused_done(rc, c, &res, &again);
        } else if (p->kind != LEDGER_MSG_UPDATE) {
            st = lifecycle_end(rc, c, &res);
        } else {
            sched_cycles_settle(rc->s, c, &res, res.instructions);
            st = route_ingress_done(rc, c, p->id, span_of(p->caller, PRINCIPAL_MAX), &res);
        }
        host_result_fini(&res);
        if (st != ST_OK || !again) {
            sched_paused_clear(p);
            /* the aaaaa-aa calls that waited for it run now, before anything else of c */
            return st == ST_OK ? mgmt_wait_drain(rc, c) : st;
        }
        /* a next step of the same message began (the cleanup callback): its first slice */
    }
}

/* The span s of bytes inside `from`, moved to the same place inside the copy `to`. */
static span rebase(span s, span from, const uint8_t *to)
{
    if (!s.len)
        return span_of(to, 0);
    assert(s.ptr >= from.ptr && s.len <= from.len &&
           (size_t)(s.ptr - from.ptr) <= from.len - s.len);
    return span_of(to + (s.ptr - from.ptr), s.len);
}

/* What an install or upgrade runs: its compiled code (a reference), deploy charge and init
 * argument (inside the envelope). */
typedef struct life_args {
    code_entry *code;
    uint64_t cost;
    span init;
} life_args;

/* Copies the envelope into c->paused and begins message m (parsed from envelope, with its
 * id) on c's canister: an update, or with `la` an install or upgrade (c->paused takes la's
 * code reference on success). The copy is not parsed (nor hashed) again. ST_OK,
 * ST_CANISTER_BUSY (the caller writes a receipt), ST_OUT_OF_MEMORY. */
static status message_begin(scheduler *s, sched_canister *c, span envelope,
                            const ledger_message *m, const uint8_t id[LEDGER_HASH_SIZE],
                            uint64_t time_ns, const life_args *la)
{
    paused_msg *p = &c->paused;
    if (p->active)
        return ST_CANISTER_BUSY;
    status st = buf_put(&p->envelope, envelope.ptr, envelope.len);
    if (st != ST_OK) {
        sched_paused_clear(p);
        return st;
    }
    p->msg = *m;
    p->msg.method = rebase(m->method, envelope, p->envelope.ptr);
    p->msg.arg = rebase(m->arg, envelope, p->envelope.ptr);
    memcpy(p->id, id, LEDGER_HASH_SIZE);
    sched_principal_of_key(p->msg.sender, p->caller);
    p->caller_len = PRINCIPAL_MAX;
    p->hmsg =
        (host_msg){.method = p->msg.method,
                   .arg = p->msg.arg,
                   .caller = span_of(p->caller, PRINCIPAL_MAX),
                   .time = time_ns,
                   .instruction_limit = s->genesis.message_instruction_limit,
                   .slice_limit = s->genesis.slice_instructions,
                   .cycles_prepaid = sched_fee_execution(s, s->genesis.message_instruction_limit),
                   .cycles_frozen = sched_freeze_reserve(s, c),
                   .call_room = route_call_room(c)};
    p->time_ns = time_ns;
    p->kind = LEDGER_MSG_UPDATE;
    if (la) {
        p->kind = (uint8_t)m->kind;
        st =
            sched_life_begin(s, c, c->hc, la->code, m->kind == LEDGER_MSG_UPGRADE, la->cost,
                             rebase(la->init, envelope, p->envelope.ptr), p->hmsg.caller, time_ns);
    } else {
        st = host_canister_call_begin(c->hc, HOST_CALL_UPDATE, &p->hmsg);
        p->active = st == ST_OK;
    }
    if (st != ST_OK)
        sched_paused_clear(p);
    return st;
}

status sched_life_begin(scheduler *s, sched_canister *c, host_canister *hc, code_entry *code,
                        bool upgrade, uint64_t cost, span arg, span caller, uint64_t time_ns)
{
    paused_msg *p = &c->paused;
    /* nothing prepaid: an install or upgrade pays its execution when it ends */
    p->hmsg = (host_msg){.arg = arg,
                         .caller = caller,
                         .time = time_ns,
                         .instruction_limit = s->genesis.install_instructions - cost,
                         .slice_limit = s->genesis.slice_instructions};
    p->cost = cost;
    p->time_ns = time_ns;
    status st = upgrade ? host_canister_upgrade_begin(hc, code->code, &p->hmsg)
                        : host_canister_install_begin(hc, code->code, &p->hmsg);
    if (st != ST_OK)
        return st;
    p->code = code;
    p->active = true;
    return ST_OK;
}

status round_resume_paused(round_ctx *rc)
{
    scheduler *s = rc->s;
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        c->resumed = c->paused.active;
        if (!c->paused.active)
            continue;
        status st = round_run_slice(rc, c);
        if (st != ST_OK)
            return st;
    }
    return ST_OK;
}

static status exec_update(round_ctx *rc, const ledger_message *m,
                          const uint8_t id[LEDGER_HASH_SIZE], span envelope)
{
    scheduler *s = rc->s;
    if (m->canister_id == LEDGER_CANISTER_NONE) { /* the management canister aaaaa-aa */
        call_ctx origin = {.origin = ORIGIN_INGRESS, .principal_len = PRINCIPAL_MAX};
        memcpy(origin.msg_id, id, LEDGER_HASH_SIZE);
        sched_principal_of_key(m->sender, origin.principal);
        return mgmt_call(rc, &origin, 0, m->sender, m->method, m->arg, 0);
    }
    sched_canister *c = sched_canister_find(s, m->canister_id);
    if (!sched_canister_live(c))
        return refuse(rc, id, ST_UNKNOWN_CANISTER);
    if (c->route.status != LEDGER_CANISTER_RUNNING)
        return refuse(rc, id, ST_CANISTER_STOPPED);
    if (c->paused.active)
        return refuse(rc, id, ST_CANISTER_BUSY);
    /* Ingress induction (docs/canisters.md "Cycles"): the canister pays the ingress fee if it
     * can keep its freezing reserve and the prepayment of the message's execution. */
    u128 ingress = sched_fee_ingress(s, envelope.len);
    char text[200];
    if (!sched_cycles_can_run(s, c, rc->time_ns, ingress, text, sizeof text))
        return put_receipt(rc, id, ST_CANISTER_OUT_OF_CYCLES, 0, span_of(text, strlen(text)));
    sched_cycles_charge(s, c, ingress);
    status st = message_begin(s, c, envelope, m, id, rc->time_ns, NULL);
    if (st == ST_CANISTER_BUSY)
        return refuse(rc, id, st);
    if (st != ST_OK)
        return st;
    return round_run_slice(rc, c);
}

/* Splits an install/upgrade argument (scheduler_install_arg) into module and init argument. */
static bool split_install_arg(span arg, span *module, span *init)
{
    if (arg.len < 4)
        return false;
    uint32_t n = le32_load(arg.ptr);
    if (n > arg.len - 4)
        return false;
    *module = span_of(arg.ptr + 4, n);
    *init = span_of(arg.ptr + 4 + n, arg.len - 4 - n);
    return true;
}

uint64_t sched_deploy_cost(size_t code_bytes, uint64_t per_byte)
{
    if (per_byte && code_bytes > UINT64_MAX / per_byte)
        return UINT64_MAX;
    return (uint64_t)code_bytes * per_byte;
}

/* The module of install/upgrade message m compiled (through the code cache: a reference), its
 * deploy charge and init argument. ST_BAD_INSTALL_ARG, the compiler's statuses (err says
 * more), ST_OUT_OF_MEMORY. */
static status life_code(scheduler *s, const ledger_message *m, life_args *la, span *module,
                        engine_error *err)
{
    la->code = NULL;
    la->cost = 0;
    if (!split_install_arg(m->arg, module, &la->init))
        return ST_BAD_INSTALL_ARG;
    la->cost = sched_deploy_cost(module->len, s->genesis.deploy_per_byte);
    if (la->cost >= s->genesis.install_instructions)
        return ST_INSTRUCTION_LIMIT_EXCEEDED;
    uint8_t hash[LEDGER_HASH_SIZE];
    crypto_generichash(hash, sizeof hash, module->ptr, module->len, NULL, 0);
    return sched_code_get(s, *module, hash, &la->code, err);
}

status sched_message_begin(scheduler *s, sched_canister *c, span envelope, uint64_t time_ns)
{
    ledger_message m;
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ledger_message_parse(envelope, &m, id);
    /* a paused canister's balance does not change until its message ends (scheduler/cycles.c,
     * route.c), so a restored message sees the balance it began with */
    if (st != ST_OK || m.kind == LEDGER_MSG_UPDATE)
        return st != ST_OK ? st : message_begin(s, c, envelope, &m, id, time_ns, NULL);
    life_args la;
    span module;
    st = life_code(s, &m, &la, &module, NULL);
    if (st == ST_OK)
        st = message_begin(s, c, envelope, &m, id, time_ns, &la);
    if (st != ST_OK)
        sched_code_release(s, la.code);
    return st;
}

/* Charges the deploy cost and compiles the module (through the code cache), storing it in the
 * round. Writes the receipt itself and leaves la->code NULL when the message ends here. */
static status prepare_code(round_ctx *rc, const ledger_message *m,
                           const uint8_t id[LEDGER_HASH_SIZE], life_args *la)
{
    scheduler *s = rc->s;
    span module;
    engine_error err = {0};
    status st = life_code(s, m, la, &module, &err);
    if (st == ST_BAD_INSTALL_ARG)
        return refuse(rc, id, st);
    if (st == ST_INSTRUCTION_LIMIT_EXCEEDED) {
        rc->used += s->genesis.install_instructions;
        return put_receipt(rc, id, st, s->genesis.install_instructions, span_of(NULL, 0));
    }
    rc->used += la->cost;
    if (st == ST_OUT_OF_MEMORY)
        return st;
    if (st != ST_OK) {
        char text[256];
        engine_error_format(&err, text, sizeof text);
        return put_receipt(rc, id, st, la->cost, span_of(text, strlen(text)));
    }
    uint8_t stored[LEDGER_HASH_SIZE];
    st = ledger_round_code_put(rc->r, module, host_code_instrumented(la->code->code), stored);
    if (st != ST_OK) {
        sched_code_release(s, la->code);
        la->code = NULL;
    }
    return st;
}

/* An install: a new canister with the next id runs the module's start and canister_init, in
 * slices. Its ledger record is made when it first pauses or when it succeeds; an install that
 * fails in its first slice leaves nothing but its receipt (the id is not used). */
static status exec_install(round_ctx *rc, const ledger_message *m,
                           const uint8_t id[LEDGER_HASH_SIZE], span envelope)
{
    scheduler *s = rc->s;
    if (memcmp(m->sender, s->genesis.admin_public_key, LEDGER_PUBLIC_KEY_SIZE) != 0 ||
        m->canister_id != LEDGER_CANISTER_NONE)
        return refuse(rc, id, ST_NOT_AUTHORIZED);
    life_args la;
    status st = prepare_code(rc, m, id, &la);
    if (st != ST_OK || !la.code)
        return st;
    sched_canister *c;
    st = sched_canister_add(s, s->next_canister_id, &c);
    if (st != ST_OK) {
        sched_code_release(s, la.code);
        return st;
    }
    st = sched_canister_set_controllers(c, &m->sender, 1);
    if (st == ST_OK)
        st = message_begin(s, c, envelope, m, id, rc->time_ns, &la);
    if (st != ST_OK)
        sched_code_release(s, la.code);
    else
        st = round_run_slice(rc, c);
    if (c->id >= s->next_canister_id)
        sched_canister_drop_last(s); /* it failed before its record was made */
    return st;
}

static bool is_controller(const sched_canister *c, const uint8_t key[LEDGER_PUBLIC_KEY_SIZE])
{
    for (uint32_t i = 0; i < c->ncontrollers; i++)
        if (!memcmp(c->controllers[i], key, LEDGER_PUBLIC_KEY_SIZE))
            return true;
    return false;
}

/* An upgrade: pre_upgrade, the new code's start and post_upgrade, in slices; the old code and
 * state stay committed until the last step ends. */
static status exec_upgrade(round_ctx *rc, const ledger_message *m,
                           const uint8_t id[LEDGER_HASH_SIZE], span envelope)
{
    scheduler *s = rc->s;
    sched_canister *c = sched_canister_find(s, m->canister_id);
    if (!sched_canister_live(c))
        return refuse(rc, id, ST_UNKNOWN_CANISTER);
    if (!is_controller(c, m->sender))
        return refuse(rc, id, ST_NOT_AUTHORIZED);
    if (c->paused.active || c->route.ncb) /* callbacks refer to the running code's table */
        return refuse(rc, id, ST_CANISTER_BUSY);
    /* An upgrade runs only if the canister keeps its freezing reserve after paying the whole
     * install budget (docs/canisters.md "Cycles"); its execution is settled when it ends
     * (lifecycle_end), the deploy charge alone if the code is refused. */
    sched_cycles_storage(s, c, rc->time_ns);
    char text[200];
    u128 need = u128_add_sat(sched_freeze_reserve(s, c),
                             sched_fee_execution(s, s->genesis.install_instructions));
    if (!sched_cycles_enough(s, c, need, text, sizeof text))
        return put_receipt(rc, id, ST_CANISTER_OUT_OF_CYCLES, 0, span_of(text, strlen(text)));
    life_args la;
    status st = prepare_code(rc, m, id, &la);
    if (st != ST_OK || !la.code) {
        if (st == ST_OK && la.cost) /* the deploy charge was spent */
            sched_cycles_settle(s, c, NULL, la.cost);
        return st;
    }
    st = message_begin(s, c, envelope, m, id, rc->time_ns, &la);
    if (st != ST_OK) {
        sched_code_release(s, la.code);
        return st;
    }
    return round_run_slice(rc, c);
}

/* Mints cycles into a canister: the admin's, on a local chain (docs/canisters.md "Cycles").
 * The receipt's reply is the new balance (16 bytes, little-endian). */
static status exec_mint(round_ctx *rc, const ledger_message *m, const uint8_t id[LEDGER_HASH_SIZE])
{
    scheduler *s = rc->s;
    if (memcmp(m->sender, s->genesis.admin_public_key, LEDGER_PUBLIC_KEY_SIZE) != 0)
        return refuse(rc, id, ST_NOT_AUTHORIZED);
    if (m->arg.len != 16)
        return refuse(rc, id, ST_BAD_ARGUMENT);
    sched_canister *c = sched_canister_find(s, m->canister_id);
    if (!c)
        return refuse(rc, id, ST_UNKNOWN_CANISTER);
    if (c->paused.active) /* a paused message sees the balance it began with */
        return refuse(rc, id, ST_CANISTER_BUSY);
    sched_cycles_storage(s, c, rc->time_ns);
    status st = sched_cycles_mint(s, c, le128_load(m->arg.ptr));
    if (st != ST_OK)
        return refuse(rc, id, st);
    uint8_t balance[16];
    le128_store(balance, host_canister_cycles(c->hc));
    return put_receipt(rc, id, ST_OK, 0, span_of(balance, sizeof balance));
}

status round_execute(round_ctx *rc, span envelope)
{
    ledger_message m;
    uint8_t id[LEDGER_HASH_SIZE];
    /* verified at admission (production) or by the replay feed: parsing is enough here; the
     * id is hashed once, by the include */
    status st = ledger_message_parse(envelope, &m, NULL);
    if (st != ST_OK)
        return ST_CORRUPT_LEDGER;
    st = ledger_round_message_include(rc->r, envelope, id);
    if (st != ST_OK)
        return st;
    rc->included++;
    if (m.expiry_height < rc->height)
        return refuse(rc, id, ST_MESSAGE_EXPIRED);
    switch (m.kind) {
    case LEDGER_MSG_UPDATE: return exec_update(rc, &m, id, envelope);
    case LEDGER_MSG_INSTALL: return exec_install(rc, &m, id, envelope);
    case LEDGER_MSG_UPGRADE: return exec_upgrade(rc, &m, id, envelope);
    case LEDGER_MSG_MINT: return exec_mint(rc, &m, id);
    default: return refuse(rc, id, ST_BAD_MESSAGE_KIND);
    }
}

/* ---- staging ---------------------------------------------------------------------------- */

/* True if any 4 KiB page of 64 KiB page p is marked in bits (16 bits = 2 bytes per page). */
static bool page_dirty(const uint8_t *bits, uint64_t bits_pages, uint64_t p)
{
    uint64_t first = p * 16;
    if (!bits || first >= bits_pages)
        return false;
    return bits[first / 8] | bits[first / 8 + 1];
}

static status stage_heap(round_ctx *rc, sched_canister *c, const host_saved *sv,
                         const host_dirty *d)
{
    status st = ST_OK;
    if (c->heap_cleared)
        st = ledger_round_memory_clear(rc->r, c->id, LEDGER_MEM_HEAP);
    uint64_t pages = sv->heap.len / LEDGER_PAGE_SIZE;
    for (uint64_t p = 0; st == ST_OK && p < pages; p++)
        if (c->heap_cleared || page_dirty(d->heap_bits, d->heap_bytes / HOST_PAGE_SIZE, p))
            st = ledger_round_page_put(rc->r, c->id, LEDGER_MEM_HEAP, (uint32_t)p,
                                       sv->heap.ptr + p * LEDGER_PAGE_SIZE);
    return st;
}

static status stage_stable(round_ctx *rc, sched_canister *c, const host_saved *sv,
                           const host_dirty *d, uint8_t *page)
{
    status st = ST_OK;
    uint64_t pages = sv->stable_bytes / LEDGER_PAGE_SIZE;
    for (uint64_t p = 0; st == ST_OK && p < pages; p++) {
        if (!page_dirty(d->stable_bits, d->stable_bytes / HOST_PAGE_SIZE, p))
            continue;
        st = host_canister_saved_stable_read(c->hc, p * LEDGER_PAGE_SIZE, page, LEDGER_PAGE_SIZE);
        if (st == ST_OK)
            st = ledger_round_page_put(rc->r, c->id, LEDGER_MEM_STABLE, (uint32_t)p, page);
    }
    return st;
}

static status stage_record(round_ctx *rc, sched_canister *c, const host_saved *sv, buf *aux)
{
    ledger_canister rec = {.controller_count = c->ncontrollers,
                           .status = c->route.status,
                           .heap_pages = (uint32_t)(sv->heap.len / LEDGER_PAGE_SIZE),
                           .stable_pages = (uint32_t)(sv->stable_bytes / LEDGER_PAGE_SIZE),
                           .version = sv->version};
    if (c->code)
        memcpy(rec.code_hash, c->code->hash, LEDGER_HASH_SIZE);
    memcpy(rec.controllers, c->controllers, sizeof rec.controllers);
    if (sv->certified_data.len > LEDGER_CERTIFIED_DATA_MAX)
        return BUG();
    rec.certified_data_len = (uint32_t)sv->certified_data.len;
    if (sv->certified_data.len)
        memcpy(rec.certified_data, sv->certified_data.ptr, sv->certified_data.len);
    aux->len = 0;
    status st = sched_aux_encode(c, aux);
    rec.aux = span_of(aux->ptr, aux->len);
    return st == ST_OK ? ledger_round_canister_put(rc->r, c->id, &rec) : st;
}

status round_stage_canisters(round_ctx *rc)
{
    scheduler *s = rc->s;
    buf aux = {0};
    uint8_t *page = base_alloc(LEDGER_PAGE_SIZE);
    status st = page ? ST_OK : ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; st == ST_OK && i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        if (!c->touched)
            continue;
        host_saved sv;
        host_dirty d;
        host_canister_saved(c->hc, &sv);
        host_canister_dirty(c->hc, &d);
        st = stage_heap(rc, c, &sv, &d);
        if (st == ST_OK)
            st = stage_stable(rc, c, &sv, &d, page);
        if (st == ST_OK)
            st = stage_record(rc, c, &sv, &aux);
    }
    base_free(page);
    buf_fini(&aux);
    return st;
}

static void journal_put(sched_journal *j, uint64_t height, uint64_t canister, uint32_t page,
                        uint32_t what)
{
    sched_jentry *e = &j->ring[j->pushed % JOURNAL_CAP];
    if (j->pushed >= JOURNAL_CAP && e->height + 1 > j->floor)
        j->floor = e->height + 1; /* overwritten: that height is no longer complete */
    *e = (sched_jentry){.height = height, .canister = canister, .page = page, .what = what};
    j->pushed++;
}

void round_journal(scheduler *s, uint64_t height)
{
    sched_journal *j = &s->journal;
    pthread_mutex_lock(&j->mu);
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        if (!c->touched)
            continue;
        if (c->heap_cleared) {
            journal_put(j, height, c->id, 0, JOURNAL_RESET);
            continue;
        }
        host_saved sv;
        host_dirty d;
        host_canister_saved(c->hc, &sv);
        host_canister_dirty(c->hc, &d);
        uint64_t pages = sv.heap.len / LEDGER_PAGE_SIZE;
        for (uint64_t p = 0; p < pages; p++)
            if (page_dirty(d.heap_bits, d.heap_bytes / HOST_PAGE_SIZE, p))
                journal_put(j, height, c->id, (uint32_t)p, JOURNAL_HEAP);
        pages = sv.stable_bytes / LEDGER_PAGE_SIZE;
        for (uint64_t p = 0; p < pages; p++)
            if (page_dirty(d.stable_bits, d.stable_bytes / HOST_PAGE_SIZE, p))
                journal_put(j, height, c->id, (uint32_t)p, JOURNAL_STABLE);
    }
    pthread_mutex_unlock(&j->mu);
}

/* After a commit: the staged state is the ledger's, so dirty marks start afresh. */
static void round_settle(scheduler *s)
{
    for (uint32_t i = 0; i < s->ncanisters; i++) {
        sched_canister *c = s->canisters[i];
        if (c->touched)
            host_canister_dirty_clear(c->hc);
        c->touched = false;
        c->heap_cleared = false;
    }
}

status round_start(scheduler *s, uint64_t time_ns, round_ctx *rc)
{
    ledger_round *r = NULL;
    status st = ledger_round_begin(s->lg, &r);
    if (st != ST_OK)
        return st;
    *rc = (round_ctx){.s = s, .r = r, .height = ledger_round_height(r), .time_ns = time_ns};
    st = round_resume_paused(rc);
    if (st == ST_OK)
        st = round_run_tasks(rc);
    if (st == ST_OK)
        st = route_expire(rc); /* best-effort calls whose deadline passed (route.c) */
    if (st != ST_OK)
        round_fail(rc);
    return st;
}

status round_seal(round_ctx *rc)
{
    status st = route_run(rc); /* the queued requests and responses (route.c) */
    if (st == ST_OK)
        st = round_stage_canisters(rc);
    if (st == ST_OK)
        st = sched_cycles_stage(rc->s, rc->r);
    if (st == ST_OK)
        round_journal(rc->s, rc->height);
    return st;
}

void round_fail(round_ctx *rc)
{
    ledger_round_abort(rc->r);
    rc->r = NULL;
    rc->s->broken = true;
}

status round_finish(round_ctx *rc, scheduler_round_info *info)
{
    scheduler *s = rc->s;
    status st = ledger_round_commit(rc->r, rc->time_ns, &info->tip);
    rc->r = NULL;
    if (st != ST_OK) {
        s->broken = true;
        return st;
    }
    round_settle(s);
    s->cycles_dirty = false;
    s->last_time_ns = rc->time_ns;
    info->produced = true;
    info->messages = rc->included;
    info->completed = rc->completed;
    info->tasks = rc->tasks;
    info->instructions = rc->used;
    info->paused = false;
    for (uint32_t i = 0; i < s->ncanisters; i++)
        info->paused |= s->canisters[i]->paused.active;
    return ST_OK;
}

status round_run(scheduler *s, uint64_t time_ns, round_next_fn next, void *user,
                 scheduler_round_info *info)
{
    round_ctx rc;
    status st = round_start(s, time_ns, &rc);
    if (st != ST_OK)
        return st;
    span env;
    while (st == ST_OK && (st = next(user, &rc, &env)) == ST_OK)
        st = round_execute(&rc, env);
    if (st == ST_NOT_FOUND)
        st = ST_OK;
    if (st == ST_OK)
        st = round_seal(&rc);
    if (st != ST_OK) {
        round_fail(&rc);
        return st;
    }
    return round_finish(&rc, info);
}
