/* regress.c: the regression gate (see regress.h). */
#include "lab/regress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "base/fileio.h"
#include "lab/experiment.h"
#include "lab/lab.h"
#include "lab/report.h"
#include "lab/results_db.h"
#include "sim/stats.h"

typedef struct regress_metric {
    const char *name;
    int worse_sign;  /* +1: higher is worse; -1: lower is worse; 0: shown only */
    int decimals;
} regress_metric;

static const regress_metric rmetrics[] = {
    {"P99 (s)", +1, 3}, {"SLO (%)", -1, 3}, {"GPU-h", +1, 3}, {"mean (s)", 0, 3}, {"util (%)", 0, 2},
};
#define N_RMETRICS (sizeof(rmetrics) / sizeof(rmetrics[0]))

static double rmetric(size_t m, const run_summary *r)
{
    switch (m) {
    case 0: return r->lat_p99_s;
    case 1: return 100.0 * r->slo_frac;
    case 2: return r->gpu_seconds / 3600.0;
    case 3: return r->lat_mean_s;
    default: return 100.0 * r->utilisation;
    }
}

/* Runs the experiment at its seeds into a fresh temporary database; *runs malloc'd. */
static int run_fresh(const experiment *e, int reps, const char *tmp_dir, run_summary **runs,
                     size_t *n, gp_error *err)
{
    char db_path[1024];
    snprintf(db_path, sizeof(db_path), "%s/gpenlab-regress-XXXXXX", tmp_dir);
    int fd = mkstemp(db_path);
    if (fd < 0)
        return gp_error_set(err, GP_EIO, db_path, 0, 0, NULL, "cannot create: %s", strerror(errno));
    close(fd);
    unlink(db_path);
    lab_opts lo;
    lab_opts_default(&lo);
    lo.db_path = db_path;
    lo.quiet = true;
    lo.replications = reps;
    int rc = lab_run(e, &lo, stderr, err);
    results_db *db = NULL;
    int64_t id = 0;
    if (rc == 0)
        rc = results_db_open(db_path, &db, err);
    if (rc == 0)
        rc = results_db_experiment_upsert(db, e->name, e->path, e->yaml_text, e->profile_text, &id,
                                          err);
    if (rc == 0)
        rc = results_db_read_runs(db, id, runs, n, err);
    results_db_close(db);
    char side[1100];
    unlink(db_path);
    snprintf(side, sizeof(side), "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db_path);
    unlink(side);
    for (size_t i = 0; rc == 0 && i < *n; i++)
        (*runs)[i].wall_s = 0; /* so rewritten baselines differ only where results do */
    return rc;
}

static const run_summary *find_run(const run_summary *runs, size_t n, const char *label, int rep)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(runs[i].label, label) == 0 && runs[i].replication == rep)
            return &runs[i];
    return NULL;
}

static int compare(FILE *out, const char *name, const run_summary *base, size_t nb,
                   const run_summary *cur, size_t nc, int *worse, gp_error *err)
{
    double *a = malloc(sizeof(double) * (nc + 1)), *b = malloc(sizeof(double) * (nc + 1));
    if (!a || !b) {
        free(a);
        free(b);
        return gp_oom(err);
    }
    /* every baseline run must still exist (a label or replication lost is a change) */
    for (size_t i = 0; i < nb; i++)
        if (!find_run(cur, nc, base[i].label, base[i].replication)) {
            fprintf(out, "  %-24s %-16s replication %d: in the baseline, not run now  WORSE\n",
                    name, base[i].label, base[i].replication);
            (*worse)++;
        }
    for (size_t i = 0; i < nc; i++) {
        bool first = true; /* one block per label, at its first run */
        for (size_t j = 0; j < i; j++)
            first &= strcmp(cur[j].label, cur[i].label) != 0;
        if (!first)
            continue;
        const char *label = cur[i].label;
        size_t np = 0;
        bool missing = false;
        for (size_t j = 0; j < nc; j++) {
            if (strcmp(cur[j].label, label) != 0)
                continue;
            if (!find_run(base, nb, label, cur[j].replication))
                missing = true;
        }
        if (missing) {
            fprintf(out, "  %-24s %-16s no baseline for some replications: run make "
                         "regress-update  WORSE\n",
                    name, label);
            (*worse)++;
            continue;
        }
        for (size_t m = 0; m < N_RMETRICS; m++) {
            np = 0;
            for (size_t j = 0; j < nc; j++) {
                if (strcmp(cur[j].label, label) != 0)
                    continue;
                const run_summary *bb = find_run(base, nb, label, cur[j].replication);
                a[np] = rmetric(m, &cur[j]);
                b[np] = rmetric(m, bb);
                np++;
            }
            stat_summary sb = stats_summarize(b, np), sc = stats_summarize(a, np);
            stat_summary d = stats_paired(a, b, np);
            const char *verdict = "same";
            bool sig = d.n >= 2 && !isnan(d.half_width) && fabs(d.mean) > d.half_width;
            if (d.n && d.mean == 0 && (isnan(d.sd) || d.sd == 0))
                verdict = "same";
            else if (!sig)
                verdict = "within noise";
            else if (rmetrics[m].worse_sign == 0)
                verdict = "changed";
            else if (d.mean * rmetrics[m].worse_sign > 0) {
                verdict = "WORSE";
                (*worse)++;
            } else
                verdict = "better";
            char sbase[64], scur[64], sd[64];
            stats_format(sbase, sizeof(sbase), &sb, rmetrics[m].decimals);
            stats_format(scur, sizeof(scur), &sc, rmetrics[m].decimals);
            snprintf(sd, sizeof(sd), "%+.*f", rmetrics[m].decimals, d.mean);
            if (!isnan(d.half_width)) {
                size_t u = strlen(sd);
                snprintf(sd + u, sizeof(sd) - u, " \xc2\xb1 %.*f", rmetrics[m].decimals,
                         d.half_width);
            }
            fprintf(out, "  %-24s %-16s %-9s %-20s %-20s %-22s %s\n", m == 0 ? name : "",
                    m == 0 ? label : "", rmetrics[m].name, sbase, scur, sd, verdict);
        }
    }
    free(a);
    free(b);
    return 0;
}

int regress_run(const regress_opts *o, FILE *out, int *worse, gp_error *err)
{
    const char *dir = o->dir ? o->dir : "experiments/baselines";
    const char *tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    *worse = 0;
    char list[1024];
    snprintf(list, sizeof(list), "%s/canonical.txt", dir);
    char *text = NULL; /* a text file: a NUL byte or invalid UTF-8 is an error with its line */
    TRY(gp_read_text_file(list, 1u << 20, &text, NULL, err));
    if (!o->update)
        fprintf(out, "  %-24s %-16s %-9s %-20s %-20s %-22s %s\n", "experiment", "label", "metric",
                "baseline", "now", "now - baseline (paired)", "verdict");
    long lineno = 0;
    int rc = 0;
    for (char *line = text, *next; rc == 0 && line && *line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char path[1024];
        int reps = 0;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        int got = sscanf(line, "%1023s %d", path, &reps);
        if (got < 1)
            continue;
        experiment *e = NULL;
        if ((rc = experiment_load(path, &e, err)) < 0)
            break;
        run_summary *cur = NULL, *base = NULL;
        size_t nc = 0, nb = 0;
        rc = run_fresh(e, reps > 0 ? reps : 0, tmp, &cur, &nc, err);
        char csv[1200];
        char safe[128];
        gp_safe_file_name(safe, sizeof(safe), e->name);
        snprintf(csv, sizeof(csv), "%s/%s.csv", dir, safe);
        if (rc == 0 && o->update) {
            rc = report_write_csv(csv, cur, nc, err);
            if (rc == 0)
                fprintf(out, "baseline %s: %zu runs written\n", csv, nc);
        } else if (rc == 0) {
            rc = report_read_csv(csv, &base, &nb, err);
            if (rc == GP_EIO || rc == GP_EMISSING) {
                char msg[sizeof(err->msg)];
                snprintf(msg, sizeof(msg), "%s", err->msg);
                rc = gp_error_set(err, rc, list, lineno, 0, NULL,
                                  "no baseline %s (%s): run make regress-update", csv, msg);
            }
            if (rc == 0)
                rc = compare(out, e->name, base, nb, cur, nc, worse, err);
        }
        free(cur);
        free(base);
        experiment_free(e);
    }
    free(text);
    if (rc == 0 && !o->update)
        fprintf(out, "paired by (label, replication) on the same seeds; WORSE: the 95%% interval "
                     "of the difference lies wholly on the worse side (P99, GPU-h up; SLO down)\n"
                     "regress: %d worse\n",
                *worse);
    return rc;
}
