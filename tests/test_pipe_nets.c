/* test_pipe_nets.c: RetinaFace-R50 and ParseNet of gpu/ref/pipe_nets: layer lists against
 * the published parameter counts, the CPU forward against PyTorch goldens of the official
 * module structure (tests/data/pipe/, written by scripts/pipe_torch.py golden: narrow
 * copies, random weights and BatchNorm statistics, BN folded by
 * scripts/convert_pipeline_checkpoint.py), and the refusal of bad weight files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/ref/gpen_ref.h"
#include "gpu/ref/pipe_nets.h"
#include "gpu/ref/safetensors.h"

#define DATA "tests/data/pipe/"

static void load_ok(pipe_net *net, pipe_net_kind kind, int wd, const char *path)
{
    gp_error e;
    gp_error_clear(&e);
    int rc = pipe_net_open(kind, wd, path, 7, net, &e);
    if (rc) {
        char line[600];
        gp_error_format(&e, line, sizeof(line));
        fail_msg("load %s: %s", path ? path : "(random)", line);
    }
}

static float *read_all(const safetensors_file *f, const char *name, size_t *n)
{
    const safetensors_tensor *t = safetensors_find(f, name);
    if (!t)
        fail_msg("golden tensor %s missing", name);
    *n = safetensors_count(t);
    float *d = malloc(*n * sizeof(float));
    assert_non_null(d);
    gp_error e;
    assert_int_equal(safetensors_read_f32(f, t, d, *n, &e), 0);
    return d;
}

/* Published sizes: RetinaFace-R50 has 27,293,600 parameters (conv + BN + heads), ParseNet
 * 21,303,254; folded into convs with biases, 76 convs / 27,264,608 and 46 / 21,294,934
 * (counted from scripts/pipe_torch.py's modules through the converter). */
static void test_published_sizes(void **state)
{
    (void)state;
    gp_error e;
    pipe_net rf, pn;
    assert_int_equal(pipe_net_build(PIPE_RETINAFACE, 1, &rf, &e), 0);
    assert_int_equal(rf.n_conv, 76);
    assert_int_equal(rf.n_params, 27264608);
    assert_int_equal(pipe_net_build(PIPE_PARSENET, 1, &pn, &e), 0);
    assert_int_equal(pn.n_conv, 46);
    assert_int_equal(pn.n_params, 21294934);
    const pipe_conv *c = pipe_net_find(&rf, "body.layer4.0.downsample");
    assert_non_null(c);
    assert_int_equal(c->cin, 1024);
    assert_int_equal(c->cout, 2048);
    assert_int_equal(c->stride, 2);
    c = pipe_net_find(&pn, "decoder.3.shortcut");
    assert_non_null(c);
    assert_true(c->up && c->reflect);
    assert_null(pipe_net_find(&pn, "body.0.shortcut")); /* identity shortcut */
    /* level sizes of a 640x480 detector input: strides 8, 16, 32 */
    assert_int_equal(pipe_rf_level_size(640, 0), 80);
    assert_int_equal(pipe_rf_level_size(640, 2), 20);
    assert_int_equal(pipe_rf_level_size(481, 1), 31);
    /* the network's maps are the prior grid retina_post decodes, at every size */
    for (int n = 32; n <= 1600; n++)
        for (int l = 0; l < 3; l++)
            if (pipe_rf_level_size(n, l) != (n + (8 << l) - 1) / (8 << l))
                fail_msg("size %d level %d: map %d, prior grid %d", n, l, pipe_rf_level_size(n, l),
                         (n + (8 << l) - 1) / (8 << l));
    pipe_net_free(&rf);
    pipe_net_free(&pn);
    assert_int_equal(pipe_net_build(PIPE_PARSENET, 3, &pn, &e), GP_ERANGE);
    assert_int_equal(pn.n_conv, 0); /* nothing left to free */
}

static void check_golden(pipe_net_kind kind)
{
    char wpath[256], iopath[256];
    snprintf(wpath, sizeof(wpath), DATA "%s_w16.safetensors", pipe_net_kind_name(kind));
    snprintf(iopath, sizeof(iopath), DATA "%s_w16_io.safetensors", pipe_net_kind_name(kind));
    pipe_net net;
    load_ok(&net, kind, 16, wpath);
    safetensors_file io;
    gp_error e;
    assert_int_equal(safetensors_open(iopath, &io, &e), 0);
    const safetensors_tensor *ti = safetensors_find(&io, "input");
    assert_non_null(ti);
    int B = (int)ti->shape[0], H = (int)ti->shape[2], W = (int)ti->shape[3];
    size_t n;
    float *in = read_all(&io, "input", &n);
    if (kind == PIPE_RETINAFACE) {
        float *want[3], *got[3];
        size_t nl[3];
        for (int l = 0; l < 3; l++) {
            char nm[16];
            snprintf(nm, sizeof(nm), "out%d", l);
            want[l] = read_all(&io, nm, &nl[l]);
            assert_int_equal(nl[l], (size_t)B * PIPE_RF_HEAD_CH * (size_t)pipe_rf_level_size(H, l) *
                                        (size_t)pipe_rf_level_size(W, l));
            got[l] = calloc(nl[l], sizeof(float));
            assert_non_null(got[l]);
        }
        assert_int_equal(pipe_retinaface_forward(&net, in, B, H, W, got, &e), 0);
        for (int l = 0; l < 3; l++) {
            double r = gpen_rel_l2(got[l], want[l], nl[l]);
            print_message("retinaface level %d: rel L2 %.2e vs PyTorch float64\n", l, r);
            assert_true(r < 1e-5);
            free(want[l]);
            free(got[l]);
        }
    } else {
        float *want = read_all(&io, "out", &n);
        assert_int_equal(n, (size_t)B * PIPE_PN_OUT_CH * (size_t)H * (size_t)W);
        float *got = calloc(n, sizeof(float));
        assert_non_null(got);
        assert_int_equal(pipe_parsenet_forward(&net, in, B, H, got, &e), 0);
        double r = gpen_rel_l2(got, want, n);
        print_message("parsenet: rel L2 %.2e vs PyTorch float64\n", r);
        assert_true(r < 1e-5);
        /* the image half and the parsing half are both checked, not only their sum */
        size_t hw = (size_t)H * (size_t)W;
        double r_mask = gpen_rel_l2(got + 3 * hw, want + 3 * hw, 19 * hw);
        assert_true(r_mask < 1e-5);
        free(want);
        free(got);
    }
    free(in);
    safetensors_close(&io);
    pipe_net_free(&net);
}

static void test_retinaface_golden(void **state)
{
    (void)state;
    check_golden(PIPE_RETINAFACE);
}

static void test_parsenet_golden(void **state)
{
    (void)state;
    check_golden(PIPE_PARSENET);
}

/* The forward is sensitive to every layer: perturbing one weight of the last SSH conv of
 * level 2 changes that level's output and no other. */
static void test_forward_sees_every_layer(void **state)
{
    (void)state;
    pipe_net net;
    load_ok(&net, PIPE_RETINAFACE, 16, NULL);
    const int B = 1, H = 64, W = 64;
    float in[3 * 64 * 64];
    for (int i = 0; i < 3 * H * W; i++)
        in[i] = (float)sin(0.37 * i);
    float *a[3], *b[3];
    size_t n[3];
    for (int l = 0; l < 3; l++) {
        n[l] = (size_t)B * PIPE_RF_HEAD_CH * (size_t)pipe_rf_level_size(H, l) *
               (size_t)pipe_rf_level_size(W, l);
        a[l] = calloc(n[l], sizeof(float));
        b[l] = calloc(n[l], sizeof(float));
        assert_true(a[l] && b[l]);
    }
    gp_error e;
    assert_int_equal(pipe_retinaface_forward(&net, in, B, H, W, a, &e), 0);
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < n[l]; i++)
            assert_true(isfinite(a[l][i]));
    pipe_conv *c = (pipe_conv *)pipe_net_find(&net, "ssh3.conv7x7_3");
    assert_non_null(c);
    c->w[0] += 1.0f;
    assert_int_equal(pipe_retinaface_forward(&net, in, B, H, W, b, &e), 0);
    assert_true(gpen_rel_l2(b[0], a[0], n[0]) == 0.0);
    assert_true(gpen_rel_l2(b[1], a[1], n[1]) == 0.0);
    assert_true(gpen_rel_l2(b[2], a[2], n[2]) > 0.0);
    for (int l = 0; l < 3; l++) {
        free(a[l]);
        free(b[l]);
    }
    pipe_net_free(&net);
}

static void test_random_weights_deterministic(void **state)
{
    (void)state;
    pipe_net a, b, c;
    load_ok(&a, PIPE_PARSENET, 16, NULL);
    load_ok(&b, PIPE_PARSENET, 16, NULL);
    gp_error e;
    assert_int_equal(pipe_net_build(PIPE_PARSENET, 16, &c, &e), 0);
    assert_int_equal(pipe_net_load(&c, NULL, 8, &e), 0);
    const pipe_conv *ca = pipe_net_find(&a, "body.3.conv2"),
                    *cb = pipe_net_find(&b, "body.3.conv2"),
                    *cc = pipe_net_find(&c, "body.3.conv2");
    size_t nw = (size_t)ca->cout * (size_t)ca->cin * 9;
    assert_memory_equal(ca->w, cb->w, nw * sizeof(float));
    assert_true(memcmp(ca->w, cc->w, nw * sizeof(float)) != 0);
    pipe_net_free(&a);
    pipe_net_free(&b);
    pipe_net_free(&c);
}

/* The random weights are for timing on the GPU in fp16: every output must stay finite and
 * far below fp16's 65504 (unscaled residual branches gave ParseNet outputs of 4e5). */
static void test_random_weights_fp16_range(void **state)
{
    (void)state;
    pipe_net pn, rf;
    load_ok(&pn, PIPE_PARSENET, 4, NULL);
    load_ok(&rf, PIPE_RETINAFACE, 4, NULL);
    enum { S = 32, H = 64, W = 64 };
    static float in[3 * H * W], out[PIPE_PN_OUT_CH * S * S];
    for (int i = 0; i < 3 * H * W; i++)
        in[i] = (float)sin(0.11 * i);
    gp_error e;
    assert_int_equal(pipe_parsenet_forward(&pn, in, 1, S, out, &e), 0);
    double mx = 0;
    for (int i = 0; i < PIPE_PN_OUT_CH * S * S; i++)
        mx = fmax(mx, fabs(out[i]));
    float *heads[3];
    for (int l = 0; l < 3; l++) {
        heads[l] = calloc((size_t)PIPE_RF_HEAD_CH * (size_t)pipe_rf_level_size(H, l) *
                              (size_t)pipe_rf_level_size(W, l),
                          sizeof(float));
        assert_non_null(heads[l]);
    }
    assert_int_equal(pipe_retinaface_forward(&rf, in, 1, H, W, heads, &e), 0);
    double mr = 0;
    for (int l = 0; l < 3; l++) {
        for (int i = 0; i < PIPE_RF_HEAD_CH * pipe_rf_level_size(H, l) * pipe_rf_level_size(W, l);
             i++)
            mr = fmax(mr, fabs(heads[l][i]));
        free(heads[l]);
    }
    print_message("random weights: max |ParseNet out| %.3g, max |RetinaFace head| %.3g\n", mx, mr);
    assert_true(isfinite(mx) && mx < 2000 && mx > 1e-3);
    assert_true(isfinite(mr) && mr < 2000 && mr > 1e-3);
    pipe_net_free(&pn);
    pipe_net_free(&rf);
}

/* Writes the weights of `net` minus tensor `drop` (NULL: none), with one `extra` tensor
 * (NULL: none) and a given metadata net name, to path. */
static void write_variant(const pipe_net *net, const char *path, const char *drop,
                          const char *extra, const char *meta_net, int bad_shape)
{
    safetensors_item *it = calloc((size_t)2 * (size_t)net->n_conv + 1, sizeof(*it));
    char(*names)[64] = calloc((size_t)2 * (size_t)net->n_conv + 1, sizeof(*names));
    assert_true(it && names);
    int n = 0;
    static const float one = 1.f;
    for (int i = 0; i < net->n_conv; i++) {
        const pipe_conv *c = &net->conv[i];
        for (int j = 0; j < 2; j++) {
            snprintf(names[n], sizeof(names[n]), "%s.%s", c->name, j ? "bias" : "weight");
            if (drop && strcmp(drop, names[n]) == 0)
                continue;
            it[n].name = names[n];
            if (j) {
                it[n].ndim = 1;
                it[n].shape[0] = c->cout;
                it[n].data = c->b;
            } else {
                it[n].ndim = 4;
                it[n].shape[0] = c->cout;
                it[n].shape[1] = c->cin;
                it[n].shape[2] = it[n].shape[3] = c->k;
                it[n].data = c->w;
                if (bad_shape && i == 1) { /* same element count, other shape */
                    it[n].shape[0] = c->cin;
                    it[n].shape[1] = c->cout;
                }
            }
            n++;
        }
    }
    if (extra) {
        snprintf(names[n], sizeof(names[n]), "%s", extra);
        it[n].name = names[n];
        it[n].ndim = 1;
        it[n].shape[0] = 1;
        it[n].data = &one;
        n++;
    }
    const char *meta[] = {"format", PIPE_FORMAT, "net", meta_net, "width_div", "16"};
    gp_error e;
    assert_int_equal(safetensors_write_f32(path, n, it, 3, meta, &e), 0);
    free(it);
    free(names);
}

static void expect_refused(pipe_net_kind kind, const char *path, int code, const char *needle)
{
    pipe_net net;
    gp_error e;
    gp_error_clear(&e);
    int rc = pipe_net_open(kind, 16, path, 1, &net, &e);
    char line[600];
    gp_error_format(&e, line, sizeof(line));
    if (rc != code || !strstr(line, needle) || !strstr(line, path))
        fail_msg("%s: rc %d (want %d), message \"%s\" (want \"%s\" and the path)", path, rc, code,
                 line, needle);
    assert_int_equal(net.n_conv, 0); /* a failed open leaves nothing to free */
}

static void test_bad_files(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-pipe-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char p[5][300];
    for (int i = 0; i < 5; i++)
        snprintf(p[i], sizeof(p[i]), "%s/v%d.safetensors", tmpl, i);
    pipe_net net;
    load_ok(&net, PIPE_PARSENET, 16, NULL);
    write_variant(&net, p[0], "body.2.conv1.bias", NULL, "parsenet", 0);
    write_variant(&net, p[1], NULL, "body.2.conv1.running_var", "parsenet", 0);
    write_variant(&net, p[2], NULL, NULL, "retinaface", 0);
    write_variant(&net, p[3], NULL, NULL, "parsenet", 1);
    write_variant(&net, p[4], NULL, NULL, "parsenet", 0);
    expect_refused(PIPE_PARSENET, p[0], GP_EMISSING, "body.2.conv1.bias");
    expect_refused(PIPE_PARSENET, p[1], GP_EUNKNOWN, "body.2.conv1.running_var");
    expect_refused(PIPE_PARSENET, p[2], GP_EPARSE, "retinaface");
    expect_refused(PIPE_PARSENET, p[3], GP_ERANGE, "shape");
    expect_refused(PIPE_RETINAFACE, p[4], GP_EPARSE, "parsenet");
    expect_refused(PIPE_PARSENET, "/nonexistent/pipe.safetensors", GP_EIO, "pipe.safetensors");
    /* the intact file loads and reproduces the weights */
    pipe_net back;
    load_ok(&back, PIPE_PARSENET, 16, p[4]);
    const pipe_conv *a = pipe_net_find(&net, "out"), *b = pipe_net_find(&back, "out");
    assert_memory_equal(a->w, b->w, (size_t)a->cout * (size_t)a->cin * 9 * sizeof(float));
    pipe_net_free(&back);
    pipe_net_free(&net);
    for (int i = 0; i < 5; i++)
        unlink(p[i]);
    rmdir(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_sizes),
        cmocka_unit_test(test_retinaface_golden),
        cmocka_unit_test(test_parsenet_golden),
        cmocka_unit_test(test_forward_sees_every_layer),
        cmocka_unit_test(test_random_weights_deterministic),
        cmocka_unit_test(test_random_weights_fp16_range),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
