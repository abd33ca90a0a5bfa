/* bench_node.c - `tally bench node`: small update messages per second, end to end.
 *
 * Part 1, in process: N signed update messages to a one-page counter canister are admitted
 * into durable ledgers (signature check + mempool write), timed on their own: one message per
 * ledger_mempool_add (one fsync'd commit each), then the same messages in batches of 100 and
 * 1000 per ledger_mempool_add_batch (one commit per batch) on fresh ledgers. Then rounds run
 * until every message has a receipt. The rate of the rounds alone is "execution + commit":
 * execution, dirty pages, state root, receipts and one fsync'd LMDB commit per block. Then the
 * auditor's replay of that chain (scheduler_replay), with 1 and with the default number of
 * signature-checking threads.
 * Part 2, over RPC: a real `tally node` child process on a free loopback port; N/4 messages per
 * run are submitted over HTTP (JSON-RPC `submit`): from 1 connection (sequential requests: the
 * old figure), from 4, 16 and 64 concurrent connections (their submits share mempool commits:
 * the node's group commit), and as JSON-RPC batches of 100 on one connection; each run stops
 * the clock when every connection's last receipt is there. "per commit" is the node's own
 * count (`status`.admission): messages admitted per mempool commit during the run.
 * Part 3 (--queries, alone): sequential `inc` updates (each waits for its receipt) to a node
 * that is idle, then serving 4 clients that run maximal queries (`spin`, stopped by the 5e9
 * query limit) without a query budget and with the default one: update latency, block rate,
 * and the queries the workers finished meanwhile (docs/scheduler.md "Queries").
 * --tiers (alone): execution + commit as in part 1, in the interpreter and in the compiled
 * tier alternately, repeated; wall and CPU time per message.
 * Ratios are against the first run of the same part, measured in the same process.
 * No rate is ever asserted: tests/cli/bench_node.sh only checks that every part runs and
 * reports (docs/benchmarks.md). */
#include "bench.h"
#include "rpc.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The counter canister (bench_counter_wasm): `inc` updates, `spin` maximal queries. */
typedef bench_key keypair;

/* Signs message `nonce` (an `inc` update, or the install of `module` when canister is 0)
 * into env. */
static status sign_with(const keypair *k, uint64_t nonce, uint64_t canister, span module, buf *env)
{
    buf arg = {0};
    status st = ST_OK;
    if (!canister)
        st = scheduler_install_arg(module, span_of(NULL, 0), &arg);
    if (st == ST_OK)
        st = bench_sign(k,
                        (ledger_message){.nonce = nonce,
                                         .canister_id = canister,
                                         .kind = canister ? LEDGER_MSG_UPDATE : LEDGER_MSG_INSTALL,
                                         .method = canister ? span_of("inc", 3) : span_of(NULL, 0),
                                         .arg = span_of(arg.ptr, arg.len),
                                         .expiry_height = UINT64_MAX / 2},
                        env, NULL);
    buf_fini(&arg);
    return st;
}

static status sign(const keypair *k, uint64_t nonce, uint64_t canister, buf *env)
{
    return sign_with(k, nonce, canister, bench_counter_wasm(), env);
}

/* The pre-signed envelopes of a run: envelope i is all[off[i] .. off[i+1]). */
typedef struct envelopes {
    buf all;
    size_t *off;
    uint32_t n;
} envelopes;

static span env_at(const envelopes *e, uint32_t i)
{
    return span_of(e->all.ptr + e->off[i], e->off[i + 1] - e->off[i]);
}

/* Signs n `inc` updates to canister 1 with nonces 1..n (client side: never timed). */
static status envelopes_make(envelopes *e, const keypair *k, uint32_t n)
{
    buf env = {0};
    e->n = n;
    e->off = base_calloc((size_t)n + 1, sizeof *e->off);
    status st = e->off ? ST_OK : ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        st = sign(k, i + 1, 1, &env);
        if (st == ST_OK)
            st = buf_put(&e->all, env.ptr, env.len);
        if (st == ST_OK)
            e->off[i + 1] = e->all.len;
    }
    buf_fini(&env);
    return st;
}

static void envelopes_fini(envelopes *e)
{
    buf_fini(&e->all);
    base_free(e->off);
}

/* Admits every envelope into lg, `batch` per ledger_mempool_add_batch call (1: one
 * ledger_mempool_add each, the per-message path); *rate receives messages/s. Every envelope
 * must be admitted. */
static status admit_all(ledger *lg, const envelopes *e, uint32_t batch, double *rate)
{
    span *spans = base_alloc(batch * sizeof *spans);
    uint8_t(*ids)[LEDGER_HASH_SIZE] = base_alloc(batch * sizeof *ids);
    status *sts = base_alloc(batch * sizeof *sts);
    status st = spans && ids && sts ? ST_OK : ST_OUT_OF_MEMORY;
    double t0 = bench_now_s();
    for (uint32_t i = 0; st == ST_OK && i < e->n; i += batch) {
        uint32_t k = e->n - i < batch ? e->n - i : batch;
        if (batch == 1) {
            st = ledger_mempool_add(lg, env_at(e, i), ids[0]);
            continue;
        }
        for (uint32_t j = 0; j < k; j++)
            spans[j] = env_at(e, i + j);
        st = ledger_mempool_add_batch(lg, k, spans, ids, sts);
        for (uint32_t j = 0; st == ST_OK && j < k; j++)
            st = sts[j];
    }
    *rate = e->n / (bench_now_s() - t0);
    base_free(spans);
    base_free(ids);
    base_free(sts);
    return st;
}

/* --tier: the engine tier of the in-process scheduler and of the node process. */
static const char *bench_tier;

static int tier_of(const char *t)
{
    return !t || !strcmp(t, "interp") ? SCHEDULER_TIER_INTERP
           : !strcmp(t, "compiled")   ? SCHEDULER_TIER_COMPILED
           : !strcmp(t, "quick")      ? SCHEDULER_TIER_QUICK
                                      : SCHEDULER_TIER_AUTO;
}

/* A fresh durable ledger at dir with the bench's genesis (admin key k): the IC's fees, or none
 * (no_fees); with a scheduler (in the --tier tier) when with_scheduler. */
static status chain_fresh(const char *dir, const keypair *k, bool no_fees, bool with_scheduler,
                          bench_chain *c)
{
    ledger_genesis g;
    ledger_genesis_default(&g);
    if (no_fees)
        scheduler_fees_zero(&g);
    scheduler_options so = {.tier = tier_of(bench_tier), .tier_log = true};
    return bench_chain_open(c, dir, NULL, &g, k, with_scheduler ? &so : NULL);
}

/* Installs the counter (nonce 0) in the chain's first round. */
static status chain_install(bench_chain *c, const keypair *k)
{
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE];
    scheduler_round_info info;
    status st = sign(k, 0, 0, &env);
    if (st == ST_OK)
        st = ledger_mempool_add(c->lg, span_of(env.ptr, env.len), id);
    if (st == ST_OK)
        st = scheduler_round(c->s, ++c->time, &info);
    buf_fini(&env);
    return st;
}

/* Execution + commit of the same envelopes on a chain without fees at dir-nofees (the install
 * first, the rest admitted in batches of 1000): the cost of cycle accounting is the ratio
 * with the main run's rate. */
static status bench_exec_no_fees(const char *dir, const keypair *k, const envelopes *e,
                                 double *rate)
{
    char sub[160];
    snprintf(sub, sizeof sub, "%s-nofees", dir);
    bench_chain c;
    double ignored;
    status st = chain_fresh(sub, k, true, true, &c);
    if (st != ST_OK)
        return st;
    st = chain_install(&c, k);
    if (st == ST_OK)
        st = admit_all(c.lg, e, 1000, &ignored);
    double t1 = bench_now_s();
    uint32_t done = 0;
    if (st == ST_OK)
        st = bench_chain_drain(&c, NULL, &done);
    *rate = done / (bench_now_s() - t1);
    bench_chain_close(&c);
    return st;
}

/* Batched admission of the same envelopes into a fresh ledger at dir-bN. */
static status bench_admit_batched(const char *dir, const keypair *k, const envelopes *e,
                                  uint32_t batch, double *rate)
{
    char sub[160];
    snprintf(sub, sizeof sub, "%s-b%u", dir, batch);
    bench_chain c;
    status st = chain_fresh(sub, k, false, false, &c);
    if (st == ST_OK)
        st = admit_all(c.lg, e, batch, rate);
    bench_chain_close(&c);
    return st;
}

/* The auditor's replay of the chain at dir (scheduler_replay, as `tally replay`) with
 * `threads` signature-checking threads (0: the default): *rate receives its `messages` per
 * second. A divergence is a failure (ST_BUG_INVARIANT). */
static status bench_replay(const char *dir, uint32_t threads, uint32_t messages, double *rate)
{
    char work[160];
    snprintf(work, sizeof work, "%s-replay%u", dir, threads);
    scheduler_divergence div;
    scheduler_replay_options opt = {.threads = threads};
    double t0 = bench_now_s();
    status st = scheduler_replay(dir, work, &opt, &div, NULL);
    *rate = messages / (bench_now_s() - t0);
    if (st == ST_OK && div.height) {
        fprintf(stderr, "tally bench node: replay diverged at block %llu: %s\n",
                (unsigned long long)div.height, div.what);
        st = BUG();
    }
    return st;
}

/* Part 1: admission (per message, then in batches of 100 and 1000), then rounds, on durable
 * ledgers under dir, then their replay. */
static status bench_inprocess(const char *dir, uint32_t n, bool json)
{
    keypair k;
    bench_chain c;
    status st = bench_key_new(&k);
    if (st == ST_OK)
        st = chain_fresh(dir, &k, false, true, &c);
    if (st != ST_OK)
        return st;
    envelopes e = {0};
    double one = 0, b100 = 0, b1000 = 0;
    st = chain_install(&c, &k);
    if (st == ST_OK)
        st = envelopes_make(&e, &k, n);
    if (st == ST_OK)
        st = bench_admit_batched(dir, &k, &e, 100, &b100);
    if (st == ST_OK)
        st = bench_admit_batched(dir, &k, &e, 1000, &b1000);
    if (st == ST_OK)
        st = admit_all(c.lg, &e, 1, &one); /* these are the ones the rounds execute */
    double t1 = bench_now_s();
    uint32_t blocks = 0, done = 0;
    if (st == ST_OK)
        st = bench_chain_drain(&c, &blocks, &done);
    double t2 = bench_now_s();
    bench_chain_close(&c);
    double replay1 = 0, replay = 0;
    if (st == ST_OK)
        st = bench_replay(dir, 1, done + 1, &replay1);
    if (st == ST_OK)
        st = bench_replay(dir, 0, done + 1, &replay);
    double no_fees = 0;
    if (st == ST_OK)
        st = bench_exec_no_fees(dir, &k, &e, &no_fees);
    if (st == ST_OK && json)
        printf("{\"bench\":\"node\",\"part\":\"in-process\",\"messages\":%u,\"blocks\":%u,"
               "\"admit_per_s\":%.0f,\"admit_batch100_per_s\":%.0f,"
               "\"admit_batch1000_per_s\":%.0f,\"exec_commit_per_s\":%.0f,"
               "\"replay_1_thread_per_s\":%.0f,\"replay_per_s\":%.0f,"
               "\"exec_commit_no_fees_per_s\":%.0f}\n",
               n, blocks, one, b100, b1000, done / (t2 - t1), replay1, replay, no_fees);
    else if (st == ST_OK)
        printf("in process (durable ledger, one fsync per commit):\n"
               "  admission, one commit per message:    %8.0f messages/s\n"
               "  admission, batches of 100:            %8.0f messages/s  (%.1fx)\n"
               "  admission, batches of 1000:           %8.0f messages/s  (%.1fx)\n"
               "  execution + commit (%u blocks):        %8.0f messages/s  (%.1f us/message)\n"
               "  replay, 1 signature thread:           %8.0f messages/s\n"
               "  replay, %2u signature threads:         %8.0f messages/s  (%.1fx)\n"
               "  execution + commit, chain without fees: %6.0f messages/s  (fees on: %.2fx)\n",
               one, b100, b100 / one, b1000, b1000 / one, blocks, done / (t2 - t1),
               1e6 * (t2 - t1) / (done ? done : 1), replay1, scheduler_replay_threads(0), replay,
               replay / replay1, no_fees, no_fees > 0 ? done / (t2 - t1) / no_fees : 0);
    envelopes_fini(&e);
    return st;
}

/* ---- --tiers: execution + commit, interpreter against compiled tier, interleaved ------------ */

static double cpu_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One execution + commit run of the envelopes on a fresh chain at dir-RUN in `tier` (the
 * install, which compiles the counter in the compiled tier, and admission are not timed):
 * *wall and *cpu receive the microseconds per message of the rounds alone (CPU: this process's,
 * so the fsync wait and other processes' load are not in it). */
static status tiers_run(const char *dir, int run, const char *tier, const keypair *k,
                        const envelopes *e, double *wall, double *cpu)
{
    char sub[160];
    snprintf(sub, sizeof sub, "%s-%s%d", dir, tier, run);
    const char *saved = bench_tier;
    bench_tier = tier;
    bench_chain c;
    double ignored;
    status st = chain_fresh(sub, k, false, true, &c);
    bench_tier = saved;
    if (st != ST_OK)
        return st;
    st = chain_install(&c, k);
    if (st == ST_OK)
        st = admit_all(c.lg, e, 1000, &ignored);
    uint64_t compiled = 0, failed = 0;
    scheduler_tier_counts(c.s, &compiled, &failed);
    if (st == ST_OK && (compiled > 0) != !strcmp(tier, "compiled")) {
        fprintf(stderr, "tally bench node: the %s run did not run in its tier\n", tier);
        st = ST_IO_ERROR;
    }
    double t0 = bench_now_s(), c0 = cpu_now_s();
    uint32_t done = 0;
    if (st == ST_OK)
        st = bench_chain_drain(&c, NULL, &done);
    double t1 = bench_now_s(), c1 = cpu_now_s();
    if (st == ST_OK && done != e->n)
        st = BUG();
    *wall = 1e6 * (t1 - t0) / (done ? done : 1);
    *cpu = 1e6 * (c1 - c0) / (done ? done : 1);
    bench_chain_close(&c);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { TIERS_MAX_REPEAT = 20 };

/* --tiers: the same n messages executed and committed `repeat` times in each tier, the tiers
 * alternating (interp, compiled, compiled, interp, ...: neither always goes first); per run and
 * median microseconds per message, wall and CPU, and the ratios compiled / interp. */
static status bench_tiers(const char *dir, uint32_t n, int repeat, bool json)
{
    keypair k;
    envelopes e = {0};
    status st = bench_key_new(&k);
    if (st == ST_OK)
        st = envelopes_make(&e, &k, n);
    double wall[2][TIERS_MAX_REPEAT], cpu[2][TIERS_MAX_REPEAT];
    const char *names[2] = {"interp", "compiled"};
    if (!json && st == ST_OK)
        printf("execution + commit, %u messages per run, in each tier alternately (us/message):\n"
               "  %-4s %-9s %10s %10s\n",
               n, "run", "tier", "wall", "CPU");
    for (int r = 0; r < repeat && st == ST_OK; r++) {
        for (int j = 0; j < 2 && st == ST_OK; j++) {
            int t = r % 2 ? 1 - j : j;
            st = tiers_run(dir, r, names[t], &k, &e, &wall[t][r], &cpu[t][r]);
            if (st == ST_OK && !json)
                printf("  %-4d %-9s %10.2f %10.2f\n", r + 1, names[t], wall[t][r], cpu[t][r]);
            fflush(stdout);
        }
    }
    envelopes_fini(&e);
    if (st != ST_OK)
        return st;
    double mw[2], mc[2];
    for (int t = 0; t < 2; t++) {
        mw[t] = median(wall[t], repeat);
        mc[t] = median(cpu[t], repeat);
    }
    if (json)
        printf("{\"bench\":\"node\",\"part\":\"tiers\",\"messages\":%u,\"runs\":%d,"
               "\"interp_us\":%.3f,\"interp_cpu_us\":%.3f,\"compiled_us\":%.3f,"
               "\"compiled_cpu_us\":%.3f,\"wall_ratio\":%.3f,\"cpu_ratio\":%.3f}\n",
               n, repeat, mw[0], mc[0], mw[1], mc[1], mw[1] / mw[0], mc[1] / mc[0]);
    else
        printf("  median of %d: interp %.2f us wall, %.2f us CPU; compiled %.2f us wall, %.2f us "
               "CPU\n  compiled / interp: %.3fx wall, %.3fx CPU\n",
               repeat, mw[0], mc[0], mw[1], mc[1], mw[1] / mw[0], mc[1] / mc[0]);
    return ST_OK;
}

/* The tally binary whose `node` the bench starts (--node-exe; NULL: this one). */
static const char *node_exe;

/* Starts `tally node` on dir (after `tally init`) with the options `extra` (NULL-terminated);
 * returns its pid and URL. */
static pid_t start_node_with(const char *dir, const char *const *extra, char *url, size_t cap)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stdout);
        (void)devnull;
        devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        const char *args[24] = {"tally", "node", "--dir", dir, "--listen", "127.0.0.1:0"};
        size_t n = 6;
        for (size_t i = 0; extra[i] && n + 1 < BASE_ARRAY_LEN(args); i++)
            args[n++] = extra[i];
        if (bench_tier && n + 3 < BASE_ARRAY_LEN(args)) {
            args[n++] = "--tier";
            args[n++] = bench_tier;
        }
        execv(node_exe ? node_exe : "/proc/self/exe", (char *const *)args);
        _exit(127);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/node.url", dir);
    for (int i = 0; pid > 0 && i < 200; i++) { /* up to 10 s */
        FILE *f = fopen(path, "r");
        if (f) {
            bool ok = fgets(url, (int)cap, f) != NULL;
            fclose(f);
            url[strcspn(url, "\r\n")] = '\0';
            if (ok && url[0])
                return pid;
        }
        usleep(50000);
    }
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

static pid_t start_node(const char *dir, const char *threads, char *url, size_t cap)
{
    const char *extra[] = {threads ? "--threads" : NULL, threads, NULL};
    return start_node_with(dir, extra, url, cap);
}

/* RPC `method` with {"envelope"} or {"message_id"}; *out gets the result (caller frees). */
static status call1(const char *url, const char *method, const char *key, const char *val,
                    json_t **out)
{
    rpc_error err;
    json_t *params = json_pack("{s:s}", key, val);
    if (!params)
        return ST_OUT_OF_MEMORY;
    status st = rpc_client_call(url, method, params, out, &err);
    json_decref(params);
    return st;
}

/* Submits an envelope and returns its message id (hex, caller's buffer). */
static status submit(const char *url, const char *method, const buf *env, char id[65])
{
    char *hex = cli_hex_new(env->ptr, env->len);
    json_t *res = NULL;
    status st = hex ? call1(url, method, "envelope", hex, &res) : ST_OUT_OF_MEMORY;
    const char *mid = st == ST_OK ? json_string_value(json_object_get(res, "message_id")) : NULL;
    if (st == ST_OK && (!mid || strlen(mid) != 64))
        st = ST_RPC_ERROR;
    if (st == ST_OK)
        memcpy(id, mid, 65);
    json_decref(res);
    base_free(hex);
    return st;
}

/* Polls `receipt` while it says pending (60 s at most); an unknown message is an error. */
static status wait_receipt(const char *url, const char *id, json_t **out)
{
    for (int i = 0; i < 60000; i++) {
        status st = call1(url, "receipt", "message_id", id, out);
        if (st != ST_OK || !json_is_true(json_object_get(*out, "pending")))
            return st;
        json_decref(*out);
        *out = NULL;
        usleep(1000);
    }
    return ST_RECEIPT_TIMEOUT;
}

/* One client connection's share of the RPC run: signs and submits count messages with
 * nonces first.. one by one (or `batch` per JSON-RPC batch request), remembers the last id. */
typedef struct rpc_worker {
    const char *url;
    const keypair *k;
    uint64_t first;
    uint32_t count, batch;
    status st;
    char last_id[65];
    pthread_t thread;
} rpc_worker;

/* One JSON-RPC batch request of n submits (nonces first..); every answer must be a result. */
static status submit_batch(rpc_worker *w, uint64_t first, uint32_t n)
{
    json_t *reqs = json_array();
    buf env = {0};
    status st = reqs ? ST_OK : ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        st = sign(w->k, first + i, 1, &env);
        json_t *r = st == ST_OK
                        ? rpc_client_submit_request(span_of(env.ptr, env.len), (json_int_t)i)
                        : NULL;
        if (st == ST_OK && (!r || json_array_append_new(reqs, r) != 0))
            st = ST_OUT_OF_MEMORY;
    }
    json_t *out = NULL;
    rpc_error err;
    if (st == ST_OK)
        st = rpc_client_batch(w->url, reqs, &out, &err);
    if (st == ST_OK && json_array_size(out) != n)
        st = ST_RPC_ERROR;
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        json_t *res = json_object_get(json_array_get(out, i), "result");
        const char *mid = json_string_value(json_object_get(res, "message_id"));
        if (!mid || strlen(mid) != 64)
            st = ST_RPC_ERROR;
        else
            memcpy(w->last_id, mid, 65);
    }
    json_decref(out);
    json_decref(reqs);
    buf_fini(&env);
    return st;
}

static void *rpc_worker_main(void *arg)
{
    rpc_worker *w = arg;
    buf env = {0};
    w->st = ST_OK;
    for (uint32_t i = 0; w->st == ST_OK && i < w->count; i += w->batch) {
        uint32_t k = w->count - i < w->batch ? w->count - i : w->batch;
        if (w->batch > 1) {
            w->st = submit_batch(w, w->first + i, k);
            continue;
        }
        w->st = sign(w->k, w->first + i, 1, &env);
        if (w->st == ST_OK)
            w->st = submit(w->url, "submit", &env, w->last_id);
    }
    buf_fini(&env);
    return NULL;
}

/* The node's admission counters (`status`.admission). */
static status admit_counters(const char *url, uint64_t *commits, uint64_t *admitted)
{
    rpc_error err;
    json_t *r = NULL;
    status st = rpc_client_call(url, "status", NULL, &r, &err);
    json_t *a = json_object_get(r, "admission");
    *commits = (uint64_t)json_integer_value(json_object_get(a, "commits"));
    *admitted = (uint64_t)json_integer_value(json_object_get(a, "admitted"));
    json_decref(r);
    return st;
}

typedef struct rpc_figure {
    double submit_per_s, end_to_end_per_s, group; /* group: messages per mempool commit */
} rpc_figure;

/* Submits n messages (nonces from *nonce on) over `conns` connections, `batch` per HTTP
 * request, and waits for every connection's last receipt. */
static status rpc_run(const char *url, const keypair *k, uint64_t *nonce, uint32_t n,
                      uint32_t conns, uint32_t batch, rpc_figure *f)
{
    if (conns > n)
        conns = n; /* every connection sends at least one message */
    rpc_worker *w = base_calloc(conns, sizeof *w);
    uint64_t c0, a0, c1, a1;
    status st = w ? admit_counters(url, &c0, &a0) : ST_OUT_OF_MEMORY;
    uint32_t started = 0;
    double t0 = bench_now_s();
    for (uint32_t i = 0; st == ST_OK && i < conns; i++, started++) {
        w[i] = (rpc_worker){.url = url,
                            .k = k,
                            .first = *nonce + (uint64_t)i * (n / conns),
                            .count = n / conns,
                            .batch = batch};
        if (pthread_create(&w[i].thread, NULL, rpc_worker_main, &w[i]) != 0)
            st = ST_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        if (st == ST_OK)
            st = w[i].st;
    }
    double t1 = bench_now_s();
    for (uint32_t i = 0; st == ST_OK && i < conns; i++) {
        json_t *rc = NULL;
        st = wait_receipt(url, w[i].last_id, &rc);
        json_decref(rc);
    }
    double t2 = bench_now_s();
    if (st == ST_OK)
        st = admit_counters(url, &c1, &a1);
    uint32_t sent = n / conns * conns;
    *nonce += sent;
    f->submit_per_s = sent / (t1 - t0);
    f->end_to_end_per_s = sent / (t2 - t0);
    f->group = st == ST_OK && c1 > c0 ? (double)(a1 - a0) / (double)(c1 - c0) : 0;
    base_free(w);
    return st;
}

/* The RPC runs: connections x messages per HTTP request. The first is the old figure. */
static const struct {
    uint32_t conns, batch;
    const char *name;
} rpc_runs[] = {
    {1, 1, "1 connection, one submit per request"},
    {4, 1, "4 connections"},
    {16, 1, "16 connections"},
    {64, 1, "64 connections"},
    {1, 100, "1 connection, JSON-RPC batches of 100"},
};

static void rpc_print(uint32_t n, const rpc_figure *f, bool json)
{
    if (json) {
        printf("{\"bench\":\"node\",\"part\":\"rpc\",\"messages\":%u,\"runs\":[", n);
        for (size_t i = 0; i < BASE_ARRAY_LEN(rpc_runs); i++)
            printf("%s{\"connections\":%u,\"per_request\":%u,\"submit_per_s\":%.0f,"
                   "\"end_to_end_per_s\":%.0f,\"per_commit\":%.1f}",
                   i ? "," : "", rpc_runs[i].conns, rpc_runs[i].batch, f[i].submit_per_s,
                   f[i].end_to_end_per_s, f[i].group);
        printf("]}\n");
        return;
    }
    printf("over JSON-RPC (a node process, signing included; %u messages per run):\n"
           "  %-40s %8s %8s %6s %10s\n",
           n, "", "submit/s", "ratio", "e2e/s", "per commit");
    for (size_t i = 0; i < BASE_ARRAY_LEN(rpc_runs); i++)
        printf("  %-40s %8.0f %5.1fx %8.0f %10.1f\n", rpc_runs[i].name, f[i].submit_per_s,
               f[i].submit_per_s / f[0].submit_per_s, f[i].end_to_end_per_s, f[i].group);
}

/* `tally init --dir dir` without its report on stdout (kept out of the bench's output), then
 * the admin key. */
static status init_quiet(const char *dir, keypair *k)
{
    char *argv_init[] = {"init", "--dir", (char *)dir, NULL};
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && null >= 0)
        dup2(null, STDOUT_FILENO);
    int init_rc = cmd_init(3, argv_init);
    fflush(stdout);
    if (saved >= 0 && null >= 0)
        dup2(saved, STDOUT_FILENO);
    if (saved >= 0)
        close(saved);
    if (null >= 0)
        close(null);
    if (init_rc != 0)
        return ST_IO_ERROR;
    char path[512];
    snprintf(path, sizeof path, "%s/admin.key", dir);
    return cli_key_read(path, k->pk, k->sk);
}

/* Installs `module` (nonce 1) over RPC and waits for its receipt: canister 1. */
static status deploy_rpc(const char *url, const keypair *k, span module)
{
    buf env = {0};
    char id[65];
    json_t *rc = NULL;
    status st = sign_with(k, 1, 0, module, &env);
    if (st == ST_OK)
        st = submit(url, "deploy", &env, id);
    if (st == ST_OK)
        st = wait_receipt(url, id, &rc);
    if (st == ST_OK && json_integer_value(json_object_get(rc, "status")) != ST_OK)
        st = ST_RPC_ERROR;
    json_decref(rc);
    buf_fini(&env);
    return st;
}

/* Part 2: a node process and JSON-RPC submissions. */
static status bench_rpc(const char *dir, uint32_t n, const char *threads, bool json)
{
    keypair k;
    char url[256];
    status st = init_quiet(dir, &k);
    pid_t pid = st == ST_OK ? start_node(dir, threads, url, sizeof url) : -1;
    if (pid < 0)
        return st == ST_OK ? ST_IO_ERROR : st;
    st = deploy_rpc(url, &k, bench_counter_wasm());
    rpc_figure f[BASE_ARRAY_LEN(rpc_runs)] = {{0}};
    uint64_t nonce = 2;
    for (size_t i = 0; st == ST_OK && i < BASE_ARRAY_LEN(rpc_runs); i++)
        st = rpc_run(url, &k, &nonce, n, rpc_runs[i].conns, rpc_runs[i].batch, &f[i]);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (st == ST_OK)
        rpc_print(n, f, json);
    return st;
}

/* ---- part 3: updates while clients run maximal queries ----------------------------------- */

/* One client that runs `spin` (a query stopped by the query instruction limit) over and over
 * until told to stop. */
typedef struct query_client {
    const char *url;
    volatile bool *stop; /* set by the bench thread; read after each query (a hint only) */
    pthread_mutex_t *mu; /* guards stop */
    uint64_t run, refused, timed_out, instructions;
    status st;
    pthread_t thread;
} query_client;

static bool client_stopped(query_client *c)
{
    pthread_mutex_lock(c->mu);
    bool stop = *c->stop;
    pthread_mutex_unlock(c->mu);
    return stop;
}

static void *query_client_main(void *arg)
{
    query_client *c = arg;
    json_t *params = json_pack("{s:I, s:s}", "canister", (json_int_t)1, "method", "spin");
    c->st = params ? ST_OK : ST_OUT_OF_MEMORY;
    while (c->st == ST_OK && !client_stopped(c)) {
        json_t *res = NULL;
        rpc_error err;
        status st = rpc_client_call(c->url, "query", params, &res, &err);
        if (client_stopped(c)) { /* ended after the measurement: not counted */
            json_decref(res);
            break;
        }
        if (st == ST_OK) {
            c->run++;
            c->instructions += (uint64_t)json_integer_value(json_object_get(res, "instructions"));
        } else if (st == ST_RPC_ERROR && (!strcmp(err.status, "QUERY_BUSY") ||
                                          !strcmp(err.status, "QUERY_BUDGET_EXCEEDED"))) {
            c->refused++;
            usleep(20000); /* refused at once: do not spin on refusals */
        } else if (st == ST_IO_ERROR) {
            c->timed_out++; /* waited 30 s behind other maximal queries: the node was busy */
        } else {
            c->st = st;
            fprintf(stderr, "tally bench node: query: %s\n", err.message);
        }
        json_decref(res);
    }
    json_decref(params);
    return NULL;
}

typedef struct load_figure {
    uint32_t updates;
    double latency_ms; /* mean submit-to-receipt time of one update */
    double max_latency_ms;
    double blocks_per_s;       /* blocks the node made during the updates */
    uint64_t queries, refused; /* refused: QUERY_BUSY, over budget, or the client timed out */
    double query_instr_per_s;
} load_figure;

static status chain_height(const char *url, uint64_t *h)
{
    rpc_error err;
    json_t *r = NULL;
    status st = rpc_client_call(url, "status", NULL, &r, &err);
    *h = (uint64_t)json_integer_value(json_object_get(r, "height"));
    json_decref(r);
    return st;
}

/* `inc` updates one after the other (each submitted when the last has its receipt), at least
 * n of them and for at least LOAD_SECONDS, while `clients` query clients run `spin`. */
enum { LOAD_SECONDS = 20 };
static status load_run(const char *url, const keypair *k, uint64_t *nonce, uint32_t n,
                       uint32_t clients, load_figure *f)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    volatile bool stop = false;
    query_client qc[8];
    memset(f, 0, sizeof *f);
    memset(qc, 0, sizeof qc);
    uint32_t started = 0;
    status st = ST_OK;
    for (; started < clients && started < BASE_ARRAY_LEN(qc); started++) {
        qc[started] = (query_client){.url = url, .stop = &stop, .mu = &mu};
        if (pthread_create(&qc[started].thread, NULL, query_client_main, &qc[started]) != 0) {
            st = ST_OUT_OF_MEMORY;
            break;
        }
    }
    if (clients)
        usleep(500000); /* let every client have a query running or queued */
    uint64_t h0 = 0, h1 = 0;
    if (st == ST_OK)
        st = chain_height(url, &h0);
    buf env = {0};
    double t0 = bench_now_s();
    uint32_t done = 0;
    for (; st == ST_OK && (done < n || bench_now_s() - t0 < LOAD_SECONDS); done++) {
        char id[65];
        json_t *rc = NULL;
        double u0 = bench_now_s();
        st = sign(k, (*nonce)++, 1, &env);
        if (st == ST_OK)
            st = submit(url, "submit", &env, id);
        if (st == ST_OK)
            st = wait_receipt(url, id, &rc);
        json_decref(rc);
        double ms = (bench_now_s() - u0) * 1e3;
        f->latency_ms += ms;
        if (ms > f->max_latency_ms)
            f->max_latency_ms = ms;
    }
    double t1 = bench_now_s();
    f->latency_ms /= done ? done : 1;
    f->updates = done;
    if (st == ST_OK)
        st = chain_height(url, &h1);
    f->blocks_per_s = (double)(h1 - h0) / (t1 - t0);
    pthread_mutex_lock(&mu);
    stop = true;
    pthread_mutex_unlock(&mu);
    for (uint32_t i = 0; i < started; i++) {
        pthread_join(qc[i].thread, NULL);
        if (st == ST_OK && qc[i].st != ST_OK)
            st = qc[i].st;
        f->queries += qc[i].run;
        f->refused += qc[i].refused + qc[i].timed_out;
        f->query_instr_per_s += (double)qc[i].instructions / (t1 - t0);
    }
    buf_fini(&env);
    return st;
}

/* Part 3 (--queries): update latency and block rate, idle and with 4 clients running maximal
 * queries, on a node with no query budget (the workers alone keep rounds going), then with the
 * default budget. */
static status bench_queries(const char *dir, uint32_t n, bool json)
{
    keypair k;
    char url[256];
    status st = init_quiet(dir, &k);
    const char *no_budget[] = {"--query-budget", "0", "--interval", "10", NULL};
    const char *budget[] = {"--interval", "10", NULL};
    const char *names[] = {"idle", "4 clients of maximal queries, no budget",
                           "4 clients of maximal queries, default budget"};
    load_figure f[3];
    uint64_t nonce = 2;
    int runs = 2;
    if (node_exe) { /* another build's node: no query options, one loaded run */
        no_budget[0] = "--interval";
        no_budget[1] = "10";
        no_budget[2] = NULL;
        names[1] = "4 clients of maximal queries (--node-exe)";
        runs = 1;
    }
    for (int run = 0; run < runs && st == ST_OK; run++) {
        pid_t pid = start_node_with(dir, run == 0 ? no_budget : budget, url, sizeof url);
        if (pid < 0)
            return ST_IO_ERROR;
        if (run == 0)
            st = deploy_rpc(url, &k, bench_counter_wasm());
        if (st == ST_OK && run == 0)
            st = load_run(url, &k, &nonce, n, 0, &f[0]);
        if (st == ST_OK)
            st = load_run(url, &k, &nonce, n, 4, &f[run + 1]);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (st != ST_OK)
        return st;
    if (json) {
        printf("{\"bench\":\"node\",\"part\":\"queries\",\"updates\":%u,\"runs\":[", n);
        for (int i = 0; i < runs + 1; i++)
            printf("%s{\"name\":\"%s\",\"updates\":%u,\"update_latency_ms\":%.2f,"
                   "\"max_latency_ms\":%.2f,"
                   "\"blocks_per_s\":%.2f,\"queries\":%llu,\"refused\":%llu,"
                   "\"query_instructions_per_s\":%.3g,\"latency_ratio\":%.2f}",
                   i ? "," : "", names[i], f[i].updates, f[i].latency_ms, f[i].max_latency_ms,
                   f[i].blocks_per_s, (unsigned long long)f[i].queries,
                   (unsigned long long)f[i].refused, f[i].query_instr_per_s,
                   f[i].latency_ms / f[0].latency_ms);
        printf("]}\n");
        return ST_OK;
    }
    printf("updates under query load (a node process, --interval 10; sequential updates, at\n"
           "least %u and %d s per run; `spin` queries stop at the query limit, 5e9 instructions;\n"
           "refused: busy, over budget or the client's 30 s timeout):\n"
           "  %-44s %7s %10s %7s %9s %8s %7s %7s %10s\n",
           n, LOAD_SECONDS, "", "updates", "latency", "ratio", "max", "blocks/s", "queries",
           "refused", "query ins/s");
    for (int i = 0; i < runs + 1; i++)
        printf("  %-44s %7u %7.1f ms %6.2fx %6.1f ms %8.1f %7llu %7llu %10.3g\n", names[i],
               f[i].updates, f[i].latency_ms, f[i].latency_ms / f[0].latency_ms,
               f[i].max_latency_ms, f[i].blocks_per_s, (unsigned long long)f[i].queries,
               (unsigned long long)f[i].refused, f[i].query_instr_per_s);
    return ST_OK;
}

int bench_node(int argc, char **argv)
{
    uint32_t n = 20000;
    bool json = false, rpc = true, inproc = true, queries = false, calls = false, tiers = false;
    int repeat = 3;
    const char *threads = NULL;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--messages") && i + 1 < argc && cli_u64_parse(argv[++i], &v) &&
            v > 0 && v <= 10000000)
            n = (uint32_t)v;
        else if (!strcmp(argv[i], "--node-threads") && i + 1 < argc &&
                 cli_u64_parse(argv[i + 1], &v) && v >= 1 && v <= 64)
            threads = argv[++i];
        else if (!strcmp(argv[i], "--no-inprocess"))
            inproc = false;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--no-rpc"))
            rpc = false;
        else if (!strcmp(argv[i], "--queries"))
            queries = true;
        else if (!strcmp(argv[i], "--node-exe") && i + 1 < argc)
            node_exe = argv[++i];
        else if (!strcmp(argv[i], "--calls"))
            calls = true;
        else if (!strcmp(argv[i], "--tiers"))
            tiers = true;
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc && cli_u64_parse(argv[++i], &v) &&
                 v >= 1 && v <= TIERS_MAX_REPEAT)
            repeat = (int)v;
        else if (!strcmp(argv[i], "--tier") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "interp") || !strcmp(argv[i + 1], "compiled") ||
                  !strcmp(argv[i + 1], "quick") || !strcmp(argv[i + 1], "auto")))
            bench_tier = argv[++i];
        else {
            fprintf(stderr,
                    "usage: tally bench node [--messages N] [--no-rpc] [--no-inprocess]\n"
                    "                        [--node-threads T] [--queries] [--calls]\n"
                    "                        [--node-exe TALLY]\n"
                    "                        [--tier interp|compiled|quick|auto]\n"
                    "                        [--tiers [--repeat R]] [--json]\n\n"
                    "Small update messages per second: in process (admission one by\n"
                    "one and in batches, execution + durable commit, then the replay\n"
                    "of that chain with 1 and with the default signature threads) and over\n"
                    "JSON-RPC to a node process (1 to 64 connections, and JSON-RPC\n"
                    "batches: group commit of admissions). --node-threads: the node's\n"
                    "--threads (default: the node's default).\n"
                    "--queries: instead, update latency and block rate on a node that is\n"
                    "idle and then serving 4 clients of maximal queries (5e9\n"
                    "instructions each), without and with the query budget; N/1000\n"
                    "updates per run (default 20). --node-exe: start the node of another\n"
                    "tally binary (an older build: before/after figures; --queries passes it\n"
                    "no query options and runs idle and one loaded run).\n"
                    "--calls: instead, the node time of one inter-canister request +\n"
                    "reply: N/10 ingress messages making 10 calls each, less the same\n"
                    "messages making none (in process, durable ledger).\n"
                    "--tier: the engine tier of the in-process scheduler and of the node\n"
                    "(default: interp in process, the node's default, auto, over RPC).\n"
                    "--tiers: instead, execution + commit of the same N messages in the\n"
                    "interpreter and in the compiled tier, alternating, R runs each (default\n"
                    "3, at most 20): wall and CPU microseconds per message, medians and the\n"
                    "ratios compiled / interp.\n");
            return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
        }
    }
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tally-bench-node-XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "tally bench node: IO_ERROR: cannot create a temporary directory\n");
        return 1;
    }
    char sub[96], cmd[160];
    snprintf(sub, sizeof sub, "%s/inproc", dir);
    status st = ST_OK;
    if (queries) {
        snprintf(sub, sizeof sub, "%s/queries", dir);
        st = bench_queries(sub, n / 1000 ? n / 1000 : 1, json);
        inproc = rpc = false;
    }
    if (calls) {
        snprintf(sub, sizeof sub, "%s/calls", dir);
        st = bench_calls(sub, n / 10 ? n / 10 : 1, json);
        inproc = rpc = false;
    }
    if (tiers) {
        snprintf(sub, sizeof sub, "%s/tiers", dir);
        st = bench_tiers(sub, n, repeat, json);
        inproc = rpc = false;
    }
    if (st == ST_OK && inproc)
        st = bench_inprocess(sub, n, json);
    if (st == ST_OK && rpc) {
        snprintf(sub, sizeof sub, "%s/rpc", dir);
        st = bench_rpc(sub, n / 4 ? n / 4 : 1, threads, json);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tally bench node: could not remove %s\n", dir);
    if (st != ST_OK) {
        fprintf(stderr, "tally bench node: %s: %s\n", status_name(st), status_message(st));
        return 1;
    }
    return 0;
}
