#!/usr/bin/env bash
# gpu_ncu.sh: Nsight Compute counters of one GPEN forward's heavy kernels, on the device
# machine. Usage: scripts/gpu_ncu.sh [BATCH] [KERNEL_REGEX] (defaults 8 and the conv and
# epilogue kernels). Needs a built $BUILD/gpenlab-gpu. Writes $OUT/ncu_<batch>.csv (one
# row per kernel and metric, stall reasons included) and prints per kernel: time, DRAM,
# SM and memory throughput (% of peak), achieved occupancy, registers, cycles per issue.
set -u
B=${BUILD:-build-dev}
OUT=${OUT:-/tmp/gpu_ncu}
batch=${1:-8}
re=${2:-conv_wgmma|conv_mma|blur_up|epi_kernel|blur_down|torgb}
mkdir -p "$OUT"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "gpu_ncu: ncu not found" >&2; exit 1; }
csv=$OUT/ncu_$batch.csv
# one forward: the bench's warm-up forward is the first launch of every kernel
timeout 500 "$ncu" --clock-control none -k "regex:$re" --launch-count ${NCU_COUNT:-90} \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --csv --page details "$B/gpenlab-gpu" bench --only fp16 --batch "$batch" --reps 1 > "$csv" 2> "$OUT/ncu_$batch.err"
rc=$?
python3 - "$csv" <<'PY'
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
hdr = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
if hdr is None:
    print("gpu_ncu: no ncu table in", sys.argv[1]); sys.exit(1)
h = rows[hdr]; col = {k: i for i, k in enumerate(h)}
k = collections.OrderedDict()
for r in rows[hdr + 1:]:
    if len(r) != len(h): continue
    key = (r[col["ID"]], r[col["Kernel Name"]][:60], r[col["Grid Size"]] if "Grid Size" in col else "")
    k.setdefault(key, {})[r[col["Metric Name"]]] = r[col["Metric Value"]]
want = ["Duration", "DRAM Throughput", "Compute (SM) Throughput", "Memory Throughput", "Achieved Occupancy", "Registers Per Thread", "Warp Cycles Per Issued Instruction"]
print("%-4s %-56s %-16s " % ("id", "kernel", "grid") + " ".join("%9s" % w.split()[0][:9] for w in want) )
for (i, name, grid), m in k.items():
    vals = " ".join("%9s" % m.get(w, "-")[:9] for w in want)
    print("%-4s %-56s %-16s %s" % (i, name[5:61] if name.startswith("void ") else name[:56], grid[:16], vals))
PY
exit $rc
