/* modbuild.h - a tiny builder of Wasm binary modules for the engine tests: sections are byte
 * lists, sizes and LEB128s computed here. Test-only; no allocation (fixed buffers). */
#ifndef TALLY_TEST_MODBUILD_H
#define TALLY_TEST_MODBUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

typedef struct mbuf {
    uint8_t b[8192];
    size_t n;
} mbuf;

static inline void mb_bytes(mbuf *m, const void *p, size_t n)
{
    if (m->n + n > sizeof m->b)
        abort();
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static inline void mb_u8(mbuf *m, uint8_t v)
{
    mb_bytes(m, &v, 1);
}

static inline void mb_u32(mbuf *m, uint32_t v)
{
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        mb_u8(m, (uint8_t)(b | (v ? 0x80 : 0)));
    } while (v);
}

/* The 8-byte header. */
static inline void mb_header(mbuf *m)
{
    static const uint8_t h[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    m->n = 0;
    mb_bytes(m, h, sizeof h);
}

/* A section: id, LEB128 size, contents. */
static inline void mb_section(mbuf *m, uint8_t id, const uint8_t *p, size_t n)
{
    mb_u8(m, id);
    mb_u32(m, (uint32_t)n);
    mb_bytes(m, p, n);
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define NBYTES(...) sizeof((const uint8_t[]){__VA_ARGS__})
/* SEC(m, id, byte, byte, ...) */
#define SEC(m, id, ...) mb_section((m), (id), BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__))

static inline span mb_span(const mbuf *m)
{
    return span_of(m->b, m->n);
}

#endif
