/* rpc_server.c - the node's JSON-RPC 2.0 server (https://www.jsonrpc.org/specification) over
 * HTTP POST with libmicrohttpd and jansson: request validation, batches and notifications, the
 * methods of docs/rpc.md (submit, deploy, upgrade, receipt, query, status, block,
 * canister_info) and the HTTP glue (body limit, timeouts, loopback-only binding).
 *
 * Threads: libmicrohttpd runs the handlers on its own thread pool. Ledger reads use their own
 * snapshots and need no lock. A query goes to the query workers (query_pool.c: replicas of the
 * last committed block, no lock shared with the rounds); the other scheduler calls (canister
 * code) take the scheduler lock that the round loop (cmd_node.c) holds while it runs a round.
 * A submit checks its target
 * canister and method on the last committed state and a cache of method names by code hash, so
 * it does not wait for a running round (the lock only on a cache miss). Admission is a group
 * commit: a handler puts its envelope on the admission queue and sleeps; one admitter thread
 * takes everything queued, admits it with ledger_mempool_add_batch (one durable LMDB write
 * transaction, one fsync, for all of them) and wakes the handlers with their own outcome. So a
 * "submit" answer still means "durably in the mempool", and concurrent submits (other
 * connections, or the submits of one JSON-RPC batch) share a commit. The admitter never takes
 * the scheduler lock; LMDB serialises its writes with the round's commit. */
#include "rpc.h"
#include "query_pool.h"
#include "rpc_limits.h"
#include "rpc_views.h"
#include "scheduler.h"
#include "candid.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <time.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL_ERROR = -32603,
    RPC_TALLY_ERROR = -32000, /* a tally status: data.status names it */
    MEMPOOL_COUNT_MAX = 1000000,
    ADMIT_BATCH_MAX = 4096,    /* envelopes per admission transaction */
    METHOD_CACHE_MAX = 64,     /* code hashes whose method names admission remembers */
    FORWARDED_SLOTS = 1 << 17, /* ids of forwarded messages remembered (replicated mode) */
};

/* The ids of messages forwarded to consensus (opt.forward), so that `receipt` can tell
 * "pending in consensus" from "unknown": an open-addressing set, emptied when half full. */
typedef struct forwarded {
    pthread_mutex_t mu;
    uint8_t (*ids)[LEDGER_HASH_SIZE]; /* all zeros: a free slot */
    size_t n;
} forwarded;

/* The method names of one module, for admission: u32 length || bytes, repeated; and whether
 * it exports canister_inspect_message. */
typedef struct method_entry {
    uint8_t code_hash[LEDGER_HASH_SIZE];
    buf names;
    bool inspect;
} method_entry;

/* Method names by code hash, so that admitting an update needs the scheduler lock (held by the
 * round loop through a whole round, commit included) only for code it has not seen yet. */
typedef struct method_cache {
    pthread_mutex_t mu;
    method_entry e[METHOD_CACHE_MAX];
    size_t n;
} method_cache;

/* One envelope waiting for admission; owned by the handler that queued it. */
typedef struct admit_item {
    buf env;                      /* the envelope bytes */
    uint8_t id[LEDGER_HASH_SIZE]; /* its message id (known before admission) */
    status st;                    /* the outcome, valid once done */
    bool done;
    struct admit_item *next; /* queue link */
} admit_item;

/* The admission queue and its thread (the group commit). */
typedef struct admitter {
    pthread_mutex_t mu;
    pthread_cond_t queued;   /* signalled when the queue gets items, or on stop */
    pthread_cond_t finished; /* broadcast when a batch has its outcomes */
    admit_item *head, **tail;
    bool stop, running;
    pthread_t thread;
    uint64_t commits, admitted; /* statistics (under mu) */
} admitter;

/* The submits of one JSON-RPC batch request: queued together after the whole batch was read. */
typedef struct admit_group {
    admit_item **items;
    size_t n, cap;
} admit_group;

struct rpc_server {
    ledger *lg;
    scheduler *s;
    pthread_mutex_t *lock;
    rpc_server_options opt;
    char listen[128];
    uint32_t max_message_bytes;
    struct MHD_Daemon *daemon;
    admitter adm;
    method_cache mc;
    forwarded fwd;                /* replicated mode: ids forwarded to consensus */
    rpc_senders *senders;         /* per-sender mempool shares and rates */
    char dir[4096];               /* the node directory ("" unknown): free disk space */
    _Atomic uint64_t disk_warned; /* monotonic s of the last low-disk warning */
    atomic_bool ready;            /* the scheduler is attached (rpc_server_attach) */
};

/* The error of one call, before it becomes a JSON-RPC error object. */
typedef struct call_error {
    int code;
    char message[256];
    status st;             /* for RPC_TALLY_ERROR */
    admit_group *group;    /* inside a JSON-RPC batch: submits join it instead of waiting alone */
    const uint8_t *client; /* the client's address (16 bytes): its query budget */
    size_t budget;         /* bytes the answer may still take (max_response less what is built) */
} call_error;

static json_t *invalid(call_error *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    e->code = RPC_INVALID_PARAMS;
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return NULL;
}

static json_t *tally_error(call_error *e, status st, const char *what)
{
    e->code = RPC_TALLY_ERROR;
    e->st = st;
    snprintf(e->message, sizeof e->message, "%s%s%s", what, *what ? ": " : "", status_message(st));
    return NULL;
}

static json_t *no_memory(call_error *e)
{
    return tally_error(e, ST_OUT_OF_MEMORY, "");
}

/* An answer of `need` bytes does not fit what is left of the response size limit. */
static json_t *too_large(call_error *e, size_t need)
{
    tally_error(e, ST_RESPONSE_TOO_LARGE, "");
    snprintf(e->message, sizeof e->message,
             "the answer needs about %zu bytes and %zu are left of the node's response limit "
             "(--max-response); ask for less per request",
             need, e->budget);
    return NULL;
}

/* ---- parameters ----------------------------------------------------------------------------- */

static bool param_string(json_t *params, const char *name, bool required, const char **out,
                         call_error *e)
{
    json_t *v = json_object_get(params, name);
    if (!v) {
        if (required)
            invalid(e, "missing parameter '%s'", name);
        *out = NULL;
        return !required;
    }
    if (!json_is_string(v)) {
        invalid(e, "parameter '%s' must be a string", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* A byte parameter (hex or base64); absent = empty unless required. */
static bool param_bytes(json_t *params, const char *name, bool required, buf *out, call_error *e)
{
    const char *s;
    if (!param_string(params, name, required, &s, e))
        return false;
    if (!s)
        return true;
    status st = cli_bytes_decode(s, strlen(s), out);
    if (st == ST_OUT_OF_MEMORY)
        return no_memory(e), false;
    if (st != ST_OK)
        return invalid(e, "parameter '%s' must be hex or base64", name), false;
    return true;
}

static bool param_hash(json_t *params, const char *name, uint8_t out[LEDGER_HASH_SIZE],
                       call_error *e)
{
    const char *s;
    if (!param_string(params, name, true, &s, e))
        return false;
    if (cli_hash_parse(s, out) != ST_OK)
        return invalid(e, "parameter '%s' must be 64 hex digits", name), false;
    return true;
}

/* A canister: its text id or its number. */
static bool param_canister(json_t *params, uint64_t *id, call_error *e)
{
    json_t *v = json_object_get(params, "canister");
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        *id = (uint64_t)json_integer_value(v);
        return true;
    }
    if (!v)
        return invalid(e, "missing parameter 'canister'"), false;
    if (!json_is_string(v) || cli_canister_parse(json_string_value(v), id) != ST_OK)
        return invalid(e, "parameter 'canister' must be a canister id (text form or number)"),
               false;
    return true;
}

#define hex_json rpc_hex_json /* rpc_views.c */
#define canister_json rpc_canister_json

/* ---- replicated mode: forwarded ids ---------------------------------------------------------- */

static size_t forwarded_slot(const forwarded *f, const uint8_t id[LEDGER_HASH_SIZE])
{
    static const uint8_t zero[LEDGER_HASH_SIZE];
    size_t i = (size_t)le64_load(id) & (FORWARDED_SLOTS - 1);
    while (memcmp(f->ids[i], zero, LEDGER_HASH_SIZE) && memcmp(f->ids[i], id, LEDGER_HASH_SIZE))
        i = (i + 1) & (FORWARDED_SLOTS - 1);
    return i;
}

static void forwarded_add(forwarded *f, const uint8_t id[LEDGER_HASH_SIZE])
{
    pthread_mutex_lock(&f->mu);
    if (f->n >= FORWARDED_SLOTS / 2) { /* the oldest are long decided: start over */
        memset(f->ids, 0, (size_t)FORWARDED_SLOTS * LEDGER_HASH_SIZE);
        f->n = 0;
    }
    size_t i = forwarded_slot(f, id);
    if (memcmp(f->ids[i], id, LEDGER_HASH_SIZE)) {
        memcpy(f->ids[i], id, LEDGER_HASH_SIZE);
        f->n++;
    }
    pthread_mutex_unlock(&f->mu);
}

static bool forwarded_has(forwarded *f, const uint8_t id[LEDGER_HASH_SIZE])
{
    if (!f->ids)
        return false;
    pthread_mutex_lock(&f->mu);
    bool has = !memcmp(f->ids[forwarded_slot(f, id)], id, LEDGER_HASH_SIZE);
    pthread_mutex_unlock(&f->mu);
    return has;
}

/* ---- group commit: the admitter -------------------------------------------------------------- */

static void wake_rounds(rpc_server *srv)
{
    if (srv->opt.wake_fd >= 0) {
        ssize_t n = write(srv->opt.wake_fd, "m", 1);
        (void)n; /* a full pipe already means "wake up" */
    }
}

/* Admits a detached list of n items in one ledger transaction and sets each item's st.
 * Returns how many were admitted. */
static size_t admit_run(rpc_server *srv, admit_item *list, size_t n)
{
    span *envs = base_alloc(n * sizeof *envs);
    uint8_t(*ids)[LEDGER_HASH_SIZE] = base_alloc(n * sizeof *ids);
    status *sts = base_alloc(n * sizeof *sts);
    status st = envs && ids && sts ? ST_OK : ST_OUT_OF_MEMORY;
    size_t i = 0, ok = 0;
    for (admit_item *it = list; st == ST_OK && it; it = it->next)
        envs[i++] = span_of(it->env.ptr, it->env.len);
    if (st == ST_OK && srv->opt.forward) /* replicated: consensus's mempool */
        st = srv->opt.forward(srv->opt.forward_user, n, envs, sts);
    else if (st == ST_OK) /* every item passed ledger_message_decode in submit_kind */
        st = ledger_mempool_add_verified(srv->lg, n, envs, ids, sts);
    i = 0;
    for (admit_item *it = list; it; it = it->next, i++) {
        it->st = st == ST_OK ? sts[i] : st;
        ok += it->st == ST_OK;
        if (it->st == ST_OK && srv->opt.forward)
            forwarded_add(&srv->fwd, it->id);
    }
    base_free(envs);
    base_free(ids);
    base_free(sts);
    return ok;
}

/* The admitter thread: takes everything queued (up to ADMIT_BATCH_MAX) while the previous
 * commit ran, admits it in one transaction, hands out the outcomes. Drains the queue before it
 * honours stop. */
static void *admit_main(void *arg)
{
    rpc_server *srv = arg;
    admitter *a = &srv->adm;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->head && !a->stop)
            pthread_cond_wait(&a->queued, &a->mu);
        if (!a->head)
            break;
        admit_item *list = a->head, *last = list;
        size_t n = 1;
        for (; last->next && n < ADMIT_BATCH_MAX; n++)
            last = last->next;
        a->head = last->next;
        if (!a->head)
            a->tail = &a->head;
        last->next = NULL;
        pthread_mutex_unlock(&a->mu);
        size_t ok = admit_run(srv, list, n);
        if (ok)
            wake_rounds(srv);
        pthread_mutex_lock(&a->mu);
        for (admit_item *it = list, *next; it; it = next) {
            next = it->next; /* the owner may free it once done is set (it needs mu first) */
            it->done = true;
        }
        a->commits++;
        a->admitted += ok;
        pthread_cond_broadcast(&a->finished);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Queues n items as one run and sleeps until every one of them has its outcome. */
static void admit_wait(rpc_server *srv, admit_item **items, size_t n)
{
    admitter *a = &srv->adm;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < n; i++) {
        items[i]->next = NULL;
        items[i]->done = a->stop; /* a stopping server admits nothing new */
        items[i]->st = ST_IO_ERROR;
        if (a->stop)
            continue;
        *a->tail = items[i];
        a->tail = &items[i]->next;
    }
    pthread_cond_signal(&a->queued);
    for (size_t i = 0; i < n; i++)
        while (!items[i]->done)
            pthread_cond_wait(&a->finished, &a->mu);
    pthread_mutex_unlock(&a->mu);
}

static status admit_start(rpc_server *srv)
{
    admitter *a = &srv->adm;
    a->tail = &a->head;
    if (pthread_mutex_init(&a->mu, NULL) != 0)
        return ST_OUT_OF_MEMORY;
    if (pthread_cond_init(&a->queued, NULL) != 0)
        goto out_mutex;
    if (pthread_cond_init(&a->finished, NULL) != 0)
        goto out_queued;
    if (pthread_create(&a->thread, NULL, admit_main, srv) != 0)
        goto out_finished;
    a->running = true;
    return ST_OK;
out_finished:
    pthread_cond_destroy(&a->finished);
out_queued:
    pthread_cond_destroy(&a->queued);
out_mutex:
    pthread_mutex_destroy(&a->mu);
    return ST_OUT_OF_MEMORY;
}

/* Lets the admitter finish what is queued, then joins it. */
static void admit_stop(rpc_server *srv)
{
    admitter *a = &srv->adm;
    if (!a->running)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->queued);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    pthread_cond_destroy(&a->finished);
    pthread_cond_destroy(&a->queued);
    pthread_mutex_destroy(&a->mu);
    a->running = false;
}

static status group_add(admit_group *g, admit_item *it)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        admit_item **p = base_realloc(g->items, cap * sizeof *p);
        if (!p)
            return ST_OUT_OF_MEMORY;
        g->items = p;
        g->cap = cap;
    }
    g->items[g->n++] = it;
    return ST_OK;
}

static void group_fini(admit_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        buf_fini(&g->items[i]->env);
        base_free(g->items[i]);
    }
    base_free(g->items);
}

void rpc_server_admit_stats(rpc_server *srv, uint64_t *commits, uint64_t *admitted)
{
    pthread_mutex_lock(&srv->adm.mu);
    *commits = srv->adm.commits;
    *admitted = srv->adm.admitted;
    pthread_mutex_unlock(&srv->adm.mu);
}

/* ---- methods: messages ----------------------------------------------------------------------- */

/* The code hash of canister id in the last committed state (*has_code false: no code) and its
 * status (a ledger_canister_status; run_status may be NULL). ST_OK, ST_UNKNOWN_CANISTER, or a
 * ledger fault. */
static status code_hash_get(rpc_server *srv, uint64_t id, uint8_t hash[LEDGER_HASH_SIZE],
                            bool *has_code, uint8_t *run_status)
{
    static const uint8_t zero[LEDGER_HASH_SIZE];
    ledger_reader *rd = NULL;
    ledger_canister rec;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st == ST_OK)
        st = ledger_canister_get(rd, id, &rec);
    if (st == ST_OK) {
        memcpy(hash, rec.code_hash, LEDGER_HASH_SIZE);
        *has_code = memcmp(hash, zero, LEDGER_HASH_SIZE) != 0;
        if (run_status)
            *run_status = rec.status;
    }
    ledger_read_end(rd);
    return st;
}

/* Whether the names of entry e include method. */
static bool names_have(const method_entry *e, span method)
{
    for (size_t at = 0; at + 4 <= e->names.len;) {
        size_t len = le32_load(e->names.ptr + at);
        if (span_eq(span_of(e->names.ptr + at + 4, len), method))
            return true;
        at += 4 + len;
    }
    return false;
}

/* Looks code_hash up; on ST_OK *found tells whether its module exports method, *inspect
 * whether it exports canister_inspect_message. ST_NOT_FOUND: not cached. */
static status cache_lookup(method_cache *mc, const uint8_t hash[LEDGER_HASH_SIZE], span method,
                           bool *found, bool *inspect)
{
    status st = ST_NOT_FOUND;
    pthread_mutex_lock(&mc->mu);
    for (size_t i = 0; i < mc->n && st == ST_NOT_FOUND; i++)
        if (!memcmp(mc->e[i].code_hash, hash, LEDGER_HASH_SIZE)) {
            *found = names_have(&mc->e[i], method);
            *inspect = mc->e[i].inspect;
            st = ST_OK;
        }
    pthread_mutex_unlock(&mc->mu);
    return st;
}

/* Remembers the method names of code under hash (a full cache starts over). */
static status cache_insert(method_cache *mc, const uint8_t hash[LEDGER_HASH_SIZE],
                           const host_code *code)
{
    buf names = {0};
    status st = ST_OK;
    for (uint32_t i = 0; st == ST_OK && i < host_code_method_count(code); i++) {
        int kind;
        span name = host_code_method(code, i, &kind);
        uint8_t len[4];
        le32_store(len, (uint32_t)name.len);
        st = buf_put(&names, len, 4);
        if (st == ST_OK)
            st = buf_put(&names, name.ptr, name.len);
    }
    if (st != ST_OK) {
        buf_fini(&names);
        return st;
    }
    pthread_mutex_lock(&mc->mu);
    if (mc->n == METHOD_CACHE_MAX) {
        for (size_t i = 0; i < mc->n; i++)
            buf_fini(&mc->e[i].names);
        mc->n = 0;
    }
    memcpy(mc->e[mc->n].code_hash, hash, LEDGER_HASH_SIZE);
    mc->e[mc->n].inspect = host_code_inspects(code);
    mc->e[mc->n++].names = names;
    pthread_mutex_unlock(&mc->mu);
    return ST_OK;
}

/* Whether canister id's code exports method (and canister_inspect_message), from the cache
 * or, on a miss, from the scheduler (under its lock, where the ledger's committed state is the
 * scheduler's: the hash read there belongs to the code the scheduler returns). */
static status method_check(rpc_server *srv, uint64_t id, const uint8_t hash[LEDGER_HASH_SIZE],
                           span method, bool *found, bool *inspect)
{
    *inspect = false;
    if (cache_lookup(&srv->mc, hash, method, found, inspect) == ST_OK)
        return ST_OK;
    uint8_t now[LEDGER_HASH_SIZE];
    bool has_code = false;
    const host_code *code = NULL;
    pthread_mutex_lock(srv->lock);
    status st = code_hash_get(srv, id, now, &has_code, NULL);
    if (st == ST_OK)
        st = scheduler_canister_code(srv->s, id, &code);
    if (st == ST_OK && code && has_code)
        st = cache_insert(&srv->mc, now, code);
    pthread_mutex_unlock(srv->lock);
    if (st != ST_OK)
        return st;
    if (!code || !has_code) { /* the code went away meanwhile: as for a canister without code */
        *found = true;
        return ST_OK;
    }
    return cache_lookup(&srv->mc, now, method, found, inspect) == ST_OK ? ST_OK : ST_OUT_OF_MEMORY;
}

/* Install and upgrade: what would make the message fail whatever the state does, refused
 * before it is stored (a refused install still costs its bytes in a block forever): an install
 * not signed by the genesis admin key, an upgrade not signed by a controller, an argument that
 * is not (u32 length, a Wasm binary, init argument). Mirrors scheduler/round.c. */
static bool admit_install(rpc_server *srv, const ledger_message *m, call_error *e)
{
    uint32_t mlen = m->arg.len >= 4 ? le32_load(m->arg.ptr) : 0;
    if (m->arg.len < 8 || mlen < 4 || mlen > m->arg.len - 4 ||
        memcmp(m->arg.ptr + 4, "\0asm", 4) != 0)
        return tally_error(e, ST_BAD_INSTALL_ARG, "install argument (want a Wasm binary module)"),
               false;
    const ledger_genesis *g = ledger_genesis_of(srv->lg);
    if (m->kind == LEDGER_MSG_INSTALL) {
        if (m->canister_id == LEDGER_CANISTER_NONE &&
            !memcmp(m->sender, g->admin_public_key, LEDGER_PUBLIC_KEY_SIZE))
            return true;
        tally_error(e, ST_NOT_AUTHORIZED, "");
        snprintf(e->message, sizeof e->message,
                 "only the admin key of the genesis may deploy "
                 "(sign with the node directory's admin.key)");
        return false;
    }
    ledger_reader *rd = NULL;
    ledger_canister rec;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st == ST_OK)
        st = ledger_canister_get(rd, m->canister_id, &rec);
    ledger_read_end(rd);
    if (st != ST_OK)
        return tally_error(e, st, "canister"), false;
    for (uint32_t i = 0; i < rec.controller_count; i++)
        if (!memcmp(rec.controllers[i], m->sender, LEDGER_PUBLIC_KEY_SIZE))
            return true;
    char text[LEDGER_CANISTER_TEXT_SIZE];
    ledger_canister_id_text(m->canister_id, text);
    tally_error(e, ST_NOT_AUTHORIZED, "");
    snprintf(e->message, sizeof e->message,
             "the sender is not a controller of canister %s: only a controller may upgrade it",
             text);
    return false;
}

/* An ingress update to a canister that is stopping or stopped: refused at submission, as the
 * IC refuses it at induction (IC0509 CanisterStopping, IC0508 CanisterStopped). */
static bool refuse_stopped(const ledger_message *m, uint8_t run_status, call_error *e)
{
    char text[LEDGER_CANISTER_TEXT_SIZE];
    ledger_canister_id_text(m->canister_id, text);
    tally_error(e, ST_CANISTER_STOPPED, "");
    snprintf(e->message, sizeof e->message,
             "canister %s is %s: it takes no ingress updates until a controller starts it "
             "(aaaaa-aa start_canister)",
             text, run_status == LEDGER_CANISTER_STOPPING ? "stopping" : "stopped");
    return false;
}

/* Runs the target's canister_inspect_message for update m (docs/canisters.md "Ingress
 * inspection") on a query worker, or under the scheduler lock without workers; admits m only
 * if the canister called ic0.accept_message. Nothing it does reaches state. */
static bool admit_inspect(rpc_server *srv, const ledger_message *m, call_error *e)
{
    host_result res;
    host_result_init(&res);
    status st;
    uint64_t retry_ms = 0;
    span caller = span_of(m->sender, LEDGER_PUBLIC_KEY_SIZE);
    if (srv->opt.queries) {
        st = query_pool_inspect(srv->opt.queries, e->client, m->canister_id, m->method, m->arg,
                                caller, &res, &retry_ms);
    } else {
        pthread_mutex_lock(srv->lock);
        st = scheduler_inspect(srv->s, m->canister_id, m->method, m->arg, caller, &res);
        pthread_mutex_unlock(srv->lock);
    }
    bool ok = st == ST_OK && res.st == ST_OK && res.accepted;
    if (st == ST_QUERY_BUDGET_EXCEEDED) {
        tally_error(e, st, "canister_inspect_message");
        size_t n = strlen(e->message);
        snprintf(e->message + n, sizeof e->message - n, " (retry in %llu ms)",
                 (unsigned long long)retry_ms);
    } else if (st != ST_OK) {
        tally_error(e, st, "canister_inspect_message");
    } else if (!ok) {
        char id[LEDGER_CANISTER_TEXT_SIZE];
        ledger_canister_id_text(m->canister_id, id);
        int mlen = m->method.len < 64 ? (int)m->method.len : 64;
        tally_error(e, ST_MESSAGE_NOT_ACCEPTED, "");
        if (res.st == ST_OK) /* returned without ic0.accept_message */
            snprintf(e->message, sizeof e->message,
                     "Requested canister rejected the message: canister %s's "
                     "canister_inspect_message did not accept update '%.*s'",
                     id, mlen, (const char *)m->method.ptr);
        else /* it trapped: the trap's text says why */
            snprintf(e->message, sizeof e->message,
                     "Requested canister rejected the message: canister %s's "
                     "canister_inspect_message trapped on update '%.*s': %.*s",
                     id, mlen, (const char *)m->method.ptr,
                     (int)(res.bytes.len < 120 ? res.bytes.len : 120),
                     res.bytes.ptr ? (const char *)res.bytes.ptr : "");
    }
    host_result_fini(&res);
    return ok;
}

/* Node-level admission beyond the ledger's: an update or upgrade must name a canister that
 * exists, and an update a method it exports (the IC rejects such ingress too), to a canister
 * that is running, and be accepted by its canister_inspect_message if it exports one; installs
 * and upgrades as admit_install. Reads the last committed state; takes the scheduler lock only
 * for code not seen before (and for inspection when the node has no query workers). */
static bool admit_target(rpc_server *srv, const ledger_message *m, call_error *e)
{
    if ((m->kind == LEDGER_MSG_INSTALL || m->kind == LEDGER_MSG_UPGRADE) &&
        !admit_install(srv, m, e))
        return false;
    if (m->kind != LEDGER_MSG_UPDATE && m->kind != LEDGER_MSG_UPGRADE &&
        m->kind != LEDGER_MSG_MINT)
        return true;
    if (m->kind == LEDGER_MSG_UPDATE && m->canister_id == LEDGER_CANISTER_NONE)
        return true; /* the management canister aaaaa-aa: it answers for itself */
    uint8_t hash[LEDGER_HASH_SIZE], run_status = LEDGER_CANISTER_RUNNING;
    bool has_code = false, found = true, inspect = false;
    status st = code_hash_get(srv, m->canister_id, hash, &has_code, &run_status);
    if (st == ST_OK && m->kind == LEDGER_MSG_UPDATE && run_status != LEDGER_CANISTER_RUNNING)
        return refuse_stopped(m, run_status, e);
    if (st == ST_OK && m->kind == LEDGER_MSG_UPDATE && has_code)
        st = method_check(srv, m->canister_id, hash, m->method, &found, &inspect);
    if (st != ST_OK)
        return tally_error(e, st, "canister"), false;
    if (!found) {
        char what[128];
        snprintf(what, sizeof what, "update '%.*s'",
                 (int)(m->method.len < 64 ? m->method.len : 64), (const char *)m->method.ptr);
        return tally_error(e, ST_METHOD_NOT_FOUND, what), false;
    }
    return !inspect || admit_inspect(srv, m, e);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Refuses admissions while the node's disk has less than min_free_disk free, and warns on
 * stderr (at most once a minute) below twice that: a full disk would fault every round. */
static bool admit_disk(rpc_server *srv, call_error *e)
{
    uint64_t min = srv->opt.min_free_disk;
    if (!srv->dir[0] || min == UINT64_MAX)
        return true;
    uint64_t avail = rpc_disk_free(srv->dir);
    if (avail >= 2 * min || avail == UINT64_MAX)
        return true;
    uint64_t now_s = mono_ns() / 1000000000u, last = atomic_load(&srv->disk_warned);
    if ((last == 0 || now_s - last >= 60) &&
        atomic_compare_exchange_strong(&srv->disk_warned, &last, now_s ? now_s : 1))
        fprintf(stderr,
                "tally node: warning: %llu MiB free on the disk of %s; admissions stop "
                "below %llu MiB\n",
                (unsigned long long)(avail >> 20), srv->dir, (unsigned long long)(min >> 20));
    if (avail >= min)
        return true;
    tally_error(e, ST_DISK_FULL, "");
    snprintf(e->message, sizeof e->message,
             "%llu MiB free on the node's disk, below its "
             "reserve of %llu MiB: admissions are refused until space is freed",
             (unsigned long long)(avail >> 20), (unsigned long long)(min >> 20));
    return false;
}

static bool in_mempool(void *ctx, const uint8_t id[LEDGER_HASH_SIZE])
{
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(((rpc_server *)ctx)->lg, &rd);
    if (st == ST_OK)
        st = ledger_mempool_find(rd, id, NULL);
    ledger_read_end(rd);
    return st != ST_NOT_FOUND; /* a fault keeps counting it: never frees a share by mistake */
}

/* The sender's share of the mempool and its rate (rpc_limits.c). */
static bool admit_sender(rpc_server *srv, const ledger_message *m, const admit_item *it,
                         call_error *e)
{
    char why[200];
    status st = rpc_senders_admit(srv->senders, m->sender, it->id, it->env.len, mono_ns(),
                                  in_mempool, srv, why, sizeof why);
    if (st == ST_OK)
        return true;
    tally_error(e, st, "");
    if (st == ST_RATE_LIMITED)
        snprintf(e->message, sizeof e->message, "%s", why);
    return false;
}

/* submit, deploy and upgrade: admit a signed envelope into the mempool. want_kind < 0: any.
 * The answer comes once the envelope is durably in the mempool (or refused); inside a JSON-RPC
 * batch the envelope joins the batch's group and handle_batch turns the answer into an error
 * if admission refuses it. */
static json_t *submit_kind(rpc_server *srv, json_t *params, int want_kind, call_error *e)
{
    admit_item *it = base_calloc(1, sizeof *it);
    json_t *result = NULL;
    if (!it)
        return no_memory(e);
    if (!param_bytes(params, "envelope", true, &it->env, e))
        goto out_item;
    ledger_message m;
    status st = ledger_message_decode(span_of(it->env.ptr, it->env.len), srv->max_message_bytes,
                                      &m, it->id);
    if (st != ST_OK) {
        tally_error(e, st, "envelope");
        goto out_item;
    }
    if (want_kind >= 0 && m.kind != want_kind) {
        invalid(e, "the envelope is not an %s message",
                want_kind == LEDGER_MSG_INSTALL   ? "install"
                : want_kind == LEDGER_MSG_UPGRADE ? "upgrade"
                                                  : "mint");
        goto out_item;
    }
    if (!admit_target(srv, &m, e) || !admit_disk(srv, e) || !admit_sender(srv, &m, it, e))
        goto out_item;
    result = json_object();
    if (!result || json_object_set_new(result, "message_id", hex_json(it->id, sizeof it->id))) {
        json_decref(result);
        result = no_memory(e);
        goto out_item;
    }
    if (e->group) {
        if (group_add(e->group, it) == ST_OK)
            return result; /* the group owns the item now */
        json_decref(result);
        result = no_memory(e);
        goto out_item;
    }
    admit_wait(srv, &it, 1);
    if (it->st != ST_OK) {
        rpc_senders_undo(srv->senders, m.sender, it->id);
        json_decref(result);
        result = tally_error(e, it->st, "admission");
    }
out_item:
    buf_fini(&it->env);
    base_free(it);
    return result;
}

static json_t *m_submit(rpc_server *srv, json_t *params, call_error *e)
{
    return submit_kind(srv, params, -1, e);
}

static json_t *m_deploy(rpc_server *srv, json_t *params, call_error *e)
{
    return submit_kind(srv, params, LEDGER_MSG_INSTALL, e);
}

static json_t *m_upgrade(rpc_server *srv, json_t *params, call_error *e)
{
    return submit_kind(srv, params, LEDGER_MSG_UPGRADE, e);
}

static json_t *m_mint(rpc_server *srv, json_t *params, call_error *e)
{
    return submit_kind(srv, params, LEDGER_MSG_MINT, e);
}

/* A cycle amount as a JSON string of decimal digits (JSON numbers stop at 2^53 in many
 * readers; balances reach 2^128). */
static json_t *cycles_json(u128 v)
{
    char text[U128_TEXT_SIZE];
    u128_format(v, text);
    return json_string(text);
}

/* The interface of canister cid's code in the reader's snapshot (empty if none), so that
 * receipts and queries are typed without the round lock. */
static status snapshot_did(ledger_reader *rd, uint64_t cid, buf *did)
{
    static const uint8_t zero[LEDGER_HASH_SIZE];
    ledger_canister rec;
    span original, instrumented, text;
    if (ledger_canister_get(rd, cid, &rec) != ST_OK || !memcmp(rec.code_hash, zero, sizeof zero) ||
        ledger_code_get(rd, rec.code_hash, &original, &instrumented) != ST_OK ||
        !cli_wasm_candid(original, &text))
        return ST_OK;
    return buf_put(did, text.ptr, text.len);
}

/* snapshot_did on a fresh snapshot of the ledger. */
static status ledger_did(rpc_server *srv, uint64_t cid, buf *did)
{
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st == ST_OK) {
        st = snapshot_did(rd, cid, did);
        ledger_read_end(rd);
    }
    return st;
}

/* Adds "reply_candid": a Candid reply as text, typed by `method` of did when known. */
static int set_reply_candid(json_t *o, span did, const char *method, span bytes)
{
    buf text = {0};
    int rc = 0;
    if (cli_is_candid(bytes) && cli_candid_reply(did, method, bytes, &text) == ST_OK)
        rc =
            json_object_set_new(o, "reply_candid", json_stringn((const char *)text.ptr, text.len));
    buf_fini(&text);
    return rc;
}

/* Adds "reply" (hex) for a reply, else "reject" (hex) and "reject_text" when printable. */
static int set_payload(json_t *o, bool replied, span bytes)
{
    int rc = json_object_set_new(o, replied ? "reply" : "reject", hex_json(bytes.ptr, bytes.len));
    if (replied && rc == 0)
        rc = set_reply_candid(o, span_of(NULL, 0), NULL, bytes);
    if (!replied && rc == 0 && cli_is_printable(bytes))
        rc = json_object_set_new(o, "reject_text",
                                 json_stringn((const char *)bytes.ptr, bytes.len));
    return rc;
}

/* No receipt yet: {"message_id", "pending": true, "stage"} while the node holds the message
 * (stage "mempool": admitted, not started; "executing": in a block, paused across rounds),
 * else the error NOT_FOUND: never admitted here, or dropped (expired) before it ran. */
static json_t *pending_json(rpc_server *srv, ledger_reader *rd, const uint8_t id[LEDGER_HASH_SIZE],
                            call_error *e)
{
    const char *stage = "mempool";
    span env;
    status st = ledger_mempool_find(rd, id, NULL);
    if (st == ST_NOT_FOUND) {
        stage = "executing";
        st = ledger_message_get(rd, id, &env);
    }
    if (st == ST_NOT_FOUND && forwarded_has(&srv->fwd, id)) {
        stage = "consensus"; /* replicated: in consensus's mempool, or in a block not yet here */
        st = ST_OK;
    }
    if (st == ST_NOT_FOUND) {
        tally_error(e, ST_NOT_FOUND, "");
        snprintf(e->message, sizeof e->message,
                 "unknown message: never admitted by this node, or expired before it ran");
        return NULL;
    }
    if (st != ST_OK)
        return tally_error(e, st, "receipt");
    json_t *result = json_pack("{s:o, s:b, s:s}", "message_id", hex_json(id, LEDGER_HASH_SIZE),
                               "pending", 1, "stage", stage);
    return result ? result : no_memory(e);
}

/* A replied receipt's reply_candid again, typed by the results of its message's method in the
 * canister's interface (docs/rpc.md "receipt"): record fields get their names. */
static int receipt_typed(ledger_reader *rd, const uint8_t id[LEDGER_HASH_SIZE],
                         const ledger_receipt *rc, json_t *result)
{
    span envelope;
    ledger_message m;
    char method[LEDGER_METHOD_MAX + 1];
    buf did = {0};
    if (rc->status != ST_OK || !cli_is_candid(rc->reply) ||
        ledger_message_get(rd, id, &envelope) != ST_OK ||
        ledger_message_parse(envelope, &m, NULL) != ST_OK || m.kind != LEDGER_MSG_UPDATE ||
        m.method.len > LEDGER_METHOD_MAX)
        return 0;
    memcpy(method, m.method.ptr, m.method.len);
    method[m.method.len] = '\0';
    int rcode = snapshot_did(rd, m.canister_id, &did) != ST_OK ? -1 : 0;
    if (rcode == 0 && did.len)
        rcode = set_reply_candid(result, span_of(did.ptr, did.len), method, rc->reply);
    buf_fini(&did);
    return rcode;
}

static json_t *m_receipt(rpc_server *srv, json_t *params, call_error *e)
{
    uint8_t id[LEDGER_HASH_SIZE];
    if (!param_hash(params, "message_id", id, e))
        return NULL;
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st != ST_OK)
        return tally_error(e, st, "ledger");
    ledger_receipt rc;
    json_t *result = NULL;
    st = ledger_receipt_get(rd, id, &rc);
    if (st == ST_NOT_FOUND) {
        result = pending_json(srv, rd, id, e);
    } else if (st != ST_OK) {
        tally_error(e, st, "receipt");
    } else {
        result = json_pack("{s:o, s:I, s:s, s:I, s:I}", "message_id", hex_json(id, sizeof id),
                           "status", (json_int_t)rc.status, "status_name",
                           status_name((status)rc.status), "instructions",
                           (json_int_t)rc.instructions, "height", (json_int_t)rc.height);
        if (result && rc.status != ST_OK &&
            json_object_set_new(result, "reject_code",
                                json_integer(host_reject_code((status)rc.status))) != 0) {
            json_decref(result);
            result = NULL;
        }
        if (!result || set_payload(result, rc.status == ST_OK, rc.reply) != 0 ||
            receipt_typed(rd, id, &rc, result) != 0) {
            json_decref(result);
            result = no_memory(e);
        }
    }
    ledger_read_end(rd);
    return result;
}

static json_t *m_query(rpc_server *srv, json_t *params, call_error *e)
{
    uint64_t cid;
    const char *method;
    buf arg = {0}, sender = {0};
    json_t *result = NULL;
    const char *candid = NULL;
    buf did = {0};
    if (!param_canister(params, &cid, e) || !param_string(params, "method", true, &method, e) ||
        !param_bytes(params, "arg", false, &arg, e) ||
        !param_string(params, "args_candid", false, &candid, e) ||
        !param_bytes(params, "sender", false, &sender, e))
        goto out_bufs;
    /* the interface from a ledger snapshot (no round lock): types a Candid argument, and a
     * Candid reply (read below if there was no Candid argument) */
    if (candid && ledger_did(srv, cid, &did) != ST_OK) {
        no_memory(e);
        goto out_bufs;
    }
    if (candid && arg.len) {
        invalid(e, "give \"arg\" or \"args_candid\", not both");
        goto out_bufs;
    }
    char why[200];
    status cst =
        candid ? cli_candid_args(span_of(did.ptr, did.len), method, candid, &arg, why, sizeof why)
               : ST_OK;
    if (cst != ST_OK) {
        invalid(e, "args_candid: %s: %s", status_name(cst), why);
        goto out_bufs;
    }
    host_result res;
    host_result_init(&res);
    status st;
    uint64_t retry_ms = 0;
    if (srv->opt.queries) {
        st = query_pool_run(srv->opt.queries, e->client, cid, span_of(method, strlen(method)),
                            span_of(arg.ptr, arg.len), span_of(sender.ptr, sender.len), &res,
                            &retry_ms);
    } else {
        pthread_mutex_lock(srv->lock);
        st = scheduler_query(srv->s, cid, span_of(method, strlen(method)),
                             span_of(arg.ptr, arg.len), span_of(sender.ptr, sender.len), &res);
        pthread_mutex_unlock(srv->lock);
    }
    if (st == ST_QUERY_BUDGET_EXCEEDED) {
        tally_error(e, st, "query");
        size_t n = strlen(e->message);
        snprintf(e->message + n, sizeof e->message - n,
                 " (budget %llu instructions/s per "
                 "address; retry in %llu ms)",
                 (unsigned long long)query_pool_budget(srv->opt.queries),
                 (unsigned long long)retry_ms);
    } else if (st != ST_OK) {
        tally_error(e, st, "query");
    } else if ((res.st == ST_METHOD_NOT_FOUND || res.st == ST_CANISTER_EMPTY) &&
               res.instructions == 0) {
        tally_error(e, res.st, method); /* nothing ran: the host's text says why */
        if (res.bytes.len && cli_is_printable(span_of(res.bytes.ptr, res.bytes.len)))
            snprintf(e->message, sizeof e->message, "%.*s",
                     (int)(res.bytes.len < 200 ? res.bytes.len : 200),
                     (const char *)res.bytes.ptr);
    } else {
        bool replied = res.st == ST_OK && res.kind == HOST_RESPONSE_REPLY;
        status outcome = res.st == ST_OK && !replied ? ST_CANISTER_REJECTED : res.st;
        result = json_pack("{s:I, s:s, s:I}", "status", (json_int_t)outcome, "status_name",
                           status_name(outcome), "instructions", (json_int_t)res.instructions);
        if (result && !replied)
            json_object_set_new(result, "reject_code", json_integer(res.reject_code));
        span reply = span_of(res.bytes.ptr, res.bytes.len);
        /* reply_candid at the reply's own types, then typed by the interface if it has one */
        if (replied && !candid && cli_is_candid(reply) && ledger_did(srv, cid, &did) != ST_OK)
            did.len = 0;
        if (!result || set_payload(result, replied, reply) ||
            (replied && did.len &&
             set_reply_candid(result, span_of(did.ptr, did.len), method, reply))) {
            json_decref(result);
            result = no_memory(e);
        }
    }
    host_result_fini(&res);
out_bufs:
    buf_fini(&arg);
    buf_fini(&sender);
    buf_fini(&did);
    return result;
}

/* ---- methods: chain state -------------------------------------------------------------------- */

static json_t *m_status(rpc_server *srv, json_t *params, call_error *e)
{
    (void)params;
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st != ST_OK)
        return tally_error(e, st, "ledger");
    ledger_tip tip;
    json_t *result = NULL;
    st = ledger_tip_get(rd, &tip);
    if (st != ST_OK) {
        tally_error(e, st, "tip");
        goto out_read;
    }
    uint64_t seq = 0, pending = 0;
    span env;
    while (pending < MEMPOOL_COUNT_MAX && ledger_mempool_next(rd, &seq, &env, NULL) == ST_OK)
        pending++; /* counted, not hashed: the ids are not needed */
    const ledger_genesis *g = ledger_genesis_of(srv->lg);
    ledger_block b0;
    st = ledger_block_get(rd, 0, &b0); /* its parent hash is the genesis hash */
    if (st != ST_OK) {
        tally_error(e, st, "block 0");
        goto out_read;
    }
    result = json_pack(
        "{s:s, s:o, s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "chain_id",
        g->chain_id, "genesis_hash", hex_json(b0.parent_hash, LEDGER_HASH_SIZE), "height",
        (json_int_t)tip.height, "block_hash", hex_json(tip.hash, LEDGER_HASH_SIZE), "state_root",
        hex_json(tip.state_root, LEDGER_HASH_SIZE), "receipts_root",
        hex_json(tip.receipts_root, LEDGER_HASH_SIZE), "timestamp_ns",
        (json_int_t)tip.timestamp_ns, "mempool_size", (json_int_t)pending, "next_canister_id",
        (json_int_t)tip.next_canister_id, "round_instruction_limit",
        (json_int_t)g->round_instruction_limit, "message_instruction_limit",
        (json_int_t)g->message_instruction_limit, "max_message_bytes",
        (json_int_t)g->max_message_bytes, "schedule_version", (json_int_t)g->schedule_version);
    span subnet;
    scheduler_cycles cy;
    if (result && (ledger_subnet_get(rd, &subnet) != ST_OK ||
                   scheduler_subnet_cycles(subnet, &cy) != ST_OK ||
                   json_object_set_new(
                       result, "cycles",
                       json_pack("{s:o, s:o, s:o}", "minted", cycles_json(cy.minted), "burned",
                                 cycles_json(cy.burned), "fees", cycles_json(cy.fees))) != 0)) {
        json_decref(result);
        result = NULL;
    }
    uint64_t commits, admitted;
    rpc_server_admit_stats(srv, &commits, &admitted);
    if (result &&
        json_object_set_new(result, "state",
                            json_string(atomic_load(&srv->ready) ? "serving" : "resuming")) != 0) {
        json_decref(result);
        result = NULL;
    }
    json_t *extra =
        result && srv->opt.status_extra ? srv->opt.status_extra(srv->opt.forward_user) : NULL;
    if (extra && json_object_set_new(result, "replication", extra) != 0) {
        json_decref(result);
        result = NULL;
    }
    if (result && json_object_set_new(result, "admission",
                                      json_pack("{s:I, s:I}", "commits", (json_int_t)commits,
                                                "admitted", (json_int_t)admitted)) != 0) {
        json_decref(result);
        result = NULL;
    }
    if (!result)
        no_memory(e);
out_read:
    ledger_read_end(rd);
    return result;
}

static json_t *block_json(const ledger_block *b)
{
    json_t *ids = json_array();
    for (uint32_t i = 0; ids && i < b->message_count; i++)
        if (json_array_append_new(ids, hex_json(b->message_ids + (size_t)i * LEDGER_HASH_SIZE,
                                                LEDGER_HASH_SIZE)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    if (!ids)
        return NULL;
    return json_pack("{s:I, s:o, s:o, s:I, s:o, s:o, s:o}", "height", (json_int_t)b->height,
                     "hash", hex_json(b->hash, LEDGER_HASH_SIZE), "parent_hash",
                     hex_json(b->parent_hash, LEDGER_HASH_SIZE), "timestamp_ns",
                     (json_int_t)b->timestamp_ns, "messages", ids, "receipts_root",
                     hex_json(b->receipts_root, LEDGER_HASH_SIZE), "state_root",
                     hex_json(b->state_root, LEDGER_HASH_SIZE));
}

static json_t *m_block(rpc_server *srv, json_t *params, call_error *e)
{
    json_t *h = json_object_get(params, "height"), *verbose = json_object_get(params, "verbose");
    if (h && (!json_is_integer(h) || json_integer_value(h) < 0))
        return invalid(e, "parameter 'height' must be a non-negative integer");
    if (verbose && !json_is_boolean(verbose))
        return invalid(e, "parameter 'verbose' must be true or false");
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st != ST_OK)
        return tally_error(e, st, "ledger");
    ledger_tip tip;
    ledger_block b;
    json_t *result = NULL;
    st = ledger_tip_get(rd, &tip);
    if (st == ST_OK)
        st = ledger_block_get(rd, h ? (uint64_t)json_integer_value(h) : tip.height, &b);
    /* its size before it is built: 67 bytes per message id, 400 for the rest */
    size_t need = st == ST_OK ? 400 + (size_t)b.message_count * (2 * LEDGER_HASH_SIZE + 3) : 0;
    if (st != ST_OK)
        tally_error(e, st, "block");
    else if (need > e->budget)
        too_large(e, need);
    else if (!(result = block_json(&b)))
        no_memory(e);
    bool over = false;
    json_t *details = result && json_is_true(verbose)
                          ? rpc_block_messages_json(rd, &b, e->budget - need, &over)
                          : NULL;
    if (result && json_is_true(verbose) &&
        (!details || json_object_set_new(result, "message_details", details) != 0)) {
        json_decref(result);
        result = over ? too_large(e, e->budget + 1) : no_memory(e);
    }
    ledger_read_end(rd);
    return result;
}

static json_t *methods_json(rpc_server *srv, uint64_t cid, call_error *e)
{
    json_t *list = json_array();
    if (!list)
        return no_memory(e);
    pthread_mutex_lock(srv->lock);
    const host_code *code = NULL;
    status st = scheduler_canister_code(srv->s, cid, &code);
    for (uint32_t i = 0; st == ST_OK && code && i < host_code_method_count(code); i++) {
        int kind = 0;
        span name = host_code_method(code, i, &kind);
        json_t *m = json_pack("{s:s%, s:s}", "name", (const char *)name.ptr, name.len, "kind",
                              kind == HOST_METHOD_QUERY ? "query" : "update");
        if (!m || json_array_append_new(list, m) != 0)
            st = ST_OUT_OF_MEMORY;
    }
    pthread_mutex_unlock(srv->lock);
    if (st != ST_OK) {
        json_decref(list);
        return tally_error(e, st, "canister");
    }
    return list;
}

static json_t *m_canister_info(rpc_server *srv, json_t *params, call_error *e)
{
    uint64_t cid;
    if (!param_canister(params, &cid, e))
        return NULL;
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st != ST_OK)
        return tally_error(e, st, "ledger");
    ledger_canister rec;
    json_t *result = NULL, *ctl = NULL;
    static const uint8_t zero[LEDGER_HASH_SIZE];
    st = ledger_canister_get(rd, cid, &rec);
    if (st != ST_OK) {
        tally_error(e, st, "canister");
        goto out_read;
    }
    ctl = json_array();
    for (uint32_t i = 0; ctl && i < rec.controller_count; i++)
        json_array_append_new(ctl, hex_json(rec.controllers[i], LEDGER_PUBLIC_KEY_SIZE));
    static const char *const statuses[] = {"running", "stopping", "stopped"};
    result = json_pack("{s:o, s:I, s:o, s:I, s:O, s:s, s:I, s:I}", "canister", canister_json(cid),
                       "id", (json_int_t)cid, "code_hash",
                       memcmp(rec.code_hash, zero, sizeof zero)
                           ? hex_json(rec.code_hash, LEDGER_HASH_SIZE)
                           : json_null(),
                       "version", (json_int_t)rec.version, "controllers", ctl, "status",
                       rec.status < 3 ? statuses[rec.status] : "unknown", "heap_pages",
                       (json_int_t)rec.heap_pages, "stable_pages", (json_int_t)rec.stable_pages);
    if (!result) {
        no_memory(e);
        goto out_read;
    }
    u128 balance = 0;
    uint64_t threshold = 0, timer = 0;
    if (scheduler_aux_cycles(rec.aux, &balance, &threshold, &timer) != ST_OK ||
        json_object_set_new(result, "cycles", cycles_json(balance)) != 0 ||
        json_object_set_new(result, "freezing_threshold", json_integer((json_int_t)threshold)) ||
        json_object_set_new(result, "global_timer", json_integer((json_int_t)timer))) {
        json_decref(result);
        result = tally_error(e, ST_CORRUPT_LEDGER, "canister record");
        goto out_read;
    }
    uint8_t self[29];
    buf principal = {0};
    if (candid_principal_print(self, scheduler_canister_principal(cid, self), &principal) !=
            ST_OK ||
        json_object_set_new(result, "principal",
                            json_stringn((const char *)principal.ptr, principal.len)) != 0) {
        buf_fini(&principal);
        json_decref(result);
        result = no_memory(e);
        goto out_read;
    }
    buf_fini(&principal);
    json_t *methods = methods_json(srv, cid, e);
    if (!methods || json_object_set_new(result, "methods", methods) != 0) {
        json_decref(result);
        result = NULL;
    }
    buf did = {0};
    if (result && (snapshot_did(rd, cid, &did) != ST_OK ||
                   json_object_set_new(result, "candid",
                                       did.len ? json_stringn((const char *)did.ptr, did.len)
                                               : json_null()) != 0)) {
        json_decref(result);
        result = no_memory(e);
    }
    buf_fini(&did);
out_read:
    json_decref(ctl);
    ledger_read_end(rd);
    return result;
}

/* canisters {from?, limit?}: the canisters with ids from..from+limit-1 that exist (default
 * 1 and 1000), in short; "next" is the id to ask from for more, or null. */
static json_t *m_canisters(rpc_server *srv, json_t *params, call_error *e)
{
    json_t *jf = json_object_get(params, "from"), *jl = json_object_get(params, "limit");
    if ((jf && (!json_is_integer(jf) || json_integer_value(jf) < 1)) ||
        (jl &&
         (!json_is_integer(jl) || json_integer_value(jl) < 1 || json_integer_value(jl) > 10000)))
        return invalid(e, "'from' must be an id >= 1 and 'limit' 1 to 10000");
    uint64_t from = jf ? (uint64_t)json_integer_value(jf) : 1;
    uint64_t limit = jl ? (uint64_t)json_integer_value(jl) : 1000;
    ledger_reader *rd = NULL;
    status st = ledger_read_begin(srv->lg, &rd);
    if (st != ST_OK)
        return tally_error(e, st, "ledger");
    ledger_tip tip;
    json_t *list = NULL, *result = NULL;
    st = ledger_tip_get(rd, &tip);
    if (st != ST_OK) {
        tally_error(e, st, "tip");
        goto out_read;
    }
    if (limit * 400 > e->budget) {
        too_large(e, limit * 400);
        goto out_read;
    }
    list = json_array();
    uint64_t id = from;
    for (; list && id < tip.next_canister_id && id - from < limit; id++) {
        json_t *c = rpc_canister_summary_json(rd, id);
        if (c && json_array_append_new(list, c) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    result =
        list ? json_pack("{s:o, s:o}", "canisters", list, "next",
                         id < tip.next_canister_id ? json_integer((json_int_t)id) : json_null())
             : NULL;
    if (!result)
        no_memory(e);
out_read:
    ledger_read_end(rd);
    return result;
}

/* ---- JSON-RPC framing ---------------------------------------------------------------------- */

typedef json_t *(*method_fn)(rpc_server *srv, json_t *params, call_error *e);

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"submit", m_submit},       {"deploy", m_deploy},
    {"upgrade", m_upgrade},     {"receipt", m_receipt},
    {"query", m_query},         {"status", m_status},
    {"block", m_block},         {"canister_info", m_canister_info},
    {"canisters", m_canisters}, {"mint", m_mint},
};

static json_t *error_response(json_t *id, const call_error *e)
{
    json_t *err = json_pack("{s:i, s:s}", "code", e->code, "message", e->message);
    if (err && e->code == RPC_TALLY_ERROR)
        json_object_set_new(err, "data",
                            json_pack("{s:s, s:i, s:s}", "status", status_name(e->st), "code",
                                      (int)e->st, "class",
                                      status_class_name(status_class_of(e->st))));
    return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "error", err, "id",
                     id ? id : json_null());
}

static json_t *simple_error(int code, const char *msg)
{
    call_error e = {.code = code};
    snprintf(e.message, sizeof e.message, "%s", msg);
    return error_response(NULL, &e);
}

/* One request object; NULL for a notification (no "id"). In a JSON-RPC batch, group collects
 * the submits (see handle_batch); else NULL. */
static json_t *handle_one(rpc_server *srv, json_t *req, admit_group *group, const uint8_t *client,
                          size_t budget, bool *over)
{
    json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    if (id && !json_is_string(id) && !json_is_number(id) && !json_is_null(id))
        id = NULL;
    json_t *version = json_object_get(req, "jsonrpc"), *method = json_object_get(req, "method");
    json_t *params = json_object_get(req, "params");
    call_error e = {
        .code = RPC_INVALID_REQUEST, .group = group, .client = client, .budget = budget};
    if (!json_is_object(req) || !json_is_string(version) ||
        strcmp(json_string_value(version), "2.0") || !json_is_string(method) ||
        (json_object_get(req, "id") && !id)) {
        snprintf(e.message, sizeof e.message, "invalid JSON-RPC 2.0 request");
        return error_response(id, &e);
    }
    json_t *result = NULL;
    method_fn fn = NULL;
    for (size_t i = 0; i < BASE_ARRAY_LEN(methods); i++)
        if (!strcmp(methods[i].name, json_string_value(method)))
            fn = methods[i].fn;
    if (fn && fn != m_status && !atomic_load_explicit(&srv->ready, memory_order_acquire)) {
        tally_error(&e, ST_NODE_STARTING, "");
        snprintf(e.message, sizeof e.message, "%s", status_message(ST_NODE_STARTING));
    } else if (!fn) {
        e.code = RPC_METHOD_NOT_FOUND;
        snprintf(e.message, sizeof e.message, "method not found: %s", json_string_value(method));
    } else if (params && !json_is_object(params)) {
        e.code = RPC_INVALID_PARAMS;
        snprintf(e.message, sizeof e.message, "params must be an object (named parameters)");
    } else {
        json_t *empty = params ? NULL : json_object();
        result = fn(srv, params ? params : empty, &e);
        json_decref(empty);
    }
    if (result && rpc_json_size(result) + 64 > budget) { /* built, but over: refuse it */
        size_t size = rpc_json_size(result) + 64;
        json_decref(result);
        result = too_large(&e, size);
    }
    *over = !result && e.code == RPC_TALLY_ERROR && e.st == ST_RESPONSE_TOO_LARGE;
    if (!id && !json_object_get(req, "id")) {
        json_decref(result);
        return NULL; /* a notification: no response at all */
    }
    if (!result)
        return error_response(id, &e);
    return json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", result, "id", id);
}

/* Admits the batch's submits in one group and turns the answer of each refused one into its
 * error. slots[i]: index in out of item i's answer, or SIZE_MAX (a notification). */
static void batch_admit(rpc_server *srv, admit_group *g, const size_t *slots, json_t *out)
{
    admit_wait(srv, g->items, g->n);
    for (size_t i = 0; i < g->n; i++) {
        admit_item *it = g->items[i];
        if (it->st == ST_OK || slots[i] == SIZE_MAX)
            continue;
        call_error e = {0};
        tally_error(&e, it->st, "admission");
        json_t *old = json_array_get(out, slots[i]);
        json_t *r = error_response(json_object_get(old, "id"), &e);
        if (r)
            json_array_set_new(out, slots[i], r);
    }
}

/* A JSON-RPC batch: every request is answered in order; the submits among them are checked
 * one by one and then admitted together (one mempool commit for the batch). */
static json_t *handle_batch(rpc_server *srv, json_t *reqs, const uint8_t *client)
{
    if (json_array_size(reqs) == 0)
        return simple_error(RPC_INVALID_REQUEST, "empty batch");
    json_t *out = json_array();
    admit_group g = {0};
    size_t *slots = base_alloc(json_array_size(reqs) * sizeof *slots);
    if (!out || !slots)
        goto out_nomem;
    size_t i, used = 2, cap = srv->opt.max_response; /* "[]" */
    json_t *req;
    json_array_foreach(reqs, i, req)
    {
        size_t before = g.n, slot = json_array_size(out);
        bool over = false;
        json_t *r = handle_one(srv, req, &g, client, used < cap ? cap - used : 0, &over);
        if (r)
            used += rpc_json_size(r) + 1;
        if (over || used > cap) { /* the batch's answers would pass the limit: refuse it all,
                                   * its submits unadmitted, the rest of it not run */
            json_decref(r);
            json_decref(out);
            group_fini(&g);
            base_free(slots);
            call_error e = {0};
            tally_error(&e, ST_RESPONSE_TOO_LARGE, "");
            snprintf(e.message, sizeof e.message,
                     "the answers to this batch would exceed the "
                     "node's response limit of %zu bytes (--max-response); send smaller batches",
                     cap);
            return error_response(NULL, &e);
        }
        if (r && json_array_append_new(out, r) != 0)
            r = NULL;
        if (g.n > before)
            slots[g.n - 1] = r ? slot : SIZE_MAX;
    }
    if (g.n)
        batch_admit(srv, &g, slots, out);
    group_fini(&g);
    base_free(slots);
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
out_nomem:
    json_decref(out);
    base_free(slots);
    return simple_error(RPC_INTERNAL_ERROR, "out of memory");
}

/* True if the request is one notification or a batch of them only: no answer is due. */
static bool notifications_only(json_t *req)
{
    if (json_is_object(req))
        return json_object_get(req, "id") == NULL &&
               json_is_string(json_object_get(req, "method"));
    if (!json_is_array(req) || json_array_size(req) == 0)
        return false;
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) if (!notifications_only(r) || json_is_array(r)) return false;
    return true;
}

/* The answer when no answer could be built (out of memory): never an empty 204. */
static const char internal_error[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"internal error: the "
    "answer could not be built (out of memory)\"},\"id\":null}";

/* As rpc_server_handle; *due says whether an answer is due (false: notifications only), so
 * that a NULL answer that was due becomes internal_error. */
static char *handle_text(rpc_server *srv, const uint8_t client[16], const char *body, size_t len,
                         bool *due)
{
    json_error_t jerr;
    json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *resp;
    if (!req) {
        char msg[256];
        snprintf(msg, sizeof msg, "parse error: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        resp = simple_error(RPC_PARSE_ERROR, msg);
    } else if (json_is_array(req)) {
        resp = handle_batch(srv, req, client);
    } else {
        bool over;
        resp = handle_one(srv, req, NULL, client, srv->opt.max_response, &over);
    }
    *due = !req || !notifications_only(req);
    json_decref(req);
    char *text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_decref(resp);
    if (!text && *due) {
        text = base_alloc(sizeof internal_error);
        if (text)
            memcpy(text, internal_error, sizeof internal_error);
    }
    return text;
}

char *rpc_server_handle(rpc_server *srv, const char *body, size_t len)
{
    static const uint8_t loopback[16] = {[15] = 1};
    bool due;
    return handle_text(srv, loopback, body, len, &due);
}

char *rpc_server_handle_from(rpc_server *srv, const uint8_t client[16], const char *body,
                             size_t len)
{
    bool due;
    return handle_text(srv, client, body, len, &due);
}

/* ---- HTTP --------------------------------------------------------------------------------- */

typedef struct http_request {
    buf body;
    bool too_large;
    bool headers_done; /* on_request has seen the headers */
    uint64_t start_ns; /* when the request line arrived (on_uri) */
} http_request;

/* Called by libmicrohttpd when a request line arrives: the request's state starts here, so
 * the deadline covers the headers too (a byte every few seconds keeps an idle timeout from
 * ever firing; the deadline does not move). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)uri, (void)c;
    http_request *req = base_calloc(1, sizeof *req);
    if (req)
        req->start_ns = mono_ns();
    return req;
}

static bool past_deadline(const rpc_server *srv, const http_request *req)
{
    return mono_ns() - req->start_ns > (uint64_t)srv->opt.request_deadline_s * 1000000000u;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        text ? strlen(text) : 0, text, base_free);
    if (!r) {
        base_free(text);
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, int rpc_code,
                                  const char *msg)
{
    json_t *e = simple_error(rpc_code, msg);
    char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    return text ? send_text(c, code, text) : MHD_NO;
}

/* 413, saying the limit (the client may have sent a module above max_message_bytes). */
static enum MHD_Result body_too_large(struct MHD_Connection *c, const rpc_server *srv)
{
    char msg[200];
    snprintf(msg, sizeof msg,
             "request body too large: the node takes at most %zu bytes "
             "(tally node --max-body; messages up to %u bytes, genesis max_message_bytes)",
             srv->opt.max_body, srv->max_message_bytes);
    return send_error(c, 413, RPC_INVALID_REQUEST, msg);
}

/* The connection's peer address as 16 bytes (IPv4 mapped into IPv6; all zeros if unknown). */
static void client_address(struct MHD_Connection *c, uint8_t out[16])
{
    memset(out, 0, 16);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    rpc_server *srv = cls;
    http_request *req = *con_cls;
    (void)version;
    if (!req) /* on_uri could not allocate */
        return MHD_NO;
    if (!req->headers_done) {
        req->headers_done = true;
        if (past_deadline(srv, req))
            return send_error(c, MHD_HTTP_REQUEST_TIMEOUT, RPC_INVALID_REQUEST,
                              "the request headers took longer than the node's deadline");
        if (rpc_content_length_conflict(c))
            return send_error(c, MHD_HTTP_BAD_REQUEST, RPC_INVALID_REQUEST,
                              "two different Content-Length headers");
        if (strcmp(method, "POST"))
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, RPC_INVALID_REQUEST,
                              "use HTTP POST with a JSON-RPC 2.0 body");
        if (strcmp(url, "/"))
            return send_error(c, MHD_HTTP_NOT_FOUND, RPC_INVALID_REQUEST, "the endpoint is /");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > srv->opt.max_body)
            return body_too_large(c, srv);
        return MHD_YES;
    }
    if (past_deadline(srv, req)) /* a body trickling in: close the connection */
        return MHD_NO;
    if (*upload_size) {
        if (!req->too_large && req->body.len + *upload_size > srv->opt.max_body)
            req->too_large = true;
        if (!req->too_large && buf_put(&req->body, upload, *upload_size) != ST_OK)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->too_large)
        return body_too_large(c, srv);
    uint8_t client[16];
    client_address(c, client);
    bool due = true;
    char *text = handle_text(srv, client, (const char *)req->body.ptr, req->body.len, &due);
    if (!text && due) { /* not even the error text could be allocated */
        struct MHD_Response *r = MHD_create_response_from_buffer(
            sizeof internal_error - 1, (void *)internal_error, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ok = r ? MHD_queue_response(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r) : MHD_NO;
        if (r)
            MHD_destroy_response(r);
        return ok;
    }
    return send_text(c, text ? MHD_HTTP_OK : MHD_HTTP_NO_CONTENT, text);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    http_request *req = *con_cls;
    if (req) {
        buf_fini(&req->body);
        base_free(req);
        *con_cls = NULL;
    }
}

/* The defaults of the limits left 0 (rpc.h). */
static void options_default(rpc_server_options *o, uint32_t max_message_bytes)
{
    if (!o->max_response)
        o->max_response = (size_t)16 << 20;
    if (!o->max_connections)
        o->max_connections = 1000;
    if (!o->max_per_address)
        o->max_per_address = 64;
    if (!o->request_deadline_s)
        o->request_deadline_s = 60;
    if (!o->sender_mempool_bytes)
        o->sender_mempool_bytes = (uint64_t)64 << 20;
    if (!o->sender_rate_bytes)
        o->sender_rate_bytes = (uint64_t)64 << 20;
    uint64_t reserve = (uint64_t)4 * max_message_bytes;
    if (!o->min_free_disk)
        o->min_free_disk = reserve > ((uint64_t)256 << 20) ? reserve : (uint64_t)256 << 20;
}

status rpc_server_new(ledger *lg, struct scheduler *s, void *lock, const rpc_server_options *opt,
                      rpc_server **out)
{
    rpc_server *srv = base_calloc(1, sizeof *srv);
    if (!srv)
        return ST_OUT_OF_MEMORY;
    srv->lg = lg;
    srv->s = s;
    atomic_init(&srv->ready, s != NULL);
    srv->lock = lock;
    srv->opt = *opt;
    snprintf(srv->listen, sizeof srv->listen, "%s", opt->listen);
    srv->opt.listen = srv->listen;
    const ledger_genesis *g = ledger_genesis_of(lg);
    srv->max_message_bytes = g ? g->max_message_bytes : 0;
    options_default(&srv->opt, srv->max_message_bytes);
    snprintf(srv->dir, sizeof srv->dir, "%s", opt->dir ? opt->dir : "");
    srv->opt.dir = NULL;
    rpc_sender_limits sl = {srv->opt.sender_mempool_bytes, srv->opt.sender_rate_bytes};
    srv->senders = rpc_senders_new(&sl);
    if (!srv->senders) {
        base_free(srv);
        return ST_OUT_OF_MEMORY;
    }
    if (opt->forward) {
        srv->fwd.ids = base_calloc(FORWARDED_SLOTS, LEDGER_HASH_SIZE);
        if (!srv->fwd.ids) {
            rpc_senders_free(srv->senders);
            base_free(srv);
            return ST_OUT_OF_MEMORY;
        }
    }
    pthread_mutex_init(&srv->fwd.mu, NULL);
    if (pthread_mutex_init(&srv->mc.mu, NULL) != 0) {
        base_free(srv->fwd.ids);
        rpc_senders_free(srv->senders);
        base_free(srv);
        return ST_OUT_OF_MEMORY;
    }
    status st = admit_start(srv);
    if (st != ST_OK) {
        pthread_mutex_destroy(&srv->mc.mu);
        base_free(srv->fwd.ids);
        rpc_senders_free(srv->senders);
        base_free(srv);
        return st;
    }
    *out = srv;
    return ST_OK;
}

/* "HOST:PORT" (IPv4, or "localhost") into a socket address. */
static status listen_parse(const char *listen, bool allow_public, struct sockaddr_in *sa)
{
    const char *colon = strrchr(listen, ':');
    uint64_t port;
    char host[64];
    if (!colon || (size_t)(colon - listen) >= sizeof host || !cli_u64_parse(colon + 1, &port) ||
        port > 65535)
        return ST_BAD_ARGUMENT;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return ST_BAD_ARGUMENT;
    bool loopback = (ntohl(sa->sin_addr.s_addr) >> 24) == 127;
    return loopback || allow_public ? ST_OK : ST_BAD_ARGUMENT;
}

status rpc_server_start(rpc_server *srv)
{
    struct sockaddr_in sa;
    if (listen_parse(srv->listen, srv->opt.allow_public, &sa) != ST_OK)
        return ST_BAD_ARGUMENT;
    srv->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC, ntohs(sa.sin_port), NULL,
        NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(srv->opt.threads ? srv->opt.threads : 2),
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->opt.timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        srv->opt.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->opt.max_per_address,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    return srv->daemon ? ST_OK : ST_IO_ERROR;
}

void rpc_server_attach(rpc_server *srv, struct scheduler *s, struct query_pool *queries)
{
    srv->s = s;
    srv->opt.queries = queries;
    atomic_store_explicit(&srv->ready, true, memory_order_release); /* after both */
}

uint16_t rpc_server_port(const rpc_server *srv)
{
    const union MHD_DaemonInfo *info =
        srv->daemon ? MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : 0;
}

void rpc_server_free(rpc_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon) {
        MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        MHD_stop_daemon(srv->daemon);
    }
    admit_stop(srv); /* after the handlers: they may be waiting for it */
    rpc_senders_free(srv->senders);
    for (size_t i = 0; i < srv->mc.n; i++)
        buf_fini(&srv->mc.e[i].names);
    pthread_mutex_destroy(&srv->mc.mu);
    pthread_mutex_destroy(&srv->fwd.mu);
    base_free(srv->fwd.ids);
    base_free(srv);
}
