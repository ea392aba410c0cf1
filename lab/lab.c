/* lab.c: running an experiment into the results database (see lab.h). */
#include "lab/lab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "lab/report.h"
#include "lab/results_db.h"

void lab_opts_default(lab_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = -1;
}

typedef struct progress_ctx {
    int index, total;
    const char *label;
    int rep;
    int last_pct;
} progress_ctx;

static void progress_draw(void *ctx, double frac)
{
    progress_ctx *p = ctx;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    int pct = (int)(frac * 100);
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r  run %d/%d  %-20.20s rep %-3d [%s] %3d%%", p->index, p->total, p->label,
            p->rep, bar, pct);
    fflush(stderr);
}

/* Creates the parent directory of a results path when it is missing (one level). */
static int ensure_parent_dir(const char *path, gp_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[512];
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return gp_error_set(err, GP_EIO, dir, 0, 0, NULL, "cannot create directory: %s",
                            strerror(errno));
    return 0;
}

int lab_run(const experiment *e, const lab_opts *o, FILE *out, gp_error *err)
{
    char db_default[600];
    const char *db_path = o->db_path ? o->db_path : e->db_path[0] ? e->db_path : NULL;
    if (!db_path) {
        char safe[128]; /* a name becomes a file name: keep it inside results/ */
        gp_safe_file_name(safe, sizeof(safe), e->name);
        snprintf(db_default, sizeof(db_default), "results/%s.db", safe);
        db_path = db_default;
    }
    const char *csv_path = o->csv_path ? o->csv_path : e->csv_path[0] ? e->csv_path : NULL;
    int reps = o->replications > 0 ? o->replications : e->replications;
    uint64_t seed = o->seed >= 0 ? (uint64_t)o->seed : e->seed;

    int rc = ensure_parent_dir(db_path, err);
    if (rc < 0)
        return rc;
    results_db *db = NULL;
    rc = results_db_open(db_path, &db, err);
    if (rc < 0)
        return rc;
    int64_t exp_id = 0;
    rc = results_db_experiment_upsert(db, e->name, e->path, e->yaml_text, e->profile_text,
                                      &exp_id, err);
    int total = e->n_policies * reps, index = 0, resumed = 0;
    for (int pi = 0; rc == 0 && pi < e->n_policies; pi++) {
        for (int r = 0; rc == 0 && r < reps; r++) {
            index++;
            if (o->stop && *o->stop) {
                rc = gp_error_set(err, GP_EINTERRUPTED, db_path, 0, 0, NULL,
                                  "interrupted: %d of %d runs done, the rest resume on rerun",
                                  index - 1, total);
                break;
            }
            sim_cfg cfg;
            experiment_sim_cfg(e, pi, r, &cfg);
            /* the same trace warnings would repeat for every run: show them once */
            ((experiment *)e)->workload.warn = index == 1 ? o->warn : NULL;
            cfg.seed = seed + (uint64_t)r;
            if (o->record_requests)
                cfg.record_requests = true;
            char key[256];
            results_db_run_key(key, sizeof(key), exp_id, e->policy[pi].label, r, cfg.seed);
            rc = results_db_run_exists(db, key, err);
            if (rc < 0)
                break;
            if (rc == 1) {
                resumed++;
                rc = 0;
                continue;
            }
            progress_ctx pc = {.index = index, .total = total, .label = e->policy[pi].label,
                               .rep = r, .last_pct = -1};
            if (o->progress) {
                cfg.progress = progress_draw;
                cfg.progress_ctx = &pc;
                progress_draw(&pc, 0);
            }
            run_summary sum;
            run_series series = {0};
            request_log log = {0};
            rc = sim_run(&cfg, &sum, cfg.record_series ? &series : NULL,
                         cfg.record_requests ? &log : NULL, err);
            if (rc == 0)
                rc = results_db_write_run(db, exp_id, key, &sum, cfg.record_series ? &series : NULL,
                                          cfg.record_requests ? &log : NULL, err);
            if (rc < 0 && err->field[0] == '\0' && err->file[0] == '\0')
                snprintf(err->field, sizeof(err->field), "%s", e->policy[pi].label);
            run_series_free(&series);
            request_log_free(&log);
        }
    }
    if (o->progress)
        fprintf(stderr, "\r%-90s\r", "");
    run_summary *runs = NULL;
    size_t n_runs = 0;
    if (rc == 0)
        rc = results_db_read_runs(db, exp_id, &runs, &n_runs, err);
    if (rc == 0) {
        /* keep the runs of this invocation's labels, replications and seeds */
        size_t k = 0;
        for (size_t i = 0; i < n_runs; i++) {
            bool keep = runs[i].replication < reps && runs[i].seed == seed + (uint64_t)runs[i].replication;
            bool known = false;
            for (int pi = 0; pi < e->n_policies; pi++)
                known |= strcmp(runs[i].label, e->policy[pi].label) == 0;
            if (keep && known)
                runs[k++] = runs[i];
        }
        n_runs = k;
        if (!o->quiet) {
            fprintf(out, "experiment %s: %d policies x %d replications (%d resumed from %s)\n",
                    e->name, e->n_policies, reps, resumed, db_path);
            fprintf(out, "profile %s (%s, %s)\n", e->profile_path, e->profile->card,
                    e->profile->provenance);
            rc = report_print_table(out, runs, n_runs, err);
        }
        if (rc == 0 && csv_path)
            rc = ensure_parent_dir(csv_path, err);
        if (rc == 0 && csv_path)
            rc = report_write_csv(csv_path, runs, n_runs, err);
    }
    free(runs);
    results_db_close(db);
    return rc;
}
