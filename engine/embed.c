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

/* memory.c keeps the write marks after the memory: it shrinks both. */
status engine_memory_shrink(engine_memory *mem, uint32_t pages)
{
    return vm_memory_shrink(mem, pages);
}

engine_func *engine_instance_table_func(engine_instance *inst, uint32_t index)
{
    if (inst->m->ntables == 0)
        return NULL;
    const engine_table *t = inst->tables[0];
    if (t->type.elem != VT_FUNCREF)
        return NULL;
    return index < t->size ? (engine_func *)(uintptr_t)t->elems[index] : NULL;
}
