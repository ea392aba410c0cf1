/* registry.c: the static table of policies, looked up by YAML name. */
#include <string.h>

#include "policy/policy.h"

extern const policy_ops policy_static_ops;
extern const policy_ops policy_hpa_ops;
extern const policy_ops policy_keda_ops;
extern const policy_ops policy_kpa_ops;
extern const policy_ops policy_gpen_rule_ops;
extern const policy_ops policy_serverless_ops;
extern const policy_ops policy_predictive_ops;
extern const policy_ops policy_clairvoyant_ops;

static const policy_ops *const registered[] = {
    &policy_static_ops,     &policy_hpa_ops,         &policy_keda_ops,
    &policy_kpa_ops,        &policy_gpen_rule_ops,   &policy_serverless_ops,
    &policy_predictive_ops, &policy_clairvoyant_ops, NULL,
};

const policy_ops *const *policy_all(void) { return registered; }

const policy_ops *policy_find(const char *name)
{
    for (size_t i = 0; registered[i]; i++)
        if (strcmp(registered[i]->name, name) == 0)
            return registered[i];
    return NULL;
}

void policy_decision_init(policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->desired_pods = -1;
    d->reason = POLICY_R_NONE;
    d->keep_alive_us = -1;
    d->prewarm_us = -1;
}

const char *pod_state_name(pod_state s)
{
    static const char *const names[POD_STATES] = {"pending", "starting", "ready", "draining",
                                                  "gone"};
    return (s >= 0 && s < POD_STATES) ? names[s] : "?";
}

const char *policy_reason_name(int reason)
{
    static const char *const names[POLICY_R_COUNT] = {
        "none",       "static",     "no-metrics",     "within-tolerance",
        "scale-up",   "scale-down", "scale-up-limit", "scale-down-limit",
        "stabilized", "cooldown",   "panic",          "activate",
        "deactivate", "forecast",   "oracle",         "bounds"};
    return (reason >= 0 && reason < POLICY_R_COUNT) ? names[reason] : "?";
}
