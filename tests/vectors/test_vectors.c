/* test_vectors.c - golden vectors: a fixed genesis and a fixed sequence of signed messages must
 * give these exact block hashes, state roots and instruction counts, bit for bit, in every
 * build (CI runs this under gcc -O2 and under clang with sanitizers). Any change to encoding,
 * hashing, metering weights or execution semantics shows up here first.
 *
 * The canisters are tests/scheduler/slow.wat and relay.wat (inter-canister calls, in
 * golden_calls.inc, and sliced in golden_sliced_calls.inc) (wat2wasm output is stable for a wabt version; C
 * canisters are not used because their bytes depend on the clang version). To regenerate after
 * an intended change: run with TALLY_VECTORS_PRINT=1 and paste the printed table.
 *
 * Every chain runs three times: interpreted, compiled (scheduler tier COMPILED: every module in
 * the compiled tier from its first message, docs/engine.md) and AUTO (compiled in the
 * background, attached whenever ready: the tier may change between rounds). The tier is a
 * node-local choice, so all three must give the same golden hashes, roots and counts. The
 * compiled runs need a C compiler: without one they fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler.h"
#include "test_util.h"

/* The tier of the current run (SCHEDULER_TIER_*); compiled runs also check that the tier was
 * really used. */
static int tier;

static scheduler *open_sched(ledger *lg)
{
    scheduler_options o = {.tier = tier, .tier_log = true};
    scheduler *s = NULL;
    assert_int_equal(scheduler_open(lg, &o, &s), ST_OK);
    return s;
}

static void check_tier(scheduler *s)
{
    uint64_t compiled, failed;
    scheduler_tier_wait(s, 60000);
    scheduler_tier_counts(s, &compiled, &failed);
    assert_int_equal(failed, 0);
    if (tier != SCHEDULER_TIER_INTERP)
        assert_true(compiled > 0);
    else
        assert_int_equal(compiled, 0);
}

/* AUTO: after the first round (the install), wait for the background compile, so that the
 * next round switches the canisters to compiled code in the middle of the chain. */
static bool switched;

static void switch_tier(scheduler *s)
{
    if (tier == SCHEDULER_TIER_AUTO && !switched) {
        scheduler_tier_wait(s, 60000);
        switched = true;
    }
}

typedef struct step {
    const char *method; /* NULL: a round with no new message */
    uint32_t count;     /* messages of this kind submitted before the round */
} step;

typedef struct golden {
    uint64_t height;
    const char *block_hash;
    const char *state_root;
    uint64_t instructions; /* executed in the round */
} golden;

/* install, 3 quick, slow (spans rounds: slice 100k), quick behind it, rounds until done */
static const step script[] = {
    {"<install>", 1}, {"quick", 3}, {"slow", 1}, {"quick", 1}, {NULL, 0},    {NULL, 0},
    {NULL, 0},        {NULL, 0},    {NULL, 0},   {NULL, 0},    {"quick", 2},
};

static const golden expected[] = {
#include "golden.inc"
};

static void test_golden_vectors(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tally-golden-XXXXXX");
    assert_non_null(mkdtemp(dir));
    ledger *lg;
    ledger_options opt = {.no_sync = true};
    assert_int_equal(ledger_open(dir, &opt, &lg), ST_OK);
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    static const uint8_t seed[LEDGER_SEED_SIZE] = {42};
    assert_int_equal(ledger_keypair(seed, pk, sk), ST_OK);
    ledger_genesis g;
    ledger_genesis_default(&g);
    strcpy(g.chain_id, "tally-golden");
    g.genesis_time_ns = 1700000000000000000ull;
    memcpy(g.admin_public_key, pk, sizeof pk);
    g.slice_instructions = 100000;
    assert_int_equal(ledger_genesis_init(lg, &g), ST_OK);
    scheduler *s = open_sched(lg);

    buf wasm = {0}, arg = {0}, env = {0};
    test_read_file(SLOW_WASM, &wasm);
    assert_int_equal(scheduler_install_arg(span_of(wasm.ptr, wasm.len), span_of(NULL, 0), &arg),
                     ST_OK);
    bool print = getenv("TALLY_VECTORS_PRINT") != NULL;
    uint64_t nonce = 0, time = g.genesis_time_ns;
    size_t checked = 0;
    for (size_t i = 0; i < BASE_ARRAY_LEN(script); i++) {
        for (uint32_t k = 0; k < script[i].count; k++) {
            bool install = !strcmp(script[i].method, "<install>");
            ledger_message m = {.nonce = ++nonce,
                                .canister_id = install ? LEDGER_CANISTER_NONE : 1,
                                .kind = install ? LEDGER_MSG_INSTALL : LEDGER_MSG_UPDATE,
                                .method =
                                    install ? span_of(NULL, 0)
                                            : span_of(script[i].method, strlen(script[i].method)),
                                .arg = install ? span_of(arg.ptr, arg.len) : span_of(NULL, 0),
                                .expiry_height = 100};
            memcpy(m.sender, pk, sizeof pk);
            uint8_t id[LEDGER_HASH_SIZE];
            env.len = 0;
            assert_int_equal(ledger_message_sign(&m, sk, &env, id), ST_OK);
            assert_int_equal(ledger_mempool_add(lg, span_of(env.ptr, env.len), id), ST_OK);
        }
        time += 1000000000ull;
        scheduler_round_info info;
        assert_int_equal(scheduler_round(s, time, &info), ST_OK);
        switch_tier(s);
        assert_true(info.produced);
        char bh[65], sr[65];
        ledger_hash_hex(info.tip.hash, bh);
        ledger_hash_hex(info.tip.state_root, sr);
        if (print) {
            printf("    {%llu, \"%s\",\n     \"%s\", %llu},\n",
                   (unsigned long long)info.tip.height, bh, sr,
                   (unsigned long long)info.instructions);
            continue;
        }
        assert_true(checked < BASE_ARRAY_LEN(expected));
        const golden *e = &expected[checked++];
        assert_int_equal(info.tip.height, e->height);
        assert_string_equal(bh, e->block_hash);
        assert_string_equal(sr, e->state_root);
        assert_int_equal(info.instructions, e->instructions);
    }
    if (!print)
        assert_int_equal(checked, BASE_ARRAY_LEN(expected));
    buf_fini(&wasm);
    buf_fini(&arg);
    buf_fini(&env);
    check_tier(s);
    scheduler_close(s);
    ledger_close(lg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- inter-canister calls: three relays (tests/scheduler/relay.wat) calling each other ---------- */

typedef struct call_step {
    uint64_t from, target; /* 0 from: a round with no new message; target 99: no such canister */
    uint8_t mode;
    const char *method; /* "call:<id>" nests a call to <id>'s echo */
} call_step;

static const golden expected_calls[] = {
#include "golden_calls.inc"
};

static void relay_arg(buf *b, uint64_t target, uint8_t mode, const char *method, span payload)
{
    uint8_t head[10];
    le64_store(head, target);
    head[8] = mode;
    head[9] = (uint8_t)strlen(method);
    b->len = 0;
    assert_int_equal(buf_put(b, head, sizeof head), ST_OK);
    assert_int_equal(buf_put(b, method, strlen(method)), ST_OK);
    assert_int_equal(buf_put(b, payload.ptr, payload.len), ST_OK);
}

/* Three relays installed, then the calls of `calls` (one step per round) on chain `chain` with
 * slices of `slice` instructions (0: the default) must give `expected`. */
static void golden_calls(const char *chain, const call_step *calls, size_t ncalls, uint64_t slice,
                         const golden *want, size_t nexpected)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tally-golden-XXXXXX");
    assert_non_null(mkdtemp(dir));
    ledger *lg;
    ledger_options opt = {.no_sync = true};
    assert_int_equal(ledger_open(dir, &opt, &lg), ST_OK);
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    static const uint8_t seed[LEDGER_SEED_SIZE] = {43};
    assert_int_equal(ledger_keypair(seed, pk, sk), ST_OK);
    ledger_genesis g;
    ledger_genesis_default(&g);
    strcpy(g.chain_id, chain);
    g.genesis_time_ns = 1700000000000000000ull;
    g.round_instruction_limit = 30000;
    if (slice)
        g.slice_instructions = slice;
    memcpy(g.admin_public_key, pk, sizeof pk);
    assert_int_equal(ledger_genesis_init(lg, &g), ST_OK);
    scheduler *s = open_sched(lg);
    buf wasm = {0}, arg = {0}, env = {0}, inner = {0};
    test_read_file(RELAY_WASM, &wasm);
    assert_int_equal(scheduler_install_arg(span_of(wasm.ptr, wasm.len), span_of(NULL, 0), &arg),
                     ST_OK);
    bool print = getenv("TALLY_VECTORS_PRINT") != NULL;
    uint64_t nonce = 0, time = g.genesis_time_ns;
    size_t checked = 0, n = ncalls + 3;
    bool work = false;
    /* the script, then (sliced) rounds until every tree has finished */
    for (size_t i = 0; i < n || (slice && work); i++) {
        assert_true(i < 1000);
        ledger_message m = {.nonce = ++nonce, .expiry_height = 100};
        static const call_step idle = {0, 0, 0, NULL};
        const call_step *c = i < 3 ? NULL : i < n ? &calls[i - 3] : &idle;
        if (!c) { /* the three installs, one per round */
            m.canister_id = LEDGER_CANISTER_NONE;
            m.kind = LEDGER_MSG_INSTALL;
            m.arg = span_of(arg.ptr, arg.len);
        } else if (c->from) {
            const char *method = c->method;
            inner.len = 0;
            if (!strncmp(method, "call:", 5)) {
                relay_arg(&inner, (uint64_t)(method[5] - '0'), 0, "echo", span_of("in", 2));
                method = "call";
            } else {
                assert_int_equal(buf_put(&inner, "x", 1), ST_OK);
            }
            relay_arg(&env, c->target, c->mode, method, span_of(inner.ptr, inner.len));
            buf a = env;
            env = (buf){0};
            m.canister_id = c->from;
            m.kind = LEDGER_MSG_UPDATE;
            m.method = span_of("call", 4);
            m.arg = span_of(a.ptr, a.len);
            memcpy(m.sender, pk, sizeof pk);
            uint8_t id[LEDGER_HASH_SIZE];
            assert_int_equal(ledger_message_sign(&m, sk, &env, id), ST_OK);
            assert_int_equal(ledger_mempool_add(lg, span_of(env.ptr, env.len), id), ST_OK);
            buf_fini(&a);
        }
        if (!c) {
            memcpy(m.sender, pk, sizeof pk);
            uint8_t id[LEDGER_HASH_SIZE];
            env.len = 0;
            assert_int_equal(ledger_message_sign(&m, sk, &env, id), ST_OK);
            assert_int_equal(ledger_mempool_add(lg, span_of(env.ptr, env.len), id), ST_OK);
        }
        env.len = 0;
        time += 1000000000ull;
        scheduler_round_info info;
        assert_int_equal(scheduler_round(s, time, &info), ST_OK);
        switch_tier(s);
        assert_int_equal(scheduler_has_work(s, &work), ST_OK);
        if (!info.produced)
            continue;
        char bh[65], sr[65];
        ledger_hash_hex(info.tip.hash, bh);
        ledger_hash_hex(info.tip.state_root, sr);
        if (print) {
            printf("    {%llu, \"%s\",\n     \"%s\", %llu},\n",
                   (unsigned long long)info.tip.height, bh, sr,
                   (unsigned long long)info.instructions);
            continue;
        }
        assert_true(checked < nexpected);
        const golden *e = &want[checked++];
        assert_int_equal(info.tip.height, e->height);
        assert_string_equal(bh, e->block_hash);
        assert_string_equal(sr, e->state_root);
        assert_int_equal(info.instructions, e->instructions);
    }
    if (!print)
        assert_int_equal(checked, nexpected);
    assert_false(work); /* every tree finished */
    buf_fini(&wasm);
    buf_fini(&arg);
    buf_fini(&env);
    buf_fini(&inner);
    check_tier(s);
    scheduler_close(s);
    ledger_close(lg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Installs, then calls (chain, reject, trap with cleanup, missing callee, self) with a round
 * budget that spreads the call trees over rounds: queues, contexts and callbacks are in the
 * state roots of the blocks between. */
static void test_golden_calls(void **state)
{
    (void)state;
    static const call_step calls[] = {
        {1, 2, 0, "echo"},   {2, 3, 1, "call:1"},  {3, 1, 3, "echo"}, {1, 99, 0, "echo"},
        {0, 0, 0, NULL},     {2, 2, 16, "reject"}, {3, 2, 0, "trap"}, {0, 0, 0, NULL},
        {1, 3, 8, "call:2"}, {0, 0, 0, NULL},      {0, 0, 0, NULL},   {0, 0, 0, NULL},
    };
    golden_calls("tally-golden-calls", calls, BASE_ARRAY_LEN(calls), 0, expected_calls,
                 BASE_ARRAY_LEN(expected_calls));
}

static const golden expected_sliced_calls[] = {
#include "golden_sliced_calls.inc"
};

/* The call trees in slices of 1 instruction (docs/scheduler.md "Deterministic time slicing"):
 * every ingress message, request, reply and reject callback and cleanup pauses at the function
 * entries it reaches, so paused requests, callbacks and a cleanup (with their aux records) are
 * in the state roots of the blocks between. */
static void test_golden_sliced_calls(void **state)
{
    (void)state;
    static const call_step calls[] = {
        {1, 2, 0, "echo"},  {2, 3, 3, "call:1"}, {3, 1, 0, "reject"},
        {1, 99, 0, "echo"}, {2, 2, 16, "trap"},  {3, 2, 1, "echo"},
    };
    golden_calls("tally-golden-sliced-calls", calls, BASE_ARRAY_LEN(calls), 1,
                 expected_sliced_calls, BASE_ARRAY_LEN(expected_sliced_calls));
}

static const golden expected_tasks[] = {
#include "golden_tasks.inc"
};

/* Signs and admits one message of the golden tasks scenario. */
static void tasks_submit(ledger *lg, const uint8_t *pk, const uint8_t *sk, uint64_t nonce,
                         uint8_t kind, uint64_t cid, const char *method, span arg)
{
    ledger_message m = {.nonce = nonce,
                        .canister_id = cid,
                        .kind = kind,
                        .expiry_height = 100,
                        .method = span_of(method, strlen(method)),
                        .arg = arg};
    memcpy(m.sender, pk, LEDGER_PUBLIC_KEY_SIZE);
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_message_sign(&m, sk, &env, id), ST_OK);
    assert_int_equal(ledger_mempool_add(lg, span_of(env.ptr, env.len), id), ST_OK);
    buf_fini(&env);
}

/* Cycles and tasks with the IC's fees (docs/canisters.md): a canister with a global timer
 * (tests/scheduler/cycles.wat) and one with a heartbeat (heartbeat.wat), so every round makes
 * a block; the timer armed for 2.5 s later fires in the third round after; a burn and a mint.
 * Balances, the chain's accounts, the timer and the heartbeat's count are in the roots. */
static void test_golden_tasks(void **state)
{
    (void)state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/tally-golden-XXXXXX");
    assert_non_null(mkdtemp(dir));
    ledger *lg;
    ledger_options opt = {.no_sync = true};
    assert_int_equal(ledger_open(dir, &opt, &lg), ST_OK);
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    static const uint8_t seed[LEDGER_SEED_SIZE] = {44};
    assert_int_equal(ledger_keypair(seed, pk, sk), ST_OK);
    ledger_genesis g;
    ledger_genesis_default(&g);
    strcpy(g.chain_id, "tally-golden-tasks");
    g.genesis_time_ns = 1700000000000000000ull;
    memcpy(g.admin_public_key, pk, sizeof pk);
    assert_int_equal(ledger_genesis_init(lg, &g), ST_OK);
    scheduler *s = open_sched(lg);
    buf cyc = {0}, hb = {0}, arg = {0};
    test_read_file(CYCLES_WASM, &cyc);
    test_read_file(HEARTBEAT_WASM, &hb);
    bool print = getenv("TALLY_VECTORS_PRINT") != NULL;
    uint64_t time = g.genesis_time_ns, nonce = 0;
    size_t checked = 0;
    for (int i = 0; i < 9; i++) {
        uint8_t a[16] = {0};
        arg.len = 0;
        if (i == 0 || i == 1) {
            const buf *w = i == 0 ? &cyc : &hb;
            assert_int_equal(
                scheduler_install_arg(span_of(w->ptr, w->len), span_of(NULL, 0), &arg), ST_OK);
            tasks_submit(lg, pk, sk, ++nonce, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "",
                         span_of(arg.ptr, arg.len));
        } else if (i == 2) {
            le64_store(a, time + 1000000000ull + 2500000000ull);
            tasks_submit(lg, pk, sk, ++nonce, LEDGER_MSG_UPDATE, 1, "arm", span_of(a, 8));
        } else if (i == 6) {
            le128_store(a, 123456789);
            tasks_submit(lg, pk, sk, ++nonce, LEDGER_MSG_UPDATE, 1, "burn", span_of(a, 16));
            scheduler_mint_arg((u128)5000000000000ull, a);
            tasks_submit(lg, pk, sk, ++nonce, LEDGER_MSG_MINT, 2, "", span_of(a, 16));
        }
        time += 1000000000ull;
        scheduler_round_info info;
        assert_int_equal(scheduler_round(s, time, &info), ST_OK);
        switch_tier(s);
        assert_true(info.produced);
        char bh[65], sr[65];
        ledger_hash_hex(info.tip.hash, bh);
        ledger_hash_hex(info.tip.state_root, sr);
        if (print) {
            printf("    {%llu, \"%s\",\n     \"%s\", %llu},\n",
                   (unsigned long long)info.tip.height, bh, sr,
                   (unsigned long long)info.instructions);
            continue;
        }
        assert_true(checked < BASE_ARRAY_LEN(expected_tasks));
        const golden *e = &expected_tasks[checked++];
        assert_int_equal(info.tip.height, e->height);
        assert_string_equal(bh, e->block_hash);
        assert_string_equal(sr, e->state_root);
        assert_int_equal(info.instructions, e->instructions);
    }
    if (!print)
        assert_int_equal(checked, BASE_ARRAY_LEN(expected_tasks));
    scheduler_cycles cy;
    scheduler_cycles_get(s, &cy);
    assert_true(cy.minted == cy.balances + cy.in_flight + cy.burned + cy.fees);
    assert_true(cy.burned == 123456789u);
    buf_fini(&cyc);
    buf_fini(&hb);
    buf_fini(&arg);
    check_tier(s);
    scheduler_close(s);
    ledger_close(lg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static int set_tier(void **state)
{
    tier = *(const int *)*state;
    switched = false;
    return 0;
}

static const int t_interp = SCHEDULER_TIER_INTERP, t_compiled = SCHEDULER_TIER_COMPILED,
                 t_auto = SCHEDULER_TIER_AUTO;

#define IN_TIER(f, t) cmocka_unit_test_prestate_setup_teardown(f, set_tier, NULL, (void *)&(t))

int main(void)
{
    const struct CMUnitTest tests[] = {
        IN_TIER(test_golden_vectors, t_interp),        IN_TIER(test_golden_calls, t_interp),
        IN_TIER(test_golden_sliced_calls, t_interp),   IN_TIER(test_golden_tasks, t_interp),
        IN_TIER(test_golden_vectors, t_compiled),      IN_TIER(test_golden_calls, t_compiled),
        IN_TIER(test_golden_sliced_calls, t_compiled), IN_TIER(test_golden_tasks, t_compiled),
        IN_TIER(test_golden_vectors, t_auto),          IN_TIER(test_golden_calls, t_auto),
        IN_TIER(test_golden_sliced_calls, t_auto),     IN_TIER(test_golden_tasks, t_auto),
    };
    /* printing the tables: once (the interpreter's) */
    size_t n = getenv("TALLY_VECTORS_PRINT") ? 4 : BASE_ARRAY_LEN(tests);
    return _cmocka_run_group_tests("test_vectors", tests, n, NULL, NULL);
}
