/* clairvoyant.c: the reference line: a policy that knows the whole trace in advance.
 *
 * How it decides, at every sync (time t):
 *   1. Work ahead. The oracle (env->oracle, built by the run from the same trace and
 *      seed) gives work_s(t0, t1): the service demand in seconds, on one idle GPU, of the
 *      requests arriving in [t0, t1). Time is cut into windows of `resolution` (5 min)
 *      aligned to multiples of it; the work rate of a window is its work / its length.
 *   2. Capacity of a pod, in the same unit: pod_capacity_per_s x mean_demand_s (from
 *      the environment: requests/s one pod sustains at its concurrency, times the mean
 *      demand), i.e. the aggregate speed-up eff(concurrency) of the profile.
 *   3. Pods needed for a window: need = its work rate / (capacity x target_utilization
 *      (0.8)); then ceil(need x (1 + headroom_frac) + headroom_sqrt x sqrt(need)) +
 *      headroom_pods when need > 0 (room for queueing; a square-root term is the classic
 *      staffing rule for it; all 0 by default).
 *   4. desired(t) = that count for the busiest window overlapping
 *      [t - lookback, t + lead + horizon], lead = the mean cold start
 *      (env->cold_start_us), horizon = the sync period, lookback 0. A pod asked for now
 *      is ready at t + lead and serves until the next decision's pods arrive, hence the
 *      upper end; the window starts at t (not t + lead), so a pod that will be needed
 *      again within a cold start is never drained (draining and restarting it would
 *      cost a cold start and arrive late). lookback > 0 also keeps pods for work that
 *      arrived shortly before t and may still be in service.
 * Why 5-min windows by default: on the tidal T4 day, 1-min windows track the Poisson
 * noise of the work (about ten times the pod starts) and cost more GPU-hours at the same
 * SLO attainment; 5 and 10 min gave the lowest cost at equal SLO (the sweep is in
 * docs/policies-kpa-rule-serverless.md). target_utilization is the knob that sets the
 * SLO: compare policies at equal SLO by sweeping it.
 * It reads no metric: the observation is used only for its time. If the run provides no
 * oracle, create() fails: "clairvoyant needs the run's trace". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/common.h"
#include "policy/policy.h"

typedef struct clairvoyant_state {
    oracle_view oracle;
    double capacity_work_per_s; /* work seconds one pod completes per second */
    double target_util, headroom_frac, headroom_sqrt;
    int headroom_pods;
    int64_t resolution_us, lead_us, horizon_us, sync_us, lookback_us;
} clairvoyant_state;

static int clairvoyant_parse(clairvoyant_state *s, const cfg_node *cfg, const policy_env *env,
                             gp_error *err)
{
    static const char *const keys[] = {
        "target_utilization", "resolution",    "lead",          "horizon",     "lookback",
        "headroom_frac",      "headroom_sqrt", "headroom_pods", "sync_period", NULL};
    s->target_util = 0.8;
    s->headroom_frac = 0;
    s->headroom_pods = 0;
    s->resolution_us = 300 * US_PER_S;
    s->lead_us = env->cold_start_us > 0 ? env->cold_start_us : 0;
    s->sync_us = 15 * US_PER_S;
    s->horizon_us = -1;
    if (cfg) {
        const int64_t day = 86400 * US_PER_S;
        TRY(cfg_check_keys(cfg, keys, err));
        TRY(cfg_opt_double(cfg, "target_utilization", 0.01, 1, &s->target_util, err));
        TRY(cfg_opt_duration_us(cfg, "resolution", 1000, day, &s->resolution_us, err));
        TRY(cfg_opt_duration_us(cfg, "lead", 0, day, &s->lead_us, err));
        TRY(cfg_opt_duration_us(cfg, "horizon", 0, day, &s->horizon_us, err));
        TRY(cfg_opt_duration_us(cfg, "lookback", 0, day, &s->lookback_us, err));
        TRY(cfg_opt_double(cfg, "headroom_frac", 0, 100, &s->headroom_frac, err));
        TRY(cfg_opt_double(cfg, "headroom_sqrt", 0, 100, &s->headroom_sqrt, err));
        TRY(cfg_opt_int(cfg, "headroom_pods", 0, 100000, &s->headroom_pods, err));
        TRY(cfg_opt_duration_us(cfg, "sync_period", 100000, 3600 * US_PER_S, &s->sync_us, err));
    }
    if (s->horizon_us < 0)
        s->horizon_us = s->sync_us;
    if (!(s->capacity_work_per_s > 0))
        return cfg_error(cfg, err, GP_EMISSING,
                         "clairvoyant needs the pod capacity (env pod_capacity_per_s x "
                         "mean_demand_s is %g)",
                         s->capacity_work_per_s);
    return 0;
}

static int clairvoyant_create(const cfg_node *cfg, const policy_env *env, void **state,
                              policy_info *info, gp_error *err)
{
    if (!env->oracle || !env->oracle->work_s)
        return cfg_error(cfg, err, GP_EMISSING,
                         "clairvoyant needs the run's trace (no oracle: the run gives "
                         "foresight only for open-loop traces known in advance)");
    clairvoyant_state *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    s->oracle = *env->oracle;
    s->capacity_work_per_s = env->pod_capacity_per_s * env->mean_demand_s;
    int rc = clairvoyant_parse(s, cfg, env, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    info->sync_period_us = s->sync_us;
    *state = s;
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int clairvoyant_decide(void *state, const policy_obs *obs, policy_decision *out,
                              gp_error *err)
{
    (void)err;
    const clairvoyant_state *s = state;
    int64_t t = obs->now_us;
    int64_t end = t + s->lead_us + s->horizon_us;
    double peak = 0;
    int64_t peak_at = t;
    for (int64_t w = floor_div(t - s->lookback_us, s->resolution_us);
         w <= floor_div(end, s->resolution_us); w++) {
        int64_t w0 = w * s->resolution_us, w1 = w0 + s->resolution_us;
        if (s->oracle.end_us > 0 && w0 >= s->oracle.end_us)
            break;
        double rate = s->oracle.work_s(s->oracle.ctx, w0, w1) / ((double)s->resolution_us / 1e6);
        if (rate > peak) {
            peak = rate;
            peak_at = w0;
        }
    }
    double need = peak / (s->capacity_work_per_s * s->target_util);
    int pods = 0;
    if (need > 0) {
        double p = ceil(need * (1.0 + s->headroom_frac) + s->headroom_sqrt * sqrt(need) - 1e-9) +
                   s->headroom_pods;
        pods = p > 1e6 ? 1000000 : (int)p;
        if (pods < 1)
            pods = 1;
    }
    out->desired_pods = pods;
    out->reason = POLICY_R_ORACLE;
    snprintf(out->detail, sizeof(out->detail),
             "peak work %.3f s/s in [%.0f, %.0f]s (at %.0fs) / (%.3f s/s/pod x %.2f) = %.2f "
             "-> %d pods",
             peak, (double)t / 1e6, (double)end / 1e6, (double)peak_at / 1e6,
             s->capacity_work_per_s, s->target_util, need, pods);
    return 0;
}

static void clairvoyant_destroy(void *state) { free(state); }

const policy_ops policy_clairvoyant_ops = {
    .name = "clairvoyant",
    .summary = "knows the trace: starts the pods needed one cold start ahead (reference)",
    .create = clairvoyant_create,
    .decide = clairvoyant_decide,
    .on_arrival = NULL,
    .destroy = clairvoyant_destroy,
    .traits = POLICY_T_NEEDS_ORACLE,
    .live = POLICY_LIVE_NONE,
    .live_none_why = "it reads the future (the run's trace), which no cluster knows",
    .live_closest = "predictive",
};
