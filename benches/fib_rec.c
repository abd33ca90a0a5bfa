/* fib_rec.c - benchmark: naive doubly recursive Fibonacci (call/return overhead, small frames).
 * Exports `run() -> i32` = fib(FIB_N); wasm32, no imports (see README.md). */
#define FIB_N 32

/* Read through a volatile so the compiler cannot fold the call tree into a constant. */
static volatile int fib_n = FIB_N;

static int fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((export_name("run"))) int run(void);

int run(void)
{
    return fib(fib_n);
}
