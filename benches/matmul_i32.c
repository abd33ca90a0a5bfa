/* matmul_i32.c - benchmark: 128x128 i32 matrix multiply (triple loop, i-k-j order), repeated
 * with the result fed back. Exports `run() -> i32` checksum; wasm32, no imports. */
#define M 128
#define REPS 4

static int a[M][M], b[M][M], c[M][M];

__attribute__((export_name("run"))) int run(void);

int run(void)
{
    unsigned int x = 7u;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < M; j++) {
            x = x * 1103515245u + 12345u;
            a[i][j] = (int)(x >> 16) % 100 - 50;
            x = x * 1103515245u + 12345u;
            b[i][j] = (int)(x >> 16) % 100 - 50;
        }
    }
    unsigned int check = 0;
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < M; j++) {
                c[i][j] = 0;
            }
            for (int k = 0; k < M; k++) {
                int aik = a[i][k];
                for (int j = 0; j < M; j++) {
                    c[i][j] += aik * b[k][j];
                }
            }
        }
        for (int i = 0; i < M; i++) { /* feed back, kept small: a = (c mod 97) - 48 */
            for (int j = 0; j < M; j++) {
                check = check * 31u + (unsigned int)c[i][j];
                a[i][j] = c[i][j] % 97 - 48;
            }
        }
    }
    return (int)check;
}
