/* engine.h: the event set and the simulated clock; knows nothing of pods or policies.
 * Time is int64 microseconds. Events at equal times pop in (t_us, prio, seq) order,
 * seq = insertion count, so runs are bit-identical on every platform.
 * An event is plain data {t_us, prio, seq, kind, obj, gen}; the caller dispatches on
 * kind. Cancellation is lazy: the owner of `obj` bumps its generation counter and
 * drops popped events whose gen is stale. The engine owns one growable binary heap
 * and does not allocate per event. Not thread-safe (one engine per run). */
#ifndef GP_ENGINE_H
#define GP_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sim_event {
    int64_t t_us;
    uint64_t seq; /* insertion order, tie-breaker after prio */
    uint32_t gen; /* generation of `obj` when scheduled */
    uint8_t prio; /* lower runs first at equal t_us */
    uint8_t kind; /* caller's event kind */
    uint32_t obj; /* caller's object index */
} sim_event;

typedef struct engine {
    int64_t now_us;
    uint64_t next_seq;
    uint64_t processed;
    sim_event *heap;
    uint32_t n, cap;
} engine;

/* Returns 0 or GP_ENOMEM. */
int engine_init(engine *e, uint32_t initial_cap);
void engine_free(engine *e);

/* Schedules an event at absolute time t_us (>= now). Returns 0 or GP_ENOMEM,
 * GP_EINVARIANT if t_us lies in the past. */
int engine_schedule(engine *e, int64_t t_us, uint8_t prio, uint8_t kind, uint32_t obj,
                    uint32_t gen);

/* Pops the next event into *ev and advances the clock to it. false when empty. */
bool engine_pop(engine *e, sim_event *ev);
/* Time of the next event, INT64_MAX when empty. */
int64_t engine_peek_time(const engine *e);
uint32_t engine_pending(const engine *e);

#endif
