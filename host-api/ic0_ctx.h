/* ic0_ctx.h - the context bits of host-api/ic0.def's `contexts` column (see the header comment
 * of ic0.def for the spec's letters they stand for): included by the host-api implementation
 * and the table's own test; everything else reads rows through host.h (host_ic0_row_at,
 * host_ic0_allowed). Definitions only. */
#ifndef TALLY_IC0_CTX_H
#define TALLY_IC0_CTX_H

enum {
    CTX_START = 1u << 0,
    CTX_INIT = 1u << 1,
    CTX_POST_UPGRADE = 1u << 2,
    CTX_PRE_UPGRADE = 1u << 3,
    CTX_UPDATE = 1u << 4,
    CTX_QUERY = 1u << 5,
    CTX_QUERY_NR = 1u << 6,
    CTX_TRANSFORM = 1u << 7,
    CTX_COMPOSITE = 1u << 8,
    CTX_REPLY = 1u << 9,
    CTX_REJECT = 1u << 10,
    CTX_CQ_REPLY = 1u << 11,
    CTX_CQ_REJECT = 1u << 12,
    CTX_CLEANUP = 1u << 13,
    CTX_CQ_CLEANUP = 1u << 14,
    CTX_INSPECT = 1u << 15,
    CTX_HEARTBEAT = 1u << 16,
    CTX_TIMER = 1u << 17,
    CTX_LOW_MEMORY = 1u << 18,
    CTX_TASK = CTX_HEARTBEAT | CTX_TIMER | CTX_LOW_MEMORY,
    CTX_ALL = (1u << 19) - 1u - CTX_START,
};

#endif
