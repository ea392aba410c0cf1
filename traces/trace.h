/* trace.h: where requests come from, as a stream of (arrival time, megapixels, faces).
 * An arrival_src yields requests in non-decreasing arrival time. Sources:
 *   - a recorded CSV or gzip-CSV trace, one row per request (loaded, sorted, scaled);
 *   - a rate envelope (rate per window, optional CV), turned into arrivals;
 *   - a generated tidal day (non-homogeneous Poisson, two peaks, optional weekly pattern);
 *   - a constant-rate Poisson process (for queueing-theory checks).
 * Generated and envelope sources stream: their memory does not grow with the number of
 * requests. Image size and faces missing from a trace are drawn from an image_mix with
 * keyed draws (rng.h) on the request's index, so they are the same for every policy.
 * Times are int64 microseconds from the start of the replay (t = 0 is the first window
 * or the trace's `start` time). The caller owns a source and frees it. */
#ifndef GP_TRACE_H
#define GP_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"
#include "base/error.h"

typedef struct request_spec {
    int64_t arrival_us;
    float mp;      /* megapixels of the input image, > 0 */
    int32_t faces; /* faces to restore, >= 0 */
} request_spec;

/* A mix of image classes, e.g. phone selfies around 2 MP and old-photo scans up to 24 MP. */
#define IMAGE_MIX_MAX_CLASSES 8
#define IMAGE_MIX_MAX_FACES   16
typedef struct image_class {
    char name[32];
    double weight;         /* relative share of requests */
    double mp_min, mp_max; /* megapixels uniform in [mp_min, mp_max] */
    /* P(faces = k), k = 0..IMAGE_MIX_MAX_FACES, normalised on use */
    double faces_p[IMAGE_MIX_MAX_FACES + 1];
} image_class;
typedef struct image_mix {
    int n_classes;
    image_class cls[IMAGE_MIX_MAX_CLASSES];
} image_mix;

/* The default mix: 70% phone photos 1.5-2.5 MP, 30% scans 4-24 MP; ~10% with no face. */
void image_mix_default(image_mix *mix);
/* Parses a mix from YAML (a sequence of {name, weight, mp: [min, max], faces: {k: p}}). */
int image_mix_from_cfg(const cfg_node *seq, image_mix *mix, gp_error *err);
/* Draws (mp, faces) for request `index` with keyed draws on `seed`. */
void image_mix_draw(const image_mix *mix, uint64_t seed, uint64_t index, float *mp, int32_t *faces);

typedef enum {
    TRACE_TIME_AUTO,
    TRACE_TIME_ISO,
    TRACE_TIME_S,
    TRACE_TIME_MS,
    TRACE_TIME_US,
    TRACE_TIME_NS
} trace_time_unit;

/* How a source's time unit was settled, so that only a guess is called one. */
typedef enum {
    TRACE_UNIT_NONE = 0,  /* generated: no time column */
    TRACE_UNIT_GIVEN,     /* time_unit / --time-unit */
    TRACE_UNIT_FROM_NAME, /* the column's name ends in _s, _ms, _us or _ns */
    TRACE_UNIT_ISO,       /* AUTO, and the first value parsed as a date-time */
    TRACE_UNIT_GUESSED    /* AUTO, numbers, nothing in the name: read as seconds */
} trace_unit_source;

/* Traces read with a guessed unit that span more than this warn (naming the option): a
 * millisecond column read as seconds gives 1000 times the span, not an error. */
#define TRACE_GUESSED_SPAN_WARN_US (7LL * 86400 * 1000000)

/* Reading a per-request CSV (plain or gzip, detected by magic bytes). */
typedef struct trace_csv_opts {
    const char *path;
    const char *time_col;      /* header name of the arrival time column (required) */
    trace_time_unit time_unit; /* AUTO: from the column's name (_s, _ms, _us, _ns), else
                                  ISO if it parses as a date-time, else seconds (guessed) */
    const char *mp_col;        /* optional; NULL: draw from mix */
    const char *faces_col;     /* optional; NULL: draw from mix */
    const char *start;         /* optional ISO date-time: drop rows before it, t = 0 there */
    const char *end;           /* optional ISO date-time: drop rows at or after it */
                               /* (start/end may also be a number in the time column's unit;
                              * ISO columns: seconds since 1970-01-01 UTC) */
    double time_scale;         /* > 0; 2 plays the trace twice as fast (compresses time) */
    double rate_scale;         /* > 0; 3 triples the request rate (copies spread in time) */
                               /* Method: row i gets floor(r) + Bernoulli(r - floor(r))
                              * copies (keyed draws of RNG_TRACE_SCALE on (seed, i)), so
                              * r < 1 thins; copy 0 keeps the row's time, copy j >= 1 is
                              * shifted by a keyed uniform offset in +-copy_spread_us
                              * (trace time, reflected into the replay window); then all
                              * are re-sorted. Image size and faces of a copy: the row's,
                              * or drawn from the mix for the copy's own request index. */
    image_mix mix;             /* n_classes 0: the default mix */
    uint64_t seed;
    FILE *warn;             /* warnings (e.g. "sorted 12 out-of-order rows"), may be NULL */
    int64_t copy_spread_us; /* half-width of the copies' offsets; 0: 30 s */
    uint64_t max_rows;      /* refuse a larger trace (it is loaded whole); 0: TRACE_MAX_ROWS */
} trace_csv_opts;

/* Recorded traces and envelopes are loaded whole, then sorted: above these many rows
 * they are refused with their size (a recorded row costs 40 bytes while loading, an
 * envelope row 72), rather than run the machine out of memory. */
#define TRACE_MAX_ROWS    50000000u
#define ENVELOPE_MAX_ROWS 20000000u
/* The longest replay, in simulated microseconds (a century, as for generated workloads):
 * a trace span divided by a small time_scale must not run past the int64 clock. */
#define TRACE_MAX_SPAN_US (100LL * 365 * 86400 * 1000000)

/* A rate envelope: rows of window start, rate (req/s) and optionally a CV of
 * inter-arrival times; arrivals are a non-homogeneous Poisson process per window, or a
 * gamma renewal process with that CV when cv_col is given. */
typedef struct trace_envelope_opts {
    const char *path;
    const char *time_col; /* window start (seconds, or ISO) */
    trace_time_unit time_unit;
    const char *rate_col;     /* req/s, or per window if rate_per_window */
    bool rate_per_window;     /* the rate column counts requests in the window */
    const char *cv_col;       /* optional */
    const char *filter_col;   /* optional: keep rows whose filter_col equals filter_value, */
    const char *filter_value; /*   or sum all rows of a window when filter_col is NULL */
    int64_t window_us;        /* 0: inferred from consecutive window starts */
    int64_t start_us, end_us; /* replay only [start, end) of the envelope; end 0: all */
                              /* (offsets from the first window's start, envelope time) */
    double time_scale, rate_scale;
    image_mix mix; /* n_classes 0: the default mix */
    uint64_t seed;
    FILE *warn;
    /* With cv_col and several rows per window (one per client), each client is its own
     * renewal process and the arrivals are their superposition. client_col names the
     * client; NULL: the k-th row of a window is client k. Without cv_col the rows of a
     * window are summed into one Poisson process. */
    const char *client_col;
    /* Rows whose gap_col is 0 are data gaps: rate 0 there, and one warning with their
     * count. NULL: "active_clients" if the file has that column (ServeGen). */
    const char *gap_col;
    uint64_t max_rows; /* refuse a larger envelope; 0: ENVELOPE_MAX_ROWS */
} trace_envelope_opts;

/* A generated tidal day (or week): rate(t) = base + peaks (Gaussian bumps), with
 * weekend scaling. */
#define TIDAL_MAX_PEAKS 6
typedef struct tidal_opts {
    double trough_rate_per_s; /* rate at the quietest time */
    double peak_rate_per_s;   /* rate at the highest peak */
    int n_peaks;
    double peak_hour[TIDAL_MAX_PEAKS];    /* default 10.0 and 20.0 */
    double peak_width_h[TIDAL_MAX_PEAKS]; /* standard deviation, hours (default 2.0) */
    double peak_rel[TIDAL_MAX_PEAKS];     /* relative height, the largest is 1 */
    int days;                             /* >= 1 */
    bool weekly;                          /* day 5 and 6 of each week scaled by weekend_factor */
    double weekend_factor;
    int start_weekday; /* 0 = Monday */
    image_mix mix;
    uint64_t seed;
} tidal_opts;

void tidal_opts_default(tidal_opts *o);
/* rate at time t (seconds from midnight of day 0), req/s */
double tidal_rate_per_s(const tidal_opts *o, double t_s);

typedef struct arrival_src arrival_src;

int trace_open_csv(const trace_csv_opts *o, arrival_src **out, gp_error *err);
int trace_open_envelope(const trace_envelope_opts *o, arrival_src **out, gp_error *err);
int trace_open_tidal(const tidal_opts *o, arrival_src **out, gp_error *err);
/* Constant-rate Poisson arrivals for `duration_us`; mp and faces from the mix. */
int trace_open_poisson(double rate_per_s, int64_t duration_us, const image_mix *mix, uint64_t seed,
                       arrival_src **out, gp_error *err);
/* A fixed list (tests): copies `n` specs, which must be sorted. */
int trace_open_list(const request_spec *specs, size_t n, arrival_src **out, gp_error *err);

/* 1: *out holds the next request; 0: the source is exhausted; < 0: error. */
int arrival_src_next(arrival_src *s, request_spec *out, gp_error *err);
/* Span of the source in microseconds if known in advance (recorded, envelope,
 * generated), else -1. */
int64_t arrival_src_span_us(const arrival_src *s);
/* How many arrivals the source will give, as far as it knows before giving them (a
 * recorded trace: its rows times the rate scale; generators and envelopes: the integral of
 * their rate), for checking memory before a run; 0 when unknown. */
double arrival_src_expected_count(const arrival_src *s);
void arrival_src_free(arrival_src *s);

/* Summary statistics of any source (consumes it). hour_counts[h] = requests whose
 * arrival falls in hour-of-day h (t = 0 taken as 00:00 unless the trace gives dates). */
typedef struct trace_stats {
    uint64_t count;
    int64_t first_us, last_us;
    double mean_rate_per_s;
    double peak_rate_per_s; /* highest rate over one clock minute (60-s bins) */
    double cv_per_minute;   /* CV of per-minute counts */
    double cv_interarrival;
    double hour_counts[24];
    double hour_days[24]; /* how many days contributed to each hour (a partial
                                        hour counts its fraction) */
    /* The same split into whole clock hours and the (at most two) partial ones at the
     * span's ends, so a profile need not scale a partial hour up: hour_full_counts[h] /
     * hour_full_days[h] is the mean over whole hours; partial_counts / partial_s are what
     * the partial hours hold, unscaled. */
    double hour_full_counts[24], hour_full_days[24];
    double partial_counts[24], partial_s[24];
    int64_t input_window_us; /* an envelope's window (its rates are per window);
                                        0 for a per-request trace */
    double mean_mp, mean_faces, no_face_frac;
    int64_t span_us; /* span the hour_days were counted over */
} trace_stats;
int trace_compute_stats(arrival_src *s, int64_t day_offset_us, trace_stats *st, gp_error *err);

/* Draws the hour-of-day profile (hour_counts / hour_days) as a PNG with gnuplot: a data
 * file and a script go to a fresh temporary directory, removed afterwards. Missing
 * gnuplot is GP_EMISSING; gnuplot failing is GP_EIO with its first error line. */
int trace_plot_profile(const trace_stats *st, const char *title, const char *png_path,
                       gp_error *err);

/* ---- additions of the traces/ module ---- */

/* Checks weights, megapixel ranges and face shares; n_classes 0 is valid (default). */
int image_mix_validate(const image_mix *mix, gp_error *err);
/* time_unit AUTO, time_scale = rate_scale = 1, the default mix, seed 1, the rest 0. */
void trace_csv_opts_default(trace_csv_opts *o);
void trace_envelope_opts_default(trace_envelope_opts *o);

/* Absolute time of t = 0 on the input's own axis: microseconds since 1970-01-01 UTC when
 * the input has dates (arrival_src_origin_is_date), else the time column's zero
 * (ServeGen window_start_s = 0 is local midnight). Generated sources: 0 = midnight of
 * day 0. Use origin mod 1 day as trace_compute_stats' day_offset_us. */
int64_t arrival_src_origin_us(const arrival_src *s);
bool arrival_src_origin_is_date(const arrival_src *s);
/* The unit the source's time column was read in, and how it was settled (NONE for a
 * generated source). */
trace_time_unit arrival_src_time_unit(const arrival_src *s, trace_unit_source *how);
/* Microseconds per unit of a numeric time column (ISO and AUTO: seconds). */
double trace_unit_us(trace_time_unit u);
/* "seconds", "milliseconds", ..., "ISO date-time" */
const char *trace_unit_name(trace_time_unit u);
/* "list", "recorded", "envelope", "tidal" or "poisson". */
const char *arrival_src_kind(const arrival_src *s);

/* A tidal rate curve prepared once: the bumps are wrapped Gaussians (periodic over a
 * day) and the shape is normalised so that its minimum over the day is exactly
 * trough_rate_per_s and its maximum peak_rate_per_s (before the weekend factor). With no
 * peaks the rate is peak_rate_per_s throughout. tidal_rate_per_s prepares one per call. */
typedef struct tidal_curve {
    double trough_rate_per_s, peak_rate_per_s;
    int n_peaks;
    double peak_hour[TIDAL_MAX_PEAKS], peak_width_h[TIDAL_MAX_PEAKS], peak_rel[TIDAL_MAX_PEAKS];
    double shape_min, shape_max; /* of the raw sum of bumps over a day */
    bool weekly;
    double weekend_factor;
    int start_weekday;
} tidal_curve;
int tidal_curve_init(const tidal_opts *o, tidal_curve *c, gp_error *err);
/* Raw sum of bumps at hour-of-day h in [0, 24). */
double tidal_curve_shape(const tidal_curve *c, double h);
double tidal_curve_rate_per_s(const tidal_curve *c, double t_s);

/* Statistics an envelope implies, without drawing arrivals (a 14-day ServeGen file holds
 * over a billion requests): count = expected requests (rounded), peak_rate_per_s = the
 * highest window rate, cv_per_minute = CV of expected per-minute counts,
 * cv_interarrival = NAN, hour_counts expected; image figures are the mix's means. */
int trace_envelope_expected_stats(const trace_envelope_opts *o, int64_t day_offset_us,
                                  trace_stats *st, gp_error *err);

#endif
