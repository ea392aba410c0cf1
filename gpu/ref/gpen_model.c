/* gpen_model.c: GPEN's layer and parameter tables, and random weights. The tensor order
 * is the order of creation below; scripts/gpen_torch.py builds the same names. */
#include "gpu/ref/gpen_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/ref/gpen_rand.h"

void gpen_config_default(gpen_config *cfg)
{
    cfg->size = 512;
    cfg->style_dim = 512;
    cfg->n_mlp = 8;
    cfg->channel_multiplier = 2;
    cfg->narrow = 1.0;
    cfg->lr_mlp = 0.01;
}

int gpen_channels(const gpen_config *cfg, int res)
{
    double cm = cfg->channel_multiplier, nw = cfg->narrow;
    /* int() truncation, as in the published Python. */
    if (res <= 32)
        return (int)(512 * nw);
    if (res == 64)
        return (int)(256 * cm * nw);
    if (res == 128)
        return (int)(128 * cm * nw);
    if (res == 256)
        return (int)(64 * cm * nw);
    if (res == 512)
        return (int)(32 * cm * nw);
    return (int)(16 * cm * nw);
}

static int add_tensor(gpen_arch *a, const char *name, int ndim, const int *shape, int init,
                      double ia, double ib)
{
    gpen_tensor *t = &a->tensor[a->n_tensors];
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < 4; d++) {
        t->shape[d] = d < ndim ? shape[d] : 1;
        if (d < ndim)
            t->count *= (size_t)shape[d];
    }
    t->offset = a->n_params;
    t->init = init;
    t->init_a = ia;
    t->init_b = ib;
    a->n_params += t->count;
    return a->n_tensors++;
}

#define SHAPE(...) ((const int[]){__VA_ARGS__})

static const double GPEN_BIAS_SD = 0.1;

int gpen_arch_build(const gpen_config *cfg, gpen_arch *a, gp_error *err)
{
    memset(a, 0, sizeof(*a));
    a->cfg = *cfg;
    int log_size = 0;
    while ((1 << log_size) < cfg->size)
        log_size++;
    if ((1 << log_size) != cfg->size || log_size < 3 || log_size > GPEN_MAX_LOG_SIZE)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "gpen.size",
                            "expected a power of 2 in [8, 1024], got %d", cfg->size);
    if (cfg->style_dim < 1 || cfg->n_mlp < 0 || cfg->n_mlp > GPEN_MAX_MLP ||
        cfg->channel_multiplier < 1 || !(cfg->narrow > 0) || !(cfg->lr_mlp > 0))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "gpen",
                            "bad configuration (style_dim %d, n_mlp %d, cm %d, narrow %g)",
                            cfg->style_dim, cfg->n_mlp, cfg->channel_multiplier, cfg->narrow);
    for (int r = 4; r <= cfg->size; r *= 2)
        if (gpen_channels(cfg, r) < 1)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "gpen.narrow",
                                "no channels left at resolution %d", r);
    a->log_size = log_size;
    int S = cfg->size, sd = cfg->style_dim;
    char nm[32];

    /* Encoder. */
    a->n_enc = log_size - 1;
    for (int k = 0; k < a->n_enc; k++) {
        gpen_enc_layer *L = &a->enc[k];
        L->res_in = k == 0 ? S : S >> (k - 1);
        L->res_out = S >> k;
        L->cin = k == 0 ? 3 : gpen_channels(cfg, L->res_in);
        L->cout = gpen_channels(cfg, L->res_out);
        L->k = k == 0 ? 1 : 3;
        snprintf(nm, sizeof(nm), "enc%d.w", k);
        L->t_w = add_tensor(a, nm, 4, SHAPE(L->cout, L->cin, L->k, L->k), GPEN_INIT_NORMAL, 0, 1);
        snprintf(nm, sizeof(nm), "enc%d.b", k);
        L->t_b = add_tensor(a, nm, 1, SHAPE(L->cout), GPEN_INIT_NORMAL, 0, GPEN_BIAS_SD);
    }
    int c4 = gpen_channels(cfg, 4);
    a->t_fc_w = add_tensor(a, "enc_fc.w", 2, SHAPE(sd, c4 * 16), GPEN_INIT_NORMAL, 0, 1);
    a->t_fc_b = add_tensor(a, "enc_fc.b", 1, SHAPE(sd), GPEN_INIT_NORMAL, 0, GPEN_BIAS_SD);
    /* Mapping: weights as the published init stores them, N(0, 1/lr_mul). */
    for (int j = 0; j < cfg->n_mlp; j++) {
        snprintf(nm, sizeof(nm), "map%d.w", j + 1);
        a->t_map_w[j] = add_tensor(a, nm, 2, SHAPE(sd, sd), GPEN_INIT_NORMAL, 0, 1.0 / cfg->lr_mlp);
        snprintf(nm, sizeof(nm), "map%d.b", j + 1);
        a->t_map_b[j] = add_tensor(a, nm, 1, SHAPE(sd), GPEN_INIT_NORMAL, 0, GPEN_BIAS_SD);
    }
    a->t_const = add_tensor(a, "const", 3, SHAPE(c4, 4, 4), GPEN_INIT_NORMAL, 0, 1);

    /* Generator: conv0 at 4x4, then (up-conv, conv) per resolution; ToRGB after each pair. */
    a->n_conv = 1 + 2 * (log_size - 2);
    a->n_rgb = log_size - 1;
    for (int j = 0; j < a->n_conv; j++) {
        gpen_styled_layer *L = &a->conv[j];
        int r = (j + 1) / 2; /* output resolution 4 * 2^r */
        L->res_out = 4 << r;
        L->up = (j % 2) == 1;
        L->res_in = L->up ? L->res_out / 2 : L->res_out;
        L->cout = gpen_channels(cfg, L->res_out);
        L->cin = j == 0 ? c4 : 2 * gpen_channels(cfg, L->res_in);
        L->e_index = a->n_enc - 1 - r;
        snprintf(nm, sizeof(nm), "conv%d.w", j);
        L->t_w = add_tensor(a, nm, 4, SHAPE(L->cout, L->cin, 3, 3), GPEN_INIT_NORMAL, 0, 1);
        snprintf(nm, sizeof(nm), "conv%d.mod_w", j);
        L->t_mod_w = add_tensor(a, nm, 2, SHAPE(L->cin, sd), GPEN_INIT_NORMAL, 0, 1);
        snprintf(nm, sizeof(nm), "conv%d.mod_b", j);
        L->t_mod_b = add_tensor(a, nm, 1, SHAPE(L->cin), GPEN_INIT_NORMAL, 1, GPEN_BIAS_SD);
        snprintf(nm, sizeof(nm), "conv%d.nw", j);
        L->t_nw = add_tensor(a, nm, 1, SHAPE(1), GPEN_INIT_UNIFORM, 0.1, 1.0);
        snprintf(nm, sizeof(nm), "conv%d.b", j);
        L->t_b = add_tensor(a, nm, 1, SHAPE(2 * L->cout), GPEN_INIT_NORMAL, 0, GPEN_BIAS_SD);
        if (j % 2 == 0) { /* after conv0 and after each second conv: a ToRGB */
            gpen_rgb_layer *R = &a->rgb[j / 2];
            R->cin = 2 * L->cout;
            R->res = L->res_out;
            snprintf(nm, sizeof(nm), "rgb%d.w", j / 2);
            R->t_w = add_tensor(a, nm, 2, SHAPE(3, R->cin), GPEN_INIT_NORMAL, 0, 1);
            snprintf(nm, sizeof(nm), "rgb%d.mod_w", j / 2);
            R->t_mod_w = add_tensor(a, nm, 2, SHAPE(R->cin, sd), GPEN_INIT_NORMAL, 0, 1);
            snprintf(nm, sizeof(nm), "rgb%d.mod_b", j / 2);
            R->t_mod_b = add_tensor(a, nm, 1, SHAPE(R->cin), GPEN_INIT_NORMAL, 1, GPEN_BIAS_SD);
            snprintf(nm, sizeof(nm), "rgb%d.b", j / 2);
            R->t_b = add_tensor(a, nm, 1, SHAPE(3), GPEN_INIT_NORMAL, 0, GPEN_BIAS_SD);
        }
    }
    return 0;
}

int gpen_arch_find(const gpen_arch *a, const char *name)
{
    for (int i = 0; i < a->n_tensors; i++)
        if (strcmp(a->tensor[i].name, name) == 0)
            return i;
    return -1;
}

void gpen_arch_param_split(const gpen_arch *a, size_t *encoder, size_t *mapping, size_t *generator)
{
    size_t e = 0, m = 0, g = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        const char *n = a->tensor[i].name;
        if (strncmp(n, "enc", 3) == 0)
            e += a->tensor[i].count;
        else if (strncmp(n, "map", 3) == 0)
            m += a->tensor[i].count;
        else
            g += a->tensor[i].count;
    }
    *encoder = e;
    *mapping = m;
    *generator = g;
}

void gpen_arch_macs(const gpen_arch *a, double *conv_linear_macs, double *blur_macs)
{
    double mac = 0, blur = 0, sd = a->cfg.style_dim;
    for (int k = 0; k < a->n_enc; k++) {
        const gpen_enc_layer *L = &a->enc[k];
        double ro = L->res_out;
        mac += ro * ro * L->cin * L->cout * L->k * L->k;
        if (k > 0) /* blur at (res_in + 1)^2 outputs, 16 taps */
            blur += (L->res_in + 1.0) * (L->res_in + 1.0) * L->cin * 16;
    }
    mac += 16.0 * gpen_channels(&a->cfg, 4) * sd + a->cfg.n_mlp * sd * sd;
    for (int j = 0; j < a->n_conv; j++) {
        const gpen_styled_layer *L = &a->conv[j];
        double ri = L->res_in;
        mac += ri * ri * L->cin * L->cout * 9 + sd * L->cin;
        if (L->up) /* blur over 2H x 2H outputs */
            blur += 4.0 * ri * ri * L->cout * 16;
    }
    for (int j = 0; j < a->n_rgb; j++) {
        const gpen_rgb_layer *R = &a->rgb[j];
        mac += (double)R->res * R->res * R->cin * 3 + sd * R->cin;
        if (j > 0) /* skip upsampling: 4 taps per output of a zero-inserted input */
            blur += (double)R->res * R->res * 3 * 4;
    }
    *conv_linear_macs = mac;
    *blur_macs = blur;
}

void gpen_tensor_fill_random(const gpen_tensor *t, uint64_t seed, float *dst)
{
    uint64_t key = gpen_rand_key(seed, t->name);
    for (size_t i = 0; i < t->count; i++) {
        double v;
        if (t->init == GPEN_INIT_UNIFORM)
            v = t->init_a + (t->init_b - t->init_a) * gpen_rand_uniform(key, i);
        else
            v = t->init_a + t->init_b * gpen_rand_normal(key, i);
        dst[i] = (float)v;
    }
}

int gpen_model_alloc(gpen_model *m, const gpen_config *cfg, gp_error *err)
{
    m->data = NULL;
    int rc = gpen_arch_build(cfg, &m->arch, err);
    if (rc)
        return rc;
    m->data = calloc(m->arch.n_params, sizeof(float));
    if (!m->data)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "gpen", "cannot allocate %zu parameters",
                            m->arch.n_params);
    return 0;
}

int gpen_model_init_random(gpen_model *m, const gpen_config *cfg, uint64_t seed, gp_error *err)
{
    int rc = gpen_model_alloc(m, cfg, err);
    if (rc)
        return rc;
    for (int i = 0; i < m->arch.n_tensors; i++)
        gpen_tensor_fill_random(&m->arch.tensor[i], seed, m->data + m->arch.tensor[i].offset);
    return 0;
}

void gpen_model_free(gpen_model *m)
{
    free(m->data);
    m->data = NULL;
}

float *gpen_model_tensor(const gpen_model *m, int idx)
{
    return m->data + m->arch.tensor[idx].offset;
}

void gpen_input_random(const gpen_config *cfg, int batch, uint64_t seed, float *dst)
{
    uint64_t key = gpen_rand_key(seed, "input");
    size_t n = (size_t)batch * 3 * (size_t)cfg->size * (size_t)cfg->size;
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)(-1.0 + 2.0 * gpen_rand_uniform(key, i));
}
