/* command.c: the scale command (see command.h): posix_spawn with a pipe for its output,
 * a poll loop that reads the pipe, reaps the child, and watches the timeout and the
 * cancel hook. */
#include "drive/command.h"

#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define MAX_WORDS    64
#define ENV_SLOTS    72 /* pass_env + set_env (32 each) + PATH + GPENLAB_REPLICAS + NULL */

/* Splits run into words in place (buf is a copy); quotes group, no escapes. */
static int split_words(char *buf, char **words, int *n, char *why, size_t why_len)
{
    int k = 0;
    char *p = buf, *w = buf;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (k == MAX_WORDS) {
            snprintf(why, why_len, "more than %d words", MAX_WORDS);
            return -1;
        }
        words[k++] = w;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                while (*p && *p != q)
                    *w++ = *p++;
                if (!*p) {
                    snprintf(why, why_len, "unbalanced %c quote", q);
                    return -1;
                }
                p++;
            } else {
                *w++ = *p++;
            }
        }
        if (*p)
            p++;
        *w++ = '\0';
    }
    *n = k;
    return 0;
}

int command_check(const char *run, bool shell, char *why, size_t why_len)
{
    if (!strstr(run, "{replicas}")) {
        snprintf(why, why_len, "the command must contain {replicas}");
        return -1;
    }
    if (shell)
        return 0;
    char *buf = strdup(run), *words[MAX_WORDS];
    int n = 0;
    int rc = buf ? split_words(buf, words, &n, why, why_len) : -1;
    if (rc == 0 && n == 0) {
        snprintf(why, why_len, "no program to run");
        rc = -1;
    }
    free(buf);
    return rc;
}

/* s with every {replicas} replaced by num (malloc'd). */
static char *substitute(const char *s, const char *num)
{
    size_t k = 0;
    for (const char *p = s; (p = strstr(p, "{replicas}")); p += 10)
        k++;
    char *o = malloc(strlen(s) + k * strlen(num) + 1), *w = o;
    if (!o)
        return NULL;
    while (*s) {
        if (strncmp(s, "{replicas}", 10) == 0) {
            w += sprintf(w, "%s", num);
            s += 10;
        } else {
            *w++ = *s++;
        }
    }
    *w = '\0';
    return o;
}

/* The program's path: as given when it has a '/', else the first executable in path
 * (gp_proc_find's search). */
static char *resolve(const char *prog, const char *path)
{
    if (strchr(prog, '/'))
        return strdup(prog);
    char found[PATH_MAX];
    return gp_proc_find(prog, path, found, sizeof(found)) == 0 ? strdup(found) : NULL;
}

static void kill_group(pid_t pid, int grace_ms)
{
    kill(-pid, SIGTERM);
    for (int waited = 0; waited < grace_ms; waited += 20) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Appends what is in the pipe to out (cut), dropping the rest. */
static void drain(int fd, char *out, size_t out_len, size_t *used)
{
    if (out_len == 0) {
        static char none[1];
        out = none, out_len = 1;
    }
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0) {
        size_t room = out_len > *used + 1 ? out_len - 1 - *used : 0;
        size_t k = (size_t)r < room ? (size_t)r : room;
        memcpy(out + *used, buf, k);
        *used += k;
        out[*used] = '\0';
    }
}

int command_run(const command_spec *s, int replicas, io_cancel_fn cancel, void *ctx, char *out,
                size_t out_len, char *why, size_t why_len)
{
    if (out_len)
        out[0] = '\0';
    char num[16];
    snprintf(num, sizeof(num), "%d", replicas);
    char *line = substitute(s->run, num), *words[MAX_WORDS + 4];
    char *env[ENV_SLOTS];
    int n_env = 0, n_words = 0, rc = -1;
    char *prog = NULL, *path_var = NULL, *repl_var = NULL;
    if (!line) {
        snprintf(why, why_len, "command: out of memory");
        return -1;
    }
    /* the environment: PATH, GPENLAB_REPLICAS, the names passed, the entries set */
    const char *path = DEFAULT_PATH;
    for (int i = 0; i < s->n_pass_env && n_env < ENV_SLOTS - 3; i++) {
        const char *v = getenv(s->pass_env[i]);
        if (!v)
            continue;
        size_t l = strlen(s->pass_env[i]) + strlen(v) + 2;
        char *e = malloc(l);
        if (!e)
            goto out;
        snprintf(e, l, "%s=%s", s->pass_env[i], v);
        env[n_env++] = e;
        if (strcmp(s->pass_env[i], "PATH") == 0)
            path = v;
    }
    for (int i = 0; i < s->n_set_env && n_env < ENV_SLOTS - 3; i++) {
        if (!(env[n_env] = strdup(s->set_env[i])))
            goto out;
        if (strncmp(s->set_env[i], "PATH=", 5) == 0)
            path = s->set_env[i] + 5;
        n_env++;
    }
    size_t pl = strlen(path) + 6;
    if (!(path_var = malloc(pl)) || !(repl_var = malloc(32)))
        goto out;
    snprintf(path_var, pl, "PATH=%s", path);
    snprintf(repl_var, 32, "GPENLAB_REPLICAS=%d", replicas);
    env[n_env++] = path_var;
    env[n_env++] = repl_var;
    env[n_env] = NULL;
    path_var = repl_var = NULL; /* owned by env now */
    if (s->shell) {
        words[0] = "/bin/sh";
        words[1] = "-c";
        words[2] = line;
        n_words = 3;
        prog = strdup("/bin/sh");
    } else {
        if (split_words(line, words, &n_words, why, why_len) < 0)
            goto out;
        if (n_words == 0) {
            snprintf(why, why_len, "command: no program to run");
            goto out;
        }
        prog = resolve(words[0], path);
        if (!prog) {
            snprintf(why, why_len, "command: %s: not found in PATH=%s", words[0], path);
            goto out;
        }
    }
    words[n_words] = NULL;

    int fds[2];
    if (pipe(fds) < 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(why, why_len, "command: pipe: %s", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    static const int defaults[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        sigaddset(&deflt, defaults[i]);
    posix_spawnattr_setsigmask(&at, &none); /* the driver blocks SIGTERM: not the command */
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int sp = posix_spawn(&pid, prog, &fa, &at, words, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[1]);
    if (sp != 0) {
        close(fds[0]);
        snprintf(why, why_len, "command: %s: %s", prog, strerror(sp));
        goto out;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    int64_t deadline = io_mono_us() + s->timeout_us;
    size_t used = 0;
    int status = 0;
    bool reaped = false;
    for (;;) {
        drain(fds[0], out, out_len, &used);
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            reaped = true;
            break;
        }
        if (cancel && cancel(ctx)) {
            kill_group(pid, 300);
            snprintf(why, why_len, "command stopped: the driver is stopping");
            break;
        }
        if (io_mono_us() >= deadline) {
            kill_group(pid, 1000);
            snprintf(why, why_len, "command timed out after %g s", (double)s->timeout_us / 1e6);
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        poll(&p, 1, 20);
    }
    drain(fds[0], out, out_len, &used); /* what it wrote before it exited */
    close(fds[0]); /* a grandchild still holding the pipe gets EPIPE, we do not wait */
    if (reaped) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            rc = 0;
        else if (WIFEXITED(status))
            snprintf(why, why_len, "command exited with %d", WEXITSTATUS(status));
        else
            snprintf(why, why_len, "command killed by signal %d", WTERMSIG(status));
    }
out:
    for (int i = 0; i < n_env; i++)
        free(env[i]);
    free(path_var);
    free(repl_var);
    free(prog);
    free(line);
    return rc;
}
