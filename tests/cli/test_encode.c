/* test_encode.c - cmocka tests of the cli's pure parts: hex and base64 (canonical,
 * rejections), user arguments (text, 0x-hex, @file), numbers and canister ids as typed, the
 * printable check, key files (mode 0600, round trip, tampering) and node.json. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rpc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_hex(void **state)
{
    (void)state;
    buf b = {0};
    assert_int_equal(cli_hex_decode("0x00fFa1", 8, &b), ST_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "\x00\xff\xa1", 3);
    char *h = cli_hex_new(b.ptr, b.len);
    assert_string_equal(h, "00ffa1");
    base_free(h);
    b.len = 0;
    assert_int_equal(cli_hex_decode("abc", 3, &b), ST_BAD_ARGUMENT);
    assert_int_equal(cli_hex_decode("zz", 2, &b), ST_BAD_ARGUMENT);
    assert_int_equal(b.len, 0);
    assert_int_equal(cli_hex_decode("", 0, &b), ST_OK);
    assert_int_equal(b.len, 0);
    buf_fini(&b);
}

static void test_base64(void **state)
{
    (void)state;
    buf b = {0};
    assert_int_equal(cli_base64_decode("VExZTQ==", 8, &b), ST_OK);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "TLYM", 4);
    b.len = 0;
    assert_int_equal(cli_base64_decode("VExZTQ", 6, &b), ST_OK); /* padding optional */
    assert_int_equal(b.len, 4);
    b.len = 0;
    assert_int_equal(cli_base64_decode("VExZTR", 6, &b), ST_BAD_ARGUMENT); /* non-canonical */
    assert_int_equal(cli_base64_decode("V", 1, &b), ST_BAD_ARGUMENT);
    assert_int_equal(cli_base64_decode("V*xZ", 4, &b), ST_BAD_ARGUMENT);
    /* bytes fields: hex first, else base64. */
    b.len = 0;
    assert_int_equal(cli_bytes_decode("544c594d", 8, &b), ST_OK);
    assert_memory_equal(b.ptr, "TLYM", 4);
    b.len = 0;
    assert_int_equal(cli_bytes_decode("VExZTQ==", 8, &b), ST_OK);
    assert_memory_equal(b.ptr, "TLYM", 4);
    b.len = 0;
    assert_int_equal(cli_bytes_decode("!!", 2, &b), ST_BAD_ARGUMENT);
    buf_fini(&b);
}

static void test_args(void **state)
{
    (void)state;
    buf b = {0};
    assert_int_equal(cli_arg_parse("hello", &b), ST_OK);
    assert_int_equal(cli_arg_parse("0x0001", &b), ST_OK);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.ptr, "hello\x00\x01", 7);
    char path[] = "/tmp/tally-test-arg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x01\x02\x03", 3), 3);
    close(fd);
    char at[64];
    snprintf(at, sizeof at, "@%s", path);
    b.len = 0;
    assert_int_equal(cli_arg_parse(at, &b), ST_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "\x01\x02\x03", 3);
    unlink(path);
    assert_int_equal(cli_arg_parse(at, &b), ST_IO_ERROR);
    assert_int_equal(cli_arg_parse("0xabc", &b), ST_BAD_ARGUMENT);
    buf_fini(&b);
}

static void test_numbers_and_ids(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(cli_u64_parse("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    assert_true(cli_u64_parse("0x10", &v) && v == 16);
    assert_false(cli_u64_parse("18446744073709551616", &v));
    assert_false(cli_u64_parse("-1", &v));
    assert_false(cli_u64_parse("12x", &v));
    assert_false(cli_u64_parse("", &v));
    char text[LEDGER_CANISTER_TEXT_SIZE];
    ledger_canister_id_text(7, text);
    assert_int_equal(cli_canister_parse(text, &v), ST_OK);
    assert_true(v == 7);
    assert_int_equal(cli_canister_parse("42", &v), ST_OK);
    assert_true(v == 42);
    assert_int_equal(cli_canister_parse("0", &v), ST_BAD_CANISTER_ID);
    assert_int_equal(cli_canister_parse("aaaaa-aaaaa-aaaaa-a", &v), ST_BAD_CANISTER_ID);
    uint8_t h[LEDGER_HASH_SIZE];
    assert_int_equal(cli_hash_parse("00", h), ST_BAD_ARGUMENT);
    char hex64[65];
    memset(hex64, 'a', 64);
    hex64[64] = '\0';
    assert_int_equal(cli_hash_parse(hex64, h), ST_OK);
    assert_int_equal(h[31], 0xaa);
}

static void test_printable(void **state)
{
    (void)state;
    assert_true(cli_is_printable(span_of("hello\n", 6)));
    assert_true(cli_is_printable(span_of("h\xc3\xa9", 3)));
    assert_false(cli_is_printable(span_of("\x01\x00", 2)));
    assert_false(cli_is_printable(span_of("\xff", 1)));
}

static void test_key_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/tally-test-key-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    assert_true(cli_path_join(path, sizeof path, dir, "k.key"));
    uint8_t seed[LEDGER_SEED_SIZE];
    memset(seed, 7, sizeof seed);
    assert_int_equal(cli_key_write(path, seed), ST_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cli_key_write(path, seed), ST_IO_ERROR); /* never overwrites */
    uint8_t pk[LEDGER_PUBLIC_KEY_SIZE], sk[LEDGER_SECRET_KEY_SIZE];
    uint8_t pk2[LEDGER_PUBLIC_KEY_SIZE], sk2[LEDGER_SECRET_KEY_SIZE];
    assert_int_equal(cli_key_read(path, pk, sk), ST_OK);
    assert_int_equal(ledger_keypair(seed, pk2, sk2), ST_OK);
    assert_memory_equal(pk, pk2, sizeof pk);
    assert_memory_equal(sk, sk2, sizeof sk);
    /* A public key that does not match the seed is rejected. */
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    char text[512];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    char *pub = strstr(text, "public: ");
    assert_non_null(pub);
    pub[8] = pub[8] == '0' ? '1' : '0';
    rewind(f);
    fwrite(text, 1, n, f);
    fclose(f);
    assert_int_equal(cli_key_read(path, pk, sk), ST_BAD_KEY_FILE);
    unlink(path);
    assert_int_equal(cli_key_read(path, pk, sk), ST_IO_ERROR);
    /* node.json round trip, and a bad one. */
    cli_config cfg, back;
    cli_config_default(&cfg);
    assert_int_equal(cli_config_read(dir, &back), ST_NOT_FOUND);
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:9");
    cfg.round_interval_ms = 33;
    assert_int_equal(cli_config_write(dir, &cfg), ST_OK);
    cli_config_default(&back);
    assert_int_equal(cli_config_read(dir, &back), ST_OK);
    assert_string_equal(back.listen, "127.0.0.1:9");
    assert_int_equal(back.round_interval_ms, 33);
    assert_true(cli_path_join(path, sizeof path, dir, "node.json"));
    f = fopen(path, "w");
    fputs("{\"round_interval_ms\": \"fast\"}", f);
    fclose(f);
    assert_int_equal(cli_config_read(dir, &back), ST_BAD_ARGUMENT);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    cli_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),       cmocka_unit_test(test_base64),
        cmocka_unit_test(test_args),      cmocka_unit_test(test_numbers_and_ids),
        cmocka_unit_test(test_printable), cmocka_unit_test(test_key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
