/* fuzz_abci.c - libFuzzer harness: the ABCI frame decoder (abci/codec.c) on an arbitrary byte
 * stream, as a CometBFT connection would deliver it, and each frame's message through the
 * generated protobuf decoder of tendermint.abci.Request (abci/tally_abci.proto).
 *
 * Properties: abci_frame_next returns only OK, NOT_FOUND (incomplete) or ABCI_MALFORMED; a frame
 * lies inside the input (prefix and message), consumes at least one byte and at most the rest;
 * a message re-framed by abci_frame_put decodes to the same bytes, in a frame no longer than
 * the original (the writer's prefix is minimal); the request decoder either refuses a message
 * or returns one that frees cleanly. Seeds: tests/fuzz/corpus/abci. */
#include "fuzz.h"

#include <string.h>

#include "abci.h"
#include "tally_abci.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t at = 0;
    while (at < size) {
        span msg;
        size_t used = 0;
        status st = abci_frame_next(span_of(data + at, size - at), &msg, &used);
        FUZZ_CHECK(st == ST_OK || st == ST_NOT_FOUND || st == ST_ABCI_MALFORMED);
        if (st != ST_OK)
            break;
        FUZZ_CHECK(used >= 1 && used <= size - at && msg.len < used);
        FUZZ_CHECK(msg.ptr == data + at + (used - msg.len));
        buf again = {0};
        FUZZ_CHECK(abci_frame_put(&again, msg) == ST_OK);
        FUZZ_CHECK(again.len <= used);
        span back;
        size_t used2 = 0;
        FUZZ_CHECK(abci_frame_next(span_of(again.ptr, again.len), &back, &used2) == ST_OK);
        FUZZ_CHECK(used2 == again.len && back.len == msg.len &&
                   (!msg.len || !memcmp(back.ptr, msg.ptr, msg.len)));
        buf_fini(&again);
        Tendermint__Abci__Request *q = tendermint__abci__request__unpack(NULL, msg.len, msg.ptr);
        if (q)
            tendermint__abci__request__free_unpacked(q, NULL);
        at += used;
    }
    return 0;
}
