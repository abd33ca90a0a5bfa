/* alloc.c - the allocator hook: every allocation in tally goes through here, so that tests can
 * fail the Nth one (fault injection) and check for a FAULT status and no leak. Also the
 * address-space reservations (base.h), on mmap/mprotect/madvise. */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static atomic_ulong total;              /* allocations attempted since start */
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

/* ---- address-space reservations ------------------------------------------------------------ */

_Static_assert(BASE_VMEM_PAGE >= 4096 && (BASE_VMEM_PAGE & (BASE_VMEM_PAGE - 1)) == 0,
               "a power of two, at least the smallest host page");

static size_t page_down(size_t n)
{
    return n & ~(size_t)(BASE_VMEM_PAGE - 1);
}

static size_t page_up(size_t n)
{
    return page_down(n + BASE_VMEM_PAGE - 1);
}

void *base_vmem_reserve(size_t size)
{
    if (inject() || !size || size > SIZE_MAX - BASE_VMEM_PAGE)
        return NULL;
    /* PROT_NONE and MAP_NORESERVE: no commit charge until base_vmem_commit. */
    void *p =
        mmap(NULL, page_up(size), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

bool base_vmem_commit(void *p, size_t from, size_t to)
{
    if (inject())
        return false;
    size_t a = page_down(from), b = page_up(to);
    return b <= a || mprotect((uint8_t *)p + a, b - a, PROT_READ | PROT_WRITE) == 0;
}

/* MADV_DONTNEED on a private anonymous mapping frees the pages: they read as zero next time and
 * stay accessible. Partial pages at either end are written. */
void base_vmem_zero(void *p, size_t from, size_t to)
{
    uint8_t *b = p;
    size_t head = page_up(from), whole = page_down(to);
    if (from >= to)
        return;
    if (head >= whole) {
        memset(b + from, 0, to - from);
        return;
    }
    memset(b + from, 0, head - from);
    (void)madvise(b + head, whole - head, MADV_DONTNEED);
    memset(b + whole, 0, to - whole);
}

void base_vmem_release(void *p, size_t size)
{
    if (p)
        (void)munmap(p, page_up(size));
}

/* ---- zero-filled areas ---------------------------------------------------------------------- */

bool base_zarea_grow(base_zarea *z, size_t n, size_t max)
{
    if (n <= z->len)
        return true;
    if (n > max)
        return false;
    if (z->resv) {
        if (!base_vmem_commit(z->ptr, z->len, n))
            return false;
    } else if (n <= BASE_ZAREA_SMALL || max <= BASE_ZAREA_SMALL) {
        uint8_t *q = base_realloc(z->ptr, n);
        if (!q)
            return false;
        memset(q + z->len, 0, n - z->len);
        z->ptr = q;
    } else {
        uint8_t *q = base_vmem_reserve(max);
        if (!q)
            return false;
        if (!base_vmem_commit(q, 0, n)) {
            base_vmem_release(q, max);
            return false;
        }
        if (z->len)
            memcpy(q, z->ptr, z->len);
        base_free(z->ptr);
        z->ptr = q;
        z->resv = max;
    }
    z->len = n;
    return true;
}

void base_zarea_zero(base_zarea *z, size_t from, size_t to)
{
    if (to > z->len)
        to = z->len;
    if (from >= to)
        return;
    if (z->resv)
        base_vmem_zero(z->ptr, from, to);
    else
        memset(z->ptr + from, 0, to - from);
}

void base_zarea_free(base_zarea *z)
{
    if (z->resv)
        base_vmem_release(z->ptr, z->resv);
    else
        base_free(z->ptr);
    memset(z, 0, sizeof *z);
}
