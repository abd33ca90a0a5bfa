/* sieve.c - benchmark: sieve of Eratosthenes over 2,000,000 bytes, repeated, counting primes
 * (byte stores with large strides, a data-dependent branch per byte).
 * Exports `run() -> i32` = primes below LIMIT times REPS plus a position checksum; wasm32, no imports. */
#define LIMIT 2000000u
#define REPS 2

static unsigned char composite[LIMIT];

__attribute__((export_name("run"))) int run(void);

int run(void)
{
    unsigned int total = 0;
    for (int r = 0; r < REPS; r++) {
        for (unsigned int i = 0; i < LIMIT; i++) {
            composite[i] = 0;
        }
        for (unsigned int p = 2; p * p < LIMIT; p++) {
            if (!composite[p]) {
                for (unsigned int m = p * p; m < LIMIT; m += p) {
                    composite[m] = 1;
                }
            }
        }
        unsigned int count = 0, last = 0;
        for (unsigned int i = 2; i < LIMIT; i++) {
            if (!composite[i]) {
                count++;
                last = i;
            }
        }
        total += count + (last ^ (unsigned int)r);
    }
    return (int)total;
}
