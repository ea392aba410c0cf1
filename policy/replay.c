/* replay.c: `gpenlab policy replay` (see replay.h for the contract and the CSV format).
 * The whole CSV is read first (so a bad cell fails before any decision is printed), then
 * each row becomes one policy_obs and one call of the policy's decide(). */
#include "policy/replay.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cfg.h"
#include "base/csv_reader.h"
#include "base/textparse.h"
#include "policy/policy.h"

enum {
    COL_T = 0,
    COL_SPEC,
    COL_VALID,
    COL_LAT_SAMPLES,
    COL_METRIC0, /* COL_METRIC0 + obs_metric */
    COL_PENDING = COL_METRIC0 + OBS_METRICS,
    COL_STARTING,
    COL_READY,
    COL_DRAINING,
    COL_PODS,
    COL_COUNT
};

static const char *const col_names[COL_COUNT + 1] = {"t_s",
                                                     "spec_replicas",
                                                     "metrics_valid",
                                                     "latency_samples",
                                                     "gpu_mem_frac",
                                                     "gpu_util_frac",
                                                     "p50_s",
                                                     "p95_s",
                                                     "p99_s",
                                                     "queue_len",
                                                     "in_flight",
                                                     "arrival_rate",
                                                     "concurrency",
                                                     "pending",
                                                     "starting",
                                                     "ready",
                                                     "draining",
                                                     "pods",
                                                     NULL};

typedef struct replay_row {
    long line;
    int64_t t_us;
    int spec; /* -1: take the previous decision */
    bool valid;
    uint32_t lat_samples;
    double metric[OBS_METRICS];
    int pods[POD_STATES];
    int n_pods;
    pod_obs *pod;
} replay_row;

struct replay_data {
    replay_row *rows;
    size_t n, cap;
};

static void data_free(replay_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->rows[i].pod);
    free(d->rows);
    memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------ CSV cells */

/* A cell of the metrics CSV as the one CSV reader gives it (base/csv_reader.h). */
typedef struct cell {
    const char *s; /* NUL-terminated, trimmed */
    long col;      /* 1-based byte column of the cell */
} cell;

static int cell_error(gp_error *err, const char *file, long line, const cell *c, const char *field,
                      int code, const char *what)
{
    return gp_error_set(err, code, file, line, c ? c->col : 0, field, "%s", what);
}

static bool parse_double(const char *s, double *out)
{
    if (strcmp(s, "NaN") == 0 || strcmp(s, "nan") == 0 || strcmp(s, "NA") == 0) {
        *out = NAN;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* "id:state[:mem=F][:util=F][:inflight=N][:conc=N][:created=S][:nometrics]" entries. */
static int parse_pods(const char *file, long line, const cell *c, replay_row *r, gp_error *err)
{
    size_t len = strlen(c->s);
    char *buf = malloc(len + 1);
    if (!buf)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    memcpy(buf, c->s, len + 1);
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == ';';
    r->pod = calloc(n, sizeof(*r->pod));
    if (!r->pod) {
        free(buf);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    char msg[200];
    int rc = 0;
    char *save_entry = NULL;
    for (char *e = strtok_r(buf, ";", &save_entry); e; e = strtok_r(NULL, ";", &save_entry)) {
        while (*e == ' ')
            e++;
        if (*e == '\0')
            continue;
        pod_obs *p = &r->pod[r->n_pods];
        p->gpu_mem_frac = p->gpu_util_frac = p->in_flight = p->concurrency = NAN;
        p->ready_since_us = -1;
        p->has_metrics = true;
        char *save_f = NULL;
        char *id = strtok_r(e, ":", &save_f);
        char *state = strtok_r(NULL, ":", &save_f);
        long idv;
        if (!id || textparse_count(id, LONG_MAX, &idv) < 0 || !state) {
            snprintf(msg, sizeof(msg), "pod entry \"%.40s\": expected id:state[:key=value...]", e);
            rc = cell_error(err, file, line, c, "pods", GP_EPARSE, msg);
            break;
        }
        p->pod_id = (uint64_t)idv;
        static const char *const states[] = {"pending", "starting", "ready", "draining"};
        int st = -1;
        for (int s = 0; s < 4; s++)
            if (strcmp(state, states[s]) == 0)
                st = s;
        if (st < 0) {
            snprintf(msg, sizeof(msg),
                     "pod %ld: state \"%.20s\" is not pending, starting, ready or draining", idv,
                     state);
            rc = cell_error(err, file, line, c, "pods", GP_EPARSE, msg);
            break;
        }
        p->state = (pod_state)st;
        for (char *f = strtok_r(NULL, ":", &save_f); f; f = strtok_r(NULL, ":", &save_f)) {
            if (strcmp(f, "nometrics") == 0) {
                p->has_metrics = false;
                continue;
            }
            char *eq = strchr(f, '=');
            double v;
            if (!eq || !parse_double(eq + 1, &v)) {
                snprintf(msg, sizeof(msg), "pod %ld: \"%.30s\" is not key=number", idv, f);
                rc = cell_error(err, file, line, c, "pods", GP_EPARSE, msg);
                break;
            }
            *eq = '\0';
            if (strcmp(f, "mem") == 0)
                p->gpu_mem_frac = v;
            else if (strcmp(f, "util") == 0)
                p->gpu_util_frac = v;
            else if (strcmp(f, "inflight") == 0)
                p->in_flight = v;
            else if (strcmp(f, "conc") == 0)
                p->concurrency = v;
            else if (strcmp(f, "created") == 0)
                p->created_us = llround(v * 1e6);
            else if (strcmp(f, "ready_since") == 0)
                p->ready_since_us = llround(v * 1e6);
            else {
                snprintf(msg, sizeof(msg),
                         "pod %ld: unknown key \"%.20s\" (mem, util, inflight, conc, created, "
                         "ready_since, nometrics)",
                         idv, f);
                rc = cell_error(err, file, line, c, "pods", GP_EUNKNOWN, msg);
                break;
            }
        }
        if (rc < 0)
            break;
        r->pods[p->state]++;
        r->n_pods++;
    }
    free(buf);
    return rc;
}

/* Pods when the CSV gives only counts: ready pods report the cluster means. */
static int synth_pods(replay_row *r)
{
    int n =
        r->pods[POD_PENDING] + r->pods[POD_STARTING] + r->pods[POD_READY] + r->pods[POD_DRAINING];
    r->pod = calloc(n > 0 ? (size_t)n : 1, sizeof(*r->pod));
    if (!r->pod)
        return GP_ENOMEM;
    int ready = r->pods[POD_READY];
    static const pod_state order[] = {POD_READY, POD_STARTING, POD_PENDING, POD_DRAINING};
    for (int o = 0; o < 4; o++) {
        for (int i = 0; i < r->pods[order[o]]; i++) {
            pod_obs *p = &r->pod[r->n_pods];
            p->pod_id = (uint64_t)r->n_pods + 1;
            p->state = order[o];
            p->ready_since_us = -1;
            p->has_metrics = order[o] == POD_READY;
            p->gpu_mem_frac = r->metric[OBS_GPU_MEM_FRAC];
            p->gpu_util_frac = r->metric[OBS_GPU_UTIL_FRAC];
            p->in_flight = ready > 0 ? r->metric[OBS_IN_FLIGHT] / ready : NAN;
            p->concurrency = ready > 0 ? r->metric[OBS_CONCURRENCY] / ready : NAN;
            r->n_pods++;
        }
    }
    return 0;
}

static int read_csv(const char *path, replay_data *d, gp_error *err)
{
    csv_reader *r_csv;
    int rc = csv_open(path, &r_csv, err);
    if (rc < 0)
        return rc;
    long lineno = csv_header_line(r_csv);
    int col_of[COL_COUNT];
    for (int i = 0; i < COL_COUNT; i++)
        col_of[i] = -1;
    /* every column must be a known one, once: so there are at most COL_COUNT */
    int n_cols = (int)csv_ncols(r_csv);
    cell cells[COL_COUNT];
    int64_t prev_t = INT64_MIN;
    char msg[300];
    for (int i = 0; i < n_cols && rc == 0; i++) {
        cell h = {csv_col_name(r_csv, (size_t)i), csv_col_pos(r_csv, (size_t)i)};
        int which = -1;
        for (int k = 0; k < COL_COUNT; k++)
            if (strcmp(h.s, col_names[k]) == 0)
                which = k;
        if (which < 0) {
            const char *near = cfg_nearest(h.s, col_names);
            snprintf(msg, sizeof(msg), "unknown column \"%.40s\"%s%s%s", h.s,
                     near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
            rc = cell_error(err, path, lineno, &h, h.s, GP_EUNKNOWN, msg);
        } else if (col_of[which] >= 0) {
            rc = cell_error(err, path, lineno, &h, h.s, GP_EPARSE, "duplicate column");
        } else {
            col_of[which] = i;
        }
    }
    if (rc == 0 && col_of[COL_T] < 0)
        rc = gp_error_set(err, GP_EMISSING, path, lineno, 1, "t_s", "the header has no t_s column");
    while (rc == 0 && (rc = csv_next_row(r_csv, err)) == 1) {
        rc = 0;
        lineno = csv_line(r_csv);
        for (int i = 0; i < n_cols; i++)
            cells[i] = (cell){csv_field(r_csv, (size_t)i), csv_field_pos(r_csv, (size_t)i)};
        if (d->n == d->cap) {
            size_t ncap = d->cap ? d->cap * 2 : 64;
            replay_row *nr = realloc(d->rows, ncap * sizeof(*nr));
            if (!nr) {
                rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
                break;
            }
            d->rows = nr;
            d->cap = ncap;
        }
        replay_row *r = &d->rows[d->n++];
        memset(r, 0, sizeof(*r));
        r->line = lineno;
        r->spec = -1;
        r->valid = true;
        for (int m = 0; m < OBS_METRICS; m++)
            r->metric[m] = NAN;
        bool counts_given[POD_STATES] = {false};
        int counts[POD_STATES] = {0};
        for (int k = 0; k < COL_COUNT && rc == 0; k++) {
            if (col_of[k] < 0)
                continue;
            const cell *c = &cells[col_of[k]];
            if (c->s[0] == '\0' && k != COL_T)
                continue; /* empty: default */
            double v;
            long lv;
            if (k == COL_T) {
                if (!parse_double(c->s, &v) || isnan(v) || v < 0 || v > 9e12) {
                    rc = cell_error(err, path, lineno, c, "t_s", GP_EPARSE,
                                    "expected a time in seconds >= 0");
                    break;
                }
                r->t_us = llround(v * 1e6);
                if (r->t_us <= prev_t) {
                    rc = cell_error(err, path, lineno, c, "t_s", GP_ERANGE,
                                    "times must increase from row to row");
                    break;
                }
                prev_t = r->t_us;
            } else if (k == COL_SPEC) {
                if (textparse_count(c->s, INT_MAX, &lv) < 0) {
                    rc = cell_error(err, path, lineno, c, "spec_replicas", GP_EPARSE,
                                    "expected a whole number >= 0 (or empty)");
                    break;
                }
                r->spec = (int)lv;
            } else if (k == COL_VALID) {
                if (strcmp(c->s, "1") == 0 || strcmp(c->s, "true") == 0)
                    r->valid = true;
                else if (strcmp(c->s, "0") == 0 || strcmp(c->s, "false") == 0)
                    r->valid = false;
                else
                    rc = cell_error(err, path, lineno, c, "metrics_valid", GP_EPARSE,
                                    "expected 0, 1, true or false");
            } else if (k == COL_LAT_SAMPLES) {
                if (textparse_count(c->s, UINT32_MAX, &lv) < 0)
                    rc = cell_error(err, path, lineno, c, "latency_samples", GP_EPARSE,
                                    "expected a whole number >= 0");
                else
                    r->lat_samples = (uint32_t)lv;
            } else if (k >= COL_METRIC0 && k < COL_METRIC0 + OBS_METRICS) {
                if (!parse_double(c->s, &v))
                    rc = cell_error(err, path, lineno, c, col_names[k], GP_EPARSE,
                                    "expected a number (or empty / NaN)");
                else
                    r->metric[k - COL_METRIC0] = v;
            } else if (k >= COL_PENDING && k <= COL_DRAINING) {
                if (textparse_count(c->s, 1000000, &lv) < 0)
                    rc = cell_error(err, path, lineno, c, col_names[k], GP_EPARSE,
                                    "expected a pod count (whole number >= 0)");
                counts[k - COL_PENDING] = (int)lv;
                counts_given[k - COL_PENDING] = true;
            } else if (k == COL_PODS) {
                rc = parse_pods(path, lineno, c, r, err);
            }
        }
        if (rc < 0)
            break;
        if (r->pod) {
            for (int s = 0; s < POD_GONE && rc == 0; s++) {
                if (counts_given[s] && counts[s] != r->pods[s]) {
                    snprintf(msg, sizeof(msg), "%d %s pods, but the pods cell lists %d", counts[s],
                             col_names[COL_PENDING + s], r->pods[s]);
                    rc = cell_error(err, path, lineno, &cells[col_of[COL_PENDING + s]],
                                    col_names[COL_PENDING + s], GP_EINVARIANT, msg);
                }
            }
        } else {
            for (int s = 0; s < POD_GONE; s++)
                r->pods[s] = counts[s];
            if (synth_pods(r) < 0)
                rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        }
        if (rc < 0)
            break;
    }
    csv_close(r_csv);
    if (rc == 0 && d->n == 0)
        rc = gp_error_set(err, GP_EMISSING, path, lineno, 0, NULL, "no rows after the header");
    return rc;
}

/* ------------------------------------------------------------------ the reader's API */

int replay_load(const char *path, replay_data **out, gp_error *err)
{
    *out = NULL;
    replay_data *d = calloc(1, sizeof(*d));
    if (!d)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = read_csv(path, d, err);
    if (rc < 0) {
        replay_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void replay_free(replay_data *d)
{
    if (!d)
        return;
    data_free(d);
    free(d);
}

size_t replay_len(const replay_data *d) { return d ? d->n : 0; }

void replay_obs(const replay_data *d, size_t i, int previous, policy_obs *obs, long *line)
{
    const replay_row *r = &d->rows[i];
    memset(obs, 0, sizeof(*obs));
    obs->now_us = r->t_us;
    obs->scrape_us = r->t_us;
    obs->metrics_valid = r->valid;
    memcpy(obs->metric, r->metric, sizeof(obs->metric));
    obs->latency_samples = r->lat_samples;
    obs->spec_replicas = r->spec >= 0 ? r->spec : previous;
    memcpy(obs->pods, r->pods, sizeof(obs->pods));
    obs->n_pods = r->n_pods;
    obs->pod = r->pod;
    if (line)
        *line = r->line;
}

int replay_initial(const replay_data *d)
{
    const replay_row *first = &d->rows[0];
    return first->spec >= 0
               ? first->spec
               : first->pods[POD_PENDING] + first->pods[POD_STARTING] + first->pods[POD_READY];
}

/* ------------------------------------------------------------------ the replay */

static void print_csv_text(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void policy_replay_opts_default(policy_replay_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->min_pods = 0;
    o->max_pods = 1000;
}

int policy_replay_run(const policy_replay_opts *o, FILE *out, gp_error *err)
{
    const char *policy_name = o->policy, *csv = o->csv, *config = o->config;
    int min_pods = o->min_pods, max_pods = o->max_pods;
    const policy_ops *ops = policy_find(policy_name);
    if (!ops) {
        char names[300] = "";
        size_t used = 0;
        const policy_ops *const *all = policy_all();
        for (size_t i = 0; all[i] && used < sizeof(names); i++) {
            int w =
                snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", all[i]->name);
            if (w > 0)
                used += (size_t)w;
        }
        return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, "POLICY",
                            "unknown policy \"%s\" (registered: %s)", policy_name, names);
    }

    cfg_doc *doc = NULL;
    int rc = 0;
    if (config && (rc = cfg_load_file(config, &doc, err)) < 0)
        return rc;
    replay_data data = {0};
    if ((rc = read_csv(csv, &data, err)) < 0) {
        cfg_free(doc);
        data_free(&data);
        return rc;
    }

    policy_env env = {0};
    env.min_pods = min_pods;
    env.max_pods = max_pods;
    env.concurrency = 1;
    env.cold_start_us = 60 * INT64_C(1000000);
    env.scrape_interval_us = 15 * INT64_C(1000000);
    env.seed = 1;
    policy_info info = {.sync_period_us = 15 * INT64_C(1000000),
                        .flags = 0,
                        .initial_pods = -1,
                        .min_pods = -1,
                        .max_pods = -1};
    void *state = NULL;
    if ((rc = ops->create(doc ? cfg_root(doc) : NULL, &env, &state, &info, err)) < 0) {
        cfg_free(doc);
        data_free(&data);
        return rc;
    }
    int lo = min_pods, hi = max_pods;
    if (info.min_pods >= 0 && info.min_pods > lo)
        lo = info.min_pods;
    if (info.max_pods >= 0 && info.max_pods < hi)
        hi = info.max_pods;
    if (lo > hi)
        lo = hi;

    fprintf(out, "# policy replay: policy=%s metrics=%s config=%s bounds=[%d,%d] sync_s=%g\n",
            ops->name, csv, config ? config : "-", lo, hi, (double)info.sync_period_us / 1e6);
    fprintf(out, "t_s,spec_replicas,desired,applied,reason,detail\n");

    int applied = replay_initial(&data);
    for (size_t i = 0; i < data.n && rc == 0; i++) {
        const replay_row *r = &data.rows[i];
        policy_obs obs;
        replay_obs(&data, i, applied, &obs, NULL);
        obs.min_pods = lo;
        obs.max_pods = hi;
        policy_decision d;
        policy_decision_init(&d);
        rc = ops->decide(state, &obs, &d, err);
        if (rc < 0) {
            if (err && !err->file[0]) {
                snprintf(err->file, sizeof(err->file), "%s", csv);
                err->line = r->line;
            }
            break;
        }
        int next = obs.spec_replicas;
        if (d.desired_pods >= 0)
            next = d.desired_pods < lo ? lo : (d.desired_pods > hi ? hi : d.desired_pods);
        fprintf(out, "%.10g,%d,%d,%d,%s,", (double)r->t_us / 1e6, obs.spec_replicas, d.desired_pods,
                next, policy_reason_name(d.reason));
        print_csv_text(out, d.detail);
        fputc('\n', out);
        applied = next;
    }
    ops->destroy(state);
    cfg_free(doc);
    data_free(&data);
    return rc;
}
