/* node_fixture.h - a node for the cmocka tests that drive rounds (tests/bad, tests/scheduler):
 * a temporary node directory with its ledger and scheduler, a deterministic admin key,
 * signing and submitting messages, reading the tip, receipts and the mempool, compiling WAT
 * with wabt, and checking that a ledger's chain is whole (every block from the tip down to
 * block 0 recomputes its hash and matches its child's parent hash; every included message has
 * its receipt and has left the mempool); the scenario steps the scheduler tests and the golden
 * vectors share: rounds, running until a receipt, deploying a file, reading a query's fixed-size
 * answer, relay.wat's call argument. Header-only: each test is its own binary. Include after
 * <cmocka.h>; the including binary depends on scheduler_dep; node_wat_compile needs
 * -DWAT2WASM="path". */
#ifndef TALLY_NODE_FIXTURE_H
#define TALLY_NODE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler.h"
#include "test_util.h"

typedef struct node_fx {
    char dir[64];
    ledger *lg;
    scheduler *s;
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    uint64_t nonce, time;
    ledger_genesis g;       /* written by node_fx_start */
    ledger_options opt;     /* used by node_fx_start and node_fx_open */
    buf wasm;               /* the test's module, if it keeps one (freed by node_fx_end) */
    scheduler_options sopt; /* the scheduler's options (zero: the defaults, interpreter tier) */
} node_fx;

/* Defaults: admin key from seed {key}, the IC-like genesis of ledger_genesis_default, a
 * no_sync ledger, time 1700000000 s. Change f->g, f->opt, f->sopt before node_fx_start. */
static inline void node_fx_init(node_fx *f, uint8_t key)
{
    memset(f, 0, sizeof *f);
    const uint8_t seed[LEDGER_SEED_SIZE] = {key};
    assert_int_equal(ledger_keypair(seed, f->pk, f->sk), ST_OK);
    ledger_genesis_default(&f->g);
    memcpy(f->g.admin_public_key, f->pk, sizeof f->pk);
    f->opt.no_sync = true;
    f->time = 1700000000000000000ull;
}

/* Opens f->dir (existing) with f->opt, and a scheduler over it. */
static inline void node_fx_open(node_fx *f)
{
    assert_int_equal(ledger_open(f->dir, &f->opt, &f->lg), ST_OK);
    assert_int_equal(scheduler_open(f->lg, &f->sopt, &f->s), ST_OK);
}

/* A fresh node directory under /tmp with the genesis f->g, open. */
static inline void node_fx_start(node_fx *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/tally-node-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(ledger_open(f->dir, &f->opt, &f->lg), ST_OK);
    assert_int_equal(ledger_genesis_init(f->lg, &f->g), ST_OK);
    assert_int_equal(scheduler_open(f->lg, &f->sopt, &f->s), ST_OK);
}

static inline void node_fx_close(node_fx *f)
{
    scheduler_close(f->s);
    ledger_close(f->lg);
    f->s = NULL;
    f->lg = NULL;
}

/* Closes and removes the node directory. */
static inline void node_fx_end(node_fx *f)
{
    node_fx_close(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    buf_fini(&f->wasm);
}

/* A signed envelope from the admin key with the next nonce (appended to *env). */
static inline void node_fx_sign(node_fx *f, uint8_t kind, uint64_t cid, const char *method,
                                span arg, uint64_t expiry, buf *env, uint8_t id[LEDGER_HASH_SIZE])
{
    ledger_message m = {.nonce = ++f->nonce,
                        .canister_id = cid,
                        .kind = kind,
                        .method = span_of(method, strlen(method)),
                        .arg = arg,
                        .expiry_height = expiry};
    memcpy(m.sender, f->pk, sizeof f->pk);
    assert_int_equal(ledger_message_sign(&m, f->sk, env, id), ST_OK);
}

/* Signs (expiry height 1,000,000) and admits a message. */
static inline void node_fx_submit(node_fx *f, uint8_t kind, uint64_t cid, const char *method,
                                  span arg, uint8_t id[LEDGER_HASH_SIZE])
{
    buf env = {0};
    node_fx_sign(f, kind, cid, method, arg, 1000000, &env, id);
    uint8_t id2[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_mempool_add(f->lg, span_of(env.ptr, env.len), id2), ST_OK);
    assert_memory_equal(id, id2, LEDGER_HASH_SIZE);
    buf_fini(&env);
}

static inline ledger_tip node_fx_tip(node_fx *f)
{
    ledger_reader *rd;
    ledger_tip t;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    assert_int_equal(ledger_tip_get(rd, &t), ST_OK);
    ledger_read_end(rd);
    return t;
}

static inline void node_tip_assert_equal(const ledger_tip *a, const ledger_tip *b)
{
    assert_int_equal(a->height, b->height);
    assert_memory_equal(a->hash, b->hash, LEDGER_HASH_SIZE);
    assert_memory_equal(a->state_root, b->state_root, LEDGER_HASH_SIZE);
    assert_memory_equal(a->receipts_root, b->receipts_root, LEDGER_HASH_SIZE);
    assert_int_equal(a->next_canister_id, b->next_canister_id);
}

/* The u32 the canister's `get` query answers (the node_wat counter), asserting it answers. */
static inline uint32_t node_fx_query_get(node_fx *f, uint64_t cid)
{
    host_result res;
    assert_int_equal(scheduler_query(f->s, cid, span_of("get", 3), span_of(NULL, 0),
                                     span_of(f->pk, sizeof f->pk), &res),
                     ST_OK);
    assert_int_equal(res.st, ST_OK);
    uint32_t v = le32_load(res.bytes.ptr);
    host_result_fini(&res);
    return v;
}

/* Number of mempool entries. */
static inline unsigned node_fx_mempool_size(node_fx *f)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    uint64_t seq = 0;
    span env;
    uint8_t id[LEDGER_HASH_SIZE];
    unsigned n = 0;
    while (ledger_mempool_next(rd, &seq, &env, id) == ST_OK)
        n++;
    ledger_read_end(rd);
    return n;
}

/* The receipt of id (false: none yet); *v (may be NULL) gets a 4-byte reply as u32 LE, or
 * UINT32_MAX for another length. */
static inline bool node_fx_receipt(node_fx *f, const uint8_t id[LEDGER_HASH_SIZE],
                                   ledger_receipt *out, uint32_t *v)
{
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(f->lg, &rd), ST_OK);
    status st = ledger_receipt_get(rd, id, out);
    if (st == ST_OK && v)
        *v = out->reply.len == 4 ? le32_load(out->reply.ptr) : UINT32_MAX;
    ledger_read_end(rd);
    assert_true(st == ST_OK || st == ST_NOT_FOUND);
    return st == ST_OK;
}

/* Installs f->wasm in a round at f->time + 1 ms; returns the new canister's id. */
static inline uint64_t node_fx_deploy(node_fx *f)
{
    buf arg = {0};
    assert_int_equal(
        scheduler_install_arg(span_of(f->wasm.ptr, f->wasm.len), span_of(NULL, 0), &arg), ST_OK);
    uint8_t id[LEDGER_HASH_SIZE];
    node_fx_submit(f, LEDGER_MSG_INSTALL, LEDGER_CANISTER_NONE, "", span_of(arg.ptr, arg.len), id);
    f->time += 1000000;
    scheduler_round_info info;
    assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
    ledger_receipt rc;
    assert_true(node_fx_receipt(f, id, &rc, NULL));
    assert_int_equal(rc.status, ST_OK);
    buf_fini(&arg);
    return node_fx_tip(f).next_canister_id - 1;
}

/* A round at f->time + ns (f->time advances), which must succeed. */
static inline scheduler_round_info node_fx_round_after(node_fx *f, uint64_t ns)
{
    scheduler_round_info info;
    f->time += ns;
    assert_int_equal(scheduler_round(f->s, f->time, &info), ST_OK);
    return info;
}

/* A round 1 ms after the last. */
static inline scheduler_round_info node_fx_round(node_fx *f)
{
    return node_fx_round_after(f, 1000000);
}

/* Rounds (1 ms apart) until id has its receipt *rc, at most max; returns how many it took. */
static inline int node_fx_run_until(node_fx *f, const uint8_t id[LEDGER_HASH_SIZE], int max,
                                    ledger_receipt *rc)
{
    for (int i = 1; i <= max; i++) {
        node_fx_round(f);
        if (node_fx_receipt(f, id, rc, NULL))
            return i;
    }
    fail_msg("no receipt after %d rounds", max);
    return -1;
}

/* Installs the module in the file at path (kept in f->wasm) as node_fx_deploy does. */
static inline uint64_t node_fx_deploy_file(node_fx *f, const char *path)
{
    f->wasm.len = 0;
    test_read_file(path, &f->wasm);
    return node_fx_deploy(f);
}

/* Runs query `method` of cid with no argument, anonymous; asserts that it replies exactly len
 * bytes and copies them to out. */
static inline void node_fx_query_bytes(node_fx *f, uint64_t cid, const char *method, size_t len,
                                       uint8_t *out)
{
    host_result res;
    assert_int_equal(scheduler_query(f->s, cid, span_of(method, strlen(method)), span_of(NULL, 0),
                                     span_of(NULL, 0), &res),
                     ST_OK);
    assert_int_equal(res.st, ST_OK);
    assert_int_equal(res.bytes.len, len);
    memcpy(out, res.bytes.ptr, len);
    host_result_fini(&res);
}

/* The argument of tests/scheduler/relay.wat's `call`: target (u64 LE), mode, the method's
 * length and name, then the payload; replaces b's bytes. */
static inline void node_relay_arg(buf *b, uint64_t target, uint8_t mode, const char *method,
                                  span payload)
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

/* ---- Candid of aaaaa-aa's arguments, built by hand (for tests without the candid library) ---- */

/* Appends v as unsigned LEB128. */
static inline void node_leb(buf *b, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        byte |= v ? 0x80 : 0;
        assert_int_equal(buf_put(b, &byte, 1), ST_OK);
    } while (v);
}

/* A Candid field id: the label's hash (Candid.md, "Records"). */
static inline uint32_t node_idl_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = h * 223 + (uint8_t)*s;
    return h;
}

/* The principal of canister cid: its 8-byte id big-endian, then 0x01 0x01. */
static inline void node_canister_bytes(uint64_t cid, uint8_t p[10])
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(cid >> (56 - 8 * i));
    p[8] = p[9] = 1;
}

/* Appends a Candid principal value (the reference flag 1, the length, the bytes) of cid. */
static inline void node_put_canister(buf *b, uint64_t cid)
{
    uint8_t p[10];
    node_canister_bytes(cid, p);
    assert_int_equal(buf_put(b, "\x01\x0a", 2), ST_OK);
    assert_int_equal(buf_put(b, p, 10), ST_OK);
}

/* Sets *b to the Candid (record { canister_id : principal }) of cid. */
static inline void node_id_record(buf *b, uint64_t cid)
{
    b->len = 0;
    assert_int_equal(buf_put(b, "DIDL\x01\x6c\x01", 7), ST_OK);
    node_leb(b, node_idl_hash("canister_id"));
    assert_int_equal(buf_put(b, "\x68\x01\x00", 3), ST_OK);
    node_put_canister(b, cid);
}

/* Sets *b to install_code's Candid argument; mode 0 reinstall, 1 upgrade, 2 install (variant
 * order by field id). Fields by id: arg, wasm_module, mode, canister_id. */
static inline void node_install_arg(buf *b, uint64_t cid, int mode, span wasm, span arg)
{
    b->len = 0;
    assert_int_equal(buf_put(b, "DIDL\x03\x6c\x04", 7), ST_OK);
    node_leb(b, node_idl_hash("arg"));
    assert_int_equal(buf_put(b, "\x01", 1), ST_OK);
    node_leb(b, node_idl_hash("wasm_module"));
    assert_int_equal(buf_put(b, "\x01", 1), ST_OK);
    node_leb(b, node_idl_hash("mode"));
    assert_int_equal(buf_put(b, "\x02", 1), ST_OK);
    node_leb(b, node_idl_hash("canister_id"));
    assert_int_equal(buf_put(b, "\x68\x6d\x7b\x6b\x03", 5), ST_OK);
    const char *labels[] = {"reinstall", "upgrade", "install"};
    for (int i = 0; i < 3; i++) {
        node_leb(b, node_idl_hash(labels[i]));
        assert_int_equal(buf_put(b, "\x7f", 1), ST_OK);
    }
    assert_int_equal(buf_put(b, "\x01\x00", 2), ST_OK);
    node_leb(b, arg.len);
    if (arg.len)
        assert_int_equal(buf_put(b, arg.ptr, arg.len), ST_OK);
    node_leb(b, wasm.len);
    assert_int_equal(buf_put(b, wasm.ptr, wasm.len), ST_OK);
    node_leb(b, (uint64_t)mode);
    node_put_canister(b, cid);
}

#ifdef WAT2WASM
/* Compiles WAT text with wabt's wat2wasm; appends the module to *out. */
static inline void node_wat_compile(const char *text, buf *out)
{
    char dir[] = "/tmp/tally-wat-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[96], outp[96], cmd[512];
    snprintf(in, sizeof in, "%s/m.wat", dir);
    snprintf(outp, sizeof outp, "%s/m.wasm", dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s -o %s", WAT2WASM, in, outp);
    assert_int_equal(system(cmd), 0);
    f = fopen(outp, "rb");
    assert_non_null(f);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(buf_put(out, chunk, n), ST_OK);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}
#endif

/* Checks that the chain of lg is whole from tip down to block 0: every block reads back, its
 * hash recomputes from its encoding, the tip's hash is tip->hash and every parent hash is the
 * hash of the block below; every included message is stored, and its receipt (if any: a
 * sliced message gets it when it finishes) is of that block or a later one; no mempool entry
 * is an included message. Returns NULL, or what is wrong (static text). Uses no cmocka
 * assertion, so a forked child may call it too. */
static inline const char *node_chain_check(ledger *lg, const ledger_tip *tip)
{
    ledger_reader *rd;
    if (ledger_read_begin(lg, &rd) != ST_OK)
        return "cannot read the ledger";
    const char *why = NULL;
    uint8_t child_parent[LEDGER_HASH_SIZE];
    for (uint64_t h = tip->height + 1; !why && h-- > 0;) {
        ledger_block b;
        if (ledger_block_get(rd, h, &b) != ST_OK) {
            why = "a block below the tip is lost";
            break;
        }
        uint8_t again[LEDGER_HASH_SIZE];
        ledger_block_hash(&b, again);
        if (memcmp(again, b.hash, LEDGER_HASH_SIZE) != 0)
            why = "a block's hash does not recompute";
        else if (h == tip->height ? memcmp(b.hash, tip->hash, LEDGER_HASH_SIZE)
                                  : memcmp(b.hash, child_parent, LEDGER_HASH_SIZE))
            why = "the parent chain is broken";
        for (uint32_t i = 0; !why && i < b.message_count; i++) {
            const uint8_t *id = b.message_ids + (size_t)i * LEDGER_HASH_SIZE;
            ledger_receipt rc;
            span env;
            status st = ledger_receipt_get(rd, id, &rc);
            if (st != ST_OK && st != ST_NOT_FOUND)
                why = "a receipt does not read back";
            else if (st == ST_OK && rc.height < h)
                why = "a receipt is older than the block that included its message";
            else if (ledger_message_get(rd, id, &env) != ST_OK)
                why = "an included message is not stored";
        }
        memcpy(child_parent, b.parent_hash, LEDGER_HASH_SIZE);
    }
    uint64_t seq = 0;
    span env, inc;
    uint8_t id[LEDGER_HASH_SIZE];
    status st = ST_OK;
    while (!why && (st = ledger_mempool_next(rd, &seq, &env, id)) == ST_OK)
        if (ledger_message_get(rd, id, &inc) != ST_NOT_FOUND)
            why = "the mempool holds an included message";
    if (!why && st != ST_NOT_FOUND)
        why = "the mempool does not read back";
    ledger_read_end(rd);
    return why;
}

#endif
