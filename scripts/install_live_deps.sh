#!/usr/bin/env bash
# Installs what the live tests need (tests/test_drive_live.c, tests/test_export.c's schema
# checks) on Debian 12: redis-server and prometheus (with promtool) from Debian, started by
# the tests themselves on loopback ports; and the pinned npm packages of
# tests/schemas/package-lock.json (the official Kubernetes, KEDA, Knative and
# prometheus-operator models with their schema validators) into build-node/.
#   scripts/install_live_deps.sh            Debian packages, then the npm packages
#   scripts/install_live_deps.sh --npm-only the npm packages only
# Needs node and npm (present on the project's machines); without them the schema checks
# skip with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--npm-only" ]; then
    pkgs=(redis-server prometheus)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        sudo_cmd=""
        [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        export DEBIAN_FRONTEND=noninteractive
        ok=0
        for attempt in 1 2 3; do
            # the packages' own services are not wanted: the tests start their servers
            if $sudo_cmd apt-get update -qq && \
               RUNLEVEL=1 $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
                ok=1
                break
            fi
            echo "install_live_deps: apt-get failed (attempt $attempt), retrying" >&2
            sleep $((attempt * 5))
        done
        [ $ok -eq 1 ] || exit 1
    fi
fi
if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    dest=build-node
    mkdir -p "$dest"
    if ! cmp -s tests/schemas/package-lock.json "$dest/package-lock.json" || [ ! -d "$dest/node_modules" ]; then
        cp tests/schemas/package.json tests/schemas/package-lock.json "$dest/"
        for attempt in 1 2 3; do
            if (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error); then
                break
            fi
            echo "install_live_deps: npm ci failed (attempt $attempt), retrying" >&2
            [ $attempt -eq 3 ] && exit 1
            sleep $((attempt * 5))
        done
    fi
else
    echo "install_live_deps: node/npm not found: the manifest schema checks will skip" >&2
fi
