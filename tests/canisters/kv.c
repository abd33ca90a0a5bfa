/* kv.c - example canister: a key-value store of texts, kept across upgrades (wasm32, see ic0.h;
 * Candid: candid.h).
 *
 *   service : {
 *     put : (text, text) -> ();          stores or replaces key -> value; rejects "bad
 *                                        argument" unless (text, text), "store full" past
 *                                        KV_MAX_ENTRIES keys
 *     get : (text) -> (opt text) query;  the value, or null
 *     del : (text) -> (bool);            removes the key; false if it was not there
 *     count : () -> (nat) query;         the number of keys
 *   }
 *   canister_pre_upgrade  writes every entry to stable memory (64-bit API)
 *   canister_post_upgrade restores them; traps when stable memory holds no store
 *
 * Records live in the Wasm heap (above __heap_base) and come from a small power-of-two
 * allocator that grows linear memory with memory.grow; an open-addressing index (linear probing,
 * tombstones, FNV-1a) finds them. Everything is a function of the message history only.
 */
#include "candid.h"

/* The interface (Candid, not C: kept out of the formatter). */
// clang-format off
IC_CANDID_SERVICE(service : {
    put : (text, text) -> ();
    get : (text) -> (opt text) query;
    del : (text) -> (bool);
    count : () -> (nat) query;
});
// clang-format on

#define KV_SLOTS 4096u       /* power of two */
#define KV_MAX_ENTRIES 3072u /* live + tombstones stay under 3/4 of KV_SLOTS */

/* ---- Heap: blocks of 2^c bytes (c = 4..31) with an 8-byte header holding c; freed blocks go
 * to a free list per class. Memory is grown on demand, never shrunk. ---- */
extern unsigned char __heap_base;

static __UINTPTR_TYPE__ heap_top;
static void *free_list[32];

static uint32_t block_class(uint32_t bytes)
{
    uint32_t c = 4;
    while (((uint32_t)1 << c) < bytes) {
        if (++c == 31) {
            ic_trap("kv: allocation too large");
        }
    }
    return c;
}

static void *heap_alloc(uint32_t n)
{
    if (n > 0x40000000u) {
        ic_trap("kv: allocation too large");
    }
    uint32_t c = block_class(n + 8);
    uint8_t *b = free_list[c];
    if (b != NULL) {
        free_list[c] = *(void **)(b + 8);
        return b + 8;
    }
    if (heap_top == 0) {
        heap_top = ((__UINTPTR_TYPE__)&__heap_base + 7) & ~(__UINTPTR_TYPE__)7;
    }
    uint64_t end = (uint64_t)heap_top + ((uint64_t)1 << c);
    uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        uint64_t pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) {
            ic_trap("kv: out of memory");
        }
    }
    b = (uint8_t *)heap_top;
    heap_top = (__UINTPTR_TYPE__)end;
    ic_store_u32le(b, c);
    return b + 8;
}

static void heap_free(void *p)
{
    uint8_t *b = (uint8_t *)p - 8;
    uint32_t c = ic_load_u32le(b);
    *(void **)(b + 8) = free_list[c];
    free_list[c] = b;
}

/* ---- Records and index. ---- */
struct rec {
    uint32_t klen;
    uint32_t vlen;
    uint8_t data[]; /* key then value */
};

enum { SLOT_EMPTY = 0, SLOT_LIVE = 1, SLOT_DEAD = 2 };

struct slot {
    uint32_t state;
    uint32_t hash;
    struct rec *rec;
};

static struct slot slots[KV_SLOTS];
static uint32_t live;
static uint32_t dead;

static uint32_t key_hash(const uint8_t *key, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) {
        h ^= key[i];
        h *= 16777619u;
    }
    return h;
}

/* The live slot holding key, or NULL. */
static struct slot *index_find(const uint8_t *key, uint32_t n, uint32_t h)
{
    for (uint32_t i = h & (KV_SLOTS - 1);; i = (i + 1) & (KV_SLOTS - 1)) {
        struct slot *s = &slots[i];
        if (s->state == SLOT_EMPTY) {
            return NULL;
        }
        if (s->state == SLOT_LIVE && s->hash == h && s->rec->klen == n &&
            memcmp(s->rec->data, key, n) == 0) {
            return s;
        }
    }
}

/* Puts rec into the first free slot of its probe sequence (the key must not be present). */
static void index_insert(struct rec *rec, uint32_t h)
{
    uint32_t i = h & (KV_SLOTS - 1);
    while (slots[i].state == SLOT_LIVE) {
        i = (i + 1) & (KV_SLOTS - 1);
    }
    if (slots[i].state == SLOT_DEAD) {
        dead--;
    }
    slots[i].state = SLOT_LIVE;
    slots[i].hash = h;
    slots[i].rec = rec;
    live++;
}

/* Drops the tombstones: re-inserts every live record into a cleared index, in slot order. */
static void index_rebuild(void)
{
    static struct slot old[KV_SLOTS];
    memcpy(old, slots, sizeof slots);
    memset(slots, 0, sizeof slots);
    live = 0;
    dead = 0;
    for (uint32_t i = 0; i < KV_SLOTS; i++) {
        if (old[i].state == SLOT_LIVE) {
            index_insert(old[i].rec, old[i].hash);
        }
    }
}

/* Reads the whole argument into a fresh heap block (*buf, to free) and starts reading it. */
static int arg_read_heap(ic_cr *r, uint8_t **buf)
{
    uint32_t n = ic0_msg_arg_data_size();
    *buf = heap_alloc(n);
    ic0_msg_arg_data_copy(*buf, 0, n);
    return ic_cr_init(r, *buf, n);
}

/* The live slot of the key given as the argument (text), or NULL; 0 after a reject. */
static int arg_key_slot(struct slot **out)
{
    uint8_t *buf;
    const uint8_t *key;
    uint32_t n;
    ic_cr r;
    int ok = arg_read_heap(&r, &buf) && ic_cr_text(&r, &key, &n) && ic_cr_done(&r);
    if (ok) {
        *out = index_find(key, n, key_hash(key, n));
    }
    heap_free(buf);
    if (!ok) {
        ic_reject("bad argument: expected (text)");
    }
    return ok;
}

IC_UPDATE(put)
{
    uint8_t *buf;
    const uint8_t *key, *value;
    uint32_t klen, vlen;
    ic_cr a;
    if (!arg_read_heap(&a, &buf) || !ic_cr_text(&a, &key, &klen) ||
        !ic_cr_text(&a, &value, &vlen) || !ic_cr_done(&a)) {
        heap_free(buf);
        ic_reject("bad argument: put expects (text, text)");
        return;
    }
    struct rec *r = heap_alloc(8 + klen + vlen);
    r->klen = klen;
    r->vlen = vlen;
    memcpy(r->data, key, klen);
    memcpy(r->data + klen, value, vlen);
    heap_free(buf);
    uint32_t h = key_hash(r->data, klen);
    struct slot *s = index_find(r->data, klen, h);
    if (s != NULL) {
        heap_free(s->rec);
        s->rec = r;
    } else {
        if (live + dead >= KV_MAX_ENTRIES) {
            index_rebuild();
        }
        if (live >= KV_MAX_ENTRIES) {
            heap_free(r);
            ic_reject("store full");
            return;
        }
        index_insert(r, h);
    }
    ic_reply_unit();
}

IC_QUERY(get)
{
    struct slot *s;
    if (!arg_key_slot(&s)) {
        return;
    }
    uint32_t cap = s != NULL ? 11 + s->rec->vlen : 1;
    uint8_t *values = heap_alloc(cap);
    ic_cw w;
    ic_cw_init(&w, values, cap);
    ic_cw_arg(&w, ic_cw_opt(&w, IC_C_TEXT));
    ic_cw_count(&w, s != NULL); /* opt: 1 then the value, or 0 (null) */
    if (s != NULL) {
        ic_cw_text(&w, s->rec->data + s->rec->klen, s->rec->vlen);
    }
    ic_cw_reply(&w);
    heap_free(values);
}

IC_UPDATE(del)
{
    struct slot *s;
    if (!arg_key_slot(&s)) {
        return;
    }
    if (s != NULL) {
        heap_free(s->rec);
        s->rec = NULL;
        s->state = SLOT_DEAD;
        live--;
        dead++;
    }
    uint8_t value[1];
    ic_cw w;
    ic_cw_init(&w, value, sizeof value);
    ic_cw_arg(&w, IC_C_BOOL);
    ic_cw_bool(&w, s != NULL);
    ic_cw_reply(&w);
}

IC_QUERY(count)
{
    ic_reply_nat(live);
}

/* Stable image: "KVS1" | u32 count | count x (u32 klen | u32 vlen | key | value), LE, entries in
 * slot order. */
IC_PRE_UPGRADE()
{
    uint64_t total = 8;
    for (uint32_t i = 0; i < KV_SLOTS; i++) {
        if (slots[i].state == SLOT_LIVE) {
            total += 8u + (uint64_t)slots[i].rec->klen + slots[i].rec->vlen;
        }
    }
    ic_stable_ensure(total);
    uint64_t off = 8;
    for (uint32_t i = 0; i < KV_SLOTS; i++) {
        if (slots[i].state != SLOT_LIVE) {
            continue;
        }
        const struct rec *r = slots[i].rec;
        uint8_t lens[8];
        ic_store_u32le(lens, r->klen);
        ic_store_u32le(lens + 4, r->vlen);
        ic_stable_write(off, lens, 8);
        ic_stable_write(off + 8, r->data, (uint64_t)r->klen + r->vlen);
        off += 8u + (uint64_t)r->klen + r->vlen;
    }
    uint8_t head[8] = {'K', 'V', 'S', '1'};
    ic_store_u32le(head + 4, live);
    ic_stable_write(0, head, 8);
}

IC_POST_UPGRADE()
{
    uint8_t head[8];
    if (ic0_stable64_size() == 0) {
        ic_trap("kv: no store in stable memory");
    }
    ic_stable_read(head, 0, 8);
    if (memcmp(head, "KVS1", 4) != 0) {
        ic_trap("kv: no store in stable memory");
    }
    uint32_t count = ic_load_u32le(head + 4);
    if (count > KV_MAX_ENTRIES) {
        ic_trap("kv: stable store larger than the index");
    }
    uint64_t off = 8;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t lens[8];
        ic_stable_read(lens, off, 8);
        uint32_t klen = ic_load_u32le(lens);
        uint32_t vlen = ic_load_u32le(lens + 4);
        if ((uint64_t)klen + vlen > 0x40000000u) {
            ic_trap("kv: corrupt stable store");
        }
        struct rec *r = heap_alloc(8 + klen + vlen);
        r->klen = klen;
        r->vlen = vlen;
        ic_stable_read(r->data, off + 8, (uint64_t)klen + vlen);
        off += 8u + (uint64_t)klen + vlen;
        uint32_t h = key_hash(r->data, klen);
        if (index_find(r->data, klen, h) != NULL) {
            ic_trap("kv: duplicate key in stable store");
        }
        index_insert(r, h);
    }
}
