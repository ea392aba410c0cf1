/* gpen_model.h: the GPEN "FullGenerator" architecture (docs/gpen.md) for any
 * configuration, as a table of named float32 tensors plus per-layer descriptors that
 * index into it. Owns the parameter layout shared by the CPU reference, the CUDA core,
 * the safetensors loader and scripts/gpen_torch.py; computes nothing. Tensor shapes are
 * row-major, conv weights [Cout][Cin][k][k], linear weights [out][in]. A gpen_model owns
 * its `data` (gpen_model_free releases it); gpen_arch is plain data, no pointers. */
#ifndef GP_GPEN_MODEL_H
#define GP_GPEN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define GPEN_MAX_LOG_SIZE 10 /* size 1024 */
#define GPEN_MAX_MLP      16
#define GPEN_MAX_ENC      (GPEN_MAX_LOG_SIZE - 1)
#define GPEN_MAX_CONV     (1 + 2 * (GPEN_MAX_LOG_SIZE - 2))
#define GPEN_MAX_RGB      (GPEN_MAX_LOG_SIZE - 1)
#define GPEN_MAX_TENSORS  256
#define GPEN_DEFAULT_SEED 20211u /* the seed of every figure and golden in the repo */

typedef struct gpen_config {
    int size;               /* input and output resolution, a power of 2 in [8, 1024] */
    int style_dim;          /* 512 in the published model */
    int n_mlp;              /* mapping layers, 8 */
    int channel_multiplier; /* 2 */
    double narrow;          /* channel width factor, 1 */
    double lr_mlp;          /* mapping lr multiplier, 0.01 */
} gpen_config;

enum { GPEN_INIT_NORMAL, GPEN_INIT_UNIFORM };

typedef struct gpen_tensor {
    char name[32];
    int ndim;
    int shape[4];
    size_t offset; /* in floats, into gpen_model.data */
    size_t count;
    int init; /* GPEN_INIT_*: normal a + b*z, or uniform a + (b - a)*u */
    double init_a, init_b;
} gpen_tensor;

/* Encoder layer k: k = 0 is the 1x1 conv from RGB; k >= 1 blurs then 3x3 stride 2. */
typedef struct gpen_enc_layer {
    int cin, cout, k, res_in, res_out;
    int t_w, t_b;
} gpen_enc_layer;

/* Styled conv j of the generator: j = 0 at 4x4; odd j upsample x2; output concatenated
 * with nw * enc[e_index] (2*cout channels) then FusedLeakyReLU with bias b[2*cout]. */
typedef struct gpen_styled_layer {
    int cin, cout, up, res_in, res_out, e_index;
    int t_w, t_mod_w, t_mod_b, t_nw, t_b;
} gpen_styled_layer;

/* ToRGB j: 1x1 modulated conv cin -> 3 without demodulation, + b, + up(previous skip). */
typedef struct gpen_rgb_layer {
    int cin, res;
    int t_w, t_mod_w, t_mod_b, t_b;
} gpen_rgb_layer;

typedef struct gpen_arch {
    gpen_config cfg;
    int log_size;
    int n_enc; /* log_size - 1: enc[n_enc - 1] is 4x4 */
    gpen_enc_layer enc[GPEN_MAX_ENC];
    int t_fc_w, t_fc_b;
    int t_map_w[GPEN_MAX_MLP], t_map_b[GPEN_MAX_MLP];
    int t_const;
    int n_conv; /* 1 + 2 * (log_size - 2) */
    gpen_styled_layer conv[GPEN_MAX_CONV];
    int n_rgb; /* log_size - 1 */
    gpen_rgb_layer rgb[GPEN_MAX_RGB];
    int n_tensors;
    gpen_tensor tensor[GPEN_MAX_TENSORS];
    size_t n_params;
} gpen_arch;

typedef struct gpen_model {
    gpen_arch arch;
    float *data; /* n_params floats */
} gpen_model;

/* The published GPEN-BFR-512 configuration. */
void gpen_config_default(gpen_config *cfg);
/* Channels of the feature maps at resolution `res` (the table in docs/gpen.md). */
int gpen_channels(const gpen_config *cfg, int res);
/* Builds the layer and tensor tables; checks the configuration. */
int gpen_arch_build(const gpen_config *cfg, gpen_arch *arch, gp_error *err);
/* Index of a tensor by name, or -1. */
int gpen_arch_find(const gpen_arch *arch, const char *name);
/* Parameters of the encoder (enc* and enc_fc), mapping (map*) and generator (the rest). */
void gpen_arch_param_split(const gpen_arch *arch, size_t *encoder, size_t *mapping,
                           size_t *generator);
/* Multiply-accumulates per image in convolutions and linear layers (transposed convs
 * counted at their input resolution), and in the blur filters, as docs/gpen.md counts them. */
void gpen_arch_macs(const gpen_arch *arch, double *conv_linear_macs, double *blur_macs);

/* Allocates the weights and fills them from the generator (gpen_rand.h) with `seed`. */
int gpen_model_init_random(gpen_model *m, const gpen_config *cfg, uint64_t seed, gp_error *err);
/* Allocates the weights, zeroed (to be filled by a loader). */
int gpen_model_alloc(gpen_model *m, const gpen_config *cfg, gp_error *err);
/* Fills one tensor of the layout from the generator. */
void gpen_tensor_fill_random(const gpen_tensor *t, uint64_t seed, float *dst);
void gpen_model_free(gpen_model *m);
/* Pointer to tensor `idx`'s data. */
float *gpen_model_tensor(const gpen_model *m, int idx);

/* A deterministic test input in [-1, 1]: tensor name "input", batch*3*size*size floats. */
void gpen_input_random(const gpen_config *cfg, int batch, uint64_t seed, float *dst);

#endif
