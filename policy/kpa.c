/* kpa.c: the Knative Pod Autoscaler (KPA), as knative/serving computes it.
 *
 * Every tick (2 s) the policy records the observed metric (OBS_CONCURRENCY: requests in
 * the system, or OBS_ARRIVAL_RATE for metric: rps) into two time-bucketed windows, the
 * stable window (60 s) and the panic window (10% of it), one bucket per tick, averaged
 * as Knative's aggregation buckets do (partial window at the start, gaps count as zero).
 * Then the decider (Knative's scaling/autoscaler.go Scale):
 *   ready     = max(1, ready pods)
 *   dspc      = ceil(stable / target), dppc = ceil(panic / target), target = total x util
 *   each kept in [floor(ready / max-scale-down-rate), ceil(ready x max-scale-up-rate)]
 *   activation-scale raises a non-zero count to at least itself
 *   panic starts when dppc / ready >= panic threshold (200%), is extended while that
 *   holds, and ends once it has not held for a stable window; in panic the count is
 *   max(dspc, dppc) and never goes down (the ratchet: max panic pods)
 *   scale-down-delay: the maximum of the counts decided over the delay, for a reachable
 *   revision only (knative/serving#15831)
 * Then the reconciler's rules (pkg/reconciler/autoscaling/kpa/scaler.go): min/max scale,
 * and scale to zero only when scale to zero is enabled, the revision has been active
 * for a stable window (else at most 1 pod), then inactive (the activator in the path)
 * for max(scale-to-zero-grace-period, scale-to-zero-pod-retention-period). A request
 * that finds no pod at all is held by the activator, which asks for
 * max(1, activation-scale, min-scale) pods at once (on_arrival).
 * Configuration is Knative's own: annotations (autoscaling.knative.dev/...) and the
 * config-autoscaler ConfigMap data; see docs/policies-kpa-rule-serverless.md. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

#include "policy/kpa.h"

/* ---------- aggregation buckets (Knative's TimedFloat64Buckets) ---------- */

int kpa_buckets_init(kpa_buckets *b, int64_t window_us, int64_t granularity_us)
{
    memset(b, 0, sizeof(*b));
    if (window_us <= 0 || granularity_us <= 0)
        return GP_ERANGE;
    int64_t n = (window_us + granularity_us - 1) / granularity_us;
    if (n > 1000000)
        return GP_ELIMIT;
    b->bucket = calloc((size_t)n, sizeof(double));
    if (!b->bucket)
        return GP_ENOMEM;
    b->n = (int)n;
    b->granularity_us = granularity_us;
    b->window_us = window_us;
    return 0;
}

void kpa_buckets_free(kpa_buckets *b)
{
    free(b->bucket);
    b->bucket = NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t trunc_to(int64_t t, int64_t g) { return floor_div(t, g) * g; }

static int ring(const kpa_buckets *b, int64_t index)
{
    int64_t r = index % b->n;
    return (int)(r < 0 ? r + b->n : r);
}

void kpa_buckets_record(kpa_buckets *b, int64_t now_us, double value)
{
    int64_t g = b->granularity_us;
    int64_t bucket_time = trunc_to(now_us, g);
    int64_t write_idx = floor_div(now_us, g);
    if (b->written && b->last_write_us == bucket_time) {
        b->bucket[ring(b, write_idx)] += value;
        b->total += value;
        return;
    }
    if (b->written && bucket_time + b->window_us < b->last_write_us)
        return; /* older than a window: ignored */
    if (!b->written || b->first_write_us > bucket_time)
        b->first_write_us = bucket_time;
    if (!b->written || bucket_time > b->last_write_us) {
        if (!b->written || bucket_time - b->last_write_us >= b->window_us) {
            /* a full window of silence: start over */
            b->first_write_us = bucket_time;
            memset(b->bucket, 0, (size_t)b->n * sizeof(double));
            b->total = 0;
        } else {
            for (int64_t i = floor_div(b->last_write_us, g) + 1; i <= write_idx; i++) {
                b->total -= b->bucket[ring(b, i)];
                b->bucket[ring(b, i)] = 0;
            }
        }
        b->last_write_us = bucket_time;
        b->written = true;
    }
    b->bucket[ring(b, write_idx)] += value;
    b->total += value;
}

bool kpa_buckets_empty(const kpa_buckets *b, int64_t now_us)
{
    return !b->written || trunc_to(now_us, b->granularity_us) - b->last_write_us > b->window_us;
}

/* Knative floors window averages to 6 digits; it also keeps a ceil() of a sum of
 * tick values from landing one pod high on a rounding error. */
static double floor6(double v) { return floor(v * 1e6) / 1e6; }

double kpa_buckets_average(const kpa_buckets *b, int64_t now_us)
{
    if (kpa_buckets_empty(b, now_us))
        return 0;
    int64_t g = b->granularity_us;
    int64_t now_t = trunc_to(now_us, g);
    int64_t d = now_t - b->last_write_us;
    int64_t since_first = (b->last_write_us - b->first_write_us) / g + 1;
    if (d <= 0) {
        int64_t nb = since_first < b->n ? since_first : b->n;
        return floor6(b->total / (double)nb);
    }
    if (d < b->window_us) {
        int64_t st = floor_div(b->last_write_us, g), en = floor_div(now_t, g);
        double total = b->total;
        for (int64_t i = st + 1; i <= en; i++)
            total -= b->bucket[ring(b, i)];
        int64_t left = b->n - (en - st);
        int64_t nb = since_first < left ? since_first : left;
        return floor6(total / (double)nb);
    }
    return 0;
}

/* ---------- the delay window: maximum over a time window (Knative's aggregation/max) --- */

static void delay_record(kpa_decider *d, int64_t now_us, int value)
{
    int64_t index = floor_div(now_us, d->delay_tick_us);
    int size = d->delay_size;
    /* drop entries a newer, larger value makes irrelevant */
    for (; d->delay_len > 0; d->delay_len--)
        if (value < d->delay[(d->delay_first + d->delay_len - 1) % size].value)
            break;
    /* drop entries that left the window */
    while (d->delay_len > 0 && index - d->delay[d->delay_first].index >= size) {
        d->delay_len--;
        d->delay_first = (d->delay_first + 1) % size;
    }
    if (d->delay_len > 0) {
        kpa_max_entry *last = &d->delay[(d->delay_first + d->delay_len - 1) % size];
        if (last->index == index) {
            if (last->value > value)
                value = last->value;
            d->delay_len--;
        }
    }
    d->delay[(d->delay_first + d->delay_len) % size] = (kpa_max_entry){index, value};
    d->delay_len++;
}

static int delay_current(const kpa_decider *d) { return d->delay[d->delay_first].value; }

/* ---------- the decider (Knative's autoscaler.Scale) ---------- */

int kpa_decider_init(kpa_decider *d, const kpa_spec *spec, int ready, int64_t now_us)
{
    memset(d, 0, sizeof(*d));
    if (spec->scale_down_delay_us > 0) {
        int64_t tick = spec->tick_us > 0 ? spec->tick_us : 2 * US_PER_S;
        int64_t size = (spec->scale_down_delay_us + tick - 1) / tick;
        d->delay = calloc((size_t)size, sizeof(*d->delay));
        if (!d->delay)
            return GP_ENOMEM;
        d->delay_size = (int)size;
        d->delay_tick_us = tick;
    }
    /* A restarted autoscaler keeps the current scale until it has data (it starts in
     * panic mode when more than one pod is ready). */
    if (ready > 1) {
        d->panicking = true;
        d->panic_time_us = now_us;
    }
    d->max_panic_pods = ready > 0 ? ready : 0;
    return 0;
}

void kpa_decider_free(kpa_decider *d)
{
    free(d->delay);
    d->delay = NULL;
}

static int clamp_count(double v)
{
    if (!(v > 0))
        return 0;
    return v > 1e9 ? 1000000000 : (int)v;
}

kpa_result kpa_decider_scale(kpa_decider *d, const kpa_spec *spec, int64_t now_us, int ready,
                             double stable, double panic)
{
    kpa_result r = {.valid = true, .stable = stable, .panic = panic};
    double ready_f = ready > 1 ? (double)ready : 1.0;
    /* at least one pod up when the rate is too small to move, and the same down */
    double max_up = ceil(spec->max_scale_up_rate * ready_f);
    double max_down = spec->reachable ? floor(ready_f / spec->max_scale_down_rate) : 0.0;
    double dspc = ceil(stable / spec->target_value);
    double dppc = ceil(panic / spec->target_value);
    int stable_pods = clamp_count(fmin(fmax(dspc, max_down), max_up));
    int panic_pods = clamp_count(fmin(fmax(dppc, max_down), max_up));
    if (spec->activation_scale > 1) {
        if (dspc > 0 && spec->activation_scale > stable_pods)
            stable_pods = spec->activation_scale;
        if (dppc > 0 && spec->activation_scale > panic_pods)
            panic_pods = spec->activation_scale;
    }
    bool over = dppc / ready_f >= spec->panic_threshold;
    if (!d->panicking && over) {
        d->panicking = true;
        d->panic_time_us = now_us;
    } else if (over) {
        d->panic_time_us = now_us; /* still surging: extend the panic */
    } else if (d->panicking && d->panic_time_us + spec->stable_window_us < now_us) {
        /* the surge has made its way into the stable window */
        d->panicking = false;
        d->max_panic_pods = 0;
    }
    int desired = stable_pods;
    if (d->panicking) {
        if (desired < panic_pods)
            desired = panic_pods;
        if (desired > d->max_panic_pods)
            d->max_panic_pods = desired;
        desired = d->max_panic_pods; /* never down while panicking */
    }
    /* the scale-down delay holds pods only for a revision that can get traffic
     * (knative/serving#15831): an unreachable one goes down at once */
    if (d->delay && spec->reachable) {
        delay_record(d, now_us, desired);
        int delayed = delay_current(d);
        r.delayed = delayed != desired;
        desired = delayed;
    }
    double ebc = -1.0;
    if (spec->target_burst_capacity == 0)
        ebc = 0;
    else if (spec->target_burst_capacity > 0)
        ebc = floor((double)ready * spec->total_value - spec->target_burst_capacity - panic);
    r.desired = desired;
    /* scraped concurrency may be any double (a live Prometheus answers 1e300): saturate */
    r.ebc = isnan(ebc) ? 0 : ebc <= INT_MIN ? INT_MIN : ebc >= INT_MAX ? INT_MAX : (int)ebc;
    r.dspc = clamp_count(dspc);
    r.dppc = clamp_count(dppc);
    r.max_up = clamp_count(max_up);
    r.max_down = clamp_count(max_down);
    return r;
}

/* ---------- the policy ---------- */

typedef enum { KPA_ACTIVATING = 0, KPA_ACTIVE, KPA_INACTIVE } kpa_phase;

static const char *const phase_names[] = {"activating", "active", "inactive"};

typedef struct kpa_policy {
    kpa_spec spec;
    kpa_decider dec;
    bool dec_ready; /* the decider is made at the first decide (it reads ready) */
    kpa_buckets stable, panic;
    int metric;               /* 0: concurrency, 1: rps */
    int min_scale, max_scale; /* max 0: unbounded */
    int initial_scale;
    bool enable_scale_to_zero;
    int64_t grace_us, retention_us, activation_timeout_us;
    kpa_phase phase;
    int64_t phase_since_us;
    bool phase_time_set;
    kpa_result last;
} kpa_policy;

enum {
    A_CLASS,
    A_METRIC,
    A_TARGET,
    A_TU,
    A_WINDOW,
    A_PWP,
    A_PTP,
    A_MIN,
    A_MAX,
    A_INITIAL,
    A_ACTIVATION,
    A_SDD,
    A_RETENTION,
    A_TBC,
    A_MSUR,
    A_MSDR,
    A_COUNT
};

/* Annotation keys, current (kebab-case) and legacy (camelCase) spellings; Knative
 * accepts either and refuses both at once. max-scale-{up,down}-rate exist only in the
 * ConfigMap upstream; gpenlab also takes them per revision. */
static const char *const ann_keys[] = {
    "autoscaling.knative.dev/class", "autoscaling.knative.dev/metric",
    "autoscaling.knative.dev/target", "autoscaling.knative.dev/target-utilization-percentage",
    "autoscaling.knative.dev/window", "autoscaling.knative.dev/panic-window-percentage",
    "autoscaling.knative.dev/panic-threshold-percentage", "autoscaling.knative.dev/min-scale",
    "autoscaling.knative.dev/max-scale", "autoscaling.knative.dev/initial-scale",
    "autoscaling.knative.dev/activation-scale", "autoscaling.knative.dev/scale-down-delay",
    "autoscaling.knative.dev/scale-to-zero-pod-retention-period",
    "autoscaling.knative.dev/target-burst-capacity", "autoscaling.knative.dev/max-scale-up-rate",
    "autoscaling.knative.dev/max-scale-down-rate",
    /* legacy spellings, same order (NULL-free so the list doubles as cfg_check_keys') */
    "autoscaling.knative.dev/class", "autoscaling.knative.dev/metric",
    "autoscaling.knative.dev/target", "autoscaling.knative.dev/targetUtilizationPercentage",
    "autoscaling.knative.dev/window", "autoscaling.knative.dev/panicWindowPercentage",
    "autoscaling.knative.dev/panicThresholdPercentage", "autoscaling.knative.dev/minScale",
    "autoscaling.knative.dev/maxScale", "autoscaling.knative.dev/initialScale",
    "autoscaling.knative.dev/activationScale", "autoscaling.knative.dev/scaleDownDelay",
    "autoscaling.knative.dev/scaleToZeroPodRetentionPeriod",
    "autoscaling.knative.dev/targetBurstCapacity", "autoscaling.knative.dev/maxScaleUpRate",
    "autoscaling.knative.dev/maxScaleDownRate", NULL};

static const char *const cm_keys[] = {"pod-autoscaler-class",
                                      "enable-scale-to-zero",
                                      "allow-zero-initial-scale",
                                      "max-scale-up-rate",
                                      "max-scale-down-rate",
                                      "container-concurrency-target-percentage",
                                      "container-concurrency-target-default",
                                      "requests-per-second-target-default",
                                      "target-burst-capacity",
                                      "panic-window-percentage",
                                      "activator-capacity",
                                      "panic-threshold-percentage",
                                      "initial-scale",
                                      "max-scale",
                                      "max-scale-limit",
                                      "stable-window",
                                      "scale-down-delay",
                                      "scale-to-zero-grace-period",
                                      "scale-to-zero-pod-retention-period",
                                      "tick-interval",
                                      NULL};

/* The annotation node for key `a` (either spelling), NULL if absent; *rc < 0 if both. */
static const cfg_node *ann_get(const cfg_node *ann, int a, int *rc, gp_error *err)
{
    *rc = 0;
    if (!ann)
        return NULL;
    const cfg_node *k = cfg_map_get(ann, ann_keys[a]);
    const cfg_node *l = strcmp(ann_keys[a], ann_keys[a + A_COUNT]) == 0
                            ? NULL
                            : cfg_map_get(ann, ann_keys[a + A_COUNT]);
    if (k && l) {
        *rc = cfg_error(l, err, GP_EPARSE, "both '%s' and '%s' are given; keep one", ann_keys[a],
                        ann_keys[a + A_COUNT]);
        return NULL;
    }
    return k ? k : l;
}

static int ann_double(const cfg_node *ann, int a, double lo, double hi, double *out, gp_error *err)
{
    int rc;
    const cfg_node *n = ann_get(ann, a, &rc, err);
    if (rc < 0)
        return rc;
    if (!n)
        return 0;
    rc = cfg_node_double(n, lo, hi, out, err);
    return rc < 0 ? rc : 1;
}

static int ann_int(const cfg_node *ann, int a, int lo, int hi, int *out, gp_error *err)
{
    int rc;
    const cfg_node *n = ann_get(ann, a, &rc, err);
    if (rc < 0)
        return rc;
    if (!n)
        return 0;
    int64_t v;
    rc = cfg_node_int64(n, lo, hi, &v, err);
    if (rc < 0)
        return rc;
    *out = (int)v;
    return 1;
}

static int ann_duration(const cfg_node *ann, int a, int64_t lo, int64_t hi, int64_t *out,
                        gp_error *err)
{
    int rc;
    const cfg_node *n = ann_get(ann, a, &rc, err);
    if (rc < 0)
        return rc;
    if (!n)
        return 0;
    rc = cfg_node_duration_us(n, lo, hi, out, err);
    if (rc < 0)
        return rc;
    if (*out % US_PER_S != 0)
        return cfg_error(n, err, GP_ERANGE, "must be whole seconds, got %s", cfg_scalar(n));
    return 1;
}

/* config-autoscaler defaults (pkg/autoscaler/config/config.go). */
typedef struct kpa_cm {
    bool enable_scale_to_zero, allow_zero_initial_scale;
    double max_scale_up_rate, max_scale_down_rate;
    double cc_target_fraction, cc_target_default, rps_target_default;
    double target_burst_capacity, panic_window_pct, activator_capacity, panic_threshold_pct;
    int initial_scale, max_scale, max_scale_limit;
    int64_t stable_window_us, scale_down_delay_us, grace_us, retention_us, tick_us;
} kpa_cm;

static int parse_configmap(const cfg_node *cm, kpa_cm *c, gp_error *err)
{
    *c = (kpa_cm){
        .enable_scale_to_zero = true,
        .max_scale_up_rate = 1000,
        .max_scale_down_rate = 2,
        .cc_target_fraction = 0.7,
        .cc_target_default = 100,
        .rps_target_default = 200,
        .target_burst_capacity = 200,
        .panic_window_pct = 10,
        .activator_capacity = 100,
        .panic_threshold_pct = 200,
        .initial_scale = 1,
        .stable_window_us = 60 * US_PER_S,
        .grace_us = 30 * US_PER_S,
        .tick_us = 2 * US_PER_S,
    };
    if (!cm)
        return 0;
    TRY(cfg_check_keys(cm, cm_keys, err));
    const char *cls = NULL;
    TRY(cfg_opt_string(cm, "pod-autoscaler-class", &cls, err));
    if (cls && strcmp(cls, "kpa.autoscaling.knative.dev") != 0)
        return cfg_error(cfg_map_get(cm, "pod-autoscaler-class"), err, GP_ENOTSUP,
                         "policy kpa models the kpa.autoscaling.knative.dev class; for "
                         "\"%s\" use policy hpa",
                         cls);
    TRY(cfg_opt_bool(cm, "enable-scale-to-zero", &c->enable_scale_to_zero, err));
    TRY(cfg_opt_bool(cm, "allow-zero-initial-scale", &c->allow_zero_initial_scale, err));
    TRY(cfg_opt_double(cm, "max-scale-up-rate", 1.0, 1e9, &c->max_scale_up_rate, err));
    TRY(cfg_opt_double(cm, "max-scale-down-rate", 1.0, 1e9, &c->max_scale_down_rate, err));
    if (c->max_scale_up_rate <= 1.0)
        return cfg_error(cfg_map_get(cm, "max-scale-up-rate"), err, GP_ERANGE,
                         "max-scale-up-rate must be greater than 1.0");
    if (c->max_scale_down_rate <= 1.0)
        return cfg_error(cfg_map_get(cm, "max-scale-down-rate"), err, GP_ERANGE,
                         "max-scale-down-rate must be greater than 1.0");
    TRY(cfg_opt_double(cm, "container-concurrency-target-percentage", 1e-9, 100,
                       &c->cc_target_fraction, err));
    if (c->cc_target_fraction > 1.0) /* legacy: a fraction in (0, 1] is accepted too */
        c->cc_target_fraction /= 100.0;
    TRY(cfg_opt_double(cm, "container-concurrency-target-default", 0, 1e9, &c->cc_target_default,
                       err));
    if (c->cc_target_default * c->cc_target_fraction < 0.01)
        return cfg_error(cm, err, GP_ERANGE,
                         "container-concurrency-target-percentage and "
                         "container-concurrency-target-default yield a target below 0.01");
    TRY(cfg_opt_double(cm, "requests-per-second-target-default", 0.01, 1e9, &c->rps_target_default,
                       err));
    TRY(cfg_opt_double(cm, "target-burst-capacity", -1, 1e9, &c->target_burst_capacity, err));
    if (c->target_burst_capacity < 0 && c->target_burst_capacity != -1)
        return cfg_error(cfg_map_get(cm, "target-burst-capacity"), err, GP_ERANGE,
                         "target-burst-capacity must be non-negative or -1 (unlimited)");
    TRY(cfg_opt_double(cm, "panic-window-percentage", 1, 100, &c->panic_window_pct, err));
    TRY(cfg_opt_double(cm, "activator-capacity", 1, 1e9, &c->activator_capacity, err));
    TRY(cfg_opt_double(cm, "panic-threshold-percentage", 1e-9, 1e9, &c->panic_threshold_pct, err));
    TRY(cfg_opt_int(cm, "initial-scale", 0, 1000000, &c->initial_scale, err));
    TRY(cfg_opt_int(cm, "max-scale-limit", 0, 1000000, &c->max_scale_limit, err));
    TRY(cfg_opt_int(cm, "max-scale", 0, 1000000, &c->max_scale, err));
    if (c->initial_scale == 0 && !c->allow_zero_initial_scale)
        return cfg_error(cfg_map_get(cm, "initial-scale"), err, GP_ERANGE,
                         "initial-scale = 0 needs allow-zero-initial-scale: \"true\"");
    if ((c->max_scale_limit > 0 && c->max_scale < 1) ||
        (c->max_scale_limit > 0 && c->max_scale > c->max_scale_limit))
        return cfg_error(cm, err, GP_ERANGE,
                         "max-scale = %d, must be in [1, max-scale-limit "
                         "(%d)]",
                         c->max_scale, c->max_scale_limit);
    TRY(cfg_opt_duration_us(cm, "stable-window", 6 * US_PER_S, 3600 * US_PER_S,
                            &c->stable_window_us, err));
    TRY(cfg_opt_duration_us(cm, "scale-down-delay", 0, 3600 * US_PER_S, &c->scale_down_delay_us,
                            err));
    TRY(cfg_opt_duration_us(cm, "scale-to-zero-grace-period", 1, 3600 * US_PER_S, &c->grace_us,
                            err));
    TRY(cfg_opt_duration_us(cm, "scale-to-zero-pod-retention-period", 0, 3600 * US_PER_S,
                            &c->retention_us, err));
    TRY(cfg_opt_duration_us(cm, "tick-interval", 100000, 60 * US_PER_S, &c->tick_us, err));
    if (c->stable_window_us % US_PER_S || c->scale_down_delay_us % US_PER_S)
        return cfg_error(cm, err, GP_ERANGE,
                         "stable-window and scale-down-delay must be whole seconds");
    return 0;
}

static int kpa_parse(kpa_policy *p, const cfg_node *cfg, const policy_env *env, gp_error *err)
{
    static const char *const top_keys[] = {"annotations", "autoscaler", "containerConcurrency",
                                           NULL};
    const cfg_node *ann = NULL, *cm = NULL;
    int container_concurrency = env->concurrency > 0 ? env->concurrency : 0;
    if (cfg) {
        TRY(cfg_check_keys(cfg, top_keys, err));
        ann = cfg_map_get(cfg, "annotations");
        cm = cfg_map_get(cfg, "autoscaler");
        if (ann && cfg_node_kind(ann) != CFG_MAP)
            ann = cfg_scalar(ann) && !cfg_scalar(ann)[0] ? NULL : ann;
        if (cm && cfg_node_kind(cm) != CFG_MAP)
            cm = cfg_scalar(cm) && !cfg_scalar(cm)[0] ? NULL : cm;
        TRY(cfg_opt_int(cfg, "containerConcurrency", 0, 1000000, &container_concurrency, err));
    }
    if (ann)
        TRY(cfg_check_keys(ann, ann_keys, err));
    kpa_cm c;
    TRY(parse_configmap(cm, &c, err));

    int rc;
    const cfg_node *n = ann_get(ann, A_CLASS, &rc, err);
    TRY(rc);
    if (n && (!cfg_scalar(n) || strcmp(cfg_scalar(n), "kpa.autoscaling.knative.dev") != 0))
        return cfg_error(n, err, GP_ENOTSUP,
                         "policy kpa models class kpa.autoscaling.knative.dev; for \"%s\" "
                         "use policy hpa",
                         cfg_scalar(n) ? cfg_scalar(n) : "?");
    n = ann_get(ann, A_METRIC, &rc, err);
    TRY(rc);
    p->metric = 0;
    if (n) {
        const char *m = cfg_scalar(n);
        if (m && strcmp(m, "concurrency") == 0)
            p->metric = 0;
        else if (m && strcmp(m, "rps") == 0)
            p->metric = 1;
        else if (m && (strcmp(m, "cpu") == 0 || strcmp(m, "memory") == 0))
            return cfg_error(n, err, GP_ENOTSUP,
                             "metric \"%s\" needs the hpa class; kpa scales on concurrency "
                             "or rps",
                             m);
        else
            return cfg_error(n, err, GP_EUNKNOWN, "expected metric concurrency or rps, got \"%s\"",
                             m ? m : "?");
    }

    /* ResolveMetricTarget: the per-pod total, then the target = total x utilisation */
    double total, util;
    if (p->metric == 1) {
        total = c.rps_target_default;
        util = 0.7; /* config-autoscaler's TargetUtilization default */
    } else {
        total = container_concurrency > 0 ? container_concurrency : c.cc_target_default;
        util = c.cc_target_fraction;
    }
    double t;
    TRY(rc = ann_double(ann, A_TARGET, 0.01, 1e9, &t, err));
    if (rc == 1) {
        total = t;
        if (p->metric == 0 && container_concurrency > 0 && total > container_concurrency)
            total = container_concurrency;
    }
    double tu_pct;
    TRY(rc = ann_double(ann, A_TU, 1, 100, &tu_pct, err));
    if (rc == 1)
        util = tu_pct / 100.0;
    p->spec.total_value = total;
    p->spec.target_value = fmax(0.01, total * util);

    p->spec.stable_window_us = c.stable_window_us;
    TRY(ann_duration(ann, A_WINDOW, 6 * US_PER_S, 3600 * US_PER_S, &p->spec.stable_window_us, err));
    double pwp = c.panic_window_pct, ptp = c.panic_threshold_pct;
    TRY(ann_double(ann, A_PWP, 1, 100, &pwp, err));
    TRY(ann_double(ann, A_PTP, 110, 1000, &ptp, err));
    p->spec.panic_threshold = ptp / 100.0;
    p->spec.max_scale_up_rate = c.max_scale_up_rate;
    p->spec.max_scale_down_rate = c.max_scale_down_rate;
    TRY(rc = ann_double(ann, A_MSUR, 1, 1e9, &p->spec.max_scale_up_rate, err));
    if (rc == 1 && p->spec.max_scale_up_rate <= 1.0)
        return cfg_error(ann_get(ann, A_MSUR, &rc, err), err, GP_ERANGE,
                         "max-scale-up-rate must be greater than 1.0");
    TRY(rc = ann_double(ann, A_MSDR, 1, 1e9, &p->spec.max_scale_down_rate, err));
    if (rc == 1 && p->spec.max_scale_down_rate <= 1.0)
        return cfg_error(ann_get(ann, A_MSDR, &rc, err), err, GP_ERANGE,
                         "max-scale-down-rate must be greater than 1.0");
    p->spec.target_burst_capacity = c.target_burst_capacity;
    TRY(rc = ann_double(ann, A_TBC, -1, 1e9, &p->spec.target_burst_capacity, err));
    if (p->spec.target_burst_capacity < 0 && p->spec.target_burst_capacity != -1)
        return cfg_error(ann_get(ann, A_TBC, &rc, err), err, GP_ERANGE,
                         "target-burst-capacity must be non-negative or -1 (unlimited)");
    p->spec.scale_down_delay_us = c.scale_down_delay_us;
    TRY(ann_duration(ann, A_SDD, 0, 3600 * US_PER_S, &p->spec.scale_down_delay_us, err));
    p->retention_us = c.retention_us;
    TRY(ann_duration(ann, A_RETENTION, 0, 3600 * US_PER_S, &p->retention_us, err));
    p->spec.tick_us = c.tick_us;
    p->spec.reachable = true;

    p->min_scale = 0;
    p->max_scale = c.max_scale;
    TRY(ann_int(ann, A_MIN, 0, 1000000, &p->min_scale, err));
    TRY(rc = ann_int(ann, A_MAX, 0, 1000000, &p->max_scale, err));
    if (c.max_scale_limit > 0 && (p->max_scale == 0 || p->max_scale > c.max_scale_limit))
        return cfg_error(ann ? ann : cm, err, GP_ERANGE,
                         "max-scale = %d, must be in [1, max-scale-limit (%d)]", p->max_scale,
                         c.max_scale_limit);
    if (p->max_scale > 0 && p->min_scale > p->max_scale)
        return cfg_error(ann, err, GP_ERANGE, "min-scale = %d is greater than max-scale = %d",
                         p->min_scale, p->max_scale);
    p->initial_scale = c.initial_scale;
    TRY(rc = ann_int(ann, A_INITIAL, 0, 1000000, &p->initial_scale, err));
    if (rc == 1 && p->initial_scale == 0 && !c.allow_zero_initial_scale)
        return cfg_error(ann_get(ann, A_INITIAL, &rc, err), err, GP_ERANGE,
                         "initial-scale = 0 needs allow-zero-initial-scale: \"true\" in the "
                         "autoscaler ConfigMap");
    p->spec.activation_scale = 1;
    TRY(rc = ann_int(ann, A_ACTIVATION, 1, 1000000, &p->spec.activation_scale, err));
    if (rc == 1 && p->max_scale > 0 && p->spec.activation_scale > p->max_scale)
        return cfg_error(ann_get(ann, A_ACTIVATION, &rc, err), err, GP_ERANGE,
                         "activation-scale = %d is greater than max-scale = %d",
                         p->spec.activation_scale, p->max_scale);
    p->enable_scale_to_zero = c.enable_scale_to_zero;
    p->grace_us = c.grace_us;
    /* ProgressDeadlineSeconds (600 s) + the 10 s buffer of the KPA scaler */
    p->activation_timeout_us = 610 * US_PER_S;

    int rc_s = kpa_buckets_init(&p->stable, p->spec.stable_window_us, p->spec.tick_us);
    int64_t panic_window_us = (int64_t)((double)p->spec.stable_window_us * pwp / 100.0);
    if (panic_window_us < p->spec.tick_us)
        panic_window_us = p->spec.tick_us; /* at least one bucket */
    int rc_p = kpa_buckets_init(&p->panic, panic_window_us, p->spec.tick_us);
    if (rc_s < 0 || rc_p < 0)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    return 0;
}

static void kpa_destroy(void *state)
{
    kpa_policy *p = state;
    if (!p)
        return;
    kpa_buckets_free(&p->stable);
    kpa_buckets_free(&p->panic);
    kpa_decider_free(&p->dec);
    free(p);
}

static int kpa_create(const cfg_node *cfg, const policy_env *env, void **state, policy_info *info,
                      gp_error *err)
{
    kpa_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = kpa_parse(p, cfg, env, err);
    if (rc < 0) {
        kpa_destroy(p);
        return rc;
    }
    p->phase = p->initial_scale > 0 ? KPA_ACTIVATING : KPA_INACTIVE;
    info->sync_period_us = p->spec.tick_us;
    info->flags = POLICY_F_ACTIVATOR;
    info->initial_pods = p->initial_scale;
    info->min_pods = p->min_scale > 0 ? p->min_scale : -1;
    info->max_pods = p->max_scale > 0 ? p->max_scale : -1;
    *state = p;
    return 0;
}

void kpa_observe(void *state, int64_t now_us, double value)
{
    kpa_policy *p = state;
    kpa_buckets_record(&p->stable, now_us, value);
    kpa_buckets_record(&p->panic, now_us, value);
}

const kpa_result *kpa_last_result(const void *state) { return &((const kpa_policy *)state)->last; }

const kpa_decider *kpa_state_decider(const void *state)
{
    return &((const kpa_policy *)state)->dec;
}

static void set_phase(kpa_policy *p, kpa_phase ph, int64_t now_us)
{
    if (p->phase != ph) {
        p->phase = ph;
        p->phase_since_us = now_us;
    }
}

static double secs(int64_t us) { return (double)us / 1e6; }

static int kpa_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    kpa_policy *p = state;
    int64_t now = obs->now_us;
    int ready = obs->pods[POD_READY];
    if (!p->dec_ready) {
        if (kpa_decider_init(&p->dec, &p->spec, ready, now) < 0)
            return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        p->dec_ready = true;
    }
    if (!p->phase_time_set) {
        p->phase_since_us = now;
        p->phase_time_set = true;
    }
    if (p->phase == KPA_ACTIVATING && ready >= 1)
        set_phase(p, KPA_ACTIVE, now);

    const char *mname = p->metric ? "rps" : "concurrency";
    double v = obs->metric[p->metric ? OBS_ARRIVAL_RATE : OBS_CONCURRENCY];
    bool have = obs->metrics_valid && isfinite(v) && v >= 0;
    if (have)
        kpa_observe(p, now, v);
    if (kpa_buckets_empty(&p->stable, now)) {
        p->last = (kpa_result){.valid = false};
        out->desired_pods = -1;
        out->reason = POLICY_R_NO_METRICS;
        snprintf(out->detail, sizeof(out->detail), "no %s data in the %.0fs window: hold", mname,
                 secs(p->spec.stable_window_us));
        return 0;
    }
    double st = kpa_buckets_average(&p->stable, now);
    double pa = kpa_buckets_average(&p->panic, now);
    kpa_result r = kpa_decider_scale(&p->dec, &p->spec, now, ready, st, pa);
    p->last = r;

    int want = r.desired;
    int why;
    if (p->dec.panicking)
        why = POLICY_R_PANIC;
    else if (r.delayed)
        why = POLICY_R_STABILIZED;
    else if (r.dspc > r.max_up)
        why = POLICY_R_SCALE_UP_LIMIT;
    else if (r.dspc < r.max_down && p->spec.reachable)
        why = POLICY_R_SCALE_DOWN_LIMIT;
    else if (want > obs->spec_replicas)
        why = POLICY_R_SCALE_UP;
    else if (want < obs->spec_replicas)
        why = POLICY_R_SCALE_DOWN;
    else
        why = POLICY_R_WITHIN_TOLERANCE;
    if (want < p->min_scale) {
        want = p->min_scale;
        why = POLICY_R_BOUNDS;
    }
    if (p->max_scale > 0 && want > p->max_scale) {
        want = p->max_scale;
        why = POLICY_R_BOUNDS;
    }
    char zero[96] = "";
    if (want > 0) {
        if (p->phase == KPA_INACTIVE)
            set_phase(p, ready >= 1 ? KPA_ACTIVE : KPA_ACTIVATING, now);
    } else if (!p->enable_scale_to_zero) {
        want = 1;
        why = POLICY_R_BOUNDS;
        snprintf(zero, sizeof(zero), "; scale to zero disabled");
    } else {
        int64_t for_us = now - p->phase_since_us;
        switch (p->phase) {
        case KPA_ACTIVATING:
            if (for_us >= p->activation_timeout_us) {
                why = POLICY_R_DEACTIVATE;
                snprintf(zero, sizeof(zero), "; activation timed out after %.0fs", secs(for_us));
            } else {
                want = -1;
                why = POLICY_R_STABILIZED;
                snprintf(zero, sizeof(zero), "; activating for %.0fs: hold", secs(for_us));
            }
            break;
        case KPA_ACTIVE:
            if (for_us >= p->spec.stable_window_us) {
                set_phase(p, KPA_INACTIVE, now);
                want = -1;
                why = POLICY_R_STABILIZED;
                snprintf(zero, sizeof(zero), "; marked inactive (activator in path): hold");
            } else {
                want = 1;
                why = POLICY_R_STABILIZED;
                snprintf(zero, sizeof(zero), "; active %.0fs < window %.0fs: at most 1",
                         secs(for_us), secs(p->spec.stable_window_us));
            }
            break;
        case KPA_INACTIVE: {
            int64_t need = p->grace_us > p->retention_us ? p->grace_us : p->retention_us;
            if (for_us >= need) {
                why = POLICY_R_DEACTIVATE;
                snprintf(zero, sizeof(zero), "; inactive %.0fs >= %.0fs: to zero", secs(for_us),
                         secs(need));
            } else {
                want = -1;
                why = POLICY_R_STABILIZED;
                snprintf(zero, sizeof(zero), "; inactive %.0fs of %.0fs grace: hold", secs(for_us),
                         secs(need));
            }
            break;
        }
        }
    }
    out->desired_pods = want;
    out->reason = why;
    snprintf(out->detail, sizeof(out->detail),
             "%s stable %.3f panic %.3f target %.3f: dspc %d dppc %d ready %d "
             "[%d,%d]%s%s -> %d",
             mname, st, pa, p->spec.target_value, r.dspc, r.dppc, ready, r.max_down, r.max_up,
             p->dec.panicking ? " panic" : "", r.delayed ? " delayed" : "", r.desired);
    size_t used = strlen(out->detail);
    size_t room = sizeof(out->detail) - used;
    size_t zl = strlen(zero);
    if (zl >= room)
        zl = room - 1;
    memcpy(out->detail + used, zero, zl);
    out->detail[used + zl] = '\0';
    return 0;
}

static int kpa_on_arrival(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)err;
    kpa_policy *p = state;
    int alive = obs->pods[POD_READY] + obs->pods[POD_STARTING] + obs->pods[POD_PENDING];
    if (alive > 0 || obs->spec_replicas > 0)
        return 0;
    /* the activator holds the request and pokes the autoscaler */
    int want = 1;
    if (p->spec.activation_scale > want)
        want = p->spec.activation_scale;
    if (p->min_scale > want)
        want = p->min_scale;
    if (p->max_scale > 0 && want > p->max_scale)
        want = p->max_scale;
    set_phase(p, KPA_ACTIVATING, obs->now_us);
    p->phase_time_set = true;
    out->desired_pods = want;
    out->reason = POLICY_R_ACTIVATE;
    snprintf(out->detail, sizeof(out->detail),
             "activator: request with no pod, scale from zero to %d (%s)", want,
             phase_names[p->phase]);
    return 0;
}

const policy_ops policy_kpa_ops = {
    .name = "kpa",
    .summary = "Knative Pod Autoscaler: stable/panic windows, scale to zero, activator",
    .create = kpa_create,
    .decide = kpa_decide,
    .on_arrival = kpa_on_arrival,
    .destroy = kpa_destroy,
    .live = POLICY_LIVE_KNATIVE,
};
