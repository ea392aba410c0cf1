/* test_experiment_files.c: every YAML file under experiments/ loads from the repository
 * alone (issue 12): an experiment parses, every file it reads (the GPU profile, a trace
 * or envelope) and every file it writes (database, CSV) lies inside the repository, and
 * its workload opens and yields a first arrival; a sweep file loads with its base. A
 * path that leaves the repository (../shared, an absolute path elsewhere) fails the row
 * that names the file. A live driver's configuration kept with a validation run is no
 * input of the simulator and is skipped. Run from the repository root, like every test. */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/experiment.h"
#include "lab/sweep.h"
#include "tests/testutil.h"

#define MAX_FILES 128

typedef struct file_list {
    char path[MAX_FILES][PATH_MAX];
    int n;
} file_list;

static void collect_yaml(const char *dir, file_list *fl)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) < 0)
            continue;
        size_t len = strlen(de->d_name);
        if (S_ISDIR(st.st_mode)) {
            collect_yaml(p, fl);
        } else if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0) {
            if (fl->n >= MAX_FILES)
                fail_msg("more than %d experiment files: raise MAX_FILES", MAX_FILES);
            snprintf(fl->path[fl->n++], PATH_MAX, "%s", p);
        }
    }
    closedir(d);
}

/* The absolute, lexically normalised form of `path` (the file need not exist). */
static void normalise(const char *path, char *out, size_t len)
{
    char joined[2 * PATH_MAX];
    if (path[0] == '/') {
        snprintf(joined, sizeof(joined), "%s", path);
    } else {
        char cwd[PATH_MAX];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        snprintf(joined, sizeof(joined), "%s/%s", cwd, path);
    }
    char *parts[PATH_MAX / 2];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(joined, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (n > 0)
                n--;
            continue;
        }
        parts[n++] = tok;
    }
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(out + at, len - at, "/%s", parts[i]);
}

/* Fails the row `file` when `what` (a path the experiment reads or writes) lies outside
 * the repository root. */
static void inside_repo(const char *file, const char *what, const char *path)
{
    if (!path[0])
        return;
    char root[PATH_MAX], abs[PATH_MAX];
    normalise(".", root, sizeof(root));
    normalise(path, abs, sizeof(abs));
    size_t n = strlen(root);
    if (strncmp(abs, root, n) != 0 || abs[n] != '/')
        fail_msg("%s: %s %s lies outside the repository %s", file, what, path, root);
}

static void fail_err(const char *file, const char *what, const gp_error *err)
{
    char label[600];
    snprintf(label, sizeof(label), "%s: %s", file, what);
    tu_fail_error(err, label);
}

/* The workload's files lie inside the repository, and it yields a first arrival. */
static void check_workload(const char *file, const workload_spec *w, uint64_t seed)
{
    if (w->type == WORKLOAD_TRACE || w->type == WORKLOAD_ENVELOPE)
        inside_repo(file, "workload.path", w->path);
    arrival_src *src = NULL;
    request_spec first;
    gp_error err;
    int rc = workload_open(w, seed, &src, &err);
    if (rc == 0)
        rc = arrival_src_next(src, &first, &err);
    arrival_src_free(src);
    if (rc < 0)
        fail_err(file, "workload: ", &err);
    if (rc == 0)
        fail_msg("%s: the workload yields no arrival", file);
}

static void check_experiment(const char *file)
{
    experiment *e;
    gp_error err;
    if (experiment_load(file, &e, &err) < 0 || experiment_check_policies(e, -1, &err) < 0)
        fail_err(file, "", &err);
    inside_repo(file, "profile", e->profile_path);
    for (int k = 0; k < e->n_pools; k++) { /* a mixed fleet's cards and preemption traces */
        inside_repo(file, "cluster.pools[].profile", e->pool[k].profile_path);
        inside_repo(file, "cluster.pools[].preemption.trace", e->pool[k].trace_path);
    }
    inside_repo(file, "output.db", e->db_path);
    inside_repo(file, "output.csv", e->csv_path);
    if (!e->closed_loop)
        check_workload(file, &e->workload, e->seed);
    experiment_free(e);
}

static void check_sweep(const char *file)
{
    sweep *sw;
    gp_error err;
    if (sweep_load(file, &sw, &err) < 0)
        fail_err(file, "", &err);
    inside_repo(file, "db", sweep_db_path(sw));
    sweep_free(sw);
}

/* A file holding only `workload:` (and a seed), as scripts/live_validate.sh reads. */
static void check_workload_file(const char *file, const cfg_node *root)
{
    workload_spec w;
    gp_error err;
    char dir[PATH_MAX];
    workload_base_dir(file, dir, sizeof(dir));
    if (workload_parse(cfg_map_get(root, "workload"), dir, &w, &err) < 0)
        fail_err(file, "", &err);
    check_workload(file, &w, 1);
    workload_free(&w);
}

/* Returns 1 when the file was checked, 0 when it is no input of the simulator (a live
 * driver's configuration, recorded beside a validation run). */
static int check_file(const char *file)
{
    cfg_doc *doc;
    gp_error err;
    if (cfg_load_file(file, &doc, &err) < 0)
        fail_err(file, "", &err);
    const cfg_node *root = cfg_root(doc);
    int checked = 1;
    if (root && cfg_map_get(root, "base"))
        check_sweep(file);
    else if (root && cfg_map_get(root, "policies"))
        check_experiment(file);
    else if (root && cfg_map_get(root, "workload"))
        check_workload_file(file, root);
    else
        checked = 0;
    cfg_free(doc);
    return checked;
}

static void test_every_experiment_runs_from_the_repository(void **state)
{
    (void)state;
    static file_list fl;
    fl.n = 0;
    collect_yaml("experiments", &fl);
    assert_true(fl.n >= 10);
    int checked = 0;
    for (int i = 0; i < fl.n; i++)
        checked += check_file(fl.path[i]);
    assert_true(checked >= 10);
}

/* The checker itself: a path through ../shared is outside, one under experiments/ is not. */
static void test_inside_repo_rows(void **state)
{
    (void)state;
    char root[PATH_MAX], abs[PATH_MAX];
    normalise(".", root, sizeof(root));
    normalise("experiments/../traces/data/x.csv", abs, sizeof(abs));
    char want[PATH_MAX + 32];
    snprintf(want, sizeof(want), "%s/traces/data/x.csv", root);
    assert_string_equal(abs, want);
    normalise("experiments/../../shared/traces/x.csv", abs, sizeof(abs));
    size_t n = strlen(root);
    if (strncmp(abs, root, n) == 0 && abs[n] == '/')
        fail_msg("../shared resolved inside the repository: %s", abs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside_repo_rows),
        cmocka_unit_test(test_every_experiment_runs_from_the_repository),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
