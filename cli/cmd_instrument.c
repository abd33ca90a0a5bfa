/* cmd_instrument.c - `tally instrument IN.wasm -o OUT.wasm [--schedule N]`: write the metered
 * module (the IC's instruction-counting algorithm, instrument/instrument.h). */
#include "cli.h"
#include "instrument.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally instrument IN.wasm -o OUT.wasm [--schedule N]\n\n"
            "Validates IN.wasm and writes OUT.wasm: the same module with instruction\n"
            "counting injected (import __tally.out_of_instructions, exported i64 global\n"
            "__tally_counter). The output is a valid module for any Wasm engine.\n\n"
            "  -o FILE         where to write the instrumented module (required)\n"
            "  --schedule N    weight schedule (default %d, the IC's weights)\n",
            ENGINE_SCHEDULE_LATEST);
}

static int write_all(const char *path, const buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(b->ptr, 1, b->len, f);
    int rc = fclose(f);
    return (n == b->len && rc == 0) ? 0 : -1;
}

int cmd_instrument(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *in = NULL, *outpath = NULL;
    int schedule = ENGINE_SCHEDULE_LATEST;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            outpath = argv[++i];
        else if (!strcmp(argv[i], "--schedule") && i + 1 < argc)
            schedule = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !in)
            in = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!in || !outpath) {
        usage(stderr);
        return 2;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!cli_read_input("tally instrument", in, &bytes, &len))
        return 1;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_module *m = NULL;
    engine_error err = {0};
    buf out = {0};
    status st = engine_module_load(&cfg, span_of(bytes, len), &m, &err);
    if (st == ST_OK)
        st = instrument_module(m, schedule, &out, &err);
    int rc = 0;
    if (st != ST_OK) {
        char msg[256];
        engine_error_format(&err, msg, sizeof msg);
        fprintf(stderr, "tally instrument: %s: %s\n", in, msg);
        rc = 1;
    } else if (write_all(outpath, &out) != 0) {
        fprintf(stderr, "tally instrument: %s: IO_ERROR: cannot write\n", outpath);
        rc = 1;
    }
    buf_fini(&out);
    engine_module_free(m);
    base_free(bytes);
    return rc;
}
