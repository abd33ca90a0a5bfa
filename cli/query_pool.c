/* query_pool.c - the node's query workers (query_pool.h).
 *
 * A handler thread (libmicrohttpd's pool) that gets a query checks its client's budget, queues
 * a job and sleeps until a worker has run it. Workers take jobs in arrival order; each owns a
 * querier, so the replicas it keeps are its own and no lock is shared with the round thread
 * (scheduler/query.c). The budget is a token bucket per client address: it refills at
 * client_budget instructions per second up to one second's worth; a query starts only while it
 * is positive and then takes the query limit from it, and gives back what it did not use when
 * it ends (so concurrent queries of one address cannot all start on the same budget). The
 * clock here (CLOCK_MONOTONIC) decides only who is served when: it never reaches state. */
#include "query_pool.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CLIENTS_MAX = 1024, THREADS_MAX = 64 };

typedef struct query_job {
    uint64_t canister_id;
    span method, arg, caller;
    host_result *res;
    bool inspect; /* canister_inspect_message for an ingress update, not a query */
    status st;
    bool done;
    struct query_job *next;
} query_job;

typedef struct client {
    uint8_t addr[16];
    int64_t tokens;   /* instructions it may still start queries with */
    uint64_t last_ns; /* when tokens was last refilled */
} client;

struct query_pool {
    scheduler *s;
    query_pool_options o;
    uint64_t limit;
    pthread_mutex_t mu;
    pthread_cond_t queued;   /* a job arrived, or stop */
    pthread_cond_t finished; /* a job is done */
    query_job *head, **tail;
    unsigned waiting;
    bool stop;
    pthread_t threads[THREADS_MAX];
    unsigned started;
    client clients[CLIENTS_MAX];
    unsigned nclients;
    uint64_t run, over_budget, busy;
};

void query_pool_defaults(query_pool_options *o)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned t = n > 1 ? (unsigned)(n / 2) : 1;
    *o = (query_pool_options){
        .threads = t > 8 ? 8 : t, .client_budget = 1000000000ull, .cache_bytes = 512ull << 20};
    o->queue = 2 * o->threads;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
    query_pool *p = arg;
    scheduler_querier *q = NULL;
    status qst = scheduler_querier_new(p->s, p->o.cache_bytes, &q);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->queued, &p->mu);
        if (!p->head)
            break;
        query_job *j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = &p->head;
        p->waiting--;
        pthread_mutex_unlock(&p->mu);
        status st = qst;
        if (st == ST_OK && j->inspect)
            st =
                scheduler_querier_inspect(q, j->canister_id, j->method, j->arg, j->caller, j->res);
        else if (st == ST_OK)
            st = scheduler_querier_run(q, j->canister_id, j->method, j->arg, j->caller, p->limit,
                                       j->res);
        pthread_mutex_lock(&p->mu);
        j->st = st;
        j->done = true;
        p->run++;
        pthread_cond_broadcast(&p->finished);
    }
    pthread_mutex_unlock(&p->mu);
    scheduler_querier_free(q);
    return NULL;
}

status query_pool_new(scheduler *s, const query_pool_options *o, query_pool **out)
{
    *out = NULL;
    if (o->threads < 1 || o->threads > THREADS_MAX)
        return ST_BAD_ARGUMENT;
    query_pool *p = base_calloc(1, sizeof *p);
    if (!p)
        return ST_OUT_OF_MEMORY;
    p->s = s;
    p->o = *o;
    uint64_t g = scheduler_query_instructions(s);
    p->limit = o->instruction_limit && o->instruction_limit < g ? o->instruction_limit : g;
    p->tail = &p->head;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        base_free(p);
        return ST_OUT_OF_MEMORY;
    }
    pthread_cond_init(&p->queued, NULL);
    pthread_cond_init(&p->finished, NULL);
    for (unsigned i = 0; i < o->threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            query_pool_free(p);
            return ST_OUT_OF_MEMORY;
        }
        p->started++;
    }
    *out = p;
    return ST_OK;
}

void query_pool_free(query_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->queued);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->queued);
    pthread_mutex_destroy(&p->mu);
    base_free(p);
}

uint64_t query_pool_limit(const query_pool *p)
{
    return p->limit;
}

uint64_t query_pool_budget(const query_pool *p)
{
    return p->o.client_budget;
}

/* The client's bucket, refilled to now (under p->mu); a new one starts full. When the table is
 * full, the entry refilled longest ago makes room (a client idle that long is full again). */
static client *client_get(query_pool *p, const uint8_t addr[16], uint64_t now)
{
    int64_t cap = p->o.client_budget > INT64_MAX ? INT64_MAX : (int64_t)p->o.client_budget;
    client *c = NULL, *oldest = NULL;
    for (unsigned i = 0; i < p->nclients && !c; i++) {
        if (!memcmp(p->clients[i].addr, addr, 16))
            c = &p->clients[i];
        else if (!oldest || p->clients[i].last_ns < oldest->last_ns)
            oldest = &p->clients[i];
    }
    if (!c) {
        c = p->nclients < CLIENTS_MAX ? &p->clients[p->nclients++] : oldest;
        memcpy(c->addr, addr, 16);
        c->tokens = cap;
        c->last_ns = now;
        return c;
    }
    double add = (double)(now - c->last_ns) * (double)p->o.client_budget / 1e9;
    c->tokens = add >= (double)(cap - c->tokens) ? cap : c->tokens + (int64_t)add;
    c->last_ns = now;
    return c;
}

/* Queues job j (its result initialised) for a worker within the client's budget, reserving
 * `limit` instructions, and waits for it. */
static status pool_run(query_pool *p, const uint8_t client_addr[16], query_job *j, uint64_t limit,
                       uint64_t *retry_ms)
{
    host_result *res = j->res;
    *retry_ms = 0;
    pthread_mutex_lock(&p->mu);
    int64_t reserve = limit > (uint64_t)INT64_MAX / 4 ? INT64_MAX / 4 : (int64_t)limit;
    if (p->waiting >= p->o.queue) {
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        return ST_QUERY_BUSY;
    }
    if (p->o.client_budget) {
        client *c = client_get(p, client_addr, mono_ns());
        if (c->tokens <= 0) {
            *retry_ms = (uint64_t)((double)(1 - c->tokens) * 1e3 / (double)p->o.client_budget) + 1;
            p->over_budget++;
            pthread_mutex_unlock(&p->mu);
            return ST_QUERY_BUDGET_EXCEEDED;
        }
        c->tokens -= reserve;
    }
    *p->tail = j;
    p->tail = &j->next;
    p->waiting++;
    pthread_cond_signal(&p->queued);
    while (!j->done)
        pthread_cond_wait(&p->finished, &p->mu);
    if (p->o.client_budget) { /* give back what the query did not use of its reservation */
        client *c = client_get(p, client_addr, mono_ns());
        uint64_t used =
            res->instructions < (uint64_t)reserve ? res->instructions : (uint64_t)reserve;
        c->tokens += reserve - (int64_t)used;
        int64_t cap = p->o.client_budget > INT64_MAX ? INT64_MAX : (int64_t)p->o.client_budget;
        if (c->tokens > cap)
            c->tokens = cap;
    }
    pthread_mutex_unlock(&p->mu);
    return j->st;
}

status query_pool_run(query_pool *p, const uint8_t client_addr[16], uint64_t canister_id,
                      span method, span arg, span caller, host_result *res, uint64_t *retry_ms)
{
    host_result_init(res);
    query_job j = {
        .canister_id = canister_id, .method = method, .arg = arg, .caller = caller, .res = res};
    return pool_run(p, client_addr, &j, p->limit, retry_ms);
}

status query_pool_inspect(query_pool *p, const uint8_t client_addr[16], uint64_t canister_id,
                          span method, span arg, span caller, host_result *res, uint64_t *retry_ms)
{
    host_result_init(res);
    query_job j = {.canister_id = canister_id,
                   .method = method,
                   .arg = arg,
                   .caller = caller,
                   .res = res,
                   .inspect = true};
    return pool_run(p, client_addr, &j, scheduler_inspect_instructions(p->s), retry_ms);
}

void query_pool_stats(query_pool *p, uint64_t *run, uint64_t *over_budget, uint64_t *busy)
{
    pthread_mutex_lock(&p->mu);
    *run = p->run;
    *over_budget = p->over_budget;
    *busy = p->busy;
    pthread_mutex_unlock(&p->mu);
}
