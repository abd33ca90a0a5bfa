/* ops.h - the value helpers both tiers compute with (docs/engine.md "One semantics"): NaN
 * canonicalization, fmin/fmax, nearest, trapping and saturating float-to-int conversions,
 * rotations. They are written once, as the macro ENGINE_OPS_SOURCE: vm.c expands it into C, and
 * the compiled tier's emitter (emit.c) writes its text, ENGINE_OPS_TEXT, at the top of every
 * generated source. So the interpreter and the compiled code run the very same definitions.
 * Inside the macro: no preprocessor directives and no names from outside libc's <stdint.h>,
 * <string.h> and <math.h>; statuses are the ST_ names of base/status.def (emit.c defines the
 * ones used here with the same numbers). */
#ifndef TALLY_ENGINE_OPS_H
#define TALLY_ENGINE_OPS_H

/* clang-format off */
#define ENGINE_OPS_SOURCE \
static inline float f32_of(uint64_t s)                                                            \
{                                                                                                 \
    uint32_t u = (uint32_t)s;                                                                     \
    float f;                                                                                      \
    memcpy(&f, &u, 4);                                                                            \
    return f;                                                                                     \
}                                                                                                 \
static inline double f64_of(uint64_t s)                                                           \
{                                                                                                 \
    double d;                                                                                     \
    memcpy(&d, &s, 8);                                                                            \
    return d;                                                                                     \
}                                                                                                 \
static inline uint64_t bits32(float f)                                                            \
{                                                                                                 \
    uint32_t u;                                                                                   \
    memcpy(&u, &f, 4);                                                                            \
    return u;                                                                                     \
}                                                                                                 \
static inline uint64_t bits64(double d)                                                           \
{                                                                                                 \
    uint64_t u;                                                                                   \
    memcpy(&u, &d, 8);                                                                            \
    return u;                                                                                     \
}                                                                                                 \
enum { CANON32 = 0x7fc00000u };                                                                   \
static const uint64_t CANON64 = 0x7ff8000000000000u;                                              \
static inline uint64_t canon32(float f)                                                           \
{                                                                                                 \
    return f != f ? CANON32 : bits32(f);                                                          \
}                                                                                                 \
static inline uint64_t canon64(double d)                                                          \
{                                                                                                 \
    return d != d ? CANON64 : bits64(d);                                                          \
}                                                                                                 \
                                                                                                  \
/* Wasm fmin/fmax (spec 4.3.3): NaN if either is NaN; -0 < +0. Equal operands: for min the one    \
 * with the sign bit (bits OR), for max the one without (bits AND). */                            \
static inline uint64_t min32(uint64_t x, uint64_t y)                                              \
{                                                                                                 \
    float a = f32_of(x), b = f32_of(y);                                                           \
    if (a != a || b != b)                                                                         \
        return CANON32;                                                                           \
    return a < b ? (uint32_t)x : b < a ? (uint32_t)y : (uint32_t)(x | y);                         \
}                                                                                                 \
static inline uint64_t max32(uint64_t x, uint64_t y)                                              \
{                                                                                                 \
    float a = f32_of(x), b = f32_of(y);                                                           \
    if (a != a || b != b)                                                                         \
        return CANON32;                                                                           \
    return a > b ? (uint32_t)x : b > a ? (uint32_t)y : (uint32_t)(x & y);                         \
}                                                                                                 \
static inline uint64_t min64(uint64_t x, uint64_t y)                                              \
{                                                                                                 \
    double a = f64_of(x), b = f64_of(y);                                                          \
    if (a != a || b != b)                                                                         \
        return CANON64;                                                                           \
    return a < b ? x : b < a ? y : (x | y);                                                       \
}                                                                                                 \
static inline uint64_t max64(uint64_t x, uint64_t y)                                              \
{                                                                                                 \
    double a = f64_of(x), b = f64_of(y);                                                          \
    if (a != a || b != b)                                                                         \
        return CANON64;                                                                           \
    return a > b ? x : b > a ? y : (x & y);                                                       \
}                                                                                                 \
                                                                                                  \
/* Round to nearest, ties to even, under the default rounding mode: adding and subtracting 2^23   \
 * (2^52) leaves exactly the integer part rounded by the FPU's own ties-to-even rule. */          \
static inline float nearest32(float a)                                                            \
{                                                                                                 \
    if (!(a < 8388608.0f && a > -8388608.0f) || a == 0)                                           \
        return a; /* already integral (or a zero: keep its sign), infinite or NaN */              \
    return a < 0 ? -((-a + 8388608.0f) - 8388608.0f) : (a + 8388608.0f) - 8388608.0f;             \
}                                                                                                 \
static inline double nearest64(double a)                                                          \
{                                                                                                 \
    if (!(a < 4503599627370496.0 && a > -4503599627370496.0) || a == 0)                           \
        return a;                                                                                 \
    return a < 0 ? -((-a + 4503599627370496.0) - 4503599627370496.0)                              \
                 : (a + 4503599627370496.0) - 4503599627370496.0;                                 \
}                                                                                                 \
                                                                                                  \
/* Float-to-int truncation (spec 4.3.3 trunc, trunc_sat). Every float fits a double exactly. */   \
static inline status trunc_i32_s(double a, uint64_t *out)                                         \
{                                                                                                 \
    if (a != a)                                                                                   \
        return ST_TRAP_INVALID_CONVERSION;                                                        \
    if (!(a > -2147483649.0 && a < 2147483648.0))                                                 \
        return ST_TRAP_INT_OVERFLOW;                                                              \
    *out = (uint32_t)(int32_t)a;                                                                  \
    return ST_OK;                                                                                 \
}                                                                                                 \
static inline status trunc_i32_u(double a, uint64_t *out)                                         \
{                                                                                                 \
    if (a != a)                                                                                   \
        return ST_TRAP_INVALID_CONVERSION;                                                        \
    if (!(a > -1.0 && a < 4294967296.0))                                                          \
        return ST_TRAP_INT_OVERFLOW;                                                              \
    *out = (uint32_t)a;                                                                           \
    return ST_OK;                                                                                 \
}                                                                                                 \
static inline status trunc_i64_s(double a, uint64_t *out)                                         \
{                                                                                                 \
    if (a != a)                                                                                   \
        return ST_TRAP_INVALID_CONVERSION;                                                        \
    if (!(a >= -9223372036854775808.0 && a < 9223372036854775808.0))                              \
        return ST_TRAP_INT_OVERFLOW;                                                              \
    *out = (uint64_t)(int64_t)a;                                                                  \
    return ST_OK;                                                                                 \
}                                                                                                 \
static inline status trunc_i64_u(double a, uint64_t *out)                                         \
{                                                                                                 \
    if (a != a)                                                                                   \
        return ST_TRAP_INVALID_CONVERSION;                                                        \
    if (!(a > -1.0 && a < 18446744073709551616.0))                                                \
        return ST_TRAP_INT_OVERFLOW;                                                              \
    *out = (uint64_t)a;                                                                           \
    return ST_OK;                                                                                 \
}                                                                                                 \
static inline uint64_t sat_i32_s(double a)                                                        \
{                                                                                                 \
    if (a != a)                                                                                   \
        return 0;                                                                                 \
    if (a <= -2147483648.0)                                                                       \
        return (uint32_t)INT32_MIN;                                                               \
    if (a >= 2147483647.0)                                                                        \
        return INT32_MAX;                                                                         \
    return (uint32_t)(int32_t)a;                                                                  \
}                                                                                                 \
static inline uint64_t sat_i32_u(double a)                                                        \
{                                                                                                 \
    if (!(a > 0))                                                                                 \
        return 0;                                                                                 \
    if (a >= 4294967295.0)                                                                        \
        return UINT32_MAX;                                                                        \
    return (uint32_t)a;                                                                           \
}                                                                                                 \
static inline uint64_t sat_i64_s(double a)                                                        \
{                                                                                                 \
    if (a != a)                                                                                   \
        return 0;                                                                                 \
    if (a <= -9223372036854775808.0)                                                              \
        return (uint64_t)INT64_MIN;                                                               \
    if (a >= 9223372036854775808.0)                                                               \
        return INT64_MAX;                                                                         \
    return (uint64_t)(int64_t)a;                                                                  \
}                                                                                                 \
static inline uint64_t sat_i64_u(double a)                                                        \
{                                                                                                 \
    if (!(a > 0))                                                                                 \
        return 0;                                                                                 \
    if (a >= 18446744073709551616.0)                                                              \
        return UINT64_MAX;                                                                        \
    return (uint64_t)a;                                                                           \
}                                                                                                 \
                                                                                                  \
static inline uint32_t rotl32(uint32_t a, uint32_t b)                                             \
{                                                                                                 \
    b &= 31;                                                                                      \
    return (a << b) | (a >> ((32 - b) & 31));                                                     \
}                                                                                                 \
static inline uint32_t rotr32(uint32_t a, uint32_t b)                                             \
{                                                                                                 \
    b &= 31;                                                                                      \
    return (a >> b) | (a << ((32 - b) & 31));                                                     \
}                                                                                                 \
static inline uint64_t rotl64(uint64_t a, uint64_t b)                                             \
{                                                                                                 \
    b &= 63;                                                                                      \
    return (a << b) | (a >> ((64 - b) & 63));                                                     \
}                                                                                                 \
static inline uint64_t rotr64(uint64_t a, uint64_t b)                                             \
{                                                                                                 \
    b &= 63;                                                                                      \
    return (a >> b) | (a << ((64 - b) & 63));                                                     \
}

/* clang-format on */

#define ENGINE_OPS_STR_(...) #__VA_ARGS__
#define ENGINE_OPS_STR(...) ENGINE_OPS_STR_(__VA_ARGS__)
/* The helpers' text, as emitted into generated sources. */
#define ENGINE_OPS_TEXT ENGINE_OPS_STR(ENGINE_OPS_SOURCE)

#endif
