/* test_policies_tidal.c: experiments/policies_tidal.yaml (every policy on a real tidal
 * day) runs end to end, and the clairvoyant line bounds every other policy on cost at
 * equal SLO attainment: the clairvoyant points (cost against SLO attainment, one per
 * target utilisation) are joined piecewise-linearly, and no policy may reach an SLO
 * attainment for less GPU-time than that line (a policy below its lowest point must cost
 * at least the cheapest clairvoyant point, which also has the better SLO). Policies whose
 * SLO attainment lies above the best clairvoyant point cannot be judged and are listed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/lab.h"
#include "lab/results_db.h"

typedef struct point {
    char label[64];
    double slo, gpu_h;
    int n;
} point;

static int cmp_slo(const void *a, const void *b)
{
    const point *x = a, *y = b;
    return x->slo < y->slo ? -1 : x->slo > y->slo;
}

static void test_clairvoyant_bounds_every_policy(void **state)
{
    (void)state;
    experiment *e;
    gp_error err;
    if (experiment_load("experiments/policies_tidal.yaml", &e, &err) < 0)
        fail_msg("load: %s:%ld: %s", err.file, err.line, err.msg);
    char db[] = "/tmp/gpenlab-policies-XXXXXX";
    int fd = mkstemp(db);
    assert_true(fd >= 0);
    close(fd);
    unlink(db);
    lab_opts o;
    lab_opts_default(&o);
    o.db_path = db;
    char csv[300];
    snprintf(csv, sizeof(csv), "%s.csv", db);
    o.csv_path = csv;
    o.replications = 2;
    o.quiet = true;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = lab_run(e, &o, devnull, &err);
    fclose(devnull);
    if (rc < 0)
        fail_msg("run: %s", err.msg);

    results_db *rdb;
    assert_int_equal(results_db_open(db, &rdb, &err), 0);
    run_summary *runs;
    size_t n;
    assert_int_equal(results_db_read_runs(rdb, 1, &runs, &n, &err), 0);
    assert_int_equal(n, (size_t)e->n_policies * 2);
    point pts[EXPERIMENT_MAX_POLICIES];
    int np = 0;
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < np && strcmp(pts[k].label, runs[i].label) != 0)
            k++;
        if (k == np) {
            memset(&pts[np], 0, sizeof(pts[np]));
            snprintf(pts[np].label, sizeof(pts[np].label), "%s", runs[i].label);
            np++;
        }
        assert_int_equal(runs[i].arrived, runs[i].completed + runs[i].timed_out + runs[i].rejected +
                                              runs[i].in_flight_end);
        pts[k].slo += runs[i].slo_frac;
        pts[k].gpu_h += runs[i].gpu_seconds / 3600;
        pts[k].n++;
    }
    point bound[16];
    int nb = 0;
    for (int k = 0; k < np; k++) {
        pts[k].slo /= pts[k].n;
        pts[k].gpu_h /= pts[k].n;
        if (strncmp(pts[k].label, "clairvoyant", 11) == 0 && nb < 16)
            bound[nb++] = pts[k];
    }
    assert_true(nb >= 2);
    qsort(bound, (size_t)nb, sizeof(point), cmp_slo);
    for (int k = 0; k < np; k++) {
        const point *p = &pts[k];
        if (strncmp(p->label, "clairvoyant", 11) == 0)
            continue;
        double line;
        if (p->slo > bound[nb - 1].slo) {
            printf("  %-18s SLO %.2f%% above the best clairvoyant point (%.2f%%): not judged\n",
                   p->label, 100 * p->slo, 100 * bound[nb - 1].slo);
            continue;
        } else if (p->slo <= bound[0].slo) {
            line = bound[0].gpu_h;
        } else {
            int j = 1;
            while (bound[j].slo < p->slo)
                j++;
            double f = (p->slo - bound[j - 1].slo) / (bound[j].slo - bound[j - 1].slo);
            line = bound[j - 1].gpu_h + f * (bound[j].gpu_h - bound[j - 1].gpu_h);
        }
        printf("  %-18s SLO %6.2f%%  %8.2f GPU-h  clairvoyant at that SLO %8.2f GPU-h\n", p->label,
               100 * p->slo, p->gpu_h, line);
        if (p->gpu_h < line)
            fail_msg("%s beats the clairvoyant bound: %.2f GPU-h at SLO %.2f%% < %.2f", p->label,
                     p->gpu_h, 100 * p->slo, line);
    }
    free(runs);
    results_db_close(rdb);
    unlink(db);
    unlink(csv);
    char side[300];
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
    experiment_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clairvoyant_bounds_every_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
