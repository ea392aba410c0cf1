/* test_fuzz_regress.c: every input saved under tests/data/fuzz/ (a fuzzer finding, or an
 * input built to reproduce one) goes again through the fuzz target it came from, the
 * same entry point libFuzzer called (fuzz/fuzz_targets.c, compiled in here), so a fixed
 * crash, hang or leak stays fixed under ASan+UBSan and valgrind. A file is named
 * <target>-<what>; the table below adds, per finding, what the fixed reader must now say
 * about it. A new finding only needs its file; a row documents it. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fuzz/fuzz_targets.c"
#include "tests/testutil.h"

#define FUZZ_DATA "tests/data/fuzz/"

static char scratch_dir[256];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(scratch_dir, sizeof(scratch_dir), "fuzzreg");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(scratch_dir);
}

/* Every saved input through its target: none may crash, leak or hang. */
static void test_all_inputs_replay(void **state)
{
    (void)state;
    DIR *d = opendir(FUZZ_DATA);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char target[64];
        snprintf(target, sizeof(target), "%.*s", (int)strcspn(de->d_name, "-"), de->d_name);
        fuzz_target_fn fn = fuzz_target_find(target);
        if (!fn)
            fail_msg("%s: no fuzz target '%s' (name inputs <target>-<what>)", de->d_name, target);
        char path[512];
        snprintf(path, sizeof(path), FUZZ_DATA "%s", de->d_name);
        size_t len;
        uint8_t *data = tu_slurp_bytes(path, &len);
        if (fn(data, len, scratch_dir) != 0)
            fail_msg("%s: target %s returned non-zero", de->d_name, target);
        free(data);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

/* ---- what each finding now gives through the reader's own API ---- */

typedef struct finding {
    const char *file; /* under tests/data/fuzz/ */
    int want_rc;      /* 0: accepted (and round-trips where that applies) */
    const char *want; /* fragment of the one-line error, NULL when accepted */
} finding;

static void check_result(const finding *f, int rc, const gp_error *e)
{
    char line[1200];
    gp_error_format(e, line, sizeof(line));
    if (rc != f->want_rc)
        fail_msg("%s: got %d want %d (%s)", f->file, rc, f->want_rc, line);
    if (f->want && !strstr(line, f->want))
        fail_msg("%s: '%s' not in: %s", f->file, f->want, line);
}

/* profile: `source "a,"b c"` was accepted, and profile_write then wrote a line that did
 * not parse back (the writer cannot quote a '"'). The reader now refuses a quote inside a
 * word. close_grid: %.6g wrote 24.0000001 and 24.0000002 both as 24, so the written
 * mp_grid was no longer increasing; numbers are now written to read back exactly. */
static void test_profile_findings(void **state)
{
    (void)state;
    static const finding rows[] = {
        /* the finding's comment line holds bytes that are not UTF-8, refused first since
         * issue 13; the same input in ASCII still reaches the quote */
        {"profile-quote_in_word", GP_EPARSE, "fuzz:1:40: invalid UTF-8 (byte 0xd2)"},
        {"profile-quote_in_word_ascii", GP_EPARSE,
         "fuzz:7: unterminated quote, a quote inside a word"},
        /* issue 13: eff(n) > n was taken as given (SLO 0.1% became 99.9%); invalid UTF-8
         * and NUL bytes went into the results database */
        {"profile-eff_above_n", GP_ERANGE, "fuzz:7: eff: eff(3) = 3.5 is more than 3"},
        {"profile-bad_utf8", GP_EPARSE, "fuzz:2:10: invalid UTF-8 (byte 0xe9)"},
        {"profile-close_grid", 0, NULL},
    };
    gpu_profile *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    assert_non_null(p);
    assert_non_null(q);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), FUZZ_DATA "%s", rows[i].file);
        size_t len;
        char *text = (char *)tu_slurp_bytes(path, &len);
        gp_error e;
        gp_error_clear(&e);
        int rc = profile_parse("fuzz", text, p, &e);
        check_result(&rows[i], rc, &e);
        if (rc == 0) {
            char *buf = NULL;
            size_t blen = 0;
            FILE *f = open_memstream(&buf, &blen);
            assert_non_null(f);
            assert_int_equal(profile_write(p, f, &e), 0);
            fclose(f);
            gp_error_clear(&e);
            if (profile_parse("rewritten", buf, q, &e) != 0)
                fail_msg("%s: written profile does not parse back: %s", rows[i].file, e.msg);
            for (int k = 0; k < p->n_grid; k++)
                if (p->mp_grid[k] != q->mp_grid[k])
                    fail_msg("%s: mp_grid[%d] %.17g came back as %.17g", rows[i].file, k,
                             p->mp_grid[k], q->mp_grid[k]);
            free(buf);
        }
        free(text);
    }
    free(p);
    free(q);
}

/* cfg: a near-limit alias expansion (about 600,000 nodes from 540 bytes) is accepted
 * under the node budget and loads in a fraction of a second; the fuzz harness timed out
 * walking all of it (fixed in the harness: it walks at most FUZZ_WALK_NODES nodes). */
static void test_cfg_findings(void **state)
{
    (void)state;
    size_t len;
    char *text = (char *)tu_slurp_bytes(FUZZ_DATA "cfg-laughs_walk", &len);
    cfg_doc *doc = NULL;
    gp_error e;
    gp_error_clear(&e);
    int rc = cfg_load_string("laughs", text, len, &doc, &e);
    if (rc != 0)
        fail_msg("cfg-laughs_walk: got %d want 0 (%s)", rc, e.msg);
    assert_non_null(cfg_map_get(cfg_root(doc), "a9"));
    cfg_free(doc);
    free(text);
}

/* The environment both policy findings below create their policies in (oracle: what the
 * clairvoyant bound reads, or NULL). */
static policy_env fixture_env(const oracle_view *oracle)
{
    return (policy_env){.min_pods = 1,
                        .max_pods = 8,
                        .concurrency = 5,
                        .pod_capacity_per_s = 2.5,
                        .mean_demand_s = 2,
                        .cold_start_us = 27400000,
                        .scrape_interval_us = 15000000,
                        .seed = 1,
                        .oracle = oracle};
}

/* policy: keda read a prometheus trigger's threshold "4444...470" (4e86) and converted
 * threshold x 1000 to int64 (undefined; UBSan stopped the fuzzer). keda.c now bounds
 * threshold and listLength to 1e15. */
static void test_keda_threshold_finding(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml;
        int want_rc;
        const char *want;
    } rows[] = {
        {"threshold 4e86",
         "triggers: [{type: prometheus, metadata: {query: 'histogram_quantile(0.95, "
         "sum(rate(gpen_request_latency_seconds_bucket[1m])) by (le))', threshold: "
         "\"4444444444444444444444444444444444444444444444444444444444444444444444444444444444470\""
         "}}]",
         GP_ERANGE, "must be positive and at most 1e+15"},
        {"listLength 1e300",
         "triggers: [{type: redis, metadata: {listName: 'gpen:pending', listLength: '1e300'}}]",
         GP_ERANGE, "listLength must be a whole number in [1, 1e+15]"},
        {"threshold 1e15 accepted",
         "triggers: [{type: redis, metadata: {listName: 'gpen:pending', listLength: "
         "'1000000000000000'}}]",
         0, NULL},
    };
    const policy_ops *keda = policy_find("keda");
    assert_non_null(keda);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc = NULL;
        gp_error e;
        gp_error_clear(&e);
        if (cfg_load_string(rows[i].name, rows[i].yaml, strlen(rows[i].yaml), &doc, &e) < 0)
            fail_msg("%s: %s", rows[i].name, e.msg);
        policy_env env = fixture_env(NULL);
        policy_info info = {
            .sync_period_us = 15000000, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
        void *st = NULL;
        int rc = keda->create(cfg_root(doc), &env, &st, &info, &e);
        finding f = {rows[i].name, rows[i].want_rc, rows[i].want};
        check_result(&f, rc, &e);
        if (rc == 0)
            keda->destroy(st);
        cfg_free(doc);
    }
}

/* policy: scraped metric values reach the policies unchanged from a live Prometheus
 * (strtod of "1e300", "+Inf", "-1e300"); kpa converted the excess burst capacity and hpa
 * the metric x 1000 to integers without a bound (undefined behaviour, found by UBSan
 * with the default kpa). Both saturate now. Every registered policy (hpa and keda with a
 * queue-length config, the others with defaults) decides on such values. */
static void test_policy_extreme_metrics(void **state)
{
    (void)state;
    static const double values[] = {1e300, -1e300, INFINITY, -INFINITY, NAN, 9.3e15, -1.0, 0.0};
    static const char *const hpa_yaml =
        "{minReplicas: 1, maxReplicas: 8, metrics: [{type: External, external: {metric: {name: "
        "redis_list_length, selector: {matchLabels: {key: 'gpen:pending'}}}, target: {type: "
        "AverageValue, averageValue: '2'}}}, {type: Pods, pods: {metric: {name: "
        "gpu_memory_utilization}, target: {type: AverageValue, averageValue: '60'}}}]}";
    static const char *const keda_yaml =
        "{maxReplicaCount: 8, triggers: [{type: redis, metadata: {listName: 'gpen:pending', "
        "listLength: '3'}}, {type: prometheus, metadata: {query: 'histogram_quantile(0.95, "
        "sum(rate(gpen_request_latency_seconds_bucket[1m])) by (le))', threshold: '4'}}]}";
    const policy_ops *const *all = policy_all();
    for (size_t k = 0; all[k]; k++) {
        const char *yaml = strcmp(all[k]->name, "hpa") == 0    ? hpa_yaml
                           : strcmp(all[k]->name, "keda") == 0 ? keda_yaml
                                                               : NULL;
        cfg_doc *doc = NULL;
        gp_error e;
        gp_error_clear(&e);
        if (yaml && cfg_load_string("extreme", yaml, strlen(yaml), &doc, &e) < 0)
            fail_msg("%s: %s", all[k]->name, e.msg);
        oracle_view ov = {NULL, oracle_work, oracle_arrivals, 86400000000LL};
        policy_env env = fixture_env(&ov);
        policy_info info = {
            .sync_period_us = 15000000, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
        void *st = NULL;
        if (all[k]->create(cfg_root(doc), &env, &st, &info, &e) < 0)
            fail_msg("%s: create: %s", all[k]->name, e.msg);
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            pod_obs pods[3];
            policy_obs obs;
            memset(&obs, 0, sizeof(obs));
            obs.now_us = (int64_t)(i + 1) * 15000000;
            obs.scrape_us = obs.now_us;
            obs.metrics_valid = true;
            for (int m = 0; m < OBS_METRICS; m++)
                obs.metric[m] = values[i];
            obs.latency_samples = 100;
            obs.spec_replicas = 3;
            obs.min_pods = 1;
            obs.max_pods = 8;
            for (int p = 0; p < 3; p++) {
                pods[p] = (pod_obs){.pod_id = (uint64_t)p,
                                    .state = POD_READY,
                                    .created_us = 0,
                                    .ready_since_us = 0,
                                    .has_metrics = true,
                                    .gpu_mem_frac = values[i],
                                    .gpu_util_frac = values[i],
                                    .in_flight = values[i],
                                    .concurrency = values[i]};
            }
            obs.pods[POD_READY] = 3;
            obs.n_pods = 3;
            obs.pod = pods;
            policy_decision d;
            policy_decision_init(&d);
            if (all[k]->on_arrival && all[k]->on_arrival(st, &obs, &d, &e) < 0)
                fail_msg("%s at %g: on_arrival: %s", all[k]->name, values[i], e.msg);
            policy_decision_init(&d);
            if (all[k]->decide(st, &obs, &d, &e) < 0)
                continue; /* refusing a value is fine; undefined behaviour is not */
            if (d.desired_pods < -1 || d.desired_pods > 1000000)
                fail_msg("%s at %g: desired %d", all[k]->name, values[i], d.desired_pods);
            /* a queue of 1e300 is a reason to scale up: before the fix, x1000 wrapped to
             * INT64_MIN and the HPA computed -2147483648 replicas (held at 3) */
            if (yaml && i == 0 && d.desired_pods <= 3)
                fail_msg("%s at %g: desired %d, want a scale-up from 3 (%s)", all[k]->name,
                         values[i], d.desired_pods, d.detail);
        }
        all[k]->destroy(st);
        cfg_free(doc);
    }
}

/* drive (issue 13, 12): a Prometheus answer with +Inf, 1e400, 0x1p3, -1 and NaN samples:
 * those are refused (missing), 0.5 is taken; the URL that hid a remote host behind a
 * fragment does not carry a token; the KEDA export loads as a driver config (it failed
 * with "unknown key 'apiVersion'"). */
static void test_drive_findings(void **state)
{
    (void)state;
    size_t len;
    char *body = (char *)tu_slurp_bytes(FUZZ_DATA "drive-prom_refused", &len);
    http_resp r = {.status = 200, .body = body, .len = len};
    prom_sample *smp = NULL;
    size_t n = 0;
    char why[256];
    assert_int_equal(prom_parse(&r, "q", true, &smp, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < 5; i++)
        if (!smp[i].refused || !isnan(smp[i].value))
            fail_msg("sample %zu (pod %s) was taken: %g", i, smp[i].pod, smp[i].value);
    assert_false(smp[5].refused);
    assert_true(smp[5].value == 0.5);
    free(smp);
    free(body);
    char *url = (char *)tu_slurp_bytes(FUZZ_DATA "drive-url_fragment", &len);
    bool https = true, loopback = true;
    assert_int_equal(http_url_parse(url, &https, &loopback, why, sizeof(why)), 0);
    assert_false(https);
    assert_false(loopback);
    assert_int_equal(http_url_token_ok(url, why, sizeof(why)), -1);
    free(url);
    drive_cfg c;
    gp_error e;
    gp_error_clear(&e);
    int rc = drive_cfg_load(FUZZ_DATA "drive-keda_manifest", &c, &e);
    if (rc != 0)
        fail_msg("drive-keda_manifest: %s: %s", e.field, e.msg);
    assert_string_equal(c.policy, "keda");
    assert_string_equal(c.deployment, "gpen");
    assert_int_equal(c.target, DRIVE_TARGET_KUBE);
    drive_cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_inputs_replay),
        cmocka_unit_test(test_profile_findings),
        cmocka_unit_test(test_cfg_findings),
        cmocka_unit_test(test_keda_threshold_finding),
        cmocka_unit_test(test_policy_extreme_metrics),
        cmocka_unit_test(test_drive_findings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
