/* reader.c - bounds-checked reading of a byte span: bytes, fixed-width little-endian values and
 * LEB128 integers with the rules of the Wasm binary format (spec 5.2.2 "Integers"): at most
 * ceil(N/7) bytes, and the unused bits of the last byte must be zero (unsigned) or a sign
 * extension (signed). Nothing here allocates. */
#include "base.h"

/* Decodes an LEB128 integer of `bits` bits; signed if `is_signed`. On success stores the value
 * (sign-extended to 64 bits when signed) and advances. */
static status leb(reader *r, unsigned bits, bool is_signed, uint64_t *out)
{
    const unsigned max_bytes = (bits + 6) / 7;
    uint64_t v = 0;
    unsigned shift = 0;
    for (unsigned i = 0;; i++) {
        if (i >= reader_left(r))
            return ST_UNEXPECTED_END;
        uint8_t b = r->pos[i];
        if (i == max_bytes - 1) {
            if (b & 0x80)
                return ST_INT_TOO_LONG;
            unsigned used = bits - 7 * i; /* payload bits this byte may carry, 1..7 */
            if (used < 7) {
                if (is_signed) {
                    /* bits used-1 .. 6 must all be copies of the sign bit */
                    uint8_t high = (uint8_t)(b >> (used - 1));
                    uint8_t all = (uint8_t)(0x7f >> (used - 1));
                    if (high != 0 && high != all)
                        return ST_INT_TOO_LARGE;
                } else if ((b >> used) != 0) {
                    return ST_INT_TOO_LARGE;
                }
            }
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (is_signed && shift < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << shift;
            r->pos += i + 1;
            *out = v;
            return ST_OK;
        }
    }
}

status reader_u8(reader *r, uint8_t *out)
{
    if (reader_left(r) < 1)
        return ST_UNEXPECTED_END;
    *out = *r->pos++;
    return ST_OK;
}

status reader_u32(reader *r, uint32_t *out)
{
    uint64_t v;
    status st = leb(r, 32, false, &v);
    if (st == ST_OK)
        *out = (uint32_t)v;
    return st;
}

status reader_u64(reader *r, uint64_t *out)
{
    return leb(r, 64, false, out);
}

status reader_s32(reader *r, int32_t *out)
{
    uint64_t v;
    status st = leb(r, 32, true, &v);
    if (st == ST_OK)
        *out = (int32_t)(uint32_t)v;
    return st;
}

status reader_s33(reader *r, int64_t *out)
{
    uint64_t v;
    status st = leb(r, 33, true, &v);
    if (st == ST_OK)
        *out = (int64_t)v;
    return st;
}

status reader_s64(reader *r, int64_t *out)
{
    uint64_t v;
    status st = leb(r, 64, true, &v);
    if (st == ST_OK)
        *out = (int64_t)v;
    return st;
}

status reader_fixed32(reader *r, uint32_t *out)
{
    if (reader_left(r) < 4)
        return ST_UNEXPECTED_END;
    *out = le32_load(r->pos);
    r->pos += 4;
    return ST_OK;
}

status reader_fixed64(reader *r, uint64_t *out)
{
    if (reader_left(r) < 8)
        return ST_UNEXPECTED_END;
    *out = le64_load(r->pos);
    r->pos += 8;
    return ST_OK;
}

status reader_bytes(reader *r, size_t n, span *out)
{
    if (reader_left(r) < n)
        return ST_UNEXPECTED_END;
    *out = span_of(r->pos, n);
    r->pos += n;
    return ST_OK;
}
