/* rpc_client.c - the client side of the node's JSON-RPC 2.0 over HTTP: a tiny HTTP/1.1 client
 * (one POST per TCP connection, "Connection: close", Content-Length or chunked answers (Go's
 * server, CometBFT's RPC, chunks large ones); no TLS, no redirects: the node speaks exactly
 * this on loopback) and the JSON-RPC envelope around it. Not a general HTTP client. */
#include "rpc.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RESPONSE_MAX = 64 << 20, IO_TIMEOUT_MS = 30000 };

static status fail(rpc_error *err, status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->code = 0;
    err->status[0] = '\0';
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return st;
}

/* "http://HOST:PORT/PATH" into its parts. Only http. */
static status url_split(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                        const char **path)
{
    const char *p = url;
    if (!strncmp(p, "http://", 7))
        p += 7;
    else if (strstr(p, "://"))
        return ST_BAD_ARGUMENT;
    const char *slash = strchr(p, '/');
    *path = slash ? slash : "/";
    size_t hostport = slash ? (size_t)(slash - p) : strlen(p);
    const char *colon = memchr(p, ':', hostport);
    size_t hlen = colon ? (size_t)(colon - p) : hostport;
    size_t plen = colon ? hostport - hlen - 1 : 2;
    if (hlen == 0 || hlen >= hcap || plen == 0 || plen >= pcap)
        return ST_BAD_ARGUMENT;
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    if (colon) {
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
    } else {
        snprintf(port, pcap, "80");
    }
    return ST_OK;
}

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static bool wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&p, 1, IO_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    return n > 0;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        if (!wait_fd(fd, POLLOUT))
            return false;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads until the peer closes (we asked for Connection: close) or Content-Length is met. */
static status recv_all(int fd, buf *in, rpc_error *err)
{
    for (;;) {
        if (in->len > RESPONSE_MAX)
            return fail(err, ST_IO_ERROR, "response larger than %d bytes", RESPONSE_MAX);
        status st = buf_reserve(in, 65536);
        if (st != ST_OK)
            return st;
        if (!wait_fd(fd, POLLIN))
            return fail(err, ST_IO_ERROR, "timed out waiting for the node");
        ssize_t n = recv(fd, in->ptr + in->len, in->cap - in->len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(err, ST_IO_ERROR, "receive: %s", strerror(errno));
        if (n == 0)
            return ST_OK;
        in->len += (size_t)n;
    }
}

/* Decodes a chunked body (RFC 9112 section 7.1: hex size line, data, CRLF; size 0 ends it)
 * in place; *len is the data's length. False if it is not well formed. */
static bool dechunk(char *b, size_t have, size_t *len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= have)
            return false;
        unsigned long long n = strtoull(b + in, &end, 16);
        char *eol = strstr(b + in, "\r\n");
        if (end == b + in || !eol || (size_t)(eol - b) >= have)
            return false;
        in = (size_t)(eol - b) + 2; /* any chunk extension is skipped */
        if (n == 0) {
            *len = out;
            return true;
        }
        if (n > have - in || have - in - n < 2)
            return false;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
    }
}

/* Splits a received HTTP response into status code and body (in place). */
static status parse_response(buf *in, int *http_status, char **body, size_t *body_len,
                             rpc_error *err)
{
    in->ptr[in->len] = '\0';
    char *text = (char *)in->ptr;
    int code = 0;
    if (sscanf(text, "HTTP/1.%*d %d", &code) != 1)
        return fail(err, ST_IO_ERROR, "not an HTTP response");
    char *hdr_end = strstr(text, "\r\n\r\n");
    if (!hdr_end)
        return fail(err, ST_IO_ERROR, "truncated HTTP response");
    char *b = hdr_end + 4;
    size_t have = in->len - (size_t)(b - text);
    /* Content-Length, if given, must be met exactly; a chunked body (Go's HTTP server, e.g.
     * CometBFT's RPC, sends larger answers so) is decoded. */
    for (char *h = strstr(text, "\r\n"); h && h < hdr_end; h = strstr(h + 2, "\r\n")) {
        if (!strncasecmp(h + 2, "Transfer-Encoding:", 18) && strstr(h + 2, "chunked") &&
            strstr(h + 2, "chunked") < strstr(h + 2, "\r\n")) {
            if (!dechunk(b, have, &have))
                return fail(err, ST_IO_ERROR, "malformed chunked HTTP body");
            break;
        }
        if (!strncasecmp(h + 2, "Content-Length:", 15)) {
            unsigned long long cl = strtoull(h + 17, NULL, 10);
            if (cl > have)
                return fail(err, ST_IO_ERROR, "truncated HTTP body");
            have = (size_t)cl;
        }
    }
    b[have] = '\0';
    *http_status = code;
    *body = b;
    *body_len = have;
    return ST_OK;
}

status rpc_client_post(const char *url, const char *body, size_t len, int *http_status,
                       char **resp, size_t *resp_len, rpc_error *err)
{
    char host[256], port[16];
    const char *path;
    if (url_split(url, host, sizeof host, port, sizeof port, &path) != ST_OK)
        return fail(err, ST_BAD_ARGUMENT, "bad node URL '%s' (want http://HOST:PORT/)", url);
    int fd = connect_to(host, port);
    if (fd < 0)
        return fail(err, ST_IO_ERROR, "cannot connect to %s:%s (is `tally node` running?)", host,
                    port);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      path, host, port, len);
    status st = ST_OK;
    buf in = {0};
    bool sent = hn >= 0 && (size_t)hn < sizeof head && send_all(fd, head, (size_t)hn) &&
                send_all(fd, body, len);
    /* A node that refuses a request early (413: body too large) answers and closes while the
     * body is still being sent: read its answer anyway, it says what happened. Half-close only
     * then: Go's HTTP server (CometBFT's RPC) cancels a request whose client half-closes, and
     * "Connection: close" ends every answer with EOF anyway. */
    if (!sent)
        shutdown(fd, SHUT_WR);
    st = recv_all(fd, &in, err);
    char *b = NULL;
    size_t blen = 0;
    if (st == ST_OK)
        st = parse_response(&in, http_status, &b, &blen, err);
    if (st != ST_OK && !sent) {
        st = fail(err, ST_IO_ERROR, "cannot send the request to %s:%s", host, port);
        goto out_close;
    }
    if (st != ST_OK)
        goto out_close;
    char *copy = base_alloc(blen + 1);
    if (!copy) {
        st = ST_OUT_OF_MEMORY;
        goto out_close;
    }
    memcpy(copy, b, blen + 1);
    *resp = copy;
    *resp_len = blen;
out_close:
    buf_fini(&in);
    close(fd);
    return st;
}

/* Fills err from a JSON-RPC error object. */
static status rpc_error_of(json_t *e, rpc_error *err)
{
    json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message");
    json_t *data = json_object_get(e, "data");
    json_t *stn = json_is_object(data) ? json_object_get(data, "status") : NULL;
    err->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    snprintf(err->message, sizeof err->message, "%s",
             json_is_string(msg) ? json_string_value(msg) : "(no message)");
    snprintf(err->status, sizeof err->status, "%s",
             json_is_string(stn) ? json_string_value(stn) : "");
    return ST_RPC_ERROR;
}

static atomic_ulong next_id; /* request ids; clients may call from several threads */

status rpc_client_batch(const char *url, json_t *reqs, json_t **answers, rpc_error *err)
{
    char *text = json_dumps(reqs, JSON_COMPACT);
    char *resp = NULL;
    size_t rlen = 0;
    int http = 0;
    status st = text ? rpc_client_post(url, text, strlen(text), &http, &resp, &rlen, err)
                     : ST_OUT_OF_MEMORY;
    base_free(text);
    *answers = st == ST_OK ? json_loadb(resp, rlen, 0, NULL) : NULL;
    base_free(resp);
    if (st == ST_OK && !json_is_array(*answers)) {
        json_decref(*answers);
        *answers = NULL;
        st = fail(err, ST_RPC_ERROR, "HTTP %d without a JSON-RPC batch answer", http);
    }
    return st;
}

json_t *rpc_client_request(const char *method, const char *key, const char *val, json_int_t id)
{
    return json_pack("{s:s, s:s, s:{s:s}, s:I}", "jsonrpc", "2.0", "method", method, "params", key,
                     val, "id", id);
}

json_t *rpc_client_submit_request(span envelope, json_int_t id)
{
    char *hex = cli_hex_new(envelope.ptr, envelope.len);
    json_t *r = hex ? rpc_client_request("submit", "envelope", hex, id) : NULL;
    base_free(hex);
    return r;
}

status rpc_client_call(const char *url, const char *method, json_t *params, json_t **result,
                       rpc_error *err)
{
    json_t *req = json_pack("{s:s, s:s, s:I}", "jsonrpc", "2.0", "method", method, "id",
                            (json_int_t)(atomic_fetch_add(&next_id, 1) + 1));
    if (!req)
        return ST_OUT_OF_MEMORY;
    if (params && json_object_set(req, "params", params) != 0) {
        json_decref(req);
        return ST_OUT_OF_MEMORY;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text)
        return ST_OUT_OF_MEMORY;
    int http = 0;
    char *resp = NULL;
    size_t rlen = 0;
    status st = rpc_client_post(url, text, strlen(text), &http, &resp, &rlen, err);
    base_free(text);
    if (st != ST_OK)
        return st;
    json_error_t jerr;
    json_t *root = json_loadb(resp, rlen, 0, &jerr);
    base_free(resp);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, ST_IO_ERROR, "the node's answer (HTTP %d) is not a JSON-RPC response",
                    http);
    }
    json_t *e = json_object_get(root, "error");
    if (e) {
        st = rpc_error_of(e, err);
    } else if (json_object_get(root, "result")) {
        *result = json_incref(json_object_get(root, "result"));
    } else {
        st = fail(err, ST_IO_ERROR, "JSON-RPC response without result or error");
    }
    json_decref(root);
    return st;
}
