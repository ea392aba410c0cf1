#!/usr/bin/env bash
# Renders `gpenlab report` in headless Chromium (Debian's chromium) and checks the page's
# figures against the database they come from. Run by .ci/run when chromium is installed:
#   tests/report_html_chromium.sh BUILD_DIR
# Builds a small database (one experiment with series and request rows, one sweep whose
# constraint leaves a point infeasible), writes the report, dumps the DOM after rendering
# and takes a screenshot. The figures are read from the rendered DOM (the data-* attributes
# of the table cells, rows and pictures) and compared in SQL with the runs (sqlite3):
# every experiment cell's mean, every sweep point's feasibility and the winner.
set -euo pipefail
build=${1:-build}
bin="$PWD/$build/gpenlab"
command -v chromium >/dev/null 2>&1 || { echo "report_html_chromium: chromium not installed, skipped"; exit 0; }
command -v sqlite3 >/dev/null 2>&1 || { echo "report_html_chromium: sqlite3 not installed (scripts/install_deps.sh)"; exit 1; }
work=$(mktemp -d /tmp/gpenlab-html-XXXXXX)
trap 'rm -rf "$work"' EXIT
prof=$(realpath gpu/profiles/t4-seed)
p99_limit=25 # static 1 pod times out at the peak (P99 ~ 30 s); 2 and 3 pods stay below
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
objective: {minimise: gpu_hours, constraints: [{metric: p99_s, max: $p99_limit}]}
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
# SQL on an in-memory database with the report's attached read-only (schema db).
sql() { { echo "ATTACH 'file:$work/report.db?mode=ro' AS db;"; cat; } | sqlite3 -batch -noheader :memory:; }

# The rendered DOM as rows of data: experiment cells (label|metric|mean) and sweep points
# (point|feasible|winner), in the order the page shows them.
{ grep -oE '<table [^>]*>|data-label="[^"]*"|data-metric="[^"]*" data-mean="[^"]*"' "$work/dom.html" || true; } |
    awk -F'"' '/^<table/ {e = ""; l = ""; if ($0 ~ /data-experiment=/) {sub(/.*data-experiment="/, ""); sub(/".*/, ""); e = $0}}
               /^data-label/ {l = $2}
               /^data-metric/ && e != "" {print e "|" l "|" $2 "|" $4}' > "$work/cells.txt"
{ grep -oE '<tr data-point="[0-9]+"[^>]*>' "$work/dom.html" || true; } |
    sed -E 's/.*data-point="([0-9]+)".*data-feasible="([01])".*data-winner="([01])".*/\1|\2|\3/' > "$work/points.txt"
pareto_winner=$({ grep -oE '<figure data-chart="pareto"[^>]*>' "$work/dom.html" || true; } | sed -nE 's/.*data-winner="([^"]*)".*/\1/p')

# Means over replications in SQL, for the metrics a reader compares first.
mismatched_cells=$(sql <<SQL
CREATE TABLE page(exp TEXT, label TEXT, metric TEXT, mean REAL);
.mode list
.separator |
.import $work/cells.txt page
CREATE TABLE want AS
  SELECT e.name AS exp, r.label AS label, m.metric AS metric,
         AVG(CASE m.metric WHEN 'p99_s' THEN r.lat_p99_s WHEN 'p50_s' THEN r.lat_p50_s
                           WHEN 'mean_s' THEN r.lat_mean_s WHEN 'slo_pct' THEN 100.0 * r.slo_frac
                           WHEN 'gpu_hours' THEN r.gpu_seconds / 3600.0 WHEN 'cost' THEN r.cost
                           WHEN 'util_pct' THEN 100.0 * r.utilisation END) AS mean
  FROM db.runs r JOIN db.experiments e ON e.id = r.experiment_id,
       (SELECT 'p99_s' AS metric UNION SELECT 'p50_s' UNION SELECT 'mean_s' UNION SELECT 'slo_pct'
        UNION SELECT 'gpu_hours' UNION SELECT 'cost' UNION SELECT 'util_pct') m
  WHERE e.name = 'html_check' GROUP BY e.name, r.label, m.metric;
SELECT COUNT(*) FROM want w LEFT JOIN page p ON p.exp = w.exp AND p.label = w.label AND p.metric = w.metric
  WHERE p.mean IS NULL OR ABS(p.mean - w.mean) > 1e-9 * MAX(1.0, ABS(w.mean));
SQL
)
# Feasibility on the mean P99 and the winner (fewest mean GPU-hours among the feasible).
cat > "$work/want_points.sql" <<SQL
CREATE TABLE pt AS
  SELECT CAST(substr(e.name, length('html_sweep-p') + 1) AS INTEGER) AS point,
         AVG(r.lat_p99_s) <= $p99_limit AS feasible, AVG(r.gpu_seconds) AS gpu_s
  FROM db.runs r JOIN db.experiments e ON e.id = r.experiment_id
  WHERE e.name LIKE 'html_sweep-p%' GROUP BY e.name;
SELECT point || '|' || feasible || '|' ||
       (point = (SELECT point FROM pt WHERE feasible ORDER BY gpu_s LIMIT 1))
  FROM pt ORDER BY point;
SQL
want_points=$(sql < "$work/want_points.sql")
want_winner=$(printf '%s\n' "$want_points" | awk -F'|' '$3 == 1 {printf "p%04d", $1}')

tables=$(grep -o '<table' "$work/dom.html" | wc -l)
svgs=$(grep -o '<svg' "$work/dom.html" | wc -l)
check "two tables rendered (experiment, sweep), got $tables" '[ "$tables" -ge 2 ]'
check "at least 9 pictures rendered (8 + Pareto), got $svgs" '[ "$svgs" -ge 9 ]'
check "the policy labels are in the table" 'grep -q ">static-1x<" "$work/dom.html" && grep -q ">rule<" "$work/dom.html"'
check "every experiment cell is on the page ($(wc -l < "$work/cells.txt") cells)" '[ "$(wc -l < "$work/cells.txt")" -ge 14 ]'
check "the cells' means are the database's ($mismatched_cells of 14 differ or are missing)" '[ "$mismatched_cells" = 0 ]'
check "each sweep point's feasibility and the winner are the database's: page $(tr '\n' ' ' < "$work/points.txt"), database $(printf '%s ' $want_points)" \
      '[ "$(cat "$work/points.txt")" = "$want_points" ]'
check "the fixture has a feasible and an infeasible point" 'printf "%s\n" "$want_points" | grep -q "|0|" && printf "%s\n" "$want_points" | grep -q "|1|"'
check "the Pareto picture marks the winner $want_winner (page: ${pareto_winner:-none})" '[ -n "$want_winner" ] && [ "$pareto_winner" = "$want_winner" ]'
check "the latency-over-time chart is drawn" 'grep -q "data-chart=\"latency\"" "$work/dom.html"'
check "the cost chart is drawn" 'grep -q "data-chart=\"cost\"" "$work/dom.html"'
check "the latency CDF is drawn" 'grep -q "data-chart=\"cdf\"" "$work/dom.html"'
check "no picture is missing" '! grep -q "picture not drawn" "$work/dom.html"'
check "the page loads nothing from outside" '! grep -Eq "(src|href)=\"(https?:)?//" "$work/report.html"'
check "a screenshot was taken" '[ -s "$work/shot.png" ]'
echo "report_html: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
