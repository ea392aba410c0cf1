/* trace_gen.c: generated arrivals: a tidal day (or week) and constant-rate Poisson.
 * Tidal arrivals are a non-homogeneous Poisson process drawn by thinning (Lewis and
 * Shedler): candidates come from a piecewise-constant bound over 1-minute segments and
 * are kept with probability rate(t) / bound. The bound is the segment's maximum plus a
 * Lipschitz margin, so it is never below the rate, and tight, so nearly all candidates
 * are kept; a lower "squeeze" accepts most of them without evaluating the curve.
 * Each source owns a GSL mt19937 seeded from (seed, RNG_ARRIVALS); a draw allocates
 * nothing, and memory does not depend on the number of requests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "base/rng.h"
#include "traces/trace_internal.h"

#define DAY_S          86400.0
#define SEG_S          60.0
#define SEGS_PER_DAY   1440
#define TIDAL_MAX_DAYS 36500

void tidal_opts_default(tidal_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->trough_rate_per_s = 0.5;
    o->peak_rate_per_s = 5.0;
    o->n_peaks = 2;
    o->peak_hour[0] = 10.0;
    o->peak_width_h[0] = 2.0;
    o->peak_rel[0] = 0.8;
    o->peak_hour[1] = 20.0;
    o->peak_width_h[1] = 2.0;
    o->peak_rel[1] = 1.0;
    o->days = 1;
    o->weekly = false;
    o->weekend_factor = 0.6;
    o->start_weekday = 0;
    image_mix_default(&o->mix);
    o->seed = 1;
}

double tidal_curve_shape(const tidal_curve *c, double h)
{
    double s = 0;
    for (int k = 0; k < c->n_peaks; k++) {
        double inv_w = 1.0 / c->peak_width_h[k];
        double x = h - c->peak_hour[k];
        double a = x * inv_w, b = (x - 24.0) * inv_w, d = (x + 24.0) * inv_w;
        s += c->peak_rel[k] * (exp(-0.5 * a * a) + exp(-0.5 * b * b) + exp(-0.5 * d * d));
    }
    return s;
}

/* Finds the min or max of the shape: a 5-minute grid, then golden-section refinement
 * around the best grid point. */
static double shape_extreme(const tidal_curve *c, bool want_max)
{
    const int n = 288;
    double best_h = 0, best = tidal_curve_shape(c, 0);
    for (int i = 1; i < n; i++) {
        double h = 24.0 * i / n, v = tidal_curve_shape(c, h);
        if (want_max ? v > best : v < best) {
            best = v;
            best_h = h;
        }
    }
    double lo = best_h - 24.0 / n, hi = best_h + 24.0 / n;
    const double g = 0.6180339887498949;
    for (int it = 0; it < 60; it++) {
        double m1 = hi - g * (hi - lo), m2 = lo + g * (hi - lo);
        double v1 = tidal_curve_shape(c, m1), v2 = tidal_curve_shape(c, m2);
        if (want_max ? v1 > v2 : v1 < v2)
            hi = m2;
        else
            lo = m1;
    }
    double v = tidal_curve_shape(c, 0.5 * (lo + hi));
    return want_max ? fmax(v, best) : fmin(v, best);
}

int tidal_curve_init(const tidal_opts *o, tidal_curve *c, gp_error *err)
{
    memset(c, 0, sizeof(*c));
#define BAD(field, ...) gp_error_set(err, GP_ERANGE, NULL, 0, 0, field, __VA_ARGS__)
    if (!(o->peak_rate_per_s > 0) || !(o->peak_rate_per_s <= 1e9))
        return BAD("tidal.peak_rate_per_s", "expected a number in (0, 1e9], got %g",
                   o->peak_rate_per_s);
    if (!(o->trough_rate_per_s >= 0) || !(o->trough_rate_per_s <= o->peak_rate_per_s))
        return BAD("tidal.trough_rate_per_s",
                   "expected a number in [0, peak_rate_per_s = %g], got %g", o->peak_rate_per_s,
                   o->trough_rate_per_s);
    if (o->n_peaks < 0 || o->n_peaks > TIDAL_MAX_PEAKS)
        return BAD("tidal.peaks", "expected 0 to %d peaks, got %d", TIDAL_MAX_PEAKS, o->n_peaks);
    for (int k = 0; k < o->n_peaks; k++) {
        if (!(o->peak_hour[k] >= 0 && o->peak_hour[k] <= 24))
            return BAD("tidal.peaks", "peak %d: hour must be in [0, 24], got %g", k,
                       o->peak_hour[k]);
        if (!(o->peak_width_h[k] >= 0.25 && o->peak_width_h[k] <= 24))
            return BAD("tidal.peaks", "peak %d: width_h must be in [0.25, 24], got %g", k,
                       o->peak_width_h[k]);
        if (!(o->peak_rel[k] > 0 && o->peak_rel[k] <= 1e6))
            return BAD("tidal.peaks", "peak %d: rel must be in (0, 1e6], got %g", k,
                       o->peak_rel[k]);
    }
    if (o->days < 1 || o->days > TIDAL_MAX_DAYS)
        return BAD("tidal.days", "expected a whole number in [1, %d], got %d", TIDAL_MAX_DAYS,
                   o->days);
    if (!(o->weekend_factor >= 0 && o->weekend_factor <= 1000))
        return BAD("tidal.weekend_factor", "expected a number in [0, 1000], got %g",
                   o->weekend_factor);
    if (o->start_weekday < 0 || o->start_weekday > 6)
        return BAD("tidal.start_weekday", "expected 0 (Monday) to 6 (Sunday), got %d",
                   o->start_weekday);
#undef BAD
    c->trough_rate_per_s = o->trough_rate_per_s;
    c->peak_rate_per_s = o->peak_rate_per_s;
    c->n_peaks = o->n_peaks;
    for (int k = 0; k < o->n_peaks; k++) {
        c->peak_hour[k] = o->peak_hour[k];
        c->peak_width_h[k] = o->peak_width_h[k];
        c->peak_rel[k] = o->peak_rel[k];
    }
    c->weekly = o->weekly;
    c->weekend_factor = o->weekend_factor;
    c->start_weekday = o->start_weekday;
    c->shape_min = shape_extreme(c, false);
    c->shape_max = shape_extreme(c, true);
    return 0;
}

static double day_factor(const tidal_curve *c, int64_t day)
{
    if (!c->weekly)
        return 1.0;
    int64_t wd = (c->start_weekday + day) % 7;
    if (wd < 0)
        wd += 7;
    return wd >= 5 ? c->weekend_factor : 1.0;
}

/* Rate on a weekday at hour-of-day h. */
static double weekday_rate(const tidal_curve *c, double h)
{
    double range = c->shape_max - c->shape_min;
    if (!(range > 1e-12 * (c->shape_max > 1 ? c->shape_max : 1)))
        return c->peak_rate_per_s;
    double frac = (tidal_curve_shape(c, h) - c->shape_min) / range;
    return c->trough_rate_per_s + (c->peak_rate_per_s - c->trough_rate_per_s) * frac;
}

double tidal_curve_rate_per_s(const tidal_curve *c, double t_s)
{
    double day = floor(t_s / DAY_S);
    double h = (t_s - day * DAY_S) / 3600.0;
    return day_factor(c, (int64_t)day) * weekday_rate(c, h);
}

double tidal_rate_per_s(const tidal_opts *o, double t_s)
{
    tidal_curve c;
    if (tidal_curve_init(o, &c, NULL) < 0)
        return NAN;
    return tidal_curve_rate_per_s(&c, t_s);
}

static gsl_rng *arrivals_rng(uint64_t seed)
{
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    if (g)
        gsl_rng_set(g,
                    (unsigned long)rng_mix64(seed ^ rng_mix64((uint64_t)RNG_ARRIVALS + 0x7a3dULL)));
    return g;
}

typedef struct tidal_src {
    arrival_src base;
    tidal_curve curve;
    gsl_rng *rng;
    mix_table mix;
    uint64_t seed, emitted;
    /* thinning state */
    double t_s;         /* current time */
    int64_t seg, n_seg; /* current 1-minute segment, and how many */
    double seg_end_s, lam, squeeze;
    double seg_bound[SEGS_PER_DAY], seg_squeeze[SEGS_PER_DAY]; /* weekday values */
} tidal_src;

static void tidal_enter_segment(tidal_src *s)
{
    int64_t day = s->seg / SEGS_PER_DAY;
    int j = (int)(s->seg % SEGS_PER_DAY);
    double f = day_factor(&s->curve, day);
    s->lam = f * s->seg_bound[j];
    s->squeeze = f * s->seg_squeeze[j];
    s->seg_end_s = (double)(s->seg + 1) * SEG_S;
}

static int tidal_next(arrival_src *base, request_spec *out, gp_error *err)
{
    (void)err;
    tidal_src *s = (tidal_src *)base;
    if (s->seg >= s->n_seg)
        return 0;
    for (;;) {
        double e = -log(gsl_rng_uniform_pos(s->rng)); /* unit exponential */
        /* Spend e over segments: what does not fit in one moves to the next. */
        while (s->lam * (s->seg_end_s - s->t_s) <= e) {
            e -= s->lam * (s->seg_end_s - s->t_s);
            s->t_s = s->seg_end_s;
            if (++s->seg >= s->n_seg)
                return 0;
            tidal_enter_segment(s);
        }
        s->t_s += e / s->lam;
        double v = gsl_rng_uniform(s->rng) * s->lam;
        if (v < s->squeeze || v < tidal_curve_rate_per_s(&s->curve, s->t_s))
            break;
    }
    out->arrival_us = (int64_t)(s->t_s * 1e6);
    mix_table_draw(&s->mix, s->seed, s->emitted++, &out->mp, &out->faces);
    return 1;
}

static void gen_free(arrival_src *base)
{
    tidal_src *s = (tidal_src *)base;
    gsl_rng_free(s->rng);
    free(s);
}

static const arrival_src_ops tidal_ops = {"tidal", tidal_next, gen_free};

int trace_open_tidal(const tidal_opts *o, arrival_src **out, gp_error *err)
{
    *out = NULL;
    int rc = image_mix_validate(&o->mix, err);
    if (rc < 0)
        return rc;
    tidal_src *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    if ((rc = tidal_curve_init(o, &s->curve, err)) < 0) {
        free(s);
        return rc;
    }
    s->rng = arrivals_rng(o->seed);
    if (!s->rng) {
        free(s);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    mix_table_init(&s->mix, &o->mix);
    s->seed = o->seed;
    /* Per-segment bounds from 15-s samples; between samples the rate moves by at most
     * slope * 7.5 s, with slope <= (peak - trough) / range * sum rel / (w sqrt(e)) per hour
     * (times 3: each wrapped copy at most that). */
    const tidal_curve *c = &s->curve;
    double range = c->shape_max - c->shape_min;
    double slope_per_s = 0;
    if (range > 1e-12 * (c->shape_max > 1 ? c->shape_max : 1)) {
        double sum = 0;
        for (int k = 0; k < c->n_peaks; k++)
            sum += 3.0 * c->peak_rel[k] / (c->peak_width_h[k] * sqrt(exp(1.0)));
        slope_per_s = (c->peak_rate_per_s - c->trough_rate_per_s) / range * sum / 3600.0;
    }
    const int samples = 4; /* every 15 s */
    double margin = slope_per_s * SEG_S / samples / 2 * 1.01 + 1e-12 * c->peak_rate_per_s;
    for (int j = 0; j < SEGS_PER_DAY; j++) {
        double hi = 0, lo = INFINITY;
        for (int i = 0; i <= samples; i++) {
            double t = j * SEG_S + SEG_S * i / samples;
            double v = weekday_rate(c, t / 3600.0);
            hi = fmax(hi, v);
            lo = fmin(lo, v);
        }
        s->seg_bound[j] = hi + margin;
        s->seg_squeeze[j] = fmax(0.0, lo - margin);
    }
    /* the expected count: the weekday curve at the segments' middles, day by day */
    double weekday = 0;
    for (int j = 0; j < SEGS_PER_DAY; j++)
        weekday += weekday_rate(c, (j + 0.5) * SEG_S / 3600.0) * SEG_S;
    for (int64_t d = 0; d < o->days; d++)
        s->base.expected_count += day_factor(c, d) * weekday;
    s->n_seg = (int64_t)o->days * SEGS_PER_DAY;
    s->seg = 0;
    s->t_s = 0;
    tidal_enter_segment(s);
    s->base.ops = &tidal_ops;
    s->base.span_us = (int64_t)o->days * 86400LL * 1000000LL;
    s->base.origin_us = 0;
    s->base.origin_is_date = false;
    *out = &s->base;
    return 0;
}

typedef struct poisson_src {
    arrival_src base;
    gsl_rng *rng;
    mix_table mix;
    uint64_t seed, emitted;
    double t_s, end_s, mean_gap_s;
    bool done;
} poisson_src;

static int poisson_next(arrival_src *base, request_spec *out, gp_error *err)
{
    (void)err;
    poisson_src *s = (poisson_src *)base;
    if (s->done)
        return 0;
    s->t_s += -log(gsl_rng_uniform_pos(s->rng)) * s->mean_gap_s;
    if (s->t_s >= s->end_s) {
        s->done = true;
        return 0;
    }
    out->arrival_us = (int64_t)(s->t_s * 1e6);
    mix_table_draw(&s->mix, s->seed, s->emitted++, &out->mp, &out->faces);
    return 1;
}

static void poisson_free(arrival_src *base)
{
    poisson_src *s = (poisson_src *)base;
    gsl_rng_free(s->rng);
    free(s);
}

static const arrival_src_ops poisson_ops = {"poisson", poisson_next, poisson_free};

int trace_open_poisson(double rate_per_s, int64_t duration_us, const image_mix *mix, uint64_t seed,
                       arrival_src **out, gp_error *err)
{
    *out = NULL;
    if (!(rate_per_s >= 0 && rate_per_s <= 1e9))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "poisson.rate_per_s",
                            "expected a number in [0, 1e9], got %g", rate_per_s);
    if (duration_us <= 0)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "poisson.duration",
                            "must be > 0, got %lld us", (long long)duration_us);
    image_mix def;
    if (!mix) {
        image_mix_default(&def);
        mix = &def;
    }
    int rc = image_mix_validate(mix, err);
    if (rc < 0)
        return rc;
    poisson_src *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    s->rng = arrivals_rng(seed);
    if (!s->rng) {
        free(s);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    mix_table_init(&s->mix, mix);
    s->seed = seed;
    s->end_s = (double)duration_us / 1e6;
    s->done = rate_per_s == 0;
    s->mean_gap_s = rate_per_s > 0 ? 1.0 / rate_per_s : 0;
    s->base.ops = &poisson_ops;
    s->base.span_us = duration_us;
    s->base.expected_count = rate_per_s * (double)duration_us / 1e6;
    *out = &s->base;
    return 0;
}
