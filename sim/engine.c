#include "sim/engine.h"

#include <stdlib.h>

#include "base/error.h"

int engine_init(engine *e, uint32_t initial_cap)
{
    e->now_us = 0;
    e->next_seq = 0;
    e->processed = 0;
    e->n = 0;
    e->cap = initial_cap ? initial_cap : 64;
    e->heap = malloc(sizeof(*e->heap) * e->cap);
    return e->heap ? 0 : GP_ENOMEM;
}

void engine_free(engine *e)
{
    free(e->heap);
    e->heap = NULL;
    e->n = e->cap = 0;
}

static inline bool event_before(const sim_event *a, const sim_event *b)
{
    if (a->t_us != b->t_us)
        return a->t_us < b->t_us;
    if (a->prio != b->prio)
        return a->prio < b->prio;
    return a->seq < b->seq;
}

int engine_schedule(engine *e, int64_t t_us, uint8_t prio, uint8_t kind, uint32_t obj, uint32_t gen)
{
    if (t_us < e->now_us)
        return GP_EINVARIANT;
    if (e->n == e->cap) {
        uint32_t ncap = e->cap * 2;
        sim_event *nh = realloc(e->heap, sizeof(*nh) * ncap);
        if (!nh)
            return GP_ENOMEM;
        e->heap = nh;
        e->cap = ncap;
    }
    sim_event ev = {
        .t_us = t_us, .seq = e->next_seq++, .gen = gen, .prio = prio, .kind = kind, .obj = obj};
    uint32_t i = e->n++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!event_before(&ev, &e->heap[parent]))
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = ev;
    return 0;
}

bool engine_pop(engine *e, sim_event *ev)
{
    if (e->n == 0)
        return false;
    *ev = e->heap[0];
    sim_event last = e->heap[--e->n];
    uint32_t i = 0, n = e->n;
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= n)
            break;
        uint32_t c = l;
        if (l + 1 < n && event_before(&e->heap[l + 1], &e->heap[l]))
            c = l + 1;
        if (!event_before(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0)
        e->heap[i] = last;
    e->now_us = ev->t_us;
    e->processed++;
    return true;
}

int64_t engine_peek_time(const engine *e) { return e->n ? e->heap[0].t_us : INT64_MAX; }

uint32_t engine_pending(const engine *e) { return e->n; }
