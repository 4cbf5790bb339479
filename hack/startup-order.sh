#!/usr/bin/env bash
# Regenerates cmd/rkube/startup.order, the code `rkube server` runs from start to idle, which
# release builds lay out together (cmd/rkube/build.rs, lld's --symbol-ordering-file) so that
# start-up leaves few pages of the binary resident (issue 3's idle RSS). Runs a release
# server under valgrind's callgrind to idle and back down: a first start and a restart on
# the same data, without the agent, then a first start with the agent (node Ready); the
# functions seen in any of them, sorted by name, become the order file.
#
#   hack/startup-order.sh               # build (release), profile, rewrite the order file
#   RKUBE_BIN=target/release/rkube hack/startup-order.sh
#
# Re-run it after a compiler or dependency upgrade (mangled names carry hashes: names the
# file no longer matches are skipped, and start-up code drifts back to where it was) or a
# change of what start-up does; hack/bench/idle-rss.sh reports how much of the file still
# matches. IDLE_SECONDS (default 20, under valgrind) is how long each run idles.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RKUBE_ROOT"

IDLE_SECONDS="${IDLE_SECONDS:-20}"
need_apt valgrind binutils curl python3
if [[ -n "${RKUBE_BIN:-}" ]]; then
    RKUBE=$RKUBE_BIN
else
    section "build rkube (release)"
    need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev libseccomp-dev
    ensure_cargo
    cargo build --release -p rkube
    RKUBE="${CARGO_TARGET_DIR:-$RKUBE_ROOT/target}/release/rkube"
fi

WORK="$(mktemp -d "${RKUBE_BENCH_DIR:-/var/tmp}/rkube-startup-order.XXXXXX")"
SERVER_PID=""
BRIDGE=""
DATA=""
stop_server() {
    # valgrind writes its profile as the server exits: give it time.
    stop_pid "$SERVER_PID" 300
    SERVER_PID=""
    if [[ -n "$BRIDGE" ]]; then
        "$RKUBE" killall --data-dir "$DATA" --pod-bridge "$BRIDGE" >/dev/null 2>&1 || true
        BRIDGE=""
    fi
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    stop_server
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_ready() {
    curl -sfk --max-time 5 "https://127.0.0.1:$PORT/readyz" >/dev/null
}
# profile NAME MODE DATADIR: one run under callgrind, to idle and back down.
profile() {
    local name=$1 mode=$2
    DATA=$3
    server_args "$mode" "$DATA" "$WORK/kc-$name" order
    local node=$SERVER_NODE
    BRIDGE=$SERVER_BRIDGE
    log "$name: $mode under callgrind"
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/$name.out" \
        "$RKUBE" "${SERVER_ARGS[@]}" </dev/null >/dev/null 2>"$WORK/$name.log" &
    SERVER_PID=$!
    wait_until 600 server_ready || {
        tail -n 20 "$WORK/$name.log" >&2
        die "$name: server not ready in 600s"
    }
    if [[ -n "$node" ]]; then
        wait_until 600 node_is_ready "$PORT" "$WORK/kc-$name" "$node" || die "$name: node $node not Ready in 600s"
    fi
    sleep "$IDLE_SECONDS"
    stop_server
    [[ -s "$WORK/$name.out" ]] || die "$name: callgrind wrote no profile"
}

profile first no-agent "$WORK/data-no-agent"
profile restart no-agent "$WORK/data-no-agent"
profile agent agent "$WORK/data-agent"
python3 hack/startup-order.py "$RKUBE" "$WORK"/first.out "$WORK"/restart.out "$WORK"/agent.out \
    >cmd/rkube/startup.order
log "wrote cmd/rkube/startup.order"
