/* qhist.h: latency quantiles with a stated relative error, in memory independent of the
 * number of samples (a DDSketch-style log histogram), and a sliding-window variant (qwin)
 * that is how the simulated Prometheus computes histogram_quantile over a rate window.
 * Values are seconds (doubles: outputs, not clock values); window times are int64 us.
 * Count, sum, min and max are exact. A qhist owns its bucket array (qhist_free); a qwin
 * owns its sub-histograms (qwin_free). Not thread-safe. */
#ifndef GP_QHIST_H
#define GP_QHIST_H

#include <stdint.h>

#include "base/error.h"

/* Bucketed range. Values below QHIST_MIN_S (0 included) go to an underflow bucket and
 * values above QHIST_MAX_S to an overflow bucket; quantiles that fall there return the
 * exact min or max (so below 1 us the error is under 1 us absolute). */
#define QHIST_MIN_S           1e-6
#define QHIST_MAX_S           1e5
/* 0.5%: buckets about 1% wide, 2534 buckets (20 KiB) over 1 us .. 1e5 s. */
#define QHIST_DEFAULT_REL_ERR 0.005
#define QHIST_MIN_REL_ERR     1e-4
#define QHIST_MAX_REL_ERR     0.1

/* Bucket k holds (gamma^(k-1), gamma^k], gamma = (1 + rel_err) / (1 - rel_err); it is
 * reported as 2 gamma^k / (gamma + 1).
 * Error bound: let x be the exact sample quantile of rank ceil(q n) (1-based, the
 * "inverted CDF" definition; q = 0 gives min, q = 1 max). If QHIST_MIN_S <= x <=
 * QHIST_MAX_S, qhist_quantile returns x' with |x' - x| <= rel_err * x (0.5% by default),
 * up to double rounding (~1e-12 relative). Results are clamped to [min, max]. */
typedef struct qhist {
    double rel_err;
    double gamma;
    double inv_log_gamma; /* 1 / ln(gamma) */
    int key_min;          /* key of count[0] */
    int n_buckets;
    uint64_t *count; /* [n_buckets] */
    uint32_t *used;  /* the buckets with a count, n_used of them (in no order) */
    uint32_t n_used;
    struct qhist_edge *edge; /* bucket edges found so far (qhist_bucket), NULL before */
    int lo, hi;              /* nonzero buckets lie in [lo, hi]; lo > hi when none */
    uint64_t under, over;    /* below QHIST_MIN_S, above QHIST_MAX_S */
    uint64_t n;              /* samples counted (NaN values are not) */
    uint64_t n_nan;          /* NaN values seen and ignored */
    double sum, min, max;
} qhist;

/* rel_err in [QHIST_MIN_REL_ERR, QHIST_MAX_REL_ERR]; GP_ERANGE or GP_ENOMEM otherwise. */
int qhist_init(qhist *h, double rel_err, gp_error *err);
void qhist_free(qhist *h);
void qhist_reset(qhist *h); /* O(buckets in use) */
void qhist_add(qhist *h, double value_s);
void qhist_add_n(qhist *h, double value_s, uint64_t n);
/* The bucket (index into count) that value_s goes to, -1 for none (NaN, under, over):
 * the same for every histogram of this rel_err. Exactly the bucket of ceil(log(x) /
 * log(gamma)), found mostly by comparing with the buckets' edges (qhist.c says why it is
 * exact); it records the edges it meets, hence the non-const h. */
int qhist_bucket(qhist *h, double value_s);
/* qhist_add, given value_s's bucket from qhist_bucket of a histogram of this rel_err (one
 * bucket computation for several histograms of one sample). */
void qhist_add_bucket(qhist *h, double value_s, int bucket);
/* dst += src. GP_EINVARIANT when their rel_err differ (bucket layouts must match). */
int qhist_merge(qhist *dst, const qhist *src, gp_error *err);
/* NaN when empty. q is clamped to [0, 1]. O(buckets in use). */
double qhist_quantile(const qhist *h, double q);
uint64_t qhist_count(const qhist *h);
double qhist_sum(const qhist *h);
double qhist_mean(const qhist *h); /* NaN when empty */
double qhist_min(const qhist *h);  /* NaN when empty */
double qhist_max(const qhist *h);  /* NaN when empty */
double qhist_rel_error(const qhist *h);
/* Samples <= x, to bucket granularity: exact unless x lies inside a bucket holding
 * samples on both sides of it (those are all counted). */
uint64_t qhist_count_le(const qhist *h, double x);

/* qwin: the samples of the last window_us, kept as slots of window_us / n_slots each,
 * plus the current partial slot. At a slot boundary the window is exactly the last
 * window_us; in between it reaches back to the start of the oldest full slot, so it
 * covers at least window_us and less than window_us + slot_us. Adding is O(1);
 * rotating a slot costs O(its buckets in use); a quantile O(n_slots + the buckets between
 * it and the nearer end / 64): the window keeps its slots' bucket counts summed, by
 * bucket and by blocks of 64 buckets.
 * Time only moves forward: a sample or query older than the current slot counts as
 * in the current slot. */
#define QWIN_MAX_SLOTS 16
typedef struct qwin {
    int n_slots; /* full slots per window (ring holds n_slots + 1) */
    int64_t slot_us;
    int64_t window_us;
    int64_t epoch;   /* index of the current slot (t / slot_us); INT64_MIN before any */
    int64_t next_us; /* first us of the slot after it (INT64_MIN before any): a sample
                        before it rotates nothing */
    int cur;         /* ring index of the current slot */
    qhist ring[QWIN_MAX_SLOTS + 1];
    uint64_t *count; /* per bucket, the sum over the ring's slots */
    uint64_t *block; /* per 64 buckets, the sum of count */
} qwin;

/* window_us > 0, n_slots in [1, QWIN_MAX_SLOTS], window_us divisible by n_slots. */
int qwin_init(qwin *w, double rel_err, int64_t window_us, int n_slots, gp_error *err);
void qwin_free(qwin *w);
void qwin_advance(qwin *w, int64_t now_us);
void qwin_add(qwin *w, int64_t now_us, double value_s);
/* qwin_add with value_s's bucket given (qhist_bucket of a histogram of this rel_err). */
void qwin_add_bucket(qwin *w, int64_t now_us, double value_s, int bucket);
/* Over the window ending at now_us (advances first). NaN when it holds no sample. */
double qwin_quantile(qwin *w, int64_t now_us, double q);
uint64_t qwin_count(qwin *w, int64_t now_us);
double qwin_mean(qwin *w, int64_t now_us);
double qwin_rel_error(const qwin *w);

#endif
