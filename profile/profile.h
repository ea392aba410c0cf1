/* profile.h: a GPU profile, the measured (or derived) costs of GPEN on one card, as the
 * simulator uses them. Pure C, no CUDA. The text format is documented in
 * gpu/profiles/FORMAT.md; profile_load parses it and names file:line:field on errors.
 * Service demand of a request on an otherwise idle GPU:
 *   D(mp, faces) = sum over image stages s(mp) + faces * sum over face stages s(mp)
 * each stage linearly interpolated over the megapixel grid (clamped-slope
 * extrapolation beyond its ends), times a jitter factor. eff(n) is the aggregate
 * speed-up of n concurrent requests (eff(1) = 1; beyond the table, the last value). */
#ifndef GP_PROFILE_H
#define GP_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

#define PROFILE_MAX_GRID       32
#define PROFILE_MAX_STAGES     16
#define PROFILE_MAX_EFF        64
#define PROFILE_MAX_PHASES     16
#define PROFILE_MAX_FILE_BYTES (8u << 20)
#define PROFILE_MAX_JITTER     4096

typedef enum { STAGE_PER_IMAGE, STAGE_PER_FACE } stage_scaling;

typedef struct profile_stage {
    char name[32];
    stage_scaling scaling;
    double ms[PROFILE_MAX_GRID];        /* latency at each mp grid point, milliseconds */
    double spread_ms[PROFILE_MAX_GRID]; /* std dev of repeated runs (informative) */
} profile_stage;

typedef enum { DIST_CONST, DIST_UNIFORM, DIST_NORMAL, DIST_LOGNORMAL } dist_kind;
typedef struct dist_spec {
    dist_kind kind;
    double a, b; /* const: a; uniform: [a, b]; normal: mean a, sd b (truncated at 0);
                    lognormal: mean a, cv b */
} dist_spec;

/* Which cold-start phases a kind of start goes through. */
#define PHASE_POD         1u /* a Kubernetes pod scaled up */
#define PHASE_SERVERLESS  2u /* a serverless instance (image cached, no scheduling) */
#define PHASE_CACHED_SKIP 4u /* skipped when the node already has the image */

typedef struct profile_phase {
    char name[32];
    dist_spec seconds;
    unsigned applies; /* PHASE_* bits */
} profile_phase;

/* JITTER_EXPONENTIAL (mean 1) turns demands into exponential service times: only for
 * checking the simulator against queueing theory (M/M/c). */
typedef enum { JITTER_NONE, JITTER_LOGNORMAL, JITTER_SAMPLES, JITTER_EXPONENTIAL } jitter_kind;

typedef struct gpu_profile {
    char path[256];
    char card[96];
    char provenance[16]; /* "measured", "derived" or "seed" */
    char source[1024];   /* who/what/when: the `source` lines, joined by newlines */
    int n_grid;
    double mp_grid[PROFILE_MAX_GRID];
    int n_stages;
    profile_stage stage[PROFILE_MAX_STAGES];
    jitter_kind jitter;
    double jitter_cv; /* JITTER_LOGNORMAL */
    int n_jitter_samples;
    double jitter_samples[PROFILE_MAX_JITTER]; /* multiplicative factors, mean ~1 */
    int n_eff;
    double eff[PROFILE_MAX_EFF];            /* eff[0] = eff(1) = 1 */
    double gpu_mem_bytes;                   /* usable memory of the card */
    double model_mem_bytes;                 /* weights + workspace, held while ready */
    double req_mem_bytes[PROFILE_MAX_GRID]; /* per request in service, over mp grid */
    double req_mem_per_face_bytes;          /* added per face */
    int n_phases;
    profile_phase phase[PROFILE_MAX_PHASES];
    double first_request_extra_ms; /* first request on a new pod pays this */
    double share_slowdown;         /* gpu_share > 1: each instance's speed factor
                                              is eff(k)/k for k co-located busy ones; this
                                              extra factor (<= 1) models context switches */
    double start_interference;     /* speed of the requests on a GPU while another
                                              pod on it is in its cold start (<= 1) */
    /* Derived by profile_finalize (profile_parse calls it): per-request sums of the image
     * and the face stages over the grid, and the lognormal jitter's parameters, so that a
     * request's demand costs two interpolations. Call it again after changing stages. */
    bool finalized;
    double image_ms[PROFILE_MAX_GRID], face_ms[PROFILE_MAX_GRID];
    double jitter_sigma, jitter_mu;
} gpu_profile;

int profile_load(const char *path, gpu_profile *p, gp_error *err);
/* One cold-start phase in the profile's syntax, "NAME DIST A [B] [pod] [serverless]
 * [cached_skip]" (e.g. from an experiment file); errors name file:line and field. */
int profile_phase_parse(const char *file, long line, const char *field, const char *text,
                        profile_phase *out, gp_error *err);
/* Recomputes the derived fields (see above) after stages or jitter were changed. */
void profile_finalize(gpu_profile *p);
int profile_parse(const char *name, const char *text, gpu_profile *p, gp_error *err);
/* Writes the profile in the text format (round-trips through profile_parse). */
int profile_write(const gpu_profile *p, FILE *f, gp_error *err);

/* Median service demand, microseconds, without jitter. */
double profile_demand_us(const gpu_profile *p, double mp, int faces);
/* Memory a request holds while in service, bytes. */
double profile_req_mem_bytes(const gpu_profile *p, double mp, int faces);
/* Where mp lies on the grid: the segment every interpolation at mp uses, found once for
 * a request's demand and memory (the simulator's hot path). The _at forms give the same
 * values, bit for bit, as the forms that take mp. */
typedef struct profile_at {
    double mp;
    int seg; /* interpolation between mp_grid[seg] and mp_grid[seg + 1] */
} profile_at;
profile_at profile_locate(const gpu_profile *p, double mp);
double profile_demand_us_at(const gpu_profile *p, profile_at at, int faces);
double profile_req_mem_bytes_at(const gpu_profile *p, profile_at at, int faces);
/* eff(n) for n >= 1. */
double profile_eff(const gpu_profile *p, int n);
/* The first n >= 2 at which the throughput of n requests together, n x eff(n)/n = eff(n),
 * falls below that of n - 1 (more concurrency would serve less: a measurement to check);
 * 0 when it never falls. (eff(n) > n is refused when the profile is read.) */
int profile_eff_first_drop(const gpu_profile *p);
/* A jitter factor from a uniform u in (0,1) and a normal z (keyed draws). */
double profile_jitter_factor(const gpu_profile *p, double u, double z);
/* Samples a dist_spec from a uniform and a normal draw; never negative. */
double dist_sample(const dist_spec *d, double u, double z);
double dist_mean(const dist_spec *d);

/* The mean length of a start of the given kind (PHASE_POD or PHASE_SERVERLESS): the sum of
 * the means of the phases that apply to it, cached_skip ones included. */
double profile_mean_start_s(const gpu_profile *p, unsigned kind);
/* True when the profile's pod start includes the cluster's part (scheduling, image pull,
 * container start: a phase so named, or one skipped for a cached image). A profile measured
 * on a bare GPU has only the GPU process's phases; an experiment then adds the cluster's
 * (cluster.pod_start_phases) or its pods start unrealistically fast. */
bool profile_has_cluster_start(const gpu_profile *p);
/* One line saying what profile_has_cluster_start found missing and how to add it. */
void profile_cluster_start_note(const gpu_profile *p, char *buf, size_t cap);
/* Interpolated value of a stage over the mp grid. */
double profile_stage_ms(const gpu_profile *p, const profile_stage *s, double mp);

#endif
