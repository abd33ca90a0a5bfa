/* candid_cli.c - Candid for the client commands and the JSON-RPC server (docs/cli.md "Candid",
 * docs/rpc.md): a canister's interface from its module's `candid:service` custom section or a
 * .did file, arguments written as Candid text, replies shown as Candid text.
 *
 * The library is candid/ (candid.h); this file only decides where the types come from: the
 * method's parameters and results in the interface when there is one (so replies show field
 * names), else the types the argument text shows and the reply's own wire types. */
#include "rpc.h"
#include "candid.h"

#include <string.h>

/* The names dfx and the IC use for the interface section of a module. */
static const char *const sections[] = {"icp:public candid:service", "icp:private candid:service"};

/* An unsigned LEB128 u32 at *p (Wasm binary format), advancing; false if malformed. */
static bool leb_u32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        if (*p == end)
            return false;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return x <= UINT32_MAX ? (*out = (uint32_t)x, true) : false;
    }
    return false;
}

bool cli_wasm_candid(span wasm, span *did)
{
    if (wasm.len < 8 || memcmp(wasm.ptr, "\0asm", 4) != 0)
        return false;
    const uint8_t *p = wasm.ptr + 8, *end = wasm.ptr + wasm.len;
    while (p < end) {
        uint8_t id = *p++;
        uint32_t size, nlen;
        if (!leb_u32(&p, end, &size) || size > (size_t)(end - p))
            return false;
        const uint8_t *next = p + size;
        if (id == 0 && leb_u32(&p, next, &nlen) && nlen <= (size_t)(next - p)) {
            for (size_t i = 0; i < BASE_ARRAY_LEN(sections); i++)
                if (strlen(sections[i]) == nlen && memcmp(p, sections[i], nlen) == 0) {
                    *did = span_of(p + nlen, (size_t)(next - p - nlen));
                    return true;
                }
        }
        p = next;
    }
    return false;
}

/* The parameter (want_args) or result types of `method` (NULL: the init arguments) in did. */
static status method_types(candid_env *env, span did, const char *method, bool want_args,
                           candid_type *types, size_t cap, size_t *n, char *why, size_t whylen)
{
    candid_error err = {0, ""};
    status st = candid_did_parse(env, did, &err);
    if (st != ST_OK) {
        snprintf(why, whylen, "the interface does not parse: %s at byte %zu",
                 err.what ? err.what : status_message(st), err.offset);
        return st;
    }
    const candid_field *f = NULL;
    size_t nf = 0;
    candid_type svc, fn;
    if (!method) {
        candid_env_init_args(env, &f, &nf);
    } else if (!candid_env_service(env, &svc) ||
               candid_service_method(env, svc, method, strlen(method), &fn) != ST_OK) {
        snprintf(why, whylen, "the interface has no method '%s'", method);
        return ST_CANDID_UNKNOWN_NAME;
    } else {
        const candid_field *args, *rets;
        size_t na, nr;
        unsigned anns;
        candid_type_func(env, fn, &args, &na, &rets, &nr, &anns);
        f = want_args ? args : rets;
        nf = want_args ? na : nr;
    }
    if (nf > cap) {
        snprintf(why, whylen, "more than %zu arguments", cap);
        return ST_CANDID_LIMIT;
    }
    for (size_t i = 0; i < nf; i++)
        types[i] = f[i].type;
    *n = nf;
    return ST_OK;
}

enum { MAX_ARGS = 64 };

status cli_candid_args(span did, const char *method, const char *text, buf *out, char *why,
                       size_t whylen)
{
    candid_env *env = candid_env_new();
    candid_arena *a = candid_arena_new();
    candid_type types[MAX_ARGS], *tp = types;
    candid_value *vals;
    candid_error err = {0, ""};
    size_t n = 0;
    status st = env && a ? ST_OK : ST_OUT_OF_MEMORY;
    snprintf(why, whylen, "%s", "out of memory");
    if (st == ST_OK && did.len)
        st = method_types(env, did, method, true, types, MAX_ARGS, &n, why, whylen);
    if (st == ST_OK) {
        span t = span_of(text, strlen(text));
        st = did.len ? candid_text_parse(a, env, types, n, t, &vals, &err)
                     : candid_text_parse_any(a, env, t, &tp, &n, &vals, &err);
        if (st != ST_OK)
            snprintf(why, whylen, "%s at byte %zu of the Candid argument", err.what, err.offset);
    }
    if (st == ST_OK)
        st = candid_encode(env, tp, n, vals, out);
    candid_arena_free(a);
    candid_env_free(env);
    return st;
}

bool cli_is_candid(span reply)
{
    return reply.len >= 4 && memcmp(reply.ptr, "DIDL", 4) == 0;
}

status cli_candid_reply(span did, const char *method, span reply, buf *out)
{
    candid_env *env = candid_env_new(), *wire = NULL;
    candid_arena *a = candid_arena_new();
    candid_type types[MAX_ARGS], *tp = types;
    candid_value *vals;
    size_t n = 0;
    char why[160];
    status st = env && a ? ST_OK : ST_OUT_OF_MEMORY;
    /* typed by the interface's results when it has the method, else by the wire types */
    bool typed =
        st == ST_OK && did.len && method &&
        method_types(env, did, method, false, types, MAX_ARGS, &n, why, sizeof why) == ST_OK;
    if (st == ST_OK && typed)
        st = candid_decode(a, env, types, n, reply, NULL, &vals, NULL);
    if (st == ST_OK && !typed)
        st = candid_decode_any(a, reply, NULL, &wire, &tp, &n, &vals, NULL);
    if (st == ST_OK)
        st = candid_text_print(wire ? wire : env, tp, n, vals, out);
    candid_env_free(wire);
    candid_arena_free(a);
    candid_env_free(env);
    return st;
}
