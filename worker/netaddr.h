/* netaddr.h: the live stack's programs (gpenlab-worker, gpenlab-loadgen, gpenlab-promlite)
 * reaching a HOST:PORT: the argument's syntax, and a TCP connection with bounded waits. */
#ifndef GP_WORKER_NETADDR_H
#define GP_WORKER_NETADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Splits s at its last ':' into host (non-empty, shorter than host_len) and a decimal port
 * in min_port..65535 (0 allowed where the caller listens on an ephemeral port). 0, or -1
 * when s is not of that form. */
int netaddr_parse(const char *s, int min_port, char *host, size_t host_len, int *port);

/* A connected TCP socket (close-on-exec) to host:port, trying each resolved address in turn,
 * each connect bounded by timeout_ms, reads and writes then bounded by timeout_ms too. The
 * fd, or -1 with what failed in why ("cannot resolve host: ...", "connect: ..."). */
int netaddr_connect(const char *host, int port, int timeout_ms, char *why, size_t why_len);
/* The same, giving up ("cancelled") as soon as cancel(ctx) returns true: it is asked at
 * least every NETADDR_CANCEL_POLL_MS while a connect waits. cancel NULL: never. The name
 * lookup itself (getaddrinfo) is not interruptible. */
#define NETADDR_CANCEL_POLL_MS 50
int netaddr_connect_cancel(const char *host, int port, int timeout_ms, bool (*cancel)(void *),
                           void *ctx, char *why, size_t why_len);
/* Bounds fd's reads (SO_RCVTIMEO) or writes (SO_SNDTIMEO) by timeout_ms. */
void netaddr_set_timeout(int fd, int opt, int timeout_ms);

#endif
