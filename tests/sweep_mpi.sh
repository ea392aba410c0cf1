#!/usr/bin/env bash
# The MPI sweep (gpenlab-mpi) against the local pool: the same sweep run with
# `mpirun -np 3` (rank 0 writes, two ranks simulate) and with `-j 2` must report the same
# points, winner and front. Run by .ci/run when mpicc and mpirun exist:
#   tests/sweep_mpi.sh BUILD_DIR
set -euo pipefail
build=${1:-build}
command -v mpirun >/dev/null 2>&1 && [ -x "$build/gpenlab-mpi" ] || { echo "sweep_mpi: no MPI build, skipped"; exit 0; }
work=$(mktemp -d /tmp/gpenlab-mpi-XXXXXX)
trap 'rm -rf "$work"' EXIT
prof=$(realpath gpu/profiles/t4-seed)
cat > "$work/exp.yaml" <<YAML
name: mpi_check
seed: 3
replications: 3
profile: $prof
workload: {type: tidal, days: 1, trough_rate_per_s: 0.05, peak_rate_per_s: 0.8,
  peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20, width_h: 2, rel: 1.0}]}
cluster: {gpus: 4, min_pods: 1, max_pods: 4, concurrency: 5}
policies:
  - {label: hpa, policy: hpa, config: {minReplicas: 1, maxReplicas: 4, metrics: [{type: Pods,
      pods: {metric: {name: DCGM_FI_DEV_GPU_UTIL}, target: {type: AverageValue, averageValue: "60"}}}]}}
YAML
cat > "$work/sweep.yaml" <<YAML
name: mpi_sweep
base: exp.yaml
parameters: [{path: "config.metrics[0].pods.target.averageValue", values: ["40", "60", "80"]},
             {path: config.maxReplicas, values: [2, 4]}]
objective: {minimise: gpu_hours, constraints: [{metric: p99_s, max: 30}]}
YAML
mpi_flags=(-np 3 --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi_flags+=(--allow-run-as-root)
mpirun "${mpi_flags[@]}" "$build/gpenlab-mpi" sweep "$work/sweep.yaml" --db "$work/mpi.db" \
    --plot "$work/mpi" > "$work/mpi.txt"
"$build/gpenlab" sweep "$work/sweep.yaml" -j 2 --db "$work/local.db" --plot "$work/local" > "$work/local.txt"
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi; }
check "mpi ran every unit" 'grep -q "18 run, 0 resumed" "$work/mpi.txt"'
check "same report as the local pool" 'diff <(grep -v "resumed from\|drawn" "$work/mpi.txt") <(grep -v "resumed from\|drawn" "$work/local.txt")'
mpirun "${mpi_flags[@]}" "$build/gpenlab-mpi" sweep "$work/sweep.yaml" --db "$work/mpi.db" > "$work/mpi2.txt"
check "a rerun resumes everything" 'grep -q "0 run, 18 resumed" "$work/mpi2.txt"'
echo "sweep_mpi: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
