/* lex.c - the tokens of Candid text: .did files, textual values and the test-suite grammar
 * (spec "Values": numbers with '_', text with \n \t \r \\ \" \' \hh \u{...} escapes, comments
 * // and nested block comments).
 *
 * A text token's bytes are decoded into the arena (a blob may hold any byte; whether they are
 * UTF-8 is the parser's question). Numbers keep their source text. */
#include <string.h>

#include "candid_int.h"

status lex_fail(lexer *lx, status st, const char *what)
{
    if (lx->err) {
        lx->err->offset = lx->cur.off;
        lx->err->what = what;
    }
    return st;
}

static status fail_at(lexer *lx, size_t off, const char *what)
{
    lx->cur.off = off;
    return lex_fail(lx, ST_CANDID_SYNTAX, what);
}

static bool is_id_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static status skip_space(lexer *lx)
{
    const char *s = lx->src;
    while (lx->pos < lx->len) {
        char c = s[lx->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            lx->pos++;
        } else if (c == '/' && lx->pos + 1 < lx->len && s[lx->pos + 1] == '/') {
            while (lx->pos < lx->len && s[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && lx->pos + 1 < lx->len && s[lx->pos + 1] == '*') {
            size_t at = lx->pos, nest = 0;
            do {
                if (lx->pos + 1 >= lx->len)
                    return fail_at(lx, at, "unclosed comment");
                if (s[lx->pos] == '/' && s[lx->pos + 1] == '*') {
                    nest++;
                    lx->pos += 2;
                } else if (s[lx->pos] == '*' && s[lx->pos + 1] == '/') {
                    nest--;
                    lx->pos += 2;
                } else {
                    lx->pos++;
                }
            } while (nest > 0);
        } else {
            break;
        }
    }
    return ST_OK;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* \u{HEX} with '_' separators; lx->pos is after "\u". */
static status unicode_escape(lexer *lx, uint8_t *o, size_t *no)
{
    const char *s = lx->src;
    size_t at = lx->pos - 2;
    if (lx->pos >= lx->len || s[lx->pos] != '{')
        return fail_at(lx, at, "\\u must be followed by {");
    lx->pos++;
    uint32_t cp = 0;
    size_t digits = 0;
    for (; lx->pos < lx->len && s[lx->pos] != '}'; lx->pos++) {
        if (s[lx->pos] == '_' && digits > 0)
            continue;
        int h = base_hex_digit(s[lx->pos]);
        if (h < 0 || ++digits > 6)
            return fail_at(lx, at, "bad \\u{...} escape");
        cp = cp << 4 | (uint32_t)h;
    }
    if (lx->pos >= lx->len || digits == 0)
        return fail_at(lx, at, "unclosed \\u{...} escape");
    lx->pos++;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
        return fail_at(lx, at, "\\u{...} is not a Unicode scalar value");
    *no += utf8_put(o + *no, cp);
    return ST_OK;
}

static status text_token(lexer *lx)
{
    const char *s = lx->src;
    size_t at = lx->pos++, end = lx->pos;
    while (end < lx->len && s[end] != '"') /* decoded bytes are never more than the source */
        end += s[end] == '\\' ? 2 : 1;
    uint8_t *o = arena_alloc(lx->arena, end - lx->pos + 4);
    if (!o)
        return ST_OUT_OF_MEMORY;
    size_t no = 0;
    for (;;) {
        if (lx->pos >= lx->len)
            return fail_at(lx, at, "unclosed text");
        char c = s[lx->pos++];
        if (c == '"')
            break;
        if (c != '\\') {
            o[no++] = (uint8_t)c;
            continue;
        }
        if (lx->pos >= lx->len)
            return fail_at(lx, at, "unclosed text");
        char e = s[lx->pos++];
        int h1 = base_hex_digit(e), h2 = lx->pos < lx->len ? base_hex_digit(s[lx->pos]) : -1;
        switch (e) {
        case 'n': o[no++] = '\n'; break;
        case 'r': o[no++] = '\r'; break;
        case 't': o[no++] = '\t'; break;
        case '\\':
        case '"':
        case '\'': o[no++] = (uint8_t)e; break;
        case 'u':
            if (unicode_escape(lx, o, &no) != ST_OK)
                return ST_CANDID_SYNTAX;
            break;
        default:
            if (h1 < 0 || h2 < 0)
                return fail_at(lx, lx->pos - 2, "unknown escape in text");
            lx->pos++;
            o[no++] = (uint8_t)(h1 << 4 | h2);
        }
    }
    lx->cur = (tok){TK_TEXT, at, (const char *)o, no, false};
    return ST_OK;
}

static void number_token(lexer *lx)
{
    const char *s = lx->src;
    size_t at = lx->pos;
    bool hex = s[at] == '0' && at + 1 < lx->len && (s[at + 1] == 'x' || s[at + 1] == 'X');
    bool flt = false;
    if (hex)
        lx->pos += 2;
#define DIGITS()                                                                                  \
    while (lx->pos < lx->len &&                                                                   \
           (s[lx->pos] == '_' || (hex ? base_hex_digit(s[lx->pos]) >= 0 : is_digit(s[lx->pos])))) \
    lx->pos++
    DIGITS();
    if (lx->pos < lx->len && s[lx->pos] == '.' &&
        !(lx->pos + 1 < lx->len && is_id_start(s[lx->pos + 1]))) {
        flt = true;
        lx->pos++;
        DIGITS();
    }
#undef DIGITS
    char e = lx->pos < lx->len ? s[lx->pos] : 0;
    if (hex ? (e == 'p' || e == 'P') : (e == 'e' || e == 'E')) {
        size_t q = lx->pos + 1;
        if (q < lx->len && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q < lx->len && is_digit(s[q])) {
            flt = true;
            lx->pos = q;
            while (lx->pos < lx->len && (is_digit(s[lx->pos]) || s[lx->pos] == '_'))
                lx->pos++;
        }
    }
    lx->cur = (tok){TK_NUM, at, s + at, lx->pos - at, flt};
}

status lex_next(lexer *lx)
{
    status st = skip_space(lx);
    if (st != ST_OK)
        return st;
    const char *s = lx->src;
    size_t at = lx->pos;
    if (at >= lx->len) {
        lx->cur = (tok){TK_EOF, at, s + at, 0, false};
        return ST_OK;
    }
    char c = s[at], n = at + 1 < lx->len ? s[at + 1] : 0;
    if (is_id_start(c)) {
        while (lx->pos < lx->len && (is_id_start(s[lx->pos]) || is_digit(s[lx->pos])))
            lx->pos++;
        lx->cur = (tok){TK_ID, at, s + at, lx->pos - at, false};
        return ST_OK;
    }
    if (is_digit(c)) {
        number_token(lx);
        return ST_OK;
    }
    if (c == '"')
        return text_token(lx);
    tok_kind k;
    size_t len = 1;
    switch (c) {
    case '(': k = TK_LPAREN; break;
    case ')': k = TK_RPAREN; break;
    case '{': k = TK_LBRACE; break;
    case '}': k = TK_RBRACE; break;
    case ';': k = TK_SEMI; break;
    case ',': k = TK_COMMA; break;
    case ':': k = TK_COLON; break;
    case '.': k = TK_DOT; break;
    case '+': k = TK_PLUS; break;
    case '=': k = n == '=' ? TK_EQEQ : TK_EQ, len = n == '=' ? 2 : 1; break;
    case '-': k = n == '>' ? TK_ARROW : TK_MINUS, len = n == '>' ? 2 : 1; break;
    case '!':
        if (n != ':' && n != '=')
            return fail_at(lx, at, "unexpected character");
        k = n == ':' ? TK_BANGCOLON : TK_NEQ;
        len = 2;
        break;
    default: return fail_at(lx, at, "unexpected character");
    }
    lx->pos += len;
    lx->cur = (tok){k, at, s + at, len, false};
    return ST_OK;
}

status lex_init(lexer *lx, candid_arena *a, span text, candid_error *err)
{
    memset(lx, 0, sizeof *lx);
    lx->src = text.len ? (const char *)text.ptr : "";
    lx->len = text.len;
    lx->arena = a;
    lx->err = err;
    return lex_next(lx);
}

bool lex_is(const lexer *lx, const char *word)
{
    size_t n = strlen(word);
    return lx->cur.kind == TK_ID && lx->cur.len == n && memcmp(lx->cur.s, word, n) == 0;
}

status lex_expect(lexer *lx, tok_kind k, const char *what)
{
    if (lx->cur.kind != k)
        return lex_fail(lx, ST_CANDID_SYNTAX, what);
    return lex_next(lx);
}
