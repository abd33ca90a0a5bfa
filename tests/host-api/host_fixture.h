/* host_fixture.h - shared helpers of the host-api tests: WAT text to Wasm through wabt's
 * wat2wasm (path WAT2WASM from meson), reading the example canisters (CANISTER_DIR), deploying
 * and calling with short names. Header-only (static functions); each test binary includes it. */
#ifndef TALLY_HOST_FIXTURE_H
#define TALLY_HOST_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host.h"

static char fx_tmpdir[64];

static inline void fx_read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    out->len = 0;
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_put(out, chunk, n), ST_OK);
    fclose(f);
}

/* Compiles WAT text (a whole module) with wat2wasm. */
static inline void fx_wat(const char *text, buf *wasm)
{
    char in[128], out[160], cmd[512];
    if (!fx_tmpdir[0]) {
        strcpy(fx_tmpdir, "/tmp/tally-host-XXXXXX");
        if (!mkdtemp(fx_tmpdir))
            fail_msg("mkdtemp failed");
    }
    snprintf(in, sizeof in, "%s/m.wat", fx_tmpdir);
    snprintf(out, sizeof out, "%s/m.wasm", fx_tmpdir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s --enable-all %s -o %s", WAT2WASM, in, out);
    if (system(cmd) != 0)
        fail_msg("wat2wasm failed on:\n%s", text);
    fx_read_file(out, wasm);
}

static inline void fx_cleanup(void)
{
    if (fx_tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", fx_tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", fx_tmpdir);
        fx_tmpdir[0] = '\0';
    }
}

/* A cmocka group teardown that only removes the temporary files (fx_cleanup). */
static inline int fx_teardown(void **state)
{
    (void)state;
    fx_cleanup();
    return 0;
}

/* Deploys WAT text; returns the status, *out set on ST_OK. */
static inline status fx_deploy_wat(const host_config *cfg, const char *text, host_code **out,
                                   engine_error *err)
{
    buf w = {0};
    fx_wat(text, &w);
    status st = host_code_new(cfg, span_of(w.ptr, w.len), out, err);
    buf_fini(&w);
    return st;
}

static inline host_code *fx_code_wat(const host_config *cfg, const char *text)
{
    host_code *code = NULL;
    engine_error err;
    status st = fx_deploy_wat(cfg, text, &code, &err);
    if (st != ST_OK)
        fail_msg("deploy failed: %s (%s)", status_name(st), err.detail);
    return code;
}

static inline host_code *fx_code_file(const host_config *cfg, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.wasm", CANISTER_DIR, name);
    buf w = {0};
    fx_read_file(path, &w);
    host_code *code = NULL;
    engine_error err;
    status st = host_code_new(cfg, span_of(w.ptr, w.len), &code, &err);
    buf_fini(&w);
    if (st != ST_OK)
        fail_msg("deploy of %s failed: %s (%s)", name, status_name(st), err.detail);
    return code;
}

static const uint8_t fx_caller[] = {0x01, 0x02, 0x03, 0x04, 0x05};
static const uint8_t fx_self[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x01, 0x01, 0x01};

static inline host_msg fx_msg(const char *method, const void *arg, size_t n)
{
    host_msg m = {0};
    m.method = span_of(method ? method : "", method ? strlen(method) : 0);
    m.arg = span_of(arg ? arg : "", n);
    m.caller = span_of(fx_caller, sizeof fx_caller);
    m.time = 1700000000000000000ull;
    m.instruction_limit = 5000000000ull;
    return m;
}

/* A canister with `code` installed (empty init argument); fails the test otherwise. */
static inline host_canister *fx_canister(const host_config *cfg, const host_code *code)
{
    host_canister *c = NULL;
    assert_int_equal(host_canister_new(cfg, span_of(fx_self, sizeof fx_self), &c), ST_OK);
    host_msg m = fx_msg(NULL, NULL, 0);
    host_result r;
    assert_int_equal(host_canister_install(c, code, &m, &r), ST_OK);
    if (r.st != ST_OK)
        fail_msg("install trapped: %.*s", (int)r.bytes.len, (const char *)r.bytes.ptr);
    host_result_fini(&r);
    return c;
}

/* Runs a message; asserts the call itself returned ST_OK. */
static inline host_result fx_call(host_canister *c, host_call_kind kind, const char *method,
                                  const void *arg, size_t n)
{
    host_msg m = fx_msg(method, arg, n);
    host_result r;
    status st = host_canister_call(c, kind, &m, &r);
    if (st != ST_OK)
        fail_msg("call %s: %s", method, status_name(st));
    return r;
}

static inline uint64_t fx_u64(const host_result *r)
{
    assert_int_equal(r->kind, HOST_RESPONSE_REPLY);
    assert_int_equal(r->bytes.len, 8);
    return le64_load(r->bytes.ptr);
}

/* True if the result's text (reject message) contains s. */
static inline bool fx_says(const host_result *r, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= r->bytes.len; i++)
        if (memcmp(r->bytes.ptr + i, s, n) == 0)
            return true;
    return false;
}

#endif
