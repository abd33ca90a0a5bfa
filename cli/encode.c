/* encode.c - byte encodings the cli speaks: hex, base64, user arguments (text, 0x-hex, @file),
 * canister ids and numbers as typed by users, and jansson's allocator hook. Pure functions; the
 * JSON-RPC field rules are in docs/rpc.md. */
#include "rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cli_json_init(void)
{
    json_set_alloc_funcs(base_alloc, base_free);
}

char *cli_hex_new(const uint8_t *p, size_t n)
{
    char *s = base_alloc(2 * n + 1);
    if (s)
        base_hex_write(p, n, s);
    return s;
}

status cli_hex_decode(const char *s, size_t len, buf *out)
{
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        len -= 2;
    }
    if (len % 2)
        return ST_BAD_ARGUMENT;
    if (len == 0)
        return ST_OK;
    status st = buf_reserve(out, len / 2);
    if (st != ST_OK)
        return st;
    if (!base_hex_read(s, len, out->ptr + out->len))
        return ST_BAD_ARGUMENT;
    out->len += len / 2;
    return ST_OK;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

status cli_base64_decode(const char *s, size_t len, buf *out)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return ST_BAD_ARGUMENT;
    for (size_t i = 0; i < len; i++)
        if (b64_value(s[i]) < 0)
            return ST_BAD_ARGUMENT;
    status st = buf_reserve(out, len / 4 * 3 + 3);
    if (st != ST_OK)
        return st;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = acc << 6 | (uint32_t)b64_value(s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->ptr[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    /* The unused low bits of the last character must be zero (canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1)))
        return ST_BAD_ARGUMENT;
    return ST_OK;
}

status cli_bytes_decode(const char *s, size_t len, buf *out)
{
    size_t before = out->len;
    status st = cli_hex_decode(s, len, out);
    bool says_hex = len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (st == ST_BAD_ARGUMENT && !says_hex) { /* "0xg0" is bad hex, not base64 */
        out->len = before;
        st = cli_base64_decode(s, len, out);
    }
    return st;
}

status cli_hash_parse(const char *s, uint8_t out[LEDGER_HASH_SIZE])
{
    buf b = {0};
    status st = cli_hex_decode(s, strlen(s), &b);
    if (st == ST_OK && b.len != LEDGER_HASH_SIZE)
        st = ST_BAD_ARGUMENT;
    if (st == ST_OK)
        memcpy(out, b.ptr, LEDGER_HASH_SIZE);
    buf_fini(&b);
    return st == ST_OUT_OF_MEMORY ? st : st == ST_OK ? ST_OK : ST_BAD_ARGUMENT;
}

status cli_arg_parse(const char *text, buf *out)
{
    size_t len = strlen(text);
    if (len >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        return cli_hex_decode(text, len, out);
    if (text[0] == '@') {
        uint8_t *bytes = NULL;
        size_t n = 0;
        status st = cli_read_file(text + 1, &bytes, &n);
        if (st != ST_OK)
            return st;
        st = buf_put(out, bytes, n);
        base_free(bytes);
        return st;
    }
    return buf_put(out, text, len);
}

bool cli_u64_parse(const char *text, uint64_t *out)
{
    if (!text[0] || text[0] == '-' || text[0] == '+' || text[0] == ' ')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno == ERANGE || !end || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

status cli_canister_parse(const char *text, uint64_t *id)
{
    if (!strcmp(text, "aaaaa-aa")) { /* the management canister (docs/canisters.md) */
        *id = LEDGER_CANISTER_NONE;
        return ST_OK;
    }
    if (strchr(text, '-'))
        return ledger_canister_id_parse(text, id);
    uint64_t v;
    if (!cli_u64_parse(text, &v) || v == LEDGER_CANISTER_NONE)
        return ST_BAD_CANISTER_ID;
    *id = v;
    return ST_OK;
}

bool cli_is_printable(span s)
{
    if (!span_is_utf8(s))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return false;
    }
    return true;
}
