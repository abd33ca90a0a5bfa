/* test_rpc.c - the node's JSON-RPC core (cli/rpc_server.c, rpc_limits.c) without HTTP, over a
 * real ledger and scheduler: "0x" arguments that are not hex are invalid params; the response
 * size limit refuses a batch of blocks before building past it; an answer that cannot be built
 * (allocation failure) is a -32603 error, never nothing; admission refuses what cannot succeed
 * (deploy by a non-admin, upgrade by a non-controller, an argument that is no Wasm module)
 * and what is over a sender's mempool share or rate or the disk reserve, before anything is
 * stored; an update its canister's canister_inspect_message does not accept, and an update to
 * a stopped canister, are refused and never reach a block; a query of a stopped canister is
 * rejected with reject code 5. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "node_fixture.h"
#include "query_pool.h"
#include "rpc.h"
#include "rpc_limits.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct rpc_fx {
    node_fx f;
    rpc_server *srv;
} rpc_fx;

static void fx_start(rpc_fx *x, rpc_server_options *so)
{
    node_fx_init(&x->f, 7);
    node_fx_start(&x->f);
    so->listen = "127.0.0.1:0";
    so->max_body = 1u << 20;
    so->threads = 1;
    so->timeout_s = 5;
    so->wake_fd = -1;
    if (!so->min_free_disk)
        so->min_free_disk = UINT64_MAX; /* no disk check unless the test asks */
    assert_int_equal(rpc_server_new(x->f.lg, x->f.s, &lock, so, &x->srv), ST_OK);
}

static void fx_stop(rpc_fx *x)
{
    rpc_server_free(x->srv);
    node_fx_end(&x->f);
}

/* Handles body and parses the answer (NULL: no answer). */
static json_t *ask(rpc_fx *x, const char *body)
{
    char *text = rpc_server_handle(x->srv, body, strlen(body));
    if (!text)
        return NULL;
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    base_free(text);
    return j;
}

static int error_code(json_t *r)
{
    json_t *c = json_object_get(json_object_get(r, "error"), "code");
    return json_is_integer(c) ? (int)json_integer_value(c) : 0;
}

static const char *error_status(json_t *r)
{
    const char *s = json_string_value(
        json_object_get(json_object_get(json_object_get(r, "error"), "data"), "status"));
    return s ? s : "";
}

/* The submit request carrying envelope *env (freed). */
static char *envelope_body(buf *env)
{
    char *hex = cli_hex_new(env->ptr, env->len);
    assert_non_null(hex);
    buf_fini(env);
    size_t n = strlen(hex) + 128;
    char *body = malloc(n);
    assert_non_null(body);
    snprintf(body, n,
             "{\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"envelope\":\"%s\"},"
             "\"id\":1}",
             hex);
    base_free(hex);
    return body;
}

/* A submit request carrying a signed envelope from key `key` (seed {key}). */
static char *submit_body(rpc_fx *x, uint8_t key, uint8_t kind, uint64_t cid, span arg)
{
    const uint8_t seed[LEDGER_SEED_SIZE] = {key};
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE], id[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_keypair(seed, pk, sk), ST_OK);
    ledger_message m = {.nonce = ++x->f.nonce,
                        .canister_id = cid,
                        .kind = kind,
                        .method = span_of("", 0),
                        .arg = arg,
                        .expiry_height = 1000};
    memcpy(m.sender, pk, sizeof pk);
    buf env = {0};
    assert_int_equal(ledger_message_sign(&m, sk, &env, id), ST_OK);
    return envelope_body(&env);
}

/* The install argument of an empty module (8 bytes) and `extra` init bytes. */
static void empty_module_arg(buf *out, size_t extra)
{
    static const uint8_t wasm[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    uint8_t *init = calloc(1, extra + 1);
    assert_int_equal(scheduler_install_arg(span_of(wasm, 8), span_of(init, extra), out), ST_OK);
    free(init);
}

static size_t mempool_count(rpc_fx *x)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(x->f.lg, &rd), ST_OK);
    uint64_t seq = 0;
    size_t n = 0;
    span env;
    while (ledger_mempool_next(rd, &seq, &env, NULL) == ST_OK)
        n++;
    ledger_read_end(rd);
    return n;
}

static void t_hex_prefix(void **state)
{
    (void)state;
    rpc_fx x;
    rpc_server_options so = {0};
    fx_start(&x, &so);
    json_t *r = ask(&x, "{\"jsonrpc\":\"2.0\",\"method\":\"query\",\"params\":{\"canister\":1,"
                        "\"method\":\"get\",\"arg\":\"0xg0\"},\"id\":1}");
    assert_int_equal(error_code(r), -32602);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r, "error"), "message")), "'arg'"));
    json_decref(r);
    buf b = {0};
    assert_int_equal(cli_bytes_decode("0xg0", 4, &b), ST_BAD_ARGUMENT);
    assert_int_equal(cli_bytes_decode("AQID", 4, &b), ST_OK); /* base64 still works */
    assert_int_equal(b.len, 3);
    buf_fini(&b);
    fx_stop(&x);
}

/* 200 `block` requests of ~400 bytes against a limit of 8 KiB: one error for the batch, and
 * the answer stays small; 10 of them fit. A limit is not a guess: a single block fits. */
static void t_response_limit(void **state)
{
    (void)state;
    rpc_fx x;
    rpc_server_options so = {.max_response = 8192};
    fx_start(&x, &so);
    size_t cap = 200 * 100;
    char *body = malloc(cap);
    for (int n = 0; n < 2; n++) {
        int count = n ? 10 : 200;
        strcpy(body, "[");
        for (int i = 0; i < count; i++)
            snprintf(body + strlen(body), cap - strlen(body),
                     "%s{\"jsonrpc\":\"2.0\",\"method\":\"block\",\"params\":{\"height\":0},"
                     "\"id\":%d}",
                     i ? "," : "", i);
        strcat(body, "]");
        char *text = rpc_server_handle(x.srv, body, strlen(body));
        assert_non_null(text);
        assert_true(strlen(text) <= 8192);
        json_t *r = json_loads(text, 0, NULL);
        base_free(text);
        if (n == 0) {
            assert_true(json_is_object(r));
            assert_int_equal(error_code(r), -32000);
            assert_string_equal(error_status(r), "RESPONSE_TOO_LARGE");
        } else {
            assert_true(json_is_array(r));
            assert_int_equal(json_array_size(r), 10);
            assert_non_null(json_object_get(json_array_get(r, 9), "result"));
        }
        json_decref(r);
    }
    free(body);
    fx_stop(&x);
}

/* Every allocation of a `status` request failing in turn: always an answer (a -32603 error
 * when it cannot be built), never the empty answer of a notification. */
static void t_internal_error(void **state)
{
    (void)state;
    rpc_fx x;
    rpc_server_options so = {0};
    fx_start(&x, &so);
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":5}";
    int internal = 0;
    for (long n = 0; n < 400; n++) {
        base_alloc_fail_after(n, false);
        char *text = rpc_server_handle(x.srv, body, sizeof body - 1);
        base_alloc_fail_after(-1, false);
        assert_non_null(text);
        internal += strstr(text, "-32603") != NULL;
        base_free(text);
    }
    assert_true(internal > 0);
    /* a notification still gets nothing */
    static const char note[] = "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}";
    assert_null(rpc_server_handle(x.srv, note, sizeof note - 1));
    fx_stop(&x);
}

/* Deploy by a stranger, upgrade by a non-controller, a text file as the module: refused with
 * a message, and nothing enters the mempool. The admin's deploy is admitted. */
static void t_admission(void **state)
{
    (void)state;
    rpc_fx x;
    rpc_server_options so = {0};
    fx_start(&x, &so);
    buf arg = {0};
    empty_module_arg(&arg, 0);
    char *body = submit_body(&x, 99, LEDGER_MSG_INSTALL, 0, span_of(arg.ptr, arg.len));
    json_t *r = ask(&x, body);
    free(body);
    assert_string_equal(error_status(r), "NOT_AUTHORIZED");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r, "error"), "message")), "admin"));
    json_decref(r);
    static const char text[] = "(module (func))";
    buf bad = {0};
    assert_int_equal(scheduler_install_arg(span_of(text, sizeof text - 1), span_of("", 0), &bad),
                     ST_OK);
    body = submit_body(&x, 7, LEDGER_MSG_INSTALL, 0, span_of(bad.ptr, bad.len));
    r = ask(&x, body);
    free(body);
    assert_string_equal(error_status(r), "BAD_INSTALL_ARG");
    json_decref(r);
    body = submit_body(&x, 7, LEDGER_MSG_UPGRADE, 1, span_of(arg.ptr, arg.len));
    r = ask(&x, body); /* canister 1 does not exist yet */
    free(body);
    assert_string_equal(error_status(r), "UNKNOWN_CANISTER");
    json_decref(r);
    assert_int_equal(mempool_count(&x), 0);
    body = submit_body(&x, 7, LEDGER_MSG_INSTALL, 0, span_of(arg.ptr, arg.len));
    r = ask(&x, body);
    free(body);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    assert_int_equal(mempool_count(&x), 1);
    /* run it: canister 1 exists, controlled by key 7; key 99 may not upgrade it */
    scheduler_round_info info;
    assert_int_equal(scheduler_round(x.f.s, ++x.f.time, &info), ST_OK);
    body = submit_body(&x, 99, LEDGER_MSG_UPGRADE, 1, span_of(arg.ptr, arg.len));
    r = ask(&x, body);
    free(body);
    assert_string_equal(error_status(r), "NOT_AUTHORIZED");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r, "error"), "message")), "controller"));
    json_decref(r);
    assert_int_equal(mempool_count(&x), 0);
    buf_fini(&arg);
    buf_fini(&bad);
    fx_stop(&x);
}

/* A sender's mempool share: three envelopes of ~1 KiB fit in 3.5 KiB, the fourth is
 * RATE_LIMITED; once a round took them, the share is free again. */
static void t_sender_share(void **state)
{
    (void)state;
    rpc_fx x;
    buf arg = {0};
    empty_module_arg(&arg, 1000);
    rpc_server_options so = {.sender_mempool_bytes = 3 * (arg.len + 200) + 100};
    fx_start(&x, &so);
    for (int i = 0; i < 4; i++) {
        char *body = submit_body(&x, 7, LEDGER_MSG_INSTALL, 0, span_of(arg.ptr, arg.len));
        json_t *r = ask(&x, body);
        free(body);
        if (i < 3)
            assert_non_null(json_object_get(r, "result"));
        else
            assert_string_equal(error_status(r), "RATE_LIMITED");
        json_decref(r);
    }
    assert_int_equal(mempool_count(&x), 3);
    scheduler_round_info info;
    assert_int_equal(scheduler_round(x.f.s, ++x.f.time, &info), ST_OK);
    assert_int_equal(mempool_count(&x), 0);
    char *body = submit_body(&x, 7, LEDGER_MSG_INSTALL, 0, span_of(arg.ptr, arg.len));
    json_t *r = ask(&x, body);
    free(body);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    buf_fini(&arg);
    fx_stop(&x);
}

/* A rate whose bucket (2 s worth) holds 1.2 envelopes: the first is admitted, the second
 * (right after) is RATE_LIMITED. The disk reserve: above the free space, DISK_FULL. */
static void t_rate_and_disk(void **state)
{
    (void)state;
    rpc_fx x;
    buf arg = {0};
    empty_module_arg(&arg, 1000);
    size_t env = arg.len + 120; /* the envelope around it, roughly */
    rpc_server_options so = {.sender_rate_bytes = env * 6 / 10};
    fx_start(&x, &so);
    for (int i = 0; i < 2; i++) {
        char *body = submit_body(&x, 7, LEDGER_MSG_INSTALL, 0, span_of(arg.ptr, arg.len));
        json_t *r = ask(&x, body);
        free(body);
        if (i == 0)
            assert_non_null(json_object_get(r, "result"));
        else
            assert_string_equal(error_status(r), "RATE_LIMITED");
        json_decref(r);
    }
    fx_stop(&x);
    rpc_server_options full = {.min_free_disk = UINT64_MAX / 4, .dir = "/tmp"};
    fx_start(&x, &full);
    char *body = submit_body(&x, 7, LEDGER_MSG_INSTALL, 0, span_of(arg.ptr, arg.len));
    json_t *r = ask(&x, body);
    free(body);
    assert_string_equal(error_status(r), "DISK_FULL");
    json_decref(r);
    assert_int_equal(mempool_count(&x), 0);
    buf_fini(&arg);
    fx_stop(&x);
}

/* A server without its scheduler yet (a node still resuming): `status` answers with state
 * "resuming", anything else is NODE_STARTING; once attached, "serving" and answers. */
static void t_resuming(void **state)
{
    (void)state;
    rpc_fx x;
    node_fx_init(&x.f, 7);
    node_fx_start(&x.f);
    rpc_server_options so = {.listen = "127.0.0.1:0",
                             .max_body = 1u << 20,
                             .threads = 1,
                             .timeout_s = 5,
                             .wake_fd = -1,
                             .min_free_disk = UINT64_MAX};
    assert_int_equal(rpc_server_new(x.f.lg, NULL, &lock, &so, &x.srv), ST_OK);
    static const char status_req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}";
    static const char block_req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"block\",\"id\":2}";
    json_t *r = ask(&x, status_req);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "state")),
                        "resuming");
    json_decref(r);
    r = ask(&x, block_req);
    assert_string_equal(error_status(r), "NODE_STARTING");
    json_decref(r);
    rpc_server_attach(x.srv, x.f.s, NULL);
    r = ask(&x, status_req);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "state")),
                        "serving");
    json_decref(r);
    r = ask(&x, block_req);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    fx_stop(&x);
}

static bool never_waiting(void *ctx, const uint8_t id[LEDGER_HASH_SIZE])
{
    (void)ctx, (void)id;
    return false;
}

/* A stream of fresh keys does not grow the sender table for good: once their messages have
 * run and their buckets refilled, the table forgets them when it has doubled. */
static void t_sender_table_bounded(void **state)
{
    (void)state;
    rpc_sender_limits lim = {.mempool_bytes = 1 << 20, .rate_bytes = 1 << 20};
    rpc_senders *t = rpc_senders_new(&lim);
    assert_non_null(t);
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE] = {0}, id[LEDGER_HASH_SIZE] = {0};
    char why[200];
    for (uint32_t i = 0; i < 5000; i++) { /* all at t = 1 s: nobody has refilled yet */
        memcpy(key, &i, sizeof i);
        assert_int_equal(
            rpc_senders_admit(t, key, id, 100, 1000000000u, never_waiting, NULL, why, sizeof why),
            ST_OK);
    }
    assert_int_equal(rpc_senders_count(t), 5000);
    /* at t = 10 s: the sweep at 8192 forgets the first 5000 (refilled, nothing waiting); the
     * 3192 that came at 10 s have not refilled yet and stay, with the one that swept */
    for (uint32_t i = 5000; i < 8193; i++) {
        memcpy(key, &i, sizeof i);
        assert_int_equal(
            rpc_senders_admit(t, key, id, 100, 10000000000u, never_waiting, NULL, why, sizeof why),
            ST_OK);
    }
    assert_int_equal(rpc_senders_count(t), 3193);
    rpc_senders_free(t);
}

/* A submit request for update `method` (arg) to cid from the admin key (seed 7); *id gets
 * the message id. */
static char *update_body(rpc_fx *x, uint64_t cid, const char *method, const char *arg,
                         uint8_t id[LEDGER_HASH_SIZE])
{
    buf env = {0};
    node_fx_sign(&x->f, LEDGER_MSG_UPDATE, cid, method, span_of(arg, strlen(arg)), 1000, &env, id);
    return envelope_body(&env);
}

static const char *error_message(json_t *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
    return s ? s : "";
}

/* Submits update `method` (arg) to canister 1 and expects the status `want` ("" admitted) and,
 * if refused, `says` in the message. */
static void submit_expect(rpc_fx *x, const char *method, const char *arg, const char *want,
                          const char *says, uint8_t id[LEDGER_HASH_SIZE])
{
    char *body = update_body(x, 1, method, arg, id);
    json_t *r = ask(x, body);
    free(body);
    if (!*want) {
        assert_non_null(json_object_get(r, "result"));
    } else {
        assert_string_equal(error_status(r), want);
        if (!strstr(error_message(r), says))
            fail_msg("'%s' does not say '%s'", error_message(r), says);
    }
    json_decref(r);
}

static bool has_receipt(rpc_fx *x, const uint8_t id[LEDGER_HASH_SIZE])
{
    ledger_receipt rc;
    return node_fx_receipt(&x->f, id, &rc, NULL);
}

/* Candid (record { canister_id : principal }) of canister 1, for aaaaa-aa. */
static const char stop_arg[] = "DIDL\x01\x6c\x01\xb3\xc4\xb1\xf2\x04\x68\x01\x00\x01\x0a"
                               "\0\0\0\0\0\0\0\x01\x01\x01";

static void mgmt(rpc_fx *x, const char *method)
{
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(&x->f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, method,
                   span_of(stop_arg, sizeof stop_arg - 1), id);
    ledger_receipt rc;
    node_fx_run_until(&x->f, id, 3, &rc);
    assert_int_equal(rc.status, ST_OK);
}

/* inspect.wat's canister_inspect_message through `submit`, with and without query workers:
 * "inc" is admitted; "blocked" (no accept_message), "trap" (a trap) and the argument "no" are
 * MESSAGE_NOT_ACCEPTED with the IC's wording, nothing enters the mempool and no block holds
 * them. Stopped: updates are CANISTER_STOPPED at submission, queries a reject with code 5;
 * started again, both work. */
static void t_inspect_and_stopped(void **state)
{
    (void)state;
    for (int pooled = 0; pooled < 2; pooled++) {
        rpc_fx x;
        query_pool *pool = NULL;
        rpc_server_options so = {0};
        fx_start(&x, &so);
        if (pooled) {
            query_pool_options qo;
            query_pool_defaults(&qo);
            qo.threads = 1;
            assert_int_equal(query_pool_new(x.f.s, &qo, &pool), ST_OK);
            rpc_server_attach(x.srv, x.f.s, pool);
        }
        assert_int_equal(node_fx_deploy_file(&x.f, INSPECT_WASM), 1);
        uint8_t ok_id[LEDGER_HASH_SIZE], refused[3][LEDGER_HASH_SIZE];
        submit_expect(&x, "blocked", "", "MESSAGE_NOT_ACCEPTED",
                      "Requested canister rejected the message", refused[0]);
        submit_expect(&x, "blocked", "", "MESSAGE_NOT_ACCEPTED", "did not accept update 'blocked'",
                      refused[0]);
        submit_expect(&x, "trap", "", "MESSAGE_NOT_ACCEPTED", "inspect: trap", refused[1]);
        submit_expect(&x, "inc", "no", "MESSAGE_NOT_ACCEPTED", "did not accept", refused[2]);
        assert_int_equal(mempool_count(&x), 0);
        submit_expect(&x, "inc", "", "", NULL, ok_id);
        assert_int_equal(mempool_count(&x), 1);
        ledger_tip before = node_fx_tip(&x.f);
        ledger_receipt rc;
        node_fx_run_until(&x.f, ok_id, 1, &rc);
        assert_int_equal(rc.status, ST_OK);
        assert_int_equal(le64_load(rc.reply.ptr), 1); /* inspect's own writes never stayed */
        ledger_tip after = node_fx_tip(&x.f);
        assert_int_equal(after.height, before.height + 1);
        ledger_reader *rd;
        ledger_block b;
        assert_int_equal(ledger_read_begin(x.f.lg, &rd), ST_OK);
        assert_int_equal(ledger_block_get(rd, after.height, &b), ST_OK);
        assert_int_equal(b.message_count, 1);
        assert_memory_equal(b.message_ids, ok_id, LEDGER_HASH_SIZE);
        ledger_read_end(rd);
        for (int i = 0; i < 3; i++)
            assert_false(has_receipt(&x, refused[i]));

        /* stopped: refused at submission; queries rejected */
        mgmt(&x, "stop_canister");
        uint8_t id[LEDGER_HASH_SIZE];
        submit_expect(&x, "inc", "", "CANISTER_STOPPED", "is stopped", id);
        assert_int_equal(mempool_count(&x), 0);
        static const char query[] = "{\"jsonrpc\":\"2.0\",\"method\":\"query\",\"params\":{"
                                    "\"canister\":1,\"method\":\"get\"},\"id\":1}";
        json_t *r = ask(&x, query);
        json_t *res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(res, "status_name")),
                            "CANISTER_STOPPED");
        assert_int_equal(json_integer_value(json_object_get(res, "reject_code")), 5);
        json_decref(r);
        mgmt(&x, "start_canister");
        submit_expect(&x, "inc", "", "", NULL, id);
        node_fx_run_until(&x.f, id, 1, &rc);
        assert_int_equal(le64_load(rc.reply.ptr), 2);
        r = ask(&x, query);
        res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(res, "status_name")), "OK");
        json_decref(r);
        rpc_server_free(x.srv);
        query_pool_free(pool);
        node_fx_end(&x.f);
    }
}

int main(void)
{
    cli_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hex_prefix),
        cmocka_unit_test(t_response_limit),
        cmocka_unit_test(t_internal_error),
        cmocka_unit_test(t_admission),
        cmocka_unit_test(t_sender_share),
        cmocka_unit_test(t_rate_and_disk),
        cmocka_unit_test(t_resuming),
        cmocka_unit_test(t_sender_table_bounded),
        cmocka_unit_test(t_inspect_and_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
