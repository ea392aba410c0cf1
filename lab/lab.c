/* lab.c: running an experiment into the results database (see lab.h). */
#include "lab/lab.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fileio.h"
#include "lab/fleet_report.h"
#include "lab/report.h"
#include "lab/results_db.h"

void lab_opts_default(lab_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = -1;
}

typedef struct progress_ctx {
    int index, total;
    const char *label;
    int rep;
    int last_pct;
} progress_ctx;

static void progress_draw(void *ctx, double frac)
{
    progress_ctx *p = ctx;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    int pct = (int)(frac * 100);
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r  run %d/%d  %-20.20s rep %-3d [%s] %3d%%", p->index, p->total, p->label,
            p->rep, bar, pct);
    fflush(stderr);
}

/* Creates the parent directory of a results path when it is missing (one level). */
static int ensure_parent_dir(const char *path, gp_error *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[512];
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return gp_error_set(err, GP_EIO, dir, 0, 0, NULL, "cannot create directory: %s",
                            strerror(errno));
    return 0;
}

/* ---------- -j N: runs on worker processes, written by this one in order ---------- */

typedef struct unit {
    int pi, rep;
    char key[256];
} unit;

typedef struct unit_msg {
    int32_t unit; /* index into the unit list */
    int32_t rc;
    gp_error err;
} unit_msg;

static void unit_file(char *buf, size_t n, const char *dir, int u)
{
    snprintf(buf, n, "%s/unit-%d.bin", dir, u);
}

/* One unit in a worker: the run, then summary, series and request rows to a file. */
static int unit_run_to_file(const experiment *e, const lab_opts *o, uint64_t seed,
                            const unit *u, int index, const char *dir, int k, gp_error *err)
{
    sim_cfg cfg;
    experiment_sim_cfg(e, u->pi, u->rep, &cfg);
    ((experiment *)e)->workload.warn = index == 0 ? o->warn : NULL;
    cfg.seed = seed + (uint64_t)u->rep;
    if (o->record_requests)
        cfg.record_requests = true;
    run_summary sum;
    run_series series = {0};
    request_log log = {0};
    int rc = sim_run(&cfg, &sum, cfg.record_series ? &series : NULL,
                     cfg.record_requests ? &log : NULL, err);
    char path[700];
    unit_file(path, sizeof(path), dir, k);
    FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
    if (rc == 0 && !f)
        rc = gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot create: %s", strerror(errno));
    if (f) {
        uint64_t ns = series.n, nr = log.n;
        bool ok = fwrite(&sum, sizeof(sum), 1, f) == 1 && fwrite(&ns, sizeof(ns), 1, f) == 1 &&
                  (ns == 0 || fwrite(series.row, sizeof(series.row[0]), ns, f) == ns) &&
                  fwrite(&nr, sizeof(nr), 1, f) == 1 &&
                  (nr == 0 || fwrite(log.row, sizeof(log.row[0]), nr, f) == nr);
        if (fclose(f) != 0 || !ok)
            rc = gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    }
    if (rc < 0 && err->field[0] == '\0' && err->file[0] == '\0')
        snprintf(err->field, sizeof(err->field), "%s", e->policy[u->pi].label);
    run_series_free(&series);
    request_log_free(&log);
    return rc;
}

/* Reads a unit's file back and writes its run into the database. */
static int unit_store(results_db *db, int64_t exp_id, const unit *u, const char *dir, int k,
                      gp_error *err)
{
    char path[700];
    unit_file(path, sizeof(path), dir, k);
    FILE *f = fopen(path, "rb");
    if (!f)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    run_summary sum;
    run_series series = {0};
    request_log log = {0};
    uint64_t ns = 0, nr = 0;
    bool ok = fread(&sum, sizeof(sum), 1, f) == 1 && fread(&ns, sizeof(ns), 1, f) == 1;
    if (ok && ns) {
        series.row = malloc(ns * sizeof(series.row[0]));
        ok = series.row && fread(series.row, sizeof(series.row[0]), ns, f) == ns;
        series.n = series.cap = ok ? ns : 0;
    }
    ok = ok && fread(&nr, sizeof(nr), 1, f) == 1;
    if (ok && nr) {
        log.row = malloc(nr * sizeof(log.row[0]));
        ok = log.row && fread(log.row, sizeof(log.row[0]), nr, f) == nr;
        log.n = log.cap = ok ? nr : 0;
    }
    fclose(f);
    unlink(path);
    int rc = ok ? results_db_write_run(db, exp_id, u->key, &sum, ns ? &series : NULL,
                                       nr ? &log : NULL, err)
                : gp_error_set(err, GP_EIO, path, 0, 0, NULL, "a worker's result is incomplete");
    run_series_free(&series);
    request_log_free(&log);
    return rc;
}

/* Every unit on o->jobs worker processes, which take the next unit from a shared counter;
 * this process writes each run as soon as it and all before it are done, so the database
 * receives exactly what -j1 writes, in the same order. */
static int run_parallel(const experiment *e, const lab_opts *o, uint64_t seed, results_db *db,
                        int64_t exp_id, const unit *units, int n, gp_error *err)
{
    char dir[] = "/tmp/gpenlab-run-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char dir_buf[600];
    if (tmp && *tmp && strlen(tmp) < 500) {
        snprintf(dir_buf, sizeof(dir_buf), "%s/gpenlab-run-XXXXXX", tmp);
        if (!mkdtemp(dir_buf))
            return gp_error_set(err, GP_EIO, dir_buf, 0, 0, NULL, "cannot create: %s",
                                strerror(errno));
    } else if (!mkdtemp(dir)) {
        return gp_error_set(err, GP_EIO, dir, 0, 0, NULL, "cannot create: %s", strerror(errno));
    }
    const char *where = tmp && *tmp && strlen(tmp) < 500 ? dir_buf : dir;
    int *next = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (next == MAP_FAILED) {
        rmdir(where);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "mmap: %s", strerror(errno));
    }
    *next = 0;
    int jobs = o->jobs < n ? o->jobs : n;
    if (jobs > 256)
        jobs = 256;
    pid_t pid[256];
    struct pollfd fds[256];
    int started = 0, rc = 0;
    for (int j = 0; j < jobs; j++) {
        int p[2];
        if (pipe(p) < 0) {
            rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "pipe: %s", strerror(errno));
            break;
        }
        fflush(NULL);
        pid_t c = fork();
        if (c < 0) {
            close(p[0]);
            close(p[1]);
            rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "fork: %s", strerror(errno));
            break;
        }
        if (c == 0) {
            close(p[0]);
            for (int k = 0; k < started; k++)
                close(fds[k].fd);
            for (;;) {
                if (o->stop && *o->stop)
                    break;
                int k = __atomic_fetch_add(next, 1, __ATOMIC_SEQ_CST);
                if (k >= n)
                    break;
                unit_msg m;
                memset(&m, 0, sizeof(m));
                gp_error_clear(&m.err);
                m.unit = k;
                m.rc = unit_run_to_file(e, o, seed, &units[k], k, where, k, &m.err);
                if (write(p[1], &m, sizeof(m)) != (ssize_t)sizeof(m) || m.rc < 0)
                    break;
            }
            close(p[1]);
            _exit(0);
        }
        close(p[1]);
        pid[started] = c;
        fds[started].fd = p[0];
        fds[started].events = POLLIN;
        started++;
    }
    char *done = calloc((size_t)n, 1);
    int written = 0, open_pipes = started;
    bool told_stop = false;
    if (!done && rc == 0)
        rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    while (open_pipes > 0) {
        if (o->stop && *o->stop && !told_stop) {
            told_stop = true; /* workers finish the run they hold, then stop */
            for (int j = 0; j < started; j++)
                kill(pid[j], SIGTERM);
        }
        if (poll(fds, (nfds_t)started, 200) < 0 && errno != EINTR)
            break;
        for (int j = 0; j < started; j++) {
            if (fds[j].fd < 0 || !(fds[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            unit_msg m;
            ssize_t got = read(fds[j].fd, &m, sizeof(m));
            if (got != (ssize_t)sizeof(m)) {
                close(fds[j].fd);
                fds[j].fd = -1;
                open_pipes--;
                continue;
            }
            if (m.rc < 0 && rc == 0) {
                *err = m.err;
                rc = m.rc;
            }
            if (m.rc == 0 && m.unit >= 0 && m.unit < n && done)
                done[m.unit] = 1;
        }
        while (rc == 0 && written < n && done[written]) {
            rc = unit_store(db, exp_id, &units[written], where, written, err);
            written++;
            if (o->progress && rc == 0) {
                fprintf(stderr, "\r  run %d/%d written (%d workers)", written, n, started);
                fflush(stderr);
            }
        }
    }
    for (int j = 0; j < started; j++) {
        int status = 0;
        while (waitpid(pid[j], &status, 0) < 0 && errno == EINTR)
            ;
        if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !told_stop)
            rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL,
                              "a run worker died (status %d); rerun to resume", status);
    }
    if (rc == 0 && written < n)
        rc = o->stop && *o->stop
                 ? gp_error_set(err, GP_EINTERRUPTED, NULL, 0, 0, NULL,
                                "interrupted: %d of %d runs done, the rest resume on rerun",
                                written, n)
                 : gp_error_set(err, GP_EIO, NULL, 0, 0, NULL,
                                "the workers stopped after %d of %d runs; rerun to resume",
                                written, n);
    for (int k = 0; k < n; k++) {
        char path[700];
        unit_file(path, sizeof(path), where, k);
        unlink(path);
    }
    rmdir(where);
    free(done);
    munmap(next, sizeof(int));
    return rc;
}

int lab_run(const experiment *e, const lab_opts *o, FILE *out, gp_error *err)
{
    char db_default[600];
    const char *db_path = o->db_path ? o->db_path : e->db_path[0] ? e->db_path : NULL;
    if (!db_path) {
        char safe[128]; /* a name becomes a file name: keep it inside results/ */
        gp_safe_file_name(safe, sizeof(safe), e->name);
        snprintf(db_default, sizeof(db_default), "results/%s.db", safe);
        db_path = db_default;
    }
    const char *csv_path = o->csv_path ? o->csv_path : e->csv_path[0] ? e->csv_path : NULL;
    int reps = o->replications > 0 ? o->replications : e->replications;
    uint64_t seed = o->seed >= 0 ? (uint64_t)o->seed : e->seed;

    int rc = ensure_parent_dir(db_path, err);
    if (rc < 0)
        return rc;
    results_db *db = NULL;
    rc = results_db_open(db_path, &db, err);
    if (rc < 0)
        return rc;
    int64_t exp_id = 0;
    rc = results_db_experiment_upsert(db, e->name, e->path, e->yaml_text, e->profile_text,
                                      &exp_id, err);
    int total = e->n_policies * reps, index = 0, resumed = 0;
    if (rc == 0 && o->jobs > 1) {
        /* the runs not in the database yet, in the order -j1 runs them */
        unit *units = malloc((size_t)(total ? total : 1) * sizeof(*units));
        int n = 0;
        if (!units)
            rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        for (int pi = 0; rc == 0 && pi < e->n_policies; pi++)
            for (int r = 0; rc == 0 && r < reps; r++) {
                unit *u = &units[n];
                u->pi = pi;
                u->rep = r;
                results_db_run_key(u->key, sizeof(u->key), exp_id, e->policy[pi].label, r,
                                   seed + (uint64_t)r);
                rc = results_db_run_exists(db, u->key, err);
                if (rc == 1) {
                    resumed++;
                    rc = 0;
                } else if (rc == 0) {
                    n++;
                }
            }
        if (rc == 0 && n > 0)
            rc = run_parallel(e, o, seed, db, exp_id, units, n, err);
        free(units);
    }
    for (int pi = 0; rc == 0 && o->jobs <= 1 && pi < e->n_policies; pi++) {
        for (int r = 0; rc == 0 && r < reps; r++) {
            index++;
            if (o->stop && *o->stop) {
                rc = gp_error_set(err, GP_EINTERRUPTED, db_path, 0, 0, NULL,
                                  "interrupted: %d of %d runs done, the rest resume on rerun",
                                  index - 1, total);
                break;
            }
            sim_cfg cfg;
            experiment_sim_cfg(e, pi, r, &cfg);
            /* the same trace warnings would repeat for every run: show them once */
            ((experiment *)e)->workload.warn = index == 1 ? o->warn : NULL;
            cfg.seed = seed + (uint64_t)r;
            if (o->record_requests)
                cfg.record_requests = true;
            char key[256];
            results_db_run_key(key, sizeof(key), exp_id, e->policy[pi].label, r, cfg.seed);
            rc = results_db_run_exists(db, key, err);
            if (rc < 0)
                break;
            if (rc == 1) {
                resumed++;
                rc = 0;
                continue;
            }
            progress_ctx pc = {.index = index, .total = total, .label = e->policy[pi].label,
                               .rep = r, .last_pct = -1};
            if (o->progress) {
                cfg.progress = progress_draw;
                cfg.progress_ctx = &pc;
                progress_draw(&pc, 0);
            }
            run_summary sum;
            run_series series = {0};
            request_log log = {0};
            rc = sim_run(&cfg, &sum, cfg.record_series ? &series : NULL,
                         cfg.record_requests ? &log : NULL, err);
            if (rc == 0)
                rc = results_db_write_run(db, exp_id, key, &sum, cfg.record_series ? &series : NULL,
                                          cfg.record_requests ? &log : NULL, err);
            if (rc < 0 && err->field[0] == '\0' && err->file[0] == '\0')
                snprintf(err->field, sizeof(err->field), "%s", e->policy[pi].label);
            else if (rc == GP_ELIMIT && err->file[0] == '\0') /* a row limit: the file's option */
                snprintf(err->file, sizeof(err->file), "%.*s", (int)sizeof(err->file) - 1, e->path);
            run_series_free(&series);
            request_log_free(&log);
        }
    }
    if (o->progress)
        fprintf(stderr, "\r%-90s\r", "");
    run_summary *runs = NULL;
    size_t n_runs = 0;
    if (rc == 0)
        rc = results_db_read_runs(db, exp_id, &runs, &n_runs, err);
    if (rc == 0) {
        /* keep the runs of this invocation's labels, replications and seeds */
        size_t k = 0;
        for (size_t i = 0; i < n_runs; i++) {
            bool keep = runs[i].replication < reps && runs[i].seed == seed + (uint64_t)runs[i].replication;
            bool known = false;
            for (int pi = 0; pi < e->n_policies; pi++)
                known |= strcmp(runs[i].label, e->policy[pi].label) == 0;
            if (keep && known)
                runs[k++] = runs[i];
        }
        n_runs = k;
        if (!o->quiet) {
            fprintf(out, "experiment %s: %d policies x %d replications (%d resumed from %s)\n",
                    e->name, e->n_policies, reps, resumed, db_path);
            fprintf(out, "profile %s (%s, %s)\n", e->profile_path, e->profile->card,
                    e->profile->provenance);
            rc = report_print_table(out, runs, n_runs, err);
            if (rc == 0)
                rc = fleet_report_print(out, runs, n_runs, err);
        }
        if (rc == 0 && csv_path)
            rc = ensure_parent_dir(csv_path, err);
        if (rc == 0 && csv_path)
            rc = report_write_csv(csv_path, runs, n_runs, err);
    }
    free(runs);
    results_db_close(db);
    return rc;
}
