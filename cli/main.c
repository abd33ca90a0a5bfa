/* main.c - the `tally` command: dispatches subcommands. The only place (with the other cli/
 * files) that parses argv. Every subcommand has --help; errors go to stderr with the status
 * name and a non-zero exit (DESIGN.md "cli"). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"validate", "decode and validate Wasm modules", cmd_validate},
    {"instrument", "write the instruction-metered version of a module", cmd_instrument},
    {"run", "run one export of a module (no imports)", cmd_run},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tally <command> [options]\n\n"
                 "tally is a deterministic WebAssembly contract execution engine.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < BASE_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\noptions:\n  --help       show this help\n  --version    show the version\n"
                 "\nRun `tally <command> --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("tally %s\n", TALLY_VERSION);
        return 0;
    }
    for (size_t i = 0; i < BASE_ARRAY_LEN(commands); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tally: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
