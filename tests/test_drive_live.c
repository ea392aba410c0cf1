/* test_drive_live.c: `gpenlab drive` against a real Redis and a real Prometheus (Debian's
 * redis-server and prometheus, started here on loopback ports; the test skips with a
 * message when they are not installed: scripts/install_live_deps.sh installs them, and
 * .ci/run calls it). Prometheus scrapes a metrics endpoint this test serves (DCGM
 * framebuffer and utilisation per pod, the service's gauges) and evaluates the recording
 * rules `gpenlab export` wrote. Two drivers, one from the exported gpen-rule drive.yaml and
 * one running an HPA, follow a scripted metric sequence; their decisions must equal those
 * of `gpenlab policy replay` (the simulator's policy code path) on the observations they
 * logged. Then Redis and Prometheus are stopped mid-run: the drivers hold, never leave
 * their bounds, and recover when the servers come back. Scale calls go to loopback fake
 * APIs that check the scale-subresource contract. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/commands.h"
#include "drive/drive.h"
#include "drive/io.h"
#include "lab/export.h"
#include "policy/replay.h"
#include "tests/live/fake_http.h"
#include "tests/testutil.h"

#define TOKEN    "live-token-5be0c1d4"
#define MAX_PODS 4

typedef struct step {
    int pods;              /* pods the metrics show (ready) */
    double mem[MAX_PODS];  /* framebuffer used fraction per pod */
    double util[MAX_PODS]; /* percent */
    int queue;             /* LLEN gpen:pending */
    double p95, samples;
} step;

/* Up on memory, latency and backlog, then back down. */
static const step script[] = {
    {1, {0.30}, {20}, 0, 1.0, 12},
    {1, {0.92}, {95}, 9, 5.5, 20},
    {2, {0.90, 0.88}, {97, 96}, 14, 6.0, 25},
    {2, {0.91, 0.93}, {99, 98}, 16, 6.5, 25},
    {3, {0.80, 0.85, 0.70}, {90, 92, 85}, 10, 5.0, 30},
    {4, {0.50, 0.45, 0.40, 0.35}, {50, 45, 40, 30}, 3, 2.0, 30},
    {4, {0.20, 0.15, 0.10, 0.10}, {10, 8, 5, 5}, 0, 0.8, 20},
    {4, {0.10, 0.10, 0.10, 0.10}, {5, 5, 5, 5}, 0, 0.6, 10},
    {3, {0.10, 0.10, 0.10}, {5, 5, 5}, 0, 0.6, 5},
    {3, {0.05, 0.05, 0.05}, {1, 1, 1}, 0, 0.5, 3},
};
#define N_STEPS (int)(sizeof(script) / sizeof(script[0]))

typedef struct live {
    char dir[64];
    char token_path[160];
    int redis_port, prom_port;
    gp_proc *redis, *prom;
    fake_http metrics;
    int cur_step; /* what the metrics endpoint serves (under metrics' mutex) */
    fake_http api[2];
    fake_kube kube[2];
} live;

static void metrics_handler(void *ctx, const fake_req *req, fake_rep *rep)
{
    live *l = ctx;
    (void)req;
    const step *s = &script[l->cur_step];
    rep->status = 200;
    snprintf(rep->content_type, sizeof(rep->content_type), "text/plain; version=0.0.4");
    char *b = rep->body;
    size_t n = sizeof(rep->body), o = 0;
    o += (size_t)snprintf(b + o, n - o, "gpen_test_step{namespace=\"gpen\"} %d\n", l->cur_step);
    const double total_mib = 15360;
    for (int p = 0; p < s->pods; p++) {
        const char *lab = "namespace=\"gpen\",pod=\"gpen-%c\",gpu=\"0\"";
        char labels[96];
        snprintf(labels, sizeof(labels), lab, 'a' + p);
        double used = total_mib * s->mem[p];
        o += (size_t)snprintf(b + o, n - o,
                              "DCGM_FI_DEV_FB_USED{%s} %.17g\nDCGM_FI_DEV_FB_FREE{%s} %.17g\n"
                              "DCGM_FI_DEV_GPU_UTIL{%s} %.17g\n"
                              "gpen_requests_in_flight{%s} %d\ngpen_concurrency{%s} %d\n",
                              labels, used, labels, total_mib - used, labels, s->util[p], labels,
                              (int)(s->util[p] / 20), labels, (int)(s->util[p] / 20));
    }
    o += (size_t)snprintf(b + o, n - o,
                          "gpen_request_latency_seconds_p50{namespace=\"gpen\"} %.17g\n"
                          "gpen_request_latency_seconds_p95{namespace=\"gpen\"} %.17g\n"
                          "gpen_request_latency_seconds_p99{namespace=\"gpen\"} %.17g\n"
                          "gpen_requests_per_second{namespace=\"gpen\"} %.17g\n"
                          "gpen_latency_samples{namespace=\"gpen\"} %.17g\n",
                          s->p95 / 2, s->p95, s->p95 * 1.3, s->samples / 60, s->samples);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* SIGTERM, SIGKILL after 5 s; *p is freed and set to NULL. */
static void stop(gp_proc **p)
{
    if (!*p)
        return;
    gp_proc_stop(*p, 5000, NULL);
    gp_proc_free(*p);
    *p = NULL;
}

/* One RESP command (argv of strings), the reply's first line into out. */
static int redis_cmd(int port, int argc, const char *const *argv, char *out, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    int rc = send(fd, buf, o, MSG_NOSIGNAL) == (ssize_t)o ? 0 : -1;
    ssize_t r = rc == 0 ? recv(fd, buf, sizeof(buf) - 1, 0) : -1;
    close(fd);
    if (r <= 0)
        return -1;
    buf[r] = '\0';
    snprintf(out, len, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    return 0;
}

static void start_redis(live *l)
{
    char port[16], log[128];
    snprintf(port, sizeof(port), "%d", l->redis_port);
    snprintf(log, sizeof(log), "%s/redis.log", l->dir);
    const char *argv[] = {"redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no",     "--dir", l->dir,   NULL};
    l->redis = tu_proc_start_log(argv, log);
    char reply[64];
    const char *ping[] = {"PING"};
    for (int i = 0; i < 200; i++) {
        if (redis_cmd(l->redis_port, 1, ping, reply, sizeof(reply)) == 0 &&
            strcmp(reply, "+PONG") == 0)
            return;
        sleep_ms(25);
    }
    fail_msg("redis-server did not start on 127.0.0.1:%d (see %s)", l->redis_port, log);
}

static void set_queue(live *l, int n)
{
    char reply[64];
    const char *del[] = {"DEL", "gpen:pending"};
    assert_int_equal(redis_cmd(l->redis_port, 2, del, reply, sizeof(reply)), 0);
    for (int i = 0; i < n; i++) {
        const char *push[] = {"RPUSH", "gpen:pending", "job"};
        assert_int_equal(redis_cmd(l->redis_port, 3, push, reply, sizeof(reply)), 0);
    }
}

/* Prometheus with the exported recording rules, evaluated every second. */
static void start_prometheus(live *l)
{
    char cfg[128], addr[64], data[128], log[128], url[96];
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", l->dir);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", l->prom_port);
    snprintf(data, sizeof(data), "%s/tsdb", l->dir);
    snprintf(log, sizeof(log), "%s/prometheus.log", l->dir);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/ready", l->prom_port);
    char cfgflag[160], dataflag[160], addrflag[96];
    snprintf(cfgflag, sizeof(cfgflag), "--config.file=%s", cfg);
    snprintf(dataflag, sizeof(dataflag), "--storage.tsdb.path=%s", data);
    snprintf(addrflag, sizeof(addrflag), "--web.listen-address=%s", addr);
    const char *argv[] = {"prometheus", cfgflag, dataflag, addrflag, "--log.level=warn", NULL};
    l->prom = tu_proc_start_log(argv, log);
    for (int i = 0; i < 600; i++) {
        http_resp r;
        if (http_do("GET", url, NULL, NULL, NULL, 500000, &r) == 0 && r.status == 200) {
            http_resp_free(&r);
            return;
        }
        http_resp_free(&r);
        sleep_ms(50);
    }
    fail_msg("prometheus did not get ready on %s (see %s)", addr, log);
}

/* Waits until Prometheus has scraped step k and evaluated the rules on it. */
static void wait_step(live *l, int k)
{
    char base[64], why[256];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", l->prom_port);
    for (int i = 0; i < 400; i++) {
        char *url = prom_query_url(base, "max(gpen_test_step_rec)");
        http_resp r;
        prom_sample *s = NULL;
        size_t n = 0;
        bool at = url && http_do("GET", url, NULL, NULL, NULL, 1000000, &r) == 0 &&
                  prom_parse(&r, "step", false, &s, &n, why, sizeof(why)) == 0 && n == 1 &&
                  !s[0].refused && (int)s[0].value == k;
        if (url)
            http_resp_free(&r);
        free(url);
        free(s);
        if (at) /* and the scrape after it carries the same values: nothing changes until the tick */
            return;
        sleep_ms(50);
    }
    fail_msg("prometheus never showed step %d", k);
}

static int setup(void **state)
{
    if (!tu_have_cmd("redis-server") || !tu_have_cmd("prometheus")) {
        print_message("SKIP live tests: redis-server and prometheus are not installed "
                      "(scripts/install_live_deps.sh installs them; .ci/run calls it)\n");
        *state = NULL;
        return 0;
    }
    live *l = calloc(1, sizeof(*l));
    snprintf(l->dir, sizeof(l->dir), "/tmp/gpenlab-live-XXXXXX");
    if (!mkdtemp(l->dir))
        return -1;
    snprintf(l->token_path, sizeof(l->token_path), "%s/token", l->dir);
    FILE *f = fopen(l->token_path, "w");
    fprintf(f, "%s\n", TOKEN);
    fclose(f);
    chmod(l->token_path, 0600); /* the driver refuses a credential others can read */
    if (fake_http_start(&l->metrics, metrics_handler, l) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        snprintf(l->kube[i].ns, sizeof(l->kube[i].ns), "gpen");
        snprintf(l->kube[i].name, sizeof(l->kube[i].name), "gpen");
        snprintf(l->kube[i].token, sizeof(l->kube[i].token), TOKEN);
        l->kube[i].replicas = 1;
        l->kube[i].ready = 1;
        if (fake_http_start(&l->api[i], fake_kube_handler, &l->kube[i]) < 0)
            return -1;
    }
    l->redis_port = fake_free_port();
    l->prom_port = fake_free_port();
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    live *l = *state;
    if (!l)
        return 0;
    stop(&l->prom);
    stop(&l->redis);
    fake_http_stop(&l->metrics);
    for (int i = 0; i < 2; i++)
        fake_http_stop(&l->api[i]);
    if (!getenv("GPENLAB_KEEP_LIVE"))
        tu_rm_rf(l->dir);
    free(l);
    return 0;
}

/* Replaces the first `from` in *text by `to` (reallocates). */
static void replace(char **text, const char *from, const char *to)
{
    char *at = strstr(*text, from);
    if (!at)
        fail_msg("\"%s\" not in the exported file", from);
    size_t need = strlen(*text) - strlen(from) + strlen(to) + 1;
    char *o = malloc(need);
    snprintf(o, need, "%.*s%s%s", (int)(at - *text), *text, to, at + strlen(from));
    free(*text);
    *text = o;
}

/* The exported files, pointed at this test's servers. */
static void prepare(live *l, char *gpen_cfg, char *hpa_cfg, size_t len)
{
    char exp_dir[128], path[256];
    snprintf(exp_dir, sizeof(exp_dir), "%s/export", l->dir);
    export_opts o;
    export_opts_default(&o);
    char prom[64], redis[64];
    snprintf(prom, sizeof(prom), "http://127.0.0.1:%d", l->prom_port);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", l->redis_port);
    o.label = "gpen-rule";
    o.from = "experiments/drive_policies.yaml";
    o.out_dir = exp_dir;
    o.prometheus_url = prom;
    o.redis_address = redis;
    gp_error err;
    if (export_run(&o, NULL, &err) < 0)
        fail_msg("export: %s", err.msg);
    /* the rules every second, plus the step marker last in the group */
    snprintf(path, sizeof(path), "%s/recording-rules.yml", exp_dir);
    char *rules = tu_slurp(path);
    assert_non_null(rules);
    replace(&rules, "interval: \"15s\"", "interval: \"1s\"");
    size_t rl = strlen(rules) + 200;
    rules = realloc(rules, rl);
    /* appended at the indentation the writer gave the group's other rules */
    const char *last = strstr(rules, "- record:"), *next;
    while (last && (next = strstr(last + 1, "- record:")))
        last = next;
    assert_non_null(last);
    int indent = 0;
    while (last - indent > rules && last[-indent - 1] == ' ')
        indent++;
    snprintf(rules + strlen(rules), rl - strlen(rules),
             "%*s- record: \"gpen_test_step_rec\"\n%*s  expr: \"gpen_test_step\"\n", indent, "",
             indent, "");
    snprintf(path, sizeof(path), "%s/rules.yml", l->dir);
    tu_write_text(path, rules);
    free(rules);
    char pcfg[1024];
    snprintf(pcfg, sizeof(pcfg),
             "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
             "rule_files: [\"%s/rules.yml\"]\n"
             "scrape_configs:\n"
             "  - job_name: gpen\n"
             "    scrape_interval: 1s\n"
             "    static_configs: [{targets: [\"127.0.0.1:%d\"]}]\n",
             l->dir, l->metrics.port);
    snprintf(path, sizeof(path), "%s/prometheus.yml", l->dir);
    tu_write_text(path, pcfg);
    /* the exported drive.yaml, with this test's API instead of the in-cluster one */
    snprintf(path, sizeof(path), "%s/drive.yaml", exp_dir);
    char *drive_text = tu_slurp(path);
    assert_non_null(drive_text);
    char target[512];
    snprintf(target, sizeof(target),
             "in_cluster: false\n    api_server: \"http://127.0.0.1:%d\"\n    token_file: \"%s\"\n"
             "    retries: 2\n    backoff: 5ms",
             l->api[0].port, l->token_path);
    replace(&drive_text, "in_cluster: true", target);
    snprintf(gpen_cfg, len, "%s/gpen-rule.yaml", l->dir);
    tu_write_text(gpen_cfg, drive_text);
    free(drive_text);
    /* an HPA on the per-pod GPU memory (percent), the backlog and the P95 latency */
    char hpa[2048];
    snprintf(hpa, sizeof(hpa),
             "policy: hpa\nlabel: hpa-live\n"
             "config:\n"
             "  minReplicas: 1\n  maxReplicas: 4\n"
             "  metrics:\n"
             "  - {type: Pods, pods: {metric: {name: gpu_memory_utilization}, target: {type: "
             "AverageValue, averageValue: \"60\"}}}\n"
             "  - {type: External, external: {metric: {name: redis_list_length}, target: {type: "
             "AverageValue, averageValue: \"3\"}}}\n"
             "  - {type: External, external: {metric: {name: gpen_request_latency_seconds_p95}, "
             "target: {type: Value, value: \"4\"}}}\n"
             "  behavior: {scaleDown: {stabilizationWindowSeconds: 30}}\n"
             "bounds: {min_pods: 1, max_pods: 4}\n"
             "prometheus: {url: \"%s\", timeout: 2s}\n"
             "redis: {address: \"%s\", timeout: 1s}\n"
             "target: {kubernetes: {namespace: gpen, deployment: gpen, api_server: "
             "\"http://127.0.0.1:%d\", token_file: \"%s\", retries: 2, backoff: 5ms}}\n",
             prom, redis, l->api[1].port, l->token_path);
    snprintf(hpa_cfg, len, "%s/hpa.yaml", l->dir);
    tu_write_text(hpa_cfg, hpa);
}

static void cell(FILE *f, double v)
{
    if (v != v)
        fputs("NaN", f);
    else
        fprintf(f, "%.17g", v);
}

/* The observations a driver logged, as a replay CSV row. */
static void csv_row(FILE *f, const drive_tick_rec *r)
{
    const policy_obs *o = &r->obs;
    fprintf(f, "%.6f,%d,%d,%u", (double)o->now_us / 1e6, o->spec_replicas, o->metrics_valid ? 1 : 0,
            o->latency_samples);
    static const int order[] = {OBS_GPU_MEM_FRAC,  OBS_GPU_UTIL_FRAC, OBS_LATENCY_P50_S,
                                OBS_LATENCY_P95_S, OBS_LATENCY_P99_S, OBS_QUEUE_LEN,
                                OBS_IN_FLIGHT,     OBS_ARRIVAL_RATE,  OBS_CONCURRENCY};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        fputc(',', f);
        cell(f, o->metric[order[i]]);
    }
    fputc(',', f);
    for (int p = 0; p < o->n_pods; p++) {
        const pod_obs *po = &o->pod[p];
        fprintf(f, "%s%llu:%s", p ? ";" : "", (unsigned long long)po->pod_id,
                pod_state_name(po->state));
        if (po->state == POD_READY && !po->has_metrics) {
            fputs(":nometrics", f);
            continue;
        }
        if (po->state != POD_READY)
            continue;
        fputs(":mem=", f);
        cell(f, po->gpu_mem_frac);
        fputs(":util=", f);
        cell(f, po->gpu_util_frac);
        fputs(":inflight=", f);
        cell(f, po->in_flight);
        fputs(":conc=", f);
        cell(f, po->concurrency);
    }
    fputc('\n', f);
}

/* Replays the logged observations through `gpenlab policy replay` and compares. */
static void compare_with_replay(live *l, const char *policy, const char *config_yaml,
                                const drive_tick_rec *recs, int n, int lo, int hi)
{
    char csv[128], cfgp[128];
    snprintf(csv, sizeof(csv), "%s/%s.csv", l->dir, policy);
    snprintf(cfgp, sizeof(cfgp), "%s/%s-config.yaml", l->dir, policy);
    tu_write_text(cfgp, config_yaml);
    FILE *f = fopen(csv, "w");
    fputs("t_s,spec_replicas,metrics_valid,latency_samples,gpu_mem_frac,gpu_util_frac,p50_s,"
          "p95_s,p99_s,queue_len,in_flight,arrival_rate,concurrency,pods\n",
          f);
    for (int i = 0; i < n; i++)
        csv_row(f, &recs[i]);
    fclose(f);
    char los[16], his[16];
    snprintf(los, sizeof(los), "%d", lo);
    snprintf(his, sizeof(his), "%d", hi);
    char *argv[] = {"replay", (char *)policy, csv, "--config", cfgp, "--min",
                    los,      "--max",        his, NULL};
    char *out = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&out, &len);
    gp_error err;
    gp_error_clear(&err);
    int rc = cmd_policy_replay(9, argv, mf, &err);
    fclose(mf);
    if (rc < 0)
        fail_msg("%s: replay: %s:%ld: %s: %s", policy, err.file, err.line, err.field, err.msg);
    /* rows after the two header lines: t_s,spec_replicas,desired,applied,reason,detail */
    char *line = strchr(out, '\n');
    line = line ? strchr(line + 1, '\n') : NULL;
    int row = 0, changes = 0;
    while (line && line[1] && row < n) {
        line++;
        double t;
        int spec, desired, applied;
        char reason[64];
        if (sscanf(line, "%lf,%d,%d,%d,%63[^,]", &t, &spec, &desired, &applied, reason) != 5)
            fail_msg("%s: replay row %d unreadable: %.80s", policy, row, line);
        const drive_tick_rec *r = &recs[row];
        if (desired != r->dec.desired_pods ||
            strcmp(reason, policy_reason_name(r->dec.reason)) != 0)
            fail_msg("%s row %d (t=%g s): driver %d (%s: %s), replay %d (%s)\n%s", policy, row, t,
                     r->dec.desired_pods, policy_reason_name(r->dec.reason), r->dec.detail, desired,
                     reason, out);
        changes += r->applied != r->current;
        row++;
        line = strchr(line, '\n');
    }
    if (row != n)
        fail_msg("%s: replay printed %d rows for %d ticks", policy, row, n);
    if (changes < 2)
        fail_msg("%s: the script scaled %d times; it should exercise the policy", policy, changes);
    free(out);
}

static void test_live(void **state)
{
    live *l = *state;
    if (!l)
        skip();
    char gpen_cfg[256], hpa_cfg[256];
    prepare(l, gpen_cfg, hpa_cfg, sizeof(gpen_cfg));
    start_redis(l);
    start_prometheus(l);
    drive_cfg c[2];
    drive *d[2];
    char *logs[2] = {NULL, NULL};
    size_t log_len[2];
    FILE *logf[2];
    gp_error err;
    const char *paths[2] = {gpen_cfg, hpa_cfg};
    for (int i = 0; i < 2; i++) {
        if (drive_cfg_load(paths[i], &c[i], &err) < 0)
            fail_msg("%s: %s: %s", paths[i], err.field, err.msg);
        logf[i] = open_memstream(&logs[i], &log_len[i]);
        if (drive_open(&c[i], false, logf[i], &d[i], &err) < 0)
            fail_msg("%s: %s", paths[i], err.msg);
    }
    enum { MAX_TICKS = 32 };
    static drive_tick_rec recs[2][MAX_TICKS];
    static pod_obs pods[2][MAX_TICKS][8]; /* obs.pod is the drive's until its next tick */
    int n = 0;
    for (int k = 0; k < N_STEPS; k++) {
        fake_http_lock(&l->metrics);
        l->cur_step = k;
        fake_http_unlock(&l->metrics);
        set_queue(l, script[k].queue);
        for (int i = 0; i < 2; i++) {
            fake_http_lock(&l->api[i]);
            l->kube[i].ready =
                script[k].pods < l->kube[i].replicas ? script[k].pods : l->kube[i].replicas;
            fake_http_unlock(&l->api[i]);
        }
        wait_step(l, k);
        for (int i = 0; i < 2; i++) {
            if (drive_tick(d[i], (int64_t)(k + 1) * 15000000, &recs[i][n], &err) < 0)
                fail_msg("tick %d: %s", k, err.msg);
            if (!recs[i][n].obs.metrics_valid || recs[i][n].held)
                fail_msg("driver %d step %d: metrics not valid: %s", i, k, recs[i][n].sources);
            assert_true(recs[i][n].obs.n_pods <= 8);
            memcpy(pods[i][n], recs[i][n].obs.pod, sizeof(pod_obs) * (size_t)recs[i][n].obs.n_pods);
            recs[i][n].obs.pod = pods[i][n];
        }
        /* the observation is what the endpoint and Redis said */
        const policy_obs *o = &recs[0][n].obs;
        assert_int_equal((int)o->metric[OBS_QUEUE_LEN], script[k].queue);
        assert_true(o->metric[OBS_LATENCY_P95_S] == script[k].p95);
        double mean = 0;
        for (int p = 0; p < script[k].pods; p++)
            mean += script[k].mem[p] / script[k].pods;
        if (!(o->metric[OBS_GPU_MEM_FRAC] > mean - 1e-9 &&
              o->metric[OBS_GPU_MEM_FRAC] < mean + 1e-9))
            fail_msg("step %d: gpu_mem_frac %g want %g", k, o->metric[OBS_GPU_MEM_FRAC], mean);
        n++;
    }
    /* the same observations through the simulator's policy path */
    char *gcfg = tu_slurp(gpen_cfg);
    assert_non_null(gcfg);
    compare_with_replay(
        l, "gpen-rule",
        "{min_pods: 1, max_pods: 10, scale_up_queue_len: 6, cooldown_after_scale_up: 2m}\n",
        recs[0], n, 1, 10);
    free(gcfg);
    compare_with_replay(l, "hpa",
                        "minReplicas: 1\nmaxReplicas: 4\nmetrics:\n"
                        "- {type: Pods, pods: {metric: {name: gpu_memory_utilization}, target: "
                        "{type: AverageValue, averageValue: \"60\"}}}\n"
                        "- {type: External, external: {metric: {name: redis_list_length}, target: "
                        "{type: AverageValue, averageValue: \"3\"}}}\n"
                        "- {type: External, external: {metric: {name: "
                        "gpen_request_latency_seconds_p95}, target: {type: Value, value: \"4\"}}}\n"
                        "behavior: {scaleDown: {stabilizationWindowSeconds: 30}}\n",
                        recs[1], n, 1, 4);

    /* faults: Redis stopped mid-run, then Prometheus; hold, then recover */
    int64_t t = (int64_t)(n + 1) * 15000000;
    fake_http_lock(&l->metrics);
    l->cur_step = 1; /* metrics that would scale up */
    fake_http_unlock(&l->metrics);
    wait_step(l, 1);
    stop(&l->redis);
    for (int i = 0; i < 2; i++) {
        int before = l->kube[i].patches, replicas = l->kube[i].replicas;
        drive_tick_rec r;
        assert_int_equal(drive_tick(d[i], t, &r, &err), 0);
        if (!r.held || r.obs.metrics_valid || !strstr(r.sources, "redis down"))
            fail_msg("driver %d with Redis stopped: held %d sources %s", i, r.held, r.sources);
        assert_int_equal(l->kube[i].patches, before);
        assert_int_equal(l->kube[i].replicas, replicas);
    }
    t += 15000000;
    start_redis(l);
    set_queue(l, 9);
    for (int i = 0; i < 2; i++) {
        drive_tick_rec r;
        assert_int_equal(drive_tick(d[i], t, &r, &err), 0);
        if (r.held || !r.obs.metrics_valid)
            fail_msg("driver %d after Redis came back: %s", i, r.sources);
    }
    t += 15000000;
    stop(&l->prom);
    for (int i = 0; i < 2; i++) {
        int before = l->kube[i].patches;
        drive_tick_rec r;
        assert_int_equal(drive_tick(d[i], t, &r, &err), 0);
        if (!r.held || !strstr(r.sources, "prometheus down"))
            fail_msg("driver %d with Prometheus stopped: %s", i, r.sources);
        assert_int_equal(l->kube[i].patches, before);
    }
    t += 15000000;
    start_prometheus(l);
    wait_step(l, 1);
    for (int i = 0; i < 2; i++) {
        drive_tick_rec r;
        assert_int_equal(drive_tick(d[i], t, &r, &err), 0);
        if (r.held || !r.obs.metrics_valid)
            fail_msg("driver %d after Prometheus came back: %s", i, r.sources);
    }
    for (int i = 0; i < 2; i++) {
        drive_close(d[i]);
        drive_cfg_free(&c[i]);
        fclose(logf[i]);
        if (strstr(logs[i], TOKEN))
            fail_msg("driver %d logged the token", i);
        if (!strstr(logs[i], "\"held\":true") || !strstr(logs[i], "redis down"))
            fail_msg("driver %d: the log does not say it held", i);
        free(logs[i]);
        /* never outside the bounds, always the scale contract */
        int hi = i == 0 ? 10 : 4;
        for (int p = 0; p < l->kube[i].n_patched; p++)
            if (l->kube[i].patched[p] < 1 || l->kube[i].patched[p] > hi)
                fail_msg("driver %d asked for %d replicas", i, l->kube[i].patched[p]);
        if (l->kube[i].contract_violations)
            fail_msg("driver %d: %s", i, l->kube[i].violation);
        assert_true(l->kube[i].patches_ok >= 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
