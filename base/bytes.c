/* bytes.c - span comparison, UTF-8 validation (spec 5.2.4 "Names"), the growable byte
 * buffer with LEB128 writers used by every encoder in tally, the growth of arrays, hex text,
 * and reading a file into a buffer. */
#include "base.h"

#include <stdio.h>
#include <string.h>

bool span_eq(span a, span b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool span_eq_str(span a, const char *s)
{
    return span_eq(a, span_of(s, strlen(s)));
}

bool span_is_utf8(span a)
{
    if (a.len == 0) /* a.ptr may be NULL: NULL + 0 is undefined in C */
        return true;
    const uint8_t *p = a.ptr, *end = a.ptr + a.len;
    while (p < end) {
        uint8_t c = *p;
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - p) < n)
            return false;
        for (size_t i = 1; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n;
    }
    return true;
}

status buf_reserve(buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return ST_OK;
    if (extra > SIZE_MAX / 2 - b->len)
        return ST_OUT_OF_MEMORY;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = base_realloc(b->ptr, cap);
    if (!p)
        return ST_OUT_OF_MEMORY;
    b->ptr = p;
    b->cap = cap;
    return ST_OK;
}

status buf_put(buf *b, const void *p, size_t n)
{
    status st = buf_reserve(b, n);
    if (st != ST_OK)
        return st;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    return ST_OK;
}

status buf_u8(buf *b, uint8_t v)
{
    return buf_put(b, &v, 1);
}

status buf_leb_u64(buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    return buf_put(b, tmp, n);
}

status buf_leb_u32(buf *b, uint32_t v)
{
    return buf_leb_u64(b, v);
}

status buf_leb_s64(buf *b, int64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    for (;;) {
        uint8_t byte = (uint8_t)((uint64_t)v & 0x7f);
        v >>= 7; /* arithmetic shift: implementation-defined, but two's complement in C23 and on
                    every compiler tally supports */
        bool done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
        tmp[n++] = (uint8_t)(byte | (done ? 0 : 0x80));
        if (done)
            break;
    }
    return buf_put(b, tmp, n);
}

status buf_leb_s32(buf *b, int32_t v)
{
    return buf_leb_s64(b, v);
}

void buf_fini(buf *b)
{
    base_free(b->ptr);
    *b = (buf){0};
}

status base_grow(void **p, uint32_t *cap, uint32_t need, size_t size, uint32_t first)
{
    if (need <= *cap)
        return ST_OK;
    uint32_t n = *cap ? *cap : first ? first : 1;
    while (n < need) {
        if (n > UINT32_MAX / 2)
            return ST_OUT_OF_MEMORY;
        n *= 2;
    }
    void *q = size && n > SIZE_MAX / size ? NULL : base_realloc(*p, (size_t)n * size);
    if (!q)
        return ST_OUT_OF_MEMORY;
    *p = q;
    *cap = n;
    return ST_OK;
}

int base_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void base_hex_write(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool base_hex_read(const char *s, size_t len, uint8_t *out)
{
    if (len % 2)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        int hi = base_hex_digit(s[i]), lo = base_hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

status base_read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ST_IO_ERROR;
    buf b = {0};
    status st = ST_OK;
    for (;;) {
        st = buf_reserve(&b, 65536);
        if (st != ST_OK)
            break;
        size_t n = fread(b.ptr + b.len, 1, b.cap - b.len, f);
        b.len += n;
        if (n == 0) {
            if (ferror(f))
                st = ST_IO_ERROR;
            break;
        }
    }
    fclose(f);
    if (st != ST_OK) {
        buf_fini(&b);
        return st;
    }
    *out = b.ptr;
    *len = b.len;
    return ST_OK;
}

bool base_is_zero(const uint8_t *p, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
        if ((i & 4095) == 4088 && acc) /* stop early, every 4 KiB */
            return false;
    }
    for (; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

void base_copy_sparse(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t off = 0; off < n; off += 4096) {
        size_t k = n - off < 4096 ? n - off : 4096;
        if (!base_is_zero(src + off, k))
            memcpy(dst + off, src + off, k);
        else if (!base_is_zero(dst + off, k))
            memset(dst + off, 0, k);
    }
}
