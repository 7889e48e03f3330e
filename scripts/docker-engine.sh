#!/usr/bin/env bash
# Makes sure a Docker engine answers. `start` starts dockerd only when none answers and records its
# PID; `stop` stops only a dockerd that `start` started, by that PID, never by name.
set -euo pipefail

state_dir=${HYPERBUN_STATE_DIR:-/var/tmp/hyperbun-canary}
pidfile=$state_dir/dockerd.pid

start() {
    if docker info >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        echo "docker-engine: dockerd is not installed; run scripts/setup.sh first" >&2
        return 1
    fi
    mkdir -p "$state_dir"
    echo "docker-engine: starting dockerd (log: $state_dir/dockerd.log)"
    # Published ports go through the kernel's NAT rather than a docker-proxy process per port and
    # connection: the same ports on 127.0.0.1, for less CPU under the tests' steady load.
    setsid nohup dockerd --userland-proxy=false >"$state_dir/dockerd.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            return 0
        fi
        sleep 1
    done
    echo "docker-engine: dockerd did not answer within 60 s; see $state_dir/dockerd.log" >&2
    return 1
}

stop() {
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        echo "docker-engine: stopping dockerd (pid $pid)"
        kill -TERM "$pid"
        for _ in $(seq 1 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid"
        fi
    fi
    rm -f "$pidfile"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
