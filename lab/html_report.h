/* html_report.h: one self-contained HTML page from a results database: for every
 * experiment, the comparison table (every metric of lab/run_metrics.h as a mean with its
 * 95% interval, the cost in the experiment's currency) and pictures
 * drawn by gnuplot (plot.h) from the stored series and request rows of replication 0:
 * load and pods over the day per policy, queue length, latency over the day (P50 and P99
 * per scrape), GPU utilisation per hour, cold starts per hour, latency CDFs (when request
 * rows were kept), and the cost per policy; for every sweep (sweep_summary.h: the same
 * analysis `gpenlab sweep` prints), its points with objective, feasibility, cost, the
 * paired CI against the winner and the winner, and the Pareto front; with `article`, the
 * seed article's tables beside gpenlab's first (reproduce.h).
 * The figures carry what they are as data-* attributes, so a check can read the page:
 *   experiment tables  <table data-experiment=NAME>, rows <tr data-label data-policy
 *                      data-n>, cells <td data-metric=METRIC data-mean data-hw>
 *   sweep tables       <table data-sweep=NAME data-objective data-sense>, rows <tr
 *                      data-point=N data-feasible data-surely data-pareto data-winner (0/1)>
 *   article rows       <tr data-row-id data-article-lo data-article-hi data-mean data-hw
 *                      data-within=yes|no|->
 *   pictures           <figure data-chart=load|pods|queue|latency|util|cold|cdf|cost
 *                      data-experiment=NAME>, <figure data-chart=pareto data-sweep=NAME
 *                      data-winner=pNNNN>
 * Numbers are exact ("%.17g"; "" for none). Pictures are inlined as SVG, so the page
 * opens offline with no other file. PNG and SVG copies stay in assets_dir when given.
 * Without gnuplot the page has the tables and says the pictures are missing. */
#ifndef GP_HTML_REPORT_H
#define GP_HTML_REPORT_H

#include "base/error.h"

struct reproduce_result;

typedef struct html_report_opts {
    const char *db_path;
    const char *out_path;   /* the HTML file (written atomically) */
    const char *assets_dir; /* NULL: pictures in a temporary directory, removed after */
    const char *title;      /* NULL: "gpenlab report: DB" */
    const struct reproduce_result *article; /* NULL: no article section */
} html_report_opts;

/* Writes the page. *n_pictures (may be NULL) gets the number of pictures inlined. */
int html_report_write(const html_report_opts *o, int *n_pictures, gp_error *err);

#endif
