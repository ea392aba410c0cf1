/* worker.c: gpenlab-worker, a GPEN service process for the live stack (issue 7).
 *
 *   gpenlab-worker [serve] [--redis HOST:PORT] [--id NAME] [--concurrency N]
 *                  [--backend auto|cuda|cpu] [--metrics-port P] [--prefix gpen] ...
 *   gpenlab-worker reap [--redis HOST:PORT] [--prefix gpen]
 *   gpenlab-worker profile --out FILE [--backend ...] [--slots N]   (wprofile.h)
 *
 * serve: a cold start (process, CUDA context or CPU model, weights, warm-up; each phase
 * logged), then N slot threads each take requests from gpen:pending with BLMOVE into this
 * worker's processing list, serve them through stage.h and complete them with one atomic
 * script (queue.h). A heartbeat thread refreshes gpen:hb:<id> and reaps dead workers.
 * Prometheus metrics are served on loopback (/metrics) from the moment the worker is
 * ready. SIGTERM (or SIGINT): stop taking work (blocked BLMOVEs are cut with CLIENT
 * UNBLOCK; a request handed over after the stop goes back to the head of the queue),
 * finish what is held, deregister, exit 0. Log lines go to stderr:
 *   gpenlab-worker w3: phase cuda_init 412.3 ms (t+0.455 s)
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker/httpd.h"
#include "worker/netaddr.h"
#include "worker/queue.h"
#include "worker/resp.h"
#include "worker/stage.h"
#include "worker/wprofile.h"

#define MAX_SLOTS 64
#define N_BUCKETS 160 /* latency buckets: 1 ms * 1.08^k, k < N_BUCKETS (to ~220 s) */
#define MAX_PHASES 12

typedef struct wcfg {
    char redis_host[256];
    int redis_port;
    char id[64];
    char prefix[64];
    char ns[64];
    char metrics_host[64];
    int metrics_port;
    int heartbeat_ms, dead_after_ms, reap_every_ms;
    int block_ms;
    int startup_delay_ms; /* emulated container start before the real cold start */
    stage_opts so;
    char weights[512], detector_weights[512], parser_weights[512];
} wcfg;

typedef struct worker {
    wcfg cfg;
    stage *st;
    int64_t t_start_us; /* process start (main entry), CLOCK_REALTIME */
    int64_t spawn_us;   /* when the actuator spawned us ($GPEN_SPAWN_US), or t_start_us */
    atomic_bool stopping;
    /* metrics, under mu */
    pthread_mutex_t mu;
    double bucket_le[N_BUCKETS];
    uint64_t bucket[N_BUCKETS + 1]; /* +Inf last */
    double lat_sum_s;
    uint64_t lat_count;
    double svc_sum_s;
    uint64_t taken, completed, failed, lost, given_back;
    int in_flight;
    double busy_s, in_flight_s; /* integrals up to last_change_us */
    int64_t last_change_us;
    double util_busy_at_scrape, util_prev_scrape_s; /* DCGM-style utilisation over scrapes */
    int64_t util_prev_us;
    int n_phases;
    char phase_name[MAX_PHASES][32];
    double phase_ms[MAX_PHASES];
    int64_t ready_us;
    /* slot threads */
    long long client_id[MAX_SLOTS]; /* Redis CLIENT ID of each slot's connection, -1 none */
    bool idle[MAX_SLOTS];
} worker;

static void logf_(const worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const worker *w, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    double t = (double)(queue_now_us() - w->spawn_us) / 1e6;
    fprintf(stderr, "gpenlab-worker %s: %s (t+%.3f s)\n", w->cfg.id, msg, t);
    fflush(stderr);
}

/* ---------------------------------------------------------------- metrics state */

static void advance_locked(worker *w, int64_t now_us)
{
    if (now_us > w->last_change_us) {
        double dt = (double)(now_us - w->last_change_us) / 1e6;
        if (w->in_flight > 0)
            w->busy_s += dt;
        w->in_flight_s += dt * w->in_flight;
        w->last_change_us = now_us;
    }
}

static void begin_request(worker *w)
{
    pthread_mutex_lock(&w->mu);
    advance_locked(w, queue_now_us());
    w->taken++;
    w->in_flight++;
    pthread_mutex_unlock(&w->mu);
}

static void end_request(worker *w, int64_t end_us, double latency_s, double service_s, bool ok,
                        bool lost)
{
    pthread_mutex_lock(&w->mu);
    advance_locked(w, end_us);
    w->in_flight--;
    if (lost)
        w->lost++;
    else if (ok)
        w->completed++;
    else
        w->failed++;
    if (!lost) {
        int k = 0;
        while (k < N_BUCKETS && latency_s > w->bucket_le[k])
            k++;
        w->bucket[k]++;
        w->lat_sum_s += latency_s;
        w->lat_count++;
        w->svc_sum_s += service_s;
    }
    pthread_mutex_unlock(&w->mu);
}

static void phase_cb(void *ctx, const char *name, double ms)
{
    worker *w = ctx;
    pthread_mutex_lock(&w->mu);
    if (w->n_phases < MAX_PHASES) {
        snprintf(w->phase_name[w->n_phases], sizeof(w->phase_name[0]), "%s", name);
        w->phase_ms[w->n_phases++] = ms;
    }
    pthread_mutex_unlock(&w->mu);
    logf_(w, "phase %s %.1f ms", name, ms);
}

static int metrics_handler(void *ctx, const char *method, const char *path, const char *query,
                           http_buf *b, const char **ctype)
{
    worker *w = ctx;
    (void)query;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_buf_printf(b, "method not allowed\n");
        return 405;
    }
    if (strcmp(path, "/healthz") == 0) {
        http_buf_printf(b, "%s\n", atomic_load(&w->stopping) ? "draining" : "ok");
        return 200;
    }
    if (strcmp(path, "/metrics") != 0) {
        http_buf_printf(b, "not found\n");
        return 404;
    }
    *ctype = "text/plain; version=0.0.4; charset=utf-8";
    double used = 0, total = 0;
    stage_mem(w->st, &used, &total);
    int64_t now = queue_now_us();
    pthread_mutex_lock(&w->mu);
    advance_locked(w, now);
    /* utilisation since the previous scrape, as DCGM samples it (percent) */
    double util = 0;
    if (w->util_prev_us > 0 && now > w->util_prev_us)
        util = 100.0 * (w->busy_s - w->util_busy_at_scrape) / ((double)(now - w->util_prev_us) / 1e6);
    w->util_prev_us = now;
    w->util_busy_at_scrape = w->busy_s;
    char lab[200];
    snprintf(lab, sizeof(lab), "namespace=\"%s\",pod=\"%s\"", w->cfg.ns, w->cfg.id);
    http_buf_printf(b, "# HELP gpen_request_latency_seconds End-to-end latency (submit to completion).\n"
                       "# TYPE gpen_request_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (int k = 0; k < N_BUCKETS; k++) {
        cum += w->bucket[k];
        http_buf_printf(b, "gpen_request_latency_seconds_bucket{%s,le=\"%.6g\"} %" PRIu64 "\n", lab,
                        w->bucket_le[k], cum);
    }
    cum += w->bucket[N_BUCKETS];
    http_buf_printf(b, "gpen_request_latency_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", lab, cum);
    http_buf_printf(b, "gpen_request_latency_seconds_sum{%s} %.6f\n", lab, w->lat_sum_s);
    http_buf_printf(b, "gpen_request_latency_seconds_count{%s} %" PRIu64 "\n", lab, w->lat_count);
    http_buf_printf(b, "# TYPE gpen_service_seconds summary\ngpen_service_seconds_sum{%s} %.6f\n"
                       "gpen_service_seconds_count{%s} %" PRIu64 "\n", lab, w->svc_sum_s, lab, w->lat_count);
    http_buf_printf(b, "# TYPE gpen_requests_total counter\ngpen_requests_total{%s} %" PRIu64 "\n", lab, w->taken);
    http_buf_printf(b, "# TYPE gpen_requests_completed_total counter\ngpen_requests_completed_total{%s} %" PRIu64 "\n",
                    lab, w->completed);
    http_buf_printf(b, "# TYPE gpen_requests_failed_total counter\ngpen_requests_failed_total{%s} %" PRIu64 "\n",
                    lab, w->failed);
    http_buf_printf(b, "# TYPE gpen_requests_lost_total counter\ngpen_requests_lost_total{%s} %" PRIu64 "\n",
                    lab, w->lost);
    http_buf_printf(b, "# TYPE gpen_requests_in_flight gauge\ngpen_requests_in_flight{%s} %d\n", lab, w->in_flight);
    http_buf_printf(b, "# TYPE gpen_slots gauge\ngpen_slots{%s} %d\n", lab, w->cfg.so.slots);
    http_buf_printf(b, "# TYPE gpen_busy_seconds_total counter\ngpen_busy_seconds_total{%s} %.6f\n", lab, w->busy_s);
    http_buf_printf(b, "# TYPE gpen_in_flight_seconds_total counter\ngpen_in_flight_seconds_total{%s} %.6f\n",
                    lab, w->in_flight_s);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_FB_USED gauge\nDCGM_FI_DEV_FB_USED{%s} %.1f\n", lab, used);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_FB_FREE gauge\nDCGM_FI_DEV_FB_FREE{%s} %.1f\n", lab,
                    total > used ? total - used : 0);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_FB_TOTAL gauge\nDCGM_FI_DEV_FB_TOTAL{%s} %.1f\n", lab, total);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\nDCGM_FI_DEV_GPU_UTIL{%s} %.2f\n", lab,
                    util > 100 ? 100 : util);
    http_buf_printf(b, "# TYPE gpen_worker_draining gauge\ngpen_worker_draining{%s} %d\n", lab,
                    atomic_load(&w->stopping) ? 1 : 0);
    http_buf_printf(b, "# TYPE gpen_cold_start_seconds gauge\n");
    for (int i = 0; i < w->n_phases; i++)
        http_buf_printf(b, "gpen_cold_start_seconds{%s,phase=\"%s\"} %.4f\n", lab, w->phase_name[i],
                        w->phase_ms[i] / 1e3);
    http_buf_printf(b, "gpen_cold_start_seconds{%s,phase=\"total\"} %.4f\n", lab,
                    (double)(w->ready_us - w->spawn_us) / 1e6);
    http_buf_printf(b, "# TYPE gpen_worker_info gauge\ngpen_worker_info{%s,backend=\"%s\",device=\"%s\"} 1\n",
                    lab, stage_backend(w->st), stage_device(w->st));
    pthread_mutex_unlock(&w->mu);
    return 200;
}

/* ---------------------------------------------------------------- Redis helpers */

static int connect_redis(const worker *w, resp_conn **c, char *why, size_t why_len)
{
    return resp_connect(w->cfg.redis_host, w->cfg.redis_port, 3000, c, why, why_len);
}

/* Sends a command whose reply does not matter beyond success. */
static int simple(resp_conn *c, char *why, size_t why_len, int argc, const char *const *argv)
{
    resp_reply r;
    if (resp_command(c, argc, argv, NULL, &r, why, why_len) < 0)
        return -1;
    int rc = 0;
    if (r.type == RESP_ERROR) {
        snprintf(why, why_len, "redis: %s", r.str ? r.str : "error");
        rc = -1;
    }
    resp_reply_free(&r);
    return rc;
}

static int hset_info(worker *w, resp_conn *c, const char *field, const char *value, char *why,
                     size_t why_len)
{
    char key[QUEUE_KEY_MAX];
    queue_key(key, sizeof(key), w->cfg.prefix, "worker", w->cfg.id);
    const char *argv[] = {"HSET", key, field, value};
    return simple(c, why, why_len, 4, argv);
}

static int hset_info_i64(worker *w, resp_conn *c, const char *field, int64_t v, char *why,
                         size_t why_len)
{
    char s[32];
    snprintf(s, sizeof(s), "%" PRId64, v);
    return hset_info(w, c, field, s, why, why_len);
}

static int heartbeat(worker *w, resp_conn *c, char *why, size_t why_len)
{
    char key[QUEUE_KEY_MAX], now[32], px[16];
    queue_key(key, sizeof(key), w->cfg.prefix, "hb", w->cfg.id);
    snprintf(now, sizeof(now), "%" PRId64, queue_now_us());
    snprintf(px, sizeof(px), "%d", w->cfg.dead_after_ms);
    const char *argv[] = {"SET", key, now, "PX", px};
    return simple(c, why, why_len, 5, argv);
}

/* ---------------------------------------------------------------- slot threads */

typedef struct slot_arg {
    worker *w;
    int slot;
} slot_arg;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Serves one request held in this worker's processing list. Returns -1 on a Redis failure
 * (the request stays held: the reaper returns it if we die). */
static int serve(worker *w, int slot, resp_conn *c, const char *payload, size_t plen)
{
    char why[300];
    queue_req rq;
    int64_t start_us = queue_now_us();
    stage_result res;
    memset(&res, 0, sizeof(res));
    gp_error err;
    gp_error_clear(&err);
    int rc = -1;
    if (queue_req_parse(payload, plen, &rq) == 0) {
        begin_request(w);
        rc = stage_run(w->st, slot, rq.width, rq.height, rq.faces, &res, &err);
    } else {
        begin_request(w);
        gp_error_set(&err, GP_EPARSE, NULL, 0, 0, "request", "not a request: \"%.60s\"", payload);
    }
    int64_t end_us = queue_now_us();
    char f_worker[64], f_submit[32], f_start[32], f_end[32], f_svc[32], f_w[16], f_h[16], f_f[16],
        f_out[32], f_stages[512], f_err[600];
    snprintf(f_worker, sizeof(f_worker), "%s", w->cfg.id);
    snprintf(f_submit, sizeof(f_submit), "%" PRId64, rq.submit_us);
    snprintf(f_start, sizeof(f_start), "%" PRId64, start_us);
    snprintf(f_end, sizeof(f_end), "%" PRId64, end_us);
    snprintf(f_svc, sizeof(f_svc), "%.3f", rc == 0 ? res.service_ms : (double)(end_us - start_us) / 1e3);
    snprintf(f_w, sizeof(f_w), "%d", rq.width);
    snprintf(f_h, sizeof(f_h), "%d", rq.height);
    snprintf(f_f, sizeof(f_f), "%d", rq.faces);
    snprintf(f_out, sizeof(f_out), "%zu", res.out_bytes);
    size_t o = 0;
    f_stages[0] = '\0';
    for (int s = 0; s < res.n_stages && o < sizeof(f_stages) - 40; s++)
        o += (size_t)snprintf(f_stages + o, sizeof(f_stages) - o, "%s%s=%.3f", s ? ";" : "",
                              res.stage_name[s], res.stage_ms[s]);
    if (rc == 0)
        f_err[0] = '\0';
    else
        gp_error_format(&err, f_err, sizeof(f_err));
    char f_slot[16];
    snprintf(f_slot, sizeof(f_slot), "%d", slot);
    const char *fields[] = {"worker",  f_worker, "submit_us",  f_submit, "start_us", f_start,
                            "end_us",  f_end,    "service_ms", f_svc,    "width",    f_w,
                            "height",  f_h,      "faces",      f_f,      "out_bytes", f_out,
                            "stages_ms", f_stages, "error",    f_err,    "slot",     f_slot};
    int completed = 0;
    if (queue_complete(c, w->cfg.prefix, w->cfg.id, payload, rq.id, fields,
                       (int)(sizeof(fields) / sizeof(fields[0]) / 2), &completed, why,
                       sizeof(why)) < 0) {
        /* the request stays held; the connection is unusable: the caller reconnects, and
         * if we die the reaper requeues it */
        logf_(w, "slot %d: completing %" PRIu64 ": %s", slot, rq.id, why);
        pthread_mutex_lock(&w->mu);
        advance_locked(w, end_us);
        w->in_flight--;
        pthread_mutex_unlock(&w->mu);
        return -1;
    }
    double lat_s = rq.submit_us > 0 ? (double)(end_us - rq.submit_us) / 1e6 : 0;
    end_request(w, end_us, lat_s, (double)(end_us - start_us) / 1e6, rc == 0, completed == 0);
    if (rc != 0)
        logf_(w, "slot %d: request %" PRIu64 " failed: %s", slot, rq.id, f_err);
    if (!completed)
        logf_(w, "slot %d: request %" PRIu64 " was requeued by a reaper while served: result dropped",
              slot, rq.id);
    return 0;
}

static void *slot_main(void *arg)
{
    slot_arg *sa = arg;
    worker *w = sa->w;
    int slot = sa->slot;
    char why[300], pend[QUEUE_KEY_MAX], proc[QUEUE_KEY_MAX], block[16];
    queue_key(pend, sizeof(pend), w->cfg.prefix, "pending", NULL);
    queue_key(proc, sizeof(proc), w->cfg.prefix, "processing", w->cfg.id);
    snprintf(block, sizeof(block), "%.3f", w->cfg.block_ms / 1e3);
    resp_conn *c = NULL;
    int backoff_ms = 100;
    while (!atomic_load(&w->stopping)) {
        if (!c) {
            if (connect_redis(w, &c, why, sizeof(why)) < 0) {
                logf_(w, "slot %d: %s", slot, why);
                sleep_ms(backoff_ms);
                backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
                continue;
            }
            backoff_ms = 100;
            resp_reply r;
            if (resp_commandl(c, &r, why, sizeof(why), "CLIENT", "ID", NULL) == 0 && r.type == RESP_INT) {
                pthread_mutex_lock(&w->mu);
                w->client_id[slot] = r.integer;
                pthread_mutex_unlock(&w->mu);
            }
            resp_reply_free(&r);
            resp_set_read_timeout(c, w->cfg.block_ms + 5000);
        }
        pthread_mutex_lock(&w->mu);
        w->idle[slot] = true;
        pthread_mutex_unlock(&w->mu);
        if (atomic_load(&w->stopping))
            break;
        resp_reply r;
        int rc = resp_commandl(c, &r, why, sizeof(why), "BLMOVE", pend, proc, "RIGHT", "LEFT", block, NULL);
        pthread_mutex_lock(&w->mu);
        w->idle[slot] = false;
        pthread_mutex_unlock(&w->mu);
        if (rc < 0) {
            logf_(w, "slot %d: %s", slot, why);
            resp_close(c);
            c = NULL;
            continue;
        }
        if (r.type == RESP_BULK) {
            if (atomic_load(&w->stopping)) {
                /* handed over after the stop: it goes back to the head of the queue */
                int ret = 0;
                if (queue_giveback(c, w->cfg.prefix, w->cfg.id, r.str, &ret, why, sizeof(why)) < 0)
                    logf_(w, "slot %d: give back: %s", slot, why);
                else if (ret) {
                    pthread_mutex_lock(&w->mu);
                    w->given_back++;
                    pthread_mutex_unlock(&w->mu);
                }
            } else if (serve(w, slot, c, r.str, r.len) < 0) {
                resp_close(c);
                c = NULL;
            }
        } else if (r.type == RESP_ERROR && r.str && strncmp(r.str, "UNBLOCKED", 9) != 0) {
            logf_(w, "slot %d: redis: %s", slot, r.str);
            sleep_ms(200);
        }
        resp_reply_free(&r);
    }
    resp_close(c);
    return NULL;
}

/* ---------------------------------------------------------------- heartbeat + reaper */

typedef struct hb_arg {
    worker *w;
    atomic_bool quit;
} hb_arg;

static void *hb_main(void *arg)
{
    hb_arg *ha = arg;
    worker *w = ha->w;
    char why[300];
    resp_conn *c = NULL;
    int64_t next_reap = 0;
    while (!atomic_load(&ha->quit)) {
        if (!c && connect_redis(w, &c, why, sizeof(why)) < 0) {
            logf_(w, "heartbeat: %s", why);
            c = NULL;
        }
        if (c && heartbeat(w, c, why, sizeof(why)) < 0) {
            logf_(w, "heartbeat: %s", why);
            resp_close(c);
            c = NULL;
        }
        int64_t now = queue_now_us();
        if (c && now >= next_reap) {
            long long moved = 0, dead = 0;
            if (queue_reap(c, w->cfg.prefix, now, &moved, &dead, why, sizeof(why)) < 0) {
                logf_(w, "reaper: %s", why);
                resp_close(c);
                c = NULL;
            } else if (dead > 0) {
                logf_(w, "reaper: %lld dead worker(s), %lld request(s) requeued", dead, moved);
            }
            next_reap = now + (int64_t)w->cfg.reap_every_ms * 1000;
        }
        for (int t = 0; t < w->cfg.heartbeat_ms && !atomic_load(&ha->quit); t += 50)
            sleep_ms(50);
    }
    resp_close(c);
    return NULL;
}

/* ---------------------------------------------------------------- options */

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "gpenlab-worker: %s\n", msg);
    fprintf(stderr,
            "usage: gpenlab-worker [serve] [--redis HOST:PORT] [--id NAME] [--concurrency N]\n"
            "         [--backend auto|cuda|cpu] [--device N] [--weights FILE] [--max-mp N]\n"
            "         [--detector-weights FILE] [--parser-weights FILE]   (cuda stage)\n"
            "         [--metrics-host H] [--metrics-port P] [--prefix gpen] [--namespace gpen]\n"
            "         [--heartbeat-ms 1000] [--dead-after-ms 5000] [--reap-every-ms 1000]\n"
            "         [--block-ms 1000] [--startup-delay-ms 0] [--prewarm-mp 2,4.5,...]\n"
            "         [--cpu-face-size 16]\n"
            "         [--cpu-px-scale 0.0039]\n"
            "       gpenlab-worker reap [--redis HOST:PORT] [--prefix gpen]\n");
    return 2;
}

static int int_arg(const char *s, int lo, int hi, int *v)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || *end || x < lo || x > hi)
        return -1;
    *v = (int)x;
    return 0;
}

static int parse_args(int argc, char **argv, int first, wcfg *c)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char msg[300];
#define NEED()                                                                             \
    do {                                                                                   \
        if (!v) {                                                                          \
            snprintf(msg, sizeof(msg), "%s needs a value", a);                            \
            return usage(msg);                                                             \
        }                                                                                  \
        i++;                                                                               \
    } while (0)
#define BAD()                                                                              \
    do {                                                                                   \
        snprintf(msg, sizeof(msg), "%s: bad value \"%s\"", a, v);                          \
        return usage(msg);                                                                 \
    } while (0)
        if (strcmp(a, "--redis") == 0) {
            NEED();
            if (netaddr_parse(v, 1, c->redis_host, sizeof(c->redis_host), &c->redis_port) < 0)
                BAD();
        } else if (strcmp(a, "--id") == 0) {
            NEED();
            if (!*v || strlen(v) >= sizeof(c->id) || strpbrk(v, " :\"\\{}\n"))
                BAD();
            snprintf(c->id, sizeof(c->id), "%s", v);
        } else if (strcmp(a, "--prefix") == 0) {
            NEED();
            if (!*v || strlen(v) >= sizeof(c->prefix))
                BAD();
            snprintf(c->prefix, sizeof(c->prefix), "%s", v);
        } else if (strcmp(a, "--namespace") == 0) {
            NEED();
            if (!*v || strlen(v) >= sizeof(c->ns) || strpbrk(v, "\"\\{}\n"))
                BAD();
            snprintf(c->ns, sizeof(c->ns), "%s", v);
        } else if (strcmp(a, "--concurrency") == 0) {
            NEED();
            if (int_arg(v, 1, MAX_SLOTS, &c->so.slots) < 0)
                BAD();
        } else if (strcmp(a, "--backend") == 0) {
            NEED();
            if (strcmp(v, "auto") && strcmp(v, "cuda") && strcmp(v, "cpu"))
                BAD();
            snprintf(c->so.backend, sizeof(c->so.backend), "%s", v);
        } else if (strcmp(a, "--device") == 0) {
            NEED();
            if (int_arg(v, 0, 64, &c->so.device) < 0)
                BAD();
        } else if (strcmp(a, "--weights") == 0) {
            NEED();
            snprintf(c->weights, sizeof(c->weights), "%s", v);
            c->so.weights_path = c->weights;
        } else if (strcmp(a, "--detector-weights") == 0) {
            NEED();
            snprintf(c->detector_weights, sizeof(c->detector_weights), "%s", v);
            c->so.detector_weights_path = c->detector_weights;
        } else if (strcmp(a, "--parser-weights") == 0) {
            NEED();
            snprintf(c->parser_weights, sizeof(c->parser_weights), "%s", v);
            c->so.parser_weights_path = c->parser_weights;
        } else if (strcmp(a, "--max-mp") == 0) {
            NEED();
            if (int_arg(v, 1, 200, &c->so.max_image_mp) < 0)
                BAD();
        } else if (strcmp(a, "--metrics-host") == 0) {
            NEED();
            snprintf(c->metrics_host, sizeof(c->metrics_host), "%s", v);
        } else if (strcmp(a, "--metrics-port") == 0) {
            NEED();
            if (int_arg(v, 0, 65535, &c->metrics_port) < 0)
                BAD();
        } else if (strcmp(a, "--heartbeat-ms") == 0) {
            NEED();
            if (int_arg(v, 50, 60000, &c->heartbeat_ms) < 0)
                BAD();
        } else if (strcmp(a, "--dead-after-ms") == 0) {
            NEED();
            if (int_arg(v, 100, 600000, &c->dead_after_ms) < 0)
                BAD();
        } else if (strcmp(a, "--reap-every-ms") == 0) {
            NEED();
            if (int_arg(v, 50, 600000, &c->reap_every_ms) < 0)
                BAD();
        } else if (strcmp(a, "--block-ms") == 0) {
            NEED();
            if (int_arg(v, 10, 60000, &c->block_ms) < 0)
                BAD();
        } else if (strcmp(a, "--startup-delay-ms") == 0) {
            NEED();
            if (int_arg(v, 0, 600000, &c->startup_delay_ms) < 0)
                BAD();
        } else if (strcmp(a, "--prewarm-mp") == 0) {
            NEED();
            char tmp[1024];
            snprintf(tmp, sizeof(tmp), "%s", v);
            c->so.n_prewarm = 0;
            for (char *t = strtok(tmp, ","); t; t = strtok(NULL, ",")) {
                char *end;
                double mp = strtod(t, &end);
                if (*end || !(mp > 0 && mp <= 200) || c->so.n_prewarm >= 32)
                    BAD();
                c->so.prewarm_mp[c->so.n_prewarm++] = mp;
            }
        } else if (strcmp(a, "--cpu-face-size") == 0) {
            NEED();
            if (int_arg(v, 8, 64, &c->so.cpu_face_size) < 0 ||
                (c->so.cpu_face_size & (c->so.cpu_face_size - 1)))
                BAD();
        } else if (strcmp(a, "--cpu-px-scale") == 0) {
            NEED();
            char *end;
            double x = strtod(v, &end);
            if (end == v || *end || !(x > 0 && x <= 1))
                BAD();
            c->so.cpu_px_scale = x;
        } else {
            snprintf(msg, sizeof(msg), "unknown option %s", a);
            return usage(msg);
        }
#undef NEED
#undef BAD
    }
    if (c->dead_after_ms <= c->heartbeat_ms)
        return usage("--dead-after-ms must exceed --heartbeat-ms");
    return 0;
}

static void cfg_default(wcfg *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->redis_host, sizeof(c->redis_host), "127.0.0.1");
    c->redis_port = 6379;
    snprintf(c->id, sizeof(c->id), "w%ld", (long)getpid());
    snprintf(c->prefix, sizeof(c->prefix), "gpen");
    snprintf(c->ns, sizeof(c->ns), "gpen");
    snprintf(c->metrics_host, sizeof(c->metrics_host), "127.0.0.1");
    c->heartbeat_ms = 1000;
    c->dead_after_ms = 5000;
    c->reap_every_ms = 1000;
    c->block_ms = 1000;
    stage_opts_default(&c->so);
}

/* ---------------------------------------------------------------- commands */

static int cmd_reap(int argc, char **argv)
{
    wcfg c;
    cfg_default(&c);
    int rc = parse_args(argc, argv, 2, &c);
    if (rc)
        return rc;
    resp_conn *conn;
    char why[300];
    if (resp_connect(c.redis_host, c.redis_port, 3000, &conn, why, sizeof(why)) < 0) {
        fprintf(stderr, "gpenlab-worker: %s\n", why);
        return 1;
    }
    long long moved = 0, dead = 0;
    rc = queue_reap(conn, c.prefix, queue_now_us(), &moved, &dead, why, sizeof(why));
    resp_close(conn);
    if (rc < 0) {
        fprintf(stderr, "gpenlab-worker: %s\n", why);
        return 1;
    }
    printf("reaped %lld worker(s), requeued %lld request(s)\n", dead, moved);
    return 0;
}

static int serve_main(worker *w)
{
    w->t_start_us = queue_now_us();
    const char *sp = getenv("GPEN_SPAWN_US");
    w->spawn_us = sp ? strtoll(sp, NULL, 10) : 0;
    if (w->spawn_us <= 0 || w->spawn_us > w->t_start_us)
        w->spawn_us = w->t_start_us;
    for (int k = 0; k < N_BUCKETS; k++)
        w->bucket_le[k] = 0.001 * pow(1.08, k);
    for (int k = 0; k < MAX_SLOTS; k++)
        w->client_id[k] = -1;
    w->last_change_us = w->t_start_us;
    /* signals: blocked everywhere, taken by sigwait in this thread */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    phase_cb(w, "process_start", (double)(w->t_start_us - w->spawn_us) / 1e3);
    char why[300];
    resp_conn *c = NULL;
    if (connect_redis(w, &c, why, sizeof(why)) < 0) {
        logf_(w, "%s", why);
        return 1;
    }
    hset_info_i64(w, c, "pid", (int64_t)getpid(), why, sizeof(why));
    hset_info_i64(w, c, "spawn_us", w->spawn_us, why, sizeof(why));
    hset_info_i64(w, c, "start_us", w->t_start_us, why, sizeof(why));
    {
        char all[QUEUE_KEY_MAX];
        queue_key(all, sizeof(all), w->cfg.prefix, "allworkers", NULL);
        const char *a[] = {"SADD", all, w->cfg.id};
        simple(c, why, sizeof(why), 3, a);
    }
    if (w->cfg.startup_delay_ms > 0) {
        /* local dry runs: stands in for image pull and container start */
        sleep_ms(w->cfg.startup_delay_ms);
        phase_cb(w, "container_start", w->cfg.startup_delay_ms);
    }
    w->cfg.so.phase = phase_cb;
    w->cfg.so.phase_ctx = w;
    gp_error err;
    gp_error_clear(&err);
    if (stage_open(&w->cfg.so, &w->st, &err) < 0) {
        char msg[900];
        gp_error_format(&err, msg, sizeof(msg));
        logf_(w, "cold start failed: %s", msg);
        hset_info(w, c, "error", msg, why, sizeof(why));
        resp_close(c);
        return 1;
    }
    /* SIGTERM during the cold start: exit without ever taking work */
    struct timespec zero = {0, 0};
    if (sigtimedwait(&stop, NULL, &zero) > 0) {
        logf_(w, "stopped during the cold start");
        hset_info_i64(w, c, "exit_us", queue_now_us(), why, sizeof(why));
        stage_close(w->st);
        resp_close(c);
        return 0;
    }
    httpd *http = NULL;
    if (httpd_start(w->cfg.metrics_host, w->cfg.metrics_port, metrics_handler, w, &http, why,
                    sizeof(why)) < 0) {
        logf_(w, "%s", why);
        stage_close(w->st);
        resp_close(c);
        return 1;
    }
    /* register: heartbeat first, so a reaper never sees us in the set without one */
    if (heartbeat(w, c, why, sizeof(why)) < 0) {
        logf_(w, "%s", why);
        httpd_stop(http);
        stage_close(w->st);
        resp_close(c);
        return 1;
    }
    char set[QUEUE_KEY_MAX], pbuf[16];
    queue_key(set, sizeof(set), w->cfg.prefix, "workers", NULL);
    const char *sadd[] = {"SADD", set, w->cfg.id};
    simple(c, why, sizeof(why), 3, sadd);
    snprintf(pbuf, sizeof(pbuf), "%d", httpd_port(http));
    hset_info(w, c, "port", pbuf, why, sizeof(why));
    hset_info(w, c, "backend", stage_backend(w->st), why, sizeof(why));
    hset_info(w, c, "device", stage_device(w->st), why, sizeof(why));
    for (int i = 0; i < w->n_phases; i++) {
        char f[48], v[32];
        snprintf(f, sizeof(f), "phase_%s_ms", w->phase_name[i]);
        snprintf(v, sizeof(v), "%.3f", w->phase_ms[i]);
        hset_info(w, c, f, v, why, sizeof(why));
    }
    w->ready_us = queue_now_us();
    hset_info_i64(w, c, "ready_us", w->ready_us, why, sizeof(why));
    logf_(w, "ready: %s on %s, %d slot(s), metrics on http://%s:%d/metrics, cold start %.3f s",
          stage_backend(w->st), stage_device(w->st), w->cfg.so.slots, w->cfg.metrics_host,
          httpd_port(http), (double)(w->ready_us - w->spawn_us) / 1e6);

    hb_arg ha = {w, false};
    pthread_t hb;
    pthread_create(&hb, NULL, hb_main, &ha);
    pthread_t th[MAX_SLOTS];
    slot_arg sa[MAX_SLOTS];
    for (int s = 0; s < w->cfg.so.slots; s++) {
        sa[s] = (slot_arg){w, s};
        pthread_create(&th[s], NULL, slot_main, &sa[s]);
    }
    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    int64_t term_us = queue_now_us();
    atomic_store(&w->stopping, true);
    logf_(w, "%s: draining (%d in flight)", sig == SIGTERM ? "SIGTERM" : "SIGINT", w->in_flight);
    /* cut the blocked BLMOVEs now instead of waiting out their block time */
    resp_conn *ctl = NULL;
    if (connect_redis(w, &ctl, why, sizeof(why)) == 0) {
        for (int s = 0; s < w->cfg.so.slots; s++) {
            pthread_mutex_lock(&w->mu);
            long long id = w->idle[s] ? w->client_id[s] : -1;
            pthread_mutex_unlock(&w->mu);
            if (id >= 0) {
                char ids[32];
                snprintf(ids, sizeof(ids), "%lld", id);
                const char *ub[] = {"CLIENT", "UNBLOCK", ids};
                simple(ctl, why, sizeof(why), 3, ub);
            }
        }
        resp_close(ctl);
    }
    for (int s = 0; s < w->cfg.so.slots; s++)
        pthread_join(th[s], NULL);
    atomic_store(&ha.quit, true);
    pthread_join(hb, NULL);
    /* deregister: nothing is held now */
    resp_close(c);
    c = NULL;
    if (connect_redis(w, &c, why, sizeof(why)) == 0) {
        const char *srem[] = {"SREM", set, w->cfg.id};
        simple(c, why, sizeof(why), 3, srem);
        char hbk[QUEUE_KEY_MAX];
        queue_key(hbk, sizeof(hbk), w->cfg.prefix, "hb", w->cfg.id);
        const char *del[] = {"DEL", hbk};
        simple(c, why, sizeof(why), 2, del);
        hset_info_i64(w, c, "term_us", term_us, why, sizeof(why));
        hset_info_i64(w, c, "exit_us", queue_now_us(), why, sizeof(why));
        char n[32];
        snprintf(n, sizeof(n), "%" PRIu64, w->completed);
        hset_info(w, c, "completed", n, why, sizeof(why));
        resp_close(c);
    }
    httpd_stop(http);
    logf_(w, "exit: %" PRIu64 " completed, %" PRIu64 " failed, %" PRIu64 " given back, drain %.3f s",
          w->completed, w->failed, w->given_back, (double)(queue_now_us() - term_us) / 1e6);
    stage_close(w->st);
    return 0;
}

static int cmd_serve(int argc, char **argv, int first)
{
    worker *w = calloc(1, sizeof(*w)); /* large (histogram): not on the stack */
    if (!w)
        return 1;
    cfg_default(&w->cfg);
    int rc = parse_args(argc, argv, first, &w->cfg);
    if (rc == 0) {
        pthread_mutex_init(&w->mu, NULL);
        rc = serve_main(w);
        pthread_mutex_destroy(&w->mu);
    }
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "reap") == 0)
        return cmd_reap(argc, argv);
    if (argc > 1 && strcmp(argv[1], "profile") == 0)
        return worker_profile_main(argc, argv);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return usage(NULL) ? 0 : 0;
    int first = argc > 1 && strcmp(argv[1], "serve") == 0 ? 2 : 1;
    return cmd_serve(argc, argv, first);
}
