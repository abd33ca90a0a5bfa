/* memory.c - linear memory (spec 4.2.8): one address-space reservation per memory, sized for
 * its effective maximum, of which the first `pages` * 64 KiB are readable and writable. The
 * base never moves, so growing never copies. Every access is bounds-checked explicitly by the
 * VM (64-bit address + offset + size against `len`); the PROT_NONE tail is only a safety net,
 * never the trap path.
 *
 * The mapping is not made through base_alloc: it is the one allocation of an instance that is
 * address space rather than heap (DESIGN.md "instances ... map memory"). */
#include "engine_int.h"

#include <string.h>
#include <sys/mman.h>

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
    mem->reserved = (uint64_t)max * VM_PAGE;
    if (mem->reserved == 0)
        return ST_OK; /* base stays NULL; every access of a nonzero size traps */
    void *p = mmap(NULL, (size_t)mem->reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return ST_OUT_OF_MEMORY;
    if (mem->len && mprotect(p, (size_t)mem->len, PROT_READ | PROT_WRITE) != 0) {
        munmap(p, (size_t)mem->reserved);
        return ST_OUT_OF_MEMORY;
    }
    mem->base = p;
    return ST_OK;
}

void vm_memory_fini(engine_memory *mem)
{
    if (mem->base)
        munmap(mem->base, (size_t)mem->reserved);
    mem->base = NULL;
    mem->len = 0;
    mem->pages = 0;
}

/* memory.grow (spec 4.4.7): fails (-1) past the effective maximum. A refusal of the OS to make
 * reserved pages accessible also yields -1; with MAP_NORESERVE that only happens when the
 * process is out of address space bookkeeping, which the configured limits keep away. */
uint32_t vm_memory_grow(engine_memory *mem, uint32_t delta)
{
    uint32_t old = mem->pages;
    if (delta > mem->max - old)
        return UINT32_MAX;
    if (delta == 0)
        return old;
    uint64_t newlen = (uint64_t)(old + delta) * VM_PAGE;
    if (mprotect(mem->base + mem->len, (size_t)(newlen - mem->len), PROT_READ | PROT_WRITE) != 0)
        return UINT32_MAX;
    mem->pages = old + delta;
    mem->len = newlen;
    return old;
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
    uint32_t r = vm_memory_grow(mem, delta);
    if (r == UINT32_MAX)
        return ST_LIMIT_EXCEEDED;
    if (old_pages)
        *old_pages = r;
    return ST_OK;
}
