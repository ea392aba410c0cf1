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
 * requests that the simulator replays (an experiment `type: trace` over the same CSV).
 * Options through the one parser (base/opts.h): a bad one is one line and exit 2. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/opts.h"
#include "worker/arrivals.h"
#include "worker/queue.h"
#include "worker/resp.h"
#include "worker/wopts.h"

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

static const char USAGE[] =
    "usage: gpenlab-loadgen replay ARRIVALS.csv [--redis HOST:PORT] [--prefix gpen]\n"
    "           [--time-scale F] [--limit N] [--drain-timeout S] [--out REQUESTS.csv]\n"
    "       gpenlab-loadgen check ARRIVALS.csv\n"
    "       gpenlab-loadgen expand WORKLOAD.yaml --out ARRIVALS.csv [--seed N] [--mp-step MP]\n";

/* The command's options (argv[0] its word) through spec; the one file it takes is
 * required (`what` names it). 0, 1 when the help was printed, or 2 with the line printed. */
static int parse(int argc, char **argv, const cli_opt *opts, const char **file, const char *what)
{
    const cli_spec spec = {.opts = opts,
                           .pos = file,
                           .n_pos = 1,
                           .unknown = CLI_UNKNOWN_OPTION,
                           .too_many = CLI_UNEXPECTED_ARGUMENT,
                           .help = USAGE};
    gp_error err;
    gp_error_clear(&err);
    int rc = cli_parse(argc, argv, &spec, stdout, &err);
    if (rc == 0 && !*file)
        rc = gp_error_set(&err, GP_EMISSING, NULL, 0, 0, NULL, "which %s? (gpenlab-loadgen --help)",
                          what);
    if (rc < 0) {
        char prog[64];
        snprintf(prog, sizeof(prog), "gpenlab-loadgen %s", argv[0]);
        return cli_report(stderr, prog, &err, 2);
    }
    return rc;
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
    return cli_report(stderr, "gpenlab-loadgen", &err, 1);
}

static const char *field(const resp_reply *r, size_t i)
{
    return i < r->n_elem && r->elem[i].type == RESP_BULK ? r->elem[i].str : NULL;
}

static int cmd_replay(int argc, char **argv)
{
    const char *path = NULL, *out_path = NULL;
    char prefix[WOPTS_NAME_MAX] = "gpen";
    wopts_addr redis = {"127.0.0.1", 6379};
    double scale = 1, drain_s = 120;
    long limit = -1;
    const cli_opt opts[] = {
        {"--redis", NULL, CLI_VALUE, &redis, 0, 0, wopts_connect_addr},
        {"--prefix", NULL, CLI_VALUE, prefix, 0, 0, wopts_prefix},
        {"--out", NULL, CLI_STR, &out_path, 0, 0, NULL},
        {"--time-scale", NULL, CLI_VALUE, &scale, 0, 0, cli_positive},
        {"--drain-timeout", NULL, CLI_VALUE, &drain_s, 0, 0, cli_nonneg},
        {"--limit", NULL, CLI_LONG, &limit, 0, 100000000, NULL}, /* arrivals_read's most */
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = parse(argc, argv, opts, &path, "arrivals file");
    if (prc)
        return prc == 1 ? 0 : prc;
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
    if (resp_connect(redis.host, redis.port, 3000, &c, why, sizeof(why)) < 0) {
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
                              "service_ms", "worker", "width", "height", "error", "stages_ms",
                              NULL) < 0) {
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
            fprintf(out,
                    "%zu,%.6f,%.4f,%d,%" PRId64 ",%" PRId64
                    ",%s,%s,%.6f,%.6f,%s,%s,%s,%s,%d,%s,%s\n",
                    i + 1, a[i].t_s, a[i].mp, a[i].faces, s[i].sched_us, s[i].submit_us,
                    st ? st : "", en ? en : "", lat, wait, svc ? svc : "", wk ? wk : "", w ? w : "",
                    h ? h : "", ok ? 1 : 0, erbuf, sg && !strchr(sg, ',') ? sg : "");
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
    const char *path = NULL, *out_path = NULL;
    long seed_arg = -1;
    double mp_step = 0;
    const cli_opt opts[] = {
        {"--out", NULL, CLI_STR, &out_path, 0, 0, NULL},
        {"--mp-step", NULL, CLI_VALUE, &mp_step, 0, 0, cli_nonneg},
        {"--seed", NULL, CLI_LONG, &seed_arg, 0, LONG_MAX, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = parse(argc, argv, opts, &path, "experiment file");
    if (prc)
        return prc == 1 ? 0 : prc;
    if (!out_path) {
        fprintf(stderr, "gpenlab-loadgen expand: --out: required (the arrivals CSV to write)\n");
        return 2;
    }
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
    if (rc < 0)
        return cli_report(stderr, "gpenlab-loadgen", &err, 1);
    fprintf(stderr, "gpenlab-loadgen: wrote %" PRIu64 " arrivals to %s (seed %" PRIu64 ")\n", n,
            out_path, seed);
    return 0;
}
#endif

/* check ARRIVALS.csv: reads the file as replay would and says what it holds. */
static int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    const cli_opt opts[] = {{NULL, NULL, 0, NULL, 0, 0, NULL}};
    int prc = parse(argc, argv, opts, &path, "arrivals file");
    if (prc)
        return prc == 1 ? 0 : prc;
    arrivals arr;
    if (read_arrivals(path, &arr))
        return 1;
    double mp = 0, faces = 0;
    for (size_t i = 0; i < arr.n; i++) {
        mp += arr.row[i].mp;
        faces += arr.row[i].faces;
    }
    printf("%s: %zu requests over %.3f s, mean %.3f MP, mean %.3f faces\n", path, arr.n,
           arr.row[arr.n - 1].t_s, mp / (double)arr.n, faces / (double)arr.n);
    arrivals_free(&arr);
    return 0;
}

#ifndef LOADGEN_WITH_TRACES
static int cmd_expand(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return die("%s", "expand needs the traces library: use gpenlab-loadgen-full");
}
#endif

int main(int argc, char **argv)
{
    static const cli_command commands[] = {
        {"replay", cmd_replay}, {"check", cmd_check}, {"expand", cmd_expand}};
    return cli_dispatch("gpenlab-loadgen", argc, argv, commands,
                        sizeof(commands) / sizeof(commands[0]), USAGE, stdout, stderr);
}
