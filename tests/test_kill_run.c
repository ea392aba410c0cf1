/* test_kill_run.c: results survive SIGKILL. `gpenlab run` (300 short runs, every request
 * logged) and `gpenlab sweep -j 2` are killed with SIGKILL at several random moments;
 * after each kill the database must pass PRAGMA integrity_check and foreign_key_check and
 * hold only complete runs (each run's request rows number its `arrived`, its series rows
 * are numbered 0..n-1), and no run may be lost by a later kill. A final rerun completes
 * the rest: every run is then present exactly once and equal to an uninterrupted run's.
 * The kill moments are drawn from [0, 0.9 x the uninterrupted time] with a seed printed
 * on failure (GPENLAB_KILL_SEED=N repeats it). Needs GPENLAB_BIN (scripts/run_tests.sh). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/testutil.h"
#include <sqlite3.h>

#define KILLS         8
#define RUNS_EXPECTED 300 /* 3 policies x 100 replications */
#define SWEEP_UNITS   48  /* 6 points x 8 replications */

static char tmp_dir[256];
static unsigned kill_seed;

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/gpenlab-kill-XXXXXX");
    if (!mkdtemp(tmp_dir))
        return -1;
    /* A killed sweep's workers are reparented here, so finish() can wait for them */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        return -1;
    const char *s = getenv("GPENLAB_KILL_SEED");
    kill_seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmp_dir);
}

static const char *path_in(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp_dir, name);
    return buf[k];
}

static void write_text(const char *name, const char *text) { tu_write_text(path_in(name), text); }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts `bin args...` in the temporary directory, in its own process group (so a kill
 * takes a sweep's pool too), output to LOG there. */
static gp_proc *start(const char *const *argv, const char *log)
{
    char log_path[512]; /* not path_in's: its buffers hold the caller's database path */
    snprintf(log_path, sizeof(log_path), "%s/%s", tmp_dir, log);
    return tu_proc_start(&(gp_proc_spec){.argv = argv,
                                         .cwd = tmp_dir,
                                         .out = GP_PROC_FILE,
                                         .out_path = log_path,
                                         .err = GP_PROC_STDOUT,
                                         .own_group = true});
}

/* Waits for the group leader, then for its workers (reparented here, the test being
 * a subreaper): none may still be committing when the database is checked. Frees p. */
static gp_proc_result finish(gp_proc *p)
{
    pid_t pid = gp_proc_pid(p);
    gp_proc_result r;
    gp_proc_wait(p, -1, &r);
    gp_proc_free(p);
    while (waitpid(-pid, NULL, 0) > 0 || errno == EINTR)
        ;
    return r;
}

/* Runs to completion; fails the test unless it exits 0. Returns the wall time. */
static double run_whole(const char *const *argv, const char *what)
{
    double t0 = now_s();
    gp_proc_result r = finish(start(argv, "whole.log"));
    if (!gp_proc_ok(&r)) {
        char *log = tu_slurp(path_in("whole.log")), how[128];
        print_error("%s\n", log ? log : "(no log)");
        free(log);
        gp_proc_describe(&r, how, sizeof(how));
        fail_msg("%s: did not complete (%s)", what, how);
    }
    return now_s() - t0;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* The checks after a kill: integrity, and only complete runs. Returns the run count. */
static int64_t check_db(const char *db_path, const char *when, bool with_log)
{
    struct stat stt;
    if (stat(db_path, &stt) != 0)
        return 0; /* killed before the database was created */
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("%s: cannot open %s: %s", when, db_path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: integrity_check: %s", when, sqlite3_errmsg(db));
    if (sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        fail_msg("%s: integrity_check says %s", when,
                 sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "?");
    sqlite3_finalize(st);
    int64_t runs = query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'runs'");
    if (runs <= 0) {
        sqlite3_close(db);
        return 0; /* killed while the schema was being created (its transaction undone) */
    }
    if (query_int(db, "SELECT count(*) FROM pragma_foreign_key_check") != 0)
        fail_msg("%s: foreign_key_check reports rows", when);
    runs = query_int(db, "SELECT count(*) FROM runs");
    /* series rows numbered 0..n-1 (a run records them or, as sweeps do, none at all) */
    int64_t torn_series = query_int(
        db,
        "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM series s WHERE s.run_id = r.id) "
        "!= (SELECT coalesce(max(seq), -1) + 1 FROM series s WHERE s.run_id = r.id)");
    if (torn_series != 0)
        fail_msg("%s: %lld runs with partial series", when, (long long)torn_series);
    if (with_log) {
        int64_t bare = query_int(db, "SELECT count(*) FROM runs r WHERE NOT EXISTS "
                                     "(SELECT 1 FROM series s WHERE s.run_id = r.id)");
        if (bare != 0)
            fail_msg("%s: %lld runs without their series", when, (long long)bare);
        int64_t torn = query_int(db, "SELECT count(*) FROM runs r WHERE arrived != "
                                     "(SELECT count(*) FROM requests q WHERE q.run_id = r.id)");
        if (torn != 0)
            fail_msg("%s: %lld runs whose request rows do not match `arrived`", when,
                     (long long)torn);
    }
    int64_t dup = query_int(db, "SELECT count(*) FROM (SELECT experiment_id, label, replication "
                                "FROM runs GROUP BY 1, 2, 3 HAVING count(*) > 1)");
    if (dup != 0)
        fail_msg("%s: %lld runs stored twice", when, (long long)dup);
    sqlite3_close(db);
    return runs;
}

/* The runs' results, comparable across databases (no ids, no wall time). */
static char *dump(const char *db_path)
{
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("cannot open %s", db_path);
    sqlite3_stmt *st;
    const char *sql = "SELECT e.yaml_text, r.label, r.replication, r.seed, r.arrived, r.completed, "
                      "r.timed_out, r.lat_mean_s, r.gpu_seconds, r.events FROM runs r "
                      "JOIN experiments e ON e.id = r.experiment_id "
                      "ORDER BY e.yaml_text, r.label, r.replication";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("dump: %s", sqlite3_errmsg(db));
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            size_t need = len + (v ? strlen(v) : 4) + 4;
            if (need > cap) {
                cap = need * 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            len += (size_t)sprintf(out + len, "%s%s", v ? v : "NULL",
                                   c + 1 < sqlite3_column_count(st) ? "|" : "\n");
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void compare(const char *what, const char *killed_db, const char *whole_db)
{
    char *a = dump(killed_db), *b = dump(whole_db);
    if (strcmp(a, b) != 0) {
        size_t k = 0;
        while (a[k] && a[k] == b[k])
            k++;
        fail_msg("%s (seed %u): the resumed results differ from an uninterrupted run at byte "
                 "%zu:\n%.160s\n---\n%.160s",
                 what, kill_seed, k, a + (k > 60 ? k - 60 : 0), b + (k > 60 ? k - 60 : 0));
    }
    free(a);
    free(b);
}

/* Kills `argv` KILLS times at random moments, checking the database after each; returns
 * how many kills landed before the command finished by itself. Each attempt resumes the
 * last, so a moment is drawn from [0, 0.9 x the time the remaining runs take]. */
static int kill_cycles(const char *const *argv, const char *db, double full_s, int64_t total,
                       bool requests, const char *what)
{
    unsigned rnd = kill_seed;
    int64_t before = 0;
    int landed = 0;
    for (int k = 0; k < KILLS; k++) {
        rnd = rnd * 1103515245u + 12345u;
        double frac = (double)((rnd >> 8) % 10000) / 10000.0;
        double left_s = full_s * (double)(total - before) / (double)total;
        double delay = 0.9 * left_s * frac;
        /* the first kill lands early (schema, first transaction), the rest anywhere */
        if (k == 0)
            delay = 0.02 * full_s;
        gp_proc *p = start(argv, "kill.log");
        pid_t pid = gp_proc_pid(p);
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        gp_proc_result r;
        if (gp_proc_wait(p, 0, &r) == 0) { /* still running: the kill lands */
            gp_proc_signal(p, SIGKILL);
            r = finish(p);
            if (r.signal_no == SIGKILL)
                landed++;
        } else {
            gp_proc_free(p);
            while (waitpid(-pid, NULL, WNOHANG) > 0)
                ;
        }
        char when[160];
        snprintf(when, sizeof(when), "%s, kill %d at %.3f s (seed %u)", what, k + 1, delay,
                 kill_seed);
        int64_t runs = check_db(db, when, requests);
        if (runs < before)
            fail_msg("%s: %lld runs, %lld before this kill: a kill lost runs", when,
                     (long long)runs, (long long)before);
        before = runs;
    }
    return landed;
}

/* The gpenlab binary under test; skips the test where scripts/run_tests.sh did not say. */
static const char *gpenlab_bin_or_skip(void)
{
    const char *bin = getenv("GPENLAB_BIN");
    if (!bin) {
        print_message("SKIP: GPENLAB_BIN is not set (scripts/run_tests.sh sets it)\n");
        skip();
    }
    return bin;
}

static void test_run_sigkill(void **state)
{
    (void)state;
    const char *bin = gpenlab_bin_or_skip();
    char cwd[400], text[2048];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(text, sizeof(text),
             "name: kill\nseed: 7\nreplications: 100\nprofile: %s/gpu/profiles/t4-seed\n"
             "workload: {type: poisson, rate_per_s: 2, duration: 5m}\n"
             "cluster: {gpus: 4, min_pods: 1, max_pods: 4, concurrency: 5}\n"
             "policies:\n"
             "  - {label: s2, policy: static, config: {pods: 2}}\n"
             "  - {label: s3, policy: static, config: {pods: 3}}\n"
             "  - {label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 4}}\n"
             "output: {series: true}\n",
             cwd);
    write_text("kill.yaml", text);
    const char *whole[] = {bin,        "run",        "kill.yaml", "--db",
                           "whole.db", "--requests", "--quiet",   NULL};
    double full_s = run_whole(whole, "uninterrupted run");
    assert_int_equal(check_db(path_in("whole.db"), "uninterrupted", true), RUNS_EXPECTED);

    const char *killed[] = {bin,       "run",        "kill.yaml", "--db",
                            "kill.db", "--requests", "--quiet",   NULL};
    int landed =
        kill_cycles(killed, path_in("kill.db"), full_s, RUNS_EXPECTED, true, "gpenlab run");
    int64_t done = check_db(path_in("kill.db"), "after the kills", true);
    print_message("gpenlab run: %d of %d kills landed mid-run (full run %.2f s, seed %u); "
                  "%lld of %d runs done before the rerun\n",
                  landed, KILLS, full_s, kill_seed, (long long)done, RUNS_EXPECTED);
    if (landed < KILLS / 2)
        fail_msg("only %d of %d kills landed before the run finished (seed %u)", landed, KILLS,
                 kill_seed);
    run_whole(killed, "rerun after the kills");
    assert_int_equal(check_db(path_in("kill.db"), "after the rerun", true), RUNS_EXPECTED);
    compare("gpenlab run", path_in("kill.db"), path_in("whole.db"));
}

static void test_sweep_sigkill(void **state)
{
    (void)state;
    const char *bin = gpenlab_bin_or_skip();
    char cwd[400], text[2048];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(text, sizeof(text),
             "name: sbase\nseed: 3\nprofile: %s/gpu/profiles/t4-seed\n"
             "workload: {type: poisson, rate_per_s: 2, duration: 3h}\n"
             "cluster: {gpus: 4, min_pods: 1, max_pods: 4, concurrency: 5}\n"
             "policies: [{label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 4}}]\n",
             cwd);
    write_text("sbase.yaml", text);
    for (int k = 0; k < 2; k++) {
        snprintf(
            text, sizeof(text),
            "name: skill\nbase: sbase.yaml\npolicy: rule\nreplications: 8\ndb: %s\n"
            "parameters:\n  - {path: config.scale_up_queue_len, values: [2, 4, 8, 16, 32, 64]}\n"
            "objective: {minimise: gpu_hours}\n",
            k ? "skill.db" : "swhole.db");
        write_text(k ? "skill.yaml" : "swhole.yaml", text);
    }
    const char *whole[] = {bin, "sweep", "swhole.yaml", "-j", "2", NULL};
    double full_s = run_whole(whole, "uninterrupted sweep");
    assert_int_equal(check_db(path_in("swhole.db"), "uninterrupted sweep", false), SWEEP_UNITS);
    const char *killed[] = {bin, "sweep", "skill.yaml", "-j", "2", NULL};
    int landed =
        kill_cycles(killed, path_in("skill.db"), full_s, SWEEP_UNITS, false, "gpenlab sweep -j 2");
    int64_t done = check_db(path_in("skill.db"), "after the sweep kills", false);
    print_message("gpenlab sweep -j 2: %d of %d kills landed (full sweep %.2f s, seed %u); "
                  "%lld of %d units done before the rerun\n",
                  landed, KILLS, full_s, kill_seed, (long long)done, SWEEP_UNITS);
    if (landed < KILLS / 2)
        fail_msg("only %d of %d sweep kills landed before it finished (seed %u)", landed, KILLS,
                 kill_seed);
    run_whole(killed, "sweep rerun after the kills");
    assert_int_equal(check_db(path_in("skill.db"), "after the sweep rerun", false), SWEEP_UNITS);
    /* the two sweep files differ only in their database: the point experiments match */
    compare("gpenlab sweep", path_in("skill.db"), path_in("swhole.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_sigkill),
        cmocka_unit_test(test_sweep_sigkill),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
