/* test_trace_mix.c: the image mix: the default shares (70% phone photos around 2 MP, 30%
 * scans 4-24 MP, ~10% without a face), keyed draws (a pure function of seed and index),
 * validation, and the `image_mix:` YAML with its errors (file:line:col and key path). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "traces/trace.h"
#include "traces/trace_internal.h"

static void test_default_shares(void **state)
{
    (void)state;
    image_mix m;
    image_mix_default(&m);
    assert_int_equal(image_mix_validate(&m, NULL), 0);
    const int n = 200000;
    int phone = 0, none = 0;
    double faces = 0;
    for (int i = 0; i < n; i++) {
        float mp;
        int32_t f;
        image_mix_draw(&m, 77, (uint64_t)i, &mp, &f);
        if (mp >= 1.5f && mp <= 2.5f)
            phone++;
        else if (!(mp >= 4.0f && mp <= 24.0f))
            fail_msg("draw %d: %g MP is in no class", i, mp);
        assert_true(f >= 0 && f <= 5);
        none += f == 0;
        faces += f;
    }
    double mean_mp, mean_faces, no_face;
    image_mix_means(&m, &mean_mp, &mean_faces, &no_face);
    if (fabs(phone / (double)n - 0.7) > 0.005 || fabs(none / (double)n - no_face) > 0.003 ||
        fabs(faces / n - mean_faces) > 0.01)
        fail_msg("phone %.4f (0.7), no face %.4f (%.4f), faces %.4f (%.4f)", phone / (double)n,
                 none / (double)n, no_face, faces / n, mean_faces);
    assert_true(fabs(no_face - 0.098) < 1e-9);
    assert_true(fabs(mean_mp - (0.7 * 2.0 + 0.3 * 14.0)) < 1e-9);
}

static void test_keyed(void **state)
{
    (void)state;
    image_mix m;
    image_mix_default(&m);
    float a_mp, b_mp;
    int32_t a_f, b_f;
    /* the same (seed, index) whatever was drawn before */
    image_mix_draw(&m, 5, 1000, &a_mp, &a_f);
    for (int i = 0; i < 10; i++)
        image_mix_draw(&m, 5, (uint64_t)i, &b_mp, &b_f);
    image_mix_draw(&m, 5, 1000, &b_mp, &b_f);
    assert_true(a_mp == b_mp && a_f == b_f);
    /* another seed gives other sizes */
    int same = 0;
    for (int i = 0; i < 100; i++) {
        image_mix_draw(&m, 5, (uint64_t)i, &a_mp, &a_f);
        image_mix_draw(&m, 6, (uint64_t)i, &b_mp, &b_f);
        same += a_mp == b_mp;
    }
    assert_true(same < 5);
    /* n_classes 0 stands for the default mix */
    image_mix zero;
    memset(&zero, 0, sizeof(zero));
    image_mix_draw(&zero, 5, 1000, &b_mp, &b_f);
    image_mix_draw(&m, 5, 1000, &a_mp, &a_f);
    assert_true(a_mp == b_mp && a_f == b_f);
    /* a class with weight 0 is never drawn; a one-point class gives its size */
    image_mix one;
    memset(&one, 0, sizeof(one));
    one.n_classes = 2;
    one.cls[0] = (image_class){"never", 0.0, 1, 1, {0, 1}};
    one.cls[1] = (image_class){"fixed", 1.0, 3, 3, {0, 0, 0, 1}};
    assert_int_equal(image_mix_validate(&one, NULL), 0);
    for (int i = 0; i < 1000; i++) {
        image_mix_draw(&one, 1, (uint64_t)i, &a_mp, &a_f);
        assert_true(a_mp == 3.0f && a_f == 3);
    }
}

static void test_validate(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int cls;
        double weight, mp_min, mp_max, p0;
        int n;
    } rows[] = {
        {"negative weight", 0, -1, 1, 2, 1, 1}, {"nan weight", 0, NAN, 1, 2, 1, 1},
        {"mp min 0", 0, 1, 0, 2, 1, 1},         {"mp max < min", 0, 1, 3, 2, 1, 1},
        {"mp above 1000", 0, 1, 1, 2000, 1, 1}, {"faces all 0", 0, 1, 1, 2, 0, 1},
        {"weights sum 0", 0, 0, 1, 2, 1, 1},    {"9 classes", 0, 1, 1, 2, 1, 9},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        image_mix m;
        memset(&m, 0, sizeof(m));
        m.n_classes = rows[i].n;
        for (int c = 0; c < IMAGE_MIX_MAX_CLASSES; c++)
            m.cls[c] =
                (image_class){"c", rows[i].weight, rows[i].mp_min, rows[i].mp_max, {rows[i].p0}};
        gp_error e;
        gp_error_clear(&e);
        if (image_mix_validate(&m, &e) != GP_ERANGE)
            fail_msg("%s: accepted", rows[i].name);
        assert_true(strncmp(e.field, "image_mix", 9) == 0);
    }
}

static int mix_from_yaml(const char *text, image_mix *m, gp_error *e)
{
    cfg_doc *d = NULL;
    gp_error_clear(e);
    int rc = cfg_load_string("exp.yaml", text, strlen(text), &d, e);
    if (rc == 0)
        rc = image_mix_from_cfg(cfg_map_get(cfg_root(d), "image_mix"), m, e);
    cfg_free(d);
    return rc;
}

static void test_from_cfg(void **state)
{
    (void)state;
    image_mix m;
    gp_error e;
    int rc =
        mix_from_yaml("image_mix:\n"
                      "  - {name: phone, weight: 3, mp: [1.5, 2.5], faces: {0: 1, 1: 8, 2: 1}}\n"
                      "  - {name: scan, mp: 12}\n",
                      &m, &e);
    if (rc != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(m.n_classes, 2);
    assert_string_equal(m.cls[0].name, "phone");
    assert_true(m.cls[0].weight == 3 && m.cls[0].mp_min == 1.5 && m.cls[0].mp_max == 2.5);
    assert_true(m.cls[0].faces_p[1] == 8 && m.cls[0].faces_p[2] == 1);
    assert_true(m.cls[1].weight == 1 && m.cls[1].mp_min == 12 && m.cls[1].mp_max == 12);
    assert_true(m.cls[1].faces_p[1] == 1); /* default: one face */
    assert_int_equal(image_mix_validate(&m, NULL), 0);
    /* absent: the default */
    assert_int_equal(image_mix_from_cfg(NULL, &m, &e), 0);
    assert_int_equal(m.n_classes, 2);
    assert_string_equal(m.cls[1].name, "scan");

    static const struct {
        const char *name, *yaml, *want;
        int code;
    } rows[] = {
        {"not a sequence", "image_mix: {a: 1}\n",
         "exp.yaml:1:12: image_mix: expected a sequence of image classes ({name, weight, mp, "
         "faces})",
         GP_EPARSE},
        {"unknown key", "image_mix:\n  - {mp: 2, size: 3}\n",
         "exp.yaml:2:13: image_mix[0].size: unknown key 'size' (allowed: name, weight, mp, faces)",
         GP_EUNKNOWN},
        {"no mp", "image_mix:\n  - {weight: 2}\n",
         "exp.yaml:2:5: image_mix[0]: missing key 'mp' ([min, max] megapixels)", GP_EMISSING},
        {"mp reversed", "image_mix:\n  - {mp: [4, 2]}\n",
         "exp.yaml:2:10: image_mix[0].mp: max 2 is below min 4", GP_ERANGE},
        {"mp three numbers", "image_mix:\n  - {mp: [1, 2, 3]}\n",
         "exp.yaml:2:10: image_mix[0].mp: expected [min, max] megapixels", GP_EPARSE},
        {"faces key", "image_mix:\n  - {mp: 2, faces: {x: 1}}\n",
         "exp.yaml:2:24: image_mix[0].faces.x: face count 'x' is not a whole number in [0, 16]",
         GP_ERANGE},
        {"faces 17", "image_mix:\n  - {mp: 2, faces: {17: 1}}\n",
         "exp.yaml:2:25: image_mix[0].faces.17: face count '17' is not a whole number in [0, 16]",
         GP_ERANGE},
        {"faces sum 0", "image_mix:\n  - {mp: 2, faces: {0: 0}}\n",
         "exp.yaml:2:20: image_mix[0].faces: the shares sum to 0", GP_ERANGE},
        {"weights 0", "image_mix:\n  - {mp: 2, weight: 0}\n",
         "exp.yaml:2:3: image_mix: the class weights sum to 0", GP_ERANGE},
        {"empty", "image_mix: []\n",
         "exp.yaml:1:12: image_mix: expected 1 to 8 image classes, got 0", GP_ERANGE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        rc = mix_from_yaml(rows[i].yaml, &m, &e);
        char got[1024];
        gp_error_format(&e, got, sizeof(got));
        if (rc != rows[i].code || strcmp(got, rows[i].want) != 0)
            fail_msg("%s: got %d '%s'\n want %d '%s'", rows[i].name, rc, got, rows[i].code,
                     rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_shares),
        cmocka_unit_test(test_keyed),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_from_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
