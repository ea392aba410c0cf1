/* test_results_db.c: the field tables cover result.h, every field survives a write/read
 * round trip, experiments are found again on a rerun, run keys are unique, a write that
 * fails midway leaves nothing, and a process killed mid-write leaves a consistent file
 * without the partial run; a foreign file is refused untouched, a second writer at once,
 * a read-only open writes nothing, a resumed run is checked against its totals, and the
 * listing queries. Files live in a fresh directory under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND   0
#define VALGRIND_COUNT_ERRORS 0u
#endif

#include "lab/results_db.h"
#include "tests/testutil.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    return tu_mkdtemp(tmpdir, sizeof(tmpdir), "rdb");
}

static int remove_dir(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir);
}

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* Ends a forked child with STATUS. Under valgrind the child's exit runs a leak check that
 * counts the allocations it inherited and holds no pointer to (the parent's open database,
 * or whatever a failed test left behind) and --error-exitcode then replaces STATUS with 1:
 * the second-writer test failed so in CI. There the child ends by exec, which skips that
 * check: of `true`, or of `false` (status 1) when STATUS is not 0 or it made a memory
 * error since ERRORS_AT_FORK (no shell: issue 13). */
static _Noreturn void child_exit(int status, unsigned errors_at_fork)
{
    if (RUNNING_ON_VALGRIND) {
        bool ok = status == 0 && VALGRIND_COUNT_ERRORS == errors_at_fork;
        execl(ok ? "/bin/true" : "/bin/false", ok ? "true" : "false", (char *)NULL);
    }
    _exit(status);
}

static results_db *open_ok(const char *path)
{
    results_db *db = NULL;
    gp_error e;
    gp_error_clear(&e);
    int rc = results_db_open(path, &db, &e);
    if (rc != 0) {
        char line[1024];
        gp_error_format(&e, line, sizeof(line));
        fail_msg("open %s: %d %s", path, rc, line);
    }
    return db;
}

static int64_t count_rows(results_db *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(results_db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ---------- field tables ---------- */

static size_t align_of(const field_desc *f)
{
    if (f->type == FIELD_TEXT)
        return 1;
    return f->size < 8 ? f->size : 8;
}

static void check_covers(const char *name, const field_desc *f, size_t n, size_t struct_size)
{
    /* fields are listed in member order: each starts where the previous ended, plus only
     * the padding its alignment needs; the struct ends within 8 bytes of the last one */
    size_t end = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pad = (align_of(&f[i]) - end % align_of(&f[i])) % align_of(&f[i]);
        if (f[i].offset != end + pad)
            fail_msg("%s: field '%s' at offset %zu, expected %zu: a member of result.h is "
                     "missing from results_db.c's table",
                     name, f[i].name, f[i].offset, end + pad);
        end = f[i].offset + f[i].size;
    }
    if (struct_size - end >= 8)
        fail_msg("%s: %zu bytes after '%s' are not in results_db.c's table (a field was "
                 "added to result.h?)",
                 name, struct_size - end, f[n - 1].name);
}

static void test_field_tables_cover_result_h(void **state)
{
    (void)state;
    size_t n;
    const field_desc *f = result_fields_run(&n);
    /* a mixed fleet's pools are rows of their own (run_pools), with their count and total
       preemptions */
    check_covers("run_summary", f, n, offsetof(run_summary, preemptions));
    f = result_fields_pool(&n);
    check_covers("pool_result", f, n, sizeof(pool_result));
    f = result_fields_series(&n);
    check_covers("series_row", f, n, sizeof(series_row));
    f = result_fields_request(&n);
    check_covers("request_row", f, n, sizeof(request_row));
}

/* Distinct values in every field: big uint64 (above 2^63), negatives, NaN, infinity. */
static void fill(const field_desc *f, size_t n, void *rec, int salt)
{
    for (size_t i = 0; i < n; i++) {
        char text[64];
        int k = (int)i + salt * 100;
        switch (f[i].type) {
        case FIELD_TEXT:
            snprintf(text, sizeof(text), "%s-%d, \"quoted\"", f[i].name, salt);
            assert_int_equal(result_field_parse(&f[i], rec, text), 0);
            break;
        case FIELD_UINT64:
            snprintf(text, sizeof(text), "%" PRIu64, UINT64_C(0xF000000000000000) + (uint64_t)k);
            assert_int_equal(result_field_parse(&f[i], rec, text), 0);
            break;
        case FIELD_INT64:
            snprintf(text, sizeof(text), "%" PRId64, -INT64_C(1) * 1000000007 * (k + 1));
            assert_int_equal(result_field_parse(&f[i], rec, text), 0);
            break;
        case FIELD_UINT8:
            snprintf(text, sizeof(text), "%d", (k % 3)); /* outcome must stay < OUTCOMES */
            assert_int_equal(result_field_parse(&f[i], rec, text), 0);
            break;
        case FIELD_INT:
        case FIELD_INT32:
            snprintf(text, sizeof(text), "%d", -17 * (k + 1));
            assert_int_equal(result_field_parse(&f[i], rec, text), 0);
            break;
        case FIELD_FLOAT:
        case FIELD_DOUBLE:
            if (k % 11 == 5)
                snprintf(text, sizeof(text), "%s", ""); /* NaN */
            else if (k % 13 == 7)
                snprintf(text, sizeof(text), "inf");
            else
                snprintf(text, sizeof(text), "%.17g", 0.1 * (k + 1) + 1e-13);
            assert_int_equal(result_field_parse(&f[i], rec, text), 0);
            break;
        }
    }
}

/* Compares field by field through the text form (NaN == NaN, exact digits). */
static void expect_same(const char *what, const field_desc *f, size_t n, const void *a,
                        const void *b)
{
    for (size_t i = 0; i < n; i++) {
        char x[256], y[256];
        result_field_format(&f[i], a, x, sizeof(x));
        result_field_format(&f[i], b, y, sizeof(y));
        if (strcmp(x, y) != 0)
            fail_msg("%s: field %s: got \"%s\" want \"%s\"", what, f[i].name, y, x);
    }
}

static void test_field_text_round_trip(void **state)
{
    (void)state;
    size_t n;
    const field_desc *f = result_fields_run(&n);
    run_summary a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    fill(f, n, &a, 3);
    for (size_t i = 0; i < n; i++) {
        char t[256];
        result_field_format(&f[i], &a, t, sizeof(t));
        if (result_field_parse(&f[i], &b, t) != 0)
            fail_msg("field %s: cannot parse its own \"%s\"", f[i].name, t);
    }
    expect_same("text round trip", f, n, &a, &b);
    /* bad text is refused */
    const field_desc *rep = NULL, *label = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].name, "replication") == 0)
            rep = &f[i];
        if (strcmp(f[i].name, "label") == 0)
            label = &f[i];
    }
    assert_non_null(rep);
    assert_int_equal(result_field_parse(rep, &b, "12x"), GP_EPARSE);
    assert_int_equal(result_field_parse(rep, &b, ""), GP_EPARSE);
    assert_int_equal(result_field_parse(rep, &b, "99999999999"), GP_ERANGE);
    char long_label[200];
    memset(long_label, 'x', sizeof(long_label) - 1);
    long_label[sizeof(long_label) - 1] = '\0';
    assert_int_equal(result_field_parse(label, &b, long_label), GP_ERANGE);
}

/* ---------- the store ---------- */

static void make_run(run_summary *s, run_series *ser, request_log *log, int salt, size_t n_series,
                     size_t n_req)
{
    size_t nr, ns, nq;
    const field_desc *fr = result_fields_run(&nr), *fs = result_fields_series(&ns),
                     *fq = result_fields_request(&nq);
    memset(s, 0, sizeof(*s));
    fill(fr, nr, s, salt);
    /* a stored run is counted as done only when its totals add up (conservation) */
    s->arrived = s->completed + s->timed_out + s->rejected + s->in_flight_end;
    /* salt 1, 2: that many pools of a mixed fleet */
    size_t np;
    const field_desc *fp = result_fields_pool(&np);
    s->n_pools = salt <= RESULT_MAX_POOLS ? salt : 0;
    for (int p = 0; p < s->n_pools; p++) {
        fill(fp, np, &s->pool[p], salt * 10 + p);
        s->preemptions += s->pool[p].preemptions;
    }
    for (size_t i = 0; i < n_series; i++) {
        series_row r;
        memset(&r, 0, sizeof(r));
        fill(fs, ns, &r, salt + (int)i);
        r.t_us = (int64_t)i * 15000000;
        assert_int_equal(run_series_push(ser, &r), 0);
    }
    for (size_t i = 0; log && i < n_req; i++) {
        request_row r;
        memset(&r, 0, sizeof(r));
        fill(fq, nq, &r, salt + (int)i);
        r.id = i;
        assert_int_equal(request_log_push(log, &r), 0);
    }
}

static void test_round_trip_every_field(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "round.db");
    results_db *db = open_ok(path);
    gp_error e;
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "tidal", "experiments/tidal.yaml",
                                                  "policies: []\n", "profile text", &exp, &e),
                     0);
    run_summary s[2];
    run_series ser[2] = {{0}, {0}};
    request_log log[2] = {{0}, {0}};
    make_run(&s[0], &ser[0], &log[0], 1, 40, 30);
    make_run(&s[1], &ser[1], NULL, 2, 5, 0);
    char key[2][128];
    for (int i = 0; i < 2; i++) {
        results_db_run_key(key[i], sizeof(key[i]), exp, s[i].label, s[i].replication, s[i].seed);
        assert_int_equal(results_db_run_exists(db, key[i], &e), 0);
        assert_int_equal(
            results_db_write_run(db, exp, key[i], &s[i], &ser[i], i == 0 ? &log[0] : NULL, &e), 0);
        assert_int_equal(results_db_run_exists(db, key[i], &e), 1);
    }
    results_db_close(db);
    db = open_ok(path); /* read back from a fresh connection */

    run_summary *got;
    size_t n;
    assert_int_equal(results_db_read_runs(db, exp, &got, &n, &e), 0);
    assert_int_equal(n, 2);
    size_t nr, ns, nq;
    const field_desc *fr = result_fields_run(&nr), *fs = result_fields_series(&ns),
                     *fq = result_fields_request(&nq);
    expect_same("run 0", fr, nr, &s[0], &got[0]);
    expect_same("run 1", fr, nr, &s[1], &got[1]);
    size_t np;
    const field_desc *fp = result_fields_pool(&np);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(got[i].n_pools, s[i].n_pools);
        assert_true(got[i].preemptions == s[i].preemptions);
        for (int p = 0; p < s[i].n_pools; p++)
            expect_same("pool", fp, np, &s[i].pool[p], &got[i].pool[p]);
    }
    free(got);

    run_series rs = {0};
    assert_int_equal(results_db_read_series(db, key[0], &rs, &e), 0);
    assert_int_equal(rs.n, 40);
    for (size_t i = 0; i < rs.n; i++)
        expect_same("series row", fs, ns, &ser[0].row[i], &rs.row[i]);
    run_series_free(&rs);

    request_log rl = {0};
    assert_int_equal(results_db_read_requests(db, key[0], &rl, &e), 0);
    assert_int_equal(rl.n, 30);
    for (size_t i = 0; i < rl.n; i++)
        expect_same("request row", fq, nq, &log[0].row[i], &rl.row[i]);
    request_log_free(&rl);
    assert_int_equal(results_db_read_requests(db, key[1], &rl, &e), 0);
    assert_int_equal(rl.n, 0); /* no log given: no rows */

    assert_int_equal(results_db_read_series(db, "no/such/run", &rs, &e), GP_EMISSING);
    assert_int_equal(results_db_read_runs(db, exp + 100, &got, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(got);
    for (int i = 0; i < 2; i++) {
        run_series_free(&ser[i]);
        request_log_free(&log[i]);
    }
    results_db_close(db);
}

static void test_experiment_upsert(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "exp.db");
    results_db *db = open_ok(path);
    gp_error e;
    static const struct {
        const char *name, *yaml, *profile;
        int same_as;
    } rows[] = {
        {"tidal", "a: 1\n", "p1", -1}, {"tidal", "a: 1\n", "p1", 0}, /* rerun: same id */
        {"tidal", "a: 2\n", "p1", -1},                               /* edited file: new id */
        {"tidal", "a: 1\n", "p2", -1},                               /* other profile: new id */
        {"flat", "a: 1\n", "p1", -1},                                /* other name: new id */
        {"flat", "a: 1\n", NULL, -1},  {"flat", "a: 1\n", NULL, 5},
    };
    int64_t ids[7];
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(results_db_experiment_upsert(db, rows[i].name, "f.yaml", rows[i].yaml,
                                                      rows[i].profile, &ids[i], &e),
                         0);
        for (size_t k = 0; k < i; k++) {
            int want_same = rows[i].same_as == (int)k;
            if ((ids[i] == ids[k]) != want_same)
                fail_msg("row %zu vs %zu: ids %" PRId64 " %" PRId64 " (want %s)", i, k, ids[i],
                         ids[k], want_same ? "same" : "different");
        }
    }
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM experiments"), 5);
    assert_int_equal(
        count_rows(db, "SELECT COUNT(*) FROM experiments WHERE created_at "
                       "LIKE '____-__-__T__:__:__Z' AND gpenlab_version = '" GPENLAB_VERSION "'"),
        5);
    results_db_close(db);
}

static void test_unique_run_key_and_bad_experiment(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "unique.db");
    results_db *db = open_ok(path);
    gp_error e;
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "x", "x.yaml", "x", "", &exp, &e), 0);
    run_summary s;
    run_series ser = {0};
    make_run(&s, &ser, NULL, 1, 3, 0);
    assert_int_equal(results_db_write_run(db, exp, "k1", &s, &ser, NULL, &e), 0);
    gp_error_clear(&e);
    assert_int_equal(results_db_write_run(db, exp, "k1", &s, &ser, NULL, &e), GP_EINVARIANT);
    assert_string_equal(e.file, path);
    assert_non_null(strstr(e.msg, "UNIQUE"));
    gp_error_clear(&e);
    assert_int_equal(results_db_write_run(db, exp + 42, "k2", &s, &ser, NULL, &e), GP_EINVARIANT);
    assert_non_null(strstr(e.msg, "FOREIGN KEY"));
    assert_int_equal(results_db_run_exists(db, "k2", &e), 0);
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM series"), 3);
    /* the connection is usable after the failures */
    assert_int_equal(results_db_write_run(db, exp, "k3", &s, &ser, NULL, &e), 0);
    run_series_free(&ser);
    results_db_close(db);
}

static void test_failure_midway_leaves_nothing(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "midway.db");
    results_db *db = open_ok(path);
    gp_error e;
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "x", "x.yaml", "x", "", &exp, &e), 0);
    static const struct {
        const char *name;
        int bad_outcome;
        int dup_id;
    } rows[] = {
        {"request 900 has an invalid outcome", 1, 0},
        {"request 900 repeats an id", 0, 1},
    };
    for (size_t i = 0; i < 2; i++) {
        run_summary s;
        run_series ser = {0};
        request_log log = {0};
        make_run(&s, &ser, &log, 1, 500, 1000);
        if (rows[i].bad_outcome)
            log.row[900].outcome = 9;
        if (rows[i].dup_id)
            log.row[900].id = 5;
        gp_error_clear(&e);
        int rc = results_db_write_run(db, exp, rows[i].name, &s, &ser, &log, &e);
        if (rc != GP_EINVARIANT)
            fail_msg("%s: got %d want GP_EINVARIANT (%s)", rows[i].name, rc, e.msg);
        if (results_db_run_exists(db, rows[i].name, &e) != 0)
            fail_msg("%s: the run is there", rows[i].name);
        int64_t nrun = count_rows(db, "SELECT COUNT(*) FROM runs"),
                nser = count_rows(db, "SELECT COUNT(*) FROM series"),
                nreq = count_rows(db, "SELECT COUNT(*) FROM requests");
        if (nrun || nser || nreq)
            fail_msg("%s: left %" PRId64 " runs, %" PRId64 " series, %" PRId64 " requests",
                     rows[i].name, nrun, nser, nreq);
        assert_true(sqlite3_get_autocommit(results_db_sqlite(db)));
        run_series_free(&ser);
        request_log_free(&log);
    }
    results_db_close(db);
}

/* Child: kills itself with SIGKILL from inside SQLite after `kill_after` progress calls. */
static int kill_when_due(void *ud)
{
    int *left = ud;
    if (--*left == 0)
        raise(SIGKILL);
    return 0;
}

static void test_killed_mid_write(void **state)
{
    (void)state;
    char path[128], wal[160];
    db_path(path, sizeof(path), "killed.db");
    snprintf(wal, sizeof(wal), "%s-wal", path);
    results_db *db = open_ok(path);
    gp_error e;
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "x", "x.yaml", "x", "", &exp, &e), 0);
    run_summary s;
    run_series small = {0}, big = {0};
    make_run(&s, &small, NULL, 1, 10, 0);
    assert_int_equal(results_db_write_run(db, exp, "complete", &s, &small, NULL, &e), 0);
    results_db_close(db);
    /* 8000 rows (~1 MB) overflow the child's page cache of 16 pages, so pages of the
     * open transaction reach the WAL before the kill (SQLite's default 2 MB cache took
     * 200000 rows: minutes under valgrind) */
    for (int i = 0; i < 8000; i++) {
        series_row r = small.row[i % 10];
        r.t_us = (int64_t)i * 1000;
        assert_int_equal(run_series_push(&big, &r), 0);
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        results_db *cdb = NULL;
        if (results_db_open(path, &cdb, NULL) != 0)
            _exit(3);
        if (sqlite3_exec(results_db_sqlite(cdb), "PRAGMA cache_size = 16", NULL, NULL, NULL))
            _exit(3);
        /* progress calls of 1000 VM steps: the whole write takes about 450, so this is
         * about half way through the insert loop */
        int left = 250;
        sqlite3_progress_handler(results_db_sqlite(cdb), 1000, kill_when_due, &left);
        results_db_write_run(cdb, exp, "partial", &s, &big, NULL, NULL);
        _exit(4); /* finished before the kill: the test's premise failed */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("child was not killed mid-write (status %d, exit %d)", status,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    struct stat st;
    if (stat(wal, &st) != 0 || st.st_size < 256 << 10)
        fail_msg("the WAL holds %lld bytes: the kill came before any page was written",
                 (long long)(stat(wal, &st) == 0 ? st.st_size : -1));

    db = open_ok(path);
    sqlite3_stmt *q;
    assert_int_equal(
        sqlite3_prepare_v2(results_db_sqlite(db), "PRAGMA integrity_check", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(results_db_run_exists(db, "partial", &e), 0);
    assert_int_equal(results_db_run_exists(db, "complete", &e), 1);
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM series"), 10);
    /* and the rerun writes it */
    assert_int_equal(results_db_write_run(db, exp, "partial", &s, &big, NULL, &e), 0);
    assert_int_equal(count_rows(db, "SELECT COUNT(*) FROM series"), 8010);
    results_db_close(db);
    run_series_free(&small);
    run_series_free(&big);
}

static void test_open_errors_and_migration(void **state)
{
    (void)state;
    gp_error e;
    results_db *db = NULL;
    char path[128];

    gp_error_clear(&e);
    assert_int_equal(results_db_open("/nonexistent-dir/x/r.db", &db, &e), GP_EIO);
    assert_null(db);
    assert_string_equal(e.file, "/nonexistent-dir/x/r.db");

    db_path(path, sizeof(path), "garbage.db");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database file at all\n", f);
    fclose(f);
    gp_error_clear(&e);
    assert_int_equal(results_db_open(path, &db, &e), GP_EIO);
    assert_non_null(strstr(e.msg, "not a database"));

    /* a newer schema is refused */
    db_path(path, sizeof(path), "newer.db");
    db = open_ok(path);
    assert_int_equal(
        sqlite3_exec(results_db_sqlite(db), "PRAGMA user_version = 99", NULL, NULL, NULL),
        SQLITE_OK);
    results_db_close(db);
    gp_error_clear(&e);
    assert_int_equal(results_db_open(path, &db, &e), GP_ENOTSUP);
    assert_non_null(strstr(e.msg, "schema version 99"));

    /* an older file lacking columns gets them */
    db_path(path, sizeof(path), "older.db");
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TABLE runs(id INTEGER PRIMARY KEY, experiment_id "
                                  "INTEGER NOT NULL, run_key TEXT NOT NULL UNIQUE, label TEXT)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    db = open_ok(path);
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "x", "x.yaml", "x", "", &exp, &e), 0);
    run_summary s, *got;
    run_series ser = {0};
    make_run(&s, &ser, NULL, 4, 2, 0);
    assert_int_equal(results_db_write_run(db, exp, "k", &s, &ser, NULL, &e), 0);
    size_t n, nr;
    assert_int_equal(results_db_read_runs(db, exp, &got, &n, &e), 0);
    assert_int_equal(n, 1);
    const field_desc *fr = result_fields_run(&nr);
    expect_same("migrated", fr, nr, &s, &got[0]);
    free(got);
    run_series_free(&ser);
    results_db_close(db);
}

/* ---- issue 13: foreign files, the writer lock, read-only opens, checked resumes ---- */

static char *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void expect_same_bytes(const char *what, const char *path, const char *before, size_t n)
{
    size_t m;
    char *now = file_bytes(path, &m);
    if (m != n || memcmp(now, before, n) != 0)
        fail_msg("%s: %s was modified (%zu bytes before, %zu after)", what, path, n, m);
    free(now);
}

static void exec_raw(const char *path, const char *sql)
{
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(raw, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(raw);
}

/* Another application's SQLite file is refused before anything is written to it: the
 * bytes and the journal mode stay as they were (it used to be switched to WAL, or worse,
 * given gpenlab's tables beside its own). */
static void test_foreign_file_refused_untouched(void **state)
{
    (void)state;
    static const struct {
        const char *name, *sql, *want;
    } rows[] = {
        {"foreign.db", "CREATE TABLE foo(x); INSERT INTO foo VALUES(1);", "holds table foo"},
        {"foreign_runs.db", "CREATE TABLE runs(x); CREATE TABLE notes(t);",
         "holds tables notes, runs"},
        {"foreign_app.db", "PRAGMA application_id = 1234; CREATE TABLE experiments(name, ident);",
         "application_id"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[128], lock[160];
        db_path(path, sizeof(path), rows[i].name);
        snprintf(lock, sizeof(lock), "%s-lock", path);
        exec_raw(path, rows[i].sql);
        size_t n;
        char *before = file_bytes(path, &n);
        gp_error e;
        gp_error_clear(&e);
        results_db *db = NULL;
        for (int ro = 0; ro < 2; ro++) {
            int rc = ro ? results_db_open_read(path, &db, &e) : results_db_open(path, &db, &e);
            if (rc != GP_ENOTSUP || !strstr(e.msg, rows[i].want) ||
                !strstr(e.msg, "not a gpenlab results database"))
                fail_msg("%s (%s): rc %d '%s'", rows[i].name, ro ? "read" : "write", rc, e.msg);
            assert_null(db);
        }
        expect_same_bytes(rows[i].name, path, before, n);
        assert_int_equal(access(lock, F_OK), -1);
        sqlite3 *raw;
        assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "delete");
        sqlite3_finalize(q);
        sqlite3_close(raw);
        free(before);
    }
}

/* A second writer is refused at once (it used to simulate everything, then fail on the
 * UNIQUE run key); a worker of the holder opens alongside; the lock goes with the holder. */
static void test_second_writer_refused(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "locked.db");
    results_db *a = open_ok(path), *b = NULL;
    gp_error e;
    gp_error_clear(&e);
    assert_int_equal(results_db_open(path, &b, &e), GP_EBUSY);
    assert_null(b);
    assert_non_null(strstr(e.msg, "another gpenlab is writing this database"));
    /* a forked process holds the lock too (sweep -j): a writer there is refused as well,
     * a worker connection and a reader are not */
    fflush(NULL);
    unsigned errors = VALGRIND_COUNT_ERRORS;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        results_db *w = NULL, *r = NULL, *x = NULL;
        int ok = results_db_open(path, &x, NULL) == GP_EBUSY &&
                 results_db_open_worker(path, &w, NULL) == 0 &&
                 results_db_open_read(path, &r, NULL) == 0;
        results_db_close(w);
        results_db_close(r);
        child_exit(ok ? 0 : 1, errors);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    results_db_close(a);
    b = open_ok(path);
    results_db_close(b);
}

/* Reading creates, locks and writes nothing: the bytes stay as they were, an older schema
 * reads its missing columns as NaN, and a read-only file in a read-only directory opens
 * (report and export used to fail there: the open switched the journal and wrote the
 * schema version). */
static void test_read_only_open(void **state)
{
    (void)state;
    char dir[128], path[160];
    db_path(dir, sizeof(dir), "ro");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/r.db", dir);
    results_db *db = open_ok(path);
    gp_error e;
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "x", "x.yaml", "x", "", &exp, &e), 0);
    run_summary s;
    run_series ser = {0};
    make_run(&s, &ser, NULL, 3, 4, 0);
    assert_int_equal(results_db_write_run(db, exp, "k", &s, &ser, NULL, &e), 0);
    run_series_free(&ser);
    results_db_close(db);
    size_t n;
    char *before = file_bytes(path, &n);
    gp_error_clear(&e);
    assert_int_equal(results_db_open_read(path, &db, &e), 0);
    run_summary *got;
    size_t nr;
    assert_int_equal(results_db_read_runs(db, exp, &got, &nr, &e), 0);
    assert_int_equal(nr, 1);
    free(got);
    assert_int_equal(results_db_write_run(db, exp, "k2", &s, NULL, NULL, &e), GP_ENOTSUP);
    results_db_close(db);
    expect_same_bytes("read-only open", path, before, n);
    free(before);

    /* as a user who may not write the file or its directory */
    if (geteuid() == 0) {
        assert_int_equal(chmod(path, 0444), 0);
        assert_int_equal(chmod(tmpdir, 0755), 0);
        fflush(NULL);
        unsigned errors = VALGRIND_COUNT_ERRORS;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                child_exit(3, errors);
            results_db *r = NULL;
            run_summary *rows = NULL;
            size_t k = 0;
            int ok = results_db_open_read(path, &r, NULL) == 0 &&
                     results_db_read_runs(r, exp, &rows, &k, NULL) == 0 && k == 1;
            free(rows);
            results_db_close(r);
            child_exit(ok ? 0 : 1, errors);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("read-only open as uid 65534: exit %d", WEXITSTATUS(status));
        chmod(path, 0644);
    }

    /* an older file read-only: columns it lacks come back as NaN / 0 */
    char old[160];
    snprintf(old, sizeof(old), "%s/old.db", dir);
    exec_raw(old, "CREATE TABLE experiments(id INTEGER PRIMARY KEY, name, file, yaml_text, "
                  "profile_text, ident, created_at, gpenlab_version);"
                  "CREATE TABLE runs(id INTEGER PRIMARY KEY, experiment_id, run_key, label, "
                  "arrived);"
                  "CREATE TABLE series(run_id, seq, t_us); CREATE TABLE requests(run_id, id);"
                  "INSERT INTO experiments(id, name) VALUES(1, 'old');"
                  "INSERT INTO runs VALUES(1, 1, 'e1/a/r0/s1', 'a', 7);");
    gp_error_clear(&e);
    if (results_db_open_read(old, &db, &e) != 0)
        fail_msg("older file: %s", e.msg);
    assert_int_equal(results_db_read_runs(db, 1, &got, &nr, &e), 0);
    assert_int_equal(nr, 1);
    assert_string_equal(got[0].label, "a");
    assert_int_equal(got[0].arrived, 7);
    assert_true(isnan(got[0].lat_p99_s));
    free(got);
    results_db_close(db);

    /* no file: GP_EMISSING, and nothing is created */
    snprintf(old, sizeof(old), "%s/none.db", dir);
    assert_int_equal(results_db_open_read(old, &db, &e), GP_EMISSING);
    assert_int_equal(access(old, F_OK), -1);
}

/* A stored run whose totals no longer add up is not counted as done (it used to be
 * resumed, and its figures reported, as they stood). */
static void test_resume_checks_conservation(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "tampered.db");
    results_db *db = open_ok(path);
    gp_error e;
    int64_t exp;
    assert_int_equal(results_db_experiment_upsert(db, "x", "x.yaml", "x", "", &exp, &e), 0);
    run_summary s;
    run_series ser = {0};
    make_run(&s, &ser, NULL, 5, 1, 0);
    assert_int_equal(results_db_write_run(db, exp, "e1/a/r0/s1", &s, NULL, NULL, &e), 0);
    assert_int_equal(results_db_run_exists(db, "e1/a/r0/s1", &e), 1);
    results_db_close(db);
    exec_raw(path, "UPDATE runs SET completed = completed - 1");
    db = open_ok(path);
    gp_error_clear(&e);
    assert_int_equal(results_db_run_exists(db, "e1/a/r0/s1", &e), GP_EINVARIANT);
    assert_non_null(strstr(e.msg, "e1/a/r0/s1"));
    assert_non_null(strstr(e.msg, "conservation"));
    assert_int_equal(results_db_run_exists(db, "e1/a/r1/s2", &e), 0);
    results_db_close(db);
    run_series_free(&ser);
}

/* The queries that reports, exports and sweeps used to run themselves. */
static void test_listing_queries(void **state)
{
    (void)state;
    char path[128];
    db_path(path, sizeof(path), "lists.db");
    results_db *db = open_ok(path);
    gp_error e;
    int64_t a, b, p0, p1, p0_edited;
    assert_int_equal(results_db_experiment_upsert(db, "a", "a.yaml", "A", NULL, &a, &e), 0);
    assert_int_equal(results_db_experiment_upsert(db, "sw-p0000", "sw.yaml", "P0", "prof", &p0, &e),
                     0);
    assert_int_equal(results_db_experiment_upsert(db, "sw-p0001", "sw.yaml", "P1", NULL, &p1, &e),
                     0);
    /* the sweep file edited: point 0 is another experiment of the same name now */
    assert_int_equal(
        results_db_experiment_upsert(db, "sw-p0000", "sw.yaml", "P0b", "prof", &p0_edited, &e), 0);
    assert_int_equal(results_db_experiment_upsert(db, "b", "b.yaml", "B", "pb", &b, &e), 0);
    assert_int_equal(results_db_sweep_point_put(db, "sw", 1, p1, "x=2", &e), 0);
    assert_int_equal(results_db_sweep_point_put(db, "sw", 0, p0, "x=1", &e), 0);
    assert_int_equal(results_db_sweep_point_put(db, "sw", 0, p0_edited, "x=1 edited", &e), 0);
    run_summary s;
    run_series ser = {0};
    make_run(&s, &ser, NULL, 7, 1, 0);
    snprintf(s.label, sizeof(s.label), "static-2");
    assert_int_equal(results_db_write_run(db, a, "e1/static-2/r0/s1", &s, NULL, NULL, &e), 0);
    run_series_free(&ser);
    results_db_close(db);

    assert_int_equal(results_db_open_read(path, &db, &e), 0);
    results_db_experiment *xs;
    size_t n;
    assert_int_equal(results_db_experiments(db, &xs, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_string_equal(xs[0].name, "a");
    assert_string_equal(xs[1].name, "b");
    assert_string_equal(xs[1].file, "b.yaml");
    free(xs);
    results_db_sweep_point *sp;
    assert_int_equal(results_db_sweep_points(db, &sp, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sp[0].point, 0); /* the latest record of a point replaces the earlier */
    assert_int_equal(sp[0].experiment_id, p0_edited);
    assert_string_equal(sp[0].params, "x=1 edited");
    assert_string_equal(sp[1].sweep, "sw");
    free(sp);
    results_db_inputs in;
    assert_int_equal(results_db_inputs_for_label(db, "static-2", &in, &e), 0);
    assert_int_equal(in.id, a); /* the newest with runs of the label, not the newest */
    assert_string_equal(in.yaml_text, "A");
    assert_null(in.profile_text);
    results_db_inputs_free(&in);
    assert_int_equal(results_db_inputs_for_label(db, "nothing", &in, &e), 0);
    assert_int_equal(in.id, b);
    assert_string_equal(in.profile_text, "pb");
    results_db_inputs_free(&in);
    results_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_tables_cover_result_h),
        cmocka_unit_test(test_field_text_round_trip),
        cmocka_unit_test(test_round_trip_every_field),
        cmocka_unit_test(test_experiment_upsert),
        cmocka_unit_test(test_unique_run_key_and_bad_experiment),
        cmocka_unit_test(test_failure_midway_leaves_nothing),
        cmocka_unit_test(test_killed_mid_write),
        cmocka_unit_test(test_open_errors_and_migration),
        cmocka_unit_test(test_foreign_file_refused_untouched),
        cmocka_unit_test(test_second_writer_refused),
        cmocka_unit_test(test_read_only_open),
        cmocka_unit_test(test_resume_checks_conservation),
        cmocka_unit_test(test_listing_queries),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
