#!/usr/bin/env bash
# gpu_session.sh: one device session for gpu/: build gpenlab-gpu, check it against the CPU
# reference and an fp64 PyTorch forward, time it next to PyTorch, measure the profile.
# Usage: scripts/gpu_session.sh [selftest] [torch] [bench] [profile] [blur_ab] [ncu]
#   blur_ab: the tiled up-conv epilogue (GPENLAB_BLUR_EPI=tiled): selftest with it, then
#            batch-8 and batch-1 section times with and without it (blur_ab.txt)
#   ncu:     Nsight Compute counters of one batch-8 forward (scripts/gpu_ncu.sh)
# Results in $OUT: session.log (everything), <card> (the profile, e.g. h100),
# bench_gpu.txt, torch_bench.txt, logs.tgz (every step's log); a short table is printed last.
set -u
OUT=${OUT:-/tmp/gpu_session}
B=${BUILD:-build-h3}
L=$B/session-logs
mkdir -p "$OUT" "$L"
steps=${*:-selftest bench}
export PYTHONUNBUFFERED=1
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
key=$(echo "$card" | grep -oiE 'h100|h200|a100|l4|a10|t4' | head -1 | tr 'A-Z' 'a-z')
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv; date -u; echo "commit ${GPENLAB_COMMIT:-unknown}"; } > "$L/machine.txt" 2>&1
cat "$L/machine.txt"
t0=$(date +%s)
# sm_90a only (the wgmma kernel needs it; the sm_80 image is for other cards). A binary
# built on the development machine and carried along is used as it is (SKIP_BUILD=1).
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$B/gpenlab-gpu" ]; then
    echo "build: skipped (carried $B/gpenlab-gpu)"
elif ! make BUILD="$B" gpu GPU_ARCH="-gencode=arch=compute_90a,code=sm_90a" > "$L/build.log" 2>&1; then
    tail -40 "$L/build.log"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
for s in $steps; do
    t1=$(date +%s)
    case $s in
    selftest)
        python3 scripts/gpen_torch.py ref "$B/gpen512_ref.safetensors" > "$L/ref.log" 2>&1 || tail -5 "$L/ref.log"
        timeout 200 "$B/gpenlab-gpu" selftest --ref "$B/gpen512_ref.safetensors" > "$L/selftest.log" 2>&1
        grep -v "^  tap" "$L/selftest.log" ;;
    torch)
        timeout ${TORCH_TIMEOUT:-330} python3 scripts/gpen_torch.py bench --batches 1,8 --dtypes fp16 2>&1 | tee "$OUT/torch_bench.txt" ;;
    bench)
        timeout 200 "$B/gpenlab-gpu" bench --torch "$OUT/torch_bench.txt" --out "$OUT/bench_gpu.txt" > "$L/bench.log" 2>&1
        grep -v "^  " "$L/bench.log" ;;
    blur_ab)
        GPENLAB_BLUR_EPI=tiled timeout 300 "$B/gpenlab-gpu" selftest --ref "$B/gpen512_ref.safetensors" \
            > "$L/selftest_tiled.log" 2>&1
        grep -E "FAIL|selftest: |GPEN-512" "$L/selftest_tiled.log"
        for b in 8 1; do
            for v in per-pixel tiled; do
                e=""; [ $v = tiled ] && e=tiled
                echo "== batch $b, up-conv epilogue $v" >> "$OUT/blur_ab.txt"
                GPENLAB_BLUR_EPI=$e GPENLAB_LAYER_TIMES=1 timeout 120 "$B/gpenlab-gpu" bench --only fp16 \
                    --batch $b --reps 20 2>&1 | grep -E "sections|^gpenlab" >> "$OUT/blur_ab.txt"
            done
        done
        cat "$OUT/blur_ab.txt" ;;
    ncu)
        BUILD=$B OUT=$OUT scripts/gpu_ncu.sh 8 2>&1 | tail -60 ;;
    profile)
        timeout ${PROFILE_TIMEOUT:-400} "$B/gpenlab-gpu" profile --out "$OUT/${key:-gpu}" \
            --cmd "scripts/gpu_session.sh profile (gpenlab-gpu profile --reps 5)" \
            --commit "${GPENLAB_COMMIT:-unknown}" > "$L/profile.log" 2>&1
        cat "$L/profile.log" ;;
    esac
    echo "step $s: $(( $(date +%s) - t1 )) s"
done
tar czf "$OUT/logs.tgz" -C "$B" session-logs
echo "== summary ($card)"
grep -hE "FAIL|selftest: |GPEN-512 .* vs" "$L/selftest.log" 2>/dev/null | tail -8
grep -hE "^card|^gpenlab fp16|^[18] " "$L/bench.log" 2>/dev/null | tail -8
grep -hE "^cold|^eff\(8\)|^batch 8|^profile check" "$L/profile.log" 2>/dev/null | tail -6
