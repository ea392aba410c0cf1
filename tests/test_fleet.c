/* test_fleet.c: mixed fleets in the simulator (issue 17; docs/model.md, "Mixed fleets").
 * Two pools of different speeds against a case worked by hand and against the
 * heterogeneous two-server queue (a continuous-time Markov chain solved here); two pools
 * behind a router, each fed only its own requests, are each exactly a run of one pool fed
 * those; memory routing never places a request on a card too small for it, in every
 * routing and deployment mode, and worked by hand: a request waits for (or is routed to)
 * the card that holds it, one that no card holds is rejected as too large; a preemption
 * drains, takes back and requeues at the head in arrival order (worked by hand); under
 * many preemptions every request is completed, timed out or rejected exactly once, the
 * per-pool counts add up and the same seed gives the same run; a recorded preemption trace
 * replays a run exactly; each Deployment's policy sees its own pods; the single-pool form
 * of a cluster gives the results of the cluster without pools, and those are today's,
 * byte for byte (hashes of main's output). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_cdf.h>

#include "sim/sim.h"
#include "tests/testutil.h"

#define S 1000000LL

/* A card (tests/testutil.h, tu_card_text). */
static gpu_profile *card(const char *name, double service_ms, const char *jitter, double mem_mib,
                         double req_mem_1, double req_mem_24, double cold_s)
{
    char text[2048];
    tu_card_text(text, sizeof(text), name, service_ms, jitter, mem_mib, req_mem_1, req_mem_24,
                 cold_s);
    return tu_profile(text);
}

static void fleet_base(sim_cfg *cfg, const policy_ops *ops, void *src_ctx, sim_source_open open)
{
    memset(cfg, 0, sizeof(*cfg));
    cluster_cfg_default(&cfg->cluster);
    metrics_cfg_default(&cfg->metrics);
    cfg->policy = ops;
    cfg->seed = 7;
    cfg->open_source = open;
    cfg->source_ctx = src_ctx;
}

static pool_cfg *add_pool(sim_cfg *cfg, const char *name, const gpu_profile *prof, int gpus,
                          int pods)
{
    pool_cfg *p = &cfg->cluster.pool[cfg->cluster.n_pools++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->profile = prof;
    p->gpus = p->gpus_max = gpus;
    p->min_pods = p->max_pods = pods;
    p->price_per_gpu_hour = 1.0;
    p->image_cache = IMAGE_CACHE_NODE;
    if (!cfg->profile)
        cfg->profile = prof;
    return p;
}

static void run_ok(const sim_cfg *cfg, run_summary *sum, request_log *log)
{
    gp_error err;
    gp_error_clear(&err);
    if (sim_run(cfg, sum, NULL, log, &err) < 0)
        tu_fail_error(&err, "sim_run");
    assert_int_equal(sum->arrived,
                     sum->completed + sum->timed_out + sum->rejected + sum->in_flight_end);
}

static void expect(const request_log *log, uint64_t id, int pool, int64_t start_us, int64_t end_us)
{
    const request_row *r = tu_row_of(log, id);
    if (r->pool != pool || r->start_us != start_us || r->end_us != end_us ||
        r->outcome != OUTCOME_COMPLETED)
        fail_msg("request %llu: pool %d start %lld end %lld outcome %d, want pool %d start %lld "
                 "end %lld completed",
                 (unsigned long long)id, r->pool, (long long)r->start_us, (long long)r->end_us,
                 r->outcome, pool, (long long)start_us, (long long)end_us);
}

/* ------------------------------------------------------------ two speeds, by hand */

/* Pool 1 "fast" (1 s a request) and pool 2 "slow" (3 s), one static pod of one slot each,
 * a shared queue. Slots wait in the order they became free (fast's first at t = 0):
 *   r0, r1, r2 at 0: r0 -> fast (0..1), r1 -> slow (0..3), r2 waits;
 *   at 1 fast frees: r2 -> fast (1..2);
 *   r3 at 2.5: fast is the only free slot: 2.5..3.5;
 *   r4 at 3: slow completes first (completions before arrivals), so r4 -> slow (3..6);
 *   r5 at 3.2: waits; fast frees at 3.5: r5 -> fast (3.5..4.5). */
static void test_two_speeds_by_hand(void **state)
{
    (void)state;
    gpu_profile *fast = card("fast", 1000, "none", 80000, 1, 1, 0);
    gpu_profile *slow = card("slow", 3000, "none", 80000, 1, 1, 0);
    static const request_spec specs[] = {
        {.arrival_us = 0, .mp = 1},     {.arrival_us = 0, .mp = 1},
        {.arrival_us = 0, .mp = 1},     {.arrival_us = 2500000, .mp = 1},
        {.arrival_us = 3 * S, .mp = 1}, {.arrival_us = 3200000, .mp = 1}};
    tu_list lc = {.specs = specs, .n = 6};
    static const struct {
        const char *name;
        deployment_mode deploy;
        dispatch_mode dispatch;
    } modes[] = {{"per_pool, shared queue", DEPLOY_PER_POOL, DISPATCH_SHARED_QUEUE},
                 {"spread, shared queue", DEPLOY_SPREAD, DISPATCH_SHARED_QUEUE}};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        sim_cfg cfg;
        fleet_base(&cfg, policy_find("static"), &lc, tu_open_list);
        add_pool(&cfg, "fast", fast, 1, 1);
        add_pool(&cfg, "slow", slow, 1, 1);
        cfg.cluster.deployments = modes[m].deploy;
        cfg.cluster.dispatch = modes[m].dispatch;
        cfg.cluster.min_pods = cfg.cluster.max_pods = 2; /* the spread Deployment's */
        cfg.cluster.concurrency = 1;
        run_summary sum;
        request_log log = {0};
        run_ok(&cfg, &sum, &log);
        print_message("  %s\n", modes[m].name);
        expect(&log, 0, 1, 0, 1 * S);
        expect(&log, 1, 2, 0, 3 * S);
        expect(&log, 2, 1, 1 * S, 2 * S);
        expect(&log, 3, 1, 2500000, 3500000);
        expect(&log, 4, 2, 3 * S, 6 * S);
        expect(&log, 5, 1, 3500000, 4500000);
        assert_int_equal(sum.n_pools, 2);
        assert_int_equal(sum.pool[0].completed, 4);
        assert_int_equal(sum.pool[1].completed, 2);
        /* busy 4 s of fast, 6 s of slow; both billed the whole run */
        assert_true(fabs(sum.pool[0].busy_gpu_seconds - 4.0) < 1e-9);
        assert_true(fabs(sum.pool[1].busy_gpu_seconds - 6.0) < 1e-9);
        assert_true(fabs(sum.cost - (sum.pool[0].cost + sum.pool[1].cost)) < 1e-12);
        request_log_free(&log);
    }
    free(fast);
    free(slow);
}

/* ------------------------------------------------------------ two pools, independently */

/* A router by megapixels in front of two pools (per_pool Deployments, static): "a" takes
 * the images of up to 2 MP, "b" the rest. Neither pool sees the other's requests, so each
 * must be exactly a run of one pool (no pools: the plain cluster) fed only its own:
 * every request's start and end, and the pool's completions, busy and billed GPU-seconds,
 * cost, pod starts and P99 equal that run's. Both queue (arrivals faster than service). */
static void test_two_pools_independent(void **state)
{
    (void)state;
    gpu_profile *ca = card("a", 1500, "none", 80000, 1, 1, 4);
    gpu_profile *cb = card("b", 2500, "none", 80000, 1, 1, 4);
    enum { N = 60 };
    request_spec all[N], part[2][N];
    size_t n_part[2] = {0, 0}, index_in[N];
    int pool_of[N];
    for (int i = 0; i < N; i++) {
        /* irregular arrivals, a third of them 4 MP (pool b) */
        all[i] = (request_spec){.arrival_us = i * 300000LL + (i * 37 % 250) * 1000LL,
                                .mp = i % 3 == 0 ? 4.0f : 1.5f};
        pool_of[i] = i % 3 == 0 ? 1 : 0;
        index_in[i] = n_part[pool_of[i]];
        part[pool_of[i]][n_part[pool_of[i]]++] = all[i];
    }
    const int64_t horizon_us = 120 * S;
    tu_list lc = {.specs = all, .n = N};
    sim_cfg cfg;
    fleet_base(&cfg, policy_find("static"), &lc, tu_open_list);
    add_pool(&cfg, "a", ca, 1, 1)->route_max_mp = 2;
    add_pool(&cfg, "b", cb, 1, 1);
    cfg.cluster.routing = ROUTING_ROUTER;
    cfg.cluster.deployments = DEPLOY_PER_POOL;
    cfg.cluster.concurrency = 2;
    cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
    cfg.horizon_us = horizon_us;
    run_summary fleet;
    request_log flog = {0};
    run_ok(&cfg, &fleet, &flog);
    assert_int_equal(fleet.completed, N);
    const gpu_profile *cards[2] = {ca, cb};
    for (int k = 0; k < 2; k++) {
        tu_list lk = {.specs = part[k], .n = n_part[k]};
        sim_cfg one;
        fleet_base(&one, policy_find("static"), &lk, tu_open_list);
        one.profile = cards[k];
        one.cluster.gpus = one.cluster.gpus_max = 1;
        one.cluster.min_pods = one.cluster.max_pods = 1;
        one.cluster.concurrency = 2;
        one.cluster.timeout_us = SIM_TIMEOUT_NONE;
        one.cluster.price_per_gpu_hour = 1.0;
        one.cluster.image_cache = IMAGE_CACHE_NODE;
        one.horizon_us = horizon_us;
        run_summary alone;
        request_log alog = {0};
        run_ok(&one, &alone, &alog);
        for (int i = 0; i < N; i++) {
            if (pool_of[i] != k)
                continue;
            const request_row *f = tu_row_of(&flog, (uint64_t)i);
            const request_row *a = tu_row_of(&alog, index_in[i]);
            if (f->pool != k + 1 || f->start_us != a->start_us || f->end_us != a->end_us ||
                f->outcome != a->outcome)
                fail_msg("pool %d, request %d: in the fleet pool %d %lld..%lld, alone "
                         "%lld..%lld",
                         k, i, f->pool, (long long)f->start_us, (long long)f->end_us,
                         (long long)a->start_us, (long long)a->end_us);
        }
        const pool_result *pr = &fleet.pool[k];
        print_message("  pool %s: %llu completed, busy %.1f s, P99 %.3f s (alone: %llu, %.1f s, "
                      "%.3f s)\n",
                      pr->name, (unsigned long long)pr->completed, pr->busy_gpu_seconds,
                      pr->lat_p99_s, (unsigned long long)alone.completed, alone.busy_gpu_seconds,
                      alone.lat_p99_s);
        assert_int_equal(pr->served, n_part[k]);
        assert_int_equal(pr->completed, alone.completed);
        assert_int_equal(pr->pod_starts, alone.pod_starts);
        assert_true(fabs(pr->busy_gpu_seconds - alone.busy_gpu_seconds) < 1e-9);
        assert_true(fabs(pr->gpu_seconds - alone.gpu_seconds) < 1e-9);
        assert_true(fabs(pr->cost - alone.cost) < 1e-12);
        assert_true(pr->lat_p99_s == alone.lat_p99_s);
        assert_true(alone.lat_p99_s > 4.0); /* it queued: more than two services */
        request_log_free(&alog);
    }
    request_log_free(&flog);
    free(ca);
    free(cb);
}

/* ------------------------------------------------------------ heterogeneous M/M/2 */

/* Mean number in a heterogeneous M/M/2 whose free servers take work longest-idle first
 * (the slot FIFO). States: both idle with the fast (F) or the slow (S) one idle longer (the
 * next arrival goes to it), only the fast busy, only the slow busy, and n >= 2 in the
 * system. Above 2 the chain is birth-death with rates lambda and mu_f + mu_s, so
 * P(n = 2 + k) = p r^k, r = lambda / (mu_f + mu_s). With p = 1, balance of the four
 * boundary states:
 *   lambda P(idle F) = mu_s P(slow),   lambda P(idle S) = mu_f P(fast),
 *   (lambda + mu_f) P(fast) = lambda P(idle F) + mu_s p,
 *   (lambda + mu_s) P(slow) = lambda P(idle S) + mu_f p,
 * give P(fast) = mu_s (lambda + mu_f + mu_s) / det, P(slow) = mu_f (lambda + mu_f + mu_s)
 * / det, det = lambda (lambda + mu_f + mu_s). *fast_share: the fast server's throughput
 * over lambda. */
static double hetero_mm2_mean_in_system(double lambda, double mu_f, double mu_s, double *fast_share)
{
    double mu = mu_f + mu_s, r = lambda / mu, det = lambda * (lambda + mu);
    double fast = mu_s * (lambda + mu) / det, slow = mu_f * (lambda + mu) / det;
    double idle_f = mu_s * slow / lambda, idle_s = mu_f * fast / lambda, p = 1;
    double z = idle_f + idle_s + fast + slow + p / (1 - r);
    double L = fast + slow + p * (2 / (1 - r) + r / ((1 - r) * (1 - r)));
    *fast_share = mu_f * (fast + p / (1 - r)) / z / lambda;
    return L / z;
}

/* Exponential service: 1 s on the fast card, 2 s on the slow one; the mean response time
 * of replicated runs against Little's law over the chain (L / lambda). */
static void test_heterogeneous_two_server_queue(void **state)
{
    (void)state;
    gpu_profile *fast = card("fast", 1000, "exponential", 80000, 1, 1, 0);
    gpu_profile *slow = card("slow", 2000, "exponential", 80000, 1, 1, 0);
    const double mu_f = 1.0, mu_s = 0.5;
    static const double loads[] = {0.5, 0.8};
    for (size_t i = 0; i < 2; i++) {
        double lambda = loads[i] * (mu_f + mu_s);
        tu_poisson pc = {.rate_per_s = lambda, .duration_us = 20000 * S};
        image_mix_default(&pc.mix);
        const int reps = 20;
        double acc = 0, acc2 = 0, sh = 0, sh2 = 0;
        for (int r = 0; r < reps; r++) {
            sim_cfg cfg;
            fleet_base(&cfg, policy_find("static"), &pc, tu_open_poisson);
            add_pool(&cfg, "fast", fast, 1, 1);
            add_pool(&cfg, "slow", slow, 1, 1);
            cfg.cluster.concurrency = 1;
            cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
            cfg.seed = 900 + (uint64_t)r;
            run_summary sum;
            run_ok(&cfg, &sum, NULL);
            assert_int_equal(sum.completed, sum.arrived);
            acc += sum.lat_mean_s;
            acc2 += sum.lat_mean_s * sum.lat_mean_s;
            double share = (double)sum.pool[0].completed / (double)sum.completed;
            sh += share;
            sh2 += share * share;
        }
        double t975 = gsl_cdf_tdist_Pinv(0.975, reps - 1);
        double mean = acc / reps, var = (acc2 - reps * mean * mean) / (reps - 1);
        double half = t975 * sqrt(var / reps);
        double smean = sh / reps, svar = (sh2 - reps * smean * smean) / (reps - 1);
        double shalf = t975 * sqrt(svar / reps);
        double share_theory;
        double theory = hetero_mm2_mean_in_system(lambda, mu_f, mu_s, &share_theory) / lambda;
        print_message("  heterogeneous M/M/2 rho=%.1f: theory %.4f s, sim %.4f +- %.4f s; fast "
                      "share %.4f, sim %.4f +- %.4f\n",
                      loads[i], theory, mean, half, share_theory, smean, shalf);
        if (fabs(theory - mean) > half)
            fail_msg("rho %.1f: theory %.5f outside the 95%% CI %.5f +- %.5f", loads[i], theory,
                     mean, half);
        if (fabs(share_theory - smean) > shalf)
            fail_msg("rho %.1f: the fast card's share %.5f outside the 95%% CI %.5f +- %.5f",
                     loads[i], share_theory, smean, shalf);
    }
    free(fast);
    free(slow);
}

/* ------------------------------------------------------------ memory routing */

/* Mixed images (1 to 40 MP) on a small card (16 GB; a request takes 200 MiB at 1 MP, 12 GB
 * at 24 MP, more beyond) and a large one (80 GB), 4 slots a pod: every request that ran did
 * so on a card that could hold it (with the model), those no card holds are rejected as
 * too large, and both cards did work; in every mode. */
static void test_memory_routing(void **state)
{
    (void)state;
    gpu_profile *small = card("small", 2000, "lognormal 0.3", 16384, 200, 12000, 5);
    gpu_profile *large = card("large", 1000, "lognormal 0.3", 81920, 200, 12000, 5);
    tu_poisson pc = {.rate_per_s = 2.0, .duration_us = 4000 * S};
    pc.mix.n_classes = 2;
    pc.mix.cls[0] = (image_class){.weight = 0.7, .mp_min = 1, .mp_max = 6, .faces_p = {1}};
    pc.mix.cls[1] = (image_class){.weight = 0.3, .mp_min = 8, .mp_max = 160, .faces_p = {1}};
    static const struct {
        const char *name;
        deployment_mode deploy;
        dispatch_mode dispatch;
        routing_mode routing;
        double small_max_mp;
    } modes[] = {
        {"per_pool, shared queue", DEPLOY_PER_POOL, DISPATCH_SHARED_QUEUE, ROUTING_SHARED, 0},
        {"spread, shared queue", DEPLOY_SPREAD, DISPATCH_SHARED_QUEUE, ROUTING_SHARED, 0},
        {"per_pool, router (small up to 6 MP)", DEPLOY_PER_POOL, DISPATCH_SHARED_QUEUE,
         ROUTING_ROUTER, 6},
        {"per_pool, router (memory only)", DEPLOY_PER_POOL, DISPATCH_SHARED_QUEUE, ROUTING_ROUTER,
         0},
        {"per_pool, least_conn", DEPLOY_PER_POOL, DISPATCH_LEAST_CONN, ROUTING_SHARED, 0},
        {"spread, least_conn, router", DEPLOY_SPREAD, DISPATCH_LEAST_CONN, ROUTING_ROUTER, 6},
    };
    const gpu_profile *cards[2] = {small, large};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        sim_cfg cfg;
        fleet_base(&cfg, policy_find("static"), &pc, tu_open_poisson);
        add_pool(&cfg, "small", small, 3, 3)->route_max_mp = modes[m].small_max_mp;
        add_pool(&cfg, "large", large, 2, 2);
        cfg.cluster.deployments = modes[m].deploy;
        cfg.cluster.dispatch = modes[m].dispatch;
        cfg.cluster.routing = modes[m].routing;
        cfg.cluster.min_pods = cfg.cluster.max_pods = 5;
        cfg.cluster.concurrency = 4;
        run_summary sum;
        request_log log = {0};
        run_ok(&cfg, &sum, &log);
        uint64_t ran[2] = {0, 0}, too_large = 0;
        for (size_t i = 0; i < log.n; i++) {
            const request_row *r = &log.row[i];
            bool fits_any = false;
            for (int c = 0; c < 2; c++)
                fits_any |=
                    cards[c]->model_mem_bytes + profile_req_mem_bytes(cards[c], r->mp, r->faces) <=
                    cards[c]->gpu_mem_bytes;
            if (!fits_any) {
                too_large++;
                if (r->outcome != OUTCOME_REJECTED)
                    fail_msg("%s: request %llu (%.1f MP) fits no card but was not rejected",
                             modes[m].name, (unsigned long long)r->id, r->mp);
                continue;
            }
            if (r->start_us < 0)
                continue;
            assert_in_range(r->pool, 1, 2);
            const gpu_profile *c = cards[r->pool - 1];
            if (c->model_mem_bytes + profile_req_mem_bytes(c, r->mp, r->faces) > c->gpu_mem_bytes)
                fail_msg("%s: request %llu (%.1f MP) ran on the %s card, too small for it",
                         modes[m].name, (unsigned long long)r->id, r->mp, c->card);
            if (modes[m].small_max_mp > 0 && modes[m].routing == ROUTING_ROUTER && r->pool == 1 &&
                r->mp > modes[m].small_max_mp)
                fail_msg("%s: request %llu (%.1f MP) routed past the router's limit", modes[m].name,
                         (unsigned long long)r->id, r->mp);
            ran[r->pool - 1]++;
        }
        print_message("  %-36s small %llu, large %llu, too large %llu\n", modes[m].name,
                      (unsigned long long)ran[0], (unsigned long long)ran[1],
                      (unsigned long long)too_large);
        assert_true(ran[0] > 100 && ran[1] > 100 && too_large > 10);
        assert_int_equal(sum.rejected_by[REJECT_TOO_LARGE], too_large);
        request_log_free(&log);
    }
    free(small);
    free(large);
}

/* Worked by hand: "small" (8 GB: with the 1 GB model it holds images up to about 14 MP)
 * listed first, "large" (80 GB), one pod of one slot each; 3 s a request on small, 1 s on
 * large.
 *   r0 at 0, 20 MP: only large holds it: large 0..1;
 *   r1 at 0.1 s, 20 MP: small is free but cannot hold it: it waits for large, 1..2;
 *   r2 at 0.2 s, 1 MP: small takes it (past r1): 0.2..3.2;
 *   r3 at 0.3 s, 200 MP: no card holds it: rejected, too large.
 * The same with a shared queue (memory-aware pulling) and with a router (by memory). */
static void test_memory_routing_by_hand(void **state)
{
    (void)state;
    gpu_profile *small = card("small", 3000, "none", 8000, 200, 12000, 0);
    gpu_profile *large = card("large", 1000, "none", 81920, 200, 12000, 0);
    static const request_spec specs[] = {{.arrival_us = 0, .mp = 20},
                                         {.arrival_us = 100000, .mp = 20},
                                         {.arrival_us = 200000, .mp = 1},
                                         {.arrival_us = 300000, .mp = 200}};
    tu_list lc = {.specs = specs, .n = 4};
    static const struct {
        const char *name;
        routing_mode routing;
    } modes[] = {{"shared queue", ROUTING_SHARED}, {"router", ROUTING_ROUTER}};
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        sim_cfg cfg;
        fleet_base(&cfg, policy_find("static"), &lc, tu_open_list);
        add_pool(&cfg, "small", small, 1, 1);
        add_pool(&cfg, "large", large, 1, 1);
        cfg.cluster.routing = modes[m].routing;
        cfg.cluster.concurrency = 1;
        cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
        run_summary sum;
        request_log log = {0};
        run_ok(&cfg, &sum, &log);
        print_message("  %s\n", modes[m].name);
        expect(&log, 0, 2, 0, 1 * S);
        expect(&log, 1, 2, 1 * S, 2 * S);
        expect(&log, 2, 1, 200000, 3200000);
        const request_row *r3 = tu_row_of(&log, 3);
        if (r3->outcome != OUTCOME_REJECTED || r3->start_us >= 0)
            fail_msg("%s: the 200 MP request: outcome %d start %lld, want rejected", modes[m].name,
                     r3->outcome, (long long)r3->start_us);
        assert_int_equal(sum.rejected, 1);
        assert_int_equal(sum.rejected_by[REJECT_TOO_LARGE], 1);
        assert_int_equal(sum.pool[0].served, 1);
        assert_int_equal(sum.pool[1].served, 2);
        request_log_free(&log);
    }
    free(small);
    free(large);
}

/* ------------------------------------------------------------ preemption */

/* Pool "spot" (1 node, one pod of 3 slots, spot, notice 30 s) and pool "od" (1 node, one
 * pod of 3 slots); 100 s a request, eff linear (each at full speed), no timeout; a new node
 * comes 5 s after it is asked for, a pod starts in 10 s. r0..r4 at 0..4 s: r0, r1, r2 fill
 * spot (its slots came first), r3 and r4 go to od (3..103, 4..104). Notice at 10 s (+ an
 * offset): the spot pod drains (grace 30 s = the notice); its replacement finds no node
 * (the one node is being taken). At 40 s what it holds (r0, r1, r2) is taken back and
 * requeued at the head in arrival order; od's third slot takes r0 at once (40..140); the
 * node goes, a new one is asked for (45 s), the new pod is ready at 55 s and takes r1, r2. */
static void preempt_by_hand(int64_t offset_us, int node)
{
    gpu_profile *p = card("c", 100000, "none", 80000, 1, 1, 10);
    static const request_spec specs[] = {{.arrival_us = 0, .mp = 1},
                                         {.arrival_us = 1 * S, .mp = 1},
                                         {.arrival_us = 2 * S, .mp = 1},
                                         {.arrival_us = 3 * S, .mp = 1},
                                         {.arrival_us = 4 * S, .mp = 1}};
    tu_list lc = {.specs = specs, .n = 5};
    preemption_notice notice = {.t_us = 10 * S + offset_us, .node = node};
    sim_cfg cfg;
    fleet_base(&cfg, policy_find("static"), &lc, tu_open_list);
    pool_cfg *spot = add_pool(&cfg, "spot", p, 1, 1);
    spot->capacity = CAPACITY_SPOT;
    spot->notice_us = 30 * S;
    spot->preempt = &notice;
    spot->n_preempt = 1;
    spot->node_provision_us = 5 * S;
    add_pool(&cfg, "od", p, 1, 1);
    cfg.cluster.concurrency = 3;
    cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
    run_summary sum;
    request_log log = {0};
    run_ok(&cfg, &sum, &log);
    int64_t taken = 40 * S + offset_us, back = 55 * S + offset_us;
    expect(&log, 0, 2, taken, taken + 100 * S);
    expect(&log, 1, 1, back, back + 100 * S);
    expect(&log, 2, 1, back, back + 100 * S);
    expect(&log, 3, 2, 3 * S, 103 * S);
    expect(&log, 4, 2, 4 * S, 104 * S);
    assert_int_equal(sum.preemptions, 1);
    assert_int_equal(sum.requeued, 3);
    assert_int_equal(sum.pool[0].preemptions, 1);
    assert_int_equal(sum.pool[0].pods_preempted, 1);
    assert_int_equal(sum.pool[0].served, 5);
    assert_int_equal(sum.pool[0].requeued, 3);
    assert_int_equal(sum.pool[0].completed, 2);
    assert_int_equal(sum.pool[1].served, 3);
    assert_int_equal(sum.pool[1].completed, 3);
    assert_int_equal(sum.pool[0].pod_starts, 1);
    request_log_free(&log);
    free(p);
}

static void test_preemption_by_hand(void **state)
{
    (void)state;
    preempt_by_hand(0, 0);
    preempt_by_hand(0, -1);     /* the lowest-numbered node: the same one */
    preempt_by_hand(123457, 0); /* to the microsecond */
}

/* The order of a requeue: six requests held by a preempted pod of 6 slots, all taken
 * back at the end of the notice; they must start again in arrival order, and before the
 * requests that came after them. One pod, no other pool: they wait for its replacement. */
static void test_preemption_requeues_in_arrival_order(void **state)
{
    (void)state;
    gpu_profile *p = card("c", 200000, "none", 80000, 1, 1, 10);
    request_spec specs[10];
    for (int i = 0; i < 10; i++)
        specs[i] = (request_spec){.arrival_us = i * S + 17 * i, .mp = 1};
    tu_list lc = {.specs = specs, .n = 10};
    preemption_notice notice = {.t_us = 20 * S, .node = -1};
    sim_cfg cfg;
    fleet_base(&cfg, policy_find("static"), &lc, tu_open_list);
    pool_cfg *spot = add_pool(&cfg, "spot", p, 2, 1);
    spot->capacity = CAPACITY_SPOT;
    spot->notice_us = 30 * S;
    spot->preempt = &notice;
    spot->n_preempt = 1;
    cfg.cluster.concurrency = 6;
    cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
    run_summary sum;
    request_log log = {0};
    run_ok(&cfg, &sum, &log);
    assert_int_equal(sum.requeued, 6);
    /* the replacement is on the other node: ready at 20 + 10 s; it takes the first six of
       the queue, which must be r0..r5 (requeued at 50 s) ... no: it is ready at 30 s,
       before the notice ends, and takes r6..r9 (waiting) first; at 50 s r0..r5 come back
       at the head and wait for its slots: they start in arrival order */
    int64_t last = -1;
    for (uint64_t id = 0; id < 6; id++) {
        const request_row *r = tu_row_of(&log, id);
        if (r->start_us < last)
            fail_msg("request %llu restarted at %lld, before request %llu (%lld)",
                     (unsigned long long)id, (long long)r->start_us, (unsigned long long)(id - 1),
                     (long long)last);
        if (r->start_us < 50 * S)
            fail_msg("request %llu restarted at %lld, before the end of the notice",
                     (unsigned long long)id, (long long)r->start_us);
        last = r->start_us;
    }
    /* conservation and the per-pool counts (the run checks them too) */
    assert_int_equal(sum.completed, 10);
    assert_int_equal(sum.pool[0].served, 16);
    assert_int_equal(sum.pool[0].completed + sum.pool[0].requeued, 16);
    request_log_free(&log);
    free(p);
}

/* Many preemptions (a Poisson rate of 3 per node-hour, a notice of 2 s, shorter than the
 * 45 s grace and than many requests: what pods hold then is taken back) on a spot pool
 * beside an on-demand pool (spot_fleet below): conservation and per-pool counts (checked
 * by the run), the fleet's figures are the pools' sums, and the run is deterministic. */
static void run_poisson_preemptions(const sim_cfg *base, run_summary *sum, request_log *log,
                                    preemption_log *plog)
{
    sim_cfg cfg = *base;
    cfg.preempt_log = plog;
    run_ok(&cfg, sum, log);
}

/* The fleet of those runs: a spot pool of card "a" (4 to 6 nodes, Poisson preemptions)
 * beside an on-demand pool of "b" (2 nodes), 1.5 requests a second for 6 hours. Its cfg
 * points at its source: keep it where it was made. */
typedef struct spot_fleet {
    gpu_profile *a, *b;
    tu_poisson pc;
    sim_cfg cfg;
} spot_fleet;

static void spot_fleet_init(spot_fleet *f)
{
    f->a = card("a", 4000, "lognormal 0.5", 16384, 200, 3000, 20);
    f->b = card("b", 2000, "lognormal 0.5", 81920, 200, 3000, 20);
    f->pc = (tu_poisson){.rate_per_s = 1.5, .duration_us = 6 * 3600 * S};
    image_mix_default(&f->pc.mix);
    sim_cfg *cfg = &f->cfg;
    fleet_base(cfg, policy_find("static"), &f->pc, tu_open_poisson);
    pool_cfg *spot = add_pool(cfg, "spot", f->a, 4, 4);
    spot->capacity = CAPACITY_SPOT;
    spot->preempt_rate_per_node_h = 3;
    spot->notice_us = 2 * S;
    spot->gpus_max = 6;
    spot->node_provision_us = 60 * S;
    spot->price_per_gpu_hour = 0.3;
    add_pool(cfg, "od", f->b, 2, 2);
    cfg->cluster.concurrency = 3;
    cfg->cluster.termination_grace_us = 45 * S;
}

static void spot_fleet_free(spot_fleet *f)
{
    free(f->a);
    free(f->b);
}

/* Every request is resolved exactly once: one row per id, each completed, timed out or
 * rejected (the run goes on until all are resolved), the counts by outcome are the run's
 * and each pool's completions are the rows it answered. */
static void expect_each_once(const char *name, const run_summary *sum, const request_log *log)
{
    assert_int_equal(log->n, sum->arrived);
    uint64_t by[OUTCOMES] = {0}, by_pool[RESULT_MAX_POOLS] = {0};
    unsigned char *seen = calloc(log->n + 1, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < log->n; i++) {
        const request_row *r = &log->row[i];
        if (r->id >= log->n || seen[r->id]++)
            fail_msg("%s: request %llu has more than one row (or an id past %zu)", name,
                     (unsigned long long)r->id, log->n);
        if (r->outcome != OUTCOME_COMPLETED && r->outcome != OUTCOME_TIMED_OUT &&
            r->outcome != OUTCOME_REJECTED)
            fail_msg("%s: request %llu ended with outcome %d", name, (unsigned long long)r->id,
                     r->outcome);
        by[r->outcome]++;
        if (r->outcome == OUTCOME_COMPLETED) {
            assert_in_range(r->pool, 1, sum->n_pools);
            by_pool[r->pool - 1]++;
        }
    }
    free(seen);
    assert_int_equal(by[OUTCOME_COMPLETED], sum->completed);
    assert_int_equal(by[OUTCOME_TIMED_OUT], sum->timed_out);
    assert_int_equal(by[OUTCOME_REJECTED], sum->rejected);
    assert_int_equal(sum->in_flight_end, 0);
    for (int k = 0; k < sum->n_pools; k++)
        assert_int_equal(by_pool[k], sum->pool[k].completed);
}

/* With clients that wait 30 s, and with clients that give up after 6 s (requests time out
 * in the queue, in service and while taken back by a preemption): every request once,
 * the per-pool figures add up to the fleet's, and a second run on the same seed gives
 * the same rows and figures. */
static void test_preemption_conservation_poisson(void **state)
{
    (void)state;
    spot_fleet fl;
    spot_fleet_init(&fl);
    static const struct {
        const char *name;
        int64_t timeout_us;
        bool want_timeouts;
    } cases[] = {{"timeout 30 s", 30 * S, false}, {"timeout 6 s", 6 * S, true}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        sim_cfg cfg = fl.cfg;
        cfg.cluster.timeout_us = cases[c].timeout_us;
        run_summary s1, s2;
        request_log l1 = {0}, l2 = {0};
        run_poisson_preemptions(&cfg, &s1, &l1, NULL);
        run_poisson_preemptions(&cfg, &s2, &l2, NULL);
        print_message("  %s: %llu preemptions, %llu requeued, %llu completed, %llu timed out, "
                      "%llu rejected\n",
                      cases[c].name, (unsigned long long)s1.preemptions,
                      (unsigned long long)s1.requeued, (unsigned long long)s1.completed,
                      (unsigned long long)s1.timed_out, (unsigned long long)s1.rejected);
        assert_true(s1.preemptions >= 20);
        assert_true(s1.requeued > 0);
        if (cases[c].want_timeouts)
            assert_true(s1.timed_out > 0);
        expect_each_once(cases[c].name, &s1, &l1);
        assert_int_equal(s1.pool[0].preemptions, s1.preemptions);
        assert_int_equal(s1.pool[1].preemptions, 0);
        assert_int_equal(s1.pool[0].completed + s1.pool[1].completed, s1.completed);
        assert_int_equal(s1.pool[0].requeued + s1.pool[1].requeued, s1.requeued);
        assert_true(fabs(s1.pool[0].gpu_seconds + s1.pool[1].gpu_seconds - s1.gpu_seconds) <
                    1e-6 * s1.gpu_seconds);
        assert_true(fabs(s1.pool[0].cost + s1.pool[1].cost - s1.cost) < 1e-9);
        /* the same seed: the same run, row by row and figure by figure (not its wall time) */
        assert_int_equal(l1.n, l2.n);
        assert_memory_equal(l1.row, l2.row, l1.n * sizeof(request_row));
        s2.wall_s = s1.wall_s;
        assert_memory_equal(&s1, &s2, sizeof(s1));
        request_log_free(&l1);
        request_log_free(&l2);
    }
    spot_fleet_free(&fl);
}

/* The preemption trace of a Poisson run, given back to the same fleet as recorded notices
 * (no rate), replays the run exactly: every request row and the figures agree. */
static void test_preemption_trace_replays(void **state)
{
    (void)state;
    spot_fleet fl;
    spot_fleet_init(&fl);
    sim_cfg cfg = fl.cfg;
    run_summary s1, s2;
    request_log l1 = {0}, l2 = {0};
    preemption_log plog = {0};
    run_poisson_preemptions(&cfg, &s1, &l1, &plog);
    assert_int_equal(plog.n, s1.preemptions);
    preemption_notice *list = calloc(plog.n + 1, sizeof(*list));
    assert_non_null(list);
    for (size_t i = 0; i < plog.n; i++) {
        assert_int_equal(plog.row[i].pool, 0);
        list[i] = (preemption_notice){.t_us = plog.row[i].t_us, .node = plog.row[i].node};
    }
    cfg.cluster.pool[0].preempt_rate_per_node_h = 0;
    cfg.cluster.pool[0].preempt = list;
    cfg.cluster.pool[0].n_preempt = (int)plog.n;
    preemption_log plog2 = {0};
    run_poisson_preemptions(&cfg, &s2, &l2, &plog2);
    assert_int_equal(plog2.n, plog.n);
    assert_memory_equal(plog2.row, plog.row, plog.n * sizeof(preemption_row));
    assert_int_equal(l1.n, l2.n);
    assert_memory_equal(l1.row, l2.row, l1.n * sizeof(request_row));
    assert_int_equal(s1.requeued, s2.requeued);
    assert_true(s1.cost == s2.cost && s1.lat_p99_s == s2.lat_p99_s);
    free(list);
    preemption_log_free(&plog);
    preemption_log_free(&plog2);
    request_log_free(&l1);
    request_log_free(&l2);
    spot_fleet_free(&fl);
}

/* ------------------------------------------------------------ each Deployment's metrics */

typedef struct seen {
    int creates;
    int max_pods[2];      /* env->max_pods each Deployment was created with */
    int ready_seen[2];    /* most ready pods each one's observation showed */
    int pod_rows_seen[2]; /* most pod rows */
    double max_queue[2];
} seen;

typedef struct probe {
    seen *sn;
    int dep;
} probe;

static int probe_create(const cfg_node *cfg, const policy_env *env, void **state, policy_info *info,
                        gp_error *err)
{
    (void)cfg, (void)err;
    seen *sn = env->host_ctx;
    probe *p = calloc(1, sizeof(*p));
    p->sn = sn;
    p->dep = sn->creates++;
    sn->max_pods[p->dep] = env->max_pods;
    info->initial_pods = env->max_pods;
    *state = p;
    return 0;
}

static int probe_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)err;
    probe *p = state;
    seen *sn = p->sn;
    if (obs->metrics_valid) {
        if (obs->pods[POD_READY] > sn->ready_seen[p->dep])
            sn->ready_seen[p->dep] = obs->pods[POD_READY];
        if (obs->n_pods > sn->pod_rows_seen[p->dep])
            sn->pod_rows_seen[p->dep] = obs->n_pods;
        if (obs->metric[OBS_QUEUE_LEN] > sn->max_queue[p->dep])
            sn->max_queue[p->dep] = obs->metric[OBS_QUEUE_LEN];
    }
    out->desired_pods = -1;
    return 0;
}

static void probe_destroy(void *state) { free(state); }

static const policy_ops probe_ops = {.name = "probe",
                                     .summary = "records what it sees",
                                     .create = probe_create,
                                     .decide = probe_decide,
                                     .destroy = probe_destroy};

/* Two Deployments (2 and 3 pods), a router sending everything to the first: each policy
 * is created with its pool's bounds and sees its own pods; the first sees a queue, the
 * second none. */
static void test_each_deployment_sees_its_own(void **state)
{
    (void)state;
    gpu_profile *p = card("c", 5000, "none", 80000, 1, 1, 0);
    tu_poisson pc = {.rate_per_s = 1.0, .duration_us = 600 * S};
    image_mix_default(&pc.mix);
    sim_cfg cfg;
    fleet_base(&cfg, &probe_ops, &pc, tu_open_poisson);
    add_pool(&cfg, "a", p, 2, 2)->route_max_mp = 1000;
    add_pool(&cfg, "b", p, 3, 3);
    cfg.cluster.routing = ROUTING_ROUTER;
    cfg.cluster.concurrency = 1;
    seen sn = {0};
    cfg.policy_host_ctx = &sn;
    run_summary sum;
    run_ok(&cfg, &sum, NULL);
    assert_int_equal(sn.creates, 2);
    assert_int_equal(sn.max_pods[0], 2);
    assert_int_equal(sn.max_pods[1], 3);
    assert_int_equal(sn.ready_seen[0], 2);
    assert_int_equal(sn.ready_seen[1], 3);
    assert_int_equal(sn.pod_rows_seen[0], 2);
    assert_int_equal(sn.pod_rows_seen[1], 3);
    assert_true(sn.max_queue[0] > 10);
    assert_true(sn.max_queue[1] == 0);
    assert_int_equal(sum.pool[1].served, 0);
    free(p);
}

/* ------------------------------------------------------------ one pool: as before */

/* FNV-1a over bytes. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *c = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

/* The figures of a run that existed before mixed fleets, hashed. */
static uint64_t summary_hash(const run_summary *s)
{
    uint64_t h = 1469598103934665603ULL;
    uint64_t u[] = {(uint64_t)s->span_us, s->arrived,        s->completed,
                    s->timed_out,         s->rejected,       s->in_flight_end,
                    s->rejected_by[0],    s->rejected_by[1], s->rejected_by[2],
                    s->requeued,          s->pod_starts,     s->cold_waited,
                    s->scale_events,      s->events,         (uint64_t)s->max_pods_seen};
    double d[] = {s->lat_mean_s,       s->lat_p50_s,   s->lat_p95_s, s->lat_p99_s,
                  s->lat_p999_s,       s->lat_max_s,   s->slo_frac,  s->gpu_seconds,
                  s->busy_gpu_seconds, s->utilisation, s->cost,      s->mean_pods};
    h = fnv(h, u, sizeof(u));
    return fnv(h, d, sizeof(d));
}

/* A day of the seed profile at several settings of the one pool (least_conn, shared
 * GPUs, a pool that grows, no timeout, a short grace, an HPA): the request rows and the
 * figures hash to what the code before mixed fleets gave (main at 96462f8), and the same
 * cluster written as one pool of `pools:` gives the same rows and figures. */
static void test_single_pool_as_before(void **state)
{
    (void)state;
    gp_error err;
    gpu_profile prof;
    if (profile_load("gpu/profiles/t4-seed", &prof, &err) < 0)
        tu_fail_error(&err, "profile");
    static const struct {
        const char *name;
        dispatch_mode dispatch;
        int gpu_share, gpus, gpus_max;
        int64_t timeout_us, grace_us, provision_us;
        image_cache_mode cache;
        const char *policy;
        uint64_t rows_hash, sum_hash;
    } cases[] = {
        {"shared queue", DISPATCH_SHARED_QUEUE, 1, 3, 3, 30 * S, 30 * S, 0, IMAGE_CACHE_NODE,
         "gpen-rule", 0xd502786a29ecba01ULL, 0x18a6ef043dfd7edfULL},
        {"least_conn", DISPATCH_LEAST_CONN, 1, 3, 3, 30 * S, 30 * S, 0, IMAGE_CACHE_NODE,
         "gpen-rule", 0xd1f8d8c0cd16700bULL, 0x8fe6aed35e96b8efULL},
        {"gpu_share 2", DISPATCH_SHARED_QUEUE, 2, 2, 2, 30 * S, 30 * S, 0, IMAGE_CACHE_NODE,
         "gpen-rule", 0x3d7ddf4906d7dcbaULL, 0xb733b62749058b7eULL},
        {"pool grows", DISPATCH_SHARED_QUEUE, 1, 1, 3, 30 * S, 30 * S, 90 * S, IMAGE_CACHE_NONE,
         "gpen-rule", 0x5b818c055ce61443ULL, 0x5eae651d09a916dbULL},
        {"no timeout, grace 2 s", DISPATCH_SHARED_QUEUE, 1, 3, 3, SIM_TIMEOUT_NONE, 2 * S, 0,
         IMAGE_CACHE_NODE, "gpen-rule", 0x586189e12b37f6d9ULL, 0xf2ace74283254b6bULL},
    };
    tu_poisson pc = {.rate_per_s = 0.9, .duration_us = 3 * 3600 * S};
    image_mix_default(&pc.mix);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        sim_cfg cfg;
        fleet_base(&cfg, policy_find(cases[c].policy), &pc, tu_open_poisson);
        cfg.profile = &prof;
        cluster_cfg *cc = &cfg.cluster;
        cc->dispatch = cases[c].dispatch;
        cc->gpu_share = cases[c].gpu_share;
        cc->gpus = cases[c].gpus;
        cc->gpus_max = cases[c].gpus_max;
        cc->timeout_us = cases[c].timeout_us;
        cc->termination_grace_us = cases[c].grace_us;
        cc->node_provision_us = cases[c].provision_us;
        cc->image_cache = cases[c].cache;
        cc->min_pods = 1;
        cc->max_pods = 3;
        cc->concurrency = 5;
        run_summary s1, s2;
        request_log l1 = {0}, l2 = {0};
        run_ok(&cfg, &s1, &l1);
        uint64_t rows = fnv(1469598103934665603ULL, l1.row, l1.n * sizeof(request_row));
        uint64_t figs = summary_hash(&s1);
        print_message("  %-24s rows %016llx figures %016llx\n", cases[c].name,
                      (unsigned long long)rows, (unsigned long long)figs);
        if ((rows != cases[c].rows_hash || figs != cases[c].sum_hash))
            fail_msg("%s: the one-pool results changed (rows %016llx, figures %016llx; before "
                     "mixed fleets: %016llx, %016llx)",
                     cases[c].name, (unsigned long long)rows, (unsigned long long)figs,
                     (unsigned long long)cases[c].rows_hash, (unsigned long long)cases[c].sum_hash);
        /* the same cluster as one pool of `pools:` */
        pool_cfg *p = &cc->pool[cc->n_pools++];
        memset(p, 0, sizeof(*p));
        snprintf(p->name, sizeof(p->name), "only");
        p->profile = &prof;
        p->gpus = cc->gpus;
        p->gpus_max = cc->gpus_max;
        p->node_provision_us = cc->node_provision_us;
        p->price_per_gpu_hour = cc->price_per_gpu_hour;
        p->image_cache = cc->image_cache;
        cc->deployments = DEPLOY_SPREAD;
        run_ok(&cfg, &s2, &l2);
        assert_int_equal(l1.n, l2.n);
        for (size_t i = 0; i < l2.n; i++) {
            if (l2.row[i].start_us >= 0 && l2.row[i].pod_id >= 0)
                assert_int_equal(l2.row[i].pool, 1);
            l2.row[i].pool = 0;
        }
        assert_memory_equal(l1.row, l2.row, l1.n * sizeof(request_row));
        assert_int_equal(summary_hash(&s2), figs);
        assert_int_equal(s2.n_pools, 1);
        assert_true(s2.pool[0].cost == s1.cost && s2.pool[0].gpu_seconds == s1.gpu_seconds);
        request_log_free(&l1);
        request_log_free(&l2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_speeds_by_hand),
        cmocka_unit_test(test_two_pools_independent),
        cmocka_unit_test(test_heterogeneous_two_server_queue),
        cmocka_unit_test(test_memory_routing),
        cmocka_unit_test(test_memory_routing_by_hand),
        cmocka_unit_test(test_preemption_by_hand),
        cmocka_unit_test(test_preemption_requeues_in_arrival_order),
        cmocka_unit_test(test_preemption_conservation_poisson),
        cmocka_unit_test(test_preemption_trace_replays),
        cmocka_unit_test(test_each_deployment_sees_its_own),
        cmocka_unit_test(test_single_pool_as_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
