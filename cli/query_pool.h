/* query_pool.h - the node's query workers (query_pool.c): a bounded pool of threads, each with
 * its own querier (scheduler.h: replicas of the canisters on the last committed block), a
 * bounded queue, and a budget of query instructions per second for each client address.
 * Nothing here is state: queries never write it, and the round thread never waits for them
 * (docs/scheduler.md "Queries"). */
#ifndef TALLY_CLI_QUERY_POOL_H
#define TALLY_CLI_QUERY_POOL_H

#include "scheduler.h"

typedef struct query_pool query_pool;

typedef struct query_pool_options {
    unsigned threads;           /* worker threads (1-64) */
    unsigned queue;             /* queries that may wait for a worker; more: ST_QUERY_BUSY */
    uint64_t instruction_limit; /* per query; 0 or above the genesis limit: the genesis limit */
    uint64_t client_budget;     /* instructions per second per client address; 0: no budget */
    uint64_t cache_bytes;       /* per worker: heap and stable memory its replicas hold */
} query_pool_options;

/* tally node's defaults: threads = half the online processors (at least 1, at most 8), queue
 * 2 per thread (a query waits at most for three maximal ones), the genesis limit, 1e9
 * instructions per second per address (about one worker's speed: one maximal query every five
 * seconds), 512 MiB of replicas per worker. */
void query_pool_defaults(query_pool_options *o);

/* Starts the workers over s (which outlives the pool). ST_OK, ST_BAD_ARGUMENT (threads),
 * ST_OUT_OF_MEMORY (memory, or a thread cannot start). */
status query_pool_new(scheduler *s, const query_pool_options *o, query_pool **out);
/* Stops the workers after the queries they run; NULL allowed. */
void query_pool_free(query_pool *p);

/* The limit one query gets (the smaller of the option and the genesis limit), and the budget
 * of a client address (instructions per second; 0: none). */
uint64_t query_pool_limit(const query_pool *p);
uint64_t query_pool_budget(const query_pool *p);

/* Runs a query for the client at address `client` (16 bytes: an IPv6 address, or IPv4 mapped)
 * on a worker and waits for it. Spans are borrowed until it returns. Returns
 * scheduler_querier_run's statuses, ST_QUERY_BUDGET_EXCEEDED (the client's budget is used up:
 * nothing ran; *retry_ms says when it is positive again) or ST_QUERY_BUSY (queue full). A
 * query starts while its client's budget is positive and takes the query limit from it, giving
 * back what it did not use when it ends: one query can overdraw the budget, and the client
 * then waits until it refills. */
status query_pool_run(query_pool *p, const uint8_t client[16], uint64_t canister_id, span method,
                      span arg, span caller, host_result *res, uint64_t *retry_ms);

/* Runs canister_inspect_message for an ingress update on a worker (scheduler_querier_inspect),
 * within the client's budget as a query with the inspect limit; the same statuses. */
status query_pool_inspect(query_pool *p, const uint8_t client[16], uint64_t canister_id,
                          span method, span arg, span caller, host_result *res,
                          uint64_t *retry_ms);

/* Counters since query_pool_new: queries run, refused for the budget, refused as busy. */
void query_pool_stats(query_pool *p, uint64_t *run, uint64_t *over_budget, uint64_t *busy);

#endif
