/* test_drive.c: `gpenlab drive` without real servers: the config's refusals; the scale
 * subresource contract against a loopback fake API (method, path, content type, body,
 * token); retries with backoff on 500 and 409; malformed JSON from the API and from a
 * fake Prometheus; a metrics source that is down; the bounds; dry run; the command target;
 * the token never in the log; SIGTERM ending `gpenlab drive` cleanly. The same policy
 * code as the simulator (policy_find). Real Redis and Prometheus: test_drive_live.c. */
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
#include <jansson.h>
#include <math.h>

#include "base/ytree.h"
#include "cli/commands.h"
#include "drive/drive.h"
#include "drive/io.h"
#include "lab/experiment.h"
#include "lab/export.h"
#include "policy/replay.h"
#include "tests/live/fake_http.h"
#include "tests/live/fake_resp.h"
#include "tests/testutil.h"

#define TOKEN           "test-token-9f3a1c77e2"
/* The timeout on fakes that answer at once: these tests are about what comes back, not
 * when, and 1 s ran out under valgrind on a loaded machine ("Connection timed out after
 * 1240 milliseconds" in test_metrics_faults_hold). Tests of timeouts set their own. */
#define ANSWERS_TIMEOUT "30s"

typedef struct world {
    char dir[64];
    char token_path[128];
    fake_http api;
    fake_kube kube;
    fake_http prom; /* a fake Prometheus answering whatever `prom_body` says */
    int prom_status;
    char prom_body[2048];
    char *log;
    size_t log_len;
    FILE *logf;
    drive_cfg cfgs[8]; /* the configs of open_kube's drives: they outlive them */
    int n_cfgs;
} world;

static void prom_handler(void *ctx, const fake_req *req, fake_rep *rep)
{
    world *w = ctx;
    (void)req;
    rep->status = w->prom_status;
    snprintf(rep->body, sizeof(rep->body), "%s", w->prom_body);
}

static int setup(void **state)
{
    world *w = calloc(1, sizeof(*w));
    snprintf(w->dir, sizeof(w->dir), "/tmp/gpenlab-drive-XXXXXX");
    if (!mkdtemp(w->dir))
        return -1;
    snprintf(w->token_path, sizeof(w->token_path), "%s/token", w->dir);
    FILE *f = fopen(w->token_path, "w");
    fprintf(f, "%s\n", TOKEN);
    fclose(f);
    chmod(w->token_path, 0600); /* the driver refuses a credential others can read */
    snprintf(w->kube.ns, sizeof(w->kube.ns), "gpen");
    snprintf(w->kube.name, sizeof(w->kube.name), "gpen");
    snprintf(w->kube.token, sizeof(w->kube.token), TOKEN);
    w->kube.replicas = 1;
    w->kube.ready = 1;
    if (fake_http_start(&w->api, fake_kube_handler, &w->kube) < 0)
        return -1;
    w->prom_status = 200;
    snprintf(w->prom_body, sizeof(w->prom_body),
             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
    if (fake_http_start(&w->prom, prom_handler, w) < 0)
        return -1;
    w->logf = open_memstream(&w->log, &w->log_len);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    fake_http_stop(&w->api);
    fake_http_stop(&w->prom);
    fclose(w->logf);
    for (int i = 0; i < w->n_cfgs; i++)
        drive_cfg_free(&w->cfgs[i]);
    /* the token must never reach the log */
    int leaked = w->log && strstr(w->log, TOKEN) != NULL;
    free(w->log);
    tu_rm_rf(w->dir);
    free(w);
    if (leaked) {
        fprintf(stderr, "the token appeared in the driver's log\n");
        return -1;
    }
    return 0;
}

/* Writes a config: `policy_part` (policy/config/bounds lines) and a target/metrics part. */
static void write_cfg(const world *w, const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", w->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A driver from a config text written to w's directory as name; the config lives in w
 * (freed with it), the caller closes the driver. */
static drive *open_cfg_text(world *w, const char *name, const char *text, bool dry)
{
    char path[256];
    write_cfg(w, name, text, path, sizeof(path));
    assert_true(w->n_cfgs < 8);
    drive_cfg *c = &w->cfgs[w->n_cfgs++];
    gp_error err;
    if (drive_cfg_load(path, c, &err) < 0)
        fail_msg("config: %s: %s", err.field, err.msg);
    drive *d;
    if (drive_open(c, dry, w->logf, &d, &err) < 0)
        fail_msg("open: %s", err.msg);
    return d;
}

static drive *open_kube(world *w, const char *policy_part, bool dry)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "%s\n"
             "target:\n"
             "  kubernetes:\n"
             "    namespace: gpen\n"
             "    deployment: gpen\n"
             "    api_server: http://127.0.0.1:%d\n"
             "    token_file: %s\n"
             "    retries: 3\n"
             "    backoff: 1ms\n"
             "    timeout: " ANSWERS_TIMEOUT "\n",
             policy_part, w->api.port, w->token_path);
    return open_cfg_text(w, "kube.yaml", text, dry);
}

static void tick(drive *d, int64_t t_s, drive_tick_rec *rec)
{
    gp_error err;
    if (drive_tick(d, t_s * 1000000, rec, &err) < 0)
        fail_msg("tick at %lld s: %s", (long long)t_s, err.msg);
}

static void assert_bounds(const world *w, int lo, int hi)
{
    for (int i = 0; i < w->kube.n_patched; i++)
        if (w->kube.patched[i] < lo || w->kube.patched[i] > hi)
            fail_msg("PATCH %d asked for %d replicas, outside [%d, %d]", i, w->kube.patched[i], lo,
                     hi);
    if (w->kube.contract_violations)
        fail_msg("scale contract violated: %s", w->kube.violation);
}

static void test_config_refusals(void **state)
{
    world *w = *state;
    static const struct {
        const char *name, *text;
        int code;
        const char *msg;
    } rows[] = {
        {"unknown key", "policy: static\nsync_perod: 15s\n", GP_EUNKNOWN, "sync_period"},
        {"unknown policy", "policy: hpx\n", GP_EUNKNOWN, "unknown policy"},
        {"min above max", "policy: static\nbounds: {min_pods: 5, max_pods: 2}\n", GP_ERANGE,
         "above max_pods"},
        {"command without {replicas}", "policy: static\ntarget: {command: {run: \"true\"}}\n",
         GP_EPARSE, "{replicas}"},
        {"plain http to a remote API",
         "policy: static\ntarget: {kubernetes: {deployment: g, api_server: "
         "\"http://10.0.0.1:80\"}}\n",
         GP_ENOTSUP, "https"},
        {"plain http to a host named like loopback",
         "policy: static\ntarget: {kubernetes: {deployment: g, api_server: "
         "\"http://localhost.example.com\"}}\n",
         GP_ENOTSUP, "https"},
        {"both targets",
         "policy: static\ntarget: {kubernetes: {deployment: g}, command: {run: \"x "
         "{replicas}\"}}\n",
         GP_EPARSE, "not both"},
        {"prometheus without scheme", "policy: static\nprometheus: {url: \"localhost:9090\"}\n",
         GP_EPARSE, "http"},
        {"bad redis address", "policy: static\nredis: {address: \"host:99999\"}\n", GP_EPARSE,
         "host:port"},
        {"unknown query name",
         "policy: static\nprometheus: {url: \"http://127.0.0.1:1\", queries: {p96_s: x}}\n",
         GP_EUNKNOWN, "p96_s"},
        /* issue 13: names go into API paths ("../" reached a Secret with the token) */
        {"deployment with ../",
         "policy: static\ntarget: {kubernetes: {deployment: "
         "\"../../../api/v1/namespaces/gpen/secrets/tok\"}}\n",
         GP_EPARSE, "RFC 1123"},
        {"deployment with a slash",
         "policy: static\ntarget: {kubernetes: {deployment: \"gpen/scale\"}}\n", GP_EPARSE,
         "RFC 1123"},
        {"deployment in capitals", "policy: static\ntarget: {kubernetes: {deployment: Gpen}}\n",
         GP_EPARSE, "RFC 1123"},
        {"deployment with an empty label",
         "policy: static\ntarget: {kubernetes: {deployment: \"a..b\"}}\n", GP_EPARSE, "RFC 1123"},
        {"namespace with a dot",
         "policy: static\ntarget: {kubernetes: {deployment: g, namespace: \"a.b\"}}\n", GP_EPARSE,
         "RFC 1123"},
        {"namespace with a quote (PromQL)",
         "policy: static\ntarget: {kubernetes: {deployment: g, namespace: \"x\\\"}\"}}\n",
         GP_EPARSE, "RFC 1123"},
        /* URLs as libcurl parses them */
        {"plain http, scheme in capitals",
         "policy: static\ntarget: {kubernetes: {deployment: g, api_server: "
         "\"HTTP://10.0.0.1:80\"}}\n",
         GP_ENOTSUP, "https"},
        {"loopback only in the fragment",
         "policy: static\ntarget: {kubernetes: {deployment: g, api_server: "
         "\"http://0.0.0.0:18443#@127.0.0.1/\"}}\n",
         GP_ENOTSUP, "https"},
        {"prometheus token over plain http",
         "policy: static\nprometheus: {url: \"http://10.0.0.1:9090\", token_file: /x}\n",
         GP_ENOTSUP, "https"},
        {"prometheus over ftp", "policy: static\nprometheus: {url: \"ftp://127.0.0.1/\"}\n",
         GP_EPARSE, "http"},
        /* the scale command */
        {"command with an open quote",
         "policy: static\ntarget: {command: {run: \"pool.sh '{replicas}\"}}\n", GP_EPARSE, "quote"},
        {"pass_env with a bad name",
         "policy: static\ntarget: {command: {run: \"pool.sh {replicas}\", pass_env: [\"A=B\"]}}\n",
         GP_EPARSE, "environment variable name"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256];
        write_cfg(w, "bad.yaml", rows[i].text, path, sizeof(path));
        drive_cfg c;
        gp_error err;
        gp_error_clear(&err);
        int rc = drive_cfg_load(path, &c, &err);
        drive_cfg_free(&c);
        char line[1200];
        gp_error_format(&err, line, sizeof(line));
        if (rc != rows[i].code)
            fail_msg("%s: got %d want %d (%s)", rows[i].name, rc, rows[i].code, line);
        if (!strstr(line, rows[i].msg))
            fail_msg("%s: \"%s\" lacks \"%s\"", rows[i].name, line, rows[i].msg);
    }
    /* a per-request policy has no replica count to drive */
    char path[256];
    write_cfg(w, "sl.yaml", "policy: serverless\n", path, sizeof(path));
    drive_cfg c;
    gp_error err;
    assert_int_equal(drive_cfg_load(path, &c, &err), 0);
    drive *d;
    assert_int_equal(drive_open(&c, false, NULL, &d, &err), GP_ENOTSUP);
    drive_cfg_free(&c);
    /* in-cluster credentials outside a pod, a kubeconfig that is not there */
    unsetenv("KUBERNETES_SERVICE_HOST");
    static const struct {
        const char *name, *text, *msg;
    } open_rows[] = {
        {"in_cluster outside a pod",
         "policy: static\ntarget: {kubernetes: {deployment: g, in_cluster: true}}\n",
         "KUBERNETES_SERVICE_HOST"},
        {"missing kubeconfig",
         "policy: static\ntarget: {kubernetes: {deployment: g, kubeconfig: /nonexistent/kc}}\n",
         "kubeconfig"},
    };
    for (size_t i = 0; i < sizeof(open_rows) / sizeof(open_rows[0]); i++) {
        write_cfg(w, "open.yaml", open_rows[i].text, path, sizeof(path));
        assert_int_equal(drive_cfg_load(path, &c, &err), 0);
        int rc = drive_open(&c, false, NULL, &d, &err);
        drive_cfg_free(&c);
        if (rc != GP_EIO || !strstr(err.msg, open_rows[i].msg))
            fail_msg("%s: got %d \"%s\"", open_rows[i].name, rc, err.msg);
    }
    /* credentials others can read are refused, saying why; the same files at 0600 pass */
    char tok[300], kc[300], text[1024];
    snprintf(tok, sizeof(tok), "%s/open_token", w->dir);
    snprintf(kc, sizeof(kc), "%s/kc", w->dir);
    FILE *f = fopen(tok, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", TOKEN);
    fclose(f);
    f = fopen(kc, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            "clusters: [{name: k, cluster: {server: \"https://127.0.0.1:1\"}}]\n"
            "users: [{name: u, user: {token: %s}}]\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\n",
            TOKEN);
    fclose(f);
    static const struct {
        const char *name;
        int mode;
        bool use_kubeconfig;
    } cred_rows[] = {
        {"token file 0644", 0644, false},
        {"token file 0660", 0660, false},
        {"kubeconfig 0640", 0640, true},
        {"kubeconfig 0604", 0604, true},
    };
    for (size_t i = 0; i < sizeof(cred_rows) / sizeof(cred_rows[0]); i++) {
        const char *file = cred_rows[i].use_kubeconfig ? kc : tok;
        assert_int_equal(chmod(file, (mode_t)cred_rows[i].mode), 0);
        if (cred_rows[i].use_kubeconfig)
            snprintf(text, sizeof(text),
                     "policy: static\ntarget: {kubernetes: {deployment: g, kubeconfig: \"%s\"}}\n",
                     kc);
        else
            snprintf(text, sizeof(text),
                     "policy: static\ntarget: {kubernetes: {deployment: g, api_server: "
                     "\"https://127.0.0.1:1\", token_file: \"%s\"}}\n",
                     tok);
        write_cfg(w, "cred.yaml", text, path, sizeof(path));
        assert_int_equal(drive_cfg_load(path, &c, &err), 0);
        int rc = drive_open(&c, false, NULL, &d, &err);
        drive_cfg_free(&c);
        if (rc >= 0)
            drive_close(d);
        if (rc != GP_EIO || !strstr(err.msg, "open to group or others") || !strstr(err.msg, file))
            fail_msg("%s: got %d \"%s\"", cred_rows[i].name, rc, err.msg);
        if (strstr(err.msg, TOKEN))
            fail_msg("%s: the token is in the message", cred_rows[i].name);
        assert_int_equal(chmod(file, 0600), 0);
        assert_int_equal(drive_cfg_load(path, &c, &err), 0);
        rc = drive_open(&c, false, NULL, &d, &err);
        drive_cfg_free(&c);
        if (rc < 0)
            fail_msg("%s at 0600: refused: %s", cred_rows[i].name, err.msg);
        drive_close(d);
    }
}

/* The scale contract, the bounds (static 3 -> 3, static 50 -> max 6), dry run. */
static void test_scale_contract_and_bounds(void **state)
{
    world *w = *state;
    drive_tick_rec rec;
    drive *d = open_kube(w, "policy: static\nconfig: {pods: 3}\nbounds: {min_pods: 1, max_pods: 6}",
                         false);
    tick(d, 0, &rec);
    assert_int_equal(rec.current, 1);
    assert_int_equal(rec.dec.desired_pods, 3);
    assert_int_equal(rec.applied, 3);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 3);
    assert_int_equal(w->kube.patches_ok, 1);
    tick(d, 15, &rec); /* already there: no call */
    assert_string_equal(rec.action, "none");
    assert_int_equal(w->kube.patches, 1);
    drive_close(d);
    d = open_kube(w, "policy: static\nconfig: {pods: 50}\nbounds: {min_pods: 1, max_pods: 6}",
                  false);
    tick(d, 30, &rec);
    assert_int_equal(rec.dec.desired_pods, 50);
    assert_int_equal(rec.applied, 6);
    assert_int_equal(w->kube.replicas, 6);
    drive_close(d);
    d = open_kube(w, "policy: static\nconfig: {pods: 0}\nbounds: {min_pods: 2, max_pods: 6}", true);
    tick(d, 45, &rec);
    assert_int_equal(rec.applied, 2);
    assert_string_equal(rec.action, "dry-run");
    assert_int_equal(w->kube.replicas, 6); /* dry run: nothing sent */
    assert_int_equal(w->kube.patches, 2);
    drive_close(d);
    assert_bounds(w, 1, 6);
    /* one JSON line per tick, with its inputs */
    fflush(w->logf);
    assert_non_null(strstr(w->log, "\"inputs\":{"));
    assert_non_null(strstr(w->log, "\"action\":\"dry-run\""));
}

/* 500s and 409s are retried with backoff; past the retries the tick fails and the count
 * stays; malformed JSON from the API is retried, then held. */
static void test_api_faults(void **state)
{
    world *w = *state;
    drive_tick_rec rec;
    w->kube.replicas = 2;
    w->kube.fail_patch_500 = 2;
    drive *d = open_kube(w, "policy: static\nconfig: {pods: 4}\nbounds: {min_pods: 1, max_pods: 6}",
                         false);
    tick(d, 0, &rec);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 4);
    assert_int_equal(w->kube.patches, 3);  /* 500, 500, 200 */
    assert_int_equal(rec.attempts, 1 + 3); /* one GET, three PATCHes */
    drive_close(d);

    w->kube.fail_patch_409 = 1;
    d = open_kube(w, "policy: static\nconfig: {pods: 5}\nbounds: {min_pods: 1, max_pods: 6}",
                  false);
    tick(d, 15, &rec);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 5);

    w->kube.fail_patch_500 = 100; /* more than the retries */
    drive_close(d);
    d = open_kube(w, "policy: static\nconfig: {pods: 2}\nbounds: {min_pods: 1, max_pods: 6}",
                  false);
    int before = w->kube.patches;
    tick(d, 30, &rec);
    assert_string_equal(rec.action, "failed");
    assert_int_equal(w->kube.patches - before, 4); /* 1 + 3 retries */
    assert_int_equal(w->kube.replicas, 5);
    assert_non_null(strstr(rec.sources, "HTTP 500"));
    w->kube.fail_patch_500 = 0;
    tick(d, 45, &rec); /* recovers at the next tick */
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 2);

    w->kube.fail_get_garbage = 1; /* retried */
    tick(d, 60, &rec);
    assert_true(rec.decided);
    assert_int_equal(rec.current, 2);
    w->kube.fail_get_garbage = 100; /* past the retries: the count is unknown, hold */
    tick(d, 75, &rec);
    assert_false(rec.decided);
    assert_true(rec.held);
    assert_string_equal(rec.action, "hold");
    assert_non_null(strstr(rec.sources, "malformed JSON"));
    w->kube.fail_get_garbage = 0;
    drive_close(d);
    assert_bounds(w, 1, 6);
}

/* A metrics source that is down or answers garbage: hold the count and say so. */
static void test_metrics_faults_hold(void **state)
{
    world *w = *state;
    static const struct {
        const char *name;
        int status;
        const char *body;
        const char *why;
    } rows[] = {
        {"malformed JSON", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vec",
         "malformed JSON"},
        {"error status", 422,
         "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}",
         "parse error"},
        {"a sample that is not a number", 200,
         "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
         "\"value\":[1,\"fast\"]}]}}",
         "malformed sample"},
        {"two series for a cluster query", 200,
         "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
         "\"a\":\"1\"},\"value\":[1,\"1\"]},{\"metric\":{\"a\":\"2\"},\"value\":[1,\"2\"]}]}}",
         "expected one"},
    };
    char part[512];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 5}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT "}",
             w->prom.port);
    w->kube.replicas = 2;
    drive *d = open_kube(w, part, false);
    drive_tick_rec rec;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fake_http_lock(&w->prom);
        w->prom_status = rows[i].status;
        snprintf(w->prom_body, sizeof(w->prom_body), "%s", rows[i].body);
        fake_http_unlock(&w->prom);
        int patches = w->kube.patches;
        tick(d, (int64_t)i * 15, &rec);
        if (!rec.held || rec.obs.metrics_valid || strcmp(rec.action, "hold") != 0)
            fail_msg("%s: not held (action %s)", rows[i].name, rec.action);
        if (!strstr(rec.sources, rows[i].why))
            fail_msg("%s: sources \"%s\" lack \"%s\"", rows[i].name, rec.sources, rows[i].why);
        if (w->kube.patches != patches || w->kube.replicas != 2)
            fail_msg("%s: scaled while the metrics were bad", rows[i].name);
    }
    /* a healthy answer again: the policy's count goes through */
    fake_http_lock(&w->prom);
    w->prom_status = 200;
    snprintf(w->prom_body, sizeof(w->prom_body),
             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
    fake_http_unlock(&w->prom);
    tick(d, 100, &rec);
    assert_true(rec.obs.metrics_valid);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 5);
    drive_close(d);

    /* Prometheus and Redis not listening at all */
    int dead = fake_free_port();
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 3}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT "}\n"
             "redis: {address: \"127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT "}",
             dead, dead);
    d = open_kube(w, part, false);
    tick(d, 200, &rec);
    assert_true(rec.held);
    assert_non_null(strstr(rec.sources, "prometheus down"));
    assert_non_null(strstr(rec.sources, "redis down"));
    assert_int_equal(w->kube.replicas, 5);
    drive_close(d);
    fflush(w->logf);
    assert_non_null(strstr(w->log, "\"held\":true"));
    assert_bounds(w, 1, 6);
}

/* A local process pool: the command gets the count. */
static void test_command_target(void **state)
{
    world *w = *state;
    char text[1024], out[160];
    snprintf(out, sizeof(out), "%s/pool.txt", w->dir);
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 3}\nbounds: {min_pods: 1, max_pods: 4}\n"
             "target: {command: {run: \"echo {replicas} >> %s\", shell: true, initial_replicas: 1, "
             "backoff: 1ms}}\n",
             out);
    drive *d = open_cfg_text(w, "cmd.yaml", text, false);
    drive_tick_rec rec;
    tick(d, 0, &rec);
    assert_string_equal(rec.action, "scaled");
    tick(d, 15, &rec);
    assert_string_equal(rec.action, "none");
    drive_close(d);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char buf[64] = "";
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "3\n");
    /* a failing command is retried, then the tick says failed */
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 3}\ntarget: {command: {run: \"exit 3 # {replicas}\", "
             "shell: true, initial_replicas: 1, retries: 2, backoff: 1ms}}\n");
    d = open_cfg_text(w, "cmd2.yaml", text, false);
    tick(d, 0, &rec);
    assert_string_equal(rec.action, "failed");
    assert_int_equal(rec.attempts, 3);
    assert_non_null(strstr(rec.sources, "exited with 3"));
    drive_close(d);
}

/* Waits until done(ctx), polling every 20 ms for up to a minute: the wait ends on the
 * event, so a slow machine (valgrind, load) only waits longer. False if it never came. */
static bool wait_until(bool (*done)(void *ctx), void *ctx)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (done(ctx))
            return true;
        struct timespec p = {0, 20 * 1000 * 1000};
        nanosleep(&p, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 60);
    return done(ctx);
}

typedef struct log_lines {
    const char *path;
    int lines;
} log_lines;

/* wait_until: the file holds at least `lines` lines */
static bool has_lines(void *ctx)
{
    const log_lines *l = ctx;
    FILE *f = fopen(l->path, "r");
    int n = 0;
    if (f) {
        int ch;
        while ((ch = fgetc(f)) != EOF)
            n += ch == '\n';
        fclose(f);
    }
    return n >= l->lines;
}

/* wait_until: the file exists */
static bool file_exists(void *ctx) { return access(ctx, F_OK) == 0; }

/* wait_until: something accepts connections on loopback port *ctx */
static bool listening(void *ctx)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t) * (const int *)ctx);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* wait_until: the fake server holds a request (it is answering, or waiting to) */
static bool serving(void *ctx)
{
    fake_http *h = ctx;
    pthread_mutex_lock(&h->cmu);
    bool busy = h->active > 0;
    pthread_mutex_unlock(&h->cmu);
    return busy;
}

/* SIGTERM ends `gpenlab drive` between ticks, exit status 0, a last "stopped" line. */
static void test_sigterm(void **state)
{
    world *w = *state;
    const char *bin = getenv("GPENLAB_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        print_message("SKIP sigterm: GPENLAB_BIN is not set (scripts/run_tests.sh sets it)\n");
        skip();
    }
    char text[512], path[256], logp[160];
    snprintf(logp, sizeof(logp), "%s/drive.log", w->dir);
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 2}\nsync_period: 200ms\nlog: %s\n"
             "target: {command: {run: \"true {replicas}\"}}\n",
             logp);
    write_cfg(w, "loop.yaml", text, path, sizeof(path));
    gp_proc *p =
        tu_proc_start(&(gp_proc_spec){.argv = (const char *const[]){bin, "drive", path, NULL},
                                      .out = GP_PROC_INHERIT,
                                      .err = GP_PROC_INHERIT});
    /* wait for two ticks, then stop it */
    bool ticked = wait_until(has_lines, &(log_lines){logp, 2});
    assert_int_equal(gp_proc_signal(p, SIGTERM), 0);
    gp_proc_result r;
    assert_int_equal(gp_proc_wait(p, -1, &r), 1);
    gp_proc_free(p);
    assert_true(ticked);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 0);
    FILE *f = fopen(logp, "r");
    assert_non_null(f);
    char line[2048], last[2048] = "";
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        snprintf(last, sizeof(last), "%s", line);
        n++;
    }
    fclose(f);
    assert_true(n >= 3);
    assert_non_null(strstr(last, "\"event\":\"stopped\""));
}

/* TLS is verified: an API behind a self-signed certificate is refused until its CA is
 * given (openssl s_server on loopback answers, without the CA, a TLS error; with it, an
 * HTML page, which the driver then refuses as malformed JSON: past the handshake). */
static void test_tls_verified(void **state)
{
    world *w = *state;
    if (!tu_have_cmd("openssl")) {
        print_message("SKIP tls: openssl is not installed\n");
        skip();
    }
    char cert[128], key[128];
    snprintf(cert, sizeof(cert), "%s/cert.pem", w->dir);
    snprintf(key, sizeof(key), "%s/key.pem", w->dir);
    gp_proc_result made = tu_proc_run(&(gp_proc_spec){
        .argv =
            (const char *const[]){"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                  "-keyout", key, "-out", cert, "-days", "1", "-subj",
                                  "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", NULL},
        .out = GP_PROC_CAPTURE,
        .err = GP_PROC_STDOUT});
    if (!gp_proc_ok(&made))
        fail_msg("openssl req: %s", made.out);
    gp_proc_result_free(&made);
    int port = fake_free_port();
    char accept[32];
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
    gp_proc *server = tu_proc_start(&(gp_proc_spec){
        .argv = (const char *const[]){"openssl", "s_server", "-accept", accept, "-cert", cert,
                                      "-key", key, "-www", "-quiet", NULL}});
    if (!wait_until(listening, &port)) {
        gp_proc_stop(server, 10000, NULL);
        gp_proc_free(server);
        fail_msg("openssl s_server never listened on port %d", port);
    }
    for (int with_ca = 0; with_ca < 2; with_ca++) {
        char text[1024];
        snprintf(
            text, sizeof(text),
            "policy: static\nconfig: {pods: 2}\n"
            "target: {kubernetes: {deployment: gpen, namespace: gpen, api_server: "
            "\"https://127.0.0.1:%d\", token_file: \"%s\", retries: 0, timeout: " ANSWERS_TIMEOUT
            "%s%s%s}}\n",
            port, w->token_path, with_ca ? ", ca_file: \"" : "", with_ca ? cert : "",
            with_ca ? "\"" : "");
        drive *d = open_cfg_text(w, with_ca ? "tls_ca.yaml" : "tls.yaml", text, false);
        drive_tick_rec rec;
        tick(d, 0, &rec);
        drive_close(d);
        assert_true(rec.held);
        bool tls_error = strstr(rec.sources, "certificate") || strstr(rec.sources, "SSL");
        if (!with_ca && !tls_error)
            fail_msg("an untrusted certificate was accepted: %s", rec.sources);
        if (with_ca && (tls_error || !strstr(rec.sources, "malformed JSON")))
            fail_msg("with its CA the handshake should pass: %s", rec.sources);
    }
    gp_proc_stop(server, 10000, NULL);
    gp_proc_free(server);
}

/* A token goes over plain http only to a loopback host: the host must be exactly
 * localhost, [::1] or 127.x, not a name that merely starts like one. */
static void test_token_plain_http_loopback_only(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool refused;
    } rows[] = {
        {"http://localhost.example.com:1/x", true},
        {"http://127.0.0.1.nip.io:1/x", true},
        {"http://localhostx:1/", true},
        {"http://user@evil.example:1/", true},
        {"http://10.0.0.1:1/", true},
        {"http://localhost:1/x", false},
        {"http://127.0.0.1:1/x", false},
        {"http://[::1]:1/x", false},
        /* issue 13: the host as curl parses it, not as a hand-written scan */
        {"http://0.0.0.0:18443#@127.0.0.1/", true},
        {"HTTP://10.0.0.1:1/", true},
        {"Http://evil.example:1/", true},
        {"http://127.0.0.1%2f@evil.example:1/", true},
        {"http://LOCALHOST:1/x", false},
        {"http://0x7f.1:1/x", false}, /* curl connects to 127.0.0.1 */
    };
    char tok[] = "t0ken";
    http_auth auth;
    memset(&auth, 0, sizeof(auth));
    auth.token = tok;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        http_resp r;
        http_do("GET", rows[i].url, NULL, NULL, &auth, 200000, &r);
        bool refused = strstr(r.err, "refusing to send a token") != NULL;
        http_resp_free(&r);
        if (refused != rows[i].refused)
            fail_msg("%s: refused %d want %d", rows[i].url, refused, rows[i].refused);
    }
}

/* ------------------------------------------------------------ issue 13: the live driver */

/* Every line of text is one JSON value (the log's contract); returns the number of lines. */
static int assert_json_lines(const char *what, const char *text)
{
    int n = 0;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_error_t je;
        json_t *j = json_loadb(p, len, 0, &je);
        if (!j)
            fail_msg("%s: line %d is not JSON (%s): %.*s", what, n + 1, je.text, (int)len, p);
        json_decref(j);
        n++;
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* A kubeconfig whose server is written HTTP:// in capitals is plain http: refused for a
 * remote host (the token would go in clear), as is the fragment trick. */
static void test_kubeconfig_plain_http(void **state)
{
    world *w = *state;
    static const char *const servers[] = {"HTTP://10.0.0.1:6443",
                                          "http://0.0.0.0:18443#@127.0.0.1/"};
    for (size_t i = 0; i < 2; i++) {
        char kc[300], text[1024], path[256];
        snprintf(kc, sizeof(kc), "%s/kc-http", w->dir);
        FILE *f = fopen(kc, "w");
        assert_non_null(f);
        fprintf(f,
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                "clusters: [{name: k, cluster: {server: \"%s\"}}]\n"
                "users: [{name: u, user: {token: %s}}]\n"
                "contexts: [{name: c, context: {cluster: k, user: u}}]\n",
                servers[i], TOKEN);
        fclose(f);
        chmod(kc, 0600);
        snprintf(text, sizeof(text),
                 "policy: static\ntarget: {kubernetes: {deployment: g, kubeconfig: \"%s\"}}\n", kc);
        write_cfg(w, "kc.yaml", text, path, sizeof(path));
        drive_cfg c;
        gp_error err;
        assert_int_equal(drive_cfg_load(path, &c, &err), 0);
        drive *d = NULL;
        int rc = drive_open(&c, false, NULL, &d, &err);
        drive_cfg_free(&c);
        if (rc >= 0)
            drive_close(d);
        if (rc != GP_EIO || !strstr(err.msg, "plain http"))
            fail_msg("server %s: got %d \"%s\"", servers[i], rc, err.msg);
    }
}

/* Holding never writes: spec.replicas 0 below min_pods 2 and a metrics error (the old
 * driver PATCHed replicas to 2 while "holding"). */
static void test_hold_never_patches(void **state)
{
    world *w = *state;
    w->kube.replicas = 0;
    w->kube.ready = 0;
    w->prom_status = 200;
    snprintf(w->prom_body, sizeof(w->prom_body),
             "{\"status\":\"success\",\"data\":{\"resultType\":\"vec");
    char part[512];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 3}\nbounds: {min_pods: 2, max_pods: 6}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT "}",
             w->prom.port);
    drive *d = open_kube(w, part, false);
    drive_tick_rec rec;
    tick(d, 0, &rec);
    assert_true(rec.held);
    assert_string_equal(rec.action, "hold");
    assert_int_equal(rec.applied, 0);
    assert_int_equal(w->kube.patches, 0);
    assert_int_equal(w->kube.replicas, 0);
    drive_close(d);
}

/* Per query: the fake Prometheus answers a per-pod body for the queries named q_pod*, the
 * cluster body for the others. */
typedef struct prom_script {
    char cluster[4096];
    char *pods; /* malloc'd */
    int delay_ms;
    char token[64]; /* required bearer token, "" none */
    fake_http *srv; /* the server serving this script */
    int hold_until; /* > 0: the first answer waits until this many requests are in */
    bool held;      /* hold_until was reached (or given up on) */
} prom_script;

static void scripted_prom(void *ctx, const fake_req *req, fake_rep *rep)
{
    prom_script *p = ctx;
    /* Parallel queries are seen as requests in at once. Here, under the handler's mutex,
     * the others queue behind this one while the server counts them as they connect; it
     * waits for the count, not for a time, so a slow machine cannot make a parallel
     * driver look serial (a serial one is held here until its query times out). */
    for (int i = 0; p->hold_until > 0 && !p->held && i < 30 * 100; i++) {
        pthread_mutex_lock(&p->srv->cmu);
        p->held = p->srv->active >= p->hold_until;
        pthread_mutex_unlock(&p->srv->cmu);
        struct timespec ts = {0, 10 * 1000 * 1000};
        if (!p->held)
            nanosleep(&ts, NULL);
    }
    p->held = true;
    char want[128];
    snprintf(want, sizeof(want), "Bearer %s", p->token);
    if (p->token[0] && strcmp(req->authorization, want) != 0) {
        rep->status = 401;
        snprintf(rep->body, sizeof(rep->body), "{\"status\":\"error\",\"error\":\"unauthorized\"}");
        return;
    }
    rep->delay_ms = p->delay_ms;
    snprintf(rep->body, sizeof(rep->body), "%s",
             strstr(req->path, "q_pod") && p->pods ? p->pods : p->cluster);
}

/* A cluster answer: one series with `value` as Prometheus writes it, or none (NULL). */
static void vector1(char *buf, size_t len, const char *value)
{
    if (value)
        snprintf(buf, len,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                 "[{\"metric\":{},\"value\":[1,\"%s\"]}]}}",
                 value);
    else
        snprintf(buf, len,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
}

/* A fake Prometheus serving ps, its cluster answer set to `value` (vector1). */
static void prom_open(fake_http *prom, prom_script *ps, const char *value)
{
    memset(ps, 0, sizeof(*ps));
    vector1(ps->cluster, sizeof(ps->cluster), value);
    ps->srv = prom;
    assert_int_equal(fake_http_start(prom, scripted_prom, ps), 0);
}

static const char *only_queries(void)
{
    return "queries: {gpu_mem_frac: ~, gpu_util_frac: ~, p50_s: ~, p95_s: q_p95, p99_s: ~, "
           "in_flight: ~, arrival_rate: ~, concurrency: ~, latency_samples: ~, "
           "pod_gpu_mem_frac: q_pod_mem, pod_gpu_util_frac: ~, pod_in_flight: ~, "
           "pod_concurrency: ~}";
}

/* Samples that are not finite non-negative decimals count as missing (not valid values,
 * not a reason to hold); text that is not a number at all is garbage (hold). */
static void test_refused_samples(void **state)
{
    world *w = *state;
    static prom_script ps;
    fake_http prom;
    prom_open(&prom, &ps, NULL);
    char part[1024];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 2}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT ", %s}",
             prom.port, only_queries());
    w->kube.replicas = 2;
    w->kube.ready = 2;
    drive *d = open_kube(w, part, false);
    static const char *const refused[] = {"+Inf",  "-Inf", "NaN", "1e400", "-1e400",
                                          "0x1p3", "-0.5", "inf", "nan",   "Infinity"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        fake_http_lock(&prom);
        vector1(ps.cluster, sizeof(ps.cluster), refused[i]);
        free(ps.pods);
        ps.pods = malloc(512);
        snprintf(ps.pods, 512,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                 "[{\"metric\":{\"pod\":\"gpen-a\"},\"value\":[1,\"0.5\"]},"
                 "{\"metric\":{\"pod\":\"gpen-b\"},\"value\":[1,\"%s\"]}]}}",
                 refused[i]);
        fake_http_unlock(&prom);
        drive_tick_rec rec;
        tick(d, (int64_t)i * 15, &rec);
        if (rec.held || !rec.obs.metrics_valid)
            fail_msg("%s: held (%s)", refused[i], rec.sources);
        if (!isnan(rec.obs.metric[OBS_LATENCY_P95_S]))
            fail_msg("%s: p95_s = %g, not missing", refused[i], rec.obs.metric[OBS_LATENCY_P95_S]);
        if (!strstr(rec.sources, "taken as missing: p95_s"))
            fail_msg("%s: sources \"%s\"", refused[i], rec.sources);
        /* pod gpen-b's value was refused: it has no metrics; gpen-a keeps its own */
        assert_int_equal(rec.obs.n_pods, 2);
        assert_true(rec.obs.pod[0].has_metrics);
        assert_true(rec.obs.pod[0].gpu_mem_frac == 0.5);
        assert_false(rec.obs.pod[1].has_metrics);
    }
    /* decimals in every form Prometheus writes are taken */
    static const struct {
        const char *text;
        double v;
    } good[] = {{"0", 0}, {"1.5", 1.5}, {"1e+06", 1e6}, {".25", 0.25}, {"+3", 3}, {"2E-3", 2e-3}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        fake_http_lock(&prom);
        vector1(ps.cluster, sizeof(ps.cluster), good[i].text);
        fake_http_unlock(&prom);
        drive_tick_rec rec;
        tick(d, 200 + (int64_t)i * 15, &rec);
        if (rec.held || rec.obs.metric[OBS_LATENCY_P95_S] != good[i].v)
            fail_msg("%s: got %g (%s)", good[i].text, rec.obs.metric[OBS_LATENCY_P95_S],
                     rec.sources);
    }
    drive_close(d);
    fake_http_stop(&prom);
    free(ps.pods);
}

/* No cap on pods: 1500 pods in the per-pod answers, all of them seen, sorted by name. */
static void test_many_pods(void **state)
{
    world *w = *state;
    static prom_script ps;
    fake_http prom;
    prom_open(&prom, &ps, NULL);
    enum { N = 1500 };
    size_t cap = (size_t)N * 96 + 256, o = 0;
    char *pods = malloc(cap);
    o += (size_t)snprintf(
        pods + o, cap - o,
        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[");
    for (int i = N - 1; i >= 0; i--) /* in reverse: the driver sorts */
        o += (size_t)snprintf(pods + o, cap - o,
                              "%s{\"metric\":{\"pod\":\"gpen-%05d\"},\"value\":[1,\"0.%d\"]}",
                              i == N - 1 ? "" : ",", i, i % 10);
    snprintf(pods + o, cap - o, "]}}");
    fake_http_lock(&prom);
    ps.pods = pods;
    fake_http_unlock(&prom);
    char part[1024];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 2}\nbounds: {min_pods: 1, max_pods: 2000}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT ", %s}",
             prom.port, only_queries());
    w->kube.replicas = 1600;
    w->kube.ready = 1550;
    drive *d = open_kube(w, part, true);
    drive_tick_rec rec;
    tick(d, 0, &rec);
    assert_false(rec.held);
    assert_int_equal(rec.obs.n_pods, 1600); /* 1500 with metrics, 50 ready, 50 starting */
    assert_int_equal(rec.obs.pods[POD_READY], 1550);
    assert_int_equal(rec.obs.pods[POD_STARTING], 50);
    for (int i = 0; i < N; i++)
        if (!rec.obs.pod[i].has_metrics || rec.obs.pod[i].gpu_mem_frac != (i % 10) / 10.0)
            fail_msg("pod %d: metrics %d value %g", i, rec.obs.pod[i].has_metrics,
                     rec.obs.pod[i].gpu_mem_frac);
    assert_false(rec.obs.pod[N].has_metrics);
    drive_close(d);
    fake_http_stop(&prom);
    free(ps.pods);
}

/* The queries of a tick go out together (13 serial queries to a slow Prometheus took 19.5 s
 * for one tick), and the tick's budget ends a tick whose server does not answer in time. */
static void test_parallel_queries_and_budget(void **state)
{
    world *w = *state;
    static prom_script ps;
    fake_http prom;
    prom_open(&prom, &ps, NULL);
    fake_http_lock(&prom);
    ps.hold_until = DRIVE_Q_COUNT;
    fake_http_unlock(&prom);
    char part[1024];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 2}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT "}",
             prom.port);
    w->kube.replicas = 2;
    drive *d = open_kube(w, part, false);
    drive_tick_rec rec;
    tick(d, 0, &rec);
    assert_false(rec.held);
    if (prom.max_active < DRIVE_Q_COUNT)
        fail_msg("at most %d queries at once, want all %d", prom.max_active, DRIVE_Q_COUNT);
    drive_close(d);

    /* a budget shorter than the server's delay: the tick holds and says why */
    fake_http_lock(&prom);
    ps.delay_ms = 3000;
    fake_http_unlock(&prom);
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 4}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "tick_budget: 300ms\nprometheus: {url: \"http://127.0.0.1:%d\", timeout: 5s}",
             prom.port);
    d = open_kube(w, part, false);
    tick(d, 15, &rec);
    assert_true(rec.held);
    if (!strstr(rec.sources, "time budget"))
        fail_msg("sources \"%s\"", rec.sources);
    assert_int_equal(w->kube.replicas, 2);
    drive_close(d);
    fake_http_stop(&prom);
}

/* The scale command: no shell, a minimal environment, its output kept apart from the log
 * (in the tick's line, escaped), a timeout. */
static void test_command_hardening(void **state)
{
    world *w = *state;
    setenv("GPEN_TEST_SECRET", "s3cret-value", 1);
    setenv("GPEN_POOL_DIR", "/pool/dir", 1);
    char text[1024], flag[200];
    /* no shell: ";" and ">" are words, the file is not created */
    snprintf(flag, sizeof(flag), "%s/created", w->dir);
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 3}\nlog: /dev/null\n"
             "target: {command: {run: \"echo {replicas}; touch %s\", initial_replicas: 1}}\n",
             flag);
    drive *d = open_cfg_text(w, "noshell.yaml", text, false);
    drive_tick_rec rec;
    tick(d, 0, &rec);
    drive_close(d);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(access(flag, F_OK), -1);
    char want[300];
    snprintf(want, sizeof(want), "3; touch %s\n", flag);
    assert_string_equal(rec.command_output, want);
    /* the environment: PATH, GPENLAB_REPLICAS, what is passed or set, nothing else */
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 4}\n"
             "target: {command: {run: \"env # {replicas}\", shell: true, initial_replicas: 1, "
             "pass_env: [GPEN_POOL_DIR], env: {GPEN_WORKER_ARGS: \"--x \\\"y\\\"\"}}}\n");
    d = open_cfg_text(w, "env.yaml", text, false);
    tick(d, 0, &rec);
    drive_close(d);
    assert_string_equal(rec.action, "scaled");
    static const char *const present[] = {
        "GPENLAB_REPLICAS=4\n", "PATH=/usr/local/bin:/usr/bin:/bin\n", "GPEN_POOL_DIR=/pool/dir\n",
        "GPEN_WORKER_ARGS=--x \"y\"\n"};
    for (size_t i = 0; i < 4; i++)
        if (!strstr(rec.command_output, present[i]))
            fail_msg("\"%s\" is not in the command's environment:\n%s", present[i],
                     rec.command_output);
    if (strstr(rec.command_output, "s3cret-value") || strstr(rec.command_output, "HOME="))
        fail_msg("the command saw the driver's environment:\n%s", rec.command_output);
    /* a command that does not end is stopped at its timeout, the tick says failed */
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 2}\n"
             "target: {command: {run: \"sleep 30 {replicas}\", shell: true, timeout: 300ms, "
             "retries: 0, initial_replicas: 1}}\n");
    d = open_cfg_text(w, "slow.yaml", text, false);
    tick(d, 0, &rec);
    drive_close(d);
    assert_string_equal(rec.action, "failed");
    if (!strstr(rec.sources, "timed out"))
        fail_msg("sources \"%s\"", rec.sources);
    /* output that would break a JSON line stays inside its field */
    snprintf(text, sizeof(text),
             "policy: static\nlabel: \"quote\\\" \\\\ label\"\nconfig: {pods: 2}\n"
             "target: {command: {run: \"printf '{\\\"x\\\":1}\\\\n\\\\\\\"\\\\001\\\\377 %%s' "
             "{replicas}\", shell: true, initial_replicas: 1}}\n");
    d = open_cfg_text(w, "print.yaml", text, false);
    tick(d, 0, &rec);
    drive_close(d);
    assert_string_equal(rec.action, "scaled");
    fflush(w->logf);
    assert_json_lines("the log", w->log);
    assert_non_null(strstr(w->log, "\"label\":\"quote\\\" \\\\ label\""));
    /* printf wrote {"x":1} NL \" \001 \377 " 2": quotes, backslash and control escaped,
     * the stray byte replaced */
    if (!strstr(w->log, "\"command_output\":\"{\\\"x\\\":1}\\n\\\\\\\"\\u0001\xef\xbf\xbd 2\""))
        fail_msg("command output in the log:\n%s",
                 strrchr(w->log, '{') ? strstr(w->log, "\"command_output\":\"{") : w->log);
    unsetenv("GPEN_TEST_SECRET");
    unsetenv("GPEN_POOL_DIR");
}

/* A Redis error reply that is not UTF-8 keeps the line valid JSON. */
static void test_log_bytes_from_sources(void **state)
{
    world *w = *state;
    fake_resp r;
    assert_int_equal(fake_resp_start(&r), 0);
    static const char bad[] = "-ERR \xff\xfe\"}\r\n";
    fake_resp_set(&r, bad, sizeof(bad) - 1, 0, false);
    char part[512];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 3}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "redis: {address: \"127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT "}",
             r.port);
    w->kube.replicas = 2;
    drive *d = open_kube(w, part, false);
    drive_tick_rec rec;
    tick(d, 0, &rec);
    drive_close(d);
    fake_resp_stop(&r);
    assert_true(rec.held);
    assert_non_null(strstr(rec.sources, "redis error"));
    fflush(w->logf);
    assert_json_lines("the log", w->log);
    if (!strstr(w->log, "redis error: ERR \xef\xbf\xbd\xef\xbf\xbd\\\"}"))
        fail_msg("the Redis error in the log:\n%s", w->log);
}

/* Runs `gpenlab drive` on config; SIGTERM once ready(ctx) says its tick is waiting; fails
 * unless it exits 0 within limit_s of the signal. The log text in *log. */
static void drive_sigterm(const char *config, const char *logp, bool (*ready)(void *ctx),
                          void *ready_ctx, double limit_s, char **log)
{
    const char *bin = getenv("GPENLAB_BIN");
    gp_proc *p = tu_proc_start(&(gp_proc_spec){
        .argv = (const char *const[]){bin, "drive", config, NULL}, .err = GP_PROC_INHERIT});
    if (!wait_until(ready, ready_ctx)) {
        gp_proc_free(p); /* SIGKILL */
        fail_msg("%s: the tick never got to its wait", config);
    }
    assert_int_equal(gp_proc_signal(p, SIGTERM), 0);
    gp_proc_result r;
    if (gp_proc_wait(p, (int64_t)(limit_s * 1000), &r) == 0) {
        gp_proc_free(p); /* SIGKILL */
        fail_msg("%s: still running %.1f s after SIGTERM", config, limit_s);
    }
    gp_proc_free(p);
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 0);
    FILE *f = fopen(logp, "r");
    assert_non_null(f);
    size_t cap = 1 << 20, n = 0;
    *log = calloc(1, cap);
    n = fread(*log, 1, cap - 1, f);
    (*log)[n] = '\0';
    fclose(f);
}

/* SIGTERM is acted on while a tick waits, on a Prometheus that answers in a minute and on
 * a scale command that sleeps a minute (the old driver waited for both): the signal comes
 * once the query or the command is under way, and the driver must be gone within 10 s
 * (it checks every 50 ms; a wide margin, so that valgrind or load cannot fail it). */
static void test_sigterm_promptly(void **state)
{
    world *w = *state;
    const char *bin = getenv("GPENLAB_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        print_message("SKIP sigterm: GPENLAB_BIN is not set (scripts/run_tests.sh sets it)\n");
        skip();
    }
    static prom_script ps;
    fake_http prom;
    prom_open(&prom, &ps, NULL);
    fake_http_lock(&prom);
    ps.delay_ms = 60000;
    fake_http_unlock(&prom);
    char text[1024], path[256], logp[200], flag[200];
    snprintf(logp, sizeof(logp), "%s/slowprom.log", w->dir);
    snprintf(text, sizeof(text),
             "policy: static\nlabel: \"a \\\"quoted\\\" label\"\nconfig: {pods: 2}\nlog: %s\n"
             "tick_budget: 120s\nprometheus: {url: \"http://127.0.0.1:%d\", timeout: 120s}\n"
             "target: {command: {run: \"true {replicas}\"}}\n",
             logp, prom.port);
    write_cfg(w, "slowprom.yaml", text, path, sizeof(path));
    char *log = NULL;
    drive_sigterm(path, logp, serving, &prom, 10.0, &log);
    fake_http_stop(&prom);
    int n = assert_json_lines("slow prometheus", log);
    assert_true(n >= 2);
    assert_non_null(strstr(log, "\"event\":\"stopped\""));
    assert_non_null(strstr(log, "\"label\":\"a \\\"quoted\\\" label\""));
    free(log);

    snprintf(logp, sizeof(logp), "%s/slowcmd.log", w->dir);
    snprintf(flag, sizeof(flag), "%s/slowcmd.running", w->dir);
    snprintf(text, sizeof(text),
             "policy: static\nconfig: {pods: 2}\nlog: %s\ntick_budget: 120s\n"
             "target: {command: {run: \"touch %s && sleep 60 {replicas}\", shell: true, "
             "timeout: 120s, initial_replicas: 1}}\n",
             logp, flag);
    write_cfg(w, "slowcmd.yaml", text, path, sizeof(path));
    drive_sigterm(path, logp, file_exists, flag, 10.0, &log);
    assert_json_lines("slow command", log);
    assert_non_null(strstr(log, "stopping"));
    free(log);
}

/* Prometheus with a bearer token (only over https or loopback) and a CA file. */
static void test_prometheus_token(void **state)
{
    world *w = *state;
    static prom_script ps;
    static char no_pods[256];
    vector1(no_pods, sizeof(no_pods), NULL);
    fake_http prom;
    prom_open(&prom, &ps, "2.5");
    fake_http_lock(&prom);
    snprintf(ps.token, sizeof(ps.token), "prom-token-77aa");
    ps.pods = no_pods;
    fake_http_unlock(&prom);
    char tok[200];
    snprintf(tok, sizeof(tok), "%s/prom_token", w->dir);
    FILE *f = fopen(tok, "w");
    fprintf(f, "%s\n", ps.token);
    fclose(f);
    chmod(tok, 0600);
    for (int with = 0; with < 2; with++) {
        char part[1024];
        snprintf(part, sizeof(part),
                 "policy: static\nconfig: {pods: 2}\nbounds: {min_pods: 1, max_pods: 6}\n"
                 "prometheus: {url: \"http://127.0.0.1:%d\", timeout: " ANSWERS_TIMEOUT
                 "%s%s%s, %s}",
                 prom.port, with ? ", token_file: \"" : "", with ? tok : "", with ? "\"" : "",
                 only_queries());
        drive *d = open_kube(w, part, false);
        drive_tick_rec rec;
        tick(d, with, &rec);
        drive_close(d);
        if (with && (rec.held || rec.obs.metric[OBS_LATENCY_P95_S] != 2.5))
            fail_msg("with the token: %s", rec.sources);
        if (!with && (!rec.held || !strstr(rec.sources, "401")))
            fail_msg("without the token: %s", rec.sources);
    }
    fake_http_stop(&prom);
    fflush(w->logf);
    if (strstr(w->log, ps.token))
        fail_msg("the Prometheus token reached the log");
}

/* `gpenlab drive TARGET --dry-run --once` with no cluster: the plan, then one decision, by
 * `policy`. */
static void dry_run_once(const char *target, const char *policy)
{
    char *argv[] = {"drive", (char *)target, "--dry-run", "--once", NULL};
    char *out = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&out, &len);
    gp_error err;
    gp_error_clear(&err);
    int rc = cmd_drive(4, argv, mf, &err);
    fclose(mf);
    if (rc < 0)
        fail_msg("drive %s --dry-run: %s: %s", target, err.field, err.msg);
    if (assert_json_lines(target, out) != 2 || !strstr(out, "\"event\":\"plan\"") ||
        !strstr(out, "\"decided\":true"))
        fail_msg("drive %s --dry-run:\n%s", target, out);
    char pol[96];
    snprintf(pol, sizeof(pol), "\"policy\":\"%s\"", policy);
    if (!strstr(out, pol))
        fail_msg("drive %s --dry-run runs another policy (want %s):\n%s", target, pol, out);
    free(out);
}

/* `gpenlab drive --dry-run` on every config `gpenlab export` writes (KEDA included: it
 * failed with "unknown key 'apiVersion'"), with no cluster: the plan, then a decision; and
 * with a recorded CSV, the decisions `gpenlab policy replay` makes on it. */
static void test_dry_run_every_export(void **state)
{
    world *w = *state;
    setenv("HOME", w->dir, 1); /* no ~/.kube/config */
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    char csv[200];
    snprintf(csv, sizeof(csv), "%s/recorded.csv", w->dir);
    FILE *f = fopen(csv, "w");
    fputs("t_s,spec_replicas,metrics_valid,latency_samples,gpu_mem_frac,gpu_util_frac,p95_s,"
          "queue_len,in_flight,concurrency,ready\n"
          "15,1,1,20,0.3,0.2,1.0,0,1,1,1\n30,,1,30,0.92,0.95,6.0,30,5,5,1\n"
          "45,,1,30,0.95,0.97,7.0,40,9,9,2\n60,,0,0,,,,,,,2\n75,,1,10,0.2,0.1,1.0,0,1,1,4\n"
          "90,,1,10,0.1,0.1,0.5,0,0,0,4\n",
          f);
    fclose(f);
    static const struct {
        const char *label, *manifest, *policy;
    } rows[] = {
        {"static-4", "deployment.yaml", "static"},   {"hpa-gpu", "hpa.yaml", "hpa"},
        {"keda-queue", "scaledobject.yaml", "keda"}, {"kpa-conc", "knative-service.yaml", "kpa"},
        {"gpen-rule", "drive.yaml", "gpen-rule"},    {"predictive", "drive.yaml", "predictive"},
    };
    int dead = fake_free_port();
    char prom[64], redis[64];
    snprintf(prom, sizeof(prom), "http://127.0.0.1:%d", dead);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", dead);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char dir[256], file[300];
        snprintf(dir, sizeof(dir), "%s/export-%s", w->dir, rows[i].label);
        export_opts o;
        export_opts_default(&o);
        o.label = rows[i].label;
        o.from = "experiments/drive_policies.yaml";
        o.out_dir = dir;
        o.prometheus_url = prom;
        o.redis_address = redis;
        gp_error err;
        if (export_run(&o, NULL, &err) < 0)
            fail_msg("%s: export: %s", rows[i].label, err.msg);
        snprintf(file, sizeof(file), "%s/%s", dir, rows[i].manifest);
        const char *targets[] = {dir, file};
        for (int k = 0; k < 2; k++)
            dry_run_once(targets[k], rows[i].policy);
        /* replayed: the same decisions as `gpenlab policy replay` with the imported config */
        char *argv[] = {"drive", file, "--metrics", csv, NULL};
        char *out = NULL, *rout = NULL;
        size_t len = 0, rlen = 0;
        FILE *mf = open_memstream(&out, &len);
        gp_error_clear(&err);
        int rc = cmd_drive(4, argv, mf, &err);
        fclose(mf);
        if (rc < 0)
            fail_msg("drive %s --metrics: %s", file, err.msg);
        char entry[300], cfgp[300];
        snprintf(entry, sizeof(entry), "%s/entry.yaml", dir);
        snprintf(cfgp, sizeof(cfgp), "%s/config.yaml", dir);
        mf = fopen(entry, "w");
        assert_int_equal(export_import(file, mf, &err), 0);
        fclose(mf);
        cfg_doc *doc;
        assert_int_equal(cfg_load_file(entry, &doc, &err), 0);
        /* replay takes the config from a file of its own: the entry's `config:` value */
        ytree *yt = ytree_from_cfg(cfg_map_get(cfg_seq_at(cfg_root(doc), 0), "config"), false);
        if (strcmp(rows[i].policy, "predictive") == 0) {
            /* the capacity the driver config's env gives it, as a key for replay */
            cfg_doc *dd;
            assert_int_equal(cfg_load_file(file, &dd, &err), 0);
            const char *cap =
                cfg_scalar(cfg_map_get(cfg_map_get(cfg_root(dd), "env"), "pod_capacity_per_s"));
            assert_non_null(cap);
            ytree_set(yt, "pod_capacity_per_s", ytree_plain(cap));
            cfg_free(dd);
        }
        mf = fopen(cfgp, "w");
        assert_int_equal(ytree_emit(mf, yt), 0);
        fclose(mf);
        ytree_free(yt);
        cfg_free(doc);
        char *rargv[] = {"replay", (char *)rows[i].policy, csv, "--config", cfgp, NULL};
        mf = open_memstream(&rout, &rlen);
        rc = cmd_policy_replay(5, rargv, mf, &err);
        fclose(mf);
        if (rc < 0)
            fail_msg("%s: replay: %s", rows[i].label, err.msg);
        /* replay rows: t_s,spec,desired,applied,... ; drive lines carry desired and applied */
        const char *rp = strchr(rout, '\n');
        rp = rp ? strchr(rp + 1, '\n') : NULL;
        int row = 0;
        for (const char *p = strchr(out, '\n'); p && p[1] && rp && rp[1]; p = strchr(p + 1, '\n')) {
            json_t *j = json_loads(p + 1, JSON_DISABLE_EOF_CHECK, NULL);
            assert_non_null(j);
            double t;
            int spec, desired, applied;
            if (sscanf(rp + 1, "%lf,%d,%d,%d", &t, &spec, &desired, &applied) != 4)
                fail_msg("%s: replay row %d: %.60s", rows[i].label, row, rp + 1);
            int jd = (int)json_integer_value(json_object_get(j, "desired"));
            int js = (int)json_integer_value(
                json_object_get(json_object_get(j, "inputs"), "spec_replicas"));
            const char *act = json_string_value(json_object_get(j, "action"));
            if (jd != desired || js != spec)
                fail_msg("%s row %d: drive spec %d desired %d, replay spec %d desired %d",
                         rows[i].label, row, js, jd, spec, desired);
            if (strcmp(act, "scaled") == 0 || strcmp(act, "failed") == 0)
                fail_msg("%s row %d: a replay acted (%s)", rows[i].label, row, act);
            json_decref(j);
            rp = strchr(rp + 1, '\n');
            row++;
        }
        if (row != 6)
            fail_msg("%s: %d replayed rows compared\n%s\n%s", rows[i].label, row, out, rout);
        free(out);
        free(rout);
    }
    /* without --dry-run, a manifest with no Deployment of its own is refused */
    char file[300];
    snprintf(file, sizeof(file), "%s/export-kpa-conc/knative-service.yaml", w->dir);
    char *argv[] = {"drive", file, "--once", NULL};
    gp_error err;
    assert_int_equal(cmd_drive(3, argv, NULL, &err), GP_ENOTSUP);
    assert_non_null(strstr(err.msg, "--dry-run"));
}

/* Every policy with a live form has an entry in experiments/drive_policies.yaml, and each
 * such entry's export loads in `gpenlab drive DIR --dry-run` with no cluster: the plan, then
 * a decision, by the policy that runs it live (a Knative keep-alive form runs as kpa). A
 * policy given a live form without an example there fails here. */
static void test_dry_run_every_exportable_policy(void **state)
{
    world *w = *state;
    setenv("HOME", w->dir, 1); /* no ~/.kube/config */
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    experiment *e = NULL;
    gp_error err;
    if (experiment_load("experiments/drive_policies.yaml", &e, &err) < 0)
        fail_msg("experiments/drive_policies.yaml: %s", err.msg);
    const policy_ops *const *all = policy_all();
    for (size_t k = 0; all[k]; k++) {
        bool covered = all[k]->live == POLICY_LIVE_NONE;
        for (int i = 0; i < e->n_policies && !covered; i++)
            covered = e->policy[i].ops == all[k];
        if (!covered)
            fail_msg("policy %s has a live form but no entry in drive_policies.yaml", all[k]->name);
    }
    int dead = fake_free_port();
    char prom[64], redis[64];
    snprintf(prom, sizeof(prom), "http://127.0.0.1:%d", dead);
    snprintf(redis, sizeof(redis), "127.0.0.1:%d", dead);
    for (int i = 0; i < e->n_policies; i++) {
        const policy_entry *pe = &e->policy[i];
        if (pe->ops->live == POLICY_LIVE_NONE)
            continue;
        char dir[256];
        snprintf(dir, sizeof(dir), "%s/every-%s", w->dir, pe->label);
        export_opts o;
        export_opts_default(&o);
        o.label = pe->label;
        o.from = "experiments/drive_policies.yaml";
        o.out_dir = dir;
        o.prometheus_url = prom;
        o.redis_address = redis;
        if (export_run(&o, NULL, &err) < 0)
            fail_msg("%s: export: %s", pe->label, err.msg);
        dry_run_once(dir, pe->ops->live == POLICY_LIVE_KNATIVE_KEEP_ALIVE ? "kpa" : pe->ops->name);
    }
    experiment_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale_contract_and_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_faults_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_verified, setup, teardown),
        cmocka_unit_test(test_token_plain_http_loopback_only),
        cmocka_unit_test_setup_teardown(test_kubeconfig_plain_http, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_never_patches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_queries_and_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_hardening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_bytes_from_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_promptly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prometheus_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_every_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_every_exportable_policy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
