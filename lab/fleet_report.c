/* fleet_report.c: the per-pool tables of `gpenlab run` (see fleet_report.h). */
#include "lab/fleet_report.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "lab/report.h"
#include "lab/run_metrics.h"
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
    fprintf(out,
            "%-24.24s %-12.12s %-24.24s %-9s %7.2f %8.1f %9.2f %10.2f %8.1f %8.1f %10.0f %8s\n",
            label, pool, card, capacity, m->pods / n, m->util / n, m->gpu_h / n, m->cost / n,
            m->starts / n, m->preempt / n, m->answered / n, p99);
}

/* The answer, one line per label with pools: cost, P99, the share within the SLO,
 * preemptions and timeouts (run metrics, mean ± 95% CI over the replications: report.h's
 * grouping), and whether it is on the Pareto front of cost against P99 (the sweep's rule:
 * pareto_dominates). */
static int print_answer(FILE *out, const run_summary *runs, size_t n, gp_error *err)
{
    report_group *g;
    size_t ng;
    TRY(report_group_runs(runs, n, &g, &ng, err));
    bool *fleet = calloc(ng + 1, sizeof(*fleet));
    if (!fleet) {
        free(g);
        return gp_oom(err);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ng; k++)
            fleet[k] |= runs[i].n_pools > 0 && strcmp(g[k].label, runs[i].label) == 0;
    static const run_metric_id col[] = {RM_COST, RM_P99_S, RM_SLO_PCT, RM_PREEMPTIONS,
                                        RM_TIMED_OUT};
    static const int width[] = {18, 18, 16, 14, 16};
    fprintf(out, "\nfleet: cost, P99, requests within the SLO, preemptions (mean ± 95%% CI; "
                 "pareto: on the front of cost against P99)\n");
    fprintf(out, "%-24s %-18s %-18s %-16s %-14s %s\n", "label", "cost", "P99 (s)", "SLO (%)",
            "preemptions", "timeouts");
    for (size_t a = 0; a < ng; a++) {
        if (!fleet[a])
            continue;
        bool front = true;
        for (size_t b = 0; b < ng && front; b++)
            front = !fleet[b] || !pareto_dominates(g[b].s[RM_COST].mean, g[b].s[RM_P99_S].mean,
                                                   g[a].s[RM_COST].mean, g[a].s[RM_P99_S].mean);
        char line[512];
        int used = snprintf(line, sizeof(line), "%-24s", g[a].label);
        for (size_t c = 0;
             c < sizeof(col) / sizeof(col[0]) && used > 0 && (size_t)used < sizeof(line); c++) {
            char cell[64];
            stats_format(cell, sizeof(cell), &g[a].s[col[c]], run_metric_get(col[c])->decimals);
            /* "±" is two bytes and one column */
            int pad = width[c] + (strstr(cell, "\xc2\xb1") ? 1 : 0);
            used += snprintf(line + used, sizeof(line) - (size_t)used, " %-*s", pad, cell);
        }
        if (front && used > 0 && (size_t)used < sizeof(line))
            snprintf(line + used, sizeof(line) - (size_t)used, " pareto");
        size_t end_at = strlen(line);
        while (end_at > 0 && line[end_at - 1] == ' ')
            line[--end_at] = '\0';
        fprintf(out, "%s\n", line);
    }
    free(fleet);
    free(g);
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
