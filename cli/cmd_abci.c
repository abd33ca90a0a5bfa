/* cmd_abci.c - `tally abci`: a validator's application. Serves CometBFT's ABCI socket protocol
 * (abci/) for one node directory and, with --rpc, tally's JSON-RPC front end on the same
 * directory: submits are forwarded to the local CometBFT (`broadcast_tx_sync`, its mempool),
 * queries, receipts, blocks and status are answered from this application's committed state,
 * so every client command works against any validator (docs/replication.md).
 *
 * Threads: this one serves ABCI (every connection, in turn); libmicrohttpd's pool and the RPC
 * server's admitter serve JSON-RPC; the app's lock keeps their scheduler calls apart. */
#include "abci.h"
#include "query_pool.h"
#include "rpc.h"

#include <sodium.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: tally abci [--dir DIR] --listen tcp://IP:PORT|unix://PATH\n"
        "                  [--rpc HOST:PORT --cometbft-rpc URL] [--threads N] [--quiet]\n"
        "                  [--no-sync] [--test-diverge-at HEIGHT]\n\n"
        "Runs tally as the ABCI 2.0 application of a CometBFT v0.38 validator\n"
        "(docs/replication.md): CometBFT connects to --listen (its proxy_app) and drives\n"
        "the chain; DIR (created if absent) gets its genesis from CometBFT's InitChain\n"
        "(chain id, time, and app_state: the admin key and limits). SIGINT or SIGTERM stops\n"
        "it (exit 0); CometBFT replays what this directory lacks when both restart.\n\n"
        "  --dir DIR              node directory (default ./.tally)\n"
        "  --listen ADDR          ABCI address: tcp://127.0.0.1:26658 or unix://PATH\n"
        "  --rpc HOST:PORT        also serve tally's JSON-RPC (docs/rpc.md) here; submits go\n"
        "                         to CometBFT, answers come from this directory; DIR/node.url\n"
        "                         holds the URL while it runs\n"
        "  --cometbft-rpc URL     the local CometBFT's RPC (e.g. http://127.0.0.1:26657/),\n"
        "                         required with --rpc\n"
        "  --threads N            HTTP worker threads, 1-64 (default 8)\n"
        "  --quiet                no per-block log lines\n"
        "  --no-sync              LMDB without fsync (benchmarks only: an OS crash may lose\n"
        "                         committed blocks, which CometBFT then replays)\n"
        "  --test-diverge-at H    TESTS ONLY: perturb this node's state in block H, so that\n"
        "                         its app hash departs from the other validators'\n");
}

typedef struct abci_cmd {
    const char *dir, *listen, *rpc, *cometbft;
    uint64_t threads;
    abci_options opt;
    rpc_server *srv;
    query_pool *queries; /* `query` on replicas of committed state (query_pool.h) */
    abci_app *app;
    int failed; /* the RPC front end could not start */
} abci_cmd;

/* ---- forwarding submits to CometBFT ---------------------------------------------------------- */

/* One JSON-RPC batch of broadcast_tx_sync to CometBFT; each answer's CheckTx code is a tally
 * status (abci/app.c), an error answer means CometBFT refused the transaction itself (its
 * cache already has it: a replay; or its mempool is full). */
static status forward(void *user, size_t n, const span *envs, status *sts)
{
    abci_cmd *c = user;
    json_t *batch = json_array();
    status st = batch ? ST_OK : ST_OUT_OF_MEMORY;
    for (size_t i = 0; st == ST_OK && i < n; i++) {
        size_t cap = sodium_base64_encoded_len(envs[i].len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = base_alloc(cap);
        if (!b64) {
            st = ST_OUT_OF_MEMORY;
            break;
        }
        sodium_bin2base64(b64, cap, envs[i].ptr, envs[i].len, sodium_base64_VARIANT_ORIGINAL);
        json_t *req = json_pack("{s:s, s:I, s:s, s:{s:s}}", "jsonrpc", "2.0", "id", (json_int_t)i,
                                "method", "broadcast_tx_sync", "params", "tx", b64);
        base_free(b64);
        if (!req || json_array_append_new(batch, req) != 0)
            st = ST_OUT_OF_MEMORY;
        sts[i] = ST_IO_ERROR; /* until its answer says otherwise */
    }
    char *body = st == ST_OK ? json_dumps(batch, JSON_COMPACT) : NULL;
    json_decref(batch);
    if (st == ST_OK && !body)
        st = ST_OUT_OF_MEMORY;
    char *resp = NULL;
    size_t resp_len = 0;
    int http = 0;
    rpc_error err = {0};
    if (st == ST_OK)
        st = rpc_client_post(c->cometbft, body, strlen(body), &http, &resp, &resp_len, &err);
    base_free(body);
    if (st != ST_OK) {
        fprintf(stderr, "tally abci: forwarding to CometBFT at %s failed: %s %s\n", c->cometbft,
                status_name(st), err.message);
        return st == ST_OUT_OF_MEMORY ? st : ST_IO_ERROR;
    }
    json_error_t jerr;
    json_t *answers = json_loadb(resp, resp_len, 0, &jerr);
    base_free(resp);
    if (json_is_object(answers)) { /* CometBFT answers a batch of one with a lone object */
        json_t *one = json_array();
        if (one && json_array_append_new(one, answers) == 0) {
            answers = one;
        } else {
            json_decref(one);
            json_decref(answers);
            answers = NULL;
        }
    }
    if (!json_is_array(answers)) {
        json_decref(answers);
        fprintf(stderr, "tally abci: CometBFT answered HTTP %d without a JSON-RPC batch\n", http);
        return ST_IO_ERROR;
    }
    size_t k;
    json_t *a;
    json_array_foreach(answers, k, a)
    {
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        if (id < 0 || (size_t)id >= n)
            continue;
        json_t *res = json_object_get(a, "result"), *e = json_object_get(a, "error");
        if (res) {
            json_int_t code = json_integer_value(json_object_get(res, "code"));
            sts[id] = code == 0 ? ST_OK : (status)code;
        } else if (e) {
            const char *data = json_string_value(json_object_get(e, "data"));
            sts[id] = data && strstr(data, "already exists") ? ST_MESSAGE_REPLAY : ST_IO_ERROR;
            if (sts[id] == ST_IO_ERROR)
                fprintf(stderr, "tally abci: CometBFT refused a transaction: %s\n",
                        data ? data : "(no reason)");
        }
    }
    json_decref(answers);
    return ST_OK;
}

/* ---- the RPC front end -------------------------------------------------------------------- */

static void write_url(const char *dir, uint16_t port, const char *listen)
{
    char path[4200], host[64];
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    if (!colon || hl >= sizeof host || !cli_path_join(path, sizeof path, dir, "node.url"))
        return;
    memcpy(host, listen, hl);
    host[hl] = 0;
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "http://%s:%u/\n", host, port);
        fclose(f);
    }
}

/* `status`.replication: what the application did and where its time went (abci_stats). */
static json_t *status_extra(void *user)
{
    return abci_app_stats_json(((abci_cmd *)user)->app);
}

/* Called by abci_serve once a genesis exists: starts JSON-RPC. */
static void on_ready(void *user, abci_app *app)
{
    abci_cmd *c = user;
    if (!c->rpc)
        return;
    rpc_server_options ro = {.listen = c->rpc,
                             .max_body = 8u << 20,
                             .threads = (unsigned)c->threads,
                             .timeout_s = 30,
                             .wake_fd = -1,
                             .forward = forward,
                             .forward_user = c,
                             .status_extra = status_extra,
                             .dir = c->dir};
    const ledger_genesis *g = ledger_genesis_of(abci_app_ledger(app));
    if (g && g->max_message_bytes > (8u << 20) - 4096)
        ro.max_body = (size_t)g->max_message_bytes * 2 + 4096; /* hex of an envelope */
    /* queries run on replicas of the committed state, as in `tally node`: they never wait for
     * a block that consensus has executed but not yet committed */
    query_pool_options qo;
    query_pool_defaults(&qo);
    status st = query_pool_new(abci_app_scheduler(app), &qo, &c->queries);
    ro.queries = c->queries;
    if (st == ST_OK)
        st = rpc_server_new(abci_app_ledger(app), abci_app_scheduler(app), abci_app_lock(app), &ro,
                            &c->srv);
    if (st == ST_OK)
        st = rpc_server_start(c->srv);
    if (st != ST_OK) {
        fprintf(stderr, "tally abci: cannot serve JSON-RPC on %s: %s\n", c->rpc, status_name(st));
        c->failed = 1;
        cli_stop = 1;
        return;
    }
    write_url(c->dir, rpc_server_port(c->srv), c->rpc);
    fprintf(stderr, "tally abci: JSON-RPC on http://%s/ (submits go to %s)\n", c->rpc,
            c->cometbft);
}

static int parse(int argc, char **argv, abci_cmd *c)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--dir") && more) {
            c->dir = argv[++i];
        } else if (!strcmp(a, "--listen") && more) {
            c->listen = argv[++i];
        } else if (!strcmp(a, "--rpc") && more) {
            c->rpc = argv[++i];
        } else if (!strcmp(a, "--cometbft-rpc") && more) {
            c->cometbft = argv[++i];
        } else if (!strcmp(a, "--threads") && more) {
            if (!cli_u64_parse(argv[++i], &c->threads) || c->threads < 1 || c->threads > 64) {
                fprintf(stderr, "tally abci: --threads wants 1-64\n");
                return 2;
            }
        } else if (!strcmp(a, "--test-diverge-at") && more) {
            if (!cli_u64_parse(argv[++i], &c->opt.diverge_at) || !c->opt.diverge_at) {
                fprintf(stderr, "tally abci: --test-diverge-at wants a height >= 1\n");
                return 2;
            }
        } else if (!strcmp(a, "--quiet")) {
            c->opt.quiet = true;
        } else if (!strcmp(a, "--no-sync")) {
            c->opt.no_sync = true;
        } else {
            fprintf(stderr, "tally abci: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!c->listen) {
        fprintf(stderr, "tally abci: --listen is required\n");
        return 2;
    }
    if (c->rpc && !c->cometbft) {
        fprintf(stderr, "tally abci: --rpc needs --cometbft-rpc (where submits go)\n");
        return 2;
    }
    return -1;
}

int cmd_abci(int argc, char **argv)
{
    abci_cmd c = {.dir = ".tally", .threads = 8};
    int rc = parse(argc, argv, &c);
    if (rc >= 0)
        return rc;
    c.opt.dir = c.dir;
    cli_json_init();
    abci_app *app = NULL;
    status st = abci_app_open(&c.opt, &app);
    c.app = app;
    if (st != ST_OK) {
        fprintf(stderr, "tally abci: cannot open %s: %s: %s\n", c.dir, status_name(st),
                status_message(st));
        return 1;
    }
    if (!cli_signals_catch()) {
        abci_app_close(app);
        return 1;
    }
    fprintf(stderr, "tally abci: %s, ABCI on %s\n", c.dir, c.listen);
    st = abci_serve(app, c.listen, &cli_stop, cli_wake[0], on_ready, &c);
    rpc_server_free(c.srv);
    query_pool_free(c.queries); /* after the handlers that wait for it, before the scheduler */
    if (c.srv) {
        char path[4200];
        if (cli_path_join(path, sizeof path, c.dir, "node.url"))
            unlink(path);
    }
    abci_app_close(app);
    cli_signals_release();
    if (st != ST_OK) {
        fprintf(stderr, "tally abci: %s: %s\n", status_name(st), status_message(st));
        return 1;
    }
    return c.failed;
}
