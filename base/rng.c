#include "base/rng.h"

#include <gsl/gsl_cdf.h>

#include "base/error.h"

int rng_set_init(rng_set *r, uint64_t seed)
{
    r->seed = seed;
    for (int p = 0; p < RNG_PURPOSES; p++)
        r->stream[p] = NULL;
    for (int p = 0; p < RNG_PURPOSES; p++) {
        r->stream[p] = gsl_rng_alloc(gsl_rng_mt19937);
        if (!r->stream[p]) {
            rng_set_free(r);
            return GP_ENOMEM;
        }
        /* mt19937 takes an unsigned long seed; mix purpose in so streams differ. */
        gsl_rng_set(r->stream[p],
                    (unsigned long)rng_mix64(seed * (uint64_t)1315423911 + (uint64_t)p));
    }
    return 0;
}

void rng_set_free(rng_set *r)
{
    for (int p = 0; p < RNG_PURPOSES; p++) {
        if (r->stream[p])
            gsl_rng_free(r->stream[p]);
        r->stream[p] = NULL;
    }
}

gsl_rng *rng_stream(rng_set *r, rng_purpose p) { return r->stream[p]; }

double rng_keyed_normal(uint64_t seed, rng_purpose p, uint64_t id, uint32_t k)
{
    return gsl_cdf_ugaussian_Pinv(rng_keyed_uniform(seed, p, id, k));
}

double rng_keyed_exponential(uint64_t seed, rng_purpose p, uint64_t id, uint32_t k, double mean)
{
    return gsl_cdf_exponential_Pinv(rng_keyed_uniform(seed, p, id, k), mean);
}
