/* trace_plot.c: the hour-of-day profile as a PNG, drawn by gnuplot in a child process
 * (posix_spawnp: no shell, so file names need no shell quoting). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/gnuplot.h"
#include "traces/trace.h"

static int write_files(const trace_stats *st, const char *title, const char *png_path,
                       const char *dat, const char *gp, gp_error *err)
{
    FILE *f = fopen(dat, "w");
    if (!f)
        return gp_error_set(err, GP_EIO, dat, 0, 0, NULL, "cannot write: %s", strerror(errno));
    for (int h = 0; h < 24; h++)
        fprintf(f, "%d %.6g\n", h,
                st->hour_days[h] > 0 ? st->hour_counts[h] / st->hour_days[h] : 0.0);
    if (fclose(f) != 0)
        return gp_error_set(err, GP_EIO, dat, 0, 0, NULL, "cannot write: %s", strerror(errno));
    f = fopen(gp, "w");
    if (!f)
        return gp_error_set(err, GP_EIO, gp, 0, 0, NULL, "cannot write: %s", strerror(errno));
    fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
          "    set terminal pngcairo size 960,540\n"
          "} else {\n"
          "    set terminal png size 960,540\n"
          "}\n",
          f);
    fputs("set output ", f);
    gnuplot_put_quoted(f, png_path);
    fputs("\nset title ", f);
    gnuplot_put_quoted(f, title);
    fputs(" noenhanced\n"
          "set xlabel 'hour of day (the trace''s own clock)'\n"
          "set ylabel 'requests per hour (mean over days)'\n"
          "set xrange [-0.5:23.5]\nset xtics 0,2,23\nset yrange [0:*]\nset grid ytics\n"
          "set style fill solid 0.6 border -1\nset boxwidth 0.8\n"
          "plot ",
          f);
    gnuplot_put_quoted(f, dat);
    fputs(" using 1:2 with boxes notitle\n", f);
    if (fclose(f) != 0)
        return gp_error_set(err, GP_EIO, gp, 0, 0, NULL, "cannot write: %s", strerror(errno));
    return 0;
}

static int run_gnuplot(const char *gp, const char *errlog, gp_error *err)
{
    gnuplot_result r;
    if (gnuplot_run(gp, errlog, &r) == 0)
        return 0;
    if (r.spawn_errno == ENOENT || (r.exited && r.exit_code == 127))
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "--plot",
                            "gnuplot not found on PATH: install gnuplot, or leave out --plot");
    if (r.spawn_errno)
        return gp_error_set(err, r.spawn_errno == ENOMEM ? GP_ENOMEM : GP_EIO, NULL, 0, 0, "--plot",
                            "cannot run gnuplot: %s", strerror(r.spawn_errno));
    if (r.wait_errno)
        return gp_error_set(err, GP_EIO, NULL, 0, 0, "--plot", "waiting for gnuplot: %s",
                            strerror(r.wait_errno));
    return gp_error_set(err, GP_EIO, NULL, 0, 0, "--plot", "gnuplot failed (%s %d)%s%s",
                        r.exited ? "exit" : "signal", r.exited ? r.exit_code : r.signal_no,
                        r.first_error[0] ? ": " : "", r.first_error);
}

int trace_plot_profile(const trace_stats *st, const char *title, const char *png_path,
                       gp_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/gpenlab-plot-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return gp_error_set(err, GP_EIO, dir, 0, 0, NULL, "cannot make a temporary directory: %s",
                            strerror(errno));
    char dat[600], gp[600], log[600];
    snprintf(dat, sizeof(dat), "%s/profile.dat", dir);
    snprintf(gp, sizeof(gp), "%s/profile.gp", dir);
    snprintf(log, sizeof(log), "%s/gnuplot.err", dir);
    int rc = write_files(st, title, png_path, dat, gp, err);
    if (rc == 0)
        rc = run_gnuplot(gp, log, err);
    unlink(dat);
    unlink(gp);
    unlink(log);
    rmdir(dir);
    return rc;
}
