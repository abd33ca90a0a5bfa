/* state.c - the parts of a canister's state that a message may change and a trap must undo:
 * stable memory (a growable byte array with a per-message undo log of 4 KiB pages) and the
 * heap's shadow (a copy of the committed Wasm memory). Both record which 4 KiB pages committed
 * messages changed, for the ledger (host_canister_dirty).
 *
 * Heap: a write barrier. The engine marks every 4 KiB page a write touches (engine.h "write
 * marks": VM stores, memory.copy/fill/init, data segments; ic0.c marks the host's own writes,
 * canister.c the heap it restores), so the heap differs from the shadow at most in the marked
 * pages. Commit visits only those: a marked page whose bytes changed is copied into the shadow
 * and set in heap_dirty for the ledger (one written with the same bytes is not, exactly as a
 * full comparison would find). Rollback copies the marked pages back from the shadow and shrinks
 * the memory to its committed size. Both then clear the marks. Cost O(pages written) per
 * message, plus a scan of the marks (one byte per 4 KiB page, eight at a time), where a
 * whole-heap comparison cost O(heap size). Invariant between messages: the memory equals the
 * shadow on every unmarked page below shadow_len, and the shadow is zero past shadow_len.
 * Not the handlers (ic0.c) nor the lifecycle (canister.c). */
#include "host_int.h"

#include <string.h>

enum { SPAGE = 65536, PAGE = HOST_PAGE_SIZE, SUB = SPAGE / PAGE };
_Static_assert((int)HOST_PAGE_SIZE == (int)ENGINE_MARK_PAGE,
               "the heap's dirty pages are the engine's write marks");

static void bit_set(uint8_t *bits, uint64_t i)
{
    bits[i / 8] = (uint8_t)(bits[i / 8] | (1u << (i % 8)));
}

static void bit_clear(uint8_t *bits, uint64_t i)
{
    bits[i / 8] = (uint8_t)(bits[i / 8] & ~(1u << (i % 8)));
}

static bool bit_get(const uint8_t *bits, uint64_t i)
{
    return ((unsigned)bits[i / 8] >> (unsigned)(i % 8)) & 1u;
}

/* realloc p to n bytes, zeroing [old, n). NULL on failure (p untouched). */
static void *grow_zeroed(void *p, size_t old, size_t n)
{
    uint8_t *q = base_realloc(p, n ? n : 1);
    if (q && n > old)
        memset(q + old, 0, n - old);
    return q;
}

/* ---- the memory limit ------------------------------------------------------------------------ */

void budget_reset(host_canister *c, const live *lv, const host_code *code)
{
    uint64_t have = c->stable.pages * SPAGE;
    if (lv && lv->mem)
        have += engine_memory_size(lv->mem);
    if (lv && lv->inst)
        have += engine_instance_table_bytes(lv->inst);
    else if (!lv && code)
        have += code->initial_bytes;
    c->budget = have < c->cfg.max_memory_bytes ? c->cfg.max_memory_bytes - have : 0;
}

/* ---- stable memory --------------------------------------------------------------------------- */

/* Room for `pages` pages (data and both bitmaps), zero past the old capacity. */
static status stable_reserve(host_canister *c, uint64_t pages)
{
    stable_mem *s = &c->stable;
    if (pages <= s->cap_pages)
        return ST_OK;
    uint64_t cap = s->cap_pages ? s->cap_pages : 1;
    while (cap < pages)
        cap *= 2;
    if (cap > c->cfg.max_stable_pages)
        cap = pages; /* the caller checked pages against the cap */
    if (c->cfg.max_stable_pages > SIZE_MAX / SPAGE)
        return ST_OUT_OF_MEMORY;
    size_t old = (size_t)s->cap_pages;
    uint64_t max = c->cfg.max_stable_pages * SPAGE;
    if (max > c->cfg.max_memory_bytes) /* the reservation needs no more than the limit */
        max = c->cfg.max_memory_bytes;
    if (cap * SPAGE > max)
        cap = pages;
    if (!base_zarea_grow(&s->data, (size_t)cap * SPAGE, (size_t)max))
        return ST_OUT_OF_MEMORY;
    uint8_t *t = grow_zeroed(s->touched, old * SUB / 8, (size_t)cap * SUB / 8);
    if (!t)
        return ST_OUT_OF_MEMORY;
    s->touched = t;
    uint8_t *y = grow_zeroed(s->dirty, old * SUB / 8, (size_t)cap * SUB / 8);
    if (!y)
        return ST_OUT_OF_MEMORY;
    s->dirty = y;
    s->cap_pages = cap;
    return ST_OK;
}

status stable_grow(host_canister *c, uint64_t delta, uint64_t *old_pages, bool *refused)
{
    stable_mem *s = &c->stable;
    *old_pages = s->pages;
    *refused = false;
    if (s->pages > c->cfg.max_stable_pages || delta > c->cfg.max_stable_pages - s->pages ||
        delta > c->budget / SPAGE) {
        *refused = true;
        return ST_OK;
    }
    status st = stable_reserve(c, s->pages + delta);
    if (st == ST_OK) {
        s->pages += delta;
        c->budget -= delta * SPAGE;
    }
    return st;
}

void stable_begin(host_canister *c)
{
    c->stable.pages0 = c->stable.pages;
    c->stable.undo.len = 0;
    c->stable.log.len = 0;
}

status stable_touch(host_canister *c, uint64_t off, uint64_t len)
{
    stable_mem *s = &c->stable;
    uint64_t first = off / PAGE, last = (off + len - 1) / PAGE; /* len > 0, in bounds */
    for (uint64_t p = first; p <= last; p++) {
        if (bit_get(s->touched, p))
            continue;
        bool old = p < s->pages0 * SUB; /* a page the message did not grow: save it */
        status st = buf_reserve(&s->log, 8);
        if (st == ST_OK && old)
            st = buf_reserve(&s->undo, PAGE);
        if (st != ST_OK)
            return st;
        uint8_t idx[8];
        le64_store(idx, p);
        buf_put(&s->log, idx, 8); /* reserved: cannot fail */
        if (old)
            buf_put(&s->undo, s->data.ptr + p * PAGE, PAGE);
        bit_set(s->touched, p);
    }
    return ST_OK;
}

void stable_commit(host_canister *c)
{
    stable_mem *s = &c->stable;
    for (size_t i = 0; i < s->log.len; i += 8) {
        uint64_t p = le64_load(s->log.ptr + i);
        bit_clear(s->touched, p);
        bit_set(s->dirty, p);
    }
    s->log.len = 0;
    s->undo.len = 0;
    s->pages0 = s->pages;
}

void stable_rollback(host_canister *c)
{
    stable_mem *s = &c->stable;
    size_t k = 0;
    for (size_t i = 0; i < s->log.len; i += 8) {
        uint64_t p = le64_load(s->log.ptr + i);
        bit_clear(s->touched, p);
        if (p < s->pages0 * SUB) {
            memcpy(s->data.ptr + p * PAGE, s->undo.ptr + k, PAGE);
            k += PAGE;
        }
    }
    if (s->pages > s->pages0) /* given back: a 4 GiB grow then trap writes nothing */
        base_zarea_zero(&s->data, (size_t)(s->pages0 * SPAGE), (size_t)(s->pages * SPAGE));
    s->pages = s->pages0;
    s->log.len = 0;
    s->undo.len = 0;
}

void stable_free(host_canister *c)
{
    stable_mem *s = &c->stable;
    base_zarea_free(&s->data);
    base_free(s->touched);
    base_free(s->dirty);
    buf_fini(&s->undo);
    buf_fini(&s->log);
    memset(s, 0, sizeof *s);
}

uint64_t stable_committed_bytes(const host_canister *c)
{
    return c->stable.pages0 * SPAGE;
}

status stable_committed_read(const host_canister *c, uint64_t off, uint8_t *dst, uint64_t len)
{
    const stable_mem *s = &c->stable;
    uint64_t size = s->pages0 * SPAGE;
    if (off > size || len > size - off)
        return ST_STABLE_OOB;
    if (!len)
        return ST_OK;
    memcpy(dst, s->data.ptr + off, (size_t)len);
    size_t k = 0;
    for (size_t i = 0; i < s->log.len; i += 8) { /* pages the running message changed */
        uint64_t p = le64_load(s->log.ptr + i);
        if (p >= s->pages0 * SUB)
            continue;
        uint64_t lo = p * PAGE, hi = lo + PAGE;
        if (lo < off + len && hi > off) {
            uint64_t a = lo > off ? lo : off, b = hi < off + len ? hi : off + len;
            memcpy(dst + (a - off), s->undo.ptr + k + (a - lo), (size_t)(b - a));
        }
        k += PAGE;
    }
    return ST_OK;
}

status stable_load(host_canister *c, span bytes, const uint8_t *set)
{
    if (bytes.len % SPAGE || bytes.len / SPAGE > c->cfg.max_stable_pages)
        return ST_CORRUPT_LEDGER;
    uint64_t pages = bytes.len / SPAGE;
    status st = stable_reserve(c, pages);
    if (st != ST_OK)
        return st;
    stable_mem *s = &c->stable;
    base_zarea_zero(&s->data, 0, (size_t)(s->pages * SPAGE));
    for (uint64_t p = 0; p < pages; p++)
        if (!set || bit_get(set, p))
            base_copy_sparse(s->data.ptr + p * SPAGE, bytes.ptr + p * SPAGE, SPAGE);
    s->pages = s->pages0 = pages;
    s->log.len = 0;
    s->undo.len = 0;
    return ST_OK;
}

/* ---- the heap's shadow ------------------------------------------------------------------------- */

static uint64_t heap_size(const live *lv)
{
    return lv->mem ? engine_memory_size(lv->mem) : 0;
}

status heap_reserve(host_canister *c, const live *lv)
{
    uint64_t size = heap_size(lv), max = (uint64_t)c->cfg.run.max_memory_pages * SPAGE;
    if (size > max || max > SIZE_MAX / 2)
        return ST_OUT_OF_MEMORY;
    if (!base_zarea_grow(&c->shadow, (size_t)size, (size_t)max))
        return ST_OUT_OF_MEMORY;
    uint64_t bits = (size / PAGE + 7) / 8;
    if (bits > c->heap_dirty_cap) {
        uint8_t *d = grow_zeroed(c->heap_dirty, (size_t)c->heap_dirty_cap, (size_t)bits);
        if (!d)
            return ST_OUT_OF_MEMORY;
        c->heap_dirty = d;
        c->heap_dirty_cap = bits;
    }
    return ST_OK;
}

/* The shadow past shadow_len is zero, so a grown page compares against zeros. Only the pages
 * the message marked can differ from the shadow; of those, a page written with the bytes it
 * had is not dirty (the ledger writes exactly the pages whose bytes changed). */
void heap_commit(host_canister *c, const live *lv)
{
    uint64_t size = heap_size(lv);
    if (size) {
        const uint8_t *h = engine_memory_data(lv->mem);
        uint64_t n = size / PAGE;
        for (uint64_t p = engine_memory_mark_next(lv->mem, 0); p < n;
             p = engine_memory_mark_next(lv->mem, p + 1)) {
            uint64_t off = p * PAGE;
            if (memcmp(h + off, c->shadow.ptr + off, PAGE) != 0) {
                memcpy(c->shadow.ptr + off, h + off, PAGE);
                bit_set(c->heap_dirty, p);
            }
        }
        engine_memory_marks_clear(lv->mem);
    }
    c->shadow_len = size;
}

/* Copies the marked pages back from the shadow; the pages grown since the commit go. */
status heap_rollback(host_canister *c, const live *lv)
{
    uint64_t size = heap_size(lv);
    if (!size)
        return ST_OK;
    uint8_t *h = engine_memory_data(lv->mem);
    uint64_t keep = (size < c->shadow_len ? size : c->shadow_len) / PAGE;
    for (uint64_t p = engine_memory_mark_next(lv->mem, 0); p < keep;
         p = engine_memory_mark_next(lv->mem, p + 1))
        memcpy(h + p * PAGE, c->shadow.ptr + p * PAGE, PAGE);
    engine_memory_marks_clear(lv->mem);
    if (size > c->shadow_len)
        return engine_memory_shrink(lv->mem, (uint32_t)(c->shadow_len / SPAGE));
    return ST_OK;
}

void heap_adopt(host_canister *c, const live *lv)
{
    uint64_t size = heap_size(lv);
    base_zarea_zero(&c->shadow, 0, (size_t)c->shadow_len);
    if (size) {
        const uint8_t *h = engine_memory_data(lv->mem);
        uint64_t n = size / PAGE;
        for (uint64_t p = engine_memory_mark_next(lv->mem, 0); p < n;
             p = engine_memory_mark_next(lv->mem, p + 1))
            memcpy(c->shadow.ptr + p * PAGE, h + p * PAGE, PAGE);
        engine_memory_marks_clear(lv->mem);
    }
    c->shadow_len = size;
    for (uint64_t p = 0; p < size / PAGE; p++)
        bit_set(c->heap_dirty, p);
}
