/* netaddr.c: HOST:PORT arguments (see netaddr.h). */
#include "netaddr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
