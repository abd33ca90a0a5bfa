/* cmd_init.c - `tally init` (create a node directory: the LMDB ledger with its genesis, the
 * admin key, node.json) and `tally key new|show` (user key files). File formats: docs/cli.md. */
#include "node_dir.h"
#include "rpc.h"
#include "scheduler.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void init_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tally init [--dir DIR] [--chain-id ID] [--listen HOST:PORT] [--interval MS]\n"
        "                  [--schedule N] [--no-fees] [--force] [GENESIS OPTION N]...\n\n"
        "Creates the node directory DIR (default ./.tally): the ledger with its genesis block\n"
        "(chain id and limits, fixed for the life of the chain), the admin ed25519 key\n"
        "DIR/admin.key (mode 0600) and the node config DIR/node.json.\n\n"
        "  --chain-id ID           chain name, 1..64 bytes (default \"tally-local\")\n"
        "  --listen HOST:PORT      the node's address (default 127.0.0.1:7777)\n"
        "  --interval MS           least time between blocks (default 200)\n"
        "  --schedule N            instruction weight schedule: 1, the IC's (default), or 2\n"
        "                          (docs/weights.md)\n"
        "  --force                 replace an existing node directory: its ledger and files\n"
        "                          are moved aside into DIR/replaced-N (printed), never\n"
        "                          deleted; refused while a node runs on DIR\n"
        "  --no-fees               a chain without fees: every --fee-* 0 (later options may\n"
        "                          set some again); cycles are still counted and minted\n"
        "Genesis options (the chain's rules, docs/formats.md \"Genesis record\"):\n");
    size_t n;
    const ledger_genesis_field *f = ledger_genesis_fields(&n);
    for (size_t i = 0; i < n; i++)
        if (f[i].option)
            fprintf(out, "  %s N%*s %s (default %llu)\n", f[i].option,
                    (int)(21 - strlen(f[i].option)), "", f[i].help,
                    (unsigned long long)f[i].default_value);
    fprintf(out, "Numbers may be written 4e9, 0x100 or 4000000000.\n");
}

/* A count: decimal, 0x-hex, or a mantissa and a power of ten ("2e8"). */
static bool parse_count(const char *s, uint64_t *out)
{
    const char *e = strpbrk(s, "eE");
    if (!e || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return cli_u64_parse(s, out) && *out > 0;
    char mant[32];
    uint64_t m, x;
    if ((size_t)(e - s) >= sizeof mant)
        return false;
    memcpy(mant, s, (size_t)(e - s));
    mant[e - s] = '\0';
    if (!cli_u64_parse(mant, &m) || !cli_u64_parse(e + 1, &x) || x > 19)
        return false;
    for (uint64_t i = 0; i < x; i++) {
        if (m > UINT64_MAX / 10)
            return false;
        m *= 10;
    }
    *out = m;
    return m > 0;
}

/* Moves the files `tally init` makes into a new DIR/replaced-N, so that --force starts afresh
 * without destroying the old chain (its ledger may still be wanted). Prints where. */
static bool move_node_files(const char *dir)
{
    static const char *const names[] = {"data.mdb",  "lock.mdb", "admin.key",
                                        "node.json", "node.url", "debug.log"};
    char aside[4096], from[4096], to[4096];
    for (int n = 1; n < 10000; n++) {
        snprintf(aside, sizeof aside, "%s/replaced-%d", dir, n);
        if (mkdir(aside, 0700) == 0)
            break;
        if (errno != EEXIST) {
            fprintf(stderr, "tally init: %s: %s: %s\n", aside, status_name(ST_IO_ERROR),
                    strerror(errno));
            return false;
        }
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(names); i++) {
        if (!cli_path_join(from, sizeof from, dir, names[i]) ||
            !cli_path_join(to, sizeof to, aside, names[i]))
            return false;
        if (rename(from, to) != 0 && errno != ENOENT) {
            fprintf(stderr, "tally init: moving %s to %s: %s: %s\n", from, to,
                    status_name(ST_IO_ERROR), strerror(errno));
            return false;
        }
    }
    printf("moved the old ledger and files of %s to %s\n", dir, aside);
    return true;
}

/* Which field of a genesis scheduler_genesis_check or ledger_genesis_init refuse (for
 * BAD_GENESIS: the message names it). */
static const char *genesis_problem(const ledger_genesis *g)
{
    size_t n = strlen(g->chain_id);
    if (n == 0 || n > LEDGER_CHAIN_ID_MAX)
        return "chain_id (--chain-id): 1 to 64 bytes";
    if (!g->slice_instructions)
        return "slice_instructions: must not be 0";
    if (!g->max_messages_per_round)
        return "max_messages_per_round: must not be 0";
    if (!g->max_heap_pages || g->max_heap_pages > LEDGER_HEAP_PAGES_MAX)
        return "max_heap_pages: 1 to 65536";
    if (g->max_message_bytes <= LEDGER_SIGNATURE_SIZE)
        return "max_message_bytes (--max-message-bytes): more than 64";
    return "a field out of range (docs/formats.md \"Genesis record\")";
}

static bool node_exists(const char *dir)
{
    char path[4096];
    return (cli_path_join(path, sizeof path, dir, "data.mdb") && access(path, F_OK) == 0) ||
           (cli_path_join(path, sizeof path, dir, "admin.key") && access(path, F_OK) == 0);
}

typedef struct init_opts {
    const char *dir, *chain_id, *listen;
    uint64_t interval_ms;
    ledger_genesis g; /* ledger_genesis_default, then the genesis options */
    bool force;       /* (--no-fees applies at once: the options after it win) */
} init_opts;

/* --schedule N: a known weight schedule (engine/opcodes.def column), else a clear error. */
static bool schedule_parse(const char *v, uint32_t *out)
{
    uint64_t n;
    if (cli_u64_parse(v, &n) && n >= ENGINE_SCHEDULE_V1 && n <= ENGINE_SCHEDULE_MAX) {
        *out = (uint32_t)n;
        return true;
    }
    fprintf(stderr,
            "tally init: --schedule %s: %s: %s; the known schedules are %d to %d "
            "(docs/weights.md)\n",
            v, status_name(ST_UNKNOWN_SCHEDULE), status_message(ST_UNKNOWN_SCHEDULE),
            ENGINE_SCHEDULE_V1, ENGINE_SCHEDULE_MAX);
    return false;
}

/* A genesis option (ledger/genesis.def's option column): a count within the field's type. */
static bool genesis_option(ledger_genesis *g, const char *a, const char *v)
{
    size_t n;
    const ledger_genesis_field *f = ledger_genesis_fields(&n);
    uint64_t x;
    for (size_t i = 0; i < n; i++)
        if (f[i].option && !strcmp(a, f[i].option))
            return (strcmp(v, "0") == 0 ? (x = 0, true) : parse_count(v, &x)) &&
                   ledger_genesis_set(g, &f[i], x);
    return false;
}

static bool is_genesis_option(const char *a)
{
    size_t n;
    const ledger_genesis_field *f = ledger_genesis_fields(&n);
    for (size_t i = 0; i < n; i++)
        if (f[i].option && !strcmp(a, f[i].option))
            return true;
    return false;
}

static bool init_parse(int argc, char **argv, init_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--force")) {
            o->force = true;
            continue;
        }
        if (!strcmp(a, "--no-fees")) {
            scheduler_fees_zero(&o->g);
            continue;
        }
        if (!v) {
            fprintf(stderr, "tally init: %s: %s\n", a,
                    strncmp(a, "--", 2) ? "unexpected argument" : "unknown option or no value");
            return false;
        }
        i++;
        if (!strcmp(a, "--dir"))
            o->dir = v;
        else if (!strcmp(a, "--chain-id"))
            o->chain_id = v;
        else if (!strcmp(a, "--listen"))
            o->listen = v;
        else if (!((!strcmp(a, "--interval") && cli_u64_parse(v, &o->interval_ms) &&
                    o->interval_ms <= 3600000) ||
                   (!strcmp(a, "--schedule") && schedule_parse(v, &o->g.schedule_version)) ||
                   genesis_option(&o->g, a, v))) {
            fprintf(stderr, "tally init: %s %s: %s\n", a, v,
                    strncmp(a, "--", 2)        ? "unexpected argument"
                    : !strcmp(a, "--interval") ? "want milliseconds, 0 to 3600000"
                    : !strcmp(a, "--schedule") ? "unknown schedule"
                    : is_genesis_option(a) ? "want a count (4e9, 0x100 or 4000000000) that fits "
                                             "the field"
                                           : "unknown option");
            return false;
        }
    }
    return true;
}

/* Writes the genesis o->g, with chain id, time and admin key pk, into a fresh ledger at o->dir. */
static status make_ledger(const init_opts *o, const uint8_t pk[LEDGER_PUBLIC_KEY_SIZE],
                          ledger_genesis *g, uint8_t genesis_hash[LEDGER_HASH_SIZE])
{
    *g = o->g;
    if (o->chain_id) {
        if (strlen(o->chain_id) == 0 || strlen(o->chain_id) > LEDGER_CHAIN_ID_MAX)
            return ST_BAD_GENESIS;
        snprintf(g->chain_id, sizeof g->chain_id, "%s", o->chain_id);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g->genesis_time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    memcpy(g->admin_public_key, pk, LEDGER_PUBLIC_KEY_SIZE);
    status st = scheduler_genesis_check(g);
    if (st != ST_OK)
        return st;
    ledger *lg = NULL;
    st = ledger_open(o->dir, NULL, &lg);
    if (st == ST_OK)
        st = ledger_genesis_init(lg, g);
    ledger_reader *rd = NULL;
    ledger_block b0;
    if (st == ST_OK)
        st = ledger_read_begin(lg, &rd);
    if (st == ST_OK)
        st = ledger_block_get(rd, 0, &b0); /* block 0's parent hash is the genesis hash */
    if (st == ST_OK)
        memcpy(genesis_hash, b0.parent_hash, LEDGER_HASH_SIZE);
    ledger_read_end(rd);
    ledger_close(lg);
    return st;
}

static int init_fail(const char *what, status st)
{
    fprintf(stderr, "tally init: %s: %s: %s\n", what, status_name(st), status_message(st));
    return 1;
}

int cmd_init(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        init_usage(stdout);
        return 0;
    }
    init_opts o = {.dir = ".tally"};
    ledger_genesis_default(&o.g);
    if (!init_parse(argc, argv, &o)) {
        init_usage(stderr);
        return 2;
    }
    ledger_genesis want = o.g; /* checked before anything is created: no debris */
    if (o.chain_id)
        snprintf(want.chain_id, sizeof want.chain_id, "%.*s",
                 strlen(o.chain_id) > LEDGER_CHAIN_ID_MAX ? 0 : LEDGER_CHAIN_ID_MAX, o.chain_id);
    if (scheduler_genesis_check(&o.g) != ST_OK || !want.chain_id[0] ||
        o.g.max_message_bytes <= LEDGER_SIGNATURE_SIZE) {
        fprintf(stderr, "tally init: %s: %s\n", status_name(ST_BAD_GENESIS),
                genesis_problem(&want));
        return 2;
    }
    int lock_fd = -1;
    if (node_exists(o.dir)) {
        if (!o.force) {
            fprintf(stderr,
                    "tally init: %s: %s: a node directory is already there (use "
                    "--force to replace it)\n",
                    o.dir, status_name(ST_IO_ERROR));
            return 1;
        }
        char why[512];
        bool running = false;
        lock_fd = cli_node_lock(o.dir, &running, why, sizeof why); /* held until we exit */
        if (lock_fd < 0) {
            fprintf(stderr, "tally init: %s: %s%s\n", status_name(ST_IO_ERROR), why,
                    running ? " (stop it first; --force does not replace a running node)" : "");
            return 1;
        }
        if (!move_node_files(o.dir))
            return 1;
    }
    (void)lock_fd; /* open until exit: no node starts on the directory while it is rebuilt */
    if (mkdir(o.dir, 0700) != 0 && errno != EEXIST)
        return init_fail(o.dir, ST_IO_ERROR);
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    char keypath[4096];
    status st = ledger_keypair(NULL, pk, sk);
    if (st != ST_OK)
        return init_fail("key", st);
    if (!cli_path_join(keypath, sizeof keypath, o.dir, "admin.key"))
        return init_fail(o.dir, ST_BAD_ARGUMENT);
    st = cli_key_write(keypath, sk); /* the seed is the first half of sk */
    memset(sk, 0, sizeof sk);
    if (st != ST_OK)
        return init_fail(keypath, st);
    ledger_genesis g;
    uint8_t ghash[LEDGER_HASH_SIZE];
    st = make_ledger(&o, pk, &g, ghash);
    if (st != ST_OK) {
        unlink(keypath);
        if (st == ST_BAD_GENESIS) {
            fprintf(stderr, "tally init: genesis: %s: %s\n", status_name(st), genesis_problem(&g));
            return 1;
        }
        return init_fail("genesis", st);
    }
    cli_config cfg;
    cli_config_default(&cfg);
    if (o.listen)
        snprintf(cfg.listen, sizeof cfg.listen, "%s", o.listen);
    if (o.interval_ms)
        cfg.round_interval_ms = (uint32_t)o.interval_ms;
    snprintf(cfg.chain_id, sizeof cfg.chain_id, "%s", g.chain_id);
    ledger_hash_hex(ghash, cfg.genesis_hash);
    st = cli_config_write(o.dir, &cfg);
    if (st != ST_OK)
        return init_fail("node.json", st);
    char *pkh = cli_hex_new(pk, sizeof pk);
    printf("initialised %s: chain '%s', weight schedule v%u\n"
           "  limits: round %llu, message %llu, slice %llu instructions; messages up to %u bytes\n"
           "  admin key: %s (public %s)\n  node: %s, a block at most every %u ms\n",
           o.dir, g.chain_id, g.schedule_version, (unsigned long long)g.round_instruction_limit,
           (unsigned long long)g.message_instruction_limit,
           (unsigned long long)g.slice_instructions, g.max_message_bytes, keypath, pkh ? pkh : "?",
           cfg.listen, cfg.round_interval_ms);
    base_free(pkh);
    return 0;
}

/* ---- tally key ---------------------------------------------------------------------------- */

static void key_usage(FILE *out)
{
    fprintf(out, "usage: tally key new [--out FILE]\n"
                 "       tally key show [FILE]\n\n"
                 "new:  makes a random ed25519 key and writes it to FILE (default ./tally.key,\n"
                 "      mode 0600; never overwrites) and prints its public key.\n"
                 "show: prints the public key of FILE (default ./.tally/admin.key).\n");
}

int cmd_key(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        key_usage(stdout);
        return 0;
    }
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    const char *path = NULL;
    status st;
    if (argc >= 2 && !strcmp(argv[1], "new")) {
        path = "tally.key";
        if (argc == 4 && !strcmp(argv[2], "--out"))
            path = argv[3];
        else if (argc != 2) {
            key_usage(stderr);
            return 2;
        }
        st = ledger_keypair(NULL, pk, sk);
        if (st == ST_OK)
            st = cli_key_write(path, sk);
    } else if (argc >= 2 && argc <= 3 && !strcmp(argv[1], "show")) {
        path = argc == 3 ? argv[2] : ".tally/admin.key";
        st = cli_key_read(path, pk, sk);
    } else {
        key_usage(stderr);
        return 2;
    }
    memset(sk, 0, sizeof sk);
    if (st != ST_OK) {
        bool is_new = !strcmp(argv[1], "new");
        fprintf(stderr, "tally key: %s: %s: %s\n", path, status_name(st),
                is_new && st == ST_IO_ERROR
                    ? (access(path, F_OK) == 0 ? "the file exists already (never overwritten)"
                                               : "cannot write the file")
                    : cli_key_problem(path, st));
        return 1;
    }
    char *h = cli_hex_new(pk, sizeof pk);
    printf("%s\n", h ? h : "?");
    base_free(h);
    return h ? 0 : 1;
}
