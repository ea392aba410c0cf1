/* gnuplot.h: running gnuplot on a script, for every picture gnuplot draws (trace
 * profiles, run and sweep plots). gnuplot_run spawns `gnuplot SCRIPT` (found on PATH),
 * sends its stderr to errlog and waits. It formats no message: callers word their own.
 * gnuplot_put_quoted writes a string as a gnuplot single-quoted literal. */
#ifndef GP_GNUPLOT_H
#define GP_GNUPLOT_H

#include <stddef.h>
#include <stdio.h>

typedef struct gnuplot_result {
    int spawn_errno; /* 0, or why it could not start (ENOENT: not on PATH) */
    int wait_errno;  /* 0, or why waiting failed */
    int exited;      /* 1: exited with exit_code; 0: killed by signal_no */
    int exit_code;
    int signal_no;
    char first_error[256]; /* the first non-blank line gnuplot wrote to stderr */
} gnuplot_result;

/* 0 when gnuplot ran and exited 0; -1 otherwise (see r). */
int gnuplot_run(const char *script, const char *errlog, gnuplot_result *r);
void gnuplot_put_quoted(FILE *f, const char *s);

#endif
