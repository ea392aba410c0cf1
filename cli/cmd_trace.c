/* cmd_trace.c: `gpenlab trace stats FILE [options]` (see commands.h).
 * The header is read first to guess what the file is when options leave it open: the
 * time column (a known name), and whether it is a rate envelope (a known rate column).
 * Envelopes are summarised from their windows (expected counts; a 14-day ServeGen file
 * holds over a billion requests) unless --replay asks for drawn arrivals. */
#include "cli/commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/common.h"
#include "base/csv_gzip.h"
#include "base/opts.h"
#include "traces/trace_internal.h"

static const char usage[] =
    "usage: gpenlab trace stats FILE [options]\n"
    "  FILE                a CSV or gzip CSV with a header: one row per request, or a rate\n"
    "                      envelope (a rate per time window)\n"
    "  --time-col C        the arrival time / window start column (default: guessed)\n"
    "  --time-unit U       auto|iso|s|ms|us|ns (default auto: from the column's name\n"
    "                      (*_s, *_ms, *_us, *_ns), else ISO if it parses, else s: guessed)\n"
    "  --mp-col C          megapixels per request (default: drawn from the image mix)\n"
    "  --faces-col C       faces per request (default: drawn from the image mix)\n"
    "  --start T --end T   replay only [start, end): per-request: ISO date-time or a number\n"
    "                      in the time unit; envelope: seconds from the first window\n"
    "  --time-scale X      play X times faster      --rate-scale X  X times the requests\n"
    "  --envelope          the file is a rate envelope (implied by --rate-col)\n"
    "  --rate-col C        requests per second per window (guessed for known files)\n"
    "  --rate-per-window   the rate column counts requests per window\n"
    "  --cv-col C          CV of inter-arrival times (gamma renewal per client)\n"
    "  --client-col C      client of each row   --filter-col C --filter-value V  one client\n"
    "  --gap-col C         rows where C is 0 are data gaps (default: active_clients)\n"
    "  --window S          window length in seconds (default: inferred)\n"
    "  --replay            envelope: draw arrivals instead of expected figures\n"
    "  --seed N            seed of drawn arrivals and image sizes (default 1)\n"
    "  --plot FILE.png     draw the hour-of-day profile with gnuplot\n";

typedef struct stats_args {
    const char *file;
    const char *time_col, *mp_col, *faces_col, *rate_col, *cv_col, *client_col;
    const char *filter_col, *filter_value, *gap_col, *start, *end, *plot;
    trace_time_unit unit;
    bool envelope, rate_per_window, replay;
    double time_scale, rate_scale, window_s;
    uint64_t seed;
} stats_args;

static int bad_value(const char *opt, const char *v, const char *want, gp_error *err)
{
    return gp_error_set(err, GP_EPARSE, NULL, 0, 0, opt, "expected %s, got '%s'", want, v);
}

static int parse_number(const char *opt, const char *v, double lo, double hi, double *out,
                        gp_error *err)
{
    const char *why;
    double x;
    if (textparse_nonneg(v, &x, &why) < 0 || x < lo || x > hi) {
        char want[96];
        snprintf(want, sizeof(want), "a number in [%g, %g]", lo, hi);
        return bad_value(opt, v, want, err);
    }
    *out = x;
    return 0;
}

static int parse_unit(const char *name, const char *v, void *out, gp_error *err)
{
    static const char *const units[] = {"auto", "iso", "s", "ms", "us", "ns"};
    for (int k = 0; k < 6; k++) {
        if (strcmp(v, units[k]) == 0) {
            *(trace_time_unit *)out = (trace_time_unit)k;
            return 0;
        }
    }
    return bad_value(name, v, "auto, iso, s, ms, us or ns", err);
}

static int parse_time_scale(const char *name, const char *v, void *out, gp_error *err)
{
    return parse_number(name, v, 1e-6, 1e6, out, err);
}

static int parse_rate_scale(const char *name, const char *v, void *out, gp_error *err)
{
    return parse_number(name, v, 1e-9, 1e9, out, err);
}

static int parse_window(const char *name, const char *v, void *out, gp_error *err)
{
    return parse_number(name, v, 1e-6, 1e9, out, err);
}

static int parse_seed(const char *name, const char *v, void *out, gp_error *err)
{
    char *end;
    unsigned long long s = strtoull(v, &end, 10);
    if (end == v || *end || v[0] == '-')
        return bad_value(name, v, "a whole number >= 0", err);
    *(uint64_t *)out = (uint64_t)s;
    return 0;
}

static int two_files(const char *const *pos, const char *arg, gp_error *err)
{
    return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL,
                        "more than one file given ('%s' and '%s')", pos[0], arg);
}

static int parse_args(int argc, char **argv, stats_args *a, gp_error *err)
{
    memset(a, 0, sizeof(*a));
    a->unit = TRACE_TIME_AUTO;
    a->time_scale = a->rate_scale = 1.0;
    a->seed = 1;
    const cli_opt opts[] = {
        {"--time-col", NULL, CLI_STR, &a->time_col, 0, 0, NULL},
        {"--mp-col", NULL, CLI_STR, &a->mp_col, 0, 0, NULL},
        {"--faces-col", NULL, CLI_STR, &a->faces_col, 0, 0, NULL},
        {"--rate-col", NULL, CLI_STR, &a->rate_col, 0, 0, NULL},
        {"--cv-col", NULL, CLI_STR, &a->cv_col, 0, 0, NULL},
        {"--client-col", NULL, CLI_STR, &a->client_col, 0, 0, NULL},
        {"--filter-col", NULL, CLI_STR, &a->filter_col, 0, 0, NULL},
        {"--filter-value", NULL, CLI_STR, &a->filter_value, 0, 0, NULL},
        {"--gap-col", NULL, CLI_STR, &a->gap_col, 0, 0, NULL},
        {"--start", NULL, CLI_STR, &a->start, 0, 0, NULL},
        {"--end", NULL, CLI_STR, &a->end, 0, 0, NULL},
        {"--plot", NULL, CLI_STR, &a->plot, 0, 0, NULL},
        {"--envelope", NULL, CLI_FLAG, &a->envelope, 0, 0, NULL},
        {"--rate-per-window", NULL, CLI_FLAG, &a->rate_per_window, 0, 0, NULL},
        {"--replay", NULL, CLI_FLAG, &a->replay, 0, 0, NULL},
        {"--time-unit", NULL, CLI_VALUE, &a->unit, 0, 0, parse_unit},
        {"--time-scale", NULL, CLI_VALUE, &a->time_scale, 0, 0, parse_time_scale},
        {"--rate-scale", NULL, CLI_VALUE, &a->rate_scale, 0, 0, parse_rate_scale},
        {"--window", NULL, CLI_VALUE, &a->window_s, 0, 0, parse_window},
        {"--seed", NULL, CLI_VALUE, &a->seed, 0, 0, parse_seed},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = &a->file,
                           .n_pos = 1,
                           .unknown = "unknown option '%s' (see gpenlab trace help)",
                           .extra_fn = two_files};
    int rc = cli_parse(argc, argv, &spec, NULL, err);
    if (rc < 0)
        return rc;
    if (!a->file)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL,
                            "no trace file given (usage: gpenlab trace stats FILE [options])");
    if ((a->filter_col != NULL) != (a->filter_value != NULL))
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "--filter-col",
                            "--filter-col and --filter-value go together");
    return 0;
}

int trace_guess_time_col(const char *const *names, size_t n)
{
    static const char *const known[] = {"gmt_create", "timestamp", "window_start_s",
                                        "time",       "t",         "arrival_time",
                                        "arrival_s",  "ts",        NULL};
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; known[k]; k++)
            if (strcasecmp(names[i], known[k]) == 0)
                return (int)i;
    for (size_t i = 0; i < n; i++) {
        for (const char *p = names[i]; *p; p++)
            if (strncasecmp(p, "time", 4) == 0)
                return (int)i;
    }
    return -1;
}

/* What the header says: the time column, and a known rate column. */
typedef struct header_guess {
    char time_col[128], rate_col[128], cv_col[128], client_col[128];
    bool rate_counts; /* the rate column counts requests per window */
} header_guess;

static int guess_from_header(const char *path, header_guess *g, gp_error *err)
{
    memset(g, 0, sizeof(*g));
    csv_reader *r;
    int rc = csv_open_any(path, &r, err);
    if (rc < 0)
        return rc;
    size_t n = csv_ncols(r);
    const char **names = malloc(n * sizeof(*names));
    if (!names) {
        csv_close(r);
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        names[i] = csv_col_name(r, i);
    int t = trace_guess_time_col(names, n);
    if (t >= 0)
        snprintf(g->time_col, sizeof(g->time_col), "%s", names[t]);
    static const struct {
        const char *name;
        bool counts;
    } rates[] = {{"total_rate_req_per_s", false},
                 {"rate_req_per_s", false},
                 {"rate_per_s", false},
                 {"requests", true}};
    for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]) && !g->rate_col[0]; k++) {
        if (csv_col_index(r, rates[k].name) >= 0) {
            snprintf(g->rate_col, sizeof(g->rate_col), "%s", rates[k].name);
            g->rate_counts = rates[k].counts;
        }
    }
    if (csv_col_index(r, "cv") >= 0)
        snprintf(g->cv_col, sizeof(g->cv_col), "cv");
    if (csv_col_index(r, "client_id") >= 0)
        snprintf(g->client_col, sizeof(g->client_col), "client_id");
    if (t < 0) {
        char cols[320];
        csv_list_cols(r, cols, sizeof(cols));
        rc = gp_error_set(err, GP_EMISSING, path, 0, 0, "--time-col",
                          "cannot tell which column holds the time; give --time-col "
                          "(the columns are: %s)",
                          cols);
    }
    free(names);
    csv_close(r);
    return rc;
}

/* "seconds (guessed: ...)", "milliseconds (from the column's name)", ...: says how the unit
 * was settled, and calls it a guess only when it was one. */
static void unit_text(const arrival_src *s, char *buf, size_t cap)
{
    trace_unit_source how;
    trace_time_unit u = arrival_src_time_unit(s, &how);
    const char *name =
        u == TRACE_TIME_ISO ? "ISO date-time (UTC unless an offset is given)" : trace_unit_name(u);
    switch (how) {
    case TRACE_UNIT_GIVEN: snprintf(buf, cap, "%s, as given", name); break;
    case TRACE_UNIT_FROM_NAME: snprintf(buf, cap, "%s, from the column's name", name); break;
    case TRACE_UNIT_ISO: snprintf(buf, cap, "%s, as its values read", name); break;
    case TRACE_UNIT_GUESSED:
        snprintf(buf, cap, "%s: guessed, no --time-unit and no unit in the column's name", name);
        break;
    default: snprintf(buf, cap, "%s", name); break;
    }
}

static void print_stats(FILE *out, const trace_stats *st, bool expected)
{
    double span_s = (double)st->span_us / 1e6;
    fprintf(out, "span: %.3f s (%.2f h, %.3f days)\n", span_s, span_s / 3600, span_s / 86400);
    fprintf(out, "requests: %llu%s\n", (unsigned long long)st->count,
            expected ? " (expected)" : "");
    if (st->count == 0)
        return;
    fprintf(out, "mean rate: %.6g req/s (%.6g req/min)%s\n", st->mean_rate_per_s,
            st->mean_rate_per_s * 60, expected ? " over the span" : ", first to last arrival");
    if (st->input_window_us > 0)
        fprintf(out,
                "peak rate over 1 min: %.6g req/s (%.6g req/min), expected from the "
                "file's %g-s windows\n",
                st->peak_rate_per_s, st->peak_rate_per_s * 60, (double)st->input_window_us / 1e6);
    else
        fprintf(out, "peak rate over 1 min: %.6g req/s (%.6g req/min; the busiest clock minute)\n",
                st->peak_rate_per_s, st->peak_rate_per_s * 60);
    fprintf(out, "CV of per-minute counts: %.4g\n", st->cv_per_minute);
    if (!isnan(st->cv_interarrival))
        fprintf(out, "CV of inter-arrival times: %.4g\n", st->cv_interarrival);
    fprintf(out, "images: mean %.3g MP, mean %.3g faces, %.1f%% with no face\n", st->mean_mp,
            st->mean_faces, 100 * st->no_face_frac);
    fprintf(out, "hour-of-day profile (requests per clock hour: mean over the whole hours, and "
                 "how many; partial hours apart, not scaled):\n");
    double top = 0;
    for (int h = 0; h < 24; h++) {
        if (st->hour_full_days[h] >= 1)
            top = fmax(top, st->hour_full_counts[h] / st->hour_full_days[h]);
        top = fmax(top, st->partial_counts[h]);
    }
    for (int h = 0; h < 24; h++) {
        double v = st->hour_full_days[h] >= 1 ? st->hour_full_counts[h] / st->hour_full_days[h] : 0;
        bool whole = st->hour_full_days[h] >= 1, part = st->partial_s[h] > 0;
        double shown = whole ? v : st->partial_counts[h];
        int bar = top > 0 ? (int)lround(40 * shown / top) : 0;
        if (whole)
            fprintf(out, "  %02d  %12.1f  %4.0f h  ", h, v, st->hour_full_days[h]);
        else if (part)
            fprintf(out, "  %02d  %12.0f  partial  ", h, st->partial_counts[h]);
        else
            fprintf(out, "  %02d  %12s  %4d h  ", h, "-", 0);
        for (int k = 0; k < bar; k++)
            fputc('#', out);
        if (part)
            fprintf(out, "%s%.0f request%s in a partial hour of %.0f s (not scaled)",
                    bar ? "  " : "", st->partial_counts[h], st->partial_counts[h] == 1 ? "" : "s",
                    st->partial_s[h]);
        fputc('\n', out);
    }
}

static void print_origin(FILE *out, const arrival_src *s, trace_time_unit unit)
{
    int64_t o = arrival_src_origin_us(s);
    if (arrival_src_origin_is_date(s)) {
        char buf[40];
        textparse_format_iso(o, buf, sizeof(buf));
        fprintf(out, "t = 0: %s (hours below are this clock's)\n", buf);
    } else {
        static const char *const abbrev[] = {"s", "s", "s", "ms", "us", "ns"};
        fprintf(out, "t = 0: %.6g %s on the file's axis (hours below: t mod 1 day)\n",
                (double)o / trace_unit_us(unit), abbrev[unit]);
    }
}

static int64_t day_offset(const arrival_src *s)
{
    return ((arrival_src_origin_us(s) % US_PER_DAY) + US_PER_DAY) % US_PER_DAY;
}

static int run_envelope(const stats_args *a, const header_guess *g, FILE *out, trace_stats *st,
                        gp_error *err)
{
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = a->file;
    o.time_col = a->time_col ? a->time_col : g->time_col;
    o.time_unit = a->unit;
    bool guessed = !a->rate_col;
    o.rate_col = a->rate_col ? a->rate_col : g->rate_col;
    o.rate_per_window = a->rate_per_window || (guessed && g->rate_counts);
    o.cv_col = a->cv_col ? a->cv_col : guessed && g->cv_col[0] ? g->cv_col : NULL;
    o.client_col = a->client_col                                   ? a->client_col
                   : guessed && g->client_col[0] && !a->filter_col ? g->client_col
                                                                   : NULL;
    o.filter_col = a->filter_col;
    o.filter_value = a->filter_value;
    o.gap_col = a->gap_col;
    o.window_us = trace_us_from_s(a->window_s);
    if (a->start && (textparse_nonneg(a->start, &(double){0}, &(const char *){NULL}) < 0))
        return bad_value("--start", a->start, "seconds from the first window", err);
    if (a->end && (textparse_nonneg(a->end, &(double){0}, &(const char *){NULL}) < 0))
        return bad_value("--end", a->end, "seconds from the first window", err);
    o.start_us = a->start ? trace_us_from_s(atof(a->start)) : 0;
    o.end_us = a->end ? trace_us_from_s(atof(a->end)) : 0;
    o.time_scale = a->time_scale;
    o.rate_scale = a->rate_scale;
    o.seed = a->seed;
    o.warn = out;
    if (!o.rate_col || !o.rate_col[0])
        return gp_error_set(err, GP_EMISSING, a->file, 0, 0, "--rate-col",
                            "an envelope needs --rate-col (no known rate column in the header)");
    arrival_src *s;
    int rc = trace_open_envelope(&o, &s, err);
    if (rc < 0)
        return rc;
    trace_time_unit unit = arrival_src_time_unit(s, NULL);
    char ut[160];
    unit_text(s, ut, sizeof(ut));
    fprintf(out, "trace: %s\n", a->file);
    fprintf(out,
            "kind: rate envelope%s: time column '%s' (unit: %s), rate column '%s' (%s)%s%s%s%s\n",
            guessed ? " (guessed from the header)" : "", o.time_col, ut, o.rate_col,
            o.rate_per_window ? "requests per window" : "req/s", o.cv_col ? ", cv column '" : "",
            o.cv_col ? o.cv_col : "", o.cv_col ? "'" : "",
            a->replay ? "; arrivals drawn" : "; expected figures (--replay draws arrivals)");
    print_origin(out, s, unit);
    int64_t off = day_offset(s);
    if (a->replay) {
        rc = trace_compute_stats(s, off, st, err);
        arrival_src_free(s);
    } else {
        arrival_src_free(s);
        o.warn = NULL; /* already said once */
        rc = trace_envelope_expected_stats(&o, off, st, err);
    }
    if (rc < 0)
        return rc;
    print_stats(out, st, !a->replay);
    return 0;
}

static int run_recorded(const stats_args *a, const header_guess *g, FILE *out, trace_stats *st,
                        gp_error *err)
{
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = a->file;
    o.time_col = a->time_col ? a->time_col : g->time_col;
    o.time_unit = a->unit;
    o.mp_col = a->mp_col;
    o.faces_col = a->faces_col;
    o.start = a->start;
    o.end = a->end;
    o.time_scale = a->time_scale;
    o.rate_scale = a->rate_scale;
    o.seed = a->seed;
    o.warn = out;
    arrival_src *s;
    int rc = trace_open_csv(&o, &s, err);
    if (rc < 0)
        return rc;
    fprintf(out, "trace: %s\n", a->file);
    trace_time_unit unit = arrival_src_time_unit(s, NULL);
    char ut[160];
    unit_text(s, ut, sizeof(ut));
    fprintf(out, "kind: per-request trace: time column '%s'%s; unit: %s\n", o.time_col,
            a->time_col ? "" : " (guessed from the header)", ut);
    print_origin(out, s, unit);
    rc = trace_compute_stats(s, day_offset(s), st, err);
    arrival_src_free(s);
    if (rc < 0)
        return rc;
    print_stats(out, st, false);
    return 0;
}

static int cmd_stats(int argc, char **argv, FILE *out, gp_error *err)
{
    stats_args a;
    int rc = parse_args(argc, argv, &a, err);
    if (rc < 0)
        return rc;
    header_guess g;
    gp_error guess_err;
    gp_error_clear(&guess_err);
    rc = guess_from_header(a.file, &g, &guess_err);
    /* A file that cannot be read is reported as is; a header without a time-like
     * column only matters when --time-col is missing. */
    if (rc < 0 && (strcmp(guess_err.field, "--time-col") != 0 || !a.time_col)) {
        *err = guess_err;
        return rc;
    }
    /* A known rate column makes it an envelope unless per-request options say otherwise. */
    bool envelope =
        a.envelope || a.rate_col || a.cv_col || (!a.mp_col && !a.faces_col && g.rate_col[0]);
    trace_stats st;
    rc = envelope ? run_envelope(&a, &g, out, &st, err) : run_recorded(&a, &g, out, &st, err);
    if (rc < 0)
        return rc;
    if (a.plot) {
        const char *base = strrchr(a.file, '/');
        char title[300];
        snprintf(title, sizeof(title), "%s: requests per clock hour", base ? base + 1 : a.file);
        if ((rc = trace_plot_profile(&st, title, a.plot, err)) < 0)
            return rc;
        fprintf(out, "plot: %s\n", a.plot);
    }
    return 0;
}

int cmd_trace(int argc, char **argv, FILE *out, gp_error *err)
{
    if (argc < 1 || strcmp(argv[0], "help") == 0 || strcmp(argv[0], "--help") == 0 ||
        strcmp(argv[0], "-h") == 0) {
        fputs(usage, out);
        return 0;
    }
    if (strcmp(argv[0], "stats") == 0) {
        for (int i = 1; i < argc; i++) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                fputs(usage, out);
                return 0;
            }
        }
        return cmd_stats(argc, argv, out, err);
    }
    return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, NULL,
                        "unknown trace command '%s' (known: stats; see gpenlab trace help)",
                        argv[0]);
}
