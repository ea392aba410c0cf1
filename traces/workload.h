/* workload.h: the `workload:` map of an experiment file as a checked struct, and how to
 * open it as an arrival_src for one seed (every replication opens its own source).
 * workload_parse checks keys and ranges (errors name file:line:col and the key path, via
 * cfg) and resolves a relative `path` against the base directory the caller gives (the
 * experiment file's directory). A workload_spec copies every string it needs, so it
 * outlives the YAML document; it holds no heap memory (workload_free only clears it). */
#ifndef GP_WORKLOAD_H
#define GP_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"
#include "base/error.h"
#include "traces/trace.h"

typedef enum {
    WORKLOAD_TRACE = 0, /* a recorded per-request trace (CSV / gzip CSV) */
    WORKLOAD_ENVELOPE,  /* a rate per window (+ optional CV) turned into arrivals */
    WORKLOAD_TIDAL,     /* generated tidal days */
    WORKLOAD_POISSON    /* constant-rate Poisson */
} workload_type;

#define WORKLOAD_PATH_MAX 1024
#define WORKLOAD_NAME_MAX 128

/*   workload:                          # type: trace
 *     type: trace
 *     path: ../traces/data/alibaba_gentd26_sd_requests.csv.gz
 *     time_column: gmt_create          # time_unit: auto|iso|s|ms|us (default auto)
 *     start: "2025-02-17 00:00:00"     # ISO, or a number in the column's unit
 *     end: "2025-02-22 00:00:00"
 *     time_scale: 1                    # 2 = twice as fast
 *     rate_scale: 10                   # keyed copies within +-copy_spread (30s)
 *     mp_column: ..., faces_column: ...
 *   workload:                          # type: envelope
 *     type: envelope
 *     path: ../traces/data/servegen_m-small_clients_10min.csv.gz
 *     time_column: window_start_s
 *     rate_column: rate_req_per_s      # rate_per_window: true when it counts requests
 *     cv_column: cv                    # optional: gamma renewal per client
 *     client_column: client_id         # filter_column/filter_value: one client only
 *     window: 10m, start: 1h, end: 2d  # durations from the first window
 *   workload: {type: tidal, days: 7, trough_rate_per_s: 2, peak_rate_per_s: 20,
 *              peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20}], weekly: true,
 *              weekend_factor: 0.6, start_weekday: 0}
 *   workload: {type: poisson, rate_per_s: 5, duration: 1h}
 * Generated types (tidal, poisson) take `rate_scale` too: their rates times it.
 * Every type takes `image_mix:` (see image_mix_from_cfg); default image_mix_default. */
typedef struct workload_spec {
    workload_type type;
    /* trace and envelope */
    char path[WORKLOAD_PATH_MAX]; /* resolved against the base directory */
    char time_col[WORKLOAD_NAME_MAX];
    trace_time_unit time_unit;
    double time_scale, rate_scale;
    /* trace */
    char mp_col[WORKLOAD_NAME_MAX]; /* "" = draw from the mix */
    char faces_col[WORKLOAD_NAME_MAX];
    char start[64], end[64]; /* "" = from the first row / to the last */
    int64_t copy_spread_us;  /* 0 = 30 s */
    /* envelope */
    char rate_col[WORKLOAD_NAME_MAX];
    bool rate_per_window;
    char cv_col[WORKLOAD_NAME_MAX];
    char filter_col[WORKLOAD_NAME_MAX], filter_value[WORKLOAD_NAME_MAX];
    char client_col[WORKLOAD_NAME_MAX], gap_col[WORKLOAD_NAME_MAX];
    int64_t window_us, start_us, end_us;
    /* tidal (its mix and seed are ignored: `mix` and the run seed apply) */
    tidal_opts tidal;
    /* poisson */
    double rate_per_s;
    int64_t duration_us;
    /* all */
    image_mix mix;
    FILE *warn; /* warnings when opening (NULL: none) */
} workload_spec;

/* Defaults of every key (type poisson with rate 0 until parsed). */
void workload_spec_default(workload_spec *w);
/* Parses the `workload:` map. base_dir may be NULL or "" (paths used as given). */
int workload_parse(const cfg_node *map, const char *base_dir, workload_spec *out, gp_error *err);
/* Opens the workload for `seed` (arrivals, image draws and rate scaling keyed on it). */
int workload_open(const workload_spec *w, uint64_t seed, arrival_src **out, gp_error *err);
void workload_free(workload_spec *w);
const char *workload_type_name(workload_type t);
/* The directory part of a file path ("." when it has none), for workload_parse. */
void workload_base_dir(const char *file_path, char *buf, size_t len);

#endif
