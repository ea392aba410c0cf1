/* resp.h: a small Redis client (RESP2 over a TCP socket), enough for the live stack: the
 * worker's reliable queue (BLMOVE, EVAL), the load generator, the scraper and the live
 * driver (`gpenlab drive`: LLEN of the pending list). One
 * connection is used by one thread at a time. Every call has a timeout (SO_RCVTIMEO /
 * SO_SNDTIMEO; a blocking command needs a read timeout longer than its block time).
 * Calls return 0 or -1 with a short reason in the caller's buffer; a -1 leaves the
 * connection unusable (close it and reconnect). A Redis error reply is not a failure of
 * the call: it comes back as a RESP_ERROR reply. Nothing here prints or exits. */
#ifndef GP_RESP_H
#define GP_RESP_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    RESP_NIL = 0, /* null bulk string or null array */
    RESP_STATUS,  /* +OK */
    RESP_ERROR,   /* -ERR ... */
    RESP_INT,     /* :42 */
    RESP_BULK,    /* $n binary-safe string (NUL-terminated copy in str) */
    RESP_ARRAY    /* *n elements */
} resp_type;

typedef struct resp_reply {
    resp_type type;
    long long integer;       /* RESP_INT */
    char *str;               /* STATUS, ERROR, BULK: malloc'd, NUL-terminated */
    size_t len;              /* bytes in str */
    size_t n_elem;           /* ARRAY */
    struct resp_reply *elem; /* ARRAY: n_elem replies */
} resp_reply;

typedef struct resp_conn resp_conn;

/* Connects to host:port (name or address) within timeout_ms; io timeouts = timeout_ms. */
int resp_connect(const char *host, int port, int timeout_ms, resp_conn **out, char *why,
                 size_t why_len);
/* The same for a caller that must stop promptly (the live driver on SIGTERM): connecting,
 * sending and waiting for a reply give up ("cancelled") as soon as cancel(ctx) returns
 * true, asked at least every NETADDR_CANCEL_POLL_MS (50 ms) while waiting. */
int resp_connect_cancel(const char *host, int port, int timeout_ms, bool (*cancel)(void *),
                        void *ctx, resp_conn **out, char *why, size_t why_len);
void resp_close(resp_conn *c);
/* Changes the read timeout (ms, 0 = none) for the next replies. */
int resp_set_read_timeout(resp_conn *c, int timeout_ms);

/* Sends one command of argc arguments (lengths argl; NULL: strlen of each) and reads its
 * reply into *out (free with resp_reply_free). */
int resp_command(resp_conn *c, int argc, const char *const *argv, const size_t *argl,
                 resp_reply *out, char *why, size_t why_len);
/* The same with a NULL-terminated list of string arguments. */
int resp_commandl(resp_conn *c, resp_reply *out, char *why, size_t why_len, ...)
    __attribute__((sentinel));
void resp_reply_free(resp_reply *r);

/* Integer value of an INT reply, or of a BULK/STATUS reply holding a decimal integer.
 * Returns 0 and *v, or -1. */
int resp_reply_int(const resp_reply *r, long long *v);

#endif
