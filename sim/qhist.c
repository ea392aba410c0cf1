/* qhist.c: log-bucket histogram and its sliding window. See qhist.h for the bound. */
#include "sim/qhist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int key_of(const qhist *h, double x) { return (int)ceil(log(x) * h->inv_log_gamma); }

int qhist_init(qhist *h, double rel_err, gp_error *err)
{
    memset(h, 0, sizeof(*h));
    if (!(rel_err >= QHIST_MIN_REL_ERR && rel_err <= QHIST_MAX_REL_ERR))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "quantile_rel_error",
                            "expected a relative error in [%g, %g], got %g", QHIST_MIN_REL_ERR,
                            QHIST_MAX_REL_ERR, rel_err);
    h->rel_err = rel_err;
    h->gamma = (1.0 + rel_err) / (1.0 - rel_err);
    h->inv_log_gamma = 1.0 / log(h->gamma);
    h->key_min = key_of(h, QHIST_MIN_S);
    h->n_buckets = key_of(h, QHIST_MAX_S) - h->key_min + 1;
    h->count = calloc((size_t)h->n_buckets, sizeof(*h->count));
    if (!h->count)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    qhist_reset(h);
    return 0;
}

void qhist_free(qhist *h)
{
    if (h) {
        free(h->count);
        h->count = NULL;
    }
}

void qhist_reset(qhist *h)
{
    if (h->lo <= h->hi)
        memset(h->count + h->lo, 0, (size_t)(h->hi - h->lo + 1) * sizeof(*h->count));
    h->lo = h->n_buckets;
    h->hi = -1;
    h->under = h->over = 0;
    h->n = h->n_nan = 0;
    h->sum = 0;
    h->min = INFINITY;
    h->max = -INFINITY;
}

/* Adds n samples of x; returns the bucket they went to, -1 for none (NaN, under, over). */
static int add_n(qhist *h, double x, uint64_t n)
{
    if (n == 0)
        return -1;
    if (isnan(x)) {
        h->n_nan += n;
        return -1;
    }
    h->n += n;
    h->sum += x * (double)n;
    if (x < h->min)
        h->min = x;
    if (x > h->max)
        h->max = x;
    if (x < QHIST_MIN_S) {
        h->under += n;
        return -1;
    }
    if (x > QHIST_MAX_S) {
        h->over += n;
        return -1;
    }
    int i = key_of(h, x) - h->key_min;
    /* log() rounding at the range ends can land one bucket outside */
    if (i < 0)
        i = 0;
    if (i >= h->n_buckets)
        i = h->n_buckets - 1;
    h->count[i] += n;
    if (i < h->lo)
        h->lo = i;
    if (i > h->hi)
        h->hi = i;
    return i;
}

void qhist_add_n(qhist *h, double x, uint64_t n) { add_n(h, x, n); }

void qhist_add(qhist *h, double x) { add_n(h, x, 1); }

int qhist_merge(qhist *dst, const qhist *src, gp_error *err)
{
    if (dst->n_buckets != src->n_buckets || dst->rel_err != src->rel_err)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, NULL,
                            "merging histograms of different relative errors (%g, %g)",
                            dst->rel_err, src->rel_err);
    for (int i = src->lo; i <= src->hi; i++)
        dst->count[i] += src->count[i];
    if (src->lo < dst->lo)
        dst->lo = src->lo;
    if (src->hi > dst->hi)
        dst->hi = src->hi;
    dst->under += src->under;
    dst->over += src->over;
    dst->n += src->n;
    dst->n_nan += src->n_nan;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    return 0;
}

/* The quantile of the union of hs[0..n), whose bucket counts summed are `count`
 * (h->count itself for one histogram; a window keeps the sum of its slots). The bucket
 * holding rank ceil(q n) is found from below for q <= 0.5 and from above otherwise,
 * which is the same bucket: from above, the smallest i whose count of samples above it
 * is at most (in buckets) - (rank - under). Each walk stops at its quantile. */
static double quantile_over(const qhist *const *hs, int n, const uint64_t *count, double q)
{
    uint64_t total = 0, under = 0, over = 0;
    double mn = INFINITY, mx = -INFINITY;
    int lo = hs[0]->n_buckets, hi = -1;
    for (int s = 0; s < n; s++) {
        total += hs[s]->n;
        under += hs[s]->under;
        over += hs[s]->over;
        if (hs[s]->min < mn)
            mn = hs[s]->min;
        if (hs[s]->max > mx)
            mx = hs[s]->max;
        if (hs[s]->lo < lo)
            lo = hs[s]->lo;
        if (hs[s]->hi > hi)
            hi = hs[s]->hi;
    }
    if (total == 0)
        return NAN;
    if (!(q > 0))
        return mn;
    if (q >= 1)
        return mx;
    /* ceil(q n), forgiving the last bit: 0.07 * 100 is 7.000000000000001 in doubles */
    double qn = q * (double)total;
    double rank_d = ceil(qn - qn * 1e-12);
    uint64_t rank = rank_d < 1 ? 1 : rank_d > (double)total ? total : (uint64_t)rank_d;
    if (rank <= under)
        return mn;
    uint64_t in_buckets = total - under - over;
    if (under + in_buckets < rank)
        return mx; /* the rank is in the overflow bucket */
    int found = lo;
    if (q <= 0.5) {
        uint64_t seen = under;
        for (found = lo; found < hi; found++) {
            seen += count[found];
            if (seen >= rank)
                break;
        }
    } else {
        uint64_t most_above = in_buckets - (rank - under), above = 0;
        for (found = hi; found > lo && above + count[found] <= most_above; found--)
            above += count[found];
    }
    const qhist *h = hs[0];
    double v = 2.0 * pow(h->gamma, (double)(h->key_min + found)) / (h->gamma + 1.0);
    return v < mn ? mn : v > mx ? mx : v;
}

double qhist_quantile(const qhist *h, double q)
{
    const qhist *one[1] = {h};
    return quantile_over(one, 1, h->count, q);
}

uint64_t qhist_count(const qhist *h) { return h->n; }
double qhist_sum(const qhist *h) { return h->sum; }
double qhist_mean(const qhist *h) { return h->n ? h->sum / (double)h->n : NAN; }
double qhist_min(const qhist *h) { return h->n ? h->min : NAN; }
double qhist_max(const qhist *h) { return h->n ? h->max : NAN; }
double qhist_rel_error(const qhist *h) { return h->rel_err; }

uint64_t qhist_count_le(const qhist *h, double x)
{
    if (h->n == 0 || isnan(x) || x < h->min)
        return 0;
    if (x >= h->max)
        return h->n;
    uint64_t c = h->under;
    if (x < QHIST_MIN_S)
        return c;
    int last = x > QHIST_MAX_S ? h->n_buckets - 1 : key_of(h, x) - h->key_min;
    if (last >= h->n_buckets)
        last = h->n_buckets - 1;
    for (int i = h->lo; i <= h->hi && i <= last; i++)
        c += h->count[i];
    return c;
}

/* ---------- sliding window ---------- */

int qwin_init(qwin *w, double rel_err, int64_t window_us, int n_slots, gp_error *err)
{
    memset(w, 0, sizeof(*w));
    if (n_slots < 1 || n_slots > QWIN_MAX_SLOTS || window_us <= 0 || window_us % n_slots)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, NULL,
                            "a window of %lld us cannot be split into %d slots (1..%d, "
                            "dividing it exactly)",
                            (long long)window_us, n_slots, QWIN_MAX_SLOTS);
    w->n_slots = n_slots;
    w->window_us = window_us;
    w->slot_us = window_us / n_slots;
    w->epoch = INT64_MIN;
    for (int i = 0; i <= n_slots; i++) {
        int rc = qhist_init(&w->ring[i], rel_err, err);
        if (rc < 0) {
            qwin_free(w);
            return rc;
        }
    }
    w->count = calloc((size_t)w->ring[0].n_buckets, sizeof(*w->count));
    if (!w->count) {
        qwin_free(w);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    return 0;
}

void qwin_free(qwin *w)
{
    for (int i = 0; i <= w->n_slots && i <= QWIN_MAX_SLOTS; i++)
        qhist_free(&w->ring[i]);
    free(w->count);
    w->count = NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void qwin_advance(qwin *w, int64_t now_us)
{
    int64_t e = floor_div(now_us, w->slot_us);
    if (w->epoch == INT64_MIN) {
        w->epoch = e;
        return;
    }
    if (e <= w->epoch)
        return;
    int ring = w->n_slots + 1;
    /* slots entered since the last call start empty; more than a ring's worth: all */
    int64_t steps = e - w->epoch;
    if (steps > ring)
        steps = ring;
    for (int64_t k = 1; k <= steps; k++) {
        qhist *h = &w->ring[(int)(((w->epoch + k) % ring + ring) % ring)];
        for (int i = h->lo; i <= h->hi; i++)
            w->count[i] -= h->count[i];
        qhist_reset(h);
    }
    w->epoch = e;
}

static qhist *current(qwin *w)
{
    int ring = w->n_slots + 1;
    return &w->ring[(int)((w->epoch % ring + ring) % ring)];
}

void qwin_add(qwin *w, int64_t now_us, double value_s)
{
    qwin_advance(w, now_us);
    int i = add_n(current(w), value_s, 1);
    if (i >= 0)
        w->count[i]++;
}

double qwin_quantile(qwin *w, int64_t now_us, double q)
{
    qwin_advance(w, now_us);
    if (w->epoch == INT64_MIN)
        return NAN;
    const qhist *hs[QWIN_MAX_SLOTS + 1];
    for (int i = 0; i <= w->n_slots; i++)
        hs[i] = &w->ring[i];
    return quantile_over(hs, w->n_slots + 1, w->count, q);
}

uint64_t qwin_count(qwin *w, int64_t now_us)
{
    qwin_advance(w, now_us);
    uint64_t n = 0;
    for (int i = 0; i <= w->n_slots; i++)
        n += w->ring[i].n;
    return n;
}

double qwin_mean(qwin *w, int64_t now_us)
{
    qwin_advance(w, now_us);
    uint64_t n = 0;
    double sum = 0;
    for (int i = 0; i <= w->n_slots; i++) {
        n += w->ring[i].n;
        sum += w->ring[i].sum;
    }
    return n ? sum / (double)n : NAN;
}

double qwin_rel_error(const qwin *w) { return w->ring[0].rel_err; }
