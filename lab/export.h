/* export.h: `gpenlab export --label LABEL --from DB|EXPERIMENT.yaml [--out DIR]`: the
 * Kubernetes manifests that run the GPEN service with one policy of an experiment, and
 * `gpenlab export --import DIR`: the experiment `policies:` entry read back from them.
 * The experiment is read by experiment_load (from its file, or from the texts a results
 * database keeps), so it is checked as a run checks it. What is written follows the
 * policy's live form (policy_ops.live), never its name: deployment.yaml + service.yaml
 * (fixed count, HPA, KEDA, driver) or knative-service.yaml + config-autoscaler.yaml
 * (Knative: kpa's annotations, or serverless's keep-alive as the scale-down delay and
 * scale-to-zero retention); hpa.yaml (+ prometheus-adapter.yaml,
 * kube-controller-manager.flags), scaledobject.yaml, or drive.yaml (the live driver's
 * config); and for all, prometheus-rule.yaml (PrometheusRule) and recording-rules.yml
 * (the same groups for promtool / rule_files). A policy with no live form (clairvoyant),
 * or a setting Knative cannot hold, is refused in one line naming the closest exportable
 * policy. Values keep the API's units. Files are written whole (temp file + rename).
 * A mixed fleet (cluster.pools) is written as one directory per Deployment (per pool, or
 * one spread over the pools by node affinity), each the export of that Deployment with its
 * autoscaler, with the nodeSelector / affinity, tolerations and GPU request of its cards
 * and capacity (GKE's or EKS's labels: --cloud); beside them the Service of all its pods,
 * the recording rules, the router's routes (routing: router) and drive.yaml with one
 * section per Deployment. */
#ifndef GP_EXPORT_H
#define GP_EXPORT_H

#include <stdio.h>

#include "base/error.h"

typedef struct export_opts {
    const char *label;          /* the policy entry's label (or policy name); NULL: from a
                                   database, the winner; from a file, the only entry */
    long point;                 /* a sweep's point to export instead of its winner; -1 */
    const char *from;           /* an experiment YAML or a results database */
    const char *out_dir;        /* default "export-LABEL" */
    const char *app;            /* Deployment / Service name, default "gpen" */
    const char *ns;             /* namespace, default "gpen" */
    const char *image;          /* container image */
    int port;                   /* the pod's HTTP port, default 8080 */
    const char *prometheus_url; /* as the cluster reaches it (KEDA, the driver) */
    const char *redis_address;  /* host:port as the cluster reaches it */
    const char *cloud;          /* a mixed fleet's node labels: "gke" (default) or "eks" */
} export_opts;

void export_opts_default(export_opts *o);

/* Writes the manifests; one line per file written goes to `log` (may be NULL). */
int export_run(const export_opts *o, FILE *log, gp_error *err);

/* Reads the manifests of an export directory back into an experiment `policies:` list
 * with one entry (YAML, to `out`), from the manifests themselves (not from a copy of
 * the original config): that entry simulates as the exported policy did. `path` is the
 * directory, or one manifest (known by its kind; the files beside it complete it). */
int export_import(const char *path, FILE *out, gp_error *err);

#endif
