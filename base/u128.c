/* u128.c - cycle amounts as decimal text (the CLI, RPC and receipts print and read them). */
#include "base.h"

size_t u128_format(u128 v, char out[U128_TEXT_SIZE])
{
    char tmp[U128_TEXT_SIZE];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

bool u128_parse(const char *text, u128 *out)
{
    u128 v = 0;
    const char *p = text;
    if (!*p)
        return false;
    for (; *p; p++) {
        if (*p == '_')
            continue; /* 1_000_000, as the IC's tools print amounts */
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (U128_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (p[-1] == '_' || text[0] == '_')
        return false;
    *out = v;
    return true;
}
