/* hpa.h: the Kubernetes autoscaling/v2 HorizontalPodAutoscaler controller, as
 * kube-controller-manager computes it, split as the controller is: the replica calculator
 * (arithmetic on milli-values, replica_calculator.go) apart from the decision chain
 * (maximum over metrics -> stabilisation -> rate limits, horizontal.go).
 * Every function is pure in its inputs and an explicit hpa_history (recommendations and
 * scale events stamped with t_us); none reads a clock. Quantities are int64 milli-units
 * (the controller's MilliValue()); simulated time is int64 microseconds.
 * An hpa_history owns its arrays: hpa_history_free() releases them. keda.c drives the
 * same hpa_spec/hpa_history for the HPA a ScaledObject creates. */
#ifndef GP_HPA_H
#define GP_HPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cfg.h"
#include "base/error.h"
#include "policy/metric_map.h"
#include "policy/policy.h"

#define HPA_MAX_METRICS  16
#define HPA_MAX_POLICIES 16

/* ---- Quantities (k8s.io/apimachinery resource.Quantity) ---- */

/* Parses "500m", "2", "1.5Gi", "80", "1e3", "0.05" and returns its MilliValue(), which
 * rounds up to a whole milli-unit as the apimachinery does. GP_EPARSE if malformed,
 * GP_ERANGE if it does not fit in int64 milli-units. */
int hpa_quantity_milli(const char *s, int64_t *milli);
/* The same quantity as a double (AsApproximateFloat64). */
int hpa_quantity_double(const char *s, double *out);

/* ---- The replica calculator ---- */

/* Usage-ratio tolerances: no change while 1 - scale_down <= ratio <= 1 + scale_up. */
typedef struct hpa_tolerances {
    double scale_down, scale_up;
} hpa_tolerances;

bool hpa_tolerances_within(hpa_tolerances t, double usage_ratio);

/* One pod as groupPods() sorts it. READY: counted, has a value. UNREADY: pending (or,
 * for cpu, not yet ready); counts as 0 on a scale-up only. MISSING: running, no metric;
 * counts as 0 on a scale-up and as the target on a scale-down. IGNORED: being deleted
 * or failed; left out entirely. */
typedef enum { HPA_POD_READY = 0, HPA_POD_UNREADY, HPA_POD_MISSING, HPA_POD_IGNORED } hpa_pod_class;

typedef struct hpa_pod_sample {
    hpa_pod_class cls;
    int64_t value_milli;   /* the pod's metric (READY only) */
    int64_t request_milli; /* the pod's resource request (Resource metrics only) */
} hpa_pod_sample;

/* GetResourceReplicas: a Resource metric with an averageUtilization target (percent of
 * request, truncated to an integer as the controller does). Returns 0, or GP_EMISSING
 * when no pod has metrics / the requests sum to 0. util_pct and raw_milli (the mean
 * value over the pods with metrics) may be NULL. */
int hpa_calc_resource(int32_t current, int32_t target_util_pct, hpa_tolerances tol,
                      const hpa_pod_sample *pods, size_t n, int32_t *replicas, int32_t *util_pct,
                      int64_t *raw_milli);

/* calcPlainMetricReplicas: Pods metrics (and Resource averageValue targets): the mean of
 * the pods' values (integer division) against target_milli. usage_milli may be NULL. */
int hpa_calc_plain(int32_t current, int64_t target_milli, hpa_tolerances tol,
                   const hpa_pod_sample *pods, size_t n, int32_t *replicas, int64_t *usage_milli);

/* getUsageRatioReplicaCount: Object and External metrics with a Value target, given the
 * usage ratio and the number of ready pods; from current == 0 it returns ceil(ratio). */
int32_t hpa_calc_usage_ratio(int32_t current, double usage_ratio, int32_t ready_pods,
                             hpa_tolerances tol);

/* GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas: an AverageValue target
 * on a total (status_replicas = pods that exist). *usage_avg_milli = ceil(total/status). */
int32_t hpa_calc_per_pod(int32_t status_replicas, int64_t total_milli, int64_t target_avg_milli,
                         hpa_tolerances tol, int64_t *usage_avg_milli);

/* ---- Behavior (HorizontalPodAutoscalerBehavior) ---- */

enum { HPA_POLICY_PODS = 0, HPA_POLICY_PERCENT };
typedef enum { HPA_SELECT_MAX = 0, HPA_SELECT_MIN, HPA_SELECT_DISABLED } hpa_select;

typedef struct hpa_scaling_policy {
    int type;         /* HPA_POLICY_* */
    int32_t value;    /* pods, or percent */
    int32_t period_s; /* periodSeconds */
} hpa_scaling_policy;

typedef struct hpa_rules {
    int32_t window_s;  /* stabilizationWindowSeconds; -1: unset (scale-down: the
                          controller's --horizontal-pod-autoscaler-downscale-stabilization) */
    hpa_select select; /* selectPolicy */
    int n_policies;
    hpa_scaling_policy policies[HPA_MAX_POLICIES];
    double tolerance; /* -1: unset (the controller's --horizontal-pod-autoscaler-tolerance) */
} hpa_rules;

/* The API defaults (GenerateHPAScaleUpRules / GenerateHPAScaleDownRules of nil):
 * up: window 0, Max of {4 pods, 100 %} per 15 s; down: window unset, 100 % per 15 s. */
void hpa_rules_default_up(hpa_rules *r);
void hpa_rules_default_down(hpa_rules *r);

/* ---- History ---- */

typedef struct hpa_rec {
    int32_t replicas;
    int64_t t_us;
} hpa_rec;

typedef struct hpa_event {
    int32_t change; /* absolute number of replicas added or removed */
    int64_t t_us;
    bool outdated;
} hpa_event;

typedef struct hpa_history {
    bool recs_init; /* recordInitialRecommendation already ran */
    hpa_rec *recs;
    size_t n_recs, cap_recs;
    hpa_event *up, *down;
    size_t n_up, cap_up, n_down, cap_down;
} hpa_history;

void hpa_history_free(hpa_history *h);
int hpa_history_push_rec(hpa_history *h, int32_t replicas, int64_t t_us);
int hpa_history_push_event(hpa_history *h, bool up, int32_t change, int64_t t_us);

/* Condition reasons of the ScalingLimited / AbleToScale conditions. */
typedef enum {
    HPA_COND_DESIRED_WITHIN_RANGE = 0,
    HPA_COND_TOO_FEW_REPLICAS,
    HPA_COND_TOO_MANY_REPLICAS,
    HPA_COND_SCALE_UP_LIMIT,
    HPA_COND_SCALE_DOWN_LIMIT,
    HPA_COND_COUNT
} hpa_cond;

const char *hpa_cond_name(hpa_cond c); /* "DesiredWithinRange", ... */

/* stabilizeRecommendation (no behavior): records the recommendation (reusing the slot of
 * an old one) and returns the maximum over the window. GP_ENOMEM on allocation failure. */
int hpa_stabilize_legacy(hpa_history *h, int64_t now_us, int64_t window_us, int32_t prenormalized,
                         int32_t *stabilized);

/* convertDesiredReplicasWithRules (no behavior): clamp to [min, max] and to the
 * scale-up limit max(factor x current, minimum) (factor 2, minimum 4 in the controller). */
int32_t hpa_convert_with_rules(int32_t current, int32_t desired, int32_t min_replicas,
                               int32_t max_replicas, double up_factor, double up_minimum,
                               hpa_cond *cond);

/* stabilizeRecommendationWithBehaviors: the minimum over the up window and the maximum
 * over the down window bound current; records the unstabilised recommendation. */
int hpa_stabilize_with_behavior(hpa_history *h, int64_t now_us, int32_t up_window_s,
                                int32_t down_window_s, int32_t current, int32_t desired,
                                int32_t *stabilized);

/* getReplicasChangePerPeriod: sum of the changes of events strictly after now - period. */
int32_t hpa_replicas_change_per_period(int32_t period_s, const hpa_event *ev, size_t n,
                                       int64_t now_us);

/* calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors. */
int32_t hpa_scale_up_limit(int32_t current, const hpa_history *h, const hpa_rules *up,
                           int64_t now_us);
int32_t hpa_scale_down_limit(int32_t current, const hpa_history *h, const hpa_rules *down,
                             int64_t now_us);

/* convertDesiredReplicasWithBehaviorRate. */
int32_t hpa_convert_with_behavior_rate(const hpa_history *h, int64_t now_us, const hpa_rules *up,
                                       const hpa_rules *down, int32_t min_replicas,
                                       int32_t max_replicas, int32_t current, int32_t desired,
                                       hpa_cond *cond);

/* storeScaleEvent: `rules` are the behavior's rules of the direction of the change (NULL
 * without behavior: nothing is stored, the events would never be read). Marks the events
 * older than the longest policy period outdated and stores the new one in the last
 * outdated slot, or appends it. */
int hpa_store_scale_event(hpa_history *h, const hpa_rules *rules, int64_t now_us, int32_t prev,
                          int32_t next);

/* ---- The HPA object and one reconcile ---- */

enum { HPA_SRC_RESOURCE = 0, HPA_SRC_PODS, HPA_SRC_OBJECT, HPA_SRC_EXTERNAL };
enum { HPA_TARGET_UTILIZATION = 0, HPA_TARGET_VALUE, HPA_TARGET_AVERAGE_VALUE };

typedef struct hpa_metric_spec {
    int source;              /* HPA_SRC_* */
    int target;              /* HPA_TARGET_* */
    int32_t target_util_pct; /* Utilization */
    int64_t target_milli;    /* Value / AverageValue */
    metric_ref ref;          /* where the value comes from */
    bool value_truncate;     /* value -> milli by truncation (KEDA's int64(v*1000)), else
                                rounded to nearest */
    bool nan_as_zero;        /* a missing value reads 0 (KEDA ignoreNullValues) */
    char label[80];          /* for messages: "external metric gpen_pending" */
} hpa_metric_spec;

typedef struct hpa_spec {
    int32_t min_replicas, max_replicas;
    int n_metrics;
    hpa_metric_spec metrics[HPA_MAX_METRICS];
    bool has_behavior; /* false: the legacy path (5-minute max, max(2x, 4) clamp) */
    hpa_rules up, down;
    /* kube-controller-manager flags (gpenlab's `controller:` key) */
    int64_t sync_period_us;      /* --horizontal-pod-autoscaler-sync-period, 15 s */
    double tolerance;            /* --horizontal-pod-autoscaler-tolerance, 0.1 */
    int64_t downscale_window_us; /* --horizontal-pod-autoscaler-downscale-stabilization, 5 m */
    double up_limit_factor, up_limit_minimum; /* legacy clamp: 2, 4 */
} hpa_spec;

/* Defaults: min 1, max 0 (must be set), no metrics, no behavior, the controller flags. */
void hpa_spec_init(hpa_spec *s);

/* Reads the `config:` node of an hpa entry: a whole HorizontalPodAutoscaler manifest
 * (apiVersion autoscaling/v2, kind, metadata, spec; status ignored), `{spec: ...}`, or
 * the spec map itself, plus gpenlab's optional `controller:` map. Unsupported fields
 * fail with the place and path. */
int hpa_spec_parse(const cfg_node *cfg, hpa_spec *s, gp_error *err);

/* Reads a HorizontalPodAutoscalerBehavior map into s (sets has_behavior). */
int hpa_behavior_parse(const cfg_node *behavior, hpa_spec *s, gp_error *err);

/* The tolerances in force: behavior.scale{Up,Down}.tolerance or the controller's. */
hpa_tolerances hpa_spec_tolerances(const hpa_spec *s);

/* The proposal of one metric against the observation (computeReplicasForMetric).
 * Returns 0, or a negative code with `why` filled when the metric is invalid now. */
int hpa_metric_proposal(const hpa_spec *s, const hpa_metric_spec *m, const policy_obs *obs,
                        int32_t *replicas, char *why, size_t why_len);

/* One reconcileAutoscaler at obs->now_us with current = obs->spec_replicas. Fills out
 * (desired_pods, reason, detail) and updates h. Returns 0 or GP_ENOMEM. */
int hpa_reconcile(const hpa_spec *s, hpa_history *h, const policy_obs *obs, policy_decision *out,
                  gp_error *err);

#endif
