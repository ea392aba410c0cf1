/* resp.c: the RESP2 client of resp.h. Replies are read through a 16 KiB buffer; nesting
 * is bounded (RESP_MAX_DEPTH) and so are bulk sizes (RESP_MAX_BULK), so a garbled or
 * hostile answer cannot make us allocate without limit or recurse forever. */
#include "worker/netaddr.h"
#include "worker/resp.h"

#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESP_MAX_DEPTH 8
#define RESP_MAX_BULK  (512L * 1024 * 1024)
#define RESP_MAX_ELEMS (16L * 1024 * 1024)
#define RESP_MAX_ARGS  64

struct resp_conn {
    int fd;
    int read_timeout_ms, write_timeout_ms; /* 0: none */
    bool (*cancel)(void *);                /* NULL: plain blocking waits */
    void *cancel_ctx;
    char buf[16384];
    size_t pos, end; /* unread bytes are buf[pos..end) */
};

static int resp_fail(char *why, size_t why_len, const char *fmt, const char *detail)
{
    if (why && why_len)
        snprintf(why, why_len, fmt, detail);
    return -1;
}

int resp_connect(const char *host, int port, int timeout_ms, resp_conn **out, char *why,
                 size_t why_len)
{
    return resp_connect_cancel(host, port, timeout_ms, NULL, NULL, out, why, why_len);
}

int resp_connect_cancel(const char *host, int port, int timeout_ms, bool (*cancel)(void *),
                        void *ctx, resp_conn **out, char *why, size_t why_len)
{
    *out = NULL;
    char msg[256];
    int fd = netaddr_connect_cancel(host, port, timeout_ms, cancel, ctx, msg, sizeof(msg));
    if (fd < 0)
        return resp_fail(why, why_len, "redis: %s", msg);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    resp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return resp_fail(why, why_len, "redis: %s", "out of memory");
    }
    c->fd = fd;
    c->read_timeout_ms = c->write_timeout_ms = timeout_ms;
    c->cancel = cancel;
    c->cancel_ctx = ctx;
    *out = c;
    return 0;
}

/* With a cancel hook: waits until fd is ready for `events` in short slices, asking the hook
 * between them. 0 ready, -1 with why (timed out, cancelled). Without one: 0 (the socket's
 * own SO_RCVTIMEO / SO_SNDTIMEO bound the blocking call). */
static int wait_ready(resp_conn *c, short events, int timeout_ms, char *why, size_t why_len)
{
    if (!c->cancel)
        return 0;
    int left = timeout_ms > 0 ? timeout_ms : -1;
    for (;;) {
        if (c->cancel(c->cancel_ctx))
            return resp_fail(why, why_len, "redis: %s", "cancelled");
        int slice = left < 0 || left > NETADDR_CANCEL_POLL_MS ? NETADDR_CANCEL_POLL_MS : left;
        struct pollfd p = {c->fd, events, 0};
        int r = poll(&p, 1, slice);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return resp_fail(why, why_len, "redis: poll: %s", strerror(errno));
        if (left > 0) {
            left -= slice;
            if (left <= 0)
                return resp_fail(why, why_len, "redis: %s: timed out",
                                 events == POLLIN ? "recv" : "send");
        }
    }
}

void resp_close(resp_conn *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c);
}

int resp_set_read_timeout(resp_conn *c, int timeout_ms)
{
    c->read_timeout_ms = timeout_ms;
    netaddr_set_timeout(c->fd, SO_RCVTIMEO, timeout_ms);
    return 0;
}

/* ---------------------------------------------------------------- writing */

static int write_all(resp_conn *c, const char *p, size_t n, char *why, size_t why_len)
{
    while (n > 0) {
        if (wait_ready(c, POLLOUT, c->write_timeout_ms, why, why_len) < 0)
            return -1;
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return resp_fail(why, why_len, "redis: send: %s",
                             errno == EAGAIN ? "timed out" : strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---------------------------------------------------------------- reading */

static int fill(resp_conn *c, char *why, size_t why_len)
{
    if (c->pos > 0 && c->pos == c->end)
        c->pos = c->end = 0;
    if (c->end == sizeof(c->buf)) { /* compact */
        memmove(c->buf, c->buf + c->pos, c->end - c->pos);
        c->end -= c->pos;
        c->pos = 0;
    }
    for (;;) {
        if (wait_ready(c, POLLIN, c->read_timeout_ms, why, why_len) < 0)
            return -1;
        ssize_t r = recv(c->fd, c->buf + c->end, sizeof(c->buf) - c->end, 0);
        if (r > 0) {
            c->end += (size_t)r;
            return 0;
        }
        if (r == 0)
            return resp_fail(why, why_len, "redis: %s", "connection closed");
        if (errno == EINTR)
            continue;
        return resp_fail(why, why_len, "redis: recv: %s",
                         errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
    }
}

/* One CRLF-terminated line into line (without CRLF). */
static int read_line(resp_conn *c, char *line, size_t cap, char *why, size_t why_len)
{
    size_t o = 0;
    for (;;) {
        while (c->pos < c->end) {
            char ch = c->buf[c->pos++];
            if (ch == '\n') {
                if (o > 0 && line[o - 1] == '\r')
                    o--;
                line[o] = '\0';
                return 0;
            }
            if (o + 1 >= cap)
                return resp_fail(why, why_len, "redis: %s", "reply line too long");
            line[o++] = ch;
        }
        if (fill(c, why, why_len) < 0)
            return -1;
    }
}

static int read_exact(resp_conn *c, char *dst, size_t n, char *why, size_t why_len)
{
    while (n > 0) {
        if (c->pos == c->end && fill(c, why, why_len) < 0)
            return -1;
        size_t k = c->end - c->pos;
        if (k > n)
            k = n;
        memcpy(dst, c->buf + c->pos, k);
        c->pos += k;
        dst += k;
        n -= k;
    }
    return 0;
}

static int parse_ll(const char *s, long long *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return -1;
    *v = x;
    return 0;
}

static int read_reply(resp_conn *c, resp_reply *r, int depth, char *why, size_t why_len)
{
    memset(r, 0, sizeof(*r));
    if (depth > RESP_MAX_DEPTH)
        return resp_fail(why, why_len, "redis: %s", "reply nested too deep");
    char line[4096];
    if (read_line(c, line, sizeof(line), why, why_len) < 0)
        return -1;
    long long n;
    switch (line[0]) {
    case '+':
    case '-':
        r->type = line[0] == '+' ? RESP_STATUS : RESP_ERROR;
        r->len = strlen(line + 1);
        r->str = malloc(r->len + 1);
        if (!r->str)
            return resp_fail(why, why_len, "redis: %s", "out of memory");
        memcpy(r->str, line + 1, r->len + 1);
        return 0;
    case ':':
        r->type = RESP_INT;
        if (parse_ll(line + 1, &r->integer) < 0)
            return resp_fail(why, why_len, "redis: bad integer reply \"%.40s\"", line);
        return 0;
    case '$':
        if (parse_ll(line + 1, &n) < 0 || n < -1 || n > RESP_MAX_BULK)
            return resp_fail(why, why_len, "redis: bad bulk length \"%.40s\"", line);
        if (n < 0) {
            r->type = RESP_NIL;
            return 0;
        }
        r->type = RESP_BULK;
        r->len = (size_t)n;
        r->str = malloc((size_t)n + 2);
        if (!r->str)
            return resp_fail(why, why_len, "redis: %s", "out of memory");
        if (read_exact(c, r->str, (size_t)n + 2, why, why_len) < 0)
            return -1;
        if (r->str[n] != '\r' || r->str[n + 1] != '\n')
            return resp_fail(why, why_len, "redis: %s", "bulk string not terminated by CRLF");
        r->str[n] = '\0';
        return 0;
    case '*':
        if (parse_ll(line + 1, &n) < 0 || n < -1 || n > RESP_MAX_ELEMS)
            return resp_fail(why, why_len, "redis: bad array length \"%.40s\"", line);
        if (n < 0) {
            r->type = RESP_NIL;
            return 0;
        }
        r->type = RESP_ARRAY;
        if (n == 0)
            return 0;
        r->elem = calloc((size_t)n, sizeof(resp_reply));
        if (!r->elem)
            return resp_fail(why, why_len, "redis: %s", "out of memory");
        for (long long i = 0; i < n; i++) {
            r->n_elem = (size_t)i + 1; /* so a failure frees what was read */
            if (read_reply(c, &r->elem[i], depth + 1, why, why_len) < 0)
                return -1;
        }
        return 0;
    default: return resp_fail(why, why_len, "redis: unexpected reply \"%.40s\"", line);
    }
}

void resp_reply_free(resp_reply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_elem; i++)
        resp_reply_free(&r->elem[i]);
    free(r->elem);
    free(r->str);
    memset(r, 0, sizeof(*r));
}

int resp_command(resp_conn *c, int argc, const char *const *argv, const size_t *argl,
                 resp_reply *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    if (argc < 1)
        return resp_fail(why, why_len, "redis: %s", "empty command");
    /* the header and small arguments go through one stack buffer; large ones directly */
    char hdr[4096];
    size_t o = (size_t)snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t l = argl ? argl[i] : strlen(argv[i]);
        if (o + 32 + l + 2 > sizeof(hdr)) {
            if (write_all(c, hdr, o, why, why_len) < 0)
                return -1;
            o = 0;
        }
        o += (size_t)snprintf(hdr + o, sizeof(hdr) - o, "$%zu\r\n", l);
        if (o + l + 2 > sizeof(hdr)) {
            if (write_all(c, hdr, o, why, why_len) < 0 ||
                write_all(c, argv[i], l, why, why_len) < 0 ||
                write_all(c, "\r\n", 2, why, why_len) < 0)
                return -1;
            o = 0;
        } else {
            memcpy(hdr + o, argv[i], l);
            o += l;
            hdr[o++] = '\r';
            hdr[o++] = '\n';
        }
    }
    if (o > 0 && write_all(c, hdr, o, why, why_len) < 0)
        return -1;
    if (read_reply(c, out, 0, why, why_len) < 0) {
        resp_reply_free(out);
        return -1;
    }
    return 0;
}

int resp_commandl(resp_conn *c, resp_reply *out, char *why, size_t why_len, ...)
{
    const char *argv[RESP_MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, why_len);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        if (argc == RESP_MAX_ARGS) {
            va_end(ap);
            memset(out, 0, sizeof(*out));
            return resp_fail(why, why_len, "redis: %s", "too many arguments");
        }
        argv[argc++] = a;
    }
    va_end(ap);
    return resp_command(c, argc, argv, NULL, out, why, why_len);
}

int resp_reply_int(const resp_reply *r, long long *v)
{
    if (r->type == RESP_INT) {
        *v = r->integer;
        return 0;
    }
    if ((r->type == RESP_BULK || r->type == RESP_STATUS) && r->str)
        return parse_ll(r->str, v);
    return -1;
}
