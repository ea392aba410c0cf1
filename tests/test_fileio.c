/* test_fileio.c: gp_path_join (a relative path joined to the directory it is relative to,
 * "D/.." folded only where D is a real directory, so the result names the same file) and
 * gp_hash_file (the content identity of an input). Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/fileio.h"

static void test_path_join(void **state)
{
    (void)state;
    static const struct {
        const char *dir, *rel, *want;
    } rows[] = {
        {"experiments", "../results/x.db", "results/x.db"},
        {"experiments", "../gpu/profiles/h100", "gpu/profiles/h100"},
        {"experiments/validation", "../../traces/data/a.csv", "traces/data/a.csv"},
        {"experiments", "./x.yaml", "experiments/x.yaml"},
        {"", "x.yaml", "x.yaml"},
        {".", "x.yaml", "x.yaml"},
        {NULL, "a/b", "a/b"},
        {"experiments", "/abs/x", "/abs/x"},
        {"experiments/", "x", "experiments/x"},
        /* a directory that does not exist is not folded: ".." is kept for the system */
        {"no-such-dir", "../x", "no-such-dir/../x"},
        {"..", "x", "../x"},
        {"/", "x", "/x"},
        {"/tmp", "..", "/"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[256];
        if (gp_path_join(rows[i].dir, rows[i].rel, out, sizeof(out)) != 0 ||
            strcmp(out, rows[i].want) != 0)
            fail_msg("join(%s, %s): got %s want %s", rows[i].dir ? rows[i].dir : "NULL",
                     rows[i].rel, out, rows[i].want);
    }
    char small[8];
    assert_int_equal(gp_path_join("experiments", "x.yaml", small, sizeof(small)), -1);
}

static void test_hash_file(void **state)
{
    (void)state;
    char path[] = "/tmp/gpenlab-hash-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    uint64_t h, n;
    gp_error e;
    assert_int_equal(gp_hash_file(path, &h, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_true(h == 0xe71fa2190541574bULL); /* FNV-1a 64 of "abc" */
    unlink(path);
    assert_int_equal(gp_hash_file(path, &h, &n, &e), GP_EMISSING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_hash_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
