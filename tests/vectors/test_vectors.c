/* test_vectors.c - golden vectors: a fixed genesis and a fixed sequence of signed messages must
 * give these exact block hashes, state roots and instruction counts, bit for bit, in every
 * build (CI runs this under gcc -O2 and under clang with sanitizers). Any change to encoding,
 * hashing, metering weights or execution semantics shows up here first.
 *
 * The canisters are tests/scheduler/slow.wat and relay.wat (inter-canister calls, in
 * golden_calls.inc, and sliced in golden_sliced_calls.inc) (wat2wasm output is stable for a
 * wabt version; C
 * canisters are not used because their bytes depend on the clang version). To regenerate after
 * an intended change: run with TALLY_VECTORS_PRINT=1 and paste the printed table.
 *
 * Every chain runs four times: interpreted, compiled (scheduler tier COMPILED: every module in
 * the compiled tier from its first message, docs/engine.md), AUTO (compiled in the background,
 * quick code then cc's, attached whenever ready: the tier may change between rounds) and QUICK
 * (tcc's code from the first message). The tier is a node-local choice, so all four must give
 * the same golden hashes, roots and counts. The compiled runs need a C compiler and tcc:
 * without them they fail. */
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
#include "node_fixture.h"

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

/* A golden chain: the node fixture with admin seed `seed`, chain id `chain_id` and genesis time
 * 1700000000 s (f->time); change f->g before golden_open. */
/* The tier of the current run (SCHEDULER_TIER_*); compiled runs also check that the tier was
 * really used. */
static int tier;

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
    /* AUTO: every module had quick code before cc's (attached together here, where the round
       waits for both; test_native switches a paused run's instance from one to the other) */
    if (tier == SCHEDULER_TIER_AUTO)
        assert_int_equal(scheduler_tier_quick_count(s), compiled);
    else
        assert_int_equal(scheduler_tier_quick_count(s), 0);
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

static void golden_init(node_fx *f, uint8_t seed, const char *chain_id)
{
    node_fx_init(f, seed);
    strcpy(f->g.chain_id, chain_id);
    f->g.genesis_time_ns = f->time;
    f->sopt.tier = tier;
    f->sopt.tier_log = true;
}

/* Checks the tier really used, then closes and removes the node. */
static void golden_end(node_fx *f)
{
    check_tier(f->s);
    node_fx_end(f);
}

/* Signs (expiry height 100, the next nonce) and admits one message. */
static void golden_submit(node_fx *f, uint8_t kind, uint64_t cid, const char *method, span arg)
{
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_sign(f, kind, cid, method, arg, 100, &env, id);
    assert_int_equal(ledger_mempool_add(f->lg, span_of(env.ptr, env.len), id), ST_OK);
    buf_fini(&env);
}

/* The round 1 s after the last. A round that makes a block is printed (TALLY_VECTORS_PRINT) or
 * checked against rows[*checked] (n rows), which it consumes. Returns whether it made one. */
static bool golden_round(node_fx *f, const golden *rows, size_t n, size_t *checked)
{
    scheduler_round_info info = node_fx_round_after(f, 1000000000ull);
    switch_tier(f->s);
    if (!info.produced)
        return false;
    char bh[65], sr[65];
    ledger_hash_hex(info.tip.hash, bh);
    ledger_hash_hex(info.tip.state_root, sr);
    if (getenv("TALLY_VECTORS_PRINT")) {
        printf("    {%llu, \"%s\",\n     \"%s\", %llu},\n", (unsigned long long)info.tip.height,
               bh, sr, (unsigned long long)info.instructions);
        return true;
    }
    assert_true(*checked < n);
    const golden *e = &rows[(*checked)++];
    assert_int_equal(info.tip.height, e->height);
    assert_string_equal(bh, e->block_hash);
    assert_string_equal(sr, e->state_root);
    assert_int_equal(info.instructions, e->instructions);
    return true;
}

/* Every expected row was checked (unless printing). */
static void golden_done(size_t checked, size_t n)
{
    if (!getenv("TALLY_VECTORS_PRINT"))
        assert_int_equal(checked, n);
}

static void test_golden_vectors(void **state)
{
    (void)state;
    node_fx f;
    golden_init(&f, 42, "tally-golden");
    f.g.slice_instructions = 100000;
    node_fx_start(&f);
    buf arg = {0};
    test_read_file(SLOW_WASM, &f.wasm);
    assert_int_equal(
        scheduler_install_arg(span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0), &arg), ST_OK);
    size_t checked = 0;
    for (size_t i = 0; i < BASE_ARRAY_LEN(script); i++) {
        for (uint32_t k = 0; k < script[i].count; k++) {
            if (!strcmp(script[i].method, "<install>"))
                golden_submit(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "",
                              span_of(arg.ptr, arg.len));
            else
                golden_submit(&f, LEDGER_MSG_UPDATE, 1, script[i].method, span_of(NULL, 0));
        }
        assert_true(golden_round(&f, expected, BASE_ARRAY_LEN(expected), &checked));
    }
    golden_done(checked, BASE_ARRAY_LEN(expected));
    buf_fini(&arg);
    golden_end(&f);
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

/* Three relays installed, then the calls of `calls` (one step per round) on chain `chain` with
 * slices of `slice` instructions (0: the default) must give `want`. */
static void golden_calls(const char *chain, const call_step *calls, size_t ncalls, uint64_t slice,
                         const golden *want, size_t nwant)
{
    node_fx f;
    golden_init(&f, 43, chain);
    f.g.round_instruction_limit = 30000;
    if (slice)
        f.g.slice_instructions = slice;
    node_fx_start(&f);
    buf arg = {0}, outer = {0}, inner = {0};
    test_read_file(RELAY_WASM, &f.wasm);
    assert_int_equal(
        scheduler_install_arg(span_of(f.wasm.ptr, f.wasm.len), span_of(NULL, 0), &arg), ST_OK);
    size_t checked = 0, n = ncalls + 3;
    bool work = false;
    /* the script, then (sliced) rounds until every tree has finished */
    for (size_t i = 0; i < n || (slice && work); i++) {
        assert_true(i < 1000);
        static const call_step idle = {0, 0, 0, NULL};
        const call_step *c = i < 3 ? NULL : i < n ? &calls[i - 3] : &idle;
        if (!c) { /* the three installs, one per round */
            golden_submit(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "",
                          span_of(arg.ptr, arg.len));
        } else if (c->from) {
            const char *method = c->method;
            if (!strncmp(method, "call:", 5)) {
                node_relay_arg(&inner, (uint64_t)(method[5] - '0'), 0, "echo", span_of("in", 2));
                method = "call";
            } else {
                inner.len = 0;
                assert_int_equal(buf_put(&inner, "x", 1), ST_OK);
            }
            node_relay_arg(&outer, c->target, c->mode, method, span_of(inner.ptr, inner.len));
            golden_submit(&f, LEDGER_MSG_UPDATE, c->from, "call", span_of(outer.ptr, outer.len));
        } else {
            f.nonce++; /* a round with no message still took a nonce */
        }
        golden_round(&f, want, nwant, &checked);
        assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    }
    golden_done(checked, nwant);
    assert_false(work); /* every tree finished */
    buf_fini(&arg);
    buf_fini(&outer);
    buf_fini(&inner);
    golden_end(&f);
}

/* Installs, then calls (chain, reject, trap with cleanup, missing callee, self, best-effort
 * with cycles) with a round budget that spreads the call trees over rounds: queues, contexts
 * and callbacks are in the state roots of the blocks between. */
static void test_golden_calls(void **state)
{
    (void)state;
    static const call_step calls[] = {
        {1, 2, 0, "echo"},
        {2, 3, 1, "call:1"},
        {3, 1, 3, "echo"},
        {1, 99, 0, "echo"},
        {0, 0, 0, NULL},
        {2, 2, 16, "reject"},
        {3, 2, 0, "trap"},
        {0, 0, 0, NULL},
        {1, 3, 8, "call:2"},
        {0, 0, 0, NULL},
        {0, 0, 0, NULL},
        {0, 0, 0, NULL},
        /* a best-effort call (timeout 0) with 1000 cycles, whose tree spans rounds */
        {2, 1, 32 | 128, "call:3"},
        {0, 0, 0, NULL},
        {0, 0, 0, NULL},
        {0, 0, 0, NULL},
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
 * in the state roots of the blocks between; the last call is best-effort and times out. */
static void test_golden_sliced_calls(void **state)
{
    (void)state;
    static const call_step calls[] =
        {
            {1, 2, 0, "echo"},          {2, 3, 3, "call:1"}, {3, 1, 0, "reject"},
            {1, 99, 0, "echo"},         {2, 2, 16, "trap"},  {3, 2, 1, "echo"},
            {1, 2, 32 | 128, "call:3"}, /* best-effort with cycles: times out while sliced */
        };
    golden_calls("tally-golden-sliced-calls", calls, BASE_ARRAY_LEN(calls), 1,
                 expected_sliced_calls, BASE_ARRAY_LEN(expected_sliced_calls));
}

static const golden expected_tasks[] = {
#include "golden_tasks.inc"
};

/* Cycles and tasks with the IC's fees (docs/canisters.md): a canister with a global timer
 * (tests/scheduler/cycles.wat) and one with a heartbeat (heartbeat.wat), so every round makes
 * a block; the timer armed for 2.5 s later fires in the third round after; a burn and a mint.
 * Balances, the chain's accounts, the timer and the heartbeat's count are in the roots. */
static void test_golden_tasks(void **state)
{
    (void)state;
    node_fx f;
    golden_init(&f, 44, "tally-golden-tasks");
    node_fx_start(&f);
    buf cyc = {0}, hb = {0}, arg = {0};
    test_read_file(CYCLES_WASM, &cyc);
    test_read_file(HEARTBEAT_WASM, &hb);
    size_t checked = 0;
    for (int i = 0; i < 9; i++) {
        uint8_t a[16] = {0};
        arg.len = 0;
        if (i == 0 || i == 1) {
            const buf *w = i == 0 ? &cyc : &hb;
            assert_int_equal(
                scheduler_install_arg(span_of(w->ptr, w->len), span_of(NULL, 0), &arg), ST_OK);
            golden_submit(&f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "",
                          span_of(arg.ptr, arg.len));
        } else if (i == 2) {
            le64_store(a, f.time + 1000000000ull + 2500000000ull);
            golden_submit(&f, LEDGER_MSG_UPDATE, 1, "arm", span_of(a, 8));
        } else if (i == 6) {
            le128_store(a, 123456789);
            golden_submit(&f, LEDGER_MSG_UPDATE, 1, "burn", span_of(a, 16));
            scheduler_mint_arg((u128)5000000000000ull, a);
            golden_submit(&f, LEDGER_MSG_MINT, 2, "", span_of(a, 16));
        }
        assert_true(golden_round(&f, expected_tasks, BASE_ARRAY_LEN(expected_tasks), &checked));
    }
    golden_done(checked, BASE_ARRAY_LEN(expected_tasks));
    scheduler_cycles cy;
    scheduler_cycles_get(f.s, &cy);
    assert_true(cy.minted == cy.balances + cy.in_flight + cy.burned + cy.fees);
    assert_true(cy.burned == 123456789u);
    buf_fini(&cyc);
    buf_fini(&hb);
    buf_fini(&arg);
    golden_end(&f);
}

static int set_tier(void **state)
{
    tier = *(const int *)*state;
    switched = false;
    return 0;
}

static const int t_interp = SCHEDULER_TIER_INTERP, t_compiled = SCHEDULER_TIER_COMPILED,
                 t_auto = SCHEDULER_TIER_AUTO, t_quick = SCHEDULER_TIER_QUICK;

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
        IN_TIER(test_golden_vectors, t_quick),         IN_TIER(test_golden_calls, t_quick),
        IN_TIER(test_golden_sliced_calls, t_quick),    IN_TIER(test_golden_tasks, t_quick),
    };
    /* printing the tables: once (the interpreter's) */
    size_t n = getenv("TALLY_VECTORS_PRINT") ? 4 : BASE_ARRAY_LEN(tests);
    return _cmocka_run_group_tests("test_vectors", tests, n, NULL, NULL);
}
