/* replica.c - loading committed state into an idle canister piece by piece, for the query
 * replicas of scheduler/query.c: a replica restored once (host_canister_restore) follows the
 * ledger by taking only the pages that later blocks changed, never a copy of the whole heap.
 * The bytes written here are already in the ledger: nothing becomes dirty, and the heap and
 * its shadow get the same bytes, so state.c's invariant (memory equals shadow on unmarked
 * pages) holds. Not the lifecycle (canister.c) nor rollback (state.c). */
#include "host_int.h"

#include <string.h>

status host_canister_heap_load(host_canister *c, uint64_t heap_bytes, uint64_t off, span bytes)
{
    if (c->busy)
        return ST_CANISTER_BUSY;
    live *lv = &c->cur;
    uint64_t size = lv->mem ? engine_memory_size(lv->mem) : 0;
    if (heap_bytes % 65536 || heap_bytes < size || (heap_bytes && !lv->mem) || off > heap_bytes ||
        bytes.len > heap_bytes - off)
        return ST_CORRUPT_LEDGER;
    if (heap_bytes > size) {
        c->budget = UINT64_MAX; /* what was committed fit the limit when it was made */
        uint32_t old;
        status st = engine_memory_grow(lv->mem, (uint32_t)((heap_bytes - size) / 65536), &old);
        if (st != ST_OK)
            return st == ST_LIMIT_EXCEEDED ? ST_CORRUPT_LEDGER : st;
        st = heap_reserve(c, lv);
        if (st != ST_OK) {
            engine_memory_shrink(lv->mem, (uint32_t)(size / 65536));
            return st;
        }
        c->shadow_len = heap_bytes; /* the grown part is zero in both */
    }
    if (bytes.len) {
        memcpy(engine_memory_data(lv->mem) + off, bytes.ptr, bytes.len);
        memcpy(c->shadow.ptr + off, bytes.ptr, bytes.len);
    }
    return ST_OK;
}

status host_canister_stable_load(host_canister *c, uint64_t stable_bytes, uint64_t off, span bytes)
{
    if (c->busy)
        return ST_CANISTER_BUSY;
    stable_mem *s = &c->stable;
    uint64_t size = s->pages * 65536u;
    if (stable_bytes % 65536 || stable_bytes < size || off > stable_bytes ||
        bytes.len > stable_bytes - off)
        return ST_CORRUPT_LEDGER;
    if (stable_bytes > size) {
        c->budget = UINT64_MAX; /* as above */
        uint64_t old;
        bool refused;
        status st = stable_grow(c, (stable_bytes - size) / 65536, &old, &refused);
        if (st != ST_OK)
            return st;
        if (refused)
            return ST_CORRUPT_LEDGER;
        s->pages0 = s->pages;
    }
    if (bytes.len)
        memcpy(s->data.ptr + off, bytes.ptr, bytes.len);
    return ST_OK;
}

status host_canister_system_load(host_canister *c, const host_saved *sv, span globals)
{
    if (c->busy)
        return ST_CANISTER_BUSY;
    if (sv->certified_data.len > HOST_CERTIFIED_MAX)
        return ST_CORRUPT_LEDGER;
    status st = live_globals_load(&c->cur, globals);
    if (st != ST_OK)
        return st;
    system_set(c, sv);
    return ST_OK;
}
