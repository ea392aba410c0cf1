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
    # the packages' own services are not wanted: the tests start their servers
    scripts/apt_install.sh --update-first --no-services install_live_deps redis-server prometheus
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
