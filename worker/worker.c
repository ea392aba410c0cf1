/* worker.c: gpenlab-worker, a GPEN service process for the live stack (issue 7).
 *
 *   gpenlab-worker [serve] [--redis HOST:PORT] [--id NAME] [--concurrency N]
 *                  [--backend auto|cuda|cpu] [--metrics-port P] [--prefix gpen] ...
 *   gpenlab-worker reap [--redis HOST:PORT] [--prefix gpen]
 *   gpenlab-worker profile --out FILE [--backend ...] [--slots N]   (wprofile.h)
 * Options through the one parser (base/opts.h); a bad one is one line and exit 2.
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

#include "base/opts.h"
#include "worker/httpd.h"
#include "worker/netaddr.h"
#include "worker/queue.h"
#include "worker/resp.h"
#include "worker/stage.h"
#include "worker/wopts.h"
#include "worker/wprofile.h"

#define MAX_SLOTS  64
#define N_BUCKETS  160 /* latency buckets: 1 ms * 1.08^k, k < N_BUCKETS (to ~220 s) */
#define MAX_PHASES 12

typedef struct wcfg {
    wopts_addr redis;
    char id[WOPTS_NAME_MAX];
    char prefix[WOPTS_NAME_MAX];
    char ns[WOPTS_NAME_MAX];
    const char *metrics_host; /* argv's, or a literal */
    int metrics_port;
    int heartbeat_ms, dead_after_ms, reap_every_ms;
    int block_ms;
    int startup_delay_ms; /* emulated container start before the real cold start */
    stage_opts so;        /* the weights paths are argv's */
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
        util =
            100.0 * (w->busy_s - w->util_busy_at_scrape) / ((double)(now - w->util_prev_us) / 1e6);
    w->util_prev_us = now;
    w->util_busy_at_scrape = w->busy_s;
    char lab[200];
    snprintf(lab, sizeof(lab), "namespace=\"%s\",pod=\"%s\"", w->cfg.ns, w->cfg.id);
    http_buf_printf(
        b, "# HELP gpen_request_latency_seconds End-to-end latency (submit to completion).\n"
           "# TYPE gpen_request_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (int k = 0; k < N_BUCKETS; k++) {
        cum += w->bucket[k];
        http_buf_printf(b, "gpen_request_latency_seconds_bucket{%s,le=\"%.6g\"} %" PRIu64 "\n", lab,
                        w->bucket_le[k], cum);
    }
    cum += w->bucket[N_BUCKETS];
    http_buf_printf(b, "gpen_request_latency_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", lab,
                    cum);
    http_buf_printf(b, "gpen_request_latency_seconds_sum{%s} %.6f\n", lab, w->lat_sum_s);
    http_buf_printf(b, "gpen_request_latency_seconds_count{%s} %" PRIu64 "\n", lab, w->lat_count);
    http_buf_printf(b,
                    "# TYPE gpen_service_seconds summary\ngpen_service_seconds_sum{%s} %.6f\n"
                    "gpen_service_seconds_count{%s} %" PRIu64 "\n",
                    lab, w->svc_sum_s, lab, w->lat_count);
    http_buf_printf(b, "# TYPE gpen_requests_total counter\ngpen_requests_total{%s} %" PRIu64 "\n",
                    lab, w->taken);
    http_buf_printf(
        b,
        "# TYPE gpen_requests_completed_total counter\ngpen_requests_completed_total{%s} %" PRIu64
        "\n",
        lab, w->completed);
    http_buf_printf(
        b,
        "# TYPE gpen_requests_failed_total counter\ngpen_requests_failed_total{%s} %" PRIu64 "\n",
        lab, w->failed);
    http_buf_printf(
        b, "# TYPE gpen_requests_lost_total counter\ngpen_requests_lost_total{%s} %" PRIu64 "\n",
        lab, w->lost);
    http_buf_printf(b, "# TYPE gpen_requests_in_flight gauge\ngpen_requests_in_flight{%s} %d\n",
                    lab, w->in_flight);
    http_buf_printf(b, "# TYPE gpen_slots gauge\ngpen_slots{%s} %d\n", lab, w->cfg.so.slots);
    http_buf_printf(b, "# TYPE gpen_busy_seconds_total counter\ngpen_busy_seconds_total{%s} %.6f\n",
                    lab, w->busy_s);
    http_buf_printf(
        b, "# TYPE gpen_in_flight_seconds_total counter\ngpen_in_flight_seconds_total{%s} %.6f\n",
        lab, w->in_flight_s);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_FB_USED gauge\nDCGM_FI_DEV_FB_USED{%s} %.1f\n", lab,
                    used);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_FB_FREE gauge\nDCGM_FI_DEV_FB_FREE{%s} %.1f\n", lab,
                    total > used ? total - used : 0);
    http_buf_printf(b, "# TYPE DCGM_FI_DEV_FB_TOTAL gauge\nDCGM_FI_DEV_FB_TOTAL{%s} %.1f\n", lab,
                    total);
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
    http_buf_printf(
        b, "# TYPE gpen_worker_info gauge\ngpen_worker_info{%s,backend=\"%s\",device=\"%s\"} 1\n",
        lab, stage_backend(w->st), stage_device(w->st));
    pthread_mutex_unlock(&w->mu);
    return 200;
}

/* ---------------------------------------------------------------- Redis helpers */

static int connect_redis(const worker *w, resp_conn **c, char *why, size_t why_len)
{
    return resp_connect(w->cfg.redis.host, w->cfg.redis.port, 3000, c, why, why_len);
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
    snprintf(f_svc, sizeof(f_svc), "%.3f",
             rc == 0 ? res.service_ms : (double)(end_us - start_us) / 1e3);
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
    const char *fields[] = {"worker",    f_worker, "submit_us",  f_submit, "start_us",  f_start,
                            "end_us",    f_end,    "service_ms", f_svc,    "width",     f_w,
                            "height",    f_h,      "faces",      f_f,      "out_bytes", f_out,
                            "stages_ms", f_stages, "error",      f_err,    "slot",      f_slot};
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
        logf_(w,
              "slot %d: request %" PRIu64 " was requeued by a reaper while served: result dropped",
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
            if (resp_commandl(c, &r, why, sizeof(why), "CLIENT", "ID", NULL) == 0 &&
                r.type == RESP_INT) {
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
        int rc = resp_commandl(c, &r, why, sizeof(why), "BLMOVE", pend, proc, "RIGHT", "LEFT",
                               block, NULL);
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

#define PROG    "gpenlab-worker"
#define STR_(x) #x
#define STR(x)  STR_(x)

static const char SERVE_HELP[] =
    "usage: gpenlab-worker [serve] [--redis HOST:PORT] [--id NAME] [--concurrency N]\n"
    "         [--backend auto|cuda|cpu] [--device N] [--weights FILE] [--max-mp N]\n"
    "         [--detector-weights FILE] [--parser-weights FILE]   (cuda stage)\n"
    "         [--metrics-host H] [--metrics-port P] [--prefix gpen] [--namespace gpen]\n"
    "         [--heartbeat-ms 1000] [--dead-after-ms 5000] [--reap-every-ms 1000]\n"
    "         [--block-ms 1000] [--startup-delay-ms 0] [--prewarm-mp 2,4.5,...]\n"
    "         [--cpu-face-size 16]\n"
    "         [--cpu-px-scale 0.0039]\n"
    "       gpenlab-worker reap [--redis HOST:PORT] [--prefix gpen]\n"
    "       gpenlab-worker profile --out FILE [...]   (gpenlab-worker profile --help)\n";

static const char PROFILE_HELP[] =
    "usage: gpenlab-worker profile --out FILE [--backend auto|cuda|cpu] [--slots 1..16]\n"
    "         [--reps 1..50] [--cpu-face-size N] [--cpu-px-scale F]\n"
    "         [--processes 0.." STR(
        PROCS_MAX) " [--eff-mix ARRIVALS.csv]] [--prewarm-mp 2,4.5,...]\n"
                   "         [--process-start-ms MS]\n";

/* --backend auto|cuda|cpu into a stage_opts */
static int read_backend(const char *name, const char *v, void *out, gp_error *err)
{
    stage_opts *so = out;
    if (strcmp(v, "auto") && strcmp(v, "cuda") && strcmp(v, "cpu"))
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name,
                            "expected auto, cuda or cpu, got \"%s\"", v);
    snprintf(so->backend, sizeof(so->backend), "%s", v);
    return 0;
}

/* --prewarm-mp 2,4.5,...: up to 32 sizes in (0, 200] MP, into a stage_opts */
static int read_prewarm(const char *name, const char *v, void *out, gp_error *err)
{
    stage_opts *so = out;
    const int cap = (int)(sizeof(so->prewarm_mp) / sizeof(so->prewarm_mp[0]));
    char tmp[1024];
    if (strlen(v) >= sizeof(tmp))
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name, "list longer than %zu characters",
                            sizeof(tmp) - 1);
    snprintf(tmp, sizeof(tmp), "%s", v);
    so->n_prewarm = 0;
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        double mp = strtod(t, &end);
        if (end == t || *end || !(mp > 0 && mp <= 200) || so->n_prewarm >= cap)
            return gp_error_set(
                err, GP_EPARSE, NULL, 0, 0, name,
                "expected up to %d sizes in (0, 200] MP, comma-separated, got \"%s\"", cap, v);
        so->prewarm_mp[so->n_prewarm++] = mp;
    }
    return 0;
}

/* --cpu-face-size: a power of 2 in 8..64 */
static int read_face_size(const char *name, const char *v, void *out, gp_error *err)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < 8 || x > 64 || (x & (x - 1)))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, name,
                            "expected 8, 16, 32 or 64, got \"%s\"", v);
    *(int *)out = (int)x;
    return 0;
}

/* --cpu-px-scale: a fraction in (0, 1] */
static int read_px_scale(const char *name, const char *v, void *out, gp_error *err)
{
    double x;
    int rc = cli_positive(name, v, &x, err);
    if (rc == 0 && x > 1)
        rc = gp_error_set(err, GP_ERANGE, NULL, 0, 0, name,
                          "expected a fraction in (0, 1], got \"%s\"", v);
    if (rc == 0)
        *(double *)out = x;
    return rc;
}

/* The stage's options that serve and profile share (rows[5], the last the end). */
static void stage_rows(stage_opts *so, cli_opt rows[5])
{
    rows[0] = (cli_opt){"--backend", NULL, CLI_VALUE, so, 0, 0, read_backend};
    rows[1] = (cli_opt){"--prewarm-mp", NULL, CLI_VALUE, so, 0, 0, read_prewarm};
    rows[2] =
        (cli_opt){"--cpu-face-size", NULL, CLI_VALUE, &so->cpu_face_size, 0, 0, read_face_size};
    rows[3] = (cli_opt){"--cpu-px-scale", NULL, CLI_VALUE, &so->cpu_px_scale, 0, 0, read_px_scale};
    rows[4] = (cli_opt){NULL, NULL, 0, NULL, 0, 0, NULL};
}

/* argv through opts and shared (may be NULL); 0, 1 when the help was printed, or < 0 with
 * err filled. */
static int parse_cmd(int argc, char **argv, const cli_opt *opts, const cli_opt *shared,
                     const char *help, gp_error *err)
{
    const cli_spec spec = {.opts = opts,
                           .shared = shared,
                           .unknown = CLI_UNKNOWN_OPTION,
                           .too_many = CLI_UNEXPECTED_ARGUMENT,
                           .help = help};
    gp_error_clear(err);
    return cli_parse(argc, argv, &spec, stdout, err);
}

/* The parse_* take argv[0] as the command's word (or the program's name, for serve without
 * it); 0, 1 when the help was printed, or an exit code 2 with the one line printed. */
static int parse_serve(int argc, char **argv, wcfg *c)
{
    const cli_opt opts[] = {
        {"--redis", NULL, CLI_VALUE, &c->redis, 0, 0, wopts_connect_addr},
        {"--id", NULL, CLI_VALUE, c->id, 0, 0, wopts_worker_id},
        {"--prefix", NULL, CLI_VALUE, c->prefix, 0, 0, wopts_prefix},
        {"--namespace", NULL, CLI_VALUE, c->ns, 0, 0, wopts_namespace},
        {"--concurrency", NULL, CLI_INT, &c->so.slots, 1, MAX_SLOTS, NULL},
        {"--device", NULL, CLI_INT, &c->so.device, 0, 64, NULL},
        {"--weights", NULL, CLI_STR, &c->so.weights_path, 0, 0, NULL},
        {"--detector-weights", NULL, CLI_STR, &c->so.detector_weights_path, 0, 0, NULL},
        {"--parser-weights", NULL, CLI_STR, &c->so.parser_weights_path, 0, 0, NULL},
        {"--max-mp", NULL, CLI_INT, &c->so.max_image_mp, 1, 200, NULL},
        {"--metrics-host", NULL, CLI_STR, &c->metrics_host, 0, 0, NULL},
        {"--metrics-port", NULL, CLI_INT, &c->metrics_port, 0, 65535, NULL},
        {"--heartbeat-ms", NULL, CLI_INT, &c->heartbeat_ms, 50, 60000, NULL},
        {"--dead-after-ms", NULL, CLI_INT, &c->dead_after_ms, 100, 600000, NULL},
        {"--reap-every-ms", NULL, CLI_INT, &c->reap_every_ms, 50, 600000, NULL},
        {"--block-ms", NULL, CLI_INT, &c->block_ms, 10, 60000, NULL},
        {"--startup-delay-ms", NULL, CLI_INT, &c->startup_delay_ms, 0, 600000, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    cli_opt shared[5];
    stage_rows(&c->so, shared);
    gp_error err;
    int rc = parse_cmd(argc, argv, opts, shared, SERVE_HELP, &err);
    if (rc == 0 && c->dead_after_ms <= c->heartbeat_ms)
        rc = gp_error_set(&err, GP_ERANGE, NULL, 0, 0, "--dead-after-ms",
                          "must exceed --heartbeat-ms (%d)", c->heartbeat_ms);
    return rc < 0 ? cli_report(stderr, PROG, &err, 2) : rc;
}

static int parse_reap(int argc, char **argv, wcfg *c)
{
    const cli_opt opts[] = {
        {"--redis", NULL, CLI_VALUE, &c->redis, 0, 0, wopts_connect_addr},
        {"--prefix", NULL, CLI_VALUE, c->prefix, 0, 0, wopts_prefix},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    gp_error err;
    int rc = parse_cmd(argc, argv, opts, NULL, SERVE_HELP, &err);
    return rc < 0 ? cli_report(stderr, PROG " reap", &err, 2) : rc;
}

static int parse_profile(int argc, char **argv, wprofile_opts *o)
{
    const cli_opt opts[] = {
        {"--out", NULL, CLI_STR, &o->out_path, 0, 0, NULL},
        {"--slots", NULL, CLI_INT, &o->so.slots, 1, 16, NULL},
        {"--reps", NULL, CLI_INT, &o->reps, 1, 50, NULL},
        {"--processes", NULL, CLI_INT, &o->processes, 0, PROCS_MAX, NULL},
        {"--eff-mix", NULL, CLI_STR, &o->mix_path, 0, 0, NULL},
        {"--process-start-ms", NULL, CLI_VALUE, &o->process_start_ms, 0, 0, cli_nonneg},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    cli_opt shared[5];
    stage_rows(&o->so, shared);
    gp_error err;
    int rc = parse_cmd(argc, argv, opts, shared, PROFILE_HELP, &err);
    if (rc == 0 && !o->out_path)
        rc =
            gp_error_set(&err, GP_EMISSING, NULL, 0, 0, "--out", "required (the profile to write)");
    return rc < 0 ? cli_report(stderr, PROG " profile", &err, 2) : rc;
}

static void cfg_default(wcfg *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->redis.host, sizeof(c->redis.host), "127.0.0.1");
    c->redis.port = 6379;
    snprintf(c->id, sizeof(c->id), "w%ld", (long)getpid());
    snprintf(c->prefix, sizeof(c->prefix), "gpen");
    snprintf(c->ns, sizeof(c->ns), "gpen");
    c->metrics_host = "127.0.0.1";
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
    int rc = parse_reap(argc, argv, &c);
    if (rc)
        return rc == 1 ? 0 : rc;
    resp_conn *conn;
    char why[300];
    if (resp_connect(c.redis.host, c.redis.port, 3000, &conn, why, sizeof(why)) < 0) {
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
    logf_(w,
          "exit: %" PRIu64 " completed, %" PRIu64 " failed, %" PRIu64 " given back, drain %.3f s",
          w->completed, w->failed, w->given_back, (double)(queue_now_us() - term_us) / 1e6);
    stage_close(w->st);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    worker *w = calloc(1, sizeof(*w)); /* large (histogram): not on the stack */
    if (!w)
        return 1;
    cfg_default(&w->cfg);
    int rc = parse_serve(argc, argv, &w->cfg);
    if (rc == 0) {
        pthread_mutex_init(&w->mu, NULL);
        rc = serve_main(w);
        pthread_mutex_destroy(&w->mu);
    }
    free(w);
    return rc == 1 ? 0 : rc;
}

static int cmd_profile(int argc, char **argv)
{
    wprofile_opts o;
    wprofile_opts_default(&o);
    int rc = parse_profile(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    return worker_profile(&o);
}

/* Each command parses argv[1..] after its word ("serve" is the default: without it, the
 * options follow the program's name). */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "reap") == 0)
        return cmd_reap(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "profile") == 0)
        return cmd_profile(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    return cmd_serve(argc, argv);
}
