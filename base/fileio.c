/* fileio.c: regular files only, whole-file reads, safe names, tree removal (see fileio.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "base/fileio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
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
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "%s, not a regular file: give a file",
                            kind_of(st.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int gp_read_file(const char *path, size_t limit_bytes, char **out, size_t *len_out, gp_error *err)
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
                rc = gp_error_set(err, GP_ELIMIT, path, 0, 0, NULL, "file larger than %zu bytes",
                                  limit_bytes);
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

/* Drops the last component of out[0..*len) when it is a plain directory (not a symlink,
 * not "..", not empty), so that "D/.." names the same place as the text before D. */
static bool pop_component(char *out, size_t *len)
{
    size_t l = *len;
    if (l == 0 || (l == 1 && out[0] == '/'))
        return false;
    size_t start = l;
    while (start > 0 && out[start - 1] != '/')
        start--;
    const char *comp = out + start;
    if ((l - start == 2 && comp[0] == '.' && comp[1] == '.') || l == start)
        return false;
    struct stat st;
    out[l] = '\0';
    if (lstat(out, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    size_t keep = start;
    if (keep > 1 && out[keep - 1] == '/')
        keep--;
    else if (keep == 1 && out[0] == '/')
        keep = 1;
    *len = keep;
    out[keep] = '\0';
    return true;
}

int gp_path_join(const char *dir, const char *rel, char *out, size_t cap)
{
    if (!cap)
        return -1;
    out[0] = '\0';
    size_t len = 0;
    const char *p = rel;
    if (rel[0] != '/' && dir && dir[0] && strcmp(dir, ".") != 0) {
        len = strlen(dir);
        if (len + 1 >= cap)
            return -1;
        memcpy(out, dir, len + 1);
        while (len > 1 && out[len - 1] == '/')
            out[--len] = '\0';
    }
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0) { /* "//" or a leading "/" */
            if (len == 0 && p == rel) {
                out[len++] = '/';
                out[len] = '\0';
            }
            p++;
            continue;
        }
        if (n == 1 && p[0] == '.') {
            p += 1;
            continue;
        }
        if (!(n == 2 && p[0] == '.' && p[1] == '.' && pop_component(out, &len))) {
            size_t sep = len > 0 && out[len - 1] != '/';
            if (len + sep + n + 1 > cap)
                return -1;
            if (sep)
                out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
    }
    if (len == 0) {
        if (cap < 2)
            return -1;
        memcpy(out, ".", 2);
    }
    return 0;
}

int gp_hash_file(const char *path, uint64_t *hash, uint64_t *bytes, gp_error *err)
{
    int fd = gp_open_regular(path, err); /* a FIFO would block the hash */
    if (fd < 0)
        return fd;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    }
    uint64_t h = 14695981039346656037ULL, n = 0; /* the FNV-1a 64 offset basis */
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
        for (size_t i = 0; i < got; i++)
            h = (h ^ buf[i]) * 1099511628211ULL;
        n += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "read error");
    *hash = h;
    *bytes = n;
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
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '+';
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
