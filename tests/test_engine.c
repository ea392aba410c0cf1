/* test_engine.c: the event set and the clock (sim/engine.h), called directly: events pop
 * in (time, priority, insertion) order whatever the order they were scheduled in, the
 * clock follows them, an event in the past is refused, and cancellation is lazy (the
 * owner bumps its generation; popped events of an older generation are dropped). Timers
 * pop exactly as the same events scheduled with lazy cancellation would. Pushes and pops
 * interleaved pop as a plain list's minimum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "base/error.h"
#include "base/rng.h"
#include "sim/engine.h"

typedef struct ev_in {
    int64_t t_us;
    uint8_t prio;
    uint32_t obj; /* names the event: the rows' expected order is by obj */
} ev_in;

typedef struct order_row {
    const char *name;
    ev_in ev[8];
    size_t n;
    uint32_t want[8]; /* objs in pop order */
} order_row;

static const order_row order_rows[] = {
    {"times in reverse", {{30, 0, 3}, {20, 0, 2}, {10, 0, 1}}, 3, {1, 2, 3}},
    {"times shuffled",
     {{50, 0, 5}, {10, 0, 1}, {40, 0, 4}, {20, 0, 2}, {30, 0, 3}},
     5,
     {1, 2, 3, 4, 5}},
    {"equal times: lower priority first", {{10, 2, 3}, {10, 0, 1}, {10, 1, 2}}, 3, {1, 2, 3}},
    {"equal times and priorities: insertion order",
     {{10, 1, 1}, {10, 1, 2}, {10, 1, 3}},
     3,
     {1, 2, 3}},
    {"time before priority", {{20, 0, 3}, {10, 5, 1}, {10, 7, 2}}, 3, {1, 2, 3}},
    {"mixed ties",
     {{10, 1, 3}, {5, 9, 1}, {10, 0, 2}, {10, 1, 4}, {12, 0, 6}, {10, 1, 5}},
     6,
     {1, 2, 3, 4, 5, 6}},
    {"time 0 and large times",
     {{INT64_MAX / 2, 0, 3}, {0, 0, 1}, {1000000000000, 0, 2}},
     3,
     {1, 2, 3}},
};

static void test_pop_order(void **state)
{
    (void)state;
    for (size_t r = 0; r < sizeof(order_rows) / sizeof(order_rows[0]); r++) {
        const order_row *row = &order_rows[r];
        engine e;
        assert_int_equal(engine_init(&e, 2), 0); /* small: the heap grows on the way */
        for (size_t i = 0; i < row->n; i++)
            if (engine_schedule(&e, row->ev[i].t_us, row->ev[i].prio, 0, row->ev[i].obj, 0) != 0)
                fail_msg("%s: schedule %zu refused", row->name, i);
        if (engine_pending(&e) != row->n)
            fail_msg("%s: %u pending, want %zu", row->name, engine_pending(&e), row->n);
        for (size_t i = 0; i < row->n; i++) {
            int64_t peek = engine_peek_time(&e);
            sim_event ev;
            if (!engine_pop(&e, &ev))
                fail_msg("%s: empty after %zu pops", row->name, i);
            if (ev.obj != row->want[i])
                fail_msg("%s: pop %zu is event %u, want %u", row->name, i, ev.obj, row->want[i]);
            if (ev.t_us != peek || e.now_us != ev.t_us)
                fail_msg("%s: pop %zu at %lld: peek said %lld, clock %lld", row->name, i,
                         (long long)ev.t_us, (long long)peek, (long long)e.now_us);
        }
        sim_event ev;
        if (engine_pop(&e, &ev) || engine_peek_time(&e) != INT64_MAX)
            fail_msg("%s: not empty after the last pop", row->name);
        engine_free(&e);
    }
}

/* Many events at keyed pseudo-random times, a third of them tied: the pops come sorted by
 * (time, priority, insertion), and every event comes out once. */
static void test_many_events_sorted(void **state)
{
    (void)state;
    enum { N = 5000 };
    engine e;
    assert_int_equal(engine_init(&e, 1), 0);
    for (uint32_t i = 0; i < N; i++) {
        uint64_t h = rng_mix64(i);
        int64_t t = (int64_t)(h % 1000);         /* many equal times */
        uint8_t prio = (uint8_t)((h >> 20) % 3); /* and equal priorities */
        assert_int_equal(engine_schedule(&e, t, prio, 0, i, 0), 0);
    }
    static unsigned char seen[N];
    sim_event prev = {0}, ev;
    size_t n = 0;
    while (engine_pop(&e, &ev)) {
        if (n > 0) {
            bool ordered = prev.t_us < ev.t_us ||
                           (prev.t_us == ev.t_us &&
                            (prev.prio < ev.prio || (prev.prio == ev.prio && prev.seq < ev.seq)));
            if (!ordered)
                fail_msg("pop %zu (t %lld prio %u seq %llu) after (t %lld prio %u seq %llu)", n,
                         (long long)ev.t_us, ev.prio, (unsigned long long)ev.seq,
                         (long long)prev.t_us, prev.prio, (unsigned long long)prev.seq);
        }
        if (ev.obj >= N || seen[ev.obj]++)
            fail_msg("event %u popped twice or unknown", ev.obj);
        prev = ev;
        n++;
    }
    assert_int_equal(n, N);
    assert_int_equal(e.processed, N);
    engine_free(&e);
}

/* Scheduling before the clock is an invariant error and changes nothing; at the clock's
 * own time it is fine (an event may schedule another at the same instant). */
static void test_past_refused(void **state)
{
    (void)state;
    engine e;
    assert_int_equal(engine_init(&e, 0), 0);
    assert_int_equal(engine_schedule(&e, 100, 0, 0, 1, 0), 0);
    sim_event ev;
    assert_true(engine_pop(&e, &ev));
    assert_int_equal(e.now_us, 100);
    assert_int_equal(engine_schedule(&e, 99, 0, 0, 2, 0), GP_EINVARIANT);
    assert_int_equal(engine_pending(&e), 0);
    assert_int_equal(engine_schedule(&e, 100, 0, 0, 3, 0), 0);
    assert_true(engine_pop(&e, &ev));
    assert_int_equal(ev.obj, 3);
    engine_free(&e);
}

/* Lazy cancellation: two objects; object 0 is rescheduled twice (each time its owner bumps
 * its generation), object 1 once is cancelled outright. The engine still returns every
 * event, with the generation it was scheduled under; the owner drops the stale ones. */
static void test_lazy_cancellation(void **state)
{
    (void)state;
    engine e;
    assert_int_equal(engine_init(&e, 4), 0);
    uint32_t gen[2] = {0, 0};
    assert_int_equal(engine_schedule(&e, 50, 0, 7, 0, gen[0]), 0); /* obj 0 at 50 */
    assert_int_equal(engine_schedule(&e, 40, 0, 7, 1, gen[1]), 0); /* obj 1 at 40 */
    gen[0]++;                                                      /* obj 0 moves to 30 */
    assert_int_equal(engine_schedule(&e, 30, 0, 7, 0, gen[0]), 0);
    gen[0]++; /* and again to 60 */
    assert_int_equal(engine_schedule(&e, 60, 0, 7, 0, gen[0]), 0);
    gen[1]++;                                /* obj 1 cancelled */
    assert_int_equal(engine_pending(&e), 4); /* cancelled events stay until popped */
    static const struct {
        int64_t t;
        uint32_t obj, gen;
        bool live;
    } want[] = {{30, 0, 1, false}, {40, 1, 0, false}, {50, 0, 0, false}, {60, 0, 2, true}};
    sim_event ev;
    size_t live = 0;
    for (size_t i = 0; i < 4; i++) {
        assert_true(engine_pop(&e, &ev));
        if (ev.t_us != want[i].t || ev.obj != want[i].obj || ev.gen != want[i].gen || ev.kind != 7)
            fail_msg("pop %zu: t %lld obj %u gen %u kind %u, want t %lld obj %u gen %u", i,
                     (long long)ev.t_us, ev.obj, ev.gen, ev.kind, (long long)want[i].t, want[i].obj,
                     want[i].gen);
        bool is_live = ev.gen == gen[ev.obj];
        if (is_live != want[i].live)
            fail_msg("pop %zu: live %d, want %d", i, is_live, want[i].live);
        live += is_live;
    }
    assert_int_equal(live, 1);
    assert_false(engine_pop(&e, &ev));
    engine_free(&e);
}

/* Timers against their definition: a timer set is the event scheduled with lazy
 * cancellation (its previous event becomes stale), a cleared timer's event is stale. Two
 * engines get the same random operations (events, timers set, reset, cleared, also at the
 * current time and right after they fire), one with timers and one with scheduled events
 * and generations; the live events must pop alike, seq included. */
static void test_timers_match_lazy_heap(void **state)
{
    (void)state;
    static const uint32_t n_timers_rows[] = {1, 2, 3, ENGINE_MAX_TIMERS};
    for (size_t row = 0; row < sizeof(n_timers_rows) / sizeof(n_timers_rows[0]); row++) {
        uint32_t nt = n_timers_rows[row];
        engine a, b; /* a: heap with generations; b: timers */
        assert_int_equal(engine_init(&a, 4), 0);
        assert_int_equal(engine_init(&b, 4), 0);
        uint32_t *gen = calloc(nt, sizeof(uint32_t));
        bool *set = calloc(nt, sizeof(bool));
        assert_non_null(gen);
        assert_non_null(set);
        for (uint32_t i = 0; i < nt; i++) {
            uint32_t id;
            /* kind 1 for timers, priorities 0 and 4 as the simulator's */
            assert_int_equal(engine_timer_add(&b, 1, (uint8_t)(i % 3 ? 0 : 4), 1000 + i, &id), 0);
            assert_int_equal(id, i);
        }
        uint64_t h = 77 + row;
        size_t pops = 0;
        for (int step = 0; step < 40000; step++) {
            h = rng_mix64(h);
            int op = (int)(h % 10);
            int64_t t = a.now_us + (int64_t)((h >> 8) % 4 == 0 ? 0 : (h >> 16) % 50);
            if (op < 3) { /* a plain event */
                uint8_t prio = (uint8_t)((h >> 40) % 5);
                assert_int_equal(engine_schedule(&a, t, prio, 2, (uint32_t)step, 0), 0);
                assert_int_equal(engine_schedule(&b, t, prio, 2, (uint32_t)step, 0), 0);
            } else if (op < 6) { /* set a timer */
                uint32_t i = (uint32_t)((h >> 32) % nt);
                gen[i]++;
                set[i] = true;
                assert_int_equal(
                    engine_schedule(&a, t, (uint8_t)(i % 3 ? 0 : 4), 1, 1000 + i, gen[i]), 0);
                assert_int_equal(engine_timer_set(&b, i, t), 0);
            } else if (op == 6) { /* clear one */
                uint32_t i = (uint32_t)((h >> 32) % nt);
                gen[i]++;
                set[i] = false;
                engine_timer_clear(&b, i);
            } else { /* pop the next live event from each */
                sim_event ea, eb;
                bool ga;
                while ((ga = engine_pop(&a, &ea)) && ea.kind == 1 &&
                       (ea.gen != gen[ea.obj - 1000] || !set[ea.obj - 1000]))
                    ;
                bool gb = engine_pop(&b, &eb);
                if (ga != gb)
                    fail_msg("%u timers, step %d: heap %s, timers %s", nt, step,
                             ga ? "popped" : "empty", gb ? "popped" : "empty");
                if (!ga)
                    continue;
                if (ea.kind == 1)
                    set[ea.obj - 1000] = false; /* fired */
                if (ea.t_us != eb.t_us || ea.prio != eb.prio || ea.seq != eb.seq ||
                    ea.kind != eb.kind || ea.obj != eb.obj || b.now_us != ea.t_us)
                    fail_msg("%u timers, pop %zu: heap (t %lld prio %u seq %llu kind %u obj %u), "
                             "timers (t %lld prio %u seq %llu kind %u obj %u)",
                             nt, pops, (long long)ea.t_us, ea.prio, (unsigned long long)ea.seq,
                             ea.kind, ea.obj, (long long)eb.t_us, eb.prio,
                             (unsigned long long)eb.seq, eb.kind, eb.obj);
                pops++;
            }
        }
        assert_true(pops > 10000);
        assert_int_equal(engine_timer_set(&b, 0, b.now_us - 1), GP_EINVARIANT);
        uint32_t id;
        for (uint32_t i = nt; i < ENGINE_MAX_TIMERS; i++)
            assert_int_equal(engine_timer_add(&b, 1, 0, 0, &id), 0);
        assert_int_equal(engine_timer_add(&b, 1, 0, 0, &id), GP_ELIMIT);
        free(gen);
        free(set);
        engine_free(&a);
        engine_free(&b);
    }
}

/* Pushes and pops interleaved, the set kept near a given size (the heap's partial last
 * families and its deep ones): every pop is the smallest (time, priority, insertion) of a
 * plain list of the pending events. */
typedef struct churn_row {
    const char *name;
    uint32_t size; /* pending events it hovers around */
    uint64_t seed;
} churn_row;

static const churn_row churn_rows[] = {
    {"one or two pending", 1, 11},    {"a partial family", 3, 12},
    {"one family and a bit", 6, 13},  {"three levels", 21, 14},
    {"hundreds, many ties", 300, 15},
};

typedef struct ref_ev {
    int64_t t_us;
    uint8_t prio;
    uint64_t seq;
    uint32_t obj;
} ref_ev;

static void test_churn_matches_reference(void **state)
{
    (void)state;
    for (size_t row = 0; row < sizeof(churn_rows) / sizeof(churn_rows[0]); row++) {
        const churn_row *c = &churn_rows[row];
        engine e;
        assert_int_equal(engine_init(&e, 2), 0);
        ref_ev *ref = malloc(sizeof(ref_ev) * (2 * c->size + 8));
        assert_non_null(ref);
        size_t n_ref = 0, pops = 0;
        uint64_t seq = 0, h = c->seed;
        for (int step = 0; step < 30000; step++) {
            h = rng_mix64(h);
            bool push = n_ref == 0 ||
                        (n_ref < 2 * c->size + 4 && (n_ref < c->size ? h % 4 != 0 : h % 4 == 0));
            if (push) {
                ref_ev r = {e.now_us + (int64_t)((h >> 8) % 7), (uint8_t)((h >> 20) % 3), seq++,
                            (uint32_t)step};
                assert_int_equal(engine_schedule(&e, r.t_us, r.prio, 0, r.obj, 0), 0);
                ref[n_ref++] = r;
                continue;
            }
            size_t m = 0;
            for (size_t k = 1; k < n_ref; k++) {
                const ref_ev *a = &ref[k], *b = &ref[m];
                if (a->t_us < b->t_us ||
                    (a->t_us == b->t_us &&
                     (a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq))))
                    m = k;
            }
            sim_event ev;
            assert_true(engine_pop(&e, &ev));
            if (ev.t_us != ref[m].t_us || ev.prio != ref[m].prio || ev.seq != ref[m].seq ||
                ev.obj != ref[m].obj)
                fail_msg("%s, pop %zu: (t %lld prio %u seq %llu obj %u), want (t %lld prio %u "
                         "seq %llu obj %u)",
                         c->name, pops, (long long)ev.t_us, ev.prio, (unsigned long long)ev.seq,
                         ev.obj, (long long)ref[m].t_us, ref[m].prio,
                         (unsigned long long)ref[m].seq, ref[m].obj);
            ref[m] = ref[--n_ref];
            pops++;
        }
        if (pops < 5000 || engine_pending(&e) != n_ref)
            fail_msg("%s: %zu pops, %u pending, %zu in the list", c->name, pops, engine_pending(&e),
                     n_ref);
        free(ref);
        engine_free(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_match_lazy_heap),
        cmocka_unit_test(test_churn_matches_reference),
        cmocka_unit_test(test_pop_order),
        cmocka_unit_test(test_many_events_sorted),
        cmocka_unit_test(test_past_refused),
        cmocka_unit_test(test_lazy_cancellation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
