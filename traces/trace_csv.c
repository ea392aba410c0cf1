/* trace_csv.c: a recorded per-request trace, loaded whole (rows are small: 16 bytes),
 * sorted if needed (one warning with the count), cut to [start, end), moved so that
 * t = 0 is `start` (or the first row), compressed by time_scale, then replayed by the
 * in-memory source of trace_src.c (which applies rate_scale lazily). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/csv_gzip.h"
#include "traces/trace_internal.h"

#define TRACE_MAX_RATE_SCALE    1000.0
#define TRACE_DEFAULT_SPREAD_US (30 * 1000000LL)

void trace_csv_opts_default(trace_csv_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->time_unit = TRACE_TIME_AUTO;
    o->time_scale = 1.0;
    o->rate_scale = 1.0;
    o->seed = 1;
    image_mix_default(&o->mix);
}

/* A row while loading: ord keeps the file order so the sort is stable. */
typedef struct load_row {
    int64_t t_us;
    float mp;
    int32_t faces;
    uint32_t ord;
} load_row;

static int cmp_load_row(const void *a, const void *b)
{
    const load_row *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* llround(us), without the call for a whole number (every time in us of a trace). */
static int64_t round_us(double us)
{
    int64_t whole = (int64_t)us;
    return (double)whole == us ? whole : llround(us);
}

/* An offset on the input axis compressed by time_scale: llround(offset / time_scale). */
static int64_t scaled_us(int64_t offset_us, double time_scale)
{
    return time_scale == 1.0 && offset_us < (1LL << 53) ? offset_us
                                                        : llround((double)offset_us / time_scale);
}

double trace_unit_us(trace_time_unit u)
{
    return u == TRACE_TIME_MS ? 1e3 : u == TRACE_TIME_US ? 1.0 : u == TRACE_TIME_NS ? 1e-3 : 1e6;
}

const char *trace_unit_name(trace_time_unit u)
{
    switch (u) {
    case TRACE_TIME_ISO: return "ISO date-time";
    case TRACE_TIME_MS: return "milliseconds";
    case TRACE_TIME_US: return "microseconds";
    case TRACE_TIME_NS: return "nanoseconds";
    default: return "seconds";
    }
}

void trace_warn_guessed_span(FILE *warn, const char *path, const char *col, trace_unit_source how,
                             int64_t span_us)
{
    if (!warn || how != TRACE_UNIT_GUESSED || span_us <= TRACE_GUESSED_SPAN_WARN_US)
        return;
    fprintf(warn,
            "warning: %s: time column '%s' read as seconds (no time unit given, none in its "
            "name) spans %.1f days; if it holds ms, us or ns, say so with time_unit (run) or "
            "--time-unit (trace stats), or name the column *_ms, *_us or *_ns\n",
            path, col, (double)span_us / 86400e6);
}

/* A time value on the input axis: ISO date-time, or a number in the column's unit. */
static int parse_time_text(const char *s, trace_time_unit unit, int64_t *out_us, const char **why)
{
    if (unit == TRACE_TIME_ISO) {
        *why = "a date-time";
        return textparse_iso_us(s, out_us);
    }
    double v;
    const char *reason;
    *why = "a number";
    if (textparse_nonneg(s, &v, &reason) < 0) {
        if (strcmp(reason, "not a number") != 0)
            *why = reason;
        return -1;
    }
    double us = v * trace_unit_us(unit);
    if (us > 4.0e18) {
        *why = "too large";
        return -1;
    }
    *out_us = round_us(us);
    return 0;
}

int trace_time_field(const csv_reader *r, size_t col, trace_time_unit unit, int64_t *out_us,
                     gp_error *err)
{
    const char *s = csv_field(r, col);
    const char *why;
    if (parse_time_text(s, unit, out_us, &why) == 0)
        return 0;
    if (!s[0])
        return csv_field_error(r, col, GP_EPARSE, err, "empty value, expected a time");
    if (strcmp(why, "a date-time") == 0 || strcmp(why, "a number") == 0)
        return csv_field_error(r, col, GP_EPARSE, err, "cannot parse '%.60s' as %s", s, why);
    return csv_field_error(r, col, GP_ERANGE, err, "%s time value '%.60s'", why, s);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

trace_time_unit trace_detect_unit(const char *col_name, const char *first_value,
                                  trace_time_unit unit, trace_unit_source *how)
{
    if (unit != TRACE_TIME_AUTO) {
        *how = TRACE_UNIT_GIVEN;
        return unit;
    }
    static const struct {
        const char *suffix;
        trace_time_unit unit;
    } names[] = {{"_ms", TRACE_TIME_MS},
                 {"_us", TRACE_TIME_US},
                 {"_ns", TRACE_TIME_NS},
                 {"_s", TRACE_TIME_S}};
    for (size_t i = 0; col_name && i < sizeof(names) / sizeof(names[0]); i++)
        if (ends_with(col_name, names[i].suffix)) {
            *how = TRACE_UNIT_FROM_NAME;
            return names[i].unit;
        }
    int64_t t;
    if (textparse_iso_us(first_value, &t) == 0) {
        *how = TRACE_UNIT_ISO;
        return TRACE_TIME_ISO;
    }
    *how = TRACE_UNIT_GUESSED;
    return TRACE_TIME_S;
}

static int parse_bound(const char *path, const char *field, const char *text, trace_time_unit unit,
                       int64_t *out_us, gp_error *err)
{
    const char *why;
    if (textparse_iso_us(text, out_us) == 0)
        return 0;
    if (unit != TRACE_TIME_ISO && parse_time_text(text, unit, out_us, &why) == 0)
        return 0;
    double v;
    if (unit == TRACE_TIME_ISO && textparse_nonneg(text, &v, &why) == 0 && v * 1e6 < 4e18) {
        *out_us = llround(v * 1e6);
        return 0;
    }
    return gp_error_set(err, GP_EPARSE, path, 0, 0, field,
                        "cannot parse '%.60s' as a date-time or a time in the trace's unit", text);
}

static int read_rows(csv_reader *r, const trace_csv_opts *o, int tcol, int mcol, int fcol,
                     trace_time_unit *unit, trace_unit_source *how, load_row **rows_out,
                     size_t *n_out, size_t *unsorted_out, gp_error *err)
{
    load_row *rows = NULL;
    size_t n = 0, cap = 0, unsorted = 0;
    int64_t max_t = INT64_MIN;
    uint64_t max_rows = o->max_rows ? o->max_rows : TRACE_MAX_ROWS;
    int rc;
    while ((rc = csv_next_row(r, err)) > 0) {
        if (n == 0)
            *unit = trace_detect_unit(o->time_col, csv_field(r, (size_t)tcol), o->time_unit, how);
        if (n >= max_rows) {
            rc =
                gp_error_set(err, GP_ELIMIT, csv_path(r), csv_line(r), 0, NULL,
                             "trace too large: more than %llu rows (%.1f MiB in memory; "
                             "recorded traces are loaded whole): cut it with start/end, or "
                             "replay its per-minute counts as an envelope",
                             (unsigned long long)max_rows,
                             (double)max_rows * (sizeof(load_row) + sizeof(trace_row)) / (1 << 20));
            break;
        }
        if (n == cap) {
            size_t c = cap ? cap * 2 : 4096;
            if (c > max_rows)
                c = (size_t)max_rows;
            load_row *p = realloc(rows, c * sizeof(*p));
            if (!p) {
                rc = gp_error_set(err, GP_ENOMEM, csv_path(r), csv_line(r), 0, NULL,
                                  "out of memory");
                break;
            }
            rows = p;
            cap = c;
        }
        load_row *row = &rows[n];
        row->ord = (uint32_t)n;
        row->mp = 0;
        row->faces = -1;
        if ((rc = trace_time_field(r, (size_t)tcol, *unit, &row->t_us, err)) < 0)
            break;
        if (mcol >= 0) {
            double mp;
            if ((rc = csv_field_nonneg(r, (size_t)mcol, &mp, err)) < 0)
                break;
            if (!(mp > 0) || mp > 1e6) {
                rc = csv_field_error(r, (size_t)mcol, GP_ERANGE, err,
                                     "megapixels must be in (0, 1e6], got %g", mp);
                break;
            }
            row->mp = (float)mp;
        }
        if (fcol >= 0) {
            double f;
            if ((rc = csv_field_nonneg(r, (size_t)fcol, &f, err)) < 0)
                break;
            if (!(f <= 1e6) || f != (double)(int32_t)f) { /* floor(f), as f >= 0 */
                rc = csv_field_error(r, (size_t)fcol, GP_ERANGE, err,
                                     "faces must be a whole number in [0, 1e6], got %g", f);
                break;
            }
            row->faces = (int32_t)f;
        }
        if (row->t_us < max_t)
            unsorted++;
        else
            max_t = row->t_us;
        n++;
    }
    if (rc < 0) {
        free(rows);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    *unsorted_out = unsorted;
    return 0;
}

int trace_open_csv(const trace_csv_opts *o, arrival_src **out, gp_error *err)
{
    *out = NULL;
    int rc;
    if (!o->time_col || !o->time_col[0])
        return gp_error_set(err, GP_EMISSING, o->path, 0, 0, "time_column", "no time column given");
    if ((rc = trace_check_scale(o->path, "time_scale", o->time_scale, err)) < 0 ||
        (rc = trace_check_scale(o->path, "rate_scale", o->rate_scale, err)) < 0 ||
        (rc = image_mix_validate(&o->mix, err)) < 0)
        return rc;
    if (o->rate_scale > TRACE_MAX_RATE_SCALE)
        return gp_error_set(err, GP_ERANGE, o->path, 0, 0, "rate_scale",
                            "at most %g for a recorded trace (got %g); for more, use its "
                            "per-minute counts as an envelope",
                            TRACE_MAX_RATE_SCALE, o->rate_scale);
    if (o->copy_spread_us < 0)
        return gp_error_set(err, GP_ERANGE, o->path, 0, 0, "copy_spread_us",
                            "must be >= 0, got %lld", (long long)o->copy_spread_us);
    csv_reader *r;
    if ((rc = csv_open_any(o->path, &r, err)) < 0)
        return rc;
    int tcol = csv_require_col(r, o->time_col, "time column", err);
    int mcol = -1, fcol = -1;
    rc = tcol < 0 ? tcol : 0;
    if (rc == 0 && o->mp_col && o->mp_col[0] &&
        (mcol = csv_require_col(r, o->mp_col, "megapixels column", err)) < 0)
        rc = mcol;
    if (rc == 0 && o->faces_col && o->faces_col[0] &&
        (fcol = csv_require_col(r, o->faces_col, "faces column", err)) < 0)
        rc = fcol;
    if (rc < 0) {
        csv_close(r);
        return rc;
    }
    load_row *rows;
    size_t n, unsorted;
    trace_time_unit unit = o->time_unit;
    trace_unit_source how = TRACE_UNIT_GIVEN;
    rc = read_rows(r, o, tcol, mcol, fcol, &unit, &how, &rows, &n, &unsorted, err);
    long header_line = csv_line(r);
    csv_close(r);
    if (rc < 0)
        return rc;
    if (n == 0) {
        free(rows);
        return gp_error_set(err, GP_EPARSE, o->path, header_line, 0, NULL,
                            "no data rows after the header");
    }
    if (unsorted > 0) {
        qsort(rows, n, sizeof(*rows), cmp_load_row);
        if (o->warn)
            fprintf(o->warn, "warning: %s: %zu of %zu rows were out of time order; sorted them\n",
                    o->path, unsorted, n);
    }
    int64_t start_us = rows[0].t_us, end_us = INT64_MAX;
    bool has_end = false;
    if (o->start && o->start[0] &&
        (rc = parse_bound(o->path, "start", o->start, unit, &start_us, err)) < 0)
        goto fail;
    if (o->end && o->end[0]) {
        if ((rc = parse_bound(o->path, "end", o->end, unit, &end_us, err)) < 0)
            goto fail;
        has_end = true;
        if (end_us <= start_us) {
            rc = gp_error_set(err, GP_ERANGE, o->path, 0, 0, "end",
                              "end '%s' is not after the start", o->end);
            goto fail;
        }
    }
    /* The replay axis must hold the whole window, compressed or stretched. */
    int64_t last_in = has_end ? end_us : rows[n - 1].t_us;
    if (last_in > start_us &&
        (rc = trace_check_span(o->path, last_in - start_us, o->time_scale, err)) < 0)
        goto fail;
    /* Cut to [start, end) and move to the replay axis, compressed by time_scale. */
    trace_row *out_rows = malloc(n * sizeof(*out_rows));
    if (!out_rows) {
        rc = gp_error_set(err, GP_ENOMEM, o->path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].t_us < start_us || rows[i].t_us >= end_us)
            continue;
        out_rows[m].t_us = scaled_us(rows[i].t_us - start_us, o->time_scale);
        out_rows[m].mp = rows[i].mp;
        out_rows[m].faces = rows[i].faces;
        m++;
    }
    if (m == 0) {
        char a[32], b[32];
        if (unit == TRACE_TIME_ISO) {
            textparse_format_iso(rows[0].t_us, a, sizeof(a));
            textparse_format_iso(rows[n - 1].t_us, b, sizeof(b));
        } else {
            snprintf(a, sizeof(a), "%g", (double)rows[0].t_us / trace_unit_us(unit));
            snprintf(b, sizeof(b), "%g", (double)rows[n - 1].t_us / trace_unit_us(unit));
        }
        free(out_rows);
        rc = gp_error_set(err, GP_ERANGE, o->path, 0, 0, "start",
                          "no request in [start, end): the trace runs from %s to %s", a, b);
        goto fail;
    }
    trace_rows_opts ro;
    memset(&ro, 0, sizeof(ro));
    int64_t last_us = has_end ? end_us : rows[n - 1].t_us;
    ro.span_us = llround((double)(last_us - start_us) / o->time_scale);
    if (ro.span_us < out_rows[m - 1].t_us)
        ro.span_us = out_rows[m - 1].t_us;
    ro.origin_us = start_us;
    ro.origin_is_date = unit == TRACE_TIME_ISO;
    ro.time_unit = unit;
    ro.unit_source = how;
    trace_warn_guessed_span(o->warn, o->path, o->time_col, how, last_in - start_us);
    ro.rate_scale = o->rate_scale;
    double spread_us =
        (double)(o->copy_spread_us ? o->copy_spread_us : TRACE_DEFAULT_SPREAD_US) / o->time_scale;
    ro.spread_us = spread_us < (double)TRACE_MAX_SPAN_US ? llround(spread_us) : TRACE_MAX_SPAN_US;
    ro.mix = o->mix;
    ro.seed = o->seed;
    free(rows);
    return trace_src_from_rows(out_rows, m, &ro, out, err);
fail:
    free(rows);
    return rc;
}
