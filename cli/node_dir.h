/* node_dir.h - friends inside cli/: checks and safe writes of a node directory's files
 * (node_dir.c). Not a library header. */
#ifndef TALLY_CLI_NODE_DIR_H
#define TALLY_CLI_NODE_DIR_H

#include "rpc.h"

#include <sys/types.h>

/* Checks that dir is an existing directory that other users cannot write to and, if
 * need_ledger, that it holds a ledger whose data file is whole (ledger_file_check). Never
 * creates anything. Prints "tally CMD: DIR: STATUS: why" to stderr and returns 1 (or 2 for a
 * path too long) when not; 0 when it may be opened. */
int cli_node_dir_check(const char *cmd, const char *dir, bool need_ledger);

/* Writes text as DIR/NAME (mode) through a new temporary file and rename, so a symlink or
 * hard link planted at DIR/NAME is replaced, never written through. On failure `why` (caller's,
 * cap bytes) names the path and the errno text. ST_OK, ST_IO_ERROR, ST_BAD_ARGUMENT. */
status cli_file_replace(const char *dir, const char *name, const char *text, mode_t mode,
                        char *why, size_t cap);

/* Takes the node lock of dir (an exclusive flock on DIR/node.lock, opened without following
 * symlinks). Returns the descriptor (keep it open: the lock lives as long as it does), or -1
 * with `why` set; *held_by_other says that a running node holds it. */
int cli_node_lock(const char *dir, bool *held_by_other, char *why, size_t cap);

/* Asks the node at url for its status and compares its chain id and genesis hash with those
 * recorded in a node directory's config (fields left "" are not compared). ST_OK (same chain;
 * *status_out, if not NULL, receives the status result, the caller's); ST_GENESIS_MISMATCH
 * (err->message says which chain each side has); the errors of rpc_client_call. */
status cli_chain_check(const char *url, const cli_config *cfg, json_t **status_out,
                       rpc_error *err);

#endif
