/* abci.h - tally as a CometBFT application: the ABCI 2.0 socket protocol (CometBFT v0.38) over
 * a scheduler and its ledger. The one public header of abci/ (see README.md); depends on
 * scheduler/ and ledger/ (and base/), on protobuf-c for the messages and jansson for the
 * genesis app state. The mapping of each ABCI method is in docs/replication.md.
 *
 *     abci_app_open(&opt, &app);                 // the node directory (genesis may come later)
 *     abci_serve(app, "tcp://127.0.0.1:26658", &stop, wake_fd);  // until stop is set
 *     abci_app_close(app);
 *
 * Wire format (CometBFT spec/abci/abci++_client_server.md): each message is a protobuf
 * `tendermint.abci.Request` or `Response` (abci/tally_abci.proto) preceded by its length as an
 * unsigned varint; CometBFT opens four connections (consensus, mempool, query, snapshot) and
 * expects answers in request order on each.
 *
 * Threads: abci_serve runs in one thread and handles every connection's requests in turn. The
 * app's lock (abci_app_lock) guards the scheduler: abci_app_handle takes it for each request and
 * keeps it from the execution of a block to its commit (or drop), so that other threads that
 * take it (the JSON-RPC front end's queries) only ever see committed state. */
#ifndef TALLY_ABCI_H
#define TALLY_ABCI_H

#include "scheduler.h"

#include <pthread.h>
#include <signal.h>

/* ---- frames -------------------------------------------------------------------------------- */

enum {
    ABCI_FRAME_MAX = 128 << 20, /* bytes of one message: above CometBFT's largest block */
    ABCI_VARINT_MAX = 10,       /* bytes of a u64 varint */
};

/* The first frame of `in`: on ST_OK *msg borrows its message bytes from `in` and *used is the
 * frame's size (prefix + message). ST_NOT_FOUND: `in` holds only part of a frame (read more);
 * ST_ABCI_MALFORMED: the prefix is not a varint of at most ABCI_VARINT_MAX bytes, or the length
 * exceeds ABCI_FRAME_MAX. Never reads past in.len. */
status abci_frame_next(span in, span *msg, size_t *used);
/* Appends msg with its length prefix to *out. ST_OK, ST_ABCI_MALFORMED (msg too large),
 * ST_OUT_OF_MEMORY (*out unchanged). */
status abci_frame_put(buf *out, span msg);

/* ---- genesis: CometBFT's app_state ----------------------------------------------------------- */

/* Reads the genesis `app_state` JSON object (docs/replication.md "Genesis") over the defaults
 * (ledger_genesis_default): "admin_public_key" (64 hex digits, required) and any numeric field
 * of ledger/genesis.def by its name (e.g. "round_instruction_limit", "slice_instructions",
 * "max_messages_per_round"); chain_id and time_ns come from CometBFT. ST_OK, or ST_BAD_GENESIS
 * with `why` (caller's, `cap` bytes) saying what is wrong (not JSON, unknown key, a value out of
 * its type, no key, or limits scheduler_genesis_check refuses). */
status abci_app_state_parse(span json, const char *chain_id, uint64_t time_ns, ledger_genesis *g,
                            char *why, size_t cap);

/* ---- the application ------------------------------------------------------------------------- */

typedef struct abci_app abci_app;

typedef struct abci_options {
    const char *dir;      /* the node directory (created if absent) */
    uint64_t diverge_at;  /* TESTS ONLY: perturb this node's state at this height (0: never) */
    bool quiet;           /* no per-block log lines on stderr */
    bool no_sync;         /* LMDB without fsync (benchmarks; survives a process crash only) */
} abci_options;

/* Time spent and work done since open, for `tally bench localnet` (the /stats query). */
typedef struct abci_stats {
    uint64_t blocks, txs, checks, rechecks, proposals, verified, rejected, reused;
    uint64_t check_ns, prepare_ns, process_ns, finalize_ns, preview_ns, commit_ns;
} abci_stats;

/* Opens (or creates) the node directory's ledger; its scheduler opens once it has a genesis
 * (now, or at InitChain). ST_OK, the statuses of ledger_open and scheduler_open,
 * ST_OUT_OF_MEMORY. */
status abci_app_open(const abci_options *opt, abci_app **out);
void abci_app_close(abci_app *a);

/* Handles one Request (protobuf bytes) and appends the encoded Response (without frame) to
 * *response. A request tally cannot serve gets a ResponseException (CometBFT stops on it) and
 * ST_OK. Returns ST_ROUND_IN_PROGRESS, with nothing appended, for a Query while a block is
 * open (ask again after the next request of another connection); ST_ABCI_MALFORMED (the bytes
 * are not a Request); ST_OUT_OF_MEMORY. */
status abci_app_handle(abci_app *a, span request, buf *response);

/* Drops the open block (uncommitted: CometBFT executes it again after a restart) and releases
 * the lock if this thread holds it; abci_serve does this when it stops, so that threads
 * waiting for the lock can finish. */
void abci_app_settle(abci_app *a);

/* The lock of the scheduler (see the top of this file). */
pthread_mutex_t *abci_app_lock(abci_app *a);
/* The ledger (always) and the scheduler (NULL until the genesis exists). */
ledger *abci_app_ledger(abci_app *a);
scheduler *abci_app_scheduler(abci_app *a);
void abci_app_stats(abci_app *a, abci_stats *out);
/* The same as a JSON object (a new reference; NULL if out of memory): the /stats query's value
 * and the JSON-RPC `status`.replication of `tally abci`. */
typedef struct json_t json_t;
json_t *abci_app_stats_json(abci_app *a);

/* Called by abci_serve once the app has a scheduler (at once, or after InitChain). */
typedef void (*abci_ready_fn)(void *user, abci_app *a);

/* Serves the ABCI socket protocol on `listen` ("tcp://HOST:PORT" with an IPv4 address, or
 * "unix://PATH") until *stop becomes non-zero (checked whenever wake_fd, -1 for none, is
 * readable, and at least every second). ready (may be NULL) is called once, in this thread.
 * ST_OK (stopped), ST_BAD_ARGUMENT (listen), ST_IO_ERROR (bind, poll), or the fault of a
 * request (then the connections are closed: CometBFT stops too). */
status abci_serve(abci_app *a, const char *listen, volatile sig_atomic_t *stop, int wake_fd,
                  abci_ready_fn ready, void *user);

#endif
