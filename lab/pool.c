/* pool.c: units over processes (see pool.h). */
#include "lab/pool.h"

#include "base/common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Shared between the workers and the waiting parent (MAP_SHARED); every field is read
 * and written with __atomic builtins. */
typedef struct pool_shared {
    size_t next; /* the next unit to take */
    size_t ran, resumed;
    long unit[POOL_MAX_JOBS]; /* -1: idle */
    int permille[POOL_MAX_JOBS];
} pool_shared;

struct pool_progress {
    pool_shared *sh;
    int slot;
    /* inline drawing (jobs == 1) */
    pool_draw_fn draw;
    void *draw_ctx;
    size_t units;
    double start_s, last_draw_s;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fill_view(const pool_shared *sh, size_t units, int jobs, double start_s, pool_view *v)
{
    memset(v, 0, sizeof(*v));
    v->units = units;
    v->ran = __atomic_load_n(&sh->ran, __ATOMIC_RELAXED);
    v->resumed = __atomic_load_n(&sh->resumed, __ATOMIC_RELAXED);
    v->elapsed_s = now_s() - start_s;
    v->jobs = jobs;
    for (int j = 0; j < jobs; j++) {
        v->slot[j].unit = __atomic_load_n(&sh->unit[j], __ATOMIC_RELAXED);
        v->slot[j].frac = __atomic_load_n(&sh->permille[j], __ATOMIC_RELAXED) / 1000.0;
    }
}

void pool_progress_report(pool_progress *p, double frac)
{
    if (!p)
        return;
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    __atomic_store_n(&p->sh->permille[p->slot], (int)(frac * 1000), __ATOMIC_RELAXED);
    if (p->draw) {
        double t = now_s();
        if (t - p->last_draw_s >= 0.25) {
            p->last_draw_s = t;
            pool_view v;
            fill_view(p->sh, p->units, 1, p->start_s, &v);
            p->draw(p->draw_ctx, &v);
        }
    }
}

int pool_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > POOL_MAX_JOBS ? POOL_MAX_JOBS : (int)n;
}

/* A worker's report to the calling process (forked workers, one pipe each). */
typedef struct pool_msg {
    int32_t kind; /* MSG_RAN, MSG_RESUMED, MSG_ERROR */
    int64_t unit;
    gp_error err;
} pool_msg;
enum { MSG_RAN = 1, MSG_RESUMED, MSG_ERROR };

/* Where a worker says what became of each unit: a pipe (forked), or nowhere (in process). */
typedef struct pool_sink {
    int fd;              /* -1: in process */
    const pool_ops *ops; /* in process: store right after run */
    void *ctx;
} pool_sink;

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int report(const pool_sink *k, int kind, size_t unit, gp_error *err)
{
    if (k->fd < 0) /* in process: ordered by construction */
        return kind == MSG_RAN && k->ops->store ? k->ops->store(k->ctx, unit, err) : 0;
    if (!k->ops->store && kind != MSG_ERROR)
        return 0;
    pool_msg m;
    memset(&m, 0, sizeof(m));
    m.kind = kind;
    m.unit = (int64_t)unit;
    if (kind == MSG_ERROR)
        m.err = *err;
    return write_all(k->fd, &m, sizeof(m)) < 0
               ? gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "a worker cannot report: %s",
                              strerror(errno))
               : 0;
}

static int work_loop(const pool_ops *ops, void *ctx, size_t n_units, pool_progress *pr,
                     const pool_sink *sink, volatile sig_atomic_t *stop, gp_error *err)
{
    pool_shared *sh = pr->sh;
    void *state = NULL;
    int rc = ops->open ? ops->open(ctx, &state, err) : 0;
    while (rc == 0) {
        if (stop && *stop) {
            size_t done = __atomic_load_n(&sh->ran, __ATOMIC_SEQ_CST) +
                          __atomic_load_n(&sh->resumed, __ATOMIC_SEQ_CST);
            rc = gp_error_set(err, GP_EINTERRUPTED, NULL, 0, 0, NULL,
                              "interrupted: %zu of %zu runs done, the rest resume on rerun", done,
                              n_units);
            break;
        }
        size_t u = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);
        if (u >= n_units)
            break;
        rc = ops->done(state, u, err);
        if (rc == 1) {
            __atomic_fetch_add(&sh->resumed, 1, __ATOMIC_SEQ_CST);
            rc = report(sink, MSG_RESUMED, u, err);
            continue;
        }
        if (rc < 0)
            break;
        __atomic_store_n(&sh->permille[pr->slot], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->unit[pr->slot], (long)u, __ATOMIC_RELAXED);
        rc = ops->run(state, u, pr, err);
        __atomic_store_n(&sh->unit[pr->slot], -1L, __ATOMIC_RELAXED);
        if (rc == 0)
            rc = report(sink, MSG_RAN, u, err);
        if (rc == 0)
            __atomic_fetch_add(&sh->ran, 1, __ATOMIC_SEQ_CST);
    }
    if (ops->close)
        ops->close(state);
    return rc;
}

/* The calling process's side of ordered stores: status per unit, the next one to store. */
typedef struct store_order {
    unsigned char *status; /* 0 pending, MSG_RAN, MSG_RESUMED */
    size_t next;
} store_order;

static int store_ready(const pool_ops *ops, void *ctx, store_order *so, size_t n_units,
                       gp_error *err)
{
    while (so->next < n_units && so->status[so->next]) {
        size_t u = so->next++;
        if (so->status[u] == MSG_RAN)
            TRY(ops->store(ctx, u, err));
    }
    return 0;
}

int pool_run(const pool_ops *ops, void *ctx, size_t n_units, int jobs, volatile sig_atomic_t *stop,
             pool_draw_fn draw, void *draw_ctx, pool_stats *st, gp_error *err)
{
    memset(st, 0, sizeof(*st));
    st->units = n_units;
    if (jobs < 1)
        jobs = 1;
    if (jobs > POOL_MAX_JOBS)
        jobs = POOL_MAX_JOBS;
    if ((size_t)jobs > n_units)
        jobs = n_units > 0 ? (int)n_units : 1;
    double start = now_s();
    if (jobs == 1) {
        pool_shared sh;
        memset(&sh, 0, sizeof(sh));
        sh.unit[0] = -1;
        pool_progress pr = {.sh = &sh,
                            .slot = 0,
                            .draw = draw,
                            .draw_ctx = draw_ctx,
                            .units = n_units,
                            .start_s = start,
                            .last_draw_s = start};
        pool_sink sink = {-1, ops, ctx};
        int rc = work_loop(ops, ctx, n_units, &pr, &sink, stop, err);
        st->ran = sh.ran;
        st->resumed = sh.resumed;
        return rc;
    }
    pool_shared *sh =
        mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "mmap: %s", strerror(errno));
    memset(sh, 0, sizeof(*sh));
    for (int j = 0; j < POOL_MAX_JOBS; j++)
        sh->unit[j] = -1;
    pid_t pid[POOL_MAX_JOBS];
    struct pollfd pfd[POOL_MAX_JOBS];
    int started = 0, rc = 0;
    pid_t parent = getpid();
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
            /* A worker ends at once on SIGTERM or SIGINT: a unit is written in one
             * transaction, so what is lost is the unit in progress, which the rerun does. It
             * also ends when its parent dies, so no worker goes on alone (it would race the
             * rerun). */
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent || (stop && *stop))
                _exit(1);
            close(p[0]);
            for (int k = 0; k < started; k++)
                close(pfd[k].fd);
            gp_error cerr;
            gp_error_clear(&cerr);
            pool_progress pr = {.sh = sh, .slot = j};
            pool_sink sink = {p[1], ops, ctx};
            int crc = work_loop(ops, ctx, n_units, &pr, &sink, NULL, &cerr);
            if (crc < 0)
                report(&sink, MSG_ERROR, 0, &cerr);
            close(p[1]);
            _exit(crc < 0 ? 1 : 0);
        }
        close(p[1]);
        pid[started] = c;
        pfd[started].fd = p[0];
        pfd[started].events = POLLIN;
        started++;
    }
    /* Wait for the workers' reports (a unit run or resumed, an error, or end of file when
     * they exit), storing in unit order, drawing progress; a stop request (or a failed
     * store) is passed on to every worker within one period. */
    gp_error first;
    gp_error_clear(&first);
    bool stopped = false;
    double last_draw = 0;
    store_order so = {calloc(n_units ? n_units : 1, 1), 0};
    if (!so.status && rc == 0)
        rc = gp_oom(err);
    for (int open_fds = started; open_fds > 0;) {
        if (((stop && *stop) || rc < 0 || first.code) && !stopped) {
            stopped = true;
            for (int j = 0; j < started; j++)
                kill(pid[j], SIGTERM);
        }
        if (draw && now_s() - last_draw >= 0.25) {
            last_draw = now_s();
            pool_view v;
            fill_view(sh, n_units, jobs, start, &v);
            draw(draw_ctx, &v);
        }
        if (poll(pfd, (nfds_t)started, 100) < 0 && errno != EINTR)
            break;
        for (int j = 0; j < started; j++) {
            if (pfd[j].fd < 0 || !(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            pool_msg m;
            size_t got = 0;
            while (got < sizeof(m)) {
                ssize_t r = read(pfd[j].fd, (char *)&m + got, sizeof(m) - got);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            if (got != sizeof(m)) { /* end of file: the worker is done */
                close(pfd[j].fd);
                pfd[j].fd = -1;
                open_fds--;
                continue;
            }
            if (m.kind == MSG_ERROR && first.code == 0)
                first = m.err;
            else if ((m.kind == MSG_RAN || m.kind == MSG_RESUMED) && m.unit >= 0 &&
                     (size_t)m.unit < n_units && so.status)
                so.status[m.unit] = (unsigned char)m.kind;
        }
        if (rc == 0 && ops->store && so.status) /* what is done is stored, stop or not */
            rc = store_ready(ops, ctx, &so, n_units, err);
    }
    free(so.status);
    bool died = false;
    int died_status = 0;
    for (int j = 0; j < started; j++) {
        if (pfd[j].fd >= 0)
            close(pfd[j].fd);
        int status = 0;
        while (waitpid(pid[j], &status, 0) < 0 && errno == EINTR)
            ;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !died) {
            died = true;
            died_status = status;
        }
    }
    if (rc == 0 && first.code != 0) {
        *err = first;
        rc = first.code;
    } else if (rc == 0 && (stopped || (stop && *stop)))
        rc = gp_error_set(err, GP_EINTERRUPTED, NULL, 0, 0, NULL,
                          "interrupted: %zu of %zu runs done, the rest resume on rerun",
                          sh->ran + sh->resumed, n_units);
    else if (rc == 0 && died) {
        rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL,
                          "a worker process died (status %d); rerun to resume", died_status);
    }
    st->ran = sh->ran;
    st->resumed = sh->resumed;
    munmap(sh, sizeof(*sh));
    return rc;
}
