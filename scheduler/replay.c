/* replay.c - the auditor's check: re-execute the blocks of a node directory on a fresh ledger
 * with the producer's own executor (round_run), and compare every block's state root,
 * receipts root and hash with the recorded ones. The source is only read. */
#include "scheduler_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The messages of one recorded block, read and checked before the block runs. Checking a
 * signature (ed25519, about 60 us here) costs ten times executing a small message, so the
 * checks are spread over worker threads; the execution itself stays on one thread. */
typedef struct feed {
    const ledger_block *b;
    span *envs;  /* the block's envelopes, borrowed from the source reader; ptr NULL: missing */
    uint8_t *ok; /* per message: present, its signature verifies and its id is the recorded one */
    uint32_t next;
    bool bad_message; /* a stored envelope that does not verify: the source was altered */
} feed;

typedef struct verify_part {
    feed *f;
    uint32_t first, step;
} verify_part;

static void *verify_run(void *arg)
{
    const verify_part *p = arg;
    feed *f = p->f;
    for (uint32_t i = p->first; i < f->b->message_count; i += p->step) {
        ledger_message m;
        uint8_t id[LEDGER_HASH_SIZE];
        f->ok[i] = f->envs[i].ptr &&
                   ledger_message_decode(f->envs[i], UINT32_MAX, &m, id) == ST_OK &&
                   !memcmp(id, f->b->message_ids + (size_t)i * LEDGER_HASH_SIZE, LEDGER_HASH_SIZE);
    }
    return NULL;
}

enum { VERIFY_THREADS_MAX = 8, VERIFY_PER_THREAD_MIN = 32 };

/* Reads block b's envelopes from rd and checks them with up to `threads` threads (the
 * calling one included; a thread that cannot start leaves its share to the caller). */
static status feed_prepare(feed *f, ledger_reader *rd, const ledger_block *b, uint32_t threads)
{
    uint32_t n = b->message_count;
    *f = (feed){.b = b};
    f->envs = base_calloc(n ? n : 1, sizeof *f->envs);
    f->ok = base_calloc(n ? n : 1, 1);
    if (!f->envs || !f->ok)
        return ST_OUT_OF_MEMORY;
    for (uint32_t i = 0; i < n; i++) {
        status st =
            ledger_message_get(rd, b->message_ids + (size_t)i * LEDGER_HASH_SIZE, &f->envs[i]);
        if (st == ST_NOT_FOUND)
            f->envs[i] = span_of(NULL, 0);
        else if (st != ST_OK)
            return st;
    }
    uint32_t parts = n / VERIFY_PER_THREAD_MIN < threads ? n / VERIFY_PER_THREAD_MIN : threads;
    parts = parts ? parts : 1;
    verify_part part[VERIFY_THREADS_MAX];
    pthread_t tid[VERIFY_THREADS_MAX];
    bool started[VERIFY_THREADS_MAX] = {false};
    for (uint32_t k = 0; k < parts; k++) {
        part[k] = (verify_part){f, k, parts};
        started[k] = k > 0 && pthread_create(&tid[k], NULL, verify_run, &part[k]) == 0;
    }
    for (uint32_t k = 0; k < parts; k++)
        if (!started[k])
            verify_run(&part[k]);
    for (uint32_t k = 1; k < parts; k++)
        if (started[k])
            pthread_join(tid[k], NULL);
    return ST_OK;
}

static void feed_fini(feed *f)
{
    base_free(f->envs);
    base_free(f->ok);
}

static status feed_next(void *user, const round_ctx *rc, span *env)
{
    (void)rc;
    feed *f = user;
    if (f->next >= f->b->message_count)
        return ST_NOT_FOUND;
    uint32_t i = f->next++;
    if (!f->ok[i]) {
        f->bad_message = true; /* missing or altered: the recorded block cannot be re-run */
        return ST_CORRUPT_LEDGER;
    }
    *env = f->envs[i];
    return ST_OK;
}

/* Signature-checking threads: as asked (0: the online processors), 1 to VERIFY_THREADS_MAX. */
uint32_t scheduler_replay_threads(uint32_t asked)
{
    long n = asked ? (long)asked : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > VERIFY_THREADS_MAX ? VERIFY_THREADS_MAX : (uint32_t)n;
}

static void hex(const uint8_t h[LEDGER_HASH_SIZE], char out[2 * LEDGER_HASH_SIZE + 1])
{
    ledger_hash_hex(h, out);
}

/* Compares the replayed tip with the recorded block; fills div on the first difference. */
static bool compare(const ledger_block *b, const ledger_tip *t, scheduler_divergence *div)
{
    static const struct {
        const char *what;
        size_t off_block, off_tip;
    } fields[] = {
        {"state root", offsetof(ledger_block, state_root), offsetof(ledger_tip, state_root)},
        {"receipts root", offsetof(ledger_block, receipts_root),
         offsetof(ledger_tip, receipts_root)},
        {"block hash", offsetof(ledger_block, hash), offsetof(ledger_tip, hash)},
    };
    for (size_t i = 0; i < BASE_ARRAY_LEN(fields); i++) {
        const uint8_t *rec = (const uint8_t *)b + fields[i].off_block;
        const uint8_t *got = (const uint8_t *)t + fields[i].off_tip;
        if (memcmp(rec, got, LEDGER_HASH_SIZE) != 0) {
            char a[2 * LEDGER_HASH_SIZE + 1], c[2 * LEDGER_HASH_SIZE + 1];
            hex(rec, a);
            hex(got, c);
            div->height = b->height;
            snprintf(div->what, sizeof div->what, "%s: recorded %.16s... replayed %.16s...",
                     fields[i].what, a, c);
            return false;
        }
    }
    return true;
}

/* Replays blocks 1..to of src into the scheduler s (over the work ledger). */
static status replay_blocks(scheduler *s, ledger *src, const scheduler_replay_options *o,
                            uint64_t to, scheduler_divergence *div, ledger_tip *last)
{
    status st = ST_OK;
    uint32_t threads = scheduler_replay_threads(o->threads);
    for (uint64_t h = 1; st == ST_OK && h <= to; h++) {
        ledger_reader *rd;
        st = ledger_read_begin(src, &rd);
        if (st != ST_OK)
            break;
        ledger_block b;
        st = ledger_block_get(rd, h, &b);
        feed f = {0};
        scheduler_round_info info = {0};
        if (st == ST_OK)
            st = feed_prepare(&f, rd, &b, threads);
        if (st == ST_OK)
            st = round_run(s, b.timestamp_ns, feed_next, &f, &info);
        feed_fini(&f);
        ledger_read_end(rd);
        if (f.bad_message) {
            div->height = h;
            snprintf(div->what, sizeof div->what,
                     "message %u of block %llu is missing or does not verify", f.next,
                     (unsigned long long)h);
            return ST_OK;
        }
        if (st != ST_OK)
            break;
        if (last)
            *last = info.tip;
        if (h >= o->from && !compare(&b, &info.tip, div))
            break;
        if (o->progress)
            o->progress(o->user, h, to);
    }
    return st;
}

status scheduler_replay(const char *src_dir, const char *work_dir,
                        const scheduler_replay_options *opt, scheduler_divergence *div,
                        ledger_tip *last)
{
    static const scheduler_replay_options all = {0};
    const scheduler_replay_options *o = opt ? opt : &all;
    uint64_t to = o->to;
    memset(div, 0, sizeof *div);
    ledger *src = NULL, *work = NULL;
    scheduler *s = NULL;
    status st = ledger_open(src_dir, NULL, &src);
    if (st != ST_OK)
        return st;
    ledger_reader *rd = NULL;
    ledger_tip tip;
    st = ledger_read_begin(src, &rd);
    if (st == ST_OK)
        st = ledger_tip_get(rd, &tip);
    ledger_read_end(rd);
    if (st != ST_OK)
        goto out_close_src;
    if (to == 0 || to > tip.height)
        to = tip.height;
    ledger_options scratch = {.no_sync = true}; /* a scratch ledger: speed over durability */
    st = ledger_open(work_dir, &scratch, &work);
    if (st != ST_OK)
        goto out_close_src;
    st = ledger_genesis_init(work, ledger_genesis_of(src));
    if (st == ST_OK)
        st = scheduler_open(work, NULL, &s);
    if (st == ST_OK && last) { /* block 0 of the replay: what an empty chain reports */
        ledger_reader *wr = NULL;
        st = ledger_read_begin(work, &wr);
        if (st == ST_OK)
            st = ledger_tip_get(wr, last);
        ledger_read_end(wr);
    }
    if (st == ST_OK)
        st = replay_blocks(s, src, o, to, div, last);
    scheduler_close(s);
    ledger_close(work);
out_close_src:
    ledger_close(src);
    return st;
}
