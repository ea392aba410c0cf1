/* trace_internal.h: what the files of traces/ share and nobody else sees.
 * - arrival_src is a small base struct with a function table (like sqlite3_file):
 *   each kind of source appends its own fields after the base.
 * - mix_table is an image_mix prepared once (cumulative weights) so a draw costs a few
 *   keyed uniforms and no division; image_mix_draw builds one per call, sources keep one.
 * - time fields of CSV rows (the parsing itself: base/textparse.h).
 * Nothing here allocates except the source constructors. */
#ifndef GP_TRACE_INTERNAL_H
#define GP_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/textparse.h"
#include "traces/trace.h"

typedef struct arrival_src_ops {
    const char *kind; /* "list", "recorded", "envelope", "tidal", "poisson" */
    int (*next)(arrival_src *s, request_spec *out, gp_error *err);
    void (*free)(arrival_src *s);
} arrival_src_ops;

struct arrival_src {
    const arrival_src_ops *ops;
    int64_t span_us;       /* -1 if unknown */
    double expected_count; /* arrivals to expect over the span; 0 if unknown */
    int64_t origin_us;     /* absolute time of t = 0 on the input's axis (see trace.h) */
    bool origin_is_date;
    trace_time_unit time_unit; /* of the time column (AUTO: generated) */
    trace_unit_source unit_source;
};

/* A row of a recorded trace (or list) after loading: time on the replay axis. */
typedef struct trace_row {
    int64_t t_us;
    float mp;      /* <= 0: drawn from the mix at replay */
    int32_t faces; /* < 0: drawn from the mix at replay */
} trace_row;

typedef struct trace_rows_opts {
    bool is_list;
    int64_t span_us, origin_us;
    bool origin_is_date;
    trace_time_unit time_unit;
    trace_unit_source unit_source;
    double rate_scale; /* 1: rows as they are; else keyed copies (trace_src.c) */
    int64_t spread_us; /* copies within +-spread of their row, replay time */
    image_mix mix;
    uint64_t seed;
} trace_rows_opts;

/* Builds an in-memory source over `rows` (sorted by t_us, all within [0, span_us]);
 * takes ownership of rows, also on error. */
int trace_src_from_rows(trace_row *rows, size_t n, const trace_rows_opts *o, arrival_src **out,
                        gp_error *err);

/* An image_mix prepared for drawing. */
typedef struct mix_table {
    int n_classes;
    double class_cum[IMAGE_MIX_MAX_CLASSES]; /* cumulative shares, last = 1 */
    double mp_min[IMAGE_MIX_MAX_CLASSES];
    double mp_span[IMAGE_MIX_MAX_CLASSES];
    int faces_n[IMAGE_MIX_MAX_CLASSES]; /* highest k with P > 0, plus one */
    double faces_cum[IMAGE_MIX_MAX_CLASSES][IMAGE_MIX_MAX_FACES + 1];
} mix_table;

/* Prepares `mix` (n_classes 0 means the default mix). The mix must be valid
 * (image_mix_validate). */
void mix_table_init(mix_table *t, const image_mix *mix);
/* Keyed draw for request `index`: two keyed uniforms of RNG_IMAGE (k = 0: class and
 * megapixels within it, k = 1: faces). */
void mix_table_draw(const mix_table *t, uint64_t seed, uint64_t index, float *mp, int32_t *faces);

/* Expected megapixels, faces and share of no-face requests of a mix. */
void image_mix_means(const image_mix *mix, double *mean_mp, double *mean_faces,
                     double *no_face_frac);

/* A time field of the current CSV row on the input axis (ISO: us since the epoch;
 * numbers: value x unit). Errors name file, line and column. */
typedef struct csv_reader csv_reader;
int trace_time_field(const csv_reader *r, size_t col, trace_time_unit unit, int64_t *out_us,
                     gp_error *err);
/* The unit of time column `col_name`: `unit` when not AUTO (GIVEN); else from the name
 * (ends in _s, _ms, _us or _ns); else ISO if `first_value` parses as a date-time; else
 * seconds, GUESSED. *how says which. */
trace_time_unit trace_detect_unit(const char *col_name, const char *first_value,
                                  trace_time_unit unit, trace_unit_source *how);
/* A trace read with a GUESSED unit that spans more than TRACE_GUESSED_SPAN_WARN_US: one
 * warning line to warn (may be NULL) naming the column, the span and the option. */
void trace_warn_guessed_span(FILE *warn, const char *path, const char *col, trace_unit_source how,
                             int64_t span_us);

/* Adds to hour_days[h] how many times clock hour h occurs in [from_us, to_us) (a partial
 * hour counts its fraction), where the clock reads (t + day_offset_us) at replay time t. */
void trace_hour_days(int64_t day_offset_us, int64_t from_us, int64_t to_us, double hour_days[24]);

/* Splits st->hour_counts / hour_days into whole hours and the partial hours at the ends
 * of [from_us, to_us] (clock = t + day_offset_us): first_counts / last_counts are the
 * arrivals in the span's first and last clock hour (the same hour: pass it once, in
 * first_counts). Fills hour_full_*, partial_*. */
void trace_split_partial_hours(trace_stats *st, int64_t day_offset_us, int64_t from_us,
                               int64_t to_us, double first_counts, double last_counts);

/* Shared check for sources that take a time_scale / rate_scale. */
int trace_check_scale(const char *file, const char *field, double v, gp_error *err);

/* Checks that `span_us` of input time, divided by time_scale, fits TRACE_MAX_SPAN_US;
 * else a GP_ERANGE error naming the file and the time_scale field, with both spans. */
int trace_check_span(const char *file, int64_t span_us, double time_scale, gp_error *err);

/* Microseconds from seconds, rounded to nearest; saturates far beyond any trace. */
int64_t trace_us_from_s(double s);

#endif
