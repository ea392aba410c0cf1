/* rng.h: random numbers for one run, by purpose.
 * Two kinds of randomness:
 *  - streams: one GSL generator (mt19937) per purpose, seeded from (run seed, purpose),
 *    for draws whose order is fixed by the run itself (think times, cold starts);
 *  - keyed draws: a pure function of (run seed, purpose, id, k), for draws that belong
 *    to one request (service jitter, image size, faces). They do not depend on the order
 *    in which the simulator asks, so every policy sees the same request with the same
 *    demand: common random numbers across policies.
 * rng_set owns its generators. No global state. */
#ifndef GP_RNG_H
#define GP_RNG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

typedef enum {
    RNG_ARRIVALS = 0, /* generated arrival times */
    RNG_IMAGE,        /* image size and faces drawn from a mix */
    RNG_JITTER,       /* service-time jitter (keyed by request id) */
    RNG_COLD_START,   /* cold-start phase durations */
    RNG_THINK,        /* closed-loop think times */
    RNG_DISPATCH,     /* tie breaks in dispatch */
    RNG_POLICY,       /* randomness a policy may use */
    RNG_TRACE_SCALE,  /* rate scaling of recorded traces */
    RNG_SYNC,         /* policy sync wake-up latency (keyed by tick number) */
    RNG_PREEMPT,      /* spot preemption times (keyed by pool and node) */
    RNG_PURPOSES
} rng_purpose;

typedef struct rng_set {
    uint64_t seed;
    gsl_rng *stream[RNG_PURPOSES];
} rng_set;

/* Returns 0 or GP_ENOMEM. */
int rng_set_init(rng_set *r, uint64_t seed);
void rng_set_free(rng_set *r);
gsl_rng *rng_stream(rng_set *r, rng_purpose p);

/* splitmix64 finaliser: a good 64-bit mixer. */
static inline uint64_t rng_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Keyed uniform in the open interval (0, 1). Inline: the simulator draws a few per
 * request, and a call site's constant purpose and k fold one of the three mixes away. */
static inline double rng_keyed_uniform(uint64_t seed, rng_purpose p, uint64_t id, uint32_t k)
{
    uint64_t h = rng_mix64(seed ^ rng_mix64(((uint64_t)p << 32) ^ k) ^ rng_mix64(id + 0x51ed27ULL));
    /* 53 random bits, shifted by half a step so 0 and 1 never occur. */
    return ((double)(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
/* Keyed standard normal (inverse CDF of a keyed uniform). */
double rng_keyed_normal(uint64_t seed, rng_purpose p, uint64_t id, uint32_t k);
/* Keyed exponential with the given mean. */
double rng_keyed_exponential(uint64_t seed, rng_purpose p, uint64_t id, uint32_t k, double mean);

#endif
