/* test_retina_post.c: RetinaFace decoding and NMS (gpu/ref/retina_post.h) on head maps
 * built by hand: prior positions and sizes per level and anchor, box and landmark decoding
 * with the variances, the strict confidence threshold (NaN dropped), top_k before and
 * keep_top_k after NMS, the +1-pixel IoU, ties by prior order, and the refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/ref/retina_post.h"

enum { IMG_H = 480, IMG_W = 640 };

typedef struct maps {
    float *head[RETINA_LEVELS];
    int h[RETINA_LEVELS], w[RETINA_LEVELS];
} maps;

/* Every anchor background (score ~0.0067), offsets 0. */
static void maps_init(maps *m)
{
    for (int l = 0; l < RETINA_LEVELS; l++) {
        int step = 8 << l;
        m->h[l] = (IMG_H + step - 1) / step;
        m->w[l] = (IMG_W + step - 1) / step;
        size_t n = (size_t)m->h[l] * (size_t)m->w[l] * RETINA_HEAD_CH;
        m->head[l] = calloc(n, sizeof(float));
        assert_non_null(m->head[l]);
        for (size_t p = 0; p < n; p += RETINA_HEAD_CH)
            m->head[l][p + 1] = m->head[l][p + 3] = -5.f;
    }
}

static void maps_free(maps *m)
{
    for (int l = 0; l < RETINA_LEVELS; l++)
        free(m->head[l]);
}

static float *at(maps *m, int l, int y, int x)
{
    return m->head[l] + ((size_t)y * (size_t)m->w[l] + (size_t)x) * RETINA_HEAD_CH;
}

/* Anchor a of (l, y, x) scored 1 / (1 + exp(-logit)). */
static void set_score(maps *m, int l, int y, int x, int a, float logit)
{
    float *p = at(m, l, y, x);
    p[2 * a] = 0.f;
    p[2 * a + 1] = logit;
}

static int run(maps *m, const retina_post_opts *o, retina_det *out, int cap)
{
    const float *h[RETINA_LEVELS] = {m->head[0], m->head[1], m->head[2]};
    int n = -1;
    gp_error err;
    if (retina_postprocess(h, m->h, m->w, IMG_H, IMG_W, o, out, cap, &n, &err) < 0)
        fail_msg("retina_postprocess: %s", err.msg);
    return n;
}

/* Each test's maps (all background) and default options. */
typedef struct fixture {
    maps m;
    retina_post_opts o;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    maps_init(&f->m);
    retina_post_opts_default(&f->o);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    maps_free(&f->m);
    free(f);
    return 0;
}

static void assert_near(double got, double want, const char *what)
{
    if (fabs(got - want) > 1e-3)
        fail_msg("%s: %.6f, want %.6f", what, got, want);
}

static void test_prior_count(void **state)
{
    (void)state;
    /* 80 x 60 + 40 x 30 + 20 x 15 pixels, two anchors each */
    assert_int_equal(retina_prior_count(480, 640), 2 * (4800 + 1200 + 300));
    /* ceil at every level: 1000 x 667 -> 125 x 84, 63 x 42, 32 x 21 */
    assert_int_equal(retina_prior_count(667, 1000), 2 * (125 * 84 + 63 * 42 + 32 * 21));
}

static void test_decode(void **state)
{
    fixture *f = *state;
    maps m = f->m;
    retina_post_opts o = f->o;
    retina_det d[4];
    /* zero offsets: the prior itself, level 0 pixel (y 2, x 3), anchor 1 (32 px) */
    set_score(&m, 0, 2, 3, 1, 5.f);
    assert_int_equal(run(&m, &o, d, 4), 1);
    assert_near(d[0].box[0], 28 - 16, "x1"), assert_near(d[0].box[1], 20 - 16, "y1");
    assert_near(d[0].box[2], 28 + 16, "x2"), assert_near(d[0].box[3], 20 + 16, "y2");
    assert_near(d[0].score, 1.0 / (1.0 + exp(-5.0)), "score");
    for (int k = 0; k < 5; k++)
        assert_near(d[0].landm[2 * k], 28, "landmark x"),
            assert_near(d[0].landm[2 * k + 1], 20, "landmark y");
    /* offsets: centre moves by 0.1 x size per unit, size x exp(0.2 x offset) */
    float *p = at(&m, 0, 2, 3);
    p[4 + 4] = 1.f, p[4 + 5] = -1.f, p[4 + 6] = (float)(log(2.0) / 0.2), p[4 + 7] = 0.f;
    p[12 + 10 + 0] = 2.f, p[12 + 10 + 9] = -3.f;
    assert_int_equal(run(&m, &o, d, 4), 1);
    assert_near(d[0].box[0], 31.2 - 32, "x1 (offset)"),
        assert_near(d[0].box[2], 31.2 + 32, "x2 (offset)");
    assert_near(d[0].box[1], 16.8 - 16, "y1 (offset)"),
        assert_near(d[0].box[3], 16.8 + 16, "y2 (offset)");
    assert_near(d[0].landm[0], 28 + 2 * 3.2, "left eye x"),
        assert_near(d[0].landm[9], 20 - 3 * 3.2, "mouth y");
    /* level 2, anchor 0 (256 px) at (y 1, x 4): centre (144, 48) */
    set_score(&m, 0, 2, 3, 1, -5.f);
    set_score(&m, 2, 1, 4, 0, 4.f);
    assert_int_equal(run(&m, &o, d, 4), 1);
    assert_near(d[0].box[0], 144 - 128, "x1 (level 2)"),
        assert_near(d[0].box[3], 48 + 128, "y2 (level 2)");
}

static void test_threshold_and_nan(void **state)
{
    fixture *f = *state;
    maps m = f->m;
    retina_post_opts o = f->o;
    retina_det d[4];
    set_score(&m, 0, 5, 5, 0, (float)log(0.89 / 0.11)); /* 0.89: below */
    set_score(&m, 0, 9, 9, 0, NAN);
    assert_int_equal(run(&m, &o, d, 4), 0);
    o.conf_threshold = 0.5;
    assert_int_equal(run(&m, &o, d, 4), 1);
}

static void test_nms(void **state)
{
    fixture *f = *state;
    maps m = f->m;
    retina_post_opts o = f->o;
    retina_det d[8];
    /* two 32-px boxes 8 px apart: IoU 825 / (1089 + 1089 - 825) = 0.61 -> the weaker goes;
     * a third far away stays */
    set_score(&m, 0, 10, 10, 1, 4.f);
    set_score(&m, 0, 10, 11, 1, 6.f);
    set_score(&m, 1, 20, 5, 0, 3.f);
    int n = run(&m, &o, d, 8);
    assert_int_equal(n, 2);
    assert_near(d[0].box[0], 11.5 * 8 - 16, "the stronger box kept");
    assert_true(d[0].score > d[1].score);
    /* at IoU threshold 0.7 both overlapping boxes stay */
    o.nms_threshold = 0.7;
    assert_int_equal(run(&m, &o, d, 8), 3);
    /* keep_top_k, top_k and the caller's capacity */
    o.keep_top_k = 2;
    assert_int_equal(run(&m, &o, d, 8), 2);
    o.keep_top_k = 750;
    o.top_k = 1;
    assert_int_equal(run(&m, &o, d, 8), 1);
    o.top_k = 5000;
    assert_int_equal(run(&m, &o, d, 1), 1);
    assert_true(d[0].score > 0.99f);
}

static void test_ties_in_prior_order(void **state)
{
    fixture *f = *state;
    maps m = f->m;
    retina_post_opts o = f->o;
    retina_det d[4];
    set_score(&m, 1, 3, 3, 0, 5.f);
    set_score(&m, 0, 40, 40, 0, 5.f); /* the same score, an earlier prior */
    assert_int_equal(run(&m, &o, d, 4), 2);
    assert_near(d[0].box[0], 40.5 * 8 - 8, "the earlier prior first");
}

static void test_refusals(void **state)
{
    fixture *f = *state;
    maps m = f->m;
    retina_post_opts o = f->o;
    retina_det d[1];
    const float *h[RETINA_LEVELS] = {m.head[0], m.head[1], m.head[2]};
    int n, bad_h[RETINA_LEVELS] = {m.h[0], m.h[1] + 1, m.h[2]};
    gp_error err;
    assert_int_equal(retina_postprocess(h, bad_h, m.w, IMG_H, IMG_W, &o, d, 1, &n, &err),
                     GP_ERANGE);
    assert_non_null(strstr(err.msg, "level 1"));
    assert_int_equal(retina_postprocess(h, m.h, m.w, 0, IMG_W, &o, d, 1, &n, &err), GP_ERANGE);
    o.nms_threshold = 0;
    assert_int_equal(retina_postprocess(h, m.h, m.w, IMG_H, IMG_W, &o, d, 1, &n, &err), GP_ERANGE);
    retina_post_opts_default(&o);
    o.conf_threshold = NAN;
    assert_int_equal(retina_postprocess(h, m.h, m.w, IMG_H, IMG_W, &o, d, 1, &n, &err), GP_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prior_count),
        cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threshold_and_nan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ties_in_prior_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
