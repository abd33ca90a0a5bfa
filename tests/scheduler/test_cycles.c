/* test_cycles.c - cycles, fees, freezing, mint, heartbeat and global timers through real rounds
 * (docs/canisters.md "Cycles", "Timers and heartbeat").
 *
 * Canisters: cycles.wat (every cycles/timer ic0 function) and heartbeat.wat (this folder). The
 * chains use small round fee values so that every balance can be computed exactly; after every
 * round the accounts must balance: minted == balances + in flight + burned + fees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "candid.h"
#include "scheduler.h"
#include "test_util.h"
#include "node_fixture.h"
#include "candid_util.h"

typedef node_fx fx;

enum { LIMIT = 1000000 }; /* instructions per message: the prepayment is 1000 + LIMIT */

/* A chain with round fees: 1000 per execution + 1 per instruction, ingress 100 + 1 per byte,
 * creation 1,000,000, no storage fee, 10^9 provisional cycles. */
static void fx_cycles(fx *f)
{
    node_fx_init(f, 23);
    f->g.message_instruction_limit = LIMIT;
    f->g.slice_instructions = LIMIT;
    f->g.fee_update_message_execution = 1000;
    f->g.fee_ten_update_instructions_execution = 10;
    f->g.fee_ingress_message_reception = 100;
    f->g.fee_ingress_byte_reception = 1;
    f->g.fee_canister_creation = 1000000;
    f->g.fee_gib_storage_per_second = 0;
    f->g.provisional_cycles = 1000000000;
    f->g.freezing_threshold = 0;
}

/* The accounts balance, always. */
static void conserved(fx *f)
{
    scheduler_cycles cy;
    scheduler_cycles_get(f->s, &cy);
    assert_true(cy.minted == cy.balances + cy.in_flight + cy.burned + cy.fees);
}

static scheduler_round_info round_after(fx *f, uint64_t ns)
{
    scheduler_round_info info = node_fx_round_after(f, ns);
    conserved(f);
    return info;
}

static u128 balance(fx *f, uint64_t cid)
{
    u128 b;
    assert_int_equal(scheduler_canister_cycles(f->s, cid, &b), ST_OK);
    return b;
}

static uint64_t deploy_file(fx *f, const char *path, uint64_t *instructions)
{
    uint64_t cid = node_fx_deploy_file(f, path);
    conserved(f);
    ledger_reader *rd;
    ledger_block b;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    assert_int_equal(ledger_block_get(rd, node_fx_tip(f).height, &b), ST_OK);
    ledger_receipt rc;
    assert_int_equal(ledger_receipt_get(rd, b.message_ids, &rc), ST_OK);
    *instructions = rc.instructions;
    ledger_read_end(rd);
    return cid;
}

typedef struct outcome {
    ledger_receipt rc;
    buf reply;
    size_t env_len; /* of the envelope: the ingress fee's bytes */
} outcome;

/* Submits one message of `kind` from the admin, runs one round (1 ms later), returns its
 * receipt (out->reply owned by the caller). */
static void send(fx *f, uint8_t kind, uint64_t cid, const char *method, span arg, outcome *out)
{
    buf env = {0};
    uint8_t id[LEDGER_HASH_SIZE], id2[LEDGER_HASH_SIZE];
    node_fx_sign(f, kind, cid, method, arg, 1000000, &env, id);
    assert_int_equal(ledger_mempool_add(f->lg, span_of(env.ptr, env.len), id2), ST_OK);
    out->env_len = env.len;
    buf_fini(&env);
    scheduler_round_info info = round_after(f, 1000000);
    assert_true(info.produced);
    assert_true(node_fx_receipt(f, id, &out->rc, NULL));
    out->reply = (buf){0};
    assert_int_equal(buf_put(&out->reply, out->rc.reply.ptr, out->rc.reply.len), ST_OK);
}

static u128 reply128(const outcome *o)
{
    assert_int_equal(o->reply.len, 16);
    return le128_load(o->reply.ptr);
}

/* The 16-byte argument of burn and mint (in out), as a span. */
static span amount_arg(u128 v, uint8_t out[16])
{
    le128_store(out, v);
    return span_of(out, 16);
}

/* Install: provisional minus creation minus the install's execution. A call: the canister sees
 * its balance less the ingress fee and the prepayment; afterwards it has paid the ingress fee
 * and the execution of exactly the instructions it used. */
static void test_fees_exact(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    u128 b0 = balance(&f, cid);
    assert_true(b0 == 1000000000u - 1000000u - (1000u + install));
    outcome o;
    send(&f, LEDGER_MSG_UPDATE, cid, "balance", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    u128 ingress = 100u + o.env_len;
    assert_true(reply128(&o) == b0 - ingress - (1000u + LIMIT));
    u128 b1 = balance(&f, cid);
    assert_true(b1 == b0 - ingress - (1000u + o.rc.instructions));
    buf_fini(&o.reply);
    /* the chain's accounts: one install, one call */
    scheduler_cycles cy;
    scheduler_cycles_get(f.s, &cy);
    assert_true(cy.minted == 1000000000u && cy.burned == 0);
    assert_true(cy.fees == 1000000u + 1000u + install + ingress + 1000u + o.rc.instructions);
    /* a trapped message pays too */
    send(&f, LEDGER_MSG_UPDATE, cid, "burn_oob", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_HOST_OOB);
    assert_true(balance(&f, cid) == b1 - (100u + o.env_len) - (1000u + o.rc.instructions));
    buf_fini(&o.reply);
    node_fx_end(&f);
}

/* Freezing: with a storage fee, a canister must keep its memory's idle fees for the freezing
 * threshold; below that (plus the ingress fee and the prepayment) an update is refused with the
 * IC's text and costs nothing but storage. A mint lifts it. The liquid balance excludes the
 * reserve. */
static void test_freezing(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    f.g.fee_gib_storage_per_second = 1u << 30; /* 1 cycle per byte-second */
    f.g.freezing_threshold = 10;               /* 10 s of one 64 KiB page: 655,360 */
    f.g.fee_canister_creation = 0;
    f.g.provisional_cycles = 1500000;
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    u128 b0 = balance(&f, cid);
    assert_true(b0 == 1500000u - (1000u + install));
    outcome o;
    send(&f, LEDGER_MSG_UPDATE, cid, "balance", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_CANISTER_OUT_OF_CYCLES);
    u128 storage = 65536 / 1000; /* 1 ms of one page: floor(65.536) */
    u128 b1 = balance(&f, cid);
    assert_true(b1 == b0 - storage);
    u128 need = 655360u + 100u + o.env_len + 1000u + LIMIT;
    char expect[200], id[LEDGER_CANISTER_TEXT_SIZE], more[U128_TEXT_SIZE];
    ledger_canister_id_text(cid, id);
    u128_format(need - b1, more);
    snprintf(expect, sizeof expect,
             "Canister %s is out of cycles: please top up the canister "
             "with at least %s additional cycles",
             id, more);
    assert_int_equal(o.reply.len, strlen(expect));
    assert_memory_equal(o.reply.ptr, expect, strlen(expect));
    buf_fini(&o.reply);
    uint8_t arg[16];
    send(&f, LEDGER_MSG_MINT, cid, "", amount_arg(200000, arg), &o);
    assert_int_equal(o.rc.status, ST_OK);
    u128 b2 = balance(&f, cid);
    assert_true(reply128(&o) == b2 && b2 == b1 - storage + 200000u);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, cid, "liquid", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_true(reply128(&o) == b2 - storage - (100u + o.env_len) - (1000u + LIMIT) - 655360u);
    buf_fini(&o.reply);
    node_fx_end(&f);
}

/* Mint: admin only, to an existing canister, the reply is the new balance, the total cannot
 * pass 2^128-1. */
static void test_mint(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    u128 b0 = balance(&f, cid);
    uint8_t arg[16];
    outcome o;
    send(&f, LEDGER_MSG_MINT, cid + 1, "", amount_arg(5, arg), &o);
    assert_int_equal(o.rc.status, ST_UNKNOWN_CANISTER);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_MINT, cid, "", span_of(arg, 15), &o);
    assert_int_equal(o.rc.status, ST_BAD_ARGUMENT);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_MINT, cid, "", amount_arg(U128_MAX, arg), &o);
    assert_int_equal(o.rc.status, ST_CYCLES_OVERFLOW);
    buf_fini(&o.reply);
    assert_true(balance(&f, cid) == b0);
    /* another key is not the admin */
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    const uint8_t seed[LEDGER_SEED_SIZE] = {99};
    assert_int_equal(ledger_keypair(seed, pk, sk), ST_OK);
    memcpy(f.pk, pk, sizeof pk);
    memcpy(f.sk, sk, sizeof sk);
    send(&f, LEDGER_MSG_MINT, cid, "", amount_arg(5, arg), &o);
    assert_int_equal(o.rc.status, ST_NOT_AUTHORIZED);
    buf_fini(&o.reply);
    assert_true(balance(&f, cid) == b0);
    node_fx_end(&f);
}

/* cycles_burn128 burns at most the liquid balance and tells how much; a trap undoes it; a bad
 * destination traps before anything burns. */
static void test_burn(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    uint8_t arg[16];
    outcome o;
    u128 b0 = balance(&f, cid);
    send(&f, LEDGER_MSG_UPDATE, cid, "burn", amount_arg(12345, arg), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_true(reply128(&o) == 12345u);
    u128 b1 = balance(&f, cid);
    assert_true(b1 == b0 - 12345u - (100u + o.env_len) - (1000u + o.rc.instructions));
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, cid, "burn_trap", span_of(arg, 16), &o);
    assert_int_equal(o.rc.status, ST_CANISTER_CALLED_TRAP);
    assert_true(balance(&f, cid) == b1 - (100u + o.env_len) - (1000u + o.rc.instructions));
    buf_fini(&o.reply);
    b1 = balance(&f, cid);
    /* more than there is: all the liquid balance (the balance less the prepayment) */
    send(&f, LEDGER_MSG_UPDATE, cid, "burn", amount_arg(U128_MAX, arg), &o);
    assert_int_equal(o.rc.status, ST_OK);
    u128 ingress = 100u + o.env_len;
    assert_true(reply128(&o) == b1 - ingress - (1000u + LIMIT));
    assert_true(balance(&f, cid) == LIMIT - o.rc.instructions);
    buf_fini(&o.reply);
    scheduler_cycles cy;
    scheduler_cycles_get(f.s, &cy);
    assert_true(cy.burned == 12345u + (b1 - ingress - (1000u + LIMIT)));
    /* now the canister cannot prepay a message */
    send(&f, LEDGER_MSG_UPDATE, cid, "balance", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_CANISTER_OUT_OF_CYCLES);
    buf_fini(&o.reply);
    node_fx_end(&f);
}

/* A request to a canister that cannot keep its freezing reserve and prepay the request's
 * execution is not run: the caller's reject callback sees SYS_TRANSIENT and the IC's text, the
 * cycles it attached come back (none in flight, none burned), the callee's balance does not
 * move. Once minted to, the callee runs the request. */
static void test_request_out_of_cycles(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM);
    uint64_t b = deploy_file(&f, CYCLES_WASM, &install);
    uint8_t arg[16];
    outcome o;
    send(&f, LEDGER_MSG_UPDATE, b, "burn", amount_arg(U128_MAX, arg), &o);
    assert_int_equal(o.rc.status, ST_OK);
    buf_fini(&o.reply);
    u128 b0 = balance(&f, b);
    assert_true(b0 < 1000u + LIMIT); /* less than the prepayment */
    scheduler_cycles cy0, cy1;
    scheduler_cycles_get(f.s, &cy0);
    buf call = {0};
    node_relay_arg(&call, b, 128, "balance", span_of(NULL, 0)); /* 128: attach 1000 cycles */
    send(&f, LEDGER_MSG_UPDATE, a, "call", span_of(call.ptr, call.len), &o);
    assert_int_equal(o.rc.status, ST_OK);
    char expect[200], id[LEDGER_CANISTER_TEXT_SIZE], more[U128_TEXT_SIZE];
    ledger_canister_id_text(b, id);
    u128_format(1000u + LIMIT - b0, more);
    snprintf(expect, sizeof expect,
             "JXCanister %s is out of cycles: please top up the canister "
             "with at least %s additional cycles",
             id, more);
    expect[1] = 2; /* SYS_TRANSIENT */
    assert_int_equal(o.reply.len, strlen(expect));
    assert_memory_equal(o.reply.ptr, expect, strlen(expect));
    buf_fini(&o.reply);
    assert_true(balance(&f, b) == b0);
    scheduler_cycles_get(f.s, &cy1);
    assert_true(cy1.in_flight == 0 && cy1.burned == cy0.burned);
    /* topped up, the callee runs it and replies its balance, the 1000 cycles not accepted */
    send(&f, LEDGER_MSG_MINT, b, "", amount_arg(2000000, arg), &o);
    assert_int_equal(o.rc.status, ST_OK);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, a, "call", span_of(call.ptr, call.len), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_int_equal(o.reply.len, 1 + 16);
    assert_int_equal(o.reply.ptr[0], 'R');
    assert_true(le128_load(o.reply.ptr + 1) == b0 + 2000000u - (1000u + LIMIT));
    buf_fini(&o.reply);
    buf_fini(&call);
    node_fx_end(&f);
}

/* The ingress forms: nothing available, nothing to accept; the 64-bit balance traps past 2^64;
 * a query may read the balance but not accept. */
static void test_ic0_forms(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    outcome o;
    send(&f, LEDGER_MSG_UPDATE, cid, "avail", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    static const uint8_t zero[24];
    assert_int_equal(o.reply.len, 24);
    assert_memory_equal(o.reply.ptr, zero, 24);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, cid, "accept", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_int_equal(o.reply.len, 24);
    assert_memory_equal(o.reply.ptr, zero, 24);
    buf_fini(&o.reply);
    u128 b = balance(&f, cid);
    send(&f, LEDGER_MSG_UPDATE, cid, "balance64", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_int_equal(o.reply.len, 8);
    assert_true(le64_load(o.reply.ptr) == b - (100u + o.env_len) - (1000u + LIMIT));
    buf_fini(&o.reply);
    uint8_t arg[16];
    send(&f, LEDGER_MSG_MINT, cid, "", amount_arg((u128)1 << 64, arg), &o);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, cid, "balance64", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_CONTRACT_VIOLATION);
    buf_fini(&o.reply);
    uint8_t b16[16];
    node_fx_query_bytes(&f, cid, "qbalance", sizeof b16, b16);
    assert_true(le128_load(b16) == balance(&f, cid));
    host_result res;
    assert_int_equal(
        scheduler_query(f.s, cid, span_of("qaccept", 7), span_of(NULL, 0), span_of(NULL, 0), &res),
        ST_OK);
    assert_int_equal(res.st, ST_CONTRACT_VIOLATION);
    host_result_fini(&res);
    node_fx_end(&f);
}

/* The timer's runs and the time of the last one (the `timers` query). */
static void timers(fx *f, uint64_t cid, uint64_t *runs, uint64_t *at)
{
    uint8_t b[16];
    node_fx_query_bytes(f, cid, "timers", sizeof b, b);
    *runs = le64_load(b);
    *at = le64_load(b + 8);
}

static uint64_t arm(fx *f, uint64_t cid, uint64_t when)
{
    uint8_t arg[8];
    le64_store(arg, when);
    outcome o;
    send(f, LEDGER_MSG_UPDATE, cid, "arm", span_of(arg, 8), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_int_equal(o.reply.len, 8);
    uint64_t prev = le64_load(o.reply.ptr);
    buf_fini(&o.reply);
    return prev;
}

/* A timer fires in the first block whose time reaches it, once, and sees that block's time;
 * rounds before make no block; global_timer_set returns the previous timer and 0 disarms; an
 * armed timer survives a restart; replay reproduces every block. */
static void test_global_timer(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    uint64_t due = f.time + 1000000 + 3000000000ull; /* 3 s after the arming block */
    assert_int_equal(arm(&f, cid, due), 0);
    uint64_t runs, at;
    for (int i = 0; i < 2; i++) {
        scheduler_round_info info = round_after(&f, 1000000000ull);
        assert_false(info.produced); /* not due, nothing else to do */
    }
    u128 before = balance(&f, cid);
    f.time = due - 1;
    scheduler_round_info info = round_after(&f, 0);
    assert_false(info.produced);
    info = round_after(&f, 1);
    assert_true(info.produced);
    assert_int_equal(info.tasks, 1);
    assert_int_equal(info.messages, 0);
    timers(&f, cid, &runs, &at);
    assert_int_equal(runs, 1);
    assert_int_equal(at, due);
    assert_true(balance(&f, cid) == before - (1000u + info.instructions)); /* charged */
    info = round_after(&f, 1000000000ull);
    assert_false(info.produced); /* deactivated once it ran */
    /* the previous value, and 0 disarms */
    uint64_t later = f.time + 5000000000ull;
    assert_int_equal(arm(&f, cid, later), 0);
    uint64_t prev = arm(&f, cid, 0);
    assert_int_equal(prev, later);
    info = round_after(&f, 10000000000ull);
    assert_false(info.produced);
    /* armed across a restart (the node stops, kill -9 or not: the timer is in the record) */
    uint64_t due2 = f.time + 1000000 + 2000000000ull;
    assert_int_equal(arm(&f, cid, due2), 0);
    node_fx_close(&f);
    node_fx_open(&f);
    f.time = due2;
    info = round_after(&f, 0);
    assert_true(info.produced);
    assert_int_equal(info.tasks, 1);
    timers(&f, cid, &runs, &at);
    assert_int_equal(runs, 2);
    assert_int_equal(at, due2);
    /* a time in the past fires in the next round */
    arm(&f, cid, 1);
    info = round_after(&f, 1);
    assert_int_equal(info.tasks, 1);
    timers(&f, cid, &runs, &at);
    assert_int_equal(runs, 3);
    assert_int_equal(at, f.time);
    ledger_tip end = node_fx_tip(&f);
    node_fx_close(&f);
    char work[96], cmd[128];
    snprintf(work, sizeof work, "%s-replay", f.dir);
    scheduler_divergence div;
    ledger_tip last;
    assert_int_equal(scheduler_replay(f.dir, work, NULL, &div, &last), ST_OK);
    assert_int_equal(div.height, 0);
    assert_memory_equal(last.state_root, end.state_root, LEDGER_HASH_SIZE);
    snprintf(cmd, sizeof cmd, "rm -rf %s", work);
    assert_int_equal(system(cmd), 0);
    node_fx_open(&f);
    node_fx_end(&f);
}

/* A canister exporting canister_heartbeat runs it once in every round, which makes a block even
 * without messages, at the block's time, paying for it; a frozen one does not (and makes no
 * block). */
static void test_heartbeat(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, HEARTBEAT_WASM, &install);
    u128 b0 = balance(&f, cid);
    uint64_t spent = 0;
    for (int i = 0; i < 5; i++) {
        scheduler_round_info info = round_after(&f, 500000000ull);
        assert_true(info.produced);
        assert_int_equal(info.tasks, 1);
        spent += 1000u + info.instructions;
    }
    uint8_t beats[16];
    node_fx_query_bytes(&f, cid, "beats", sizeof beats, beats);
    assert_int_equal(le64_load(beats), 5);
    assert_int_equal(le64_load(beats + 8), f.time);
    assert_true(balance(&f, cid) == b0 - spent);
    node_fx_end(&f);

    /* just enough for the install, not for a heartbeat's prepayment */
    fx_cycles(&f);
    f.g.provisional_cycles = 1000000u + 1000u + install + 10u;
    node_fx_start(&f);
    cid = deploy_file(&f, HEARTBEAT_WASM, &install);
    assert_true(balance(&f, cid) == 10u);
    scheduler_round_info info = round_after(&f, 500000000ull);
    assert_false(info.produced);
    node_fx_end(&f);
}

#ifdef TICKER_WASM
/* The C example tests/canisters/ticker.c: its heartbeat counts every round, its periodic timer
 * ticks once per period of block time (re-armed by each run), stop cancels it; its balance
 * query and burn agree with the scheduler's books. */
static void test_ticker_example(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, TICKER_WASM, &install);
    buf arg = {0};
    candid_args(&arg, "(1_000_000_000 : nat64)"); /* every second */
    outcome o;
    send(&f, LEDGER_MSG_UPDATE, cid, "start", span_of(arg.ptr, arg.len), &o);
    assert_int_equal(o.rc.status, ST_OK);
    assert_true(candid_is(span_of(o.reply.ptr, o.reply.len), "()"));
    buf_fini(&o.reply);
    uint64_t started = f.time, rounds = 1; /* the start block ran a heartbeat too */
    for (int i = 0; i < 10; i++) {         /* 5 s in half seconds: a tick every other round */
        scheduler_round_info info = round_after(&f, 500000000ull);
        assert_true(info.produced);
        assert_int_equal(info.tasks, i % 2 ? 2u : 1u);
        rounds++;
    }
    host_result res;
    char want[160];
    assert_int_equal(
        scheduler_query(f.s, cid, span_of("stats", 5), span_of(NULL, 0), span_of(NULL, 0), &res),
        ST_OK);
    assert_int_equal(res.st, ST_OK);
    snprintf(want, sizeof want,
             "(record { beats = %" PRIu64 " : nat; ticks = 5 : nat; last_tick = %" PRIu64
             " : nat64 })",
             rounds, started + (uint64_t)5000000000ull);
    assert_true(candid_is(span_of(res.bytes.ptr, res.bytes.len), want));
    host_result_fini(&res);
    assert_int_equal(
        scheduler_query(f.s, cid, span_of("balance", 7), span_of(NULL, 0), span_of(NULL, 0), &res),
        ST_OK);
    char digits[U128_TEXT_SIZE];
    u128_format(balance(&f, cid), digits);
    snprintf(want, sizeof want, "(%s : nat)", digits);
    assert_true(candid_is(span_of(res.bytes.ptr, res.bytes.len), want));
    host_result_fini(&res);
    candid_args(&arg, "(777 : nat)");
    send(&f, LEDGER_MSG_UPDATE, cid, "burn", span_of(arg.ptr, arg.len), &o);
    assert_true(candid_is(span_of(o.reply.ptr, o.reply.len), "(777 : nat)"));
    buf_fini(&o.reply);
    buf_fini(&arg);
    send(&f, LEDGER_MSG_UPDATE, cid, "stop", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    snprintf(want, sizeof want, "(%" PRIu64 " : nat64)",
             started + (uint64_t)6000000000u); /* next tick */
    assert_true(candid_is(span_of(o.reply.ptr, o.reply.len), want));
    buf_fini(&o.reply);
    scheduler_cycles cy;
    scheduler_cycles_get(f.s, &cy);
    assert_true(cy.burned == 777u);
    node_fx_end(&f);
}
#endif

/* ---- settings (aaaaa-aa update_settings, create_canister, canister_status) ------------------ */

/* The management canister's types as the IC interface specification's ic.did has them. */
static const char IC_DID[] =
    "type log_visibility = variant { controllers; public; allowed_viewers : vec principal };"
    "type environment_variable = record { name : text; value : text };"
    "type canister_settings = record { controllers : opt vec principal;"
    "  compute_allocation : opt nat; memory_allocation : opt nat; freezing_threshold : opt nat;"
    "  reserved_cycles_limit : opt nat; log_visibility : opt log_visibility;"
    "  wasm_memory_limit : opt nat; wasm_memory_threshold : opt nat;"
    "  environment_variables : opt vec environment_variable };"
    "type definite_canister_settings = record { controllers : vec principal;"
    "  compute_allocation : nat; memory_allocation : nat; freezing_threshold : nat;"
    "  reserved_cycles_limit : nat; log_visibility : log_visibility; wasm_memory_limit : nat;"
    "  wasm_memory_threshold : nat; environment_variables : vec environment_variable };"
    "type update_settings_args = record { canister_id : principal;"
    "  settings : canister_settings; sender_canister_version : opt nat64 };"
    "type create_canister_args = record { settings : opt canister_settings;"
    "  sender_canister_version : opt nat64 };"
    "type canister_status_result = record {"
    "  status : variant { running; stopping; stopped }; ready_for_migration : bool;"
    "  version : nat64; settings : definite_canister_settings; module_hash : opt blob;"
    "  memory_size : nat; memory_metrics : record { wasm_memory_size : nat;"
    "    stable_memory_size : nat; global_memory_size : nat; wasm_binary_size : nat;"
    "    custom_sections_size : nat; canister_history_size : nat; wasm_chunk_store_size : nat;"
    "    snapshots_size : nat };"
    "  cycles : nat; reserved_cycles : nat; idle_cycles_burned_per_day : nat;"
    "  query_stats : record { num_calls_total : nat; num_instructions_total : nat;"
    "    request_payload_bytes_total : nat; response_payload_bytes_total : nat } };"
    /* an older client's view (fewer fields): Candid subtyping must accept the reply too */
    "type old_status = record { status : variant { running; stopping; stopped };"
    "  settings : record { controllers : vec principal; compute_allocation : nat;"
    "  memory_allocation : nat; freezing_threshold : nat }; module_hash : opt blob;"
    "  memory_size : nat; cycles : nat; idle_cycles_burned_per_day : nat };";

static candid_env *ic_env(void)
{
    candid_env *env = candid_env_new();
    assert_non_null(env);
    candid_error err;
    assert_int_equal(candid_did_parse(env, span_of(IC_DID, strlen(IC_DID)), &err), ST_OK);
    return env;
}

/* The textual principal of canister cid. */
static void principal_text(uint64_t cid, char *out, size_t n)
{
    uint8_t p[10];
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(cid >> (56 - 8 * i));
    p[8] = p[9] = 1;
    buf t = {0};
    assert_int_equal(candid_principal_print(p, 10, &t), ST_OK);
    snprintf(out, n, "%.*s", (int)t.len, (const char *)t.ptr);
    buf_fini(&t);
}

/* The argument type list `type` (names of IC_DID) in env: its first type. */
static candid_type ic_type(candid_env *env, const char *type)
{
    candid_type t[1];
    size_t n;
    candid_error err;
    assert_int_equal(candid_types_parse(env, span_of(type, strlen(type)), t, 1, &n, &err), ST_OK);
    return t[0];
}

/* Candid text `args` at type `type` (of IC_DID), sent by the admin to aaaaa-aa.method. */
static void mgmt_send(fx *f, const char *method, const char *type, const char *args, outcome *o)
{
    candid_env *env = ic_env();
    candid_type t[1] = {ic_type(env, type)};
    candid_error err;
    candid_arena *a = candid_arena_new();
    candid_value *v;
    assert_int_equal(candid_text_parse(a, env, t, 1, span_of(args, strlen(args)), &v, &err),
                     ST_OK);
    buf msg = {0};
    assert_int_equal(candid_encode(env, t, 1, v, &msg), ST_OK);
    send(f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, method, span_of(msg.ptr, msg.len), o);
    buf_fini(&msg);
    candid_arena_free(a);
    candid_env_free(env);
}

/* canister_status of cid, decoded at `type` and printed as Candid text into *text. */
static void status_text(fx *f, uint64_t cid, const char *type, buf *text)
{
    char p[64], args[128];
    principal_text(cid, p, sizeof p);
    snprintf(args, sizeof args, "(record { canister_id = principal \"%s\" })", p);
    outcome o;
    mgmt_send(f, "canister_status", "(record { canister_id : principal })", args, &o);
    assert_int_equal(o.rc.status, ST_OK);
    candid_env *env = ic_env();
    candid_type t[1] = {ic_type(env, type)};
    candid_error err;
    candid_arena *a = candid_arena_new();
    candid_value *v;
    candid_limits lim;
    candid_limits_default(&lim);
    status st = candid_decode(a, env, t, 1, span_of(o.reply.ptr, o.reply.len), &lim, &v, &err);
    if (st != ST_OK)
        fail_msg("canister_status reply: %s at %zu", err.what, err.offset);
    text->len = 0;
    assert_int_equal(candid_text_print(env, t, 1, v, text), ST_OK);
    assert_int_equal(buf_put(text, "", 1), ST_OK); /* a C string */
    candid_arena_free(a);
    candid_env_free(env);
    buf_fini(&o.reply);
}

static void expect_in(const buf *text, const char *what)
{
    if (!strstr((const char *)text->ptr, what))
        fail_msg("'%s' not in %s", what, (const char *)text->ptr);
}

static void update_settings(fx *f, uint64_t cid, const char *settings, outcome *o)
{
    char p[64], args[512];
    principal_text(cid, p, sizeof p);
    snprintf(args, sizeof args, "(record { canister_id = principal \"%s\"; settings = %s })", p,
             settings);
    mgmt_send(f, "update_settings", "(update_settings_args)", args, o);
}

/* update_settings and create_canister store the freezing threshold (which the freezing check
 * then uses), the memory allocation (storage and the reserve are charged for max(allocation,
 * memory used)) and the compute allocation; out-of-range values are rejected and change
 * nothing; canister_status reports them with the controllers, balance, memory, module hash and
 * status in the IC's record, which an older, smaller record type also decodes; all of it
 * survives a restart. */
static void test_settings(void **state)
{
    (void)state;
    fx f;
    fx_cycles(&f);
    f.g.fee_gib_storage_per_second = 1u << 30; /* 1 cycle per byte-second */
    f.g.fee_canister_creation = 0;
    node_fx_start(&f);
    uint64_t install = 0;
    uint64_t cid = deploy_file(&f, CYCLES_WASM, &install);
    buf text = {0};
    char want[160];
    status_text(&f, cid, "(canister_status_result)", &text);
    expect_in(&text, "status = variant { running }");
    expect_in(&text, "freezing_threshold = 0 : nat");
    expect_in(&text, "memory_allocation = 0 : nat");
    expect_in(&text, "compute_allocation = 0 : nat");
    expect_in(&text, "memory_size = 65536 : nat");
    expect_in(&text, "idle_cycles_burned_per_day = 5662310400 : nat"); /* 64 KiB x 1 day */
    expect_in(&text, "reserved_cycles_limit = 5000000000000 : nat");
    expect_in(&text, "log_visibility = variant { controllers }");
    expect_in(&text, "controllers = vec { principal \""); /* the admin, who deployed it */
    expect_in(&text, "module_hash = opt blob");
    u128 b = balance(&f, cid);
    char num[U128_TEXT_SIZE];
    u128_format(b, num);
    snprintf(want, sizeof want, "cycles = %s : nat", num);
    expect_in(&text, want);
    status_text(&f, cid, "(old_status)", &text); /* an older client's record type */
    expect_in(&text, "freezing_threshold = 0 : nat");

    /* a threshold whose reserve (64 KiB x 20,000 s) exceeds the balance freezes the canister */
    outcome o;
    update_settings(&f, cid, "record { freezing_threshold = opt 20_000 }", &o);
    assert_int_equal(o.rc.status, ST_OK);
    buf_fini(&o.reply);
    u128 b1 = balance(&f, cid);
    send(&f, LEDGER_MSG_UPDATE, cid, "balance", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_CANISTER_OUT_OF_CYCLES);
    buf_fini(&o.reply);
    u128 b2 = balance(&f, cid);
    assert_true(b2 < b1 && b1 - b2 < 1000); /* storage only: it did not run */
    status_text(&f, cid, "(canister_status_result)", &text);
    expect_in(&text, "freezing_threshold = 20000 : nat");

    /* a 1 MiB memory allocation, 10 s threshold, 50 % compute: it runs again, and storage is
     * charged for the 1 MiB */
    update_settings(&f, cid,
                    "record { freezing_threshold = opt 10; memory_allocation = opt 1_048_576;"
                    " compute_allocation = opt 50 }",
                    &o);
    assert_int_equal(o.rc.status, ST_OK);
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, cid, "balance", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    buf_fini(&o.reply);
    u128 b3 = balance(&f, cid);
    f.time += 1000000000u; /* 1 s without a block, then a message 1 ms later */
    send(&f, LEDGER_MSG_UPDATE, cid, "balance", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    u128 storage = (u128)1048576u * 1001000000u / 1000000000u; /* 1 MiB x 1.001 s */
    u128 paid = storage + (100u + o.env_len) + (1000u + o.rc.instructions);
    assert_true(balance(&f, cid) == b3 - paid);
    /* inside, the liquid balance excludes the 1 MiB x 10 s reserve */
    buf_fini(&o.reply);
    send(&f, LEDGER_MSG_UPDATE, cid, "liquid", span_of(NULL, 0), &o);
    assert_int_equal(o.rc.status, ST_OK);
    u128 b4 = balance(&f, cid) + (100u + o.env_len) + (1000u + o.rc.instructions);
    assert_true(reply128(&o) == b4 - (100u + o.env_len) - (1000u + LIMIT) - 10485760u);
    buf_fini(&o.reply);
    status_text(&f, cid, "(canister_status_result)", &text);
    expect_in(&text, "freezing_threshold = 10 : nat");
    expect_in(&text, "memory_allocation = 1048576 : nat");
    expect_in(&text, "compute_allocation = 50 : nat");
    expect_in(&text, "idle_cycles_burned_per_day = 90596966400 : nat"); /* 1 MiB x 1 day */

    /* out of range: rejected, nothing changed */
    update_settings(&f, cid, "record { compute_allocation = opt 101; freezing_threshold = opt 7 }",
                    &o);
    assert_int_equal(o.rc.status, ST_BAD_ARGUMENT);
    assert_non_null(memmem(o.reply.ptr, o.reply.len, "compute_allocation", 18));
    buf_fini(&o.reply);
    update_settings(&f, cid, "record { memory_allocation = opt 281_474_976_710_657 }", &o);
    assert_int_equal(o.rc.status, ST_BAD_ARGUMENT); /* past 2^48 */
    buf_fini(&o.reply);
    node_fx_close(&f); /* the settings are in the canister's record */
    node_fx_open(&f);
    status_text(&f, cid, "(canister_status_result)", &text);
    expect_in(&text, "freezing_threshold = 10 : nat");
    expect_in(&text, "memory_allocation = 1048576 : nat");
    expect_in(&text, "compute_allocation = 50 : nat");

    /* create_canister with settings (the admin, by ingress) */
    mgmt_send(&f, "create_canister", "(create_canister_args)",
              "(record { settings = opt record { freezing_threshold = opt 3_600;"
              " memory_allocation = opt 65_536 } })",
              &o);
    assert_int_equal(o.rc.status, ST_OK);
    buf_fini(&o.reply);
    uint64_t child = node_fx_tip(&f).next_canister_id - 1;
    assert_true(child > cid);
    status_text(&f, child, "(canister_status_result)", &text);
    expect_in(&text, "freezing_threshold = 3600 : nat");
    expect_in(&text, "memory_allocation = 65536 : nat");
    expect_in(&text, "module_hash = null");
    expect_in(&text, "memory_size = 0 : nat");
    buf_fini(&text);
    node_fx_end(&f);
}

/* ---- sliced tasks (docs/scheduler.md "Deterministic time slicing") ----------------------------- */

typedef struct task_out {
    ledger_tip tip;
    uint64_t get[3];  /* heartbeats, timer runs, bumps */
    uint64_t bumped;  /* the heartbeats the bump's reply saw */
    bool paused_task; /* a task was seen paused between rounds */
} task_out;

/* longtask.wat (a heartbeat and a timer of ~700,000 instructions each) in 50,000-instruction
 * slices for 60 rounds, with an ingress bump and a timer armed for the next round submitted
 * after its first round; the node closed and reopened after every round if `restart`. */
static void run_long_tasks(bool restart, task_out *o)
{
    fx f;
    fx_cycles(&f);
    f.g.message_instruction_limit = 40000000;
    f.g.slice_instructions = 50000;
    node_fx_start(&f);
    uint64_t install;
    uint64_t cid = deploy_file(&f, LONGTASK_WASM, &install);
    uint8_t when[8], id[LEDGER_HASH_SIZE], bump[LEDGER_HASH_SIZE];
    round_after(&f, 1000000); /* the first heartbeat begins, and pauses */
    le64_store(when, f.time + 1);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "arm", span_of(when, 8), id);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, cid, "bump", span_of(NULL, 0), bump);
    o->paused_task = false;
    for (int i = 0; i < 60; i++) {
        scheduler_routing ro;
        assert_int_equal(scheduler_canister_routing(f.s, cid, &ro), ST_OK);
        o->paused_task |= ro.paused == SCHEDULER_PAUSED_TASK;
        round_after(&f, 1000000);
        if (restart) {
            node_fx_close(&f);
            node_fx_open(&f);
        }
    }
    ledger_receipt rc;
    assert_true(node_fx_receipt(&f, bump, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(rc.reply.len, 24);
    o->bumped = le64_load(rc.reply.ptr);
    host_result res;
    assert_int_equal(
        scheduler_query(f.s, cid, span_of("get", 3), span_of(NULL, 0), span_of(NULL, 0), &res),
        ST_OK);
    assert_int_equal(res.bytes.len, 24);
    for (int k = 0; k < 3; k++)
        o->get[k] = le64_load(res.bytes.ptr + 8 * k);
    host_result_fini(&res);
    o->tip = node_fx_tip(&f);
    assert_null(node_chain_check(f.lg, &o->tip));
    if (!restart) { /* the auditor's replay reproduces every block */
        char work[64], cmd[96];
        snprintf(work, sizeof work, "/tmp/tally-replay-XXXXXX");
        assert_non_null(mkdtemp(work));
        node_fx_close(&f);
        scheduler_divergence div;
        ledger_tip last;
        assert_int_equal(scheduler_replay(f.dir, work, NULL, &div, &last), ST_OK);
        assert_int_equal(div.height, 0);
        node_tip_assert_equal(&last, &o->tip);
        snprintf(cmd, sizeof cmd, "rm -rf %s", work);
        assert_int_equal(system(cmd), 0);
        node_fx_open(&f);
    }
    node_fx_end(&f);
}

/* A heartbeat and a timer longer than a slice span rounds like a long update: the canister
 * takes nothing else meanwhile (the bump waits for the first heartbeat to end, and runs in the
 * round where it ends, before the next heartbeat begins; the timer due meanwhile runs after
 * the second heartbeat); a node stopped after every round reaches the same chain. */
static void test_sliced_tasks(void **state)
{
    (void)state;
    task_out a, b;
    run_long_tasks(false, &a);
    run_long_tasks(true, &b);
    node_tip_assert_equal(&a.tip, &b.tip);
    assert_true(a.paused_task);
    assert_int_equal(a.bumped, 1); /* after the first heartbeat, before the second */
    assert_int_equal(a.get[1], 1); /* the timer ran once */
    assert_int_equal(a.get[2], 1);
    /* 60 rounds of ~14-slice tasks, a heartbeat-free round after each: 3 heartbeats and the
     * timer */
    assert_int_equal(a.get[0], 3);
    assert_memory_equal(a.get, b.get, sizeof a.get);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fees_exact),     cmocka_unit_test(test_freezing),
        cmocka_unit_test(test_mint),           cmocka_unit_test(test_burn),
        cmocka_unit_test(test_ic0_forms),      cmocka_unit_test(test_global_timer),
        cmocka_unit_test(test_heartbeat),      cmocka_unit_test(test_sliced_tasks),
        cmocka_unit_test(test_settings),       cmocka_unit_test(test_request_out_of_cycles),
#ifdef TICKER_WASM
        cmocka_unit_test(test_ticker_example),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
