#!/usr/bin/env bash
# live_validate.sh: the sim-to-real check of issue 7. One run, well under 10 minutes:
#   1. redis-server on loopback; for each policy of experiments/validation/live_policies.sh
#      (static, hpa, gpen-rule): gpenlab-promlite (scraper + query API), the initial
#      workers (scripts/worker_pool.sh), `gpenlab drive` with the command actuator, and
#      gpenlab-loadgen replaying the arrivals (experiments/validation/azure_code_live.csv:
#      the bursty Azure code trace, 15 min compressed to 90 s); every request's submit,
#      start and end, every worker's spawn/ready/SIGTERM/exit and cold-start phases, the
#      scraped series and the driver's decisions are kept;
#   2. the simulator on the same arrivals, policies and settings with the card's profile
#      ($PROFILE), R replications, into OUT/validation.db;
#   3. scripts/live_compare.py OUT (where python3 has sqlite3): live tables into the same
#      database, the comparison table and the overlaid plots.
# Usage: scripts/live_validate.sh [--backend cuda|cpu] [--out DIR] [--policies "static hpa"]
#                                 [--replications R] [--profile FILE] [--arrivals CSV]
# Environment: LIVE_BIN (directory of gpenlab, gpenlab-worker[-gpu], gpenlab-loadgen,
# gpenlab-promlite; default build), LIVE_LIB (LD_LIBRARY_PATH for carried libraries),
# REDIS_SERVER / REDIS_CLI (default from PATH), LIVE_PORT (Redis, 6399), LIVE_WORKER_EXTRA
# (more worker arguments), GPENLAB_COMMIT (recorded), LIVE_PACK (a .tgz of the results,
# rewritten after each policy). Without --profile the worker's profile is measured first
# (gpenlab-worker profile --processes, a priori). --backend cpu is the dry run: CPU-
# reference workers.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BACKEND=cuda
OUT=""
POLICIES=""
REPS=5
PROFILE=""
ARRIVALS=experiments/validation/azure_code_live.csv
while [ $# -gt 0 ]; do
    case $1 in
    --backend) BACKEND=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --policies) POLICIES=$2; shift 2 ;;
    --replications) REPS=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    --arrivals) ARRIVALS=$2; shift 2 ;;
    *) echo "live_validate: unknown argument $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=../experiments/validation/live_policies.sh
. experiments/validation/live_policies.sh
POLICIES=${POLICIES:-$LIVE_POLICIES}
BIN=$(cd "${LIVE_BIN:-build}" && pwd)
OUT=${OUT:-results/live_validate-$BACKEND-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ARRIVALS=$(cd "$(dirname "$ARRIVALS")" && pwd)/$(basename "$ARRIVALS")
PORT=${LIVE_PORT:-6399}
PPORT=$((PORT + 1))
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || true)}
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli || true)}
LOG=$OUT/live_validate.log
say() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
die() { say "FAILED: $*"; exit 1; }
# `env` execs the program, so $! of "${LIBENV[@]}" prog & is the program itself
if [ -n "${LIVE_LIB:-}" ]; then
    LIBENV=(env "LD_LIBRARY_PATH=$LIVE_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
else
    LIBENV=(env)
fi
rcli() { "${LIBENV[@]}" "$REDIS_CLI" -p "$PORT" "$@"; }

[ -x "$REDIS_SERVER" ] || die "no redis-server (set REDIS_SERVER)"
[ -x "$REDIS_CLI" ] || die "no redis-cli (set REDIS_CLI)"
for b in gpenlab gpenlab-loadgen gpenlab-promlite; do [ -x "$BIN/$b" ] || die "$BIN/$b missing (make worker)"; done
if [ "$BACKEND" = cuda ]; then
    WORKER=$BIN/gpenlab-worker-gpu
    WARGS="--backend cuda --prewarm-mp $LIVE_PREWARM_MP"
else
    WORKER=$BIN/gpenlab-worker
    WARGS="--backend cpu --cpu-face-size 32 --cpu-px-scale 0.125 --startup-delay-ms 1500"
fi
[ -x "$WORKER" ] || die "$WORKER missing"
WARGS="$WARGS --concurrency $LIVE_CONCURRENCY --heartbeat-ms 500 --dead-after-ms 5000 ${LIVE_WORKER_EXTRA:-}"

pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    [ -n "${GPEN_POOL_DIR:-}" ] && GPEN_POOL_STOP_S=10 scripts/worker_pool.sh stop 2>/dev/null
    [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null
    wait 2>/dev/null
}
trap cleanup EXIT

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: ${GPENLAB_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
    echo "host: $(uname -srm), $(nproc) cores"
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
    else
        echo "gpu: none"
    fi
    echo "backend: $BACKEND"
    echo "worker: $WORKER $WARGS"
    echo "arrivals: $ARRIVALS ($(($(wc -l <"$ARRIVALS") - 1)) requests)"
    echo "policies: $POLICIES"
    echo "replications: $REPS"
    echo "command: scripts/live_validate.sh --backend $BACKEND --replications $REPS"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt" | tee -a "$LOG"
cp "$ARRIVALS" "$OUT/arrivals.csv"

# Without --profile, the simulator's profile is measured here first, a priori, as the pods
# will run: $LIVE_MAX_PODS single-slot worker processes on this machine (eff(n) over the
# arrivals' image mix, memory per process, cold phases, start interference; see
# experiments/validation/README.md, the H100 run). Process start: 75 ms as measured live on
# an H200 (cuda); the CPU workers' simulated start delay (cpu).
if [ -z "$PROFILE" ]; then
    PROFILE=$OUT/worker.profile
    say "measuring the worker's profile ($LIVE_MAX_PODS processes)"
    if [ "$BACKEND" = cuda ]; then
        PARGS="--backend cuda --prewarm-mp $LIVE_PREWARM_MP --process-start-ms 75"
    else
        PARGS="--backend cpu --cpu-face-size 32 --cpu-px-scale 0.125 --process-start-ms 1500"
    fi
    # shellcheck disable=SC2086
    "${LIBENV[@]}" "$WORKER" profile --out "$PROFILE" $PARGS --processes "$LIVE_MAX_PODS" --reps 5 \
        --eff-mix "$ARRIVALS" >>"$LOG" 2>&1 || die "gpenlab-worker profile (see $LOG)"
fi
PROFILE=$(cd "$(dirname "$PROFILE")" && pwd)/$(basename "$PROFILE")
cp "$PROFILE" "$OUT/profile"
echo "profile: $PROFILE" >>"$OUT/meta.txt"

say "redis-server on 127.0.0.1:$PORT"
"${LIBENV[@]}" "$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$OUT" >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 100); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
rcli PING >/dev/null 2>&1 || die "redis-server did not start (see $OUT/redis.log)"

policy_field() { # label field-number
    local v="LIVE_POLICY_${1//-/_}"
    echo "${!v}" | cut -d'|' -f"$2"
}

run_policy() {
    local label=$1 pol n0 cfg d
    pol=$(policy_field "$label" 1)
    n0=$(policy_field "$label" 2)
    cfg=$(policy_field "$label" 3-)
    d=$OUT/live/$label
    mkdir -p "$d"
    rcli FLUSHALL >/dev/null
    export GPEN_POOL_DIR=$d/pool GPEN_WORKER_BIN=$WORKER
    export GPEN_WORKER_ARGS="--redis 127.0.0.1:$PORT $WARGS"
    export GPEN_WORKER_ENV=${LIVE_LIB:+LD_LIBRARY_PATH=$LIVE_LIB}
    "$BIN/gpenlab-promlite" serve --redis "127.0.0.1:$PORT" --listen "127.0.0.1:$PPORT" \
        --scrape-ms "$LIVE_SCRAPE_MS" --latency-window-s "$LIVE_WINDOW_S" \
        --rate-window-s "$LIVE_RATE_WINDOW_S" --series-out "$d/series.csv" 2>"$d/promlite.log" &
    local ppid=$!
    pids+=("$ppid")
    say "$label: starting $n0 worker(s)"
    scripts/worker_pool.sh "$n0" || die "worker_pool.sh $n0"
    local t_end=$(( $(date +%s) + 180 ))
    while [ "$(rcli SCARD gpen:workers)" -lt "$n0" ]; do
        [ "$(date +%s)" -lt "$t_end" ] || { tail -5 "$d"/pool/*.log; die "$label: workers not ready"; }
        sleep 0.1
    done
    cat >"$d/drive.yaml" <<EOF
policy: $pol
label: $label
config: $cfg
bounds: {min_pods: $LIVE_MIN_PODS, max_pods: $LIVE_MAX_PODS}
env: {concurrency: $LIVE_CONCURRENCY, scrape_interval: $LIVE_SCRAPE}
prometheus: {url: "http://127.0.0.1:$PPORT", timeout: 2s}
redis: {address: "127.0.0.1:$PORT", timeout: 1s}
target: {command: {run: "scripts/worker_pool.sh {replicas}", initial_replicas: $n0, retries: 1, pass_env: [GPEN_POOL_DIR, GPEN_WORKER_BIN, GPEN_WORKER_ARGS, GPEN_WORKER_ENV, LD_LIBRARY_PATH]}}
log: $d/drive.jsonl
EOF
    sleep 1.2 # one scrape: the driver's first tick sees the initial pods ready
    "${LIBENV[@]}" "$BIN/gpenlab" drive "$d/drive.yaml" 2>"$d/drive.err" &
    local dpid=$!
    pids+=("$dpid")
    say "$label: replaying $(($(wc -l <"$ARRIVALS") - 1)) requests"
    "$BIN/gpenlab-loadgen" replay "$ARRIVALS" --redis "127.0.0.1:$PORT" --out "$d/requests.csv" \
        --drain-timeout 90 2>&1 | tee -a "$LOG"
    kill "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    kill -0 "$dpid" 2>/dev/null && die "$label: the driver did not stop"
    "$BIN/gpenlab-promlite" dump-workers --redis "127.0.0.1:$PORT" --out "$d/pods.csv"
    GPEN_POOL_STOP_S=30 scripts/worker_pool.sh stop
    "$BIN/gpenlab-promlite" dump-workers --redis "127.0.0.1:$PORT" --out "$d/pods_final.csv"
    kill "$ppid" 2>/dev/null
    wait "$ppid" 2>/dev/null
    cp "$d/pool/events" "$d/events" 2>/dev/null
    for f in "$d"/pool/*.log; do echo "== $f"; cat "$f"; done >"$d/workers.log" 2>/dev/null
    say "$label: done ($(grep -c '"action":"scaled"' "$d/drive.jsonl" 2>/dev/null) scale actions, $(awk '$2 == "up"' "$d/events" | wc -l) worker starts)"
}

# LIVE_PACK=FILE.tgz: the result directory packed after each step (a run cut short at its
# time limit still returns what it measured)
pack() { [ -n "${LIVE_PACK:-}" ] && tar czf "$LIVE_PACK" -C "$(dirname "$OUT")" "$(basename "$OUT")"; true; }
for p in $POLICIES; do run_policy "$p"; pack; done
kill "$REDIS_PID" 2>/dev/null
wait "$REDIS_PID" 2>/dev/null
REDIS_PID=""

# the simulator: the same arrivals, policies, bounds, metrics and the card's profile
{
    echo "# written by scripts/live_validate.sh: the simulator's side of the live validation"
    echo "name: live_validation"
    echo "seed: 1"
    echo "replications: $REPS"
    echo "profile: $PROFILE"
    # start: 0: the load generator pushes request i at t0 + t_s, so the trace keeps its own
    # clock (without it the simulator moves the first arrival to t = 0, off the driver's ticks)
    echo "workload: {type: trace, path: $OUT/arrivals.csv, time_column: t_s, time_unit: s, mp_column: mp, faces_column: faces, start: 0}"
    echo "cluster: {gpus: 1, min_pods: $LIVE_MIN_PODS, max_pods: $LIVE_MAX_PODS, concurrency: $LIVE_CONCURRENCY, dispatch: shared_queue, timeout: 600s, termination_grace: $LIVE_GRACE, readiness_delay: 0s, image_cache: all, gpu_share: $LIVE_MAX_PODS, slo: 1s}"
    # sync_jitter: gpenlab drive wakes 74-292 us after each nominal tick (docs/live.md)
    echo "metrics: {scrape_interval: $LIVE_SCRAPE, latency_window: ${LIVE_WINDOW_S}s, delay: 0s, sync_jitter: 300us}"
    echo "policies:"
    for p in $POLICIES; do
        echo "  - {label: $p, policy: $(policy_field "$p" 1), config: $(policy_field "$p" 3-)}"
    done
    echo "output: {db: $OUT/validation.db, series: true, requests: true}"
} >"$OUT/sim.yaml"
say "simulator: $REPS replications per policy"
"${LIBENV[@]}" "$BIN/gpenlab" run "$OUT/sim.yaml" 2>&1 | tee "$OUT/sim_table.txt" | tee -a "$LOG" || die "gpenlab run"

if python3 -c 'import sqlite3' 2>/dev/null; then
    python3 scripts/live_compare.py "$OUT" 2>&1 | tee -a "$LOG"
else
    say "python3 has no sqlite3 here: run scripts/live_compare.py $OUT on the development machine"
fi
say "results in $OUT"
pack
