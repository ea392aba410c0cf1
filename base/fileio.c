#include "base/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
