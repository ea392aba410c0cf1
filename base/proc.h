/* proc.h: running a program without a shell, for the tests and the benchmarks (the one
 * process helper they share). The argv vector is executed as it is: argv[0] is searched on
 * PATH when it has no '/', and no word is ever read by a shell, so a path or value with a
 * quote, a space or a ';' needs no quoting and runs nothing.
 * - Options: a working directory; stdin from a file (default /dev/null); stdout and stderr
 *   each dropped (the default), inherited, captured into a growing buffer, written to a
 *   file, or stderr merged into stdout; NAME=value entries added to the environment
 *   (replacing a variable of that name); a process group of its own; another user id
 *   (root only); a timeout after which the child (its group when it has one) gets
 *   SIGKILL, reported as timed_out. The child starts with the default dispositions of
 *   the usual signals (SIGPIPE, SIGINT, SIGTERM, ...) and an empty signal mask.
 * - Every path in the spec (program, stdin, output files) is taken from the caller's
 *   directory, not from cwd, and the files are opened before the program starts.
 * - gp_proc_run starts the program and waits for it. gp_proc_start returns at once: for a
 *   server the caller stops (gp_proc_signal, gp_proc_stop), or for reading a child's stdout
 *   line by line as it comes (gp_proc_read_line), without holding all of it.
 * - Returns 0 or a negative GP_E* code with err naming the program: GP_EMISSING when it is
 *   not found (how a caller tells "not installed"), GP_EIO when it cannot be started (a
 *   file, fork, exec, chdir), GP_ENOMEM. How it ended is in gp_proc_result. Nothing here
 *   prints. Not thread-safe against other threads starting processes at the same time
 *   (their children could inherit these pipes). */
#ifndef GP_PROC_H
#define GP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

typedef enum gp_proc_io {
    GP_PROC_NULL = 0, /* /dev/null (the default) */
    GP_PROC_INHERIT,  /* the caller's own stream */
    GP_PROC_CAPTURE,  /* a pipe, read into the result (stdout: or by gp_proc_read_line) */
    GP_PROC_FILE,     /* out_path / err_path: created (0644), truncated unless append */
    GP_PROC_STDOUT    /* stderr only: wherever stdout goes (2>&1) */
} gp_proc_io;

typedef struct gp_proc_spec {
    const char *const *argv; /* NULL-terminated; argv[0] is the program */
    const char *cwd;         /* the program's working directory; NULL: the caller's */
    const char *stdin_path;  /* NULL: /dev/null */
    gp_proc_io out, err;
    const char *out_path, *err_path;
    bool append;                /* GP_PROC_FILE appends instead of truncating */
    const char *const *env;     /* NULL-terminated "NAME=value" entries added, or NULL */
    int64_t timeout_ms;         /* > 0: SIGKILL this long after the start; 0: none */
    bool own_group;             /* its own process group: the timeout, gp_proc_signal and
                                   gp_proc_stop reach every process of it */
    unsigned run_as_uid;        /* > 0: run as this user (uid and gid; the caller is root) */
    size_t capture_limit_bytes; /* per captured stream held, 0: 64 MiB; more is read and
                                   dropped (truncated); a line reader holds a line and a
                                   64 KiB chunk at most */
} gp_proc_spec;

typedef struct gp_proc_result {
    bool exited; /* it exited, with exit_code */
    int exit_code;
    int signal_no;   /* the signal that ended it; 0 when it exited */
    bool timed_out;  /* ended by the spec's timeout (signal_no is SIGKILL) */
    char *out, *err; /* captured output, NUL-terminated (NULL when not captured);
                            freed by gp_proc_result_free */
    size_t out_len, err_len;
    bool truncated; /* a captured stream went past capture_limit_bytes */
} gp_proc_result;

typedef struct gp_proc gp_proc;

/* The executable that `prog` names: prog itself when it has a '/', else the first
 * executable regular file prog in path_var (a PATH value; NULL: the environment's PATH, or
 * /usr/local/bin:/usr/bin:/bin without one; an empty entry is "."). 0 with its path in
 * out, or GP_EMISSING (also when it does not fit in cap). */
int gp_proc_find(const char *prog, const char *path_var, char *out, size_t cap);

/* Runs s->argv and waits for it to end (or for its timeout). 0 with r filled (free it with
 * gp_proc_result_free), or < 0 with err set when it could not be started (r is then
 * empty). */
int gp_proc_run(const gp_proc_spec *s, gp_proc_result *r, gp_error *err);

/* Starts s->argv and returns at once with *out (free it with gp_proc_free). */
int gp_proc_start(const gp_proc_spec *s, gp_proc **out, gp_error *err);
pid_t gp_proc_pid(const gp_proc *p);

/* The next line of its stdout (s->out == GP_PROC_CAPTURE), without the newline, NUL-
 * terminated, valid until the next call; its length in *len (may be NULL). NULL at the
 * end of its output, or at the timeout (the child is then killed: gp_proc_wait says
 * timed_out). A last line without a newline is returned too. */
const char *gp_proc_read_line(gp_proc *p, size_t *len);

/* Sends sig to it (to its group with own_group). 0, or -1 (errno) when it has ended. */
int gp_proc_signal(gp_proc *p, int sig);

/* Waits until it ends, at most wait_ms (< 0: without a limit of its own); the spec's
 * timeout still applies. 1 when it has ended: r is filled, with what its captured streams
 * held (the first time; later calls give the status alone). 0 while it still runs. */
int gp_proc_wait(gp_proc *p, int64_t wait_ms, gp_proc_result *r);

/* SIGTERM, then SIGKILL after grace_ms if it has not ended; waits for it and fills r as
 * gp_proc_wait does (r may be NULL). */
void gp_proc_stop(gp_proc *p, int64_t grace_ms, gp_proc_result *r);

/* Frees p; a child still running gets SIGKILL (its group with own_group) and is reaped. */
void gp_proc_free(gp_proc *p);

/* Frees the captured output; r is left empty. */
void gp_proc_result_free(gp_proc_result *r);

/* It exited with status 0. */
bool gp_proc_ok(const gp_proc_result *r);

/* How it ended, for a message: "exit 3", "killed by signal 9", "timed out (killed)". */
void gp_proc_describe(const gp_proc_result *r, char *out, size_t cap);

#endif
