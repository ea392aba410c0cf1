/* io.c: libcurl HTTP (one multi handle per batch), the Prometheus query API, Redis LLEN
 * over worker/resp.c, and kubeconfig (see io.h). */
#include "drive/io.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <time.h>

#include "base/cfg.h"
#include "worker/resp.h"

/* ------------------------------------------------------------------ HTTP */

int64_t io_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void http_auth_free(http_auth *a)
{
    if (!a)
        return;
    if (a->token) /* do not leave the token in freed memory */
        memset(a->token, 0, strlen(a->token));
    free(a->token);
    free(a->ca_file);
    free(a->ca_pem);
    free(a->cert_pem);
    if (a->key_pem)
        memset(a->key_pem, 0, a->key_pem_len);
    free(a->key_pem);
    free(a->cert_file);
    free(a->key_file);
    memset(a, 0, sizeof(*a));
}

void http_resp_free(http_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    http_resp *r = ctx;
    size_t n = size * nmemb;
    if (r->len + n > (64u << 20))
        return 0; /* more than 64 MiB: not an answer we want */
    char *b = realloc(r->body, r->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, data, n);
    r->len += n;
    b[r->len] = '\0';
    r->body = b;
    return n;
}

/* The host as curl normalised it is loopback: localhost, 127.x.y.z or [::1] (a prefix
 * match would let "localhost.example.com" pass; curl turns 0x7f.1 into 127.0.0.1). */
static bool host_is_loopback(const char *h)
{
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0)
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256 && strspn(h, "0123456789.") == strlen(h);
}

/* A parsed URL handle, checked: http or https and a host. NULL with why. */
static CURLU *url_open(const char *url, bool *https, bool *loopback, char *why, size_t why_len)
{
    CURLU *u = curl_url();
    if (!u) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    char *scheme = NULL, *host = NULL;
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (rc == CURLUE_OK)
        rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    bool ok = false;
    if (rc != CURLUE_OK) {
        snprintf(why, why_len, "not a URL: %s", curl_url_strerror(rc));
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(why, why_len, "the URL's scheme must be http or https");
    } else {
        *https = strcasecmp(scheme, "https") == 0;
        *loopback = host_is_loopback(host);
        ok = true;
    }
    curl_free(scheme);
    curl_free(host);
    if (!ok) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

int http_url_parse(const char *url, bool *https, bool *loopback, char *why, size_t why_len)
{
    CURLU *u = url_open(url, https, loopback, why, why_len);
    curl_url_cleanup(u);
    return u ? 0 : -1;
}

static int token_ok(bool https, bool loopback, char *why, size_t why_len)
{
    if (https || loopback)
        return 0;
    snprintf(why, why_len, "refusing to send a token over plain http to a non-loopback host");
    return -1;
}

int http_url_token_ok(const char *url, char *why, size_t why_len)
{
    bool https, loopback;
    if (http_url_parse(url, &https, &loopback, why, why_len) < 0)
        return -1;
    return token_ok(https, loopback, why, why_len);
}

bool http_url_is_loopback(const char *url)
{
    bool https, loopback;
    char why[128];
    return http_url_parse(url, &https, &loopback, why, sizeof(why)) == 0 && loopback;
}

/* One easy handle for r on the checked URL handle u (owned by the caller). */
static CURL *easy_for(http_req *r, CURLU *u, struct curl_slist **hdr, char *errbuf,
                      int64_t timeout_us)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    const http_auth *auth = r->auth;
    char line[8300];
    if (auth && auth->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", auth->token);
        *hdr = curl_slist_append(*hdr, line);
        memset(line, 0, sizeof(line));
    }
    if (r->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", r->content_type);
        *hdr = curl_slist_append(*hdr, line);
    }
    *hdr = curl_slist_append(*hdr, "Accept: application/json");
    long ms = (long)(timeout_us / 1000);
    if (ms < 1)
        ms = 1;
    curl_easy_setopt(c, CURLOPT_CURLU, u);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->resp);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    if (r->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    }
    if (auth) {
        if (auth->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, auth->ca_file);
        if (auth->ca_pem) {
            struct curl_blob b = {auth->ca_pem, auth->ca_pem_len, CURL_BLOB_COPY};
            curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
        }
        if (auth->cert_file)
            curl_easy_setopt(c, CURLOPT_SSLCERT, auth->cert_file);
        if (auth->key_file)
            curl_easy_setopt(c, CURLOPT_SSLKEY, auth->key_file);
        if (auth->cert_pem) {
            struct curl_blob b = {auth->cert_pem, auth->cert_pem_len, CURL_BLOB_COPY};
            curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &b);
            curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        }
        if (auth->key_pem) {
            struct curl_blob b = {auth->key_pem, auth->key_pem_len, CURL_BLOB_COPY};
            curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &b);
            curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        }
    }
    return c;
}

typedef struct http_slot {
    CURL *easy;
    CURLU *url;
    struct curl_slist *hdr;
    char errbuf[CURL_ERROR_SIZE];
    bool done;
    bool cut; /* its timeout is what was left of the deadline */
} http_slot;

int http_run(http_req *reqs, size_t n, int64_t deadline_us, io_cancel_fn cancel, void *ctx)
{
    http_slot *slots = calloc(n ? n : 1, sizeof(*slots));
    CURLM *m = curl_multi_init();
    if (!slots || !m) {
        for (size_t i = 0; i < n; i++) {
            memset(&reqs[i].resp, 0, sizeof(reqs[i].resp));
            snprintf(reqs[i].resp.err, sizeof(reqs[i].resp.err), "out of memory");
        }
        free(slots);
        if (m)
            curl_multi_cleanup(m);
        return 0;
    }
    int64_t now = io_mono_us();
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        http_req *r = &reqs[i];
        http_slot *s = &slots[i];
        memset(&r->resp, 0, sizeof(r->resp));
        s->done = true;
        bool https = false, loopback = false;
        s->url = url_open(r->url, &https, &loopback, r->resp.err, sizeof(r->resp.err));
        if (!s->url)
            continue;
        if (r->auth && r->auth->token &&
            token_ok(https, loopback, r->resp.err, sizeof(r->resp.err)) < 0)
            continue;
        int64_t t = r->timeout_us;
        if (deadline_us > 0 && deadline_us - now < t) {
            t = deadline_us - now;
            s->cut = true;
        }
        if (t <= 0) {
            snprintf(r->resp.err, sizeof(r->resp.err), "the tick's time budget ran out");
            continue;
        }
        s->easy = easy_for(r, s->url, &s->hdr, s->errbuf, t);
        if (!s->easy || curl_multi_add_handle(m, s->easy) != CURLM_OK) {
            snprintf(r->resp.err, sizeof(r->resp.err), "curl_easy_init failed");
            continue;
        }
        s->done = false;
        running++;
    }
    int rc = 0;
    while (running > 0) {
        int still = 0;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            http_req *r = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            http_slot *s = &slots[r - reqs];
            s->done = true;
            running--;
            if (msg->data.result == CURLE_OPERATION_TIMEDOUT && s->cut) {
                snprintf(r->resp.err, sizeof(r->resp.err), "the tick's time budget ran out");
                r->resp.status = 0;
                http_resp_free(&r->resp);
            } else if (msg->data.result != CURLE_OK) {
                snprintf(r->resp.err, sizeof(r->resp.err), "%s",
                         s->errbuf[0] ? s->errbuf : curl_easy_strerror(msg->data.result));
                r->resp.status = 0;
                http_resp_free(&r->resp);
            } else {
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r->resp.status);
                if (!r->resp.body && !(r->resp.body = calloc(1, 1)))
                    snprintf(r->resp.err, sizeof(r->resp.err), "out of memory");
            }
        }
        if (running == 0)
            break;
        bool stop = cancel && cancel(ctx);
        bool late = deadline_us > 0 && io_mono_us() >= deadline_us;
        if (stop || late) {
            for (size_t i = 0; i < n; i++) {
                if (slots[i].done)
                    continue;
                slots[i].done = true;
                http_resp_free(&reqs[i].resp);
                reqs[i].resp.status = 0;
                snprintf(reqs[i].resp.err, sizeof(reqs[i].resp.err), "%s",
                         stop ? "cancelled" : "the tick's time budget ran out");
            }
            rc = stop ? -1 : 0;
            break;
        }
        int numfds;
        curl_multi_poll(m, NULL, 0, 50, &numfds); /* short: the hook and the deadline */
    }
    for (size_t i = 0; i < n; i++) {
        if (slots[i].easy) {
            curl_multi_remove_handle(m, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
        curl_slist_free_all(slots[i].hdr);
        curl_url_cleanup(slots[i].url);
    }
    curl_multi_cleanup(m);
    free(slots);
    return rc;
}

int http_do(const char *method, const char *url, const char *content_type, const char *body,
            const http_auth *auth, int64_t timeout_us, http_resp *r)
{
    http_req q = {.method = method,
                  .url = url,
                  .content_type = content_type,
                  .body = body,
                  .auth = auth,
                  .timeout_us = timeout_us};
    http_run(&q, 1, 0, NULL, NULL);
    *r = q.resp;
    return r->status > 0 && !r->err[0] ? 0 : -1;
}

/* ------------------------------------------------------------------ Prometheus */

/* Prometheus writes sample values as strings: "1.5", "NaN", "+Inf". 1: a usable value in
 * *out; 0: a number the driver refuses (not finite, negative, out of range, hexadecimal);
 * -1: not a number at all. */
static int parse_value(json_t *v, double *out)
{
    if (!json_is_array(v) || json_array_size(v) != 2)
        return -1;
    const char *s = json_string_value(json_array_get(v, 1));
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0')
        return -1;
    /* only decimal notation: strtod also reads "0x1p3", "inf", "nan", "infinity" */
    const char *p = s + (*s == '+' || *s == '-');
    bool decimal = (isdigit((unsigned char)p[0]) || p[0] == '.') && !strpbrk(s, "xXpPnN");
    bool overflow = errno == ERANGE && fabs(d) > 1.0;
    if (!decimal || overflow || !isfinite(d) || d < 0)
        return 0;
    *out = d;
    return 1;
}

char *prom_query_url(const char *base_url, const char *query)
{
    CURL *esc = curl_easy_init();
    char *q = esc ? curl_easy_escape(esc, query, 0) : NULL;
    char *url = NULL;
    if (q) {
        size_t ulen = strlen(base_url) + strlen(q) + 32;
        if ((url = malloc(ulen))) {
            size_t bl = strlen(base_url);
            while (bl > 0 && base_url[bl - 1] == '/')
                bl--;
            snprintf(url, ulen, "%.*s/api/v1/query?query=%s", (int)bl, base_url, q);
        }
        curl_free(q);
    }
    if (esc)
        curl_easy_cleanup(esc);
    return url;
}

int prom_parse(const http_resp *r, const char *query, bool per_pod, prom_sample **out,
               size_t *n_out, char *why, size_t why_len)
{
    *out = NULL;
    *n_out = 0;
    if (r->status == 0) {
        snprintf(why, why_len, "prometheus down: %s", r->err);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);
    if (!root) {
        snprintf(why, why_len, "prometheus answered HTTP %ld with malformed JSON: %s", r->status,
                 jerr.text);
        return -1;
    }
    int rc = -1;
    const char *st = json_string_value(json_object_get(root, "status"));
    json_t *data = json_object_get(root, "data");
    const char *rtype = json_string_value(json_object_get(data, "resultType"));
    json_t *result = json_object_get(data, "result");
    prom_sample *s = NULL;
    size_t n = 0;
    if (r->status != 200 || !st || strcmp(st, "success") != 0) {
        const char *e = json_string_value(json_object_get(root, "error"));
        snprintf(why, why_len, "prometheus answered HTTP %ld: %s", r->status,
                 e ? e : "not success");
    } else if (rtype && strcmp(rtype, "scalar") == 0 && !per_pod) {
        if (!(s = calloc(1, sizeof(*s)))) {
            snprintf(why, why_len, "out of memory");
        } else {
            int v = parse_value(result, &s->value);
            if (v < 0) {
                snprintf(why, why_len, "prometheus: malformed scalar for %s", query);
            } else {
                s->refused = v == 0;
                if (s->refused)
                    s->value = NAN;
                n = 1;
                rc = 0;
            }
        }
    } else if (rtype && strcmp(rtype, "vector") == 0 && json_is_array(result)) {
        size_t k = json_array_size(result);
        if (!per_pod && k > 1) {
            snprintf(why, why_len, "prometheus: %zu series for %s, expected one", k, query);
        } else if (k > 0 && !(s = calloc(k, sizeof(*s)))) {
            snprintf(why, why_len, "out of memory");
        } else {
            rc = 0;
            for (size_t i = 0; i < k && rc == 0; i++) {
                json_t *it = json_array_get(result, i);
                int v = parse_value(json_object_get(it, "value"), &s[n].value);
                if (v < 0) {
                    snprintf(why, why_len, "prometheus: malformed sample in %s", query);
                    rc = -1;
                    break;
                }
                s[n].refused = v == 0;
                if (s[n].refused)
                    s[n].value = NAN;
                if (per_pod) {
                    const char *pod =
                        json_string_value(json_object_get(json_object_get(it, "metric"), "pod"));
                    if (!pod || !pod[0] || strlen(pod) > 253) {
                        snprintf(why, why_len,
                                 "prometheus: a series without a usable pod label in %s", query);
                        rc = -1;
                        break;
                    }
                    snprintf(s[n].pod, sizeof(s[n].pod), "%s", pod);
                }
                n++;
            }
        }
    } else {
        snprintf(why, why_len, "prometheus: unexpected result type for %s", query);
    }
    json_decref(root);
    if (rc < 0) {
        free(s);
        return -1;
    }
    *out = s;
    *n_out = n;
    return 0;
}

/* ------------------------------------------------------------------ Redis */

int redis_llen(const char *host, int port, const char *key, int64_t timeout_us, io_cancel_fn cancel,
               void *ctx, long long *len, char *why, size_t why_len)
{
    int ms = timeout_us / 1000 > INT32_MAX ? INT32_MAX : (int)(timeout_us / 1000);
    if (ms < 1)
        ms = 1;
    resp_conn *c = NULL;
    char msg[300];
    if (resp_connect_cancel(host, port, ms, cancel, ctx, &c, msg, sizeof(msg)) < 0) {
        snprintf(why, why_len, "redis down: %s:%d: %s", host, port, msg);
        return -1;
    }
    resp_reply r;
    int rc = -1;
    if (resp_commandl(c, &r, msg, sizeof(msg), "LLEN", key, NULL) < 0) {
        snprintf(why, why_len, "redis down: %s:%d: %s", host, port, msg);
    } else {
        if (r.type == RESP_INT && r.integer >= 0) {
            *len = r.integer;
            rc = 0;
        } else if (r.type == RESP_ERROR) {
            snprintf(why, why_len, "redis error: %.200s", r.str ? r.str : "");
        } else {
            snprintf(why, why_len, "redis: unexpected reply to LLEN");
        }
        resp_reply_free(&r);
    }
    resp_close(c);
    return rc;
}

/* ------------------------------------------------------------------ kubeconfig */

void kube_access_free(kube_access *k) { http_auth_free(&k->auth); }

static int b64_decode(const char *in, char **out, size_t *out_len)
{
    size_t n = strlen(in);
    unsigned char *o = malloc(n / 4 * 3 + 4);
    if (!o)
        return -1;
    size_t len = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i], d;
        if (c >= 'A' && c <= 'Z')
            d = c - 'A';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            d = c - '0' + 52;
        else if (c == '+')
            d = 62;
        else if (c == '/')
            d = 63;
        else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
            continue;
        else {
            free(o);
            return -1;
        }
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (unsigned char)((v >> bits) & 0xff);
        }
    }
    o[len] = '\0';
    *out = (char *)o;
    *out_len = len;
    return 0;
}

/* A credential file (kubeconfig, token, client key) must not be readable or writable by
 * group or others; the in-cluster service-account token, which Kubernetes mounts 0644,
 * is exempt. 0 when private, -1 with the reason in why. */
static int credential_file_private(const char *path, const char *what, char *why, size_t why_len)
{
    static const char sa_dir[] = "/var/run/secrets/kubernetes.io/serviceaccount/";
    if (strncmp(path, sa_dir, sizeof(sa_dir) - 1) == 0)
        return 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return 0; /* reading it reports the error */
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(why, why_len,
                 "%s %s is open to group or others (mode %03o): refused, a credential must "
                 "be private (chmod 600 %s)",
                 what, path, (unsigned)(st.st_mode & 0777), path);
        return -1;
    }
    return 0;
}

static char *read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

int http_auth_load_token(http_auth *a, const char *token_file, char *why, size_t why_len)
{
    if (!token_file || !token_file[0])
        return 0;
    if (credential_file_private(token_file, "token file", why, why_len) < 0)
        return -1;
    char *t = read_small(token_file);
    if (!t || !t[0]) {
        free(t);
        snprintf(why, why_len, "cannot read the token file %s", token_file);
        return -1;
    }
    if (a->token) {
        memset(a->token, 0, strlen(a->token));
        free(a->token);
    }
    a->token = t;
    return 0;
}

int kube_auth_refresh(kube_access *k, char *why, size_t why_len)
{
    return http_auth_load_token(&k->auth, k->token_file, why, why_len);
}

/* The entry of `list` (clusters, users, contexts) whose name is `name`, its inner map. */
static const cfg_node *named(const cfg_node *root, const char *list, const char *inner,
                             const char *name)
{
    const cfg_node *seq = cfg_map_get(root, list);
    for (size_t i = 0; seq && cfg_node_kind(seq) == CFG_SEQ && i < cfg_len(seq); i++) {
        const cfg_node *it = cfg_seq_at(seq, i);
        const char *n = cfg_scalar(cfg_map_get(it, "name"));
        if (n && strcmp(n, name) == 0)
            return cfg_map_get(it, inner);
    }
    return NULL;
}

static char *dup_rel(const char *base, const char *p)
{
    if (p[0] == '/' || !strrchr(base, '/'))
        return strdup(p);
    size_t dl = (size_t)(strrchr(base, '/') - base);
    char *o = malloc(dl + strlen(p) + 2);
    if (o)
        sprintf(o, "%.*s/%s", (int)dl, base, p);
    return o;
}

static int load_kubeconfig(const char *path_in, const char *context, kube_access *k, char *why,
                           size_t why_len)
{
    char path[512];
    if (path_in && path_in[0])
        snprintf(path, sizeof(path), "%s", path_in);
    else if (getenv("KUBECONFIG") && getenv("KUBECONFIG")[0])
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(getenv("KUBECONFIG"), ":"),
                 getenv("KUBECONFIG"));
    else
        snprintf(path, sizeof(path), "%s/.kube/config", getenv("HOME") ? getenv("HOME") : "");
    if (credential_file_private(path, "kubeconfig", why, why_len) < 0)
        return -1;
    cfg_doc *doc;
    gp_error err;
    if (cfg_load_file(path, &doc, &err) < 0) {
        char buf[700];
        gp_error_format(&err, buf, sizeof(buf));
        snprintf(why, why_len, "kubeconfig: %s", buf);
        return -1;
    }
    const cfg_node *root = cfg_root(doc);
    const char *ctx =
        context && context[0] ? context : cfg_scalar(cfg_map_get(root, "current-context"));
    int rc = -1;
    const cfg_node *c = ctx ? named(root, "contexts", "context", ctx) : NULL;
    const char *cl = c ? cfg_scalar(cfg_map_get(c, "cluster")) : NULL;
    const char *us = c ? cfg_scalar(cfg_map_get(c, "user")) : NULL;
    const cfg_node *cluster = cl ? named(root, "clusters", "cluster", cl) : NULL;
    const cfg_node *user = us ? named(root, "users", "user", us) : NULL;
    const char *server = cluster ? cfg_scalar(cfg_map_get(cluster, "server")) : NULL;
    if (!c) {
        snprintf(why, why_len, "kubeconfig %s: no context \"%s\"", path, ctx ? ctx : "");
    } else if (!server) {
        snprintf(why, why_len, "kubeconfig %s: cluster \"%s\" has no server", path, cl ? cl : "");
    } else if (cfg_scalar(cfg_map_get(cluster, "insecure-skip-tls-verify")) &&
               strcmp(cfg_scalar(cfg_map_get(cluster, "insecure-skip-tls-verify")), "true") == 0) {
        snprintf(why, why_len,
                 "kubeconfig %s: insecure-skip-tls-verify is refused: the "
                 "driver verifies TLS",
                 path);
    } else {
        rc = 0;
        snprintf(k->server, sizeof(k->server), "%s", server);
        const char *s;
        if ((s = cfg_scalar(cfg_map_get(cluster, "certificate-authority-data"))))
            rc = b64_decode(s, &k->auth.ca_pem, &k->auth.ca_pem_len);
        else if ((s = cfg_scalar(cfg_map_get(cluster, "certificate-authority"))))
            rc = (k->auth.ca_file = dup_rel(path, s)) ? 0 : -1;
        if (rc == 0 && user) {
            if ((s = cfg_scalar(cfg_map_get(user, "token"))))
                rc = (k->auth.token = strdup(s)) ? 0 : -1;
            else if ((s = cfg_scalar(cfg_map_get(user, "tokenFile"))))
                snprintf(k->token_file, sizeof(k->token_file), "%s", s);
            if (rc == 0 && (s = cfg_scalar(cfg_map_get(user, "client-certificate-data"))))
                rc = b64_decode(s, &k->auth.cert_pem, &k->auth.cert_pem_len);
            else if (rc == 0 && (s = cfg_scalar(cfg_map_get(user, "client-certificate"))))
                rc = (k->auth.cert_file = dup_rel(path, s)) ? 0 : -1;
            if (rc == 0 && (s = cfg_scalar(cfg_map_get(user, "client-key-data"))))
                rc = b64_decode(s, &k->auth.key_pem, &k->auth.key_pem_len);
            else if (rc == 0 && (s = cfg_scalar(cfg_map_get(user, "client-key")))) {
                rc = (k->auth.key_file = dup_rel(path, s)) ? 0 : -1;
                if (rc == 0)
                    rc = credential_file_private(k->auth.key_file, "client key", why, why_len);
            }
            if (rc == 0 && cfg_map_get(user, "exec"))
                snprintf(why, why_len,
                         "kubeconfig %s: user exec plugins are not run; use a "
                         "token, a token file or a client certificate",
                         path),
                    rc = -1;
        }
        if (rc < 0 && !why[0])
            snprintf(why, why_len, "kubeconfig %s: bad base64 or out of memory", path);
    }
    cfg_free(doc);
    return rc;
}

int kube_access_load(const char *kubeconfig, const char *context, bool in_cluster,
                     const char *server, const char *token_file, const char *ca_file,
                     kube_access *k, char *why, size_t why_len)
{
    memset(k, 0, sizeof(*k));
    why[0] = '\0';
    static const char *const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    if (in_cluster) {
        const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
        if (!server || !server[0]) {
            if (!h || !p) {
                snprintf(why, why_len,
                         "in_cluster: KUBERNETES_SERVICE_HOST/PORT are not set "
                         "(not in a pod?)");
                return -1;
            }
            if (strchr(h, ':'))
                snprintf(k->server, sizeof(k->server), "https://[%s]:%s", h, p);
            else
                snprintf(k->server, sizeof(k->server), "https://%s:%s", h, p);
        }
        snprintf(k->token_file, sizeof(k->token_file), "%s/token", sa);
        char ca[600];
        snprintf(ca, sizeof(ca), "%s/ca.crt", sa);
        if (!(k->auth.ca_file = strdup(ca))) {
            snprintf(why, why_len, "out of memory");
            return -1;
        }
    } else if (!server || !server[0]) {
        if (load_kubeconfig(kubeconfig, context, k, why, why_len) < 0) {
            kube_access_free(k);
            return -1;
        }
    }
    if (server && server[0])
        snprintf(k->server, sizeof(k->server), "%s", server);
    if (token_file && token_file[0])
        snprintf(k->token_file, sizeof(k->token_file), "%s", token_file);
    if (ca_file && ca_file[0]) {
        free(k->auth.ca_file);
        if (!(k->auth.ca_file = strdup(ca_file))) {
            snprintf(why, why_len, "out of memory");
            return -1;
        }
    }
    bool https, loopback;
    char uwhy[200];
    if (http_url_parse(k->server, &https, &loopback, uwhy, sizeof(uwhy)) < 0) {
        snprintf(why, why_len, "API server \"%.200s\": %s", k->server, uwhy);
        kube_access_free(k);
        return -1;
    }
    if (!https && !loopback) {
        snprintf(why, why_len,
                 "API server \"%.200s\" is plain http: https is required "
                 "(plain http only on loopback)",
                 k->server);
        kube_access_free(k);
        return -1;
    }
    if (kube_auth_refresh(k, why, why_len) < 0) {
        kube_access_free(k);
        return -1;
    }
    return 0;
}
