#!/usr/bin/env bash
# Service proxy benchmarks (issue 8), root: (a) EndpointSlice change -> rule live through a
# ClusterIP, incremental vs full table replace, with many other Services programmed; (b) HTTP
# requests/s and latency through a ClusterIP vs straight to the pod IP, in the same run.
# The bench is the ignored test pkg/network/tests/proxy_bench.rs (see hack/bench/README.md).
#
#   hack/bench/services.sh                         # defaults: 1000 other services, no affinity
#   RKUBE_BENCH_AFFINITY=1 hack/bench/services.sh  # every other service with ClientIP affinity
#   RKUBE_BENCH_SERVICES=100 RKUBE_BENCH_CHANGES=200 hack/bench/services.sh
#   RKUBE_BENCH_RELEASE=1 hack/bench/services.sh   # release build (the time is nft's either way)
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(id -u)" = 0 ] || { echo "services.sh: needs root (netns, nftables)" >&2; exit 1; }
command -v nft >/dev/null || { echo "services.sh: needs nft (apt-get install nftables)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "services.sh: needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

# Everything the bench creates is named after this tag; removed here too if it is killed.
export RKUBE_BENCH_TAG=$(( $$ % 100000 ))
cleanup() {
    local ns
    for ns in "rkpc$RKUBE_BENCH_TAG" "rkps$RKUBE_BENCH_TAG"; do
        if ip netns list | grep -qw "$ns"; then
            ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
            ip netns del "$ns" || true
        fi
    done
    nft delete table ip "rkube-proxy-rkpc${RKUBE_BENCH_TAG}h" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

profile=()
[ -n "${RKUBE_BENCH_RELEASE:-}" ] && profile=(--release)
cargo test "${profile[@]}" -p rkube-network --test proxy_bench -- --ignored --nocapture --test-threads 1
