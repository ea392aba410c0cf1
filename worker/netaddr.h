/* netaddr.h: the HOST:PORT arguments of the live stack's programs (gpenlab-worker,
 * gpenlab-loadgen, gpenlab-promlite). */
#ifndef GP_WORKER_NETADDR_H
#define GP_WORKER_NETADDR_H

#include <stddef.h>

/* Splits s at its last ':' into host (non-empty, shorter than host_len) and a decimal port
 * in min_port..65535 (0 allowed where the caller listens on an ephemeral port). 0, or -1
 * when s is not of that form. */
int netaddr_parse(const char *s, int min_port, char *host, size_t host_len, int *port);

#endif
