/* retina_post.h: RetinaFace-R50's output decoding, as the GPEN repository's detector does
 * it after the network (face_detect/retinaface_detection.py, cfg_re50): prior boxes of
 * min sizes {16, 32}, {64, 128}, {256, 512} on the stride 8, 16, 32 maps, box and 5-point
 * landmark decoding with variances (0.1, 0.2), scores by softmax, a confidence threshold,
 * the top_k highest, greedy NMS (IoU with the +1 pixel convention), keep_top_k.
 * Input: the three head maps as the pipeline computes them, float NHWC [H_l][W_l][32] per
 * level: per pixel, anchor a's class logits at 2a, 2a+1, its box offsets at 4 + 4a .. 7 + 4a,
 * its landmark offsets at 12 + 10a .. 21 + 10a (two anchors per pixel).
 * Output: detections in the detector input's pixels, highest score first. Pure C. */
#ifndef GP_RETINA_POST_H
#define GP_RETINA_POST_H

#include "base/error.h"

#define RETINA_LEVELS  3
#define RETINA_HEAD_CH 32

typedef struct retina_det {
    float box[4]; /* x1, y1, x2, y2 */
    float score;
    float landm[10]; /* x, y of: left eye, right eye, nose, left mouth, right mouth */
} retina_det;

typedef struct retina_post_opts {
    double conf_threshold; /* 0.9 */
    double nms_threshold;  /* 0.4 */
    int top_k;             /* 5000: candidates kept before NMS */
    int keep_top_k;        /* 750: detections kept after it */
} retina_post_opts;

void retina_post_opts_default(retina_post_opts *o);

/* The number of priors of an image_h x image_w detector input (both levels' anchors). */
long retina_prior_count(int image_h, int image_w);

/* heads[l]: level l's map of ceil(H / 8 << l) x ceil(W / 8 << l) pixels (map_h/map_w say
 * the sizes the caller computed, checked against those). Writes at most cap detections,
 * *n_out of them. Fails (GP_ERANGE / GP_ENOMEM) on bad sizes or options, never on values:
 * NaN scores are dropped. */
int retina_postprocess(const float *const heads[RETINA_LEVELS], const int map_h[RETINA_LEVELS],
                       const int map_w[RETINA_LEVELS], int image_h, int image_w,
                       const retina_post_opts *o, retina_det *out, int cap, int *n_out,
                       gp_error *err);

#endif
