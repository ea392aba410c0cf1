/* trace_envelope.c: arrivals from a rate envelope (rate per window, optional CV).
 * The file is read whole (windows are few: 86,688 rows for 43 clients x 14 days), then
 * each stream (one per client with a CV column, else one summed stream) keeps its
 * windows with rate > 0 on the replay axis. Arrivals are drawn in "operational time":
 * gaps of unit mean (exponential, or gamma with the window's CV) are spent at the
 * current window's rate, and what is left at a window's end carries into the next
 * window. With exponential gaps this is exactly a non-homogeneous Poisson process with
 * a piecewise-constant rate; with gamma gaps it is a renewal process whose rate follows
 * the envelope, without a burst artefact at window boundaries. Streams are merged by a
 * binary heap on their next arrival. Memory is O(windows), whatever the request count.
 * CVs above ENVELOPE_MAX_CV are capped (one warning): a gamma with a larger CV puts
 * nearly all arrivals of hours into one instant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "base/csv_gzip.h"
#include "base/rng.h"
#include "traces/trace_internal.h"

#define ENVELOPE_MAX_CV      20.0
#define ENVELOPE_MAX_STREAMS 1000000u
#define ENVELOPE_MAX_MINUTES 50000000LL

void trace_envelope_opts_default(trace_envelope_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->time_unit = TRACE_TIME_AUTO;
    o->time_scale = 1.0;
    o->rate_scale = 1.0;
    o->seed = 1;
    image_mix_default(&o->mix);
}

typedef struct env_row {
    int64_t t_us; /* window start, input axis */
    uint32_t key; /* stream (client) */
    uint32_t ord; /* file order, for a stable sort */
    double rate_per_s;
    double cv;
    bool gap;
} env_row;

/* shape: 0 = exponential gaps, < 0 = deterministic gaps, else gamma shape 1/cv^2. */
typedef struct env_win {
    double start_s, end_s, rate_per_s, shape;
} env_win;

typedef struct env_stream {
    env_win *w;
    size_t n, cap, i;
    double t_s;    /* position in the current window */
    double next_s; /* next arrival, INFINITY when done */
} env_stream;

typedef struct envelope {
    env_stream *st;
    size_t n_st;
    int64_t span_us;
    int64_t origin_us;
    bool origin_is_date;
    trace_time_unit time_unit;
    trace_unit_source unit_source;
} envelope;

static void envelope_free(envelope *e)
{
    for (size_t i = 0; i < e->n_st; i++)
        free(e->st[i].w);
    free(e->st);
    memset(e, 0, sizeof(*e));
}

/* ---- client names -> stream keys (open addressing, FNV-1a) ---- */

typedef struct intern {
    char **name;
    uint32_t *id;
    size_t cap, n;
} intern;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int intern_get(intern *h, const char *s, uint32_t *id)
{
    if (2 * (h->n + 1) > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        char **nm = calloc(cap, sizeof(*nm));
        uint32_t *ids = calloc(cap, sizeof(*ids));
        if (!nm || !ids) {
            free(nm);
            free(ids);
            return -1;
        }
        for (size_t i = 0; i < h->cap; i++) {
            if (!h->name[i])
                continue;
            size_t j = fnv1a(h->name[i]) & (cap - 1);
            while (nm[j])
                j = (j + 1) & (cap - 1);
            nm[j] = h->name[i];
            ids[j] = h->id[i];
        }
        free(h->name);
        free(h->id);
        h->name = nm;
        h->id = ids;
        h->cap = cap;
    }
    size_t j = fnv1a(s) & (h->cap - 1);
    while (h->name[j]) {
        if (strcmp(h->name[j], s) == 0) {
            *id = h->id[j];
            return 0;
        }
        j = (j + 1) & (h->cap - 1);
    }
    h->name[j] = strdup(s);
    if (!h->name[j])
        return -1;
    h->id[j] = (uint32_t)h->n++;
    *id = h->id[j];
    return 0;
}

static void intern_free(intern *h)
{
    for (size_t i = 0; i < h->cap; i++)
        free(h->name[i]);
    free(h->name);
    free(h->id);
}

static int cmp_env_row(const void *a, const void *b)
{
    const env_row *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int check_opts(const trace_envelope_opts *o, gp_error *err)
{
    int rc;
    if (!o->time_col || !o->time_col[0])
        return gp_error_set(err, GP_EMISSING, o->path, 0, 0, "time_column", "no time column given");
    if (!o->rate_col || !o->rate_col[0])
        return gp_error_set(err, GP_EMISSING, o->path, 0, 0, "rate_column", "no rate column given");
    if (o->filter_col && o->filter_col[0] && !o->filter_value)
        return gp_error_set(err, GP_EMISSING, o->path, 0, 0, "filter_value",
                            "filter_column '%s' given without a filter_value", o->filter_col);
    if (o->window_us < 0)
        return gp_error_set(err, GP_ERANGE, o->path, 0, 0, "window", "must be >= 0");
    if (o->start_us < 0 || o->end_us < 0 || (o->end_us > 0 && o->end_us <= o->start_us))
        return gp_error_set(
            err, GP_ERANGE, o->path, 0, 0, "end",
            "need 0 <= start < end (end 0: to the end), got start %lld us, end %lld us",
            (long long)o->start_us, (long long)o->end_us);
    if ((rc = trace_check_scale(o->path, "time_scale", o->time_scale, err)) < 0 ||
        (rc = trace_check_scale(o->path, "rate_scale", o->rate_scale, err)) < 0 ||
        (rc = image_mix_validate(&o->mix, err)) < 0)
        return rc;
    return 0;
}

typedef struct env_cols {
    int t, rate, cv, filter, client, gap;
} env_cols;

static int find_cols(const csv_reader *r, const trace_envelope_opts *o, env_cols *c, gp_error *err)
{
    c->cv = c->filter = c->client = c->gap = -1;
    if ((c->t = csv_require_col(r, o->time_col, "time column", err)) < 0)
        return c->t;
    if ((c->rate = csv_require_col(r, o->rate_col, "rate column", err)) < 0)
        return c->rate;
    if (o->cv_col && o->cv_col[0] && (c->cv = csv_require_col(r, o->cv_col, "cv column", err)) < 0)
        return c->cv;
    if (o->filter_col && o->filter_col[0] &&
        (c->filter = csv_require_col(r, o->filter_col, "filter column", err)) < 0)
        return c->filter;
    if (o->client_col && o->client_col[0] &&
        (c->client = csv_require_col(r, o->client_col, "client column", err)) < 0)
        return c->client;
    if (o->gap_col && o->gap_col[0]) {
        if ((c->gap = csv_require_col(r, o->gap_col, "gap column", err)) < 0)
            return c->gap;
    } else {
        c->gap = csv_col_index(r, "active_clients");
    }
    return 0;
}

/* Reads every row (all rows give the time axis; only kept rows give rates). */
static int read_env_rows(csv_reader *r, const trace_envelope_opts *o, const env_cols *c,
                         intern *clients, env_row **out, size_t *n_out, int64_t *min_t,
                         trace_time_unit *unit, trace_unit_source *how, size_t *unsorted,
                         gp_error *err)
{
    env_row *rows = NULL;
    size_t n = 0, cap = 0;
    int64_t max_t = INT64_MIN;
    int rc;
    *min_t = INT64_MAX;
    *unsorted = 0;
    while ((rc = csv_next_row(r, err)) > 0) {
        if (csv_rows(r) == 1)
            *unit = trace_detect_unit(o->time_col, csv_field(r, (size_t)c->t), o->time_unit, how);
        int64_t t;
        if ((rc = trace_time_field(r, (size_t)c->t, *unit, &t, err)) < 0)
            break;
        if (t < *min_t)
            *min_t = t;
        if (c->filter >= 0 && strcmp(csv_field(r, (size_t)c->filter), o->filter_value) != 0)
            continue;
        uint64_t max_rows = o->max_rows ? o->max_rows : ENVELOPE_MAX_ROWS;
        if (n >= max_rows) {
            rc = gp_error_set(err, GP_ELIMIT, csv_path(r), csv_line(r), 0, NULL,
                              "envelope too large: more than %llu rows (%.1f MiB in memory; "
                              "envelopes are loaded whole): cut the file, or use wider windows",
                              (unsigned long long)max_rows,
                              (double)max_rows * (sizeof(env_row) + sizeof(env_win)) / (1 << 20));
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            if (nc > max_rows)
                nc = (size_t)max_rows;
            env_row *p = realloc(rows, nc * sizeof(*p));
            if (!p) {
                rc = gp_error_set(err, GP_ENOMEM, csv_path(r), csv_line(r), 0, NULL,
                                  "out of memory");
                break;
            }
            rows = p;
            cap = nc;
        }
        env_row *row = &rows[n];
        memset(row, 0, sizeof(*row));
        row->t_us = t;
        row->ord = (uint32_t)n;
        if ((rc = csv_field_nonneg(r, (size_t)c->rate, &row->rate_per_s, err)) < 0)
            break;
        if (c->cv >= 0 && (rc = csv_field_nonneg(r, (size_t)c->cv, &row->cv, err)) < 0)
            break;
        if (c->gap >= 0) {
            double g;
            if ((rc = csv_field_nonneg(r, (size_t)c->gap, &g, err)) < 0)
                break;
            row->gap = g == 0;
        }
        if (c->client >= 0) {
            if (intern_get(clients, csv_field(r, (size_t)c->client), &row->key) < 0) {
                rc = gp_error_set(err, GP_ENOMEM, csv_path(r), csv_line(r), 0, NULL,
                                  "out of memory");
                break;
            }
            if (clients->n > ENVELOPE_MAX_STREAMS) {
                rc = csv_field_error(r, (size_t)c->client, GP_ELIMIT, err,
                                     "more than %u distinct clients", ENVELOPE_MAX_STREAMS);
                break;
            }
        }
        if (t < max_t)
            (*unsorted)++;
        else
            max_t = t;
        n++;
    }
    if (rc < 0) {
        free(rows);
        return rc;
    }
    *out = rows;
    *n_out = n;
    return 0;
}

static int stream_push(env_stream *s, env_win w)
{
    if (s->n > 0) {
        env_win *prev = &s->w[s->n - 1];
        if (w.start_s < prev->end_s) /* overlapping windows: the later one starts later */
            w.start_s = prev->end_s;
        if (w.start_s >= w.end_s)
            return 0;
    }
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 16;
        env_win *p = realloc(s->w, c * sizeof(*p));
        if (!p)
            return -1;
        s->w = p;
        s->cap = c;
    }
    s->w[s->n++] = w;
    return 0;
}

static double gap_shape(double cv, bool has_cv)
{
    if (!has_cv || fabs(cv - 1.0) < 1e-9)
        return 0.0;
    if (cv < 0.01)
        return -1.0;
    return 1.0 / (cv * cv);
}

static int envelope_load(const trace_envelope_opts *o, envelope *env, gp_error *err)
{
    memset(env, 0, sizeof(*env));
    int rc = check_opts(o, err);
    if (rc < 0)
        return rc;
    csv_reader *r;
    if ((rc = csv_open_any(o->path, &r, err)) < 0)
        return rc;
    env_cols c;
    if ((rc = find_cols(r, o, &c, err)) < 0) {
        csv_close(r);
        return rc;
    }
    intern clients;
    memset(&clients, 0, sizeof(clients));
    env_row *rows = NULL;
    size_t n = 0, unsorted = 0;
    int64_t min_t;
    trace_time_unit unit = o->time_unit;
    trace_unit_source how = TRACE_UNIT_GIVEN;
    rc = read_env_rows(r, o, &c, &clients, &rows, &n, &min_t, &unit, &how, &unsorted, err);
    uint64_t total_rows = csv_rows(r);
    long header_line = csv_line(r);
    csv_close(r);
    intern_free(&clients);
    if (rc < 0)
        return rc;
    if (total_rows == 0) {
        rc = gp_error_set(err, GP_EPARSE, o->path, header_line, 0, NULL,
                          "no data rows after the header");
        goto done;
    }
    if (n == 0) {
        rc = gp_error_set(err, GP_EMISSING, o->path, 0, 0, "filter_value", "no row has %s = '%s'",
                          o->filter_col, o->filter_value);
        goto done;
    }
    if (unsorted > 0) {
        qsort(rows, n, sizeof(*rows), cmp_env_row);
        if (o->warn)
            fprintf(o->warn, "warning: %s: %zu of %zu rows were out of time order; sorted them\n",
                    o->path, unsorted, n);
    }
    bool has_cv = c.cv >= 0;
    /* Without a client column, the k-th row of a window is client k. */
    uint32_t n_keys = 1;
    if (has_cv && c.client < 0) {
        uint32_t k = 0;
        for (size_t i = 0; i < n; i++) {
            k = i > 0 && rows[i].t_us == rows[i - 1].t_us ? k + 1 : 0;
            rows[i].key = k;
        }
    }
    if (has_cv)
        for (size_t i = 0; i < n; i++)
            if (rows[i].key + 1 > n_keys)
                n_keys = rows[i].key + 1;
    /* The window length: given, or the smallest step between window starts. */
    int64_t window_us = o->window_us;
    if (window_us == 0) {
        for (size_t i = 1; i < n; i++) {
            int64_t d = rows[i].t_us - rows[i - 1].t_us;
            if (d > 0 && (window_us == 0 || d < window_us))
                window_us = d;
        }
        if (window_us == 0) {
            rc = gp_error_set(err, GP_EPARSE, o->path, 0, 0, "window",
                              "cannot infer the window length from a single window start: "
                              "give the window length");
            goto done;
        }
    }
    double window_s = (double)window_us / 1e6;
    /* Gaps and capped CVs, counted once per window start. */
    size_t gap_windows = 0, capped = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].gap) {
            if (i == 0 || rows[i - 1].t_us != rows[i].t_us || !rows[i - 1].gap)
                gap_windows++;
            rows[i].rate_per_s = 0;
        }
        if (o->rate_per_window)
            rows[i].rate_per_s /= window_s;
        if (has_cv && rows[i].rate_per_s > 0 && rows[i].cv > ENVELOPE_MAX_CV) {
            rows[i].cv = ENVELOPE_MAX_CV;
            capped++;
        }
    }
    if (o->warn && gap_windows > 0)
        fprintf(o->warn, "warning: %s: %zu windows with %s = 0 are data gaps: rate 0 there\n",
                o->path, gap_windows, o->gap_col && o->gap_col[0] ? o->gap_col : "active_clients");
    if (o->warn && capped > 0)
        fprintf(o->warn, "warning: %s: %zu windows have a cv above %g; capped to %g\n", o->path,
                capped, ENVELOPE_MAX_CV, ENVELOPE_MAX_CV);
    /* Replay axis: t = 0 at (first window start + start_us), compressed by time_scale. */
    int64_t origin = min_t + o->start_us;
    int64_t last_end = rows[n - 1].t_us + window_us;
    for (size_t i = 0; i < n; i++)
        if (rows[i].t_us + window_us > last_end)
            last_end = rows[i].t_us + window_us;
    int64_t stop = o->end_us > 0 && min_t + o->end_us < last_end ? min_t + o->end_us : last_end;
    if (stop <= origin) {
        rc = gp_error_set(err, GP_ERANGE, o->path, 0, 0, "start",
                          "start (%g s) is at or after the envelope's end (%g s)",
                          (double)o->start_us / 1e6, (double)(last_end - min_t) / 1e6);
        goto done;
    }
    if ((rc = trace_check_span(o->path, stop - origin, o->time_scale, err)) < 0)
        goto done;
    env->origin_us = origin;
    env->origin_is_date = unit == TRACE_TIME_ISO;
    env->time_unit = unit;
    env->unit_source = how;
    trace_warn_guessed_span(o->warn, o->path, o->time_col, how, stop - origin);
    env->span_us = llround((double)(stop - origin) / o->time_scale);
    env->n_st = n_keys;
    env->st = calloc(n_keys, sizeof(*env->st));
    if (!env->st) {
        rc = gp_error_set(err, GP_ENOMEM, o->path, 0, 0, NULL, "out of memory");
        goto done;
    }
    double rate_factor = o->rate_scale * o->time_scale;
    for (size_t i = 0; i < n; i++) {
        const env_row *row = &rows[i];
        env_stream *s = &env->st[has_cv ? row->key : 0];
        int64_t a = row->t_us > origin ? row->t_us : origin;
        int64_t b = row->t_us + window_us < stop ? row->t_us + window_us : stop;
        if (b <= a || row->rate_per_s <= 0)
            continue;
        env_win w = {(double)(a - origin) / 1e6 / o->time_scale,
                     (double)(b - origin) / 1e6 / o->time_scale, row->rate_per_s * rate_factor,
                     gap_shape(row->cv, has_cv)};
        /* Two rows of one stream and window (no cv, or a repeated client): add rates. */
        if (s->n > 0 && s->w[s->n - 1].start_s == w.start_s && s->w[s->n - 1].end_s == w.end_s) {
            env_win *p = &s->w[s->n - 1];
            if (has_cv && p->shape != w.shape) {
                double cv_p = p->shape > 0 ? 1 / sqrt(p->shape) : p->shape < 0 ? 0 : 1;
                double cv_w = w.shape > 0 ? 1 / sqrt(w.shape) : w.shape < 0 ? 0 : 1;
                double cv =
                    (cv_p * p->rate_per_s + cv_w * w.rate_per_s) / (p->rate_per_s + w.rate_per_s);
                p->shape = gap_shape(cv, true);
            }
            p->rate_per_s += w.rate_per_s;
            continue;
        }
        if (stream_push(s, w) < 0) {
            rc = gp_error_set(err, GP_ENOMEM, o->path, 0, 0, NULL, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    free(rows);
    if (rc < 0)
        envelope_free(env);
    return rc;
}

/* ---- the source ---- */

typedef struct envelope_src {
    arrival_src base;
    envelope env;
    gsl_rng *rng;
    mix_table mix;
    uint64_t seed, emitted;
    uint32_t *heap; /* stream indices, min-heap on next_s */
    size_t heap_n;
} envelope_src;

static double draw_gap(gsl_rng *rng, double shape)
{
    if (shape == 0)
        return -log(gsl_rng_uniform_pos(rng));
    if (shape < 0)
        return 1.0;
    return gsl_ran_gamma(rng, shape, 1.0 / shape);
}

static void stream_advance(gsl_rng *rng, env_stream *st)
{
    if (st->i >= st->n) {
        st->next_s = INFINITY;
        return;
    }
    const env_win *w = &st->w[st->i];
    double g = draw_gap(rng, w->shape);
    for (;;) {
        double room = w->rate_per_s * (w->end_s - st->t_s);
        if (g < room) {
            st->t_s += g / w->rate_per_s;
            st->next_s = st->t_s;
            return;
        }
        g -= room;
        if (++st->i >= st->n) {
            st->next_s = INFINITY;
            return;
        }
        w = &st->w[st->i];
        st->t_s = w->start_s;
    }
}

static bool stream_before(const envelope_src *s, uint32_t a, uint32_t b)
{
    double x = s->env.st[a].next_s, y = s->env.st[b].next_s;
    return x < y || (x == y && a < b);
}

static void sift_down(envelope_src *s, size_t i)
{
    uint32_t v = s->heap[i];
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= s->heap_n)
            break;
        size_t m = l + 1 < s->heap_n && stream_before(s, s->heap[l + 1], s->heap[l]) ? l + 1 : l;
        if (!stream_before(s, s->heap[m], v))
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    s->heap[i] = v;
}

static int envelope_next(arrival_src *base, request_spec *out, gp_error *err)
{
    (void)err;
    envelope_src *s = (envelope_src *)base;
    if (s->heap_n == 0)
        return 0;
    uint32_t k = s->heap[0];
    env_stream *st = &s->env.st[k];
    double t = st->next_s;
    stream_advance(s->rng, st);
    if (st->next_s == INFINITY)
        s->heap[0] = s->heap[--s->heap_n];
    if (s->heap_n > 0)
        sift_down(s, 0);
    int64_t t_us = (int64_t)(t * 1e6);
    out->arrival_us = t_us < s->base.span_us ? t_us : s->base.span_us;
    mix_table_draw(&s->mix, s->seed, s->emitted++, &out->mp, &out->faces);
    return 1;
}

static void envelope_src_free(arrival_src *base)
{
    envelope_src *s = (envelope_src *)base;
    envelope_free(&s->env);
    gsl_rng_free(s->rng);
    free(s->heap);
    free(s);
}

static const arrival_src_ops envelope_ops = {"envelope", envelope_next, envelope_src_free};

int trace_open_envelope(const trace_envelope_opts *o, arrival_src **out, gp_error *err)
{
    *out = NULL;
    envelope_src *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, o->path, 0, 0, NULL, "out of memory");
    int rc = envelope_load(o, &s->env, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->rng = gsl_rng_alloc(gsl_rng_mt19937);
    s->heap = malloc((s->env.n_st ? s->env.n_st : 1) * sizeof(*s->heap));
    if (!s->rng || !s->heap) {
        envelope_src_free(&s->base);
        return gp_error_set(err, GP_ENOMEM, o->path, 0, 0, NULL, "out of memory");
    }
    gsl_rng_set(s->rng,
                (unsigned long)rng_mix64(o->seed ^ rng_mix64((uint64_t)RNG_ARRIVALS + 0xe1ULL)));
    mix_table_init(&s->mix, &o->mix);
    s->seed = o->seed;
    s->base.ops = &envelope_ops;
    s->base.span_us = s->env.span_us;
    for (uint32_t k = 0; k < s->env.n_st; k++)
        for (size_t i = 0; i < s->env.st[k].n; i++) {
            const env_win *w = &s->env.st[k].w[i];
            s->base.expected_count += w->rate_per_s * (w->end_s - w->start_s);
        }
    s->base.origin_us = s->env.origin_us;
    s->base.origin_is_date = s->env.origin_is_date;
    s->base.time_unit = s->env.time_unit;
    s->base.unit_source = s->env.unit_source;
    for (uint32_t k = 0; k < s->env.n_st; k++) {
        env_stream *st = &s->env.st[k];
        if (st->n == 0)
            continue;
        st->i = 0;
        st->t_s = st->w[0].start_s;
        stream_advance(s->rng, st);
        if (st->next_s < INFINITY)
            s->heap[s->heap_n++] = k;
    }
    for (size_t i = s->heap_n; i-- > 0;)
        sift_down(s, i);
    *out = &s->base;
    return 0;
}

/* ---- expected statistics, straight from the windows ---- */

int trace_envelope_expected_stats(const trace_envelope_opts *o, int64_t day_offset_us,
                                  trace_stats *st, gp_error *err)
{
    memset(st, 0, sizeof(*st));
    envelope env;
    int rc = envelope_load(o, &env, err);
    if (rc < 0)
        return rc;
    const int64_t day_us = 86400LL * 1000000LL;
    int64_t off_us = ((day_offset_us % day_us) + day_us) % day_us;
    double off_s = (double)off_us / 1e6;
    double span_s = (double)env.span_us / 1e6;
    /* Minute bins of the clock: bin b covers clock minute (first_min + b). */
    int64_t first_min = (int64_t)floor(off_s / 60.0);
    int64_t n_bins = (int64_t)ceil((off_s + span_s) / 60.0) - first_min;
    if (n_bins < 1)
        n_bins = 1;
    if (n_bins > ENVELOPE_MAX_MINUTES) {
        envelope_free(&env);
        return gp_error_set(err, GP_ELIMIT, o->path, 0, 0, NULL,
                            "envelope spans more than %lld minutes", ENVELOPE_MAX_MINUTES);
    }
    double *bins = calloc((size_t)n_bins, sizeof(*bins));
    if (!bins) {
        envelope_free(&env);
        return gp_error_set(err, GP_ENOMEM, o->path, 0, 0, NULL, "out of memory");
    }
    for (size_t k = 0; k < env.n_st; k++) {
        for (size_t i = 0; i < env.st[k].n; i++) {
            const env_win *w = &env.st[k].w[i];
            double a = w->start_s + off_s, b = w->end_s + off_s;
            while (a < b) {
                double m = floor(a / 60.0);
                double edge = fmin(b, (m + 1) * 60.0);
                int64_t bin = (int64_t)m - first_min;
                if (bin >= 0 && bin < n_bins)
                    bins[bin] += w->rate_per_s * (edge - a);
                a = edge;
            }
        }
    }
    double sum = 0, sumsq = 0, peak = 0, first_hour_n = 0, last_hour_n = 0;
    int64_t first_hour = first_min / 60, last_hour = (int64_t)floor((off_s + span_s) / 3600.0);
    for (int64_t b = 0; b < n_bins; b++) {
        sum += bins[b];
        sumsq += bins[b] * bins[b];
        peak = fmax(peak, bins[b]);
        int64_t clock_min = (first_min + b) % 1440;
        st->hour_counts[clock_min / 60] += bins[b];
        int64_t abs_hour = (first_min + b) / 60;
        if (abs_hour == first_hour)
            first_hour_n += bins[b];
        else if (abs_hour == last_hour)
            last_hour_n += bins[b];
    }
    free(bins);
    double mean = sum / (double)n_bins;
    double var = sumsq / (double)n_bins - mean * mean;
    st->count = (uint64_t)llround(sum);
    st->first_us = 0;
    st->last_us = env.span_us;
    st->span_us = env.span_us;
    st->mean_rate_per_s = span_s > 0 ? sum / span_s : 0;
    st->peak_rate_per_s = peak / 60.0;
    st->cv_per_minute = mean > 0 ? sqrt(fmax(var, 0)) / mean : 0;
    st->cv_interarrival = NAN;
    trace_hour_days(off_us, 0, env.span_us, st->hour_days);
    trace_split_partial_hours(st, off_us, 0, env.span_us, first_hour_n, last_hour_n);
    /* the file's window (its rates are per window): the shortest one */
    for (size_t k = 0; k < env.n_st; k++)
        for (size_t i = 0; i < env.st[k].n; i++) {
            int64_t w = llround((env.st[k].w[i].end_s - env.st[k].w[i].start_s) * 1e6);
            if (w > 0 && (st->input_window_us == 0 || w < st->input_window_us))
                st->input_window_us = w;
        }
    image_mix_means(&o->mix, &st->mean_mp, &st->mean_faces, &st->no_face_frac);
    envelope_free(&env);
    return 0;
}
