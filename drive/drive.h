/* drive.h: `gpenlab drive CONFIG [--dry-run] [--metrics FILE.csv]`: the live control loop.
 * Every sync period it reads live metrics (Prometheus /api/v1/query, all queries at once;
 * Redis LLEN gpen:pending), builds the same policy_obs the simulator builds, asks the same
 * policy code (policy_find) for a desired count, clamps it to [min, max] and applies it
 * through the Deployment's scale subresource (PATCH, application/merge-patch+json;
 * kubeconfig or in-cluster token, TLS verified) or a command (a local process pool: no
 * shell unless configured, a minimal environment, a timeout). CONFIG is a driver config,
 * or any manifest `gpenlab export` writes (or its directory). Each tick has a time budget
 * and stops promptly on SIGTERM; a metrics source that is down or answers garbage holds
 * the count (and says so; nothing is written while holding); a sample that is not a
 * finite non-negative number counts as missing; API errors are retried with backoff;
 * tokens never reach the log. Each tick is one JSON line. drive_tick is one step with the
 * caller's clock, so tests drive it without sleeping. A mixed fleet's config has one section
 * per Deployment (`deployments:`, each a config of its own, as `gpenlab export` writes for
 * a fleet): drive_run runs one loop per section, each on its own period, in one process. */
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

#define DRIVE_ENV_MAX 32 /* command: pass_env names and env entries */

typedef enum { DRIVE_TARGET_NONE = 0, DRIVE_TARGET_KUBE, DRIVE_TARGET_COMMAND } drive_target;

typedef struct drive_cfg {
    cfg_doc *doc; /* owns the policy config */
    char path[512];
    char source[64];   /* "driver config", or the manifest's kind */
    bool dry_run_only; /* a manifest with no Deployment to scale */
    char policy[32], label[64];
    const cfg_node *policy_cfg; /* may be NULL */
    int min_pods, max_pods;     /* the cluster's bounds */
    policy_env env;
    int64_t sync_period_us; /* 0: the policy's own */
    int64_t tick_budget_us; /* 0: the sync period */
    /* Prometheus; url "" = none (its observations are NaN) */
    char prom_url[512];
    int64_t prom_timeout_us;
    char prom_ca_file[512], prom_token_file[512]; /* "" = system CAs / no token */
    char query[DRIVE_Q_COUNT][DRIVE_QUERY_MAX];   /* "" = not queried */
    /* Redis; host "" = none */
    char redis_host[256];
    int redis_port;
    char redis_list[128];
    int64_t redis_timeout_us;
    /* where the count goes */
    drive_target target;
    char api_server[512];               /* "" = from kubeconfig / in-cluster */
    char kube_ns[128], deployment[256]; /* RFC 1123 label / subdomain, checked */
    char kubeconfig[512], context[128];
    bool in_cluster;
    char token_file[512], ca_file[512];
    int retries;        /* API / command attempts after the first */
    int64_t backoff_us; /* first retry delay, doubled each time (cap 30 s) */
    int64_t api_timeout_us;
    char command[1024]; /* "{replicas}" is replaced by the count */
    bool command_shell; /* run through /bin/sh -c (default: split into words) */
    int64_t command_timeout_us;
    char pass_env[DRIVE_ENV_MAX][64]; /* variables passed from the driver's environment */
    int n_pass_env;
    char cmd_env[DRIVE_ENV_MAX][256]; /* "NAME=value" set for the command */
    int n_cmd_env;
    int initial_replicas; /* command target: the count at start (-1: the policy's) */
    char log_path[512];   /* "" = the caller's stream */
    char name[64];        /* a section's name (its Deployment), "" otherwise */
    /* a mixed fleet: one config per Deployment (`deployments:`); each section borrows the
       document, and the fields above except path, source and log_path go unused */
    struct drive_cfg *section;
    int n_sections;
} drive_cfg;

int drive_cfg_load(const char *path, drive_cfg *c, gp_error *err);
void drive_cfg_free(drive_cfg *c);

typedef struct drive drive;

/* What one tick saw and did (also the JSON line). */
typedef struct drive_tick_rec {
    policy_obs obs; /* obs.pod points into the drive (valid until the next tick) */
    bool decided;   /* the policy was asked (false: the current count is unknown) */
    policy_decision dec;
    int current;               /* spec replicas before the tick (-1 unknown) */
    int applied;               /* the count after the bounds and the hold rule */
    bool held;                 /* a source was down: the count was kept, nothing written */
    bool interrupted;          /* SIGTERM/SIGINT came during the tick: the loop stops */
    char action[16];           /* none | scaled | dry-run | failed | hold */
    int attempts;              /* API / command attempts made */
    char sources[1024];        /* "prometheus ok; redis down: connection refused" */
    char command_output[2048]; /* what the command printed (stdout and stderr), cut */
} drive_tick_rec;

/* Creates the policy and connects nothing yet. `log` gets the JSON lines (may be NULL).
 * `c` must outlive the drive: a policy may keep pointers into its config. */
int drive_open(const drive_cfg *c, bool dry_run, FILE *log, drive **out, gp_error *err);
void drive_close(drive *d);
int64_t drive_sync_period_us(const drive *d);
/* One sync at now_us (any monotonic microsecond clock). Returns 0, or a negative code
 * only for errors that stop the loop (out of memory, a policy error). */
int drive_tick(drive *d, int64_t now_us, drive_tick_rec *rec, gp_error *err);

/* `gpenlab drive CONFIG [--dry-run] [--once | --ticks N] [--metrics FILE.csv]
 * [--prometheus URL] [--redis HOST:PORT]` (cli/cmd_drive.c reads them). CONFIG: a driver
 * config, an exported manifest or an export directory. */
typedef struct drive_run_opts {
    const char *config_path;
    bool dry_run;               /* log what would be applied, apply nothing */
    long ticks;                 /* ticks to run, >= 1; -1: until a signal */
    const char *metrics_path;   /* replay a `gpenlab policy replay` CSV instead of querying
                                 * (implies dry_run); NULL: query */
    const char *prometheus_url; /* overrides the config's Prometheus; NULL: the config's */
    const char *redis_address;  /* HOST:PORT, overrides the config's Redis; NULL: the config's */
} drive_run_opts;

/* Loads the config and runs the loop, one log line per tick to `out` (or the config's log
 * file). The first line written is the plan ({"event":"plan"}: the queries, Redis, the
 * target, the bounds). A dry run never writes; without access to a cluster it takes the
 * count it last decided. SIGTERM/SIGINT are blocked and waited for, and looked at while a
 * tick waits, so the loop stops within a second. */
int drive_run(const drive_run_opts *o, FILE *out, gp_error *err);

#endif
