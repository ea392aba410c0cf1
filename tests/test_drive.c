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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "drive/drive.h"
#include "drive/io.h"
#include "tests/live/fake_http.h"

#define TOKEN "test-token-9f3a1c77e2"

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
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
    (void)!system(cmd);
    free(w);
    if (leaked) {
        fprintf(stderr, "the token appeared in the driver's log\n");
        return -1;
    }
    return 0;
}

/* Writes a config: `policy_part` (policy/config/bounds lines) and a target/metrics part. */
static void write_cfg(const world *w, const char *name, const char *text, char *path,
                      size_t len)
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
             "    timeout: 2s\n",
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
            fail_msg("PATCH %d asked for %d replicas, outside [%d, %d]", i, w->kube.patched[i],
                     lo, hi);
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
         "policy: static\ntarget: {kubernetes: {deployment: g, api_server: \"http://10.0.0.1:80\"}}\n",
         GP_ENOTSUP, "https"},
        {"plain http to a host named like loopback",
         "policy: static\ntarget: {kubernetes: {deployment: g, api_server: \"http://localhost.example.com\"}}\n",
         GP_ENOTSUP, "https"},
        {"both targets",
         "policy: static\ntarget: {kubernetes: {deployment: g}, command: {run: \"x {replicas}\"}}\n",
         GP_EPARSE, "not both"},
        {"prometheus without scheme", "policy: static\nprometheus: {url: \"localhost:9090\"}\n",
         GP_EPARSE, "http"},
        {"bad redis address", "policy: static\nredis: {address: \"host:99999\"}\n", GP_EPARSE,
         "host:port"},
        {"unknown query name", "policy: static\nprometheus: {url: \"http://127.0.0.1:1\", queries: {p96_s: x}}\n",
         GP_EUNKNOWN, "p96_s"},
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
    fprintf(f, "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
               "clusters: [{name: k, cluster: {server: \"https://127.0.0.1:1\"}}]\n"
               "users: [{name: u, user: {token: %s}}]\n"
               "contexts: [{name: c, context: {cluster: k, user: u}}]\n", TOKEN);
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
                     "policy: static\ntarget: {kubernetes: {deployment: g, kubeconfig: \"%s\"}}\n", kc);
        else
            snprintf(text, sizeof(text),
                     "policy: static\ntarget: {kubernetes: {deployment: g, api_server: "
                     "\"https://127.0.0.1:1\", token_file: \"%s\"}}\n", tok);
        write_cfg(w, "cred.yaml", text, path, sizeof(path));
        assert_int_equal(drive_cfg_load(path, &c, &err), 0);
        int rc = drive_open(&c, true, NULL, &d, &err);
        drive_cfg_free(&c);
        if (rc >= 0)
            drive_close(d);
        if (rc != GP_EIO || !strstr(err.msg, "open to group or others") || !strstr(err.msg, file))
            fail_msg("%s: got %d \"%s\"", cred_rows[i].name, rc, err.msg);
        if (strstr(err.msg, TOKEN))
            fail_msg("%s: the token is in the message", cred_rows[i].name);
        assert_int_equal(chmod(file, 0600), 0);
        assert_int_equal(drive_cfg_load(path, &c, &err), 0);
        rc = drive_open(&c, true, NULL, &d, &err);
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
    drive *d = open_kube(w, "policy: static\nconfig: {pods: 3}\nbounds: {min_pods: 1, max_pods: 6}", false);
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
    d = open_kube(w, "policy: static\nconfig: {pods: 50}\nbounds: {min_pods: 1, max_pods: 6}", false);
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
    drive *d = open_kube(w, "policy: static\nconfig: {pods: 4}\nbounds: {min_pods: 1, max_pods: 6}", false);
    tick(d, 0, &rec);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 4);
    assert_int_equal(w->kube.patches, 3); /* 500, 500, 200 */
    assert_int_equal(rec.attempts, 1 + 3); /* one GET, three PATCHes */
    drive_close(d);

    w->kube.fail_patch_409 = 1;
    d = open_kube(w, "policy: static\nconfig: {pods: 5}\nbounds: {min_pods: 1, max_pods: 6}", false);
    tick(d, 15, &rec);
    assert_string_equal(rec.action, "scaled");
    assert_int_equal(w->kube.replicas, 5);

    w->kube.fail_patch_500 = 100; /* more than the retries */
    drive_close(d);
    d = open_kube(w, "policy: static\nconfig: {pods: 2}\nbounds: {min_pods: 1, max_pods: 6}", false);
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
        {"malformed JSON", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vec", "malformed JSON"},
         {"error status", 422, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}", "parse error"},
         {"a sample that is not a number", 200,
          "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"fast\"]}]}}",
          "malformed sample"},
         {"two series for a cluster query", 200,
          "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"a\":\"1\"},\"value\":[1,\"1\"]},{\"metric\":{\"a\":\"2\"},\"value\":[1,\"2\"]}]}}",
          "expected one"},
    };
    char part[512];
    snprintf(part, sizeof(part),
             "policy: static\nconfig: {pods: 5}\nbounds: {min_pods: 1, max_pods: 6}\n"
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: 1s}", w->prom.port);
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
             "prometheus: {url: \"http://127.0.0.1:%d\", timeout: 1s}\n"
             "redis: {address: \"127.0.0.1:%d\", timeout: 1s}", dead, dead);
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
             "target: {command: {run: \"echo {replicas} >> %s\", initial_replicas: 1, backoff: 1ms}}\n",
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
             "initial_replicas: 1, retries: 2, backoff: 1ms}}\n");
    d = open_cfg_text(w, "cmd2.yaml", text, false);
    tick(d, 0, &rec);
    assert_string_equal(rec.action, "failed");
    assert_int_equal(rec.attempts, 3);
    assert_non_null(strstr(rec.sources, "exited with 3"));
    drive_close(d);
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
             "target: {command: {run: \"true {replicas}\"}}\n", logp);
    write_cfg(w, "loop.yaml", text, path, sizeof(path));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(bin, bin, "drive", path, (char *)NULL);
        _exit(127);
    }
    /* wait for two ticks, then stop it */
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(logp, "r");
        int lines = 0;
        if (f) {
            int ch;
            while ((ch = fgetc(f)) != EOF)
                lines += ch == '\n';
            fclose(f);
        }
        if (lines >= 2)
            break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kill(pid, SIGTERM), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
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
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        print_message("SKIP tls: openssl is not installed\n");
        skip();
    }
    char cmd[1024], cert[128], key[128];
    snprintf(cert, sizeof(cert), "%s/cert.pem", w->dir);
    snprintf(key, sizeof(key), "%s/key.pem", w->dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    int port = fake_free_port();
    char accept[32];
    snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stdout);
        (void)devnull;
        dup2(1, 2);
        execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
               "-www", "-quiet", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* until it listens */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((uint16_t)port);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    for (int with_ca = 0; with_ca < 2; with_ca++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "policy: static\nconfig: {pods: 2}\n"
                 "target: {kubernetes: {deployment: gpen, namespace: gpen, api_server: "
                 "\"https://127.0.0.1:%d\", token_file: \"%s\", retries: 0, timeout: 3s%s%s%s}}\n",
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
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
