#!/usr/bin/env bash
# apt_install.sh: installs the Debian packages among PKG... that are not installed yet (as
# root, or through sudo), three attempts with back-off; shared by the install_*.sh scripts.
#   scripts/apt_install.sh [--update-first] [--no-services] LABEL PKG...
#   --update-first  apt-get update before every attempt (else only after a failed one)
#   --no-services   do not let the packages start their own services (RUNLEVEL=1)
# LABEL names the caller in messages. Exits 0 when everything is installed, 1 otherwise.
set -euo pipefail
update_first=0
no_services=0
while [ $# -gt 0 ]; do
    case $1 in
    --update-first) update_first=1; shift ;;
    --no-services) no_services=1; shift ;;
    *) break ;;
    esac
done
label=$1
shift
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
runlevel=()
[ $no_services -eq 1 ] && runlevel=(env RUNLEVEL=1)
for attempt in 1 2 3; do
    if { [ $update_first -eq 0 ] || $sudo_cmd apt-get update -qq; } && \
       "${runlevel[@]}" $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        exit 0
    fi
    echo "$label: apt-get failed (attempt $attempt), retrying" >&2
    [ $update_first -eq 1 ] || $sudo_cmd apt-get update -qq || true
    sleep $((attempt * 5))
done
exit 1
