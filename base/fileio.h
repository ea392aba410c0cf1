/* fileio.h: reading a whole (text) file into memory, with a size limit.
 * The buffer is NUL-terminated (so it can be parsed as a string) and owned by the
 * caller (free). Errors name the path: GP_EMISSING when it does not exist, GP_EIO when
 * it cannot be opened or read, GP_ELIMIT above limit_bytes, GP_ENOMEM.
 * Also: joining a relative path to the directory it is relative to, and hashing a file. */
#ifndef GP_FILEIO_H
#define GP_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

int gp_read_file(const char *path, size_t limit_bytes, char **out, size_t *len_out,
                 gp_error *err);

/* dir + "/" + rel (rel alone when it is absolute or dir is "" or "."), with "." parts
 * dropped and "D/.." folded where D is a plain directory on disk (not a symlink), so the
 * result names the same file: "experiments/../results/x.db" -> "results/x.db". Returns
 * 0, or -1 when it does not fit in cap bytes. */
int gp_path_join(const char *dir, const char *rel, char *out, size_t cap);

/* FNV-1a 64 of a file's bytes and its length: the identity of an input (a trace) whose
 * content must match for a stored run to be reused. Errors name the path. */
int gp_hash_file(const char *path, uint64_t *hash, uint64_t *bytes, gp_error *err);

#endif
