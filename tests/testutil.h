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
 *   equal, computed from a results database in SQL;
 * - running programs without a shell (base/proc.h): the build's programs (gpenlab,
 *   gpenlab-worker, ...) and the tools a test needs, failing the test when one cannot
 *   start, crashes or hangs. */
#ifndef GP_TESTUTIL_H
#define GP_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cfg.h"
#include "base/error.h"
#include "base/proc.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "sim/result.h"
#include "traces/trace.h"

/* The whole file, NUL-terminated (caller frees); NULL if it cannot be read. */
char *tu_slurp(const char *path);
/* The same with its length (binary files); fails the test if it cannot be read. */
uint8_t *tu_slurp_bytes(const char *path, size_t *len);
/* The first line, without its newline, into buf; fails the test if unreadable. */
void tu_first_line(const char *path, char *buf, size_t len);
/* Writes text to path (replacing it); fails the test on error. */
void tu_write_text(const char *path, const char *text);

/* Makes /tmp/gpenlab-NAME-XXXXXX into buf (for a group setup). 0, or -1. */
int tu_mkdtemp(char *buf, size_t len, const char *name);
/* Removes path and everything below it, without a shell (for a group teardown). 0, or -1. */
int tu_rm_rf(const char *path);

/* A parsed GPU profile from its text (caller frees); fails the test on a parse error. */
gpu_profile *tu_profile(const char *text);
/* The text of a test card: one constant image stage of service_ms ("jitter": none,
 * exponential, lognormal CV), linear eff (each of n requests at full speed), gpu_mem_mib
 * with a 1000 MiB model, a request's memory rising linearly from req_mem_1 MiB at 1 MP to
 * req_mem_24 at 24 MP (and on beyond), a pod start of cold_s. */
void tu_card_text(char *buf, size_t cap, const char *name, double service_ms, const char *jitter,
                  double gpu_mem_mib, double req_mem_1, double req_mem_24, double cold_s);

/* An open-loop source over a fixed list of requests, for a sim_cfg's open_source hook:
 * cfg.open_source = tu_open_list, cfg's context = a tu_list. */
typedef struct tu_list {
    const request_spec *specs;
    size_t n;
} tu_list;
int tu_open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err);

/* An open-loop Poisson source (constant rate, an image mix) for a sim_cfg's open_source:
 * cfg.open_source = tu_open_poisson, cfg's context = a tu_poisson. */
typedef struct tu_poisson {
    double rate_per_s;
    int64_t duration_us;
    image_mix mix;
} tu_poisson;
int tu_open_poisson(void *ctx, uint64_t seed, arrival_src **out, gp_error *err);

/* The row of request `id` in a run's request log; fails the test if there is none. */
const request_row *tu_row_of(const request_log *log, uint64_t id);

/* Where scripts/install_live_deps.sh puts the Kubernetes schema models, and whether the
 * schema check (node tests/schemas/validate.mjs TU_NODE_MODULES FILE...) can run; when
 * not, a SKIP line says what it needs. */
#define TU_NODE_MODULES "build-node/node_modules"
bool tu_have_schema_check(void);
/* Checks manifests against the official schemas: each of `paths` (NULL-terminated) is a
 * file, or a directory whose *.yaml files (recursively, but not drive.yaml, the driver's
 * config) are taken in name order. Fails the test, with the checker's output, when the check
 * fails or fewer than min_ok manifests pass; returns how many were checked. */
int tu_expect_schemas_ok(const char *const *paths, int min_ok);
/* Whether the schema check passes the one manifest `path` (for known-bad files). */
bool tu_schema_accepts(const char *path);

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
void tu_check_bad_configs(const char *dir, const char *prefix, int min_files, tu_refuse_fn refuse,
                          void *ctx);

/* The opening tag of page that holds marker (e.g. "data-point=\"2\""), malloc'd; NULL if
 * none. */
char *tu_tag_with(const char *page, const char *marker);
/* Attribute `name` of a tag: its text (malloc'd; NULL when absent), or as a number (NaN
 * when absent or empty). tag may be NULL. */
char *tu_attr(const char *tag, const char *name);
double tu_attr_num(const char *tag, const char *name);
/* AVG(expr) over the runs of experiment exp_name (of one label, unless NULL) in the
 * results database at db_path, opened read-only; NaN when there are none. */
double tu_db_mean(const char *db_path, const char *exp_name, const char *label, const char *expr);

/* A program of this build: NAME beside $GPENLAB_BIN (scripts/run_tests.sh sets it; else
 * build/gpenlab), as an absolute path into out; fails the test when it is not there. */
void tu_bin_path(const char *name, char *buf, size_t len);

/* Whether a tool is installed (on PATH): a test that needs one skips without it. */
bool tu_have_cmd(const char *cmd);

/* gp_proc_run / gp_proc_start that fail the test when the program cannot start (naming it
 * and why). Free the result with gp_proc_result_free, the process with gp_proc_free. */
gp_proc_result tu_proc_run(const gp_proc_spec *s);
gp_proc *tu_proc_start(const gp_proc_spec *s);
/* Starts argv in the background (a server a test stops: gp_proc_stop) with its stdout and
 * stderr appended to the file log; fails the test if it cannot start. */
gp_proc *tu_proc_start_log(const char *const *argv, const char *log);

/* The build's program `name` (tu_bin_path) with args (argv[1..], NULL-terminated) in dir (NULL:
 * the test's), stdin /dev/null, stdout and stderr captured apart (neither is a terminal),
 * under a 10-minute timeout. more (may be NULL) adds its env and run_as_uid, and with err
 * = GP_PROC_STDOUT merges stderr into out. Fails the test when it cannot start, is killed
 * by a signal or times out: a crash or a hang is never an answer. tu_gpenlab: the gpenlab
 * program. */
gp_proc_result tu_run_bin(const char *name, const char *dir, const char *const *args,
                          const gp_proc_spec *more);
gp_proc_result tu_gpenlab(const char *dir, const char *const *args);

/* args joined by spaces into buf (cut to cap), for a message; returns buf. */
const char *tu_words(const char *const *args, char *buf, size_t cap);

#endif
