#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets from the repository's real files:
#   make_seeds.sh OUTDIR
# OUTDIR/<target>/ gets one file per seed. Trace targets take two option bytes before
# the file (see fuzz/fuzz_targets.c), so each trace seed is written with a few option
# prefixes; the real traces (traces/data) contribute their first lines. The inputs
# saved from earlier findings (tests/data/fuzz/<target>-*) join their target's seeds.
set -euo pipefail
out=${1:?usage: make_seeds.sh OUTDIR}
cd "$(dirname "$0")/.."
real=traces/data
rm -rf "$out"
for t in trace_csv envelope cfg experiment policy profile drive weights csv; do mkdir -p "$out/$t"; done

# seed FILE TARGET NAME PREFIX...: the file's text after each two-byte prefix (octal escapes)
prefixed() {
    local src=$1 tgt=$2 name=$3; shift 3
    local i=0
    for p in "$@"; do
        { printf "$p"; cat "$src"; } > "$out/$tgt/$name.$i"
        i=$((i + 1))
    done
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# traces: plain, gzip-compressed by the target, with mp/faces columns, rate and time scaled
for f in tests/data/traces/*.csv; do
    b=$(basename "$f" .csv)
    case $b in env_*|envelope_*) prefixed "$f" envelope "$b" '\000\000' '\000\002' '\001\006';;
                *) prefixed "$f" trace_csv "$b" '\000\000' '\000\003' '\001\043' '\200\100';;
    esac
done
for f in tests/data/traces/*.csv.gz; do
    prefixed "$f" trace_csv "$(basename "$f" .csv.gz)-gz" '\000\000' '\000\003'
done
# the one CSV reader: every CSV of the repository (traces, replay metrics and their bad
# cases, regression baselines, the NUL / UTF-8 cases), plain and gzip-compressed
for f in tests/data/traces/*.csv tests/data/policy/*.csv tests/data/policy/badcsv/*.csv \
         experiments/baselines/*.csv; do
    prefixed "$f" csv "$(basename "$(dirname "$f")")-$(basename "$f" .csv)" '\000' '\001'
done
for f in "$real"/*.csv.gz "$real"/*.csv; do
    [ -e "$f" ] || continue
    b=$(basename "$f"); b=${b%%.*}
    if [[ $f == *.gz ]]; then zcat "$f" 2>/dev/null | head -n 60 > "$tmp/$b" || true
    else head -n 60 "$f" > "$tmp/$b"; fi
    case $b in
        servegen*|azure_lmm*) prefixed "$tmp/$b" envelope "$b" '\000\000' '\001\002' '\000\026' '\000\241';;
        *) prefixed "$tmp/$b" trace_csv "$b" '\000\000' '\001\000' '\000\043';;
    esac
done

# YAML: configuration tests, experiments, policy configurations, driver configurations
for f in tests/data/cfg/*.yaml experiments/*.yaml tests/data/policy/*.yaml \
         tests/data/policy/bad/*.yaml fuzz/seeds/*.yaml; do
    cp "$f" "$out/cfg/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in experiments/*.yaml; do cp "$f" "$out/experiment/"; done
for f in experiments/*.yaml tests/data/policy/*.yaml tests/data/policy/bad/*.yaml; do
    cp "$f" "$out/policy/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in fuzz/seeds/drive_* fuzz/seeds/kubeconfig.yaml; do cp "$f" "$out/drive/"; done
for f in gpu/profiles/*; do
    [ "$(basename "$f")" = FORMAT.md ] || cp "$f" "$out/profile/"
done

# weight files: GPEN's small config and the pipeline networks' goldens
for f in tests/data/gpen/*.safetensors tests/data/pipe/*.safetensors; do cp "$f" "$out/weights/"; done

# earlier findings
if [ -d tests/data/fuzz ]; then
    for f in tests/data/fuzz/*; do
        [ -f "$f" ] || continue
        t=$(basename "$f"); t=${t%%-*}
        [ -d "$out/$t" ] && cp "$f" "$out/$t/"
    done
fi
for t in "$out"/*; do echo "seeds: $(ls "$t" | wc -l) for $(basename "$t")"; done
