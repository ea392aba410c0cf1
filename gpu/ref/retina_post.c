/* retina_post.c: RetinaFace output decoding and NMS (see retina_post.h). */
#include "gpu/ref/retina_post.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int STEPS[RETINA_LEVELS] = {8, 16, 32};
static const int MIN_SIZES[RETINA_LEVELS][2] = {{16, 32}, {64, 128}, {256, 512}};
static const double VAR0 = 0.1, VAR1 = 0.2;

void retina_post_opts_default(retina_post_opts *o)
{
    o->conf_threshold = 0.9;
    o->nms_threshold = 0.4;
    o->top_k = 5000;
    o->keep_top_k = 750;
}

static int map_size(int image, int step) { return (image + step - 1) / step; }

long retina_prior_count(int image_h, int image_w)
{
    long n = 0;
    for (int l = 0; l < RETINA_LEVELS; l++)
        n += 2L * map_size(image_h, STEPS[l]) * map_size(image_w, STEPS[l]);
    return n;
}

typedef struct candidate {
    float score;
    long prior; /* global prior index: ties go to the earlier prior */
    int level, y, x, a;
} candidate;

static int by_score_desc(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->prior < b->prior ? -1 : a->prior > b->prior;
}

/* Box and landmarks of candidate c, in the input's pixels. */
static void decode(const candidate *c, const float *head, int image_h, int image_w, retina_det *d)
{
    const int step = STEPS[c->level];
    const double W = image_w, H = image_h;
    const double pcx = (c->x + 0.5) * step / W, pcy = (c->y + 0.5) * step / H;
    const double psx = MIN_SIZES[c->level][c->a] / W, psy = MIN_SIZES[c->level][c->a] / H;
    const float *loc = head + 4 + 4 * c->a, *lm = head + 12 + 10 * c->a;
    double cx = pcx + loc[0] * VAR0 * psx, cy = pcy + loc[1] * VAR0 * psy;
    double w = psx * exp(loc[2] * VAR1), h = psy * exp(loc[3] * VAR1);
    double x1 = cx - w / 2, y1 = cy - h / 2;
    d->box[0] = (float)(x1 * W);
    d->box[1] = (float)(y1 * H);
    d->box[2] = (float)((x1 + w) * W);
    d->box[3] = (float)((y1 + h) * H);
    for (int k = 0; k < 5; k++) {
        d->landm[2 * k] = (float)((pcx + lm[2 * k] * VAR0 * psx) * W);
        d->landm[2 * k + 1] = (float)((pcy + lm[2 * k + 1] * VAR0 * psy) * H);
    }
    d->score = c->score;
}

static double area(const retina_det *d)
{
    return ((double)d->box[2] - d->box[0] + 1) * ((double)d->box[3] - d->box[1] + 1);
}

/* Intersection over union with the +1 pixel convention of the reference NMS. */
static double iou(const retina_det *a, const retina_det *b)
{
    double xx1 = fmax(a->box[0], b->box[0]), yy1 = fmax(a->box[1], b->box[1]);
    double xx2 = fmin(a->box[2], b->box[2]), yy2 = fmin(a->box[3], b->box[3]);
    double w = fmax(0.0, xx2 - xx1 + 1), h = fmax(0.0, yy2 - yy1 + 1), inter = w * h;
    return inter / (area(a) + area(b) - inter);
}

int retina_postprocess(const float *const heads[RETINA_LEVELS], const int map_h[RETINA_LEVELS],
                       const int map_w[RETINA_LEVELS], int image_h, int image_w,
                       const retina_post_opts *o, retina_det *out, int cap, int *n_out,
                       gp_error *err)
{
    *n_out = 0;
    if (image_h < 1 || image_w < 1 || image_h > 100000 || image_w > 100000)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image",
                            "detector input %d x %d out of range", image_w, image_h);
    if (!(o->conf_threshold >= 0 && o->conf_threshold < 1) ||
        !(o->nms_threshold > 0 && o->nms_threshold <= 1) || o->top_k < 1 || o->keep_top_k < 1 ||
        cap < 0)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "retina_post_opts",
                            "thresholds or counts out of range");
    for (int l = 0; l < RETINA_LEVELS; l++)
        if (map_h[l] != map_size(image_h, STEPS[l]) || map_w[l] != map_size(image_w, STEPS[l]) ||
            !heads[l])
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "heads",
                                "level %d map %d x %d, expected %d x %d", l, map_w[l], map_h[l],
                                map_size(image_w, STEPS[l]), map_size(image_h, STEPS[l]));
    /* candidates above the threshold */
    size_t ncand = 0, capc = 0;
    candidate *cand = NULL;
    long prior = 0;
    for (int l = 0; l < RETINA_LEVELS; l++)
        for (int y = 0; y < map_h[l]; y++)
            for (int x = 0; x < map_w[l]; x++)
                for (int a = 0; a < 2; a++, prior++) {
                    const float *p = heads[l] + ((size_t)y * map_w[l] + x) * RETINA_HEAD_CH;
                    float s = (float)(1.0 / (1.0 + exp((double)p[2 * a] - p[2 * a + 1])));
                    if (!(s > o->conf_threshold)) /* NaN never passes */
                        continue;
                    if (ncand == capc) {
                        size_t nc = capc ? 2 * capc : 256;
                        candidate *q = realloc(cand, nc * sizeof(*q));
                        if (!q) {
                            free(cand);
                            return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "heads",
                                                "out of memory");
                        }
                        cand = q, capc = nc;
                    }
                    cand[ncand++] = (candidate){s, prior, l, y, x, a};
                }
    if (ncand > 1) /* qsort must not see NULL, even for 0 elements */
        qsort(cand, ncand, sizeof(*cand), by_score_desc);
    if (ncand > (size_t)o->top_k)
        ncand = (size_t)o->top_k;
    retina_det *dets = ncand ? malloc(ncand * sizeof(*dets)) : NULL;
    unsigned char *gone = ncand ? calloc(ncand, 1) : NULL;
    if (ncand && (!dets || !gone)) {
        free(cand), free(dets), free(gone);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "heads", "out of memory");
    }
    for (size_t i = 0; i < ncand; i++) {
        const candidate *c = &cand[i];
        decode(c, heads[c->level] + ((size_t)c->y * map_w[c->level] + c->x) * RETINA_HEAD_CH,
               image_h, image_w, &dets[i]);
    }
    /* greedy NMS in score order: keep i, drop what overlaps it by more than the threshold */
    int kept = 0;
    for (size_t i = 0; i < ncand && kept < o->keep_top_k; i++) {
        if (gone[i])
            continue;
        if (kept < cap)
            out[kept] = dets[i];
        kept++;
        for (size_t j = i + 1; j < ncand; j++)
            if (!gone[j] && iou(&dets[i], &dets[j]) > o->nms_threshold)
                gone[j] = 1;
    }
    *n_out = kept < cap ? kept : cap;
    free(cand), free(dets), free(gone);
    return 0;
}
