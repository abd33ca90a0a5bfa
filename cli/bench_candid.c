/* bench_candid.c - `tally bench candid`: Candid decoding and re-encoding throughput
 * (docs/benchmarks.md, "Candid").
 *
 *   blob     a `vec nat8` of 1 MiB: decode at (blob) then re-encode, in MB/s of message,
 *            beside memcpy of the same bytes twice (the floor any decoder + encoder pays);
 *   records  a `vec record { nat64; text }` of 100,000 entries: decode then re-encode, in
 *            entries/s and values/s (each entry is 3 values: the record, the nat64, the text).
 * Each figure is the best and the median of --runs runs of CPU time (this thread); each run
 * checks the re-encoded message equals the input byte for byte. Never run by `meson test`. */
#include "cli.h"
#include "candid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BLOB_BYTES = 1 << 20, RECORDS = 100000, MAX_RUNS = 100 };

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Decode msg at types, re-encode, compare; *secs is the CPU time of decode + encode. */
static status round_trip(const candid_env *env, const candid_type *t, size_t n, span msg,
                         double *secs)
{
    candid_arena *a = candid_arena_new();
    buf out = {0};
    candid_value *v;
    candid_error err = {0, NULL};
    if (!a)
        return ST_OUT_OF_MEMORY;
    double t0 = cpu_now();
    status st = candid_decode(a, env, t, n, msg, NULL, &v, &err);
    if (st == ST_OK)
        st = buf_reserve(&out, msg.len);
    if (st == ST_OK)
        st = candid_encode(env, t, n, v, &out);
    *secs = cpu_now() - t0;
    if (st == ST_OK && (out.len != msg.len || memcmp(out.ptr, msg.ptr, msg.len) != 0))
        st = ST_BUG_INVARIANT;
    buf_fini(&out);
    candid_arena_free(a);
    return st;
}

static status build_blob(buf *m)
{
    const uint8_t head[] = {'D', 'I', 'D', 'L', 1, 0x6d, 0x7b, 1, 0};
    status st = buf_put(m, head, sizeof head);
    if (st == ST_OK)
        st = buf_leb_u64(m, BLOB_BYTES);
    if (st == ST_OK)
        st = buf_reserve(m, BLOB_BYTES);
    for (uint32_t i = 0, x = 1; st == ST_OK && i < BLOB_BYTES; i++) {
        x = x * 1103515245u + 12345u;
        m->ptr[m->len++] = (uint8_t)(x >> 16);
    }
    return st;
}

/* record { 0 : nat64; 1 : text } in the table as entry 1, vec of it as entry 0 */
static status build_records(buf *m)
{
    const uint8_t head[] = {'D', 'I', 'D', 'L', 2, 0x6d, 1, 0x6c, 2, 0, 0x78, 1, 0x71, 1, 0};
    status st = buf_put(m, head, sizeof head);
    if (st == ST_OK)
        st = buf_leb_u64(m, RECORDS);
    for (uint32_t i = 0; st == ST_OK && i < RECORDS; i++) {
        uint8_t n64[8];
        char text[32];
        int len = snprintf(text, sizeof text, "account-%u", i * 7919u);
        le64_store(n64, (uint64_t)i * 1000003u);
        st = buf_put(m, n64, 8);
        if (st == ST_OK)
            st = buf_leb_u64(m, (uint64_t)len);
        if (st == ST_OK)
            st = buf_put(m, text, (size_t)len);
    }
    return st;
}

static void best_median(double *t, int runs, double *best, double *median)
{
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    *best = t[0];
    *median = t[runs / 2];
}

static int usage(FILE *out, int rc)
{
    fprintf(out,
            "usage: tally bench candid [--runs N]\n\n"
            "Candid throughput: decode + re-encode of a 1 MiB vec nat8 (MB/s, beside memcpy of\n"
            "the same bytes twice) and of a vec record { nat64; text } of 100,000 entries\n"
            "(entries/s and values/s). Best and median CPU time of N runs (default 15); every\n"
            "run checks the re-encoded message equals the input.\n"
            "Exit status: 0; 1 if a run fails; 2 on usage.\n");
    return rc;
}

int bench_candid(int argc, char **argv)
{
    int runs = 15;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout, 0);
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
            if (runs < 1 || runs > MAX_RUNS)
                return fprintf(stderr, "tally bench candid: --runs wants 1..%d\n", MAX_RUNS), 2;
        } else {
            fprintf(stderr, "tally bench candid: unknown option '%s'\n", argv[i]);
            return usage(stderr, 2);
        }
    }
    candid_env *env = candid_env_new();
    buf blob = {0}, recs = {0};
    candid_type tb, tr;
    size_t n;
    status st = env ? ST_OK : ST_OUT_OF_MEMORY;
    if (st == ST_OK)
        st = candid_types_parse(env, span_of("(blob)", 6), &tb, 1, &n, NULL);
    const char *rt = "(vec record { nat64; text })";
    if (st == ST_OK)
        st = candid_types_parse(env, span_of(rt, strlen(rt)), &tr, 1, &n, NULL);
    if (st == ST_OK)
        st = build_blob(&blob);
    if (st == ST_OK)
        st = build_records(&recs);
    double tblob[MAX_RUNS], tcopy[MAX_RUNS], trec[MAX_RUNS];
    uint8_t *scratch = st == ST_OK ? malloc(2 * blob.len) : NULL;
    for (int r = 0; st == ST_OK && r < runs; r++) {
        st = round_trip(env, &tb, 1, span_of(blob.ptr, blob.len), &tblob[r]);
        if (st == ST_OK)
            st = round_trip(env, &tr, 1, span_of(recs.ptr, recs.len), &trec[r]);
        if (st == ST_OK && !scratch)
            st = ST_OUT_OF_MEMORY;
        if (st == ST_OK) {
            double t0 = cpu_now();
            memcpy(scratch, blob.ptr, blob.len);
            memcpy(scratch + blob.len, scratch, blob.len);
            tcopy[r] = cpu_now() - t0;
            if (scratch[blob.len * 2 - 1] != blob.ptr[blob.len - 1])
                st = ST_BUG_INVARIANT;
        }
    }
    if (st == ST_OK) {
        double b, m, cb, cm, rb, rm, mb = (double)blob.len / 1e6;
        best_median(tblob, runs, &b, &m);
        best_median(tcopy, runs, &cb, &cm);
        best_median(trec, runs, &rb, &rm);
        printf("candid benchmark (%d runs; best / median CPU time)\n", runs);
        printf("  vec nat8, 1 MiB, decode + encode   %8.0f / %8.0f MB/s   (%.3f / %.3f ms)\n",
               mb / b, mb / m, b * 1e3, m * 1e3);
        printf("  memcpy of the same bytes, twice     %8.0f / %8.0f MB/s   (candid / memcpy "
               "time: %.1fx)\n",
               mb / cb, mb / cm, b / cb);
        printf("  vec record { nat64; text }, %d entries (%.2f MB), decode + encode\n", RECORDS,
               (double)recs.len / 1e6);
        printf("                                     %8.2f / %8.2f M entries/s, %.2f / %.2f M "
               "values/s (%.1f / %.1f ms)\n",
               RECORDS / rb / 1e6, RECORDS / rm / 1e6, 3.0 * RECORDS / rb / 1e6,
               3.0 * RECORDS / rm / 1e6, rb * 1e3, rm * 1e3);
    } else {
        fprintf(stderr, "tally bench candid: %s\n", status_message(st));
    }
    free(scratch);
    buf_fini(&blob);
    buf_fini(&recs);
    candid_env_free(env);
    return st == ST_OK ? 0 : 1;
}
