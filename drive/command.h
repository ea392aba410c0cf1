/* command.h: the driver's scale command (a local process pool instead of a Deployment).
 * `run` is split into words (whitespace; '...' or "..." group a word, no escapes, no
 * shell) unless `shell` asks for /bin/sh -c; "{replicas}" is replaced by the count. The
 * command gets a minimal environment: PATH=/usr/local/bin:/usr/bin:/bin (unless PATH is
 * passed), GPENLAB_REPLICAS=N, the variables named in pass_env copied from the driver's
 * environment and the NAME=value entries of set_env. stdin is /dev/null; stdout and
 * stderr are captured (apart from the driver's log, which may be the same stdout); it runs
 * in its own process group with the default signal dispositions and an empty mask. On its
 * timeout, or when cancel(ctx) turns true, the group gets SIGTERM, then SIGKILL after a
 * grace. Nothing here prints. */
#ifndef GP_DRIVE_COMMAND_H
#define GP_DRIVE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drive/io.h"

typedef struct command_spec {
    const char *run;
    bool shell;
    int64_t timeout_us;
    const char *const *pass_env; /* names */
    int n_pass_env;
    const char *const *set_env; /* "NAME=value" */
    int n_set_env;
} command_spec;

/* Checks `run` for the config: 0, or -1 with why (no {replicas}, unbalanced quote, no
 * words). */
int command_check(const char *run, bool shell, char *why, size_t why_len);

/* Runs the command for `replicas`. 0 when it exited with status 0; -1 with why otherwise
 * ("command exited with 3", "command killed by signal 9", "command timed out after 2 s",
 * "command stopped: the driver is stopping", a spawn error). `out` gets what it printed
 * (NUL-terminated, cut to out_len - 1 bytes; the rest is read and dropped). */
int command_run(const command_spec *s, int replicas, io_cancel_fn cancel, void *ctx, char *out,
                size_t out_len, char *why, size_t why_len);

#endif
