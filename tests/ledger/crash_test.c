/* crash_test.c - the driver of the ledger crash test; crash_test.sh kills it.
 *
 *   crash_test run DIR TARGET LOG   runs rounds until the tip reaches TARGET, appending each
 *                                   committed height to LOG (the last one the parent saw)
 *   crash_test check DIR MIN        opens DIR after a crash and checks it: the chain from the
 *                                   tip down to block 0 is whole (every hash recomputes, every
 *                                   parent hash matches), the tip is >= MIN, the tip's
 *                                   messages have receipts, the mempool holds no included message
 *   crash_test root DIR             prints "height block-hash state-root"
 *
 * Round h writes only data derived from h, so a run that is killed and restarted any number of
 * times must end in the same state root as one uninterrupted run. Exit status 0 = ok. */
#include "ledger_fixture.h"

#include <fcntl.h>
#include <inttypes.h>

enum { CANISTERS = 3, HEAP_SPAN = 24 };

static uint8_t page[LEDGER_PAGE_SIZE];
static const uint64_t T0 = 1700000000000000000ull;

static int fail(const char *what, status st, ledger *lg)
{
    fprintf(stderr, "crash_test: %s: %s (%s)\n", what, status_name(st),
            lg ? ledger_fault_detail(lg) : "");
    return 1;
}

/* The message of round h: signed by key 7, nonce h; *env receives the envelope. */
static void round_message(uint64_t h, buf *env, uint8_t id[LEDGER_HASH_SIZE])
{
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    fx_keys(7, pk, sk);
    uint8_t arg[8];
    le64_store(arg, h);
    ledger_message m = {
        {0},     h, 1 + h % CANISTERS, LEDGER_MSG_UPDATE, span_of("step", 4), span_of(arg, 8),
        h + 1000};
    memcpy(m.sender, pk, sizeof pk);
    env->len = 0;
    ledger_message_sign(&m, sk, env, id);
}

/* Stages round h: a function of h only. */
static status stage(ledger_round *r, uint64_t h, span env, const uint8_t id[LEDGER_HASH_SIZE])
{
    status st = ST_OK;
    uint64_t cid, target = 1 + h % CANISTERS;
    if (h == 1)
        for (int i = 0; i < CANISTERS && st == ST_OK; i++) {
            ledger_canister c = fx_record((uint8_t)(10 + i), 0);
            st = ledger_round_canister_create(r, &c, &cid);
        }
    for (uint32_t k = 0; k < 3 && st == ST_OK; k++) {
        uint32_t p = (uint32_t)((h * 7 + k * 5) % HEAP_SPAN);
        fx_page(page, h * 100 + p);
        if ((h + k) % 5 == 0)
            memset(page, 0, sizeof page); /* sometimes a page returns to zero */
        st = ledger_round_page_put(r, target, LEDGER_MEM_HEAP, p, page);
    }
    if (st == ST_OK) {
        fx_page(page, h * 100 + 99);
        st = ledger_round_page_put(r, 1 + (h + 1) % CANISTERS, LEDGER_MEM_STABLE,
                                   (uint32_t)(h % 4), page);
    }
    if (st == ST_OK && h % 10 == 0)
        st = ledger_round_memory_clear(r, 3, LEDGER_MEM_STABLE);
    ledger_canister c = fx_record((uint8_t)(10 + target - 1), h);
    if (st == ST_OK && h > 1)
        st = ledger_round_canister_put(r, target, &c);
    if (st == ST_OK)
        st = ledger_round_message_include(r, env, NULL);
    char reply[32];
    int n = snprintf(reply, sizeof reply, "height %" PRIu64, h);
    ledger_receipt rc = {h % 2 ? ST_OK : ST_TRAP_UNREACHABLE, 0, h * 3, span_of(reply, (size_t)n)};
    if (st == ST_OK)
        st = ledger_round_receipt_put(r, id, &rc);
    return st;
}

static int cmd_run(const char *dir, uint64_t target, const char *log)
{
    ledger *lg = NULL;
    status st = ledger_open(dir, NULL, &lg);
    if (st != ST_OK)
        return fail("open", st, lg);
    ledger_genesis g = fx_genesis();
    if ((st = ledger_genesis_init(lg, &g)) != ST_OK)
        return fail("genesis", st, lg);
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0)
        return fail("log", ST_IO_ERROR, lg);
    buf env = {0};
    for (;;) {
        ledger_reader *rd;
        ledger_tip tip;
        if ((st = ledger_read_begin(lg, &rd)) != ST_OK)
            return fail("read", st, lg);
        st = ledger_tip_get(rd, &tip);
        ledger_read_end(rd);
        if (st != ST_OK)
            return fail("tip", st, lg);
        if (tip.height >= target)
            break;
        uint64_t h = tip.height + 1;
        uint8_t id[LEDGER_HASH_SIZE], got[LEDGER_HASH_SIZE];
        round_message(h, &env, id);
        st = ledger_mempool_add(lg, span_of(env.ptr, env.len), got);
        if (st != ST_OK && st != ST_MESSAGE_REPLAY) /* replay: a killed run added it */
            return fail("mempool add", st, lg);
        ledger_round *r;
        if ((st = ledger_round_begin(lg, &r)) != ST_OK)
            return fail("round begin", st, lg);
        if ((st = stage(r, h, span_of(env.ptr, env.len), id)) != ST_OK)
            return fail("stage", st, lg);
        if ((st = ledger_round_commit(r, T0 + h * 1000000000ull, NULL)) != ST_OK)
            return fail("commit", st, lg);
        char line[32];
        int n = snprintf(line, sizeof line, "%" PRIu64 "\n", h);
        if (write(fd, line, (size_t)n) != n)
            return fail("log write", ST_IO_ERROR, lg);
    }
    buf_fini(&env);
    close(fd);
    ledger_close(lg);
    return 0;
}

/* Walks the chain from the tip to block 0. */
static int check_chain(ledger *lg, ledger_reader *rd, const ledger_tip *tip)
{
    uint8_t child_parent[LEDGER_HASH_SIZE];
    for (uint64_t h = tip->height + 1; h-- > 0;) {
        ledger_block b;
        status st = ledger_block_get(rd, h, &b);
        if (st != ST_OK)
            return fail("block lost", st, lg);
        uint8_t again[LEDGER_HASH_SIZE];
        ledger_block_hash(&b, again);
        if (memcmp(again, b.hash, LEDGER_HASH_SIZE) != 0)
            return fail("block hash", ST_CORRUPT_LEDGER, lg);
        if (h == tip->height ? memcmp(b.hash, tip->hash, LEDGER_HASH_SIZE)
                             : memcmp(b.hash, child_parent, LEDGER_HASH_SIZE))
            return fail("parent chain broken", ST_CORRUPT_LEDGER, lg);
        if (h > 0 && b.message_count != 1)
            return fail("block messages", ST_CORRUPT_LEDGER, lg);
        for (uint32_t i = 0; i < b.message_count; i++) {
            ledger_receipt rc;
            span env;
            const uint8_t *id = b.message_ids + (size_t)i * LEDGER_HASH_SIZE;
            if ((st = ledger_receipt_get(rd, id, &rc)) != ST_OK || rc.height != h)
                return fail("receipt of an included message", st, lg);
            if ((st = ledger_message_get(rd, id, &env)) != ST_OK)
                return fail("included message", st, lg);
        }
        memcpy(child_parent, b.parent_hash, LEDGER_HASH_SIZE);
    }
    return 0;
}

static int cmd_check(const char *dir, uint64_t min)
{
    ledger *lg = NULL;
    status st = ledger_open(dir, NULL, &lg);
    if (st != ST_OK)
        return fail("open after crash", st, lg);
    if (!ledger_genesis_of(lg)) { /* killed before the genesis committed */
        ledger_close(lg);
        return min == 0 ? 0 : fail("genesis lost", ST_NO_GENESIS, NULL);
    }
    ledger_reader *rd;
    ledger_tip tip;
    if ((st = ledger_read_begin(lg, &rd)) != ST_OK || (st = ledger_tip_get(rd, &tip)) != ST_OK)
        return fail("tip", st, lg);
    if (tip.height < min) {
        fprintf(stderr, "crash_test: tip %" PRIu64 " < last seen %" PRIu64 "\n", tip.height, min);
        return 1;
    }
    int rc = check_chain(lg, rd, &tip);
    uint64_t seq = 0;
    span env;
    uint8_t id[LEDGER_HASH_SIZE];
    while (rc == 0 && (st = ledger_mempool_next(rd, &seq, &env, id)) == ST_OK) {
        span inc;
        if (ledger_message_get(rd, id, &inc) == ST_OK)
            rc = fail("mempool holds an included message", ST_CORRUPT_LEDGER, lg);
    }
    if (rc == 0 && st != ST_NOT_FOUND)
        rc = fail("mempool", st, lg);
    ledger_read_end(rd);
    ledger_close(lg);
    if (rc == 0)
        printf("%" PRIu64 "\n", tip.height);
    return rc;
}

static int cmd_root(const char *dir)
{
    ledger *lg = NULL;
    ledger_reader *rd;
    ledger_tip tip;
    status st = ledger_open(dir, NULL, &lg);
    if (st != ST_OK || (st = ledger_read_begin(lg, &rd)) != ST_OK)
        return fail("open", st, lg);
    if ((st = ledger_tip_get(rd, &tip)) != ST_OK)
        return fail("tip", st, lg);
    ledger_read_end(rd);
    char h[65], s[65];
    ledger_hash_hex(tip.hash, h);
    ledger_hash_hex(tip.state_root, s);
    printf("%" PRIu64 " %s %s\n", tip.height, h, s);
    ledger_close(lg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "run"))
        return cmd_run(argv[2], strtoull(argv[3], NULL, 10), argv[4]);
    if (argc == 4 && !strcmp(argv[1], "check"))
        return cmd_check(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 3 && !strcmp(argv[1], "root"))
        return cmd_root(argv[2]);
    fprintf(stderr, "usage: crash_test run DIR TARGET LOG | check DIR MIN | root DIR\n");
    return 2;
}
