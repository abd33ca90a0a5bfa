/* candid_util.h - Candid in the cmocka tests of the example canisters (tests/canisters speak
 * Candid, docs/canisters.md): arguments written as Candid text and replies compared with Candid
 * text, both through the candid/ library. Header-only; the including binary depends on
 * candid_dep. Include after <cmocka.h>. */
#ifndef TALLY_CANDID_UTIL_H
#define TALLY_CANDID_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "candid.h"

/* Sets *out to the Candid message of the text (printf format), typed as the text shows
 * (`(5 : nat)`, `(principal "aaaaa-aa", 7 : nat)`); fails the test if it does not parse. */
static inline void candid_args(buf *out, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    candid_arena *a = candid_arena_new();
    candid_env *env = candid_env_new();
    candid_type *types;
    candid_value *vals;
    size_t n;
    candid_error err = {0, ""};
    assert_non_null(a);
    assert_non_null(env);
    out->len = 0;
    if (candid_text_parse_any(a, env, span_of(text, strlen(text)), &types, &n, &vals, &err) !=
        ST_OK)
        fail_msg("candid text %s: %s at byte %zu", text, err.what, err.offset);
    assert_int_equal(candid_encode(env, types, n, vals, out), ST_OK);
    candid_arena_free(a);
    candid_env_free(env);
}

/* Whether msg is the Candid message of the text: both canonical, so the bytes are compared;
 * on a difference, prints both (the reply as the candid/ library reads it). */
static inline bool candid_is(span msg, const char *text)
{
    buf want = {0}, got = {0};
    candid_args(&want, "%s", text);
    bool same = want.len == msg.len && memcmp(want.ptr, msg.ptr, msg.len) == 0;
    if (!same) {
        candid_arena *a = candid_arena_new();
        candid_env *env = NULL;
        candid_type *types;
        candid_value *vals;
        size_t n;
        if (candid_decode_any(a, msg, NULL, &env, &types, &n, &vals, NULL) == ST_OK &&
            candid_text_print(env, types, n, vals, &got) == ST_OK)
            print_message("reply %.*s, want %s\n", (int)got.len, (const char *)got.ptr, text);
        else
            print_message("reply of %zu bytes is not Candid, want %s\n", msg.len, text);
        candid_env_free(env);
        candid_arena_free(a);
    }
    buf_fini(&want);
    buf_fini(&got);
    return same;
}

/* The textual principal of a tally canister id (8 bytes big-endian, then 0x01 0x01) into
 * out[64]. */
static inline const char *candid_canister_text(uint64_t id, char out[64])
{
    uint8_t b[10];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(id >> (56 - 8 * i));
    b[8] = b[9] = 1;
    buf t = {0};
    assert_int_equal(candid_principal_print(b, sizeof b, &t), ST_OK);
    snprintf(out, 64, "%.*s", (int)t.len, (const char *)t.ptr);
    buf_fini(&t);
    return out;
}

#endif
