#!/usr/bin/env bash
# A private OCI registry (Debian's docker-registry, the CNCF distribution) on loopback,
# for image tests and air-gapped trials.
#
#   hack/registry.sh start DIR [PORT]  serves 127.0.0.1:PORT (default 5000) with its storage
#                                      in DIR/data, config DIR/config.yml, log DIR/registry.log
#                                      and pid DIR/registry.pid; waits until /v2/ answers;
#                                      prints 127.0.0.1:PORT as the only line on stdout.
#   hack/registry.sh stop DIR          stops it (TERM, then KILL after a deadline). Keeps the
#                                      pushed images in DIR/data. Succeeds if nothing runs.
#
# Plain HTTP: pull with a registries.yaml mirror endpoint "http://127.0.0.1:PORT", push
# with `skopeo copy --dest-tls-verify=false`.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGISTRY_BIN=/usr/bin/docker-registry
START_DEADLINE=${REGISTRY_START_DEADLINE:-20}
STOP_DEADLINE=${REGISTRY_STOP_DEADLINE:-10}

usage() {
    echo "usage: $0 start DIR [PORT] | stop DIR" >&2
    exit 2
}

# v2_answers ADDR: the registry's API root answers 200.
v2_answers() {
    curl -fsS -o /dev/null --max-time 2 "http://$1/v2/"
}

exited_or_answers() {
    ! pid_is "$1" docker-registry || v2_answers "$2"
}

registry_gone() {
    ! pid_is "$1" docker-registry
}

start() {
    local dir=$1 port=${2:-5000}
    [[ "$port" =~ ^[0-9]+$ ]] || usage
    mkdir -p "$dir/data"
    dir="$(cd "$dir" && pwd)"
    local pidfile="$dir/registry.pid" logfile="$dir/registry.log" config="$dir/config.yml"
    local addr="127.0.0.1:$port"

    if [[ -f "$pidfile" ]] && pid_is "$(cat "$pidfile")" docker-registry; then
        die "a registry already runs in $dir (pid $(cat "$pidfile")); run: $0 stop $dir"
    fi
    [[ -x "$REGISTRY_BIN" ]] || need_apt docker-registry curl
    command -v curl >/dev/null 2>&1 || need_apt curl

    cat >"$config" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
  headers:
    X-Content-Type-Options: [nosniff]
YAML
    printf '\n==== hack/registry.sh start %s: %s ====\n' "$(date -u +%FT%TZ)" "$addr" >>"$logfile"
    # The Debian package's default config and environment are not used: only ours.
    env -u REGISTRY_HTTP_ADDR "$REGISTRY_BIN" serve "$config" </dev/null >>"$logfile" 2>&1 &
    local pid=$!
    echo "$pid" >"$pidfile"

    wait_until "$START_DEADLINE" exited_or_answers "$pid" "$addr" || true
    if pid_is "$pid" docker-registry && v2_answers "$addr" 2>/dev/null; then
        log "registry http://$addr ready (pid $pid, storage $dir/data, log $logfile)"
        echo "$addr"
        return 0
    fi
    log "registry did not come up at $addr; last lines of $logfile:"
    tail -n 20 "$logfile" >&2 || true
    stop "$dir"
    return 1
}

stop() {
    local dir=$1
    [[ -d "$dir" ]] || return 0
    local pidfile="$dir/registry.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if pid_is "$pid" docker-registry; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_until "$STOP_DEADLINE" registry_gone "$pid"; then
            log "registry (pid $pid) still running after ${STOP_DEADLINE}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            wait_until 5 registry_gone "$pid" || log "warning: registry (pid $pid) did not exit"
        fi
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
start) [[ $# -ge 2 && $# -le 3 ]] || usage; start "$2" "${3:-}" ;;
stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
*) usage ;;
esac
