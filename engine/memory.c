/* memory.c - linear memory (spec 4.2.8): one zeroed heap block of `pages` * 64 KiB, grown with
 * base_realloc (large blocks are moved by the C library's mremap, not copied). Every access is
 * bounds-checked explicitly by the VM (64-bit address + offset + size against `len`), so no
 * guard pages or signal handlers are involved; the VM reloads the base after anything that can
 * grow the memory (memory.grow, calls).
 *
 * Why a heap block rather than a reserved mapping: instantiation must cost a few microseconds,
 * and mapping plus unmapping a 4 GiB reservation costs tens of them in the kernel, while a small
 * heap block is recycled by malloc without a system call.
 *
 * Write marks (the embedder's write barrier, engine.h "write marks"): the same block holds, after
 * the len bytes of memory, one byte per 4 KiB page (len / 4096 bytes), set to 1 by every write
 * into that page (VM stores, memory.copy/fill/init, data segments, engine_memory_mark) until
 * engine_memory_marks_clear. Keeping them at base + len lets the VM mark with the two registers
 * it already holds for the bounds check (mem[memlen + (ea >> 12)] = 1); grow and shrink move
 * them to the new end. The marks are not part of the Wasm semantics and cost no instructions. */
#include "engine_int.h"

#include <assert.h>
#include <string.h>

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
    mem->pages = lim.min;
    mem->len = (uint64_t)lim.min * VM_PAGE;
    if (mem->len) {
        mem->base = base_calloc(1, (size_t)(mem->len + (mem->len >> VM_MARK_SHIFT)));
        if (!mem->base)
            return ST_OUT_OF_MEMORY;
    }
    return ST_OK;
}

void vm_memory_fini(engine_memory *mem)
{
    base_free(mem->base);
    mem->base = NULL;
    mem->len = 0;
    mem->pages = 0;
}

/* The bytes past the new size are given back (a later grow zeroes what it adds, as the spec
 * requires); the marks of the pages kept stay. */
status vm_memory_shrink(engine_memory *mem, uint32_t pages)
{
    if (pages > mem->pages)
        return ST_BUG_INVARIANT;
    if (pages == mem->pages)
        return ST_OK;
    uint64_t newlen = (uint64_t)pages * VM_PAGE, newmarks = newlen >> VM_MARK_SHIFT;
    if (newlen) {
        memmove(mem->base + newlen, mem->base + mem->len, (size_t)newmarks);
        uint8_t *nb = base_realloc(mem->base, (size_t)(newlen + newmarks));
        if (nb) /* a refused shrink keeps the larger block, which is harmless */
            mem->base = nb;
    }
    mem->pages = pages;
    mem->len = newlen;
    return ST_OK;
}

/* memory.grow (spec 4.4.7): *result is the old size, or -1 past the effective maximum (a
 * deterministic outcome). If the host cannot provide the memory within that maximum, the result
 * is ST_OUT_OF_MEMORY (a FAULT: the run stops and nothing commits), not -1: the spec lets a grow
 * fail at any time, but a Wasm-visible outcome that depends on this node's free memory would let
 * two nodes disagree. */
status vm_memory_grow(engine_memory *mem, uint32_t delta, uint32_t *result)
{
    uint32_t old = mem->pages;
    *result = UINT32_MAX;
    if (delta > mem->max - old)
        return ST_OK;
    *result = old;
    if (delta == 0)
        return ST_OK;
    uint64_t newlen = (uint64_t)(old + delta) * VM_PAGE;
    uint64_t marks = mem->len >> VM_MARK_SHIFT, newmarks = newlen >> VM_MARK_SHIFT;
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
