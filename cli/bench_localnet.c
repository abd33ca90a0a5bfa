/* bench_localnet.c - `tally bench localnet`: small update messages through several validators
 * of a replicated chain (docs/replication.md), and the load of `scripts/localnet.sh test`.
 *
 * It deploys a counter canister through the first validator (or reuses --canister), then signs
 * N `inc` updates and sends message i through validator i mod V (JSON-RPC batches of submits,
 * one thread per validator), and polls each validator for the receipts of the messages it was
 * given (JSON-RPC batches of `receipt`). It reports messages per second (first submit to last
 * receipt), the latency from a message's admission to its receipt on that validator (median,
 * 90th percentile, max), and where the validators' time went (their `status`.replication
 * counters over the run: CheckTx, proposals, execution, state-root preview, commit; the rest of
 * a block interval is consensus). Then it waits until every validator's counter reads the same
 * value. It exits 1 if any message did not end with an OK receipt or the counters differ: the
 * test relies on that. No rate is ever asserted (docs/benchmarks.md). */
#include "bench.h"
#include "rpc.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { NODES_MAX = 16, SUBMIT_BATCH = 100, RECEIPT_BATCH = 400 };

typedef struct opts {
    const char *nodes[NODES_MAX];
    uint32_t nnodes, messages, timeout_s;
    const char *key, *canister;
    bool json;
} opts;

/* One message of the run. */
typedef struct msg {
    char id[65];
    double sent, done; /* admission answered; receipt seen (0: not yet) */
    uint32_t status;   /* the receipt's status, or the admission error's */
    bool failed;       /* admission refused it */
} msg;

/* One validator's share: messages node, node + V, node + 2V, ... */
typedef struct worker {
    const opts *o;
    uint32_t node;
    const bench_key *key;
    uint64_t canister, nonce0, expiry;
    msg *m;    /* all messages (the worker touches only its own) */
    status st; /* a transport failure */
    char error[512];
    pthread_t thread;
} worker;

static status sign_msg(const worker *w, uint64_t nonce, uint64_t canister, span arg, buf *env,
                       char id_hex[65])
{
    uint8_t id[LEDGER_HASH_SIZE];
    status st =
        bench_sign(w->key,
                   (ledger_message){.nonce = nonce,
                                    .canister_id = canister,
                                    .kind = canister ? LEDGER_MSG_UPDATE : LEDGER_MSG_INSTALL,
                                    .method = canister ? span_of("inc", 3) : span_of(NULL, 0),
                                    .arg = arg,
                                    .expiry_height = w->expiry},
                   env, id);
    if (st == ST_OK)
        ledger_hash_hex(id, id_hex);
    return st;
}

/* Submits messages [from, to) of this worker (every V-th) as one JSON-RPC batch. */
static status submit_some(worker *w, uint32_t from, uint32_t to, rpc_error *err)
{
    json_t *reqs = json_array();
    buf env = {0};
    status st = reqs ? ST_OK : ST_OUT_OF_MEMORY;
    for (uint32_t i = from; st == ST_OK && i < to; i += w->o->nnodes) {
        st = sign_msg(w, w->nonce0 + i, w->canister, span_of(NULL, 0), &env, w->m[i].id);
        json_t *r = st == ST_OK
                        ? rpc_client_submit_request(span_of(env.ptr, env.len), (json_int_t)i)
                        : NULL;
        if (st == ST_OK && (!r || json_array_append_new(reqs, r) != 0))
            st = ST_OUT_OF_MEMORY;
    }
    buf_fini(&env);
    json_t *ans = NULL;
    if (st == ST_OK)
        st = rpc_client_batch(w->o->nodes[w->node], reqs, &ans, err);
    json_decref(reqs);
    double t = bench_now_s();
    size_t k;
    json_t *a;
    json_array_foreach(ans, k, a)
    {
        json_int_t i = json_integer_value(json_object_get(a, "id"));
        if (i < 0 || (uint32_t)i >= w->o->messages)
            continue;
        w->m[i].sent = t;
        json_t *e = json_object_get(a, "error");
        if (e) { /* refused at admission: counted as a failure, reported by status */
            w->m[i].failed = true;
            w->m[i].done = t;
            json_t *data = json_object_get(e, "data");
            const char *name = json_string_value(json_object_get(data, "status"));
            w->m[i].status = ST_RPC_ERROR;
            for (uint32_t s = 0; name && s < 1000; s++)
                if (!strcmp(status_name((status)s), name))
                    w->m[i].status = s;
        }
    }
    json_decref(ans);
    return st;
}

/* Asks for the receipts of up to RECEIPT_BATCH pending messages; returns how many remain. */
static status poll_receipts(worker *w, uint32_t *pending, rpc_error *err)
{
    json_t *reqs = json_array();
    status st = reqs ? ST_OK : ST_OUT_OF_MEMORY;
    *pending = 0;
    uint32_t asked = 0;
    for (uint32_t i = w->node; st == ST_OK && i < w->o->messages; i += w->o->nnodes) {
        if (w->m[i].done > 0)
            continue;
        (*pending)++;
        if (asked == RECEIPT_BATCH)
            continue;
        asked++;
        json_t *r = rpc_client_request("receipt", "message_id", w->m[i].id, (json_int_t)i);
        if (!r || json_array_append_new(reqs, r) != 0)
            st = ST_OUT_OF_MEMORY;
    }
    json_t *ans = NULL;
    if (st == ST_OK && asked)
        st = rpc_client_batch(w->o->nodes[w->node], reqs, &ans, err);
    json_decref(reqs);
    double t = bench_now_s();
    size_t k;
    json_t *a;
    json_array_foreach(ans, k, a)
    {
        json_int_t i = json_integer_value(json_object_get(a, "id"));
        json_t *r = json_object_get(a, "result");
        if (i < 0 || (uint32_t)i >= w->o->messages || !r ||
            json_is_true(json_object_get(r, "pending")))
            continue; /* pending, or not known here yet (an error): ask again */
        w->m[i].done = t;
        w->m[i].status = (uint32_t)json_integer_value(json_object_get(r, "status"));
        (*pending)--;
    }
    json_decref(ans);
    return st;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    rpc_error err = {0};
    uint32_t step = SUBMIT_BATCH * w->o->nnodes;
    w->st = ST_OK;
    for (uint32_t from = w->node; w->st == ST_OK && from < w->o->messages; from += step) {
        uint32_t to = from + step < w->o->messages ? from + step : w->o->messages;
        w->st = submit_some(w, from, to, &err);
    }
    double deadline = bench_now_s() + w->o->timeout_s;
    uint32_t pending = 1;
    while (w->st == ST_OK && pending) {
        w->st = poll_receipts(w, &pending, &err);
        if (pending && bench_now_s() > deadline) {
            w->st = ST_RECEIPT_TIMEOUT;
            snprintf(err.message, sizeof err.message, "%u receipts missing after %u s", pending,
                     w->o->timeout_s);
        }
        if (pending)
            usleep(20000);
    }
    if (w->st != ST_OK)
        snprintf(w->error, sizeof w->error, "%.200s: %.255s", w->o->nodes[w->node], err.message);
    return NULL;
}

/* ---- setup: key, expiry, canister ----------------------------------------------------------- */

static status call(const char *url, const char *method, json_t *params, json_t **res)
{
    rpc_error err = {0};
    status st = rpc_client_call(url, method, params, res, &err);
    if (st != ST_OK)
        fprintf(stderr, "tally bench localnet: %s at %s: %s %s\n", method, url, status_name(st),
                err.message);
    return st;
}

/* The counter of validator `url` (query get), or -1. */
static int64_t counter(const char *url, const char *canister)
{
    json_t *res = NULL;
    rpc_error err;
    json_t *p = json_pack("{s:s, s:s}", "canister", canister, "method", "get");
    status st = p ? rpc_client_call(url, "query", p, &res, &err) : ST_OUT_OF_MEMORY;
    json_decref(p);
    const char *hex = st == ST_OK ? json_string_value(json_object_get(res, "reply")) : NULL;
    buf b = {0};
    int64_t v = -1;
    if (hex && cli_hex_decode(hex, strlen(hex), &b) == ST_OK && b.len == 4)
        v = le32_load(b.ptr);
    buf_fini(&b);
    json_decref(res);
    return v;
}

static status deploy(worker *w, char canister[LEDGER_CANISTER_TEXT_SIZE])
{
    buf arg = {0}, env = {0};
    char id[65];
    status st = scheduler_install_arg(bench_counter_wasm(), span_of(NULL, 0), &arg);
    if (st == ST_OK)
        st = sign_msg(w, w->nonce0 - 1, 0, span_of(arg.ptr, arg.len), &env, id);
    char *hex = st == ST_OK ? cli_hex_new(env.ptr, env.len) : NULL;
    json_t *res = NULL, *p = hex ? json_pack("{s:s}", "envelope", hex) : NULL;
    st = p ? call(w->o->nodes[0], "deploy", p, &res) : ST_OUT_OF_MEMORY;
    json_decref(p);
    json_decref(res);
    base_free(hex);
    buf_fini(&arg);
    buf_fini(&env);
    double deadline = bench_now_s() + w->o->timeout_s;
    while (st == ST_OK) {
        res = NULL;
        p = json_pack("{s:s}", "message_id", id);
        st = p ? call(w->o->nodes[0], "receipt", p, &res) : ST_OUT_OF_MEMORY;
        json_decref(p);
        if (st == ST_OK && !json_is_true(json_object_get(res, "pending"))) {
            const char *reply = json_string_value(json_object_get(res, "reply"));
            buf b = {0};
            if (json_integer_value(json_object_get(res, "status")) != ST_OK || !reply ||
                cli_hex_decode(reply, strlen(reply), &b) != ST_OK || b.len != 8) {
                fprintf(stderr, "tally bench localnet: the deploy failed: %s\n",
                        json_string_value(json_object_get(res, "status_name")));
                st = ST_RPC_ERROR;
            } else {
                ledger_canister_id_text(le64_load(b.ptr), canister);
            }
            buf_fini(&b);
            json_decref(res);
            break;
        }
        json_decref(res);
        if (bench_now_s() > deadline)
            st = ST_RECEIPT_TIMEOUT;
        usleep(50000);
    }
    return st;
}

/* ---- report --------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *const stat_names[] = {"blocks",      "txs",        "checks",
                                         "check_ns",    "prepare_ns", "process_ns",
                                         "finalize_ns", "preview_ns", "commit_ns"};
enum { NSTATS = sizeof stat_names / sizeof *stat_names };

/* Validator i's replication counters (status.replication), or zeros. */
static void stats_of(const char *url, double out[NSTATS])
{
    json_t *res = NULL;
    rpc_error err;
    memset(out, 0, NSTATS * sizeof *out);
    if (rpc_client_call(url, "status", NULL, &res, &err) != ST_OK)
        return;
    json_t *r = json_object_get(res, "replication");
    for (int k = 0; k < NSTATS; k++)
        out[k] = (double)json_integer_value(json_object_get(r, stat_names[k]));
    json_decref(res);
}

static void report(const opts *o, const msg *m, double elapsed, uint32_t ok,
                   double before[][NSTATS], double after[][NSTATS])
{
    double *lat = base_calloc(o->messages ? o->messages : 1, sizeof *lat);
    uint32_t n = 0;
    for (uint32_t i = 0; lat && i < o->messages; i++)
        if (m[i].done > 0 && !m[i].failed)
            lat[n++] = m[i].done - m[i].sent;
    if (n)
        qsort(lat, n, sizeof *lat, cmp_double);
    double p50 = n ? lat[n / 2] : 0, p90 = n ? lat[n * 9 / 10] : 0, max = n ? lat[n - 1] : 0;
    base_free(lat);
    /* per block, averaged over the validators: what the application spent of a block interval */
    double d[NSTATS] = {0};
    for (uint32_t v = 0; v < o->nnodes; v++)
        for (int k = 0; k < NSTATS; k++)
            d[k] += (after[v][k] - before[v][k]) / o->nnodes;
    double blocks = d[0] > 0 ? d[0] : 1, interval = elapsed / blocks * 1e3;
    double ms[NSTATS];
    for (int k = 3; k < NSTATS; k++)
        ms[k] = d[k] / 1e6 / blocks;
    double app = ms[3] + ms[4] + ms[5] + ms[6] + ms[7] + ms[8];
    if (o->json) {
        printf("{\"validators\": %u, \"messages\": %u, \"ok\": %u, \"seconds\": %.3f, "
               "\"messages_per_s\": %.1f, \"latency_ms\": {\"p50\": %.1f, \"p90\": %.1f, "
               "\"max\": %.1f}, \"blocks\": %.1f, \"block_interval_ms\": %.1f, "
               "\"per_block_ms\": {\"check_tx\": %.2f, \"prepare\": %.2f, \"process\": %.2f, "
               "\"execute\": %.2f, \"preview\": %.2f, \"commit\": %.2f, \"consensus\": %.2f}}\n",
               o->nnodes, o->messages, ok, elapsed, ok / elapsed, p50 * 1e3, p90 * 1e3, max * 1e3,
               d[0], interval, ms[3], ms[4], ms[5], ms[6], ms[7], ms[8], interval - app);
        return;
    }
    if (o->nnodes > 1)
        printf("localnet: %u validators, %u messages (message i through validator i mod %u)\n",
               o->nnodes, o->messages, o->nnodes);
    else
        printf("localnet: 1 node, %u messages\n", o->messages);
    printf("  %u OK receipts in %.2f s: %.1f messages/s\n", ok, elapsed, ok / elapsed);
    printf("  latency, admission to receipt: median %.0f ms, p90 %.0f ms, max %.0f ms\n",
           p50 * 1e3, p90 * 1e3, max * 1e3);
    if (d[0] <= 0)
        return; /* not a validator of the replicated mode: no replication counters */
    printf("  %.1f blocks, %.1f messages and %.0f ms per block; per block and validator:\n", d[0],
           d[1] / blocks, interval);
    printf("    CheckTx %.2f ms (%.0f checks), PrepareProposal %.2f ms, ProcessProposal %.2f ms,\n"
           "    FinalizeBlock execution %.2f ms, state-root preview %.2f ms, Commit %.2f ms;\n"
           "    consensus (votes, gossip, timeouts) the other %.0f ms\n",
           ms[3], d[2] / blocks, ms[4], ms[5], ms[6], ms[7], ms[8], interval - app);
}

/* ---- main ----------------------------------------------------------------------------------- */

static int usage(FILE *out, int rc)
{
    fprintf(out,
            "usage: tally bench localnet --node URL [--node URL]... --key FILE [--messages N]\n"
            "                            [--canister ID] [--timeout S] [--json]\n\n"
            "Update messages through the validators of a replicated chain (`tally abci` JSON-RPC\n"
            "front ends, e.g. of `scripts/localnet.sh start 4`; `scripts/localnet.sh bench`\n"
            "starts four and runs this): deploys a counter canister with --key (the genesis\n"
            "admin key) unless --canister, sends message i through validator i mod V, waits for\n"
            "every receipt on the validator that took the message, and reports messages/s,\n"
            "latency and where the validators' time went. Exits 1 unless every receipt is OK\n"
            "and every validator's counter agrees.\n\n"
            "  --node URL     a validator's JSON-RPC (repeat; up to 16)\n"
            "  --key FILE     signing key (the admin key for the deploy)\n"
            "  --messages N   messages (default 1000)\n"
            "  --canister ID  an existing counter canister (from an earlier run)\n"
            "  --timeout S    seconds to wait for the receipts (default 120)\n"
            "  --json         one JSON line instead of text\n");
    return rc;
}

int bench_localnet(int argc, char **argv)
{
    opts o = {.messages = 1000, .timeout_s = 120};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        uint64_t v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout, 0);
        if (!strcmp(a, "--node") && more && o.nnodes < NODES_MAX)
            o.nodes[o.nnodes++] = argv[++i];
        else if (!strcmp(a, "--key") && more)
            o.key = argv[++i];
        else if (!strcmp(a, "--canister") && more)
            o.canister = argv[++i];
        else if (!strcmp(a, "--messages") && more && cli_u64_parse(argv[i + 1], &v) && v >= 1 &&
                 v <= 1000000 && ++i)
            o.messages = (uint32_t)v;
        else if (!strcmp(a, "--timeout") && more && cli_u64_parse(argv[i + 1], &v) && v >= 1 &&
                 v <= 86400 && ++i)
            o.timeout_s = (uint32_t)v;
        else if (!strcmp(a, "--json"))
            o.json = true;
        else
            return fprintf(stderr, "tally bench localnet: bad or unknown option '%s'\n", a),
                   usage(stderr, 2);
    }
    if (!o.nnodes || !o.key)
        return fprintf(stderr, "tally bench localnet: --node and --key are required\n"),
               usage(stderr, 2);
    bench_key key;
    status st = cli_key_read(o.key, key.pk, key.sk);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench localnet: %s: %s\n", o.key, status_name(st));
        return 1;
    }
    msg *m = base_calloc(o.messages, sizeof *m);
    worker w[NODES_MAX];
    if (!m)
        return 1;
    uint64_t nonce0;
    randombytes_buf(&nonce0, sizeof nonce0); /* distinct ids across runs with one key */
    nonce0 = (nonce0 >> 2) + 1;
    for (uint32_t v = 0; v < o.nnodes; v++)
        w[v] = (worker){
            .o = &o, .node = v, .key = &key, .nonce0 = nonce0, .expiry = UINT64_MAX / 2, .m = m};
    char canister[LEDGER_CANISTER_TEXT_SIZE];
    if (o.canister) {
        uint64_t cid;
        st = cli_canister_parse(o.canister, &cid);
        if (st == ST_OK)
            ledger_canister_id_text(cid, canister);
    } else {
        st = deploy(&w[0], canister);
    }
    uint64_t cid = 0;
    if (st == ST_OK)
        st = ledger_canister_id_parse(canister, &cid);
    /* every validator must know the canister before it admits updates to it */
    double deadline = bench_now_s() + o.timeout_s;
    int64_t base = -1;
    for (uint32_t v = 0; st == ST_OK && v < o.nnodes; v++) {
        int64_t c;
        while ((c = counter(o.nodes[v], canister)) < 0 && bench_now_s() < deadline)
            usleep(50000);
        if (c < 0)
            st = ST_RECEIPT_TIMEOUT;
        if (v == 0)
            base = c;
    }
    if (st != ST_OK) {
        fprintf(stderr, "tally bench localnet: setup failed: %s\n", status_name(st));
        base_free(m);
        return 1;
    }
    double(*before)[NSTATS] = base_calloc(o.nnodes, sizeof *before);
    double(*after)[NSTATS] = base_calloc(o.nnodes, sizeof *after);
    for (uint32_t v = 0; before && v < o.nnodes; v++)
        stats_of(o.nodes[v], before[v]);
    double t0 = bench_now_s();
    for (uint32_t v = 0; v < o.nnodes; v++) {
        w[v].canister = cid;
        if (pthread_create(&w[v].thread, NULL, worker_main, &w[v]) != 0)
            w[v].st = ST_OUT_OF_MEMORY;
    }
    int rc = 0;
    for (uint32_t v = 0; v < o.nnodes; v++) {
        if (w[v].st != ST_OUT_OF_MEMORY)
            pthread_join(w[v].thread, NULL);
        if (w[v].st != ST_OK) {
            fprintf(stderr, "tally bench localnet: %s: %s\n", status_name(w[v].st), w[v].error);
            rc = 1;
        }
    }
    double elapsed = bench_now_s() - t0;
    for (uint32_t v = 0; after && v < o.nnodes; v++)
        stats_of(o.nodes[v], after[v]);
    uint32_t ok = 0, shown = 0;
    for (uint32_t i = 0; i < o.messages; i++) {
        if (m[i].done > 0 && m[i].status == ST_OK) {
            ok++;
        } else if (shown++ < 5) {
            fprintf(stderr, "tally bench localnet: message %u (%s, via %s): %s\n", i, m[i].id,
                    o.nodes[i % o.nnodes],
                    m[i].done > 0 ? status_name((status)m[i].status) : "no receipt");
        }
    }
    if (ok != o.messages)
        rc = 1;
    /* the validators agree on the counter once they have all committed the last block */
    int64_t want = base + ok, got = -1;
    for (uint32_t v = 0; v < o.nnodes; v++) {
        while ((got = counter(o.nodes[v], canister)) != want && bench_now_s() < deadline + 30)
            usleep(50000);
        if (got != want) {
            fprintf(stderr, "tally bench localnet: validator %s counts %lld, want %lld\n",
                    o.nodes[v], (long long)got, (long long)want);
            rc = 1;
        }
    }
    if (before && after)
        report(&o, m, elapsed, ok, before, after);
    if (!o.json)
        printf("  canister %s: counter %lld on %s%s\n", canister, (long long)want,
               o.nnodes > 1 ? "every validator" : "the node",
               rc ? " (NOT: see the errors above)" : "");
    base_free(before);
    base_free(after);
    base_free(m);
    return rc;
}
