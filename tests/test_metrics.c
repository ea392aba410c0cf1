/* test_metrics.c: what a policy sees (sim/metrics.h), called directly, without a run.
 * - The latency window: a 60 s window scraped every 15 s is kept in 16 slots of 3.75 s;
 *   a latency counts at a scrape while its slot is in the window: exactly the last 60 s at
 *   a slot boundary, up to one slot more in between, never less.
 * - The delay: a policy at time t sees the newest scrape taken at or before t - delay;
 *   before the first such scrape it sees no metrics (NaN, metrics_valid false). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/common.h"
#include "sim/metrics.h"
#include "sim/sim.h"

static void pipe_open(metrics_pipe *m, int64_t scrape_us, int64_t window_us, int64_t delay_us)
{
    metrics_cfg cfg = {.scrape_interval_us = scrape_us,
                       .latency_window_us = window_us,
                       .delay_us = delay_us,
                       .sync_jitter_us = 0};
    assert_int_equal(metrics_init(m, &cfg, 1), 0);
}

/* One scrape at t with no pods and queue_len q. */
static void scrape(metrics_pipe *m, int64_t t_us, double q)
{
    metrics_sample *smp = metrics_begin_sample(m, t_us, 0);
    assert_non_null(smp);
    metrics_end_sample(m, smp, q, 0, 0, 0);
}

typedef struct window_row {
    const char *name;
    int64_t latency_at_us; /* one latency of 2 s recorded then */
    int64_t scrape_at_us;
    uint32_t want_samples;
} window_row;

#define SLOT_US (US_PER_S * 15 / 4) /* 3.75 s: 60 s in 16 slots */

static const window_row window_rows[] = {
    {"same instant", 0, 0, 1},
    {"just inside 60 s", 0, 60 * US_PER_S - 1, 1},
    {"exactly 60 s: the window is [t - 60 s, t]", 0, 60 * US_PER_S, 1},
    {"60 s + a slot - 1 us: its slot is still in", 0, 60 * US_PER_S + SLOT_US - 1, 1},
    {"60 s + a slot: its slot has left", 0, 60 * US_PER_S + SLOT_US, 0},
    {"last instant of a slot leaves with it", SLOT_US - 1, 60 * US_PER_S + SLOT_US, 0},
    {"first instant of the next slot stays", SLOT_US, 60 * US_PER_S + SLOT_US, 1},
    {"next slot, 60 s + a slot - 1 us later", SLOT_US, 60 * US_PER_S + 2 * SLOT_US - 1, 1},
    {"next slot, one slot later", SLOT_US, 60 * US_PER_S + 2 * SLOT_US, 0},
    {"an hour later", 0, 3600 * US_PER_S, 0},
};

static void test_latency_window_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(window_rows) / sizeof(window_rows[0]); i++) {
        const window_row *r = &window_rows[i];
        metrics_pipe m;
        pipe_open(&m, 15 * US_PER_S, 60 * US_PER_S, 0);
        assert_int_equal(metrics_record_latency(&m, r->latency_at_us, 2.0), 0);
        scrape(&m, r->scrape_at_us, 0);
        const policy_obs *o = metrics_latest(&m);
        assert_non_null(o);
        if (o->latency_samples != r->want_samples)
            fail_msg("%s: %u latency samples, want %u", r->name, o->latency_samples,
                     r->want_samples);
        double p99 = o->metric[OBS_LATENCY_P99_S];
        if (r->want_samples ? !(fabs(p99 - 2.0) <= 2.0 * 0.01) : !isnan(p99))
            fail_msg("%s: p99 %g, want %s", r->name, p99, r->want_samples ? "2 s" : "NaN");
        metrics_free(&m);
    }
}

/* Scrapes every 15 s (queue_len = k at scrape k), delay 30 s: a policy asking at
 * 15 k + offset sees scrape `want_back` steps behind k, taken before the next scrape. */
static void test_delay(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t delay_us, offset_us;
        int want_back; /* which scrape: k - want_back */
    } rows[] = {
        {"no delay: the scrape just taken", 0, 0, 0},
        {"no delay, just before the next scrape", 0, 15 * US_PER_S - 1, 0},
        {"30 s: two scrapes back", 30 * US_PER_S, 0, 2},
        {"30 s, 1 us before the next scrape: still two back", 30 * US_PER_S, 15 * US_PER_S - 1, 2},
        {"30 s, at the next scrape's time, before it is taken: one back", 30 * US_PER_S,
         15 * US_PER_S, 1},
        {"20 s (not a multiple): two back", 20 * US_PER_S, 0, 2},
        {"20 s, 5 s later: one back", 20 * US_PER_S, 5 * US_PER_S, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        metrics_pipe m;
        pipe_open(&m, 15 * US_PER_S, 60 * US_PER_S, rows[i].delay_us);
        for (int k = 0; k <= 12; k++) { /* past the ring's length: it wraps */
            scrape(&m, k * 15 * US_PER_S, k);
            int64_t now = k * 15 * US_PER_S + rows[i].offset_us;
            policy_obs o;
            metrics_observe(&m, now, &o);
            int want = k - rows[i].want_back;
            if (o.now_us != now)
                fail_msg("%s, k %d: now %lld, want %lld", rows[i].name, k, (long long)o.now_us,
                         (long long)now);
            if (want < 0) {
                if (o.metrics_valid || !isnan(o.metric[OBS_QUEUE_LEN]) || o.scrape_us != -1)
                    fail_msg("%s, k %d: metrics before the first visible scrape", rows[i].name, k);
                continue;
            }
            if (!o.metrics_valid || o.metric[OBS_QUEUE_LEN] != want ||
                o.scrape_us != want * 15 * US_PER_S)
                fail_msg("%s, k %d: saw scrape %g (at %lld us), want %d", rows[i].name, k,
                         o.metric[OBS_QUEUE_LEN], (long long)o.scrape_us, want);
        }
        metrics_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_window_edges),
        cmocka_unit_test(test_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
