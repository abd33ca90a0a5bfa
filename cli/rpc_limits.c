/* rpc_limits.c - the node's defences against one client (docs/rpc.md "Limits"): duplicate
 * Content-Length headers, response sizes measured without building the text, per-sender
 * shares of the mempool and admission rates (token buckets), and the free disk space. The
 * per-address connection limit and the header/body deadlines are libmicrohttpd options and
 * checks in rpc_server.c. None of this is state: it decides what a node admits, never what a
 * block does. */
#include "rpc_limits.h"

#include <string.h>
#include <sys/statvfs.h>

/* ---- HTTP ---------------------------------------------------------------------------------- */

typedef struct cl_scan {
    const char *first;
    bool conflict;
} cl_scan;

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    cl_scan *s = cls;
    (void)kind;
    if (strcasecmp(key, "Content-Length") != 0)
        return MHD_YES;
    if (!s->first)
        s->first = value ? value : "";
    else if (strcmp(s->first, value ? value : "") != 0)
        s->conflict = true;
    return MHD_YES;
}

bool rpc_content_length_conflict(struct MHD_Connection *c)
{
    cl_scan s = {NULL, false};
    MHD_get_connection_values(c, MHD_HEADER_KIND, on_header, &s);
    return s.conflict;
}

size_t rpc_json_size(const json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- senders ------------------------------------------------------------------------------- */

enum { BUCKETS = 1024, BURST_SECONDS = 2, SWEEP_MIN = 4096 };

typedef struct waiting {
    uint8_t id[LEDGER_HASH_SIZE];
    uint64_t bytes;
} waiting;

typedef struct sender {
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    waiting *w; /* its messages admitted and perhaps still in the mempool */
    size_t n, cap;
    uint64_t bytes; /* sum of w[].bytes */
    double tokens;  /* rate bucket, in bytes */
    uint64_t refill_ns;
    struct sender *next;
} sender;

struct rpc_senders {
    pthread_mutex_t mu;
    rpc_sender_limits lim;
    sender *bucket[BUCKETS];
    size_t count, sweep_at; /* senders known; the count at which idle ones are forgotten */
};

rpc_senders *rpc_senders_new(const rpc_sender_limits *lim)
{
    rpc_senders *t = base_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        base_free(t);
        return NULL;
    }
    t->lim = *lim;
    t->sweep_at = SWEEP_MIN;
    return t;
}

static void prune(sender *s, bool (*still_waiting)(void *, const uint8_t *), void *ctx);

/* Forgets the senders with nothing waiting whose bucket has refilled: remembering them would
 * change no answer, and a stream of fresh keys would otherwise grow the table for good. */
static void sweep(rpc_senders *t, uint64_t now_ns, bool (*still_waiting)(void *, const uint8_t *),
                  void *ctx)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        for (sender **p = &t->bucket[i]; *p;) {
            sender *s = *p;
            prune(s, still_waiting, ctx);
            bool refilled = now_ns - s->refill_ns >= (uint64_t)BURST_SECONDS * 1000000000u;
            if (s->n == 0 && (refilled || !t->lim.rate_bytes)) {
                *p = s->next;
                base_free(s->w);
                base_free(s);
                t->count--;
            } else {
                p = &s->next;
            }
        }
    }
    t->sweep_at = t->count * 2 > SWEEP_MIN ? t->count * 2 : SWEEP_MIN;
}

void rpc_senders_free(rpc_senders *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (sender *s = t->bucket[i], *next; s; s = next) {
            next = s->next;
            base_free(s->w);
            base_free(s);
        }
    pthread_mutex_destroy(&t->mu);
    base_free(t);
}

static sender **slot_of(rpc_senders *t, const uint8_t key[LEDGER_PUBLIC_KEY_SIZE])
{
    uint32_t h; /* keys are public keys: uniformly distributed already */
    memcpy(&h, key, sizeof h);
    sender **p = &t->bucket[h % BUCKETS];
    while (*p && memcmp((*p)->key, key, LEDGER_PUBLIC_KEY_SIZE) != 0)
        p = &(*p)->next;
    return p;
}

/* Drops the messages that left the mempool (included in a block, or expired). */
static void prune(sender *s, bool (*still_waiting)(void *, const uint8_t *), void *ctx)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (still_waiting(ctx, s->w[i].id))
            s->w[k++] = s->w[i];
        else
            s->bytes -= s->w[i].bytes;
    }
    s->n = k;
}

static void refill(sender *s, const rpc_sender_limits *lim, uint64_t now_ns)
{
    double cap = (double)lim->rate_bytes * BURST_SECONDS;
    if (s->refill_ns == 0) {
        s->tokens = cap;
    } else if (now_ns > s->refill_ns) {
        s->tokens += (double)(now_ns - s->refill_ns) / 1e9 * (double)lim->rate_bytes;
        if (s->tokens > cap)
            s->tokens = cap;
    }
    s->refill_ns = now_ns;
}

status rpc_senders_admit(rpc_senders *t, const uint8_t key[LEDGER_PUBLIC_KEY_SIZE],
                         const uint8_t id[LEDGER_HASH_SIZE], uint64_t bytes, uint64_t now_ns,
                         bool (*still_waiting)(void *ctx, const uint8_t id[LEDGER_HASH_SIZE]),
                         void *ctx, char *why, size_t cap)
{
    if (!t->lim.mempool_bytes && !t->lim.rate_bytes)
        return ST_OK;
    pthread_mutex_lock(&t->mu);
    status st = ST_OK;
    sender **p = slot_of(t, key), *s = *p;
    if (!s && t->count >= t->sweep_at) {
        sweep(t, now_ns, still_waiting, ctx);
        p = slot_of(t, key);
    }
    if (!s) {
        s = base_calloc(1, sizeof *s);
        if (!s) {
            st = ST_OUT_OF_MEMORY;
            goto out_unlock;
        }
        memcpy(s->key, key, LEDGER_PUBLIC_KEY_SIZE);
        *p = s;
        t->count++;
    }
    if (t->lim.rate_bytes) {
        refill(s, &t->lim, now_ns);
        if (s->tokens < (double)bytes) {
            snprintf(why, cap, "sender over its admission rate (%llu bytes/s); retry later",
                     (unsigned long long)t->lim.rate_bytes);
            st = ST_RATE_LIMITED;
            goto out_unlock;
        }
    }
    if (t->lim.mempool_bytes) {
        if (s->bytes + bytes > t->lim.mempool_bytes)
            prune(s, still_waiting, ctx);
        if (s->bytes + bytes > t->lim.mempool_bytes) {
            snprintf(why, cap,
                     "sender has %llu bytes waiting in the mempool (limit %llu); "
                     "retry when they have run",
                     (unsigned long long)s->bytes, (unsigned long long)t->lim.mempool_bytes);
            st = ST_RATE_LIMITED;
            goto out_unlock;
        }
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 8;
            waiting *w = base_realloc(s->w, ncap * sizeof *w);
            if (!w) {
                st = ST_OUT_OF_MEMORY;
                goto out_unlock;
            }
            s->w = w;
            s->cap = ncap;
        }
        memcpy(s->w[s->n].id, id, LEDGER_HASH_SIZE);
        s->w[s->n++].bytes = bytes;
        s->bytes += bytes;
    }
    if (t->lim.rate_bytes)
        s->tokens -= (double)bytes;
out_unlock:
    pthread_mutex_unlock(&t->mu);
    return st;
}

size_t rpc_senders_count(rpc_senders *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->count;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void rpc_senders_undo(rpc_senders *t, const uint8_t key[LEDGER_PUBLIC_KEY_SIZE],
                      const uint8_t id[LEDGER_HASH_SIZE])
{
    if (!t->lim.mempool_bytes)
        return;
    pthread_mutex_lock(&t->mu);
    sender *s = *slot_of(t, key);
    for (size_t i = s ? s->n : 0; i-- > 0;) {
        if (!memcmp(s->w[i].id, id, LEDGER_HASH_SIZE)) {
            s->bytes -= s->w[i].bytes;
            s->w[i] = s->w[--s->n];
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- disk ---------------------------------------------------------------------------------- */

uint64_t rpc_disk_free(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        return UINT64_MAX;
    return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}
