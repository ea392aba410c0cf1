#include "base/fileio.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int gp_read_file(const char *path, size_t limit_bytes, char **out, size_t *len_out,
                 gp_error *err)
{
    *out = NULL;
    if (len_out)
        *len_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return gp_error_set(err, errno == ENOENT ? GP_EMISSING : GP_EIO, path, 0, 0, NULL,
                            "cannot open: %s", strerror(errno));
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
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = gp_error_set(err, GP_EIO, path, 0, 0, NULL, "read error: %s", strerror(errno));
            break;
        }
    }
    fclose(f);
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
    FILE *f = fopen(path, "rb");
    if (!f)
        return gp_error_set(err, errno == ENOENT ? GP_EMISSING : GP_EIO, path, 0, 0, NULL,
                            "cannot open: %s", strerror(errno));
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
