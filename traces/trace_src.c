/* trace_src.c: the arrival_src base, and the in-memory sources: a fixed list (tests) and
 * a recorded trace after loading (trace_csv.c builds it).
 * Rate scaling of a recorded trace, row i (rows in time order after windowing):
 *   copies(i) = floor(r) + [u0 < r - floor(r)],  u_k = keyed uniform (seed, RNG_TRACE_SCALE, i, k)
 * copy 0 keeps the row's time; copy j >= 1 is shifted by (2 u_j - 1) * spread and
 * reflected back into [0, span]. Every copy lies within +-spread of its row, so a small
 * min-heap re-sorts the copies on the fly: memory holds the rows plus the copies of
 * one 2*spread window, never the whole scaled trace. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "traces/trace_internal.h"

int arrival_src_next(arrival_src *s, request_spec *out, gp_error *err)
{
    return s->ops->next(s, out, err);
}

int64_t arrival_src_span_us(const arrival_src *s) { return s->span_us; }
double arrival_src_expected_count(const arrival_src *s) { return s->expected_count; }
int64_t arrival_src_origin_us(const arrival_src *s) { return s->origin_us; }
bool arrival_src_origin_is_date(const arrival_src *s) { return s->origin_is_date; }
trace_time_unit arrival_src_time_unit(const arrival_src *s, trace_unit_source *how)
{
    if (how)
        *how = s->unit_source;
    return s->time_unit;
}
const char *arrival_src_kind(const arrival_src *s) { return s->ops->kind; }

void arrival_src_free(arrival_src *s)
{
    if (s)
        s->ops->free(s);
}

/* A pending copy of a row, ordered by (t_us, row, copy) so ties are deterministic. */
typedef struct pending_copy {
    int64_t t_us;
    uint64_t row;
    uint32_t copy;
} pending_copy;

typedef struct recorded_src {
    arrival_src base;
    trace_row *rows;
    size_t n_rows, next_row;
    uint64_t emitted;
    uint64_t seed;
    mix_table mix;
    /* rate scaling (scaled == false: rows are emitted as they are) */
    bool scaled;
    uint32_t copies_whole; /* floor(rate_scale) */
    double copies_frac;    /* rate_scale - floor(rate_scale) */
    int64_t spread_us;
    pending_copy *heap;
    size_t heap_n, heap_cap;
} recorded_src;

static bool copy_before(const pending_copy *a, const pending_copy *b)
{
    if (a->t_us != b->t_us)
        return a->t_us < b->t_us;
    if (a->row != b->row)
        return a->row < b->row;
    return a->copy < b->copy;
}

static int heap_push(recorded_src *s, pending_copy c)
{
    if (s->heap_n == s->heap_cap) {
        size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
        pending_copy *h = realloc(s->heap, cap * sizeof(*h));
        if (!h)
            return -1;
        s->heap = h;
        s->heap_cap = cap;
    }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!copy_before(&c, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = c;
    return 0;
}

static pending_copy heap_pop(recorded_src *s)
{
    pending_copy top = s->heap[0];
    pending_copy last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n)
            break;
        size_t m = l + 1 < n && copy_before(&s->heap[l + 1], &s->heap[l]) ? l + 1 : l;
        if (!copy_before(&s->heap[m], &last))
            break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

static int64_t reflect(int64_t t, int64_t lo, int64_t hi)
{
    if (t < lo)
        t = 2 * lo - t;
    if (t > hi)
        t = 2 * hi - t;
    return t < lo ? lo : t > hi ? hi : t;
}

static int expand_row(recorded_src *s, gp_error *err)
{
    size_t i = s->next_row++;
    uint32_t n = s->copies_whole;
    if (s->copies_frac > 0 && rng_keyed_uniform(s->seed, RNG_TRACE_SCALE, i, 0) < s->copies_frac)
        n++;
    for (uint32_t j = 0; j < n; j++) {
        int64_t t = s->rows[i].t_us;
        if (j > 0) {
            double u = rng_keyed_uniform(s->seed, RNG_TRACE_SCALE, i, j);
            t = reflect(t + llround((2 * u - 1) * (double)s->spread_us), 0, s->base.span_us);
        }
        if (heap_push(s, (pending_copy){t, i, j}) < 0)
            return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL,
                                "out of memory re-sorting scaled trace copies");
    }
    return 0;
}

static void fill_out(recorded_src *s, const trace_row *row, int64_t t_us, request_spec *out)
{
    out->arrival_us = t_us;
    if (row->mp > 0 && row->faces >= 0) {
        out->mp = row->mp;
        out->faces = row->faces;
    } else {
        mix_table_draw(&s->mix, s->seed, s->emitted, &out->mp, &out->faces);
        if (row->mp > 0)
            out->mp = row->mp;
        if (row->faces >= 0)
            out->faces = row->faces;
    }
    s->emitted++;
}

static int recorded_next(arrival_src *base, request_spec *out, gp_error *err)
{
    recorded_src *s = (recorded_src *)base;
    if (!s->scaled) {
        if (s->next_row >= s->n_rows)
            return 0;
        const trace_row *row = &s->rows[s->next_row++];
        fill_out(s, row, row->t_us, out);
        return 1;
    }
    /* Expand rows until no unexpanded row can hold a copy earlier than the heap top. */
    while (s->next_row < s->n_rows &&
           (s->heap_n == 0 || s->rows[s->next_row].t_us - s->spread_us <= s->heap[0].t_us)) {
        int rc = expand_row(s, err);
        if (rc < 0)
            return rc;
    }
    if (s->heap_n == 0)
        return 0;
    pending_copy c = heap_pop(s);
    fill_out(s, &s->rows[c.row], c.t_us, out);
    return 1;
}

static void recorded_free(arrival_src *base)
{
    recorded_src *s = (recorded_src *)base;
    free(s->rows);
    free(s->heap);
    free(s);
}

static const arrival_src_ops recorded_ops = {"recorded", recorded_next, recorded_free};
static const arrival_src_ops list_ops = {"list", recorded_next, recorded_free};

int trace_src_from_rows(trace_row *rows, size_t n, const trace_rows_opts *o, arrival_src **out,
                        gp_error *err)
{
    *out = NULL;
    recorded_src *s = calloc(1, sizeof(*s));
    if (!s) {
        free(rows);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    s->base.ops = o->is_list ? &list_ops : &recorded_ops;
    s->base.span_us = o->span_us;
    s->base.origin_us = o->origin_us;
    s->base.origin_is_date = o->origin_is_date;
    s->base.time_unit = o->time_unit;
    s->base.unit_source = o->unit_source;
    s->rows = rows;
    s->n_rows = n;
    s->base.expected_count = (double)n * (o->rate_scale > 0 ? o->rate_scale : 1);
    s->seed = o->seed;
    mix_table_init(&s->mix, &o->mix);
    if (o->rate_scale != 1.0) {
        s->scaled = true;
        s->copies_whole = (uint32_t)floor(o->rate_scale);
        s->copies_frac = o->rate_scale - floor(o->rate_scale);
        s->spread_us = o->spread_us > 0 ? o->spread_us : 0;
    }
    *out = &s->base;
    return 0;
}

int trace_open_list(const request_spec *specs, size_t n, arrival_src **out, gp_error *err)
{
    *out = NULL;
    trace_row *rows = malloc((n ? n : 1) * sizeof(*rows));
    if (!rows)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const request_spec *r = &specs[i];
        const char *bad = NULL;
        if (r->arrival_us < 0)
            bad = "arrival_us is negative";
        else if (i > 0 && r->arrival_us < specs[i - 1].arrival_us)
            bad = "arrival_us is earlier than the previous request's (the list must be sorted)";
        else if (!(r->mp > 0) || !isfinite(r->mp))
            bad = "mp must be a finite number > 0";
        else if (r->faces < 0)
            bad = "faces must be >= 0";
        if (bad) {
            free(rows);
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "list", "request %zu: %s", i, bad);
        }
        rows[i] = (trace_row){r->arrival_us, r->mp, r->faces};
    }
    trace_rows_opts o;
    memset(&o, 0, sizeof(o));
    o.is_list = true;
    o.span_us = n ? specs[n - 1].arrival_us : 0;
    o.rate_scale = 1.0;
    image_mix_default(&o.mix);
    return trace_src_from_rows(rows, n, &o, out, err);
}
