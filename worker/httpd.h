/* httpd.h: a tiny HTTP/1.0-style server for loopback endpoints (the worker's /metrics,
 * the scraper's Prometheus query API). One thread accepts and answers one connection at
 * a time (Connection: close); a request is read within 2 s and bounded to 16 KiB, so a
 * stuck or hostile client cannot hold the thread. The handler runs on that thread and
 * must be thread-safe against the caller's other threads. Nothing here prints. */
#ifndef GP_HTTPD_H
#define GP_HTTPD_H

#include <stddef.h>

/* A growable response body; on allocation failure `oom` is set and later writes drop. */
typedef struct http_buf {
    char *data;
    size_t len, cap;
    int oom;
} http_buf;

void http_buf_append(http_buf *b, const char *s, size_t n);
void http_buf_printf(http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void http_buf_free(http_buf *b);

/* Fills body and *content_type for (method, path, query string without '?', may be "");
 * returns the HTTP status. */
typedef int (*httpd_handler)(void *ctx, const char *method, const char *path, const char *query,
                             http_buf *body, const char **content_type);

typedef struct httpd httpd;

/* Listens on bind_host:port (port 0: any free port) and serves until httpd_stop. */
int httpd_start(const char *bind_host, int port, httpd_handler h, void *ctx, httpd **out, char *why,
                size_t why_len);
/* The port actually bound. */
int httpd_port(const httpd *s);
/* Stops the thread, closes the socket, frees. */
void httpd_stop(httpd *s);

/* Decodes %XX and '+' of a URL query component into dst (always NUL-terminated). */
void http_url_decode(const char *src, size_t n, char *dst, size_t cap);
/* The value of parameter `name` in a query string, decoded; 0 found, -1 not. */
int http_query_param(const char *query, const char *name, char *dst, size_t cap);

#endif
