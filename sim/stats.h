/* stats.h: summaries over replications (mean, sample sd, Student-t confidence interval)
 * and over paired replications (common random numbers: the CI of a - b, pair by pair).
 * Pure functions over caller-owned arrays; nothing is allocated. NaN inputs (a run with
 * no completions has no P99) are skipped and counted in n_nan; a pair is skipped when
 * either side is NaN. With n < 2 the sd and half-width are NaN ("no interval"). */
#ifndef GP_STATS_H
#define GP_STATS_H

#include <stddef.h>

typedef struct stat_summary {
    size_t n;          /* values used */
    size_t n_nan;      /* values (or pairs) skipped because NaN */
    double mean;       /* NaN when n == 0 */
    double sd;         /* sample standard deviation (n - 1); NaN when n < 2 */
    double half_width; /* CI half-width t_{(1+level)/2, n-1} sd / sqrt(n); NaN when n < 2 */
    double level;      /* confidence level of half_width, e.g. 0.95 */
    double min, max;   /* NaN when n == 0 */
} stat_summary;

/* 95% interval. */
stat_summary stats_summarize(const double *x, size_t n);
/* level in (0, 1). */
stat_summary stats_summarize_level(const double *x, size_t n, double level);
/* Summary of a[i] - b[i] over the pairs: the paired-difference CI. */
stat_summary stats_paired(const double *a, const double *b, size_t n);
stat_summary stats_paired_level(const double *a, const double *b, size_t n, double level);
/* The summary of k * x (mean, sd, half-width, min, max scaled; k may be negative). */
stat_summary stats_scaled(stat_summary s, double k);
/* True when the interval excludes 0 (n >= 2): a paired difference is significant. */
int stats_significant(const stat_summary *s);
/* Two-sided Student t quantile t_{(1+level)/2, df} (gsl_cdf_tdist_Pinv). */
double stats_t_quantile(double level, double df);

/* "1.234 ± 0.056" (UTF-8 ±) with `decimals` digits after the point; "1.234" when there
 * is no interval; "-" when there is no mean. Returns buf (always NUL-terminated). */
char *stats_format(char *buf, size_t len, const stat_summary *s, int decimals);

#endif
