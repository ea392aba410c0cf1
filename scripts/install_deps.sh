#!/usr/bin/env bash
# Installs what gpenlab needs to build, test and plot on Debian 12 (run as root, or it
# uses sudo). The CUDA toolkit is optional here: `make gpu` needs nvcc, the rest does not.
set -euo pipefail
pkgs=(build-essential pkg-config libgsl-dev libsqlite3-dev libyaml-dev zlib1g-dev
      libcmocka-dev libjpeg-dev gnuplot-nox sqlite3 libcurl4-openssl-dev libjansson-dev)
# Hardening (issue 8): clang with libFuzzer (make fuzz) and valgrind (make valgrind).
pkgs+=(clang libclang-rt-14-dev valgrind)
# The exact reference of the simulator's model (tests/exact_ref.py, run by test_exact),
# and SimPy for `make bench`'s side-by-side (bench/simpy_model.py; pulls in python3).
pkgs+=(python3 python3-simpy3)
exec "$(dirname "$0")/apt_install.sh" --update-first install_deps "${pkgs[@]}"
