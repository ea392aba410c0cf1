/* netaddr.c: HOST:PORT arguments (see netaddr.h). */
#include "worker/netaddr.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int netaddr_parse(const char *s, int min_port, char *host, size_t host_len, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= host_len)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < min_port || p > 65535)
        return -1;
    snprintf(host, host_len, "%.*s", (int)(colon - s), s);
    *port = (int)p;
    return 0;
}

void netaddr_set_timeout(int fd, int opt, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

/* Non-blocking connect bounded by timeout_ms, asking cancel between short waits. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t sl, int timeout_ms,
                           bool (*cancel)(void *), void *ctx, bool *cancelled)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int rc = connect(fd, sa, sl);
    if (rc < 0 && errno == EINPROGRESS) {
        int left = timeout_ms;
        for (;;) {
            int slice = cancel && left > NETADDR_CANCEL_POLL_MS ? NETADDR_CANCEL_POLL_MS : left;
            struct pollfd p = {fd, POLLOUT, 0};
            rc = poll(&p, 1, slice);
            if (rc < 0 && errno == EINTR)
                continue;
            left -= slice;
            if (rc == 0 && cancel && cancel(ctx)) {
                *cancelled = true;
                errno = ECANCELED;
                rc = -1;
                break;
            }
            if (rc == 0 && left > 0)
                continue;
            break;
        }
        if (rc == 0) {
            errno = ETIMEDOUT;
            rc = -1;
        } else if (rc > 0) {
            int e = 0;
            socklen_t el = sizeof(e);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
            if (e) {
                errno = e;
                rc = -1;
            } else {
                rc = 0;
            }
        }
    }
    int saved = errno;
    if (fcntl(fd, F_SETFL, fl) < 0)
        return -1;
    errno = saved;
    return rc;
}

int netaddr_connect(const char *host, int port, int timeout_ms, char *why, size_t why_len)
{
    return netaddr_connect_cancel(host, port, timeout_ms, NULL, NULL, why, why_len);
}

int netaddr_connect_cancel(const char *host, int port, int timeout_ms, bool (*cancel)(void *),
                           void *ctx, char *why, size_t why_len)
{
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, ports, &hints, &ai);
    if (g != 0) {
        snprintf(why, why_len, "cannot resolve host: %s", gai_strerror(g));
        return -1;
    }
    int fd = -1, last = 0;
    bool cancelled = false;
    for (struct addrinfo *a = ai; a && !cancelled; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect_timeout(fd, a->ai_addr, a->ai_addrlen, timeout_ms, cancel, ctx, &cancelled) ==
            0)
            break;
        last = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(why, why_len, "connect: %s", cancelled ? "cancelled" : strerror(last));
        return -1;
    }
    netaddr_set_timeout(fd, SO_RCVTIMEO, timeout_ms);
    netaddr_set_timeout(fd, SO_SNDTIMEO, timeout_ms);
    return fd;
}
