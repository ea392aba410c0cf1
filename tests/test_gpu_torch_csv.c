/* test_gpu_torch_csv.c: the PyTorch timings that `gpenlab-gpu bench --torch` compares
 * against (gpu/torch_csv.h), written by `scripts/gpen_torch.py bench --csv`, read by the one
 * CSV reader. gpenlab-gpu used to scan a log with sscanf and skip every line it could not
 * read, so a damaged file gave a comparison with rows missing and no word said. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/torch_csv.c"

static int read_text(const char *text, size_t n, torch_row *rows, int cap, int *got, gp_error *e)
{
    char p[] = "/tmp/gpenlab-torch-XXXXXX";
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    gp_error_clear(e);
    int rc = torch_csv_read(p, rows, cap, got, e);
    unlink(p);
    return rc;
}

static void test_torch_csv(void **state)
{
    (void)state;
    torch_row rows[8];
    int n;
    gp_error e;
    const char *good = "dtype,mode,modconv,batch,ms\n"
                       "fp16,eager,batched,1,8.450000\n"
                       "# a run cut by its deadline keeps what it measured\n"
                       "fp16,compile-ro,batched,8,21.720000\n";
    assert_int_equal(read_text(good, strlen(good), rows, 8, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rows[1].mode, "compile-ro");
    assert_int_equal(rows[1].batch, 8);
    assert_true(rows[1].ms == 21.72);
    static const struct {
        const char *name, *text;
        size_t len;
        int code;
        const char *want;
    } bad[] = {
        {"NUL in a row", "dtype,mode,modconv,batch,ms\nfp16,eager,batched,1,8.4\0005\n", 55,
         GP_EPARSE, ":2:25: NUL byte"},
        {"bad time", "dtype,mode,modconv,batch,ms\nfp16,eager,batched,1,fast\n", 0, GP_EPARSE,
         ":2:22: ms: expected a time"},
        {"bad batch", "dtype,mode,modconv,batch,ms\nfp16,eager,batched,0,8\n", 0, GP_EPARSE,
         ":2:20: batch:"},
        {"long mode", "dtype,mode,modconv,batch,ms\nfp16,max-autotune-no-cudagraphs,b,1,8\n", 0,
         GP_EPARSE, ":2:6: mode: expected a word"},
        {"the old log", "torch fp16 eager      batched batch 1:    8.450 ms\n", 0, GP_EMISSING,
         "no column 'dtype'"},
        {"too many rows", "dtype,mode,modconv,batch,ms\na,b,c,1,1\na,b,c,2,1\na,b,c,3,1\n", 0,
         GP_ELIMIT, "more than 2 rows"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = read_text(bad[i].text, bad[i].len ? bad[i].len : strlen(bad[i].text), rows, 2,
                           &n, &e);
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        if (rc != bad[i].code || !strstr(line, bad[i].want))
            fail_msg("%s: rc %d '%s', want %d '%s'", bad[i].name, rc, line, bad[i].code,
                     bad[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_torch_csv)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
