/* csv_gzip.c: a csv_input over zlib's gzread (see csv_gzip.h). */
#include "base/csv_gzip.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/fileio.h"

static long gz_read(void *ctx, char *buf, size_t cap, gp_error *err)
{
    gzFile gz = ctx;
    int n = gzread(gz, buf, (unsigned)(cap > (1u << 30) ? 1u << 30 : cap));
    int errnum = Z_OK;
    const char *msg = gzerror(gz, &errnum);
    if (n > 0 && errnum == Z_OK)
        return n;
    if (errnum == Z_OK)
        return 0;
    if (errnum == Z_BUF_ERROR)
        return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "truncated gzip file (%s)",
                            "unexpected end of file");
    if (errnum == Z_ERRNO)
        return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "read error: %s", strerror(errno));
    return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "corrupt gzip data: %s",
                        msg ? msg : "unknown zlib error");
}

static void gz_close(void *ctx) { gzclose((gzFile)ctx); }

int csv_open_any(const char *path, csv_reader **out, gp_error *err)
{
    *out = NULL;
    if (!path || !path[0])
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "no CSV file given");
    int fd = gp_open_regular(path, err);
    if (fd < 0)
        return fd;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    gzbuffer(gz, 1u << 17);
    csv_input in = {gz, gz_read, gz_close};
    return csv_open_input(path, in, out, err);
}
