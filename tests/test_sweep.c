/* test_sweep.c: sweep files into points (grid, Latin hypercube), bad sweep files with
 * their places, the same results with 1 and 2 worker processes (common random numbers,
 * paired), and a sweep killed with SIGKILL midway that resumes with every unit present
 * exactly once and equal to an uninterrupted sweep; SIGTERM or SIGINT to the command stops
 * its workers and the sweep resumes. Files live in a fresh /tmp dir. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lab/sweep.h"
#include "tests/testutil.h"

static char tmpdir[64];
static char profile[PATH_MAX];

static int setup_dir(void **state)
{
    (void)state;
    if (!realpath("gpu/profiles/t4-seed", profile))
        return -1;
    return tu_mkdtemp(tmpdir, sizeof(tmpdir), "sweep-t");
}

static int remove_dir(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir);
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    tu_write_text(path, text);
}

/* A base experiment: a short tidal day (a few tens of ms per run). */
static void write_base(const char *name, double peak)
{
    char text[PATH_MAX + 1024];
    snprintf(text, sizeof(text),
             "name: base\nseed: 11\nreplications: 2\nprofile: %s\n"
             "workload: {type: tidal, days: 1, trough_rate_per_s: 0.05, peak_rate_per_s: %g,\n"
             "  peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20, width_h: 2, rel: 1.0}]}\n"
             "cluster: {gpus: 4, min_pods: 1, max_pods: 4, concurrency: 5}\n"
             "policies:\n"
             "  - {label: st, policy: static, config: {pods: 2}}\n"
             "  - {label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 4}}\n",
             profile, peak);
    write_file(name, text);
}

static experiment *point_ok(const sweep *sw, size_t p)
{
    experiment *x = NULL;
    gp_error e;
    gp_error_clear(&e);
    if (sweep_point_experiment(sw, p, &x, &e) != 0) {
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        fail_msg("point %zu: %s", p, line);
    }
    return x;
}

static sweep *load_ok(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    sweep *sw = NULL;
    gp_error e;
    gp_error_clear(&e);
    int rc = sweep_load(path, &sw, &e);
    if (rc != 0) {
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        fail_msg("sweep_load %s: %d %s", name, rc, line);
    }
    return sw;
}

static void test_grid_points(void **state)
{
    (void)state;
    write_base("base.yaml", 0.6);
    write_file("grid.yaml",
               "name: g\nbase: base.yaml\npolicy: rule\nreplications: 3\n"
               "parameters:\n"
               "  - {path: config.scale_up_queue_len, values: [4, 8]}\n"
               "  - {path: cluster.max_pods, range: [2, 4], steps: 3, integer: true}\n"
               "objective: {minimise: gpu_hours, constraints: [{metric: p99_s, max: 30}]}\n");
    sweep *sw = load_ok("grid.yaml");
    assert_int_equal(sweep_n_points(sw), 6);
    assert_int_equal(sweep_replications(sw), 3);
    assert_int_equal(sweep_n_units(sw), 18);
    /* last parameter fastest: point 4 = (8, 3), set on the point's entry (rule) only */
    experiment *x = point_ok(sw, 4);
    int pi = sweep_point_policy(sw, 4);
    assert_string_equal(x->policy[pi].label, "rule");
    const char *q = cfg_scalar(cfg_map_get(x->policy[pi].config, "scale_up_queue_len"));
    if (!q || strcmp(q, "8") != 0 || x->cluster.max_pods != 3)
        fail_msg("point 4: queue_len %s max_pods %d, want 8 and 3", q ? q : "(none)",
                 x->cluster.max_pods);
    if (cfg_map_get(x->policy[0].config, "scale_up_queue_len"))
        fail_msg("point 4 set the value on the other policy entry too");
    assert_string_equal(x->name, "g-p0004");
    if (!strstr(x->overlay_text, "scale_up_queue_len=\"8\""))
        fail_msg("point 4's identity lacks its value: %s", x->overlay_text);
    experiment_free(x);
    sweep_free(sw);
}

static void test_lhs_strata(void **state)
{
    (void)state;
    write_base("base.yaml", 0.6);
    write_file("lhs.yaml",
               "name: l\nbase: base.yaml\npolicy: rule\ndesign: lhs\nsamples: 10\nsample_seed: 3\n"
               "parameters:\n"
               "  - {path: config.scale_up_queue_len, range: [1, 11]}\n"
               "  - {path: config.scale_up_p95_s, range: [2, 3]}\n"
               "objective: {minimise: cost}\n");
    sweep *sw = load_ok("lhs.yaml");
    assert_int_equal(sweep_n_points(sw), 10);
    /* each parameter: one value in each of the 10 strata */
    int seen[2][10] = {{0}};
    for (size_t p = 0; p < 10; p++) {
        experiment *x = point_ok(sw, p);
        const cfg_node *cfg = x->policy[sweep_point_policy(sw, p)].config;
        const char *keys[2] = {"scale_up_queue_len", "scale_up_p95_s"};
        const double lo[2] = {1, 2}, width[2] = {10, 1};
        for (int k = 0; k < 2; k++) {
            const char *at = cfg_scalar(cfg_map_get(cfg, keys[k]));
            if (!at)
                fail_msg("point %zu: no %s", p, keys[k]);
            double v = atof(at);
            int stratum = (int)((v - lo[k]) / width[k] * 10);
            if (stratum < 0 || stratum > 9)
                fail_msg("point %zu param %d: %g outside the range", p, k, v);
            seen[k][stratum]++;
        }
        experiment_free(x);
    }
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 10; s++)
            if (seen[k][s] != 1)
                fail_msg("param %d stratum %d: %d points, want 1", k, s, seen[k][s]);
    sweep_free(sw);
}

static void test_bad_files(void **state)
{
    (void)state;
    write_base("base.yaml", 0.6);
    static const struct {
        const char *name, *text, *want_msg;
        int want;
    } rows[] = {
        {"unknown metric",
         "base: base.yaml\nparameters: [{path: cluster.max_pods, values: [2]}]\n"
         "objective: {minimise: gpu_hourz}\n",
         "unknown metric", GP_EUNKNOWN},
        {"unknown key, checked as in the file",
         "base: base.yaml\n"
         "parameters: [{path: config.a.b, values: [2]}]\n"
         "objective: {minimise: cost}\n",
         "unknown key 'a'", GP_EUNKNOWN},
        {"unknown policy label",
         "base: base.yaml\nparameters: [{path: policy, values: [st, nope]}]\n"
         "objective: {minimise: cost}\n",
         "no policy entry labelled \"nope\"", GP_EUNKNOWN},
        {"values and range",
         "base: base.yaml\nparameters: [{path: cluster.max_pods, values: [2], "
         "range: [1, 2]}]\nobjective: {minimise: cost}\n",
         "not both", GP_EPARSE},
        {"unknown policy",
         "base: base.yaml\npolicy: nope\nparameters: [{path: cluster.max_pods, "
         "values: [2]}]\nobjective: {minimise: cost}\n",
         "no policy entry", GP_EUNKNOWN},
        {"no objective", "base: base.yaml\nparameters: [{path: cluster.max_pods, values: [2]}]\n",
         "objective", GP_EMISSING},
        {"seed set by the sweep",
         "base: base.yaml\nparameters: [{path: seed, values: [2]}]\n"
         "objective: {minimise: cost}\n",
         "set by the sweep", GP_ERANGE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        write_file("bad.yaml", rows[i].text);
        char path[256];
        snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
        sweep *sw = NULL;
        gp_error e;
        gp_error_clear(&e);
        int rc = sweep_load(path, &sw, &e);
        if (rc != rows[i].want || !strstr(e.msg, rows[i].want_msg))
            fail_msg("%s: got %d \"%s\" want %d \"%s\"", rows[i].name, rc, e.msg, rows[i].want,
                     rows[i].want_msg);
        if (sw)
            fail_msg("%s: a sweep was returned", rows[i].name);
    }
}

static int64_t count_runs(const char *db_path)
{
    sqlite3 *db = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, "SELECT COUNT(*), COUNT(DISTINCT run_key) FROM runs", -1, &st,
                               NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            n = sqlite3_column_int64(st, 0);
            if (sqlite3_column_int64(st, 1) != n)
                n = -2; /* a run key twice */
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* p99 and gpu_seconds of every run, ordered by key, as text. */
static char *dump_runs(const char *db_path)
{
    sqlite3 *db = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT e.name, r.label, r.replication, r.lat_p99_s, "
                               "r.gpu_seconds, r.completed FROM runs r JOIN experiments e ON "
                               "e.id = r.experiment_id ORDER BY e.name, r.replication",
                               -1, &st, NULL) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW)
                fprintf(f, "%s %s %d %.17g %.17g %lld\n", sqlite3_column_text(st, 0),
                        sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
                        sqlite3_column_double(st, 3), sqlite3_column_double(st, 4),
                        (long long)sqlite3_column_int64(st, 5));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    fclose(f);
    return buf;
}

static void write_killable(const char *name, const char *db)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "name: k\nbase: base.yaml\npolicy: rule\nreplications: 4\ndb: %s\n"
             "parameters:\n  - {path: config.scale_up_queue_len, values: [2, 4, 8, 16, 32, 64]}\n"
             "objective: {minimise: gpu_hours}\n",
             db);
    write_file(name, text);
}

static void run_sweep_ok(sweep *sw, int jobs, sweep_run_stats *st)
{
    gp_error e;
    gp_error_clear(&e);
    int rc = sweep_run_local(sw, jobs, NULL, st, &e);
    if (rc != 0) {
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        fail_msg("sweep_run_local -j%d: %d %s", jobs, rc, line);
    }
}

static void test_jobs_same_results(void **state)
{
    (void)state;
    write_base("base.yaml", 1.2);
    write_killable("j1.yaml", "j1.db");
    write_killable("j2.yaml", "j2.db");
    sweep *a = load_ok("j1.yaml"), *b = load_ok("j2.yaml");
    sweep_run_stats sa, sb;
    run_sweep_ok(a, 1, &sa);
    run_sweep_ok(b, 2, &sb);
    assert_int_equal(sa.ran, 24);
    assert_int_equal(sb.ran, 24);
    char pa[256], pb[256];
    snprintf(pa, sizeof(pa), "%s/j1.db", tmpdir);
    snprintf(pb, sizeof(pb), "%s/j2.db", tmpdir);
    char *da = dump_runs(pa), *db = dump_runs(pb);
    if (strcmp(da, db) != 0)
        fail_msg("-j1 and -j2 differ:\n%s\n---\n%s", da, db);
    free(da);
    free(db);
    /* a rerun resumes everything and simulates nothing */
    run_sweep_ok(b, 2, &sb);
    assert_int_equal(sb.ran, 0);
    assert_int_equal(sb.resumed, 24);
    sweep_free(a);
    sweep_free(b);
}

/* "T4 or H100; the static entry or the rule?" is one sweep: the profile (a path relative
 * to the sweep file) and the policy entry (by label) are parameters like any other. Each
 * point runs its own entry on its own profile. */
static void test_vary_profile_and_policy(void **state)
{
    (void)state;
    write_base("base.yaml", 1.2);
    /* a second profile beside the sweep file: t4-seed under another card name */
    FILE *in = fopen(profile, "r");
    assert_non_null(in);
    char text[32768];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *card = strstr(text, "\ncard ");
    assert_non_null(card);
    char slow[33000];
    snprintf(slow, sizeof(slow), "%.*s\ncard \"slow card\"\n#%s", (int)(card - text), text,
             card + 1);
    write_file("slow.profile", slow);
    char sweep_text[PATH_MAX + 512];
    snprintf(sweep_text, sizeof(sweep_text),
             "name: pp\nbase: base.yaml\nreplications: 2\ndb: pp.db\n"
             "parameters:\n  - {path: profile, values: [\"%s\", slow.profile]}\n"
             "  - {path: policy, values: [st, rule]}\n"
             "objective: {minimise: gpu_hours}\n",
             profile);
    write_file("pp.yaml", sweep_text);
    sweep *sw = load_ok("pp.yaml");
    assert_int_equal(sweep_n_points(sw), 4);
    static const struct {
        const char *label, *card;
    } want[] = {{"st", NULL}, {"rule", NULL}, {"st", "slow card"}, {"rule", "slow card"}};
    for (size_t p = 0; p < 4; p++) {
        experiment *x = point_ok(sw, p);
        const char *label = x->policy[sweep_point_policy(sw, p)].label;
        if (strcmp(label, want[p].label) != 0)
            fail_msg("point %zu runs %s, want %s", p, label, want[p].label);
        if (want[p].card && strcmp(x->profile->card, want[p].card) != 0)
            fail_msg("point %zu: card %s, want %s (slow.profile beside the sweep file)", p,
                     x->profile->card, want[p].card);
        if (!want[p].card && strcmp(x->profile->card, "slow card") == 0)
            fail_msg("point %zu: the slow profile, want the base's", p);
        experiment_free(x);
    }
    sweep_run_stats st;
    run_sweep_ok(sw, 2, &st);
    assert_int_equal(st.ran, 8);
    /* each point's runs carry its entry's label */
    char dbp[300];
    snprintf(dbp, sizeof(dbp), "%s/pp.db", tmpdir);
    char *runs = dump_runs(dbp);
    if (!strstr(runs, "pp-p0000 st ") || !strstr(runs, "pp-p0001 rule ") ||
        !strstr(runs, "pp-p0003 rule "))
        fail_msg("the points did not run their entries:\n%s", runs);
    free(runs);
    sweep_free(sw);
}

static void test_sigkill_resume(void **state)
{
    (void)state;
    write_base("base.yaml", 1.2);
    write_killable("kill.yaml", "kill.db");
    write_killable("whole.yaml", "whole.db");
    char kdb[256], wdb[256];
    snprintf(kdb, sizeof(kdb), "%s/kill.db", tmpdir);
    snprintf(wdb, sizeof(wdb), "%s/whole.db", tmpdir);
    sweep *sw = load_ok("kill.yaml");
    /* The pool's workers write the database themselves. As a subreaper this test
     * inherits them when the killed sweep dies, so it can wait until every one is
     * gone before it counts; otherwise a worker still finishing its commit lands a
     * unit after the count. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* its own process group, so the kill takes the pool too */
        setpgid(0, 0);
        sweep_run_stats st;
        gp_error e;
        _exit(sweep_run_local(sw, 2, NULL, &st, &e) == 0 ? 0 : 1);
    }
    setpgid(pid, pid);
    int64_t n = 0;
    for (int i = 0; i < 3000 && n < 3; i++) { /* up to 60 s */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        n = count_runs(kdb);
    }
    kill(-pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    while (waitpid(-pid, NULL, 0) > 0 || errno == EINTR) /* the pool's workers, reparented here */
        ;
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    int64_t before = count_runs(kdb);
    if (before < 3 || before >= 24)
        fail_msg("the kill did not land midway: %lld of 24 units done", (long long)before);
    sweep_run_stats st;
    run_sweep_ok(sw, 2, &st);
    if ((int64_t)st.resumed != before || st.ran + st.resumed != 24)
        fail_msg("resume: ran %zu resumed %zu, %lld were done before", st.ran, st.resumed,
                 (long long)before);
    assert_int_equal(count_runs(kdb), 24);
    /* the same as a sweep never interrupted */
    sweep *whole = load_ok("whole.yaml");
    run_sweep_ok(whole, 1, &st);
    char *a = dump_runs(kdb), *b = dump_runs(wdb);
    /* both sweep files are named k: the experiments match by name */
    if (strcmp(a, b) != 0) {
        size_t k = 0;
        while (a[k] && a[k] == b[k])
            k++;
        fail_msg(
            "resumed sweep differs from an uninterrupted one at byte %zu:\n%.200s\n---\n%.200s", k,
            a + (k > 80 ? k - 80 : 0), b + (k > 80 ? k - 80 : 0));
    }
    free(a);
    free(b);
    /* and the report reads every point */
    char csv[256], plot[256];
    snprintf(csv, sizeof(csv), "%s/kill.csv", tmpdir);
    snprintf(plot, sizeof(plot), "%s/kill-pareto", tmpdir);
    FILE *out = fopen("/dev/null", "w");
    gp_error e;
    gp_error_clear(&e);
    int rc = sweep_report(sw, out, csv, plot, &e);
    fclose(out);
    if (rc != 0)
        fail_msg("report after resume: %d %s", rc, e.msg);
    sweep_free(whole);
    sweep_free(sw);
}

/* SIGTERM or SIGINT to `gpenlab sweep` (the parent only, as `kill PID` sends it) stops its
 * workers: the command exits 130 with every process of its group gone, the finished units
 * stay, and a rerun resumes them. (The workers used to be left running, re-parented to
 * init, until every unit was done.) */
static void test_signal_stops_workers(void **state)
{
    (void)state;
    char abs_bin[PATH_MAX];
    tu_bin_path("gpenlab", abs_bin, sizeof(abs_bin));
    write_base("base.yaml", 1.2);
    static const struct {
        int sig, jobs;
    } rows[] = {{SIGTERM, 2}, {SIGINT, 2}, {SIGTERM, 1}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char name[64], dbname[64], db[256], path[256];
        snprintf(name, sizeof(name), "sig%zu.yaml", i);
        snprintf(dbname, sizeof(dbname), "sig%zu.db", i);
        snprintf(db, sizeof(db), "%s/%s", tmpdir, dbname);
        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        char text[1024];
        snprintf(text, sizeof(text),
                 "name: sig\nbase: base.yaml\npolicy: rule\nreplications: 4\ndb: %s\n"
                 "parameters:\n  - {path: config.scale_up_queue_len, values: [2, 3, 4, 5, 6, 7, 8, "
                 "9]}\n"
                 "objective: {minimise: gpu_hours}\n",
                 dbname);
        write_file(name, text);
        char jobs[8];
        snprintf(jobs, sizeof(jobs), "%d", rows[i].jobs);
        /* its own process group: the test can see whether any of it lives */
        gp_proc *p = tu_proc_start(
            &(gp_proc_spec){.argv = (const char *const[]){abs_bin, "sweep", path, "-j", jobs, NULL},
                            .own_group = true});
        pid_t pid = gp_proc_pid(p);
        int64_t n = 0;
        for (int k = 0; k < 3000 && n < 2; k++) { /* up to 60 s */
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            n = count_runs(db);
        }
        kill(pid, rows[i].sig); /* the parent only, as `kill PID` sends it */
        gp_proc_result r;
        assert_int_equal(gp_proc_wait(p, -1, &r), 1);
        gp_proc_free(p);
        if (!r.exited || r.exit_code != 130) {
            char how[128];
            gp_proc_describe(&r, how, sizeof(how));
            fail_msg("signal %d, -j%d: %s (want exit 130)", rows[i].sig, rows[i].jobs, how);
        }
        if (kill(-pid, 0) == 0 || errno != ESRCH) {
            kill(-pid, SIGKILL);
            fail_msg("signal %d, -j%d: a worker outlived the sweep", rows[i].sig, rows[i].jobs);
        }
        int64_t before = count_runs(db);
        if (before < 2 || before >= 32)
            fail_msg("signal %d, -j%d: did not land midway: %lld of 32 units done", rows[i].sig,
                     rows[i].jobs, (long long)before);
        sweep *sw = load_ok(name);
        sweep_run_stats st;
        run_sweep_ok(sw, 2, &st);
        if ((int64_t)st.resumed != before || st.ran + st.resumed != 32)
            fail_msg("resume: ran %zu resumed %zu, %lld were done before", st.ran, st.resumed,
                     (long long)before);
        sweep_free(sw);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_points),
        cmocka_unit_test(test_lhs_strata),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_jobs_same_results),
        cmocka_unit_test(test_vary_profile_and_policy),
        cmocka_unit_test(test_sigkill_resume),
        cmocka_unit_test(test_signal_stops_workers),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
