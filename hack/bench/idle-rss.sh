#!/usr/bin/env bash
# Idle memory of `rkube server` (issue 3's "idle RSS under 30 MiB"): starts a release server
# in a temporary directory on a free loopback port, waits for /readyz (and, with the agent,
# for its node to be Ready), lets it sit idle for 2 s, then reads /proc/PID/status: VmRSS,
# RssAnon, RssFile, RssShmem and Threads. Three starts per mode, a fresh data directory
# each time; prints every sample and the median per mode as Markdown on stdout.
#
#   hack/bench/idle-rss.sh                 # both modes: with the agent, and --disable-agent
#   hack/bench/idle-rss.sh no-agent        # only --disable-agent (what api-bench measures)
#   hack/bench/idle-rss.sh agent           # only the server with its agent (as a user runs it)
#
# Environment: RKUBE_BIN (use this binary, skip the build), RUNS (starts per mode, default
# 3), IDLE_SECONDS (default 2), RKUBE_BENCH_DIR (parent of the temporary directory,
# default /var/tmp), BENCH_KEEP=1 (keep the directory with each run's server.log).
#
# Everything it starts is stopped on exit, failure or Ctrl-C; with the agent, `rkube
# killall` then removes whatever the node set up (its bridge, nft table, mounts).
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$RKUBE_ROOT"

RUNS="${RUNS:-3}"
IDLE_SECONDS="${IDLE_SECONDS:-2}"
case "${1:-both}" in
both) MODES=(agent no-agent) ;;
agent | no-agent) MODES=("$1") ;;
*) die "usage: $0 [both|agent|no-agent]" ;;
esac

if [[ -n "${RKUBE_BIN:-}" ]]; then
    RKUBE=$RKUBE_BIN
else
    section "build rkube (release)"
    need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev libseccomp-dev
    ensure_cargo
    cargo build --release -p rkube
    RKUBE="${CARGO_TARGET_DIR:-$RKUBE_ROOT/target}/release/rkube"
fi
[[ -x "$RKUBE" ]] || die "no rkube binary at $RKUBE"

base="${RKUBE_BENCH_DIR:-/var/tmp}"
mkdir -p "$base"
BENCH_DIR="$(mktemp -d "$base/rkube-idle-rss.XXXXXX")"
SERVER_PID=""
RUN_DIR=""
POD_BRIDGE=""

stop_server() {
    stop_pid "$SERVER_PID" 30
    SERVER_PID=""
    if [[ -n "$POD_BRIDGE" ]]; then
        "$RKUBE" killall --data-dir "$RUN_DIR/data" --pod-bridge "$POD_BRIDGE" >/dev/null 2>&1 ||
            log "warning: rkube killall failed for $RUN_DIR"
        POD_BRIDGE=""
    fi
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    stop_server
    if [[ -n "${BENCH_KEEP:-}" ]]; then
        log "kept $BENCH_DIR (BENCH_KEEP set)"
    else
        rm -rf "$BENCH_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_ready() {
    curl -sfk --max-time 2 "https://127.0.0.1:$PORT/readyz"
}
node_ready() {
    # The kubelet registers the node and reports it Ready over the API.
    node_is_ready "$PORT" "$RUN_DIR/kubeconfig.yaml" "$NODE_NAME"
}
status_kib() {
    sed -n "s/^$1:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$SERVER_PID/status"
}

# measure MODE RUN: one start; sets SAMPLE="vmrss rssanon rssfile rssshmem threads" (KiB,
# count). Runs in this shell (not a subshell), so the EXIT trap always sees SERVER_PID.
measure() {
    local mode=$1 run=$2
    RUN_DIR="$BENCH_DIR/$mode-$run"
    mkdir -p "$RUN_DIR"
    server_args "$mode" "$RUN_DIR/data" "$RUN_DIR/kubeconfig.yaml" idle
    NODE_NAME=$SERVER_NODE
    POD_BRIDGE=$SERVER_BRIDGE
    "$RKUBE" "${SERVER_ARGS[@]}" </dev/null >/dev/null 2>"$RUN_DIR/server.log" &
    SERVER_PID=$!
    wait_until 60 server_ready || {
        tail -n 20 "$RUN_DIR/server.log" >&2
        die "rkube server not ready in 60s"
    }
    if [[ "$mode" == agent ]]; then
        wait_until 60 node_ready || die "node $NODE_NAME not Ready in 60s"
    fi
    # Idle means after startup's work is done: let the controllers' first syncs settle.
    sleep "$IDLE_SECONDS"
    SAMPLE="$(status_kib VmRSS) $(status_kib RssAnon) $(status_kib RssFile)"
    SAMPLE+=" $(status_kib RssShmem) $(status_kib Threads)"
    stop_server
}

mib() {
    awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

size="$(stat -c %s "$RKUBE")"
log "binary $RKUBE ($(mib $((size / 1024))) MiB); bench directory $BENCH_DIR"
# How much of the start-up order (cmd/rkube/build.rs) this binary's code still matches.
order=cmd/rkube/startup.order
if [[ -f "$order" ]] && command -v nm >/dev/null; then
    log "start-up order: $(nm --defined-only "$RKUBE" 2>/dev/null | awk 'NR == FNR { want[$1]; n++; next }
        ($3 in want) && !seen[$3]++ { hit++ } END { printf "%d of its %d functions in the binary", hit, n }' "$order" -)"
fi
printf '| mode | run | VmRSS MiB | RssAnon MiB | RssFile MiB | RssShmem MiB | threads |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for mode in "${MODES[@]}"; do
    samples=()
    for ((run = 1; run <= RUNS; run++)); do
        measure "$mode" "$run"
        samples+=("$SAMPLE")
        read -r rss anon file shmem threads <<<"$SAMPLE"
        printf '| %s | %d | %s | %s | %s | %s | %s |\n' "$mode" "$run" "$(mib "$rss")" \
            "$(mib "$anon")" "$(mib "$file")" "$(mib "$shmem")" "$threads"
    done
    # Median of the runs, by VmRSS (the sample's own split is shown, not per-column medians).
    read -r rss anon file shmem threads < <(printf '%s\n' "${samples[@]}" | sort -n |
        sed -n "$(((RUNS + 1) / 2))p")
    printf '| **%s** | median | **%s** | %s | %s | %s | %s |\n' "$mode" "$(mib "$rss")" \
        "$(mib "$anon")" "$(mib "$file")" "$(mib "$shmem")" "$threads"
done
