/* scheduler.c - opening a scheduler over a ledger: genesis limits, the code cache, loading every
 * canister from its record and pages (and re-running the slices of a message that was paused
 * when the node stopped), queries, and the principals of senders and canisters. */
#include "scheduler_int.h"

#include <sodium.h>
#include <string.h>

/* ---- genesis ------------------------------------------------------------------------------- */

_Static_assert(ENGINE_SCHEDULE_V1 == 1, "genesis.def's default schedule_version is v1");

status scheduler_genesis_check(const ledger_genesis *g)
{
    if (!g->slice_instructions || !g->max_messages_per_round || !g->max_heap_pages ||
        g->max_heap_pages > LEDGER_HEAP_PAGES_MAX)
        return ST_BAD_GENESIS;
    return ST_OK;
}

void scheduler_fees_zero(ledger_genesis *g)
{
    g->fee_update_message_execution = 0;
    g->fee_ten_update_instructions_execution = 0;
    g->fee_ingress_message_reception = 0;
    g->fee_ingress_byte_reception = 0;
    g->fee_xnet_call = 0;
    g->fee_xnet_byte_transmission = 0;
    g->fee_canister_creation = 0;
    g->fee_gib_storage_per_second = 0;
}

status scheduler_install_arg(span module, span init_arg, buf *out)
{
    if (module.len > UINT32_MAX)
        return ST_BAD_INSTALL_ARG;
    uint8_t len[4];
    le32_store(len, (uint32_t)module.len);
    size_t old = out->len;
    status st = buf_put(out, len, 4);
    if (st == ST_OK)
        st = buf_put(out, module.ptr, module.len);
    if (st == ST_OK)
        st = buf_put(out, init_arg.ptr, init_arg.len);
    if (st != ST_OK)
        out->len = old;
    return st;
}

/* ---- principals --------------------------------------------------------------------------- */

void sched_principal_of_key(const uint8_t key[LEDGER_PUBLIC_KEY_SIZE], uint8_t out[PRINCIPAL_MAX])
{
    /* Self-authenticating principal as on the IC (hash of the key, then the 0x02 tag), with
     * BLAKE2b-224 where the IC uses SHA-224 over the DER key. */
    crypto_generichash(out, PRINCIPAL_MAX - 1, key, LEDGER_PUBLIC_KEY_SIZE, NULL, 0);
    out[PRINCIPAL_MAX - 1] = 0x02;
}

size_t sched_principal_of_caller(span caller, uint8_t out[PRINCIPAL_MAX])
{
    if (caller.len != LEDGER_PUBLIC_KEY_SIZE) {
        out[0] = 0x04; /* the anonymous principal */
        return 1;
    }
    sched_principal_of_key(caller.ptr, out);
    return PRINCIPAL_MAX;
}

size_t sched_principal_of_canister(uint64_t id, uint8_t out[PRINCIPAL_MAX])
{
    /* As the IC's canister ids: the 8-byte big-endian number, then 0x01 0x01. */
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(id >> (56 - 8 * i));
    out[8] = 0x01;
    out[9] = 0x01;
    return 10;
}

size_t scheduler_canister_principal(uint64_t id, uint8_t out[PRINCIPAL_MAX])
{
    return sched_principal_of_canister(id, out);
}

/* ---- code cache --------------------------------------------------------------------------- */

status sched_code_get(scheduler *s, span original, const uint8_t hash[LEDGER_HASH_SIZE],
                      code_entry **out, engine_error *err)
{
    for (uint32_t i = 0; i < s->ncodes; i++) {
        if (!memcmp(s->codes[i]->hash, hash, LEDGER_HASH_SIZE)) {
            s->codes[i]->refs++;
            *out = s->codes[i];
            return ST_OK;
        }
    }
    status st = base_grow((void **)&s->codes, &s->codes_cap, s->ncodes + 1, sizeof *s->codes, 8);
    if (st != ST_OK)
        return st;
    code_entry *e = base_calloc(1, sizeof *e);
    if (!e)
        return ST_OUT_OF_MEMORY;
    st = host_code_new(&s->hcfg, original, &e->code, err);
    if (st != ST_OK) {
        base_free(e);
        return st;
    }
    memcpy(e->hash, hash, LEDGER_HASH_SIZE);
    e->refs = 1;
    s->codes[s->ncodes++] = e;
    *out = e;
    sched_tier_loaded(s, e);
    return ST_OK;
}

void sched_code_release(scheduler *s, code_entry *e)
{
    if (!e || --e->refs > 0)
        return;
    for (uint32_t i = 0; i < s->ncodes; i++) {
        if (s->codes[i] == e) {
            s->codes[i] = s->codes[--s->ncodes];
            break;
        }
    }
    sched_tier_forget(s, e);
    host_code_free(e->code);
    base_free(e);
}

/* ---- canisters ---------------------------------------------------------------------------- */

sched_canister *sched_canister_find(scheduler *s, uint64_t id)
{
    uint32_t lo = 0, hi = s->ncanisters;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->canisters[mid]->id == id)
            return s->canisters[mid];
        if (s->canisters[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

status sched_canister_add(scheduler *s, uint64_t id, sched_canister **out)
{
    if (s->ncanisters && s->canisters[s->ncanisters - 1]->id >= id)
        return BUG(); /* ids only grow */
    status st = base_grow((void **)&s->canisters, &s->canisters_cap, s->ncanisters + 1,
                          sizeof *s->canisters, 16);
    if (st != ST_OK)
        return st;
    sched_canister *c = base_calloc(1, sizeof *c);
    if (!c)
        return ST_OUT_OF_MEMORY;
    uint8_t self[PRINCIPAL_MAX];
    size_t n = sched_principal_of_canister(id, self);
    st = host_canister_new(&s->hcfg, span_of(self, n), &c->hc);
    if (st != ST_OK) {
        base_free(c);
        return st;
    }
    c->id = id;
    c->freezing_threshold = s->genesis.freezing_threshold;
    s->canisters[s->ncanisters++] = c;
    *out = c;
    return ST_OK;
}

static void canister_free(scheduler *s, sched_canister *c)
{
    host_canister_free(c->hc);         /* abandons a paused message */
    code_entry *code = c->paused.code; /* a paused install's or upgrade's new code, released */
    sched_paused_clear(&c->paused);    /* after a reinstall's fresh canister that runs it */
    sched_code_release(s, code);
    route_free(c);
    sched_code_release(s, c->code);
    base_free(c);
}

void sched_canister_drop_last(scheduler *s)
{
    if (s->ncanisters)
        canister_free(s, s->canisters[--s->ncanisters]);
}

status sched_controllers_to_host(const uint8_t (*keys)[LEDGER_PUBLIC_KEY_SIZE], uint32_t n,
                                 host_canister *hc)
{
    uint8_t principals[LEDGER_MAX_CONTROLLERS][PRINCIPAL_MAX];
    span ids[LEDGER_MAX_CONTROLLERS];
    if (n > LEDGER_MAX_CONTROLLERS)
        return ST_BAD_CANISTER_RECORD;
    for (uint32_t i = 0; i < n; i++)
        ids[i] = span_of(principals[i], sched_principal_of_controller(keys[i], principals[i]));
    return host_canister_set_controllers(hc, ids, n);
}

/* Gives host canister hc the principals of c's controllers (for ic0.is_controller). */
static status controllers_to_host(const sched_canister *c, host_canister *hc)
{
    return sched_controllers_to_host((const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])c->controllers,
                                     c->ncontrollers, hc);
}

/* A controller slot holds a public key, or a canister: 22 zero bytes then its 10-byte
 * principal (no ed25519 key a signer could use starts with 176 zero bits). */
enum { SLOT_ZEROS = LEDGER_PUBLIC_KEY_SIZE - 10 };

void sched_controller_of_canister(uint64_t id, uint8_t slot[LEDGER_PUBLIC_KEY_SIZE])
{
    uint8_t p[PRINCIPAL_MAX];
    size_t n = sched_principal_of_canister(id, p);
    memset(slot, 0, SLOT_ZEROS);
    memcpy(slot + SLOT_ZEROS, p, n);
}

uint64_t sched_controller_canister(const uint8_t slot[LEDGER_PUBLIC_KEY_SIZE])
{
    static const uint8_t zeros[SLOT_ZEROS];
    if (memcmp(slot, zeros, SLOT_ZEROS) != 0)
        return 0;
    return sched_canister_of_principal(span_of(slot + SLOT_ZEROS, 10));
}

size_t sched_principal_of_controller(const uint8_t slot[LEDGER_PUBLIC_KEY_SIZE],
                                     uint8_t out[PRINCIPAL_MAX])
{
    if (sched_controller_canister(slot))
        return sched_principal_of_canister(sched_controller_canister(slot), out);
    sched_principal_of_key(slot, out);
    return PRINCIPAL_MAX;
}

status sched_canister_set_controllers(sched_canister *c,
                                      const uint8_t (*keys)[LEDGER_PUBLIC_KEY_SIZE], uint32_t n)
{
    if (n > LEDGER_MAX_CONTROLLERS)
        return ST_BAD_CANISTER_RECORD;
    memcpy(c->controllers, keys, (size_t)n * LEDGER_PUBLIC_KEY_SIZE);
    c->ncontrollers = n;
    return controllers_to_host(c, c->hc);
}

/* ---- aux: the scheduler's part of a canister record --------------------------------------
 * u8 version (3 to 6) | u64 timer | u128 cycles | u64 freezing threshold (s) | u64 storage
 * paid up to (ns) | [ versions 5 and 6: u64 memory allocation | u8 compute allocation ]
 * | u32 n | n bytes of saved globals | u8 paused
 * [ if paused 1 (ingress): 32-byte message id | u32 slices run | u64 time of the starting block ]
 * [ if paused 2 (a queued message): u8 kind (PAUSED_*) | u32 slices run | u64 time of the
 *   starting block | u32 n | n bytes (route.c's route_paused_encode) ]
 * [ versions 4 and 6: the routing state (route.c's route_encode) ]
 * Versions 4 and 6 are written while a canister has routing state; 5 and 6 while it has a
 * memory or compute allocation (so a canister without either encodes as before). Versions 1
 * and 2 (3 and 4 without the three cycles fields, from before cycles) are read as zero cycles. */

enum {
    AUX_V1 = 1,
    AUX_V1_ROUTE = 2,
    AUX_VERSION = 3,
    AUX_VERSION_ROUTE = 4,
    AUX_ALLOC = 5,
    AUX_ALLOC_ROUTE = 6,
    AUX_HEAD = 1 + 8 + 16 + 8 + 8,
    AUX_ALLOC_BYTES = 8 + 1,
    AUX_PAUSED_QUEUED = 2
};

status sched_aux_encode(const sched_canister *c, buf *out)
{
    host_saved sv;
    host_canister_saved(c->hc, &sv);
    uint8_t head[AUX_HEAD];
    bool routed = !route_empty(c), alloc = c->memory_allocation || c->compute_allocation;
    head[0] = (uint8_t)(alloc ? (routed ? AUX_ALLOC_ROUTE : AUX_ALLOC)
                              : (routed ? AUX_VERSION_ROUTE : AUX_VERSION));
    le64_store(head + 1, sv.timer);
    le128_store(head + 9, host_canister_cycles(c->hc));
    le64_store(head + 25, c->freezing_threshold);
    le64_store(head + 33, c->storage_paid_ns);
    status st = buf_put(out, head, sizeof head);
    if (st == ST_OK && alloc) {
        uint8_t a[AUX_ALLOC_BYTES];
        le64_store(a, c->memory_allocation);
        a[8] = c->compute_allocation;
        st = buf_put(out, a, sizeof a);
    }
    size_t at = out->len;
    if (st == ST_OK)
        st = buf_put(out, "\0\0\0\0", 4);
    if (st == ST_OK)
        st = host_canister_saved_globals(c->hc, out);
    if (st != ST_OK)
        return st;
    if (out->len - at - 4 > UINT32_MAX)
        return ST_LIMIT_EXCEEDED;
    le32_store(out->ptr + at, (uint32_t)(out->len - at - 4));
    const paused_msg *p = &c->paused;
    uint8_t tail[1 + LEDGER_HASH_SIZE + 4 + 8] = {p->active ? 1 : 0};
    if (!p->active) {
        st = buf_put(out, tail, 1);
    } else if (p->kind >= PAUSED_REQUEST) {
        tail[0] = AUX_PAUSED_QUEUED;
        tail[1] = p->kind;
        le32_store(tail + 2, p->slices);
        le64_store(tail + 6, p->time_ns);
        st = buf_put(out, tail, 14);
        size_t len_at = out->len;
        if (st == ST_OK)
            st = buf_put(out, "\0\0\0\0", 4);
        if (st == ST_OK)
            st = route_paused_encode(p, out);
        if (st == ST_OK && out->len - len_at - 4 > UINT32_MAX)
            st = ST_LIMIT_EXCEEDED;
        if (st == ST_OK)
            le32_store(out->ptr + len_at, (uint32_t)(out->len - len_at - 4));
    } else {
        memcpy(tail + 1, p->id, LEDGER_HASH_SIZE);
        le32_store(tail + 1 + LEDGER_HASH_SIZE, p->slices);
        le64_store(tail + 5 + LEDGER_HASH_SIZE, p->time_ns);
        st = buf_put(out, tail, sizeof tail);
    }
    return st == ST_OK && routed ? route_encode(c, out) : st;
}

status sched_aux_decode(span aux, aux_fields *f)
{
    memset(f, 0, sizeof *f);
    if (aux.len == 0)
        return ST_OK; /* an empty canister staged before it ran anything */
    reader r = reader_of(aux);
    uint8_t version, paused;
    uint64_t timer, lo, hi;
    uint32_t n;
    if (reader_u8(&r, &version) || version < AUX_V1 || version > AUX_ALLOC_ROUTE ||
        reader_fixed64(&r, &timer))
        return ST_CORRUPT_LEDGER;
    bool cycles = version >= AUX_VERSION;
    if (cycles &&
        (reader_fixed64(&r, &lo) || reader_fixed64(&r, &hi) ||
         reader_fixed64(&r, &f->freezing_threshold) || reader_fixed64(&r, &f->storage_paid_ns)))
        return ST_CORRUPT_LEDGER;
    if (cycles)
        f->cycles = (u128)hi << 64 | lo;
    else
        f->freezing_threshold = 2592000; /* the default before thresholds were stored */
    if (version >= AUX_ALLOC &&
        (reader_fixed64(&r, &f->memory_allocation) || reader_u8(&r, &f->compute_allocation) ||
         f->compute_allocation > 100))
        return ST_CORRUPT_LEDGER;
    if (reader_fixed32(&r, &n) || reader_bytes(&r, n, &f->globals) || reader_u8(&r, &paused))
        return ST_CORRUPT_LEDGER;
    f->timer = timer;
    f->paused = paused == 1 || paused == AUX_PAUSED_QUEUED;
    if (paused == AUX_PAUSED_QUEUED) {
        uint32_t len;
        if (reader_u8(&r, &f->kind) || f->kind < PAUSED_REQUEST ||
            reader_fixed32(&r, &f->slices) || reader_fixed64(&r, &f->time_ns) ||
            reader_fixed32(&r, &len) || reader_bytes(&r, len, &f->queued))
            return ST_CORRUPT_LEDGER;
    } else if (f->paused) {
        span id;
        uint64_t t;
        if (reader_bytes(&r, LEDGER_HASH_SIZE, &id) || reader_fixed32(&r, &f->slices) ||
            reader_fixed64(&r, &t))
            return ST_CORRUPT_LEDGER;
        f->msg_id = id.ptr;
        f->time_ns = t;
    }
    if (version == AUX_VERSION_ROUTE || version == AUX_V1_ROUTE || version == AUX_ALLOC_ROUTE) {
        f->route = span_of(aux.ptr + reader_offset(&r), reader_left(&r));
        return paused <= AUX_PAUSED_QUEUED && f->route.len ? ST_OK : ST_CORRUPT_LEDGER;
    }
    return reader_left(&r) == 0 && paused <= AUX_PAUSED_QUEUED ? ST_OK : ST_CORRUPT_LEDGER;
}

status scheduler_aux_cycles(span aux, u128 *balance, uint64_t *freezing_threshold, uint64_t *timer)
{
    aux_fields f;
    status st = sched_aux_decode(aux, &f);
    if (st == ST_OK) {
        *balance = f.cycles;
        *freezing_threshold = f.freezing_threshold;
        *timer = f.timer;
    }
    return st;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Reads `pages` 64 KiB pages of one memory into a new buffer. */
/* A canister memory of `pages` pages from the ledger, into a fresh zero area, and *set, a bit
 * per page that is not all zero (host_saved.heap_set): the zero (absent) pages are neither
 * written here nor read by the restore, so a large, mostly untouched memory costs memory only
 * for its written pages. */
static status read_memory(ledger_reader *rd, uint64_t id, ledger_mem mem, uint32_t pages,
                          base_zarea *out, uint8_t **set)
{
    size_t n = (size_t)pages * LEDGER_PAGE_SIZE;
    *set = base_calloc((size_t)pages / 8 + 1, 1);
    if (!*set || !base_zarea_grow(out, n, n))
        return ST_OUT_OF_MEMORY;
    uint8_t *page = base_alloc(LEDGER_PAGE_SIZE);
    if (!page)
        return ST_OUT_OF_MEMORY;
    status st = ST_OK;
    for (uint32_t p = 0; st == ST_OK && p < pages; p++) {
        st = ledger_page_get(rd, id, mem, p, page);
        if (st == ST_OK && !base_is_zero(page, LEDGER_PAGE_SIZE)) {
            memcpy(out->ptr + (size_t)p * LEDGER_PAGE_SIZE, page, LEDGER_PAGE_SIZE);
            (*set)[p / 8] = (uint8_t)((*set)[p / 8] | (1u << (p % 8)));
        }
    }
    base_free(page);
    return st;
}

/* Re-runs the `slices` finished slices of a message that was paused when the node stopped:
 * execution is deterministic, so this reaches the very state the node had (docs/scheduler.md). */
static status resume_paused(scheduler *s, ledger_reader *rd, sched_canister *c,
                            const aux_fields *f)
{
    status st;
    if (f->kind == PAUSED_INSTALL_CODE) { /* its module is in the ledger since it began */
        span original, instrumented;
        code_entry *code = NULL;
        st = route_paused_decode(f->queued, f->kind, f->time_ns, &c->paused);
        if (st == ST_OK)
            st = ledger_code_get(rd, c->paused.code_hash, &original, &instrumented);
        if (st == ST_OK)
            st = sched_code_get(s, original, c->paused.code_hash, &code, NULL);
        if (st == ST_OK)
            st = mgmt_install_start(s, c, code, f->time_ns);
        if (st != ST_OK)
            sched_code_release(s, code);
    } else if (f->kind >= PAUSED_REQUEST) { /* a queued message: its copy is in the record */
        st = route_paused_decode(f->queued, f->kind, f->time_ns, &c->paused);
        if (st == ST_OK)
            st = route_paused_start(s, c);
    } else {
        span env;
        st = ledger_message_get(rd, f->msg_id, &env);
        if (st == ST_NOT_FOUND)
            return ST_CORRUPT_LEDGER;
        if (st == ST_OK)
            st = sched_message_begin(s, c, env, f->time_ns);
    }
    for (uint32_t i = 0; st == ST_OK && i < f->slices; i++) {
        host_result res;
        host_result_init(&res);
        bool paused = false;
        st = host_canister_call_run(paused_host(c), &res, &paused);
        if (st == ST_OK && !paused)
            st = ST_CORRUPT_LEDGER; /* it finished earlier than recorded */
        c->paused.used = res.instructions;
        host_result_fini(&res);
    }
    c->paused.slices = f->slices;
    return st;
}

status sched_host_restore(ledger_reader *rd, uint64_t id, const ledger_canister *rec,
                          const host_code *code, host_canister *hc, aux_fields *f)
{
    status st = sched_aux_decode(rec->aux, f);
    base_zarea heap = {0}, stable = {0};
    uint8_t *heap_set = NULL, *stable_set = NULL;
    if (st == ST_OK)
        st = read_memory(rd, id, LEDGER_MEM_HEAP, rec->heap_pages, &heap, &heap_set);
    if (st == ST_OK)
        st = read_memory(rd, id, LEDGER_MEM_STABLE, rec->stable_pages, &stable, &stable_set);
    if (st == ST_OK) {
        host_saved sv = {.heap = span_of(heap.ptr, (size_t)rec->heap_pages * LEDGER_PAGE_SIZE),
                         .stable_bytes = (uint64_t)rec->stable_pages * LEDGER_PAGE_SIZE,
                         .heap_set = heap_set,
                         .stable_set = stable_set,
                         .version = rec->version,
                         .timer = f->timer,
                         .certified_data = span_of(rec->certified_data, rec->certified_data_len)};
        st = host_canister_restore(hc, code, &sv, span_of(stable.ptr, (size_t)sv.stable_bytes),
                                   f->globals);
    }
    if (st == ST_OK)
        host_canister_cycles_set(hc, f->cycles); /* a query reads the balance too */
    base_zarea_free(&heap);
    base_zarea_free(&stable);
    base_free(heap_set);
    base_free(stable_set);
    return st;
}

static status load_canister(scheduler *s, ledger_reader *rd, uint64_t id)
{
    ledger_canister rec;
    status st = ledger_canister_get(rd, id, &rec);
    if (st == ST_UNKNOWN_CANISTER || st == ST_NOT_FOUND)
        return ST_OK;
    sched_canister *c;
    if (st == ST_OK)
        st = sched_canister_add(s, id, &c);
    if (st == ST_OK)
        st = sched_canister_set_controllers(
            c, (const uint8_t(*)[LEDGER_PUBLIC_KEY_SIZE])rec.controllers, rec.controller_count);
    aux_fields f;
    if (st == ST_OK)
        st = sched_aux_decode(rec.aux, &f);
    if (st == ST_OK) {
        host_canister_cycles_set(c->hc, f.cycles);
        c->freezing_threshold = f.freezing_threshold;
        c->memory_allocation = f.memory_allocation;
        c->compute_allocation = f.compute_allocation;
        c->storage_paid_ns = f.storage_paid_ns;
    }
    if (st == ST_OK && f.route.len)
        st = route_decode(f.route, c);
    if (st == ST_OK && c->route.status != LEDGER_CANISTER_RUNNING)
        host_canister_set_status(c->hc, c->route.status == LEDGER_CANISTER_STOPPING
                                            ? HOST_STATUS_STOPPING
                                            : HOST_STATUS_STOPPED);
    static const uint8_t none[LEDGER_HASH_SIZE];
    if (st == ST_OK &&
        !memcmp(rec.code_hash, none, LEDGER_HASH_SIZE)) /* an install may be paused */
        return f.paused ? resume_paused(s, rd, c, &f) : ST_OK;
    if (st != ST_OK)
        return st;
    span original, instrumented;
    st = ledger_code_get(rd, rec.code_hash, &original, &instrumented);
    if (st == ST_OK)
        st = sched_code_get(s, original, rec.code_hash, &c->code, NULL);
    if (st != ST_OK)
        return st == ST_OUT_OF_MEMORY || st == ST_LMDB_ERROR ? st : ST_CORRUPT_LEDGER;
    st = sched_host_restore(rd, id, &rec, c->code->code, c->hc, &f);
    if (st == ST_OK && f.paused)
        st = resume_paused(s, rd, c, &f);
    return st;
}

static void drop_all(scheduler *s)
{
    while (s->ncanisters)
        sched_canister_drop_last(s);
}

static status load_all(scheduler *s)
{
    ledger_reader *rd;
    ledger_tip tip;
    status st = ledger_read_begin(s->lg, &rd);
    if (st != ST_OK)
        return st;
    st = ledger_tip_get(rd, &tip);
    if (st == ST_OK) {
        s->next_canister_id = tip.next_canister_id;
        s->last_time_ns = tip.timestamp_ns;
        st = sched_cycles_load(s, rd);
    }
    for (uint64_t id = 1; st == ST_OK && id < s->next_canister_id; id++)
        st = load_canister(s, rd, id);
    ledger_read_end(rd);
    return st;
}

status sched_reload(scheduler *s)
{
    drop_all(s);
    status st = load_all(s);
    s->broken = st != ST_OK;
    return st;
}

status scheduler_open(ledger *lg, const scheduler_options *opt, scheduler **out)
{
    *out = NULL;
    const ledger_genesis *g = ledger_genesis_of(lg);
    if (!g)
        return ST_NO_GENESIS;
    scheduler *s = base_calloc(1, sizeof *s);
    if (!s)
        return ST_OUT_OF_MEMORY;
    s->journal.ring = base_calloc(JOURNAL_CAP, sizeof *s->journal.ring);
    if (!s->journal.ring || pthread_mutex_init(&s->journal.mu, NULL) != 0) {
        base_free(s->journal.ring);
        base_free(s);
        return ST_OUT_OF_MEMORY;
    }
    s->lg = lg;
    s->genesis = *g;
    status st = scheduler_genesis_check(g);
    host_config_default(&s->hcfg);
    s->hcfg.schedule = (int)g->schedule_version;
    s->hcfg.max_stable_pages = s->genesis.max_stable_pages;
    s->hcfg.run.max_memory_pages = s->genesis.max_heap_pages;
    s->hcfg.max_memory_bytes = s->genesis.max_canister_memory;
    if (opt) {
        s->hcfg.debug_sink = opt->debug_sink;
        s->hcfg.debug_user = opt->debug_user;
    }
    if (st == ST_OK)
        st = sched_tier_open(s, opt);
    if (st == ST_OK)
        st = load_all(s);
    if (st != ST_OK) {
        scheduler_close(s);
        return st;
    }
    *out = s;
    return ST_OK;
}

void scheduler_close(scheduler *s)
{
    if (!s)
        return;
    sched_tier_close(s);
    sched_block_drop(s);
    drop_all(s);
    base_free(s->canisters);
    while (s->ncodes) { /* every entry was released with its canisters; free any left over */
        code_entry *e = s->codes[s->ncodes - 1];
        e->refs = 1;
        sched_code_release(s, e);
    }
    base_free(s->codes);
    sched_tier_shelf_close(s);
    base_free(s->seen);
    pthread_mutex_destroy(&s->journal.mu);
    base_free(s->journal.ring);
    base_free(s);
}

/* ---- queries ------------------------------------------------------------------------------- */

/* A throwaway copy of c's committed state (used while c has a paused message). */
static status committed_copy(scheduler *s, sched_canister *c, host_canister **out)
{
    uint8_t self[PRINCIPAL_MAX];
    size_t n = sched_principal_of_canister(c->id, self);
    host_canister *tmp;
    status st = host_canister_new(&s->hcfg, span_of(self, n), &tmp);
    if (st != ST_OK)
        return st;
    host_saved sv;
    host_canister_saved(c->hc, &sv);
    buf globals = {0};
    uint8_t *stable = base_alloc(sv.stable_bytes ? (size_t)sv.stable_bytes : 1);
    st = stable ? host_canister_saved_stable_read(c->hc, 0, stable, sv.stable_bytes)
                : ST_OUT_OF_MEMORY;
    if (st == ST_OK)
        st = host_canister_saved_globals(c->hc, &globals);
    if (st == ST_OK)
        st = controllers_to_host(c, tmp);
    if (st == ST_OK && c->code) /* no code: an install is paused, the canister is empty */
        st = host_canister_restore(tmp, c->code->code, &sv,
                                   span_of(stable, (size_t)sv.stable_bytes),
                                   span_of(globals.ptr, globals.len));
    base_free(stable);
    buf_fini(&globals);
    if (st != ST_OK) {
        host_canister_free(tmp);
        return st;
    }
    *out = tmp;
    return ST_OK;
}

/* Runs entry `kind` (a query, or canister_inspect_message) on the state of the last block. */
static status committed_call(scheduler *s, host_call_kind kind, uint64_t canister_id, span method,
                             span arg, span caller, uint64_t instruction_limit, host_result *res)
{
    host_result_init(res); /* valid on every return, as querier_call leaves it */
    if (s->broken) {       /* a failed round left uncommitted state in memory */
        status rs = sched_reload(s);
        if (rs != ST_OK)
            return rs;
    }
    sched_canister *c = sched_canister_find(s, canister_id);
    if (!c)
        return ST_UNKNOWN_CANISTER;
    if (kind == HOST_CALL_QUERY && c->route.status != LEDGER_CANISTER_RUNNING) {
        sched_query_stopped(canister_id, c->route.status, res);
        return ST_OK;
    }
    uint8_t principal[PRINCIPAL_MAX];
    size_t plen = sched_principal_of_caller(caller, principal);
    host_msg hm = {.method = method,
                   .arg = arg,
                   .caller = span_of(principal, plen),
                   .time = s->last_time_ns,
                   .instruction_limit = instruction_limit};
    if (!c->paused.active)
        return host_canister_call(c->hc, kind, &hm, res);
    host_canister *tmp;
    status st = committed_copy(s, c, &tmp);
    if (st != ST_OK)
        return st;
    st = host_canister_call(tmp, kind, &hm, res);
    host_canister_free(tmp);
    return st;
}

status scheduler_query(scheduler *s, uint64_t canister_id, span method, span arg, span caller,
                       host_result *res)
{
    return committed_call(s, HOST_CALL_QUERY, canister_id, method, arg, caller,
                          s->genesis.query_instructions, res);
}

status scheduler_inspect(scheduler *s, uint64_t canister_id, span method, span arg, span caller,
                         host_result *res)
{
    return committed_call(s, HOST_CALL_INSPECT, canister_id, method, arg, caller,
                          scheduler_inspect_instructions(s), res);
}

status scheduler_canister_code(scheduler *s, uint64_t canister_id, const host_code **code)
{
    sched_canister *c = sched_canister_find(s, canister_id);
    if (!c)
        return ST_UNKNOWN_CANISTER;
    *code = c->code ? c->code->code : NULL;
    return ST_OK;
}
