/* candid.h - a tiny Candid encoder and decoder for canisters written against ic0.h, and the
 * macro that embeds a canister's interface (docs/canisters.md "Candid in C canisters").
 *
 * Candid (dfinity/candid spec/Candid.md, "Binary Format") is what IC tools send and expect:
 * `tally call ID add '(5 : nat)'` sends DIDL 00 01 7d 05, and a reply DIDL 00 01 7d 2a prints as
 * `(42 : nat)`. This header covers the few types small canisters use: null, bool, nat and int
 * (held in 64 bits), nat8..nat64, int64, text, principal, blob (vec nat8), opt, vec, record,
 * variant. It is header-only and freestanding like ic0.h.
 *
 * Interface: IC_CANDID_SERVICE(service : { get : () -> (nat) query; }); puts the text in the
 * custom section `icp:public candid:service`, as dfx does; tally reads it to type arguments and
 * replies (`tally canister ID --candid` prints it). Keep it between `// clang-format off` and
 * `// clang-format on`: the formatter would respace the tokens, and so the text.
 *
 * Writing (replies and call arguments): a writer collects the type table, the argument types
 * and the values, then ic_cw_reply sends "DIDL" ++ table ++ arguments ++ values, or
 * ic_cw_write copies it into a buffer (for ic_call):
 *
 *   uint8_t vals[64];
 *   ic_cw w;
 *   ic_cw_init(&w, vals, sizeof vals);
 *   ic_cw_arg(&w, IC_C_PRINCIPAL);  ic_cw_arg(&w, IC_C_NAT);        // the types first
 *   ic_cw_principal(&w, p, n);      ic_cw_nat(&w, 100);             // then the values
 *   ic_cw_reply(&w);
 *
 * Composite types are table entries made with ic_cw_opt / ic_cw_vec / ic_cw_record /
 * ic_cw_variant; record and variant fields must be given in increasing order of their Candid
 * hash (ic_candid_hash; the writer traps otherwise), and their values written in that order.
 * ic_reply_nat / ic_reply_nat64 / ic_reply_nat128 / ic_reply_unit / ic_reply_text /
 * ic_reply_principal cover single values.
 *
 * Reading (arguments, and replies in callbacks): ic_cr_init parses the header and type table;
 * each getter (ic_cr_nat, ic_cr_text, ...) reads the next argument, checking that its type is the
 * one asked for; ic_cr_field moves into a record argument to one field, which the next getter
 * reads. ic_cr_done checks that the message was well formed to its end (arguments not asked for
 * are skipped, as the spec says). Getters return 1, or 0 when the message does not fit (and
 * every later call returns 0): the canister then rejects. An empty message reads as no
 * arguments. Bounds: numbers above 64 bits are refused, texts are checked to be UTF-8, a vector
 * may not count more elements than there are bytes left, the type table has at most IC_CR_TYPES
 * entries, nesting stops at IC_CR_DEPTH and skipping values at IC_CR_WORK steps: time linear in
 * the message size.
 */
#ifndef TALLY_SDK_CANDID_H
#define TALLY_SDK_CANDID_H

#include "ic0.h"

/* ---- The interface, as the custom section `icp:public candid:service`: written as tokens,
 * IC_CANDID_SERVICE(service : { get : () -> (nat) query; }); at file scope. The text is the
 * tokens on one line (the preprocessor joins them; // comments are dropped); names that need
 * quotes cannot be written this way. A file-scope asm block, because clang's section attribute
 * makes data, not custom sections; wasm-ld keeps the section and no memory is used. ---- */
#define IC_CANDID_SERVICE(...)                                                                    \
    __asm__(".section \".custom_section.icp:public candid:service\",\"\",@\n"                     \
            ".ascii \"" #__VA_ARGS__ "\\n\"\n"                                                    \
            ".text\n")

/* ---- Types: primitives are negative (their opcodes), table entries are indices >= 0. ---- */
#define IC_C_NULL (-1)
#define IC_C_BOOL (-2)
#define IC_C_NAT (-3)
#define IC_C_INT (-4)
#define IC_C_NAT8 (-5)
#define IC_C_NAT16 (-6)
#define IC_C_NAT32 (-7)
#define IC_C_NAT64 (-8)
#define IC_C_INT8 (-9)
#define IC_C_INT16 (-10)
#define IC_C_INT32 (-11)
#define IC_C_INT64 (-12)
#define IC_C_FLOAT32 (-13)
#define IC_C_FLOAT64 (-14)
#define IC_C_TEXT (-15)
#define IC_C_RESERVED (-16)
#define IC_C_EMPTY (-17)
#define IC_C_OPT (-18)
#define IC_C_VEC (-19)
#define IC_C_RECORD (-20)
#define IC_C_VARIANT (-21)
#define IC_C_PRINCIPAL (-24)

/* The field id of a name (spec "Records"): h = h * 223 + byte, modulo 2^32. */
static inline uint32_t ic_candid_hash(const char *name)
{
    uint32_t h = 0;
    while (*name) {
        h = h * 223u + (uint8_t)*name++;
    }
    return h;
}

/* ---- Writer ---- */
#define IC_CW_TABLE 256u /* bytes of type table */
#define IC_CW_ARGS 16u   /* arguments per message */

typedef struct ic_cw {
    uint8_t table[IC_CW_TABLE];
    uint32_t table_len, ntypes;
    int32_t args[IC_CW_ARGS];
    uint32_t nargs;
    uint8_t *val; /* values, in the caller's buffer */
    uint32_t val_cap, val_len;
} ic_cw;

static inline void ic_cw_init(ic_cw *w, void *values, uint32_t cap)
{
    w->table_len = w->ntypes = w->nargs = w->val_len = 0;
    w->val = (uint8_t *)values;
    w->val_cap = cap;
}

static inline void ic__put(uint8_t *b, uint32_t *len, uint32_t cap, const void *src, uint32_t n)
{
    if (n > cap - *len) {
        ic_trap("candid: message larger than its buffer");
    }
    memcpy(b + *len, src, n);
    *len += n;
}

static inline uint32_t ic__leb(uint8_t out[10], uint64_t v)
{
    uint32_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static inline uint32_t ic__sleb(uint8_t out[10], int64_t v)
{
    uint32_t n = 0;
    for (;;) {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7; /* arithmetic shift on the targets clang supports */
        if ((v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40))) {
            out[n++] = b;
            return n;
        }
        out[n++] = (uint8_t)(b | 0x80);
    }
}

static inline void ic__table_leb(ic_cw *w, uint64_t v)
{
    uint8_t b[10];
    ic__put(w->table, &w->table_len, IC_CW_TABLE, b, ic__leb(b, v));
}

static inline void ic__table_sleb(ic_cw *w, int64_t v)
{
    uint8_t b[10];
    ic__put(w->table, &w->table_len, IC_CW_TABLE, b, ic__sleb(b, v));
}

/* opt t, vec t: a new table entry; returns its index. */
static inline int32_t ic_cw_opt(ic_cw *w, int32_t t)
{
    ic__table_sleb(w, IC_C_OPT);
    ic__table_sleb(w, t);
    return (int32_t)w->ntypes++;
}

static inline int32_t ic_cw_vec(ic_cw *w, int32_t t)
{
    ic__table_sleb(w, IC_C_VEC);
    ic__table_sleb(w, t);
    return (int32_t)w->ntypes++;
}

static inline int32_t ic__fields(ic_cw *w, int32_t op, uint32_t n, const char *const names[],
                                 const int32_t types[])
{
    ic__table_sleb(w, op);
    ic__table_leb(w, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = ic_candid_hash(names[i]);
        if (i > 0 && h <= ic_candid_hash(names[i - 1])) {
            ic_trap("candid: record or variant fields not in increasing hash order");
        }
        ic__table_leb(w, h);
        ic__table_sleb(w, types[i]);
    }
    return (int32_t)w->ntypes++;
}

/* record { names[i] : types[i] } and variant { ... }, fields in increasing hash order. */
static inline int32_t ic_cw_record(ic_cw *w, uint32_t n, const char *const names[],
                                   const int32_t types[])
{
    return ic__fields(w, IC_C_RECORD, n, names, types);
}

static inline int32_t ic_cw_variant(ic_cw *w, uint32_t n, const char *const names[],
                                    const int32_t types[])
{
    return ic__fields(w, IC_C_VARIANT, n, names, types);
}

/* The next argument's type. */
static inline void ic_cw_arg(ic_cw *w, int32_t t)
{
    if (w->nargs == IC_CW_ARGS) {
        ic_trap("candid: too many arguments");
    }
    w->args[w->nargs++] = t;
}

/* Values, in argument order (record fields in hash order). */
static inline void ic_cw_bytes(ic_cw *w, const void *p, uint32_t n)
{
    ic__put(w->val, &w->val_len, w->val_cap, p, n);
}

static inline void ic_cw_nat(ic_cw *w, uint64_t v)
{
    uint8_t b[10];
    ic_cw_bytes(w, b, ic__leb(b, v));
}

static inline void ic_cw_int(ic_cw *w, int64_t v)
{
    uint8_t b[10];
    ic_cw_bytes(w, b, ic__sleb(b, v));
}

/* A nat of up to 128 bits (a cycle amount). */
static inline void ic_cw_nat128(ic_cw *w, ic_cycles v)
{
    uint8_t b[19];
    uint32_t n = 0;
    do {
        uint8_t x = v.lo & 0x7f;
        v.lo = v.lo >> 7 | v.hi << 57;
        v.hi >>= 7;
        b[n++] = (uint8_t)(x | (v.lo || v.hi ? 0x80 : 0));
    } while (v.lo || v.hi);
    ic_cw_bytes(w, b, n);
}

static inline void ic_cw_nat64(ic_cw *w, uint64_t v)
{
    uint8_t b[8];
    ic_store_u64le(b, v);
    ic_cw_bytes(w, b, 8);
}

static inline void ic_cw_bool(ic_cw *w, int v)
{
    uint8_t b = v ? 1 : 0;
    ic_cw_bytes(w, &b, 1);
}

/* A vector's length (then its elements), an opt's tag (0: null; 1: then the value), a variant's
 * case (its index in hash order, then its value). */
static inline void ic_cw_count(ic_cw *w, uint64_t n)
{
    ic_cw_nat(w, n);
}

/* text (UTF-8) and blob (vec nat8) values: length and bytes. */
static inline void ic_cw_text(ic_cw *w, const void *p, uint32_t n)
{
    ic_cw_nat(w, n);
    ic_cw_bytes(w, p, n);
}

static inline void ic_cw_principal(ic_cw *w, const void *p, uint32_t n)
{
    uint8_t one = 1;
    ic_cw_bytes(w, &one, 1);
    ic_cw_text(w, p, n);
}

/* Writes "DIDL", the type table and the argument types to out; returns the length so far. */
static inline uint32_t ic__head(const ic_cw *w, uint8_t *out, uint32_t *len, uint32_t cap)
{
    uint8_t b[10];
    ic__put(out, len, cap, "DIDL", 4);
    ic__put(out, len, cap, b, ic__leb(b, w->ntypes));
    ic__put(out, len, cap, w->table, w->table_len);
    ic__put(out, len, cap, b, ic__leb(b, w->nargs));
    for (uint32_t i = 0; i < w->nargs; i++) {
        ic__put(out, len, cap, b, ic__sleb(b, w->args[i]));
    }
    return *len;
}

/* Copies the message into out (capacity cap; traps if it does not fit); returns its size. */
static inline uint32_t ic_cw_write(const ic_cw *w, void *out, uint32_t cap)
{
    uint32_t len = 0;
    ic__head(w, (uint8_t *)out, &len, cap);
    ic__put((uint8_t *)out, &len, cap, w->val, w->val_len);
    return len;
}

/* Replies with the message. */
static inline void ic_cw_reply(const ic_cw *w)
{
    uint8_t head[IC_CW_TABLE + 16 + 10 * IC_CW_ARGS];
    uint32_t len = 0;
    ic0_msg_reply_data_append(head, ic__head(w, head, &len, sizeof head));
    ic0_msg_reply_data_append(w->val, w->val_len);
    ic0_msg_reply();
}

/* Replies (), (n : nat), (n : nat64), (n : nat) of up to 128 bits (a cycle amount:
 * ic_reply_nat128(ic_balance())), ("text"), (principal "..."). */
static inline void ic_reply_unit(void)
{
    ic_reply_bytes("DIDL\0\0", 6);
}

static inline void ic_reply_nat(uint64_t n)
{
    uint8_t v[10];
    ic_cw w;
    ic_cw_init(&w, v, sizeof v);
    ic_cw_arg(&w, IC_C_NAT);
    ic_cw_nat(&w, n);
    ic_cw_reply(&w);
}

static inline void ic_reply_nat64(uint64_t n)
{
    uint8_t v[8];
    ic_cw w;
    ic_cw_init(&w, v, sizeof v);
    ic_cw_arg(&w, IC_C_NAT64);
    ic_cw_nat64(&w, n);
    ic_cw_reply(&w);
}

static inline void ic_reply_nat128(ic_cycles n)
{
    uint8_t v[19];
    ic_cw w;
    ic_cw_init(&w, v, sizeof v);
    ic_cw_arg(&w, IC_C_NAT);
    ic_cw_nat128(&w, n);
    ic_cw_reply(&w);
}

static inline void ic_reply_text(const void *p, uint32_t n)
{
    ic0_msg_reply_data_append("DIDL\0\1\x71", 7);
    uint8_t b[10];
    ic0_msg_reply_data_append(b, ic__leb(b, n));
    ic_reply_bytes(p, n);
}

static inline void ic_reply_principal(const void *p, uint32_t n)
{
    uint8_t v[40];
    ic_cw w;
    ic_cw_init(&w, v, sizeof v);
    ic_cw_arg(&w, IC_C_PRINCIPAL);
    ic_cw_principal(&w, p, n);
    ic_cw_reply(&w);
}

/* ---- Reader ---- */
#define IC_CR_DEPTH 32 /* nesting of values */
#define IC_CR_TYPES 64 /* type table entries */

/* Work allowed to skip values (one unit per value and per record field visited): a multiple of
 * the message size, so that a small message that describes many values (a vector of empty
 * records with many null fields) cannot cost more than linear time. */
#define IC_CR_WORK(bytes) (8u * (bytes) + 1024u)

typedef struct ic_cr {
    const uint8_t *p, *end;      /* the next value */
    const uint8_t *table;        /* the first type table entry */
    uint32_t ntypes;             /* table entries */
    uint32_t entry[IC_CR_TYPES]; /* where each entry starts, from table */
    uint32_t work;               /* left of IC_CR_WORK */
    const uint8_t *argt;         /* the next argument's type in the argument list */
    uint32_t nargs, arg;         /* arguments, and how many were taken */
    int64_t field_type;          /* ic_cr_field: the type of the field to read next */
    const uint8_t *rest;         /* ic_cr_field: the record's remaining fields in the table */
    uint32_t rest_n, in_rec;     /* how many; whether a field is pending */
    int ok;
} ic_cr;

static inline int ic__fail(ic_cr *r)
{
    r->ok = 0;
    return 0;
}

/* LEB128 from p (bounded by end) into *v (at most 64 bits). */
static inline int ic__rleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (uint32_t shift = 0; *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && (b & 0x7e)) {
            return 0;
        }
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
        if (shift == 63) {
            return 0;
        }
    }
    return 0;
}

static inline int ic__rsleb(const uint8_t **p, const uint8_t *end, int64_t *v)
{
    int64_t x = 0;
    uint32_t shift = 0;
    for (; *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && b != 0 && b != 0x7f) {
            return 0;
        }
        x |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        if (!(b & 0x80)) {
            if (shift + 7 < 64 && (b & 0x40)) {
                x |= (int64_t)(~(uint64_t)0 << (shift + 7));
            }
            *v = x;
            return 1;
        }
        if (shift == 63) {
            return 0;
        }
    }
    return 0;
}

/* Reads one type reference: a primitive or a table index. */
static inline int ic__rtype(ic_cr *r, const uint8_t **p, int64_t *t)
{
    int64_t x = 0;
    if (!ic__rsleb(p, r->end, &x) || (x >= 0 && (uint64_t)x >= r->ntypes) ||
        (x < IC_C_EMPTY && x != IC_C_PRINCIPAL)) {
        return 0;
    }
    *t = x;
    return 1;
}

/* Skips one type table entry starting at *p. */
static inline int ic__skip_entry(ic_cr *r, const uint8_t **p)
{
    int64_t op = 0, t = 0;
    uint64_t n = 0, id = 0;
    if (!ic__rsleb(p, r->end, &op)) {
        return 0;
    }
    switch (op) {
    case IC_C_OPT:
    case IC_C_VEC: return ic__rtype(r, p, &t);
    case IC_C_RECORD:
    case IC_C_VARIANT:
        if (!ic__rleb(p, r->end, &n) || n > (uint64_t)(r->end - *p)) {
            return 0;
        }
        for (uint64_t i = 0, prev = 0; i < n; i++, prev = id) {
            /* field ids below 2^32, strictly increasing (spec "Types") */
            if (!ic__rleb(p, r->end, &id) || id > 0xffffffffu || (i > 0 && id <= prev) ||
                !ic__rtype(r, p, &t)) {
                return 0;
            }
        }
        return 1;
    default: /* func, service and future types: not for this reader */ return 0;
    }
}

/* The table entry of type index t: its opcode and what follows it. */
static inline const uint8_t *ic__entry(ic_cr *r, int64_t t, int64_t *op)
{
    const uint8_t *p = r->table + r->entry[t]; /* t < ntypes: checked by ic__rtype */
    ic__rsleb(&p, r->end, op);
    return p;
}

static inline int ic__need(ic_cr *r, uint64_t n)
{
    return n <= (uint64_t)(r->end - r->p);
}

/* Skips one value of type t. */
static inline int ic__skip(ic_cr *r, int64_t t, int depth)
{
    static const uint8_t width[] = {0, 0, 1, 0, 0, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8};
    uint64_t n = 0;
    int64_t x = 0, op = 0, ft = 0;
    if (depth > IC_CR_DEPTH || r->work == 0) {
        return 0;
    }
    r->work--;
    if (t == IC_C_NAT) {
        return ic__rleb(&r->p, r->end, &n);
    }
    if (t == IC_C_INT) {
        return ic__rsleb(&r->p, r->end, &x);
    }
    if (t == IC_C_TEXT || t == IC_C_PRINCIPAL) {
        if (t == IC_C_PRINCIPAL && (!ic__need(r, 1) || *r->p++ != 1)) {
            return 0;
        }
        if (!ic__rleb(&r->p, r->end, &n) || !ic__need(r, n)) {
            return 0;
        }
        r->p += n;
        return 1;
    }
    if (t == IC_C_EMPTY) {
        return 0;
    }
    if (t < 0) {
        n = t == IC_C_RESERVED ? 0 : width[-t];
        if (!ic__need(r, n)) {
            return 0;
        }
        r->p += n;
        return 1;
    }
    const uint8_t *e = ic__entry(r, t, &op);
    if (op == IC_C_OPT || op == IC_C_VEC) {
        ic__rtype(r, &e, &ft);
        if (!ic__rleb(&r->p, r->end, &n) || (op == IC_C_OPT && n > 1) || !ic__need(r, n)) {
            return 0;
        }
        for (uint64_t i = 0; i < n; i++) {
            if (!ic__skip(r, ft, depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    uint64_t nf = 0, id = 0, pick = 0;
    ic__rleb(&e, r->end, &nf);
    if (op == IC_C_VARIANT && (!ic__rleb(&r->p, r->end, &pick) || pick >= nf)) {
        return 0;
    }
    for (uint64_t i = 0; i < nf; i++) {
        if (r->work == 0) {
            return 0;
        }
        r->work--;
        ic__rleb(&e, r->end, &id);
        ic__rtype(r, &e, &ft);
        if ((op == IC_C_RECORD || i == pick) && !ic__skip(r, ft, depth + 1)) {
            return 0;
        }
    }
    return 1;
}

/* Parses the header and type table of msg[0..n) (which must stay in place while reading). */
static inline int ic_cr_init(ic_cr *r, const void *msg, uint32_t n)
{
    uint64_t nt = 0, na = 0;
    int64_t t = 0;
    r->p = (const uint8_t *)msg;
    r->end = r->p + n;
    r->ntypes = r->nargs = r->arg = r->in_rec = 0;
    r->work = IC_CR_WORK(n);
    r->ok = 1;
    r->argt = r->table = r->p;
    if (n == 0) {
        return 1;
    }
    if (n < 4 || memcmp(r->p, "DIDL", 4) != 0) {
        return ic__fail(r);
    }
    r->p += 4;
    if (!ic__rleb(&r->p, r->end, &nt) || nt > IC_CR_TYPES) {
        return ic__fail(r);
    }
    r->ntypes = (uint32_t)nt;
    r->table = r->p;
    for (uint64_t i = 0; i < nt; i++) {
        r->entry[i] = (uint32_t)(r->p - r->table);
        if (!ic__skip_entry(r, &r->p)) {
            return ic__fail(r);
        }
    }
    if (!ic__rleb(&r->p, r->end, &na) || na > (uint64_t)(r->end - r->p)) {
        return ic__fail(r);
    }
    r->nargs = (uint32_t)na;
    r->argt = r->p;
    for (uint64_t i = 0; i < na; i++) {
        if (!ic__rtype(r, &r->p, &t)) {
            return ic__fail(r);
        }
    }
    return 1;
}

/* Copies the message's argument into buf (capacity cap) and starts reading it; 0 if it is larger
 * or malformed. */
static inline int ic_cr_arg(ic_cr *r, void *buf, uint32_t cap)
{
    uint32_t n = ic0_msg_arg_data_size();
    if (n > cap) {
        r->ok = 0;
        return 0;
    }
    ic0_msg_arg_data_copy(buf, 0, n);
    return ic_cr_init(r, buf, n);
}

/* Whether another argument is left to read. */
static inline int ic_cr_more(const ic_cr *r)
{
    return r->ok && (r->in_rec || r->arg < r->nargs);
}

/* The type of the next value: a pending record field, else the next argument. */
static inline int ic__next(ic_cr *r, int64_t *t)
{
    if (!r->ok) {
        return 0;
    }
    if (r->in_rec) {
        *t = r->field_type;
        return 1;
    }
    if (r->arg == r->nargs) {
        return ic__fail(r);
    }
    r->arg++;
    return ic__rtype(r, &r->argt, t) ? 1 : ic__fail(r);
}

/* After the value of a pending field: skips the record's remaining fields. */
static inline int ic__done_value(ic_cr *r)
{
    uint64_t id = 0;
    int64_t t = 0;
    if (r->in_rec) {
        r->in_rec = 0;
        for (uint32_t i = 0; i < r->rest_n; i++) {
            ic__rleb(&r->rest, r->end, &id);
            ic__rtype(r, &r->rest, &t);
            if (!ic__skip(r, t, 1)) {
                return ic__fail(r);
            }
        }
    }
    return 1;
}

/* Enters the next argument, a record, at its field `name`: the next getter reads that field's
 * value (fields before it are skipped, those after it once it is read); 0 if the argument is
 * not a record with that field. */
static inline int ic_cr_field(ic_cr *r, const char *name)
{
    int64_t t = 0, op = 0, ft = 0;
    uint64_t nf = 0, id = 0;
    uint32_t want = ic_candid_hash(name);
    if (r->in_rec || !ic__next(r, &t) || t < 0) {
        return ic__fail(r);
    }
    const uint8_t *e = ic__entry(r, t, &op);
    if (op != IC_C_RECORD) {
        return ic__fail(r);
    }
    ic__rleb(&e, r->end, &nf);
    for (uint64_t i = 0; i < nf; i++) {
        ic__rleb(&e, r->end, &id);
        ic__rtype(r, &e, &ft);
        if (id == want) {
            r->field_type = ft;
            r->rest = e;
            r->rest_n = (uint32_t)(nf - i - 1);
            r->in_rec = 1;
            return 1;
        }
        if (!ic__skip(r, ft, 1)) {
            return ic__fail(r);
        }
    }
    return ic__fail(r);
}

/* The next value, which must be of primitive type `want`. */
static inline int ic__prim(ic_cr *r, int64_t want)
{
    int64_t t = 0;
    if (!ic__next(r, &t) || t != want) {
        return ic__fail(r);
    }
    return 1;
}

static inline int ic__end_value(ic_cr *r, int ok)
{
    if (!ok) {
        return ic__fail(r);
    }
    return ic__done_value(r);
}

static inline int ic_cr_nat(ic_cr *r, uint64_t *v)
{
    return ic__prim(r, IC_C_NAT) && ic__end_value(r, ic__rleb(&r->p, r->end, v));
}

static inline int ic_cr_int(ic_cr *r, int64_t *v)
{
    return ic__prim(r, IC_C_INT) && ic__end_value(r, ic__rsleb(&r->p, r->end, v));
}

static inline int ic_cr_nat64(ic_cr *r, uint64_t *v)
{
    if (!ic__prim(r, IC_C_NAT64) || !ic__need(r, 8)) {
        return ic__fail(r);
    }
    *v = ic_load_u64le(r->p);
    r->p += 8;
    return ic__done_value(r);
}

static inline int ic_cr_bool(ic_cr *r, int *v)
{
    if (!ic__prim(r, IC_C_BOOL) || !ic__need(r, 1) || *r->p > 1) {
        return ic__fail(r);
    }
    *v = *r->p++;
    return ic__done_value(r);
}

/* Whether s[0..n) is UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). */
static inline int ic_utf8_valid(const uint8_t *s, uint64_t n)
{
    for (uint64_t i = 0; i < n;) {
        uint8_t c = s[i];
        uint32_t k = c < 0x80                ? 0
                     : c >= 0xc2 && c < 0xe0 ? 1
                     : (c & 0xf0) == 0xe0    ? 2
                     : c >= 0xf0 && c < 0xf5 ? 3
                                             : 9;
        if (k == 9 || k >= n - i) {
            return 0;
        }
        uint32_t cp = k ? c & (0x3f >> k) : c;
        for (uint32_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return 0;
            }
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            return 0;
        }
        i += k + 1;
    }
    return 1;
}

/* text, principal and blob values: *s points into the message, *n is the length. */
static inline int ic__lenbytes(ic_cr *r, const uint8_t **s, uint32_t *n, int utf8)
{
    uint64_t len = 0;
    if (!ic__rleb(&r->p, r->end, &len) || !ic__need(r, len) ||
        (utf8 && !ic_utf8_valid(r->p, len))) {
        return ic__fail(r);
    }
    *s = r->p;
    *n = (uint32_t)len;
    r->p += len;
    return ic__done_value(r);
}

static inline int ic_cr_text(ic_cr *r, const uint8_t **s, uint32_t *n)
{
    return ic__prim(r, IC_C_TEXT) && ic__lenbytes(r, s, n, 1);
}

static inline int ic_cr_principal(ic_cr *r, const uint8_t **s, uint32_t *n)
{
    if (!ic__prim(r, IC_C_PRINCIPAL) || !ic__need(r, 1) || *r->p++ != 1) {
        return ic__fail(r);
    }
    return ic__lenbytes(r, s, n, 0) && (*n <= 29 || ic__fail(r));
}

static inline int ic_cr_blob(ic_cr *r, const uint8_t **s, uint32_t *n)
{
    int64_t t = 0, op = 0, elem = 0;
    if (!ic__next(r, &t) || t < 0) {
        return ic__fail(r);
    }
    const uint8_t *e = ic__entry(r, t, &op);
    if (op != IC_C_VEC || !ic__rtype(r, &e, &elem) || elem != IC_C_NAT8) {
        return ic__fail(r);
    }
    return ic__lenbytes(r, s, n, 0);
}

/* The message is well formed to its end: the arguments not read are skipped. */
static inline int ic_cr_done(ic_cr *r)
{
    int64_t t = 0;
    if (!r->ok || r->in_rec) {
        return ic__fail(r);
    }
    while (r->arg < r->nargs) {
        if (!ic__next(r, &t) || !ic__skip(r, t, 0)) {
            return ic__fail(r);
        }
    }
    return r->p == r->end ? 1 : ic__fail(r);
}

#endif /* TALLY_SDK_CANDID_H */
