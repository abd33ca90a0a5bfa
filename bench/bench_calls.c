/* bench_calls.c - `tally bench node --calls`: what an inter-canister request and its reply
 * cost the node (scheduler/route.c, host-api/call.c; docs/benchmarks.md). Two canisters run
 * fan.wat (below): an ingress `fan` on canister 1 performs C calls to canister 2's `inc`, which
 * replies; each reply runs a callback on canister 1. The same number of ingress `fan` messages
 * with C = 0 is the baseline; (time with calls - baseline) / calls is the node time of one
 * request + reply: routing, the callee's execution, the callback, their staging and commit.
 * The ledger does not fsync (no_sync): both runs make the same blocks, and the disk's flush
 * time, which varies more than the difference on a shared machine, would only add noise. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

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

/* One run on a fresh ledger at dir: two fan canisters, then `messages` fan messages of `per`
 * calls each, admitted beforehand; *secs is the time of the rounds that execute them. Both
 * runs make the same blocks (50 messages each), so the difference is the calls'. */
static status run(const char *dir, uint32_t messages, uint32_t per, double *secs, uint32_t *blocks)
{
    bench_chain n;
    bench_key k;
    uint64_t nonce = 0;
    ledger_genesis g;
    ledger_genesis_default(&g);
    /* 50 messages of 10 calls per block: the 500 calls a canister may have outstanding */
    g.max_messages_per_round = 500 / PER;
    ledger_options opt = {.no_sync = true}; /* fsync time is the disk's, the same for both */
    status st = bench_key_new(&k);
    if (st == ST_OK)
        st = bench_chain_open(&n, dir, &opt, &g, &k, &(scheduler_options){0});
    if (st != ST_OK)
        return st;
    buf install = {0};
    st = scheduler_install_arg(span_of(fan_wasm, sizeof fan_wasm), span_of(NULL, 0), &install);
    for (int i = 0; st == ST_OK && i < 2; i++)
        st = bench_chain_submit(&n, &k,
                                (ledger_message){.nonce = ++nonce,
                                                 .canister_id = LEDGER_CANISTER_NONE,
                                                 .kind = LEDGER_MSG_INSTALL,
                                                 .arg = span_of(install.ptr, install.len),
                                                 .expiry_height = UINT64_MAX / 2});
    if (st == ST_OK)
        st = bench_chain_drain(&n, NULL, NULL);
    uint8_t arg[14] = {0, 0, 0, 0, 0, 0, 0, 2, 1, 1}; /* canister 2's principal */
    le32_store(arg + 10, per);
    for (uint32_t i = 0; st == ST_OK && i < messages; i++)
        st = bench_chain_submit(&n, &k,
                                (ledger_message){.nonce = ++nonce,
                                                 .canister_id = 1,
                                                 .kind = LEDGER_MSG_UPDATE,
                                                 .method = span_of("fan", 3),
                                                 .arg = span_of(arg, sizeof arg),
                                                 .expiry_height = UINT64_MAX / 2});
    double t0 = bench_now_s();
    if (st == ST_OK)
        st = bench_chain_drain(&n, blocks, NULL);
    *secs = bench_now_s() - t0;
    host_result res; /* every call ran: canister 2 counted them */
    host_result_init(&res);
    if (st == ST_OK)
        st =
            scheduler_query(n.s, 2, span_of("count", 5), span_of(NULL, 0), span_of(NULL, 0), &res);
    if (st == ST_OK && (res.bytes.len != 4 || le32_load(res.bytes.ptr) != messages * per))
        st = BUG();
    host_result_fini(&res);
    buf_fini(&install);
    bench_chain_close(&n);
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
