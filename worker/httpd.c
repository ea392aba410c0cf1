/* httpd.c: the server of httpd.h: poll on the listening socket and a stop pipe. */
#define _GNU_SOURCE /* strcasestr */
#include "worker/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HTTPD_REQ_MAX 16384

struct httpd {
    int lfd;
    int stop_pipe[2];
    int port;
    httpd_handler handler;
    void *ctx;
    pthread_t th;
};

void http_buf_append(http_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *p = realloc(b->data, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = nc;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void http_buf_printf(http_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        http_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    http_buf_append(b, big, (size_t)n);
    free(big);
}

void http_buf_free(http_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void http_url_decode(const char *src, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (src[i] == '%' && i + 2 < n && hexval(src[i + 1]) >= 0 && hexval(src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else if (src[i] == '+') {
            dst[o++] = ' ';
        } else {
            dst[o++] = src[i];
        }
    }
    if (cap)
        dst[o] = '\0';
}

int http_query_param(const char *query, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            http_url_decode(p + nl + 1, seg - nl - 1, dst, cap);
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static const char *status_text(int st)
{
    switch (st) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 422: return "Unprocessable Entity";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static void serve_one(httpd *s, int fd)
{
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char req[HTTPD_REQ_MAX + 1];
    size_t n = 0;
    char *hdr_end = NULL;
    while (n < HTTPD_REQ_MAX) {
        ssize_t r = recv(fd, req + n, HTTPD_REQ_MAX - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
        if ((hdr_end = strstr(req, "\r\n\r\n")) != NULL)
            break;
    }
    req[n] = '\0';
    http_buf body = {0};
    const char *ctype = "text/plain; charset=utf-8";
    int st = 400;
    char method[16] = "", target[HTTPD_REQ_MAX] = "";
    if (hdr_end && sscanf(req, "%15s %16383s", method, target) == 2) {
        char *q = strchr(target, '?');
        const char *query = "";
        if (q) {
            *q = '\0';
            query = q + 1;
        }
        /* a POSTed form body (Prometheus clients may POST /api/v1/query) */
        char *form = NULL;
        if (strcmp(method, "POST") == 0) {
            const char *b = hdr_end + 4;
            size_t have = n - (size_t)(b - req);
            const char *cl = strcasestr(req, "\r\ncontent-length:");
            long want = cl ? strtol(cl + 17, NULL, 10) : 0;
            if (want > 0 && want < HTTPD_REQ_MAX) {
                form = malloc((size_t)want + 1);
                if (form) {
                    size_t got = have < (size_t)want ? have : (size_t)want;
                    memcpy(form, b, got);
                    while (got < (size_t)want) {
                        ssize_t r = recv(fd, form + got, (size_t)want - got, 0);
                        if (r < 0 && errno == EINTR)
                            continue;
                        if (r <= 0)
                            break;
                        got += (size_t)r;
                    }
                    form[got] = '\0';
                    query = form;
                }
            }
        }
        st = s->handler(s->ctx, method, target, query, &body, &ctype);
        free(form);
    } else {
        http_buf_printf(&body, "bad request\n");
    }
    if (body.oom) {
        http_buf_free(&body);
        st = 503;
        http_buf_printf(&body, "out of memory\n");
    }
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      st, status_text(st), ctype, body.len);
    send_all(fd, head, (size_t)hl);
    if (strcmp(method, "HEAD") != 0 && body.len)
        send_all(fd, body.data, body.len);
    http_buf_free(&body);
}

static void *accept_loop(void *arg)
{
    httpd *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
        int r = poll(p, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN) {
            int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            serve_one(s, fd);
            shutdown(fd, SHUT_WR);
            close(fd);
        }
    }
    return NULL;
}

int httpd_start(const char *bind_host, int port, httpd_handler h, void *ctx, httpd **out, char *why,
                size_t why_len)
{
    *out = NULL;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    int g = getaddrinfo(bind_host, ports, &hints, &ai);
    if (g != 0) {
        snprintf(why, why_len, "http: cannot resolve %s: %s", bind_host, gai_strerror(g));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        snprintf(why, why_len, "http: cannot listen on %s:%d: %s", bind_host, port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int bound = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    httpd *s = calloc(1, sizeof(*s));
    if (!s || pipe(s->stop_pipe) < 0) {
        snprintf(why, why_len, "http: out of resources");
        free(s);
        close(fd);
        return -1;
    }
    s->lfd = fd;
    s->port = bound;
    s->handler = h;
    s->ctx = ctx;
    if (pthread_create(&s->th, NULL, accept_loop, s) != 0) {
        snprintf(why, why_len, "http: cannot start a thread");
        close(s->stop_pipe[0]);
        close(s->stop_pipe[1]);
        close(fd);
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int httpd_port(const httpd *s) { return s->port; }

void httpd_stop(httpd *s)
{
    if (!s)
        return;
    ssize_t w = write(s->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(s->th, NULL);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    close(s->lfd);
    free(s);
}
