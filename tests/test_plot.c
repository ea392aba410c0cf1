/* test_plot.c: the data files plot.h writes for gnuplot, whose blocks gnuplot counts by
 * blank lines: one blank line is a gap inside a line, two end the line's block. Checked:
 * a run of NaN values is one gap (two blank lines would move every later line to the
 * wrong `index`), leading NaNs add no blank line, a line with no value still has its
 * block, and the Pareto file keeps its three blocks (points, front, winner) when nothing
 * can be drawn. The .dat is written before gnuplot runs, so these hold without it. */
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

#include "lab/plot.h"
#include "tests/testutil.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(tmpdir, sizeof(tmpdir), "plot-t");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir);
}

/* PREFIX.dat (caller frees); fails the test when missing. */
static char *read_dat(const char *prefix)
{
    char path[300];
    snprintf(path, sizeof(path), "%s.dat", prefix);
    char *text = tu_slurp(path);
    if (!text)
        fail_msg("no %s", path);
    return text;
}

/* gnuplot's index blocks: separated by two (or more) blank lines. */
static size_t blocks(const char *text)
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        while (*p == '\n')
            p++;
        if (!*p)
            break;
        n++;
        const char *end = strstr(p, "\n\n\n");
        if (!end)
            break;
        p = end + 3;
    }
    return n;
}

static void test_gaps(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double a[6];
        size_t na;
        size_t want_blank_inside; /* blank lines inside line a's block */
    } rows[] = {
        {"a run of NaNs is one gap", {1, NAN, NAN, NAN, 2, 3}, 6, 1},
        {"leading NaNs add nothing", {NAN, NAN, 1, 2, 3, 4}, 6, 0},
        {"trailing NaNs add nothing", {1, 2, NAN, NAN, NAN, NAN}, 6, 0},
        {"no value at all: the block is still there", {NAN, NAN}, 2, 0},
    };
    static const double x[6] = {0, 1, 2, 3, 4, 5}, b[2] = {7, 8};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "%s/gaps%zu", tmpdir, i);
        plot_line lines[2] = {{.name = "a", .x = x, .y = rows[i].a, .n = rows[i].na},
                              {.name = "b", .x = x, .y = b, .n = 2}};
        plot_spec spec = {.title = rows[i].name};
        gp_error e;
        gp_error_clear(&e);
        int rc = plot_lines(prefix, &spec, lines, 2, &e);
        if (rc < 0 && rc != GP_ENOTSUP)
            fail_msg("%s: plot_lines %d %s", rows[i].name, rc, e.msg);
        char *dat = read_dat(prefix);
        size_t got = blocks(dat);
        const char *first_end = strstr(dat, "\n\n\n");
        size_t inside = 0;
        for (const char *p = dat; first_end && p < first_end; p++)
            inside += p[0] == '\n' && p[1] == '\n';
        if (got != 2 || inside != rows[i].want_blank_inside)
            fail_msg("%s: %zu blocks (want 2), %zu blank lines inside the first (want %zu):\n%s",
                     rows[i].name, got, inside, rows[i].want_blank_inside, dat);
        free(dat);
    }
}

static void test_pareto_nothing_to_draw(void **state)
{
    (void)state;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s/pareto", tmpdir);
    plot_xy pts[2] = {{NAN, NAN, 0}, {NAN, 1, 2}};
    gp_error e;
    gp_error_clear(&e);
    plot_pareto(prefix, "empty", pts, 2, &e); /* gnuplot may refuse: nothing to draw */
    char *dat = read_dat(prefix);
    if (blocks(dat) != 3 || strncmp(dat, "NaN NaN 0\n", 10) != 0)
        fail_msg("want three blocks, the first \"NaN NaN 0\":\n%s", dat);
    free(dat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_pareto_nothing_to_draw),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
