/* bench_common.h: what the benchmarks share: a monotonic clock, the load average at the
 * start of a measurement, figures as the median of 3 runs with their minimum, peak RSS,
 * the small (CI) mode, and one format for the targets that `make bench` collects at the
 * end ("target: WHAT: FIGURE: met" or "NOT met"). Header-only; benchmarks only. */
#ifndef GP_BENCH_COMMON_H
#define GP_BENCH_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BENCH_RUNS 3

static inline double bench_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The 1-minute load average now (-1 if unknown). */
static inline double bench_load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* BENCH_SMALL=1 (CI): smaller inputs, same figures and targets (a target judged on the
 * small inputs says so). */
static inline bool bench_small(void)
{
    const char *v = getenv("BENCH_SMALL");
    return v && *v && strcmp(v, "0") != 0;
}

static inline long bench_maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One figure: BENCH_RUNS samples (seconds), and the load when the first started. */
typedef struct bench_fig {
    double v[BENCH_RUNS];
    int n;
    double load;
} bench_fig;

static inline void bench_fig_start(bench_fig *f)
{
    if (f->n == 0)
        f->load = bench_load1();
}

static inline void bench_fig_add(bench_fig *f, double v)
{
    if (f->n < BENCH_RUNS)
        f->v[f->n++] = v;
}

static inline double bench_median(const bench_fig *f)
{
    double a[BENCH_RUNS];
    memcpy(a, f->v, sizeof(a));
    for (int i = 1; i < f->n; i++)
        for (int j = i; j > 0 && a[j - 1] > a[j]; j--) {
            double t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    return f->n ? a[f->n / 2] : 0;
}

static inline double bench_min(const bench_fig *f)
{
    double m = f->n ? f->v[0] : 0;
    for (int i = 1; i < f->n; i++)
        if (f->v[i] < m)
            m = f->v[i];
    return m;
}

/* "median 1.234 s (min 1.200, load 0.35)" */
static inline void bench_print_time(const char *what, const bench_fig *f)
{
    printf("  %-44s %10.4f s  (min %.4f, load at start %.2f)\n", what, bench_median(f),
           bench_min(f), f->load);
}

static inline void bench_target(const char *what, const char *figure, bool met)
{
    printf("target: %s: %s: %s\n", what, figure, met ? "met" : "NOT met");
}

#endif
