/* predictive.c: learns the daily (and optionally weekly) shape of the load from the run
 * itself and scales ahead of it; a reactive floor catches what the forecast misses.
 *
 * Learning. Every new scraped sample of OBS_ARRIVAL_RATE (requests/s over the scrape
 * interval) is weighted by the time it covers and added to the time-of-day bin (bin,
 * default 5 min) that contains the middle of that interval. When a bin closes, its mean
 * rate is folded into the profile slot for that time of day: the first day sets it, later
 * days blend it as an exponentially weighted mean, slot = alpha x day + (1 - alpha) x slot
 * (alpha 0.5). With weekly: true a second profile keyed by time of week is kept too and
 * is preferred wherever it has data. A bin that got no sample (metrics down) is skipped.
 *
 * Forecast. At time t the policy needs pods that will be ready when the load comes, so it
 * looks at the bins overlapping [t, t + lead + sync period], lead = the mean cold start
 * (env->cold_start_us) unless configured, and takes the highest learned rate among them:
 *   forecast pods = ceil(rate / (pod capacity x target_utilization)),
 * pod capacity = env->pod_capacity_per_s (requests/s one pod sustains). Bins with no
 * history give no forecast: on the first day only the floor acts.
 *
 * Floor. `floor: {policy: NAME, config: {...}}` creates that policy (by its registry
 * name, e.g. hpa) with the same environment and calls its decide() on every
 * observation; its -1 ("keep") counts as the current spec. Without it, a target-tracking
 * rule of this file: ceil((rate + queue / floor_queue_drain) / (capacity x
 * floor_target_utilization)), held up for floor_scale_down_window (5 min) against
 * scale-down flapping (the maximum of the window's recommendations).
 *
 * desired = max(forecast pods, floor pods). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "policy/policy.h"

extern const policy_ops policy_predictive_ops; /* below: a floor may not be itself */

typedef struct floor_rec {
    int64_t t_us;
    int pods;
} floor_rec;

typedef struct predictive_state {
    int64_t bin_us, period_us, week_us, lead_us, sync_us;
    bool weekly;
    double alpha, target_util, capacity_per_s;
    int nbins_day, nbins_week;
    double *day_rate;
    uint32_t *day_seen;
    double *week_rate;
    uint32_t *week_seen;
    /* the bin being accumulated */
    bool acc_open;
    int64_t acc_bin; /* absolute index: floor(t / bin_us) */
    double acc_work; /* sum of rate x seconds */
    double acc_secs;
    bool have_sample;
    int64_t sample_us;
    int64_t scrape_interval_us;
    /* floor */
    const policy_ops *floor_ops;
    void *floor_state;
    double floor_util;
    int64_t floor_drain_us, floor_window_us;
    floor_rec *recs;
    int nrecs, rec_head, rec_len;
} predictive_state;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t mod_pos(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

static void predictive_destroy(void *state)
{
    predictive_state *s = state;
    if (!s)
        return;
    if (s->floor_ops && s->floor_state)
        s->floor_ops->destroy(s->floor_state);
    free(s->day_rate);
    free(s->day_seen);
    free(s->week_rate);
    free(s->week_seen);
    free(s->recs);
    free(s);
}

static int make_floor(predictive_state *s, const cfg_node *fl, const policy_env *env,
                      policy_info *info, gp_error *err)
{
    static const char *const keys[] = {"policy", "config", NULL};
    TRY(cfg_check_keys(fl, keys, err));
    const char *name;
    TRY(cfg_req_string(fl, "policy", &name, err));
    const cfg_node *pn = cfg_map_get(fl, "policy");
    const policy_ops *ops = policy_find(name);
    if (ops == &policy_predictive_ops) /* itself: a floor of floors without end */
        return cfg_error(pn, err, GP_ERANGE, "the floor of predictive cannot be predictive");
    if (!ops) {
        char list[256] = "";
        size_t used = 0;
        const policy_ops *const *all = policy_all();
        for (size_t i = 0; all[i]; i++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", all[i]->name);
            if (w < 0 || (size_t)w >= sizeof(list) - used)
                break;
            used += (size_t)w;
        }
        return cfg_error(pn, err, GP_EUNKNOWN, "unknown floor policy \"%s\" (known: %s)", name,
                         list);
    }
    policy_info ninfo = {.sync_period_us = 15 * US_PER_S,
                         .flags = 0,
                         .initial_pods = -1,
                         .min_pods = -1,
                         .max_pods = -1};
    void *st = NULL;
    TRY(ops->create(cfg_map_get(fl, "config"), env, &st, &ninfo, err));
    s->floor_ops = ops;
    s->floor_state = st;
    info->sync_period_us = ninfo.sync_period_us;
    info->flags = ninfo.flags & POLICY_F_ACTIVATOR; /* per-request makes no sense here */
    info->initial_pods = ninfo.initial_pods;
    info->min_pods = ninfo.min_pods;
    info->max_pods = ninfo.max_pods;
    return 0;
}

static int predictive_parse(predictive_state *s, const cfg_node *cfg, const policy_env *env,
                            policy_info *info, gp_error *err)
{
    static const char *const keys[] = {"bin",
                                       "period",
                                       "weekly",
                                       "alpha",
                                       "target_utilization",
                                       "lead",
                                       "pod_capacity_per_s",
                                       "sync_period",
                                       "floor",
                                       "floor_target_utilization",
                                       "floor_queue_drain",
                                       "floor_scale_down_window",
                                       NULL};
    s->bin_us = 300 * US_PER_S;
    s->period_us = 86400 * US_PER_S;
    s->weekly = false;
    s->alpha = 0.5;
    s->target_util = 0.7;
    s->lead_us = env->cold_start_us > 0 ? env->cold_start_us : 0;
    s->capacity_per_s = env->pod_capacity_per_s;
    s->floor_drain_us = 60 * US_PER_S;
    s->floor_window_us = 300 * US_PER_S;
    s->floor_util = -1;
    s->scrape_interval_us = env->scrape_interval_us > 0 ? env->scrape_interval_us : 15 * US_PER_S;
    int64_t sync = -1;
    if (cfg) {
        const int64_t day = 86400 * US_PER_S;
        TRY(cfg_check_keys(cfg, keys, err));
        TRY(cfg_opt_duration_us(cfg, "bin", US_PER_S, day, &s->bin_us, err));
        TRY(cfg_opt_duration_us(cfg, "period", 60 * US_PER_S, 7 * day, &s->period_us, err));
        TRY(cfg_opt_bool(cfg, "weekly", &s->weekly, err));
        TRY(cfg_opt_double(cfg, "alpha", 1e-6, 1, &s->alpha, err));
        TRY(cfg_opt_double(cfg, "target_utilization", 0.01, 1, &s->target_util, err));
        TRY(cfg_opt_duration_us(cfg, "lead", 0, day, &s->lead_us, err));
        TRY(cfg_opt_double(cfg, "pod_capacity_per_s", 1e-9, 1e9, &s->capacity_per_s, err));
        TRY(cfg_opt_duration_us(cfg, "sync_period", 100000, 3600 * US_PER_S, &sync, err));
        TRY(cfg_opt_double(cfg, "floor_target_utilization", 0.01, 1, &s->floor_util, err));
        TRY(cfg_opt_duration_us(cfg, "floor_queue_drain", US_PER_S, day, &s->floor_drain_us, err));
        TRY(cfg_opt_duration_us(cfg, "floor_scale_down_window", 0, day, &s->floor_window_us, err));
        if (s->period_us % s->bin_us != 0)
            return cfg_error(cfg, err, GP_ERANGE, "period must be a whole number of bins");
    }
    if (!(s->capacity_per_s > 0))
        return cfg_error(cfg, err, GP_EMISSING,
                         "predictive needs the pod capacity (env pod_capacity_per_s or the "
                         "key pod_capacity_per_s)");
    if (s->floor_util < 0)
        s->floor_util = s->target_util;
    s->week_us = 7 * s->period_us;
    s->nbins_day = (int)(s->period_us / s->bin_us);
    s->nbins_week = s->weekly ? 7 * s->nbins_day : 0;
    if (s->nbins_day > 1000000)
        return cfg_error(cfg, err, GP_ELIMIT, "more than 1e6 bins a period");
    const cfg_node *fl = cfg ? cfg_map_get(cfg, "floor") : NULL;
    if (fl && !(cfg_node_kind(fl) == CFG_SCALAR && cfg_scalar(fl) && !cfg_scalar(fl)[0]))
        TRY(make_floor(s, fl, env, info, err));
    s->sync_us = sync > 0 ? sync : s->floor_ops ? info->sync_period_us : 15 * US_PER_S;
    return 0;
}

static int predictive_create(const cfg_node *cfg, const policy_env *env, void **state,
                             policy_info *info, gp_error *err)
{
    predictive_state *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = predictive_parse(s, cfg, env, info, err);
    if (rc < 0) {
        predictive_destroy(s);
        return rc;
    }
    s->day_rate = calloc((size_t)s->nbins_day, sizeof(double));
    s->day_seen = calloc((size_t)s->nbins_day, sizeof(uint32_t));
    if (s->weekly) {
        s->week_rate = calloc((size_t)s->nbins_week, sizeof(double));
        s->week_seen = calloc((size_t)s->nbins_week, sizeof(uint32_t));
    }
    s->nrecs = (int)(s->floor_window_us / s->sync_us) + 2;
    s->recs = calloc((size_t)s->nrecs, sizeof(floor_rec));
    if (!s->day_rate || !s->day_seen || !s->recs ||
        (s->weekly && (!s->week_rate || !s->week_seen))) {
        predictive_destroy(s);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    info->sync_period_us = s->sync_us;
    *state = s;
    return 0;
}

static void fold(double *rate, uint32_t *seen, int64_t slot, double mean, double alpha)
{
    rate[slot] = seen[slot] ? alpha * mean + (1.0 - alpha) * rate[slot] : mean;
    if (seen[slot] < UINT32_MAX)
        seen[slot]++;
}

static void close_bin(predictive_state *s)
{
    if (!s->acc_open || !(s->acc_secs > 0))
        return;
    double mean = s->acc_work / s->acc_secs;
    fold(s->day_rate, s->day_seen, mod_pos(s->acc_bin, s->nbins_day), mean, s->alpha);
    if (s->weekly)
        fold(s->week_rate, s->week_seen, mod_pos(s->acc_bin, s->nbins_week), mean, s->alpha);
}

/* One new sample: rate over the interval (t - dt, t]. */
static void learn(predictive_state *s, int64_t t_us, int64_t dt_us, double rate)
{
    int64_t mid = t_us - dt_us / 2;
    int64_t b = floor_div(mid, s->bin_us);
    if (!s->acc_open || b != s->acc_bin) {
        if (s->acc_open && b < s->acc_bin)
            return; /* out of order: ignored */
        close_bin(s);
        s->acc_open = true;
        s->acc_bin = b;
        s->acc_work = 0;
        s->acc_secs = 0;
    }
    double secs = (double)dt_us / 1e6;
    s->acc_work += rate * secs;
    s->acc_secs += secs;
}

/* Highest learned rate among the bins overlapping [t0, t1]; -1 if none has history. */
static double forecast_rate(const predictive_state *s, int64_t t0, int64_t t1)
{
    double best = -1;
    for (int64_t b = floor_div(t0, s->bin_us); b <= floor_div(t1, s->bin_us); b++) {
        double r = -1;
        if (s->weekly) {
            int64_t w = mod_pos(b, s->nbins_week);
            if (s->week_seen[w])
                r = s->week_rate[w];
        }
        if (r < 0) {
            int64_t d = mod_pos(b, s->nbins_day);
            if (s->day_seen[d])
                r = s->day_rate[d];
        }
        if (r > best)
            best = r;
    }
    return best;
}

static int pods_for(double rate, double capacity, double util)
{
    double p = ceil(rate / (capacity * util) - 1e-9);
    if (!(p > 0))
        return 0;
    return p > 1e6 ? 1000000 : (int)p;
}

/* The built-in floor: target tracking on the arrival rate plus the backlog, with a
 * scale-down stabilisation window. Returns -1 when it has no metrics. */
static int own_floor(predictive_state *s, const policy_obs *obs, char *why, size_t why_len)
{
    double rate = obs->metric[OBS_ARRIVAL_RATE];
    double q = obs->metric[OBS_QUEUE_LEN];
    if (!obs->metrics_valid || !isfinite(rate)) {
        snprintf(why, why_len, "floor: no metrics, hold");
        return -1;
    }
    if (!isfinite(q) || q < 0)
        q = 0;
    double need = rate + q / ((double)s->floor_drain_us / 1e6);
    int raw = pods_for(need, s->capacity_per_s, s->floor_util);
    /* record, drop what left the window, take the maximum */
    if (s->rec_len == s->nrecs) {
        s->rec_head = (s->rec_head + 1) % s->nrecs;
        s->rec_len--;
    }
    s->recs[(s->rec_head + s->rec_len) % s->nrecs] = (floor_rec){obs->now_us, raw};
    s->rec_len++;
    while (s->rec_len > 1 && s->recs[s->rec_head].t_us <= obs->now_us - s->floor_window_us) {
        s->rec_head = (s->rec_head + 1) % s->nrecs;
        s->rec_len--;
    }
    int best = 0;
    for (int i = 0; i < s->rec_len; i++) {
        int p = s->recs[(s->rec_head + i) % s->nrecs].pods;
        if (p > best)
            best = p;
    }
    snprintf(why, why_len, "floor %d (rate %.2f/s + queue %.0f; now %d)", best, rate, q, raw);
    return best;
}

static int predictive_decide(void *state, const policy_obs *obs, policy_decision *out,
                             gp_error *err)
{
    predictive_state *s = state;
    double rate = obs->metric[OBS_ARRIVAL_RATE];
    if (obs->metrics_valid && isfinite(rate) && rate >= 0 &&
        (!s->have_sample || obs->scrape_us > s->sample_us)) {
        int64_t dt = s->have_sample ? obs->scrape_us - s->sample_us : s->scrape_interval_us;
        if (dt > s->scrape_interval_us)
            dt = s->scrape_interval_us; /* after a gap, only the scrape's own interval */
        learn(s, obs->scrape_us, dt, rate);
        s->have_sample = true;
        s->sample_us = obs->scrape_us;
    }

    int floor_pods;
    int floor_reason;
    char fwhy[128];
    if (s->floor_ops) {
        policy_decision nd;
        policy_decision_init(&nd);
        TRY(s->floor_ops->decide(s->floor_state, obs, &nd, err));
        floor_pods = nd.desired_pods >= 0 ? nd.desired_pods : obs->spec_replicas;
        floor_reason = nd.reason;
        snprintf(fwhy, sizeof(fwhy), "floor %s %d (%s)", s->floor_ops->name, floor_pods,
                 policy_reason_name(nd.reason));
    } else {
        floor_pods = own_floor(s, obs, fwhy, sizeof(fwhy));
        floor_reason = POLICY_R_SCALE_UP;
        if (floor_pods < 0) {
            floor_pods = obs->spec_replicas;
            floor_reason = POLICY_R_NO_METRICS;
        } else if (floor_pods < obs->spec_replicas) {
            floor_reason = POLICY_R_SCALE_DOWN;
        } else if (floor_pods == obs->spec_replicas) {
            floor_reason = POLICY_R_WITHIN_TOLERANCE;
        }
    }

    int64_t horizon = s->lead_us + s->sync_us;
    double fr = forecast_rate(s, obs->now_us, obs->now_us + horizon);
    int fpods = fr >= 0 ? pods_for(fr, s->capacity_per_s, s->target_util) : -1;
    if (fpods > floor_pods) {
        out->desired_pods = fpods;
        out->reason = POLICY_R_FORECAST;
    } else {
        out->desired_pods = floor_pods;
        out->reason = floor_reason;
    }
    if (fpods >= 0)
        snprintf(out->detail, sizeof(out->detail),
                 "forecast %.2f/s over next %.0fs -> %d pods; %s -> %d", fr, (double)horizon / 1e6,
                 fpods, fwhy, out->desired_pods);
    else
        snprintf(out->detail, sizeof(out->detail), "no history for the next %.0fs; %s -> %d",
                 (double)horizon / 1e6, fwhy, out->desired_pods);
    return 0;
}

static int predictive_on_arrival(void *state, const policy_obs *obs, policy_decision *out,
                                 gp_error *err)
{
    predictive_state *s = state;
    if (s->floor_ops && s->floor_ops->on_arrival)
        return s->floor_ops->on_arrival(s->floor_state, obs, out, err);
    return 0;
}

const policy_ops policy_predictive_ops = {
    .name = "predictive",
    .summary = "learns the daily shape, scales one cold start ahead; reactive floor",
    .create = predictive_create,
    .decide = predictive_decide,
    .on_arrival = predictive_on_arrival,
    .destroy = predictive_destroy,
    .live = POLICY_LIVE_DRIVER,
};
