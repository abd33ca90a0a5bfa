/* main.c - the `tally` command: dispatches subcommands. The only place (with the other cli/
 * files) that parses argv. Every subcommand has --help; errors go to stderr with the status
 * name and a non-zero exit (docs/decisions.md "cli"). */
#include "bench.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* `tally bench`: the node, localnet and Candid benchmarks are here (bench_node.c,
 * bench_localnet.c, bench_candid.c), the others in bench/. */
static int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "node"))
        return bench_node(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "localnet"))
        return bench_localnet(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "candid"))
        return bench_candid(argc - 1, argv + 1);
    return bench_main(argc, argv);
}

static const cli_command commands[] = {
    {"validate", "decode and validate Wasm modules", cmd_validate},
    {"instrument", "write the instruction-metered version of a module", cmd_instrument},
    {"run", "run one export of a module (no imports, or metered)", cmd_run},
    {"bench",
     "benchmarks: interp, instantiate, meter, host, node, localnet, weights, candid, shapes",
     cmd_bench},
    {"init", "create a node directory (ledger, genesis, admin key, config)", cmd_init},
    {"key", "make or show an ed25519 key file", cmd_key},
    {"node", "run a node: produce blocks, serve JSON-RPC over HTTP", cmd_node},
    {"abci", "run a CometBFT validator's application (replicated mode)", cmd_abci},
    {"deploy", "install a module as a new canister (prints its id)", cmd_client},
    {"upgrade", "upgrade a canister to a new module", cmd_client},
    {"call", "send an update message and wait for its receipt", cmd_client},
    {"query", "run a query on the last block's state", cmd_client},
    {"status", "show the node's chain, height and roots", cmd_client},
    {"block", "show a block", cmd_client},
    {"receipt", "show the receipt of a message", cmd_client},
    {"canisters", "list the canisters", cmd_client},
    {"canister", "show one canister (module hash, controllers, memory, status)", cmd_client},
    {"cycles", "mint cycles to a canister, show balances and the chain's accounts", cmd_client},
    {"replay", "re-execute a node's blocks and verify every root", cmd_replay},
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
    cli_json_init();
    for (size_t i = 0; i < BASE_ARRAY_LEN(commands); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tally: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
