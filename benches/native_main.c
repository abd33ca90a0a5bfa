/* native_main.c - the native build of a benchmark program (benches/meson.build: NAME.native,
 * clang -O2 for the host): calls `run` once and prints its result (64 bits; an i32 program's
 * value is its low 32 bits) and the seconds the call took, for `tally bench interp`'s native
 * column: CPU time of the thread, as tally's own columns are measured (bench/bench.c now()), so
 * neither side is charged for time another process had the core. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

long long run(void);

int main(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    unsigned long long r = (unsigned long long)run();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%llu %.9f\n", r, s);
    return 0;
}
