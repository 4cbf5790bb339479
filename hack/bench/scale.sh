#!/usr/bin/env bash
# Scale benchmark (issue 5): a release `rkube server --disable-agent` with 1000 simulated
# nodes from a separate `rkube sim` process (so the server's RSS is the control plane's
# alone), then scale-bench: scheduler throughput over 10k pods (from when a watch sees the
# bindings), a Deployment of 1000 replicas to all Ready, and the server's RSS.
#
#   hack/bench/scale.sh [extra scale-bench args...]     e.g. --pods 2000 --replicas 200
#
# Environment: NODES (default 1000), RKUBE_BIN and SCALE_BENCH_BIN (skip the build, use
# these binaries), RKUBE_BENCH_DIR (parent of the temporary directory,
# default /var/tmp), BENCH_KEEP=1 (keep it: server.log, sim.log, data), PERF=1 (record `perf` of the server during the run,
# report in the kept directory's perf.txt).
#
# Everything it starts is stopped and removed on exit, failure or Ctrl-C.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$RKUBE_ROOT"

NODES="${NODES:-1000}"
target="${CARGO_TARGET_DIR:-$RKUBE_ROOT/target}"
RKUBE="${RKUBE_BIN:-$target/release/rkube}"
BENCH="${SCALE_BENCH_BIN:-$target/release/scale-bench}"

if [[ -z "${RKUBE_BIN:-}" || -z "${SCALE_BENCH_BIN:-}" ]]; then
    section "build rkube and scale-bench (release)"
    need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev
    ensure_cargo
    cargo build --release -p rkube -p rkube-bench --bin rkube --bin scale-bench
fi

base="${RKUBE_BENCH_DIR:-/var/tmp}"
mkdir -p "$base"
BENCH_DIR="$(mktemp -d "$base/rkube-scale.XXXXXX")"
SERVER_PID=""
SIM_PID=""
PERF_PID=""

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    for pid in $PERF_PID $SIM_PID $SERVER_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            wait_until 30 gone "$pid" || kill -KILL "$pid"
            wait "$pid" 2>/dev/null
        fi
    done
    if [[ -n "${BENCH_KEEP:-}" ]]; then
        log "kept $BENCH_DIR (BENCH_KEEP set)"
    else
        rm -rf "$BENCH_DIR"
    fi
    exit "$rc"
}
gone() {
    ! kill -0 "$1" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
log "bench directory: $BENCH_DIR ($(stat -f -c %T "$BENCH_DIR"))"

section "rkube server (no agent) and rkube sim --nodes $NODES"
port="$(free_port)"
KUBECONFIG="$BENCH_DIR/kubeconfig.yaml"
export KUBECONFIG
"$RKUBE" server --data-dir "$BENCH_DIR/data" --disable-agent \
    --bind-address 127.0.0.1 --https-listen-port "$port" \
    --write-kubeconfig "$KUBECONFIG" --log-format json \
    </dev/null >/dev/null 2>"$BENCH_DIR/server.log" &
SERVER_PID=$!
server_ready() {
    [[ -f "$KUBECONFIG" ]] && curl -sfk --max-time 2 "https://127.0.0.1:$port/readyz"
}
wait_until 60 server_ready || {
    tail -n 30 "$BENCH_DIR/server.log" >&2
    die "rkube server not ready in 60s"
}
"$RKUBE" sim --nodes "$NODES" --kubeconfig "$KUBECONFIG" --log-format json \
    </dev/null >/dev/null 2>"$BENCH_DIR/sim.log" &
SIM_PID=$!
log "server pid $SERVER_PID on 127.0.0.1:$port; sim pid $SIM_PID"

if [[ -n "${PERF:-}" ]]; then
    need_apt linux-perf
    perf record -F 199 -g -p "$SERVER_PID" -o "$BENCH_DIR/perf.data" >/dev/null 2>&1 &
    PERF_PID=$!
fi

section "scale-bench"
"$BENCH" --kubeconfig "$KUBECONFIG" --nodes "$NODES" \
    --server-pid "$SERVER_PID" --sim-pid "$SIM_PID" "$@" | tee "$BENCH_DIR/scale.md"

if [[ -n "$PERF_PID" ]]; then
    kill -INT "$PERF_PID"
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    perf report -i "$BENCH_DIR/perf.data" --no-children --percent-limit 1 --stdio \
        >"$BENCH_DIR/perf.txt" 2>/dev/null || true
    log "perf report: $BENCH_DIR/perf.txt"
fi
