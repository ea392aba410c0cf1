#!/usr/bin/env bash
# live_bundle.sh: puts what the live validation needs on the GPU machine into .live/ (ignored
# by git through .git/info/exclude; carried by the device `run` call: carry [".live"]). The
# GPU machine (Ubuntu 24.04, CUDA 13) reaches no package registry and has no GSL, SQLite,
# libyaml, libcurl headers, Redis or Prometheus, so:
#   .live/deb/   redis-server, redis-tools and their libraries as Debian 12 packages
#                (apt-get download), unpacked with dpkg -x into .live/root/
#   .live/bin/   redis-server, redis-cli (from those packages); gpenlab, gpenlab-loadgen,
#                gpenlab-promlite, gpenlab-worker built here; gpenlab-worker-gpu built here
#                with nvcc from the committed gpu/ sources (git archive HEAD), sm_90a
#   .live/lib/   the shared libraries those programs need that Ubuntu 24.04 may lack (ldd
#                here, minus glibc and the C++ runtime): LD_LIBRARY_PATH=.live/lib
# Prometheus (50 MB) is not carried: gpenlab-promlite serves the query API subset that
# `gpenlab drive` uses. Prints the bundle's size (the working tree + carried paths must stay
# under 64 MiB).
#   scripts/live_bundle.sh [BUILD]       (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
L=.live
mkdir -p .git/info
grep -qx '/.live/' .git/info/exclude 2>/dev/null || echo '/.live/' >>.git/info/exclude
rm -rf "$L"
mkdir -p "$L/deb" "$L/root" "$L/bin" "$L/lib"
(cd "$L/deb" && apt-get download redis-server redis-tools liblzf1 libjemalloc2 >/dev/null)
for d in "$L"/deb/*.deb; do dpkg -x "$d" "$L/root"; done
cp "$L/root/usr/bin/redis-check-rdb" "$L/bin/redis-server"
cp "$L/root/usr/bin/redis-cli" "$L/bin/redis-cli"
make -s BUILD="$B" "$B/gpenlab" worker >/dev/null
cp "$B/gpenlab" "$B/gpenlab-loadgen" "$B/gpenlab-promlite" "$B/gpenlab-worker" "$L/bin/"
# the GPU worker from the committed sources only (others may be editing gpu/ right now;
# commit worker/ first)
src=$(mktemp -d /tmp/gpenlab-live-src.XXXXXX)
git archive HEAD | tar -x -C "$src"
(cd "$src" && make -s BUILD=build-live worker-gpu GPU_ARCH="-gencode=arch=compute_90a,code=sm_90a" >/dev/null)
cp "$src/build-live/gpenlab-worker-gpu" "$L/bin/"
git rev-parse --short HEAD >"$L/commit"
rm -rf "$src"
# libraries: everything ldd resolves outside glibc and the C++ runtime
skip='^(libc|libm|libdl|librt|libpthread|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|linux-vdso|libcublasLt|libcudart)\.'
for b in "$L"/bin/*; do
    LD_LIBRARY_PATH="$PWD/$L/root/usr/lib/x86_64-linux-gnu" ldd "$b" | awk '/=> \//{print $3}'
done | sort -u | while read -r lib; do
    name=$(basename "$lib")
    [[ $name =~ $skip ]] && continue
    cp -L "$lib" "$L/lib/$name"
done
rm -rf "$L/root"
for b in "$L"/bin/*; do
    if LD_LIBRARY_PATH="$L/lib" ldd "$b" | grep -q "not found"; then
        echo "live_bundle: $b has unresolved libraries" >&2
        exit 1
    fi
done
tree_kib=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | awk '{print int($1/1024)}')
echo "live_bundle: .live $(du -sk "$L" | cut -f1) KiB, tracked tree ${tree_kib} KiB"
