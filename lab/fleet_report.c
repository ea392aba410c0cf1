/* fleet_report.c: the per-pool table of `gpenlab run` (see fleet_report.h). */
#include "lab/fleet_report.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

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

int fleet_report_print(FILE *out, const run_summary *runs, size_t n, gp_error *err)
{
    (void)err;
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
    return 0;
}
