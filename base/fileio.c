/* fileio.c: regular files only, whole-file reads, safe names, tree removal (see fileio.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/text.h"

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO (named pipe)";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

int gp_open_regular(const char *path, gp_error *err)
{
    /* O_NONBLOCK: opening a FIFO with no writer must not wait for one */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return gp_error_set(err, errno == ENOENT ? GP_EMISSING : GP_EIO, path, 0, 0, NULL,
                            "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL,
                            "%s, not a regular file: give a file", kind_of(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int gp_read_file(const char *path, size_t limit_bytes, char **out, size_t *len_out,
                 gp_error *err)
{
    *out = NULL;
    if (len_out)
        *len_out = 0;
    int fd = gp_open_regular(path, err);
    if (fd < 0)
        return fd;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    while (rc == 0) {
        if (len + 1 >= cap) {
            if (cap > limit_bytes) {
                rc = gp_error_set(err, GP_ELIMIT, path, 0, 0, NULL,
                                  "file larger than %zu bytes", limit_bytes);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = gp_error_set(err, GP_EIO, path, 0, 0, NULL, "read error: %s", strerror(errno));
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (rc == 0 && len > limit_bytes)
        rc = gp_error_set(err, GP_ELIMIT, path, 0, 0, NULL, "file larger than %zu bytes",
                          limit_bytes);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    if (len_out)
        *len_out = len;
    return 0;
}

int gp_read_text_file(const char *path, size_t limit_bytes, char **out, size_t *len_out,
                      gp_error *err)
{
    size_t len;
    int rc = gp_read_file(path, limit_bytes, out, &len, err);
    if (rc == 0 && (rc = gp_text_check(path, *out, len, 1, err)) < 0) {
        free(*out);
        *out = NULL;
        len = 0;
    }
    if (len_out)
        *len_out = rc == 0 ? len : 0;
    return rc;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '+';
}

void gp_safe_file_name(char *out, size_t cap, const char *name)
{
    if (cap == 0)
        return;
    size_t k = 0;
    for (size_t i = 0; name[i] && k + 1 < cap; i++) {
        char c = name[i];
        bool dot_ok = c == '.' && k > 0 && name[i - 1] != '.' && name[i + 1] != '.';
        out[k++] = name_char(c) || dot_ok ? c : '_';
    }
    if (k > 0 && out[0] == '-')
        out[0] = '_';
    if (k == 0 && cap > 1)
        out[k++] = '_';
    out[k] = '\0';
}

int gp_path_with_ext(char *out, size_t cap, const char *path, const char *ext)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t keep = dot && dot > base ? (size_t)(dot - path) : strlen(path);
    int n = snprintf(out, cap, "%.*s%s", (int)keep, path, ext);
    return n >= 0 && (size_t)n < cap ? 0 : GP_ERANGE;
}

/* nftw gives no context pointer: the first failure is reported through errno only, so
 * the walk stops at it and the caller names the tree. */
static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

int gp_remove_tree(const char *path, gp_error *err)
{
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot remove: %s", strerror(errno));
    return 0;
}
