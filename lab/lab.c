/* lab.c: running an experiment into the results database (see lab.h). */
#include "lab/lab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "lab/pool.h"
#include "base/fileio.h"
#include "lab/fleet_report.h"
#include "lab/report.h"
#include "lab/results_db.h"
#include "lab/winner.h"

void lab_opts_default(lab_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = -1;
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

/* ---------- the units: policy entry x replication, over lab/pool.h ---------- */

typedef struct lab_ctx {
    const experiment *e;
    const lab_opts *o;
    const char *db_path;
    int reps;
    uint64_t seed;
    int64_t exp_id;
    int64_t span_hint_us; /* simulated time of one run when known up front, else 0 */
    results_db *db;       /* this process's connection: the writer, which stores */
    char tmp_dir[600];    /* where a worker leaves a run for the writer */
} lab_ctx;

/* A worker's state: the shared context (read-only after the fork) and its own connection. */
typedef struct unit_state {
    const lab_ctx *c;
    results_db *db;
} unit_state;

static int unit_open(void *ctx, void **state, gp_error *err)
{
    unit_state *us = calloc(1, sizeof(*us));
    if (!us)
        return gp_oom(err);
    us->c = ctx;
    *state = us;
    /* the caller holds the database's writer lock for the whole pool */
    return results_db_open_worker(us->c->db_path, &us->db, err);
}

static void unit_close(void *state)
{
    unit_state *us = state;
    if (us)
        results_db_close(us->db);
    free(us);
}

static void unit_key(const lab_ctx *c, size_t unit, char *key, size_t cap)
{
    int pi = (int)(unit / (size_t)c->reps), r = (int)(unit % (size_t)c->reps);
    results_db_run_key(key, cap, c->exp_id, c->e->policy[pi].label, r, c->seed + (uint64_t)r);
}

static int unit_done(void *state, size_t unit, gp_error *err)
{
    const unit_state *us = state;
    char key[256];
    unit_key(us->c, unit, key, sizeof(key));
    return results_db_run_exists(us->db, key, err);
}

static void unit_progress(void *ctx, double frac) { pool_progress_report(ctx, frac); }

/* A run between the worker that simulated it and the writer: summary, series rows and
 * request rows in a file of the run's temporary directory (as the process wrote them:
 * both sides are the same program on the same machine). */
static void unit_file(const lab_ctx *c, size_t unit, char *buf, size_t n)
{
    snprintf(buf, n, "%s/unit-%zu.bin", c->tmp_dir, unit);
}

static int unit_save(const lab_ctx *c, size_t unit, const run_summary *sum,
                     const run_series *series, const request_log *log, gp_error *err)
{
    char path[700];
    unit_file(c, unit, path, sizeof(path));
    FILE *f = fopen(path, "wb");
    if (!f)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot create: %s", strerror(errno));
    uint64_t ns = series->n, nr = log->n;
    bool ok = fwrite(sum, sizeof(*sum), 1, f) == 1 && fwrite(&ns, sizeof(ns), 1, f) == 1 &&
              (ns == 0 || fwrite(series->row, sizeof(series->row[0]), ns, f) == ns) &&
              fwrite(&nr, sizeof(nr), 1, f) == 1 &&
              (nr == 0 || fwrite(log->row, sizeof(log->row[0]), nr, f) == nr);
    if (fclose(f) != 0 || !ok)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    return 0;
}

static int unit_load(const lab_ctx *c, size_t unit, run_summary *sum, run_series *series,
                     request_log *log, gp_error *err)
{
    char path[700];
    unit_file(c, unit, path, sizeof(path));
    FILE *f = fopen(path, "rb");
    if (!f)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    uint64_t ns = 0, nr = 0;
    bool ok = fread(sum, sizeof(*sum), 1, f) == 1 && fread(&ns, sizeof(ns), 1, f) == 1 &&
              ns <= SIZE_MAX / sizeof(series->row[0]);
    if (ok && ns) {
        series->row = malloc(ns * sizeof(series->row[0]));
        ok = series->row && fread(series->row, sizeof(series->row[0]), ns, f) == ns;
        series->n = series->cap = ok ? ns : 0;
    }
    ok = ok && fread(&nr, sizeof(nr), 1, f) == 1 && nr <= SIZE_MAX / sizeof(log->row[0]);
    if (ok && nr) {
        log->row = malloc(nr * sizeof(log->row[0]));
        ok = log->row && fread(log->row, sizeof(log->row[0]), nr, f) == nr;
        log->n = log->cap = ok ? nr : 0;
    }
    fclose(f);
    unlink(path);
    return ok ? 0 : gp_error_set(err, GP_EIO, path, 0, 0, NULL, "a worker's run is incomplete");
}

static int unit_run(void *state, size_t unit, pool_progress *pr, gp_error *err)
{
    const unit_state *us = state;
    const lab_ctx *c = us->c;
    const experiment *e = c->e;
    int pi = (int)(unit / (size_t)c->reps), r = (int)(unit % (size_t)c->reps);
    sim_cfg cfg;
    experiment_sim_cfg(e, pi, r, &cfg);
    /* the same trace warnings would repeat for every run: show them with the first */
    ((experiment *)e)->workload.warn = unit == 0 ? c->o->warn : NULL;
    cfg.seed = c->seed + (uint64_t)r;
    if (c->o->record_requests)
        cfg.record_requests = true;
    cfg.progress = unit_progress;
    cfg.progress_ctx = pr;
    run_summary sum;
    run_series series = {0};
    request_log log = {0};
    int rc = sim_run(&cfg, &sum, cfg.record_series ? &series : NULL,
                     cfg.record_requests ? &log : NULL, err);
    if (rc == 0)
        rc = unit_save(c, unit, &sum, &series, &log, err);
    if (rc < 0 && err->field[0] == '\0' && err->file[0] == '\0')
        snprintf(err->field, sizeof(err->field), "%s", e->policy[pi].label);
    run_series_free(&series);
    request_log_free(&log);
    return rc;
}

/* In this process, in unit order: the run a worker left, into the database. */
static int unit_store(void *ctx, size_t unit, gp_error *err)
{
    const lab_ctx *c = ctx;
    run_summary sum;
    run_series series = {0};
    request_log log = {0};
    int rc = unit_load(c, unit, &sum, &series, &log, err);
    char key[256];
    unit_key(c, unit, key, sizeof(key));
    if (rc == 0)
        rc = results_db_write_run(c->db, c->exp_id, key, &sum, series.n ? &series : NULL,
                                  log.n ? &log : NULL, err);
    run_series_free(&series);
    request_log_free(&log);
    return rc;
}

/* ---------- progress on stderr ---------- */

static void clock_text(char *buf, size_t cap, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 86400)
        snprintf(buf, cap, "%ldd %02ld:%02ld", t / 86400, t % 86400 / 3600, t % 3600 / 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", t / 3600, t % 3600 / 60);
}

static void progress_draw(void *ctx, const pool_view *v)
{
    const lab_ctx *c = ctx;
    char line[512];
    size_t todo = v->units - v->resumed;
    double done = (double)v->ran;
    int n = snprintf(line, sizeof(line), "  run %zu of %zu",
                     v->ran + v->resumed + (size_t)(v->ran + v->resumed < v->units), v->units);
    for (int j = 0; j < v->jobs && n > 0 && (size_t)n < sizeof(line); j++) {
        if (v->slot[j].unit < 0)
            continue;
        done += v->slot[j].frac;
        size_t u = (size_t)v->slot[j].unit;
        int pi = (int)(u / (size_t)c->reps), r = (int)(u % (size_t)c->reps);
        char at[80];
        if (c->span_hint_us > 0) {
            char a[24], b[24];
            double span_s = (double)c->span_hint_us / 1e6;
            clock_text(a, sizeof(a), v->slot[j].frac * span_s);
            clock_text(b, sizeof(b), span_s);
            snprintf(at, sizeof(at), "%s of %s simulated", a, b);
        } else {
            snprintf(at, sizeof(at), "%.0f%% simulated", 100 * v->slot[j].frac);
        }
        n += snprintf(line + n, sizeof(line) - (size_t)n, " | %.20s replication %d of %d, %s",
                      c->e->policy[pi].label, r + 1, c->reps, at);
    }
    if (n > 0 && (size_t)n < sizeof(line) && done > 0.02 * (double)(todo ? todo : 1)) {
        double eta = v->elapsed_s * ((double)todo - done) / done;
        n += snprintf(line + n, sizeof(line) - (size_t)n, " | ETA %.0f s", eta > 0 ? eta : 0);
    }
    fprintf(stderr, "\r%-119.119s", line);
    fflush(stderr);
}

/* One run's simulated time when the workload says it up front (a generated day, a
 * Poisson stretch, a closed loop, a horizon); 0 when only the trace knows. */
static int64_t span_hint(const experiment *e)
{
    if (e->horizon_us > 0)
        return e->horizon_us;
    if (e->closed_loop)
        return e->closed.duration_us;
    if (e->workload.type == WORKLOAD_TIDAL)
        return (int64_t)e->workload.tidal.days * US_PER_DAY;
    if (e->workload.type == WORKLOAD_POISSON)
        return e->workload.duration_us;
    return 0;
}

/* ---------- the comparison ---------- */

/* text on lines of at most `width` columns, broken at spaces, continued with two spaces */
static void print_wrapped(FILE *out, const char *text, size_t width)
{
    size_t indent = 0;
    while (*text) {
        size_t room = width - indent, n = strlen(text);
        if (n > room) {
            n = room;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = room;
        }
        fprintf(out, "%*s%.*s\n", (int)indent, "", (int)n, text);
        text += n;
        while (*text == ' ')
            text++;
        indent = 2;
    }
}

size_t lab_sort_runs(const experiment *e, int reps, uint64_t seed, run_summary *runs, size_t n)
{
    run_summary *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted)
        return 0;
    size_t k = 0;
    for (int pi = 0; pi < e->n_policies; pi++)
        for (int r = 0; r < reps; r++)
            for (size_t i = 0; i < n; i++)
                if (runs[i].replication == r && runs[i].seed == seed + (uint64_t)r &&
                    strcmp(runs[i].label, e->policy[pi].label) == 0) {
                    sorted[k++] = runs[i];
                    break;
                }
    memcpy(runs, sorted, k * sizeof(*runs));
    free(sorted);
    return k;
}

/* "slo_pct >= 99" as a reader says it: "99% of requests within 1 s". */
static void constraint_text(const experiment *e, const winner_constraint *c, char *buf, size_t cap)
{
    const run_metric *m = run_metric_get(c->metric);
    if (c->metric == RM_SLO_PCT && !c->is_max)
        snprintf(buf, cap, "%g%% of requests within %g s", c->bound,
                 (double)e->cluster.slo_us / 1e6);
    else
        snprintf(buf, cap, "%s %s %g", m->name, c->is_max ? "<=" : ">=", c->bound);
}

static void objective_text(const experiment *e, char *buf, size_t cap)
{
    const winner_objective *o = &e->objective;
    const run_metric *m = run_metric_get(o->metric);
    int n;
    if (o->metric == RM_COST && !o->maximise)
        n = snprintf(buf, cap, "the cheapest policy");
    else
        n = snprintf(buf, cap, "the policy with the %s %s", o->maximise ? "highest" : "lowest",
                     m->name);
    for (int k = 0; k < o->n_constraints && n > 0 && (size_t)n < cap; k++) {
        char c[160];
        constraint_text(e, &o->con[k], c, sizeof(c));
        n += snprintf(buf + n, cap - (size_t)n, "%s%s", k ? " and " : " with ", c);
    }
}

static const char *unit_of(const experiment *e, const run_metric *m)
{
    return run_metric_unit(m, e->currency);
}

int lab_verdict_make(const experiment *e, const run_summary *runs, size_t n, int reps,
                     uint64_t seed, lab_verdict *v, gp_error *err)
{
    memset(v, 0, sizeof(*v));
    size_t np = (size_t)e->n_policies, per = RM_COUNT * (size_t)(reps > 0 ? reps : 1);
    v->cand = calloc(np, sizeof(*v->cand));
    v->vals = malloc(sizeof(double) * np * per);
    if (!v->cand || !v->vals) {
        lab_verdict_free(v);
        return gp_oom(err);
    }
    for (size_t pi = 0; pi < np; pi++)
        winner_candidate_fill(&v->cand[pi], v->vals + pi * per, (size_t)reps, seed, runs, n,
                              e->policy[pi].label);
    winner_classify(&e->objective, v->cand, np);
    winner_pick(&e->objective, v->cand, np, &v->r);
    /* the same rule among the policies that have a live form (the one to export) */
    v->live = v->r.winner;
    if (v->r.winner != SIZE_MAX && e->policy[v->r.winner].ops->live == POLICY_LIVE_NONE) {
        winner_candidate *sub = malloc(np * sizeof(*sub));
        size_t *idx = malloc(np * sizeof(*idx)), k = 0;
        if (!sub || !idx) {
            free(sub);
            free(idx);
            lab_verdict_free(v);
            return gp_oom(err);
        }
        for (size_t pi = 0; pi < np; pi++)
            if (e->policy[pi].ops->live != POLICY_LIVE_NONE) {
                sub[k] = v->cand[pi];
                idx[k++] = pi;
            }
        winner_result r;
        winner_pick(&e->objective, sub, k, &r);
        v->live = r.winner != SIZE_MAX ? idx[r.winner] : SIZE_MAX;
        free(sub);
        free(idx);
    }
    return 0;
}

void lab_verdict_free(lab_verdict *v)
{
    free(v->cand);
    free(v->vals);
    memset(v, 0, sizeof(*v));
}

void lab_verdict_print(FILE *out, const experiment *e, const lab_verdict *v)
{
    const winner_objective *ob = &e->objective;
    const winner_candidate *cand = v->cand;
    const winner_result *wr = &v->r;
    const run_metric *m = run_metric_get(ob->metric);
    char what[400], a[64];
    objective_text(e, what, sizeof(what));
    size_t show = wr->winner != SIZE_MAX ? wr->winner : wr->closest;
    if (wr->winner == SIZE_MAX) {
        fprintf(out, "winner: none meets it: no policy is %s on the mean.\n", what);
        if (show != SIZE_MAX) {
            fprintf(out, "  the closest: %s", e->policy[show].label);
            for (int k = 0; k < ob->n_constraints; k++) {
                const run_metric *cm = run_metric_get(ob->con[k].metric);
                fprintf(out, "%s%s %s", k ? ", " : " (", cm->name,
                        stats_format(a, sizeof(a), &cand[show].s[cm->id], cm->decimals));
            }
            fprintf(out, "%s\n", ob->n_constraints ? ")" : "");
        }
        return;
    }
    fprintf(out, "winner: %s, %s: %s %s %s%s\n", e->policy[show].label, what, m->name,
            stats_format(a, sizeof(a), &cand[show].s[m->id], m->decimals), unit_of(e, m),
            cand[show].surely ? "" : " (constraints met on the mean, not at the 95% bound)");
    if (wr->runner_up == SIZE_MAX) {
        fprintf(out, "  the only policy that meets it\n");
    } else {
        const char *dir = ob->maximise ? "higher" : "lower";
        if (ob->metric == RM_COST && !ob->maximise)
            dir = "cheaper";
        fprintf(out,
                "  %s %s %s than the runner-up %s (paired 95%% CI over %zu replications\n"
                "  on common random numbers; one-sided p = %.2g)%s\n",
                stats_format(a, sizeof(a), &wr->margin, m->decimals), unit_of(e, m), dir,
                e->policy[wr->runner_up].label, wr->margin.n, wr->p_one_sided,
                wr->significant ? "" : ": not significant, the two are tied within the noise");
    }
}

static int print_winner(FILE *out, const experiment *e, const run_summary *runs, size_t n, int reps,
                        uint64_t seed, const char *db_path, const lab_opts *o, gp_error *err)
{
    lab_verdict v;
    TRY(lab_verdict_make(e, runs, n, reps, seed, &v, err));
    lab_verdict_print(out, e, &v);
    const winner_result *wr = &v.r;
    const char *prog = o->program ? o->program : "gpenlab";
    size_t show = wr->winner != SIZE_MAX ? v.live : wr->closest;
    if (wr->winner != SIZE_MAX && v.live != wr->winner)
        fprintf(out, "  %s (%s) has no live form: %s; %s%s\n", e->policy[wr->winner].label,
                e->policy[wr->winner].ops->name, e->policy[wr->winner].ops->live_none_why,
                v.live != SIZE_MAX ? "the winner among the policies that have one is "
                                   : "no policy that has one meets the objective",
                v.live != SIZE_MAX ? e->policy[v.live].label : "");
    if (show != SIZE_MAX)
        fprintf(out, "%s: %s export --policy %s --from %s\n",
                wr->winner != SIZE_MAX ? "export it"
                                       : "export the closest (it misses the objective)",
                prog, e->policy[show].label, db_path);
    lab_verdict_free(&v);
    return ferror(out) ? gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "writing the report failed")
                       : 0;
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

    TRY(ensure_parent_dir(db_path, err));
    /* this process is the writer: it records the experiment and holds the writer lock
     * until every worker (each with its own connection) is done */
    results_db *db = NULL;
    TRY(results_db_open(db_path, &db, err));
    int64_t exp_id = 0;
    int rc = experiment_db_upsert(e, db, &exp_id, err);
    if (rc < 0) {
        results_db_close(db);
        return rc;
    }
    lab_ctx c = {.e = e,
                 .o = o,
                 .db_path = db_path,
                 .reps = reps,
                 .seed = seed,
                 .exp_id = exp_id,
                 .span_hint_us = span_hint(e),
                 .db = db};
    const char *tmp = getenv("TMPDIR");
    snprintf(c.tmp_dir, sizeof(c.tmp_dir), "%s/gpenlab-run-XXXXXX",
             tmp && tmp[0] && strlen(tmp) < 500 ? tmp : "/tmp");
    if (!mkdtemp(c.tmp_dir)) {
        rc = gp_error_set(err, GP_EIO, c.tmp_dir, 0, 0, NULL, "cannot create: %s", strerror(errno));
        results_db_close(db);
        return rc;
    }
    size_t units = (size_t)e->n_policies * (size_t)reps;
    int jobs = o->jobs > 0 ? o->jobs : pool_default_jobs();
    static const pool_ops ops = {unit_open, unit_close, unit_done, unit_run, unit_store};
    pool_stats ps;
    rc = pool_run(&ops, &c, units, jobs, o->stop, o->progress ? progress_draw : NULL, &c, &ps, err);
    gp_error rm_err; /* runs not stored (a stop, an error) leave their files: removed */
    gp_remove_tree(c.tmp_dir, &rm_err);
    if (o->progress)
        fprintf(stderr, "\r%-119s\r", "");
    if (rc == GP_EINTERRUPTED && !err->file[0])
        snprintf(err->file, sizeof(err->file), "%.*s", (int)sizeof(err->file) - 1, db_path);
    run_summary *runs = NULL;
    size_t n_runs = 0;
    if (rc == 0)
        rc = results_db_read_runs(db, exp_id, &runs, &n_runs, err);
    if (rc == 0) {
        n_runs = lab_sort_runs(e, reps, seed, runs, n_runs);
        if (!o->quiet) {
            fprintf(out, "experiment %s: %d policies x %d replications (%zu resumed from %s)\n",
                    e->name, e->n_policies, reps, ps.resumed, db_path);
            fprintf(out, "profile %s (%s, %s)\n", e->profile_path, e->profile->card,
                    e->profile->provenance);
            if (!profile_has_cluster_start(e->profile) && e->cluster.n_extra_phases == 0) {
                char note[400];
                profile_cluster_start_note(e->profile, note, sizeof(note));
                char line[520];
                snprintf(line, sizeof(line), "note: %s; this experiment adds none", note);
                print_wrapped(out, line, 118);
            }
            report_table_opts to;
            report_table_opts_default(&to);
            to.currency = e->currency;
            to.slo_s = (double)e->cluster.slo_us / 1e6;
            rc = report_print_table(out, runs, n_runs, &to, err);
            if (rc == 0)
                rc = fleet_report_print(out, runs, n_runs, err);
            if (rc == 0)
                rc = print_winner(out, e, runs, n_runs, reps, seed, db_path, o, err);
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
