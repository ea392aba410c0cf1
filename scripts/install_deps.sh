#!/usr/bin/env bash
# Installs what gpenlab needs to build, test and plot on Debian 12 (run as root, or it
# uses sudo). The CUDA toolkit is optional here: `make gpu` needs nvcc, the rest does not.
set -euo pipefail
pkgs=(build-essential pkg-config libgsl-dev libsqlite3-dev libyaml-dev zlib1g-dev
      libcmocka-dev libjpeg-dev gnuplot-nox sqlite3 libcurl4-openssl-dev libjansson-dev)
# Hardening (issue 8): clang with libFuzzer (make fuzz) and valgrind (make valgrind).
pkgs+=(clang libclang-rt-14-dev valgrind)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
    if $sudo_cmd apt-get update -qq && \
       $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "install_deps: apt-get failed (attempt $attempt), retrying" >&2
    sleep $((attempt * 5))
done
exit 1
