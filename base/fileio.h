/* fileio.h: files and file names, bounded.
 * - Reading opens regular files only: a FIFO, a device (/dev/zero) or a directory is
 *   refused at once instead of blocking or streaming forever. A whole file is read with a
 *   size limit into a NUL-terminated buffer owned by the caller (free);
 *   gp_read_text_file also requires text (no NUL byte, valid UTF-8: text.h).
 * - Names that become file names (experiment names, policy labels, sweep names) go
 *   through gp_safe_file_name, so no name can climb out of its folder or hide a file.
 * - gp_remove_tree removes a directory tree without a shell.
 * - gp_path_join joins a relative path to the directory it is relative to; gp_hash_file
 *   gives a file's content identity.
 * Errors name the path: GP_EMISSING when it does not exist, GP_EIO when it cannot be
 * opened or read or is not a regular file, GP_ELIMIT above limit_bytes, GP_ENOMEM.
 * Needs only libc, error.c and text.c (the GPU program and the worker compile it in). */
#ifndef GP_FILEIO_H
#define GP_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Opens `path` read-only (O_CLOEXEC) when it is a regular file; returns the descriptor,
 * or a negative GP_E* code. */
int gp_open_regular(const char *path, gp_error *err);

int gp_read_file(const char *path, size_t limit_bytes, char **out, size_t *len_out, gp_error *err);
/* gp_read_file, then the text check: GP_EPARSE naming the line and column of a NUL byte
 * or of invalid UTF-8. */
int gp_read_text_file(const char *path, size_t limit_bytes, char **out, size_t *len_out,
                      gp_error *err);

/* Writes into out (cap bytes) a file-name component made from `name`: ASCII letters,
 * digits, '-', '_' and '+' are kept, '.' too except first or next to another '.'; every
 * other byte ('/', '\\', spaces, control characters, non-ASCII) becomes '_'. Never empty,
 * never "." or "..", never starts with '.' or '-'. */
void gp_safe_file_name(char *out, size_t cap, const char *name);

/* `path` with the extension of its last component replaced by (or, without one, followed
 * by) `ext` (".html"): "v1.2/x.db" -> "v1.2/x.html", "./x.db" -> "./x.html", "x" ->
 * "x.html", ".x.db" -> ".x.html". GP_ERANGE when it does not fit. */
int gp_path_with_ext(char *out, size_t cap, const char *path, const char *ext);

/* Removes `path` and everything below it (symbolic links are removed, never followed).
 * 0, or GP_EIO naming the first entry that could not be removed. */
int gp_remove_tree(const char *path, gp_error *err);

/* dir + "/" + rel (rel alone when it is absolute or dir is "" or "."), with "." parts
 * dropped and "D/.." folded where D is a plain directory on disk (not a symlink), so the
 * result names the same file: "experiments/../results/x.db" -> "results/x.db". Returns
 * 0, or -1 when it does not fit in cap bytes. */
int gp_path_join(const char *dir, const char *rel, char *out, size_t cap);

/* FNV-1a 64 of a file's bytes and its length: the identity of an input (a trace) whose
 * content must match for a stored run to be reused. Errors name the path. */
int gp_hash_file(const char *path, uint64_t *hash, uint64_t *bytes, gp_error *err);

#endif
