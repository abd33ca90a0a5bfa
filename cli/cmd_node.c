/* cmd_node.c - `tally node`: opens a node directory, serves JSON-RPC 2.0 over HTTP
 * (rpc_server.c) and produces blocks: one round whenever there is work, at most one per round
 * interval, started at once when a message arrives at an idle node. The block timestamp is
 * max(wall clock, parent + 1 ns): the producer's choice, recorded in the block (replay reuses
 * it). SIGINT/SIGTERM: stop accepting, finish the current round, close the ledger, exit 0.
 *
 * Threads: this one runs the rounds; libmicrohttpd's pool (--threads) runs the RPC handlers;
 * the RPC server's admitter thread commits the submits that wait in the handlers as groups
 * (rpc_server.c). A submit handler sleeps until its group is durable, so --threads also bounds
 * how many submits can share one mempool commit. */
#include "node_dir.h"
#include "query_pool.h"
#include "rpc.h"
#include "scheduler.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A round that faults (docs/reliability.md, "node-local faults") is retried after a pause that
 * doubles from the round interval (at least BACKOFF_MIN_MS) up to BACKOFF_MAX_MS. */
enum { BACKOFF_MIN_MS = 10, BACKOFF_MAX_MS = 30000 };
/* An idle node sleeps until a message arrives (the wake pipe); with --interval 0 it re-checks
 * at most once a second instead of spinning. */
enum { IDLE_RECHECK_MS = 1000 };

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: tally node [--dir DIR] [--listen HOST:PORT] [--public] [--interval MS]\n"
        "                  [--max-body BYTES] [--threads N] [--timeout S] [--quiet]\n"
        "                  [--query-threads N] [--query-limit INSTR] [--query-budget INSTR]\n"
        "                  [--query-cache MIB] [--verify] [--tier interp|compiled|quick|auto]\n"
        "                  [limits...]\n\n"
        "Runs the node of DIR (made by `tally init`): produces blocks from the mempool and\n"
        "serves JSON-RPC 2.0 over HTTP POST / (docs/rpc.md). Logs one line per block to\n"
        "stderr. While it runs, DIR/node.url holds its URL (clients read it). SIGINT or\n"
        "SIGTERM stops it cleanly (exit 0). At start it checks the ledger file and its tip\n"
        "(the stored state against the tip block's state root) and refuses to extend a\n"
        "corrupt chain (CORRUPT_LEDGER, exit 1); ic0.debug_print lines name their canister\n"
        "and also go to DIR/debug.log.\n\n"
        "  --dir DIR          node directory (default ./.tally)\n"
        "  --listen H:P       address (default from DIR/node.json, 127.0.0.1:7777);\n"
        "                     port 0 lets the system pick a free port\n"
        "  --public           allow a non-loopback listen address (no TLS, no auth!)\n"
        "  --interval MS      least time between blocks (default from DIR/node.json, 200)\n"
        "  --max-body BYTES   request body limit (default 8 MiB, or more for large\n"
        "                     max_message_bytes)\n"
        "  --threads N        HTTP worker threads, 1-64 (default 16): also the most\n"
        "                     submits that can share one mempool commit\n"
        "  --timeout S        idle connection timeout in seconds (default 30)\n"
        "  --quiet            no per-block log lines\n"
        "  --query-threads N  query worker threads, 1-64 (default half the processors,\n"
        "                     at most 8); queries run on the last block's state and never\n"
        "                     hold up a round (docs/scheduler.md \"Queries\")\n"
        "  --query-limit I    instructions per query (default and maximum: the genesis\n"
        "                     query_instructions, 5e9)\n"
        "  --query-budget I   query instructions per second per client address (default\n"
        "                     1e9; 0: unlimited); beyond it queries are refused with\n"
        "                     QUERY_BUDGET_EXCEEDED until it refills\n"
        "  --query-cache MIB  memory of canister replicas per query thread (default 512)\n"
        "  --verify           check the whole stored chain first (block links, every state\n"
        "                     tree node, page and record; no re-execution: that is\n"
        "                     `tally replay`), then serve\n"
        "  --tier T           engine tier of updates (docs/engine.md): auto (default:\n"
        "                     each module is built into native code by a background\n"
        "                     thread, by tcc first and then by cc -O2, interpreted until\n"
        "                     then and if that fails), compiled (cc, built before its\n"
        "                     first message), quick (tcc, before its first message),\n"
        "                     interp. Results, receipts and state roots are the same;\n"
        "                     objects are cached in DIR/compiled\n"
        "limits (docs/rpc.md \"Limits\"; 0 or absent: the default):\n"
        "  --max-response BYTES       largest answer (default 16 MiB); beyond: an error\n"
        "  --max-connections N        open connections in all (default 1000)\n"
        "  --max-per-address N        open connections from one IP address (default 64)\n"
        "  --request-deadline S       a request's headers and body must arrive within S\n"
        "                             seconds (default 60)\n"
        "  --sender-mempool BYTES     envelope bytes one sender may have waiting in the\n"
        "                             mempool (default 64 MiB)\n"
        "  --sender-rate BYTES        envelope bytes per second one sender may submit\n"
        "                             (default 64 MiB)\n"
        "  --min-free-disk BYTES      refuse admissions below this much free disk (default\n"
        "                             256 MiB or 4 max_message_bytes); warns below twice it\n");
}

static uint64_t now_ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void drain(int fd)
{
    char junk[256];
    while (read(fd, junk, sizeof junk) > 0) {
    }
}

/* Waits up to ms for a message or a signal (ms < 0: forever). */
static void wait_wake(int ms)
{
    struct pollfd p = {.fd = cli_wake[0], .events = POLLIN};
    if (poll(&p, 1, ms) > 0)
        drain(cli_wake[0]);
}

/* ic0.debug_print's outputs: the node's stderr (err: a buffered stream of its own) and
 * DIR/debug.log (log, or NULL). Both are fully buffered, so that a line costs a copy and not a
 * write: a canister printing 0 bytes in a loop pays about 110 instructions a call, and a write
 * per call made the node spend ten times more CPU than that pays for (docs/weights.md "Code
 * shapes"). The round loop flushes them after every round and every wake. */
typedef struct debug_out {
    FILE *err, *log;
    char path[4096];    /* DIR/debug.log */
    uint64_t log_bytes; /* its size */
    pthread_mutex_t mu; /* query workers print too */
} debug_out;

/* debug.log is bounded: past DEBUG_LOG_MAX bytes it becomes debug.log.1 (replacing the older
 * one) and a new debug.log starts, so a canister printing in a loop cannot fill the node's disk
 * (at most twice the bound; docs/cli.md "Node directory"). */
enum { DEBUG_BUFFER = 1 << 16 };
#define DEBUG_LOG_MAX (64ull << 20)

/* path (DIR/debug.log) for appending (never through a symlink), fully buffered, and its size;
 * or NULL with a warning. */
static FILE *open_debug_log(const char *path, uint64_t *size)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    struct stat st;
    *size = f && fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (!f) {
        fprintf(stderr, "tally node: warning: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
    } else {
        setvbuf(f, NULL, _IOFBF, DEBUG_BUFFER);
    }
    return f;
}

static void debug_open(debug_out *d, const char *dir)
{
    FILE *log = NULL;
    pthread_mutex_init(&d->mu, NULL);
    if (cli_path_join(d->path, sizeof d->path, dir, "debug.log"))
        log = open_debug_log(d->path, &d->log_bytes);
    else
        fprintf(stderr, "tally node: warning: %s/debug.log: path too long\n", dir);
    int fd = dup(STDERR_FILENO);
    d->err = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!d->err && fd >= 0)
        close(fd);
    if (d->err)
        setvbuf(d->err, NULL, _IOFBF, DEBUG_BUFFER);
    else
        d->err = stderr;
    d->log = log;
}

/* Under d->mu: a query worker's debug_print may be moving debug.log aside meanwhile. */
static void debug_flush(debug_out *d)
{
    fflush(d->err);
    pthread_mutex_lock(&d->mu);
    if (d->log)
        fflush(d->log);
    pthread_mutex_unlock(&d->mu);
}

static void debug_close(debug_out *d)
{
    if (d->err && d->err != stderr)
        fclose(d->err);
    if (d->log)
        fclose(d->log);
    pthread_mutex_destroy(&d->mu);
    *d = (debug_out){0};
}

/* Moves a full debug.log aside to debug.log.1 and starts a new one (d->mu held). */
static void debug_rotate(debug_out *d)
{
    char old[sizeof d->path + 2];
    fclose(d->log);
    d->log = NULL;
    snprintf(old, sizeof old, "%s.1", d->path);
    if (rename(d->path, old) != 0)
        fprintf(stderr, "tally node: warning: cannot move %s aside: %s\n", d->path,
                strerror(errno));
    d->log = open_debug_log(d->path, &d->log_bytes);
}

/* ic0.debug_print: "debug: [CANISTER] text" on stderr and "[CANISTER] text" in DIR/debug.log
 * (user: the debug_out). Canister principals are the 8-byte id and 0x01 0x01
 * (scheduler/scheduler.c). */
static void debug_print(void *user, span self, span text)
{
    char who[LEDGER_CANISTER_TEXT_SIZE] = "?";
    if (self.len == 10 && self.ptr[8] == 1 && self.ptr[9] == 1) {
        uint64_t id = 0;
        for (int i = 0; i < 8; i++)
            id = id << 8 | self.ptr[i];
        ledger_canister_id_text(id, who);
    }
    debug_out *d = user;
    fprintf(d->err, "debug: [%s] %.*s\n", who, (int)text.len, (const char *)text.ptr);
    pthread_mutex_lock(&d->mu);
    if (d->log) {
        int n = fprintf(d->log, "[%s] %.*s\n", who, (int)text.len, (const char *)text.ptr);
        d->log_bytes += n > 0 ? (uint64_t)n : 0;
        if (d->log_bytes > DEBUG_LOG_MAX)
            debug_rotate(d);
    }
    pthread_mutex_unlock(&d->mu);
}

typedef struct node_opts {
    const char *dir;
    const char *listen;
    bool allow_public, quiet, verify;
    int tier; /* SCHEDULER_TIER_* */
    uint64_t interval_ms, max_body, threads, timeout_s;
    uint64_t query_threads, query_limit, query_budget, query_cache_mib;
    uint64_t max_response, max_connections, max_per_address, deadline_s, sender_mempool,
        sender_rate, min_free_disk;
} node_opts;

/* The numeric limit options: name and where it goes. */
static uint64_t *limit_option(node_opts *o, const char *name)
{
    static const struct {
        const char *name;
        size_t offset;
    } opts[] = {
        {"--max-response", offsetof(node_opts, max_response)},
        {"--max-connections", offsetof(node_opts, max_connections)},
        {"--max-per-address", offsetof(node_opts, max_per_address)},
        {"--request-deadline", offsetof(node_opts, deadline_s)},
        {"--sender-mempool", offsetof(node_opts, sender_mempool)},
        {"--sender-rate", offsetof(node_opts, sender_rate)},
        {"--min-free-disk", offsetof(node_opts, min_free_disk)},
    };
    for (size_t i = 0; i < BASE_ARRAY_LEN(opts); i++)
        if (!strcmp(name, opts[i].name))
            return (uint64_t *)(void *)((char *)o + opts[i].offset);
    return NULL;
}

/* The pause before retrying after `faults` faults in a row. */
static uint64_t backoff_ms(const node_opts *o, int faults)
{
    uint64_t ms = o->interval_ms > BACKOFF_MIN_MS ? o->interval_ms : BACKOFF_MIN_MS;
    for (int i = 1; i < faults && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* A node-local fault (the host's memory, the disk): nothing was recorded and the in-memory
 * state is the last block's, so the node says so, keeps serving and retries later. It never
 * stops for it: stopping would not make the next start succeed, and the operator can act
 * (free memory or disk) while clients still get answers. Returns when to retry. */
static uint64_t fault_pause(const node_opts *o, const char *what, status st, int faults)
{
    uint64_t ms = backoff_ms(o, faults);
    fprintf(stderr,
            "tally node: %s failed: %s: %s (node-local fault %d in a row: nothing recorded, "
            "retrying in %llu ms)\n",
            what, status_name(st), status_message(st), faults, (unsigned long long)ms);
    return now_ns(CLOCK_MONOTONIC) + ms * 1000000u;
}

/* Runs rounds until a signal arrives. Returns the exit code. */
static int round_loop(scheduler *s, pthread_mutex_t *lock, const node_opts *o, uint64_t parent_ts,
                      debug_out *dbg)
{
    uint64_t last_round = 0, retry_at = 0;
    int faults = 0;
    while (!cli_stop) {
        debug_flush(dbg); /* the last round's lines and those of queries meanwhile */
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (retry_at > now) { /* messages arriving meanwhile do not shorten the pause */
            wait_wake((int)((retry_at - now) / 1000000u) + 1);
            continue;
        }
        pthread_mutex_lock(lock);
        bool work = false;
        status hw = scheduler_has_work(s, &work);
        pthread_mutex_unlock(lock);
        if (hw != ST_OK) { /* a fault is not "no work" */
            retry_at = fault_pause(o, "reading the mempool", hw, ++faults);
            continue;
        }
        if (!work) {
            wait_wake(o->interval_ms ? (int)o->interval_ms : IDLE_RECHECK_MS);
            continue;
        }
        uint64_t t0 = now_ns(CLOCK_MONOTONIC);
        uint64_t gap = o->interval_ms * 1000000u;
        if (last_round && t0 - last_round < gap) {
            wait_wake((int)((gap - (t0 - last_round)) / 1000000u) + 1);
            continue; /* re-check: a signal may have come */
        }
        uint64_t ts = now_ns(CLOCK_REALTIME);
        if (ts <= parent_ts)
            ts = parent_ts + 1;
        scheduler_round_info info;
        pthread_mutex_lock(lock);
        status st = scheduler_round(s, ts, &info);
        pthread_mutex_unlock(lock);
        debug_flush(dbg);
        last_round = now_ns(CLOCK_MONOTONIC);
        if (st == ST_CORRUPT_LEDGER) { /* not node-local: never extend a corrupt chain */
            fprintf(stderr,
                    "tally node: round failed: %s: the ledger is corrupt, stopping "
                    "(check it with `tally node --verify`, or `tally replay`)\n",
                    status_name(st));
            return 1;
        }
        if (st != ST_OK) {
            retry_at = fault_pause(o, "round", st, ++faults);
            continue;
        }
        if (faults)
            fprintf(stderr, "tally node: rounds work again after %d faults\n", faults);
        faults = 0;
        if (!info.produced)
            continue;
        parent_ts = info.tip.timestamp_ns;
        if (!o->quiet)
            fprintf(stderr, "block %llu: %u messages, %u receipts, %llu instructions, %.1f ms%s\n",
                    (unsigned long long)info.tip.height, info.messages, info.completed,
                    (unsigned long long)info.instructions, (double)(last_round - t0) / 1e6,
                    info.paused ? ", a message is paused" : "");
    }
    return 0;
}

static bool parse_opts(int argc, char **argv, node_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--dir") && more)
            o->dir = argv[++i];
        else if (!strcmp(a, "--listen") && more)
            o->listen = argv[++i];
        else if (!strcmp(a, "--public"))
            o->allow_public = true;
        else if (!strcmp(a, "--quiet"))
            o->quiet = true;
        else if (!strcmp(a, "--verify"))
            o->verify = true;
        else if (!strcmp(a, "--tier") && more && !strcmp(argv[i + 1], "interp"))
            o->tier = SCHEDULER_TIER_INTERP, i++;
        else if (!strcmp(a, "--tier") && more && !strcmp(argv[i + 1], "compiled"))
            o->tier = SCHEDULER_TIER_COMPILED, i++;
        else if (!strcmp(a, "--tier") && more && !strcmp(argv[i + 1], "auto"))
            o->tier = SCHEDULER_TIER_AUTO, i++;
        else if (!strcmp(a, "--tier") && more && !strcmp(argv[i + 1], "quick"))
            o->tier = SCHEDULER_TIER_QUICK, i++;
        else if (!strcmp(a, "--interval") && more && cli_u64_parse(argv[i + 1], &o->interval_ms))
            i++;
        else if (!strcmp(a, "--max-body") && more && cli_u64_parse(argv[i + 1], &o->max_body))
            i++;
        else if (!strcmp(a, "--threads") && more && cli_u64_parse(argv[i + 1], &o->threads))
            i++;
        else if (!strcmp(a, "--timeout") && more && cli_u64_parse(argv[i + 1], &o->timeout_s))
            i++;
        else if (!strcmp(a, "--query-threads") && more &&
                 cli_u64_parse(argv[i + 1], &o->query_threads))
            i++;
        else if (!strcmp(a, "--query-limit") && more &&
                 cli_u64_parse(argv[i + 1], &o->query_limit) && o->query_limit)
            i++;
        else if (!strcmp(a, "--query-budget") && more &&
                 cli_u64_parse(argv[i + 1], &o->query_budget))
            i++;
        else if (!strcmp(a, "--query-cache") && more &&
                 cli_u64_parse(argv[i + 1], &o->query_cache_mib) && o->query_cache_mib &&
                 o->query_cache_mib <= (1u << 20))
            i++;
        else if (limit_option(o, a) && more && cli_u64_parse(argv[i + 1], limit_option(o, a)))
            i++;
        else {
            fprintf(stderr, "tally node: %s%s%s: %s\n", a, more ? " " : "",
                    more ? argv[i + 1] : "",
                    a[0] != '-' ? "unexpected argument" : "unknown option or bad value");
            return false;
        }
    }
    if (o->max_connections > 100000 || o->max_per_address > 100000 || o->deadline_s > 86400 ||
        (o->max_response && o->max_response < 4096)) {
        fprintf(stderr, "tally node: a limit is out of range (connections up to 100000, "
                        "deadline up to 86400 s, --max-response at least 4096)\n");
        return false;
    }
    return (o->interval_ms <= 3600000 || o->interval_ms == UINT64_MAX) && o->threads >= 1 &&
           o->threads <= 64 && o->timeout_s >= 1 && (o->max_body == 0 || o->max_body >= 4096) &&
           o->query_threads >= 1 && o->query_threads <= 64;
}

static int fail(const char *what, status st)
{
    fprintf(stderr, "tally node: %s: %s: %s\n", what, status_name(st), status_message(st));
    return 1;
}

/* DIR/node.url through a temporary file and rename: never written through a planted link. */
static void write_url(const char *dir, uint16_t port, const char *listen)
{
    char url[160], why[512];
    const char *colon = strrchr(listen, ':');
    snprintf(url, sizeof url, "http://%.*s:%u/\n", (int)(colon - listen), listen, port);
    if (cli_file_replace(dir, "node.url", url, 0644, why, sizeof why) != ST_OK)
        fprintf(stderr, "tally node: warning: cannot write node.url: %s\n", why);
    fprintf(stderr, "tally node: serving JSON-RPC on %s", url);
}

/* Lets the process hold `connections` sockets and its own files: raises the soft limit of
 * open files up to the hard one if needed (the default 1024 would cap connections first). */
static void raise_fd_limit(uint64_t connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= connections + 64)
        return;
    rlim_t want = (rlim_t)(connections + 64);
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Checks the tip (always) and the whole chain (--verify) before the node may extend it. */
static bool check_ledger(ledger *lg, const node_opts *o)
{
    status st = ledger_verify_tip(lg);
    if (st == ST_OK && o->verify) {
        ledger_verify_report rep;
        st = ledger_verify_chain(lg, &rep);
        if (st == ST_OK)
            fprintf(stderr, "tally node: verified %llu blocks and %llu state tree nodes\n",
                    (unsigned long long)rep.blocks, (unsigned long long)rep.nodes);
    }
    if (st == ST_OK)
        return true;
    fprintf(stderr, "tally node: %s: %s: %s: %s; not extending this chain\n", o->dir,
            status_name(st), status_message(st), ledger_fault_detail(lg));
    return false;
}

/* Opens ledger and scheduler, serves, runs rounds; closes everything in reverse order. */
static int serve(const node_opts *o)
{
    ledger *lg = NULL;
    scheduler *s = NULL;
    rpc_server *srv = NULL;
    query_pool *queries = NULL;
    debug_out dbg = {0};
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int rc = cli_node_dir_check("node", o->dir, true);
    if (rc)
        return rc;
    rc = 1;
    char why[512];
    bool other = false;
    int lock_fd = cli_node_lock(o->dir, &other, why, sizeof why);
    if (lock_fd < 0) { /* one node per directory; the lock goes with the process */
        fprintf(stderr, "tally node: %s: %s\n", status_name(ST_IO_ERROR), why);
        return 1;
    }
    status st = ledger_open_detail(o->dir, NULL, &lg, why, sizeof why);
    if (st != ST_OK) {
        close(lock_fd);
        fprintf(stderr, "tally node: %s: %s\n", status_name(st), why);
        return 1;
    }
    const ledger_genesis *g = ledger_genesis_of(lg);
    if (!g) {
        fail(o->dir, ST_NO_GENESIS);
        fprintf(stderr, "tally node: run `tally init --dir %s` first\n", o->dir);
        goto out_ledger;
    }
    if (!check_ledger(lg, o))
        goto out_ledger;
    debug_open(&dbg, o->dir);
    size_t max_body = (size_t)o->max_body;
    if (!max_body) {
        max_body = 8u << 20;
        if ((size_t)g->max_message_bytes * 2 + 65536 > max_body)
            max_body = (size_t)g->max_message_bytes * 2 + 65536;
    }
    rpc_server_options ro = {.listen = o->listen,
                             .allow_public = o->allow_public,
                             .max_body = max_body,
                             .threads = (unsigned)o->threads,
                             .timeout_s = (unsigned)o->timeout_s,
                             .wake_fd = cli_wake[1],
                             .max_response = (size_t)o->max_response,
                             .max_connections = (unsigned)o->max_connections,
                             .max_per_address = (unsigned)o->max_per_address,
                             .request_deadline_s = (unsigned)o->deadline_s,
                             .sender_mempool_bytes = o->sender_mempool,
                             .sender_rate_bytes = o->sender_rate,
                             .min_free_disk = o->min_free_disk,
                             .dir = o->dir};
    raise_fd_limit(o->max_connections ? o->max_connections : 1000);
    /* serving before the scheduler is open: while it loads canisters and resumes a paused
     * message (seconds on a big chain) `status` answers "resuming" and other methods
     * NODE_STARTING, instead of refused connections */
    st = rpc_server_new(lg, NULL, &lock, &ro, &srv);
    if (st == ST_OK)
        st = rpc_server_start(srv);
    if (st != ST_OK) {
        fprintf(stderr, "tally node: cannot listen on %s: %s%s\n", o->listen, status_name(st),
                st == ST_BAD_ARGUMENT ? " (want IPv4 HOST:PORT; a non-loopback address needs "
                                        "--public)"
                                      : " (port in use?)");
        goto out_server;
    }
    char tier_dir[4096];
    snprintf(tier_dir, sizeof tier_dir, "%s/compiled", o->dir);
    scheduler_options sopt = {.debug_sink = debug_print,
                              .debug_user = &dbg,
                              .tier = o->tier,
                              .tier_cache_dir = tier_dir,
                              .tier_log = true};
    st = scheduler_open(lg, &sopt, &s);
    if (st != ST_OK) {
        fail("scheduler", st);
        goto out_server;
    }
    query_pool_options qo;
    query_pool_defaults(&qo);
    qo.threads = (unsigned)o->query_threads;
    qo.queue = 4 * qo.threads;
    qo.instruction_limit = o->query_limit;
    qo.client_budget = o->query_budget;
    qo.cache_bytes = o->query_cache_mib << 20;
    st = query_pool_new(s, &qo, &queries);
    if (st != ST_OK) {
        fail("query workers", st);
        goto out_server;
    }
    rpc_server_attach(srv, s, queries);
    /* node.url only now: clients that find it (tests, scripts) get a node that serves all;
     * with a fixed --listen port clients reach the resuming node through node.json */
    write_url(o->dir, rpc_server_port(srv), o->listen);
    ledger_reader *rd = NULL;
    ledger_tip tip = {0};
    if (ledger_read_begin(lg, &rd) == ST_OK)
        ledger_tip_get(rd, &tip);
    ledger_read_end(rd);
    fprintf(stderr, "tally node: chain '%s' at height %llu\n", g->chain_id,
            (unsigned long long)tip.height);
    rc = round_loop(s, &lock, o, tip.timestamp_ns, &dbg);
    uint64_t commits, admitted;
    rpc_server_admit_stats(srv, &commits, &admitted);
    fprintf(stderr, "tally node: stopping (%llu messages admitted in %llu mempool commits)\n",
            (unsigned long long)admitted, (unsigned long long)commits);
    char path[4096];
    if (cli_path_join(path, sizeof path, o->dir, "node.url"))
        unlink(path);
out_server:
    rpc_server_free(srv);     /* before the scheduler: handlers may be using it */
    query_pool_free(queries); /* after the handlers that wait for it, before the scheduler */
    scheduler_close(s);
out_ledger:
    ledger_close(lg);
    debug_close(&dbg);
    return rc;
}

int cmd_node(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    query_pool_options qd;
    query_pool_defaults(&qd);
    node_opts o = {.dir = ".tally",
                   .threads = 16,
                   .timeout_s = 30,
                   .interval_ms = UINT64_MAX,
                   .tier = SCHEDULER_TIER_AUTO,
                   .query_threads = qd.threads,
                   .query_budget = qd.client_budget,
                   .query_cache_mib = qd.cache_bytes >> 20};
    if (!parse_opts(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }
    cli_config cfg;
    cli_config_default(&cfg);
    status st = cli_config_read(o.dir, &cfg);
    if (st != ST_OK && st != ST_NOT_FOUND)
        return fail("node.json", st);
    if (o.interval_ms == UINT64_MAX)
        o.interval_ms = cfg.round_interval_ms;
    if (!o.listen)
        o.listen = cfg.listen;
    if (!cli_signals_catch())
        return fail("signals", ST_IO_ERROR);
    return serve(&o);
}
