/* num.c - arbitrary-precision nat and int: LEB128/SLEB128 (spec "Binary Format", Memory),
 * decimal and hexadecimal text (spec "Values"), and the shortest text of floats.
 *
 * A number is a magnitude of 32-bit limbs, least significant first, without leading zero
 * limbs, and a sign (candid.h). The algorithms are the schoolbook ones: LEB128 is linear;
 * decimal conversion is quadratic in the number of limbs, which the text parser bounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candid_int.h"

static size_t normalized(const uint32_t *l, size_t n)
{
    while (n > 0 && l[n - 1] == 0)
        n--;
    return n;
}

status num_set_u64(candid_arena *a, uint64_t x, candid_value *v)
{
    uint32_t *l = arena_alloc(a, 8);
    if (!l)
        return ST_OUT_OF_MEMORY;
    l[0] = (uint32_t)x;
    l[1] = (uint32_t)(x >> 32);
    v->as.limbs = l;
    v->n = normalized(l, 2);
    v->neg = false;
    return ST_OK;
}

status num_leb_read(candid_arena *a, const uint8_t **pp, const uint8_t *end, bool is_signed,
                    candid_value *v)
{
    const uint8_t *p = *pp, *q = p;
    while (q < end && (*q & 0x80))
        q++;
    if (q == end)
        return ST_CANDID_TRUNCATED;
    size_t nbytes = (size_t)(q - p) + 1, nbits = nbytes * 7;
    bool neg = is_signed && (*q & 0x40);
    if (nbytes <= 9 && !neg) { /* fast path: fits in 63 bits */
        uint64_t x = 0;
        for (size_t i = 0; i < nbytes; i++)
            x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        *pp = q + 1;
        return num_set_u64(a, x, v);
    }
    size_t nl = nbits / 32 + 1;
    uint32_t *l = arena_alloc(a, nl * 4);
    if (!l)
        return ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < nbytes; i++) {
        uint32_t g = p[i] & 0x7fu;
        size_t bit = 7 * i;
        l[bit / 32] |= g << (bit % 32);
        if (bit % 32 > 25)
            l[bit / 32 + 1] |= g >> (32 - bit % 32);
    }
    if (neg) { /* magnitude = 2^nbits - value: invert within nbits, then add 1 */
        for (size_t i = 0; i < nl; i++) {
            size_t lo = i * 32;
            uint32_t mask = lo + 32 <= nbits ? 0xffffffffu
                            : lo >= nbits    ? 0
                                             : (uint32_t)((1ull << (nbits - lo)) - 1);
            l[i] = ~l[i] & mask;
        }
        for (size_t i = 0; i < nl && ++l[i] == 0; i++)
            ;
    }
    v->as.limbs = l;
    v->n = normalized(l, nl);
    v->neg = neg && v->n > 0;
    *pp = q + 1;
    return ST_OK;
}

static size_t bit_length(const uint32_t *l, size_t n)
{
    if (n == 0)
        return 0;
    size_t b = 32 * (n - 1);
    for (uint32_t top = l[n - 1]; top; top >>= 1)
        b++;
    return b;
}

/* True if the magnitude is exactly 2^k. */
static bool is_pow2(const uint32_t *l, size_t n, size_t k)
{
    return bit_length(l, n) == k + 1 && (l[k / 32] == (1u << (k % 32))) &&
           normalized(l, k / 32) == 0;
}

status num_leb_write(const candid_value *v, bool is_signed, buf *out)
{
    const uint32_t *m = v->as.limbs;
    size_t n = v->n, L = bit_length(m, n), nbytes;
    if (!is_signed || !v->neg) {
        nbytes = (L + (is_signed ? 1 : 0) + 6) / 7;
    } else { /* smallest k with m <= 2^(7k-1) */
        nbytes = 1;
        while (7 * nbytes - 1 < L - (is_pow2(m, n, L - 1) ? 1 : 0))
            nbytes++;
    }
    if (nbytes == 0)
        nbytes = 1;
    status st = buf_reserve(out, nbytes);
    if (st != ST_OK)
        return st;
    /* two's complement of -m over enough limbs, or m itself */
    size_t nl = n + 1;
    uint32_t small[4], *t = nl <= 4 ? small : base_alloc(nl * 4);
    if (!t)
        return ST_OUT_OF_MEMORY;
    for (size_t i = 0; i < nl; i++)
        t[i] = i < n ? m[i] : 0;
    if (is_signed && v->neg) {
        for (size_t i = 0; i < nl; i++)
            t[i] = ~t[i];
        for (size_t i = 0; i < nl && ++t[i] == 0; i++)
            ;
    }
    for (size_t j = 0; j < nbytes; j++) {
        size_t bit = 7 * j;
        uint32_t g = bit / 32 < nl ? t[bit / 32] >> (bit % 32) : 0;
        if (bit % 32 > 25 && bit / 32 + 1 < nl)
            g |= t[bit / 32 + 1] << (32 - bit % 32);
        if (bit / 32 >= nl && is_signed && v->neg)
            g = 0x7f;
        out->ptr[out->len++] = (uint8_t)((g & 0x7f) | (j + 1 < nbytes ? 0x80 : 0));
    }
    if (t != small)
        base_free(t);
    return ST_OK;
}

/* l[0..*n) = l * mul + add, with room for one more limb. */
static void mul_add(uint32_t *l, size_t *n, uint32_t mul, uint32_t add)
{
    uint64_t carry = add;
    for (size_t i = 0; i < *n; i++) {
        uint64_t x = (uint64_t)l[i] * mul + carry;
        l[i] = (uint32_t)x;
        carry = x >> 32;
    }
    if (carry)
        l[(*n)++] = (uint32_t)carry;
}

status num_parse(candid_arena *a, const char *s, size_t len, candid_value *v)
{
    bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    size_t start = hex ? 2 : 0, digits = 0;
    uint32_t *l = arena_alloc(a, (len / 8 + 2) * 4);
    if (!l)
        return ST_OUT_OF_MEMORY;
    size_t n = 0;
    bool prev_us = true;
    for (size_t i = start; i < len; i++) {
        char c = s[i];
        unsigned d;
        if (c == '_') {
            if (prev_us)
                return ST_CANDID_SYNTAX;
            prev_us = true;
            continue;
        }
        int h = base_hex_digit(c);
        if (h < 0 || (unsigned)h >= (hex ? 16u : 10u))
            return ST_CANDID_SYNTAX;
        d = (unsigned)h;
        prev_us = false;
        mul_add(l, &n, hex ? 16 : 10, d);
        digits++;
    }
    if (digits == 0 || prev_us)
        return ST_CANDID_SYNTAX;
    v->as.limbs = l;
    v->n = normalized(l, n);
    return ST_OK;
}

status num_print(const candid_value *v, buf *out)
{
    size_t n = v->n;
    if (n == 0)
        return buf_put(out, "0", 1);
    uint32_t *t = base_alloc(n * 4);
    char *digits = base_alloc(n * 10 + 2);
    status st = ST_OUT_OF_MEMORY;
    if (!t || !digits)
        goto out_free;
    memcpy(t, v->as.limbs, n * 4);
    size_t nd = 0;
    while (n > 0) { /* divide by 10^9, emit 9 digits (the last group without zeros) */
        uint64_t rem = 0;
        for (size_t i = n; i-- > 0;) {
            uint64_t x = rem << 32 | t[i];
            t[i] = (uint32_t)(x / 1000000000u);
            rem = x % 1000000000u;
        }
        n = normalized(t, n);
        for (int k = 0; k < 9 && (n > 0 || rem > 0); k++) {
            digits[nd++] = (char)('0' + rem % 10);
            rem /= 10;
        }
    }
    if (v->neg)
        digits[nd++] = '-';
    st = buf_reserve(out, nd);
    if (st == ST_OK)
        while (nd > 0)
            out->ptr[out->len++] = (uint8_t)digits[--nd];
out_free:
    base_free(t);
    base_free(digits);
    return st;
}

status num_print_float(double x, bool single, buf *out)
{
    char s[40];
    if (x != x)
        return buf_put(out, "nan", 3);
    if (x == 1.0 / 0.0 || x == -1.0 / 0.0)
        return buf_put(out, x > 0 ? "inf" : "-inf", x > 0 ? 3 : 4);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, x);
        double back = strtod(s, NULL);
        if (single ? (float)back == (float)x : back == x)
            break;
    }
    size_t len = strlen(s);
    if (!strpbrk(s, ".e"))
        s[len++] = '.';
    return buf_put(out, s, len);
}
