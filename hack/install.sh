#!/usr/bin/env bash
# Installs rkube's build dependencies (Debian packages), builds the release
# binary and installs it as /usr/local/bin/rkube. Safe to run again: it only
# installs what is missing and cargo rebuilds only what changed.
set -euo pipefail

# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSTALL_PATH=${RKUBE_INSTALL_PATH:-/usr/local/bin/rkube}

section "build dependencies"
# protobuf-compiler, libprotobuf-dev: etcd-client's build runs protoc on protos that import
# google/protobuf/*.proto (shipped in libprotobuf-dev).
# libseccomp-dev: for the kubelet's container runtime (youki's libcontainer).
need_apt build-essential pkg-config protobuf-compiler libprotobuf-dev libseccomp-dev jq curl nftables iproute2
ensure_cargo

section "cargo build --release -p rkube"
cd "$RKUBE_ROOT"
cargo build --release -p rkube

target_dir="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
binary="$target_dir/release/rkube"
[[ -x "$binary" ]] || die "build finished but $binary is missing"

section "install $INSTALL_PATH"
if [[ -x "$INSTALL_PATH" ]] && cmp -s "$binary" "$INSTALL_PATH"; then
    log "$INSTALL_PATH is already up to date"
else
    as_root install -D -m 0755 "$binary" "$INSTALL_PATH"
    log "installed $INSTALL_PATH"
fi

cat >&2 <<MSG

rkube is installed. Start a cluster (as root):

    rkube server

It keeps its data in /var/lib/rkube and writes a kubeconfig to
/etc/rkube/rkube.yaml. Then, from another shell:

    export KUBECONFIG=/etc/rkube/rkube.yaml; kubectl get ns

(or run hack/up.sh, which does the install and starts the server in one step)
MSG
