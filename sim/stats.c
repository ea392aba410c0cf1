/* stats.c: replication summaries. Two passes (mean, then squared deviations) so that
 * the sd of values like 1e6 + small noise is not lost to cancellation. */
#include "sim/stats.h"

#include <math.h>
#include <stdio.h>

#include <gsl/gsl_cdf.h>

double stats_t_quantile(double level, double df)
{
    if (!(level > 0 && level < 1) || !(df >= 1))
        return NAN;
    return gsl_cdf_tdist_Pinv(0.5 + level / 2.0, df);
}

/* The core: x[i] - (b ? b[i] : 0) over the pairs where both are numbers. */
static stat_summary summarize(const double *a, const double *b, size_t n, double level)
{
    stat_summary s = {
        .level = level, .mean = NAN, .sd = NAN, .half_width = NAN, .min = NAN, .max = NAN};
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = b ? a[i] - b[i] : a[i];
        if (isnan(v)) {
            s.n_nan++;
            continue;
        }
        s.n++;
        sum += v;
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
    }
    if (s.n == 0)
        return s;
    s.mean = sum / (double)s.n;
    s.min = mn;
    s.max = mx;
    if (s.n < 2)
        return s;
    double ss = 0, comp = 0; /* comp: the classic correction sum(d) for rounding in mean */
    for (size_t i = 0; i < n; i++) {
        double v = b ? a[i] - b[i] : a[i];
        if (isnan(v))
            continue;
        double d = v - s.mean;
        ss += d * d;
        comp += d;
    }
    double var = (ss - comp * comp / (double)s.n) / (double)(s.n - 1);
    s.sd = sqrt(var > 0 ? var : 0);
    s.half_width = stats_t_quantile(level, (double)(s.n - 1)) * s.sd / sqrt((double)s.n);
    return s;
}

stat_summary stats_summarize_level(const double *x, size_t n, double level)
{
    return summarize(x, NULL, n, level);
}

stat_summary stats_summarize(const double *x, size_t n) { return summarize(x, NULL, n, 0.95); }

stat_summary stats_paired_level(const double *a, const double *b, size_t n, double level)
{
    return summarize(a, b, n, level);
}

stat_summary stats_paired(const double *a, const double *b, size_t n)
{
    return summarize(a, b, n, 0.95);
}

stat_summary stats_scaled(stat_summary s, double k)
{
    s.mean *= k;
    s.sd *= fabs(k);
    s.half_width *= fabs(k);
    double a = s.min * k, b = s.max * k;
    s.min = a < b ? a : b;
    s.max = a < b ? b : a;
    return s;
}

int stats_significant(const stat_summary *s)
{
    return s->n >= 2 && !isnan(s->half_width) && fabs(s->mean) > s->half_width;
}

char *stats_format(char *buf, size_t len, const stat_summary *s, int decimals)
{
    if (!buf || len == 0)
        return buf;
    if (decimals < 0)
        decimals = 0;
    if (s->n == 0 || isnan(s->mean))
        snprintf(buf, len, "-");
    else if (s->n < 2 || isnan(s->half_width))
        snprintf(buf, len, "%.*f", decimals, s->mean);
    else
        snprintf(buf, len, "%.*f \xc2\xb1 %.*f", decimals, s->mean, decimals, s->half_width);
    return buf;
}
