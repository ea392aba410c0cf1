/* plot.h: pictures drawn by gnuplot in a child process (posix_spawnp, no shell), each as
 * PREFIX.png and PREFIX.svg, from data written next to them (PREFIX.dat, PREFIX.gp are
 * kept so a picture can be redrawn by hand). gnuplot's own messages go to PREFIX.log.
 * GP_ENOTSUP when gnuplot is not on PATH (callers may then skip the picture); GP_EIO with
 * gnuplot's first error line otherwise. Nothing is kept in memory after a call. */
#ifndef GP_PLOT_H
#define GP_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* A point of a scatter; flag bits: 1 Pareto-optimal, 2 feasible, 4 the winner. */
typedef struct plot_xy {
    double x, y;
    int flag;
} plot_xy;

/* One named line of a chart; x and y have n values (NaN values are gaps). */
typedef struct plot_line {
    const char *name;
    const double *x, *y;
    size_t n;
    int colour; /* 1..8: that colour of the palette; 0: by the line's position */
    bool dots;  /* small dots instead of a line (a dense series under the lines) */
} plot_line;

typedef enum { PLOT_LINES = 0, PLOT_STEPS, PLOT_BOXES } plot_style;

typedef struct plot_spec {
    const char *title, *xlabel, *ylabel;
    plot_style style;
    bool y_from_zero;
    bool x_hours; /* x is in hours of the day: ticks every 2 h */
    bool y_log;   /* a logarithmic y axis (values <= 0 are not drawn) */
    double y_max; /* > 0: upper end of the y axis */
} plot_spec;

/* True when gnuplot can be found on PATH. */
bool plot_have_gnuplot(void);

/* Cost (x, GPU-hours) against P99 (y): every point, the front joined, the winner marked. */
int plot_pareto(const char *prefix, const char *title, const plot_xy *pts, size_t n, gp_error *err);

/* Lines (or steps, or boxes) of several series on one chart. */
int plot_lines(const char *prefix, const plot_spec *spec, const plot_line *lines, size_t n_lines,
               gp_error *err);

/* One bar per name with its 95% interval as an error bar (half-width NaN: none);
 * spec's style is ignored. */
int plot_bars(const char *prefix, const plot_spec *spec, const char *const *names,
              const double *mean, const double *half_width, size_t n, gp_error *err);

#endif
