/* safetensors.h: reads and writes the safetensors format (an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then
 * the raw little-endian tensor bytes). The reader loads the whole file into memory and
 * checks every offset against it; tensors convert to float from F32, F64, F16 and BF16.
 * A safetensors_file owns its buffers until safetensors_close. Errors name the file and,
 * for header problems, the byte column in the JSON header (line 1). */
#ifndef GP_SAFETENSORS_H
#define GP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SAFETENSORS_MAX_DIMS 8

enum { ST_F32, ST_F64, ST_F16, ST_BF16, ST_I32, ST_I64, ST_U8, ST_OTHER };

typedef struct safetensors_tensor {
    char name[128];
    int dtype; /* ST_* */
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t offset; /* into data */
    size_t nbytes;
} safetensors_tensor;

typedef struct safetensors_file {
    char path[256];
    int n_tensors;
    safetensors_tensor *tensor;
    int n_meta;
    char (*meta_key)[64];
    char (*meta_val)[256];
    unsigned char *buf; /* the whole file */
    size_t buf_len;
    const unsigned char *data; /* tensor bytes: buf + 8 + header length */
    size_t data_len;
} safetensors_file;

/* Reads `path` and parses it. On error the file is left closed (nothing to free). */
int safetensors_open(const char *path, safetensors_file *f, gp_error *err);
/* Parses a file image already in memory (copied); `name` is used in error messages. */
int safetensors_parse(const char *name, const unsigned char *bytes, size_t len, safetensors_file *f,
                      gp_error *err);
void safetensors_close(safetensors_file *f);
const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name);
/* Number of elements of a tensor (product of its shape). */
size_t safetensors_count(const safetensors_tensor *t);
/* Converts tensor t to `n` floats (n must equal its element count). */
int safetensors_read_f32(const safetensors_file *f, const safetensors_tensor *t, float *dst,
                         size_t n, gp_error *err);
/* Metadata value for `key`, or NULL. */
const char *safetensors_meta(const safetensors_file *f, const char *key);

typedef struct safetensors_item {
    const char *name;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const float *data; /* written as F32 */
} safetensors_item;

/* Writes F32 tensors and optional metadata pairs (meta[2*i] key, meta[2*i+1] value). */
int safetensors_write_f32(const char *path, int n, const safetensors_item *items, int n_meta,
                          const char *const *meta, gp_error *err);

#endif
