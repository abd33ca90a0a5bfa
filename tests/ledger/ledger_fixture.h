/* ledger_fixture.h - helpers shared by the ledger tests and the crash driver: temporary node
 * directories, a fixed genesis, deterministic keys, pages and records. Header-only (static
 * functions) so each test binary stays one file plus this. */
#ifndef TALLY_LEDGER_FIXTURE_H
#define TALLY_LEDGER_FIXTURE_H

#include "ledger.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a fresh directory under /tmp; path is the caller's 64 bytes. */
static inline int fx_tmpdir(char path[64])
{
    snprintf(path, 64, "/tmp/tally-ledger-XXXXXX");
    return mkdtemp(path) ? 0 : -1;
}

/* Removes a node directory made by fx_tmpdir (its files, then itself). */
static inline void fx_rmdir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    char file[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        unlink(file);
    }
    closedir(d);
    rmdir(path);
}

/* A deterministic key pair: the seed is 32 copies of `n`. */
static inline void fx_keys(uint8_t n, uint8_t pk[LEDGER_PUBLIC_KEY_SIZE],
                           uint8_t sk[LEDGER_SECRET_KEY_SIZE])
{
    uint8_t seed[LEDGER_SEED_SIZE];
    memset(seed, n, sizeof seed);
    ledger_keypair(seed, pk, sk);
}

/* The fixed genesis of the tests (chain "tally-test", admin key 1, slices of 100,000
 * instructions, the other rules at their defaults). */
static inline ledger_genesis fx_genesis(void)
{
    ledger_genesis g;
    ledger_genesis_default(&g);
    strcpy(g.chain_id, "tally-test");
    g.genesis_time_ns = 1700000000000000000ull;
    g.schedule_version = 1;
    g.round_instruction_limit = 2000000000ull;
    g.message_instruction_limit = 20000000000ull;
    g.max_message_bytes = 4096;
    uint8_t sk[LEDGER_SECRET_KEY_SIZE];
    fx_keys(1, g.admin_public_key, sk);
    g.slice_instructions = 100000;
    return g;
}

/* Fills a page with bytes that are a function of seed (xorshift64, stored little-endian so
 * golden vectors do not depend on the host). */
static inline void fx_page(uint8_t *page, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < LEDGER_PAGE_SIZE; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        le64_store(page + i, x);
    }
}

/* A canister record with one controller (key n) and some fields set from `v`. */
static inline ledger_canister fx_record(uint8_t n, uint64_t v)
{
    ledger_canister c;
    memset(&c, 0, sizeof c);
    uint8_t sk[LEDGER_SECRET_KEY_SIZE];
    memset(c.code_hash, 0xc0 + n, LEDGER_HASH_SIZE);
    c.controller_count = 1;
    fx_keys(n, c.controllers[0], sk);
    c.status = LEDGER_CANISTER_RUNNING;
    c.heap_pages = 16;
    c.stable_pages = 4;
    c.certified_data_len = 3;
    c.certified_data[0] = 'c', c.certified_data[1] = 'd', c.certified_data[2] = n;
    c.version = v;
    return c;
}

/* A ledger with the fixed genesis in a fresh temporary directory (test_ledger, test_mempool). */
typedef struct fx_node {
    char dir[64];
    ledger *lg;
} fx_node;

/* Opens n: ST_OK, or why not (then nothing to close). map_size 0: the default. */
static inline status fx_node_open(fx_node *n, uint64_t map_size, bool no_sync)
{
    n->lg = NULL;
    if (fx_tmpdir(n->dir) != 0)
        return ST_IO_ERROR;
    ledger_options opt = {map_size, 0, no_sync};
    status st = ledger_open(n->dir, &opt, &n->lg);
    ledger_genesis g = fx_genesis();
    if (st == ST_OK)
        st = ledger_genesis_init(n->lg, &g);
    if (st != ST_OK) {
        ledger_close(n->lg);
        fx_rmdir(n->dir);
    }
    return st;
}

static inline void fx_node_close(fx_node *n)
{
    ledger_close(n->lg);
    fx_rmdir(n->dir);
}

#endif
