/* rpc_views.h - friends inside cli/: JSON views of ledger records for the RPC methods
 * (rpc_views.c). Every json_t returned is a new reference (NULL: out of memory, or for
 * rpc_canister_summary_json a canister that does not exist). Not a library header. */
#ifndef TALLY_CLI_RPC_VIEWS_H
#define TALLY_CLI_RPC_VIEWS_H

#include "rpc.h"

/* Bytes as a JSON string of lowercase hex; a canister id as a JSON string in text form. */
json_t *rpc_hex_json(const uint8_t *p, size_t n);
json_t *rpc_canister_json(uint64_t id);

/* Each message of block b: id, sender (hex public key), kind, canister (text id or null),
 * method, arg_bytes, nonce; {"id", "missing": true} if the envelope cannot be read. Built one
 * entry at a time: once the text would pass `budget` bytes it stops, frees what it built,
 * sets *over and returns NULL. */
json_t *rpc_block_messages_json(ledger_reader *rd, const ledger_block *b, size_t budget,
                                bool *over);
/* One canister in short: canister, id, status, module_hash, heap_pages, stable_pages,
 * controllers (count), version. */
json_t *rpc_canister_summary_json(ledger_reader *rd, uint64_t id);

#endif
