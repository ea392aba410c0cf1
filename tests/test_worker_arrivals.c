/* test_worker_arrivals.c: the arrivals CSV of the live stack (worker/arrivals.h), the file
 * `gpenlab-loadgen replay` pushes and `gpenlab-worker profile --eff-mix` draws its image mix
 * from, read by the one CSV reader: the cases where the load generator's and the worker's
 * own readers went wrong (a line over 1 KiB split in two, a byte-order mark or a quoted
 * header name not seen, a NUL byte cutting a row) and the errors with their places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/arrivals.c"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gpenlab-arrivals-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof(p), "%s/a.csv", dir);
    unlink(p);
    return rmdir(dir);
}

/* Writes `text` (n bytes, NULs allowed) and reads it back. */
static int read_text(const char *text, size_t n, bool need_time, arrivals *out, gp_error *e)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/a.csv", dir);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(text, 1, n, f);
    fclose(f);
    gp_error_clear(e);
    return arrivals_read(p, need_time, 200, 1000, out, e);
}

static void test_good_files(void **state)
{
    (void)state;
    static char long_note[1600];
    memset(long_note, 'x', sizeof(long_note) - 1);
    static char longline[2048];
    snprintf(longline, sizeof(longline), "t_s,mp,faces,note\n0.5,2,1,%s\n1.5,4,0,short\n",
             long_note);
    static const struct {
        const char *name, *text;
        size_t n_rows;
        double last_t, last_mp;
        int last_faces;
    } rows[] = {
        /* gpenlab-loadgen read lines in 1 KiB pieces: the tail became a second row */
        {"line over 1 KiB", longline, 2, 1.5, 4, 0},
        /* a spreadsheet's export: the BOM and the quotes hid the t_s column */
        {"BOM, quoted header, CRLF", "\xef\xbb\xbf\"t_s\",\"mp\",faces\r\n0,2,1\r\n2,3,2\r\n", 2, 2,
         3, 2},
        {"comments, blank lines, other columns first",
         "# from gpenlab-loadgen expand\nid,faces,mp,t_s\n\n1,1,1.5,0.1\n# a note\n2,0,24,0.2\n", 2,
         0.2, 24, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        arrivals a;
        gp_error e;
        if (read_text(rows[i].text, strlen(rows[i].text), true, &a, &e) != 0)
            fail_msg("%s: %s:%ld: %s", rows[i].name, e.file, e.line, e.msg);
        if (a.n != rows[i].n_rows || a.row[a.n - 1].t_s != rows[i].last_t ||
            a.row[a.n - 1].mp != rows[i].last_mp || a.row[a.n - 1].faces != rows[i].last_faces)
            fail_msg("%s: %zu rows, last (%g, %g, %d)", rows[i].name, a.n, a.row[a.n - 1].t_s,
                     a.row[a.n - 1].mp, a.row[a.n - 1].faces);
        arrivals_free(&a);
    }
    /* the worker's image mix needs no times */
    arrivals a;
    gp_error e;
    const char *mix = "mp,faces\n1.5,1\n4,0\n";
    assert_int_equal(read_text(mix, strlen(mix), false, &a, &e), 0);
    assert_int_equal(a.n, 2);
    arrivals_free(&a);
}

static void test_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *name, *text;
        size_t len; /* 0: strlen */
        int code;
        const char *want;
    } rows[] = {
        {"NUL inside a row", "t_s,mp,faces\n0,2,1\n1\0002,2,1\n", 25, GP_EPARSE,
         "a.csv:3:2: NUL byte"},
        {"invalid UTF-8", "t_s,mp,faces,n\n0,2,1,\xff\n", 0, GP_EPARSE, "a.csv:2:7: invalid UTF-8"},
        {"bad mp", "t_s,mp,faces\n0.1,1.5,1\n0.2,-4,0\n", 0, GP_ERANGE,
         "a.csv:3: mp: expected 0 < mp <= 200, got -4"},
        {"mp above the mix's bound", "t_s,mp,faces\n0.1,250,1\n", 0, GP_ERANGE, "a.csv:2: mp:"},
        {"fractional faces", "t_s,mp,faces\n0.1,2,1.5\n", 0, GP_ERANGE, "a.csv:2: faces:"},
        {"text time", "t_s,mp,faces\nsoon,2,1\n", 0, GP_EPARSE, "a.csv:2: t_s: expected a number"},
        {"unsorted", "t_s,mp,faces\n2,2,1\n1,2,1\n", 0, GP_ERANGE, "a.csv:3: t_s: goes backwards"},
        {"no faces column", "t_s,mp\n1,2\n", 0, GP_EMISSING, "no faces column 'faces'"},
        {"too few fields", "t_s,mp,faces\n1,2\n", 0, GP_EPARSE, "a.csv:2: too few columns"},
        {"header only", "t_s,mp,faces\n", 0, GP_EPARSE, "no requests"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        arrivals a;
        gp_error e;
        int rc =
            read_text(rows[i].text, rows[i].len ? rows[i].len : strlen(rows[i].text), true, &a, &e);
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        if (rc != rows[i].code || !strstr(line, rows[i].want))
            fail_msg("%s: rc %d '%s', want %d '%s'", rows[i].name, rc, line, rows[i].code,
                     rows[i].want);
        assert_null(a.row);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
