/* results_db.c: SQLite results store; schema and SQL generated from the field tables.
 * synchronous=FULL with WAL: a killed process can never leave a half run (the commit is
 * one WAL frame append), and FULL also keeps the last committed run across a power
 * loss, so "run_exists -> skip" stays true; the price is one fsync per run, which is
 * nothing next to the seconds a run takes. */
#include "lab/results_db.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/text.h"

/* ---------- field tables ---------- */

#define FD(st, m, t)                                 \
    {                                                \
#m, t, offsetof(st, m), sizeof(((st *)0)->m) \
    }
#define FDN(name, st, m, t)                            \
    {                                                  \
        name, t, offsetof(st, m), sizeof(((st *)0)->m) \
    }

static const field_desc run_fields[] = {
    FD(run_summary, label, FIELD_TEXT),
    FD(run_summary, policy, FIELD_TEXT),
    FD(run_summary, replication, FIELD_INT),
    FD(run_summary, seed, FIELD_UINT64),
    FD(run_summary, span_us, FIELD_INT64),
    FD(run_summary, arrived, FIELD_UINT64),
    FD(run_summary, completed, FIELD_UINT64),
    FD(run_summary, timed_out, FIELD_UINT64),
    FD(run_summary, rejected, FIELD_UINT64),
    FD(run_summary, in_flight_end, FIELD_UINT64),
    FDN("rejected_too_large", run_summary, rejected_by[REJECT_TOO_LARGE], FIELD_UINT64),
    FDN("rejected_no_capacity", run_summary, rejected_by[REJECT_NO_CAPACITY], FIELD_UINT64),
    FDN("rejected_drain_killed", run_summary, rejected_by[REJECT_DRAIN_KILLED], FIELD_UINT64),
    FD(run_summary, requeued, FIELD_UINT64),
    FD(run_summary, lat_mean_s, FIELD_DOUBLE),
    FD(run_summary, lat_p50_s, FIELD_DOUBLE),
    FD(run_summary, lat_p95_s, FIELD_DOUBLE),
    FD(run_summary, lat_p99_s, FIELD_DOUBLE),
    FD(run_summary, lat_p999_s, FIELD_DOUBLE),
    FD(run_summary, lat_max_s, FIELD_DOUBLE),
    FD(run_summary, quantile_rel_error, FIELD_DOUBLE),
    FD(run_summary, slo_s, FIELD_DOUBLE),
    FD(run_summary, slo_frac, FIELD_DOUBLE),
    FD(run_summary, pod_starts, FIELD_UINT64),
    FD(run_summary, cold_waited, FIELD_UINT64),
    FD(run_summary, scale_events, FIELD_UINT64),
    FD(run_summary, gpu_seconds, FIELD_DOUBLE),
    FD(run_summary, busy_gpu_seconds, FIELD_DOUBLE),
    FD(run_summary, utilisation, FIELD_DOUBLE),
    FD(run_summary, cost, FIELD_DOUBLE),
    FD(run_summary, mean_pods, FIELD_DOUBLE),
    FD(run_summary, max_pods_seen, FIELD_INT),
    FD(run_summary, events, FIELD_UINT64),
    FD(run_summary, wall_s, FIELD_DOUBLE),
    /* preemptions, n_pools and pool[] are the run's rows in run_pools (read back there) */
};

/* a mixed fleet's pools (run_summary.pool[]), one row each in run_pools */
static const field_desc pool_fields[] = {
    FD(pool_result, name, FIELD_TEXT),
    FD(pool_result, card, FIELD_TEXT),
    FD(pool_result, spot, FIELD_INT32),
    FD(pool_result, max_pods_seen, FIELD_INT32),
    FD(pool_result, pod_starts, FIELD_UINT64),
    FD(pool_result, preemptions, FIELD_UINT64),
    FD(pool_result, pods_preempted, FIELD_UINT64),
    FD(pool_result, served, FIELD_UINT64),
    FD(pool_result, completed, FIELD_UINT64),
    FD(pool_result, finished_late, FIELD_UINT64),
    FD(pool_result, requeued, FIELD_UINT64),
    FD(pool_result, failed, FIELD_UINT64),
    FD(pool_result, gpu_seconds, FIELD_DOUBLE),
    FD(pool_result, busy_gpu_seconds, FIELD_DOUBLE),
    FD(pool_result, utilisation, FIELD_DOUBLE),
    FD(pool_result, cost, FIELD_DOUBLE),
    FD(pool_result, mean_pods, FIELD_DOUBLE),
    FD(pool_result, lat_p99_s, FIELD_DOUBLE),
};

/* pods[] is indexed by pod_state (policy.h): pending, starting, ready, draining, gone */
static const field_desc series_fields[] = {
    FD(series_row, t_us, FIELD_INT64),
    FD(series_row, arrival_rate_per_s, FIELD_DOUBLE),
    FD(series_row, queue_len, FIELD_DOUBLE),
    FD(series_row, in_flight, FIELD_DOUBLE),
    FDN("pods_pending", series_row, pods[0], FIELD_INT),
    FDN("pods_starting", series_row, pods[1], FIELD_INT),
    FDN("pods_ready", series_row, pods[2], FIELD_INT),
    FDN("pods_draining", series_row, pods[3], FIELD_INT),
    FDN("pods_gone", series_row, pods[4], FIELD_INT),
    FD(series_row, desired, FIELD_INT),
    FD(series_row, gpu_mem_frac, FIELD_DOUBLE),
    FD(series_row, gpu_util_frac, FIELD_DOUBLE),
    FD(series_row, lat_p50_s, FIELD_DOUBLE),
    FD(series_row, lat_p95_s, FIELD_DOUBLE),
    FD(series_row, lat_p99_s, FIELD_DOUBLE),
};

static const field_desc request_fields[] = {
    FD(request_row, id, FIELD_UINT64),        FD(request_row, arrival_us, FIELD_INT64),
    FD(request_row, start_us, FIELD_INT64),   FD(request_row, end_us, FIELD_INT64),
    FD(request_row, gpu_end_us, FIELD_INT64), FD(request_row, pod_id, FIELD_INT64),
    FD(request_row, mp, FIELD_FLOAT),         FD(request_row, faces, FIELD_INT32),
    FD(request_row, cold, FIELD_UINT8),       FD(request_row, outcome, FIELD_UINT8),
    FD(request_row, demand_s, FIELD_DOUBLE),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const field_desc *result_fields_run(size_t *n)
{
    *n = COUNT(run_fields);
    return run_fields;
}

const field_desc *result_fields_pool(size_t *n)
{
    *n = COUNT(pool_fields);
    return pool_fields;
}

const field_desc *result_fields_series(size_t *n)
{
    *n = COUNT(series_fields);
    return series_fields;
}

const field_desc *result_fields_request(size_t *n)
{
    *n = COUNT(request_fields);
    return request_fields;
}

/* Integer members widened to int64 (uint64 by bit pattern) and back. */
static int64_t field_get_i64(const field_desc *f, const void *rec)
{
    const char *p = (const char *)rec + f->offset;
    switch (f->type) {
    case FIELD_INT: {
        int v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    case FIELD_INT32: {
        int32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    case FIELD_INT64: {
        int64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    case FIELD_UINT64: {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return (int64_t)v;
    }
    case FIELD_UINT8: {
        uint8_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    default: return 0;
    }
}

static void field_set_i64(const field_desc *f, void *rec, int64_t v)
{
    char *p = (char *)rec + f->offset;
    switch (f->type) {
    case FIELD_INT: {
        int x = (int)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case FIELD_INT32: {
        int32_t x = (int32_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case FIELD_INT64: memcpy(p, &v, sizeof(v)); break;
    case FIELD_UINT64: {
        uint64_t x = (uint64_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    case FIELD_UINT8: {
        uint8_t x = (uint8_t)v;
        memcpy(p, &x, sizeof(x));
        break;
    }
    default: break;
    }
}

static double field_get_double(const field_desc *f, const void *rec)
{
    const char *p = (const char *)rec + f->offset;
    if (f->type == FIELD_FLOAT) {
        float v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    double v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void field_set_double(const field_desc *f, void *rec, double v)
{
    char *p = (char *)rec + f->offset;
    if (f->type == FIELD_FLOAT) {
        float x = (float)v;
        memcpy(p, &x, sizeof(x));
    } else {
        memcpy(p, &v, sizeof(v));
    }
}

static int is_real(const field_desc *f)
{
    return f->type == FIELD_FLOAT || f->type == FIELD_DOUBLE;
}

char *result_field_format(const field_desc *f, const void *rec, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    const char *p = (const char *)rec + f->offset;
    switch (f->type) {
    case FIELD_TEXT: snprintf(buf, len, "%.*s", (int)strnlen(p, f->size), p); break;
    case FIELD_UINT64: snprintf(buf, len, "%" PRIu64, (uint64_t)field_get_i64(f, rec)); break;
    case FIELD_FLOAT:
    case FIELD_DOUBLE: {
        double v = field_get_double(f, rec);
        if (isnan(v))
            buf[0] = '\0';
        else
            snprintf(buf, len, f->type == FIELD_FLOAT ? "%.9g" : "%.17g", v);
        break;
    }
    default: snprintf(buf, len, "%" PRId64, field_get_i64(f, rec)); break;
    }
    return buf;
}

int result_field_parse(const field_desc *f, void *rec, const char *text)
{
    char *end;
    errno = 0;
    switch (f->type) {
    case FIELD_TEXT: {
        size_t l = strlen(text);
        if (l >= f->size)
            return GP_ERANGE;
        memcpy((char *)rec + f->offset, text, l + 1);
        return 0;
    }
    case FIELD_FLOAT:
    case FIELD_DOUBLE: {
        if (text[0] == '\0') {
            field_set_double(f, rec, NAN);
            return 0;
        }
        double v = strtod(text, &end);
        if (*end || isspace((unsigned char)text[0]))
            return GP_EPARSE;
        field_set_double(f, rec, v);
        return 0;
    }
    case FIELD_UINT64: {
        if (!isdigit((unsigned char)text[0]))
            return GP_EPARSE;
        unsigned long long v = strtoull(text, &end, 10);
        if (*end)
            return GP_EPARSE;
        if (errno == ERANGE)
            return GP_ERANGE;
        field_set_i64(f, rec, (int64_t)(uint64_t)v);
        return 0;
    }
    default: {
        if (!(isdigit((unsigned char)text[0]) || text[0] == '-'))
            return GP_EPARSE;
        long long v = strtoll(text, &end, 10);
        if (*end || end == text)
            return GP_EPARSE;
        if (errno == ERANGE)
            return GP_ERANGE;
        int64_t lo = INT64_MIN, hi = INT64_MAX;
        if (f->type == FIELD_INT) {
            lo = INT_MIN;
            hi = INT_MAX;
        } else if (f->type == FIELD_INT32) {
            lo = INT32_MIN;
            hi = INT32_MAX;
        } else if (f->type == FIELD_UINT8) {
            lo = 0;
            hi = UINT8_MAX;
        }
        if (v < lo || v > hi)
            return GP_ERANGE;
        field_set_i64(f, rec, v);
        return 0;
    }
    }
}

/* ---------- the store ---------- */

typedef enum { OPEN_WRITER, OPEN_WORKER, OPEN_READ } open_mode;

struct results_db {
    sqlite3 *db;
    char *path;
    open_mode mode;
    int lock_fd; /* the writer lock, -1 when this connection holds none */
    sqlite3_stmt *ins_run, *ins_series, *ins_req, *run_exists, *run_id;
    sqlite3_stmt *sel_runs, *sel_series, *sel_reqs;
    sqlite3_stmt *ins_pool, *sel_pools; /* sel_pools NULL: an older file without run_pools */
};

static int db_error(results_db *db, gp_error *err, int code, const char *what)
{
    return gp_error_set(err, code, db->path, 0, 0, NULL, "%s: %s", what,
                        db->db ? sqlite3_errmsg(db->db) : "cannot open");
}

/* GP_EINVARIANT for constraint failures (the data broke a rule), GP_EIO otherwise. */
static int step_error(results_db *db, gp_error *err, int rc, const char *what)
{
    return db_error(db, err, (rc & 0xff) == SQLITE_CONSTRAINT ? GP_EINVARIANT : GP_EIO, what);
}

static int exec(results_db *db, const char *sql, gp_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        gp_error_set(err, (rc & 0xff) == SQLITE_CONSTRAINT ? GP_EINVARIANT : GP_EIO, db->path, 0, 0,
                     NULL, "%.120s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return err ? err->code : GP_EIO;
    }
    return 0;
}

static const char *sql_type(field_type t)
{
    switch (t) {
    case FIELD_TEXT: return "TEXT";
    case FIELD_FLOAT:
    case FIELD_DOUBLE: return "REAL";
    default: return "INTEGER";
    }
}

/* A growing SQL string; on allocation failure `oom` is set and appends are dropped. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + (size_t)w + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
}

/* "a, b, c" of the field names, with a prefix per name (e.g. "" or "?") */
static void sb_columns(sbuf *b, const field_desc *f, size_t n, int placeholders)
{
    for (size_t i = 0; i < n; i++)
        sb_add(b, "%s%s", i ? ", " : "", placeholders ? "?" : f[i].name);
}

/* 1 when `table` has a column `name`, 0 when not (or no such table), < 0 on error. */
static int has_column(results_db *db, const char *table, const char *name, gp_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "reading the schema");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s == SQLITE_ROW)
        return 1;
    return s == SQLITE_DONE ? 0 : db_error(db, err, GP_EIO, "reading the schema");
}

/* "SELECT a, b, ... FROM table": a column an older file lacks reads as NULL (read-only
 * connections cannot add it). */
static int sb_select(results_db *db, sbuf *b, const char *table, const field_desc *f, size_t n,
                     gp_error *err)
{
    sb_add(b, "SELECT ");
    for (size_t i = 0; i < n; i++) {
        int have = 1;
        if (db->mode == OPEN_READ && (have = has_column(db, table, f[i].name, err)) < 0)
            return have;
        sb_add(b, "%s%s", i ? ", " : "", have ? f[i].name : "NULL");
    }
    sb_add(b, " FROM %s", table);
    return 0;
}

static int prepare(results_db *db, sbuf *sql, sqlite3_stmt **st, gp_error *err)
{
    if (sql->oom) {
        free(sql->s);
        return gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
    }
    int rc = sqlite3_prepare_v2(db->db, sql->s, -1, st, NULL);
    free(sql->s);
    memset(sql, 0, sizeof(*sql));
    return rc == SQLITE_OK ? 0 : db_error(db, err, GP_EIO, "preparing a statement");
}

static int prepare_text(results_db *db, const char *text, sqlite3_stmt **st, gp_error *err)
{
    int rc = sqlite3_prepare_v2(db->db, text, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : db_error(db, err, GP_EIO, "preparing a statement");
}

/* Adds columns that an older file lacks (fields added to result.h since). */
static int add_missing_columns(results_db *db, const char *table, const field_desc *f, size_t n,
                               gp_error *err)
{
    char q[96];
    snprintf(q, sizeof(q), "PRAGMA table_info(%s)", table);
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db->db, q, -1, &st, NULL) != SQLITE_OK)
            return db_error(db, err, GP_EIO, "reading the schema");
        int found = 0;
        while (!found && sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *name = sqlite3_column_text(st, 1);
            found = name && strcmp((const char *)name, f[i].name) == 0;
        }
        sqlite3_finalize(st);
        if (found)
            continue;
        char alter[160];
        snprintf(alter, sizeof(alter), "ALTER TABLE %s ADD COLUMN %s %s", table, f[i].name,
                 sql_type(f[i].type));
        int rc = exec(db, alter, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int create_schema(results_db *db, gp_error *err)
{
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(db, err, GP_EIO, "reading the schema version");
        goto fail;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > RESULTS_DB_SCHEMA_VERSION) {
        rc = gp_error_set(err, GP_ENOTSUP, db->path, 0, 0, NULL,
                          "schema version %d is newer than this gpenlab's (%d)", version,
                          RESULTS_DB_SCHEMA_VERSION);
        goto fail;
    }
    size_t nr, ns, nq;
    const field_desc *fr = result_fields_run(&nr), *fs = result_fields_series(&ns),
                     *fq = result_fields_request(&nq);
    sbuf b = {0};
    sb_add(&b, "CREATE TABLE IF NOT EXISTS experiments(id INTEGER PRIMARY KEY, "
               "name TEXT NOT NULL, file TEXT, yaml_text TEXT NOT NULL, profile_text TEXT, "
               "ident TEXT NOT NULL, created_at TEXT NOT NULL, gpenlab_version TEXT, "
               "overlays TEXT, inputs TEXT, UNIQUE(name, ident));\n");
    sb_add(&b, "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, experiment_id "
               "INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE, run_key TEXT "
               "NOT NULL UNIQUE");
    for (size_t i = 0; i < nr; i++)
        sb_add(&b, ", %s %s", fr[i].name, sql_type(fr[i].type));
    sb_add(&b, ");\nCREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment_id);\n");
    sb_add(&b, "CREATE TABLE IF NOT EXISTS series(run_id INTEGER NOT NULL REFERENCES "
               "runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL");
    for (size_t i = 0; i < ns; i++)
        sb_add(&b, ", %s %s", fs[i].name, sql_type(fs[i].type));
    sb_add(&b, ", PRIMARY KEY(run_id, seq)) WITHOUT ROWID;\n");
    sb_add(&b, "CREATE TABLE IF NOT EXISTS requests(run_id INTEGER NOT NULL REFERENCES "
               "runs(id) ON DELETE CASCADE");
    for (size_t i = 0; i < nq; i++)
        sb_add(&b, ", %s %s", fq[i].name, sql_type(fq[i].type));
    sb_add(&b,
           ", CHECK(outcome >= 0 AND outcome < %d), PRIMARY KEY(run_id, id)) "
           "WITHOUT ROWID;\n",
           (int)OUTCOMES);
    size_t np;
    const field_desc *fp = result_fields_pool(&np);
    sb_add(&b, "CREATE TABLE IF NOT EXISTS run_pools(run_id INTEGER NOT NULL REFERENCES "
               "runs(id) ON DELETE CASCADE, pool INTEGER NOT NULL");
    for (size_t i = 0; i < np; i++)
        sb_add(&b, ", %s %s", fp[i].name, sql_type(fp[i].type));
    sb_add(&b, ", PRIMARY KEY(run_id, pool)) WITHOUT ROWID;\n");
    sb_add(&b,
           "CREATE TABLE IF NOT EXISTS sweep_points(sweep TEXT, point INTEGER, "
           "experiment_id INTEGER, params TEXT, PRIMARY KEY(sweep, point));\n"
           "CREATE TABLE IF NOT EXISTS sweeps(name TEXT PRIMARY KEY, file TEXT, "
           "n_points INTEGER, replications INTEGER, seed INTEGER, objective TEXT, "
           "constraints TEXT);\n"
           "PRAGMA user_version = %d;\nPRAGMA application_id = %d;\n",
           RESULTS_DB_SCHEMA_VERSION, RESULTS_DB_APPLICATION_ID);
    if (b.oom) {
        free(b.s);
        rc = gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    rc = exec(db, b.s, err);
    free(b.s);
    if (rc < 0)
        goto fail;
    /* the experiment's identity beyond its text (overlays, inputs): added to older files */
    static const field_desc exp_cols[] = {{"overlays", FIELD_TEXT, 0, 0},
                                          {"inputs", FIELD_TEXT, 0, 0}};
    if ((rc = add_missing_columns(db, "experiments", exp_cols, 2, err)) < 0 ||
        (rc = add_missing_columns(db, "runs", fr, nr, err)) < 0 ||
        (rc = add_missing_columns(db, "series", fs, ns, err)) < 0 ||
        (rc = add_missing_columns(db, "requests", fq, nq, err)) < 0 ||
        (rc = add_missing_columns(db, "run_pools", fp, np, err)) < 0)
        goto fail;
    return exec(db, "COMMIT", err);
fail:
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* 1 when the file has the table (an older one may lack sweep_points or run_pools), 0 when not. */
static int has_table(results_db *db, const char *table, gp_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "reading the schema");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    return s == SQLITE_ROW    ? 1
           : s == SQLITE_DONE ? 0
                              : db_error(db, err, GP_EIO, "reading the schema");
}

/* "INSERT INTO TABLE(KEYS, fields...) VALUES(?, ...)": `head` is "table(key, key", its
 * n_keys leading columns bound before the fields. */
static int prepare_insert(results_db *db, sbuf *b, const char *head, int n_keys,
                          const field_desc *f, size_t n, sqlite3_stmt **st, gp_error *err)
{
    sb_add(b, "INSERT INTO %s, ", head);
    sb_columns(b, f, n, 0);
    sb_add(b, ") VALUES(");
    for (int k = 0; k < n_keys; k++)
        sb_add(b, "?, ");
    sb_columns(b, f, n, 1);
    sb_add(b, ")");
    return prepare(db, b, st, err);
}

static int prepare_all(results_db *db, gp_error *err)
{
    size_t nr, ns, nq;
    const field_desc *fr = result_fields_run(&nr), *fs = result_fields_series(&ns),
                     *fq = result_fields_request(&nq);
    sbuf b = {0};
    int rc;
    if (db->mode != OPEN_READ) {
        size_t np;
        const field_desc *fp = result_fields_pool(&np);
        if ((rc = prepare_insert(db, &b, "runs(experiment_id, run_key", 2, fr, nr, &db->ins_run,
                                 err)) < 0 ||
            (rc = prepare_insert(db, &b, "series(run_id, seq", 2, fs, ns, &db->ins_series, err)) <
                0 ||
            (rc = prepare_insert(db, &b, "requests(run_id", 1, fq, nq, &db->ins_req, err)) < 0 ||
            (rc = prepare_insert(db, &b, "run_pools(run_id, pool", 2, fp, np, &db->ins_pool, err)) <
                0)
            return rc;
    }
    int pools_table = has_table(db, "run_pools", err);
    if (pools_table < 0)
        return pools_table;
    if (pools_table) {
        size_t np;
        const field_desc *fp = result_fields_pool(&np);
        if ((rc = sb_select(db, &b, "run_pools", fp, np, err)) < 0)
            return rc;
        sb_add(&b, " WHERE run_id = (SELECT id FROM runs WHERE run_key = ?) ORDER BY pool");
        if ((rc = prepare(db, &b, &db->sel_pools, err)) < 0)
            return rc;
    }
    if ((rc = sb_select(db, &b, "runs", fr, nr, err)) < 0)
        return rc;
    sb_add(&b, " WHERE experiment_id = ? ORDER BY id");
    if ((rc = prepare(db, &b, &db->sel_runs, err)) < 0)
        return rc;
    if ((rc = sb_select(db, &b, "series", fs, ns, err)) < 0)
        return rc;
    sb_add(&b, " WHERE run_id = ? ORDER BY seq");
    if ((rc = prepare(db, &b, &db->sel_series, err)) < 0)
        return rc;
    if ((rc = sb_select(db, &b, "requests", fq, nq, err)) < 0)
        return rc;
    sb_add(&b, " WHERE run_id = ? ORDER BY id");
    if ((rc = prepare(db, &b, &db->sel_reqs, err)) < 0)
        return rc;
    if (db->mode != OPEN_READ &&
        (rc = prepare_text(db,
                           "SELECT arrived, completed, timed_out, rejected, in_flight_end FROM "
                           "runs WHERE run_key = ?",
                           &db->run_exists, err)) < 0)
        return rc;
    return prepare_text(db, "SELECT id FROM runs WHERE run_key = ?", &db->run_id, err);
}

/* One integer from a PRAGMA; a file that is not SQLite fails here, before any write. */
static int pragma_int(results_db *db, const char *sql, int *out, gp_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : db_error(db, err, GP_EIO, "cannot read the results database");
}

/* The tables gpenlab writes, each with the columns that identify it. */
static const struct {
    const char *table, *col1, *col2;
} own_tables[] = {
    {"experiments", "name", "ident"},   {"runs", "experiment_id", "run_key"},
    {"series", "run_id", "seq"},        {"requests", "run_id", "id"},
    {"sweep_points", "sweep", "point"}, {"sweeps", "name", "objective"},
    {"run_pools", "run_id", "pool"},
};

/* 1 when `table` is one of gpenlab's, with its identifying columns. */
static int own_table(results_db *db, const char *table, gp_error *err)
{
    for (size_t i = 0; i < COUNT(own_tables); i++) {
        if (strcmp(table, own_tables[i].table) != 0)
            continue;
        int a = has_column(db, table, own_tables[i].col1, err);
        int b = a > 0 ? has_column(db, table, own_tables[i].col2, err) : a;
        return a < 0 ? a : b < 0 ? b : a && b;
    }
    return 0;
}

/* Reads (never writes) what the file is: 0 for a new or empty file or gpenlab's own
 * (*n_tables: its tables); GP_ENOTSUP for another application's file or a newer schema;
 * GP_EIO when it is not SQLite. */
static int check_ours(results_db *db, int *n_tables, gp_error *err)
{
    int app = 0, version = 0;
    int rc;
    if ((rc = pragma_int(db, "PRAGMA application_id", &app, err)) < 0 ||
        (rc = pragma_int(db, "PRAGMA user_version", &version, err)) < 0)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
                           "LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "cannot read the results database");
    char foreign[300] = "";
    size_t used = 0;
    int n = 0, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        n++;
        int own = app == RESULTS_DB_APPLICATION_ID ? 1 : own_table(db, name ? name : "", err);
        if (own < 0) {
            sqlite3_finalize(st);
            return own;
        }
        if (!own && used + 4 < sizeof(foreign)) {
            int w = snprintf(foreign + used, sizeof(foreign) - used, "%s%s", used ? ", " : "",
                             name ? name : "?");
            used = w > 0 && used + (size_t)w < sizeof(foreign) ? used + (size_t)w : sizeof(foreign);
        }
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return db_error(db, err, GP_EIO, "cannot read the results database");
    *n_tables = n;
    if (app != 0 && app != RESULTS_DB_APPLICATION_ID)
        return gp_error_set(err, GP_ENOTSUP, db->path, 0, 0, NULL,
                            "not a gpenlab results database (SQLite application_id 0x%08x): "
                            "give another database path",
                            (unsigned)app);
    if (foreign[0])
        return gp_error_set(err, GP_ENOTSUP, db->path, 0, 0, NULL,
                            "not a gpenlab results database (it holds table%s %s): give "
                            "another database path",
                            strchr(foreign, ',') ? "s" : "", foreign);
    if (version > RESULTS_DB_SCHEMA_VERSION)
        return gp_error_set(err, GP_ENOTSUP, db->path, 0, 0, NULL,
                            "schema version %d is newer than this gpenlab's (%d)", version,
                            RESULTS_DB_SCHEMA_VERSION);
    return 0;
}

/* The writer lock: flock(2) on "<path>-lock", so that it never touches SQLite's own locks
 * on the database file; the kernel drops it when the holder dies. */
static int take_lock(results_db *db, gp_error *err)
{
    size_t len = strlen(db->path) + sizeof("-lock");
    char *lock_path = malloc(len);
    if (!lock_path)
        return gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
    snprintf(lock_path, len, "%s-lock", db->path);
    int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0)
        rc = gp_error_set(err, GP_EIO, lock_path, 0, 0, NULL, "cannot create the writer lock: %s",
                          strerror(errno));
    else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        fd = -1;
        rc = e == EWOULDBLOCK
                 ? gp_error_set(err, GP_EBUSY, db->path, 0, 0, NULL,
                                "in use: another gpenlab is writing this database (it holds "
                                "%s); wait for it to end, or give another database path",
                                lock_path)
                 : gp_error_set(err, GP_EIO, lock_path, 0, 0, NULL, "cannot lock: %s", strerror(e));
    }
    free(lock_path);
    db->lock_fd = fd;
    return rc;
}

static int open_db(const char *path, open_mode mode, results_db **out, gp_error *err)
{
    *out = NULL;
    results_db *db = calloc(1, sizeof(*db));
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    db->mode = mode;
    db->lock_fd = -1;
    int rc;
    if (mode == OPEN_READ) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            rc = gp_error_set(err, GP_EMISSING, path, 0, 0, NULL, "no such database");
            results_db_close(db);
            return rc;
        }
    }
    int flags =
        mode == OPEN_READ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &db->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(db, err, GP_EIO, "cannot open the results database");
        results_db_close(db);
        return rc;
    }
    sqlite3_extended_result_codes(db->db, 1);
    sqlite3_busy_timeout(db->db, RESULTS_DB_BUSY_TIMEOUT_MS);
    int n_tables = 0;
    rc = check_ours(db, &n_tables, err);
    int why = sqlite3_extended_errcode(db->db) & 0xff;
    if (rc < 0 && mode == OPEN_READ && (why == SQLITE_CANTOPEN || why == SQLITE_READONLY)) {
        /* a WAL file in a directory this process cannot write (no "-shm" to create):
         * read it as an immutable file, as nobody can write there either */
        sqlite3_close(db->db);
        db->db = NULL;
        /* percent-encode what a URI path cannot hold as is */
        sbuf u = {0};
        sb_add(&u, "file:");
        for (const unsigned char *c = (const unsigned char *)path; *c; c++)
            sb_add(&u,
                   *c == '?' || *c == '#' || *c == '%' || *c <= ' ' || *c >= 0x7f ? "%%%02X" : "%c",
                   *c);
        sb_add(&u, "?immutable=1");
        if (u.oom)
            rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
        else if (sqlite3_open_v2(u.s, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) ==
                 SQLITE_OK) {
            if (err)
                gp_error_clear(err); /* the first attempt's error is answered */
            rc = check_ours(db, &n_tables, err);
        } else if (!u.oom)
            rc = db_error(db, err, GP_EIO, "cannot open the results database");
        free(u.s);
    }
    if (rc == 0 && mode == OPEN_READ && n_tables == 0)
        rc = gp_error_set(err, GP_EMISSING, path, 0, 0, NULL,
                          "an empty database: no experiment was written to it");
    if (rc == 0 && mode == OPEN_WRITER)
        rc = take_lock(db, err);
    if (rc == 0 && mode != OPEN_READ) {
        if ((rc = exec(db, "PRAGMA foreign_keys = ON", err)) == 0 &&
            (rc = exec(db, "PRAGMA journal_mode = WAL", err)) == 0 &&
            (rc = exec(db, "PRAGMA synchronous = FULL", err)) == 0)
            rc = create_schema(db, err);
    }
    if (rc == 0)
        rc = prepare_all(db, err);
    if (rc < 0) {
        results_db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

int results_db_open(const char *path, results_db **out, gp_error *err)
{
    return open_db(path, OPEN_WRITER, out, err);
}

int results_db_open_worker(const char *path, results_db **out, gp_error *err)
{
    return open_db(path, OPEN_WORKER, out, err);
}

int results_db_open_read(const char *path, results_db **out, gp_error *err)
{
    return open_db(path, OPEN_READ, out, err);
}

void results_db_close(results_db *db)
{
    if (!db)
        return;
    sqlite3_stmt *all[] = {db->ins_run,  db->ins_series, db->ins_req,    db->run_exists,
                           db->run_id,   db->sel_runs,   db->sel_series, db->sel_reqs,
                           db->ins_pool, db->sel_pools};
    for (size_t i = 0; i < COUNT(all); i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(db->db);
    if (db->lock_fd >= 0) /* after the connection: the lock outlives every write */
        close(db->lock_fd);
    free(db->path);
    free(db);
}

const char *results_db_path(const results_db *db) { return db->path; }

struct sqlite3 *results_db_sqlite(results_db *db) { return db->db; }

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int results_db_experiment_upsert(results_db *db, const char *name, const char *file,
                                 const char *yaml_text, const char *profile_text, int64_t *exp_id,
                                 gp_error *err)
{
    return results_db_experiment_upsert_inputs(db, name, file, yaml_text, NULL, profile_text, NULL,
                                               exp_id, err);
}

int results_db_experiment_upsert_inputs(results_db *db, const char *name, const char *file,
                                        const char *yaml_text, const char *overlays,
                                        const char *profile_text, const char *inputs,
                                        int64_t *exp_id, gp_error *err)
{
    const char *profile = profile_text ? profile_text : "";
    const char *ov = overlays ? overlays : "", *in = inputs ? inputs : "";
    uint64_t h = fnv1a(1469598103934665603ull, yaml_text, strlen(yaml_text) + 1);
    h = fnv1a(h, profile, strlen(profile));
    /* folded only when present: identities written before these inputs existed stay */
    if (ov[0])
        h = fnv1a(fnv1a(h, "\0overlays\0", 10), ov, strlen(ov));
    if (in[0])
        h = fnv1a(fnv1a(h, "\0inputs\0", 8), in, strlen(in));
    char ident[17];
    snprintf(ident, sizeof(ident), "%016" PRIx64, h);
    /* the insert is ignored when (name, ident) exists; then the select finds it */
    static const char ins[] =
        "INSERT OR IGNORE INTO experiments(name, file, yaml_text, profile_text, ident, "
        "created_at, gpenlab_version, overlays, inputs) VALUES(?, ?, ?, ?, ?, "
        "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, ?)";
    static const char sel[] =
        "SELECT id, yaml_text = ? AND IFNULL(profile_text, '') = ? AND IFNULL(overlays, '') = ? "
        "AND IFNULL(inputs, '') = ? FROM experiments WHERE name = ? AND ident = ?";
    sqlite3_stmt *st = NULL;
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(db->db, ins, -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(db, err, GP_EIO, "recording the experiment");
        goto fail;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, yaml_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, profile_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ident, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, GPENLAB_VERSION, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, ov, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, in, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (s != SQLITE_DONE) {
        rc = step_error(db, err, s, "recording the experiment");
        goto fail;
    }
    if (sqlite3_prepare_v2(db->db, sel, -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(db, err, GP_EIO, "recording the experiment");
        goto fail;
    }
    sqlite3_bind_text(st, 1, yaml_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, profile, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ov, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, in, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, ident, -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = step_error(db, err, s, "recording the experiment");
        goto fail;
    }
    if (!sqlite3_column_int(st, 1)) {
        rc = gp_error_set(err, GP_EINVARIANT, db->path, 0, 0, NULL,
                          "experiment '%s': hash %s matches a different text", name, ident);
        goto fail;
    }
    *exp_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return exec(db, "COMMIT", err);
fail:
    sqlite3_finalize(st);
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

char *results_db_run_key(char *buf, size_t len, int64_t exp_id, const char *label, int replication,
                         uint64_t seed)
{
    snprintf(buf, len, "e%" PRId64 "/%s/r%d/s%" PRIu64, exp_id, label, replication, seed);
    return buf;
}

int results_db_run_exists(results_db *db, const char *run_key, gp_error *err)
{
    sqlite3_stmt *st = db->run_exists;
    if (!st)
        return gp_error_set(err, GP_ENOTSUP, db->path, 0, 0, NULL, "opened read-only");
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, run_key, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    uint64_t v[5] = {0};
    for (int i = 0; s == SQLITE_ROW && i < 5; i++)
        v[i] = (uint64_t)sqlite3_column_int64(st, i);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s == SQLITE_DONE)
        return 0;
    if (s != SQLITE_ROW)
        return step_error(db, err, s, "looking up a run");
    /* a stored run counts as done only when its totals still add up */
    if (v[0] != v[1] + v[2] + v[3] + v[4])
        return gp_error_set(err, GP_EINVARIANT, db->path, 0, 0, NULL,
                            "stored run %s breaks conservation: arrived %" PRIu64
                            " != completed %" PRIu64 " + timed out %" PRIu64 " + rejected %" PRIu64
                            " + in flight %" PRIu64 " (the file was changed or damaged): delete "
                            "the run or use another database",
                            run_key, v[0], v[1], v[2], v[3], v[4]);
    return 1;
}

/* Binds fields f[0..n) of rec from parameter `first` on. */
static void bind_fields(sqlite3_stmt *st, int first, const field_desc *f, size_t n, const void *rec)
{
    for (size_t i = 0; i < n; i++) {
        int k = first + (int)i;
        if (f[i].type == FIELD_TEXT) {
            const char *p = (const char *)rec + f[i].offset;
            sqlite3_bind_text(st, k, p, (int)strnlen(p, f[i].size), SQLITE_TRANSIENT);
        } else if (is_real(&f[i])) {
            double v = field_get_double(&f[i], rec);
            if (isnan(v))
                sqlite3_bind_null(st, k);
            else
                sqlite3_bind_double(st, k, v);
        } else {
            sqlite3_bind_int64(st, k, field_get_i64(&f[i], rec));
        }
    }
}

static void read_fields(sqlite3_stmt *st, int first, const field_desc *f, size_t n, void *rec)
{
    for (size_t i = 0; i < n; i++) {
        int k = first + (int)i;
        int null = sqlite3_column_type(st, k) == SQLITE_NULL;
        if (f[i].type == FIELD_TEXT) {
            char *p = (char *)rec + f[i].offset;
            const unsigned char *t = sqlite3_column_text(st, k);
            snprintf(p, f[i].size, "%s", t ? (const char *)t : "");
        } else if (is_real(&f[i])) {
            field_set_double(&f[i], rec, null ? NAN : sqlite3_column_double(st, k));
        } else {
            field_set_i64(&f[i], rec, sqlite3_column_int64(st, k));
        }
    }
}

static int step_done(results_db *db, sqlite3_stmt *st, gp_error *err, const char *what)
{
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    return s == SQLITE_DONE ? 0 : step_error(db, err, s, what);
}

int results_db_write_run(results_db *db, int64_t exp_id, const char *run_key, const run_summary *s,
                         const run_series *series, const request_log *log, gp_error *err)
{
    size_t nr, ns, nq;
    const field_desc *fr = result_fields_run(&nr), *fs = result_fields_series(&ns),
                     *fq = result_fields_request(&nq);
    if (!db->ins_run)
        return gp_error_set(err, GP_ENOTSUP, db->path, 0, 0, NULL, "opened read-only");
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st = db->ins_run;
    sqlite3_bind_int64(st, 1, exp_id);
    sqlite3_bind_text(st, 2, run_key, -1, SQLITE_STATIC);
    bind_fields(st, 3, fr, nr, s);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        rc = step_error(db, err, rc, run_key);
        goto fail;
    }
    rc = 0;
    int64_t run_id = sqlite3_last_insert_rowid(db->db);
    for (size_t i = 0; series && i < series->n; i++) {
        st = db->ins_series;
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        bind_fields(st, 3, fs, ns, &series->row[i]);
        if ((rc = step_done(db, st, err, run_key)) < 0)
            goto fail;
    }
    for (size_t i = 0; log && i < log->n; i++) {
        st = db->ins_req;
        sqlite3_bind_int64(st, 1, run_id);
        bind_fields(st, 2, fq, nq, &log->row[i]);
        if ((rc = step_done(db, st, err, run_key)) < 0)
            goto fail;
    }
    size_t np;
    const field_desc *fp = result_fields_pool(&np);
    for (int i = 0; i < s->n_pools && i < RESULT_MAX_POOLS; i++) {
        st = db->ins_pool;
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, i);
        bind_fields(st, 3, fp, np, &s->pool[i]);
        if ((rc = step_done(db, st, err, run_key)) < 0)
            goto fail;
    }
    rc = exec(db, "COMMIT", err);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(db->db))
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int results_db_read_runs(results_db *db, int64_t exp_id, run_summary **out, size_t *n,
                         gp_error *err)
{
    *out = NULL;
    *n = 0;
    size_t nr, cap = 0;
    const field_desc *fr = result_fields_run(&nr);
    sqlite3_stmt *st = db->sel_runs;
    sqlite3_bind_int64(st, 1, exp_id);
    int s;
    run_summary *arr = NULL;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            run_summary *p = realloc(arr, nc * sizeof(*p));
            if (!p) {
                sqlite3_reset(st);
                free(arr);
                return gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
            }
            arr = p;
            cap = nc;
        }
        memset(&arr[*n], 0, sizeof(arr[*n]));
        read_fields(st, 0, fr, nr, &arr[*n]);
        (*n)++;
    }
    sqlite3_reset(st);
    if (s != SQLITE_DONE) {
        free(arr);
        *n = 0;
        return step_error(db, err, s, "reading runs");
    }
    /* a mixed fleet's pools, by the run's key: n_pools is how many rows it has, its
       preemptions their sum (0 and none for a run of one pool) */
    size_t np;
    const field_desc *fp = result_fields_pool(&np);
    for (size_t i = 0; i < *n && s == SQLITE_DONE && db->sel_pools; i++) {
        run_summary *r = &arr[i];
        char key[256];
        results_db_run_key(key, sizeof(key), exp_id, r->label, r->replication, r->seed);
        st = db->sel_pools;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        while (r->n_pools < RESULT_MAX_POOLS && (s = sqlite3_step(st)) == SQLITE_ROW) {
            pool_result *p = &r->pool[r->n_pools++];
            read_fields(st, 0, fp, np, p);
            r->preemptions += p->preemptions;
        }
        s = s == SQLITE_ROW ? SQLITE_DONE : s;
        sqlite3_reset(st);
    }
    if (s != SQLITE_DONE) {
        free(arr);
        *n = 0;
        return step_error(db, err, s, "reading the runs' pools");
    }
    *out = arr;
    return 0;
}

static int lookup_run_id(results_db *db, const char *run_key, int64_t *id, gp_error *err)
{
    sqlite3_stmt *st = db->run_id;
    sqlite3_bind_text(st, 1, run_key, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s == SQLITE_ROW)
        return 0;
    if (s == SQLITE_DONE)
        return gp_error_set(err, GP_EMISSING, db->path, 0, 0, NULL, "no run '%s'", run_key);
    return step_error(db, err, s, "looking up a run");
}

int results_db_read_series(results_db *db, const char *run_key, run_series *out, gp_error *err)
{
    int64_t id;
    int rc = lookup_run_id(db, run_key, &id, err);
    if (rc < 0)
        return rc;
    size_t ns;
    const field_desc *fs = result_fields_series(&ns);
    sqlite3_stmt *st = db->sel_series;
    sqlite3_bind_int64(st, 1, id);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        series_row r;
        memset(&r, 0, sizeof(r));
        read_fields(st, 0, fs, ns, &r);
        if (run_series_push(out, &r) < 0) {
            sqlite3_reset(st);
            return gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
        }
    }
    sqlite3_reset(st);
    return s == SQLITE_DONE ? 0 : step_error(db, err, s, "reading a series");
}

int results_db_read_requests(results_db *db, const char *run_key, request_log *out, gp_error *err)
{
    int64_t id;
    int rc = lookup_run_id(db, run_key, &id, err);
    if (rc < 0)
        return rc;
    size_t nq;
    const field_desc *fq = result_fields_request(&nq);
    sqlite3_stmt *st = db->sel_reqs;
    sqlite3_bind_int64(st, 1, id);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        request_row r;
        memset(&r, 0, sizeof(r));
        read_fields(st, 0, fq, nq, &r);
        if (request_log_push(out, &r) < 0) {
            sqlite3_reset(st);
            return gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
        }
    }
    sqlite3_reset(st);
    return s == SQLITE_DONE ? 0 : step_error(db, err, s, "reading requests");
}

/* ---------- experiments and sweeps ---------- */

/* Grows *arr (elements of `size` bytes) to hold n + 1; GP_ENOMEM when it cannot. */
static int grow_one(results_db *db, void **arr, size_t n, size_t *cap, size_t size, gp_error *err)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, nc * size);
    if (!p)
        return gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
    *arr = p;
    *cap = nc;
    return 0;
}

static void column_copy(sqlite3_stmt *st, int k, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, k);
    gp_copy_utf8(dst, cap, t ? (const char *)t : "");
}

int results_db_experiments(results_db *db, results_db_experiment **out, size_t *n, gp_error *err)
{
    *out = NULL;
    *n = 0;
    int sweeps = has_table(db, "sweep_points", err);
    if (sweeps < 0)
        return sweeps;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           /* nor an earlier version of a point (same name) */
                           sweeps ? "SELECT id, name, file FROM experiments WHERE name NOT IN "
                                    "(SELECT e.name FROM experiments e JOIN sweep_points p ON "
                                    "p.experiment_id = e.id) ORDER BY id"
                                  : "SELECT id, name, file FROM experiments ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "listing experiments");
    size_t cap = 0;
    int s, rc = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = grow_one(db, (void **)out, *n, &cap, sizeof(**out), err)) < 0)
            break;
        results_db_experiment *x = &(*out)[(*n)++];
        x->id = sqlite3_column_int64(st, 0);
        column_copy(st, 1, x->name, sizeof(x->name));
        column_copy(st, 2, x->file, sizeof(x->file));
    }
    sqlite3_finalize(st);
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_error(db, err, GP_EIO, "listing experiments");
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void results_db_inputs_free(results_db_inputs *in)
{
    free(in->file);
    free(in->yaml_text);
    free(in->profile_text);
    free(in->overlays);
    memset(in, 0, sizeof(*in));
}

static char *column_dup(sqlite3_stmt *st, int k, int *oom)
{
    const unsigned char *t = sqlite3_column_text(st, k);
    if (!t)
        return NULL;
    char *d = strdup((const char *)t);
    *oom |= !d;
    return d;
}

/* The inputs of the experiment that `where` (an ORDER BY / WHERE clause with one
 * parameter, bound by `bind`) selects first. */
static int read_inputs(results_db *db, const char *where, const char *text_param, int64_t int_param,
                       results_db_inputs *out, gp_error *err)
{
    memset(out, 0, sizeof(*out));
    /* a file written before overlays were stored has no such column: none then */
    int have_ov = has_column(db, "experiments", "overlays", err);
    if (have_ov < 0)
        return have_ov;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT id, file, yaml_text, profile_text, %s FROM experiments %s LIMIT 1",
             have_ov ? "overlays" : "NULL", where);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "reading the experiments");
    if (text_param)
        sqlite3_bind_text(st, 1, text_param, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(st, 1, int_param);
    int s = sqlite3_step(st), rc = 0;
    if (s == SQLITE_ROW) {
        int oom = 0;
        out->id = sqlite3_column_int64(st, 0);
        out->file = column_dup(st, 1, &oom);
        out->yaml_text = column_dup(st, 2, &oom);
        out->profile_text = column_dup(st, 3, &oom);
        out->overlays = column_dup(st, 4, &oom);
        if (!out->yaml_text && !oom)
            oom = !(out->yaml_text = strdup(""));
        if (oom)
            rc = gp_error_set(err, GP_ENOMEM, db->path, 0, 0, NULL, "out of memory");
    } else if (s == SQLITE_DONE) {
        rc = text_param ? gp_error_set(err, GP_EMISSING, db->path, 0, 0, NULL,
                                       "no experiment in the database")
                        : gp_error_set(err, GP_EMISSING, db->path, 0, 0, NULL,
                                       "no experiment %lld in the database", (long long)int_param);
    } else {
        rc = db_error(db, err, GP_EIO, "reading the experiments");
    }
    sqlite3_finalize(st);
    if (rc < 0)
        results_db_inputs_free(out);
    return rc;
}

int results_db_inputs_for_label(results_db *db, const char *label, results_db_inputs *out,
                                gp_error *err)
{
    return read_inputs(db,
                       "ORDER BY EXISTS(SELECT 1 FROM runs r WHERE r.experiment_id = "
                       "experiments.id AND r.label = ?) DESC, id DESC",
                       label, 0, out, err);
}

int results_db_inputs_of(results_db *db, int64_t exp_id, results_db_inputs *out, gp_error *err)
{
    return read_inputs(db, "WHERE id = ?", NULL, exp_id, out, err);
}

int results_db_sweep_point_put(results_db *db, const char *sweep, int64_t point, int64_t exp_id,
                               const char *params, gp_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO sweep_points VALUES(?, ?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "recording a sweep point");
    sqlite3_bind_text(st, 1, sweep, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, point);
    sqlite3_bind_int64(st, 3, exp_id);
    sqlite3_bind_text(st, 4, params, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : step_error(db, err, s, "recording a sweep point");
}

int results_db_sweep_points(results_db *db, results_db_sweep_point **out, size_t *n, gp_error *err)
{
    *out = NULL;
    *n = 0;
    int sweeps = has_table(db, "sweep_points", err);
    if (sweeps <= 0)
        return sweeps;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT sweep, point, experiment_id, params FROM sweep_points ORDER "
                           "BY sweep, point",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "listing sweep points");
    size_t cap = 0;
    int s, rc = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = grow_one(db, (void **)out, *n, &cap, sizeof(**out), err)) < 0)
            break;
        results_db_sweep_point *x = &(*out)[(*n)++];
        column_copy(st, 0, x->sweep, sizeof(x->sweep));
        x->point = sqlite3_column_int64(st, 1);
        x->experiment_id = sqlite3_column_int64(st, 2);
        column_copy(st, 3, x->params, sizeof(x->params));
    }
    sqlite3_finalize(st);
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_error(db, err, GP_EIO, "listing sweep points");
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int results_db_sweep_put(results_db *db, const results_db_sweep *s, gp_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "INSERT OR REPLACE INTO sweeps VALUES(?, ?, ?, ?, ?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "recording a sweep");
    sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s->file, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->n_points);
    sqlite3_bind_int(st, 4, s->replications);
    sqlite3_bind_int64(st, 5, (int64_t)s->seed); /* the bit pattern, as run seeds */
    sqlite3_bind_text(st, 6, s->objective, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, s->constraints, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : step_error(db, err, rc, "recording a sweep");
}

int results_db_sweep_get(results_db *db, const char *name, results_db_sweep *out, gp_error *err)
{
    memset(out, 0, sizeof(*out));
    int have = has_table(db, "sweeps", err);
    if (have <= 0)
        return have < 0
                   ? have
                   : gp_error_set(err, GP_EMISSING, db->path, 0, 0, NULL,
                                  "no sweep '%s' recorded (a file from before sweeps were)", name);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT name, file, n_points, replications, seed, objective, "
                           "constraints FROM sweeps WHERE name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(db, err, GP_EIO, "reading a sweep");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st), rc = 0;
    if (s == SQLITE_ROW) {
        column_copy(st, 0, out->name, sizeof(out->name));
        column_copy(st, 1, out->file, sizeof(out->file));
        out->n_points = sqlite3_column_int64(st, 2);
        out->replications = sqlite3_column_int(st, 3);
        out->seed = (uint64_t)sqlite3_column_int64(st, 4);
        column_copy(st, 5, out->objective, sizeof(out->objective));
        column_copy(st, 6, out->constraints, sizeof(out->constraints));
    } else if (s == SQLITE_DONE) {
        rc = gp_error_set(err, GP_EMISSING, db->path, 0, 0, NULL, "no sweep '%s' recorded", name);
    } else {
        rc = step_error(db, err, s, "reading a sweep");
    }
    sqlite3_finalize(st);
    return rc;
}
