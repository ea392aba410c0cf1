/* gpen_rule.c: the autoscaling rule of the seed article (GPEN on Kubernetes, section 2).
 *
 * Scale up by scale_up_step_pods when any of:
 *   - GPU memory (OBS_GPU_MEM_FRAC) > scale_up_gpu_mem_frac (0.85) for scale_up_gpu_mem_for
 *     (30 s),
 *   - P95 latency (OBS_LATENCY_P95_S) > scale_up_p95_s (3.5 s) on scale_up_p95_count (5)
 *     consecutive observations,
 *   - LLEN gpen:pending (OBS_QUEUE_LEN) >= scale_up_queue_len (8), on the current sample.
 * After a scale-up, no scale-down for cooldown_after_scale_up (5 min, measured from the
 * decision). Scale down by scale_down_step_pods (the caller drains the newest pod,
 * gracefully) only when GPU memory < scale_down_gpu_mem_frac (0.40) and P95 <
 * scale_down_p95_s (1.5 s) together for scale_down_for (2 min).
 *
 * "For D" is evaluated on scraped samples as Prometheus evaluates an alert's `for:`:
 * the condition must hold on every sample of a run of consecutive samples whose scrape
 * times span at least D (latest scrape - first scrape of the run >= D). With 15-s scrapes
 * "30 s" is 3 samples (0, 15, 30 s) and "2 min" is 9. An observation counts once: a
 * decision that sees the same scrape again (sync faster than scrape) adds nothing.
 * A sample where a metric is missing (NaN) breaks that metric's runs; if the source is
 * down (!metrics_valid) every run restarts and the rule holds. With no traffic at all (no
 * latency samples, empty queue, nothing in flight) P95 is undefined, and is taken as
 * low (idle_counts_as_low_latency, default true) so an idle service can shrink.
 * After a scale-up every run starts over (the new pod must be given a chance); after a
 * scale-down the both-low run starts over, so each further step waits scale_down_for. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "policy/policy.h"

typedef struct gpen_rule_cfg {
    double up_mem_frac;
    int64_t up_mem_for_us;
    double up_p95_s;
    int up_p95_count;
    double up_queue_len;
    int step_up, step_down;
    int64_t cooldown_us;
    double down_mem_frac, down_p95_s;
    int64_t down_for_us;
    bool idle_low;
    int64_t sync_us;
    int min_pods, max_pods, initial_pods;
} gpen_rule_cfg;

typedef struct gpen_rule_state {
    gpen_rule_cfg c;
    bool have_sample;
    int64_t sample_us; /* scrape time of the latest sample counted */
    bool mem_run;
    int64_t mem_since_us; /* first sample of the current memory-high run */
    int p95_count;        /* consecutive samples with P95 high */
    bool low_run;
    int64_t low_since_us; /* first sample of the current both-low run */
    bool scaled_up;
    int64_t last_up_us;            /* decision time of the last scale-up */
    bool mem_missing, p95_missing; /* on the latest sample */
} gpen_rule_state;

static int gpen_rule_parse(const cfg_node *cfg, gpen_rule_cfg *c, gp_error *err)
{
    static const char *const keys[] = {"scale_up_gpu_mem_frac",
                                       "scale_up_gpu_mem_for",
                                       "scale_up_p95_s",
                                       "scale_up_p95_count",
                                       "scale_up_queue_len",
                                       "scale_up_step_pods",
                                       "cooldown_after_scale_up",
                                       "scale_down_gpu_mem_frac",
                                       "scale_down_p95_s",
                                       "scale_down_for",
                                       "scale_down_step_pods",
                                       "idle_counts_as_low_latency",
                                       "sync_period",
                                       "min_pods",
                                       "max_pods",
                                       "initial_pods",
                                       NULL};
    *c = (gpen_rule_cfg){
        .up_mem_frac = 0.85,
        .up_mem_for_us = 30 * US_PER_S,
        .up_p95_s = 3.5,
        .up_p95_count = 5,
        .up_queue_len = 8,
        .step_up = 1,
        .step_down = 1,
        .cooldown_us = 300 * US_PER_S,
        .down_mem_frac = 0.40,
        .down_p95_s = 1.5,
        .down_for_us = 120 * US_PER_S,
        .idle_low = true,
        .sync_us = 15 * US_PER_S,
        .min_pods = -1,
        .max_pods = -1,
        .initial_pods = -1,
    };
    if (!cfg)
        return 0;
    const int64_t day = 86400 * US_PER_S;
    TRY(cfg_check_keys(cfg, keys, err));
    TRY(cfg_opt_double(cfg, "scale_up_gpu_mem_frac", 0, 1, &c->up_mem_frac, err));
    TRY(cfg_opt_duration_us(cfg, "scale_up_gpu_mem_for", 0, day, &c->up_mem_for_us, err));
    TRY(cfg_opt_double(cfg, "scale_up_p95_s", 0, 1e6, &c->up_p95_s, err));
    TRY(cfg_opt_int(cfg, "scale_up_p95_count", 1, 100000, &c->up_p95_count, err));
    TRY(cfg_opt_double(cfg, "scale_up_queue_len", 1, 1e9, &c->up_queue_len, err));
    TRY(cfg_opt_int(cfg, "scale_up_step_pods", 1, 100000, &c->step_up, err));
    TRY(cfg_opt_duration_us(cfg, "cooldown_after_scale_up", 0, day, &c->cooldown_us, err));
    TRY(cfg_opt_double(cfg, "scale_down_gpu_mem_frac", 0, 1, &c->down_mem_frac, err));
    TRY(cfg_opt_double(cfg, "scale_down_p95_s", 0, 1e6, &c->down_p95_s, err));
    TRY(cfg_opt_duration_us(cfg, "scale_down_for", 0, day, &c->down_for_us, err));
    TRY(cfg_opt_int(cfg, "scale_down_step_pods", 1, 100000, &c->step_down, err));
    TRY(cfg_opt_bool(cfg, "idle_counts_as_low_latency", &c->idle_low, err));
    TRY(cfg_opt_duration_us(cfg, "sync_period", 100000, 3600 * US_PER_S, &c->sync_us, err));
    TRY(cfg_opt_int(cfg, "min_pods", 0, 100000, &c->min_pods, err));
    TRY(cfg_opt_int(cfg, "max_pods", 1, 100000, &c->max_pods, err));
    TRY(cfg_opt_int(cfg, "initial_pods", 0, 100000, &c->initial_pods, err));
    if (c->down_mem_frac >= c->up_mem_frac)
        return cfg_error(cfg_map_get(cfg, "scale_down_gpu_mem_frac")
                             ? cfg_map_get(cfg, "scale_down_gpu_mem_frac")
                             : cfg,
                         err, GP_ERANGE,
                         "scale_down_gpu_mem_frac (%g) must be below scale_up_gpu_mem_frac "
                         "(%g)",
                         c->down_mem_frac, c->up_mem_frac);
    if (c->down_p95_s >= c->up_p95_s)
        return cfg_error(cfg_map_get(cfg, "scale_down_p95_s") ? cfg_map_get(cfg, "scale_down_p95_s")
                                                              : cfg,
                         err, GP_ERANGE, "scale_down_p95_s (%g) must be below scale_up_p95_s (%g)",
                         c->down_p95_s, c->up_p95_s);
    if (c->min_pods >= 0 && c->max_pods >= 0 && c->min_pods > c->max_pods)
        return cfg_error(cfg, err, GP_ERANGE, "min_pods (%d) is greater than max_pods (%d)",
                         c->min_pods, c->max_pods);
    return 0;
}

static int gpen_rule_create(const cfg_node *cfg, const policy_env *env, void **state,
                            policy_info *info, gp_error *err)
{
    (void)env;
    gpen_rule_state *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = gpen_rule_parse(cfg, &s->c, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    info->sync_period_us = s->c.sync_us;
    info->min_pods = s->c.min_pods;
    info->max_pods = s->c.max_pods;
    info->initial_pods = s->c.initial_pods;
    *state = s;
    return 0;
}

static void restart_runs(gpen_rule_state *s)
{
    s->mem_run = false;
    s->p95_count = 0;
    s->low_run = false;
}

/* Folds one new scraped sample into the runs. */
static void gpen_rule_sample(gpen_rule_state *s, const policy_obs *obs, int64_t t_us)
{
    const gpen_rule_cfg *c = &s->c;
    double mem = obs->metric[OBS_GPU_MEM_FRAC];
    double p95 = obs->metric[OBS_LATENCY_P95_S];
    double q = obs->metric[OBS_QUEUE_LEN];
    double fl = obs->metric[OBS_IN_FLIGHT];
    s->mem_missing = !isfinite(mem);
    s->p95_missing = !isfinite(p95);

    if (!s->mem_missing && mem > c->up_mem_frac) {
        if (!s->mem_run) {
            s->mem_run = true;
            s->mem_since_us = t_us;
        }
    } else {
        s->mem_run = false;
    }
    if (!s->p95_missing && p95 > c->up_p95_s)
        s->p95_count++;
    else
        s->p95_count = 0; /* a low or missing sample breaks "consecutive" */

    bool idle = s->p95_missing && obs->latency_samples == 0 && isfinite(q) && q == 0 &&
                isfinite(fl) && fl == 0;
    bool p95_low = s->p95_missing ? (idle && c->idle_low) : p95 < c->down_p95_s;
    if (idle && c->idle_low)
        s->p95_missing = false; /* no traffic: nothing to measure, not a gap */
    bool low = !s->mem_missing && mem < c->down_mem_frac && p95_low;
    if (low) {
        if (!s->low_run) {
            s->low_run = true;
            s->low_since_us = t_us;
        }
    } else {
        s->low_run = false;
    }
}

static double secs(int64_t us) { return (double)us / 1e6; }

static int gpen_rule_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)err;
    gpen_rule_state *s = state;
    const gpen_rule_cfg *c = &s->c;
    int cur = obs->spec_replicas;
    out->desired_pods = -1;
    if (!obs->metrics_valid) {
        restart_runs(s);
        out->reason = POLICY_R_NO_METRICS;
        snprintf(out->detail, sizeof(out->detail),
                 "metrics unavailable: hold at %d, persistence runs restart", cur);
        return 0;
    }
    if (!s->have_sample || obs->scrape_us > s->sample_us) {
        gpen_rule_sample(s, obs, obs->scrape_us);
        s->sample_us = obs->scrape_us;
        s->have_sample = true;
    }
    double q = obs->metric[OBS_QUEUE_LEN];
    bool t_mem = s->mem_run && s->sample_us - s->mem_since_us >= c->up_mem_for_us;
    bool t_p95 = s->p95_count >= c->up_p95_count;
    bool t_queue = isfinite(q) && q >= c->up_queue_len;
    int max_pods = c->max_pods >= 0 ? c->max_pods : obs->max_pods;
    int min_pods = c->min_pods >= 0 ? c->min_pods : obs->min_pods;
    if (obs->max_pods >= 0 && obs->max_pods < max_pods)
        max_pods = obs->max_pods;
    if (obs->min_pods > min_pods)
        min_pods = obs->min_pods;

    if (t_mem || t_p95 || t_queue) {
        char why[96];
        snprintf(why, sizeof(why), "%s%s%s", t_mem ? " gpu-mem>" : "", t_p95 ? " p95>" : "",
                 t_queue ? " queue>=" : "");
        if (cur >= max_pods) {
            out->reason = POLICY_R_BOUNDS;
            snprintf(out->detail, sizeof(out->detail), "scale-up wanted (%s) but at max %d",
                     why + 1, max_pods);
            return 0;
        }
        int want = cur + c->step_up;
        if (want > max_pods)
            want = max_pods;
        out->desired_pods = want;
        out->reason = POLICY_R_SCALE_UP;
        snprintf(out->detail, sizeof(out->detail),
                 "scale up %d -> %d:%s (mem %.3f for %.0fs, p95 %.3fs x%d, queue %.0f); "
                 "no scale-down for %.0fs",
                 cur, want, why, obs->metric[OBS_GPU_MEM_FRAC],
                 s->mem_run ? secs(s->sample_us - s->mem_since_us) : 0.0,
                 obs->metric[OBS_LATENCY_P95_S], s->p95_count, q, secs(c->cooldown_us));
        s->scaled_up = true;
        s->last_up_us = obs->now_us;
        restart_runs(s);
        return 0;
    }
    bool low_long = s->low_run && s->sample_us - s->low_since_us >= c->down_for_us;
    if (low_long) {
        int64_t since_up = obs->now_us - s->last_up_us;
        if (s->scaled_up && since_up < c->cooldown_us) {
            out->reason = POLICY_R_COOLDOWN;
            snprintf(out->detail, sizeof(out->detail),
                     "scale-down held: %.0fs of the %.0fs cool-down since the last scale-up",
                     secs(since_up), secs(c->cooldown_us));
            return 0;
        }
        if (cur <= min_pods) {
            out->reason = POLICY_R_BOUNDS;
            snprintf(out->detail, sizeof(out->detail), "scale-down wanted but at min %d", min_pods);
            return 0;
        }
        int want = cur - c->step_down;
        if (want < min_pods)
            want = min_pods;
        out->desired_pods = want;
        out->reason = POLICY_R_SCALE_DOWN;
        snprintf(out->detail, sizeof(out->detail),
                 "scale down %d -> %d (drain newest): mem < %.2f and p95 < %.2fs for %.0fs", cur,
                 want, c->down_mem_frac, c->down_p95_s, secs(s->sample_us - s->low_since_us));
        s->low_since_us = s->sample_us; /* the next step waits a full window again */
        return 0;
    }
    if (s->mem_missing || s->p95_missing) {
        out->reason = POLICY_R_NO_METRICS;
        snprintf(out->detail, sizeof(out->detail), "hold at %d: %s%s missing", cur,
                 s->mem_missing ? "gpu-mem " : "", s->p95_missing ? "p95 " : "");
        return 0;
    }
    out->reason = POLICY_R_WITHIN_TOLERANCE;
    snprintf(out->detail, sizeof(out->detail),
             "hold at %d: mem %.3f (high %.0fs), p95 %.3fs (high x%d), queue %.0f, both low "
             "%.0fs",
             cur, obs->metric[OBS_GPU_MEM_FRAC],
             s->mem_run ? secs(s->sample_us - s->mem_since_us) : 0.0,
             obs->metric[OBS_LATENCY_P95_S], s->p95_count, q,
             s->low_run ? secs(s->sample_us - s->low_since_us) : 0.0);
    return 0;
}

static void gpen_rule_destroy(void *state) { free(state); }

const policy_ops policy_gpen_rule_ops = {
    .name = "gpen-rule",
    .summary = "the seed article's rule: 3 triggers, 5-min cool-down, 2-condition scale-down",
    .create = gpen_rule_create,
    .decide = gpen_rule_decide,
    .on_arrival = NULL,
    .destroy = gpen_rule_destroy,
    .live = POLICY_LIVE_DRIVER,
};
