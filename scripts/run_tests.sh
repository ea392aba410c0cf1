#!/usr/bin/env bash
# Runs every test binary under BUILD/tests, from the repository root, and prints one
# closing line "N passed, N failed" (tests counted by cmocka's own summary lines).
set -u
build=${1:-build}
label=${2:-normal}
passed=0 failed=0 bad_bins=()
export GPENLAB_BIN="$PWD/$build/gpenlab"
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" 2>&1); rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f))
    if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
        bad_bins+=("$t")
        printf '%s\n' "$out" | tail -n 40
        [ "$f" -eq 0 ] && failed=$((failed + 1))
    fi
done
echo "[$label] test binaries with failures: ${bad_bins[*]:-none}"
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
