/* candid.h - Candid, the interface description language of IC canisters: types, binary
 * messages ("DIDL..."), the textual value syntax and .did service descriptions.
 *
 * This is the one public header of candid/ (see README.md); it depends only on base/. It follows
 * the Candid specification (docs/candid.md names the sections): binary decoding and encoding of
 * every type, decoding at an expected type with the specification's subtyping and coercion rules,
 * parsing and printing of textual values, and parsing of service descriptions.
 *
 * Model. Types live in a type environment (candid_env): primitive types are the negative
 * opcodes of the binary format (CANDID_NAT = -3 ...), composite types are indices >= 0 into an
 * environment. Values (candid_value) live in an arena (candid_arena) and are always *typed*:
 * they were decoded or parsed at a type of some environment, and encoding or printing them
 * takes the same type. A value's kind is the kind of that type after resolving names, except
 * that a `vec nat8` is always held as CANDID_BLOB (its bytes in one piece).
 *
 * Errors. Every function returns a status of base/status.def (the ST_CANDID_* rows, 10xx) and,
 * when given a candid_error, the byte offset of the problem in its input and a short reason.
 * Malformed input is never a crash, and decoding is bounded (candid_limits): nesting depth and
 * a cost quota linear in the input's size, so that "space bomb" messages (a billion-element
 * `vec null` in 10 bytes) fail early instead of using time or memory.
 *
 * Memory. An environment owns its types; an arena owns every value, string and byte array
 * decoded or parsed into it, until candid_arena_free. Out of memory is ST_OUT_OF_MEMORY. */
#ifndef TALLY_CANDID_H
#define TALLY_CANDID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base.h"

/* ---- kinds: the opcodes of the binary format (spec "Binary Format", Types) --------------- */

typedef enum candid_kind {
    CANDID_NULL = -1,
    CANDID_BOOL = -2,
    CANDID_NAT = -3,
    CANDID_INT = -4,
    CANDID_NAT8 = -5,
    CANDID_NAT16 = -6,
    CANDID_NAT32 = -7,
    CANDID_NAT64 = -8,
    CANDID_INT8 = -9,
    CANDID_INT16 = -10,
    CANDID_INT32 = -11,
    CANDID_INT64 = -12,
    CANDID_FLOAT32 = -13,
    CANDID_FLOAT64 = -14,
    CANDID_TEXT = -15,
    CANDID_RESERVED = -16,
    CANDID_EMPTY = -17,
    CANDID_OPT = -18,
    CANDID_VEC = -19,
    CANDID_RECORD = -20,
    CANDID_VARIANT = -21,
    CANDID_FUNC = -22,
    CANDID_SERVICE = -23,
    CANDID_PRINCIPAL = -24,
    /* Not opcodes: a value of type `vec nat8`; a type name (candid_env_define); a type of the
     * wire this implementation does not know (opcode < -24, skipped by length). */
    CANDID_BLOB = -100,
    CANDID_ALIAS = -101,
    CANDID_FUTURE = -102,
} candid_kind;

/* A type: a primitive opcode (< 0) or an index into a candid_env (>= 0). */
typedef int32_t candid_type;

/* Function annotations (a bit set); the spec's codes are 1, 2, 3. */
enum {
    CANDID_ANN_QUERY = 1,
    CANDID_ANN_ONEWAY = 2,
    CANDID_ANN_COMPOSITE_QUERY = 4,
};

/* Where and why an input was rejected: offset is in bytes from the start of the input given
 * (the binary message, or the text); what is a static English phrase. */
typedef struct candid_error {
    size_t offset;
    const char *what;
} candid_error;

/* ---- type environments ------------------------------------------------------------------ */

typedef struct candid_env candid_env;

/* A new empty environment, or NULL when out of memory. */
candid_env *candid_env_new(void);
void candid_env_free(candid_env *env);

/* The kind of t after following names: a primitive's own opcode, or the composite's kind. */
candid_kind candid_type_kind(const candid_env *env, candid_type t);
/* t with names followed (a primitive or a composite index that is not CANDID_ALIAS). */
candid_type candid_type_resolve(const candid_env *env, candid_type t);

/* A field of a record or variant (id: the spec's field id; name: NULL when the type gave a
 * number), a parameter or result of a func (id: its position), or a method of a service
 * (name: the method name, id: its hash). Borrowed from the environment. */
typedef struct candid_field {
    uint32_t id;
    candid_type type;
    const char *name;
    size_t name_len;
} candid_field;

/* The inner type of an opt or vec type. */
candid_type candid_type_inner(const candid_env *env, candid_type t);
/* The fields of a record or variant (sorted by id), or the methods of a service (sorted by
 * name): *n of them. Zero for other types. */
const candid_field *candid_type_fields(const candid_env *env, candid_type t, size_t *n);
/* The parameters, results and annotations (CANDID_ANN_*) of a func type. */
void candid_type_func(const candid_env *env, candid_type t, const candid_field **args,
                      size_t *nargs, const candid_field **rets, size_t *nrets, unsigned *anns);

/* The spec's hash of a field name (spec "Records", Shorthand: Symbolic Field Ids):
 * h = sum of byte_i * 223^(k-1-i) modulo 2^32. */
uint32_t candid_name_hash(const char *name, size_t len);

/* ---- .did service descriptions and textual types ------------------------------------------
 * Parse the text of a .did file into env: `type NAME = T;` definitions (in any order, mutually
 * recursive), then an optional `service : ... { METHOD : (ARGS) -> (RESULTS) ANNS; ... }`;
 * imports are not supported (ST_CANDID_SYNTAX). Returns ST_OK, ST_CANDID_SYNTAX (at offset),
 * ST_CANDID_UNKNOWN_NAME (a type name never defined, or defined twice), ST_CANDID_BAD_TYPE (a
 * non-productive definition such as `type A = B; type B = A;`, duplicate fields or methods),
 * ST_OUT_OF_MEMORY. On error env is left as it was before the call. */
status candid_did_parse(candid_env *env, span text, candid_error *err);

/* The service of the last candid_did_parse (a CANDID_SERVICE type), or false if there is none. */
bool candid_env_service(const candid_env *env, candid_type *service);
/* The init arguments of the last service parsed (`service : (nat, text) -> {...}`): *n of
 * them in args[] (borrowed), or false if it declared none. */
bool candid_env_init_args(const candid_env *env, const candid_field **args, size_t *n);
/* The func type of method `name` of service, or ST_CANDID_UNKNOWN_NAME. */
status candid_service_method(const candid_env *env, candid_type service, const char *name,
                             size_t name_len, candid_type *func);

/* Parse one argument type list such as `(nat, record { a : text })` (names of env may be used;
 * a name given to an argument, `(amount : nat)`, is allowed and ignored) into at most `cap`
 * types; *n is how many. Same statuses as candid_did_parse, and ST_CANDID_LIMIT past cap. */
status candid_types_parse(candid_env *env, span text, candid_type *types, size_t cap, size_t *n,
                          candid_error *err);

/* ---- values ------------------------------------------------------------------------------ */

typedef struct candid_arena candid_arena;

/* A new arena, or NULL when out of memory; free releases every value allocated in it. */
candid_arena *candid_arena_new(void);
void candid_arena_free(candid_arena *a);

/* A value, typed by the type it was decoded or parsed at (see "Model" above):
 *   NULL, RESERVED              no data
 *   BOOL                        as.b
 *   NAT, INT                    magnitude as.limbs[0..n) (32-bit limbs, least significant
 *                               first, no leading zero limb; zero has n = 0), sign neg
 *   NAT8..NAT64                 as.u            INT8..INT64   as.i
 *   FLOAT32                     as.f32          FLOAT64       as.f64
 *   TEXT                        as.bytes[0..n), valid UTF-8 (not NUL-terminated)
 *   BLOB                        as.bytes[0..n) (a vec nat8)
 *   PRINCIPAL, SERVICE          as.bytes[0..n), the principal's bytes
 *   OPT                         n = 0 (null) or 1: as.items[0]
 *   VEC                         as.items[0..n)
 *   RECORD                      as.items[0..n), one per field of the type, in its order;
 *                               items[i].id is the field id
 *   VARIANT                     n = 1: as.items[0], whose id is the tag
 *   FUNC                        n = 2: as.items[0] the PRINCIPAL, as.items[1] the method TEXT */
typedef struct candid_value candid_value;
struct candid_value {
    int8_t kind; /* candid_kind */
    bool neg;
    uint32_t id;
    size_t n;
    union {
        bool b;
        uint64_t u;
        int64_t i;
        float f32;
        double f64;
        const uint8_t *bytes;
        const uint32_t *limbs;
        candid_value *items;
    } as;
};

/* The value of a NAT/INT/NATn/INTn as a uint64_t or int64_t: ST_OK or ST_CANDID_TYPE_MISMATCH
 * (other kind, or out of range). */
status candid_value_u64(const candid_value *v, uint64_t *out);
status candid_value_i64(const candid_value *v, int64_t *out);

/* True if a and b are the same value (floats compare by their bits). */
bool candid_value_eq(const candid_value *a, const candid_value *b);

/* ---- binary messages (spec "Binary Format", "Deserialisation") ---------------------------- */

typedef struct candid_limits {
    uint32_t max_depth;     /* nesting of values and types while decoding (default 128) */
    uint64_t cost_base;     /* cost quota: cost_base + cost_per_byte * message length, where   */
    uint64_t cost_per_byte; /* each value, skipped value and subtype check costs 1 (defaults  */
                            /* 1,048,576 and 4), so decoding time and memory are linear in size */
} candid_limits;

/* The defaults above. */
void candid_limits_default(candid_limits *lim);

/* Decode a message at the expected argument types types[0..n) of env, with the spec's
 * coercions: extra arguments and record fields are decoded and dropped, a missing argument or
 * field of type null, opt or reserved reads as null, a value that does not coerce under an opt
 * reads as null, nat reads as int, a service reference as a principal, func and service
 * references are checked for subtyping. On ST_OK, *vals (n values, in arena a) holds them.
 * lim may be NULL (defaults). Statuses (err->offset = byte offset in msg):
 *   ST_CANDID_MAGIC          msg does not start with "DIDL"
 *   ST_CANDID_TRUNCATED      msg ends inside a number, type or value, or a length runs past it
 *   ST_CANDID_BAD_TYPE       malformed type table (bad opcode, index out of range, unsorted or
 *                            duplicate fields, a method that is not a func, bad annotation)
 *   ST_CANDID_BAD_VALUE      malformed value (bool not 0/1, invalid UTF-8, opt or reference
 *                            tag, variant index out of range, field id above 2^32-1, a value of
 *                            type empty)
 *   ST_CANDID_TRAILING       bytes left after the last value
 *   ST_CANDID_TYPE_MISMATCH  a value does not coerce to its expected type, a missing argument
 *                            is not optional
 *   ST_CANDID_LIMIT          depth or cost quota exceeded
 *   ST_OUT_OF_MEMORY */
status candid_decode(candid_arena *a, const candid_env *env, const candid_type *types, size_t n,
                     span msg, const candid_limits *lim, candid_value **vals, candid_error *err);

/* Decode a message at its own types, for showing a message whose type is not known: *env (a
 * new environment the caller frees with candid_env_free) receives the message's type table,
 * *types (n of them, in arena a) its argument types, *vals the values. Fields and tags have
 * only numbers (the wire has no names); future types read as reserved. Same statuses as
 * candid_decode but for ST_CANDID_TYPE_MISMATCH. */
status candid_decode_any(candid_arena *a, span msg, const candid_limits *lim, candid_env **env,
                         candid_type **types, size_t *n, candid_value **vals, candid_error *err);

/* Append the message of vals[0..n) at types[0..n) of env to out: "DIDL", a type table holding
 * the composite types reachable from types, the argument types and the values. Returns ST_OK,
 * ST_CANDID_TYPE_MISMATCH (a value's kind does not fit its type), ST_OUT_OF_MEMORY (out is
 * then unchanged in length). */
status candid_encode(const candid_env *env, const candid_type *types, size_t n,
                     const candid_value *vals, buf *out);

/* ---- textual values (spec "Values") ------------------------------------------------------- */

/* Parse an argument list such as `(42 : nat, "hi", record { a = 1; b = vec { 1; 2 } },
 * variant { ok = principal "aaaaa-aa" }, opt blob "\00\ff")` at types[0..n) of env into arena a
 * (annotations may name types of env; new anonymous types are added to env, or none if the
 * call fails). Missing trailing
 * arguments of type null, opt or reserved read as null; record fields not in the type are
 * ignored. Statuses: ST_CANDID_SYNTAX, ST_CANDID_TYPE_MISMATCH (a value does not fit its type,
 * a number out of range, too many arguments), ST_CANDID_BAD_PRINCIPAL, ST_CANDID_UNKNOWN_NAME,
 * ST_OUT_OF_MEMORY; err->offset is the byte offset in text. */
status candid_text_parse(candid_arena *a, candid_env *env, const candid_type *types, size_t n,
                         span text, candid_value **vals, candid_error *err);

/* Parse an argument list whose types are not known: each value's type is its annotation, or
 * what it looks like (a number is nat, int if negative, float64 with a '.' or exponent; a
 * vec has the type of its first item, `vec {}` is vec empty; records and variants the types of
 * their fields). *types (n of them, in arena a, new types added to env) and *vals receive the
 * result. Statuses as candid_text_parse. */
status candid_text_parse_any(candid_arena *a, candid_env *env, span text, candid_type **types,
                             size_t *n, candid_value **vals, candid_error *err);

/* Append vals[0..n) at types[0..n) as text to out, in the syntax candid_text_parse reads:
 * `(42 : nat, record { name = "x"; 1 = true })`: numbers carry their type, fields their
 * names where the type has them, a vec nat8 prints as blob "...". ST_OK, ST_OUT_OF_MEMORY. */
status candid_text_print(const candid_env *env, const candid_type *types, size_t n,
                         const candid_value *vals, buf *out);

/* ---- principals (IC interface specification, "Principals" textual form) ------------------ */

/* The textual form of a principal of len <= 29 bytes: base32 (lowercase, no padding) of
 * CRC-32 (big-endian) followed by the bytes, in groups of 5 joined by '-'. */
status candid_principal_print(const uint8_t *bytes, size_t len, buf *out);
/* Its inverse: ST_OK with *len bytes in out[0..29], or ST_CANDID_BAD_PRINCIPAL (bad character,
 * grouping, length or checksum). */
status candid_principal_parse(const char *text, size_t text_len, uint8_t out[29], size_t *len);

#endif
