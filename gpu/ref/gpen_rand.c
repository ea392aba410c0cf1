/* gpen_rand.c: counter-based generator. Recipe (mirrored in scripts/gpen_torch.py):
 *   key  = fnv1a64(name) ^ mix64(seed)
 *   a    = mix64(key + (2*index + 1) * G),  b = mix64(key + (2*index + 2) * G)
 *          with G = 0x9E3779B97F4A7C15, all uint64 wrapping
 *   u1   = ((a >> 11) + 1) * 2^-53  in (0, 1];   u2 = (b >> 11) * 2^-53  in [0, 1)
 *   normal  = sqrt(-2 log u1) * cos(2 pi u2)   (double, libm)
 *   uniform = u2 */
#include "gpu/ref/gpen_rand.h"

#include <math.h>

static const uint64_t GPEN_RAND_GOLDEN = 0x9E3779B97F4A7C15ull;
static const double GPEN_RAND_2POW_M53 = 1.0 / 9007199254740992.0;
static const double GPEN_RAND_TWO_PI = 6.283185307179586;

uint64_t gpen_rand_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t gpen_rand_key(uint64_t seed, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h ^ gpen_rand_mix64(seed);
}

double gpen_rand_normal(uint64_t key, uint64_t index)
{
    uint64_t a = gpen_rand_mix64(key + (2 * index + 1) * GPEN_RAND_GOLDEN);
    uint64_t b = gpen_rand_mix64(key + (2 * index + 2) * GPEN_RAND_GOLDEN);
    double u1 = (double)((a >> 11) + 1) * GPEN_RAND_2POW_M53;
    double u2 = (double)(b >> 11) * GPEN_RAND_2POW_M53;
    return sqrt(-2.0 * log(u1)) * cos(GPEN_RAND_TWO_PI * u2);
}

double gpen_rand_uniform(uint64_t key, uint64_t index)
{
    uint64_t b = gpen_rand_mix64(key + (2 * index + 2) * GPEN_RAND_GOLDEN);
    return (double)(b >> 11) * GPEN_RAND_2POW_M53;
}
