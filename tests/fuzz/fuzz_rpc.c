/* fuzz_rpc.c - libFuzzer harness: the node's JSON-RPC core (cli/rpc_server.c) on arbitrary
 * request bodies, without HTTP: rpc_server_handle() over a real ledger and scheduler (a fresh
 * node directory under /tmp, made once per process and removed at exit).
 *
 * Properties: no crash, leak or sanitizer report whatever the body (malformed JSON, wrong
 * types, huge numbers, deep nesting, batches, notifications); a response is NUL-terminated
 * JSON text that parses back, and is an object (or, for a batch, an array) with "jsonrpc":
 * "2.0". Requests that are valid (status, block, receipt, submit with a bad envelope...) run
 * for real against the ledger. Seeds: tests/fuzz/corpus/rpc. */
#include "fuzz.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "rpc.h"
#include "scheduler.h"

static char node_dir[64];
static ledger *lg;
static scheduler *sched;
static rpc_server *srv;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void teardown(void)
{
    rpc_server_free(srv);
    scheduler_close(sched);
    ledger_close(lg);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", node_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_rpc: could not remove %s\n", node_dir);
}

static void setup(void)
{
    cli_json_init();
    snprintf(node_dir, sizeof node_dir, "/tmp/tally-fuzz-rpc-XXXXXX");
    FUZZ_CHECK(mkdtemp(node_dir) != NULL);
    ledger_options opt = {.no_sync = true};
    FUZZ_CHECK(ledger_open(node_dir, &opt, &lg) == ST_OK);
    ledger_genesis g;
    ledger_genesis_default(&g);
    static const uint8_t seed[LEDGER_SEED_SIZE] = {3};
    uint8_t sk[LEDGER_SECRET_KEY_SIZE];
    FUZZ_CHECK(ledger_keypair(seed, g.admin_public_key, sk) == ST_OK);
    FUZZ_CHECK(ledger_genesis_init(lg, &g) == ST_OK);
    FUZZ_CHECK(scheduler_open(lg, NULL, &sched) == ST_OK);
    rpc_server_options so = {.listen = "127.0.0.1:0",
                             .max_body = 1u << 20,
                             .threads = 1,
                             .timeout_s = 5,
                             .wake_fd = -1};
    FUZZ_CHECK(rpc_server_new(lg, sched, &lock, &so, &srv) == ST_OK);
    atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        setup();
    char *resp = rpc_server_handle(srv, (const char *)data, size);
    if (!resp)
        return 0; /* notifications only */
    json_error_t jerr;
    json_t *j = json_loads(resp, 0, &jerr);
    FUZZ_CHECK(j != NULL);
    json_t *first = json_is_array(j) ? json_array_get(j, 0) : j;
    FUZZ_CHECK(json_is_object(first));
    json_t *v = json_object_get(first, "jsonrpc");
    FUZZ_CHECK(json_is_string(v) && strcmp(json_string_value(v), "2.0") == 0);
    json_decref(j);
    base_free(resp);
    return 0;
}
