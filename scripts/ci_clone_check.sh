#!/usr/bin/env bash
# The repository stands alone (issue 12): clones the checked-out commit into a fresh
# temporary directory with nothing beside it (so no ../shared, no build outputs), and
# there runs the README's first command (build, then the default experiment) and the
# tests that read the repository's own data files (every experiment file, the real
# traces, the trace command, every policy on a real tidal day). Any path that leaves the
# repository fails here even where the developer's machine has a copy beside it.
#   scripts/ci_clone_check.sh            # from the repository root
# It runs no other test: the whole suite ran in the checkout (`make test`). About a minute
# on two idle cores (the build, then the default run, about 25 s each).
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse HEAD)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --no-checkout "$PWD" "$tmp/gpenlab"
cd "$tmp/gpenlab"
git checkout --quiet "$commit"
if [ -e ../shared ] || [ "$(ls -A ..)" != gpenlab ]; then
    echo "ci_clone_check: $tmp holds more than the clone" >&2
    exit 1
fi
tests=(test_experiment_files test_trace_real test_trace_cmd test_policies_tidal)
make -j2 gpenlab "${tests[@]/#/build/tests/}" >build.log 2>&1 || { tail -n 40 build.log; exit 1; }
# the README's command on both cores (-j 2 writes the same database as without)
./gpenlab run experiments/tidal_day.yaml -j 2 >run.out 2>&1 || { cat run.out; exit 1; }
tail -n 3 run.out
export GPENLAB_BIN="$PWD/gpenlab"
for t in "${tests[@]}"; do
    out=$("build/tests/$t" 2>&1) || { printf '%s\n' "$out" | tail -n 40; echo "ci_clone_check: $t failed in a bare clone" >&2; exit 1; }
done
echo "ci_clone_check: $commit builds, runs the default experiment and reads only its own files (${tests[*]})"
