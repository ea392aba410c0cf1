/* test_run_jobs.c: `gpenlab run -j N` (lab_opts.jobs): the runs on worker processes give
 * the database exactly what one process gives: the same runs in the same order (ids),
 * every field but the wall time equal, the same series and per-request rows; a rerun
 * with more replications resumes, running only the new ones. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/experiment.h"
#include "lab/lab.h"
#include "lab/results_db.h"
#include "tests/testutil.h"

/* Runs the experiment with `jobs` workers and `reps` replications into db. */
static void run(const char *yaml, const char *db, int jobs, int reps)
{
    experiment *e = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (experiment_load(yaml, &e, &err) < 0)
        fail_msg("experiment: %s", err.msg);
    lab_opts o;
    lab_opts_default(&o);
    o.db_path = db;
    o.quiet = true;
    o.jobs = jobs;
    o.replications = reps;
    o.record_requests = 1;
    if (lab_run(e, &o, stdout, &err) < 0)
        fail_msg("lab_run -j%d: %s", jobs, err.msg);
    experiment_free(e);
}

static void read_all(const char *db_path, run_summary **runs, size_t *n)
{
    results_db *db = NULL;
    gp_error err;
    if (results_db_open(db_path, &db, &err) < 0)
        fail_msg("%s: %s", db_path, err.msg);
    if (results_db_read_runs(db, 1, runs, n, &err) < 0)
        fail_msg("%s: %s", db_path, err.msg);
    results_db_close(db);
}

static void test_jobs_same_database(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpenlab-test-jobs-XXXXXX", yaml[200], db1[200], db3[200], cwd[400];
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    char text[2000];
    snprintf(text, sizeof(text),
             "name: jobs\nseed: 5\nreplications: 3\nprofile: %s/gpu/profiles/t4-seed\n"
             "workload: {type: poisson, rate_per_s: 3, duration: 20m}\n"
             "cluster: {gpus: 4, min_pods: 1, max_pods: 4, concurrency: 2, timeout: 20s}\n"
             "policies:\n  - {label: two, policy: static, config: {pods: 2}}\n"
             "  - {label: four, policy: static, config: {pods: 4}}\n"
             "  - {label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 4}}\n"
             "output: {series: true}\n",
             cwd);
    snprintf(yaml, sizeof(yaml), "%s/jobs.yaml", dir);
    tu_write_text(yaml, text);
    snprintf(db1, sizeof(db1), "%s/j1.db", dir);
    snprintf(db3, sizeof(db3), "%s/j3.db", dir);
    run(yaml, db1, 1, 3);
    run(yaml, db3, 1, 1); /* one replication first: the rest resume under -j3 */
    run(yaml, db3, 3, 3);

    run_summary *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    read_all(db1, &a, &na);
    read_all(db3, &b, &nb);
    assert_int_equal(na, 9);
    assert_int_equal(nb, 9);
    results_db *d1 = NULL, *d3 = NULL;
    gp_error err;
    assert_int_equal(results_db_open(db1, &d1, &err), 0);
    assert_int_equal(results_db_open(db3, &d3, &err), 0);
    /* -j1 writes in (policy, replication) order; the resumed database has replication 0
       of each policy first, then the rest in the same order */
    for (size_t i = 0; i < na; i++) {
        const run_summary *x = &a[i];
        const run_summary *y = NULL;
        for (size_t k = 0; k < nb; k++)
            if (strcmp(b[k].label, x->label) == 0 && b[k].replication == x->replication)
                y = &b[k];
        if (!y)
            fail_msg("run %s r%d missing under -j3", x->label, x->replication);
        run_summary xa = *x, yb = *y;
        xa.wall_s = yb.wall_s = 0;
        if (memcmp(&xa, &yb, sizeof(xa)) != 0)
            fail_msg("run %s r%d differs under -j3", x->label, x->replication);
        char key[256];
        results_db_run_key(key, sizeof(key), 1, x->label, x->replication, x->seed);
        request_log l1 = {0}, l3 = {0};
        run_series s1 = {0}, s3 = {0};
        assert_int_equal(results_db_read_requests(d1, key, &l1, &err), 0);
        assert_int_equal(results_db_read_requests(d3, key, &l3, &err), 0);
        assert_int_equal(results_db_read_series(d1, key, &s1, &err), 0);
        assert_int_equal(results_db_read_series(d3, key, &s3, &err), 0);
        assert_true(l1.n > 1000);
        assert_int_equal(l1.n, l3.n);
        assert_int_equal(s1.n, s3.n);
        if (memcmp(l1.row, l3.row, l1.n * sizeof(l1.row[0])) != 0)
            fail_msg("requests of %s r%d differ under -j3", x->label, x->replication);
        if (memcmp(s1.row, s3.row, s1.n * sizeof(s1.row[0])) != 0)
            fail_msg("series of %s r%d differ under -j3", x->label, x->replication);
        request_log_free(&l1), request_log_free(&l3);
        run_series_free(&s1), run_series_free(&s3);
    }
    results_db_close(d1);
    results_db_close(d3);
    free(a);
    free(b);

    /* from scratch, -j3 writes the very order of -j1 */
    char db3b[200];
    snprintf(db3b, sizeof(db3b), "%s/j3b.db", dir);
    run(yaml, db3b, 3, 3);
    read_all(db3b, &b, &nb);
    read_all(db1, &a, &na);
    assert_int_equal(nb, na);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].label, b[i].label);
        assert_int_equal(a[i].replication, b[i].replication);
    }
    free(a);
    free(b);
    DIR *d = opendir(dir); /* the experiment, the databases and their WAL files */
    assert_non_null(d);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char p[400];
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, ent->d_name);
        unlink(p);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_same_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
