/* cmd_replay.c - `tally replay`: the auditor's check. Re-executes a node directory's blocks
 * from genesis with scheduler_replay() on a fresh ledger in a work directory (deleted
 * afterwards) and compares every state root, receipts root and block hash with the recorded
 * ones. Exit 0: "verified N blocks, state root R"; exit 1: the first divergence. */
#include "node_dir.h"
#include "rpc.h"
#include "scheduler.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally replay [--dir DIR] [--from N] [--to M] [--threads T] [--work DIR2]\n"
            "                    [--keep]\n\n"
            "Replays the blocks of the node directory DIR (default ./.tally; opened read-only,\n"
            "never written: a stopped node, or a copy of its directory) from genesis and\n"
            "compares each block's state root, receipts root and hash with the recorded ones\n"
            "for heights N..M (default: 1 to the tip; earlier blocks run but are not compared).\n"
            "Progress goes to stderr (one line every few seconds when stderr is not a\n"
            "terminal). Prints \"verified K blocks, state root R\" and exits 0 (an empty chain:\n"
            "0 blocks and the genesis state root), or prints the first divergence (height and\n"
            "what differs) and exits 1. A missing DIR, --from above --to or --to above the tip\n"
            "are errors (exit 1, 2, 2).\n\n"
            "  --threads T   threads that check each block's signatures before it runs, 1-8\n"
            "                (default: the online processors, at most 8); results never\n"
            "                depend on it\n"
            "  --work DIR2   scratch directory for the replayed ledger (must be empty or\n"
            "                absent; default: a fresh directory under $TMPDIR or /tmp)\n"
            "  --keep        keep the work directory instead of deleting it\n");
}

typedef struct progress {
    struct timespec start, last, first_at;
    uint64_t first;
    bool shown, tty;
} progress;

static double seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* After the first second, at most twice a second on a terminal (one line rewritten) and every
 * 5 s elsewhere (plain lines, for logs): blocks/s and the time left. The rate counts from the
 * first executed block, not from the start (opening the ledgers is not replay speed). */
static void on_progress(void *user, uint64_t height, uint64_t last)
{
    progress *p = user;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!p->first) {
        p->first = height;
        p->first_at = now;
        return;
    }
    if (seconds(&p->start, &now) < 1.0 || seconds(&p->last, &now) < (p->tty ? 0.5 : 5.0))
        return;
    p->last = now;
    double run = seconds(&p->first_at, &now);
    double rate = run > 0 ? (double)(height - p->first) / run : 0;
    double eta = rate > 0 ? (double)(last - height) / rate : 0;
    fprintf(stderr, "%sreplay: block %llu of %llu, %.0f blocks/s, about %.0f s left%s",
            p->tty ? "\r" : "", (unsigned long long)height, (unsigned long long)last, rate, eta,
            p->tty ? "   " : "\n");
    p->shown = p->tty;
}

/* The tip height of the node directory, to check --from and --to before replaying. */
static status tip_height(const char *dir, uint64_t *height, char *why, size_t cap)
{
    ledger *lg = NULL;
    ledger_reader *rd = NULL;
    ledger_tip tip = {0};
    status st = ledger_open_detail(dir, NULL, &lg, why, cap);
    if (st == ST_OK)
        st = ledger_read_begin(lg, &rd);
    if (st == ST_OK)
        st = ledger_tip_get(rd, &tip);
    ledger_read_end(rd);
    ledger_close(lg); /* before scheduler_replay opens it: one LMDB env per file and process */
    *height = tip.height;
    return st;
}

/* Deletes the plain files of dir, then dir (the work ledger has no subdirectories). */
static void remove_work(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                cli_path_join(path, sizeof path, dir, e->d_name))
                unlink(path);
        closedir(d);
    }
    rmdir(dir);
}

int cmd_replay(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *dir = ".tally", *work = NULL;
    uint64_t from = 1, to = 0, threads = 0;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep"))
            keep = true;
        else if (v && !strcmp(a, "--dir"))
            dir = argv[++i];
        else if (v && !strcmp(a, "--work"))
            work = argv[++i];
        else if (v && !strcmp(a, "--from") && cli_u64_parse(v, &from))
            i++;
        else if (v && !strcmp(a, "--to") && cli_u64_parse(v, &to))
            i++;
        else if (v && !strcmp(a, "--threads") && cli_u64_parse(v, &threads) && threads >= 1 &&
                 threads <= 8)
            i++;
        else {
            usage(stderr);
            return 2;
        }
    }
    int rc = cli_node_dir_check("replay", dir, true);
    if (rc)
        return rc;
    uint64_t tip = 0;
    char why[512] = "";
    status st = tip_height(dir, &tip, why, sizeof why);
    if (st != ST_OK) {
        fprintf(stderr, "tally replay: %s: %s\n", status_name(st),
                why[0] ? why : status_message(st));
        return 1;
    }
    if (to > tip || (to && from > to) || (!to && from > tip && tip > 0)) {
        fprintf(stderr,
                "tally replay: --from %llu --to %llu: the tip is block %llu "
                "(--from must not be above --to, nor --to above the tip)\n",
                (unsigned long long)from, (unsigned long long)(to ? to : tip),
                (unsigned long long)tip);
        return 2;
    }
    char tmpl[4096];
    if (!work) {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/tally-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl)) {
            fprintf(stderr, "tally replay: %s: IO_ERROR: cannot create a work directory\n", tmpl);
            return 1;
        }
        work = tmpl;
    }
    progress p = {.tty = isatty(STDERR_FILENO) == 1};
    clock_gettime(CLOCK_MONOTONIC, &p.start);
    p.last = p.start;
    scheduler_divergence div = {0};
    ledger_tip last = {0};
    scheduler_replay_options opt = {from, to, (uint32_t)threads, on_progress, &p};
    st = scheduler_replay(dir, work, &opt, &div, &last);
    if (p.shown)
        fputc('\n', stderr);
    if (!keep)
        remove_work(work);
    if (st != ST_OK) {
        fprintf(stderr, "tally replay: %s: %s: %s\n", dir, status_name(st), status_message(st));
        return 1;
    }
    if (div.height) {
        printf("divergence at block %llu: %s\n", (unsigned long long)div.height, div.what);
        return 1;
    }
    char root[2 * LEDGER_HASH_SIZE + 1];
    ledger_hash_hex(last.state_root, root);
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    uint64_t lo = from ? from : 1;
    uint64_t n = last.height >= lo ? last.height - lo + 1 : 0;
    printf("verified %llu blocks, state root %s\n", (unsigned long long)n, root);
    fflush(stdout);
    fprintf(stderr, "replay: %llu blocks executed in %.2f s\n", (unsigned long long)last.height,
            seconds(&p.start, &end));
    return 0;
}
