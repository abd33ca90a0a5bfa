/* bench_chain.c - what the node benchmarks share (bench.h): a clock, the counter canister, key
 * pairs and signing, and an in-process chain driven round by round (ledger + scheduler). Used
 * by bench_calls.c here and by `tally bench node` / `tally bench localnet` in cli/. */
#include "bench.h"

#include <string.h>
#include <time.h>

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* (module (import "ic0" "msg_reply_data_append" ...) (import "ic0" "msg_reply" ...) (memory 1)
 *   (func (export "canister_update inc") mem[0] += 1; reply mem[0..4])
 *   (func (export "canister_query get") reply mem[0..4])
 *   (func (export "canister_query spin") (loop br 0))), from wat2wasm 1.0.32 */
static const uint8_t counter_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x02, 0x60, 0x02, 0x7f, 0x7f, 0x00,
    0x60, 0x00, 0x00, 0x02, 0x2d, 0x02, 0x03, 0x69, 0x63, 0x30, 0x15, 0x6d, 0x73, 0x67, 0x5f, 0x72,
    0x65, 0x70, 0x6c, 0x79, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x61, 0x70, 0x70, 0x65, 0x6e, 0x64,
    0x00, 0x00, 0x03, 0x69, 0x63, 0x30, 0x09, 0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79,
    0x00, 0x01, 0x03, 0x04, 0x03, 0x01, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x42, 0x03,
    0x13, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65,
    0x20, 0x69, 0x6e, 0x63, 0x00, 0x02, 0x12, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f,
    0x71, 0x75, 0x65, 0x72, 0x79, 0x20, 0x67, 0x65, 0x74, 0x00, 0x03, 0x13, 0x63, 0x61, 0x6e, 0x69,
    0x73, 0x74, 0x65, 0x72, 0x5f, 0x71, 0x75, 0x65, 0x72, 0x79, 0x20, 0x73, 0x70, 0x69, 0x6e, 0x00,
    0x04, 0x0a, 0x2c, 0x03, 0x17, 0x00, 0x41, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x41, 0x01, 0x6a,
    0x36, 0x02, 0x00, 0x41, 0x00, 0x41, 0x04, 0x10, 0x00, 0x10, 0x01, 0x0b, 0x0a, 0x00, 0x41, 0x00,
    0x41, 0x04, 0x10, 0x00, 0x10, 0x01, 0x0b, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b};

span bench_counter_wasm(void)
{
    return span_of(counter_wasm, sizeof counter_wasm);
}

status bench_key_new(bench_key *k)
{
    return ledger_keypair(NULL, k->pk, k->sk);
}

status bench_sign(const bench_key *k, ledger_message m, buf *env, uint8_t id[LEDGER_HASH_SIZE])
{
    uint8_t ignored[LEDGER_HASH_SIZE];
    memcpy(m.sender, k->pk, sizeof k->pk);
    env->len = 0;
    return ledger_message_sign(&m, k->sk, env, id ? id : ignored);
}

status bench_chain_open(bench_chain *c, const char *dir, const ledger_options *opt,
                        const ledger_genesis *g, const bench_key *k, const scheduler_options *sopt)
{
    *c = (bench_chain){.time = 0};
    ledger_genesis gen = *g;
    memcpy(gen.admin_public_key, k->pk, sizeof k->pk);
    status st = ledger_open(dir, opt, &c->lg);
    if (st == ST_OK)
        st = ledger_genesis_init(c->lg, &gen);
    if (st == ST_OK && sopt)
        st = scheduler_open(c->lg, sopt, &c->s);
    if (st != ST_OK)
        bench_chain_close(c);
    return st;
}

void bench_chain_close(bench_chain *c)
{
    scheduler_close(c->s);
    ledger_close(c->lg);
    c->s = NULL;
    c->lg = NULL;
}

status bench_chain_submit(bench_chain *c, const bench_key *k, ledger_message m)
{
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE];
    status st = bench_sign(k, m, &env, id);
    if (st == ST_OK)
        st = ledger_mempool_add(c->lg, span_of(env.ptr, env.len), id);
    buf_fini(&env);
    return st;
}

status bench_chain_drain(bench_chain *c, uint32_t *blocks, uint32_t *completed)
{
    bool work = true;
    status st = ST_OK;
    while (st == ST_OK && (st = scheduler_has_work(c->s, &work)) == ST_OK && work) {
        scheduler_round_info info;
        st = scheduler_round(c->s, ++c->time, &info);
        if (blocks)
            (*blocks)++;
        if (completed)
            *completed += info.completed;
    }
    return st;
}
