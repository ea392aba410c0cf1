#!/usr/bin/env bash
# gpu_session.sh: one device session for gpu/: build (or take the carried binary), check
# gpenlab-gpu against the CPU reference and an fp64 PyTorch forward, time it next to
# PyTorch, A/B the kernel variants, run the whole pipeline from outside, measure the
# profile. Every result goes under $OUT (at most 8 files come back from a device call: `all`
# leaves 7 there, and a session log teed beside them makes 8; the rest is in logs.tgz).
# Usage: scripts/gpu_session.sh all | round2 | h200 | [probe] [selftest] [bench] [ab] [layers]
#                               [runs] [torch] [compare] [profile] [ncu]
#   all:     everything pending, in the order that keeps what matters if the call is cut
#            short: probe selftest bench torch compare ab layers runs profile (one device
#            call; SESSION_BUDGET_S (default 560) bounds it: a step that would not fit is
#            skipped and says so, torch stops starting new timings after TORCH_S (200) s,
#            the profile gets what is left, --quick under 240 s: then run `profile` alone
#            in a second call)
#   round2:  what the session of 2026-12-07 left (gpu/bench/h100-2026-12-07-eb0bff7): probe
#            profile torch compare in one call of SESSION_BUDGET_S (default 470) s: the full
#            profile first, capped at PROFILE_S (200; about 80 s expected: the --quick one
#            ran 47 s up to its failure), then torch with every formulation, mode and layout
#            in its order of importance until TORCH_RESERVE_S (55) s are left for compare.
#            Leaves 4 files under $OUT (the profile, torch_bench.csv, bench_compare.txt,
#            logs.tgz with every step's log and torch_bench.txt)
#   h200:    the second card: probe selftest bench torch compare layers profile
#   probe:   `gpenlab-gpu convcheck` in a process of its own: the conv kernels, the tap
#            kernel's probe and GPEN-512's per-layer kernel choice; if it fails, the rest
#            runs with the new kernels off (GPENLAB_TAPCONV=0 GPENLAB_BLUR_EPI=0 GPENLAB_ENC0=0)
#   bench:   every precision at batch 1..16 (bench_gpu.txt)
#   ab:      fp16 at batch 1..8 and the batch-8 section times with the new kernels off and
#            forced on (auto, the default, is what bench and layers time); GPEN-512 against
#            fp64 with them forced on (ab.txt)
#   layers:  per-section times of one forward at batch 8, and at 1 unless LAYERS_B1=0
#            (layers.txt)
#   runs:    `gpenlab-gpu run gpen` against `gpen_torch.py forward` on the same input, and
#            `run pipeline` on a JPEG with libjpeg and with nvJPEG (into logs.tgz)
#   torch:   PyTorch eager and torch.compile (default, reduce-overhead, max-autotune), each
#            compiled for its batch size, both modconv formulations and both Inductor layouts,
#            in gpen_torch.py's order (bench --plan-only) while they fit (torch_bench.csv for
#            gpenlab-gpu bench --torch; the log torch_bench.txt goes into logs.tgz). TORCH_S
#            (200) bounds it, and TORCH_RESERVE_S (120) s of the budget stay for the steps after
#   compare: gpenlab fp16 at every batch size again, right after torch, with the side-by-side
#            table against the fastest torch row of each mode and of all (bench_compare.txt)
#   profile: the card's profile (gpu/profiles/<card>: h100, h200, ...): full when it gets
#            PROFILE_FULL_S (120) s or more, else --quick; PROFILE_S caps it (default: what is
#            left); a failed try runs again on libjpeg (--jpeg host) in what is left of the cap
#   ncu:     Nsight Compute counters of one batch-8 forward (scripts/gpu_ncu.sh)
# The binary: built here with nvcc (BUILD, default build-h3), or with SKIP_BUILD=1 the one in
# $BUILD carried from the development machine (docs/gpu.md: the command and the carry
# list). Where this machine has nvjpeg.h, gpu/jpeg_gpu.c is rebuilt with nvJPEG and the
# program relinked (gpu_cuda.o kept); if that fails, the carried binary (libjpeg) is kept.
set -u
OUT=${OUT:-/tmp/gpu_session}
B=${BUILD:-build-h3}
L=$B/session-logs
mkdir -p "$OUT" "$L"
steps=${*:-probe selftest bench}
[ "$steps" = all ] && steps="probe selftest bench torch compare ab layers runs profile"
[ "$steps" = h200 ] && steps="probe selftest bench torch compare layers profile"
if [ "$steps" = round2 ]; then
    steps="probe profile torch compare"
    : "${SESSION_BUDGET_S:=470}" "${PROFILE_S:=200}" "${TORCH_S:=100000}" "${TORCH_RESERVE_S:=55}"
fi
budget_s=${SESSION_BUDGET_S:-560}
t_start=$(date +%s)
left_s() { echo $(( budget_s - ($(date +%s) - t_start) )); }
# cap N: N seconds, or what is left of the budget when that is less (at least 10)
cap() { local l; l=$(left_s); [ "$l" -lt 10 ] && l=10; echo $(( $1 < l ? $1 : l )); }
# the least budget each step needs to start (else it is skipped, and says so)
need() { case $1 in probe) echo 30 ;; selftest) echo 60 ;; bench) echo 40 ;; ab) echo 120 ;; layers) echo 40 ;;
         runs) echo 60 ;; torch) echo 100 ;; compare) echo 30 ;; profile) echo 60 ;; *) echo 30 ;; esac; }
export PYTHONUNBUFFERED=1
GPU=$B/gpenlab-gpu
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
key=$(echo "$card" | grep -oiE 'h100|h200|a100|l4|a10|t4' | head -1 | tr 'A-Z' 'a-z')
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv; date -u;
  echo "commit ${GPENLAB_COMMIT:-unknown}"; echo "steps: $steps"; } > "$L/machine.txt" 2>&1
cat "$L/machine.txt"
t0=$(date +%s)
# sm_90a only (the wgmma kernels need it; the sm_80 image is for other cards)
ARCH="-gencode=arch=compute_90a,code=sm_90a"
CUDA=${CUDA_HOME:-/usr/local/cuda}
nvj=$CUDA/include/nvjpeg.h
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$GPU" ]; then
    echo "build: carried $GPU"
    # relink the carried objects with nvJPEG: only gpu/jpeg_gpu.c is compiled here, and the
    # carried objects keep the libjpeg they were compiled for ($B/libjpeg.a, carried too)
    if [ -f "$nvj" ] && [ "${NVJPEG:-1}" = 1 ] && [ -f "$B/libjpeg.a" ]; then
        objs=$(make -s BUILD="$B" gpu-objs GPU_NVJPEG=0 2>/dev/null)
        if cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -I. -DGPENLAB_NVJPEG -I"$CUDA/include" \
               -c gpu/jpeg_gpu.c -o "$B/jpeg_gpu-nvjpeg.o" > "$L/nvjpeg_build.log" 2>&1 &&
           g++ -o "$GPU.nvjpeg" $objs "$B/jpeg_gpu-nvjpeg.o" -L"$CUDA/lib64" -Wl,-rpath,"$CUDA/lib64" \
               -lcublasLt -lcudart_static -lnvjpeg -ldl -lrt "$B/libjpeg.a" -lpthread -lm >> "$L/nvjpeg_build.log" 2>&1 &&
           "$GPU.nvjpeg" run 2>&1 | grep -q usage; then
            cp "$GPU" "$GPU.libjpeg" && cp "$GPU.nvjpeg" "$GPU"
            echo "nvJPEG: linked ($nvj)"
        else
            echo "nvJPEG: build failed, the carried libjpeg binary is kept:"; tail -8 "$L/nvjpeg_build.log"
        fi
    else
        echo "nvJPEG: not built (no $nvj, no $B/libjpeg.a, or NVJPEG=0): libjpeg only"
    fi
elif make BUILD="$B" gpu GPU_ARCH="$ARCH" > "$L/build.log" 2>&1; then
    echo "build: $(grep -q jpeg_gpu-nvjpeg "$L/build.log" && echo "with nvJPEG" || echo "libjpeg only")"
elif make BUILD="$B" gpu GPU_ARCH="$ARCH" GPU_NVJPEG=0 > "$L/build_nonv.log" 2>&1; then
    echo "build: nvJPEG failed, built with libjpeg only:"; grep -m5 -i error "$L/build.log"
else
    tail -40 "$L/build_nonv.log"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
ref=$B/gpen512_ref.safetensors
make_ref() { [ -s "$ref" ] || python3 scripts/gpen_torch.py ref "$ref" > "$L/ref.log" 2>&1 || tail -5 "$L/ref.log"; }
for s in $steps; do
    t1=$(date +%s)
    if [ "$(left_s)" -lt "$(need $s)" ]; then
        echo "step $s: SKIPPED, $(left_s) s of the budget left (needs $(need $s))"; continue
    fi
    case $s in
    probe)
        if timeout $(cap 180) "$GPU" convcheck > "$L/probe.log" 2>&1; then
            grep -E "selftest|convcheck" "$L/probe.log"
        else
            echo "probe FAILED (rc $?): the new kernels are off for the rest of the session"; tail -20 "$L/probe.log"
            export GPENLAB_TAPCONV=0 GPENLAB_BLUR_EPI=0 GPENLAB_ENC0=0
        fi ;;
    selftest)
        make_ref
        timeout $(cap 300) "$GPU" selftest --ref "$ref" > "$L/selftest.log" 2>&1
        echo "selftest exit $?" >> "$L/selftest.log"
        # the log goes back in logs.tgz and on stdout: $OUT keeps room for `all`'s other 7 files
        grep -v "^  tap" "$L/selftest.log" ;;
    bench)
        timeout $(cap 240) "$GPU" bench --out "$OUT/bench_gpu.txt" > "$L/bench.log" 2>&1
        grep -v "^  " "$L/bench.log" ;;
    ab)
        make_ref
        for v in off on; do
            case $v in off) e="GPENLAB_TAPCONV=0 GPENLAB_BLUR_EPI=0 GPENLAB_ENC0=0" ;;
                       on) e="GPENLAB_TAPCONV=1 GPENLAB_BLUR_EPI=1 GPENLAB_ENC0=1" ;; esac
            echo "== variants $v ($e): fp16 bench" >> "$OUT/ab.txt"
            env $e timeout $(cap 90) "$GPU" bench --only fp16 --max-batch 8 --reps 15 >> "$OUT/ab.txt" 2>&1
        done
        echo "== variants off: batch 8 sections" >> "$OUT/ab.txt"
        GPENLAB_TAPCONV=0 GPENLAB_BLUR_EPI=0 GPENLAB_ENC0=0 GPENLAB_LAYER_TIMES=1 timeout $(cap 60) "$GPU" bench --only fp16 --batch 8 \
            --reps 5 >> "$OUT/ab.txt" 2>&1
        echo "== variants forced on: GPEN-512 against fp64" >> "$OUT/ab.txt"
        GPENLAB_TAPCONV=1 GPENLAB_BLUR_EPI=1 GPENLAB_ENC0=1 timeout $(cap 120) "$GPU" selftest --gpen-only --ref "$ref" \
            >> "$OUT/ab.txt" 2>&1
        grep -E "^==|^gpenlab fp16|sections|selftest|^card" "$OUT/ab.txt" | cut -c1-240 ;;
    layers)
        for b in 8 $([ "${LAYERS_B1:-1}" = 1 ] && echo 1); do
            echo "== batch $b, per-section times (GPENLAB_LAYER_TIMES=1)" >> "$OUT/layers.txt"
            GPENLAB_LAYER_TIMES=1 timeout $(cap 60) "$GPU" bench --only fp16 --batch $b --reps 10 >> "$OUT/layers.txt" 2>&1
        done
        grep -E "^==|sections|^gpenlab" "$OUT/layers.txt" ;;
    runs)
        make_ref
        {   # GPEN from outside: gpenlab's forward of the reference input against PyTorch fp64
            timeout $(cap 60) "$GPU" run gpen --in "$ref" --out "$B/run_gpen_fp16.safetensors"
            timeout $(cap 60) "$GPU" run gpen --in "$ref" --out "$B/run_gpen_fp32.safetensors" --precision fp32
            python3 scripts/gpen_torch.py forward "$ref" "$B/torch_fwd.safetensors" --dtype fp64 &&
                for p in fp16 fp32; do
                    python3 scripts/gpen_torch.py compare "$B/run_gpen_$p.safetensors" "$B/torch_fwd.safetensors"
                done
            # the whole pipeline on a photo-like JPEG, by each JPEG path
            python3 -c "import numpy as np; from PIL import Image; y,x=np.mgrid[0:1155,0:1732]; \
im=np.stack([40+150*x/1732+((x//7)^(y//5))%32, 60+120*y/1155, 90+60*((x+y)%97)/97],-1); \
Image.fromarray(np.clip(im,0,255).astype('uint8')).save('$B/photo.jpg', quality=90)"
            for j in host nvjpeg; do
                timeout $(cap 60) "$GPU" run pipeline --in "$B/photo.jpg" --out "$B/restored_$j.jpg" --faces 2 --jpeg $j
            done
        } > "$L/runs.log" 2>&1
        cat "$L/runs.log" ;;
    torch)
        # a configuration starts only when its estimate fits in TORCH_S seconds, and
        # TORCH_RESERVE_S of the budget stay for the steps after this one; the timeout
        # allows one configuration 20 s past its estimate
        left=${TORCH_S:-200}
        reserve=${TORCH_RESERVE_S:-120}
        [ $(( $(left_s) - reserve )) -lt $left ] && left=$(( $(left_s) - reserve ))
        [ $left -lt 60 ] && left=60
        timeout ${TORCH_TIMEOUT:-$(cap $(( left + 20 )))} python3 scripts/gpen_torch.py bench --dtypes fp16 \
            --batches ${TORCH_BATCHES:-1,2,4,8,16} --modes ${TORCH_MODES:-eager,compile,compile-ro,compile-ma} \
            --deadline $left --csv "$OUT/torch_bench.csv" > "$L/torch_bench.txt" 2>&1
        echo "torch exit $?" >> "$L/torch_bench.txt"
        cat "$L/torch_bench.txt" ;;
    compare)
        # without torch's file (the torch step skipped or failed) gpenlab is still timed
        tcsv=(); [ -s "$OUT/torch_bench.csv" ] && tcsv=(--torch "$OUT/torch_bench.csv")
        timeout $(cap 120) "$GPU" bench --only fp16 --reps 30 "${tcsv[@]}" \
            --out "$OUT/bench_compare.txt" > "$L/compare.log" 2>&1
        sed -n '/^batch/,$p' "$L/compare.log" ;;
    ncu)
        BUILD=$B OUT=$OUT scripts/gpu_ncu.sh 8 2>&1 | tail -60 ;;
    profile)
        # both tries together get PROFILE_S (default: what is left), each full when it has
        # PROFILE_FULL_S for itself
        pcap=$(( $(left_s) - 15 ))
        [ -n "${PROFILE_S:-}" ] && [ "$PROFILE_S" -lt $pcap ] && pcap=$PROFILE_S
        [ $pcap -lt 60 ] && pcap=60
        pend=$(( $(date +%s) + pcap ))
        q=""; [ $pcap -lt ${PROFILE_FULL_S:-120} ] && q="--quick"
        timeout ${PROFILE_TIMEOUT:-$pcap} "$GPU" profile --out "$OUT/${key:-gpu}" $q \
            --cmd "scripts/gpu_session.sh profile (gpenlab-gpu profile $q)" \
            --commit "${GPENLAB_COMMIT:-unknown}" > "$L/profile.log" 2>&1
        prc=$?
        echo "profile exit $prc ($q)" >> "$L/profile.log"
        # nvJPEG failing under concurrent slots must not cost the card its profile: again on libjpeg
        pleft=$(( pend - $(date +%s) ))
        if [ $prc -ne 0 ] && [ $pleft -gt 60 ]; then
            q=""; [ $pleft -lt ${PROFILE_FULL_S:-120} ] && q="--quick"
            timeout $pleft "$GPU" profile --jpeg host --out "$OUT/${key:-gpu}" $q \
                --cmd "scripts/gpu_session.sh profile (gpenlab-gpu profile --jpeg host $q)" \
                --commit "${GPENLAB_COMMIT:-unknown}" >> "$L/profile.log" 2>&1
            echo "profile --jpeg host exit $? ($q)" >> "$L/profile.log"
        fi
        cat "$L/profile.log" ;;
    *) echo "unknown step $s" ;;
    esac
    echo "step $s: $(( $(date +%s) - t1 )) s (left $(left_s) s)"
done
tar czf "$OUT/logs.tgz" -C "$B" session-logs $(cd "$B" && ls run_*.safetensors restored_*.jpg photo.jpg 2>/dev/null | head -6)
echo "== summary ($card)"
grep -hE "FAIL|selftest: |GPEN-512 .* vs|kernels fp16" "$L/selftest.log" 2>/dev/null | cut -c1-240 | tail -12
grep -hE "^card|^gpenlab fp16" "$L/bench.log" 2>/dev/null | cut -c1-240 | tail -8
sed -n '/^batch/,$p' "$L/compare.log" 2>/dev/null
grep -hE "^cold|^eff|^batch 8|^jpeg mp (2|24)|^profile check|exit" "$L/profile.log" 2>/dev/null | tail -12
ls -la "$OUT"
nout=$(find "$OUT" -maxdepth 1 -type f | wc -l)
[ "$nout" -gt 7 ] && echo "WARNING: $nout files under $OUT: a device call returns 8 (7 and a session log)"
exit 0
