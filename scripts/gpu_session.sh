#!/usr/bin/env bash
# gpu_session.sh: one device session for gpu/: build gpenlab-gpu, check it against the CPU
# reference and an fp64 PyTorch forward, time it next to PyTorch, measure the profile.
# Usage: scripts/gpu_session.sh [selftest] [bench] [torch] [profile] [derive]
# Logs and results go to $OUT (default /tmp/gpu_session); a short table is printed last.
set -u
OUT=${OUT:-/tmp/gpu_session}
B=${BUILD:-build-h3}
mkdir -p "$OUT"
steps=${*:-selftest bench}
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv; date -u; echo "commit ${GPENLAB_COMMIT:-unknown}"; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
t0=$(date +%s)
if ! make BUILD="$B" gpu GPU_ARCH="-gencode=arch=compute_90,code=sm_90" > "$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
for s in $steps; do
    t1=$(date +%s)
    case $s in
    selftest)
        python3 scripts/gpen_torch.py ref "$B/gpen512_ref.safetensors" > "$OUT/ref.log" 2>&1 || tail -5 "$OUT/ref.log"
        "$B/gpenlab-gpu" selftest --ref "$B/gpen512_ref.safetensors" 2>&1 | tee "$OUT/selftest.log" ;;
    torch)
        python3 scripts/gpen_torch.py bench --batches 1,8 --dtypes fp16 2>&1 | tee "$OUT/torch_bench.txt" ;;
    bench)
        "$B/gpenlab-gpu" bench --torch "$OUT/torch_bench.txt" --out "$OUT/bench_gpu.txt" 2>&1 | tee "$OUT/bench.log" ;;
    profile)
        "$B/gpenlab-gpu" profile --out "$OUT/h100" --cmd "scripts/gpu_session.sh profile (gpenlab-gpu profile --reps 5)" \
            --commit "${GPENLAB_COMMIT:-unknown}" 2>&1 | tee "$OUT/profile.log" ;;
    derive)
        "$B/gpenlab-gpu" profile derive --in "$OUT/h100" --from h100 --outdir "$OUT" 2>&1 | tee "$OUT/derive.log" ;;
    esac
    echo "step $s: $(( $(date +%s) - t1 )) s"
done
echo "== summary"
grep -hE "FAIL|selftest: |GPEN-512" "$OUT/selftest.log" 2>/dev/null | tail -12
grep -hE "^card|^gpenlab|^batch|^[18] " "$OUT/bench.log" 2>/dev/null | tail -14
grep -hE "^cold|^eff|^batch" "$OUT/profile.log" 2>/dev/null | tail -14
