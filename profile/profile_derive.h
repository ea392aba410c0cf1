/* profile_derive.h: derives a GPU profile for another card from a measured one, by
 * scaling each stage with the ratio of the two cards' published figures: dense fp16
 * tensor throughput for the network stages (detect, gpen, parse), memory bandwidth for
 * the image stages run on the GPU (align, paste, blend, and any stage not named here),
 * nothing for the stages that run on the host CPU (decode, encode). Cold-start phases
 * that are host-bound (cuda_init, weight_load) stay; first_inference scales by compute.
 * The result is marked `provenance derived` and says so in its source lines. Pure C. */
#ifndef GP_PROFILE_DERIVE_H
#define GP_PROFILE_DERIVE_H

#include "profile/profile.h"

typedef struct gpu_card_spec {
    const char *key;    /* "h100", "a100", "a10", "l4", "t4" */
    const char *name;   /* as nvidia-smi prints it */
    double fp16_tflops; /* dense fp16 tensor-core peak, vendor datasheet */
    double mem_bw_gbs;  /* memory bandwidth, vendor datasheet */
    double mem_mib;     /* memory of the card */
} gpu_card_spec;

/* The table of known cards (NULL-terminated by key == NULL). */
const gpu_card_spec *gpu_card_specs(void);
const gpu_card_spec *gpu_card_find(const char *key);

/* Stage scaling class: 0 compute, 1 memory bandwidth, 2 host (unscaled). */
int profile_stage_class(const char *stage_name);

/* dst = src scaled from card `from` to card `to`. */
int profile_derive(const gpu_profile *src, const gpu_card_spec *from, const gpu_card_spec *to,
                   gpu_profile *dst, gp_error *err);

#endif
