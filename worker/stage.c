/* stage.c: stage.h's dispatch and its CPU backend (gpu/ref on tiny inputs).
 * The CPU request: a synthetic image of px_scale * width * height pixels is JPEG-encoded
 * and decoded (decode), box-blurred (detect), each face runs the f32 GPEN reference at
 * face_size (restore) and is written back into the image (paste), and the image is
 * encoded (encode). Work grows with megapixels and faces as the real pipeline's does. */
#include "worker/stage.h"

#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/jpeg_io.h"
#include "gpu/ref/gpen_model.h"
#include "gpu/ref/gpen_ref.h"

struct stage {
    stage_opts opts;
    char device[96];
    stage_cuda *cuda; /* the cuda backend, or NULL: cpu */
    gpen_model model; /* cpu */
    double model_mib; /* cpu: weights as held */
    pthread_mutex_t mu;
    double req_mib_in_use; /* cpu: buffers of the requests in service */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void stage_opts_default(stage_opts *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->backend, sizeof(o->backend), "auto");
    o->slots = 1;
    o->max_image_mp = 25;
    o->cpu_face_size = 16;
    o->cpu_px_scale = 1.0 / 256;
    o->cpu_mem_total_mib = 16384;
}

static void phase(const stage_opts *o, const char *name, double ms)
{
    if (o->phase)
        o->phase(o->phase_ctx, name, ms);
}

/* The CPU model: GPEN at face_size with narrow channels, so a face costs milliseconds. */
static void cpu_config(const stage_opts *o, gpen_config *cfg)
{
    gpen_config_default(cfg);
    cfg->size = o->cpu_face_size;
    cfg->style_dim = 32;
    cfg->n_mlp = 2;
    cfg->narrow = 1.0 / 32;
}

int stage_open(const stage_opts *o, stage **out, gp_error *err)
{
    *out = NULL;
    if (o->slots < 1 || o->slots > 64)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "slots", "expected 1..64, got %d",
                            o->slots);
    if (o->cpu_px_scale <= 0 || o->cpu_px_scale > 1)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "cpu_px_scale", "expected (0, 1]");
    bool want_cuda = strcmp(o->backend, "cuda") == 0;
    bool want_cpu = strcmp(o->backend, "cpu") == 0;
    if (!want_cuda && !want_cpu && strcmp(o->backend, "auto") != 0)
        return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, "backend",
                            "expected auto, cuda or cpu, got \"%s\"", o->backend);
    stage *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "stage", "out of memory");
    s->opts = *o;
    pthread_mutex_init(&s->mu, NULL);
    int rc = 0;
    if (want_cuda || (!want_cpu && stage_cuda_available(o->device))) {
        rc = stage_cuda_open(o, &s->cuda, s->device, sizeof(s->device), err);
        if (rc < 0)
            goto fail;
        *out = s;
        return 0;
    }
    snprintf(s->device, sizeof(s->device), "cpu reference");
    gpen_config cfg;
    cpu_config(o, &cfg);
    double t0 = now_ms();
    if ((rc = gpen_model_init_random(&s->model, &cfg, GPEN_DEFAULT_SEED, err)) < 0)
        goto fail;
    s->model_mib = (double)s->model.arch.n_params * sizeof(float) / 1048576.0;
    phase(o, "weight_load", now_ms() - t0);
    t0 = now_ms();
    stage_result r;
    for (int k = 0; k < o->slots; k++)
        if ((rc = stage_run(s, k, 256, 256, 1, &r, err)) < 0)
            goto fail;
    phase(o, "warmup", now_ms() - t0);
    *out = s;
    return 0;
fail:
    stage_close(s);
    return rc;
}

void stage_close(stage *s)
{
    if (!s)
        return;
    stage_cuda_close(s->cuda);
    gpen_model_free(&s->model);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *stage_backend(const stage *s) { return s->cuda ? "cuda" : "cpu"; }
const char *stage_device(const stage *s) { return s->device; }

void stage_mem(stage *s, double *used_mib, double *total_mib)
{
    if (s->cuda) {
        stage_cuda_mem(s->cuda, used_mib, total_mib);
        return;
    }
    pthread_mutex_lock(&s->mu);
    *used_mib = s->model_mib + s->req_mib_in_use;
    pthread_mutex_unlock(&s->mu);
    *total_mib = s->opts.cpu_mem_total_mib;
}

static void cpu_account(stage *s, double mib)
{
    pthread_mutex_lock(&s->mu);
    s->req_mib_in_use += mib;
    if (s->req_mib_in_use < 1e-9)
        s->req_mib_in_use = 0;
    pthread_mutex_unlock(&s->mu);
}

/* index of channel ch of pixel (x, y) in an interleaved RGB image w pixels wide */
static size_t rgb_at(int x, int y, int w, int ch)
{
    return ((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)ch;
}

/* index of (ch, y, x) in a planar fs x fs face tensor */
static size_t plane_at(int ch, int y, int x, int fs)
{
    return ((size_t)ch * (size_t)fs + (size_t)y) * (size_t)fs + (size_t)x;
}

static int cpu_run(stage *s, int slot, int width, int height, int faces, stage_result *res,
                   gp_error *err)
{
    (void)slot;
    memset(res, 0, sizeof(*res));
    static const char *const names[] = {"decode", "detect", "restore", "paste", "encode"};
    res->n_stages = 5;
    for (int k = 0; k < 5; k++)
        res->stage_name[k] = names[k];
    double scale = sqrt(s->opts.cpu_px_scale);
    int w = (int)lround(width * scale), h = (int)lround(height * scale);
    if (w < 8)
        w = 8;
    if (h < 8)
        h = 8;
    const int fs = s->model.arch.cfg.size;
    size_t face_n = (size_t)3 * (size_t)fs * (size_t)fs;
    /* "device memory" of the request: the full-size image planes the GPU would hold */
    double req_mib = (double)width * height * 12.0 / 1048576.0 + faces * 8.0;
    cpu_account(s, req_mib);
    double t0 = now_ms(), t = t0;
    unsigned char *rgb = jpeg_synthetic_rgb(w, h, (unsigned)(width * 31 + height)), *jpg = NULL,
                  *dec = NULL;
    float *face_in = malloc(face_n * sizeof(float)), *face_out = malloc(face_n * sizeof(float));
    size_t jl = 0;
    int rc = 0, dw = 0, dh = 0;
    if (!rgb || !face_in || !face_out) {
        rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "stage", "out of memory");
        goto done;
    }
    if ((rc = jpeg_encode_rgb(rgb, w, h, 90, &jpg, &jl, err)) < 0 ||
        (rc = jpeg_decode_rgb(jpg, jl, &dw, &dh, &dec, NULL, 0, err)) < 0)
        goto done;
    free(jpg);
    jpg = NULL;
    res->stage_ms[0] = now_ms() - t;
    t = now_ms();
    /* detect: a 3x3 box blur of the decoded image into rgb */
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++)
            for (int ch = 0; ch < 3; ch++) {
                int sum = 0, n = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy >= 0 && yy < dh && xx >= 0 && xx < dw) {
                            sum += dec[rgb_at(xx, yy, dw, ch)];
                            n++;
                        }
                    }
                rgb[rgb_at(x, y, dw, ch)] = (unsigned char)(sum / n);
            }
    res->stage_ms[1] = now_ms() - t;
    gpen_ref_opts ro = {GPEN_REF_F32, GPEN_MODCONV_BATCHED, NULL, NULL};
    for (int f = 0; f < faces; f++) {
        t = now_ms();
        /* the face crop: a tile of the image (wrapping), scaled to [-1, 1] */
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < fs; y++)
                for (int x = 0; x < fs; x++) {
                    int yy = (y + f * 7) % dh, xx = (x + f * 13) % dw;
                    face_in[plane_at(ch, y, x, fs)] = rgb[rgb_at(xx, yy, dw, ch)] / 127.5f - 1.0f;
                }
        if ((rc = gpen_ref_forward(&s->model, face_in, 1, &ro, face_out, err)) < 0)
            goto done;
        res->stage_ms[2] += now_ms() - t;
        t = now_ms();
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < fs && y < dh; y++)
                for (int x = 0; x < fs && x < dw; x++) {
                    float v = (face_out[plane_at(ch, y, x, fs)] + 1.0f) * 127.5f;
                    v = v < 0 ? 0 : (v > 255 ? 255 : v);
                    rgb[rgb_at(x, y, dw, ch)] = (unsigned char)v;
                }
        res->stage_ms[3] += now_ms() - t;
    }
    t = now_ms();
    if ((rc = jpeg_encode_rgb(rgb, dw, dh, 90, &jpg, &jl, err)) < 0)
        goto done;
    res->stage_ms[4] = now_ms() - t;
    res->out_bytes = jl;
    res->service_ms = now_ms() - t0;
done:
    cpu_account(s, -req_mib);
    free(rgb);
    free(jpg);
    free(dec);
    free(face_in);
    free(face_out);
    return rc;
}

int stage_run(stage *s, int slot, int width, int height, int faces, stage_result *res,
              gp_error *err)
{
    if (slot < 0 || slot >= s->opts.slots)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "slot", "expected 0..%d, got %d",
                            s->opts.slots - 1, slot);
    if (width < 16 || height < 16 || faces < 0 || faces > 64)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "request",
                            "image %dx%d with %d faces is outside 16x16.., 0..64 faces", width,
                            height, faces);
    if ((double)width * height > s->opts.max_image_mp * 1e6)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "request", "%dx%d is over %d MP", width,
                            height, s->opts.max_image_mp);
    if (s->cuda)
        return stage_cuda_run(s->cuda, slot, width, height, faces, res, err);
    return cpu_run(s, slot, width, height, faces, res, err);
}
