#!/usr/bin/env bash
# gpu_session.sh: one device session for gpu/: build gpenlab-gpu, check it against the CPU
# reference and an fp64 PyTorch forward, time it next to PyTorch, measure the profile.
# Usage: scripts/gpu_session.sh all | [selftest] [torch] [bench] [compare] [profile] [layers] [blur_ab] [ncu]
#   all:     everything pending, in the order that keeps what matters if the call is cut
#            short: selftest bench profile layers torch compare (one device call, < 10 min;
#            SESSION_BUDGET_S, default 570, bounds it: the torch step gets what is left)
#   torch:   PyTorch eager and torch.compile (default, reduce-overhead, max-autotune), each
#            compiled for its batch size 1, 2, 4, 8, 16 (torch_bench.txt)
#   compare: gpenlab fp16 at every batch size again, right after torch, with the side-by-side
#            table against the fastest torch.compile mode (bench_compare.txt)
#   layers:  per-section times of one forward at batch 8 and 1 (layers.txt)
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
[ "$steps" = all ] && steps="selftest bench profile layers torch compare"
budget_s=${SESSION_BUDGET_S:-570}
t_start=$(date +%s)
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
        cp "$L/selftest.log" "$OUT/selftest.log"
        grep -v "^  tap" "$L/selftest.log" ;;
    torch)
        # what is left of the call's budget, less a minute for the compare step and the copy
        left=$(( budget_s - ($(date +%s) - t_start) - 60 ))
        [ $left -lt 60 ] && left=60
        timeout ${TORCH_TIMEOUT:-$(( left + 20 ))} python3 scripts/gpen_torch.py bench --dtypes fp16 \
            --batches ${TORCH_BATCHES:-1,2,4,8,16} --deadline $left 2>&1 | tee "$OUT/torch_bench.txt" ;;
    compare)
        timeout 120 "$B/gpenlab-gpu" bench --only fp16 --reps 30 --torch "$OUT/torch_bench.txt" \
            --out "$OUT/bench_compare.txt" > "$L/compare.log" 2>&1
        sed -n '/^batch/,$p' "$L/compare.log" ;;
    layers)
        for b in 8 1; do
            echo "== batch $b, per-section times (GPENLAB_LAYER_TIMES=1)" >> "$OUT/layers.txt"
            GPENLAB_LAYER_TIMES=1 timeout 60 "$B/gpenlab-gpu" bench --only fp16 --batch $b --reps 10 \
                >> "$OUT/layers.txt" 2>&1
        done
        grep -E "^==|sections|^gpenlab" "$OUT/layers.txt" ;;
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
grep -hE "^card|^gpenlab fp16" "$L/bench.log" 2>/dev/null | tail -8
sed -n '/^batch/,$p' "$L/compare.log" 2>/dev/null
grep -hE "^cold|^eff\(8\)|^batch 8|^profile check" "$L/profile.log" 2>/dev/null | tail -6
