/* writer.c - a small WebAssembly binary writer (spec 5, "Binary Format"): the module header,
 * sections with their size prefix, names, types, limits, imports and code entries. Used by the
 * instrumenter and by tests that build modules byte by byte. */
#include "instrument.h"

#include <string.h>

status writer_header(buf *b)
{
    static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    return buf_put(b, header, sizeof header);
}

status writer_section(buf *b, uint8_t id, span content)
{
    size_t old = b->len;
    status st = buf_u8(b, id);
    if (st == ST_OK && content.len > UINT32_MAX)
        st = ST_LIMIT_EXCEEDED;
    if (st == ST_OK)
        st = buf_leb_u32(b, (uint32_t)content.len);
    if (st == ST_OK)
        st = buf_put(b, content.ptr, content.len);
    if (st != ST_OK)
        b->len = old;
    return st;
}

status writer_name(buf *b, span name)
{
    if (name.len > UINT32_MAX)
        return ST_LIMIT_EXCEEDED;
    status st = buf_leb_u32(b, (uint32_t)name.len);
    return st == ST_OK ? buf_put(b, name.ptr, name.len) : st;
}

status writer_functype(buf *b, const functype *t)
{
    status st = buf_u8(b, 0x60);
    if (st == ST_OK)
        st = buf_leb_u32(b, t->nparams);
    if (st == ST_OK && t->nparams)
        st = buf_put(b, t->types, t->nparams);
    if (st == ST_OK)
        st = buf_leb_u32(b, t->nresults);
    if (st == ST_OK && t->nresults) /* types may be NULL for [] -> [] */
        st = buf_put(b, t->types + t->nparams, t->nresults);
    return st;
}

status writer_limits(buf *b, const limits *l)
{
    status st = buf_u8(b, l->has_max ? 0x01 : 0x00);
    if (st == ST_OK)
        st = buf_leb_u32(b, l->min);
    if (st == ST_OK && l->has_max)
        st = buf_leb_u32(b, l->max);
    return st;
}

status writer_import(buf *b, const import *im)
{
    status st = writer_name(b, im->module);
    if (st == ST_OK)
        st = writer_name(b, im->name);
    if (st == ST_OK)
        st = buf_u8(b, im->kind);
    if (st != ST_OK)
        return st;
    switch (im->kind) {
    case EXT_FUNC: return buf_leb_u32(b, im->u.type);
    case EXT_TABLE:
        st = buf_u8(b, im->u.table.elem);
        return st == ST_OK ? writer_limits(b, &im->u.table.lim) : st;
    case EXT_MEMORY: return writer_limits(b, &im->u.mem);
    case EXT_GLOBAL:
        st = buf_u8(b, im->u.global.type);
        return st == ST_OK ? buf_u8(b, im->u.global.mut ? 1 : 0) : st;
    default: return BUG();
    }
}

/* Writes the local declarations as runs of equal types. */
static status write_locals(buf *b, const uint8_t *types, uint32_t n)
{
    uint32_t runs = 0;
    for (uint32_t i = 0; i < n; i++)
        if (i == 0 || types[i] != types[i - 1])
            runs++;
    status st = buf_leb_u32(b, runs);
    for (uint32_t i = 0; i < n && st == ST_OK;) {
        uint32_t j = i;
        while (j < n && types[j] == types[i])
            j++;
        st = buf_leb_u32(b, j - i);
        if (st == ST_OK)
            st = buf_u8(b, types[i]);
        i = j;
    }
    return st;
}

status writer_code_entry(buf *b, const uint8_t *local_types, uint32_t nlocals, span code)
{
    buf body = {0};
    status st = write_locals(&body, local_types, nlocals);
    if (st == ST_OK)
        st = buf_put(&body, code.ptr, code.len);
    if (st == ST_OK)
        st = writer_name(b, span_of(body.ptr, body.len)); /* size-prefixed bytes */
    buf_fini(&body);
    return st;
}
