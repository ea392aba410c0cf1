/* proc.c: running a program without a shell (see proc.h): fork, then in the child only
 * async-signal-safe calls (dup2, chdir, setuid, execve) on what the parent prepared (the
 * program's path, the environment, the open files), a close-on-exec pipe that reports a
 * failed exec, and in the parent a poll loop that reads the captured pipes, reaps the
 * child and watches the timeout. */
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"

extern char **environ;

#define DEFAULT_PATH          "/usr/local/bin:/usr/bin:/bin"
#define DEFAULT_CAPTURE_LIMIT ((size_t)64 << 20)

/* What the child sends back through the status pipe when it cannot exec. */
enum { STAGE_CHDIR = 1, STAGE_USER, STAGE_EXEC };

/* A captured stream: bytes [start, len) not yet handed out, d[len] == '\0'. */
typedef struct pbuf {
    char *d;
    size_t len, cap, start, limit;
    bool cut;
} pbuf;

struct gp_proc {
    pid_t pid;
    bool own_group, reaped, lost, timed_out, handed_out;
    int status;
    int64_t kill_at_ms; /* 0: no timeout */
    int fd[2];          /* the parent's ends of the stdout and stderr pipes; -1: none */
    pbuf b[2];
    size_t line_used; /* bytes of b[0] the last gp_proc_read_line handed out */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gp_proc_find(const char *prog, const char *path_var, char *out, size_t cap)
{
    if (!prog || !prog[0])
        return GP_EMISSING;
    if (strchr(prog, '/')) {
        if (strlen(prog) >= cap || access(prog, F_OK) != 0)
            return GP_EMISSING;
        memcpy(out, prog, strlen(prog) + 1);
        return 0;
    }
    if (!path_var)
        path_var = getenv("PATH");
    if (!path_var)
        path_var = DEFAULT_PATH;
    for (const char *p = path_var;;) {
        size_t l = strcspn(p, ":");
        int n = snprintf(out, cap, "%.*s/%s", l ? (int)l : 1, l ? p : ".", prog);
        struct stat st;
        if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
            access(out, X_OK) == 0)
            return 0;
        if (!p[l])
            break;
        p += l + 1;
    }
    if (cap)
        out[0] = '\0';
    return GP_EMISSING;
}

/* Appends n bytes; past the limit they are dropped (cut). -1 when out of memory. */
static int pbuf_add(pbuf *b, const char *data, size_t n)
{
    size_t held = b->len - b->start;
    if (held + n > b->limit) {
        n = b->limit > held ? b->limit - held : 0;
        b->cut = true;
    }
    if (b->start > 0 && b->len + n + 1 > b->cap) { /* room at the front first */
        memmove(b->d, b->d + b->start, held + 1);
        b->len = held;
        b->start = 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            return -1;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, data, n);
    b->len += n;
    b->d[b->len] = '\0';
    return 0;
}

/* Reads what pipe i holds now (its end is non-blocking), or one chunk of it (a line
 * reader holds no more than a line and a chunk); closes it at its end. */
static void drain(gp_proc *p, int i, bool one_chunk)
{
    char buf[65536];
    for (bool more = true; more && p->fd[i] >= 0; more = !one_chunk) {
        ssize_t r = read(p->fd[i], buf, sizeof(buf));
        if (r > 0) {
            if (pbuf_add(&p->b[i], buf, (size_t)r) < 0)
                p->b[i].cut = true; /* out of memory: the rest is dropped */
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close(p->fd[i]);
        p->fd[i] = -1;
    }
}

/* Waits up to wait_ms for output on the open pipes and reads it; sleeps when none is open.
 * one_chunk: stdout is read a chunk at a time (gp_proc_read_line). */
static void pump(gp_proc *p, int64_t wait_ms, bool one_chunk)
{
    struct pollfd fds[2];
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (p->fd[i] >= 0)
            fds[n++] = (struct pollfd){p->fd[i], POLLIN, 0};
    if (wait_ms < 0)
        wait_ms = 0;
    if (wait_ms > INT_MAX)
        wait_ms = INT_MAX;
    if (n == 0) {
        struct timespec ts = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        return;
    }
    if (poll(fds, (nfds_t)n, (int)wait_ms) > 0)
        for (int i = 0; i < 2; i++)
            drain(p, i, one_chunk && i == 0);
}

/* Reaps the child (blocking or not); true once it is reaped. */
static bool reap(gp_proc *p, bool block)
{
    while (!p->reaped) {
        pid_t w = waitpid(p->pid, &p->status, block ? 0 : WNOHANG);
        if (w == p->pid) {
            p->reaped = true;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0) { /* reaped elsewhere (SIGCHLD ignored, or another waitpid) */
            p->reaped = p->lost = true;
        }
        break;
    }
    return p->reaped;
}

static void kill_now(gp_proc *p)
{
    if (p->reaped)
        return;
    if (!p->own_group || kill(-p->pid, SIGKILL) != 0)
        kill(p->pid, SIGKILL);
}

/* "NAME=value" entries of the environment, those of add replacing the same names. */
static char **make_env(const char *const *add)
{
    size_t n = 0, m = 0;
    while (environ && environ[n])
        n++;
    while (add && add[m])
        m++;
    char **env = malloc((n + m + 1) * sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strcspn(environ[i], "=");
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = strncmp(add[j], environ[i], name_len + 1) == 0;
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)add[j];
    env[k] = NULL;
    return env;
}

/* The value of PATH the child will have. */
static const char *child_path(const char *const *add)
{
    const char *path = getenv("PATH");
    for (size_t j = 0; add && add[j]; j++)
        if (strncmp(add[j], "PATH=", 5) == 0)
            path = add[j] + 5;
    return path;
}

static int set_cloexec(int fd) { return fcntl(fd, F_SETFD, FD_CLOEXEC); }

/* Opens where stream `io` of the child goes (the write end for a pipe); pipe_rd gets the
 * parent's end. -1 with errno on failure; -2 for an inherited stream (nothing to open). */
static int open_sink(gp_proc_io io, const char *path, bool append, int *pipe_rd)
{
    int fds[2];
    switch (io) {
    case GP_PROC_INHERIT:
    case GP_PROC_STDOUT: return -2;
    case GP_PROC_FILE:
        if (!path) {
            errno = EINVAL;
            return -1;
        }
        return open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    case GP_PROC_CAPTURE:
        if (pipe(fds) < 0)
            return -1;
        if (set_cloexec(fds[0]) < 0 || set_cloexec(fds[1]) < 0 ||
            fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK) < 0) {
            int e = errno;
            close(fds[0]);
            close(fds[1]);
            errno = e;
            return -1;
        }
        *pipe_rd = fds[0];
        return fds[1];
    case GP_PROC_NULL:
    default: return open("/dev/null", O_WRONLY | O_CLOEXEC);
    }
}

/* The child, from fork to exec: async-signal-safe calls only. */
static void child(const gp_proc_spec *s, const char *prog, char **env, int in_fd, const int sink[2],
                  int status_fd)
{
    int stage = STAGE_EXEC;
    if (s->own_group)
        setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    static const int defaults[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                                   SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        sigaction(defaults[i], &dfl, NULL);
    dup2(in_fd, STDIN_FILENO);
    if (sink[0] >= 0)
        dup2(sink[0], STDOUT_FILENO);
    if (s->err == GP_PROC_STDOUT)
        dup2(STDOUT_FILENO, STDERR_FILENO);
    else if (sink[1] >= 0)
        dup2(sink[1], STDERR_FILENO);
    if (s->cwd && chdir(s->cwd) != 0) {
        stage = STAGE_CHDIR;
    } else if (s->run_as_uid > 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)s->run_as_uid) != 0 ||
                                     setuid((uid_t)s->run_as_uid) != 0)) {
        stage = STAGE_USER;
    } else {
        execve(prog, (char *const *)s->argv, env);
    }
    int msg[2] = {stage, errno};
    ssize_t w = write(status_fd, msg, sizeof(msg));
    (void)w;
    _exit(127);
}

int gp_proc_start(const gp_proc_spec *s, gp_proc **out, gp_error *err)
{
    *out = NULL;
    if (!s->argv || !s->argv[0] || !s->argv[0][0])
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "no program to run");
    const char *name = s->argv[0];
    char found[PATH_MAX], prog[2 * PATH_MAX + 2];
    if (gp_proc_find(name, child_path(s->env), found, sizeof(found)) < 0)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "%s: not found%s", name,
                            strchr(name, '/') ? "" : " on PATH");
    char here[PATH_MAX];
    if (found[0] != '/' && s->cwd) { /* a relative program is the caller's, not cwd's */
        if (!getcwd(here, sizeof(here)))
            return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "%s: getcwd: %s", name,
                                strerror(errno));
        snprintf(prog, sizeof(prog), "%s/%s", here, found);
    } else {
        snprintf(prog, sizeof(prog), "%s", found);
    }

    gp_proc *p = calloc(1, sizeof(*p));
    char **env = make_env(s->env);
    if (!p || !env) {
        free(p);
        free(env);
        return gp_oom(err);
    }
    p->fd[0] = p->fd[1] = -1;
    p->own_group = s->own_group;
    int in_fd = -1, sink[2] = {-1, -1}, st[2] = {-1, -1}, rc = GP_EIO;
    const char *what = NULL;
    const gp_proc_io io[2] = {s->out, s->err};
    const char *io_path[2] = {s->out_path, s->err_path};
    size_t limit = s->capture_limit_bytes ? s->capture_limit_bytes : DEFAULT_CAPTURE_LIMIT;
    in_fd = open(s->stdin_path ? s->stdin_path : "/dev/null", O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
        what = s->stdin_path ? s->stdin_path : "/dev/null";
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        if (i == 0 && io[i] == GP_PROC_STDOUT) {
            errno = EINVAL;
            what = "stdout (it cannot go to itself)";
            goto fail;
        }
        sink[i] = open_sink(io[i], io_path[i], s->append, &p->fd[i]);
        if (sink[i] == -1) {
            what = io[i] == GP_PROC_FILE && io_path[i] ? io_path[i] : (i ? "stderr" : "stdout");
            goto fail;
        }
        if (io[i] == GP_PROC_CAPTURE) {
            p->b[i].limit = limit;
            if (pbuf_add(&p->b[i], "", 0) < 0) {
                rc = gp_oom(err);
                goto fail_quiet;
            }
        }
    }
    if (pipe(st) < 0 || set_cloexec(st[0]) < 0 || set_cloexec(st[1]) < 0) {
        what = "a pipe";
        goto fail;
    }
    fflush(NULL); /* nothing buffered twice, and an inherited stream keeps its order */
    p->pid = fork();
    if (p->pid < 0) {
        what = "fork";
        goto fail;
    }
    if (p->pid == 0)
        child(s, prog, env, in_fd, sink, st[1]);
    if (s->own_group)
        setpgid(p->pid, p->pid); /* also here: a signal sent at once reaches the group */
    close(st[1]);
    st[1] = -1;
    close(in_fd);
    in_fd = -1;
    for (int i = 0; i < 2; i++)
        if (sink[i] >= 0) {
            close(sink[i]);
            sink[i] = -1;
        }
    int msg[2];
    ssize_t got;
    while ((got = read(st[0], msg, sizeof(msg))) < 0 && errno == EINTR)
        ;
    close(st[0]);
    st[0] = -1;
    if (got == (ssize_t)sizeof(msg)) { /* it did not start */
        reap(p, true);
        p->reaped = true;
        const char *doing = msg[0] == STAGE_CHDIR  ? "cannot change to directory"
                            : msg[0] == STAGE_USER ? "cannot switch to user"
                                                   : "cannot run";
        char arg[PATH_MAX + 32] = "";
        if (msg[0] == STAGE_CHDIR)
            snprintf(arg, sizeof(arg), " %s", s->cwd);
        else if (msg[0] == STAGE_USER)
            snprintf(arg, sizeof(arg), " %u", s->run_as_uid);
        gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "%s: %s%s: %s", name, doing, arg,
                     strerror(msg[1]));
        free(env);
        gp_proc_free(p);
        return GP_EIO;
    }
    free(env);
    if (s->timeout_ms > 0)
        p->kill_at_ms = now_ms() + s->timeout_ms;
    *out = p;
    return 0;

fail:
    rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "%s: cannot open %s: %s", name, what,
                      strerror(errno));
fail_quiet:
    if (in_fd >= 0)
        close(in_fd);
    for (int i = 0; i < 2; i++)
        if (sink[i] >= 0)
            close(sink[i]);
    if (st[0] >= 0)
        close(st[0]);
    if (st[1] >= 0)
        close(st[1]);
    p->reaped = true; /* no child */
    gp_proc_free(p);
    free(env);
    return rc;
}

pid_t gp_proc_pid(const gp_proc *p) { return p->pid; }

/* The child is killed by its timeout now. */
static void time_out(gp_proc *p)
{
    kill_now(p);
    reap(p, true);
    p->timed_out = !p->lost && WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL;
}

const char *gp_proc_read_line(gp_proc *p, size_t *len)
{
    pbuf *b = &p->b[0];
    if (!b->d)
        return NULL;
    b->start += p->line_used;
    p->line_used = 0;
    for (;;) {
        char *s = b->d + b->start;
        size_t n = b->len - b->start;
        char *nl = memchr(s, '\n', n);
        if (nl || (p->fd[0] < 0 && n > 0)) {
            size_t l = nl ? (size_t)(nl - s) : n;
            s[l] = '\0';
            p->line_used = nl ? l + 1 : l;
            if (len)
                *len = l;
            return s;
        }
        if (p->fd[0] < 0)
            return NULL;
        int64_t wait_ms = 1000;
        if (p->kill_at_ms) {
            int64_t left = p->kill_at_ms - now_ms();
            if (left <= 0) {
                time_out(p);
                return NULL;
            }
            wait_ms = left < wait_ms ? left : wait_ms;
        }
        pump(p, wait_ms, true);
    }
}

int gp_proc_signal(gp_proc *p, int sig)
{
    if (p->reaped) {
        errno = ESRCH;
        return -1;
    }
    if (p->own_group && kill(-p->pid, sig) == 0)
        return 0;
    return kill(p->pid, sig);
}

/* Moves a captured stream into the result. */
static void hand_out(pbuf *b, char **out, size_t *len)
{
    if (!b->d)
        return;
    size_t n = b->len - b->start;
    memmove(b->d, b->d + b->start, n + 1);
    *out = b->d;
    *len = n;
    memset(b, 0, sizeof(*b));
}

int gp_proc_wait(gp_proc *p, int64_t wait_ms, gp_proc_result *r)
{
    memset(r, 0, sizeof(*r));
    int64_t until = wait_ms >= 0 ? now_ms() + wait_ms : INT64_MAX;
    int64_t nap_ms = 1;
    while (!reap(p, false)) {
        if (p->fd[0] < 0 && p->fd[1] < 0 && !p->kill_at_ms && until == INT64_MAX) {
            reap(p, true); /* nothing to read or watch: the exact moment it ends (timings) */
            break;
        }
        int64_t now = now_ms();
        if (p->kill_at_ms && now >= p->kill_at_ms) {
            time_out(p);
            break;
        }
        if (now >= until)
            return 0;
        int64_t step = until - now;
        if (p->kill_at_ms && p->kill_at_ms - now < step)
            step = p->kill_at_ms - now;
        pump(p, step < nap_ms ? step : nap_ms, false); /* output wakes it at once */
        nap_ms = nap_ms < 20 ? nap_ms * 2 : 20;
    }
    /* what it wrote before it ended; a grandchild holding the pipe is not waited for */
    for (int i = 0; i < 2; i++) {
        drain(p, i, false);
        if (p->fd[i] >= 0) {
            close(p->fd[i]);
            p->fd[i] = -1;
        }
    }
    if (!p->lost) {
        r->exited = WIFEXITED(p->status);
        r->exit_code = r->exited ? WEXITSTATUS(p->status) : 0;
        r->signal_no = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
    }
    r->timed_out = p->timed_out;
    if (!p->handed_out) {
        p->b[0].start += p->line_used;
        p->line_used = 0;
        r->truncated = p->b[0].cut || p->b[1].cut;
        hand_out(&p->b[0], &r->out, &r->out_len);
        hand_out(&p->b[1], &r->err, &r->err_len);
        p->handed_out = true;
    }
    return 1;
}

void gp_proc_stop(gp_proc *p, int64_t grace_ms, gp_proc_result *r)
{
    gp_proc_result mine;
    if (!r)
        r = &mine;
    if (p->reaped || gp_proc_signal(p, SIGTERM) != 0 || gp_proc_wait(p, grace_ms, r) == 0) {
        kill_now(p);
        gp_proc_wait(p, -1, r);
    }
    if (r == &mine)
        gp_proc_result_free(r);
}

void gp_proc_free(gp_proc *p)
{
    if (!p)
        return;
    if (!p->reaped) {
        kill_now(p);
        reap(p, true);
    }
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0)
            close(p->fd[i]);
        free(p->b[i].d);
    }
    free(p);
}

int gp_proc_run(const gp_proc_spec *s, gp_proc_result *r, gp_error *err)
{
    memset(r, 0, sizeof(*r));
    gp_proc *p;
    int rc = gp_proc_start(s, &p, err);
    if (rc < 0)
        return rc;
    gp_proc_wait(p, -1, r);
    gp_proc_free(p);
    return 0;
}

void gp_proc_result_free(gp_proc_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

bool gp_proc_ok(const gp_proc_result *r) { return r->exited && r->exit_code == 0; }

void gp_proc_describe(const gp_proc_result *r, char *out, size_t cap)
{
    if (r->timed_out)
        snprintf(out, cap, "timed out (killed)");
    else if (r->exited)
        snprintf(out, cap, "exit %d", r->exit_code);
    else if (r->signal_no)
        snprintf(out, cap, "killed by signal %d (%s)", r->signal_no, strsignal(r->signal_no));
    else
        snprintf(out, cap, "ended, its status unknown (reaped elsewhere)");
}
