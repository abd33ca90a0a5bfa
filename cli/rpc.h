/* rpc.h - friends inside cli/: what the node, the RPC server and the RPC clients share: byte
 * encodings (hex, base64), user arguments, key files, the node directory's config, the JSON-RPC
 * server core and the tiny HTTP/1.1 client. Not a library header (cli/ is the only user).
 *
 * JSON is jansson's json_t; every json_t a function returns is a new reference the caller
 * owns (json_decref). Allocation goes through base_alloc: cli_json_init() (cli.h) installs it. */
#ifndef TALLY_CLI_RPC_H
#define TALLY_CLI_RPC_H

#include "cli.h"
#include "ledger.h"

#include <jansson.h>

/* ---- encodings (encode.c) ----------------------------------------------------------------- */

/* Lowercase hex of n bytes as a new NUL-terminated string (base_alloc; NULL if out of memory). */
char *cli_hex_new(const uint8_t *p, size_t n);
/* Decodes hex (upper or lower case, even length, optional "0x" prefix) into *out (appended).
 * ST_OK, ST_BAD_ARGUMENT (not hex), ST_OUT_OF_MEMORY. */
status cli_hex_decode(const char *s, size_t len, buf *out);
/* Decodes standard base64 (RFC 4648, padding optional) into *out (appended).
 * ST_OK, ST_BAD_ARGUMENT, ST_OUT_OF_MEMORY. */
status cli_base64_decode(const char *s, size_t len, buf *out);
/* A byte field of an RPC request: hex if the string is hex, else base64; a "0x" prefix means
 * hex only ("0xg0" is ST_BAD_ARGUMENT, not base64). */
status cli_bytes_decode(const char *s, size_t len, buf *out);
/* Exactly 32 bytes of hex into out. ST_OK or ST_BAD_ARGUMENT. */
status cli_hash_parse(const char *s, uint8_t out[LEDGER_HASH_SIZE]);

/* A user argument: "0x..." is hex, "@FILE" the bytes of a file, anything else the text itself
 * (UTF-8, no terminator). Appends to *out. ST_OK, ST_BAD_ARGUMENT, ST_IO_ERROR, ST_OUT_OF_MEMORY. */
status cli_arg_parse(const char *text, buf *out);
/* A canister id: the text form ("xxxxx-xxxxx-xxxxx-x"), a decimal number, or "aaaaa-aa" (the
 * management canister: id 0, LEDGER_CANISTER_NONE). */
status cli_canister_parse(const char *text, uint64_t *id);
/* A decimal or 0x-hex u64 with nothing after it. */
bool cli_u64_parse(const char *text, uint64_t *out);

/* True if the bytes are valid UTF-8 without control characters other than \t \n \r. */
bool cli_is_printable(span s);

/* ---- Candid (candid_cli.c, docs/cli.md "Candid") ------------------------------------------ */

/* The Candid interface a module carries: the text of its custom section
 * `icp:public candid:service` or `icp:private candid:service` (a view into wasm). */
bool cli_wasm_candid(span wasm, span *did);
/* Encode the Candid text argument `text` ("(42 : nat)") into out: typed by the parameters of
 * `method` (NULL: the init arguments) in the interface did, or, when did is empty, by what the
 * text shows. ST_OK, or a ST_CANDID_* status with a reason in why. */
status cli_candid_args(span did, const char *method, const char *text, buf *out, char *why,
                       size_t whylen);
/* True if the bytes are a Candid message (start with "DIDL"). */
bool cli_is_candid(span reply);
/* Append a Candid reply as text ("(42 : nat)"): typed by the results of `method` in did (field
 * names) when did has it, else by the message's own types. ST_OK or a ST_CANDID_* status. */
status cli_candid_reply(span did, const char *method, span reply, buf *out);

/* ---- key files and the node directory (keys.c) --------------------------------------------- */

/* A key file is text (docs/cli.md "Key files"): a comment line, "seed: <64 hex>" and
 * "public: <64 hex>". Written with mode 0600; refuses to overwrite an existing file.
 * ST_OK, ST_IO_ERROR (exists or cannot write). */
status cli_key_write(const char *path, const uint8_t seed[LEDGER_SEED_SIZE]);
/* Reads a key file and derives the key pair; the public key must match the seed.
 * ST_OK, ST_IO_ERROR (cannot read), ST_BAD_KEY_FILE. */
status cli_key_read(const char *path, uint8_t pk[LEDGER_PUBLIC_KEY_SIZE],
                    uint8_t sk[LEDGER_SECRET_KEY_SIZE]);

/* Why a key file could not be used, for messages: "no such file", the errno text, or the
 * status's message. */
const char *cli_key_problem(const char *path, status st);

/* The node directory's config, DIR/node.json. */
typedef struct cli_config {
    char listen[128];           /* "127.0.0.1:7777" */
    uint32_t round_interval_ms; /* least time between two blocks */
    /* The chain this directory belongs to, written by `tally init` ("" in directories made
     * before they were recorded): clients refuse a node that serves another chain. */
    char chain_id[LEDGER_CHAIN_ID_MAX + 1];
    char genesis_hash[2 * LEDGER_HASH_SIZE + 1]; /* hex: block 0's parent hash */
} cli_config;

void cli_config_default(cli_config *cfg);
/* Reads DIR/node.json over the defaults (a missing file leaves the defaults: ST_NOT_FOUND).
 * ST_OK, ST_NOT_FOUND, ST_IO_ERROR, ST_BAD_ARGUMENT (not the expected JSON). */
status cli_config_read(const char *dir, cli_config *cfg);
status cli_config_write(const char *dir, const cli_config *cfg);

/* "DIR/NAME" into out (caller's). False if it does not fit. */
bool cli_path_join(char *out, size_t cap, const char *dir, const char *name);

/* ---- the JSON-RPC 2.0 server (rpc_server.c) ------------------------------------------------- */

struct scheduler;

typedef struct rpc_server rpc_server;

typedef struct rpc_server_options {
    const char *listen; /* "HOST:PORT" (IPv4 address) */
    bool allow_public;  /* false: only loopback addresses may be bound */
    size_t max_body;    /* request body limit in bytes */
    unsigned threads;   /* HTTP worker threads */
    unsigned timeout_s; /* idle connection timeout */
    int wake_fd;        /* written (one byte) when a message enters the mempool; -1: none */
    /* Limits (docs/rpc.md "Limits"); 0 means the default given. */
    size_t max_response;           /* bytes of one HTTP answer (16 MiB) */
    unsigned max_connections;      /* open connections in all (1000) */
    unsigned max_per_address;      /* open connections from one IP address (64) */
    unsigned request_deadline_s;   /* headers and body of a request must arrive within this (60) */
    uint64_t sender_mempool_bytes; /* envelope bytes one sender may have waiting (64 MiB) */
    uint64_t sender_rate_bytes;    /* envelope bytes per second one sender may submit (64 MiB) */
    uint64_t min_free_disk;        /* admissions are refused below this many free bytes (256 MiB
                                 * or 4 max_message_bytes, the larger); UINT64_MAX: no check */
    const char *dir;               /* the node directory (its file system's free space); NULL */
    struct query_pool *queries;    /* runs `query` (query_pool.h); NULL: on the caller's thread
                                   under the scheduler lock */
    /* Replicated mode (`tally abci`, docs/replication.md): admission hands the envelopes, each
     * checked with ledger_message_decode, to forward() (consensus's mempool) instead of the
     * local mempool; statuses[i] receives each one's outcome, the call returns a fault that
     * applies to all. Receipts of forwarded messages read "pending" (stage "consensus") until
     * a block of this node has them. NULL: the local mempool. */
    status (*forward)(void *user, size_t n, const span *envelopes, status *statuses);
    void *forward_user;
    /* Extra members of `status` (replicated mode: "replication", the application's counters);
     * called with forward_user; returns a new JSON object or NULL. NULL: none. */
    json_t *(*status_extra)(void *user);
} rpc_server_options;

/* Creates the JSON-RPC core over an open ledger and scheduler (both outlive the server) and
 * starts its admission thread (the group commit of submits, see rpc_server.c). The scheduler
 * lock (`lock`) serialises every scheduler call; the round loop takes it too.
 * ST_OK, ST_OUT_OF_MEMORY (memory, or the thread cannot start). */
status rpc_server_new(ledger *lg, struct scheduler *s, void *lock /* pthread_mutex_t* */,
                      const rpc_server_options *opt, rpc_server **out);
/* A server made with s == NULL (and no query pool) is "resuming": it answers `status` (with
 * "state": "resuming") and refuses every other method with NODE_STARTING, so that clients of
 * a node that is still loading its canisters or resuming a paused message get an answer
 * instead of a refused connection. rpc_server_attach hands it the scheduler (and the query
 * pool, may be NULL) once scheduler_open has returned; from then on it serves everything. */
void rpc_server_attach(rpc_server *srv, struct scheduler *s, struct query_pool *queries);

/* Handles one HTTP request body (a JSON-RPC request or batch) and returns the response text
 * (base_alloc'd, NUL-terminated; NULL when no response is due: notifications only). */
char *rpc_server_handle(rpc_server *srv, const char *body, size_t len);
/* The same for a request from client address `client` (16 bytes, IPv4 mapped into IPv6): the
 * key of its query budget. rpc_server_handle's client is ::1. */
char *rpc_server_handle_from(rpc_server *srv, const uint8_t client[16], const char *body,
                             size_t len);
/* Starts serving HTTP on opt->listen. ST_OK, ST_BAD_ARGUMENT (address, or a public address
 * without allow_public), ST_IO_ERROR (cannot bind). */
status rpc_server_start(rpc_server *srv);
/* The TCP port the server listens on (useful with port 0: the system picks one). */
uint16_t rpc_server_port(const rpc_server *srv);
/* Admission counters since rpc_server_new: mempool commits made by the group committer and
 * envelopes they admitted (admitted / commits is the mean group size). */
void rpc_server_admit_stats(rpc_server *srv, uint64_t *commits, uint64_t *admitted);
/* Stops accepting, waits for the requests in flight, and frees the server. NULL allowed. */
void rpc_server_free(rpc_server *srv);

/* ---- the HTTP/JSON-RPC client (rpc_client.c) ------------------------------------------------ */

/* An error answer of the node, or a transport failure. */
typedef struct rpc_error {
    int code; /* JSON-RPC error code; 0 for transport errors */
    char message[256];
    char status[64]; /* data.status of -32000 errors ("MESSAGE_EXPIRED"), else "" */
} rpc_error;

/* POSTs a JSON-RPC request {method, params (borrowed; may be NULL)} to url ("http://HOST:PORT/")
 * and returns its result in *result (may be JSON null). ST_OK; ST_IO_ERROR (connect, send,
 * receive, or not an HTTP answer: err->message says what), ST_RPC_ERROR (the node answered with
 * an error: err), ST_BAD_ARGUMENT (url), ST_OUT_OF_MEMORY. */
status rpc_client_call(const char *url, const char *method, json_t *params, json_t **result,
                       rpc_error *err);
/* POSTs raw bytes and returns the HTTP status and the body (base_alloc'd, NUL-terminated).
 * For tests and scripts. */
status rpc_client_post(const char *url, const char *body, size_t len, int *http_status,
                       char **resp, size_t *resp_len, rpc_error *err);
/* POSTs the JSON-RPC batch reqs (borrowed) and returns the answers as an array in *answers
 * (the caller's; NULL on failure). ST_RPC_ERROR if the node did not answer with an array. */
status rpc_client_batch(const char *url, json_t *reqs, json_t **answers, rpc_error *err);
/* A JSON-RPC `method` request whose params are {key: val}, with request id `id`; NULL when out
 * of memory. For batches. */
json_t *rpc_client_request(const char *method, const char *key, const char *val, json_int_t id);
/* The `submit` request of an envelope (hex-encoded), with request id `id`; NULL when out of
 * memory. */
json_t *rpc_client_submit_request(span envelope, json_int_t id);

#endif
