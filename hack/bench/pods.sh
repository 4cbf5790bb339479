#!/usr/bin/env bash
# Pod start benchmark: N busybox pods created at once on a release `rkube server` with its
# agent (create -> Running/Ready p50/p99, containers started per second, host RSS overhead
# per idle pod), next to Debian's runc and crun starting the same busybox rootfs, and
# rkube-runtime's own create+start measurement.
#
#   hack/bench/pods.sh [extra pods_bench.py args...]     e.g. --count 20
#
# Environment: RKUBE_BIN (skip the release build, use this binary), RKUBE_BENCH_DIR (parent
# of the temporary directory, default /var/tmp), BENCH_KEEP=1 (keep it: server.log, data),
# SKIP_RUNTIME_LATENCY=1 (skip `cargo test -p rkube-runtime --test latency`).
#
# Everything it starts is stopped and removed on exit, failure or Ctrl-C: the server
# (SIGTERM), its containers, namespaces, veths, bridge and nft table (`rkube killall`), the
# registry, the runc/crun containers, the temporary directory.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=hack/bench/agent-lib.sh
source "$RKUBE_ROOT/hack/bench/agent-lib.sh"
cd "$RKUBE_ROOT"

need_apt runc crun jq
agent_up

section "OCI bundle for runc/crun (the test image's rootfs, config from runc spec)"
skopeo copy --quiet --src-tls-verify=false \
    "docker://$REGISTRY_ADDR/library/busybox:1.36" "oci:$BENCH_DIR/oci:busybox"
umoci unpack --image "$BENCH_DIR/oci:busybox" "$BENCH_DIR/bundle" >/dev/null
rm -f "$BENCH_DIR/bundle/config.json"
(cd "$BENCH_DIR/bundle" && runc spec)

section "pods_bench"
python3 "$RKUBE_ROOT/hack/bench/pods_bench.py" --server-pid "$RKUBE_PID" \
    --oci-bundle "$BENCH_DIR/bundle" "$@" | tee "$BENCH_DIR/pods.md"

if [[ -z "${SKIP_RUNTIME_LATENCY:-}" ]]; then
    section "rkube-runtime create+start (cargo test -p rkube-runtime --test latency)"
    ensure_cargo
    cargo test -p rkube-runtime --test latency -- --ignored --nocapture 2>&1 |
        grep -E '^(create\+start|exec|remove)|test result' || true
fi
