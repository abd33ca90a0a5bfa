/* fuzz.h - what every tally fuzz harness shares: the libFuzzer entry point and the check that
 * turns a broken property into a crash libFuzzer (or the replay driver) reports.
 *
 * Each harness fuzz_<name>.c defines LLVMFuzzerTestOneInput. Built with clang and -Dfuzz=true
 * it links against libFuzzer (-fsanitize=fuzzer); otherwise it links with replay.c, a main()
 * that feeds every file of its arguments to the same function, so `meson test --suite fuzz`
 * replays the seed corpus under any compiler (tests/fuzz/meson.build). */
#ifndef TALLY_FUZZ_H
#define TALLY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep: report it and abort (libFuzzer saves the input). */
static inline void fuzz_check(bool ok, const char *what, const char *file, int line)
{
    if (!ok) {
        fprintf(stderr, "%s:%d: fuzz property violated: %s\n", file, line, what);
        abort();
    }
}
#define FUZZ_CHECK(cond) fuzz_check((cond), #cond, __FILE__, __LINE__)

/* True for a status a rejected input may give: OK, any INVALID, or out of memory. */
static inline bool fuzz_status_rejects(status st)
{
    status_class c = status_class_of(st);
    return c == SC_OK || c == SC_INVALID || st == ST_OUT_OF_MEMORY;
}

#endif
