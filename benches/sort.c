/* sort.c - benchmark: quicksort (median of three, insertion sort below 16, recursion on the
 * smaller side) of 200,000 pseudo-random u32 from an LCG, then a sortedness check.
 * Exports `run() -> i64` checksum (-1 if the result is not sorted); wasm32, no imports. */
#define N 200000u

static unsigned int v[N];

static void swap(unsigned int *p, unsigned int *q)
{
    unsigned int t = *p;
    *p = *q;
    *q = t;
}

static void insertion(unsigned int *s, int n)
{
    for (int i = 1; i < n; i++) {
        unsigned int x = s[i];
        int j = i - 1;
        while (j >= 0 && s[j] > x) {
            s[j + 1] = s[j];
            j--;
        }
        s[j + 1] = x;
    }
}

static void quicksort(unsigned int *s, int n)
{
    while (n > 16) {
        int m = n / 2;
        if (s[m] < s[0]) swap(&s[m], &s[0]);
        if (s[n - 1] < s[0]) swap(&s[n - 1], &s[0]);
        if (s[n - 1] < s[m]) swap(&s[n - 1], &s[m]);
        unsigned int pivot = s[m];
        int i = 0, j = n - 1;
        for (;;) {
            while (s[i] < pivot) i++;
            while (s[j] > pivot) j--;
            if (i >= j) break;
            swap(&s[i], &s[j]);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j+1, n): recurse into the smaller part, loop on the larger. */
        if (j + 1 < n - j - 1) {
            quicksort(s, j + 1);
            s += j + 1;
            n -= j + 1;
        } else {
            quicksort(s + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    insertion(s, n);
}

__attribute__((export_name("run"))) long long run(void);

long long run(void)
{
    unsigned int x = 2463534242u;
    for (unsigned int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        v[i] = x;
    }
    quicksort(v, (int)N);
    unsigned long long check = 0;
    for (unsigned int i = 0; i < N; i++) {
        if (i > 0 && v[i - 1] > v[i]) {
            return -1;
        }
        check = check * 1000003u + v[i];
    }
    return (long long)check;
}
