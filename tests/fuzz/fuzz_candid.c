/* fuzz_candid.c - libFuzzer harness: Candid decoding, encoding and text on arbitrary bytes.
 *
 * Properties: candid_decode never crashes, leaks or reads out of bounds (ASan, UBSan) and
 * rejects with an INVALID status (or out of memory), with an offset inside the input; a decoded
 * value re-encodes, and decode(encode(v)) == v; printing is stable (print(parse(print(v))) is
 * print(v)); candid_text_parse and candid_did_parse on the same bytes as text never crash.
 * Inputs are decoded at two fixed type lists that use every kind of type, one recursive.
 * Seeds: tests/fuzz/corpus/candid (the blobs of the Candid test suite and encoded values). */
#include "fuzz.h"

#include <string.h>

#include "candid.h"

static const char did[] =
    "type List = opt record { head : int; tail : List };\n"
    "type T = variant { a : nat; b : text; c : vec record { nat64; text }; d : List;\n"
    "  e : opt opt bool; f : record { x : float64; y : float32; z : principal };\n"
    "  g : func (nat) -> (text) query; h : service { m : (nat) -> () }; i : blob; j : reserved;\n"
    "  k : int8; l : int16; m : int32; n : nat8; o : nat16; p : nat32; q : int64; r : null;\n"
    "  s : int; t : vec T; u : record { 1 : bool; 5 : opt text } };\n";
static const char *const lists[] = {"(T, opt List, vec nat8)", "(vec T, int, opt T)"};

static void round_trip(candid_env *env, const candid_type *t, size_t n, const candid_value *v)
{
    buf bin = {0}, text = {0}, text2 = {0};
    candid_arena *a = candid_arena_new();
    candid_value *v2, *v3;
    candid_error err;
    status st = a ? candid_encode(env, t, n, v, &bin) : ST_OUT_OF_MEMORY;
    FUZZ_CHECK(st == ST_OK || st == ST_OUT_OF_MEMORY);
    if (st == ST_OK) {
        candid_limits lim;
        candid_limits_default(&lim);
        lim.max_depth = 1000; /* an encoding may be denser than the input it came from */
        lim.cost_base = UINT64_MAX / 2;
        st = candid_decode(a, env, t, n, span_of(bin.ptr, bin.len), &lim, &v2, &err);
        FUZZ_CHECK(st == ST_OK || st == ST_OUT_OF_MEMORY);
        for (size_t i = 0; st == ST_OK && i < n; i++)
            FUZZ_CHECK(candid_value_eq(&v[i], &v2[i]));
    }
    if (a && candid_text_print(env, t, n, v, &text) == ST_OK) {
        st = candid_text_parse(a, env, t, n, span_of(text.ptr, text.len), &v3, &err);
        if (st != ST_OK && st != ST_OUT_OF_MEMORY && st != ST_CANDID_LIMIT)
            fprintf(stderr, "does not parse back: %.*s\n", (int)text.len, (const char *)text.ptr);
        FUZZ_CHECK(st == ST_OK || st == ST_OUT_OF_MEMORY || st == ST_CANDID_LIMIT);
        if (st == ST_OK && candid_text_print(env, t, n, v3, &text2) == ST_OK)
            FUZZ_CHECK(text2.len == text.len && memcmp(text.ptr, text2.ptr, text.len) == 0);
    }
    buf_fini(&bin);
    buf_fini(&text);
    buf_fini(&text2);
    candid_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    candid_env *env = candid_env_new();
    FUZZ_CHECK(env != NULL);
    candid_error err = {0, NULL};
    FUZZ_CHECK(candid_did_parse(env, span_of(did, strlen(did)), &err) == ST_OK);
    for (size_t k = 0; k < BASE_ARRAY_LEN(lists); k++) {
        candid_type t[4];
        size_t n;
        FUZZ_CHECK(candid_types_parse(env, span_of(lists[k], strlen(lists[k])), t, 4, &n, &err) ==
                   ST_OK);
        candid_arena *a = candid_arena_new();
        FUZZ_CHECK(a != NULL);
        candid_value *v = NULL;
        err.offset = 0;
        status st = candid_decode(a, env, t, n, span_of(data, size), NULL, &v, &err);
        FUZZ_CHECK(fuzz_status_rejects(st));
        if (st == ST_OK)
            round_trip(env, t, n, v);
        else
            FUZZ_CHECK(err.offset <= size);
        /* the same bytes as a textual value and as a service description */
        st = candid_text_parse(a, env, t, n, span_of(data, size), &v, &err);
        FUZZ_CHECK(fuzz_status_rejects(st));
        if (st == ST_OK)
            round_trip(env, t, n, v);
        candid_arena_free(a);
    }
    candid_env *env2 = candid_env_new();
    FUZZ_CHECK(env2 != NULL);
    FUZZ_CHECK(fuzz_status_rejects(candid_did_parse(env2, span_of(data, size), &err)));
    candid_env_free(env2);
    candid_env_free(env);
    return 0;
}
