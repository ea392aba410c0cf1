/* wprofile_procs.c: the multi-process measurements of `gpenlab-worker profile` (see
 * wprofile_procs.h). Parent and children talk in lines over two pipes per child:
 *   child -> parent  "ready USED_MIB TOTAL_MIB NPH NAME MS ...", "done T_MS",
 *                    "req T0_MS T1_MS" ... "end", "error TEXT"
 *   parent -> child  "run R", "serve UNTIL_MS", "quit"
 * Times are CLOCK_MONOTONIC milliseconds, common to all processes. */
#include "worker/wprofile_procs.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker/queue.h"

typedef struct child {
    pid_t pid;
    int to_fd, from_fd;
    char buf[4096];
    size_t len;
} child;

typedef struct child_phases {
    int n;
    char name[PROCS_MAX_PHASES][32];
    double ms[PROCS_MAX_PHASES];
} child_phases;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_child_phase(void *ctx, const char *name, double ms)
{
    child_phases *p = ctx;
    if (p->n < PROCS_MAX_PHASES) {
        snprintf(p->name[p->n], sizeof(p->name[0]), "%s", name);
        p->ms[p->n++] = ms;
    }
}

static void put_line(int fd, const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = write(fd, s + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

/* The k-th request of the mix for process idx. */
static void mix_request(const procs_mix *mix, int idx, long k, int *w, int *h, int *faces)
{
    if (!mix || mix->n < 1) {
        queue_image_dims(2.0, w, h);
        *faces = 1;
        return;
    }
    long i = ((long)idx * 7919 + k) % mix->n; /* distinct offsets, the same mix */
    queue_image_dims(mix->mp[i], w, h);
    *faces = mix->faces[i];
}

/* The child: one single-slot stage, then commands until "quit" or end of input. */
static void child_main(const stage_opts *base, const procs_mix *mix, int idx, int in_fd, int out_fd)
{
    child_phases ph = {0};
    stage_opts o = *base;
    o.slots = 1;
    o.phase = on_child_phase;
    o.phase_ctx = &ph;
    stage *st;
    gp_error err;
    gp_error_clear(&err);
    char line[1024];
    if (stage_open(&o, &st, &err) < 0) {
        char msg[800];
        gp_error_format(&err, msg, sizeof(msg));
        snprintf(line, sizeof(line), "error %s\n", msg);
        put_line(out_fd, line);
        _exit(1);
    }
    double used, total;
    stage_mem(st, &used, &total);
    int off =
        snprintf(line, sizeof(line), "ready %s %.3f %.3f %d", stage_backend(st), used, total, ph.n);
    for (int i = 0; i < ph.n && off < (int)sizeof(line) - 64; i++)
        off += snprintf(line + off, sizeof(line) - (size_t)off, " %s %.3f", ph.name[i], ph.ms[i]);
    snprintf(line + off, sizeof(line) - (size_t)off, "\n");
    put_line(out_fd, line);
    int w, h, faces;
    long served = 0;
    FILE *in = fdopen(in_fd, "r");
    char cmd[128];
    while (in && fgets(cmd, sizeof(cmd), in)) {
        stage_result r;
        int rc = 0;
        if (strncmp(cmd, "run ", 4) == 0) {
            int reps = atoi(cmd + 4);
            for (int k = 0; k < reps && rc == 0; k++) {
                mix_request(mix, idx, served++, &w, &h, &faces);
                rc = stage_run(st, 0, w, h, faces, &r, &err);
            }
            if (rc == 0) {
                snprintf(line, sizeof(line), "done %.3f\n", mono_ms());
                put_line(out_fd, line);
            }
        } else if (strncmp(cmd, "serve ", 6) == 0) {
            char *rest = NULL;
            double until = strtod(cmd + 6, &rest);
            /* "serve UNTIL mix": the mix; "serve UNTIL": one request kind (2 MP, 1 face) */
            const procs_mix *m = rest && strstr(rest, "mix") ? mix : NULL;
            while (rc == 0 && mono_ms() < until) {
                double t0 = mono_ms();
                mix_request(m, idx, served++, &w, &h, &faces);
                rc = stage_run(st, 0, w, h, faces, &r, &err);
                snprintf(line, sizeof(line), "req %.3f %.3f\n", t0, mono_ms());
                if (rc == 0)
                    put_line(out_fd, line);
            }
            if (rc == 0)
                put_line(out_fd, "end\n");
        } else {
            break; /* "quit" */
        }
        if (rc < 0) {
            char msg[800];
            gp_error_format(&err, msg, sizeof(msg));
            snprintf(line, sizeof(line), "error %s\n", msg);
            put_line(out_fd, line);
            break;
        }
    }
    stage_close(st);
    _exit(0);
}

static int spawn_child(const stage_opts *base, const procs_mix *mix, int idx, child *c,
                       gp_error *err)
{
    int to[2], from[2];
    if (pipe(to) < 0)
        return gp_error_set(err, GP_EIO, NULL, 0, 0, "processes", "pipe: %s", strerror(errno));
    if (pipe(from) < 0) {
        close(to[0]), close(to[1]);
        return gp_error_set(err, GP_EIO, NULL, 0, 0, "processes", "pipe: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        return gp_error_set(err, GP_EIO, NULL, 0, 0, "processes", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        child_main(base, mix, idx, to[0], from[1]);
    }
    close(to[0]);
    close(from[1]);
    memset(c, 0, sizeof(*c));
    c->pid = pid;
    c->to_fd = to[1];
    c->from_fd = from[0];
    return 0;
}

/* The next line from child c into out (without the newline), within timeout_ms. */
static int child_line(child *c, int idx, char *out, size_t cap, int timeout_ms, gp_error *err)
{
    double deadline = mono_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), c->buf);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            if (strncmp(out, "error ", 6) == 0)
                return gp_error_set(err, GP_EIO, NULL, 0, 0, "processes", "worker process %d: %s",
                                    idx, out + 6);
            return 0;
        }
        if (c->len == sizeof(c->buf))
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "processes",
                                "worker process %d: line too long", idx);
        double left = deadline - mono_ms();
        if (left <= 0)
            return gp_error_set(err, GP_EIO, NULL, 0, 0, "processes",
                                "worker process %d: no answer in %d s", idx, timeout_ms / 1000);
        struct pollfd pfd = {c->from_fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t r = read(c->from_fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return gp_error_set(err, GP_EIO, NULL, 0, 0, "processes",
                                "worker process %d exited unexpectedly", idx);
        c->len += (size_t)r;
    }
}

static void child_stop(child *c)
{
    if (c->pid <= 0)
        return;
    put_line(c->to_fd, "quit\n");
    close(c->to_fd);
    double deadline = mono_ms() + 30000;
    int status;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (mono_ms() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            break;
        }
        usleep(20000);
    }
    close(c->from_fd);
    c->pid = 0;
}

/* Parses "ready BACKEND USED TOTAL NPH NAME MS ..." into the backend, used/total and the
 * phases. */
static int parse_ready(const char *line, int idx, char backend[8], double *used, double *total,
                       child_phases *ph, gp_error *err)
{
    int consumed = 0, nph = 0;
    if (sscanf(line, "ready %7s %lf %lf %d%n", backend, used, total, &nph, &consumed) != 4 ||
        nph < 0 || nph > PROCS_MAX_PHASES)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "processes",
                            "worker process %d: bad ready line \"%s\"", idx, line);
    const char *p = line + consumed;
    ph->n = 0;
    for (int i = 0; i < nph; i++) {
        int k = 0;
        if (sscanf(p, " %31s %lf%n", ph->name[i], &ph->ms[i], &k) != 2)
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "processes",
                                "worker process %d: bad phase list", idx);
        p += k;
        ph->n++;
    }
    return 0;
}

/* Service times of the requests the serving children report, split by a start window. */
typedef struct service_split {
    double in_sum, out_sum;
    int in_n, out_n;
} service_split;

/* Reads the "req T0 T1" lines of children 0..k-1 up to each one's "end". A request inside
 * [t_spawn, t_ready] counts in, one clear of it (ended before, or begun a second after the
 * starter was ready and stopped) counts out; t_spawn < 0: every request counts out. */
static int collect_served(child *kids, int k, int timeout_ms, double t_spawn, double t_ready,
                          service_split *sp, gp_error *err)
{
    char line[256];
    for (int i = 0; i < k; i++) {
        for (;;) {
            int rc = child_line(&kids[i], i, line, sizeof(line), timeout_ms, err);
            if (rc)
                return rc;
            if (strcmp(line, "end") == 0)
                break;
            double a = 0, b = 0;
            if (sscanf(line, "req %lf %lf", &a, &b) != 2)
                return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "processes",
                                    "worker process %d: \"%s\"", i, line);
            if (t_spawn < 0 || b <= t_spawn || a >= t_ready + 1000)
                sp->out_sum += b - a, sp->out_n++;
            else if (a >= t_spawn && b <= t_ready)
                sp->in_sum += b - a, sp->in_n++;
        }
    }
    return 0;
}

int wprofile_measure_processes(const stage_opts *base, const procs_mix *mix, int n, int reps,
                               procs_result *r, gp_error *err)
{
    memset(r, 0, sizeof(*r));
    if (n < 1 || n > PROCS_MAX || reps < 1)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "processes",
                            "expected 1..%d processes, got %d", PROCS_MAX, n);
    r->n = n;
    child kids[PROCS_MAX + 1];
    memset(kids, 0, sizeof(kids));
    int rc = 0;
    char line[4096];
    double used[PROCS_MAX], mem_total = 0;
    char backend[8] = "";
    child_phases ph[PROCS_MAX];
    /* 1. sequential starts: phases and memory of each, with the earlier ones idle */
    for (int i = 0; i < n && rc == 0; i++) {
        rc = spawn_child(base, mix, i, &kids[i], err);
        if (rc == 0)
            rc = child_line(&kids[i], i, line, sizeof(line), 600000, err);
        if (rc == 0)
            rc = parse_ready(line, i, backend, &used[i], &mem_total, &ph[i], err);
        if (rc == 0)
            fprintf(stderr, "profile: process %d ready (device memory in use %.0f MiB)\n", i,
                    used[i]);
    }
    if (rc == 0) {
        /* cuda reports the card's memory in use: the increase per start is one process's;
         * the cpu stage reports its own accounting: the mean is one process's */
        if (strcmp(backend, "cuda") == 0 && n > 1) {
            r->mem_per_proc_mib = (used[n - 1] - used[0]) / (n - 1);
        } else {
            double sum = 0;
            for (int i = 0; i < n; i++)
                sum += used[i];
            r->mem_per_proc_mib = sum / n;
        }
        r->n_phases = ph[0].n;
        double cold_ms = 0;
        for (int k = 0; k < r->n_phases; k++) {
            double s = 0, s2 = 0;
            for (int i = 0; i < n; i++) {
                double v = k < ph[i].n ? ph[i].ms[k] : 0;
                s += v, s2 += v * v;
            }
            snprintf(r->phase_name[k], sizeof(r->phase_name[0]), "%s", ph[0].name[k]);
            r->phase_ms_mean[k] = s / n;
            double var = n > 1 ? (s2 - s * s / n) / (n - 1) : 0;
            r->phase_ms_sd[k] = var > 0 ? sqrt(var) : 0;
            cold_ms += r->phase_ms_mean[k];
        }
        /* 2. eff(k): k processes serving at once for a window (after one warm-up request
         * each): eff(k) = k x the mean service time alone / the mean service time with k,
         * over every request completed in the window (a per-request slowdown, as the
         * simulator's processor sharing uses it; no end-of-run imbalance) */
        for (int i = 0; i < n && rc == 0; i++) {
            put_line(kids[i].to_fd, "run 1\n");
            rc = child_line(&kids[i], i, line, sizeof(line), 120000, err);
        }
        double svc1 = 0;
        for (int k = 1; k <= n && rc == 0; k++) {
            char cmd[64];
            double window = 1000.0 * reps + 3000;
            snprintf(cmd, sizeof(cmd), "serve %.3f mix\n", mono_ms() + window);
            for (int i = 0; i < k; i++)
                put_line(kids[i].to_fd, cmd);
            service_split all = {0}; /* every request counts as "outside" */
            rc = collect_served(kids, k, (int)window + 600000, -1, -1, &all, err);
            if (rc)
                break;
            double sum = all.out_sum;
            int cnt = all.out_n;
            if (cnt == 0) {
                rc = gp_error_set(err, GP_EIO, NULL, 0, 0, "processes",
                                  "no request completed with %d processes", k);
                break;
            }
            double svc = sum / cnt;
            if (k == 1)
                svc1 = svc;
            r->eff[k - 1] = k == 1 ? 1.0 : fmin(k * svc1 / svc, k); /* eff(k) <= k, as read */
            fprintf(stderr,
                    "profile: eff(%d) over %d processes = %.3f (%d requests, mean %.1f ms)\n", k, k,
                    r->eff[k - 1], cnt, svc);
        }
        /* 3. start interference: s processes serve while one more starts */
        double pooled_num = 0;
        int pooled_n = 0;
        int s_max = n - 1 < 3 ? n - 1 : 3;
        for (int s = 1; s <= s_max && rc == 0; s++) {
            double dur = 2.5 * cold_ms + 3000, t0 = mono_ms(), until = t0 + dur;
            char cmd[64];
            snprintf(cmd, sizeof(cmd), "serve %.3f\n", until);
            for (int i = 0; i < s; i++)
                put_line(kids[i].to_fd, cmd);
            usleep((useconds_t)(dur * 250)); /* a quarter of the run, in microseconds */
            double t_spawn = mono_ms(), t_ready = 0;
            child *x = &kids[PROCS_MAX];
            rc = spawn_child(base, mix, n, x, err);
            if (rc == 0)
                rc = child_line(x, n, line, sizeof(line), 600000, err);
            t_ready = mono_ms();
            if (rc == 0)
                child_stop(x);
            service_split sp = {0};
            if (rc == 0)
                rc = collect_served(kids, s, (int)dur + 600000, t_spawn, t_ready, &sp, err);
            if (rc == 0 && sp.in_n > 0 && sp.out_n > 0) {
                double ratio = (sp.out_sum / sp.out_n) / (sp.in_sum / sp.in_n);
                pooled_num += ratio * sp.in_n;
                pooled_n += sp.in_n;
                r->interference_in += sp.in_n;
                r->interference_out += sp.out_n;
                fprintf(stderr,
                        "profile: %d serving while one starts (%.1f s): speed x%.3f (%d requests "
                        "in, %d out)\n",
                        s, (t_ready - t_spawn) / 1e3, ratio, sp.in_n, sp.out_n);
            }
        }
        r->interference = pooled_n > 0 ? pooled_num / pooled_n : 1.0;
        if (r->interference > 1.0)
            r->interference = 1.0; /* a start that speeds others up is noise, not a model */
    }
    for (int i = 0; i <= PROCS_MAX; i++)
        if (kids[i].pid > 0) {
            if (rc)
                kill(kids[i].pid, SIGKILL);
            child_stop(&kids[i]);
        }
    return rc;
}
