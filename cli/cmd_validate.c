/* cmd_validate.c - `tally validate FILE.wasm...`: decode and validate each module, print `ok` or
 * the status name, message and byte offset; exit 1 if any module is invalid. */
#include "cli.h"
#include "engine.h"

#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tally validate FILE.wasm...\n\n"
            "Decodes and validates each WebAssembly binary module against tally's feature set\n"
            "(Wasm 2.0 core without SIMD) and static limits. Prints one line per file:\n"
            "  FILE: ok\n  FILE: STATUS_NAME: message (detail) at offset N\n"
            "Exit status: 0 if all modules are valid, 1 if any is not, 2 on usage errors.\n");
}

int cmd_validate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    engine_config cfg;
    engine_config_default(&cfg);
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (!cli_read_input(NULL, argv[i], &bytes, &len)) {
            rc = 1;
            continue;
        }
        engine_module *m = NULL;
        engine_error err;
        status st = engine_module_load(&cfg, span_of(bytes, len), &m, &err);
        base_free(bytes);
        if (st == ST_OK) {
            printf("%s: ok\n", argv[i]);
            engine_module_free(m);
        } else {
            char msg[256];
            engine_error_format(&err, msg, sizeof msg);
            printf("%s: %s\n", argv[i], msg);
            rc = 1;
        }
    }
    return rc;
}
