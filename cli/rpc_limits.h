/* rpc_limits.h - friends inside cli/: what keeps one client from stalling, filling or locking
 * out a node (rpc_limits.c; docs/rpc.md "Limits"): conflicting Content-Length headers, the
 * response size budget, per-sender mempool bytes and admission rate, and the free disk space
 * below which admissions are refused. Not a library header. */
#ifndef TALLY_CLI_RPC_LIMITS_H
#define TALLY_CLI_RPC_LIMITS_H

#include "rpc.h"

#include <microhttpd.h>
#include <pthread.h>

/* True if the request carries two Content-Length headers with different values (a request
 * smuggling shape; answered 400). */
bool rpc_content_length_conflict(struct MHD_Connection *c);

/* The size in bytes of v as compact JSON text, computed without building the text. */
size_t rpc_json_size(const json_t *v);

/* ---- per-sender admission limits -------------------------------------------------------- */

typedef struct rpc_senders rpc_senders;

typedef struct rpc_sender_limits {
    uint64_t mempool_bytes; /* most envelope bytes one sender may have waiting; 0: no limit */
    uint64_t rate_bytes;    /* envelope bytes per second one sender may submit (a bucket of
                             * 2 seconds' worth); 0: no limit */
} rpc_sender_limits;

/* A new table (base_alloc'd; NULL if out of memory). */
rpc_senders *rpc_senders_new(const rpc_sender_limits *lim);
void rpc_senders_free(rpc_senders *t);

/* Admission of an envelope of `bytes` from `sender` with message id `id`, now (monotonic ns):
 * ST_OK (counted: call rpc_senders_undo if the ledger then refuses it), ST_RATE_LIMITED (the
 * sender's bucket or its mempool share is used up: `why` says which; nothing counted).
 * still_waiting(ctx, id) tells whether an earlier message of the sender is still in the mempool
 * (messages that left it no longer count). Thread-safe. */
status rpc_senders_admit(rpc_senders *t, const uint8_t sender[LEDGER_PUBLIC_KEY_SIZE],
                         const uint8_t id[LEDGER_HASH_SIZE], uint64_t bytes, uint64_t now_ns,
                         bool (*still_waiting)(void *ctx, const uint8_t id[LEDGER_HASH_SIZE]),
                         void *ctx, char *why, size_t cap);
/* How many senders the table remembers (senders with nothing waiting and a full bucket are
 * forgotten when the table has doubled since the last sweep, at least 4096). */
size_t rpc_senders_count(rpc_senders *t);

/* Forgets a message counted by rpc_senders_admit that was not admitted after all. */
void rpc_senders_undo(rpc_senders *t, const uint8_t sender[LEDGER_PUBLIC_KEY_SIZE],
                      const uint8_t id[LEDGER_HASH_SIZE]);

/* ---- disk space ------------------------------------------------------------------------- */

/* Free bytes on the file system of dir for unprivileged writers (statvfs f_bavail), or
 * UINT64_MAX if it cannot be known. */
uint64_t rpc_disk_free(const char *dir);

#endif
