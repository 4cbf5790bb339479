#!/usr/bin/env bash
# Store benchmark: the embedded store and the etcd backend next to raw etcd,
# on a real disk so that every fsync is real.
#
#   hack/bench/store.sh [extra store-bench args...]
#
# Builds store-bench (release), starts a private etcd with hack/etcd.sh on a
# temporary directory under ${RKUBE_BENCH_DIR:-/var/tmp} (deliberately not
# /dev/shm), runs
#   cargo run --release -p rkube-bench --bin store-bench -- --etcd URL --dir DIR
# and stops etcd and removes the directory afterwards, whatever the outcome.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$RKUBE_ROOT"

section "dependencies"
need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev etcd-server etcd-client
ensure_cargo

section "build store-bench"
cargo build --release -p rkube-bench --bin store-bench

base="${RKUBE_BENCH_DIR:-/var/tmp}"
mkdir -p "$base"
BENCH_DIR="$(mktemp -d "$base/rkube-bench.XXXXXX")"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    "$RKUBE_ROOT/hack/etcd.sh" stop "$BENCH_DIR/etcd" || true
    rm -rf "$BENCH_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fstype="$(stat -f -c %T "$BENCH_DIR" 2>/dev/null || echo unknown)"
if [[ "$fstype" == tmpfs || "$fstype" == ramfs ]]; then
    log "warning: $BENCH_DIR is on $fstype: fsync costs nothing there, so the numbers flatter both stores"
    log "         set RKUBE_BENCH_DIR to a directory on a real disk"
fi
log "bench directory: $BENCH_DIR ($fstype)"

section "etcd"
url="$("$RKUBE_ROOT/hack/etcd.sh" start "$BENCH_DIR/etcd")"

section "store-bench"
mkdir -p "$BENCH_DIR/embedded"
cargo run --release -p rkube-bench --bin store-bench -- \
    --etcd "$url" --dir "$BENCH_DIR/embedded" "$@"
