#!/usr/bin/env bash
# worker_pool.sh N: the local-process actuator of the live stack (issue 7). `gpenlab drive`
# runs it with the desired count (target: {command: {run: "scripts/worker_pool.sh {replicas}"}})
# and it makes the number of running, not-draining gpenlab-worker processes N:
#   - scale up: start workers (ids w1, w2, ... in start order), each in its own session so
#     it outlives this script, with GPEN_SPAWN_US = the start time (the cold start counts
#     from there, as a pod's does from the scale decision);
#   - scale down: SIGTERM to the newest running workers (the ReplicaSet's choice among ready
#     pods); a worker then drains and exits by itself.
# Environment: GPEN_POOL_DIR (state: pid files, logs; default .live/run/pool),
# GPEN_WORKER_BIN (default build/gpenlab-worker), GPEN_WORKER_ARGS (extra arguments, e.g.
# "--redis 127.0.0.1:6399 --backend cuda --concurrency 4"), GPEN_WORKER_ENV (NAME=VALUE
# words set for the workers, e.g. LD_LIBRARY_PATH=.live/lib). `worker_pool.sh stop` sends
# SIGTERM to every worker and waits for them (GPEN_POOL_STOP_S, default 60, then SIGKILL).
set -euo pipefail
want=${1:?usage: worker_pool.sh N | stop | status}
dir=${GPEN_POOL_DIR:-.live/run/pool}
bin=${GPEN_WORKER_BIN:-build/gpenlab-worker}
mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9

# a process that exists and is not a zombie
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]; }

# running, not draining: "seq pid" lines in start order
running() {
    for f in "$dir"/*.pid; do
        [ -e "$f" ] || continue
        seq=$(basename "$f" .pid)
        pid=$(cat "$f")
        if alive "$pid"; then
            [ -e "$dir/$seq.term" ] || echo "$seq $pid"
        fi
    done | sort -n
}

case $want in
status)
    running
    exit 0 ;;
stop)
    for f in "$dir"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f"); seq=$(basename "$f" .pid)
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; touch "$dir/$seq.term"; fi
    done
    end=$(( $(date +%s) + ${GPEN_POOL_STOP_S:-60} ))
    for f in "$dir"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        while alive "$pid" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
        alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
    exit 0 ;;
esac
[[ $want =~ ^[0-9]+$ ]] || { echo "worker_pool.sh: expected a count, got '$want'" >&2; exit 2; }
[ -x "$bin" ] || { echo "worker_pool.sh: $bin is not an executable" >&2; exit 2; }

mapfile -t run < <(running)
have=${#run[@]}
if [ "$have" -lt "$want" ]; then
    last=$(ls "$dir" | sed -n 's/^\([0-9]*\)\.pid$/\1/p' | sort -n | tail -1)
    next=$(( ${last:-0} + 1 ))
    for ((k = have; k < want; k++, next++)); do
        seq=$(printf '%04d' "$next")
        spawn_us=$(date +%s%6N)
        # shellcheck disable=SC2086
        # shellcheck disable=SC2086
        env GPEN_SPAWN_US="$spawn_us" ${GPEN_WORKER_ENV:-} setsid "$bin" serve --id "w$next" ${GPEN_WORKER_ARGS:-} \
            </dev/null >"$dir/$seq.log" 2>&1 9>&- &
        echo $! >"$dir/$seq.pid"
        echo "$spawn_us up w$next pid $!" >>"$dir/events"
    done
elif [ "$have" -gt "$want" ]; then
    # newest first
    for ((k = have - 1; k >= want; k--)); do
        read -r seq pid <<<"${run[$k]}"
        touch "$dir/$seq.term"
        kill -TERM "$pid" 2>/dev/null || true
        echo "$(date +%s%6N) down w$((10#$seq)) pid $pid" >>"$dir/events"
    done
fi
