/* matmul_f64.c - benchmark: 128x128 f64 matrix multiply (i-k-j order), repeated with the result
 * rescaled and fed back. Only +, *, / on finite values: bit-exact on every IEEE-754 engine.
 * Exports `run() -> i64` = the bits of the checksum (sum of the last product); wasm32, no imports. */
#define M 128
#define REPS 4

static double a[M][M], b[M][M], c[M][M];

__attribute__((export_name("run"))) long long run(void);

long long run(void)
{
    unsigned int x = 11u;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < M; j++) {
            x = x * 1664525u + 1013904223u;
            a[i][j] = (double)(x >> 8) / 16777216.0 - 0.5;
            x = x * 1664525u + 1013904223u;
            b[i][j] = (double)(x >> 8) / 16777216.0 - 0.5;
        }
    }
    double sum = 0.0;
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < M; j++) {
                c[i][j] = 0.0;
            }
            for (int k = 0; k < M; k++) {
                double aik = a[i][k];
                for (int j = 0; j < M; j++) {
                    c[i][j] += aik * b[k][j];
                }
            }
        }
        sum = 0.0;
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < M; j++) {
                sum += c[i][j];
                a[i][j] = c[i][j] / 8.0; /* keeps magnitudes bounded across repetitions */
            }
        }
    }
    union { double d; long long bits; } u;
    u.d = sum;
    return u.bits;
}
