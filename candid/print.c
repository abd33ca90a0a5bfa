/* print.c - typed Candid values as text (spec "Values"), in the form candid_text_parse reads:
 * numbers annotated with their type (`42 : nat`), field names where the type has them, tuples
 * without ids, `vec nat8` as a blob, principals in their textual form. */
#include <stdio.h>
#include <string.h>

#include "candid_int.h"

static status puts_(buf *out, const char *s)
{
    return buf_put(out, s, strlen(s));
}

/* A text or blob literal: printable ASCII as is, the usual escapes, other bytes as \hh (a
 * text keeps its non-ASCII UTF-8 as is). */
static status quoted(buf *out, const uint8_t *s, size_t n, bool is_text)
{
    TRY(buf_u8(out, '"'));
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            TRY(buf_put(out, esc, 2));
        } else if (c == '\n' && is_text) {
            TRY(puts_(out, "\\n"));
        } else if (c == '\t' && is_text) {
            TRY(puts_(out, "\\t"));
        } else if (c == '\r' && is_text) {
            TRY(puts_(out, "\\r"));
        } else if ((c >= 0x20 && c < 0x7f) || (c >= 0x80 && is_text)) {
            TRY(buf_u8(out, c));
        } else {
            snprintf(esc, sizeof esc, "\\%02x", c);
            TRY(buf_put(out, esc, 3));
        }
    }
    return buf_u8(out, '"');
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* A field label: its name (quoted unless an identifier) or its id. */
static status field_label(buf *out, const candid_field *f, uint32_t id)
{
    if (f && f->name) {
        if (is_ident(f->name, f->name_len))
            return buf_put(out, f->name, f->name_len);
        return quoted(out, (const uint8_t *)f->name, f->name_len, true);
    }
    char s[16];
    snprintf(s, sizeof s, "%u", id);
    return puts_(out, s);
}

static status principal_text(buf *out, const char *word, const candid_value *v)
{
    TRY(puts_(out, word));
    TRY(buf_u8(out, '"'));
    TRY(candid_principal_print(v->as.bytes, v->n, out));
    return buf_u8(out, '"');
}

static status value(const candid_env *env, candid_type t, const candid_value *v, buf *out);

static status fields(const candid_env *env, candid_type t, const candid_value *v, buf *out)
{
    size_t nf;
    const candid_field *f = candid_type_fields(env, t, &nf);
    bool tuple = v->kind == CANDID_RECORD;
    for (size_t i = 0; i < v->n && tuple; i++)
        tuple = v->as.items[i].id == i && (i >= nf || !f[i].name);
    TRY(puts_(out, v->kind == CANDID_RECORD ? "record {" : "variant {"));
    for (size_t i = 0; i < v->n; i++) {
        const candid_value *x = &v->as.items[i];
        const candid_field *fi = NULL;
        for (size_t j = 0; j < nf && !fi; j++)
            if (f[j].id == x->id)
                fi = &f[j];
        TRY(puts_(out, i ? "; " : " "));
        if (!tuple) {
            TRY(field_label(out, fi, x->id));
            if (v->kind == CANDID_VARIANT && x->kind == CANDID_NULL)
                continue;
            TRY(puts_(out, " = "));
        }
        TRY(value(env, fi ? fi->type : CANDID_RESERVED, x, out));
    }
    return puts_(out, v->n ? " }" : "}");
}

static status value(const candid_env *env, candid_type t, const candid_value *v, buf *out)
{
    char s[48];
    t = candid_type_resolve(env, t);
    const char *tname = candid_prim_name((candid_kind)v->kind);
    switch ((candid_kind)v->kind) {
    case CANDID_NULL:
    case CANDID_RESERVED: return puts_(out, "null");
    case CANDID_BOOL: return puts_(out, v->as.b ? "true" : "false");
    case CANDID_NAT:
    case CANDID_INT: TRY(num_print(v, out)); break;
    case CANDID_NAT8:
    case CANDID_NAT16:
    case CANDID_NAT32:
    case CANDID_NAT64:
        snprintf(s, sizeof s, "%llu", (unsigned long long)v->as.u);
        TRY(puts_(out, s));
        break;
    case CANDID_INT8:
    case CANDID_INT16:
    case CANDID_INT32:
    case CANDID_INT64:
        snprintf(s, sizeof s, "%lld", (long long)v->as.i);
        TRY(puts_(out, s));
        break;
    case CANDID_FLOAT32: TRY(num_print_float(v->as.f32, true, out)); break;
    case CANDID_FLOAT64: TRY(num_print_float(v->as.f64, false, out)); break;
    case CANDID_TEXT: return quoted(out, v->as.bytes, v->n, true);
    case CANDID_BLOB: TRY(puts_(out, "blob ")); return quoted(out, v->as.bytes, v->n, false);
    case CANDID_PRINCIPAL: return principal_text(out, "principal ", v);
    case CANDID_SERVICE: return principal_text(out, "service ", v);
    case CANDID_FUNC:
        TRY(principal_text(out, "func ", &v->as.items[0]));
        TRY(buf_u8(out, '.'));
        if (is_ident((const char *)v->as.items[1].as.bytes, v->as.items[1].n))
            return buf_put(out, v->as.items[1].as.bytes, v->as.items[1].n);
        return quoted(out, v->as.items[1].as.bytes, v->as.items[1].n, true);
    case CANDID_OPT:
        if (v->n == 0)
            return puts_(out, "null");
        TRY(puts_(out, "opt "));
        return value(env, candid_type_inner(env, t), &v->as.items[0], out);
    case CANDID_VEC:
        TRY(puts_(out, "vec {"));
        for (size_t i = 0; i < v->n; i++) {
            TRY(puts_(out, i ? "; " : " "));
            TRY(value(env, candid_type_inner(env, t), &v->as.items[i], out));
        }
        return puts_(out, v->n ? " }" : "}");
    case CANDID_RECORD:
    case CANDID_VARIANT: return fields(env, t, v, out);
    default: return ST_CANDID_TYPE_MISMATCH;
    }
    TRY(puts_(out, " : "));
    return puts_(out, tname);
}

status candid_text_print(const candid_env *env, const candid_type *types, size_t n,
                         const candid_value *vals, buf *out)
{
    size_t len0 = out->len;
    status st = buf_u8(out, '(');
    for (size_t i = 0; i < n && st == ST_OK; i++) {
        if (i)
            st = puts_(out, ", ");
        if (st == ST_OK)
            st = value(env, types[i], &vals[i], out);
    }
    if (st == ST_OK)
        st = buf_u8(out, ')');
    if (st != ST_OK)
        out->len = len0;
    return st;
}
