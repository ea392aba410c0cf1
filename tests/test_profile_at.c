/* test_profile_at.c: a request's place on the profile's megapixel grid, found once
 * (profile_locate) and used for its demand and its memory: the _at forms give the same
 * doubles, bit for bit, as the forms that take mp, on every committed profile, inside,
 * on and outside the grid; and the interpolation itself by hand on a small profile. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "profile/profile.h"

/* Two stages per class, so the finalized sums and the per-stage path both run; the face
 * stages clamp at 0 below the grid (the per-stage path's case). */
static const char *SMALL = "format gpenlab-profile 1\n"
                           "card \"test\"\n"
                           "provenance seed\n"
                           "mp_grid 1 2 4\n"
                           "stage decode image 10 20 30\n"
                           "stage detect image 2 2 6\n"
                           "stage gpen face 1 3 5\n"
                           "stage paste face 0.5 1.5 1.5\n"
                           "jitter none\n"
                           "eff 1\n"
                           "gpu_mem_mib 16000\n"
                           "model_mem_mib 800\n"
                           "req_mem_mib 100 200 600\n"
                           "req_mem_per_face_mib 50\n"
                           "cold_phase cuda_init const 0.1\n"
                           "first_request_extra_ms 0\n"
                           "share_slowdown 1\n";

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

static void check_same(const gpu_profile *p, const char *name)
{
    /* below, on, between and above the grid points, and floats as traces give them */
    for (int k = 0; k <= 4000; k++) {
        double mp = (double)(float)(0.001 + (double)k * 0.0025 * p->mp_grid[p->n_grid - 1]);
        for (int g = 0; g < p->n_grid && k == 0; g++) {
            profile_at at = profile_locate(p, p->mp_grid[g]);
            for (int faces = 0; faces <= 3; faces++)
                if (!same_bits(profile_demand_us_at(p, at, faces),
                               profile_demand_us(p, p->mp_grid[g], faces)))
                    fail_msg("%s: demand at grid point %g differs", name, p->mp_grid[g]);
        }
        profile_at at = profile_locate(p, mp);
        if (p->n_grid > 1 && (at.seg < 0 || at.seg > p->n_grid - 2))
            fail_msg("%s: segment %d for mp %g", name, at.seg, mp);
        for (int faces = 0; faces <= 3; faces++) {
            if (!same_bits(profile_demand_us_at(p, at, faces), profile_demand_us(p, mp, faces)))
                fail_msg("%s: demand at mp %.9g, %d faces differs", name, mp, faces);
            if (!same_bits(profile_req_mem_bytes_at(p, at, faces),
                           profile_req_mem_bytes(p, mp, faces)))
                fail_msg("%s: memory at mp %.9g, %d faces differs", name, mp, faces);
        }
    }
}

static void test_at_forms_equal_on_committed_profiles(void **state)
{
    (void)state;
    static gpu_profile p;
    const char *paths[] = {"gpu/profiles/t4-seed",     "gpu/profiles/h100",
                           "gpu/profiles/t4-derived",  "gpu/profiles/l4-derived",
                           "gpu/profiles/a10-derived", "gpu/profiles/a100-derived"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        gp_error err;
        if (profile_load(paths[i], &p, &err))
            fail_msg("%s: %s", paths[i], err.msg);
        check_same(&p, paths[i]);
    }
}

static void test_interpolation_by_hand(void **state)
{
    (void)state;
    static gpu_profile p;
    gp_error err;
    if (profile_parse("small", SMALL, &p, &err))
        fail_msg("%s", err.msg);
    check_same(&p, "small");
    /* segments: the left one at a grid point, the end ones outside */
    assert_int_equal(profile_locate(&p, 0.5).seg, 0);
    assert_int_equal(profile_locate(&p, 2.0).seg, 0);
    assert_int_equal(profile_locate(&p, 2.5).seg, 1);
    assert_int_equal(profile_locate(&p, 9.0).seg, 1);
    /* at 3 MP: image 25 + 4 = 29 ms, face 4 + 1.5 = 5.5 ms */
    assert_true(fabs(profile_demand_us(&p, 3.0, 0) - 29000.0) < 1e-9);
    assert_true(fabs(profile_demand_us(&p, 3.0, 2) - (29000.0 + 2 * 5500.0)) < 1e-9);
    /* at 0.25 MP, below the grid: image 2.5 + 2 = 4.5 ms; gpen -0.5 and paste -0.25 clamp
       at 0 each (a sum of interpolations would give -0.75, clamped to 0 too) */
    assert_true(fabs(profile_demand_us(&p, 0.25, 1) - 4500.0) < 1e-9);
    /* at 8 MP, above (the last segment's slopes): image 50 + 14 = 64 ms; face 9 + 1.5 ms */
    assert_true(fabs(profile_demand_us(&p, 8.0, 1) - 74500.0) < 1e-9);
    /* memory at 3 MP with 2 faces: 400 + 100 MiB */
    assert_true(fabs(profile_req_mem_bytes(&p, 3.0, 2) - 500.0 * 1048576.0) < 1e-3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_at_forms_equal_on_committed_profiles),
        cmocka_unit_test(test_interpolation_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
