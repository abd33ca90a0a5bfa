/* server.c - the ABCI socket server: one thread, poll() over the listening socket and
 * CometBFT's connections (it opens four: consensus, mempool, query, snapshot). Each
 * connection's requests are answered in order; a Query that arrives while a block is open
 * waits (its connection is not read further) until the block is committed or dropped. */
#include "abci.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { CONNS_MAX = 16, READ_CHUNK = 1 << 16 };

typedef struct conn {
    int fd;
    buf in, out;
    size_t in_at, out_at; /* consumed input, written output */
    bool waiting;         /* a deferred Query heads the input */
} conn;

static void conn_close(conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    buf_fini(&c->in);
    buf_fini(&c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static int listen_on(const char *addr)
{
    int fd = -1;
    if (!strncmp(addr, "unix://", 7)) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *path = addr + 7;
        if (strlen(path) == 0 || strlen(path) >= sizeof sa.sun_path)
            return -2;
        strcpy(sa.sun_path, path);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto fail;
    } else if (!strncmp(addr, "tcp://", 7 - 1)) {
        char host[64];
        const char *colon = strrchr(addr + 6, ':');
        if (!colon || (size_t)(colon - (addr + 6)) >= sizeof host)
            return -2;
        memcpy(host, addr + 6, (size_t)(colon - (addr + 6)));
        host[colon - (addr + 6)] = 0;
        char *end;
        long port = strtol(colon + 1, &end, 10);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
            return -2;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto fail;
    } else {
        return -2;
    }
    if (listen(fd, CONNS_MAX) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
        goto fail;
    return fd;
fail:
    fprintf(stderr, "abci: cannot listen on %s: %s\n", addr, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Answers the complete requests buffered on c, in order. ST_OK, or a failure that ends the
 * connection (a malformed frame) or the server (a fault: returned as is). */
static status conn_serve(abci_app *a, conn *c)
{
    for (;;) {
        span msg;
        size_t used;
        status st = abci_frame_next(span_of(c->in.ptr + c->in_at, c->in.len - c->in_at), &msg,
                                    &used);
        if (st == ST_NOT_FOUND)
            break;
        if (st != ST_OK)
            return st;
        buf resp = {0};
        st = abci_app_handle(a, msg, &resp);
        c->waiting = st == ST_ROUND_IN_PROGRESS;
        if (st == ST_OK)
            st = abci_frame_put(&c->out, span_of(resp.ptr, resp.len));
        buf_fini(&resp);
        if (c->waiting)
            return ST_OK; /* again after the next request of another connection */
        if (st != ST_OK)
            return st;
        c->in_at += used;
    }
    if (c->in_at == c->in.len) { /* everything consumed: start the buffer over */
        c->in.len = 0;
        c->in_at = 0;
    }
    return ST_OK;
}

static status conn_read(conn *c, bool *eof)
{
    *eof = false;
    for (;;) {
        status st = buf_reserve(&c->in, READ_CHUNK);
        if (st != ST_OK)
            return st;
        ssize_t n = read(c->fd, c->in.ptr + c->in.len, READ_CHUNK);
        if (n > 0) {
            c->in.len += (size_t)n;
            if ((size_t)n < READ_CHUNK)
                return ST_OK;
            continue;
        }
        if (n == 0)
            *eof = true;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            *eof = true;
        return ST_OK;
    }
}

static void conn_write(conn *c, bool *broken)
{
    while (c->out_at < c->out.len) {
        ssize_t n = write(c->fd, c->out.ptr + c->out_at, c->out.len - c->out_at);
        if (n > 0) {
            c->out_at += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        *broken = true;
        return;
    }
    c->out.len = 0;
    c->out_at = 0;
}

status abci_serve(abci_app *a, const char *addr, volatile sig_atomic_t *stop, int wake_fd,
                  abci_ready_fn ready, void *user)
{
    int lfd = listen_on(addr);
    if (lfd == -2) {
        fprintf(stderr, "abci: listen address '%s' is not tcp://IPV4:PORT or unix://PATH\n",
                addr);
        return ST_BAD_ARGUMENT;
    }
    if (lfd < 0)
        return ST_IO_ERROR;
    conn conns[CONNS_MAX];
    for (int i = 0; i < CONNS_MAX; i++) {
        memset(&conns[i], 0, sizeof conns[i]);
        conns[i].fd = -1;
    }
    bool announced = false;
    status result = ST_OK;
    while (!*stop && result == ST_OK) {
        if (!announced && abci_app_scheduler(a) && ready) {
            ready(user, a);
            announced = true;
        }
        struct pollfd p[CONNS_MAX + 2];
        int map[CONNS_MAX + 2], np = 0;
        p[np] = (struct pollfd){.fd = lfd, .events = POLLIN};
        map[np++] = -1;
        if (wake_fd >= 0) {
            p[np] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
            map[np++] = -2;
        }
        bool any_waiting = false;
        for (int i = 0; i < CONNS_MAX; i++) {
            conn *c = &conns[i];
            if (c->fd < 0)
                continue;
            any_waiting |= c->waiting;
            short ev = (short)(c->waiting ? 0 : POLLIN);
            if (c->out_at < c->out.len)
                ev |= POLLOUT;
            p[np] = (struct pollfd){.fd = c->fd, .events = ev};
            map[np++] = i;
        }
        int rc = poll(p, (nfds_t)np, any_waiting ? 50 : 1000);
        if (rc < 0 && errno != EINTR) {
            result = ST_IO_ERROR;
            break;
        }
        for (int k = 0; rc > 0 && k < np; k++) {
            if (!p[k].revents)
                continue;
            if (map[k] == -2) {
                char junk[64];
                while (read(wake_fd, junk, sizeof junk) > 0) {
                }
                continue;
            }
            if (map[k] == -1) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                int slot = -1;
                for (int i = 0; fd >= 0 && i < CONNS_MAX && slot < 0; i++)
                    if (conns[i].fd < 0)
                        slot = i;
                if (slot < 0 && fd >= 0)
                    close(fd);
                else if (fd >= 0)
                    conns[slot].fd = fd;
                continue;
            }
            conn *c = &conns[map[k]];
            bool eof = false, broken = false;
            if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                result = conn_read(c, &eof);
                if (result == ST_OK) {
                    status st = conn_serve(a, c);
                    if (st == ST_ABCI_MALFORMED) {
                        fprintf(stderr, "abci: a connection sent a malformed frame: closed\n");
                        broken = true;
                    } else {
                        result = st;
                    }
                }
            }
            if (result == ST_OK && c->fd >= 0)
                conn_write(c, &broken);
            if (eof || broken)
                conn_close(c);
        }
        /* deferred queries: retry now that other connections moved on */
        for (int i = 0; result == ST_OK && i < CONNS_MAX; i++) {
            conn *c = &conns[i];
            if (c->fd < 0 || !c->waiting)
                continue;
            bool broken = false;
            result = conn_serve(a, c);
            if (result == ST_OK)
                conn_write(c, &broken);
            if (broken)
                conn_close(c);
        }
    }
    if (result != ST_OK)
        fprintf(stderr, "abci: stopping: %s\n", status_name(result));
    abci_app_settle(a);
    for (int i = 0; i < CONNS_MAX; i++)
        conn_close(&conns[i]);
    close(lfd);
    if (!strncmp(addr, "unix://", 7))
        unlink(addr + 7);
    return result;
}
