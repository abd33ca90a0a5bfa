/* bench_calls.c - `tally bench node --calls`: what an inter-canister request and its reply
 * cost the node (scheduler/route.c, host-api/call.c; docs/benchmarks.md). Two canisters run
 * fan.wat (below): an ingress `fan` on canister 1 performs C calls to canister 2's `inc`, which
 * replies; each reply runs a callback on canister 1. The same number of ingress `fan` messages
 * with C = 0 is the baseline; (time with calls - baseline) / calls is the node time of one
 * request + reply: routing, the callee's execution, the callback, their staging and commit.
 * The ledger does not fsync (no_sync): both runs make the same blocks, and the disk's flush
 * time, which varies more than the difference on a shared machine, would only add noise. */
#include "cli.h"
#include "scheduler.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* (module (import "ic0" "msg_reply" / "call_new" / "call_perform" / "msg_arg_data_copy")
 *   (memory 1) (table 1 funcref) (elem (i32.const 0) $cb) (func $cb (param i32))
 *   (func (export "canister_update fan") ;; arg: callee[10] ++ u32 count
 *     copy the arg to 0; count times: call_new(callee, "inc", cb 0, cb 0), call_perform; reply)
 *   (func (export "canister_update inc") mem[32] += 1; reply)
 *   (func (export "canister_query count") reply mem[32..36)) (data (i32.const 16) "inc")),
 * from wat2wasm 1.0.32 */
static const uint8_t fan_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x22, 0x06, 0x60, 0x00, 0x00, 0x60, 0x08,
    0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x03, 0x7f,
    0x7f, 0x7f, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x01, 0x7f, 0x00, 0x02, 0x67, 0x05, 0x03,
    0x69, 0x63, 0x30, 0x09, 0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x00, 0x00, 0x03,
    0x69, 0x63, 0x30, 0x08, 0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x6e, 0x65, 0x77, 0x00, 0x01, 0x03, 0x69,
    0x63, 0x30, 0x0c, 0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x70, 0x65, 0x72, 0x66, 0x6f, 0x72, 0x6d, 0x00,
    0x02, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67, 0x5f, 0x61, 0x72, 0x67, 0x5f, 0x64, 0x61,
    0x74, 0x61, 0x5f, 0x63, 0x6f, 0x70, 0x79, 0x00, 0x03, 0x03, 0x69, 0x63, 0x30, 0x15, 0x6d, 0x73,
    0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x61, 0x70, 0x70,
    0x65, 0x6e, 0x64, 0x00, 0x04, 0x03, 0x05, 0x04, 0x05, 0x00, 0x00, 0x00, 0x04, 0x04, 0x01, 0x70,
    0x00, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x44, 0x03, 0x13, 0x63, 0x61, 0x6e, 0x69, 0x73,
    0x74, 0x65, 0x72, 0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x66, 0x61, 0x6e, 0x00, 0x06,
    0x13, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65,
    0x20, 0x69, 0x6e, 0x63, 0x00, 0x07, 0x14, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f,
    0x71, 0x75, 0x65, 0x72, 0x79, 0x20, 0x63, 0x6f, 0x75, 0x6e, 0x74, 0x00, 0x08, 0x09, 0x07, 0x01,
    0x00, 0x41, 0x00, 0x0b, 0x01, 0x05, 0x0a, 0x5e, 0x04, 0x02, 0x00, 0x0b, 0x3c, 0x01, 0x01, 0x7f,
    0x41, 0x00, 0x41, 0x00, 0x41, 0x0e, 0x10, 0x03, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x41, 0x0a,
    0x28, 0x02, 0x00, 0x4f, 0x0d, 0x01, 0x41, 0x00, 0x41, 0x0a, 0x41, 0x10, 0x41, 0x03, 0x41, 0x00,
    0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x10, 0x01, 0x10, 0x02, 0x1a, 0x20, 0x00, 0x41, 0x01, 0x6a,
    0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x10, 0x00, 0x0b, 0x11, 0x00, 0x41, 0x20, 0x41, 0x20, 0x28,
    0x02, 0x00, 0x41, 0x01, 0x6a, 0x36, 0x02, 0x00, 0x10, 0x00, 0x0b, 0x0a, 0x00, 0x41, 0x20, 0x41,
    0x04, 0x10, 0x04, 0x10, 0x00, 0x0b, 0x0b, 0x09, 0x01, 0x00, 0x41, 0x10, 0x0b, 0x03, 0x69, 0x6e,
    0x63};

enum { PER = 10, RUNS = 3 }; /* calls per ingress message; runs of each, the fastest counts */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct calls_node {
    ledger *lg;
    scheduler *s;
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    uint64_t nonce, time;
} calls_node;

static status submit(calls_node *n, uint8_t kind, uint64_t canister, const char *method, span arg)
{
    ledger_message m = {.nonce = ++n->nonce,
                        .canister_id = canister,
                        .kind = kind,
                        .method = span_of(method, strlen(method)),
                        .arg = arg,
                        .expiry_height = UINT64_MAX / 2};
    memcpy(m.sender, n->pk, sizeof n->pk);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ledger_message_sign(&m, n->sk, &env, id);
    if (st == ST_OK)
        st = ledger_mempool_add(n->lg, span_of(env.ptr, env.len), id);
    buf_fini(&env);
    return st;
}

/* Runs rounds until there is no work; *blocks counts them. */
static status drain(calls_node *n, uint32_t *blocks)
{
    bool work = true;
    status st = ST_OK;
    while (st == ST_OK && (st = scheduler_has_work(n->s, &work)) == ST_OK && work) {
        scheduler_round_info info;
        st = scheduler_round(n->s, ++n->time, &info);
        (*blocks)++;
    }
    return st;
}

/* One run on a fresh ledger at dir: two fan canisters, then `messages` fan messages of `per`
 * calls each, admitted beforehand; *secs is the time of the rounds that execute them. Both
 * runs make the same blocks (50 messages each), so the difference is the calls'. */
static status run(const char *dir, uint32_t messages, uint32_t per, double *secs, uint32_t *blocks)
{
    calls_node n = {.time = 1};
    ledger_genesis g;
    ledger_genesis_default(&g);
    /* 50 messages of 10 calls per block: the 500 calls a canister may have outstanding */
    g.max_messages_per_round = 500 / PER;
    status st = ledger_keypair(NULL, n.pk, n.sk);
    memcpy(g.admin_public_key, n.pk, sizeof n.pk);
    ledger_options opt = {.no_sync = true}; /* fsync time is the disk's, the same for both */
    if (st == ST_OK)
        st = ledger_open(dir, &opt, &n.lg);
    if (st == ST_OK)
        st = ledger_genesis_init(n.lg, &g);
    if (st == ST_OK)
        st = scheduler_open(n.lg, NULL, &n.s);
    buf install = {0};
    if (st == ST_OK)
        st = scheduler_install_arg(span_of(fan_wasm, sizeof fan_wasm), span_of(NULL, 0), &install);
    for (int i = 0; st == ST_OK && i < 2; i++)
        st = submit(&n, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "",
                    span_of(install.ptr, install.len));
    uint32_t warm = 0;
    if (st == ST_OK)
        st = drain(&n, &warm);
    uint8_t arg[14] = {0, 0, 0, 0, 0, 0, 0, 2, 1, 1}; /* canister 2's principal */
    le32_store(arg + 10, per);
    for (uint32_t i = 0; st == ST_OK && i < messages; i++)
        st = submit(&n, LEDGER_MSG_UPDATE, 1, "fan", span_of(arg, sizeof arg));
    double t0 = now_s();
    if (st == ST_OK)
        st = drain(&n, blocks);
    *secs = now_s() - t0;
    host_result res; /* every call ran: canister 2 counted them */
    host_result_init(&res);
    if (st == ST_OK)
        st =
            scheduler_query(n.s, 2, span_of("count", 5), span_of(NULL, 0), span_of(NULL, 0), &res);
    if (st == ST_OK && (res.bytes.len != 4 || le32_load(res.bytes.ptr) != messages * per))
        st = ST_BUG_INVARIANT;
    host_result_fini(&res);
    buf_fini(&install);
    scheduler_close(n.s);
    ledger_close(n.lg);
    return st;
}

status bench_calls(const char *dir, uint32_t messages, bool json)
{
    char sub[160];
    double base = 1e30, calls = 1e30;
    uint32_t bblocks = 0, cblocks = 0;
    status st = ST_OK;
    for (int r = 0; st == ST_OK && r < RUNS; r++) { /* the fastest of RUNS: load is noise */
        double t = 0;
        bblocks = cblocks = 0;
        snprintf(sub, sizeof sub, "%s-base%d", dir, r);
        st = run(sub, messages, 0, &t, &bblocks);
        base = t < base ? t : base;
        snprintf(sub, sizeof sub, "%s-calls%d", dir, r);
        if (st == ST_OK)
            st = run(sub, messages, PER, &t, &cblocks);
        calls = t < calls ? t : calls;
    }
    if (st != ST_OK)
        return st;
    double n = (double)messages * PER;
    double us = 1e6 * (calls - base) / n;
    if (json)
        printf("{\"bench\":\"node\",\"part\":\"calls\",\"messages\":%u,\"calls\":%.0f,"
               "\"blocks\":%u,\"baseline_s\":%.6f,\"with_calls_s\":%.6f,"
               "\"us_per_call\":%.3f,\"calls_per_s\":%.0f}\n",
               messages, n, cblocks, base, calls, us,
               n / (calls - base > 0 ? calls - base : 1e-9));
    else
        printf("inter-canister calls (in process, ledger without fsync):\n"
               "  %u ingress messages, no calls:        %8.3f s  (%u blocks)\n"
               "  the same, %u calls each (%.0f calls):   %8.3f s  (%u blocks)\n"
               "  one request + reply, node time:       %8.2f us  (%.0f calls/s)\n",
               messages, base, bblocks, PER, n, calls, cblocks, us,
               n / (calls - base > 0 ? calls - base : 1e-9));
    return ST_OK;
}
