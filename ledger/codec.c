/* codec.c - the ledger's canonical binary encodings (docs/formats.md is the byte-by-byte
 * specification): genesis, canister record, receipt, block, message content; the hash tags;
 * hashes and canister ids as text. Pure functions: no LMDB, no allocation except into a
 * caller's buffer. Little-endian fixed-width integers, u32 length-prefixed byte strings, no
 * padding: what is hashed is exactly what is written. */
#include "ledger_int.h"

#include <string.h>

/* ---- sinks --------------------------------------------------------------------------------- */

void sink_put(sink *s, const void *p, size_t n)
{
    if (s->st != ST_OK)
        return;
    if (s->b)
        s->st = buf_put(s->b, p, n);
    if (s->h && n)
        crypto_generichash_update(s->h, p, n);
}

void sink_u8(sink *s, uint8_t v)
{
    sink_put(s, &v, 1);
}

void sink_u32(sink *s, uint32_t v)
{
    uint8_t b[4];
    le32_store(b, v);
    sink_put(s, b, 4);
}

void sink_u64(sink *s, uint64_t v)
{
    uint8_t b[8];
    le64_store(b, v);
    sink_put(s, b, 8);
}

void sink_bytes(sink *s, span v)
{
    if (v.len > UINT32_MAX) {
        if (s->st == ST_OK)
            s->st = BUG(); /* callers bound every length far below */
        return;
    }
    sink_u32(s, (uint32_t)v.len);
    sink_put(s, v.ptr, v.len);
}

void hash_begin(crypto_generichash_state *h, const char *tag)
{
    crypto_generichash_init(h, NULL, 0, LEDGER_HASH_SIZE);
    crypto_generichash_update(h, (const uint8_t *)tag, strlen(tag) + 1);
}

void hash_end(crypto_generichash_state *h, uint8_t out[LEDGER_HASH_SIZE])
{
    crypto_generichash_final(h, out, LEDGER_HASH_SIZE);
}

void be64_store(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t be64_load(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void be32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void message_id(span content, uint8_t id[LEDGER_HASH_SIZE])
{
    crypto_generichash_state h;
    hash_begin(&h, TAG_MESSAGE);
    crypto_generichash_update(&h, content.ptr, content.len);
    hash_end(&h, id);
}

/* ---- encoders ------------------------------------------------------------------------------ */

/* A field of genesis.def, little-endian at its width. */
static void sink_field(sink *s, const ledger_genesis *g, const ledger_genesis_field *f)
{
    uint64_t v = ledger_genesis_get(g, f);
    if (f->max == UINT32_MAX)
        sink_u32(s, (uint32_t)v);
    else
        sink_u64(s, v);
}

void enc_genesis(sink *s, const ledger_genesis *g)
{
    size_t n;
    const ledger_genesis_field *f = ledger_genesis_fields(&n);
    uint32_t version = genesis_rules_version(g), len = 1;
    sink_u8(s, FORMAT_V1);
    sink_bytes(s, span_of(g->chain_id, strnlen(g->chain_id, LEDGER_CHAIN_ID_MAX)));
    for (size_t i = 0; i < n; i++)
        if (f[i].since == 0)
            sink_field(s, g, &f[i]);
    sink_put(s, g->admin_public_key, LEDGER_PUBLIC_KEY_SIZE);
    for (size_t i = 0; i < n; i++)
        if (f[i].since >= 1 && f[i].since <= version)
            len += f[i].max == UINT32_MAX ? 4 : 8;
    sink_u32(s, len);
    sink_u8(s, (uint8_t)version);
    for (size_t i = 0; i < n; i++)
        if (f[i].since >= 1 && f[i].since <= version)
            sink_field(s, g, &f[i]);
}

void enc_canister(sink *s, const ledger_canister *c)
{
    sink_u8(s, FORMAT_V1);
    sink_put(s, c->code_hash, LEDGER_HASH_SIZE);
    sink_u32(s, c->controller_count);
    for (uint32_t i = 0; i < c->controller_count && i < LEDGER_MAX_CONTROLLERS; i++)
        sink_put(s, c->controllers[i], LEDGER_PUBLIC_KEY_SIZE);
    sink_u8(s, c->status);
    sink_u32(s, c->heap_pages);
    sink_u32(s, c->stable_pages);
    sink_put(s, c->heap_root, LEDGER_HASH_SIZE);
    sink_put(s, c->stable_root, LEDGER_HASH_SIZE);
    size_t cd = c->certified_data_len <= LEDGER_CERTIFIED_DATA_MAX ? c->certified_data_len : 0;
    sink_bytes(s, span_of(c->certified_data, cd));
    sink_u64(s, c->version);
    sink_bytes(s, c->aux);
}

void enc_receipt(sink *s, const ledger_receipt *rc)
{
    sink_u8(s, FORMAT_V1);
    sink_u32(s, rc->status);
    sink_u64(s, rc->height);
    sink_u64(s, rc->instructions);
    sink_bytes(s, rc->reply);
}

void enc_block(sink *s, const ledger_block *b)
{
    sink_u8(s, FORMAT_V1);
    sink_u64(s, b->height);
    sink_put(s, b->parent_hash, LEDGER_HASH_SIZE);
    sink_u64(s, b->timestamp_ns);
    sink_u32(s, b->message_count);
    sink_put(s, b->message_ids, (size_t)b->message_count * LEDGER_HASH_SIZE);
    sink_put(s, b->receipts_root, LEDGER_HASH_SIZE);
    sink_put(s, b->state_root, LEDGER_HASH_SIZE);
}

static const uint8_t message_magic[4] = {'T', 'L', 'Y', 'M'};

void enc_message(sink *s, const ledger_message *m)
{
    sink_put(s, message_magic, 4);
    sink_u8(s, FORMAT_V1);
    sink_put(s, m->sender, LEDGER_PUBLIC_KEY_SIZE);
    sink_u64(s, m->nonce);
    sink_u64(s, m->canister_id);
    sink_u8(s, m->kind);
    sink_bytes(s, m->method);
    sink_bytes(s, m->arg);
    sink_u64(s, m->expiry_height);
}

void ledger_block_hash(const ledger_block *b, uint8_t out[LEDGER_HASH_SIZE])
{
    crypto_generichash_state h;
    hash_begin(&h, TAG_BLOCK);
    sink s = {NULL, &h, ST_OK};
    enc_block(&s, b);
    hash_end(&h, out);
}

/* ---- checks -------------------------------------------------------------------------------- */

status check_canister(const ledger_canister *c)
{
    if (c->controller_count > LEDGER_MAX_CONTROLLERS ||
        c->certified_data_len > LEDGER_CERTIFIED_DATA_MAX || c->status > LEDGER_CANISTER_STOPPED ||
        c->heap_pages > LEDGER_HEAP_PAGES_MAX || c->aux.len > LEDGER_AUX_MAX)
        return ST_BAD_CANISTER_RECORD;
    return ST_OK;
}

status check_message_fields(const ledger_message *m)
{
    if (m->kind > LEDGER_MSG_MINT || m->method.len > LEDGER_METHOD_MAX ||
        !span_is_utf8(m->method) || m->arg.len > UINT32_MAX)
        return ST_MALFORMED_MESSAGE;
    return ST_OK;
}

/* ---- decoders ------------------------------------------------------------------------------ */

/* Reads a u32 length-prefixed byte string of at most max bytes. */
static status rd_bytes(reader *r, size_t max, span *out)
{
    uint32_t n;
    status st = reader_fixed32(r, &n);
    if (st != ST_OK)
        return st;
    if (n > max)
        return ST_LENGTH_OUT_OF_BOUNDS;
    return reader_bytes(r, n, out);
}

static status rd_copy(reader *r, void *dst, size_t n)
{
    span s;
    status st = reader_bytes(r, n, &s);
    if (st == ST_OK)
        memcpy(dst, s.ptr, n);
    return st;
}

static status rd_format(reader *r)
{
    uint8_t f;
    status st = reader_u8(r, &f);
    return st != ST_OK ? st : f == FORMAT_V1 ? ST_OK : ST_MALFORMED_VERSION;
}

/* Reads field f of genesis.def into g. */
static status rd_field(reader *r, ledger_genesis *g, const ledger_genesis_field *f)
{
    uint64_t v;
    uint32_t w;
    status st = f->max == UINT32_MAX ? reader_fixed32(r, &w) : reader_fixed64(r, &v);
    if (st == ST_OK)
        ledger_genesis_set(g, f, f->max == UINT32_MAX ? w : v);
    return st;
}

status dec_genesis(span in, ledger_genesis *out, status bad)
{
    reader r = reader_of(in);
    ledger_genesis g;
    ledger_genesis_default(&g);
    memset(g.chain_id, 0, sizeof g.chain_id);
    size_t n;
    const ledger_genesis_field *f = ledger_genesis_fields(&n);
    span id;
    bool ok = rd_format(&r) == ST_OK && rd_bytes(&r, LEDGER_CHAIN_ID_MAX, &id) == ST_OK;
    for (size_t i = 0; ok && i < n; i++)
        ok = f[i].since > 0 || rd_field(&r, &g, &f[i]) == ST_OK;
    uint32_t len = 0, want = 1;
    uint8_t version = 0;
    ok = ok && rd_copy(&r, g.admin_public_key, LEDGER_PUBLIC_KEY_SIZE) == ST_OK &&
         reader_fixed32(&r, &len) == ST_OK && reader_u8(&r, &version) == ST_OK && version >= 1 &&
         version <= genesis_rules_max();
    for (size_t i = 0; ok && i < n; i++) {
        if (f[i].since >= 1 && f[i].since <= version) {
            want += f[i].max == UINT32_MAX ? 4 : 8;
            ok = rd_field(&r, &g, &f[i]) == ST_OK;
        }
    }
    if (!ok || len != want || reader_left(&r) != 0)
        return bad;
    memcpy(g.chain_id, id.ptr, id.len);
    *out = g;
    return ST_OK;
}

status dec_canister(span in, ledger_canister *out, status bad)
{
    reader r = reader_of(in);
    ledger_canister c;
    memset(&c, 0, sizeof c);
    span cd;
    bool ok = rd_format(&r) == ST_OK && rd_copy(&r, c.code_hash, LEDGER_HASH_SIZE) == ST_OK &&
              reader_fixed32(&r, &c.controller_count) == ST_OK &&
              c.controller_count <= LEDGER_MAX_CONTROLLERS;
    for (uint32_t i = 0; ok && i < c.controller_count; i++)
        ok = rd_copy(&r, c.controllers[i], LEDGER_PUBLIC_KEY_SIZE) == ST_OK;
    ok = ok && reader_u8(&r, &c.status) == ST_OK && reader_fixed32(&r, &c.heap_pages) == ST_OK &&
         reader_fixed32(&r, &c.stable_pages) == ST_OK &&
         rd_copy(&r, c.heap_root, LEDGER_HASH_SIZE) == ST_OK &&
         rd_copy(&r, c.stable_root, LEDGER_HASH_SIZE) == ST_OK &&
         rd_bytes(&r, LEDGER_CERTIFIED_DATA_MAX, &cd) == ST_OK &&
         reader_fixed64(&r, &c.version) == ST_OK &&
         rd_bytes(&r, LEDGER_AUX_MAX, &c.aux) == ST_OK && reader_left(&r) == 0;
    if (!ok || check_canister(&c) != ST_OK)
        return bad;
    c.certified_data_len = (uint32_t)cd.len;
    if (cd.len)
        memcpy(c.certified_data, cd.ptr, cd.len);
    *out = c;
    return ST_OK;
}

status dec_receipt(span in, ledger_receipt *out, status bad)
{
    reader r = reader_of(in);
    ledger_receipt rc;
    bool ok = rd_format(&r) == ST_OK && reader_fixed32(&r, &rc.status) == ST_OK &&
              reader_fixed64(&r, &rc.height) == ST_OK &&
              reader_fixed64(&r, &rc.instructions) == ST_OK &&
              rd_bytes(&r, UINT32_MAX, &rc.reply) == ST_OK && reader_left(&r) == 0;
    if (!ok)
        return bad;
    *out = rc;
    return ST_OK;
}

status dec_block(span in, ledger_block *out, status bad)
{
    reader r = reader_of(in);
    ledger_block b;
    memset(&b, 0, sizeof b);
    span ids;
    bool ok = rd_format(&r) == ST_OK && reader_fixed64(&r, &b.height) == ST_OK &&
              rd_copy(&r, b.parent_hash, LEDGER_HASH_SIZE) == ST_OK &&
              reader_fixed64(&r, &b.timestamp_ns) == ST_OK &&
              reader_fixed32(&r, &b.message_count) == ST_OK &&
              b.message_count <= reader_left(&r) / LEDGER_HASH_SIZE &&
              reader_bytes(&r, (size_t)b.message_count * LEDGER_HASH_SIZE, &ids) == ST_OK &&
              rd_copy(&r, b.receipts_root, LEDGER_HASH_SIZE) == ST_OK &&
              rd_copy(&r, b.state_root, LEDGER_HASH_SIZE) == ST_OK && reader_left(&r) == 0;
    if (!ok)
        return bad;
    b.message_ids = ids.ptr;
    ledger_block_hash(&b, b.hash);
    *out = b;
    return ST_OK;
}

status dec_message(span in, ledger_message *out, status bad)
{
    reader r = reader_of(in);
    ledger_message m;
    memset(&m, 0, sizeof m);
    span magic;
    bool ok = reader_bytes(&r, 4, &magic) == ST_OK && memcmp(magic.ptr, message_magic, 4) == 0 &&
              rd_format(&r) == ST_OK && rd_copy(&r, m.sender, LEDGER_PUBLIC_KEY_SIZE) == ST_OK &&
              reader_fixed64(&r, &m.nonce) == ST_OK &&
              reader_fixed64(&r, &m.canister_id) == ST_OK && reader_u8(&r, &m.kind) == ST_OK &&
              rd_bytes(&r, LEDGER_METHOD_MAX, &m.method) == ST_OK &&
              rd_bytes(&r, UINT32_MAX, &m.arg) == ST_OK &&
              reader_fixed64(&r, &m.expiry_height) == ST_OK && reader_left(&r) == 0;
    if (!ok || check_message_fields(&m) != ST_OK)
        return bad;
    *out = m;
    return ST_OK;
}

/* ---- text ---------------------------------------------------------------------------------- */

void ledger_hash_hex(const uint8_t h[LEDGER_HASH_SIZE], char out[2 * LEDGER_HASH_SIZE + 1])
{
    base_hex_write(h, LEDGER_HASH_SIZE, out);
}

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* The 10 bytes behind a canister id's text: id (8 BE) || checksum (2). */
static void id_bytes(uint64_t id, uint8_t out[10])
{
    uint8_t sum[LEDGER_HASH_SIZE];
    be64_store(out, id);
    crypto_generichash(sum, sizeof sum, out, 8, NULL, 0);
    out[8] = sum[0];
    out[9] = sum[1];
}

void ledger_canister_id_text(uint64_t id, char out[LEDGER_CANISTER_TEXT_SIZE])
{
    uint8_t raw[10];
    id_bytes(id, raw);
    size_t o = 0;
    for (unsigned i = 0; i < 16; i++) { /* 80 bits = 16 groups of 5 */
        unsigned bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)raw[byte] << 8 | (byte + 1 < 10 ? raw[byte + 1] : 0u);
        if (i && i % 5 == 0)
            out[o++] = '-';
        out[o++] = b32[(v >> (11 - shift)) & 31];
    }
    out[o] = '\0';
}

status ledger_canister_id_parse(const char *text, uint64_t *id)
{
    if (!text || strlen(text) != LEDGER_CANISTER_TEXT_SIZE - 1)
        return ST_BAD_CANISTER_ID;
    uint8_t raw[10] = {0};
    unsigned n = 0;
    for (size_t i = 0; text[i]; i++) {
        char c = text[i];
        if (i % 6 == 5) {
            if (c != '-')
                return ST_BAD_CANISTER_ID;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        const char *p = c ? strchr(b32, c) : NULL;
        if (!p)
            return ST_BAD_CANISTER_ID;
        unsigned v = (unsigned)(p - b32);
        for (int b = 4; b >= 0; b--, n++)
            if (v >> b & 1)
                raw[n / 8] |= (uint8_t)(0x80u >> (n % 8));
    }
    uint8_t want[10];
    uint64_t v = be64_load(raw);
    id_bytes(v, want);
    if (memcmp(raw, want, 10) != 0)
        return ST_BAD_CANISTER_ID;
    *id = v;
    return ST_OK;
}
