/* alloc.c - the allocator hook: every allocation in tally goes through here, so that tests can
 * fail the Nth one (fault injection) and check for a FAULT status and no leak. */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_ulong total;         /* allocations attempted since start */
static atomic_long fail_countdown = -1; /* successes left before failing; < 0: off */
static atomic_bool fail_sticky;

void base_alloc_fail_after(long n, bool sticky)
{
    atomic_store(&fail_sticky, sticky);
    atomic_store(&fail_countdown, n);
}

unsigned long base_alloc_count(void)
{
    return atomic_load(&total);
}

/* True if this allocation must fail. */
static bool inject(void)
{
    atomic_fetch_add(&total, 1);
    long left = atomic_load(&fail_countdown);
    if (left < 0)
        return false;
    if (left == 0) {
        if (!atomic_load(&fail_sticky))
            atomic_store(&fail_countdown, -1);
        return true;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

void *base_alloc(size_t n)
{
    if (inject())
        return NULL;
    return malloc(n ? n : 1);
}

void *base_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (inject())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *base_realloc(void *p, size_t n)
{
    if (inject())
        return NULL;
    return realloc(p, n ? n : 1);
}

void base_free(void *p)
{
    free(p);
}
