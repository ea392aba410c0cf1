/* textparse.c: ISO-8601 date-times and plain numbers as they appear in text fields (see
 * textparse.h). Calendar arithmetic is proleptic Gregorian (days_from_civil after H. Hinnant), so no
 * libc time zone state is touched: the result never depends on TZ. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/textparse.h"

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Reads exactly n digits. */
static int fixed_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int textparse_iso_us(const char *s, int64_t *out_us)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0;
    if (fixed_digits(&p, 4, &y) < 0 || *p++ != '-' || fixed_digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        fixed_digits(&p, 2, &d) < 0)
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    int64_t offset_s = 0;
    if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        if (fixed_digits(&p, 2, &h) < 0 || *p++ != ':' || fixed_digits(&p, 2, &mi) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (fixed_digits(&p, 2, &sec) < 0)
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                /* Up to 9 digits (ns); rounded to the nearest microsecond. */
                int64_t ns = 0;
                int n = 0;
                while (isdigit((unsigned char)*p)) {
                    if (n == 9)
                        return -1;
                    ns = ns * 10 + (*p++ - '0');
                    n++;
                }
                if (n == 0)
                    return -1;
                for (; n < 9; n++)
                    ns *= 10;
                frac_us = (ns + 500) / 1000;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return -1;
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            int oh, om = 0;
            if (fixed_digits(&p, 2, &oh) < 0)
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && fixed_digits(&p, 2, &om) < 0)
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            offset_s = sign * (oh * 3600 + om * 60);
        }
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return -1;
    int64_t days = days_from_civil(y, mo, d);
    int64_t t_s = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
    *out_us = t_s * 1000000 + frac_us;
    return 0;
}

void textparse_format_iso(int64_t us, char *buf, size_t len)
{
    int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int64_t sod = s - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}

int textparse_nonneg(const char *s, double *out, const char **why)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    /* strtod also takes hex and "nan(...)": accept only decimal forms and name the
     * special values so the message can say what was wrong. */
    const char *q = p;
    if (*q == '+' || *q == '-')
        q++;
    if (strncasecmp(q, "nan", 3) == 0) {
        *why = "NaN";
        return -1;
    }
    if (strncasecmp(q, "inf", 3) == 0) {
        *why = "infinite";
        return -1;
    }
    if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        *why = "not a number";
        return -1;
    }
    char *end;
    double v = strtod(p, &end);
    if (end == p) {
        *why = "not a number";
        return -1;
    }
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end) {
        *why = "not a number";
        return -1;
    }
    if (!isfinite(v)) {
        *why = "infinite";
        return -1;
    }
    if (v < 0) {
        *why = "negative";
        return -1;
    }
    *out = v == 0 ? 0.0 : v; /* turns -0 into 0 */
    return 0;
}

int textparse_count(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}
