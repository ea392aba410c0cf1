/* test_rng.c: random numbers by purpose (base/rng.h), called directly.
 * - Keyed draws are a pure function of (seed, purpose, id, k): the same in any call order,
 *   different when any of the four changes, in (0, 1), uniform over ids; the mixer is the
 *   reference splitmix64 finaliser, and a few values are pinned: a change to either
 *   changes every run's results (the regression baselines), so it must be deliberate.
 * - Streams: one generator per purpose, seeded from (seed, purpose): equal seeds give
 *   equal sequences, and drawing from one purpose leaves the others' sequences as they
 *   were. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/rng.h"

static void test_mix64_reference(void **state)
{
    (void)state;
    /* splitmix64 (Steele, Lea, Flood 2014; Vigna's splitmix64.c): first output of the
     * generator seeded with 0 and with 1 */
    assert_true(rng_mix64(0) == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(rng_mix64(1) == UINT64_C(0x910a2dec89025cc1));
}

static void test_keyed_pinned(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        rng_purpose p;
        uint64_t id;
        uint32_t k;
        double want;
    } rows[] = {
        {1, RNG_IMAGE, 0, 0, 0.24502774760076357},
        {1, RNG_JITTER, 42, 1, 0.23658293652641454},
        {7, RNG_COLD_START, 123456789, 3, 0.050126614644573853},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double got = rng_keyed_uniform(rows[i].seed, rows[i].p, rows[i].id, rows[i].k);
        if (got != rows[i].want)
            fail_msg("row %zu: %.17g, want %.17g", i, got, rows[i].want);
    }
}

/* The same keys give bit-identical values forwards, backwards and interleaved with other
 * draws (no hidden state); each value lies in the open interval (0, 1). */
static void test_keyed_order_free(void **state)
{
    (void)state;
    enum { N = 1000 };
    static double fwd[N];
    for (uint64_t id = 0; id < N; id++)
        fwd[id] = rng_keyed_uniform(99, RNG_JITTER, id, 0);
    for (uint64_t id = N; id-- > 0;) {
        (void)rng_keyed_uniform(99, RNG_IMAGE, id * 7, 3); /* an unrelated draw between */
        double v = rng_keyed_uniform(99, RNG_JITTER, id, 0);
        if (v != fwd[id])
            fail_msg("id %llu: %.17g backwards, %.17g forwards", (unsigned long long)id, v,
                     fwd[id]);
        if (!(v > 0 && v < 1))
            fail_msg("id %llu: %.17g outside (0, 1)", (unsigned long long)id, v);
    }
}

/* Changing any one key changes the value. */
static void test_keyed_keys_matter(void **state)
{
    (void)state;
    const double base = rng_keyed_uniform(5, RNG_IMAGE, 1000, 0);
    static const struct {
        const char *name;
        uint64_t seed;
        rng_purpose p;
        uint64_t id;
        uint32_t k;
    } rows[] = {
        {"seed", 6, RNG_IMAGE, 1000, 0},
        {"purpose", 5, RNG_JITTER, 1000, 0},
        {"id", 5, RNG_IMAGE, 1001, 0},
        {"k", 5, RNG_IMAGE, 1000, 1},
        {"id and k swapped", 5, RNG_IMAGE, 0, 1000},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rng_keyed_uniform(rows[i].seed, rows[i].p, rows[i].id, rows[i].k) == base)
            fail_msg("changing the %s left the value as it was", rows[i].name);
}

/* Over 100000 consecutive ids, each tenth of (0, 1) holds 10% +- 0.5% of the values, and
 * the keyed exponential of mean 3 averages 3 +- 1%. */
static void test_keyed_uniform_over_ids(void **state)
{
    (void)state;
    enum { N = 100000 };
    int decile[10] = {0};
    double sum_exp = 0;
    for (uint64_t id = 0; id < N; id++) {
        double u = rng_keyed_uniform(3, RNG_IMAGE, id, 0);
        decile[(int)(u * 10)]++;
        sum_exp += rng_keyed_exponential(3, RNG_THINK, id, 0, 3.0);
    }
    for (int d = 0; d < 10; d++)
        if (fabs(decile[d] / (double)N - 0.1) > 0.005)
            fail_msg("decile %d holds %.4f of the values", d, decile[d] / (double)N);
    if (fabs(sum_exp / N - 3.0) > 0.03)
        fail_msg("keyed exponential of mean 3 averages %g", sum_exp / N);
}

static void test_streams(void **state)
{
    (void)state;
    rng_set a, b, c;
    assert_int_equal(rng_set_init(&a, 11), 0);
    assert_int_equal(rng_set_init(&b, 11), 0);
    assert_int_equal(rng_set_init(&c, 12), 0);
    /* b draws 1000 arrivals first: its think-time stream must not notice */
    for (int i = 0; i < 1000; i++)
        (void)gsl_rng_get(rng_stream(&b, RNG_ARRIVALS));
    int same_seed_diff = 0, other_seed_same = 0, purposes_same = 0;
    for (int i = 0; i < 100; i++) {
        unsigned long ta = gsl_rng_get(rng_stream(&a, RNG_THINK));
        unsigned long tb = gsl_rng_get(rng_stream(&b, RNG_THINK));
        unsigned long tc = gsl_rng_get(rng_stream(&c, RNG_THINK));
        unsigned long aa = gsl_rng_get(rng_stream(&a, RNG_ARRIVALS));
        same_seed_diff += ta != tb;
        other_seed_same += ta == tc;
        purposes_same += ta == aa;
    }
    if (same_seed_diff)
        fail_msg("equal seeds: %d of 100 think draws differ after other draws", same_seed_diff);
    if (other_seed_same > 1)
        fail_msg("seeds 11 and 12: %d of 100 think draws equal", other_seed_same);
    if (purposes_same > 1)
        fail_msg("think and arrival streams: %d of 100 draws equal", purposes_same);
    rng_set_free(&a);
    rng_set_free(&b);
    rng_set_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mix64_reference),        cmocka_unit_test(test_keyed_pinned),
        cmocka_unit_test(test_keyed_order_free),       cmocka_unit_test(test_keyed_keys_matter),
        cmocka_unit_test(test_keyed_uniform_over_ids), cmocka_unit_test(test_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
