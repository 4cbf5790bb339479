#!/usr/bin/env bash
# Streaming benchmark: `kubectl exec -- true` round trips (kubectl 1.27 SPDY, 1.33 WebSocket)
# and port-forward throughput (curl of a 200 MiB file from busybox httpd in a pod) next to
# the same transfer over plain loopback, on a release `rkube server` with its agent.
#
#   hack/bench/streaming.sh [extra streaming_bench.py args...]   e.g. --runs 10 --size-mib 50
#
# Environment: RKUBE_BIN (skip the release build, use this binary), RKUBE_BENCH_DIR (parent
# of the temporary directory, default /var/tmp), BENCH_KEEP=1 (keep it).
#
# Everything it starts is stopped and removed on exit, failure or Ctrl-C (server, containers
# and pod network via `rkube killall`, registry, temporary directory).
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=hack/bench/agent-lib.sh
source "$RKUBE_ROOT/hack/bench/agent-lib.sh"
cd "$RKUBE_ROOT"

agent_up

section "streaming_bench"
python3 "$RKUBE_ROOT/hack/bench/streaming_bench.py" --work-dir "$BENCH_DIR" \
    --kubectl "1.27=$KUBECTL_127" --kubectl "1.33=$KUBECTL_133" "$@" |
    tee "$BENCH_DIR/streaming.md"
