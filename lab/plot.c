/* plot.c: gnuplot pictures (see plot.h). */
#include "lab/plot.h"

#include "base/gnuplot.h"
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

bool plot_have_gnuplot(void)
{
    char found[PATH_MAX];
    return gp_proc_find("gnuplot", NULL, found, sizeof(found)) == 0;
}

static int run_gnuplot(const char *gp, const char *log, gp_error *err)
{
    if (!plot_have_gnuplot())
        return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, NULL,
                            "gnuplot not found on PATH (scripts/install_deps.sh installs it)");
    gnuplot_result r;
    if (gnuplot_run(gp, log, &r) == 0)
        return 0;
    if (r.spawn_errno)
        return gp_error_set(err, r.spawn_errno == ENOENT ? GP_ENOTSUP : GP_EIO, gp, 0, 0, NULL,
                            "cannot run gnuplot: %s", strerror(r.spawn_errno));
    if (r.wait_errno)
        return gp_error_set(err, GP_EIO, gp, 0, 0, NULL, "waiting for gnuplot: %s",
                            strerror(r.wait_errno));
    return gp_error_set(err, GP_EIO, gp, 0, 0, NULL, "gnuplot failed%s%s",
                        r.first_error[0] ? ": " : "", r.first_error);
}

/* The script's head for one output; the body is drawn once per terminal. */
static void put_terminal(FILE *f, const char *prefix, int svg)
{
    if (svg) {
        fputs("set terminal svg size 960,540 dynamic font 'sans,12' background '#ffffff'\n", f);
    } else {
        fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
              "    set terminal pngcairo size 960,540 font 'sans,10'\n"
              "} else {\n    set terminal png size 960,540\n}\n",
              f);
    }
    char out[1100];
    snprintf(out, sizeof(out), "%s.%s", prefix, svg ? "svg" : "png");
    fputs("set output ", f);
    gnuplot_put_quoted(f, out);
    fputc('\n', f);
}

static int open_files(const char *prefix, FILE **dat, FILE **gp, char *dat_path, char *gp_path,
                      char *log_path, gp_error *err)
{
    snprintf(dat_path, 1100, "%s.dat", prefix);
    snprintf(gp_path, 1100, "%s.gp", prefix);
    snprintf(log_path, 1100, "%s.log", prefix);
    *dat = fopen(dat_path, "w");
    *gp = *dat ? fopen(gp_path, "w") : NULL;
    if (!*dat || !*gp) {
        if (*dat)
            fclose(*dat);
        return gp_error_set(err, GP_EIO, *dat ? gp_path : dat_path, 0, 0, NULL, "cannot write: %s",
                            strerror(errno));
    }
    return 0;
}

static int close_and_run(FILE *dat, FILE *gp, const char *dat_path, const char *gp_path,
                         const char *log_path, gp_error *err)
{
    int bad_dat = ferror(dat) | (fclose(dat) != 0);
    int bad_gp = ferror(gp) | (fclose(gp) != 0);
    if (bad_dat || bad_gp)
        return gp_error_set(err, GP_EIO, bad_dat ? dat_path : gp_path, 0, 0, NULL, "cannot write");
    return run_gnuplot(gp_path, log_path, err);
}

static const char *const colours[] = {"#4477aa", "#ee6677", "#228833", "#ccbb44",
                                      "#66ccee", "#aa3377", "#bbbbbb", "#000000"};
#define N_COLOURS 8

/* Title, axis labels, key and ranges of a chart. */
static void put_axes(FILE *gp, const plot_spec *spec)
{
    fputs("set title ", gp);
    gnuplot_put_quoted(gp, spec->title ? spec->title : "");
    fputs(" noenhanced\nset xlabel ", gp);
    gnuplot_put_quoted(gp, spec->xlabel ? spec->xlabel : "");
    fputs(" noenhanced\nset ylabel ", gp);
    gnuplot_put_quoted(gp, spec->ylabel ? spec->ylabel : "");
    fputs(" noenhanced\nset grid\nset key outside right top noenhanced\n", gp);
    if (spec->x_hours)
        fputs("set xtics 0,2\nset xrange [0:*]\n", gp);
    bool from_zero = spec->y_from_zero && !spec->y_log;
    if (spec->y_log)
        fputs("set logscale y\n", gp);
    if (spec->y_max > 0)
        fprintf(gp, "set yrange [%s:%.10g]\n", from_zero ? "0" : "*", spec->y_max);
    else if (from_zero)
        fputs("set yrange [0:*]\n", gp);
    if (spec->y_max <= 0) /* room above the highest value (a line on the border is lost) */
        fputs("set offsets 0, 0, graph 0.05, 0\n", gp);
}

int plot_pareto(const char *prefix, const char *title, const plot_xy *pts, size_t n, gp_error *err)
{
    char dat_path[1100], gp_path[1100], log_path[1100];
    FILE *dat, *gp;
    int rc = open_files(prefix, &dat, &gp, dat_path, gp_path, log_path, err);
    if (rc < 0)
        return rc;
    /* index 0: all points; 1: the front sorted by x; 2: the winner */
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(pts[i].x) && !isnan(pts[i].y)) {
            fprintf(dat, "%.10g %.10g %d\n", pts[i].x, pts[i].y, pts[i].flag);
            shown++;
        }
    if (!shown) /* an empty block would not count as index 0 */
        fputs("NaN NaN 0\n", dat);
    fputs("\n\n", dat);
    size_t *ord = malloc(sizeof(size_t) * (n + 1));
    size_t m = 0;
    for (size_t i = 0; ord && i < n; i++)
        if (pts[i].flag & 1)
            ord[m++] = i;
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && pts[ord[j - 1]].x > pts[ord[j]].x; j--) {
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    for (size_t i = 0; i < m; i++)
        fprintf(dat, "%.10g %.10g\n", pts[ord[i]].x, pts[ord[i]].y);
    free(ord);
    if (m == 0)
        fputs("NaN NaN\n", dat);
    fputs("\n\n", dat);
    int have_win = 0;
    for (size_t i = 0; i < n; i++)
        if (pts[i].flag & 4) {
            fprintf(dat, "%.10g %.10g\n", pts[i].x, pts[i].y);
            have_win = 1;
        }
    if (!have_win)
        fputs("NaN NaN\n", dat);
    for (int svg = 0; svg < 2; svg++) {
        put_terminal(gp, prefix, svg);
        fputs("set title ", gp);
        gnuplot_put_quoted(gp, title);
        fputs(" noenhanced\nset xlabel 'cost: GPU-hours billed x price (mean over replications)'\n"
              "set ylabel 'P99 latency, s (mean over replications)'\nset grid\nset key top right\n"
              "set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.08\n"
              "plot ",
              gp);
        gnuplot_put_quoted(gp, dat_path);
        /* the front under the points, so that each point shows whether it is feasible */
        fputs(" index 1 using 1:2 with lines lw 2 lc rgb '#cc3311' title 'Pareto front', '' "
              "index 0 using 1:(int($3)&2 ? $2 : 1/0) with points pt 7 ps 1.5 lc rgb '#4477aa' "
              "title 'feasible', '' index 0 using 1:(int($3)&2 ? 1/0 : $2) with points pt 6 "
              "ps 1.5 lw 2 lc rgb '#777777' title 'infeasible', '' index 2 using 1:2 "
              "with points pt 3 ps 3 lw 2 lc rgb '#000000' title 'winner'\n",
              gp);
    }
    return close_and_run(dat, gp, dat_path, gp_path, log_path, err);
}

int plot_lines(const char *prefix, const plot_spec *spec, const plot_line *lines, size_t n_lines,
               gp_error *err)
{
    char dat_path[1100], gp_path[1100], log_path[1100];
    FILE *dat, *gp;
    int rc = open_files(prefix, &dat, &gp, dat_path, gp_path, log_path, err);
    if (rc < 0)
        return rc;
    for (size_t l = 0; l < n_lines; l++) {
        size_t shown = 0;
        bool gap = true; /* one blank line per gap: two would end the line's block */
        for (size_t i = 0; i < lines[l].n; i++) {
            if (isnan(lines[l].y[i]) || (spec->y_log && lines[l].y[i] <= 0)) {
                if (!gap)
                    fputs("\n", dat);
                gap = true;
                continue;
            }
            fprintf(dat, "%.10g %.10g\n", lines[l].x[i], lines[l].y[i]);
            gap = false;
            shown++;
        }
        if (!shown)
            fputs("NaN NaN\n", dat);
        fputs("\n\n", dat);
    }
    for (int svg = 0; svg < 2; svg++) {
        put_terminal(gp, prefix, svg);
        put_axes(gp, spec);
        if (spec->style == PLOT_BOXES) {
            double w = n_lines > 0 ? 0.8 / (double)n_lines : 0.8;
            fprintf(gp, "set style fill solid 0.7 border -1\nset boxwidth %.4g\n", w);
        }
        fputs("plot ", gp);
        for (size_t l = 0; l < n_lines; l++) {
            if (l)
                fputs(", ", gp);
            gnuplot_put_quoted(gp, dat_path);
            if (spec->style == PLOT_BOXES) {
                double w = 0.8 / (double)n_lines;
                fprintf(gp, " index %zu using ($1+%.4g):2 with boxes", l,
                        -0.4 + w / 2 + w * (double)l);
            } else {
                if (lines[l].dots)
                    fprintf(gp, " index %zu using 1:2 with points pt 7 ps 0.2", l);
                else
                    fprintf(gp, " index %zu using 1:2 with %s lw %s", l,
                            spec->style == PLOT_STEPS ? "steps" : "lines",
                            lines[l].n > 2000 ? "1" : "2"); /* thin when dense */
            }
            int c = lines[l].colour > 0 ? lines[l].colour - 1 : (int)(l % N_COLOURS);
            fprintf(gp, " lc rgb '%s' title ", colours[c % N_COLOURS]);
            gnuplot_put_quoted(gp, lines[l].name ? lines[l].name : "");
        }
        fputs("\n", gp);
    }
    return close_and_run(dat, gp, dat_path, gp_path, log_path, err);
}

int plot_bars(const char *prefix, const plot_spec *spec, const char *const *names,
              const double *mean, const double *half_width, size_t n, gp_error *err)
{
    char dat_path[1100], gp_path[1100], log_path[1100];
    FILE *dat, *gp;
    int rc = open_files(prefix, &dat, &gp, dat_path, gp_path, log_path, err);
    if (rc < 0)
        return rc;
    /* x, mean, half-width (0 when none), the name as a quoted tic label */
    for (size_t i = 0; i < n; i++) {
        fprintf(dat, "%zu %.10g %.10g \"", i, mean[i], isnan(half_width[i]) ? 0.0 : half_width[i]);
        for (const char *c = names[i]; *c; c++)
            if (*c != '"' && *c != '\\' && *c != '\n')
                fputc(*c, dat);
        fputs("\"\n", dat);
    }
    if (n == 0)
        fputs("0 NaN 0 \"\"\n", dat);
    for (int svg = 0; svg < 2; svg++) {
        put_terminal(gp, prefix, svg);
        put_axes(gp, spec);
        fprintf(gp,
                "set key off\nset style fill solid 0.7 border -1\nset boxwidth 0.6\n"
                "set xrange [-0.6:%zu.6]\nset xtics rotate by -20 noenhanced\n",
                n ? n - 1 : 0);
        fputs("plot ", gp);
        gnuplot_put_quoted(gp, dat_path);
        /* the bar, its interval, and its value written above it */
        fprintf(gp,
                " using 1:2:xtic(4) with boxes lc rgb '%s', '' using 1:2:3 with "
                "yerrorbars lc rgb '#000000' ps 0 lw 1.5, '' using 1:($2+$3):"
                "(sprintf('%%.3g', $2)) with labels offset 0,0.8\n",
                colours[0]);
    }
    return close_and_run(dat, gp, dat_path, gp_path, log_path, err);
}
