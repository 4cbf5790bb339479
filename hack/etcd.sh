#!/usr/bin/env bash
# A private, single-member etcd for tests and benchmarks, on loopback only.
#
#   hack/etcd.sh start DIR   starts etcd with its data in DIR/data, its log in
#                            DIR/etcd.log, its pid in DIR/etcd.pid; waits until
#                            it is healthy; prints the client URL as the only
#                            line on stdout (and writes it to DIR/endpoint).
#   hack/etcd.sh stop DIR    stops it (TERM, then KILL after a deadline) and
#                            removes DIR/data. Succeeds if nothing is running.
#
# Put DIR on /dev/shm for speed in tests; put it on a real disk for benchmarks
# (fsync is only real there). Both ports (client and peer) are free loopback
# ports chosen at start, so several can run side by side.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ETCD_BIN=/usr/bin/etcd
ETCDCTL_BIN=/usr/bin/etcdctl
START_DEADLINE=${ETCD_START_DEADLINE:-30}
STOP_DEADLINE=${ETCD_STOP_DEADLINE:-10}
START_ATTEMPTS=3

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

ensure_etcd() {
    if [[ ! -x "$ETCD_BIN" || ! -x "$ETCDCTL_BIN" ]]; then
        need_apt etcd-server etcd-client
    fi
    [[ -x "$ETCD_BIN" ]] || die "$ETCD_BIN still missing after installing etcd-server"
    [[ -x "$ETCDCTL_BIN" ]] || die "$ETCDCTL_BIN still missing after installing etcd-client"
}

healthy() {
    ETCDCTL_API=3 "$ETCDCTL_BIN" --endpoints "$1" --dial-timeout=1s --command-timeout=2s \
        endpoint health
}

# exited_or_healthy PID URL: true once etcd PID has exited or is healthy at URL
# (what the start-up poll waits for).
exited_or_healthy() {
    ! pid_is "$1" etcd || healthy "$2"
}

# etcd_gone PID: true once etcd PID has exited.
etcd_gone() {
    ! pid_is "$1" etcd
}

print_log_tail() {
    local logfile=$1
    if [[ -f "$logfile" ]]; then
        log "last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
    fi
}

start() {
    local dir=$1
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local data="$dir/data" logfile="$dir/etcd.log" pidfile="$dir/etcd.pid"

    if [[ -f "$pidfile" ]] && pid_is "$(cat "$pidfile")" etcd; then
        die "etcd already running in $dir (pid $(cat "$pidfile")); run: $0 stop $dir"
    fi
    ensure_etcd

    # etcd 3.4 refuses architectures other than amd64 unless told otherwise.
    local arch
    arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
    if [[ "$arch" != amd64 ]]; then
        export ETCD_UNSUPPORTED_ARCH="$arch"
    fi

    # etcd reads ETCD_* variables as flags and refuses to start when one
    # shadows a flag given here; keep inherited ones away from it.
    local unset_env=() var
    for var in $(compgen -e); do
        if [[ "$var" == ETCD_* && "$var" != ETCD_UNSUPPORTED_ARCH ]]; then
            unset_env+=(-u "$var")
        fi
    done

    local attempt client_port peer_port client_url peer_url pid
    for ((attempt = 1; attempt <= START_ATTEMPTS; attempt++)); do
        client_port="$(free_port)"
        peer_port="$(free_port)"
        while [[ "$peer_port" == "$client_port" ]]; do
            peer_port="$(free_port)"
        done
        client_url="http://127.0.0.1:$client_port"
        peer_url="http://127.0.0.1:$peer_port"

        rm -rf "$data" "$dir/endpoint"
        printf '\n==== hack/etcd.sh start (attempt %d) %s: client %s peer %s ====\n' \
            "$attempt" "$(date -u +%FT%TZ)" "$client_url" "$peer_url" >>"$logfile"

        # --max-request-bytes: room for a 1.5 MiB object plus its key and the
        # txn around it (etcd's default is exactly 1.5 MiB for the whole request).
        # stdin/stdout/stderr all detached, so `url=$(hack/etcd.sh start DIR)`
        # returns as soon as this script exits.
        env "${unset_env[@]}" "$ETCD_BIN" \
            --name default \
            --data-dir "$data" \
            --listen-client-urls "$client_url" \
            --advertise-client-urls "$client_url" \
            --listen-peer-urls "$peer_url" \
            --initial-advertise-peer-urls "$peer_url" \
            --initial-cluster "default=$peer_url" \
            --initial-cluster-state new \
            --max-request-bytes 3145728 \
            --initial-cluster-token "rkube-$$-$attempt" \
            --logger zap \
            --log-outputs stderr \
            </dev/null >>"$logfile" 2>&1 &
        pid=$!
        echo "$pid" >"$pidfile"

        wait_until "$START_DEADLINE" exited_or_healthy "$pid" "$client_url" || true

        if pid_is "$pid" etcd && healthy "$client_url" >/dev/null 2>&1; then
            echo "$client_url" >"$dir/endpoint"
            log "etcd $client_url healthy (pid $pid, data $data, log $logfile)"
            echo "$client_url"
            return 0
        fi

        if ! pid_is "$pid" etcd; then
            # Exited. If a port was taken between choosing and binding it, try
            # again with new ports; any other failure is final.
            if tail -n 50 "$logfile" | grep -qi 'address already in use' &&
                ((attempt < START_ATTEMPTS)); then
                log "port taken before etcd bound it; retrying with new ports"
                continue
            fi
            log "etcd exited during startup"
        else
            log "etcd not healthy after ${START_DEADLINE}s; stopping it"
        fi
        print_log_tail "$logfile"
        stop "$dir"
        return 1
    done
    return 1
}

stop() {
    local dir=$1
    [[ -d "$dir" ]] || return 0
    local pidfile="$dir/etcd.pid" pid
    if [[ -f "$pidfile" ]]; then
        pid="$(cat "$pidfile")"
        if pid_is "$pid" etcd; then
            kill -TERM "$pid" 2>/dev/null || true
            if ! wait_until "$STOP_DEADLINE" etcd_gone "$pid"; then
                log "etcd (pid $pid) still running after ${STOP_DEADLINE}s; sending KILL"
                kill -KILL "$pid" 2>/dev/null || true
                wait_until 5 etcd_gone "$pid" ||
                    log "warning: etcd (pid $pid) did not exit after KILL"
            fi
        fi
        rm -f "$pidfile"
    fi
    rm -rf "$dir/data" "$dir/endpoint"
}

[[ $# -eq 2 ]] || usage
case "$1" in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
