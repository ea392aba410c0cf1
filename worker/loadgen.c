/* loadgen.c: gpenlab-loadgen, the open-loop load generator of the live stack (issue 7).
 *
 *   gpenlab-loadgen replay ARRIVALS.csv [--redis HOST:PORT] [--prefix gpen]
 *                   [--time-scale F] [--limit N] [--drain-timeout S] [--out REQUESTS.csv]
 *   gpenlab-loadgen check ARRIVALS.csv
 *   gpenlab-loadgen expand WORKLOAD.yaml --out ARRIVALS.csv [--seed N] [--mp-step MP]
 *                   (full build only; --mp-step rounds sizes to multiples of MP)
 *
 * The arrivals CSV is read by worker/arrivals.h (the one CSV reader); `check` reads it as
 * replay would and prints how many requests it holds over how long.
 * replay: reads rows (t_s, mp, faces) sorted by t_s, and at wall time start + t_s / F
 * pushes request i (ids 1..n) onto gpen:pending with its submit time; a late push is sent at
 * once and its lag counted. After the last push it waits until every request is on
 * gpen:done (or --drain-timeout seconds pass), reads each result record and writes one row
 * per request: id, scheduled and actual submit times, worker start and end, latency,
 * service time, worker, size. Times are CLOCK_REALTIME microseconds, so worker and
 * generator clocks agree on one machine.
 * expand: runs the traces/ library on the `workload:` map of an experiment file (any
 * type: trace, envelope, tidal, poisson) with the experiment's seed (or --seed) and writes
 * the arrivals CSV, so the GPU machine (no GSL, YAML or SQLite) replays exactly the
 * requests that the simulator replays (an experiment `type: trace` over the same CSV). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/arrivals.h"
#include "worker/netaddr.h"
#include "worker/queue.h"
#include "worker/resp.h"

#ifdef LOADGEN_WITH_TRACES
#include "base/cfg.h"
#include "traces/workload.h"
#endif

typedef struct sent {
    int64_t sched_us, submit_us;
} sent;

static int die(const char *fmt, const char *a)
{
    fprintf(stderr, "gpenlab-loadgen: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: gpenlab-loadgen replay ARRIVALS.csv [--redis HOST:PORT] [--prefix gpen]\n"
            "           [--time-scale F] [--limit N] [--drain-timeout S] [--out REQUESTS.csv]\n"
            "       gpenlab-loadgen check ARRIVALS.csv\n"
            "       gpenlab-loadgen expand WORKLOAD.yaml --out ARRIVALS.csv [--seed N] [--mp-step MP]\n");
    return 2;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_mono(int64_t t_us)
{
    struct timespec ts = {(time_t)(t_us / 1000000), (long)(t_us % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* The arrivals CSV through the one CSV reader (worker/arrivals.h); at most 100 million
 * requests. Prints the error; returns 0 or 1. */
static int read_arrivals(const char *path, arrivals *out)
{
    gp_error err;
    gp_error_clear(&err);
    if (arrivals_read(path, true, 1e6, 100000000, out, &err) == 0)
        return 0;
    char msg[1024];
    gp_error_format(&err, msg, sizeof(msg));
    return die("%s", msg);
}

static const char *field(const resp_reply *r, size_t i)
{
    return i < r->n_elem && r->elem[i].type == RESP_BULK ? r->elem[i].str : NULL;
}

static int cmd_replay(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *path = argv[2], *out_path = NULL, *prefix = "gpen";
    char host[256] = "127.0.0.1";
    int port = 6379;
    double scale = 1, drain_s = 120;
    long limit = -1;
    for (int i = 3; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        char *end = NULL;
        if (strcmp(argv[i], "--redis") == 0) {
            if (netaddr_parse(v, 1, host, sizeof(host), &port) < 0)
                return die("--redis: expected HOST:PORT, got \"%s\"", v);
        } else if (strcmp(argv[i], "--prefix") == 0) {
            prefix = v;
        } else if (strcmp(argv[i], "--out") == 0) {
            out_path = v;
        } else if (strcmp(argv[i], "--time-scale") == 0) {
            scale = strtod(v, &end);
            if (*end || !(scale > 0))
                return die("--time-scale: expected a positive number, got \"%s\"", v);
        } else if (strcmp(argv[i], "--drain-timeout") == 0) {
            drain_s = strtod(v, &end);
            if (*end || !(drain_s >= 0))
                return die("--drain-timeout: expected seconds >= 0, got \"%s\"", v);
        } else if (strcmp(argv[i], "--limit") == 0) {
            limit = strtol(v, &end, 10);
            if (*end || limit < 0)
                return die("--limit: expected a count, got \"%s\"", v);
        } else {
            return usage();
        }
        i++;
    }
    arrivals arr;
    if (read_arrivals(path, &arr))
        return 1;
    arrival *a = arr.row;
    size_t n = arr.n;
    if (limit >= 0 && (size_t)limit < n)
        n = (size_t)limit;
    sent *s = calloc(n ? n : 1, sizeof(*s));
    if (!s) {
        free(a);
        return die("%s", "out of memory");
    }
    signal(SIGPIPE, SIG_IGN);
    resp_conn *c;
    char why[300];
    if (resp_connect(host, port, 3000, &c, why, sizeof(why)) < 0) {
        free(a);
        free(s);
        return die("%s", why);
    }
    char pend[QUEUE_KEY_MAX], done[QUEUE_KEY_MAX];
    queue_key(pend, sizeof(pend), prefix, "pending", NULL);
    queue_key(done, sizeof(done), prefix, "done", NULL);
    int rc = 0;
    int64_t t0_mono = mono_us(), t0_real = queue_now_us();
    int64_t max_lag_us = 0;
    size_t late = 0;
    fprintf(stderr, "gpenlab-loadgen: replaying %zu requests over %.1f s (time scale %g)\n", n,
            n ? a[n - 1].t_s / scale : 0.0, scale);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int64_t off = (int64_t)llround(a[i].t_s / scale * 1e6);
        int64_t lag = mono_us() - (t0_mono + off);
        if (lag < 0)
            sleep_until_mono(t0_mono + off);
        else if (lag > 2000) {
            late++;
            if (lag > max_lag_us)
                max_lag_us = lag;
        }
        queue_req rq;
        rq.id = (uint64_t)i + 1;
        rq.submit_us = queue_now_us();
        queue_image_dims(a[i].mp, &rq.width, &rq.height);
        rq.faces = a[i].faces;
        char payload[160];
        queue_req_format(&rq, payload, sizeof(payload));
        resp_reply r;
        if (resp_commandl(c, &r, why, sizeof(why), "LPUSH", pend, payload, NULL) < 0 ||
            r.type != RESP_INT) {
            rc = die("push: %s", r.type == RESP_ERROR ? r.str : why);
        }
        resp_reply_free(&r);
        s[i].sched_us = t0_real + off;
        s[i].submit_us = rq.submit_us;
    }
    /* wait for completions */
    long long n_done = 0;
    int64_t deadline = mono_us() + (int64_t)(drain_s * 1e6);
    while (rc == 0) {
        resp_reply r;
        if (resp_commandl(c, &r, why, sizeof(why), "LLEN", done, NULL) < 0) {
            rc = die("%s", why);
            break;
        }
        resp_reply_int(&r, &n_done);
        resp_reply_free(&r);
        if (n_done >= (long long)n || mono_us() >= deadline)
            break;
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "gpenlab-loadgen: %lld of %zu completed; %zu pushes late (max lag %.1f ms)\n",
            n_done, n, late, (double)max_lag_us / 1e3);
    FILE *out = NULL;
    if (rc == 0 && out_path) {
        char tmp[1100];
        snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
        out = fopen(tmp, "w");
        if (!out)
            rc = die("cannot create %s", tmp);
        else
            fprintf(out, "id,t_s,mp,faces,sched_us,submit_us,start_us,end_us,latency_s,wait_s,"
                         "service_ms,worker,width,height,completed,error,stages_ms\n");
        for (size_t i = 0; i < n && rc == 0; i++) {
            char key[QUEUE_KEY_MAX], ids[32];
            snprintf(ids, sizeof(ids), "%zu", i + 1);
            queue_key(key, sizeof(key), prefix, "result", ids);
            resp_reply r;
            if (resp_commandl(c, &r, why, sizeof(why), "HMGET", key, "start_us", "end_us",
                              "service_ms", "worker", "width", "height", "error", "stages_ms", NULL) < 0) {
                rc = die("%s", why);
                break;
            }
            const char *st = field(&r, 0), *en = field(&r, 1), *svc = field(&r, 2),
                       *wk = field(&r, 3), *w = field(&r, 4), *h = field(&r, 5), *er = field(&r, 6),
                       *sg = field(&r, 7);
            bool ok = st && en;
            double lat = ok ? (double)(strtoll(en, NULL, 10) - s[i].submit_us) / 1e6 : NAN;
            double wait = ok ? (double)(strtoll(st, NULL, 10) - s[i].submit_us) / 1e6 : NAN;
            char erbuf[200] = "";
            if (er)
                for (size_t k = 0; er[k] && k < sizeof(erbuf) - 1; k++)
                    erbuf[k] = (er[k] == ',' || er[k] == '\n') ? ' ' : er[k];
            fprintf(out, "%zu,%.6f,%.4f,%d,%" PRId64 ",%" PRId64 ",%s,%s,%.6f,%.6f,%s,%s,%s,%s,%d,%s,%s\n",
                    i + 1, a[i].t_s, a[i].mp, a[i].faces, s[i].sched_us, s[i].submit_us,
                    st ? st : "", en ? en : "", lat, wait, svc ? svc : "", wk ? wk : "",
                    w ? w : "", h ? h : "", ok ? 1 : 0, erbuf, sg && !strchr(sg, ',') ? sg : "");
            resp_reply_free(&r);
        }
        if (out) {
            if (fclose(out) != 0 && rc == 0)
                rc = die("cannot write %s", tmp);
            if (rc == 0 && rename(tmp, out_path) < 0)
                rc = die("cannot rename to %s", out_path);
        }
    }
    resp_close(c);
    free(a);
    free(s);
    return rc;
}

#ifdef LOADGEN_WITH_TRACES
static int cmd_expand(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *path = argv[2], *out_path = NULL;
    long long seed_arg = -1;
    double mp_step = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--out") == 0)
            out_path = argv[i + 1];
        else if (strcmp(argv[i], "--mp-step") == 0)
            mp_step = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            seed_arg = strtoll(argv[i + 1], NULL, 10);
        else
            return usage();
    }
    if (!out_path)
        return usage();
    gp_error err;
    gp_error_clear(&err);
    cfg_doc *doc = NULL;
    workload_spec w;
    workload_spec_default(&w);
    arrival_src *src = NULL;
    FILE *out = NULL;
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    int rc = cfg_load_file(path, &doc, &err);
    const cfg_node *root = rc < 0 ? NULL : cfg_root(doc);
    const cfg_node *wl = root ? cfg_map_get(root, "workload") : NULL;
    if (rc >= 0 && !wl)
        rc = gp_error_set(&err, GP_EMISSING, path, 0, 0, "workload", "required");
    uint64_t seed = 1;
    if (rc >= 0) {
        int64_t s64 = 1;
        rc = cfg_opt_int64(root, "seed", 0, INT64_MAX, &s64, &err);
        seed = seed_arg >= 0 ? (uint64_t)seed_arg : (uint64_t)s64;
    }
    char dir[1024];
    workload_base_dir(path, dir, sizeof(dir));
    if (rc >= 0)
        rc = workload_parse(wl, dir, &w, &err);
    w.warn = stderr;
    if (rc >= 0)
        rc = workload_open(&w, seed, &src, &err);
    if (rc >= 0 && !(out = fopen(tmp, "w")))
        rc = gp_error_set(&err, GP_EIO, tmp, 0, 0, NULL, "cannot create: %s", strerror(errno));
    uint64_t n = 0;
    if (rc >= 0) {
        fprintf(out, "t_s,mp,faces\n");
        request_spec r;
        while ((rc = arrival_src_next(src, &r, &err)) == 1) {
            double mp = r.mp;
            if (mp_step > 0) /* a few distinct sizes: the worker keeps one input per size */
                mp = fmax(mp_step, round(mp / mp_step) * mp_step);
            fprintf(out, "%.6f,%.4f,%d\n", (double)r.arrival_us / 1e6, mp, (int)r.faces);
            n++;
        }
    }
    if (out && fclose(out) != 0 && rc >= 0)
        rc = gp_error_set(&err, GP_EIO, tmp, 0, 0, NULL, "cannot write");
    if (rc >= 0 && rename(tmp, out_path) < 0)
        rc = gp_error_set(&err, GP_EIO, out_path, 0, 0, NULL, "cannot rename: %s", strerror(errno));
    arrival_src_free(src);
    workload_free(&w);
    cfg_free(doc);
    if (rc < 0) {
        char msg[1024];
        gp_error_format(&err, msg, sizeof(msg));
        return die("%s", msg);
    }
    fprintf(stderr, "gpenlab-loadgen: wrote %" PRIu64 " arrivals to %s (seed %" PRIu64 ")\n", n,
            out_path, seed);
    return 0;
}
#endif

/* check ARRIVALS.csv: reads the file as replay would and says what it holds. */
static int cmd_check(int argc, char **argv)
{
    if (argc != 3)
        return usage();
    arrivals arr;
    if (read_arrivals(argv[2], &arr))
        return 1;
    double mp = 0, faces = 0;
    for (size_t i = 0; i < arr.n; i++) {
        mp += arr.row[i].mp;
        faces += arr.row[i].faces;
    }
    printf("%s: %zu requests over %.3f s, mean %.3f MP, mean %.3f faces\n", argv[2], arr.n,
           arr.row[arr.n - 1].t_s, mp / (double)arr.n, faces / (double)arr.n);
    arrivals_free(&arr);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc, argv);
#ifdef LOADGEN_WITH_TRACES
    if (argc >= 2 && strcmp(argv[1], "expand") == 0)
        return cmd_expand(argc, argv);
#else
    if (argc >= 2 && strcmp(argv[1], "expand") == 0)
        return die("%s", "expand needs the traces library: use gpenlab-loadgen-full");
#endif
    return usage();
}
