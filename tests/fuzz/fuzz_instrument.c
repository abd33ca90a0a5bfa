/* fuzz_instrument.c - libFuzzer harness: the metering pass on every valid module the fuzzer
 * finds (invalid inputs are dropped after decoding).
 *
 * Properties (docs/decisions.md "instrument"): instrumenting a valid module succeeds (or hits a
 * static limit, or runs out of memory); its output decodes and validates; instrumenting that
 * output again is ST_RESERVED_NAME; the pass is deterministic (a second run gives identical
 * bytes); the output records the schedule it was made with. */
#include "fuzz.h"

#include <string.h>

#include "instrument.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    if (engine_module_load(&cfg, span_of(data, size), &m, NULL) != ST_OK)
        return 0;

    buf out1 = {0}, out2 = {0}, out3 = {0};
    engine_module *im = NULL;
    status st = instrument_module(m, ENGINE_SCHEDULE_V1, &out1, NULL);
    if (st == ST_RESERVED_NAME || st == ST_LIMIT_EXCEEDED || st == ST_OUT_OF_MEMORY) {
        /* reserved: the input already uses __tally names (e.g. an instrumented seed) */
        FUZZ_CHECK(out1.len == 0);
        goto out_free_module;
    }
    FUZZ_CHECK(st == ST_OK);

    engine_error err;
    status ld = engine_module_load(&cfg, span_of(out1.ptr, out1.len), &im, &err);
    if (ld != ST_OK)
        fprintf(stderr, "instrumented module rejected: %s (%s) at %zu\n", status_name(ld),
                err.detail, err.offset);
    FUZZ_CHECK(ld == ST_OK || ld == ST_LIMIT_EXCEEDED || ld == ST_OUT_OF_MEMORY);
    if (ld == ST_OK) {
        FUZZ_CHECK(instrument_schedule_of(im) == ENGINE_SCHEDULE_V1);
        FUZZ_CHECK(instrument_module(im, ENGINE_SCHEDULE_V1, &out3, NULL) == ST_RESERVED_NAME);
        FUZZ_CHECK(out3.len == 0);
        engine_module_free(im);
    }

    st = instrument_module(m, ENGINE_SCHEDULE_V1, &out2, NULL);
    FUZZ_CHECK(st == ST_OK || st == ST_OUT_OF_MEMORY);
    if (st == ST_OK) {
        FUZZ_CHECK(out2.len == out1.len);
        FUZZ_CHECK(memcmp(out1.ptr, out2.ptr, out1.len) == 0);
    }
    buf_fini(&out2);
    buf_fini(&out3);
    buf_fini(&out1);
out_free_module:
    engine_module_free(m);
    return 0;
}
