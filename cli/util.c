/* util.c - small helpers shared by the cli/ subcommands: --help detection (files: base_read_file). */
#include "cli.h"

#include <string.h>

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}
