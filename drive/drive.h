/* drive.h: `gpenlab drive CONFIG.yaml [--dry-run]`: the live control loop. Every sync
 * period it reads live metrics (Prometheus /api/v1/query, Redis LLEN gpen:pending), builds
 * the same policy_obs the simulator builds, asks the same policy code (policy_find) for
 * a desired count, clamps it to [min, max] and applies it through the Deployment's scale
 * subresource (PATCH, application/merge-patch+json; kubeconfig or in-cluster token, TLS
 * verified) or a command (a local process pool). Each tick is one JSON line with its
 * inputs. A metrics source that is down or answers garbage holds the count (and says
 * so); API errors are retried with backoff; tokens never reach the log. drive_tick is
 * one step with the caller's clock, so tests drive it without sleeping. */
#ifndef GP_DRIVE_H
#define GP_DRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"
#include "base/error.h"
#include "lab/drive_queries.h"
#include "policy/policy.h"

#define DRIVE_MAX_PODS 1024

typedef enum { DRIVE_TARGET_NONE = 0, DRIVE_TARGET_KUBE, DRIVE_TARGET_COMMAND } drive_target;

typedef struct drive_cfg {
    cfg_doc *doc;                 /* owns the policy config */
    char path[512];
    char policy[32], label[64];
    const cfg_node *policy_cfg;   /* may be NULL */
    int min_pods, max_pods;       /* the cluster's bounds */
    policy_env env;
    int64_t sync_period_us;       /* 0: the policy's own */
    /* Prometheus; url "" = none (its observations are NaN) */
    char prom_url[512];
    int64_t prom_timeout_us;
    char query[DRIVE_Q_COUNT][DRIVE_QUERY_MAX]; /* "" = not queried */
    /* Redis; host "" = none */
    char redis_host[256];
    int redis_port;
    char redis_list[128];
    int64_t redis_timeout_us;
    /* where the count goes */
    drive_target target;
    char api_server[512];         /* "" = from kubeconfig / in-cluster */
    char kube_ns[128], deployment[128];
    char kubeconfig[512], context[128];
    bool in_cluster;
    char token_file[512], ca_file[512];
    int retries;                  /* API / command attempts after the first */
    int64_t backoff_us;           /* first retry delay, doubled each time (cap 30 s) */
    int64_t api_timeout_us;
    char command[1024];           /* "{replicas}" is replaced by the count */
    int initial_replicas;         /* command target: the count at start (-1: the policy's) */
    char log_path[512];           /* "" = the caller's stream */
} drive_cfg;

int drive_cfg_load(const char *path, drive_cfg *c, gp_error *err);
void drive_cfg_free(drive_cfg *c);

typedef struct drive drive;

/* What one tick saw and did (also the JSON line). */
typedef struct drive_tick_rec {
    policy_obs obs;          /* obs.pod points into the drive (valid until the next tick) */
    bool decided;            /* the policy was asked (false: the current count is unknown) */
    policy_decision dec;
    int current;             /* spec replicas before the tick (-1 unknown) */
    int applied;             /* the count after the bounds and the hold rule */
    bool held;               /* a source was down: the count was kept */
    char action[16];         /* none | scaled | dry-run | failed | hold */
    int attempts;            /* API / command attempts made */
    char sources[320];       /* "prometheus ok; redis down: connection refused" */
} drive_tick_rec;

/* Creates the policy and connects nothing yet. `log` gets the JSON lines (may be NULL).
 * `c` must outlive the drive: a policy may keep pointers into its config. */
int drive_open(const drive_cfg *c, bool dry_run, FILE *log, drive **out, gp_error *err);
void drive_close(drive *d);
int64_t drive_sync_period_us(const drive *d);
/* One sync at now_us (any monotonic microsecond clock). Returns 0, or a negative code
 * only for errors that stop the loop (out of memory, a policy error). */
int drive_tick(drive *d, int64_t now_us, drive_tick_rec *rec, gp_error *err);

/* `gpenlab drive CONFIG [--dry-run] [--once | --ticks N]` (cli/cmd_drive.c reads them). */
typedef struct drive_run_opts {
    const char *config_path;
    bool dry_run; /* log what would be applied, apply nothing */
    long ticks;   /* ticks to run, >= 1; -1: until a signal */
} drive_run_opts;

/* Loads the config and runs the loop, one log line per tick to `out` (or the config's log
 * file). SIGTERM/SIGINT end the loop between ticks (they are blocked and waited for, so no
 * handler state). */
int drive_run(const drive_run_opts *o, FILE *out, gp_error *err);

#endif
