/* gpen_rand.h: the deterministic weight generator shared by C, CUDA hosts and Python.
 * Counter-based: a value depends only on (seed, tensor name, element index), so any
 * element can be drawn alone, in any order, and scripts/gpen_torch.py reproduces every
 * float32 bit-for-bit (docs/gpu.md spells the recipe out). All arithmetic is uint64
 * (wrapping) and IEEE double, rounded once to float32 at the end. No state, no globals. */
#ifndef GP_GPEN_RAND_H
#define GP_GPEN_RAND_H

#include <stdint.h>

/* splitmix64's finaliser: a bijective 64-bit mix. */
uint64_t gpen_rand_mix64(uint64_t z);
/* Key of one tensor: fnv1a64(name) ^ mix64(seed). */
uint64_t gpen_rand_key(uint64_t seed, const char *name);
/* Standard normal by Box-Muller, in double, for element `index` of the tensor `key`. */
double gpen_rand_normal(uint64_t key, uint64_t index);
/* Uniform in [0, 1) (53 bits) for element `index`. */
double gpen_rand_uniform(uint64_t key, uint64_t index);

#endif
