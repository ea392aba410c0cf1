/* io.h: the driver's wire clients, internal to drive/: HTTP(S) through libcurl with TLS
 * verified, URLs parsed by libcurl's URL API (the handle that was checked is the one curl
 * connects with), several requests at once under one deadline and a cancel hook; the
 * Prometheus instant-query API; Redis LLEN through the project's one RESP client
 * (worker/resp.h); the parts of a kubeconfig the driver needs. A bearer token goes only
 * over https, or over http to a loopback host as curl parses that host; it is sent as a
 * header and never copied into a message. Every call has a timeout; none prints. Errors
 * are a short text in the caller's buffer. */
#ifndef GP_DRIVE_IO_H
#define GP_DRIVE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cancel hook: asked every few tens of milliseconds while a call waits; true = give up. */
typedef bool (*io_cancel_fn)(void *ctx);

int64_t io_mono_us(void); /* CLOCK_MONOTONIC in microseconds */

typedef struct http_auth {
    char *token;   /* bearer token, NULL: none */
    char *ca_file; /* NULL: the system store */
    char *ca_pem;  /* in-memory CA bundle (kubeconfig -data), NULL: none */
    size_t ca_pem_len;
    char *cert_pem, *key_pem; /* client certificate and key (PEM), NULL: none */
    size_t cert_pem_len, key_pem_len;
    char *cert_file, *key_file;
} http_auth;

void http_auth_free(http_auth *a);
/* Re-reads the bearer token from token_file (projected tokens rotate); the file must be
 * private (no group/other access) unless it is the in-cluster service-account token. */
int http_auth_load_token(http_auth *a, const char *token_file, char *why, size_t why_len);

typedef struct http_resp {
    long status; /* 0: no answer (refused, connection failed, timeout, cancelled) */
    char *body;  /* NUL-terminated, malloc'd */
    size_t len;
    char err[256]; /* transport error, "" if an answer came */
} http_resp;

void http_resp_free(http_resp *r);

/* Parses url with libcurl's URL API. The scheme must be http or https (any case);
 * *https says which; *loopback is true when the host, as curl parses and normalises it,
 * is localhost, a 127.x.y.z address or [::1]. 0, or -1 with why. */
int http_url_parse(const char *url, bool *https, bool *loopback, char *why, size_t why_len);
/* 0 when url may carry a bearer token (https, or http to loopback); -1 with why. */
int http_url_token_ok(const char *url, char *why, size_t why_len);
bool http_url_is_loopback(const char *url);

typedef struct http_req {
    const char *method, *url;
    const char *content_type, *body; /* NULL: none */
    const http_auth *auth;           /* NULL: no credentials, the system CA store */
    int64_t timeout_us;
    http_resp resp; /* the answer (free with http_resp_free) */
} http_req;

/* Performs the n requests at once. Returns when each has an answer or has failed: on its
 * own timeout, at deadline_us (io_mono_us clock; 0: none: "the tick's time budget ran
 * out") or once cancel(ctx) is true ("cancelled"). A request with a token to a URL that
 * must not carry one is refused without a connection. Returns 0, or -1 when cancelled. */
int http_run(http_req *reqs, size_t n, int64_t deadline_us, io_cancel_fn cancel, void *ctx);
/* One request. 0 when an answer came (any status), -1 otherwise (r->err says why). */
int http_do(const char *method, const char *url, const char *content_type, const char *body,
            const http_auth *auth, int64_t timeout_us, http_resp *r);

/* ---- Prometheus ---- */

typedef struct prom_sample {
    char pod[256]; /* the `pod` label (per-pod queries), "" otherwise */
    double value;  /* NaN when refused */
    bool refused;  /* the value is not a number the driver can use (below) */
} prom_sample;

/* The instant-query URL (/api/v1/query?query=...), malloc'd; NULL when out of memory. */
char *prom_query_url(const char *base_url, const char *query);
/* Parses an instant-query answer. One series is expected (or none) unless per_pod, where
 * each series must carry a `pod` label (at most 253 characters). A sample that is not a
 * finite, non-negative decimal number (NaN, +Inf, -Inf, a negative value, one out of range
 * such as 1e400, or hexadecimal such as 0x1p3) is kept with refused = true: the caller
 * treats it as a missing metric. Returns 0 with *out (malloc'd, *n entries), or -1 with why
 * for an answer that is garbage: an HTTP error, malformed JSON, status other than success,
 * a value that is not a number at all, several series for a cluster query. */
int prom_parse(const http_resp *r, const char *query, bool per_pod, prom_sample **out, size_t *n,
               char *why, size_t why_len);

/* ---- Redis ---- */

/* LLEN key through worker/resp.h. Returns 0 and *len (>= 0), or -1 with why ("redis
 * down: ..." when there is no answer). */
int redis_llen(const char *host, int port, const char *key, int64_t timeout_us, io_cancel_fn cancel,
               void *ctx, long long *len, char *why, size_t why_len);

/* ---- Kubernetes API access ---- */

/* The server URL and credentials from a kubeconfig (path "" -> $KUBECONFIG or
 * ~/.kube/config; context "" -> current-context), from the in-cluster service account, or
 * from an explicit server + token file + CA file. A server that is plain http is accepted
 * only on loopback. */
typedef struct kube_access {
    char server[512];
    char token_file[512]; /* re-read at each request (projected tokens rotate) */
    http_auth auth;
} kube_access;
int kube_access_load(const char *kubeconfig, const char *context, bool in_cluster,
                     const char *server, const char *token_file, const char *ca_file,
                     kube_access *k, char *why, size_t why_len);
void kube_access_free(kube_access *k);
/* The auth to use now (reloads the token file). */
int kube_auth_refresh(kube_access *k, char *why, size_t why_len);

#endif
