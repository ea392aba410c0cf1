#!/usr/bin/env bash
# check_layers.sh [ROOT]: fails when a source file includes a folder its layer may not use.
# The layers, bottom to top (docs/architecture.md):
#   base  <  traces, policy, profile, gpu/ref  <  sim  <  lab  <  cli, drive, worker, gpu
# Each folder may include the folders listed for it in ALLOWED and nothing else: never
# upward, and sideways only where listed (the command line calls the driver; the driver
# uses the worker's Redis client, worker/resp.c, the one RESP client; the worker
# uses the GPU program's CUDA and JPEG code). Project includes are written from the
# repository root (#include "base/cfg.h"); one written relative to its file is an error
# too (it is still resolved, so its layer is checked). tests/, bench/ and fuzz/ may
# include any layer, but from the root too.
# No source file in these folders calls system() or popen() (issue 13: no shell with a
# path or value inside it; base/proc.h runs an argv vector instead). Comments, string and
# character literals do not count.
# Prints one line per violation (FILE:LINE: ...) and a summary line; exits 1 on any
# violation.
set -euo pipefail
cd "${1:-.}"

ALLOWED='
base:    base
traces:  base traces
policy:  base policy
profile: base profile
gpu/ref: base gpu/ref
sim:     base traces policy profile gpu/ref sim
lab:     base traces policy profile gpu/ref sim lab
drive:   base traces policy profile gpu/ref sim lab drive worker
cli:     base traces policy profile gpu/ref sim lab drive cli
worker:  base traces policy profile gpu/ref sim lab gpu worker
gpu:     base profile gpu/ref gpu
'

dirs=()
for d in base traces policy profile sim lab cli drive worker gpu tests bench fuzz; do
    [ -d "$d" ] && dirs+=("$d")
done
[ ${#dirs[@]} -gt 0 ] || { echo "check_layers: no source folders under $PWD" >&2; exit 2; }
mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \
    -o -name '*.cuh' \) | LC_ALL=C sort)

awk -v allowed_table="$ALLOWED" -v nfiles="${#files[@]}" '
function layer_of(p) {
    if (p ~ /^gpu\/ref\//) return "gpu/ref"
    if (p ~ /^(base|traces|policy|profile|sim|lab|cli|drive|worker|gpu)\//) {
        sub(/\/.*/, "", p); return p
    }
    return ""
}
function exists(p,   line, r) {
    r = (getline line < p); close(p); return r >= 0
}
# dir/rel with "." and ".." segments folded; "" if it climbs above the root
function join(dir, rel,   parts, n, out, k, i, p) {
    n = split(dir "/" rel, parts, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (parts[i] == "" || parts[i] == ".") continue
        if (parts[i] == "..") { if (k == 0) return ""; k--; continue }
        out[++k] = parts[i]
    }
    p = ""
    for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
    return p
}
# s without its comments (in_comment carries a /* */ comment across lines) and with every
# string or character literal emptied
function code_of(s,   out, i, n, c, q) {
    out = ""; n = length(s); i = 1
    while (i <= n) {
        c = substr(s, i, 1)
        if (in_comment) {
            if (c == "*" && substr(s, i + 1, 1) == "/") { in_comment = 0; i += 2; out = out " " }
            else i++
            continue
        }
        if (c == "/" && substr(s, i + 1, 1) == "*") { in_comment = 1; i += 2; continue }
        if (c == "/" && substr(s, i + 1, 1) == "/") break
        if (c == "\"" || c == "\047") {
            q = c; i++
            while (i <= n && substr(s, i, 1) != q) i += substr(s, i, 1) == "\\" ? 2 : 1
            i++; out = out q q
            continue
        }
        out = out c; i++
    }
    return out
}
BEGIN {
    n = split(allowed_table, rows, "\n")
    for (i = 1; i <= n; i++) {
        if (split(rows[i], f, /[: ]+/) < 2) continue
        list = ""
        for (j = 2; j in f; j++) if (f[j] != "") { ok[f[1], f[j]] = 1; list = list (list ? ", " : "") f[j] "/" }
        okname[f[1]] = list
    }
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
    inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    checked++
    target = inc
    if (!exists(inc)) {
        dir = FILENAME; sub(/\/[^\/]*$/, "", dir)
        rel = join(dir, inc)
        if (rel == "" || !exists(rel)) next   # a system or generated header
        printf "%s:%d: \"%s\" is written relative to its file: write \"%s\"\n", FILENAME, FNR, inc, rel
        bad++
        target = rel
    }
    from = layer_of(FILENAME); to = layer_of(target)
    if (from == "" || to == "" || ok[from, to]) next
    printf "%s:%d: includes \"%s\": %s/ may include only %s\n", FILENAME, FNR, target, from, okname[from]
    bad++
}
FNR == 1 { in_comment = 0 }
# only lines that can hold a call or change the comment state are scanned
(in_comment && index($0, "*/")) || (!in_comment && ($0 ~ /\/\*|system|popen/)) {
    code = code_of($0)
    if (match(code, /(^|[^A-Za-z0-9_])(system|popen)[ \t]*\(/)) {
        call = substr(code, RSTART, RLENGTH); sub(/^[^a-z]/, "", call); sub(/[ \t]*\($/, "", call)
        printf "%s:%d: calls %s(): run the program without a shell (base/proc.h)\n",
            FILENAME, FNR, call
        bad++
    }
}
END {
    printf "check_layers: %d files, %d project includes, %d violation(s)\n", nfiles, checked, bad
    exit bad > 0
}' "${files[@]}"
