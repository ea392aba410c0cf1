/* reproduce.h: the seed article's two comparison tables (docs/seed-article.md), rerun in
 * gpenlab and printed in the article's own shape: each row with the article's figure,
 * gpenlab's mean with its 95% interval over replications, whether the article's figure
 * lies within that interval, and the difference; then notes saying which modelling
 * assumption would have to change for the article's figure to hold.
 * It runs (or resumes: lab.h) the five experiments/article_table{1,2}_*.yaml files into
 * one results database and reads back runs, series and per-request rows. With html_path
 * it also writes the page (html_report.h): these tables, then every experiment and sweep
 * of the database. It owns nothing after it returns; errors name the experiment file or
 * the database. */
#ifndef GP_REPRODUCE_H
#define GP_REPRODUCE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "sim/stats.h"

typedef struct reproduce_opts {
    const char *exp_dir;      /* where article_table*.yaml are ("experiments") */
    const char *db_path;      /* NULL: results/article.db (or results/article-<card>.db) */
    const char *profile_path; /* NULL: each file's profile (t4-seed); else this profile */
    int replications;         /* 0: each file's */
    bool progress;            /* progress bars on stderr */
    volatile sig_atomic_t *stop;
    const char *html_path;  /* NULL: no page */
    const char *assets_dir; /* the page's pictures are kept here (NULL: not kept) */
    const char *title;      /* the page's title (NULL: a default) */
} reproduce_opts;

void reproduce_opts_default(reproduce_opts *o);

/* Runs the experiments and prints both tables and the notes to `out`. */
int reproduce_run(const reproduce_opts *o, FILE *out, gp_error *err);

/* The five experiment files, relative to exp_dir, NULL-terminated. */
const char *const *reproduce_files(void);

/* ---------- the tables, as data (for the page) ---------- */

/* One figure of the article beside gpenlab's. The article's figure is compared as an
 * interval: its rounding (2.8 s: 2.75..2.85), its range (8-12 s) or its bound (> 35%);
 * stars k/5 as k +- 0.5. */
typedef struct reproduce_row {
    char id[48];     /* a stable key, "t1.p99_s.static" */
    const char *row; /* "" continues the row above */
    const char *column;
    const char *article;           /* as docs/seed-article.md gives it; "-" when it has none */
    double article_value;          /* the number the difference is taken from (NaN: none) */
    double article_lo, article_hi; /* NaN: nothing to compare */
    stat_summary got;              /* n == 0: gpenlab has no such figure */
    int decimals;
    char note[96]; /* after the difference; may be empty */
} reproduce_row;

#define REPRODUCE_MAX_ROWS 32

typedef struct reproduce_table {
    char title[200];
    reproduce_row row[REPRODUCE_MAX_ROWS];
    size_t n;
    char *notes; /* what the article's figures need, as printed (malloc'd) */
} reproduce_table;

enum { REPRODUCE_T1 = 0, REPRODUCE_T1_CLAIMS, REPRODUCE_T2, REPRODUCE_TABLES };

typedef struct reproduce_result {
    char card[128], provenance[64], db_path[1024];
    char replications[256]; /* "table 1 tidal 10, users 5, ..." */
    reproduce_table table[REPRODUCE_TABLES];
} reproduce_result;

void reproduce_result_free(reproduce_result *r);

/* "yes" when the article's interval meets gpenlab's mean +- half-width (a figure with no
 * interval as a point), "no" when not, "-" when either has no number. */
const char *reproduce_within(const reproduce_row *r);

#endif
