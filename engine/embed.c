/* embed.c - small accessors for embedders that keep instances alive across many calls and roll
 * back a call's effects (host-api: a trapped message must leave no trace): every global of an
 * instance, exported or not, and shrinking a linear memory back to an earlier size.
 * Not part of the Wasm semantics: nothing in the VM calls these. */
#include "engine_int.h"

#include <string.h>
#include <sys/mman.h>

uint32_t engine_instance_global_count(const engine_instance *inst)
{
    return inst->m->nglobals;
}

engine_global *engine_instance_global(engine_instance *inst, uint32_t index)
{
    return index < inst->m->nglobals ? inst->globals[index] : NULL;
}

/* The pages past the new size are zeroed and made inaccessible again, so a later memory.grow
 * sees fresh zero pages as the spec requires. */
status engine_memory_shrink(engine_memory *mem, uint32_t pages)
{
    if (pages > mem->pages)
        return ST_BUG_INVARIANT;
    if (pages == mem->pages)
        return ST_OK;
    uint64_t newlen = (uint64_t)pages * VM_PAGE;
    memset(mem->base + newlen, 0, (size_t)(mem->len - newlen));
    if (mprotect(mem->base + newlen, (size_t)(mem->len - newlen), PROT_NONE) != 0)
        return ST_OUT_OF_MEMORY;
    mem->pages = pages;
    mem->len = newlen;
    return ST_OK;
}
