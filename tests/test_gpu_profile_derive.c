/* test_gpu_profile_derive.c: deriving profiles for other cards (profile/profile_derive.c):
 * scaling per stage class, provenance, refusals, and that the committed measured and
 * derived profiles parse. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile_derive.h"

static const char *SRC = "format gpenlab-profile 1\n"
                         "card \"NVIDIA H100 80GB HBM3\"\n"
                         "provenance measured\n"
                         "source \"test\"\n"
                         "mp_grid 1 2\n"
                         "stage decode image 10 20\n"
                         "stage detect image 3 3\n"
                         "stage gpen face 3 3\n"
                         "stage paste face 0.1 0.2\n"
                         "jitter none\n"
                         "eff 1 1.5\n"
                         "gpu_mem_mib 81079\n"
                         "model_mem_mib 800\n"
                         "req_mem_mib 100 200\n"
                         "req_mem_per_face_mib 600\n"
                         "cold_phase cuda_init const 0.1\n"
                         "cold_phase first_inference const 0.05\n"
                         "first_request_extra_ms 0\n"
                         "share_slowdown 1\n";

static void test_scaling(void **state)
{
    (void)state;
    static gpu_profile src, dst;
    gp_error err;
    if (profile_parse("src", SRC, &src, &err))
        fail_msg("parse: %s", err.msg);
    const gpu_card_spec *h = gpu_card_find("h100"), *t = gpu_card_find("t4");
    assert_non_null(h);
    assert_non_null(t);
    assert_int_equal(profile_derive(&src, h, t, &dst, &err), 0);
    double fc = h->fp16_tflops / t->fp16_tflops, fm = h->mem_bw_gbs / t->mem_bw_gbs;
    const struct {
        const char *name;
        int stage, k;
        double want;
    } rows[] = {
        {"decode is host work: unscaled", 0, 1, 20},
        {"detect scales with compute", 1, 0, 3 * fc},
        {"gpen scales with compute", 2, 1, 3 * fc},
        {"paste scales with bandwidth", 3, 1, 0.2 * fm},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double got = dst.stage[rows[i].stage].ms[rows[i].k];
        if (fabs(got - rows[i].want) > 1e-9 * rows[i].want)
            fail_msg("%s: got %g want %g", rows[i].name, got, rows[i].want);
    }
    assert_string_equal(dst.provenance, "derived");
    assert_string_equal(dst.card, t->name);
    assert_non_null(strstr(dst.source, "derived, not measured"));
    assert_true(fabs(dst.phase[0].seconds.a - 0.1) < 1e-12);       /* cuda_init: host */
    assert_true(fabs(dst.phase[1].seconds.a - 0.05 * fc) < 1e-12); /* first_inference */
    assert_true(fabs(dst.gpu_mem_bytes - t->mem_mib * 1048576.0) < 1);
    assert_true(fabs(dst.eff[1] - 1.5) < 1e-12);
    /* a derived profile round-trips through the simulator's writer and parser */
    char buf[8192];
    FILE *f = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(f);
    assert_int_equal(profile_write(&dst, f, &err), 0);
    fclose(f);
    static gpu_profile back;
    if (profile_parse("derived", buf, &back, &err))
        fail_msg("derived profile does not parse: %s", err.msg);
    assert_string_equal(back.provenance, "derived");
}

static void test_refusals(void **state)
{
    (void)state;
    static gpu_profile src, dst;
    gp_error err;
    assert_int_equal(profile_parse("src", SRC, &src, &err), 0);
    const gpu_card_spec *h = gpu_card_find("h100");
    snprintf(src.provenance, sizeof(src.provenance), "derived");
    const struct {
        const char *name;
        const gpu_card_spec *to;
        int want;
    } rows[] = {
        {"from a derived profile", gpu_card_find("a100"), GP_ERANGE},
        {"unknown card", NULL, GP_ERANGE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = profile_derive(&src, h, rows[i].to, &dst, &err);
        if (rc != rows[i].want)
            fail_msg("%s: got %d want %d", rows[i].name, rc, rows[i].want);
    }
    assert_null(gpu_card_find("v100"));
    const struct {
        const char *stage;
        int want;
    } cls[] = {{"gpen", 0},   {"parse", 0}, {"detect", 0}, {"restore", 0}, {"decode", 2},
               {"encode", 2}, {"paste", 1}, {"blend", 1},  {"align", 1},   {"unknown", 1}};
    for (size_t i = 0; i < sizeof(cls) / sizeof(cls[0]); i++)
        if (profile_stage_class(cls[i].stage) != cls[i].want)
            fail_msg("%s: got class %d want %d", cls[i].stage, profile_stage_class(cls[i].stage),
                     cls[i].want);
}

static void test_committed_profiles_parse(void **state)
{
    (void)state;
    static gpu_profile p;
    const struct {
        const char *path, *provenance;
    } rows[] = {
        {"gpu/profiles/h100", "measured"},        {"gpu/profiles/t4-derived", "derived"},
        {"gpu/profiles/l4-derived", "derived"},   {"gpu/profiles/a10-derived", "derived"},
        {"gpu/profiles/a100-derived", "derived"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_error err;
        if (profile_load(rows[i].path, &p, &err))
            fail_msg("%s: %s", rows[i].path, err.msg);
        if (strcmp(p.provenance, rows[i].provenance) != 0)
            fail_msg("%s: provenance %s want %s", rows[i].path, p.provenance, rows[i].provenance);
        if (!(profile_demand_us(&p, 2, 1) > 0))
            fail_msg("%s: no demand at 2 MP", rows[i].path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_committed_profiles_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
