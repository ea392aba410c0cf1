/* result.c: growth of the per-run arrays of result.h (amortised doubling). */
#include "sim/result.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/error.h"

/* Room for one more element of `size` bytes: the (possibly moved) array, or NULL with
 * the array unchanged. *cap is updated on success. */
static void *reserve_one(void *arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return arr;
    size_t new_cap = *cap ? *cap * 2 : 64;
    if (new_cap < *cap || new_cap > SIZE_MAX / size)
        return NULL;
    void *p = realloc(arr, new_cap * size);
    if (p)
        *cap = new_cap;
    return p;
}

int run_series_push(run_series *s, const series_row *r)
{
    if (s->max_rows && s->n >= s->max_rows)
        return GP_ELIMIT;
    series_row *grown = reserve_one(s->row, s->n, &s->cap, sizeof(*s->row));
    if (!grown)
        return GP_ENOMEM;
    s->row = grown;
    s->row[s->n++] = *r;
    return 0;
}

void run_series_free(run_series *s)
{
    if (!s)
        return;
    free(s->row);
    s->row = NULL;
    s->n = s->cap = 0;
}

int request_log_push(request_log *l, const request_row *r)
{
    if (l->max_rows && l->n >= l->max_rows)
        return GP_ELIMIT;
    request_row *grown = reserve_one(l->row, l->n, &l->cap, sizeof(*l->row));
    if (!grown)
        return GP_ENOMEM;
    l->row = grown;
    l->row[l->n++] = *r;
    return 0;
}

void request_log_free(request_log *l)
{
    if (!l)
        return;
    free(l->row);
    l->row = NULL;
    l->n = l->cap = 0;
}

int preemption_log_push(preemption_log *l, const preemption_row *r)
{
    preemption_row *grown = reserve_one(l->row, l->n, &l->cap, sizeof(*l->row));
    if (!grown)
        return GP_ENOMEM;
    l->row = grown;
    l->row[l->n++] = *r;
    return 0;
}

void preemption_log_free(preemption_log *l)
{
    free(l->row);
    l->row = NULL;
    l->n = l->cap = 0;
}
