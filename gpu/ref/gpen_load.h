/* gpen_load.h: GPEN weights to and from safetensors files, by the tensor names of
 * gpen_model.h (scripts/convert_gpen_checkpoint.py maps the official checkpoint's names
 * to these). Every tensor of the layout must be present with the same element count and
 * dimensions (leading or trailing 1s ignored); extra tensors are ignored. */
#ifndef GP_GPEN_LOAD_H
#define GP_GPEN_LOAD_H

#include "gpu/ref/gpen_model.h"

/* Allocates m for cfg and fills it from the safetensors file at path. */
int gpen_model_load(gpen_model *m, const gpen_config *cfg, const char *path, gp_error *err);
/* Writes every tensor of m as F32, with the configuration as metadata. */
int gpen_model_save(const gpen_model *m, const char *path, gp_error *err);

#endif
