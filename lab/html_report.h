/* html_report.h: one self-contained HTML page from a results database: for every
 * experiment, the comparison table (means with 95% intervals) and pictures drawn by
 * gnuplot (plot.h) from the stored series and request rows of replication 0: load and
 * pods over the day per policy, queue length, latency CDFs (when request rows were kept),
 * GPU utilisation per hour, cold starts per hour; for every sweep (table sweep_points,
 * sweep.h), its points and the Pareto front. Pictures are inlined as SVG, so the page
 * opens offline with no other file. PNG and SVG copies stay in assets_dir when given.
 * Without gnuplot the page has the tables and says the pictures are missing. */
#ifndef GP_HTML_REPORT_H
#define GP_HTML_REPORT_H

#include "base/error.h"

typedef struct html_report_opts {
    const char *db_path;
    const char *out_path;    /* the HTML file (written atomically) */
    const char *assets_dir;  /* NULL: pictures in a temporary directory, removed after */
    const char *title;       /* NULL: "gpenlab report: DB" */
} html_report_opts;

/* Writes the page. *n_pictures (may be NULL) gets the number of pictures inlined. */
int html_report_write(const html_report_opts *o, int *n_pictures, gp_error *err);

#endif
