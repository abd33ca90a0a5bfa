/* loop_mem.c - benchmark: load/store loops over a 4 MiB array in linear memory (fill, prefix
 * sum, in-place transform, strided reads). Exports `run() -> i64` checksum; wasm32, no imports. */
#define N (1u << 20) /* 1 Mi u32 = 4 MiB */
#define PASSES 4

static unsigned int a[N];

__attribute__((export_name("run"))) long long run(void);

long long run(void)
{
    unsigned int x = 12345u;
    for (unsigned int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        a[i] = x >> 8;
    }
    unsigned long long sum = 0;
    for (unsigned int p = 0; p < PASSES; p++) {
        unsigned int acc = p;
        for (unsigned int i = 0; i < N; i++) { /* prefix sum */
            acc += a[i];
            a[i] = acc;
        }
        for (unsigned int i = 0; i < N; i++) { /* transform */
            unsigned int v = a[i];
            a[i] = (v ^ (v >> 7)) * 3u + i;
        }
        for (unsigned int i = 0; i < N; i += 64) { /* strided: one touch per 256 bytes */
            sum += a[i] ^ a[N - 1 - i];
        }
    }
    for (unsigned int i = 0; i < N; i++) {
        sum = sum * 31u + a[i];
    }
    return (long long)sum;
}
