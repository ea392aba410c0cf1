/* gpen_load.c: safetensors <-> gpen_model. */
#include "gpu/ref/gpen_load.h"

#include <stdio.h>
#include <stdlib.h>

#include "gpu/ref/safetensors.h"

/* Same shape up to size-1 dimensions ([1,512,4,4] matches [512,4,4]). */
static int same_shape(const gpen_tensor *t, const safetensors_tensor *s)
{
    int a[8], b[8], na = 0, nb = 0;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != 1)
            a[na++] = t->shape[d];
    for (int d = 0; d < s->ndim && nb < 8; d++)
        if (s->shape[d] != 1)
            b[nb++] = (int)s->shape[d];
    if (na != nb)
        return 0;
    for (int d = 0; d < na; d++)
        if (a[d] != b[d])
            return 0;
    return 1;
}

int gpen_model_load(gpen_model *m, const gpen_config *cfg, const char *path, gp_error *err)
{
    safetensors_file f;
    int rc = gpen_model_alloc(m, cfg, err);
    if (rc)
        return rc;
    rc = safetensors_open(path, &f, err);
    if (rc) {
        gpen_model_free(m);
        return rc;
    }
    for (int i = 0; i < m->arch.n_tensors && !rc; i++) {
        const gpen_tensor *t = &m->arch.tensor[i];
        const safetensors_tensor *s = safetensors_find(&f, t->name);
        if (!s)
            rc = gp_error_set(err, GP_EMISSING, path, 0, 0, t->name, "tensor missing");
        else if (!same_shape(t, s))
            rc = gp_error_set(err, GP_ERANGE, path, 0, 0, t->name,
                              "shape does not match the configuration (%zu elements expected)",
                              t->count);
        else
            rc = safetensors_read_f32(&f, s, m->data + t->offset, t->count, err);
    }
    safetensors_close(&f);
    if (rc)
        gpen_model_free(m);
    return rc;
}

int gpen_model_save(const gpen_model *m, const char *path, gp_error *err)
{
    const gpen_arch *a = &m->arch;
    safetensors_item *it = calloc((size_t)a->n_tensors, sizeof(*it));
    if (!it)
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    for (int i = 0; i < a->n_tensors; i++) {
        it[i].name = a->tensor[i].name;
        it[i].ndim = a->tensor[i].ndim;
        for (int d = 0; d < a->tensor[i].ndim; d++)
            it[i].shape[d] = a->tensor[i].shape[d];
        it[i].data = m->data + a->tensor[i].offset;
    }
    char v[6][32];
    snprintf(v[0], sizeof(v[0]), "%d", a->cfg.size);
    snprintf(v[1], sizeof(v[1]), "%d", a->cfg.style_dim);
    snprintf(v[2], sizeof(v[2]), "%d", a->cfg.n_mlp);
    snprintf(v[3], sizeof(v[3]), "%d", a->cfg.channel_multiplier);
    snprintf(v[4], sizeof(v[4]), "%.17g", a->cfg.narrow);
    snprintf(v[5], sizeof(v[5]), "%.17g", a->cfg.lr_mlp);
    const char *meta[] = {
        "size", v[0],     "style_dim", v[1],     "n_mlp", v[2],     "channel_multiplier",
        v[3],   "narrow", v[4],        "lr_mlp", v[5],    "format", "gpenlab-gpen 1"};
    int rc = safetensors_write_f32(path, a->n_tensors, it, 7, meta, err);
    free(it);
    return rc;
}
