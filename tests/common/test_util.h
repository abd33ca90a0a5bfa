/* test_util.h - small helpers shared by the cmocka tests (header-only: each test is its own
 * binary). Include after <cmocka.h> and base.h. */
#ifndef TALLY_TEST_UTIL_H
#define TALLY_TEST_UTIL_H

#include <stdio.h>
#include <unistd.h>

/* Appends the whole file at path to *out; fails the test if it cannot be read. */
static inline void test_read_file(const char *path, buf *out)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0)
        assert_int_equal(buf_put(out, tmp, n), ST_OK);
    assert_int_equal(ferror(fp), 0);
    fclose(fp);
}

/* Resident memory of this process in bytes (/proc/self/statm's second field). */
static inline uint64_t test_resident_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    assert_non_null(fp);
    unsigned long size = 0, res = 0;
    assert_int_equal(fscanf(fp, "%lu %lu", &size, &res), 2);
    fclose(fp);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

#endif
