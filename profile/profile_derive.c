/* profile_derive.c: scaling a measured profile to other cards (see profile_derive.h).
 * The figures are the vendors' datasheet numbers (dense, without sparsity). */
#include "profile/profile_derive.h"

#include <stdio.h>
#include <string.h>

static const gpu_card_spec GPU_CARDS[] = {
    {"h100", "NVIDIA H100 80GB HBM3", 989.4, 3350, 81559},
    {"a100", "NVIDIA A100-SXM4-80GB", 312.0, 2039, 81920},
    {"a10", "NVIDIA A10", 125.0, 600, 23028},
    {"l4", "NVIDIA L4", 121.0, 300, 23034},
    {"t4", "Tesla T4", 65.0, 320, 15360},
    {NULL, NULL, 0, 0, 0},
};

const gpu_card_spec *gpu_card_specs(void) { return GPU_CARDS; }

const gpu_card_spec *gpu_card_find(const char *key)
{
    for (const gpu_card_spec *c = GPU_CARDS; c->key; c++)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

int profile_stage_class(const char *n)
{
    static const char *const compute[] = {"detect", "gpen", "parse", "restore", "sr"};
    static const char *const host[] = {"decode", "encode"};
    for (size_t i = 0; i < sizeof(compute) / sizeof(compute[0]); i++)
        if (strcmp(n, compute[i]) == 0)
            return 0;
    for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
        if (strcmp(n, host[i]) == 0)
            return 2;
    return 1;
}

int profile_derive(const gpu_profile *src, const gpu_card_spec *from, const gpu_card_spec *to,
                   gpu_profile *dst, gp_error *err)
{
    if (!from || !to || from->fp16_tflops <= 0 || to->fp16_tflops <= 0 || from->mem_bw_gbs <= 0 ||
        to->mem_bw_gbs <= 0)
        return gp_error_set(err, GP_ERANGE, src->path, 0, 0, "card", "unknown card figures");
    if (strcmp(src->provenance, "measured") != 0)
        return gp_error_set(err, GP_ERANGE, src->path, 0, 0, "provenance",
                            "derive only from a measured profile, got \"%s\"", src->provenance);
    *dst = *src;
    double fc = from->fp16_tflops / to->fp16_tflops, fm = from->mem_bw_gbs / to->mem_bw_gbs;
    snprintf(dst->card, sizeof(dst->card), "%s", to->name);
    snprintf(dst->provenance, sizeof(dst->provenance), "derived");
    int n = snprintf(dst->source, sizeof(dst->source),
                     "derived, not measured: %s stages x %.4g (fp16 %.4g -> %.4g TFLOP/s), "
                     "image stages on the GPU x %.4g (%.4g -> %.4g GB/s), decode/encode (host "
                     "CPU) unscaled; eff, memory per request and host cold phases copied\n"
                     "from the measured profile of %s:\n",
                     "network", fc, from->fp16_tflops, to->fp16_tflops, fm, from->mem_bw_gbs,
                     to->mem_bw_gbs, src->card);
    if (n > 0 && (size_t)n < sizeof(dst->source)) {
        size_t room = sizeof(dst->source) - (size_t)n - 1, len = strlen(src->source);
        if (len > room)
            len = room;
        memcpy(dst->source + n, src->source, len);
        dst->source[(size_t)n + len] = '\0';
    }
    for (int i = 0; i < dst->n_stages; i++) {
        int cls = profile_stage_class(dst->stage[i].name);
        double f = cls == 0 ? fc : cls == 1 ? fm : 1.0;
        for (int k = 0; k < dst->n_grid; k++) {
            dst->stage[i].ms[k] *= f;
            dst->stage[i].spread_ms[k] *= f;
        }
    }
    for (int i = 0; i < dst->n_phases; i++)
        if (strcmp(dst->phase[i].name, "first_inference") == 0) {
            dst->phase[i].seconds.a *= fc;
            if (dst->phase[i].seconds.kind == DIST_UNIFORM)
                dst->phase[i].seconds.b *= fc;
        }
    dst->first_request_extra_ms *= fc;
    profile_finalize(dst); /* stage sums changed */
    double model = src->model_mem_bytes;
    dst->gpu_mem_bytes = to->mem_mib * 1048576.0;
    if (model > dst->gpu_mem_bytes)
        return gp_error_set(err, GP_ERANGE, src->path, 0, 0, "model_mem_mib",
                            "the model does not fit %s", to->name);
    return 0;
}
