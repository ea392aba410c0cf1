/* keda.c: a KEDA ScaledObject (keda.sh/v1alpha1), as KEDA's operator runs it: every
 * pollingInterval its scale executor asks the triggers whether they are active and
 * takes the target 0 <-> 1 (activation; deactivation once cooldownPeriod has passed since
 * the last active poll); between 1 and maxReplicaCount, the HorizontalPodAutoscaler KEDA
 * creates does the work: one External metric per trigger (AverageValue target unless
 * metricType says Value), minReplicas = max(minReplicaCount, 1), maxReplicas =
 * maxReplicaCount, behavior from advanced.horizontalPodAutoscalerConfig. That HPA is
 * hpa.c's controller, driven on its own 15 s sync.
 * Facts from kedacore/keda: pkg/scaling/executor/scale_scaledobjects.go (RequestScale,
 * scaleToZeroOrIdle, scaleFromZeroOrIdle), pkg/scalers/redis_scaler.go (listLength 5,
 * activationListLength 0, active when LLEN > activationListLength), prometheus_scaler.go
 * (threshold required, activationThreshold 0, active when value > activationThreshold,
 * ignoreNullValues true), the ScaledObject defaults (pollingInterval 30, cooldownPeriod 300,
 * initialCooldownPeriod 0, minReplicaCount 0, maxReplicaCount 100).
 * YAML: a whole ScaledObject manifest, {spec: ...}, or the spec map. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "policy/hpa.h"
#include "policy/metric_map.h"
#include "policy/policy.h"

/* Targets are held in milli-units as int64 (GetMetricTargetMili): above this, x1000
 * would not fit (a fuzzed threshold of 4e86 made the conversion undefined). */
#define KEDA_MAX_TARGET 1e15

#define KEDA_NIL INT64_MIN /* Status.LastActiveTime == nil */

enum { KEDA_T_REDIS = 0, KEDA_T_PROMETHEUS };

typedef struct keda_trigger {
    int type;
    double activation; /* activationListLength / activationThreshold */
    bool nan_is_zero;  /* prometheus ignoreNullValues */
    int metric;        /* index of its External metric in the HPA spec */
} keda_trigger;

typedef struct keda_policy {
    int64_t polling_us, cooldown_us, initial_cooldown_us;
    int32_t min_count, max_count, idle_count; /* idle_count -1: not set */
    int n_triggers;
    keda_trigger triggers[HPA_MAX_METRICS];
    hpa_spec hpa; /* the HPA KEDA creates */
    /* state */
    hpa_history hist;
    bool started;
    int64_t created_us, last_active_us, next_poll_us, next_hpa_us;
} keda_policy;

static const cfg_node *map_get(const cfg_node *map, const char *key)
{
    const cfg_node *n = cfg_map_get(map, key);
    return cfg_node_is_null(n) ? NULL : n;
}

static int expect_map(const cfg_node *n, gp_error *err)
{
    if (!n || cfg_node_kind(n) != CFG_MAP)
        return cfg_error(n, err, GP_EPARSE, "expected a map");
    return 0;
}

/* Trigger metadata values are strings in KEDA ("5"); YAML numbers are accepted too. */
static int meta_double(const cfg_node *meta, const char *key, bool required, double def, double lo,
                       double *out, gp_error *err)
{
    const cfg_node *n = map_get(meta, key);
    if (!n) {
        if (required)
            return cfg_error(meta, err, GP_EMISSING, "%s: required", key);
        *out = def;
        return 0;
    }
    const char *s = cfg_scalar(n);
    char *end = NULL;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || end == s || *end != '\0' || !isfinite(v))
        return cfg_error(n, err, GP_EPARSE, "expected a number, got \"%s\"", s ? s : "?");
    if (v < lo)
        return cfg_error(n, err, GP_ERANGE, "must be >= %g", lo);
    *out = v;
    return 0;
}

static int meta_bool(const cfg_node *meta, const char *key, bool def, bool *out, gp_error *err)
{
    const cfg_node *n = map_get(meta, key);
    if (!n) {
        *out = def;
        return 0;
    }
    return cfg_node_bool(n, out, err);
}

/* Keys of a trigger's metadata that only say how to reach the server: accepted, unused. */
static bool is_connection_key(const char *k)
{
    static const char *const keys[] = {"address",
                                       "addressFromEnv",
                                       "addresses",
                                       "addressesFromEnv",
                                       "host",
                                       "hostFromEnv",
                                       "hosts",
                                       "hostsFromEnv",
                                       "port",
                                       "portFromEnv",
                                       "ports",
                                       "portsFromEnv",
                                       "username",
                                       "usernameFromEnv",
                                       "password",
                                       "passwordFromEnv",
                                       "databaseIndex",
                                       "enableTLS",
                                       "unsafeSsl",
                                       "sentinelMaster",
                                       "sentinelMasterFromEnv",
                                       "sentinelUsername",
                                       "sentinelUsernameFromEnv",
                                       "sentinelPassword",
                                       "sentinelPasswordFromEnv",
                                       "serverAddress",
                                       "namespace",
                                       "customHeaders",
                                       "queryParameters",
                                       "cortexOrgID",
                                       "authModes",
                                       "timeout",
                                       "metricName",
                                       NULL};
    for (size_t i = 0; keys[i]; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

static int check_meta_keys(const cfg_node *meta, const char *const *own, gp_error *err)
{
    for (size_t i = 0; i < cfg_len(meta); i++) {
        const char *k = cfg_map_key_at(meta, i);
        bool ok = is_connection_key(k);
        for (size_t j = 0; own[j] && !ok; j++)
            ok = strcmp(k, own[j]) == 0;
        if (!ok) {
            const char *near = cfg_nearest(k, own);
            return cfg_error(cfg_map_value_at(meta, i), err, GP_EUNKNOWN,
                             "unsupported trigger metadata '%s'%s%s%s", k,
                             near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
    }
    return 0;
}

static int parse_trigger(const cfg_node *t, keda_policy *k, gp_error *err)
{
    static const char *const keys[] = {
        "type", "metadata", "name", "metricType", "authenticationRef", "useCachedMetrics", NULL};
    int rc = expect_map(t, err);
    if (rc < 0 || (rc = cfg_check_keys(t, keys, err)) < 0)
        return rc;
    if (k->hpa.n_metrics >= HPA_MAX_METRICS)
        return cfg_error(t, err, GP_ELIMIT, "at most %d triggers", HPA_MAX_METRICS);
    const char *type;
    if ((rc = cfg_req_string(t, "type", &type, err)) < 0)
        return rc;
    const cfg_node *meta = map_get(t, "metadata");
    if (!meta)
        return cfg_error(t, err, GP_EMISSING, "metadata: required");
    if ((rc = expect_map(meta, err)) < 0)
        return rc;
    keda_trigger *tr = &k->triggers[k->n_triggers];
    hpa_metric_spec *m = &k->hpa.metrics[k->hpa.n_metrics];
    memset(tr, 0, sizeof(*tr));
    memset(m, 0, sizeof(*m));
    m->source = HPA_SRC_EXTERNAL;
    m->target = HPA_TARGET_AVERAGE_VALUE;
    static const char *const mtypes[] = {"Utilization", "Value", "AverageValue", NULL};
    int mt;
    if ((rc = cfg_opt_enum(t, "metricType", mtypes, &mt, err)) < 0)
        return rc;
    if (rc == 1) {
        if (mt == HPA_TARGET_UTILIZATION)
            return cfg_error(map_get(t, "metricType"), err, GP_ENOTSUP,
                             "metricType Utilization is for the cpu/memory scalers only");
        m->target = mt;
    }
    if (strcmp(type, "redis") == 0 || strcmp(type, "redis-cluster") == 0 ||
        strcmp(type, "redis-sentinel") == 0) {
        static const char *const own[] = {"listName", "listLength", "activationListLength", NULL};
        if ((rc = check_meta_keys(meta, own, err)) < 0)
            return rc;
        const char *list;
        if ((rc = cfg_req_string(meta, "listName", &list, err)) < 0)
            return rc;
        if (strcmp(list, "gpen:pending") != 0)
            return cfg_error(map_get(meta, "listName"), err, GP_ENOTSUP,
                             "only the list \"gpen:pending\" exists in the simulation, got "
                             "\"%s\"",
                             list);
        double len, act;
        if ((rc = meta_double(meta, "listLength", false, 5.0, 0.0, &len, err)) < 0 ||
            (rc = meta_double(meta, "activationListLength", false, 0.0, 0.0, &act, err)) < 0)
            return rc;
        if (len != floor(len) || len < 1 || len > KEDA_MAX_TARGET)
            return cfg_error(map_get(meta, "listLength"), err, GP_ERANGE,
                             "listLength must be a whole number in [1, %g]", KEDA_MAX_TARGET);
        if (act != floor(act))
            return cfg_error(map_get(meta, "activationListLength"), err, GP_ERANGE,
                             "activationListLength must be a whole number");
        char why[200];
        rc = metric_map_lookup("gpen_pending", &m->ref, why, sizeof(why));
        if (rc < 0)
            return cfg_error(t, err, rc, "%s", why);
        tr->type = KEDA_T_REDIS;
        tr->activation = act;
        m->target_milli = (int64_t)len * 1000; /* resource.NewQuantity(listLength) */
        snprintf(m->label, sizeof(m->label), "redis LLEN gpen:pending");
    } else if (strcmp(type, "prometheus") == 0) {
        static const char *const own[] = {"query", "threshold", "activationThreshold",
                                          "ignoreNullValues", NULL};
        if ((rc = check_meta_keys(meta, own, err)) < 0)
            return rc;
        const char *query;
        if ((rc = cfg_req_string(meta, "query", &query, err)) < 0)
            return rc;
        char why[256];
        rc = metric_map_query(query, &m->ref, why, sizeof(why));
        if (rc < 0)
            return cfg_error(map_get(meta, "query"), err, rc, "%s", why);
        double thr, act;
        if ((rc = meta_double(meta, "threshold", true, 0.0, -INFINITY, &thr, err)) < 0 ||
            (rc = meta_double(meta, "activationThreshold", false, 0.0, -INFINITY, &act, err)) < 0)
            return rc;
        if (thr <= 0 || thr > KEDA_MAX_TARGET)
            return cfg_error(map_get(meta, "threshold"), err, GP_ERANGE,
                             "must be positive and at most %g", KEDA_MAX_TARGET);
        if ((rc = meta_bool(meta, "ignoreNullValues", true, &tr->nan_is_zero, err)) < 0)
            return rc;
        tr->type = KEDA_T_PROMETHEUS;
        tr->activation = act;
        m->target_milli = (int64_t)(thr * 1000.0); /* GetMetricTargetMili */
        if (m->target_milli <= 0)
            return cfg_error(map_get(meta, "threshold"), err, GP_ERANGE,
                             "threshold below one milli-unit");
        m->value_truncate = true; /* GenerateMetricInMili: int64(value * 1000) */
        m->nan_as_zero = tr->nan_is_zero;
        snprintf(m->label, sizeof(m->label), "prometheus %s", m->ref.name);
    } else {
        return cfg_error(map_get(t, "type"), err, GP_ENOTSUP,
                         "trigger type \"%s\" is not modelled (redis on gpen:pending, or "
                         "prometheus)",
                         type);
    }
    tr->metric = k->hpa.n_metrics++;
    k->n_triggers++;
    return 0;
}

static int parse_advanced(const cfg_node *adv, keda_policy *k, gp_error *err)
{
    static const char *const keys[] = {"horizontalPodAutoscalerConfig",
                                       "restoreToOriginalReplicaCount", "scalingModifiers", NULL};
    int rc = expect_map(adv, err);
    if (rc < 0 || (rc = cfg_check_keys(adv, keys, err)) < 0)
        return rc;
    if (map_get(adv, "scalingModifiers"))
        return cfg_error(map_get(adv, "scalingModifiers"), err, GP_ENOTSUP,
                         "scalingModifiers (composite formulas) are not modelled");
    const cfg_node *hc = map_get(adv, "horizontalPodAutoscalerConfig");
    if (!hc)
        return 0;
    static const char *const hkeys[] = {"name", "behavior", NULL};
    if ((rc = expect_map(hc, err)) < 0 || (rc = cfg_check_keys(hc, hkeys, err)) < 0)
        return rc;
    const cfg_node *beh = map_get(hc, "behavior");
    if (beh && (rc = hpa_behavior_parse(beh, &k->hpa, err)) < 0)
        return rc;
    return 0;
}

static int parse_spec(const cfg_node *spec, keda_policy *k, gp_error *err)
{
    static const char *const keys[] = {"scaleTargetRef",
                                       "pollingInterval",
                                       "cooldownPeriod",
                                       "initialCooldownPeriod",
                                       "idleReplicaCount",
                                       "minReplicaCount",
                                       "maxReplicaCount",
                                       "advanced",
                                       "triggers",
                                       "fallback",
                                       NULL};
    int rc = expect_map(spec, err);
    if (rc < 0 || (rc = cfg_check_keys(spec, keys, err)) < 0)
        return rc;
    if (map_get(spec, "fallback"))
        return cfg_error(map_get(spec, "fallback"), err, GP_ENOTSUP,
                         "fallback is not modelled (a trigger without a value holds the "
                         "current count instead)");
    int v;
    if ((rc = cfg_opt_int(spec, "pollingInterval", 1, 86400, &v, err)) < 0)
        return rc;
    if (rc == 1)
        k->polling_us = v * US_PER_S;
    if ((rc = cfg_opt_int(spec, "cooldownPeriod", 0, 86400 * 7, &v, err)) < 0)
        return rc;
    if (rc == 1)
        k->cooldown_us = v * US_PER_S;
    if ((rc = cfg_opt_int(spec, "initialCooldownPeriod", 0, 86400 * 7, &v, err)) < 0)
        return rc;
    if (rc == 1)
        k->initial_cooldown_us = v * US_PER_S;
    if ((rc = cfg_opt_int(spec, "minReplicaCount", 0, INT32_MAX, &v, err)) < 0)
        return rc;
    if (rc == 1)
        k->min_count = v;
    if ((rc = cfg_opt_int(spec, "maxReplicaCount", 1, INT32_MAX, &v, err)) < 0)
        return rc;
    if (rc == 1)
        k->max_count = v;
    if (k->max_count < k->min_count)
        return cfg_error(map_get(spec, "maxReplicaCount") ? map_get(spec, "maxReplicaCount") : spec,
                         err, GP_ERANGE,
                         "maxReplicaCount (%d) must be at least minReplicaCount (%d)", k->max_count,
                         k->min_count);
    if ((rc = cfg_opt_int(spec, "idleReplicaCount", 0, INT32_MAX, &v, err)) < 0)
        return rc;
    if (rc == 1) {
        if (v >= k->min_count)
            return cfg_error(map_get(spec, "idleReplicaCount"), err, GP_ERANGE,
                             "idleReplicaCount (%d) must be less than minReplicaCount (%d)", v,
                             k->min_count);
        k->idle_count = v;
    }
    const cfg_node *trig = map_get(spec, "triggers");
    if (!trig || cfg_len(trig) == 0)
        return cfg_error(trig ? trig : spec, err, GP_EMISSING, "triggers: at least one");
    if (cfg_node_kind(trig) != CFG_SEQ)
        return cfg_error(trig, err, GP_EPARSE, "triggers: expected a list");
    for (size_t i = 0; i < cfg_len(trig); i++)
        if ((rc = parse_trigger(cfg_seq_at(trig, i), k, err)) < 0)
            return rc;
    const cfg_node *adv = map_get(spec, "advanced");
    if (adv && (rc = parse_advanced(adv, k, err)) < 0)
        return rc;
    /* the HPA KEDA creates (GetHPAMinReplicas / GetHPAMaxReplicas) */
    k->hpa.min_replicas = k->min_count > 0 ? k->min_count : 1;
    k->hpa.max_replicas = k->max_count;
    return 0;
}

static int keda_parse(const cfg_node *cfg, keda_policy *k, gp_error *err)
{
    k->polling_us = 30 * US_PER_S;
    k->cooldown_us = 300 * US_PER_S;
    k->initial_cooldown_us = 0;
    k->min_count = 0;
    k->max_count = 100;
    k->idle_count = -1;
    hpa_spec_init(&k->hpa);
    if (!cfg)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "config",
                            "the keda policy needs a config: a ScaledObject manifest or its "
                            "spec");
    int rc = expect_map(cfg, err);
    if (rc < 0)
        return rc;
    if (cfg_map_get(cfg, "spec") || cfg_map_get(cfg, "kind") || cfg_map_get(cfg, "apiVersion")) {
        static const char *const keys[] = {"apiVersion", "kind",   "metadata",
                                           "spec",       "status", NULL};
        if ((rc = cfg_check_keys(cfg, keys, err)) < 0)
            return rc;
        const char *av = NULL, *kind = NULL;
        if ((rc = cfg_opt_string(cfg, "apiVersion", &av, err)) < 0)
            return rc;
        if (av && strcmp(av, "keda.sh/v1alpha1") != 0)
            return cfg_error(map_get(cfg, "apiVersion"), err, GP_ENOTSUP,
                             "apiVersion %s: expected keda.sh/v1alpha1", av);
        if ((rc = cfg_opt_string(cfg, "kind", &kind, err)) < 0)
            return rc;
        if (kind && strcmp(kind, "ScaledObject") != 0)
            return cfg_error(map_get(cfg, "kind"), err, GP_ENOTSUP,
                             "kind %s: expected ScaledObject (ScaledJob is not modelled)", kind);
        const cfg_node *spec = map_get(cfg, "spec");
        if (!spec)
            return cfg_error(cfg, err, GP_EMISSING, "spec: required");
        return parse_spec(spec, k, err);
    }
    return parse_spec(cfg, k, err);
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int keda_create(const cfg_node *cfg, const policy_env *env, void **state, policy_info *info,
                       gp_error *err)
{
    (void)env;
    keda_policy *k = calloc(1, sizeof(*k));
    if (!k)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = keda_parse(cfg, k, err);
    if (rc < 0) {
        free(k);
        return rc;
    }
    /* called often enough for both loops: the executor's poll and the HPA's sync */
    info->sync_period_us = gcd64(k->polling_us, k->hpa.sync_period_us);
    info->min_pods = k->idle_count >= 0 ? k->idle_count : k->min_count;
    info->max_pods = k->max_count;
    *state = k;
    return 0;
}

static void say(policy_decision *out, int32_t desired, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(policy_decision *out, int32_t desired, int reason, const char *fmt, ...)
{
    out->desired_pods = desired;
    out->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
}

static int keda_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    keda_policy *k = state;
    int64_t now = obs->now_us;
    int32_t current = obs->spec_replicas;
    if (!k->started) {
        k->started = true;
        k->created_us = now;
        k->last_active_us = KEDA_NIL;
        k->next_poll_us = now;
        k->next_hpa_us = now;
    }
    bool acted = false, cooling = false;
    if (now >= k->next_poll_us) {
        while (k->next_poll_us <= now)
            k->next_poll_us += k->polling_us;
        /* the scalers: IsActive per trigger */
        bool active = false, error = false;
        char which[64] = "";
        for (int i = 0; i < k->n_triggers; i++) {
            const keda_trigger *t = &k->triggers[i];
            const hpa_metric_spec *m = &k->hpa.metrics[t->metric];
            double v = obs->metrics_valid ? metric_map_value(&m->ref, obs) : NAN;
            if (isnan(v) && obs->metrics_valid && t->nan_is_zero)
                v = 0.0;
            if (isnan(v)) {
                error = true;
                continue;
            }
            if (v > t->activation) {
                if (!active)
                    snprintf(which, sizeof(which), "%s %g > %g", m->label, v, t->activation);
                active = true;
            }
        }
        /* the scale executor: RequestScale */
        int32_t min = k->min_count;
        if (active) {
            if ((k->idle_count >= 0 && current < min) || current == 0) {
                int32_t to = min > 0 ? min : 1;
                k->last_active_us = now;
                say(out, to, POLICY_R_ACTIVATE, "KEDAScaleTargetActivated %d -> %d: %s", current,
                    to, which);
                acted = true;
            } else if (!error) {
                k->last_active_us = now;
            }
        } else if (error) {
            /* no fallback: KEDA leaves the target as it is */
        } else if ((k->idle_count >= 0 && current > k->idle_count) || (current > 0 && min == 0)) {
            bool passed = k->last_active_us == KEDA_NIL
                              ? k->created_us + k->initial_cooldown_us < now
                              : k->last_active_us + k->cooldown_us < now;
            if (passed) {
                int32_t to = k->idle_count >= 0 ? k->idle_count : min;
                say(out, to, POLICY_R_DEACTIVATE,
                    "KEDAScaleTargetDeactivated %d -> %d: triggers inactive for the cooldown",
                    current, to);
                acted = true;
            } else {
                cooling = true;
            }
        } else if (k->idle_count < 0 && current < min) {
            say(out, min, POLICY_R_BOUNDS, "ScaleTarget below minReplicaCount: %d -> %d", current,
                min);
            acted = true;
        }
    }
    if (acted)
        return 0; /* the HPA sees the new scale at its next sync */
    if (now < k->next_hpa_us) {
        if (cooling)
            say(out, current, POLICY_R_COOLDOWN, "ScalerCooldown: triggers inactive");
        else
            say(out, current, POLICY_R_NONE, "between HPA syncs");
        return 0;
    }
    while (k->next_hpa_us <= now)
        k->next_hpa_us += k->hpa.sync_period_us;
    int rc = hpa_reconcile(&k->hpa, &k->hist, obs, out, err);
    if (rc < 0)
        return rc;
    if (cooling && out->desired_pods == current) {
        if (k->last_active_us == KEDA_NIL)
            say(out, current, POLICY_R_COOLDOWN,
                "ScalerCooldown: never active, initialCooldownPeriod %.0f s not over",
                (double)k->initial_cooldown_us / 1e6);
        else
            say(out, current, POLICY_R_COOLDOWN,
                "ScalerCooldown: triggers inactive, last active %.0f s ago (cooldown %.0f s)",
                (double)(now - k->last_active_us) / 1e6, (double)k->cooldown_us / 1e6);
    }
    return 0;
}

static void keda_destroy(void *state)
{
    keda_policy *k = state;
    if (!k)
        return;
    hpa_history_free(&k->hist);
    free(k);
}

const policy_ops policy_keda_ops = {
    .name = "keda",
    .summary = "KEDA ScaledObject: 0<->1 activation, cooldown, and the HPA it creates",
    .create = keda_create,
    .decide = keda_decide,
    .on_arrival = NULL,
    .destroy = keda_destroy,
    .live = POLICY_LIVE_KEDA,
};
