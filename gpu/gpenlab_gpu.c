/* gpenlab_gpu.c: the GPU-side program, built by gpu/gpu.mk into $(BUILD)/gpenlab-gpu; it
 * needs only CUDA (cudart, cuBLASLt), libjpeg and libc.
 *   gpenlab-gpu selftest [--ref FILE] [--detector-weights F] [--parser-weights F]
 *                                            CUDA vs the CPU reference (small GPEN config,
 *                                            RetinaFace, ParseNet) and vs an fp64 GPEN-512
 *                                            output (scripts/gpen_torch.py ref)
 *   gpenlab-gpu bench [--torch FILE] [--out FILE] [--reps N] [--batch N | --max-batch N] [--only fp16|bf16|fp16-mma|fp32]
 *   gpenlab-gpu convcheck [--tiles]                wgmma vs mma.sync conv kernels; per-tile timings
 *   gpenlab-gpu profile [--out FILE] [--reps N] [--quick] [--cmd TEXT] [--commit SHA]
 *                       (random detector/parser weights: the face count of a measured
 *                       request must be the one asked for, not what a detector finds)
 *   gpenlab-gpu profile derive --in FILE --from h100 [--outdir DIR] [--to t4,l4,a10,a100]
 * Options through the one parser (base/opts.h, gpu/gpu_cli.h): a bad one is one line, exit 2.
 * Weights are deterministic random (gpu/ref/gpen_rand.h) unless files are given: GPEN
 * (--weights, scripts/convert_gpen_checkpoint.py), RetinaFace and ParseNet
 * (--detector-weights / --parser-weights, scripts/convert_pipeline_checkpoint.py). */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu/gpu.h"
#include "gpu/gpu_cli.h"
#include "gpu/jpeg_io.h"
#include "gpu/torch_csv.h"
#include "gpu/ref/gpen_load.h"
#include "gpu/ref/gpen_model.h"
#include "gpu/ref/gpen_rand.h"
#include "gpu/ref/gpen_ref.h"
#include "gpu/ref/pipe_nets.h"
#include "gpu/ref/safetensors.h"
#include "gpu/run_cmd.h"
#include "profile/profile.h"
#include "profile/profile_derive.h"

static double wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ selftest */

typedef struct tap_store {
    int n;
    char name[64][16];
    float *data[64];
    size_t count[64];
} tap_store;

static void keep_tap(void *ctx, const char *name, int batch, int c, int h, int w, const float *d)
{
    tap_store *t = ctx;
    if (t->n >= 64)
        return;
    size_t n = (size_t)batch * (size_t)c * (size_t)h * (size_t)w;
    t->data[t->n] = malloc(n * sizeof(float));
    if (!t->data[t->n])
        return;
    memcpy(t->data[t->n], d, n * sizeof(float));
    snprintf(t->name[t->n], sizeof(t->name[0]), "%s", name);
    t->count[t->n++] = n;
}

static int check(const char *what, double rel, double limit, int *fails)
{
    int ok = rel < limit; /* NaN fails */
    printf("selftest %-40s rel_l2 %.3e  limit %.0e  %s\n", what, rel, limit, ok ? "PASS" : "FAIL");
    if (!ok)
        (*fails)++;
    return ok;
}

/* The precisions and conv kernels the selftests cover: fp16/bf16 on the default kernel
 * (wgmma on an H100/H200) and fp16 on mma.sync. */
typedef struct prec_run {
    gpu_precision prec;
    int kernel;
    const char *label;
} prec_run;
static const prec_run SELFTEST_RUNS[] = {{GPU_FP32, GPU_CONV_AUTO, "fp32"},
                                         {GPU_FP16, GPU_CONV_AUTO, "fp16"},
                                         {GPU_BF16, GPU_CONV_AUTO, "bf16"},
                                         {GPU_FP16, GPU_CONV_MMA, "fp16-mma"}};
#define N_SELFTEST_RUNS ((int)(sizeof(SELFTEST_RUNS) / sizeof(SELFTEST_RUNS[0])))

static int selftest_small(int *fails)
{
    gpen_config cfg = {64, 32, 2, 1, 1.0 / 16, 0.01};
    gpen_model m;
    gp_error err;
    const int B = 2;
    if (gpen_model_init_random(&m, &cfg, GPEN_DEFAULT_SEED, &err))
        return cli_die(&err);
    size_t n = (size_t)B * 3 * 64 * 64;
    float *in = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float)),
          *out = malloc(n * sizeof(float));
    gpen_input_random(&cfg, B, GPEN_DEFAULT_SEED, in);
    tap_store taps = {0};
    gpen_ref_opts ro = {GPEN_REF_F64, GPEN_MODCONV_EXACT, keep_tap, &taps};
    if (gpen_ref_forward(&m, in, B, &ro, ref, &err))
        return cli_die(&err);
    for (int p = 0; p < N_SELFTEST_RUNS; p++) {
        gpu_opts o;
        gpu_opts_default(&o);
        o.gpen = cfg;
        o.precision = SELFTEST_RUNS[p].prec;
        o.conv_kernel = SELFTEST_RUNS[p].kernel;
        o.max_batch = B;
        o.use_graphs = 0;
        gpu_ctx *c;
        if (gpu_open(&o, &c, &err))
            return cli_die(&err);
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        if (gpu_gpen_forward(c, in, B, out, &err))
            return cli_die(&err);
        double lim = SELFTEST_RUNS[p].prec == GPU_FP32 ? 1e-4 : 1e-2;
        char what[96];
        snprintf(what, sizeof(what), "small %s out", SELFTEST_RUNS[p].label);
        check(what, gpen_rel_l2(out, ref, n), lim, fails);
        for (int t = 0; t < taps.n; t++) {
            float *g = malloc(taps.count[t] * sizeof(float));
            if (gpu_gpen_tap(c, taps.name[t], B, g, taps.count[t], &err) == 0) {
                double rel = gpen_rel_l2(g, taps.data[t], taps.count[t]);
                printf("  tap %-8s %-8s rel_l2 %.3e\n", taps.name[t], SELFTEST_RUNS[p].label, rel);
            }
            free(g);
        }
        /* graphs and batch-1 replays give the same numbers */
        gpu_close(c);
    }
    for (int t = 0; t < taps.n; t++)
        free(taps.data[t]);
    free(in);
    free(ref);
    free(out);
    gpen_model_free(&m);
    return 0;
}

/* RetinaFace-R50 and ParseNet on the GPU against the CPU reference (gpu/ref/pipe_nets)
 * with the same weights: the converted checkpoints when given, else the deterministic
 * random ones. Detector input 128x160, ParseNet batch 2 at 64x64 (the CPU reference
 * takes seconds at these sizes); every precision of SELFTEST_RUNS. */
static int selftest_pipe_nets(const char *det_path, const char *par_path, int *fails)
{
    gp_error err;
    pipe_net rf, pn;
    if (pipe_net_open(PIPE_RETINAFACE, 1, det_path, GPEN_DEFAULT_SEED, &rf, &err) ||
        pipe_net_open(PIPE_PARSENET, 1, par_path, GPEN_DEFAULT_SEED, &pn, &err))
        return cli_die(&err);
    const int H = 128, W = 160, PB = 2, PS = 64;
    size_t nrf = (size_t)3 * (size_t)H * (size_t)W, npn = (size_t)PB * 3 * (size_t)PS * (size_t)PS,
           npo = (size_t)PB * PIPE_PN_OUT_CH * (size_t)PS * (size_t)PS;
    size_t nl[3];
    float *rin = malloc(nrf * sizeof(float)), *pin = malloc(npn * sizeof(float));
    float *pref = malloc(npo * sizeof(float)), *pout = malloc(npo * sizeof(float));
    float *rref[3], *rout[3];
    int rc = !rin || !pin || !pref || !pout;
    for (int l = 0; l < 3; l++) {
        nl[l] = (size_t)PIPE_RF_HEAD_CH * (size_t)pipe_rf_level_size(H, l) *
                (size_t)pipe_rf_level_size(W, l);
        rref[l] = malloc(nl[l] * sizeof(float));
        rout[l] = malloc(nl[l] * sizeof(float));
        rc |= !rref[l] || !rout[l];
    }
    if (rc) {
        gp_error_set(&err, GP_ENOMEM, NULL, 0, 0, "selftest", "out of memory");
        return cli_die(&err);
    }
    uint64_t k1 = gpen_rand_key(GPEN_DEFAULT_SEED, "selftest.detector_in"),
             k2 = gpen_rand_key(GPEN_DEFAULT_SEED, "selftest.parser_in");
    for (size_t i = 0; i < nrf; i++)
        rin[i] = (float)(2 * gpen_rand_uniform(k1, i) - 1);
    for (size_t i = 0; i < npn; i++)
        pin[i] = (float)(2 * gpen_rand_uniform(k2, i) - 1);
    double t0 = wall_ms();
    if (pipe_retinaface_forward(&rf, rin, 1, H, W, rref, &err) ||
        pipe_parsenet_forward(&pn, pin, PB, PS, pref, &err))
        return cli_die(&err);
    printf("selftest pipeline networks: CPU reference in %.1f s (%s, %s)\n", (wall_ms() - t0) / 1e3,
           det_path ? det_path : "random detector weights",
           par_path ? par_path : "random parser weights");
    for (int p = 0; p < N_SELFTEST_RUNS; p++) {
        gpu_opts o;
        gpu_opts_default(&o);
        o.precision = SELFTEST_RUNS[p].prec;
        o.conv_kernel = SELFTEST_RUNS[p].kernel;
        o.pipeline = 1;
        o.max_batch = PB;
        o.max_image_mp = 1;
        o.detector_weights_path = det_path;
        o.parser_weights_path = par_path;
        gpu_ctx *c;
        if (gpu_open(&o, &c, &err))
            return cli_die(&err);
        for (int l = 0; l < 3; l++)
            for (size_t i = 0; i < nl[l]; i++)
                rout[l][i] = NAN;
        for (size_t i = 0; i < npo; i++)
            pout[i] = NAN;
        if (gpu_retinaface_forward(c, rin, H, W, rout, &err) ||
            gpu_parsenet_forward(c, pin, PB, PS, pout, &err))
            return cli_die(&err);
        /* bf16 keeps 8 mantissa bits through ~50 sequential layers (GPEN: ~30 gave 7e-3) */
        double lim = SELFTEST_RUNS[p].prec == GPU_FP32   ? 1e-4
                     : SELFTEST_RUNS[p].prec == GPU_BF16 ? 2e-2
                                                         : 1e-2;
        char what[96];
        for (int l = 0; l < 3; l++) {
            snprintf(what, sizeof(what), "retinaface %s level %d", SELFTEST_RUNS[p].label, l);
            check(what, gpen_rel_l2(rout[l], rref[l], nl[l]), lim, fails);
        }
        snprintf(what, sizeof(what), "parsenet %s (batch %d, %dx%d)", SELFTEST_RUNS[p].label, PB,
                 PS, PS);
        check(what, gpen_rel_l2(pout, pref, npo), lim, fails);
        gpu_close(c);
    }
    for (int l = 0; l < 3; l++) {
        free(rref[l]);
        free(rout[l]);
    }
    free(rin);
    free(pin);
    free(pref);
    free(pout);
    pipe_net_free(&rf);
    pipe_net_free(&pn);
    return 0;
}

static int selftest_full(const char *ref_path, const char *weights, int *fails)
{
    safetensors_file f;
    gp_error err;
    if (safetensors_open(ref_path, &f, &err))
        return cli_die(&err);
    const safetensors_tensor *ti = safetensors_find(&f, "input"), *to = safetensors_find(&f, "out");
    if (!ti || !to) {
        gp_error_set(&err, GP_EMISSING, ref_path, 0, 0, "input/out", "reference lacks tensors");
        return cli_die(&err);
    }
    int B = ti->ndim == 4 ? (int)ti->shape[0] : 0;
    size_t n = safetensors_count(ti);
    if (B < 1 || B > 64 || n != (size_t)B * 3 * 512 * 512 || safetensors_count(to) != n) {
        safetensors_close(&f);
        gp_error_set(&err, GP_ERANGE, ref_path, 0, 0, "input",
                     "expected input and out of [B, 3, 512, 512], B 1..64");
        return cli_die(&err);
    }
    float *in = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float)),
          *out = malloc(n * sizeof(float)), *out2 = malloc(n * sizeof(float));
    safetensors_read_f32(&f, ti, in, n, &err);
    safetensors_read_f32(&f, to, ref, n, &err);
    safetensors_close(&f);
    for (int p = 0; p < N_SELFTEST_RUNS; p++) {
        gpu_opts o;
        gpu_opts_default(&o);
        o.precision = SELFTEST_RUNS[p].prec;
        o.conv_kernel = SELFTEST_RUNS[p].kernel;
        o.max_batch = B > 8 ? B : 8;
        o.weights_path = weights;
        gpu_ctx *c;
        if (gpu_open(&o, &c, &err))
            return cli_die(&err);
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        if (gpu_gpen_forward(c, in, B, out, &err))
            return cli_die(&err);
        char what[96];
        gpu_info info;
        if (gpu_get_info(c, &info, &err))
            return cli_die(&err);
        printf("  kernels %-8s %s\n", SELFTEST_RUNS[p].label, info.kernels);
        snprintf(what, sizeof(what), "GPEN-512 %s vs fp64 (batch %d)", SELFTEST_RUNS[p].label, B);
        check(what, gpen_rel_l2(out, ref, n), SELFTEST_RUNS[p].prec == GPU_FP32 ? 1e-4 : 1e-2,
              fails);
        /* a graph replay reproduces the first run bit for bit */
        if (gpu_gpen_forward(c, in, B, out2, &err))
            return cli_die(&err);
        snprintf(what, sizeof(what), "GPEN-512 %s graph replay", SELFTEST_RUNS[p].label);
        check(what, gpen_rel_l2(out2, out, n), 1e-12, fails);
        gpu_close(c);
    }
    free(in);
    free(ref);
    free(out);
    free(out2);
    return 0;
}

/* A context for kernel-level checks: the small GEMM config, no pipeline. */
static int open_small(gpu_precision prec, gpu_ctx **c, gp_error *err)
{
    gpu_opts ko;
    gpu_opts_default(&ko);
    ko.precision = prec;
    ko.gpen = (gpen_config){64, 32, 2, 1, 1.0 / 16, 0.01};
    ko.max_batch = 2;
    return gpu_open(&ko, c, err);
}

/* The wgmma conv kernel against mma.sync, fp16 and bf16, on every wgmma tile. */
static int selftest_conv_kernels(int *fails)
{
    gp_error err;
    for (int p = 1; p <= 2; p++) {
        gpu_ctx *kc;
        if (open_small(SELFTEST_RUNS[p].prec, &kc, &err))
            return cli_die(&err);
        double worst = 0;
        int ncases = 0;
        if (gpu_conv_kernel_check(kc, &worst, &ncases, &err))
            return cli_die(&err);
        gpu_close(kc);
        if (ncases == 0) {
            printf("selftest conv kernels %s: wgmma not used on this card/build: skipped\n",
                   SELFTEST_RUNS[p].label);
        } else {
            char what[96];
            snprintf(what, sizeof(what), "conv wgmma vs mma.sync %s (%d)", SELFTEST_RUNS[p].label,
                     ncases);
            check(what, worst, SELFTEST_RUNS[p].prec == GPU_FP16 ? 3e-3 : 2e-2, fails);
        }
    }
    return 0;
}

/* gpenlab-gpu convcheck [--tiles]: the conv kernel check alone (small enough to run under
 * compute-sanitizer), and with --tiles the per-tile timings of the conv kernels. */
static int cmd_convcheck(int argc, char **argv)
{
    bool tiles = false;
    const cli_opt opts[] = {
        {"--tiles", NULL, CLI_FLAG, &tiles, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = gpu_cli_parse(argc, argv, "convcheck", opts, NULL, NULL, 0);
    if (prc)
        return prc == 1 ? 0 : prc;
    if (gpu_device_count() < 1) {
        printf("convcheck: no CUDA device: skipped\n");
        return 0;
    }
    int fails = 0;
    if (selftest_conv_kernels(&fails))
        return 1;
    /* what GPEN-512 uses on this card: the tap kernel's probe and each layer's variants */
    for (int p = 1; p <= 2; p++) {
        gp_error err;
        gpu_opts o;
        gpu_opts_default(&o);
        o.precision = SELFTEST_RUNS[p].prec;
        gpu_ctx *c;
        gpu_info info;
        if (gpu_open(&o, &c, &err) || gpu_get_info(c, &info, &err))
            return cli_die(&err);
        printf("convcheck GPEN-512 %s kernels: %s\n", SELFTEST_RUNS[p].label, info.kernels);
        gpu_close(c);
    }
    if (tiles) {
        gp_error err;
        gpu_ctx *c;
        if (open_small(GPU_FP16, &c, &err) || gpu_conv_tile_bench(c, stdout, &err))
            return cli_die(&err);
        gpu_close(c);
    }
    return fails ? 1 : 0;
}

/* Mean absolute difference of two RGB8 images of n bytes, in levels. */
static double mean_abs_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += abs((int)a[i] - (int)b[i]);
    return n ? s / (double)n : 0;
}

/* Decodes a request's output JPEG on the host; checks its size. NULL on failure. */
static unsigned char *decode_output(const unsigned char *jpg, size_t len, int w, int h,
                                    const char *what, int *fails)
{
    gp_error err;
    int dw = 0, dh = 0;
    unsigned char *dec = NULL;
    if (!jpg || jpeg_decode_rgb(jpg, len, &dw, &dh, &dec, NULL, 0, &err) || dw != w || dh != h) {
        printf("selftest %-40s FAIL (output %dx%d, expected %dx%d)\n", what, dw, dh, w, h);
        (*fails)++;
        free(dec);
        return NULL;
    }
    return dec;
}

/* Whole pipeline requests on each JPEG path this build and card have (libjpeg on the host,
 * nvJPEG): one 2 MP request with 2 faces, and three requests in one gpu_requests_run call
 * against the same three run one by one (faces batched across requests: the outputs must
 * agree to within JPEG rounding); then the two JPEG paths against each other. */
static int selftest_pipeline(const gpu_opts *given, int *fails)
{
    gp_error err;
    const int W = 1732, H = 1155;
    unsigned char *rgb = jpeg_synthetic_rgb(W, H, 1), *jpg = NULL;
    size_t jl = 0;
    if (!rgb || jpeg_encode_rgb(rgb, W, H, 90, &jpg, &jl, &err))
        return cli_die(&err);
    free(rgb);
    unsigned char *first_out[2] = {NULL, NULL};
    const int paths[2] = {GPU_JPEG_HOST, GPU_JPEG_NVJPEG};
    for (int pi = 0; pi < 2; pi++) {
        gpu_opts o = *given;
        o.pipeline = 1;
        o.max_image_mp = 4;
        o.max_requests = 3;
        o.jpeg = paths[pi];
        gpu_ctx *c;
        if (gpu_open(&o, &c, &err)) {
            if (paths[pi] != GPU_JPEG_NVJPEG)
                return cli_die(&err);
            /* a build without nvJPEG skips it; nvJPEG that does not open on this card fails */
            printf("selftest %-40s %s (%s)\n", "pipeline nvJPEG",
                   err.code == GP_ENOTSUP ? "skipped" : "FAIL", err.msg);
            *fails += err.code != GP_ENOTSUP;
            continue;
        }
        gpu_info info;
        if (gpu_get_info(c, &info, &err))
            return cli_die(&err);
        gpu_request rq = {jpg, jl, 0, 0, 2, 90};
        gpu_request_result res;
        unsigned char *outj = NULL;
        for (int i = 0; i < 2; i++) { /* the second run is the warm one */
            free(outj);
            outj = NULL;
            if (gpu_request_run(c, 0, &rq, &res, &outj, &err))
                return cli_die(&err);
        }
        printf(
            "selftest pipeline 2 MP, 2 faces [%s]: total %.2f ms, out %zu bytes, detector %dx%d:",
            info.jpeg, res.total_ms, res.out_jpeg_len, res.detector_w, res.detector_h);
        for (int s = 0; s < GPU_N_STAGES; s++)
            printf(" %s %.2f", gpu_stage_name(s), res.stage_ms[s]);
        printf("\n");
        char what[96];
        snprintf(what, sizeof(what), "pipeline output [%s]", pi ? "nvjpeg" : "host");
        first_out[pi] = decode_output(outj, res.out_jpeg_len, W, H, what, fails);
        free(outj);
        /* three requests in one call against the same run one by one */
        gpu_request three[3] = {
            {jpg, jl, 0, 0, 2, 90}, {jpg, jl, 0, 0, 0, 90}, {jpg, jl, 0, 0, 1, 90}};
        gpu_request_result r3[3];
        unsigned char *o3[3] = {NULL, NULL, NULL};
        if (gpu_requests_run(c, 0, 3, three, r3, o3, &err))
            return cli_die(&err);
        double worst = 0;
        int faces_ok = 1;
        for (int r = 0; r < 3; r++) {
            unsigned char *one = NULL;
            gpu_request_result r1;
            if (gpu_request_run(c, 0, &three[r], &r1, &one, &err))
                return cli_die(&err);
            faces_ok &= r3[r].faces == three[r].faces;
            snprintf(what, sizeof(what), "pipeline batched request %d", r);
            unsigned char *a = decode_output(o3[r], r3[r].out_jpeg_len, W, H, what, fails);
            unsigned char *b = decode_output(one, r1.out_jpeg_len, W, H, what, fails);
            if (a && b) {
                double d = mean_abs_diff(a, b, (size_t)W * (size_t)H * 3);
                worst = d > worst ? d : worst;
            } else {
                worst = INFINITY;
            }
            free(a);
            free(b);
            free(one);
            free(o3[r]);
        }
        printf("selftest pipeline 3 requests in one call (3 faces batched): total %.2f ms, gpen "
               "%.2f ms\n",
               r3[0].total_ms, r3[0].stage_ms[GPU_STAGE_GPEN]);
        snprintf(what, sizeof(what), "batched vs one by one [%s] (levels)", pi ? "nvjpeg" : "host");
        check(what, faces_ok ? worst : INFINITY, 0.5, fails);
        gpu_close(c);
    }
    if (first_out[0] && first_out[1])
        check("pipeline nvJPEG vs libjpeg output (levels)",
              mean_abs_diff(first_out[0], first_out[1], (size_t)W * (size_t)H * 3), 3.0, fails);
    free(first_out[0]);
    free(first_out[1]);
    free(jpg);
    return 0;
}

static int cmd_selftest(int argc, char **argv)
{
    gpu_opts chk;
    gpu_opts_default(&chk);
    const char *ref = NULL;
    bool gpen_only = false;
    const cli_opt opts[] = {
        {"--ref", NULL, CLI_STR, &ref, 0, 0, NULL},
        {"--gpen-only", NULL, CLI_FLAG, &gpen_only, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = gpu_cli_parse(argc, argv, "selftest", opts, &chk, NULL, 0);
    if (prc)
        return prc == 1 ? 0 : prc;
    if (gpen_only && !ref) {
        fprintf(stderr, "gpenlab-gpu selftest: --gpen-only needs --ref\n");
        return 2;
    }
    if (gpu_device_count() < 1) {
        printf("selftest: no CUDA device: skipped\n");
        return 0;
    }
    int fails = 0;
    if (!gpen_only && (selftest_conv_kernels(&fails) || selftest_small(&fails)))
        return 1;
    if (ref && selftest_full(ref, chk.weights_path, &fails))
        return 1;
    if (gpen_only) {
        printf("selftest (GPEN-512 only): %s (%d failed)\n", fails ? "FAIL" : "PASS", fails);
        return fails ? 1 : 0;
    }
    if (selftest_pipe_nets(chk.detector_weights_path, chk.parser_weights_path, &fails))
        return 1;
    if (selftest_pipeline(&chk, &fails))
        return 1;
    printf("selftest: %s (%d failed)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}

/* ------------------------------------------------------------------ bench */

static int cmd_bench(int argc, char **argv)
{
    gpu_opts base;
    gpu_opts_default(&base);
    int reps = 30, only_batch = 0, max_batch = 16;
    const char *outp = NULL, *only = NULL, *torch = NULL;
    /* --batch N and --only LABEL narrow the run (one forward under a profiler, say) */
    const cli_opt opts[] = {
        {"--torch", NULL, CLI_STR, &torch, 0, 0, NULL},
        {"--out", NULL, CLI_STR, &outp, 0, 0, NULL},
        {"--reps", NULL, CLI_INT, &reps, 1, 100000, NULL},
        {"--batch", NULL, CLI_INT, &only_batch, 0, 64, NULL},
        {"--max-batch", NULL, CLI_INT, &max_batch, 1, 64, NULL},
        {"--only", NULL, CLI_STR, &only, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = gpu_cli_parse(argc, argv, "bench", opts, &base, NULL, 0);
    if (prc)
        return prc == 1 ? 0 : prc;
    /* the PyTorch timings first: a bad file is refused before any device time is spent */
    torch_row tr[128];
    int ntr = 0;
    gp_error err;
    if (torch && torch[0] && torch_csv_read(torch, tr, 128, &ntr, &err) < 0)
        return cli_report(stderr, "gpenlab-gpu bench", &err, 2);
    if (gpu_device_count() < 1) {
        printf("bench: no CUDA device: skipped\n");
        return 0;
    }
    gpen_arch arch;
    gpen_config dc;
    gpen_config_default(&dc);
    gpen_arch_build(&dc, &arch, NULL);
    double mac, blur;
    gpen_arch_macs(&arch, &mac, &blur);
    double flop = 2 * mac;
    FILE *o = outp ? fopen(outp, "w") : NULL;
    /* fp16 and bf16 with the default conv kernel (wgmma on an H100/H200), then fp16 with the
     * mma.sync kernel as the baseline of the same run, then fp32 */
    struct {
        gpu_precision prec;
        int kernel;
        const char *label;
    } runs[] = {{GPU_FP16, GPU_CONV_AUTO, "fp16"},
                {GPU_BF16, GPU_CONV_AUTO, "bf16"},
                {GPU_FP16, GPU_CONV_MMA, "fp16-mma"},
                {GPU_FP32, GPU_CONV_AUTO, "fp32"}};
    double core_tf = 0, blas_tf = 0, ms16[65] = {0}, frac16[65] = {0};
    gpu_info info;
    for (int p = 0; p < 4; p++) {
        if (only && strcmp(only, runs[p].label) != 0)
            continue;
        gpu_opts op = base;
        op.precision = runs[p].prec;
        op.conv_kernel = runs[p].kernel;
        int need_batch = only_batch ? only_batch : max_batch;
        if (need_batch > op.max_batch)
            op.max_batch = need_batch;
        gpu_ctx *c;
        if (gpu_open(&op, &c, &err))
            return cli_die(&err);
        gpu_get_info(c, &info, &err);
        if (p == 0 || p == 2) {
            double tf;
            if (gpu_matmul_peak(c, &tf, &blas_tf, &err))
                return cli_die(&err);
            if (p == 0)
                core_tf = tf;
            printf("card %s, %d SMs; fp16 dense GEMM: core %s kernel %.1f TFLOP/s, cuBLASLt %.1f "
                   "TFLOP/s; "
                   "kernels: %s; weights: %s\n",
                   info.name, info.sm_count, info.conv_wgmma ? "wgmma" : "mma.sync", tf, blas_tf,
                   info.kernels, op.weights_path ? op.weights_path : "deterministic random");
            if (o) {
                if (p == 0)
                    fprintf(o, "card %s\nkernels %s\n", info.name, info.kernels);
                fprintf(o, "matmul_fp16_tflops core_%s %.2f cublaslt %.2f\n",
                        info.conv_wgmma ? "wgmma" : "mma", tf, blas_tf);
            }
        }
        for (int b = only_batch ? only_batch : 1; b <= (only_batch ? only_batch : max_batch);
             b *= 2) {
            double med, sd;
            if (gpu_gpen_time(c, b, reps, &med, &sd, &err)) {
                /* keep what was measured: one batch size that fails ends this precision only */
                fprintf(stderr, "gpenlab-gpu bench: %s batch %d: %s\n", runs[p].label, b, err.msg);
                break;
            }
            double frac = blas_tf > 0 ? flop * b / (med * 1e-3) / (blas_tf * 1e12) : 0;
            printf("gpenlab %s batch %d: %8.3f ms (sd %.3f), %.2f ms/face, %.1f%% of fp16 peak "
                   "(conv kernel %s)\n",
                   runs[p].label, b, med, sd, med / b, 100 * frac,
                   runs[p].prec == GPU_FP32 ? "simt"
                   : info.conv_wgmma        ? "wgmma"
                                            : "mma.sync");
            if (o)
                fprintf(o, "gpenlab %s batch %d ms %.4f sd %.4f frac_peak %.4f\n", runs[p].label, b,
                        med, sd, frac);
            if (p == 0) {
                ms16[b] = med;
                frac16[b] = frac;
            }
        }
        gpu_close(c);
    }
    (void)core_tf;
    /* gpenlab fp16 against the fastest torch row of each mode and of all, over every
     * formulation and layout read from --torch ("-" where a side measured nothing) */
    torch_compare cmp[16];
    int ncmp;
    torch_compare_build(ms16, frac16, 64, tr, ntr, "fp16", cmp, &ncmp);
    printf("\n");
    torch_compare_print(stdout, cmp, ncmp, tr);
    if (o)
        torch_compare_record(o, cmp, ncmp, tr);
    if (o)
        fclose(o);
    return 0;
}

/* ------------------------------------------------------------------ profile */

static const double MP_GRID[] = {0.5, 1, 2, 4, 8, 12, 16, 24};
#define N_MP 8
static const int FACES[] = {0, 1, 2, 4, 8};
#define N_FACES 5

typedef struct eff_job {
    gpu_ctx *c;
    int slot, n_req;
    const unsigned char *jpg;
    size_t jl;
    int rc;
    gp_error err;
} eff_job;

static void *eff_thread(void *arg)
{
    eff_job *j = arg;
    gpu_request rq = {j->jpg, j->jl, 0, 0, 1, 90};
    gpu_request_result res;
    for (int i = 0; i < j->n_req && !j->rc; i++)
        j->rc = gpu_request_run(j->c, j->slot, &rq, &res, NULL, &j->err);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n ? v[n / 2] : 0;
}

static double sd_of(const double *v, int n)
{
    double m = 0, s = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return n > 1 ? sqrt(s / (n - 1)) : 0;
}

static void image_dims(double mp, int *w, int *h)
{
    *w = (int)lround(sqrt(mp * 1e6 * 1.5));
    *h = (int)lround(*w / 1.5);
}

/* eff over processes, as pods of one card each run their own process: n processes (n =
 * 1, 2, 4, .. max_procs), each with its own context, run `per` whole 2 MP / 1 face
 * requests at the same moment; eff(n) = their throughput over that of one process. Must
 * run before this process touches CUDA at all (a forked child cannot use CUDA once the
 * parent has initialised it). eff[k] is for n = 1 << k; *n_out of them. */
static int eff_processes(const gpu_opts *base, int max_procs, int per, double *eff, int *n_out,
                         gp_error *err)
{
    double thr1 = 0;
    *n_out = 0;
    for (int n = 1; n <= max_procs; n *= 2) {
        int ready[2], go[2], res[2];
        if (pipe(ready) || pipe(go) || pipe(res))
            return gp_error_set(err, GP_EIO, NULL, 0, 0, "profile", "pipe failed");
        pid_t pids[64];
        int started = 0;
        for (int i = 0; i < n; i++) {
            pid_t pid = fork();
            if (pid < 0)
                break;
            if (pid == 0) { /* child: open, warm up, wait for go, run, report the elapsed ms */
                close(ready[0]), close(go[1]), close(res[0]);
                double ms = -1;
                gpu_opts o = *base;
                o.pipeline = 1;
                o.n_slots = 1;
                o.max_image_mp = 3;
                int w, h;
                image_dims(2, &w, &h);
                unsigned char *rgb = jpeg_synthetic_rgb(w, h, 2), *jpg = NULL;
                size_t jl = 0;
                gpu_ctx *c = NULL;
                gp_error e;
                gpu_request_result r;
                int ok =
                    rgb && !jpeg_encode_rgb(rgb, w, h, 90, &jpg, &jl, &e) && !gpu_open(&o, &c, &e);
                gpu_request rq = {jpg, jl, 0, 0, 1, 90};
                for (int k = 0; k < 2 && ok; k++)
                    ok = !gpu_request_run(c, 0, &rq, &r, NULL, &e);
                char b = ok ? 'r' : 'x', g = 0;
                if (write(ready[1], &b, 1) == 1 && read(go[0], &g, 1) == 1 && ok) {
                    double t0 = wall_ms();
                    for (int k = 0; k < per && ok; k++)
                        ok = !gpu_request_run(c, 0, &rq, &r, NULL, &e);
                    ms = ok ? wall_ms() - t0 : -1;
                }
                if (write(res[1], &ms, sizeof(ms)) != (ssize_t)sizeof(ms))
                    ms = -1;
                gpu_close(c);
                _exit(ok ? 0 : 1);
            }
            pids[started++] = pid;
        }
        close(ready[1]), close(go[0]), close(res[1]);
        int n_ready = 0, all_ok = started == n;
        char b;
        while (n_ready < started && read(ready[0], &b, 1) == 1) {
            n_ready++;
            all_ok &= b == 'r';
        }
        double t0 = wall_ms();
        for (int i = 0; i < started; i++)
            if (write(go[1], "g", 1) != 1)
                all_ok = 0;
        double worst = 0, ms;
        for (int i = 0; i < started; i++) {
            if (read(res[0], &ms, sizeof(ms)) != (ssize_t)sizeof(ms) || ms < 0)
                all_ok = 0;
            else if (ms > worst)
                worst = ms;
        }
        double wall = wall_ms() - t0;
        for (int i = 0; i < started; i++)
            waitpid(pids[i], NULL, 0);
        close(ready[0]), close(go[1]), close(res[0]);
        if (!all_ok || n_ready != n)
            return gp_error_set(err, GP_EIO, NULL, 0, 0, "profile",
                                "eff over %d processes: a process failed", n);
        double thr = n * per / worst;
        if (n == 1)
            thr1 = thr;
        eff[(*n_out)++] = thr / thr1;
        printf("eff over processes: %d -> %.3f (%.1f requests/s, the slowest process %.0f ms, wall "
               "%.0f ms)\n",
               n, eff[*n_out - 1], thr * 1e3, worst, wall);
    }
    return 0;
}

static int cmd_profile(int argc, char **argv)
{
    gpu_opts base;
    gpu_opts_default(&base);
    const char *outp = "gpu/profiles/h100", *cmd_text = "gpenlab-gpu profile", *commit = "unknown";
    int reps = 5, max_procs = -1; /* -1: 2 with --quick, else 4 */
    bool quick = false;
    const cli_opt opts[] = {
        {"--out", NULL, CLI_STR, &outp, 0, 0, NULL},
        {"--reps", NULL, CLI_INT, &reps, 1, 16, NULL},
        {"--quick", NULL, CLI_FLAG, &quick, 0, 0, NULL},
        {"--procs", NULL, CLI_INT, &max_procs, 0, 16, NULL},
        {"--cmd", NULL, CLI_STR, &cmd_text, 0, 0, NULL},
        {"--commit", NULL, CLI_STR, &commit, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = gpu_cli_parse(argc, argv, "profile", opts, &base, NULL, 0);
    if (prc)
        return prc == 1 ? 0 : prc;
    if (max_procs < 0)
        max_procs = quick ? 2 : 4;
    if (base.detector_weights_path) {
        fprintf(stderr, "gpenlab-gpu profile: --detector-weights: the profile keeps random "
                        "detector weights, so that "
                        "a request runs the face count it asks for\n");
        return 2;
    }
    gp_error err;
    /* counted in a child: CUDA initialised here (even by counting) would not work in the
     * processes eff_processes forks, and the cold-start figures want a fresh process */
    pid_t cp = fork();
    if (cp == 0)
        _exit(gpu_device_count() > 0 ? 0 : 3);
    int cst = 0;
    if (cp < 0 || waitpid(cp, &cst, 0) != cp || !WIFEXITED(cst) || WEXITSTATUS(cst) != 0) {
        printf("profile: no CUDA device: skipped\n");
        return 0;
    }
    double eff_proc[8];
    int n_eff_proc = 0;
    if (max_procs > 0 &&
        eff_processes(&base, max_procs, quick ? 4 : 8, eff_proc, &n_eff_proc, &err))
        return cli_die(&err);
    /* cold start, in this fresh process: context, weights from a file, first inference,
     * graph capture */
    double ctx_ms, ctx_mib;
    if (gpu_context_init(0, &ctx_ms, &ctx_mib, &err))
        return cli_die(&err);
    char wpath[] = "/tmp/gpenlab-weights-XXXXXX";
    int fd = mkstemp(wpath);
    if (fd < 0)
        return 1;
    close(fd);
    gpen_config dc;
    gpen_config_default(&dc);
    gpen_model m;
    /* the weight-load phase reads a file: --weights, else the random weights written out */
    const char *weights = base.weights_path ? base.weights_path : wpath;
    if (!base.weights_path && (gpen_model_init_random(&m, &dc, GPEN_DEFAULT_SEED, &err) ||
                               gpen_model_save(&m, wpath, &err)))
        return cli_die(&err);
    if (!base.weights_path)
        gpen_model_free(&m);
    double t0 = wall_ms();
    if (gpen_model_load(&m, &dc, weights, &err))
        return cli_die(&err);
    double file_ms = wall_ms() - t0;
    size_t gpen_params = m.arch.n_params;
    gpen_model_free(&m);
    gpu_opts o = base;
    o.weights_path = weights;
    o.max_image_mp = 25;
    t0 = wall_ms();
    gpu_ctx *c;
    if (gpu_open(&o, &c, &err)) /* GPEN only: file, convert, upload */
        return cli_die(&err);
    double open_gpen_ms = wall_ms() - t0;
    gpu_info info;
    gpu_get_info(c, &info, &err);
    double used_gpen = gpu_mem_used_mib(c);
    gpu_close(c);
    o.pipeline = 1;
    o.n_slots = quick ? 2 : 8;
    t0 = wall_ms();
    if (gpu_open(&o, &c, &err))
        return cli_die(&err);
    double open_all_ms = wall_ms() - t0;
    unlink(wpath);
    gpu_mem_report mr;
    gpu_mem_breakdown(c, &mr, &err);
    /* first request (2 MP, 1 face) on a fresh context: lazy module loading + graph capture
     * for batch 1 */
    int w, h;
    image_dims(2, &w, &h);
    unsigned char *rgb = jpeg_synthetic_rgb(w, h, 2), *jpg2 = NULL;
    size_t jl2;
    if (jpeg_encode_rgb(rgb, w, h, 90, &jpg2, &jl2, &err))
        return cli_die(&err);
    free(rgb);
    gpu_request rq = {jpg2, jl2, 0, 0, 1, 90};
    gpu_request_result res;
    t0 = wall_ms();
    if (gpu_request_run(c, 0, &rq, &res, NULL, &err))
        return cli_die(&err);
    double first_ms = wall_ms() - t0;
    double capture_ms;
    if (gpu_warmup(c, &capture_ms, &err))
        return cli_die(&err);
    double steady[16];
    for (int i = 0; i < 8; i++) {
        if (gpu_request_run(c, 0, &rq, &res, NULL, &err))
            return cli_die(&err);
        steady[i] = res.total_ms;
    }
    double steady_ms = median_of(steady, 8);
    printf("cold: context %.0f ms (%.0f MiB), GPEN file read %.0f ms, open GPEN %.0f ms, open all "
           "nets + %d slots %.0f ms, "
           "first request %.0f ms (steady %.1f), graph capture %.0f ms\n",
           ctx_ms, ctx_mib, file_ms, open_gpen_ms, o.n_slots, open_all_ms, first_ms, steady_ms,
           capture_ms);

    /* stage latency over megapixels and faces */
    gpu_profile p;
    memset(&p, 0, sizeof(p));
    static double raw[N_MP][N_FACES][GPU_N_STAGES][16], tot[N_MP][N_FACES][16];
    static double jit[4096];
    int njit = 0, R = reps < 16 ? reps : 16;
    for (int mi = 0; mi < N_MP; mi++) {
        image_dims(MP_GRID[mi], &w, &h);
        rgb = jpeg_synthetic_rgb(w, h, (unsigned)mi + 7);
        unsigned char *jpg = NULL;
        size_t jl;
        if (jpeg_encode_rgb(rgb, w, h, 90, &jpg, &jl, &err))
            return cli_die(&err);
        free(rgb);
        for (int fi = 0; fi < N_FACES; fi++) {
            gpu_request r2 = {jpg, jl, 0, 0, FACES[fi], 90};
            if (gpu_request_run(c, 0, &r2, &res, NULL, &err)) /* warm-up */
                return cli_die(&err);
            for (int k = 0; k < R; k++) {
                if (gpu_request_run(c, 0, &r2, &res, NULL, &err))
                    return cli_die(&err);
                for (int s = 0; s < GPU_N_STAGES; s++)
                    raw[mi][fi][s][k] = res.stage_ms[s];
                tot[mi][fi][k] = res.total_ms;
            }
            double tv[16];
            memcpy(tv, tot[mi][fi], sizeof(double) * (size_t)R);
            double med = median_of(tv, R);
            for (int k = 0; k < R && njit < 4096; k++)
                jit[njit++] = tot[mi][fi][k] / med;
            printf("mp %5.1f (%dx%d) faces %d: total %8.2f ms\n", MP_GRID[mi], w, h, FACES[fi],
                   med);
        }
        free(jpg);
    }
    /* fit: image stages = median over all face counts; face stages = least-squares slope
     * through the origin over faces 1..8 of the medians */
    static const int is_face[GPU_N_STAGES] = {0, 0, 1, 1, 1, 1, 0, 0};
    p.n_grid = N_MP;
    memcpy(p.mp_grid, MP_GRID, sizeof(MP_GRID));
    p.n_stages = GPU_N_STAGES;
    for (int s = 0; s < GPU_N_STAGES; s++) {
        profile_stage *st = &p.stage[s];
        snprintf(st->name, sizeof(st->name), "%s", gpu_stage_name(s));
        st->scaling = is_face[s] ? STAGE_PER_FACE : STAGE_PER_IMAGE;
        for (int mi = 0; mi < N_MP; mi++) {
            if (!is_face[s]) {
                double all[N_FACES * 16];
                int n = 0;
                for (int fi = 0; fi < N_FACES; fi++)
                    for (int k = 0; k < R; k++)
                        all[n++] = raw[mi][fi][s][k];
                st->spread_ms[mi] = sd_of(all, n);
                st->ms[mi] = median_of(all, n);
            } else {
                double sxy = 0, sxx = 0;
                for (int fi = 1; fi < N_FACES; fi++) {
                    double tv[16];
                    for (int k = 0; k < R; k++)
                        tv[k] = raw[mi][fi][s][k];
                    double med = median_of(tv, R);
                    sxy += FACES[fi] * med;
                    sxx += (double)FACES[fi] * FACES[fi];
                }
                st->ms[mi] = sxy / sxx;
                double one[16];
                for (int k = 0; k < R; k++)
                    one[k] = raw[mi][1][s][k];
                st->spread_ms[mi] = sd_of(one, R);
            }
        }
    }
    /* GPEN and ParseNet over batch */
    double gb[9] = {0}, pb[9] = {0}, sd;
    for (int b = 1; b <= 8; b *= 2) {
        if (gpu_gpen_time(c, b, 20, &gb[b], &sd, &err) ||
            gpu_parse_time(c, b, 10, &pb[b], &sd, &err))
            return cli_die(&err);
        printf("batch %d: GPEN %.3f ms, ParseNet %.3f ms\n", b, gb[b], pb[b]);
    }
    /* eff(n): n threads, each running whole 2 MP / 1 face requests on its own slot */
    int nmax = o.n_slots;
    double thr1 = 0;
    p.n_eff = nmax;
    for (int n = 1; n <= nmax; n++) {
        eff_job jobs[8];
        pthread_t th[8];
        int per = quick ? 4 : 8;
        t0 = wall_ms();
        for (int i = 0; i < n; i++) {
            jobs[i] = (eff_job){c, i, per, jpg2, jl2, 0, {0}};
            pthread_create(&th[i], NULL, eff_thread, &jobs[i]);
        }
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        double el = wall_ms() - t0;
        for (int i = 0; i < n; i++)
            if (jobs[i].rc)
                return cli_die(&jobs[i].err);
        double thr = n * per / el;
        if (n == 1)
            thr1 = thr;
        /* at most n: timing noise must not write a profile the reader refuses (eff(n) > n) */
        p.eff[n - 1] = n == 1 ? 1.0 : fmin(thr / thr1, n);
        printf("eff(%d) = %.3f (%.1f requests/s)\n", n, p.eff[n - 1], thr * 1e3);
    }
    /* JPEG decode and encode alone, both paths, at every size of the grid */
    gpu_jpeg_times jt[N_MP];
    for (int mi = 0; mi < N_MP; mi++) {
        image_dims(MP_GRID[mi], &w, &h);
        rgb = jpeg_synthetic_rgb(w, h, (unsigned)mi + 7);
        unsigned char *jpg = NULL;
        size_t jl;
        if (jpeg_encode_rgb(rgb, w, h, 90, &jpg, &jl, &err) ||
            gpu_jpeg_time(c, jpg, jl, R, &jt[mi], &err))
            return cli_die(&err);
        free(rgb);
        free(jpg);
        printf("jpeg mp %4.1f: libjpeg decode %.2f encode %.2f ms; nvJPEG%s decode %.2f encode "
               "%.2f ms\n",
               MP_GRID[mi], jt[mi].host_decode_ms, jt[mi].host_encode_ms,
               jt[mi].nvjpeg_hw ? " (hardware)" : "", jt[mi].nvjpeg_decode_ms,
               jt[mi].nvjpeg_encode_ms);
    }
    /* eff of n requests batched in one call on one slot (their faces go through GPEN and
     * ParseNet together), against one request a call */
    double eff_batch[8];
    int n_eff_batch = 0;
    {
        gpu_opts ob = o;
        ob.weights_path = base.weights_path; /* the temporary weight file is gone by now */
        ob.n_slots = 1;
        ob.max_image_mp = 3;
        ob.max_requests = 8;
        gpu_ctx *cb;
        if (gpu_open(&ob, &cb, &err))
            return cli_die(&err);
        gpu_request rqs[8];
        gpu_request_result rs[8];
        for (int i = 0; i < 8; i++)
            rqs[i] = (gpu_request){jpg2, jl2, 0, 0, 1, 90};
        double thr1b = 0;
        for (int n = 1; n <= 8; n++) {
            int calls = quick ? 3 : 6;
            if (gpu_requests_run(cb, 0, n, rqs, rs, NULL, &err)) /* warm-up (graph of batch n) */
                return cli_die(&err);
            t0 = wall_ms();
            for (int k = 0; k < calls; k++)
                if (gpu_requests_run(cb, 0, n, rqs, rs, NULL, &err))
                    return cli_die(&err);
            double thr = n * calls / (wall_ms() - t0);
            if (n == 1)
                thr1b = thr;
            eff_batch[n_eff_batch++] = thr / thr1b;
            printf("eff batched in one call: %d -> %.3f (%.1f requests/s)\n", n, thr / thr1b,
                   thr * 1e3);
        }
        gpu_close(cb);
    }
    /* the profile */
    snprintf(p.card, sizeof(p.card), "%s", info.name);
    snprintf(p.provenance, sizeof(p.provenance), "measured");
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    snprintf(p.source, sizeof(p.source),
             "measured by gpenlab-gpu profile on %s, %s, %d SMs, %.0f MiB, %s\n"
             "command: %s; commit %s\n"
             "GPEN-BFR-512 (CUDA core, fp16, CUDA graphs; kernel variants: info kernels): %s; "
             "RetinaFace-R50: random; ParseNet: %s\n"
             "synthetic 3:2 JPEGs (q90) decoded/encoded by %s; faces placed on a grid (random "
             "weights detect none)\n"
             "face stages: least-squares slope over 1,2,4,8 faces (batched); memory: from buffer "
             "sizes, model from cudaMemGetInfo",
             date, info.name, info.sm_count, info.mem_total_mib, info.driver, cmd_text, commit,
             base.weights_path ? base.weights_path : "deterministic random weights",
             base.parser_weights_path ? base.parser_weights_path : "random", info.jpeg);
    p.jitter = JITTER_SAMPLES;
    p.n_jitter_samples = njit;
    memcpy(p.jitter_samples, jit, sizeof(double) * (size_t)njit);
    p.gpu_mem_bytes = info.mem_total_mib * 1048576.0;
    p.model_mem_bytes = ctx_mib * 1048576.0 + mr.weights_bytes;
    for (int mi = 0; mi < N_MP; mi++) {
        image_dims(MP_GRID[mi], &w, &h);
        double dw = w, dh = h;
        if ((w > h ? w : h) > 1500) {
            double ss = 1000.0 / (w > h ? w : h);
            dw = w * ss, dh = h * ss;
        }
        p.req_mem_bytes[mi] = mr.image_per_px_bytes * w * h + mr.detector_per_px_bytes * dw * dh;
    }
    p.req_mem_per_face_bytes = mr.gpen_per_face_bytes + mr.parse_per_face_bytes;
    /* cold phases measured here (seconds); pod scheduling and image pulls are not GPU work */
    double weight_load_s = open_gpen_ms / 1e3 * (1.0 + (27.3e6 + 21.3e6) / (double)gpen_params);
    struct {
        const char *name;
        double s;
    } ph[] = {
        {"cuda_init", ctx_ms / 1e3},
        {"weight_load", weight_load_s},
        {"first_inference", first_ms / 1e3},
        {"graph_capture", capture_ms / 1e3},
    };
    p.n_phases = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(p.phase[i].name, sizeof(p.phase[i].name), "%s", ph[i].name);
        p.phase[i].seconds.kind = DIST_CONST;
        p.phase[i].seconds.a = ph[i].s;
        p.phase[i].applies = PHASE_POD | PHASE_SERVERLESS;
    }
    p.first_request_extra_ms = 0;
    p.share_slowdown = 1.0;
    FILE *f = fopen(outp, "w");
    if (!f) {
        gp_error_set(&err, GP_EIO, outp, 0, 0, NULL, "cannot create");
        return cli_die(&err);
    }
    fprintf(
        f,
        "# %s: GPEN pipeline on %s, measured by `gpenlab-gpu profile` (gpu/gpenlab_gpu.c).\n"
        "# Stages: decode/encode = %s; detect = resize + RetinaFace-R50;\n"
        "# align/gpen/parse/paste per face (batched up to 8); blend over the image.\n"
        "# eff(n): n threads of one process, each on its own stream and buffers (info "
        "eff_batched:\n"
        "# n requests in one call, faces batched across them; info eff_procs: n processes).\n"
        "# share_slowdown is not measured (1 = no loss beyond eff(n)); first_request_extra_ms 0\n"
        "# because first_inference and graph_capture are cold phases (warm-up before ready).\n",
        outp, info.name, info.jpeg);
    if (profile_write(&p, f, &err))
        return cli_die(&err);
    fprintf(f, "info gpen_batch_ms");
    for (int b = 1; b <= 8; b *= 2)
        fprintf(f, " %d %.4g", b, gb[b]);
    fprintf(f, "\ninfo parse_batch_ms");
    for (int b = 1; b <= 8; b *= 2)
        fprintf(f, " %d %.4g", b, pb[b]);
    fprintf(f,
            "\ninfo cold_ms context %.1f gpen_file_read %.1f gpen_open %.1f all_nets_open_%d_slots "
            "%.1f "
            "first_request %.1f steady_request %.2f graph_capture %.1f\n",
            ctx_mib > 0 ? ctx_ms : ctx_ms, file_ms, open_gpen_ms, o.n_slots, open_all_ms, first_ms,
            steady_ms, capture_ms);
    fprintf(f, "info kernels %s\n", info.kernels);
    fprintf(f, "info eff_batched");
    for (int i = 0; i < n_eff_batch; i++)
        fprintf(f, " %d %.4f", i + 1, eff_batch[i]);
    fprintf(f, "\ninfo eff_procs");
    for (int i = 0; i < n_eff_proc; i++)
        fprintf(f, " %d %.4f", 1 << i, eff_proc[i]);
    fprintf(f, "\n");
    for (int mi = 0; mi < N_MP; mi++)
        fprintf(f,
                "info jpeg_ms mp %g libjpeg_decode %.3f libjpeg_encode %.3f nvjpeg_decode %.3f "
                "nvjpeg_encode %.3f%s\n",
                MP_GRID[mi], jt[mi].host_decode_ms, jt[mi].host_encode_ms, jt[mi].nvjpeg_decode_ms,
                jt[mi].nvjpeg_encode_ms,
                !jt[mi].nvjpeg     ? " (no nvJPEG)"
                : jt[mi].nvjpeg_hw ? " (hardware decode)"
                                   : "");
    fprintf(f,
            "info mem_mib context %.1f gpen_loaded %.1f weights %.1f gpen_per_face %.1f "
            "parse_per_face %.1f "
            "image_per_mp %.2f detector_per_mp %.1f\n",
            ctx_mib, used_gpen, mr.weights_bytes / 1048576.0, mr.gpen_per_face_bytes / 1048576.0,
            mr.parse_per_face_bytes / 1048576.0, mr.image_per_px_bytes, mr.detector_per_px_bytes);
    for (int mi = 0; mi < N_MP; mi++)
        for (int fi = 0; fi < N_FACES; fi++) {
            fprintf(f, "info request_ms mp %g faces %d", MP_GRID[mi], FACES[fi]);
            double tv[16];
            memcpy(tv, tot[mi][fi], sizeof(double) * (size_t)R);
            fprintf(f, " total %.2f", median_of(tv, R));
            for (int s = 0; s < GPU_N_STAGES; s++) {
                for (int k = 0; k < R; k++)
                    tv[k] = raw[mi][fi][s][k];
                fprintf(f, " %s %.3f", gpu_stage_name(s), median_of(tv, R));
            }
            fprintf(f, "\n");
        }
    fclose(f);
    printf("wrote %s\n", outp);
    /* the file must read back through the simulator's own parser */
    static gpu_profile check_p;
    if (profile_load(outp, &check_p, &err))
        return cli_die(&err);
    printf("profile check: %s parses (%d stages, eff(%d) = %.3f)\n", outp, check_p.n_stages,
           check_p.n_eff, check_p.eff[check_p.n_eff - 1]);
    free(jpg2);
    gpu_close(c);
    return 0;
}

static int cmd_derive(int argc, char **argv)
{
    const char *in = "gpu/profiles/h100", *from = "h100", *outdir = "gpu/profiles",
               *to = "t4,l4,a10,a100";
    const cli_opt opts[] = {
        {"--in", NULL, CLI_STR, &in, 0, 0, NULL}, {"--from", NULL, CLI_STR, &from, 0, 0, NULL},
        {"--to", NULL, CLI_STR, &to, 0, 0, NULL}, {"--outdir", NULL, CLI_STR, &outdir, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = gpu_cli_parse(argc, argv, "profile derive", opts, NULL, NULL, 0);
    if (prc)
        return prc == 1 ? 0 : prc;
    char to_list[128];
    snprintf(to_list, sizeof(to_list), "%s", to);
    static gpu_profile src, dst, src_check;
    gp_error err;
    if (profile_load(in, &src, &err))
        return cli_die(&err);
    const gpu_card_spec *fc = gpu_card_find(from);
    char *save = NULL;
    for (char *k = strtok_r(to_list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        const gpu_card_spec *tc = gpu_card_find(k);
        if (!tc) {
            gp_error_set(&err, GP_EUNKNOWN, NULL, 0, 0, "--to", "unknown card \"%s\"", k);
            return cli_die(&err);
        }
        if (profile_derive(&src, fc, tc, &dst, &err))
            return cli_die(&err);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s-derived", outdir, k);
        FILE *f = fopen(path, "w");
        if (!f) {
            gp_error_set(&err, GP_EIO, path, 0, 0, NULL, "cannot create");
            return cli_die(&err);
        }
        fprintf(f,
                "# %s: DERIVED from %s by `gpenlab-gpu profile derive` (gpu/profile_derive.c):\n"
                "# not measured on this card; stage times scaled by datasheet ratios.\n",
                path, in);
        int rc = profile_write(&dst, f, &err);
        fclose(f);
        if (rc || profile_load(path, &src_check, &err))
            return cli_die(&err);
        printf("wrote %s (%s, demand 2 MP 1 face %.1f ms)\n", path, dst.card,
               profile_demand_us(&dst, 2, 1) / 1e3);
    }
    return 0;
}

/* profile, or profile derive */
static int cmd_profile_or_derive(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "derive") == 0)
        return cmd_derive(argc - 1, argv + 1);
    return cmd_profile(argc, argv);
}

int main(int argc, char **argv)
{
    static const cli_command commands[] = {{"selftest", cmd_selftest},
                                           {"bench", cmd_bench},
                                           {"run", cmd_run},
                                           {"convcheck", cmd_convcheck},
                                           {"profile", cmd_profile_or_derive}};
    return cli_dispatch("gpenlab-gpu", argc, argv, commands, sizeof(commands) / sizeof(commands[0]),
                        gpu_cli_usage(NULL), stdout, stderr);
}
