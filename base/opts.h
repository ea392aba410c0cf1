/* opts.h: the one option parser of every gpenlab program (gpenlab, gpenlab-worker,
 * -loadgen, -promlite, gpenlab-gpu). A command describes its options in a table (name,
 * kind, where the value goes) and its positional arguments, and cli_parse walks argv once:
 *   --name VALUE, --name=VALUE, -x VALUE, -xVALUE (a one-letter option), flags;
 *   an argument that does not start with '-' (or is "-" alone) is positional.
 * Errors are one gp_error each, the option as the field: "--seed: expected an integer in
 * [0, 2147483647], got \"x\"", "--db: needs a value", "--quiet: takes no value"; the
 * unknown-option and extra-argument messages are the command's own (cli_spec). With
 * `help` set, -h or --help anywhere prints it to `out` and cli_parse returns 1.
 * Only argv strings are stored (no copies): they live as long as argv. */
#ifndef GP_BASE_OPTS_H
#define GP_BASE_OPTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

typedef enum cli_kind {
    CLI_FLAG,  /* bool *: set to true; takes no value */
    CLI_SET,   /* long *: set to `lo`; takes no value (e.g. --once = --ticks 1) */
    CLI_STR,   /* const char **: the value */
    CLI_LONG,  /* long *: a decimal integer in [lo, hi] */
    CLI_INT,   /* int *: the same, lo and hi within int */
    CLI_VALUE, /* parse(name, value, out, err): the command's own reading of the value */
} cli_kind;

typedef int (*cli_value_fn)(const char *name, const char *value, void *out, gp_error *err);

typedef struct cli_opt {
    const char *name;  /* "--db" or "-j"; NULL ends the table */
    const char *alias; /* another spelling ("-o" for "--out"), or NULL */
    cli_kind kind;
    void *out;
    long lo, hi;        /* CLI_LONG, CLI_INT: the range; CLI_SET: the value */
    cli_value_fn parse; /* CLI_VALUE */
} cli_opt;

typedef struct cli_spec {
    const cli_opt *opts;
    /* A second table, searched after opts: options several commands share (gpenlab-gpu's
     * weights and kernels); NULL for none. */
    const cli_opt *shared;
    /* Positional arguments fill pos[0..n_pos) in order (unset ones stay as they were). */
    const char **pos;
    size_t n_pos;
    /* Unknown option: GP_EUNKNOWN with this message. With a "%s" in it the option goes
     * there and the error has no field; without, the option is the error's field. */
    const char *unknown;
    /* A positional argument beyond n_pos: GP_EPARSE with this message (no field; a "%s" in
     * it is the argument); with NULL, extra_fn decides; with both NULL it counts as an
     * unknown option. */
    const char *too_many;
    int (*extra_fn)(const char *const *pos, const char *arg, gp_error *err);
    const char *help; /* printed for -h / --help; NULL: those are unknown options */
} cli_spec;

/* The programs' wording for cli_spec.unknown and .too_many. */
#define CLI_UNKNOWN_OPTION      "unknown option \"%s\""
#define CLI_UNEXPECTED_ARGUMENT "unexpected argument \"%s\""

/* Parses argv[1..argc) (argv[0] is the command's name). Returns 0, 1 when the help was
 * printed to out, or a negative GP_E* code with err filled. */
int cli_parse(int argc, char **argv, const cli_spec *spec, FILE *out, gp_error *err);

/* A program's commands, chosen by the first word (gpenlab-loadgen replay, ...). */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command's word; the exit code */
} cli_command;

/* Runs the command argv[1] names with argc - 1, argv + 1 and returns its exit code.
 * Without a word: the usage on err_out, 2; "-h", "--help" or "help": the usage on out, 0;
 * an unknown word: one line on err_out, "PROG: unknown command \"x\" (a, b, c)", 2. */
int cli_dispatch(const char *prog, int argc, char **argv, const cli_command *cmds, size_t n_cmds,
                 const char *usage, FILE *out, FILE *err_out);

/* Writes "PROG: <err formatted>" as one line to f, the programs' error line; returns
 * exit_code. */
int cli_report(FILE *f, const char *prog, const gp_error *err, int exit_code);

/* CLI_VALUE readers of a number (the whole string, finite), with the range in their
 * name; a bad value is GP_ERANGE "expected a number > 0, got \"x\"" on the option. */
int cli_positive(const char *name, const char *value, void *out_double, gp_error *err);
int cli_nonneg(const char *name, const char *value, void *out_double, gp_error *err);

/* Catches SIGINT and SIGTERM (without SA_RESTART, so a blocking call returns EINTR) and
 * returns the flag they set: `run` and `sweep` stop between units of work and exit 130. */
volatile sig_atomic_t *cli_stop_on_signals(void);

#endif
