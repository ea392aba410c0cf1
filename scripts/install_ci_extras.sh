#!/usr/bin/env bash
# What CI needs beyond building and the unit tests: headless Chromium (the HTML report is
# rendered and checked in it) and OpenMPI (the MPI sweep is checked against the local
# pool). Not needed to use gpenlab. Debian 12 packages; run as root or with sudo.
set -euo pipefail
pkgs=(chromium libopenmpi-dev openmpi-bin)
exec "$(dirname "$0")/apt_install.sh" install_ci_extras "${pkgs[@]}"
