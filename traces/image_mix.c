/* image_mix.c: image classes and keyed draws of (megapixels, faces) per request.
 * A request's draws depend only on (seed, request index), never on the order in which
 * requests are drawn, so every policy replays identical requests. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/rng.h"
#include "traces/trace_internal.h"

static void set_class(image_class *c, const char *name, double weight, double mp_min, double mp_max,
                      const double *faces_p, int n_faces)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->weight = weight;
    c->mp_min = mp_min;
    c->mp_max = mp_max;
    for (int k = 0; k < n_faces; k++)
        c->faces_p[k] = faces_p[k];
}

/* Phone selfies and group shots around 2 MP; old-photo scans 4-24 MP, which more often
 * hold several faces or none (landscapes, documents). Overall 9.8% have no face. */
void image_mix_default(image_mix *mix)
{
    static const double phone_faces[] = {0.08, 0.60, 0.20, 0.08, 0.04};
    static const double scan_faces[] = {0.14, 0.35, 0.25, 0.12, 0.08, 0.06};
    memset(mix, 0, sizeof(*mix));
    mix->n_classes = 2;
    set_class(&mix->cls[0], "phone", 0.7, 1.5, 2.5, phone_faces, 5);
    set_class(&mix->cls[1], "scan", 0.3, 4.0, 24.0, scan_faces, 6);
}

int image_mix_validate(const image_mix *mix, gp_error *err)
{
    char field[64];
    if (mix->n_classes < 0 || mix->n_classes > IMAGE_MIX_MAX_CLASSES)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image_mix",
                            "expected 1 to %d classes, got %d", IMAGE_MIX_MAX_CLASSES,
                            mix->n_classes);
    double total = 0;
    for (int i = 0; i < mix->n_classes; i++) {
        const image_class *c = &mix->cls[i];
        snprintf(field, sizeof(field), "image_mix[%d]", i);
        if (!(c->weight >= 0) || !isfinite(c->weight))
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                "weight must be a finite number >= 0, got %g", c->weight);
        if (!(c->mp_min > 0) || !(c->mp_max >= c->mp_min) || !(c->mp_max <= 1000))
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                "mp must satisfy 0 < min <= max <= 1000, got [%g, %g]", c->mp_min,
                                c->mp_max);
        double fsum = 0;
        for (int k = 0; k <= IMAGE_MIX_MAX_FACES; k++) {
            if (!(c->faces_p[k] >= 0) || !isfinite(c->faces_p[k]))
                return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                    "P(faces = %d) must be a finite number >= 0, got %g", k,
                                    c->faces_p[k]);
            fsum += c->faces_p[k];
        }
        if (!(fsum > 0))
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                "the faces probabilities sum to 0");
        total += c->weight;
    }
    if (mix->n_classes > 0 && !(total > 0))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image_mix", "the class weights sum to 0");
    return 0;
}

void mix_table_init(mix_table *t, const image_mix *mix)
{
    image_mix def;
    if (mix->n_classes == 0) {
        image_mix_default(&def);
        mix = &def;
    }
    memset(t, 0, sizeof(*t));
    t->n_classes = mix->n_classes;
    double total = 0;
    for (int i = 0; i < mix->n_classes; i++)
        total += mix->cls[i].weight;
    double cum = 0;
    for (int i = 0; i < mix->n_classes; i++) {
        const image_class *c = &mix->cls[i];
        cum += c->weight / total;
        t->class_cum[i] = cum;
        t->mp_min[i] = c->mp_min;
        t->mp_span[i] = c->mp_max - c->mp_min;
        double fsum = 0;
        for (int k = 0; k <= IMAGE_MIX_MAX_FACES; k++)
            fsum += c->faces_p[k];
        double fcum = 0;
        int last = 0;
        for (int k = 0; k <= IMAGE_MIX_MAX_FACES; k++) {
            fcum += c->faces_p[k] / fsum;
            t->faces_cum[i][k] = fcum;
            if (c->faces_p[k] > 0)
                last = k;
        }
        t->faces_n[i] = last + 1;
        t->faces_cum[i][last] = 1.0; /* rounding must not leave a gap at the top */
    }
    /* The last class with weight > 0 closes the interval. */
    for (int i = mix->n_classes - 1; i >= 0; i--) {
        if (mix->cls[i].weight > 0) {
            for (int j = i; j < mix->n_classes; j++)
                t->class_cum[j] = 1.0;
            break;
        }
    }
}

/* Two keyed uniforms: u0 picks the class and, rescaled within the class's share, the
 * megapixels (a uniform conditioned on an interval is uniform on it); u1 the faces. */
void mix_table_draw(const mix_table *t, uint64_t seed, uint64_t index, float *mp, int32_t *faces)
{
    double u0 = rng_keyed_uniform(seed, RNG_IMAGE, index, 0);
    double u1 = rng_keyed_uniform(seed, RNG_IMAGE, index, 1);
    /* Branch-free counts (cum is non-decreasing): the loops run a fixed number of times
     * for a mix, so random draws cause no branch mispredictions. */
    int c = 0;
    for (int i = 0; i < t->n_classes - 1; i++)
        c += u0 >= t->class_cum[i];
    double lo = c > 0 ? t->class_cum[c - 1] : 0.0;
    double within = (u0 - lo) / (t->class_cum[c] - lo);
    if (within < 0)
        within = 0;
    if (within > 1)
        within = 1;
    *mp = (float)(t->mp_min[c] + within * t->mp_span[c]);
    int k = 0;
    for (int i = 0; i < t->faces_n[c] - 1; i++)
        k += u1 >= t->faces_cum[c][i];
    *faces = k;
}

void image_mix_draw(const image_mix *mix, uint64_t seed, uint64_t index, float *mp, int32_t *faces)
{
    mix_table t;
    mix_table_init(&t, mix);
    mix_table_draw(&t, seed, index, mp, faces);
}

void image_mix_means(const image_mix *mix, double *mean_mp, double *mean_faces,
                     double *no_face_frac)
{
    mix_table t;
    mix_table_init(&t, mix);
    double prev = 0, mp = 0, faces = 0, none = 0;
    for (int c = 0; c < t.n_classes; c++) {
        double w = t.class_cum[c] - prev;
        prev = t.class_cum[c];
        mp += w * (t.mp_min[c] + 0.5 * t.mp_span[c]);
        double fprev = 0;
        for (int k = 0; k < t.faces_n[c]; k++) {
            double p = t.faces_cum[c][k] - fprev;
            fprev = t.faces_cum[c][k];
            faces += w * p * k;
            if (k == 0)
                none += w * p;
        }
    }
    *mean_mp = mp;
    *mean_faces = faces;
    *no_face_frac = none;
}
