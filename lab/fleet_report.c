/* fleet_report.c: the per-pool tables of `gpenlab run` (see fleet_report.h). */
#include "lab/fleet_report.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lab/sweep_summary.h"
#include "sim/stats.h"

/* The means of one pool's figures (or the fleet's, pool < 0) over the runs of a label. */
typedef struct pool_means {
    double pods, util, gpu_h, cost, starts, preempt, answered, p99;
    int n, n_p99;
} pool_means;

static void add_run(pool_means *m, const run_summary *r, int pool)
{
    if (pool >= 0) {
        const pool_result *p = &r->pool[pool];
        m->pods += p->mean_pods;
        m->util += p->utilisation * 100;
        m->gpu_h += p->gpu_seconds / 3600;
        m->cost += p->cost;
        m->starts += (double)p->pod_starts;
        m->preempt += (double)p->preemptions;
        m->answered += (double)p->completed;
        if (!isnan(p->lat_p99_s)) {
            m->p99 += p->lat_p99_s;
            m->n_p99++;
        }
    } else {
        /* the fleet: the pools' sums (so the columns add up), its own utilisation and P99 */
        for (int k = 0; k < r->n_pools; k++) {
            const pool_result *p = &r->pool[k];
            m->pods += p->mean_pods;
            m->gpu_h += p->gpu_seconds / 3600;
            m->cost += p->cost;
            m->starts += (double)p->pod_starts;
            m->preempt += (double)p->preemptions;
            m->answered += (double)p->completed;
        }
        m->util += r->utilisation * 100;
        if (!isnan(r->lat_p99_s)) {
            m->p99 += r->lat_p99_s;
            m->n_p99++;
        }
    }
    m->n++;
}

static void print_line(FILE *out, const char *label, const char *pool, const char *card,
                       const char *capacity, const pool_means *m)
{
    double n = m->n ? m->n : 1;
    char p99[32] = "-";
    if (m->n_p99)
        snprintf(p99, sizeof(p99), "%.3f", m->p99 / m->n_p99);
    fprintf(out, "%-24.24s %-12.12s %-24.24s %-9s %7.2f %8.1f %9.2f %10.2f %8.1f %8.1f %10.0f %8s\n",
            label, pool, card, capacity, m->pods / n, m->util / n, m->gpu_h / n, m->cost / n,
            m->starts / n, m->preempt / n, m->answered / n, p99);
}

/* One label's figures over its replications. */
typedef struct mix_figures {
    const char *label;
    stat_summary cost, p99, slo, preempt, timeouts;
    bool front;
} mix_figures;

static stat_summary summarise(const run_summary *runs, size_t n, const char *label, double *buf,
                              double (*get)(const run_summary *))
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(runs[i].label, label) == 0)
            buf[k++] = get(&runs[i]);
    return stats_summarize(buf, k);
}

static double get_cost(const run_summary *r) { return r->cost; }
static double get_p99(const run_summary *r) { return r->lat_p99_s; }
static double get_slo(const run_summary *r) { return 100.0 * r->slo_frac; }
static double get_preempt(const run_summary *r) { return (double)r->preemptions; }
static double get_timeouts(const run_summary *r) { return (double)r->timed_out; }

/* The answer, one line per label with pools: cost, P99, the share within the SLO,
 * preemptions and timeouts (mean ± 95% CI), and whether it is on the Pareto front of cost
 * against P99 (the sweep's rule: pareto_dominates). */
static int print_answer(FILE *out, const run_summary *runs, size_t n, gp_error *err)
{
    mix_figures *m = calloc(n + 1, sizeof(*m));
    double *buf = calloc(n + 1, sizeof(*buf));
    if (!m || !buf) {
        free(m);
        free(buf);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < k; j++)
            seen |= strcmp(m[j].label, runs[i].label) == 0;
        if (seen || runs[i].n_pools <= 0)
            continue;
        mix_figures *f = &m[k++];
        f->label = runs[i].label;
        f->cost = summarise(runs, n, f->label, buf, get_cost);
        f->p99 = summarise(runs, n, f->label, buf, get_p99);
        f->slo = summarise(runs, n, f->label, buf, get_slo);
        f->preempt = summarise(runs, n, f->label, buf, get_preempt);
        f->timeouts = summarise(runs, n, f->label, buf, get_timeouts);
    }
    for (size_t a = 0; a < k; a++) {
        m[a].front = true;
        for (size_t b = 0; b < k && m[a].front; b++)
            m[a].front = !pareto_dominates(m[b].cost.mean, m[b].p99.mean, m[a].cost.mean,
                                           m[a].p99.mean);
    }
    fprintf(out, "\nfleet: cost, P99, requests within the SLO, preemptions (mean ± 95%% CI; "
                 "pareto: on the front of cost against P99)\n");
    fprintf(out, "%-24s %-18s %-18s %-16s %-14s %s\n", "label", "cost", "P99 (s)", "SLO (%)",
            "preemptions", "timeouts");
    static const int width[] = {18, 18, 16, 14, 16};
    static const int decimals[] = {2, 3, 2, 1, 1};
    for (size_t a = 0; a < k; a++) {
        const stat_summary *col[] = {&m[a].cost, &m[a].p99, &m[a].slo, &m[a].preempt,
                                     &m[a].timeouts};
        char line[512];
        int used = snprintf(line, sizeof(line), "%-24s", m[a].label);
        for (int c = 0; c < 5 && used > 0 && (size_t)used < sizeof(line); c++) {
            char cell[64];
            stats_format(cell, sizeof(cell), col[c], decimals[c]);
            /* "±" is two bytes and one column */
            int pad = width[c] + (strstr(cell, "\xc2\xb1") ? 1 : 0);
            used += snprintf(line + used, sizeof(line) - (size_t)used, " %-*s", pad, cell);
        }
        if (m[a].front && used > 0 && (size_t)used < sizeof(line))
            snprintf(line + used, sizeof(line) - (size_t)used, " pareto");
        size_t end = strlen(line);
        while (end > 0 && line[end - 1] == ' ')
            line[--end] = '\0';
        fprintf(out, "%s\n", line);
    }
    free(m);
    free(buf);
    return 0;
}

int fleet_report_print(FILE *out, const run_summary *runs, size_t n, gp_error *err)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= runs[i].n_pools > 0;
    if (!any)
        return 0;
    fprintf(out, "\nper pool and fleet (means over replications; pods: billed, time-averaged; "
                 "P99 of the requests each pool answered)\n");
    fprintf(out, "%-24s %-12s %-24s %-9s %7s %8s %9s %10s %8s %8s %10s %8s\n", "label", "pool",
            "card", "capacity", "pods", "util (%)", "GPU-h", "cost", "cold st.", "preempt.",
            "answered", "P99 (s)");
    for (size_t i = 0; i < n; i++) {
        const run_summary *first = &runs[i];
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= strcmp(runs[k].label, first->label) == 0;
        if (seen || first->n_pools <= 0)
            continue;
        for (int p = 0; p < first->n_pools; p++) {
            pool_means m = {0};
            for (size_t k = i; k < n; k++)
                if (strcmp(runs[k].label, first->label) == 0 && runs[k].n_pools == first->n_pools)
                    add_run(&m, &runs[k], p);
            const pool_result *pr = &first->pool[p];
            print_line(out, p == 0 ? first->label : "", pr->name, pr->card,
                       pr->spot ? "spot" : "on demand", &m);
        }
        pool_means f = {0};
        for (size_t k = i; k < n; k++)
            if (strcmp(runs[k].label, first->label) == 0)
                add_run(&f, &runs[k], -1);
        print_line(out, "", "fleet", "", "", &f);
    }
    return print_answer(out, runs, n, err);
}
