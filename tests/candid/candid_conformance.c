/* candid_conformance.c - runs the official Candid test suite (*.test.did, format: the suite's
 * FORMAT.md) against candid/: every `assert` of every file in the given directory.
 *
 *   candid_conformance DIR [KNOWN_FAILURES [COUNT]]
 *
 * `assert IN : (T)` must decode (blob input) or parse (text input) at (T); `!:` must fail;
 * `IN == IN2 : (T)` must both succeed with equal values, `!=` with different ones. Exits 1 if
 * DIR is missing or holds no test files, or if any assertion fails that KNOWN_FAILURES (lines
 * "FILE:LINE reason") does not list; a listed assertion that passes is also a failure, so the
 * list cannot go stale; and if COUNT is given, unless exactly COUNT assertions ran (so that none
 * is silently skipped). Prints every failure and the score "N/M assertions passed".
 *
 * The suite's README counts 471 lines starting with `assert`; 4 of them (subtypes.test.did
 * lines 15-24) are examples with placeholders inside the file's opening comment, so 467 run. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candid.h"

typedef struct input {
    bool blob;
    const char *lit; /* the string literal, quotes included */
    size_t len;
} input;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) {
        s[n] = 0;
        *len = (size_t)n;
    }
    return s;
}

/* End of the string literal starting at s[i] == '"' (index after the closing quote). */
static size_t literal_end(const char *s, size_t i, size_t n)
{
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i < n ? i + 1 : n;
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* The bytes of an input literal: parsed as the Candid value `(blob "...")` or `("...")`. */
static status input_bytes(const input *in, candid_arena *a, span *out)
{
    candid_env *env = candid_env_new();
    char text[64 * 1024];
    candid_type t;
    size_t n;
    candid_value *v;
    status st = ST_OUT_OF_MEMORY;
    if (!env || in->len + 16 > sizeof text)
        goto out;
    snprintf(text, sizeof text, "(%s%.*s)", in->blob ? "blob " : "", (int)in->len, in->lit);
    const char *ty = in->blob ? "(blob)" : "(text)";
    st = candid_types_parse(env, span_of(ty, strlen(ty)), &t, 1, &n, NULL);
    if (st == ST_OK)
        st = candid_text_parse(a, env, &t, 1, span_of(text, strlen(text)), &v, NULL);
    if (st == ST_OK)
        *out = span_of(v->as.bytes, v->n);
out:
    candid_env_free(env);
    return st;
}

/* Decode or parse an input at types; *why gets the failure. */
static status run_input(const input *in, candid_env *env, const candid_type *types, size_t n,
                        candid_arena *a, candid_value **vals, char *why, size_t whylen)
{
    span bytes;
    candid_error err = {0, ""};
    status st = input_bytes(in, a, &bytes);
    if (st != ST_OK) {
        snprintf(why, whylen, "cannot read the input literal: %s", status_name(st));
        return st;
    }
    if (in->blob)
        st = candid_decode(a, env, types, n, bytes, NULL, vals, &err);
    else
        st = candid_text_parse(a, env, types, n, bytes, vals, &err);
    if (st != ST_OK)
        snprintf(why, whylen, "%s at offset %zu: %s", status_name(st), err.offset,
                 err.what ? err.what : "");
    else
        snprintf(why, whylen, "accepted");
    return st;
}

static size_t read_input(const char *s, size_t i, size_t n, input *in)
{
    i = skip_ws(s, i, n);
    in->blob = n - i > 4 && memcmp(s + i, "blob", 4) == 0;
    if (in->blob)
        i = skip_ws(s, i + 4, n);
    if (i >= n || s[i] != '"')
        return 0;
    size_t e = literal_end(s, i, n);
    in->lit = s + i;
    in->len = e - i;
    return e;
}

typedef struct suite {
    int passed, failed, known, stale, total;
    const char *known_list;
} suite;

static bool is_known(const suite *su, const char *file, int line)
{
    char key[256];
    snprintf(key, sizeof key, "%s:%d ", file, line);
    const char *k = su->known_list;
    for (const char *p = k ? strstr(k, key) : NULL; p; p = strstr(p + 1, key))
        if (p == k || p[-1] == '\n')
            return true;
    return false;
}

/* One assert statement s[0..n) (without "assert"). Returns true if it holds. */
static bool run_assert(candid_env *env, const char *s, size_t n, char *why, size_t whylen)
{
    input in1, in2 = {0};
    size_t i = read_input(s, 0, n, &in1);
    if (i == 0) {
        snprintf(why, whylen, "runner: cannot read the input");
        return false;
    }
    i = skip_ws(s, i, n);
    char op = 0;
    if (i + 1 < n && s[i] == '!' && s[i + 1] == ':')
        op = '!', i += 2;
    else if (i + 1 < n && s[i] == '=' && s[i + 1] == '=')
        op = '=', i += 2;
    else if (i + 1 < n && s[i] == '!' && s[i + 1] == '=')
        op = '~', i += 2;
    else if (i < n && s[i] == ':')
        op = ':', i += 1;
    if (op == '=' || op == '~') {
        i = read_input(s, i, n, &in2);
        i = i ? skip_ws(s, i, n) : 0;
        if (i == 0 || i >= n || s[i] != ':') {
            snprintf(why, whylen, "runner: malformed comparison");
            return false;
        }
        i++;
    }
    i = skip_ws(s, i, n);
    size_t start = i, depth = 0;
    for (; i < n; i++) {
        if (s[i] == '"')
            i = literal_end(s, i, n) - 1;
        else if (s[i] == '(')
            depth++;
        else if (s[i] == ')' && --depth == 0)
            break;
    }
    if (op == 0 || i >= n) {
        snprintf(why, whylen, "runner: malformed assertion");
        return false;
    }
    candid_type types[32];
    size_t nt;
    candid_error err = {0, ""};
    status st = candid_types_parse(env, span_of(s + start, i + 1 - start), types, 32, &nt, &err);
    if (st != ST_OK) {
        snprintf(why, whylen, "type does not parse: %s (%s)", status_name(st), err.what);
        return false;
    }
    candid_arena *a = candid_arena_new();
    candid_value *v1 = NULL, *v2 = NULL;
    bool ok;
    st = run_input(&in1, env, types, nt, a, &v1, why, whylen);
    if (op == ':' || op == '!') {
        ok = (st == ST_OK) == (op == ':');
    } else {
        char why2[256];
        status st2 = run_input(&in2, env, types, nt, a, &v2, why2, sizeof why2);
        ok = st == ST_OK && st2 == ST_OK;
        if (st == ST_OK && st2 != ST_OK)
            snprintf(why, whylen, "second input: %s", why2);
        bool eq = true;
        for (size_t k = 0; ok && k < nt; k++)
            eq = eq && candid_value_eq(&v1[k], &v2[k]);
        if (ok && eq != (op == '=')) {
            buf b1 = {0}, b2 = {0};
            ok = false;
            candid_text_print(env, types, nt, v1, &b1);
            candid_text_print(env, types, nt, v2, &b2);
            snprintf(why, whylen, "values are %s: %.*s %s %.*s", eq ? "equal" : "different",
                     (int)(b1.len > 100 ? 100 : b1.len), (const char *)b1.ptr,
                     eq ? "==" : "!=", (int)(b2.len > 100 ? 100 : b2.len), (const char *)b2.ptr);
            buf_fini(&b1);
            buf_fini(&b2);
        }
    }
    candid_arena_free(a);
    return ok;
}

static int line_of(const char *s, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        line += s[i] == '\n';
    return line;
}

static void run_file(suite *su, const char *dir, const char *name)
{
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t n;
    char *s = read_file(path, &n);
    if (!s) {
        printf("%s: cannot read\n", path);
        su->failed++;
        return;
    }
    buf defs = {0};
    candid_env *env = NULL;
    size_t i = 0;
    while (i < n) { /* one statement, up to a ';' outside literals, comments and brackets */
        i = skip_ws(s, i, n);
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
            const char *e = strstr(s + i + 2, "*/");
            i = e ? (size_t)(e - s) + 2 : n;
            continue;
        }
        size_t start = i, depth = 0;
        for (; i < n && !(s[i] == ';' && depth == 0); i++) {
            if (s[i] == '"')
                i = literal_end(s, i, n) - 1;
            else if (s[i] == '(' || s[i] == '{')
                depth++;
            else if ((s[i] == ')' || s[i] == '}') && depth)
                depth--;
        }
        if (i == start && i < n) {
            i++;
            continue;
        }
        if (n - start > 4 && memcmp(s + start, "type", 4) == 0) {
            buf_put(&defs, s + start, i - start);
            buf_put(&defs, ";\n", 2);
        } else if (n - start > 6 && memcmp(s + start, "assert", 6) == 0) {
            if (!env) {
                candid_error err = {0, ""};
                env = candid_env_new();
                status st = candid_did_parse(env, span_of(defs.ptr, defs.len), &err);
                if (st != ST_OK)
                    printf("%s: type definitions do not parse: %s at %zu (%s)\n", path,
                           status_name(st), err.offset, err.what);
            }
            int line = line_of(s, start);
            bool ok = run_assert(env, s + start + 6, i - start - 6, why, sizeof why);
            bool known = is_known(su, name, line);
            su->total++;
            if (ok && !known) {
                su->passed++;
            } else if (ok) {
                printf("%s:%d: listed as a known failure but passes: remove it from the list\n",
                       name, line);
                su->stale++;
            } else if (known) {
                su->known++;
            } else {
                printf("%s:%d: FAIL: %.*s\n    -> %s\n", name, line,
                       (int)(i - start > 160 ? 160 : i - start), s + start, why);
                su->failed++;
            }
        }
        i++;
    }
    buf_fini(&defs);
    candid_env_free(env);
    free(s);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: candid_conformance DIR [KNOWN_FAILURES [COUNT]]\n");
        return 2;
    }
    suite su = {0};
    size_t klen;
    char *known = argc > 2 ? read_file(argv[2], &klen) : NULL;
    su.known_list = known;
    DIR *d = opendir(argv[1]);
    if (!d) {
        fprintf(stderr, "candid_conformance: the Candid test suite is missing: %s\n", argv[1]);
        return 1;
    }
    char *names[64];
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d)) && nn < 64;) {
        size_t l = strlen(e->d_name);
        if (l > 9 && strcmp(e->d_name + l - 9, ".test.did") == 0)
            names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    if (nn == 0) {
        fprintf(stderr, "candid_conformance: no *.test.did files in %s\n", argv[1]);
        return 1;
    }
    qsort(names, nn, sizeof *names, name_cmp);
    for (size_t k = 0; k < nn; k++) {
        run_file(&su, argv[1], names[k]);
        free(names[k]);
    }
    free(known);
    printf("candid conformance: %d/%d assertions passed, %d known failures, %d failed, %d stale "
           "entries in the known-failure list (%zu files)\n",
           su.passed, su.total, su.known, su.failed, su.stale, nn);
    if (argc > 3 && su.total != atoi(argv[3])) {
        printf("candid conformance: expected %s assertions, ran %d\n", argv[3], su.total);
        return 1;
    }
    return su.failed == 0 && su.stale == 0 ? 0 : 1;
}
