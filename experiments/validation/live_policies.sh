# live_policies.sh: the settings shared by the live run and the simulator in
# scripts/live_validate.sh (sourced by bash). Each policy's config is written once, as a YAML
# flow map, into both the simulator's experiment and the driver's config, so the same
# policy code sees the same settings in both. Time constants are compressed about 10x from
# production values, like the trace (a 15-minute window replayed in 90 s).
LIVE_POLICIES="static hpa gpen-rule"
LIVE_MIN_PODS=1
LIVE_MAX_PODS=6
LIVE_CONCURRENCY=1            # slots per worker (requests served at once per pod)
LIVE_SCRAPE=1s                # promlite --scrape-ms and the simulator's scrape_interval
LIVE_SCRAPE_MS=1000
LIVE_WINDOW_S=10              # latency window (promlite --latency-window-s, simulator)
LIVE_RATE_WINDOW_S=5
LIVE_GRACE=30s                # termination grace
# label | policy | initial pods | config
LIVE_POLICY_static="static|3|{pods: 3}"
LIVE_POLICY_hpa="hpa|1|{minReplicas: 1, maxReplicas: 6, metrics: [{type: External, external: {metric: {name: redis_list_length}, target: {type: AverageValue, averageValue: \"4\"}}}], behavior: {scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 2, periodSeconds: 3}]}, scaleDown: {stabilizationWindowSeconds: 15, policies: [{type: Percent, value: 50, periodSeconds: 6}]}}, controller: {syncPeriod: 1s, tolerance: 0.1}}"
LIVE_POLICY_gpen_rule="gpen-rule|1|{min_pods: 1, max_pods: 6, scale_up_queue_len: 8, scale_up_p95_s: 1.0, scale_up_p95_count: 3, scale_up_gpu_mem_for: 3s, cooldown_after_scale_up: 10s, scale_down_p95_s: 0.5, scale_down_for: 10s, sync_period: 1s}"
# input sizes of the arrivals (gpenlab-loadgen expand --mp-step 0.5): made during the cold start
LIVE_PREWARM_MP="1.5,2,2.5,4,4.5,5,5.5,6,6.5,7,7.5,8"
