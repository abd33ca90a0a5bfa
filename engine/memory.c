/* memory.c - linear memory (spec 4.2.8). Every access is bounds-checked explicitly by the VM
 * (64-bit address + offset + size against `len`), so no guard pages or signal handlers are
 * involved; the VM reloads the base after anything that can grow the memory (memory.grow, calls).
 *
 * Two homes for the bytes (docs/reliability.md, "memory"):
 *   - up to VM_SMALL_PAGES, one zeroed heap block, grown with base_realloc: instantiation must
 *     cost well under a microsecond, and mapping plus unmapping a reservation costs several in
 *     the kernel, while a small heap block is recycled by malloc without a system call;
 *   - past it, an address-space reservation of the effective maximum (base_vmem_reserve, made
 *     once, at the first grow past VM_SMALL_PAGES or at instantiation if the minimum is past
 *     it): a grow commits address space (mprotect) and zeroes nothing, the kernel's pages read
 *     as zero until first written, so `memory.grow(65535)` costs neither time nor memory for the
 *     pages nobody touches; a shrink gives the pages back (madvise). The base never moves again.
 * Invariant of a reservation: every byte past len + marks is zero.
 *
 * Write marks (the embedder's write barrier, engine.h "write marks"): after the len bytes of
 * memory, one byte per 4 KiB page (len / 4096 bytes), set to 1 by every write into that page
 * (VM stores, memory.copy/fill/init, data segments, engine_memory_mark) until
 * engine_memory_marks_clear. Keeping them at base + len lets the VM mark with the two registers
 * it already holds for the bounds check (mem[memlen + (ea >> 12)] = 1); grow and shrink move
 * them to the new end. The marks are not part of the Wasm semantics and cost no instructions.
 *
 * Budget (engine_instance_set_budget): if set, a grow also needs budget bytes and takes them, so
 * that an embedder can bound memory and tables together; it is a count, never the host's free
 * memory, so a grow's outcome stays deterministic. */
#include "engine_int.h"

#include <assert.h>
#include <string.h>

static uint64_t marks_of(uint64_t len)
{
    return len >> VM_MARK_SHIFT;
}

/* Moves a heap-block memory of `len` bytes into a reservation of the maximum, committed up to
 * newlen (plus its marks). The bytes and marks are copied; the rest reads as zero. */
static status to_reservation(engine_memory *mem, uint64_t newlen)
{
    uint64_t maxlen = (uint64_t)mem->max * VM_PAGE;
    uint64_t resv = maxlen + marks_of(maxlen);
    if (resv > SIZE_MAX)
        return ST_OUT_OF_MEMORY;
    uint8_t *nb = base_vmem_reserve((size_t)resv);
    if (!nb)
        return ST_OUT_OF_MEMORY;
    if (!base_vmem_commit(nb, 0, (size_t)(newlen + marks_of(newlen)))) {
        base_vmem_release(nb, (size_t)resv);
        return ST_OUT_OF_MEMORY;
    }
    if (mem->len) {
        memcpy(nb, mem->base, (size_t)mem->len);
        memcpy(nb + newlen, mem->base + mem->len, (size_t)marks_of(mem->len));
    }
    base_free(mem->base);
    mem->base = nb;
    mem->resv = resv;
    return ST_OK;
}

status vm_memory_init(engine_memory *mem, limits lim, uint32_t max_pages)
{
    memset(mem, 0, sizeof *mem);
    mem->lim = lim;
    uint32_t max = lim.has_max && lim.max < max_pages ? lim.max : max_pages;
    if (max > 65536)
        max = 65536;
    if (lim.min > max)
        return ST_LIMIT_EXCEEDED;
    mem->max = max;
    uint64_t len = (uint64_t)lim.min * VM_PAGE;
    if (lim.min > VM_SMALL_PAGES) {
        status st = to_reservation(mem, len);
        if (st != ST_OK)
            return st;
    } else if (len) {
        mem->base = base_calloc(1, (size_t)(len + marks_of(len)));
        if (!mem->base)
            return ST_OUT_OF_MEMORY;
    }
    mem->pages = lim.min;
    mem->len = len;
    return ST_OK;
}

void vm_memory_fini(engine_memory *mem)
{
    if (mem->resv)
        base_vmem_release(mem->base, (size_t)mem->resv);
    else
        base_free(mem->base);
    mem->base = NULL;
    mem->resv = 0;
    mem->len = 0;
    mem->pages = 0;
}

/* The bytes past the new size are given back (a later grow zeroes what it adds, as the spec
 * requires); the marks of the pages kept stay. */
status vm_memory_shrink(engine_memory *mem, uint32_t pages)
{
    if (pages > mem->pages)
        return BUG();
    if (pages == mem->pages)
        return ST_OK;
    uint64_t newlen = (uint64_t)pages * VM_PAGE, newmarks = marks_of(newlen);
    uint64_t oldend = mem->len + marks_of(mem->len);
    if (newlen)
        memmove(mem->base + newlen, mem->base + mem->len, (size_t)newmarks);
    if (mem->resv) { /* the invariant: zero past the end, the memory of whole pages given back */
        base_vmem_zero(mem->base, (size_t)(newlen + newmarks), (size_t)oldend);
    } else if (newlen) {
        uint8_t *nb = base_realloc(mem->base, (size_t)(newlen + newmarks));
        if (nb) /* a refused shrink keeps the larger block, which is harmless */
            mem->base = nb;
    }
    mem->pages = pages;
    mem->len = newlen;
    return ST_OK;
}

/* memory.grow (spec 4.4.7): *result is the old size, or -1 past the effective maximum or the
 * budget (deterministic outcomes). If the host cannot provide the memory within them, the result
 * is ST_OUT_OF_MEMORY (a FAULT: the run stops and nothing commits), not -1: the spec lets a grow
 * fail at any time, but a Wasm-visible outcome that depends on this node's free memory would let
 * two nodes disagree. */
status vm_memory_grow(engine_memory *mem, uint32_t delta, uint32_t *result)
{
    uint32_t old = mem->pages;
    *result = UINT32_MAX;
    if (delta > mem->max - old)
        return ST_OK;
    if (mem->budget && (uint64_t)delta * VM_PAGE > *mem->budget)
        return ST_OK;
    *result = old;
    if (delta == 0)
        return ST_OK;
    uint64_t newlen = (uint64_t)(old + delta) * VM_PAGE;
    uint64_t marks = marks_of(mem->len), newmarks = marks_of(newlen);
    if (mem->resv) {
        /* Commit, move the marks to the new end and zero where they were; everything else past
         * the old end is zero already (the reservation's invariant). */
        if (!base_vmem_commit(mem->base, (size_t)(mem->len + marks),
                              (size_t)(newlen + newmarks))) {
            *result = UINT32_MAX;
            return ST_OUT_OF_MEMORY;
        }
        if (marks) {
            memmove(mem->base + newlen, mem->base + mem->len, (size_t)marks);
            uint64_t end = mem->len + marks < newlen ? mem->len + marks : newlen;
            memset(mem->base + mem->len, 0, (size_t)(end - mem->len));
        }
    } else if (old + delta > VM_SMALL_PAGES) {
        if (to_reservation(mem, newlen) != ST_OK) {
            *result = UINT32_MAX;
            return ST_OUT_OF_MEMORY;
        }
    } else {
        uint8_t *nb = base_realloc(mem->base, (size_t)(newlen + newmarks));
        if (!nb) {
            *result = UINT32_MAX;
            return ST_OUT_OF_MEMORY;
        }
        if (marks) /* the marks move from the old end to the new one, before the zeroing */
            memmove(nb + newlen, nb + mem->len, (size_t)marks);
        memset(nb + mem->len, 0, (size_t)(newlen - mem->len));
        memset(nb + newlen + marks, 0, (size_t)(newmarks - marks));
        mem->base = nb;
    }
    if (mem->budget)
        *mem->budget -= (uint64_t)delta * VM_PAGE;
    mem->pages = old + delta;
    mem->len = newlen;
    return ST_OK;
}

status engine_memory_new(const engine_run_config *rc, limits lim, engine_memory **out)
{
    *out = NULL;
    engine_memory *mem = base_alloc(sizeof *mem);
    if (!mem)
        return ST_OUT_OF_MEMORY;
    status st = vm_memory_init(mem, lim, rc->max_memory_pages);
    if (st != ST_OK) {
        base_free(mem);
        return st;
    }
    *out = mem;
    return ST_OK;
}

void engine_memory_free(engine_memory *mem)
{
    if (!mem)
        return;
    vm_memory_fini(mem);
    base_free(mem);
}

uint8_t *engine_memory_data(engine_memory *mem)
{
    return mem->base;
}

uint64_t engine_memory_size(const engine_memory *mem)
{
    return mem->len;
}

status engine_memory_grow(engine_memory *mem, uint32_t delta, uint32_t *old_pages)
{
    uint32_t r;
    status st = vm_memory_grow(mem, delta, &r);
    if (st != ST_OK)
        return st;
    if (r == UINT32_MAX)
        return ST_LIMIT_EXCEEDED;
    if (old_pages)
        *old_pages = r;
    return ST_OK;
}

/* ---- write marks ------------------------------------------------------------------------- */

void engine_memory_mark(engine_memory *mem, uint64_t off, uint64_t len)
{
    if (!len)
        return;
    assert(off <= mem->len && len <= mem->len - off);
    uint8_t *marks = mem->base + mem->len;
    uint64_t first = off >> VM_MARK_SHIFT, last = (off + len - 1) >> VM_MARK_SHIFT;
    memset(marks + first, 1, (size_t)(last - first + 1));
}

uint64_t engine_memory_mark_next(const engine_memory *mem, uint64_t page)
{
    uint64_t n = mem->len >> VM_MARK_SHIFT;
    const uint8_t *marks = mem->base + mem->len;
    while (page < n && (page & 7))
        if (marks[page++])
            return page - 1;
    for (; page + 8 <= n; page += 8) { /* eight pages at a time: most are clean */
        uint64_t w;
        memcpy(&w, marks + page, 8);
        if (w)
            break;
    }
    for (; page < n; page++)
        if (marks[page])
            return page;
    return n;
}

void engine_memory_marks_clear(engine_memory *mem)
{
    if (mem->len)
        memset(mem->base + mem->len, 0, (size_t)(mem->len >> VM_MARK_SHIFT));
}
