/* bench_node.c - `tally bench node`: small update messages per second, end to end.
 *
 * Part 1, in process: N signed update messages to a one-page counter canister are admitted
 * into a durable ledger (signature check + mempool write, timed on its own), then rounds run
 * until every message has a receipt. The rate of the rounds alone is "execution + commit":
 * execution, dirty pages, state root, receipts and one fsync'd LMDB commit per block.
 * Part 2, over RPC: a real `tally node` child process on a free loopback port; the same kind of
 * messages are submitted one by one over HTTP (JSON-RPC `submit`) and the clock stops when the
 * last receipt is there. The difference to part 1 is the RPC overhead.
 * Nothing here is a test: `meson test` never runs it (docs/benchmarks.md). */
#include "rpc.h"
#include "scheduler.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* (module (import "ic0" "msg_reply" ...) (memory 1) (func (export "canister_update inc")
 *   mem[0] += 1; msg_reply)), from wat2wasm 1.0.32 */
static const uint8_t inc_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x02,
    0x11, 0x01, 0x03, 0x69, 0x63, 0x30, 0x09, 0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c,
    0x79, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x20, 0x02,
    0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x13, 0x63, 0x61, 0x6e, 0x69, 0x73,
    0x74, 0x65, 0x72, 0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x69, 0x6e, 0x63, 0x00,
    0x01, 0x0a, 0x13, 0x01, 0x11, 0x00, 0x41, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x41, 0x01,
    0x6a, 0x36, 0x02, 0x00, 0x10, 0x00, 0x0b};

typedef struct keypair {
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
} keypair;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Signs message `nonce` (an `inc` update, or the install when canister is 0) into env. */
static status sign(const keypair *k, uint64_t nonce, uint64_t canister, buf *env)
{
    buf arg = {0};
    status st = ST_OK;
    if (!canister)
        st = scheduler_install_arg(span_of(inc_wasm, sizeof inc_wasm), span_of(NULL, 0), &arg);
    ledger_message m = {.nonce = nonce, .canister_id = canister,
                        .kind = canister ? LEDGER_MSG_UPDATE : LEDGER_MSG_INSTALL,
                        .method = canister ? span_of("inc", 3) : span_of(NULL, 0),
                        .arg = span_of(arg.ptr, arg.len), .expiry_height = UINT64_MAX / 2};
    memcpy(m.sender, k->pk, sizeof k->pk);
    uint8_t id[LEDGER_HASH_SIZE];
    env->len = 0;
    if (st == ST_OK)
        st = ledger_message_sign(&m, k->sk, env, id);
    buf_fini(&arg);
    return st;
}

/* Part 1: admission, then rounds, on a durable ledger in dir. */
static status bench_inprocess(const char *dir, uint32_t n, bool json)
{
    keypair k;
    ledger *lg = NULL;
    scheduler *s = NULL;
    ledger_genesis g;
    scheduler_limits lim;
    status st = ledger_keypair(NULL, k.pk, k.sk);
    scheduler_genesis_default(&g, &lim);
    memcpy(g.admin_public_key, k.pk, sizeof k.pk);
    if (st == ST_OK)
        st = ledger_open(dir, NULL, &lg);
    if (st == ST_OK)
        st = scheduler_genesis_new(lg, &g, &lim);
    if (st == ST_OK)
        st = scheduler_open(lg, NULL, &s);
    buf env = {0}, all = {0};
    uint8_t id[LEDGER_HASH_SIZE];
    scheduler_round_info info;
    uint64_t t = 1;
    if (st == ST_OK)
        st = sign(&k, 0, 0, &env);
    if (st == ST_OK)
        st = ledger_mempool_add(lg, span_of(env.ptr, env.len), id);
    if (st == ST_OK)
        st = scheduler_round(s, t++, &info);
    size_t *off = base_calloc((size_t)n + 1, sizeof *off);
    for (uint32_t i = 0; st == ST_OK && i < n; i++) { /* client side: not timed */
        st = off ? sign(&k, i + 1, 1, &env) : ST_OUT_OF_MEMORY;
        if (st == ST_OK)
            st = buf_put(&all, env.ptr, env.len);
        if (off)
            off[i + 1] = all.len;
    }
    double t0 = now_s();
    for (uint32_t i = 0; st == ST_OK && i < n; i++)
        st = ledger_mempool_add(lg, span_of(all.ptr + off[i], off[i + 1] - off[i]), id);
    double t1 = now_s();
    uint32_t blocks = 0, done = 0;
    while (st == ST_OK && scheduler_has_work(s)) {
        st = scheduler_round(s, t++, &info);
        blocks++;
        done += info.completed;
    }
    double t2 = now_s();
    if (st == ST_OK && json)
        printf("{\"bench\":\"node\",\"part\":\"in-process\",\"messages\":%u,\"blocks\":%u,"
               "\"admit_per_s\":%.0f,\"exec_commit_per_s\":%.0f}\n",
               n, blocks, n / (t1 - t0), done / (t2 - t1));
    else if (st == ST_OK)
        printf("in process (durable ledger, fsync per block):\n"
               "  admission (signature + mempool write): %8.0f messages/s\n"
               "  execution + commit (%u blocks):        %8.0f messages/s  (%.1f us/message)\n",
               n / (t1 - t0), blocks, done / (t2 - t1), 1e6 * (t2 - t1) / (done ? done : 1));
    base_free(off);
    buf_fini(&env);
    buf_fini(&all);
    scheduler_close(s);
    ledger_close(lg);
    return st;
}

/* Starts `tally node` on dir (after `tally init`); returns its pid and URL. */
static pid_t start_node(const char *dir, char *url, size_t cap)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stdout);
        (void)devnull;
        devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        execl("/proc/self/exe", "tally", "node", "--dir", dir, "--listen", "127.0.0.1:0",
              (char *)NULL);
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

/* Polls `receipt` until it is there (10 s at most). */
static status wait_receipt(const char *url, const char *id, json_t **out)
{
    for (int i = 0; i < 10000; i++) {
        status st = call1(url, "receipt", "message_id", id, out);
        if (st != ST_OK || !json_is_null(*out))
            return st;
        json_decref(*out);
        usleep(1000);
    }
    return ST_RECEIPT_TIMEOUT;
}

/* Part 2: a node process and JSON-RPC submissions. */
static status bench_rpc(const char *dir, uint32_t n, bool json)
{
    char *argv_init[] = {"init", "--dir", (char *)dir, NULL};
    FILE *keep = stdout;
    if (cmd_init(3, argv_init) != 0)
        return ST_IO_ERROR;
    fflush(keep);
    keypair k;
    char path[512], url[256];
    snprintf(path, sizeof path, "%s/admin.key", dir);
    status st = cli_key_read(path, k.pk, k.sk);
    pid_t pid = st == ST_OK ? start_node(dir, url, sizeof url) : -1;
    if (pid < 0)
        return st == ST_OK ? ST_IO_ERROR : st;
    buf env = {0};
    char id[65];
    json_t *rc = NULL;
    st = sign(&k, 1, 0, &env);
    if (st == ST_OK)
        st = submit(url, "deploy", &env, id);
    if (st == ST_OK)
        st = wait_receipt(url, id, &rc);
    json_decref(rc);
    double t0 = now_s();
    for (uint32_t i = 0; st == ST_OK && i < n; i++) {
        st = sign(&k, i + 2, 1, &env);
        if (st == ST_OK)
            st = submit(url, "submit", &env, id);
    }
    double t1 = now_s();
    if (st == ST_OK)
        st = wait_receipt(url, id, &rc);
    double t2 = now_s();
    json_decref(rc);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    buf_fini(&env);
    if (st == ST_OK && json)
        printf("{\"bench\":\"node\",\"part\":\"rpc\",\"messages\":%u,\"submit_per_s\":%.0f,"
               "\"end_to_end_per_s\":%.0f}\n", n, n / (t1 - t0), n / (t2 - t0));
    else if (st == ST_OK)
        printf("over JSON-RPC (one client, sequential HTTP requests, signing included):\n"
               "  submit:                                 %8.0f messages/s\n"
               "  submit -> last receipt (end to end):    %8.0f messages/s\n",
               n / (t1 - t0), n / (t2 - t0));
    return st;
}

int bench_node(int argc, char **argv)
{
    uint32_t n = 20000;
    bool json = false, rpc = true;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--messages") && i + 1 < argc && cli_u64_parse(argv[++i], &v) &&
            v > 0 && v <= 10000000)
            n = (uint32_t)v;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--no-rpc"))
            rpc = false;
        else {
            fprintf(stderr, "usage: tally bench node [--messages N] [--no-rpc] [--json]\n\n"
                            "Small update messages per second: in process (admission, then\n"
                            "execution + durable commit) and over JSON-RPC to a node process.\n");
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
    status st = bench_inprocess(sub, n, json);
    if (st == ST_OK && rpc) {
        snprintf(sub, sizeof sub, "%s/rpc", dir);
        st = bench_rpc(sub, n / 4 ? n / 4 : 1, json);
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
