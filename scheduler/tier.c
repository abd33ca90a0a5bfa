/* tier.c - the compiled tier in the node (docs/engine.md "In the node"): every module the code
 * cache loads is built into native code by a background thread while the interpreter serves its
 * first messages, first by the quick route (tcc, about 1 s per MB of Wasm), then by cc -O2;
 * the round attaches what is ready (quick code, then the upgrade to cc's), and the canisters
 * running it switch at their next message. The tier is a node-local choice: results, instruction counts and so every state
 * root and receipt are the same in both tiers; compiled objects live in the node directory (by
 * source hash), never in the ledger. A module whose compile fails or passes the time or size
 * bound stays interpreted.
 *
 * The shelf hands what the round attached to the query threads: their replicas (query.c) build
 * their own host_code of the same module and attach a share of the same compiled object, so
 * queries run compiled too without compiling anything again. */
#include "scheduler_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct sched_shelved {
    uint8_t hash[LEDGER_HASH_SIZE];
    engine_native *n; /* the shelf's share */
} sched_shelved;

typedef struct tier_job {
    struct tier_job *next;
    code_entry *e; /* holds a reference until the round drains the job */
    const engine_code *ec;
    engine_native *n;
    status st;
    bool quick; /* the quick route's build; the cc build follows */
} tier_job;

static void *worker(void *arg)
{
    sched_tier *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->todo && !t->stop)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->stop)
            break;
        tier_job *j = t->todo;
        t->todo = j->next;
        t->busy = true;
        pthread_mutex_unlock(&t->mu);
        char why[256];
        j->st =
            engine_native_compile(j->ec, j->quick ? &t->qcfg : &t->ncfg, &j->n, why, sizeof why);
        if (j->st != ST_OK && t->log)
            fprintf(stderr, "tally: compiled tier: %s: %s: %s\n",
                    j->quick ? "no quick code, the module waits for cc"
                             : "a module stays interpreted",
                    status_name(j->st), why);
        pthread_mutex_lock(&t->mu);
        t->busy = false;
        j->next = t->done;
        t->done = j;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Attaches n to e's code and shelves a share of it for the query threads (without room on the
 * shelf, queries of that code stay interpreted). */
static void attach(scheduler *s, code_entry *e, engine_native *n)
{
    sched_tier *t = &s->tier;
    engine_native *share = engine_native_share(n);
    if (t->mode == SCHEDULER_TIER_AUTO && engine_native_is_quick(n))
        t->quick++;
    else
        t->compiled++;
    host_code_attach_native(e->code, n);
    pthread_mutex_lock(&t->shelf_mu);
    engine_native *old = NULL;
    status st = ST_OK;
    uint32_t i = 0;
    while (i < t->nshelf && memcmp(t->shelf[i].hash, e->hash, LEDGER_HASH_SIZE))
        i++;
    if (i < t->nshelf) { /* the upgrade: cc's object replaces the quick one */
        old = t->shelf[i].n;
        t->shelf[i].n = share;
    } else {
        st = base_grow((void **)&t->shelf, &t->shelf_cap, t->nshelf + 1, sizeof *t->shelf, 8);
        if (st == ST_OK) {
            memcpy(t->shelf[t->nshelf].hash, e->hash, LEDGER_HASH_SIZE);
            t->shelf[t->nshelf++].n = share;
        }
    }
    if (st == ST_OK)
        __atomic_add_fetch(&t->shelf_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&t->shelf_mu);
    engine_native_free(old); /* replicas running it hold shares of their own */
    if (st != ST_OK)
        engine_native_free(share);
}

void sched_tier_forget(scheduler *s, const code_entry *e)
{
    sched_tier *t = &s->tier;
    if (!t->shelf_ready)
        return;
    engine_native *n = NULL;
    pthread_mutex_lock(&t->shelf_mu);
    for (uint32_t i = 0; i < t->nshelf; i++) {
        if (!memcmp(t->shelf[i].hash, e->hash, LEDGER_HASH_SIZE)) {
            n = t->shelf[i].n;
            t->shelf[i] = t->shelf[--t->nshelf];
            break;
        }
    }
    pthread_mutex_unlock(&t->shelf_mu);
    engine_native_free(n); /* replicas running it hold shares of their own */
}

uint64_t sched_tier_generation(scheduler *s)
{
    return __atomic_load_n(&s->tier.shelf_gen, __ATOMIC_ACQUIRE);
}

engine_native *sched_tier_shared(scheduler *s, const uint8_t hash[LEDGER_HASH_SIZE])
{
    sched_tier *t = &s->tier;
    engine_native *n = NULL;
    pthread_mutex_lock(&t->shelf_mu);
    for (uint32_t i = 0; i < t->nshelf && !n; i++)
        if (!memcmp(t->shelf[i].hash, hash, LEDGER_HASH_SIZE))
            n = engine_native_share(t->shelf[i].n);
    pthread_mutex_unlock(&t->shelf_mu);
    return n;
}

void sched_tier_shelf_close(scheduler *s)
{
    sched_tier *t = &s->tier;
    if (!t->shelf_ready)
        return;
    for (uint32_t i = 0; i < t->nshelf; i++)
        engine_native_free(t->shelf[i].n);
    base_free(t->shelf);
    t->shelf = NULL;
    t->nshelf = t->shelf_cap = 0;
    pthread_mutex_destroy(&t->shelf_mu);
    t->shelf_ready = false;
}

status sched_tier_open(scheduler *s, const scheduler_options *opt)
{
    sched_tier *t = &s->tier;
    memset(t, 0, sizeof *t);
    if (pthread_mutex_init(&t->shelf_mu, NULL) != 0)
        return ST_OUT_OF_MEMORY;
    t->shelf_ready = true;
    t->mode = opt ? opt->tier : SCHEDULER_TIER_INTERP;
    t->log = opt && opt->tier_log;
    engine_native_config_default(&t->ncfg);
    t->ncfg.timeout_ms = SCHED_TIER_TIMEOUT_MS;
    t->ncfg.max_source_bytes = SCHED_TIER_MAX_SOURCE;
    if (opt && opt->tier_cache_dir)
        snprintf(t->cache_dir, sizeof t->cache_dir, "%s", opt->tier_cache_dir);
    t->ncfg.cache_dir = t->cache_dir[0] ? t->cache_dir : NULL;
    engine_native_config_quick(&t->qcfg);
    t->qcfg.max_source_bytes = SCHED_TIER_MAX_SOURCE;
    t->qcfg.cache_dir = t->ncfg.cache_dir;
    if (t->mode != SCHEDULER_TIER_AUTO)
        return ST_OK;
    if (pthread_mutex_init(&t->mu, NULL) != 0)
        return ST_OUT_OF_MEMORY;
    if (pthread_cond_init(&t->cv, NULL) != 0) {
        pthread_mutex_destroy(&t->mu);
        return ST_OUT_OF_MEMORY;
    }
    if (pthread_create(&t->th, NULL, worker, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        return ST_OUT_OF_MEMORY;
    }
    t->started = true;
    return ST_OK;
}

void sched_tier_loaded(scheduler *s, code_entry *e)
{
    sched_tier *t = &s->tier;
    if (t->mode == SCHEDULER_TIER_COMPILED || t->mode == SCHEDULER_TIER_QUICK) {
        engine_native *n = NULL;
        char why[256];
        status st = engine_native_compile(host_code_engine(e->code),
                                          t->mode == SCHEDULER_TIER_QUICK ? &t->qcfg : &t->ncfg,
                                          &n, why, sizeof why);
        if (st == ST_OK) {
            attach(s, e, n);
        } else {
            t->failed++;
            if (t->log)
                fprintf(stderr, "tally: compiled tier: a module stays interpreted: %s: %s\n",
                        status_name(st), why);
        }
        return;
    }
    if (!t->started)
        return;
    tier_job *j = base_calloc(1, sizeof *j);
    if (!j)
        return; /* stays interpreted */
    j->e = e;
    j->ec = host_code_engine(e->code);
    j->quick = true;
    e->refs++;
    pthread_mutex_lock(&t->mu);
    tier_job **p = &t->todo; /* first loaded, first compiled */
    while (*p)
        p = &(*p)->next;
    *p = j;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void sched_tier_drain(scheduler *s)
{
    sched_tier *t = &s->tier;
    if (!t->started)
        return;
    pthread_mutex_lock(&t->mu);
    tier_job *j = t->done;
    t->done = NULL;
    pthread_mutex_unlock(&t->mu);
    while (j) {
        tier_job *next = j->next;
        if (j->st == ST_OK)
            attach(s, j->e, j->n);
        else if (!j->quick)
            t->failed++; /* no quick code only means waiting for cc */
        if (j->quick && !t->stop) {
            /* the cc build, after every quick one queued before it */
            j->quick = false;
            j->n = NULL;
            j->next = NULL;
            pthread_mutex_lock(&t->mu);
            tier_job **p = &t->todo;
            while (*p)
                p = &(*p)->next;
            *p = j;
            pthread_cond_signal(&t->cv);
            pthread_mutex_unlock(&t->mu);
        } else {
            sched_code_release(s, j->e);
            base_free(j);
        }
        j = next;
    }
}

void sched_tier_close(scheduler *s)
{
    sched_tier *t = &s->tier;
    if (!t->started)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    sched_tier_drain(s);
    for (tier_job *j = t->todo, *next; j; j = next) {
        next = j->next;
        sched_code_release(s, j->e);
        base_free(j);
    }
    t->todo = NULL;
    t->started = false;
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

void scheduler_tier_wait(scheduler *s, uint32_t timeout_ms)
{
    sched_tier *t = &s->tier;
    for (uint32_t waited = 0; t->started && waited < timeout_ms; waited += 10) {
        pthread_mutex_lock(&t->mu);
        bool busy = t->todo || t->busy || t->done;
        pthread_mutex_unlock(&t->mu);
        if (!busy)
            break;
        sched_tier_drain(s); /* quick builds done queue their cc builds */
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
    }
    sched_tier_drain(s);
}

void scheduler_tier_counts(const scheduler *s, uint64_t *compiled, uint64_t *failed)
{
    *compiled = s->tier.compiled;
    *failed = s->tier.failed;
}

uint64_t scheduler_tier_quick_count(const scheduler *s)
{
    return s->tier.quick;
}
