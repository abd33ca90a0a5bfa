/* cli.h - friends inside cli/: the subcommand table and shared helpers. Not a library header. */
#ifndef TALLY_CLI_H
#define TALLY_CLI_H

#include "base.h"

#include <signal.h>
#include <stdio.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit code */
} cli_command;

/* True if argv has --help or -h; then the command prints its usage to stdout and exits 0. */
int cli_wants_help(int argc, char **argv);
/* Reads a whole file (base_read_file). */
static inline status cli_read_file(const char *path, uint8_t **out, size_t *len)
{
    return base_read_file(path, out, len);
}

int cmd_validate(int argc, char **argv);
int cmd_instrument(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* The node and its clients (cmd_init.c, cmd_node.c, cmd_client.c, cmd_replay.c). */
int cmd_init(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_abci(int argc, char **argv);
int cmd_client(int argc, char **argv); /* deploy upgrade call query status block receipt */
int cmd_replay(int argc, char **argv);
/* `tally bench node` (bench_node.c): it drives a node over RPC, so it stays with the command;
 * the other benchmarks are the bench/ library (bench.h). */
int bench_node(int argc, char **argv);
int bench_localnet(int argc, char **argv); /* bench_localnet.c: through validators */
/* bench_calls.c: `tally bench node --calls`, the node time of an inter-canister request and
 * reply, on fresh ledgers at dir-base and dir-calls. ST_OK or the first failure. */
status bench_calls(const char *dir, uint32_t messages, bool json);
int bench_candid(int argc, char **argv); /* bench_candid.c: Candid throughput */
/* The stop signals of the long-running commands (node, abci; util.c): SIGINT and SIGTERM set
 * cli_stop and write a byte into the wake pipe cli_wake (read end [0], write end [1], both
 * non-blocking and close-on-exec), so that a loop polling cli_wake[0] wakes at once; SIGPIPE is
 * ignored. cli_signals_catch makes the pipe and installs the handlers (false: no pipe);
 * cli_signals_release closes the pipe. */
extern volatile sig_atomic_t cli_stop;
extern int cli_wake[2];
bool cli_signals_catch(void);
void cli_signals_release(void);
/* Makes jansson allocate through base_alloc (encode.c). */
void cli_json_init(void);

#endif
