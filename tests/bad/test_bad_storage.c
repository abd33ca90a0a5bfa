/* test_bad_storage.c - fault injection at the level of a scheduler round: the
 * ledger's storage fails while a round commits, or the node process dies at any moment.
 *
 *   map full    the LMDB map cannot grow while a reader holds it (1 MiB map; the ledger waits
 *               10 s for readers, then gives up): the round returns ST_MAP_FULL
 *   disk full   RLIMIT_FSIZE (SIGXFSZ ignored) stops data.mdb from growing: the commit's
 *               writes fail and the round returns ST_LMDB_ERROR (or ST_IO_ERROR). A real
 *               ENOSPC takes the same path (an errno from LMDB's page writes); this needs no
 *               privileged mount.
 *   SIGKILL     a forked child runs rounds and is killed after a random delay, 40 times
 *
 * In every case: the round's status is a FAULT, nothing of the round is in the ledger (tip,
 * receipts, mempool as before), the chain is whole (tests/common/node_fixture.h), and after
 * reopening the same round gives the same block hash and state root as a run that never
 * failed. TALLY_FAULTS_SEED=n changes the kill delays (default 1; printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "node_fixture.h"

/* fill: the argument is a u32 LE page count k; the counter n += 1, then n is written into
 * pages 1..k (memory grows as needed), so the round writes k dirty pages; replies n.
 * slow: n += 1, then ~700,000 instructions (sliced over rounds); get (query): n. */
static const char *const storage_wat =
    "(module\n"
    "  (import \"ic0\" \"msg_arg_data_copy\" (func $arg (param i32 i32 i32)))\n"
    "  (import \"ic0\" \"msg_reply_data_append\" (func $append (param i32 i32)))\n"
    "  (import \"ic0\" \"msg_reply\" (func $reply))\n"
    "  (memory 1)\n"
    "  (global $n (mut i32) (i32.const 0))\n"
    "  (func $reply_n (i32.store (i32.const 0) (global.get $n))\n"
    "    (call $append (i32.const 0) (i32.const 4)) (call $reply))\n"
    "  (func (export \"canister_update fill\") (local $k i32) (local $i i32)\n"
    "    (call $arg (i32.const 0) (i32.const 0) (i32.const 4))\n"
    "    (local.set $k (i32.load (i32.const 0)))\n"
    "    (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
    "    (if (i32.lt_u (memory.size) (i32.add (local.get $k) (i32.const 1)))\n"
    "      (then (drop (memory.grow (i32.sub (i32.add (local.get $k) (i32.const 1))\n"
    "                                        (memory.size))))))\n"
    "    (local.set $i (i32.const 1))\n"
    "    (block $done (loop $l\n"
    "      (br_if $done (i32.gt_u (local.get $i) (local.get $k)))\n"
    "      (i32.store (i32.add (i32.mul (local.get $i) (i32.const 65536))\n"
    "                          (i32.mul (i32.rem_u (global.get $n) (i32.const 1000)) (i32.const "
    "4)))\n"
    "                 (global.get $n))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br $l)))\n"
    "    (call $reply_n))\n"
    "  (func (export \"canister_update slow\") (local $i i32)\n"
    "    (global.set $n (i32.add (global.get $n) (i32.const 1)))\n"
    "    (local.set $i (i32.const 100000))\n"
    "    (loop $l (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $l (local.get "
    "$i)))\n"
    "    (call $reply_n))\n"
    "  (func (export \"canister_query get\") (call $reply_n)))\n";

enum {
    BIG_PAGES = 24,       /* pages a "big" round writes: 1.5 MiB, more than a 1 MiB map */
    KILLS = 40,           /* SIGKILLs of the crash test */
    KILL_NEVER = 1000000, /* the height killed children work towards */
    KILL_EXTRA = 8, /* blocks the last child adds after the kills (finishes a slow message) */
};

static const uint64_t ROUND_NS = 1000000000ull;

static void fx_storage(node_fx *f)
{
    node_fx_init(f, 23);
    f->g.slice_instructions = 100000;
    node_wat_compile(storage_wat, &f->wasm);
}

/* The update fill(pages), admitted. */
static void submit_fill(node_fx *f, uint64_t cid, uint32_t pages, uint8_t id[LEDGER_HASH_SIZE])
{
    uint8_t arg[4];
    le32_store(arg, pages);
    node_fx_submit(f, LEDGER_MSG_UPDATE, cid, "fill", span_of(arg, 4), id);
}

/* The scenario of the storage tests up to the round that fails: deploy, two small rounds,
 * then fill(BIG_PAGES) admitted (its id in id), not yet run. */
static uint64_t big_round_prepare(node_fx *f, uint8_t id[LEDGER_HASH_SIZE])
{
    uint64_t cid = node_fx_deploy(f);
    for (int i = 0; i < 2; i++) {
        submit_fill(f, cid, 2, id);
        f->time += ROUND_NS;
        scheduler_round_info info;
        assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
        assert_true(info.produced);
    }
    submit_fill(f, cid, BIG_PAGES, id);
    return cid;
}

/* The tip of the scenario run without any fault (a fresh node). */
static ledger_tip big_round_reference(void)
{
    node_fx f;
    fx_storage(&f);
    node_fx_start(&f);
    uint8_t id[LEDGER_HASH_SIZE];
    uint64_t cid = big_round_prepare(&f, id);
    f.time += ROUND_NS;
    scheduler_round_info info;
    assert_int_equal(scheduler_round(f.s, f.time, &info), ST_OK);
    assert_true(info.produced);
    assert_int_equal(node_fx_query_get(&f, cid), 3);
    ledger_tip t = node_fx_tip(&f);
    node_fx_end(&f);
    return t;
}

/* After a round failed with `st`: a FAULT, no block, no receipt, the message still waiting,
 * the chain whole, queries on the last block's state (n = 2). */
static void expect_nothing_committed(node_fx *f, status st, const scheduler_round_info *info,
                                     const ledger_tip *before, uint64_t cid,
                                     const uint8_t id[LEDGER_HASH_SIZE])
{
    assert_int_equal(status_class_of(st), SC_FAULT);
    assert_false(info->produced);
    ledger_tip after = node_fx_tip(f);
    node_tip_assert_equal(before, &after);
    ledger_receipt rc;
    assert_false(node_fx_receipt(f, id, &rc, NULL));
    assert_int_equal(node_fx_mempool_size(f), 1);
    const char *why = node_chain_check(f->lg, &after);
    if (why)
        fail_msg("after %s: %s", status_name(st), why);
    assert_int_equal(node_fx_query_get(f, cid), 2);
}

/* Reopens f's directory with f->opt and runs the failed round again: it must give `want`. */
static void rerun_after_reopen(node_fx *f, uint64_t cid, const uint8_t id[LEDGER_HASH_SIZE],
                               const ledger_tip *want)
{
    node_fx_close(f);
    node_fx_open(f);
    scheduler_round_info info;
    assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
    assert_true(info.produced);
    ledger_tip t = node_fx_tip(f);
    node_tip_assert_equal(&t, want);
    ledger_receipt rc;
    uint32_t v = 0;
    assert_true(node_fx_receipt(f, id, &rc, &v));
    assert_int_equal(v, 3);
    assert_int_equal(node_fx_query_get(f, cid), 3);
    assert_null(node_chain_check(f->lg, &t));
}

/* ---- LMDB map full ------------------------------------------------------------------------- */

static void test_map_full_in_round(void **state)
{
    (void)state;
    ledger_tip want = big_round_reference();
    node_fx f;
    fx_storage(&f);
    f.opt.map_size = 1; /* rounded up to 1 MiB */
    node_fx_start(&f);
    uint8_t id[LEDGER_HASH_SIZE];
    uint64_t cid = big_round_prepare(&f, id);
    assert_true(ledger_map_size(f.lg) < (uint64_t)BIG_PAGES * LEDGER_PAGE_SIZE);
    uint64_t map_before = ledger_map_size(f.lg);
    ledger_tip before = node_fx_tip(&f);
    /* An open snapshot (a query, an RPC reader) pins the map: it cannot grow. */
    ledger_reader *pin;
    assert_int_equal(ledger_read_begin(f.lg, &pin), ST_OK);
    f.time += ROUND_NS;
    scheduler_round_info info;
    status st = scheduler_round(f.s, f.time, &info);
    ledger_read_end(pin);
    printf("map full: %s (%s)\n", status_name(st), ledger_fault_detail(f.lg));
    assert_int_equal(st, ST_MAP_FULL);
    assert_int_equal(ledger_map_size(f.lg), map_before);
    expect_nothing_committed(&f, st, &info, &before, cid, id);
    /* reopened with a map that holds the round */
    f.opt.map_size = 64u << 20;
    rerun_after_reopen(&f, cid, id, &want);
    node_fx_end(&f);
}

/* Without the pinned reader the same round grows the map and commits, in the same process. */
static void test_map_grows_in_round(void **state)
{
    (void)state;
    ledger_tip want = big_round_reference();
    node_fx f;
    fx_storage(&f);
    f.opt.map_size = 1;
    node_fx_start(&f);
    uint8_t id[LEDGER_HASH_SIZE];
    big_round_prepare(&f, id);
    uint64_t map_before = ledger_map_size(f.lg);
    f.time += ROUND_NS;
    scheduler_round_info info;
    assert_int_equal(scheduler_round(f.s, f.time, &info), ST_OK);
    assert_true(ledger_map_size(f.lg) > map_before);
    ledger_tip t = node_fx_tip(&f);
    node_tip_assert_equal(&t, &want);
    node_fx_end(&f);
}

/* ---- disk full ------------------------------------------------------------------------------ */

static off_t file_size(const char *dir, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static void test_disk_full_in_round(void **state)
{
    (void)state;
    ledger_tip want = big_round_reference();
    node_fx f;
    fx_storage(&f);
    node_fx_start(&f);
    uint8_t id[LEDGER_HASH_SIZE];
    uint64_t cid = big_round_prepare(&f, id);
    ledger_tip before = node_fx_tip(&f);
    off_t size = file_size(f.dir, "data.mdb");
    /* The disk is full: data.mdb cannot grow beyond its size (plus one page, so that the
     * limit is not on a page boundary the round might just fit). */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 4096;
    assert_true(old.rlim_max == RLIM_INFINITY || old.rlim_max >= lim.rlim_cur);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    f.time += ROUND_NS;
    scheduler_round_info info;
    status st = scheduler_round(f.s, f.time, &info);
    char detail[256];
    snprintf(detail, sizeof detail, "%s", ledger_fault_detail(f.lg));
    /* still full: the same round fails the same way (a failed commit leaves nothing behind
     * that would let a second attempt half-succeed) */
    scheduler_round_info again;
    status st2 = scheduler_round(f.s, f.time, &again);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    printf("disk full: %s (%s); data.mdb %lld bytes, limit %llu\n", status_name(st), detail,
           (long long)size, (unsigned long long)lim.rlim_cur);
    assert_true(st == ST_LMDB_ERROR || st == ST_IO_ERROR); /* LMDB's errno, mapped */
    assert_int_equal(st2, st);
    assert_true(file_size(f.dir, "data.mdb") <= (off_t)lim.rlim_cur);
    expect_nothing_committed(&f, st, &info, &before, cid, id);
    expect_nothing_committed(&f, st2, &again, &before, cid, id);
    rerun_after_reopen(&f, cid, id, &want);
    node_fx_end(&f);
}

/* ---- SIGKILL at random moments -------------------------------------------------------------- */

/* The work of height h (a function of h only, so that any interleaving of kills ends in the
 * same chain): h = 1 installs the canister; every 7th height a sliced `slow`; otherwise
 * fill(1 + h % 6). It is admitted only when the node has nothing to do, and in one
 * transaction, so a kill leaves it either admitted or not. */
static status child_admit(node_fx *f, uint64_t h)
{
    buf env = {0}, arg = {0};
    uint8_t pages[4], id[LEDGER_HASH_SIZE];
    le32_store(pages, (uint32_t)(1 + h % 6));
    ledger_message m = {.nonce = h,
                        .canister_id = 1,
                        .kind = LEDGER_MSG_UPDATE,
                        .method = span_of("fill", 4),
                        .arg = span_of(pages, 4),
                        .expiry_height = 1000000};
    status st = ST_OK;
    if (h == 1) {
        st = scheduler_install_arg(span_of(f->wasm.ptr, f->wasm.len), span_of(NULL, 0), &arg);
        m.kind = LEDGER_MSG_INSTALL;
        m.canister_id = LEDGER_CANISTER_NONE;
        m.method = span_of(NULL, 0);
        m.arg = span_of(arg.ptr, arg.len);
    } else if (h % 7 == 0) {
        m.method = span_of("slow", 4);
        m.arg = span_of(NULL, 0);
    }
    memcpy(m.sender, f->pk, sizeof f->pk);
    if (st == ST_OK)
        st = ledger_message_sign(&m, f->sk, &env, id);
    if (st == ST_OK)
        st = ledger_mempool_add(f->lg, span_of(env.ptr, env.len), id);
    buf_fini(&env);
    buf_fini(&arg);
    return st;
}

/* The child: runs the node in f->dir until its tip reaches `target`, writing each committed
 * height (u64) to fd. Block h has time genesis + h s. Never returns. */
static void child_run(node_fx *f, uint64_t target, int fd)
{
    const char *what = "open";
    status st = ledger_open(f->dir, &f->opt, &f->lg);
    if (st == ST_OK)
        st = scheduler_open(f->lg, NULL, &f->s);
    while (st == ST_OK) {
        ledger_reader *rd;
        ledger_tip tip;
        what = "tip";
        if ((st = ledger_read_begin(f->lg, &rd)) != ST_OK)
            break;
        st = ledger_tip_get(rd, &tip);
        ledger_read_end(rd);
        if (st != ST_OK || tip.height >= target)
            break;
        bool work = false;
        what = "has_work";
        if ((st = scheduler_has_work(f->s, &work)) != ST_OK)
            break;
        if (!work) {
            what = "admit";
            st = child_admit(f, tip.height + 1);
            continue;
        }
        scheduler_round_info info;
        what = "round";
        st = scheduler_round(f->s, f->g.genesis_time_ns + (tip.height + 1) * ROUND_NS, &info);
        if (st == ST_OK && !info.produced)
            st = ST_BUG_INVARIANT;
        if (st == ST_OK && write(fd, &info.tip.height, sizeof info.tip.height) < 0)
            st = ST_IO_ERROR;
    }
    if (st != ST_OK)
        fprintf(stderr, "storage child: %s: %s (%s)\n", what, status_name(st),
                f->lg ? ledger_fault_detail(f->lg) : "");
    _exit(st == ST_OK ? 0 : 1);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Forks a child that runs the node in f->dir towards `target`; kills it after delay_us
 * (0: lets it finish). Returns the highest height it reported committed (0: none) and sets
 * *killed when the kill interrupted it. */
static uint64_t run_child(node_fx *f, uint64_t target, uint64_t delay_us, bool *killed)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_run(f, target, p[1]);
    }
    close(p[1]);
    if (delay_us) {
        struct timespec d = {(time_t)(delay_us / 1000000u), (long)(delay_us % 1000000u) * 1000};
        while (nanosleep(&d, &d) != 0 && errno == EINTR)
            ;
        kill(pid, SIGKILL);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    *killed = WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL;
    if (!*killed && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
        fail_msg("the node child failed (status 0x%x)", ws);
    uint64_t h, seen = 0;
    while (read(p[0], &h, sizeof h) == (ssize_t)sizeof h)
        seen = h > seen ? h : seen;
    close(p[0]);
    return seen;
}

/* After a kill: the directory opens, its chain is whole, no block the child reported committed
 * is lost, and a scheduler loads its state (paused message included). Returns the tip. */
static ledger_tip check_after_kill(node_fx *f, uint64_t seen, int kill_no)
{
    node_fx_open(f);
    ledger_tip t = node_fx_tip(f);
    const char *why = node_chain_check(f->lg, &t);
    if (why)
        fail_msg("kill %d: %s", kill_no, why);
    if (t.height < seen)
        fail_msg("kill %d: tip %llu after reopening, but block %llu had committed", kill_no,
                 (unsigned long long)t.height, (unsigned long long)seen);
    node_fx_close(f);
    return t;
}

/* The shortest of three start-ups of a child on f's directory (open, reload, nothing to do). */
static uint64_t child_start_us(node_fx *f)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        bool killed;
        uint64_t t0 = now_us();
        assert_int_equal(run_child(f, 0, 0, &killed), 0);
        uint64_t d = now_us() - t0;
        best = d < best ? d : best;
    }
    return best;
}

static void test_sigkill_during_rounds(void **state)
{
    (void)state;
    const char *env = getenv("TALLY_FAULTS_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 1, rng = seed;
    node_fx ref, f;
    fx_storage(&f);
    node_fx_start(&f);
    node_fx_close(&f);
    /* Delays up to three start-ups plus 5 ms: some kills land in the start-up (opening,
     * reloading canisters, resuming a paused message), the others in rounds and commits. The
     * children work towards a height they never reach in that time, so every kill interrupts
     * one; the chain then finishes a few blocks past where the kills left it. */
    uint64_t start_us = child_start_us(&f);
    uint64_t max_delay = 3 * start_us + 5000;
    int interrupted = 0;
    uint64_t tip = 0, t0 = now_us();
    for (int i = 1; i <= KILLS; i++) {
        bool killed;
        uint64_t delay = 1 + splitmix64(&rng) % max_delay;
        uint64_t seen = run_child(&f, KILL_NEVER, delay, &killed);
        interrupted += killed;
        uint64_t h = check_after_kill(&f, seen, i).height;
        assert_true(h >= tip); /* committed blocks stay */
        tip = h;
    }
    uint64_t kills_us = now_us() - t0, target = tip + KILL_EXTRA;
    bool killed;
    assert_int_equal(run_child(&f, target, 0, &killed), target);
    f.opt = (ledger_options){0};
    node_fx_open(&f);
    ledger_tip got = node_fx_tip(&f);
    assert_null(node_chain_check(f.lg, &got));
    /* the same chain, never interrupted */
    fx_storage(&ref);
    node_fx_start(&ref);
    node_fx_close(&ref);
    t0 = now_us();
    assert_int_equal(run_child(&ref, target, 0, &killed), target);
    uint64_t run_us = now_us() - t0;
    ref.opt = (ledger_options){0};
    node_fx_open(&ref);
    ledger_tip want = node_fx_tip(&ref);
    printf("seed %llu: %d of %d children killed (delays up to %llu us, start-up %llu us), "
           "%llu blocks committed between kills in %llu ms; the uninterrupted run to %llu: "
           "%llu ms\n",
           (unsigned long long)seed, interrupted, KILLS, (unsigned long long)max_delay,
           (unsigned long long)start_us, (unsigned long long)tip,
           (unsigned long long)kills_us / 1000, (unsigned long long)target,
           (unsigned long long)run_us / 1000);
    node_tip_assert_equal(&got, &want);
    assert_int_equal(node_fx_query_get(&f, 1), node_fx_query_get(&ref, 1));
    assert_int_equal(interrupted, KILLS);
    assert_true(tip >= 2); /* kills fell among rounds, not only start-ups */
    node_fx_end(&f);
    node_fx_end(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_grows_in_round),
        cmocka_unit_test(test_map_full_in_round),
        cmocka_unit_test(test_disk_full_in_round),
        cmocka_unit_test(test_sigkill_during_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
