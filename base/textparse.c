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

/* 10^0 .. 10^22: every one a double exactly (10^22 = 2^22 5^22, 5^22 < 2^53). */
static const double POW10_EXACT[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The common plain decimal, [+]digits[.digits][(e|E)[+|-]digits], converted without
 * strtod when the result is certain to be strtod's: its significant digits form an
 * integer w <= 2^53 and its value is w 10^e with |e| <= 22. Then w and 10^|e| are both
 * doubles exactly, and one IEEE multiplication or division, correctly rounded to
 * nearest, gives the correctly rounded value of the decimal, which is what glibc's
 * strtod returns (Clinger's fast path). Returns true with *out and *end (the first byte
 * after the number); false for anything else (a sign '-', more digits, a larger
 * exponent, no digit), which the caller hands to strtod. */
static bool fast_decimal(const char *p, double *out, const char **end)
{
    if (*p == '+')
        p++;
    const char *start = p;
    while (*p == '0')
        p++; /* leading zeros are not significant */
    const char *sig = p;
    uint64_t w = 0; /* wraps past 19 digits, but is then not used */
    for (; is_digit(*p); p++)
        w = w * 10 + (uint64_t)(*p - '0');
    int n_sig = (int)(p - sig), e10 = 0;
    bool any = p > start;
    if (*p == '.') {
        const char *frac = ++p;
        if (n_sig == 0)
            while (*p == '0')
                p++;
        const char *fsig = p;
        for (; is_digit(*p); p++)
            w = w * 10 + (uint64_t)(*p - '0');
        n_sig += (int)(p - fsig);
        e10 = -(int)(p - frac);
        any |= p > frac;
    }
    if (!any || n_sig > 19)
        return false; /* no digit; or w could have passed 2^64 */
    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int sign = 1, x = 0;
        if (*q == '+' || *q == '-')
            sign = *q++ == '-' ? -1 : 1;
        if (!is_digit(*q))
            return false; /* "1e": strtod stops before the 'e' */
        for (; is_digit(*q); q++)
            if (x < 100000)
                x = x * 10 + (*q - '0');
        e10 += sign * x;
        p = q;
    }
    double v;
    if (w == 0)
        v = 0.0;
    else if (w > (1ULL << 53) || e10 < -22 || e10 > 22)
        return false;
    else if (e10 >= 0)
        v = (double)w * POW10_EXACT[e10];
    else
        v = (double)w / POW10_EXACT[-e10];
    *out = v;
    *end = p;
    return true;
}

int textparse_nonneg(const char *s, double *out, const char **why)
{
    /* The commonest text, a number of at most 19 digits with or without a point and
       nothing around it, in one pass (fast_decimal's rule: w <= 2^53, 10^-22 at most). */
    const char *p = s;
    uint64_t w = 0;
    unsigned d;
    for (; (d = (unsigned)(*p - '0')) < 10; p++)
        w = w * 10 + d;
    long n_digits = p - s, n_frac = 0;
    if (*p == '.') {
        const char *frac = ++p;
        for (; (d = (unsigned)(*p - '0')) < 10; p++)
            w = w * 10 + d;
        n_frac = p - frac;
        n_digits += n_frac;
    }
    if (!*p && n_digits > 0 && n_digits <= 19 && n_frac <= 22 && w <= (1ULL << 53)) {
        *out = n_frac ? (double)w / POW10_EXACT[n_frac] : (double)w;
        return 0;
    }
    p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    double fast;
    const char *fast_end;
    if (fast_decimal(p, &fast, &fast_end)) {
        while (*fast_end == ' ' || *fast_end == '\t')
            fast_end++;
        if (!*fast_end) {
            *out = fast;
            return 0;
        }
        /* something follows the number: strtod's path below says what */
    }
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
