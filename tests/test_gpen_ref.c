/* test_gpen_ref.c: the CPU reference of GPEN (gpu/ref/): generator, layout and parameter
 * count, each operation, and the whole forward against the goldens that
 * scripts/gpen_torch.py wrote (tests/data/gpen/small.safetensors, a reduced config). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/ref/gpen_load.h"
#include "gpu/ref/gpen_model.h"
#include "gpu/ref/gpen_rand.h"
#include "gpu/ref/gpen_ref.h"
#include "gpu/ref/safetensors.h"

#define GOLDEN "tests/data/gpen/small.safetensors"

/* The reduced configuration of the goldens (scripts/gpen_torch.py SMALL). */
static gpen_config small_config(void)
{
    gpen_config c = {64, 32, 2, 1, 1.0 / 16, 0.01};
    return c;
}

static void test_rand_known_values(void **state)
{
    (void)state;
    /* splitmix64's first output from state 0 */
    assert_true(gpen_rand_mix64(0x9E3779B97F4A7C15ull) == 0xE220A8397B1DCDAFull);
    uint64_t key = gpen_rand_key(GPEN_DEFAULT_SEED, "stats");
    double s = 0, s2 = 0, u = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = gpen_rand_normal(key, (uint64_t)i);
        s += z;
        s2 += z * z;
        u += gpen_rand_uniform(key, (uint64_t)i);
    }
    if (fabs(s / n) > 0.01 || fabs(s2 / n - 1) > 0.02 || fabs(u / n - 0.5) > 0.01)
        fail_msg("normal mean %g var %g, uniform mean %g", s / n, s2 / n, u / n);
    /* different names and seeds give different streams */
    assert_true(gpen_rand_key(1, "a") != gpen_rand_key(2, "a"));
    assert_true(gpen_rand_key(1, "a") != gpen_rand_key(1, "b"));
}

static void test_param_count(void **state)
{
    (void)state;
    static gpen_arch a;
    gpen_config c;
    gpen_config_default(&c);
    assert_int_equal(gpen_arch_build(&c, &a, NULL), 0);
    size_t e, m, g;
    gpen_arch_param_split(&a, &e, &m, &g);
    const struct {
        const char *name;
        size_t got, want;
    } rows[] = {{"total", a.n_params, 71005223},
                {"encoder", e, 15183488},
                {"mapping", m, 2101248},
                {"generator", g, 53720487}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].got != rows[i].want)
            fail_msg("%s: got %zu want %zu", rows[i].name, rows[i].got, rows[i].want);
    double mac, blur;
    gpen_arch_macs(&a, &mac, &blur);
    if (fabs(mac / 1e9 - 137.05) > 0.02)
        fail_msg("GMAC: got %.3f want 137.05", mac / 1e9);
    /* channel table of docs/gpen.md */
    const int res[] = {4, 8, 16, 32, 64, 128, 256, 512},
              ch[] = {512, 512, 512, 512, 512, 256, 128, 64};
    for (int i = 0; i < 8; i++)
        if (gpen_channels(&c, res[i]) != ch[i])
            fail_msg("channels at %d: got %d want %d", res[i], gpen_channels(&c, res[i]), ch[i]);
    assert_int_equal(a.n_conv, 15);
    assert_int_equal(a.n_rgb, 8);
    assert_int_equal(a.conv[1].cin, 1024);
    assert_int_equal(a.conv[14].cin, 128);
    assert_int_equal(a.conv[14].e_index, 0);
}

static void test_bad_config(void **state)
{
    (void)state;
    static gpen_arch a;
    const struct {
        const char *name;
        gpen_config c;
        int want;
    } rows[] = {
        {"size not a power of 2", {48, 32, 2, 1, 1, 0.01}, GP_ERANGE},
        {"size too small", {4, 32, 2, 1, 1, 0.01}, GP_ERANGE},
        {"size too large", {2048, 32, 2, 1, 1, 0.01}, GP_ERANGE},
        {"no channels", {64, 32, 2, 1, 1.0 / 1024, 0.01}, GP_ERANGE},
        {"n_mlp too many", {64, 32, 17, 1, 1, 0.01}, GP_ERANGE},
        {"ok small", {8, 4, 0, 1, 1.0 / 64, 0.01}, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_error err;
        gp_error_clear(&err);
        int rc = gpen_arch_build(&rows[i].c, &a, &err);
        if (rc != rows[i].want)
            fail_msg("%s: got %d want %d (%s)", rows[i].name, rc, rows[i].want, err.msg);
    }
}

static void test_upfirdn_sizes(void **state)
{
    (void)state;
    const struct {
        const char *name;
        int n, up, down, p0, p1, want;
    } rows[] = {
        {"encoder blur", 64, 1, 1, 2, 2, 65},
        {"up-conv blur", 33, 1, 1, 1, 1, 32},
        {"skip upsample", 16, 2, 1, 2, 1, 32},
        {"downsample", 16, 1, 2, 1, 1, 8},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = gpen_upfirdn_size(rows[i].n, rows[i].up, rows[i].down, rows[i].p0, rows[i].p1);
        if (got != rows[i].want)
            fail_msg("%s: got %d want %d", rows[i].name, got, rows[i].want);
    }
    /* a constant plane stays constant inside: the upsampling kernel 4K keeps the DC gain */
    double k[16];
    gpen_blur_kernel(4.0, k);
    double x[16], y[64];
    for (int i = 0; i < 16; i++)
        x[i] = 1.0;
    gpen_op_upfirdn2d_f64(x, 1, 4, 4, k, 2, 1, 2, 1, y);
    for (int oy = 2; oy < 6; oy++)
        for (int ox = 2; ox < 6; ox++)
            if (fabs(y[oy * 8 + ox] - 1.0) > 1e-12)
                fail_msg("upsampled constant at (%d,%d): got %g want 1", oy, ox, y[oy * 8 + ox]);
    /* blur of a single impulse reproduces the kernel */
    double imp[25] = {0}, out[36];
    imp[12] = 1;
    gpen_blur_kernel(1.0, k);
    gpen_op_upfirdn2d_f64(imp, 1, 5, 5, k, 1, 1, 2, 2, out);
    double sum = 0;
    for (int i = 0; i < 36; i++)
        sum += out[i];
    if (fabs(sum - 1) > 1e-12 || fabs(out[2 * 6 + 2] - 9.0 / 64) > 1e-12)
        fail_msg("blur impulse: sum %g, centre %g", sum, out[2 * 6 + 2]);
}

static void test_flrelu_and_pixel_norm(void **state)
{
    (void)state;
    const struct {
        const char *name;
        double x, b, want;
    } rows[] = {
        {"positive", 1.0, 0.5, 1.5 * M_SQRT2},
        {"negative", -1.0, 0.0, -0.2 * M_SQRT2},
        {"bias flips sign", -0.5, 1.0, 0.5 * M_SQRT2},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double x = rows[i].x;
        float b = (float)rows[i].b;
        gpen_op_flrelu_f64(&x, 1, 1, 1, &b, 1.0);
        if (fabs(x - rows[i].want) > 1e-7)
            fail_msg("%s: got %g want %g", rows[i].name, x, rows[i].want);
    }
    double v[4] = {1, -1, 1, -1};
    gpen_op_pixel_norm_f64(v, 1, 4);
    if (fabs(v[0] - 1 / sqrt(1 + 1e-8)) > 1e-12)
        fail_msg("pixel norm: got %g", v[0]);
}

/* The transposed conv equals a plain conv of the zero-inserted, padded input with the
 * flipped kernel: an independent definition checked on random data. */
static void test_conv_transpose_definition(void **state)
{
    (void)state;
    const int B = 2, ci = 3, co = 2, h = 5, w = 4, k = 3;
    double x[2 * 3 * 5 * 4], wt[2 * 3 * 9], wf[2 * 3 * 9];
    uint64_t key = gpen_rand_key(7, "convt");
    for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
        x[i] = gpen_rand_normal(key, i);
    for (size_t i = 0; i < sizeof(wt) / sizeof(wt[0]); i++)
        wt[i] = gpen_rand_normal(key, 1000 + i);
    for (int o = 0; o < co; o++)
        for (int i = 0; i < ci; i++)
            for (int q = 0; q < 9; q++)
                wf[(o * ci + i) * 9 + q] = wt[(o * ci + i) * 9 + (8 - q)];
    int oh = 2 * h + 1, ow = 2 * w + 1, zh = 2 * h - 1 + 4, zw = 2 * w - 1 + 4;
    double *z = calloc((size_t)B * (size_t)ci * (size_t)zh * (size_t)zw, sizeof(double));
    double *y1 = malloc((size_t)B * (size_t)co * (size_t)oh * (size_t)ow * sizeof(double));
    double *y2 = malloc((size_t)B * (size_t)co * (size_t)oh * (size_t)ow * sizeof(double));
    assert_non_null(z);
    assert_non_null(y1);
    assert_non_null(y2);
    for (int p = 0; p < B * ci; p++)
        for (int iy = 0; iy < h; iy++)
            for (int ix = 0; ix < w; ix++)
                z[((size_t)p * (size_t)zh + 2 + 2 * (size_t)iy) * (size_t)zw + 2 + 2 * (size_t)ix] =
                    x[(p * h + iy) * w + ix];
    assert_int_equal(gpen_op_conv_t2d_f64(x, B, ci, h, w, wt, 0, co, k, y1), 0);
    assert_int_equal(gpen_op_conv2d_f64(z, B, ci, zh, zw, wf, 0, co, k, 1, 0, y2), 0);
    for (size_t i = 0; i < (size_t)B * (size_t)co * (size_t)oh * (size_t)ow; i++)
        if (fabs(y1[i] - y2[i]) > 1e-12)
            fail_msg("element %zu: got %g want %g", i, y1[i], y2[i]);
    free(z);
    free(y1);
    free(y2);
}

/* Exact (per-image weights) and batch-friendly modulated convs agree. */
static void test_modconv_forms_agree(void **state)
{
    (void)state;
    const struct {
        const char *name;
        int cin, cout, k, h, up, demod;
        double tol32;
    } rows[] = {
        {"3x3 demod", 8, 6, 3, 7, 0, 1, 1e-5},
        {"3x3 up demod", 8, 4, 3, 5, 1, 1, 1e-5},
        {"1x1 no demod (ToRGB)", 12, 3, 1, 6, 0, 0, 1e-5},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        const int B = 2, ci = rows[r].cin, co = rows[r].cout, k = rows[r].k, h = rows[r].h;
        int oh = rows[r].up ? 2 * h : h;
        size_t nx = (size_t)B * (size_t)ci * (size_t)h * (size_t)h,
               ny = (size_t)B * (size_t)co * (size_t)oh * (size_t)oh;
        size_t nw = (size_t)co * (size_t)ci * (size_t)k * (size_t)k;
        float *w = malloc(nw * sizeof(float)), *xf = malloc(nx * sizeof(float));
        double *xd = malloc(nx * sizeof(double)), sd[64];
        float sf[64];
        float *y32[2];
        double *y64[2];
        uint64_t key = gpen_rand_key(11, rows[r].name);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)gpen_rand_normal(key, i);
        for (size_t i = 0; i < nx; i++)
            xd[i] = xf[i] = (float)gpen_rand_normal(key, 100000 + i);
        for (int i = 0; i < B * ci; i++)
            sd[i] = sf[i] = (float)(1 + 0.5 * gpen_rand_normal(key, 200000 + (uint64_t)i));
        for (int mode = 0; mode < 2; mode++) {
            y32[mode] = malloc(ny * sizeof(float));
            y64[mode] = malloc(ny * sizeof(double));
            assert_int_equal(gpen_op_modconv_f32(xf, B, ci, h, h, w, co, k, sf, rows[r].demod,
                                                 rows[r].up, mode, y32[mode]),
                             0);
            assert_int_equal(gpen_op_modconv_f64(xd, B, ci, h, h, w, co, k, sd, rows[r].demod,
                                                 rows[r].up, mode, y64[mode]),
                             0);
        }
        double num = 0, den = 0, n32 = 0;
        for (size_t i = 0; i < ny; i++) {
            num += (y64[0][i] - y64[1][i]) * (y64[0][i] - y64[1][i]);
            n32 += (y32[1][i] - y64[0][i]) * (y32[1][i] - y64[0][i]);
            den += y64[0][i] * y64[0][i];
        }
        if (sqrt(num / den) > 1e-12 || sqrt(n32 / den) > rows[r].tol32)
            fail_msg("%s: fp64 forms differ by %g, fp32 batched vs fp64 exact %g", rows[r].name,
                     sqrt(num / den), sqrt(n32 / den));
        for (int mode = 0; mode < 2; mode++) {
            free(y32[mode]);
            free(y64[mode]);
        }
        free(w);
        free(xf);
        free(xd);
    }
}

typedef struct golden_taps {
    const safetensors_file *f;
    int checked;
    char failed[256];
} golden_taps;

static void check_tap(void *ctx, const char *name, int batch, int c, int h, int w,
                      const float *data)
{
    golden_taps *g = ctx;
    char key[64];
    snprintf(key, sizeof(key), "tap.%s", name);
    const safetensors_tensor *t = safetensors_find(g->f, key);
    if (!t)
        return;
    size_t n = (size_t)batch * (size_t)c * (size_t)h * (size_t)w;
    float *want = malloc(n * sizeof(float));
    if (!want || safetensors_read_f32(g->f, t, want, n, NULL)) {
        snprintf(g->failed, sizeof(g->failed), "%s: cannot read the golden", name);
    } else {
        double rel = gpen_rel_l2(data, want, n);
        if (!(rel < 1e-5) && !g->failed[0])
            snprintf(g->failed, sizeof(g->failed), "%s: rel L2 %g", name, rel);
        g->checked++;
    }
    free(want);
}

static void test_forward_against_goldens(void **state)
{
    (void)state;
    safetensors_file f;
    gp_error err;
    if (safetensors_open(GOLDEN, &f, &err))
        fail_msg("%s: %s", GOLDEN, err.msg);
    gpen_config c = small_config();
    assert_string_equal(safetensors_meta(&f, "size"), "64");
    int batch = atoi(safetensors_meta(&f, "batch"));
    assert_int_equal(batch, 2);
    gpen_model m;
    assert_int_equal(gpen_model_init_random(&m, &c, GPEN_DEFAULT_SEED, &err), 0);
    /* weights: bit-identical to the Python generator */
    for (int i = 0; i < f.n_tensors; i++) {
        if (strncmp(f.tensor[i].name, "weight.", 7) != 0)
            continue;
        int idx = gpen_arch_find(&m.arch, f.tensor[i].name + 7);
        if (idx < 0)
            fail_msg("%s: not in the layout", f.tensor[i].name);
        size_t n = m.arch.tensor[idx].count;
        float *want = malloc(n * sizeof(float));
        assert_non_null(want);
        assert_int_equal(safetensors_read_f32(&f, &f.tensor[i], want, n, &err), 0);
        if (memcmp(want, gpen_model_tensor(&m, idx), n * sizeof(float)) != 0)
            fail_msg("%s: weights differ from the Python generator", f.tensor[i].name);
        free(want);
    }
    size_t n = (size_t)batch * 3 * 64 * 64;
    float *in = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    float *out = malloc(n * sizeof(float)), *in_c = malloc(n * sizeof(float));
    assert_non_null(in);
    assert_non_null(want);
    assert_non_null(out);
    assert_non_null(in_c);
    assert_int_equal(safetensors_read_f32(&f, safetensors_find(&f, "input"), in, n, &err), 0);
    assert_int_equal(safetensors_read_f32(&f, safetensors_find(&f, "out"), want, n, &err), 0);
    gpen_input_random(&c, batch, GPEN_DEFAULT_SEED, in_c);
    if (memcmp(in, in_c, n * sizeof(float)) != 0)
        fail_msg("input: differs from the Python generator");
    const struct {
        const char *name;
        int prec, mode;
        double tol;
    } rows[] = {
        {"f64 exact", GPEN_REF_F64, GPEN_MODCONV_EXACT, 1e-6},
        {"f64 batched", GPEN_REF_F64, GPEN_MODCONV_BATCHED, 1e-6},
        {"f32 exact", GPEN_REF_F32, GPEN_MODCONV_EXACT, 1e-5},
        {"f32 batched", GPEN_REF_F32, GPEN_MODCONV_BATCHED, 1e-5},
        {"f32 acc64 exact", GPEN_REF_F32_ACC64, GPEN_MODCONV_EXACT, 1e-5},
    };
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        golden_taps g = {&f, 0, ""};
        gpen_ref_opts o = {rows[r].prec, rows[r].mode, check_tap, &g};
        for (size_t q = 0; q < n; q++)
            out[q] = NAN; /* every element must be written */
        assert_int_equal(gpen_ref_forward(&m, in, batch, &o, out, &err), 0);
        double rel = gpen_rel_l2(out, want, n);
        if (!(rel < rows[r].tol))
            fail_msg("%s: output rel L2 %g (limit %g)", rows[r].name, rel, rows[r].tol);
        if (g.failed[0])
            fail_msg("%s: tap %s", rows[r].name, g.failed);
        if (g.checked != 7)
            fail_msg("%s: %d taps checked, want 7", rows[r].name, g.checked);
    }
    free(in);
    free(want);
    free(out);
    free(in_c);
    gpen_model_free(&m);
    safetensors_close(&f);
}

static void test_model_save_load(void **state)
{
    (void)state;
    char path[] = "/tmp/gpenlab-test-weights-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gpen_config c = {16, 8, 1, 1, 1.0 / 64, 0.01};
    gpen_model a, b;
    gp_error err;
    assert_int_equal(gpen_model_init_random(&a, &c, 5, &err), 0);
    assert_int_equal(gpen_model_save(&a, path, &err), 0);
    assert_int_equal(gpen_model_load(&b, &c, path, &err), 0);
    assert_memory_equal(a.data, b.data, a.arch.n_params * sizeof(float));
    gpen_model_free(&b);
    /* a different configuration must not load silently */
    gpen_config c2 = c;
    c2.narrow = 1.0 / 32;
    int rc = gpen_model_load(&b, &c2, path, &err);
    if (rc != GP_ERANGE || strcmp(err.field, "enc0.w") != 0)
        fail_msg("narrower config: got %d field '%s' want %d 'enc0.w'", rc, err.field, GP_ERANGE);
    gpen_config c3 = c;
    c3.n_mlp = 2; /* map2.* is missing from the file */
    rc = gpen_model_load(&b, &c3, path, &err);
    if (rc != GP_EMISSING || strcmp(err.field, "map2.w") != 0)
        fail_msg("extra mapping layer: got %d field '%s' want %d 'map2.w'", rc, err.field,
                 GP_EMISSING);
    gpen_model_free(&a);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rand_known_values),
        cmocka_unit_test(test_param_count),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_upfirdn_sizes),
        cmocka_unit_test(test_flrelu_and_pixel_norm),
        cmocka_unit_test(test_conv_transpose_definition),
        cmocka_unit_test(test_modconv_forms_agree),
        cmocka_unit_test(test_forward_against_goldens),
        cmocka_unit_test(test_model_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
