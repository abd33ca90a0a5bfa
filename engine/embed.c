/* embed.c - small accessors for embedders that keep instances alive across many calls and roll
 * back a call's effects (host-api: a trapped message must leave no trace): every global of an
 * instance, exported or not, and shrinking a linear memory back to an earlier size.
 * Not part of the Wasm semantics: nothing in the VM calls these. */
#include "engine_int.h"

uint32_t engine_instance_global_count(const engine_instance *inst)
{
    return inst->m->nglobals;
}

engine_global *engine_instance_global(engine_instance *inst, uint32_t index)
{
    return index < inst->m->nglobals ? inst->globals[index] : NULL;
}

/* The bytes past the new size are given back (a later memory.grow zeroes what it adds, as the
 * spec requires). */
status engine_memory_shrink(engine_memory *mem, uint32_t pages)
{
    if (pages > mem->pages)
        return ST_BUG_INVARIANT;
    if (pages == mem->pages)
        return ST_OK;
    uint64_t newlen = (uint64_t)pages * VM_PAGE;
    if (newlen) {
        uint8_t *nb = base_realloc(mem->base, (size_t)newlen);
        if (nb) /* a refused shrink keeps the larger block, which is harmless */
            mem->base = nb;
    }
    mem->pages = pages;
    mem->len = newlen;
    return ST_OK;
}
