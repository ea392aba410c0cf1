/* hpa.c: the autoscaling/v2 HPA controller (see hpa.h). Each function below names the
 * function of kube-controller-manager it reproduces (pkg/controller/podautoscaler:
 * replica_calculator.go, horizontal.go, metrics/utilization.go; defaults from
 * pkg/apis/autoscaling/v2/defaults.go). Facts and numbers come from there; the code is
 * gpenlab's. Time comparisons keep the controller's strictness: a sample exactly at a
 * window's edge is neither inside (After) nor old (Before). */
#include "policy/hpa.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"

/* ------------------------------------------------------------------ quantities */

/* Splits a quantity into mantissa digits, a power of ten and a power of two (1024^k). */
static int quantity_split(const char *s, int *sign, int64_t *mant, int *exp10, int *exp2)
{
    const char *p = s;
    *sign = 1;
    *mant = 0;
    *exp10 = 0;
    *exp2 = 0;
    if (*p == '+' || *p == '-') {
        if (*p == '-')
            *sign = -1;
        p++;
    }
    int digits = 0, sig = 0;
    bool seen_dot = false;
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
            if (*mant == 0 && *p == '0') {
                if (seen_dot)
                    (*exp10)--;
                continue;
            }
            if (sig < 18) {
                *mant = *mant * 10 + (*p - '0');
                sig++;
                if (seen_dot)
                    (*exp10)--;
            } else if (!seen_dot) {
                (*exp10)++; /* digits beyond 18 significant ones: scale, drop the digit */
            }
        } else if (*p == '.' && !seen_dot) {
            seen_dot = true;
        } else {
            break;
        }
    }
    if (digits == 0)
        return GP_EPARSE;
    /* suffix */
    static const struct {
        const char *sfx;
        int e10, e2;
    } sfx[] = {{"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
               {"Ei", 0, 60}, {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},
               {"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0}};
    if ((*p == 'e' || *p == 'E') &&
        ((p[1] >= '0' && p[1] <= '9') ||
         ((p[1] == '+' || p[1] == '-') && p[2] >= '0' && p[2] <= '9'))) {
        char *end;
        long e = strtol(p + 1, &end, 10);
        if (e > 100 || e < -100)
            return GP_ERANGE;
        *exp10 += (int)e;
        p = end;
    } else if (*p) {
        bool found = false;
        for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
            if (strcmp(p, sfx[i].sfx) == 0) {
                *exp10 += sfx[i].e10;
                *exp2 = sfx[i].e2;
                p += strlen(sfx[i].sfx);
                found = true;
                break;
            }
        }
        if (!found)
            return GP_EPARSE;
    }
    return *p ? GP_EPARSE : 0; /* no spaces, as ParseQuantity */
}

int hpa_quantity_milli(const char *s, int64_t *milli)
{
    int sign, e10, e2;
    int64_t mant;
    int rc = quantity_split(s, &sign, &mant, &e10, &e2);
    if (rc < 0)
        return rc;
    e10 += 3; /* milli-units */
    __int128 v = (__int128)mant << e2;
    if (mant == 0) {
        *milli = 0;
        return 0;
    }
    if (e10 >= 0) {
        for (int i = 0; i < e10; i++) {
            v *= 10;
            if (v > (__int128)INT64_MAX)
                return GP_ERANGE;
        }
        if (v > (__int128)INT64_MAX)
            return GP_ERANGE;
    } else {
        /* MilliValue() rounds up (away from zero) to a whole milli-unit */
        if (-e10 > 38) {
            v = 1;
        } else {
            __int128 den = 1;
            for (int i = 0; i < -e10; i++)
                den *= 10;
            v = (v + den - 1) / den;
        }
        if (v > (__int128)INT64_MAX)
            return GP_ERANGE;
    }
    *milli = (int64_t)v * sign;
    return 0;
}

int hpa_quantity_double(const char *s, double *out)
{
    int sign, e10, e2;
    int64_t mant;
    int rc = quantity_split(s, &sign, &mant, &e10, &e2);
    if (rc < 0)
        return rc;
    *out = sign * (double)mant * pow(10.0, e10) * ldexp(1.0, e2);
    return 0;
}

/* ------------------------------------------------------------------ calculator */

bool hpa_tolerances_within(hpa_tolerances t, double r)
{
    return (1.0 - t.scale_down) <= r && r <= (1.0 + t.scale_up);
}

/* int32(math.Ceil(x)), saturated instead of wrapping. */
static int32_t ceil_i32(double x)
{
    if (isnan(x) || x <= (double)INT32_MIN)
        return x > 0 ? INT32_MAX : (isnan(x) ? 0 : INT32_MIN);
    double c = ceil(x);
    return c >= (double)INT32_MAX ? INT32_MAX : (int32_t)c;
}

/* A metric value in milli-units: int64(value * 1000) (truncate) or rounded, saturated at
 * +-1e18 instead of undefined: scraped values come from the network (a live Prometheus
 * may answer 1e300 or +Inf) and the fuzzer fed them here. */
static int64_t value_to_milli(double v, bool truncate)
{
    double m = v * 1000.0;
    if (isnan(m))
        return 0;
    if (m >= 1e18)
        return 1000000000000000000LL;
    if (m <= -1e18)
        return -1000000000000000000LL;
    return truncate ? (int64_t)m : llround(m);
}

/* GetResourceUtilizationRatio over the ready pods, plus (when asked) the missing pods at
 * fallback_pct of their request and the unready ones at 0. */
static int resource_utilization(const hpa_pod_sample *pods, size_t n, int64_t fallback_pct,
                                bool add_missing, bool add_unready, int32_t *util, int64_t *raw,
                                size_t *count)
{
    __int128 mtot = 0, rtot = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        const hpa_pod_sample *p = &pods[i];
        if (p->cls == HPA_POD_READY) {
            mtot += p->value_milli;
        } else if (p->cls == HPA_POD_MISSING && add_missing) {
            /* on a scale-down: 100 % of the request, or the target if above 100 % */
            mtot += (__int128)p->request_milli * fallback_pct / 100;
        } else if (p->cls == HPA_POD_UNREADY && add_unready) {
            /* 0 % of the request */
        } else {
            continue;
        }
        rtot += p->request_milli;
        cnt++;
    }
    if (cnt == 0 || rtot == 0)
        return GP_EMISSING; /* "no metrics returned matched known pods" */
    __int128 pct = mtot * 100 / rtot;
    *util = pct > INT32_MAX ? INT32_MAX : (pct < INT32_MIN ? INT32_MIN : (int32_t)pct);
    if (raw)
        *raw = (int64_t)(mtot / (__int128)cnt);
    *count = cnt;
    return 0;
}

int hpa_calc_resource(int32_t current, int32_t target_util_pct, hpa_tolerances tol,
                      const hpa_pod_sample *pods, size_t n, int32_t *replicas, int32_t *util_pct,
                      int64_t *raw_milli)
{
    size_t ready = 0, unready = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        ready += pods[i].cls == HPA_POD_READY;
        unready += pods[i].cls == HPA_POD_UNREADY;
        missing += pods[i].cls == HPA_POD_MISSING;
    }
    if (ready == 0 || target_util_pct <= 0)
        return GP_EMISSING; /* "did not receive metrics for targeted pods" */
    int32_t util;
    int64_t raw;
    size_t cnt;
    int rc = resource_utilization(pods, n, 0, false, false, &util, &raw, &cnt);
    if (rc < 0)
        return rc;
    if (util_pct)
        *util_pct = util;
    if (raw_milli)
        *raw_milli = raw;
    double ratio = (double)util / (double)target_util_pct;

    bool up_with_unready = unready > 0 && ratio > 1.0;
    if (!up_with_unready && missing == 0) {
        *replicas = hpa_tolerances_within(tol, ratio) ? current : ceil_i32(ratio * (double)ready);
        return 0;
    }
    /* missing pods: the fallback on a scale-down, 0 on a scale-up, left out at exactly 1 */
    bool add_missing = missing > 0 && ratio != 1.0;
    int64_t fallback = ratio < 1.0 ? (target_util_pct > 100 ? target_util_pct : 100) : 0;
    int32_t new_util;
    rc = resource_utilization(pods, n, fallback, add_missing, up_with_unready, &new_util, NULL,
                              &cnt);
    if (rc < 0)
        return rc;
    double new_ratio = (double)new_util / (double)target_util_pct;
    if (hpa_tolerances_within(tol, new_ratio) || (ratio < 1.0 && new_ratio > 1.0) ||
        (ratio > 1.0 && new_ratio < 1.0)) {
        *replicas = current; /* too small a change, or the direction would flip */
        return 0;
    }
    int32_t next = ceil_i32(new_ratio * (double)cnt);
    if ((new_ratio < 1.0 && next > current) || (new_ratio > 1.0 && next < current))
        next = current; /* the count of pods considered would flip the direction */
    *replicas = next;
    return 0;
}

/* GetMetricUsageRatio: the mean (integer division) of the chosen entries. */
static int plain_usage(const hpa_pod_sample *pods, size_t n, int64_t missing_value,
                       bool add_missing, bool add_unready, int64_t *usage, size_t *count)
{
    __int128 tot = 0;
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        const hpa_pod_sample *p = &pods[i];
        if (p->cls == HPA_POD_READY)
            tot += p->value_milli;
        else if (p->cls == HPA_POD_MISSING && add_missing)
            tot += missing_value;
        else if (p->cls == HPA_POD_UNREADY && add_unready)
            tot += 0;
        else
            continue;
        cnt++;
    }
    if (cnt == 0)
        return GP_EMISSING;
    *usage = (int64_t)(tot / (__int128)cnt);
    *count = cnt;
    return 0;
}

int hpa_calc_plain(int32_t current, int64_t target_milli, hpa_tolerances tol,
                   const hpa_pod_sample *pods, size_t n, int32_t *replicas, int64_t *usage_milli)
{
    size_t ready = 0, unready = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        ready += pods[i].cls == HPA_POD_READY;
        unready += pods[i].cls == HPA_POD_UNREADY;
        missing += pods[i].cls == HPA_POD_MISSING;
    }
    if (ready == 0 || target_milli <= 0)
        return GP_EMISSING; /* "did not receive metrics for targeted pods" */
    int64_t usage;
    size_t cnt;
    int rc = plain_usage(pods, n, 0, false, false, &usage, &cnt);
    if (rc < 0)
        return rc;
    if (usage_milli)
        *usage_milli = usage;
    double ratio = (double)usage / (double)target_milli;

    bool up_with_unready = unready > 0 && ratio > 1.0;
    if (!up_with_unready && missing == 0) {
        *replicas = hpa_tolerances_within(tol, ratio) ? current : ceil_i32(ratio * (double)ready);
        return 0;
    }
    bool add_missing = missing > 0 && ratio != 1.0;
    int64_t missing_value = ratio < 1.0 ? target_milli : 0;
    int64_t new_usage;
    rc = plain_usage(pods, n, missing_value, add_missing, up_with_unready, &new_usage, &cnt);
    if (rc < 0)
        return rc;
    double new_ratio = (double)new_usage / (double)target_milli;
    if (hpa_tolerances_within(tol, new_ratio) || (ratio < 1.0 && new_ratio > 1.0) ||
        (ratio > 1.0 && new_ratio < 1.0)) {
        *replicas = current;
        return 0;
    }
    int32_t next = ceil_i32(new_ratio * (double)cnt);
    if ((new_ratio < 1.0 && next > current) || (new_ratio > 1.0 && next < current))
        next = current;
    *replicas = next;
    return 0;
}

int32_t hpa_calc_usage_ratio(int32_t current, double usage_ratio, int32_t ready_pods,
                             hpa_tolerances tol)
{
    if (current == 0)
        return ceil_i32(usage_ratio); /* scale to zero or n, tolerance not applied */
    if (hpa_tolerances_within(tol, usage_ratio))
        return current;
    return ceil_i32(usage_ratio * (double)ready_pods);
}

int32_t hpa_calc_per_pod(int32_t status_replicas, int64_t total_milli, int64_t target_avg_milli,
                         hpa_tolerances tol, int64_t *usage_avg_milli)
{
    int32_t replicas = status_replicas;
    double ratio = (double)total_milli / ((double)target_avg_milli * (double)status_replicas);
    if (!hpa_tolerances_within(tol, ratio))
        replicas = ceil_i32((double)total_milli / (double)target_avg_milli);
    if (usage_avg_milli) {
        /* as upstream: a usage that does not fit (2^63 as a double) saturates at MaxInt64
         * instead of an out-of-range conversion */
        double avg = status_replicas > 0 ? ceil((double)total_milli / (double)status_replicas)
                                         : (double)total_milli;
        *usage_avg_milli = avg >= 0x1p63 ? INT64_MAX : (int64_t)avg;
    }
    return replicas;
}

/* ------------------------------------------------------------------ behavior */

void hpa_rules_default_up(hpa_rules *r)
{
    memset(r, 0, sizeof(*r));
    r->window_s = 0;
    r->select = HPA_SELECT_MAX;
    r->n_policies = 2;
    r->policies[0] = (hpa_scaling_policy){HPA_POLICY_PODS, 4, 15};
    r->policies[1] = (hpa_scaling_policy){HPA_POLICY_PERCENT, 100, 15};
    r->tolerance = -1.0;
}

void hpa_rules_default_down(hpa_rules *r)
{
    memset(r, 0, sizeof(*r));
    r->window_s = -1; /* nil: the controller's downscale stabilisation flag */
    r->select = HPA_SELECT_MAX;
    r->n_policies = 1;
    r->policies[0] = (hpa_scaling_policy){HPA_POLICY_PERCENT, 100, 15};
    r->tolerance = -1.0;
}

const char *hpa_cond_name(hpa_cond c)
{
    static const char *const names[HPA_COND_COUNT] = {"DesiredWithinRange", "TooFewReplicas",
                                                      "TooManyReplicas", "ScaleUpLimit",
                                                      "ScaleDownLimit"};
    return (c >= 0 && c < HPA_COND_COUNT) ? names[c] : "?";
}

/* ------------------------------------------------------------------ history */

void hpa_history_free(hpa_history *h)
{
    free(h->recs);
    free(h->up);
    free(h->down);
    memset(h, 0, sizeof(*h));
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return GP_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

int hpa_history_push_rec(hpa_history *h, int32_t replicas, int64_t t_us)
{
    if (grow((void **)&h->recs, &h->cap_recs, h->n_recs + 1, sizeof(hpa_rec)) < 0)
        return GP_ENOMEM;
    h->recs[h->n_recs++] = (hpa_rec){replicas, t_us};
    h->recs_init = true;
    return 0;
}

int hpa_history_push_event(hpa_history *h, bool up, int32_t change, int64_t t_us)
{
    hpa_event **arr = up ? &h->up : &h->down;
    size_t *n = up ? &h->n_up : &h->n_down;
    size_t *cap = up ? &h->cap_up : &h->cap_down;
    if (grow((void **)arr, cap, *n + 1, sizeof(hpa_event)) < 0)
        return GP_ENOMEM;
    (*arr)[(*n)++] = (hpa_event){change, t_us, false};
    return 0;
}

int hpa_stabilize_legacy(hpa_history *h, int64_t now_us, int64_t window_us, int32_t prenormalized,
                         int32_t *stabilized)
{
    int32_t best = prenormalized;
    bool found_old = false;
    size_t old_idx = 0;
    int64_t cutoff = now_us - window_us;
    for (size_t i = 0; i < h->n_recs; i++) {
        if (h->recs[i].t_us < cutoff) {
            found_old = true;
            old_idx = i;
        } else if (h->recs[i].replicas > best) {
            best = h->recs[i].replicas;
        }
    }
    if (found_old) {
        h->recs[old_idx] = (hpa_rec){prenormalized, now_us};
    } else if (hpa_history_push_rec(h, prenormalized, now_us) < 0) {
        return GP_ENOMEM;
    }
    *stabilized = best;
    return 0;
}

int32_t hpa_convert_with_rules(int32_t current, int32_t desired, int32_t min_replicas,
                               int32_t max_replicas, double up_factor, double up_minimum,
                               hpa_cond *cond)
{
    /* calculateScaleUpLimit: bogus metrics must not explode the count (k8s issue 32304) */
    double lim = up_factor * (double)current;
    if (lim < up_minimum)
        lim = up_minimum;
    int32_t up_limit = lim >= (double)INT32_MAX ? INT32_MAX : (int32_t)lim;
    int32_t max_allowed;
    hpa_cond limit_cond;
    if (max_replicas > up_limit) {
        max_allowed = up_limit;
        limit_cond = HPA_COND_SCALE_UP_LIMIT;
    } else {
        max_allowed = max_replicas;
        limit_cond = HPA_COND_TOO_MANY_REPLICAS;
    }
    if (desired < min_replicas) {
        *cond = HPA_COND_TOO_FEW_REPLICAS;
        return min_replicas;
    }
    if (desired > max_allowed) {
        *cond = limit_cond;
        return max_allowed;
    }
    *cond = HPA_COND_DESIRED_WITHIN_RANGE;
    return desired;
}

int hpa_stabilize_with_behavior(hpa_history *h, int64_t now_us, int32_t up_window_s,
                                int32_t down_window_s, int32_t current, int32_t desired,
                                int32_t *stabilized)
{
    int32_t up_rec = desired, down_rec = desired;
    int64_t up_cutoff = now_us - (int64_t)up_window_s * US_PER_S;
    int64_t down_cutoff = now_us - (int64_t)down_window_s * US_PER_S;
    bool found_old = false;
    size_t old_idx = 0;
    for (size_t i = 0; i < h->n_recs; i++) {
        const hpa_rec *r = &h->recs[i];
        if (r->t_us > up_cutoff && r->replicas < up_rec)
            up_rec = r->replicas;
        if (r->t_us > down_cutoff && r->replicas > down_rec)
            down_rec = r->replicas;
        if (r->t_us < up_cutoff && r->t_us < down_cutoff) {
            found_old = true;
            old_idx = i;
        }
    }
    int32_t rec = current;
    if (rec < up_rec)
        rec = up_rec;
    if (rec > down_rec)
        rec = down_rec;
    if (found_old)
        h->recs[old_idx] = (hpa_rec){desired, now_us};
    else if (hpa_history_push_rec(h, desired, now_us) < 0)
        return GP_ENOMEM;
    *stabilized = rec;
    return 0;
}

int32_t hpa_replicas_change_per_period(int32_t period_s, const hpa_event *ev, size_t n,
                                       int64_t now_us)
{
    int64_t cutoff = now_us - (int64_t)period_s * US_PER_S;
    int32_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (ev[i].t_us > cutoff)
            sum += ev[i].change;
    return sum;
}

static int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static int32_t max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

int32_t hpa_scale_up_limit(int32_t current, const hpa_history *h, const hpa_rules *up,
                           int64_t now_us)
{
    if (up->select == HPA_SELECT_DISABLED)
        return current;
    bool pick_min = up->select == HPA_SELECT_MIN; /* the least change: the lowest limit */
    int32_t result = pick_min ? INT32_MAX : INT32_MIN;
    for (int i = 0; i < up->n_policies; i++) {
        const hpa_scaling_policy *p = &up->policies[i];
        int32_t added = hpa_replicas_change_per_period(p->period_s, h->up, h->n_up, now_us);
        int32_t deleted = hpa_replicas_change_per_period(p->period_s, h->down, h->n_down, now_us);
        int32_t start = current - added + deleted;
        int32_t proposed;
        if (p->type == HPA_POLICY_PODS)
            proposed = start + p->value;
        else /* rounded up, or a small percentage would never add a pod */
            proposed = ceil_i32((double)start * (1.0 + (double)p->value / 100.0));
        result = pick_min ? min_i32(result, proposed) : max_i32(result, proposed);
    }
    return result;
}

int32_t hpa_scale_down_limit(int32_t current, const hpa_history *h, const hpa_rules *down,
                             int64_t now_us)
{
    if (down->select == HPA_SELECT_DISABLED)
        return current;
    bool pick_min_change = down->select == HPA_SELECT_MIN; /* the highest limit */
    int32_t result = pick_min_change ? INT32_MIN : INT32_MAX;
    for (int i = 0; i < down->n_policies; i++) {
        const hpa_scaling_policy *p = &down->policies[i];
        int32_t added = hpa_replicas_change_per_period(p->period_s, h->up, h->n_up, now_us);
        int32_t deleted = hpa_replicas_change_per_period(p->period_s, h->down, h->n_down, now_us);
        int32_t start = current - added + deleted;
        int32_t proposed;
        if (p->type == HPA_POLICY_PODS)
            proposed = start - p->value;
        else /* int32(float64(start) * (1 - v/100)): truncated */
            proposed = (int32_t)((double)start * (1.0 - (double)p->value / 100.0));
        result = pick_min_change ? max_i32(result, proposed) : min_i32(result, proposed);
    }
    return result;
}

int32_t hpa_convert_with_behavior_rate(const hpa_history *h, int64_t now_us, const hpa_rules *up,
                                       const hpa_rules *down, int32_t min_replicas,
                                       int32_t max_replicas, int32_t current, int32_t desired,
                                       hpa_cond *cond)
{
    if (desired > current) {
        int32_t limit = hpa_scale_up_limit(current, h, up, now_us);
        if (limit < current)
            limit = current; /* no further scale-up until old events age out */
        int32_t max_allowed = max_replicas;
        hpa_cond c;
        if (max_allowed > limit) {
            max_allowed = limit;
            c = HPA_COND_SCALE_UP_LIMIT;
        } else {
            c = HPA_COND_TOO_MANY_REPLICAS;
        }
        if (desired > max_allowed) {
            *cond = c;
            return max_allowed;
        }
    } else if (desired < current) {
        int32_t limit = hpa_scale_down_limit(current, h, down, now_us);
        if (limit > current)
            limit = current;
        int32_t min_allowed = min_replicas;
        hpa_cond c;
        if (min_allowed < limit) {
            min_allowed = limit;
            c = HPA_COND_SCALE_DOWN_LIMIT;
        } else {
            c = HPA_COND_TOO_FEW_REPLICAS;
        }
        if (desired < min_allowed) {
            *cond = c;
            return min_allowed;
        }
    }
    *cond = HPA_COND_DESIRED_WITHIN_RANGE;
    return desired;
}

static int32_t longest_period(const hpa_rules *r)
{
    int32_t longest = 0;
    for (int i = 0; i < r->n_policies; i++)
        if (r->policies[i].period_s > longest)
            longest = r->policies[i].period_s;
    return longest;
}

int hpa_store_scale_event(hpa_history *h, const hpa_rules *rules, int64_t now_us, int32_t prev,
                          int32_t next)
{
    if (!rules || next == prev)
        return 0;
    bool is_up = next > prev;
    hpa_event *ev = is_up ? h->up : h->down;
    size_t n = is_up ? h->n_up : h->n_down;
    int64_t cutoff = now_us - (int64_t)longest_period(rules) * US_PER_S;
    bool found_old = false;
    size_t old_idx = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].t_us < cutoff)
            ev[i].outdated = true;
        if (ev[i].outdated) {
            found_old = true;
            old_idx = i;
        }
    }
    int32_t change = is_up ? next - prev : prev - next;
    if (found_old) {
        ev[old_idx] = (hpa_event){change, now_us, false};
        return 0;
    }
    return hpa_history_push_event(h, is_up, change, now_us);
}

/* ------------------------------------------------------------------ the HPA spec */

void hpa_spec_init(hpa_spec *s)
{
    memset(s, 0, sizeof(*s));
    s->min_replicas = 1; /* SetDefaults_HorizontalPodAutoscaler */
    s->max_replicas = 0;
    hpa_rules_default_up(&s->up);
    hpa_rules_default_down(&s->down);
    s->sync_period_us = 15 * US_PER_S;
    s->tolerance = 0.1;
    s->downscale_window_us = 300 * US_PER_S;
    s->up_limit_factor = 2.0;
    s->up_limit_minimum = 4.0;
}

hpa_tolerances hpa_spec_tolerances(const hpa_spec *s)
{
    hpa_tolerances t = {s->tolerance, s->tolerance};
    if (s->has_behavior) {
        if (s->down.tolerance >= 0)
            t.scale_down = s->down.tolerance;
        if (s->up.tolerance >= 0)
            t.scale_up = s->up.tolerance;
    }
    return t;
}

static int node_quantity_milli(const cfg_node *n, int64_t *milli, gp_error *err)
{
    const char *s = cfg_scalar(n);
    if (!s)
        return cfg_error(n, err, GP_EPARSE,
                         "expected a quantity such as \"500m\", \"2\" or \"1.5Gi\"");
    int rc = hpa_quantity_milli(s, milli);
    if (rc == GP_ERANGE)
        return cfg_error(n, err, GP_ERANGE, "quantity \"%s\" is too large", s);
    if (rc < 0)
        return cfg_error(n, err, GP_EPARSE,
                         "\"%s\" is not a Kubernetes quantity (e.g. \"500m\", \"2\", \"1.5Gi\")",
                         s);
    return 0;
}

static int node_quantity_double(const cfg_node *n, double *out, gp_error *err)
{
    const char *s = cfg_scalar(n);
    if (!s || hpa_quantity_double(s, out) < 0)
        return cfg_error(n, err, GP_EPARSE,
                         "expected a quantity such as \"0.1\" or \"50m\", got %s%s%s",
                         s ? "\"" : "a ", s ? s : "map or list", s ? "\"" : "");
    return 0;
}

/* A key's value, NULL when absent or null ("key:" with nothing). */
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

/* One of HPAScalingRules' directions; starts from the API defaults of that direction
 * (copyHPAScalingRules: a field that is set replaces the default, policies wholesale). */
static int parse_rules(const cfg_node *n, hpa_rules *r, gp_error *err)
{
    static const char *const keys[] = {"stabilizationWindowSeconds", "selectPolicy", "policies",
                                       "tolerance", NULL};
    int rc = expect_map(n, err);
    if (rc < 0 || (rc = cfg_check_keys(n, keys, err)) < 0)
        return rc;
    int w;
    rc = cfg_opt_int(n, "stabilizationWindowSeconds", 0, 3600, &w, err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        r->window_s = w;
    static const char *const selects[] = {"Max", "Min", "Disabled", NULL};
    int sel;
    rc = cfg_opt_enum(n, "selectPolicy", selects, &sel, err);
    if (rc < 0)
        return rc;
    if (rc == 1)
        r->select = (hpa_select)sel;
    const cfg_node *tol = map_get(n, "tolerance");
    if (tol) {
        double t;
        if ((rc = node_quantity_double(tol, &t, err)) < 0)
            return rc;
        if (t < 0)
            return cfg_error(tol, err, GP_ERANGE, "tolerance must be >= 0");
        r->tolerance = t;
    }
    const cfg_node *pol = map_get(n, "policies");
    if (pol) {
        if (cfg_node_kind(pol) != CFG_SEQ)
            return cfg_error(pol, err, GP_EPARSE, "policies: expected a list");
        size_t np = cfg_len(pol);
        if (np == 0)
            return cfg_error(pol, err, GP_EMISSING, "must specify at least one Policy");
        if (np > HPA_MAX_POLICIES)
            return cfg_error(pol, err, GP_ELIMIT, "at most %d policies", HPA_MAX_POLICIES);
        r->n_policies = (int)np;
        for (size_t i = 0; i < np; i++) {
            const cfg_node *p = cfg_seq_at(pol, i);
            static const char *const pkeys[] = {"type", "value", "periodSeconds", NULL};
            if ((rc = expect_map(p, err)) < 0 || (rc = cfg_check_keys(p, pkeys, err)) < 0)
                return rc;
            static const char *const types[] = {"Pods", "Percent", NULL};
            int type = 0, value = 0, period = 0;
            if ((rc = cfg_opt_enum(p, "type", types, &type, err)) < 0)
                return rc;
            if (rc == 0)
                return cfg_error(p, err, GP_EMISSING, "type: required (Pods or Percent)");
            if ((rc = cfg_req_int(p, "value", 1, INT32_MAX, &value, err)) < 0)
                return rc;
            if ((rc = cfg_req_int(p, "periodSeconds", 1, 1800, &period, err)) < 0)
                return rc;
            r->policies[i] = (hpa_scaling_policy){type, value, period};
        }
    }
    return 0;
}

int hpa_behavior_parse(const cfg_node *behavior, hpa_spec *s, gp_error *err)
{
    static const char *const keys[] = {"scaleUp", "scaleDown", NULL};
    int rc = expect_map(behavior, err);
    if (rc < 0 || (rc = cfg_check_keys(behavior, keys, err)) < 0)
        return rc;
    s->has_behavior = true;
    hpa_rules_default_up(&s->up);
    hpa_rules_default_down(&s->down);
    const cfg_node *up = map_get(behavior, "scaleUp");
    if (up && (rc = parse_rules(up, &s->up, err)) < 0)
        return rc;
    const cfg_node *down = map_get(behavior, "scaleDown");
    if (down && (rc = parse_rules(down, &s->down, err)) < 0)
        return rc;
    return 0;
}

/* A label selector we can honour: the queue's list name, or labels every simulated pod
 * of the one GPEN service matches. */
static int parse_selector(const cfg_node *sel, const metric_ref *ref, gp_error *err)
{
    static const char *const keys[] = {"matchLabels", "matchExpressions", NULL};
    int rc = expect_map(sel, err);
    if (rc < 0 || (rc = cfg_check_keys(sel, keys, err)) < 0)
        return rc;
    const cfg_node *me = map_get(sel, "matchExpressions");
    if (me && cfg_len(me) > 0)
        return cfg_error(me, err, GP_ENOTSUP,
                         "matchExpressions cannot be honoured: gpenlab simulates one service "
                         "and one queue; use matchLabels (or no selector)");
    const cfg_node *ml = map_get(sel, "matchLabels");
    if (!ml)
        return 0;
    if ((rc = expect_map(ml, err)) < 0)
        return rc;
    for (size_t i = 0; i < cfg_len(ml); i++) {
        const char *k = cfg_map_key_at(ml, i);
        const cfg_node *v = cfg_map_value_at(ml, i);
        const char *val = cfg_scalar(v);
        bool list_key = strcmp(k, "key") == 0 || strcmp(k, "list") == 0 ||
                        strcmp(k, "listName") == 0 || strcmp(k, "list_name") == 0;
        if (list_key && ref->obs == OBS_QUEUE_LEN) {
            if (!val || strcmp(val, "gpen:pending") != 0)
                return cfg_error(v, err, GP_ENOTSUP,
                                 "only the list \"gpen:pending\" exists in the simulation, "
                                 "got \"%s\"",
                                 val ? val : "?");
            continue;
        }
        if (metric_map_label_is_trivial(k))
            continue;
        return cfg_error(v, err, GP_ENOTSUP,
                         "selector label \"%s\" cannot be honoured (only service-wide labels "
                         "such as app or namespace, and key: gpen:pending for the queue)",
                         k);
    }
    return 0;
}

/* MetricIdentifier {name, selector}. */
static int parse_metric_id(const cfg_node *mid, metric_ref *ref, char *name, size_t name_len,
                           gp_error *err)
{
    static const char *const keys[] = {"name", "selector", NULL};
    int rc = expect_map(mid, err);
    if (rc < 0 || (rc = cfg_check_keys(mid, keys, err)) < 0)
        return rc;
    const char *nm;
    if ((rc = cfg_req_string(mid, "name", &nm, err)) < 0)
        return rc;
    char why[256];
    rc = metric_map_lookup(nm, ref, why, sizeof(why));
    if (rc < 0)
        return cfg_error(map_get(mid, "name"), err, rc, "%s", why);
    snprintf(name, name_len, "%s", nm);
    const cfg_node *sel = map_get(mid, "selector");
    if (sel && (rc = parse_selector(sel, ref, err)) < 0)
        return rc;
    return 0;
}

/* MetricTarget; `allowed` is a mask of 1 << HPA_TARGET_*. */
static int parse_target(const cfg_node *t, unsigned allowed, hpa_metric_spec *m, gp_error *err)
{
    static const char *const keys[] = {"type", "value", "averageValue", "averageUtilization", NULL};
    int rc = expect_map(t, err);
    if (rc < 0 || (rc = cfg_check_keys(t, keys, err)) < 0)
        return rc;
    static const char *const types[] = {"Utilization", "Value", "AverageValue", NULL};
    int type;
    if ((rc = cfg_opt_enum(t, "type", types, &type, err)) < 0)
        return rc;
    if (rc == 0)
        return cfg_error(t, err, GP_EMISSING,
                         "type: required (Utilization, Value or AverageValue)");
    if (!(allowed & (1u << type)))
        return cfg_error(map_get(t, "type"), err, GP_ENOTSUP,
                         "a target of type %s is not allowed for this metric source%s", types[type],
                         (allowed == (1u << HPA_TARGET_AVERAGE_VALUE)) ? " (Pods metrics take "
                                                                         "AverageValue)"
                                                                       : "");
    m->target = type;
    static const char *const field[] = {"averageUtilization", "value", "averageValue"};
    const cfg_node *v = map_get(t, field[type]);
    if (!v)
        return cfg_error(t, err, GP_EMISSING, "%s: required when type is %s", field[type],
                         types[type]);
    for (int i = 0; i < 3; i++)
        if (i != type && map_get(t, field[i]))
            return cfg_error(map_get(t, field[i]), err, GP_EPARSE, "%s does not go with type %s",
                             field[i], types[type]);
    if (type == HPA_TARGET_UTILIZATION) {
        int64_t u;
        if ((rc = cfg_node_int64(v, 1, INT32_MAX, &u, err)) < 0)
            return rc;
        m->target_util_pct = (int32_t)u;
        return 0;
    }
    if ((rc = node_quantity_milli(v, &m->target_milli, err)) < 0)
        return rc;
    if (m->target_milli <= 0)
        return cfg_error(v, err, GP_ERANGE, "must be positive");
    return 0;
}

static int parse_metric(const cfg_node *n, hpa_metric_spec *m, gp_error *err)
{
    int rc = expect_map(n, err);
    if (rc < 0)
        return rc;
    memset(m, 0, sizeof(*m));
    const char *type;
    if ((rc = cfg_req_string(n, "type", &type, err)) < 0)
        return rc;
    const cfg_node *type_node = map_get(n, "type");
    char name[64] = "";
    if (strcmp(type, "Resource") == 0 || strcmp(type, "ContainerResource") == 0) {
        const cfg_node *res =
            map_get(n, strcmp(type, "Resource") == 0 ? "resource" : "containerResource");
        const char *rn = NULL;
        if (res && map_get(res, "name"))
            rn = cfg_scalar(map_get(res, "name"));
        return cfg_error(
            type_node, err, GP_ENOTSUP,
            "%s metric%s%s is not modelled: gpenlab pods are GPU-bound and have no CPU/memory "
            "requests; use a Pods metric DCGM_FI_DEV_GPU_UTIL (averageValue: \"80\", percent) "
            "or DCGM_FI_DEV_FB_USED_ratio (averageValue: \"0.8\"), or an External metric",
            type, rn ? " " : "", rn ? rn : "");
    }
    if (strcmp(type, "Pods") == 0) {
        static const char *const keys[] = {"type", "pods", NULL};
        if ((rc = cfg_check_keys(n, keys, err)) < 0)
            return rc;
        const cfg_node *src = map_get(n, "pods");
        if (!src)
            return cfg_error(n, err, GP_EMISSING, "pods: required when type is Pods");
        static const char *const skeys[] = {"metric", "target", NULL};
        if ((rc = expect_map(src, err)) < 0 || (rc = cfg_check_keys(src, skeys, err)) < 0)
            return rc;
        m->source = HPA_SRC_PODS;
        const cfg_node *mid = map_get(src, "metric");
        if (!mid)
            return cfg_error(src, err, GP_EMISSING, "metric: required");
        if ((rc = parse_metric_id(mid, &m->ref, name, sizeof(name), err)) < 0)
            return rc;
        if (m->ref.pod == MM_POD_NONE && !m->ref.intensive)
            return cfg_error(map_get(mid, "name"), err, GP_ENOTSUP,
                             "%s is one cluster-wide series, not a per-pod metric: use it as "
                             "an External metric",
                             name);
        const cfg_node *t = map_get(src, "target");
        if (!t)
            return cfg_error(src, err, GP_EMISSING, "target: required");
        if ((rc = parse_target(t, 1u << HPA_TARGET_AVERAGE_VALUE, m, err)) < 0)
            return rc;
        snprintf(m->label, sizeof(m->label), "pods metric %s", name);
        return 0;
    }
    if (strcmp(type, "Object") == 0 || strcmp(type, "External") == 0) {
        bool object = type[0] == 'O';
        static const char *const okeys[] = {"type", "object", NULL};
        static const char *const ekeys[] = {"type", "external", NULL};
        if ((rc = cfg_check_keys(n, object ? okeys : ekeys, err)) < 0)
            return rc;
        const cfg_node *src = map_get(n, object ? "object" : "external");
        if (!src)
            return cfg_error(n, err, GP_EMISSING, "%s: required when type is %s",
                             object ? "object" : "external", type);
        static const char *const oskeys[] = {"metric", "target", "describedObject", NULL};
        static const char *const eskeys[] = {"metric", "target", NULL};
        if ((rc = expect_map(src, err)) < 0 ||
            (rc = cfg_check_keys(src, object ? oskeys : eskeys, err)) < 0)
            return rc;
        m->source = object ? HPA_SRC_OBJECT : HPA_SRC_EXTERNAL;
        const cfg_node *mid = map_get(src, "metric");
        if (!mid)
            return cfg_error(src, err, GP_EMISSING, "metric: required");
        if ((rc = parse_metric_id(mid, &m->ref, name, sizeof(name), err)) < 0)
            return rc;
        const cfg_node *t = map_get(src, "target");
        if (!t)
            return cfg_error(src, err, GP_EMISSING, "target: required");
        if ((rc = parse_target(t, (1u << HPA_TARGET_VALUE) | (1u << HPA_TARGET_AVERAGE_VALUE), m,
                               err)) < 0)
            return rc;
        snprintf(m->label, sizeof(m->label), "%s metric %s", object ? "object" : "external", name);
        return 0;
    }
    return cfg_error(type_node, err, GP_EUNKNOWN,
                     "unknown metric source type \"%s\" (Pods, Object or External; Resource "
                     "and ContainerResource are not modelled)",
                     type);
}

static int parse_controller(const cfg_node *c, hpa_spec *s, gp_error *err)
{
    static const char *const keys[] = {"syncPeriod", "tolerance", "downscaleStabilization", NULL};
    int rc = expect_map(c, err);
    if (rc < 0 || (rc = cfg_check_keys(c, keys, err)) < 0)
        return rc;
    if ((rc = cfg_opt_duration_us(c, "syncPeriod", 1000, 3600 * US_PER_S, &s->sync_period_us,
                                  err)) < 0)
        return rc;
    if ((rc = cfg_opt_double(c, "tolerance", 0.0, 10.0, &s->tolerance, err)) < 0)
        return rc;
    if ((rc = cfg_opt_duration_us(c, "downscaleStabilization", 0, 3600 * US_PER_S,
                                  &s->downscale_window_us, err)) < 0)
        return rc;
    return 0;
}

/* HorizontalPodAutoscalerSpec; `inline_controller`: the spec map itself is the config,
 * and gpenlab's `controller:` key sits beside the spec's keys. */
static int parse_spec(const cfg_node *spec, const cfg_node *controller, bool inline_controller,
                      hpa_spec *s, gp_error *err)
{
    static const char *const keys[] = {"scaleTargetRef", "minReplicas", "maxReplicas",
                                       "metrics",        "behavior",    NULL};
    static const char *const keys_ctl[] = {
        "scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior", "controller", NULL};
    int rc = expect_map(spec, err);
    if (rc < 0 || (rc = cfg_check_keys(spec, inline_controller ? keys_ctl : keys, err)) < 0)
        return rc;
    /* scaleTargetRef names the Deployment; gpenlab has one, so it is accepted and unused */
    int v;
    if ((rc = cfg_opt_int(spec, "minReplicas", 0, INT32_MAX, &v, err)) < 0)
        return rc;
    if (rc == 1)
        s->min_replicas = v;
    if ((rc = cfg_req_int(spec, "maxReplicas", 1, INT32_MAX, &v, err)) < 0)
        return rc;
    s->max_replicas = v;
    if (s->max_replicas < s->min_replicas)
        return cfg_error(map_get(spec, "maxReplicas"), err, GP_ERANGE,
                         "maxReplicas (%d) must be at least minReplicas (%d)", s->max_replicas,
                         s->min_replicas);
    const cfg_node *metrics = map_get(spec, "metrics");
    if (!metrics || cfg_len(metrics) == 0)
        return cfg_error(metrics ? metrics : spec, err, GP_EMISSING,
                         "metrics: none given; Kubernetes would default to cpu utilisation "
                         "80%%, which gpenlab does not model: give a Pods or External metric");
    if (cfg_node_kind(metrics) != CFG_SEQ)
        return cfg_error(metrics, err, GP_EPARSE, "metrics: expected a list");
    if (cfg_len(metrics) > HPA_MAX_METRICS)
        return cfg_error(metrics, err, GP_ELIMIT, "at most %d metrics", HPA_MAX_METRICS);
    bool object_or_external = false;
    for (size_t i = 0; i < cfg_len(metrics); i++) {
        if ((rc = parse_metric(cfg_seq_at(metrics, i), &s->metrics[i], err)) < 0)
            return rc;
        object_or_external |=
            s->metrics[i].source == HPA_SRC_OBJECT || s->metrics[i].source == HPA_SRC_EXTERNAL;
        s->n_metrics = (int)i + 1;
    }
    if (s->min_replicas == 0 && !object_or_external)
        return cfg_error(map_get(spec, "minReplicas"), err, GP_ERANGE,
                         "minReplicas 0 (HPAScaleToZero) needs at least one Object or "
                         "External metric");
    const cfg_node *beh = map_get(spec, "behavior");
    if (beh && (rc = hpa_behavior_parse(beh, s, err)) < 0)
        return rc;
    if (controller && (rc = parse_controller(controller, s, err)) < 0)
        return rc;
    return 0;
}

int hpa_spec_parse(const cfg_node *cfg, hpa_spec *s, gp_error *err)
{
    hpa_spec_init(s);
    if (!cfg)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "config",
                            "the hpa policy needs a config: a HorizontalPodAutoscaler "
                            "manifest or its spec");
    int rc = expect_map(cfg, err);
    if (rc < 0)
        return rc;
    if (map_get(cfg, "spec") || map_get(cfg, "kind") || map_get(cfg, "apiVersion")) {
        /* a whole manifest, as `kubectl get hpa -o yaml` prints it */
        static const char *const keys[] = {"apiVersion", "kind",       "metadata", "spec",
                                           "status",     "controller", NULL};
        if ((rc = cfg_check_keys(cfg, keys, err)) < 0)
            return rc;
        const char *av = NULL, *kind = NULL;
        if ((rc = cfg_opt_string(cfg, "apiVersion", &av, err)) < 0)
            return rc;
        if (av && strcmp(av, "autoscaling/v2") != 0 && strcmp(av, "autoscaling/v2beta2") != 0)
            return cfg_error(map_get(cfg, "apiVersion"), err, GP_ENOTSUP,
                             "apiVersion %s: only autoscaling/v2 (and v2beta2) is read; "
                             "`kubectl get hpa.v2.autoscaling NAME -o yaml` prints it",
                             av);
        if ((rc = cfg_opt_string(cfg, "kind", &kind, err)) < 0)
            return rc;
        if (kind && strcmp(kind, "HorizontalPodAutoscaler") != 0)
            return cfg_error(map_get(cfg, "kind"), err, GP_EUNKNOWN,
                             "kind %s: expected HorizontalPodAutoscaler", kind);
        const cfg_node *spec = map_get(cfg, "spec");
        if (!spec)
            return cfg_error(cfg, err, GP_EMISSING, "spec: required");
        return parse_spec(spec, map_get(cfg, "controller"), false, s, err);
    }
    /* the spec map itself, with gpenlab's `controller:` beside its keys */
    return parse_spec(cfg, map_get(cfg, "controller"), true, s, err);
}

/* ------------------------------------------------------------------ one reconcile */

/* Pods of the observation as groupPods() sorts them. A STARTING pod (cold start) counts as
 * phase Pending; a DRAINING one carries a deletionTimestamp; GONE pods are not listed. */
static size_t sample_pods(const hpa_metric_spec *m, const policy_obs *obs, hpa_pod_sample *out)
{
    size_t k = 0;
    for (int i = 0; i < obs->n_pods; i++) {
        const pod_obs *p = &obs->pod[i];
        hpa_pod_sample s = {HPA_POD_IGNORED, 0, 1000};
        double v;
        switch (p->state) {
        case POD_GONE:
        case POD_STATES: continue;
        case POD_DRAINING: s.cls = HPA_POD_IGNORED; break;
        case POD_PENDING:
        case POD_STARTING: s.cls = HPA_POD_UNREADY; break;
        case POD_READY:
            if (metric_map_pod_value(&m->ref, obs, p, &v)) {
                s.cls = HPA_POD_READY;
                s.value_milli = value_to_milli(v, m->value_truncate);
            } else {
                s.cls = HPA_POD_MISSING;
            }
            break;
        }
        out[k++] = s;
    }
    return k;
}

static double milli_to_d(int64_t m) { return (double)m / 1000.0; }

int hpa_metric_proposal(const hpa_spec *s, const hpa_metric_spec *m, const policy_obs *obs,
                        int32_t *replicas, char *note, size_t note_len)
{
    hpa_tolerances tol = hpa_spec_tolerances(s);
    int32_t current = obs->spec_replicas;
    int32_t ready = obs->pods[POD_READY];
    int32_t status = obs->pods[POD_PENDING] + obs->pods[POD_STARTING] + obs->pods[POD_READY];
    if (!obs->metrics_valid) {
        snprintf(note, note_len, "unable to get %s: the metrics source is down", m->label);
        return GP_EMISSING;
    }
    if (m->source == HPA_SRC_PODS || m->source == HPA_SRC_RESOURCE) {
        size_t n = obs->n_pods > 0 ? (size_t)obs->n_pods : 1;
        hpa_pod_sample *pods = malloc(n * sizeof(*pods));
        if (!pods)
            return GP_ENOMEM;
        size_t k = sample_pods(m, obs, pods);
        int64_t usage = 0;
        int rc = k == 0 ? GP_EMISSING
                        : hpa_calc_plain(current, m->target_milli, tol, pods, k, replicas, &usage);
        free(pods);
        if (rc < 0) {
            snprintf(note, note_len, "%s: %s", m->label,
                     k == 0 ? "no pods returned by selector"
                            : "did not receive metrics for targeted pods (pods might be "
                              "unready)");
            return rc;
        }
        snprintf(note, note_len, "%s avg %g/%g -> %d", m->label, milli_to_d(usage),
                 milli_to_d(m->target_milli), *replicas);
        return 0;
    }
    double v = metric_map_value(&m->ref, obs);
    if (isnan(v)) {
        if (!m->nan_as_zero) {
            snprintf(note, note_len, "unable to get %s: no value", m->label);
            return GP_EMISSING;
        }
        v = 0.0;
    }
    int64_t milli = value_to_milli(v, m->value_truncate);
    if (m->target == HPA_TARGET_AVERAGE_VALUE) {
        *replicas = hpa_calc_per_pod(status, milli, m->target_milli, tol, NULL);
        snprintf(note, note_len, "%s %g/%g per pod -> %d", m->label, milli_to_d(milli),
                 milli_to_d(m->target_milli), *replicas);
        return 0;
    }
    double ratio = (double)milli / (double)m->target_milli;
    if (current != 0 && !hpa_tolerances_within(tol, ratio) && obs->n_pods == 0) {
        snprintf(note, note_len, "%s: no pods returned by selector", m->label);
        return GP_EMISSING;
    }
    *replicas = hpa_calc_usage_ratio(current, ratio, ready, tol);
    snprintf(note, note_len, "%s %g/%g -> %d", m->label, milli_to_d(milli),
             milli_to_d(m->target_milli), *replicas);
    return 0;
}

static void set_out(policy_decision *out, int32_t desired, int reason, const char *detail)
{
    out->desired_pods = desired;
    out->reason = reason;
    size_t n = strlen(detail);
    if (n >= sizeof(out->detail))
        n = sizeof(out->detail) - 1; /* one line; the tail of a long note is dropped */
    memcpy(out->detail, detail, n);
    out->detail[n] = '\0';
}

int hpa_reconcile(const hpa_spec *s, hpa_history *h, const policy_obs *obs, policy_decision *out,
                  gp_error *err)
{
    int64_t now = obs->now_us;
    int32_t current = obs->spec_replicas;
    char detail[512];
    if (!h->recs_init && hpa_history_push_rec(h, current, now) < 0)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    if (current == 0 && s->min_replicas != 0) {
        set_out(out, 0, POLICY_R_NONE,
                "ScalingDisabled: scaling is disabled since the replica count of the target "
                "is zero");
        return 0;
    }
    int32_t desired;
    int reason;
    if (current > s->max_replicas) {
        desired = s->max_replicas;
        reason = POLICY_R_BOUNDS;
        snprintf(detail, sizeof(detail), "Current number of replicas above Spec.MaxReplicas");
    } else if (current < s->min_replicas) {
        desired = s->min_replicas;
        reason = POLICY_R_BOUNDS;
        snprintf(detail, sizeof(detail), "Current number of replicas below Spec.MinReplicas");
    } else {
        /* computeReplicasForMetrics: the largest valid proposal */
        int32_t best = 0;
        int invalid = 0;
        char best_note[200] = "", first_err[200] = "", note[200];
        for (int i = 0; i < s->n_metrics; i++) {
            int32_t p = 0;
            int rc = hpa_metric_proposal(s, &s->metrics[i], obs, &p, note, sizeof(note));
            if (rc == GP_ENOMEM)
                return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
            if (rc < 0) {
                if (invalid++ == 0)
                    snprintf(first_err, sizeof(first_err), "%s", note);
                continue;
            }
            if (best == 0 || p > best) {
                best = p;
                snprintf(best_note, sizeof(best_note), "%s", note);
            }
        }
        /* no scale-down while a metric is missing; nothing at all if none is valid */
        if (invalid >= s->n_metrics || (invalid > 0 && best < current)) {
            snprintf(detail, sizeof(detail), "invalid metrics (%d invalid out of %d), first: %s",
                     invalid, s->n_metrics, first_err);
            set_out(out, current, POLICY_R_NO_METRICS, detail);
            return 0;
        }
        int32_t pre = best > 0 ? best : 0;
        int32_t stab;
        hpa_cond cond;
        if (!s->has_behavior) {
            if (hpa_stabilize_legacy(h, now, s->downscale_window_us, pre, &stab) < 0)
                return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
            desired = hpa_convert_with_rules(current, stab, s->min_replicas, s->max_replicas,
                                             s->up_limit_factor, s->up_limit_minimum, &cond);
        } else {
            int32_t down_w = s->down.window_s >= 0 ? s->down.window_s
                                                   : (int32_t)(s->downscale_window_us / US_PER_S);
            if (hpa_stabilize_with_behavior(h, now, s->up.window_s, down_w, current, pre, &stab) <
                0)
                return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
            desired = hpa_convert_with_behavior_rate(h, now, &s->up, &s->down, s->min_replicas,
                                                     s->max_replicas, current, stab, &cond);
        }
        int n = snprintf(detail, sizeof(detail), "%s", best_note);
        if (stab != pre && n >= 0 && (size_t)n < sizeof(detail))
            n += snprintf(detail + n, sizeof(detail) - (size_t)n, "; %s %d",
                          stab > pre ? "ScaleDownStabilized" : "ScaleUpStabilized", stab);
        if (cond != HPA_COND_DESIRED_WITHIN_RANGE && n >= 0 && (size_t)n < sizeof(detail))
            snprintf(detail + n, sizeof(detail) - (size_t)n, "; %s %d", hpa_cond_name(cond),
                     desired);
        if (desired > current)
            reason = cond == HPA_COND_SCALE_UP_LIMIT      ? POLICY_R_SCALE_UP_LIMIT
                     : cond == HPA_COND_TOO_MANY_REPLICAS ? POLICY_R_BOUNDS
                                                          : POLICY_R_SCALE_UP;
        else if (desired < current)
            reason = cond == HPA_COND_SCALE_DOWN_LIMIT   ? POLICY_R_SCALE_DOWN_LIMIT
                     : cond == HPA_COND_TOO_FEW_REPLICAS ? POLICY_R_BOUNDS
                                                         : POLICY_R_SCALE_DOWN;
        else if (stab != pre)
            reason = POLICY_R_STABILIZED;
        else if (cond == HPA_COND_SCALE_UP_LIMIT)
            reason = POLICY_R_SCALE_UP_LIMIT;
        else if (cond == HPA_COND_SCALE_DOWN_LIMIT)
            reason = POLICY_R_SCALE_DOWN_LIMIT;
        else if (cond != HPA_COND_DESIRED_WITHIN_RANGE)
            reason = POLICY_R_BOUNDS;
        else
            reason = POLICY_R_WITHIN_TOLERANCE;
    }
    const hpa_rules *dir = desired > current ? &s->up : &s->down;
    if (desired != current &&
        hpa_store_scale_event(h, s->has_behavior ? dir : NULL, now, current, desired) < 0)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    set_out(out, desired, reason, detail);
    return 0;
}

/* ------------------------------------------------------------------ policy_ops */

typedef struct hpa_policy {
    hpa_spec spec;
    hpa_history hist;
} hpa_policy;

static int hpa_create(const cfg_node *cfg, const policy_env *env, void **state, policy_info *info,
                      gp_error *err)
{
    (void)env;
    hpa_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = hpa_spec_parse(cfg, &p->spec, err);
    if (rc < 0) {
        free(p);
        return rc;
    }
    info->sync_period_us = p->spec.sync_period_us;
    info->min_pods = p->spec.min_replicas;
    info->max_pods = p->spec.max_replicas;
    *state = p;
    return 0;
}

static int hpa_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    hpa_policy *p = state;
    return hpa_reconcile(&p->spec, &p->hist, obs, out, err);
}

static void hpa_destroy(void *state)
{
    hpa_policy *p = state;
    if (!p)
        return;
    hpa_history_free(&p->hist);
    free(p);
}

const policy_ops policy_hpa_ops = {
    .name = "hpa",
    .summary = "Kubernetes autoscaling/v2 HorizontalPodAutoscaler (kube-controller-manager)",
    .create = hpa_create,
    .decide = hpa_decide,
    .on_arrival = NULL,
    .destroy = hpa_destroy,
    .live = POLICY_LIVE_HPA,
};
