/* promlite.c: gpenlab-promlite, a small stand-in for Prometheus in the live stack (issue 7).
 * Debian's prometheus is 50 MB, too large to carry to the GPU machine with the working
 * tree, so this program does the part `gpenlab drive` needs:
 *   - every --scrape-ms it lists the workers (SMEMBERS gpen:workers, their ports from
 *     gpen:worker:<id>), GETs each one's /metrics and keeps a ring of samples per pod;
 *   - it evaluates the recording rules that `gpenlab export` writes (lab/export.c) in C:
 *     DCGM_FI_DEV_FB_USED_ratio, DCGM_FI_DEV_GPU_UTIL (from gpen_busy_seconds_total over the
 *     last scrape interval), gpen_request_latency_seconds_p50/p95/p99 (histogram_quantile
 *     over sum by (le) of the buckets' increase in --latency-window-s), gpen_latency_samples,
 *     gpen_requests_per_second (--rate-window-s), gpen_requests_in_flight, gpen_concurrency
 *     (mean requests in service over the last scrape interval);
 *   - it answers GET/POST /api/v1/query for the query shapes of drive_default_query:
 *     AGG[ by (pod)](NAME{namespace="NS"})[ / 100] and NAME{namespace="NS"}, AGG in
 *     sum|avg|max|min. Anything else is a 400 with Prometheus' error JSON.
 * Draining workers (gpen_worker_draining 1) are left out of the per-pod series, as a
 * terminating pod leaves a Deployment's ready pods. Each scrape appends one line to
 * --series-out: what a policy would see then. `dump-workers` writes every worker's
 * record (spawn, ready, SIGTERM, exit times, cold-start phases) as CSV. Options through
 * the one parser (base/opts.h): a bad one is one line and exit 2. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/opts.h"
#include "worker/httpd.h"
#include "worker/netaddr.h"
#include "worker/queue.h"
#include "worker/resp.h"
#include "worker/wopts.h"

#define MAX_PODS    128
#define MAX_BUCKETS 256
#define RING        256

typedef struct sample {
    int64_t t_us;
    double count, sum, busy_s, inflight_s, requests;
    double bucket[MAX_BUCKETS];
} sample;

typedef struct pod {
    char name[64];
    bool used;    /* slot in use */
    bool present; /* seen at the last scrape */
    bool draining;
    double fb_used, fb_free, in_flight, util_pct, conc;
    int n_buckets;
    double le[MAX_BUCKETS];
    sample *ring; /* RING samples */
    int head, n;  /* newest at head */
} pod;

typedef struct prom {
    wopts_addr redis;
    char prefix[WOPTS_NAME_MAX], ns[WOPTS_NAME_MAX];
    int scrape_ms;
    double window_s, rate_window_s;
    pthread_mutex_t mu;
    pod pods[MAX_PODS];
    int64_t last_scrape_us;
    double queue_len;
    FILE *series;
} prom;

/* ---------------------------------------------------------------- scraping */

static int http_get(const char *host, int port, const char *path, char **body, size_t *len)
{
    char why[256];
    int fd = netaddr_connect(host, port, 1000, why, sizeof(why));
    if (fd < 0)
        return -1;
    char req[256];
    int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
    if (send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
        close(fd);
        return -1;
    }
    http_buf b = {0};
    char tmp[8192];
    for (;;) {
        ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        http_buf_append(&b, tmp, (size_t)r);
    }
    close(fd);
    char *sep = b.data ? strstr(b.data, "\r\n\r\n") : NULL;
    if (b.oom || !sep || strncmp(b.data, "HTTP/1.1 200", 12) != 0) {
        http_buf_free(&b);
        return -1;
    }
    *len = b.len - (size_t)(sep + 4 - b.data);
    memmove(b.data, sep + 4, *len + 1);
    *body = b.data;
    return 0;
}

/* Parses the exposition text into the pod's gauges and a new sample. */
static void parse_metrics(pod *p, char *text, sample *s)
{
    memset(s, 0, sizeof(*s));
    int nb = 0;
    double le[MAX_BUCKETS];
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *sp = strrchr(line, ' ');
        if (!sp)
            continue;
        double v = strtod(sp + 1, NULL);
        *sp = '\0';
        char *brace = strchr(line, '{');
        size_t nl = brace ? (size_t)(brace - line) : strlen(line);
#define IS(name) (nl == strlen(name) && strncmp(line, name, nl) == 0)
        if (IS("gpen_request_latency_seconds_bucket")) {
            char *l = brace ? strstr(brace, "le=\"") : NULL;
            if (l && nb < MAX_BUCKETS) {
                le[nb] = strncmp(l + 4, "+Inf", 4) == 0 ? INFINITY : strtod(l + 4, NULL);
                s->bucket[nb++] = v;
            }
        } else if (IS("gpen_request_latency_seconds_count")) {
            s->count = v;
        } else if (IS("gpen_request_latency_seconds_sum")) {
            s->sum = v;
        } else if (IS("gpen_busy_seconds_total")) {
            s->busy_s = v;
        } else if (IS("gpen_in_flight_seconds_total")) {
            s->inflight_s = v;
        } else if (IS("gpen_requests_total")) {
            s->requests = v;
        } else if (IS("gpen_requests_in_flight")) {
            p->in_flight = v;
        } else if (IS("DCGM_FI_DEV_FB_USED")) {
            p->fb_used = v;
        } else if (IS("DCGM_FI_DEV_FB_FREE")) {
            p->fb_free = v;
        } else if (IS("gpen_worker_draining")) {
            p->draining = v > 0.5;
        }
#undef IS
    }
    p->n_buckets = nb;
    memcpy(p->le, le, sizeof(double) * (size_t)nb);
}

static pod *find_pod(prom *pr, const char *name, bool create)
{
    pod *free_slot = NULL;
    for (int i = 0; i < MAX_PODS; i++) {
        if (pr->pods[i].used && strcmp(pr->pods[i].name, name) == 0)
            return &pr->pods[i];
        if (!pr->pods[i].used && !free_slot)
            free_slot = &pr->pods[i];
    }
    if (!create || !free_slot)
        return NULL;
    if (!free_slot->ring && !(free_slot->ring = calloc(RING, sizeof(sample))))
        return NULL;
    sample *keep = free_slot->ring;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->ring = keep;
    free_slot->used = true;
    snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
    return free_slot;
}

static const sample *newest(const pod *p) { return p->n ? &p->ring[p->head] : NULL; }
static const sample *nth_back(const pod *p, int k) /* 0 = newest */
{
    return k < p->n ? &p->ring[(p->head - k + RING) % RING] : NULL;
}
/* The oldest sample at or after t_us (the window's first), or NULL. */
static const sample *first_in_window(const pod *p, int64_t t_us)
{
    const sample *best = NULL;
    for (int k = 0; k < p->n; k++) {
        const sample *s = nth_back(p, k);
        if (s->t_us < t_us)
            break;
        best = s;
    }
    return best;
}

/* histogram_quantile over the summed increase of every pod's buckets in the window.
 * A pod's increase is newest - first sample in the window; a pod that appeared inside the
 * window counts from zero (its counters started there). */
static double window_quantile(const prom *pr, int64_t now_us, double q, double *samples)
{
    double inc[MAX_BUCKETS] = {0}, le[MAX_BUCKETS];
    int nb = 0;
    double count = 0;
    int64_t from = now_us - (int64_t)(pr->window_s * 1e6);
    for (int i = 0; i < MAX_PODS; i++) {
        const pod *p = &pr->pods[i];
        const sample *nw = p->used ? newest(p) : NULL;
        if (!nw || nw->t_us < from || p->n_buckets == 0)
            continue;
        const sample *f = first_in_window(p, from);
        bool born_inside = f == nth_back(p, p->n - 1) && p->n < RING;
        nb = p->n_buckets;
        memcpy(le, p->le, sizeof(double) * (size_t)nb);
        for (int k = 0; k < nb; k++)
            inc[k] += nw->bucket[k] - (born_inside ? 0 : f->bucket[k]);
        count += nw->count - (born_inside ? 0 : f->count);
    }
    *samples = count;
    if (nb == 0 || inc[nb - 1] <= 0)
        return NAN;
    double rank = q * inc[nb - 1];
    for (int k = 0; k < nb; k++) {
        if (inc[k] >= rank) {
            if (isinf(le[k]))
                return k > 0 ? le[k - 1] : NAN;
            double lo = k > 0 ? le[k - 1] : 0, clo = k > 0 ? inc[k - 1] : 0;
            double width = inc[k] - clo;
            return width > 0 ? lo + (le[k] - lo) * (rank - clo) / width : le[k];
        }
    }
    return NAN;
}

static double arrival_rate(const prom *pr, int64_t now_us)
{
    int64_t from = now_us - (int64_t)(pr->rate_window_s * 1e6);
    double inc = 0;
    for (int i = 0; i < MAX_PODS; i++) {
        const pod *p = &pr->pods[i];
        const sample *nw = p->used ? newest(p) : NULL;
        if (!nw || nw->t_us < from)
            continue;
        const sample *f = first_in_window(p, from);
        bool born_inside = f == nth_back(p, p->n - 1) && p->n < RING;
        inc += nw->requests - (born_inside ? 0 : f->requests);
    }
    return inc / pr->rate_window_s;
}

static void scrape(prom *pr, resp_conn **c)
{
    char why[300], set[QUEUE_KEY_MAX], pend[QUEUE_KEY_MAX];
    queue_key(set, sizeof(set), pr->prefix, "workers", NULL);
    queue_key(pend, sizeof(pend), pr->prefix, "pending", NULL);
    if (!*c && resp_connect(pr->redis.host, pr->redis.port, 2000, c, why, sizeof(why)) < 0) {
        fprintf(stderr, "gpenlab-promlite: %s\n", why);
        *c = NULL;
        return;
    }
    resp_reply members, ql;
    if (resp_commandl(*c, &members, why, sizeof(why), "SMEMBERS", set, NULL) < 0 ||
        resp_commandl(*c, &ql, why, sizeof(why), "LLEN", pend, NULL) < 0) {
        fprintf(stderr, "gpenlab-promlite: %s\n", why);
        resp_close(*c);
        *c = NULL;
        return;
    }
    int64_t now = queue_now_us();
    pthread_mutex_lock(&pr->mu);
    for (int i = 0; i < MAX_PODS; i++)
        pr->pods[i].present = false;
    long long qlen = 0;
    resp_reply_int(&ql, &qlen);
    pr->queue_len = (double)qlen;
    pthread_mutex_unlock(&pr->mu);
    for (size_t m = 0; m < members.n_elem; m++) {
        const char *name = members.elem[m].str;
        if (!name)
            continue;
        char key[QUEUE_KEY_MAX];
        queue_key(key, sizeof(key), pr->prefix, "worker", name);
        resp_reply port;
        if (resp_commandl(*c, &port, why, sizeof(why), "HGET", key, "port", NULL) < 0)
            break;
        long long pn = 0;
        int have_port = resp_reply_int(&port, &pn) == 0;
        resp_reply_free(&port);
        char *body = NULL;
        size_t len = 0;
        if (!have_port || http_get("127.0.0.1", (int)pn, "/metrics", &body, &len) < 0)
            continue;             /* a missed scrape: the pod has no metrics this round */
        static const sample zero; /* read-only: the template of a fresh sample */
        sample s = zero;
        pthread_mutex_lock(&pr->mu);
        pod *p = find_pod(pr, name, true);
        if (p) {
            parse_metrics(p, body, &s);
            s.t_us = now;
            const sample *prev = newest(p);
            if (prev && now > prev->t_us) {
                double dt = (double)(now - prev->t_us) / 1e6;
                p->util_pct = 100.0 * (s.busy_s - prev->busy_s) / dt;
                p->conc = (s.inflight_s - prev->inflight_s) / dt;
            } else {
                p->util_pct = p->conc = 0;
            }
            p->head = (p->head + 1) % RING;
            p->ring[p->head] = s;
            if (p->n < RING)
                p->n++;
            p->present = true;
        }
        pthread_mutex_unlock(&pr->mu);
        free(body);
    }
    resp_reply_free(&members);
    resp_reply_free(&ql);
    /* forget pods whose samples left every window */
    pthread_mutex_lock(&pr->mu);
    double horizon = pr->window_s > pr->rate_window_s ? pr->window_s : pr->rate_window_s;
    for (int i = 0; i < MAX_PODS; i++) {
        pod *p = &pr->pods[i];
        const sample *nw = p->used ? newest(p) : NULL;
        if (p->used && !p->present && (!nw || nw->t_us < now - (int64_t)(horizon * 1e6) - 1000000))
            p->used = false;
    }
    pr->last_scrape_us = now;
    if (pr->series) {
        int ready = 0, draining = 0;
        double inflight = 0, mem = 0, util = 0;
        for (int i = 0; i < MAX_PODS; i++) {
            const pod *p = &pr->pods[i];
            if (!p->used || !p->present)
                continue;
            if (p->draining) {
                draining++;
                continue;
            }
            ready++;
            inflight += p->in_flight;
            mem += p->fb_used + p->fb_free > 0 ? p->fb_used / (p->fb_used + p->fb_free) : 0;
            util += p->util_pct / 100;
        }
        double samples, p50 = window_quantile(pr, now, 0.5, &samples),
                        p95 = window_quantile(pr, now, 0.95, &samples),
                        p99 = window_quantile(pr, now, 0.99, &samples);
        fprintf(pr->series, "%" PRId64 ",%d,%d,%.0f,%.0f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.0f\n", now,
                ready, draining, pr->queue_len, inflight, p50, p95, p99, ready ? mem / ready : NAN,
                ready ? util / ready : NAN, arrival_rate(pr, now), samples);
        fflush(pr->series);
    }
    pthread_mutex_unlock(&pr->mu);
}

/* ---------------------------------------------------------------- the query API */

typedef struct qresult {
    int n;
    char pod[MAX_PODS][64];
    double v[MAX_PODS];
} qresult;

/* Values of a recording-rule metric: per pod (present, not draining) or one cluster value. */
static int metric_values(prom *pr, const char *name, qresult *r, bool *cluster)
{
    int64_t now = pr->last_scrape_us;
    r->n = 0;
    *cluster = false;
    double samples;
    if (strncmp(name, "gpen_request_latency_seconds_p", 30) == 0) {
        double q = strcmp(name + 30, "50") == 0   ? 0.5
                   : strcmp(name + 30, "95") == 0 ? 0.95
                   : strcmp(name + 30, "99") == 0 ? 0.99
                                                  : -1;
        if (q < 0)
            return -1;
        *cluster = true;
        double v = window_quantile(pr, now, q, &samples);
        if (!isnan(v)) {
            r->pod[0][0] = '\0';
            r->v[r->n++] = v;
        }
        return 0;
    }
    if (strcmp(name, "gpen_latency_samples") == 0 ||
        strcmp(name, "gpen_requests_per_second") == 0) {
        *cluster = true;
        r->pod[0][0] = '\0';
        if (name[5] == 'l')
            window_quantile(pr, now, 0.5, &r->v[0]);
        else
            r->v[0] = arrival_rate(pr, now);
        r->n = 1;
        return 0;
    }
    enum { M_MEM, M_UTIL, M_INFL, M_CONC } which;
    if (strcmp(name, "DCGM_FI_DEV_FB_USED_ratio") == 0)
        which = M_MEM;
    else if (strcmp(name, "DCGM_FI_DEV_GPU_UTIL") == 0)
        which = M_UTIL;
    else if (strcmp(name, "gpen_requests_in_flight") == 0)
        which = M_INFL;
    else if (strcmp(name, "gpen_concurrency") == 0)
        which = M_CONC;
    else
        return -1;
    for (int i = 0; i < MAX_PODS; i++) {
        const pod *p = &pr->pods[i];
        if (!p->used || !p->present || p->draining)
            continue;
        double v =
            which == M_MEM
                ? (p->fb_used + p->fb_free > 0 ? p->fb_used / (p->fb_used + p->fb_free) : NAN)
            : which == M_UTIL ? p->util_pct
            : which == M_INFL ? p->in_flight
                              : p->conc;
        snprintf(r->pod[r->n], sizeof(r->pod[0]), "%s", p->name);
        r->v[r->n++] = v;
    }
    return 0;
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    return s;
}

/* NAME{namespace="NS"} or NAME: copies the name, checks the selector. */
static const char *parse_selector(const prom *pr, const char *s, char *name, size_t cap,
                                  bool *match, char *err, size_t el)
{
    size_t n = 0;
    s = skip_ws(s);
    while ((*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
            (*s >= '0' && *s <= '9')) &&
           n + 1 < cap)
        name[n++] = *s++;
    name[n] = '\0';
    *match = true;
    if (n == 0) {
        snprintf(err, el, "expected a metric name");
        return NULL;
    }
    if (*s == '{') {
        const char *end = strchr(s, '}');
        if (!end) {
            snprintf(err, el, "unclosed label selector");
            return NULL;
        }
        char want[96];
        snprintf(want, sizeof(want), "namespace=\"%s\"", pr->ns);
        size_t sl = (size_t)(end - s - 1);
        if (sl > 0 && !(sl == strlen(want) && strncmp(s + 1, want, sl) == 0)) {
            if (strncmp(s + 1, "namespace=\"", 11) == 0 && memchr(s + 1, ',', sl) == NULL)
                *match = false; /* another namespace: an empty answer, as Prometheus gives */
            else {
                snprintf(err, el, "only the selector {namespace=\"...\"} is supported");
                return NULL;
            }
        }
        s = end + 1;
    }
    return s;
}

/* Evaluates the supported shapes into a JSON answer. Returns the HTTP status. */
static int evaluate(prom *pr, const char *q, http_buf *b)
{
    char err[200] = "", name[128], agg[8] = "";
    bool by_pod = false, match;
    const char *s = skip_ws(q);
    static const char *const aggs[] = {"sum", "avg", "max", "min"};
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(aggs[i]);
        if (strncmp(s, aggs[i], l) == 0 && (s[l] == ' ' || s[l] == '(')) {
            snprintf(agg, sizeof(agg), "%s", aggs[i]);
            s = skip_ws(s + l);
            if (strncmp(s, "by", 2) == 0) {
                s = skip_ws(s + 2);
                if (strncmp(s, "(pod)", 5) != 0) {
                    snprintf(err, sizeof(err), "only `by (pod)` is supported");
                    goto bad;
                }
                by_pod = true;
                s = skip_ws(s + 5);
            }
            if (*s != '(') {
                snprintf(err, sizeof(err), "expected '(' after %s", agg);
                goto bad;
            }
            s++;
            break;
        }
    }
    s = parse_selector(pr, s, name, sizeof(name), &match, err, sizeof(err));
    if (!s)
        goto bad;
    s = skip_ws(s);
    if (agg[0]) {
        if (*s != ')') {
            snprintf(err, sizeof(err), "expected ')'");
            goto bad;
        }
        s = skip_ws(s + 1);
    }
    double div = 1;
    if (*s == '/') {
        char *end;
        div = strtod(s + 1, &end);
        if (end == s + 1 || !(div != 0)) {
            snprintf(err, sizeof(err), "expected a number after '/'");
            goto bad;
        }
        s = skip_ws(end);
    }
    if (*s) {
        snprintf(err, sizeof(err), "unsupported expression near \"%.40s\"", s);
        goto bad;
    }
    qresult *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, sizeof(err), "out of memory");
        goto bad;
    }
    bool cluster;
    pthread_mutex_lock(&pr->mu);
    int rc = metric_values(pr, name, r, &cluster);
    pthread_mutex_unlock(&pr->mu);
    if (rc < 0) {
        free(r);
        snprintf(err, sizeof(err),
                 "unknown metric %s (promlite serves the gpenlab recording rules)", name);
        goto bad;
    }
    if (!match)
        r->n = 0;
    double t = (double)pr->last_scrape_us / 1e6;
    http_buf_printf(b, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
    if (by_pod || (!agg[0] && !cluster)) {
        for (int i = 0; i < r->n; i++)
            http_buf_printf(
                b, "%s{\"metric\":{\"namespace\":\"%s\",\"pod\":\"%s\"},\"value\":[%.3f,\"%.9g\"]}",
                i ? "," : "", pr->ns, r->pod[i], t, r->v[i] / div);
    } else if (r->n > 0) {
        double acc = strcmp(agg, "min") == 0 ? INFINITY : strcmp(agg, "max") == 0 ? -INFINITY : 0;
        int n = 0;
        for (int i = 0; i < r->n; i++) {
            if (isnan(r->v[i]))
                continue;
            n++;
            if (strcmp(agg, "min") == 0)
                acc = fmin(acc, r->v[i]);
            else if (strcmp(agg, "max") == 0)
                acc = fmax(acc, r->v[i]);
            else
                acc += r->v[i];
        }
        if (strcmp(agg, "avg") == 0)
            acc = n ? acc / n : NAN;
        if (n > 0 || strcmp(agg, "sum") == 0)
            http_buf_printf(b, "{\"metric\":{\"namespace\":\"%s\"},\"value\":[%.3f,\"%.9g\"]}",
                            pr->ns, t, (n ? acc : 0) / div);
    }
    http_buf_printf(b, "]}}\n");
    free(r);
    return 200;
bad:
    http_buf_printf(b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"");
    for (const char *e = err; *e; e++)
        http_buf_printf(b, *e == '"' || *e == '\\' ? "\\%c" : "%c", *e);
    http_buf_printf(b, "\"}\n");
    return 400;
}

static int handler(void *ctx, const char *method, const char *path, const char *query, http_buf *b,
                   const char **ctype)
{
    prom *pr = ctx;
    if (strcmp(path, "/-/ready") == 0 || strcmp(path, "/-/healthy") == 0) {
        http_buf_printf(b, "ready\n");
        return 200;
    }
    if (strcmp(path, "/api/v1/query") != 0) {
        http_buf_printf(b, "not found\n");
        return 404;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        http_buf_printf(b, "method not allowed\n");
        return 405;
    }
    *ctype = "application/json";
    char *q = malloc(8192);
    if (!q)
        return 503;
    int st;
    if (http_query_param(query, "query", q, 8192) < 0) {
        http_buf_printf(
            b, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"no query\"}\n");
        st = 400;
    } else {
        st = evaluate(pr, q, b);
    }
    free(q);
    return st;
}

/* ---------------------------------------------------------------- commands */

static const char USAGE[] =
    "usage: gpenlab-promlite serve [--redis HOST:PORT] [--listen HOST:PORT] [--prefix gpen]\n"
    "           [--namespace gpen] [--scrape-ms 2000] [--latency-window-s 60]\n"
    "           [--rate-window-s 30] [--series-out FILE.csv]\n"
    "       gpenlab-promlite dump-workers [--redis HOST:PORT] [--prefix gpen] --out FILE.csv\n";

static int cmd_dump(prom *pr, const char *out_path)
{
    resp_conn *c;
    char why[300], set[QUEUE_KEY_MAX];
    if (resp_connect(pr->redis.host, pr->redis.port, 3000, &c, why, sizeof(why)) < 0) {
        fprintf(stderr, "gpenlab-promlite: %s\n", why);
        return 1;
    }
    queue_key(set, sizeof(set), pr->prefix, "allworkers", NULL);
    resp_reply m;
    if (resp_commandl(c, &m, why, sizeof(why), "SMEMBERS", set, NULL) < 0) {
        fprintf(stderr, "gpenlab-promlite: %s\n", why);
        resp_close(c);
        return 1;
    }
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "gpenlab-promlite: cannot create %s\n", out_path);
        resp_reply_free(&m);
        resp_close(c);
        return 1;
    }
    static const char *const cols[] = {"pid",
                                       "spawn_us",
                                       "start_us",
                                       "ready_us",
                                       "term_us",
                                       "exit_us",
                                       "reaped_us",
                                       "completed",
                                       "backend",
                                       "device",
                                       "phase_process_start_ms",
                                       "phase_container_start_ms",
                                       "phase_cuda_init_ms",
                                       "phase_weight_load_ms",
                                       "phase_first_inference_ms",
                                       "phase_graph_capture_ms",
                                       "phase_input_cache_ms",
                                       "phase_warmup_ms",
                                       "error"};
    enum { NC = sizeof(cols) / sizeof(cols[0]) };
    fprintf(f, "worker");
    for (int k = 0; k < NC; k++)
        fprintf(f, ",%s", cols[k]);
    fputc('\n', f);
    for (size_t i = 0; i < m.n_elem; i++) {
        if (!m.elem[i].str)
            continue;
        char key[QUEUE_KEY_MAX];
        queue_key(key, sizeof(key), pr->prefix, "worker", m.elem[i].str);
        const char *argv[2 + NC];
        argv[0] = "HMGET";
        argv[1] = key;
        for (int k = 0; k < NC; k++)
            argv[2 + k] = cols[k];
        resp_reply r;
        if (resp_command(c, 2 + NC, argv, NULL, &r, why, sizeof(why)) < 0)
            break;
        fprintf(f, "%s", m.elem[i].str);
        for (size_t k = 0; k < r.n_elem; k++) {
            const char *v = r.elem[k].type == RESP_BULK ? r.elem[k].str : "";
            fputc(',', f);
            for (; *v; v++)
                fputc(*v == ',' || *v == '\n' ? ' ' : *v, f);
        }
        fputc('\n', f);
        resp_reply_free(&r);
    }
    resp_reply_free(&m);
    resp_close(c);
    return fclose(f) == 0 ? 0 : 1;
}

/* The options of both commands (argv[0] is the command's word) into pr and the rest; 0, 1
 * when the help was printed, or 2 with the one line printed. */
static int parse_args(int argc, char **argv, prom *pr, wopts_addr *listen, const char **series,
                      const char **out)
{
    const cli_opt opts[] = {
        {"--redis", NULL, CLI_VALUE, &pr->redis, 0, 0, wopts_connect_addr},
        {"--listen", NULL, CLI_VALUE, listen, 0, 0, wopts_listen_addr},
        {"--prefix", NULL, CLI_VALUE, pr->prefix, 0, 0, wopts_prefix},
        {"--namespace", NULL, CLI_VALUE, pr->ns, 0, 0, wopts_namespace},
        {"--scrape-ms", NULL, CLI_INT, &pr->scrape_ms, 50, 3600000, NULL},
        {"--latency-window-s", NULL, CLI_VALUE, &pr->window_s, 0, 0, cli_positive},
        {"--rate-window-s", NULL, CLI_VALUE, &pr->rate_window_s, 0, 0, cli_positive},
        {"--series-out", NULL, CLI_STR, series, 0, 0, NULL},
        {"--out", NULL, CLI_STR, out, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .unknown = CLI_UNKNOWN_OPTION,
                           .too_many = CLI_UNEXPECTED_ARGUMENT,
                           .help = USAGE};
    gp_error err;
    gp_error_clear(&err);
    int rc = cli_parse(argc, argv, &spec, stdout, &err);
    if (rc == 0 && strcmp(argv[0], "dump-workers") == 0 && !*out)
        rc = gp_error_set(&err, GP_EMISSING, NULL, 0, 0, "--out", "required (the CSV to write)");
    if (rc == 0 && pr->window_s * 1e3 / pr->scrape_ms > RING - 2)
        rc = gp_error_set(&err, GP_ERANGE, NULL, 0, 0, "--latency-window-s",
                          "holds more than %d scrapes of --scrape-ms %d", RING - 2, pr->scrape_ms);
    if (rc < 0) {
        char prog[64];
        snprintf(prog, sizeof(prog), "gpenlab-promlite %s", argv[0]);
        return cli_report(stderr, prog, &err, 2);
    }
    return rc;
}

/* serve and dump-workers: argv[0] is the word */
static int run_command(int argc, char **argv)
{
    prom *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return 1;
    snprintf(pr->redis.host, sizeof(pr->redis.host), "127.0.0.1");
    pr->redis.port = 6379;
    snprintf(pr->prefix, sizeof(pr->prefix), "gpen");
    snprintf(pr->ns, sizeof(pr->ns), "gpen");
    pr->scrape_ms = 2000;
    pr->window_s = 60;
    pr->rate_window_s = 30;
    wopts_addr listen = {"127.0.0.1", 9090};
    const char *series = NULL, *out = NULL;
    int rc = parse_args(argc, argv, pr, &listen, &series, &out);
    if (rc == 0 && strcmp(argv[0], "dump-workers") == 0)
        rc = cmd_dump(pr, out);
    if (rc != 0 || strcmp(argv[0], "serve") != 0) {
        free(pr);
        return rc == 1 ? 0 : rc;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    pthread_mutex_init(&pr->mu, NULL);
    if (series) {
        pr->series = fopen(series, "w");
        if (!pr->series) {
            fprintf(stderr, "gpenlab-promlite: cannot create %s\n", series);
            free(pr);
            return 1;
        }
        fprintf(pr->series,
                "t_us,ready,draining,queue_len,in_flight,p50_s,p95_s,p99_s,gpu_mem_frac,"
                "gpu_util_frac,arrival_rate,latency_samples\n");
    }
    httpd *h;
    char why[300];
    if (httpd_start(listen.host, listen.port, handler, pr, &h, why, sizeof(why)) < 0) {
        fprintf(stderr, "gpenlab-promlite: %s\n", why);
        if (pr->series)
            fclose(pr->series);
        free(pr);
        return 1;
    }
    fprintf(stderr, "gpenlab-promlite: serving http://%s:%d/api/v1/query, scraping every %d ms\n",
            listen.host, httpd_port(h), pr->scrape_ms);
    resp_conn *c = NULL;
    for (;;) {
        scrape(pr, &c);
        struct timespec ts = {pr->scrape_ms / 1000, (long)(pr->scrape_ms % 1000) * 1000000L};
        if (sigtimedwait(&stop, NULL, &ts) > 0)
            break;
    }
    httpd_stop(h);
    resp_close(c);
    if (pr->series)
        fclose(pr->series);
    for (int i = 0; i < MAX_PODS; i++)
        free(pr->pods[i].ring);
    pthread_mutex_destroy(&pr->mu);
    free(pr);
    return 0;
}

int main(int argc, char **argv)
{
    static const cli_command commands[] = {{"serve", run_command}, {"dump-workers", run_command}};
    return cli_dispatch("gpenlab-promlite", argc, argv, commands,
                        sizeof(commands) / sizeof(commands[0]), USAGE, stdout, stderr);
}
