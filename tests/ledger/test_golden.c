/* test_golden.c - golden vectors of the ledger: a fixed genesis and a fixed sequence
 * of rounds must give these exact block hashes, state roots and receipts roots, in every build
 * (gcc, clang, sanitizers): the encodings have no padding, no uninitialised bytes and no
 * addresses. If an encoding changes on purpose, docs/formats.md changes with it and so do the
 * constants below (run with TALLY_GOLDEN_PRINT=1 to print the new ones). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ledger_fixture.h"

typedef struct golden {
    const char *block_hash, *state_root, *receipts_root;
} golden;

static const golden want[] = {
    /* block 0 (genesis), then rounds 1..4: block hash, state root, receipts root */
    {"ced38dc5e841e283c138d5971550955c0b0e12dd6cd9cb2d3f6f4ee839d312bd",
     "94505a8ab4c5ebca2a3ece0199565383f3e56924b1509b380135974325f19fd9",
     "1f1a85e220763211794fad762385693f9a84cc6dcbf29a7cf94b3a7b28f204a7"},
    {"6010816395ac8cc3039cc4801612080bf99b16633ebc3c70d8fe4e9e1b32ce12",
     "988bd5512426aa3ee2a36ec49b1476f8e3400dbf6389fd296c3a5ad1fd318078",
     "9da634aa533e1e5a7f2ebd7272456e54c0a2bbaf6b80aadf18f130d22f2d7ba4"},
    {"db46814a85faf4d70f583d191a182b593828bdaaa75038765a98f02e19809563",
     "b54802c9f47d6c730e2884a3ab1fbe8f01274794531b0a805d360e097a819471",
     "6297fd42b8a15c23752bf995f5d1a09838c1224c4b410558311aaebffd5bbbe4"},
    {"a2739d748479730b430cd6e8eac0f42ea940cab3e651215a95a1593c105611f9",
     "b54802c9f47d6c730e2884a3ab1fbe8f01274794531b0a805d360e097a819471",
     "1f1a85e220763211794fad762385693f9a84cc6dcbf29a7cf94b3a7b28f204a7"},
    {"9c3300847bcf5bd7ca4a383ba8473131190ca75352685ee5c14b5ae05e235cd4",
     "bfe88f4e55fa4a91652fd1de4279bd10b5a598479a62e39f234e300417c5fa73",
     "1f1a85e220763211794fad762385693f9a84cc6dcbf29a7cf94b3a7b28f204a7"},
};

static uint8_t page[LEDGER_PAGE_SIZE];

/* Signs message `nonce` from key k to canister 1 and includes it in the round; *id gets its id. */
static void include_msg(ledger_round *r, uint8_t k, uint64_t nonce, uint8_t *id)
{
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    fx_keys(k, pk, sk);
    ledger_message m = {
        {0}, nonce, 1, LEDGER_MSG_UPDATE, span_of("put", 3), span_of("golden argument", 15), 100};
    memcpy(m.sender, pk, sizeof pk);
    buf env = {0};
    uint8_t mid[LEDGER_HASH_SIZE];
    assert_int_equal(ledger_message_sign(&m, sk, &env, mid), ST_OK);
    assert_int_equal(ledger_round_message_include(r, span_of(env.ptr, env.len), id), ST_OK);
    assert_memory_equal(mid, id, LEDGER_HASH_SIZE);
    buf_fini(&env);
}

/* Stages the writes of round h (1..4). */
static void stage(ledger_round *r, uint64_t h)
{
    uint64_t id;
    uint8_t mid[LEDGER_HASH_SIZE];
    ledger_canister c = fx_record(2, h);
    switch (h) {
    case 1: {
        static const uint8_t orig[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
        static const uint8_t instr[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0};
        assert_int_equal(
            ledger_round_code_put(r, span_of(orig, 8), span_of(instr, 9), c.code_hash), ST_OK);
        c.aux = span_of("g0=1", 4);
        assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
        fx_page(page, 1);
        assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_HEAP, 0, page), ST_OK);
        fx_page(page, 2);
        assert_int_equal(ledger_round_page_put(r, id, LEDGER_MEM_HEAP, 1, page), ST_OK);
        include_msg(r, 4, 1, mid);
        ledger_receipt rc = {ST_OK, 0, 1234, span_of("ok", 2)};
        assert_int_equal(ledger_round_receipt_put(r, mid, &rc), ST_OK);
        break;
    }
    case 2: {
        fx_page(page, 3);
        assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 1, page), ST_OK);
        fx_page(page, 4);
        assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_STABLE, 0, page), ST_OK);
        c = fx_record(3, 1);
        assert_int_equal(ledger_round_canister_create(r, &c, &id), ST_OK);
        assert_int_equal(id, 2);
        include_msg(r, 5, 1, mid);
        ledger_receipt rc = {ST_TRAP_UNREACHABLE, 0, 99, span_of("unreachable", 11)};
        assert_int_equal(ledger_round_receipt_put(r, mid, &rc), ST_OK);
        break;
    }
    case 3: break; /* an empty block */
    case 4:
        assert_int_equal(ledger_round_memory_clear(r, 1, LEDGER_MEM_HEAP), ST_OK);
        fx_page(page, 5);
        assert_int_equal(ledger_round_page_put(r, 1, LEDGER_MEM_HEAP, 2, page), ST_OK);
        c.heap_pages = 3;
        assert_int_equal(ledger_round_canister_put(r, 1, &c), ST_OK);
        break;
    }
}

static void check(uint64_t h, const ledger_block *b)
{
    char hex[3][65];
    ledger_hash_hex(b->hash, hex[0]);
    ledger_hash_hex(b->state_root, hex[1]);
    ledger_hash_hex(b->receipts_root, hex[2]);
    if (getenv("TALLY_GOLDEN_PRINT"))
        printf("    {\"%s\",\n     \"%s\",\n     \"%s\"},\n", hex[0], hex[1], hex[2]);
    else {
        assert_string_equal(hex[0], want[h].block_hash);
        assert_string_equal(hex[1], want[h].state_root);
        assert_string_equal(hex[2], want[h].receipts_root);
    }
}

static void t_golden(void **state)
{
    (void)state;
    char dir[64];
    ledger *lg;
    assert_int_equal(fx_tmpdir(dir), 0);
    ledger_options opt = {0, 0, true};
    assert_int_equal(ledger_open(dir, &opt, &lg), ST_OK);
    ledger_genesis g = fx_genesis();
    assert_int_equal(ledger_genesis_init(lg, &g), ST_OK);
    for (uint64_t h = 1; h < BASE_ARRAY_LEN(want); h++) {
        ledger_round *r;
        assert_int_equal(ledger_round_begin(lg, &r), ST_OK);
        stage(r, h);
        assert_int_equal(ledger_round_commit(r, g.genesis_time_ns + h * 1000000000ull, NULL),
                         ST_OK);
    }
    ledger_reader *rd;
    assert_int_equal(ledger_read_begin(lg, &rd), ST_OK);
    for (uint64_t h = 0; h < BASE_ARRAY_LEN(want); h++) {
        ledger_block b;
        assert_int_equal(ledger_block_get(rd, h, &b), ST_OK);
        check(h, &b);
    }
    ledger_read_end(rd);
    ledger_close(lg);
    fx_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(t_golden)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
