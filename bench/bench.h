/* bench.h - tally's benchmarks as a library: what `tally bench` runs (docs/benchmarks.md,
 * docs/weights.md). Each entry takes the command's arguments (argv[0] is "bench" or the
 * benchmark's name), prints its report on stdout and returns the exit status: 0, 1 when a
 * module is missing, fails or engines disagree, 2 on bad usage. Nothing here is a test: `meson
 * test` only checks that the reports come out (tests/cli). */
#ifndef TALLY_BENCH_H
#define TALLY_BENCH_H

#include "scheduler.h"

/* `tally bench interp|instantiate|meter|host|weights|shapes [options]` (bench.c): argv[1] names the
 * benchmark; --help prints the usage. */
int bench_main(int argc, char **argv);

/* `tally bench weights [options]` (bench_weights.c): opcode, bulk-memory and ic0 timings
 * against a weight schedule; argv[0] is "weights". */
int bench_weights(int argc, char **argv);

/* `tally bench shapes [options]` (bench_shapes.c): generated worst cases for the metering
 * against plain code (docs/weights.md, "Code shapes"); argv[0] is "shapes". */
int bench_shapes(int argc, char **argv);

/* True if argv has --help or -h. */
bool bench_wants_help(int argc, char **argv);

/* `tally bench node --calls` (bench_calls.c): the node time of an inter-canister request and
 * its reply, on fresh ledgers at dir-baseN and dir-callsN; `messages` ingress messages per run.
 * Prints its report (JSON with json); ST_OK or the first failure. */
status bench_calls(const char *dir, uint32_t messages, bool json);

/* ---- driving a chain: what the node benchmarks share (bench_chain.c) ------------------------
 * `tally bench node` and `tally bench localnet` (cli/) and bench_calls.c sign messages, run
 * an in-process chain round by round, and deploy the same counter canister. */

/* Seconds of CLOCK_MONOTONIC. */
double bench_now_s(void);

/* The counter canister (wat2wasm 1.0.32 of: memory 1; `canister_update inc`: mem[0..4) += 1,
 * replies those 4 bytes; `canister_query get`: replies them; `canister_query spin`: loops
 * until the query instruction limit stops it). */
span bench_counter_wasm(void);

typedef struct bench_key {
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
} bench_key;

/* A fresh random key pair. */
status bench_key_new(bench_key *k);

/* Signs m as k (m.sender becomes k's public key) into env, which it replaces; id (may be NULL)
 * receives the message id. */
status bench_sign(const bench_key *k, ledger_message m, buf *env, uint8_t id[LEDGER_HASH_SIZE]);

/* An in-process chain: a fresh ledger with its scheduler; rounds at times 1, 2, 3, ... */
typedef struct bench_chain {
    ledger *lg;
    scheduler *s;  /* NULL when opened without one */
    uint64_t time; /* of the last round */
} bench_chain;

/* Opens a fresh ledger at dir (opt may be NULL) with genesis g, whose admin key becomes k's,
 * and a scheduler over it with the options sopt when sopt is not NULL. On failure everything opened is closed. */
status bench_chain_open(bench_chain *c, const char *dir, const ledger_options *opt,
                        const ledger_genesis *g, const bench_key *k,
                        const scheduler_options *sopt);
void bench_chain_close(bench_chain *c);
/* Signs m as k and admits it into the mempool. */
status bench_chain_submit(bench_chain *c, const bench_key *k, ledger_message m);
/* Runs rounds until there is no work; adds the blocks made and the receipts written to
 * *blocks and *completed (either may be NULL). */
status bench_chain_drain(bench_chain *c, uint32_t *blocks, uint32_t *completed);

#endif
