/* results_db.h: the SQLite store of experiments, their runs and the sweeps. It owns
 * the schema and every query: no other file runs SQL on a results database (the
 * connection itself is exposed for tests only).
 *
 * Writing, so that a rerun resumes: a run is written in one transaction (all of it or
 * nothing), keyed by a caller-chosen run_key; results_db_run_exists tells which runs are
 * already done, and checks a stored run's totals (conservation) before it is counted.
 * A writer (results_db_open) opens with WAL, synchronous=FULL, foreign keys on, a 10 s busy
 * timeout. Before anything is written it
 *   - refuses a file that is not a gpenlab results database: not SQLite (GP_EIO, "not a
 *     database"), or another application's SQLite file (GP_ENOTSUP, naming its tables);
 *     an empty file, a new path or an older gpenlab file is fine;
 *   - takes the writer lock, flock(2) on "<path>-lock" beside the file, held until
 *     results_db_close: a second writer is refused at once (GP_EBUSY), before it simulates
 *     anything. Processes forked after the open share the lock (sweep -j N); such a
 *     process opens its own connection with results_db_open_worker.
 * Reading (results_db_open_read: report, export) creates, locks and writes nothing, so it
 * works on a read-only file or directory and leaves the file's bytes as they were; an
 * older schema reads the columns it lacks as NULL (NaN, 0, "").
 * A results_db is one connection; not thread-safe. Errors name the database path and carry
 * sqlite3_errmsg.
 *
 * Schema (user_version 1, application_id 0x6770656e "gpen"; files written before the
 * application_id are recognised by their tables):
 *   experiments(id INTEGER PRIMARY KEY, name, file, yaml_text, profile_text, ident,
 *               created_at (UTC ISO 8601), gpenlab_version, overlays, inputs,
 *               UNIQUE(name, ident))
 *               ident = 64-bit FNV-1a hash of yaml_text NUL profile_text (then, when
 *               not empty, overlays and inputs), in hex;
 *   runs(id INTEGER PRIMARY KEY, experiment_id -> experiments, run_key TEXT UNIQUE,
 *        then one column per run_summary field, named as the field: label, policy,
 *        replication, seed, span_us, arrived, completed, timed_out, rejected,
 *        in_flight_end, rejected_too_large, rejected_no_capacity, rejected_drain_killed,
 *        requeued, lat_mean_s .. lat_max_s, quantile_rel_error, slo_s, slo_frac,
 *        pod_starts, cold_waited, scale_events, gpu_seconds, busy_gpu_seconds,
 *        utilisation, cost, mean_pods, max_pods_seen, events, wall_s);
 *   series(run_id -> runs, seq, t_us, arrival_rate_per_s, queue_len, in_flight,
 *          pods_pending, pods_starting, pods_ready, pods_draining, pods_gone, desired,
 *          gpu_mem_frac, gpu_util_frac, lat_p50_s, lat_p95_s, lat_p99_s; PK(run_id, seq));
 *   requests(run_id -> runs, id, arrival_us, start_us, end_us, pod_id, mp, faces, cold,
 *            outcome, demand_s; PK(run_id, id); optional: only when a log is given);
 *   run_pools(run_id -> runs, pool, then one column per pool_result field: name, card,
 *            spot, max_pods_seen, pod_starts, preemptions, pods_preempted, served,
 *            completed, finished_late, requeued, failed, gpu_seconds, busy_gpu_seconds,
 *            utilisation, cost, mean_pods, lat_p99_s; PK(run_id, pool)): a mixed fleet's
 *            pools; a run read back has n_pools = its rows and preemptions = their sum
 *            (a run of one pool has none: its runs row and CSV are as before pools);
 *   sweep_points(sweep, point, experiment_id, params; PK(sweep, point)): which experiment
 *            is which point of a sweep, and its parameters as "path=value ...";
 *   sweeps(name PK, file, n_points, replications, seed, objective, constraints): what a
 *            sweep is, so that reports judge its points from the database alone.
 * Column lists come from the field tables below (one per struct of result.h), so a
 * field added there is one line here; a writer adds missing columns to an older file.
 * NaN doubles are stored as NULL and read back as NaN. uint64 values are stored as
 * their int64 bit pattern (seeds above 2^63 read back unchanged). */
#ifndef GP_RESULTS_DB_H
#define GP_RESULTS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "base/common.h"
#include "base/error.h"
#include "sim/result.h"

#define RESULTS_DB_SCHEMA_VERSION  1
#define RESULTS_DB_BUSY_TIMEOUT_MS 10000
#define RESULTS_DB_APPLICATION_ID  0x6770656e /* "gpen" */

/* ---------- field tables: the columns of runs / series / requests and of the CSV ---------- */

typedef enum {
    FIELD_TEXT,   /* char[size], NUL-terminated */
    FIELD_INT,    /* int */
    FIELD_INT32,  /* int32_t */
    FIELD_INT64,  /* int64_t */
    FIELD_UINT64, /* uint64_t */
    FIELD_UINT8,  /* uint8_t */
    FIELD_FLOAT,  /* float */
    FIELD_DOUBLE  /* double; NaN allowed */
} field_type;

typedef struct field_desc {
    const char *name; /* column name */
    field_type type;
    size_t offset; /* in the struct */
    size_t size;   /* bytes of the member */
} field_desc;

const field_desc *result_fields_run(size_t *n);     /* run_summary */
const field_desc *result_fields_series(size_t *n);  /* series_row */
const field_desc *result_fields_pool(size_t *n);    /* pool_result (table run_pools) */
const field_desc *result_fields_request(size_t *n); /* request_row */

/* The field as text: integers in decimal, doubles "%.17g" (exact round trip), NaN as
 * "" (empty), text as is. Returns buf. */
char *result_field_format(const field_desc *f, const void *rec, char *buf, size_t len);
/* Parses text into the field (the inverse of format): 0, or GP_EPARSE / GP_ERANGE. */
int result_field_parse(const field_desc *f, void *rec, const char *text);

/* ---------- the store ---------- */

typedef struct results_db results_db;

/* Opens (or creates) the file for writing: refuses a foreign file, takes the writer lock
 * (GP_EBUSY when another process holds it), creates or completes the schema. GP_EIO on
 * failure; GP_ENOTSUP for a foreign file or a newer schema version. */
int results_db_open(const char *path, results_db **out, gp_error *err);
/* The same for a process forked by the holder of the writer lock (a sweep's pool of
 * workers): the lock is not taken again. The file must exist with its schema. */
int results_db_open_worker(const char *path, results_db **out, gp_error *err);
/* Opens an existing database read-only (see above). GP_EMISSING when there is no file;
 * GP_ENOTSUP for a foreign file or a newer schema. Only the read functions may be used. */
int results_db_open_read(const char *path, results_db **out, gp_error *err);
void results_db_close(results_db *db); /* NULL is fine */
const char *results_db_path(const results_db *db);

/* The id of the experiment with this name and (yaml_text, profile_text), created if new:
 * a rerun of the same file gets the same id and so resumes. profile_text may be NULL. */
int results_db_experiment_upsert(results_db *db, const char *name, const char *file,
                                 const char *yaml_text, const char *profile_text, int64_t *exp_id,
                                 gp_error *err);

/* The same with every input in the identity: overlays ("path=value" lines of --set or a
 * sweep point) and inputs (the trace's content digest, gpenlab's version), stored in the
 * columns of those names; ident = FNV-1a 64 of yaml_text, profile_text, overlays and
 * inputs. Either may be NULL (""). A changed input gives a new experiment row: its runs
 * are simulated again instead of resumed. */
int results_db_experiment_upsert_inputs(results_db *db, const char *name, const char *file,
                                        const char *yaml_text, const char *overlays,
                                        const char *profile_text, const char *inputs,
                                        int64_t *exp_id, gp_error *err);

/* "e<exp_id>/<label>/r<replication>/s<seed>": a run_key unique across experiments. */
char *results_db_run_key(char *buf, size_t len, int64_t exp_id, const char *label, int replication,
                         uint64_t seed);

/* 1 if a run with this key was written (runs are written whole) and its stored totals
 * hold (arrived = completed + timed_out + rejected + in_flight_end); 0 if there is no such
 * run; GP_EINVARIANT naming the run when its totals break conservation (the file was
 * changed or damaged: the run is not counted as done); other errors < 0. */
int results_db_run_exists(results_db *db, const char *run_key, gp_error *err);

/* Writes the run, its series and (when log != NULL) its requests in one transaction
 * (BEGIN IMMEDIATE .. COMMIT; rolled back on any error, so nothing of it remains).
 * GP_EINVARIANT when run_key exists already or exp_id is unknown; GP_EIO otherwise. */
int results_db_write_run(results_db *db, int64_t exp_id, const char *run_key, const run_summary *s,
                         const run_series *series, const request_log *log, gp_error *err);

/* The runs of an experiment in the order written: *out is malloc'd (caller frees),
 * *n its length (0 and NULL when none). */
int results_db_read_runs(results_db *db, int64_t exp_id, run_summary **out, size_t *n,
                         gp_error *err);
/* A run's series / requests, appended to *out (caller frees with run_series_free /
 * request_log_free). GP_EMISSING when no run has this key. */
int results_db_read_series(results_db *db, const char *run_key, run_series *out, gp_error *err);
int results_db_read_requests(results_db *db, const char *run_key, request_log *out, gp_error *err);

/* ---------- experiments and sweeps: what reports and exports list ---------- */

typedef struct results_db_experiment {
    int64_t id;
    char name[128];
    char file[1024];
} results_db_experiment;

/* The experiments that are not points of a sweep (nor an earlier version of a point: an
 * experiment of the same name), in the order they were created: *out is malloc'd (caller
 * frees), *n its length. */
int results_db_experiments(results_db *db, results_db_experiment **out, size_t *n, gp_error *err);

/* The inputs of one stored experiment (malloc'd strings; profile_text may be NULL). */
typedef struct results_db_inputs {
    int64_t id;
    char *file, *yaml_text, *profile_text;
    char *overlays; /* "path=value" lines (--set, a sweep point); NULL when none */
} results_db_inputs;
void results_db_inputs_free(results_db_inputs *in);
/* The newest experiment that has runs labelled `label`, else the newest of all (export).
 * GP_EMISSING when the database holds no experiment. */
int results_db_inputs_for_label(results_db *db, const char *label, results_db_inputs *out,
                                gp_error *err);
/* The inputs of experiment `exp_id` (GP_EMISSING when there is none). */
int results_db_inputs_of(results_db *db, int64_t exp_id, results_db_inputs *out, gp_error *err);

typedef struct results_db_sweep_point {
    char sweep[128];
    int64_t point, experiment_id;
    char params[1024]; /* "path=value path=value" */
} results_db_sweep_point;

/* Records that experiment exp_id is point `point` of sweep `sweep` (replacing what an
 * earlier version of the sweep file recorded for that point). */
int results_db_sweep_point_put(results_db *db, const char *sweep, int64_t point, int64_t exp_id,
                               const char *params, gp_error *err);
/* Every recorded point, ordered by sweep then point: *out is malloc'd (caller frees), *n
 * its length (0 when the database holds no sweep). */
int results_db_sweep_points(results_db *db, results_db_sweep_point **out, size_t *n, gp_error *err);

/* What a sweep is, so that a report can judge its points from the database alone. */
typedef struct results_db_sweep {
    char name[128];
    char file[1024];
    int64_t n_points;
    int replications;
    uint64_t seed;         /* replication r of every point ran at seed + r */
    char objective[128];   /* "minimise gpu_hours" */
    char constraints[512]; /* "p99_s<=20,slo_pct>=75" ("" when none) */
} results_db_sweep;

/* Records the sweep (replacing an earlier record of the same name). */
int results_db_sweep_put(results_db *db, const results_db_sweep *s, gp_error *err);
/* The sweep's record; GP_EMISSING when the database has none (written before sweeps were
 * recorded, or no such sweep). */
int results_db_sweep_get(results_db *db, const char *name, results_db_sweep *out, gp_error *err);

/* The connection itself, for tests only (PRAGMA integrity_check, crafted damage). */
struct sqlite3 *results_db_sqlite(results_db *db);

#endif
