/* test_limits.c: hostile sizes are refused with one clear line (file, line, field), not a
 * crash, a hang or an out-of-memory kill: a trace line over 1 MiB, numbers that overflow,
 * time spans that would run past the microsecond clock (trace times, durations,
 * time_scale), pod, GPU, replication and slot counts beyond their bounds, traces too
 * large for memory (with the size stated), and YAML that expands beyond the reader's
 * node, depth or byte budgets; /dev/zero, FIFOs and sparse files end at once. Inputs are
 * built in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "lab/experiment.h"
#include "profile/profile.h"
#include "traces/trace.h"
#include "tests/testutil.h"

static char tmp_dir[256];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(tmp_dir, sizeof(tmp_dir), "limits");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmp_dir);
}

static const char *tmp_path(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp_dir, name);
    return buf[k];
}

/* The formatted one-line error must contain every fragment in `want` ('|'-separated). */
static void expect_error(const char *row, int rc, const gp_error *e, int want_code,
                         const char *want)
{
    char line[1200];
    gp_error_format(e, line, sizeof(line));
    if (rc != want_code)
        fail_msg("%s: got code %d want %d (%s)", row, rc, want_code, line);
    if (strchr(line, '\n'))
        fail_msg("%s: the error is not one line: %s", row, line);
    char frags[512];
    snprintf(frags, sizeof(frags), "%s", want);
    for (char *save = NULL, *f = strtok_r(frags, "|", &save); f; f = strtok_r(NULL, "|", &save))
        if (!strstr(line, f))
            fail_msg("%s: '%s' not in the error: %s", row, f, line);
}

/* ---- recorded traces ---- */

static int open_csv(const char *path, double time_scale, uint64_t max_rows, gp_error *e)
{
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = path;
    o.time_col = "t";
    o.mp_col = "mp";
    o.time_scale = time_scale;
    o.max_rows = max_rows;
    arrival_src *s = NULL;
    gp_error_clear(e);
    int rc = trace_open_csv(&o, &s, e);
    arrival_src_free(s);
    return rc;
}

static void test_trace_line_too_long(void **state)
{
    (void)state;
    /* one physical line of 1 MiB + 100 bytes, then a quoted field spanning lines */
    size_t n = (1u << 20) + 100;
    char *text = malloc(n + 64);
    assert_non_null(text);
    size_t h = (size_t)snprintf(text, 64, "t,mp\n1,2\n");
    memset(text + h, '7', n);
    strcpy(text + h + n, ",2\n");
    tu_write_text(tmp_path("long.csv"), text);
    gp_error e;
    int rc = open_csv(tmp_path("long.csv"), 1, 0, &e);
    expect_error("physical line", rc, &e, GP_ELIMIT, "long.csv:3|line longer than 1048576 bytes");
    h = (size_t)snprintf(text, 64, "t,mp\n1,2\n\"");
    for (size_t i = 0; i < n; i += 100) {
        memset(text + h + i, 'x', 99);
        text[h + i + 99] = '\n';
    }
    strcpy(text + h + n, "\",2\n");
    tu_write_text(tmp_path("quoted.csv"), text);
    rc = open_csv(tmp_path("quoted.csv"), 1, 0, &e);
    expect_error("quoted record", rc, &e, GP_ELIMIT,
                 "quoted.csv:3|record longer than 1048576 bytes");
    free(text);
}

static void test_trace_numbers_overflow(void **state)
{
    (void)state;
    static const struct {
        const char *name, *body;
        int code;
        const char *want;
    } rows[] = {
        {"time 1e300 s", "t,mp\n0,2\n1e300,2\n", GP_ERANGE, "n.csv:3|column 't'|too large"},
        {"time 1e309 s", "t,mp\n0,2\n1e309,2\n", GP_ERANGE, "n.csv:3|column 't'|infinite"},
        {"time 30 digits", "t,mp\n0,2\n123456789012345678901234567890,2\n", GP_ERANGE,
         "n.csv:3|column 't'|too large"},
        {"mp 1e400", "t,mp\n0,2\n1,1e400\n", GP_ERANGE, "n.csv:3|column 'mp'|infinite"},
        {"mp 1e7", "t,mp\n0,2\n1,1e7\n", GP_ERANGE, "n.csv:3|column 'mp'|(0, 1e6]"},
        {"year 10000", "t,mp\n2025-01-01 00:00:00,2\n10000-01-01 00:00:00,2\n", GP_EPARSE,
         "n.csv:3|column 't'|date-time"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tu_write_text(tmp_path("n.csv"), rows[i].body);
        gp_error e;
        int rc = open_csv(tmp_path("n.csv"), 1, 0, &e);
        expect_error(rows[i].name, rc, &e, rows[i].code, rows[i].want);
    }
}

static void test_trace_span_overflow(void **state)
{
    (void)state;
    static const struct {
        const char *name, *body;
        double time_scale;
        int code; /* 0: opens */
        const char *want;
    } rows[] = {
        {"a day at 1e-6", "t,mp\n0,2\n86400,2\n", 1e-6, GP_ERANGE,
         "s.csv|time_scale|2.74e+03 years"},
        {"a day at 1e-3", "t,mp\n0,2\n86400,2\n", 1e-3, 0, NULL},
        {"4e12 s at 1", "t,mp\n0,2\n4e12,2\n", 1, GP_ERANGE, "s.csv|time_scale|years"},
        {"9999 years of dates", "t,mp\n0001-01-01,2\n9999-12-31 23:59:59,2\n", 1, GP_ERANGE,
         "s.csv|time_scale|beyond the simulator's limit of 100 years"},
        {"dates at 1e9", "t,mp\n0001-01-01,2\n9999-12-31 23:59:59,2\n", 1e9, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tu_write_text(tmp_path("s.csv"), rows[i].body);
        gp_error e;
        int rc = open_csv(tmp_path("s.csv"), rows[i].time_scale, 0, &e);
        if (rows[i].code == 0) {
            if (rc != 0)
                fail_msg("%s: got %d want 0 (%s)", rows[i].name, rc, e.msg);
            continue;
        }
        expect_error(rows[i].name, rc, &e, rows[i].code, rows[i].want);
    }
}

static void test_trace_too_large(void **state)
{
    (void)state;
    FILE *f = fopen(tmp_path("big.csv"), "wb");
    assert_non_null(f);
    fprintf(f, "t,mp\n");
    for (int i = 0; i < 1001; i++)
        fprintf(f, "%d,2\n", i);
    fclose(f);
    gp_error e;
    int rc = open_csv(tmp_path("big.csv"), 1, 1001, &e);
    assert_int_equal(rc, 0);
    rc = open_csv(tmp_path("big.csv"), 1, 1000, &e);
    expect_error("1001 rows, limit 1000", rc, &e, GP_ELIMIT,
                 "big.csv:1002|trace too large: more than 1000 rows|MiB in memory");
    /* the default: 50 million rows, stated in MiB (about 1.9 GiB while loading) */
    assert_true(TRACE_MAX_ROWS == 50000000u);

    f = fopen(tmp_path("env.csv"), "wb");
    assert_non_null(f);
    fprintf(f, "t,rate\n");
    for (int i = 0; i < 101; i++)
        fprintf(f, "%d,1\n", i * 60);
    fclose(f);
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = tmp_path("env.csv");
    o.time_col = "t";
    o.rate_col = "rate";
    o.max_rows = 100;
    arrival_src *s = NULL;
    gp_error_clear(&e);
    rc = trace_open_envelope(&o, &s, &e);
    expect_error("envelope 101 rows, limit 100", rc, &e, GP_ELIMIT,
                 "env.csv:102|envelope too large: more than 100 rows|MiB in memory");
    o.max_rows = 0;
    o.time_scale = 1e-6; /* 101 minutes at 1e-6: 192 years */
    gp_error_clear(&e);
    rc = trace_open_envelope(&o, &s, &e);
    expect_error("envelope span at 1e-6", rc, &e, GP_ERANGE, "env.csv|time_scale|192 years");
    o.time_scale = 1;
    rc = trace_open_envelope(&o, &s, &e);
    assert_int_equal(rc, 0);
    arrival_src_free(s);
}

/* ---- experiment files ---- */

/* A valid experiment with `body` appended (each row overrides one part), loaded: NULL
 * with *rc < 0 and e filled on an error. */
static experiment *load_with(const char *name, const char *body, gp_error *e, int *rc)
{
    char cwd[400], text[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        fail_msg("getcwd");
    snprintf(text, sizeof(text),
             "name: lim\nprofile: %s/gpu/profiles/t4-seed\n"
             "policies: [{label: s, policy: static, config: {pods: 1}}]\n%s",
             cwd, body);
    tu_write_text(tmp_path(name), text);
    experiment *x = NULL;
    gp_error_clear(e);
    *rc = experiment_load(tmp_path(name), &x, e);
    return x;
}

static int load_experiment(const char *name, const char *body, gp_error *e)
{
    int rc;
    experiment_free(load_with(name, body, e, &rc));
    return rc;
}

static void test_experiment_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *name, *body;
        int code; /* 0: loads */
        const char *want;
    } rows[] = {
        {"baseline", "workload: {type: poisson, rate_per_s: 1, duration: 1m}\n", 0, NULL},
        {"replications 10000",
         "replications: 10000\nworkload: {type: poisson, rate_per_s: 1, duration: 1m}\n", 0, NULL},
        {"replications 10001",
         "replications: 10001\nworkload: {type: poisson, rate_per_s: 1, duration: 1m}\n", GP_ERANGE,
         "x.yaml:4:15: replications: expected an integer in [1, 10000]"},
        {"replications 2^64",
         "replications: 18446744073709551616\nworkload: {type: poisson, rate_per_s: 1, duration: "
         "1m}\n",
         GP_ERANGE,
         "x.yaml:4:15: replications: integer \"18446744073709551616\" does not fit in 64 bits"},
        {"seed 2^64",
         "seed: 18446744073709551616\nworkload: {type: poisson, rate_per_s: 1, duration: 1m}\n",
         GP_ERANGE, "x.yaml:4:7: seed:|does not fit in 64 bits"},
        {"max_pods 100001",
         "workload: {type: poisson, rate_per_s: 1, duration: 1m}\ncluster: {max_pods: 100001}\n",
         GP_ERANGE, "x.yaml:5:21: cluster.max_pods: expected an integer in [1, 100000]"},
        {"gpus 100001",
         "workload: {type: poisson, rate_per_s: 1, duration: 1m}\ncluster: {gpus: 100001}\n",
         GP_ERANGE, "x.yaml:5:17: cluster.gpus: expected an integer in [1, 100000]"},
        {"slots 100000 x 1000",
         "workload: {type: poisson, rate_per_s: 1, duration: 1m}\n"
         "cluster: {max_pods: 100000, concurrency: 1000}\n",
         GP_ERANGE, "x.yaml:5:42: cluster.concurrency: max_pods x concurrency = 100000 x 1000"},
        {"slots 1000 x 1000",
         "workload: {type: poisson, rate_per_s: 1, duration: 1m}\n"
         "cluster: {gpus: 1000, max_pods: 1000, concurrency: 1000}\n",
         0, NULL},
        {"timeout none",
         "workload: {type: poisson, rate_per_s: 1, duration: 1m}\n"
         "cluster: {timeout: none}\n",
         0, NULL},
        {"timeout never",
         "workload: {type: poisson, rate_per_s: 1, duration: 1m}\n"
         "cluster: {timeout: never}\n",
         GP_EPARSE, "x.yaml:5:20: cluster.timeout:"},
        {"users 1000001", "users: {count: 1000001, duration: 1h}\n", GP_ERANGE,
         "x.yaml:4:16: users.count: expected an integer in [0, 1000000]"},
        {"duration overflow",
         "workload: {type: poisson, rate_per_s: 1, duration: 99999999999999999999h}\n", GP_ERANGE,
         "x.yaml:4:52: workload.duration: duration \"99999999999999999999h\" is too long"},
        {"duration past int64 us",
         "workload: {type: poisson, rate_per_s: 1, duration: 2562048000h}\n", GP_ERANGE,
         "x.yaml:4:52: workload.duration: duration \"2562048000h\" is too long"},
        {"duration beyond a century",
         "workload: {type: poisson, rate_per_s: 1, duration: 900000h}\n", GP_ERANGE,
         "x.yaml:4:52: workload.duration: expected a duration in"},
        {"time_scale 1e-7",
         "workload: {type: trace, path: t.csv, time_column: t, time_scale: 1e-7}\n", GP_ERANGE,
         "x.yaml:4:66: workload.time_scale: expected a number in [1e-06, 1000000]"},
        {"rate 1e10", "workload: {type: poisson, rate_per_s: 1e10, duration: 1m}\n", GP_ERANGE,
         "x.yaml:4:39: workload.rate_per_s: expected a number in [0, 1000000000]"},
        {"tidal 36501 days", "workload: {type: tidal, days: 36501, peak_rate_per_s: 1}\n",
         GP_ERANGE, "x.yaml:4:31: workload.days: expected an integer in [1, 36500]"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_error e;
        int rc = load_experiment("x.yaml", rows[i].body, &e);
        if (rows[i].code == 0) {
            if (rc != 0)
                fail_msg("%s: got %d want 0 (%s)", rows[i].name, rc, e.msg);
            continue;
        }
        expect_error(rows[i].name, rc, &e, rows[i].code, rows[i].want);
    }
}

/* ---- YAML budgets ---- */

/* Appends printf output to a growing buffer. */
static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = *cap * 2 + (size_t)n;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            fail_msg("out of memory");
    }
}

static void test_yaml_budgets(void **state)
{
    (void)state;
    size_t cap = 1 << 16, len;
    char *y = malloc(cap);
    assert_non_null(y);
    cfg_doc *doc;
    gp_error e;
    int rc;

    /* a 100 KB key copied by 3000 aliases: 300 MB of paths, refused at 256 MiB */
    len = 0;
    y[0] = '\0';
    append(&y, &len, &cap, "a: &a\n  ? ");
    for (int i = 0; i < 100000; i++)
        append(&y, &len, &cap, "k");
    append(&y, &len, &cap, "\n  : 1\nb: [");
    for (int i = 0; i < 3000; i++)
        append(&y, &len, &cap, "%s*a", i ? ", " : "");
    append(&y, &len, &cap, "]\n");
    gp_error_clear(&e);
    rc = cfg_load_string("longkey.yaml", y, len, &doc, &e);
    expect_error("long key x aliases", rc, &e, GP_ELIMIT,
                 "longkey.yaml:4:|document expands to more than 256 MiB");

    /* "<<: [*a, *a, ...]" over a 1000-key map 990 times: accepted, each key once, and
     * (since the merged keys are deduplicated through a hash set) quickly */
    len = 0;
    y[0] = '\0';
    append(&y, &len, &cap, "a: &a {");
    for (int i = 0; i < 1000; i++)
        append(&y, &len, &cap, "%sk%d: %d", i ? ", " : "", i, i);
    append(&y, &len, &cap, "}\nb: {k5: own, <<: [");
    for (int i = 0; i < 990; i++)
        append(&y, &len, &cap, "%s*a", i ? ", " : "");
    append(&y, &len, &cap, "]}\n");
    gp_error_clear(&e);
    rc = cfg_load_string("merge.yaml", y, len, &doc, &e);
    if (rc != 0)
        fail_msg("merge: %s", e.msg);
    const cfg_node *b = cfg_map_get(cfg_root(doc), "b");
    assert_int_equal(cfg_len(b), 1000);
    assert_string_equal(cfg_scalar(cfg_map_get(b, "k5")), "own");
    assert_string_equal(cfg_scalar(cfg_map_get(b, "k999")), "999");
    cfg_free(doc);

    /* a billion laughs: refused at the node budget */
    len = 0;
    y[0] = '\0';
    append(&y, &len, &cap, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 9; i++) {
        append(&y, &len, &cap, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++)
            append(&y, &len, &cap, "%s*a%d", k ? ", " : "", i - 1);
        append(&y, &len, &cap, "]\n");
    }
    gp_error_clear(&e);
    rc = cfg_load_string("laughs.yaml", y, len, &doc, &e);
    expect_error("billion laughs", rc, &e, GP_ELIMIT,
                 "laughs.yaml:6:|document expands to more than 1000000 nodes");

    /* nesting: a node CFG_MAX_DEPTH levels below the root loads, one deeper is refused */
    for (int extra = 0; extra < 2; extra++) {
        len = 0;
        y[0] = '\0';
        int levels = CFG_MAX_DEPTH + 1 + extra;
        for (int i = 0; i < levels; i++)
            append(&y, &len, &cap, "[");
        for (int i = 0; i < levels; i++)
            append(&y, &len, &cap, "]");
        gp_error_clear(&e);
        rc = cfg_load_string("deep.yaml", y, len, &doc, &e);
        if (extra == 0) {
            if (rc != 0)
                fail_msg("%d levels: %s", levels, e.msg);
            cfg_free(doc);
        } else {
            expect_error("one level too deep", rc, &e, GP_ELIMIT,
                         "deep.yaml:1:|nesting deeper than 64 levels");
        }
    }
    free(y);
}

/* ---- endless inputs (issue 13) ---- */

static int load_experiment_at(const char *path, gp_error *e)
{
    experiment *x = NULL;
    gp_error_clear(e);
    int rc = experiment_load(path, &x, e);
    experiment_free(x);
    return rc;
}

static int load_profile(const char *path, gp_error *e)
{
    gpu_profile *p = malloc(sizeof(*p));
    assert_non_null(p);
    gp_error_clear(e);
    int rc = profile_load(path, p, e);
    free(p);
    return rc;
}

/* /dev/zero, a FIFO (with or without a writer) and a 3 GiB sparse file end with one clear
 * error at once, in every reader. `gpenlab trace stats /dev/zero` used to run forever, a
 * FIFO blocked the open, and a sparse file was read to its end (15 s for 3 GB, then "no
 * header line"). An alarm turns a hang into a failure. */
static void test_endless_inputs(void **state)
{
    (void)state;
    const char *fifo = tmp_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char sparse[512];
    snprintf(sparse, sizeof(sparse), "%s", tmp_path("sparse.csv"));
    FILE *f = fopen(sparse, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)3 << 30), 0);
    fclose(f);
    alarm(60);
    for (int writer = 0; writer < 2; writer++) {
        pid_t pid = -1;
        if (writer) { /* a writer that holds the FIFO open and never writes */
            fflush(NULL);
            pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                int fd = open(fifo, O_WRONLY);
                (void)fd;
                pause();
                _exit(0);
            }
        }
        static const struct {
            const char *path;
            const char *want;
        } inputs[] = {{"/dev/zero", "a device, not a regular file"},
                      {NULL, "a FIFO (named pipe), not a regular file"}};
        for (size_t i = 0; i < 2; i++) {
            const char *path = inputs[i].path ? inputs[i].path : fifo;
            gp_error e;
            int rc = open_csv(path, 1, 0, &e);
            expect_error("trace", rc, &e, GP_EIO, inputs[i].want);
            rc = load_experiment_at(path, &e);
            expect_error("experiment", rc, &e, GP_EIO, inputs[i].want);
            rc = load_profile(path, &e);
            expect_error("profile", rc, &e, GP_EIO, inputs[i].want);
            cfg_doc *doc = NULL;
            gp_error_clear(&e);
            rc = cfg_load_file(path, &doc, &e);
            expect_error("yaml", rc, &e, GP_EIO, inputs[i].want);
            cfg_free(doc);
        }
        if (pid > 0) {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
    }
    gp_error e;
    int rc = open_csv(sparse, 1, 0, &e);
    expect_error("sparse trace", rc, &e, GP_EPARSE, "sparse.csv:1:1: NUL byte");
    rc = load_experiment_at(sparse, &e);
    expect_error("sparse experiment", rc, &e, GP_ELIMIT, "file larger than");
    rc = load_profile(sparse, &e);
    expect_error("sparse profile", rc, &e, GP_ELIMIT, "larger than");
    alarm(0);
}

/* ---- rows kept per run (issue 13 point 4) ---- */

/* Loads an experiment like load_experiment and runs its first policy once. */
static int run_once(const char *name, const char *body, gp_error *e)
{
    int rc;
    experiment *x = load_with(name, body, e, &rc);
    if (rc == 0) {
        sim_cfg cfg;
        experiment_sim_cfg(x, 0, 0, &cfg);
        run_summary sum;
        run_series series = {0};
        request_log log = {0};
        rc = sim_run(&cfg, &sum, cfg.record_series ? &series : NULL,
                     cfg.record_requests ? &log : NULL, e);
        run_series_free(&series);
        request_log_free(&log);
    }
    experiment_free(x);
    return rc;
}

/* A 1 ms scrape interval over a day (8.6 GB of series rows), ten years of tidal days, or
 * every request of ten years kept: each refused before the run starts, naming the option
 * that raises the limit (they used to grow memory without limit). The options raise it;
 * and a log at its cap stops the run there. An alarm turns a run that starts into a
 * failure. */
static void test_row_limits(void **state)
{
    (void)state;
    static const struct {
        const char *name, *body;
        int code;
        const char *want;
    } rows[] = {
        {"1 ms scrape",
         "workload: {type: poisson, rate_per_s: 1, duration: 24h}\n"
         "metrics: {scrape_interval: 1ms}\n",
         GP_ELIMIT,
         "output.max_series_rows: 1 days at a 0.001 s scrape interval is about 86430001"},
        {"ten years",
         "workload: {type: tidal, days: 3650, trough_rate_per_s: 0.1, peak_rate_per_s: 1}\n",
         GP_ELIMIT, "output.max_series_rows: 3.65e+03 days at a 15 s scrape"},
        {"ten years of requests",
         "workload: {type: tidal, days: 3650, trough_rate_per_s: 0.1, peak_rate_per_s: 1}\n"
         "output: {series: false, requests: true}\n",
         GP_ELIMIT, "output.max_request_rows: about 1"},
        {"a lower series limit",
         "workload: {type: poisson, rate_per_s: 1, duration: 1h}\n"
         "metrics: {scrape_interval: 1s}\noutput: {max_series_rows: 1000}\n",
         GP_ELIMIT, "output.max_series_rows: 0.042 days at a 1 s scrape interval is about 3631"},
        {"raised",
         "workload: {type: poisson, rate_per_s: 1, duration: 1h}\n"
         "metrics: {scrape_interval: 1s}\noutput: {max_series_rows: 4000}\n",
         0, NULL},
        {"a lower request limit",
         "workload: {type: poisson, rate_per_s: 1, duration: 1h}\n"
         "output: {requests: true, max_request_rows: 100}\n",
         GP_ELIMIT, "output.max_request_rows: about 3600 requests"},
        {"bad option",
         "workload: {type: poisson, rate_per_s: 1, duration: 1h}\n"
         "output: {max_series_rows: 0}\n",
         GP_ERANGE, "output.max_series_rows"},
    };
    alarm(60);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_error e;
        int rc = run_once("rows.yaml", rows[i].body, &e);
        if (rows[i].code == 0) {
            if (rc != 0)
                fail_msg("%s: %d %s", rows[i].name, rc, e.msg);
            continue;
        }
        expect_error(rows[i].name, rc, &e, rows[i].code, rows[i].want);
    }
    alarm(0);
    /* the hard cap while a run goes on */
    run_series s = {.max_rows = 2};
    series_row r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(run_series_push(&s, &r), 0);
    assert_int_equal(run_series_push(&s, &r), 0);
    assert_int_equal(run_series_push(&s, &r), GP_ELIMIT);
    run_series_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_line_too_long), cmocka_unit_test(test_trace_numbers_overflow),
        cmocka_unit_test(test_trace_span_overflow), cmocka_unit_test(test_trace_too_large),
        cmocka_unit_test(test_experiment_bounds),   cmocka_unit_test(test_yaml_budgets),
        cmocka_unit_test(test_endless_inputs),      cmocka_unit_test(test_row_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
