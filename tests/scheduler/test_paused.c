/* test_paused.c - aaaaa-aa calls that change a canister with a paused message wait for it
 * (scheduler/mgmt.c, docs/canisters.md "Time slicing"): update_settings, stop_canister,
 * start_canister, deposit_cycles, install_code and delete_canister made while a message is
 * paused are applied, and answered, right after it ends, in order of arrival; the message sees
 * the canister as it began (is_controller, canister_status, balance); canister_status answers
 * at once with the committed state; the wait list is bounded (500 calls, 8 MiB) with
 * SYS_TRANSIENT beyond; a node restarted after every round reaches the same chain, and replay
 * agrees. With TALLY_FINGERPRINT set, the random interleavings print their chains for
 * scripts/test.sh's cross-build determinism check.
 *
 * Canisters: watch.wat (what a long message sees), relay.wat (calls from canisters),
 * lifecycle.wat (a long install), longtask.wat (a heartbeat longer than a slice). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"
#include "test_util.h"
#include "node_fixture.h"
#include "candid_util.h"

typedef node_fx fx;

enum { SLICE = 50000 }; /* watch's ~700,000 instructions span ~14 rounds */

static void start(fx *f, uint8_t key)
{
    node_fx_init(f, key);
    scheduler_fees_zero(&f->g); /* balances move only by the cycles the tests send */
    f->g.slice_instructions = SLICE;
    node_fx_start(f);
}

static void round_checked(fx *f, bool restart)
{
    node_fx_round(f);
    char why[160];
    if (scheduler_routing_check(f->s, why, sizeof why) != ST_OK)
        fail_msg("%s", why);
    scheduler_cycles cy;
    scheduler_cycles_get(f->s, &cy);
    if (cy.minted != cy.balances + cy.in_flight + cy.burned + cy.fees)
        fail_msg("cycles not conserved");
    if (restart) {
        node_fx_close(f);
        node_fx_open(f);
    }
}

static scheduler_routing routing(fx *f, uint64_t cid)
{
    scheduler_routing ro;
    assert_int_equal(scheduler_canister_routing(f->s, cid, &ro), ST_OK);
    return ro;
}

static bool receipt(fx *f, const uint8_t id[32], ledger_receipt *rc, buf *reply)
{
    if (!node_fx_receipt(f, id, rc, NULL))
        return false;
    if (reply) {
        reply->len = 0;
        assert_int_equal(buf_put(reply, rc->reply.ptr, rc->reply.len), ST_OK);
        rc->reply = span_of(reply->ptr, reply->len);
    }
    return true;
}

/* ---- principals and Candid ------------------------------------------------------------------- */

static void text_of(const uint8_t *p, size_t n, char out[80])
{
    buf t = {0};
    assert_int_equal(candid_principal_print(p, n, &t), ST_OK);
    snprintf(out, 80, "%.*s", (int)t.len, (const char *)t.ptr);
    buf_fini(&t);
}

static void canister_text(uint64_t cid, char out[80])
{
    uint8_t p[10];
    node_canister_bytes(cid, p);
    text_of(p, 10, out);
}

/* The admin's principal as the node makes it (scheduler.c sched_principal_of_key). */
static void admin_text(fx *f, char out[80])
{
    uint8_t p[29];
    crypto_generichash(p, 28, f->pk, sizeof f->pk, NULL, 0);
    p[28] = 0x02;
    text_of(p, 29, out);
}

static void id_arg(buf *b, uint64_t cid)
{
    char t[80];
    canister_text(cid, t);
    candid_args(b, "(record { canister_id = principal \"%s\" })", t);
}

/* update_settings' argument: controllers = the n principals (text). */
static void settings_arg(buf *b, uint64_t cid, int n, const char *const *ctl)
{
    char t[80], list[400] = "";
    canister_text(cid, t);
    for (int i = 0; i < n; i++) {
        strcat(list, "principal \"");
        strcat(list, ctl[i]);
        strcat(list, "\"; ");
    }
    candid_args(b,
                "(record { canister_id = principal \"%s\"; settings = record { controllers = opt "
                "vec { %s } } })",
                t, list);
}

/* (record { canister_id : principal; pad : blob }) with `pad` bytes of padding. */
static void id_pad_arg(buf *b, uint64_t cid, size_t pad)
{
    uint32_t hid = node_idl_hash("canister_id"), hpad = node_idl_hash("pad");
    bool id_first = hid < hpad;
    b->len = 0;
    assert_int_equal(buf_put(b, "DIDL\x02\x6c\x02", 7), ST_OK);
    node_leb(b, id_first ? hid : hpad);
    assert_int_equal(buf_put(b, id_first ? "\x68" : "\x01", 1), ST_OK);
    node_leb(b, id_first ? hpad : hid);
    assert_int_equal(buf_put(b, id_first ? "\x01" : "\x68", 1), ST_OK);
    assert_int_equal(buf_put(b, "\x6d\x7b\x01\x00", 4), ST_OK);
    uint8_t p[10];
    node_canister_bytes(cid, p);
    for (int k = 0; k < 2; k++) {
        if ((k == 0) == id_first) {
            assert_int_equal(buf_put(b, "\x01\x0a", 2), ST_OK);
            assert_int_equal(buf_put(b, p, 10), ST_OK);
        } else {
            node_leb(b, pad);
            uint8_t *z = calloc(pad ? pad : 1, 1);
            assert_non_null(z);
            assert_int_equal(buf_put(b, z, pad), ST_OK);
            free(z);
        }
    }
}

/* The admin's ingress call to aaaaa-aa. */
static void mgmt_submit(fx *f, const char *method, const buf *arg, uint8_t id[32])
{
    node_fx_submit(f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, method, span_of(arg->ptr, arg->len),
                   id);
}

/* relay `from` calls aaaaa-aa.method(arg) (mode 128: with 1000 cycles attached). */
static void relay_submit(fx *f, uint64_t from, uint8_t mode, const char *method, const buf *arg,
                         uint8_t id[32])
{
    buf a = {0};
    node_relay_arg(&a, 0, mode, method, span_of(arg->ptr, arg->len));
    node_fx_submit(f, LEDGER_MSG_UPDATE, from, "call", span_of(a.ptr, a.len), id);
    buf_fini(&a);
}

/* canister_status's reply, decoded at a smaller record type (Candid subtyping) and printed. */
static void status_text(span reply, buf *text)
{
    static const char type[] =
        "(record { status : variant { running; stopping; stopped }; "
        "cycles : nat; settings : record { controllers : vec principal } })";
    candid_env *env = candid_env_new();
    candid_arena *a = candid_arena_new();
    candid_type t[1];
    size_t n;
    candid_error err;
    assert_int_equal(candid_types_parse(env, span_of(type, strlen(type)), t, 1, &n, &err), ST_OK);
    candid_value *v;
    candid_limits lim;
    candid_limits_default(&lim);
    if (candid_decode(a, env, t, 1, reply, &lim, &v, &err) != ST_OK)
        fail_msg("canister_status reply: %s at %zu", err.what, err.offset);
    text->len = 0;
    assert_int_equal(candid_text_print(env, t, 1, v, text), ST_OK);
    assert_int_equal(buf_put(text, "", 1), ST_OK);
    candid_arena_free(a);
    candid_env_free(env);
}

static void expect_in(const buf *text, const char *what)
{
    if (!strstr((const char *)text->ptr, what))
        fail_msg("'%s' not in %s", what, (const char *)text->ptr);
}

static u128 balance(fx *f, uint64_t cid)
{
    u128 b = 0;
    assert_int_equal(scheduler_canister_cycles(f->s, cid, &b), ST_OK);
    return b;
}

static const uint8_t EMPTY_REPLY[] = {'R', 'D', 'I', 'D', 'L', 0, 0}; /* relay's "R" + reply */

static bool reply_is(const ledger_receipt *rc, const void *want, size_t n)
{
    return rc->reply.len >= n && !memcmp(rc->reply.ptr, want, n);
}

/* One of watch's snapshots (24 bytes at p). */
typedef struct snap {
    uint32_t is_controller, status;
    u128 balance;
} snap;

static snap snap_at(const uint8_t *p)
{
    return (snap){le32_load(p), le32_load(p + 4), le128_load(p + 8)};
}

/* ---- settings, stop, start and deposits wait ------------------------------------------------- */

typedef struct watch_out {
    ledger_tip tip;
    uint64_t watch_end[2]; /* heights of the receipts of the two long messages */
    snap seen[2][2];       /* what they saw at their start and end */
    snap look;             /* a short message's view afterwards */
    u128 before;           /* the balance before the deposit */
    u128 after;            /* after it */
    buf status_during;     /* canister_status answered while the first message was paused */
    buf status_before;     /* and just before it */
} watch_out;

/* Relay A (a controller of watch W), relay B (not one) and the admin: while W's `watch` is
 * paused, A adds B to W's controllers, B deposits 1000 cycles, B's own update_settings is
 * refused at once, the admin stops W and asks its status (answered at once). The message sees
 * none of it; everything is answered in the round where it ends. Then W is started and
 * watched again while the admin stops and starts it: the second message sees B as a
 * controller and the deposit, and the stop then the start apply in that order. */
static void run_watch(bool restart, watch_out *o)
{
    fx f;
    memset(o, 0, sizeof *o);
    start(&f, 21);
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM), b = node_fx_deploy_file(&f, RELAY_WASM);
    uint64_t w = node_fx_deploy_file(&f, WATCH_WASM);
    char pa[80], pb[80], p0[80];
    canister_text(a, pa);
    canister_text(b, pb);
    admin_text(&f, p0);
    buf arg = {0}, r = {0}, wa = {0};
    uint8_t id[8][32];
    ledger_receipt rc;
    const char *two[] = {p0, pa}, *three[] = {p0, pa, pb}, *only_b[] = {pb};
    settings_arg(&arg, w, 2, two);
    mgmt_submit(&f, "update_settings", &arg, id[0]);
    round_checked(&f, restart);
    assert_true(receipt(&f, id[0], &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    id_arg(&arg, w);
    mgmt_submit(&f, "canister_status", &arg, id[0]);
    round_checked(&f, restart);
    assert_true(receipt(&f, id[0], &rc, &o->status_before));
    o->before = balance(&f, w);

    uint8_t bp[10];
    node_canister_bytes(b, bp);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of(bp, 10), id[1]);
    round_checked(&f, restart);
    assert_int_equal(routing(&f, w).paused, SCHEDULER_PAUSED_INGRESS);
    settings_arg(&arg, w, 3, three);
    relay_submit(&f, a, 128, "update_settings", &arg, id[2]); /* cycles attached: refunded */
    id_arg(&arg, w);
    relay_submit(&f, b, 128, "deposit_cycles", &arg, id[3]);
    settings_arg(&arg, w, 1, only_b);
    relay_submit(&f, b, 0, "update_settings", &arg, id[4]); /* B controls nothing */
    id_arg(&arg, w);
    mgmt_submit(&f, "stop_canister", &arg, id[5]);
    mgmt_submit(&f, "canister_status", &arg, id[6]);
    round_checked(&f, restart);
    scheduler_routing ro = routing(&f, w);
    assert_int_equal(ro.paused, SCHEDULER_PAUSED_INGRESS);
    assert_int_equal(ro.waiting, 3);
    assert_true(receipt(&f, id[4], &rc, NULL)); /* refused at arrival */
    assert_true(reply_is(&rc, "J\x05", 2));
    assert_true(receipt(&f, id[6], &rc, &o->status_during)); /* answered at once */
    assert_int_equal(rc.status, ST_OK);
    assert_false(receipt(&f, id[2], &rc, NULL));
    assert_false(receipt(&f, id[3], &rc, NULL));
    assert_false(receipt(&f, id[5], &rc, NULL));
    assert_true(balance(&f, w) == o->before);
    for (int i = 0; !receipt(&f, id[1], &rc, &wa); i++) {
        assert_true(i < 40);
        round_checked(&f, restart);
    }
    assert_int_equal(rc.status, ST_OK);
    assert_int_equal(wa.len, 48);
    o->watch_end[0] = rc.height;
    o->seen[0][0] = snap_at(wa.ptr);
    o->seen[0][1] = snap_at(wa.ptr + 24);
    for (int k = 2; k <= 5; k++) { /* all answered in the round where the message ended */
        if (k == 4)
            continue;
        assert_true(receipt(&f, id[k], &rc, NULL));
        assert_int_equal(rc.status, ST_OK);
        assert_int_equal(rc.height, o->watch_end[0]);
        if (k != 5)
            assert_true(reply_is(&rc, EMPTY_REPLY, sizeof EMPTY_REPLY));
    }
    assert_int_equal(routing(&f, w).waiting, 0);
    o->after = balance(&f, w);
    mgmt_submit(&f, "canister_status", &arg, id[0]);
    round_checked(&f, restart);
    assert_true(receipt(&f, id[0], &rc, &r));
    buf text = {0};
    status_text(span_of(r.ptr, r.len), &text);
    expect_in(&text, "stopped");
    expect_in(&text, pb); /* A's update_settings applied */

    mgmt_submit(&f, "start_canister", &arg, id[0]);
    round_checked(&f, restart);
    assert_true(receipt(&f, id[0], &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of(bp, 10), id[1]);
    round_checked(&f, restart);
    assert_int_equal(routing(&f, w).paused, SCHEDULER_PAUSED_INGRESS);
    mgmt_submit(&f, "stop_canister", &arg, id[2]);
    mgmt_submit(&f, "start_canister", &arg, id[3]);
    round_checked(&f, restart);
    assert_int_equal(routing(&f, w).waiting, 2);
    for (int i = 0; !receipt(&f, id[1], &rc, &wa); i++) {
        assert_true(i < 40);
        round_checked(&f, restart);
    }
    assert_int_equal(wa.len, 48);
    o->watch_end[1] = rc.height;
    o->seen[1][0] = snap_at(wa.ptr);
    o->seen[1][1] = snap_at(wa.ptr + 24);
    for (int k = 2; k <= 3; k++) {
        assert_true(receipt(&f, id[k], &rc, NULL));
        assert_int_equal(rc.status, ST_OK);
        assert_int_equal(rc.height, o->watch_end[1]);
    }
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "look", span_of(bp, 10), id[4]);
    round_checked(&f, restart);
    assert_true(receipt(&f, id[4], &rc, &wa));
    assert_int_equal(rc.status, ST_OK); /* running: the start came after the stop */
    assert_int_equal(wa.len, 24);
    o->look = snap_at(wa.ptr);
    o->tip = node_fx_tip(&f);
    const char *bad = node_chain_check(f.lg, &o->tip);
    if (bad)
        fail_msg("%s", bad);
    if (!restart) {
        char work[96];
        snprintf(work, sizeof work, "%s-replay", f.dir);
        node_fx_close(&f);
        scheduler_divergence div;
        ledger_tip last;
        assert_int_equal(scheduler_replay(f.dir, work, NULL, &div, &last), ST_OK);
        if (div.height)
            fail_msg("replay diverged at %llu: %s", (unsigned long long)div.height, div.what);
        node_tip_assert_equal(&last, &o->tip);
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf %s", work);
        assert_int_equal(system(cmd), 0);
        node_fx_open(&f);
    }
    buf_fini(&arg);
    buf_fini(&r);
    buf_fini(&wa);
    buf_fini(&text);
    node_fx_end(&f);
}

static void test_changes_wait(void **state)
{
    (void)state;
    watch_out o[2];
    run_watch(false, &o[0]);
    run_watch(true, &o[1]); /* the node closed and reopened after every round */
    node_tip_assert_equal(&o[0].tip, &o[1].tip);
    for (int k = 0; k < 2; k++) {
        /* the first message saw no change: not B, running, the balance before the deposit */
        snap s = o[k].seen[0][0], e = o[k].seen[0][1];
        assert_int_equal(s.is_controller, 0);
        assert_int_equal(e.is_controller, 0);
        assert_int_equal(s.status, 1);
        assert_int_equal(e.status, 1);
        assert_true(s.balance == o[k].before && e.balance == o[k].before);
        assert_true(o[k].after == o[k].before + 1000); /* the deposit, after it ended */
        /* the second one sees them from its start */
        s = o[k].seen[1][0];
        e = o[k].seen[1][1];
        assert_int_equal(s.is_controller, 1);
        assert_int_equal(e.is_controller, 1);
        assert_int_equal(s.status, 1);
        assert_int_equal(e.status, 1);
        assert_true(s.balance == o[k].after && e.balance == o[k].after);
        assert_int_equal(o[k].look.is_controller, 1);
        assert_int_equal(o[k].look.status, 1);
        assert_true(o[k].watch_end[1] > o[k].watch_end[0]);
        /* canister_status while paused: the committed state, as just before the message */
        assert_int_equal(o[k].status_during.len, o[k].status_before.len);
        assert_memory_equal(o[k].status_during.ptr, o[k].status_before.ptr,
                            o[k].status_before.len);
        buf_fini(&o[k].status_during);
        buf_fini(&o[k].status_before);
    }
}

/* ---- the bounds ----------------------------------------------------------------------------------- */

/* 500 calls wait for one canister; the 501st, by ingress or from a canister, is SYS_TRANSIENT;
 * the 500 survive a restart and are answered when the message ends. Then 8 MiB of arguments:
 * three deposits of 2.5 MiB wait, the fourth is refused. */
static void test_wait_bounds(void **state)
{
    (void)state;
    fx f;
    start(&f, 22);
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM);
    uint64_t w = node_fx_deploy_file(&f, WATCH_WASM);
    uint8_t wid[32], extra[32], relay_id[32];
    uint8_t(*ids)[32] = calloc(501, 32);
    assert_non_null(ids);
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of("x", 1), wid);
    round_checked(&f, false);
    buf arg = {0};
    id_arg(&arg, w);
    for (int i = 0; i < 501; i++)
        mgmt_submit(&f, "deposit_cycles", &arg, ids[i]);
    round_checked(&f, false);
    assert_int_equal(routing(&f, w).waiting, 500);
    ledger_receipt rc;
    assert_true(receipt(&f, ids[500], &rc, NULL));
    assert_int_equal(rc.status, ST_CANISTER_BUSY);
    assert_false(receipt(&f, ids[499], &rc, NULL));
    relay_submit(&f, a, 128, "deposit_cycles", &arg, relay_id); /* from a canister: code 2 */
    u128 a_before = balance(&f, a);
    round_checked(&f, true); /* the 500 are in the record */
    assert_int_equal(routing(&f, w).waiting, 500);
    assert_true(receipt(&f, relay_id, &rc, NULL));
    assert_true(reply_is(&rc, "J\x02", 2));
    assert_true(balance(&f, a) == a_before); /* its cycles came back */
    for (int i = 0; !receipt(&f, wid, &rc, NULL); i++) {
        assert_true(i < 40);
        round_checked(&f, i % 5 == 0);
    }
    uint64_t end = rc.height;
    for (int i = 0; i < 500; i++) {
        assert_true(receipt(&f, ids[i], &rc, NULL));
        assert_int_equal(rc.status, ST_OK);
        assert_int_equal(rc.height, end);
    }
    assert_int_equal(routing(&f, w).waiting, 0);
    /* the byte bound */
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of("x", 1), wid);
    round_checked(&f, false);
    id_pad_arg(&arg, w, (5u << 20) / 2);
    for (int i = 0; i < 4; i++)
        mgmt_submit(&f, "deposit_cycles", &arg, ids[i]);
    for (int i = 0; i < 4 && !receipt(&f, ids[3], &rc, NULL); i++)
        round_checked(&f, false);
    assert_int_equal(rc.status, ST_CANISTER_BUSY);
    assert_int_equal(routing(&f, w).waiting, 3);
    assert_false(receipt(&f, ids[2], &rc, NULL));
    round_checked(&f, true);
    for (int i = 0; !receipt(&f, ids[2], &rc, NULL); i++) {
        assert_true(i < 40);
        round_checked(&f, false);
    }
    assert_int_equal(rc.status, ST_OK);
    assert_true(receipt(&f, wid, &rc, NULL));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, LEDGER_CANISTER_NONE, "deposit_cycles",
                   span_of(arg.ptr, arg.len), extra); /* no message paused: at once */
    round_checked(&f, false);
    assert_true(receipt(&f, extra, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    ledger_tip tip = node_fx_tip(&f);
    const char *bad = node_chain_check(f.lg, &tip);
    if (bad)
        fail_msg("%s", bad);
    free(ids);
    buf_fini(&arg);
    node_fx_end(&f);
}

/* ---- install and delete wait ----------------------------------------------------------------------- */

typedef struct life_out {
    ledger_tip tip;
    uint64_t h_watch, h_install, h_stop, h_delete;
    bool install_paused_with_waits;
} life_out;

/* While W's `watch` is paused, the admin reinstalls W with lifecycle.wat (whose install is
 * long), stops it and deletes it, and relay A (not a controller) tries to stop it, then
 * deposits 1000 cycles: the stop is refused at once; the reinstall begins when `watch` ends and
 * is itself paused with the stop, the delete and the deposit still waiting; they run when it
 * ends, and the deposit, behind the delete, is DESTINATION_INVALID with its cycles refunded. */
static void run_life(bool restart, life_out *o)
{
    fx f;
    start(&f, 23);
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM);
    uint64_t w = node_fx_deploy_file(&f, WATCH_WASM);
    buf wasm = {0}, arg = {0};
    test_read_file(LIFECYCLE_WASM, &wasm);
    uint8_t id[6][32];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of("x", 1), id[0]);
    round_checked(&f, restart);
    node_install_arg(&arg, w, 0, span_of(wasm.ptr, wasm.len), span_of(NULL, 0));
    mgmt_submit(&f, "install_code", &arg, id[1]);
    id_arg(&arg, w);
    mgmt_submit(&f, "stop_canister", &arg, id[2]);
    mgmt_submit(&f, "delete_canister", &arg, id[3]);
    relay_submit(&f, a, 0, "stop_canister", &arg, id[4]);
    round_checked(&f, restart);
    assert_int_equal(routing(&f, w).waiting, 3);
    ledger_receipt rc;
    assert_true(receipt(&f, id[4], &rc, NULL));
    assert_true(reply_is(&rc, "J\x05", 2));
    relay_submit(&f, a, 128, "deposit_cycles", &arg, id[5]); /* behind the delete */
    round_checked(&f, restart);
    assert_int_equal(routing(&f, w).waiting, 4);
    u128 a_sent = balance(&f, a);
    o->install_paused_with_waits = false;
    for (int i = 0; !receipt(&f, id[3], &rc, NULL); i++) {
        assert_true(i < 100);
        round_checked(&f, restart);
        scheduler_routing ro = routing(&f, w);
        o->install_paused_with_waits |=
            ro.paused == SCHEDULER_PAUSED_INSTALL_CODE && ro.waiting == 3;
    }
    assert_int_equal(rc.status, ST_OK);
    o->h_delete = rc.height;
    /* the deposit behind the delete found no canister: rejected, its cycles back with A */
    assert_true(receipt(&f, id[5], &rc, NULL));
    assert_true(reply_is(&rc, "J\x03", 2));
    assert_int_equal(rc.height, o->h_delete);
    assert_true(balance(&f, a) == a_sent + 1000);
    uint64_t *h[] = {&o->h_watch, &o->h_install, &o->h_stop};
    for (int k = 0; k < 3; k++) {
        assert_true(receipt(&f, id[k], &rc, NULL));
        assert_int_equal(rc.status, ST_OK);
        *h[k] = rc.height;
    }
    /* W is gone */
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "look", span_of("x", 1), id[0]);
    round_checked(&f, restart);
    assert_true(receipt(&f, id[0], &rc, NULL));
    assert_int_equal(rc.status, ST_UNKNOWN_CANISTER);
    o->tip = node_fx_tip(&f);
    buf_fini(&wasm);
    buf_fini(&arg);
    node_fx_end(&f);
}

static void test_install_delete_wait(void **state)
{
    (void)state;
    life_out o[2];
    run_life(false, &o[0]);
    run_life(true, &o[1]);
    node_tip_assert_equal(&o[0].tip, &o[1].tip);
    for (int k = 0; k < 2; k++) {
        assert_true(o[k].install_paused_with_waits);
        assert_true(o[k].h_install > o[k].h_watch); /* begun when watch ended, then sliced */
        assert_int_equal(o[k].h_stop, o[k].h_install);
        assert_int_equal(o[k].h_delete, o[k].h_install);
    }
}

/* ---- cycles attached to a waiting stop_canister ------------------------------------------------------ */

/* Relay A (a controller of relay B) stops B with 1000 cycles attached while B's call to C is
 * open (a round budget of 1 instruction spreads the tree over rounds): the stop waits for B's
 * call context with the cycles in flight (the accounts balance after every round), and their
 * refund reaches A when B has stopped; the same with a restart after every round (the cycles
 * are in the record). */
static void run_stop_cycles(bool restart, ledger_tip *tip)
{
    fx f;
    node_fx_init(&f, 25);
    scheduler_fees_zero(&f.g);
    f.g.round_instruction_limit = 1;
    node_fx_start(&f);
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM), b = node_fx_deploy_file(&f, RELAY_WASM);
    uint64_t c = node_fx_deploy_file(&f, RELAY_WASM);
    char pa[80], p0[80];
    canister_text(a, pa);
    admin_text(&f, p0);
    const char *two[] = {p0, pa};
    buf arg = {0}, call = {0};
    uint8_t id[3][32];
    ledger_receipt rc;
    settings_arg(&arg, b, 2, two);
    mgmt_submit(&f, "update_settings", &arg, id[0]);
    for (int i = 0; !receipt(&f, id[0], &rc, NULL); i++) {
        assert_true(i < 10);
        round_checked(&f, restart);
    }
    node_relay_arg(&call, c, 0, "echo", span_of("x", 1));
    node_fx_submit(&f, LEDGER_MSG_UPDATE, b, "call", span_of(call.ptr, call.len), id[1]);
    round_checked(&f, restart); /* B's call is out: B has an open call context */
    assert_true(routing(&f, b).contexts > 0);
    u128 before = balance(&f, a);
    id_arg(&arg, b);
    relay_submit(&f, a, 128, "stop_canister", &arg, id[2]);
    bool waited = false;
    for (int i = 0; !receipt(&f, id[2], &rc, NULL); i++) {
        assert_true(i < 40);
        round_checked(&f, restart);
        waited |= !receipt(&f, id[2], &rc, NULL) && balance(&f, a) == before - 1000;
    }
    assert_true(waited); /* the cycles were in flight for a round at least */
    assert_true(reply_is(&rc, EMPTY_REPLY, sizeof EMPTY_REPLY));
    assert_true(balance(&f, a) == before); /* refunded with the answer */
    assert_true(receipt(&f, id[1], &rc, NULL));
    *tip = node_fx_tip(&f);
    buf_fini(&arg);
    buf_fini(&call);
    node_fx_end(&f);
}

static void test_stop_cycles_in_flight(void **state)
{
    (void)state;
    ledger_tip t[2];
    run_stop_cycles(false, &t[0]);
    run_stop_cycles(true, &t[1]);
    node_tip_assert_equal(&t[0], &t[1]);
}

/* A reinstall that waited for a paused message and whose init traps after pausing (lifecycle.wat
 * with the argument "x"; its module used by no other canister): the canister keeps its code and
 * state (watch still answers); the same with a restart after every round (a node closed while
 * the reinstall is paused frees its fresh canister before the module it runs: builds with ASan
 * check that order). */
static void run_failed_reinstall(bool restart, ledger_tip *tip)
{
    fx f;
    start(&f, 27);
    uint64_t w = node_fx_deploy_file(&f, WATCH_WASM);
    buf wasm = {0}, arg = {0};
    test_read_file(LIFECYCLE_WASM, &wasm);
    uint8_t id[3][32];
    node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of("x", 1), id[0]);
    round_checked(&f, restart);
    node_install_arg(&arg, w, 0, span_of(wasm.ptr, wasm.len), span_of("x", 1));
    mgmt_submit(&f, "install_code", &arg, id[1]);
    round_checked(&f, restart);
    assert_int_equal(routing(&f, w).waiting, 1);
    ledger_receipt rc;
    bool install_paused = false;
    for (int i = 0; !receipt(&f, id[1], &rc, NULL); i++) {
        assert_true(i < 100);
        round_checked(&f, restart);
        install_paused |= routing(&f, w).paused == SCHEDULER_PAUSED_INSTALL_CODE;
    }
    assert_true(install_paused);
    assert_int_equal(rc.status, ST_CANISTER_CALLED_TRAP);
    uint64_t failed = rc.height;
    assert_true(receipt(&f, id[0], &rc, NULL));
    assert_true(rc.height < failed);
    uint8_t count[4];
    node_fx_query_bytes(&f, w, "get", sizeof count, count);
    assert_int_equal(le32_load(count), 1); /* watch's code and state stayed */
    *tip = node_fx_tip(&f);
    buf_fini(&wasm);
    buf_fini(&arg);
    node_fx_end(&f);
}

static void test_failed_reinstall(void **state)
{
    (void)state;
    ledger_tip t[2];
    run_failed_reinstall(false, &t[0]);
    run_failed_reinstall(true, &t[1]);
    node_tip_assert_equal(&t[0], &t[1]);
}

/* ---- a heartbeat longer than a slice does not starve them ------------------------------------------ */

/* longtask.wat's heartbeat (~700,000 instructions) is paused most of the time, and a new one
 * begins in the round after each ends: calls waiting for it run between two heartbeats, and the
 * heartbeats go on; the same with a restart after every round. */
static void run_heartbeat(bool restart, ledger_tip *tip)
{
    fx f;
    start(&f, 24);
    uint64_t l = node_fx_deploy_file(&f, LONGTASK_WASM);
    round_checked(&f, restart); /* the first heartbeat begins, and pauses */
    assert_int_equal(routing(&f, l).paused, SCHEDULER_PAUSED_TASK);
    char p0[80];
    admin_text(&f, p0);
    const char *me[] = {p0};
    buf arg = {0};
    uint8_t id[2][32];
    settings_arg(&arg, l, 1, me);
    mgmt_submit(&f, "update_settings", &arg, id[0]);
    id_arg(&arg, l);
    mgmt_submit(&f, "deposit_cycles", &arg, id[1]);
    round_checked(&f, restart);
    assert_int_equal(routing(&f, l).waiting, 2);
    ledger_receipt rc[2];
    for (int i = 0; !receipt(&f, id[1], &rc[1], NULL); i++) {
        assert_true(i < 40);
        round_checked(&f, restart);
    }
    assert_true(receipt(&f, id[0], &rc[0], NULL));
    assert_int_equal(rc[0].status, ST_OK);
    assert_int_equal(rc[1].status, ST_OK);
    assert_int_equal(rc[0].height, rc[1].height);
    uint8_t got[24];
    node_fx_query_bytes(&f, l, "get", sizeof got, got);
    assert_int_equal(le64_load(got), 1); /* they ran right after the first heartbeat ended */
    for (int i = 0; i < 40; i++)
        round_checked(&f, restart);
    node_fx_query_bytes(&f, l, "get", sizeof got, got);
    assert_true(le64_load(got) >= 2); /* and the heartbeats went on */
    *tip = node_fx_tip(&f);
    buf_fini(&arg);
    node_fx_end(&f);
}

static void test_heartbeat_no_starvation(void **state)
{
    (void)state;
    ledger_tip t[2];
    run_heartbeat(false, &t[0]);
    run_heartbeat(true, &t[1]);
    node_tip_assert_equal(&t[0], &t[1]);
}

/* ---- random interleavings ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

enum { RANDOM_MESSAGES = 90 };

/* Random watch messages on W interleaved with random aaaaa-aa calls about W: A (a controller)
 * changing the controllers (adding or removing B) and stopping or starting W, B depositing
 * cycles, the admin stopping, starting and asking the status, by ingress; with a restart after
 * every round if `restart`. After every round the routing invariants and the accounts hold;
 * at the end every message has its receipt and every watch that ran saw the same controllers,
 * status and balance at its start and at its end; *waited counts the rounds that ended with
 * calls waiting. */
static void run_random(uint64_t seed, bool restart, ledger_tip *tip, uint32_t *waited,
                       uint32_t *watched)
{
    fx f;
    start(&f, 26);
    uint64_t a = node_fx_deploy_file(&f, RELAY_WASM), b = node_fx_deploy_file(&f, RELAY_WASM);
    uint64_t w = node_fx_deploy_file(&f, WATCH_WASM);
    char pa[80], pb[80], p0[80];
    canister_text(a, pa);
    canister_text(b, pb);
    admin_text(&f, p0);
    const char *two[] = {p0, pa}, *three[] = {p0, pa, pb};
    buf arg = {0}, r = {0};
    uint8_t(*ids)[32] = calloc(RANDOM_MESSAGES + 1, 32);
    bool *is_watch = calloc(RANDOM_MESSAGES + 1, sizeof *is_watch);
    assert_non_null(ids);
    assert_non_null(is_watch);
    ledger_receipt rc;
    settings_arg(&arg, w, 2, two);
    mgmt_submit(&f, "update_settings", &arg, ids[RANDOM_MESSAGES]);
    round_checked(&f, restart);
    assert_true(receipt(&f, ids[RANDOM_MESSAGES], &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    uint8_t bp[10];
    node_canister_bytes(b, bp);
    uint64_t x = seed;
    *waited = *watched = 0;
    for (int m = 0; m < RANDOM_MESSAGES; m++) {
        uint64_t k = rng_next(&x) % 9;
        if (k <= 1) {
            node_fx_submit(&f, LEDGER_MSG_UPDATE, w, "watch", span_of(bp, 10), ids[m]);
            is_watch[m] = true;
        } else if (k == 2) {
            bool add = rng_next(&x) & 1;
            settings_arg(&arg, w, add ? 3 : 2, add ? three : two);
            relay_submit(&f, a, 128, "update_settings", &arg, ids[m]);
        } else if (k == 3) {
            id_arg(&arg, w);
            relay_submit(&f, b, 128, "deposit_cycles", &arg, ids[m]);
        } else if (k == 4) {
            id_arg(&arg, w);
            relay_submit(&f, a, 0, rng_next(&x) & 1 ? "stop_canister" : "start_canister", &arg,
                         ids[m]);
        } else {
            static const char *const by_admin[] = {"stop_canister", "start_canister",
                                                   "start_canister", "canister_status"};
            id_arg(&arg, w);
            mgmt_submit(&f, by_admin[k - 5], &arg, ids[m]);
        }
        if (rng_next(&x) % 3 == 0) {
            round_checked(&f, restart);
            *waited += routing(&f, w).waiting > 0;
        }
    }
    bool work = true;
    for (int i = 0; work; i++) {
        assert_true(i < 400);
        round_checked(&f, restart);
        *waited += routing(&f, w).waiting > 0;
        assert_int_equal(scheduler_has_work(f.s, &work), ST_OK);
    }
    for (int m = 0; m < RANDOM_MESSAGES; m++) {
        if (!receipt(&f, ids[m], &rc, &r))
            fail_msg("seed %llu: message %d has no receipt", (unsigned long long)seed, m);
        if (!is_watch[m] || rc.status != ST_OK)
            continue; /* (a watch of a stopped W is refused) */
        assert_int_equal(r.len, 48);
        if (memcmp(r.ptr, r.ptr + 24, 24) != 0)
            fail_msg("seed %llu: watch %d saw a change while paused", (unsigned long long)seed, m);
        (*watched)++;
    }
    scheduler_routing ro = routing(&f, w);
    assert_int_equal(ro.waiting, 0);
    assert_int_equal(ro.paused, SCHEDULER_PAUSED_NONE);
    *tip = node_fx_tip(&f);
    const char *bad = node_chain_check(f.lg, tip);
    if (bad)
        fail_msg("%s", bad);
    if (!restart) {
        char work_dir[96], cmd[160];
        snprintf(work_dir, sizeof work_dir, "%s-replay", f.dir);
        node_fx_close(&f);
        scheduler_divergence div;
        ledger_tip last;
        assert_int_equal(scheduler_replay(f.dir, work_dir, NULL, &div, &last), ST_OK);
        if (div.height)
            fail_msg("replay diverged at %llu: %s", (unsigned long long)div.height, div.what);
        node_tip_assert_equal(&last, tip);
        snprintf(cmd, sizeof cmd, "rm -rf %s", work_dir);
        assert_int_equal(system(cmd), 0);
        node_fx_open(&f);
    }
    free(ids);
    free(is_watch);
    buf_fini(&arg);
    buf_fini(&r);
    node_fx_end(&f);
}

/* With TALLY_FINGERPRINT set: a seed's chain on one line, for the cross-build determinism
 * check of scripts/test.sh (on stdout; cmocka's own output goes to stderr there). */
static void fingerprint_print(uint64_t seed, const ledger_tip *t)
{
    if (!getenv("TALLY_FINGERPRINT"))
        return;
    printf("{\"paused seed\": %llu, \"height\": %llu, \"block\": \"", (unsigned long long)seed,
           (unsigned long long)t->height);
    for (int i = 0; i < LEDGER_HASH_SIZE; i++)
        printf("%02x", t->hash[i]);
    printf("\", \"state_root\": \"");
    for (int i = 0; i < LEDGER_HASH_SIZE; i++)
        printf("%02x", t->state_root[i]);
    printf("\"}\n");
}

/* Three seeds: watches saw no change, calls waited in some rounds, a node restarted after every
 * round reaches the same chain, replay agrees. */
static void test_random_interleavings(void **state)
{
    (void)state;
    uint32_t waited_total = 0, watched_total = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        ledger_tip t[2];
        uint32_t waited[2], watched[2];
        run_random(seed * 0x9e3779b97f4a7c15ull, false, &t[0], &waited[0], &watched[0]);
        run_random(seed * 0x9e3779b97f4a7c15ull, true, &t[1], &waited[1], &watched[1]);
        node_tip_assert_equal(&t[0], &t[1]);
        fingerprint_print(seed, &t[0]);
        assert_int_equal(waited[0], waited[1]);
        assert_int_equal(watched[0], watched[1]);
        waited_total += waited[0];
        watched_total += watched[0];
    }
    print_message("%u rounds with calls waiting, %u watches ran\n", waited_total, watched_total);
    assert_true(waited_total >= 10);
    assert_true(watched_total >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_wait),
        cmocka_unit_test(test_wait_bounds),
        cmocka_unit_test(test_install_delete_wait),
        cmocka_unit_test(test_failed_reinstall),
        cmocka_unit_test(test_heartbeat_no_starvation),
        cmocka_unit_test(test_stop_cycles_in_flight),
        cmocka_unit_test(test_random_interleavings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
