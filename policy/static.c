/* static.c: a fixed number of pods, whatever the load.
 * YAML: { pods: N }  (default: the cluster's max_pods). */
#include <stdio.h>
#include <stdlib.h>

#include "policy/policy.h"

typedef struct static_state {
    int pods;
} static_state;

static int static_create(const cfg_node *cfg, const policy_env *env, void **state,
                         policy_info *info, gp_error *err)
{
    int pods = env->max_pods;
    if (cfg) {
        static const char *const keys[] = {"pods", NULL};
        int rc = cfg_check_keys(cfg, keys, err);
        if (rc < 0)
            return rc;
        rc = cfg_opt_int(cfg, "pods", 0, 100000, &pods, err);
        if (rc < 0)
            return rc;
    }
    static_state *s = malloc(sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    s->pods = pods;
    *state = s;
    info->initial_pods = pods;
    return 0;
}

static int static_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)obs;
    (void)err;
    const static_state *s = state;
    out->desired_pods = s->pods;
    out->reason = POLICY_R_STATIC;
    snprintf(out->detail, sizeof(out->detail), "fixed at %d pods", s->pods);
    return 0;
}

static void static_destroy(void *state) { free(state); }

const policy_ops policy_static_ops = {
    .name = "static",
    .summary = "a fixed number of pods",
    .create = static_create,
    .decide = static_decide,
    .on_arrival = NULL,
    .destroy = static_destroy,
    .live = POLICY_LIVE_FIXED,
};
