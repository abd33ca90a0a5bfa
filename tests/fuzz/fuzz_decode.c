/* fuzz_decode.c - libFuzzer harness: the decoder and validator on arbitrary bytes.
 *
 * Properties: engine_module_decode/_validate/_load never crash, leak or read out of bounds
 * (ASan, UBSan); a rejected module gives an INVALID status (or out of memory), never a trap,
 * fault or bug, with *out NULL; load agrees with decode followed by validate; the error report
 * formats. Seeds: tests/fuzz/corpus/decode (spec modules, example canisters). */
#include "fuzz.h"

#include <string.h>

#include "engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = (engine_module *)&cfg; /* must be overwritten with NULL on failure */
    engine_error err;
    memset(&err, 0, sizeof err);
    span in = span_of(data, size);

    status dec = engine_module_decode(&cfg, in, &m, &err);
    FUZZ_CHECK(fuzz_status_rejects(dec));
    status want = dec;
    if (dec == ST_OK) {
        FUZZ_CHECK(m != NULL);
        FUZZ_CHECK(m->bytes.len == size);
        want = engine_module_validate(&cfg, m, &err);
        FUZZ_CHECK(fuzz_status_rejects(want));
        engine_module_free(m);
    } else {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(err.st == dec);
    }
    char text[256];
    engine_error_format(&err, text, sizeof text);
    FUZZ_CHECK(memchr(text, '\0', sizeof text) != NULL);

    engine_module *m2 = NULL;
    status load = engine_module_load(&cfg, in, &m2, NULL);
    FUZZ_CHECK(load == want);
    FUZZ_CHECK((load == ST_OK) == (m2 != NULL));
    engine_module_free(m2);
    return 0;
}
