/* test_worker_live.c: the live stack's queue protocol against a real redis-server, with
 * the CPU-reference stage on tiny inputs (no GPU): every request completes exactly once;
 * a worker killed with SIGKILL mid-request loses nothing (another worker's reaper requeues
 * what it held); SIGTERM drains (what is held completes, nothing new is taken, exit 0);
 * the /metrics text; the load generator end to end and its refusals; the scraper's query
 * API; `gpenlab-worker profile --processes N` (the live pods' setting: N single-slot worker
 * processes); every program's option errors (one line naming the option, exit 2) and help.
 * The programs come from the build directory of $GPENLAB_BIN (normal or ASan).
 * Skips with a message where redis-server is not installed (scripts/install_live_deps.sh). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profile/profile.h"
#include "tests/testutil.h"

/* the wire client and protocol under test, compiled into this binary */
#include "worker/netaddr.c"
#include "worker/queue.c"
#include "worker/resp.c"

typedef struct fixture {
    char dir[PATH_MAX]; /* temp dir: logs, files */
    char redis_bin[PATH_MAX];
    int port;
    gp_proc *redis;
    resp_conn *c;
    gp_proc *children[16]; /* workers and helpers, freed (killed if still running) at teardown */
    int n_children;
} fixture;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int p = ntohs(a.sin_port);
    close(fd);
    return p;
}

/* name on PATH or in the usual system folders (redis-server lives in /usr/sbin on some). */
static bool find_in_path(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    return gp_proc_find(name, dirs, out, len) == 0;
}

/* A process the fixture frees at teardown (killed there if a test failed). */
static gp_proc *keep(fixture *f, gp_proc *p)
{
    assert_true(f->n_children < 16);
    f->children[f->n_children++] = p;
    return p;
}

static long long cmd_int(fixture *f, ...)
{
    const char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, f);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 16)
        argv[argc++] = a;
    va_end(ap);
    resp_reply r;
    char why[300];
    if (resp_command(f->c, argc, argv, NULL, &r, why, sizeof(why)) < 0)
        fail_msg("redis %s: %s", argv[0], why);
    long long v = -1;
    if (resp_reply_int(&r, &v) < 0 && r.type != RESP_NIL && r.type != RESP_STATUS)
        fail_msg("redis %s: not an integer reply (type %d)", argv[0], (int)r.type);
    resp_reply_free(&r);
    return v;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    if (!find_in_path("redis-server", f->redis_bin, sizeof(f->redis_bin))) {
        free(f);
        fprintf(stderr, "test_worker_live: redis-server not installed: skipped "
                        "(scripts/install_live_deps.sh installs it)\n");
        *state = NULL;
        return 0;
    }
    assert_int_equal(tu_mkdtemp(f->dir, sizeof(f->dir), "worker-test"), 0);
    f->port = free_port();
    assert_true(f->port > 0);
    char port[16], log[PATH_MAX + 16];
    snprintf(port, sizeof(port), "%d", f->port);
    snprintf(log, sizeof(log), "%s/redis.log", f->dir);
    const char *argv[] = {f->redis_bin, "--port",       port, "--bind", "127.0.0.1", "--save",
                          "",           "--appendonly", "no", "--dir",  f->dir,      NULL};
    f->redis = tu_proc_start_log(argv, log);
    char why[300];
    int64_t end = mono_ms() + 10000;
    while (resp_connect("127.0.0.1", f->port, 1000, &f->c, why, sizeof(why)) < 0) {
        if (mono_ms() > end)
            fail_msg("redis-server did not come up on port %d: %s", f->port, why);
        nap_ms(50);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < f->n_children; i++)
        gp_proc_free(f->children[i]);
    resp_close(f->c);
    gp_proc_stop(f->redis, 10000, NULL);
    gp_proc_free(f->redis);
    if (tu_rm_rf(f->dir) != 0)
        fprintf(stderr, "test_worker_live: could not remove %s\n", f->dir);
    free(f);
    return 0;
}

#define SKIP_IF_NO_REDIS(f) \
    do {                    \
        if (!(f))           \
            skip();         \
    } while (0)

/* A CPU worker named id; slow = bigger tiny inputs so a request takes a while. */
static gp_proc *start_worker(fixture *f, const char *id, int slots, bool slow)
{
    char bin[PATH_MAX], redis[64], slots_s[8], log[PATH_MAX + 64];
    tu_bin_path("gpenlab-worker", bin, sizeof(bin));
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", f->port);
    snprintf(slots_s, sizeof(slots_s), "%d", slots);
    snprintf(log, sizeof(log), "%s/%s.log", f->dir, id);
    const char *argv[] = {bin,
                          "serve",
                          "--redis",
                          redis,
                          "--id",
                          id,
                          "--backend",
                          "cpu",
                          "--concurrency",
                          slots_s,
                          "--heartbeat-ms",
                          "200",
                          "--dead-after-ms",
                          "1000",
                          "--reap-every-ms",
                          "200",
                          "--block-ms",
                          "500",
                          "--cpu-face-size",
                          slow ? "64" : "8",
                          "--cpu-px-scale",
                          slow ? "0.25" : "0.001",
                          NULL};
    gp_proc *p = keep(f, tu_proc_start_log(argv, log));
    /* ready = registered in gpen:workers */
    int64_t end = mono_ms() + 30000;
    while (cmd_int(f, "SISMEMBER", "gpen:workers", id, NULL) != 1) {
        gp_proc_result r;
        if (mono_ms() > end || gp_proc_wait(p, 0, &r) == 1)
            fail_msg("worker %s did not become ready (log %s)", id, log);
        nap_ms(20);
    }
    return p;
}

static void push(fixture *f, uint64_t id, int w, int h, int faces)
{
    queue_req r = {id, queue_now_us(), w, h, faces};
    char p[160];
    assert_int_equal(queue_req_format(&r, p, sizeof(p)), 0);
    assert_true(cmd_int(f, "LPUSH", "gpen:pending", p, NULL) >= 1);
}

static void wait_done(fixture *f, long long n, int timeout_ms, const char *what)
{
    int64_t end = mono_ms() + timeout_ms;
    long long d;
    while ((d = cmd_int(f, "LLEN", "gpen:done", NULL)) < n) {
        if (mono_ms() > end)
            fail_msg("%s: %lld of %lld requests done after %d ms", what, d, n, timeout_ms);
        nap_ms(20);
    }
}

/* Every id 1..n appears exactly once on gpen:done. */
static void check_exactly_once(fixture *f, int n, const char *what)
{
    resp_reply r;
    char why[300];
    assert_int_equal(
        resp_commandl(f->c, &r, why, sizeof(why), "LRANGE", "gpen:done", "0", "-1", NULL), 0);
    int *seen = calloc((size_t)n + 1, sizeof(int));
    assert_non_null(seen);
    for (size_t i = 0; i < r.n_elem; i++) {
        long id = strtol(r.elem[i].str, NULL, 10);
        if (id < 1 || id > n)
            fail_msg("%s: unexpected id %s on gpen:done", what, r.elem[i].str);
        seen[id]++;
    }
    for (int i = 1; i <= n; i++)
        if (seen[i] != 1)
            fail_msg("%s: request %d completed %d times, want 1", what, i, seen[i]);
    free(seen);
    resp_reply_free(&r);
}

static char *hget(fixture *f, const char *key, const char *field)
{
    resp_reply r;
    char why[300];
    assert_int_equal(resp_commandl(f->c, &r, why, sizeof(why), "HGET", key, field, NULL), 0);
    char *s = r.type == RESP_BULK ? strdup(r.str) : NULL;
    resp_reply_free(&r);
    return s;
}

/* SIGTERM; it must exit 0 within 30 s. (The fixture frees it.) */
static void stop_worker(gp_proc *p, const char *what)
{
    gp_proc_signal(p, SIGTERM);
    gp_proc_result r;
    if (gp_proc_wait(p, 30000, &r) == 0)
        fail_msg("%s: the worker did not exit within 30 s of SIGTERM", what);
    if (!gp_proc_ok(&r)) {
        char how[128];
        gp_proc_describe(&r, how, sizeof(how));
        fail_msg("%s: the worker ended: %s", what, how);
    }
}

/* ---------------------------------------------------------------- tests */

static char *http_body(int port, const char *path, int *status);
static double metric_value(const char *text, const char *prefix);

/* The worker's gpen_requests_in_flight gauge, read from its /metrics; -1 when unreadable. */
static double in_flight_of(fixture *f, const char *id)
{
    char key[64];
    snprintf(key, sizeof(key), "gpen:worker:%s", id);
    char *port = hget(f, key, "port");
    if (!port)
        return -1;
    int st = 0;
    char *m = http_body(atoi(port), "/metrics", &st);
    free(port);
    double v = m && st == 200 ? metric_value(m, "gpen_requests_in_flight{") : -1;
    free(m);
    return v;
}

static void test_payload_format(void **state)
{
    (void)state;
    static const struct {
        const char *name, *text;
        int ok;
    } rows[] = {
        {"valid", "v1 7 1700000000000000 640 480 2", 1},
        {"no faces", "v1 7 1700000000000000 640 480 0", 1},
        {"trailing junk", "v1 7 1700000000000000 640 480 2 x", 0},
        {"negative faces", "v1 7 1700000000000000 640 480 -1", 0},
        {"zero width", "v1 7 1700000000000000 0 480 1", 0},
        {"wrong version", "v2 7 1700000000000000 640 480 1", 0},
        {"empty", "", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        queue_req r;
        int got = queue_req_parse(rows[i].text, strlen(rows[i].text), &r) == 0;
        if (got != rows[i].ok)
            fail_msg("%s: parse gave %d, want %d", rows[i].name, got, rows[i].ok);
    }
    queue_req a = {42, 123456789, 1732, 1155, 3}, b;
    char buf[160];
    assert_int_equal(queue_req_format(&a, buf, sizeof(buf)), 0);
    assert_int_equal(queue_req_parse(buf, strlen(buf), &b), 0);
    assert_true(a.id == b.id && a.submit_us == b.submit_us && a.width == b.width &&
                a.height == b.height && a.faces == b.faces);
    int w, h;
    queue_image_dims(2.0, &w, &h);
    if (abs(w * h - 2000000) > 4000)
        fail_msg("2 MP: got %dx%d", w, h);
}

static void test_every_request_once(void **state)
{
    fixture *f = *state;
    SKIP_IF_NO_REDIS(f);
    gp_proc *w = start_worker(f, "wq", 3, false);
    enum { N = 40 };
    for (int i = 1; i <= N; i++)
        push(f, (uint64_t)i, 64 + i, 48 + i, i % 4);
    wait_done(f, N, 60000, "queue");
    check_exactly_once(f, N, "queue");
    assert_int_equal(cmd_int(f, "LLEN", "gpen:pending", NULL), 0);
    assert_int_equal(cmd_int(f, "LLEN", "gpen:processing:wq", NULL), 0);
    /* the result record of one request */
    char *wk = hget(f, "gpen:result:17", "worker"), *st = hget(f, "gpen:result:17", "start_us"),
         *en = hget(f, "gpen:result:17", "end_us"), *fa = hget(f, "gpen:result:17", "faces"),
         *er = hget(f, "gpen:result:17", "error");
    assert_non_null(wk);
    assert_string_equal(wk, "wq");
    assert_true(st && en && strtoll(en, NULL, 10) >= strtoll(st, NULL, 10));
    assert_string_equal(fa, "1");
    assert_string_equal(er, "");
    free(wk), free(st), free(en), free(fa), free(er);
    /* a malformed request completes (with an error) instead of blocking the queue */
    assert_true(cmd_int(f, "LPUSH", "gpen:pending", "v1 99 garbage", NULL) >= 1);
    wait_done(f, N + 1, 30000, "malformed request");
    stop_worker(w, "queue");
    assert_int_equal(cmd_int(f, "SISMEMBER", "gpen:workers", "wq", NULL), 0);
}

static void test_sigkill_loses_nothing(void **state)
{
    fixture *f = *state;
    SKIP_IF_NO_REDIS(f);
    gp_proc *a = start_worker(f, "wa", 2, true);
    enum { N = 8 };
    for (int i = 1; i <= N; i++)
        push(f, (uint64_t)i, 3000, 2000, 2);
    /* kill it while it holds requests */
    int64_t end = mono_ms() + 30000;
    while (cmd_int(f, "LLEN", "gpen:processing:wa", NULL) < 1) {
        if (mono_ms() > end)
            fail_msg("sigkill: the worker never took a request");
        nap_ms(5);
    }
    long long held = cmd_int(f, "LLEN", "gpen:processing:wa", NULL);
    gp_proc_signal(a, SIGKILL);
    gp_proc_result ended;
    gp_proc_wait(a, -1, &ended);
    long long done_before = cmd_int(f, "LLEN", "gpen:done", NULL);
    gp_proc *b = start_worker(f, "wb", 2, false);
    wait_done(f, N, 60000, "sigkill");
    check_exactly_once(f, N, "sigkill");
    long long requeued = cmd_int(f, "GET", "gpen:requeued", NULL);
    if (held > 0 && done_before < N && requeued < 1)
        fail_msg("sigkill: %lld held by the killed worker, but the reaper requeued %lld", held,
                 requeued);
    assert_int_equal(cmd_int(f, "SISMEMBER", "gpen:workers", "wa", NULL), 0);
    assert_int_equal(cmd_int(f, "EXISTS", "gpen:processing:wa", NULL), 0);
    char *reaped = hget(f, "gpen:worker:wa", "reaped_us");
    assert_non_null(reaped);
    free(reaped);
    stop_worker(b, "sigkill");
}

static void test_sigterm_drains(void **state)
{
    fixture *f = *state;
    SKIP_IF_NO_REDIS(f);
    gp_proc *w = start_worker(f, "wd", 1, true);
    enum { N = 6 };
    for (int i = 1; i <= N; i++)
        push(f, (uint64_t)i, 3000, 2000, 2);
    /* SIGTERM once a request is being served, not merely moved to the worker's list: one
     * that arrives after the stop goes back to the queue, which is right but not this case */
    int64_t end = mono_ms() + 30000;
    while (cmd_int(f, "LLEN", "gpen:processing:wd", NULL) < 1 || in_flight_of(f, "wd") < 1) {
        if (mono_ms() > end)
            fail_msg("drain: the worker never started a request");
        nap_ms(5);
    }
    stop_worker(w, "drain");
    long long done = cmd_int(f, "LLEN", "gpen:done", NULL),
              pending = cmd_int(f, "LLEN", "gpen:pending", NULL);
    /* what it held was finished; the rest is still waiting, none lost or taken */
    if (done < 1)
        fail_msg("drain: the held request was not completed");
    if (done + pending != N)
        fail_msg("drain: %lld done + %lld pending, want %d", done, pending, N);
    assert_int_equal(cmd_int(f, "LLEN", "gpen:processing:wd", NULL), 0);
    char *term = hget(f, "gpen:worker:wd", "term_us"), *ex = hget(f, "gpen:worker:wd", "exit_us");
    assert_non_null(term);
    assert_non_null(ex);
    /* no request was started after the SIGTERM */
    for (int i = 1; i <= N; i++) {
        char key[64];
        snprintf(key, sizeof(key), "gpen:result:%d", i);
        char *st = hget(f, key, "start_us");
        if (st && strtoll(st, NULL, 10) > strtoll(term, NULL, 10))
            fail_msg("drain: request %d started %lld us after SIGTERM", i,
                     strtoll(st, NULL, 10) - strtoll(term, NULL, 10));
        free(st);
    }
    free(term);
    free(ex);
    assert_int_equal(cmd_int(f, "SISMEMBER", "gpen:workers", "wd", NULL), 0);
}

/* GET path from 127.0.0.1:port into a malloc'd string (the body only). */
static char *http_body(int port, const char *path, int *status)
{
    resp_conn *c; /* reuse the socket helper: connect with a timeout */
    char why[300];
    if (resp_connect("127.0.0.1", port, 2000, &c, why, sizeof(why)) < 0)
        return NULL;
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    if (send(c->fd, req, (size_t)n, 0) != n) {
        resp_close(c);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t r = recv(c->fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    resp_close(c);
    buf[len] = '\0';
    *status = (int)strtol(buf + 9, NULL, 10);
    char *b = strstr(buf, "\r\n\r\n");
    char *out = strdup(b ? b + 4 : "");
    free(buf);
    return out;
}

static double metric_value(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    if (!p)
        return -1;
    const char *sp = strchr(p, ' ');
    return sp ? strtod(sp + 1, NULL) : -1;
}

static void test_metrics_endpoint(void **state)
{
    fixture *f = *state;
    SKIP_IF_NO_REDIS(f);
    gp_proc *w = start_worker(f, "wm", 2, false);
    enum { N = 12 };
    for (int i = 1; i <= N; i++)
        push(f, (uint64_t)i, 200, 100, 1);
    wait_done(f, N, 30000, "metrics");
    /* a request is on gpen:done before its slot leaves the in-flight gauge: wait for that */
    int64_t end = mono_ms() + 10000;
    while (in_flight_of(f, "wm") != 0 && mono_ms() < end)
        nap_ms(5);
    char *port = hget(f, "gpen:worker:wm", "port");
    assert_non_null(port);
    int st = 0;
    char *m = http_body(atoi(port), "/metrics", &st);
    assert_non_null(m);
    assert_int_equal(st, 200);
    static const char *const names[] = {
        "# TYPE gpen_request_latency_seconds histogram",
        "gpen_request_latency_seconds_sum{",
        "gpen_requests_in_flight{namespace=\"gpen\",pod=\"wm\"} 0",
        "gpen_busy_seconds_total{",
        "DCGM_FI_DEV_FB_USED{",
        "DCGM_FI_DEV_FB_FREE{",
        "DCGM_FI_DEV_GPU_UTIL{",
        "gpen_cold_start_seconds{namespace=\"gpen\",pod=\"wm\",phase=\"weight_load\"}",
        "gpen_worker_info{namespace=\"gpen\",pod=\"wm\",backend=\"cpu\""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strstr(m, names[i]))
            fail_msg("metrics: \"%s\" missing", names[i]);
    double count = metric_value(m, "gpen_request_latency_seconds_count{");
    double inf = metric_value(m, "le=\"+Inf\"}");
    double total = metric_value(m, "gpen_requests_completed_total{");
    if (count != N || inf != N || total != N)
        fail_msg("metrics: count %g, +Inf bucket %g, completed %g, want %d", count, inf, total, N);
    /* buckets are cumulative */
    double prev = -1;
    for (const char *p = strstr(m, "_bucket{"); p; p = strstr(p + 1, "_bucket{")) {
        double v = strtod(strchr(p, ' ') + 1, NULL);
        if (v < prev)
            fail_msg("metrics: bucket counts decrease (%g after %g)", v, prev);
        prev = v;
    }
    free(m);
    m = http_body(atoi(port), "/nope", &st);
    assert_int_equal(st, 404);
    free(m);
    free(port);
    stop_worker(w, "metrics");
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_loadgen_and_scraper(void **state)
{
    fixture *f = *state;
    SKIP_IF_NO_REDIS(f);
    gp_proc *w = start_worker(f, "wl", 2, false);
    char arr[PATH_MAX + 16], out[PATH_MAX + 16], lg[PATH_MAX], log[PATH_MAX + 16], redis[64],
        pl[PATH_MAX], plog[PATH_MAX + 16];
    snprintf(arr, sizeof(arr), "%s/arr.csv", f->dir);
    snprintf(out, sizeof(out), "%s/req.csv", f->dir);
    tu_bin_path("gpenlab-loadgen", lg, sizeof(lg));
    tu_bin_path("gpenlab-promlite", pl, sizeof(pl));
    snprintf(log, sizeof(log), "%s/loadgen.log", f->dir);
    snprintf(plog, sizeof(plog), "%s/promlite.log", f->dir);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", f->port);
    write_file(arr, "t_s,mp,faces\n0.0,0.01,1\n0.05,0.02,0\n0.1,0.01,2\n0.1,0.03,1\n0.2,0.01,1\n");
    int pport = free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", pport);
    const char *pargv[] = {pl,
                           "serve",
                           "--redis",
                           redis,
                           "--listen",
                           listen,
                           "--scrape-ms",
                           "100",
                           "--latency-window-s",
                           "10",
                           NULL};
    gp_proc *pp = keep(f, tu_proc_start_log(pargv, plog));
    const char *argv[] = {lg,  "replay",          arr,  "--redis", redis, "--out",
                          out, "--drain-timeout", "30", NULL};
    gp_proc_result r = tu_proc_run(&(gp_proc_spec){.argv = argv,
                                                   .out = GP_PROC_FILE,
                                                   .out_path = log,
                                                   .append = true,
                                                   .err = GP_PROC_STDOUT,
                                                   .timeout_ms = 60000});
    assert_true(gp_proc_ok(&r));
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char line[1024];
    int rows = 0;
    assert_non_null(fgets(line, sizeof(line), fp));
    assert_true(strncmp(line, "id,t_s,mp,faces,sched_us,submit_us,start_us,end_us,latency_s", 60) ==
                0);
    while (fgets(line, sizeof(line), fp)) {
        rows++;
        /* column 15 (completed) is 1 */
        char *cp = line;
        for (int col = 0; col < 14 && cp; col++) {
            cp = strchr(cp, ',');
            if (cp)
                cp++;
        }
        if (!cp || strncmp(cp, "1,", 2) != 0)
            fail_msg("loadgen: row %d not completed: %s", rows, line);
    }
    fclose(fp);
    assert_int_equal(rows, 5);
    /* the scraper answers the driver's query shapes, refuses others */
    nap_ms(300);
    static const struct {
        const char *name, *query;
        int status;
        const char *want;
    } q[] = {
        {"per-pod in flight",
         "/api/v1/"
         "query?query=sum%20by%20(pod)%20(gpen_requests_in_flight%7Bnamespace%3D%22gpen%22%7D)",
         200, "\"pod\":\"wl\""},
        {"p95",
         "/api/v1/query?query=max(gpen_request_latency_seconds_p95%7Bnamespace%3D%22gpen%22%7D)",
         200, "\"resultType\":\"vector\""},
        {"util / 100",
         "/api/v1/query?query=avg(DCGM_FI_DEV_GPU_UTIL%7Bnamespace%3D%22gpen%22%7D)%20%2F%20100",
         200, "\"status\":\"success\""},
        {"other namespace: empty",
         "/api/v1/query?query=sum(gpen_requests_in_flight%7Bnamespace%3D%22x%22%7D)", 200,
         "\"result\":[]"},
        {"unknown metric", "/api/v1/query?query=up", 400, "\"errorType\":\"bad_data\""},
        {"unsupported", "/api/v1/query?query=rate(x%5B1m%5D)", 400, "\"status\":\"error\""},
        {"no query", "/api/v1/query", 400, "no query"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        int hs = 0;
        char *b = http_body(pport, q[i].query, &hs);
        if (!b || hs != q[i].status || !strstr(b, q[i].want))
            fail_msg("%s: HTTP %d, body %s", q[i].name, hs, b ? b : "(none)");
        free(b);
    }
    gp_proc_signal(pp, SIGTERM);
    assert_int_equal(gp_proc_wait(pp, 10000, &r), 1);
    assert_true(gp_proc_ok(&r));
    stop_worker(w, "loadgen");
    /* refusals name the file and line */
    static const struct {
        const char *name, *text, *want;
    } bad[] = {
        /* the one CSV reader's words (worker/arrivals.h) */
        {"no header columns", "time,size\n1,2\n", ":1: no time column 't_s'"},
        {"backwards", "t_s,mp,faces\n1,2,1\n0.5,2,1\n", ":3: t_s: goes backwards"},
        {"bad faces", "t_s,mp,faces\n1,2,1.5\n", ":2: faces: expected"},
        {"bad number", "t_s,mp,faces\nx,2,1\n", ":2: t_s: expected"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(arr, bad[i].text);
        r = tu_proc_run(&(gp_proc_spec){
            .argv = argv, .out = GP_PROC_CAPTURE, .err = GP_PROC_STDOUT, .timeout_ms = 30000});
        if (!r.exited || r.exit_code == 0)
            fail_msg("%s: loadgen accepted the file", bad[i].name);
        if (!strstr(r.out, bad[i].want))
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].name, r.out, bad[i].want);
        gp_proc_result_free(&r);
    }
}

/* `gpenlab-worker profile --processes 3` on the CPU stage: eff over 3 processes, cold
 * phases with their spread, a start interference in (0, 1], the provenance said; and the
 * refusals of a bad process count and a bad pre-warm list. No Redis needed. */
static void test_profile_processes(void **state)
{
    (void)state;
    char out[PATH_MAX + 32];
    char tmp[256];
    assert_int_equal(tu_mkdtemp(tmp, sizeof(tmp), "wprofile"), 0);
    snprintf(out, sizeof(out), "%s/p.profile", tmp);
    gp_proc_result r = tu_run_bin(
        "gpenlab-worker", NULL,
        (const char *const[]){"profile", "--out", out, "--backend", "cpu", "--processes", "3",
                              "--reps", "1", "--cpu-face-size", "8", "--prewarm-mp", "1.5,2", NULL},
        NULL);
    if (!gp_proc_ok(&r))
        fail_msg("profile --processes 3: exit %d: %s", r.exit_code, r.err);
    gp_proc_result_free(&r);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    gpu_profile *p = calloc(1, sizeof(*p));
    gp_error err;
    assert_non_null(p);
    if (profile_parse(out, text, p, &err) < 0)
        fail_msg("profile: %s", err.msg);
    assert_int_equal(p->n_eff, 3);
    assert_true(p->eff[0] == 1.0);
    for (int i = 1; i < 3; i++)
        assert_true(p->eff[i] > 0.2 && p->eff[i] < 3.5);
    assert_true(p->start_interference > 0 && p->start_interference <= 1.0);
    assert_true(p->n_phases >= 1);
    assert_non_null(strstr(p->source, "from 3 single-slot processes"));
    free(p);
    /* eff over an image mix; a mix file with a bad value is refused with its line */
    char mix[PATH_MAX + 32], bad_mix[PATH_MAX + 32];
    snprintf(mix, sizeof(mix), "%s/mix.csv", tmp);
    snprintf(bad_mix, sizeof(bad_mix), "%s/bad.csv", tmp);
    FILE *m = fopen(mix, "w"), *bm = fopen(bad_mix, "w");
    assert_non_null(m);
    assert_non_null(bm);
    fputs("t_s,mp,faces\n0.1,1.5,1\n0.2,4,0\n0.3,2,2\n", m);
    fputs("t_s,mp,faces\n0.1,1.5,1\n0.2,-4,0\n", bm);
    fclose(m);
    fclose(bm);
    r = tu_run_bin("gpenlab-worker", NULL,
                   (const char *const[]){"profile", "--out", out, "--backend", "cpu", "--processes",
                                         "2", "--reps", "1", "--cpu-face-size", "8", "--eff-mix",
                                         mix, NULL},
                   NULL);
    char *written = tu_slurp(out);
    if (!gp_proc_ok(&r) || !written || !strstr(written, "eff over the image mix"))
        fail_msg("--eff-mix: exit %d: %s\nprofile:\n%s", r.exit_code, r.err,
                 written ? written : "(none)");
    free(written);
    gp_proc_result_free(&r);
    r = tu_run_bin("gpenlab-worker", NULL,
                   (const char *const[]){"profile", "--out", out, "--backend", "cpu", "--processes",
                                         "2", "--eff-mix", bad_mix, NULL},
                   NULL);
    if (r.exit_code != 1 || !strstr(r.err, "bad.csv:3: mp: expected"))
        fail_msg("a bad --eff-mix: exit %d: %s", r.exit_code, r.err);
    gp_proc_result_free(&r);
    static const char *const bad[][3] = {
        {"--processes", "9"}, {"--processes", "-1"}, {"--prewarm-mp", "1.5,x"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = tu_run_bin("gpenlab-worker", NULL,
                       (const char *const[]){"profile", "--out", out, "--backend", "cpu", bad[i][0],
                                             bad[i][1], NULL},
                       NULL);
        if (r.exit_code != 2)
            fail_msg("%s %s: want exit 2, got %d: %s", bad[i][0], bad[i][1], r.exit_code, r.err);
        gp_proc_result_free(&r);
    }
    assert_int_equal(tu_rm_rf(tmp), 0);
}

/* Each program's options through the one parser: an unknown option and a bad value are
 * one line naming the option, exit 2; --help prints the usage on stdout, exit 0. */
static void test_options(void **state)
{
    (void)state;
    static const struct {
        const char *prog, *args[8];
        int rc;
        const char *out; /* all it prints (stderr and stdout), exactly; or its start for --help */
    } cases[] = {
        {"gpenlab-worker", {"--bogus", "1"}, 2, "gpenlab-worker: unknown option \"--bogus\"\n"},
        {"gpenlab-worker",
         {"serve", "--concurrency", "0"},
         2,
         "gpenlab-worker: --concurrency: expected an integer in [1, 64], got \"0\"\n"},
        {"gpenlab-worker",
         {"--redis", "127.0.0.1"},
         2,
         "gpenlab-worker: --redis: expected HOST:PORT with a port in 1..65535, got "
         "\"127.0.0.1\"\n"},
        {"gpenlab-worker",
         {"--cpu-px-scale", "2"},
         2,
         "gpenlab-worker: --cpu-px-scale: expected a fraction in (0, 1], got \"2\"\n"},
        {"gpenlab-worker",
         {"--heartbeat-ms", "800", "--dead-after-ms", "500"},
         2,
         "gpenlab-worker: --dead-after-ms: must exceed --heartbeat-ms (800)\n"},
        {"gpenlab-worker",
         {"serve", "extra"},
         2,
         "gpenlab-worker: unexpected argument \"extra\"\n"},
        {"gpenlab-worker", {"--block-ms"}, 2, "gpenlab-worker: --block-ms: needs a value\n"},
        {"gpenlab-worker", {"--help"}, 0, "usage: gpenlab-worker [serve]"},
        {"gpenlab-worker",
         {"reap", "--id", "w1"},
         2,
         "gpenlab-worker reap: unknown option \"--id\"\n"},
        {"gpenlab-worker",
         {"reap", "--prefix", ""},
         2,
         "gpenlab-worker reap: --prefix: expected a key prefix (1..63 characters), got \"\"\n"},
        {"gpenlab-worker",
         {"profile", "--out", "p", "--bogus"},
         2,
         "gpenlab-worker profile: unknown option \"--bogus\"\n"},
        {"gpenlab-worker",
         {"profile", "--out", "p", "--reps", "0"},
         2,
         "gpenlab-worker profile: --reps: expected an integer in [1, 50], got \"0\"\n"},
        {"gpenlab-worker",
         {"profile", "--out", "p", "--prewarm-mp", "1.5,x"},
         2,
         "gpenlab-worker profile: --prewarm-mp: expected up to 32 sizes in (0, 200] MP, "
         "comma-separated, got "
         "\"1.5,x\"\n"},
        {"gpenlab-worker",
         {"profile", "--reps", "2"},
         2,
         "gpenlab-worker profile: --out: required (the profile to write)\n"},
        {"gpenlab-worker", {"profile", "--help"}, 0, "usage: gpenlab-worker profile --out FILE"},
        {"gpenlab-loadgen",
         {"replay", "a.csv", "--bogus"},
         2,
         "gpenlab-loadgen replay: unknown option \"--bogus\"\n"},
        {"gpenlab-loadgen",
         {"replay", "a.csv", "--time-scale", "0"},
         2,
         "gpenlab-loadgen replay: --time-scale: expected a number > 0, got \"0\"\n"},
        {"gpenlab-loadgen",
         {"replay", "a.csv", "--limit=-1"},
         2,
         "gpenlab-loadgen replay: --limit: expected an integer in [0, 100000000], got \"-1\"\n"},
        {"gpenlab-loadgen",
         {"check"},
         2,
         "gpenlab-loadgen check: which arrivals file? (gpenlab-loadgen --help)\n"},
        {"gpenlab-loadgen",
         {"check", "a.csv", "b.csv"},
         2,
         "gpenlab-loadgen check: unexpected argument \"b.csv\"\n"},
        {"gpenlab-loadgen",
         {"play", "a.csv"},
         2,
         "gpenlab-loadgen: unknown command \"play\" (replay, check, expand)\n"},
        {"gpenlab-loadgen", {"--help"}, 0, "usage: gpenlab-loadgen replay ARRIVALS.csv"},
        {"gpenlab-loadgen-full",
         {"expand", "w.yaml", "--out", "a.csv", "--mp-step", "-1"},
         2,
         "gpenlab-loadgen expand: --mp-step: expected a number >= 0, got \"-1\"\n"},
        {"gpenlab-loadgen-full",
         {"expand", "w.yaml", "--out", "a.csv", "--seeds", "1"},
         2,
         "gpenlab-loadgen expand: unknown option \"--seeds\"\n"},
        {"gpenlab-promlite",
         {"serve", "--bogus"},
         2,
         "gpenlab-promlite serve: unknown option \"--bogus\"\n"},
        {"gpenlab-promlite",
         {"serve", "--scrape-ms", "10"},
         2,
         "gpenlab-promlite serve: --scrape-ms: expected an integer in [50, 3600000], got \"10\"\n"},
        {"gpenlab-promlite",
         {"serve", "--namespace", "a\"b"},
         2,
         "gpenlab-promlite serve: --namespace: expected a namespace (1..63 characters, none of \" "
         "\\ { }), got "
         "\"a\"b\"\n"},
        {"gpenlab-promlite",
         {"dump-workers"},
         2,
         "gpenlab-promlite dump-workers: --out: required (the CSV to write)\n"},
        {"gpenlab-promlite", {"serve", "--help"}, 0, "usage: gpenlab-promlite serve"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gp_proc_result r =
            tu_run_bin(cases[i].prog, NULL, cases[i].args, &(gp_proc_spec){.err = GP_PROC_STDOUT});
        const char *out = r.out ? r.out : "";
        bool same = cases[i].rc == 0 ? strncmp(out, cases[i].out, strlen(cases[i].out)) == 0
                                     : strcmp(out, cases[i].out) == 0;
        char words[256];
        if (r.exit_code != cases[i].rc || !same)
            fail_msg("%s %s: exit %d (want %d), printed \"%s\", want \"%s\"", cases[i].prog,
                     tu_words(cases[i].args, words, sizeof(words)), r.exit_code, cases[i].rc, out,
                     cases[i].out);
        gp_proc_result_free(&r);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_format),
        cmocka_unit_test(test_profile_processes),
        cmocka_unit_test(test_options),
        cmocka_unit_test_setup_teardown(test_every_request_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loadgen_and_scraper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
