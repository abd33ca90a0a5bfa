/* hash.c - benchmark: byte-at-a-time FNV-1a (64-bit) and a word-at-a-time multiply-rotate mix
 * over a 64 KiB generated buffer, many rounds, each round reseeding the buffer with the previous
 * hash. Exports `run() -> i64` checksum; wasm32, no imports. */
#define BUF 65536u
#define ROUNDS 40

static unsigned char buf[BUF];

static unsigned long long fnv1a(const unsigned char *p, unsigned int n)
{
    unsigned long long h = 0xcbf29ce484222325ull;
    for (unsigned int i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static unsigned long long rotl(unsigned long long v, int r)
{
    return (v << r) | (v >> (64 - r));
}

/* A 64-bit multiply-rotate hash over 8-byte little-endian words (xxhash-like in spirit). */
static unsigned long long mix64(const unsigned char *p, unsigned int n, unsigned long long seed)
{
    unsigned long long h = seed ^ 0x9e3779b97f4a7c15ull;
    for (unsigned int i = 0; i + 8 <= n; i += 8) {
        unsigned long long w = 0;
        for (int b = 7; b >= 0; b--) {
            w = (w << 8) | p[i + (unsigned int)b];
        }
        h ^= rotl(w * 0xc2b2ae3d27d4eb4full, 31) * 0x9e3779b97f4a7c15ull;
        h = rotl(h, 27) * 5u + 0x52dce729u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

__attribute__((export_name("run"))) long long run(void);

long long run(void)
{
    unsigned long long h = 1;
    for (int r = 0; r < ROUNDS; r++) {
        unsigned int x = (unsigned int)h | 1u;
        for (unsigned int i = 0; i < BUF; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (unsigned char)x;
        }
        h = fnv1a(buf, BUF) ^ mix64(buf, BUF, h);
    }
    return (long long)h;
}
