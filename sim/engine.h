/* engine.h: the event set and the simulated clock; knows nothing of pods or policies.
 * Time is int64 microseconds. Events at equal times pop in (t_us, prio, seq) order,
 * seq = insertion count, so runs are bit-identical on every platform.
 * An event is plain data {t_us, prio, seq, kind, obj, gen}; the caller dispatches on
 * kind. Two kinds of entry, popped in that one order:
 *  - scheduled events, in a 4-ary heap with the order key inline. Cancellation is lazy:
 *    the owner of `obj` bumps its generation counter and drops popped events whose gen is
 *    stale;
 *  - a few timers (ENGINE_MAX_TIMERS): an object with at most one pending event, such
 *    as the next arrival of a stream, which would otherwise pass through the heap once
 *    per request. Setting a timer replaces its pending event, which is then never
 *    popped, and takes a seq like a scheduled event; each pop compares the heap's top
 *    with every timer.
 * No allocation per event. Not thread-safe (one engine per run). */
#ifndef GP_ENGINE_H
#define GP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_event {
    int64_t t_us;
    uint64_t seq; /* insertion order, tie-breaker after prio */
    uint32_t gen; /* generation of `obj` when scheduled (0 for a timer) */
    uint8_t prio; /* lower runs first at equal t_us */
    uint8_t kind; /* caller's event kind */
    uint32_t obj; /* caller's object index */
} sim_event;

/* The order of an entry: t_us (>= 0) in the high half, prio and seq below. */
typedef unsigned __int128 engine_key;

typedef struct engine_entry {
    engine_key key;
    uint32_t obj, gen;
    uint8_t kind;
} engine_entry;

#define ENGINE_MAX_TIMERS 4

typedef struct engine_timer {
    engine_key key; /* all ones when not set */
    uint32_t obj;
    uint8_t kind, prio;
} engine_timer;

typedef struct engine {
    int64_t now_us;
    uint64_t next_seq;
    uint64_t processed;
    engine_entry *heap;
    uint32_t n, cap;
    bool held; /* heap[0] was popped; the next push (taking its place when it comes
                  later) or pop removes it */
    engine_timer timer[ENGINE_MAX_TIMERS];
    uint32_t n_timers;
} engine;

/* Returns 0 or GP_ENOMEM. */
int engine_init(engine *e, uint32_t initial_cap);
void engine_free(engine *e);

/* Schedules an event at absolute time t_us (>= now). Returns 0 or GP_ENOMEM,
 * GP_EINVARIANT if t_us lies in the past. */
int engine_schedule(engine *e, int64_t t_us, uint8_t prio, uint8_t kind, uint32_t obj,
                    uint32_t gen);

/* A new timer, not set, whose events carry kind, prio and obj; *id names it (0, 1, ...
 * in the order of addition). 0, or GP_ELIMIT past ENGINE_MAX_TIMERS. */
int engine_timer_add(engine *e, uint8_t kind, uint8_t prio, uint32_t obj, uint32_t *id);
/* Sets timer id to fire at t_us (>= now), replacing its pending event. 0 or
 * GP_EINVARIANT if t_us lies in the past. */
int engine_timer_set(engine *e, uint32_t id, int64_t t_us);
/* The timer fires no more (until set again). */
void engine_timer_clear(engine *e, uint32_t id);

/* Pops the next event into *ev and advances the clock to it. false when empty. */
bool engine_pop(engine *e, sim_event *ev);
/* Time of the next event, INT64_MAX when empty. */
int64_t engine_peek_time(const engine *e);
/* Scheduled events and set timers. */
uint32_t engine_pending(const engine *e);

#endif
