/* textparse.h: values read from text fields (CSV cells, YAML scalars): ISO-8601
 * date-times, plain non-negative decimals and counts. Pure functions: no allocation, no locale
 * or time-zone state, so the result never depends on TZ. */
#ifndef GP_TEXTPARSE_H
#define GP_TEXTPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses an ISO-8601 date-time ("2025-02-01 09:57:50", "2024-10-15T12:00Z",
 * "2023-11-16 18:17:03.9800000", "2025-02-01T10:00:00+08:00", "2025-02-01") into
 * microseconds since 1970-01-01 UTC. UTC unless an offset is given; fractions are
 * rounded to the nearest microsecond. Returns 0, or -1 if `s` is not a date-time. */
int textparse_iso_us(const char *s, int64_t *out_us);
/* Formats microseconds since the epoch as "YYYY-MM-DD HH:MM:SS" (UTC). */
void textparse_format_iso(int64_t us, char *buf, size_t len);

/* Parses a finite, non-negative decimal number (the whole string, spaces allowed
 * around it). Returns 0, or -1 with a reason in *why ("not a number", "NaN",
 * "infinite", "negative"). */
int textparse_nonneg(const char *s, double *out, const char **why);

/* Parses a whole decimal number in [0, max] (the whole string, no spaces). Returns 0, or
 * -1 if `s` is not one. */
int textparse_count(const char *s, long max, long *out);

#endif
