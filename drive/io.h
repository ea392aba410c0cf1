/* io.h: the driver's wire clients, internal to drive/: HTTP(S) through libcurl with TLS
 * verified (a bearer token is sent as a header and never copied into a message), the
 * Prometheus instant-query API, Redis LLEN over RESP on a plain socket, and the parts of
 * a kubeconfig the driver needs. Every call has a timeout; none prints. Errors are a
 * short text in the caller's buffer. */
#ifndef GP_DRIVE_IO_H
#define GP_DRIVE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_auth {
    char *token;          /* bearer token, NULL: none */
    char *ca_file;        /* NULL: the system store */
    char *ca_pem;         /* in-memory CA bundle (kubeconfig -data), NULL: none */
    size_t ca_pem_len;
    char *cert_pem, *key_pem; /* client certificate and key (PEM), NULL: none */
    size_t cert_pem_len, key_pem_len;
    char *cert_file, *key_file;
} http_auth;

void http_auth_free(http_auth *a);

typedef struct http_resp {
    long status;          /* 0: no answer (connection failed, timeout) */
    char *body;           /* NUL-terminated, malloc'd */
    size_t len;
    char err[256];        /* transport error, "" if an answer came */
} http_resp;

void http_resp_free(http_resp *r);
/* true when the URL's host is exactly localhost, [::1] or 127.x.y.z. */
bool http_url_is_loopback(const char *url);
/* Refuses plain http:// to a host other than loopback when a token is set. Returns 0
 * when an answer came (any status), -1 otherwise (r->err says why). */
int http_do(const char *method, const char *url, const char *content_type, const char *body,
            const http_auth *auth, int64_t timeout_us, http_resp *r);

/* Prometheus instant query. A vector answer fills up to max values with their `pod`
 * label (when pod_labels is not NULL), else exactly one series is expected (or none: n=0).
 * Returns the number of series (>= 0) or -1 with why filled (down, HTTP error, garbage,
 * status != success). */
typedef struct prom_sample {
    char pod[128];
    double value;
} prom_sample;
int prom_query(const char *base_url, const char *query, int64_t timeout_us, bool per_pod,
               prom_sample *out, int max, char *why, size_t why_len);

/* LLEN key. Returns 0 and *len, or -1 with why. */
int redis_llen(const char *host, int port, const char *key, int64_t timeout_us, long long *len,
               char *why, size_t why_len);

/* Kubernetes API access: the server URL and credentials from a kubeconfig (path "" ->
 * $KUBECONFIG or ~/.kube/config; context "" -> current-context), from the in-cluster
 * service account, or from an explicit server + token file + CA file. */
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
