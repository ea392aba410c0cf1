/* test_qhist.c: quantiles of known distributions within the stated bound, edge cases
 * (empty, under/overflow, NaN), merge, and the sliding window's expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "base/rng.h"
#include "sim/qhist.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The exact sample quantile of qhist.h's definition: rank ceil(q n), 1-based. */
static double exact_quantile(const double *sorted, size_t n, double q)
{
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    double qn = q * (double)n;
    double r = ceil(qn - qn * 1e-12);
    size_t rank = r < 1 ? 1 : (size_t)r;
    return sorted[rank - 1];
}

enum { D_UNIFORM, D_EXPONENTIAL, D_LOGNORMAL, D_PARETO, D_CONSTANT, D_BIMODAL };

typedef struct dist_row {
    const char *name;
    int dist;
    double a, b;
    size_t n;
    double rel_err;
} dist_row;

static const dist_row dist_rows[] = {
    {"uniform 10 ms..10 s, 0.5%", D_UNIFORM, 0.01, 10, 100000, 0.005},
    {"exponential mean 1 s, 0.5%", D_EXPONENTIAL, 1.0, 0, 100000, 0.005},
    {"exponential mean 1 s, 0.1%", D_EXPONENTIAL, 1.0, 0, 50000, 0.001},
    {"exponential mean 1 s, 5%", D_EXPONENTIAL, 1.0, 0, 50000, 0.05},
    {"lognormal sigma 1.5 (heavy), 0.5%", D_LOGNORMAL, 0.0, 1.5, 100000, 0.005},
    {"lognormal tiny values (us), 1%", D_LOGNORMAL, -11.0, 1.0, 50000, 0.01},
    {"pareto tail 1.2, 0.5%", D_PARETO, 1.2, 0.05, 100000, 0.005},
    {"constant 0.25 s", D_CONSTANT, 0.25, 0, 1000, 0.005},
    {"bimodal 0.2 s / 20 s", D_BIMODAL, 0.2, 20, 20000, 0.005},
    {"small n = 7", D_EXPONENTIAL, 2.0, 0, 7, 0.005},
};

static double draw(const gsl_rng *r, const dist_row *d)
{
    switch (d->dist) {
    case D_UNIFORM: return gsl_ran_flat(r, d->a, d->b);
    case D_EXPONENTIAL: return gsl_ran_exponential(r, d->a);
    case D_LOGNORMAL: return gsl_ran_lognormal(r, d->a, d->b);
    case D_PARETO: return gsl_ran_pareto(r, d->a, d->b);
    case D_CONSTANT: return d->a;
    case D_BIMODAL:
        return gsl_rng_uniform(r) < 0.9 ? gsl_ran_exponential(r, d->a)
                                        : d->b + gsl_ran_exponential(r, 1.0);
    }
    return 0;
}

static void test_known_distributions(void **state)
{
    (void)state;
    static const double qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t i = 0; i < sizeof(dist_rows) / sizeof(dist_rows[0]); i++) {
        const dist_row *d = &dist_rows[i];
        gsl_rng_set(rng, 1000 + i);
        qhist h;
        gp_error e;
        assert_int_equal(qhist_init(&h, d->rel_err, &e), 0);
        double *xs = malloc(d->n * sizeof(*xs));
        double sum = 0;
        for (size_t k = 0; k < d->n; k++) {
            xs[k] = draw(rng, d);
            sum += xs[k];
            qhist_add(&h, xs[k]);
        }
        qsort(xs, d->n, sizeof(*xs), cmp_double);
        if (qhist_count(&h) != d->n)
            fail_msg("%s: count %llu want %zu", d->name, (unsigned long long)qhist_count(&h), d->n);
        if (qhist_min(&h) != xs[0] || qhist_max(&h) != xs[d->n - 1])
            fail_msg("%s: min/max not exact", d->name);
        if (fabs(qhist_mean(&h) - sum / (double)d->n) > 1e-12 * fabs(sum / (double)d->n))
            fail_msg("%s: mean %.17g want %.17g", d->name, qhist_mean(&h), sum / (double)d->n);
        assert_true(qhist_rel_error(&h) == d->rel_err);
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
            double want = exact_quantile(xs, d->n, qs[k]);
            double got = qhist_quantile(&h, qs[k]);
            /* the header's bound: relative in range, under 1 us absolute below it */
            double bound = want < QHIST_MIN_S ? QHIST_MIN_S : d->rel_err * want * (1 + 1e-9);
            if (!(fabs(got - want) <= bound))
                fail_msg("%s: q=%g got %.9g want %.9g (error %.3g%% > %.3g%%)", d->name, qs[k], got,
                         want, 100 * fabs(got - want) / want, 100 * d->rel_err);
        }
        free(xs);
        qhist_free(&h);
    }
    gsl_rng_free(rng);
}

static void test_edges(void **state)
{
    (void)state;
    qhist h;
    gp_error e;
    assert_int_equal(qhist_init(&h, QHIST_DEFAULT_REL_ERR, &e), 0);
    assert_true(isnan(qhist_quantile(&h, 0.5)));
    assert_true(isnan(qhist_mean(&h)));
    assert_true(isnan(qhist_min(&h)));
    assert_true(isnan(qhist_max(&h)));
    assert_int_equal(qhist_count_le(&h, 1.0), 0);

    /* zeros and sub-microsecond values: the underflow bucket answers with the exact min */
    qhist_add_n(&h, 0.0, 90);
    qhist_add(&h, 5e-7);
    qhist_add_n(&h, 1.0, 9);
    qhist_add(&h, NAN);
    assert_int_equal(qhist_count(&h), 100);
    assert_int_equal(h.n_nan, 1);
    assert_true(qhist_quantile(&h, 0.5) == 0.0);
    assert_true(qhist_quantile(&h, 0.9) == 0.0);
    assert_true(fabs(qhist_quantile(&h, 0.95) - 1.0) <= 0.005);
    /* overflow: beyond 1e5 s the exact max */
    qhist_add(&h, 1e7);
    assert_true(qhist_quantile(&h, 1.0) == 1e7);
    assert_true(qhist_quantile(&h, 0.999) == 1e7);
    assert_int_equal(qhist_count_le(&h, 0.5), 91);
    assert_int_equal(qhist_count_le(&h, 1.0), 100);
    assert_int_equal(qhist_count_le(&h, 1e6), 100);
    assert_int_equal(qhist_count_le(&h, 1e7), 101);
    assert_int_equal(qhist_count_le(&h, -1), 0);
    /* q outside [0, 1] is clamped */
    assert_true(qhist_quantile(&h, -3) == 0.0);
    assert_true(qhist_quantile(&h, 7) == 1e7);

    qhist_reset(&h);
    assert_int_equal(qhist_count(&h), 0);
    assert_true(isnan(qhist_quantile(&h, 0.5)));
    qhist_add(&h, 3.0);
    assert_true(qhist_quantile(&h, 0.5) == 3.0); /* clamped to [min, max] = exact */
    qhist_free(&h);

    /* range ends land in valid buckets */
    assert_int_equal(qhist_init(&h, 0.01, &e), 0);
    qhist_add(&h, QHIST_MIN_S);
    qhist_add(&h, QHIST_MAX_S);
    assert_true(fabs(qhist_quantile(&h, 0.5) - QHIST_MIN_S) <= 0.01 * QHIST_MIN_S);
    qhist_free(&h);

    static const double bad[] = {0, 1e-5, 0.2, NAN, -0.01};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gp_error_clear(&e);
        if (qhist_init(&h, bad[i], &e) != GP_ERANGE)
            fail_msg("rel_err %g: want GP_ERANGE", bad[i]);
        qhist_free(&h);
    }
}

static void test_add_n_and_merge(void **state)
{
    (void)state;
    gp_error e;
    qhist all, a, b, ones;
    assert_int_equal(qhist_init(&all, 0.005, &e), 0);
    assert_int_equal(qhist_init(&a, 0.005, &e), 0);
    assert_int_equal(qhist_init(&b, 0.005, &e), 0);
    assert_int_equal(qhist_init(&ones, 0.005, &e), 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    for (int i = 0; i < 20000; i++) {
        double x = gsl_ran_lognormal(rng, i < 10000 ? -1 : 1, 0.7);
        qhist_add(&all, x);
        qhist_add(i % 3 ? &a : &b, x);
    }
    assert_int_equal(qhist_merge(&a, &b, &e), 0);
    assert_int_equal(qhist_count(&a), qhist_count(&all));
    assert_true(qhist_min(&a) == qhist_min(&all) && qhist_max(&a) == qhist_max(&all));
    assert_true(fabs(qhist_sum(&a) - qhist_sum(&all)) <= 1e-9 * qhist_sum(&all));
    for (double q = 0.0; q <= 1.0; q += 0.01)
        if (qhist_quantile(&a, q) != qhist_quantile(&all, q))
            fail_msg("merge: q=%g got %.9g want %.9g", q, qhist_quantile(&a, q),
                     qhist_quantile(&all, q));
    /* merging into an empty histogram copies */
    qhist empty;
    assert_int_equal(qhist_init(&empty, 0.005, &e), 0);
    assert_int_equal(qhist_merge(&empty, &all, &e), 0);
    assert_true(qhist_quantile(&empty, 0.99) == qhist_quantile(&all, 0.99));
    qhist_free(&empty);

    /* add_n(x, k) is k adds */
    qhist_add_n(&ones, 0.3, 5);
    qhist_add_n(&ones, 2.0, 0);
    qhist_add_n(&ones, 4.0, 15);
    assert_int_equal(qhist_count(&ones), 20);
    assert_true(fabs(qhist_mean(&ones) - (5 * 0.3 + 15 * 4.0) / 20) < 1e-12);
    assert_true(fabs(qhist_quantile(&ones, 0.25) - 0.3) <= 0.005 * 0.3);
    assert_true(fabs(qhist_quantile(&ones, 0.26) - 4.0) <= 0.005 * 4.0);

    qhist other;
    assert_int_equal(qhist_init(&other, 0.01, &e), 0);
    assert_int_equal(qhist_merge(&a, &other, &e), GP_EINVARIANT);
    qhist_free(&other);
    gsl_rng_free(rng);
    qhist_free(&all);
    qhist_free(&a);
    qhist_free(&b);
    qhist_free(&ones);
}

/* ---------- sliding window: a timeline of adds and checks ---------- */

#define S(x) ((int64_t)((x)*1000000.0))
typedef struct win_step {
    const char *name;
    int64_t t_us;
    double add;          /* > 0: add this value at t; 0: check */
    uint64_t want_count; /* checks */
    double want_p50;     /* NaN: expect NaN */
} win_step;

static const win_step win_steps[] = {
    /* window 60 s in 4 slots of 15 s */
    {"add a at 0", S(0), 1.0, 0, 0},
    {"add b at 14.9", S(14.9), 2.0, 0, 0},
    {"both in", S(59.999999), 0, 2, 1.0},
    {"both in at the next boundary", S(60), 0, 2, 1.0},
    {"slot 0 still in at 74.99", S(74.999999), 0, 2, 1.0},
    {"add c at 75", S(75), 10.0, 0, 0},
    {"slot 0 expired at 75", S(75.5), 0, 1, 10.0},
    {"add d at 89", S(89), 3.0, 0, 0},
    {"c and d", S(90), 0, 2, 3.0},
    {"c, d still in at 134.99", S(134.999999), 0, 2, 3.0},
    {"c, d expired at 150", S(150), 0, 0, NAN},
    {"add e at 1000", S(1000), 0.5, 0, 0},
    {"only e", S(1000), 0, 1, 0.5},
    {"a query back in time sees now", S(10), 0, 1, 0.5},
    {"far future: empty", S(1e6), 0, 0, NAN},
};

static void test_window_expiry(void **state)
{
    (void)state;
    qwin w;
    gp_error e;
    assert_int_equal(qwin_init(&w, 0.005, S(60), 4, &e), 0);
    assert_true(isnan(qwin_quantile(&w, 0, 0.5)));
    for (size_t i = 0; i < sizeof(win_steps) / sizeof(win_steps[0]); i++) {
        const win_step *s = &win_steps[i];
        if (s->add > 0) {
            qwin_add(&w, s->t_us, s->add);
            continue;
        }
        uint64_t n = qwin_count(&w, s->t_us);
        double p50 = qwin_quantile(&w, s->t_us, 0.5);
        if (n != s->want_count)
            fail_msg("%s: count %llu want %llu", s->name, (unsigned long long)n,
                     (unsigned long long)s->want_count);
        if (isnan(s->want_p50) ? !isnan(p50) : !(fabs(p50 - s->want_p50) <= 0.005 * s->want_p50))
            fail_msg("%s: p50 %g want %g", s->name, p50, s->want_p50);
    }
    assert_true(qwin_rel_error(&w) == 0.005);
    qwin_free(&w);
}

/* The window's quantile equals a plain histogram of exactly the in-window samples. */
static void test_window_matches_qhist(void **state)
{
    (void)state;
    qwin w;
    gp_error e;
    assert_int_equal(qwin_init(&w, 0.005, S(60), 4, &e), 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    enum { N = 20000 };
    static int64_t ts[N];
    static double xs[N];
    int64_t t = 0;
    for (int i = 0; i < N; i++) {
        t += (int64_t)gsl_ran_exponential(rng, 50000.0); /* ~20 per second */
        ts[i] = t;
        xs[i] = gsl_ran_lognormal(rng, 0.0, 1.0) * (1.0 + (double)(t / S(300) % 3));
        qwin_add(&w, t, xs[i]);
        if (i % 97 != 0)
            continue;
        /* slot start of the oldest slot in the window */
        int64_t from = (t / S(15)) * S(15) - S(60);
        qhist ref;
        assert_int_equal(qhist_init(&ref, 0.005, &e), 0);
        for (int k = i; k >= 0 && ts[k] >= from; k--)
            qhist_add(&ref, xs[k]);
        if (qwin_count(&w, t) != qhist_count(&ref))
            fail_msg("i=%d: count %llu want %llu", i, (unsigned long long)qwin_count(&w, t),
                     (unsigned long long)qhist_count(&ref));
        /* the window walks blocks of 64 buckets, the plain histogram bucket by bucket */
        static const double qs[] = {0.001, 0.01, 0.1,  0.25, 0.5,  0.5001,
                                    0.75,  0.9,  0.95, 0.99, 0.999};
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++)
            if (qwin_quantile(&w, t, qs[k]) != qhist_quantile(&ref, qs[k]))
                fail_msg("i=%d q=%g: %.9g want %.9g", i, qs[k], qwin_quantile(&w, t, qs[k]),
                         qhist_quantile(&ref, qs[k]));
        if (fabs(qwin_mean(&w, t) - qhist_mean(&ref)) > 1e-9 * qhist_mean(&ref))
            fail_msg("i=%d: mean", i);
        qhist_free(&ref);
    }
    gsl_rng_free(rng);
    qwin_free(&w);
}

static void test_window_bad_args(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t window_us;
        int slots;
        double rel;
    } rows[] = {
        {"zero window", 0, 4, 0.005},
        {"zero slots", S(60), 0, 0.005},
        {"too many slots", S(60), QWIN_MAX_SLOTS + 1, 0.005},
        {"not divisible", 100, 3, 0.005},
        {"bad rel_err", S(60), 4, 0.5},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        qwin w;
        gp_error e;
        gp_error_clear(&e);
        int rc = qwin_init(&w, rows[i].rel, rows[i].window_us, rows[i].slots, &e);
        if (rc != GP_ERANGE)
            fail_msg("%s: got %d want GP_ERANGE", rows[i].name, rc);
    }
}

/* The bucket by definition (qhist.h): key ceil(log(x) / log(gamma)), clamped to the
 * histogram's buckets; -1 outside [QHIST_MIN_S, QHIST_MAX_S] and for NaN. */
static int bucket_by_definition(const qhist *h, double x)
{
    if (isnan(x) || x < QHIST_MIN_S || x > QHIST_MAX_S)
        return -1;
    int i = (int)ceil(log(x) * h->inv_log_gamma) - h->key_min;
    return i < 0 ? 0 : i >= h->n_buckets ? h->n_buckets - 1 : i;
}

/* qhist_bucket finds its bucket by comparing with edges, log() only next to one: it must
 * give the definition's bucket for every double. Checked on every double within `ulps`
 * of each bucket's real edge gamma^(k-1) (where the two could part), of the range's ends,
 * and on random doubles across the range and outside it, for several relative errors,
 * visiting the buckets in a scrambled order (edges are found as they are met). */
static void test_bucket_is_logs(void **state)
{
    (void)state;
    static const struct {
        double rel_err;
        int ulps;
        size_t randoms;
    } rows[] = {
        {QHIST_DEFAULT_REL_ERR, 300, 300000},
        {0.01, 300, 100000},
        {QHIST_MAX_REL_ERR, 3000, 100000},
        {QHIST_MIN_REL_ERR, 6, 100000},
        {0.0031, 40, 100000},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        qhist h;
        assert_int_equal(qhist_init(&h, rows[r].rel_err, NULL), 0);
        uint64_t checked = 0;
        for (int k = 0; k <= h.n_buckets + 1; k++) {
            int kk = (int)(((uint64_t)k * 2654435761u) % (uint64_t)(h.n_buckets + 2));
            double near = kk == h.n_buckets + 1 ? QHIST_MAX_S
                          : kk == h.n_buckets   ? QHIST_MIN_S
                                                : pow(h.gamma, (double)(h.key_min + kk - 1));
            double x = near;
            for (int u = 0; u < rows[r].ulps; u++)
                x = nextafter(x, 0);
            for (int u = -rows[r].ulps; u <= rows[r].ulps; u++, x = nextafter(x, INFINITY)) {
                int got = qhist_bucket(&h, x), want = bucket_by_definition(&h, x);
                if (got != want)
                    fail_msg("rel_err %g: x = %.17g (%a): bucket %d, log() gives %d",
                             rows[r].rel_err, x, x, got, want);
                checked++;
            }
        }
        uint64_t seed = 31 + r;
        for (size_t i = 0; i < rows[r].randoms; i++) {
            seed = rng_mix64(seed);
            /* uniform in log over 1e-8 .. 1e7 (both ends outside the range) */
            double x = exp(log(1e-8) + (double)(seed >> 11) * 0x1p-53 * (log(1e7) - log(1e-8)));
            int got = qhist_bucket(&h, x), want = bucket_by_definition(&h, x);
            if (got != want)
                fail_msg("rel_err %g: x = %.17g (%a): bucket %d, log() gives %d", rows[r].rel_err,
                         x, x, got, want);
        }
        assert_true(checked > (uint64_t)h.n_buckets * (uint64_t)rows[r].ulps);
        assert_int_equal(qhist_bucket(&h, NAN), -1);
        qhist_free(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_is_logs),  cmocka_unit_test(test_known_distributions),
        cmocka_unit_test(test_edges),           cmocka_unit_test(test_add_n_and_merge),
        cmocka_unit_test(test_window_expiry),   cmocka_unit_test(test_window_matches_qhist),
        cmocka_unit_test(test_window_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
