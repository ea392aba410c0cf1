/* fuzz_targets.c: the fuzzing entry points (see fuzz_targets.h).
 * Each target is cheap per call (inputs of a few KiB, draws capped) so libFuzzer runs
 * thousands of executions a second; the option bytes at the front of the trace inputs
 * pick columns, units and scales from small tables of ordinary and extreme values. */
#include "fuzz/fuzz_targets.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "base/cfg.h"
#include "base/csv_gzip.h"
#include "drive/command.h"
#include "drive/drive.h"
#include "drive/io.h"
#include "gpu/ref/gpen_load.h"
#include "gpu/ref/pipe_nets.h"
#include "gpu/ref/safetensors.h"
#include "lab/experiment.h"
#include "lab/report.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "traces/trace.h"

/* Arrivals drawn from a source per input: enough to pass every code path of the
 * source, few enough to keep a call in the millisecond range. */
#define FUZZ_MAX_DRAWS 20000
/* Policy decisions per created policy. */
#define FUZZ_TICKS     24

/* ---------------------------------------------------------------- helpers */

/* Writes bytes to path (plain, or gzip level 1). 0 or -1. */
static int write_file(const char *path, const uint8_t *data, size_t size, bool gzip)
{
    if (gzip) {
        gzFile g = gzopen(path, "wb1");
        if (!g)
            return -1;
        int ok = size == 0 || gzwrite(g, data, (unsigned)size) == (int)size;
        return gzclose(g) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && n == size ? 0 : -1;
}

/* A NUL-terminated copy of the input (the readers of text take C strings). */
static char *text_copy(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (t) {
        if (size)
            memcpy(t, data, size);
        t[size] = '\0';
    }
    return t;
}

/* The names of the first `max` header columns of a CSV text: the first line that is not
 * blank or a '#' comment, split at commas, spaces and quotes trimmed. Names point into
 * `store`. Returns how many were found. */
static int sniff_header(const uint8_t *data, size_t size, char *store, size_t store_len,
                        const char **names, int max)
{
    size_t i = 0;
    if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        i = 3;
    for (;;) {
        size_t s = i;
        while (i < size && data[i] != '\n')
            i++;
        size_t e = i;
        if (i < size)
            i++;
        size_t k = s;
        while (k < e && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r'))
            k++;
        if (k < e && data[k] != '#') {
            size_t len = e - s < store_len - 1 ? e - s : store_len - 1;
            memcpy(store, data + s, len);
            store[len] = '\0';
            break;
        }
        if (i >= size) {
            store[0] = '\0';
            break;
        }
    }
    int n = 0;
    char *p = store;
    while (n < max && *p) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        while (*p == ' ' || *p == '\t' || *p == '"')
            p++;
        char *t = p + strlen(p);
        while (t > p && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r' || t[-1] == '"'))
            *--t = '\0';
        names[n++] = p;
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

static bool has_word(const char *s, const char *word)
{
    size_t wl = strlen(word);
    for (; *s; s++)
        if (strncasecmp(s, word, wl) == 0)
            return true;
    return false;
}

/* The first column whose name contains `word` (case-insensitive), else column `fallback`
 * if there is one, else `dflt`. */
static const char *pick_col(const char **cols, int n, const char *word, int fallback,
                            const char *dflt)
{
    for (int i = 0; i < n; i++)
        if (has_word(cols[i], word))
            return cols[i];
    return fallback >= 0 && fallback < n ? cols[fallback] : dflt;
}

static bool contains(const uint8_t *data, size_t size, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= size; i++)
        if (memcmp(data + i, word, wl) == 0)
            return true;
    return false;
}

static void drain(arrival_src *src)
{
    request_spec r;
    gp_error err;
    gp_error_clear(&err);
    int64_t last = INT64_MIN;
    for (int i = 0; i < FUZZ_MAX_DRAWS; i++) {
        int rc = arrival_src_next(src, &r, &err);
        if (rc <= 0)
            break;
        /* the contract of trace.h: non-decreasing times, sane images */
        if (r.arrival_us < last || r.arrival_us < 0 || !(r.mp > 0) || r.faces < 0)
            abort();
        last = r.arrival_us;
    }
}

/* ---------------------------------------------------------------- traces */

static const char *const bound_values[] = {
    NULL, "0", "1", "2025-02-17 00:00:00", "1e18", "9999-12-31 23:59:59", "0001-01-01", "3600"};
static const double scale_values[] = {1.0, 0.5, 2.5, 1000.0, 1e-6, 1e6, 1e9, 7.0};

int fuzz_trace_csv(const uint8_t *data, size_t size, const char *scratch_dir)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0], opt = data[1];
    data += 2;
    size -= 2;
    char path[512];
    snprintf(path, sizeof(path), "%s/trace.csv", scratch_dir);
    if (write_file(path, data, size, (mode & 1) != 0) < 0)
        return 0;
    char store[512];
    const char *cols[16];
    int n = sniff_header(data, size, store, sizeof(store), cols, 16);
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = path;
    o.time_col = pick_col(cols, n, (mode & 0x80) ? "modified" : "t", 0, "t");
    o.time_unit = (trace_time_unit)((mode >> 1) % 5);
    o.mp_col = (opt & 1) ? pick_col(cols, n, "mp", 1, "mp") : NULL;
    o.faces_col = (opt & 2) ? pick_col(cols, n, "face", 2, "faces") : NULL;
    o.start = bound_values[(opt >> 2) & 7];
    o.end = bound_values[(mode >> 4) & 7];
    o.rate_scale = (opt & 0x20) ? scale_values[(mode >> 4) & 3] : 1.0;
    o.time_scale = (opt & 0x40) ? scale_values[(opt >> 2) & 7] : 1.0;
    o.copy_spread_us = (opt & 0x80) ? 1 : 0;
    o.seed = opt;
    arrival_src *src = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (trace_open_csv(&o, &src, &err) == 0) {
        (void)arrival_src_span_us(src);
        drain(src);
        arrival_src_free(src);
    } else if (err.code == 0 || !err.msg[0]) {
        abort(); /* every refusal says why */
    }
    return 0;
}

int fuzz_csv(const uint8_t *data, size_t size, const char *scratch_dir)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    char path[512];
    snprintf(path, sizeof(path), "%s/any.csv", scratch_dir);
    if (write_file(path, data, size, (mode & 1) != 0) < 0)
        return 0;
    csv_reader *r = NULL;
    gp_error err;
    gp_error_clear(&err);
    int rc = csv_open_any(path, &r, &err);
    if (rc == 0) {
        char cols[320];
        csv_list_cols(r, cols, sizeof(cols));
        for (size_t i = 0; i < csv_ncols(r); i++)
            if (csv_col_pos(r, i) < 1)
                abort();
        while ((rc = csv_next_row(r, &err)) == 1) {
            for (size_t i = 0; i < csv_ncols(r); i++) {
                double v;
                int64_t t;
                gp_error e2;
                if (csv_field_pos(r, i) < 1 || strlen(csv_field(r, i)) > CSV_MAX_RECORD_BYTES)
                    abort();
                (void)csv_field_nonneg(r, i, &v, &e2);
                (void)csv_field_iso_us(r, i, &t, &e2);
            }
        }
        csv_close(r);
    }
    if (rc < 0 && (err.code == 0 || !err.msg[0]))
        abort();           /* every refusal says why */
    if ((mode & 1) == 0) { /* a regression baseline */
        run_summary *runs = NULL;
        size_t n = 0;
        gp_error_clear(&err);
        if (report_read_csv(path, &runs, &n, &err) < 0 && !err.msg[0])
            abort();
        free(runs);
    }
    return 0;
}

static const int64_t window_values[] = {
    0, 1, 60000000, 600000000, 86400000000LL, 3600000000LL * 24 * 365 * 100, 1000, 0};

int fuzz_envelope(const uint8_t *data, size_t size, const char *scratch_dir)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0], opt = data[1];
    data += 2;
    size -= 2;
    char path[512];
    snprintf(path, sizeof(path), "%s/envelope.csv", scratch_dir);
    if (write_file(path, data, size, (mode & 1) != 0) < 0)
        return 0;
    char store[512];
    const char *cols[16];
    int n = sniff_header(data, size, store, sizeof(store), cols, 16);
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = path;
    o.time_col = pick_col(cols, n, "start", 0, "t");
    o.rate_col = pick_col(cols, n, "rate", 1, "rate");
    o.time_unit = (trace_time_unit)((mode >> 1) % 5);
    o.rate_per_window = (opt & 1) != 0;
    o.cv_col = (opt & 2) ? pick_col(cols, n, "cv", 2, "cv") : NULL;
    o.client_col = (opt & 4) ? pick_col(cols, n, "client", 3, "client") : NULL;
    if (opt & 8) {
        o.filter_col = pick_col(cols, n, "client", 4, "client");
        o.filter_value = "1";
    }
    o.gap_col = (opt & 0x10) ? pick_col(cols, n, "active", 5, "active_clients") : NULL;
    o.window_us = window_values[(mode >> 4) & 7];
    if (opt & 0x20) {
        o.start_us = window_values[(mode >> 5) & 7];
        o.end_us = o.start_us + window_values[(opt >> 5) & 7];
    }
    o.time_scale = (opt & 0x40) ? scale_values[(mode >> 2) & 7] : 1.0;
    o.rate_scale = (opt & 0x80) ? scale_values[(mode >> 3) & 7] : 1.0;
    o.seed = mode;
    gp_error err;
    gp_error_clear(&err);
    trace_stats st;
    if (trace_envelope_expected_stats(&o, 0, &st, &err) < 0 && !err.msg[0])
        abort();
    arrival_src *src = NULL;
    gp_error_clear(&err);
    if (trace_open_envelope(&o, &src, &err) == 0) {
        (void)arrival_src_span_us(src);
        drain(src);
        arrival_src_free(src);
    } else if (!err.msg[0]) {
        abort();
    }
    return 0;
}

/* ---------------------------------------------------------------- YAML */

static const char *const fuzz_keys[] = {"name",   "policy",   "config",  "replicas",  "pods",
                                        "target", "behavior", "scaleUp", "scaleDown", NULL};

/* Nodes the walk visits per input: an accepted alias expansion may hold up to
 * CFG_MAX_NODES nodes, and six conversions with error messages on each would turn a
 * 0.05 s load into a libFuzzer timeout that is the harness's, not the reader's. */
#define FUZZ_WALK_NODES 20000

static void walk(const cfg_node *n, int depth, long *budget)
{
    gp_error err;
    if (!n || depth > CFG_MAX_DEPTH + 1)
        abort(); /* the reader promised a depth limit */
    if (--*budget < 0)
        return;
    (void)cfg_node_path(n);
    (void)cfg_node_line(n);
    switch (cfg_node_kind(n)) {
    case CFG_SCALAR: {
        double d;
        int64_t i;
        bool b;
        int e;
        static const char *const names[] = {"a", "shared_queue", "least_conn", NULL};
        gp_error_clear(&err);
        (void)cfg_node_double(n, -1e300, 1e300, &d, &err);
        (void)cfg_node_int64(n, INT64_MIN, INT64_MAX, &i, &err);
        (void)cfg_node_duration_us(n, INT64_MIN, INT64_MAX, &i, &err);
        (void)cfg_node_duration_us(n, 0, 86400000000LL, &i, &err);
        (void)cfg_node_bool(n, &b, &err);
        (void)cfg_node_enum(n, names, &e, &err);
        (void)cfg_node_is_null(n);
        const char *s = cfg_scalar(n);
        if (!s)
            abort();
        (void)cfg_nearest(s, fuzz_keys);
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        break;
    }
    case CFG_SEQ:
        for (size_t k = 0; k < cfg_len(n); k++)
            walk(cfg_seq_at(n, k), depth + 1, budget);
        break;
    case CFG_MAP:
        gp_error_clear(&err);
        (void)cfg_check_keys(n, fuzz_keys, &err);
        for (size_t k = 0; k < cfg_len(n); k++) {
            const char *key = cfg_map_key_at(n, k);
            const cfg_node *v = cfg_map_value_at(n, k);
            /* lookups find a value stored under that key (merged keys may repeat) */
            if (!key || !cfg_map_get(n, key))
                abort();
            double d;
            (void)cfg_opt_double(n, key, 0, 1, &d, &err);
            walk(v, depth + 1, budget);
        }
        break;
    }
}

int fuzz_cfg(const uint8_t *data, size_t size, const char *scratch_dir)
{
    (void)scratch_dir;
    cfg_doc *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (cfg_load_string("fuzz.yaml", (const char *)data, size, &doc, &err) < 0) {
        if (!err.msg[0])
            abort();
        return 0;
    }
    long budget = FUZZ_WALK_NODES;
    if (cfg_root(doc))
        walk(cfg_root(doc), 0, &budget);
    cfg_free(doc);
    return 0;
}

/* ---------------------------------------------------------------- policies */

/* A small deterministic generator for observations, seeded from the input. */
static uint64_t next_u64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Metric values as a scrape may report them: ordinary ones, and what a live Prometheus
 * can answer (strtod of "1e300", "+Inf", "-1"): the driver passes them on unchanged. */
static double pick_value(uint64_t *s)
{
    static const double special[] = {0.0,   1.0,    0.5,     1e9,    -1.0,     1e-9,
                                     100.0, 3.0,    1e300,   -1e300, INFINITY, -INFINITY,
                                     1e18,  9.3e15, -9.3e15, 4e9};
    uint64_t r = next_u64(s);
    if ((r & 15) == 0)
        return NAN;
    if ((r & 15) == 1)
        return special[(r >> 4) & 15];
    return (double)((r >> 8) % 100000) / 1000.0;
}

/* Creates `ops` with `cfg`, asks it for FUZZ_TICKS decisions, destroys it. */
static void exercise_policy(const policy_ops *ops, const cfg_node *cfg, const policy_env *env,
                            uint64_t seed)
{
    void *state = NULL;
    policy_info info = {.sync_period_us = 15 * 1000000LL,
                        .flags = 0,
                        .initial_pods = -1,
                        .min_pods = -1,
                        .max_pods = -1};
    gp_error err;
    gp_error_clear(&err);
    if (ops->create(cfg, env, &state, &info, &err) < 0) {
        if (!err.msg[0])
            abort();
        return;
    }
    uint64_t s = seed | 1;
    pod_obs pods[8];
    int64_t step = info.sync_period_us > 0 && info.sync_period_us < 3600000000LL
                       ? info.sync_period_us
                       : 15000000;
    int spec = env->min_pods > 0 ? env->min_pods : 1;
    for (int t = 0; t < FUZZ_TICKS; t++) {
        policy_obs obs;
        memset(&obs, 0, sizeof(obs));
        obs.now_us = (int64_t)t * step;
        obs.scrape_us = obs.now_us - (int64_t)(next_u64(&s) % 15000000);
        obs.metrics_valid = (next_u64(&s) & 7) != 0;
        for (int m = 0; m < OBS_METRICS; m++)
            obs.metric[m] = pick_value(&s);
        obs.latency_samples = (uint32_t)(next_u64(&s) % 1000);
        obs.spec_replicas = spec;
        obs.min_pods = env->min_pods;
        obs.max_pods = env->max_pods;
        int n = spec < 8 ? spec : 8;
        for (int k = 0; k < n; k++) {
            pods[k].pod_id = (uint64_t)k;
            pods[k].state = (pod_state)(next_u64(&s) % 4);
            pods[k].created_us = 0;
            pods[k].ready_since_us = pods[k].state == POD_READY ? 0 : -1;
            pods[k].has_metrics = (next_u64(&s) & 3) != 0;
            pods[k].gpu_mem_frac = pick_value(&s);
            pods[k].gpu_util_frac = pick_value(&s);
            pods[k].in_flight = pick_value(&s);
            pods[k].concurrency = pick_value(&s);
            obs.pods[pods[k].state]++;
        }
        obs.n_pods = n;
        obs.pod = pods;
        policy_decision d;
        policy_decision_init(&d);
        gp_error_clear(&err);
        if (ops->on_arrival && (next_u64(&s) & 1)) {
            if (ops->on_arrival(state, &obs, &d, &err) < 0)
                break;
            policy_decision_init(&d);
        }
        if (ops->decide(state, &obs, &d, &err) < 0)
            break;
        if (d.desired_pods >= 0)
            spec = d.desired_pods < env->min_pods   ? env->min_pods
                   : d.desired_pods > env->max_pods ? env->max_pods
                                                    : d.desired_pods;
        if (spec < 0 || spec > 100000)
            abort();
    }
    ops->destroy(state);
}

static uint64_t hash_bytes(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    return h;
}

static double oracle_work(void *ctx, int64_t t0, int64_t t1)
{
    (void)ctx;
    return t1 > t0 ? (double)(t1 - t0) / 1e6 * 0.5 : 0.0;
}

static uint64_t oracle_arrivals(void *ctx, int64_t t0, int64_t t1)
{
    (void)ctx;
    return t1 > t0 ? (uint64_t)((t1 - t0) / 1000000) : 0;
}

int fuzz_policy(const uint8_t *data, size_t size, const char *scratch_dir)
{
    (void)scratch_dir;
    cfg_doc *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (cfg_load_string("policy.yaml", (const char *)data, size, &doc, &err) < 0)
        return 0;
    const cfg_node *root = cfg_root(doc);
    /* the configs to try: each `policies[i].config` of an experiment, a `config:`, or
     * the whole document */
    const cfg_node *cfgs[8];
    int n_cfgs = 0;
    const cfg_node *pol =
        root && cfg_node_kind(root) == CFG_MAP ? cfg_map_get(root, "policies") : NULL;
    if (pol && cfg_node_kind(pol) == CFG_SEQ) {
        for (size_t i = 0; i < cfg_len(pol) && n_cfgs < 8; i++) {
            const cfg_node *c = cfg_map_get(cfg_seq_at(pol, i), "config");
            if (c && cfg_node_kind(c) == CFG_MAP)
                cfgs[n_cfgs++] = c;
        }
    } else if (root && cfg_node_kind(root) == CFG_MAP && cfg_map_get(root, "config")) {
        cfgs[n_cfgs++] = cfg_map_get(root, "config");
    } else {
        cfgs[n_cfgs++] = root; /* may be NULL: defaults */
    }
    uint64_t h = hash_bytes(data, size);
    oracle_view ov = {NULL, oracle_work, oracle_arrivals, 86400000000LL};
    policy_env env = {.min_pods = (int)(h % 3),
                      .max_pods = 1 + (int)((h >> 8) % 16),
                      .concurrency = 1 + (int)((h >> 16) % 8),
                      .pod_capacity_per_s = 2.5,
                      .mean_demand_s = 2.0,
                      .cold_start_us = 27400000,
                      .scrape_interval_us = 15000000,
                      .seed = h,
                      .oracle = (h >> 24) & 1 ? &ov : NULL};
    if (env.min_pods > env.max_pods)
        env.min_pods = env.max_pods;
    const policy_ops *const *all = policy_all();
    for (int c = 0; c < n_cfgs; c++)
        for (size_t k = 0; all[k]; k++)
            exercise_policy(all[k], cfgs[c], &env, h + k);
    cfg_free(doc);
    return 0;
}

/* ---------------------------------------------------------------- experiments */

/* The scratch tree for experiments: DIR/experiments/x.yaml, with DIR/gpu pointing at
 * the repository's gpu/ so that the seeds' `profile: ../gpu/profiles/t4-seed` resolve. */
static int experiment_tree(const char *scratch_dir, char *yaml_path, size_t len)
{
    char p[600], cwd[512];
    snprintf(p, sizeof(p), "%s/experiments", scratch_dir);
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -1;
    snprintf(p, sizeof(p), "%s/gpu", scratch_dir);
    struct stat st;
    if (lstat(p, &st) < 0) {
        if (!getcwd(cwd, sizeof(cwd)))
            return -1;
        char target[600];
        snprintf(target, sizeof(target), "%s/gpu", cwd);
        if (symlink(target, p) < 0 && errno != EEXIST)
            return -1;
    }
    snprintf(yaml_path, len, "%s/experiments/x.yaml", scratch_dir);
    return 0;
}

/* The profile the experiment names must be a small regular file inside the scratch tree
 * or the repository: a fuzzed `profile: /dev/stdin` would block, /proc files lie
 * about their size. Returns true when experiment_load may open it. */
static bool profile_allowed(const char *yaml_path, const cfg_node *root, const char *scratch_dir)
{
    const char *prof = cfg_scalar(cfg_map_get(root, "profile"));
    if (!prof || !prof[0])
        return true; /* experiment_load reports it missing */
    char dir[704], full[1600], real[PATH_MAX], base[PATH_MAX], cwd[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", yaml_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (prof[0] == '/')
        snprintf(full, sizeof(full), "%s", prof);
    else
        snprintf(full, sizeof(full), "%s/%s", dir, prof);
    if (!realpath(full, real))
        return true; /* does not exist: an error path worth fuzzing */
    struct stat st;
    if (stat(real, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
        return false;
    if (realpath(scratch_dir, base) && strncmp(real, base, strlen(base)) == 0)
        return true;
    if (getcwd(cwd, sizeof(cwd)) && strncmp(real, cwd, strlen(cwd)) == 0)
        return true;
    return false;
}

int fuzz_experiment(const uint8_t *data, size_t size, const char *scratch_dir)
{
    char yaml_path[700];
    /* experiment_load reads the file as a C string: check what it will see */
    const uint8_t *nul = memchr(data, 0, size);
    if (nul)
        size = (size_t)(nul - data);
    if (experiment_tree(scratch_dir, yaml_path, sizeof(yaml_path)) < 0)
        return 0;
    cfg_doc *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    bool allowed = true;
    if (cfg_load_string(yaml_path, (const char *)data, size, &doc, &err) == 0) {
        const cfg_node *root = cfg_root(doc);
        if (root && cfg_node_kind(root) == CFG_MAP)
            allowed = profile_allowed(yaml_path, root, scratch_dir);
        cfg_free(doc);
    }
    if (!allowed || write_file(yaml_path, data, size, false) < 0)
        return 0;
    experiment *e = NULL;
    gp_error_clear(&err);
    if (experiment_load(yaml_path, &e, &err) < 0) {
        if (!err.msg[0])
            abort();
        return 0;
    }
    (void)experiment_inputs_hash(e);
    policy_env env;
    memset(&env, 0, sizeof(env));
    env.min_pods = e->cluster.min_pods;
    env.max_pods = e->cluster.max_pods;
    env.concurrency = e->cluster.concurrency;
    env.mean_demand_s = profile_demand_us(e->profile, 2.0, 1) / 1e6;
    env.pod_capacity_per_s =
        env.mean_demand_s > 0 ? profile_eff(e->profile, e->cluster.concurrency) / env.mean_demand_s
                              : 1.0;
    env.cold_start_us = 27400000;
    env.scrape_interval_us = e->metrics.scrape_interval_us;
    env.seed = e->seed;
    for (int i = 0; i < e->n_policies; i++) {
        sim_cfg sc;
        experiment_sim_cfg(e, i, e->replications - 1, &sc);
        exercise_policy(e->policy[i].ops, e->policy[i].config, &env, e->seed + (uint64_t)i);
    }
    experiment_free(e);
    return 0;
}

/* ---------------------------------------------------------------- profiles */

int fuzz_profile(const uint8_t *data, size_t size, const char *scratch_dir)
{
    (void)scratch_dir;
    char *text = text_copy(data, size);
    gpu_profile *p = malloc(sizeof(*p)), *q = malloc(sizeof(*q));
    if (!text || !p || !q)
        goto out;
    gp_error err;
    gp_error_clear(&err);
    if (profile_parse("fuzz-profile", text, p, &err) < 0) {
        if (!err.msg[0])
            abort();
        goto out;
    }
    static const double mps[] = {0.0, 0.1, 2.0, 24.0, 1e6};
    for (size_t i = 0; i < sizeof(mps) / sizeof(mps[0]); i++) {
        for (int faces = 0; faces < 3; faces++) {
            double d = profile_demand_us(p, mps[i], faces);
            double m = profile_req_mem_bytes(p, mps[i], faces);
            if (isnan(d) || isnan(m))
                abort();
        }
        for (int s = 0; s < p->n_stages; s++)
            (void)profile_stage_ms(p, &p->stage[s], mps[i]);
    }
    for (int n = 1; n < 80; n++)
        (void)profile_eff(p, n);
    (void)profile_jitter_factor(p, 0.5, 0.0);
    (void)profile_jitter_factor(p, 1e-12, 8.0);
    for (int k = 0; k < p->n_phases; k++) {
        (void)dist_sample(&p->phase[k].seconds, 0.5, 0.0);
        (void)dist_mean(&p->phase[k].seconds);
    }
    /* What parses must write and parse back (profile_write's contract). */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        goto out;
    int wrc = profile_write(p, f, &err);
    fclose(f);
    if (wrc == 0) {
        gp_error_clear(&err);
        if (profile_parse("rewritten", buf, q, &err) < 0) {
            fprintf(stderr, "profile_write output does not parse back: %s\n", err.msg);
            abort();
        }
    }
    free(buf);
out:
    free(text);
    free(p);
    free(q);
    return 0;
}

/* ---------------------------------------------------------------- live driver */

/* The bytes as a network answer: a Prometheus instant-query body (cluster and per-pod),
 * a URL, a scale command. Refused samples are NaN, usable ones finite and >= 0. */
static void drive_wire(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    http_resp r = {.status = 200, .body = text, .len = size};
    for (int per_pod = 0; per_pod < 2; per_pod++) {
        prom_sample *s = NULL;
        size_t n = 0;
        char why[256] = "";
        if (prom_parse(&r, "q", per_pod != 0, &s, &n, why, sizeof(why)) == 0) {
            for (size_t i = 0; i < n; i++)
                if (s[i].refused ? !isnan(s[i].value) : !(s[i].value >= 0 && isfinite(s[i].value)))
                    abort();
        } else if (!why[0]) {
            abort();
        }
        free(s);
    }
    char why[256] = "";
    bool https, loopback;
    if (http_url_parse(text, &https, &loopback, why, sizeof(why)) < 0 && !why[0])
        abort();
    why[0] = '\0';
    if (command_check(text, false, why, sizeof(why)) < 0 && !why[0])
        abort();
    free(text);
}

int fuzz_drive(const uint8_t *data, size_t size, const char *scratch_dir)
{
    drive_wire(data, size);
    char path[600];
    snprintf(path, sizeof(path), "%s/drive.yaml", scratch_dir);
    if (write_file(path, data, size, false) < 0)
        return 0;
    chmod(path, 0600);
    /* the driver's own configuration */
    drive_cfg c;
    gp_error err;
    gp_error_clear(&err);
    if (drive_cfg_load(path, &c, &err) == 0) {
        drive_cfg_free(&c);
    } else {
        if (!err.msg[0])
            abort();
        drive_cfg_free(&c);
    }
    /* the same bytes as a kubeconfig; tokenFile paths may name anything, so only those
     * inside the scratch directory are followed */
    cfg_doc *doc = NULL;
    gp_error_clear(&err);
    if (cfg_load_string(path, (const char *)data, size, &doc, &err) < 0)
        return 0;
    bool token_file = contains(data, size, "tokenFile");
    cfg_free(doc);
    if (token_file)
        return 0;
    kube_access k;
    char why[512];
    if (kube_access_load(path, NULL, false, NULL, NULL, NULL, &k, why, sizeof(why)) == 0)
        kube_access_free(&k);
    else if (!why[0])
        abort();
    return 0;
}

/* ---------------------------------------------------------------- weight files */

/* Every failure must say why: a reader that fails silently is a bug here. */
static void need_message(int rc, const gp_error *err)
{
    if (rc && !err->msg[0])
        abort();
}

int fuzz_weights(const uint8_t *data, size_t size, const char *scratch_dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/weights.safetensors", scratch_dir);
    if (write_file(path, data, size, false) < 0)
        return 0;
    gp_error err;
    gp_error_clear(&err);
    safetensors_file f;
    int rc = safetensors_open(path, &f, &err);
    need_message(rc, &err);
    if (rc == 0) {
        for (int i = 0; i < f.n_tensors; i++) {
            size_t n = safetensors_count(&f.tensor[i]);
            if (n > ((size_t)1 << 20))
                continue;
            float *d = malloc((n ? n : 1) * sizeof(float));
            if (!d)
                break;
            gp_error_clear(&err);
            need_message(safetensors_read_f32(&f, &f.tensor[i], d, n, &err), &err);
            free(d);
        }
        safetensors_close(&f);
    }
    gpen_config small = {64, 32, 2, 1, 1.0 / 16, 0.01};
    gpen_model m;
    gp_error_clear(&err);
    rc = gpen_model_load(&m, &small, path, &err);
    need_message(rc, &err);
    if (rc == 0)
        gpen_model_free(&m);
    for (int k = 0; k < 2; k++) {
        pipe_net net;
        gp_error_clear(&err);
        rc = pipe_net_open(k ? PIPE_PARSENET : PIPE_RETINAFACE, 16, path, 1, &net, &err);
        need_message(rc, &err);
        pipe_net_free(&net); /* a no-op after a failed open */
    }
    return 0;
}

fuzz_target_fn fuzz_target_find(const char *name)
{
    static const struct {
        const char *name;
        fuzz_target_fn fn;
    } table[] = {
        {"trace_csv", fuzz_trace_csv},   {"envelope", fuzz_envelope}, {"cfg", fuzz_cfg},
        {"experiment", fuzz_experiment}, {"policy", fuzz_policy},     {"profile", fuzz_profile},
        {"drive", fuzz_drive},           {"weights", fuzz_weights},   {"csv", fuzz_csv}};
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].fn;
    return NULL;
}
