/* wopts.h: the option values the live stack's programs (gpenlab-worker, -loadgen,
 * -promlite) share, as CLI_VALUE readers of the one option parser (base/opts.h): a
 * HOST:PORT to connect to or to listen on, a Redis key prefix, a metrics namespace, a
 * worker id. A bad value is one gp_error on the option: "--redis: expected HOST:PORT with
 * a port in 1..65535, got \"x\"". */
#ifndef GP_WORKER_WOPTS_H
#define GP_WORKER_WOPTS_H

#include "base/error.h"

/* A HOST:PORT option's value. */
typedef struct wopts_addr {
    char host[256];
    int port;
} wopts_addr;

/* Into a wopts_addr: a port in 1..65535 (connect), or 0..65535 (listen: 0 = any free). */
int wopts_connect_addr(const char *name, const char *value, void *out_addr, gp_error *err);
int wopts_listen_addr(const char *name, const char *value, void *out_addr, gp_error *err);

/* Names into a char[WOPTS_NAME_MAX], non-empty and shorter than that: a key prefix
 * (queue.h's "gpen"); a namespace label, without the characters that would break a
 * Prometheus label or JSON string (" \ { } newline); a worker id, without those nor space
 * or ':' (it is a key part and a pod name). */
#define WOPTS_NAME_MAX 64
int wopts_prefix(const char *name, const char *value, void *out_name, gp_error *err);
int wopts_namespace(const char *name, const char *value, void *out_name, gp_error *err);
int wopts_worker_id(const char *name, const char *value, void *out_name, gp_error *err);

#endif
