/* base.h - tally's foundation: statuses, byte spans, LEB128 reading, the allocator hook.
 *
 * This is the one public header of base/ (see README.md). Everything in tally depends on it and
 * it depends on nothing but libc. Nothing here allocates except the allocator wrappers. */
#ifndef TALLY_BASE_H
#define TALLY_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- statuses (base/status.def) ---------------------------------------------------------- */

typedef enum status {
#define STATUS(name, num, cls, msg) ST_##name = num,
#include "status.def"
#undef STATUS
} status;

typedef enum status_class {
    SC_OK,
    SC_INVALID, /* input rejected, nothing changed */
    SC_TRAP,    /* deterministic outcome of a message, recorded in its receipt */
    SC_FAULT,   /* node problem (I/O, LMDB, memory): aborts the round, never commits */
    SC_BUG,     /* broken invariant */
} status_class;

/* A broken invariant: BUG() evaluates to ST_BUG_INVARIANT and records the file and line of the
 * caller (base_bug_where: the last one of this thread, NULL if none), so that the status a caller
 * reports can be traced to the check that failed. Built with -DTALLY_BUG_ABORT (meson option
 * bug_abort, for debugging), it prints the place and aborts instead. Use it for every
 * ST_BUG_INVARIANT a function returns of its own (docs/style.md "Errors"). */
#define BUG() base_bug(__FILE__, __LINE__)
status base_bug(const char *file, int line);
const char *base_bug_where(int *line);

/* Number of rows in status.def. */
enum {
    STATUS_COUNT = 0
#define STATUS(name, num, cls, msg) +1
#include "status.def"
#undef STATUS
};

/* "TRAP_UNREACHABLE" for ST_TRAP_UNREACHABLE; "UNKNOWN_STATUS" for a number not in the table. */
const char *status_name(status s);
/* The human message of the table; "unknown status" for a number not in the table. */
const char *status_message(status s);
/* The class of s; SC_BUG for a number not in the table. */
status_class status_class_of(status s);
/* "OK", "INVALID", "TRAP", "FAULT" or "BUG". */
const char *status_class_name(status_class c);
/* True if s is a row of status.def. */
bool status_is_known(int s);

/* Cycle amounts and other 128-bit counts of the IC (gcc and clang both have the type). */
__extension__ typedef unsigned __int128 u128;

/* ---- spans: borrowed (pointer, length) views ------------------------------------------- */

typedef struct span {
    const uint8_t *ptr;
    size_t len;
} span;

static inline span span_of(const void *p, size_t n)
{
    return (span){(const uint8_t *)p, n};
}
/* True if a and b hold the same bytes. */
bool span_eq(span a, span b);
/* True if a holds exactly the NUL-terminated string s. */
bool span_eq_str(span a, const char *s);
/* True if the bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool span_is_utf8(span a);
/* True if all n bytes at p are zero. */
bool base_is_zero(const uint8_t *p, size_t n);
/* Copies n bytes from src to dst 4 KiB at a time, writing no chunk of dst that is zero and
 * stays zero: into a fresh base_zarea, a mostly zero memory costs no memory for its zeros. */
void base_copy_sparse(uint8_t *dst, const uint8_t *src, size_t n);

/* ---- reader: bounds-checked cursor over a byte span, LEB128 per the Wasm spec ------------ */

/* A cursor over [start, end). pos never passes end: every read checks first. */
typedef struct reader {
    const uint8_t *start;
    const uint8_t *pos;
    const uint8_t *end;
} reader;

static inline reader reader_of(span s)
{
    /* an empty span may have a NULL pointer, and NULL + 0 is undefined in C */
    return (reader){s.ptr, s.ptr, s.len ? s.ptr + s.len : s.ptr};
}
static inline size_t reader_offset(const reader *r)
{
    return (size_t)(r->pos - r->start);
}
static inline size_t reader_left(const reader *r)
{
    return (size_t)(r->end - r->pos);
}

/* Each reader_* returns ST_OK and advances, or returns an error and leaves *out unchanged:
 * ST_UNEXPECTED_END if the input ends first; for LEB128 (spec 5.2.2) ST_INT_TOO_LONG if the
 * encoding uses more than ceil(N/7) bytes, ST_INT_TOO_LARGE if the unused bits of the last
 * byte are not zero (unsigned) or not a sign extension (signed). */
status reader_u8(reader *r, uint8_t *out);
status reader_u32(reader *r, uint32_t *out);
status reader_u64(reader *r, uint64_t *out);
status reader_s32(reader *r, int32_t *out);
status reader_s33(reader *r, int64_t *out); /* block types */
status reader_s64(reader *r, int64_t *out);
status reader_fixed32(reader *r, uint32_t *out); /* little-endian raw 4 bytes (f32 bits) */
status reader_fixed64(reader *r, uint64_t *out); /* little-endian raw 8 bytes (f64 bits) */
/* n raw bytes as a span into the input. */
status reader_bytes(reader *r, size_t n, span *out);

/* ---- little-endian helpers ------------------------------------------------------------ */

static inline uint32_t le32_load(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64_load(const uint8_t *p)
{
    return (uint64_t)le32_load(p) | (uint64_t)le32_load(p + 4) << 32;
}
static inline void le32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void le64_store(uint8_t *p, uint64_t v)
{
    le32_store(p, (uint32_t)v);
    le32_store(p + 4, (uint32_t)(v >> 32));
}

/* ---- 128-bit unsigned integers: cycle amounts (docs/canisters.md "Cycles") ---------------- */

/* The IC counts cycles in nat128; gcc and clang both provide the type (C17 has none). */
__extension__ typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)

/* Stored and hashed as 16 bytes little-endian. */
static inline u128 le128_load(const uint8_t *p)
{
    return (u128)le64_load(p) | (u128)le64_load(p + 8) << 64;
}
static inline void le128_store(uint8_t *p, u128 v)
{
    le64_store(p, (uint64_t)v);
    le64_store(p + 8, (uint64_t)(v >> 64));
}

/* Saturating arithmetic: fees and reserves never wrap around. */
static inline u128 u128_add_sat(u128 a, u128 b)
{
    return b > U128_MAX - a ? U128_MAX : a + b;
}
static inline u128 u128_mul_sat(u128 a, u128 b)
{
    return a && b > U128_MAX / a ? U128_MAX : a * b;
}

enum { U128_TEXT_SIZE = 40 }; /* 39 decimal digits of 2^128-1 and a NUL */
/* v in decimal into out; returns the number of digits. */
size_t u128_format(u128 v, char out[U128_TEXT_SIZE]);
/* Reads a decimal amount (digits, '_' allowed between them); false if empty, not decimal or
 * above 2^128-1 (*out unchanged). */
bool u128_parse(const char *text, u128 *out);

/* ---- growable byte buffer (writers: binary writer, encodings, replies) ------------------ */

typedef struct buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} buf;

/* Each returns ST_OK or ST_OUT_OF_MEMORY (buffer unchanged). */
status buf_reserve(buf *b, size_t extra);
status buf_put(buf *b, const void *p, size_t n);
status buf_u8(buf *b, uint8_t v);
status buf_leb_u32(buf *b, uint32_t v);
status buf_leb_u64(buf *b, uint64_t v);
status buf_leb_s32(buf *b, int32_t v);
status buf_leb_s64(buf *b, int64_t v);
void buf_fini(buf *b);

/* Makes room for `need` elements of `size` bytes in the array *p of *cap elements (base_realloc):
 * *cap doubles, from `first` when 0, until it holds need. ST_OK, or ST_OUT_OF_MEMORY with *p
 * and *cap unchanged. The one growth rule of tally's arrays of structs. */
status base_grow(void **p, uint32_t *cap, uint32_t need, size_t size, uint32_t first);

/* ---- hex text ----------------------------------------------------------------------------- */

/* The value of the hex digit c (0-9, a-f, A-F), or -1. */
int base_hex_digit(char c);
/* The n bytes at p as 2n lowercase hex digits and a NUL into out (2n + 1 bytes). */
void base_hex_write(const uint8_t *p, size_t n, char *out);
/* The len hex digits at s as len / 2 bytes into out; false if len is odd or a character is not
 * a hex digit (out may be partly written then). */
bool base_hex_read(const char *s, size_t len, uint8_t *out);

/* Reads the whole file at path into *out (base_alloc'd, free with base_free) and *len. ST_OK,
 * ST_IO_ERROR or ST_OUT_OF_MEMORY. The one file reader of the tools (cli, bench). */
status base_read_file(const char *path, uint8_t **out, size_t *len);

/* ---- allocator hook ---------------------------------------------------------------------
 * All of tally allocates through these, so tests can make the Nth allocation fail and check
 * that every caller returns ST_OUT_OF_MEMORY without leaking. Failure of base_alloc etc. is a
 * normal return of NULL; callers turn it into ST_OUT_OF_MEMORY (a FAULT). */
void *base_alloc(size_t n);
void *base_calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void *base_realloc(void *p, size_t n);
void base_free(void *p);
/* Test hook: the allocation after `n` more successful ones fails, and every one after it too
 * while `sticky`; n < 0 turns failure injection off. Counts allocations of all threads. */
void base_alloc_fail_after(long n, bool sticky);
/* Number of allocations made since the process started (tests loop over every site). */
unsigned long base_alloc_count(void);

/* ---- address-space reservations ---------------------------------------------------------
 * For large zero-initialised regions (Wasm memories, their shadows, stable memory) that must
 * cost memory only where written. base_vmem_reserve maps `size` bytes of address space with
 * no access and no memory behind it; base_vmem_commit makes [from, to) readable and writable
 * (rounded outward to whole pages of BASE_VMEM_PAGE), its pages reading as zero until first
 * written; base_vmem_zero makes committed [from, to) zero again, giving back the memory of the
 * whole pages inside it (they stay usable) and writing the partial ones. Reserve and commit count as allocations for the test hook above; callers
 * turn their failure (NULL, false) into ST_OUT_OF_MEMORY. Address space counts against
 * `ulimit -v` (RLIMIT_AS) at reservation; memory against the system only where touched. */
enum { BASE_VMEM_PAGE = 4096 };
void *base_vmem_reserve(size_t size);
bool base_vmem_commit(void *p, size_t from, size_t to);
void base_vmem_zero(void *p, size_t from, size_t to);
void base_vmem_release(void *p, size_t size); /* p NULL: nothing */

/* A growable zero-filled area on the above: a heap block up to BASE_ZAREA_SMALL bytes (cheap to
 * make), past it a reservation of `max` bytes made once (the area never moves again and costs
 * memory only where written). Start from {0}. grow: at least n bytes, the new bytes zero; false
 * past max or if the host has no memory (the area unchanged). zero: [from, to) reads as zero
 * again (whole pages of a reservation are given back, not written). */
enum { BASE_ZAREA_SMALL = 1 << 20 };
typedef struct base_zarea {
    uint8_t *ptr;
    size_t len;  /* usable bytes */
    size_t resv; /* bytes reserved; 0: ptr is a heap block */
} base_zarea;
bool base_zarea_grow(base_zarea *z, size_t n, size_t max);
void base_zarea_zero(base_zarea *z, size_t from, size_t to);
void base_zarea_free(base_zarea *z);

#define BASE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
