/* reproduce.h: the seed article's two comparison tables, rerun in gpenlab and printed in
 * the article's own shape: each row with the article's figure, gpenlab's mean with its
 * 95% interval over replications, and the difference, then notes saying which modelling
 * assumption would have to change for the article's figure to hold.
 * It runs (or resumes: lab.h) the five experiments/article_table{1,2}_*.yaml files into
 * one results database and reads back runs, series and per-request rows. It owns
 * nothing after it returns; errors name the experiment file or the database. */
#ifndef GP_REPRODUCE_H
#define GP_REPRODUCE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"

typedef struct reproduce_opts {
    const char *exp_dir;      /* where article_table*.yaml are ("experiments") */
    const char *db_path;      /* NULL: results/article.db (or results/article-<card>.db) */
    const char *profile_path; /* NULL: each file's profile (t4-seed); else this profile */
    int replications;         /* 0: each file's */
    bool progress;            /* progress bars on stderr */
    volatile sig_atomic_t *stop;
} reproduce_opts;

void reproduce_opts_default(reproduce_opts *o);

/* Runs the experiments and prints both tables and the notes to `out`. */
int reproduce_run(const reproduce_opts *o, FILE *out, gp_error *err);

/* The five experiment files, relative to exp_dir, NULL-terminated. */
const char *const *reproduce_files(void);

#endif
