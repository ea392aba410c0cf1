/* pipe_nets.h: the pipeline's other two networks as GPEN's repository publishes them:
 * RetinaFace-R50 (face_detect: ResNet-50 body, FPN, SSH, 2-anchor heads) and ParseNet
 * (face_parse: ParseNet(512, 512, 32, 64, 19, bn, LeakyReLU, [32, 256])).
 *
 * Each network is a flat list of convolutions named after the official modules, with the
 * BatchNorm that follows a conv folded into it (scripts/convert_pipeline_checkpoint.py
 * writes such files from the official checkpoints); its weights come from a converted
 * safetensors file or from the deterministic generator (gpen_rand.h). The CPU forward is
 * plain C (float storage, double accumulation), the reference the tests compare with
 * PyTorch goldens (tests/data/pipe/) and that the GPU path is checked against.
 * width_div narrows every channel count (1: the published network; 16: the goldens).
 * Functions return 0 or a negative GP_E* code with `err` filled; outputs are caller-owned. */
#ifndef GP_PIPE_NETS_H
#define GP_PIPE_NETS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "gpu/ref/retina_post.h"

typedef enum { PIPE_RETINAFACE, PIPE_PARSENET } pipe_net_kind;

#define PIPE_FORMAT     "gpenlab-pipe 1"
/* RetinaFace head channels per level: class 2x2 | box 2x4 | landmarks 2x10, the layout
 * retina_post decodes */
#define PIPE_RF_HEAD_CH RETINA_HEAD_CH
/* ParseNet output channels: image 3 | parsing logits 19 */
#define PIPE_PN_OUT_CH  22

typedef struct pipe_conv {
    char name[48]; /* tensors NAME.weight [cout, cin, k, k] and NAME.bias [cout] */
    int cin, cout, k, stride;
    int reflect;    /* reflect padding (ParseNet) instead of zeros; pad is k / 2 */
    int up;         /* nearest x2 upsampling of the input first */
    float slope;    /* of the leaky ReLU when act */
    int act;        /* 0: none; 1: leaky ReLU (slope 0: ReLU) after the bias and the residual
                    * add where the network has one (ResNet conv3, ParseNet conv2) */
    int res_branch; /* the last conv of a residual branch (ResNet conv3, ParseNet conv2) */
    float *w, *b;   /* the loaded weights ([cout][cin][k][k], [cout]), NULL before load */
} pipe_conv;

typedef struct pipe_net {
    pipe_net_kind kind;
    int width_div;
    int n_conv;
    pipe_conv *conv;
    size_t n_params;
    int n_res_blocks;
} pipe_net;

const char *pipe_net_kind_name(pipe_net_kind kind); /* "retinaface" / "parsenet" */

/* The layer list of `kind` at width / width_div (1, 2, 4, 8 or 16); no weights yet. */
int pipe_net_build(pipe_net_kind kind, int width_div, pipe_net *net, gp_error *err);
/* Weights from a converted safetensors file (path), or deterministic random ones (path
 * NULL; keyed by "NAME.w" / "NAME.b" and seed: He-normal, the last conv of each residual
 * branch scaled by 1 / sqrt(residual blocks) so that activations stay in fp16's range
 * as a trained network's do, biases N(0, 0.05)). A file must say its format,
 * network and width in its metadata, hold every tensor in the right shape and nothing
 * else; errors name the file and the tensor. */
int pipe_net_load(pipe_net *net, const char *path, uint64_t seed, gp_error *err);
/* pipe_net_build then pipe_net_load; on failure nothing is left to free. */
int pipe_net_open(pipe_net_kind kind, int width_div, const char *path, uint64_t seed, pipe_net *net,
                  gp_error *err);
const pipe_conv *pipe_net_find(const pipe_net *net, const char *name);
void pipe_net_free(pipe_net *net);

/* RetinaFace on in [B, 3, H, W] (as the detector is fed: BGR minus (104, 117, 123)).
 * out[l] (l = 0, 1, 2: strides 8, 16, 32) receives [B, 32, h_l, w_l] with
 * h_l = pipe_rf_level_size(H, l); channels as the official heads emit them before their
 * permute: class logits (anchor-major, 2 each), boxes (4 each), landmarks (10 each). */
int pipe_rf_level_size(int n, int level); /* = ceil(n / (8 << level)), retina_post's grid */
int pipe_retinaface_forward(const pipe_net *net, const float *in, int batch, int h, int w,
                            float *out[3], gp_error *err);
/* ParseNet on in [B, 3, S, S] (RGB in [-1, 1], S a multiple of 16) -> out [B, 22, S, S]:
 * channels 0..2 the image output, 3..21 the 19 parsing logits. */
int pipe_parsenet_forward(const pipe_net *net, const float *in, int batch, int size, float *out,
                          gp_error *err);

#endif
