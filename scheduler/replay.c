/* replay.c - the auditor's check: re-execute the blocks of a node directory on a fresh ledger
 * with the producer's own executor (round_run), and compare every block's state root,
 * receipts root and hash with the recorded ones. The source is only read. */
#include "scheduler_int.h"

#include <stdio.h>
#include <string.h>

typedef struct feed {
    ledger_reader *src;
    const ledger_block *b;
    uint32_t next;
    bool bad_message; /* a stored envelope that does not verify: the source was altered */
} feed;

static status feed_next(void *user, const round_ctx *rc, span *env)
{
    (void)rc;
    feed *f = user;
    if (f->next >= f->b->message_count)
        return ST_NOT_FOUND;
    status st = ledger_message_get(f->src, f->b->message_ids + (size_t)f->next * LEDGER_HASH_SIZE, env);
    f->next++;
    ledger_message m;
    uint8_t id[LEDGER_HASH_SIZE];
    if (st == ST_NOT_FOUND || (st == ST_OK && ledger_message_decode(*env, UINT32_MAX, &m, id) != ST_OK)) {
        f->bad_message = true; /* missing or altered: the recorded block cannot be re-run */
        st = ST_CORRUPT_LEDGER;
    }
    return st;
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
        {"receipts root", offsetof(ledger_block, receipts_root), offsetof(ledger_tip, receipts_root)},
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
static status replay_blocks(scheduler *s, ledger *src, uint64_t from, uint64_t to,
                            scheduler_progress_fn progress, void *user,
                            scheduler_divergence *div, ledger_tip *last)
{
    status st = ST_OK;
    for (uint64_t h = 1; st == ST_OK && h <= to; h++) {
        ledger_reader *rd;
        st = ledger_read_begin(src, &rd);
        if (st != ST_OK)
            break;
        ledger_block b;
        st = ledger_block_get(rd, h, &b);
        feed f = {.src = rd, .b = &b};
        scheduler_round_info info = {0};
        if (st == ST_OK)
            st = round_run(s, b.timestamp_ns, feed_next, &f, &info);
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
        if (h >= from && !compare(&b, &info.tip, div))
            break;
        if (progress)
            progress(user, h, to);
    }
    return st;
}

status scheduler_replay(const char *src_dir, const char *work_dir, uint64_t from, uint64_t to,
                        scheduler_progress_fn progress, void *user,
                        scheduler_divergence *div, ledger_tip *last)
{
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
    ledger_options opt = {.no_sync = true}; /* a scratch ledger: speed over durability */
    st = ledger_open(work_dir, &opt, &work);
    if (st != ST_OK)
        goto out_close_src;
    st = ledger_genesis_init(work, ledger_genesis_of(src));
    if (st == ST_OK)
        st = scheduler_open(work, NULL, &s);
    if (st == ST_OK)
        st = replay_blocks(s, src, from, to, progress, user, div, last);
    scheduler_close(s);
    ledger_close(work);
out_close_src:
    ledger_close(src);
    return st;
}
