/* io.c: libcurl HTTP, the Prometheus query API, Redis RESP and kubeconfig (see io.h). */
#include "drive/io.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>

#include "base/cfg.h"

/* ------------------------------------------------------------------ HTTP */

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

/* The URL's host is exactly localhost, [::1] or a 127.x.y.z address (a prefix match
 * would let "localhost.example.com" pass). */
bool http_url_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    const char *at = strchr(h, '@'), *slash = strchr(h, '/');
    if (at && (!slash || at < slash))
        h = at + 1;
    size_t n;
    if (h[0] == '[')
        n = strcspn(h, "]") + 1;
    else
        n = strcspn(h, ":/?#");
    if (n == 9 && strncmp(h, "localhost", 9) == 0)
        return true;
    if (n == 5 && strncmp(h, "[::1]", 5) == 0)
        return true;
    if (n > 4 && strncmp(h, "127.", 4) == 0) {
        for (size_t i = 4; i < n; i++)
            if (!(h[i] == '.' || (h[i] >= '0' && h[i] <= '9')))
                return false;
        return true;
    }
    return false;
}

int http_do(const char *method, const char *url, const char *content_type, const char *body,
            const http_auth *auth, int64_t timeout_us, http_resp *r)
{
    memset(r, 0, sizeof(*r));
    if (auth && auth->token && strncmp(url, "http://", 7) == 0 && !http_url_is_loopback(url)) {
        snprintf(r->err, sizeof(r->err),
                 "refusing to send a token over plain http to a non-loopback host");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->err, sizeof(r->err), "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *hdr = NULL;
    char line[8300];
    if (auth && auth->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", auth->token);
        hdr = curl_slist_append(hdr, line);
        memset(line, 0, sizeof(line));
    }
    if (content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        hdr = curl_slist_append(hdr, line);
    }
    hdr = curl_slist_append(hdr, "Accept: application/json");
    char errbuf[CURL_ERROR_SIZE] = "";
    long ms = (long)(timeout_us / 1000);
    if (ms < 1)
        ms = 1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
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
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK) {
        snprintf(r->err, sizeof(r->err), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        r->status = 0;
        ret = -1;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        if (!r->body && !(r->body = calloc(1, 1))) {
            snprintf(r->err, sizeof(r->err), "out of memory");
            ret = -1;
        }
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    return ret;
}

/* ------------------------------------------------------------------ Prometheus */

/* Prometheus writes sample values as strings: "1.5", "NaN", "+Inf". */
static bool parse_value(json_t *v, double *out)
{
    if (!json_is_array(v) || json_array_size(v) != 2)
        return false;
    const char *s = json_string_value(json_array_get(v, 1));
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end != '\0')
        return false;
    *out = d;
    return true;
}

int prom_query(const char *base_url, const char *query, int64_t timeout_us, bool per_pod,
               prom_sample *out, int max, char *why, size_t why_len)
{
    CURL *esc = curl_easy_init();
    char *q = esc ? curl_easy_escape(esc, query, 0) : NULL;
    if (!q) {
        if (esc)
            curl_easy_cleanup(esc);
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    size_t ulen = strlen(base_url) + strlen(q) + 32;
    char *url = malloc(ulen);
    if (url) {
        size_t bl = strlen(base_url);
        while (bl > 0 && base_url[bl - 1] == '/')
            bl--;
        snprintf(url, ulen, "%.*s/api/v1/query?query=%s", (int)bl, base_url, q);
    }
    curl_free(q);
    curl_easy_cleanup(esc);
    if (!url) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    http_resp r;
    int rc = http_do("GET", url, NULL, NULL, NULL, timeout_us, &r);
    free(url);
    if (rc < 0) {
        snprintf(why, why_len, "prometheus down: %s", r.err);
        http_resp_free(&r);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(r.body, r.len, 0, &jerr);
    long status = r.status;
    http_resp_free(&r);
    if (!root) {
        snprintf(why, why_len, "prometheus answered HTTP %ld with malformed JSON: %s", status,
                 jerr.text);
        return -1;
    }
    int n = -1;
    const char *st = json_string_value(json_object_get(root, "status"));
    json_t *data = json_object_get(root, "data");
    const char *rtype = json_string_value(json_object_get(data, "resultType"));
    json_t *result = json_object_get(data, "result");
    if (status != 200 || !st || strcmp(st, "success") != 0) {
        const char *e = json_string_value(json_object_get(root, "error"));
        snprintf(why, why_len, "prometheus answered HTTP %ld: %s", status, e ? e : "not success");
    } else if (rtype && strcmp(rtype, "scalar") == 0 && !per_pod) {
        double v;
        if (parse_value(result, &v) && max >= 1) {
            out[0].pod[0] = '\0';
            out[0].value = v;
            n = 1;
        } else {
            snprintf(why, why_len, "prometheus: malformed scalar for %s", query);
        }
    } else if (rtype && strcmp(rtype, "vector") == 0 && json_is_array(result)) {
        size_t k = json_array_size(result);
        if (!per_pod && k > 1) {
            snprintf(why, why_len, "prometheus: %zu series for %s, expected one", k, query);
        } else {
            n = 0;
            for (size_t i = 0; i < k && n >= 0; i++) {
                json_t *it = json_array_get(result, i);
                double v;
                if (!parse_value(json_object_get(it, "value"), &v)) {
                    snprintf(why, why_len, "prometheus: malformed sample in %s", query);
                    n = -1;
                    break;
                }
                if (n >= max)
                    break;
                out[n].pod[0] = '\0';
                if (per_pod) {
                    const char *pod = json_string_value(
                        json_object_get(json_object_get(it, "metric"), "pod"));
                    if (!pod) {
                        snprintf(why, why_len, "prometheus: a series without a pod label in %s",
                                 query);
                        n = -1;
                        break;
                    }
                    snprintf(out[n].pod, sizeof(out[n].pod), "%s", pod);
                }
                out[n++].value = v;
            }
        }
    } else {
        snprintf(why, why_len, "prometheus: unexpected result type for %s", query);
    }
    json_decref(root);
    return n;
}

/* ------------------------------------------------------------------ Redis */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits for fd to be ready for `events` until deadline. */
static bool wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left = deadline_us - mono_us();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, events, 0};
        int rc = poll(&p, 1, (int)((left + 999) / 1000));
        if (rc > 0)
            return true;
        if (rc == 0)
            return false;
        if (errno != EINTR)
            return false;
    }
}

int redis_llen(const char *host, int port, const char *key, int64_t timeout_us, long long *len,
               char *why, size_t why_len)
{
    int64_t deadline = mono_us() + timeout_us;
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int grc = getaddrinfo(host, portbuf, &hints, &ai);
    if (grc != 0) {
        snprintf(why, why_len, "redis down: %s:%d: %s", host, port, gai_strerror(grc));
        return -1;
    }
    int fd = -1;
    char reason[160] = "no address";
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            int soerr = ETIMEDOUT;
            socklen_t sl = sizeof(soerr);
            if (wait_fd(fd, POLLOUT, deadline))
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc < 0) {
            snprintf(reason, sizeof(reason), "%s", strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(why, why_len, "redis down: %s:%d: %s", host, port, reason);
        return -1;
    }
    char cmd[512];
    int cl = snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nLLEN\r\n$%zu\r\n%s\r\n", strlen(key), key);
    int off = 0;
    while (off < cl) {
        ssize_t w = send(fd, cmd + off, (size_t)(cl - off), MSG_NOSIGNAL);
        if (w > 0) {
            off += (int)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                break;
        } else {
            break;
        }
    }
    char buf[256];
    size_t got = 0;
    bool line = false;
    while (off == cl && got < sizeof(buf) - 1 && !line) {
        ssize_t rd = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (rd > 0) {
            got += (size_t)rd;
            buf[got] = '\0';
            line = strstr(buf, "\r\n") != NULL;
        } else if (rd < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLIN, deadline))
                break;
        } else {
            break;
        }
    }
    close(fd);
    if (!line) {
        snprintf(why, why_len, "redis down: %s:%d: no reply", host, port);
        return -1;
    }
    buf[got] = '\0';
    *strstr(buf, "\r\n") = '\0';
    if (buf[0] == ':') {
        char *end;
        errno = 0;
        long long v = strtoll(buf + 1, &end, 10);
        if (*end == '\0' && errno == 0 && v >= 0 && end != buf + 1) {
            *len = v;
            return 0;
        }
    }
    if (buf[0] == '-')
        snprintf(why, why_len, "redis error: %.200s", buf + 1);
    else
        snprintf(why, why_len, "redis: unexpected reply to LLEN");
    return -1;
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

int kube_auth_refresh(kube_access *k, char *why, size_t why_len)
{
    if (!k->token_file[0])
        return 0;
    if (credential_file_private(k->token_file, "token file", why, why_len) < 0)
        return -1;
    char *t = read_small(k->token_file);
    if (!t || !t[0]) {
        free(t);
        snprintf(why, why_len, "cannot read the token file %s", k->token_file);
        return -1;
    }
    if (k->auth.token) {
        memset(k->auth.token, 0, strlen(k->auth.token));
        free(k->auth.token);
    }
    k->auth.token = t;
    return 0;
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
    const char *ctx = context && context[0] ? context : cfg_scalar(cfg_map_get(root, "current-context"));
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
        snprintf(why, why_len, "kubeconfig %s: insecure-skip-tls-verify is refused: the "
                 "driver verifies TLS", path);
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
                snprintf(why, why_len, "kubeconfig %s: user exec plugins are not run; use a "
                         "token, a token file or a client certificate", path), rc = -1;
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
                snprintf(why, why_len, "in_cluster: KUBERNETES_SERVICE_HOST/PORT are not set "
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
    if (kube_auth_refresh(k, why, why_len) < 0) {
        kube_access_free(k);
        return -1;
    }
    return 0;
}
