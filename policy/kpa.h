/* kpa.h: the pieces of the Knative Pod Autoscaler policy (policy/kpa.c) that its tests
 * drive directly: the time-bucketed window averages (Knative's TimedFloat64Buckets), the
 * decider (Knative's autoscaler.Scale: stable/panic windows, rate limits, panic ratchet,
 * scale-down delay) and a hook that records an observation without deciding.
 * Times are int64 microseconds; a bucket index is t_us / granularity_us. The decider
 * owns its delay window (kpa_decider_free releases it). Nothing here prints. */
#ifndef GP_KPA_H
#define GP_KPA_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"

/* Knative's aggregation.TimedFloat64Buckets: a ring of `n` buckets of `granularity_us`,
 * the window average over the buckets written since first_write (a partial window at
 * the start), gaps counted as zero, everything dropped after a full window of silence. */
typedef struct kpa_buckets {
    double *bucket;
    int n;
    int64_t granularity_us, window_us;
    int64_t first_write_us, last_write_us; /* bucket start times */
    bool written;
    double total;
} kpa_buckets;

int kpa_buckets_init(kpa_buckets *b, int64_t window_us, int64_t granularity_us);
void kpa_buckets_free(kpa_buckets *b);
void kpa_buckets_record(kpa_buckets *b, int64_t now_us, double value);
/* The window average at now, floored to 6 decimals (as Knative's roundToNDigits), 0 when
 * empty. */
double kpa_buckets_average(const kpa_buckets *b, int64_t now_us);
/* No value within the window (now - last write > window), or never written. */
bool kpa_buckets_empty(const kpa_buckets *b, int64_t now_us);

/* Knative's DeciderSpec, the subset the decider reads. */
typedef struct kpa_spec {
    double target_value;          /* per-pod target: total x utilisation */
    double total_value;           /* per-pod capacity (for the excess burst capacity) */
    double target_burst_capacity; /* -1 unlimited, 0 none */
    double panic_threshold;       /* a ratio: 2.0 = 200% */
    double max_scale_up_rate, max_scale_down_rate;
    int activation_scale;
    int64_t stable_window_us;
    int64_t scale_down_delay_us; /* 0: no delay window */
    int64_t tick_us;             /* granularity of the delay window */
    bool reachable;
} kpa_spec;

/* One entry of the descending-maxima delay window (Knative's aggregation/max). */
typedef struct kpa_max_entry {
    int64_t index;
    int value;
} kpa_max_entry;

typedef struct kpa_decider {
    bool panicking;
    int64_t panic_time_us;
    int max_panic_pods;
    kpa_max_entry *delay; /* NULL when scale_down_delay_us == 0 */
    int delay_size, delay_first, delay_len;
    int64_t delay_tick_us;
} kpa_decider;

typedef struct kpa_result {
    bool valid;     /* false: no data, no decision (Knative's invalidSR) */
    int desired;    /* DesiredPodCount */
    int ebc;        /* ExcessBurstCapacity */
    int dspc, dppc; /* ceil(stable / target), ceil(panic / target) */
    int max_up, max_down;
    bool delayed; /* the delay window held the count up */
    double stable, panic;
} kpa_result;

/* newAutoscaler: a decider starts in panic mode (panic time = now, max panic pods =
 * ready) when more than one pod is ready at creation. */
int kpa_decider_init(kpa_decider *d, const kpa_spec *spec, int ready, int64_t now_us);
void kpa_decider_free(kpa_decider *d);
/* autoscaler.Scale with the stable and panic window averages already computed. */
kpa_result kpa_decider_scale(kpa_decider *d, const kpa_spec *spec, int64_t now_us, int ready,
                             double stable, double panic);

/* Test hooks on a state made by the "kpa" policy's create: record one observed value
 * at now_us into both windows without deciding (the history between two decisions);
 * read the last decider result and the decider itself. */
void kpa_observe(void *state, int64_t now_us, double value);
const kpa_result *kpa_last_result(const void *state);
const kpa_decider *kpa_state_decider(const void *state);

#endif
