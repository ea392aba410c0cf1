/* qhist.c: log-bucket histogram and its sliding window. See qhist.h for the bound. */
#include "sim/qhist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int key_of(const qhist *h, double x) { return (int)ceil(log(x) * h->inv_log_gamma); }

/* ---- the bucket without log(): edges found once, by key_of itself ----
 * key_of(x) = ceil(fl(fl(log x) c)), c = inv_log_gamma, steps from k - 1 to k where
 * c ln x = k - 1. glibc's log errs by less than 1 ulp and the product by half an ulp, so
 * the computed y is within |y| 2^-51 of c ln x (|y| < 2^17 for any allowed rel_err over
 * [QHIST_MIN_S, QHIST_MAX_S]): the step lies within a relative 2^-34 / c < 1e-14 of the
 * real point (c > 5), and every x farther from it than that has its key on the side it
 * lies. An edge is the point where key_of steps, found by bisection next to gamma^(k-1);
 * x further than EDGE_MARGIN (relative) from both edges of a bucket is in that bucket;
 * nearer, key_of(x) itself decides. So qhist_bucket agrees with key_of for every double,
 * with margin to spare (2^-40 against < 1e-14). */
#define EDGE_MARGIN 0x1p-40

typedef struct qhist_edge {
    double below, above; /* below: keys lower for sure; above: this key or higher */
} qhist_edge;

/* The bucket of x in [QHIST_MIN_S, QHIST_MAX_S] by log(), clamped (add_n's rule). */
static int bucket_by_log(const qhist *h, double x)
{
    int i = key_of(h, x) - h->key_min;
    /* log() rounding at the range ends can land one bucket outside */
    return i < 0 ? 0 : i >= h->n_buckets ? h->n_buckets - 1 : i;
}

static uint64_t bits_of(double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof(b));
    return b;
}

static double double_of(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof(x));
    return x;
}

/* Edge i (1 <= i < n_buckets): where key_of steps to key_min + i. */
static qhist_edge edge_of(const qhist *h, int i)
{
    int key = h->key_min + i;
    double near = pow(h->gamma, (double)(key - 1));
    /* positive doubles order as their bits: bisect between two that bracket the step */
    uint64_t lo = bits_of(near * (1 - 0x1p-36)), hi = bits_of(near * (1 + 0x1p-36));
    if (key_of(h, double_of(lo)) >= key || key_of(h, double_of(hi)) < key)
        return (qhist_edge){0, INFINITY}; /* never; if it were, key_of would decide here */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (key_of(h, double_of(mid)) >= key)
            hi = mid;
        else
            lo = mid;
    }
    double e = double_of(hi);
    return (qhist_edge){e * (1 - EDGE_MARGIN), e * (1 + EDGE_MARGIN)};
}

static const qhist_edge *edge(qhist *h, int i)
{
    qhist_edge *e = &h->edge[i];
    if (e->above == 0)
        *e = edge_of(h, i);
    return e;
}

int qhist_bucket(qhist *h, double x)
{
    if (isnan(x) || x < QHIST_MIN_S || x > QHIST_MAX_S)
        return -1;
    if (!h->edge && !(h->edge = calloc((size_t)h->n_buckets, sizeof(*h->edge))))
        return bucket_by_log(h, x);
    /* a first guess from the bits: log2 of the mantissa by a cubic (error < 0.0014) */
    uint64_t b = bits_of(x);
    double t = double_of((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL) - 1.0;
    double log2_x = (double)((int)(b >> 52) - 1023) +
                    t * (1.4234853174045894 + t * (-0.5877337739803938 + t * 0.16555884902003734));
    double y = log2_x * 0.6931471805599453 * h->inv_log_gamma - (double)h->key_min;
    int i = y <= 0 ? 0 : y >= (double)(h->n_buckets - 1) ? h->n_buckets - 1 : (int)y + 1;
    for (;;) {
        if (i > 0 && x < edge(h, i)->above) {
            if (x >= h->edge[i].below)
                return bucket_by_log(h, x);
            i--;
        } else if (i < h->n_buckets - 1 && x >= edge(h, i + 1)->below) {
            if (x < h->edge[i + 1].above)
                return bucket_by_log(h, x);
            i++;
        } else {
            return i;
        }
    }
}

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
    h->used = malloc((size_t)h->n_buckets * sizeof(*h->used));
    if (!h->count || !h->used) {
        qhist_free(h);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    qhist_reset(h);
    return 0;
}

void qhist_free(qhist *h)
{
    if (h) {
        free(h->count);
        free(h->used);
        free(h->edge);
        h->count = NULL;
        h->used = NULL;
        h->edge = NULL;
    }
}

void qhist_reset(qhist *h)
{
    if (h->n_used < (uint32_t)(h->hi - h->lo + 1) / 8)
        for (uint32_t k = 0; k < h->n_used; k++)
            h->count[h->used[k]] = 0;
    else if (h->lo <= h->hi)
        memset(h->count + h->lo, 0, (size_t)(h->hi - h->lo + 1) * sizeof(*h->count));
    h->n_used = 0;
    h->lo = h->n_buckets;
    h->hi = -1;
    h->under = h->over = 0;
    h->n = h->n_nan = 0;
    h->sum = 0;
    h->min = INFINITY;
    h->max = -INFINITY;
}

/* Adds n samples of x, whose bucket is i (qhist_bucket's). */
static void add_n_at(qhist *h, double x, uint64_t n, int i)
{
    if (n == 0)
        return;
    if (isnan(x)) {
        h->n_nan += n;
        return;
    }
    h->n += n;
    h->sum += x * (double)n;
    if (x < h->min)
        h->min = x;
    if (x > h->max)
        h->max = x;
    if (i < 0) {
        if (x < QHIST_MIN_S)
            h->under += n;
        else
            h->over += n;
        return;
    }
    if (h->count[i] == 0)
        h->used[h->n_used++] = (uint32_t)i;
    h->count[i] += n;
    if (i < h->lo)
        h->lo = i;
    if (i > h->hi)
        h->hi = i;
}

void qhist_add_n(qhist *h, double x, uint64_t n) { add_n_at(h, x, n, qhist_bucket(h, x)); }

void qhist_add(qhist *h, double x) { add_n_at(h, x, 1, qhist_bucket(h, x)); }

void qhist_add_bucket(qhist *h, double x, int bucket) { add_n_at(h, x, 1, bucket); }

int qhist_merge(qhist *dst, const qhist *src, gp_error *err)
{
    if (dst->n_buckets != src->n_buckets || dst->rel_err != src->rel_err)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, NULL,
                            "merging histograms of different relative errors (%g, %g)",
                            dst->rel_err, src->rel_err);
    for (int i = src->lo; i <= src->hi; i++) {
        if (dst->count[i] == 0 && src->count[i] > 0)
            dst->used[dst->n_used++] = (uint32_t)i;
        dst->count[i] += src->count[i];
    }
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

/* The smallest f in [lo, hi) with count[lo..f] summing to at least need, else hi. With
 * block sums (block[b] = count[64 b .. 64 b + 63]), whole blocks that cannot hold it are
 * passed at once: the same f. */
static int walk_up(const uint64_t *count, const uint64_t *block, int lo, int hi, uint64_t need)
{
    uint64_t seen = 0;
    int f = lo;
    if (block) {
        for (; f < hi && (f & 63); f++)
            if ((seen += count[f]) >= need)
                return f;
        for (; f + 64 <= hi && seen + block[f >> 6] < need; f += 64)
            seen += block[f >> 6];
    }
    for (; f < hi; f++)
        if ((seen += count[f]) >= need)
            return f;
    return hi;
}

/* The largest f in (lo, hi] with count[f..hi] summing to more than most_above, else lo;
 * whole blocks passed at once as in walk_up. */
static int walk_down(const uint64_t *count, const uint64_t *block, int lo, int hi,
                     uint64_t most_above)
{
    uint64_t above = 0;
    int f = hi;
    if (block) {
        for (; f > lo && ((f + 1) & 63); f--) {
            if (above + count[f] > most_above)
                return f;
            above += count[f];
        }
        for (; f - 64 >= lo && above + block[f >> 6] <= most_above; f -= 64)
            above += block[f >> 6];
    }
    for (; f > lo; f--) {
        if (above + count[f] > most_above)
            return f;
        above += count[f];
    }
    return lo;
}

/* The quantile of the union of hs[0..n), whose bucket counts summed are `count`
 * (h->count itself for one histogram; a window keeps the sum of its slots, and its
 * block sums, `block`, NULL for none). The bucket holding rank ceil(q n) is found from
 * below for q <= 0.5 and from above otherwise, which is the same bucket: from above, the
 * smallest i whose count of samples above it is at most (in buckets) - (rank - under).
 * Each walk stops at its quantile. */
static double quantile_over(const qhist *const *hs, int n, const uint64_t *count,
                            const uint64_t *block, double q)
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
    int found = q <= 0.5 ? walk_up(count, block, lo, hi, rank - under)
                         : walk_down(count, block, lo, hi, in_buckets - (rank - under));
    const qhist *h = hs[0];
    double v = 2.0 * pow(h->gamma, (double)(h->key_min + found)) / (h->gamma + 1.0);
    return v < mn ? mn : v > mx ? mx : v;
}

double qhist_quantile(const qhist *h, double q)
{
    const qhist *one[1] = {h};
    return quantile_over(one, 1, h->count, NULL, q);
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
    w->next_us = INT64_MIN;
    for (int i = 0; i <= n_slots; i++) {
        int rc = qhist_init(&w->ring[i], rel_err, err);
        if (rc < 0) {
            qwin_free(w);
            return rc;
        }
    }
    w->count = calloc((size_t)w->ring[0].n_buckets, sizeof(*w->count));
    w->block = calloc((size_t)w->ring[0].n_buckets / 64 + 1, sizeof(*w->block));
    if (!w->count || !w->block) {
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
    free(w->block);
    w->count = NULL;
    w->block = NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The current slot becomes slot e. */
static void set_epoch(qwin *w, int64_t e)
{
    int ring = w->n_slots + 1;
    w->epoch = e;
    w->cur = (int)((e % ring + ring) % ring);
    w->next_us = e >= INT64_MAX / w->slot_us - 1 ? INT64_MAX : (e + 1) * w->slot_us;
}

void qwin_advance(qwin *w, int64_t now_us)
{
    if (now_us < w->next_us)
        return; /* in the current slot (or before it): no division, nothing to rotate */
    int64_t e = floor_div(now_us, w->slot_us);
    if (w->epoch == INT64_MIN) {
        set_epoch(w, e);
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
        for (uint32_t u = 0; u < h->n_used; u++) {
            uint32_t i = h->used[u];
            w->count[i] -= h->count[i];
            w->block[i >> 6] -= h->count[i];
        }
        qhist_reset(h);
    }
    set_epoch(w, e);
}

static qhist *current(qwin *w) { return &w->ring[w->cur]; }

void qwin_add(qwin *w, int64_t now_us, double value_s)
{
    qwin_add_bucket(w, now_us, value_s, qhist_bucket(&w->ring[0], value_s));
}

void qwin_add_bucket(qwin *w, int64_t now_us, double value_s, int bucket)
{
    qwin_advance(w, now_us);
    add_n_at(current(w), value_s, 1, bucket);
    if (bucket >= 0) {
        w->count[bucket]++;
        w->block[bucket >> 6]++;
    }
}

double qwin_quantile(qwin *w, int64_t now_us, double q)
{
    qwin_advance(w, now_us);
    if (w->epoch == INT64_MIN)
        return NAN;
    const qhist *hs[QWIN_MAX_SLOTS + 1];
    for (int i = 0; i <= w->n_slots; i++)
        hs[i] = &w->ring[i];
    return quantile_over(hs, w->n_slots + 1, w->count, w->block, q);
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
