/* engine.c: the event set (see engine.h). An entry's order (t_us, prio, seq) is one
 * 128-bit key, so a comparison is one integer comparison; entries are in a 4-ary heap
 * (children of i: 4i + 1 .. 4i + 4); the few timers are compared with the heap's top at
 * each pop. */
#include "sim/engine.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

#define SEQ_BITS 56
#define KEY_NONE (~(engine_key)0)

static inline engine_key make_key(int64_t t_us, uint8_t prio, uint64_t seq)
{
    return ((engine_key)(uint64_t)t_us << 64) | ((engine_key)prio << SEQ_BITS) | seq;
}

static inline void key_to_event(engine_key k, sim_event *ev)
{
    ev->t_us = (int64_t)(uint64_t)(k >> 64);
    ev->prio = (uint8_t)((uint64_t)k >> SEQ_BITS);
    ev->seq = (uint64_t)k & ((1ULL << SEQ_BITS) - 1);
}

int engine_init(engine *e, uint32_t initial_cap)
{
    memset(e, 0, sizeof(*e));
    e->cap = initial_cap ? initial_cap : 64;
    e->heap = malloc(sizeof(*e->heap) * e->cap);
    return e->heap ? 0 : GP_ENOMEM;
}

void engine_free(engine *e)
{
    free(e->heap);
    memset(e, 0, sizeof(*e));
}

static inline void heap_fill_root(engine *e, engine_entry x);
static void heap_remove_top(engine *e);

int engine_schedule(engine *e, int64_t t_us, uint8_t prio, uint8_t kind, uint32_t obj, uint32_t gen)
{
    if (t_us < e->now_us)
        return GP_EINVARIANT;
    engine_entry ev = {
        .key = make_key(t_us, prio, e->next_seq++), .obj = obj, .gen = gen, .kind = kind};
    if (e->held) {
        /* the popped top is still at the root: a later entry takes its place (one pass
           down instead of a removal and an insertion); an earlier one (a lower priority
           at the same time) cannot, and the top goes first */
        e->held = false;
        if (ev.key > e->heap[0].key) {
            heap_fill_root(e, ev);
            return 0;
        }
        heap_remove_top(e);
    }
    if (e->n == e->cap) {
        uint32_t ncap = e->cap * 2;
        engine_entry *nh = realloc(e->heap, sizeof(*nh) * ncap);
        if (!nh)
            return GP_ENOMEM;
        e->heap = nh;
        e->cap = ncap;
    }
    uint32_t i = e->n++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (ev.key >= e->heap[parent].key)
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = ev;
    return 0;
}

/* Puts x in the root's place (the root leaves): the hole goes down to a leaf along the
 * smallest of each four children (picked without branches), and x rises from there
 * (Floyd's bottom-up deletion: an entry that replaces the smallest belongs near the
 * bottom, so it rarely rises far). A 4-ary heap has half the levels of a binary one.
 * Keys are unique, so the heap pops the same sequence whatever its shape. */
static inline __attribute__((always_inline)) void heap_fill_root(engine *e, engine_entry x)
{
    uint32_t n = e->n;
    engine_entry *h = e->heap;
    uint32_t i = 0;
    for (uint32_t l = 1; l < n; l = 4 * i + 1) {
        uint32_t c = l;
        if (l + 3 < n) {
            uint32_t a = l + (h[l + 1].key < h[l].key);
            uint32_t b = l + 2 + (h[l + 3].key < h[l + 2].key);
            c = h[b].key < h[a].key ? b : a;
        } else {
            for (uint32_t k = l + 1; k < n; k++)
                if (h[k].key < h[c].key)
                    c = k;
        }
        h[i] = h[c];
        i = c;
    }
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (h[parent].key < x.key)
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

/* Removes the root: the last entry fills its place. */
static void heap_remove_top(engine *e)
{
    uint32_t n = --e->n;
    if (n > 0)
        heap_fill_root(e, e->heap[n]);
}

/* ---- timers ---- */

int engine_timer_add(engine *e, uint8_t kind, uint8_t prio, uint32_t obj, uint32_t *id)
{
    if (e->n_timers == ENGINE_MAX_TIMERS)
        return GP_ELIMIT;
    *id = e->n_timers++;
    e->timer[*id] = (engine_timer){.key = KEY_NONE, .obj = obj, .kind = kind, .prio = prio};
    return 0;
}

int engine_timer_set(engine *e, uint32_t id, int64_t t_us)
{
    if (t_us < e->now_us)
        return GP_EINVARIANT;
    e->timer[id].key = make_key(t_us, e->timer[id].prio, e->next_seq++);
    return 0;
}

void engine_timer_clear(engine *e, uint32_t id) { e->timer[id].key = KEY_NONE; }

/* The set timer with the smallest key, or -1. */
static inline int first_timer(const engine *e)
{
    int best = -1;
    engine_key k = KEY_NONE;
    for (uint32_t i = 0; i < e->n_timers; i++)
        if (e->timer[i].key < k) {
            k = e->timer[i].key;
            best = (int)i;
        }
    return best;
}

/* ---- popping ---- */

bool engine_pop(engine *e, sim_event *ev)
{
    if (e->held) {
        e->held = false;
        heap_remove_top(e);
    }
    int ti = first_timer(e);
    engine_key tk = ti >= 0 ? e->timer[ti].key : KEY_NONE;
    if (e->n > 0 && e->heap[0].key < tk) {
        const engine_entry *top = &e->heap[0];
        key_to_event(top->key, ev);
        ev->kind = top->kind;
        ev->obj = top->obj;
        ev->gen = top->gen;
        e->held = true; /* removed at the next push or pop */
    } else if (ti >= 0) {
        engine_timer *t = &e->timer[ti];
        key_to_event(tk, ev);
        ev->kind = t->kind;
        ev->obj = t->obj;
        ev->gen = 0;
        t->key = KEY_NONE;
    } else {
        return false;
    }
    e->now_us = ev->t_us;
    e->processed++;
    return true;
}

/* The smallest key in the heap, the popped root aside (then: among its children). */
static engine_key heap_first_key(const engine *e)
{
    if (!e->held)
        return e->n > 0 ? e->heap[0].key : KEY_NONE;
    engine_key k = KEY_NONE;
    for (uint32_t c = 1; c <= 4 && c < e->n; c++)
        if (e->heap[c].key < k)
            k = e->heap[c].key;
    return k;
}

int64_t engine_peek_time(const engine *e)
{
    int ti = first_timer(e);
    engine_key tk = ti >= 0 ? e->timer[ti].key : KEY_NONE;
    engine_key hk = heap_first_key(e);
    engine_key k = hk < tk ? hk : tk;
    return k == KEY_NONE ? INT64_MAX : (int64_t)(uint64_t)(k >> 64);
}

uint32_t engine_pending(const engine *e)
{
    uint32_t n = e->n - e->held;
    for (uint32_t i = 0; i < e->n_timers; i++)
        n += e->timer[i].key != KEY_NONE;
    return n;
}
