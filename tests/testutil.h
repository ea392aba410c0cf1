/* testutil.h: what the cmocka tests share (tests/testutil.c, linked into every test
 * binary). Helpers that can fail end the running test with fail_msg naming the file;
 * the ones used from cmocka group setups return 0 / -1 instead.
 * - files: the whole file (base/fileio.h's reader), its first line, writing a text file;
 * - a temporary directory per test group, removed with everything in it;
 * - the bad-input loop: every DIR/PREFIX*SUFFIX with a line "# expect: ERROR" must be
 *   refused with that error (bad configurations: DIR/PREFIX*.yaml as YAML trees);
 * - a small GPU profile from its text, a request list as a simulation's arrivals, one
 *   policy decision;
 * - failing a test with a gp_error formatted as the program prints it;
 * - a report page's figures (html_report.h's data-* attributes) and the means they must
 *   equal, computed from a results database in SQL. */
#ifndef GP_TESTUTIL_H
#define GP_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cfg.h"
#include "base/error.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "traces/trace.h"

/* The whole file, NUL-terminated (caller frees); NULL if it cannot be read. */
char *tu_slurp(const char *path);
/* The same with its length (binary files); fails the test if it cannot be read. */
uint8_t *tu_slurp_bytes(const char *path, size_t *len);
/* The first line, without its newline, into buf; fails the test if unreadable. */
void tu_first_line(const char *path, char *buf, size_t len);
/* Writes text to path (replacing it); fails the test on error. */
void tu_write_text(const char *path, const char *text);

/* The program NAME beside $GPENLAB_BIN (the build's gpenlab; default build/gpenlab), for
 * the tests of the other programs of one build (gpenlab-worker, gpenlab-gpu-nocuda, ...). */
void tu_bin_path(const char *name, char *buf, size_t len);
/* Runs a shell command; what it writes to stdout (add 2>&1 for stderr) into out,
 * NUL-terminated, cut at cap - 1 bytes. Returns its exit status; fails the test when a
 * signal ended it. */
int tu_run(const char *cmd, char *out, size_t cap);

/* Makes /tmp/gpenlab-NAME-XXXXXX into buf (for a group setup). 0, or -1. */
int tu_mkdtemp(char *buf, size_t len, const char *name);
/* Removes path and everything below it, without a shell (for a group teardown). 0, or -1. */
int tu_rm_rf(const char *path);

/* A parsed GPU profile from its text (caller frees); fails the test on a parse error. */
gpu_profile *tu_profile(const char *text);

/* An open-loop source over a fixed list of requests, for a sim_cfg's open_source hook:
 * cfg.open_source = tu_open_list, cfg's context = a tu_list. */
typedef struct tu_list {
    const request_spec *specs;
    size_t n;
} tu_list;
int tu_open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err);

/* One decide() of a policy; fails the test if it returns an error. */
policy_decision tu_decide(const policy_ops *ops, void *st, const policy_obs *o);

/* Fails the test with "WHAT: FILE:LINE:COL: FIELD: message". */
void tu_fail_error(const gp_error *e, const char *what) __attribute__((noreturn));

/* Refuses an input file: returns < 0 with err filled. */
typedef int (*tu_refuse_path_fn)(const char *path, void *ctx, gp_error *err);
/* Every DIR/PREFIX*SUFFIX names the error it must get in a line "# expect: ERROR"; refuse
 * must fail on it with an error equal to ERROR (exact) or starting with it. Fails the test
 * on an accepted file, another error, or fewer than min_files such files ("only N WHAT
 * found"). */
void tu_check_bad_files(const char *dir, const char *prefix, const char *suffix, bool exact,
                        int min_files, const char *what, tu_refuse_path_fn refuse, void *ctx);

/* Refuses a configuration: returns < 0 with err filled (the config's root is given). */
typedef int (*tu_refuse_fn)(const cfg_node *root, void *ctx, gp_error *err);
/* tu_check_bad_files over DIR/PREFIX*.yaml: each is loaded and its root handed to refuse;
 * the error must start with the expected one. */
void tu_check_bad_configs(const char *dir, const char *prefix, int min_files,
                          tu_refuse_fn refuse, void *ctx);

/* The opening tag of page that holds marker (e.g. "data-point=\"2\""), malloc'd; NULL if
 * none. */
char *tu_tag_with(const char *page, const char *marker);
/* Attribute `name` of a tag: its text (malloc'd; NULL when absent), or as a number (NaN
 * when absent or empty). tag may be NULL. */
char *tu_attr(const char *tag, const char *name);
double tu_attr_num(const char *tag, const char *name);
/* AVG(expr) over the runs of experiment exp_name (of one label, unless NULL) in the
 * results database at db_path, opened read-only; NaN when there are none. */
double tu_db_mean(const char *db_path, const char *exp_name, const char *label,
                  const char *expr);

#endif
