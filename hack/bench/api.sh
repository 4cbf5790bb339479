#!/usr/bin/env bash
# API benchmark: a release `rkube server` on the embedded store, driven through
# kube-rs and raw HTTP/2 watch streams, next to the raw embedded store, on a
# real disk so that every fsync is real.
#
#   hack/bench/api.sh [--etcd] [extra api-bench args...]   e.g. --scale 0.2, --keep
#
# With --etcd it also starts a private etcd (hack/etcd.sh) under the bench
# directory: the server stores there and the raw side is that etcd.
#
# Builds rkube and api-bench (release, one cargo invocation), then runs
#   target/release/api-bench --rkube target/release/rkube --dir BASE
# where BASE is ${RKUBE_BENCH_DIR:-/var/tmp} (deliberately not /dev/shm).
# api-bench makes its own temporary directory under BASE, starts and stops the
# server there, and removes the directory afterwards (unless --keep).
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$RKUBE_ROOT"

section "dependencies"
need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev
[[ "${1:-}" == --etcd ]] && need_apt etcd-server etcd-client
ensure_cargo

section "build rkube and api-bench (release)"
cargo build --release -p rkube -p rkube-bench --bin rkube --bin api-bench

base="${RKUBE_BENCH_DIR:-/var/tmp}"
mkdir -p "$base"
fstype="$(stat -f -c %T "$base" 2>/dev/null || echo unknown)"
if [[ "$fstype" == tmpfs || "$fstype" == ramfs ]]; then
    log "warning: $base is on $fstype: fsync costs nothing there, so the numbers flatter both sides"
    log "         set RKUBE_BENCH_DIR to a directory on a real disk"
fi
log "bench directory base: $base ($fstype)"

etcd_args=()
if [[ "${1:-}" == --etcd ]]; then
    shift
    etcd_dir="$(mktemp -d "$base/rkube-api-bench-etcd.XXXXXX")"
    # shellcheck disable=SC2317 # called by the EXIT trap
    stop_etcd() {
        local rc=$?
        "$RKUBE_ROOT/hack/etcd.sh" stop "$etcd_dir" || true
        rm -rf "$etcd_dir"
        exit "$rc"
    }
    trap stop_etcd EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    section "etcd"
    etcd_args=(--etcd "$("$RKUBE_ROOT/hack/etcd.sh" start "$etcd_dir")")
fi

section "api-bench"
target="${CARGO_TARGET_DIR:-$RKUBE_ROOT/target}"
"$target/release/api-bench" --rkube "$target/release/rkube" --dir "$base" "${etcd_args[@]}" "$@"
