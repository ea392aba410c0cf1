/* workload.c: `workload:` YAML -> workload_spec -> arrival_src (see workload.h).
 * Checks happen at parse time where the YAML node is known, so errors point at the
 * user's line; workload_open repeats none of them except what needs the data file. */
#include "traces/workload.h"

#include "base/fileio.h"

#include <string.h>

#include "traces/trace_internal.h"

#define MAX_DURATION_US (100LL * 365 * 86400 * 1000000) /* a century */

static const char *const type_names[] = {"trace", "envelope", "tidal", "poisson", NULL};
static const char *const unit_names[] = {"auto", "iso", "s", "ms", "us", "ns", NULL};

const char *workload_type_name(workload_type t)
{
    return t >= WORKLOAD_TRACE && t <= WORKLOAD_POISSON ? type_names[t] : "?";
}

void workload_spec_default(workload_spec *w)
{
    memset(w, 0, sizeof(*w));
    w->type = WORKLOAD_POISSON;
    w->time_unit = TRACE_TIME_AUTO;
    w->time_scale = 1.0;
    w->rate_scale = 1.0;
    tidal_opts_default(&w->tidal);
    image_mix_default(&w->mix);
}

void workload_free(workload_spec *w)
{
    if (w)
        workload_spec_default(w);
}

void workload_base_dir(const char *file_path, char *buf, size_t len)
{
    const char *slash = strrchr(file_path, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == file_path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - file_path), file_path);
}

/* Copies an optional string key into buf (untouched when absent). */
static int opt_copy(const cfg_node *map, const char *key, char *buf, size_t len, gp_error *err)
{
    const char *s = NULL;
    int rc = cfg_opt_string(map, key, &s, err);
    if (rc <= 0)
        return rc;
    if (strlen(s) >= len)
        return cfg_error(cfg_map_get(map, key), err, GP_ERANGE, "longer than %zu characters",
                         len - 1);
    memcpy(buf, s, strlen(s) + 1);
    return 1;
}

static int req_copy(const cfg_node *map, const char *key, char *buf, size_t len, gp_error *err)
{
    int rc = opt_copy(map, key, buf, len, err);
    if (rc == 0)
        return cfg_req_string(map, key, &(const char *){NULL}, err);
    return rc;
}

static int parse_path(const cfg_node *map, const char *base_dir, workload_spec *w, gp_error *err)
{
    char rel[WORKLOAD_PATH_MAX];
    int rc = req_copy(map, "path", rel, sizeof(rel), err);
    if (rc < 0)
        return rc;
    const cfg_node *n = cfg_map_get(map, "path");
    if (!rel[0])
        return cfg_error(n, err, GP_ERANGE, "empty path");
    /* a path set on the command line or by a sweep is relative to where it was written */
    const char *dir = cfg_node_base_dir(n) ? cfg_node_base_dir(n) : base_dir;
    if (gp_path_join(dir, rel, w->path, sizeof(w->path)) < 0)
        return cfg_error(n, err, GP_ERANGE, "path longer than %zu characters once resolved",
                         sizeof(w->path) - 1);
    return 0;
}

static int parse_common_file(const cfg_node *map, const char *base_dir, workload_spec *w,
                             gp_error *err)
{
    int rc, unit = TRACE_TIME_AUTO;
    if ((rc = parse_path(map, base_dir, w, err)) < 0 ||
        (rc = req_copy(map, "time_column", w->time_col, sizeof(w->time_col), err)) < 0 ||
        (rc = cfg_opt_enum(map, "time_unit", unit_names, &unit, err)) < 0 ||
        (rc = cfg_opt_double(map, "time_scale", 1e-6, 1e6, &w->time_scale, err)) < 0 ||
        (rc = cfg_opt_double(map, "rate_scale", 1e-9, 1e9, &w->rate_scale, err)) < 0)
        return rc;
    w->time_unit = (trace_time_unit)unit;
    return 0;
}

/* `start`/`end` of a recorded trace: an ISO date-time or a number. */
static int parse_bound(const cfg_node *map, const char *key, char *buf, size_t len, gp_error *err)
{
    int rc = opt_copy(map, key, buf, len, err);
    if (rc <= 0)
        return rc;
    int64_t t;
    double v;
    const char *why;
    if (textparse_iso_us(buf, &t) < 0 && textparse_nonneg(buf, &v, &why) < 0)
        return cfg_error(
            cfg_map_get(map, key), err, GP_EPARSE,
            "expected a date-time like \"2025-02-05 00:00:00\" or a number, got \"%s\"", buf);
    return 0;
}

static int parse_trace(const cfg_node *map, const char *base_dir, workload_spec *w, gp_error *err)
{
    static const char *const keys[] = {"type",      "image_mix",  "path",         "time_column",
                                       "time_unit", "mp_column",  "faces_column", "start",
                                       "end",       "time_scale", "rate_scale",   "copy_spread",
                                       NULL};
    int rc;
    if ((rc = cfg_check_keys(map, keys, err)) < 0 ||
        (rc = parse_common_file(map, base_dir, w, err)) < 0 ||
        (rc = opt_copy(map, "mp_column", w->mp_col, sizeof(w->mp_col), err)) < 0 ||
        (rc = opt_copy(map, "faces_column", w->faces_col, sizeof(w->faces_col), err)) < 0 ||
        (rc = parse_bound(map, "start", w->start, sizeof(w->start), err)) < 0 ||
        (rc = parse_bound(map, "end", w->end, sizeof(w->end), err)) < 0 ||
        (rc = cfg_opt_duration_us(map, "copy_spread", 0, 86400LL * 1000000, &w->copy_spread_us,
                                  err)) < 0)
        return rc;
    if (w->rate_scale > 1000)
        return cfg_error(cfg_map_get(map, "rate_scale"), err, GP_ERANGE,
                         "at most 1000 for a recorded trace (got %g); for more, replay its "
                         "per-minute counts as an envelope",
                         w->rate_scale);
    return 0;
}

static int parse_envelope(const cfg_node *map, const char *base_dir, workload_spec *w,
                          gp_error *err)
{
    static const char *const keys[] = {
        "type",          "image_mix",       "path",      "time_column",   "time_unit",
        "rate_column",   "rate_per_window", "cv_column", "filter_column", "filter_value",
        "client_column", "gap_column",      "window",    "start",         "end",
        "time_scale",    "rate_scale",      NULL};
    int rc;
    if ((rc = cfg_check_keys(map, keys, err)) < 0 ||
        (rc = parse_common_file(map, base_dir, w, err)) < 0 ||
        (rc = req_copy(map, "rate_column", w->rate_col, sizeof(w->rate_col), err)) < 0 ||
        (rc = cfg_opt_bool(map, "rate_per_window", &w->rate_per_window, err)) < 0 ||
        (rc = opt_copy(map, "cv_column", w->cv_col, sizeof(w->cv_col), err)) < 0 ||
        (rc = opt_copy(map, "filter_column", w->filter_col, sizeof(w->filter_col), err)) < 0 ||
        (rc = opt_copy(map, "filter_value", w->filter_value, sizeof(w->filter_value), err)) < 0 ||
        (rc = opt_copy(map, "client_column", w->client_col, sizeof(w->client_col), err)) < 0 ||
        (rc = opt_copy(map, "gap_column", w->gap_col, sizeof(w->gap_col), err)) < 0 ||
        (rc = cfg_opt_duration_us(map, "window", 1, MAX_DURATION_US, &w->window_us, err)) < 0 ||
        (rc = cfg_opt_duration_us(map, "start", 0, MAX_DURATION_US, &w->start_us, err)) < 0 ||
        (rc = cfg_opt_duration_us(map, "end", 1, MAX_DURATION_US, &w->end_us, err)) < 0)
        return rc;
    if (w->filter_col[0] && !cfg_map_get(map, "filter_value"))
        return cfg_error(cfg_map_get(map, "filter_column"), err, GP_EMISSING,
                         "filter_column needs a filter_value");
    if (!w->filter_col[0] && cfg_map_get(map, "filter_value"))
        return cfg_error(cfg_map_get(map, "filter_value"), err, GP_EMISSING,
                         "filter_value needs a filter_column");
    if (w->end_us > 0 && w->end_us <= w->start_us)
        return cfg_error(cfg_map_get(map, "end"), err, GP_ERANGE, "end must be after start");
    return 0;
}

static int parse_peaks(const cfg_node *map, tidal_opts *t, gp_error *err)
{
    const cfg_node *seq = cfg_map_get(map, "peaks");
    if (!seq || cfg_node_is_null(seq))
        return 0;
    if (cfg_node_kind(seq) != CFG_SEQ)
        return cfg_error(seq, err, GP_EPARSE, "expected a sequence of {hour, width_h, rel}");
    if (cfg_len(seq) > TIDAL_MAX_PEAKS)
        return cfg_error(seq, err, GP_ERANGE, "at most %d peaks, got %zu", TIDAL_MAX_PEAKS,
                         cfg_len(seq));
    static const char *const keys[] = {"hour", "width_h", "rel", NULL};
    t->n_peaks = (int)cfg_len(seq);
    for (int k = 0; k < t->n_peaks; k++) {
        const cfg_node *p = cfg_seq_at(seq, (size_t)k);
        int rc;
        t->peak_width_h[k] = 2.0;
        t->peak_rel[k] = 1.0;
        if ((rc = cfg_check_keys(p, keys, err)) < 0 ||
            (rc = cfg_req_double(p, "hour", 0, 24, &t->peak_hour[k], err)) < 0 ||
            (rc = cfg_opt_double(p, "width_h", 0.25, 24, &t->peak_width_h[k], err)) < 0 ||
            (rc = cfg_opt_double(p, "rel", 1e-6, 1e6, &t->peak_rel[k], err)) < 0)
            return rc;
    }
    return 0;
}

static int parse_tidal(const cfg_node *map, workload_spec *w, gp_error *err)
{
    static const char *const keys[] = {
        "type",  "image_mix", "days",           "trough_rate_per_s", "peak_rate_per_s",
        "peaks", "weekly",    "weekend_factor", "start_weekday",     "rate_scale",
        NULL};
    tidal_opts *t = &w->tidal;
    int rc;
    if ((rc = cfg_check_keys(map, keys, err)) < 0 ||
        (rc = cfg_opt_int(map, "days", 1, 36500, &t->days, err)) < 0 ||
        (rc = cfg_opt_double(map, "trough_rate_per_s", 0, 1e9, &t->trough_rate_per_s, err)) < 0 ||
        (rc = cfg_opt_double(map, "peak_rate_per_s", 1e-9, 1e9, &t->peak_rate_per_s, err)) < 0 ||
        (rc = parse_peaks(map, t, err)) < 0 ||
        (rc = cfg_opt_bool(map, "weekly", &t->weekly, err)) < 0 ||
        (rc = cfg_opt_double(map, "weekend_factor", 0, 1000, &t->weekend_factor, err)) < 0 ||
        (rc = cfg_opt_int(map, "start_weekday", 0, 6, &t->start_weekday, err)) < 0 ||
        (rc = cfg_opt_double(map, "rate_scale", 1e-9, 1e9, &w->rate_scale, err)) < 0)
        return rc;
    /* rate_scale: X times the requests, as for a trace (a what-if: --set
     * workload.rate_scale=2) */
    t->trough_rate_per_s *= w->rate_scale;
    t->peak_rate_per_s *= w->rate_scale;
    if (t->trough_rate_per_s > t->peak_rate_per_s) {
        const cfg_node *n = cfg_map_get(map, "trough_rate_per_s");
        return cfg_error(n ? n : map, err, GP_ERANGE,
                         "trough_rate_per_s (%g) is above peak_rate_per_s (%g)",
                         t->trough_rate_per_s, t->peak_rate_per_s);
    }
    tidal_curve c;
    gp_error e2;
    gp_error_clear(&e2);
    if ((rc = tidal_curve_init(t, &c, &e2)) < 0)
        return cfg_error(map, err, rc, "%s: %s", e2.field, e2.msg);
    return 0;
}

static int parse_poisson(const cfg_node *map, workload_spec *w, gp_error *err)
{
    static const char *const keys[] = {"type",     "image_mix",  "rate_per_s",
                                       "duration", "rate_scale", NULL};
    int rc;
    if ((rc = cfg_check_keys(map, keys, err)) < 0 ||
        (rc = cfg_req_double(map, "rate_per_s", 0, 1e9, &w->rate_per_s, err)) < 0 ||
        (rc = cfg_req_duration_us(map, "duration", 1, MAX_DURATION_US, &w->duration_us, err)) < 0 ||
        (rc = cfg_opt_double(map, "rate_scale", 1e-9, 1e9, &w->rate_scale, err)) < 0)
        return rc;
    w->rate_per_s *= w->rate_scale;
    return 0;
}

int workload_parse(const cfg_node *map, const char *base_dir, workload_spec *out, gp_error *err)
{
    workload_spec_default(out);
    if (!map || cfg_node_kind(map) != CFG_MAP)
        return cfg_error(map, err, GP_EPARSE, "expected a map with a `type` (%s, %s, %s or %s)",
                         type_names[0], type_names[1], type_names[2], type_names[3]);
    int type, rc;
    if ((rc = cfg_req_enum(map, "type", type_names, &type, err)) < 0)
        return rc;
    out->type = (workload_type)type;
    switch (out->type) {
    case WORKLOAD_TRACE: rc = parse_trace(map, base_dir, out, err); break;
    case WORKLOAD_ENVELOPE: rc = parse_envelope(map, base_dir, out, err); break;
    case WORKLOAD_TIDAL: rc = parse_tidal(map, out, err); break;
    case WORKLOAD_POISSON: rc = parse_poisson(map, out, err); break;
    }
    if (rc < 0)
        return rc;
    return image_mix_from_cfg(cfg_map_get(map, "image_mix"), &out->mix, err);
}

static const char *or_null(const char *s) { return s[0] ? s : NULL; }

int workload_open(const workload_spec *w, uint64_t seed, arrival_src **out, gp_error *err)
{
    *out = NULL;
    switch (w->type) {
    case WORKLOAD_TRACE: {
        trace_csv_opts o;
        trace_csv_opts_default(&o);
        o.path = w->path;
        o.time_col = w->time_col;
        o.time_unit = w->time_unit;
        o.mp_col = or_null(w->mp_col);
        o.faces_col = or_null(w->faces_col);
        o.start = or_null(w->start);
        o.end = or_null(w->end);
        o.time_scale = w->time_scale;
        o.rate_scale = w->rate_scale;
        o.copy_spread_us = w->copy_spread_us;
        o.mix = w->mix;
        o.seed = seed;
        o.warn = w->warn;
        return trace_open_csv(&o, out, err);
    }
    case WORKLOAD_ENVELOPE: {
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = w->path;
        o.time_col = w->time_col;
        o.time_unit = w->time_unit;
        o.rate_col = w->rate_col;
        o.rate_per_window = w->rate_per_window;
        o.cv_col = or_null(w->cv_col);
        o.filter_col = or_null(w->filter_col);
        o.filter_value = w->filter_col[0] ? w->filter_value : NULL;
        o.client_col = or_null(w->client_col);
        o.gap_col = or_null(w->gap_col);
        o.window_us = w->window_us;
        o.start_us = w->start_us;
        o.end_us = w->end_us;
        o.time_scale = w->time_scale;
        o.rate_scale = w->rate_scale;
        o.mix = w->mix;
        o.seed = seed;
        o.warn = w->warn;
        return trace_open_envelope(&o, out, err);
    }
    case WORKLOAD_TIDAL: {
        tidal_opts o = w->tidal;
        o.mix = w->mix;
        o.seed = seed;
        return trace_open_tidal(&o, out, err);
    }
    case WORKLOAD_POISSON:
        return trace_open_poisson(w->rate_per_s, w->duration_us, &w->mix, seed, out, err);
    }
    return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, "workload.type", "unknown type %d",
                        (int)w->type);
}
