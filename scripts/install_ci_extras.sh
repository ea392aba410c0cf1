#!/usr/bin/env bash
# What CI needs beyond building and the unit tests: headless Chromium (the HTML report is
# rendered and checked in it) and OpenMPI (the MPI sweep is checked against the local
# pool). Not needed to use gpenlab. Debian 12 packages; run as root or with sudo.
set -euo pipefail
pkgs=(chromium libopenmpi-dev openmpi-bin)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
    if $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "install_ci_extras: apt-get failed (attempt $attempt), retrying" >&2
    $sudo_cmd apt-get update -qq || true
    sleep $((attempt * 5))
done
exit 1
