/* text.h: bytes that must be text. One check for every text input of gpenlab (CSV rows,
 * YAML files, GPU profiles): no NUL byte and valid UTF-8 (RFC 3629: shortest forms only,
 * no surrogates, nothing above U+10FFFF). A NUL would silently end a C string (a row cut
 * short, the rest of a file dropped); invalid UTF-8 would reach labels, the database and
 * HTML pages. An error names the file, the line and the column (1-based, in bytes) of the
 * first bad byte and shows it in hex. Cutting text to a byte budget keeps whole UTF-8
 * sequences. No allocation and no dependency beyond error.c: the GPU program and the
 * worker compile this file in. */
#ifndef GP_TEXT_H
#define GP_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/* Length of the longest prefix of s[0..n) that is valid UTF-8 without a NUL byte: n when
 * the whole is text. A sequence cut by the end of the buffer counts as invalid. */
size_t gp_text_prefix(const char *s, size_t n);

/* 0 when s[0..n) is text; else GP_EPARSE naming `path`, the line (first_line for s[0],
 * counting '\n' after it) and the column of the first bad byte:
 *   "x.csv:3:7: NUL byte (binary data, not text)"
 *   "x.csv:3:4: invalid UTF-8 (byte 0xe9): save the file as UTF-8" */
int gp_text_check(const char *path, const char *s, size_t n, long first_line, gp_error *err);

/* The largest length <= max_bytes at which the NUL-terminated UTF-8 string s can be cut
 * without splitting a character (strlen(s) when it fits). */
size_t gp_utf8_cut(const char *s, size_t max_bytes);

/* Copies src into dst (cap bytes, NUL-terminated), cut at a character boundary when it
 * does not fit. Returns true when it was cut. */
bool gp_copy_utf8(char *dst, size_t cap, const char *src);

#endif
