#!/usr/bin/env bash
# Renders `gpenlab report` in headless Chromium (Debian's chromium) and checks that the
# page shows its tables and pictures offline. Run by .ci/run when chromium is installed:
#   tests/report_html_chromium.sh BUILD_DIR
# Builds a small database (one experiment with series and request rows, one sweep),
# writes the report, dumps the DOM after rendering and takes a screenshot.
set -euo pipefail
build=${1:-build}
bin="$PWD/$build/gpenlab"
command -v chromium >/dev/null 2>&1 || { echo "report_html_chromium: chromium not installed, skipped"; exit 0; }
work=$(mktemp -d /tmp/gpenlab-html-XXXXXX)
trap 'rm -rf "$work"' EXIT
prof=$(realpath gpu/profiles/t4-seed)
cat > "$work/exp.yaml" <<YAML
name: html_check
seed: 3
replications: 2
profile: $prof
workload: {type: tidal, days: 1, trough_rate_per_s: 0.05, peak_rate_per_s: 0.8,
  peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20, width_h: 2, rel: 1.0}]}
cluster: {gpus: 3, min_pods: 1, max_pods: 3, concurrency: 5}
policies:
  - {label: static-1x, policy: static, config: {pods: 1}}
  - {label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 3}}
output: {series: true, requests: true}
YAML
cat > "$work/sweep.yaml" <<YAML
name: html_sweep
base: exp.yaml
policy: static-1x
replications: 2
db: report.db
parameters: [{path: config.pods, values: [1, 2, 3]}]
objective: {minimise: gpu_hours}
YAML
"$bin" run "$work/exp.yaml" --db "$work/report.db" --quiet
"$bin" sweep "$work/sweep.yaml" -j 2 > /dev/null
"$bin" report "$work/report.db" -o "$work/report.html" > /dev/null
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/profile")
timeout 120 chromium "${flags[@]}" --dump-dom "file://$work/report.html" > "$work/dom.html" 2> "$work/chromium.log"
timeout 120 chromium "${flags[@]}" --window-size=1200,1600 --screenshot="$work/shot.png" \
    "file://$work/report.html" >> "$work/chromium.log" 2>&1
passed=0 failed=0
check() { # name, condition
    if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1"; fi
}
tables=$(grep -o '<table' "$work/dom.html" | wc -l)
svgs=$(grep -o '<svg' "$work/dom.html" | wc -l)
check "two tables rendered (experiment, sweep), got $tables" '[ "$tables" -ge 2 ]'
check "at least 7 pictures rendered (6 + Pareto), got $svgs" '[ "$svgs" -ge 7 ]'
check "the policy labels are in the table" 'grep -q ">static-1x<" "$work/dom.html" && grep -q ">rule<" "$work/dom.html"'
check "the Pareto front is drawn" 'grep -q "Pareto front" "$work/dom.html"'
check "the latency CDF is drawn" 'grep -q "latency CDF" "$work/dom.html"'
check "no picture is missing" '! grep -q "picture not drawn" "$work/dom.html"'
check "the page loads nothing from outside" '! grep -Eq "(src|href)=\"(https?:)?//" "$work/report.html"'
check "a screenshot was taken" '[ -s "$work/shot.png" ]'
echo "report_html: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
