/* tamper_block.c - test helper for replay.sh: damages one committed block of a
 * stopped node's directory directly in LMDB, the way a corrupted disk or a dishonest operator
 * would, so that `tally replay` must report a divergence at exactly that block.
 *
 *   tamper_block DIR HEIGHT root      flips a bit of the block's recorded state root
 *   tamper_block DIR HEIGHT message   flips a bit inside the block's first stored message
 *
 * Knows only the database names and the block record layout of docs/formats.md ("Block": the
 * state root is the record's last 32 bytes; message ids start at byte 53). Exit 0 when the
 * change is committed, 1 with a line on stderr otherwise. Not part of the tally binary. */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HASH_SIZE = 32, IDS_AT = 1 + 8 + HASH_SIZE + 8 + 4 };

static int fail(const char *what, int rc)
{
    fprintf(stderr, "tamper_block: %s: %s\n", what, rc ? mdb_strerror(rc) : "bad input");
    return 1;
}

/* Replaces the value of key in db by a copy with bit 0 of byte `at` flipped. */
static int flip(MDB_txn *txn, MDB_dbi db, MDB_val *key, const MDB_val *val, size_t at)
{
    if (at >= val->mv_size)
        return fail("offset outside the record", 0);
    uint8_t *copy = malloc(val->mv_size);
    if (!copy)
        return fail("out of memory", 0);
    memcpy(copy, val->mv_data, val->mv_size);
    copy[at] ^= 0x01;
    MDB_val nv = {val->mv_size, copy};
    int rc = mdb_put(txn, db, key, &nv, 0);
    free(copy);
    return rc ? fail("put", rc) : 0;
}

/* Flips a bit in the middle of the envelope of the block's first message. */
static int tamper_message(MDB_txn *txn, const MDB_val *block)
{
    MDB_dbi ids, msgs;
    int rc = mdb_dbi_open(txn, "ids", 0, &ids);
    if (rc || (rc = mdb_dbi_open(txn, "messages", 0, &msgs)))
        return fail("open ids, messages", rc);
    const uint8_t *b = block->mv_data;
    if (block->mv_size < IDS_AT + HASH_SIZE ||
        (b[IDS_AT - 4] | b[IDS_AT - 3] | b[IDS_AT - 2] | b[IDS_AT - 1]) == 0)
        return fail("the block has no message", 0);
    /* the id's arrival number (8 bytes) is the key of its envelope */
    MDB_val k = {HASH_SIZE, (void *)(b + IDS_AT)}, v;
    if ((rc = mdb_get(txn, ids, &k, &v)))
        return fail("get message id", rc);
    if (v.mv_size != 8)
        return fail("arrival number size", 0);
    uint8_t seq[8];
    memcpy(seq, v.mv_data, 8);
    k = (MDB_val){8, seq};
    if ((rc = mdb_get(txn, msgs, &k, &v)))
        return fail("get message", rc);
    return flip(txn, msgs, &k, &v, v.mv_size / 2);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "root") && strcmp(argv[3], "message"))) {
        fprintf(stderr, "usage: tamper_block DIR HEIGHT root|message\n");
        return 2;
    }
    uint64_t height = strtoull(argv[2], NULL, 10);
    uint8_t key[8];
    for (int i = 0; i < 8; i++) /* heights are 8-byte big-endian keys */
        key[i] = (uint8_t)(height >> (56 - 8 * i));
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi blocks;
    int rc = mdb_env_create(&env);
    if (rc)
        return fail("env", rc);
    if ((rc = mdb_env_set_maxdbs(env, 32)) || (rc = mdb_env_open(env, argv[1], 0, 0600))) {
        mdb_env_close(env);
        return fail(argv[1], rc);
    }
    int out = 1;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn))) {
        fail("begin", rc);
        goto out_env;
    }
    MDB_val k = {sizeof key, key}, v;
    if ((rc = mdb_dbi_open(txn, "blocks", 0, &blocks)) || (rc = mdb_get(txn, blocks, &k, &v))) {
        fail("block", rc);
        goto out_txn;
    }
    out = !strcmp(argv[3], "root") ? flip(txn, blocks, &k, &v, v.mv_size - 1)
                                   : tamper_message(txn, &v);
    if (out == 0) {
        if ((rc = mdb_txn_commit(txn)))
            out = fail("commit", rc);
        goto out_env;
    }
out_txn:
    mdb_txn_abort(txn);
out_env:
    mdb_env_close(env);
    return out;
}
