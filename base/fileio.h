/* fileio.h: reading a whole (text) file into memory, with a size limit.
 * The buffer is NUL-terminated (so it can be parsed as a string) and owned by the
 * caller (free). Errors name the path: GP_EMISSING when it does not exist, GP_EIO when
 * it cannot be opened or read, GP_ELIMIT above limit_bytes, GP_ENOMEM. */
#ifndef GP_FILEIO_H
#define GP_FILEIO_H

#include <stddef.h>

#include "base/error.h"

int gp_read_file(const char *path, size_t limit_bytes, char **out, size_t *len_out,
                 gp_error *err);

#endif
