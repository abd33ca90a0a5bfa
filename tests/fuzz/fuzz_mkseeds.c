/* fuzz_mkseeds.c - writes the seed corpus of fuzz_message: a few validly signed envelopes of
 * every message kind (fixed keys, so the files never change), plus canister id texts.
 *   fuzz_mkseeds DIR     (run by hand; the output is checked in under corpus/message) */
#include <stdio.h>
#include <string.h>

#include "ledger.h"

static int write_seed(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "fuzz_mkseeds: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_mkseeds DIR\n");
        return 2;
    }
    static const char *const methods[] = {"", "inc", "get", "transfer", "caf\xc3\xa9"};
    static const uint8_t args[][6] = {{0}, {1, 2, 3, 4, 5, 6}, {0xff, 0xfe, 0, 0, 0, 1}};
    uint8_t seed[LEDGER_SEED_SIZE] = {42}, pk[LEDGER_PUBLIC_KEY_SIZE];
    uint8_t sk[LEDGER_SECRET_KEY_SIZE], id[LEDGER_HASH_SIZE];
    if (ledger_keypair(seed, pk, sk) != ST_OK)
        return 1;
    int rc = 0;
    for (uint8_t kind = 0; kind <= LEDGER_MSG_MINT; kind++) {
        for (size_t i = 0; i < BASE_ARRAY_LEN(methods); i++) {
            ledger_message m = {.nonce = 1000u * kind + i,
                                .canister_id = i,
                                .kind = kind,
                                .expiry_height = i * 77,
                                .method = span_of(methods[i], strlen(methods[i])),
                                .arg = span_of(args[i % 3], i % 3 ? sizeof args[0] : 0)};
            memcpy(m.sender, pk, sizeof pk);
            buf env = {0};
            if (ledger_message_sign(&m, sk, &env, id) != ST_OK)
                return 1;
            char name[64];
            snprintf(name, sizeof name, "msg-kind%u-%zu", (unsigned)kind, i);
            rc |= write_seed(argv[1], name, env.ptr, env.len);
            buf_fini(&env);
        }
    }
    for (uint64_t cid = 0; cid < 4; cid++) {
        char text[LEDGER_CANISTER_TEXT_SIZE], name[32];
        ledger_canister_id_text(cid * 1000003u, text);
        snprintf(name, sizeof name, "canister-id-%u", (unsigned)cid);
        rc |= write_seed(argv[1], name, text, strlen(text));
    }
    return rc;
}
