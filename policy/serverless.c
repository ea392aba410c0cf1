/* serverless.c: per-request instances (POLICY_F_PER_REQUEST) with a keep-alive policy.
 *
 * The simulator starts an instance for a request that finds no idle one (the request
 * waits for its cold start) and removes an idle instance after keep_alive_us. This
 * policy only chooses the two windows it returns from decide() and on_arrival():
 *   keep_alive_us: how long an idle instance stays loaded;
 *   prewarm_us:    0 = no pre-warm (stay loaded for the keep-alive); > 0 = unload when
 *                  idle and load again prewarm_us later, then keep it keep_alive_us.
 * desired_pods is always -1: instances follow requests, not a count.
 *
 * keep_alive_policy: fixed  -> keep_alive (default 10 min), no pre-warm.
 * keep_alive_policy: hybrid -> the hybrid histogram policy of Shahrad et al., "Serverless
 * in the Wild" (USENIX ATC 2020), with its parameters:
 *   - a histogram of idle times, here the gaps between consecutive arrivals at the
 *     service, in histogram_bin (1 min) bins up to histogram_range (4 h); gaps beyond
 *     the range are counted as out of bounds (OOB);
 *   - head = the head_percentile (5th) of the in-range idle times (lower edge of its
 *     bin), tail = the tail_percentile (99th) (upper edge of its bin);
 *   - pre-warm = head x (1 - prewarm_margin_frac (0.10)), minus the cold start when
 *     prewarm_minus_cold_start (so the instance is ready, not just loading, at the head);
 *     keep-alive = tail x (1 + keep_alive_margin_frac (0.10)) - pre-warm, so the
 *     instance stays until 110% of the tail after going idle;
 *   - the histogram is used only when it is representative: at least min_samples (10)
 *     idle times, and a coefficient of variation of the bin counts of at least
 *     cv_threshold (2; a flat histogram has CV near 0). Otherwise, or when more than
 *     oob_max_frac (0.5) of the idle times are out of bounds, the fixed fallback:
 *     no pre-warm and fallback_keep_alive (default: the histogram range, as the paper's
 *     conservative standard keep-alive).
 *   The paper's ARIMA branch for out-of-bounds idle times is NOT implemented: those
 *   functions get the fixed fallback (the detail line says so).
 * Recomputing the windows walks the histogram (O(bins)); it is done at most once per
 * sync period, so an arrival costs O(1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "policy/policy.h"

typedef enum { SL_FIXED = 0, SL_HYBRID } sl_mode;
static const char *const mode_names[] = {"fixed", "hybrid", NULL};

typedef enum {
    SL_USE_FIXED = 0,
    SL_USE_HIST,
    SL_FALLBACK_FEW,
    SL_FALLBACK_CV,
    SL_FALLBACK_OOB
} sl_use;

typedef struct serverless_state {
    int mode;
    int64_t keep_alive_us, fallback_keep_alive_us;
    int64_t bin_us, range_us, sync_us, cold_start_us;
    double head_pct, tail_pct, prewarm_margin, keep_alive_margin, cv_threshold, oob_max_frac;
    int min_samples;
    bool prewarm_minus_cold_start;
    int nbins;
    uint64_t *count; /* in-range idle times per bin */
    uint64_t n_in, n_oob;
    bool have_last;
    int64_t last_arrival_us;
    bool computed;
    int64_t computed_at_us;
    int64_t cur_keep_alive_us, cur_prewarm_us;
    sl_use use;
    double cv;
    int head_bin, tail_bin;
} serverless_state;

static int serverless_parse(serverless_state *s, const cfg_node *cfg, gp_error *err)
{
    static const char *const keys[] = {"keep_alive_policy",
                                       "keep_alive",
                                       "histogram_bin",
                                       "histogram_range",
                                       "head_percentile",
                                       "tail_percentile",
                                       "prewarm_margin_frac",
                                       "keep_alive_margin_frac",
                                       "cv_threshold",
                                       "min_samples",
                                       "oob_max_frac",
                                       "fallback_keep_alive",
                                       "prewarm_minus_cold_start",
                                       "sync_period",
                                       NULL};
    s->mode = SL_FIXED;
    s->keep_alive_us = 600 * US_PER_S;
    s->bin_us = 60 * US_PER_S;
    s->range_us = 4 * 3600 * US_PER_S;
    s->head_pct = 5;
    s->tail_pct = 99;
    s->prewarm_margin = 0.10;
    s->keep_alive_margin = 0.10;
    s->cv_threshold = 2.0;
    s->min_samples = 10;
    s->oob_max_frac = 0.5;
    s->fallback_keep_alive_us = -1;
    s->prewarm_minus_cold_start = true;
    s->sync_us = 15 * US_PER_S;
    if (cfg) {
        const int64_t day = 86400 * US_PER_S;
        TRY(cfg_check_keys(cfg, keys, err));
        TRY(cfg_opt_enum(cfg, "keep_alive_policy", mode_names, &s->mode, err));
        TRY(cfg_opt_duration_us(cfg, "keep_alive", 0, 7 * day, &s->keep_alive_us, err));
        TRY(cfg_opt_duration_us(cfg, "histogram_bin", US_PER_S, day, &s->bin_us, err));
        TRY(cfg_opt_duration_us(cfg, "histogram_range", US_PER_S, 7 * day, &s->range_us, err));
        TRY(cfg_opt_double(cfg, "head_percentile", 0, 100, &s->head_pct, err));
        TRY(cfg_opt_double(cfg, "tail_percentile", 0, 100, &s->tail_pct, err));
        TRY(cfg_opt_double(cfg, "prewarm_margin_frac", 0, 1, &s->prewarm_margin, err));
        TRY(cfg_opt_double(cfg, "keep_alive_margin_frac", 0, 10, &s->keep_alive_margin, err));
        TRY(cfg_opt_double(cfg, "cv_threshold", 0, 1e6, &s->cv_threshold, err));
        TRY(cfg_opt_int(cfg, "min_samples", 1, 1000000000, &s->min_samples, err));
        TRY(cfg_opt_double(cfg, "oob_max_frac", 0, 1, &s->oob_max_frac, err));
        TRY(cfg_opt_duration_us(cfg, "fallback_keep_alive", 0, 7 * day, &s->fallback_keep_alive_us,
                                err));
        TRY(cfg_opt_bool(cfg, "prewarm_minus_cold_start", &s->prewarm_minus_cold_start, err));
        TRY(cfg_opt_duration_us(cfg, "sync_period", 100000, 3600 * US_PER_S, &s->sync_us, err));
        if (s->head_pct >= s->tail_pct)
            return cfg_error(cfg, err, GP_ERANGE,
                             "head_percentile (%g) must be below tail_percentile (%g)", s->head_pct,
                             s->tail_pct);
    }
    if (s->range_us < s->bin_us)
        return cfg_error(cfg, err, GP_ERANGE, "histogram_range is shorter than histogram_bin");
    if (s->range_us / s->bin_us > 1000000)
        return cfg_error(cfg, err, GP_ELIMIT, "more than 1e6 histogram bins");
    if (s->fallback_keep_alive_us < 0)
        s->fallback_keep_alive_us = s->range_us;
    s->nbins = (int)((s->range_us + s->bin_us - 1) / s->bin_us);
    return 0;
}

static void serverless_destroy(void *state)
{
    serverless_state *s = state;
    if (s)
        free(s->count);
    free(s);
}

static int serverless_create(const cfg_node *cfg, const policy_env *env, void **state,
                             policy_info *info, gp_error *err)
{
    serverless_state *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = serverless_parse(s, cfg, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->count = calloc((size_t)s->nbins, sizeof(uint64_t));
    if (!s->count) {
        free(s);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    s->cold_start_us = env->cold_start_us > 0 ? env->cold_start_us : 0;
    info->sync_period_us = s->sync_us;
    info->flags = POLICY_F_PER_REQUEST;
    info->initial_pods = 0;
    *state = s;
    return 0;
}

/* The smallest bin whose cumulative count reaches pct% of the in-range idle times. */
static int percentile_bin(const serverless_state *s, double pct)
{
    double need = pct / 100.0 * (double)s->n_in;
    uint64_t cum = 0;
    for (int i = 0; i < s->nbins; i++) {
        cum += s->count[i];
        if ((double)cum >= need && cum > 0)
            return i;
    }
    return s->nbins - 1;
}

static void serverless_compute(serverless_state *s, int64_t now_us)
{
    s->computed = true;
    s->computed_at_us = now_us;
    if (s->mode == SL_FIXED) {
        s->use = SL_USE_FIXED;
        s->cur_keep_alive_us = s->keep_alive_us;
        s->cur_prewarm_us = 0;
        return;
    }
    uint64_t n = s->n_in + s->n_oob;
    double mean = (double)s->n_in / s->nbins, var = 0;
    for (int i = 0; i < s->nbins; i++) {
        double d = (double)s->count[i] - mean;
        var += d * d;
    }
    s->cv = mean > 0 ? sqrt(var / s->nbins) / mean : 0;
    s->cur_prewarm_us = 0;
    s->cur_keep_alive_us = s->fallback_keep_alive_us;
    if (n < (uint64_t)s->min_samples) {
        s->use = SL_FALLBACK_FEW;
        return;
    }
    if ((double)s->n_oob > s->oob_max_frac * (double)n) {
        s->use = SL_FALLBACK_OOB; /* the paper's ARIMA branch: not implemented */
        return;
    }
    if (s->cv < s->cv_threshold) {
        s->use = SL_FALLBACK_CV;
        return;
    }
    s->use = SL_USE_HIST;
    s->head_bin = percentile_bin(s, s->head_pct);
    s->tail_bin = percentile_bin(s, s->tail_pct);
    double head_us = (double)s->head_bin * (double)s->bin_us;
    double tail_us = (double)(s->tail_bin + 1) * (double)s->bin_us;
    double prewarm = head_us * (1.0 - s->prewarm_margin);
    if (s->prewarm_minus_cold_start)
        prewarm -= (double)s->cold_start_us;
    if (prewarm < 0)
        prewarm = 0;
    double keep = tail_us * (1.0 + s->keep_alive_margin) - prewarm;
    s->cur_prewarm_us = llround(prewarm);
    s->cur_keep_alive_us = keep > 0 ? llround(keep) : 0;
}

/* The decision; the detail line only with_detail (formatting it on every arrival costed a
 * third of a serverless run's time, and the simulator does not read it). */
static void fill(const serverless_state *s, policy_decision *out, bool with_detail)
{
    static const char *const use_names[] = {
        "fixed keep-alive", "histogram", "fallback: too few idle times",
        "fallback: histogram not representative (CV below threshold)",
        "fallback: idle times mostly out of bounds (ARIMA branch not implemented)"};
    out->desired_pods = -1;
    out->keep_alive_us = s->cur_keep_alive_us;
    out->prewarm_us = s->cur_prewarm_us;
    out->reason = s->use == SL_USE_HIST ? POLICY_R_FORECAST : POLICY_R_STATIC;
    if (!with_detail)
        return;
    if (s->use == SL_USE_HIST)
        snprintf(out->detail, sizeof(out->detail),
                 "histogram: %llu idle times (%llu OOB), CV %.2f, head bin %d, tail bin %d: "
                 "pre-warm %.0fs, keep-alive %.0fs",
                 (unsigned long long)s->n_in, (unsigned long long)s->n_oob, s->cv, s->head_bin,
                 s->tail_bin, (double)s->cur_prewarm_us / 1e6, (double)s->cur_keep_alive_us / 1e6);
    else
        snprintf(out->detail, sizeof(out->detail),
                 "%s: %llu idle times (%llu OOB), CV %.2f: keep-alive %.0fs, no pre-warm",
                 use_names[s->use], (unsigned long long)s->n_in, (unsigned long long)s->n_oob,
                 s->cv, (double)s->cur_keep_alive_us / 1e6);
}

static int serverless_on_arrival(void *state, const policy_obs *obs, policy_decision *out,
                                 gp_error *err)
{
    (void)err;
    serverless_state *s = state;
    int64_t now = obs->now_us;
    if (s->have_last && now >= s->last_arrival_us) {
        int64_t gap = now - s->last_arrival_us;
        if (gap < s->range_us) {
            s->count[gap / s->bin_us]++;
            s->n_in++;
        } else {
            s->n_oob++;
        }
    }
    s->have_last = true;
    s->last_arrival_us = now;
    bool recomputed = !s->computed || now - s->computed_at_us >= s->sync_us;
    if (recomputed)
        serverless_compute(s, now);
    fill(s, out, recomputed);
    return 0;
}

static int serverless_decide(void *state, const policy_obs *obs, policy_decision *out,
                             gp_error *err)
{
    (void)err;
    serverless_state *s = state;
    serverless_compute(s, obs->now_us);
    fill(s, out, true);
    return 0;
}

const policy_ops policy_serverless_ops = {
    .name = "serverless",
    .summary = "per-request instances; fixed or hybrid-histogram keep-alive and pre-warm",
    .create = serverless_create,
    .decide = serverless_decide,
    .on_arrival = serverless_on_arrival,
    .destroy = serverless_destroy,
    .live = POLICY_LIVE_KNATIVE_KEEP_ALIVE,
};
