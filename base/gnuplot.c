#include "base/gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void gnuplot_put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f); /* '' stands for one quote */
        if (*s != '\n' && *s != '\r')
            fputc(*s, f);
    }
    fputc('\'', f);
}

int gnuplot_run(const char *script, const char *errlog, gnuplot_result *r)
{
    memset(r, 0, sizeof(*r));
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        r->spawn_errno = ENOMEM;
        return -1;
    }
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errlog, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        r->spawn_errno = rc;
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            r->wait_errno = errno;
            return -1;
        }
    }
    r->exited = WIFEXITED(status);
    r->exit_code = r->exited ? WEXITSTATUS(status) : 0;
    r->signal_no = r->exited ? 0 : WTERMSIG(status);
    if (r->exited && r->exit_code == 0)
        return 0;
    FILE *f = fopen(errlog, "r");
    if (f) {
        char *line = r->first_error;
        while (fgets(line, sizeof(r->first_error), f) && strspn(line, " \t\r\n^") == strlen(line))
            line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
    }
    return -1;
}
