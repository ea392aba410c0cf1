/* test_gpu_torch_csv.c: the PyTorch timings that `gpenlab-gpu bench --torch` compares
 * against (gpu/torch_csv.h), written by `scripts/gpen_torch.py bench --csv`, read by the one
 * CSV reader. gpenlab-gpu used to scan a log with sscanf and skip every line it could not
 * read, so a damaged file gave a comparison with rows missing and no word said. Then the
 * comparison itself: the fastest torch row per batch over every formulation, mode and
 * layout, named; a side that measured nothing prints "-" (it printed 0.000 and "0.00"
 * speed-ups, and compared batch 8 with one formulation only). */
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
         GP_EPARSE, ":2:6: mode: expected a word of 1 to 15 bytes"},
        {"empty layout", "dtype,mode,modconv,layout,batch,ms\nfp16,compile,batched,,1,8\n", 0,
         GP_EPARSE, ":2:22: layout: expected a word"},
        {"the old log", "torch fp16 eager      batched batch 1:    8.450 ms\n", 0, GP_EMISSING,
         "no column 'dtype'"},
        {"too many rows", "dtype,mode,modconv,batch,ms\na,b,c,1,1\na,b,c,2,1\na,b,c,3,1\n", 0,
         GP_ELIMIT, "more than 2 rows"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc =
            read_text(bad[i].text, bad[i].len ? bad[i].len : strlen(bad[i].text), rows, 2, &n, &e);
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        if (rc != bad[i].code || !strstr(line, bad[i].want))
            fail_msg("%s: rc %d '%s', want %d '%s'", bad[i].name, rc, line, bad[i].code,
                     bad[i].want);
    }
}

/* The table of one comparison, as text. */
static char *table_of(const double *gpen_ms, const double *frac, const torch_row *rows, int n,
                      int record)
{
    torch_compare c[16];
    int nc;
    torch_compare_build(gpen_ms, frac, 64, rows, n, "fp16", c, &nc);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    if (record)
        torch_compare_record(f, c, nc, rows);
    else
        torch_compare_print(f, c, nc, rows);
    fclose(f);
    return text;
}

/* The line of the table that starts with "batch " (the table's own lines start with the
 * batch size, the record's with "compare batch N "). */
static const char *line_of(const char *text, const char *start)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, start, strlen(start)) == 0)
            return p;
    return NULL;
}

static void test_best_of_every_formulation(void **state)
{
    (void)state;
    /* the run of gpu/bench/h100-2026-12-07-eb0bff7 (no layout column: "auto") plus the
     * rows a fair run adds: exact, nchw, another dtype, batch 2 measured by torch alone */
    const char *csv = "dtype,mode,modconv,batch,ms\n"
                      "fp16,eager,batched,1,12.869952\n"
                      "fp16,compile,batched,1,8.560160\n"
                      "fp16,compile-ro,batched,1,8.134400\n"
                      "fp16,eager,batched,8,42.638367\n"
                      "fp16,compile,batched,8,54.144577\n"
                      "fp16,compile-ro,batched,8,53.278431\n";
    torch_row rows[32];
    int n;
    gp_error e;
    assert_int_equal(read_text(csv, strlen(csv), rows, 32, &n, &e), 0);
    assert_int_equal(n, 6);
    assert_string_equal(rows[0].layout, "auto");
    /* batch 8 of that run: eager (42.64) is the fastest torch row, not a compile mode */
    assert_int_equal(torch_best(rows, n, "fp16", NULL, 8), 3);
    assert_int_equal(torch_best(rows, n, "fp16", "compile", 8), 4);
    assert_int_equal(torch_best(rows, n, "fp16", "compile-ma", 8), -1);
    assert_int_equal(torch_best(rows, n, "fp16", NULL, 2), -1);
    assert_int_equal(torch_best(rows, n, "bf16", NULL, 1), -1);

    const char *fair = "dtype,mode,modconv,layout,batch,ms\n"
                       "fp16,eager,batched,auto,8,42.6\n"
                       "fp16,compile-ro,batched,auto,8,53.3\n"
                       "fp16,compile-ro,batched,nchw,8,20.5\n"
                       "fp16,compile-ro,exact,auto,8,27.6\n"
                       "fp16,compile,batched,nchw,8,21.0\n"
                       "bf16,compile-ro,batched,nchw,8,1.0\n"
                       "fp16,compile-ro,exact,auto,1,7.9\n"
                       "fp16,compile-ro,batched,nchw,1,8.1\n"
                       "fp16,eager,exact,auto,2,20.0\n";
    assert_int_equal(read_text(fair, strlen(fair), rows, 32, &n, &e), 0);
    assert_int_equal(n, 9);
    assert_int_equal(torch_best(rows, n, "fp16", NULL, 8), 2);
    assert_int_equal(torch_best(rows, n, "fp16", "compile-ro", 8), 2);
    assert_int_equal(torch_best(rows, n, "fp16", NULL, 1), 6);

    double gpen[65] = {0}, frac[65] = {0};
    gpen[1] = 3.323, frac[1] = 0.108;
    gpen[8] = 17.244, frac[8] = 0.166;
    gpen[16] = 32.608, frac[16] = 0.176;
    char *t = table_of(gpen, frac, rows, n, 0);
    static const struct {
        const char *start, *want, *never;
    } lines[] = {
        /* 20.5 / 17.244 = 1.19x against compile-ro batched nchw, not 53.3 (the slow layout) */
        {"8 ", "    1.19x  compile-ro batched nchw\n", "3.09"},
        {"8 ", "   21.000     20.500          -    16.6%    2.47x", NULL},
        /* the exact formulation wins batch 1: 7.9 / 3.323 */
        {"1 ", "    2.38x  compile-ro exact auto\n", NULL},
        /* torch alone at batch 2: gpenlab, frac and speed-ups are "-" */
        {"2 ",
         "2              -    20.000         -          -          -        -        -        -  "
         "eager exact auto\n",
         " 0.00"},
        /* gpenlab alone at batch 16: every torch figure is "-" */
        {"16 ", "32.608         -         -          -          -    17.6%        -        -  -\n",
         " 0.00"},
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        const char *l = line_of(t, lines[i].start);
        if (!l)
            fail_msg("no line for batch %s in:\n%s", lines[i].start, t);
        size_t len = (size_t)(strchr(l, '\n') - l) + 1;
        char one[400];
        snprintf(one, sizeof(one), "%.*s", (int)len, l);
        if (!strstr(one, lines[i].want) || (lines[i].never && strstr(one, lines[i].never)))
            fail_msg("batch %s: got '%s', want '%s'%s%s", lines[i].start, one, lines[i].want,
                     lines[i].never ? " and never " : "", lines[i].never ? lines[i].never : "");
    }
    assert_null(line_of(t, "4 ")); /* nobody measured batch 4 */
    assert_non_null(line_of(t, "batch "));
    free(t);

    t = table_of(gpen, frac, rows, n, 1);
    const char *r8 = line_of(t, "compare batch 8 ");
    assert_non_null(r8);
    assert_non_null(strstr(
        r8, "torch_compile_ma - best_torch compile-ro/batched/nchw 20.5000 speedup_best 1.189"));
    const char *r16 = line_of(t, "compare batch 16 ");
    assert_non_null(r16);
    assert_non_null(strstr(
        r16, "torch_eager - torch_compile - torch_compile_ro - torch_compile_ma - best_torch - - "
             "speedup_best - frac_peak 0.1760"));
    const char *r2 = line_of(t, "compare batch 2 ");
    assert_non_null(r2);
    assert_non_null(strstr(r2, "gpenlab_fp16 - torch_eager 20.0000"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_torch_csv),
                                       cmocka_unit_test(test_best_of_every_formulation)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
