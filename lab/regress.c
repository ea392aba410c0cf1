/* regress.c: the regression gate (see regress.h). */
#include "lab/regress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "base/markup.h"
#include "base/fileio.h"
#include "lab/experiment.h"
#include "lab/lab.h"
#include "lab/report.h"
#include "lab/results_db.h"
#include "lab/run_metrics.h"
#include "sim/stats.h"

/* The run metrics (run_metrics.h) the gate checks when the list names no tolerance for
 * them, and those it prints besides the checked ones. */
static bool gated_by_default(run_metric_id m)
{
    return m == RM_P99_S || m == RM_SLO_PCT || m == RM_GPU_HOURS;
}
static bool shown_always(run_metric_id m)
{
    return gated_by_default(m) || m == RM_MEAN_S || m == RM_UTIL_PCT;
}
/* A gate reads small differences: one decimal more than the tables, to the thousandth. */
static int gate_decimals(const run_metric *m) { return m->decimals + 1 < 3 ? m->decimals + 1 : 3; }

/* ---------- tolerances ---------- */

typedef struct tolerance {
    bool set;      /* named in the list: gated */
    double amount; /* >= 0 */
    bool pct;      /* amount is a share (%) of the baseline mean */
} tolerance;

/* "AMOUNT" or "AMOUNT%" into *t; the error names the list's place and the metric. */
static int parse_amount(const char *list, long lineno, const char *metric, const char *text,
                        tolerance *t, gp_error *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    bool pct = end && *end == '%';
    if (pct)
        end++;
    if (!text[0] || end == text || *end || errno || !isfinite(v) || v < 0)
        return gp_error_set(err, GP_EPARSE, list, lineno, 0, metric,
                            "tolerance of %s '%s': expected a number >= 0, or a share like 2%%",
                            metric, text);
    *t = (tolerance){.set = true, .amount = v, .pct = pct};
    return 0;
}

/* The run metric a tolerance names; only one with a better direction can be gated. */
static int metric_by_name(const char *list, long lineno, const char *name, gp_error *err)
{
    const run_metric *m = run_metric_find(name);
    if (!m) {
        char known[400];
        run_metric_names(known, sizeof(known));
        return gp_error_set(err, GP_EUNKNOWN, list, lineno, 0, name,
                            "unknown metric '%s' (known: %s)", name, known);
    }
    if (m->direction == RM_NEUTRAL)
        return gp_error_set(err, GP_EPARSE, list, lineno, 0, name,
                            "%s is neither better higher nor lower: it cannot be gated", name);
    return (int)m->id;
}

static double tolerance_abs(const tolerance *t, double baseline_mean)
{
    return t->pct ? t->amount / 100.0 * fabs(baseline_mean) : t->amount;
}

static void format_tolerance(char *buf, size_t cap, const tolerance *t, const run_metric *m)
{
    /* the cost's unit is the experiment's currency, which the gate does not read */
    const char *unit = run_metric_unit(m, NULL);
    if (t->pct)
        snprintf(buf, cap, "%g%%", t->amount);
    else
        snprintf(buf, cap, "%g%s%s", t->amount, unit[0] ? " " : "", unit);
}

/* ---------- verdicts: what the summary and JUnit report ---------- */

typedef struct verdict {
    char experiment[64], label[64], metric[32];
    bool worse;
    char detail[512];
} verdict;

typedef struct verdicts {
    verdict *v;
    size_t n, cap;
} verdicts;

static int verdict_add(verdicts *vs, const char *exp, const char *label, const char *metric,
                       bool worse, const char *detail, gp_error *err)
{
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 64;
        verdict *nv = realloc(vs->v, cap * sizeof(*nv));
        if (!nv)
            return gp_oom(err);
        vs->v = nv;
        vs->cap = cap;
    }
    verdict *x = &vs->v[vs->n++];
    snprintf(x->experiment, sizeof(x->experiment), "%s", exp);
    snprintf(x->label, sizeof(x->label), "%s", label);
    snprintf(x->metric, sizeof(x->metric), "%s", metric);
    x->worse = worse;
    snprintf(x->detail, sizeof(x->detail), "%s", detail);
    return 0;
}

/* ---------- running and comparing ---------- */

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
        rc = experiment_db_upsert(e, db, &id, err);
    if (rc == 0)
        rc = results_db_read_runs(db, id, runs, n, err);
    if (rc == 0) /* in the experiment's order, whichever worker finished first */
        *n = lab_sort_runs(e, reps > 0 ? reps : e->replications, e->seed, *runs, *n);
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

/* One label's metric: the printed row and, when gated, its verdict. */
static int compare_metric(FILE *out, const char *name, const char *label, size_t m,
                          const tolerance *tol, const double *a, const double *b, size_t np,
                          bool first, int *worse, verdicts *vs, gp_error *err)
{
    const run_metric *rm = run_metric_get((run_metric_id)m);
    const int worse_sign = -(int)rm->direction; /* lower better: a rise is worse */
    stat_summary sb = stats_summarize(b, np), sc = stats_summarize(a, np);
    stat_summary d = stats_paired(a, b, np);
    double hw = isnan(d.half_width) ? 0 : d.half_width;
    bool sig = d.n >= 2 && !isnan(d.half_width) && fabs(d.mean) > d.half_width;
    bool worse_side = d.mean * worse_sign > 0;
    char tol_text[64] = "";
    if (tol->set && tol->amount > 0)
        format_tolerance(tol_text, sizeof(tol_text), tol, rm);
    bool is_worse = false;
    const char *verdict_text;
    char buf[128];
    if (d.n && d.mean == 0 && (isnan(d.sd) || d.sd == 0))
        verdict_text = "same";
    else if (!sig)
        verdict_text = "within noise";
    else if (!worse_side)
        verdict_text = "better";
    else if (!tol->set)
        verdict_text = "changed";
    else if (d.mean * worse_sign - hw > tolerance_abs(tol, sb.mean)) {
        is_worse = true;
        snprintf(buf, sizeof(buf), "WORSE%s%s%s", tol_text[0] ? " (beyond " : "", tol_text,
                 tol_text[0] ? ")" : "");
        verdict_text = buf;
    } else {
        snprintf(buf, sizeof(buf), "worse, within tolerance %s", tol_text);
        verdict_text = buf;
    }
    char sbase[64], scur[64], sd[64];
    const int dec = gate_decimals(rm);
    stats_format(sbase, sizeof(sbase), &sb, dec);
    stats_format(scur, sizeof(scur), &sc, dec);
    snprintf(sd, sizeof(sd), "%+.*f", dec, d.mean);
    if (!isnan(d.half_width)) {
        size_t u = strlen(sd);
        snprintf(sd + u, sizeof(sd) - u, " \xc2\xb1 %.*f", dec, d.half_width);
    }
    fprintf(out, "  %-24s %-16s %-11s %-20s %-20s %-22s %s\n", first ? name : "",
            first ? label : "", rm->name, sbase, scur, sd, verdict_text);
    if (!tol->set)
        return 0;
    char detail[512];
    snprintf(detail, sizeof(detail), "%s: baseline %s, now %s, paired difference %s%s%s", rm->name,
             sbase, scur, sd, tol_text[0] ? ", tolerance " : "", tol_text);
    if (is_worse)
        (*worse)++;
    return verdict_add(vs, name, label, rm->name, is_worse, detail, err);
}

static int compare(FILE *out, const char *name, const run_summary *base, size_t nb,
                   const run_summary *cur, size_t nc, const tolerance *tol, int *worse,
                   verdicts *vs, gp_error *err)
{
    double *a = malloc(sizeof(double) * (nc + 1)), *b = malloc(sizeof(double) * (nc + 1));
    if (!a || !b) {
        free(a);
        free(b);
        return gp_oom(err);
    }
    int rc = 0;
    /* every baseline run must still exist (a label or replication lost is a change) */
    for (size_t i = 0; rc == 0 && i < nb; i++)
        if (!find_run(cur, nc, base[i].label, base[i].replication)) {
            fprintf(out, "  %-24s %-16s replication %d: in the baseline, not run now  WORSE\n",
                    name, base[i].label, base[i].replication);
            (*worse)++;
            char detail[128];
            snprintf(detail, sizeof(detail), "replication %d: in the baseline, not run now",
                     base[i].replication);
            rc = verdict_add(vs, name, base[i].label, "replications", true, detail, err);
        }
    for (size_t i = 0; rc == 0 && i < nc; i++) {
        bool first = true; /* one block per label, at its first run */
        for (size_t j = 0; j < i; j++)
            first &= strcmp(cur[j].label, cur[i].label) != 0;
        if (!first)
            continue;
        const char *label = cur[i].label;
        bool missing = false;
        for (size_t j = 0; j < nc; j++)
            if (strcmp(cur[j].label, label) == 0 && !find_run(base, nb, label, cur[j].replication))
                missing = true;
        if (missing) {
            fprintf(out,
                    "  %-24s %-16s no baseline for some replications: run make "
                    "regress-update  WORSE\n",
                    name, label);
            (*worse)++;
            rc = verdict_add(vs, name, label, "replications", true,
                             "no baseline for some replications: run make regress-update", err);
            continue;
        }
        bool first_row = true;
        /* the metrics gated by default first (P99, SLO, GPU-h), then the others */
        for (size_t k = 0; rc == 0 && k < 2 * RM_COUNT; k++) {
            size_t m = k % RM_COUNT;
            if ((k < RM_COUNT) != gated_by_default((run_metric_id)m) ||
                (!tol[m].set && !shown_always((run_metric_id)m)))
                continue;
            size_t np = 0;
            for (size_t j = 0; j < nc; j++) {
                if (strcmp(cur[j].label, label) != 0)
                    continue;
                a[np] = run_metric_value((run_metric_id)m, &cur[j]);
                b[np] = run_metric_value((run_metric_id)m,
                                         find_run(base, nb, label, cur[j].replication));
                np++;
            }
            rc = compare_metric(out, name, label, m, &tol[m], a, b, np, first_row, worse, vs, err);
            first_row = false;
        }
    }
    free(a);
    free(b);
    return rc;
}

/* ---------- JUnit XML ---------- */

/* One <testsuite> per experiment (in the order run), one <testcase> per verdict; an error
 * that stopped the gate is a test case of its own. Atomic: temp file, then rename. */
static int write_junit(const char *path, const verdicts *vs, double seconds, const gp_error *stop,
                       gp_error *err)
{
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    size_t failures = 0;
    for (size_t i = 0; i < vs->n; i++)
        failures += vs->v[i].worse;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"gpenlab regress\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\" "
            "time=\"%.3f\">\n",
            vs->n + (stop != NULL), failures, stop != NULL, seconds);
    for (size_t i = 0; i < vs->n;) {
        size_t j = i, fails = 0;
        while (j < vs->n && strcmp(vs->v[j].experiment, vs->v[i].experiment) == 0)
            fails += vs->v[j++].worse;
        fputs("  <testsuite name=\"", f);
        markup_put(f, vs->v[i].experiment);
        fprintf(f, "\" tests=\"%zu\" failures=\"%zu\">\n", j - i, fails);
        for (size_t k = i; k < j; k++) {
            const verdict *x = &vs->v[k];
            fputs("    <testcase classname=\"", f);
            markup_put(f, x->experiment);
            fputc('.', f);
            markup_put(f, x->label);
            fputs("\" name=\"", f);
            markup_put(f, x->metric);
            if (!x->worse) {
                fputs("\"/>\n", f);
                continue;
            }
            fputs("\">\n      <failure message=\"", f);
            markup_put(f, x->label);
            fputc(' ', f);
            markup_put(f, x->detail);
            fputs("\" type=\"worse\"/>\n    </testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
        i = j;
    }
    if (stop) {
        char line[1200];
        gp_error_format(stop, line, sizeof(line));
        fputs("  <testsuite name=\"regress\" tests=\"1\" errors=\"1\">\n"
              "    <testcase classname=\"regress\" name=\"run\">\n      <error message=\"",
              f);
        markup_put(f, line);
        fputs("\"/>\n    </testcase>\n  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    }
    return 0;
}

/* ---------- the list ---------- */

/* "PATH [REPLICATIONS] [METRIC=AMOUNT ...]" after comments are cut; tol starts as the
 * list's tolerances and gets the line's own. Returns 0 (blank line: *path empty). */
static int parse_entry(const char *list, long lineno, char *line, char *path, size_t path_cap,
                       int *reps, tolerance *tol, gp_error *err)
{
    path[0] = '\0';
    *reps = 0;
    char *save = NULL;
    char *tok = strtok_r(line, " \t\r\n", &save);
    if (!tok)
        return 0;
    snprintf(path, path_cap, "%s", tok);
    for (int k = 0; (tok = strtok_r(NULL, " \t\r\n", &save)); k++) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            char *end = NULL;
            long v = strtol(tok, &end, 10);
            if (k == 0 && *end == '\0' && v >= 1 && v <= EXPERIMENT_MAX_REPLICATIONS) {
                *reps = (int)v;
                continue;
            }
            return gp_error_set(err, GP_EPARSE, list, lineno, 0, tok,
                                "expected REPLICATIONS (first) or METRIC=TOLERANCE, got '%s'", tok);
        }
        *eq = '\0';
        int m = metric_by_name(list, lineno, tok, err);
        if (m < 0)
            return m;
        TRY(parse_amount(list, lineno, tok, eq + 1, &tol[m], err));
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process and its finished children (runs may go to processes). */
static double cpu_s(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                    kids.ru_stime.tv_sec) +
           (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                    kids.ru_stime.tv_usec) /
               1e6;
}

int regress_run(const regress_opts *o, FILE *out, int *worse, gp_error *err)
{
    const char *dir = o->dir ? o->dir : "experiments/baselines";
    const char *tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    *worse = 0;
    double t0 = now_s(), c0 = cpu_s();
    char list[1024];
    snprintf(list, sizeof(list), "%s/canonical.txt", dir);
    char *text = NULL; /* a text file: a NUL byte or invalid UTF-8 is an error with its line */
    TRY(gp_read_text_file(list, 1u << 20, &text, NULL, err));
    if (!o->update)
        fprintf(out, "  %-24s %-16s %-11s %-20s %-20s %-22s %s\n", "experiment", "label", "metric",
                "baseline", "now", "now - baseline (paired)", "verdict");
    tolerance list_tol[RM_COUNT]; /* the defaults, then the list's tolerance lines */
    for (size_t m = 0; m < RM_COUNT; m++)
        list_tol[m] = (tolerance){.set = gated_by_default((run_metric_id)m)};
    verdicts vs = {0};
    long lineno = 0;
    size_t n_exp = 0, n_runs = 0;
    int rc = 0;
    for (char *line = text, *next; rc == 0 && line && *line; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char first[32] = "";
        if (sscanf(line, "%31s", first) == 1 && strcmp(first, "tolerance") == 0) {
            char metric[64] = "", amount[64] = "", extra[8] = "";
            if (sscanf(line, "%*s %63s %63s %7s", metric, amount, extra) != 2) {
                rc = gp_error_set(err, GP_EPARSE, list, lineno, 0, NULL,
                                  "expected 'tolerance METRIC AMOUNT[%%]'");
                break;
            }
            int m = metric_by_name(list, lineno, metric, err);
            rc = m < 0 ? m : parse_amount(list, lineno, metric, amount, &list_tol[m], err);
            continue;
        }
        char path[1024];
        int reps = 0;
        tolerance tol[RM_COUNT];
        memcpy(tol, list_tol, sizeof(tol));
        if ((rc = parse_entry(list, lineno, line, path, sizeof(path), &reps, tol, err)) < 0)
            break;
        if (!path[0])
            continue;
        experiment *e = NULL;
        if ((rc = experiment_load(path, &e, err)) < 0)
            break;
        run_summary *cur = NULL, *base = NULL;
        size_t nc = 0, nb = 0;
        rc = run_fresh(e, reps, tmp, &cur, &nc, err);
        n_exp++;
        n_runs += nc;
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
                rc = compare(out, e->name, base, nb, cur, nc, tol, worse, &vs, err);
        }
        free(cur);
        free(base);
        experiment_free(e);
    }
    free(text);
    double seconds = now_s() - t0, cpu = cpu_s() - c0;
    if (rc == 0 && !o->update) {
        fprintf(out,
                "paired by (label, replication) on the same seeds; WORSE: the 95%% interval "
                "of the difference lies wholly on the worse side, beyond the metric's "
                "tolerance\n"
                "regress: %d worse; %zu experiment%s, %zu runs in %.1f s (%.1f s of CPU)%s\n",
                *worse, n_exp, n_exp == 1 ? "" : "s", n_runs, seconds, cpu, *worse ? ":" : "");
        for (size_t i = 0; i < vs.n; i++)
            if (vs.v[i].worse)
                fprintf(out, "  %s %s %s\n", vs.v[i].experiment, vs.v[i].label, vs.v[i].detail);
    } else if (rc == 0) {
        fprintf(out, "regress: %zu baselines, %zu runs written in %.1f s (%.1f s of CPU)\n", n_exp,
                n_runs, seconds, cpu);
    }
    if (o->junit_path && !o->update) {
        gp_error jerr;
        gp_error_clear(&jerr);
        int jrc = write_junit(o->junit_path, &vs, seconds, rc < 0 ? err : NULL, &jerr);
        if (rc == 0 && jrc < 0) {
            *err = jerr;
            rc = jrc;
        }
    }
    free(vs.v);
    return rc;
}
